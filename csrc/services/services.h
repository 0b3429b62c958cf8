/* The services every node can offer (spec 4): echo, uppercase, hop. */
#ifndef OCK_SERVICES_H
#define OCK_SERVICES_H

#include "routing/node_core.h"

/* Starts service `kind` ("echo", "uppercase" or "hop") at addr (NULL or "":
 * at its kind's name). Returns 0, OCK_EEXIST (the address is taken) or
 * OCK_EINVAL (unknown kind). Loop thread. */
int ock_service_start(ock_node *n, const char *kind, const char *addr);
/* Starts what `ockam node create` starts on every node (spec 8.1): echo,
 * uppercase and the relay service. Returns 0 or the first error. */
int ock_services_start_default(ock_node *n);

#endif

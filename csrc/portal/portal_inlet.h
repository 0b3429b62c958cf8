/* TCP inlets (spec 6.3): a listener whose clients become portal connections
 * to a route. Loop thread only. */
#ifndef OCK_PORTAL_INLET_H
#define OCK_PORTAL_INLET_H

#include <stddef.h>

#include "base/buf.h"
#include "codec/route.h"
#include "routing/node_core.h"

/* Listens on bind ("host:port", port 0: any) and carries each client to `to`
 * (a route ending at an outlet). Writes the bound address into bound. On
 * error returns a code with a reason in err. */
int ock_inlet_create(ock_node *n, const char *bind, const ock_route *to, char *bound, size_t cap, char *err,
                     size_t errcap);
/* Closes the inlet bound at `bound` and its connections: 0 or OCK_ENOENT. */
int ock_inlet_close(ock_node *n, const char *bound);
/* Appends "inlet <bound> <route> <open> <total> <bytes_out> <bytes_in>\n" per inlet. */
void ock_inlet_list(ock_node *n, ock_buf *out);

#endif

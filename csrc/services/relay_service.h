/* The relay service (spec 5): a node that cannot listen becomes reachable at
 * /service/forward_to_<name> on a node it connects out to. The other side,
 * which keeps a registration alive, is services/relay_client.h. Loop thread. */
#ifndef OCK_RELAY_SERVICE_H
#define OCK_RELAY_SERVICE_H

#include "base/buf.h"
#include "routing/node_core.h"

#define OCK_RELAY_PREFIX "forward_to_"
#define OCK_RELAY_NAME_MAX 255

/* Starts forwarding_service and static_forwarding_service on n; the
 * node's max_relays and max_relays_per_connection limits apply. */
int ock_relay_service_start(ock_node *n);
/* Appends one line per relay: "forward_to_<name> <route text>\n". */
void ock_relay_service_list(ock_node *n, ock_buf *out);

#endif

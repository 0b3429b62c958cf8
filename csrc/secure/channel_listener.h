/* Secure channel listeners (Ockam's listener.rs): a worker at an address
 * (every node starts one at "api", as an Ockam node does) that starts a
 * responder (channel.h) for each message 1 it receives and hands the message
 * over. Listeners end with their node. Loop thread only. */
#ifndef OCK_SECURE_CHANNEL_LISTENER_H
#define OCK_SECURE_CHANNEL_LISTENER_H

#include "base/buf.h"
#include "routing/node_core.h"
#include "secure/channel.h"

#define OCK_SC_DEFAULT_LISTENER "api"

/* Starts a listener at addr whose channels accept peers by trust (copied;
 * NULL: everyone). 0, OCK_EEXIST (the address is taken), OCK_ENOMEM. */
int ock_sc_listener_start(ock_node *n, const char *addr, const ock_sc_trust *trust);
/* Stops the listener at addr (its open channels stay). 0 or OCK_ENOENT. */
int ock_sc_listener_stop(ock_node *n, const char *addr);
/* Appends one line per listener: "address everyone", or "address <n>" with
 * n the number of identifiers it authorizes. */
void ock_sc_listener_list(ock_node *n, ock_buf *out);

#endif

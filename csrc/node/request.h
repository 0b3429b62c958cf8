/* A request: send one message and wait for one reply, as `ockam message send`
 * does (spec 8.2). A short-lived worker at a random address is the return
 * route; the first message it receives completes the call; a timer bounds it. */
#ifndef OCK_REQUEST_H
#define OCK_REQUEST_H

#include <stddef.h>

#include "codec/route.h"
#include "routing/node_core.h"
#include "runtime/call.h"

/* Sends payload along onward (TCP hops resolved) and finishes call with the
 * reply payload in call->out, OCK_ETIMEOUT, a resolution error, or
 * OCK_ECLOSED when the node closes first, or OCK_ECANCELED when the caller
 * cancels it (ock_call_cancel: its reply worker and timer go at once). Loop thread. */
void ock_request_start(ock_node *n, const ock_route *onward, const void *payload, size_t len,
                       int timeout_ms, ock_call *call);
/* Requests of n still waiting for their reply (cancelled ones are not). */
size_t ock_request_pending(ock_node *n);

#endif

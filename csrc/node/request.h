/* A request: send one message and wait for one reply, as `ockam message send`
 * does (spec 8.2). A short-lived worker at a random address is the return
 * route; the first message it receives completes the call; a timer bounds it. */
#ifndef OCK_REQUEST_H
#define OCK_REQUEST_H

#include "routing/node.h"

/* Sends payload along onward (TCP hops resolved) and finishes call with the
 * reply payload in call->out, OCK_ETIMEOUT, or a resolution error. */
void ock_request_start(ock_node *n, const ock_route *onward, const void *payload, size_t len,
                       int timeout_ms, ock_call *call);
/* Fails request `id` of node n if it still waits (a connection it needed
 * failed). Requests are named by id so that nobody holds a dangling pointer. */
void ock_request_fail(ock_node *n, uint64_t id, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Cancels every request of a closing node. */
void ock_request_close_all(ock_node *n);

#endif

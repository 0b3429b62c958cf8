/* Sending from a node: the TCP hops of a route ("host:port" addresses, spec
 * 1.2) become connections (opened when needed, shared and reused after), its
 * UDP hops ("IP:port", tt 2) get the worker of the node's first UDP bind
 * before them (docs/udp.md), then the message is dispatched. A message waits,
 * copied, for a connection still opening. Loop thread only. */
#ifndef OCK_SEND_H
#define OCK_SEND_H

#include <stdint.h>

#include "codec/message.h"
#include "routing/node_core.h"
#include "runtime/call.h"

/* Told when a message could not be sent (a connection it needed failed or
 * could not be opened): rc and a one-line reason. token is the sender's. */
typedef void (*ock_send_failed)(ock_node *n, uint64_t token, int rc, const char *why);

/* Sends m from n. On a resolution error `failed` (may be NULL: the error is
 * logged) hears of it, at once or once the connection fails. */
void ock_node_send(ock_node *n, ock_msg *m, ock_send_failed failed, uint64_t token);
/* The same for a message that came from `from` (a secure channel's decrypted
 * messages): the first worker sees that origin. */
void ock_node_send_from(ock_node *n, ock_msg *m, const ock_origin *from, ock_send_failed failed, uint64_t token);
/* Opens a shared connection to "host:port" (ock_node_send reuses it). call
 * finishes with its worker address in call->text, or with the error. */
void ock_node_connect(ock_node *n, const char *hostport, int timeout_ms, ock_call *call);

#endif

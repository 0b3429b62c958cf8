/* Portal connections (spec 6): an inlet listens for clients, an outlet connects to a
 * target, and each client connection becomes a pair of portal workers that
 * carry the bytes as Ping/Pong/Payload/Disconnect messages over any route.
 *
 * Between two nodes of ours the Ping and Pong carry a capability byte (spec
 * 6.8) and, when both sides have them, two extra messages: 04 Eof (half-close:
 * the peer shuts down its socket's write side) and 05 Credit (uleb128 bytes
 * granted: a sender reads from its socket only while it has credit, so a slow
 * reader bounds every buffer on the path). A Rust peer sends bare 00/01 and
 * never sees either (codec/portal_msg.h). Loop thread only. */
#ifndef OCK_PORTAL_CONN_H
#define OCK_PORTAL_CONN_H

#include <stdint.h>
#include <uv.h>

#include "base/buf.h"
#include "base/list.h"
#include "codec/message.h"
#include "codec/portal_msg.h"
#include "routing/node_core.h"

/* How long an inlet waits for the outlet's Pong; an outlet's dial may take twice that. */
#define OCK_PORTAL_PONG_TIMEOUT_MS 5000

/* The connections of one inlet or outlet, with its counters. The owner may go
 * away only when refs is 0 (each portal connection holds one, the owner one
 * until it closes). */
typedef struct ock_portal_set {
  ock_node *node;
  ock_list conns; /* the portal connections, newest first */
  int refs;
  int caps;              /* what this side offers */
  int pong_timeout_ms;   /* inlet: how long to wait for a Pong */
  /* outlet: when allow_n > 0, only these identities, through a secure
   * channel, may open and use its portal connections (the owner's memory) */
  const unsigned char (*allow)[OCK_ORIGIN_ID_LEN];
  size_t allow_n;
  uint64_t open, total, bytes_out, bytes_in; /* out: read from our sockets; in: written to them */
  void (*on_released)(struct ock_portal_set *s); /* refs dropped to 0 */
} ock_portal_set;

/* Inlet side: accepts a client on server and pings `to`. */
int ock_portal_accept(ock_portal_set *set, uv_stream_t *server, const ock_route *to);
/* Outlet side: a Ping arrived from `from`; connect to target and answer Pong
 * (or Disconnect: the limit, an identity the set does not allow). */
void ock_portal_answer_ping(ock_portal_set *set, const char *target, const ock_msg *ping, int caps,
                            const ock_origin *from);
/* Closes the set's connections whose route starts with origin o's
 * connection: with it gone nothing can reach their peer. */
void ock_portal_set_origin_closed(ock_portal_set *set, const ock_origin *o);
/* The inlet behind `ret` gave up before our Pong (its Disconnect reached the
 * outlet itself): drop the portal connection still dialling for it. */
void ock_portal_set_cancel(ock_portal_set *set, const ock_route *ret);
/* The route to the node at the other end of an open connection of the set
 * (its remote route without the last hop), for liveness pings. 0 or OCK_ENOENT. */
int ock_portal_set_peer_route(const ock_portal_set *set, ock_route *out);
/* Ends every open connection of the set: the other side stopped answering. */
void ock_portal_set_fail_all(ock_portal_set *set, const char *why);
/* Closes every connection of the set (sending Disconnect). */
void ock_portal_set_close(ock_portal_set *set);
/* Makes a set holding the owner's reference; released(set) runs when the
 * last reference goes. */
void ock_portal_set_init(ock_portal_set *set, ock_node *n, void (*released)(ock_portal_set *set));
/* Drops one reference. */
void ock_portal_set_release(ock_portal_set *set);
/* Appends "<kind> <address> <where> <open> <total> <bytes_out> <bytes_in>\n". */
void ock_portal_set_list(const ock_portal_set *set, const char *kind, const char *address, const char *where,
                         ock_buf *out);

#endif

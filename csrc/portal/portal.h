/* TCP portals (spec 6): an inlet listens for clients, an outlet connects to a
 * target, and each client connection becomes a pair of portal workers that
 * carry the bytes as Ping/Pong/Payload/Disconnect messages over any route.
 *
 * Between two nodes of ours the Ping and Pong carry a capability byte (spec
 * 6.8) and, when both sides have them, two extra messages: 04 Eof (half-close:
 * the peer shuts down its socket's write side) and 05 Credit (uleb128 bytes
 * granted: a sender reads from its socket only while it has credit, so a slow
 * reader bounds every buffer on the path). A Rust peer sends bare 00/01 and
 * never sees either. */
#ifndef OCK_PORTAL_H
#define OCK_PORTAL_H

#include <stdint.h>

#include "routing/node.h"

enum {
  OCK_PORTAL_PING = 0,
  OCK_PORTAL_PONG = 1,
  OCK_PORTAL_DISCONNECT = 2,
  OCK_PORTAL_PAYLOAD = 3,
  OCK_PORTAL_EOF = 4,    /* ours, only after OCK_PORTAL_CAP_HALF_CLOSE */
  OCK_PORTAL_CREDIT = 5, /* ours, only after OCK_PORTAL_CAP_CREDIT */
};

enum { OCK_PORTAL_CAP_HALF_CLOSE = 1, OCK_PORTAL_CAP_CREDIT = 2, OCK_PORTAL_CAPS = 3 };

/* Chunk sizes: Ockam 0.139 reads 48 KiB per Payload, and older receivers
 * expect no more; between our nodes bigger chunks halve the per-message cost. */
#define OCK_PORTAL_CHUNK_RUST (48 * 1024)
#define OCK_PORTAL_CHUNK (256 * 1024)
/* Bytes a sender may have in flight per portal connection (credit mode). */
#define OCK_PORTAL_WINDOW (2 * 1024 * 1024)

typedef struct {
  int type;
  int caps;              /* PING, PONG */
  const uint8_t *data;   /* PAYLOAD */
  size_t len;
  uint64_t credit;       /* CREDIT */
} ock_portal_msg;

/* portal_msg.c: decodes a portal message. Returns 0 or OCK_EPROTO. */
int ock_portal_msg_decode(const uint8_t *p, size_t n, ock_portal_msg *m);
/* Writes a Payload header for len bytes into out; returns its size (<= 11). */
size_t ock_portal_payload_header(uint8_t out[11], size_t len);

/* The connections of one inlet or outlet, with its counters. The owner may go
 * away only when refs is 0 (each portal connection holds one). */
typedef struct ock_portal_set {
  ock_node *node;
  struct portal *conns;
  int refs;
  int caps;              /* what this side offers */
  int pong_timeout_ms;   /* inlet: how long to wait for a Pong */
  uint64_t open, total, bytes_out, bytes_in; /* out: read from our sockets; in: written to them */
  void (*on_released)(struct ock_portal_set *s); /* refs dropped to 0 */
} ock_portal_set;

/* portal_conn.c */
/* Inlet side: accepts a client on server and pings `to`. */
int ock_portal_accept(ock_portal_set *set, uv_stream_t *server, const ock_route *to);
/* Outlet side: a Ping arrived; connect to target and answer Pong (or Disconnect). */
void ock_portal_answer_ping(ock_portal_set *set, const char *target, const ock_msg *ping, int caps);
/* Closes the set's connections whose route starts with connection c: with
 * it gone nothing can reach their peer. */
void ock_portal_set_conn_closed(ock_portal_set *set, ock_tcp_conn *c);
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

/* portal_inlet.c / portal_outlet.c: the objects users make. */
int ock_inlet_create(ock_node *n, const char *bind, const ock_route *to, char *bound, size_t cap, char *err,
                     size_t errcap);
int ock_inlet_close(ock_node *n, const char *bound);
int ock_outlet_create(ock_node *n, const char *target, const char *addr, char *err, size_t errcap);
int ock_outlet_close(ock_node *n, const char *addr);
/* Lines "inlet|outlet <address> <target or route> <open> <total> <bytes_out> <bytes_in>\n". */
void ock_portal_list(ock_node *n, ock_buf *out);

#endif

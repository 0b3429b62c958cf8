/* Ockam's TCP transport (spec 3): a preamble byte 0x01 each way, then frames
 * of u32 big-endian length + CBOR TcpTransportMessage. Each connection is a
 * sender worker at a random 32-hex address: a message routed to it loses that
 * address from its onward route and goes on the wire; a frame read from it gets
 * that address pushed on its return route and is dispatched in the node.
 * A connection belongs to its node and is freed only once it closed and its
 * handles' close callbacks ran. Everything here runs on the loop thread. */
#ifndef OCK_TCP_CONN_H
#define OCK_TCP_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/list.h"
#include "codec/route.h"
#include "routing/node_core.h"
#include "runtime/call.h"

typedef struct ock_tcp_conn ock_tcp_conn;

/* What the owner of a connection hears from it: the transport reports to its
 * owner and never calls the layers above it. */
typedef struct ock_tcp_conn_hooks {
  /* The connection is open (outgoing: connected and preamble sent). */
  void (*on_open)(ock_tcp_conn *c, void *owner);
  /* The connection is gone (status: why, 0 for a normal close). Called once. */
  void (*on_close)(ock_tcp_conn *c, void *owner, int status);
} ock_tcp_conn_hooks;

/* Opens a connection to "host:port" (DNS names resolved). The connection is a
 * worker of n once open. `call` (may be NULL) finishes with the worker address
 * in call->text, or with the error; cancelling call (ock_call_cancel) while
 * it connects closes the connection. The connection belongs to the node (it
 * closes with it); `hooks` (may be NULL) tell `owner` when it opens and closes.
 * Returns NULL only when out of memory (call failed); a connection that fails
 * at once has already reported its close. */
ock_tcp_conn *ock_tcp_connect(ock_node *n, const char *hostport, int timeout_ms, ock_call *call,
                              const ock_tcp_conn_hooks *hooks, void *owner);
/* Replaces the connection's owner (NULL hooks: nobody hears from it any more). */
void ock_tcp_conn_set_hooks(ock_tcp_conn *c, const ock_tcp_conn_hooks *hooks, void *owner);
/* Closes the connection (idempotent); status is reported to the hooks. */
void ock_tcp_conn_close(ock_tcp_conn *c, int status);
/* An open or opening outgoing connection of n to target whose hooks are
 * `hooks`, or NULL: how an owner finds a connection it can share. */
ock_tcp_conn *ock_tcp_conn_find(ock_node *n, const char *target, size_t len, const ock_tcp_conn_hooks *hooks);
/* The first connection of n (open or not), newest first, then the next one
 * (NULL after the last): for listings. */
ock_tcp_conn *ock_tcp_conn_first(ock_node *n);
ock_tcp_conn *ock_tcp_conn_next(const ock_tcp_conn *c);
/* The connection behind origin o, or NULL when o is not a TCP connection's. */
ock_tcp_conn *ock_tcp_conn_of(const ock_origin *o);
/* 1 for a connection this node opened, 0 for one a listener accepted. */
int ock_tcp_conn_is_outgoing(const ock_tcp_conn *c);
/* The connection whose sender worker is at addr (a LOCAL address), or NULL. */
ock_tcp_conn *ock_tcp_conn_by_address(ock_node *n, ock_addr addr);
/* 1 while open: connected, preamble sent, its worker registered. */
int ock_tcp_conn_is_open(const ock_tcp_conn *c);
/* 1 once closed (the memory stays until its handles' close callbacks ran). */
int ock_tcp_conn_is_closing(const ock_tcp_conn *c);
/* Why it closed: an error code, OCK_ECLOSED for a normal close. */
int ock_tcp_conn_status(const ock_tcp_conn *c);
/* The owner given with the hooks. */
void *ock_tcp_conn_owner(const ock_tcp_conn *c);
/* Strings the connection owns, valid as long as it: the remote end
 * ("host:port"), its sender worker's address (32 hex digits), and the
 * "host:port" asked for ("" for an accepted connection). */
const char *ock_tcp_conn_peer(const ock_tcp_conn *c);
const char *ock_tcp_conn_address(const ock_tcp_conn *c);
const char *ock_tcp_conn_target(const ock_tcp_conn *c);
/* Bytes waiting in the kernel-bound write queue (for back-pressure). */
size_t ock_tcp_conn_write_queued(const ock_tcp_conn *c);
/* Back-pressure: whoever feeds a connection stops while its write queue is
 * above OCK_TCP_HIGH_WATER, and registers a waiter that is called once the
 * queue is back under OCK_TCP_LOW_WATER (or the connection closes). */
#define OCK_TCP_HIGH_WATER (4u * 1024 * 1024)
#define OCK_TCP_LOW_WATER (1u * 1024 * 1024)

typedef struct ock_drain_waiter ock_drain_waiter;
struct ock_drain_waiter {
  void (*cb)(ock_drain_waiter *w);
  ock_tcp_conn *conn; /* set while waiting */
  ock_list link;      /* in the connection's waiters while conn is set */
};
/* Registers w (the caller's memory, with w->cb set), once: a second call
 * while it waits does nothing; after w->cb ran it may register again. */
void ock_tcp_conn_wait_drain(ock_tcp_conn *c, ock_drain_waiter *w);
/* Unregisters w if it waits (w->cb is then not called). */
void ock_drain_waiter_cancel(ock_drain_waiter *w);

/* The other way round: a consumer that cannot keep up (a portal whose
 * client does not read) holds the connection feeding it. Reading stops while
 * any hold is on; unhold takes one off. */
void ock_tcp_conn_hold(ock_tcp_conn *c);
void ock_tcp_conn_unhold(ock_tcp_conn *c);

/* Bytes read from and written to the socket, for listings. */
void ock_tcp_conn_counters(const ock_tcp_conn *c, uint64_t *bytes_in, uint64_t *bytes_out);

/* Accepts an Ockam connection on server (an ock_accept_fn of
 * transport/tcp_listener.h; arg unused). */
int ock_tcp_conn_accept(ock_node *n, uv_stream_t *server, void *arg);

#endif

/* The thread-safe surface of the core: every function may be called from any
 * thread; each queues a command for the loop thread. Functions returning an
 * ock_call give the caller one reference: wait on it, read the result, unref.
 * They return NULL only when out of memory. */
#ifndef OCK_API_H
#define OCK_API_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/call.h"
#include "codec/route.h"
#include "services/relay_client.h"

/* Makes the next call created by this thread notify fn(call, arg) on the loop
 * thread when it finishes (for callers that do not block: asyncio). */
void ock_api_notify_next(ock_call_notify fn, void *arg);

/* Starts the loop thread if needed and installs the stop hook. */
int ock_api_init(void);
/* Closes every node and stops the loop thread, waiting at most timeout_ms. */
void ock_api_shutdown(int timeout_ms);
/* In a fork()ed child: forget the parent's loop, nodes and randomness. */
void ock_api_after_fork(void);

/* u64: node id; text: bound listener address ("" when listen is NULL). The
 * node gets an identity: secret (the 32-byte Ed25519 seed) and history (its
 * change history, hlen bytes) when given, else a new one; and it starts a
 * secure channel listener at "api" that trusts everyone, as Ockam's does. */
ock_call *ock_api_node_create(const char *name, const char *listen, const uint8_t *secret, const uint8_t *history,
                              size_t hlen);
/* text: the node's identifier ("I" + 64 hex); out: its change history. */
ock_call *ock_api_node_identity(uint32_t node);
/* Finishes when every socket and timer of the node is closed. */
ock_call *ock_api_node_close(uint32_t node);
ock_call *ock_api_start_service(uint32_t node, const char *kind, const char *addr);
/* text: the connection's worker address (32 hex). */
ock_call *ock_api_connect(uint32_t node, const char *hostport, int timeout_ms);
/* out: the reply payload. */
ock_call *ock_api_request(uint32_t node, const ock_route *onward, const void *payload, size_t len,
                          int timeout_ms);
/* Sends without waiting; routing errors are logged. 0 or OCK_ECLOSED. */
int ock_api_send(uint32_t node, const ock_route *onward, const ock_route *ret, const void *payload,
                 size_t len);
/* Cancels call c if it is still running and can be cancelled (a request, a
 * connect, a secure channel handshake): it finishes with OCK_ECANCELED and
 * what it started goes (the reply worker, the connection being opened, the
 * handshake). Does not wait; c may be finished already. */
void ock_api_cancel(ock_call *c);
/* out: "name value" lines: pending_requests, tcp_open, tcp_connecting,
 * tcp_closing (connections closed whose sockets are not yet released). */
ock_call *ock_api_node_stats(uint32_t node);
/* A worker whose messages become OCK_EV_MESSAGE events. */
ock_call *ock_api_start_worker(uint32_t node, const char *addr);
ock_call *ock_api_stop_worker(uint32_t node, const char *addr);
/* out: one line per connection: "address outgoing|accepted peer target in out". */
ock_call *ock_api_list_connections(uint32_t node);
/* Closes one connection of the node by its worker address. */
ock_call *ock_api_close_connection(uint32_t node, const char *addr);
/* Binds a UDP socket of the node at "IP:port" (transport/udp.h). text:
 * "<worker address> <bound IP:port>". */
ock_call *ock_api_udp_bind(uint32_t node, const char *hostport);
/* out: one line per bind: "worker local sent received datagrams_out
 * datagrams_in dropped_incomplete dropped_too_large dropped_malformed dropped_send". */
ock_call *ock_api_udp_list(uint32_t node);
/* Starts relay `name` at route `at` (spec 5); finishes once it is started,
 * not once it is up: status changes arrive as OCK_EV_STATUS events. */
ock_call *ock_api_relay_create(uint32_t node, const char *name, const ock_route *at, const ock_relay_opts *o);
ock_call *ock_api_relay_close(uint32_t node, const char *name);
/* out: ock_relay_list lines. */
ock_call *ock_api_relay_list(uint32_t node);
/* out: ock_relay_service_list lines (relays registered at this node). */
ock_call *ock_api_relay_service_list(uint32_t node);
/* Portals (spec 6). text: the inlet's bound address. */
ock_call *ock_api_inlet_create(uint32_t node, const char *bind, const ock_route *to);
ock_call *ock_api_inlet_close(uint32_t node, const char *bound);
/* allow: n identifiers (32 bytes each) that alone may use it, through secure channels (n = 0: anyone). */
ock_call *ock_api_outlet_create(uint32_t node, const char *target, const char *addr, const uint8_t *allow,
                                size_t n);
ock_call *ock_api_outlet_close(uint32_t node, const char *addr);
/* out: ock_inlet_list then ock_outlet_list lines. */
ock_call *ock_api_portal_list(uint32_t node);
/* Identities without a node (any thread, no loop). A new Ed25519 identity:
 * its seed into secret, its change history appended to history, its
 * identifier into identifier. Returns 0, OCK_ENOMEM or OCK_ECRYPTO. */
int ock_api_identity_create(uint8_t secret[32], ock_buf *history, char identifier[66]);
/* Checks that history (n bytes) verifies and ends with secret's key, and
 * writes its identifier. 0 or the errors of ock_identity_import, OCK_EINVAL. */
int ock_api_identity_check(const uint8_t secret[32], const uint8_t *history, size_t n, char identifier[66]);

/* Secure channels (secure/channel.h). `authorized` holds n identifiers of
 * 32 bytes each (n == 0: trust everyone). text: "<encryptor> <their identifier>". */
ock_call *ock_api_sc_create(uint32_t node, const ock_route *to, const uint8_t *authorized, size_t n, int timeout_ms);
ock_call *ock_api_sc_listener_create(uint32_t node, const char *addr, const uint8_t *authorized, size_t n);
ock_call *ock_api_sc_listener_stop(uint32_t node, const char *addr);
/* Closes the channel whose encryptor is addr (Close goes to the peer). */
ock_call *ock_api_sc_close(uint32_t node, const char *addr);
/* out: ock_sc_list lines. */
ock_call *ock_api_sc_list(uint32_t node);
/* out: ock_sc_listener_list lines. */
ock_call *ock_api_sc_listener_list(uint32_t node);

/* Sets one of the node's limits (routing/limits.h) by name. */
ock_call *ock_api_set_limit(uint32_t node, const char *name, long value);
/* out: "name value" lines. */
ock_call *ock_api_limits(uint32_t node);
/* Parses a route typed by a user (multiaddr or "0#a => 1#b"), resolving
 * /node/NAME against this process's nodes. */
int ock_api_parse_route(const char *text, ock_route *out, char *err, size_t errcap);

#endif

/* A node: a named router of workers with its TCP listener and connections.
 * Nodes live on the loop thread; other threads name them by id. A node owns
 * everything it creates, and frees it only in libuv close callbacks. */
#ifndef OCK_NODE_H
#define OCK_NODE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "runtime/call.h"
#include "codec/message.h"

typedef struct ock_node ock_node;
typedef struct ock_worker ock_worker;
typedef struct ock_tcp_conn ock_tcp_conn;
typedef struct ock_tcp_listener ock_tcp_listener;
typedef struct ock_request ock_request;
typedef struct ock_ext_slot ock_ext_slot;

/* Flow control (spec 7): which transport frames may reach a worker. A frame
 * that arrives over TCP is delivered only to a worker that consumes frames from
 * that kind of connection; local sends are never checked. */
enum {
  OCK_FC_LISTENER = 1, /* frames from connections accepted by the listener */
  OCK_FC_OUTGOING = 2, /* frames from connections this node opened */
  OCK_FC_ALL = 3,
  /* frames from a connection a relay was registered over (spec 5.4: the relay
   * lets the two connections reach each other, so replies get back) */
  OCK_FC_FROM_RELAYED = 4,
};

typedef void (*ock_handler)(ock_worker *w, ock_msg *m, ock_tcp_conn *from);

struct ock_worker {
  ock_node *node;
  char *addr; /* LOCAL address, NUL-terminated copy */
  size_t addr_len;
  unsigned fc;
  ock_handler handle;
  void *ctx;
  int owned; /* freed by the router when removed or when the node closes */
  const char *kind; /* "echo", "tcp", "python"... for listings */
  ock_worker *hnext;
};

typedef struct {
  ock_worker **buckets;
  size_t nbuckets;
  size_t count;
} ock_router;

/* Limits a node enforces on its peers, each with a default and settable by
 * name. Hitting one logs a line and closes only the offending connection (or
 * refuses the one registration or portal connection). */
typedef struct {
  long max_connections;           /* accepted connections open at once, per listener */
  long max_frame;                 /* bytes in one frame body (Ockam: 16 MiB) */
  long frame_timeout_ms;          /* to finish the preamble or a frame once begun */
  long max_route_hops;            /* addresses in a received onward or return route */
  long max_write_queue;           /* bytes queued for a peer that does not read */
  long max_relays;                /* relays registered at this node */
  long max_relays_per_connection;
  long max_portal_connections;    /* open at once, per inlet or outlet */
} ock_limits;

void ock_limits_default(ock_limits *l);
/* Sets limit `name` to value (> 0). Returns 0 or OCK_EINVAL (unknown name or bad value). */
int ock_limits_set(ock_limits *l, const char *name, long value);
/* Appends "name value\n" for each limit. */
void ock_limits_list(const ock_limits *l, ock_buf *out);

struct ock_node {
  uint32_t id;
  char name[128];
  ock_router router;
  ock_tcp_listener *listener;
  ock_tcp_conn *conns;     /* every open connection */
  ock_request *requests;   /* message_send contexts waiting for a reply */
  int closing;
  int handles;             /* libuv handles still open; freed when 0 and closing */
  int depth;               /* local dispatch recursion, to stop routing loops */
  ock_call *close_call;
  char listen_addr[300];   /* bound listener "host:port", "" when none */
  uint64_t next_request_id;
  ock_ext_slot *exts;
  ock_limits limits;
  long accepted_open;      /* accepted connections open now (max_connections) */
  ock_node *next;
};

/* A module's per-node state (relay service, relay clients, portals): made on
 * first use, told when the node starts closing and when a connection closes,
 * freed with the node (after every handle closed). */
typedef struct ock_node_ext_ops {
  size_t size; /* bytes of state, zeroed at creation */
  void (*on_close)(ock_node *n, void *state);
  void (*on_conn_closed)(ock_node *n, void *state, ock_tcp_conn *c);
} ock_node_ext_ops;


/* --- router.c --- */
void ock_router_init(ock_router *r);
/* Registers w under w->addr. Returns 0 or OCK_EEXIST. */
int ock_router_add(ock_node *n, ock_worker *w);
ock_worker *ock_router_find(ock_node *n, const char *addr, size_t len);
/* Unregisters w; frees it when w->owned. */
void ock_router_remove(ock_node *n, ock_worker *w);
/* Removes (and frees the owned) workers. */
void ock_router_clear(ock_node *n);
/* Makes an owned worker with a copy of addr. NULL when out of memory. */
ock_worker *ock_worker_new(ock_node *n, const char *addr, size_t len, unsigned fc, ock_handler h,
                           const char *kind);
/* Delivers m to the worker at m->onward[0]. `from` is the connection the frame
 * arrived on (flow control applies) or NULL for a local send. Unknown
 * addresses and refused frames are dropped with a log line, as Ockam does. */
void ock_node_dispatch(ock_node *n, ock_msg *m, ock_tcp_conn *from);

/* --- node.c --- */
/* Creates a node and registers its name. `listen` may be NULL. On error
 * returns a code and writes a reason into err. */
int ock_node_create(const char *name, const char *listen, ock_node **out, char *err, size_t errcap);
ock_node *ock_node_by_id(uint32_t id);
/* Starts closing; call (may be NULL) finishes when every handle is closed. */
void ock_node_close(ock_node *n, ock_call *call);
void ock_node_close_all(void);
/* In a fork()ed child: forget the parent's nodes (their loop is not there). */
void ock_node_forget_after_fork(void);
/* Called by each handle's close callback the node counted. */
void ock_node_handle_closed(ock_node *n);
/* Finds the listener address of a node by name; thread-safe (spec 1.3 /node/). */
int ock_node_lookup_listener(void *ctx, const char *name, size_t len, char *out, size_t cap);
/* Sends m from this node: TCP-typed hops are resolved to connections (opened
 * when needed, reused when open), then m is dispatched. Errors in resolution
 * are reported to request req_id (0: none) or logged. The message is copied when it
 * must wait for a connection. */
void ock_node_send(ock_node *n, ock_msg *m, uint64_t req_id);

/* The state of module `ops` for node n, made (zeroed) when first asked for.
 * NULL only when out of memory. */
void *ock_node_ext(ock_node *n, const ock_node_ext_ops *ops);
/* Tells every module that connection c is closing. */
void ock_node_conn_closed(ock_node *n, ock_tcp_conn *c);

/* --- services.c --- */
/* kind is "echo", "uppercase" or "hop". Returns 0, OCK_EEXIST or OCK_EINVAL. */
int ock_service_start(ock_node *n, const char *kind, const char *addr);

#endif

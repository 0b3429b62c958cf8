/* The core of a node: its name, router, limits, the handles it waits for
 * before it can be freed, and the per-node state of the modules built on it
 * (transports, requests, relays, portals). The node layer (node/node.h) owns
 * the registry of nodes and creates and closes them; everything here runs on
 * the loop thread. */
#ifndef OCK_NODE_CORE_H
#define OCK_NODE_CORE_H

#include <stdint.h>

#include "routing/limits.h"
#include "routing/origin.h"
#include "routing/router.h"

#define OCK_NODE_NAME_MAX 127

typedef struct ock_ext_slot ock_ext_slot;

/* Grants beyond the workers' own flow control: 1 when a message from origin
 * `from` may reach worker `to` all the same (two connections a relay joined). */
typedef int (*ock_grant_fn)(void *ctx, const ock_origin *from, const ock_worker *to);

struct ock_node {
  uint32_t id;
  char name[OCK_NODE_NAME_MAX + 1];
  ock_router router;
  ock_limits limits;
  int closing;
  int handles;   /* libuv handles still open; the node is freed when 0 and closing */
  int depth;     /* local dispatch recursion, to stop routing loops */
  ock_ext_slot *exts;
  ock_grant_fn grant; /* NULL: none */
  void *grant_ctx;
  void (*on_free)(ock_node *n); /* the owner's: called once the last handle closed */
};

/* Module levels: on close, modules of a higher level go first, so that a
 * relay client never sees its connection drop under it and retry, and a
 * secure channel can still send Close over its connection. */
enum { OCK_EXT_TRANSPORT = 10, OCK_EXT_NODE = 20, OCK_EXT_SECURE = 25, OCK_EXT_SERVICE = 30 };

/* A module's per-node state: made (zeroed, then `init`) on first use, told
 * when the node starts closing and when an origin (a connection) closes,
 * freed with the node after every handle closed. */
typedef struct ock_node_ext_ops {
  size_t size;
  int level; /* OCK_EXT_* */
  void (*init)(void *state); /* may be NULL: what zeroed memory does not set (list heads) */
  void (*on_close)(ock_node *n, void *state);
  void (*on_origin_closed)(ock_node *n, void *state, const ock_origin *o);
} ock_node_ext_ops;

/* Initialises the core of a node (zeroed memory) with its name; on_free is
 * called when the node, once closing, has no handle left. */
void ock_node_core_init(ock_node *n, const char *name, void (*on_free)(ock_node *n));
/* Starts closing: each module's on_close, higher levels first. The node is
 * freed (on_free) when its handles are all closed; call ock_node_core_release
 * once after this to drop the closing caller's own hold. */
void ock_node_core_close(ock_node *n);
void ock_node_core_release(ock_node *n);
/* Frees what the core holds (workers, module state); for on_free. */
void ock_node_core_free(ock_node *n);
/* A handle the node waits for was opened / closed (its close callback ran). */
void ock_node_handle_opened(ock_node *n);
void ock_node_handle_closed(ock_node *n);

/* Delivers m to the worker at m->onward[0]. `from` is where the message
 * arrived from (flow control applies) or NULL for a local send. Unknown
 * addresses and refused messages are dropped with a log line, as Ockam does. */
void ock_node_dispatch(ock_node *n, ock_msg *m, const ock_origin *from);

/* Installs the node's grant function (one per node; NULL removes it). */
void ock_node_set_grant(ock_node *n, ock_grant_fn fn, void *ctx);

/* The state of module `ops` for node n, made (zeroed, then ops->init) when
 * first asked for. NULL only when out of memory. */
void *ock_node_ext(ock_node *n, const ock_node_ext_ops *ops);
/* Tells every module that origin o (a connection) is closing. */
void ock_node_origin_closed(ock_node *n, const ock_origin *o);

#endif

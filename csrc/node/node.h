/* Nodes of this process: the registry (by id for commands, by name for
 * /node/NAME routes), creation with an optional Ockam TCP listener, close.
 * Everything but ock_node_lookup_listener runs on the loop thread. */
#ifndef OCK_NODE_H
#define OCK_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "routing/node_core.h"
#include "runtime/call.h"

/* Creates node `name` and registers it; `listen` ("host:port", may be NULL)
 * starts an Ockam TCP listener. It has no services yet: the caller starts
 * what it wants. On error returns a code and writes a reason into err. */
int ock_node_create(const char *name, const char *listen, ock_node **out, char *err, size_t errcap);
/* The open node with this id, or NULL. */
ock_node *ock_node_by_id(uint32_t id);
/* The bound "host:port" of the node's listener, "" when it has none. */
const char *ock_node_listen_address(const ock_node *n);
/* Starts closing n (its name is free at once); call (may be NULL) finishes
 * when every handle is closed and the node is freed. Closing twice is fine. */
void ock_node_close(ock_node *n, ock_call *call);
/* Closes every node (the loop's stop hook). */
void ock_node_close_all(void);
/* In a fork()ed child: forget the parent's nodes (their loop is not there). */
void ock_node_forget_after_fork(void);
/* Writes the listener address of node `name` (a wildcard one as loopback);
 * any thread. Returns 0, OCK_ENONODE or OCK_ENOENT (no listener). The
 * signature of ock_node_lookup_fn (api/multiaddr.h); ctx is unused. */
int ock_node_lookup_listener(void *ctx, const char *name, size_t len, char *out, size_t cap);

#endif

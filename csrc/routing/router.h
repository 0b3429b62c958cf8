/* A node's router: its workers by address (spec 4). Dispatch, with flow
 * control, is the node core's (routing/node_core.h). Loop thread only. */
#ifndef OCK_ROUTER_H
#define OCK_ROUTER_H

#include <stddef.h>

#include "routing/worker.h"

typedef struct {
  ock_worker **buckets;
  size_t nbuckets;
  size_t count;
} ock_router;

/* An empty table. */
void ock_router_init(ock_router *r);
/* Registers w under w->addr. Returns 0, OCK_EEXIST or OCK_ENOMEM; on error
 * the caller still owns w. */
int ock_router_add(ock_router *r, ock_worker *w);
/* Registers an owned worker, or frees it when that fails. Returns as ock_router_add. */
int ock_router_add_owned(ock_router *r, ock_worker *w);
ock_worker *ock_router_find(ock_router *r, const char *addr, size_t len);
/* Unregisters w; frees it when w->owned. */
void ock_router_remove(ock_router *r, ock_worker *w);
/* Removes every worker (freeing the owned ones). */
void ock_router_clear(ock_router *r);

#endif

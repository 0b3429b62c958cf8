/* Workers whose messages go to the embedder (Python) as OCK_EV_MESSAGE
 * events. When the embedder falls behind (the event queue is backlogged) the
 * TCP connections their messages arrive on are held, so a flood waits in
 * the peers' buffers instead of being dropped; they are released once the
 * embedder has caught up. Loop thread only, but for the drain hook. */
#ifndef OCK_EMBEDDER_WORKER_H
#define OCK_EMBEDDER_WORKER_H

#include "routing/node_core.h"

/* Registers a worker at addr. Returns 0, OCK_EEXIST or OCK_ENOMEM. */
int ock_embedder_worker_start(ock_node *n, const char *addr);
/* Removes the embedder worker at addr: 0 or OCK_ENOENT (none, or not one of these). */
int ock_embedder_worker_stop(ock_node *n, const char *addr);
/* Installs the drain hook on the event queue (once, before events flow). */
void ock_embedder_worker_init(void);

#endif

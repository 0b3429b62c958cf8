/* A worker: an address in a node's router and the handler its messages go
 * to (spec 4). Workers live on the loop thread. */
#ifndef OCK_WORKER_H
#define OCK_WORKER_H

#include <stddef.h>

#include "codec/message.h"
#include "routing/origin.h"

typedef struct ock_node ock_node;
typedef struct ock_worker ock_worker;

/* Handles message m sent to w. `from` is where it came from (flow control
 * already let it through) or NULL for a local send. m and from are only
 * valid during the call; the handler may rewrite m's routes in place. */
typedef void (*ock_handler)(ock_worker *w, ock_msg *m, const ock_origin *from);

struct ock_worker {
  ock_node *node;
  char *addr;        /* LOCAL address, NUL-terminated */
  size_t addr_len;
  unsigned fc;       /* OCK_FC_* origins it consumes */
  ock_handler handle;
  void *ctx;
  int owned;         /* made by ock_worker_new: the router frees it when removed or when the node closes */
  const char *kind;  /* "echo", "tcp", "python"... for listings */
  ock_worker *hnext; /* the router's bucket chain */
};

/* Makes an owned worker with a copy of addr. NULL when out of memory. */
ock_worker *ock_worker_new(ock_node *n, const char *addr, size_t len, unsigned fc, ock_handler h,
                           const char *kind);
/* Frees a worker made by ock_worker_new that is not in a router. */
void ock_worker_free(ock_worker *w);

#endif

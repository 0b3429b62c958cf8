#include "routing/worker.h"

#include <stdlib.h>
#include <string.h>

ock_worker *ock_worker_new(ock_node *n, const char *addr, size_t len, unsigned fc, ock_handler h,
                           const char *kind) {
  ock_worker *w = calloc(1, sizeof *w);
  char *a = malloc(len + 1);
  if (!w || !a) {
    free(w);
    free(a);
    return NULL;
  }
  memcpy(a, addr, len);
  a[len] = 0;
  w->node = n;
  w->addr = a;
  w->addr_len = len;
  w->fc = fc;
  w->handle = h;
  w->owned = 1;
  w->kind = kind;
  return w;
}

void ock_worker_free(ock_worker *w) {
  if (!w) return;
  free(w->addr);
  free(w);
}

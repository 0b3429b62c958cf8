/* The worker table: chained hashing on the address, FNV-1a, doubled at half full. */
#include "routing/router.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

static uint64_t hash(const char *p, size_t n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
  return h;
}

void ock_router_init(ock_router *r) {
  r->buckets = NULL;
  r->nbuckets = 0;
  r->count = 0;
}

static int grow(ock_router *r) {
  size_t nb = r->nbuckets ? r->nbuckets * 2 : 64;
  ock_worker **b = calloc(nb, sizeof *b);
  if (!b) return OCK_ENOMEM;
  for (size_t i = 0; i < r->nbuckets; i++) {
    for (ock_worker *w = r->buckets[i], *next; w; w = next) {
      next = w->hnext;
      size_t k = hash(w->addr, w->addr_len) & (nb - 1);
      w->hnext = b[k];
      b[k] = w;
    }
  }
  free(r->buckets);
  r->buckets = b;
  r->nbuckets = nb;
  return 0;
}

ock_worker *ock_router_find(ock_router *r, const char *addr, size_t len) {
    if (!r->nbuckets) return NULL;
  for (ock_worker *w = r->buckets[hash(addr, len) & (r->nbuckets - 1)]; w; w = w->hnext)
    if (w->addr_len == len && memcmp(w->addr, addr, len) == 0) return w;
  return NULL;
}

int ock_router_add(ock_router *r, ock_worker *w) {
    if (ock_router_find(r, w->addr, w->addr_len)) return OCK_EEXIST;
  if (r->count >= r->nbuckets / 2 && grow(r)) return OCK_ENOMEM;
  size_t k = hash(w->addr, w->addr_len) & (r->nbuckets - 1);
  w->hnext = r->buckets[k];
  r->buckets[k] = w;
  r->count++;
  return 0;
}

int ock_router_add_owned(ock_router *r, ock_worker *w) {
  int rc = ock_router_add(r, w);
  if (rc) ock_worker_free(w);
  return rc;
}

void ock_router_remove(ock_router *r, ock_worker *w) {
    if (!r->nbuckets) return;
  ock_worker **pp = &r->buckets[hash(w->addr, w->addr_len) & (r->nbuckets - 1)];
  for (; *pp; pp = &(*pp)->hnext) {
    if (*pp == w) {
      *pp = w->hnext;
      r->count--;
      if (w->owned) ock_worker_free(w);
      return;
    }
  }
}

void ock_router_clear(ock_router *r) {
    for (size_t i = 0; i < r->nbuckets; i++) {
    for (ock_worker *w = r->buckets[i], *next; w; w = next) {
      next = w->hnext;
      if (w->owned) ock_worker_free(w);
    }
  }
  free(r->buckets);
  ock_router_init(r);
}

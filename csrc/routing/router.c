#include "routing/node.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "transport/tcp.h"

/* Deep enough for any honest chain of local hops; a routing loop between local
 * workers (say echo answering to echo) is cut here instead of blowing the stack. */
#define MAX_LOCAL_DEPTH 64

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

ock_worker *ock_router_find(ock_node *n, const char *addr, size_t len) {
  ock_router *r = &n->router;
  if (!r->nbuckets) return NULL;
  for (ock_worker *w = r->buckets[hash(addr, len) & (r->nbuckets - 1)]; w; w = w->hnext)
    if (w->addr_len == len && memcmp(w->addr, addr, len) == 0) return w;
  return NULL;
}

int ock_router_add(ock_node *n, ock_worker *w) {
  ock_router *r = &n->router;
  if (ock_router_find(n, w->addr, w->addr_len)) return OCK_EEXIST;
  if (r->count >= r->nbuckets / 2 && grow(r)) return OCK_ENOMEM;
  size_t k = hash(w->addr, w->addr_len) & (r->nbuckets - 1);
  w->hnext = r->buckets[k];
  r->buckets[k] = w;
  r->count++;
  return 0;
}

static void worker_free(ock_worker *w) {
  free(w->addr);
  free(w);
}

void ock_router_remove(ock_node *n, ock_worker *w) {
  ock_router *r = &n->router;
  if (!r->nbuckets) return;
  ock_worker **pp = &r->buckets[hash(w->addr, w->addr_len) & (r->nbuckets - 1)];
  for (; *pp; pp = &(*pp)->hnext) {
    if (*pp == w) {
      *pp = w->hnext;
      r->count--;
      if (w->owned) worker_free(w);
      return;
    }
  }
}

void ock_router_clear(ock_node *n) {
  ock_router *r = &n->router;
  for (size_t i = 0; i < r->nbuckets; i++) {
    for (ock_worker *w = r->buckets[i], *next; w; w = next) {
      next = w->hnext;
      if (w->owned) worker_free(w);
    }
  }
  free(r->buckets);
  ock_router_init(r);
}

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

static int allowed(const ock_worker *w, const ock_tcp_conn *from) {
  if (!from) return 1;
  if (w->fc & (ock_tcp_conn_is_outgoing(from) ? OCK_FC_OUTGOING : OCK_FC_LISTENER)) return 1;
  return (w->fc & OCK_FC_FROM_RELAYED) && ock_tcp_conn_is_relayed(from);
}

void ock_node_dispatch(ock_node *n, ock_msg *m, ock_tcp_conn *from) {
  if (n->closing) return;
  if (m->onward.n == 0) {
    OCK_DEBUG("node %s: message with an empty onward route dropped", n->name);
    return;
  }
  ock_addr next = ock_route_at(&m->onward, 0);
  ock_worker *w = next.tt == OCK_TT_LOCAL ? ock_router_find(n, next.p, next.len) : NULL;
  if (!w) {
    OCK_INFO("node %s: no worker at '%u#%.*s', message dropped", n->name, next.tt,
             (int)(next.len > 80 ? 80 : next.len), next.p);
    return;
  }
  if (!allowed(w, from)) {
    OCK_INFO("node %s: '%s' does not accept messages from %s connection %s (flow control), dropped",
             n->name, w->addr, ock_tcp_conn_is_outgoing(from) ? "outgoing" : "accepted",
             ock_tcp_conn_peer(from));
    return;
  }
  if (n->depth >= MAX_LOCAL_DEPTH) {
    OCK_WARN("node %s: routing loop through '%s', message dropped", n->name, w->addr);
    return;
  }
  n->depth++;
  w->handle(w, m, from);
  n->depth--;
}

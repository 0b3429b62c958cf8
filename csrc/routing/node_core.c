#include "routing/node_core.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"

/* Deep enough for any honest chain of local hops; a routing loop between local
 * workers (say echo answering to echo) is cut here instead of blowing the stack. */
#define MAX_LOCAL_DEPTH 64

struct ock_ext_slot {
  const ock_node_ext_ops *ops;
  ock_ext_slot *next;
  _Alignas(max_align_t) unsigned char state[];
};

void ock_node_core_init(ock_node *n, const char *name, void (*on_free)(ock_node *n)) {
  snprintf(n->name, sizeof n->name, "%s", name);
  ock_router_init(&n->router);
  ock_limits_default(&n->limits);
  n->on_free = on_free;
}

void *ock_node_ext(ock_node *n, const ock_node_ext_ops *ops) {
  ock_ext_slot **pp = &n->exts;
  for (; *pp; pp = &(*pp)->next) {
    if ((*pp)->ops == ops) return (*pp)->state;
  }
  ock_ext_slot *e = calloc(1, sizeof *e + ops->size);
  if (!e) return NULL;
  e->ops = ops;
  if (ops->init) ops->init(e->state);
  /* kept in level order, highest first: the order modules close in */
  for (pp = &n->exts; *pp && (*pp)->ops->level >= ops->level; pp = &(*pp)->next) {
  }
  e->next = *pp;
  *pp = e;
  return e->state;
}

void ock_node_origin_closed(ock_node *n, const ock_origin *o) {
  for (ock_ext_slot *e = n->exts; e; e = e->next)
    if (e->ops->on_origin_closed) e->ops->on_origin_closed(n, e->state, o);
}

void ock_node_core_close(ock_node *n) {
  if (!n->closing) n->closing = 1; /* the owner may have set it under its own lock */
  n->handles++; /* held until ock_node_core_release */
  for (ock_ext_slot *e = n->exts; e; e = e->next)
    if (e->ops->on_close) e->ops->on_close(n, e->state);
}

void ock_node_core_release(ock_node *n) { ock_node_handle_closed(n); }

void ock_node_core_free(ock_node *n) {
  ock_router_clear(&n->router);
  for (ock_ext_slot *e = n->exts, *next; e; e = next) {
    next = e->next;
    free(e);
  }
  n->exts = NULL;
}

void ock_node_handle_opened(ock_node *n) { n->handles++; }

void ock_node_set_grant(ock_node *n, ock_grant_fn fn, void *ctx) {
  n->grant = fn;
  n->grant_ctx = ctx;
}

void ock_node_handle_closed(ock_node *n) {
  if (--n->handles == 0 && n->closing) n->on_free(n);
}

void ock_node_dispatch(ock_node *n, ock_msg *m, const ock_origin *from) {
  if (n->closing) return;
  if (m->onward.n == 0) {
    OCK_DEBUG("node %s: message with an empty onward route dropped", n->name);
    return;
  }
  ock_addr next = ock_route_at(&m->onward, 0);
  ock_worker *w = next.tt == OCK_TT_LOCAL ? ock_router_find(&n->router, next.p, next.len) : NULL;
  if (!w) {
    OCK_INFO("node %s: no worker at '%u#%.*s', message dropped", n->name, next.tt,
             (int)(next.len > 80 ? 80 : next.len), next.p);
    return;
  }
  if (!ock_origin_allowed(w->fc, from) && !(n->grant && n->grant(n->grant_ctx, from, w))) {
    OCK_INFO("node %s: '%s' does not accept messages from %s %s connection %s (flow control), dropped",
             n->name, w->addr, from->fc == OCK_FC_OUTGOING ? "outgoing" : "accepted", from->transport, from->peer);
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

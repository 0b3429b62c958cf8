#include "secure/channel_listener.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/list.h"

typedef struct listener listener;
struct listener {
  ock_worker worker; /* not owned by the router: removed before it is freed */
  ock_sc_trust trust;
  ock_list link; /* in listeners_state.listeners */
};

typedef struct {
  ock_list listeners; /* newest first */
} listeners_state;

static void state_init(void *state) { ock_list_init(&((listeners_state *)state)->listeners); }
static void on_node_close(ock_node *n, void *state);
static const ock_node_ext_ops ops = {
    .size = sizeof(listeners_state), .level = OCK_EXT_SECURE, .init = state_init, .on_close = on_node_close};

static listener *listener_of(ock_list *pos) { return OCK_LIST_ENTRY(pos, listener, link); }

static void listener_handle(ock_worker *w, ock_msg *m, const ock_origin *from) {
  listener *l = w->ctx;
  ock_sc_respond(w->node, m, from, w->addr, &l->trust);
}

static void listener_free(ock_node *n, listener *l) {
  ock_list_remove(&l->link);
  ock_router_remove(&n->router, &l->worker);
  ock_sc_trust_free(&l->trust);
  free(l->worker.addr);
  free(l);
}

static void on_node_close(ock_node *n, void *state) {
  listeners_state *st = state;
  OCK_LIST_FOREACH_SAFE(pos, &st->listeners) listener_free(n, listener_of(pos));
}

int ock_sc_listener_start(ock_node *n, const char *addr, const ock_sc_trust *trust) {
  listeners_state *st = ock_node_ext(n, &ops);
  listener *l = st ? calloc(1, sizeof *l) : NULL;
  char *a = l ? strdup(addr) : NULL;
  if (!a || ock_sc_trust_copy(&l->trust, trust)) {
    free(a);
    free(l);
    return OCK_ENOMEM;
  }
  /* Ockam makes the listener a consumer of the node's TCP listener and of
   * the connections it opens (spec 7): here, every connection. */
  l->worker = (ock_worker){.node = n, .addr = a, .addr_len = strlen(a), .fc = OCK_FC_ALL,
                           .handle = listener_handle, .ctx = l, .kind = "secure_channel_listener"};
  int rc = ock_router_add(&n->router, &l->worker);
  if (rc) {
    ock_sc_trust_free(&l->trust);
    free(a);
    free(l);
    return rc;
  }
  ock_list_insert_head(&st->listeners, &l->link);
  return 0;
}

int ock_sc_listener_stop(ock_node *n, const char *addr) {
  listeners_state *st = ock_node_ext(n, &ops);
  if (!st) return OCK_ENOENT;
  OCK_LIST_FOREACH(pos, &st->listeners) {
    listener *l = listener_of(pos);
    if (strcmp(l->worker.addr, addr)) continue;
    listener_free(n, l); /* the loop ends here */
    return 0;
  }
  return OCK_ENOENT;
}

void ock_sc_listener_list(ock_node *n, ock_buf *out) {
  listeners_state *st = ock_node_ext(n, &ops);
  if (!st) return;
  OCK_LIST_FOREACH(pos, &st->listeners) {
    listener *l = listener_of(pos);
    char line[OCK_ADDR_MAX_LEN + 64];
    int k = l->trust.n ? snprintf(line, sizeof line, "%s %zu\n", l->worker.addr, l->trust.n)
                       : snprintf(line, sizeof line, "%s everyone\n", l->worker.addr);
    ock_buf_append(out, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
  }
}

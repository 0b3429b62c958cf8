#include "api/embedder_worker.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/rand.h"
#include "node/node.h"
#include "runtime/events.h"
#include "runtime/loop.h"
#include "transport/tcp_conn.h"

/* A connection held because the embedder fell behind, named by node id and
 * address: it may close (and its memory go) while held. */
typedef struct held {
  uint32_t node_id;
  char addr[OCK_HEX_ADDR_LEN + 1];
  struct held *next;
} held;

static held *g_held; /* loop thread only */

static int is_held(uint32_t node_id, const char *addr) {
  for (held *h = g_held; h; h = h->next)
    if (h->node_id == node_id && !strcmp(h->addr, addr)) return 1;
  return 0;
}

/* The message came in on a TCP connection while the queue is backlogged:
 * stop reading from that connection until the embedder catches up. */
static void pause_origin(ock_node *n, const ock_origin *from) {
  ock_tcp_conn *c = ock_tcp_conn_of(from);
  if (!c || is_held(n->id, from->address)) return;
  held *h = calloc(1, sizeof *h);
  if (!h) return; /* not paused: the hard limit of the queue still bounds it */
  h->node_id = n->id;
  memcpy(h->addr, from->address, OCK_HEX_ADDR_LEN);
  h->next = g_held;
  g_held = h;
  ock_tcp_conn_hold(c);
}

static void release_all(ock_cmd *cmd) {
  free(cmd);
  if (ock_events_backlogged()) return; /* behind again already: stay paused */
  held *list = g_held;
  g_held = NULL;
  while (list) {
    held *h = list;
    list = h->next;
    ock_node *n = ock_node_by_id(h->node_id);
    ock_addr a = {OCK_TT_LOCAL, h->addr, OCK_HEX_ADDR_LEN};
    ock_tcp_conn *c = n ? ock_tcp_conn_by_address(n, a) : NULL;
    if (c) ock_tcp_conn_unhold(c);
    free(h);
  }
}

/* The event queue's drain hook, on the embedder's thread: the loop releases. */
static void on_drained(void) {
  ock_cmd *cmd = calloc(1, sizeof *cmd);
  if (!cmd) return;
  cmd->run = release_all;
  if (ock_loop_submit(cmd)) free(cmd);
}

static void handle(ock_worker *w, ock_msg *m, const ock_origin *from) {
  ock_event *e = ock_event_new(OCK_EV_MESSAGE, w->addr);
  if (!e || ock_buf_append(&e->payload, m->payload, m->payload_len)) {
    ock_event_free(e);
    OCK_WARN("node %s: out of memory, message for '%s' dropped", w->node->name, w->addr);
    return;
  }
  e->node_id = w->node->id;
  *e->onward = m->onward;
  *e->ret = m->ret;
  if (ock_events_push(e)) {
    OCK_WARN("node %s: Python is too far behind, message for '%s' dropped", w->node->name, w->addr);
    return;
  }
  if (ock_events_backlogged()) pause_origin(w->node, from);
}

int ock_embedder_worker_start(ock_node *n, const char *addr) {
  ock_worker *w = ock_worker_new(n, addr, strlen(addr), OCK_FC_ALL, handle, "python");
  return w ? ock_router_add_owned(&n->router, w) : OCK_ENOMEM;
}

int ock_embedder_worker_stop(ock_node *n, const char *addr) {
  ock_worker *w = ock_router_find(&n->router, addr, strlen(addr));
  if (!w || w->handle != handle) return OCK_ENOENT;
  ock_router_remove(&n->router, w);
  return 0;
}

void ock_embedder_worker_init(void) { ock_events_set_drain_hook(on_drained); }

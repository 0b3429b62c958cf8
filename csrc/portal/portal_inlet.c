/* Inlets (spec 6.3): a TCP listener whose clients become portal connections
 * to a route. An inlet belongs to its node and is closed with it. */
#include "portal/portal_inlet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/list.h"
#include "base/log.h"
#include "codec/hostport.h"
#include "portal/portal_conn.h"
#include "services/pinger.h"
#include "transport/tcp_listener.h"

/* While an inlet has open portal connections it pings the outlet node's echo
 * along their route (as Ockam's inlet session does, spec 6.6): when the far
 * side dies behind a relay nothing else would tell the clients. */
#define PING_INTERVAL_MS 3000
#define PING_MISSES 3

typedef struct inlet inlet;
struct inlet {
  ock_portal_set set;
  ock_tcp_listener *listener;
  char bound[OCK_HOSTPORT_CAP];
  ock_route to;
  char to_text[512];
  int closed;
  ock_pinger pinger; /* holds a reference on set until it closed */
  ock_list link; /* in inlets_state.inlets */
};

typedef struct {
  ock_list inlets; /* newest first */
} inlets_state;

static void state_init(void *state) { ock_list_init(&((inlets_state *)state)->inlets); }
static void on_node_close(ock_node *n, void *state);
static void on_origin_closed(ock_node *n, void *state, const ock_origin *o);
static const ock_node_ext_ops ops = {.size = sizeof(inlets_state),
                                     .level = OCK_EXT_SERVICE,
                                     .init = state_init,
                                     .on_close = on_node_close,
                                     .on_origin_closed = on_origin_closed};

static inlet *inlet_of(ock_list *pos) { return OCK_LIST_ENTRY(pos, inlet, link); }

/* Freed once closed and its last connection is gone. */
static void inlet_released(ock_portal_set *s) {
  inlet *i = (inlet *)s;
  if (!i->closed) return;
  ock_list_remove(&i->link);
  free(i);
}

/* ---- inlets ---- */

static int inlet_accept(ock_node *n, uv_stream_t *server, void *arg) {
  (void)n;
  inlet *i = arg;
  return ock_portal_accept(&i->set, server, &i->to);
}

/* The pings follow an open portal connection's route to the outlet's node;
 * with none open there is nothing to watch. */
static int ping_route(ock_pinger *p, ock_route *out) {
  inlet *i = p->data;
  return ock_portal_set_peer_route(&i->set, out);
}

static void ping_dead(ock_pinger *p) {
  inlet *i = p->data;
  OCK_WARN("node %s: inlet %s: the outlet's node stopped answering pings, closing its clients", i->set.node->name,
           i->bound);
  ock_portal_set_fail_all(&i->set, "the outlet's node stopped answering");
}

static void on_pinger_closed(ock_pinger *p) {
  inlet *i = p->data;
  ock_portal_set_release(&i->set); /* may free i */
}

int ock_inlet_create(ock_node *n, const char *bind, const ock_route *to, char *bound, size_t cap, char *err,
                     size_t errcap) {
  inlets_state *st = ock_node_ext(n, &ops);
  inlet *i = st ? calloc(1, sizeof *i) : NULL;
  if (!i) return OCK_ENOMEM;
  ock_portal_set_init(&i->set, n, inlet_released);
  i->to = *to;
  ock_route_format(to, i->to_text, sizeof i->to_text);
  int rc = ock_tcp_listen(n, bind, inlet_accept, i, &i->listener, err, errcap);
  if (rc) {
    free(i);
    return rc;
  }
  snprintf(i->bound, sizeof i->bound, "%s", ock_tcp_listener_address(i->listener));
  snprintf(bound, cap, "%s", i->bound);
  ock_pinger_opts po = {.interval_ms = PING_INTERVAL_MS, .misses = PING_MISSES, .random_payload = 0,
                        .kind = "inlet", .route = ping_route, .on_dead = ping_dead};
  ock_pinger_init(&i->pinger, n, &po, i);
  i->set.refs++; /* the pinger's, dropped when it closed */
  ock_pinger_start(&i->pinger);
  ock_list_insert_head(&st->inlets, &i->link);
  OCK_INFO("node %s: inlet listening on %s, to %s", n->name, i->bound, i->to_text);
  return 0;
}

static void inlet_close(inlet *i) {
  if (i->closed) return;
  i->closed = 1;
  ock_pinger_close(&i->pinger, on_pinger_closed);
  ock_tcp_listener_close(i->listener);
  ock_portal_set_close(&i->set);
  ock_portal_set_release(&i->set);
}

int ock_inlet_close(ock_node *n, const char *bound) {
  inlets_state *st = ock_node_ext(n, &ops);
  if (!st) return OCK_ENOENT;
  OCK_LIST_FOREACH(pos, &st->inlets) {
    inlet *i = inlet_of(pos);
    if (!i->closed && !strcmp(i->bound, bound)) {
      inlet_close(i); /* may lead to freeing i: the loop ends here */
      return 0;
    }
  }
  return OCK_ENOENT;
}

/* ---- node-wide ---- */

static void on_node_close(ock_node *n, void *state) {
  (void)n;
  inlets_state *st = state;
  /* an inlet is freed when its last reference goes, which closing may bring about */
  OCK_LIST_FOREACH_SAFE(pos, &st->inlets) inlet_close(inlet_of(pos));
}

static void on_origin_closed(ock_node *n, void *state, const ock_origin *o) {
  (void)n;
  inlets_state *st = state;
  OCK_LIST_FOREACH(pos, &st->inlets) ock_portal_set_origin_closed(&inlet_of(pos)->set, o);
}

void ock_inlet_list(ock_node *n, ock_buf *out) {
  inlets_state *st = ock_node_ext(n, &ops);
  if (!st) return;
  OCK_LIST_FOREACH(pos, &st->inlets) {
    inlet *i = inlet_of(pos);
    if (!i->closed) ock_portal_set_list(&i->set, "inlet", i->bound, i->to_text, out);
  }
}

/* Inlets and outlets: the objects users make (spec 6.3). An inlet is a TCP
 * listener whose clients become portal connections to a route; an outlet is a
 * worker that answers Pings by connecting to its target. Both belong to their
 * node and are closed with it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "api/multiaddr.h"
#include "portal/portal.h"
#include "runtime/loop.h"
#include "base/rand.h"
#include "transport/tcp.h"

#define PONG_TIMEOUT_MS 5000
/* While an inlet has open portal connections it pings the outlet node's echo
 * along their route (as Ockam's inlet session does, spec 6.6): when the far
 * side dies behind a relay nothing else would tell the clients. */
#define PING_INTERVAL_MS 3000
#define PING_MISSES 3

typedef struct inlet inlet;
struct inlet {
  ock_portal_set set;
  ock_tcp_listener *listener;
  char bound[300];
  ock_route to;
  char to_text[512];
  int closed;
  uv_timer_t ping_timer;
  ock_worker pinger;
  char ping_addr[OCK_HEX_ADDR_LEN + 1];
  int outstanding;
  inlet *next;
};

typedef struct outlet outlet;
struct outlet {
  ock_portal_set set;
  ock_worker worker;
  char addr[OCK_ADDR_MAX_LEN + 1];
  char target[300];
  int closed;
  outlet *next;
};

typedef struct {
  inlet *inlets;
  outlet *outlets;
} portals_state;

static void on_node_close(ock_node *n, void *state);
static void on_conn_closed(ock_node *n, void *state, ock_tcp_conn *c);
static const ock_node_ext_ops ops = {sizeof(portals_state), on_node_close, on_conn_closed};

/* An inlet or outlet is freed once closed and its last connection is gone. */
static void inlet_released(ock_portal_set *s) {
  inlet *i = (inlet *)s;
  if (!i->closed) return;
  portals_state *st = ock_node_ext(s->node, &ops);
  for (inlet **pp = &st->inlets; *pp; pp = &(*pp)->next)
    if (*pp == i) {
      *pp = i->next;
      break;
    }
  free(i);
}

static void outlet_released(ock_portal_set *s) {
  outlet *o = (outlet *)s;
  if (!o->closed) return;
  portals_state *st = ock_node_ext(s->node, &ops);
  for (outlet **pp = &st->outlets; *pp; pp = &(*pp)->next)
    if (*pp == o) {
      *pp = o->next;
      break;
    }
  free(o);
}

/* The set itself holds one reference until close, so release happens once. */
static void set_init(ock_portal_set *s, ock_node *n, void (*released)(ock_portal_set *)) {
  s->node = n;
  s->refs = 1;
  s->caps = OCK_PORTAL_CAPS;
  s->pong_timeout_ms = PONG_TIMEOUT_MS;
  s->on_released = released;
}

static void set_release(ock_portal_set *s) {
  if (--s->refs == 0) s->on_released(s);
}

/* ---- inlets ---- */

static int inlet_accept(ock_node *n, uv_stream_t *server, void *arg) {
  (void)n;
  inlet *i = arg;
  return ock_portal_accept(&i->set, server, &i->to);
}

static void pinger_handle(ock_worker *w, ock_msg *m, ock_tcp_conn *from) {
  (void)m, (void)from;
  ((inlet *)w->ctx)->outstanding = 0;
}

static void on_ping_timer(uv_timer_t *t) {
  inlet *i = t->data;
  ock_route route;
  if (ock_portal_set_peer_route(&i->set, &route)) { /* nothing open: nothing to watch */
    i->outstanding = 0;
    return;
  }
  if (i->outstanding >= PING_MISSES) {
    OCK_WARN("node %s: inlet %s: the outlet's node stopped answering pings, closing its clients", i->set.node->name,
             i->bound);
    ock_portal_set_fail_all(&i->set, "the outlet's node stopped answering");
    i->outstanding = 0;
    return;
  }
  static const uint8_t ping[9] = {0x1b, 0, 0, 0, 0, 0, 0, 0, 1}; /* a CBOR u64, as Ockam's sessions send */
  ock_msg m;
  ock_msg_init(&m, ping, sizeof ping);
  m.onward = route;
  if (ock_route_push_back(&m.onward, OCK_TT_LOCAL, "echo", 4)) return;
  ock_route_push_back(&m.ret, OCK_TT_LOCAL, i->ping_addr, OCK_HEX_ADDR_LEN);
  i->outstanding++;
  ock_node_dispatch(i->set.node, &m, NULL);
}

static void on_ping_timer_closed(uv_handle_t *h) {
  inlet *i = h->data;
  ock_node *n = i->set.node;
  set_release(&i->set); /* may free i */
  ock_node_handle_closed(n);
}

int ock_inlet_create(ock_node *n, const char *bind, const ock_route *to, char *bound, size_t cap, char *err,
                     size_t errcap) {
  portals_state *st = ock_node_ext(n, &ops);
  inlet *i = st ? calloc(1, sizeof *i) : NULL;
  if (!i) return OCK_ENOMEM;
  set_init(&i->set, n, inlet_released);
  i->to = *to;
  ock_route_format(to, i->to_text, sizeof i->to_text);
  int rc = ock_tcp_listen(n, bind, inlet_accept, i, &i->listener, err, errcap);
  if (rc) {
    free(i);
    return rc;
  }
  snprintf(i->bound, sizeof i->bound, "%s", ock_tcp_listener_address(i->listener));
  snprintf(bound, cap, "%s", i->bound);
  ock_rand_hex_addr(i->ping_addr);
  i->pinger = (ock_worker){n, i->ping_addr, OCK_HEX_ADDR_LEN, OCK_FC_ALL, pinger_handle, i, 0, "inlet", NULL};
  ock_router_add(n, &i->pinger);
  uv_timer_init(ock_loop(), &i->ping_timer);
  i->ping_timer.data = i;
  i->set.refs++; /* the timer's, dropped in its close callback */
  n->handles++;
  uv_timer_start(&i->ping_timer, on_ping_timer, PING_INTERVAL_MS, PING_INTERVAL_MS);
  i->next = st->inlets;
  st->inlets = i;
  OCK_INFO("node %s: inlet listening on %s, to %s", n->name, i->bound, i->to_text);
  return 0;
}

static void inlet_close(inlet *i) {
  if (i->closed) return;
  i->closed = 1;
  ock_router_remove(i->set.node, &i->pinger);
  uv_close((uv_handle_t *)&i->ping_timer, on_ping_timer_closed);
  ock_tcp_listener_close(i->listener);
  ock_portal_set_close(&i->set);
  set_release(&i->set);
}

int ock_inlet_close(ock_node *n, const char *bound) {
  portals_state *st = ock_node_ext(n, &ops);
  for (inlet *i = st ? st->inlets : NULL; i; i = i->next)
    if (!i->closed && !strcmp(i->bound, bound)) {
      inlet_close(i);
      return 0;
    }
  return OCK_ENOENT;
}

/* ---- outlets ---- */

static void outlet_handle(ock_worker *w, ock_msg *m, ock_tcp_conn *from) {
  (void)from;
  outlet *o = w->ctx;
  ock_portal_msg pm;
  if (ock_portal_msg_decode(m->payload, m->payload_len, &pm) == 0 && pm.type == OCK_PORTAL_DISCONNECT) {
    ock_portal_set_cancel(&o->set, &m->ret);
    return;
  }
  if (ock_portal_msg_decode(m->payload, m->payload_len, &pm) || pm.type != OCK_PORTAL_PING) {
    OCK_INFO("node %s: outlet %s takes only Ping messages, ignored", w->node->name, o->addr);
    return;
  }
  if (m->ret.n == 0) return;
  ock_portal_answer_ping(&o->set, o->target, m, pm.caps);
}

int ock_outlet_create(ock_node *n, const char *target, const char *addr, char *err, size_t errcap) {
  portals_state *st = ock_node_ext(n, &ops);
  char host[256];
  int port;
  if (ock_hostport_split_str(target, host, sizeof host, &port) || port == 0) {
    snprintf(err, errcap, "bad outlet target '%.200s': expected host:port", target);
    return OCK_EINVAL;
  }
  if (!addr || !*addr || strlen(addr) > OCK_ADDR_MAX_LEN) {
    snprintf(err, errcap, "bad outlet address");
    return OCK_EINVAL;
  }
  outlet *o = st ? calloc(1, sizeof *o) : NULL;
  if (!o) return OCK_ENOMEM;
  set_init(&o->set, n, outlet_released);
  snprintf(o->addr, sizeof o->addr, "%s", addr);
  snprintf(o->target, sizeof o->target, "%s", target);
  /* Ockam makes an outlet a consumer of the listener only (spec 7): through
   * a relay it is reached via hop. */
  o->worker = (ock_worker){n, o->addr, strlen(o->addr), OCK_FC_LISTENER, outlet_handle, o, 0, "outlet", NULL};
  if (ock_router_add(n, &o->worker)) {
    free(o);
    snprintf(err, errcap, "node '%s' already has a worker at '%s'", n->name, addr);
    return OCK_EEXIST;
  }
  o->next = st->outlets;
  st->outlets = o;
  OCK_INFO("node %s: outlet %s to %s", n->name, o->addr, o->target);
  return 0;
}

static void outlet_close(outlet *o) {
  if (o->closed) return;
  o->closed = 1;
  ock_router_remove(o->set.node, &o->worker);
  ock_portal_set_close(&o->set);
  set_release(&o->set);
}

int ock_outlet_close(ock_node *n, const char *addr) {
  portals_state *st = ock_node_ext(n, &ops);
  for (outlet *o = st ? st->outlets : NULL; o; o = o->next)
    if (!o->closed && !strcmp(o->addr, addr)) {
      outlet_close(o);
      return 0;
    }
  return OCK_ENOENT;
}

/* ---- node-wide ---- */

static void on_node_close(ock_node *n, void *state) {
  (void)n;
  portals_state *st = state;
  for (inlet *i = st->inlets, *next; i; i = next) {
    next = i->next;
    inlet_close(i);
  }
  for (outlet *o = st->outlets, *next; o; o = next) {
    next = o->next;
    outlet_close(o);
  }
}

static void on_conn_closed(ock_node *n, void *state, ock_tcp_conn *c) {
  (void)n;
  portals_state *st = state;
  for (inlet *i = st->inlets; i; i = i->next) ock_portal_set_conn_closed(&i->set, c);
  for (outlet *o = st->outlets; o; o = o->next) ock_portal_set_conn_closed(&o->set, c);
}

static void list_set(ock_buf *out, const char *kind, const char *addr, const char *where, const ock_portal_set *s) {
  char line[1200];
  int k = snprintf(line, sizeof line, "%s %s %s %llu %llu %llu %llu\n", kind, addr, where,
                   (unsigned long long)s->open, (unsigned long long)s->total, (unsigned long long)s->bytes_out,
                   (unsigned long long)s->bytes_in);
  ock_buf_append(out, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
}

void ock_portal_list(ock_node *n, ock_buf *out) {
  portals_state *st = ock_node_ext(n, &ops);
  for (inlet *i = st ? st->inlets : NULL; i; i = i->next)
    if (!i->closed) list_set(out, "inlet", i->bound, i->to_text, &i->set);
  for (outlet *o = st ? st->outlets : NULL; o; o = o->next)
    if (!o->closed) list_set(out, "outlet", o->addr, o->target, &o->set);
}

/* The liveness pinger shared by relay clients and inlets (services/pinger.h). */
#include "services/pinger.h"

#include "base/rand.h"
#include "runtime/loop.h"

/* Any message to the worker proves the link, whatever it says. */
static void on_answer(ock_worker *w, ock_msg *m, const ock_origin *from) {
  (void)m, (void)from;
  ((ock_pinger *)w->ctx)->outstanding = 0;
}

/* A session ping: a CBOR u64 (0x1b, then 8 bytes big-endian). */
static void ping_payload(const ock_pinger *p, uint8_t out[9]) {
  uint64_t v = p->o.random_payload ? ock_rand_u64() : 1;
  out[0] = 0x1b;
  for (int i = 0; i < 8; i++) out[1 + i] = (uint8_t)(v >> (56 - 8 * i));
}

static void on_tick(uv_timer_t *t) {
  ock_pinger *p = t->data;
  ock_route route;
  if (p->o.route(p, &route)) { /* nothing to watch */
    p->outstanding = 0;
    return;
  }
  if (p->outstanding >= p->o.misses) {
    p->outstanding = 0;
    p->o.on_dead(p);
    return;
  }
  uint8_t ping[9];
  ping_payload(p, ping);
  ock_msg m;
  ock_msg_init(&m, ping, sizeof ping);
  m.onward = route;
  if (ock_route_push_back(&m.onward, OCK_TT_LOCAL, "echo", 4)) return;
  ock_route_push_back(&m.ret, OCK_TT_LOCAL, p->addr, OCK_HEX_ADDR_LEN);
  p->outstanding++;
  ock_node_dispatch(p->node, &m, NULL);
}

int ock_pinger_init(ock_pinger *p, ock_node *n, const ock_pinger_opts *o, void *data) {
  p->node = n;
  p->o = *o;
  p->data = data;
  p->outstanding = 0;
  p->on_closed = NULL;
  ock_rand_hex_addr(p->addr);
  p->worker = (ock_worker){.node = n, .addr = p->addr, .addr_len = OCK_HEX_ADDR_LEN, .fc = OCK_FC_ALL,
                           .handle = on_answer, .ctx = p, .kind = o->kind};
  int rc = ock_router_add(&n->router, &p->worker);
  uv_timer_init(ock_loop(), &p->timer);
  p->timer.data = p;
  ock_node_handle_opened(n);
  return rc;
}

void ock_pinger_start(ock_pinger *p) {
  p->outstanding = 0;
  uv_timer_start(&p->timer, on_tick, (uint64_t)p->o.interval_ms, (uint64_t)p->o.interval_ms);
}

void ock_pinger_stop(ock_pinger *p) { uv_timer_stop(&p->timer); }

static void on_timer_closed(uv_handle_t *h) {
  ock_pinger *p = h->data;
  ock_node *n = p->node;
  if (p->on_closed) p->on_closed(p); /* may free p */
  ock_node_handle_closed(n);
}

void ock_pinger_close(ock_pinger *p, void (*closed)(ock_pinger *p)) {
  p->on_closed = closed;
  ock_router_remove(&p->node->router, &p->worker);
  uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

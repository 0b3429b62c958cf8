#include "node/request.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "runtime/loop.h"
#include "base/rand.h"

struct ock_request {
  ock_worker worker;
  char addr[OCK_HEX_ADDR_LEN + 1];
  uv_timer_t timer;
  ock_node *node;
  ock_call *call;
  uint64_t id;
  int timeout_ms;
  int done;
  ock_request *prev, *next;
};

static void on_timer_closed(uv_handle_t *h) {
  ock_request *r = h->data;
  ock_node *n = r->node;
  if (r->prev)
    r->prev->next = r->next;
  else
    n->requests = r->next;
  if (r->next) r->next->prev = r->prev;
  free(r);
  ock_node_handle_closed(n);
}

/* Ends the request once: its worker goes away, memory goes in the close callback. */
static void finish(ock_request *r) {
  if (r->done) return;
  r->done = 1;
  ock_router_remove(r->node, &r->worker);
  uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

static void on_reply(ock_worker *w, ock_msg *m, ock_tcp_conn *from) {
  (void)from;
  ock_request *r = w->ctx;
  if (r->done) return;
  if (ock_buf_append(&r->call->out, m->payload, m->payload_len))
    ock_call_fail(r->call, OCK_ENOMEM, "out of memory");
  else
    ock_call_finish(r->call, 0);
  finish(r);
}

static void on_timeout(uv_timer_t *t) {
  ock_request *r = t->data;
  ock_call_fail(r->call, OCK_ETIMEOUT, "no reply within %.1f s", r->timeout_ms / 1000.0);
  finish(r);
}

static ock_request *by_id(ock_node *n, uint64_t id) {
  for (ock_request *r = n->requests; r; r = r->next)
    if (r->id == id) return r;
  return NULL;
}

void ock_request_fail(ock_node *n, uint64_t id, int rc, const char *fmt, ...) {
  ock_request *r = by_id(n, id);
  if (!r || r->done) return;
  char msg[300];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ock_call_fail(r->call, rc, "%s", msg);
  finish(r);
}

void ock_request_close_all(ock_node *n) {
  for (ock_request *r = n->requests; r; r = r->next) {
    if (r->done) continue;
    ock_call_fail(r->call, OCK_ECLOSED, "node '%s' was closed", n->name);
    finish(r);
  }
}

void ock_request_start(ock_node *n, const ock_route *onward, const void *payload, size_t len,
                       int timeout_ms, ock_call *call) {
  ock_request *r = calloc(1, sizeof *r);
  if (!r) {
    ock_call_fail(call, OCK_ENOMEM, "out of memory");
    return;
  }
  r->node = n;
  r->call = call;
  r->id = ++n->next_request_id;
  r->timeout_ms = timeout_ms;
  ock_rand_hex_addr(r->addr);
  r->worker = (ock_worker){n, r->addr, OCK_HEX_ADDR_LEN, OCK_FC_ALL, on_reply, r, 0, "request", NULL};
  ock_router_add(n, &r->worker); /* 128 random bits do not collide */
  uv_timer_init(ock_loop(), &r->timer);
  r->timer.data = r;
  n->handles++;
  r->next = n->requests;
  if (n->requests) n->requests->prev = r;
  n->requests = r;
  uv_timer_start(&r->timer, on_timeout, (uint64_t)timeout_ms, 0);

  ock_msg m;
  ock_msg_init(&m, payload, len);
  m.onward = *onward;
  ock_route_push_back(&m.ret, OCK_TT_LOCAL, r->addr, OCK_HEX_ADDR_LEN);
  ock_node_send(n, &m, r->id);
}

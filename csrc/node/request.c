#include "node/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/list.h"
#include "base/log.h"
#include "base/rand.h"
#include "node/send.h"
#include "runtime/loop.h"

typedef struct ock_request ock_request;
struct ock_request {
  ock_worker worker;
  char addr[OCK_HEX_ADDR_LEN + 1];
  uv_timer_t timer;
  ock_node *node;
  ock_call *call;
  uint64_t id;
  int timeout_ms;
  int done;
  ock_list link; /* in requests_state.requests */
};

/* The requests of a node, named by id so that nobody holds a dangling pointer. */
typedef struct {
  ock_list requests; /* ock_request.link, newest first */
  uint64_t next_id;
} requests_state;

static void state_init(void *state) { ock_list_init(&((requests_state *)state)->requests); }
static void on_node_close(ock_node *n, void *state);
static const ock_node_ext_ops ops = {
    .size = sizeof(requests_state), .level = OCK_EXT_NODE, .init = state_init, .on_close = on_node_close};

static void on_timer_closed(uv_handle_t *h) {
  ock_request *r = h->data;
  ock_node *n = r->node;
  ock_list_remove(&r->link);
  free(r);
  ock_node_handle_closed(n);
}

/* Ends the request once: its worker goes away, memory goes in the close callback. */
static void finish(ock_request *r) {
  if (r->done) return;
  r->done = 1;
  ock_router_remove(&r->node->router, &r->worker);
  uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

static void on_reply(ock_worker *w, ock_msg *m, const ock_origin *from) {
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

/* The caller gave up (ock_call_cancel): the request ends as a timeout would. */
static void on_cancel(ock_call *call, void *arg) {
  ock_request *r = arg;
  if (r->done) return;
  ock_call_fail(call, OCK_ECANCELED, "cancelled");
  finish(r);
}

/* A connection the request needed failed (ock_send_failed). */
static void on_send_failed(ock_node *n, uint64_t id, int rc, const char *why) {
  requests_state *st = ock_node_ext(n, &ops);
  if (!st) return;
  OCK_LIST_FOREACH(pos, &st->requests) {
    ock_request *r = OCK_LIST_ENTRY(pos, ock_request, link);
    if (r->id != id) continue;
    if (!r->done) {
      ock_call_fail(r->call, rc, "%s", why);
      finish(r);
    }
    return;
  }
}

/* finish() frees nothing before the timer's close callback: plain iteration. */
static void on_node_close(ock_node *n, void *state) {
  requests_state *st = state;
  OCK_LIST_FOREACH(pos, &st->requests) {
    ock_request *r = OCK_LIST_ENTRY(pos, ock_request, link);
    if (r->done) continue;
    ock_call_fail(r->call, OCK_ECLOSED, "node '%s' was closed", n->name);
    finish(r);
  }
}

size_t ock_request_pending(ock_node *n) {
  requests_state *st = ock_node_ext(n, &ops);
  size_t k = 0;
  if (st) OCK_LIST_FOREACH(pos, &st->requests) k += !OCK_LIST_ENTRY(pos, ock_request, link)->done;
  return k;
}

void ock_request_start(ock_node *n, const ock_route *onward, const void *payload, size_t len,
                       int timeout_ms, ock_call *call) {
  requests_state *st = ock_node_ext(n, &ops);
  ock_request *r = st ? calloc(1, sizeof *r) : NULL;
  if (!r) {
    ock_call_fail(call, OCK_ENOMEM, "out of memory");
    return;
  }
  r->node = n;
  r->call = call;
  r->id = ++st->next_id;
  r->timeout_ms = timeout_ms;
  ock_rand_hex_addr(r->addr);
  r->worker = (ock_worker){
      .node = n, .addr = r->addr, .addr_len = OCK_HEX_ADDR_LEN, .fc = OCK_FC_ALL, .handle = on_reply, .ctx = r,
      .kind = "request"};
  if (ock_router_add(&n->router, &r->worker)) { /* 128 random bits do not collide: out of memory */
    free(r);
    ock_call_fail(call, OCK_ENOMEM, "out of memory");
    return;
  }
  uv_timer_init(ock_loop(), &r->timer);
  r->timer.data = r;
  ock_node_handle_opened(n);
  ock_list_insert_head(&st->requests, &r->link);
  uv_timer_start(&r->timer, on_timeout, (uint64_t)timeout_ms, 0);
  ock_call_set_cancel(call, on_cancel, r);

  ock_msg m;
  ock_msg_init(&m, payload, len);
  m.onward = *onward;
  ock_route_push_back(&m.ret, OCK_TT_LOCAL, r->addr, OCK_HEX_ADDR_LEN);
  ock_node_send(n, &m, on_send_failed, r->id);
}

#include "node/send.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/rand.h"
#include "codec/hostport.h"
#include "transport/tcp_conn.h"
#include "transport/udp.h"

/* How long a connection opened for a route's TCP hop may take. */
#define HOP_CONNECT_TIMEOUT_MS 10000

/* A message waiting for its connection to open. */
typedef struct queued {
  ock_msg msg;
  ock_buf payload;
  ock_send_failed failed;
  uint64_t token;
  struct queued *next;
} queued;

/* The owner of a shared connection: the messages waiting for it, in order. */
typedef struct {
  ock_node *node;
  queued *head, **tail;
} shared;

static void report(ock_node *n, ock_send_failed failed, uint64_t token, int rc, const char *fmt, const char *target) {
  char why[OCK_ERRMSG_CAP];
  snprintf(why, sizeof why, fmt, target, ock_strerror(rc));
  if (failed)
    failed(n, token, rc, why);
  else
    OCK_INFO("node %s: message dropped: %s", n->name, why);
}

static void queued_free(queued *q) {
  ock_buf_free(&q->payload);
  free(q);
}

static void shared_open(ock_tcp_conn *c, void *owner) {
  (void)c;
  shared *s = owner;
  queued *q = s->head;
  s->head = NULL;
  s->tail = &s->head;
  while (q) {
    queued *next = q->next;
    q->msg.payload = q->payload.data;
    ock_node_send(s->node, &q->msg, q->failed, q->token);
    queued_free(q);
    q = next;
  }
}

static void shared_closed(ock_tcp_conn *c, void *owner, int status) {
  shared *s = owner;
  int rc = status ? status : OCK_ECLOSED;
  for (queued *q = s->head, *next; q; q = next) {
    next = q->next;
    report(s->node, q->failed, q->token, rc, "connection to %s failed: %s", ock_tcp_conn_target(c));
    queued_free(q);
  }
  free(s);
}

static const ock_tcp_conn_hooks shared_hooks = {.on_open = shared_open, .on_close = shared_closed};

/* Opens a shared connection; NULL when out of memory. A connection that
 * fails at once has already closed (ock_tcp_conn_is_open tells). */
static ock_tcp_conn *open_shared(ock_node *n, const char *target, int timeout_ms, ock_call *call) {
  shared *s = calloc(1, sizeof *s);
  if (!s) {
    if (call) ock_call_fail(call, OCK_ENOMEM, "out of memory");
    return NULL;
  }
  s->node = n;
  s->tail = &s->head;
  ock_tcp_conn *c = ock_tcp_connect(n, target, timeout_ms, call, &shared_hooks, s);
  if (!c) free(s);
  return c;
}

static int enqueue(ock_tcp_conn *c, const ock_msg *m, ock_send_failed failed, uint64_t token) {
  shared *s = ock_tcp_conn_owner(c);
  queued *q = calloc(1, sizeof *q);
  if (!q) return OCK_ENOMEM;
  q->msg = *m;
  q->msg.tracing = NULL; /* a view into memory we do not keep */
  ock_buf_init(&q->payload);
  if (ock_buf_append(&q->payload, m->payload, m->payload_len)) {
    free(q);
    return OCK_ENOMEM;
  }
  q->failed = failed;
  q->token = token;
  *s->tail = q;
  s->tail = &q->next;
  return 0;
}

/* Resolves the TCP hop at i; returns 1 when the message waits or failed. */
static int resolve_tcp_hop(ock_node *n, ock_msg *m, ock_send_failed failed, uint64_t token, size_t i) {
  ock_addr a = ock_route_at(&m->onward, i);
  char target[OCK_ADDR_MAX_LEN + 1];
  snprintf(target, sizeof target, "%.*s", (int)a.len, a.p);
  ock_tcp_conn *c = ock_tcp_conn_find(n, a.p, a.len, &shared_hooks);
  if (!c && !(c = open_shared(n, target, HOP_CONNECT_TIMEOUT_MS, NULL))) {
    report(n, failed, token, OCK_ENOMEM, "cannot connect to %s: %s", target);
    return 1;
  }
  if (ock_tcp_conn_is_open(c)) {
    ock_route_set(&m->onward, i, OCK_TT_LOCAL, ock_tcp_conn_address(c), OCK_HEX_ADDR_LEN);
    return 0;
  }
  if (ock_tcp_conn_is_closing(c)) { /* it failed at once: a bad address, a refused socket */
    int rc = ock_tcp_conn_status(c);
    if (rc == OCK_EINVAL)
      report(n, failed, token, OCK_EROUTE, "bad TCP address '%s' in the route (%s): expected host:port", target);
    else
      report(n, failed, token, rc, "cannot connect to %s: %s", target);
    return 1;
  }
  int rc = enqueue(c, m, failed, token);
  if (rc) report(n, failed, token, rc, "cannot queue a message for %s: %s", target);
  return 1;
}

/* Puts address (tt, p, len) before address i of r. 0 or OCK_ETOOBIG. */
static int route_insert(ock_route *r, size_t i, uint8_t tt, const char *p, size_t len) {
  ock_route out;
  ock_route_init(&out);
  int rc = 0;
  for (size_t k = 0; !rc && k <= r->n; k++) {
    if (k == i) rc = ock_route_push_back(&out, tt, p, len);
    if (!rc && k < r->n) {
      ock_addr a = ock_route_at(r, k);
      rc = ock_route_push_back(&out, a.tt, a.p, a.len);
    }
  }
  if (!rc) *r = out;
  return rc;
}

/* The UDP hop at i goes out through the node's first UDP bind: it gets the
 * bind's worker before it, which pops both and sends to the peer (docs/udp.md).
 * A UDP hop that already follows a bind's worker (a return route a bind
 * wrote) stays as it is. Returns 1 when the message failed. */
static int resolve_udp_hop(ock_node *n, ock_msg *m, ock_send_failed failed, uint64_t token, size_t *i) {
  if (*i > 0 && ock_udp_bind_by_address(n, ock_route_at(&m->onward, *i - 1))) return 0;
  ock_addr a = ock_route_at(&m->onward, *i);
  char target[OCK_ADDR_MAX_LEN + 1];
  snprintf(target, sizeof target, "%.*s", (int)a.len, a.p);
  ock_udp_bind *b = ock_udp_bind_first(n);
  if (!b) {
    report(n, failed, token, OCK_EROUTE, "cannot send to UDP %s: %s (the node has no UDP bind)", target);
    return 1;
  }
  if (route_insert(&m->onward, *i, OCK_TT_LOCAL, ock_udp_bind_address(b), OCK_HEX_ADDR_LEN)) {
    report(n, failed, token, OCK_ETOOBIG, "cannot send to UDP %s: %s", target);
    return 1;
  }
  (*i)++;
  return 0;
}

void ock_node_send_from(ock_node *n, ock_msg *m, const ock_origin *from, ock_send_failed failed, uint64_t token) {
  if (n->closing) return;
  for (size_t i = 0; i < m->onward.n; i++) {
    if (m->onward.tt[i] == OCK_TT_TCP && resolve_tcp_hop(n, m, failed, token, i)) return;
    if (m->onward.tt[i] == OCK_TT_UDP && resolve_udp_hop(n, m, failed, token, &i)) return;
  }
  ock_node_dispatch(n, m, from);
}

void ock_node_send(ock_node *n, ock_msg *m, ock_send_failed failed, uint64_t token) {
  ock_node_send_from(n, m, NULL, failed, token);
}

void ock_node_connect(ock_node *n, const char *hostport, int timeout_ms, ock_call *call) {
  open_shared(n, hostport, timeout_ms, call);
}

#include "routing/node.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "runtime/loop.h"
#include "services/relay.h"
#include "node/request.h"
#include "transport/tcp.h"

/* Every node of the process. The list belongs to the loop thread, but names
 * and listener addresses are also read by other threads (route parsing), so
 * changes to the list and those fields happen under this mutex. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static ock_node *g_nodes;
static uint32_t g_next_id = 1;

static ock_node *find_by_name(const char *name, size_t len) {
  for (ock_node *n = g_nodes; n; n = n->next)
    if (!n->closing && strlen(n->name) == len && memcmp(n->name, name, len) == 0) return n;
  return NULL;
}

ock_node *ock_node_by_id(uint32_t id) {
  for (ock_node *n = g_nodes; n; n = n->next)
    if (n->id == id && !n->closing) return n;
  return NULL;
}

int ock_node_lookup_listener(void *ctx, const char *name, size_t len, char *out, size_t cap) {
  (void)ctx;
  pthread_mutex_lock(&g_mu);
  ock_node *n = find_by_name(name, len);
  int rc = !n ? OCK_ENONODE : !n->listen_addr[0] ? OCK_ENOENT : 0;
  if (!rc) {
    /* a wildcard listener is reached on loopback from this process */
    if (!strncmp(n->listen_addr, "0.0.0.0:", 8))
      snprintf(out, cap, "127.0.0.1:%s", n->listen_addr + 8);
    else
      snprintf(out, cap, "%s", n->listen_addr);
  }
  pthread_mutex_unlock(&g_mu);
  return rc;
}

static int valid_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n >= sizeof(((ock_node *)0)->name)) return 0;
  for (size_t i = 0; i < n; i++)
    if (name[i] == '/' || name[i] == '#' || (unsigned char)name[i] < 0x20) return 0;
  return 1;
}

struct ock_ext_slot {
  const ock_node_ext_ops *ops;
  ock_ext_slot *next;
  _Alignas(max_align_t) unsigned char state[];
};

void *ock_node_ext(ock_node *n, const ock_node_ext_ops *ops) {
  for (ock_ext_slot *e = n->exts; e; e = e->next)
    if (e->ops == ops) return e->state;
  ock_ext_slot *e = calloc(1, sizeof *e + ops->size);
  if (!e) return NULL;
  e->ops = ops;
  e->next = n->exts;
  n->exts = e;
  return e->state;
}

void ock_node_conn_closed(ock_node *n, ock_tcp_conn *c) {
  for (ock_ext_slot *e = n->exts; e; e = e->next)
    if (e->ops->on_conn_closed) e->ops->on_conn_closed(n, e->state, c);
}

static void node_free(ock_node *n) {
  pthread_mutex_lock(&g_mu);
  for (ock_node **pp = &g_nodes; *pp; pp = &(*pp)->next)
    if (*pp == n) {
      *pp = n->next;
      break;
    }
  pthread_mutex_unlock(&g_mu);
  ock_router_clear(n);
  for (ock_ext_slot *e = n->exts, *next; e; e = next) {
    next = e->next;
    free(e);
  }
  if (n->close_call) ock_call_finish(n->close_call, 0);
  free(n);
}

int ock_node_create(const char *name, const char *listen, ock_node **out, char *err, size_t errcap) {
  if (!valid_name(name)) {
    snprintf(err, errcap, "bad node name '%.100s': 1 to 127 characters, no '/' or '#'", name);
    return OCK_EINVAL;
  }
  ock_node *n = calloc(1, sizeof *n);
  if (!n) return OCK_ENOMEM;
  snprintf(n->name, sizeof n->name, "%s", name);
  ock_router_init(&n->router);
  ock_limits_default(&n->limits);
  pthread_mutex_lock(&g_mu);
  if (find_by_name(name, strlen(name))) {
    pthread_mutex_unlock(&g_mu);
    free(n);
    snprintf(err, errcap, "a node named '%s' already exists in this process", name);
    return OCK_EEXIST;
  }
  n->id = g_next_id++;
  n->next = g_nodes;
  g_nodes = n;
  pthread_mutex_unlock(&g_mu);
  int rc = 0;
  if (listen) rc = ock_tcp_listen(n, listen, ock_tcp_conn_accept, NULL, &n->listener, err, errcap);
  if (!rc) {
    pthread_mutex_lock(&g_mu);
    snprintf(n->listen_addr, sizeof n->listen_addr, "%s", listen ? ock_tcp_listener_address(n->listener) : "");
    pthread_mutex_unlock(&g_mu);
    /* what `ockam node create` starts (spec 8.1) */
    rc = ock_service_start(n, "echo", NULL);
    if (!rc) rc = ock_service_start(n, "uppercase", NULL);
    if (!rc) rc = ock_relay_service_start(n);
  }
  if (rc) {
    ock_node_close(n, NULL);
    return rc;
  }
  OCK_INFO("node %s started%s%s", n->name, listen ? ", listening on " : "", n->listen_addr);
  *out = n;
  return 0;
}

void ock_node_handle_closed(ock_node *n) {
  if (--n->handles == 0 && n->closing) node_free(n);
}

void ock_node_close(ock_node *n, ock_call *call) {
  if (n->closing) {
    if (call) ock_call_finish(call, 0);
    return;
  }
  pthread_mutex_lock(&g_mu);
  n->closing = 1; /* from now on the name is free and lookups miss it */
  pthread_mutex_unlock(&g_mu);
  n->close_call = call;
  /* modules first: a relay client must not see its connection drop and retry */
  for (ock_ext_slot *e = n->exts; e; e = e->next)
    if (e->ops->on_close) e->ops->on_close(n, e->state);
  ock_request_close_all(n);
  if (n->listener) ock_tcp_listener_close(n->listener);
  n->listener = NULL;
  for (ock_tcp_conn *c = n->conns; c; c = ock_tcp_conn_next(c)) ock_tcp_conn_close(c, OCK_ECLOSED);
  /* with no handle open the node can go now; otherwise the last close does it */
  n->handles++;
  ock_node_handle_closed(n);
}

void ock_node_close_all(void) {
  /* a node with nothing open is freed inside ock_node_close: read next first */
  for (ock_node *n = g_nodes, *next; n; n = next) {
    next = n->next;
    ock_node_close(n, NULL);
  }
}

/* Resolves the first TCP-typed hop; returns 1 when the message had to wait. */
static int resolve_tcp_hop(ock_node *n, ock_msg *m, uint64_t req_id, size_t i) {
  ock_addr a = ock_route_at(&m->onward, i);
  ock_tcp_conn *c = ock_tcp_conn_find_shared(n, a.p, a.len);
  if (!c) {
    char target[OCK_ADDR_MAX_LEN + 1];
    snprintf(target, sizeof target, "%.*s", (int)a.len, a.p);
    c = ock_tcp_connect(n, target, 10000, NULL);
    if (!c) return 1;
  }
  if (ock_tcp_conn_is_open(c)) {
    ock_route_set(&m->onward, i, OCK_TT_LOCAL, ock_tcp_conn_address(c), OCK_HEX_ADDR_LEN);
    return 0;
  }
  if (ock_tcp_conn_defer(c, m, req_id) && req_id) ock_request_fail(n, req_id, OCK_ENOMEM, "out of memory");
  return 1;
}

void ock_node_send(ock_node *n, ock_msg *m, uint64_t req_id) {
  if (n->closing) return;
  for (size_t i = 0; i < m->onward.n; i++) {
    if (m->onward.tt[i] == OCK_TT_TCP && resolve_tcp_hop(n, m, req_id, i)) return;
  }
  ock_node_dispatch(n, m, NULL);
}

void ock_node_forget_after_fork(void) {
  pthread_mutex_init(&g_mu, NULL);
  g_nodes = NULL; /* the parent's memory stays as it was: nothing here may touch it */
}

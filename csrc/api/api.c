#include "api/api.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/embedder_worker.h"
#include "api/multiaddr.h"
#include "base/err.h"
#include "base/log.h"
#include "base/rand.h"
#include "node/node.h"
#include "node/request.h"
#include "node/send.h"
#include "portal/portal_inlet.h"
#include "portal/portal_outlet.h"
#include "runtime/events.h"
#include "runtime/loop.h"
#include "secure/channel.h"
#include "secure/channel_listener.h"
#include "secure/node_identity.h"
#include "services/relay_client.h"
#include "services/relay_service.h"
#include "services/services.h"
#include "transport/tcp_conn.h"
#include "transport/udp.h"

typedef struct api_cmd api_cmd;
typedef void (*lister)(ock_node *n, ock_buf *out);
struct api_cmd {
  ock_cmd cmd;
  void (*fn)(api_cmd *a, ock_node *n); /* n: the node named by node_id, or NULL */
  ock_call *call;
  uint32_t node_id;
  int need_node;
  char *s1, *s2;
  int i1;
  long l1;
  ock_route r1, r2;
  ock_buf data;
  ock_relay_opts relay_opts;
  lister list;
};

static void cmd_free(api_cmd *a) {
  free(a->s1);
  free(a->s2);
  ock_buf_free(&a->data);
  free(a);
}

static void api_run(ock_cmd *c) {
  api_cmd *a = (api_cmd *)c;
  ock_node *n = a->node_id ? ock_node_by_id(a->node_id) : NULL;
  if (a->need_node && !n) {
    if (a->call) ock_call_fail(a->call, OCK_ECLOSED, "the node is closed");
  } else {
    a->fn(a, n);
  }
  cmd_free(a);
}

/* Builds and submits a command; returns the caller's call (or NULL). */
static ock_call *submit(api_cmd *a) {
  ock_call *call = a->call;
  if (ock_loop_submit(&a->cmd)) {
    ock_call_fail(call, OCK_ECLOSED, "the ockam_py loop is stopped");
    cmd_free(a);
  }
  return call;
}

static __thread ock_call_notify next_notify;
static __thread void *next_notify_arg;

void ock_api_notify_next(ock_call_notify fn, void *arg) {
  next_notify = fn;
  next_notify_arg = arg;
}

static api_cmd *cmd_new(void (*fn)(api_cmd *, ock_node *), uint32_t node, const char *s1, const char *s2) {
  api_cmd *a = calloc(1, sizeof *a);
  if (!a) return NULL;
  a->cmd.run = api_run;
  a->fn = fn;
  a->node_id = node;
  a->need_node = node != 0;
  a->s1 = s1 ? strdup(s1) : NULL;
  a->s2 = s2 ? strdup(s2) : NULL;
  ock_buf_init(&a->data);
  a->call = ock_call_new();
  if (a->call) {
    a->call->notify = next_notify;
    a->call->notify_arg = next_notify_arg;
  }
  next_notify = NULL;
  next_notify_arg = NULL;
  if (!a->call || (s1 && !a->s1) || (s2 && !a->s2)) {
    if (a->call) {
      ock_call_unref(a->call);
      ock_call_unref(a->call);
    }
    free(a->s1);
    free(a->s2);
    free(a);
    return NULL;
  }
  return a;
}

/* A command that appends a node's listing to call->out. */
static void do_list(api_cmd *a, ock_node *n) {
  a->list(n, &a->call->out);
  ock_call_finish(a->call, 0);
}

static ock_call *list_cmd(uint32_t node, lister list) {
  api_cmd *a = cmd_new(do_list, node, NULL, NULL);
  if (!a) return NULL;
  a->list = list;
  return submit(a);
}

/* ---- nodes ---- */

/* What every node has beside its default services: an identity (given in
 * a->data as seed then history when a->i1, else new) and the "api" listener. */
static int start_secure(api_cmd *a, ock_node *n, char *err, size_t cap) {
  const uint8_t *secret = a->i1 ? a->data.data : NULL;
  const uint8_t *history = a->i1 ? a->data.data + OCK_SIGNING_SECRET_LEN : NULL;
  size_t hlen = a->i1 ? a->data.len - OCK_SIGNING_SECRET_LEN : 0;
  int rc = ock_node_identity_init(n, secret, history, hlen);
  if (rc) {
    snprintf(err, cap, "node '%s': bad identity: %s", n->name, ock_strerror(rc));
    return rc;
  }
  return ock_sc_listener_start(n, OCK_SC_DEFAULT_LISTENER, NULL);
}

static void do_node_create(api_cmd *a, ock_node *unused) {
  (void)unused;
  ock_node *n;
  char err[OCK_ERRMSG_CAP] = "";
  int rc = ock_node_create(a->s1, a->s2, &n, err, sizeof err);
  if (!rc && (rc = ock_services_start_default(n)) != 0) ock_node_close(n, NULL);
  if (!rc && (rc = start_secure(a, n, err, sizeof err)) != 0) ock_node_close(n, NULL);
  if (rc) {
    ock_call_fail(a->call, rc, "%s", err[0] ? err : ock_strerror(rc));
    return;
  }
  a->call->u64 = n->id;
  snprintf(a->call->text, sizeof a->call->text, "%s", ock_node_listen_address(n));
  ock_call_finish(a->call, 0);
}

ock_call *ock_api_node_create(const char *name, const char *listen, const uint8_t *secret, const uint8_t *history,
                              size_t hlen) {
  int rc = ock_api_init();
  api_cmd *a = cmd_new(do_node_create, 0, name, listen);
  if (a && secret) {
    a->i1 = 1;
    if (ock_buf_append(&a->data, secret, OCK_SIGNING_SECRET_LEN) || ock_buf_append(&a->data, history, hlen))
      rc = OCK_ENOMEM;
  }
  if (!a || !rc) return a ? submit(a) : NULL;
  ock_call *call = a->call;
  ock_call_fail(call, rc, "cannot start the ockam_py loop thread: %s", ock_strerror(rc));
  cmd_free(a);
  return call;
}

static void do_node_close(api_cmd *a, ock_node *n) {
  if (!n) {
    ock_call_finish(a->call, 0); /* closing twice is fine */
    return;
  }
  ock_node_close(n, a->call);
}

ock_call *ock_api_node_close(uint32_t node) {
  api_cmd *a = cmd_new(do_node_close, node, NULL, NULL);
  if (!a) return NULL;
  a->need_node = 0;
  return submit(a);
}

static void do_node_identity(api_cmd *a, ock_node *n) {
  const ock_node_identity *ni = ock_node_identity_of(n);
  if (!ni) {
    ock_call_fail(a->call, OCK_ESTATE, "node '%s' has no identity", n->name);
    return;
  }
  ock_identifier_format(ni->id.identifier, a->call->text);
  if (ock_buf_append(&a->call->out, ni->id.history.data, ni->id.history.len))
    ock_call_fail(a->call, OCK_ENOMEM, "out of memory");
  else
    ock_call_finish(a->call, 0);
}

ock_call *ock_api_node_identity(uint32_t node) {
  api_cmd *a = cmd_new(do_node_identity, node, NULL, NULL);
  return a ? submit(a) : NULL;
}

static void do_start_service(api_cmd *a, ock_node *n) {
  int rc = ock_service_start(n, a->s1, a->s2);
  if (rc == OCK_EEXIST)
    ock_call_fail(a->call, rc, "node '%s' already has a worker at '%s'", n->name, a->s2 ? a->s2 : a->s1);
  else if (rc == OCK_EINVAL)
    ock_call_fail(a->call, rc, "unknown service '%s' (expected echo, uppercase or hop)", a->s1);
  else
    ock_call_finish(a->call, rc);
}

ock_call *ock_api_start_service(uint32_t node, const char *kind, const char *addr) {
  api_cmd *a = cmd_new(do_start_service, node, kind, addr);
  return a ? submit(a) : NULL;
}

/* ---- transport and messages ---- */

static void do_connect(api_cmd *a, ock_node *n) { ock_node_connect(n, a->s1, a->i1, a->call); }

ock_call *ock_api_connect(uint32_t node, const char *hostport, int timeout_ms) {
  api_cmd *a = cmd_new(do_connect, node, hostport, NULL);
  if (!a) return NULL;
  a->i1 = timeout_ms;
  return submit(a);
}

static void do_request(api_cmd *a, ock_node *n) {
  ock_request_start(n, &a->r1, a->data.data, a->data.len, a->i1, a->call);
}

ock_call *ock_api_request(uint32_t node, const ock_route *onward, const void *payload, size_t len,
                          int timeout_ms) {
  api_cmd *a = cmd_new(do_request, node, NULL, NULL);
  if (!a) return NULL;
  a->r1 = *onward;
  a->i1 = timeout_ms;
  if (ock_buf_append(&a->data, payload, len)) { /* never an empty payload in its place */
    ock_call *call = a->call;
    ock_call_fail(call, OCK_ENOMEM, "out of memory for a payload of %zu bytes", len);
    cmd_free(a);
    return call;
  }
  return submit(a);
}

static void do_send(api_cmd *a, ock_node *n) {
  ock_msg m;
  ock_msg_init(&m, a->data.data, a->data.len);
  m.onward = a->r1;
  m.ret = a->r2;
  ock_node_send(n, &m, NULL, 0);
  ock_call_finish(a->call, 0);
}

int ock_api_send(uint32_t node, const ock_route *onward, const ock_route *ret, const void *payload,
                 size_t len) {
  api_cmd *a = cmd_new(do_send, node, NULL, NULL);
  if (!a) return OCK_ENOMEM;
  a->r1 = *onward;
  a->r2 = *ret;
  ock_call *call = a->call;
  int rc = ock_buf_append(&a->data, payload, len) ? OCK_ENOMEM : ock_loop_submit(&a->cmd);
  if (rc) { /* never queued: both references are ours */
    ock_call_unref(call);
    ock_buf_free(&a->data);
    free(a);
  }
  ock_call_unref(call);
  return rc;
}

/* ---- cancelling ---- */

typedef struct {
  ock_cmd cmd;
  ock_call *target;
} cancel_cmd;

static void run_cancel(ock_cmd *c) {
  cancel_cmd *k = (cancel_cmd *)c;
  ock_call_cancel(k->target);
  ock_call_unref(k->target);
  free(k);
}

void ock_api_cancel(ock_call *c) {
  cancel_cmd *k = c ? calloc(1, sizeof *k) : NULL;
  if (!k) return; /* out of memory: the call runs to its own end (its timeout) */
  k->cmd.run = run_cancel;
  k->target = c;
  ock_call_ref(c);
  if (ock_loop_submit(&k->cmd)) { /* the loop is stopped: every call has ended */
    ock_call_unref(c);
    free(k);
  }
}

/* ---- node statistics ---- */

static void list_stats(ock_node *n, ock_buf *out) {
  size_t open = 0, connecting = 0, closing = 0;
  for (ock_tcp_conn *c = ock_tcp_conn_first(n); c; c = ock_tcp_conn_next(c)) {
    if (ock_tcp_conn_is_open(c))
      open++;
    else if (ock_tcp_conn_is_closing(c))
      closing++;
    else
      connecting++;
  }
  char text[256];
  int k = snprintf(text, sizeof text, "pending_requests %zu\ntcp_open %zu\ntcp_connecting %zu\ntcp_closing %zu\n",
                   ock_request_pending(n), open, connecting, closing);
  ock_buf_append(out, text, (size_t)k);
}

ock_call *ock_api_node_stats(uint32_t node) { return list_cmd(node, list_stats); }

/* ---- embedder workers ---- */

static void do_start_worker(api_cmd *a, ock_node *n) {
  int rc = ock_embedder_worker_start(n, a->s1);
  if (rc == OCK_EEXIST)
    ock_call_fail(a->call, rc, "node '%s' already has a worker at '%s'", n->name, a->s1);
  else
    ock_call_finish(a->call, rc);
}

ock_call *ock_api_start_worker(uint32_t node, const char *addr) {
  api_cmd *a = cmd_new(do_start_worker, node, addr, NULL);
  return a ? submit(a) : NULL;
}

static void do_stop_worker(api_cmd *a, ock_node *n) {
  if (ock_embedder_worker_stop(n, a->s1))
    ock_call_fail(a->call, OCK_ENOENT, "node '%s' has no Python worker at '%s'", n->name, a->s1);
  else
    ock_call_finish(a->call, 0);
}

ock_call *ock_api_stop_worker(uint32_t node, const char *addr) {
  api_cmd *a = cmd_new(do_stop_worker, node, addr, NULL);
  return a ? submit(a) : NULL;
}

static void list_connections(ock_node *n, ock_buf *out) {
  for (ock_tcp_conn *c = ock_tcp_conn_first(n); c; c = ock_tcp_conn_next(c)) {
    if (!ock_tcp_conn_is_open(c)) continue;
    uint64_t in, bytes_out;
    ock_tcp_conn_counters(c, &in, &bytes_out);
    char line[512];
    int k = snprintf(line, sizeof line, "%s %s %s %s %" PRIu64 " %" PRIu64 "\n", ock_tcp_conn_address(c),
                     ock_tcp_conn_is_outgoing(c) ? "outgoing" : "accepted", ock_tcp_conn_peer(c),
                     ock_tcp_conn_target(c)[0] ? ock_tcp_conn_target(c) : "-", in, bytes_out);
    ock_buf_append(out, line, (size_t)k);
  }
}

ock_call *ock_api_list_connections(uint32_t node) { return list_cmd(node, list_connections); }

static void do_close_connection(api_cmd *a, ock_node *n) {
  for (ock_tcp_conn *c = ock_tcp_conn_first(n); c; c = ock_tcp_conn_next(c)) {
    if (ock_tcp_conn_is_open(c) && !strcmp(ock_tcp_conn_address(c), a->s1)) {
      ock_tcp_conn_close(c, 0);
      ock_call_finish(a->call, 0);
      return;
    }
  }
  ock_call_fail(a->call, OCK_ENOENT, "node '%s' has no open connection %s", n->name, a->s1);
}

ock_call *ock_api_close_connection(uint32_t node, const char *addr) {
  api_cmd *a = cmd_new(do_close_connection, node, addr, NULL);
  return a ? submit(a) : NULL;
}

/* ---- UDP binds ---- */

static void do_udp_bind(api_cmd *a, ock_node *n) {
  char err[OCK_ERRMSG_CAP] = "";
  ock_udp_bind *b;
  int rc = ock_udp_bind_open(n, a->s1, &b, err, sizeof err);
  if (rc) {
    ock_call_fail(a->call, rc, "%s", err);
    return;
  }
  snprintf(a->call->text, sizeof a->call->text, "%s %s", ock_udp_bind_address(b), ock_udp_bind_local(b));
  ock_call_finish(a->call, 0);
}

ock_call *ock_api_udp_bind(uint32_t node, const char *hostport) {
  api_cmd *a = cmd_new(do_udp_bind, node, hostport, NULL);
  return a ? submit(a) : NULL;
}

static void list_udp(ock_node *n, ock_buf *out) {
  for (ock_udp_bind *b = ock_udp_bind_first(n); b; b = ock_udp_bind_next(b)) {
    ock_udp_counters c;
    ock_udp_bind_counters(b, &c);
    char line[512];
    int k = snprintf(line, sizeof line,
                     "%s %s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64
                     " %" PRIu64 "\n",
                     ock_udp_bind_address(b), ock_udp_bind_local(b), c.sent, c.received, c.datagrams_out,
                     c.datagrams_in, c.dropped_incomplete, c.dropped_too_large, c.dropped_malformed, c.dropped_send);
    ock_buf_append(out, line, (size_t)k);
  }
}

ock_call *ock_api_udp_list(uint32_t node) { return list_cmd(node, list_udp); }

/* ---- relays ---- */

static void do_relay_create(api_cmd *a, ock_node *n) {
  char err[OCK_ERRMSG_CAP] = "";
  int rc = ock_relay_create(n, a->s1, &a->r1, &a->relay_opts, err, sizeof err);
  if (rc)
    ock_call_fail(a->call, rc, "%s", err[0] ? err : ock_strerror(rc));
  else
    ock_call_finish(a->call, 0);
}

ock_call *ock_api_relay_create(uint32_t node, const char *name, const ock_route *at, const ock_relay_opts *o) {
  api_cmd *a = cmd_new(do_relay_create, node, name, NULL);
  if (!a) return NULL;
  a->r1 = *at;
  a->relay_opts = *o;
  return submit(a);
}

static void do_relay_close(api_cmd *a, ock_node *n) {
  int rc = ock_relay_close(n, a->s1);
  if (rc)
    ock_call_fail(a->call, rc, "node '%s' has no relay named '%s'", n->name, a->s1);
  else
    ock_call_finish(a->call, 0);
}

ock_call *ock_api_relay_close(uint32_t node, const char *name) {
  api_cmd *a = cmd_new(do_relay_close, node, name, NULL);
  return a ? submit(a) : NULL;
}

ock_call *ock_api_relay_list(uint32_t node) { return list_cmd(node, ock_relay_list); }

ock_call *ock_api_relay_service_list(uint32_t node) { return list_cmd(node, ock_relay_service_list); }

/* ---- portals ---- */

static void do_inlet_create(api_cmd *a, ock_node *n) {
  char err[OCK_ERRMSG_CAP] = "";
  int rc = ock_inlet_create(n, a->s1, &a->r1, a->call->text, sizeof a->call->text, err, sizeof err);
  if (rc)
    ock_call_fail(a->call, rc, "%s", err[0] ? err : ock_strerror(rc));
  else
    ock_call_finish(a->call, 0);
}

ock_call *ock_api_inlet_create(uint32_t node, const char *bind, const ock_route *to) {
  api_cmd *a = cmd_new(do_inlet_create, node, bind, NULL);
  if (!a) return NULL;
  a->r1 = *to;
  return submit(a);
}

/* Submits a with n identifiers (32 bytes each) in a->data, or fails its call. */
static ock_call *submit_with_ids(api_cmd *a, const uint8_t *ids, size_t n) {
  if (n && ock_buf_append(&a->data, ids, n * OCK_IDENTIFIER_LEN)) {
    ock_call *call = a->call;
    ock_call_fail(call, OCK_ENOMEM, "out of memory"); /* drops the loop's reference */
    cmd_free(a);
    return call;
  }
  return submit(a);
}

static void do_outlet_create(api_cmd *a, ock_node *n) {
  char err[OCK_ERRMSG_CAP] = "";
  int rc = ock_outlet_create(n, a->s1, a->s2, (const unsigned char(*)[OCK_ORIGIN_ID_LEN])a->data.data,
                             a->data.len / OCK_ORIGIN_ID_LEN, err, sizeof err);
  if (rc)
    ock_call_fail(a->call, rc, "%s", err[0] ? err : ock_strerror(rc));
  else
    ock_call_finish(a->call, 0);
}

ock_call *ock_api_outlet_create(uint32_t node, const char *target, const char *addr, const uint8_t *allow,
                                size_t n) {
  api_cmd *a = cmd_new(do_outlet_create, node, target, addr);
  return a ? submit_with_ids(a, allow, n) : NULL;
}

static void do_portal_close(api_cmd *a, ock_node *n) {
  int rc = a->i1 ? ock_inlet_close(n, a->s1) : ock_outlet_close(n, a->s1);
  if (rc)
    ock_call_fail(a->call, rc, "node '%s' has no %s '%s'", n->name, a->i1 ? "inlet at" : "outlet", a->s1);
  else
    ock_call_finish(a->call, 0);
}

ock_call *ock_api_inlet_close(uint32_t node, const char *bound) {
  api_cmd *a = cmd_new(do_portal_close, node, bound, NULL);
  if (!a) return NULL;
  a->i1 = 1;
  return submit(a);
}

ock_call *ock_api_outlet_close(uint32_t node, const char *addr) {
  api_cmd *a = cmd_new(do_portal_close, node, addr, NULL);
  return a ? submit(a) : NULL;
}

static void list_portals(ock_node *n, ock_buf *out) {
  ock_inlet_list(n, out);
  ock_outlet_list(n, out);
}

ock_call *ock_api_portal_list(uint32_t node) { return list_cmd(node, list_portals); }

/* ---- identities and secure channels ---- */

int ock_api_identity_create(uint8_t secret[32], ock_buf *history, char identifier[66]) {
  ock_signing_key k = {0};
  ock_identity id;
  ock_identity_init(&id);
  int rc = ock_signing_key_generate(&k, OCK_KEY_ED25519);
  if (!rc) rc = ock_identity_create(&id, &k, (uint64_t)time(NULL), OCK_IDENTITY_DEFAULT_TTL);
  if (!rc) rc = ock_signing_key_export(&k, secret);
  if (!rc) rc = ock_buf_append(history, id.history.data, id.history.len);
  if (!rc) ock_identifier_format(id.identifier, identifier);
  ock_identity_free(&id);
  ock_signing_key_free(&k);
  return rc;
}

int ock_api_identity_check(const uint8_t secret[32], const uint8_t *history, size_t n, char identifier[66]) {
  ock_signing_key k = {0};
  ock_identity id;
  ock_identity_init(&id);
  int rc = ock_signing_key_import(&k, OCK_KEY_ED25519, secret);
  if (!rc) rc = ock_identity_import(&id, history, n);
  if (!rc) rc = ock_identity_key_matches(&id, &k);
  if (!rc) ock_identifier_format(id.identifier, identifier);
  ock_identity_free(&id);
  ock_signing_key_free(&k);
  return rc;
}

/* The trust list in a->data (32 bytes per identifier), as a view. */
static ock_sc_trust trust_of(api_cmd *a) {
  ock_sc_trust t = {.n = a->data.len / OCK_IDENTIFIER_LEN, .ids = (uint8_t(*)[OCK_IDENTIFIER_LEN])a->data.data};
  return t;
}

static void do_sc_create(api_cmd *a, ock_node *n) {
  ock_sc_trust t = trust_of(a);
  ock_sc_initiate(n, &a->r1, &t, a->i1, a->call);
}

ock_call *ock_api_sc_create(uint32_t node, const ock_route *to, const uint8_t *authorized, size_t n, int timeout_ms) {
  api_cmd *a = cmd_new(do_sc_create, node, NULL, NULL);
  if (!a) return NULL;
  a->r1 = *to;
  a->i1 = timeout_ms;
  return submit_with_ids(a, authorized, n);
}

static void do_sc_listener_create(api_cmd *a, ock_node *n) {
  ock_sc_trust t = trust_of(a);
  int rc = ock_sc_listener_start(n, a->s1, &t);
  if (rc == OCK_EEXIST)
    ock_call_fail(a->call, rc, "node '%s' already has a worker at '%s'", n->name, a->s1);
  else
    ock_call_finish(a->call, rc);
}

ock_call *ock_api_sc_listener_create(uint32_t node, const char *addr, const uint8_t *authorized, size_t n) {
  api_cmd *a = cmd_new(do_sc_listener_create, node, addr, NULL);
  return a ? submit_with_ids(a, authorized, n) : NULL;
}

static void do_sc_stop(api_cmd *a, ock_node *n) {
  int rc = a->i1 ? ock_sc_listener_stop(n, a->s1) : ock_sc_close(n, a->s1);
  if (rc)
    ock_call_fail(a->call, rc, "node '%s' has no secure channel%s at '%s'", n->name, a->i1 ? " listener" : "", a->s1);
  else
    ock_call_finish(a->call, 0);
}

ock_call *ock_api_sc_listener_stop(uint32_t node, const char *addr) {
  api_cmd *a = cmd_new(do_sc_stop, node, addr, NULL);
  if (!a) return NULL;
  a->i1 = 1;
  return submit(a);
}

ock_call *ock_api_sc_close(uint32_t node, const char *addr) {
  api_cmd *a = cmd_new(do_sc_stop, node, addr, NULL);
  return a ? submit(a) : NULL;
}

ock_call *ock_api_sc_list(uint32_t node) { return list_cmd(node, ock_sc_list); }

ock_call *ock_api_sc_listener_list(uint32_t node) { return list_cmd(node, ock_sc_listener_list); }

/* ---- limits ---- */

static void do_set_limit(api_cmd *a, ock_node *n) {
  if (ock_limits_set(&n->limits, a->s1, a->l1))
    ock_call_fail(a->call, OCK_EINVAL, "bad limit %s=%ld (unknown name, or out of range)", a->s1, a->l1);
  else
    ock_call_finish(a->call, 0);
}

ock_call *ock_api_set_limit(uint32_t node, const char *name, long value) {
  api_cmd *a = cmd_new(do_set_limit, node, name, NULL);
  if (!a) return NULL;
  a->l1 = value;
  return submit(a);
}

static void list_limits(ock_node *n, ock_buf *out) { ock_limits_list(&n->limits, out); }

ock_call *ock_api_limits(uint32_t node) { return list_cmd(node, list_limits); }

int ock_api_parse_route(const char *text, ock_route *out, char *err, size_t errcap) {
  return ock_route_parse_text(text, out, ock_node_lookup_listener, NULL, err, errcap);
}

/* ---- lifecycle ---- */

int ock_api_init(void) {
  ock_loop_set_stop_hook(ock_node_close_all);
  ock_embedder_worker_init();
  return ock_loop_start();
}

void ock_api_shutdown(int timeout_ms) { ock_loop_stop(timeout_ms); }

void ock_api_after_fork(void) {
  ock_loop_forget_after_fork();
  ock_events_forget_after_fork();
  ock_node_forget_after_fork();
  ock_rand_after_fork();
}

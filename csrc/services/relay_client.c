/* A relay this node keeps registered at a relay node (spec 5.2, 5.3, 5.5).
 *
 * It owns its TCP connection to the relay node, registers from a random
 * `main_remote` address, then pings the relay node's echo. A closed connection,
 * a refused connect, a registration that gets no answer or pings that go
 * unanswered all lead to the same place: close the connection, wait (capped
 * exponential backoff with jitter), connect and register again. It stops only
 * when closed. */
#include "services/relay_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/bare.h"
#include "base/err.h"
#include "base/list.h"
#include "runtime/events.h"
#include "base/log.h"
#include "runtime/loop.h"
#include "base/rand.h"
#include "services/pinger.h"
#include "services/relay_service.h"
#include "transport/tcp_conn.h"

typedef struct client client;
struct client {
  ock_node *node;
  char name[OCK_RELAY_NAME_MAX + 1];
  char remote[sizeof OCK_RELAY_PREFIX + OCK_RELAY_NAME_MAX]; /* forward_to_<name> once registered */
  ock_relay_opts o;
  ock_route prefix, suffix; /* `at` around its TCP hop; suffix ends at the relay service */
  char target[OCK_ADDR_MAX_LEN + 1]; /* the TCP hop, "" when `at` has none */
  ock_tcp_conn *conn;
  ock_worker main_remote;
  char main_addr[OCK_HEX_ADDR_LEN + 1];
  uv_timer_t timer;      /* registration deadline, or the wait before retrying */
  ock_pinger pinger;     /* to the relay node's echo while registered */
  int status;
  char refusal[160]; /* this attempt's error reply from the relay node, "" when none */
  int backoff_ms;
  uint64_t attempts;
  int handles;           /* the timer and the pinger */
  ock_list link; /* in clients_state.clients */
};

typedef struct {
  ock_list clients; /* newest first */
} clients_state;

static void state_init(void *state) { ock_list_init(&((clients_state *)state)->clients); }
static void on_node_close(ock_node *n, void *state);
static const ock_node_ext_ops ops = {
    .size = sizeof(clients_state), .level = OCK_EXT_SERVICE, .init = state_init, .on_close = on_node_close};

static client *client_of(ock_list *pos) { return OCK_LIST_ENTRY(pos, client, link); }

static void connect_now(client *c);

void ock_relay_opts_default(ock_relay_opts *o) {
  *o = (ock_relay_opts){1000, 3, 5000, 5000, 100, 1500, 0};
}

static const char *status_name(int s) {
  static const char *names[] = {"connecting", "up", "down", "closed"};
  return names[s];
}

static void set_status(client *c, int status, const char *detail) {
  int changed = c->status != status;
  c->status = status;
  if (!changed) return;
  OCK_INFO("node %s: relay %s is %s%s%s", c->node->name, c->name, status_name(status), detail[0] ? ": " : "",
           detail);
  ock_event *e = ock_event_new(OCK_EV_STATUS, c->name);
  if (!e) return;
  e->node_id = c->node->id;
  e->level = status;
  e->token = c->o.serial;
  ock_buf_append(&e->payload, detail, strlen(detail));
  ock_events_push(e);
}

/* ---- the connection ---- */

static void drop_conn(client *c) {
  if (!c->conn) return;
  ock_tcp_conn_set_hooks(c->conn, NULL, NULL);
  ock_tcp_conn_close(c->conn, 0);
  c->conn = NULL;
}

static void on_retry(uv_timer_t *t) { connect_now(t->data); }

/* Every failure comes here: tear down, wait, try again. */
static void link_lost(client *c, const char *why) {
  if (c->status == OCK_RELAY_CLOSED) return;
  drop_conn(c);
  ock_pinger_stop(&c->pinger);
  set_status(c, OCK_RELAY_DOWN, why);
  int base = c->backoff_ms;
  int jitter = (int)(ock_rand_u64() % (uint64_t)(base / 2 + 1)) - base / 4; /* +-25% */
  uv_timer_start(&c->timer, on_retry, (uint64_t)(base + jitter), 0);
  c->backoff_ms = base * 2 > c->o.backoff_max_ms ? c->o.backoff_max_ms : base * 2;
}

static void on_register_timeout(uv_timer_t *t) {
  client *c = t->data;
  link_lost(c, c->refusal[0]                               ? c->refusal
               : c->conn && ock_tcp_conn_is_open(c->conn) ? "no answer to the registration"
                                                          : "connect timed out");
}

/* The registration frame: [prefix, conn, suffix] with return route [main_remote]. */
static void send_registration(client *c) {
  ock_buf payload;
  ock_buf_init(&payload);
  ock_msg m;
  ock_bare_put_string(&payload, c->name, strlen(c->name));
  ock_msg_init(&m, payload.data, payload.len);
  m.onward = c->prefix;
  int rc = c->conn ? ock_route_push_back(&m.onward, OCK_TT_LOCAL, ock_tcp_conn_address(c->conn), OCK_HEX_ADDR_LEN) : 0;
  if (!rc) rc = ock_route_append(&m.onward, &c->suffix);
  if (!rc) rc = ock_route_push_back(&m.ret, OCK_TT_LOCAL, c->main_addr, OCK_HEX_ADDR_LEN);
  if (!rc) ock_node_dispatch(c->node, &m, NULL);
  ock_buf_free(&payload);
}

static void conn_open(ock_tcp_conn *conn, void *owner) {
  (void)conn;
  send_registration(owner);
}

static void conn_closed(ock_tcp_conn *conn, void *owner, int status) {
  (void)conn;
  client *c = owner;
  c->conn = NULL; /* it is closing itself */
  char why[160];
  snprintf(why, sizeof why, "connection to %.100s: %s", c->target, status ? ock_strerror(status) : "closed");
  link_lost(c, why);
}

static const ock_tcp_conn_hooks conn_hooks = {.on_open = conn_open, .on_close = conn_closed};

static void connect_now(client *c) {
  c->attempts++;
  c->refusal[0] = 0;
  set_status(c, OCK_RELAY_CONNECTING, "");
  uv_timer_start(&c->timer, on_register_timeout, (uint64_t)(c->o.connect_timeout_ms + c->o.register_timeout_ms), 0);
  if (!c->target[0]) { /* no TCP hop of our own: register along `at` as it is */
    send_registration(c);
    return;
  }
  ock_tcp_conn *conn = ock_tcp_connect(c->node, c->target, c->o.connect_timeout_ms, NULL, &conn_hooks, c);
  /* one that failed at once has told conn_closed already; none at all: the timer retries */
  c->conn = conn && !ock_tcp_conn_is_closing(conn) ? conn : NULL;
}

/* ---- registration reply and pings ---- */

static int reply_ok(client *c, const ock_msg *m, ock_addr *remote) {
  const uint8_t *s;
  size_t n, k = strlen(c->name);
  if (m->onward.n != 1 || m->ret.n == 0) return 0;
  if (ock_bare_read_string(m->payload, m->payload_len, &s, &n) || n < k || memcmp(s + n - k, c->name, k)) return 0;
  if (!ock_utf8_valid(s, n)) return 0; /* a Rust client decodes a String and refuses this reply (5.3) */
  *remote = ock_route_at(&m->ret, m->ret.n - 1);
  return remote->tt == OCK_TT_LOCAL && remote->len < sizeof c->remote;
}

/* A reply that is not the relay's address. One that says "error: ..." (the
 * relay node refused the name) ends this attempt after this loop turn, with
 * its text as the reason, unless a valid reply comes first; anything else is
 * ignored, and the attempt times out as if unanswered. */
static void refused(client *c, const ock_msg *m) {
  const uint8_t *s;
  size_t n;
  if (ock_bare_read_string(m->payload, m->payload_len, &s, &n) || n < 7 || memcmp(s, "error: ", 7) ||
      !ock_utf8_valid(s, n) || memchr(s, 0, n)) {
    OCK_WARN("node %s: relay %s: unexpected registration reply, ignored", c->node->name, c->name);
    return;
  }
  size_t why = n - 7 > 100 ? 100 : n - 7;
  snprintf(c->refusal, sizeof c->refusal, "registration refused by the relay node: %.*s", (int)why, (const char *)s + 7);
  OCK_WARN("node %s: relay %s: %s", c->node->name, c->name, c->refusal);
  uv_timer_start(&c->timer, on_register_timeout, 0, 0);
}

static void main_remote_handle(ock_worker *w, ock_msg *m, const ock_origin *from) {
  (void)from;
  client *c = w->ctx;
  ock_addr remote;
  if (c->status != OCK_RELAY_CONNECTING) return;
  if (!reply_ok(c, m, &remote)) {
    refused(c, m);
    return;
  }
  snprintf(c->remote, sizeof c->remote, "%.*s", (int)remote.len, remote.p);
  uv_timer_stop(&c->timer);
  c->backoff_ms = c->o.backoff_min_ms;
  char detail[300];
  snprintf(detail, sizeof detail, "registered %.140s at %.140s", c->remote, c->target[0] ? c->target : "its route");
  set_status(c, OCK_RELAY_UP, detail);
  ock_pinger_start(&c->pinger);
}

/* Session pings (5.5) go to the relay node: `at` up to the relay service,
 * through our own connection when we have one. With the pinger's "echo" it
 * fits: the registration's route, which ends in a longer name, did. */
static int ping_route(ock_pinger *p, ock_route *out) {
  client *c = p->data;
  *out = c->prefix;
  if (c->conn) ock_route_push_back(out, OCK_TT_LOCAL, ock_tcp_conn_address(c->conn), OCK_HEX_ADDR_LEN);
  return 0;
}

static void ping_dead(ock_pinger *p) { link_lost(p->data, "relay node stopped answering pings"); }

/* ---- lifecycle ---- */

static clients_state *state_of(ock_node *n) { return ock_node_ext(n, &ops); }

/* Frees c once its timer and its pinger closed. */
static void client_unref(client *c) {
  if (--c->handles) return;
  ock_node *n = c->node;
  ock_list_remove(&c->link);
  free(c);
  ock_node_handle_closed(n); /* the timer's; the pinger releases its own */
}

static void on_timer_closed(uv_handle_t *h) { client_unref(h->data); }
static void on_pinger_closed(ock_pinger *p) { client_unref(p->data); }

static void client_close(client *c) {
  if (c->status == OCK_RELAY_CLOSED) return;
  set_status(c, OCK_RELAY_CLOSED, "");
  drop_conn(c);
  ock_router_remove(&c->node->router, &c->main_remote);
  uv_close((uv_handle_t *)&c->timer, on_timer_closed);
  ock_pinger_close(&c->pinger, on_pinger_closed);
}

/* client_close frees nothing before the handles' close callbacks: plain iteration. */
static void on_node_close(ock_node *n, void *state) {
  (void)n;
  clients_state *s = state;
  OCK_LIST_FOREACH(pos, &s->clients) client_close(client_of(pos));
}

static client *find(clients_state *s, const char *name) {
  if (!s) return NULL;
  OCK_LIST_FOREACH(pos, &s->clients) {
    client *c = client_of(pos);
    if (!strcmp(c->name, name) && c->status != OCK_RELAY_CLOSED) return c;
  }
  return NULL;
}

/* Splits `at` around its TCP hop and appends the relay service. */
static int split_route(client *c, const ock_route *at, char *err, size_t errcap) {
  ock_route_init(&c->prefix);
  ock_route_init(&c->suffix);
  ock_route *side = &c->prefix;
  for (size_t i = 0; i < at->n; i++) {
    ock_addr a = ock_route_at(at, i);
    if (a.tt == OCK_TT_TCP && !c->target[0]) {
      snprintf(c->target, sizeof c->target, "%.*s", (int)a.len, a.p);
      side = &c->suffix;
    } else if (a.tt != OCK_TT_LOCAL) {
      snprintf(err, errcap, "a relay route may hold one TCP hop only");
      return OCK_EROUTE;
    } else {
      ock_route_push_back(side, a.tt, a.p, a.len);
    }
  }
  if (ock_route_push_back(&c->suffix, OCK_TT_LOCAL, "static_forwarding_service", 25)) {
    snprintf(err, errcap, "relay route too long");
    return OCK_EROUTE;
  }
  return 0;
}

int ock_relay_create(ock_node *n, const char *name, const ock_route *at, const ock_relay_opts *o, char *err,
                     size_t errcap) {
  clients_state *s = state_of(n);
  size_t len = strlen(name);
  if (!s) return OCK_ENOMEM;
  if (len == 0 || len > OCK_RELAY_NAME_MAX || !ock_utf8_valid((const uint8_t *)name, len)) {
    snprintf(err, errcap, "bad relay name '%.60s': 1 to %d bytes of UTF-8", name, OCK_RELAY_NAME_MAX);
    return OCK_EINVAL;
  }
  if (find(s, name)) {
    snprintf(err, errcap, "node '%s' already has a relay named '%s'", n->name, name);
    return OCK_EEXIST;
  }
  client *c = calloc(1, sizeof *c);
  if (!c) return OCK_ENOMEM;
  c->node = n;
  snprintf(c->name, sizeof c->name, "%s", name);
  c->o = *o;
  int rc = split_route(c, at, err, errcap);
  if (rc) {
    free(c);
    return rc;
  }
  ock_rand_hex_addr(c->main_addr);
  c->main_remote = (ock_worker){.node = n, .addr = c->main_addr, .addr_len = OCK_HEX_ADDR_LEN, .fc = OCK_FC_ALL,
                                .handle = main_remote_handle, .ctx = c, .kind = "relay_client"};
  ock_router_add(&n->router, &c->main_remote);
  ock_pinger_opts po = {.interval_ms = o->ping_interval_ms, .misses = o->ping_misses, .random_payload = 1,
                        .kind = "relay_client", .route = ping_route, .on_dead = ping_dead};
  ock_pinger_init(&c->pinger, n, &po, c);
  uv_timer_init(ock_loop(), &c->timer);
  c->timer.data = c;
  c->handles = 2;
  ock_node_handle_opened(n);
  c->backoff_ms = o->backoff_min_ms;
  c->status = -1; /* so that the first status is reported */
  ock_list_insert_head(&s->clients, &c->link);
  connect_now(c);
  return 0;
}

int ock_relay_close(ock_node *n, const char *name) {
  client *c = find(state_of(n), name);
  if (!c) return OCK_ENOENT;
  client_close(c);
  return 0;
}

void ock_relay_list(ock_node *n, ock_buf *out) {
  clients_state *s = state_of(n);
  if (!s) return;
  OCK_LIST_FOREACH(pos, &s->clients) {
    client *c = client_of(pos);
    if (c->status == OCK_RELAY_CLOSED) continue;
    char line[700];
    int k = snprintf(line, sizeof line, "%s %s %s %llu %s\n", c->name, status_name(c->status),
                     c->remote[0] ? c->remote : "-", (unsigned long long)c->attempts, c->main_addr);
    ock_buf_append(out, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
  }
}

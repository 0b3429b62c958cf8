/* The relay service (spec 5.1-5.4), with replace-on-re-register (5.5): a
 * second registration of a name updates the stored route and answers again,
 * so a client that lost its connection can always reclaim its name. A relay
 * whose registering connection closes is removed: nothing could reach it.
 *
 * A name registered through a secure channel belongs to the identity at the
 * other end: only that identity can register it again (it still replaces
 * its own at once); anyone else gets an error reply. A name registered in
 * plaintext belongs to nobody, as in Ockam. */
#include "services/relay_service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/list.h"
#include "base/log.h"
#include "base/rand.h"
#include "codec/bare.h"
#include "services/relay_joins.h"

typedef struct relay relay;
typedef struct service_state service_state;
struct relay {
  ock_worker worker; /* at forward_to_<name> */
  service_state *svc;
  char addr[sizeof OCK_RELAY_PREFIX + OCK_RELAY_NAME_MAX];
  ock_route route;   /* to the registering node: the registration's return route minus its last hop */
  int owned;         /* registered through a secure channel: only `owner` may register it again */
  unsigned char owner[OCK_ORIGIN_ID_LEN];
  ock_list link;     /* in service_state.relays */
};

struct service_state {
  ock_worker service, alias;
  ock_list relays; /* newest first */
  long count;
  int started;
  ock_joins joins; /* the connections relays joined */
};

static void state_init(void *state) { ock_list_init(&((service_state *)state)->relays); }
static void on_close(ock_node *n, void *state);
static void on_origin_closed(ock_node *n, void *state, const ock_origin *o);
static const ock_node_ext_ops ops = {.size = sizeof(service_state),
                                     .level = OCK_EXT_SERVICE,
                                     .init = state_init,
                                     .on_close = on_close,
                                     .on_origin_closed = on_origin_closed};

static relay *relay_of(ock_list *pos) { return OCK_LIST_ENTRY(pos, relay, link); }

/* The node's grant: frames between two connections a relay joined. */
static int joined(void *ctx, const ock_origin *from, const ock_worker *to) {
  service_state *s = ctx;
  return ock_joins_has(&s->joins, from->address, to->addr);
}

static void relay_forward(ock_worker *w, ock_msg *m, const ock_origin *from) {
  relay *r = w->ctx;
  /* pop ourselves, prepend the stored route, leave the return route alone (5.4) */
  ock_route_pop_front(&m->onward);
  if (ock_route_prepend(&m->onward, &r->route)) {
    OCK_INFO("node %s: %s: onward route too long, dropped", w->node->name, r->addr);
    return;
  }
  if (from && r->route.n) { /* the sender's connection and the registrant's may now talk, both ways */
    ock_addr via = ock_route_at(&r->route, 0);
    if (ock_joins_add(&r->svc->joins, from->address, via.p, via.len, r)) {
      OCK_WARN("node %s: %s: out of memory, dropped", w->node->name, r->addr);
      return;
    }
  }
  ock_node_dispatch(w->node, m, from);
}

static void relay_remove(ock_node *n, service_state *s, relay *r) {
  ock_list_remove(&r->link);
  ock_router_remove(&n->router, &r->worker);
  ock_joins_drop_owner(&s->joins, r);
  s->count--;
  free(r);
}

static long per_connection(service_state *s, ock_addr first) {
  long k = 0;
  OCK_LIST_FOREACH(pos, &s->relays) {
    relay *r = relay_of(pos);
    if (r->route.n && ock_addr_eq(ock_route_at(&r->route, 0), first.tt, first.p, first.len)) k++;
  }
  return k;
}

static relay *find(service_state *s, const char *addr) {
  OCK_LIST_FOREACH(pos, &s->relays) {
    if (!strcmp(relay_of(pos)->addr, addr)) return relay_of(pos);
  }
  return NULL;
}

static relay *relay_new(ock_node *n, service_state *s, const char *addr) {
  relay *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  snprintf(r->addr, sizeof r->addr, "%s", addr);
  r->svc = s;
  /* like Ockam's, a consumer of what the listener accepted (spec 7) */
  r->worker = (ock_worker){.node = n, .addr = r->addr, .addr_len = strlen(r->addr), .fc = OCK_FC_LISTENER,
                           .handle = relay_forward, .ctx = r, .kind = "relay"};
  if (ock_router_add(&n->router, &r->worker)) {
    free(r);
    return NULL;
  }
  ock_list_insert_head(&s->relays, &r->link);
  s->count++;
  return r;
}

/* Validates the BARE name and makes the relay's address; "register" asks for a random name. */
static int relay_address(ock_worker *w, const ock_msg *m, char *addr, size_t cap) {
  const uint8_t *name;
  size_t len;
  if (ock_bare_read_string(m->payload, m->payload_len, &name, &len) || !ock_utf8_valid(name, len)) {
    OCK_WARN("node %s: relay registration whose payload is not a BARE string, ignored", w->node->name);
    return -1;
  }
  if (memchr(name, 0, len)) { /* relay addresses are C strings: "a\0b" would become forward_to_a */
    OCK_WARN("node %s: relay registration with a NUL byte in the name, ignored", w->node->name);
    return -1;
  }
  if (len == 0 || len > OCK_RELAY_NAME_MAX) {
    OCK_WARN("node %s: relay registration with a name of %zu bytes (1 to %d allowed), ignored", w->node->name, len,
             OCK_RELAY_NAME_MAX);
    return -1;
  }
  char random[OCK_HEX_ADDR_LEN + 1];
  if (len == 8 && !memcmp(name, "register", 8)) {
    ock_rand_hex_addr(random);
    name = (const uint8_t *)random;
    len = OCK_HEX_ADDR_LEN;
  }
  snprintf(addr, cap, OCK_RELAY_PREFIX "%.*s", (int)len, (const char *)name);
  return 0;
}

static int within_limits(ock_node *n, service_state *s, const ock_msg *m, relay *existing) {
  if (existing) return 1;
  if (s->count >= n->limits.max_relays) {
    OCK_WARN("node %s: relay limit of %ld reached, registration refused", n->name, n->limits.max_relays);
    return 0;
  }
  if (per_connection(s, ock_route_at(&m->ret, 0)) >= n->limits.max_relays_per_connection) {
    OCK_WARN("node %s: %ld relays already registered through %.*s, registration refused", n->name,
             n->limits.max_relays_per_connection, (int)ock_route_at(&m->ret, 0).len, ock_route_at(&m->ret, 0).p);
    return 0;
  }
  return 1;
}

/* Sends `text` (BARE) along the registration's return route, from `from_addr`. */
static void reply(ock_node *n, const ock_msg *m, const char *from_addr, const char *text) {
  ock_buf b;
  ock_buf_init(&b);
  if (ock_bare_put_string(&b, text, strlen(text)) == 0) {
    ock_msg out;
    ock_msg_init(&out, b.data, b.len);
    out.onward = m->ret;
    ock_route_push_back(&out.ret, OCK_TT_LOCAL, from_addr, strlen(from_addr));
    ock_node_dispatch(n, &out, NULL);
  }
  ock_buf_free(&b);
}

/* 1 when `from` may register r again: r belongs to nobody, or to from's identity. */
static int may_take(ock_node *n, const relay *r, const ock_msg *m, const ock_origin *from) {
  if (!r || !r->owned) return 1;
  if (from && from->identifier && !memcmp(from->identifier, r->owner, OCK_ORIGIN_ID_LEN)) return 1;
  char owner[2 * OCK_ORIGIN_ID_LEN + 2] = "I";
  for (int i = 0; i < OCK_ORIGIN_ID_LEN; i++) snprintf(owner + 1 + 2 * i, 3, "%02x", r->owner[i]);
  OCK_WARN("node %s: relay %s belongs to identity %s: registration from %s%s refused", n->name, r->addr, owner,
           from && from->identifier ? "identity " : "",
           !from ? "this node" : from->identifier ? from->peer : "a connection without a secure channel");
  char text[sizeof r->addr + 64];
  snprintf(text, sizeof text, "error: %s is registered by another identity", r->addr);
  reply(n, m, "forwarding_service", text);
  return 0;
}

/* Registration (5.2, 5.3): reply from the relay, then keep R minus its last hop. */
static void service_handle(ock_worker *w, ock_msg *m, const ock_origin *from) {
  service_state *s = w->ctx;
  ock_node *n = w->node;
  char addr[sizeof OCK_RELAY_PREFIX + OCK_RELAY_NAME_MAX];
  if (m->ret.n == 0 || relay_address(w, m, addr, sizeof addr)) return;
  relay *r = find(s, addr);
  if (!r && ock_router_find(&n->router, addr, strlen(addr))) {
    OCK_WARN("node %s: relay name '%s' is taken by another worker, ignored", n->name, addr);
    return;
  }
  if (!within_limits(n, s, m, r) || !may_take(n, r, m, from)) return;
  if (!r && !(r = relay_new(n, s, addr))) return;
  if (r->route.n) ock_joins_drop_owner(&s->joins, r); /* re-registered: joins of the old route go */
  r->route = m->ret;
  ock_route_pop_back(&r->route);
  r->owned = from && from->identifier;
  if (r->owned) memcpy(r->owner, from->identifier, OCK_ORIGIN_ID_LEN);
  char text[256];
  ock_route_format(&r->route, text, sizeof text);
  OCK_INFO("node %s: relay %s now forwards to %s%s%s", n->name, r->addr, text, r->owned ? ", owned by " : "",
           r->owned ? from->peer : "");
  reply(n, m, r->addr, r->addr);
}

static void on_close(ock_node *n, void *state) {
  service_state *s = state;
  while (!ock_list_empty(&s->relays)) relay_remove(n, s, relay_of(ock_list_first(&s->relays)));
  ock_joins_free(&s->joins);
  ock_node_set_grant(n, NULL, NULL);
  if (s->started) {
    ock_router_remove(&n->router, &s->service);
    ock_router_remove(&n->router, &s->alias);
  }
}

static void on_origin_closed(ock_node *n, void *state, const ock_origin *o) {
  service_state *s = state;
  const char *ca = o->address;
  OCK_LIST_FOREACH_SAFE(pos, &s->relays) { /* the body frees the relay it removes */
    relay *r = relay_of(pos);
    if (r->route.n && ock_addr_eq(ock_route_at(&r->route, 0), OCK_TT_LOCAL, ca, OCK_HEX_ADDR_LEN)) {
      OCK_INFO("node %s: relay %s removed: its connection %s closed", n->name, r->addr, ca);
      relay_remove(n, s, r);
    }
  }
  ock_joins_drop_address(&s->joins, ca);
}

int ock_relay_service_start(ock_node *n) {
  service_state *s = ock_node_ext(n, &ops);
  if (!s) return OCK_ENOMEM;
  if (s->started) return OCK_EEXIST;
  /* registrations come from what the listener accepted, as Ockam's (spec 7) */
  s->service = (ock_worker){.node = n, .addr = "forwarding_service", .addr_len = 18, .fc = OCK_FC_LISTENER,
                            .handle = service_handle, .ctx = s, .kind = "relay_service"};
  s->alias = s->service;
  s->alias.addr = "static_forwarding_service";
  s->alias.addr_len = 25;
  int rc = ock_router_add(&n->router, &s->service);
  if (!rc) rc = ock_router_add(&n->router, &s->alias);
  if (!rc) s->started = 1;
  if (!rc) ock_node_set_grant(n, joined, s);
  return rc;
}

void ock_relay_service_list(ock_node *n, ock_buf *out) {
  service_state *s = ock_node_ext(n, &ops);
  if (!s) return;
  OCK_LIST_FOREACH(pos, &s->relays) {
    relay *r = relay_of(pos);
    char line[OCK_ROUTE_MAX_BYTES + 400];
    char text[OCK_ROUTE_MAX_BYTES + 200];
    ock_route_format(&r->route, text, sizeof text);
    int k = snprintf(line, sizeof line, "%s %s\n", r->addr, text);
    ock_buf_append(out, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
  }
}

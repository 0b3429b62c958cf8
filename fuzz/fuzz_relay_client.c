/* The relay client (spec 5.2, 5.3; services/relay_client.c) receiving the
 * relay node's reply to its registration. Per input: a node without a
 * listener makes relay NAME at route [relay_node], where a stub worker takes
 * the registration (and with it the client's random main_remote address);
 * the client now awaits the reply. The input is then dispatched to
 * main_remote as that reply, through ock_node_dispatch, as a TCP connection
 * hands a frame to the node:
 *
 *   byte 0, bit 0 clear: the rest is the reply's payload; onward
 *       [main_remote], return [relay_node, forward_to_NAME], as a relay node
 *       sends it (5.3 step 3, after our connection's receiver pushed itself);
 *   bit 0 set: the rest is a whole CBOR TcpTransportMessage body (2.2);
 *       main_remote is put in front of its onward route;
 *   bit 1 picks NAME: "n3", or "relé-✓" (multi-byte UTF-8, where an
 *       ends-with check on bytes meets a broken character in front).
 *
 * Checked (5.3, client side): the relay becomes "up" exactly when nothing
 * is left of the onward route after main_remote, the return route is not
 * empty and its last hop is LOCAL and short enough, and the payload is a
 * BARE string (a uleb128 length that fills the payload, then UTF-8, as a
 * Rust String must be) that ends with NAME; then it reports that last hop
 * as its remote address and one "up" status event. A refused reply leaves
 * it awaiting: a valid reply afterwards makes it up. Once up, the same
 * input again changes nothing. The node is closed and freed per input, so
 * LeakSanitizer sees what the client forgets.
 *
 * The client's timers (registration deadline, pings) live on the process's
 * loop, which this target initialises and runs itself on the fuzzing thread
 * (as fuzz_stream.c does); no timer fires within an input. */
#include "fuzz.h"

#include <time.h>
#include <uv.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/rand.h"
#include "codec/bare.h"
#include "codec/message.h"
#include "node/node.h"
#include "runtime/events.h"
#include "runtime/loop.h"
#include "services/relay_client.h"
#include "services/relay_service.h"

#define RELAY_NODE "relay_node"
static const char *const NAMES[2] = {"n3", "rel\xc3\xa9-\xe2\x9c\x93"};

static struct {
  int registrations;
  char main_remote[OCK_HEX_ADDR_LEN + 1];
} stub;

static void sink(int level, const char *line) {
  (void)level;
  CHECK(strlen(line) < 512);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  ock_log_set_sink(sink, OCK_LOG_DEBUG);
  CHECK(uv_loop_init(ock_loop()) == 0);
  return 0;
}

/* The relay node: takes the registration [relay_node, static_forwarding_service]
 * with return route [main_remote] and payload BARE(name) (5.2); pings to
 * [relay_node, echo] after the relay is up are dropped. */
static void relay_node(ock_worker *w, ock_msg *m, const ock_origin *from) {
  (void)from;
  const char *name = w->ctx;
  CHECK(m->onward.n == 2);
  ock_addr next = ock_route_at(&m->onward, 1);
  if (next.len == 4 && !memcmp(next.p, "echo", 4)) return;
  CHECK(next.len == 25 && !memcmp(next.p, "static_forwarding_service", 25));
  const uint8_t *s;
  size_t len;
  CHECK(ock_bare_read_string(m->payload, m->payload_len, &s, &len) == 0);
  CHECK(len == strlen(name) && !memcmp(s, name, len));
  CHECK(m->ret.n == 1);
  ock_addr a = ock_route_at(&m->ret, 0);
  CHECK(a.tt == OCK_TT_LOCAL && a.len == OCK_HEX_ADDR_LEN);
  memcpy(stub.main_remote, a.p, OCK_HEX_ADDR_LEN);
  stub.main_remote[OCK_HEX_ADDR_LEN] = 0;
  stub.registrations++;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A node whose relay NAME awaits its reply. */
static ock_node *node_up(const char *name) {
  ock_node *n = NULL;
  char err[256];
  CHECK(ock_node_create("fuzz_relay_client", NULL, &n, err, sizeof err) == 0);
  ock_worker *w = ock_worker_new(n, RELAY_NODE, strlen(RELAY_NODE), OCK_FC_ALL, relay_node, "fuzz");
  CHECK(w != NULL);
  w->ctx = (void *)name;
  CHECK(ock_router_add(&n->router, w) == 0);
  ock_route at;
  ock_route_init(&at);
  CHECK(ock_route_push_back(&at, OCK_TT_LOCAL, RELAY_NODE, strlen(RELAY_NODE)) == 0);
  ock_relay_opts o;
  ock_relay_opts_default(&o);
  stub.registrations = 0;
  int rc = ock_relay_create(n, name, &at, &o, err, sizeof err);
  if (rc) fprintf(stderr, "fuzz_relay_client: %s\n", err);
  CHECK(rc == 0);
  CHECK(stub.registrations == 1); /* sent at once: `at` has no TCP hop */
  return n;
}

/* Closes n and runs the loop until the client's timer and pinger closed and
 * the node is freed. */
static void node_down(ock_node *n) {
  uint32_t id = n->id;
  double deadline = now() + 5;
  ock_node_close(n, NULL);
  while (uv_loop_alive(ock_loop())) {
    CHECK(now() < deadline);
    uv_run(ock_loop(), UV_RUN_NOWAIT);
  }
  CHECK(ock_node_by_id(id) == NULL);
}

/* The relay's line in ock_relay_list: "name status remote attempts main_remote". */
typedef struct {
  char status[16];
  char remote[sizeof OCK_RELAY_PREFIX + OCK_RELAY_NAME_MAX + 1];
} relay_state;

static void relay_state_of(ock_node *n, const char *name, relay_state *st) {
  ock_buf b;
  ock_buf_init(&b);
  ock_relay_list(n, &b);
  size_t k = strlen(name);
  CHECK(b.len > k + 1 && !memcmp(b.data, name, k) && b.data[k] == ' ' && b.data[b.len - 1] == '\n');
  const char *p = (const char *)b.data + k + 1, *end = (const char *)b.data + b.len;
  const char *sp = memchr(p, ' ', (size_t)(end - p));
  CHECK(sp && (size_t)(sp - p) < sizeof st->status);
  memcpy(st->status, p, (size_t)(sp - p));
  st->status[sp - p] = 0;
  p = sp + 1;
  sp = memchr(p, ' ', (size_t)(end - p)); /* a remote with a space is cut short: callers compare only plain ones */
  CHECK(sp && (size_t)(sp - p) < sizeof st->remote);
  memcpy(st->remote, p, (size_t)(sp - p));
  st->remote[sp - p] = 0;
  ock_buf_free(&b);
}

/* "up" status events since the last call (the queue is drained: nothing
 * else reads it in this process). */
static int up_events(void) {
  int up = 0;
  for (ock_event *e; (e = ock_events_pop(0)) != NULL; ock_event_free(e))
    if (e->type == OCK_EV_STATUS && e->level == OCK_RELAY_UP) up++;
  return up;
}

/* The address a relay that is up must report (a copy: dispatching may
 * rewrite the message's routes). */
typedef struct {
  char p[OCK_ADDR_MAX_LEN];
  size_t len;
} addr_copy;

/* What the client must conclude from m, as 5.3 states it; *remote gets the
 * address it must report. */
static int reply_valid(const ock_msg *m, const char *name, addr_copy *remote) {
  const uint8_t *s;
  size_t len, k = strlen(name);
  if (m->onward.n != 1 || m->ret.n == 0) return 0;
  if (ock_bare_read_string(m->payload, m->payload_len, &s, &len) || !ock_utf8_valid(s, len)) return 0;
  if (len < k || memcmp(s + len - k, name, k)) return 0;
  ock_addr last = ock_route_at(&m->ret, m->ret.n - 1);
  CHECK(last.len <= sizeof remote->p);
  memcpy(remote->p, last.p, last.len);
  remote->len = last.len;
  return last.tt == OCK_TT_LOCAL && last.len <= OCK_RELAY_NAME_MAX + strlen(OCK_RELAY_PREFIX);
}

/* The reply from the input, or 0 when the input is no message. */
static int make_reply(const uint8_t *data, size_t size, const char *name, ock_msg *m) {
  if (size == 0) return 0;
  if (data[0] & 1) {
    if (ock_msg_decode(data + 1, size - 1, m)) return 0;
    return ock_route_push_front(&m->onward, OCK_TT_LOCAL, stub.main_remote, OCK_HEX_ADDR_LEN) == 0;
  }
  char relay[sizeof OCK_RELAY_PREFIX + OCK_RELAY_NAME_MAX];
  int k = snprintf(relay, sizeof relay, "%s%s", OCK_RELAY_PREFIX, name);
  ock_msg_init(m, data + 1, size - 1);
  CHECK(ock_route_push_back(&m->onward, OCK_TT_LOCAL, stub.main_remote, OCK_HEX_ADDR_LEN) == 0);
  CHECK(ock_route_push_back(&m->ret, OCK_TT_LOCAL, RELAY_NODE, strlen(RELAY_NODE)) == 0);
  CHECK(ock_route_push_back(&m->ret, OCK_TT_LOCAL, relay, (size_t)k) == 0);
  return 1;
}

/* A remote the list shows as it is: printable, no space, no NUL. */
static int plain(const addr_copy *a) {
  for (size_t i = 0; i < a->len; i++)
    if (a->p[i] <= ' ' || a->p[i] > '~') return 0;
  return 1;
}

static void check_up(ock_node *n, const char *name, const addr_copy *remote) {
  relay_state st;
  relay_state_of(n, name, &st);
  CHECK(!strcmp(st.status, "up"));
  CHECK(up_events() == 1);
  if (plain(remote)) CHECK(strlen(st.remote) == remote->len && !memcmp(st.remote, remote->p, remote->len));
}

/* A refused reply left the client awaiting: a valid one makes it up. */
static void check_still_awaiting(ock_node *n, const char *name) {
  relay_state st;
  relay_state_of(n, name, &st);
  if (strcmp(st.status, "connecting")) {
    fprintf(stderr, "fuzz_relay_client: relay %s after a reply that is not valid (5.3)\n", st.status);
    CHECK(0);
  }
  CHECK(up_events() == 0);
  uint8_t good[1 + 1 + sizeof OCK_RELAY_PREFIX + OCK_RELAY_NAME_MAX];
  size_t len = strlen(OCK_RELAY_PREFIX) + strlen(name);
  good[0] = 0;
  good[1] = (uint8_t)len; /* < 128: one uleb128 byte */
  memcpy(good + 2, OCK_RELAY_PREFIX, strlen(OCK_RELAY_PREFIX));
  memcpy(good + 2 + strlen(OCK_RELAY_PREFIX), name, strlen(name));
  ock_msg m;
  addr_copy remote;
  CHECK(make_reply(good, 2 + len, name, &m) && reply_valid(&m, name, &remote));
  ock_node_dispatch(n, &m, NULL);
  check_up(n, name, &remote);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *name = NAMES[size && (data[0] & 2)];
  ock_node *n = node_up(name);
  CHECK(up_events() == 0);
  ock_msg m;
  addr_copy remote;
  int made = make_reply(data, size, name, &m);
  int valid = made && reply_valid(&m, name, &remote);
  if (made) {
    fuzz_check_route(&m.onward);
    fuzz_check_route(&m.ret);
    ock_node_dispatch(n, &m, NULL); /* may rewrite m's routes: checked first */
  }
  if (!valid) {
    check_still_awaiting(n, name);
  } else {
    check_up(n, name, &remote);
    /* a later message to main_remote, valid or not, changes nothing */
    relay_state before, after;
    relay_state_of(n, name, &before);
    CHECK(make_reply(data, size, name, &m));
    ock_node_dispatch(n, &m, NULL);
    relay_state_of(n, name, &after);
    CHECK(!strcmp(before.status, after.status) && !strcmp(before.remote, after.remote));
    CHECK(up_events() == 0);
  }
  node_down(n);
  return 0;
}

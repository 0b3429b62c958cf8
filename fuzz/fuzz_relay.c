/* The relay service (spec 5.2-5.5) driven through a real node: the input is the
 * payload of a registration dispatched with ock_node_dispatch to
 * [static_forwarding_service] with return route [0#<main_remote>], as a
 * registering client's frame arrives (5.2).
 *
 * Why a node without a loop: a node made with no listener owns no libuv handle
 * (its workers are plain structs in its router), so ock_node_create,
 * ock_node_dispatch and ock_node_close run synchronously on whichever thread
 * calls them; here that thread is the only one that ever touches the node, so
 * it is the node's loop thread in every sense that matters, and there is no
 * libuv, socket or timer in the way: each input is deterministic, runs in
 * microseconds, and starts from a fresh node (closed, and so freed, at the
 * end, which lets LeakSanitizer see a relay the service forgets to free).
 * The whole inbound TCP byte stream is fuzzed separately by fuzz_stream.c.
 *
 * Checked: a registration with a valid name (BARE UTF-8 string, 1..255 bytes)
 * gets exactly one reply, at main_remote, whose payload is the BARE string
 * "forward_to_<name>" and whose return route is [0#forward_to_<name>] (a name
 * with a NUL byte may instead get no reply); an invalid one gets none. Then
 * the relay forwards (5.4), a re-registration over another "connection"
 * replaces the route and answers again (5.5), and the input split at each FE FE pair registers more names over three stub
 * connections against small limits (4 in all, 2 per connection). */
#include "fuzz.h"

#include "codec/bare.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/log.h"
#include "node/node.h"
#include "services/relay_service.h"
#include "services/services.h"

#define MAIN_REMOTE "0123456789abcdef0123456789abcdef" /* the client's main_remote (5.2) */
static const char *const CONN[3] = {"c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0", "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1",
                                    "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2"};

static struct {
  int count;
  ock_buf payload; /* of the last message */
  ock_route ret;
} got;

/* main_remote: what the registering client receives. */
static void collect(ock_worker *w, ock_msg *m, const ock_origin *from) {
  (void)w, (void)from;
  fuzz_check_route(&m->onward);
  fuzz_check_route(&m->ret);
  got.count++;
  got.payload.len = 0;
  CHECK(ock_buf_append(&got.payload, m->payload, m->payload_len) == 0);
  got.ret = m->ret;
}

/* A stand-in for a TCP connection's sender: pops itself and hands the rest to
 * the node, as if the peer node had received it (a loopback link). */
static void conn_stub(ock_worker *w, ock_msg *m, const ock_origin *from) {
  (void)from;
  ock_route_pop_front(&m->onward);
  ock_node_dispatch(w->node, m, NULL);
}

static void sink(int level, const char *line) {
  (void)level;
  CHECK(strlen(line) < 512);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  /* every log line is formatted (so format bugs show) and dropped */
  ock_log_set_sink(sink, OCK_LOG_DEBUG);
  ock_buf_init(&got.payload);
  return 0;
}

static void add_worker(ock_node *n, const char *addr, ock_handler h) {
  ock_worker *w = ock_worker_new(n, addr, strlen(addr), OCK_FC_ALL, h, "fuzz");
  CHECK(w != NULL);
  CHECK(ock_router_add(&n->router, w) == 0);
}

static void dispatch(ock_node *n, const char *to, const char *to2, const char *ret0, const char *ret1,
                     const void *payload, size_t len) {
  static ock_msg m;
  ock_msg_init(&m, payload, len);
  CHECK(ock_route_push_back(&m.onward, OCK_TT_LOCAL, to, strlen(to)) == 0);
  if (to2) CHECK(ock_route_push_back(&m.onward, OCK_TT_LOCAL, to2, strlen(to2)) == 0);
  if (ret0) CHECK(ock_route_push_back(&m.ret, OCK_TT_LOCAL, ret0, strlen(ret0)) == 0);
  if (ret1) CHECK(ock_route_push_back(&m.ret, OCK_TT_LOCAL, ret1, strlen(ret1)) == 0);
  ock_node_dispatch(n, &m, NULL);
}

/* The name a valid registration asks for, or 0 (and *len 0) when invalid. */
static int expected_name(const uint8_t *p, size_t n, const uint8_t **name, size_t *len) {
  if (ock_bare_read_string(p, n, name, len) || !ock_utf8_valid(*name, *len) || *len == 0 ||
      *len > OCK_RELAY_NAME_MAX) {
    *len = 0;
    return 0;
  }
  return 1;
}

static int is_hex32(const uint8_t *p, size_t n) {
  if (n != 32) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f'))) return 0;
  return 1;
}

/* The reply to one registration, checked against the name asked for. Writes
 * the relay's address (NUL-terminated) into addr. */
static void check_reply(const uint8_t *name, size_t len, char *addr, size_t cap) {
  CHECK(got.count == 1);
  const uint8_t *s;
  size_t sl;
  CHECK(ock_bare_read_string(got.payload.data, got.payload.len, &s, &sl) == 0);
  static const char prefix[] = OCK_RELAY_PREFIX;
  size_t pl = sizeof prefix - 1;
  CHECK(sl > pl && memcmp(s, prefix, pl) == 0);
  if (len == 8 && !memcmp(name, "register", 8)) {
    CHECK(is_hex32(s + pl, sl - pl)); /* a random name (5.2) */
  } else if (sl - pl != len || memcmp(s + pl, name, len) != 0) {
    fprintf(stderr, "relay registered as '%.*s' for the requested name '", (int)sl, (const char *)s);
    for (size_t i = 0; i < len; i++) fprintf(stderr, name[i] >= 0x20 && name[i] < 0x7f ? "%c" : "\\x%02x", name[i]);
    fprintf(stderr, "' (%zu bytes): a Rust client checks ends_with(name) (5.3) and fails\n", len);
    CHECK(0);
  }
  /* return route [0#forward_to_<name>] (5.3) */
  CHECK(got.ret.n == 1);
  ock_addr a = ock_route_at(&got.ret, 0);
  CHECK(a.tt == OCK_TT_LOCAL && a.len == sl && memcmp(a.p, s, sl) == 0);
  CHECK(sl < cap);
  memcpy(addr, s, sl);
  addr[sl] = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ock_node *n = NULL;
  char err[256];
  CHECK(ock_node_create("fuzz_relay", NULL, &n, err, sizeof err) == 0);
  CHECK(ock_services_start_default(n) == 0);
  CHECK(ock_limits_set(&n->limits, "max_relays", 4) == 0);
  CHECK(ock_limits_set(&n->limits, "max_relays_per_connection", 2) == 0);
  add_worker(n, MAIN_REMOTE, collect);
  for (int i = 0; i < 3; i++) add_worker(n, CONN[i], conn_stub);

  /* 1. the registration of the brief: payload = input, return route [main_remote] */
  const uint8_t *name;
  size_t len;
  int valid = expected_name(data, size, &name, &len);
  got.count = 0;
  dispatch(n, "static_forwarding_service", NULL, MAIN_REMOTE, NULL, data, size);
  /* a name with a NUL byte may be refused (our relay addresses are C
   * strings); what it must never do is register a different, shorter name */
  if (valid && memchr(name, 0, len) && got.count == 0) valid = 0;
  char addr[sizeof OCK_RELAY_PREFIX + OCK_RELAY_NAME_MAX + 1];
  if (!valid) {
    CHECK(got.count == 0);
  } else {
    check_reply(name, len, addr, sizeof addr);
    ock_buf list;
    ock_buf_init(&list);
    ock_relay_service_list(n, &list);
    CHECK(list.len > strlen(addr));
    ock_buf_free(&list);

    /* 2. forwarding (5.4): the stored route is empty (R had one hop), so
     * [forward_to_X, echo] reaches echo, which answers main_remote */
    static const uint8_t ping[] = {0x1b, 1, 2, 3, 4, 5, 6, 7, 8};
    got.count = 0;
    dispatch(n, addr, "echo", MAIN_REMOTE, NULL, ping, sizeof ping);
    CHECK(got.count == 1 && got.payload.len == sizeof ping && !memcmp(got.payload.data, ping, sizeof ping));

    /* 3. re-registration over a connection (5.5): replaces the route, answers
     * again through that connection; forwarding then goes through it too */
    got.count = 0;
    if (len == 8 && !memcmp(name, "register", 8)) {
      dispatch(n, "forwarding_service", NULL, CONN[0], MAIN_REMOTE, data, size);
      CHECK(got.count == 1); /* a new random relay */
    } else {
      dispatch(n, "forwarding_service", NULL, CONN[0], MAIN_REMOTE, data, size);
      char again[sizeof addr];
      check_reply(name, len, again, sizeof again);
      CHECK(!strcmp(again, addr));
    }
    got.count = 0;
    dispatch(n, addr, "echo", MAIN_REMOTE, NULL, ping, sizeof ping);
    CHECK(got.count == 1);
  }

  /* 4. more registrations: the input's FE FE-separated parts, over three
   * stub connections, against the limits */
  size_t start = 0;
  int part = 0;
  for (size_t i = 0; i <= size && part < 16; i++) {
    int at_sep = i + 1 < size && data[i] == 0xfe && data[i + 1] == 0xfe;
    if (i < size && !at_sep) continue;
    if (!(part == 0 && i == size)) { /* a single part is the whole input, done above */
      got.count = 0;
      dispatch(n, part & 1 ? "forwarding_service" : "static_forwarding_service", NULL, CONN[part % 3],
               MAIN_REMOTE, data + start, i - start);
      CHECK(got.count <= 1);
      if (got.count == 1) {
        /* a relay that exists forwards: into its connection, then to echo */
        char a2[sizeof addr];
        const uint8_t *s;
        size_t sl;
        CHECK(ock_bare_read_string(got.payload.data, got.payload.len, &s, &sl) == 0 && sl < sizeof a2);
        memcpy(a2, s, sl);
        a2[sl] = 0;
        got.count = 0;
        dispatch(n, a2, "echo", MAIN_REMOTE, NULL, "x", 1);
        CHECK(got.count == 1);
      }
    }
    part++;
    if (at_sep) start = i + 2, i++;
  }

  /* 5. a relay whose stored route leads back to itself (re-registered with
   * return route [forward_to_X, main_remote]): its reply and every forward go
   * round until the node's depth limit drops them */
  if (valid && !(len == 8 && !memcmp(name, "register", 8))) {
    got.count = 0;
    dispatch(n, "static_forwarding_service", NULL, addr, MAIN_REMOTE, data, size);
    dispatch(n, addr, "echo", MAIN_REMOTE, NULL, "y", 1);
    CHECK(got.count == 0);
  }

  uint32_t id = n->id;
  ock_node_close(n, NULL); /* no handles: freed right here */
  CHECK(ock_node_by_id(id) == NULL);
  return 0;
}

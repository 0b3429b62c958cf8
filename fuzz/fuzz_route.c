/* The text a user types as a route (spec 1.3): ock_route_parse_text on a
 * NUL-terminated copy of the input, with a /node/ lookup that knows node "n1"
 * (and "quiet", a node without a listener). On success the route keeps
 * route.h's limits and formatting it and parsing the text again gives the
 * same route. The same bytes also go to ock_addr_parse and ock_hostport_split,
 * which take (pointer, length): no NUL to stop an overread there. */
#include "fuzz.h"

#include "base/err.h"
#include "api/multiaddr.h"
#include "codec/hostport.h"

static int lookups;

static int lookup(void *ctx, const char *name, size_t len, char *out, size_t cap) {
  CHECK(ctx == &lookups);
  lookups++;
  if (len == 2 && !memcmp(name, "n1", 2)) {
    snprintf(out, cap, "127.0.0.1:4000");
    return 0;
  }
  if (len == 5 && !memcmp(name, "quiet", 5)) return OCK_ENOENT;
  return OCK_ENONODE;
}

static void parse_checked(const char *s, char *err, size_t errcap) {
  static ock_route r, r2;
  static char text[8192];
  int rc = ock_route_parse_text(s, &r, lookup, &lookups, err, errcap);
  if (errcap) CHECK(strlen(err) < errcap);
  if (rc) {
    CHECK(rc == OCK_EROUTE || rc == OCK_ENONODE);
    if (errcap > 1) CHECK(err[0] != 0); /* an error always says why */
    return;
  }
  fuzz_check_route(&r);
  CHECK(r.n >= 1);
  if (*s == '/') {
    /* multiaddr in, multiaddr out, same route back */
    for (size_t i = 0; i < r.n; i++) CHECK(r.tt[i] == OCK_TT_LOCAL || r.tt[i] == OCK_TT_TCP);
    ock_route_format_multiaddr(&r, text, sizeof text);
    CHECK(strlen(text) < sizeof text - 1); /* not truncated */
    rc = ock_route_parse_text(text, &r2, lookup, &lookups, err, errcap);
    if (rc) fprintf(stderr, "re-parse of '%s' failed: %s\n", text, errcap ? err : "");
    CHECK(rc == 0);
  } else {
    /* "0#a => 1#b" in, the same form out, same route back */
    ock_route_format(&r, text, sizeof text);
    CHECK(strlen(text) < sizeof text - 1);
    rc = ock_route_parse_text(text, &r2, lookup, &lookups, err, errcap);
    if (rc) fprintf(stderr, "re-parse of '%s' failed: %s\n", text, errcap ? err : "");
    CHECK(rc == 0);
  }
  if (!fuzz_route_eq(&r, &r2)) {
    fprintf(stderr, "route of '%s' changed when formatted as '%s'\n", s, text);
    CHECK(0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;

  char err[256];
  parse_checked(s, err, sizeof err);
  char tiny[5];
  parse_checked(s, tiny, sizeof tiny); /* error text truncated, never overrun */
  parse_checked(s, tiny, 0);
  free(s);

  /* exact-size heap copy of the raw bytes, no terminator */
  char *raw = malloc(size ? size : 1);
  if (!raw) return 0;
  memcpy(raw, data, size);
  uint8_t tt;
  const char *p;
  size_t len;
  if (ock_addr_parse(raw, size, &tt, &p, &len) == 0) {
    CHECK(len >= 1 && len <= OCK_ADDR_MAX_LEN);
    CHECK(fuzz_within(p, len, raw, size));
    CHECK(memchr(p, '#', len) == NULL);
  }
  char host[300], small[8];
  int port = -1;
  if (ock_hostport_split(raw, size, host, sizeof host, &port) == 0) {
    CHECK(strlen(host) < sizeof host);
    CHECK(port >= 0 && port <= 65535);
  }
  port = -1;
  if (ock_hostport_split(raw, size, small, sizeof small, &port) == 0) {
    CHECK(strlen(small) < sizeof small);
    CHECK(port >= 0 && port <= 65535);
  }
  free(raw);
  return 0;
}

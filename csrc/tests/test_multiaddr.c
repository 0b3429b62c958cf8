/* Route text and multiaddrs users type (multiaddr.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "api/multiaddr.h"
#include "codec/hostport.h"
#include "test.h"

#define HEX32 "603b62d245c9119d584ba3d874eb8108"

static int parse(const char *s, ock_route *r, char *err, size_t errcap) {
  /* a heap copy of exactly strlen+1 bytes: valgrind catches reads past the NUL */
  char *copy = (char *)t_dup(s, strlen(s) + 1);
  int rc = ock_route_parse_text(copy, r, NULL, NULL, err, errcap);
  free(copy);
  return rc;
}

void test_ma_worker_service(void) {
  ock_route r;
  char err[256];
  CHECK_EQ(parse("/worker/" HEX32 "/service/echo", &r, err, sizeof err), 0);
  CHECK_EQ(r.n, 2);
  CHECK(t_addr_is(&r, 0, OCK_TT_LOCAL, HEX32));
  CHECK(t_addr_is(&r, 1, OCK_TT_LOCAL, "echo"));
  CHECK_EQ(parse("/service/uppercase", &r, err, sizeof err), 0);
  CHECK_EQ(r.n, 1);
  CHECK(t_addr_is(&r, 0, OCK_TT_LOCAL, "uppercase"));
  CHECK_EQ(parse("/secure/api/service/echo", &r, err, sizeof err), 0);
  CHECK_EQ(r.n, 2);
  CHECK(t_addr_is(&r, 0, OCK_TT_LOCAL, "api"));
  /* a trailing slash is harmless */
  CHECK_EQ(parse("/service/echo/", &r, err, sizeof err), 0);
  CHECK_EQ(r.n, 1);
  CHECK(t_addr_is(&r, 0, OCK_TT_LOCAL, "echo"));
}

void test_ma_ip4_tcp(void) {
  ock_route r;
  char err[256];
  CHECK_EQ(parse("/ip4/127.0.0.1/tcp/4000/service/echo", &r, err, sizeof err), 0);
  CHECK_EQ(r.n, 2);
  CHECK(t_addr_is(&r, 0, OCK_TT_TCP, "127.0.0.1:4000"));
  CHECK(t_addr_is(&r, 1, OCK_TT_LOCAL, "echo"));
  CHECK_EQ(parse("/ip4/10.0.0.1/tcp/65535", &r, err, sizeof err), 0);
  CHECK_EQ(r.n, 1);
  CHECK(t_addr_is(&r, 0, OCK_TT_TCP, "10.0.0.1:65535"));
  CHECK_EQ(parse("/ip4/1.2.3.4/tcp/1", &r, err, sizeof err), 0);
  CHECK(t_addr_is(&r, 0, OCK_TT_TCP, "1.2.3.4:1"));
}

void test_ma_ip6_tcp(void) {
  ock_route r;
  char err[256];
  CHECK_EQ(parse("/ip6/::1/tcp/5/service/x", &r, err, sizeof err), 0);
  CHECK_EQ(r.n, 2);
  CHECK(t_addr_is(&r, 0, OCK_TT_TCP, "[::1]:5"));
  CHECK(t_addr_is(&r, 1, OCK_TT_LOCAL, "x"));
  CHECK_EQ(parse("/ip6/fe80::1:2/tcp/443", &r, err, sizeof err), 0);
  CHECK(t_addr_is(&r, 0, OCK_TT_TCP, "[fe80::1:2]:443"));
}

void test_ma_dnsaddr_tcp(void) {
  ock_route r;
  char err[256];
  CHECK_EQ(parse("/dnsaddr/localhost/tcp/80", &r, err, sizeof err), 0);
  CHECK_EQ(r.n, 1);
  CHECK(t_addr_is(&r, 0, OCK_TT_TCP, "localhost:80"));
  CHECK_EQ(parse("/dnsaddr/relay.example-1.com/tcp/4000/service/forward_to_n3/service/uppercase", &r, err,
                 sizeof err),
           0);
  CHECK_EQ(r.n, 3);
  CHECK(t_addr_is(&r, 0, OCK_TT_TCP, "relay.example-1.com:4000"));
  CHECK(t_addr_is(&r, 1, OCK_TT_LOCAL, "forward_to_n3"));
  CHECK(t_addr_is(&r, 2, OCK_TT_LOCAL, "uppercase"));
}

void test_ma_route_text(void) {
  ock_route r;
  char err[256];
  CHECK_EQ(parse("0#a => 1#b", &r, err, sizeof err), 0);
  CHECK_EQ(r.n, 2);
  CHECK(t_addr_is(&r, 0, 0, "a"));
  CHECK(t_addr_is(&r, 1, 1, "b"));
  CHECK_EQ(parse("1#alice => bob", &r, err, sizeof err), 0); /* spec 1.2 */
  CHECK_EQ(r.n, 2);
  CHECK(t_addr_is(&r, 0, 1, "alice"));
  CHECK(t_addr_is(&r, 1, 0, "bob"));
  CHECK_EQ(parse("echo", &r, err, sizeof err), 0);
  CHECK_EQ(r.n, 1);
  CHECK(t_addr_is(&r, 0, 0, "echo"));
  CHECK_EQ(parse("1#127.0.0.1:4000=>0#echo", &r, err, sizeof err), 0);
  CHECK_EQ(r.n, 2);
  CHECK(t_addr_is(&r, 0, 1, "127.0.0.1:4000"));
  CHECK(t_addr_is(&r, 1, 0, "echo"));
  /* route_format output parses back to the same route */
  ock_route a, b;
  ock_route_init(&a);
  ock_route_push_back(&a, 0, HEX32, 32);
  ock_route_push_back(&a, 1, "127.0.0.1:4000", 14);
  ock_route_push_back(&a, 0, "forward_to_n3", 13);
  char text[256];
  ock_route_format(&a, text, sizeof text);
  CHECK_EQ(parse(text, &b, err, sizeof err), 0);
  CHECK(t_route_eq(&a, &b));
  /* bad pieces */
  const char *bad[] = {"0#a =>", "=> 0#a", "0#a => => 0#b", "0#a => #b", "0#a => 256#b", "a#b#c", " "};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    int rc = parse(bad[i], &r, err, sizeof err);
    if (rc != OCK_EROUTE) fprintf(stderr, "  accepted route text '%s'\n", bad[i]);
    CHECK_EQ(rc, OCK_EROUTE);
    CHECK(err[0] != 0);
  }
}

/* The error is OCK_EROUTE and the message quotes the bad part. */
static void check_error(const char *s, const char *quoted) {
  ock_route r;
  char err[256];
  memset(err, 0, sizeof err);
  int rc = parse(s, &r, err, sizeof err);
  CHECK_EQ(rc, OCK_EROUTE);
  if (!strstr(err, quoted)) fprintf(stderr, "  route '%s': message '%s' lacks '%s'\n", s, err, quoted);
  CHECK(strstr(err, quoted) != NULL);
  CHECK(strchr(err, '\n') == NULL); /* one line */
}

void test_ma_errors(void) {
  check_error("/ip4/999.1.1.1/tcp/1", "999.1.1.1");
  check_error("/ip4/1.2.3.4/tcp/0", "'0'");
  check_error("/ip4/1.2.3.4/tcp/65536", "65536");
  check_error("/ip4/1.2.3.4/tcp/80x", "80x");
  check_error("/ip4/1.2.3.4/tcp/", "tcp");
  check_error("/ip4/1.2.3.4/quic/5", "quic");
  check_error("/ip4/1.2.3.4/udp/5/ip4/1.2.3.4/tcp/6", "more than one transport");
  check_error("/ip4/1.2.3.4", "1.2.3.4");
  check_error("/ip4/::1/tcp/5", "::1");
  check_error("/ip6/1.2.3.4/tcp/5", "1.2.3.4");
  check_error("/dnsaddr/bad host/tcp/5", "bad host");
  check_error("/foo/bar", "foo");
  check_error("/service", "service");
  check_error("/service/echo/worker", "worker");
  check_error("/averyveryverylongprotocolname/x", "averyveryverylong");
  ock_route r;
  char err[256];
  err[0] = 0;
  CHECK_EQ(parse("", &r, err, sizeof err), OCK_EROUTE);
  CHECK(err[0] != 0);
  err[0] = 0;
  CHECK_EQ(parse("/", &r, err, sizeof err), OCK_EROUTE);
  CHECK(err[0] != 0);
}

void test_ma_error_buffer_small(void) {
  ock_route r;
  char err[16];
  memset(err, 'X', sizeof err);
  CHECK_EQ(ock_route_parse_text("/ip4/999.1.1.1/tcp/1", &r, NULL, NULL, err, 10), OCK_EROUTE);
  CHECK(strlen(err) == 9);
  CHECK(err[10] == 'X');
  /* no buffer at all */
  CHECK_EQ(ock_route_parse_text("/foo/bar", &r, NULL, NULL, NULL, 0), OCK_EROUTE);
  CHECK_EQ(ock_route_parse_text("/service/echo", &r, NULL, NULL, NULL, 0), 0);
  /* a very long bad part is cut, still one NUL-terminated line */
  static char longs[4096];
  memset(longs, 'a', sizeof longs - 1);
  memcpy(longs, "/ip4/", 5);
  char big[512];
  CHECK_EQ(ock_route_parse_text(longs, &r, NULL, NULL, big, sizeof big), OCK_EROUTE);
  CHECK(strlen(big) < sizeof big);
}

void test_ma_too_many_hops(void) {
  static char s[OCK_ROUTE_MAX_HOPS * 16];
  ock_route r;
  char err[256];
  s[0] = 0;
  for (int i = 0; i < OCK_ROUTE_MAX_HOPS; i++) strcat(s, "/service/a");
  CHECK_EQ(parse(s, &r, err, sizeof err), 0);
  CHECK_EQ(r.n, OCK_ROUTE_MAX_HOPS);
  strcat(s, "/service/a");
  CHECK_EQ(parse(s, &r, err, sizeof err), OCK_EROUTE);
  CHECK(err[0] != 0);
  /* the same in route text */
  s[0] = 0;
  for (int i = 0; i <= OCK_ROUTE_MAX_HOPS; i++) strcat(s, i ? " => a" : "a");
  CHECK_EQ(parse(s, &r, err, sizeof err), OCK_EROUTE);
  /* one address over OCK_ADDR_MAX_LEN */
  static char big[OCK_ADDR_MAX_LEN + 32];
  strcpy(big, "/service/");
  size_t k = strlen(big);
  memset(big + k, 'z', OCK_ADDR_MAX_LEN + 1);
  big[k + OCK_ADDR_MAX_LEN + 1] = 0;
  CHECK_EQ(parse(big, &r, err, sizeof err), OCK_EROUTE);
  big[k + OCK_ADDR_MAX_LEN] = 0;
  CHECK_EQ(parse(big, &r, err, sizeof err), 0);
  CHECK_EQ(ock_route_at(&r, 0).len, OCK_ADDR_MAX_LEN);
}

typedef struct {
  int calls;
} lookup_ctx;

static int lookup(void *ctx, const char *name, size_t len, char *out, size_t cap) {
  lookup_ctx *c = ctx;
  c->calls++;
  if (len == 2 && !memcmp(name, "n1", 2)) {
    snprintf(out, cap, "127.0.0.1:4001");
    return 0;
  }
  if (len == 2 && !memcmp(name, "n6", 2)) {
    snprintf(out, cap, "[::1]:4006");
    return 0;
  }
  if (len == 5 && !memcmp(name, "quiet", 5)) return OCK_ENOENT; /* no listener */
  return OCK_ENONODE;
}

void test_ma_node_lookup(void) {
  ock_route r;
  char err[256];
  lookup_ctx c = {0};
  CHECK_EQ(ock_route_parse_text("/node/n1/service/uppercase", &r, lookup, &c, err, sizeof err), 0);
  CHECK_EQ(c.calls, 1);
  CHECK_EQ(r.n, 2);
  CHECK(t_addr_is(&r, 0, OCK_TT_TCP, "127.0.0.1:4001"));
  CHECK(t_addr_is(&r, 1, OCK_TT_LOCAL, "uppercase"));
  CHECK_EQ(ock_route_parse_text("/node/n6", &r, lookup, &c, err, sizeof err), 0);
  CHECK(t_addr_is(&r, 0, OCK_TT_TCP, "[::1]:4006"));
  err[0] = 0;
  CHECK_EQ(ock_route_parse_text("/node/ghost/service/echo", &r, lookup, &c, err, sizeof err), OCK_ENONODE);
  CHECK(strstr(err, "ghost") != NULL);
  err[0] = 0;
  CHECK_EQ(ock_route_parse_text("/node/n1", &r, NULL, NULL, err, sizeof err), OCK_ENONODE);
  CHECK(strstr(err, "n1") != NULL);
  err[0] = 0;
  CHECK_EQ(ock_route_parse_text("/node/quiet", &r, lookup, &c, err, sizeof err), OCK_EROUTE);
  CHECK(strstr(err, "quiet") != NULL);
  CHECK_EQ(ock_route_parse_text("/node", &r, lookup, &c, err, sizeof err), OCK_EROUTE);
}

static void round_trip(const char *ma) {
  ock_route r, back;
  char err[256], out[1024];
  CHECK_EQ(parse(ma, &r, err, sizeof err), 0);
  ock_route_format_multiaddr(&r, out, sizeof out);
  if (strcmp(out, ma)) fprintf(stderr, "  multiaddr '%s' formats as '%s'\n", ma, out);
  CHECK(strcmp(out, ma) == 0);
  CHECK_EQ(parse(out, &back, err, sizeof err), 0);
  CHECK(t_route_eq(&r, &back));
}

void test_ma_format_round_trip(void) {
  round_trip("/worker/" HEX32 "/service/echo");
  round_trip("/ip4/127.0.0.1/tcp/4000/service/echo");
  round_trip("/ip6/::1/tcp/5/service/x");
  round_trip("/dnsaddr/localhost/tcp/80");
  round_trip("/ip4/10.1.2.3/tcp/4000/worker/" HEX32 "/service/forward_to_n3/service/uppercase");
  /* "/secure/X" formats as /service/X: the same route */
  ock_route r;
  char err[256], out[256];
  CHECK_EQ(parse("/secure/api", &r, err, sizeof err), 0);
  ock_route_format_multiaddr(&r, out, sizeof out);
  CHECK(strcmp(out, "/service/api") == 0);
  /* an uppercase or short hex name is a service */
  ock_route_init(&r);
  ock_route_push_back(&r, 0, "603B62D245C9119D584BA3D874EB8108", 32);
  ock_route_push_back(&r, 0, "abc", 3);
  ock_route_format_multiaddr(&r, out, sizeof out);
  CHECK(strcmp(out, "/service/603B62D245C9119D584BA3D874EB8108/service/abc") == 0);
  /* empty route, and truncation */
  ock_route_init(&r);
  memset(out, 'X', sizeof out);
  ock_route_format_multiaddr(&r, out, sizeof out);
  CHECK(out[0] == 0);
  CHECK_EQ(parse("/ip4/127.0.0.1/tcp/4000/service/echo", &r, err, sizeof err), 0);
  for (size_t cap = 1; cap < 40; cap++) {
    char small[48];
    memset(small, 'X', sizeof small);
    ock_route_format_multiaddr(&r, small, cap);
    CHECK(strlen(small) < cap);
    CHECK(small[cap] == 'X');
  }
}

void test_hostport_split(void) {
  char host[64];
  int port = -1;
  CHECK_EQ(ock_hostport_split("127.0.0.1:80", 12, host, sizeof host, &port), 0);
  CHECK(strcmp(host, "127.0.0.1") == 0);
  CHECK_EQ(port, 80);
  CHECK_EQ(ock_hostport_split("[::1]:80", 8, host, sizeof host, &port), 0);
  CHECK(strcmp(host, "::1") == 0);
  CHECK_EQ(port, 80);
  port = -1;
  CHECK_EQ(ock_hostport_split("h:0", 3, host, sizeof host, &port), 0);
  CHECK(strcmp(host, "h") == 0);
  CHECK_EQ(port, 0);
  CHECK_EQ(ock_hostport_split("localhost:65535", 15, host, sizeof host, &port), 0);
  CHECK_EQ(port, 65535);
  /* only n bytes count (not NUL-terminated input) */
  CHECK_EQ(ock_hostport_split("a:12345678", 4, host, sizeof host, &port), 0);
  CHECK_EQ(port, 12);
  const char *bad[] = {"noport", "h:70000", "h:65536", "h:", ":80", "h:-1", "h:8a", "[]:80", "h:123456", ""};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = ock_hostport_split(bad[i], strlen(bad[i]), host, sizeof host, &port);
    if (rc != OCK_EINVAL) fprintf(stderr, "  hostport_split accepted '%s'\n", bad[i]);
    CHECK_EQ(rc, OCK_EINVAL);
  }
  /* host longer than the buffer */
  char tiny[4];
  CHECK_EQ(ock_hostport_split("abcd:1", 6, tiny, sizeof tiny, &port), OCK_EINVAL);
  CHECK_EQ(ock_hostport_split("abc:1", 5, tiny, sizeof tiny, &port), 0);
  CHECK(strcmp(tiny, "abc") == 0);
}

/* /ip4/A/udp/P and /dnsaddr/H/udp/P become UDP hops (tt 2) "A:P", and format back. */
void test_ma_udp(void) {
  ock_route r;
  char err[256], out[512];
  CHECK_EQ(parse("/ip4/127.0.0.1/udp/4000/service/echo", &r, err, sizeof err), 0);
  CHECK_EQ(r.n, 2);
  CHECK(t_addr_is(&r, 0, OCK_TT_UDP, "127.0.0.1:4000"));
  CHECK(t_addr_is(&r, 1, OCK_TT_LOCAL, "echo"));
  ock_route_format_multiaddr(&r, out, sizeof out);
  CHECK(!strcmp(out, "/ip4/127.0.0.1/udp/4000/service/echo"));
  CHECK_EQ(parse("/dnsaddr/localhost/udp/7/service/hop", &r, err, sizeof err), 0);
  CHECK(t_addr_is(&r, 0, OCK_TT_UDP, "localhost:7"));
  CHECK_EQ(parse("2#10.0.0.1:9 => echo", &r, err, sizeof err), 0);
  CHECK(t_addr_is(&r, 0, OCK_TT_UDP, "10.0.0.1:9"));
  check_error("/ip4/1.2.3.4/udp/0", "'0'");
  check_error("/ip4/1.2.3.4/udp/5/ip4/1.2.3.4/udp/6", "more than one transport");
}

/* Deterministic fuzzing of the two parsers that take bytes from outside:
 * ock_msg_decode (peer bytes) and ock_route_parse_text (user text). Checks no
 * crash, sane results, and round-trip stability. Inputs are exact-size heap
 * copies so valgrind flags any read past the end.
 * OCK_FUZZ_ITERS overrides the iteration count (default 200000). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/cbor.h"
#include "base/err.h"
#include "codec/message.h"
#include "api/multiaddr.h"
#include "test.h"

#define HEX32 "603b62d245c9119d584ba3d874eb8108"

static long iterations(void) {
  const char *s = getenv("OCK_FUZZ_ITERS");
  long n = s ? strtol(s, NULL, 10) : 0;
  return n > 0 ? n : 200000;
}

static const char *corpus_hex[] = {
    "83 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f",
    "84 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f 62 7b 7d",
    "83 80 80 40",
    "9f 9f 9f 00 44 65 63 68 6f ff ff 9f 82 00 43 61 70 70 ff 46 05 68 65 6c 6c 6f ff",
    "85 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f 62 7b 7d a1 01 02",
    "86 81 82 01 4e 31 32 37 2e 30 2e 30 2e 31 3a 34 30 30 30 82 82 00 41 61 82 18 ff 41 62 40 f6 9f 81 c1 "
    "01 ff 00",
    "84 83 82 00 41 61 82 00 41 62 82 00 41 63 80 58 03 01 02 03 60",
};

/* A byte an attacker would pick: CBOR heads of interest, or anything. */
static uint8_t interesting(uint64_t *s) {
  static const uint8_t picks[] = {0x00, 0x01, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x20, 0x40, 0x41, 0x44,
                                  0x58, 0x59, 0x5b, 0x5f, 0x60, 0x62, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84,
                                  0x98, 0x9b, 0x9f, 0xa0, 0xa1, 0xbf, 0xc0, 0xf6, 0xf7, 0xfb, 0xff};
  uint64_t x = t_rand(s);
  return x & 1 ? picks[(x >> 8) % sizeof picks] : (uint8_t)(x >> 16);
}

static void mutate(ock_buf *b, uint64_t *s) {
  int times = 1 + (int)(t_rand(s) % 4);
  for (int t = 0; t < times; t++) {
    uint64_t x = t_rand(s);
    size_t at = b->len ? (size_t)((x >> 8) % b->len) : 0;
    switch (x % 6) {
    case 0:
      if (b->len) b->data[at] ^= (uint8_t)(1u << ((x >> 40) % 8));
      break;
    case 1:
      if (b->len) b->data[at] = interesting(s);
      break;
    case 2: /* insert */
      ock_buf_push(b, 0);
      memmove(b->data + at + 1, b->data + at, b->len - at - 1);
      b->data[at] = interesting(s);
      break;
    case 3: /* delete */
      if (b->len) {
        memmove(b->data + at, b->data + at + 1, b->len - at - 1);
        b->len--;
      }
      break;
    case 4: /* truncate */
      b->len = at;
      break;
    default: /* duplicate a chunk at the end */
      if (b->len) {
        size_t n = 1 + (size_t)((x >> 40) % 8);
        if (at + n > b->len) n = b->len - at;
        for (size_t i = 0; i < n; i++) ock_buf_push(b, b->data[at + i]);
      }
      break;
    }
  }
}

static void random_route(ock_route *r, uint64_t *s) {
  ock_route_init(r);
  int hops = (int)(t_rand(s) % 5);
  for (int i = 0; i < hops; i++) {
    char a[48];
    size_t n = (size_t)(t_rand(s) % sizeof a);
    for (size_t j = 0; j < n; j++) a[j] = (char)t_rand(s);
    ock_route_push_back(r, (uint8_t)(t_rand(s) % 3 == 0 ? t_rand(s) : 0), a, n);
  }
}

static int msgs_equal(const ock_msg *a, const ock_msg *b) {
  if (!t_route_eq(&a->onward, &b->onward) || !t_route_eq(&a->ret, &b->ret)) return 0;
  if (a->payload_len != b->payload_len || (a->payload_len && memcmp(a->payload, b->payload, a->payload_len)))
    return 0;
  if (!a->tracing != !b->tracing) return 0;
  return !a->tracing ||
         (a->tracing_len == b->tracing_len && !memcmp(a->tracing, b->tracing, a->tracing_len));
}

static int bad_results;

/* Decodes [p, p+n) from an exact-size copy and checks what came back. */
static void decode_and_check(const uint8_t *p, size_t n) {
  uint8_t *in = t_dup(p, n);
  ock_msg m;
  int rc = ock_msg_decode(in, n, &m);
  if (rc != 0 && rc != OCK_EPROTO && rc != OCK_ETOOBIG) {
    bad_results++;
    CHECK_EQ(rc, OCK_EPROTO);
  }
  if (rc == 0) {
    int ok = t_route_sane(&m.onward) && t_route_sane(&m.ret);
    ok = ok && m.payload >= in && m.payload_len <= n && m.payload + m.payload_len <= in + n;
    ok = ok && (!m.tracing || (m.tracing >= in && m.tracing + m.tracing_len <= in + n));
    if (!ok) bad_results++;
    CHECK(ok);
    /* what we decoded we can encode, and it decodes to the same */
    ock_buf f;
    ock_buf_init(&f);
    if (ock_frame_append(&f, &m) == 0) {
      ock_msg again;
      int rc2 = ock_msg_decode(f.data + 4, f.len - 4, &again);
      CHECK_EQ(rc2, 0);
      if (rc2 == 0 && !msgs_equal(&m, &again)) {
        bad_results++;
        CHECK(msgs_equal(&m, &again));
      }
    } else {
      CHECK(0); /* a decoded message always fits in a frame */
    }
    ock_buf_free(&f);
  }
  free(in);
}

void test_fuzz_msg_decode(void) {
  uint64_t seed = 0x1234567887654321ull;
  long iters = iterations();
  ock_buf corpus[sizeof corpus_hex / sizeof corpus_hex[0]];
  for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) {
    ock_buf_init(&corpus[i]);
    b_hex(&corpus[i], corpus_hex[i]);
  }
  ock_buf b;
  ock_buf_init(&b);
  bad_results = 0;
  for (long it = 0; it < iters && bad_results < 5; it++) {
    b.len = 0;
    uint64_t mode = t_rand(&seed) % 3;
    if (mode == 0) {
      size_t n = (size_t)(t_rand(&seed) % 48);
      for (size_t i = 0; i < n; i++) ock_buf_push(&b, interesting(&seed));
    } else if (mode == 1) {
      const ock_buf *c = &corpus[t_rand(&seed) % (sizeof corpus / sizeof corpus[0])];
      ock_buf_append(&b, c->data, c->len);
      mutate(&b, &seed);
    } else {
      /* a random valid message: must decode to itself */
      uint8_t payload[64], tracing[16];
      for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)t_rand(&seed);
      for (size_t i = 0; i < sizeof tracing; i++) tracing[i] = (uint8_t)('a' + t_rand(&seed) % 26);
      ock_msg m;
      ock_msg_init(&m, payload, (size_t)(t_rand(&seed) % sizeof payload));
      random_route(&m.onward, &seed);
      random_route(&m.ret, &seed);
      if (t_rand(&seed) & 1) {
        m.tracing = tracing;
        m.tracing_len = (size_t)(t_rand(&seed) % sizeof tracing);
      }
      CHECK_EQ(ock_frame_append(&b, &m), 0);
      ock_buf_consume(&b, 4);
      uint8_t *in = t_dup(b.data, b.len);
      ock_msg back;
      int rc = ock_msg_decode(in, b.len, &back);
      CHECK_EQ(rc, 0);
      if (rc == 0 && !msgs_equal(&m, &back)) {
        bad_results++;
        CHECK(msgs_equal(&m, &back));
      }
      free(in);
      if (t_rand(&seed) & 1) mutate(&b, &seed);
    }
    decode_and_check(b.data ? b.data : (const uint8_t *)"", b.len);
  }
  ock_buf_free(&b);
  for (size_t i = 0; i < sizeof corpus / sizeof corpus[0]; i++) ock_buf_free(&corpus[i]);
}

static int fuzz_lookup(void *ctx, const char *name, size_t len, char *out, size_t cap) {
  (void)ctx;
  if (len == 2 && !memcmp(name, "n1", 2)) {
    snprintf(out, cap, "127.0.0.1:4001");
    return 0;
  }
  if (len == 2 && !memcmp(name, "n6", 2)) {
    snprintf(out, cap, "[::1]:4006");
    return 0;
  }
  if (len == 5 && !memcmp(name, "quiet", 5)) return OCK_ENOENT;
  return OCK_ENONODE;
}

static const char *tokens[] = {
    "/", "/", "/", "ip4", "ip6", "dnsaddr", "tcp", "tcp", "udp", "service", "service", "worker", "secure", "node",
    "n1", "n6", "quiet", "ghost", "127.0.0.1", "999.1.1.1", "::1", "fe80::1", "localhost", "4000", "0", "65535",
    "65536", "echo", HEX32, "#", "0#", "1#", "256#", "=>", " => ", " ", "\t", "a", "%s", "%n%n", "[", "]",
    ":", ".", "//", "x-y_z",
};

/* Addresses that survive route text formatting and parsing unchanged. */
static int text_safe(const ock_route *r) {
  for (size_t i = 0; i < r->n; i++) {
    ock_addr a = ock_route_at(r, i);
    if (a.len == 0) return 0;
    for (size_t j = 0; j < a.len; j++) {
      char c = a.p[j];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
            c == ':' || c == '[' || c == ']' || c == '-' || c == '_'))
        return 0;
    }
  }
  return 1;
}

void test_fuzz_route_parse_text(void) {
  uint64_t seed = 0xdeadbeefcafef00dull;
  long iters = iterations();
  static char text[4096], out[32768], err[300];
  int bad = 0;
  for (long it = 0; it < iters && bad < 5; it++) {
    size_t len = 0;
    text[0] = 0;
    int ntok = (int)(t_rand(&seed) % 14);
    for (int i = 0; i < ntok; i++) {
      uint64_t x = t_rand(&seed);
      if (x % 10 == 0) { /* a random non-NUL byte */
        text[len++] = (char)(1 + (x >> 8) % 255);
      } else {
        const char *tk = tokens[(x >> 8) % (sizeof tokens / sizeof tokens[0])];
        size_t k = strlen(tk);
        memcpy(text + len, tk, k);
        len += k;
      }
    }
    text[len] = 0;
    char *in = (char *)t_dup(text, len + 1);
    ock_route r;
    size_t caps[] = {0, 1, 8, sizeof err};
    size_t errcap = caps[t_rand(&seed) % 4];
    memset(err, 'X', sizeof err);
    int use_lookup = (int)(t_rand(&seed) & 1);
    int rc = ock_route_parse_text(in, &r, use_lookup ? fuzz_lookup : NULL, NULL, errcap ? err : NULL, errcap);
    int ok = rc == 0 || rc == OCK_EROUTE || rc == OCK_ENONODE;
    if (rc == 0) {
      ok = ok && r.n >= 1 && t_route_sane(&r);
    } else if (errcap) {
      size_t e = strnlen(err, errcap);
      ok = ok && e < errcap && (errcap == 1 || e > 0);
      if (errcap < sizeof err) ok = ok && err[errcap] == 'X'; /* nothing past cap */
    }
    if (!ok) {
      bad++;
      fprintf(stderr, "  parse_text('%s') -> %d, n=%d\n", text, rc, rc == 0 ? r.n : -1);
      CHECK(ok);
    }
    if (rc == 0 && text[0] == '/') {
      /* a parsed multiaddr formats back to an equivalent multiaddr */
      ock_route back;
      ock_route_format_multiaddr(&r, out, sizeof out);
      int rc2 = ock_route_parse_text(out, &back, NULL, NULL, err, sizeof err);
      if (rc2 != 0 || !t_route_eq(&r, &back)) {
        bad++;
        fprintf(stderr, "  multiaddr '%s' -> '%s' -> %d (%s)\n", text, out, rc2, rc2 ? err : "different route");
        CHECK(rc2 == 0 && t_route_eq(&r, &back));
      }
    }
    if (rc == 0 && text_safe(&r)) {
      /* route text formats back to the same route */
      ock_route back;
      ock_route_format(&r, out, sizeof out);
      int rc2 = ock_route_parse_text(out, &back, NULL, NULL, err, sizeof err);
      if (rc2 != 0 || !t_route_eq(&r, &back)) {
        bad++;
        fprintf(stderr, "  route '%s' -> '%s' -> %d\n", text, out, rc2);
        CHECK(rc2 == 0 && t_route_eq(&r, &back));
      }
    }
    free(in);
  }
}

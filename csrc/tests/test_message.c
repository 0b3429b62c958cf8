/* TcpTransportMessage codec (message.h) against the spec's byte examples. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/bare.h"
#include "codec/cbor.h"
#include "base/err.h"
#include "codec/message.h"
#include "test.h"

#define HEX32 "603b62d245c9119d584ba3d874eb8108"
#define A32 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B32 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* Frame = u32 BE length || body. Checks the header, decodes the body from an
 * exact-size heap copy (*keep, which the views in m point into). */
static int decode_frame(const ock_buf *frame, ock_msg *m, uint8_t **keep) {
  *keep = NULL;
  if (frame->len < 4) return -1;
  const uint8_t *h = frame->data;
  size_t body = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
  CHECK_EQ(body, frame->len - 4);
  *keep = t_dup(frame->data + 4, frame->len - 4);
  return ock_msg_decode(*keep, frame->len - 4, m);
}

static int decode_hex(const char *hex, ock_msg *m, uint8_t **keep, size_t *n) {
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, hex);
  *keep = t_dup(b.data, b.len);
  *n = b.len;
  int rc = ock_msg_decode(*keep, b.len, m);
  ock_buf_free(&b);
  return rc;
}

static void check_reencode(const ock_msg *m, const ock_buf *frame) {
  ock_buf out;
  ock_buf_init(&out);
  CHECK_EQ(ock_frame_append(&out, m), 0);
  CHECK_BYTES(out.data, out.len, frame->data, frame->len);
  ock_buf_free(&out);
}

/* The payload is the BARE string s. */
static int payload_is_bare(const ock_msg *m, const char *s) {
  const uint8_t *p;
  size_t n;
  if (ock_bare_read_string(m->payload, m->payload_len, &p, &n)) return 0;
  return n == strlen(s) && !memcmp(p, s, n);
}

static const char *spec25 = "00 00 00 17 83 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f";
static const char *spec25t =
    "00 00 00 1a 84 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f 62 7b 7d";

void test_msg_spec_2_5(void) {
  ock_buf f;
  ock_msg m;
  uint8_t *keep;
  ock_buf_init(&f);
  b_hex(&f, spec25);
  CHECK_EQ(f.len, 27);
  CHECK_EQ(decode_frame(&f, &m, &keep), 0);
  CHECK_EQ(m.onward.n, 1);
  CHECK(t_addr_is(&m.onward, 0, 0, "echo"));
  CHECK_EQ(m.ret.n, 1);
  CHECK(t_addr_is(&m.ret, 0, 0, "app"));
  CHECK(payload_is_bare(&m, "hello"));
  CHECK(m.payload >= keep && m.payload + m.payload_len <= keep + f.len - 4);
  CHECK(m.tracing == NULL);
  CHECK_EQ(m.tracing_len, 0);
  check_reencode(&m, &f);
  free(keep);
  ock_buf_free(&f);

  b_hex(&f, spec25t);
  CHECK_EQ(decode_frame(&f, &m, &keep), 0);
  CHECK(t_addr_is(&m.onward, 0, 0, "echo"));
  CHECK(t_addr_is(&m.ret, 0, 0, "app"));
  CHECK(payload_is_bare(&m, "hello"));
  CHECK(m.tracing != NULL);
  CHECK_BYTES(m.tracing, m.tracing_len, "{}", 2);
  check_reencode(&m, &f); /* tracing set: array(4) */
  free(keep);
  ock_buf_free(&f);
}

void test_msg_spec_2_5_encode(void) {
  /* built from scratch, as the echo client would */
  ock_buf payload, f, want;
  ock_buf_init(&payload);
  ock_buf_init(&f);
  ock_buf_init(&want);
  CHECK_EQ(ock_bare_put_string(&payload, "hello", 5), 0);
  ock_msg m;
  ock_msg_init(&m, payload.data, payload.len);
  CHECK_EQ(m.onward.n, 0);
  CHECK(m.tracing == NULL);
  ock_route_push_back(&m.onward, 0, "echo", 4);
  ock_route_push_back(&m.ret, 0, "app", 3);
  CHECK_EQ(ock_frame_append(&f, &m), 0);
  b_hex(&want, spec25);
  CHECK_BYTES(f.data, f.len, want.data, want.len);
  /* frames append: a second one follows the first */
  m.tracing = (const uint8_t *)"{}";
  m.tracing_len = 2;
  CHECK_EQ(ock_frame_append(&f, &m), 0);
  b_hex(&want, spec25t);
  CHECK_BYTES(f.data, f.len, want.data, want.len);
  ock_buf_free(&payload);
  ock_buf_free(&f);
  ock_buf_free(&want);
}

static void spec4_request(ock_buf *f) {
  b_hex(f, "00 00 00 3d 84 81 82 00 49");
  b_str(f, "uppercase");
  b_hex(f, "81 82 00 58 20");
  b_str(f, HEX32);
  b_hex(f, "46 05");
  b_str(f, "hello");
  b_hex(f, "62 7b 7d");
}

static void spec4_reply(ock_buf *f) {
  b_hex(f, "00 00 00 3d 84 81 82 00 58 20");
  b_str(f, HEX32);
  b_hex(f, "81 82 00 49");
  b_str(f, "uppercase");
  b_hex(f, "46 05");
  b_str(f, "HELLO");
  b_hex(f, "62 7b 7d");
}

void test_msg_spec_4_uppercase(void) {
  ock_buf req, rep, out;
  ock_buf_init(&req);
  ock_buf_init(&rep);
  ock_buf_init(&out);
  spec4_request(&req);
  spec4_reply(&rep);
  CHECK_EQ(req.len, 65);
  CHECK_EQ(rep.len, 65);

  ock_msg m;
  uint8_t *keep;
  CHECK_EQ(decode_frame(&req, &m, &keep), 0);
  CHECK_EQ(m.onward.n, 1);
  CHECK(t_addr_is(&m.onward, 0, 0, "uppercase"));
  CHECK_EQ(m.ret.n, 1);
  CHECK(t_addr_is(&m.ret, 0, 0, HEX32));
  CHECK(payload_is_bare(&m, "hello"));
  CHECK_BYTES(m.tracing, m.tracing_len, "{}", 2);
  check_reencode(&m, &req);

  /* answer as the uppercase service does (spec 4) */
  const uint8_t *s;
  size_t n;
  CHECK_EQ(ock_bare_read_string(m.payload, m.payload_len, &s, &n), 0);
  char up[16] = {0};
  for (size_t i = 0; i < n && i < sizeof up - 1; i++) up[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
  ock_buf payload;
  ock_buf_init(&payload);
  ock_bare_put_string(&payload, up, n);
  ock_msg reply;
  ock_msg_init(&reply, payload.data, payload.len);
  reply.onward = m.ret;
  ock_route_push_back(&reply.ret, 0, "uppercase", 9);
  reply.tracing = (const uint8_t *)"{}";
  reply.tracing_len = 2;
  CHECK_EQ(ock_frame_append(&out, &reply), 0);
  CHECK_BYTES(out.data, out.len, rep.data, rep.len);
  free(keep);

  /* and the spec's reply decodes to what we sent */
  ock_msg back;
  CHECK_EQ(decode_frame(&rep, &back, &keep), 0);
  CHECK(t_addr_is(&back.onward, 0, 0, HEX32));
  CHECK(t_addr_is(&back.ret, 0, 0, "uppercase"));
  CHECK(payload_is_bare(&back, "HELLO"));
  check_reencode(&back, &rep);
  free(keep);
  ock_buf_free(&payload);
  ock_buf_free(&req);
  ock_buf_free(&rep);
  ock_buf_free(&out);
}

void test_msg_spec_3_1_heartbeat(void) {
  ock_buf f;
  ock_buf_init(&f);
  b_hex(&f, "00 00 00 04 83 80 80 40");
  ock_msg m;
  uint8_t *keep;
  CHECK_EQ(decode_frame(&f, &m, &keep), 0);
  CHECK_EQ(m.onward.n, 0);
  CHECK_EQ(m.ret.n, 0);
  CHECK_EQ(m.payload_len, 0);
  CHECK(m.tracing == NULL);
  check_reencode(&m, &f);
  free(keep);
  /* and the smallest frame we can build is that one */
  ock_msg e;
  ock_msg_init(&e, "", 0);
  check_reencode(&e, &f);
  ock_buf_free(&f);
}

void test_msg_spec_5_2_registration(void) {
  ock_buf f;
  ock_buf_init(&f);
  b_hex(&f, "00 00 00 48 83 81 82 00 58 19");
  b_str(&f, "static_forwarding_service");
  b_hex(&f, "81 82 00 58 20");
  b_str(&f, "0123456789abcdef0123456789abcdef");
  b_hex(&f, "43 02 6e 33");
  CHECK_EQ(f.len, 4 + 0x48);
  ock_msg m;
  uint8_t *keep;
  CHECK_EQ(decode_frame(&f, &m, &keep), 0);
  CHECK(t_addr_is(&m.onward, 0, 0, "static_forwarding_service"));
  CHECK(t_addr_is(&m.ret, 0, 0, "0123456789abcdef0123456789abcdef"));
  CHECK(payload_is_bare(&m, "n3"));
  CHECK(m.tracing == NULL);
  check_reencode(&m, &f);
  free(keep);

  /* the relay's reply (spec 5.3): payload BARE "forward_to_n3" = 0d ... */
  ock_buf payload, out;
  ock_buf_init(&payload);
  ock_buf_init(&out);
  ock_bare_put_string(&payload, "forward_to_n3", 13);
  CHECK_EQ(payload.data[0], 0x0d);
  ock_msg r;
  ock_msg_init(&r, payload.data, payload.len);
  ock_route_push_back(&r.onward, 0, "0123456789abcdef0123456789abcdef", 32);
  ock_route_push_back(&r.ret, 0, "forward_to_n3", 13);
  CHECK_EQ(ock_frame_append(&out, &r), 0);
  ock_msg back;
  CHECK_EQ(ock_msg_decode(out.data + 4, out.len - 4, &back), 0);
  CHECK(t_route_eq(&back.onward, &r.onward));
  CHECK(t_route_eq(&back.ret, &r.ret));
  CHECK(payload_is_bare(&back, "forward_to_n3"));
  ock_buf_free(&payload);
  ock_buf_free(&out);
  ock_buf_free(&f);
}

void test_msg_spec_6_3_portal(void) {
  ock_buf f;
  ock_msg m;
  uint8_t *keep;
  /* Ping */
  ock_buf_init(&f);
  b_hex(&f, "00 00 00 32 83 81 82 00 46");
  b_str(&f, "outlet");
  b_hex(&f, "81 82 00 58 20");
  b_str(&f, A32);
  b_hex(&f, "41 00");
  CHECK_EQ(decode_frame(&f, &m, &keep), 0);
  CHECK(t_addr_is(&m.onward, 0, 0, "outlet"));
  CHECK(t_addr_is(&m.ret, 0, 0, A32));
  CHECK_BYTES(m.payload, m.payload_len, "\x00", 1);
  check_reencode(&m, &f);
  free(keep);
  ock_buf_free(&f);
  /* Pong */
  b_hex(&f, "00 00 00 4d 83 81 82 00 58 20");
  b_str(&f, A32);
  b_hex(&f, "81 82 00 58 20");
  b_str(&f, B32);
  b_hex(&f, "41 01");
  CHECK_EQ(decode_frame(&f, &m, &keep), 0);
  CHECK(t_addr_is(&m.onward, 0, 0, A32));
  CHECK(t_addr_is(&m.ret, 0, 0, B32));
  CHECK_BYTES(m.payload, m.payload_len, "\x01", 1);
  check_reencode(&m, &f);
  free(keep);
  ock_buf_free(&f);
  /* Payload "hi" */
  b_hex(&f, "00 00 00 50 83 81 82 00 58 20");
  b_str(&f, B32);
  b_hex(&f, "81 82 00 58 20");
  b_str(&f, A32);
  b_hex(&f, "44 03 02 68 69");
  CHECK_EQ(decode_frame(&f, &m, &keep), 0);
  CHECK(t_addr_is(&m.onward, 0, 0, B32));
  CHECK(t_addr_is(&m.ret, 0, 0, A32));
  CHECK_BYTES(m.payload, m.payload_len, "\x03\x02hi", 4);
  check_reencode(&m, &f);
  free(keep);
  ock_buf_free(&f);
}

void test_msg_tcp_address_encoding(void) {
  /* spec 2.5: 1#127.0.0.1:4000 would be 82 01 4e "127.0.0.1:4000" */
  ock_msg m;
  ock_msg_init(&m, "x", 1);
  ock_route_push_back(&m.onward, 1, "127.0.0.1:4000", 14);
  ock_buf f, want;
  ock_buf_init(&f);
  ock_buf_init(&want);
  CHECK_EQ(ock_frame_append(&f, &m), 0);
  b_hex(&want, "00 00 00 16 83 81 82 01 4e 31 32 37 2e 30 2e 30 2e 31 3a 34 30 30 30 80 41 78");
  CHECK_BYTES(f.data, f.len, want.data, want.len);
  /* a transport type that needs a 1-byte argument, and the largest */
  ock_buf_free(&f);
  ock_buf_free(&want);
  ock_route_init(&m.onward);
  ock_route_push_back(&m.onward, 24, "a", 1);
  ock_route_push_back(&m.onward, 255, "b", 1);
  CHECK_EQ(ock_frame_append(&f, &m), 0);
  b_hex(&want, "00 00 00 0f 83 82 82 18 18 41 61 82 18 ff 41 62 80 41 78");
  CHECK_BYTES(f.data, f.len, want.data, want.len);
  ock_msg back;
  CHECK_EQ(ock_msg_decode(f.data + 4, f.len - 4, &back), 0);
  CHECK(t_addr_is(&back.onward, 0, 24, "a"));
  CHECK(t_addr_is(&back.onward, 1, 255, "b"));
  ock_buf_free(&f);
  ock_buf_free(&want);
}

void test_msg_indefinite_arrays(void) {
  ock_msg m;
  uint8_t *keep;
  size_t n;
  /* every array indefinite, tt in a wide form */
  CHECK_EQ(decode_hex("9f 9f 9f 19 00 00 44 65 63 68 6f ff ff 9f 82 00 43 61 70 70 ff 46 05 68 65 6c 6c 6f ff",
                      &m, &keep, &n),
           0);
  CHECK(t_addr_is(&m.onward, 0, 0, "echo"));
  CHECK(t_addr_is(&m.ret, 0, 0, "app"));
  CHECK(payload_is_bare(&m, "hello"));
  CHECK(m.tracing == NULL);
  free(keep);
  /* with tracing */
  CHECK_EQ(decode_hex("9f 80 9f ff 40 62 7b 7d ff", &m, &keep, &n), 0);
  CHECK_BYTES(m.tracing, m.tracing_len, "{}", 2);
  free(keep);
  /* an indefinite route of several hops */
  CHECK_EQ(decode_hex("83 9f 82 00 41 61 82 01 41 62 82 00 41 63 ff 80 40", &m, &keep, &n), 0);
  CHECK_EQ(m.onward.n, 3);
  CHECK(t_addr_is(&m.onward, 1, 1, "b"));
  free(keep);
  /* definite lengths in non-shortest form */
  CHECK_EQ(decode_hex("98 03 98 01 98 02 00 58 04 65 63 68 6f 80 59 00 00", &m, &keep, &n), 0);
  CHECK(t_addr_is(&m.onward, 0, 0, "echo"));
  CHECK_EQ(m.payload_len, 0);
  free(keep);
}

void test_msg_extra_fields_ignored(void) {
  const char *cases[] = {
      /* array(5): tracing then an unknown map */
      "85 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f 62 7b 7d a1 01 02",
      /* array(6): null tracing, then an int and an indefinite array */
      "86 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f f6 00 9f 01 ff",
      /* indefinite: tracing then two extras */
      "9f 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f 62 7b 7d 01 82 02 03 ff",
      /* nested extras, a tag, a float */
      "87 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f 62 7b 7d 81 81 81 00 c1 01 "
      "fb 3f f1 99 99 99 99 99 9a",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ock_msg m;
    uint8_t *keep;
    size_t n;
    int rc = decode_hex(cases[i], &m, &keep, &n);
    if (rc) fprintf(stderr, "  extra-fields case %zu rejected: %d\n", i, rc);
    CHECK_EQ(rc, 0);
    CHECK(t_addr_is(&m.onward, 0, 0, "echo"));
    CHECK(t_addr_is(&m.ret, 0, 0, "app"));
    CHECK(payload_is_bare(&m, "hello"));
    if (i == 1)
      CHECK(m.tracing == NULL);
    else
      CHECK_BYTES(m.tracing, m.tracing_len, "{}", 2);
    free(keep);
  }
  /* but a malformed extra field is still malformed */
  ock_msg m;
  uint8_t *keep;
  size_t n;
  CHECK_EQ(decode_hex("85 80 80 40 62 7b 7d 5f 61 61 ff", &m, &keep, &n), OCK_EPROTO);
  free(keep);
  CHECK_EQ(decode_hex("85 80 80 40 62 7b 7d 1c", &m, &keep, &n), OCK_EPROTO);
  free(keep);
}

void test_msg_tracing_null(void) {
  ock_msg m;
  uint8_t *keep;
  size_t n;
  CHECK_EQ(decode_hex("84 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f f6", &m, &keep, &n),
           0);
  CHECK(m.tracing == NULL);
  CHECK(payload_is_bare(&m, "hello"));
  /* re-encoded without the field: the spec's array(3) frame */
  ock_buf want;
  ock_buf_init(&want);
  b_hex(&want, spec25);
  check_reencode(&m, &want);
  ock_buf_free(&want);
  free(keep);
  CHECK_EQ(decode_hex("9f 80 80 40 f6 ff", &m, &keep, &n), 0);
  CHECK(m.tracing == NULL);
  free(keep);
  /* a long tracing string (spec 2.2: any reasonable length) */
  ock_buf b;
  ock_buf_init(&b);
  const char *tp = "{\"traceparent\":\"00-0123456789abcdef0123456789abcdef-0123456789abcdef-01\"}";
  b_hex(&b, "84 80 80 40");
  ock_cbor_put_text(&b, tp, strlen(tp));
  keep = t_dup(b.data, b.len);
  CHECK_EQ(ock_msg_decode(keep, b.len, &m), 0);
  CHECK_BYTES(m.tracing, m.tracing_len, tp, strlen(tp));
  CHECK(m.tracing == keep + 6);
  free(keep);
  ock_buf_free(&b);
  /* the empty string is a string, not null */
  CHECK_EQ(decode_hex("84 80 80 40 60", &m, &keep, &n), 0);
  CHECK(m.tracing != NULL);
  CHECK_EQ(m.tracing_len, 0);
  free(keep);
}

void test_msg_rejects_malformed(void) {
  struct {
    const char *hex;
    int rc;
  } cases[] = {
      {"", OCK_EPROTO},
      {"a3 80 80 40", OCK_EPROTO},                         /* map instead of array */
      {"a4 00 80 01 80 02 40 03 f6", OCK_EPROTO},          /* a map keyed like the fields */
      {"83 a0 80 40", OCK_EPROTO},                         /* route as a map */
      {"83 81 a2 00 00 01 41 61 80 40", OCK_EPROTO},       /* address as a map */
      {"80", OCK_EPROTO},                                  /* too few fields */
      {"82 80 80", OCK_EPROTO},
      {"9f 80 80 ff", OCK_EPROTO},
      {"9f 80 80 40", OCK_EPROTO},                         /* indefinite, no break */
      {"83 81 82 19 01 00 41 61 80 40", OCK_EPROTO},       /* tt = 256 */
      {"83 81 82 1b 00 00 00 01 00 00 00 00 41 61 80 40", OCK_EPROTO},
      {"83 81 82 20 41 61 80 40", OCK_EPROTO},             /* tt = -1 */
      {"83 81 82 f6 41 61 80 40", OCK_EPROTO},             /* tt = null */
      {"83 81 81 00 80 40", OCK_EPROTO},                   /* address with one field */
      {"83 81 80 80 40", OCK_EPROTO},                      /* address with none */
      {"83 81 82 00 61 61 80 40", OCK_EPROTO},             /* inner as text */
      {"83 81 82 00 5f 41 61 ff 80 40", OCK_EPROTO},       /* inner indefinite */
      {"83 81 9f 00 41 61 80 40", OCK_EPROTO},             /* indefinite address, no break */
      {"83 81 00 80 40", OCK_EPROTO},                      /* address as an int */
      {"83 00 80 40", OCK_EPROTO},                         /* route as an int */
      {"83 80 80 60", OCK_EPROTO},                         /* payload as text */
      {"83 80 80 5f 41 61 ff", OCK_EPROTO},                /* payload indefinite */
      {"83 80 80 f6", OCK_EPROTO},                         /* payload null */
      {"84 80 80 40 01", OCK_EPROTO},                      /* tracing as int */
      {"84 80 80 40 41 61", OCK_EPROTO},                   /* tracing as bytes */
      {"84 80 80 40 7f 61 61 ff", OCK_EPROTO},             /* tracing indefinite */
      {"84 80 80 40", OCK_EPROTO},                         /* announced tracing missing */
      {"83 80 80 5a ff ff ff ff", OCK_EPROTO},             /* payload longer than input */
      {"83 80 80 5b ff ff ff ff ff ff ff ff", OCK_EPROTO},
      {"83 81 82 00 5b 80 00 00 00 00 00 00 00 80 40", OCK_EPROTO},
      {"9b ff ff ff ff ff ff ff ff 80 80 40", OCK_EPROTO}, /* absurd field count */
      {"83 9b 00 00 00 00 ff ff ff ff 80 40", OCK_EPROTO}, /* absurd hop count */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ock_msg m;
    uint8_t *keep;
    size_t n;
    int rc = decode_hex(cases[i].hex, &m, &keep, &n);
    if (rc != cases[i].rc) fprintf(stderr, "  '%s' decoded with %d\n", cases[i].hex, rc);
    CHECK_EQ(rc, cases[i].rc);
    free(keep);
  }
  /* tt = 255 in the 1-byte form is fine */
  ock_msg m;
  uint8_t *keep;
  size_t n;
  CHECK_EQ(decode_hex("83 81 82 18 ff 41 61 80 40", &m, &keep, &n), 0);
  CHECK(t_addr_is(&m.onward, 0, 255, "a"));
  free(keep);
}

/* A body whose onward route has `hops` addresses of `len` bytes each. */
static void body_with_route(ock_buf *b, int hops, size_t len, int indefinite) {
  b_hex(b, "83");
  if (indefinite)
    b_hex(b, "9f");
  else
    ock_cbor_put_head(b, 4, (uint64_t)hops);
  for (int i = 0; i < hops; i++) {
    b_hex(b, "82 00");
    ock_cbor_put_head(b, 2, len);
    b_rep(b, (uint8_t)('a' + i % 26), len);
  }
  if (indefinite) b_hex(b, "ff");
  b_hex(b, "80 40");
}

void test_msg_route_limits(void) {
  struct {
    int hops;
    size_t len;
    int indefinite;
    int rc;
  } cases[] = {
      {OCK_ROUTE_MAX_HOPS, 1, 0, 0},
      {OCK_ROUTE_MAX_HOPS, 1, 1, 0},
      {OCK_ROUTE_MAX_HOPS + 1, 1, 0, OCK_ETOOBIG},
      {OCK_ROUTE_MAX_HOPS + 1, 1, 1, OCK_ETOOBIG},
      {1000, 0, 0, OCK_ETOOBIG},
      {1000, 0, 1, OCK_ETOOBIG},
      {1, OCK_ADDR_MAX_LEN, 0, 0},
      {1, OCK_ADDR_MAX_LEN + 1, 0, OCK_ETOOBIG},
      {OCK_ROUTE_MAX_BYTES / OCK_ADDR_MAX_LEN, OCK_ADDR_MAX_LEN, 0, 0},
      {5, 500, 0, OCK_ETOOBIG}, /* 2500 bytes > OCK_ROUTE_MAX_BYTES */
      {5, 500, 1, OCK_ETOOBIG},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ock_buf b;
    ock_buf_init(&b);
    body_with_route(&b, cases[i].hops, cases[i].len, cases[i].indefinite);
    uint8_t *keep = t_dup(b.data, b.len);
    ock_msg m;
    int rc = ock_msg_decode(keep, b.len, &m);
    if (rc != cases[i].rc) fprintf(stderr, "  route limits case %zu: got %d\n", i, rc);
    CHECK_EQ(rc, cases[i].rc);
    if (!rc) {
      CHECK_EQ(m.onward.n, cases[i].hops);
      CHECK(t_route_sane(&m.onward));
    }
    free(keep);
    ock_buf_free(&b);
  }
  /* the same limit on the return route */
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, "83 80");
  ock_cbor_put_head(&b, 4, OCK_ROUTE_MAX_HOPS + 1);
  for (int i = 0; i <= OCK_ROUTE_MAX_HOPS; i++) b_hex(&b, "82 00 41 72");
  b_hex(&b, "40");
  ock_msg m;
  CHECK_EQ(ock_msg_decode(b.data, b.len, &m), OCK_ETOOBIG);
  ock_buf_free(&b);
}

void test_msg_payload_1mib(void) {
  size_t n = 1u << 20;
  uint8_t *payload = malloc(n);
  if (!payload) abort();
  uint64_t seed = 42;
  for (size_t i = 0; i < n; i++) payload[i] = (uint8_t)t_rand(&seed);
  ock_msg m;
  ock_msg_init(&m, payload, n);
  ock_route_push_back(&m.onward, 0, "echo", 4);
  ock_route_push_back(&m.ret, 0, HEX32, 32);
  ock_buf f;
  ock_buf_init(&f);
  CHECK_EQ(ock_frame_append(&f, &m), 0);
  /* 1 + 8 + 37 + (5 + n) */
  CHECK_EQ(f.len, 4 + 1 + 8 + 37 + 5 + n);
  CHECK_BYTES(f.data + 4 + 1 + 8 + 37, 5, "\x5a\x00\x10\x00\x00", 5);
  ock_msg back;
  uint8_t *keep;
  CHECK_EQ(decode_frame(&f, &back, &keep), 0);
  CHECK_EQ(back.payload_len, n);
  CHECK(back.payload_len == n && memcmp(back.payload, payload, n) == 0);
  CHECK(t_route_eq(&back.onward, &m.onward));
  CHECK(t_route_eq(&back.ret, &m.ret));
  check_reencode(&back, &f);
  free(keep);
  free(payload);
  ock_buf_free(&f);
}

void test_msg_frame_too_big(void) {
  size_t n = OCK_FRAME_MAX;
  uint8_t *payload = calloc(1, n);
  if (!payload) abort();
  ock_buf f;
  ock_buf_init(&f);
  b_hex(&f, "de ad"); /* something already queued stays intact */
  ock_msg m;
  ock_msg_init(&m, payload, n);
  CHECK_EQ(ock_frame_append(&f, &m), OCK_ETOOBIG);
  CHECK_EQ(f.len, 2);
  CHECK_BYTES(f.data, f.len, "\xde\xad", 2);
  /* a large frame well under the limit is fine */
  ock_msg_init(&m, payload, n / 2);
  CHECK_EQ(ock_frame_append(&f, &m), 0);
  CHECK_EQ(f.len, 2 + 4 + 3 + 5 + n / 2);
  free(payload);
  ock_buf_free(&f);
}

/* Valid bodies; every proper prefix of each must be rejected. */
static void valid_bodies(ock_buf *out, int i) {
  switch (i) {
  case 0: b_hex(out, spec25 + 12); break; /* skip the "00 00 00 17 " header text */
  case 1: b_hex(out, spec25t + 12); break;
  case 2: spec4_request(out); ock_buf_consume(out, 4); break;
  case 3: spec4_reply(out); ock_buf_consume(out, 4); break;
  case 4: b_hex(out, "83 80 80 40"); break;
  case 5: b_hex(out, "9f 9f 9f 00 44 65 63 68 6f ff ff 9f 82 00 43 61 70 70 ff 46 05 68 65 6c 6c 6f ff"); break;
  case 6: b_hex(out, "85 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f 62 7b 7d a1 01 02");
    break;
  case 7: b_hex(out, "9f 80 80 40 f6 82 01 02 ff"); break;
  case 8: b_hex(out, "84 80 80 40 f6"); break;
  case 9: b_hex(out, "83 81 82 18 ff 59 00 01 61 80 5a 00 00 00 02 68 69"); break;
  default: break;
  }
}

void test_msg_truncations_rejected(void) {
  for (int i = 0; i < 10; i++) {
    ock_buf b;
    ock_buf_init(&b);
    valid_bodies(&b, i);
    ock_msg m;
    uint8_t *keep = t_dup(b.data, b.len);
    CHECK_EQ(ock_msg_decode(keep, b.len, &m), 0);
    free(keep);
    for (size_t k = 0; k < b.len; k++) {
      keep = t_dup(b.data, k);
      int rc = ock_msg_decode(keep, k, &m);
      if (rc == 0) fprintf(stderr, "  body %d: prefix of %zu/%zu bytes accepted\n", i, k, b.len);
      CHECK(rc == OCK_EPROTO || rc == OCK_ETOOBIG);
      free(keep);
    }
    ock_buf_free(&b);
  }
}

/* spec 2.2: Address is a minicbor-derive struct like the message itself, so
 * a Rust decoder skips extra trailing elements of an address too
 * ([0, h'echo', 7] reads as 0#echo). Only 2 fields are ever sent today, but
 * the same forward-compatibility rule applies. */
void test_msg_address_extra_fields_ignored(void) {
  const char *cases[] = {
      "83 81 83 00 44 65 63 68 6f 07 80 40",
      "83 81 84 00 44 65 63 68 6f f6 a0 80 40",
      "83 81 9f 00 44 65 63 68 6f 07 ff 80 40",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ock_msg m;
    uint8_t *keep;
    size_t n;
    int rc = decode_hex(cases[i], &m, &keep, &n);
    if (rc) fprintf(stderr, "  address with extra fields rejected (%d): %s\n", rc, cases[i]);
    CHECK_EQ(rc, 0);
    if (!rc) CHECK(t_addr_is(&m.onward, 0, 0, "echo"));
    free(keep);
  }
  /* missing fields are still an error */
  ock_msg m;
  uint8_t *keep;
  size_t n;
  CHECK_EQ(decode_hex("83 81 81 00 80 40", &m, &keep, &n), OCK_EPROTO);
  free(keep);
  CHECK_EQ(decode_hex("83 81 9f 00 ff 80 40", &m, &keep, &n), OCK_EPROTO);
  free(keep);
}

/* ock_msg_decode on a TcpTransportMessage body (the CBOR after the u32 length,
 * spec 2.2). When it decodes: the views stay inside the input, the routes keep
 * route.h's limits, and ock_frame_append + ock_msg_decode gives back the same
 * routes, payload and tracing; a second encode is byte-identical (canonical).
 * Then what a receiving connection does with a decoded message (spec 3.4):
 * push its 32-hex address on the return route, pop hops, format routes. */
#include "fuzz.h"

#include "base/buf.h"
#include "base/err.h"
#include "codec/message.h"
#include "api/multiaddr.h"

#define HEX32 "603b62d245c9119d584ba3d874eb8108"

static void check_msg_views(const ock_msg *m, const uint8_t *data, size_t size) {
  fuzz_check_route(&m->onward);
  fuzz_check_route(&m->ret);
  CHECK(fuzz_within(m->payload, m->payload_len, data, size));
  if (m->tracing) CHECK(fuzz_within(m->tracing, m->tracing_len, data, size));
  else CHECK(m->tracing_len == 0);
}

static void format_all(const ock_route *r) {
  static char big[8192], small[7];
  ock_route_format(r, big, sizeof big);
  CHECK(strlen(big) < sizeof big);
  ock_route_format(r, small, sizeof small);
  CHECK(strlen(small) < sizeof small);
  ock_route_format_multiaddr(r, big, sizeof big);
  CHECK(strlen(big) < sizeof big);
  ock_route_format_multiaddr(r, small, sizeof small);
  CHECK(strlen(small) < sizeof small);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static ock_msg m, m2, m3; /* ~8 KiB each: keep them off the stack */
  int rc = ock_msg_decode(data, size, &m);
  if (rc) {
    CHECK(rc == OCK_EPROTO || rc == OCK_ETOOBIG);
    return 0;
  }
  check_msg_views(&m, data, size);

  ock_buf b;
  ock_buf_init(&b);
  rc = ock_frame_append(&b, &m);
  CHECK(rc == 0);
  CHECK(b.len >= 4);
  size_t body = (size_t)b.data[0] << 24 | (size_t)b.data[1] << 16 | (size_t)b.data[2] << 8 | b.data[3];
  CHECK(body == b.len - 4);

  rc = ock_msg_decode(b.data + 4, body, &m2);
  CHECK(rc == 0);
  check_msg_views(&m2, b.data + 4, body);
  CHECK(fuzz_route_eq(&m.onward, &m2.onward));
  CHECK(fuzz_route_eq(&m.ret, &m2.ret));
  CHECK(m.payload_len == m2.payload_len);
  CHECK(m.payload_len == 0 || memcmp(m.payload, m2.payload, m.payload_len) == 0);
  CHECK(!m.tracing == !m2.tracing);
  CHECK(m.tracing_len == m2.tracing_len);
  CHECK(m.tracing_len == 0 || memcmp(m.tracing, m2.tracing, m.tracing_len) == 0);

  /* our encoding is canonical: encoding the decoded frame again is byte-identical */
  ock_buf b2;
  ock_buf_init(&b2);
  CHECK(ock_frame_append(&b2, &m2) == 0);
  CHECK(b2.len == b.len && memcmp(b2.data, b.data, b.len) == 0);
  /* and nothing before the frame in the buffer is touched */
  CHECK(ock_frame_append(&b2, &m2) == 0);
  CHECK(b2.len == 2 * b.len && memcmp(b2.data + b.len, b.data, b.len) == 0);
  ock_buf_free(&b2);
  ock_buf_free(&b);

  /* receiver side (spec 3.4), on a copy */
  m3 = m;
  rc = ock_route_push_front(&m3.ret, OCK_TT_LOCAL, HEX32, 32);
  CHECK(rc == 0 || rc == OCK_ETOOBIG);
  if (!rc) {
    CHECK(m3.ret.n == m.ret.n + 1);
    ock_addr a = ock_route_at(&m3.ret, 0);
    CHECK(a.tt == OCK_TT_LOCAL && a.len == 32 && !memcmp(a.p, HEX32, 32));
    ock_route_pop_front(&m3.ret);
    CHECK(fuzz_route_eq(&m3.ret, &m.ret));
  }
  fuzz_check_route(&m3.ret);
  rc = ock_route_prepend(&m3.onward, &m.ret);
  CHECK(rc == 0 || rc == OCK_ETOOBIG);
  fuzz_check_route(&m3.onward);
  rc = ock_route_append(&m3.ret, &m.onward);
  CHECK(rc == 0 || rc == OCK_ETOOBIG);
  fuzz_check_route(&m3.ret);
  if (m3.onward.n) {
    rc = ock_route_set(&m3.onward, m3.onward.n - 1, OCK_TT_LOCAL, HEX32, 32);
    CHECK(rc == 0 || rc == OCK_ETOOBIG);
    fuzz_check_route(&m3.onward);
  }
  while (m3.onward.n) {
    uint8_t before = m3.onward.n;
    ock_route_pop_front(&m3.onward);
    CHECK(m3.onward.n == before - 1);
    fuzz_check_route(&m3.onward);
  }
  ock_route_pop_back(&m3.ret);
  fuzz_check_route(&m3.ret);
  format_all(&m.onward);
  format_all(&m.ret);
  return 0;
}

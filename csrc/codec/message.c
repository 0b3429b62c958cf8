#include "codec/message.h"

#include "codec/bare.h"
#include "codec/cbor.h"
#include "base/err.h"

void ock_msg_init(ock_msg *m, const void *payload, size_t len) {
  ock_route_init(&m->onward);
  ock_route_init(&m->ret);
  m->payload = payload;
  m->payload_len = len;
  m->tracing = NULL;
  m->tracing_len = 0;
}

/* Address = [uint tt, bytes inner] */
static int decode_address(ock_cbor_reader *r, ock_route *route) {
  int64_t count;
  int rc = ock_cbor_read_array(r, &count);
  if (rc) return rc;
  if (count >= 0 && count < 2) return OCK_EPROTO;
  uint64_t tt;
  const uint8_t *p;
  size_t n;
  if ((rc = ock_cbor_read_uint(r, &tt))) return rc;
  if (tt > 255) return OCK_EPROTO;
  if ((rc = ock_cbor_read_bytes(r, &p, &n))) return rc;
  /* later fields are ignored, as minicbor does for any struct */
  for (int64_t i = 2; count < 0 || i < count; i++) {
    if (count < 0 && ock_cbor_at_break(r)) break;
    if ((rc = ock_cbor_skip(r))) return rc;
  }
  return ock_route_push_back(route, (uint8_t)tt, p, n);
}

static int decode_route(ock_cbor_reader *r, ock_route *route) {
  int64_t count;
  int rc = ock_cbor_read_array(r, &count);
  if (rc) return rc;
  ock_route_init(route);
  for (int64_t i = 0; count < 0 || i < count; i++) {
    if (count < 0 && ock_cbor_at_break(r)) return 0;
    if (i >= OCK_ROUTE_MAX_HOPS) return OCK_ETOOBIG;
    if ((rc = decode_address(r, route))) return rc;
  }
  return 0;
}

static int decode_tracing(ock_cbor_reader *r, ock_msg *m) {
  if (r->p < r->end && (*r->p == 0xf6 || *r->p == 0xf7)) { /* null, undefined */
    r->p++;
    return 0;
  }
  size_t n;
  int rc = ock_cbor_read_text(r, &m->tracing, &n);
  m->tracing_len = n;
  if (!rc && !ock_utf8_valid(m->tracing, n)) {
    /* a Rust node drops the whole connection over a text string that is not
     * UTF-8: forwarding it would hurt others, so the field is dropped here */
    m->tracing = NULL;
    m->tracing_len = 0;
  }
  return rc;
}

int ock_msg_decode(const uint8_t *p, size_t n, ock_msg *m) {
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, p, n);
  ock_msg_init(m, NULL, 0);
  int64_t count;
  int rc = ock_cbor_read_array(&r, &count);
  if (rc) return rc;
  if (count >= 0 && count < 3) return OCK_EPROTO;
  if ((rc = decode_route(&r, &m->onward))) return rc;
  if ((rc = decode_route(&r, &m->ret))) return rc;
  if ((rc = ock_cbor_read_bytes(&r, &m->payload, &m->payload_len))) return rc;
  int64_t left = count < 0 ? -1 : count - 3;
  if (left == 0 || (left < 0 && ock_cbor_at_break(&r))) return 0;
  if ((rc = decode_tracing(&r, m))) return rc;
  /* Extra trailing fields are ignored, as minicbor does (forward compatibility). */
  for (int64_t i = 1; left < 0 || i < left; i++) {
    if (left < 0 && ock_cbor_at_break(&r)) return 0;
    if ((rc = ock_cbor_skip(&r))) return rc;
  }
  return 0;
}

static int encode_route(ock_buf *b, const ock_route *route) {
  int rc = ock_cbor_put_head(b, OCK_CBOR_ARRAY, route->n);
  for (size_t i = 0; !rc && i < route->n; i++) {
    ock_addr a = ock_route_at(route, i);
    rc = ock_cbor_put_head(b, OCK_CBOR_ARRAY, 2);
    if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_UINT, a.tt);
    if (!rc) rc = ock_cbor_put_bytes(b, a.p, a.len);
  }
  return rc;
}

int ock_frame_parts(ock_buf *head, ock_buf *tail, const ock_msg *m) {
  head->len = tail->len = 0;
  int rc = ock_buf_append(head, "\0\0\0\0", 4);
  if (!rc) rc = ock_cbor_put_head(head, OCK_CBOR_ARRAY, m->tracing ? 4 : 3);
  if (!rc) rc = encode_route(head, &m->onward);
  if (!rc) rc = encode_route(head, &m->ret);
  if (!rc) rc = ock_cbor_put_head(head, OCK_CBOR_BYTES, m->payload_len);
  if (!rc && m->tracing) rc = ock_cbor_put_text(tail, m->tracing, m->tracing_len);
  if (rc) return rc;
  size_t body = head->len - 4 + m->payload_len + tail->len;
  if (body > OCK_FRAME_MAX) return OCK_ETOOBIG;
  uint8_t *h = head->data;
  h[0] = (uint8_t)(body >> 24), h[1] = (uint8_t)(body >> 16), h[2] = (uint8_t)(body >> 8), h[3] = (uint8_t)body;
  return 0;
}

int ock_frame_append(ock_buf *b, const ock_msg *m) {
  size_t start = b->len;
  size_t guess = 16 + m->payload_len + m->tracing_len + 2 * sizeof(m->onward.data);
  int rc = ock_buf_reserve(b, guess < 64 * 1024 ? guess : m->payload_len + 8192);
  if (!rc) rc = ock_buf_append(b, "\0\0\0\0", 4);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_ARRAY, m->tracing ? 4 : 3);
  if (!rc) rc = encode_route(b, &m->onward);
  if (!rc) rc = encode_route(b, &m->ret);
  if (!rc) rc = ock_cbor_put_bytes(b, m->payload, m->payload_len);
  if (!rc && m->tracing) rc = ock_cbor_put_text(b, m->tracing, m->tracing_len);
  if (rc) {
    b->len = start;
    return rc;
  }
  size_t body = b->len - start - 4;
  if (body > OCK_FRAME_MAX) {
    b->len = start;
    return OCK_ETOOBIG;
  }
  uint8_t *h = b->data + start;
  h[0] = (uint8_t)(body >> 24), h[1] = (uint8_t)(body >> 16), h[2] = (uint8_t)(body >> 8), h[3] = (uint8_t)body;
  return 0;
}

int ock_route_cbor_read(ock_cbor_reader *r, ock_route *route) { return decode_route(r, route); }

int ock_route_cbor_put(ock_buf *b, const ock_route *route) { return encode_route(b, route); }

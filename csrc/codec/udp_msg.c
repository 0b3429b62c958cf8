#include "codec/udp_msg.h"

#include "base/err.h"
#include "codec/cbor.h"

/* A uint field that must fit in `max`. */
static int read_uint_max(ock_cbor_reader *r, uint64_t max, uint64_t *v) {
  int rc = ock_cbor_read_uint(r, v);
  if (rc) return rc;
  return *v > max ? OCK_EPROTO : 0;
}

int ock_udp_part_decode(const uint8_t *p, size_t n, ock_udp_part *out) {
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, p, n);
  int64_t count;
  uint64_t version, rn, offset;
  int rc = ock_cbor_read_array(&r, &count);
  if (rc) return rc;
  if (count >= 0 && count < 5) return OCK_EPROTO;
  if ((rc = read_uint_max(&r, UINT8_MAX, &version))) return rc;
  if ((rc = read_uint_max(&r, UINT16_MAX, &rn))) return rc;
  if ((rc = read_uint_max(&r, UINT32_MAX, &offset))) return rc;
  if ((rc = ock_cbor_read_bool(&r, &out->is_last))) return rc;
  if ((rc = ock_cbor_read_bytes(&r, &out->payload, &out->payload_len))) return rc;
  /* fields a newer sender adds are skipped, as minicbor does */
  if ((rc = ock_cbor_array_finish(&r, count, 5))) return rc;
  if (r.p != r.end) return OCK_EPROTO; /* one item per datagram */
  out->version = (unsigned)version;
  out->routing_number = (uint16_t)rn;
  out->offset = (uint32_t)offset;
  return 0;
}

int ock_udp_part_encode(ock_buf *b, const ock_udp_part *part) {
  b->len = 0;
  int rc = ock_cbor_put_head(b, OCK_CBOR_ARRAY, 5);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_UINT, part->version);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_UINT, part->routing_number);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_UINT, part->offset);
  if (!rc) rc = ock_buf_push(b, part->is_last ? 0xf5 : 0xf4);
  if (!rc) rc = ock_cbor_put_bytes(b, part->payload, part->payload_len);
  return rc;
}

int ock_udp_routing_encode(ock_buf *b, const ock_msg *m) {
  b->len = 0;
  /* the TCP frame is this body behind a 4-byte length */
  int rc = ock_frame_append(b, m);
  if (!rc) ock_buf_consume(b, 4);
  return rc;
}

size_t ock_udp_part_count(size_t len) { return len == 0 ? 1 : (len + OCK_UDP_MAX_PAYLOAD - 1) / OCK_UDP_MAX_PAYLOAD; }

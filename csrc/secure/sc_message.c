#include "secure/sc_message.h"

#include "base/err.h"
#include "codec/cbor.h"
#include "codec/message.h"

/* The extent of the next item. */
static int item(ock_cbor_reader *r, const uint8_t **p, size_t *n) {
  *p = r->p;
  int rc = ock_cbor_skip(r);
  *n = (size_t)(r->p - *p);
  return rc;
}

static int read_payload(ock_cbor_reader *r, ock_sc_msg *m) {
  int64_t count;
  int rc = ock_cbor_read_array(r, &count);
  if (rc) return rc;
  if (!ock_cbor_array_more(r, count, 2)) return OCK_EPROTO; /* three required fields */
  if ((rc = ock_route_cbor_read(r, &m->onward)) || (rc = ock_route_cbor_read(r, &m->ret))) return rc;
  if ((rc = ock_cbor_read_bytes(r, &m->payload, &m->payload_len))) return rc;
  return ock_cbor_array_finish(r, count, 3);
}

static int read_refresh(ock_cbor_reader *r, ock_sc_msg *m) {
  int64_t count, creds;
  int rc = ock_cbor_read_array(r, &count);
  if (rc) return rc;
  if (!ock_cbor_array_more(r, count, 1)) return OCK_EPROTO;
  if ((rc = item(r, &m->history, &m->history_len))) return rc;
  ock_cbor_reader peek = *r;
  if ((rc = ock_cbor_read_array(&peek, &creds))) return rc; /* a Vec: an array */
  if ((rc = item(r, &m->credentials, &m->credentials_len))) return rc;
  return ock_cbor_array_finish(r, count, 2);
}

/* [variant, [fields...]]: the variant's one field is a struct; Close has none
 * and its fields item is skipped whatever it is, as minicbor skips it. */
static int read_message(ock_cbor_reader *r, ock_sc_msg *m) {
  int64_t count, fields;
  uint64_t variant;
  int rc = ock_cbor_read_array(r, &count);
  if (rc) return rc;
  if (count != 2) return OCK_EPROTO;
  if ((rc = ock_cbor_read_uint(r, &variant))) return rc;
  if (variant == OCK_SC_CLOSE) {
    m->kind = OCK_SC_CLOSE;
    return ock_cbor_skip(r);
  }
  if (variant != OCK_SC_PAYLOAD && variant != OCK_SC_REFRESH_CREDENTIALS) return OCK_EPROTO;
  m->kind = (int)variant;
  if ((rc = ock_cbor_read_array(r, &fields))) return rc;
  if (!ock_cbor_array_more(r, fields, 0)) return OCK_EPROTO;
  rc = variant == OCK_SC_PAYLOAD ? read_payload(r, m) : read_refresh(r, m);
  return rc ? rc : ock_cbor_array_finish(r, fields, 1);
}

int ock_sc_msg_decode(const uint8_t *p, size_t n, ock_sc_msg *m) {
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, p, n);
  const uint8_t *padding;
  int64_t count;
  m->payload = m->history = m->credentials = NULL;
  m->payload_len = m->history_len = m->credentials_len = 0;
  ock_route_init(&m->onward);
  ock_route_init(&m->ret);
  int rc = ock_cbor_read_array(&r, &count);
  if (rc) return rc;
  if (!ock_cbor_array_more(&r, count, 1)) return OCK_EPROTO; /* message and padding are required */
  if ((rc = read_message(&r, m))) return rc;
  if ((rc = ock_cbor_read_bytes(&r, &padding, &m->padding_len))) return rc;
  return ock_cbor_array_finish(&r, count, 2);
}

int ock_sc_msg_put_payload_head(ock_buf *b, const ock_route *onward, const ock_route *ret, size_t payload_len) {
  static const uint8_t head[] = {0x82, 0x82, OCK_SC_PAYLOAD, 0x81, 0x83}; /* padded, enum, fields, struct */
  int rc = ock_buf_append(b, head, sizeof head);
  if (!rc) rc = ock_route_cbor_put(b, onward);
  if (!rc) rc = ock_route_cbor_put(b, ret);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_BYTES, payload_len);
  return rc;
}

int ock_sc_msg_put_payload(ock_buf *b, const ock_route *onward, const ock_route *ret, const void *payload,
                           size_t n) {
  int rc = ock_sc_msg_put_payload_head(b, onward, ret, n);
  if (!rc) rc = ock_buf_append(b, payload, n);
  if (!rc) rc = ock_buf_append(b, OCK_SC_PAYLOAD_TAIL, OCK_SC_PAYLOAD_TAIL_LEN);
  return rc;
}

int ock_sc_msg_put_close(ock_buf *b) {
  static const uint8_t close[] = {0x82, 0x82, OCK_SC_CLOSE, 0x80, 0x40};
  return ock_buf_append(b, close, sizeof close);
}

int ock_sc_msg_put_refresh(ock_buf *b, const ock_identity *id) {
  static const uint8_t head[] = {0x82, 0x82, OCK_SC_REFRESH_CREDENTIALS, 0x81, 0x82};
  int rc = ock_buf_append(b, head, sizeof head);
  if (!rc) rc = ock_buf_append(b, id->history.data, id->history.len);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_ARRAY, 0);
  if (!rc) rc = ock_buf_append(b, OCK_SC_PAYLOAD_TAIL, OCK_SC_PAYLOAD_TAIL_LEN);
  return rc;
}

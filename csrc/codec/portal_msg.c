#include "codec/portal_msg.h"

#include <string.h>

#include "codec/bare.h"
#include "base/err.h"

/* [has_counter:u8 counter:u16 LE] after a message: as Ockam reads it, a
 * counter only when all three bytes are there and the first is 1. */
static void decode_counter(const uint8_t *p, size_t n, ock_portal_msg *m) {
  if (n < OCK_PORTAL_COUNTER_LEN || p[0] != 1) return;
  m->has_counter = 1;
  m->counter = (uint16_t)(p[1] | p[2] << 8);
}

/* 03 uleb(len) data [has_counter:u8 [counter:u16 LE]] (spec 6.1). */
static int decode_payload(const uint8_t *p, size_t n, ock_portal_msg *m) {
  uint64_t len;
  size_t used = ock_uleb_read(p, n, &len);
  if (!used || len > n - used) return OCK_EPROTO;
  m->data = p + used;
  m->len = (size_t)len;
  decode_counter(m->data + m->len, n - used - m->len, m);
  return 0;
}

int ock_portal_msg_decode(const uint8_t *p, size_t n, ock_portal_msg *m) {
  memset(m, 0, sizeof *m);
  if (n == 0) return OCK_EPROTO;
  m->type = p[0];
  switch (p[0]) {
  case OCK_PORTAL_PING:
  case OCK_PORTAL_PONG: m->caps = n > 1 ? p[1] & OCK_PORTAL_CAPS : 0; return 0;
  case OCK_PORTAL_DISCONNECT: return 0;
  case OCK_PORTAL_EOF: decode_counter(p + 1, n - 1, m); return 0;
  case OCK_PORTAL_PAYLOAD: return decode_payload(p + 1, n - 1, m);
  case OCK_PORTAL_CREDIT: return ock_uleb_read(p + 1, n - 1, &m->credit) ? 0 : OCK_EPROTO;
  default: return OCK_EPROTO;
  }
}

size_t ock_portal_payload_header(uint8_t out[11], size_t len) {
  out[0] = OCK_PORTAL_PAYLOAD;
  return 1 + ock_uleb_write(out + 1, len);
}

size_t ock_portal_counter_write(uint8_t out[OCK_PORTAL_COUNTER_LEN], uint16_t c) {
  out[0] = 1;
  out[1] = (uint8_t)(c & 0xff);
  out[2] = (uint8_t)(c >> 8);
  return OCK_PORTAL_COUNTER_LEN;
}

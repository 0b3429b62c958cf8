#include "codec/portal_msg.h"

#include <string.h>

#include "codec/bare.h"
#include "base/err.h"

/* 03 uleb(len) data [has_counter:u8 [counter:u16 LE]] (spec 6.1); counters are
 * read past but not checked: Rust nodes do not send them. */
static int decode_payload(const uint8_t *p, size_t n, ock_portal_msg *m) {
  uint64_t len;
  size_t used = ock_uleb_read(p, n, &len);
  if (!used || len > n - used) return OCK_EPROTO;
  m->data = p + used;
  m->len = (size_t)len;
  return 0;
}

int ock_portal_msg_decode(const uint8_t *p, size_t n, ock_portal_msg *m) {
  memset(m, 0, sizeof *m);
  if (n == 0) return OCK_EPROTO;
  m->type = p[0];
  switch (p[0]) {
  case OCK_PORTAL_PING:
  case OCK_PORTAL_PONG: m->caps = n > 1 ? p[1] & OCK_PORTAL_CAPS : 0; return 0;
  case OCK_PORTAL_DISCONNECT:
  case OCK_PORTAL_EOF: return 0;
  case OCK_PORTAL_PAYLOAD: return decode_payload(p + 1, n - 1, m);
  case OCK_PORTAL_CREDIT: return ock_uleb_read(p + 1, n - 1, &m->credit) ? 0 : OCK_EPROTO;
  default: return OCK_EPROTO;
  }
}

size_t ock_portal_payload_header(uint8_t out[11], size_t len) {
  out[0] = OCK_PORTAL_PAYLOAD;
  return 1 + ock_uleb_write(out + 1, len);
}

/* ock_portal_msg_decode on a portal message payload (spec 6.1, 6.8):
 * Ping/Pong [caps], Disconnect, Payload (03 uleb len data [counter]), Eof,
 * Credit (05 uleb). A decoded Payload's data stays inside the input, and a
 * header made by ock_portal_payload_header decodes back to the same length. */
#include "fuzz.h"

#include "codec/bare.h"
#include "base/err.h"
#include "codec/portal_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ock_portal_msg m;
  int rc = ock_portal_msg_decode(data, size, &m);
  if (rc) {
    CHECK(rc == OCK_EPROTO);
    return 0;
  }
  CHECK(size >= 1 && m.type == data[0]);
  CHECK(m.type >= OCK_PORTAL_PING && m.type <= OCK_PORTAL_CREDIT);
  CHECK((m.caps & ~OCK_PORTAL_CAPS) == 0);
  switch (m.type) {
  case OCK_PORTAL_PAYLOAD: {
    CHECK(fuzz_within(m.data, m.len, data, size));
    CHECK(m.len <= size - 2);
    /* rebuild: our header + the same data decodes to the same message */
    uint8_t hdr[11];
    size_t h = ock_portal_payload_header(hdr, m.len);
    CHECK(h >= 2 && h <= 11 && hdr[0] == OCK_PORTAL_PAYLOAD);
    uint8_t *copy = malloc(h + m.len);
    if (!copy) return 0;
    memcpy(copy, hdr, h);
    if (m.len) memcpy(copy + h, m.data, m.len);
    ock_portal_msg m2;
    CHECK(ock_portal_msg_decode(copy, h + m.len, &m2) == 0);
    CHECK(m2.type == OCK_PORTAL_PAYLOAD && m2.len == m.len && m2.data == copy + h);
    free(copy);
    break;
  }
  case OCK_PORTAL_CREDIT: {
    uint64_t v;
    CHECK(ock_uleb_read(data + 1, size - 1, &v) && v == m.credit);
    break;
  }
  case OCK_PORTAL_PING:
  case OCK_PORTAL_PONG: CHECK(m.caps == (size > 1 ? (data[1] & OCK_PORTAL_CAPS) : 0)); break;
  default: CHECK(m.data == NULL && m.len == 0); break;
  }
  return 0;
}

/* Portal messages (codec/portal_msg.h): Ockam's packet counter after a
 * Payload, read as Ockam reads it, and on our Eof. */
#include <string.h>

#include "base/err.h"
#include "codec/portal_msg.h"
#include "test.h"

void test_portal_payload_counter(void) {
  ock_portal_msg m;
  /* 03 len=2 "hi" 01 0x0102 LE */
  const uint8_t with[] = {3, 2, 'h', 'i', 1, 0x02, 0x01};
  CHECK_EQ(ock_portal_msg_decode(with, sizeof with, &m), 0);
  CHECK_BYTES(m.data, m.len, "hi", 2);
  CHECK_EQ(m.has_counter, 1);
  CHECK_EQ(m.counter, 0x0102);
  /* what Rust 0.139 sends: no counter */
  CHECK_EQ(ock_portal_msg_decode(with, 4, &m), 0);
  CHECK_EQ(m.has_counter, 0);
  /* has_counter 0, or fewer than three bytes after the data: no counter */
  const uint8_t zero[] = {3, 1, 'x', 0, 9, 9};
  CHECK_EQ(ock_portal_msg_decode(zero, sizeof zero, &m), 0);
  CHECK_EQ(m.has_counter, 0);
  CHECK_EQ(ock_portal_msg_decode(with, 6, &m), 0);
  CHECK_EQ(m.has_counter, 0);
  /* a length past the end is still refused */
  const uint8_t bad[] = {3, 9, 'h', 1, 0, 0};
  CHECK_EQ(ock_portal_msg_decode(bad, sizeof bad, &m), OCK_EPROTO);
}

void test_portal_eof_counter_round_trip(void) {
  uint8_t b[1 + OCK_PORTAL_COUNTER_LEN] = {OCK_PORTAL_EOF};
  CHECK_EQ(ock_portal_counter_write(b + 1, 0xfffe), OCK_PORTAL_COUNTER_LEN);
  ock_portal_msg m;
  CHECK_EQ(ock_portal_msg_decode(b, sizeof b, &m), 0);
  CHECK_EQ(m.type, OCK_PORTAL_EOF);
  CHECK_EQ(m.has_counter, 1);
  CHECK_EQ(m.counter, 0xfffe);
  CHECK_EQ(ock_portal_msg_decode(b, 1, &m), 0); /* a bare Eof, as before */
  CHECK_EQ(m.has_counter, 0);
}

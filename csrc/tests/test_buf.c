/* Buffers (base/buf.c). */
#include "base/buf.h"
#include "test.h"

/* Shrinking to nothing frees the block and leaves a usable empty buffer. */
void test_buf_shrink_to_zero(void) {
  ock_buf b;
  ock_buf_init(&b);
  CHECK_EQ(ock_buf_append(&b, "abc", 3), 0);
  ock_buf_consume(&b, 3);
  ock_buf_shrink(&b, 0);
  CHECK(b.data == NULL);
  CHECK_EQ(b.cap, 0);
  CHECK_EQ(ock_buf_append(&b, "xy", 2), 0);
  CHECK_BYTES(b.data, b.len, "xy", 2);
  ock_buf_shrink(&b, 1); /* holds more than it may keep: unchanged */
  CHECK_BYTES(b.data, b.len, "xy", 2);
  ock_buf_free(&b);
}

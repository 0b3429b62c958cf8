/* Buffers (base/buf.c). */
#include "base/buf.h"
#include "test.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

/* Resident memory of this process in bytes (/proc/self/statm, second field). */
static size_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    fclose(f);
  }
  return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* A large frame buffer is given back to the system when freed, every time:
 * a node that held 16 MiB partial frames of peers that went away must not
 * stay 16 MiB larger (malloc's adaptive threshold keeps the second and later
 * such blocks in its heap). */
void test_buf_large_blocks_are_returned(void) {
  const size_t big = 16u << 20;
  for (int round = 0; round < 3; round++) {
    ock_buf b;
    ock_buf_init(&b);
    CHECK_EQ(ock_buf_reserve_exact(&b, big), 0);
    memset(b.data, 0x5a, big);
    b.len = big;
    size_t held = rss_bytes();
    ock_buf_free(&b);
    size_t after = rss_bytes();
    CHECK(held > after && held - after >= big - (1u << 20));
  }
}

/* Growing across the mapping threshold and shrinking back keeps the bytes. */
void test_buf_grow_and_shrink_across_threshold_keeps_bytes(void) {
  ock_buf b;
  ock_buf_init(&b);
  for (unsigned i = 0; i < (3u << 20); i++) CHECK_EQ(ock_buf_push(&b, (uint8_t)(i * 7)), 0);
  CHECK(b.cap >= b.len);
  int same = 1;
  for (unsigned i = 0; i < (3u << 20); i++) same &= b.data[i] == (uint8_t)(i * 7);
  CHECK(same);
  ock_buf_consume(&b, b.len - 100);
  ock_buf_shrink(&b, 4096);
  CHECK_EQ(b.cap, 4096);
  CHECK_EQ(b.len, 100);
  for (unsigned i = 0; i < 100; i++) same &= b.data[i] == (uint8_t)((i + (3u << 20) - 100) * 7);
  CHECK(same);
  ock_buf_free(&b);
}

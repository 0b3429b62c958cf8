#include "base/rand.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

static void fill(void *p, size_t n) {
  if (getrandom(p, n, 0) == (ssize_t)n) return;
  /* getrandom cannot fail for small n after boot; keep going regardless. */
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32);
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    ((uint8_t *)p)[i] = (uint8_t)x;
  }
}

/* Addresses are drawn from a block of kernel randomness refilled every 256
 * addresses: one getrandom per portal connection showed in profiles. Only
 * the loop thread makes addresses. */
static uint8_t pool[4096];
static size_t used = sizeof pool;

void ock_rand_after_fork(void) {
  memset(pool, 0, sizeof pool);
  used = sizeof pool; /* a child must not hand out its parent's addresses */
}

static void take(uint8_t *out, size_t n) {
  if (used + n > sizeof pool) {
    fill(pool, sizeof pool);
    used = 0;
  }
  memcpy(out, pool + used, n);
  memset(pool + used, 0, n); /* handed out once */
  used += n;
}

void ock_rand_hex_addr(char out[OCK_HEX_ADDR_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  uint8_t raw[16];
  take(raw, sizeof raw);
  for (int i = 0; i < 16; i++) {
    out[2 * i] = hex[raw[i] >> 4];
    out[2 * i + 1] = hex[raw[i] & 15];
  }
  out[OCK_HEX_ADDR_LEN] = 0;
}

uint64_t ock_rand_u64(void) {
  uint64_t v;
  fill(&v, sizeof v);
  return v;
}

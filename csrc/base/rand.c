#include "base/rand.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* Kernel randomness, or the process stops: worker addresses are capabilities
 * (whoever knows one can send to it), so there is no weaker fallback.
 * Requests of at most 256 bytes are never cut short by a signal once the
 * kernel's pool is ready; a larger one may be, and EINTR is retried. */
static void fill(void *p, size_t n) {
  uint8_t *b = p;
  while (n > 0) {
    ssize_t got = getrandom(b, n < 256 ? n : 256, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      fprintf(stderr, "ockam_py: getrandom failed (%s): cannot make unguessable addresses\n", strerror(errno));
      abort();
    }
    b += got;
    n -= (size_t)got;
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

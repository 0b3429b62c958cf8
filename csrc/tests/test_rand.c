/* Randomness for worker addresses (base/rand.c): kernel bytes only, in
 * requests of at most 256 bytes, EINTR retried. getrandom is interposed here
 * (this executable's definition wins over libc's) to hand out a known
 * pattern in short reads. */
#include <errno.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/rand.h"
#include "test.h"

static struct {
  int on;        /* 0: the real system call */
  int eintr;     /* fail the next call with EINTR */
  size_t most;   /* the largest request seen */
  size_t calls;
  uint8_t next;  /* the pattern: 00 01 02 ... */
} fake;

ssize_t getrandom(void *buf, size_t n, unsigned flags) {
  if (!fake.on) return syscall(SYS_getrandom, buf, n, flags);
  fake.calls++;
  if (n > fake.most) fake.most = n;
  if (fake.eintr) {
    fake.eintr = 0;
    errno = EINTR;
    return -1;
  }
  size_t k = n < 7 ? n : 7; /* short reads, as a signal can cause for big requests */
  for (size_t i = 0; i < k; i++) ((uint8_t *)buf)[i] = fake.next++;
  return (ssize_t)k;
}

void test_rand_kernel_bytes_only(void) {
  ock_rand_after_fork(); /* an empty pool: the next address refills it */
  fake.on = 1;
  fake.eintr = 1;
  fake.most = fake.calls = 0;
  fake.next = 0;
  char a[OCK_HEX_ADDR_LEN + 1], b[OCK_HEX_ADDR_LEN + 1];
  ock_rand_hex_addr(a);
  ock_rand_hex_addr(b);
  fake.on = 0;
  /* the pool was filled from the pattern, whatever the short reads and EINTR */
  CHECK(!strcmp(a, "000102030405060708090a0b0c0d0e0f"));
  CHECK(!strcmp(b, "101112131415161718191a1b1c1d1e1f"));
  CHECK(fake.most <= 256);
  CHECK(fake.calls > 4096 / 7);
  ock_rand_after_fork(); /* the pattern must not serve later tests */
  ock_rand_hex_addr(a);
  CHECK(strcmp(a, "000102030405060708090a0b0c0d0e0f") != 0);
}

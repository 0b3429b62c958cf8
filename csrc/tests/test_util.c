#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "test.h"

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void b_hex(ock_buf *b, const char *hex) {
  int hi = -1;
  for (; *hex; hex++) {
    int v = hexval(*hex);
    if (v < 0) continue;
    if (hi < 0) {
      hi = v;
    } else {
      if (ock_buf_push(b, (uint8_t)(hi << 4 | v))) abort();
      hi = -1;
    }
  }
  if (hi >= 0) abort(); /* odd number of digits: a typo in a test */
}

void b_str(ock_buf *b, const char *s) {
  if (ock_buf_append(b, s, strlen(s))) abort();
}

void b_rep(ock_buf *b, uint8_t byte, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (ock_buf_push(b, byte)) abort();
}

uint8_t *t_dup(const void *p, size_t n) {
  uint8_t *d = malloc(n ? n : 1);
  if (!d) abort();
  if (n) memcpy(d, p, n);
  return d;
}

int t_addr_is(const ock_route *r, size_t i, uint8_t tt, const char *s) {
  if (i >= r->n) return 0;
  return ock_addr_eq(ock_route_at(r, i), tt, s, strlen(s));
}

int t_route_eq(const ock_route *a, const ock_route *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++) {
    ock_addr x = ock_route_at(a, i);
    if (!ock_addr_eq(ock_route_at(b, i), x.tt, x.p, x.len)) return 0;
  }
  return 1;
}

int t_route_sane(const ock_route *r) {
  if (r->n > OCK_ROUTE_MAX_HOPS || r->off[0] != 0) return 0;
  for (size_t i = 0; i < r->n; i++) {
    if (r->off[i + 1] < r->off[i]) return 0;
    if ((size_t)(r->off[i + 1] - r->off[i]) > OCK_ADDR_MAX_LEN) return 0;
  }
  return r->off[r->n] <= OCK_ROUTE_MAX_BYTES;
}

uint64_t t_rand(uint64_t *s) {
  uint64_t x = *s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1DULL;
}

/* Shared bits of the libFuzzer targets in fuzz/. Each target links the real
 * csrc/ sources (no copies) and calls the real entry points; CHECK turns a broken
 * invariant into an abort, which libFuzzer reports as a crash with the input. */
#ifndef OCK_FUZZ_H
#define OCK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/route.h"

#define CHECK(cond)                                                                       \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);            \
      abort();                                                                            \
    }                                                                                     \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A route's packed representation is consistent with route.h's limits. */
static inline void fuzz_check_route(const ock_route *r) {
  CHECK(r->n <= OCK_ROUTE_MAX_HOPS);
  CHECK(r->off[0] == 0);
  for (size_t i = 0; i < r->n; i++) {
    CHECK(r->off[i] <= r->off[i + 1]);
    CHECK((size_t)(r->off[i + 1] - r->off[i]) <= OCK_ADDR_MAX_LEN);
  }
  CHECK(r->off[r->n] <= OCK_ROUTE_MAX_BYTES);
}

static inline int fuzz_route_eq(const ock_route *a, const ock_route *b) {
  if (a->n != b->n) return 0;
  for (size_t i = 0; i < a->n; i++) {
    ock_addr x = ock_route_at(a, i), y = ock_route_at(b, i);
    if (x.tt != y.tt || x.len != y.len || memcmp(x.p, y.p, x.len) != 0) return 0;
  }
  return 1;
}

/* [p, p+n) lies inside [base, base+size). */
static inline int fuzz_within(const void *p, size_t n, const void *base, size_t size) {
  const uint8_t *q = p, *b = base;
  if (n == 0) return 1;
  return q >= b && q <= b + size && n <= (size_t)(b + size - q);
}

#endif

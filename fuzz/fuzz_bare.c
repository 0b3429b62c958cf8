/* The BARE pieces (spec 2.3): ock_uleb_read, ock_bare_read_string and
 * ock_utf8_valid, each against a small independent reference written here, and
 * the writers (ock_uleb_write, ock_bare_put_string) for round trips. */
#include "fuzz.h"

#include "codec/bare.h"
#include "base/buf.h"
#include "base/err.h"

/* Reference uleb128: at most 10 bytes, value must fit in 64 bits. */
static size_t ref_uleb(const uint8_t *p, size_t n, uint64_t *v) {
  unsigned __int128 out = 0;
  for (size_t i = 0; i < n && i < 10; i++) {
    out |= (unsigned __int128)(p[i] & 0x7f) << (7 * i);
    if (!(p[i] & 0x80)) {
      if (out >> 64) return 0;
      *v = (uint64_t)out;
      return i + 1;
    }
  }
  return 0;
}

/* Reference UTF-8 (RFC 3629): decode each scalar, reject overlongs,
 * surrogates and anything past U+10FFFF. */
static int ref_utf8(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint32_t c = p[i];
    size_t k;
    uint32_t min;
    if (c < 0x80) { i++; continue; }
    else if ((c & 0xe0) == 0xc0) k = 2, c &= 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0) k = 3, c &= 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0) k = 4, c &= 0x07, min = 0x10000;
    else return 0;
    if (n - i < k) return 0;
    for (size_t j = 1; j < k; j++) {
      if ((p[i + j] & 0xc0) != 0x80) return 0;
      c = (c << 6) | (p[i + j] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    i += k;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* uleb128 */
  uint64_t v = 0, rv = 0;
  size_t used = ock_uleb_read(data, size, &v);
  size_t rused = ref_uleb(data, size, &rv);
  if (used != rused || (used && v != rv)) {
    fprintf(stderr, "uleb: got %zu bytes value %llu, reference %zu bytes value %llu\n", used,
            (unsigned long long)v, rused, (unsigned long long)rv);
    CHECK(0);
  }
  if (used) {
    uint8_t out[10];
    size_t w = ock_uleb_write(out, v);
    CHECK(w >= 1 && w <= 10 && w <= used); /* the writer is minimal */
    uint64_t back = 0;
    CHECK(ock_uleb_read(out, w, &back) == w && back == v);
  }

  /* BARE string filling the whole input */
  const uint8_t *s = NULL;
  size_t len = 0;
  int rc = ock_bare_read_string(data, size, &s, &len);
  int want = rused && rv == size - rused;
  CHECK((rc == 0) == want);
  if (rc == 0) {
    CHECK(s == data + rused && len == size - rused);
    ock_buf b;
    ock_buf_init(&b);
    CHECK(ock_bare_put_string(&b, s, len) == 0);
    const uint8_t *s2;
    size_t len2;
    CHECK(ock_bare_read_string(b.data, b.len, &s2, &len2) == 0);
    CHECK(len2 == len && (len == 0 || memcmp(s2, s, len) == 0));
    CHECK(b.len <= size); /* the writer is minimal */
    ock_buf_free(&b);
  } else {
    CHECK(rc == OCK_EPROTO);
  }

  /* UTF-8 */
  int ok = ock_utf8_valid(data, size);
  if (!ok != !ref_utf8(data, size)) {
    fprintf(stderr, "utf8: got %d, reference %d\n", ok, ref_utf8(data, size));
    CHECK(0);
  }
  /* every prefix agrees too (cheap for the sizes libFuzzer uses) */
  if (size <= 64)
    for (size_t k = 0; k < size; k++) CHECK(!ock_utf8_valid(data, k) == !ref_utf8(data, k));
  return 0;
}

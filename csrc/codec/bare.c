#include "codec/bare.h"

#include "base/err.h"

size_t ock_uleb_read(const uint8_t *p, size_t n, uint64_t *v) {
  uint64_t out = 0;
  for (size_t i = 0; i < n && i < 10; i++) {
    uint64_t part = p[i] & 0x7f;
    if (i == 9 && part > 1) return 0; /* would overflow 64 bits */
    out |= part << (7 * i);
    if (!(p[i] & 0x80)) {
      *v = out;
      return i + 1;
    }
  }
  return 0;
}

size_t ock_uleb_write(uint8_t out[10], uint64_t v) {
  size_t i = 0;
  do {
    uint8_t byte = v & 0x7f;
    v >>= 7;
    out[i++] = byte | (v ? 0x80 : 0);
  } while (v);
  return i;
}

int ock_bare_read_string(const uint8_t *p, size_t n, const uint8_t **s, size_t *len) {
  uint64_t l;
  size_t used = ock_uleb_read(p, n, &l);
  if (!used || l != n - used) return OCK_EPROTO;
  *s = p + used;
  *len = (size_t)l;
  return 0;
}

int ock_bare_put_string(ock_buf *b, const void *s, size_t len) {
  uint8_t head[10];
  int rc = ock_buf_append(b, head, ock_uleb_write(head, len));
  return rc ? rc : ock_buf_append(b, s, len);
}

/* Length of the UTF-8 sequence led by b, or 0 when b cannot lead one. */
static size_t seq_len(uint8_t b) {
  if (b < 0x80) return 1;
  if (b >= 0xc2 && b <= 0xdf) return 2;
  if (b >= 0xe0 && b <= 0xef) return 3;
  if (b >= 0xf0 && b <= 0xf4) return 4;
  return 0;
}

int ock_utf8_valid(const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n;) {
    size_t k = seq_len(p[i]);
    if (!k || k > n - i) return 0;
    for (size_t j = 1; j < k; j++)
      if ((p[i + j] & 0xc0) != 0x80) return 0;
    if (k == 3) { /* no overlongs, no surrogates */
      if (p[i] == 0xe0 && p[i + 1] < 0xa0) return 0;
      if (p[i] == 0xed && p[i + 1] > 0x9f) return 0;
    }
    if (k == 4) { /* no overlongs, nothing past U+10FFFF */
      if (p[i] == 0xf0 && p[i + 1] < 0x90) return 0;
      if (p[i] == 0xf4 && p[i + 1] > 0x8f) return 0;
    }
    i += k;
  }
  return 1;
}

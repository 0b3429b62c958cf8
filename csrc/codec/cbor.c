#include "codec/cbor.h"

#include "base/err.h"

void ock_cbor_reader_init(ock_cbor_reader *r, const void *p, size_t n) {
  r->p = p;
  r->end = r->p + n;
}

static int read_be(ock_cbor_reader *r, int nbytes, uint64_t *out) {
  if (r->end - r->p < nbytes) return OCK_EPROTO;
  uint64_t v = 0;
  for (int i = 0; i < nbytes; i++) v = (v << 8) | *r->p++;
  *out = v;
  return 0;
}

int ock_cbor_read_head(ock_cbor_reader *r, ock_cbor_head *h) {
  if (r->p >= r->end) return OCK_EPROTO;
  uint8_t ib = *r->p++;
  h->major = ib >> 5;
  h->indefinite = 0;
  uint8_t ai = ib & 31;
  if (ai < 24) {
    h->value = ai;
    return 0;
  }
  switch (ai) {
  case 24: return read_be(r, 1, &h->value);
  case 25: return read_be(r, 2, &h->value);
  case 26: return read_be(r, 4, &h->value);
  case 27: return read_be(r, 8, &h->value);
  case 31:
    /* Indefinite length: legal for strings, arrays, maps; 0xff is "break". */
    if (h->major == OCK_CBOR_UINT || h->major == OCK_CBOR_NINT || h->major == OCK_CBOR_TAG)
      return OCK_EPROTO;
    h->indefinite = 1;
    h->value = 31;
    return 0;
  default: return OCK_EPROTO; /* 28..30 are reserved */
  }
}

int ock_cbor_read_array(ock_cbor_reader *r, int64_t *count) {
  ock_cbor_head h;
  int rc = ock_cbor_read_head(r, &h);
  if (rc) return rc;
  if (h.major != OCK_CBOR_ARRAY) return OCK_EPROTO;
  if (h.indefinite) {
    *count = -1;
    return 0;
  }
  /* Each element takes at least one byte: a bigger count is a lie. */
  if (h.value > (uint64_t)(r->end - r->p)) return OCK_EPROTO;
  *count = (int64_t)h.value;
  return 0;
}

int ock_cbor_at_break(ock_cbor_reader *r) {
  if (r->p < r->end && *r->p == 0xff) {
    r->p++;
    return 1;
  }
  return 0;
}

int ock_cbor_read_uint(ock_cbor_reader *r, uint64_t *v) {
  ock_cbor_head h;
  int rc = ock_cbor_read_head(r, &h);
  if (rc) return rc;
  if (h.major != OCK_CBOR_UINT) return OCK_EPROTO;
  *v = h.value;
  return 0;
}

static int read_string(ock_cbor_reader *r, int major, const uint8_t **p, size_t *n) {
  ock_cbor_head h;
  int rc = ock_cbor_read_head(r, &h);
  if (rc) return rc;
  if (h.major != major || h.indefinite) return OCK_EPROTO;
  if (h.value > (uint64_t)(r->end - r->p)) return OCK_EPROTO;
  *p = r->p;
  *n = (size_t)h.value;
  r->p += h.value;
  return 0;
}

int ock_cbor_read_bytes(ock_cbor_reader *r, const uint8_t **p, size_t *n) {
  return read_string(r, OCK_CBOR_BYTES, p, n);
}

int ock_cbor_read_text(ock_cbor_reader *r, const uint8_t **p, size_t *n) {
  return read_string(r, OCK_CBOR_TEXT, p, n);
}

static int skip_depth(ock_cbor_reader *r, int depth);

/* Skips `count` items (or up to a break when count < 0). */
static int skip_items(ock_cbor_reader *r, int64_t count, int depth) {
  for (int64_t i = 0; count < 0 || i < count; i++) {
    if (count < 0 && ock_cbor_at_break(r)) return 0;
    int rc = skip_depth(r, depth);
    if (rc) return rc;
  }
  return 0;
}

static int skip_indefinite_string(ock_cbor_reader *r, int major) {
  for (;;) {
    if (ock_cbor_at_break(r)) return 0;
    const uint8_t *p;
    size_t n;
    int rc = read_string(r, major, &p, &n);
    if (rc) return rc;
  }
}

static int skip_depth(ock_cbor_reader *r, int depth) {
  if (depth > OCK_CBOR_MAX_DEPTH) return OCK_EPROTO;
  ock_cbor_head h;
  int rc = ock_cbor_read_head(r, &h);
  if (rc) return rc;
  switch (h.major) {
  case OCK_CBOR_UINT:
  case OCK_CBOR_NINT: return 0;
  case OCK_CBOR_BYTES:
  case OCK_CBOR_TEXT:
    if (h.indefinite) return skip_indefinite_string(r, h.major);
    if (h.value > (uint64_t)(r->end - r->p)) return OCK_EPROTO;
    r->p += h.value;
    return 0;
  case OCK_CBOR_ARRAY:
    if (!h.indefinite && h.value > (uint64_t)(r->end - r->p)) return OCK_EPROTO;
    return skip_items(r, h.indefinite ? -1 : (int64_t)h.value, depth + 1);
  case OCK_CBOR_MAP:
    if (!h.indefinite && h.value > (uint64_t)(r->end - r->p) / 2) return OCK_EPROTO;
    return skip_items(r, h.indefinite ? -1 : (int64_t)h.value * 2, depth + 1);
  case OCK_CBOR_TAG: return skip_depth(r, depth + 1);
  default:
    /* simple values and floats: the head already consumed their bytes; a
     * stray break is an error */
    return h.indefinite ? OCK_EPROTO : 0;
  }
}

int ock_cbor_skip(ock_cbor_reader *r) { return skip_depth(r, 0); }

int ock_cbor_read_bool(ock_cbor_reader *r, int *v) {
  if (r->p >= r->end || (*r->p != 0xf4 && *r->p != 0xf5)) return OCK_EPROTO;
  *v = *r->p++ == 0xf5;
  return 0;
}

int ock_cbor_at_null(ock_cbor_reader *r) {
  if (r->p < r->end && *r->p == 0xf6) {
    r->p++;
    return 1;
  }
  return 0;
}

int ock_cbor_array_more(ock_cbor_reader *r, int64_t count, int64_t i) {
  if (count >= 0) return i < count;
  return r->p < r->end && *r->p != 0xff;
}

int ock_cbor_array_finish(ock_cbor_reader *r, int64_t count, int64_t i) {
  for (; count < 0 || i < count; i++) {
    if (count < 0 && ock_cbor_at_break(r)) return 0;
    int rc = ock_cbor_skip(r);
    if (rc) return rc;
  }
  return 0;
}

size_t ock_cbor_head_size(uint64_t value) {
  if (value < 24) return 1;
  if (value <= 0xff) return 2;
  if (value <= 0xffff) return 3;
  if (value <= 0xffffffffu) return 5;
  return 9;
}

int ock_cbor_put_head(ock_buf *b, int major, uint64_t value) {
  uint8_t out[9];
  size_t n = ock_cbor_head_size(value);
  uint8_t m = (uint8_t)(major << 5);
  if (n == 1) {
    out[0] = m | (uint8_t)value;
  } else {
    out[0] = m | (n == 2 ? 24 : n == 3 ? 25 : n == 5 ? 26 : 27);
    for (size_t i = 1; i < n; i++) out[i] = (uint8_t)(value >> (8 * (n - 1 - i)));
  }
  return ock_buf_append(b, out, n);
}

int ock_cbor_put_bytes(ock_buf *b, const void *p, size_t n) {
  int rc = ock_cbor_put_head(b, OCK_CBOR_BYTES, n);
  return rc ? rc : ock_buf_append(b, p, n);
}

int ock_cbor_put_text(ock_buf *b, const void *p, size_t n) {
  int rc = ock_cbor_put_head(b, OCK_CBOR_TEXT, n);
  return rc ? rc : ock_buf_append(b, p, n);
}

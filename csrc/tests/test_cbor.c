/* CBOR subset (cbor.h): shortest-form encoding, any-width decoding, bounds. */
#include <stdlib.h>
#include <string.h>

#include "codec/cbor.h"
#include "base/err.h"
#include "test.h"

static void check_head(int major, uint64_t v, const char *hex) {
  ock_buf want, got;
  ock_buf_init(&want);
  ock_buf_init(&got);
  b_hex(&want, hex);
  CHECK_EQ(ock_cbor_put_head(&got, major, v), 0);
  CHECK_BYTES(got.data, got.len, want.data, want.len);
  CHECK_EQ(ock_cbor_head_size(v), want.len);
  /* and it reads back */
  ock_cbor_reader r;
  ock_cbor_head h;
  ock_cbor_reader_init(&r, got.data, got.len);
  CHECK_EQ(ock_cbor_read_head(&r, &h), 0);
  CHECK_EQ(h.major, major);
  CHECK(h.value == v);
  CHECK_EQ(h.indefinite, 0);
  CHECK(r.p == r.end);
  ock_buf_free(&want);
  ock_buf_free(&got);
}

void test_cbor_head_shortest_form(void) {
  check_head(OCK_CBOR_UINT, 0, "00");
  check_head(OCK_CBOR_UINT, 23, "17");
  check_head(OCK_CBOR_UINT, 24, "18 18");
  check_head(OCK_CBOR_UINT, 255, "18 ff");
  check_head(OCK_CBOR_UINT, 256, "19 01 00");
  check_head(OCK_CBOR_UINT, 65535, "19 ff ff");
  check_head(OCK_CBOR_UINT, 65536, "1a 00 01 00 00");
  check_head(OCK_CBOR_UINT, 0xffffffffu, "1a ff ff ff ff");
  check_head(OCK_CBOR_UINT, 0x100000000ull, "1b 00 00 00 01 00 00 00 00");
  check_head(OCK_CBOR_UINT, UINT64_MAX, "1b ff ff ff ff ff ff ff ff");
  check_head(OCK_CBOR_BYTES, 32, "58 20");
  check_head(OCK_CBOR_TEXT, 2, "62");
  check_head(OCK_CBOR_ARRAY, 3, "83");
  check_head(OCK_CBOR_ARRAY, 1000, "99 03 e8");
}

static void check_uint(const char *hex, int want_rc, uint64_t want) {
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, hex);
  uint8_t *p = t_dup(b.data, b.len);
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, p, b.len);
  uint64_t v = 12345;
  int rc = ock_cbor_read_uint(&r, &v);
  CHECK_EQ(rc, want_rc);
  if (!rc && !want_rc) {
    CHECK(v == want);
    CHECK(r.p == r.end);
  }
  CHECK(r.p <= r.end);
  free(p);
  ock_buf_free(&b);
}

void test_cbor_decode_any_width(void) {
  check_uint("05", 0, 5);
  check_uint("18 05", 0, 5);
  check_uint("19 00 05", 0, 5);
  check_uint("1a 00 00 00 05", 0, 5);
  check_uint("1b 00 00 00 00 00 00 00 05", 0, 5);
  check_uint("1b ff ff ff ff ff ff ff ff", 0, UINT64_MAX);
  check_uint("19 12 34", 0, 0x1234);
  /* wrong major type */
  check_uint("20", OCK_EPROTO, 0);  /* -1 */
  check_uint("40", OCK_EPROTO, 0);  /* bytes */
  check_uint("f6", OCK_EPROTO, 0);  /* null */
  check_uint("80", OCK_EPROTO, 0);  /* array */
  check_uint("", OCK_EPROTO, 0);
}

void test_cbor_strings(void) {
  ock_buf b;
  ock_buf_init(&b);
  /* length in a wider form than needed is fine */
  b_hex(&b, "59 00 02 61 62  78 03 61 62 63  40  60");
  uint8_t *p = t_dup(b.data, b.len);
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, p, b.len);
  const uint8_t *s;
  size_t n;
  CHECK_EQ(ock_cbor_read_bytes(&r, &s, &n), 0);
  CHECK_BYTES(s, n, "ab", 2);
  CHECK_EQ(ock_cbor_read_bytes(&r, &s, &n), OCK_EPROTO); /* text is not bytes */
  ock_cbor_reader_init(&r, p + 5, b.len - 5);
  CHECK_EQ(ock_cbor_read_text(&r, &s, &n), 0);
  CHECK_BYTES(s, n, "abc", 3);
  CHECK_EQ(ock_cbor_read_bytes(&r, &s, &n), 0);
  CHECK_EQ(n, 0);
  CHECK_EQ(ock_cbor_read_text(&r, &s, &n), 0);
  CHECK_EQ(n, 0);
  CHECK(r.p == r.end);
  free(p);

  /* encoders */
  ock_buf_free(&b);
  ock_cbor_put_bytes(&b, "echo", 4);
  ock_cbor_put_text(&b, "{}", 2);
  uint8_t big[300];
  memset(big, 'x', sizeof big);
  ock_cbor_put_bytes(&b, big, sizeof big);
  CHECK_EQ(b.len, 5 + 3 + 3 + 300);
  CHECK_BYTES(b.data, 8, "\x44" "echo" "\x62{}", 8);
  CHECK_BYTES(b.data + 8, 3, "\x59\x01\x2c", 3);
  ock_buf_free(&b);

  /* a length past the end, or too large for any buffer */
  const char *bad[] = {"43 61 62", "5b ff ff ff ff ff ff ff ff 00", "5b 80 00 00 00 00 00 00 00",
                       "7a 00 00 00 05 61", "58", "59 00"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ock_buf_init(&b);
    b_hex(&b, bad[i]);
    p = t_dup(b.data, b.len);
    ock_cbor_reader_init(&r, p, b.len);
    int rc = (p[0] >> 5) == 2 ? ock_cbor_read_bytes(&r, &s, &n) : ock_cbor_read_text(&r, &s, &n);
    CHECK_EQ(rc, OCK_EPROTO);
    CHECK(r.p <= r.end);
    free(p);
    ock_buf_free(&b);
  }
}

void test_cbor_indefinite_arrays(void) {
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, "9f 01 02 ff");
  uint8_t *p = t_dup(b.data, b.len);
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, p, b.len);
  int64_t count = 0;
  CHECK_EQ(ock_cbor_read_array(&r, &count), 0);
  CHECK_EQ(count, -1);
  uint64_t v;
  CHECK(!ock_cbor_at_break(&r));
  CHECK_EQ(ock_cbor_read_uint(&r, &v), 0);
  CHECK_EQ(v, 1);
  CHECK(!ock_cbor_at_break(&r));
  CHECK_EQ(ock_cbor_read_uint(&r, &v), 0);
  CHECK_EQ(v, 2);
  CHECK(ock_cbor_at_break(&r));
  CHECK(r.p == r.end);
  CHECK(!ock_cbor_at_break(&r)); /* at the end: no break, no read */
  free(p);

  /* a break reads as major 7, value 31 */
  ock_cbor_reader_init(&r, "\xff", 1);
  ock_cbor_head h;
  CHECK_EQ(ock_cbor_read_head(&r, &h), 0);
  CHECK_EQ(h.major, 7);
  CHECK_EQ(h.value, 31);

  /* definite arrays, any width */
  ock_cbor_reader_init(&r, "\x98\x02\x01\x02", 4);
  CHECK_EQ(ock_cbor_read_array(&r, &count), 0);
  CHECK_EQ(count, 2);
  ock_cbor_reader_init(&r, "\xa1\x01\x02", 3); /* a map is not an array */
  CHECK_EQ(ock_cbor_read_array(&r, &count), OCK_EPROTO);
  ock_buf_free(&b);
}

void test_cbor_indefinite_bytes_rejected(void) {
  static const uint8_t ib[] = {0x5f, 0x41, 0x61, 0xff};
  static const uint8_t it[] = {0x7f, 0x61, 0x61, 0xff};
  ock_cbor_reader r;
  const uint8_t *s;
  size_t n;
  ock_cbor_reader_init(&r, ib, sizeof ib);
  CHECK_EQ(ock_cbor_read_bytes(&r, &s, &n), OCK_EPROTO);
  ock_cbor_reader_init(&r, it, sizeof it);
  CHECK_EQ(ock_cbor_read_text(&r, &s, &n), OCK_EPROTO);
  /* but skip steps over them, since they are well-formed CBOR */
  ock_cbor_reader_init(&r, ib, sizeof ib);
  CHECK_EQ(ock_cbor_skip(&r), 0);
  CHECK(r.p == r.end);
  ock_cbor_reader_init(&r, it, sizeof it);
  CHECK_EQ(ock_cbor_skip(&r), 0);
  CHECK(r.p == r.end);
  /* a chunk of the wrong type inside an indefinite string is malformed */
  static const uint8_t mixed[] = {0x5f, 0x61, 0x61, 0xff};
  ock_cbor_reader_init(&r, mixed, sizeof mixed);
  CHECK_EQ(ock_cbor_skip(&r), OCK_EPROTO);
  /* no break at the end */
  ock_cbor_reader_init(&r, ib, 3);
  CHECK_EQ(ock_cbor_skip(&r), OCK_EPROTO);
}

void test_cbor_reserved_and_bad_heads(void) {
  /* additional info 28..30 are reserved; 31 is not allowed on ints or tags */
  static const uint8_t bad[] = {0x1c, 0x1d, 0x1e, 0x1f, 0x3f, 0xdf, 0x5c, 0x9c, 0xbd, 0xfe};
  for (size_t i = 0; i < sizeof bad; i++) {
    ock_cbor_reader r;
    ock_cbor_head h;
    ock_cbor_reader_init(&r, &bad[i], 1);
    CHECK_EQ(ock_cbor_read_head(&r, &h), OCK_EPROTO);
    ock_cbor_reader_init(&r, &bad[i], 1);
    CHECK_EQ(ock_cbor_skip(&r), OCK_EPROTO);
  }
  /* a stray break is not an item */
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, "\xff", 1);
  CHECK_EQ(ock_cbor_skip(&r), OCK_EPROTO);
  /* empty input */
  ock_cbor_head h;
  ock_cbor_reader_init(&r, "", 0);
  CHECK_EQ(ock_cbor_read_head(&r, &h), OCK_EPROTO);
  CHECK_EQ(ock_cbor_skip(&r), OCK_EPROTO);
}

void test_cbor_array_count_too_big(void) {
  const char *cases[] = {
      "98 ff 00 00 00",                  /* 255 elements, 3 bytes left */
      "84 00 00 00",                     /* 4 elements, 3 bytes */
      "9a ff ff ff ff 00",               /* 2^32-1 */
      "9b ff ff ff ff ff ff ff ff 00",   /* 2^64-1: must not overflow anything */
      "9b 80 00 00 00 00 00 00 00 00",   /* 2^63: negative as int64 */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ock_buf b;
    ock_buf_init(&b);
    b_hex(&b, cases[i]);
    uint8_t *p = t_dup(b.data, b.len);
    ock_cbor_reader r;
    int64_t count = 77;
    ock_cbor_reader_init(&r, p, b.len);
    CHECK_EQ(ock_cbor_read_array(&r, &count), OCK_EPROTO);
    ock_cbor_reader_init(&r, p, b.len);
    CHECK_EQ(ock_cbor_skip(&r), OCK_EPROTO);
    CHECK(r.p <= r.end);
    /* the same as a map */
    p[0] = (uint8_t)(p[0] + 0x20);
    ock_cbor_reader_init(&r, p, b.len);
    CHECK_EQ(ock_cbor_skip(&r), OCK_EPROTO);
    free(p);
    ock_buf_free(&b);
  }
}

/* Well-formed single items; every proper prefix must be rejected by skip
 * (CBOR items are self-delimiting), and no reader may read past the end. */
static const char *valid_items[] = {
    "00", "17", "18 18", "19 01 00", "1a 00 01 00 00", "1b 00 00 00 01 00 00 00 00", "20", "38 ff",
    "44 65 63 68 6f", "58 20 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 30 31 32 33 34 35 36 37 "
    "38 39 61 62 63 64 65 66",
    "62 7b 7d", "5f 41 61 42 62 63 ff", "7f 61 61 ff", "83 01 02 03", "9f 01 9f ff 82 00 40 ff",
    "a2 01 02 03 80", "bf 01 02 ff", "c0 72 32 30 32 34 2d 31 30 2d 32 34 54 30 30 3a 30 30 3a 30",
    "f6", "f4", "f9 3c 00", "fa 47 c3 50 00", "fb 3f f1 99 99 99 99 99 9a",
    "84 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f 62 7b 7d",
};

void test_cbor_truncated_prefixes(void) {
  for (size_t i = 0; i < sizeof valid_items / sizeof valid_items[0]; i++) {
    ock_buf b;
    ock_buf_init(&b);
    b_hex(&b, valid_items[i]);
    /* whole: skip consumes exactly all of it */
    uint8_t *p = t_dup(b.data, b.len);
    ock_cbor_reader r;
    ock_cbor_reader_init(&r, p, b.len);
    CHECK_EQ(ock_cbor_skip(&r), 0);
    CHECK(r.p == r.end);
    free(p);
    for (size_t k = 0; k < b.len; k++) {
      p = t_dup(b.data, k);
      ock_cbor_reader_init(&r, p, k);
      CHECK_EQ(ock_cbor_skip(&r), OCK_EPROTO);
      CHECK(r.p <= r.end);
      /* every specific reader: fail, or succeed within bounds */
      const uint8_t *s;
      size_t n;
      uint64_t v;
      int64_t c;
      ock_cbor_head h;
      ock_cbor_reader_init(&r, p, k);
      if (ock_cbor_read_head(&r, &h) == 0) CHECK(r.p <= r.end);
      ock_cbor_reader_init(&r, p, k);
      if (ock_cbor_read_uint(&r, &v) == 0) CHECK(r.p <= r.end);
      ock_cbor_reader_init(&r, p, k);
      if (ock_cbor_read_array(&r, &c) == 0) CHECK(r.p <= r.end && (c < 0 || c <= r.end - r.p));
      ock_cbor_reader_init(&r, p, k);
      if (ock_cbor_read_bytes(&r, &s, &n) == 0) CHECK(r.p <= r.end && s + n <= r.end);
      ock_cbor_reader_init(&r, p, k);
      if (ock_cbor_read_text(&r, &s, &n) == 0) CHECK(r.p <= r.end && s + n <= r.end);
      free(p);
    }
    ock_buf_free(&b);
  }
}

void test_cbor_skip_items(void) {
  /* several items in a row: skip steps over exactly one each time */
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, "a1 61 61 82 01 9f ff  c1 1a 00 00 00 01  f6  20  7f 61 61 60 ff");
  uint8_t *p = t_dup(b.data, b.len);
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, p, b.len);
  CHECK_EQ(ock_cbor_skip(&r), 0);
  CHECK_EQ(r.p - p, 7);
  CHECK_EQ(ock_cbor_skip(&r), 0);
  CHECK_EQ(r.p - p, 13);
  CHECK_EQ(ock_cbor_skip(&r), 0);
  CHECK_EQ(ock_cbor_skip(&r), 0);
  CHECK_EQ(r.p - p, 15);
  CHECK_EQ(ock_cbor_skip(&r), 0);
  CHECK(r.p == r.end);
  CHECK_EQ(ock_cbor_skip(&r), OCK_EPROTO);
  free(p);
  ock_buf_free(&b);
}

static int skip_nested(uint8_t open, size_t depth, const char *leaf_hex) {
  ock_buf b;
  ock_buf_init(&b);
  b_rep(&b, open, depth);
  b_hex(&b, leaf_hex);
  if (open == 0x9f || open == 0xbf) b_rep(&b, 0xff, depth); /* close indefinite ones */
  uint8_t *p = t_dup(b.data, b.len);
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, p, b.len);
  int rc = ock_cbor_skip(&r);
  if (rc == 0 && r.p != r.end) rc = 1;
  free(p);
  ock_buf_free(&b);
  return rc;
}

void test_cbor_skip_deep_nesting(void) {
  /* modest nesting is fine */
  CHECK_EQ(skip_nested(0x81, 3, "00"), 0);
  CHECK_EQ(skip_nested(0x9f, 3, "00"), 0);
  CHECK_EQ(skip_nested(0x81, OCK_CBOR_MAX_DEPTH, "00"), 0);
  /* deep nesting is refused without exhausting the stack */
  CHECK_EQ(skip_nested(0x81, 1000, "00"), OCK_EPROTO);
  CHECK_EQ(skip_nested(0x9f, 1000, "00"), OCK_EPROTO);
  CHECK_EQ(skip_nested(0xc0, 1000, "00"), OCK_EPROTO);   /* tags */
  CHECK_EQ(skip_nested(0xa1, 1000, "00"), OCK_EPROTO);   /* map keys */
  CHECK_EQ(skip_nested(0x81, 100000, "00"), OCK_EPROTO);
  CHECK_EQ(skip_nested(0x81, OCK_CBOR_MAX_DEPTH + 2, "00"), OCK_EPROTO);
}

void test_cbor_bool_null_struct_arrays(void) {
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, "f4 f5 f6 00");
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, b.data, b.len);
  int v = -1;
  CHECK_EQ(ock_cbor_read_bool(&r, &v), 0);
  CHECK_EQ(v, 0);
  CHECK_EQ(ock_cbor_read_bool(&r, &v), 0);
  CHECK_EQ(v, 1);
  CHECK_EQ(ock_cbor_read_bool(&r, &v), OCK_EPROTO); /* null is not a bool */
  CHECK_EQ(ock_cbor_at_null(&r), 1);
  CHECK_EQ(ock_cbor_at_null(&r), 0); /* 00 is not null, and stays */
  CHECK_EQ(ock_cbor_read_bool(&r, &v), OCK_EPROTO);
  CHECK(r.p < r.end);
  ock_buf_free(&b);

  /* a definite struct of 4 elements where 2 are known: the rest is skipped */
  ock_buf_init(&b);
  b_hex(&b, "84 01 02 83 01 02 03 41 aa 07");
  ock_cbor_reader_init(&r, b.data, b.len);
  int64_t count;
  uint64_t x;
  CHECK_EQ(ock_cbor_read_array(&r, &count), 0);
  CHECK_EQ(ock_cbor_array_more(&r, count, 0), 1);
  CHECK_EQ(ock_cbor_read_uint(&r, &x), 0);
  CHECK_EQ(ock_cbor_read_uint(&r, &x), 0);
  CHECK_EQ(ock_cbor_array_more(&r, count, 2), 1);
  CHECK_EQ(ock_cbor_array_more(&r, count, 4), 0);
  CHECK_EQ(ock_cbor_array_finish(&r, count, 2), 0);
  CHECK_EQ(ock_cbor_read_uint(&r, &x), 0);
  CHECK_EQ(x, 7);
  ock_buf_free(&b);

  /* indefinite: more looks for the break without taking it, finish takes it */
  ock_buf_init(&b);
  b_hex(&b, "9f 01 82 02 03 ff 09");
  ock_cbor_reader_init(&r, b.data, b.len);
  CHECK_EQ(ock_cbor_read_array(&r, &count), 0);
  CHECK_EQ(count, -1);
  CHECK_EQ(ock_cbor_read_uint(&r, &x), 0);
  CHECK_EQ(ock_cbor_array_more(&r, count, 1), 1);
  CHECK_EQ(ock_cbor_array_finish(&r, count, 1), 0);
  CHECK_EQ(ock_cbor_read_uint(&r, &x), 0);
  CHECK_EQ(x, 9);
  ock_buf_free(&b);

  /* an indefinite array cut short: finish fails instead of running off */
  ock_buf_init(&b);
  b_hex(&b, "9f 01 02");
  ock_cbor_reader_init(&r, b.data, b.len);
  CHECK_EQ(ock_cbor_read_array(&r, &count), 0);
  CHECK_EQ(ock_cbor_array_more(&r, count, 0), 1);
  CHECK_EQ(ock_cbor_array_finish(&r, count, 0), OCK_EPROTO);
  CHECK_EQ(ock_cbor_array_more(&r, count, 2), 0); /* at the end: no more */
  ock_buf_free(&b);
}

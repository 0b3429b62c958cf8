/* BARE pieces (bare.h): uleb128, strings, UTF-8 validation. */
#include <stdlib.h>
#include <string.h>

#include "codec/bare.h"
#include "base/err.h"
#include "test.h"

static void uleb_case(uint64_t v, const char *hex) {
  ock_buf want;
  ock_buf_init(&want);
  b_hex(&want, hex);
  uint8_t out[10];
  size_t n = ock_uleb_write(out, v);
  CHECK_BYTES(out, n, want.data, want.len);
  uint8_t *p = t_dup(out, n);
  uint64_t back = ~v;
  CHECK_EQ(ock_uleb_read(p, n, &back), n);
  CHECK(back == v);
  free(p);
  /* trailing bytes are not consumed */
  uint8_t more[12];
  memcpy(more, out, n);
  more[n] = 0x7f;
  more[n + 1] = 0x80;
  back = ~v;
  CHECK_EQ(ock_uleb_read(more, n + 2, &back), n);
  CHECK(back == v);
  ock_buf_free(&want);
}

void test_bare_uleb_round_trip(void) {
  uleb_case(0, "00");
  uleb_case(1, "01");
  uleb_case(127, "7f");
  uleb_case(128, "80 01");
  uleb_case(275, "93 02");
  uleb_case(16383, "ff 7f");
  uleb_case(16384, "80 80 01");
  uleb_case(0xffffffffu, "ff ff ff ff 0f");
  uleb_case(1ull << 63, "80 80 80 80 80 80 80 80 80 01");
  uleb_case(UINT64_MAX, "ff ff ff ff ff ff ff ff ff 01");
  /* a sweep of powers of two and their neighbours */
  for (int s = 0; s < 64; s++) {
    uint64_t base = 1ull << s;
    for (int d = -1; d <= 1; d++) {
      uint64_t v = base + (uint64_t)(int64_t)d;
      uint8_t out[10];
      size_t n = ock_uleb_write(out, v);
      CHECK(n >= 1 && n <= 10);
      uint64_t back;
      CHECK_EQ(ock_uleb_read(out, n, &back), n);
      CHECK(back == v);
    }
  }
}

static size_t uleb_hex(const char *hex, uint64_t *v) {
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, hex);
  uint8_t *p = t_dup(b.data, b.len);
  size_t n = ock_uleb_read(p, b.len, v);
  free(p);
  ock_buf_free(&b);
  return n;
}

void test_bare_uleb_overflow_rejected(void) {
  uint64_t v;
  /* a 10th byte above 1 does not fit 64 bits */
  CHECK_EQ(uleb_hex("ff ff ff ff ff ff ff ff ff 02", &v), 0);
  CHECK_EQ(uleb_hex("80 80 80 80 80 80 80 80 80 7f", &v), 0);
  /* more than 10 bytes */
  CHECK_EQ(uleb_hex("80 80 80 80 80 80 80 80 80 80 00", &v), 0);
  CHECK_EQ(uleb_hex("ff ff ff ff ff ff ff ff ff 81 00", &v), 0);
  CHECK_EQ(uleb_hex("80 80 80 80 80 80 80 80 80 80 80 80 01", &v), 0);
  /* the largest 10-byte value is fine */
  CHECK_EQ(uleb_hex("ff ff ff ff ff ff ff ff ff 01", &v), 10);
  CHECK(v == UINT64_MAX);
}

void test_bare_uleb_truncated_rejected(void) {
  uint64_t v;
  uint8_t dummy = 0;
  CHECK_EQ(ock_uleb_read(&dummy, 0, &v), 0);
  CHECK_EQ(uleb_hex("80", &v), 0);
  CHECK_EQ(uleb_hex("ff ff", &v), 0);
  CHECK_EQ(uleb_hex("ff ff ff ff ff ff ff ff ff", &v), 0);
  /* every prefix of a long encoding */
  uint8_t out[10];
  size_t n = ock_uleb_write(out, UINT64_MAX);
  for (size_t k = 0; k < n; k++) {
    uint8_t *p = t_dup(out, k);
    CHECK_EQ(ock_uleb_read(p, k, &v), 0);
    free(p);
  }
}

static int read_str_hex(const char *hex, const uint8_t **s, size_t *len, uint8_t **keep) {
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, hex);
  *keep = t_dup(b.data, b.len);
  int rc = ock_bare_read_string(*keep, b.len, s, len);
  ock_buf_free(&b);
  return rc;
}

void test_bare_read_string_exact(void) {
  const uint8_t *s;
  size_t len;
  uint8_t *keep;
  CHECK_EQ(read_str_hex("05 68 65 6c 6c 6f", &s, &len, &keep), 0);
  CHECK_BYTES(s, len, "hello", 5);
  CHECK(s == keep + 1);
  free(keep);
  CHECK_EQ(read_str_hex("00", &s, &len, &keep), 0);
  CHECK_EQ(len, 0);
  free(keep);
  CHECK_EQ(read_str_hex("02 6e 33", &s, &len, &keep), 0); /* spec 5.2: "n3" */
  CHECK_BYTES(s, len, "n3", 2);
  free(keep);
  /* the string must fill the input exactly */
  CHECK_EQ(read_str_hex("05 68 65 6c 6c 6f 00", &s, &len, &keep), OCK_EPROTO); /* trailing */
  free(keep);
  CHECK_EQ(read_str_hex("05 68 65 6c 6c", &s, &len, &keep), OCK_EPROTO); /* short */
  free(keep);
  CHECK_EQ(read_str_hex("06 68 65 6c 6c 6f", &s, &len, &keep), OCK_EPROTO);
  free(keep);
  CHECK_EQ(read_str_hex("", &s, &len, &keep), OCK_EPROTO);
  free(keep);
  CHECK_EQ(read_str_hex("80", &s, &len, &keep), OCK_EPROTO); /* truncated length */
  free(keep);
  /* an enormous length must not wrap around */
  CHECK_EQ(read_str_hex("ff ff ff ff ff ff ff ff ff 01 61", &s, &len, &keep), OCK_EPROTO);
  free(keep);
  /* a 2-byte length */
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, "80 01");
  b_rep(&b, 'x', 128);
  CHECK_EQ(ock_bare_read_string(b.data, b.len, &s, &len), 0);
  CHECK_EQ(len, 128);
  CHECK(s == b.data + 2);
  CHECK_EQ(ock_bare_read_string(b.data, b.len - 1, &s, &len), OCK_EPROTO);
  ock_buf_free(&b);
}

void test_bare_put_string(void) {
  ock_buf b;
  ock_buf_init(&b);
  CHECK_EQ(ock_bare_put_string(&b, "hello", 5), 0);
  CHECK_BYTES(b.data, b.len, "\x05hello", 6);
  ock_buf_free(&b);
  CHECK_EQ(ock_bare_put_string(&b, "", 0), 0);
  CHECK_BYTES(b.data, b.len, "\x00", 1);
  ock_buf_free(&b);
  char big[300];
  memset(big, 'q', sizeof big);
  CHECK_EQ(ock_bare_put_string(&b, big, sizeof big), 0);
  CHECK_EQ(b.len, 302);
  CHECK_BYTES(b.data, 2, "\xac\x02", 2);
  const uint8_t *s;
  size_t len;
  CHECK_EQ(ock_bare_read_string(b.data, b.len, &s, &len), 0);
  CHECK_BYTES(s, len, big, sizeof big);
  ock_buf_free(&b);
}

static int utf8_hex(const char *hex) {
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, hex);
  uint8_t *p = t_dup(b.data, b.len);
  int ok = ock_utf8_valid(p, b.len);
  free(p);
  ock_buf_free(&b);
  return ok;
}

void test_utf8_valid_sequences(void) {
  CHECK(utf8_hex(""));
  CHECK(utf8_hex("68 65 6c 6c 6f"));
  CHECK(utf8_hex("00"));             /* NUL is a valid char in a Rust String */
  CHECK(utf8_hex("7f"));
  CHECK(utf8_hex("c2 80"));          /* U+0080 */
  CHECK(utf8_hex("c3 a9"));          /* é */
  CHECK(utf8_hex("df bf"));          /* U+07FF */
  CHECK(utf8_hex("e0 a0 80"));       /* U+0800 */
  CHECK(utf8_hex("e2 82 ac"));       /* € */
  CHECK(utf8_hex("ed 9f bf"));       /* U+D7FF, just below the surrogates */
  CHECK(utf8_hex("ee 80 80"));       /* U+E000, just above */
  CHECK(utf8_hex("ef bf bf"));       /* U+FFFF */
  CHECK(utf8_hex("f0 90 80 80"));    /* U+10000 */
  CHECK(utf8_hex("f0 9f 98 80"));    /* 😀 */
  CHECK(utf8_hex("f4 8f bf bf"));    /* U+10FFFF */
  CHECK(utf8_hex("61 c3 a9 e2 82 ac f0 9f 98 80 7a"));
}

void test_utf8_invalid_sequences(void) {
  /* overlong forms */
  CHECK(!utf8_hex("c0 80"));
  CHECK(!utf8_hex("c1 bf"));
  CHECK(!utf8_hex("e0 80 80"));
  CHECK(!utf8_hex("e0 9f bf"));
  CHECK(!utf8_hex("f0 80 80 80"));
  CHECK(!utf8_hex("f0 8f bf bf"));
  /* surrogates */
  CHECK(!utf8_hex("ed a0 80"));
  CHECK(!utf8_hex("ed bf bf"));
  CHECK(!utf8_hex("ed b0 80"));
  /* past U+10FFFF, and bytes that never appear */
  CHECK(!utf8_hex("f4 90 80 80"));
  CHECK(!utf8_hex("f5 80 80 80"));
  CHECK(!utf8_hex("f8 88 80 80 80"));
  CHECK(!utf8_hex("fe"));
  CHECK(!utf8_hex("ff"));
  /* truncated */
  CHECK(!utf8_hex("c3"));
  CHECK(!utf8_hex("e2 82"));
  CHECK(!utf8_hex("f0 9f 98"));
  CHECK(!utf8_hex("61 62 f0"));
  /* lone or missing continuation bytes */
  CHECK(!utf8_hex("80"));
  CHECK(!utf8_hex("bf"));
  CHECK(!utf8_hex("c3 41"));
  CHECK(!utf8_hex("e2 41 ac"));
  CHECK(!utf8_hex("e2 82 41"));
  CHECK(!utf8_hex("f0 9f 41 80"));
  CHECK(!utf8_hex("c3 a9 a9"));
}

#include "secure/identifier.h"

#include "base/err.h"

void ock_identifier_format(const uint8_t id[OCK_IDENTIFIER_LEN], char out[OCK_IDENTIFIER_TEXT_LEN + 1]) {
  static const char hex[] = "0123456789abcdef";
  out[0] = 'I';
  for (size_t i = 0; i < OCK_IDENTIFIER_LEN; i++) {
    out[1 + 2 * i] = hex[id[i] >> 4];
    out[2 + 2 * i] = hex[id[i] & 15];
  }
  out[OCK_IDENTIFIER_TEXT_LEN] = 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int ock_identifier_parse(const char *s, size_t n, uint8_t id[OCK_IDENTIFIER_LEN]) {
  while (n && is_space(*s)) s++, n--;
  while (n && is_space(s[n - 1])) n--;
  if (n != OCK_IDENTIFIER_TEXT_LEN || s[0] != 'I') return OCK_EINVAL;
  for (size_t i = 0; i < OCK_IDENTIFIER_LEN; i++) {
    int hi = hexval(s[1 + 2 * i]), lo = hexval(s[2 + 2 * i]);
    if (hi < 0 || lo < 0) return OCK_EINVAL;
    id[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

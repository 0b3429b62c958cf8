/* BARE encoding pieces Ockam payloads use: uleb128 lengths and strings
 * (`uleb128(len) || bytes`), as serde_bare writes String and Vec<u8>. */
#ifndef OCK_BARE_H
#define OCK_BARE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Reads a uleb128 of at most 10 bytes fitting in 64 bits. Returns bytes used,
 * or 0 when truncated or overlong. */
size_t ock_uleb_read(const uint8_t *p, size_t n, uint64_t *v);
/* Writes a uleb128 into out (10 bytes are always enough). Returns bytes used. */
size_t ock_uleb_write(uint8_t out[10], uint64_t v);
/* Decodes a BARE string/bytes that must fill exactly [p, p+n). */
int ock_bare_read_string(const uint8_t *p, size_t n, const uint8_t **s, size_t *len);
/* True when [p, p+n) is well-formed UTF-8 (a Rust String must be). */
int ock_utf8_valid(const uint8_t *p, size_t n);
int ock_bare_put_string(ock_buf *b, const void *s, size_t len);

#endif

/* An identity's identifier: the 32-byte SHA-256 of its first change's data
 * (ockam_identity/src/models/identifiers.rs), written "I" + 64 lowercase hex. */
#ifndef OCK_SECURE_IDENTIFIER_H
#define OCK_SECURE_IDENTIFIER_H

#include <stddef.h>
#include <stdint.h>

#define OCK_IDENTIFIER_LEN 32
#define OCK_IDENTIFIER_TEXT_LEN 65 /* "I" + 64 hex, without the NUL */

/* Writes the text form and a NUL into out. */
void ock_identifier_format(const uint8_t id[OCK_IDENTIFIER_LEN], char out[OCK_IDENTIFIER_TEXT_LEN + 1]);
/* Parses "I" + 64 hex digits (either case; surrounding whitespace ignored,
 * as Ockam trims). Returns 0 or OCK_EINVAL. */
int ock_identifier_parse(const char *s, size_t n, uint8_t id[OCK_IDENTIFIER_LEN]);

#endif

/* The subset of CBOR (RFC 8949) that Ockam's messages use: unsigned ints,
 * byte and text strings, arrays, booleans, null. The decoder reads from a
 * bounded cursor and never reads past its end; it accepts what minicbor accepts
 * (any integer width, definite or indefinite arrays, definite strings only). */
#ifndef OCK_CBOR_H
#define OCK_CBOR_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum {
  OCK_CBOR_UINT = 0,
  OCK_CBOR_NINT = 1,
  OCK_CBOR_BYTES = 2,
  OCK_CBOR_TEXT = 3,
  OCK_CBOR_ARRAY = 4,
  OCK_CBOR_MAP = 5,
  OCK_CBOR_TAG = 6,
  OCK_CBOR_SIMPLE = 7,
};

/* Deepest nesting skipped before a message is called hostile. */
#define OCK_CBOR_MAX_DEPTH 16

typedef struct {
  const uint8_t *p;
  const uint8_t *end;
} ock_cbor_reader;

typedef struct {
  int major;
  int indefinite; /* arrays/maps/strings with additional info 31 */
  uint64_t value; /* the argument: an int's value, a length, or a simple value */
} ock_cbor_head;

/* Reads from the n bytes at p (not copied: they must outlive the reader). */
void ock_cbor_reader_init(ock_cbor_reader *r, const void *p, size_t n);
/* Reads one head. Returns 0 or OCK_EPROTO. A break (0xff) is major 7, value 31. */
int ock_cbor_read_head(ock_cbor_reader *r, ock_cbor_head *h);
/* Reads the head of an array; *count is its length or -1 when indefinite. */
int ock_cbor_read_array(ock_cbor_reader *r, int64_t *count);
/* True (and consumes it) when the next byte is a break, for indefinite arrays. */
int ock_cbor_at_break(ock_cbor_reader *r);
/* Reads an unsigned integer. Returns 0 or OCK_EPROTO. */
int ock_cbor_read_uint(ock_cbor_reader *r, uint64_t *v);
/* Reads a definite byte (or text) string as a view into the input. */
int ock_cbor_read_bytes(ock_cbor_reader *r, const uint8_t **p, size_t *n);
int ock_cbor_read_text(ock_cbor_reader *r, const uint8_t **p, size_t *n);
/* Skips one whole item, nested up to OCK_CBOR_MAX_DEPTH. */
int ock_cbor_skip(ock_cbor_reader *r);
/* Reads false (0xf4) or true (0xf5) into *v (0 or 1). */
int ock_cbor_read_bool(ock_cbor_reader *r, int *v);
/* True (and consumes it) when the next item is null (0xf6). */
int ock_cbor_at_null(ock_cbor_reader *r);

/* Arrays read as minicbor reads a struct: `count` from ock_cbor_read_array
 * (-1 when indefinite), `i` the number of elements read so far. */
/* True when element i exists; for an indefinite array it looks for the
 * break without consuming it. */
int ock_cbor_array_more(ock_cbor_reader *r, int64_t count, int64_t i);
/* Skips the elements from i on, and the break of an indefinite array:
 * fields a newer peer added are ignored. */
int ock_cbor_array_finish(ock_cbor_reader *r, int64_t count, int64_t i);

/* Encoders append the shortest form. They return 0 or OCK_ENOMEM. */
int ock_cbor_put_head(ock_buf *b, int major, uint64_t value);
int ock_cbor_put_bytes(ock_buf *b, const void *p, size_t n);
int ock_cbor_put_text(ock_buf *b, const void *p, size_t n);
/* Size in bytes of the head ock_cbor_put_head would write. */
size_t ock_cbor_head_size(uint64_t value);

#endif

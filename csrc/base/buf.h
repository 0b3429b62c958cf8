/* A growable byte buffer. Grows geometrically; never shrinks unless asked. */
#ifndef OCK_BUF_H
#define OCK_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint8_t *data;
  size_t len;
  size_t cap;
} ock_buf;

/* An empty buffer that owns no memory yet. */
void ock_buf_init(ock_buf *b);
/* Frees the memory; the buffer is empty and reusable after. */
void ock_buf_free(ock_buf *b);
/* Makes room for `extra` more bytes after len. Returns 0 or OCK_ENOMEM. */
int ock_buf_reserve(ock_buf *b, size_t extra);
/* The same without doubling: room for exactly `extra` more bytes (a frame
 * whose size is known). */
int ock_buf_reserve_exact(ock_buf *b, size_t extra);
/* Appends n bytes (one byte). Return 0 or OCK_ENOMEM (b unchanged). */
int ock_buf_append(ock_buf *b, const void *p, size_t n);
int ock_buf_push(ock_buf *b, uint8_t byte);
/* Drops the first n bytes, moving the rest to the front. */
void ock_buf_consume(ock_buf *b, size_t n);
/* Gives memory back when a large buffer holds little. */
void ock_buf_shrink(ock_buf *b, size_t keep_cap);

#endif

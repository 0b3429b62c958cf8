#include "base/buf.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

void ock_buf_init(ock_buf *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void ock_buf_free(ock_buf *b) {
  free(b->data);
  ock_buf_init(b);
}

int ock_buf_reserve_exact(ock_buf *b, size_t extra) {
  if (extra > SIZE_MAX - b->len) return OCK_ENOMEM;
  size_t need = b->len + extra;
  if (need <= b->cap) return 0;
  uint8_t *p = realloc(b->data, need);
  if (!p) return OCK_ENOMEM;
  b->data = p;
  b->cap = need;
  return 0;
}

int ock_buf_reserve(ock_buf *b, size_t extra) {
  if (extra > SIZE_MAX - b->len) return OCK_ENOMEM;
  size_t need = b->len + extra;
  if (need <= b->cap) return 0;
  /* a first allocation is exact (a pooled write buffer then fits the next
   * frame of the same size); growth after that doubles */
  size_t cap = b->cap ? b->cap : need;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  uint8_t *p = realloc(b->data, cap);
  if (!p) return OCK_ENOMEM;
  b->data = p;
  b->cap = cap;
  return 0;
}

int ock_buf_append(ock_buf *b, const void *p, size_t n) {
  int rc = ock_buf_reserve(b, n);
  if (rc) return rc;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  return 0;
}

int ock_buf_push(ock_buf *b, uint8_t byte) { return ock_buf_append(b, &byte, 1); }

void ock_buf_consume(ock_buf *b, size_t n) {
  if (n >= b->len) {
    b->len = 0;
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
}

void ock_buf_shrink(ock_buf *b, size_t keep_cap) {
  if (b->cap <= keep_cap || b->len > keep_cap) return;
  if (keep_cap == 0) { /* realloc(p, 0) frees p and returns NULL: no dangling pointer */
    ock_buf_free(b);
    return;
  }
  uint8_t *p = realloc(b->data, keep_cap);
  if (!p) return; /* keeping the big block is harmless */
  b->data = p;
  b->cap = keep_cap;
}

/* mremap is a GNU extension */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "base/buf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/err.h"

/* Blocks of this size or more are mapped directly, never taken from malloc.
 * glibc raises its mmap threshold each time a mapped block is freed (up to
 * 32 MiB), after which large frame buffers come from the heap and freeing
 * them may not give the memory back: a peer that announces 16 MiB frames and
 * goes away would leave the node tens of MiB larger. A mapping is returned
 * to the system by munmap, always. The rule "mapped iff cap >= MAP_MIN" is
 * the only state: no flag to keep in step. */
#define MAP_MIN ((size_t)1 << 20)

static size_t page_round(size_t n) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  return n > SIZE_MAX - page ? 0 : (n + page - 1) / page * page;
}

static uint8_t *map_block(size_t cap) {
  void *p = mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

static void release(uint8_t *data, size_t cap) {
  if (cap >= MAP_MIN)
    munmap(data, cap);
  else
    free(data);
}

/* Moves b to a block of exactly `cap` bytes (page-rounded when mapped),
 * keeping min(len, cap) bytes. Returns 0 or OCK_ENOMEM (b unchanged). */
static int resize(ock_buf *b, size_t cap) {
  uint8_t *p;
  if (cap >= MAP_MIN) {
    cap = page_round(cap);
    if (!cap) return OCK_ENOMEM;
    if (b->cap >= MAP_MIN) {
      void *q = mremap(b->data, b->cap, cap, MREMAP_MAYMOVE);
      p = q == MAP_FAILED ? NULL : q;
    } else {
      p = map_block(cap);
      if (p && b->len) memcpy(p, b->data, b->len);
      if (p) free(b->data);
    }
  } else if (b->cap >= MAP_MIN) {
    p = malloc(cap);
    if (p) memcpy(p, b->data, b->len < cap ? b->len : cap);
    if (p) munmap(b->data, b->cap);
  } else {
    p = realloc(b->data, cap);
  }
  if (!p) return OCK_ENOMEM;
  b->data = p;
  b->cap = cap;
  if (b->len > cap) b->len = cap;
  return 0;
}

void ock_buf_init(ock_buf *b) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

void ock_buf_free(ock_buf *b) {
  if (b->data) release(b->data, b->cap);
  ock_buf_init(b);
}

int ock_buf_reserve_exact(ock_buf *b, size_t extra) {
  if (extra > SIZE_MAX - b->len) return OCK_ENOMEM;
  size_t need = b->len + extra;
  if (need <= b->cap) return 0;
  return resize(b, need);
}

int ock_buf_reserve(ock_buf *b, size_t extra) {
  if (extra > SIZE_MAX - b->len) return OCK_ENOMEM;
  size_t need = b->len + extra;
  if (need <= b->cap) return 0;
  /* a first allocation is exact (a pooled write buffer then fits the next
   * frame of the same size); growth after that doubles */
  size_t cap = b->cap ? b->cap : need;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  return resize(b, cap);
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
  (void)resize(b, keep_cap); /* on failure keeping the big block is harmless */
}

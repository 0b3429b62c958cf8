#include "transport/wpool.h"

#include <stdlib.h>

#include "base/err.h"

/* Enough for a stream in steady state to write without allocating, small
 * enough that an idle connection pins at most 1 MiB here. */
#define POOL_MAX 4               /* requests kept per stream */
#define KEEP_CAP (272 * 1024)    /* bigger buffers are given back; a 256 KiB portal chunk and its frame fit */

void ock_wpool_init(ock_wpool *p) {
  p->free = NULL;
  p->len = 0;
}

ock_wreq *ock_wpool_get(ock_wpool *p) {
  ock_wreq *w = p->free;
  if (w) {
    p->free = w->next;
    p->len--;
    w->buf.len = 0;
    return w;
  }
  w = calloc(1, sizeof *w);
  if (w) ock_buf_init(&w->buf);
  return w;
}

void ock_wpool_put(ock_wpool *p, ock_wreq *w) {
  if (p->len >= POOL_MAX || w->buf.cap > KEEP_CAP) {
    ock_buf_free(&w->buf);
    free(w);
    return;
  }
  w->next = p->free;
  p->free = w;
  p->len++;
}

void ock_wpool_free(ock_wpool *p) {
  for (ock_wreq *w = p->free, *next; w; w = next) {
    next = w->next;
    ock_buf_free(&w->buf);
    free(w);
  }
  ock_wpool_init(p);
}

int ock_wpool_write(ock_wpool *p, ock_wreq *w, uv_stream_t *s, uv_write_cb cb) {
  uv_buf_t b = uv_buf_init((char *)w->buf.data, (unsigned)w->buf.len);
  int rc = uv_write(&w->req, s, &b, 1, cb);
  if (rc) ock_wpool_put(p, w);
  return rc;
}

/* Appends to b what is left of bufs after their first `skip` bytes. */
static int copy_rest(ock_buf *b, const uv_buf_t *bufs, unsigned n, size_t skip) {
  for (unsigned i = 0; i < n; i++) {
    size_t k = skip < bufs[i].len ? skip : bufs[i].len;
    skip -= k;
    if (ock_buf_append(b, bufs[i].base + k, bufs[i].len - k)) return OCK_ENOMEM;
  }
  return 0;
}

int ock_wpool_send(ock_wpool *p, uv_stream_t *s, const uv_buf_t *bufs, unsigned n, int direct, uv_write_cb cb,
                   void *owner, size_t *written) {
  size_t total = 0;
  for (unsigned i = 0; i < n; i++) total += bufs[i].len;
  *written = 0;
  if (direct) {
    int k = uv_try_write(s, bufs, n);
    if (k < 0 && k != UV_EAGAIN) return k;
    *written = k > 0 ? (size_t)k : 0;
  }
  if (*written == total) return 0;
  ock_wreq *w = ock_wpool_get(p);
  if (!w) return OCK_ENOMEM;
  /* one exact block for the rest: appended part by part, the buffer would
   * double past KEEP_CAP (a 256 KiB chunk after its small head ends in a
   * 400 KB block) and go back to the system at every put, so each queued
   * frame would land in freshly faulted pages */
  if (ock_buf_reserve_exact(&w->buf, total - *written) || copy_rest(&w->buf, bufs, n, *written)) {
    ock_wpool_put(p, w);
    return OCK_ENOMEM;
  }
  w->owner = owner;
  return ock_wpool_write(p, w, s, cb);
}

/* Write requests with their buffers, kept for reuse so that a connection in
 * steady state writes without allocating. Each stream owns one pool; a pool
 * and its requests belong to the loop thread. */
#ifndef OCK_WPOOL_H
#define OCK_WPOOL_H

#include <stddef.h>
#include <uv.h>

#include "base/buf.h"

typedef struct ock_wreq ock_wreq;
struct ock_wreq {
  uv_write_t req;
  ock_buf buf;
  void *owner;
  ock_wreq *next;
};

typedef struct {
  ock_wreq *free;
  int len;
} ock_wpool;

/* An empty pool. */
void ock_wpool_init(ock_wpool *p);
/* A request with an empty buffer (len 0, capacity kept). NULL when out of memory. */
ock_wreq *ock_wpool_get(ock_wpool *p);
/* Returns a request; big buffers and requests past the pool's size are freed. */
void ock_wpool_put(ock_wpool *p, ock_wreq *w);
/* Frees every pooled request (none may be in flight). */
void ock_wpool_free(ock_wpool *p);
/* Writes w->buf on stream s; cb gets w back. On error w is back in the pool. */
int ock_wpool_write(ock_wpool *p, ock_wreq *w, uv_stream_t *s, uv_write_cb cb);
/* Writes bufs[0..n) on s without copying what the kernel takes at once:
 * when `direct` (nothing of the caller's is queued on s, so these bytes
 * cannot overtake any) it tries the socket first, then copies only the rest
 * into one pooled request written with cb (w->owner = owner). The caller's
 * bufs may go once this returns. *written gets the bytes the kernel took at
 * once, also on error; the rest, total - *written, is queued on success.
 * Returns 0, a libuv error from the socket, or OCK_ENOMEM (nothing queued). */
int ock_wpool_send(ock_wpool *p, uv_stream_t *s, const uv_buf_t *bufs, unsigned n, int direct, uv_write_cb cb,
                   void *owner, size_t *written);

#endif

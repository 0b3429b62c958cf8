/* A routed message and its TCP wire form, TcpTransportMessage (spec 2.2):
 * CBOR [onward route, return route, payload bytes, ?tracing text]. Decoded
 * payload and tracing are views into the frame they came from: valid while the
 * message is being dispatched, copied by whoever keeps them longer. */
#ifndef OCK_MESSAGE_H
#define OCK_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "codec/cbor.h"
#include "codec/route.h"

#define OCK_FRAME_MAX (16u * 1024 * 1024) /* MAX_MESSAGE_SIZE of the Rust transport */

typedef struct {
  ock_route onward;
  ock_route ret;
  const uint8_t *payload;
  size_t payload_len;
  const uint8_t *tracing; /* NULL when absent or null */
  size_t tracing_len;
} ock_msg;

/* Starts a message with empty routes and the given payload view. */
void ock_msg_init(ock_msg *m, const void *payload, size_t len);
/* Decodes a CBOR body. Returns 0, OCK_EPROTO (malformed) or OCK_ETOOBIG (a
 * route over the limits of route.h). */
int ock_msg_decode(const uint8_t *p, size_t n, ock_msg *m);
/* Appends a whole frame: u32 big-endian body length, then the CBOR body. The
 * tracing field is written only when m->tracing is set (array(4)). */
int ock_frame_append(ock_buf *b, const ock_msg *m);
/* The same frame in three parts, so the payload need not be copied: head
 * gets the length, the routes and the payload's CBOR header; tail gets the
 * tracing field (or nothing). The frame is head, m->payload, tail. Both
 * buffers are reset first. */
int ock_frame_parts(ock_buf *head, ock_buf *tail, const ock_msg *m);

/* A route alone in CBOR, [[tt, bytes], ...], as this frame carries it and as
 * a secure channel's plaintext carries its inner routes. The reader returns
 * 0, OCK_EPROTO or OCK_ETOOBIG; the writer 0 or OCK_ENOMEM. */
int ock_route_cbor_read(ock_cbor_reader *r, ock_route *route);
int ock_route_cbor_put(ock_buf *b, const ock_route *route);

#endif

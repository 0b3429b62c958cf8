/* Portal messages (spec 6): Ockam's PortalMessage, BARE-encoded, and this
 * project's extensions between its own nodes (spec 6.8): a capability byte
 * in Ping/Pong, 04 Eof (half-close), 05 Credit (uleb128 bytes granted) and,
 * with OCK_PORTAL_CAP_SEQ, Ockam's packet counter on every Payload and Eof
 * and cumulative credit. A Rust peer sends bare 00/01 and never sees any
 * extension. */
#ifndef OCK_PORTAL_MSG_H
#define OCK_PORTAL_MSG_H

#include <stddef.h>
#include <stdint.h>

enum {
  OCK_PORTAL_PING = 0,
  OCK_PORTAL_PONG = 1,
  OCK_PORTAL_DISCONNECT = 2,
  OCK_PORTAL_PAYLOAD = 3,
  OCK_PORTAL_EOF = 4,    /* ours, only after OCK_PORTAL_CAP_HALF_CLOSE */
  OCK_PORTAL_CREDIT = 5, /* ours, only after OCK_PORTAL_CAP_CREDIT */
};

/* CAP_SEQ: the stream is numbered, so a message lost or reordered on a lossy
 * leg (UDP) ends the connection instead of leaving a hole in the bytes, and
 * credit is a running total that a lost Credit cannot shrink. */
enum { OCK_PORTAL_CAP_HALF_CLOSE = 1, OCK_PORTAL_CAP_CREDIT = 2, OCK_PORTAL_CAP_SEQ = 4, OCK_PORTAL_CAPS = 7 };
/* The counter trailer: has_counter (1) and a u16 little-endian. */
#define OCK_PORTAL_COUNTER_LEN 3

/* Chunk sizes: Ockam 0.139 reads 48 KiB per Payload, and older receivers
 * expect no more; between our nodes bigger chunks halve the per-message cost. */
#define OCK_PORTAL_CHUNK_RUST (48 * 1024)
#define OCK_PORTAL_CHUNK (256 * 1024)
/* Over a UDP leg: a Payload that fits in 16 datagrams with its routes (docs/udp.md). */
#define OCK_PORTAL_CHUNK_UDP (15 * 493)
/* Bytes a sender may have in flight per portal connection (credit mode). */
#define OCK_PORTAL_WINDOW (2 * 1024 * 1024)

typedef struct {
  int type;
  int caps;              /* PING, PONG */
  const uint8_t *data;   /* PAYLOAD */
  size_t len;
  uint64_t credit;       /* CREDIT */
  int has_counter;       /* PAYLOAD, EOF */
  uint16_t counter;
} ock_portal_msg;

/* Decodes a portal message (the payload of a message between portal workers).
 * Returns 0 or OCK_EPROTO; m->data points into p. */
int ock_portal_msg_decode(const uint8_t *p, size_t n, ock_portal_msg *m);
/* Writes a Payload header for len bytes into out; returns its size (<= 11). */
size_t ock_portal_payload_header(uint8_t out[11], size_t len);
/* Writes the counter trailer (has_counter 1, c little-endian); returns its size. */
size_t ock_portal_counter_write(uint8_t out[OCK_PORTAL_COUNTER_LEN], uint16_t c);

#endif

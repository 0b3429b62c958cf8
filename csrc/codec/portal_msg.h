/* Portal messages (spec 6): Ockam's PortalMessage, BARE-encoded, and this
 * project's extensions between its own nodes (spec 6.8): a capability byte
 * in Ping/Pong, 04 Eof (half-close) and 05 Credit (uleb128 bytes granted). A
 * Rust peer sends bare 00/01 and never sees either extension. */
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

enum { OCK_PORTAL_CAP_HALF_CLOSE = 1, OCK_PORTAL_CAP_CREDIT = 2, OCK_PORTAL_CAPS = 3 };

/* Chunk sizes: Ockam 0.139 reads 48 KiB per Payload, and older receivers
 * expect no more; between our nodes bigger chunks halve the per-message cost. */
#define OCK_PORTAL_CHUNK_RUST (48 * 1024)
#define OCK_PORTAL_CHUNK (256 * 1024)
/* Bytes a sender may have in flight per portal connection (credit mode). */
#define OCK_PORTAL_WINDOW (2 * 1024 * 1024)

typedef struct {
  int type;
  int caps;              /* PING, PONG */
  const uint8_t *data;   /* PAYLOAD */
  size_t len;
  uint64_t credit;       /* CREDIT */
} ock_portal_msg;

/* Decodes a portal message (the payload of a message between portal workers).
 * Returns 0 or OCK_EPROTO; m->data points into p. */
int ock_portal_msg_decode(const uint8_t *p, size_t n, ock_portal_msg *m);
/* Writes a Payload header for len bytes into out; returns its size (<= 11). */
size_t ock_portal_payload_header(uint8_t out[11], size_t len);

#endif

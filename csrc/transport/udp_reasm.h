/* Putting UDP routing messages back together from their datagrams
 * (codec/udp_msg.h), per (peer, routing number), within bounds a hostile peer
 * cannot stretch: at most per_peer partial messages per peer and `slots` in
 * all (the oldest goes first), `max_message` bytes per message, `max_buffered`
 * bytes in all, `timeout_ms` for a partial message to complete. Parts must
 * come in order (each at the offset where the last one ended), as Ockam's
 * sender sends them: anything else drops the message. Best effort: a message
 * with a datagram lost is dropped, never delivered with a hole. No I/O here:
 * the caller passes the clock. Loop thread only (one per bind). */
#ifndef OCK_UDP_REASM_H
#define OCK_UDP_REASM_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "codec/udp_msg.h"

/* Room for a peer's key: the caller's compact form of its address. */
#define OCK_UDP_KEY_MAX 20

typedef struct {
  int used;
  uint8_t key[OCK_UDP_KEY_MAX];
  size_t key_len;
  uint16_t routing_number;
  uint64_t started_ms;
  uint64_t seq; /* age order, for eviction */
  ock_buf data;
} ock_udp_partial;

typedef struct {
  size_t per_peer, max_message, max_buffered;
  uint64_t timeout_ms;
  ock_udp_partial *slots;
  size_t nslots;
  size_t buffered; /* bytes held by partial messages */
  uint64_t seq;
  ock_buf done;    /* the last message put together */
  /* messages dropped: a datagram missing, out of order, expired or evicted
   * (and stray parts of a message whose start was not seen); over max_message
   * or max_buffered */
  uint64_t dropped_incomplete, dropped_too_large;
} ock_udp_reasm;

/* Sets r up with room for nslots partial messages. 0 or OCK_ENOMEM. */
int ock_udp_reasm_init(ock_udp_reasm *r, size_t nslots, size_t per_peer, size_t max_message, size_t max_buffered,
                       uint64_t timeout_ms);
void ock_udp_reasm_free(ock_udp_reasm *r);
/* Takes one decoded part from peer `key`. Returns 1 when it completes a
 * message: *body, *len then point to its bytes (into the part's payload or
 * into r), valid until the next call on r. Returns 0 otherwise (kept, or
 * dropped and counted). */
int ock_udp_reasm_add(ock_udp_reasm *r, const void *key, size_t key_len, const ock_udp_part *part, uint64_t now_ms,
                      const uint8_t **body, size_t *len);
/* Drops (and counts) the partial messages older than timeout_ms. Returns how
 * many partial messages are left. */
size_t ock_udp_reasm_expire(ock_udp_reasm *r, uint64_t now_ms);
/* Partial messages held now. */
size_t ock_udp_reasm_pending(const ock_udp_reasm *r);

#endif

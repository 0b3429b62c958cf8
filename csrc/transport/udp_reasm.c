#include "transport/udp_reasm.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"

int ock_udp_reasm_init(ock_udp_reasm *r, size_t nslots, size_t per_peer, size_t max_message, size_t max_buffered,
                       uint64_t timeout_ms) {
  memset(r, 0, sizeof *r);
  r->slots = calloc(nslots ? nslots : 1, sizeof *r->slots);
  if (!r->slots) return OCK_ENOMEM;
  r->nslots = nslots ? nslots : 1;
  r->per_peer = per_peer ? per_peer : 1;
  r->max_message = max_message;
  r->max_buffered = max_buffered;
  r->timeout_ms = timeout_ms;
  for (size_t i = 0; i < r->nslots; i++) ock_buf_init(&r->slots[i].data);
  ock_buf_init(&r->done);
  return 0;
}

void ock_udp_reasm_free(ock_udp_reasm *r) {
  for (size_t i = 0; r->slots && i < r->nslots; i++) ock_buf_free(&r->slots[i].data);
  free(r->slots);
  ock_buf_free(&r->done);
  memset(r, 0, sizeof *r);
}

/* Frees slot s; the memory of a big message goes back at once. */
static void release(ock_udp_reasm *r, ock_udp_partial *s) {
  r->buffered -= s->data.len;
  ock_buf_free(&s->data);
  s->used = 0;
}

static void drop(ock_udp_reasm *r, ock_udp_partial *s) {
  release(r, s);
  r->dropped_incomplete++;
}

static int same_peer(const ock_udp_partial *s, const void *key, size_t key_len) {
  return s->used && s->key_len == key_len && memcmp(s->key, key, key_len) == 0;
}

static ock_udp_partial *find(ock_udp_reasm *r, const void *key, size_t key_len, uint16_t rn) {
  for (size_t i = 0; i < r->nslots; i++)
    if (same_peer(&r->slots[i], key, key_len) && r->slots[i].routing_number == rn) return &r->slots[i];
  return NULL;
}

/* A free slot for a new message of this peer: the peer's oldest partial
 * message goes when it has per_peer of them, the oldest of all when every
 * slot is taken. */
static ock_udp_partial *take_slot(ock_udp_reasm *r, const void *key, size_t key_len) {
  ock_udp_partial *free_slot = NULL, *oldest = NULL, *peer_oldest = NULL;
  size_t mine = 0;
  for (size_t i = 0; i < r->nslots; i++) {
    ock_udp_partial *s = &r->slots[i];
    if (!s->used) {
      if (!free_slot) free_slot = s;
      continue;
    }
    if (!oldest || s->seq < oldest->seq) oldest = s;
    if (same_peer(s, key, key_len)) {
      mine++;
      if (!peer_oldest || s->seq < peer_oldest->seq) peer_oldest = s;
    }
  }
  if (mine >= r->per_peer) {
    drop(r, peer_oldest);
    return peer_oldest;
  }
  if (free_slot) return free_slot;
  drop(r, oldest);
  return oldest;
}

static int start(ock_udp_reasm *r, const void *key, size_t key_len, const ock_udp_part *part, uint64_t now) {
  ock_udp_partial *s = take_slot(r, key, key_len);
  if (ock_buf_append(&s->data, part->payload, part->payload_len)) {
    r->dropped_incomplete++;
    return 0;
  }
  s->used = 1;
  memcpy(s->key, key, key_len);
  s->key_len = key_len;
  s->routing_number = part->routing_number;
  s->started_ms = now;
  s->seq = ++r->seq;
  r->buffered += part->payload_len;
  return 0;
}

/* The part goes at the end of s; 1 when it was the last. */
static int extend(ock_udp_reasm *r, ock_udp_partial *s, const ock_udp_part *part, const uint8_t **body, size_t *len) {
  if (part->offset != s->data.len || ock_buf_append(&s->data, part->payload, part->payload_len)) {
    drop(r, s); /* a datagram lost, late or repeated: this message cannot be whole */
    return 0;
  }
  r->buffered += part->payload_len;
  if (!part->is_last) return 0;
  /* the message moves to r->done, where it stays until the next call */
  ock_buf_free(&r->done);
  r->done = s->data;
  r->buffered -= s->data.len;
  ock_buf_init(&s->data);
  s->used = 0;
  *body = r->done.data;
  *len = r->done.len;
  return 1;
}

int ock_udp_reasm_add(ock_udp_reasm *r, const void *key, size_t key_len, const ock_udp_part *part, uint64_t now_ms,
                      const uint8_t **body, size_t *len) {
  if (key_len > OCK_UDP_KEY_MAX) return 0;
  ock_udp_reasm_expire(r, now_ms);
  ock_udp_partial *s = find(r, key, key_len, part->routing_number);
  uint64_t end = (uint64_t)part->offset + part->payload_len;
  if (end > r->max_message || (r->buffered + part->payload_len > r->max_buffered && !(part->offset == 0 && part->is_last))) {
    if (s) release(r, s);
    r->dropped_too_large++;
    return 0;
  }
  if (s) return extend(r, s, part, body, len);
  if (part->offset != 0) { /* its start was lost, or never sent */
    r->dropped_incomplete++;
    return 0;
  }
  if (part->is_last) { /* a message in one datagram: no copy */
    *body = part->payload;
    *len = part->payload_len;
    return 1;
  }
  return start(r, key, key_len, part, now_ms);
}

size_t ock_udp_reasm_expire(ock_udp_reasm *r, uint64_t now_ms) {
  size_t left = 0;
  for (size_t i = 0; i < r->nslots; i++) {
    ock_udp_partial *s = &r->slots[i];
    if (!s->used) continue;
    if (now_ms - s->started_ms >= r->timeout_ms)
      drop(r, s);
    else
      left++;
  }
  return left;
}

size_t ock_udp_reasm_pending(const ock_udp_reasm *r) {
  size_t n = 0;
  for (size_t i = 0; i < r->nslots; i++) n += r->slots[i].used != 0;
  return n;
}

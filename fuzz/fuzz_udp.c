/* Ockam's UDP datagrams (codec/udp_msg.h) and their reassembly
 * (transport/udp_reasm.h), as a bind's receive path runs them. The input is
 * records: peer byte (4 peers), clock step byte (ms), u16 big-endian length,
 * then that many bytes of one datagram. A decoded datagram re-encodes to one
 * that decodes equal; the reassembly stays within its bounds (partial
 * messages per peer and in all, bytes held, bytes per message) after every
 * datagram; a whole message ends with the last datagram's payload and is as
 * long as its offset says; it is then decoded as a routing message. */
#include "fuzz.h"

#include "base/err.h"
#include "codec/message.h"
#include "codec/udp_msg.h"
#include "transport/udp_reasm.h"

#define SLOTS 4
#define PER_PEER 2
#define MAX_MESSAGE 4096
#define MAX_BUFFERED 3000
#define TIMEOUT_MS 50

static void check_round_trip(const ock_udp_part *p) {
  ock_buf b;
  ock_buf_init(&b);
  if (ock_udp_part_encode(&b, p) == 0) {
    ock_udp_part q;
    CHECK(ock_udp_part_decode(b.data, b.len, &q) == 0);
    CHECK(q.version == p->version && q.routing_number == p->routing_number && q.offset == p->offset);
    CHECK(q.is_last == p->is_last && q.payload_len == p->payload_len);
    CHECK(p->payload_len == 0 || memcmp(q.payload, p->payload, p->payload_len) == 0);
    if (p->payload_len <= OCK_UDP_MAX_PAYLOAD && p->version <= 255) CHECK(b.len <= OCK_UDP_MAX_WIRE);
  }
  ock_buf_free(&b);
}

static void check_bounds(const ock_udp_reasm *r) {
  size_t held = 0, used = 0;
  for (size_t i = 0; i < r->nslots; i++) {
    const ock_udp_partial *s = &r->slots[i];
    if (!s->used) continue;
    used++;
    held += s->data.len;
    CHECK(s->data.len <= MAX_MESSAGE);
    size_t mine = 0;
    for (size_t k = 0; k < r->nslots; k++)
      mine += r->slots[k].used && r->slots[k].key_len == s->key_len && !memcmp(r->slots[k].key, s->key, s->key_len);
    CHECK(mine <= PER_PEER);
  }
  CHECK(used <= SLOTS && held == r->buffered && held <= MAX_BUFFERED);
}

static void check_whole(const ock_udp_part *p, const uint8_t *body, size_t len) {
  CHECK(len == (size_t)p->offset + p->payload_len && len <= MAX_MESSAGE);
  CHECK(p->payload_len == 0 || memcmp(body + p->offset, p->payload, p->payload_len) == 0);
  ock_msg m;
  int rc = ock_msg_decode(body, len, &m);
  CHECK(rc == 0 || rc == OCK_EPROTO || rc == OCK_ETOOBIG);
  if (rc == 0) {
    fuzz_check_route(&m.onward);
    fuzz_check_route(&m.ret);
    CHECK(fuzz_within(m.payload, m.payload_len, body, len));
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ock_udp_reasm r;
  if (ock_udp_reasm_init(&r, SLOTS, PER_PEER, MAX_MESSAGE, MAX_BUFFERED, TIMEOUT_MS)) return 0;
  uint64_t now = 0;
  size_t at = 0;
  while (size - at >= 4) {
    uint8_t key[7] = {4, 0, data[at] & 3, 127, 0, 0, 1};
    now += data[at + 1];
    size_t n = (size_t)data[at + 2] << 8 | data[at + 3];
    at += 4;
    if (n > size - at) n = size - at;
    uint8_t *dgram = malloc(n ? n : 1); /* exact size: ASan sees any read past it */
    if (!dgram) break;
    if (n) memcpy(dgram, data + at, n);
    at += n;
    ock_udp_part p;
    int rc = ock_udp_part_decode(dgram, n, &p);
    if (rc == 0) {
      CHECK(fuzz_within(p.payload, p.payload_len, dgram, n));
      check_round_trip(&p);
      const uint8_t *body;
      size_t len;
      if (p.version == OCK_UDP_VERSION && ock_udp_reasm_add(&r, key, sizeof key, &p, now, &body, &len))
        check_whole(&p, body, len);
      check_bounds(&r);
    } else {
      CHECK(rc == OCK_EPROTO);
    }
    free(dgram);
  }
  ock_udp_reasm_expire(&r, now + TIMEOUT_MS);
  CHECK(ock_udp_reasm_pending(&r) == 0 && r.buffered == 0);
  ock_udp_reasm_free(&r);
  return 0;
}

/* Ockam's UDP datagram codec (codec/udp_msg.h) and reassembly (transport/udp_reasm.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "codec/udp_msg.h"
#include "test.h"
#include "transport/udp_reasm.h"

/* docs/udp.md: spec 2.5's message in one datagram, routing number 0x1234. */
#define BODY_2_5 "83 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 46 05 68 65 6c 6c 6f"
#define DGRAM_2_5 "85 01 19 12 34 00 f5 57 " BODY_2_5

static const uint8_t KEY_A[] = {4, 0, 1, 127, 0, 0, 1}, KEY_B[] = {4, 0, 2, 127, 0, 0, 1};

void test_udp_part_spec_example(void) {
  ock_buf want, body, got;
  ock_buf_init(&want), ock_buf_init(&body), ock_buf_init(&got);
  b_hex(&want, DGRAM_2_5);
  b_hex(&body, BODY_2_5);
  ock_udp_part part = {OCK_UDP_VERSION, 0x1234, 0, 1, body.data, body.len};
  CHECK_EQ(ock_udp_part_encode(&got, &part), 0);
  CHECK_BYTES(got.data, got.len, want.data, want.len);
  /* the routing message itself is the TCP body */
  ock_msg m;
  ock_msg_init(&m, "\x05hello", 6);
  ock_route_push_back(&m.onward, 0, "echo", 4);
  ock_route_push_back(&m.ret, 0, "app", 3);
  CHECK_EQ(ock_udp_routing_encode(&got, &m), 0);
  CHECK_BYTES(got.data, got.len, body.data, body.len);
  uint8_t *copy = t_dup(want.data, want.len);
  ock_udp_part d;
  CHECK_EQ(ock_udp_part_decode(copy, want.len, &d), 0);
  CHECK_EQ(d.version, 1);
  CHECK_EQ(d.routing_number, 0x1234);
  CHECK_EQ(d.offset, 0);
  CHECK_EQ(d.is_last, 1);
  CHECK_BYTES(d.payload, d.payload_len, body.data, body.len);
  free(copy);
  ock_buf_free(&want), ock_buf_free(&body), ock_buf_free(&got);
}

/* With every field at its widest, a full payload makes exactly 508 bytes (as
 * Ockam's test_max_size_max_protocol checks). */
void test_udp_part_max_size(void) {
  static uint8_t payload[OCK_UDP_MAX_PAYLOAD];
  ock_buf b;
  ock_buf_init(&b);
  ock_udp_part part = {255, 0xffff, 0xffffffffu, 1, payload, sizeof payload};
  CHECK_EQ(ock_udp_part_encode(&b, &part), 0);
  CHECK_EQ(b.len, OCK_UDP_MAX_WIRE);
  CHECK_EQ(ock_udp_part_count(0), 1);
  CHECK_EQ(ock_udp_part_count(493), 1);
  CHECK_EQ(ock_udp_part_count(494), 2);
  ock_buf_free(&b);
}

static int decode_hex(const char *hex) {
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, hex);
  uint8_t *copy = t_dup(b.data, b.len);
  ock_udp_part d;
  int rc = ock_udp_part_decode(copy, b.len, &d);
  free(copy);
  ock_buf_free(&b);
  return rc;
}

void test_udp_part_rejects_malformed(void) {
  CHECK_EQ(decode_hex("84 01 00 00 f5"), OCK_EPROTO);                /* four fields */
  CHECK_EQ(decode_hex("85 19 01 00 00 00 f5 40"), OCK_EPROTO);       /* version over u8 */
  CHECK_EQ(decode_hex("85 01 1a 00 01 00 00 00 f5 40"), OCK_EPROTO); /* routing number over u16 */
  CHECK_EQ(decode_hex("85 01 00 1b 00 00 00 01 00 00 00 00 f5 40"), OCK_EPROTO); /* offset over u32 */
  CHECK_EQ(decode_hex("85 01 00 00 01 40"), OCK_EPROTO);             /* is_last not a bool */
  CHECK_EQ(decode_hex("85 01 00 00 f5 45 01"), OCK_EPROTO);          /* payload cut short */
  CHECK_EQ(decode_hex("85 01 00 00 f5 40 00"), OCK_EPROTO);          /* a byte after the item */
  CHECK_EQ(decode_hex(""), OCK_EPROTO);
  CHECK_EQ(decode_hex("9f 01 00 00 f5 40 ff"), 0);                   /* indefinite array */
  CHECK_EQ(decode_hex("86 01 00 00 f5 40 63 61 62 63"), 0);          /* a sixth field is skipped */
}

/* Cuts body into parts as the sender does and feeds them to r from key. */
static int feed(ock_udp_reasm *r, const uint8_t *key, uint16_t rn, const uint8_t *body, size_t len, uint64_t now,
                const uint8_t **out, size_t *outlen) {
  size_t off = 0;
  int whole = 0;
  do {
    size_t take = len - off < OCK_UDP_MAX_PAYLOAD ? len - off : OCK_UDP_MAX_PAYLOAD;
    ock_udp_part p = {1, rn, (uint32_t)off, off + take == len, body + off, take};
    whole = ock_udp_reasm_add(r, key, 7, &p, now, out, outlen);
    off += take;
  } while (off < len);
  return whole;
}

void test_udp_routing_split_and_join(void) {
  ock_udp_reasm r;
  CHECK_EQ(ock_udp_reasm_init(&r, 8, 2, 1 << 20, 1 << 22, 5000), 0);
  size_t sizes[] = {1, 493, 494, 10000, 1 << 20};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    uint8_t *body = malloc(sizes[i]);
    for (size_t k = 0; k < sizes[i]; k++) body[k] = (uint8_t)(k * 31 + i);
    const uint8_t *out = NULL;
    size_t len = 0;
    CHECK_EQ(feed(&r, KEY_A, (uint16_t)i, body, sizes[i], 0, &out, &len), 1);
    CHECK_BYTES(out, len, body, sizes[i]);
    free(body);
  }
  CHECK_EQ(ock_udp_reasm_pending(&r), 0);
  CHECK_EQ(r.buffered, 0);
  CHECK_EQ(r.dropped_incomplete + r.dropped_too_large, 0);
  ock_udp_reasm_free(&r);
}

void test_udp_reasm_out_of_order_dropped(void) {
  ock_udp_reasm r;
  CHECK_EQ(ock_udp_reasm_init(&r, 8, 2, 1 << 20, 1 << 22, 5000), 0);
  uint8_t data[1000] = {0};
  const uint8_t *out;
  size_t len;
  ock_udp_part first = {1, 7, 0, 0, data, 493}, gap = {1, 7, 600, 1, data, 10};
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_A, 7, &first, 0, &out, &len), 0);
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_A, 7, &gap, 0, &out, &len), 0); /* is_last after a hole */
  CHECK_EQ(r.dropped_incomplete, 1);
  CHECK_EQ(ock_udp_reasm_pending(&r), 0);
  ock_udp_part stray = {1, 8, 493, 1, data, 10}; /* its start never came */
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_A, 7, &stray, 0, &out, &len), 0);
  CHECK_EQ(r.dropped_incomplete, 2);
  /* the same routing number from another peer is another message */
  ock_udp_part a0 = {1, 9, 0, 0, data, 3}, b0 = {1, 9, 0, 0, data + 3, 3}, a1 = {1, 9, 3, 1, data, 2};
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_A, 7, &a0, 0, &out, &len), 0);
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_B, 7, &b0, 0, &out, &len), 0);
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_A, 7, &a1, 0, &out, &len), 1);
  CHECK_EQ(len, 5);
  ock_udp_reasm_free(&r);
}

void test_udp_reasm_bounds(void) {
  ock_udp_reasm r;
  CHECK_EQ(ock_udp_reasm_init(&r, 4, 2, 1000, 1500, 5000), 0);
  uint8_t data[493] = {0};
  const uint8_t *out;
  size_t len;
  /* a peer with many partial messages keeps only per_peer of them */
  for (uint16_t rn = 0; rn < 10; rn++) {
    ock_udp_part p = {1, rn, 0, 0, data, 10};
    CHECK_EQ(ock_udp_reasm_add(&r, KEY_A, 7, &p, 0, &out, &len), 0);
  }
  CHECK_EQ(ock_udp_reasm_pending(&r), 2);
  CHECK_EQ(r.dropped_incomplete, 8);
  /* and another peer still gets its message through */
  ock_udp_part b0 = {1, 1, 0, 0, data, 5}, b1 = {1, 1, 5, 1, data, 5};
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_B, 7, &b0, 0, &out, &len), 0);
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_B, 7, &b1, 0, &out, &len), 1);
  CHECK_EQ(len, 10);
  /* over max_message, even in one datagram */
  ock_udp_part big = {1, 2, 900, 1, data, 200};
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_B, 7, &big, 0, &out, &len), 0);
  CHECK_EQ(r.dropped_too_large, 1);
  /* over max_buffered (1500 bytes held in all) */
  ock_udp_part c0 = {1, 3, 0, 0, data, 493}, c1 = {1, 3, 493, 0, data, 493}, c2 = {1, 3, 986, 0, data, 14};
  ock_udp_part d0 = {1, 4, 0, 0, data, 493};
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_B, 7, &c0, 0, &out, &len), 0);
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_B, 7, &c1, 0, &out, &len), 0);
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_B, 7, &c2, 0, &out, &len), 0);
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_B, 7, &d0, 0, &out, &len), 0);
  CHECK_EQ(r.dropped_too_large, 2);
  CHECK(r.buffered <= 1500);
  ock_udp_reasm_free(&r);
}

void test_udp_reasm_expiry(void) {
  ock_udp_reasm r;
  CHECK_EQ(ock_udp_reasm_init(&r, 4, 2, 1000, 5000, 100), 0);
  uint8_t data[10] = {0};
  const uint8_t *out;
  size_t len;
  ock_udp_part p0 = {1, 1, 0, 0, data, 5}, p1 = {1, 1, 5, 1, data, 5};
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_A, 7, &p0, 1000, &out, &len), 0);
  CHECK_EQ(ock_udp_reasm_expire(&r, 1099), 1);
  CHECK_EQ(ock_udp_reasm_expire(&r, 1100), 0);
  CHECK_EQ(r.dropped_incomplete, 1);
  CHECK_EQ(ock_udp_reasm_add(&r, KEY_A, 7, &p1, 1100, &out, &len), 0); /* too late: a stray */
  CHECK_EQ(r.buffered, 0);
  ock_udp_reasm_free(&r);
}

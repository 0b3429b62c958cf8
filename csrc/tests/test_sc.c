/* A secure channel's transport (secure/sc_cipher.h, sc_nonce.h,
 * sc_message.h): known-answer messages across key renewals, a channel from
 * a real handshake both ways, replays, forgeries, reordering inside and
 * outside the window, and the plaintext message codec. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "secure/sc_cipher.h"
#include "secure/sc_message.h"
#include "secure/sc_nonce.h"
#include "test.h"
#include "test_secure.h"

#define NOW 1800000000u

static int sealed(ock_sc_encryptor *e, const char *text, ock_buf *out) {
  size_t n = strlen(text);
  out->len = 0;
  if (ock_buf_reserve(out, n + OCK_SC_OVERHEAD)) return OCK_ENOMEM;
  int rc = ock_sc_encrypt(e, (const uint8_t *)text, n, out->data);
  if (!rc) out->len = n + OCK_SC_OVERHEAD;
  return rc;
}

/* Decrypts and compares with text; returns the decrypt's code. */
static int opened(ock_sc_decryptor *d, const ock_buf *in, const char *text, uint64_t want_nonce) {
  uint8_t out[256];
  size_t len = 0;
  uint64_t nonce = 0;
  int rc = ock_sc_decrypt(d, in->data, in->len, out, &len, &nonce);
  if (!rc) {
    CHECK_BYTES(out, len, text, strlen(text));
    CHECK_EQ(nonce, want_nonce);
  }
  return rc;
}

/* Values computed from the definitions: AES-256-GCM, key 00..1f renewed as
 * k' = AES-GCM(k, nonce u64::MAX, 32 zeros)[0..32] before nonces 32 and 64. */
void test_sc_known_answers(void) {
  static const struct {
    uint64_t nonce;
    const char *hex;
  } want[] = {
      {0, "000000000000000066d9d9b2da0e0c4679f3a82524f5e0499271e16f30"},
      {31, "000000000000001ffe037c6b72ace36bf4c886fc778b5a57477520cf85"},
      {32, "0000000000000020070e89c031af4e1366e0ae17d8624e1f50ebc94f93"},
      {64, "00000000000000404b605dec03ae8c538c0badca0b9706f0b296b5b342"},
  };
  uint8_t key[32];
  for (int i = 0; i < 32; i++) key[i] = (uint8_t)i;
  ock_sc_encryptor e;
  ock_sc_decryptor d;
  CHECK_EQ(ock_sc_encryptor_init(&e, key), 0);
  CHECK_EQ(ock_sc_decryptor_init(&d, key), 0);
  ock_buf msg, w;
  ock_buf_init(&msg);
  size_t k = 0;
  for (uint64_t n = 0; n <= 64; n++) {
    CHECK_EQ(sealed(&e, "hello", &msg), 0);
    CHECK_EQ(msg.len, 5 + 24);
    if (k < 4 && want[k].nonce == n) {
      ock_buf_init(&w);
      b_hex(&w, want[k].hex);
      CHECK_BYTES(msg.data, msg.len, w.data, w.len);
      ock_buf_free(&w);
      k++;
    }
    CHECK_EQ(opened(&d, &msg, "hello", n), 0);
  }
  CHECK_EQ(k, 4);
  CHECK_EQ(d.rekeys, 2);
  ock_buf_free(&msg);
  ock_sc_encryptor_free(&e);
  ock_sc_decryptor_free(&d);
}

/* Rust's check_nonce_tracker, step for step. */
void test_sc_nonce_window(void) {
  ock_sc_nonce_window w, next;
  const uint64_t K = OCK_SC_WINDOW;
  ock_sc_nonce_window_init(&w);
#define MARK(n) (ock_sc_nonce_window_check(&w, (n), &next) == 0 ? (w = next, 0) : OCK_ENONCE)
#define REFUSED(n) CHECK_EQ(ock_sc_nonce_window_check(&w, (n), &next), OCK_ENONCE)
  CHECK_EQ(MARK(0), 0);
  CHECK_EQ(MARK(1), 0);
  REFUSED(0);
  REFUSED(K + 2);
  CHECK_EQ(MARK(K + 1), 0);
  REFUSED(1);
  CHECK_EQ(MARK(K + 2), 0);
  CHECK_EQ(MARK(K + 3), 0);
  REFUSED(K + 1);
  REFUSED(K + 2);
  CHECK_EQ(MARK(2 * K), 0);
  REFUSED(K - 1);
  CHECK_EQ(MARK(3 * K), 0);
  CHECK_EQ(MARK(4 * K), 0);
  for (uint64_t n = 3 * K + 1; n < 4 * K; n++) CHECK_EQ(MARK(n), 0);
  for (uint64_t n = 4 * K + 1; n < 5 * K + 1; n++) CHECK_EQ(MARK(n), 0);
  /* exactly 32 behind is the oldest accepted */
  ock_sc_nonce_window_init(&w);
  CHECK_EQ(MARK(32), 0);
  CHECK_EQ(MARK(0), 0);
  REFUSED(0);
#undef MARK
#undef REFUSED
}

typedef struct {
  t_party a, b;
  ock_sc_encryptor a_enc, b_enc;
  ock_sc_decryptor a_dec, b_dec;
} channel;

static void channel_open(channel *c) {
  t_party_make(&c->a, OCK_KEY_ED25519, NOW, OCK_IDENTITY_DEFAULT_TTL);
  t_party_make(&c->b, OCK_KEY_ED25519, NOW, OCK_IDENTITY_DEFAULT_TTL);
  ock_xx init, resp;
  CHECK_EQ(t_handshake(&init, &c->a, &resp, &c->b, NOW, NULL, NULL, NULL), 0);
  CHECK_EQ(ock_sc_encryptor_init(&c->a_enc, init.encrypt_key), 0);
  CHECK_EQ(ock_sc_decryptor_init(&c->a_dec, init.decrypt_key), 0);
  CHECK_EQ(ock_sc_encryptor_init(&c->b_enc, resp.encrypt_key), 0);
  CHECK_EQ(ock_sc_decryptor_init(&c->b_dec, resp.decrypt_key), 0);
  ock_xx_free(&init);
  ock_xx_free(&resp);
}

static void channel_close(channel *c) {
  ock_sc_encryptor_free(&c->a_enc);
  ock_sc_encryptor_free(&c->b_enc);
  ock_sc_decryptor_free(&c->a_dec);
  ock_sc_decryptor_free(&c->b_dec);
  t_party_free(&c->a);
  t_party_free(&c->b);
}

void test_sc_both_ways_across_renewals(void) {
  channel c;
  channel_open(&c);
  ock_buf m;
  ock_buf_init(&m);
  char text[64];
  for (uint64_t i = 0; i < 100; i++) { /* three renewals each way */
    snprintf(text, sizeof text, "a to b %llu", (unsigned long long)i);
    CHECK_EQ(sealed(&c.a_enc, text, &m), 0);
    CHECK_EQ(opened(&c.b_dec, &m, text, i), 0);
    CHECK_EQ(opened(&c.a_dec, &m, text, i), OCK_EDECRYPT); /* not a's own key */
    snprintf(text, sizeof text, "b to a %llu", (unsigned long long)i);
    CHECK_EQ(sealed(&c.b_enc, text, &m), 0);
    CHECK_EQ(opened(&c.a_dec, &m, text, i), 0);
  }
  CHECK_EQ(c.b_dec.rekeys, 3);
  ock_buf_free(&m);
  channel_close(&c);
}

void test_sc_replay_and_forgery(void) {
  channel c;
  channel_open(&c);
  ock_buf m, n2;
  ock_buf_init(&m);
  ock_buf_init(&n2);
  CHECK_EQ(sealed(&c.a_enc, "first", &m), 0);
  CHECK_EQ(opened(&c.b_dec, &m, "first", 0), 0);
  CHECK_EQ(opened(&c.b_dec, &m, "first", 0), OCK_ENONCE); /* replayed */
  CHECK_EQ(sealed(&c.a_enc, "second", &m), 0);
  /* every flipped bit: the nonce (another nonce, same ciphertext), the
   * ciphertext or the tag; none moves the window */
  for (size_t bit = 0; bit < m.len * 8; bit++) {
    m.data[bit / 8] ^= (uint8_t)(1 << (bit % 8));
    int rc = opened(&c.b_dec, &m, "second", 1);
    m.data[bit / 8] ^= (uint8_t)(1 << (bit % 8));
    CHECK(rc == OCK_EDECRYPT || rc == OCK_ENONCE);
  }
  CHECK_EQ(c.b_dec.window.highest, 0);
  CHECK_EQ(opened(&c.b_dec, &m, "second", 1), 0); /* the genuine one still passes */
  /* cut short */
  CHECK_EQ(sealed(&c.a_enc, "third", &m), 0);
  for (size_t n = 0; n < m.len; n++) {
    uint8_t *p = t_dup(m.data, n), out[64];
    size_t len;
    uint64_t nonce;
    int rc = ock_sc_decrypt(&c.b_dec, p, n, out, &len, &nonce);
    CHECK_EQ(rc, n < OCK_SC_OVERHEAD ? OCK_EPROTO : OCK_EDECRYPT);
    free(p);
  }
  CHECK_EQ(opened(&c.b_dec, &m, "third", 2), 0);
  /* a message under a forged key in the next interval does not renew the keys */
  uint8_t other[32] = {7};
  ock_sc_encryptor mallory;
  CHECK_EQ(ock_sc_encryptor_init(&mallory, other), 0);
  mallory.nonce = 32;
  CHECK_EQ(sealed(&mallory, "forged", &n2), 0);
  CHECK_EQ(opened(&c.b_dec, &n2, "forged", 32), OCK_EDECRYPT);
  CHECK_EQ(c.b_dec.rekeys, 0);
  ock_sc_encryptor_free(&mallory);
  ock_buf_free(&m);
  ock_buf_free(&n2);
  channel_close(&c);
}

void test_sc_reordering(void) {
  channel c;
  channel_open(&c);
  enum { N = 80 };
  ock_buf msgs[N];
  char text[32];
  for (int i = 0; i < N; i++) {
    ock_buf_init(&msgs[i]);
    snprintf(text, sizeof text, "m%d", i);
    CHECK_EQ(sealed(&c.a_enc, text, &msgs[i]), 0);
  }
#define DELIVER(i, want)                                  \
  do {                                                    \
    snprintf(text, sizeof text, "m%d", (i));              \
    CHECK_EQ(opened(&c.b_dec, &msgs[(i)], text, (i)), (want)); \
  } while (0)
  for (int i = 0; i < 31; i++) DELIVER(i, 0);
  /* across the first renewal, out of order: 33 (next key), then 31 (previous) and 32 */
  DELIVER(33, 0);
  DELIVER(31, 0);
  DELIVER(32, 0);
  DELIVER(32, OCK_ENONCE);
  /* a reversed block inside the window */
  for (int i = 50; i >= 34; i--) DELIVER(i, 0);
  /* too old: 50 is the highest, 17 is 33 behind */
  DELIVER(17, OCK_ENONCE);
  /* too far ahead: 83 would be 33 ahead of 50; 79 is 29 ahead and in the next interval */
  DELIVER(79, 0);
  for (int i = 51; i < 64; i++) DELIVER(i, 0);  /* the previous key's interval, 32..63 */
  for (int i = 64; i < 79; i++) DELIVER(i, 0);
  CHECK_EQ(c.b_dec.rekeys, 2);
  /* a copy of one already delivered, still inside the window */
  DELIVER(47, OCK_ENONCE);
  DELIVER(79, OCK_ENONCE);
#undef DELIVER
  for (int i = 0; i < N; i++) ock_buf_free(&msgs[i]);
  channel_close(&c);
}

void test_sc_skipping_ahead(void) {
  /* a sender whose messages were lost: up to one interval may be skipped */
  uint8_t key[32] = {1, 2, 3};
  ock_sc_encryptor e;
  ock_sc_decryptor d;
  CHECK_EQ(ock_sc_encryptor_init(&e, key), 0);
  CHECK_EQ(ock_sc_decryptor_init(&d, key), 0);
  ock_buf m;
  ock_buf_init(&m);
  for (int i = 0; i < 33; i++) CHECK_EQ(sealed(&e, "x", &m), 0); /* 0..32 lost but the last */
  CHECK_EQ(opened(&d, &m, "x", 32), 0);
  for (int i = 33; i < 66; i++) CHECK_EQ(sealed(&e, "x", &m), 0);
  CHECK_EQ(opened(&d, &m, "x", 65), OCK_ENONCE); /* 33 ahead of 32 */
  ock_buf_free(&m);
  ock_sc_encryptor_free(&e);
  ock_sc_decryptor_free(&d);
}

void test_sc_in_place_and_limits(void) {
  uint8_t key[32] = {9};
  ock_sc_encryptor e;
  ock_sc_decryptor d;
  CHECK_EQ(ock_sc_encryptor_init(&e, key), 0);
  CHECK_EQ(ock_sc_decryptor_init(&d, key), 0);
  uint8_t buf[8 + 11 + 16];
  memcpy(buf + 8, "hello world", 11);
  CHECK_EQ(ock_sc_encrypt(&e, buf + 8, 11, buf), 0);
  CHECK_BYTES(buf, 8, "\0\0\0\0\0\0\0\0", 8);
  size_t len;
  uint64_t nonce;
  CHECK_EQ(ock_sc_decrypt(&d, buf, sizeof buf, buf + 8, &len, &nonce), 0);
  CHECK_BYTES(buf + 8, len, "hello world", 11);
  /* empty plaintext: 24 bytes */
  CHECK_EQ(ock_sc_encrypt(&e, NULL, 0, buf), 0);
  CHECK_EQ(ock_sc_decrypt(&d, buf, 24, buf + 8, &len, &nonce), 0);
  CHECK_EQ(len, 0);
  CHECK_EQ(nonce, 1);
  /* the last nonce is never sent: it is the renewal's */
  e.nonce = UINT64_MAX;
  CHECK_EQ(ock_sc_encrypt(&e, NULL, 0, buf), OCK_ENONCE);
  ock_sc_encryptor_free(&e);
  ock_sc_decryptor_free(&d);
}

static void route_of(ock_route *r, const char *a, const char *b) {
  ock_route_init(r);
  if (a) ock_route_push_back(r, OCK_TT_LOCAL, a, strlen(a));
  if (b) ock_route_push_back(r, OCK_TT_TCP, b, strlen(b));
}

void test_sc_message_codec(void) {
  ock_route onward, ret;
  route_of(&onward, "echo", NULL);
  route_of(&ret, "app", NULL);
  ock_buf b, want;
  ock_buf_init(&b);
  ock_buf_init(&want);
  CHECK_EQ(ock_sc_msg_put_payload(&b, &onward, &ret, "hi", 2), 0);
  b_hex(&want, "82 82 00 81 83 81 82 00 44 65 63 68 6f 81 82 00 43 61 70 70 42 68 69 40");
  CHECK_BYTES(b.data, b.len, want.data, want.len);
  ock_sc_msg m;
  CHECK_EQ(ock_sc_msg_decode(b.data, b.len, &m), 0);
  CHECK_EQ(m.kind, OCK_SC_PAYLOAD);
  CHECK(t_addr_is(&m.onward, 0, OCK_TT_LOCAL, "echo"));
  CHECK(t_addr_is(&m.ret, 0, OCK_TT_LOCAL, "app"));
  CHECK_BYTES(m.payload, m.payload_len, "hi", 2);
  /* the head + payload + tail form is the same message */
  ock_buf parts;
  ock_buf_init(&parts);
  CHECK_EQ(ock_sc_msg_put_payload_head(&parts, &onward, &ret, 2), 0);
  ock_buf_append(&parts, "hi", 2);
  ock_buf_append(&parts, OCK_SC_PAYLOAD_TAIL, OCK_SC_PAYLOAD_TAIL_LEN);
  CHECK_BYTES(parts.data, parts.len, b.data, b.len);
  ock_buf_free(&parts);
  /* every truncation is refused */
  for (size_t n = 0; n < b.len; n++) {
    uint8_t *p = t_dup(b.data, n);
    CHECK(ock_sc_msg_decode(p, n, &m) != 0);
    free(p);
  }
  /* Close, and Close with a fields item that is not an empty array */
  b.len = 0;
  CHECK_EQ(ock_sc_msg_put_close(&b), 0);
  CHECK_BYTES(b.data, b.len, "\x82\x82\x02\x80\x40", 5);
  CHECK_EQ(ock_sc_msg_decode(b.data, b.len, &m), 0);
  CHECK_EQ(m.kind, OCK_SC_CLOSE);
  CHECK_EQ(ock_sc_msg_decode((const uint8_t *)"\x82\x82\x02\xf6\x40", 5, &m), 0);
  CHECK_EQ(m.kind, OCK_SC_CLOSE);
  /* padding is required; unknown variants refused; a 3-element enum refused */
  CHECK_EQ(ock_sc_msg_decode((const uint8_t *)"\x81\x82\x02\x80", 4, &m), OCK_EPROTO);
  CHECK_EQ(ock_sc_msg_decode((const uint8_t *)"\x82\x82\x03\x80\x40", 5, &m), OCK_EPROTO);
  CHECK_EQ(ock_sc_msg_decode((const uint8_t *)"\x82\x83\x02\x80\x00\x40", 6, &m), OCK_EPROTO);
  /* padding bytes and fields a newer peer might add, with indefinite arrays */
  ock_buf_free(&want);
  ock_buf_init(&want);
  b_hex(&want, "9f 82 00 9f 9f 9f 82 01 42 6e 31 ff 80 41 7a 07 ff ff 43 00 00 00 f6 ff");
  CHECK_EQ(ock_sc_msg_decode(want.data, want.len, &m), 0);
  CHECK_EQ(m.kind, OCK_SC_PAYLOAD);
  CHECK(t_addr_is(&m.onward, 0, OCK_TT_TCP, "n1"));
  CHECK_EQ(m.ret.n, 0);
  CHECK_BYTES(m.payload, m.payload_len, "z", 1);
  CHECK_EQ(m.padding_len, 3);
  /* RefreshCredentials */
  ock_identity id;
  CHECK_EQ(t_import_hex(&id, vector_identities[0].history), 0);
  b.len = 0;
  CHECK_EQ(ock_sc_msg_put_refresh(&b, &id), 0);
  CHECK_EQ(ock_sc_msg_decode(b.data, b.len, &m), 0);
  CHECK_EQ(m.kind, OCK_SC_REFRESH_CREDENTIALS);
  CHECK_BYTES(m.history, m.history_len, id.history.data, id.history.len);
  CHECK_BYTES(m.credentials, m.credentials_len, "\x80", 1);
  ock_identity_free(&id);
  ock_buf_free(&want);
  ock_buf_free(&b);
}

/* A Payload through a channel: encoded, encrypted, decrypted, decoded. */
void test_sc_payload_through_channel(void) {
  channel c;
  channel_open(&c);
  ock_route onward, ret;
  route_of(&onward, "echo", NULL);
  route_of(&ret, "0123456789abcdef0123456789abcdef", "127.0.0.1:4000");
  ock_buf plain, wire;
  ock_buf_init(&plain);
  ock_buf_init(&wire);
  CHECK_EQ(ock_sc_msg_put_payload(&plain, &onward, &ret, "hello", 5), 0);
  ock_buf_reserve(&wire, plain.len + OCK_SC_OVERHEAD);
  CHECK_EQ(ock_sc_encrypt(&c.a_enc, plain.data, plain.len, wire.data), 0);
  wire.len = plain.len + OCK_SC_OVERHEAD;
  CHECK(memmem(wire.data, wire.len, "hello", 5) == NULL); /* nothing in the clear */
  CHECK(memmem(wire.data, wire.len, "echo", 4) == NULL);
  uint8_t out[256];
  size_t len;
  uint64_t nonce;
  CHECK_EQ(ock_sc_decrypt(&c.b_dec, wire.data, wire.len, out, &len, &nonce), 0);
  ock_sc_msg m;
  CHECK_EQ(ock_sc_msg_decode(out, len, &m), 0);
  CHECK(t_route_eq(&m.onward, &onward));
  CHECK(t_route_eq(&m.ret, &ret));
  CHECK_BYTES(m.payload, m.payload_len, "hello", 5);
  ock_buf_free(&plain);
  ock_buf_free(&wire);
  channel_close(&c);
}

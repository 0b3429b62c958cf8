/* The Noise XX handshake (secure/noise.h) against the known-answer messages
 * Ockam's own tests use (handshake.rs: Noise_XX_25519_AESGCM_SHA256, fixed
 * keys), and Ockam's handshake with identities (secure/xx.h): a whole
 * exchange in memory, the reversed split, and peers that lie. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "secure/hash.h"
#include "secure/identity_payload.h"
#include "secure/noise.h"
#include "secure/sc_cipher.h"
#include "secure/sc_message.h"
#include "secure/xx.h"
#include "test.h"
#include "test_secure.h"

#define NOW 1800000000u

static void hex_buf(ock_buf *b, const char *hex) {
  ock_buf_init(b);
  b_hex(b, hex);
}

static void import_key(ock_x25519_key *k, const char *hex) {
  ock_buf b;
  hex_buf(&b, hex);
  CHECK_EQ(b.len, 32);
  CHECK_EQ(ock_x25519_import(k, b.data), 0);
  ock_buf_free(&b);
}

struct noise_vector {
  const char *p1, *c1, *p2, *c2, *p3, *c3;
};

static const struct noise_vector noise_vectors[2] = {
    {"", "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254", "",
     "64b101b1d0be5a8704bd078f9895001fc03e8e9f9522f188dd128d9846d484665393019dbd6f438795da206db0886610b26108e42414"
     "2c2e9b5fd1f7ea70cde8767ce62d7e3c0e9bcefe4ab872c0505b9e824df091b74ffe10a2b32809cab21f",
     "",
     "e610eadc4b00c17708bf223f29a66f02342fbedf6c0044736544b9271821ae40e70144cecd9d265dffdc5bb8e051c3f83db32a425e04d8"
     "f510c58a43325fbc56"},
    {"746573745f6d73675f30", "358072d6365880d1aeea329adf9121383851ed21a28e3b75e965d0d2cd166254746573745f6d73675f30",
     "746573745f6d73675f31",
     "64b101b1d0be5a8704bd078f9895001fc03e8e9f9522f188dd128d9846d484665393019dbd6f438795da206db0886610b26108e42414"
     "2c2e9b5fd1f7ea70cde8c9f29dcec8d3ab554f4a5330657867fe4917917195c8cf360e08d6dc5f71baf875ec6e3bfc7afda4c9c2",
     "746573745f6d73675f32",
     "e610eadc4b00c17708bf223f29a66f02342fbedf6c0044736544b9271821ae40232c55cd96d1350af861f6a04978f7d5e070c07602c6"
     "b84d25a331242a71c50ae31dd4c164267fd48bd2"},
};

static const uint8_t noise_name[32] = "Noise_XX_25519_AESGCM_SHA256\0\0\0";

static void noise_pair(ock_noise *i, ock_x25519_key *is, ock_noise *r, ock_x25519_key *rs) {
  ock_x25519_key ie, re;
  import_key(is, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  import_key(&ie, "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f");
  import_key(rs, "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20");
  import_key(&re, "4142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f60");
  CHECK_EQ(ock_noise_init(i, noise_name, is, &ie), 0);
  CHECK_EQ(ock_noise_init(r, noise_name, rs, &re), 0);
}

void test_noise_known_answers(void) {
  for (int v = 0; v < 2; v++) {
    const struct noise_vector *nv = &noise_vectors[v];
    ock_noise i, r;
    ock_x25519_key is, rs;
    noise_pair(&i, &is, &r, &rs);
    if (v == 0) { /* handshake.rs test_initialization: h after the empty prologue */
      ock_buf h;
      hex_buf(&h, "5df72b67b965add1168f0a6c756df21c204f7e64fc682be6a3ab4b682c8db64b");
      CHECK_BYTES(i.h, 32, h.data, 32);
      ock_buf_free(&h);
    }
    ock_buf p1, c1, p2, c2, p3, c3, out, got;
    hex_buf(&p1, nv->p1), hex_buf(&c1, nv->c1), hex_buf(&p2, nv->p2);
    hex_buf(&c2, nv->c2), hex_buf(&p3, nv->p3), hex_buf(&c3, nv->c3);
    ock_buf_init(&out);
    ock_buf_init(&got);
    CHECK_EQ(ock_noise_write1(&i, p1.data, p1.len, &out), 0);
    CHECK_BYTES(out.data, out.len, c1.data, c1.len);
    const uint8_t *pl;
    size_t pl_len;
    CHECK_EQ(ock_noise_read1(&r, out.data, out.len, &pl, &pl_len), 0);
    CHECK_BYTES(pl, pl_len, p1.data, p1.len);
    out.len = 0;
    CHECK_EQ(ock_noise_write2(&r, p2.data, p2.len, &out), 0);
    CHECK_BYTES(out.data, out.len, c2.data, c2.len);
    CHECK_EQ(ock_noise_read2(&i, out.data, out.len, &got), 0);
    CHECK_BYTES(got.data, got.len, p2.data, p2.len);
    CHECK_BYTES(i.rs, 32, rs.pub, 32);
    out.len = got.len = 0;
    CHECK_EQ(ock_noise_write3(&i, p3.data, p3.len, &out), 0);
    CHECK_BYTES(out.data, out.len, c3.data, c3.len);
    CHECK_EQ(ock_noise_read3(&r, out.data, out.len, &got), 0);
    CHECK_BYTES(got.data, got.len, p3.data, p3.len);
    CHECK_BYTES(r.rs, 32, is.pub, 32);
    uint8_t ik1[32], ik2[32], rk1[32], rk2[32];
    CHECK_EQ(ock_noise_split(&i, ik1, ik2), 0);
    CHECK_EQ(ock_noise_split(&r, rk1, rk2), 0);
    CHECK_BYTES(ik1, 32, rk1, 32);
    CHECK_BYTES(ik2, 32, rk2, 32);
    CHECK(memcmp(ik1, ik2, 32) != 0);
    ock_buf *all[] = {&p1, &c1, &p2, &c2, &p3, &c3, &out, &got};
    for (size_t k = 0; k < 8; k++) ock_buf_free(all[k]);
    ock_noise_free(&i);
    ock_noise_free(&r);
    ock_x25519_free(&is);
    ock_x25519_free(&rs);
  }
}

void test_noise_bounds(void) {
  ock_noise i, r;
  ock_x25519_key is, rs;
  noise_pair(&i, &is, &r, &rs);
  ock_buf out, got;
  ock_buf_init(&out);
  ock_buf_init(&got);
  const uint8_t *pl;
  size_t pl_len;
  uint8_t *big = calloc(1, OCK_NOISE_MAX_MESSAGE + 1);
  CHECK_EQ(ock_noise_read1(&r, big, OCK_NOISE_MAX_MESSAGE + 1, &pl, &pl_len), OCK_ETOOBIG);
  CHECK_EQ(ock_noise_read1(&r, big, 31, &pl, &pl_len), OCK_EPROTO);
  CHECK_EQ(ock_noise_write1(&i, big, OCK_NOISE_MAX_MESSAGE - 31, &out), OCK_ETOOBIG);
  CHECK_EQ(ock_noise_read2(&i, big, 79, &got), OCK_EPROTO);   /* e and enc(s) take 80 */
  CHECK_EQ(ock_noise_read3(&r, big, 47, &got), OCK_EPROTO);   /* enc(s) takes 48 */
  CHECK_EQ(ock_noise_read2(&i, big, OCK_NOISE_MAX_MESSAGE + 1, &got), OCK_ETOOBIG);
  free(big);
  ock_buf_free(&out);
  ock_buf_free(&got);
  ock_noise_free(&i);
  ock_noise_free(&r);
  ock_x25519_free(&is);
  ock_x25519_free(&rs);
}

void test_xx_full_handshake(void) {
  t_party a, b;
  t_party_make(&a, OCK_KEY_ED25519, NOW, OCK_IDENTITY_DEFAULT_TTL);
  t_party_make(&b, OCK_KEY_P256, NOW, OCK_IDENTITY_DEFAULT_TTL); /* an ECDSA responder */
  ock_xx init, resp;
  ock_buf m1, m2, m3;
  ock_buf_init(&m1), ock_buf_init(&m2), ock_buf_init(&m3);
  CHECK_EQ(t_handshake(&init, &a, &resp, &b, NOW, &m1, &m2, &m3), 0);
  CHECK(ock_xx_done(&init));
  CHECK(ock_xx_done(&resp));
  CHECK_BYTES(init.peer.identifier, 32, b.id.identifier, 32);
  CHECK_BYTES(resp.peer.identifier, 32, a.id.identifier, 32);
  CHECK_BYTES(init.encrypt_key, 32, resp.decrypt_key, 32);
  CHECK_BYTES(init.decrypt_key, 32, resp.encrypt_key, 32);
  CHECK(memcmp(init.encrypt_key, init.decrypt_key, 32) != 0);
  /* sizes: 32; 32 + 48 + payload + 16; 48 + payload + 16, the payload being
   * 83 <history> <attestation> 80 */
  size_t pa = 1 + a.id.history.len + a.pk.attestation.len + 1;
  size_t pb = 1 + b.id.history.len + b.pk.attestation.len + 1;
  CHECK_EQ(m1.len, 32);
  CHECK_EQ(m2.len, 32 + 48 + pb + 16);
  CHECK_EQ(m3.len, 48 + pa + 16);
  CHECK(init.noise.e.pkey == NULL && resp.noise.e.pkey == NULL); /* ephemerals dropped when done */
  /* done: no more messages */
  ock_buf extra;
  ock_buf_init(&extra);
  CHECK_EQ(ock_xx_handle(&resp, m3.data, m3.len, NOW, &extra), OCK_ESTATE);
  CHECK_EQ(ock_xx_start(&init, &extra), OCK_ESTATE);
  CHECK_EQ(extra.len, 0);
  ock_buf_free(&extra);
  ock_xx_free(&init);
  ock_xx_free(&resp);
  ock_buf_free(&m1), ock_buf_free(&m2), ock_buf_free(&m3);
  t_party_free(&a);
  t_party_free(&b);
}

/* The transport keys against Split() computed on a plain Noise run with the
 * same keys and payloads: the initiator encrypts with k2, decrypts with k1. */
void test_xx_reversed_split(void) {
  t_party a, b;
  t_party_make(&a, OCK_KEY_ED25519, NOW, OCK_IDENTITY_DEFAULT_TTL);
  t_party_make(&b, OCK_KEY_ED25519, NOW, OCK_IDENTITY_DEFAULT_TTL);
  ock_x25519_key ei, er, ei2, er2;
  uint8_t si[32], sr[32];
  CHECK_EQ(ock_x25519_generate(&ei), 0);
  CHECK_EQ(ock_x25519_generate(&er), 0);
  CHECK_EQ(ock_x25519_export(&ei, si), 0);
  CHECK_EQ(ock_x25519_export(&er, sr), 0);
  CHECK_EQ(ock_x25519_import(&ei2, si), 0);
  CHECK_EQ(ock_x25519_import(&er2, sr), 0);
  ock_xx init, resp;
  ock_buf m1, m2, m3, pa, pb, tmp;
  ock_buf_init(&m1), ock_buf_init(&m2), ock_buf_init(&m3), ock_buf_init(&pa), ock_buf_init(&pb), ock_buf_init(&tmp);
  CHECK_EQ(ock_xx_init_with(&init, OCK_XX_INITIATOR, &a.id, &a.pk, &ei), 0);
  CHECK_EQ(ock_xx_init_with(&resp, OCK_XX_RESPONDER, &b.id, &b.pk, &er), 0);
  CHECK_EQ(ock_xx_start(&init, &m1), 0);
  CHECK_EQ(ock_xx_handle(&resp, m1.data, m1.len, NOW, &m2), 0);
  CHECK_EQ(ock_xx_handle(&init, m2.data, m2.len, NOW, &m3), 0);
  CHECK_EQ(ock_xx_handle(&resp, m3.data, m3.len, NOW, &tmp), 0);
  CHECK_EQ(tmp.len, 0);
  /* the same run on the bare pattern */
  ock_noise ni, nr;
  CHECK_EQ(ock_noise_init(&ni, (const uint8_t *)OCK_XX_PROTOCOL_NAME, &a.pk.key, &ei2), 0);
  CHECK_EQ(ock_noise_init(&nr, (const uint8_t *)OCK_XX_PROTOCOL_NAME, &b.pk.key, &er2), 0);
  CHECK_EQ(ock_identity_payload_put(&pa, &a.id, &a.pk), 0);
  CHECK_EQ(ock_identity_payload_put(&pb, &b.id, &b.pk), 0);
  const uint8_t *pl;
  size_t pl_len;
  tmp.len = 0;
  CHECK_EQ(ock_noise_write1(&ni, NULL, 0, &tmp), 0);
  CHECK_BYTES(tmp.data, tmp.len, m1.data, m1.len);
  CHECK_EQ(ock_noise_read1(&nr, tmp.data, tmp.len, &pl, &pl_len), 0);
  tmp.len = 0;
  CHECK_EQ(ock_noise_write2(&nr, pb.data, pb.len, &tmp), 0);
  CHECK_BYTES(tmp.data, tmp.len, m2.data, m2.len);
  ock_buf got;
  ock_buf_init(&got);
  CHECK_EQ(ock_noise_read2(&ni, tmp.data, tmp.len, &got), 0);
  tmp.len = 0;
  CHECK_EQ(ock_noise_write3(&ni, pa.data, pa.len, &tmp), 0);
  CHECK_BYTES(tmp.data, tmp.len, m3.data, m3.len);
  uint8_t k1[32], k2[32];
  CHECK_EQ(ock_noise_split(&ni, k1, k2), 0);
  CHECK_BYTES(init.encrypt_key, 32, k2, 32);
  CHECK_BYTES(init.decrypt_key, 32, k1, 32);
  CHECK_BYTES(resp.encrypt_key, 32, k1, 32);
  CHECK_BYTES(resp.decrypt_key, 32, k2, 32);
  ock_noise_free(&ni);
  ock_noise_free(&nr);
  ock_buf_free(&got);
  ock_buf_free(&m1), ock_buf_free(&m2), ock_buf_free(&m3), ock_buf_free(&pa), ock_buf_free(&pb), ock_buf_free(&tmp);
  ock_xx_free(&init);
  ock_xx_free(&resp);
  t_party_free(&a);
  t_party_free(&b);
}

/* A flipped bit in message 2 or 3 is refused and the handshake goes on
 * with the genuine message, as if the forgery never came. */
void test_xx_tampered_messages(void) {
  t_party a, b;
  t_party_make(&a, OCK_KEY_ED25519, NOW, OCK_IDENTITY_DEFAULT_TTL);
  t_party_make(&b, OCK_KEY_ED25519, NOW, OCK_IDENTITY_DEFAULT_TTL);
  ock_xx init, resp;
  ock_buf m1, m2, m3, out;
  ock_buf_init(&m1), ock_buf_init(&m2), ock_buf_init(&m3), ock_buf_init(&out);
  CHECK_EQ(ock_xx_init(&init, OCK_XX_INITIATOR, &a.id, &a.pk), 0);
  CHECK_EQ(ock_xx_init(&resp, OCK_XX_RESPONDER, &b.id, &b.pk), 0);
  CHECK_EQ(ock_xx_handle(&init, m1.data, 0, NOW, &out), OCK_ESTATE); /* not started */
  CHECK_EQ(ock_xx_start(&resp, &out), OCK_ESTATE);                  /* responders wait */
  CHECK_EQ(ock_xx_start(&init, &m1), 0);
  CHECK_EQ(ock_xx_handle(&resp, m1.data, 31, NOW, &m2), OCK_EPROTO);
  CHECK_EQ(ock_xx_handle(&resp, m1.data, m1.len, NOW, &m2), 0);
  /* message 2: each position, one bit (the ephemeral key: a different DH; the rest: AEAD) */
  for (size_t i = 0; i < m2.len; i += 7) {
    m2.data[i] ^= 0x04;
    int rc = ock_xx_handle(&init, m2.data, m2.len, NOW, &out);
    m2.data[i] ^= 0x04;
    CHECK(rc == OCK_EDECRYPT || rc == OCK_EPROTO);
    CHECK_EQ(out.len, 0);
    CHECK_EQ(init.state, OCK_XX_WAIT_M2);
  }
  CHECK_EQ(ock_xx_handle(&init, m2.data, 79, NOW, &out), OCK_EPROTO);
  CHECK_EQ(ock_xx_handle(&init, m2.data, m2.len - 1, NOW, &out), OCK_EDECRYPT);
  CHECK_EQ(ock_xx_handle(&init, m2.data, m2.len, NOW, &m3), 0);
  CHECK(ock_xx_done(&init));
  for (size_t i = 0; i < m3.len; i += 5) {
    m3.data[i] ^= 0x80;
    CHECK_EQ(ock_xx_handle(&resp, m3.data, m3.len, NOW, &out), OCK_EDECRYPT);
    m3.data[i] ^= 0x80;
    CHECK_EQ(resp.state, OCK_XX_WAIT_M3);
  }
  CHECK_EQ(ock_xx_handle(&resp, m1.data, m1.len, NOW, &out), OCK_EPROTO); /* message 1 replayed */
  CHECK_EQ(ock_xx_handle(&resp, m3.data, m3.len, NOW, &out), 0);
  CHECK(ock_xx_done(&resp));
  CHECK_EQ(out.len, 0);
  CHECK_BYTES(init.encrypt_key, 32, resp.decrypt_key, 32);
  ock_xx_free(&init);
  ock_xx_free(&resp);
  ock_buf_free(&m1), ock_buf_free(&m2), ock_buf_free(&m3), ock_buf_free(&out);
  t_party_free(&a);
  t_party_free(&b);
}

/* Runs a handshake where the responder is b (possibly lying) and returns
 * the initiator's verdict on message 2. */
static int verdict_on_responder(t_party *a, const ock_identity *bid, const ock_purpose_key *bpk, uint64_t now,
                                ock_xx_trust_fn trust, void *ctx) {
  ock_xx init, resp;
  ock_buf m1, m2, m3;
  ock_buf_init(&m1), ock_buf_init(&m2), ock_buf_init(&m3);
  CHECK_EQ(ock_xx_init(&init, OCK_XX_INITIATOR, &a->id, &a->pk), 0);
  CHECK_EQ(ock_xx_init(&resp, OCK_XX_RESPONDER, bid, bpk), 0);
  ock_xx_set_trust(&init, trust, ctx);
  CHECK_EQ(ock_xx_start(&init, &m1), 0);
  CHECK_EQ(ock_xx_handle(&resp, m1.data, m1.len, now, &m2), 0);
  int rc = ock_xx_handle(&init, m2.data, m2.len, now, &m3);
  if (rc) {
    CHECK_EQ(m3.len, 0); /* nothing about us went out */
    CHECK(!ock_xx_done(&init));
    CHECK(init.peer.history.data == NULL);
  }
  ock_xx_free(&init);
  ock_xx_free(&resp);
  ock_buf_free(&m1), ock_buf_free(&m2), ock_buf_free(&m3);
  return rc;
}

static int trust_only(void *ctx, const uint8_t id[32]) { return memcmp(ctx, id, 32) != 0; }

void test_xx_peer_checks(void) {
  t_party a, b, c;
  t_party_make(&a, OCK_KEY_ED25519, NOW, OCK_IDENTITY_DEFAULT_TTL);
  t_party_make(&b, OCK_KEY_ED25519, NOW, 1000); /* identity valid NOW-10 .. NOW+990 */
  t_party_make(&c, OCK_KEY_ED25519, NOW, OCK_IDENTITY_DEFAULT_TTL);
  CHECK_EQ(verdict_on_responder(&a, &b.id, &b.pk, NOW, NULL, NULL), 0);
  /* expired: b's identity (and so its attestation) ended at NOW+990 */
  CHECK_EQ(verdict_on_responder(&a, &b.id, &b.pk, NOW + 991, NULL, NULL), OCK_EEXPIRED);
  /* a purpose key whose attestation names another key: c's key, b's attestation */
  ock_purpose_key swapped = b.pk;
  swapped.key = c.pk.key;
  CHECK_EQ(verdict_on_responder(&a, &b.id, &swapped, NOW, NULL, NULL), OCK_EATTEST);
  /* b's key with c's attestation, presented as b */
  swapped = c.pk;
  swapped.key = b.pk.key;
  CHECK_EQ(verdict_on_responder(&a, &b.id, &swapped, NOW, NULL, NULL), OCK_EATTEST);
  /* forged: an attestation claiming b, signed by c's identity key */
  ock_identity fake = b.id;
  memcpy(fake.public_key, c.id.public_key, 32);
  ock_purpose_key forged;
  CHECK_EQ(ock_purpose_key_create(&forged, &fake, &c.key, NOW, 100), 0);
  CHECK_EQ(verdict_on_responder(&a, &b.id, &forged, NOW, NULL, NULL), OCK_EBADSIG);
  ock_purpose_key_free(&forged);
  /* trust policy: only c is trusted */
  CHECK_EQ(verdict_on_responder(&a, &b.id, &b.pk, NOW, trust_only, c.id.identifier), OCK_EUNTRUSTED);
  CHECK_EQ(verdict_on_responder(&a, &c.id, &c.pk, NOW, trust_only, c.id.identifier), 0);
  t_party_free(&a);
  t_party_free(&b);
  t_party_free(&c);
}

/* The responder checks the initiator the same way, on message 3. */
void test_xx_responder_checks(void) {
  t_party a, b;
  t_party_make(&a, OCK_KEY_ED25519, NOW, 1000);
  t_party_make(&b, OCK_KEY_ED25519, NOW, OCK_IDENTITY_DEFAULT_TTL);
  ock_xx init, resp;
  ock_buf m1, m2, m3, out;
  ock_buf_init(&m1), ock_buf_init(&m2), ock_buf_init(&m3), ock_buf_init(&out);
  CHECK_EQ(ock_xx_init(&init, OCK_XX_INITIATOR, &a.id, &a.pk), 0);
  CHECK_EQ(ock_xx_init(&resp, OCK_XX_RESPONDER, &b.id, &b.pk), 0);
  ock_xx_set_trust(&resp, trust_only, b.id.identifier);
  CHECK_EQ(ock_xx_start(&init, &m1), 0);
  CHECK_EQ(ock_xx_handle(&resp, m1.data, m1.len, NOW, &m2), 0);
  CHECK_EQ(ock_xx_handle(&init, m2.data, m2.len, NOW, &m3), 0);
  CHECK_EQ(ock_xx_handle(&resp, m3.data, m3.len, NOW + 2000, &out), OCK_EEXPIRED);
  CHECK_EQ(ock_xx_handle(&resp, m3.data, m3.len, NOW, &out), OCK_EUNTRUSTED);
  ock_xx_set_trust(&resp, NULL, NULL);
  CHECK_EQ(ock_xx_handle(&resp, m3.data, m3.len, NOW, &out), 0);
  CHECK_BYTES(resp.peer.identifier, 32, a.id.identifier, 32);
  ock_xx_free(&init);
  ock_xx_free(&resp);
  ock_buf_free(&m1), ock_buf_free(&m2), ock_buf_free(&m3), ock_buf_free(&out);
  t_party_free(&a);
  t_party_free(&b);
}

void test_xx_payload_shapes(void) {
  ock_identity_payload pl;
  ock_identity id;
  CHECK_EQ(t_import_hex(&id, vector_identities[0].history), 0);
  /* [history, attestation, credentials] with any attestation bytes: split only */
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, "83");
  ock_buf_append(&b, id.history.data, id.history.len);
  b_hex(&b, "82 41 00 82 00 81 40 80");
  CHECK_EQ(ock_identity_payload_read(b.data, b.len, &pl), 0);
  CHECK_BYTES(pl.history, pl.history_len, id.history.data, id.history.len);
  CHECK_EQ(pl.attestation_len, 7);
  CHECK_EQ(pl.credentials_len, 1);
  uint8_t key[32] = {0};
  ock_identity peer;
  CHECK_EQ(ock_identity_payload_verify(&pl, key, NOW, &peer), OCK_EPROTO); /* the attestation */
  CHECK(peer.history.data == NULL);
  b.data[b.len - 1] = 0xa0; /* credentials must be an array */
  CHECK_EQ(ock_identity_payload_read(b.data, b.len, &pl), OCK_EPROTO);
  b.len--; /* no credentials at all */
  CHECK_EQ(ock_identity_payload_read(b.data, b.len, &pl), OCK_EPROTO);
  ock_buf_free(&b);
  ock_identity_free(&id);
}

/* The fixed-key example of docs/secure-channel.md: parties whose secrets are
 * 11…11 and 22…22, purpose keys 51…51 and 62…62, ephemerals 33…33 and
 * 44…44, at time 1800000000. Ed25519, X25519 and AES-GCM are deterministic,
 * so every byte is known. */
static void fixed_party(t_party *p, uint8_t seed) {
  uint8_t s[32];
  ock_x25519_key x;
  memset(s, seed, 32);
  CHECK_EQ(ock_signing_key_import(&p->key, OCK_KEY_ED25519, s), 0);
  CHECK_EQ(ock_identity_create(&p->id, &p->key, NOW, OCK_IDENTITY_DEFAULT_TTL), 0);
  memset(s, (uint8_t)(seed + 0x40), 32);
  CHECK_EQ(ock_x25519_import(&x, s), 0);
  CHECK_EQ(ock_purpose_key_create_with(&p->pk, &p->id, &p->key, &x, NOW, OCK_PURPOSE_KEY_DEFAULT_TTL), 0);
}

void test_xx_fixed_keys_example(void) {
  t_party a, b;
  fixed_party(&a, 0x11);
  fixed_party(&b, 0x22);
  char text[OCK_IDENTIFIER_TEXT_LEN + 1];
  ock_identifier_format(a.id.identifier, text);
  CHECK(strcmp(text, "Id01d4251bada46fc35a63a70a120763f18feaf1918525f466e9a60df82bfd70f") == 0);
  ock_x25519_key ei, er;
  uint8_t s[32];
  memset(s, 0x33, 32);
  CHECK_EQ(ock_x25519_import(&ei, s), 0);
  memset(s, 0x44, 32);
  CHECK_EQ(ock_x25519_import(&er, s), 0);
  ock_xx init, resp;
  ock_buf m1, m2, m3, none, want;
  ock_buf_init(&m1), ock_buf_init(&m2), ock_buf_init(&m3), ock_buf_init(&none);
  CHECK_EQ(ock_xx_init_with(&init, OCK_XX_INITIATOR, &a.id, &a.pk, &ei), 0);
  CHECK_EQ(ock_xx_init_with(&resp, OCK_XX_RESPONDER, &b.id, &b.pk, &er), 0);
  CHECK_EQ(ock_xx_start(&init, &m1), 0);
  CHECK_EQ(ock_xx_handle(&resp, m1.data, m1.len, NOW, &m2), 0);
  CHECK_EQ(ock_xx_handle(&init, m2.data, m2.len, NOW, &m3), 0);
  CHECK_EQ(ock_xx_handle(&resp, m3.data, m3.len, NOW, &none), 0);
  hex_buf(&want, "7b0d47d93427f8311160781c7c733fd89f88970aef490d8aa0ee19a4cb8a1b14");
  CHECK_BYTES(m1.data, m1.len, want.data, want.len);
  ock_buf_free(&want);
  CHECK_EQ(m2.len, 419);
  CHECK_EQ(m3.len, 387);
  hex_buf(&want, "e539b5828f83c1c4cf171d5398d68b4e155aa3dcebad78741fb1f7ba1c2f8282"); /* k2 */
  CHECK_BYTES(init.encrypt_key, 32, want.data, 32);
  ock_buf_free(&want);
  hex_buf(&want, "b3b89277c926a2d4de25ccd91f7acaa93d0dc7f9ca2a22309a78d3b7ce9481ab"); /* k1 */
  CHECK_BYTES(init.decrypt_key, 32, want.data, 32);
  ock_buf_free(&want);
  /* the first transport message: a Payload 0#app -> 0#echo "hello" */
  ock_route onward, ret;
  ock_route_init(&onward), ock_route_init(&ret);
  ock_route_push_back(&onward, OCK_TT_LOCAL, "echo", 4);
  ock_route_push_back(&ret, OCK_TT_LOCAL, "app", 3);
  ock_buf plain;
  ock_buf_init(&plain);
  CHECK_EQ(ock_sc_msg_put_payload(&plain, &onward, &ret, "hello", 5), 0);
  ock_sc_encryptor e;
  uint8_t wire[64];
  CHECK_EQ(ock_sc_encryptor_init(&e, init.encrypt_key), 0);
  CHECK_EQ(ock_sc_encrypt(&e, plain.data, plain.len, wire), 0);
  hex_buf(&want, "0000000000000000 1c05c3ab18804e5f6a7424246880b6e00cef7d7b9b34b389b5002e"
                 "63e11936eb42eef128afbec5d0e50286");
  CHECK_BYTES(wire, plain.len + OCK_SC_OVERHEAD, want.data, want.len);
  ock_buf_free(&want);
  ock_sc_encryptor_free(&e);
  ock_buf_free(&plain);
  ock_xx_free(&init), ock_xx_free(&resp);
  ock_buf_free(&m1), ock_buf_free(&m2), ock_buf_free(&m3), ock_buf_free(&none);
  t_party_free(&a), t_party_free(&b);
}

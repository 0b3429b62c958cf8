/* Secure channel purpose keys (secure/purpose_key.h): attestations made
 * here, verified, forged, expired, outdated by a rotation, and decoded from
 * hand-written bytes. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "codec/cbor.h"
#include "secure/model_codec.h"
#include "secure/purpose_key.h"
#include "test.h"

#define NOW 1800000000u

typedef struct {
  ock_signing_key key;
  ock_identity id;
} peer;

static void peer_make(peer *p, int type, uint64_t ttl) {
  CHECK_EQ(ock_signing_key_generate(&p->key, type), 0);
  CHECK_EQ(ock_identity_create(&p->id, &p->key, NOW - 100, ttl), 0);
}

static void peer_free(peer *p) {
  ock_identity_free(&p->id);
  ock_signing_key_free(&p->key);
}

void test_purpose_key_create_verify(void) {
  peer a;
  peer_make(&a, OCK_KEY_ED25519, OCK_IDENTITY_DEFAULT_TTL);
  ock_purpose_key pk;
  CHECK_EQ(ock_purpose_key_create(&pk, &a.id, &a.key, NOW, OCK_PURPOSE_KEY_DEFAULT_TTL), 0);
  ock_attestation f;
  CHECK_EQ(ock_purpose_key_verify(pk.attestation.data, pk.attestation.len, &a.id, NOW, &f), 0);
  CHECK_BYTES(f.subject, 32, a.id.identifier, 32);
  CHECK_BYTES(f.subject_change_hash, 32, a.id.latest_change_hash, 32);
  CHECK_EQ(f.purpose, OCK_PURPOSE_SECURE_CHANNEL);
  CHECK_BYTES(f.public_key, f.public_key_len, pk.key.pub, 32);
  CHECK_EQ(f.created_at, NOW);
  CHECK_EQ(f.expires_at, NOW + OCK_PURPOSE_KEY_DEFAULT_TTL);
  /* 82 58 79 [83 01 02 58 74 [85 58 20 <subject> 58 20 <hash> 82 00 81 58 20 <key>
   * 1a <created> 1a <expires>]] 82 00 81 58 40 <signature>: 193 bytes */
  CHECK_EQ(pk.attestation.len, 193);
  CHECK_BYTES(pk.attestation.data, 11, "\x82\x58\x79\x83\x01\x02\x58\x74\x85\x58\x20", 11);
  CHECK_BYTES(pk.attestation.data + 11, 32, a.id.identifier, 32);
  CHECK_BYTES(pk.attestation.data + 43, 2, "\x58\x20", 2);
  CHECK_BYTES(pk.attestation.data + 77, 5, "\x82\x00\x81\x58\x20", 5);
  CHECK_BYTES(pk.attestation.data + 82, 32, pk.key.pub, 32);
  CHECK_BYTES(pk.attestation.data + 114, 1, "\x1a", 1);
  CHECK_BYTES(pk.attestation.data + 124, 5, "\x82\x00\x81\x58\x40", 5);
  /* a key not of this identity cannot attest for it */
  peer b;
  peer_make(&b, OCK_KEY_ED25519, OCK_IDENTITY_DEFAULT_TTL);
  ock_purpose_key other;
  CHECK_EQ(ock_purpose_key_create(&other, &a.id, &b.key, NOW, 100), OCK_EINVAL);
  /* b's attestation does not verify as a's */
  CHECK_EQ(ock_purpose_key_create(&other, &b.id, &b.key, NOW, 100), 0);
  CHECK_EQ(ock_purpose_key_verify(other.attestation.data, other.attestation.len, &a.id, NOW, &f), OCK_EATTEST);
  ock_purpose_key_free(&other);
  peer_free(&b);
  ock_purpose_key_free(&pk);
  peer_free(&a);
}

void test_purpose_key_forged(void) {
  peer a, mallory;
  peer_make(&a, OCK_KEY_ED25519, OCK_IDENTITY_DEFAULT_TTL);
  peer_make(&mallory, OCK_KEY_ED25519, OCK_IDENTITY_DEFAULT_TTL);
  /* mallory claims a's identifier and latest change, signing with her own key */
  ock_identity fake = a.id;
  memcpy(fake.public_key, mallory.id.public_key, 32);
  ock_purpose_key forged;
  CHECK_EQ(ock_purpose_key_create(&forged, &fake, &mallory.key, NOW, 100), 0);
  ock_attestation f;
  CHECK_EQ(ock_purpose_key_verify(forged.attestation.data, forged.attestation.len, &a.id, NOW, &f), OCK_EBADSIG);
  ock_purpose_key_free(&forged);
  /* any flipped bit of a genuine attestation is refused */
  ock_purpose_key pk;
  CHECK_EQ(ock_purpose_key_create(&pk, &a.id, &a.key, NOW, 1000), 0);
  int kinds[4] = {0};
  for (size_t i = 0; i < pk.attestation.len; i++) {
    for (int bit = 0; bit < 8; bit++) {
      pk.attestation.data[i] ^= (uint8_t)(1 << bit);
      int rc = ock_purpose_key_verify(pk.attestation.data, pk.attestation.len, &a.id, NOW, &f);
      pk.attestation.data[i] ^= (uint8_t)(1 << bit);
      CHECK(rc == OCK_EPROTO || rc == OCK_EATTEST || rc == OCK_EEXPIRED || rc == OCK_EBADSIG);
      kinds[rc == OCK_EPROTO ? 0 : rc == OCK_EATTEST ? 1 : rc == OCK_EEXPIRED ? 2 : 3]++;
    }
  }
  CHECK(kinds[0] && kinds[1] && kinds[2] && kinds[3]);
  /* the X25519 key itself: only the signature catches it */
  pk.attestation.data[90] ^= 1;
  CHECK_EQ(ock_purpose_key_verify(pk.attestation.data, pk.attestation.len, &a.id, NOW, &f), OCK_EBADSIG);
  pk.attestation.data[90] ^= 1;
  /* truncated, or with a byte after it */
  for (size_t n = 0; n < pk.attestation.len; n++) {
    uint8_t *p = t_dup(pk.attestation.data, n);
    CHECK_EQ(ock_purpose_key_verify(p, n, &a.id, NOW, &f), OCK_EPROTO);
    free(p);
  }
  ock_buf_push(&pk.attestation, 0);
  CHECK_EQ(ock_purpose_key_verify(pk.attestation.data, pk.attestation.len, &a.id, NOW, &f), OCK_EPROTO);
  ock_purpose_key_free(&pk);
  peer_free(&mallory);
  peer_free(&a);
}

void test_purpose_key_time(void) {
  peer a;
  peer_make(&a, OCK_KEY_ED25519, 10000); /* identity valid NOW-100 .. NOW+9900 */
  ock_purpose_key pk;
  ock_attestation f;
  CHECK_EQ(ock_purpose_key_create(&pk, &a.id, &a.key, NOW, 1000), 0);
  const uint8_t *p = pk.attestation.data;
  size_t n = pk.attestation.len;
  CHECK_EQ(ock_purpose_key_verify(p, n, &a.id, NOW + 1000, &f), 0);
  CHECK_EQ(ock_purpose_key_verify(p, n, &a.id, NOW + 1001, &f), OCK_EEXPIRED);
  CHECK_EQ(ock_purpose_key_verify(p, n, &a.id, NOW - 60, &f), 0); /* 60 s of clock drift */
  CHECK_EQ(ock_purpose_key_verify(p, n, &a.id, NOW - 61, &f), OCK_EEXPIRED);
  ock_purpose_key_free(&pk);
  /* a lifetime past the identity key's is cut to it */
  CHECK_EQ(ock_purpose_key_create(&pk, &a.id, &a.key, NOW, OCK_PURPOSE_KEY_DEFAULT_TTL), 0);
  CHECK_EQ(pk.fields.expires_at, a.id.valid_until);
  CHECK_EQ(ock_purpose_key_verify(pk.attestation.data, pk.attestation.len, &a.id, NOW, &f), 0);
  ock_purpose_key_free(&pk);
  /* one made to outlive it (or to start before it) is refused */
  ock_identity longer = a.id;
  longer.valid_until += 1;
  CHECK_EQ(ock_purpose_key_create(&pk, &longer, &a.key, NOW, OCK_PURPOSE_KEY_DEFAULT_TTL), 0);
  CHECK_EQ(ock_purpose_key_verify(pk.attestation.data, pk.attestation.len, &a.id, NOW, &f), OCK_EATTEST);
  ock_purpose_key_free(&pk);
  CHECK_EQ(ock_purpose_key_create(&pk, &a.id, &a.key, NOW - 101, 10), 0);
  CHECK_EQ(ock_purpose_key_verify(pk.attestation.data, pk.attestation.len, &a.id, NOW - 95, &f), OCK_EATTEST);
  ock_purpose_key_free(&pk);
  /* an expired identity can only make attestations that are refused (their
   * expiry is cut to the identity's, which has passed) */
  CHECK_EQ(ock_purpose_key_create(&pk, &a.id, &a.key, NOW + 20000, 1000), 0);
  CHECK_EQ(ock_purpose_key_verify(pk.attestation.data, pk.attestation.len, &a.id, NOW + 20000, &f), OCK_EEXPIRED);
  CHECK_EQ(ock_identity_check_time(&a.id, NOW + 20000), OCK_EEXPIRED);
  ock_purpose_key_free(&pk);
  peer_free(&a);
}

void test_purpose_key_rotation_and_p256(void) {
  peer a;
  peer_make(&a, OCK_KEY_P256, OCK_IDENTITY_DEFAULT_TTL);
  ock_purpose_key pk, pk2;
  ock_attestation f;
  CHECK_EQ(ock_purpose_key_create(&pk, &a.id, &a.key, NOW, 1000), 0);
  CHECK_EQ(ock_purpose_key_verify(pk.attestation.data, pk.attestation.len, &a.id, NOW, &f), 0);
  ock_signing_key next;
  CHECK_EQ(ock_signing_key_generate(&next, OCK_KEY_ED25519), 0);
  CHECK_EQ(ock_identity_rotate(&a.id, &a.key, &next, NOW, OCK_IDENTITY_DEFAULT_TTL), 0);
  /* made by the previous change: refused, as Ockam 0.139 accepts only the latest */
  CHECK_EQ(ock_purpose_key_verify(pk.attestation.data, pk.attestation.len, &a.id, NOW, &f), OCK_EATTEST);
  CHECK_EQ(ock_purpose_key_create(&pk2, &a.id, &a.key, NOW, 1000), OCK_EINVAL);
  CHECK_EQ(ock_purpose_key_create(&pk2, &a.id, &next, NOW, 1000), 0);
  CHECK_EQ(ock_purpose_key_verify(pk2.attestation.data, pk2.attestation.len, &a.id, NOW, &f), 0);
  ock_purpose_key_free(&pk2);
  ock_purpose_key_free(&pk);
  ock_signing_key_free(&next);
  peer_free(&a);
}

void test_purpose_key_import(void) {
  peer a;
  peer_make(&a, OCK_KEY_ED25519, OCK_IDENTITY_DEFAULT_TTL);
  ock_purpose_key pk, back;
  CHECK_EQ(ock_purpose_key_create(&pk, &a.id, &a.key, NOW, 1000), 0);
  uint8_t secret[32];
  CHECK_EQ(ock_x25519_export(&pk.key, secret), 0);
  CHECK_EQ(ock_purpose_key_import(&back, secret, pk.attestation.data, pk.attestation.len, &a.id, NOW), 0);
  CHECK_BYTES(back.key.pub, 32, pk.key.pub, 32);
  CHECK_BYTES(back.attestation.data, back.attestation.len, pk.attestation.data, pk.attestation.len);
  ock_purpose_key_free(&back);
  secret[3] ^= 1; /* another secret: the attestation is not for its key */
  CHECK_EQ(ock_purpose_key_import(&back, secret, pk.attestation.data, pk.attestation.len, &a.id, NOW), OCK_EATTEST);
  CHECK_EQ(ock_purpose_key_import(&back, secret, pk.attestation.data, pk.attestation.len, &a.id, NOW + 2000),
           OCK_EEXPIRED);
  ock_purpose_key_free(&pk);
  peer_free(&a);
}

/* An attestation written by hand: a credential signing key (variant 1),
 * indefinite arrays, an extra trailing field. Decoding only. */
void test_attestation_decode_shapes(void) {
  ock_buf fields, data, att;
  ock_buf_init(&fields);
  ock_buf_init(&data);
  ock_buf_init(&att);
  uint8_t subject[32], hash[32], key[32], sig[64];
  memset(subject, 0x11, 32), memset(hash, 0x22, 32), memset(key, 0x33, 32), memset(sig, 0x44, 64);
  b_hex(&fields, "9f");
  ock_cbor_put_bytes(&fields, subject, 32);
  ock_cbor_put_bytes(&fields, hash, 32);
  b_hex(&fields, "82 01 81 82 00 81"); /* CredentialSigning(EdDSACurve25519(key)) */
  ock_cbor_put_bytes(&fields, key, 32);
  b_hex(&fields, "19 0100 1b 0000000000000200 63 6e 65 77 ff");
  ock_versioned_data_put(&data, 1, 2, fields.data, fields.len);
  b_hex(&att, "82");
  ock_cbor_put_bytes(&att, data.data, data.len);
  ock_cbor_put_variant_bytes(&att, 1, sig, 64);
  ock_attestation_view v;
  CHECK_EQ(ock_attestation_decode(att.data, att.len, &v), 0);
  CHECK_EQ(v.fields.purpose, OCK_PURPOSE_CREDENTIAL);
  CHECK_EQ(v.fields.key_type, OCK_KEY_ED25519);
  CHECK_BYTES(v.fields.public_key, v.fields.public_key_len, key, 32);
  CHECK_BYTES(v.fields.subject, 32, subject, 32);
  CHECK_EQ(v.fields.created_at, 256);
  CHECK_EQ(v.fields.expires_at, 512);
  CHECK_EQ(v.sig_type, OCK_KEY_P256);
  CHECK_BYTES(v.sig, 64, sig, 64);
  /* the same data as a VersionedData of type 1 (a ChangeData) is not an attestation */
  ock_buf_free(&data);
  ock_buf_free(&att);
  ock_buf_init(&data);
  ock_buf_init(&att);
  ock_versioned_data_put(&data, 1, 1, fields.data, fields.len);
  b_hex(&att, "82");
  ock_cbor_put_bytes(&att, data.data, data.len);
  ock_cbor_put_variant_bytes(&att, 0, sig, 64);
  CHECK_EQ(ock_attestation_decode(att.data, att.len, &v), OCK_EATTEST);
  ock_buf_free(&fields);
  ock_buf_free(&data);
  ock_buf_free(&att);
}

/* Ed25519 signs deterministically: the same secrets and times give the same
 * identity and attestation, byte for byte (what lets fuzz/ keep genuine
 * messages in its corpus). */
void test_purpose_key_deterministic(void) {
  ock_buf first;
  ock_buf_init(&first);
  for (int round = 0; round < 2; round++) {
    uint8_t secret[32];
    memset(secret, 0x11, sizeof secret);
    ock_signing_key k;
    ock_identity id;
    ock_x25519_key x;
    ock_purpose_key pk;
    CHECK_EQ(ock_signing_key_import(&k, OCK_KEY_ED25519, secret), 0);
    CHECK_EQ(ock_identity_create(&id, &k, NOW, 1000), 0);
    memset(secret, 0x51, sizeof secret);
    CHECK_EQ(ock_x25519_import(&x, secret), 0);
    CHECK_EQ(ock_purpose_key_create_with(&pk, &id, &k, &x, NOW, 100), 0);
    CHECK(x.pkey == NULL); /* taken over */
    if (round == 0) {
      ock_buf_append(&first, pk.attestation.data, pk.attestation.len);
    } else {
      CHECK_BYTES(pk.attestation.data, pk.attestation.len, first.data, first.len);
    }
    ock_purpose_key_free(&pk);
    ock_identity_free(&id);
    ock_signing_key_free(&k);
  }
  ock_buf_free(&first);
}

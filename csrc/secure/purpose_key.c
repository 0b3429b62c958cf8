#include "secure/purpose_key.h"

#include <openssl/crypto.h>
#include <string.h>

#include "base/err.h"
#include "codec/cbor.h"
#include "secure/hash.h"
#include "secure/model_codec.h"

/* PurposePublicKey: [0, [x25519]] or [1, [CredentialVerifyingKey]]. */
static int read_purpose_public_key(ock_cbor_reader *r, ock_attestation *a) {
  int64_t count, fields;
  uint64_t variant;
  const uint8_t *key;
  int rc = ock_cbor_read_array(r, &count);
  if (rc) return rc;
  if (count != 2) return OCK_EPROTO;
  if ((rc = ock_cbor_read_uint(r, &variant)) || (rc = ock_cbor_read_array(r, &fields))) return rc;
  if (!ock_cbor_array_more(r, fields, 0)) return OCK_EPROTO;
  if (variant == OCK_PURPOSE_SECURE_CHANNEL) {
    a->key_type = -1;
    a->public_key_len = OCK_X25519_LEN;
    rc = ock_cbor_read_fixed(r, &key, OCK_X25519_LEN);
  } else if (variant == OCK_PURPOSE_CREDENTIAL) {
    rc = ock_public_key_read(r, &a->key_type, &key, &a->public_key_len);
  } else {
    return OCK_EPROTO;
  }
  if (rc) return rc;
  a->purpose = (int)variant;
  memcpy(a->public_key, key, a->public_key_len);
  return ock_cbor_array_finish(r, fields, 1);
}

static int read_fields(const uint8_t *p, size_t n, ock_attestation *a) {
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, p, n);
  const uint8_t *subject, *hash;
  int64_t count;
  int rc = ock_cbor_read_array(&r, &count);
  if (rc) return rc;
  if (!ock_cbor_array_more(&r, count, 4)) return OCK_EPROTO; /* five required fields */
  if ((rc = ock_cbor_read_fixed(&r, &subject, OCK_IDENTIFIER_LEN))) return rc;
  if ((rc = ock_cbor_read_fixed(&r, &hash, 32))) return rc;
  if ((rc = read_purpose_public_key(&r, a))) return rc;
  if ((rc = ock_cbor_read_uint(&r, &a->created_at)) || (rc = ock_cbor_read_uint(&r, &a->expires_at))) return rc;
  memcpy(a->subject, subject, OCK_IDENTIFIER_LEN);
  memcpy(a->subject_change_hash, hash, 32);
  return ock_cbor_array_finish(&r, count, 5);
}

int ock_attestation_decode(const uint8_t *p, size_t n, ock_attestation_view *out) {
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, p, n);
  int64_t count;
  int rc = ock_cbor_read_array(&r, &count);
  if (rc) return rc;
  if (!ock_cbor_array_more(&r, count, 1)) return OCK_EPROTO;
  if ((rc = ock_cbor_read_bytes(&r, &out->data, &out->data_len))) return rc;
  if ((rc = ock_signature_read(&r, &out->sig_type, &out->sig))) return rc;
  if ((rc = ock_cbor_array_finish(&r, count, 2))) return rc;
  if (r.p != r.end) return OCK_EPROTO;
  ock_versioned_data vd;
  if ((rc = ock_versioned_data_read(out->data, out->data_len, &vd))) return rc;
  if (vd.version != 1 || vd.data_type != OCK_ATTESTATION_DATA_TYPE) return OCK_EATTEST;
  return read_fields(vd.data, vd.len, &out->fields);
}

/* The checks of purpose_key_verification.rs, in its order. */
static int check_against(const ock_attestation *a, const ock_identity *subject, uint64_t now) {
  if (memcmp(a->subject, subject->identifier, OCK_IDENTIFIER_LEN) != 0) return OCK_EATTEST;
  /* only attestations by the latest change are accepted, as in Ockam 0.139 */
  if (memcmp(a->subject_change_hash, subject->latest_change_hash, 32) != 0) return OCK_EATTEST;
  /* the purpose key's life must lie inside its identity key's */
  if (a->expires_at > subject->valid_until || a->created_at < subject->valid_from) return OCK_EATTEST;
  if (a->created_at > now && a->created_at - now > OCK_MAX_TIME_DRIFT) return OCK_EEXPIRED;
  if (a->expires_at < now) return OCK_EEXPIRED;
  return 0;
}

int ock_purpose_key_verify(const uint8_t *p, size_t n, const ock_identity *subject, uint64_t now,
                           ock_attestation *out) {
  ock_attestation_view v;
  uint8_t hash[32];
  int rc = ock_attestation_decode(p, n, &v);
  if (!rc) rc = check_against(&v.fields, subject, now);
  if (!rc && v.sig_type != subject->key_type) rc = OCK_EBADSIG;
  if (!rc) rc = ock_sha256(v.data, v.data_len, hash);
  if (!rc) rc = ock_signature_verify(subject->key_type, subject->public_key, subject->public_key_len, hash, 32, v.sig);
  if (!rc) *out = v.fields;
  return rc;
}

static int put_fields(ock_buf *b, const ock_attestation *a) {
  int rc = ock_cbor_put_head(b, OCK_CBOR_ARRAY, 5);
  if (!rc) rc = ock_cbor_put_bytes(b, a->subject, OCK_IDENTIFIER_LEN);
  if (!rc) rc = ock_cbor_put_bytes(b, a->subject_change_hash, 32);
  if (!rc) rc = ock_cbor_put_variant_bytes(b, OCK_PURPOSE_SECURE_CHANNEL, a->public_key, OCK_X25519_LEN);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_UINT, a->created_at);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_UINT, a->expires_at);
  return rc;
}

/* PurposeKeyAttestation{VersionedData{1, 2, fields}, signature by sk}. */
static int attest(ock_buf *out, const ock_attestation *a, const ock_signing_key *sk) {
  ock_buf fields, data;
  ock_buf_init(&fields);
  ock_buf_init(&data);
  uint8_t hash[32], sig[OCK_SIGNATURE_LEN];
  int rc = put_fields(&fields, a);
  if (!rc) rc = ock_versioned_data_put(&data, 1, OCK_ATTESTATION_DATA_TYPE, fields.data, fields.len);
  if (!rc) rc = ock_sha256(data.data, data.len, hash);
  if (!rc) rc = ock_signing_key_sign(sk, hash, sizeof hash, sig);
  if (!rc) rc = ock_cbor_put_head(out, OCK_CBOR_ARRAY, 2);
  if (!rc) rc = ock_cbor_put_bytes(out, data.data, data.len);
  if (!rc) rc = ock_cbor_put_variant_bytes(out, (uint32_t)sk->type, sig, sizeof sig);
  ock_buf_free(&fields);
  ock_buf_free(&data);
  return rc;
}

/* now + ttl, but never after limit: an attestation outliving its identity
 * key would be refused by every verifier. */
static uint64_t expiry(uint64_t now, uint64_t ttl, uint64_t limit) {
  uint64_t e = now > UINT64_MAX - ttl ? UINT64_MAX : now + ttl;
  return e < limit ? e : limit;
}

int ock_purpose_key_create_with(ock_purpose_key *pk, const ock_identity *id, const ock_signing_key *sk,
                                ock_x25519_key *key, uint64_t now, uint64_t ttl) {
  memset(pk, 0, sizeof *pk);
  ock_buf_init(&pk->attestation);
  pk->key = *key;
  key->pkey = NULL; /* ours now */
  if (ock_identity_key_matches(id, sk)) {
    ock_purpose_key_free(pk);
    return OCK_EINVAL;
  }
  ock_attestation *a = &pk->fields;
  memcpy(a->subject, id->identifier, OCK_IDENTIFIER_LEN);
  memcpy(a->subject_change_hash, id->latest_change_hash, 32);
  a->purpose = OCK_PURPOSE_SECURE_CHANNEL;
  a->key_type = -1;
  memcpy(a->public_key, pk->key.pub, OCK_X25519_LEN);
  a->public_key_len = OCK_X25519_LEN;
  a->created_at = now;
  a->expires_at = expiry(now, ttl, id->valid_until);
  int rc = attest(&pk->attestation, a, sk);
  if (rc) ock_purpose_key_free(pk);
  return rc;
}

int ock_purpose_key_create(ock_purpose_key *pk, const ock_identity *id, const ock_signing_key *sk, uint64_t now,
                           uint64_t ttl) {
  ock_x25519_key key;
  memset(pk, 0, sizeof *pk);
  ock_buf_init(&pk->attestation);
  if (ock_identity_key_matches(id, sk)) return OCK_EINVAL;
  int rc = ock_x25519_generate(&key);
  return rc ? rc : ock_purpose_key_create_with(pk, id, sk, &key, now, ttl);
}

int ock_purpose_key_import(ock_purpose_key *pk, const uint8_t secret[OCK_X25519_LEN], const uint8_t *att,
                           size_t att_len, const ock_identity *id, uint64_t now) {
  memset(pk, 0, sizeof *pk);
  ock_buf_init(&pk->attestation);
  int rc = ock_purpose_key_verify(att, att_len, id, now, &pk->fields);
  if (!rc) rc = ock_x25519_import(&pk->key, secret);
  if (!rc && (pk->fields.purpose != OCK_PURPOSE_SECURE_CHANNEL ||
              CRYPTO_memcmp(pk->fields.public_key, pk->key.pub, OCK_X25519_LEN) != 0))
    rc = OCK_EATTEST;
  if (!rc) rc = ock_buf_append(&pk->attestation, att, att_len);
  if (rc) ock_purpose_key_free(pk);
  return rc;
}

void ock_purpose_key_free(ock_purpose_key *pk) {
  ock_x25519_free(&pk->key);
  ock_buf_free(&pk->attestation);
}

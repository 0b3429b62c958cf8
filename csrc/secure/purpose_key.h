/* Purpose keys and their attestations (ockam_identity/src/purpose_keys,
 * models/purpose_key_attestation.rs). A secure channel's Noise static key is
 * an X25519 "secure channel purpose key" that the identity attests:
 *   PurposeKeyAttestation     = [data: bytes, signature]
 *   data                      = VersionedData{1, 2, PurposeKeyAttestationData}
 *   PurposeKeyAttestationData = [subject: bytes(32), subject_latest_change_hash: bytes(32),
 *                                public_key, created_at: u64, expires_at: u64]
 *   public_key                = [0, [X25519 bytes(32)]] (secure channel)
 *                             | [1, [[0|1, [Ed25519 | P-256 key]]]] (credential signing)
 * The signature is by the identity's latest primary key over SHA-256 of data. */
#ifndef OCK_SECURE_PURPOSE_KEY_H
#define OCK_SECURE_PURPOSE_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "secure/identity.h"
#include "secure/x25519.h"

#define OCK_ATTESTATION_DATA_TYPE 2
/* Ockam's default lifetime of a secure channel purpose key: five years. */
#define OCK_PURPOSE_KEY_DEFAULT_TTL (5ull * 365 * 24 * 60 * 60)

#define OCK_PURPOSE_SECURE_CHANNEL 0 /* an X25519 static key */
#define OCK_PURPOSE_CREDENTIAL 1     /* a credential signing key */

typedef struct {
  uint8_t subject[OCK_IDENTIFIER_LEN];
  uint8_t subject_change_hash[32];
  int purpose;  /* OCK_PURPOSE_SECURE_CHANNEL or OCK_PURPOSE_CREDENTIAL */
  int key_type; /* a credential key's OCK_KEY_*; -1 for an X25519 key */
  uint8_t public_key[OCK_PUBLIC_KEY_MAX];
  size_t public_key_len;
  uint64_t created_at;
  uint64_t expires_at;
} ock_attestation;

/* An attestation as received: its fields, the signed data and the signature
 * (views into the input). */
typedef struct {
  ock_attestation fields;
  const uint8_t *data; /* VersionedData bytes, what is hashed and signed */
  size_t data_len;
  int sig_type;
  const uint8_t *sig; /* 64 bytes */
} ock_attestation_view;

/* Our own purpose key: the X25519 secret and the attestation we present. */
typedef struct {
  ock_x25519_key key;
  ock_buf attestation; /* CBOR PurposeKeyAttestation (owned) */
  ock_attestation fields;
} ock_purpose_key;

/* Decodes a PurposeKeyAttestation of exactly n bytes without verifying it.
 * Returns 0, OCK_EPROTO (malformed) or OCK_EATTEST (a VersionedData that is
 * not version 1, type 2). */
int ock_attestation_decode(const uint8_t *p, size_t n, ock_attestation_view *out);
/* Verifies an attestation of exactly n bytes made by `subject` as Ockam's
 * purpose_key_verification.rs does, at time `now`, and returns its fields in
 * out. Returns 0 or: OCK_EPROTO; OCK_EATTEST (for another identifier, not by
 * the subject's latest change, or valid outside the identity key's period);
 * OCK_EEXPIRED (expired, or created more than 60 s in the future);
 * OCK_EBADSIG. The caller still checks which key it attests. */
int ock_purpose_key_verify(const uint8_t *p, size_t n, const ock_identity *subject, uint64_t now,
                           ock_attestation *out);
/* A new secure channel purpose key for identity id, whose latest primary key
 * is sk: created now, expiring after ttl seconds (at the latest when the
 * identity's key does). pk must be empty. 0, OCK_EINVAL (sk is not id's
 * key), OCK_ENOMEM, OCK_ECRYPTO. */
int ock_purpose_key_create(ock_purpose_key *pk, const ock_identity *id, const ock_signing_key *sk, uint64_t now,
                           uint64_t ttl);
/* The same for a given X25519 key, taken over (pk frees it, also on error). */
int ock_purpose_key_create_with(ock_purpose_key *pk, const ock_identity *id, const ock_signing_key *sk,
                                ock_x25519_key *key, uint64_t now, uint64_t ttl);
/* A purpose key from storage: its X25519 secret and the attestation made
 * for it, verified against id at now and checked to attest this very key.
 * 0 or the errors of ock_purpose_key_verify, OCK_EATTEST (another key). */
int ock_purpose_key_import(ock_purpose_key *pk, const uint8_t secret[OCK_X25519_LEN], const uint8_t *att,
                           size_t att_len, const ock_identity *id, uint64_t now);
/* Wipes the secret and frees the attestation. */
void ock_purpose_key_free(ock_purpose_key *pk);

#endif

/* Ockam identities (ockam_identity/src/identity): a change history verified
 * from its first change to its last, and the facts a peer's identity is
 * checked against: its identifier, its latest primary public key, that key's
 * validity period and the hash of its latest change.
 *
 * Verification follows identity_verification.rs: every change's data is a
 * VersionedData of version 1 and type 1; the first change names no previous
 * change; every later change names the hash of the one before, does not
 * start its validity before it, and carries a signature by the previous key;
 * every change is signed by its own key. Signatures cover SHA-256 of the
 * change's data bytes. The identifier is the first change's hash. */
#ifndef OCK_SECURE_IDENTITY_H
#define OCK_SECURE_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "secure/identifier.h"
#include "secure/signing_key.h"

/* At most this many changes (key rotations + 1) per identity, so that a
 * peer cannot make us verify hundreds of signatures per handshake. */
#define OCK_IDENTITY_MAX_CHANGES 64
/* Ockam's defaults: an identity's key is valid 10 years from creation; a
 * timestamp up to 60 s in the future is tolerated (clock drift). */
#define OCK_IDENTITY_DEFAULT_TTL (10ull * 365 * 24 * 60 * 60)
#define OCK_MAX_TIME_DRIFT 60

typedef struct {
  uint8_t identifier[OCK_IDENTIFIER_LEN];
  uint8_t latest_change_hash[32];
  int key_type; /* of the latest primary key */
  uint8_t public_key[OCK_PUBLIC_KEY_MAX];
  size_t public_key_len;
  uint64_t valid_from; /* the latest change's attestations_valid_from */
  uint64_t valid_until;
  size_t changes;
  ock_buf history; /* the CBOR change history exactly as verified (owned) */
} ock_identity;

/* An empty identity (nothing to free yet). */
void ock_identity_init(ock_identity *id);
/* Verifies a CBOR change history (n bytes, nothing after it) and fills id,
 * which must be empty (init'ed or freed). Returns 0 or: OCK_EPROTO
 * (malformed CBOR), OCK_ETOOBIG (over OCK_IDENTITY_MAX_CHANGES),
 * OCK_EIDENTITY (no change, wrong version or type, broken chain, missing
 * previous signature), OCK_EBADSIG (a signature does not verify), OCK_ENOMEM.
 * On error id stays empty. Time is not checked here: see check_time. */
int ock_identity_import(ock_identity *id, const uint8_t *p, size_t n);
/* A new identity of one change for key, valid from now for ttl seconds
 * (OCK_IDENTITY_DEFAULT_TTL as Ockam). id must be empty. The key stays the
 * caller's. 0, OCK_ENOMEM or OCK_ECRYPTO. */
int ock_identity_create(ock_identity *id, const ock_signing_key *key, uint64_t now, uint64_t ttl);
/* Appends a change that replaces the primary key `current` (the latest key
 * of id) with `next`, valid from now for ttl seconds. On error id is
 * unchanged. 0, OCK_EINVAL (current is not id's latest key), OCK_ENOMEM,
 * OCK_ECRYPTO. */
int ock_identity_rotate(ock_identity *id, const ock_signing_key *current, const ock_signing_key *next,
                        uint64_t now, uint64_t ttl);
/* 0 when the secret key is the identity's latest primary key, else
 * OCK_EINVAL (Ockam's WrongSecretKey when a private identity is imported). */
int ock_identity_key_matches(const ock_identity *id, const ock_signing_key *key);
/* Whether the latest key is valid at `now` (seconds UTC): OCK_EEXPIRED after
 * valid_until, or when valid_from is more than OCK_MAX_TIME_DRIFT ahead.
 * These are the bounds Ockam enforces through the purpose key attestations
 * such a key can sign. */
int ock_identity_check_time(const ock_identity *id, uint64_t now);
/* Copies src into an empty dst. 0 or OCK_ENOMEM. */
int ock_identity_copy(ock_identity *dst, const ock_identity *src);
/* Frees the history; the identity is empty again. */
void ock_identity_free(ock_identity *id);

#endif

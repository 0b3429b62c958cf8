/* An identity's change history in CBOR (ockam_identity/src/models/change_history.rs):
 *   ChangeHistory = [Change, ...]
 *   Change        = [data: bytes (VersionedData, type 1), signature, ?previous_signature]
 *   ChangeData    = [previous_change: null | bytes(32), primary_public_key,
 *                    revoke_all_purpose_keys: bool, attestations_valid_from: u64,
 *                    attestations_valid_until: u64]
 * Each signature is over SHA-256 of the Change's data bytes (the VersionedData
 * as transmitted). Decoding only: verification is identity.c's. Views point
 * into the input. */
#ifndef OCK_SECURE_CHANGE_HISTORY_H
#define OCK_SECURE_CHANGE_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "secure/signing_key.h"

#define OCK_CHANGE_DATA_TYPE 1 /* VersionedData.data_type of a ChangeData */

typedef struct {
  const uint8_t *data; /* VersionedData bytes: what is hashed and signed */
  size_t data_len;
  int sig_type;
  const uint8_t *sig; /* 64 bytes, by this change's own key */
  int has_prev_sig;
  int prev_sig_type;
  const uint8_t *prev_sig; /* 64 bytes, by the previous change's key */
} ock_change;

typedef struct {
  const uint8_t *previous; /* 32-byte hash of the previous change, or NULL */
  int key_type;
  const uint8_t *key;
  size_t key_len;
  int revoke_all_purpose_keys;
  uint64_t valid_from;  /* attestations_valid_from, seconds UTC */
  uint64_t valid_until; /* attestations_valid_until */
} ock_change_data;

/* Reads a ChangeHistory from the start of p: up to `max` changes into
 * changes[], their number into *count, the bytes the history took into
 * *used. Returns 0, OCK_EPROTO, or OCK_ETOOBIG (more than max changes). */
int ock_change_history_read(const uint8_t *p, size_t n, ock_change *changes, size_t max, size_t *count,
                            size_t *used);
/* Decodes a change's VersionedData and the ChangeData inside. Returns 0,
 * OCK_EPROTO (malformed), or OCK_EIDENTITY (a version other than 1 or a
 * data type other than 1, as Ockam refuses them). */
int ock_change_data_read(const ock_change *c, ock_change_data *out);
/* Appends one signed Change: ChangeData for `key` (previous = the hash of
 * the change before, NULL for the first), wrapped in VersionedData v1, signed
 * by key and, when given, by previous_key. 0, OCK_ENOMEM or OCK_ECRYPTO. */
int ock_change_put(ock_buf *b, const uint8_t *previous, const ock_signing_key *key,
                   const ock_signing_key *previous_key, int revoke_all_purpose_keys, uint64_t valid_from,
                   uint64_t valid_until);

#endif

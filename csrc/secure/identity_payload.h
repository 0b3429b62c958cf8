/* The payload of handshake messages 2 and 3 (handshake_state_machine.rs,
 * IdentityAndCredentials):
 *   [change_history: ChangeHistory, purpose_key_attestation: PurposeKeyAttestation,
 *    credentials: [CredentialAndPurposeKey, ...]]
 * The first two are CBOR values embedded as they are (not byte strings). */
#ifndef OCK_SECURE_IDENTITY_PAYLOAD_H
#define OCK_SECURE_IDENTITY_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "secure/identity.h"
#include "secure/purpose_key.h"

typedef struct {
  const uint8_t *history; /* the ChangeHistory item, views into the payload */
  size_t history_len;
  const uint8_t *attestation; /* the PurposeKeyAttestation item */
  size_t attestation_len;
  const uint8_t *credentials; /* the credentials array item, unverified */
  size_t credentials_len;
} ock_identity_payload;

/* Appends our payload: the identity's history, the purpose key's
 * attestation, and no credentials. 0 or OCK_ENOMEM. */
int ock_identity_payload_put(ock_buf *b, const ock_identity *id, const ock_purpose_key *pk);
/* Splits a payload into its items (checked to be well-formed CBOR, nothing
 * verified). 0 or OCK_EPROTO. */
int ock_identity_payload_read(const uint8_t *p, size_t n, ock_identity_payload *out);
/* Verifies a peer as Ockam's process_identity_payload does: its change
 * history, its attestation at `now`, and that the attested key is a secure
 * channel key equal to static_key (the peer's Noise static key). Fills the
 * empty `peer` on success. Credentials are not checked: Ockam ignores them
 * when no authority is configured. Errors: those of ock_identity_import and
 * ock_purpose_key_verify, OCK_EATTEST (another key, or a credential key). */
int ock_identity_payload_verify(const ock_identity_payload *pl, const uint8_t static_key[32], uint64_t now,
                                ock_identity *peer);

#endif

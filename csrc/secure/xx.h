/* Ockam's secure channel handshake (secure_channel/handshake/): Noise XX
 * OCKAM_XX_25519_AES256_GCM_SHA256 (noise.h) whose messages 2 and 3 carry
 * each side's IdentityAndCredentials (identity_payload.h). Pure functions
 * over byte buffers: the caller moves the messages (raw payloads between the
 * two sides' addresses) and keeps the time.
 *
 *   initiator                               responder
 *   ock_xx_init(INITIATOR)                  ock_xx_init(RESPONDER)
 *   ock_xx_start -> message 1  ---------->  ock_xx_handle -> message 2
 *   ock_xx_handle -> message 3 <----------
 *     (peer verified, done)    ---------->  ock_xx_handle (peer verified, done)
 *
 * Each side verifies the other when its payload arrives: the change history,
 * the purpose key attestation (at `now`), that the attested key is the Noise
 * static key the peer used, then the trust policy. The initiator checks the
 * responder before it sends message 3.
 *
 * When done, the transport keys come from Split() reversed, as Ockam's
 * set_final_state does: k1, k2 = HKDF(ck, empty); the initiator encrypts
 * with k2 and decrypts with k1, the responder encrypts with k1 and decrypts
 * with k2. */
#ifndef OCK_SECURE_XX_H
#define OCK_SECURE_XX_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "secure/identity.h"
#include "secure/noise.h"
#include "secure/purpose_key.h"

#define OCK_XX_RESPONDER 0
#define OCK_XX_INITIATOR 1

enum {
  OCK_XX_INITIAL, /* initiator: message 1 not written yet */
  OCK_XX_WAIT_M1, /* responder: waiting for message 1 */
  OCK_XX_WAIT_M2, /* initiator: message 1 sent */
  OCK_XX_WAIT_M3, /* responder: message 2 sent */
  OCK_XX_DONE,
};

/* A trust policy: 0 to accept a verified peer, anything else to refuse it. */
typedef int (*ock_xx_trust_fn)(void *ctx, const uint8_t identifier[OCK_IDENTIFIER_LEN]);

typedef struct {
  int role;
  int state;
  ock_noise noise;
  const ock_identity *self;  /* borrowed: must outlive the handshake */
  const ock_purpose_key *pk; /* borrowed: its key is the Noise static key */
  ock_xx_trust_fn trust;     /* NULL: trust everyone (Ockam's default) */
  void *trust_ctx;
  ock_identity peer;      /* the verified peer, once its payload arrived */
  uint8_t encrypt_key[32]; /* when done: this side's transport keys */
  uint8_t decrypt_key[32];
} ock_xx;

/* Starts a handshake for `role` with our identity and secure channel purpose
 * key, drawing a fresh ephemeral key. 0, OCK_ECRYPTO or OCK_ENOMEM. */
int ock_xx_init(ock_xx *xx, int role, const ock_identity *self, const ock_purpose_key *pk);
/* The same with a given ephemeral key (taken over), for known-answer tests. */
int ock_xx_init_with(ock_xx *xx, int role, const ock_identity *self, const ock_purpose_key *pk,
                     ock_x25519_key *ephemeral);
/* Sets the trust policy checked on the peer's verified identifier. */
void ock_xx_set_trust(ock_xx *xx, ock_xx_trust_fn fn, void *ctx);
/* Initiator: appends message 1 to out. OCK_ESTATE if not INITIAL. */
int ock_xx_start(ock_xx *xx, ock_buf *out);
/* Takes the peer's next message (n bytes) at time `now` (seconds UTC) and
 * appends our reply, if any, to out: message 2 for message 1, message 3 for
 * message 2, nothing for message 3. Returns 0, or an error and leaves the
 * handshake as it was before this message (a forged or garbled message does
 * not end it; the caller decides when to give up): OCK_ESTATE (not
 * expecting a message: done, or an initiator not started), OCK_ETOOBIG,
 * OCK_EPROTO, OCK_EDECRYPT, the identity and attestation errors of
 * ock_identity_payload_verify, OCK_EUNTRUSTED (the trust policy refused),
 * OCK_ENOMEM, OCK_ECRYPTO. */
int ock_xx_handle(ock_xx *xx, const uint8_t *msg, size_t n, uint64_t now, ock_buf *out);
/* True once both keys are ready and the peer is verified. */
int ock_xx_done(const ock_xx *xx);
/* Wipes every secret, frees the peer identity. */
void ock_xx_free(ock_xx *xx);

#endif

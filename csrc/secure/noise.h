/* The Noise XX pattern with X25519, AES-256-GCM and SHA-256, as Ockam's
 * secure_channel/handshake/handshake.rs runs it:
 *   -> e                      message 1: e.pub (32) || payload (clear)
 *   <- e, ee, s, es           message 2: e.pub (32) || enc(s.pub) (48) || enc(payload)
 *   -> s, se                  message 3: enc(s.pub) (48) || enc(payload)
 * Initialisation: h = ck = the 32-byte protocol name, then h = SHA256(h)
 * (an empty prologue). MixKey: ck, k = HKDF(ck, dh), n = 0. EncryptAndHash:
 * c = AES-GCM(k, nonce 00000000 || n BE, ad = h, p), h = SHA256(h || c),
 * n += 1. Split: k1, k2 = HKDF(ck, empty). Messages are at most 65535
 * bytes. This file is the pattern alone; xx.c adds Ockam's payloads, the
 * checks of the peer and the choice of k1/k2. */
#ifndef OCK_SECURE_NOISE_H
#define OCK_SECURE_NOISE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "secure/aead.h"
#include "secure/x25519.h"

#define OCK_NOISE_MAX_MESSAGE 65535
#define OCK_XX_PROTOCOL_NAME "OCKAM_XX_25519_AES256_GCM_SHA256" /* exactly 32 bytes */
#define OCK_NOISE_KEY_LEN 32
#define OCK_NOISE_ENC_KEY_LEN (OCK_X25519_LEN + OCK_AEAD_TAG_LEN) /* an encrypted static key: 48 */

typedef struct {
  uint8_t h[32];
  uint8_t ck[32];
  uint8_t k[32]; /* the cipher key, also kept in `aead` */
  int has_k;
  uint64_t n;
  ock_aead aead;
  const ock_x25519_key *s; /* our static key (borrowed) */
  ock_x25519_key e;        /* our ephemeral key (owned) */
  uint8_t re[32];          /* their ephemeral and static public keys, once known */
  uint8_t rs[32];
} ock_noise;

/* Starts a handshake with protocol `name` (32 bytes), our static key s (kept
 * by the caller, must outlive ns) and ephemeral key e (taken over: ns frees
 * it). 0 always (the cipher is keyed later). */
int ock_noise_init(ock_noise *ns, const uint8_t name[32], const ock_x25519_key *s, ock_x25519_key *e);
/* Each writer appends its message to out; each reader takes a whole message.
 * Readers return the decrypted payload: read1 as a view into msg, read2 and
 * read3 appended to payload. Errors: OCK_ETOOBIG (over 65535 bytes),
 * OCK_EPROTO (too short for its keys, or a low-order key), OCK_EDECRYPT
 * (wrong keys or altered bytes), OCK_ENOMEM, OCK_ECRYPTO. After an error
 * the state is partly advanced: see ock_noise_save. */
int ock_noise_write1(ock_noise *ns, const uint8_t *payload, size_t n, ock_buf *out);
int ock_noise_read1(ock_noise *ns, const uint8_t *msg, size_t n, const uint8_t **payload, size_t *payload_len);
int ock_noise_write2(ock_noise *ns, const uint8_t *payload, size_t n, ock_buf *out);
int ock_noise_read2(ock_noise *ns, const uint8_t *msg, size_t n, ock_buf *payload);
int ock_noise_write3(ock_noise *ns, const uint8_t *payload, size_t n, ock_buf *out);
int ock_noise_read3(ock_noise *ns, const uint8_t *msg, size_t n, ock_buf *payload);
/* k1, k2 = HKDF(ck, empty), the two transport keys. */
int ock_noise_split(ock_noise *ns, uint8_t k1[32], uint8_t k2[32]);

/* A copy of the symmetric state, to undo a message that turned out bad. */
typedef struct {
  uint8_t h[32], ck[32], k[32];
  int has_k;
  uint64_t n;
  uint8_t re[32], rs[32];
} ock_noise_saved;
/* Copies the state into saved (secret: restore it, which wipes it). */
void ock_noise_save(const ock_noise *ns, ock_noise_saved *saved);
/* Restores and wipes saved. 0 or OCK_ECRYPTO (the key could not be set back). */
int ock_noise_restore(ock_noise *ns, ock_noise_saved *saved);
/* Wipes h, ck, k and frees the cipher and the ephemeral key. */
void ock_noise_free(ock_noise *ns);

#endif

/* A secure channel's transport encryption (secure_channel/encryptor.rs,
 * decryptor.rs, key_tracker.rs). Each message on the wire is
 *   nonce (u64 big-endian, 8 bytes) || AES-256-GCM(plaintext) || tag (16)
 * with no additional data and the AEAD nonce 00000000 || nonce. The sender
 * counts nonces from 0 and renews its key before the message of nonce 32,
 * 64, 96...: k' = the first 32 bytes of AES-GCM(k, nonce u64::MAX, 32 zero
 * bytes); nonce u64::MAX itself is never sent. The receiver keeps the current
 * and the previous key, derives the next one when a nonce of the next
 * interval arrives, and accepts nonces in the replay window of sc_nonce.h.
 * Nothing changes on the receiving side unless the message authenticates. */
#ifndef OCK_SECURE_SC_CIPHER_H
#define OCK_SECURE_SC_CIPHER_H

#include <stddef.h>
#include <stdint.h>

#include "secure/aead.h"
#include "secure/sc_nonce.h"

#define OCK_SC_KEY_RENEWAL_INTERVAL 32
#define OCK_SC_NONCE_LEN 8
#define OCK_SC_OVERHEAD (OCK_SC_NONCE_LEN + OCK_AEAD_TAG_LEN) /* 24 bytes per message */

typedef struct {
  ock_aead key;
  uint64_t nonce; /* of the next message */
} ock_sc_encryptor;

typedef struct {
  ock_aead slot[3]; /* the current key, the previous one, one to derive into */
  uint8_t current, previous, spare;
  int has_previous;
  uint64_t rekeys; /* renewals so far: the current key serves nonces from rekeys * 32 */
  int exhausted;   /* no interval left after this one (after 2^64 nonces) */
  ock_sc_nonce_window window;
} ock_sc_decryptor;

/* Starts with the handshake's encryption key at nonce 0. 0, OCK_ENOMEM, OCK_ECRYPTO. */
int ock_sc_encryptor_init(ock_sc_encryptor *e, const uint8_t key[OCK_AEAD_KEY_LEN]);
/* Encrypts pt (n bytes) into out, which receives n + 24 bytes. pt may be
 * out + 8 (encrypting in place behind room for the nonce); otherwise they
 * must not overlap. Returns 0, OCK_ENONCE (nonces exhausted), OCK_ETOOBIG,
 * OCK_ECRYPTO. */
int ock_sc_encrypt(ock_sc_encryptor *e, const uint8_t *pt, size_t n, uint8_t *out);
/* Wipes the key. */
void ock_sc_encryptor_free(ock_sc_encryptor *e);

/* Starts with the handshake's decryption key. 0, OCK_ENOMEM, OCK_ECRYPTO. */
int ock_sc_decryptor_init(ock_sc_decryptor *d, const uint8_t key[OCK_AEAD_KEY_LEN]);
/* Decrypts one message (n bytes) into out (n - 24 bytes, in *out_len); out
 * may be in + 8. *nonce gets the message's nonce. Returns 0, or with the
 * state unchanged: OCK_EPROTO (shorter than 24 bytes), OCK_ENONCE (replayed,
 * outside the window, or beyond the key intervals), OCK_EDECRYPT (altered
 * bytes or another key), OCK_ECRYPTO. */
int ock_sc_decrypt(ock_sc_decryptor *d, const uint8_t *in, size_t n, uint8_t *out, size_t *out_len,
                   uint64_t *nonce);
/* Wipes the keys. */
void ock_sc_decryptor_free(ock_sc_decryptor *d);

#endif

/* AES-256-GCM from libcrypto, keyed once and reused for every message: the
 * nonce is 4 zero bytes then a u64 big-endian counter, as in Noise and in
 * Ockam's transport messages. The key schedule lives in libcrypto's cipher
 * context, which wipes it when freed. */
#ifndef OCK_SECURE_AEAD_H
#define OCK_SECURE_AEAD_H

#include <stddef.h>
#include <stdint.h>

#define OCK_AEAD_KEY_LEN 32
#define OCK_AEAD_TAG_LEN 16

struct evp_cipher_ctx_st;

typedef struct {
  struct evp_cipher_ctx_st *ctx; /* NULL until a key is set */
} ock_aead;

/* A zeroed ock_aead (no key) is ready for ock_aead_set_key. */
void ock_aead_init(ock_aead *a);
/* Sets (or replaces) the key. Returns 0, OCK_ENOMEM or OCK_ECRYPTO. */
int ock_aead_set_key(ock_aead *a, const uint8_t key[OCK_AEAD_KEY_LEN]);
/* Frees the context and with it the key. The struct may be set again. */
void ock_aead_free(ock_aead *a);
/* Encrypts pt (len bytes) under nonce `counter` and additional data ad:
 * writes len + 16 bytes (ciphertext then tag) to out. out may equal pt
 * (in place); otherwise they must not overlap. 0, OCK_ECRYPTO or
 * OCK_ETOOBIG (len over INT_MAX). */
int ock_aead_seal(ock_aead *a, uint64_t counter, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                  size_t len, uint8_t *out);
/* Decrypts ct (len bytes: ciphertext then the 16-byte tag) into out (len -
 * 16 bytes); out may equal ct. Returns 0, or OCK_EDECRYPT when the tag does
 * not verify or len < 16 (out then holds nothing to use). */
int ock_aead_open(ock_aead *a, uint64_t counter, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                  size_t len, uint8_t *out);
/* Ockam's key renewal (secure_channel/encryptor.rs, rekey): encrypts 32 zero
 * bytes under `from`'s key with nonce u64::MAX and no additional data; the
 * first 32 bytes of the ciphertext become `to`'s key. to may equal from. */
int ock_aead_rekey(ock_aead *from, ock_aead *to);

#endif

/* SHA-256 and HKDF-SHA256 from libcrypto, in the shapes Ockam uses them: a
 * change's hash, Noise's h = SHA256(h || data), and Noise's HKDF(ck, ikm)
 * into two 32-byte outputs with an empty info. */
#ifndef OCK_SECURE_HASH_H
#define OCK_SECURE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define OCK_SHA256_LEN 32

/* out = SHA256(p[0..n)). Returns 0 or OCK_ECRYPTO. */
int ock_sha256(const void *p, size_t n, uint8_t out[OCK_SHA256_LEN]);
/* out = SHA256(a || b); out may alias a (Noise's MixHash). 0 or OCK_ECRYPTO. */
int ock_sha256_2(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, uint8_t out[OCK_SHA256_LEN]);
/* HKDF-SHA256 with salt (32 bytes), input key material ikm (may be empty)
 * and empty info; out1 and out2 get the first and second 32 bytes of the
 * 64-byte output. The outputs may alias salt. 0 or OCK_ECRYPTO. */
int ock_hkdf2(const uint8_t salt[32], const uint8_t *ikm, size_t ikm_len, uint8_t out1[32], uint8_t out2[32]);

#endif

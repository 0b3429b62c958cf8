/* Signatures already verified, remembered by a digest of everything the
 * verification read (key type, public key, data, signature): a peer's change
 * history and purpose key attestation are the same bytes at every handshake,
 * and verifying them again costs two Ed25519 verifications (about 270 us)
 * per handshake for nothing. Only successes are kept, so a cached answer is
 * always the one libcrypto gave for exactly those bytes; times (expiry) are
 * checked by the callers on every use, never cached. Any thread. */
#ifndef OCK_VERIFY_CACHE_H
#define OCK_VERIFY_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define OCK_VERIFY_KEY_LEN 32

/* The digest that names one verification. 0 or an error code. */
int ock_verify_cache_key(int type, const uint8_t *pub, size_t pub_len, const uint8_t *data, size_t n,
                         const uint8_t *sig, size_t sig_len, uint8_t key[OCK_VERIFY_KEY_LEN]);
/* 1 when that verification succeeded before (and is still remembered). */
int ock_verify_cache_has(const uint8_t key[OCK_VERIFY_KEY_LEN]);
/* Remembers a successful verification (may forget an older one). */
void ock_verify_cache_put(const uint8_t key[OCK_VERIFY_KEY_LEN]);

#endif

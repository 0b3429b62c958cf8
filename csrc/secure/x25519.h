/* X25519 keys from libcrypto: the Noise ephemeral keys and the static
 * "secure channel purpose key". The secret stays inside libcrypto's key
 * object (wiped when freed); the public half is kept here. */
#ifndef OCK_SECURE_X25519_H
#define OCK_SECURE_X25519_H

#include <stdint.h>

#define OCK_X25519_LEN 32

struct evp_pkey_st;

typedef struct {
  struct evp_pkey_st *pkey; /* NULL when empty */
  uint8_t pub[OCK_X25519_LEN];
} ock_x25519_key;

/* A new random key. 0 or OCK_ECRYPTO. */
int ock_x25519_generate(ock_x25519_key *k);
/* A key from its 32-byte secret. 0 or OCK_ECRYPTO. */
int ock_x25519_import(ock_x25519_key *k, const uint8_t secret[OCK_X25519_LEN]);
/* The 32-byte secret, for persistence; the caller wipes it. */
int ock_x25519_export(const ock_x25519_key *k, uint8_t secret[OCK_X25519_LEN]);
/* out = X25519(k, peer). Returns 0, or OCK_EPROTO when the peer's key is a
 * low-order point (the shared secret would be all zeros, which libcrypto
 * refuses), OCK_ECRYPTO otherwise. The caller wipes out. */
int ock_x25519_dh(const ock_x25519_key *k, const uint8_t peer[OCK_X25519_LEN], uint8_t out[OCK_X25519_LEN]);
/* Frees the secret; the struct may be reused. */
void ock_x25519_free(ock_x25519_key *k);

#endif

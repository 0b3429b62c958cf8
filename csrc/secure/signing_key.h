/* An identity's signing keys and signature checks, from libcrypto: EdDSA over
 * Curve25519 (Ockam's default) and ECDSA P-256 with SHA-256. Ockam signs the
 * 32-byte SHA-256 of what it attests, so `data` here is that hash: Ed25519
 * signs it as its message, ECDSA hashes it once more with SHA-256.
 * Signatures are 64 bytes (ECDSA: r || s, 32 bytes each, big-endian). */
#ifndef OCK_SECURE_SIGNING_KEY_H
#define OCK_SECURE_SIGNING_KEY_H

#include <stddef.h>
#include <stdint.h>

/* Key types, numbered as Ockam's enums number them on the wire
 * (PrimaryPublicKey, ChangeSignature, VerifyingPublicKey...). */
#define OCK_KEY_ED25519 0
#define OCK_KEY_P256 1

#define OCK_ED25519_PUBLIC_LEN 32
#define OCK_P256_PUBLIC_LEN 65 /* SEC1 uncompressed: 04 || x || y */
#define OCK_PUBLIC_KEY_MAX 65
#define OCK_SIGNATURE_LEN 64
#define OCK_SIGNING_SECRET_LEN 32

struct evp_pkey_st;

typedef struct {
  int type;                /* OCK_KEY_ED25519 or OCK_KEY_P256 */
  struct evp_pkey_st *pkey; /* owns the secret; NULL when empty */
} ock_signing_key;

/* Public length for a key type: 32, 65, or 0 for an unknown type. */
size_t ock_public_key_len(int type);
/* A new random key of that type. 0, OCK_EINVAL (type), OCK_ECRYPTO. */
int ock_signing_key_generate(ock_signing_key *k, int type);
/* An Ed25519 key from its 32-byte secret (the seed Ockam's vault stores).
 * P-256 keys cannot be imported (OCK_EINVAL). 0 or OCK_ECRYPTO. */
int ock_signing_key_import(ock_signing_key *k, int type, const uint8_t secret[OCK_SIGNING_SECRET_LEN]);
/* The 32-byte secret of an Ed25519 key, for persistence; the caller wipes
 * it. OCK_EINVAL for P-256. */
int ock_signing_key_export(const ock_signing_key *k, uint8_t secret[OCK_SIGNING_SECRET_LEN]);
/* Writes the public key (32 or 65 bytes, see above) to pub, its length to *len. */
int ock_signing_key_public(const ock_signing_key *k, uint8_t pub[OCK_PUBLIC_KEY_MAX], size_t *len);
/* Signs data (n bytes) into sig. 0 or OCK_ECRYPTO. */
int ock_signing_key_sign(const ock_signing_key *k, const uint8_t *data, size_t n, uint8_t sig[OCK_SIGNATURE_LEN]);
/* Wipes and frees the secret; the struct may be reused. */
void ock_signing_key_free(ock_signing_key *k);
/* Checks sig over data with a public key of that type. Returns 0, or
 * OCK_EBADSIG (it does not verify, or the public key is not a valid point
 * of its length), OCK_EINVAL (unknown type), OCK_ENOMEM. */
int ock_signature_verify(int type, const uint8_t *pub, size_t pub_len, const uint8_t *data, size_t n,
                         const uint8_t sig[OCK_SIGNATURE_LEN]);

#endif

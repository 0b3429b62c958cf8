#include "secure/aead.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "base/err.h"

void ock_aead_init(ock_aead *a) { a->ctx = NULL; }

int ock_aead_set_key(ock_aead *a, const uint8_t key[OCK_AEAD_KEY_LEN]) {
  if (!a->ctx) {
    a->ctx = EVP_CIPHER_CTX_new();
    if (!a->ctx) return OCK_ENOMEM;
    if (!EVP_CipherInit_ex(a->ctx, EVP_aes_256_gcm(), NULL, key, NULL, 1)) return OCK_ECRYPTO;
    return 0;
  }
  /* same cipher: only the key schedule changes, the context is kept */
  return EVP_CipherInit_ex(a->ctx, NULL, NULL, key, NULL, -1) ? 0 : OCK_ECRYPTO;
}

void ock_aead_free(ock_aead *a) {
  EVP_CIPHER_CTX_free(a->ctx); /* its provider context is cleared on free */
  a->ctx = NULL;
}

static void make_nonce(uint64_t counter, uint8_t iv[12]) {
  for (int i = 0; i < 4; i++) iv[i] = 0;
  for (int i = 0; i < 8; i++) iv[4 + i] = (uint8_t)(counter >> (56 - 8 * i));
}

/* Starts one message: the direction and the nonce; then the additional data. */
static int start(ock_aead *a, int enc, uint64_t counter, const uint8_t *ad, size_t ad_len) {
  uint8_t iv[12];
  make_nonce(counter, iv);
  if (!a->ctx || !EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, iv, enc)) return OCK_ECRYPTO;
  int outl = 0;
  if (ad_len && !EVP_CipherUpdate(a->ctx, NULL, &outl, ad, (int)ad_len)) return OCK_ECRYPTO;
  return 0;
}

int ock_aead_seal(ock_aead *a, uint64_t counter, const uint8_t *ad, size_t ad_len, const uint8_t *pt,
                  size_t len, uint8_t *out) {
  if (len > INT_MAX - OCK_AEAD_TAG_LEN || ad_len > INT_MAX) return OCK_ETOOBIG;
  int rc = start(a, 1, counter, ad, ad_len);
  if (rc) return rc;
  int outl = 0, finl = 0;
  if (len && !EVP_CipherUpdate(a->ctx, out, &outl, pt, (int)len)) return OCK_ECRYPTO;
  if (!EVP_CipherFinal_ex(a->ctx, out + outl, &finl)) return OCK_ECRYPTO;
  if ((size_t)(outl + finl) != len) return OCK_ECRYPTO;
  if (!EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_GCM_GET_TAG, OCK_AEAD_TAG_LEN, out + len)) return OCK_ECRYPTO;
  return 0;
}

int ock_aead_open(ock_aead *a, uint64_t counter, const uint8_t *ad, size_t ad_len, const uint8_t *ct,
                  size_t len, uint8_t *out) {
  if (len < OCK_AEAD_TAG_LEN) return OCK_EDECRYPT;
  if (len > INT_MAX || ad_len > INT_MAX) return OCK_ETOOBIG;
  size_t n = len - OCK_AEAD_TAG_LEN;
  uint8_t tag[OCK_AEAD_TAG_LEN];
  for (size_t i = 0; i < sizeof tag; i++) tag[i] = ct[n + i]; /* before out may overwrite it */
  int rc = start(a, 0, counter, ad, ad_len);
  if (rc) return rc;
  int outl = 0, finl = 0;
  if (n && !EVP_CipherUpdate(a->ctx, out, &outl, ct, (int)n)) return OCK_ECRYPTO;
  if (!EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_GCM_SET_TAG, OCK_AEAD_TAG_LEN, tag)) return OCK_ECRYPTO;
  /* the tag is checked here: a failure means altered bytes or the wrong key */
  if (EVP_CipherFinal_ex(a->ctx, out + outl, &finl) != 1) {
    OPENSSL_cleanse(out, n); /* unauthenticated plaintext is never handed on */
    return OCK_EDECRYPT;
  }
  return 0;
}

int ock_aead_rekey(ock_aead *from, ock_aead *to) {
  uint8_t zeros[32] = {0}, out[32 + OCK_AEAD_TAG_LEN];
  int rc = ock_aead_seal(from, UINT64_MAX, NULL, 0, zeros, sizeof zeros, out);
  if (!rc) rc = ock_aead_set_key(to, out);
  OPENSSL_cleanse(out, sizeof out);
  return rc;
}

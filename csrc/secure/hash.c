#include "secure/hash.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <pthread.h>
#include <string.h>

#include "base/err.h"

/* Fetched once: an implicit fetch on every call would search the provider
 * store each time (a lock and a lookup per handshake step). */
static EVP_MD *sha256_md;
static EVP_KDF *hkdf_kdf;
static pthread_once_t fetch_once = PTHREAD_ONCE_INIT;

static void fetch_algorithms(void) {
  sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
  hkdf_kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
}

int ock_sha256_2(const uint8_t *a, size_t an, const uint8_t *b, size_t bn, uint8_t out[OCK_SHA256_LEN]) {
  pthread_once(&fetch_once, fetch_algorithms);
  if (!sha256_md) return OCK_ECRYPTO;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) return OCK_ENOMEM;
  unsigned int len = 0;
  int ok = EVP_DigestInit_ex(ctx, sha256_md, NULL) && (an == 0 || EVP_DigestUpdate(ctx, a, an)) &&
           (bn == 0 || EVP_DigestUpdate(ctx, b, bn)) && EVP_DigestFinal_ex(ctx, out, &len);
  EVP_MD_CTX_free(ctx);
  return ok && len == OCK_SHA256_LEN ? 0 : OCK_ECRYPTO;
}

int ock_sha256(const void *p, size_t n, uint8_t out[OCK_SHA256_LEN]) {
  return ock_sha256_2(p, n, NULL, 0, out);
}

int ock_hkdf2(const uint8_t salt[32], const uint8_t *ikm, size_t ikm_len, uint8_t out1[32], uint8_t out2[32]) {
  pthread_once(&fetch_once, fetch_algorithms);
  if (!hkdf_kdf) return OCK_ECRYPTO;
  EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(hkdf_kdf);
  if (!ctx) return OCK_ENOMEM;
  uint8_t salt_copy[32], okm[64];
  memcpy(salt_copy, salt, sizeof salt_copy); /* the outputs may overwrite salt */
  static const uint8_t empty[1];
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, salt_copy, sizeof salt_copy),
      /* an empty key is legal HKDF input (Noise's Split); libcrypto wants a pointer */
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm_len ? (void *)ikm : (void *)empty, ikm_len),
      OSSL_PARAM_construct_end(),
  };
  int ok = EVP_KDF_derive(ctx, okm, sizeof okm, params) == 1;
  EVP_KDF_CTX_free(ctx);
  if (ok) {
    memcpy(out1, okm, 32);
    memcpy(out2, okm + 32, 32);
  }
  OPENSSL_cleanse(okm, sizeof okm);
  OPENSSL_cleanse(salt_copy, sizeof salt_copy);
  return ok ? 0 : OCK_ECRYPTO;
}

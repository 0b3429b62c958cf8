#include "secure/signing_key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <string.h>

#include "base/err.h"
#include "secure/verify_cache.h"

size_t ock_public_key_len(int type) {
  return type == OCK_KEY_ED25519 ? OCK_ED25519_PUBLIC_LEN : type == OCK_KEY_P256 ? OCK_P256_PUBLIC_LEN : 0;
}

int ock_signing_key_generate(ock_signing_key *k, int type) {
  k->type = type;
  if (type == OCK_KEY_ED25519)
    k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
  else if (type == OCK_KEY_P256)
    k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
  else
    return OCK_EINVAL;
  return k->pkey ? 0 : OCK_ECRYPTO;
}

int ock_signing_key_import(ock_signing_key *k, int type, const uint8_t secret[OCK_SIGNING_SECRET_LEN]) {
  k->type = type;
  k->pkey = NULL;
  if (type != OCK_KEY_ED25519) return OCK_EINVAL;
  k->pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL, secret, OCK_SIGNING_SECRET_LEN);
  return k->pkey ? 0 : OCK_ECRYPTO;
}

int ock_signing_key_export(const ock_signing_key *k, uint8_t secret[OCK_SIGNING_SECRET_LEN]) {
  if (k->type != OCK_KEY_ED25519 || !k->pkey) return OCK_EINVAL;
  size_t len = OCK_SIGNING_SECRET_LEN;
  if (!EVP_PKEY_get_raw_private_key(k->pkey, secret, &len) || len != OCK_SIGNING_SECRET_LEN) return OCK_ECRYPTO;
  return 0;
}

int ock_signing_key_public(const ock_signing_key *k, uint8_t pub[OCK_PUBLIC_KEY_MAX], size_t *len) {
  if (!k->pkey) return OCK_EINVAL;
  size_t want = ock_public_key_len(k->type);
  *len = want;
  int ok = k->type == OCK_KEY_ED25519
               ? EVP_PKEY_get_raw_public_key(k->pkey, pub, len)
               : EVP_PKEY_get_octet_string_param(k->pkey, OSSL_PKEY_PARAM_PUB_KEY, pub, OCK_PUBLIC_KEY_MAX, len);
  /* P-256 keys made here export uncompressed points, the form Ockam stores */
  if (!ok || *len != want || (k->type == OCK_KEY_P256 && pub[0] != 0x04)) return OCK_ECRYPTO;
  return 0;
}

/* ECDSA signatures travel as r || s; libcrypto speaks DER. */
static int der_to_raw(const uint8_t *der, size_t der_len, uint8_t sig[OCK_SIGNATURE_LEN]) {
  const uint8_t *p = der;
  ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
  if (!s) return OCK_ECRYPTO;
  const BIGNUM *r, *sv;
  ECDSA_SIG_get0(s, &r, &sv);
  int ok = BN_bn2binpad(r, sig, 32) == 32 && BN_bn2binpad(sv, sig + 32, 32) == 32;
  ECDSA_SIG_free(s);
  return ok ? 0 : OCK_ECRYPTO;
}

static int raw_to_der(const uint8_t sig[OCK_SIGNATURE_LEN], uint8_t *der, size_t cap, size_t *der_len) {
  ECDSA_SIG *s = ECDSA_SIG_new();
  BIGNUM *r = BN_bin2bn(sig, 32, NULL), *sv = BN_bin2bn(sig + 32, 32, NULL);
  if (!s || !r || !sv || !ECDSA_SIG_set0(s, r, sv)) {
    ECDSA_SIG_free(s);
    BN_free(r);
    BN_free(sv);
    return OCK_ENOMEM;
  }
  int n = i2d_ECDSA_SIG(s, NULL);
  int rc = OCK_ECRYPTO;
  if (n > 0 && (size_t)n <= cap) {
    uint8_t *p = der;
    *der_len = (size_t)i2d_ECDSA_SIG(s, &p);
    rc = 0;
  }
  ECDSA_SIG_free(s); /* frees r and sv too */
  return rc;
}

int ock_signing_key_sign(const ock_signing_key *k, const uint8_t *data, size_t n, uint8_t sig[OCK_SIGNATURE_LEN]) {
  if (!k->pkey) return OCK_EINVAL;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) return OCK_ENOMEM;
  int p256 = k->type == OCK_KEY_P256;
  uint8_t der[80];
  size_t len = p256 ? sizeof der : OCK_SIGNATURE_LEN;
  int ok = EVP_DigestSignInit_ex(ctx, NULL, p256 ? "SHA256" : NULL, NULL, NULL, k->pkey, NULL) == 1 &&
           EVP_DigestSign(ctx, p256 ? der : sig, &len, data, n) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return OCK_ECRYPTO;
  if (p256) return der_to_raw(der, len, sig);
  return len == OCK_SIGNATURE_LEN ? 0 : OCK_ECRYPTO;
}

void ock_signing_key_free(ock_signing_key *k) {
  EVP_PKEY_free(k->pkey); /* libcrypto clears private key material on free */
  k->pkey = NULL;
}

static EVP_PKEY *p256_public(const uint8_t *pub, size_t len) {
  /* only the uncompressed form: libcrypto would also take hybrid 06/07 */
  if (len != OCK_P256_PUBLIC_LEN || pub[0] != 0x04) return NULL;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
  EVP_PKEY *pkey = NULL;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, len),
      OSSL_PARAM_construct_end(),
  };
  /* the import decodes the point and refuses one that is not on the curve */
  if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    pkey = NULL;
  EVP_PKEY_CTX_free(ctx);
  return pkey;
}

static int verify_with(EVP_PKEY *pkey, const char *md, const uint8_t *sig, size_t sig_len, const uint8_t *data,
                       size_t n) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) return OCK_ENOMEM;
  int ok = EVP_DigestVerifyInit_ex(ctx, NULL, md, NULL, NULL, pkey, NULL) == 1 &&
           EVP_DigestVerify(ctx, sig, sig_len, data, n) == 1;
  EVP_MD_CTX_free(ctx);
  return ok ? 0 : OCK_EBADSIG;
}

/* libcrypto's verification, every time. */
static int verify_now(int type, const uint8_t *pub, size_t pub_len, const uint8_t *data, size_t n,
                      const uint8_t sig[OCK_SIGNATURE_LEN]) {
  EVP_PKEY *pkey = type == OCK_KEY_ED25519 ? EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, pub, pub_len)
                                           : p256_public(pub, pub_len);
  int rc = OCK_EBADSIG;
  if (pkey && type == OCK_KEY_ED25519) {
    rc = verify_with(pkey, NULL, sig, OCK_SIGNATURE_LEN, data, n);
  } else if (pkey) {
    uint8_t der[80];
    size_t der_len = 0;
    rc = raw_to_der(sig, der, sizeof der, &der_len);
    if (!rc) rc = verify_with(pkey, "SHA256", der, der_len, data, n);
  }
  EVP_PKEY_free(pkey);
  if (rc) ERR_clear_error(); /* a refused peer leaves nothing in this thread's error queue */
  return rc;
}

int ock_signature_verify(int type, const uint8_t *pub, size_t pub_len, const uint8_t *data, size_t n,
                         const uint8_t sig[OCK_SIGNATURE_LEN]) {
  if (type != OCK_KEY_ED25519 && type != OCK_KEY_P256) return OCK_EINVAL;
  if (pub_len != ock_public_key_len(type)) return OCK_EBADSIG;
  uint8_t key[OCK_VERIFY_KEY_LEN];
  int keyed = ock_verify_cache_key(type, pub, pub_len, data, n, sig, OCK_SIGNATURE_LEN, key) == 0;
  if (keyed && ock_verify_cache_has(key)) return 0;
  int rc = verify_now(type, pub, pub_len, data, n, sig);
  if (!rc && keyed) ock_verify_cache_put(key);
  return rc;
}

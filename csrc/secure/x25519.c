#include "secure/x25519.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include "base/err.h"

static int fill_public(ock_x25519_key *k) {
  size_t len = OCK_X25519_LEN;
  if (!k->pkey || !EVP_PKEY_get_raw_public_key(k->pkey, k->pub, &len) || len != OCK_X25519_LEN) {
    ock_x25519_free(k);
    return OCK_ECRYPTO;
  }
  return 0;
}

int ock_x25519_generate(ock_x25519_key *k) {
  k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
  return fill_public(k);
}

int ock_x25519_import(ock_x25519_key *k, const uint8_t secret[OCK_X25519_LEN]) {
  k->pkey = EVP_PKEY_new_raw_private_key_ex(NULL, "X25519", NULL, secret, OCK_X25519_LEN);
  return fill_public(k);
}

int ock_x25519_export(const ock_x25519_key *k, uint8_t secret[OCK_X25519_LEN]) {
  size_t len = OCK_X25519_LEN;
  if (!k->pkey || !EVP_PKEY_get_raw_private_key(k->pkey, secret, &len) || len != OCK_X25519_LEN) return OCK_ECRYPTO;
  return 0;
}

int ock_x25519_dh(const ock_x25519_key *k, const uint8_t peer[OCK_X25519_LEN], uint8_t out[OCK_X25519_LEN]) {
  if (!k->pkey) return OCK_EINVAL;
  EVP_PKEY *their = EVP_PKEY_new_raw_public_key_ex(NULL, "X25519", NULL, peer, OCK_X25519_LEN);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
  size_t len = OCK_X25519_LEN;
  int rc = OCK_ECRYPTO;
  if (their && ctx && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, their) == 1)
    /* with a valid context, only an all-zero result (a low-order peer key) fails */
    rc = EVP_PKEY_derive(ctx, out, &len) == 1 && len == OCK_X25519_LEN ? 0 : OCK_EPROTO;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(their);
  if (rc) ERR_clear_error();
  return rc;
}

void ock_x25519_free(ock_x25519_key *k) {
  EVP_PKEY_free(k->pkey);
  k->pkey = NULL;
}

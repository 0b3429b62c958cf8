/* The libcrypto primitives of csrc/secure/ against published vectors (FIPS
 * 180 SHA-256, GCM test cases 13/14, RFC 7748, RFC 8032) and values computed
 * independently from RFC 5869's HKDF definition. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "secure/aead.h"
#include "secure/hash.h"
#include "secure/signing_key.h"
#include "secure/x25519.h"
#include "test.h"

/* Decodes hex into a fixed array (aborts on a size mismatch: a typo). */
static void hex_to(uint8_t *out, size_t n, const char *hex) {
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, hex);
  if (b.len != n) abort();
  memcpy(out, b.data, n);
  ock_buf_free(&b);
}

void test_crypto_sha256(void) {
  uint8_t out[32], want[32];
  hex_to(want, 32, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK_EQ(ock_sha256("abc", 3, out), 0);
  CHECK_BYTES(out, 32, want, 32);
  CHECK_EQ(ock_sha256_2((const uint8_t *)"a", 1, (const uint8_t *)"bc", 2, out), 0);
  CHECK_BYTES(out, 32, want, 32);
  /* MixHash writes over its own input */
  uint8_t h[32];
  memcpy(h, "abc", 3);
  CHECK_EQ(ock_sha256_2(h, 3, NULL, 0, h), 0);
  CHECK_BYTES(h, 32, want, 32);
}

void test_crypto_hkdf(void) {
  uint8_t salt[32], ikm[32], a[32], b[32], wa[32], wb[32];
  for (int i = 0; i < 32; i++) salt[i] = (uint8_t)i, ikm[i] = (uint8_t)(100 + i);
  hex_to(wa, 32, "17a4c5178f25587ebca4d057c9031c25b26ac2ba9aeccfaa1404d981cf1ec6f0");
  hex_to(wb, 32, "2faefd37945f4adce33ffb1dc8b3fa604b91dc807f2aa8dfac3ab2fd8dcf2b1e");
  CHECK_EQ(ock_hkdf2(salt, ikm, 32, a, b), 0);
  CHECK_BYTES(a, 32, wa, 32);
  CHECK_BYTES(b, 32, wb, 32);
  /* empty input key material: Noise's Split */
  hex_to(wa, 32, "1d7e0d6f1d9da2d68dabed53b5f88345f3fd01cb75411fbe5aa4293bd8f430d6");
  hex_to(wb, 32, "3ed9b8035bbf370b8cfef7ff15007de45488e18660c84e3d996e8e6c658fa7f8");
  CHECK_EQ(ock_hkdf2(salt, NULL, 0, a, b), 0);
  CHECK_BYTES(a, 32, wa, 32);
  CHECK_BYTES(b, 32, wb, 32);
  /* ck, k = HKDF(ck, ...) writes over its salt */
  CHECK_EQ(ock_hkdf2(salt, NULL, 0, salt, b), 0);
  CHECK_BYTES(salt, 32, wa, 32);
}

void test_crypto_aead(void) {
  uint8_t key[32] = {0}, out[64], want[32], back[32];
  ock_aead a;
  ock_aead_init(&a);
  CHECK_EQ(ock_aead_set_key(&a, key), 0);
  /* GCM test case 13: empty plaintext, all-zero key and nonce */
  hex_to(want, 16, "530f8afbc74536b9a963b4f1c4cb738b");
  CHECK_EQ(ock_aead_seal(&a, 0, NULL, 0, NULL, 0, out), 0);
  CHECK_BYTES(out, 16, want, 16);
  CHECK_EQ(ock_aead_open(&a, 0, NULL, 0, out, 16, back), 0);
  /* test case 14: 16 zero bytes */
  uint8_t zeros[16] = {0};
  hex_to(want, 32, "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919");
  CHECK_EQ(ock_aead_seal(&a, 0, NULL, 0, zeros, 16, out), 0);
  CHECK_BYTES(out, 32, want, 32);
  CHECK_EQ(ock_aead_open(&a, 0, NULL, 0, out, 32, back), 0);
  CHECK_BYTES(back, 16, zeros, 16);
  /* the counter is the nonce's last 8 bytes, big-endian; with additional data */
  for (int i = 0; i < 32; i++) key[i] = (uint8_t)i;
  CHECK_EQ(ock_aead_set_key(&a, key), 0);
  hex_to(want, 21, "f0c4ae0eac8dd8977c09d7b81f83781c982bd49784");
  CHECK_EQ(ock_aead_seal(&a, 5, (const uint8_t *)"ad", 2, (const uint8_t *)"hello", 5, out), 0);
  CHECK_BYTES(out, 21, want, 21);
  CHECK_EQ(ock_aead_open(&a, 5, (const uint8_t *)"ad", 2, out, 21, back), 0);
  CHECK_BYTES(back, 5, "hello", 5);
  /* wrong counter, wrong additional data, any flipped bit, too short */
  CHECK_EQ(ock_aead_open(&a, 6, (const uint8_t *)"ad", 2, out, 21, back), OCK_EDECRYPT);
  CHECK_EQ(ock_aead_open(&a, 5, (const uint8_t *)"aD", 2, out, 21, back), OCK_EDECRYPT);
  for (int bit = 0; bit < 21 * 8; bit += 7) {
    out[bit / 8] ^= (uint8_t)(1 << (bit % 8));
    CHECK_EQ(ock_aead_open(&a, 5, (const uint8_t *)"ad", 2, out, 21, back), OCK_EDECRYPT);
    out[bit / 8] ^= (uint8_t)(1 << (bit % 8));
  }
  CHECK_EQ(ock_aead_open(&a, 5, NULL, 0, out, 15, back), OCK_EDECRYPT);
  /* in place */
  uint8_t buf[5 + 16];
  memcpy(buf, "hello", 5);
  CHECK_EQ(ock_aead_seal(&a, 5, (const uint8_t *)"ad", 2, buf, 5, buf), 0);
  CHECK_BYTES(buf, 21, want, 21);
  CHECK_EQ(ock_aead_open(&a, 5, (const uint8_t *)"ad", 2, buf, 21, buf), 0);
  CHECK_BYTES(buf, 5, "hello", 5);
  ock_aead_free(&a);
  CHECK_EQ(ock_aead_seal(&a, 0, NULL, 0, NULL, 0, out), OCK_ECRYPTO); /* no key */
}

void test_crypto_rekey(void) {
  /* AES-256-GCM(key 00..1f, nonce 00000000 ffffffffffffffff, 32 zero bytes)[0..32] */
  uint8_t key[32], want[32], out[48];
  for (int i = 0; i < 32; i++) key[i] = (uint8_t)i;
  hex_to(want, 32, "0201675c87335949b909793da5bb4d92fcf6d44b92a6e0792b6ae48b1881259d");
  ock_aead a, b, c;
  ock_aead_init(&a);
  ock_aead_init(&b);
  ock_aead_init(&c);
  CHECK_EQ(ock_aead_set_key(&a, key), 0);
  CHECK_EQ(ock_aead_rekey(&a, &b), 0);
  CHECK_EQ(ock_aead_set_key(&c, want), 0);
  /* b holds the derived key: it encrypts as c does */
  uint8_t x[21], y[21];
  CHECK_EQ(ock_aead_seal(&b, 1, NULL, 0, (const uint8_t *)"hello", 5, x), 0);
  CHECK_EQ(ock_aead_seal(&c, 1, NULL, 0, (const uint8_t *)"hello", 5, y), 0);
  CHECK_BYTES(x, 21, y, 21);
  /* rekeying in place */
  CHECK_EQ(ock_aead_rekey(&a, &a), 0);
  CHECK_EQ(ock_aead_seal(&a, 1, NULL, 0, (const uint8_t *)"hello", 5, x), 0);
  CHECK_BYTES(x, 21, y, 21);
  (void)out;
  ock_aead_free(&a);
  ock_aead_free(&b);
  ock_aead_free(&c);
}

void test_crypto_x25519(void) {
  uint8_t secret[32], pub_a[32], pub_b[32], shared[32], out[32];
  hex_to(secret, 32, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  hex_to(pub_a, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  hex_to(pub_b, 32, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  hex_to(shared, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  ock_x25519_key k;
  CHECK_EQ(ock_x25519_import(&k, secret), 0);
  CHECK_BYTES(k.pub, 32, pub_a, 32);
  CHECK_EQ(ock_x25519_dh(&k, pub_b, out), 0);
  CHECK_BYTES(out, 32, shared, 32);
  CHECK_EQ(ock_x25519_export(&k, out), 0);
  CHECK_BYTES(out, 32, secret, 32);
  /* a low-order peer key (here zero) would give an all-zero secret: refused */
  uint8_t zero[32] = {0};
  CHECK_EQ(ock_x25519_dh(&k, zero, out), OCK_EPROTO);
  ock_x25519_free(&k);
  /* two fresh keys agree */
  ock_x25519_key a, b;
  uint8_t s1[32], s2[32];
  CHECK_EQ(ock_x25519_generate(&a), 0);
  CHECK_EQ(ock_x25519_generate(&b), 0);
  CHECK_EQ(ock_x25519_dh(&a, b.pub, s1), 0);
  CHECK_EQ(ock_x25519_dh(&b, a.pub, s2), 0);
  CHECK_BYTES(s1, 32, s2, 32);
  ock_x25519_free(&a);
  ock_x25519_free(&b);
}

void test_crypto_ed25519(void) {
  /* RFC 8032 7.1, TEST 2 */
  uint8_t secret[32], pub[32], sig[64], got[64], gpub[65];
  size_t len = 0;
  hex_to(secret, 32, "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
  hex_to(pub, 32, "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
  hex_to(sig, 64,
         "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
         "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00");
  ock_signing_key k;
  CHECK_EQ(ock_signing_key_import(&k, OCK_KEY_ED25519, secret), 0);
  CHECK_EQ(ock_signing_key_public(&k, gpub, &len), 0);
  CHECK_BYTES(gpub, len, pub, 32);
  const uint8_t msg[1] = {0x72};
  CHECK_EQ(ock_signing_key_sign(&k, msg, 1, got), 0);
  CHECK_BYTES(got, 64, sig, 64);
  CHECK_EQ(ock_signature_verify(OCK_KEY_ED25519, pub, 32, msg, 1, sig), 0);
  const uint8_t other[1] = {0x73};
  CHECK_EQ(ock_signature_verify(OCK_KEY_ED25519, pub, 32, other, 1, sig), OCK_EBADSIG);
  sig[63] ^= 0x01;
  CHECK_EQ(ock_signature_verify(OCK_KEY_ED25519, pub, 32, msg, 1, sig), OCK_EBADSIG);
  sig[63] ^= 0x01;
  pub[0] ^= 0x01;
  CHECK_EQ(ock_signature_verify(OCK_KEY_ED25519, pub, 32, msg, 1, sig), OCK_EBADSIG);
  CHECK_EQ(ock_signature_verify(OCK_KEY_ED25519, pub, 31, msg, 1, sig), OCK_EBADSIG);
  CHECK_EQ(ock_signature_verify(7, pub, 32, msg, 1, sig), OCK_EINVAL);
  uint8_t back[32];
  CHECK_EQ(ock_signing_key_export(&k, back), 0);
  CHECK_BYTES(back, 32, secret, 32);
  ock_signing_key_free(&k);
  CHECK(k.pkey == NULL);
}

void test_crypto_p256(void) {
  ock_signing_key k;
  uint8_t pub[65], sig[64], data[32];
  size_t len = 0;
  memset(data, 0x5a, sizeof data);
  CHECK_EQ(ock_signing_key_generate(&k, OCK_KEY_P256), 0);
  CHECK_EQ(ock_signing_key_public(&k, pub, &len), 0);
  CHECK_EQ(len, 65);
  CHECK_EQ(pub[0], 0x04);
  CHECK_EQ(ock_signing_key_sign(&k, data, 32, sig), 0);
  CHECK_EQ(ock_signature_verify(OCK_KEY_P256, pub, 65, data, 32, sig), 0);
  data[0] ^= 1;
  CHECK_EQ(ock_signature_verify(OCK_KEY_P256, pub, 65, data, 32, sig), OCK_EBADSIG);
  data[0] ^= 1;
  sig[40] ^= 1;
  CHECK_EQ(ock_signature_verify(OCK_KEY_P256, pub, 65, data, 32, sig), OCK_EBADSIG);
  sig[40] ^= 1;
  /* a point off the curve, a compressed or hybrid prefix, zero r and s */
  pub[64] ^= 1;
  CHECK_EQ(ock_signature_verify(OCK_KEY_P256, pub, 65, data, 32, sig), OCK_EBADSIG);
  pub[64] ^= 1;
  pub[0] = 0x06;
  CHECK_EQ(ock_signature_verify(OCK_KEY_P256, pub, 65, data, 32, sig), OCK_EBADSIG);
  pub[0] = 0x04;
  CHECK_EQ(ock_signature_verify(OCK_KEY_P256, pub, 33, data, 32, sig), OCK_EBADSIG);
  uint8_t zero[64] = {0};
  CHECK_EQ(ock_signature_verify(OCK_KEY_P256, pub, 65, data, 32, zero), OCK_EBADSIG);
  /* the Ed25519 verifier refuses it and vice versa */
  CHECK_EQ(ock_signature_verify(OCK_KEY_ED25519, pub, 65, data, 32, sig), OCK_EBADSIG);
  uint8_t secret[32];
  CHECK_EQ(ock_signing_key_export(&k, secret), OCK_EINVAL);
  ock_signing_key_free(&k);
  CHECK_EQ(ock_signing_key_import(&k, OCK_KEY_P256, secret), OCK_EINVAL);
}

/* A verification remembered after it succeeded answers the same for the same
 * bytes, and nothing else: a changed signature, data or key is verified
 * again (and refused), however often the good one passed before. */
void test_crypto_verify_cache(void) {
  ock_signing_key k, other;
  CHECK_EQ(ock_signing_key_generate(&k, OCK_KEY_ED25519), 0);
  CHECK_EQ(ock_signing_key_generate(&other, OCK_KEY_ED25519), 0);
  uint8_t pub[OCK_PUBLIC_KEY_MAX], pub2[OCK_PUBLIC_KEY_MAX], sig[OCK_SIGNATURE_LEN], data[64];
  size_t pl = 0, pl2 = 0;
  memset(data, 7, sizeof data);
  CHECK_EQ(ock_signing_key_public(&k, pub, &pl), 0);
  CHECK_EQ(ock_signing_key_public(&other, pub2, &pl2), 0);
  CHECK_EQ(ock_signing_key_sign(&k, data, sizeof data, sig), 0);
  for (int i = 0; i < 3; i++) CHECK_EQ(ock_signature_verify(OCK_KEY_ED25519, pub, pl, data, sizeof data, sig), 0);
  sig[10] ^= 1;
  CHECK_EQ(ock_signature_verify(OCK_KEY_ED25519, pub, pl, data, sizeof data, sig), OCK_EBADSIG);
  sig[10] ^= 1;
  data[0] ^= 1;
  CHECK_EQ(ock_signature_verify(OCK_KEY_ED25519, pub, pl, data, sizeof data, sig), OCK_EBADSIG);
  data[0] ^= 1;
  CHECK_EQ(ock_signature_verify(OCK_KEY_ED25519, pub2, pl2, data, sizeof data, sig), OCK_EBADSIG);
  CHECK_EQ(ock_signature_verify(OCK_KEY_ED25519, pub, pl, data, sizeof data - 1, sig), OCK_EBADSIG);
  CHECK_EQ(ock_signature_verify(OCK_KEY_ED25519, pub, pl, data, sizeof data, sig), 0);
  ock_signing_key_free(&k);
  ock_signing_key_free(&other);
}

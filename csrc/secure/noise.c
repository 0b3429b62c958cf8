#include "secure/noise.h"

#include <openssl/crypto.h>
#include <string.h>

#include "base/err.h"
#include "secure/hash.h"

int ock_noise_init(ock_noise *ns, const uint8_t name[32], const ock_x25519_key *s, ock_x25519_key *e) {
  memset(ns, 0, sizeof *ns);
  ock_aead_init(&ns->aead);
  ns->s = s;
  ns->e = *e;
  e->pkey = NULL; /* ours now */
  memcpy(ns->h, name, 32);
  memcpy(ns->ck, name, 32);
  return ock_sha256(ns->h, 32, ns->h);
}

static int mix_hash(ock_noise *ns, const uint8_t *p, size_t n) { return ock_sha256_2(ns->h, 32, p, n, ns->h); }

/* ck, k = HKDF(ck, DH(ours, theirs)); n = 0. */
static int mix_key(ock_noise *ns, const ock_x25519_key *ours, const uint8_t theirs[32]) {
  uint8_t dh[32];
  int rc = ock_x25519_dh(ours, theirs, dh);
  if (!rc) rc = ock_hkdf2(ns->ck, dh, sizeof dh, ns->ck, ns->k);
  OPENSSL_cleanse(dh, sizeof dh);
  if (!rc) rc = ock_aead_set_key(&ns->aead, ns->k);
  ns->has_k = !rc;
  ns->n = 0;
  return rc;
}

static int encrypt_and_hash(ock_noise *ns, const uint8_t *p, size_t n, ock_buf *out) {
  if (!ns->has_k) return OCK_ECRYPTO; /* the pattern never encrypts before a DH */
  int rc = ock_buf_reserve(out, n + OCK_AEAD_TAG_LEN);
  if (rc) return rc;
  uint8_t *c = out->data + out->len;
  if ((rc = ock_aead_seal(&ns->aead, ns->n, ns->h, 32, p, n, c))) return rc;
  out->len += n + OCK_AEAD_TAG_LEN;
  ns->n++;
  return mix_hash(ns, c, n + OCK_AEAD_TAG_LEN);
}

static int decrypt_and_hash(ock_noise *ns, const uint8_t *c, size_t n, uint8_t *out) {
  if (!ns->has_k) return OCK_ECRYPTO;
  int rc = ock_aead_open(&ns->aead, ns->n, ns->h, 32, c, n, out);
  if (rc) return rc;
  ns->n++;
  return mix_hash(ns, c, n);
}

/* Decrypts a payload ciphertext (at least a tag) onto the end of payload. */
static int read_payload(ock_noise *ns, const uint8_t *c, size_t n, ock_buf *payload) {
  if (n < OCK_AEAD_TAG_LEN) return OCK_EPROTO;
  int rc = ock_buf_reserve(payload, n - OCK_AEAD_TAG_LEN + 1); /* + 1: a buffer even for an empty payload */
  if (rc) return rc;
  rc = decrypt_and_hash(ns, c, n, payload->data + payload->len);
  if (!rc) payload->len += n - OCK_AEAD_TAG_LEN;
  return rc;
}

static int check_written(const ock_buf *out, size_t start, int rc) {
  if (!rc && out->len - start > OCK_NOISE_MAX_MESSAGE) rc = OCK_ETOOBIG;
  return rc;
}

int ock_noise_write1(ock_noise *ns, const uint8_t *payload, size_t n, ock_buf *out) {
  size_t start = out->len;
  int rc = ock_buf_append(out, ns->e.pub, 32);
  if (!rc) rc = mix_hash(ns, ns->e.pub, 32);
  if (!rc) rc = ock_buf_append(out, payload, n); /* no key yet: the payload goes in clear */
  if (!rc) rc = mix_hash(ns, payload, n);
  return check_written(out, start, rc);
}

int ock_noise_read1(ock_noise *ns, const uint8_t *msg, size_t n, const uint8_t **payload, size_t *payload_len) {
  if (n > OCK_NOISE_MAX_MESSAGE) return OCK_ETOOBIG;
  if (n < 32) return OCK_EPROTO;
  memcpy(ns->re, msg, 32);
  int rc = mix_hash(ns, ns->re, 32);
  if (!rc) rc = mix_hash(ns, msg + 32, n - 32);
  *payload = msg + 32;
  *payload_len = n - 32;
  return rc;
}

int ock_noise_write2(ock_noise *ns, const uint8_t *payload, size_t n, ock_buf *out) {
  size_t start = out->len;
  int rc = ock_buf_append(out, ns->e.pub, 32);
  if (!rc) rc = mix_hash(ns, ns->e.pub, 32);
  if (!rc) rc = mix_key(ns, &ns->e, ns->re);                 /* ee */
  if (!rc) rc = encrypt_and_hash(ns, ns->s->pub, 32, out);   /* s */
  if (!rc) rc = mix_key(ns, ns->s, ns->re);                  /* es */
  if (!rc) rc = encrypt_and_hash(ns, payload, n, out);
  return check_written(out, start, rc);
}

int ock_noise_read2(ock_noise *ns, const uint8_t *msg, size_t n, ock_buf *payload) {
  if (n > OCK_NOISE_MAX_MESSAGE) return OCK_ETOOBIG;
  if (n < 32 + OCK_NOISE_ENC_KEY_LEN) return OCK_EPROTO;
  memcpy(ns->re, msg, 32);
  int rc = mix_hash(ns, ns->re, 32);
  if (!rc) rc = mix_key(ns, &ns->e, ns->re); /* ee */
  if (!rc) rc = decrypt_and_hash(ns, msg + 32, OCK_NOISE_ENC_KEY_LEN, ns->rs);
  if (!rc) rc = mix_key(ns, &ns->e, ns->rs); /* es */
  if (!rc) rc = read_payload(ns, msg + 32 + OCK_NOISE_ENC_KEY_LEN, n - 32 - OCK_NOISE_ENC_KEY_LEN, payload);
  return rc;
}

int ock_noise_write3(ock_noise *ns, const uint8_t *payload, size_t n, ock_buf *out) {
  size_t start = out->len;
  int rc = encrypt_and_hash(ns, ns->s->pub, 32, out); /* s */
  if (!rc) rc = mix_key(ns, ns->s, ns->re);           /* se */
  if (!rc) rc = encrypt_and_hash(ns, payload, n, out);
  return check_written(out, start, rc);
}

int ock_noise_read3(ock_noise *ns, const uint8_t *msg, size_t n, ock_buf *payload) {
  if (n > OCK_NOISE_MAX_MESSAGE) return OCK_ETOOBIG;
  if (n < OCK_NOISE_ENC_KEY_LEN) return OCK_EPROTO;
  int rc = decrypt_and_hash(ns, msg, OCK_NOISE_ENC_KEY_LEN, ns->rs);
  if (!rc) rc = mix_key(ns, &ns->e, ns->rs); /* se */
  if (!rc) rc = read_payload(ns, msg + OCK_NOISE_ENC_KEY_LEN, n - OCK_NOISE_ENC_KEY_LEN, payload);
  return rc;
}

int ock_noise_split(ock_noise *ns, uint8_t k1[32], uint8_t k2[32]) { return ock_hkdf2(ns->ck, NULL, 0, k1, k2); }

void ock_noise_save(const ock_noise *ns, ock_noise_saved *saved) {
  memcpy(saved->h, ns->h, 32);
  memcpy(saved->ck, ns->ck, 32);
  memcpy(saved->k, ns->k, 32);
  saved->has_k = ns->has_k;
  saved->n = ns->n;
  memcpy(saved->re, ns->re, 32);
  memcpy(saved->rs, ns->rs, 32);
}

int ock_noise_restore(ock_noise *ns, ock_noise_saved *saved) {
  memcpy(ns->h, saved->h, 32);
  memcpy(ns->ck, saved->ck, 32);
  memcpy(ns->k, saved->k, 32);
  ns->has_k = saved->has_k;
  ns->n = saved->n;
  memcpy(ns->re, saved->re, 32);
  memcpy(ns->rs, saved->rs, 32);
  OPENSSL_cleanse(saved, sizeof *saved);
  return ns->has_k ? ock_aead_set_key(&ns->aead, ns->k) : 0;
}

void ock_noise_free(ock_noise *ns) {
  ock_aead_free(&ns->aead);
  ock_x25519_free(&ns->e);
  OPENSSL_cleanse(ns->h, sizeof ns->h);
  OPENSSL_cleanse(ns->ck, sizeof ns->ck);
  OPENSSL_cleanse(ns->k, sizeof ns->k);
  ns->has_k = 0;
}

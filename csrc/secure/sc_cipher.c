#include "secure/sc_cipher.h"

#include "base/err.h"

int ock_sc_encryptor_init(ock_sc_encryptor *e, const uint8_t key[OCK_AEAD_KEY_LEN]) {
  ock_aead_init(&e->key);
  e->nonce = 0;
  return ock_aead_set_key(&e->key, key);
}

int ock_sc_encrypt(ock_sc_encryptor *e, const uint8_t *pt, size_t n, uint8_t *out) {
  uint64_t nonce = e->nonce;
  if (nonce == UINT64_MAX) return OCK_ENONCE; /* reserved for key renewal */
  /* a new key for each interval of 32 nonces, derived from the last */
  if (nonce > 0 && nonce % OCK_SC_KEY_RENEWAL_INTERVAL == 0) {
    int rc = ock_aead_rekey(&e->key, &e->key);
    if (rc) return rc;
  }
  e->nonce = nonce + 1;
  /* the ciphertext first: pt may sit right where the nonce goes */
  int rc = ock_aead_seal(&e->key, nonce, NULL, 0, pt, n, out + OCK_SC_NONCE_LEN);
  if (rc) return rc;
  for (int i = 0; i < OCK_SC_NONCE_LEN; i++) out[i] = (uint8_t)(nonce >> (56 - 8 * i));
  return 0;
}

void ock_sc_encryptor_free(ock_sc_encryptor *e) { ock_aead_free(&e->key); }

int ock_sc_decryptor_init(ock_sc_decryptor *d, const uint8_t key[OCK_AEAD_KEY_LEN]) {
  for (int i = 0; i < 3; i++) ock_aead_init(&d->slot[i]);
  d->current = 0, d->previous = 1, d->spare = 2;
  d->has_previous = 0;
  d->rekeys = 0;
  d->exhausted = 0;
  ock_sc_nonce_window_init(&d->window);
  int rc = ock_aead_set_key(&d->slot[0], key);
  /* the other slots get contexts now: no allocation later, on the data path */
  for (int i = 1; !rc && i < 3; i++) rc = ock_aead_set_key(&d->slot[i], key);
  return rc;
}

/* key_tracker.rs get_key: the slot whose key serves `nonce`, or the spare
 * slot after deriving the next key into it. */
static int key_for(ock_sc_decryptor *d, uint64_t nonce, uint8_t *slot) {
  uint64_t start = d->rekeys * OCK_SC_KEY_RENEWAL_INTERVAL; /* the current key's first nonce */
  if (d->exhausted) return OCK_ENONCE;
  if (nonce >= start) {
    uint64_t age = nonce - start;
    if (age >= 2 * OCK_SC_KEY_RENEWAL_INTERVAL) return OCK_ENONCE; /* too far ahead */
    if (age < OCK_SC_KEY_RENEWAL_INTERVAL) {
      *slot = d->current;
      return 0;
    }
    *slot = d->spare; /* the next interval: derive its key */
    return ock_aead_rekey(&d->slot[d->current], &d->slot[d->spare]);
  }
  if (start - nonce > OCK_SC_KEY_RENEWAL_INTERVAL || !d->has_previous) return OCK_ENONCE;
  *slot = d->previous;
  return 0;
}

/* key_tracker.rs update_key: a message under the derived key moves on. */
static void commit_key(ock_sc_decryptor *d, uint8_t slot) {
  if (slot != d->spare) return;
  uint8_t old_previous = d->previous;
  d->previous = d->current;
  d->current = d->spare;
  d->spare = old_previous; /* its key is overwritten by the next renewal */
  d->has_previous = 1;
  if (UINT64_MAX - d->rekeys * OCK_SC_KEY_RENEWAL_INTERVAL < OCK_SC_KEY_RENEWAL_INTERVAL)
    d->exhausted = 1;
  else
    d->rekeys++;
}

int ock_sc_decrypt(ock_sc_decryptor *d, const uint8_t *in, size_t n, uint8_t *out, size_t *out_len,
                   uint64_t *nonce) {
  if (n < OCK_SC_OVERHEAD) return OCK_EPROTO;
  uint64_t v = 0;
  for (int i = 0; i < OCK_SC_NONCE_LEN; i++) v = (v << 8) | in[i];
  ock_sc_nonce_window next;
  uint8_t slot;
  int rc = ock_sc_nonce_window_check(&d->window, v, &next);
  if (!rc) rc = key_for(d, v, &slot);
  /* authenticate before committing anything: a forgery cannot move the
   * window or the keys (connection disruption) */
  if (!rc) rc = ock_aead_open(&d->slot[slot], v, NULL, 0, in + OCK_SC_NONCE_LEN, n - OCK_SC_NONCE_LEN, out);
  if (rc) return rc;
  d->window = next;
  commit_key(d, slot);
  *out_len = n - OCK_SC_OVERHEAD;
  *nonce = v;
  return 0;
}

void ock_sc_decryptor_free(ock_sc_decryptor *d) {
  for (int i = 0; i < 3; i++) ock_aead_free(&d->slot[i]);
}

#include "secure/identity.h"

#include <openssl/crypto.h>
#include <string.h>

#include "base/err.h"
#include "codec/cbor.h"
#include "secure/change_history.h"
#include "secure/hash.h"

void ock_identity_init(ock_identity *id) {
  memset(id, 0, sizeof *id);
  ock_buf_init(&id->history);
}

void ock_identity_free(ock_identity *id) {
  ock_buf_free(&id->history);
  ock_identity_init(id);
}

/* Checks change i against the one before it (prev, whose hash is prev_hash). */
static int check_link(const ock_change *c, const ock_change_data *d, const ock_change_data *prev,
                      const uint8_t prev_hash[32], const uint8_t hash[32]) {
  if (!prev) return d->previous ? OCK_EIDENTITY : 0; /* the first change starts the chain */
  if (prev->valid_from > d->valid_from) return OCK_EIDENTITY; /* an older key made after a newer */
  if (!d->previous || memcmp(d->previous, prev_hash, 32) != 0) return OCK_EIDENTITY;
  if (!c->has_prev_sig) return OCK_EIDENTITY; /* the old key must approve its successor */
  if (c->prev_sig_type != prev->key_type) return OCK_EBADSIG;
  return ock_signature_verify(prev->key_type, prev->key, prev->key_len, hash, 32, c->prev_sig);
}

static void keep_latest(ock_identity *id, const ock_change_data *d, const uint8_t hash[32]) {
  memcpy(id->latest_change_hash, hash, 32);
  id->key_type = d->key_type;
  memcpy(id->public_key, d->key, d->key_len);
  id->public_key_len = d->key_len;
  id->valid_from = d->valid_from;
  id->valid_until = d->valid_until;
}

static int verify_changes(ock_identity *id, const ock_change *changes, size_t count) {
  ock_change_data data[2]; /* this change and the previous one: views into the input */
  uint8_t hash[32], prev_hash[32];
  if (count == 0) return OCK_EIDENTITY;
  for (size_t i = 0; i < count; i++) {
    ock_change_data *d = &data[i & 1], *prev = i ? &data[(i - 1) & 1] : NULL;
    int rc = ock_sha256(changes[i].data, changes[i].data_len, hash);
    if (!rc) rc = ock_change_data_read(&changes[i], d);
    if (!rc) rc = check_link(&changes[i], d, prev, prev_hash, hash);
    if (!rc && changes[i].sig_type != d->key_type) rc = OCK_EBADSIG;
    if (!rc) rc = ock_signature_verify(d->key_type, d->key, d->key_len, hash, 32, changes[i].sig);
    if (rc) return rc;
    if (i == 0) memcpy(id->identifier, hash, 32);
    memcpy(prev_hash, hash, 32);
    keep_latest(id, d, hash);
  }
  id->changes = count;
  return 0;
}

int ock_identity_import(ock_identity *id, const uint8_t *p, size_t n) {
  ock_change changes[OCK_IDENTITY_MAX_CHANGES];
  size_t count = 0, used = 0;
  ock_identity_init(id);
  int rc = ock_change_history_read(p, n, changes, OCK_IDENTITY_MAX_CHANGES, &count, &used);
  if (!rc && used != n) rc = OCK_EPROTO; /* a history with bytes after it is not one history */
  if (!rc) rc = verify_changes(id, changes, count);
  if (!rc) rc = ock_buf_append(&id->history, p, n);
  if (rc) ock_identity_free(id);
  return rc;
}

static uint64_t add_sat(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

int ock_identity_create(ock_identity *id, const ock_signing_key *key, uint64_t now, uint64_t ttl) {
  ock_buf b;
  ock_buf_init(&b);
  ock_identity_init(id);
  int rc = ock_cbor_put_head(&b, OCK_CBOR_ARRAY, 1);
  if (!rc) rc = ock_change_put(&b, NULL, key, NULL, 0, now, add_sat(now, ttl));
  if (!rc) rc = ock_identity_import(id, b.data, b.len);
  ock_buf_free(&b);
  return rc;
}

/* The history's changes without its array head (and break): where a new
 * change can be appended after a new head. */
static int history_body(const ock_buf *h, const uint8_t **body, size_t *len) {
  ock_cbor_reader r;
  int64_t count;
  ock_cbor_reader_init(&r, h->data, h->len);
  int rc = ock_cbor_read_array(&r, &count);
  if (rc) return rc;
  *body = r.p;
  *len = (size_t)(r.end - r.p) - (count < 0 ? 1 : 0);
  return 0;
}

int ock_identity_rotate(ock_identity *id, const ock_signing_key *current, const ock_signing_key *next,
                        uint64_t now, uint64_t ttl) {
  if (ock_identity_key_matches(id, current)) return OCK_EINVAL;
  const uint8_t *body;
  size_t len;
  ock_buf b;
  ock_identity fresh;
  ock_buf_init(&b);
  int rc = history_body(&id->history, &body, &len);
  if (!rc) rc = ock_cbor_put_head(&b, OCK_CBOR_ARRAY, id->changes + 1);
  if (!rc) rc = ock_buf_append(&b, body, len);
  if (!rc) rc = ock_change_put(&b, id->latest_change_hash, next, current, 0, now, add_sat(now, ttl));
  if (!rc) rc = ock_identity_import(&fresh, b.data, b.len);
  ock_buf_free(&b);
  if (rc) return rc;
  ock_identity_free(id);
  *id = fresh;
  return 0;
}

int ock_identity_key_matches(const ock_identity *id, const ock_signing_key *key) {
  uint8_t pub[OCK_PUBLIC_KEY_MAX];
  size_t len;
  if (key->type != id->key_type || ock_signing_key_public(key, pub, &len)) return OCK_EINVAL;
  return len == id->public_key_len && CRYPTO_memcmp(pub, id->public_key, len) == 0 ? 0 : OCK_EINVAL;
}

int ock_identity_check_time(const ock_identity *id, uint64_t now) {
  if (id->valid_until < now) return OCK_EEXPIRED;
  if (id->valid_from > now && id->valid_from - now > OCK_MAX_TIME_DRIFT) return OCK_EEXPIRED;
  return 0;
}

int ock_identity_copy(ock_identity *dst, const ock_identity *src) {
  *dst = *src;
  ock_buf_init(&dst->history);
  int rc = ock_buf_append(&dst->history, src->history.data, src->history.len);
  if (rc) ock_identity_free(dst);
  return rc;
}

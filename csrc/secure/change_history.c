#include "secure/change_history.h"

#include "base/err.h"
#include "secure/hash.h"
#include "secure/model_codec.h"

static int read_change(ock_cbor_reader *r, ock_change *c) {
  int64_t count;
  int rc = ock_cbor_read_array(r, &count);
  if (rc) return rc;
  if (!ock_cbor_array_more(r, count, 1)) return OCK_EPROTO; /* data and signature are required */
  if ((rc = ock_cbor_read_bytes(r, &c->data, &c->data_len))) return rc;
  if ((rc = ock_signature_read(r, &c->sig_type, &c->sig))) return rc;
  c->has_prev_sig = 0;
  c->prev_sig = NULL;
  /* previous_signature: absent (a trailing None) or null in a first change */
  int64_t read = 2;
  if (ock_cbor_array_more(r, count, 2)) {
    read = 3;
    if (!ock_cbor_at_null(r)) {
      if ((rc = ock_signature_read(r, &c->prev_sig_type, &c->prev_sig))) return rc;
      c->has_prev_sig = 1;
    }
  }
  return ock_cbor_array_finish(r, count, read);
}

int ock_change_history_read(const uint8_t *p, size_t n, ock_change *changes, size_t max, size_t *count,
                            size_t *used) {
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, p, n);
  int64_t len;
  int rc = ock_cbor_read_array(&r, &len);
  if (rc) return rc;
  size_t i = 0;
  for (; ock_cbor_array_more(&r, len, (int64_t)i); i++) {
    if (i >= max) return OCK_ETOOBIG;
    if ((rc = read_change(&r, &changes[i]))) return rc;
  }
  if (len < 0 && !ock_cbor_at_break(&r)) return OCK_EPROTO;
  *count = i;
  *used = (size_t)(r.p - p);
  return 0;
}

static int read_change_fields(ock_cbor_reader *r, ock_change_data *out) {
  int64_t count;
  int rc = ock_cbor_read_array(r, &count);
  if (rc) return rc;
  /* previous_change may be null; the four after it are required */
  if (!ock_cbor_array_more(r, count, 4)) return OCK_EPROTO;
  out->previous = NULL;
  if (!ock_cbor_at_null(r) && (rc = ock_cbor_read_fixed(r, &out->previous, OCK_SHA256_LEN))) return rc;
  if ((rc = ock_public_key_read(r, &out->key_type, &out->key, &out->key_len))) return rc;
  if ((rc = ock_cbor_read_bool(r, &out->revoke_all_purpose_keys))) return rc;
  if ((rc = ock_cbor_read_uint(r, &out->valid_from))) return rc;
  if ((rc = ock_cbor_read_uint(r, &out->valid_until))) return rc;
  return ock_cbor_array_finish(r, count, 5);
}

int ock_change_data_read(const ock_change *c, ock_change_data *out) {
  ock_versioned_data vd;
  int rc = ock_versioned_data_read(c->data, c->data_len, &vd);
  if (rc) return rc;
  if (vd.version != 1 || vd.data_type != OCK_CHANGE_DATA_TYPE) return OCK_EIDENTITY;
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, vd.data, vd.len);
  return read_change_fields(&r, out);
}

static int put_change_data(ock_buf *b, const uint8_t *previous, const ock_signing_key *key, int revoke,
                           uint64_t from, uint64_t until) {
  uint8_t pub[OCK_PUBLIC_KEY_MAX];
  size_t pub_len;
  int rc = ock_signing_key_public(key, pub, &pub_len);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_ARRAY, 5);
  if (!rc) rc = previous ? ock_cbor_put_bytes(b, previous, OCK_SHA256_LEN) : ock_cbor_put_head(b, OCK_CBOR_SIMPLE, 22);
  if (!rc) rc = ock_cbor_put_variant_bytes(b, (uint32_t)key->type, pub, pub_len);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_SIMPLE, revoke ? 21 : 20);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_UINT, from);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_UINT, until);
  return rc;
}

/* The data field: VersionedData{1, 1, ChangeData}. */
static int make_versioned(ock_buf *out, const uint8_t *previous, const ock_signing_key *key, int revoke,
                          uint64_t from, uint64_t until) {
  ock_buf change_data;
  ock_buf_init(&change_data);
  int rc = put_change_data(&change_data, previous, key, revoke, from, until);
  if (!rc) rc = ock_versioned_data_put(out, 1, OCK_CHANGE_DATA_TYPE, change_data.data, change_data.len);
  ock_buf_free(&change_data);
  return rc;
}

static int put_signature(ock_buf *b, const ock_signing_key *key, const uint8_t hash[OCK_SHA256_LEN]) {
  uint8_t sig[OCK_SIGNATURE_LEN];
  int rc = ock_signing_key_sign(key, hash, OCK_SHA256_LEN, sig);
  return rc ? rc : ock_cbor_put_variant_bytes(b, (uint32_t)key->type, sig, sizeof sig);
}

int ock_change_put(ock_buf *b, const uint8_t *previous, const ock_signing_key *key,
                   const ock_signing_key *previous_key, int revoke_all_purpose_keys, uint64_t valid_from,
                   uint64_t valid_until) {
  ock_buf data;
  ock_buf_init(&data);
  uint8_t hash[OCK_SHA256_LEN];
  size_t start = b->len;
  int rc = make_versioned(&data, previous, key, revoke_all_purpose_keys, valid_from, valid_until);
  if (!rc) rc = ock_sha256(data.data, data.len, hash);
  /* previous_signature is an Option: omitted when None, so 2 or 3 fields */
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_ARRAY, previous_key ? 3 : 2);
  if (!rc) rc = ock_cbor_put_bytes(b, data.data, data.len);
  if (!rc) rc = put_signature(b, key, hash);
  if (!rc && previous_key) rc = put_signature(b, previous_key, hash);
  if (rc) b->len = start;
  ock_buf_free(&data);
  return rc;
}

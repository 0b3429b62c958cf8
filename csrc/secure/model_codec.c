#include "secure/model_codec.h"

#include "base/err.h"
#include "secure/signing_key.h"

static int read_u8(ock_cbor_reader *r, uint8_t *v) {
  uint64_t x;
  int rc = ock_cbor_read_uint(r, &x);
  if (rc) return rc;
  if (x > 255) return OCK_EPROTO; /* a u8 field: minicbor refuses the overflow */
  *v = (uint8_t)x;
  return 0;
}

int ock_versioned_data_read(const uint8_t *p, size_t n, ock_versioned_data *out) {
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, p, n);
  int64_t count;
  int rc = ock_cbor_read_array(&r, &count);
  if (rc) return rc;
  if (!ock_cbor_array_more(&r, count, 2)) return OCK_EPROTO; /* three required fields */
  if ((rc = read_u8(&r, &out->version)) || (rc = read_u8(&r, &out->data_type))) return rc;
  if ((rc = ock_cbor_read_bytes(&r, &out->data, &out->len))) return rc;
  return ock_cbor_array_finish(&r, count, 3);
}

int ock_versioned_data_put(ock_buf *b, uint8_t version, uint8_t data_type, const void *data, size_t n) {
  int rc = ock_cbor_put_head(b, OCK_CBOR_ARRAY, 3);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_UINT, version);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_UINT, data_type);
  if (!rc) rc = ock_cbor_put_bytes(b, data, n);
  return rc;
}

int ock_cbor_read_fixed(ock_cbor_reader *r, const uint8_t **p, size_t len) {
  size_t n;
  int rc = ock_cbor_read_bytes(r, p, &n);
  if (rc) return rc;
  return n == len ? 0 : OCK_EPROTO;
}

int ock_cbor_read_variant_bytes(ock_cbor_reader *r, uint32_t *variant, const uint8_t **p, size_t *n) {
  int64_t count, fields;
  uint64_t v;
  int rc = ock_cbor_read_array(r, &count);
  if (rc) return rc;
  if (count != 2) return OCK_EPROTO; /* minicbor: "expected enum (2-element array)" */
  if ((rc = ock_cbor_read_uint(r, &v))) return rc;
  if (v > UINT32_MAX) return OCK_EPROTO;
  *variant = (uint32_t)v;
  if ((rc = ock_cbor_read_array(r, &fields))) return rc;
  if (!ock_cbor_array_more(r, fields, 0)) return OCK_EPROTO;
  if ((rc = ock_cbor_read_bytes(r, p, n))) return rc;
  return ock_cbor_array_finish(r, fields, 1);
}

int ock_cbor_put_variant_bytes(ock_buf *b, uint32_t variant, const void *p, size_t n) {
  int rc = ock_cbor_put_head(b, OCK_CBOR_ARRAY, 2);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_UINT, variant);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_ARRAY, 1);
  if (!rc) rc = ock_cbor_put_bytes(b, p, n);
  return rc;
}

int ock_signature_read(ock_cbor_reader *r, int *type, const uint8_t **sig) {
  uint32_t v;
  size_t n;
  int rc = ock_cbor_read_variant_bytes(r, &v, sig, &n);
  if (rc) return rc;
  /* both variants carry 64 bytes; a variant we do not know is an error, as
   * minicbor's UnknownVariant is for a non-optional field */
  if ((v != OCK_KEY_ED25519 && v != OCK_KEY_P256) || n != OCK_SIGNATURE_LEN) return OCK_EPROTO;
  *type = (int)v;
  return 0;
}

int ock_public_key_read(ock_cbor_reader *r, int *type, const uint8_t **pub, size_t *len) {
  uint32_t v;
  int rc = ock_cbor_read_variant_bytes(r, &v, pub, len);
  if (rc) return rc;
  if ((v != OCK_KEY_ED25519 && v != OCK_KEY_P256) || *len != ock_public_key_len((int)v)) return OCK_EPROTO;
  *type = (int)v;
  return 0;
}

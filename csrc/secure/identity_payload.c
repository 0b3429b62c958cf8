#include "secure/identity_payload.h"

#include <openssl/crypto.h>

#include "base/err.h"
#include "codec/cbor.h"

int ock_identity_payload_put(ock_buf *b, const ock_identity *id, const ock_purpose_key *pk) {
  int rc = ock_cbor_put_head(b, OCK_CBOR_ARRAY, 3);
  if (!rc) rc = ock_buf_append(b, id->history.data, id->history.len);
  if (!rc) rc = ock_buf_append(b, pk->attestation.data, pk->attestation.len);
  if (!rc) rc = ock_cbor_put_head(b, OCK_CBOR_ARRAY, 0);
  return rc;
}

/* The extent of the next item. */
static int item(ock_cbor_reader *r, const uint8_t **p, size_t *n) {
  *p = r->p;
  int rc = ock_cbor_skip(r);
  *n = (size_t)(r->p - *p);
  return rc;
}

int ock_identity_payload_read(const uint8_t *p, size_t n, ock_identity_payload *out) {
  ock_cbor_reader r;
  ock_cbor_reader_init(&r, p, n);
  int64_t count, creds;
  int rc = ock_cbor_read_array(&r, &count);
  if (rc) return rc;
  if (!ock_cbor_array_more(&r, count, 2)) return OCK_EPROTO; /* three required fields */
  if ((rc = item(&r, &out->history, &out->history_len))) return rc;
  if ((rc = item(&r, &out->attestation, &out->attestation_len))) return rc;
  /* credentials must be an array, whatever its elements */
  ock_cbor_reader peek = r;
  if ((rc = ock_cbor_read_array(&peek, &creds))) return rc;
  if ((rc = item(&r, &out->credentials, &out->credentials_len))) return rc;
  return ock_cbor_array_finish(&r, count, 3);
}

int ock_identity_payload_verify(const ock_identity_payload *pl, const uint8_t static_key[32], uint64_t now,
                                ock_identity *peer) {
  ock_attestation att;
  int rc = ock_identity_import(peer, pl->history, pl->history_len);
  if (rc) return rc;
  rc = ock_purpose_key_verify(pl->attestation, pl->attestation_len, peer, now, &att);
  /* the key the peer proved it holds in Noise must be the one its identity attests */
  if (!rc && (att.purpose != OCK_PURPOSE_SECURE_CHANNEL || CRYPTO_memcmp(att.public_key, static_key, 32) != 0))
    rc = OCK_EATTEST;
  if (rc) ock_identity_free(peer);
  return rc;
}

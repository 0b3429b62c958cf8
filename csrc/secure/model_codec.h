/* The minicbor shapes Ockam's identity models share (ockam_identity/src/models,
 * ockam_vault/src/types):
 *   VersionedData  = [version u8, data_type u8, data bytes]
 *   key/signature  = [variant, [bytes]]   (a one-field enum variant)
 *   hash, id       = bytes of a fixed length
 * Readers follow minicbor's derived decoders: a struct is an array (definite or
 * indefinite) whose unknown extra elements are skipped; an enum is a definite
 * array of two. Views point into the input. They return 0 or OCK_EPROTO. */
#ifndef OCK_SECURE_MODEL_CODEC_H
#define OCK_SECURE_MODEL_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "codec/cbor.h"

typedef struct {
  uint8_t version;
  uint8_t data_type;
  const uint8_t *data;
  size_t len;
} ock_versioned_data;

/* VersionedData from the start of p (later bytes are ignored, as
 * minicbor::decode ignores them). */
int ock_versioned_data_read(const uint8_t *p, size_t n, ock_versioned_data *out);
/* Appends VersionedData. 0 or OCK_ENOMEM. */
int ock_versioned_data_put(ock_buf *b, uint8_t version, uint8_t data_type, const void *data, size_t n);

/* A definite byte string of exactly `len` bytes. */
int ock_cbor_read_fixed(ock_cbor_reader *r, const uint8_t **p, size_t len);
/* [variant, [bytes, ...]]: the variant (a u32) and its first field, a byte string. */
int ock_cbor_read_variant_bytes(ock_cbor_reader *r, uint32_t *variant, const uint8_t **p, size_t *n);
int ock_cbor_put_variant_bytes(ock_buf *b, uint32_t variant, const void *p, size_t n);
/* A signature enum (ChangeSignature, PurposeKeyAttestationSignature): type
 * OCK_KEY_ED25519 or OCK_KEY_P256, and its 64 bytes. */
int ock_signature_read(ock_cbor_reader *r, int *type, const uint8_t **sig);
/* A public key enum (PrimaryPublicKey, CredentialVerifyingKey): its type and
 * bytes, 32 for Ed25519 and 65 for P-256. */
int ock_public_key_read(ock_cbor_reader *r, int *type, const uint8_t **pub, size_t *len);

#endif

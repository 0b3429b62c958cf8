/* The decoders and verifiers of what a peer presents as itself: a change
 * history (ock_identity_import, ock_change_history_read, ock_change_data_read),
 * a purpose key attestation (ock_attestation_decode, ock_purpose_key_verify
 * against a fixed identity) and the handshake payload that carries both
 * (ock_identity_payload_read and _verify). Every input goes to all of them.
 * Views stay inside the input; an identity that verifies re-imports from its
 * own copy to the same identifier; an attestation or payload that verifies
 * can only be the fixed identity's own (nothing else is signed by its key). */
#include "fuzz_secure.h"

#include <stdlib.h>

#include "secure/change_history.h"
#include "secure/identity_payload.h"

static fuzz_party A;

int LLVMFuzzerInitialize(int *argc, char ***argv);

static void write_seeds(const char *dir) {
  fuzz_write_seed(dir, "seed-history-a", -1, A.id.history.data, A.id.history.len);
  fuzz_write_seed(dir, "seed-attestation-a", -1, A.pk.attestation.data, A.pk.attestation.len);
  ock_buf b;
  ock_buf_init(&b);
  CHECK(ock_identity_payload_put(&b, &A.id, &A.pk) == 0);
  fuzz_write_seed(dir, "seed-payload-a", -1, b.data, b.len);
  /* two rotations: a three-change history, with an ECDSA key in the middle */
  ock_signing_key k2, k3;
  ock_identity rotated;
  CHECK(ock_identity_copy(&rotated, &A.id) == 0);
  CHECK(ock_signing_key_generate(&k2, OCK_KEY_P256) == 0);
  CHECK(ock_signing_key_import(&k3, OCK_KEY_ED25519, (const uint8_t *)"0123456789abcdef0123456789abcdef") == 0);
  CHECK(ock_identity_rotate(&rotated, &A.key, &k2, FUZZ_NOW, 1000) == 0);
  CHECK(ock_identity_rotate(&rotated, &k2, &k3, FUZZ_NOW + 1, 1000) == 0);
  fuzz_write_seed(dir, "seed-history-rotated", -1, rotated.history.data, rotated.history.len);
  ock_identity_free(&rotated);
  ock_signing_key_free(&k2);
  ock_signing_key_free(&k3);
  ock_buf_free(&b);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_party_make(&A, 0x11);
  const char *dir = getenv("OCK_FUZZ_WRITE_SEEDS");
  if (dir) {
    write_seeds(dir);
    exit(0);
  }
  return 0;
}

static void check_history(const uint8_t *data, size_t size) {
  ock_change changes[OCK_IDENTITY_MAX_CHANGES];
  size_t count = 0, used = 0;
  int rc = ock_change_history_read(data, size, changes, OCK_IDENTITY_MAX_CHANGES, &count, &used);
  if (rc) {
    CHECK(rc == OCK_EPROTO || rc == OCK_ETOOBIG);
    return;
  }
  CHECK(used <= size && count <= OCK_IDENTITY_MAX_CHANGES);
  for (size_t i = 0; i < count; i++) {
    CHECK(fuzz_within(changes[i].data, changes[i].data_len, data, size));
    CHECK(fuzz_within(changes[i].sig, 64, data, size));
    if (changes[i].has_prev_sig) CHECK(fuzz_within(changes[i].prev_sig, 64, data, size));
    ock_change_data d;
    rc = ock_change_data_read(&changes[i], &d);
    CHECK(rc == 0 || rc == OCK_EPROTO || rc == OCK_EIDENTITY);
    if (!rc) {
      CHECK(fuzz_within(d.key, d.key_len, data, size));
      CHECK(d.key_len == ock_public_key_len(d.key_type));
      if (d.previous) CHECK(fuzz_within(d.previous, 32, data, size));
    }
  }
}

static void check_identity(const uint8_t *data, size_t size) {
  ock_identity id, again;
  int rc = ock_identity_import(&id, data, size);
  if (rc) {
    CHECK(rc == OCK_EPROTO || rc == OCK_ETOOBIG || rc == OCK_EIDENTITY || rc == OCK_EBADSIG);
    CHECK(id.history.data == NULL);
    return;
  }
  CHECK(id.history.len == size && memcmp(id.history.data, data, size) == 0);
  CHECK(id.changes >= 1 && id.changes <= OCK_IDENTITY_MAX_CHANGES);
  CHECK(ock_identity_import(&again, id.history.data, id.history.len) == 0);
  CHECK(memcmp(again.identifier, id.identifier, 32) == 0);
  char text[OCK_IDENTIFIER_TEXT_LEN + 1];
  uint8_t back[32];
  ock_identifier_format(id.identifier, text);
  CHECK(ock_identifier_parse(text, strlen(text), back) == 0 && memcmp(back, id.identifier, 32) == 0);
  (void)ock_identity_check_time(&id, FUZZ_NOW);
  ock_identity_free(&again);
  ock_identity_free(&id);
}

static void check_attestation(const uint8_t *data, size_t size) {
  ock_attestation_view v;
  int rc = ock_attestation_decode(data, size, &v);
  if (rc) {
    CHECK(rc == OCK_EPROTO || rc == OCK_EATTEST);
  } else {
    CHECK(fuzz_within(v.data, v.data_len, data, size));
    CHECK(fuzz_within(v.sig, 64, data, size));
    CHECK(v.fields.public_key_len <= OCK_PUBLIC_KEY_MAX);
  }
  ock_attestation f;
  rc = ock_purpose_key_verify(data, size, &A.id, FUZZ_NOW, &f);
  if (rc) {
    CHECK(rc == OCK_EPROTO || rc == OCK_EATTEST || rc == OCK_EEXPIRED || rc == OCK_EBADSIG);
    return;
  }
  /* only A's key signs for A: the fields are those A attested */
  const ock_attestation *a = &A.pk.fields;
  CHECK(memcmp(f.subject, a->subject, 32) == 0 && memcmp(f.subject_change_hash, a->subject_change_hash, 32) == 0);
  CHECK(f.purpose == a->purpose && f.public_key_len == a->public_key_len);
  CHECK(memcmp(f.public_key, a->public_key, a->public_key_len) == 0);
  CHECK(f.created_at == a->created_at && f.expires_at == a->expires_at);
}

static void check_payload(const uint8_t *data, size_t size) {
  ock_identity_payload pl;
  if (ock_identity_payload_read(data, size, &pl)) return;
  CHECK(fuzz_within(pl.history, pl.history_len, data, size));
  CHECK(fuzz_within(pl.attestation, pl.attestation_len, data, size));
  CHECK(fuzz_within(pl.credentials, pl.credentials_len, data, size));
  ock_identity peer;
  int rc = ock_identity_payload_verify(&pl, A.pk.key.pub, FUZZ_NOW, &peer);
  if (rc) {
    CHECK(peer.history.data == NULL);
    return;
  }
  CHECK(memcmp(peer.identifier, A.id.identifier, 32) == 0);
  ock_identity_free(&peer);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *copy = malloc(size ? size : 1); /* exact size: ASan sees any overread */
  if (!copy) return 0;
  memcpy(copy, data, size);
  check_history(copy, size);
  check_identity(copy, size);
  check_attestation(copy, size);
  check_payload(copy, size);
  free(copy);
  return 0;
}

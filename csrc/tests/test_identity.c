/* Identities (secure/identity.h): the three change histories the real ockam
 * 0.139.0 CLI made (shared/spec/vectors/ockam-identities.txt), every byte of
 * one flipped, histories made here with Ed25519 and P-256 keys, rotations,
 * and broken chains built change by change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "codec/cbor.h"
#include "secure/change_history.h"
#include "secure/hash.h"
#include "secure/identity.h"
#include "test.h"
#include "test_secure.h"

const struct vector_identity vector_identities[3] = {
    {"alice", "I5d69680fb63406ff412215a86c1c18e3890d3d5889ef1e727fef17ce6b2e0531",
     "81825837830101583285f68200815820e5610f38e0c8a109764eda807b42262cb3a973c11e105245bae4ded65ebc2ee6f41a6b0e"
     "aff61a7ddab2f68200815840e6a8e95c76f183eb125ddf5ff1fd2a5ee748eb7b0c4af2bc02111efd762460cb227dab94b4967caf"
     "aa80dcb2c977112d8a6144eac81e35d1ef588a90a5ba0803"},
    {"bob", "I62d57f33262efb7837d6084de16a92898101d436429c08db1b87fbedc24f4741",
     "81825837830101583285f68200815820865676d6d9b9ae6e608b953a7838606c583592b230367e705e7569eafbd5c207f41a6b0e"
     "aff61a7ddab2f68200815840d44bd34f2ad1459e8376c02242f2c43b761c01c48f0d0591784730a28390189ac13ab8cd721000b1"
     "12cc0e0aec7954c870657f1c055b241d6c7bb6d28bdf8c0b"},
    {"carol", "I06a4bb856dddfed5f84e373508ff06c99fd161f8ab74f362cf829cccf59ece88",
     "81825837830101583285f6820081582018d0c04cc5c16c2102813f3ac5fb597b3ede682538fa9a01dd028768d4848f49f41a6b0e"
     "aff61a7ddab2f682008158409c0c245cad3ce9b798e9070fd4fdb545ec29a029815cb0656125dfd7644b37e0f2084f461b5b21f1"
     "4ef067848eb9f7735bc10565efa0983354d13e9c97de690b"},
};

/* alice's history: 81 82 | 58 37 [83 01 01 58 32 [85 f6 82 00 81 58 20 <key:16..47> f4
 * 1a <from:50..53> 1a <until:55..58>]] | 82 00 81 58 40 <signature:64..127> */
#define ALICE_FROM 1796124662u  /* 2026-12-01 11:31:02 UTC */
#define ALICE_UNTIL 2111484662u /* ten years later */

int t_import_hex(ock_identity *id, const char *hex) {
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, hex);
  uint8_t *p = t_dup(b.data, b.len);
  int rc = ock_identity_import(id, p, b.len);
  free(p);
  ock_buf_free(&b);
  return rc;
}

void test_identity_vectors(void) {
  for (int i = 0; i < 3; i++) {
    ock_identity id;
    CHECK_EQ(t_import_hex(&id, vector_identities[i].history), 0);
    char text[OCK_IDENTIFIER_TEXT_LEN + 1];
    ock_identifier_format(id.identifier, text);
    CHECK(strcmp(text, vector_identities[i].identifier) == 0);
    CHECK_EQ(id.changes, 1);
    CHECK_EQ(id.key_type, OCK_KEY_ED25519);
    CHECK_EQ(id.public_key_len, 32);
    CHECK_EQ(id.valid_from, ALICE_FROM); /* made by one command, the same second */
    CHECK_EQ(id.valid_until, ALICE_UNTIL);
    /* one change: the identifier is the hash of the only (= latest) change */
    CHECK_BYTES(id.latest_change_hash, 32, id.identifier, 32);
    ock_buf b;
    ock_buf_init(&b);
    b_hex(&b, vector_identities[i].history);
    CHECK_BYTES(id.history.data, id.history.len, b.data, b.len);
    /* the identifier is SHA-256 of the data field, bytes 4..58 */
    uint8_t h[32];
    CHECK_EQ(ock_sha256(b.data + 4, 55, h), 0);
    CHECK_BYTES(h, 32, id.identifier, 32);
    ock_buf_free(&b);
    ock_identity_free(&id);
  }
}

void test_identity_flipped_bytes(void) {
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, vector_identities[0].history);
  CHECK_EQ(b.len, 128);
  int counts[3] = {0, 0, 0};
  for (size_t i = 0; i < b.len; i++) {
    for (int bit = 0; bit < 8; bit++) {
      b.data[i] ^= (uint8_t)(1 << bit);
      ock_identity id;
      int rc = ock_identity_import(&id, b.data, b.len);
      b.data[i] ^= (uint8_t)(1 << bit);
      CHECK(rc == OCK_EPROTO || rc == OCK_EIDENTITY || rc == OCK_EBADSIG);
      counts[rc == OCK_EPROTO ? 0 : rc == OCK_EIDENTITY ? 1 : 2]++;
      CHECK(id.history.data == NULL); /* left empty */
    }
  }
  CHECK(counts[0] > 0 && counts[1] > 0 && counts[2] > 0);
  /* the clear error for the places that matter */
  struct {
    size_t at;
    int rc;
  } cases[] = {
      {5, OCK_EIDENTITY}, /* VersionedData version 1 -> 0 */
      {6, OCK_EIDENTITY}, /* data_type 1 -> 0: not a ChangeData */
      {20, OCK_EBADSIG},  /* primary public key */
      {48, OCK_EBADSIG},  /* revoke_all_purpose_keys false -> true */
      {53, OCK_EBADSIG},  /* attestations_valid_from */
      {58, OCK_EBADSIG},  /* attestations_valid_until */
      {60, OCK_EBADSIG},  /* signature variant 0 -> 1: a P-256 signature for an Ed25519 key */
      {100, OCK_EBADSIG}, /* signature */
      {127, OCK_EBADSIG},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    b.data[cases[k].at] ^= 0x01;
    ock_identity id;
    CHECK_EQ(ock_identity_import(&id, b.data, b.len), cases[k].rc);
    b.data[cases[k].at] ^= 0x01;
  }
  ock_buf_free(&b);
}

void test_identity_framing(void) {
  ock_buf b;
  ock_buf_init(&b);
  b_hex(&b, vector_identities[1].history);
  ock_identity id;
  /* every truncation is malformed, never a read past the end */
  for (size_t n = 0; n < b.len; n++) {
    uint8_t *p = t_dup(b.data, n);
    CHECK_EQ(ock_identity_import(&id, p, n), OCK_EPROTO);
    free(p);
  }
  /* a byte after the history */
  ock_buf_push(&b, 0x00);
  CHECK_EQ(ock_identity_import(&id, b.data, b.len), OCK_EPROTO);
  b.len--;
  /* indefinite-length arrays (minicbor reads them) give the same identity */
  ock_buf ind;
  ock_buf_init(&ind);
  b_hex(&ind, "9f9f");                  /* history, change */
  ock_buf_append(&ind, b.data + 2, 126); /* data, signature */
  b_hex(&ind, "ffff");
  CHECK_EQ(ock_identity_import(&id, ind.data, ind.len), 0);
  char text[OCK_IDENTIFIER_TEXT_LEN + 1];
  ock_identifier_format(id.identifier, text);
  CHECK(strcmp(text, vector_identities[1].identifier) == 0);
  ock_identity_free(&id);
  /* a null previous_signature, and an extra field a newer peer might add */
  ock_buf_free(&ind);
  ock_buf_init(&ind);
  b_hex(&ind, "81 84");
  ock_buf_append(&ind, b.data + 2, 126);
  b_hex(&ind, "f6 63 6e 65 77");
  CHECK_EQ(ock_identity_import(&id, ind.data, ind.len), 0);
  ock_identity_free(&id);
  /* no change at all */
  CHECK_EQ(ock_identity_import(&id, (const uint8_t *)"\x80", 1), OCK_EIDENTITY);
  CHECK_EQ(ock_identity_import(&id, (const uint8_t *)"\x9f\xff", 2), OCK_EIDENTITY);
  ock_buf_free(&ind);
  ock_buf_free(&b);
}

void test_identity_create_ed25519(void) {
  ock_signing_key k, k2;
  ock_identity id, again;
  CHECK_EQ(ock_signing_key_generate(&k, OCK_KEY_ED25519), 0);
  CHECK_EQ(ock_identity_create(&id, &k, 1000, OCK_IDENTITY_DEFAULT_TTL), 0);
  CHECK_EQ(id.changes, 1);
  CHECK_EQ(id.valid_from, 1000);
  CHECK_EQ(id.valid_until, 1000 + OCK_IDENTITY_DEFAULT_TTL);
  CHECK_EQ(ock_identity_key_matches(&id, &k), 0);
  /* the layout Ockam writes: 81 82 58 37 83 01 01 58 32 85 f6 82 00 81 58 20 ... */
  CHECK_EQ(id.history.len, 126); /* 1000 fits in 2 bytes, not 4 */
  CHECK_BYTES(id.history.data, 16, "\x81\x82\x58\x35\x83\x01\x01\x58\x30\x85\xf6\x82\x00\x81\x58\x20", 16);
  /* the history alone is the identity: import it elsewhere */
  CHECK_EQ(ock_identity_import(&again, id.history.data, id.history.len), 0);
  CHECK_BYTES(again.identifier, 32, id.identifier, 32);
  ock_identity_free(&again);
  /* persistence: the exported secret is the same key */
  uint8_t secret[32];
  CHECK_EQ(ock_signing_key_export(&k, secret), 0);
  CHECK_EQ(ock_signing_key_import(&k2, OCK_KEY_ED25519, secret), 0);
  CHECK_EQ(ock_identity_key_matches(&id, &k2), 0);
  ock_signing_key_free(&k2);
  secret[0] ^= 1;
  CHECK_EQ(ock_signing_key_import(&k2, OCK_KEY_ED25519, secret), 0);
  CHECK_EQ(ock_identity_key_matches(&id, &k2), OCK_EINVAL);
  ock_signing_key_free(&k2);
  /* another key, another identifier */
  CHECK_EQ(ock_signing_key_generate(&k2, OCK_KEY_ED25519), 0);
  CHECK_EQ(ock_identity_create(&again, &k2, 1000, OCK_IDENTITY_DEFAULT_TTL), 0);
  CHECK(memcmp(again.identifier, id.identifier, 32) != 0);
  ock_identity_free(&again);
  ock_signing_key_free(&k2);
  ock_identity_free(&id);
  ock_signing_key_free(&k);
}

void test_identity_p256(void) {
  ock_signing_key k;
  ock_identity id, again;
  CHECK_EQ(ock_signing_key_generate(&k, OCK_KEY_P256), 0);
  CHECK_EQ(ock_identity_create(&id, &k, 1700000000, 3600), 0);
  CHECK_EQ(id.key_type, OCK_KEY_P256);
  CHECK_EQ(id.public_key_len, 65);
  CHECK_EQ(ock_identity_import(&again, id.history.data, id.history.len), 0);
  ock_identity_free(&again);
  /* flip a bit of the ECDSA signature (the last bytes) and of the key */
  id.history.data[id.history.len - 1] ^= 0x10;
  CHECK_EQ(ock_identity_import(&again, id.history.data, id.history.len), OCK_EBADSIG);
  id.history.data[id.history.len - 1] ^= 0x10;
  id.history.data[40] ^= 0x10; /* inside the 65-byte point: off the curve or another key */
  CHECK_EQ(ock_identity_import(&again, id.history.data, id.history.len), OCK_EBADSIG);
  ock_identity_free(&id);
  ock_signing_key_free(&k);
}

void test_identity_rotate(void) {
  ock_signing_key k1, k2, k3;
  ock_identity id, again;
  CHECK_EQ(ock_signing_key_generate(&k1, OCK_KEY_ED25519), 0);
  CHECK_EQ(ock_signing_key_generate(&k2, OCK_KEY_P256), 0); /* mixed key types in one chain */
  CHECK_EQ(ock_signing_key_generate(&k3, OCK_KEY_ED25519), 0);
  CHECK_EQ(ock_identity_create(&id, &k1, 100, 1000), 0);
  uint8_t first[32], first_hash[32];
  memcpy(first, id.identifier, 32);
  memcpy(first_hash, id.latest_change_hash, 32);
  CHECK_EQ(ock_identity_rotate(&id, &k2, &k3, 200, 1000), OCK_EINVAL); /* k2 is not its key */
  CHECK_EQ(ock_identity_rotate(&id, &k1, &k2, 200, 1000), 0);
  CHECK_EQ(ock_identity_rotate(&id, &k2, &k3, 300, 1000), 0);
  CHECK_EQ(id.changes, 3);
  CHECK_BYTES(id.identifier, 32, first, 32); /* rotation keeps the identifier */
  CHECK(memcmp(id.latest_change_hash, first_hash, 32) != 0);
  CHECK_EQ(id.valid_from, 300);
  CHECK_EQ(id.valid_until, 1300);
  CHECK_EQ(ock_identity_key_matches(&id, &k3), 0);
  CHECK_EQ(ock_identity_key_matches(&id, &k1), OCK_EINVAL);
  CHECK_EQ(ock_identity_import(&again, id.history.data, id.history.len), 0);
  CHECK_BYTES(again.identifier, 32, first, 32);
  ock_identity_free(&again);
  ock_identity_free(&id);
  ock_signing_key_free(&k1);
  ock_signing_key_free(&k2);
  ock_signing_key_free(&k3);
}

/* A two-change history built by hand: [first, second]. */
static int two_changes(const uint8_t *prev_hash, const ock_signing_key *k1, const ock_signing_key *k2,
                       const ock_signing_key *prev_signer, uint64_t from1, uint64_t from2) {
  ock_buf b, first;
  ock_buf_init(&b);
  ock_buf_init(&first);
  ock_cbor_put_head(&b, OCK_CBOR_ARRAY, 2);
  CHECK_EQ(ock_change_put(&first, NULL, k1, NULL, 0, from1, from1 + 100), 0);
  ock_buf_append(&b, first.data, first.len);
  uint8_t hash[32];
  ock_change c;
  size_t count, used;
  ock_buf wrap;
  ock_buf_init(&wrap);
  ock_cbor_put_head(&wrap, OCK_CBOR_ARRAY, 1);
  ock_buf_append(&wrap, first.data, first.len);
  CHECK_EQ(ock_change_history_read(wrap.data, wrap.len, &c, 1, &count, &used), 0);
  ock_sha256(c.data, c.data_len, hash);
  CHECK_EQ(ock_change_put(&b, prev_hash ? prev_hash : hash, k2, prev_signer, 0, from2, from2 + 100), 0);
  ock_identity id;
  int rc = ock_identity_import(&id, b.data, b.len);
  ock_identity_free(&id);
  ock_buf_free(&wrap);
  ock_buf_free(&first);
  ock_buf_free(&b);
  return rc;
}

void test_identity_broken_chains(void) {
  ock_signing_key k1, k2, k3;
  CHECK_EQ(ock_signing_key_generate(&k1, OCK_KEY_ED25519), 0);
  CHECK_EQ(ock_signing_key_generate(&k2, OCK_KEY_ED25519), 0);
  CHECK_EQ(ock_signing_key_generate(&k3, OCK_KEY_ED25519), 0);
  CHECK_EQ(two_changes(NULL, &k1, &k2, &k1, 10, 20), 0); /* the well-formed one */
  CHECK_EQ(two_changes(NULL, &k1, &k2, &k1, 10, 10), 0); /* same start is allowed */
  uint8_t wrong[32] = {1};
  CHECK_EQ(two_changes(wrong, &k1, &k2, &k1, 10, 20), OCK_EIDENTITY); /* names another change */
  CHECK_EQ(two_changes(NULL, &k1, &k2, NULL, 10, 20), OCK_EIDENTITY); /* old key did not approve */
  CHECK_EQ(two_changes(NULL, &k1, &k2, &k3, 10, 20), OCK_EBADSIG);    /* approved by a stranger */
  CHECK_EQ(two_changes(NULL, &k1, &k2, &k1, 20, 10), OCK_EIDENTITY);  /* newer key valid earlier */
  /* a first change that names a previous one */
  ock_buf b;
  ock_buf_init(&b);
  ock_cbor_put_head(&b, OCK_CBOR_ARRAY, 1);
  CHECK_EQ(ock_change_put(&b, wrong, &k1, NULL, 0, 1, 2), 0);
  ock_identity id;
  CHECK_EQ(ock_identity_import(&id, b.data, b.len), OCK_EIDENTITY);
  ock_buf_free(&b);
  ock_signing_key_free(&k1);
  ock_signing_key_free(&k2);
  ock_signing_key_free(&k3);
}

void test_identity_too_many_changes(void) {
  ock_signing_key k;
  ock_identity id;
  CHECK_EQ(ock_signing_key_generate(&k, OCK_KEY_ED25519), 0);
  CHECK_EQ(ock_identity_create(&id, &k, 1, 10), 0);
  /* an array claiming 65 copies of a change: refused before any signature work */
  ock_buf b;
  ock_buf_init(&b);
  ock_cbor_put_head(&b, OCK_CBOR_ARRAY, OCK_IDENTITY_MAX_CHANGES + 1);
  for (int i = 0; i <= OCK_IDENTITY_MAX_CHANGES; i++) ock_buf_append(&b, id.history.data + 1, id.history.len - 1);
  ock_identity other;
  CHECK_EQ(ock_identity_import(&other, b.data, b.len), OCK_ETOOBIG);
  ock_buf_free(&b);
  ock_identity_free(&id);
  ock_signing_key_free(&k);
}

void test_identity_time(void) {
  ock_identity id;
  CHECK_EQ(t_import_hex(&id, vector_identities[2].history), 0);
  CHECK_EQ(ock_identity_check_time(&id, ALICE_FROM), 0);
  CHECK_EQ(ock_identity_check_time(&id, ALICE_UNTIL), 0);
  CHECK_EQ(ock_identity_check_time(&id, ALICE_UNTIL + 1), OCK_EEXPIRED);         /* expired */
  CHECK_EQ(ock_identity_check_time(&id, ALICE_FROM - OCK_MAX_TIME_DRIFT), 0);     /* clock drift */
  CHECK_EQ(ock_identity_check_time(&id, ALICE_FROM - OCK_MAX_TIME_DRIFT - 1), OCK_EEXPIRED);
  ock_identity_free(&id);
}

void test_identifier_text(void) {
  uint8_t id[32], back[32];
  for (int i = 0; i < 32; i++) id[i] = (uint8_t)(i * 9);
  char text[OCK_IDENTIFIER_TEXT_LEN + 1];
  ock_identifier_format(id, text);
  CHECK_EQ(strlen(text), 65);
  CHECK_EQ(text[0], 'I');
  CHECK_EQ(ock_identifier_parse(text, 65, back), 0);
  CHECK_BYTES(back, 32, id, 32);
  const char *alice = vector_identities[0].identifier;
  char upper[80];
  snprintf(upper, sizeof upper, "  %s\n", alice);
  for (char *c = upper + 3; *c; c++)
    if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 32);
  CHECK_EQ(ock_identifier_parse(upper, strlen(upper), back), 0);
  ock_identity a;
  CHECK_EQ(t_import_hex(&a, vector_identities[0].history), 0);
  CHECK_BYTES(back, 32, a.identifier, 32);
  ock_identity_free(&a);
  CHECK_EQ(ock_identifier_parse(alice, 64, back), OCK_EINVAL);
  CHECK_EQ(ock_identifier_parse(alice + 1, 64, back), OCK_EINVAL);
  CHECK_EQ(ock_identifier_parse("i5d69680fb63406ff412215a86c1c18e3890d3d5889ef1e727fef17ce6b2e0531", 65, back),
           OCK_EINVAL);
  CHECK_EQ(ock_identifier_parse("I5d69680fb63406ff412215a86c1c18e3890d3d5889ef1e727fef17ce6b2e053g", 65, back),
           OCK_EINVAL);
}

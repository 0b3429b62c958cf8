/* Deterministic identities for the fuzz targets of csrc/secure/: keys from
 * fixed secrets and a fixed clock, so that Ed25519 signatures, attestations,
 * handshake messages and transport messages are the same on every run and
 * the corpus's genuine messages stay genuine. With OCK_FUZZ_WRITE_SEEDS=dir
 * in the environment a target writes its seed-* files there and exits
 * (fuzz/README.md). */
#ifndef OCK_FUZZ_SECURE_H
#define OCK_FUZZ_SECURE_H

#include "fuzz.h"

#include "base/err.h"
#include "secure/identity.h"
#include "secure/purpose_key.h"
#include "secure/x25519.h"

#define FUZZ_NOW 1800000000u

typedef struct {
  ock_signing_key key;
  ock_identity id;
  ock_purpose_key pk;
} fuzz_party;

/* A key whose 32-byte secret is `seed` repeated. */
static inline void fuzz_x25519(ock_x25519_key *k, uint8_t seed) {
  uint8_t secret[32];
  memset(secret, seed, sizeof secret);
  CHECK(ock_x25519_import(k, secret) == 0);
}

static inline void fuzz_party_make(fuzz_party *p, uint8_t seed) {
  uint8_t secret[32];
  memset(secret, seed, sizeof secret);
  CHECK(ock_signing_key_import(&p->key, OCK_KEY_ED25519, secret) == 0);
  CHECK(ock_identity_create(&p->id, &p->key, FUZZ_NOW - 10, OCK_IDENTITY_DEFAULT_TTL) == 0);
  ock_x25519_key x;
  fuzz_x25519(&x, (uint8_t)(seed + 0x40));
  CHECK(ock_purpose_key_create_with(&p->pk, &p->id, &p->key, &x, FUZZ_NOW, OCK_PURPOSE_KEY_DEFAULT_TTL) == 0);
}

/* Writes dir/name with an optional one-byte prefix (a target's mode). */
static inline void fuzz_write_seed(const char *dir, const char *name, int prefix, const uint8_t *p, size_t n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  CHECK(f != NULL);
  if (prefix >= 0) fputc(prefix, f);
  CHECK(fwrite(p, 1, n, f) == n);
  fclose(f);
}

#endif

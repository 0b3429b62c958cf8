/* Shared by the tests of csrc/secure/: the identities the real ockam CLI
 * made (test_identity.c) and helpers to build peers. */
#ifndef OCK_TEST_SECURE_H
#define OCK_TEST_SECURE_H

#include "secure/identity.h"

struct vector_identity {
  const char *name;
  const char *identifier;
  const char *history; /* hex */
};
extern const struct vector_identity vector_identities[3];

/* ock_identity_import of a hex string (via an exact-size heap copy). */
int t_import_hex(ock_identity *id, const char *hex);

#endif

#include "secure/purpose_key.h"
#include "secure/xx.h"

/* One side of a channel: a signing key, its identity, a purpose key. */
typedef struct {
  ock_signing_key key;
  ock_identity id;
  ock_purpose_key pk;
} t_party;

/* A party whose identity is valid from `now` - 10 for id_ttl seconds and
 * whose purpose key is created at `now`. */
void t_party_make(t_party *p, int key_type, uint64_t now, uint64_t id_ttl);
void t_party_free(t_party *p);
/* Runs a whole handshake between two fresh ock_xx at `now`; both are done
 * when it returns 0 (the first error otherwise). The messages are left in
 * m1, m2, m3 when those are not NULL. */
int t_handshake(ock_xx *init, t_party *a, ock_xx *resp, t_party *b, uint64_t now, ock_buf *m1, ock_buf *m2,
                ock_buf *m3);

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

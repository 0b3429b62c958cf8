/* A node's identity: the Ed25519 key, the identity it signs (identity.h)
 * and the secure channel purpose key it attests (purpose_key.h), kept as the
 * node's module state so that they are wiped when the node is freed. Every
 * node gets one when the API creates it; secure channels use it. Loop
 * thread only. */
#ifndef OCK_SECURE_NODE_IDENTITY_H
#define OCK_SECURE_NODE_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "routing/node_core.h"
#include "secure/identity.h"
#include "secure/purpose_key.h"
#include "secure/signing_key.h"

typedef struct {
  int set;
  ock_signing_key key;
  ock_identity id;
  ock_purpose_key pk;
} ock_node_identity;

/* Gives node n its identity. With secret NULL a new Ed25519 key and a new
 * identity are made; otherwise secret is the 32-byte Ed25519 seed and
 * history (hlen bytes) the identity's change history, verified and checked
 * to end with this key (history NULL: a new identity for that key). A fresh
 * purpose key is attested either way. Returns 0 or OCK_EEXIST (n has one),
 * OCK_ENOMEM, OCK_ECRYPTO, OCK_EINVAL (the key is not the identity's), the
 * errors of ock_identity_import. */
int ock_node_identity_init(ock_node *n, const uint8_t *secret, const uint8_t *history, size_t hlen);
/* The node's identity, or NULL when it has none. */
const ock_node_identity *ock_node_identity_of(ock_node *n);

#endif

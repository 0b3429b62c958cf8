#include "secure/node_identity.h"

#include <string.h>
#include <time.h>

#include "base/err.h"

static void on_close(ock_node *n, void *state);
static const ock_node_ext_ops ops = {.size = sizeof(ock_node_identity), .level = OCK_EXT_NODE, .on_close = on_close};

/* The identity outlives the close (channels closing after it may still log
 * it) but not the node: wiped here, the node frees the slot after. */
static void on_close(ock_node *n, void *state) {
  (void)n;
  ock_node_identity *ni = state;
  if (!ni->set) return;
  ock_purpose_key_free(&ni->pk);
  ock_identity_free(&ni->id);
  ock_signing_key_free(&ni->key);
  ni->set = 0;
}

/* Fills key and id of ni from the arguments of ock_node_identity_init. */
static int make_identity(ock_node_identity *ni, const uint8_t *secret, const uint8_t *history, size_t hlen,
                         uint64_t now) {
  int rc = secret ? ock_signing_key_import(&ni->key, OCK_KEY_ED25519, secret)
                  : ock_signing_key_generate(&ni->key, OCK_KEY_ED25519);
  if (rc) return rc;
  if (!history) return ock_identity_create(&ni->id, &ni->key, now, OCK_IDENTITY_DEFAULT_TTL);
  rc = ock_identity_import(&ni->id, history, hlen);
  if (!rc && (rc = ock_identity_key_matches(&ni->id, &ni->key)) != 0) ock_identity_free(&ni->id);
  return rc;
}

int ock_node_identity_init(ock_node *n, const uint8_t *secret, const uint8_t *history, size_t hlen) {
  ock_node_identity *ni = ock_node_ext(n, &ops);
  if (!ni) return OCK_ENOMEM;
  if (ni->set) return OCK_EEXIST;
  uint64_t now = (uint64_t)time(NULL);
  ock_identity_init(&ni->id);
  int rc = make_identity(ni, secret, history, hlen, now);
  if (rc) {
    ock_signing_key_free(&ni->key);
    return rc;
  }
  rc = ock_purpose_key_create(&ni->pk, &ni->id, &ni->key, now, OCK_PURPOSE_KEY_DEFAULT_TTL);
  if (rc) {
    ock_identity_free(&ni->id);
    ock_signing_key_free(&ni->key);
    return rc;
  }
  ni->set = 1;
  return 0;
}

const ock_node_identity *ock_node_identity_of(ock_node *n) {
  ock_node_identity *ni = ock_node_ext(n, &ops);
  return ni && ni->set ? ni : NULL;
}

#include "secure/verify_cache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#include "base/err.h"

/* Direct-mapped: a slot per digest prefix, the newest success wins it. 1024
 * slots (32 KiB) remember more peers than a node usually has. */
#define SLOTS 1024

static uint8_t slots[SLOTS][OCK_VERIFY_KEY_LEN];
static uint8_t used[SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static size_t slot_of(const uint8_t key[OCK_VERIFY_KEY_LEN]) { return ((size_t)key[0] << 8 | key[1]) % SLOTS; }

int ock_verify_cache_key(int type, const uint8_t *pub, size_t pub_len, const uint8_t *data, size_t n,
                         const uint8_t *sig, size_t sig_len, uint8_t key[OCK_VERIFY_KEY_LEN]) {
  /* lengths first, so that no two different inputs hash the same bytes */
  uint64_t head[4] = {(uint64_t)type, pub_len, n, sig_len};
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned len = 0;
  int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, head, sizeof head) &&
           EVP_DigestUpdate(ctx, pub, pub_len) && (n == 0 || EVP_DigestUpdate(ctx, data, n)) &&
           EVP_DigestUpdate(ctx, sig, sig_len) && EVP_DigestFinal_ex(ctx, key, &len) && len == OCK_VERIFY_KEY_LEN;
  EVP_MD_CTX_free(ctx);
  return ok ? 0 : OCK_ECRYPTO;
}

int ock_verify_cache_has(const uint8_t key[OCK_VERIFY_KEY_LEN]) {
  size_t i = slot_of(key);
  pthread_mutex_lock(&mu);
  int hit = used[i] && CRYPTO_memcmp(slots[i], key, OCK_VERIFY_KEY_LEN) == 0;
  pthread_mutex_unlock(&mu);
  return hit;
}

void ock_verify_cache_put(const uint8_t key[OCK_VERIFY_KEY_LEN]) {
  size_t i = slot_of(key);
  pthread_mutex_lock(&mu);
  memcpy(slots[i], key, OCK_VERIFY_KEY_LEN);
  used[i] = 1;
  pthread_mutex_unlock(&mu);
}

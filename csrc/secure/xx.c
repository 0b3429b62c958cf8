#include "secure/xx.h"

#include <openssl/crypto.h>
#include <string.h>

#include "base/err.h"
#include "secure/identity_payload.h"

int ock_xx_init_with(ock_xx *xx, int role, const ock_identity *self, const ock_purpose_key *pk,
                     ock_x25519_key *ephemeral) {
  memset(xx, 0, sizeof *xx);
  ock_identity_init(&xx->peer);
  xx->role = role;
  xx->self = self;
  xx->pk = pk;
  xx->state = role == OCK_XX_INITIATOR ? OCK_XX_INITIAL : OCK_XX_WAIT_M1;
  int rc = ock_noise_init(&xx->noise, (const uint8_t *)OCK_XX_PROTOCOL_NAME, &pk->key, ephemeral);
  if (rc) ock_xx_free(xx);
  return rc;
}

int ock_xx_init(ock_xx *xx, int role, const ock_identity *self, const ock_purpose_key *pk) {
  ock_x25519_key e;
  int rc = ock_x25519_generate(&e);
  return rc ? rc : ock_xx_init_with(xx, role, self, pk, &e);
}

void ock_xx_set_trust(ock_xx *xx, ock_xx_trust_fn fn, void *ctx) {
  xx->trust = fn;
  xx->trust_ctx = ctx;
}

int ock_xx_start(ock_xx *xx, ock_buf *out) {
  if (xx->state != OCK_XX_INITIAL) return OCK_ESTATE;
  int rc = ock_noise_write1(&xx->noise, NULL, 0, out); /* Ockam sends no payload in message 1 */
  if (!rc) xx->state = OCK_XX_WAIT_M2;
  return rc;
}

/* Verifies the peer's decrypted payload against the static key it used. */
static int check_peer(ock_xx *xx, const ock_buf *payload, uint64_t now) {
  ock_identity_payload pl;
  int rc = ock_identity_payload_read(payload->data, payload->len, &pl);
  if (!rc) rc = ock_identity_payload_verify(&pl, xx->noise.rs, now, &xx->peer);
  if (!rc && xx->trust && xx->trust(xx->trust_ctx, xx->peer.identifier) != 0) {
    ock_identity_free(&xx->peer);
    rc = OCK_EUNTRUSTED;
  }
  return rc;
}

/* Split, reversed as Ockam reverses it, then drop the handshake secrets. */
static int finish(ock_xx *xx) {
  uint8_t k1[32], k2[32];
  int rc = ock_noise_split(&xx->noise, k1, k2);
  if (rc) return rc;
  int initiator = xx->role == OCK_XX_INITIATOR;
  memcpy(xx->encrypt_key, initiator ? k2 : k1, 32);
  memcpy(xx->decrypt_key, initiator ? k1 : k2, 32);
  OPENSSL_cleanse(k1, sizeof k1);
  OPENSSL_cleanse(k2, sizeof k2);
  ock_noise_free(&xx->noise);
  xx->state = OCK_XX_DONE;
  return 0;
}

static int write_payload(ock_xx *xx, int message, ock_buf *out) {
  ock_buf pl;
  ock_buf_init(&pl);
  int rc = ock_identity_payload_put(&pl, xx->self, xx->pk);
  if (!rc) rc = message == 2 ? ock_noise_write2(&xx->noise, pl.data, pl.len, out)
                             : ock_noise_write3(&xx->noise, pl.data, pl.len, out);
  ock_buf_free(&pl);
  return rc;
}

static int on_message1(ock_xx *xx, const uint8_t *msg, size_t n, ock_buf *out) {
  const uint8_t *payload;
  size_t len;
  int rc = ock_noise_read1(&xx->noise, msg, n, &payload, &len); /* its payload is unused */
  if (!rc) rc = write_payload(xx, 2, out);
  if (!rc) xx->state = OCK_XX_WAIT_M3;
  return rc;
}

static int on_message2(ock_xx *xx, const uint8_t *msg, size_t n, uint64_t now, ock_buf *out) {
  ock_buf pl;
  ock_buf_init(&pl);
  int rc = ock_noise_read2(&xx->noise, msg, n, &pl);
  if (!rc) rc = check_peer(xx, &pl, now); /* before message 3 tells it who we are */
  if (!rc) rc = write_payload(xx, 3, out);
  if (!rc) rc = finish(xx);
  ock_buf_free(&pl);
  return rc;
}

static int on_message3(ock_xx *xx, const uint8_t *msg, size_t n, uint64_t now) {
  ock_buf pl;
  ock_buf_init(&pl);
  int rc = ock_noise_read3(&xx->noise, msg, n, &pl);
  if (!rc) rc = check_peer(xx, &pl, now);
  if (!rc) rc = finish(xx);
  ock_buf_free(&pl);
  return rc;
}

int ock_xx_handle(ock_xx *xx, const uint8_t *msg, size_t n, uint64_t now, ock_buf *out) {
  if (xx->state != OCK_XX_WAIT_M1 && xx->state != OCK_XX_WAIT_M2 && xx->state != OCK_XX_WAIT_M3)
    return OCK_ESTATE;
  ock_noise_saved saved;
  ock_noise_save(&xx->noise, &saved);
  size_t start = out->len;
  int state = xx->state, rc;
  if (state == OCK_XX_WAIT_M1)
    rc = on_message1(xx, msg, n, out);
  else if (state == OCK_XX_WAIT_M2)
    rc = on_message2(xx, msg, n, now, out);
  else
    rc = on_message3(xx, msg, n, now);
  if (rc) {
    /* as if the message never came: a forgery cannot end the handshake */
    int restored = ock_noise_restore(&xx->noise, &saved);
    ock_identity_free(&xx->peer);
    xx->state = state;
    out->len = start;
    return restored ? restored : rc;
  }
  OPENSSL_cleanse(&saved, sizeof saved);
  return 0;
}

int ock_xx_done(const ock_xx *xx) { return xx->state == OCK_XX_DONE; }

void ock_xx_free(ock_xx *xx) {
  ock_noise_free(&xx->noise);
  ock_identity_free(&xx->peer);
  OPENSSL_cleanse(xx->encrypt_key, sizeof xx->encrypt_key);
  OPENSSL_cleanse(xx->decrypt_key, sizeof xx->decrypt_key);
}

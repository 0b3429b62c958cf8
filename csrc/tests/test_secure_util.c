/* Helpers shared by the tests of csrc/secure/ (test_secure.h). */
#include "base/err.h"
#include "test.h"
#include "test_secure.h"

void t_party_make(t_party *p, int key_type, uint64_t now, uint64_t id_ttl) {
  CHECK_EQ(ock_signing_key_generate(&p->key, key_type), 0);
  CHECK_EQ(ock_identity_create(&p->id, &p->key, now - 10, id_ttl), 0);
  CHECK_EQ(ock_purpose_key_create(&p->pk, &p->id, &p->key, now, OCK_PURPOSE_KEY_DEFAULT_TTL), 0);
}

void t_party_free(t_party *p) {
  ock_purpose_key_free(&p->pk);
  ock_identity_free(&p->id);
  ock_signing_key_free(&p->key);
}

int t_handshake(ock_xx *init, t_party *a, ock_xx *resp, t_party *b, uint64_t now, ock_buf *m1, ock_buf *m2,
                ock_buf *m3) {
  ock_buf x1, x2, x3;
  ock_buf_init(&x1);
  ock_buf_init(&x2);
  ock_buf_init(&x3);
  int rc = ock_xx_init(init, OCK_XX_INITIATOR, &a->id, &a->pk);
  if (!rc) rc = ock_xx_init(resp, OCK_XX_RESPONDER, &b->id, &b->pk);
  if (!rc) rc = ock_xx_start(init, &x1);
  if (!rc) rc = ock_xx_handle(resp, x1.data, x1.len, now, &x2);
  if (!rc) rc = ock_xx_handle(init, x2.data, x2.len, now, &x3);
  if (!rc) rc = ock_xx_handle(resp, x3.data, x3.len, now, &x1); /* nothing to send */
  if (m1) ock_buf_append(m1, x1.data, x1.len);
  if (m2) ock_buf_append(m2, x2.data, x2.len);
  if (m3) ock_buf_append(m3, x3.data, x3.len);
  ock_buf_free(&x1);
  ock_buf_free(&x2);
  ock_buf_free(&x3);
  return rc;
}

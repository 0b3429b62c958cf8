/* A secure channel's handshake messages 2 and 3 and its transport, from the
 * side that receives them. Two fixed parties (fuzz_secure.h) with fixed
 * ephemeral keys make the genuine messages the same on every run. The first
 * input byte picks what the rest is:
 *   0  message 2 to an initiator          1  message 3 to a responder
 *   2  the plaintext payload of message 2 (encrypted for the initiator)
 *   3  the plaintext payload of message 3 (encrypted for the responder)
 *   4  transport messages to a decryptor: records of u16 BE length + bytes
 *   5  a plaintext through encryptor and decryptor, then ock_sc_msg_decode
 * A refused handshake message leaves the state as it was (the genuine
 * message still completes it, to the genuine reply); a completed handshake
 * has verified the genuine peer; no nonce is accepted twice; a decoded
 * Payload re-encodes and decodes to the same routes and payload. */
#include "fuzz_secure.h"

#include <stdlib.h>

#include "secure/identity_payload.h"
#include "secure/noise.h"
#include "secure/sc_cipher.h"
#include "secure/sc_message.h"
#include "secure/xx.h"

static fuzz_party A, B; /* initiator, responder */
static ock_buf M1, M2, M3;
static uint8_t A_ENC[32], B_DEC[32];

int LLVMFuzzerInitialize(int *argc, char ***argv);

static void xx_initiator(ock_xx *x) {
  ock_x25519_key e;
  fuzz_x25519(&e, 0x33);
  CHECK(ock_xx_init_with(x, OCK_XX_INITIATOR, &A.id, &A.pk, &e) == 0);
}

static void xx_responder(ock_xx *x) {
  ock_x25519_key e;
  fuzz_x25519(&e, 0x44);
  CHECK(ock_xx_init_with(x, OCK_XX_RESPONDER, &B.id, &B.pk, &e) == 0);
}

static void genuine_handshake(void) {
  ock_xx i, r;
  ock_buf none;
  ock_buf_init(&none);
  xx_initiator(&i);
  xx_responder(&r);
  CHECK(ock_xx_start(&i, &M1) == 0);
  CHECK(ock_xx_handle(&r, M1.data, M1.len, FUZZ_NOW, &M2) == 0);
  CHECK(ock_xx_handle(&i, M2.data, M2.len, FUZZ_NOW, &M3) == 0);
  CHECK(ock_xx_handle(&r, M3.data, M3.len, FUZZ_NOW, &none) == 0 && none.len == 0);
  memcpy(A_ENC, i.encrypt_key, 32);
  memcpy(B_DEC, r.decrypt_key, 32);
  ock_xx_free(&i);
  ock_xx_free(&r);
}

static void put_record(ock_buf *b, const uint8_t *p, size_t n) {
  uint8_t len[2] = {(uint8_t)(n >> 8), (uint8_t)n};
  CHECK(ock_buf_append(b, len, 2) == 0 && ock_buf_append(b, p, n) == 0);
}

static void write_seeds(const char *dir) {
  ock_buf b, plain, rec;
  ock_buf_init(&b), ock_buf_init(&plain), ock_buf_init(&rec);
  fuzz_write_seed(dir, "seed-m2", 0, M2.data, M2.len);
  fuzz_write_seed(dir, "seed-m3", 1, M3.data, M3.len);
  CHECK(ock_identity_payload_put(&b, &B.id, &B.pk) == 0);
  fuzz_write_seed(dir, "seed-m2-payload", 2, b.data, b.len);
  b.len = 0;
  CHECK(ock_identity_payload_put(&b, &A.id, &A.pk) == 0);
  fuzz_write_seed(dir, "seed-m3-payload", 3, b.data, b.len);
  /* transport: Payload, RefreshCredentials, Close; delivered 1, 0, 2, 2 */
  ock_route onward, ret;
  ock_route_init(&onward), ock_route_init(&ret);
  ock_route_push_back(&onward, OCK_TT_LOCAL, "echo", 4);
  ock_route_push_back(&ret, OCK_TT_LOCAL, "app", 3);
  ock_sc_encryptor e;
  CHECK(ock_sc_encryptor_init(&e, A_ENC) == 0);
  ock_buf wire[3];
  for (int k = 0; k < 3; k++) {
    plain.len = 0;
    if (k == 0) CHECK(ock_sc_msg_put_payload(&plain, &onward, &ret, "hello", 5) == 0);
    if (k == 1) CHECK(ock_sc_msg_put_refresh(&plain, &A.id) == 0);
    if (k == 2) CHECK(ock_sc_msg_put_close(&plain) == 0);
    if (k == 0) fuzz_write_seed(dir, "seed-plain-payload", 5, plain.data, plain.len);
    if (k == 2) fuzz_write_seed(dir, "seed-plain-close", 5, plain.data, plain.len);
    ock_buf_init(&wire[k]);
    CHECK(ock_buf_reserve(&wire[k], plain.len + OCK_SC_OVERHEAD) == 0);
    CHECK(ock_sc_encrypt(&e, plain.data, plain.len, wire[k].data) == 0);
    wire[k].len = plain.len + OCK_SC_OVERHEAD;
  }
  int order[] = {1, 0, 2, 2};
  for (int k = 0; k < 4; k++) put_record(&rec, wire[order[k]].data, wire[order[k]].len);
  fuzz_write_seed(dir, "seed-transport", 4, rec.data, rec.len);
  for (int k = 0; k < 3; k++) ock_buf_free(&wire[k]);
  ock_sc_encryptor_free(&e);
  ock_buf_free(&b), ock_buf_free(&plain), ock_buf_free(&rec);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fuzz_party_make(&A, 0x11);
  fuzz_party_make(&B, 0x22);
  ock_buf_init(&M1), ock_buf_init(&M2), ock_buf_init(&M3);
  genuine_handshake();
  const char *dir = getenv("OCK_FUZZ_WRITE_SEEDS");
  if (dir) {
    write_seeds(dir);
    exit(0);
  }
  return 0;
}

/* After a refused message: nothing sent, nothing learnt, still waiting. */
static void check_unchanged(const ock_xx *x, int state, const ock_buf *out) {
  CHECK(x->state == state);
  CHECK(out->len == 0);
  CHECK(x->peer.history.data == NULL);
}

static void message2(const uint8_t *p, size_t n) {
  ock_xx i;
  ock_buf m1, out;
  ock_buf_init(&m1), ock_buf_init(&out);
  xx_initiator(&i);
  CHECK(ock_xx_start(&i, &m1) == 0);
  int rc = ock_xx_handle(&i, p, n, FUZZ_NOW, &out);
  if (rc) {
    check_unchanged(&i, OCK_XX_WAIT_M2, &out);
    CHECK(ock_xx_handle(&i, M2.data, M2.len, FUZZ_NOW, &out) == 0);
    CHECK(out.len == M3.len && memcmp(out.data, M3.data, M3.len) == 0);
  }
  CHECK(ock_xx_done(&i) && memcmp(i.peer.identifier, B.id.identifier, 32) == 0);
  ock_xx_free(&i);
  ock_buf_free(&m1), ock_buf_free(&out);
}

static void message3(const uint8_t *p, size_t n) {
  ock_xx r;
  ock_buf m2, out;
  ock_buf_init(&m2), ock_buf_init(&out);
  xx_responder(&r);
  CHECK(ock_xx_handle(&r, M1.data, M1.len, FUZZ_NOW, &m2) == 0);
  int rc = ock_xx_handle(&r, p, n, FUZZ_NOW, &out);
  if (rc) {
    check_unchanged(&r, OCK_XX_WAIT_M3, &out);
    CHECK(ock_xx_handle(&r, M3.data, M3.len, FUZZ_NOW, &out) == 0);
  }
  CHECK(out.len == 0);
  CHECK(ock_xx_done(&r) && memcmp(r.peer.identifier, A.id.identifier, 32) == 0);
  ock_xx_free(&r);
  ock_buf_free(&m2), ock_buf_free(&out);
}

/* A responder that says anything in message 2: B's keys, the fuzzer's payload. */
static void payload2(const uint8_t *p, size_t n) {
  ock_xx i;
  ock_noise r;
  ock_x25519_key e;
  ock_buf m1, m2, out;
  ock_buf_init(&m1), ock_buf_init(&m2), ock_buf_init(&out);
  xx_initiator(&i);
  fuzz_x25519(&e, 0x44);
  CHECK(ock_noise_init(&r, (const uint8_t *)OCK_XX_PROTOCOL_NAME, &B.pk.key, &e) == 0);
  CHECK(ock_xx_start(&i, &m1) == 0);
  const uint8_t *pl;
  size_t pl_len;
  CHECK(ock_noise_read1(&r, m1.data, m1.len, &pl, &pl_len) == 0);
  if (ock_noise_write2(&r, p, n, &m2) == 0) {
    int rc = ock_xx_handle(&i, m2.data, m2.len, FUZZ_NOW, &out);
    if (rc) check_unchanged(&i, OCK_XX_WAIT_M2, &out);
    else CHECK(memcmp(i.peer.identifier, B.id.identifier, 32) == 0); /* only B's own payload passes */
  }
  ock_noise_free(&r);
  ock_xx_free(&i);
  ock_buf_free(&m1), ock_buf_free(&m2), ock_buf_free(&out);
}

/* An initiator that says anything in message 3: A's keys, the fuzzer's payload. */
static void payload3(const uint8_t *p, size_t n) {
  ock_xx r;
  ock_noise i;
  ock_x25519_key e;
  ock_buf m1, m2, m3, got, out;
  ock_buf_init(&m1), ock_buf_init(&m2), ock_buf_init(&m3), ock_buf_init(&got), ock_buf_init(&out);
  xx_responder(&r);
  fuzz_x25519(&e, 0x33);
  CHECK(ock_noise_init(&i, (const uint8_t *)OCK_XX_PROTOCOL_NAME, &A.pk.key, &e) == 0);
  CHECK(ock_noise_write1(&i, NULL, 0, &m1) == 0);
  CHECK(ock_xx_handle(&r, m1.data, m1.len, FUZZ_NOW, &m2) == 0);
  CHECK(ock_noise_read2(&i, m2.data, m2.len, &got) == 0);
  if (ock_noise_write3(&i, p, n, &m3) == 0) {
    int rc = ock_xx_handle(&r, m3.data, m3.len, FUZZ_NOW, &out);
    if (rc) check_unchanged(&r, OCK_XX_WAIT_M3, &out);
    else CHECK(memcmp(r.peer.identifier, A.id.identifier, 32) == 0);
  }
  ock_noise_free(&i);
  ock_xx_free(&r);
  ock_buf_free(&m1), ock_buf_free(&m2), ock_buf_free(&m3), ock_buf_free(&got), ock_buf_free(&out);
}

static void decode_plain(const uint8_t *p, size_t n) {
  static ock_sc_msg m, again;
  int rc = ock_sc_msg_decode(p, n, &m);
  if (rc) {
    CHECK(rc == OCK_EPROTO || rc == OCK_ETOOBIG);
    return;
  }
  fuzz_check_route(&m.onward);
  fuzz_check_route(&m.ret);
  if (m.kind != OCK_SC_PAYLOAD) return;
  CHECK(fuzz_within(m.payload, m.payload_len, p, n));
  ock_buf b;
  ock_buf_init(&b);
  CHECK(ock_sc_msg_put_payload(&b, &m.onward, &m.ret, m.payload, m.payload_len) == 0);
  CHECK(ock_sc_msg_decode(b.data, b.len, &again) == 0);
  CHECK(again.kind == OCK_SC_PAYLOAD && fuzz_route_eq(&again.onward, &m.onward) && fuzz_route_eq(&again.ret, &m.ret));
  CHECK(again.payload_len == m.payload_len && memcmp(again.payload, m.payload, m.payload_len) == 0);
  ock_buf_free(&b);
}

static void transport(const uint8_t *p, size_t n) {
  ock_sc_decryptor d;
  uint64_t accepted[64];
  size_t naccepted = 0;
  CHECK(ock_sc_decryptor_init(&d, B_DEC) == 0);
  while (n >= 2 && naccepted < 64) {
    size_t len = (size_t)p[0] << 8 | p[1];
    p += 2, n -= 2;
    if (len > n) len = n;
    uint8_t *msg = malloc(len ? len : 1), *out = malloc(len ? len : 1);
    CHECK(msg && out);
    memcpy(msg, p, len);
    size_t out_len;
    uint64_t nonce;
    int rc = ock_sc_decrypt(&d, msg, len, out, &out_len, &nonce);
    if (!rc) {
      CHECK(out_len == len - OCK_SC_OVERHEAD);
      for (size_t k = 0; k < naccepted; k++) CHECK(accepted[k] != nonce); /* never twice */
      accepted[naccepted++] = nonce;
      decode_plain(out, out_len);
    } else {
      CHECK(rc == OCK_EPROTO || rc == OCK_ENONCE || rc == OCK_EDECRYPT);
    }
    free(msg), free(out);
    p += len, n -= len;
  }
  ock_sc_decryptor_free(&d);
}

static void through_channel(const uint8_t *p, size_t n) {
  ock_sc_encryptor e;
  ock_sc_decryptor d;
  CHECK(ock_sc_encryptor_init(&e, A_ENC) == 0 && ock_sc_decryptor_init(&d, B_DEC) == 0);
  uint8_t *wire = malloc(n + OCK_SC_OVERHEAD), *out = malloc(n + 1);
  CHECK(wire && out);
  size_t out_len;
  uint64_t nonce;
  CHECK(ock_sc_encrypt(&e, p, n, wire) == 0);
  CHECK(ock_sc_decrypt(&d, wire, n + OCK_SC_OVERHEAD, out, &out_len, &nonce) == 0);
  CHECK(nonce == 0 && out_len == n && memcmp(out, p, n) == 0);
  decode_plain(out, out_len);
  free(wire), free(out);
  ock_sc_encryptor_free(&e);
  ock_sc_decryptor_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  uint8_t *rest = malloc(size > 1 ? size - 1 : 1); /* exact size: ASan sees any overread */
  if (!rest) return 0;
  memcpy(rest, data + 1, size - 1);
  size_t n = size - 1;
  switch (data[0] % 6) {
  case 0: message2(rest, n); break;
  case 1: message3(rest, n); break;
  case 2: payload2(rest, n); break;
  case 3: payload3(rest, n); break;
  case 4: transport(rest, n); break;
  default: through_channel(rest, n); break;
  }
  free(rest);
  return 0;
}

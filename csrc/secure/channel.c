#include "secure/channel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "base/list.h"
#include "base/log.h"
#include "base/rand.h"
#include "node/send.h"
#include "runtime/loop.h"
#include "secure/node_identity.h"
#include "secure/sc_cipher.h"
#include "secure/sc_message.h"
#include "secure/xx.h"

enum { ST_HANDSHAKE, ST_OPEN, ST_CLOSED };

typedef struct ock_channel ock_channel;
struct ock_channel {
  ock_node *node;
  uint64_t id;
  int role; /* OCK_XX_INITIATOR or OCK_XX_RESPONDER */
  int state;
  ock_xx xx;
  ock_sc_trust trust;
  ock_sc_encryptor enc;
  ock_sc_decryptor dec;
  char enc_addr[OCK_HEX_ADDR_LEN + 1]; /* encryptor */
  char dec_addr[OCK_HEX_ADDR_LEN + 1]; /* decryptor_remote */
  char listener[128]; /* responder: the listener it came from (cut if longer) */
  char their_id[OCK_IDENTIFIER_TEXT_LEN + 1]; /* once verified; or the last one the trust policy refused */
  uint8_t their_identifier[OCK_IDENTIFIER_LEN]; /* once open */
  ock_origin origin; /* what its decrypted messages carry: who sent them */
  ock_worker enc_w, dec_w;
  int enc_registered;
  ock_route remote; /* to the peer's decryptor_remote */
  uint64_t last_nonce;
  uv_timer_t timer;
  int timeout_ms;
  ock_call *call; /* initiator: finished when the handshake is */
  ock_list link;  /* in channels_state.channels */
};

typedef struct {
  ock_list channels; /* ock_channel.link, newest first */
  uint64_t next_id;
  size_t responding; /* responders still in handshake */
  /* Buffers for the plaintexts of this node's channels, kept between
   * messages so that big messages do not map fresh memory each time; a
   * nested use (a channel to this same node) takes a buffer of its own. */
  ock_buf scratch[2];
  int busy[2];
} channels_state;

enum { SCRATCH_ENCRYPT, SCRATCH_DECRYPT };
/* Capacity a scratch buffer keeps after a message (bigger ones give back the rest). */
#define SCRATCH_KEEP (4u * 1024 * 1024)

static void state_init(void *state) { ock_list_init(&((channels_state *)state)->channels); }
static void on_node_close(ock_node *n, void *state);
/* Above the transport and the node (so Close still goes out), below the
 * services and portals that route through channels. */
static const ock_node_ext_ops ops = {
    .size = sizeof(channels_state), .level = OCK_EXT_SECURE, .init = state_init, .on_close = on_node_close};

static ock_channel *channel_of(ock_list *pos) { return OCK_LIST_ENTRY(pos, ock_channel, link); }

static void channel_close(ock_channel *c, int send_close, int rc, const char *why);

/* A responder's handshake ended (done or not): one fewer pending. */
static void leave_handshake(ock_channel *c) {
  channels_state *st = ock_node_ext(c->node, &ops); /* exists: c is in it */
  if (c->role == OCK_XX_RESPONDER && c->state == ST_HANDSHAKE && st->responding) st->responding--;
}

int ock_sc_trust_copy(ock_sc_trust *dst, const ock_sc_trust *src) {
  dst->n = 0;
  dst->ids = NULL;
  if (!src || !src->n) return 0;
  dst->ids = malloc(src->n * sizeof *dst->ids);
  if (!dst->ids) return OCK_ENOMEM;
  memcpy(dst->ids, src->ids, src->n * sizeof *dst->ids);
  dst->n = src->n;
  return 0;
}

void ock_sc_trust_free(ock_sc_trust *t) {
  free(t->ids);
  t->ids = NULL;
  t->n = 0;
}

/* ock_xx_trust_fn: everyone when the list is empty, else those listed. */
static int trust_check(void *ctx, const uint8_t id[OCK_IDENTIFIER_LEN]) {
  ock_channel *c = ctx;
  if (!c->trust.n) return 0;
  for (size_t i = 0; i < c->trust.n; i++)
    if (!memcmp(c->trust.ids[i], id, OCK_IDENTIFIER_LEN)) return 0;
  ock_identifier_format(id, c->their_id);
  OCK_WARN("node %s: secure channel %s: identity %s is not authorized, handshake refused", c->node->name,
           c->dec_addr, c->their_id);
  return OCK_EUNTRUSTED;
}

/* ---- scratch buffers ---- */

/* An empty buffer for plaintext: the node's scratch buffer `which` when free,
 * else `own` (initialised here). Give it back with scratch_give. */
static ock_buf *scratch_take(ock_node *n, int which, ock_buf *own) {
  channels_state *st = ock_node_ext(n, &ops); /* exists: a channel is open */
  if (st->busy[which]) {
    ock_buf_init(own);
    return own;
  }
  st->busy[which] = 1;
  st->scratch[which].len = 0;
  return &st->scratch[which];
}

static void scratch_give(ock_node *n, int which, ock_buf *b) {
  channels_state *st = ock_node_ext(n, &ops);
  if (b != &st->scratch[which]) {
    ock_buf_free(b);
    return;
  }
  b->len = 0;
  ock_buf_shrink(b, SCRATCH_KEEP);
  st->busy[which] = 0;
}

/* ---- sending ---- */

/* Sends payload along route with return route ret (NULL: empty). A closing
 * node routes nothing more, but the Close its channels send as it closes
 * still goes to the worker of the first hop (a connection, which is closed
 * after the channels). */
static void send_raw(ock_channel *c, const ock_route *route, const ock_route *ret, const void *p, size_t n) {
  ock_msg m;
  ock_msg_init(&m, p, n);
  m.onward = *route;
  if (ret) m.ret = *ret;
  if (!c->node->closing) {
    ock_node_send(c->node, &m, NULL, 0);
    return;
  }
  ock_addr next = route->n ? ock_route_at(route, 0) : (ock_addr){0};
  ock_worker *w = route->n && next.tt == OCK_TT_LOCAL ? ock_router_find(&c->node->router, next.p, next.len) : NULL;
  if (w) w->handle(w, &m, NULL);
}

/* Encrypts plaintext pt (its first OCK_SC_NONCE_LEN bytes are room for the
 * nonce, the message follows) in place and sends it to the peer. */
static int seal_and_send(ock_channel *c, ock_buf *pt, const ock_route *ret) {
  size_t n = pt->len - OCK_SC_NONCE_LEN;
  if (ock_buf_reserve(pt, OCK_AEAD_TAG_LEN)) return OCK_ENOMEM;
  int rc = ock_sc_encrypt(&c->enc, pt->data + OCK_SC_NONCE_LEN, n, pt->data);
  if (rc) return rc;
  pt->len = n + OCK_SC_OVERHEAD;
  send_raw(c, &c->remote, ret, pt->data, pt->len);
  return 0;
}

/* The encryptor: pops itself, encrypts the rest as a Payload, sends it on. */
static void encryptor_handle(ock_worker *w, ock_msg *m, const ock_origin *from) {
  (void)from;
  ock_channel *c = w->ctx;
  if (c->state != ST_OPEN) return;
  ock_route_pop_front(&m->onward);
  ock_buf own, *pt = scratch_take(c->node, SCRATCH_ENCRYPT, &own);
  uint8_t room[OCK_SC_NONCE_LEN] = {0};
  /* room for the routes' CBOR (at most 2 x 2048 bytes of addresses and their heads) and the tag */
  int rc = ock_buf_reserve(pt, m->payload_len + 2 * OCK_ROUTE_MAX_BYTES + 8 * OCK_ROUTE_MAX_HOPS + 64);
  if (!rc) rc = ock_buf_append(pt, room, sizeof room);
  if (!rc) rc = ock_sc_msg_put_payload(pt, &m->onward, &m->ret, m->payload, m->payload_len);
  if (!rc) rc = seal_and_send(c, pt, NULL);
  if (rc)
    OCK_WARN("node %s: secure channel %s: message of %zu bytes not sent: %s", c->node->name, c->enc_addr,
             m->payload_len, ock_strerror(rc));
  scratch_give(c->node, SCRATCH_ENCRYPT, pt);
}

/* Tells the peer the channel is closing (best effort). */
static void send_close(ock_channel *c) {
  ock_buf pt;
  ock_buf_init(&pt);
  uint8_t room[OCK_SC_NONCE_LEN] = {0};
  ock_route ret;
  ock_route_init(&ret);
  ock_route_push_back(&ret, OCK_TT_LOCAL, c->enc_addr, OCK_HEX_ADDR_LEN);
  int rc = ock_buf_append(&pt, room, sizeof room);
  if (!rc) rc = ock_sc_msg_put_close(&pt);
  if (!rc) rc = seal_and_send(c, &pt, &ret);
  if (rc) OCK_INFO("node %s: secure channel %s: Close not sent: %s", c->node->name, c->enc_addr, ock_strerror(rc));
  ock_buf_free(&pt);
}

/* ---- receiving ---- */

/* A decrypted Payload: on along its inner onward route, our encryptor first
 * on its return route. A responder follows the peer's newest return route. */
static void deliver(ock_channel *c, ock_sc_msg *sm, uint64_t nonce, const ock_msg *outer) {
  if (c->role == OCK_XX_RESPONDER && nonce > c->last_nonce && c->remote.n > 0 && outer->ret.n > 0) {
    ock_addr peer = ock_route_at(&c->remote, c->remote.n - 1);
    ock_route r = outer->ret;
    if (!ock_route_push_back(&r, peer.tt, peer.p, peer.len)) {
      c->remote = r;
      c->last_nonce = nonce;
    }
  }
  ock_msg m;
  ock_msg_init(&m, sm->payload, sm->payload_len);
  m.onward = sm->onward;
  m.ret = sm->ret;
  if (ock_route_push_front(&m.ret, OCK_TT_LOCAL, c->enc_addr, OCK_HEX_ADDR_LEN)) {
    OCK_INFO("node %s: secure channel %s: return route too long, message dropped", c->node->name, c->dec_addr);
    return;
  }
  if (!m.onward.n) {
    OCK_INFO("node %s: secure channel %s: message with an empty onward route dropped", c->node->name, c->dec_addr);
    return;
  }
  ock_node_send_from(c->node, &m, &c->origin, NULL, 0);
}

/* An encrypted message at decryptor_remote. */
static void decrypt_message(ock_channel *c, const ock_msg *m) {
  if (m->payload_len < OCK_SC_OVERHEAD) {
    OCK_WARN("node %s: secure channel %s: %zu-byte message dropped (too short)", c->node->name, c->dec_addr,
             m->payload_len);
    return;
  }
  ock_buf own, *buf = scratch_take(c->node, SCRATCH_DECRYPT, &own);
  size_t n;
  uint64_t nonce;
  int rc = ock_buf_reserve(buf, m->payload_len);
  if (!rc) rc = ock_sc_decrypt(&c->dec, m->payload, m->payload_len, buf->data, &n, &nonce);
  ock_sc_msg sm;
  if (!rc) rc = ock_sc_msg_decode(buf->data, n, &sm);
  if (rc) {
    OCK_WARN("node %s: secure channel %s: message dropped: %s", c->node->name, c->dec_addr, ock_strerror(rc));
  } else if (sm.kind == OCK_SC_PAYLOAD) {
    deliver(c, &sm, nonce, m);
  } else if (sm.kind == OCK_SC_CLOSE) {
    OCK_INFO("node %s: secure channel %s closed by %s", c->node->name, c->enc_addr, c->their_id);
    channel_close(c, 0, OCK_ECLOSED, "closed by the peer");
  } else {
    OCK_DEBUG("node %s: secure channel %s: credentials refresh ignored (no authority)", c->node->name, c->dec_addr);
  }
  scratch_give(c->node, SCRATCH_DECRYPT, buf);
}

/* The handshake is done: the encryptor starts, the initiator's call ends. */
static void finalize(ock_channel *c) {
  int rc = ock_sc_encryptor_init(&c->enc, c->xx.encrypt_key);
  if (!rc && (rc = ock_sc_decryptor_init(&c->dec, c->xx.decrypt_key)) != 0) ock_sc_encryptor_free(&c->enc);
  if (!rc && (rc = ock_router_add(&c->node->router, &c->enc_w)) != 0) {
    ock_sc_encryptor_free(&c->enc);
    ock_sc_decryptor_free(&c->dec);
  }
  ock_identifier_format(c->xx.peer.identifier, c->their_id);
  memcpy(c->their_identifier, c->xx.peer.identifier, OCK_IDENTIFIER_LEN);
  c->origin = (ock_origin){.fc = OCK_FC_SECURE, .transport = "secure", .address = c->enc_addr,
                           .peer = c->their_id, .identifier = c->their_identifier};
  if (rc) {
    channel_close(c, 0, rc, "cannot start the encryptor");
    return;
  }
  c->enc_registered = 1;
  leave_handshake(c);
  c->state = ST_OPEN;
  uv_timer_stop(&c->timer);
  ock_xx_free(&c->xx);
  OCK_INFO("node %s: secure channel %s open with %s (%s)", c->node->name, c->enc_addr, c->their_id,
           c->role == OCK_XX_INITIATOR ? "initiator" : "responder");
  if (c->call) {
    snprintf(c->call->text, sizeof c->call->text, "%s %s", c->enc_addr, c->their_id);
    ock_call_finish(c->call, 0);
    c->call = NULL;
  }
}

/* A handshake message at decryptor_remote: the reply goes back along its
 * return route, which becomes the route to the peer. */
static void handshake_message(ock_channel *c, const ock_msg *m) {
  ock_buf out;
  ock_buf_init(&out);
  int rc = ock_xx_handle(&c->xx, m->payload, m->payload_len, (uint64_t)time(NULL), &out);
  if (rc == OCK_EUNTRUSTED) { /* a verified peer we refuse: no later message can change that */
    char why[OCK_ERRMSG_CAP];
    snprintf(why, sizeof why, "the %s's identity %s is not authorized",
             c->role == OCK_XX_INITIATOR ? "listener" : "initiator", c->their_id);
    channel_close(c, 0, rc, why);
  } else if (rc) {
    OCK_WARN("node %s: secure channel %s: handshake message dropped: %s", c->node->name, c->dec_addr,
             ock_strerror(rc));
  } else {
    c->remote = m->ret;
    if (out.len) {
      ock_route ret;
      ock_route_init(&ret);
      ock_route_push_back(&ret, OCK_TT_LOCAL, c->dec_addr, OCK_HEX_ADDR_LEN);
      send_raw(c, &c->remote, &ret, out.data, out.len);
    }
    if (ock_xx_done(&c->xx)) finalize(c);
  }
  ock_buf_free(&out);
}

static void decryptor_handle(ock_worker *w, ock_msg *m, const ock_origin *from) {
  (void)from;
  ock_channel *c = w->ctx;
  if (c->state == ST_HANDSHAKE)
    handshake_message(c, m);
  else if (c->state == ST_OPEN)
    decrypt_message(c, m);
}

/* ---- life cycle ---- */

static void on_timer_closed(uv_handle_t *h) {
  ock_channel *c = h->data;
  ock_node *n = c->node;
  ock_list_remove(&c->link);
  ock_sc_trust_free(&c->trust);
  free(c);
  ock_node_handle_closed(n);
}

/* Ends the channel once: workers go at once, memory in the close callback. */
static void channel_close(ock_channel *c, int send, int rc, const char *why) {
  if (c->state == ST_CLOSED) return;
  if (send && c->state == ST_OPEN) send_close(c);
  if (c->state == ST_OPEN) {
    ock_sc_encryptor_free(&c->enc);
    ock_sc_decryptor_free(&c->dec);
    /* what it opened ends with it: portal connections through it, relays it registered */
    if (!c->node->closing) ock_node_origin_closed(c->node, &c->origin);
  } else {
    leave_handshake(c);
    ock_xx_free(&c->xx);
  }
  c->state = ST_CLOSED;
  if (c->enc_registered) ock_router_remove(&c->node->router, &c->enc_w);
  ock_router_remove(&c->node->router, &c->dec_w);
  if (c->call) {
    ock_call_fail(c->call, rc, "%s", why);
    c->call = NULL;
  }
  uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}

static void on_timeout(uv_timer_t *t) {
  ock_channel *c = t->data;
  char why[OCK_ERRMSG_CAP];
  snprintf(why, sizeof why, "secure channel handshake not done within %.1f s", c->timeout_ms / 1000.0);
  OCK_INFO("node %s: secure channel %s: %s", c->node->name, c->dec_addr, why);
  channel_close(c, 0, OCK_ETIMEOUT, why);
}

static void on_node_close(ock_node *n, void *state) {
  (void)n;
  channels_state *st = state;
  /* channel_close frees nothing before the timer's close callback: plain walk */
  OCK_LIST_FOREACH(pos, &st->channels) channel_close(channel_of(pos), 1, OCK_ECLOSED, "the node was closed");
  for (int i = 0; i < 2; i++) ock_buf_free(&st->scratch[i]); /* no channel uses them any more */
}

/* A new channel in handshake for role, its decryptor_remote registered and
 * its timer running. NULL (and a reason in err) on failure. */
static ock_channel *channel_new(ock_node *n, int role, const ock_sc_trust *trust, int timeout_ms, const char **err) {
  const ock_node_identity *ni = ock_node_identity_of(n);
  channels_state *st = ock_node_ext(n, &ops);
  *err = !ni ? "the node has no identity" : "out of memory";
  if (st && role == OCK_XX_RESPONDER && st->responding >= OCK_SC_MAX_RESPONDING) {
    *err = "too many handshakes in progress";
    return NULL;
  }
  ock_channel *c = ni && st ? calloc(1, sizeof *c) : NULL;
  if (!c) return NULL;
  if (ock_sc_trust_copy(&c->trust, trust) || ock_xx_init(&c->xx, role, &ni->id, &ni->pk)) {
    ock_sc_trust_free(&c->trust);
    free(c);
    return NULL;
  }
  ock_xx_set_trust(&c->xx, trust_check, c);
  c->node = n;
  c->id = ++st->next_id;
  c->role = role;
  c->timeout_ms = timeout_ms;
  ock_rand_hex_addr(c->enc_addr);
  ock_rand_hex_addr(c->dec_addr);
  c->dec_w = (ock_worker){.node = n, .addr = c->dec_addr, .addr_len = OCK_HEX_ADDR_LEN,
                          .fc = OCK_FC_ALL, .handle = decryptor_handle, .ctx = c,
                          .kind = "secure_channel_decryptor"};
  c->enc_w = (ock_worker){.node = n, .addr = c->enc_addr, .addr_len = OCK_HEX_ADDR_LEN, .fc = 0,
                          .handle = encryptor_handle, .ctx = c, .kind = "secure_channel_encryptor"};
  if (ock_router_add(&n->router, &c->dec_w)) { /* 128 random bits do not collide: out of memory */
    ock_xx_free(&c->xx);
    ock_sc_trust_free(&c->trust);
    free(c);
    return NULL;
  }
  uv_timer_init(ock_loop(), &c->timer);
  c->timer.data = c;
  ock_node_handle_opened(n);
  ock_list_insert_head(&st->channels, &c->link);
  uv_timer_start(&c->timer, on_timeout, (uint64_t)timeout_ms, 0);
  if (role == OCK_XX_RESPONDER) st->responding++;
  return c;
}

/* The caller gave up on the handshake: the channel ends, nothing is sent. */
static void on_initiate_cancel(ock_call *call, void *arg) {
  (void)call;
  channel_close(arg, 0, OCK_ECANCELED, "cancelled");
}

void ock_sc_initiate(ock_node *n, const ock_route *to, const ock_sc_trust *trust, int timeout_ms, ock_call *call) {
  const char *err;
  ock_channel *c = channel_new(n, OCK_XX_INITIATOR, trust, timeout_ms, &err);
  if (!c) {
    ock_call_fail(call, ock_node_identity_of(n) ? OCK_ENOMEM : OCK_ESTATE, "%s", err);
    return;
  }
  c->call = call;
  ock_call_set_cancel(call, on_initiate_cancel, c);
  ock_buf m1;
  ock_buf_init(&m1);
  int rc = ock_xx_start(&c->xx, &m1);
  if (rc) {
    channel_close(c, 0, rc, "cannot start the handshake");
  } else {
    ock_route ret;
    ock_route_init(&ret);
    ock_route_push_back(&ret, OCK_TT_LOCAL, c->dec_addr, OCK_HEX_ADDR_LEN);
    c->remote = *to;
    send_raw(c, to, &ret, m1.data, m1.len);
  }
  ock_buf_free(&m1);
}

void ock_sc_respond(ock_node *n, ock_msg *m, const ock_origin *from, const char *listener,
                    const ock_sc_trust *trust) {
  const char *err;
  ock_channel *c = channel_new(n, OCK_XX_RESPONDER, trust, OCK_SC_RESPONDER_TIMEOUT_MS, &err);
  if (!c) {
    OCK_WARN("node %s: secure channel listener %s: handshake dropped: %s", n->name, listener, err);
    return;
  }
  snprintf(c->listener, sizeof c->listener, "%s", listener);
  if (ock_route_set(&m->onward, 0, OCK_TT_LOCAL, c->dec_addr, OCK_HEX_ADDR_LEN)) {
    channel_close(c, 0, OCK_ETOOBIG, "route too long");
    return;
  }
  ock_node_dispatch(n, m, from);
}

int ock_sc_close(ock_node *n, const char *addr) {
  channels_state *st = ock_node_ext(n, &ops);
  if (!st) return OCK_ENOENT;
  OCK_LIST_FOREACH(pos, &st->channels) {
    ock_channel *c = channel_of(pos);
    if (c->state == ST_CLOSED || (strcmp(c->enc_addr, addr) && strcmp(c->dec_addr, addr))) continue;
    channel_close(c, 1, OCK_ECLOSED, "the channel was closed");
    return 0;
  }
  return OCK_ENOENT;
}

void ock_sc_list(ock_node *n, ock_buf *out) {
  channels_state *st = ock_node_ext(n, &ops);
  if (!st) return;
  OCK_LIST_FOREACH(pos, &st->channels) {
    ock_channel *c = channel_of(pos);
    if (c->state == ST_CLOSED) continue;
    char line[256];
    int k = snprintf(line, sizeof line, "%s %s %s %s %s %s\n", c->enc_addr, c->dec_addr,
                     c->role == OCK_XX_INITIATOR ? "initiator" : "responder",
                     c->state == ST_OPEN ? "open" : "handshake", c->state == ST_OPEN ? c->their_id : "-",
                     c->listener[0] ? c->listener : "-");
    ock_buf_append(out, line, (size_t)k);
  }
}

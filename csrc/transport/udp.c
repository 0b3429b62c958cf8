/* Ockam's UDP transport: the bind's socket, its sender worker, the paced send
 * queue and the receive path (docs/udp.md). */
#include "transport/udp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"
#include "base/list.h"
#include "base/log.h"
#include "base/rand.h"
#include "codec/hostport.h"
#include "codec/udp_msg.h"
#include "runtime/loop.h"
#include "transport/dial.h"
#include "transport/udp_reasm.h"

/* Datagrams sent per loop turn: about what the receive side of a node on the
 * same loop reads per turn (libuv reads 32), so a big message to a node of this
 * process does not overflow that node's socket buffer. */
#define SEND_BATCH 32
/* Datagrams are sent at most limits.udp_datagrams_per_ms (64: 31 MB/s of
 * payload). Ockam's receiver keeps the kernel's default socket buffer (about
 * 200 datagrams on Linux) and reads one datagram per task wakeup: a burst of
 * a few hundred back to back overflows it and the message is lost. */
/* Kernel socket buffers asked for (Linux caps them at net.core.[rw]mem_max). */
#define SOCKET_BUFFER (4 * 1024 * 1024)
/* Reassembly bounds: partial messages per peer and in all, and their bytes. */
#define PARTIALS_PER_PEER 4
#define PARTIALS 64
#define REASM_BYTES (64u * 1024 * 1024)
/* After EAGAIN, the send queue waits this long for the socket buffer. */
#define RETRY_MS 1
/* A datagram read may be larger than Ockam's (it is then dropped): room to see it. */
#define RECV_CAP 2048

typedef struct {
  ock_list binds; /* ock_udp_bind.link, oldest first */
} udp_state;

static void state_init(void *state) { ock_list_init(&((udp_state *)state)->binds); }
static void on_node_close(ock_node *n, void *state);
static const ock_node_ext_ops udp_ops = {
    .size = sizeof(udp_state), .level = OCK_EXT_TRANSPORT, .init = state_init, .on_close = on_node_close};

/* A message waiting to go out, cut into datagrams as it goes. */
typedef struct {
  ock_list link;
  struct sockaddr_storage to;
  uint16_t routing_number;
  size_t off;
  ock_buf body;
} outgoing;

/* A message to "name:port", encoded, waiting for the name to resolve. */
typedef struct {
  uv_getaddrinfo_t req;
  ock_udp_bind *b;
  outgoing *o;
  ock_list link; /* in b->lookups */
  char peer[OCK_ADDR_MAX_LEN + 1];
} lookup;

struct ock_udp_bind {
  uv_udp_t udp;
  uv_idle_t pace;    /* runs while datagrams wait: a batch per loop turn */
  uv_timer_t retry;  /* the socket buffer was full */
  uv_timer_t expiry; /* runs while partial messages wait */
  ock_node *node;
  ock_worker worker;
  ock_origin origin;
  char addr[OCK_HEX_ADDR_LEN + 1];
  char local[OCK_HOSTPORT_CAP];
  char peer[OCK_HOSTPORT_CAP]; /* the sender of the message being dispatched */
  int closing;
  int open_handles;
  uint16_t routing_number; /* of the next message: random start, +1 each */
  uint64_t pace_ms;        /* the loop's millisecond that pace_sent counts */
  unsigned pace_sent;
  ock_list queue;          /* outgoing.link */
  ock_list lookups;        /* lookup.link: names being resolved */
  size_t queued;           /* bytes in queue */
  ock_udp_reasm reasm;
  ock_udp_counters counters;
  ock_buf dgram;
  uint8_t rbuf[RECV_CAP];
  ock_list link; /* in udp_state.binds */
};

static const char TRANSPORT[] = "udp";

const char *ock_udp_bind_address(const ock_udp_bind *b) { return b->addr; }
const char *ock_udp_bind_local(const ock_udp_bind *b) { return b->local; }

void ock_udp_bind_counters(const ock_udp_bind *b, ock_udp_counters *out) {
  *out = b->counters;
  out->dropped_incomplete = b->reasm.dropped_incomplete;
  out->dropped_too_large += b->reasm.dropped_too_large;
}

static udp_state *state_of(ock_node *n) { return ock_node_ext(n, &udp_ops); }

ock_udp_bind *ock_udp_bind_first(ock_node *n) {
  udp_state *st = state_of(n);
  return st && !ock_list_empty(&st->binds) ? OCK_LIST_ENTRY(ock_list_first(&st->binds), ock_udp_bind, link) : NULL;
}

ock_udp_bind *ock_udp_bind_next(const ock_udp_bind *b) {
  udp_state *st = state_of(b->node);
  return b->link.next == &st->binds ? NULL : OCK_LIST_ENTRY(b->link.next, ock_udp_bind, link);
}

static void sender_handle(ock_worker *w, ock_msg *m, const ock_origin *from);

ock_udp_bind *ock_udp_bind_by_address(ock_node *n, ock_addr a) {
  if (a.tt != OCK_TT_LOCAL) return NULL;
  ock_worker *w = ock_router_find(&n->router, a.p, a.len);
  return w && w->handle == sender_handle ? w->ctx : NULL;
}

/* ---- closing ---- */

static void outgoing_free(ock_udp_bind *b, outgoing *o) {
  ock_list_remove(&o->link);
  b->queued -= o->body.len;
  ock_buf_free(&o->body);
  free(o);
}

static void bind_free(ock_udp_bind *b) {
  ock_node *n = b->node;
  while (!ock_list_empty(&b->queue)) outgoing_free(b, OCK_LIST_ENTRY(ock_list_first(&b->queue), outgoing, link));
  ock_udp_reasm_free(&b->reasm);
  ock_buf_free(&b->dgram);
  ock_list_remove(&b->link);
  free(b);
  ock_node_handle_closed(n);
}

static void on_handle_closed(uv_handle_t *h) {
  ock_udp_bind *b = h->data;
  if (--b->open_handles == 0) bind_free(b);
}

static void close_handle(uv_handle_t *h) {
  if (!uv_is_closing(h)) uv_close(h, on_handle_closed);
}

void ock_udp_bind_close(ock_udp_bind *b) {
  if (b->closing) return;
  b->closing = 1;
  if (ock_router_find(&b->node->router, b->addr, OCK_HEX_ADDR_LEN) == &b->worker) {
    ock_router_remove(&b->node->router, &b->worker);
    ock_node_origin_closed(b->node, &b->origin);
  }
  /* lookups not started yet end now; running ones end on their own (closing: silently) */
  OCK_LIST_FOREACH(pos, &b->lookups) uv_cancel((uv_req_t *)&OCK_LIST_ENTRY(pos, lookup, link)->req);
  close_handle((uv_handle_t *)&b->udp);
  close_handle((uv_handle_t *)&b->pace);
  close_handle((uv_handle_t *)&b->retry);
  close_handle((uv_handle_t *)&b->expiry);
}

static void on_node_close(ock_node *n, void *state) {
  (void)n;
  udp_state *st = state;
  OCK_LIST_FOREACH(pos, &st->binds) ock_udp_bind_close(OCK_LIST_ENTRY(pos, ock_udp_bind, link));
}

/* ---- sending ---- */

static void on_pace(uv_idle_t *h);
static void on_retry(uv_timer_t *t);

/* Sends the next datagram of o. Returns 0, 1 when the socket buffer is full
 * (try again later), or an error (the message is lost). */
static int send_datagram(ock_udp_bind *b, outgoing *o) {
  size_t left = o->body.len - o->off, take = left < OCK_UDP_MAX_PAYLOAD ? left : OCK_UDP_MAX_PAYLOAD;
  ock_udp_part part = {OCK_UDP_VERSION, o->routing_number, (uint32_t)o->off, take == left, o->body.data + o->off, take};
  int rc = ock_udp_part_encode(&b->dgram, &part);
  if (rc) return rc;
  uv_buf_t buf = uv_buf_init((char *)b->dgram.data, (unsigned)b->dgram.len);
  rc = uv_udp_try_send(&b->udp, &buf, 1, (const struct sockaddr *)&o->to);
  if (rc == UV_EAGAIN || rc == UV_ENOBUFS) return 1;
  if (rc < 0) return rc;
  b->counters.datagrams_out++;
  b->pace_sent++;
  o->off += take;
  return 0;
}

/* Sends up to SEND_BATCH datagrams from the head of the queue, then waits for
 * the next loop turn (or for room in the socket buffer). */
/* 1 when this millisecond's datagrams are all sent. */
static int over_rate(ock_udp_bind *b) {
  uint64_t now = uv_now(ock_loop());
  if (now != b->pace_ms) {
    b->pace_ms = now;
    b->pace_sent = 0;
  }
  return b->pace_sent >= (unsigned long)b->node->limits.udp_datagrams_per_ms;
}

static void pump(ock_udp_bind *b) {
  for (int i = 0; i < SEND_BATCH && !ock_list_empty(&b->queue); i++) {
    outgoing *o = OCK_LIST_ENTRY(ock_list_first(&b->queue), outgoing, link);
    int rc = over_rate(b) ? 1 : send_datagram(b, o);
    if (rc == 1) {
      uv_idle_stop(&b->pace);
      uv_timer_start(&b->retry, on_retry, RETRY_MS, 0);
      return;
    }
    if (rc < 0) {
      OCK_INFO("udp %s: a message to a peer is lost: %s", b->local, ock_strerror(rc));
      b->counters.dropped_send++;
    } else if (o->off < o->body.len) {
      continue;
    } else {
      b->counters.sent++;
    }
    outgoing_free(b, o);
  }
  if (ock_list_empty(&b->queue))
    uv_idle_stop(&b->pace);
  else
    uv_idle_start(&b->pace, on_pace);
}

static void on_pace(uv_idle_t *h) { pump(h->data); }
static void on_retry(uv_timer_t *t) { pump(t->data); }

/* m encoded for sending; not queued yet. */
static int outgoing_new(const ock_msg *m, outgoing **out) {
  outgoing *o = calloc(1, sizeof *o);
  if (!o) return OCK_ENOMEM;
  ock_buf_init(&o->body);
  int rc = ock_udp_routing_encode(&o->body, m);
  if (rc) {
    ock_buf_free(&o->body);
    free(o);
    return rc;
  }
  *out = o;
  return 0;
}

static void outgoing_drop(outgoing *o) {
  ock_buf_free(&o->body);
  free(o);
}

/* Queues o for `to` (o is the queue's, or freed on an error). */
static int queue_outgoing(ock_udp_bind *b, outgoing *o, const struct sockaddr_storage *to) {
  if (b->queued + o->body.len > (uint64_t)b->node->limits.max_write_queue) {
    outgoing_drop(o);
    return OCK_ETOOBIG;
  }
  o->to = *to;
  o->routing_number = b->routing_number++;
  ock_list_insert_tail(&b->queue, &o->link);
  b->queued += o->body.len;
  /* a message alone in the queue goes at once; the rest follows turn by turn */
  if (!uv_is_active((uv_handle_t *)&b->pace) && !uv_is_active((uv_handle_t *)&b->retry)) pump(b);
  return 0;
}

static int enqueue(ock_udp_bind *b, const struct sockaddr_storage *to, const ock_msg *m) {
  outgoing *o;
  int rc = outgoing_new(m, &o);
  return rc ? rc : queue_outgoing(b, o, to);
}

/* ---- peers named by a DNS name ---- */

static void lookup_done(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  lookup *lk = req->data;
  ock_udp_bind *b = lk->b;
  ock_list_remove(&lk->link);
  int rc = status;
  if (!rc && !b->closing) {
    struct sockaddr_storage to;
    memcpy(&to, res->ai_addr, res->ai_addrlen);
    rc = queue_outgoing(b, lk->o, &to);
    lk->o = NULL;
  }
  if (lk->o) outgoing_drop(lk->o);
  if (rc && !b->closing) {
    OCK_WARN("udp %s: cannot send to %s: %s", b->local, lk->peer, ock_strerror(rc));
    b->counters.dropped_send++;
  }
  if (res) uv_freeaddrinfo(res);
  free(lk);
  if (--b->open_handles == 0) bind_free(b); /* a lookup keeps the bind as a handle does */
}

/* Resolves the host of peer ("name:port") in the family of the bind's socket,
 * then queues m for it, as Ockam's sender does with resolve_peer. */
static int lookup_start(ock_udp_bind *b, const char *peer, const ock_msg *m) {
  char host[OCK_HOST_CAP], service[8];
  int port;
  if (ock_hostport_split_str(peer, host, sizeof host, &port) || port == 0) return OCK_EROUTE;
  lookup *lk = calloc(1, sizeof *lk);
  if (!lk) return OCK_ENOMEM;
  int rc = outgoing_new(m, &lk->o);
  if (rc) {
    free(lk);
    return rc;
  }
  struct sockaddr_storage self;
  int len = sizeof self;
  struct addrinfo hints = {.ai_socktype = SOCK_DGRAM};
  hints.ai_family = uv_udp_getsockname(&b->udp, (struct sockaddr *)&self, &len) ? AF_UNSPEC : self.ss_family;
  snprintf(service, sizeof service, "%d", port);
  snprintf(lk->peer, sizeof lk->peer, "%s", peer);
  lk->b = b;
  lk->req.data = lk;
  rc = uv_getaddrinfo(ock_loop(), &lk->req, lookup_done, host, service, &hints);
  if (rc) {
    outgoing_drop(lk->o);
    free(lk);
    return rc;
  }
  ock_list_insert_tail(&b->lookups, &lk->link);
  b->open_handles++;
  return 0;
}

/* The peer named by the UDP hop at the front of m's onward route. */
static int next_peer(const ock_msg *m, struct sockaddr_storage *to, char *text, size_t cap) {
  if (m->onward.n == 0 || m->onward.tt[0] != OCK_TT_UDP) return OCK_EROUTE;
  ock_addr a = ock_route_at(&m->onward, 0);
  snprintf(text, cap, "%.*s", (int)a.len, a.p);
  if (!ock_sockaddr_parse(text, to, 0)) return 0;
  char host[OCK_HOST_CAP];
  int port;
  /* not an IP: a name to look up (OCK_ENOENT), if it has a port */
  return ock_hostport_split_str(text, host, sizeof host, &port) || port == 0 ? OCK_EROUTE : OCK_ENOENT;
}

/* The sender worker: pop our address and the peer's, queue the rest for it. */
static void sender_handle(ock_worker *w, ock_msg *m, const ock_origin *from) {
  (void)from;
  ock_udp_bind *b = w->ctx;
  if (b->closing) return;
  ock_route_pop_front(&m->onward);
  struct sockaddr_storage to;
  char peer[OCK_ADDR_MAX_LEN + 1];
  int rc = next_peer(m, &to, peer, sizeof peer);
  if (rc == OCK_ENOENT) { /* a name: sent once it resolves */
    ock_route_pop_front(&m->onward);
    rc = lookup_start(b, peer, m);
  } else if (rc) {
    OCK_WARN("udp %s: dropped a message whose next hop is not a UDP address (host:port)", b->local);
    b->counters.dropped_send++;
    return;
  } else {
    ock_route_pop_front(&m->onward);
    rc = enqueue(b, &to, m);
  }
  if (rc) {
    OCK_WARN("udp %s: cannot send a message of %zu bytes to %s: %s", b->local, m->payload_len, peer, ock_strerror(rc));
    b->counters.dropped_send++;
  }
}

/* ---- receiving ---- */

static void on_expiry(uv_timer_t *t) {
  ock_udp_bind *b = t->data;
  if (ock_udp_reasm_expire(&b->reasm, uv_now(ock_loop())) == 0) uv_timer_stop(&b->expiry);
}

/* A compact key for a peer's address: family, port, address bytes. */
static size_t peer_key(const struct sockaddr *sa, uint8_t key[OCK_UDP_KEY_MAX]) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    key[0] = 4;
    memcpy(key + 1, &in->sin_port, 2);
    memcpy(key + 3, &in->sin_addr, 4);
    return 7;
  }
  const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
  key[0] = 6;
  memcpy(key + 1, &in6->sin6_port, 2);
  memcpy(key + 3, &in6->sin6_addr, 16);
  return 19;
}

/* A whole routing message from peer: decode, push [worker, 2#peer] on its
 * return route, dispatch (as Ockam's receiver does). */
static void deliver(ock_udp_bind *b, const struct sockaddr *peer, const uint8_t *body, size_t len) {
  ock_msg m;
  long hops = b->node->limits.max_route_hops;
  ock_sockaddr_format(peer, b->peer, sizeof b->peer);
  if (ock_msg_decode(body, len, &m) || m.onward.n > hops || m.ret.n + 2 > hops) {
    OCK_INFO("udp %s: dropped a malformed message of %zu bytes from %s", b->local, len, b->peer);
    b->counters.dropped_malformed++;
    return;
  }
  if (m.onward.n == 0) return; /* nowhere to go, as Ockam's receiver decides */
  if (ock_route_push_front(&m.ret, OCK_TT_UDP, b->peer, strlen(b->peer)) ||
      ock_route_push_front(&m.ret, OCK_TT_LOCAL, b->addr, OCK_HEX_ADDR_LEN)) {
    b->counters.dropped_malformed++;
    return;
  }
  b->counters.received++;
  ock_node_dispatch(b->node, &m, &b->origin);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)hint;
  ock_udp_bind *b = h->data;
  *buf = uv_buf_init((char *)b->rbuf, sizeof b->rbuf);
}

/* The bounds follow the node's limits, which may change at any time. */
static void follow_limits(ock_udp_bind *b) {
  b->reasm.max_message = (size_t)b->node->limits.max_frame;
  b->reasm.timeout_ms = (uint64_t)b->node->limits.udp_reassembly_timeout_ms;
}

static void on_recv(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr, unsigned flags) {
  ock_udp_bind *b = h->data;
  if (b->closing || !addr) return; /* !addr: nothing more to read this turn */
  if (nread < 0) {
    OCK_DEBUG("udp %s: read failed: %s", b->local, uv_strerror((int)nread));
    return;
  }
  b->counters.datagrams_in++;
  ock_udp_part part;
  if ((flags & UV_UDP_PARTIAL) || nread > OCK_UDP_MAX_WIRE ||
      ock_udp_part_decode((const uint8_t *)buf->base, (size_t)nread, &part) || part.version != OCK_UDP_VERSION) {
    b->counters.dropped_malformed++;
    return;
  }
  follow_limits(b);
  uint8_t key[OCK_UDP_KEY_MAX];
  size_t klen = peer_key(addr, key);
  const uint8_t *body;
  size_t len;
  int whole = ock_udp_reasm_add(&b->reasm, key, klen, &part, uv_now(ock_loop()), &body, &len);
  if (ock_udp_reasm_pending(&b->reasm) && !uv_is_active((uv_handle_t *)&b->expiry)) {
    uint64_t every = b->reasm.timeout_ms / 4 + 1;
    uv_timer_start(&b->expiry, on_expiry, every, every);
  }
  if (whole) deliver(b, addr, body, len);
}

/* ---- opening ---- */

static ock_udp_bind *bind_new(ock_node *n, udp_state *st) {
  ock_udp_bind *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  if (ock_udp_reasm_init(&b->reasm, PARTIALS, PARTIALS_PER_PEER, (size_t)n->limits.max_frame, REASM_BYTES,
                         (uint64_t)n->limits.udp_reassembly_timeout_ms)) {
    free(b);
    return NULL;
  }
  b->node = n;
  ock_rand_hex_addr(b->addr);
  b->routing_number = (uint16_t)ock_rand_u64();
  ock_list_init(&b->queue);
  ock_list_init(&b->lookups);
  ock_buf_init(&b->dgram);
  /* not a consumer of any transport's messages (as a TCP sender is not): only
   * local sends and services such as hop reach it */
  b->worker = (ock_worker){.node = n, .addr = b->addr, .addr_len = OCK_HEX_ADDR_LEN, .fc = 0,
                           .handle = sender_handle, .ctx = b, .kind = TRANSPORT};
  b->origin = (ock_origin){.fc = OCK_FC_LISTENER, .transport = TRANSPORT, .address = b->addr, .peer = b->peer};
  ock_list_insert_tail(&st->binds, &b->link);
  ock_node_handle_opened(n);
  uv_udp_init(ock_loop(), &b->udp);
  uv_idle_init(ock_loop(), &b->pace);
  uv_timer_init(ock_loop(), &b->retry);
  uv_timer_init(ock_loop(), &b->expiry);
  b->udp.data = b->pace.data = b->retry.data = b->expiry.data = b;
  b->open_handles = 4;
  return b;
}

static int start(ock_udp_bind *b, const struct sockaddr_storage *ss) {
  int rc = uv_udp_bind(&b->udp, (const struct sockaddr *)ss, 0);
  if (rc) return rc;
  int size = SOCKET_BUFFER;
  uv_recv_buffer_size((uv_handle_t *)&b->udp, &size); /* best effort: the kernel may give less */
  size = SOCKET_BUFFER;
  uv_send_buffer_size((uv_handle_t *)&b->udp, &size);
  struct sockaddr_storage bound;
  int len = sizeof bound;
  if ((rc = uv_udp_getsockname(&b->udp, (struct sockaddr *)&bound, &len))) return rc;
  ock_sockaddr_format((struct sockaddr *)&bound, b->local, sizeof b->local);
  if ((rc = ock_router_add(&b->node->router, &b->worker))) return rc;
  return uv_udp_recv_start(&b->udp, on_alloc, on_recv);
}

int ock_udp_bind_open(ock_node *n, const char *hostport, ock_udp_bind **out, char *err, size_t errcap) {
  struct sockaddr_storage ss;
  if (ock_sockaddr_parse(hostport, &ss, 1)) {
    snprintf(err, errcap, "bad UDP bind address '%s': expected IP:PORT (port 0 picks one)", hostport);
    return OCK_EINVAL;
  }
  udp_state *st = state_of(n);
  ock_udp_bind *b = st ? bind_new(n, st) : NULL;
  if (!b) {
    snprintf(err, errcap, "out of memory");
    return OCK_ENOMEM;
  }
  int rc = start(b, &ss);
  if (rc) {
    snprintf(err, errcap, "cannot bind UDP %s: %s", hostport, ock_strerror(rc));
    ock_udp_bind_close(b);
    return rc;
  }
  *out = b;
  return 0;
}

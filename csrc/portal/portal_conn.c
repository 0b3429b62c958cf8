/* One portal connection: a client (inlet side) or target (outlet side) socket
 * and the worker that speaks for it (spec 6.2-6.5, 6.8). The data path is
 * here: socket reads go into one shared buffer, become a Payload in place and
 * are dispatched; Payloads received are written to the socket from pooled
 * write requests. No allocation per chunk, no Python. */
#include "portal/portal_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/rand.h"
#include "codec/bare.h"
#include "codec/hostport.h"
#include "node/send.h"
#include "runtime/loop.h"
#include "transport/dial.h"
#include "transport/tcp_conn.h"
#include "transport/wpool.h"

#define HEADROOM 16            /* room for a Payload header in front of the data */
#define LINGER_MS 5000         /* flushing to a socket after the peer went away */
#define GRANT_EVERY (OCK_PORTAL_WINDOW / 4)
#define PROBE_MS 1000          /* out of credit (CAP_SEQ): ask again this often */
#define PROBES 15              /* unanswered asks before the other side counts as gone */
#define READ_WAIT_MS 5         /* longest a portal waits for its connection's queue to empty */

enum { P_HANDSHAKE, P_OPEN, P_CLOSING };

typedef struct portal portal;
struct portal {
  uv_tcp_t tcp;
  uv_timer_t timer; /* Pong timeout (inlet), linger (both) */
  ock_dial dial;    /* outlet: connecting to the target */
  uv_shutdown_t sreq;
  ock_node *node;
  ock_portal_set *set;
  ock_worker worker;
  char addr[OCK_HEX_ADDR_LEN + 1];
  char target[OCK_HOSTPORT_CAP];
  ock_route remote;
  int udp_leg;      /* remote crosses UDP: fixed with remote, read per chunk */
  int state;
  int inlet;
  int caps;
  int reading;
  int sent_eof, got_eof, shut_done, peer_gone, shutting;
  int handles;
  int64_t credit;
  uint64_t unacked;
  uint64_t inflight;     /* credit mode: received and not yet granted back */
  uint64_t granted;      /* CAP_SEQ: total granted to the peer, as last sent */
  uint64_t grant_seen;   /* CAP_SEQ: the peer's highest total granted to us */
  uint16_t seq_out, seq_in; /* Ockam's packet counter, each way */
  int probing;           /* the timer asks for credit */
  int probes;            /* asks not answered yet */
  char held[OCK_HEX_ADDR_LEN + 1]; /* the connection we stopped reading, "" when none */
  uint64_t waiting_since; /* loop time of the first read refused for a busy connection, 0 when none */
  unsigned char peer_id[OCK_ORIGIN_ID_LEN]; /* outlet with an allow list: who opened it */
  size_t wq_bytes;
  ock_wpool pool;
  ock_drain_waiter drain;
  ock_list link; /* in set->conns */
};

/* Every portal reads into this one buffer and is done with it before the
 * next read: one loop thread, and each read is forwarded before returning. */
static uint8_t g_rbuf[HEADROOM + OCK_PORTAL_CHUNK + OCK_PORTAL_COUNTER_LEN];

static void update_reading(portal *p);
static void portal_close(portal *p, int send_disconnect);

/* 1 when the route has a UDP leg, where a message is lost with any of its
 * datagrams: a 256 KiB chunk (530 datagrams) would almost never make it
 * through a link that loses 1%, a 16-datagram one makes it 85% of the time. */
static int crosses_udp(const ock_route *r) {
  for (size_t i = 0; i < r->n; i++)
    if (r->tt[i] == OCK_TT_UDP) return 1;
  return 0;
}

/* Every assignment of p->remote goes through here, so udp_leg stays true. */
static void set_remote(portal *p, const ock_route *r) {
  p->remote = *r;
  p->udp_leg = crosses_udp(r);
}

static size_t chunk_size(const portal *p) {
  if (p->udp_leg) return OCK_PORTAL_CHUNK_UDP;
  return p->caps ? OCK_PORTAL_CHUNK : OCK_PORTAL_CHUNK_RUST;
}

/* ---- sending portal messages ---- */

static void send_to_remote(portal *p, const uint8_t *payload, size_t len) {
  ock_msg m;
  ock_msg_init(&m, payload, len);
  m.onward = p->remote;
  ock_route_push_back(&m.ret, OCK_TT_LOCAL, p->addr, OCK_HEX_ADDR_LEN);
  /* Only the inlet's Ping follows a route a user typed, which may hold a TCP
   * hop to open; every later route came off the network and is never
   * allowed to make this node dial anything. */
  if (p->inlet && p->state == P_HANDSHAKE)
    ock_node_send(p->node, &m, NULL, 0);
  else
    ock_node_dispatch(p->node, &m, NULL);
}

static void send_ctl(portal *p, int type, int arg) {
  /* a capability byte only when there is something to say: a Rust peer
   * then sees exactly the one-byte 00/01/02 it sends itself */
  uint8_t b[2] = {(uint8_t)type, (uint8_t)arg};
  send_to_remote(p, b, (type == OCK_PORTAL_PING || type == OCK_PORTAL_PONG) && arg ? 2 : 1);
}

/* Credit: bytes granted, or with CAP_SEQ the running total plus one (0 asks
 * the peer to say its total again, and it always can: 1 is "none yet"). */
static void send_credit(portal *p, uint64_t n) {
  uint8_t b[11] = {OCK_PORTAL_CREDIT};
  send_to_remote(p, b, 1 + ock_uleb_write(b + 1, n));
}

static void send_grant_total(portal *p) { send_credit(p, p->granted + 1); }

/* Appends the next counter of the stream at out when the peer numbers it. */
static size_t put_counter(portal *p, uint8_t *out) {
  if (!(p->caps & OCK_PORTAL_CAP_SEQ)) return 0;
  return ock_portal_counter_write(out, p->seq_out++);
}

static void send_eof(portal *p) {
  uint8_t b[1 + OCK_PORTAL_COUNTER_LEN] = {OCK_PORTAL_EOF};
  send_to_remote(p, b, 1 + put_counter(p, b + 1));
}

/* ---- lifetime ---- */

/* Drops one of the things p waits for (its handles, a cancelled lookup). */
static void portal_unref(portal *p) {
  if (--p->handles) return;
  ock_portal_set *set = p->set;
  ock_list_remove(&p->link);
  set->open--;
  ock_wpool_free(&p->pool);
  ock_node *n = p->node;
  free(p);
  ock_portal_set_release(set);
  ock_node_handle_closed(n);
}

static void on_handle_closed(uv_handle_t *h) { portal_unref(h->data); }
static void on_dial_released(ock_dial *d) { portal_unref(d->data); }

/* Lets the transport connection we held go on reading. */
static void release_hold(portal *p) {
  if (!p->held[0]) return;
  ock_addr a = {OCK_TT_LOCAL, p->held, OCK_HEX_ADDR_LEN};
  ock_tcp_conn *c = ock_tcp_conn_by_address(p->node, a);
  if (c) ock_tcp_conn_unhold(c);
  p->held[0] = 0;
}

static void portal_close(portal *p, int send_disconnect) {
  if (p->state == P_CLOSING) return;
  release_hold(p);
  if (send_disconnect && p->remote.n && !p->peer_gone) send_ctl(p, OCK_PORTAL_DISCONNECT, 0);
  p->state = P_CLOSING;
  ock_router_remove(&p->node->router, &p->worker);
  ock_drain_waiter_cancel(&p->drain);
  if (ock_dial_cancel(&p->dial, on_dial_released)) p->handles++; /* the lookup returns later */
  uv_close((uv_handle_t *)&p->tcp, on_handle_closed);
  uv_close((uv_handle_t *)&p->timer, on_handle_closed);
}

static void fail(portal *p, const char *why) {
  OCK_INFO("node %s: portal %s (%s): %s", p->node->name, p->addr, p->target, why);
  portal_close(p, 1);
}

static void on_linger(uv_timer_t *t) { portal_close(t->data, 0); }

/* Closes once queued writes reached the socket (or after LINGER_MS). */
static void on_final_shutdown(uv_shutdown_t *req, int status) {
  (void)status;
  portal_close(req->data, 0);
}

static void close_after_flush(portal *p) {
  if (p->state == P_CLOSING) return;
  if (p->reading) uv_read_stop((uv_stream_t *)&p->tcp);
  p->reading = 0;
  if (p->shutting || p->shut_done) { /* a shutdown is already flushing */
    if (p->shut_done) portal_close(p, 0);
    return;
  }
  p->sreq.data = p;
  p->shutting = 1;
  if (uv_shutdown(&p->sreq, (uv_stream_t *)&p->tcp, on_final_shutdown)) {
    portal_close(p, 0);
    return;
  }
  p->probing = 0; /* the timer lingers now */
  uv_timer_start(&p->timer, on_linger, LINGER_MS, 0);
}

/* ---- socket writes (data from the remote) ---- */

/* Bytes reached our socket: count them and grant them back as credit. */
static void delivered(portal *p, size_t len) {
  p->set->bytes_in += len;
  if (p->held[0] && p->wq_bytes < OCK_TCP_LOW_WATER) release_hold(p);
  if (!(p->caps & OCK_PORTAL_CAP_CREDIT) || p->peer_gone) return;
  p->unacked += len;
  if (p->unacked >= GRANT_EVERY) {
    p->granted += p->unacked;
    if (p->caps & OCK_PORTAL_CAP_SEQ)
      send_grant_total(p);
    else
      send_credit(p, p->unacked);
    p->inflight -= p->unacked;
    p->unacked = 0;
  }
}

/* A Payload arrived: a peer of ours must stay within the credit we granted;
 * any peer whose data piles up stops the connection it came on (a Rust peer
 * has no credit: this is its back-pressure), and past max_write_queue the
 * portal connection ends. Returns 0 to go on writing. */
static int admit(portal *p, size_t len, const ock_origin *origin) {
  ock_tcp_conn *from = ock_tcp_conn_of(origin);
  if (p->caps & OCK_PORTAL_CAP_CREDIT) {
    p->inflight += len;
    if (p->inflight > OCK_PORTAL_WINDOW) {
      fail(p, "peer sent more than the credit it was granted");
      return -1;
    }
  }
  if (p->wq_bytes + len > (uint64_t)p->node->limits.max_write_queue) {
    fail(p, "client is not reading (max_write_queue reached)");
    return -1;
  }
  if (from && !p->held[0] && p->wq_bytes + len > OCK_TCP_HIGH_WATER) {
    ock_tcp_conn_hold(from);
    memcpy(p->held, ock_tcp_conn_address(from), sizeof p->held);
  }
  return 0;
}

static void on_write(uv_write_t *req, int status) {
  ock_wreq *w = (ock_wreq *)req;
  portal *p = w->owner;
  size_t len = w->buf.len;
  p->wq_bytes -= len;
  ock_wpool_put(&p->pool, w);
  if (p->state == P_CLOSING) return;
  if (status < 0) {
    fail(p, uv_strerror(status));
    return;
  }
  delivered(p, len);
}

/* Writes straight to the kernel when nothing is queued; copies only the rest. */
static void write_data(portal *p, const uint8_t *data, size_t len) {
  if (!len) return;
  uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
  size_t written;
  int rc = ock_wpool_send(&p->pool, (uv_stream_t *)&p->tcp, &b, 1, p->wq_bytes == 0, on_write, p, &written);
  if (rc) {
    fail(p, ock_strerror(rc)); /* "out of memory", or libuv's words */
    return;
  }
  p->wq_bytes += len - written;
  if (written) delivered(p, written);
}

static void on_half_shutdown(uv_shutdown_t *req, int status) {
  portal *p = req->data;
  p->shutting = 0;
  p->shut_done = 1;
  if (p->state == P_CLOSING) return;
  if (status < 0 && status != UV_ECANCELED) {
    fail(p, uv_strerror(status));
    return;
  }
  if (p->sent_eof || p->peer_gone) portal_close(p, 0); /* both directions are done */
}

/* The remote's side reached EOF: end our socket's write side once flushed. */
static void got_eof(portal *p) {
  p->got_eof = 1;
  p->sreq.data = p;
  p->shutting = 1;
  if (uv_shutdown(&p->sreq, (uv_stream_t *)&p->tcp, on_half_shutdown)) fail(p, "shutdown failed");
}

/* ---- socket reads (data to the remote) ---- */

static ock_tcp_conn *remote_transport(portal *p);

/* 1 when the connection the data leaves by should not take a chunk now.
 * A chunk read while nothing is queued goes from our buffer straight into
 * the kernel; one read while something is queued is copied into the queue
 * whole. So a portal reads only when the queue is empty (its data waits in
 * its client's socket meanwhile), which with 8 streams on one connection
 * took the inlet from 0.51 to 0.39 CPU s/GiB (memcpy and the page faults of
 * queue blocks were a sixth of its time). Other traffic (a relay's frames)
 * may keep the queue from emptying: after READ_WAIT_MS the portal reads
 * anyway, up to OCK_TCP_HIGH_WATER. */
static int transport_busy(portal *p) {
  ock_tcp_conn *c = remote_transport(p);
  size_t queued = c ? ock_tcp_conn_write_queued(c) : 0;
  if (!queued) {
    p->waiting_since = 0;
    return 0;
  }
  if (queued > OCK_TCP_HIGH_WATER) return 1;
  uint64_t now = uv_now(ock_loop());
  if (!p->waiting_since) p->waiting_since = now;
  if (now - p->waiting_since < READ_WAIT_MS) return 1;
  p->waiting_since = 0;
  return 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)hint;
  portal *p = h->data;
  /* Checked before each read, not only after: when a drained connection
   * wakes many portals in one loop turn, the ones that read later see what
   * the earlier ones queued, and an empty buffer (UV_ENOBUFS in on_read)
   * makes them wait for the next drain. */
  if (transport_busy(p)) {
    *buf = uv_buf_init(NULL, 0);
    return;
  }
  size_t n = chunk_size(p);
  if ((p->caps & OCK_PORTAL_CAP_CREDIT) && (int64_t)n > p->credit) n = p->credit > 0 ? (size_t)p->credit : 1;
  *buf = uv_buf_init((char *)g_rbuf + HEADROOM, (unsigned)n);
}

static void socket_eof(portal *p) {
  if (p->caps & OCK_PORTAL_CAP_HALF_CLOSE) {
    send_eof(p);
    p->sent_eof = 1;
    update_reading(p);
    if (p->got_eof && p->shut_done) portal_close(p, 0);
    return;
  }
  /* Ockam's behaviour (6.4): EOF ends the whole portal connection */
  send_ctl(p, OCK_PORTAL_DISCONNECT, 0);
  p->peer_gone = 1;
  close_after_flush(p);
}

static void check_transport(portal *p);

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  portal *p = s->data;
  if (p->state != P_OPEN) return;
  if (nread == UV_ENOBUFS) { /* on_alloc found the transport backed up */
    check_transport(p);
    update_reading(p);
    return;
  }
  if (nread < 0) {
    if (nread == UV_EOF)
      socket_eof(p);
    else
      fail(p, uv_strerror((int)nread));
    return;
  }
  if (nread == 0) return;
  uint8_t head[11];
  size_t hl = ock_portal_payload_header(head, (size_t)nread);
  uint8_t *start = (uint8_t *)buf->base - hl;
  memcpy(start, head, hl);
  size_t tail = put_counter(p, (uint8_t *)buf->base + nread); /* g_rbuf has room for it */
  p->credit -= nread;
  p->set->bytes_out += (uint64_t)nread;
  send_to_remote(p, start, hl + (size_t)nread + tail);
  if (p->state != P_OPEN) return;
  check_transport(p);
  update_reading(p);
}

static void on_drained(ock_drain_waiter *w) {
  portal *p = (portal *)((char *)w - offsetof(portal, drain));
  update_reading(p);
}

/* The TCP connection this portal's data leaves by: the first hop of the
 * remote route that names one, past local workers in front of it (a hop
 * service, a relay), which pass the data on to it within this loop turn. */
static ock_tcp_conn *remote_transport(portal *p) {
  for (size_t i = 0; i < p->remote.n; i++) {
    ock_addr a = ock_route_at(&p->remote, i);
    if (a.tt != OCK_TT_LOCAL) return NULL;
    ock_tcp_conn *c = ock_tcp_conn_by_address(p->node, a);
    if (c) return c;
  }
  return NULL;
}

/* Stops reading until the connection the data leaves by drains. */
static void check_transport(portal *p) {
  ock_tcp_conn *c = remote_transport(p);
  if (c && ock_tcp_conn_write_queued(c) > 0) ock_tcp_conn_wait_drain(c, &p->drain);
}

static void on_probe(uv_timer_t *t) {
  portal *p = t->data;
  if (p->state != P_OPEN || !p->probing) return;
  if (++p->probes > PROBES) {
    fail(p, "the other side stopped answering (no credit for 15 s): its Disconnect was probably lost");
    return;
  }
  send_credit(p, 0);
}

/* With CAP_SEQ a Credit can be lost (a UDP leg): a sender out of credit asks
 * for the peer's total every PROBE_MS until some arrives. */
static void update_probe(portal *p) {
  /* peer_gone: the timer may be lingering (close_after_flush) */
  int want = (p->caps & OCK_PORTAL_CAP_SEQ) && p->state == P_OPEN && !p->sent_eof && !p->peer_gone &&
             p->credit <= 0;
  if (want == p->probing) return;
  p->probing = want;
  p->probes = 0;
  if (want)
    uv_timer_start(&p->timer, on_probe, PROBE_MS, PROBE_MS);
  else
    uv_timer_stop(&p->timer);
}

static void update_reading(portal *p) {
  update_probe(p);
  int want = p->state == P_OPEN && !p->sent_eof && !p->peer_gone && !p->drain.conn &&
             (!(p->caps & OCK_PORTAL_CAP_CREDIT) || p->credit > 0);
  if (want == p->reading) return;
  int rc = want ? uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_read) : uv_read_stop((uv_stream_t *)&p->tcp);
  if (rc) {
    fail(p, uv_strerror(rc));
    return;
  }
  p->reading = want;
}

/* ---- messages from the remote ---- */

static void become_open(portal *p, int caps) {
  p->caps = caps & p->set->caps;
  p->state = P_OPEN;
  p->credit = OCK_PORTAL_WINDOW;
  uv_tcp_nodelay(&p->tcp, 1);
  update_reading(p);
}

static void handle_pong(portal *p, const ock_msg *m, const ock_portal_msg *pm) {
  if (!p->inlet || p->state != P_HANDSHAKE) return; /* late duplicates are harmless */
  uv_timer_stop(&p->timer);
  set_remote(p, &m->ret);
  become_open(p, pm->caps);
}

/* Ockam's check (InvalidCounter): a numbered message must be the next one.
 * A gap means the route lost or reordered one (a UDP leg); writing on would
 * hand the client a stream with a hole, so the connection ends instead. */
static int in_sequence(portal *p, const ock_portal_msg *pm) {
  if (!pm->has_counter && !(p->caps & OCK_PORTAL_CAP_SEQ)) return 1;
  if (pm->has_counter && pm->counter == p->seq_in) {
    p->seq_in++;
    return 1;
  }
  if (pm->has_counter)
    OCK_WARN("node %s: portal %s (%s): message %u of the stream never arrived (message %u did): lost or "
             "reordered on the route; closing the connection so that its bytes have no gap",
             p->node->name, p->addr, p->target, (unsigned)p->seq_in, (unsigned)pm->counter);
  else
    OCK_WARN("node %s: portal %s (%s): a message without its counter; closing", p->node->name, p->addr, p->target);
  portal_close(p, 1);
  return 0;
}

/* A Credit: an increment, or with CAP_SEQ a running total plus one (0: a
 * request to say ours again). Totals lost or out of order are superseded by
 * later ones. */
static void take_credit(portal *p, uint64_t v) {
  uint64_t add = v;
  if (p->caps & OCK_PORTAL_CAP_SEQ) {
    if (v == 0) {
      send_grant_total(p);
      return;
    }
    p->probes = 0;
    if (v - 1 <= p->grant_seen) return;
    add = v - 1 - p->grant_seen;
  }
  if (add > OCK_PORTAL_WINDOW || p->credit + (int64_t)add > OCK_PORTAL_WINDOW) {
    fail(p, "peer granted more credit than the window");
    return;
  }
  if (p->caps & OCK_PORTAL_CAP_SEQ) p->grant_seen = v - 1;
  p->credit += (int64_t)add;
  update_reading(p);
}

static void portal_handle(ock_worker *w, ock_msg *m, const ock_origin *from) {
  portal *p = w->ctx;
  ock_portal_msg pm;
  /* with an allow list, the identity that opened the connection is the only one it hears */
  if (!p->inlet && p->set->allow_n &&
      (!from || !from->identifier || memcmp(from->identifier, p->peer_id, OCK_ORIGIN_ID_LEN))) {
    OCK_INFO("node %s: portal %s: message from %s, not the identity that opened it, dropped", p->node->name,
             p->addr, from ? from->peer : "this node");
    return;
  }
  if (m->onward.n != 1) { /* 6.3 item 6: nothing may route through a portal worker */
    OCK_INFO("node %s: portal %s: message with a longer onward route, ignored", p->node->name, p->addr);
    return;
  }
  if (ock_portal_msg_decode(m->payload, m->payload_len, &pm)) {
    fail(p, "malformed portal message");
    return;
  }
  switch (pm.type) {
  case OCK_PORTAL_PING: return; /* only the outlet listener takes pings */
  case OCK_PORTAL_PONG: handle_pong(p, m, &pm); return;
  case OCK_PORTAL_DISCONNECT:
    p->peer_gone = 1;
    close_after_flush(p);
    return;
  case OCK_PORTAL_PAYLOAD:
    if (p->state != P_OPEN || p->got_eof) {
      fail(p, p->state != P_OPEN ? "payload before the handshake" : "payload after end of stream");
      return;
    }
    if (in_sequence(p, &pm) && admit(p, pm.len, from) == 0) write_data(p, pm.data, pm.len);
    return;
  case OCK_PORTAL_EOF:
    if (p->state != P_OPEN || !(p->caps & OCK_PORTAL_CAP_HALF_CLOSE) || p->got_eof) {
      fail(p, "unexpected end-of-stream message");
      return;
    }
    if (in_sequence(p, &pm)) got_eof(p);
    return;
  case OCK_PORTAL_CREDIT:
    if (p->state != P_OPEN || !(p->caps & OCK_PORTAL_CAP_CREDIT)) {
      fail(p, "unexpected credit message");
      return;
    }
    take_credit(p, pm.credit);
    return;
  }
}

/* ---- making portal connections ---- */

static portal *portal_new(ock_portal_set *set, int inlet) {
  portal *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->node = set->node;
  p->set = set;
  p->inlet = inlet;
  ock_rand_hex_addr(p->addr);
  p->worker = (ock_worker){.node = set->node, .addr = p->addr, .addr_len = OCK_HEX_ADDR_LEN, .fc = OCK_FC_ALL,
                           .handle = portal_handle, .ctx = p, .kind = "portal"};
  p->drain.cb = on_drained;
  uv_tcp_init(ock_loop(), &p->tcp);
  uv_timer_init(ock_loop(), &p->timer);
  p->tcp.data = p->timer.data = p;
  p->dial.data = p;
  p->handles = 2;
  ock_node_handle_opened(set->node);
  set->refs++;
  set->open++;
  set->total++;
  ock_list_insert_head(&set->conns, &p->link);
  ock_router_add(&set->node->router, &p->worker); /* 128 random bits do not collide */
  return p;
}

static void on_pong_timeout(uv_timer_t *t) { fail(t->data, "no Pong from the outlet in time"); }

int ock_portal_accept(ock_portal_set *set, uv_stream_t *server, const ock_route *to) {
  portal *p = portal_new(set, 1);
  if (!p) return OCK_ENOMEM;
  int rc = uv_accept(server, (uv_stream_t *)&p->tcp);
  if (rc) {
    portal_close(p, 0);
    return rc;
  }
  snprintf(p->target, sizeof p->target, "inlet client");
  if (set->open > (uint64_t)set->node->limits.max_portal_connections) {
    OCK_WARN("node %s: inlet has %ld portal connections open (the limit), refusing a client", p->node->name,
             set->node->limits.max_portal_connections);
    portal_close(p, 0);
    return 0;
  }
  set_remote(p, to);
  p->state = P_HANDSHAKE;
  uv_timer_start(&p->timer, on_pong_timeout, (uint64_t)set->pong_timeout_ms, 0);
  send_ctl(p, OCK_PORTAL_PING, set->caps);
  /* After the Ping the remote is whatever the Pong says; until then nothing
   * is sent, so the TCP hop of `to` is resolved once, by the Ping. */
  return 0;
}

static void on_dial_timeout(uv_timer_t *t) {
  portal *p = t->data;
  OCK_INFO("node %s: outlet: connecting to %s timed out", p->node->name, p->target);
  send_ctl(p, OCK_PORTAL_DISCONNECT, 0);
  p->peer_gone = 1;
  portal_close(p, 0);
}

static void on_target(ock_dial *d, int status) {
  portal *p = d->data; /* not closing: closing cancels the dial, and then it is silent */
  if (status) {
    OCK_INFO("node %s: outlet cannot connect to %s: %s", p->node->name, p->target, uv_strerror(status));
    send_ctl(p, OCK_PORTAL_DISCONNECT, 0); /* a Rust inlet ignores it; ours closes its client at once */
    p->peer_gone = 1;
    portal_close(p, 0);
    return;
  }
  uv_timer_stop(&p->timer);
  int caps = p->caps;
  send_ctl(p, OCK_PORTAL_PONG, caps & p->set->caps);
  if (p->state == P_HANDSHAKE) become_open(p, caps);
}

/* 1 when `from` may open a connection of set: anyone without an allow list,
 * else a secure channel peer on it. */
static int allowed(const ock_portal_set *set, const ock_origin *from) {
  if (!set->allow_n) return 1;
  if (!from || !from->identifier) return 0;
  for (size_t i = 0; i < set->allow_n; i++)
    if (!memcmp(set->allow[i], from->identifier, OCK_ORIGIN_ID_LEN)) return 1;
  return 0;
}

/* A Ping the allow list refuses: Disconnect, so that the inlet closes its client at once. */
static void refuse(portal *p, const ock_origin *from) {
  OCK_WARN("node %s: outlet to %s refused a portal from %s%s: not on its allow list", p->node->name, p->target,
           from && from->identifier ? "identity " : "", !from ? "this node (no secure channel)"
           : from->identifier ? from->peer : "a connection without a secure channel");
  send_ctl(p, OCK_PORTAL_DISCONNECT, 0);
  p->peer_gone = 1;
  portal_close(p, 0);
}

void ock_portal_answer_ping(ock_portal_set *set, const char *target, const ock_msg *ping, int caps,
                            const ock_origin *from) {
  portal *p = portal_new(set, 0);
  if (!p) return;
  snprintf(p->target, sizeof p->target, "%s", target);
  set_remote(p, &ping->ret);
  p->caps = caps; /* what the inlet offered; negotiated in become_open */
  p->state = P_HANDSHAKE;
  if (!allowed(set, from)) {
    refuse(p, from);
    return;
  }
  if (set->allow_n) memcpy(p->peer_id, from->identifier, OCK_ORIGIN_ID_LEN);
  if (set->open > (uint64_t)set->node->limits.max_portal_connections) {
    OCK_WARN("node %s: outlet has %ld portal connections open (the limit), refusing a Ping", p->node->name,
             set->node->limits.max_portal_connections);
    on_target(&p->dial, UV_EMFILE); /* answers Disconnect */
    return;
  }
  /* our inlets give up after pong_timeout_ms (and say so); a Rust inlet
   * waits forever, but a target that takes twice that to accept is gone */
  uv_timer_start(&p->timer, on_dial_timeout, 2 * (uint64_t)set->pong_timeout_ms, 0);
  int rc = ock_dial_start(&p->dial, &p->tcp, target, on_target);
  if (rc) on_target(&p->dial, rc);
}

/* The owner holds one reference until it closes, so release happens once. */
void ock_portal_set_init(ock_portal_set *set, ock_node *n, void (*released)(ock_portal_set *set)) {
  set->node = n;
  ock_list_init(&set->conns);
  set->refs = 1;
  set->caps = OCK_PORTAL_CAPS;
  set->pong_timeout_ms = OCK_PORTAL_PONG_TIMEOUT_MS;
  set->on_released = released;
}

void ock_portal_set_release(ock_portal_set *set) {
  if (--set->refs == 0 && set->on_released) set->on_released(set);
}

void ock_portal_set_list(const ock_portal_set *set, const char *kind, const char *address, const char *where,
                         ock_buf *out) {
  char line[1200];
  int k = snprintf(line, sizeof line, "%s %s %s %llu %llu %llu %llu\n", kind, address, where,
                   (unsigned long long)set->open, (unsigned long long)set->total,
                   (unsigned long long)set->bytes_out, (unsigned long long)set->bytes_in);
  ock_buf_append(out, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
}

/* The set's loops below close portal connections as they go: closing frees
 * nothing before the handles' close callbacks, so each stays linked while
 * the loop moves past it. */
static portal *portal_of(ock_list *pos) { return OCK_LIST_ENTRY(pos, portal, link); }

void ock_portal_set_close(ock_portal_set *set) {
  OCK_LIST_FOREACH(pos, &set->conns) portal_close(portal_of(pos), 1);
}

void ock_portal_set_origin_closed(ock_portal_set *set, const ock_origin *o) {
  const char *ca = o->address;
  OCK_LIST_FOREACH(pos, &set->conns) {
    portal *p = portal_of(pos);
    if (p->state == P_CLOSING || !p->remote.n) continue;
    if (ock_addr_eq(ock_route_at(&p->remote, 0), OCK_TT_LOCAL, ca, OCK_HEX_ADDR_LEN)) {
      p->peer_gone = 1;
      fail(p, "the connection to the other side closed");
    }
  }
}

static int route_eq(const ock_route *a, const ock_route *b) {
  return a->n == b->n && a->off[a->n] == b->off[b->n] && !memcmp(a->tt, b->tt, a->n) &&
         !memcmp(a->off, b->off, (a->n + 1) * sizeof a->off[0]) && !memcmp(a->data, b->data, a->off[a->n]);
}

void ock_portal_set_cancel(ock_portal_set *set, const ock_route *ret) {
  OCK_LIST_FOREACH(pos, &set->conns) {
    portal *p = portal_of(pos);
    if (p->state == P_HANDSHAKE && route_eq(&p->remote, ret)) {
      p->peer_gone = 1;
      fail(p, "the inlet gave up before the target answered");
    }
  }
}

int ock_portal_set_peer_route(const ock_portal_set *set, ock_route *out) {
  OCK_LIST_FOREACH(pos, &set->conns) {
    const portal *p = portal_of(pos);
    if (p->state == P_OPEN && p->remote.n > 1) {
      *out = p->remote;
      ock_route_pop_back(out);
      return 0;
    }
  }
  return OCK_ENOENT;
}

void ock_portal_set_fail_all(ock_portal_set *set, const char *why) {
  OCK_LIST_FOREACH(pos, &set->conns) {
    portal *p = portal_of(pos);
    if (p->state == P_OPEN) {
      p->peer_gone = 1;
      fail(p, why);
    }
  }
}

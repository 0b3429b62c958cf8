/* Ockam's TCP connection (spec 3): preamble, framing, the sender worker,
 * back-pressure both ways. */
#include "transport/tcp_conn.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/rand.h"
#include "codec/hostport.h"
#include "runtime/loop.h"
#include "transport/dial.h"
#include "transport/wpool.h"

#define READ_CHUNK (64 * 1024)     /* room kept free for each read */
#define RBUF_KEEP (512 * 1024)       /* a read buffer shrinks to this when idle... */
#define RBUF_SHRINK (1024 * 1024)    /* ...once it grew past this (frames over 512 KiB) */
/* Frames up to this size wait for the end of the loop turn and leave
 * together: a node setting up portal connections sends Pings, Pongs, first
 * Payloads and Eofs for many of them in one turn, and on loopback every
 * write also runs the receiver's TCP path and wakes its thread. Bigger
 * frames go at once, behind whatever is corked. */
#define CORK_MAX 4096

enum { ST_CONNECTING, ST_OPEN, ST_CLOSING };

/* The transport's state in each node: its connections. */
typedef struct {
  ock_list conns;     /* ock_tcp_conn.link, newest first */
  long accepted_open; /* accepted connections open now (max_connections) */
} tcp_state;

static void state_init(void *state) { ock_list_init(&((tcp_state *)state)->conns); }
static void on_node_close(ock_node *n, void *state);
static const ock_node_ext_ops tcp_ops = {
    .size = sizeof(tcp_state), .level = OCK_EXT_TRANSPORT, .init = state_init, .on_close = on_node_close};

/* An origin connection held because it feeds this one faster than its peer
 * reads; released when this one drains. Named by address: it may close first. */
typedef struct paused {
  ock_drain_waiter waiter; /* first: the drain callback gets this struct */
  char origin[OCK_HEX_ADDR_LEN + 1];
  ock_tcp_conn *dest;
  ock_list link; /* in dest->paused */
} paused;

struct ock_tcp_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;  /* connect timeout, then the frame clock */
  uv_timer_t wtimer; /* write stall: the peer stopped reading */
  uv_check_t wake_check; /* the next batch of drain waiters, after this turn's reads */
  uv_idle_t wake_idle;   /* keeps that turn from blocking in poll */
  uv_check_t cork_check; /* writes this turn's small frames in one go */
  uv_idle_t cork_idle;   /* keeps a turn with corked frames from blocking in poll */
  ock_buf cork;          /* small frames of this turn, not handed to the kernel yet */
  ock_dial dial;
  ock_node *node;
  tcp_state *st;
  ock_worker worker; /* the sender, at a random 32-hex address */
  ock_origin origin; /* what the frames read from it carry into routing */
  char addr[OCK_HEX_ADDR_LEN + 1];
  char peer[OCK_HOSTPORT_CAP];
  char target[OCK_HOSTPORT_CAP];
  int outgoing;
  int state;
  int got_preamble;
  int holds;
  int open_handles; /* tcp, timer, wtimer, wake_check, wake_idle, cork_check, cork_idle, a pending getaddrinfo */
  ock_list paused;  /* paused.link: origins held for this connection's sake */
  int close_status;
  ock_buf rbuf;
  ock_wpool pool;
  ock_buf head, tail; /* frame parts around a payload that is not copied */
  size_t wq_bytes;
  uint64_t bytes_in, bytes_out;
  ock_call *call;
  const ock_tcp_conn_hooks *hooks;
  void *owner;
  ock_list waiters; /* ock_drain_waiter.link, oldest first */
  ock_list link;    /* in st->conns */
};

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void write_preamble(ock_tcp_conn *c);
static void sender_handle(ock_worker *w, ock_msg *m, const ock_origin *from);
static void wake_waiters(ock_tcp_conn *c);
static void wake_batch(ock_tcp_conn *c);
static void on_wake_check(uv_check_t *h);

int ock_tcp_conn_is_outgoing(const ock_tcp_conn *c) { return c->outgoing; }
int ock_tcp_conn_is_open(const ock_tcp_conn *c) { return c->state == ST_OPEN; }
int ock_tcp_conn_is_closing(const ock_tcp_conn *c) { return c->state == ST_CLOSING; }
int ock_tcp_conn_status(const ock_tcp_conn *c) { return c->close_status ? c->close_status : OCK_ECLOSED; }
void *ock_tcp_conn_owner(const ock_tcp_conn *c) { return c->owner; }

ock_tcp_conn *ock_tcp_conn_by_address(ock_node *n, ock_addr a) {
  if (a.tt != OCK_TT_LOCAL) return NULL;
  ock_worker *w = ock_router_find(&n->router, a.p, a.len);
  return w && w->handle == sender_handle ? w->ctx : NULL;
}

static const char TRANSPORT[] = "tcp";

ock_tcp_conn *ock_tcp_conn_of(const ock_origin *o) {
  if (!o || o->transport != TRANSPORT) return NULL;
  return (ock_tcp_conn *)((char *)o - offsetof(ock_tcp_conn, origin));
}
const char *ock_tcp_conn_peer(const ock_tcp_conn *c) { return c->peer; }
const char *ock_tcp_conn_address(const ock_tcp_conn *c) { return c->addr; }
const char *ock_tcp_conn_target(const ock_tcp_conn *c) { return c->target; }
ock_tcp_conn *ock_tcp_conn_next(const ock_tcp_conn *c) {
  return c->link.next == &c->st->conns ? NULL : OCK_LIST_ENTRY(c->link.next, ock_tcp_conn, link);
}
size_t ock_tcp_conn_write_queued(const ock_tcp_conn *c) { return c->wq_bytes; }
void ock_tcp_conn_counters(const ock_tcp_conn *c, uint64_t *in, uint64_t *out) {
  *in = c->bytes_in;
  *out = c->bytes_out;
}

void ock_tcp_conn_set_hooks(ock_tcp_conn *c, const ock_tcp_conn_hooks *hooks, void *owner) {
  c->hooks = hooks;
  c->owner = owner;
}

ock_tcp_conn *ock_tcp_conn_first(ock_node *n) {
  tcp_state *st = ock_node_ext(n, &tcp_ops);
  return st && !ock_list_empty(&st->conns) ? OCK_LIST_ENTRY(ock_list_first(&st->conns), ock_tcp_conn, link) : NULL;
}

static ock_tcp_conn *conn_new(ock_node *n, int outgoing) {
  tcp_state *st = ock_node_ext(n, &tcp_ops);
  ock_tcp_conn *c = st ? calloc(1, sizeof *c) : NULL;
  if (!c) return NULL;
  c->node = n;
  c->st = st;
  c->outgoing = outgoing;
  ock_rand_hex_addr(c->addr);
  ock_buf_init(&c->rbuf);
  ock_list_init(&c->waiters);
  ock_list_init(&c->paused);
  c->worker = (ock_worker){
      .node = n,
      .addr = c->addr,
      .addr_len = OCK_HEX_ADDR_LEN,
      /* no transport frame goes straight into another connection, but where a
       * relay joined the two (the relay service's grant) */
      .fc = 0,
      .handle = sender_handle,
      .ctx = c,
      .kind = TRANSPORT,
  };
  c->origin = (ock_origin){
      .fc = outgoing ? OCK_FC_OUTGOING : OCK_FC_LISTENER,
      .transport = TRANSPORT,
      .address = c->addr,
      .peer = c->peer,
  };
  /* linked into the node's transport state so node close finds it */
  ock_list_insert_head(&st->conns, &c->link);
  ock_node_handle_opened(n);
  uv_tcp_init(ock_loop(), &c->tcp);
  uv_timer_init(ock_loop(), &c->timer);
  uv_timer_init(ock_loop(), &c->wtimer);
  uv_check_init(ock_loop(), &c->wake_check);
  uv_idle_init(ock_loop(), &c->wake_idle);
  uv_check_init(ock_loop(), &c->cork_check);
  uv_idle_init(ock_loop(), &c->cork_idle);
  c->tcp.data = c->timer.data = c->wtimer.data = c->wake_check.data = c->wake_idle.data = c;
  c->cork_check.data = c->cork_idle.data = c;
  ock_buf_init(&c->cork);
  c->open_handles = 7;
  c->state = ST_CONNECTING;
  return c;
}

static void conn_free(ock_tcp_conn *c) {
  ock_node *n = c->node;
  ock_list_remove(&c->link);
  ock_wpool_free(&c->pool);
  ock_buf_free(&c->rbuf);
  ock_buf_free(&c->head);
  ock_buf_free(&c->tail);
  ock_buf_free(&c->cork);
  free(c);
  ock_node_handle_closed(n);
}

/* Drops one of the things c waits for (its handles, a cancelled lookup). */
static void conn_unref(ock_tcp_conn *c) {
  if (--c->open_handles == 0) conn_free(c);
}

static void on_handle_closed(uv_handle_t *h) { conn_unref(h->data); }
static void on_dial_released(ock_dial *d) { conn_unref(d->data); }

void ock_tcp_conn_close(ock_tcp_conn *c, int status) {
  if (c->state == ST_CLOSING) return;
  int was_open = c->state == ST_OPEN;
  if (was_open && c->cork.len && c->wq_bytes == 0) { /* as far as it goes, as if written when sent */
    uv_buf_t b = uv_buf_init((char *)c->cork.data, (unsigned)c->cork.len);
    uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  }
  c->cork.len = 0;
  c->state = ST_CLOSING;
  c->close_status = status;
  if (was_open) ock_router_remove(&c->node->router, &c->worker);
  if (was_open && !c->outgoing) c->st->accepted_open--;
  if (c->call) {
    ock_call_fail(c->call, status ? status : OCK_ECLOSED, "cannot connect to %s: %s", c->target,
                  ock_strerror(status ? status : OCK_ECLOSED));
    c->call = NULL;
  }
  if (c->hooks && c->hooks->on_close) c->hooks->on_close(c, c->owner, status);
  c->hooks = NULL;
  if (was_open) ock_node_origin_closed(c->node, &c->origin);
  wake_waiters(c);
  if (ock_dial_cancel(&c->dial, on_dial_released)) c->open_handles++; /* the lookup returns later */
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
  if (!uv_is_closing((uv_handle_t *)&c->timer)) uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  if (!uv_is_closing((uv_handle_t *)&c->wtimer)) uv_close((uv_handle_t *)&c->wtimer, on_handle_closed);
  if (!uv_is_closing((uv_handle_t *)&c->wake_check)) uv_close((uv_handle_t *)&c->wake_check, on_handle_closed);
  if (!uv_is_closing((uv_handle_t *)&c->wake_idle)) uv_close((uv_handle_t *)&c->wake_idle, on_handle_closed);
  if (!uv_is_closing((uv_handle_t *)&c->cork_check)) uv_close((uv_handle_t *)&c->cork_check, on_handle_closed);
  if (!uv_is_closing((uv_handle_t *)&c->cork_idle)) uv_close((uv_handle_t *)&c->cork_idle, on_handle_closed);
}

/* ---- writing ---- */

void ock_tcp_conn_wait_drain(ock_tcp_conn *c, ock_drain_waiter *w) {
  if (w->conn) return;
  w->conn = c;
  ock_list_insert_tail(&c->waiters, &w->link);
}

void ock_drain_waiter_cancel(ock_drain_waiter *w) {
  if (!w->conn) return;
  ock_list_remove(&w->link);
  w->conn = NULL;
}

/* Calls the waiters in `woken` once each; each may register again. They are
 * taken off first, so one that registers again waits for the next wake, and
 * one that a callback cancels before its turn leaves the list cleanly. */
static void call_waiters(ock_list *woken_head) {
  ock_list woken;
  ock_list_move(woken_head, &woken);
  while (!ock_list_empty(&woken)) {
    ock_drain_waiter *w = OCK_LIST_ENTRY(ock_list_first(&woken), ock_drain_waiter, link);
    ock_list_remove(&w->link);
    w->conn = NULL;
    w->cb(w);
  }
}

/* The connection closes: everyone waiting is told at once. */
static void wake_waiters(ock_tcp_conn *c) {
  ock_list all;
  ock_list_move(&c->waiters, &all);
  call_waiters(&all);
}

/* At most this many waiters per wake. Each woken portal may read a chunk in
 * the next poll; hundreds of them at once would overshoot the queue limit
 * (and pay hundreds of epoll changes) for a connection that can take a few. */
#define WAKE_BATCH 16

/* Only there so that poll does not block while a batch is due. */
static void on_wake_idle(uv_idle_t *h) { (void)h; }

/* Wakes the oldest WAKE_BATCH waiters. If more wait, the next batch is woken
 * after the loop's next poll (on_wake_check), once this batch had its reads:
 * an idle batch must not leave the others waiting for a write that never
 * comes, and a busy one refills the queue first. */
static void wake_batch(ock_tcp_conn *c) {
  ock_list batch;
  ock_list_init(&batch);
  for (int i = 0; i < WAKE_BATCH && !ock_list_empty(&c->waiters); i++) {
    ock_list *e = ock_list_first(&c->waiters);
    ock_list_remove(e);
    ock_list_insert_tail(&batch, e);
  }
  call_waiters(&batch);
  if (c->state == ST_CLOSING) return;
  if (ock_list_empty(&c->waiters)) {
    uv_check_stop(&c->wake_check);
    uv_idle_stop(&c->wake_idle);
  } else {
    uv_check_start(&c->wake_check, on_wake_check);
    uv_idle_start(&c->wake_idle, on_wake_idle);
  }
}

static void on_wake_check(uv_check_t *h) {
  ock_tcp_conn *c = h->data;
  if (c->wq_bytes < OCK_TCP_LOW_WATER) {
    wake_batch(c);
    return;
  }
  /* the woken batch filled the queue again: on_write wakes the next one */
  uv_check_stop(&c->wake_check);
  uv_idle_stop(&c->wake_idle);
}

/* Nothing queued got written for frame_timeout_ms: the peer does not read. */
static void on_write_stall(uv_timer_t *t) {
  ock_tcp_conn *c = t->data;
  OCK_WARN("connection %s to %s: peer read nothing for %ld ms (%zu bytes queued), closing", c->addr, c->peer,
           c->node->limits.frame_timeout_ms, c->wq_bytes);
  ock_tcp_conn_close(c, UV_ETIMEDOUT);
}

/* The stall clock runs while bytes are queued and restarts on every write done. */
static void arm_write_timer(ock_tcp_conn *c) {
  if (c->state == ST_CLOSING) return;
  if (c->wq_bytes == 0)
    uv_timer_stop(&c->wtimer);
  else
    uv_timer_start(&c->wtimer, on_write_stall, (uint64_t)c->node->limits.frame_timeout_ms, 0);
}

static void on_write(uv_write_t *req, int status) {
  ock_wreq *w = (ock_wreq *)req;
  ock_tcp_conn *c = w->owner;
  c->wq_bytes -= w->buf.len;
  ock_wpool_put(&c->pool, w);
  if (status == 0) arm_write_timer(c);
  if (!ock_list_empty(&c->waiters) && c->wq_bytes < OCK_TCP_LOW_WATER) wake_batch(c);
  if (status < 0 && c->state != ST_CLOSING) {
    OCK_INFO("connection %s to %s: write failed: %s", c->addr, c->peer, uv_strerror(status));
    ock_tcp_conn_close(c, status);
  }
}

/* len more bytes are on their way to the kernel: the stall clock starts
 * with the first of them. */
static void count_queued(ock_tcp_conn *c, size_t len) {
  if (c->wq_bytes == 0) {
    c->wq_bytes = len;
    arm_write_timer(c);
  } else {
    c->wq_bytes += len;
  }
  c->bytes_out += len;
}

/* This connection drained: let the origin go on reading. */
static void resume_origin(ock_drain_waiter *w) {
  paused *p = (paused *)w;
  ock_tcp_conn *c = p->dest;
  ock_list_remove(&p->link);
  ock_addr a = {OCK_TT_LOCAL, p->origin, OCK_HEX_ADDR_LEN};
  ock_tcp_conn *o = ock_tcp_conn_by_address(c->node, a);
  if (o) ock_tcp_conn_unhold(o);
  free(p);
}

/* Frames from another connection (through a relay) come faster than this
 * peer reads: hold that connection until this one drains, as portals do,
 * instead of queueing without bound. */
static void pause_origin(ock_tcp_conn *c, const ock_origin *from) {
  ock_tcp_conn *o = ock_tcp_conn_of(from);
  if (!o || o == c) return;
  OCK_LIST_FOREACH(pos, &c->paused) {
    if (!strcmp(OCK_LIST_ENTRY(pos, paused, link)->origin, o->addr)) return;
  }
  paused *p = calloc(1, sizeof *p);
  if (!p) return; /* max_write_queue still bounds it */
  memcpy(p->origin, o->addr, sizeof p->origin);
  p->dest = c;
  p->waiter.cb = resume_origin;
  ock_list_insert_head(&c->paused, &p->link);
  ock_tcp_conn_hold(o);
  ock_tcp_conn_wait_drain(c, &p->waiter);
}

/* Hands parts to the kernel (what it does not take at once is queued) and
 * keeps the counters. Returns 0, or closes c and returns the error. */
static int write_parts(ock_tcp_conn *c, const uv_buf_t *parts, unsigned n, size_t total) {
  size_t written;
  int rc = ock_wpool_send(&c->pool, (uv_stream_t *)&c->tcp, parts, n, c->wq_bytes == 0, on_write, c, &written);
  c->bytes_out += written;
  if (rc) {
    ock_tcp_conn_close(c, rc);
    return rc;
  }
  if (written < total) count_queued(c, total - written);
  return 0;
}

/* Only there so that poll does not block while frames are corked. */
static void on_cork_idle(uv_idle_t *h) { (void)h; }

static void uncork(ock_tcp_conn *c) {
  uv_check_stop(&c->cork_check);
  uv_idle_stop(&c->cork_idle);
  c->cork.len = 0;
}

/* The end of the turn (after poll's callbacks): the corked frames leave. */
static void on_cork_check(uv_check_t *h) {
  ock_tcp_conn *c = h->data;
  uv_buf_t b = uv_buf_init((char *)c->cork.data, (unsigned)c->cork.len);
  size_t total = c->cork.len;
  uncork(c); /* write_parts copies what it queues: the buffer is free again */
  if (total && c->state == ST_OPEN) write_parts(c, &b, 1, total);
}

/* Appends parts to the cork; the first one starts the flush at the turn's end. */
static int cork(ock_tcp_conn *c, const uv_buf_t *parts, unsigned n) {
  if (!c->cork.len) {
    uv_check_start(&c->cork_check, on_cork_check);
    uv_idle_start(&c->cork_idle, on_cork_idle);
  }
  for (unsigned i = 0; i < n; i++)
    if (ock_buf_append(&c->cork, parts[i].base, parts[i].len)) return OCK_ENOMEM;
  return 0;
}

/* A frame of total bytes in parts[0..3): corked while it is small and
 * nothing is queued (queued bytes must leave first), else written at once
 * behind the cork. */
static int send_frame(ock_tcp_conn *c, const uv_buf_t *parts, size_t total) {
  if (c->wq_bytes == 0 && c->cork.len + total <= CORK_MAX) {
    int rc = cork(c, parts, 3);
    if (rc) ock_tcp_conn_close(c, rc);
    return rc;
  }
  if (!c->cork.len) return write_parts(c, parts, 3, total);
  uv_buf_t all[4] = {uv_buf_init((char *)c->cork.data, (unsigned)c->cork.len), parts[0], parts[1], parts[2]};
  size_t n = c->cork.len;
  int rc = write_parts(c, all, 4, n + total); /* copies what it queues: the cork is free again */
  if (c->state != ST_CLOSING) uncork(c);
  return rc;
}

/* The version byte leaves with the first frames (spec 3.1). */
static void write_preamble(ock_tcp_conn *c) {
  uv_buf_t b = uv_buf_init("\x01", 1);
  if (cork(c, &b, 1)) ock_tcp_conn_close(c, OCK_ENOMEM);
}

/* The sender worker: pop our address, frame the rest, write it (spec 3.3).
 * When nothing is queued the frame goes straight to the kernel from where
 * the payload lies; only what the socket does not take at once is copied. */
static void sender_handle(ock_worker *worker, ock_msg *m, const ock_origin *from) {
  ock_tcp_conn *c = worker->ctx;
  if (c->state != ST_OPEN) return;
  ock_route_pop_front(&m->onward);
  int rc = ock_frame_parts(&c->head, &c->tail, m);
  if (rc) {
    OCK_WARN("connection %s: cannot send a message of %zu bytes: %s", c->addr, m->payload_len, ock_strerror(rc));
    return;
  }
  uv_buf_t parts[3] = {uv_buf_init((char *)c->head.data, (unsigned)c->head.len),
                       uv_buf_init((char *)m->payload, (unsigned)m->payload_len),
                       uv_buf_init((char *)c->tail.data, (unsigned)c->tail.len)};
  size_t total = c->head.len + m->payload_len + c->tail.len;
  if (c->wq_bytes + total > (uint64_t)c->node->limits.max_write_queue) {
    OCK_WARN("connection %s to %s: peer is not reading (%zu bytes queued, limit %ld), closing", c->addr, c->peer,
             c->wq_bytes, c->node->limits.max_write_queue);
    ock_tcp_conn_close(c, OCK_ETOOBIG);
    return;
  }
  if (send_frame(c, parts, total)) return;
  if (from && c->wq_bytes > OCK_TCP_HIGH_WATER && c->state == ST_OPEN) pause_origin(c, from);
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void arm_frame_timer(ock_tcp_conn *c, int progress);

void ock_tcp_conn_hold(ock_tcp_conn *c) {
  if (c->holds++ == 0 && c->state == ST_OPEN) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    /* we stopped reading, not the peer: the clock on a partial frame stops too */
    uv_timer_stop(&c->timer);
  }
}

void ock_tcp_conn_unhold(ock_tcp_conn *c) {
  if (c->holds > 0 && --c->holds == 0 && c->state == ST_OPEN) {
    int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (rc) {
      ock_tcp_conn_close(c, rc);
      return;
    }
    arm_frame_timer(c, 1); /* a partial frame gets a whole frame_timeout_ms again */
  }
}

/* Bytes still missing from a big frame whose header is in the buffer, else 0. */
static size_t big_frame_left(const ock_tcp_conn *c) {
  size_t at = c->got_preamble ? 0 : 1;
  if (c->rbuf.len < at + 4) return 0;
  const uint8_t *p = c->rbuf.data + at;
  size_t frame = 4 + ((size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3]);
  size_t have = c->rbuf.len - at;
  return frame > have && frame - have >= READ_CHUNK / 4 ? frame - have : 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)hint;
  ock_tcp_conn *c = h->data;
  /* A big frame gets room for exactly its rest (a 16 MiB frame must not grow
   * the buffer to 32 MiB) and is read up to its end and no further: the next
   * frame then starts at the front of the buffer instead of being moved there. */
  size_t left = big_frame_left(c);
  if (left ? ock_buf_reserve_exact(&c->rbuf, left) : ock_buf_reserve(&c->rbuf, READ_CHUNK)) {
    *buf = uv_buf_init(NULL, 0); /* libuv reports UV_ENOBUFS */
    return;
  }
  size_t room = c->rbuf.cap - c->rbuf.len;
  if (left && left < room) room = left;
  *buf = uv_buf_init((char *)c->rbuf.data + c->rbuf.len, (unsigned)room);
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* One whole frame body: decode, rewrite the return route, dispatch (spec 3.4). */
static int handle_frame(ock_tcp_conn *c, const uint8_t *body, size_t n) {
  ock_msg m;
  int rc = ock_msg_decode(body, n, &m);
  if (rc) {
    OCK_WARN("connection %s from %s: malformed frame of %zu bytes (%s), closing", c->addr, c->peer, n,
             rc == OCK_ETOOBIG ? "route too long" : "bad CBOR");
    return rc;
  }
  /* the return route gets this connection's address: it may arrive with one less */
  if (m.onward.n > c->node->limits.max_route_hops || m.ret.n >= c->node->limits.max_route_hops) {
    OCK_WARN("connection %s from %s: %s route of %d addresses, over max_route_hops (%ld, the return route "
             "with this connection's address), closing",
             c->addr, c->peer, m.onward.n > c->node->limits.max_route_hops ? "onward" : "return",
             (int)(m.onward.n > c->node->limits.max_route_hops ? m.onward.n : m.ret.n), c->node->limits.max_route_hops);
    return OCK_ETOOBIG;
  }
  if (m.onward.n == 0) return 0; /* a heartbeat */
  if (ock_route_push_front(&m.ret, OCK_TT_LOCAL, c->addr, OCK_HEX_ADDR_LEN)) {
    OCK_WARN("connection %s from %s: return route too long, closing", c->addr, c->peer);
    return OCK_ETOOBIG;
  }
  ock_node_dispatch(c->node, &m, &c->origin);
  return 0;
}

static void on_frame_timeout(uv_timer_t *t) {
  ock_tcp_conn *c = t->data;
  OCK_WARN("connection %s from %s: %s not complete within %ld ms, closing", c->addr, c->peer,
           c->got_preamble ? "frame" : "preamble", c->node->limits.frame_timeout_ms);
  ock_tcp_conn_close(c, UV_ETIMEDOUT);
}

/* A frame (or the preamble) once begun must end within frame_timeout_ms:
 * the clock restarts when a frame completes and stops when nothing is pending,
 * so a peer trickling bytes cannot hold a connection's buffer forever. */
static void arm_frame_timer(ock_tcp_conn *c, int progress) {
  if ((c->rbuf.len == 0 && c->got_preamble) || c->holds) {
    uv_timer_stop(&c->timer);
    return;
  }
  if (progress || !uv_is_active((uv_handle_t *)&c->timer))
    uv_timer_start(&c->timer, on_frame_timeout, (uint64_t)c->node->limits.frame_timeout_ms, 0);
}

/* Consumes every complete frame at the front of the read buffer. */
static int process_input(ock_tcp_conn *c) {
  uint8_t *p = c->rbuf.data;
  size_t len = c->rbuf.len, off = 0;
  int progress = 0;
  if (!c->got_preamble) {
    if (len < 1) return 0;
    if (p[0] != 0x01) {
      OCK_WARN("connection %s from %s: bad protocol version byte 0x%02x, closing", c->addr, c->peer, p[0]);
      return OCK_EPROTO;
    }
    c->got_preamble = 1;
    off = 1;
    progress = 1;
  }
  while (len - off >= 4) {
    uint32_t body = be32(p + off);
    if (body > (uint64_t)c->node->limits.max_frame) {
      OCK_WARN("connection %s from %s: frame of %u bytes is over the %ld byte limit, closing", c->addr,
               c->peer, body, c->node->limits.max_frame);
      return OCK_ETOOBIG;
    }
    if (len - off - 4 < body) break;
    int rc = handle_frame(c, p + off + 4, body);
    if (rc) return rc;
    if (c->state != ST_OPEN) return 0;
    off += 4 + (size_t)body;
    progress = 1;
  }
  ock_buf_consume(&c->rbuf, off);
  arm_frame_timer(c, progress);
  if (c->rbuf.cap > RBUF_SHRINK && c->rbuf.len < READ_CHUNK) ock_buf_shrink(&c->rbuf, RBUF_KEEP);
  return 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  ock_tcp_conn *c = s->data;
  if (c->state != ST_OPEN) return;
  if (nread < 0) {
    if (nread != UV_EOF) OCK_INFO("connection %s to %s: %s", c->addr, c->peer, uv_strerror((int)nread));
    ock_tcp_conn_close(c, nread == UV_EOF ? 0 : (int)nread);
    return;
  }
  c->rbuf.len += (size_t)nread;
  c->bytes_in += (uint64_t)nread;
  int rc = process_input(c);
  if (rc) ock_tcp_conn_close(c, rc);
}

/* ---- opening ---- */

static void set_peer(ock_tcp_conn *c) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0)
    ock_sockaddr_format((struct sockaddr *)&ss, c->peer, sizeof c->peer);
  else
    snprintf(c->peer, sizeof c->peer, "?:0");
}

static int become_open(ock_tcp_conn *c) {
  uv_tcp_nodelay(&c->tcp, 1);
  set_peer(c);
  int rc = ock_router_add(&c->node->router, &c->worker);
  if (rc) return rc;
  c->state = ST_OPEN;
  if (!c->outgoing) c->st->accepted_open++;
  arm_frame_timer(c, 1); /* the peer's preamble is due at once (spec 3.1) */
  write_preamble(c);
  if (c->state != ST_OPEN) return 0;
  rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc) return rc;
  if (c->call) {
    snprintf(c->call->text, sizeof c->call->text, "%s", c->addr);
    ock_call_finish(c->call, 0);
    c->call = NULL;
  }
  if (c->hooks && c->hooks->on_open) c->hooks->on_open(c, c->owner);
  return 0;
}

static void on_dialed(ock_dial *d, int status) {
  ock_tcp_conn *c = d->data; /* not closing: closing cancels the dial, and then it is silent */
  uv_timer_stop(&c->timer);
  if (status == 0) status = become_open(c);
  if (status) {
    OCK_INFO("node %s: cannot connect to %s: %s", c->node->name, c->target, ock_strerror(status));
    ock_tcp_conn_close(c, status);
  }
}

/* The caller of ock_tcp_connect gave up: the connection being opened closes. */
static void on_connect_cancel(ock_call *call, void *arg) {
  (void)call;
  ock_tcp_conn *c = arg;
  OCK_INFO("node %s: connecting to %s cancelled", c->node->name, c->target);
  ock_tcp_conn_close(c, OCK_ECANCELED);
}

static void on_connect_timeout(uv_timer_t *t) {
  ock_tcp_conn *c = t->data;
  OCK_INFO("node %s: connecting to %s timed out", c->node->name, c->target);
  ock_tcp_conn_close(c, UV_ETIMEDOUT);
}

ock_tcp_conn *ock_tcp_connect(ock_node *n, const char *hostport, int timeout_ms, ock_call *call,
                              const ock_tcp_conn_hooks *hooks, void *owner) {
  ock_tcp_conn *c = conn_new(n, 1);
  if (!c) {
    if (call) ock_call_fail(call, OCK_ENOMEM, "out of memory");
    return NULL;
  }
  snprintf(c->target, sizeof c->target, "%s", hostport);
  snprintf(c->peer, sizeof c->peer, "%s", hostport);
  c->call = call;
  if (call) ock_call_set_cancel(call, on_connect_cancel, c);
  c->hooks = hooks;
  c->owner = owner;
  uv_timer_start(&c->timer, on_connect_timeout, (uint64_t)timeout_ms, 0);
  c->dial.data = c;
  int rc = ock_dial_start(&c->dial, &c->tcp, hostport, on_dialed);
  if (rc == OCK_EINVAL) {
    if (c->call) ock_call_fail(c->call, OCK_EROUTE, "bad address '%s': expected host:port", hostport);
    c->call = NULL;
  }
  if (rc) ock_tcp_conn_close(c, rc);
  return c;
}

int ock_tcp_conn_accept(ock_node *n, uv_stream_t *server, void *arg) {
  (void)arg;
  ock_tcp_conn *c = conn_new(n, 0);
  if (!c) return OCK_ENOMEM;
  int rc = uv_accept(server, (uv_stream_t *)&c->tcp);
  if (!rc && c->st->accepted_open >= n->limits.max_connections) {
    OCK_WARN("node %s: %ld accepted connections open (the limit), refusing another", n->name, c->st->accepted_open);
    rc = OCK_ETOOBIG;
  }
  if (!rc) rc = become_open(c);
  if (rc) ock_tcp_conn_close(c, rc);
  return rc;
}

ock_tcp_conn *ock_tcp_conn_find(ock_node *n, const char *target, size_t len, const ock_tcp_conn_hooks *hooks) {
  for (ock_tcp_conn *c = ock_tcp_conn_first(n); c; c = ock_tcp_conn_next(c))
    if (c->outgoing && c->hooks == hooks && c->state != ST_CLOSING && strlen(c->target) == len &&
        memcmp(c->target, target, len) == 0)
      return c;
  return NULL;
}

/* The node closes: so does every connection (their owners hear of it).
 * Closing frees nothing before the handles' close callbacks, so each
 * connection stays linked while the loop moves past it. */
static void on_node_close(ock_node *n, void *state) {
  (void)n;
  tcp_state *st = state;
  OCK_LIST_FOREACH(pos, &st->conns) ock_tcp_conn_close(OCK_LIST_ENTRY(pos, ock_tcp_conn, link), OCK_ECLOSED);
}

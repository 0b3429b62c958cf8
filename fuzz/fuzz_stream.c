/* The whole inbound TCP byte stream (spec 3.1-3.4): the input is every byte a
 * peer sends to a node's listener, preamble included, over a real loopback
 * connection. The node (echo, uppercase, hop, the relay services and an
 * outlet "outlet" whose target is a TCP echo server of this target's own)
 * lives on the process's loop, which this target runs itself on the fuzzing
 * thread (the libuv loop of loop.c, initialised here without its thread:
 * nothing else runs it, so this thread is the loop thread). Per input:
 * connect, feed the bytes in a few chunks (so frames are split across reads,
 * as on a real network) while reading the node's replies, half-close, then
 * wait until the node has closed and freed the connection. A connection the
 * node never closes after EOF is reported as a hang; anything it leaks shows
 * in LeakSanitizer; a relay registered over the connection must be gone when
 * it closes (spec 5.5, relay_service.c); every frame the node sends must
 * decode (spec 2.2).
 *
 * Portals live (spec 6.3-6.5, 6.8): a Ping to "outlet" makes the outlet dial
 * the echo server on this same loop, answer Pong and carry Payloads both
 * ways. The outlet's portal connection has a random address the peer learns
 * only from the Pong's return route, as a real peer does; so the harness
 * plays that part: each run of 32 'b' in the input (S_out of the spec 6.3
 * example) is, when it is about to be sent, replaced by the address of the
 * latest Pong, after the loop has settled (the dial and the Pong done).
 * After the node closed, its portal connections, their sockets and the echo
 * server's side of them must all be gone (the loop holds no handle). */
#include "fuzz.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/rand.h"
#include "codec/message.h"
#include "codec/portal_msg.h"
#include "runtime/loop.h"
#include "node/node.h"
#include "portal/portal_outlet.h"
#include "transport/tcp_conn.h"
#include "services/relay_service.h"
#include "services/services.h"

#define OUTLET "outlet"  /* the outlet's worker address, as the seeds know it */
#define S_OUT_LEN OCK_HEX_ADDR_LEN
#define MAX_SETTLES 8    /* per input: each costs a millisecond or more */

static ock_node *node;
static struct sockaddr_in listen_sa;
static double deadline;

static int show_log; /* OCK_FUZZ_LOG=1: print the node's log (to see an input's story) */

static void sink(int level, const char *line) {
  (void)level;
  CHECK(strlen(line) < 512);
  if (show_log) fprintf(stderr, "%s\n", line);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  ock_log_set_sink(sink, OCK_LOG_DEBUG);
  show_log = getenv("OCK_FUZZ_LOG") != NULL;
  CHECK(uv_loop_init(ock_loop()) == 0);
  return 0;
}

/* ---- the outlet's target: a TCP echo server on this loop ---- */

typedef struct {
  uv_tcp_t tcp;
  uv_shutdown_t sreq;
} echo_conn;

typedef struct {
  uv_write_t req;
  uint8_t data[];
} echo_write;

static uv_tcp_t echo_listener;
static char echo_target[32]; /* "127.0.0.1:PORT" */
static int echo_open;        /* accepted connections not yet closed */

static void echo_closed(uv_handle_t *h) {
  echo_open--;
  free(h->data);
}

static void echo_close(echo_conn *c) {
  if (!uv_is_closing((uv_handle_t *)&c->tcp)) uv_close((uv_handle_t *)&c->tcp, echo_closed);
}

/* Each read is copied into its write, so one buffer serves every read. */
static void echo_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  static char buf[65536];
  (void)h, (void)hint;
  *b = uv_buf_init(buf, sizeof buf);
}

static void echo_written(uv_write_t *req, int status) {
  echo_conn *c = req->handle->data;
  free(req);
  if (status < 0) echo_close(c);
}

static void echo_shut(uv_shutdown_t *req, int status) {
  (void)status;
  echo_close(req->handle->data);
}

/* Echoes what it reads; at EOF flushes, shuts its write side down and closes. */
static void echo_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
  echo_conn *c = s->data;
  if (n == UV_EOF) {
    uv_read_stop(s);
    if (uv_shutdown(&c->sreq, s, echo_shut)) echo_close(c);
    return;
  }
  if (n < 0) {
    echo_close(c);
    return;
  }
  if (n == 0) return;
  echo_write *w = malloc(sizeof *w + (size_t)n);
  CHECK(w != NULL);
  memcpy(w->data, b->base, (size_t)n);
  uv_buf_t out = uv_buf_init((char *)w->data, (unsigned)n);
  if (uv_write(&w->req, s, &out, 1, echo_written)) {
    free(w);
    echo_close(c);
  }
}

static void echo_accept(uv_stream_t *server, int status) {
  if (status < 0) return;
  echo_conn *c = calloc(1, sizeof *c);
  CHECK(c != NULL);
  CHECK(uv_tcp_init(ock_loop(), &c->tcp) == 0);
  c->tcp.data = c;
  echo_open++;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) || uv_read_start((uv_stream_t *)&c->tcp, echo_alloc, echo_read))
    echo_close(c);
}

static void echo_up(void) {
  struct sockaddr_in sa;
  int len = sizeof sa;
  CHECK(uv_ip4_addr("127.0.0.1", 0, &sa) == 0);
  CHECK(uv_tcp_init(ock_loop(), &echo_listener) == 0);
  CHECK(uv_tcp_bind(&echo_listener, (struct sockaddr *)&sa, 0) == 0);
  CHECK(uv_listen((uv_stream_t *)&echo_listener, 128, echo_accept) == 0);
  CHECK(uv_tcp_getsockname(&echo_listener, (struct sockaddr *)&sa, &len) == 0);
  snprintf(echo_target, sizeof echo_target, "127.0.0.1:%d", ntohs(sa.sin_port));
}

/* ---- the node ---- */

/* A fresh node per input: relays, connections, portals and workers never
 * carry over, so every crash replays from its input alone. */
static void node_up(void) {
  char err[256];
  int rc = ock_node_create("fuzz_stream", "127.0.0.1:0", &node, err, sizeof err);
  if (rc) fprintf(stderr, "fuzz_stream: %s\n", err);
  CHECK(rc == 0);
  CHECK(ock_services_start_default(node) == 0);
  CHECK(ock_service_start(node, "hop", NULL) == 0);
  echo_up();
  rc = ock_outlet_create(node, echo_target, OUTLET, NULL, 0, err, sizeof err);
  if (rc) fprintf(stderr, "fuzz_stream: %s\n", err);
  CHECK(rc == 0);
  /* small enough that inputs reach them: a relay flood, an echo flood, a Ping flood */
  CHECK(ock_limits_set(&node->limits, "max_relays", 8) == 0);
  CHECK(ock_limits_set(&node->limits, "max_relays_per_connection", 4) == 0);
  CHECK(ock_limits_set(&node->limits, "max_write_queue", 64 * 1024) == 0);
  CHECK(ock_limits_set(&node->limits, "max_portal_connections", 8) == 0);
  const char *colon = strrchr(ock_node_listen_address(node), ':'); /* "127.0.0.1:PORT" */
  CHECK(colon != NULL);
  memset(&listen_sa, 0, sizeof listen_sa);
  listen_sa.sin_family = AF_INET;
  listen_sa.sin_port = htons((uint16_t)atoi(colon + 1));
  listen_sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The loop's work so far, without waiting. */
static void run(void) { uv_run(ock_loop(), UV_RUN_NOWAIT); }

/* Waits up to ms for the loop's backend fd or the client socket (fd < 0:
 * the loop only). libuv adds new watchers (a listener, a connection's reads)
 * to epoll only inside uv_run: callers run() before they wait. Returns
 * poll's count: 0 when nothing became ready. */
static int wait_io(int fd, int ms) {
  struct pollfd p[2] = {{uv_backend_fd(ock_loop()), POLLIN, 0}, {fd, POLLIN, 0}};
  return poll(p, fd >= 0 ? 2 : 1, ms);
}

/* ---- the peer's side: what the node sends, parsed as a peer would ---- */

static struct {
  ock_buf rx;              /* bytes received and not yet parsed */
  int preamble;            /* the node's preamble byte came */
  char s_out[S_OUT_LEN];   /* the latest Pong's return address */
  int have_s_out;
} peer;

/* One frame from the node: it must decode (the node writes only what it can
 * read), and a Pong (spec 6.3 step 3: return route [S_out], or [hop, S_out]
 * when the Ping came through hop) names the outlet's portal connection. */
static void peer_frame(const uint8_t *p, size_t n) {
  ock_msg m;
  int rc = ock_msg_decode(p, n, &m);
  if (rc) fprintf(stderr, "fuzz_stream: the node sent a frame it cannot decode (%d), %zu bytes\n", rc, n);
  CHECK(rc == 0);
  fuzz_check_route(&m.onward);
  fuzz_check_route(&m.ret);
  if (show_log && m.payload_len)
    fprintf(stderr, "fuzz_stream: the peer got a message of %zu bytes starting %02x\n", m.payload_len, m.payload[0]);
  if (m.payload_len == 0 || m.payload[0] != OCK_PORTAL_PONG || m.ret.n == 0) return;
  ock_addr a = ock_route_at(&m.ret, m.ret.n - 1); /* through hop: [hop, S_out] */
  if (a.tt != OCK_TT_LOCAL || a.len != S_OUT_LEN) return;
  memcpy(peer.s_out, a.p, S_OUT_LEN);
  peer.have_s_out = 1;
}

/* The preamble (spec 3.1), then whole frames: u32 big-endian length, body. */
static void peer_parse(void) {
  size_t at = 0;
  if (!peer.preamble && peer.rx.len) {
    CHECK(peer.rx.data[0] == 0x01);
    peer.preamble = 1;
    at = 1;
  }
  while (peer.rx.len - at >= 4) {
    const uint8_t *h = peer.rx.data + at;
    uint32_t len = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
    CHECK(len <= OCK_FRAME_MAX);
    if (peer.rx.len - at - 4 < len) break;
    peer_frame(h + 4, len);
    at += 4 + (size_t)len;
  }
  ock_buf_consume(&peer.rx, at);
}

/* Reads what the node sent; returns 1 once the node closed its side. */
static int drain(int fd) {
  uint8_t buf[65536];
  for (;;) {
    ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (k > 0) {
      CHECK(ock_buf_append(&peer.rx, buf, (size_t)k) == 0);
      peer_parse();
      continue;
    }
    if (k == 0) return 1;
    return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  }
}

/* Lets the node finish what the bytes sent so far started (a Ping's dial to
 * the echo server, the Pong back to us): runs the loop until neither it nor
 * the client socket has had anything to do for 1 ms. Bounded, because a
 * node echoing to itself is always busy. */
static void settle(int fd, int *closed) {
  for (int i = 0; i < 50; i++) {
    run();
    if (!*closed) *closed = drain(fd);
    if (wait_io(*closed ? -1 : fd, 1) == 0) return;
  }
}

static const char S_OUT_MARK[S_OUT_LEN + 1] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/* The first marker in in[from..size), or NULL. */
static uint8_t *find_mark(uint8_t *in, size_t size, size_t from) {
  return from < size ? memmem(in + from, size - from, S_OUT_MARK, S_OUT_LEN) : NULL;
}

/* How much of in[off..size) to send next: about `want`, and never past the
 * start of a marker, so that every marker is replaced just before it goes
 * out. A marker at off is replaced now, once the loop settled. */
static size_t next_chunk(uint8_t *in, size_t size, size_t off, size_t want, int fd, int *closed, int *settles) {
  uint8_t *mark = find_mark(in, size, off);
  if (mark == in + off) {
    if ((*settles)++ < MAX_SETTLES) settle(fd, closed);
    if (peer.have_s_out)
      memcpy(mark, peer.s_out, S_OUT_LEN);
    else
      mark[0] = 'B'; /* no Pong came: sent as it is, and not waited for again */
    if (want < S_OUT_LEN) want = S_OUT_LEN;
    mark = find_mark(in, size, off + S_OUT_LEN);
  }
  if (mark && (size_t)(mark - in) - off < want) want = (size_t)(mark - in) - off;
  return want;
}

/* ---- per input ---- */

/* Every relay left has an empty route: a relay registered over the connection
 * has it as its first hop (the connection pushed itself on the return route),
 * and such relays go when the connection closes. */
static void check_relays_unbound(void) {
  ock_buf b;
  ock_buf_init(&b);
  ock_relay_service_list(node, &b);
  for (size_t i = 0; i < b.len; i++)
    if (b.data[i] == '\n' && (i == 0 || b.data[i - 1] != ' ')) {
      fprintf(stderr, "fuzz_stream: relay outlived its connection:\n%.*s", (int)b.len, (const char *)b.data);
      CHECK(0);
    }
  ock_buf_free(&b);
}

/* Closing the node closes the outlet and its portal connections; their
 * sockets' closing makes the echo server close its side. Until all of that
 * has happened the loop is alive. */
static void node_down(void) {
  ock_node_close(node, NULL);
  node = NULL;
  uv_close((uv_handle_t *)&echo_listener, NULL);
  for (run(); uv_loop_alive(ock_loop()); run()) {
    if (now() >= deadline) {
      fprintf(stderr, "fuzz_stream: loop still alive after the node closed (%d echo connections open)\n", echo_open);
      uv_print_all_handles(ock_loop(), stderr);
      CHECK(0);
    }
    wait_io(-1, 10);
  }
  CHECK(echo_open == 0);
}

static int connect_peer(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  CHECK(fd >= 0);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int rc = connect(fd, (struct sockaddr *)&listen_sa, sizeof listen_sa);
  CHECK(rc == 0 || errno == EINPROGRESS);
  for (run(); !ock_tcp_conn_first(node); run()) { /* the node accepts */
    CHECK(now() < deadline);
    wait_io(-1, 10);
  }
  return fd;
}

/* Sends in[] in chunks whose sizes come from the input itself, so a crash
 * replays the same way; returns 1 when the node closed its side meanwhile. */
static int feed(int fd, uint8_t *in, size_t size) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < size; i++) h = (h ^ in[i]) * 16777619u;
  size_t off = 0;
  int closed = 0, settles = 0;
  while (off < size && !closed) {
    size_t chunk = next_chunk(in, size, off, h & 1 ? size - off : 1 + h % 64, fd, &closed, &settles);
    h = h * 1103515245u + 12345u;
    if (chunk > size - off) chunk = size - off;
    ssize_t k = send(fd, in + off, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) break; /* the node closed on us */
      k = 0;
    }
    off += (size_t)k;
    run(); /* loopback delivers at once: the node reads the chunk now */
    if (!closed) closed = drain(fd);
    if (!k) wait_io(fd, 10);
    CHECK(now() < deadline);
  }
  return closed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  deadline = now() + 10;
  node_up();
  ock_buf_init(&peer.rx);
  peer.preamble = peer.have_s_out = 0;
  uint8_t *in = malloc(size ? size : 1); /* markers are replaced in this copy */
  CHECK(in != NULL);
  if (size) memcpy(in, data, size);
  int fd = connect_peer();
  int closed = feed(fd, in, size);
  shutdown(fd, SHUT_WR);
  /* the node must close the connection after EOF (or earlier, on bad input) */
  for (run(); !closed || ock_tcp_conn_first(node); run()) {
    if (!closed && (closed = drain(fd))) continue;
    if (now() >= deadline) {
      fprintf(stderr, "fuzz_stream: connection still %s by the deadline (10 s from its start)\n",
              closed ? "allocated" : "open");
      CHECK(0);
    }
    wait_io(fd, 10);
  }
  close(fd);
  check_relays_unbound();
  node_down();
  free(in);
  ock_buf_free(&peer.rx);
  return 0;
}

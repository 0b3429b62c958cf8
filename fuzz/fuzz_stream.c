/* The whole inbound TCP byte stream (spec 3.1-3.4): the input is every byte a
 * peer sends to a node's listener, preamble included, over a real loopback
 * connection. The node (echo, uppercase, the relay services) lives on the
 * process's loop, which this target runs itself on the fuzzing thread (the
 * libuv loop of loop.c, initialised here without its thread: nothing else
 * runs it, so this thread is the loop thread). Per input: connect, feed the
 * bytes in a few chunks (so frames are split across reads, as on a real
 * network) while reading and discarding the node's replies, half-close, then
 * wait until the node has closed and freed the connection. A connection the
 * node never closes after EOF is reported as a hang; anything it leaks shows
 * in LeakSanitizer; a relay registered over the connection must be gone when
 * it closes (spec 5.5, relay_service.c). */
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
#include "runtime/loop.h"
#include "node/node.h"
#include "transport/tcp_conn.h"
#include "services/relay_service.h"
#include "services/services.h"

static ock_node *node;
static struct sockaddr_in listen_sa;
static double deadline;

static void sink(int level, const char *line) {
  (void)level;
  CHECK(strlen(line) < 512);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  ock_log_set_sink(sink, OCK_LOG_DEBUG);
  CHECK(uv_loop_init(ock_loop()) == 0);
  return 0;
}

/* A fresh node per input: relays, connections and workers never carry over,
 * so every crash replays from its input alone. */
static void node_up(void) {
  char err[256];
  int rc = ock_node_create("fuzz_stream", "127.0.0.1:0", &node, err, sizeof err);
  if (rc) fprintf(stderr, "fuzz_stream: %s\n", err);
  CHECK(rc == 0);
  CHECK(ock_services_start_default(node) == 0);
  CHECK(ock_service_start(node, "hop", NULL) == 0);
  /* small enough that inputs reach them: a relay flood, an echo flood */
  CHECK(ock_limits_set(&node->limits, "max_relays", 8) == 0);
  CHECK(ock_limits_set(&node->limits, "max_relays_per_connection", 4) == 0);
  CHECK(ock_limits_set(&node->limits, "max_write_queue", 64 * 1024) == 0);
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

/* Waits up to ms for the loop's backend fd or the client socket. libuv adds
 * new watchers (a listener, a connection's reads) to epoll only inside
 * uv_run: callers run() before they wait. */
static void wait_io(int fd, int ms) {
  struct pollfd p[2] = {{uv_backend_fd(ock_loop()), POLLIN, 0}, {fd, POLLIN, 0}};
  poll(p, fd >= 0 ? 2 : 1, ms);
}

/* Reads what the node sent; returns 1 once the node closed its side. */
static int drain(int fd) {
  char buf[65536];
  for (;;) {
    ssize_t k = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (k > 0) continue;
    if (k == 0) return 1;
    return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
  }
}

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

static void node_down(void) {
  ock_node_close(node, NULL);
  node = NULL;
  for (run(); uv_loop_alive(ock_loop()); run()) {
    CHECK(now() < deadline);
    wait_io(-1, 10);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  deadline = now() + 10;
  node_up();
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

  /* chunk sizes from the input itself, so a crash replays the same way */
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 16777619u;
  size_t off = 0;
  int closed = 0;
  while (off < size && !closed) {
    size_t chunk = h & 1 ? size - off : 1 + h % 64;
    h = h * 1103515245u + 12345u;
    if (chunk > size - off) chunk = size - off;
    ssize_t k = send(fd, data + off, chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) break; /* the node closed on us */
      k = 0;
    }
    off += (size_t)k;
    run(); /* loopback delivers at once: the node reads the chunk now */
    closed = drain(fd);
    if (!k) wait_io(fd, 10);
    CHECK(now() < deadline);
  }
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
  return 0;
}

/* Load generator and echo target of the bench, in C so that the endpoints cost
 * little next to the paths measured (a Python ping-pong adds ~10 us per round
 * trip; a Python accept loop tops out near 4k connections/s on one core).
 * Built by bench/__main__.py with `cc -O2`; bench/loadgen.py is the fallback.
 *
 *   netload echo PORT ONCE_PORT SIZE
 *       echo server on PORT; on ONCE_PORT it reads SIZE bytes, writes them
 *       back and closes (the server closes first: no TIME_WAIT on clients).
 *       Prints READY.
 *   netload pingpong PORT COUNT WARMUP SIZE
 *       COUNT round trips of SIZE bytes after WARMUP; prints JSON (us).
 *   netload connrate PORT SECONDS CONCURRENCY SIZE
 *       connect, send SIZE bytes, read them back until EOF, close; CONCURRENCY
 *       at a time for SECONDS; prints JSON.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXFD 65536
#define BUFSZ (256 * 1024)

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void raise_nofile(void) {
  struct rlimit r;
  if (getrlimit(RLIMIT_NOFILE, &r) == 0) {
    r.rlim_cur = r.rlim_max > MAXFD ? MAXFD : r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

static struct sockaddr_in loopback(int port) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

static void nonblock(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

static void nodelay(int fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(const double *v, size_t n, double p) {
  if (!n) return 0;
  size_t k = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
  return v[k < n ? k : n - 1];
}

/* ---- echo server ---------------------------------------------------------- */

enum { FREE, LISTEN_ECHO, LISTEN_ONCE, ECHO, ONCE };

typedef struct {
  int kind;
  size_t have;   /* ONCE: bytes received */
  char *out;     /* ECHO: bytes not yet written back */
  size_t outlen, outoff;
  char small[256];
} econn;

static econn *conns;

static int listen_on(int ep, int port, int kind) {
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in a = loopback(port);
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 4096)) {
    perror("bind/listen");
    exit(1);
  }
  nonblock(fd);
  conns[fd].kind = kind;
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  return fd;
}

static void eclose(int ep, int fd) {
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  free(conns[fd].out);
  memset(&conns[fd], 0, sizeof conns[fd]);
  close(fd);
}

static int serve_echo(int port, int once_port, size_t size) {
  static char buf[BUFSZ];
  conns = calloc(MAXFD, sizeof *conns);
  if (size > sizeof conns[0].small) size = sizeof conns[0].small;
  int ep = epoll_create1(0);
  listen_on(ep, port, LISTEN_ECHO);
  if (once_port) listen_on(ep, once_port, LISTEN_ONCE);
  printf("READY\n");
  fflush(stdout);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      econn *c = &conns[fd];
      if (c->kind == LISTEN_ECHO || c->kind == LISTEN_ONCE) {
        for (int k = 0; k < 64; k++) {
          int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK);
          if (cfd < 0) break;
          if (cfd >= MAXFD) {
            close(cfd);
            continue;
          }
          nodelay(cfd);
          conns[cfd].kind = c->kind == LISTEN_ECHO ? ECHO : ONCE;
          struct epoll_event ev = {.events = EPOLLIN, .data.fd = cfd};
          epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev);
        }
        continue;
      }
      if (c->kind == ONCE) {
        ssize_t r = read(fd, c->small + c->have, sizeof c->small - c->have);
        if (r <= 0) {
          if (r < 0 && errno == EAGAIN) continue;
          eclose(ep, fd);
          continue;
        }
        c->have += (size_t)r;
        if (c->have >= size || c->have == sizeof c->small) {
          if (write(fd, c->small, c->have) < 0) { /* the client went away: nothing to do */
          }
          eclose(ep, fd);
        }
        continue;
      }
      /* ECHO */
      if (c->out) {
        ssize_t w = write(fd, c->out + c->outoff, c->outlen - c->outoff);
        if (w < 0 && errno != EAGAIN) {
          eclose(ep, fd);
          continue;
        }
        if (w > 0) c->outoff += (size_t)w;
        if (c->outoff == c->outlen) {
          free(c->out);
          c->out = NULL;
          struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
          epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
        }
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) {
        if (r < 0 && errno == EAGAIN) continue;
        eclose(ep, fd);
        continue;
      }
      ssize_t w = write(fd, buf, (size_t)r);
      if (w < 0) {
        if (errno != EAGAIN) {
          eclose(ep, fd);
          continue;
        }
        w = 0;
      }
      if (w < r) {
        c->outlen = (size_t)(r - w);
        c->outoff = 0;
        c->out = malloc(c->outlen);
        memcpy(c->out, buf + w, c->outlen);
        struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
      }
    }
  }
  return 0;
}

/* ---- ping-pong ------------------------------------------------------------ */

static int pingpong(int port, int count, int warmup, size_t size) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = loopback(port);
  if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
    perror("connect");
    return 1;
  }
  nodelay(fd);
  char *msg = malloc(size), *in = malloc(size);
  for (size_t i = 0; i < size; i++) msg[i] = (char)i;
  double *rtt = malloc(sizeof(double) * (size_t)count);
  struct timeval tv = {.tv_sec = 10};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (int i = 0; i < warmup + count; i++) {
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (write(fd, msg, size) != (ssize_t)size) {
      perror("write");
      return 1;
    }
    size_t got = 0;
    while (got < size) {
      ssize_t r = read(fd, in + got, size - got);
      if (r <= 0) {
        fprintf(stderr, "read: %s\n", r ? strerror(errno) : "connection closed");
        return 1;
      }
      got += (size_t)r;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (i >= warmup)
      rtt[i - warmup] = (double)(t1.tv_sec - t0.tv_sec) * 1e6 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e3;
  }
  if (memcmp(msg, in, size)) {
    fprintf(stderr, "echo mismatch\n");
    return 1;
  }
  close(fd);
  double sum = 0;
  for (int i = 0; i < count; i++) sum += rtt[i];
  qsort(rtt, (size_t)count, sizeof *rtt, cmp_double);
  printf("{\"count\": %d, \"size\": %zu, \"p50_us\": %.2f, \"p90_us\": %.2f, \"p99_us\": %.2f, \"min_us\": %.2f, "
         "\"max_us\": %.2f, \"mean_us\": %.2f, \"tool\": \"netload\"}\n",
         count, size, pct(rtt, (size_t)count, 50), pct(rtt, (size_t)count, 90), pct(rtt, (size_t)count, 99), rtt[0],
         rtt[count - 1], sum / count);
  return 0;
}

/* ---- connection rate ------------------------------------------------------ */

typedef struct {
  int state; /* 0 free, 1 connecting, 2 reading */
  double t0;
  size_t got;
} cconn;

static struct {
  cconn *cs;
  struct sockaddr_in addr;
  int ep, live;
  long done, e_connect, e_reset, e_short, e_timeout;
  size_t cap, nd;
  double *dur, t_last;
} cr;

static void cr_start(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0 || fd >= MAXFD) {
    if (fd >= 0) close(fd);
    cr.e_connect++;
    return;
  }
  nodelay(fd);
  if (connect(fd, (struct sockaddr *)&cr.addr, sizeof cr.addr) && errno != EINPROGRESS) {
    close(fd);
    cr.e_connect++;
    return;
  }
  cr.cs[fd] = (cconn){.state = 1, .t0 = now()};
  struct epoll_event ev = {.events = EPOLLOUT, .data.fd = fd};
  epoll_ctl(cr.ep, EPOLL_CTL_ADD, fd, &ev);
  cr.live++;
}

static void cr_finish(int fd, int ok) {
  epoll_ctl(cr.ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  if (ok) {
    double t = now();
    cr.done++;
    if (cr.nd == cr.cap) cr.dur = realloc(cr.dur, sizeof(double) * (cr.cap *= 2));
    cr.dur[cr.nd++] = t - cr.cs[fd].t0;
    cr.t_last = t;
  }
  cr.cs[fd].state = 0;
  cr.live--;
}

static int connrate(int port, double seconds, int concurrency, size_t size) {
  char *msg = malloc(size), buf[4096];
  memset(msg, 'x', size);
  cr.cs = calloc(MAXFD, sizeof *cr.cs);
  cr.addr = loopback(port);
  cr.ep = epoll_create1(0);
  cr.cap = 1 << 16;
  cr.dur = malloc(sizeof(double) * cr.cap);
  double t_start = now(), deadline = t_start + seconds, timeout = 5.0, last_sweep = t_start;
  cr.t_last = t_start;
  for (int i = 0; i < concurrency; i++) cr_start();
  struct epoll_event evs[256];
  while (cr.live > 0) {
    int n = epoll_wait(cr.ep, evs, 256, 100);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      cconn *c = &cr.cs[fd];
      if (c->state == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err || write(fd, msg, size) != (ssize_t)size) {
          cr.e_connect++;
          cr_finish(fd, 0);
        } else {
          c->state = 2;
          struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
          epoll_ctl(cr.ep, EPOLL_CTL_MOD, fd, &ev);
          continue;
        }
      } else {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r > 0) {
          c->got += (size_t)r;
          continue;
        }
        if (r < 0 && errno == EAGAIN) continue;
        if (r < 0) {
          cr.e_reset++;
          cr_finish(fd, 0);
        } else if (c->got < size) {
          cr.e_short++;
          cr_finish(fd, 0);
        } else {
          cr_finish(fd, 1);
        }
      }
      if (now() < deadline) cr_start();
    }
    double t = now();
    if (t - last_sweep > 0.1) {
      last_sweep = t;
      for (int fd = 0; fd < MAXFD; fd++)
        if (cr.cs[fd].state && t - cr.cs[fd].t0 > timeout) {
          cr.e_timeout++;
          cr_finish(fd, 0);
          if (t < deadline) cr_start();
        }
    }
  }
  double end = cr.t_last > deadline ? cr.t_last : (now() < deadline ? now() : deadline);
  double elapsed = end - t_start;
  double mean = 0;
  for (size_t i = 0; i < cr.nd; i++) mean += cr.dur[i] / (double)cr.nd;
  qsort(cr.dur, cr.nd, sizeof *cr.dur, cmp_double);
  printf("{\"connections\": %ld, \"seconds\": %.3f, \"per_second\": %.1f, \"errors\": {\"connect\": %ld, "
         "\"reset\": %ld, \"short\": %ld, \"timeout\": %ld}, \"concurrency\": %d, \"p50_ms\": %.3f, "
         "\"p90_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, \"mean_ms\": %.3f, \"tool\": \"netload\"}\n",
         cr.done, elapsed, elapsed > 0 ? (double)cr.done / elapsed : 0.0, cr.e_connect, cr.e_reset, cr.e_short,
         cr.e_timeout, concurrency, pct(cr.dur, cr.nd, 50) * 1e3, pct(cr.dur, cr.nd, 90) * 1e3,
         pct(cr.dur, cr.nd, 99) * 1e3, cr.nd ? cr.dur[cr.nd - 1] * 1e3 : 0.0, mean * 1e3);
  return 0;
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  raise_nofile();
  if (argc == 5 && !strcmp(argv[1], "echo")) return serve_echo(atoi(argv[2]), atoi(argv[3]), (size_t)atol(argv[4]));
  if (argc == 6 && !strcmp(argv[1], "pingpong"))
    return pingpong(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), (size_t)atol(argv[5]));
  if (argc == 6 && !strcmp(argv[1], "connrate"))
    return connrate(atoi(argv[2]), atof(argv[3]), atoi(argv[4]), (size_t)atol(argv[5]));
  fprintf(stderr, "usage: netload echo PORT ONCE_PORT SIZE | pingpong PORT COUNT WARMUP SIZE | "
                  "connrate PORT SECONDS CONCURRENCY SIZE\n");
  return 2;
}

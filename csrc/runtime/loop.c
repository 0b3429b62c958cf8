#include "runtime/loop.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

#include "base/err.h"
#include "base/log.h"
#include "runtime/deadline.h"

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int running;  /* thread started and not yet told to stop */
  int finished; /* thread function returned */
  ock_cmd *head, *tail;
  uv_loop_t loop;
  uv_async_t wake;
  pthread_t thread;
  ock_loop_stop_hook stop_hook;
  int stopping;
  int cv_ready;  /* cv is set up for monotonic waits */
  int abandoned; /* a stop timed out: that thread may still use loop */
} L = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

uv_loop_t *ock_loop(void) { return &L.loop; }
void ock_loop_set_stop_hook(ock_loop_stop_hook hook) { L.stop_hook = hook; }

static void close_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void drain(void) {
  for (;;) {
    pthread_mutex_lock(&L.mu);
    ock_cmd *c = L.head;
    L.head = L.tail = NULL;
    int stopping = L.stopping;
    pthread_mutex_unlock(&L.mu);
    if (!c && !stopping) return;
    while (c) {
      ock_cmd *next = c->next;
      c->run(c);
      c = next;
    }
    if (stopping) {
      if (L.stop_hook) L.stop_hook();
      uv_close((uv_handle_t *)&L.wake, NULL);
      return;
    }
  }
}

static void on_wake(uv_async_t *a) {
  (void)a;
  drain();
}

static void *thread_main(void *arg) {
  (void)arg;
  pthread_setname_np(pthread_self(), "ockam_py-loop"); /* for ps, gdb and /proc */
  uv_run(&L.loop, UV_RUN_DEFAULT);
  /* Anything a node forgot to close is closed here so the loop can end. */
  uv_walk(&L.loop, close_walk, NULL);
  uv_run(&L.loop, UV_RUN_DEFAULT);
  uv_loop_close(&L.loop);
  pthread_mutex_lock(&L.mu);
  L.finished = 1;
  pthread_cond_broadcast(&L.cv);
  pthread_mutex_unlock(&L.mu);
  return NULL;
}

/* The loop thread takes no signal: they are the embedder's (Python handles
 * them on its main thread), and a signal must not interrupt the loop's
 * system calls. The thread inherits the mask it is created with. */
static int start_thread(void) {
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rc = pthread_create(&L.thread, NULL, thread_main, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return rc;
}

int ock_loop_start(void) {
  pthread_mutex_lock(&L.mu);
  int rc = 0;
  if (!L.running && L.abandoned) {
    /* its thread may still run uv on L.loop: a second uv_loop_init would corrupt it */
    rc = OCK_EBUSY;
  } else if (!L.running) {
    if (!L.cv_ready) ock_cond_init_monotonic(&L.cv);
    L.cv_ready = 1;
    rc = uv_loop_init(&L.loop);
    if (!rc) rc = uv_async_init(&L.loop, &L.wake, on_wake);
    if (!rc) {
      L.finished = 0;
      L.stopping = 0;
      if (start_thread() != 0) rc = UV_EAGAIN;
    }
    if (!rc) L.running = 1;
  }
  pthread_mutex_unlock(&L.mu);
  return rc;
}

int ock_loop_submit(ock_cmd *c) {
  c->next = NULL;
  pthread_mutex_lock(&L.mu);
  if (!L.running || L.stopping) {
    pthread_mutex_unlock(&L.mu);
    return OCK_ECLOSED;
  }
  if (L.tail)
    L.tail->next = c;
  else
    L.head = c;
  L.tail = c;
  uv_async_send(&L.wake);
  pthread_mutex_unlock(&L.mu);
  return 0;
}

void ock_loop_stop(int timeout_ms) {
  pthread_mutex_lock(&L.mu);
  if (!L.running || L.stopping) {
    pthread_mutex_unlock(&L.mu);
    return;
  }
  L.stopping = 1;
  uv_async_send(&L.wake);
  struct timespec until;
  ock_deadline_after(&until, timeout_ms);
  int rc = 0;
  while (!L.finished && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&L.cv, &L.mu, &until);
  int finished = L.finished;
  L.running = 0;
  pthread_mutex_unlock(&L.mu);
  if (finished)
    pthread_join(L.thread, NULL);
  else {
    OCK_WARN("loop thread did not stop within %d ms; leaving it behind", timeout_ms);
    pthread_detach(L.thread);
    L.abandoned = 1;
  }
}

/* In the child, each handle's descriptor (listeners, connections, portal
 * sockets) is closed: held open here they would keep the parent's ports
 * bound and its peers from seeing a close. */
static void close_fd_walk(uv_handle_t *h, void *arg) {
  (void)arg;
  uv_os_fd_t fd;
  if (uv_fileno(h, &fd) == 0 && fd >= 0) close(fd);
}

/* The loop's own descriptors: epoll, and the wake-up eventfd (private fields
 * of uv_loop_t on Unix, stable in libuv 1.x). */
static void close_loop_fds(void) {
  uv_walk(&L.loop, close_fd_walk, NULL);
  int fds[] = {uv_backend_fd(&L.loop), L.loop.async_io_watcher.fd, L.loop.async_wfd, L.loop.signal_pipefd[0],
               L.loop.signal_pipefd[1]};
  for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
    if (fds[i] > 2) close(fds[i]);
}

void ock_loop_forget_after_fork(void) {
  if (L.running || L.abandoned) close_loop_fds();
  pthread_mutex_init(&L.mu, NULL);
  ock_cond_init_monotonic(&L.cv);
  L.cv_ready = 1;
  L.abandoned = 0; /* the child has no thread at all */
  L.running = 0;
  L.stopping = 0;
  L.head = L.tail = NULL;
  memset(&L.loop, 0, sizeof L.loop);
}

#include "runtime/call.h"

#include "runtime/deadline.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

ock_call *ock_call_new(void) {
  ock_call *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  atomic_init(&c->refs, 2);
  pthread_mutex_init(&c->mu, NULL);
  ock_cond_init_monotonic(&c->cv);
  ock_buf_init(&c->out);
  return c;
}

void ock_call_unref(ock_call *c) {
  if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
  pthread_mutex_destroy(&c->mu);
  pthread_cond_destroy(&c->cv);
  ock_buf_free(&c->out);
  free(c);
}

void ock_call_ref(ock_call *c) { atomic_fetch_add(&c->refs, 1); }

void ock_call_set_cancel(ock_call *c, ock_call_cancel_fn fn, void *arg) {
  c->cancel = fn;
  c->cancel_arg = arg;
}

void ock_call_cancel(ock_call *c) {
  pthread_mutex_lock(&c->mu);
  int done = c->done;
  pthread_mutex_unlock(&c->mu);
  /* The owner of a running call is alive: it finishes the call before it goes. */
  if (!done && c->cancel) c->cancel(c, c->cancel_arg);
}

void ock_call_finish(ock_call *c, int rc) {
  pthread_mutex_lock(&c->mu);
  int first = !c->done;
  if (first) {
    c->done = 1;
    c->rc = rc;
    pthread_cond_broadcast(&c->cv);
  }
  pthread_mutex_unlock(&c->mu);
  if (!first) return; /* someone finished it already and dropped the loop's reference */
  if (c->notify) c->notify(c, c->notify_arg);
  ock_call_unref(c);
}

void ock_call_fail(ock_call *c, int rc, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pthread_mutex_lock(&c->mu);
  if (!c->done) vsnprintf(c->err, sizeof c->err, fmt, ap);
  pthread_mutex_unlock(&c->mu);
  va_end(ap);
  ock_call_finish(c, rc);
}

int ock_call_wait(ock_call *c, int timeout_ms) {
  struct timespec until;
  ock_deadline_after(&until, timeout_ms);
  pthread_mutex_lock(&c->mu);
  int rc = 0;
  while (!c->done && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&c->cv, &c->mu, &until);
  int done = c->done;
  pthread_mutex_unlock(&c->mu);
  return done;
}

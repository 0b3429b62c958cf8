#include "runtime/events.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "runtime/deadline.h"

/* One queue, so that the embedder sees events in the order they happened, with
 * a bound per kind: log lines by count (a flood drops lines, never anything
 * else), messages for embedder workers by bytes (past the high-water mark
 * their senders are paused, see ock_events_backlogged; the hard limit only
 * guards against senders that cannot be paused), and completions and status
 * changes not at all (each is bounded by the calls and relays that exist). */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  ock_event *head, *tail;
  size_t logs;
  size_t message_bytes;
  int backlogged;            /* message_bytes passed OCK_EVENTS_MSG_HIGH and not yet back under LOW */
  ock_events_drain_fn drain; /* told when a backlog clears */
  uint64_t dropped_logs, dropped_messages;
  int interrupted;
} Q = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* The queue's cv waits on the monotonic clock, which only a call can set up. */
static pthread_once_t q_once = PTHREAD_ONCE_INIT;
static void q_init(void) { ock_cond_init_monotonic(&Q.cv); }

ock_event *ock_event_new(int type, const char *text) {
  ock_event *e = malloc(sizeof *e);
  if (!e) return NULL;
  e->type = type;
  e->level = 0;
  e->node_id = 0;
  e->token = 0;
  e->text = text ? strdup(text) : NULL;
  ock_buf_init(&e->payload);
  e->onward = e->ret = NULL;
  e->next = NULL;
  if (type == OCK_EV_MESSAGE) {
    e->onward = malloc(2 * sizeof(ock_route));
    if (!e->onward) {
      ock_event_free(e);
      return NULL;
    }
    e->ret = e->onward + 1;
    ock_route_init(e->onward);
    ock_route_init(e->ret);
  }
  return e;
}

void ock_event_free(ock_event *e) {
  if (!e) return;
  free(e->text);
  free(e->onward); /* ret shares the block */
  ock_buf_free(&e->payload);
  free(e);
}

/* Whether e fits; counts a refusal. Under Q.mu. */
static int admit(const ock_event *e) {
  if (e->type == OCK_EV_LOG && Q.logs >= OCK_EVENTS_MAX) {
    Q.dropped_logs++;
    return 0;
  }
  if (e->type == OCK_EV_MESSAGE && Q.message_bytes + e->payload.len > OCK_EVENTS_MSG_HARD) {
    Q.dropped_messages++;
    return 0;
  }
  return 1;
}

int ock_events_push(ock_event *e) {
  pthread_once(&q_once, q_init);
  pthread_mutex_lock(&Q.mu);
  if (!admit(e)) {
    pthread_mutex_unlock(&Q.mu);
    ock_event_free(e);
    return OCK_ETOOBIG;
  }
  if (e->type == OCK_EV_LOG) Q.logs++;
  if (e->type == OCK_EV_MESSAGE) {
    Q.message_bytes += e->payload.len;
    if (Q.message_bytes > OCK_EVENTS_MSG_HIGH) Q.backlogged = 1;
  }
  e->next = NULL;
  if (Q.tail)
    Q.tail->next = e;
  else
    Q.head = e;
  Q.tail = e;
  pthread_cond_signal(&Q.cv);
  pthread_mutex_unlock(&Q.mu);
  return 0;
}

int ock_events_backlogged(void) {
  pthread_mutex_lock(&Q.mu);
  int b = Q.backlogged;
  pthread_mutex_unlock(&Q.mu);
  return b;
}

void ock_events_set_drain_hook(ock_events_drain_fn fn) {
  pthread_mutex_lock(&Q.mu);
  Q.drain = fn;
  pthread_mutex_unlock(&Q.mu);
}

ock_event *ock_events_pop(int timeout_ms) {
  pthread_once(&q_once, q_init);
  struct timespec until;
  ock_deadline_after(&until, timeout_ms);
  pthread_mutex_lock(&Q.mu);
  int rc = 0;
  while (!Q.head && !Q.interrupted && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&Q.cv, &Q.mu, &until);
  ock_event *e = Q.head;
  ock_events_drain_fn drain = NULL;
  if (e) {
    Q.head = e->next;
    if (!Q.head) Q.tail = NULL;
    if (e->type == OCK_EV_LOG) Q.logs--;
    if (e->type == OCK_EV_MESSAGE) Q.message_bytes -= e->payload.len;
    if (Q.backlogged && Q.message_bytes < OCK_EVENTS_MSG_LOW) {
      Q.backlogged = 0;
      drain = Q.drain;
    }
  }
  Q.interrupted = 0;
  pthread_mutex_unlock(&Q.mu);
  if (drain) drain(); /* outside the lock: it may queue work for the loop */
  return e;
}

void ock_events_dropped(uint64_t *logs, uint64_t *messages) {
  pthread_mutex_lock(&Q.mu);
  *logs = Q.dropped_logs;
  *messages = Q.dropped_messages;
  pthread_mutex_unlock(&Q.mu);
}

void ock_events_forget_after_fork(void) {
  /* the parent's loop thread may have held the mutex at fork: a new one; its
   * events (and any half-linked list) are the parent's: left, not freed */
  pthread_mutex_init(&Q.mu, NULL);
  ock_cond_init_monotonic(&Q.cv);
  Q.head = Q.tail = NULL;
  Q.logs = Q.message_bytes = 0;
  Q.backlogged = 0;
  Q.interrupted = 0;
}

void ock_events_interrupt(void) {
  pthread_once(&q_once, q_init);
  pthread_mutex_lock(&Q.mu);
  Q.interrupted = 1;
  pthread_cond_broadcast(&Q.cv);
  pthread_mutex_unlock(&Q.mu);
}

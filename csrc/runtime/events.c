#include "runtime/events.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "runtime/deadline.h"

static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  ock_event *head, *tail;
  size_t count;
  uint64_t dropped;
  int interrupted;
} Q = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0};

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

int ock_events_push(ock_event *e) {
  pthread_once(&q_once, q_init);
  pthread_mutex_lock(&Q.mu);
  if (Q.count >= OCK_EVENTS_MAX) {
    Q.dropped++;
    pthread_mutex_unlock(&Q.mu);
    ock_event_free(e);
    return OCK_ETOOBIG;
  }
  e->next = NULL;
  if (Q.tail)
    Q.tail->next = e;
  else
    Q.head = e;
  Q.tail = e;
  Q.count++;
  pthread_cond_signal(&Q.cv);
  pthread_mutex_unlock(&Q.mu);
  return 0;
}

ock_event *ock_events_pop(int timeout_ms) {
  pthread_once(&q_once, q_init);
  struct timespec until;
  ock_deadline_after(&until, timeout_ms);
  pthread_mutex_lock(&Q.mu);
  int rc = 0;
  while (!Q.head && !Q.interrupted && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&Q.cv, &Q.mu, &until);
  ock_event *e = Q.head;
  if (e) {
    Q.head = e->next;
    if (!Q.head) Q.tail = NULL;
    Q.count--;
  }
  Q.interrupted = 0;
  pthread_mutex_unlock(&Q.mu);
  return e;
}

uint64_t ock_events_dropped(void) {
  pthread_mutex_lock(&Q.mu);
  uint64_t d = Q.dropped;
  pthread_mutex_unlock(&Q.mu);
  return d;
}

void ock_events_interrupt(void) {
  pthread_once(&q_once, q_init);
  pthread_mutex_lock(&Q.mu);
  Q.interrupted = 1;
  pthread_cond_broadcast(&Q.cv);
  pthread_mutex_unlock(&Q.mu);
}

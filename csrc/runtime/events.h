/* Events from the loop thread to the embedder (log lines, messages for
 * embedder-side workers, status changes, finished calls). The loop only
 * appends under a short mutex and never waits; the embedder drains the queue
 * from its own thread. Log lines are bounded by count (past it they are
 * dropped and counted); messages by bytes: past OCK_EVENTS_MSG_HIGH the
 * queue is backlogged and whoever feeds it should pause its senders until the
 * drain hook says it is back under OCK_EVENTS_MSG_LOW; completions and status
 * changes are never dropped. */
#ifndef OCK_EVENTS_H
#define OCK_EVENTS_H

#include <stdint.h>

#include "base/buf.h"
#include "codec/route.h"

enum { OCK_EV_LOG = 1, OCK_EV_MESSAGE = 2, OCK_EV_STATUS = 3, OCK_EV_CALL = 4 };

#define OCK_EVENTS_MAX 20000 /* log lines waiting */
#define OCK_EVENTS_MSG_HIGH (16u * 1024 * 1024)
#define OCK_EVENTS_MSG_LOW (4u * 1024 * 1024)
/* Messages past this are dropped: only senders that cannot be paused get here. */
#define OCK_EVENTS_MSG_HARD (256u * 1024 * 1024)

typedef struct ock_event ock_event;
struct ock_event {
  int type;
  int level;          /* LOG: level; STATUS: a status code */
  uint32_t node_id;   /* MESSAGE, STATUS */
  uint64_t token;     /* CALL: the embedder's token for the finished call; level: its rc */
  char *text;         /* LOG: the line; MESSAGE: the worker's address; STATUS: object name;
                         CALL: the error detail, or the textual result */
  ock_buf payload;    /* MESSAGE */
  ock_route *onward;  /* MESSAGE only (NULL otherwise) */
  ock_route *ret;     /* MESSAGE only */
  ock_event *next;
};

/* Allocates an event with a copy of text (may be NULL); NULL when out of memory. */
ock_event *ock_event_new(int type, const char *text);
/* Frees an event (NULL is fine). */
void ock_event_free(ock_event *e);
/* Queues e (taking it); any thread. Returns 0, or OCK_ETOOBIG when e was
 * dropped (a log line past OCK_EVENTS_MAX, a message past OCK_EVENTS_MSG_HARD). */
int ock_events_push(ock_event *e);
/* 1 while messages waiting pass the high-water mark: pause their senders. */
int ock_events_backlogged(void);
/* Called (on the thread that pops) when a backlog clears; NULL: nobody. */
typedef void (*ock_events_drain_fn)(void);
void ock_events_set_drain_hook(ock_events_drain_fn fn);
/* Takes the oldest event, waiting up to timeout_ms. NULL when none came.
 * The caller frees it with ock_event_free. */
ock_event *ock_events_pop(int timeout_ms);
/* How many log lines and messages were dropped since the process started. */
void ock_events_dropped(uint64_t *logs, uint64_t *messages);
/* In a fork()ed child: an empty queue with a fresh mutex (the parent's
 * events are the parent's to handle). */
void ock_events_forget_after_fork(void);
/* Wakes every waiter of ock_events_pop (used at shutdown). */
void ock_events_interrupt(void);

#endif

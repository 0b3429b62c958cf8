/* Events from the loop thread to the embedder (log lines, messages for
 * embedder-side workers, status changes). The loop only appends under a short
 * mutex and never waits; the embedder drains the queue from its own thread.
 * The queue is bounded: past the bound, events are dropped and counted. */
#ifndef OCK_EVENTS_H
#define OCK_EVENTS_H

#include <stdint.h>

#include "base/buf.h"
#include "codec/route.h"

enum { OCK_EV_LOG = 1, OCK_EV_MESSAGE = 2, OCK_EV_STATUS = 3, OCK_EV_CALL = 4 };

#define OCK_EVENTS_MAX 20000

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

/* Allocates an event with a copy of text. */
ock_event *ock_event_new(int type, const char *text);
void ock_event_free(ock_event *e);
/* Queues e (taking it). Returns 0, or OCK_ETOOBIG when the queue is full and
 * e was dropped. */
int ock_events_push(ock_event *e);
/* Takes the oldest event, waiting up to timeout_ms. NULL when none came. */
ock_event *ock_events_pop(int timeout_ms);
uint64_t ock_events_dropped(void);
/* Wakes every waiter of ock_events_pop (used at shutdown). */
void ock_events_interrupt(void);

#endif

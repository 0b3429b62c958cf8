/* A completion slot: how a thread that asked the loop for something waits for
 * the answer. Refcounted, because the waiter may give up (timeout, Ctrl-C)
 * while the loop still holds it: each side drops its reference when done. */
#ifndef OCK_CALL_H
#define OCK_CALL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "base/buf.h"

typedef struct ock_call ock_call;
typedef void (*ock_call_notify)(ock_call *c, void *arg);
/* Stops what a call waits for (loop thread): the owner fails the call with
 * OCK_ECANCELED and lets go of everything it started for it. */
typedef void (*ock_call_cancel_fn)(ock_call *c, void *arg);

struct ock_call {
  atomic_int refs;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done;
  int rc;           /* 0 or an error code */
  char err[320];    /* detail for rc, one line */
  char text[320];   /* a textual result (an address) */
  uint64_t u64;     /* a numeric result (an id) */
  ock_buf out;      /* a bytes result (a reply payload) */
  ock_call_notify notify; /* optional: called (on the loop thread) when done */
  void *notify_arg;
  /* Loop thread only: set by whoever will finish the call (a request, a
   * connection being opened, a handshake), read by ock_call_cancel. */
  ock_call_cancel_fn cancel;
  void *cancel_arg;
};

/* A new call with two references: the waiter's and the loop's. */
ock_call *ock_call_new(void);
void ock_call_unref(ock_call *c);
/* One more reference (for a command that carries the call to the loop). */
void ock_call_ref(ock_call *c);
/* Loop thread: names what cancels c until it finishes. */
void ock_call_set_cancel(ock_call *c, ock_call_cancel_fn fn, void *arg);
/* Loop thread: cancels c if it is still running and cancellable (its owner
 * fails it with OCK_ECANCELED); a finished call is left alone. */
void ock_call_cancel(ock_call *c);
/* Completes the call (first completion wins) and drops the loop's reference. */
void ock_call_finish(ock_call *c, int rc);
void ock_call_fail(ock_call *c, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Waits up to timeout_ms. Returns 1 when done. */
int ock_call_wait(ock_call *c, int timeout_ms);

#endif

/* A liveness pinger (spec 5.5, 6.6): a worker at a random address that sends
 * a ping to the far node's `echo` along a route every interval, counts the
 * pings still unanswered and calls the link dead after `misses` of them. Any
 * message to the worker answers them all, as Ockam's sessions count it.
 * Relay clients and inlets each keep one, inside their own struct.
 * Everything here runs on the loop thread. */
#ifndef OCK_PINGER_H
#define OCK_PINGER_H

#include <stdint.h>
#include <uv.h>

#include "base/rand.h"
#include "codec/route.h"
#include "routing/node_core.h"

typedef struct ock_pinger ock_pinger;

typedef struct {
  int interval_ms;
  int misses; /* pings without an answer before the link is dead */
  /* 1: each ping is a fresh random CBOR u64 (as a relay's session sends);
   * 0: always the CBOR u64 1 (as an inlet's session sends) */
  int random_payload;
  const char *kind; /* the worker's kind (static) */
  /* Writes the route to the far node (the ping goes on to its "echo").
   * Nonzero: nothing to watch now; the unanswered count starts over. */
  int (*route)(ock_pinger *p, ock_route *out);
  /* `misses` pings went unanswered (the count starts over). The pinger goes
   * on unless the owner stops or closes it here. */
  void (*on_dead)(ock_pinger *p);
} ock_pinger_opts;

struct ock_pinger {
  ock_node *node;
  ock_pinger_opts o;
  void *data; /* the owner's */
  ock_worker worker;
  char addr[OCK_HEX_ADDR_LEN + 1];
  uv_timer_t timer;
  int outstanding; /* pings without an answer */
  void (*on_closed)(ock_pinger *p);
};

/* Readies p (memory the owner keeps, zeroed or not) on node n: registers its
 * worker and makes its timer, which counts as one of n's handles until
 * ock_pinger_close has run its course. Does not ping yet. Returns 0, or
 * ock_router_add's error: the worker is not registered (so no answer comes)
 * and p still needs ock_pinger_close. */
int ock_pinger_init(ock_pinger *p, ock_node *n, const ock_pinger_opts *o, void *data);
/* Starts (again) from no unanswered ping: the first ping goes one interval
 * from now. */
void ock_pinger_start(ock_pinger *p);
/* Stops pinging until the next start; late answers are still taken. */
void ock_pinger_stop(ock_pinger *p);
/* Removes the worker and closes the timer; closed(p) (may be NULL) runs once
 * it closed (from the loop, never inside this call), after which the pinger
 * no longer touches p: the owner may free it there. Then n's handle is
 * released. */
void ock_pinger_close(ock_pinger *p, void (*closed)(ock_pinger *p));

#endif

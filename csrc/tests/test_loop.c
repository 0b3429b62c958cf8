/* The loop thread's lifecycle (runtime/loop.c). */
#include <time.h>

#include "base/err.h"
#include "runtime/loop.h"
#include "test.h"

static void block_half_a_second(ock_cmd *c) {
  (void)c; /* static: nothing to free */
  struct timespec ts = {0, 500 * 1000 * 1000};
  nanosleep(&ts, NULL);
}

/* A stop that times out leaves its thread behind, still running the loop: a
 * start after it must be refused, not initialise that loop again under it.
 * (This test leaves the process's loop abandoned: it runs last.) */
void test_loop_restart_after_abandoned_stop_refused(void) {
  static ock_cmd blocker = {block_half_a_second, NULL}, refused = {block_half_a_second, NULL};
  CHECK_EQ(ock_loop_start(), 0);
  CHECK_EQ(ock_loop_submit(&blocker), 0);
  ock_loop_stop(50); /* the loop thread is busy for 500 ms: this gives up */
  CHECK_EQ(ock_loop_start(), OCK_EBUSY);
  CHECK_EQ(ock_loop_submit(&refused), OCK_ECLOSED);
}

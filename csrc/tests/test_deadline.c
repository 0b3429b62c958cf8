/* Timed waits (runtime/deadline.c) while the wall clock is set back. */
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "runtime/call.h"
#include "test.h"

static long wall_offset_s; /* added to CLOCK_REALTIME while a test sets it */

/* This binary's clock_gettime, which the core (linked into it) calls instead
 * of libc's: the kernel's clocks, with CLOCK_REALTIME moved by wall_offset_s,
 * as NTP or an administrator setting the clock would move it. */
int clock_gettime(clockid_t id, struct timespec *ts) {
  if (syscall(SYS_clock_gettime, id, ts) != 0) return -1;
  if (id == CLOCK_REALTIME) ts->tv_sec += wall_offset_s;
  return 0;
}

static double monotonic_ms(void) {
  struct timespec ts;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A wait for a reply lasts its timeout even when the wall clock reads an hour
 * earlier: a deadline taken from the wall clock and waited for on the
 * kernel's real-time clock would have passed before the wait began. */
void test_deadline_wait_ignores_wall_clock_set_back(void) {
  ock_call *c = ock_call_new();
  CHECK(c != NULL);
  if (!c) return;
  wall_offset_s = -3600;
  double t0 = monotonic_ms();
  int done = ock_call_wait(c, 300);
  double took = monotonic_ms() - t0;
  wall_offset_s = 0;
  CHECK(!done);
  CHECK(took >= 290);
  CHECK(took < 5000);
  ock_call_finish(c, 0); /* drops the loop's reference */
  ock_call_unref(c);
}

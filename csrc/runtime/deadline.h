/* Timed waits on the monotonic clock, so that a change of the wall clock
 * (NTP, an administrator) neither cuts a wait short nor stretches it. */
#ifndef OCK_DEADLINE_H
#define OCK_DEADLINE_H

#include <pthread.h>
#include <time.h>

/* Initialises cv so that pthread_cond_timedwait measures CLOCK_MONOTONIC. */
void ock_cond_init_monotonic(pthread_cond_t *cv);
/* The monotonic time timeout_ms (>= 0) from now, for pthread_cond_timedwait
 * on a cv made by ock_cond_init_monotonic. */
void ock_deadline_after(struct timespec *until, int timeout_ms);

#endif

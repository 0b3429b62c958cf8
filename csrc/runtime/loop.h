/* The one libuv loop of the process, on its own thread. Other threads reach it
 * only by submitting commands: a mutex-protected queue plus uv_async_send
 * (which coalesces wake-ups). Everything libuv happens on the loop thread. */
#ifndef OCK_LOOP_H
#define OCK_LOOP_H

#include <uv.h>

typedef struct ock_cmd ock_cmd;
struct ock_cmd {
  void (*run)(ock_cmd *c); /* runs on the loop thread; owns and frees c */
  ock_cmd *next;
};

/* Starts the loop thread if it is not running. Returns 0, a libuv error, or
 * OCK_EBUSY when an earlier stop timed out and left its thread behind. Any
 * thread but the loop's. */
int ock_loop_start(void);
/* Queues c for the loop thread (which then owns it). Returns OCK_ECLOSED when
 * the loop is stopped (c is then not run and still belongs to the caller).
 * Any thread. */
int ock_loop_submit(ock_cmd *c);
/* The loop, for initialising handles on the loop thread (its handles are for
 * the loop thread only). */
uv_loop_t *ock_loop(void);
/* Called on the loop thread when it is asked to stop: closes every node. */
typedef void (*ock_loop_stop_hook)(void);
/* Sets the stop hook (once, before the loop starts, from the thread that
 * starts it). */
void ock_loop_set_stop_hook(ock_loop_stop_hook hook);
/* Stops the loop: runs the stop hook, lets handles close, joins the thread.
 * Waits at most timeout_ms; past that the thread is left behind detached so
 * process exit never hangs. Safe to call when the loop never started. Any
 * thread but the loop's (it waits for that one). */
void ock_loop_stop(int timeout_ms);
/* In a fork()ed child: close the parent's loop's descriptors and forget the
 * loop (its thread does not exist in the child), so the child can start its
 * own. The parent's memory is left as it was: nothing may touch it. */
void ock_loop_forget_after_fork(void);

#endif

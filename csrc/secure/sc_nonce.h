/* The decryptor's replay window (secure_channel/nonce_tracker.rs): the
 * highest nonce accepted so far and a 64-bit map of the ones just below it.
 * A nonce up to 32 above the highest moves the window; one up to 32 below
 * it is accepted once. Anything else, and any repeat, is refused. */
#ifndef OCK_SECURE_SC_NONCE_H
#define OCK_SECURE_SC_NONCE_H

#include <stdint.h>

#define OCK_SC_WINDOW 32 /* KEY_RENEWAL_INTERVAL: the window is one key's worth */

typedef struct {
  uint64_t seen;    /* bit i: nonce (highest - i) was accepted */
  uint64_t highest; /* starts at 0 with nothing seen, so nonce 0 is accepted once */
} ock_sc_nonce_window;

/* An empty window: nothing seen yet. */
void ock_sc_nonce_window_init(ock_sc_nonce_window *w);
/* Whether `nonce` may be accepted; if so, *next is the window after it (the
 * caller commits it only once the message has decrypted). 0 or OCK_ENONCE. */
int ock_sc_nonce_window_check(const ock_sc_nonce_window *w, uint64_t nonce, ock_sc_nonce_window *next);

#endif

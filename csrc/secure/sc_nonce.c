#include "secure/sc_nonce.h"

#include "base/err.h"

void ock_sc_nonce_window_init(ock_sc_nonce_window *w) {
  w->seen = 0;
  w->highest = 0;
}

int ock_sc_nonce_window_check(const ock_sc_nonce_window *w, uint64_t nonce, ock_sc_nonce_window *next) {
  if (nonce > w->highest) {
    uint64_t shift = nonce - w->highest;
    if (shift > OCK_SC_WINDOW) return OCK_ENONCE; /* too far ahead */
    next->seen = (w->seen << shift) | 1;
    next->highest = nonce;
    return 0;
  }
  uint64_t behind = w->highest - nonce;
  if (behind > OCK_SC_WINDOW) return OCK_ENONCE; /* too old */
  uint64_t bit = (uint64_t)1 << behind;
  if (w->seen & bit) return OCK_ENONCE; /* a replay */
  next->seen = w->seen | bit;
  next->highest = w->highest;
  return 0;
}

/* Random worker addresses: 16 random bytes as 32 lowercase hex characters, as
 * Ockam's Address::random_local() makes them. */
#ifndef OCK_RAND_H
#define OCK_RAND_H

#include <stdint.h>

#define OCK_HEX_ADDR_LEN 32

/* Writes 32 hex characters and a NUL into out (33 bytes). */
void ock_rand_hex_addr(char out[OCK_HEX_ADDR_LEN + 1]);
/* 64 random bits (jitter, ids). */
uint64_t ock_rand_u64(void);
/* In a fork()ed child: drop the randomness drawn by the parent. */
void ock_rand_after_fork(void);

#endif

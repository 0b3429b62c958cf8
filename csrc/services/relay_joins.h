/* The pairs of connections relays joined (spec 5.4): a message that came in on
 * connection A and went through relay R into R's connection B lets B's frames
 * reach A (the replies) and A's frames reach B (what follows a portal's
 * handshake) for as long as R lives and both connections are open. Nothing
 * else lets a frame go from one connection straight into another. Addresses
 * are worker addresses (a connection's 32 hex). Loop thread only. */
#ifndef OCK_RELAY_JOINS_H
#define OCK_RELAY_JOINS_H

#include <stddef.h>

typedef struct ock_join ock_join;

typedef struct {
  ock_join **buckets;
  size_t nbuckets;
  size_t count;
} ock_joins;

/* An empty set. */
void ock_joins_init(ock_joins *j);
/* Frees every pair. */
void ock_joins_free(ock_joins *j);
/* Joins a and b both ways for owner (a relay). Addresses longer than 32
 * bytes are not connections: nothing is added. 0 or OCK_ENOMEM. */
int ock_joins_add(ock_joins *j, const char *a, const char *b, size_t blen, const void *owner);
/* 1 when a message from `from` may go to `to`. */
int ock_joins_has(const ock_joins *j, const char *from, const char *to);
/* Drops the pairs of an owner (a relay removed or re-registered elsewhere). */
void ock_joins_drop_owner(ock_joins *j, const void *owner);
/* Drops the pairs that name addr (its connection closed). */
void ock_joins_drop_address(ock_joins *j, const char *addr);

#endif

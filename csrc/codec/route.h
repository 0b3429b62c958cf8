/* Addresses and routes (spec 1.1, 1.2). A route is a fixed-size value: up to
 * OCK_ROUTE_MAX_HOPS addresses packed in one array, so routing a message never
 * allocates. An address is (transport type, bytes); its text form is "tt#bytes". */
#ifndef OCK_ROUTE_H
#define OCK_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#define OCK_TT_LOCAL 0
#define OCK_TT_TCP 1
#define OCK_TT_UDP 2

#define OCK_ROUTE_MAX_HOPS 32
#define OCK_ROUTE_MAX_BYTES 2048
#define OCK_ADDR_MAX_LEN 512

typedef struct {
  uint8_t tt;
  const char *p; /* not NUL-terminated */
  size_t len;
} ock_addr;

typedef struct {
  uint8_t n;
  uint8_t tt[OCK_ROUTE_MAX_HOPS];
  uint16_t off[OCK_ROUTE_MAX_HOPS + 1]; /* address i is data[off[i]..off[i+1]) */
  char data[OCK_ROUTE_MAX_BYTES];
} ock_route;

/* An empty route. */
void ock_route_init(ock_route *r);
/* Address i (0 = next hop). i must be < r->n. */
ock_addr ock_route_at(const ock_route *r, size_t i);
/* These return 0 or OCK_ETOOBIG when the route would exceed its limits. */
int ock_route_push_back(ock_route *r, uint8_t tt, const void *p, size_t len);
int ock_route_push_front(ock_route *r, uint8_t tt, const void *p, size_t len);
int ock_route_append(ock_route *r, const ock_route *tail);
/* Prepends all of head in order. */
int ock_route_prepend(ock_route *r, const ock_route *head);
/* Replaces address i. */
int ock_route_set(ock_route *r, size_t i, uint8_t tt, const void *p, size_t len);
/* Remove the first (last) address; nothing when empty. */
void ock_route_pop_front(ock_route *r);
void ock_route_pop_back(ock_route *r);
/* 1 when a is the address (tt, p, len). */
int ock_addr_eq(ock_addr a, uint8_t tt, const char *p, size_t len);
int ock_addr_is(ock_addr a, const char *local_name); /* LOCAL with that name */

/* Parses one address "tt#bytes" or "bytes" (LOCAL). Returns 0 or OCK_EROUTE. */
int ock_addr_parse(const char *s, size_t n, uint8_t *tt, const char **p, size_t *len);
/* Writes "0#a => 1#b" (NUL-terminated, truncated to cap). */
void ock_route_format(const ock_route *r, char *out, size_t cap);

#endif

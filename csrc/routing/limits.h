/* Limits a node enforces on its peers, each with a default and settable by
 * name. Hitting one logs a line and closes only the offending connection (or
 * refuses the one registration or portal connection). */
#ifndef OCK_LIMITS_H
#define OCK_LIMITS_H

#include "base/buf.h"

typedef struct {
  long max_connections;           /* accepted connections open at once, per listener */
  long max_frame;                 /* bytes in one frame body (Ockam: 16 MiB) */
  long frame_timeout_ms;          /* to finish the preamble or a frame once begun */
  long max_route_hops;            /* addresses in an onward route as received, and in a return
                                   * route once the receiving connection added its own (so a
                                   * received return route has at most max_route_hops - 1) */
  long max_write_queue;           /* bytes queued for a peer that does not read */
  long max_relays;                /* relays registered at this node */
  long max_relays_per_connection;
  long max_portal_connections;    /* open at once, per inlet or outlet */
  long udp_reassembly_timeout_ms; /* for a UDP message cut in datagrams to arrive whole */
  long udp_datagrams_per_ms;      /* a UDP bind's send pace (transport/udp.c says why) */
} ock_limits;

/* Sets every limit to its default. */
void ock_limits_default(ock_limits *l);
/* Sets limit `name` to value (> 0). Returns 0 or OCK_EINVAL (unknown name or bad value). */
int ock_limits_set(ock_limits *l, const char *name, long value);
/* Appends "name value\n" for each limit. */
void ock_limits_list(const ock_limits *l, ock_buf *out);

#endif

/* Ockam's UDP transport (docs/udp.md): a bind is a UDP socket of a node and a
 * sender worker at a random 32-hex address. A message routed to that worker
 * loses the address, then the next hop must be a UDP address (tt 2,
 * "IP:port"): it is popped too and the rest goes to that peer, CBOR-encoded
 * and cut into datagrams (codec/udp_msg.h), a few per loop turn. Datagrams
 * read are put back together per peer and routing number (udp_reasm.h); a
 * whole message gets [worker, 2#peer] pushed on its return route, as Ockam's
 * receiver does, and is dispatched from the bind's origin (like a listener's:
 * OCK_FC_LISTENER, transport "udp"). Best effort: a lost datagram loses its
 * message. A bind belongs to its node and closes with it. Loop thread only. */
#ifndef OCK_UDP_H
#define OCK_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "codec/route.h"
#include "routing/node_core.h"

typedef struct ock_udp_bind ock_udp_bind;

/* What a bind counted: whole messages, datagrams, and messages dropped. */
typedef struct {
  uint64_t sent, received;                 /* messages */
  uint64_t datagrams_out, datagrams_in;
  uint64_t dropped_incomplete;             /* a datagram missing, out of order, expired, evicted */
  uint64_t dropped_too_large;              /* over max_frame, or over the reassembly memory */
  uint64_t dropped_malformed;              /* a datagram or message that does not decode */
  uint64_t dropped_send;                   /* not sent: bad peer, queue over max_write_queue, socket error */
} ock_udp_counters;

/* Binds a UDP socket of n at "IP:port" (port 0: any). On error returns a code
 * with a reason in err. The bind counts as handles of n. */
int ock_udp_bind_open(ock_node *n, const char *hostport, ock_udp_bind **out, char *err, size_t errcap);
/* Closes the bind (idempotent): what it queued is dropped. */
void ock_udp_bind_close(ock_udp_bind *b);
/* The node's binds, oldest first (NULL after the last). */
ock_udp_bind *ock_udp_bind_first(ock_node *n);
ock_udp_bind *ock_udp_bind_next(const ock_udp_bind *b);
/* The bind whose worker is at a (a LOCAL address), or NULL. */
ock_udp_bind *ock_udp_bind_by_address(ock_node *n, ock_addr a);
/* The worker address (32 hex) and the bound "IP:port", owned by the bind. */
const char *ock_udp_bind_address(const ock_udp_bind *b);
const char *ock_udp_bind_local(const ock_udp_bind *b);
void ock_udp_bind_counters(const ock_udp_bind *b, ock_udp_counters *out);

#endif

/* Ockam's UDP wire format (ockam_transport_udp 0.72, Ockam 0.139): a routing
 * message, CBOR-encoded exactly as the TCP body (UdpRoutingMessage: onward
 * route, return route, payload, ?tracing), is cut into datagrams, each one CBOR
 * UdpTransportMessage [version, routing_number, offset, is_last, payload].
 * docs/udp.md has the byte layout. The decoder returns views into the datagram. */
#ifndef OCK_UDP_MSG_H
#define OCK_UDP_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "codec/message.h"

#define OCK_UDP_VERSION 1
/* RFC 1122: 576-byte IP packets always pass, leaving 508 bytes for a datagram. */
#define OCK_UDP_MAX_WIRE 508
/* The largest payload whose datagram stays within OCK_UDP_MAX_WIRE whatever the
 * other fields hold (1 + 2 + 3 + 5 + 1 + 3 bytes of CBOR around it). */
#define OCK_UDP_MAX_PAYLOAD 493

typedef struct {
  unsigned version;
  uint16_t routing_number;
  uint32_t offset;
  int is_last;
  const uint8_t *payload; /* a view into the datagram */
  size_t payload_len;
} ock_udp_part;

/* Decodes one datagram. Returns 0, or OCK_EPROTO for anything that is not a
 * well-formed UdpTransportMessage (fields out of range included); the version
 * is not checked here. */
int ock_udp_part_decode(const uint8_t *p, size_t n, ock_udp_part *out);
/* Appends one datagram (b is reset first). 0 or OCK_ENOMEM. */
int ock_udp_part_encode(ock_buf *b, const ock_udp_part *part);
/* Writes m's UdpRoutingMessage body (no length prefix) into b (reset first).
 * 0, OCK_ENOMEM or OCK_ETOOBIG (over OCK_FRAME_MAX). */
int ock_udp_routing_encode(ock_buf *b, const ock_msg *m);
/* The datagrams a body of `len` bytes takes (a 0-byte body still takes one). */
size_t ock_udp_part_count(size_t len);

#endif

/* The route forms users type (spec 1.3): multiaddrs such as
 * /worker/<hex>/service/echo, /ip4/A/tcp/P, /dnsaddr/H/tcp/P, /node/NAME, and
 * Ockam's own route text "0#a => 1#b". TCP hops become TCP-typed addresses
 * "host:port" that the node resolves to a connection when it sends. */
#ifndef OCK_MULTIADDR_H
#define OCK_MULTIADDR_H

#include <stddef.h>

#include "codec/route.h"

/* Finds a node of this process by name and writes its listener "host:port".
 * Returns 0, OCK_ENONODE, or OCK_ENOENT when the node has no listener. */
typedef int (*ock_node_lookup_fn)(void *ctx, const char *name, size_t len, char *out, size_t cap);

/* Parses a multiaddr (starting with '/') or route text into out. On error
 * returns OCK_EROUTE or OCK_ENONODE and writes a one-line reason into err. */
int ock_route_parse_text(const char *s, ock_route *out, ock_node_lookup_fn lookup, void *ctx,
                         char *err, size_t errcap);
/* Writes a route as a multiaddr: /worker/<hex> for 32-hex local addresses,
 * /service/<name> for other local ones, /ip4|/ip6|/dnsaddr for TCP ones. */
void ock_route_format_multiaddr(const ock_route *r, char *out, size_t cap);
#endif

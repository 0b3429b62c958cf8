/* A TCP listener of a node: binds, listens and hands each incoming
 * connection to an accept function (Ockam connections, portal inlets). */
#ifndef OCK_TCP_LISTENER_H
#define OCK_TCP_LISTENER_H

#include <stddef.h>
#include <uv.h>

#include "routing/node_core.h"

typedef struct ock_tcp_listener ock_tcp_listener;

/* Called by a listener for each incoming connection: must uv_accept it. */
typedef int (*ock_accept_fn)(ock_node *n, uv_stream_t *server, void *arg);

/* Binds and listens on "host:port" (port 0: any), handing connections to
 * accept. The bound address is in ock_tcp_listener_address. On error returns
 * a code with a reason in err. The listener counts as one handle of n. */
int ock_tcp_listen(ock_node *n, const char *hostport, ock_accept_fn accept, void *arg, ock_tcp_listener **out,
                   char *err, size_t errcap);
/* The bound "host:port" ("[v6]:port" for IPv6). */
const char *ock_tcp_listener_address(const ock_tcp_listener *l);
/* Stops listening; the memory goes in the close callback. */
void ock_tcp_listener_close(ock_tcp_listener *l);

#endif

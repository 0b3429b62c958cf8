/* TCP outlets (spec 6.3): a worker that answers portal Pings by connecting
 * to its target. Loop thread only. */
#ifndef OCK_PORTAL_OUTLET_H
#define OCK_PORTAL_OUTLET_H

#include <stddef.h>

#include "base/buf.h"
#include "routing/node_core.h"

/* Starts an outlet at worker address addr to target ("host:port"). With
 * allow_n > 0 only those identifiers (copied), through secure channels, may
 * open portal connections; anyone else gets Disconnect and a log line. On
 * error returns a code (OCK_EINVAL, OCK_EEXIST) with a reason in err. */
int ock_outlet_create(ock_node *n, const char *target, const char *addr,
                      const unsigned char (*allow)[OCK_ORIGIN_ID_LEN], size_t allow_n, char *err, size_t errcap);
/* Closes the outlet at addr and its connections: 0 or OCK_ENOENT. */
int ock_outlet_close(ock_node *n, const char *addr);
/* Appends "outlet <address> <target> <open> <total> <bytes_out> <bytes_in>\n" per outlet. */
void ock_outlet_list(ock_node *n, ock_buf *out);

#endif

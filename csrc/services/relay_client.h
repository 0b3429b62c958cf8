/* A relay this node keeps registered at a relay node (spec 5.2, 5.3, 5.5): the
 * client side of services/relay_service.h. Loop thread. */
#ifndef OCK_RELAY_CLIENT_H
#define OCK_RELAY_CLIENT_H

#include "base/buf.h"
#include "codec/route.h"
#include "routing/node_core.h"

enum { OCK_RELAY_CONNECTING = 0, OCK_RELAY_UP = 1, OCK_RELAY_DOWN = 2, OCK_RELAY_CLOSED = 3 };

typedef struct {
  int ping_interval_ms;    /* liveness pings to the relay node's echo */
  int ping_misses;         /* unanswered pings before the link is called dead */
  int connect_timeout_ms;
  int register_timeout_ms; /* from connected to the registration's reply */
  int backoff_min_ms;      /* first retry delay; doubles per failure... */
  int backoff_max_ms;      /* ...up to this, with +-25% jitter */
  uint64_t serial;         /* the caller's name for this relay: its status events carry it (token),
                            * so that a relay made again under the same name never hears the old one's */
} ock_relay_opts;

/* The defaults: pings every 1 s, 3 misses, 5 s to connect and to register, retries 0.1 s to 1.5 s, serial 0. */
void ock_relay_opts_default(ock_relay_opts *o);
/* Creates relay `name` registered at `at`, a route whose TCP hop (if any) is
 * the relay node: the client opens its own connection there. Status changes
 * are OCK_EV_STATUS events (node id, name, status, detail in the payload).
 * Returns 0, OCK_EEXIST (a relay of that name exists) or OCK_EROUTE. */
int ock_relay_create(ock_node *n, const char *name, const ock_route *at, const ock_relay_opts *o, char *err,
                     size_t errcap);
/* Closes relay `name`: OCK_ENOENT when there is none. */
int ock_relay_close(ock_node *n, const char *name);
/* Appends one line per relay: "name status remote_address attempts main_remote\n". */
void ock_relay_list(ock_node *n, ock_buf *out);

#endif

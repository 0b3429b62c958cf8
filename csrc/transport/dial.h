/* Dialing "host:port": IP literals connect at once, names go through
 * uv_getaddrinfo first. Used by Ockam connections and portal outlets alike.
 * An ock_dial lives inside its owner's struct and is used on the loop thread;
 * the sockaddr helpers are pure (any thread). */
#ifndef OCK_DIAL_H
#define OCK_DIAL_H

#include <stddef.h>
#include <uv.h>

typedef struct ock_dial ock_dial;
typedef void (*ock_dial_cb)(ock_dial *d, int status);

struct ock_dial {
  uv_getaddrinfo_t gai;
  uv_connect_t creq;
  uv_tcp_t *tcp;
  ock_dial_cb cb;
  void (*released)(ock_dial *d); /* given to ock_dial_cancel */
  void *data;                    /* the owner's */
  int resolving; /* a lookup is in flight: the dial must outlive it */
  int cancelled;
};

/* Starts connecting tcp (already initialised) to hostport; cb runs once with 0
 * or an error, unless the dial is cancelled first. Returns 0, or an error
 * (OCK_EINVAL for a malformed address) and then cb does not run. */
int ock_dial_start(ock_dial *d, uv_tcp_t *tcp, const char *hostport, ock_dial_cb cb);
/* Stops a dial: cb does not run after this. The owner closes the tcp handle
 * (that ends a pending connect). Returns 0 when nothing of the dial is left
 * in flight, or 1 when a name lookup is: it cannot be recalled, so d (and
 * the owner around it) must stay allocated until released(d) runs, once,
 * from the loop. A dial never started (zeroed) or cancelled before returns 0. */
int ock_dial_cancel(ock_dial *d, void (*released)(ock_dial *d));
/* Parses "IP:PORT" (or "localhost:PORT") into ss; port 0 only with
 * allow_port0 (binding any port). Returns 0 or OCK_EINVAL. */
int ock_sockaddr_parse(const char *hostport, struct sockaddr_storage *ss, int allow_port0);

/* Writes sa as "IP:PORT" or "[IPv6]:PORT" ("?:0" for another family). */
void ock_sockaddr_format(const struct sockaddr *sa, char *out, size_t cap);

#endif

/* "host:port" text, as TCP addresses travel in routes (spec 1.2):
 * "127.0.0.1:4000", "[::1]:4000", "example.com:4000". */
#ifndef OCK_HOSTPORT_H
#define OCK_HOSTPORT_H

#include <stddef.h>

/* Room for a host (a DNS name is at most 253 bytes) and its NUL. */
#define OCK_HOST_CAP 256
/* Room for "host:port" or "[v6]:port" and its NUL. */
#define OCK_HOSTPORT_CAP 300

/* Parses 1-5 decimal digits into *port; 1 when it is a port (1..65535). */
int ock_port_parse(const char *p, size_t n, int *port);
/* Parses "host:port" or "[v6]:port"; host is copied NUL-terminated. */
int ock_hostport_split(const char *s, size_t n, char *host, size_t hostcap, int *port);
/* The same for a NUL-terminated string. */
int ock_hostport_split_str(const char *s, char *host, size_t hostcap, int *port);

#endif

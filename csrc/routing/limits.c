/* The limits of a node, by name so embedders can set any of them. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "routing/limits.h"

#include "base/err.h"
#include "codec/message.h"
#include "codec/route.h"

static const struct {
  const char *name;
  size_t offset;
  long max; /* what the code can honour */
} LIMITS[] = {
    {"max_connections", offsetof(ock_limits, max_connections), 1000000},
    {"max_frame", offsetof(ock_limits, max_frame), OCK_FRAME_MAX},
    {"frame_timeout_ms", offsetof(ock_limits, frame_timeout_ms), 3600000},
    {"max_route_hops", offsetof(ock_limits, max_route_hops), OCK_ROUTE_MAX_HOPS},
    {"max_write_queue", offsetof(ock_limits, max_write_queue), 1L << 40},
    {"max_relays", offsetof(ock_limits, max_relays), 1000000},
    {"max_relays_per_connection", offsetof(ock_limits, max_relays_per_connection), 1000000},
    {"max_portal_connections", offsetof(ock_limits, max_portal_connections), 1000000},
    {"udp_reassembly_timeout_ms", offsetof(ock_limits, udp_reassembly_timeout_ms), 3600000},
    {"udp_datagrams_per_ms", offsetof(ock_limits, udp_datagrams_per_ms), 1000000},
};

void ock_limits_default(ock_limits *l) {
  l->max_connections = 10000;
  l->max_frame = OCK_FRAME_MAX;
  l->frame_timeout_ms = 30000;
  l->max_route_hops = OCK_ROUTE_MAX_HOPS;
  l->max_write_queue = 64L * 1024 * 1024;
  l->max_relays = 4096;
  l->max_relays_per_connection = 64;
  l->max_portal_connections = 10000;
  l->udp_reassembly_timeout_ms = 5000;
  l->udp_datagrams_per_ms = 64;
}

int ock_limits_set(ock_limits *l, const char *name, long value) {
  for (size_t i = 0; i < sizeof LIMITS / sizeof LIMITS[0]; i++) {
    if (strcmp(LIMITS[i].name, name)) continue;
    if (value <= 0 || value > LIMITS[i].max) return OCK_EINVAL;
    *(long *)((char *)l + LIMITS[i].offset) = value;
    return 0;
  }
  return OCK_EINVAL;
}

void ock_limits_list(const ock_limits *l, ock_buf *out) {
  for (size_t i = 0; i < sizeof LIMITS / sizeof LIMITS[0]; i++) {
    char line[80];
    int k = snprintf(line, sizeof line, "%s %ld\n", LIMITS[i].name, *(const long *)((const char *)l + LIMITS[i].offset));
    ock_buf_append(out, line, (size_t)k);
  }
}

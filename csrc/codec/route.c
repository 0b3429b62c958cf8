#include "codec/route.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"

void ock_route_init(ock_route *r) {
  r->n = 0;
  r->off[0] = 0;
}

ock_addr ock_route_at(const ock_route *r, size_t i) {
  ock_addr a = {r->tt[i], r->data + r->off[i], (size_t)(r->off[i + 1] - r->off[i])};
  return a;
}

static size_t used(const ock_route *r) { return r->off[r->n]; }

static int fits(const ock_route *r, size_t hops, size_t bytes) {
  return r->n + hops <= OCK_ROUTE_MAX_HOPS && used(r) + bytes <= OCK_ROUTE_MAX_BYTES;
}

int ock_route_push_back(ock_route *r, uint8_t tt, const void *p, size_t len) {
  if (len > OCK_ADDR_MAX_LEN || !fits(r, 1, len)) return OCK_ETOOBIG;
  memcpy(r->data + used(r), p, len);
  r->tt[r->n] = tt;
  r->off[r->n + 1] = (uint16_t)(used(r) + len);
  r->n++;
  return 0;
}

int ock_route_push_front(ock_route *r, uint8_t tt, const void *p, size_t len) {
  if (len > OCK_ADDR_MAX_LEN || !fits(r, 1, len)) return OCK_ETOOBIG;
  char copy[OCK_ADDR_MAX_LEN]; /* p may point into r->data, which is about to move */
  memcpy(copy, p, len);
  memmove(r->data + len, r->data, used(r));
  memcpy(r->data, copy, len);
  memmove(r->tt + 1, r->tt, r->n);
  for (int i = r->n + 1; i >= 1; i--) r->off[i] = (uint16_t)(r->off[i - 1] + len);
  r->off[0] = 0;
  r->tt[0] = tt;
  r->n++;
  return 0;
}

int ock_route_append(ock_route *r, const ock_route *tail) {
  if (!fits(r, tail->n, used(tail))) return OCK_ETOOBIG;
  if (tail == r) { /* appending a route to itself: read from a copy */
    ock_route copy = *r;
    return ock_route_append(r, &copy);
  }
  for (size_t i = 0; i < tail->n; i++) {
    ock_addr a = ock_route_at(tail, i);
    ock_route_push_back(r, a.tt, a.p, a.len);
  }
  return 0;
}

int ock_route_prepend(ock_route *r, const ock_route *head) {
  if (!fits(r, head->n, used(head))) return OCK_ETOOBIG;
  if (head == r) {
    ock_route copy = *r;
    return ock_route_prepend(r, &copy);
  }
  for (size_t i = head->n; i-- > 0;) {
    ock_addr a = ock_route_at(head, i);
    ock_route_push_front(r, a.tt, a.p, a.len);
  }
  return 0;
}

int ock_route_set(ock_route *r, size_t i, uint8_t tt, const void *p, size_t len) {
  ock_route copy;
  ock_route_init(&copy);
  for (size_t j = 0; j < r->n; j++) {
    ock_addr a = ock_route_at(r, j);
    int rc = j == i ? ock_route_push_back(&copy, tt, p, len)
                    : ock_route_push_back(&copy, a.tt, a.p, a.len);
    if (rc) return rc;
  }
  *r = copy;
  return 0;
}

void ock_route_pop_front(ock_route *r) {
  if (!r->n) return;
  size_t first = r->off[1];
  memmove(r->data, r->data + first, used(r) - first);
  memmove(r->tt, r->tt + 1, r->n - 1);
  for (int i = 0; i < r->n; i++) r->off[i] = (uint16_t)(r->off[i + 1] - first);
  r->n--;
}

void ock_route_pop_back(ock_route *r) {
  if (r->n) r->n--;
}

int ock_addr_eq(ock_addr a, uint8_t tt, const char *p, size_t len) {
  return a.tt == tt && a.len == len && memcmp(a.p, p, len) == 0;
}

int ock_addr_is(ock_addr a, const char *local_name) {
  return ock_addr_eq(a, OCK_TT_LOCAL, local_name, strlen(local_name));
}

int ock_addr_parse(const char *s, size_t n, uint8_t *tt, const char **p, size_t *len) {
  const char *hash = memchr(s, '#', n);
  *tt = OCK_TT_LOCAL;
  if (hash) {
    size_t tlen = (size_t)(hash - s);
    if (tlen == 0 || tlen > 3) return OCK_EROUTE;
    unsigned v = 0;
    for (size_t i = 0; i < tlen; i++) {
      if (s[i] < '0' || s[i] > '9') return OCK_EROUTE;
      v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 255) return OCK_EROUTE;
    *tt = (uint8_t)v;
    n -= tlen + 1;
    s = hash + 1;
    if (memchr(s, '#', n)) return OCK_EROUTE; /* two '#' are invalid (spec 1.1) */
  }
  if (n == 0 || n > OCK_ADDR_MAX_LEN) return OCK_EROUTE;
  *p = s;
  *len = n;
  return 0;
}

void ock_route_format(const ock_route *r, char *out, size_t cap) {
  size_t w = 0;
  if (cap) out[0] = 0;
  for (size_t i = 0; i < r->n && w < cap; i++) {
    ock_addr a = ock_route_at(r, i);
    int k = snprintf(out + w, cap - w, "%s%u#%.*s", i ? " => " : "", a.tt, (int)a.len, a.p);
    if (k < 0) break;
    w += (size_t)k;
  }
}

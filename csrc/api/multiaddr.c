#include "api/multiaddr.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "base/err.h"
#include "codec/hostport.h"
#include "base/rand.h"

typedef struct {
  const char *s; /* whole input, for messages */
  const char *p; /* cursor */
  char *err;
  size_t errcap;
} parser;

static int fail(parser *ps, int code, const char *fmt, const char *a, size_t alen) {
  char what[160];
  snprintf(what, sizeof what, "%.*s", (int)(alen > 120 ? 120 : alen), a);
  char msg[200];
  snprintf(msg, sizeof msg, fmt, what);
  snprintf(ps->err, ps->errcap, "%s in route '%.200s'", msg, ps->s);
  for (char *c = ps->err; ps->errcap && *c; c++) /* keep the message on one line */
    if ((unsigned char)*c < 0x20) *c = '?';
  return code;
}

/* Next "/component"; returns its length (0 at end of input). */
static size_t next_part(parser *ps, const char **part) {
  if (*ps->p != '/') return 0;
  ps->p++;
  const char *e = strchr(ps->p, '/');
  size_t n = e ? (size_t)(e - ps->p) : strlen(ps->p);
  *part = ps->p;
  ps->p += n;
  return n;
}

static int check_host(const char *proto, const char *h, size_t n) {
  char tmp[OCK_HOST_CAP];
  if (n == 0 || n >= sizeof tmp) return 0;
  memcpy(tmp, h, n);
  tmp[n] = 0;
  unsigned char dst[16];
  if (!strcmp(proto, "ip4")) return uv_inet_pton(AF_INET, tmp, dst) == 0;
  if (!strcmp(proto, "ip6")) return uv_inet_pton(AF_INET6, tmp, dst) == 0;
  for (size_t i = 0; i < n; i++) { /* dnsaddr: a plausible host name */
    char c = h[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '-' || c == '.' || c == '_'))
      return 0;
  }
  return 1;
}

/* /ip4/A/tcp/P, /ip6/X/tcp/P, /dnsaddr/H/tcp/P, and the same with /udp/P */
static int parse_transport(parser *ps, ock_route *out, const char *proto, const char *host, size_t hn) {
  if (!check_host(proto, host, hn)) return fail(ps, OCK_EROUTE, "bad host '%s'", host, hn);
  const char *kind = "", *port = ""; /* next_part sets them only when a part is there */
  size_t kn = next_part(ps, &kind);
  uint8_t tt = kn == 3 && !memcmp(kind, "tcp", 3) ? OCK_TT_TCP : kn == 3 && !memcmp(kind, "udp", 3) ? OCK_TT_UDP : 0;
  if (!tt) return fail(ps, OCK_EROUTE, "expected '/tcp/PORT' or '/udp/PORT' after '%s'", host, hn);
  size_t pn = next_part(ps, &port);
  int portv;
  if (!ock_port_parse(port, pn, &portv)) return fail(ps, OCK_EROUTE, "bad port '%s'", pn ? port : "", pn);
  char hp[OCK_HOSTPORT_CAP];
  int k = snprintf(hp, sizeof hp, strcmp(proto, "ip6") ? "%.*s:%d" : "[%.*s]:%d", (int)hn, host, portv);
  if (ock_route_push_back(out, tt, hp, (size_t)k)) return fail(ps, OCK_EROUTE, "route too long%s", "", 0);
  return 0;
}

static int parse_node(parser *ps, ock_route *out, const char *name, size_t n, ock_node_lookup_fn lookup,
                      void *ctx) {
  char hp[OCK_HOSTPORT_CAP];
  int rc = lookup ? lookup(ctx, name, n, hp, sizeof hp) : OCK_ENONODE;
  if (rc == OCK_ENOENT) return fail(ps, OCK_EROUTE, "node '%s' has no TCP listener", name, n);
  if (rc) return fail(ps, OCK_ENONODE, "unknown node '%s'", name, n);
  if (ock_route_push_back(out, OCK_TT_TCP, hp, strlen(hp))) return fail(ps, OCK_EROUTE, "route too long%s", "", 0);
  return 0;
}

static int parse_one(parser *ps, ock_route *out, const char *proto, size_t pn, ock_node_lookup_fn lookup,
                     void *ctx) {
  char name[16];
  if (pn == 0 || pn >= sizeof name) return fail(ps, OCK_EROUTE, "unknown protocol '%s'", proto, pn);
  memcpy(name, proto, pn);
  name[pn] = 0;
  const char *val;
  size_t vn = next_part(ps, &val);
  if (vn == 0) return fail(ps, OCK_EROUTE, "missing value after '/%s'", name, pn);
  if (!strcmp(name, "ip4") || !strcmp(name, "ip6") || !strcmp(name, "dnsaddr"))
    return parse_transport(ps, out, name, val, vn);
  if (!strcmp(name, "node")) return parse_node(ps, out, val, vn, lookup, ctx);
  if (!strcmp(name, "worker") || !strcmp(name, "service") || !strcmp(name, "secure")) {
    if (vn > OCK_ADDR_MAX_LEN) return fail(ps, OCK_EROUTE, "address too long: '%s'", val, vn);
    if (ock_route_push_back(out, OCK_TT_LOCAL, val, vn)) return fail(ps, OCK_EROUTE, "route too long%s", "", 0);
    return 0;
  }
  return fail(ps, OCK_EROUTE, "unknown protocol '/%s'", name, pn);
}

static int parse_multiaddr(parser *ps, ock_route *out, ock_node_lookup_fn lookup, void *ctx) {
  while (*ps->p) {
    if (*ps->p != '/') return fail(ps, OCK_EROUTE, "expected '/' at '%s'", ps->p, strlen(ps->p));
    const char *proto;
    size_t pn = next_part(ps, &proto);
    if (pn == 0 && !*ps->p) break; /* a trailing slash is harmless */
    int rc = parse_one(ps, out, proto, pn, lookup, ctx);
    if (rc) return rc;
  }
  if (out->n == 0) return fail(ps, OCK_EROUTE, "empty route%s", "", 0);
  int hops = 0;
  for (size_t i = 0; i < out->n; i++) hops += out->tt[i] == OCK_TT_TCP || out->tt[i] == OCK_TT_UDP;
  /* spec 1.3: the sender resolves every transport hop, so a second one would
   * name a connection of the sender where another node reads it */
  if (hops > 1) return fail(ps, OCK_EROUTE, "more than one transport (TCP or UDP) hop%s", "", 0);
  return 0;
}

static void trim(const char **s, size_t *n) {
  while (*n && (**s == ' ' || **s == '\t')) (*s)++, (*n)--;
  while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t')) (*n)--;
}

/* "0#a => 1#b" or a single address */
static int parse_route_text(parser *ps, ock_route *out) {
  const char *s = ps->s;
  for (;;) {
    const char *arrow = strstr(s, "=>");
    size_t n = arrow ? (size_t)(arrow - s) : strlen(s);
    const char *a = s;
    trim(&a, &n);
    uint8_t tt;
    const char *p;
    size_t len;
    if (ock_addr_parse(a, n, &tt, &p, &len)) return fail(ps, OCK_EROUTE, "bad address '%s'", a, n);
    if (ock_route_push_back(out, tt, p, len)) return fail(ps, OCK_EROUTE, "route too long%s", "", 0);
    if (!arrow) return 0;
    s = arrow + 2;
  }
}

int ock_route_parse_text(const char *s, ock_route *out, ock_node_lookup_fn lookup, void *ctx,
                         char *err, size_t errcap) {
  parser ps = {s, s, err, errcap};
  ock_route_init(out);
  if (errcap) err[0] = 0;
  if (!*s) return fail(&ps, OCK_EROUTE, "empty route%s", "", 0);
  if (*s == '/') return parse_multiaddr(&ps, out, lookup, ctx);
  return parse_route_text(&ps, out);
}

static int is_hex32(ock_addr a) {
  if (a.len != OCK_HEX_ADDR_LEN) return 0;
  for (size_t i = 0; i < a.len; i++)
    if (!((a.p[i] >= '0' && a.p[i] <= '9') || (a.p[i] >= 'a' && a.p[i] <= 'f'))) return 0;
  return 1;
}

static void format_transport(ock_addr a, char *out, size_t cap) {
  char host[OCK_HOSTPORT_CAP];
  int port;
  if (ock_hostport_split(a.p, a.len, host, sizeof host, &port)) {
    snprintf(out, cap, "/%s-address/%.*s", a.tt == OCK_TT_UDP ? "udp" : "tcp", (int)a.len, a.p);
    return;
  }
  unsigned char dst[16];
  const char *proto = uv_inet_pton(AF_INET, host, dst) == 0    ? "ip4"
                      : uv_inet_pton(AF_INET6, host, dst) == 0 ? "ip6"
                                                               : "dnsaddr";
  snprintf(out, cap, "/%s/%s/%s/%d", proto, host, a.tt == OCK_TT_UDP ? "udp" : "tcp", port);
}

void ock_route_format_multiaddr(const ock_route *r, char *out, size_t cap) {
  size_t w = 0;
  if (cap) out[0] = 0;
  for (size_t i = 0; i < r->n && w + 1 < cap; i++) {
    ock_addr a = ock_route_at(r, i);
    if (a.tt == OCK_TT_TCP || a.tt == OCK_TT_UDP) {
      format_transport(a, out + w, cap - w);
    } else if (a.tt == OCK_TT_LOCAL) {
      snprintf(out + w, cap - w, "/%s/%.*s", is_hex32(a) ? "worker" : "service", (int)a.len, a.p);
    } else {
      snprintf(out + w, cap - w, "/%u#%.*s", a.tt, (int)a.len, a.p);
    }
    w += strlen(out + w);
  }
}

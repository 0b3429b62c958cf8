#include "codec/hostport.h"

#include <string.h>

#include "base/err.h"

int ock_port_parse(const char *p, size_t n, int *port) {
  if (n == 0 || n > 5) return 0;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return 0;
    v = v * 10 + (p[i] - '0');
  }
  *port = v;
  return v >= 1 && v <= 65535;
}

int ock_hostport_split(const char *s, size_t n, char *host, size_t hostcap, int *port) {
  const char *colon = NULL;
  for (size_t i = n; i-- > 0;)
    if (s[i] == ':') {
      colon = s + i;
      break;
    }
  if (!colon) return OCK_EINVAL;
  const char *h = s;
  size_t hn = (size_t)(colon - s);
  if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') h++, hn -= 2;
  if (hn == 0 || hn >= hostcap) return OCK_EINVAL;
  const char *ps = colon + 1;
  size_t pn = (size_t)(s + n - ps);
  if (pn == 1 && ps[0] == '0')
    *port = 0; /* port 0 is allowed for listeners: the kernel picks one */
  else if (!ock_port_parse(ps, pn, port))
    return OCK_EINVAL;
  memcpy(host, h, hn);
  host[hn] = 0;
  return 0;
}

int ock_hostport_split_str(const char *s, char *host, size_t hostcap, int *port) {
  return ock_hostport_split(s, strlen(s), host, hostcap, port);
}

#include "transport/dial.h"

#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "codec/hostport.h"

int ock_sockaddr_parse(const char *hostport, struct sockaddr_storage *ss, int allow_port0) {
  char host[OCK_HOST_CAP];
  int port;
  if (ock_hostport_split(hostport, strlen(hostport), host, sizeof host, &port)) return OCK_EINVAL;
  if (port == 0 && !allow_port0) return OCK_EINVAL;
  if (!strcmp(host, "localhost")) snprintf(host, sizeof host, "127.0.0.1");
  if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
  if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) return 0;
  return OCK_EINVAL;
}

void ock_sockaddr_format(const struct sockaddr *sa, char *out, size_t cap) {
  char ip[64] = "?";
  int port = 0;
  if (sa->sa_family == AF_INET6) {
    uv_ip6_name((const struct sockaddr_in6 *)sa, ip, sizeof ip);
    port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
  } else if (sa->sa_family == AF_INET) {
    uv_ip4_name((const struct sockaddr_in *)sa, ip, sizeof ip);
    port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
  }
  snprintf(out, cap, sa->sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, port);
}

static void on_connect(uv_connect_t *req, int status) {
  ock_dial *d = req->data;
  if (!d->cancelled) d->cb(d, status); /* cancelled: the owner closed the handle (UV_ECANCELED) */
}

static int connect_to(ock_dial *d, const struct sockaddr *sa) {
  d->creq.data = d;
  return uv_tcp_connect(&d->creq, d->tcp, sa, on_connect);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  ock_dial *d = req->data;
  d->resolving = 0;
  if (d->cancelled) { /* the owner is closing and kept d alive for this call */
    uv_freeaddrinfo(res);
    d->released(d);
    return;
  }
  if (status == 0 && res) status = connect_to(d, res->ai_addr);
  else if (status == 0) status = UV_EAI_NONAME;
  uv_freeaddrinfo(res);
  if (status) d->cb(d, status);
}

int ock_dial_start(ock_dial *d, uv_tcp_t *tcp, const char *hostport, ock_dial_cb cb) {
  d->tcp = tcp;
  d->cb = cb;
  d->resolving = d->cancelled = 0;
  struct sockaddr_storage ss;
  if (ock_sockaddr_parse(hostport, &ss, 0) == 0) return connect_to(d, (struct sockaddr *)&ss);
  char host[OCK_HOST_CAP], service[8];
  int port;
  if (ock_hostport_split(hostport, strlen(hostport), host, sizeof host, &port) || port == 0) return OCK_EINVAL;
  snprintf(service, sizeof service, "%d", port);
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  d->gai.data = d;
  int rc = uv_getaddrinfo(uv_handle_get_loop((uv_handle_t *)tcp), &d->gai, on_resolved, host, service, &hints);
  if (rc == 0) d->resolving = 1;
  return rc;
}

int ock_dial_cancel(ock_dial *d, void (*released)(ock_dial *d)) {
  if (d->cancelled) return 0;
  d->cancelled = 1;
  if (!d->resolving) return 0;
  /* the lookup ends early if it has not started in the thread pool; either
   * way on_resolved runs once more, and hands d back through released */
  d->released = released;
  uv_cancel((uv_req_t *)&d->gai);
  return 1;
}

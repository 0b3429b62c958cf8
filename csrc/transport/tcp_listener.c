#include "transport/tcp_listener.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "runtime/loop.h"
#include "codec/hostport.h"
#include "transport/dial.h"

/* Below 1024, bursts of connections overflow the accept queue and clients see
 * second-long SYN retries. */
#define BACKLOG 1024

struct ock_tcp_listener {
  uv_tcp_t tcp;
  ock_node *node;
  ock_accept_fn accept;
  void *arg;
  char address[OCK_HOSTPORT_CAP];
};

const char *ock_tcp_listener_address(const ock_tcp_listener *l) { return l->address; }

static void on_connection(uv_stream_t *server, int status) {
  ock_tcp_listener *l = server->data;
  if (status < 0) {
    /* EMFILE and friends: this one connection is lost, the listener goes on. */
    OCK_WARN("node %s: accept on %s failed: %s", l->node->name, l->address, uv_strerror(status));
    return;
  }
  if (l->node->closing) return;
  int rc = l->accept(l->node, server, l->arg);
  if (rc) OCK_WARN("node %s: accept on %s failed: %s", l->node->name, l->address, ock_strerror(rc));
}

static void on_closed(uv_handle_t *h) {
  ock_tcp_listener *l = h->data;
  ock_node *n = l->node;
  free(l);
  ock_node_handle_closed(n);
}

void ock_tcp_listener_close(ock_tcp_listener *l) {
  if (!uv_is_closing((uv_handle_t *)&l->tcp)) uv_close((uv_handle_t *)&l->tcp, on_closed);
}

static int bound_address(ock_tcp_listener *l) {
  struct sockaddr_storage ss;
  int len = sizeof ss;
  int rc = uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &len);
  if (rc) return rc;
  ock_sockaddr_format((struct sockaddr *)&ss, l->address, sizeof l->address);
  return 0;
}

int ock_tcp_listen(ock_node *n, const char *hostport, ock_accept_fn accept, void *arg, ock_tcp_listener **out,
                   char *err, size_t errcap) {
  struct sockaddr_storage ss;
  if (ock_sockaddr_parse(hostport, &ss, 1)) {
    snprintf(err, errcap, "bad listener address '%s': expected IP:PORT (port 0 picks one)", hostport);
    return OCK_EINVAL;
  }
  ock_tcp_listener *l = calloc(1, sizeof *l);
  if (!l) return OCK_ENOMEM;
  l->node = n;
  l->accept = accept;
  l->arg = arg;
  uv_tcp_init(ock_loop(), &l->tcp);
  l->tcp.data = l;
  ock_node_handle_opened(n);
  int rc = uv_tcp_bind(&l->tcp, (struct sockaddr *)&ss, 0);
  if (!rc) rc = uv_listen((uv_stream_t *)&l->tcp, BACKLOG, on_connection);
  if (!rc) rc = bound_address(l);
  if (rc) {
    snprintf(err, errcap, "cannot listen on %s: %s", hostport, uv_strerror(rc));
    ock_tcp_listener_close(l);
    return rc;
  }
  *out = l;
  return 0;
}

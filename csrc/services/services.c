/* The services every node offers (spec 4): echo, uppercase, hop. */
#include "services/services.h"

#include <stdlib.h>
#include <string.h>

#include "codec/bare.h"
#include "services/relay_service.h"
#include "base/err.h"
#include "base/log.h"

/* Sends payload back along the return route, from worker w. */
static void reply(ock_worker *w, const ock_msg *m, const void *payload, size_t len) {
  ock_msg r;
  ock_msg_init(&r, payload, len);
  r.onward = m->ret;
  ock_route_push_back(&r.ret, OCK_TT_LOCAL, w->addr, w->addr_len);
  ock_node_dispatch(w->node, &r, NULL);
}

/* Echoes the payload byte for byte, with return route [echo]. */
static void echo_handle(ock_worker *w, ock_msg *m, const ock_origin *from) {
  (void)from;
  reply(w, m, m->payload, m->payload_len);
}

/* BARE String in, the same upper-cased out; no reply to anything else. */
static void uppercase_handle(ock_worker *w, ock_msg *m, const ock_origin *from) {
  (void)from;
  const uint8_t *s;
  size_t n;
  if (ock_bare_read_string(m->payload, m->payload_len, &s, &n) || !ock_utf8_valid(s, n)) {
    OCK_INFO("node %s: %s got a payload that is not a BARE UTF-8 string, ignored", w->node->name, w->addr);
    return;
  }
  ock_buf out;
  ock_buf_init(&out);
  if (ock_bare_put_string(&out, s, n) == 0) {
    uint8_t *p = out.data + out.len - n;
    for (size_t i = 0; i < n; i++)
      if (p[i] >= 'a' && p[i] <= 'z') p[i] = (uint8_t)(p[i] - 'a' + 'A');
    reply(w, m, out.data, out.len);
  }
  ock_buf_free(&out);
}

/* Pops itself, pushes itself on the return route, forwards (step_forward). */
static void hop_handle(ock_worker *w, ock_msg *m, const ock_origin *from) {
  (void)from;
  ock_route_pop_front(&m->onward);
  if (ock_route_push_front(&m->ret, OCK_TT_LOCAL, w->addr, w->addr_len)) {
    OCK_INFO("node %s: return route too long at %s, dropped", w->node->name, w->addr);
    return;
  }
  ock_node_dispatch(w->node, m, NULL);
}

int ock_service_start(ock_node *n, const char *kind, const char *addr) {
  ock_handler h = !strcmp(kind, "echo")        ? echo_handle
                  : !strcmp(kind, "uppercase") ? uppercase_handle
                  : !strcmp(kind, "hop")       ? hop_handle
                                               : NULL;
  if (!h) return OCK_EINVAL;
  if (!addr || !*addr) addr = kind;
  /* Ockam makes these consumers of the listener and of the connections the
   * node opens (spec 7); hop for connections made after it too: here, all. */
  ock_worker *w = ock_worker_new(n, addr, strlen(addr), OCK_FC_ALL, h, kind);
  if (!w) return OCK_ENOMEM;
  return ock_router_add_owned(&n->router, w);
}

int ock_services_start_default(ock_node *n) {
  int rc = ock_service_start(n, "echo", NULL);
  if (!rc) rc = ock_service_start(n, "uppercase", NULL);
  if (!rc) rc = ock_relay_service_start(n);
  return rc;
}

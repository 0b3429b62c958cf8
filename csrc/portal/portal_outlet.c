/* Outlets (spec 6.3): a worker that answers Pings by connecting to its target.
 * An outlet belongs to its node and is closed with it. */
#include "portal/portal_outlet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/list.h"
#include "base/log.h"
#include "codec/hostport.h"
#include "codec/portal_msg.h"
#include "portal/portal_conn.h"

typedef struct outlet outlet;
struct outlet {
  ock_portal_set set;
  ock_worker worker;
  char addr[OCK_ADDR_MAX_LEN + 1];
  char target[OCK_HOSTPORT_CAP];
  unsigned char (*allow)[OCK_ORIGIN_ID_LEN]; /* set.allow: who may use it (none: anyone) */
  int closed;
  ock_list link; /* in outlets_state.outlets */
};

typedef struct {
  ock_list outlets; /* newest first */
} outlets_state;

static void state_init(void *state) { ock_list_init(&((outlets_state *)state)->outlets); }
static void on_node_close(ock_node *n, void *state);
static void on_origin_closed(ock_node *n, void *state, const ock_origin *o);
static const ock_node_ext_ops ops = {.size = sizeof(outlets_state),
                                     .level = OCK_EXT_SERVICE,
                                     .init = state_init,
                                     .on_close = on_node_close,
                                     .on_origin_closed = on_origin_closed};

static outlet *outlet_of(ock_list *pos) { return OCK_LIST_ENTRY(pos, outlet, link); }

/* Freed once closed and its last connection is gone. */
static void outlet_released(ock_portal_set *s) {
  outlet *o = (outlet *)s;
  if (!o->closed) return;
  ock_list_remove(&o->link);
  free(o->allow);
  free(o);
}

/* ---- outlets ---- */

static void outlet_handle(ock_worker *w, ock_msg *m, const ock_origin *from) {
  outlet *o = w->ctx;
  ock_portal_msg pm;
  if (ock_portal_msg_decode(m->payload, m->payload_len, &pm) == 0 && pm.type == OCK_PORTAL_DISCONNECT) {
    ock_portal_set_cancel(&o->set, &m->ret);
    return;
  }
  if (ock_portal_msg_decode(m->payload, m->payload_len, &pm) || pm.type != OCK_PORTAL_PING) {
    OCK_INFO("node %s: outlet %s takes only Ping messages, ignored", w->node->name, o->addr);
    return;
  }
  if (m->ret.n == 0) return;
  ock_portal_answer_ping(&o->set, o->target, m, pm.caps, from);
}

int ock_outlet_create(ock_node *n, const char *target, const char *addr,
                      const unsigned char (*allow)[OCK_ORIGIN_ID_LEN], size_t allow_n, char *err, size_t errcap) {
  outlets_state *st = ock_node_ext(n, &ops);
  char host[OCK_HOST_CAP];
  int port;
  if (ock_hostport_split_str(target, host, sizeof host, &port) || port == 0) {
    snprintf(err, errcap, "bad outlet target '%.200s': expected host:port", target);
    return OCK_EINVAL;
  }
  if (!addr || !*addr || strlen(addr) > OCK_ADDR_MAX_LEN) {
    snprintf(err, errcap, "bad outlet address");
    return OCK_EINVAL;
  }
  outlet *o = st ? calloc(1, sizeof *o) : NULL;
  if (!o) return OCK_ENOMEM;
  if (allow_n && !(o->allow = malloc(allow_n * sizeof *o->allow))) {
    free(o);
    return OCK_ENOMEM;
  }
  if (allow_n) memcpy(o->allow, allow, allow_n * sizeof *o->allow);
  ock_portal_set_init(&o->set, n, outlet_released);
  o->set.allow = (const unsigned char(*)[OCK_ORIGIN_ID_LEN])o->allow;
  o->set.allow_n = allow_n;
  snprintf(o->addr, sizeof o->addr, "%s", addr);
  snprintf(o->target, sizeof o->target, "%s", target);
  /* Ockam makes an outlet a consumer of the listener only (spec 7): through
   * a relay it is reached via hop. */
  o->worker = (ock_worker){.node = n, .addr = o->addr, .addr_len = strlen(o->addr), .fc = OCK_FC_LISTENER,
                           .handle = outlet_handle, .ctx = o, .kind = "outlet"};
  if (ock_router_add(&n->router, &o->worker)) {
    free(o->allow);
    free(o);
    snprintf(err, errcap, "node '%s' already has a worker at '%s'", n->name, addr);
    return OCK_EEXIST;
  }
  ock_list_insert_head(&st->outlets, &o->link);
  OCK_INFO("node %s: outlet %s to %s%s", n->name, o->addr, o->target,
           allow_n ? " (only for the identities it allows, through secure channels)" : "");
  return 0;
}

static void outlet_close(outlet *o) {
  if (o->closed) return;
  o->closed = 1;
  ock_router_remove(&o->set.node->router, &o->worker);
  ock_portal_set_close(&o->set);
  ock_portal_set_release(&o->set);
}

int ock_outlet_close(ock_node *n, const char *addr) {
  outlets_state *st = ock_node_ext(n, &ops);
  if (!st) return OCK_ENOENT;
  OCK_LIST_FOREACH(pos, &st->outlets) {
    outlet *o = outlet_of(pos);
    if (!o->closed && !strcmp(o->addr, addr)) {
      outlet_close(o); /* may free o: the loop ends here */
      return 0;
    }
  }
  return OCK_ENOENT;
}

/* ---- node-wide ---- */

static void on_node_close(ock_node *n, void *state) {
  (void)n;
  outlets_state *st = state;
  /* an outlet with no connection is freed inside outlet_close */
  OCK_LIST_FOREACH_SAFE(pos, &st->outlets) outlet_close(outlet_of(pos));
}

static void on_origin_closed(ock_node *n, void *state, const ock_origin *org) {
  (void)n;
  outlets_state *st = state;
  OCK_LIST_FOREACH(pos, &st->outlets) ock_portal_set_origin_closed(&outlet_of(pos)->set, org);
}

void ock_outlet_list(ock_node *n, ock_buf *out) {
  outlets_state *st = ock_node_ext(n, &ops);
  if (!st) return;
  OCK_LIST_FOREACH(pos, &st->outlets) {
    outlet *o = outlet_of(pos);
    if (!o->closed) ock_portal_set_list(&o->set, "outlet", o->addr, o->target, out);
  }
}

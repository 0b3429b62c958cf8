#include "node/node.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/list.h"
#include "base/log.h"
#include "codec/hostport.h"
#include "transport/tcp_conn.h"
#include "transport/tcp_listener.h"

/* A node as the registry holds it: the core, and what only this layer uses. */
typedef struct entry {
  ock_node core;
  ock_tcp_listener *listener;
  char listen_addr[OCK_HOSTPORT_CAP]; /* "" when none */
  ock_call *close_call;
  ock_list link; /* in g_nodes */
} entry;

static entry *entry_of(ock_node *n) { return (entry *)((char *)n - offsetof(entry, core)); }
static entry *entry_at(ock_list *pos) { return OCK_LIST_ENTRY(pos, entry, link); }

/* Every node of the process. The list belongs to the loop thread, but names
 * and listener addresses are also read by other threads (route parsing), so
 * changes to the list and those fields happen under this mutex. */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static ock_list g_nodes = OCK_LIST_HEAD_INIT(g_nodes); /* newest first */
static uint32_t g_next_id = 1;

static entry *find_by_name(const char *name, size_t len) {
  OCK_LIST_FOREACH(pos, &g_nodes) {
    entry *e = entry_at(pos);
    if (!e->core.closing && strlen(e->core.name) == len && memcmp(e->core.name, name, len) == 0) return e;
  }
  return NULL;
}

ock_node *ock_node_by_id(uint32_t id) {
  OCK_LIST_FOREACH(pos, &g_nodes) {
    entry *e = entry_at(pos);
    if (e->core.id == id && !e->core.closing) return &e->core;
  }
  return NULL;
}

const char *ock_node_listen_address(const ock_node *n) { return entry_of((ock_node *)n)->listen_addr; }

int ock_node_lookup_listener(void *ctx, const char *name, size_t len, char *out, size_t cap) {
  (void)ctx;
  pthread_mutex_lock(&g_mu);
  entry *e = find_by_name(name, len);
  int rc = !e ? OCK_ENONODE : !e->listen_addr[0] ? OCK_ENOENT : 0;
  if (!rc) {
    /* a wildcard listener is reached on loopback from this process */
    if (!strncmp(e->listen_addr, "0.0.0.0:", 8))
      snprintf(out, cap, "127.0.0.1:%s", e->listen_addr + 8);
    else
      snprintf(out, cap, "%s", e->listen_addr);
  }
  pthread_mutex_unlock(&g_mu);
  return rc;
}

static int valid_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n > OCK_NODE_NAME_MAX) return 0;
  for (size_t i = 0; i < n; i++)
    if (name[i] == '/' || name[i] == '#' || (unsigned char)name[i] < 0x20) return 0;
  return 1;
}

/* The core's on_free: the last handle closed. */
static void entry_free(ock_node *n) {
  entry *e = entry_of(n);
  pthread_mutex_lock(&g_mu);
  ock_list_remove(&e->link);
  pthread_mutex_unlock(&g_mu);
  ock_node_core_free(n);
  if (e->close_call) ock_call_finish(e->close_call, 0);
  free(e);
}

static int start_listener(entry *e, const char *listen, char *err, size_t errcap) {
  int rc = ock_tcp_listen(&e->core, listen, ock_tcp_conn_accept, NULL, &e->listener, err, errcap);
  if (rc) return rc;
  pthread_mutex_lock(&g_mu);
  snprintf(e->listen_addr, sizeof e->listen_addr, "%s", ock_tcp_listener_address(e->listener));
  pthread_mutex_unlock(&g_mu);
  return 0;
}

int ock_node_create(const char *name, const char *listen, ock_node **out, char *err, size_t errcap) {
  if (!valid_name(name)) {
    snprintf(err, errcap, "bad node name '%.100s': 1 to %d characters, no '/' or '#'", name, OCK_NODE_NAME_MAX);
    return OCK_EINVAL;
  }
  entry *e = calloc(1, sizeof *e);
  if (!e) return OCK_ENOMEM;
  ock_node_core_init(&e->core, name, entry_free);
  pthread_mutex_lock(&g_mu);
  if (find_by_name(name, strlen(name))) {
    pthread_mutex_unlock(&g_mu);
    free(e);
    snprintf(err, errcap, "a node named '%s' already exists in this process", name);
    return OCK_EEXIST;
  }
  e->core.id = g_next_id++;
  ock_list_insert_head(&g_nodes, &e->link);
  pthread_mutex_unlock(&g_mu);
  int rc = listen ? start_listener(e, listen, err, errcap) : 0;
  if (rc) {
    ock_node_close(&e->core, NULL);
    return rc;
  }
  OCK_INFO("node %s started%s%s", name, listen ? ", listening on " : "", e->listen_addr);
  *out = &e->core;
  return 0;
}

void ock_node_close(ock_node *n, ock_call *call) {
  if (n->closing) {
    if (call) ock_call_finish(call, 0);
    return;
  }
  entry *e = entry_of(n);
  pthread_mutex_lock(&g_mu);
  n->closing = 1; /* from now on the name is free and lookups miss it */
  pthread_mutex_unlock(&g_mu);
  e->close_call = call;
  ock_node_core_close(n); /* modules close: services, requests, then connections */
  if (e->listener) ock_tcp_listener_close(e->listener);
  e->listener = NULL;
  /* with no handle open the node goes now; otherwise the last close does it */
  ock_node_core_release(n);
}

void ock_node_close_all(void) {
  /* a node with nothing open is freed inside ock_node_close: read next first */
  OCK_LIST_FOREACH_SAFE(pos, &g_nodes) ock_node_close(&entry_at(pos)->core, NULL);
}

void ock_node_forget_after_fork(void) {
  pthread_mutex_init(&g_mu, NULL);
  ock_list_init(&g_nodes); /* the parent's memory stays as it was: nothing here may touch it */
}

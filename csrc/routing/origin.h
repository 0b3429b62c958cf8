/* Where a message came from, as flow control sees it (spec 7): a value the
 * transport that read the message owns and keeps for as long as its
 * connection lives. Routing decides on it without knowing which transport
 * made it; a local send has no origin (NULL). */
#ifndef OCK_ORIGIN_H
#define OCK_ORIGIN_H

/* Which messages from transports may reach a worker (ock_worker.fc). */
enum {
  OCK_FC_LISTENER = 1, /* from connections a listener of this node accepted */
  OCK_FC_OUTGOING = 2, /* from connections this node opened */
  OCK_FC_ALL = 3,
};

typedef struct ock_origin {
  unsigned fc;           /* OCK_FC_LISTENER or OCK_FC_OUTGOING */
  const char *transport; /* "tcp": which transport's connection this is */
  const char *address;   /* the connection's worker address (NUL-terminated) */
  const char *peer;      /* the remote end, "host:port", for log lines */
} ock_origin;

/* 1 when a worker consuming `fc` may receive a message from `from` (NULL: a
 * local send). A node may grant more (ock_node_set_grant). */
static inline int ock_origin_allowed(unsigned fc, const ock_origin *from) { return !from || (fc & from->fc); }

#endif

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
  /* decrypted by a secure channel of this node: flow control lets it go
   * where a local send may go (the channel's own policy chose the peer);
   * `identifier` says who sent it */
  OCK_FC_SECURE = 4,
};

#define OCK_ORIGIN_ID_LEN 32

typedef struct ock_origin {
  unsigned fc;           /* OCK_FC_LISTENER, OCK_FC_OUTGOING or OCK_FC_SECURE */
  const char *transport; /* "tcp", "secure": which kind of origin this is */
  const char *address;   /* the connection's (channel's encryptor's) worker address */
  const char *peer;      /* the remote end, "host:port" or an identifier, for log lines */
  const unsigned char *identifier; /* OCK_FC_SECURE: the peer's verified identifier
                                    * (OCK_ORIGIN_ID_LEN bytes); NULL otherwise */
} ock_origin;

/* 1 when a worker consuming `fc` may receive a message from `from` (NULL: a
 * local send). A node may grant more (ock_node_set_grant). */
static inline int ock_origin_allowed(unsigned fc, const ock_origin *from) {
  return !from || (from->fc & OCK_FC_SECURE) || (fc & from->fc);
}

#endif

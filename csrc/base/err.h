/* Error codes: negative integers, as libuv does. System errors are libuv's own
 * codes (UV_ECONNREFUSED...), so errno values pass through unchanged; the codes
 * below are this project's, chosen far from any errno. */
#ifndef OCK_ERR_H
#define OCK_ERR_H

/* Room for a one-line error message and its NUL. */
#define OCK_ERRMSG_CAP 300

enum {
  OCK_OK = 0,
  OCK_EROUTE = -20001,    /* malformed route or address */
  OCK_ENONODE = -20002,   /* no node of that name in this process */
  OCK_ECLOSED = -20003,   /* the node (or object) was closed */
  OCK_EPROTO = -20004,    /* bytes from the peer break the protocol */
  OCK_EEXIST = -20005,    /* a worker already has that address */
  OCK_ETIMEOUT = -20006,  /* no reply in time */
  OCK_ETOOBIG = -20007,   /* over a configured limit */
  OCK_ENOENT = -20008,    /* no such object (worker, connection, service) */
  OCK_EINVAL = -20009,    /* a bad argument */
  OCK_ENOMEM = -20010,
  OCK_EBUSY = -20011,     /* the runtime cannot start: a previous loop thread never stopped */
};

/* A short English description of any code, ours or libuv's. */
const char *ock_strerror(int code);

#endif

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
  OCK_EBUSY = -20020,     /* the runtime cannot start: a previous loop thread never stopped */
  OCK_ECANCELED = -20021, /* the caller cancelled the call */
  /* identities and secure channels (csrc/secure/) */
  OCK_EBADSIG = -20011,   /* a signature does not verify */
  OCK_EIDENTITY = -20012, /* a change history that is not a valid identity */
  OCK_EEXPIRED = -20013,  /* outside its validity period (expired or not yet valid) */
  OCK_EATTEST = -20014,   /* an attestation for another identity, key or change */
  OCK_EDECRYPT = -20015,  /* AEAD authentication failed: wrong key or altered bytes */
  OCK_ENONCE = -20016,    /* a nonce replayed or outside the accepted window */
  OCK_ECRYPTO = -20017,   /* libcrypto refused an operation */
  OCK_ESTATE = -20018,    /* a call in the wrong state (a handshake that failed or is done) */
  OCK_EUNTRUSTED = -20019, /* a verified identity that the trust policy refuses */
};

/* A short English description of any code, ours or libuv's. */
const char *ock_strerror(int code);

#endif

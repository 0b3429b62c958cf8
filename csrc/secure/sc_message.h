/* The plaintext of a secure channel message (secure_channel/message.rs):
 *   SecureChannelPaddedMessage = [message: SecureChannelMessage, padding: bytes]
 *   SecureChannelMessage       = [0, [[onward route, return route, payload: bytes]]]  Payload
 *                              | [1, [[change_history, credentials]]]                RefreshCredentials
 *                              | [2, []]                                             Close
 * Routes are CBOR as in the TCP frame (codec/message.h). Ockam 0.139 sends
 * empty padding. */
#ifndef OCK_SECURE_SC_MESSAGE_H
#define OCK_SECURE_SC_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "codec/route.h"
#include "secure/identity.h"

#define OCK_SC_PAYLOAD 0
#define OCK_SC_REFRESH_CREDENTIALS 1
#define OCK_SC_CLOSE 2

/* What follows the payload bytes of an encoded Payload message: the empty padding. */
#define OCK_SC_PAYLOAD_TAIL "\x40"
#define OCK_SC_PAYLOAD_TAIL_LEN 1

typedef struct {
  int kind; /* OCK_SC_PAYLOAD, OCK_SC_REFRESH_CREDENTIALS or OCK_SC_CLOSE */
  /* Payload */
  ock_route onward;
  ock_route ret;
  const uint8_t *payload; /* a view into the decoded bytes */
  size_t payload_len;
  /* RefreshCredentials: the CBOR items, unverified views */
  const uint8_t *history;
  size_t history_len;
  const uint8_t *credentials;
  size_t credentials_len;
  /* the padding, ignored */
  size_t padding_len;
} ock_sc_msg;

/* Decodes a decrypted plaintext. Returns 0, OCK_EPROTO, or OCK_ETOOBIG (a
 * route over the limits of codec/route.h). */
int ock_sc_msg_decode(const uint8_t *p, size_t n, ock_sc_msg *m);
/* Appends a whole Payload message. 0 or OCK_ENOMEM. */
int ock_sc_msg_put_payload(ock_buf *b, const ock_route *onward, const ock_route *ret, const void *payload,
                           size_t n);
/* Appends a Payload message up to the payload's byte-string head, so that the
 * payload itself need not be copied: the message is these bytes, then the
 * payload_len bytes of payload, then OCK_SC_PAYLOAD_TAIL. */
int ock_sc_msg_put_payload_head(ock_buf *b, const ock_route *onward, const ock_route *ret, size_t payload_len);
/* Appends a Close message (82 82 02 80 40). */
int ock_sc_msg_put_close(ock_buf *b);
/* Appends a RefreshCredentials message with the identity's history and no
 * credentials. */
int ock_sc_msg_put_refresh(ock_buf *b, const ock_identity *id);

#endif

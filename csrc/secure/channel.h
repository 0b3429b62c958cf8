/* Secure channels between nodes (Ockam's secure_channel/): a Noise XX
 * handshake (xx.h) carried by routed messages, then a pair of workers per
 * channel with Ockam's addresses and behaviour:
 *
 *   decryptor_remote  where the peer sends: the handshake messages, then
 *                     encrypted ones. A decrypted Payload goes on along its
 *                     inner onward route with our encryptor prepended to its
 *                     inner return route; Close ends the channel (without a
 *                     Close back); a message that fails to decrypt is dropped
 *                     with a log line and the channel lives on.
 *   encryptor         where local users route through ("<encryptor>/service/
 *                     echo"): pops itself, wraps the message's routes and
 *                     payload in a Payload (sc_message.h), encrypts it
 *                     (sc_cipher.h) and sends it to the peer's
 *                     decryptor_remote along the route the handshake learnt.
 *
 * Both addresses are 32 random hex digits. The initiator sends message 1
 * from its decryptor_remote along a route ending at the peer's listener
 * (channel_listener.h), which starts a responder and hands it the message.
 * A responder that receives a Payload of a newer nonce than any before routes
 * back along that message's return route (the peer may have moved). Closing
 * a channel (or its node) sends Close to the peer. A handshake not done in
 * time ends the channel; the initiator's call fails with OCK_ETIMEOUT.
 * Everything here runs on the loop thread. */
#ifndef OCK_SECURE_CHANNEL_H
#define OCK_SECURE_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "codec/route.h"
#include "routing/node_core.h"
#include "runtime/call.h"
#include "secure/identifier.h"

/* How long a responder waits for message 3 before it gives up. */
#define OCK_SC_RESPONDER_TIMEOUT_MS 10000
/* At most this many responders in handshake per node: a message 1 beyond
 * them is dropped with a log line (each costs a few KiB for 10 s). */
#define OCK_SC_MAX_RESPONDING 4096

/* A trust policy: trust everyone (n == 0) or only these identifiers. */
typedef struct {
  size_t n;
  uint8_t (*ids)[OCK_IDENTIFIER_LEN];
} ock_sc_trust;

/* Copies src into dst (empty). 0 or OCK_ENOMEM. */
int ock_sc_trust_copy(ock_sc_trust *dst, const ock_sc_trust *src);
/* Frees the list; dst trusts everyone again. */
void ock_sc_trust_free(ock_sc_trust *t);

/* Starts an initiator: sends message 1 along `to` (TCP hops resolved; it
 * should end at the peer's listener) and finishes call once the peer is
 * verified and trusted, with call->text "<encryptor> <their identifier>";
 * or fails it with OCK_ETIMEOUT after timeout_ms, the send's error, or
 * OCK_ECLOSED when the node closes first. OCK_ESTATE if the node has no
 * identity; OCK_EUNTRUSTED at once when the listener's identity is not one
 * the trust policy accepts. (A responder that refuses us says nothing: the
 * call times out, as with Ockam.) Cancelling call ends the handshake. */
void ock_sc_initiate(ock_node *n, const ock_route *to, const ock_sc_trust *trust, int timeout_ms, ock_call *call);
/* Starts a responder for message 1 (m, onward front at the listener) that
 * arrived at `listener`: the message goes on to the new channel's
 * decryptor_remote. Logs and drops it when the node has no identity or memory,
 * or already has OCK_SC_MAX_RESPONDING responders in handshake. */
void ock_sc_respond(ock_node *n, ock_msg *m, const ock_origin *from, const char *listener,
                    const ock_sc_trust *trust);
/* Closes the channel whose encryptor (or decryptor_remote) is addr, sending
 * Close to the peer when the channel is open. 0 or OCK_ENOENT. */
int ock_sc_close(ock_node *n, const char *addr);
/* Appends one line per channel: "encryptor decryptor_remote initiator|responder
 * handshake|open their_identifier|- listener|-". */
void ock_sc_list(ock_node *n, ock_buf *out);

#endif

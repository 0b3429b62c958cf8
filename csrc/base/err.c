#include "base/err.h"

#include <uv.h>

const char *ock_strerror(int code) {
  switch (code) {
  case OCK_OK: return "success";
  case OCK_EROUTE: return "malformed route";
  case OCK_ENONODE: return "unknown node";
  case OCK_ECLOSED: return "closed";
  case OCK_EPROTO: return "protocol error";
  case OCK_EEXIST: return "address already in use by a worker";
  case OCK_ETIMEOUT: return "timed out";
  case OCK_ETOOBIG: return "over the configured limit";
  case OCK_ENOENT: return "no such object";
  case OCK_EINVAL: return "invalid argument";
  case OCK_ENOMEM: return "out of memory";
  case OCK_ECANCELED: return "cancelled";
  case OCK_EBUSY: return "the previous ockam_py loop thread did not stop; restart the process";
  case OCK_EBADSIG: return "signature verification failed";
  case OCK_EIDENTITY: return "invalid identity change history";
  case OCK_EEXPIRED: return "expired or not yet valid";
  case OCK_EATTEST: return "purpose key attestation does not match";
  case OCK_EDECRYPT: return "decryption failed";
  case OCK_ENONCE: return "nonce replayed or out of window";
  case OCK_ECRYPTO: return "cryptographic library error";
  case OCK_ESTATE: return "invalid state for this operation";
  case OCK_EUNTRUSTED: return "identity not trusted";
  default: return uv_strerror(code);
  }
}

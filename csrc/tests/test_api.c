/* The command API (api/api.c). */
#include <string.h>

#include "api/api.h"
#include "base/err.h"
#include "codec/route.h"
#include "runtime/call.h"
#include "test.h"

/* A request whose payload cannot be copied fails with OCK_ENOMEM and says so;
 * it never goes out with an empty payload in its place. The length is one no
 * allocator grants (64 TiB), so the copy fails before it reads a byte. */
void test_api_request_without_memory_for_its_payload_fails(void) {
  static const uint8_t small[1];
  ock_route onward;
  ock_route_init(&onward);
  ock_route_push_back(&onward, OCK_TT_LOCAL, "echo", 4);
  ock_call *c = ock_api_request(1, &onward, small, (size_t)1 << 46, 1000);
  CHECK(c != NULL);
  if (!c) return;
  CHECK(ock_call_wait(c, 1000));
  CHECK_EQ(c->rc, OCK_ENOMEM);
  CHECK(strstr(c->err, "out of memory") != NULL);
  ock_call_unref(c);
}

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

/* Waits for c (a few seconds at most: a loaded machine) and returns its rc. */
static int wait_rc(ock_call *c) {
  CHECK(ock_call_wait(c, 10000));
  return c->rc;
}

/* Whether the listing in b (not NUL-terminated) holds line. */
static int has_line(const ock_buf *b, const char *line) {
  return b->len && memmem(b->data, b->len, line, strlen(line)) != NULL;
}

/* A request cancelled while it waits for its reply ends with OCK_ECANCELED at
 * once (not at its 60 s timeout) and leaves no pending request behind; a
 * cancel after the end changes nothing. */
void test_api_cancel_request(void) {
  ock_call *nc = ock_api_node_create("c-cancel-test", NULL, NULL, NULL, 0);
  CHECK(nc != NULL);
  if (!nc) return;
  CHECK_EQ(wait_rc(nc), 0);
  uint32_t node = (uint32_t)nc->u64;
  ock_call_unref(nc);
  ock_route onward;
  ock_route_init(&onward);
  ock_route_push_back(&onward, OCK_TT_LOCAL, "nobody", 6);
  ock_call *c = ock_api_request(node, &onward, "x", 1, 60000);
  ock_call *stats = ock_api_node_stats(node); /* after the request: the loop runs commands in order */
  CHECK_EQ(wait_rc(stats), 0);
  CHECK(has_line(&stats->out, "pending_requests 1\n"));
  ock_call_unref(stats);
  ock_api_cancel(c);
  CHECK_EQ(wait_rc(c), OCK_ECANCELED);
  ock_api_cancel(c); /* finished: nothing to do */
  ock_call_unref(c);
  stats = ock_api_node_stats(node);
  CHECK_EQ(wait_rc(stats), 0);
  CHECK(has_line(&stats->out, "pending_requests 0\n"));
  ock_call_unref(stats);
  ock_call *close = ock_api_node_close(node);
  CHECK_EQ(wait_rc(close), 0);
  ock_call_unref(close);
}

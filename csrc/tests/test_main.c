/* Runs every test in OCK_TESTS (test.h). Prints failures only, then one line
 * "N passed, N failed"; exits 1 when any test failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static const char *cur_test;
static int cur_fails;
#define MAX_PRINTED 8 /* per test: a failing loop should not flood the output */

static void announce(void) {
  if (cur_fails++ == 0) fprintf(stderr, "FAIL %s\n", cur_test);
}

void t_fail(const char *file, int line, const char *what) {
  announce();
  if (cur_fails <= MAX_PRINTED) fprintf(stderr, "  %s:%d: CHECK(%s)\n", file, line, what);
}

void t_fail_int(const char *file, int line, const char *what, long long got, long long want) {
  announce();
  if (cur_fails <= MAX_PRINTED)
    fprintf(stderr, "  %s:%d: CHECK(%s): got %lld, want %lld\n", file, line, what, got, want);
}

static void print_hex(const uint8_t *p, size_t n) {
  size_t shown = n > 64 ? 64 : n;
  for (size_t i = 0; i < shown; i++) fprintf(stderr, "%02x", p[i]);
  if (shown < n) fprintf(stderr, "... (%zu bytes)", n);
}

void t_fail_bytes(const char *file, int line, const char *what, const uint8_t *got, size_t gn,
                  const uint8_t *want, size_t wn) {
  announce();
  if (cur_fails > MAX_PRINTED) return;
  fprintf(stderr, "  %s:%d: CHECK(%s)\n    got  ", file, line, what);
  print_hex(got, gn);
  fprintf(stderr, "\n    want ");
  print_hex(want, wn);
  fprintf(stderr, "\n");
}

typedef struct {
  const char *name;
  void (*fn)(void);
} test_entry;

#define OCK_TEST_ENTRY(name) {#name, test_##name},
static const test_entry tests[] = {OCK_TESTS(OCK_TEST_ENTRY)};
#undef OCK_TEST_ENTRY

int main(int argc, char **argv) {
  int passed = 0, failed = 0;
  for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    /* optional filter: ./test_core NAME-SUBSTRING */
    if (argc > 1 && !strstr(tests[i].name, argv[1])) continue;
    cur_test = tests[i].name;
    cur_fails = 0;
    tests[i].fn();
    if (cur_fails) {
      if (cur_fails > MAX_PRINTED) fprintf(stderr, "  (%d more failures)\n", cur_fails - MAX_PRINTED);
      failed++;
    } else {
      passed++;
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

#include "base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

static _Atomic(ock_log_sink) g_sink;
static atomic_int g_min_level = OCK_LOG_INFO;

void ock_log_set_sink(ock_log_sink sink, int min_level) {
  atomic_store(&g_sink, sink);
  atomic_store(&g_min_level, min_level);
}

void ock_log(int level, const char *fmt, ...) {
  if (level < atomic_load(&g_min_level)) return;
  ock_log_sink sink = atomic_load(&g_sink);
  if (!sink && !getenv("OCKAM_PY_LOG")) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (sink)
    sink(level, line);
  else
    fprintf(stderr, "ockam_py: %s\n", line);
}

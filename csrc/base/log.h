/* Logging from the core. Lines go to a sink set by the embedder (the Python
 * skin queues them for Python's logging); without a sink they go to stderr
 * when OCKAM_PY_LOG is set. A sink must never block: it runs on the loop thread. */
#ifndef OCK_LOG_H
#define OCK_LOG_H

enum { OCK_LOG_DEBUG = 10, OCK_LOG_INFO = 20, OCK_LOG_WARN = 30, OCK_LOG_ERROR = 40 };

typedef void (*ock_log_sink)(int level, const char *line);

/* Sends lines of min_level and above to sink (any thread calls it; NULL: drop). */
void ock_log_set_sink(ock_log_sink sink, int min_level);
/* Formats one line (truncated at 511 bytes) and hands it to the sink. */
void ock_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define OCK_DEBUG(...) ock_log(OCK_LOG_DEBUG, __VA_ARGS__)
#define OCK_INFO(...) ock_log(OCK_LOG_INFO, __VA_ARGS__)
#define OCK_WARN(...) ock_log(OCK_LOG_WARN, __VA_ARGS__)
#define OCK_ERROR(...) ock_log(OCK_LOG_ERROR, __VA_ARGS__)

#endif

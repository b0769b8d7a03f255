/*
 * One-line log records on stderr with a UTC timestamp and a level. This is
 * where internal error text (PostgreSQL, libraries) goes; clients get codes.
 */
#ifndef VMDB_UTIL_LOG_H
#define VMDB_UTIL_LOG_H

#include <stdbool.h>

enum { VMDB_LOG_DEBUG, VMDB_LOG_INFO, VMDB_LOG_WARN, VMDB_LOG_ERROR };

/* JSON lines ({"ts","level","request_id"?,"msg"}) instead of text; call
 * once at start-up, before other threads log. */
void vmdb_log_set_json(bool json);
/* The calling thread's current request id (copied, cut to 64 bytes; NULL
 * or "" clears it): every line this thread logs carries it. */
void vmdb_log_set_request_id(const char *id);
const char *vmdb_log_request_id(void); /* "" when none */

void vmdb_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define LOG_INFO(...) vmdb_log(VMDB_LOG_INFO, __VA_ARGS__)
#define LOG_WARN(...) vmdb_log(VMDB_LOG_WARN, __VA_ARGS__)
#define LOG_ERROR(...) vmdb_log(VMDB_LOG_ERROR, __VA_ARGS__)

#endif

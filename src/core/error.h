/*
 * Internal helpers for the thread-local error message. Every failing public
 * function records one line through vmdb_error_set before returning.
 */
#ifndef VMDB_CORE_ERROR_H
#define VMDB_CORE_ERROR_H

#include "vmdb/common.h"

/* Records `fmt` as this thread's last error and returns `code`, so a caller
 * can write `return vmdb_error_set(VMDB_EINVAL, "...")`. */
int vmdb_error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vmdb_error_clear(void);

#endif

/*
 * Whole-file helpers for the small state files vmdb keeps beside its data
 * (the identity key, the trusted state, the Solana anchor's record): read a
 * file whole into a capped buffer, and replace a file atomically and
 * durably, so that a crash leaves either the old or the new contents.
 */
#ifndef VMDB_UTIL_FILE_H
#define VMDB_UTIL_FILE_H

#include <stddef.h>

#include "vmdb/common.h"

/* Reads the whole file at `path` into `out`, replacing what `out` held
 * (out->len is set to the file's size) and NUL-terminating it after len.
 * `out` stays owned by the caller (vmdb_buf_free), on error too; its
 * out->max still applies. Errors (with a message in vmdb_error_last()):
 * VMDB_ENOTFOUND (no such file), VMDB_ELIMIT (larger than `max` bytes, or
 * than out->max allows), VMDB_ENOMEM, VMDB_EIO (any other failure to open
 * or read). On error out->len is 0. */
int vmdb_file_read(const char *path, vmdb_buf *out, size_t max);

/* Writes `len` bytes of `data` to `path` atomically and durably: a temp
 * file in the same directory ("<path>.tmp"), fsync, rename over `path`,
 * fsync of the directory. `mode` is used for the new file. 0, VMDB_ENOMEM,
 * or VMDB_EIO (logged; the temp file is removed). */
int vmdb_file_write_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* "dir/name" in a new allocation (the caller frees it); NULL when out of
 * memory. */
char *vmdb_file_path(const char *dir, const char *name);

#endif

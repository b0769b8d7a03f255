/*
 * Text building on vmdb_buf: printf-style appends, NUL termination, SQL
 * identifier quoting and a small JSON writer for responses. Every function
 * returns 0 or a negative vmdb_err (VMDB_ENOMEM, VMDB_ELIMIT), so callers can
 * chain them and check once.
 */
#ifndef VMDB_UTIL_SB_H
#define VMDB_UTIL_SB_H

#include "vmdb/common.h"

int vmdb_sb_printf(vmdb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int vmdb_sb_puts(vmdb_buf *b, const char *s);
/* Makes ptr a C string (NUL after len, len unchanged). */
int vmdb_sb_cstr(vmdb_buf *b);
/* Appends "ident" with embedded quotes doubled. */
int vmdb_sb_ident(vmdb_buf *b, const char *ident);
/* Appends a JSON string literal (JCS escaping); invalid UTF-8 is replaced by
 * U+FFFD so that logging-derived text can never break the document. */
int vmdb_sb_jstr(vmdb_buf *b, const char *s, size_t n);
int vmdb_sb_jstrz(vmdb_buf *b, const char *s);
/* Appends a JSON array of the n C strings in v. */
int vmdb_sb_jstrs(vmdb_buf *b, const char *const *v, size_t n);
/* Appends the lower-case hex of `n` bytes as a JSON string. 0 or the
 * buffer's error. */
int vmdb_sb_jhex(vmdb_buf *b, const uint8_t *p, size_t n);
/* The same for a 32-byte hash. */
int vmdb_sb_jhex32(vmdb_buf *b, const uint8_t h[32]);
/* Appends one element of a PostgreSQL array literal: "..." with \ and " escaped. */
int vmdb_sb_pgarr_elem(vmdb_buf *b, const char *s, size_t n);

#endif

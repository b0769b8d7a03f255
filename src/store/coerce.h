/*
 * Coercion of client values to column types (seed §3.1, with the fixes of
 * docs/COMPATIBILITY.md): every value becomes the PostgreSQL text of the
 * column's type or SQL NULL, bound as a text parameter with an explicit
 * cast. Errors are collected, not fail-fast, as the seed's FieldError list.
 */
#ifndef VMDB_STORE_COERCE_H
#define VMDB_STORE_COERCE_H

#include "store/model.h"
#include "util/arena.h"

typedef struct vmdb_cval {
    const vmdb_column *col; /* the column (the model's or a synthesised pk column) */
    const char *text;       /* NULL: SQL NULL */
} vmdb_cval;

typedef struct vmdb_crec {
    vmdb_cval *v; /* sorted by column name */
    size_t n;
    const char *pk_text; /* canonical key text when the key was supplied */
} vmdb_crec;

/* Coerces one value. On success *out is arena text (or NULL for null).
 * On mismatch returns VMDB_EINVAL with *got the JSON type name. */
int vmdb_coerce_value(vmdb_arena *a, vmdb_ctype t, const vmdb_json *v, const char **out,
                      const char **got);

/* Canonical text of a key given as a string (read/delete ids): integers
 * without sign or leading zeros, uuids lower case. VMDB_EINVAL if the text
 * cannot be a key of that type. */
int vmdb_coerce_key(vmdb_arena *a, vmdb_ctype t, const char *s, size_t n, const char **out);

/* One problem with one value (the seed's FieldError, §3.3). */
typedef struct vmdb_field_error {
    size_t index;         /* the record's (0 for a where filter) */
    const char *field;    /* arena text */
    const char *expected; /* a type name, "column", "present", "object" (static) */
    const char *got;      /* a JSON type name, "unknown", "missing", "duplicate" (static) */
    const vmdb_json
        *value; /* the offending value (lives with the request's document); NULL: none */
} vmdb_field_error;

#define VMDB_FIELD_ERRORS_KEPT 1000 /* enough to act on; keeps the answer bounded */

/* The problems found, in order; the first VMDB_FIELD_ERRORS_KEPT are kept,
 * all are counted. Zero-initialise. */
typedef struct vmdb_field_errors {
    vmdb_field_error *v;
    size_t n, cap; /* kept */
    size_t total;  /* found */
} vmdb_field_errors;

/* Records one problem (`field` copied into the arena). 0 or VMDB_ENOMEM. */
int vmdb_field_errors_add(vmdb_arena *a, vmdb_field_errors *e, size_t index, const char *field,
                          const char *expected, const char *got, const vmdb_json *value);

/* Coerces every record of `records` (a JSON array) for model `m` into
 * *out; each problem is added to `errors` (see errors->total). `need_pk`: a
 * record without the key is an error (upsert). Returns VMDB_ENOMEM only. */
int vmdb_coerce_records(vmdb_arena *a, const vmdb_model *m, const vmdb_json *records, bool need_pk,
                        vmdb_crec **out, vmdb_field_errors *errors);

#endif

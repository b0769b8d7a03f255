/*
 * A strict, capped JSON parser (RFC 8259) and RFC 8785 canonical JSON (JCS)
 * writer. Row values are hashed as JCS bytes, so this is where two
 * implementations must agree byte for byte. The parser keeps what JCS needs
 * and rejects what would make a hash ambiguous: invalid UTF-8, lone
 * surrogates, duplicate object keys, and numbers whose decimal text does not
 * survive the trip through an IEEE-754 double exactly (for example integers
 * beyond 2^53 that are not exactly representable). No jansson here: the
 * verifier library stays libcrypto + libsodium only.
 */
#ifndef VMDB_JSON_H
#define VMDB_JSON_H

#include "vmdb/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vmdb_json_type {
    VMDB_JSON_NULL,
    VMDB_JSON_FALSE,
    VMDB_JSON_TRUE,
    VMDB_JSON_NUMBER,
    VMDB_JSON_STRING,
    VMDB_JSON_ARRAY,
    VMDB_JSON_OBJECT,
} vmdb_json_type;

typedef struct vmdb_json vmdb_json;         /* a value inside a document */
typedef struct vmdb_json_doc vmdb_json_doc; /* owns every value it parsed */

typedef struct vmdb_json_limits {
    size_t max_bytes; /* input size cap (0: 16 MiB) */
    size_t max_depth; /* nesting cap (0: 128) */
} vmdb_json_limits;

/* Parses `in` (UTF-8 JSON text, any value at top level, surrounding
 * whitespace allowed). `*out` is owned by the caller (vmdb_json_doc_free).
 * Errors: VMDB_EPARSE (syntax, UTF-8, duplicate key), VMDB_ERANGE (a number
 * that does not round-trip exactly), VMDB_ELIMIT (size/depth), VMDB_ENOMEM. */
int vmdb_json_parse(vmdb_json_doc **out, vmdb_slice in, const vmdb_json_limits *lim);
void vmdb_json_doc_free(vmdb_json_doc *doc);
const vmdb_json *vmdb_json_doc_root(const vmdb_json_doc *doc);

vmdb_json_type vmdb_json_typeof(const vmdb_json *v);
/* The type's name as the API spells it in field errors: "null", "bool",
 * "number", "string", "array" or "object" (NULL counts as "object"). */
const char *vmdb_json_type_name(const vmdb_json *v);
/* True for a number written without fraction or exponent ("5", not "5.0"). */
bool vmdb_json_is_integer_literal(const vmdb_json *v);
/* Number value (0 if not a number). */
double vmdb_json_number(const vmdb_json *v);
/* String bytes (UTF-8, may contain NUL), or {NULL,0} if not a string. */
vmdb_slice vmdb_json_string(const vmdb_json *v);
/* Element count of an array or member count of an object, else 0. */
size_t vmdb_json_size(const vmdb_json *v);
/* i-th array element, or NULL. */
const vmdb_json *vmdb_json_at(const vmdb_json *v, size_t i);
/* i-th object member in JCS order (UTF-16 code-unit order of the keys). */
vmdb_slice vmdb_json_key_at(const vmdb_json *v, size_t i);
const vmdb_json *vmdb_json_value_at(const vmdb_json *v, size_t i);
/* Member lookup by key (NUL-terminated), or NULL. */
const vmdb_json *vmdb_json_get(const vmdb_json *v, const char *key);

/* Appends the RFC 8785 form of `v` to `out`. Errors: VMDB_ENOMEM,
 * VMDB_ELIMIT (out->max). On error out->len is restored. */
int vmdb_jcs_write(vmdb_buf *out, const vmdb_json *v);
/* Parses `in` and appends its canonical form. Errors as vmdb_json_parse. */
int vmdb_jcs_canonicalize(vmdb_buf *out, vmdb_slice in, const vmdb_json_limits *lim);
/* Appends the ECMAScript Number::toString form of a finite double (the JCS
 * number form). VMDB_EINVAL for NaN/Infinity. */
int vmdb_jcs_number(vmdb_buf *out, double d);
/* Appends `s` as a JCS string literal (quotes, minimal escapes). `s` must
 * be valid UTF-8 (VMDB_EPARSE otherwise). */
int vmdb_jcs_string(vmdb_buf *out, vmdb_slice s);

#ifdef __cplusplus
}
#endif
#endif

/*
 * Models: the tables vmdb manages, as the apply-schema request declares them
 * (TableSpec / ColumnSpec of the seed) and as the registry tables persist
 * them. One type map serves every path: a column's type is decided once,
 * here, whether the model was just applied or reloaded after a restart.
 * Also: identifier rules, normalisation and the schema hash, the DDL text and
 * the row projection that turns a stored row into the JSON that is hashed.
 */
#ifndef VMDB_STORE_MODEL_H
#define VMDB_STORE_MODEL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "vmdb/common.h"
#include "vmdb/json.h"

typedef enum vmdb_ctype {
    VMDB_T_TEXT,
    VMDB_T_INT,
    VMDB_T_BIGINT,
    VMDB_T_BOOL,
    VMDB_T_JSONB,
    VMDB_T_TIMESTAMPTZ,
    VMDB_T_UUID,
    VMDB_T_NUMERIC, /* numeric/decimal: travels as text */
    VMDB_T_OTHER,   /* any other SQL type (after a migration): bound untyped */
} vmdb_ctype;

/* How a column's value travels into the hashed row (PROTOCOL.md §2.2),
 * decided by the column's PostgreSQL type: as row_to_json writes it, as its
 * text, as an array of element texts, or as text that the row hashing
 * turns into the nested JSON value or the {"$jsonb": T} wrapper. */
typedef enum vmdb_vclass {
    VMDB_V_PLAIN,      /* row_to_json's own form */
    VMDB_V_TEXT,       /* ::text (bigint, numeric, any type §2.2 does not list) */
    VMDB_V_TEXT_ARRAY, /* ::text[] (bigint[], numeric[]) */
    VMDB_V_JSON,       /* ::text, then vmdb_row_json_column (json, jsonb) */
} vmdb_vclass;

typedef enum vmdb_pkkind {
    VMDB_PK_SERIAL,
    VMDB_PK_BIG_SERIAL,
    VMDB_PK_TEXT,
    VMDB_PK_INT,
    VMDB_PK_BIG_INT,
    VMDB_PK_UUID,
} vmdb_pkkind;

typedef struct vmdb_column {
    char *name;      /* lower case, validated */
    char *type_name; /* spelling as declared/stored (col_type) */
    vmdb_ctype type;
    vmdb_vclass vclass; /* from the live PostgreSQL type when known */
    bool nullable, unique;
} vmdb_column;

typedef struct vmdb_model {
    char *table;
    char *pk;
    vmdb_pkkind pk_kind;
    vmdb_ctype pk_type;
    vmdb_column *cols; /* declared columns, normalised order (may name the pk) */
    size_t ncols;
    char *ddl;
    /* t."id"::text AS "id", ... over alias t: every column, pk first */
    char *proj;
    /* The names of the columns of class VMDB_V_JSON (pointers into cols);
     * a row of a model without any is hashed without the substitution. */
    const char **json_cols;
    size_t njson;
} vmdb_model;

/* An immutable, reference-counted set of models. */
typedef struct vmdb_registry {
    atomic_int refs;
    vmdb_model *models;
    size_t n;
    char schema_hash[65]; /* "" when none stored */
} vmdb_registry;

/* Names and casts. */
const char *vmdb_ctype_name(vmdb_ctype t);           /* "int", "bigint", ... */
const char *vmdb_ctype_cast(vmdb_ctype t);           /* "::int4" or "" */
const char *vmdb_pkkind_request_name(vmdb_pkkind k); /* "big_serial" */
const char *vmdb_pkkind_stored_name(vmdb_pkkind k);  /* "bigserial" */
const char *vmdb_pk_array_cast(const vmdb_model *m); /* "int4", "int8", "text", "uuid" */
/* Maps a col_type / information-schema spelling to a type. */
vmdb_ctype vmdb_ctype_from_name(const char *s);
/* The §2.2 class of a PostgreSQL type, given as format_type() spells it
 * ("bigint[]", "timestamp with time zone") or as a col_type ("big_int").
 * The one place that decides how a value is hashed. */
vmdb_vclass vmdb_vclass_from_type(const char *s);

/* Identifier rule of the seed plus: at most 63 bytes. */
bool vmdb_ident_valid(const char *s, size_t n);

/* The type of column `name` of `m` (primary key included); NULL if unknown.
 * For the key itself (when no declared column shares its name) the column
 * is synthesised into `pkcol` (may be NULL: then the key is not found). */
const vmdb_column *vmdb_model_column(const vmdb_model *m, const char *name, vmdb_column *pkcol);

/* Parses and validates the `tables` array of an apply-schema request into a
 * normalised registry (sorted as sent, then lower-cased, DDL and projection
 * built, schema hash computed). On failure `msg` says why and the result
 * is VMDB_EPARSE (the shape is wrong: the message is the seed's
 * deserialisation text), VMDB_EINVAL (identifiers, duplicates, limits: the
 * message says which) or VMDB_ENOMEM. */
int vmdb_registry_from_request(vmdb_registry **out, const vmdb_json *tables, char *msg,
                               size_t msglen);

/* Builds a registry from the rows of verifiable_models: table, pk field, pk
 * kind (stored spelling), columns JSON text, and `types_json` (may be
 * NULL): a JSON object of the table's live column types {name:
 * format_type}, which decides each column's vclass over what col_type
 * says (a column altered by hand hashes by its real type). Rows that do
 * not validate are skipped with a log line (the database is not trusted
 * to be well formed). */
typedef struct vmdb_model_row {
    const char *table, *pk, *pk_kind, *columns_json, *types_json;
} vmdb_model_row;
int vmdb_registry_from_rows(vmdb_registry **out, const vmdb_model_row *rows, size_t n,
                            const char *schema_hash);

/* The normalised registry as the JSON array the schema hash covers. */
int vmdb_registry_spec_json(const vmdb_registry *r, vmdb_buf *out);
/* One model's columns as the JSON array stored in verifiable_models.columns. */
int vmdb_model_columns_json(const vmdb_model *m, vmdb_buf *out);

const vmdb_model *vmdb_registry_find(const vmdb_registry *r, const char *table);
vmdb_registry *vmdb_registry_ref(vmdb_registry *r);
void vmdb_registry_unref(vmdb_registry *r);

#endif

/*
 * What the engine hands back: typed results and failures, never HTTP
 * statuses or JSON. src/server renders them; its one table maps each
 * failure kind to an HTTP status and an error code (server/render.c).
 *
 * The contract, for every function that takes a result or a vmdb_fail out
 * parameter: it returns 0 with the failure kind VMDB_FAIL_NONE, or a
 * negative vmdb_err with the failure filled in (kind and client message).
 * vmdb_fail_check asserts it in debug builds.
 *
 * Memory: a result's arrays and strings live in the request's arena, which
 * the caller passes in and frees after rendering.
 */
#ifndef VMDB_STORE_RESULT_H
#define VMDB_STORE_RESULT_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/coerce.h"
#include "trust/chain.h"
#include "trust/status.h"
#include "util/arena.h"
#include "util/histo.h"
#include "vmdb/header.h"
#include "vmdb/proof.h"

/* Every failure the API can answer with. The engine uses the first group;
 * the second is the request checks of src/server, in the same enum so that
 * one table renders them all. */
typedef enum vmdb_fail_kind {
    VMDB_FAIL_NONE = 0,
    /* engine */
    VMDB_FAIL_INTERNAL,           /* out of memory, or a bug */
    VMDB_FAIL_DATABASE,           /* PostgreSQL failed in a way the client cannot fix */
    VMDB_FAIL_DB_UNAVAILABLE,     /* PostgreSQL cannot be reached (or timed out) */
    VMDB_FAIL_COMMIT_UNKNOWN,     /* the connection died during the COMMIT: it may have committed */
    VMDB_FAIL_WRITES_UNAVAILABLE, /* writes are refused (the status says why) */
    VMDB_FAIL_CONSTRAINT,         /* a unique, not-null, foreign key or check constraint */
    VMDB_FAIL_DUPLICATE_ID,       /* the same key twice in one request */
    VMDB_FAIL_INVALID_VALUE,      /* a value PostgreSQL refused */
    VMDB_FAIL_INTEGRITY,          /* rows or leaves differ from the tree (ids) */
    VMDB_FAIL_ROOT_CHANGED,       /* expected_root is not the root (roots) */
    VMDB_FAIL_NOT_FOUND,
    VMDB_FAIL_MODEL_NOT_REGISTERED,
    VMDB_FAIL_ROLLBACK_DETECTED,
    VMDB_FAIL_HISTORY_BROKEN,
    VMDB_FAIL_TABLE_NOT_MANAGED,
    VMDB_FAIL_INVALID_SCHEMA,
    VMDB_FAIL_NO_MODELS,
    VMDB_FAIL_MIGRATION_FAILED,
    VMDB_FAIL_MIGRATION_CHANGED,
    VMDB_FAIL_REPAIR_CHANGES_ROWS, /* 409: a repair would change leaves; not accepted */
    /* request checks (src/server) */
    VMDB_FAIL_BODY_SHAPE,        /* 422: the body is not the route's type (seed wording) */
    VMDB_FAIL_BODY_SYNTAX,       /* 400: not JSON (POST /api/execute) */
    VMDB_FAIL_MEDIA_TYPE,        /* 415 (POST /api/execute) */
    VMDB_FAIL_PAYLOAD_TOO_LARGE, /* 413 (POST /api/execute) */
    VMDB_FAIL_VALIDATION,        /* field errors */
    VMDB_FAIL_EMPTY_RECORDS,
    VMDB_FAIL_UPSERT_NO_FIELDS,
    VMDB_FAIL_TOO_MANY_IDS,
    VMDB_FAIL_INVALID_LIMIT,
    VMDB_FAIL_INVALID_WHERE,
    VMDB_FAIL_INVALID_ORDER_BY,
    VMDB_FAIL_INVALID_EXPECTED_ROOT,
    VMDB_FAIL_INVALID_PAYLOAD,
    VMDB_FAIL_CONFIRM_REQUIRED,
    VMDB_FAIL_INVALID_SEQ,
    VMDB_FAIL_INVALID_RANGE, /* /api/roots/proof: not from <= to <= newest seq */
    VMDB_FAIL_NO_TRANSITION, /* /api/roots/{seq}/transition: header seq has no record */
    VMDB_FAIL_BAD_REQUEST,   /* 400: HTTP framing refused (Content-Length with Transfer-Encoding) */
    VMDB_FAIL_ROUTE_NOT_FOUND,
    VMDB_FAIL_METHOD_NOT_ALLOWED,
    VMDB_FAIL_UNAUTHORIZED, /* 401: no API key, or not a valid one */
    VMDB_FAIL_FORBIDDEN,    /* 403: the key's role or tables do not cover the route */
    VMDB_FAIL_KIND_COUNT
} vmdb_fail_kind;

typedef struct vmdb_fail {
    vmdb_fail_kind kind;
    char msg[512]; /* for the client: never PostgreSQL's or a library's text */
    /* Details, by kind (arrays in the request's arena). */
    const char *const *ids; /* INTEGRITY: the keys that did not verify */
    size_t nids;
    uint8_t current_root[32], expected_root[32]; /* ROOT_CHANGED */
    const vmdb_field_errors *errors;             /* VALIDATION */
} vmdb_fail;

/* Sets kind and a printf-style message; clears the details. Returns the
 * vmdb_err that matches the kind, so that `return vmdb_fail_set(...)` keeps
 * the contract. */
int vmdb_fail_set(vmdb_fail *f, vmdb_fail_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The failure for a statement PostgreSQL refused with `sqlstate` ("" when
 * the connection failed). Returns as vmdb_fail_set. */
int vmdb_fail_sqlstate(vmdb_fail *f, const char *sqlstate);
/* The vmdb_err that matches f->kind (0 for VMDB_FAIL_NONE). */
int vmdb_fail_err(const vmdb_fail *f);
/* INTEGRITY with the seed's message and `ids`. Returns VMDB_EVERIFY. */
int vmdb_fail_integrity(vmdb_fail *f, const char *const *ids, size_t nids);

/* The contract check: rc is 0 exactly when nothing failed. Returns rc. */
static inline int vmdb_fail_check(int rc, const vmdb_fail *f)
{
    assert((rc == 0) == (f->kind == VMDB_FAIL_NONE));
    (void)f;
    return rc;
}

/* ---- rows ---------------------------------------------------------------- */

/* One stored row as it was checked against the tree (or written to it). */
typedef struct vmdb_row {
    const char *id;   /* the key as PostgreSQL's ::text renders it */
    const char *json; /* the canonical row (RFC 8785): what the leaf's value hashes */
    size_t json_len;
    uint8_t key[32], value[32]; /* the leaf */
} vmdb_row;

/* Fills `row` with copies (in `ar`) of the key text and the canonical row,
 * and the leaf. 0 or VMDB_ENOMEM. */
int vmdb_row_set(vmdb_row *row, vmdb_arena *ar, const char *id, const vmdb_buf *jcs,
                 const uint8_t key[32], const uint8_t value[32]);

/* The complete part of a read-latest's proof (PROTOCOL.md §10): the id
 * range of the table in the version the rows were checked against. Its gap
 * ids are among the proof's absent ids. */
typedef struct vmdb_proof_complete {
    bool has; /* the answer is complete: data.complete and proof.complete */
    bool asc; /* the order: "asc" or "desc" */
    unsigned limit;
    char lo[24], hi[24]; /* decimal, as §1 writes the ids */
    uint8_t range_key[32];
} vmdb_proof_complete;

/* The proof of an answer (PROTOCOL.md §9), when the request asked for one.
 * `present` is the result's rows (create, upsert, reads; none for delete),
 * so only what the rows do not carry is here. Arrays live in the request's
 * arena. */
typedef struct vmdb_proof_out {
    bool has;               /* built: the answer carries data.proof */
    vmdb_sheader header;    /* the header the answer is checked against */
    const char *table, *pk; /* the model's table and primary key column */
    const char **absent;    /* ids proven absent, as the answer writes them */
    const uint8_t (*absent_keys)[32];
    size_t nabsent;
    const uint8_t (*keys)[32]; /* the multiproof's keys: ascending, distinct */
    size_t nkeys;
    const uint8_t *multiproof; /* PROTOCOL.md §5 bytes */
    size_t multiproof_len;
    vmdb_proof_complete complete; /* read-latest only */
} vmdb_proof_out;

/* The tree version rows were checked against. */
typedef struct vmdb_checked {
    uint64_t seq;
    uint8_t root[32];
    bool has_header; /* the signed header of seq, when this process still has it */
    vmdb_sheader header;
} vmdb_checked;

typedef struct vmdb_read_result {
    vmdb_fail fail;
    vmdb_row *rows; /* read-batch: in the table's order; read-latest: in the requested order */
    size_t nrows;
    const char **missing; /* read-batch: requested ids absent from table and tree */
    size_t nmissing;
    vmdb_checked at;
    vmdb_proof_out proof;
} vmdb_read_result;

typedef struct vmdb_write_result {
    vmdb_fail fail;
    /* create/upsert: the stored rows, in the request's order; delete: the
     * deleted rows (as they were) */
    vmdb_row *rows;
    size_t nrows;
    const char **missing; /* delete: ids that were not there */
    size_t nmissing;
    vmdb_sheader header;  /* the header the write was committed under */
    bool committed;       /* anchored before the answer (BATCH_COMMIT_SIZE boundary) */
    vmdb_proof_out proof; /* against `header` */
} vmdb_write_result;

/* ---- administration ------------------------------------------------------- */

/* At most this many changes are listed in a repair's answer; all are
 * committed through the diff root (PROTOCOL.md §14). */
#define VMDB_REPAIR_LIST_MAX 1000

/* One leaf on which a repair's rebuilt tree differs from the current one. */
typedef struct vmdb_leaf_change {
    uint8_t key[32], old_value[32], new_value[32]; /* an absent value is all zero */
    bool has_old, has_new;
    const char *table, *id; /* the row's, when it was rescanned (NULL otherwise) */
} vmdb_leaf_change;

/* What the request allows a repair to do. */
typedef struct vmdb_repair_opts {
    bool dry_run;        /* only compute and list the changes */
    bool accept_changes; /* the changes may be committed */
    bool has_expect;     /* commit only if the diff root is expect_diff_root */
    uint8_t expect_diff_root[32];
} vmdb_repair_opts;

typedef struct vmdb_admin_result {
    vmdb_fail fail;
    uint64_t seq;                       /* the seq of the transition (0: none written) */
    uint8_t root[32];                   /* the new root */
    uint8_t old_root[32], old_main[32]; /* repair, migrate */
    size_t leaves;                      /* repair, migrate: leaves rebuilt */
    bool reset;                         /* apply-schema: a reset was performed */
    char schema_hash[65];               /* apply-schema */
    const char **names;                 /* apply-schema: the tables; migrate: the files applied */
    size_t nnames;
    /* repair: the diff of the rebuilt tree against the current one */
    vmdb_leaf_change *changes; /* the first VMDB_REPAIR_LIST_MAX, ascending key (request arena) */
    size_t nchanges;           /* listed */
    uint64_t nchanged;         /* all */
    uint8_t diff_root[32];
    bool dry_run; /* repair: nothing was written */
} vmdb_admin_result;

/* ---- state and identity ---------------------------------------------------- */

typedef struct vmdb_health {
    bool db_ok;
    uint64_t seq, leaves; /* the newest published version */
    uint8_t root[32];
    vmdb_status_view status; /* violations and why writes are refused */
    const char *anchor_kind;
    vmdb_chain_view chain; /* the newest and the anchored header, the backlog, the backend */
} vmdb_health;

/* The gauges of GET /metrics, from memory only (no database call). */
typedef struct vmdb_metrics_info {
    uint64_t leaves;     /* the newest published tree version's */
    bool has_tip;        /* a signed header exists */
    uint64_t header_seq; /* the newest signed header's */
    bool has_anchored;
    uint64_t anchored_seq;
    uint64_t anchored_at_ms; /* unix ms */
    uint64_t backlog;        /* headers not yet anchored */
    uint64_t violations;     /* integrity violations since start */
    bool blocked[VMDB_BLOCK_COUNT];
    unsigned pool_size, pool_in_use;        /* the read pool's connections */
    vmdb_histo_snap group_reqs, group_rows; /* committed groups */
} vmdb_metrics_info;

typedef struct vmdb_schema_column {
    const char *name, *data_type;
    bool nullable;
    const char *default_expr; /* NULL: none */
} vmdb_schema_column;

typedef struct vmdb_schema_table {
    const char *name;
    vmdb_schema_column *columns;
    size_t ncolumns;
    const char **primary_key;
    size_t npk;
} vmdb_schema_table;

typedef struct vmdb_schema_info {
    vmdb_fail fail;
    vmdb_schema_table *tables;
    size_t ntables;
} vmdb_schema_info;

typedef struct vmdb_identity_info {
    const char *address, *public_key, *anchor; /* live as long as the engine */
} vmdb_identity_info;

typedef struct vmdb_roots_info {
    vmdb_fail fail;
    const char *anchor, *public_key;
    bool has_anchored;
    vmdb_sheader anchored, header;
    uint64_t backlog;
    char kind[32]; /* /api/roots/{seq}: the kind of transition */
} vmdb_roots_info;

/* GET /api/roots/{seq}/transition (PROTOCOL.md §14.2). */
typedef struct vmdb_transition_info {
    vmdb_fail fail;
    vmdb_sheader header; /* header seq, checked against the verified history */
    char kind[32];
    const char *record; /* its canonical JSON, as committed (request arena) */
    size_t record_len;
    uint8_t key[32], value[32]; /* the record's leaf */
    vmdb_proof proof;           /* against header.h.smt_root */
} vmdb_transition_info;

typedef struct vmdb_history_info {
    vmdb_fail fail;
    vmdb_history_proof proof;
} vmdb_history_info;

typedef struct vmdb_checkpoint_info {
    vmdb_fail fail;
    char note[1024]; /* the whole signed note (origin <= VMDB_NOTE_MAX_NAME bytes) */
    size_t len;
} vmdb_checkpoint_info;

#endif

/*
 * The engine: PostgreSQL plus the in-memory tree, kept in step. It owns the
 * connections (one writer, a pool for reads, one for the instance lock), the
 * tree and its recent versions, the model registry, and the writer thread
 * that gathers concurrent writes into one transaction (group commit, one
 * SAVEPOINT per request). Every operation answers through a vmdb_answer:
 * an HTTP status, an error code and message, and the JSON of `data`. The
 * engine knows nothing of HTTP beyond those numbers.
 */
#ifndef VMDB_STORE_ENGINE_H
#define VMDB_STORE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/coerce.h"
#include "store/model.h"

typedef struct vmdb_engine vmdb_engine;

typedef enum vmdb_anchor_kind { VMDB_ANCHOR_LOCAL, VMDB_ANCHOR_SOLANA } vmdb_anchor_kind;

typedef struct vmdb_engine_config {
    const char *database_url;
    uint64_t batch_commit_size; /* >= 1 */
    bool allow_multi_instance;
    unsigned read_pool; /* read connections */
    unsigned max_group; /* write requests per transaction */
    const char *migrations_dir;
    const char *data_dir;       /* trusted_state.json and the local anchor live here */
    const char *identity_path;  /* default <data_dir>/identity.json */
    unsigned anchor_interval_s; /* anchor a backlog at least this often (default 30) */
    vmdb_anchor_kind anchor;
    bool verify_rows;             /* start-up: hash every row, not a sample */
    const char *solana_rpc_url;   /* VMDB_ANCHOR_SOLANA */
    const char *solana_fee_payer; /* keypair file, or NULL: the identity pays */
    int solana_commitment;        /* vmdb_sol_commitment */
} vmdb_engine_config;

typedef struct vmdb_answer {
    int status;       /* HTTP status */
    const char *code; /* NULL on success */
    char error[512];  /* message on failure */
    vmdb_buf data;    /* JSON of `data`, empty when absent */
    bool bare;        /* data is the whole body (GET /bootstrap/schema) */
} vmdb_answer;

/* Sets a failure: status, code and a printf-style message. */
void vmdb_answer_fail(vmdb_answer *a, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

typedef enum vmdb_wkind { VMDB_W_CREATE, VMDB_W_UPSERT, VMDB_W_DELETE } vmdb_wkind;

typedef struct vmdb_write {
    vmdb_wkind kind;
    const vmdb_model *model; /* from a registry the caller holds a reference to */
    vmdb_crec *recs;         /* create/upsert */
    size_t nrecs;
    const char **ids; /* delete: canonical key texts, distinct */
    size_t nids;
    bool has_expected;
    uint8_t expected[32];
} vmdb_write;

typedef struct vmdb_where {
    const vmdb_column *col;
    const char *text; /* NULL: IS NULL */
} vmdb_where;

/* Opens the engine: connects, creates the internal tables, takes the
 * instance lock, loads the registry and the leaves, builds the tree, starts
 * the writer. Errors: VMDB_EIO (database), VMDB_EBUSY (another instance
 * holds the lock), VMDB_ENOMEM, VMDB_EINVAL (corrupt leaves). */
int vmdb_engine_open(vmdb_engine **out, const vmdb_engine_config *cfg);
/* Stops the writer (queued writes are answered first) and frees everything. */
void vmdb_engine_close(vmdb_engine *e);

/* The model registry (a reference: vmdb_registry_unref). On a miss the
 * registry is reloaded from the database first, as the seed does. */
int vmdb_engine_resolve(vmdb_engine *e, const char *table, vmdb_registry **reg,
                        const vmdb_model **model);

void vmdb_engine_write(vmdb_engine *e, const vmdb_write *w, vmdb_answer *ans);
/* `echo` (may be NULL): JSON text answered as `ids` instead of the rows' ids. */
void vmdb_engine_read_batch(vmdb_engine *e, const vmdb_model *m, const char *const *ids,
                            size_t nids, const char *echo, vmdb_answer *ans);
void vmdb_engine_read_latest(vmdb_engine *e, const vmdb_model *m, const vmdb_where *w, size_t nw,
                             const vmdb_column *order, bool asc, unsigned limit, vmdb_answer *ans);
/* `spec` is taken over (unref'ed by the engine). */
void vmdb_engine_apply_schema(vmdb_engine *e, vmdb_registry *spec, bool force_reset,
                              vmdb_answer *ans);
void vmdb_engine_clear(vmdb_engine *e, vmdb_answer *ans);
void vmdb_engine_repair(vmdb_engine *e, vmdb_answer *ans);
void vmdb_engine_migrate(vmdb_engine *e, vmdb_answer *ans);
void vmdb_engine_health(vmdb_engine *e, vmdb_answer *ans);
void vmdb_engine_schema(vmdb_engine *e, vmdb_answer *ans);
/* GET /api/identity, /api/roots/latest, /api/roots/{seq}. */
void vmdb_engine_identity(vmdb_engine *e, vmdb_answer *ans);
void vmdb_engine_roots_latest(vmdb_engine *e, vmdb_answer *ans);
void vmdb_engine_roots_get(vmdb_engine *e, uint64_t seq, vmdb_answer *ans);

#endif

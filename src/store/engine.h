/*
 * The engine: PostgreSQL and the in-memory tree kept in step, behind the
 * calls src/server makes. engine.c only opens, wires and closes the
 * components (store/parts.h, store/writer.h, store/instlock.h); each call
 * below lives with the part it belongs to: rows (resolve, write, verified
 * reads) in access.c, administration in admin.c, state and identity in
 * info.c.
 *
 * Every call follows store/result.h's contract: 0 with nothing failed, or a
 * negative vmdb_err with the result's `fail` filled. Results hold no HTTP
 * statuses and no JSON; their arrays and strings live in the arena the
 * caller passes and frees.
 */
#ifndef VMDB_STORE_ENGINE_H
#define VMDB_STORE_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/coerce.h"
#include "store/model.h"
#include "store/result.h"
#include "store/writer.h"
#include "util/arena.h"

typedef struct vmdb_engine vmdb_engine;

typedef struct vmdb_engine_config {
    const char *database_url;
    uint64_t batch_commit_size; /* >= 1 */
    bool allow_multi_instance;
    unsigned read_pool; /* read connections */
    /* Shared read-batch statements in flight at once (db/pgshare.h); 0: 1 */
    unsigned read_inflight;
    unsigned max_group;       /* write requests per transaction */
    unsigned commit_delay_us; /* vmdb_writer_config.commit_delay_us */
    const char *migrations_dir;
    const char *data_dir;       /* trusted_state.json and the local anchor live here */
    const char *identity_path;  /* default <data_dir>/identity.json */
    unsigned anchor_interval_s; /* anchor a backlog at least this often (default 30) */
    vmdb_anchor_kind anchor;
    bool verify_rows;              /* start-up: hash every row, not a sample */
    const char *solana_rpc_url;    /* VMDB_ANCHOR_SOLANA */
    const char *solana_fee_payer;  /* keypair file, or NULL: the identity pays */
    int solana_commitment;         /* vmdb_sol_commitment */
    const char *checkpoint_origin; /* GET /checkpoint's origin; NULL: vmdb/<address> */
} vmdb_engine_config;

/* Opens the engine: connects, creates the internal tables, takes the
 * instance lock, loads the registry and the leaves, builds the tree, checks
 * the chain, starts the writer, the anchor thread and the lock monitor.
 * Errors: VMDB_EIO (database), VMDB_EBUSY (another instance holds the lock,
 * or the identity key file is too open), VMDB_ENOMEM, VMDB_EINVAL (corrupt
 * leaves, a bad key file), VMDB_ENOTFOUND (a provisioned key is missing). */
int vmdb_engine_open(vmdb_engine **out, const vmdb_engine_config *cfg);
/* Stops the writer (queued work is answered first), the threads, and
 * frees everything. Accepts NULL. */
void vmdb_engine_close(vmdb_engine *e);

/* The model of `table` (a reference: vmdb_registry_unref(*reg)). On a miss
 * the registry is reloaded from the database first, as the seed does.
 * Fails with MODEL_NOT_REGISTERED. */
int vmdb_engine_resolve(vmdb_engine *e, const char *table, vmdb_registry **reg,
                        const vmdb_model **model, vmdb_fail *fail);

/* ---- rows (access.c) ------------------------------------------------------- */

/* Create, upsert or delete; waits for the group commit. `w` and what it
 * points to (recs, ids: see vmdb_write) must stay valid until it returns. */
int vmdb_engine_write(vmdb_engine *e, vmdb_arena *ar, const vmdb_write *w, vmdb_write_result *out);
/* The same without a waiting thread (vmdb_writer_write_begin): `done(arg)`
 * runs on the writer thread once the group committed or failed; then
 * vmdb_engine_write_end, on a thread that may block, completes `out`.
 * `w` and what it points to, `ar` and `out` must stay valid until `done`
 * ran. 0, or a vmdb_err with out->fail filled (done is then not called). */
int vmdb_engine_write_begin(vmdb_engine *e, vmdb_arena *ar, const vmdb_write *w,
                            vmdb_write_result *out, vmdb_write_done_fn done, void *arg,
                            vmdb_write_ticket **ticket);
/* Whether vmdb_engine_write_end will wait (for the anchor of a
 * BATCH_COMMIT_SIZE boundary): the caller may then finish on a thread of
 * its own. */
bool vmdb_engine_write_waits(const vmdb_write_ticket *t);
/* Waits for the anchor if the write needs it (up to the anchor timeout)
 * and returns the write's result code: 0, or a vmdb_err with out->fail. */
int vmdb_engine_write_end(vmdb_engine *e, const vmdb_write_ticket *t, vmdb_write_result *out);

/* The rows of `ids` (as sent: canonicalised here; ids that cannot be keys of
 * the model are missing), each checked against the tree. NOT_FOUND when
 * none exists. With `proof`, out->proof is the answer's proof (§9). */
int vmdb_engine_read_batch(vmdb_engine *e, vmdb_arena *ar, const vmdb_model *m,
                           const char *const *ids, size_t nids, bool proof, vmdb_read_result *out);

typedef struct vmdb_where {
    const vmdb_column *col;
    const char *text; /* NULL: IS NULL */
} vmdb_where;

typedef struct vmdb_latest_query {
    const vmdb_where *where;
    size_t nwhere;
    const vmdb_column *order; /* NULL: the primary key */
    bool asc;
    unsigned limit; /* 1..100 */
    bool proof;     /* out->proof: the answer's proof (PROTOCOL.md §9) */
} vmdb_latest_query;

/* The newest `limit` rows by `order`, each checked against the tree.
 * NOT_FOUND when none matches. */
int vmdb_engine_read_latest(vmdb_engine *e, vmdb_arena *ar, const vmdb_model *m,
                            const vmdb_latest_query *q, vmdb_read_result *out);

/* ---- administration (admin.c): each one transaction on the writer thread ---- */

/* `spec` is taken over (unref'ed by the engine). */
int vmdb_engine_apply_schema(vmdb_engine *e, vmdb_arena *ar, vmdb_registry *spec, bool force_reset,
                             vmdb_admin_result *out);
int vmdb_engine_clear(vmdb_engine *e, vmdb_admin_result *out);
/* Rebuilds the tree from the rows. When the rebuilt tree differs from the
 * current one, out->changes lists the difference (in `ar`) and it is
 * committed only with opts->accept_changes (and a matching expected diff
 * root); otherwise VMDB_FAIL_REPAIR_CHANGES_ROWS and nothing is written.
 * A dry run lists and writes nothing. */
int vmdb_engine_repair(vmdb_engine *e, vmdb_arena *ar, const vmdb_repair_opts *opts,
                       vmdb_admin_result *out);
int vmdb_engine_migrate(vmdb_engine *e, vmdb_arena *ar, vmdb_admin_result *out);

/* ---- state and identity (info.c) ------------------------------------------------ */

/* Cannot fail: a database that does not answer is out->db_ok false. */
void vmdb_engine_health(vmdb_engine *e, vmdb_health *out);
/* Cannot fail; reads memory only, so a stuck database does not stall a
 * scrape. */
void vmdb_engine_metrics(vmdb_engine *e, vmdb_metrics_info *out);

/* The id range of `m` (PROTOCOL.md §10) as the writer last committed it:
 * *has false when the table has none (its key is not serial, or it never
 * had a row). Any thread. The range may belong to a newer tree version than
 * the one a reader holds: a proof built from it is checked against that
 * version's tree (the range leaf's value), so a race makes the proof fail,
 * never lie. Returns 0. */
int vmdb_engine_id_range(vmdb_engine *e, const vmdb_model *m, bool *has, int64_t *lo, int64_t *hi);
/* The tables of the public schema with their columns and primary keys. */
int vmdb_engine_schema(vmdb_engine *e, vmdb_arena *ar, vmdb_schema_info *out);
/* Cannot fail. */
void vmdb_engine_identity(vmdb_engine *e, vmdb_identity_info *out);
/* The newest and the newest anchored header. WRITES_UNAVAILABLE before the
 * first header. */
int vmdb_engine_roots_latest(vmdb_engine *e, vmdb_roots_info *out);
/* Header `seq`, checked against the verified history. NOT_FOUND,
 * INTEGRITY, DB_UNAVAILABLE. */
int vmdb_engine_roots_get(vmdb_engine *e, uint64_t seq, vmdb_roots_info *out);
/* The history proof between headers a and b (PROTOCOL.md §11.1).
 * INVALID_RANGE unless a <= b <= the newest seq; INTEGRITY, DB_UNAVAILABLE. */
int vmdb_engine_roots_proof(vmdb_engine *e, uint64_t a, uint64_t b, vmdb_history_info *out);
/* The transition record of header `seq` with its proof (PROTOCOL.md §14.2),
 * checked before it is answered. NOT_FOUND (no such header), NO_TRANSITION
 * (a header without a record), INTEGRITY (the stored record or proof does
 * not verify against the header), DB_UNAVAILABLE. */
int vmdb_engine_transition(vmdb_engine *e, vmdb_arena *ar, uint64_t seq, vmdb_transition_info *out);
/* The signed checkpoint note (PROTOCOL.md §11.2). WRITES_UNAVAILABLE
 * before the first header. */
int vmdb_engine_checkpoint(vmdb_engine *e, vmdb_checkpoint_info *out);

#endif

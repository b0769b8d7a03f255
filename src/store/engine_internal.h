/*
 * Engine internals shared by its parts: engine.c (state, start-up, versions,
 * health), engine_write.c (the writer thread and group commit),
 * engine_read.c (verified reads) and engine_admin.c (schema, clear, repair,
 * migrate — run by the writer thread so they serialise with writes).
 */
#ifndef VMDB_STORE_ENGINE_INTERNAL_H
#define VMDB_STORE_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "store/engine.h"
#include "anchor/anchor.h"
#include "store/pg.h"
#include "trust/identity.h"
#include "trust/tstate.h"
#include "vmdb/hist.h"
#include "vmdb/rowhash.h"
#include "vmdb/smt.h"

#define VMDB_RING 64 /* tree versions kept for readers whose snapshot is older */

typedef struct vmdb_wreq vmdb_wreq;
typedef void (*vmdb_admin_fn)(vmdb_engine *e, void *arg, vmdb_answer *ans);

struct vmdb_wreq {
    const vmdb_write *w; /* NULL for admin work */
    uint64_t anchor_seq; /* set by the writer: wait for this seq to be anchored */
    vmdb_admin_fn admin;
    void *admin_arg;
    vmdb_answer *ans;
    bool done;
    pthread_cond_t cv; /* signalled when done: no herd of waiters per group */
    vmdb_wreq *next;
};

typedef struct vmdb_ring_entry {
    uint64_t seq;
    const vmdb_smt_view *view;
} vmdb_ring_entry;

struct vmdb_engine {
    vmdb_engine_config cfg;
    char *url, *migrations_dir;

    PGconn *wconn;    /* writer thread only */
    PGconn *lockconn; /* monitor thread only */
    atomic_bool lock_ok;

    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    PGconn **pool;
    vmdb_pgcache *pool_cache; /* one per pool connection */
    bool *pool_busy;
    unsigned npool;

    pthread_key_t hkey; /* per-thread hasher */

    /* Guarded by mu: tree holds and publication, state, registry. */
    pthread_mutex_t mu;
    pthread_cond_t pub_cv;
    vmdb_smt *tree;
    vmdb_ring_entry ring[VMDB_RING];
    unsigned ring_len, ring_head;
    uint64_t seq;
    uint8_t root[32], main_root[32];
    vmdb_registry *reg;
    uint64_t violations;
    char last_violation[1400]; /* JSON object of the newest violation */
    uint64_t inflight;         /* seq being committed by the writer, 0 if none */
    char writes_blocked[300];  /* "" when writes are allowed */

    /* Trust: identity, the header chain, the trusted state file, the anchor. */
    vmdb_identity id;
    char *tstate_path;
    vmdb_tjournal *tjournal; /* the per-write intents (writer thread after start) */
    vmdb_hist *hist;         /* header hashes 0..last.seq; writer thread after start */
    vmdb_sheader last;       /* newest committed header (mu) */
    bool has_last;
    vmdb_anchor *anchor;
    vmdb_sheader anchored; /* newest anchored header (mu) */
    bool has_anchored;
    bool anchor_now;       /* an anchor is due without waiting (mu) */
    bool rollback;         /* start-up found a rollback: no admin transition may paper over it */
    bool anchor_unchecked; /* the anchor could not be read at start: checked by the anchor thread */
    uint64_t trusted_seq;  /* the trusted state's seq, for that later check */
    char anchor_error[160]; /* the last anchoring failure (mu) */
    vmdb_anchor_kind anchor_kind;
    bool anchor_stop;
    pthread_cond_t anchor_cv, anchored_cv;
    pthread_t anchor_thread;
    bool anchor_started;
    unsigned fault_after_intent; /* test builds: per-mille chance to die after the intent */

    /* Writer queue, guarded by qmu. */
    pthread_mutex_t qmu;
    pthread_cond_t qcv, mon_cv;
    vmdb_wreq *qhead, *qtail;
    bool stop;
    pthread_t writer, monitor;
    bool writer_started, monitor_started;
};

/* The calling thread's hasher (created on first use); NULL on failure. */
vmdb_hasher *vmdb_engine_hasher(vmdb_engine *e);

/* Read pool. The slot's statement cache is e->pool_cache[slot]. */
PGconn *vmdb_engine_conn_get(vmdb_engine *e, unsigned *slot);
void vmdb_engine_conn_put(vmdb_engine *e, unsigned slot);

/* Holds the tree version committed as `seq` (waits briefly while the
 * writer is publishing it). NULL if it is not kept; *ahead then says whether
 * the database is ahead of this process (changed by someone else).
 * Release with vmdb_engine_unhold. */
const vmdb_smt_view *vmdb_engine_hold(vmdb_engine *e, uint64_t seq, bool *ahead);
/* Reloads registry, leaves and state from the database (another instance
 * wrote: ALLOW_MULTI_INSTANCE). Runs on the writer thread. */
void vmdb_engine_resync(vmdb_engine *e, vmdb_answer *ans);
/* Inside the writer's open transaction: loads state + leaves and publishes
 * them. 0 or VMDB_E*. */
int vmdb_engine_resync_locked(vmdb_engine *e);
void vmdb_engine_unhold(vmdb_engine *e, const vmdb_smt_view *v);
/* Publishes the pending tree version as `seq` (writer thread). */
void vmdb_engine_publish(vmdb_engine *e, uint64_t seq);

/* Records an integrity violation for /health and the log. */
void vmdb_engine_violation(vmdb_engine *e, const char *table, const char *what, const char *ids);

/* Queues work for the writer thread and waits for it. */
void vmdb_engine_submit(vmdb_engine *e, vmdb_wreq *r);

/* Loads the registry through `c` (any connection). */
int vmdb_engine_load_registry(PGconn *c, vmdb_registry **out);
/* Replaces the in-memory registry (takes the reference). */
void vmdb_engine_set_registry(vmdb_engine *e, vmdb_registry *r);

/* Computes leaf key and value of one stored row (pk text, row JSON text);
 * `jcs` receives the canonical row. VMDB_E* when the row JSON is unusable. */
int vmdb_engine_row_leaf(vmdb_hasher *h, const vmdb_model *m, const char *pk, const char *json,
                         uint8_t key[32], uint8_t value[32], vmdb_buf *jcs);

/* "SELECT t.pk::text, row_to_json(x)::text FROM <from> AS t CROSS JOIN
 * LATERAL (SELECT <proj>) x" for a model. */
int vmdb_engine_select_rows(vmdb_buf *sql, const vmdb_model *m, const char *from);

/* Rebuilds all leaves from the rows of every model of `reg`, inside the
 * writer's open transaction: deletes vmdb_leaves, inserts the new ones and
 * returns them sorted in *out. */
int vmdb_engine_rehash(vmdb_engine *e, const vmdb_registry *reg, vmdb_smt_leaf **out, size_t *n);

void vmdb_writer_main_loop(vmdb_engine *e);

/* ---- trust (engine_trust.c) ---------------------------------------------- */

/* Writer thread, inside the open transaction after the SQL work: builds and
 * signs the header `seq` over `root`; sends `pre` (at most 4 statements),
 * the header and the state row; writes the intent to the trusted state
 * journal while PostgreSQL runs them; then COMMITs, all in one round trip.
 * 0 when committed (*out = the header). Otherwise VMDB_E* and nothing is
 * committed unless the connection was lost during COMMIT (the caller checks
 * PQstatus); the caller rolls back. */
int vmdb_trust_commit(vmdb_engine *e, uint64_t seq, const uint8_t root[32], const char *kind,
                      const vmdb_pgstmt *pre, size_t npre, vmdb_sheader *out);
/* After COMMIT: the header is the newest committed one. */
void vmdb_trust_committed(vmdb_engine *e, const vmdb_sheader *sh);
/* Start-up: loads and checks the header chain against the tree, the
 * trusted state file and the anchor; blocks writes with the reason when
 * they disagree. `fresh_ok`: no headers yet and an empty database may get a
 * genesis header. 0, or VMDB_E* on I/O failure. */
int vmdb_trust_recover(vmdb_engine *e);
/* Reloads the header chain only (another instance wrote). */
int vmdb_trust_reload_headers(vmdb_engine *e);
int vmdb_trust_start(vmdb_engine *e);
/* Anchors the newest header if it is not yet, then stops the thread. */
void vmdb_trust_stop(vmdb_engine *e);
/* Rewrites trusted_state.json with the newest committed header and no
 * intent (the journal holds the per-write intents). Writer thread or after
 * it stopped. 0 or VMDB_EIO/VMDB_ENOMEM/VMDB_ECRYPTO. */
int vmdb_trust_checkpoint(vmdb_engine *e);
/* Waits (bounded) until `seq` is anchored; true when it is. */
bool vmdb_trust_wait_anchored(vmdb_engine *e, uint64_t seq);
/* Asks the anchor thread to anchor now. */
void vmdb_trust_anchor_soon(vmdb_engine *e);

/* Answers 400 INTEGRITY_VIOLATION; `ids` holds comma-separated JSON strings. */
void vmdb_engine_integrity_answer(vmdb_answer *ans, const vmdb_buf *ids);

#endif

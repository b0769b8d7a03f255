/*
 * The chain: vmdb's signed history and everything that keeps it honest.
 *
 * Every committed transition gets a header (PROTOCOL.md §6) stored in
 * vmdb_headers in the same transaction as the rows, with the identity's
 * intent signature (§6.1). Before COMMIT the new header goes to the
 * trusted state journal as the intent (one data flush), so after a crash
 * at any instant the database's newest header is either the trusted
 * state's committed header or its intent (trust/tstate.h). Only once
 * COMMIT has returned does the header get its header (committed)
 * signature, which never goes to PostgreSQL: the headers handed out (tip,
 * recent, anchored, vmdb_chain_header) carry it. New chains are v2; a
 * chain that began under v1 (§12) is checked by the v1 rules and upgraded
 * at start by one header of kind upgrade (store/admin.c). At start the chain is walked (links,
 * history roots, the newest signature) and compared with the tree, the
 * trusted state and the newest anchor; a disagreement refuses writes
 * through the status (trust/status.h) until an admin repairs it, and a
 * rollback refuses them for good. The anchor thread copies the newest
 * header to the anchor every BATCH_COMMIT_SIZE headers or
 * VMDB_ANCHOR_INTERVAL seconds, never holding up the writer.
 *
 * Threads and locks: the chain owns the anchor thread and one lock, which
 * guards the history, the newest and the anchored header and the anchor
 * thread's flags; it is never held across I/O. The writer thread is the
 * only one that extends the chain (commit, advance, genesis, reload); any
 * thread may read it.
 */
#ifndef VMDB_TRUST_CHAIN_H
#define VMDB_TRUST_CHAIN_H

#include <stdbool.h>

#include "anchor/anchor.h"
#include "db/pgpool.h"
#include "trust/identity.h"
#include "trust/status.h"
#include "vmdb/header.h"
#include "vmdb/hist.h"

typedef enum vmdb_anchor_kind { VMDB_ANCHOR_LOCAL, VMDB_ANCHOR_SOLANA } vmdb_anchor_kind;

typedef struct vmdb_chain_config {
    const char *data_dir;      /* trusted_state.json, its journal, the local anchor */
    const char *identity_path; /* NULL: <data_dir>/identity.json, created at first start */
    vmdb_anchor_kind anchor;
    const char *solana_rpc_url;   /* VMDB_ANCHOR_SOLANA */
    const char *solana_fee_payer; /* keypair file, or NULL: the identity pays */
    int solana_commitment;        /* vmdb_sol_commitment */
    uint64_t batch_commit_size;   /* every N-th header is anchored at once (>= 1) */
    unsigned anchor_interval_s;   /* a backlog is anchored at least this often */
} vmdb_chain_config;

typedef struct vmdb_chain vmdb_chain;

/* Loads (or creates) the identity, opens the trusted state journal and the
 * anchor. Nothing is checked yet: vmdb_chain_recover does that. `status`
 * and `pool` must outlive the chain. *out is the caller's
 * (vmdb_chain_free). Errors (logged): VMDB_ENOTFOUND / VMDB_EINVAL /
 * VMDB_EBUSY for the identity key (trust/identity.h), VMDB_EIO, VMDB_ENOMEM. */
int vmdb_chain_open(vmdb_chain **out, const vmdb_chain_config *cfg, vmdb_status *status,
                    vmdb_pgpool *pool);
/* Stops the anchor thread if it runs and frees. Accepts NULL. */
void vmdb_chain_free(vmdb_chain *c);

/* What start-up found in the database, for recovery to compare with. */
typedef struct vmdb_chain_dbstate {
    uint64_t seq; /* the state row's */
    uint8_t root[32];
    uint64_t leaves;
    uint8_t schema_hash[32]; /* for a genesis header */
} vmdb_chain_dbstate;

/* Start-up, on the writer's connection (no transaction open): loads and
 * checks the header chain against `db`, the trusted state and the newest
 * anchor; an empty database with no history gets a genesis header. A
 * disagreement is not an error: it refuses writes through the status with
 * the reason. 0, or VMDB_EIO / VMDB_ENOMEM / VMDB_ECRYPTO when the checks
 * could not run. */
int vmdb_chain_recover(vmdb_chain *c, PGconn *conn, vmdb_hasher *h, const vmdb_chain_dbstate *db);
/* Reloads the header chain inside the transaction open on `conn` (another
 * instance wrote: ALLOW_MULTI_INSTANCE). A broken chain refuses writes. */
int vmdb_chain_reload(vmdb_chain *c, PGconn *conn, vmdb_hasher *h);
/* Starts the anchor thread. VMDB_ENOMEM. */
int vmdb_chain_start(vmdb_chain *c);
/* Anchors the newest header if it is not yet (one try), stops the anchor
 * thread and, unless the state is in doubt, rewrites trusted_state.json so
 * that a clean stop leaves no intent behind. */
void vmdb_chain_stop(vmdb_chain *c, vmdb_hasher *h);

/* The writer, inside its open transaction after the SQL work: builds
 * header `seq` over `root` of `kind` ("write", "reset", "clear", "repair",
 * "migrate", "upgrade"), signs it as an intent; sends `pre` (at most 4 statements), the
 * header row and the state row; writes the intent to the journal while
 * PostgreSQL runs them; then COMMIT, all in one round trip. 0 when
 * committed (*out = the header with its header signature), then call
 * vmdb_chain_advance. A v1 chain gets v1 headers until its upgrade. Otherwise
 * VMDB_EBUSY (the chain cannot be extended to seq), VMDB_ECRYPTO or
 * VMDB_EIO, and nothing was committed unless the connection was lost during
 * COMMIT (the caller checks PQstatus); the caller rolls back. */
int vmdb_chain_commit(vmdb_chain *c, PGconn *conn, vmdb_hasher *h, uint64_t seq,
                      const uint8_t root[32], const uint8_t schema_hash[32], const char *kind,
                      const vmdb_pgstmt *pre, size_t npre, vmdb_sheader *out);
/* Whether the last vmdb_chain_commit failed with its connection lost after
 * the intent was built: the COMMIT may or may not have run. Writer thread. */
bool vmdb_chain_commit_lost(const vmdb_chain *c);
/* Finds out what that COMMIT did, on a working connection `conn` (no
 * transaction open): waits until the lost transaction has ended (it holds
 * the state row), then reads the state row and the header row at the
 * intent's seq. At the intent (seq, root and the stored header) it
 * committed: *committed = true and *out = the header with its header
 * signature (then vmdb_chain_advance). At the previous header with no row
 * at the intent's seq it did not. 0 then, and the lost intent is
 * forgotten. VMDB_EIO: could not find out yet (retry); VMDB_EVERIFY: the
 * database is at neither (forgotten as well); VMDB_EINVAL: nothing lost. */
int vmdb_chain_resolve_lost(vmdb_chain *c, PGconn *conn, vmdb_hasher *h, bool *committed,
                            vmdb_sheader *out);
/* After COMMIT: `sh` is the newest header. Wakes the anchor thread on a
 * BATCH_COMMIT_SIZE boundary. */
void vmdb_chain_advance(vmdb_chain *c, vmdb_hasher *h, const vmdb_sheader *sh);
/* Rewrites trusted_state.json with the newest header and no intent (admin
 * transitions: the file must exist again after a repair re-blessed a
 * missing one). 0, VMDB_EIO, VMDB_ENOMEM, VMDB_ECRYPTO. */
int vmdb_chain_checkpoint(vmdb_chain *c, vmdb_hasher *h);
/* Asks the anchor thread to anchor now. */
void vmdb_chain_anchor_soon(vmdb_chain *c);
/* Waits (at most 10 s) until `seq` is anchored; true when it is. */
bool vmdb_chain_wait_anchored(vmdb_chain *c, uint64_t seq);

/* True when the newest header is v1 and this vmdb writes v2: start-up
 * then commits the upgrade header (PROTOCOL.md §12). */
bool vmdb_chain_needs_upgrade(vmdb_chain *c);
/* The newest committed header; false before the first. */
bool vmdb_chain_tip(vmdb_chain *c, vmdb_sheader *out);
/* Header `seq` if it is one of the newest few committed by or loaded into
 * this process (no I/O); false otherwise. */
bool vmdb_chain_recent(vmdb_chain *c, uint64_t seq, vmdb_sheader *out);
/* The identity (immutable while the chain lives). */
const vmdb_identity *vmdb_chain_identity(const vmdb_chain *c);
/* The anchor backend's name: "local" or "solana". */
const char *vmdb_chain_anchor_name(const vmdb_chain *c);

/* The anchoring state, for /health and /api/roots/latest. */
typedef struct vmdb_chain_view {
    bool has_tip;
    vmdb_sheader tip;
    bool has_anchored;
    vmdb_sheader anchored;
    uint8_t main_root[32];  /* the anchored header's root; zeros when none */
    uint64_t backlog;       /* committed headers not yet anchored */
    char anchor_error[160]; /* the last anchoring failure, "" when none */
    vmdb_anchor_status backend;
    /* Unix ms when `anchored` was anchored (found at start: its time_ms). */
    uint64_t anchored_at_ms;
} vmdb_chain_view;
void vmdb_chain_get(vmdb_chain *c, vmdb_chain_view *out);

/* Header `seq` as stored, checked against this process's verified history
 * and the identity's intent signature in the row (the database is not
 * trusted), returned with its header signature; `kind` gets the kind of
 * transition (a v2 header's own, signed; a v1 header's from the unsigned
 * vmdb_headers.kind column). Reads through the pool. 0; VMDB_ENOTFOUND
 * (no such header yet); VMDB_EVERIFY (the stored header differs: recorded
 * as an integrity violation); VMDB_EIO; VMDB_ENOMEM. */
int vmdb_chain_header(vmdb_chain *c, vmdb_hasher *h, uint64_t seq, vmdb_sheader *out,
                      char kind[32]);

/* PROTOCOL.md §11.1: headers a <= b with the audit path of header a as
 * leaf a of the history tree of size b (empty when a == b) and the
 * consistency proof between sizes a and b (empty when a == 0 or a == b). */
typedef struct vmdb_history_proof {
    vmdb_sheader from, to;
    uint8_t inclusion[VMDB_HIST_MAX_PROOF][32];
    size_t ninclusion;
    uint8_t consistency[VMDB_HIST_MAX_PROOF][32];
    size_t nconsistency;
} vmdb_history_proof;

/* Fills `out` for headers a..b of the verified history (headers through
 * vmdb_chain_recent, else vmdb_chain_header; the proofs from the history
 * under the lock). 0; VMDB_EINVAL (a > b); VMDB_ENOTFOUND (b is not
 * committed yet); VMDB_EVERIFY, VMDB_EIO, VMDB_ENOMEM as vmdb_chain_header. */
int vmdb_chain_history_proof(vmdb_chain *c, vmdb_hasher *h, uint64_t a, uint64_t b,
                             vmdb_history_proof *out);

/* The history tree over headers 0..N-1, N = the newest header's seq + 1
 * (PROTOCOL.md §11.2): *n = N and its root. VMDB_ENOTFOUND before the first
 * header. */
int vmdb_chain_history_root(vmdb_chain *c, vmdb_hasher *h, uint64_t *n, uint8_t root[32]);

#endif

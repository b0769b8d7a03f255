/*
 * The chain: header rows, the trusted state and its journal, recovery at
 * start and the anchor thread. See chain.h for what each part guarantees.
 */
#include "trust/chain.h"

#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "trust/tstate.h"
#include "util/file.h"
#include "util/log.h"
#include "vmdb/hist.h"

#define RECENT 64 /* newest headers kept for vmdb_chain_recent */
#define ANCHOR_WAIT "waiting to read the newest anchor (the anchor is unreachable)"

struct vmdb_chain {
    /* Set at open, then read-only. */
    vmdb_status *status;
    vmdb_pgpool *pool;
    vmdb_identity id;
    char *tstate_path;
    vmdb_tjournal *journal; /* the writer thread's */
    vmdb_anchor *anchor;
    uint64_t batch;
    unsigned interval_s;
    unsigned fault_after_intent; /* test builds: per-mille chance to die after the intent */
    unsigned fault_lose_commit;  /* test builds: per-mille chance to cut the COMMIT's connection */
    /* The intent of a commit whose connection was lost (writer thread
     * only): kept until vmdb_chain_resolve_lost finds out what happened. */
    bool has_lost;
    vmdb_sheader lost;
    uint8_t proto; /* version of new chains' headers: 2 (test builds: 1 to make a v1 chain) */

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t anchor_cv, anchored_cv;
    vmdb_hist *hist;      /* header hashes 0..tip; replaced whole by a reload */
    uint8_t chain_id[32]; /* the v2 headers' (derived from header 0 on a v1 chain) */
    bool has_tip;
    vmdb_sheader tip;
    vmdb_sheader recent[RECENT]; /* by seq % RECENT */
    bool recent_ok[RECENT];
    bool has_anchored;
    vmdb_sheader anchored;
    uint64_t anchored_at_ms; /* when `anchored` was appended (found at start: its time_ms) */
    bool anchor_now, anchor_stop;
    bool anchor_unchecked; /* the anchor could not be read at start: the thread checks it */
    uint64_t trusted_seq;  /* the trusted state's seq, for that later check */
    char anchor_error[160];
    pthread_t thread;
    bool started;
    vmdb_hasher *anchor_h; /* the anchor thread's */
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A disagreement: writes are refused and it counts as a violation. */
static void refuse(vmdb_chain *c, vmdb_block why, const char *msg)
{
    vmdb_status_set(c->status, why, msg);
    vmdb_status_violation(c->status, "vmdb_headers", msg, NULL, 0);
}

/* chain_id = H("vmdb/v2/chain" 0x00 || public key || tail) (PROTOCOL.md
 * §6.2): tail is a random nonce for a new chain, the hash of v1 header 0
 * for one that began under v1. */
static void derive_chain_id(const vmdb_chain *c, vmdb_hasher *h, const uint8_t tail[32],
                            uint8_t out[32])
{
    vmdb_slice parts[3] = {VMDB_SLICE("vmdb/v2/chain", 14), VMDB_SLICE(c->id.pk, 32),
                           VMDB_SLICE(tail, 32)};
    vmdb_hash_parts(h, out, parts, 3);
}

/* Replaces sh->sig with the header (committed) signature. Only for a
 * header whose COMMIT has returned, or one read back from the verified
 * history (PROTOCOL.md §6.1). For v1 it is the same signature as the
 * intent's. */
static void sign_committed(vmdb_chain *c, vmdb_sheader *sh)
{
    if (vmdb_header_sign(sh->sig, sh->h.version, VMDB_SIG_COMMITTED, sh->hash, c->id.sk) != 0) {
        /* libsodium does not fail to sign once initialised; never hand
         * out another signature in its place. */
        LOG_ERROR("trust: cannot sign header %llu", (unsigned long long)sh->h.seq);
        memset(sh->sig, 0, 64);
    }
}

/* Under mu. */
static void set_tip(vmdb_chain *c, const vmdb_sheader *sh)
{
    c->tip = *sh;
    c->has_tip = true;
    c->recent[sh->h.seq % RECENT] = *sh;
    c->recent_ok[sh->h.seq % RECENT] = true;
}

int vmdb_chain_open(vmdb_chain **out, const vmdb_chain_config *cfg, vmdb_status *status,
                    vmdb_pgpool *pool)
{
    int rc = 0;
    const char *dir = cfg->data_dir ? cfg->data_dir : ".vmdb";
    char *idp =
        cfg->identity_path ? strdup(cfg->identity_path) : vmdb_file_path(dir, "identity.json");
    char *anchor_path = vmdb_file_path(dir, "anchors.bin");
    char *anchor_path2 = vmdb_file_path(dir, "anchors2.bin");
    char *journal_path = vmdb_file_path(dir, "trusted_state.journal");
    char *sol_state = vmdb_file_path(dir, "solana_anchor.json");
    vmdb_chain *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    c->status = status;
    c->pool = pool;
    c->batch = cfg->batch_commit_size ? cfg->batch_commit_size : 1;
    c->interval_s = cfg->anchor_interval_s ? cfg->anchor_interval_s : 30;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->anchor_cv, NULL);
    pthread_cond_init(&c->anchored_cv, NULL);
#ifdef VMDB_TEST_HOOKS
    {
        const char *f = getenv("VMDB_FAULT_AFTER_INTENT"); /* per mille */
        if (f && *f)
            c->fault_after_intent = (unsigned)strtoul(f, NULL, 10);
        const char *l = getenv("VMDB_FAULT_LOSE_COMMIT"); /* per mille */
        if (l && *l)
            c->fault_lose_commit = (unsigned)strtoul(l, NULL, 10);
        srand((unsigned)time(NULL) ^ (unsigned)getpid());
    }
#endif
    c->proto = 2;
#ifdef VMDB_TEST_HOOKS
    {
        /* Makes a new chain of protocol v1 headers, exactly as the
         * previous release did, and never upgrades: the upgrade test's v1
         * database. */
        const char *v = getenv("VMDB_TEST_PROTOCOL");
        if (v && strcmp(v, "1") == 0) {
            c->proto = 1;
            LOG_WARN("test hook: protocol v1 headers (VMDB_TEST_PROTOCOL=1)");
        }
    }
#endif
    c->tstate_path = vmdb_file_path(dir, "trusted_state.json");
    if (!idp || !anchor_path || !anchor_path2 || !journal_path || !sol_state || !c->tstate_path ||
        vmdb_hist_new(&c->hist) != 0) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    /* A key given by path (provisioned by a TEE's sealing step) is never
     * generated here; the default one is created at first start. */
    if ((rc = vmdb_identity_load(&c->id, idp, cfg->identity_path == NULL)))
        goto done;
    LOG_INFO("identity %s (public key %s)", c->id.address, c->id.pk_hex);
    if ((rc = vmdb_tjournal_open(&c->journal, journal_path)))
        goto done;
    if (cfg->anchor == VMDB_ANCHOR_SOLANA) {
        vmdb_anchor_solana_cfg sc = {cfg->solana_rpc_url, c->id.sk, cfg->solana_fee_payer,
                                     sol_state, cfg->solana_commitment};
        if ((rc = vmdb_anchor_solana_open(&c->anchor, &sc)))
            goto done;
        LOG_INFO("anchor: solana, memos signed by %s", c->id.address);
    } else if ((rc = vmdb_anchor_local_open(&c->anchor, anchor_path, anchor_path2, c->id.pk))) {
        goto done;
    }
done:
    free(idp);
    free(anchor_path);
    free(anchor_path2);
    free(journal_path);
    free(sol_state);
    if (rc) {
        vmdb_chain_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void vmdb_chain_free(vmdb_chain *c)
{
    if (!c)
        return;
    if (c->started) {
        pthread_mutex_lock(&c->mu);
        c->anchor_stop = true;
        pthread_cond_signal(&c->anchor_cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
    }
    vmdb_anchor_close(c->anchor);
    vmdb_hasher_free(c->anchor_h);
    vmdb_tjournal_free(c->journal);
    vmdb_hist_free(c->hist);
    vmdb_identity_clear(&c->id);
    free(c->tstate_path);
    pthread_cond_destroy(&c->anchor_cv);
    pthread_cond_destroy(&c->anchored_cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* ---- header rows ----------------------------------------------------------- */

/* The header row and the state row as statements (pipelined by callers);
 * `hp` holds their parameters and must outlive them. */
typedef struct hdr_params {
    char seq[24], hex[2 * VMDB_HEADER_MAX_LEN + 1], sig[129], root[65];
    const char *p_hdr[4], *p_state[2];
} hdr_params;

static void header_statements(const vmdb_sheader *sh, const char *kind, hdr_params *hp,
                              vmdb_pgstmt out[2])
{
    uint8_t enc[VMDB_HEADER_MAX_LEN];
    size_t elen = vmdb_header_encode(enc, &sh->h);
    vmdb_hex_encode(hp->hex, enc, elen);
    vmdb_hex_encode(hp->sig, sh->sig, 64);
    vmdb_hex_encode(hp->root, sh->h.smt_root, 32);
    snprintf(hp->seq, sizeof hp->seq, "%llu", (unsigned long long)sh->h.seq);
    hp->p_hdr[0] = hp->seq;
    hp->p_hdr[1] = hp->hex;
    hp->p_hdr[2] = hp->sig;
    hp->p_hdr[3] = kind;
    hp->p_state[0] = hp->seq;
    hp->p_state[1] = hp->root;
    out[0] = (vmdb_pgstmt){"store header",
                           "INSERT INTO vmdb_headers (seq, header, sig, kind) VALUES ($1::int8, "
                           "decode($2, 'hex'), decode($3, 'hex'), $4)",
                           4,
                           hp->p_hdr,
                           NULL,
                           NULL};
    out[1] = (vmdb_pgstmt){"write state",
                           "UPDATE vmdb_state SET seq = $1::int8, root = decode($2, 'hex'), "
                           "updated_at = now() WHERE id = 1",
                           2,
                           hp->p_state,
                           NULL,
                           NULL};
}

/* Decodes the (header, sig) columns `col`, `col + 1` of row `row` of a
 * vmdb_headers result (bytea in text form) and hashes the header. false
 * when the row is malformed. */
static bool sheader_from_row(vmdb_hasher *h, const PGresult *r, int row, int col, vmdb_sheader *out)
{
    size_t hl = 0, sl = 0;
    unsigned char *hb = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &hl);
    unsigned char *sb = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col + 1), &sl);
    bool ok = hb && sb && sl == 64 && vmdb_header_decode(&out->h, VMDB_SLICE(hb, hl)) == 0;
    if (ok) {
        memcpy(out->sig, sb, 64);
        vmdb_header_hash(h, out->hash, &out->h);
    }
    PQfreemem(hb);
    PQfreemem(sb);
    return ok;
}

/* Whether `hash` is header `seq` of this process's verified history. */
static bool in_history(vmdb_chain *c, vmdb_hasher *h, uint64_t seq, const uint8_t hash[32])
{
    uint8_t leaf[32], want[32];
    static const uint8_t z = 0;
    vmdb_slice parts[2] = {{&z, 1}, {hash, 32}};
    vmdb_hash_parts(h, want, parts, 2);
    pthread_mutex_lock(&c->mu);
    bool in = vmdb_hist_leaf(c->hist, seq, leaf) == 0 && memcmp(leaf, want, 32) == 0;
    pthread_mutex_unlock(&c->mu);
    return in;
}

/* ---- extending the chain (the writer thread) ---------------------------------- */

/* The intent: from the moment it is durable a crash leaves the database at
 * the committed header or at this one, and recovery accepts either. Runs
 * while PostgreSQL runs the group's last statements; COMMIT leaves after. */
typedef struct intent_ctx {
    vmdb_chain *c;
    const vmdb_tstate *ts;
    vmdb_hasher *h;
    PGconn *conn;
    int lose; /* test hook: 1 = cut before COMMIT is sent, 2 = after it returned */
} intent_ctx;

static int write_intent(void *arg)
{
    intent_ctx *x = arg;
    int rc = vmdb_tjournal_write(x->c->journal, x->ts, x->h, &x->c->id);
#ifdef VMDB_TEST_HOOKS
    if (rc == 0 && x->c->fault_after_intent &&
        (unsigned)(rand() % 1000) < x->c->fault_after_intent) {
        LOG_WARN("test hook: dying between the intent and COMMIT (seq %llu)",
                 (unsigned long long)x->ts->intent.h.seq);
        raise(SIGKILL);
    }
    if (rc == 0 && x->lose == 1) {
        LOG_WARN("test hook: cutting the connection before COMMIT (seq %llu)",
                 (unsigned long long)x->ts->intent.h.seq);
        shutdown(PQsocket(x->conn), SHUT_RDWR);
    }
#endif
    return rc;
}

int vmdb_chain_commit(vmdb_chain *c, PGconn *conn, vmdb_hasher *h, uint64_t seq,
                      const uint8_t root[32], const uint8_t schema_hash[32], const char *kind,
                      const vmdb_pgstmt *pre, size_t npre, vmdb_sheader *out)
{
    vmdb_tstate ts;
    vmdb_pgstmt st[8];
    PGresult *res[8];
    hdr_params hp;
    char state[6];
    bool has_tip;
    memset(&ts, 0, sizeof ts);
    if (npre > 4)
        return VMDB_EINVAL;
    pthread_mutex_lock(&c->mu);
    has_tip = c->has_tip;
    ts.committed = c->tip;
    pthread_mutex_unlock(&c->mu);
    /* Only this thread extends the history: it may read it unlocked. */
    if (!has_tip || vmdb_hist_size(c->hist) != seq || ts.committed.h.seq + 1 != seq) {
        LOG_ERROR("trust: no header chain to extend to seq %llu", (unsigned long long)seq);
        return VMDB_EBUSY;
    }
    uint8_t kc = 0;
    if (vmdb_header_kind_parse(&kc, VMDB_SLICE(kind, strlen(kind))) != 0 || kc == VMDB_KIND_GENESIS)
        return VMDB_EINVAL;
    vmdb_sheader *sh = &ts.intent;
    /* A v1 chain stays v1 until the upgrade header (made at start) and in
     * the v1 test mode; v2 never goes back. */
    sh->h.version =
        ts.committed.h.version == 1 && (c->proto == 1 || kc != VMDB_KIND_UPGRADE) ? 1 : 2;
    if (sh->h.version == 2 && kc == VMDB_KIND_UPGRADE && ts.committed.h.version != 1)
        return VMDB_EINVAL; /* only the first v2 header of a v1 chain is an upgrade */
    sh->h.kind = sh->h.version == 2 ? kc : 0;
    if (sh->h.version == 2)
        memcpy(sh->h.chain_id, c->chain_id, 32);
    sh->h.seq = seq;
    memcpy(sh->h.smt_root, root, 32);
    memcpy(sh->h.prev, ts.committed.hash, 32);
    if (vmdb_hist_root(c->hist, h, seq, sh->h.history_root) != 0)
        return VMDB_EBUSY;
    uint64_t t = now_ms();
    sh->h.time_ms = t > ts.committed.h.time_ms ? t : ts.committed.h.time_ms;
    memcpy(sh->h.schema_hash, schema_hash, 32);
    /* The row and the journal get the intent signature only: the header
     * signature is made once COMMIT has returned. */
    if (vmdb_sheader_sign(sh, h, &c->id, VMDB_SIG_INTENT) != 0)
        return VMDB_ECRYPTO;
    ts.has_intent = true;
    /* `pre`, the header and state rows, then (once the intent is durable)
     * COMMIT, in one round trip. */
    for (size_t i = 0; i < npre; i++)
        st[i] = pre[i];
    header_statements(sh, kind, &hp, st + npre);
    size_t n = npre + 2;
    st[n++] = (vmdb_pgstmt){"commit", "COMMIT", 0, NULL, NULL, NULL};
    intent_ctx ic = {c, &ts, h, conn, 0};
#ifdef VMDB_TEST_HOOKS
    if (c->fault_lose_commit && (unsigned)(rand() % 1000) < c->fault_lose_commit)
        ic.lose = 1 + rand() % 2;
#endif
    int f = vmdb_pg_pipeline_split(conn, st, n, n - 1, write_intent, &ic, res, state);
    for (size_t i = 0; i < n; i++)
        PQclear(res[i]);
#ifdef VMDB_TEST_HOOKS
    if (f < 0 && ic.lose == 2) {
        LOG_WARN("test hook: cutting the connection after COMMIT (seq %llu)",
                 (unsigned long long)seq);
        shutdown(PQsocket(conn), SHUT_RDWR);
        PQconsumeInput(conn);
        f = (int)n - 1;
    }
#endif
    if (f >= 0) {
        /* Once the connection is gone the COMMIT may or may not have run:
         * keep the intent for vmdb_chain_resolve_lost. */
        c->has_lost = PQstatus(conn) != CONNECTION_OK;
        c->lost = *sh;
        return VMDB_EIO;
    }
    c->has_lost = false;
    *out = *sh;
    sign_committed(c, out);
    return 0;
}

bool vmdb_chain_commit_lost(const vmdb_chain *c)
{
    return c->has_lost;
}

int vmdb_chain_resolve_lost(vmdb_chain *c, PGconn *conn, vmdb_hasher *h, bool *committed,
                            vmdb_sheader *out)
{
    int rc = 0;
    char seqs[24];
    uint8_t root[32], enc[VMDB_HEADER_MAX_LEN];
    const vmdb_sheader *sh = &c->lost;
    (void)h;
    *committed = false;
    if (!c->has_lost)
        return VMDB_EINVAL;
    /* The lost transaction held the state row: wait until it has ended
     * (COMMIT or abort) before looking, or the answer could still change. */
    if (vmdb_pg_cmd(conn, "wait for the state row",
                    "SELECT 1 FROM vmdb_state WHERE id = 1 FOR SHARE", NULL))
        return VMDB_EIO;
    snprintf(seqs, sizeof seqs, "%llu", (unsigned long long)sh->h.seq);
    const char *p[1] = {seqs};
    PGresult *r = vmdb_pg_exec(conn, "read the state after a lost commit",
                               "SELECT s.seq, encode(s.root, 'hex'), encode(h.header, 'hex') FROM "
                               "vmdb_state s LEFT JOIN vmdb_headers h ON h.seq = $1::int8 WHERE "
                               "s.id = 1",
                               1, p, NULL);
    if (!r || PQntuples(r) != 1) {
        PQclear(r);
        return PQstatus(conn) == CONNECTION_OK ? VMDB_EVERIFY : VMDB_EIO;
    }
    uint64_t seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
    const char *rh = PQgetvalue(r, 0, 1), *hh = PQgetvalue(r, 0, 2);
    bool root_ok = vmdb_hex_decode(root, 32, rh, strlen(rh)) == 0;
    size_t elen = vmdb_header_encode(enc, &sh->h);
    char *hex = malloc(2 * elen + 1);
    if (!hex) {
        PQclear(r);
        return VMDB_ENOMEM;
    }
    vmdb_hex_encode(hex, enc, elen);
    bool row_is_intent = !PQgetisnull(r, 0, 2) && strcmp(hh, hex) == 0;
    bool row_absent = PQgetisnull(r, 0, 2);
    free(hex);
    PQclear(r);
    pthread_mutex_lock(&c->mu);
    uint8_t tip_root[32];
    memcpy(tip_root, c->tip.h.smt_root, 32);
    pthread_mutex_unlock(&c->mu);
    if (root_ok && seq == sh->h.seq && memcmp(root, sh->h.smt_root, 32) == 0 && row_is_intent) {
        /* Committed: the header gets its header signature now, as after
         * any COMMIT that returned. */
        *committed = true;
        *out = *sh;
        sign_committed(c, out);
        LOG_WARN("trust: the commit of seq %llu whose connection was lost did commit: adopted",
                 (unsigned long long)sh->h.seq);
    } else if (root_ok && seq + 1 == sh->h.seq && memcmp(root, tip_root, 32) == 0 && row_absent) {
        LOG_WARN("trust: the commit of seq %llu whose connection was lost did not commit: "
                 "discarded",
                 (unsigned long long)sh->h.seq);
    } else {
        LOG_ERROR("trust: after a lost commit of seq %llu the database is at seq %llu with "
                  "another state",
                  (unsigned long long)sh->h.seq, (unsigned long long)seq);
        rc = VMDB_EVERIFY;
    }
    c->has_lost = false;
    return rc;
}

void vmdb_chain_advance(vmdb_chain *c, vmdb_hasher *h, const vmdb_sheader *sh)
{
    pthread_mutex_lock(&c->mu);
    set_tip(c, sh);
    if (vmdb_hist_append(c->hist, h, sh->hash) != 0)
        LOG_ERROR("trust: out of memory extending the history");
    /* Every BATCH_COMMIT_SIZE-th header is anchored at once; the rest wait
     * for the interval (or the next boundary). Seq grows by one per header,
     * so no boundary is ever skipped (the seed's counter could be). */
    if (sh->h.seq % c->batch == 0) {
        c->anchor_now = true;
        pthread_cond_signal(&c->anchor_cv);
    }
    pthread_mutex_unlock(&c->mu);
}

int vmdb_chain_checkpoint(vmdb_chain *c, vmdb_hasher *h)
{
    vmdb_tstate ts;
    bool has_tip;
    memset(&ts, 0, sizeof ts);
    pthread_mutex_lock(&c->mu);
    has_tip = c->has_tip;
    ts.committed = c->tip;
    pthread_mutex_unlock(&c->mu);
    return has_tip ? vmdb_tstate_write(c->tstate_path, &ts, h, &c->id) : 0;
}

void vmdb_chain_anchor_soon(vmdb_chain *c)
{
    pthread_mutex_lock(&c->mu);
    c->anchor_now = true;
    pthread_cond_signal(&c->anchor_cv);
    pthread_mutex_unlock(&c->mu);
}

bool vmdb_chain_wait_anchored(vmdb_chain *c, uint64_t seq)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&c->mu);
    while (!(c->has_anchored && c->anchored.h.seq >= seq))
        if (pthread_cond_timedwait(&c->anchored_cv, &c->mu, &until) != 0)
            break;
    bool ok = c->has_anchored && c->anchored.h.seq >= seq;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

/* ---- loading and checking the chain ------------------------------------------ */

/* One row's version rules: v1 rows, then v2 rows (never back), all v2 rows
 * with one chain_id; a v2 header 0 is a genesis, the first v2 header after
 * v1 ones an upgrade whose chain_id is derived from v1 header 0. false
 * with `why` set when a rule is broken. */
static bool check_versions(vmdb_chain *c, vmdb_hasher *h, const vmdb_sheader *prev,
                           const vmdb_sheader *cur, const uint8_t first[32], uint64_t n, char *why,
                           size_t whylen)
{
    uint8_t want[32];
    if (cur->h.version == 1) {
        if (n > 0 && prev->h.version != 1)
            snprintf(why, whylen, "header %llu is v1 after v2 headers", (unsigned long long)n);
        return !why[0];
    }
    if (n == 0) {
        if (cur->h.kind != VMDB_KIND_GENESIS)
            snprintf(why, whylen, "header 0 is not a genesis header");
    } else if (prev->h.version == 1) {
        derive_chain_id(c, h, first, want);
        if (cur->h.kind != VMDB_KIND_UPGRADE || memcmp(cur->h.chain_id, want, 32) != 0)
            snprintf(why, whylen, "header %llu is not the upgrade of the v1 chain",
                     (unsigned long long)n);
    } else if (memcmp(cur->h.chain_id, prev->h.chain_id, 32) != 0) {
        snprintf(why, whylen, "header %llu has another chain_id", (unsigned long long)n);
    } else if (cur->h.kind == VMDB_KIND_GENESIS || cur->h.kind == VMDB_KIND_UPGRADE) {
        snprintf(why, whylen, "header %llu has kind %s", (unsigned long long)n,
                 vmdb_header_kind_name(cur->h.kind));
    }
    return !why[0];
}

/* Walks vmdb_headers: seq 0.. without gaps, each linked to the previous,
 * each with the history root of its predecessors, the versions in order
 * (check_versions), the newest signed by the identity (the row holds its
 * intent signature). On success replaces the history, the chain_id and the
 * tip (with its header signature). `why` is set
 * (and 0 returned) when the chain is broken. With `own_txn` it runs in a
 * transaction of its own; otherwise inside the caller's, whose cursor it
 * closes but whose transaction it leaves open. */
static int load_headers(vmdb_chain *c, PGconn *conn, vmdb_hasher *h, bool own_txn, uint64_t *count,
                        char *why, size_t whylen)
{
    vmdb_hist *hist = NULL;
    vmdb_sheader prev, cur;
    uint8_t first[32] = {0}, cid[32] = {0};
    uint64_t n = 0;
    int rc = 0;
    memset(&prev, 0, sizeof prev);
    memset(&cur, 0, sizeof cur);
    why[0] = 0;
    if (vmdb_hist_new(&hist) != 0)
        return VMDB_ENOMEM;
    if ((own_txn && vmdb_pg_cmd(conn, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL)) ||
        vmdb_pg_cmd(conn, "headers cursor",
                    "DECLARE vmdb_hdrs NO SCROLL CURSOR FOR SELECT seq, header, sig FROM "
                    "vmdb_headers ORDER BY seq",
                    NULL)) {
        rc = VMDB_EIO;
        goto done;
    }
    for (;;) {
        PGresult *r =
            vmdb_pg_exec(conn, "headers fetch", "FETCH 10000 FROM vmdb_hdrs", 0, NULL, NULL);
        if (!r) {
            rc = VMDB_EIO;
            goto done;
        }
        int nt = PQntuples(r);
        for (int i = 0; i < nt && !why[0] && rc == 0; i++) {
            uint64_t seq = strtoull(PQgetvalue(r, i, 0), NULL, 10);
            uint8_t hr[32];
            if (!sheader_from_row(h, r, i, 1, &cur))
                snprintf(why, whylen, "header %llu is malformed", (unsigned long long)seq);
            else if (seq != n || cur.h.seq != n)
                snprintf(why, whylen, "header %llu is missing", (unsigned long long)n);
            else if (n > 0 && memcmp(cur.h.prev, prev.hash, 32) != 0)
                snprintf(why, whylen, "header %llu does not link to header %llu",
                         (unsigned long long)n, (unsigned long long)(n - 1));
            else if (vmdb_hist_root(hist, h, n, hr) != 0 || memcmp(hr, cur.h.history_root, 32) != 0)
                snprintf(why, whylen, "header %llu has a wrong history root",
                         (unsigned long long)n);
            else if (check_versions(c, h, &prev, &cur, first, n, why, whylen) &&
                     vmdb_hist_append(hist, h, cur.hash) != 0)
                rc = VMDB_ENOMEM;
            if (n == 0)
                memcpy(first, cur.hash, 32);
            prev = cur;
            n++;
        }
        PQclear(r);
        if (nt == 0 || why[0] || rc)
            break;
        if (n % 1000000 == 0)
            LOG_INFO("start-up: %llu headers checked", (unsigned long long)n);
    }
    /* Links prove every older header; the newest must carry our (intent)
     * signature. Being in the database, it is committed: it gets its
     * header signature. */
    if (!why[0] && !rc && n > 0) {
        if (vmdb_header_verify_sig(prev.sig, prev.h.version, VMDB_SIG_INTENT, prev.hash,
                                   c->id.pk) != 0)
            snprintf(why, whylen, "the newest header (seq %llu) is not signed by this identity",
                     (unsigned long long)prev.h.seq);
        else
            sign_committed(c, &prev);
        if (prev.h.version == 1)
            derive_chain_id(c, h, first, cid);
        else
            memcpy(cid, prev.h.chain_id, 32);
    }
done:
    vmdb_pg_cmd(conn, "end", own_txn ? "ROLLBACK" : "CLOSE vmdb_hdrs", NULL);
    if (rc == 0 && !why[0]) {
        pthread_mutex_lock(&c->mu);
        vmdb_hist *old = c->hist;
        c->hist = hist;
        hist = old;
        memset(c->recent_ok, 0, sizeof c->recent_ok);
        memcpy(c->chain_id, cid, 32);
        c->has_tip = false;
        if (n > 0)
            set_tip(c, &prev);
        pthread_mutex_unlock(&c->mu);
        *count = n;
    }
    vmdb_hist_free(hist);
    return rc;
}

int vmdb_chain_reload(vmdb_chain *c, PGconn *conn, vmdb_hasher *h)
{
    char why[256];
    uint64_t n = 0;
    int rc = load_headers(c, conn, h, false, &n, why, sizeof why);
    if (rc == 0 && why[0])
        refuse(c, VMDB_BLOCK_TRUST, why);
    return rc;
}

/* Creates header 0 for an empty database: a v2 genesis with a new chain_id
 * (PROTOCOL.md §6.2); its row gets the intent signature, the trusted state
 * file the header signature once COMMIT has returned (a crash in between is
 * recovered by vmdb_chain_recover). In the v1 test mode, a v1 header 0 and
 * the file before COMMIT, as the previous release did. */
static int genesis(vmdb_chain *c, PGconn *conn, vmdb_hasher *h, const uint8_t schema_hash[32])
{
    vmdb_tstate ts;
    vmdb_sheader *g = &ts.committed;
    hdr_params hp;
    vmdb_pgstmt st[2];
    uint8_t nonce[32];
    int rc = 0;
    memset(&ts, 0, sizeof ts);
    vmdb_hist_root(c->hist, h, 0, g->h.history_root);
    g->h.version = c->proto;
    g->h.kind = VMDB_KIND_GENESIS;
    if (c->proto == 2) {
        if (sodium_init() < 0)
            return VMDB_ECRYPTO;
        randombytes_buf(nonce, sizeof nonce);
        derive_chain_id(c, h, nonce, g->h.chain_id);
    }
    g->h.time_ms = now_ms();
    memcpy(g->h.schema_hash, schema_hash, 32);
    if (vmdb_sheader_sign(g, h, &c->id, VMDB_SIG_INTENT) != 0)
        return VMDB_ECRYPTO;
    if (vmdb_pg_cmd(conn, "begin", "BEGIN", NULL))
        return VMDB_EIO;
    header_statements(g, "genesis", &hp, st);
    PGresult *r = vmdb_pg_exec(conn, st[0].what, st[0].sql, st[0].n, st[0].params, NULL);
    rc = r ? 0 : VMDB_EIO;
    PQclear(r);
    /* Slots left from an earlier life of this key (a data directory kept
     * across a new database) would outrank the new chain. */
    rc = rc ? rc : vmdb_tjournal_reset(c->journal);
    if (c->proto == 1)
        rc = rc ? rc : vmdb_tstate_write(c->tstate_path, &ts, h, &c->id);
    rc = rc ? rc : vmdb_pg_cmd(conn, "commit", "COMMIT", NULL);
    if (rc) {
        vmdb_pg_cmd(conn, "rollback", "ROLLBACK", NULL);
        return rc;
    }
    sign_committed(c, g);
    memcpy(c->chain_id, g->h.chain_id, 32);
    if (c->proto == 2 && (rc = vmdb_tstate_write(c->tstate_path, &ts, h, &c->id)) != 0)
        return rc;
    vmdb_chain_advance(c, h, g);
    LOG_INFO("trust: genesis header (protocol v%u) created for identity %s", c->proto,
             c->id.address);
    return 0;
}

/* A backend that records only (seq, hash, root) gets the rest of the
 * header from the database, accepted only if it hashes to the anchor's. */
static void fill_header(vmdb_chain *c, PGconn *conn, vmdb_hasher *h, vmdb_sheader *a)
{
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)a->h.seq);
    const char *p[1] = {s};
    PGresult *r =
        vmdb_pg_exec(conn, "read anchored header",
                     "SELECT header, sig FROM vmdb_headers WHERE seq = $1::int8", 1, p, NULL);
    vmdb_sheader full;
    memset(&full, 0, sizeof full);
    /* The row holds the intent signature; the anchored header is
     * committed and gets its header signature. */
    if (r && PQntuples(r) == 1 && sheader_from_row(h, r, 0, 0, &full) &&
        memcmp(full.hash, a->hash, 32) == 0) {
        sign_committed(c, &full);
        *a = full;
    }
    PQclear(r);
}

/* The newest anchor against the trusted seq and the verified history.
 * Records it as the anchored header when it fits; refuses writes when not. */
static void check_anchor(vmdb_chain *c, PGconn *conn, vmdb_hasher *h, vmdb_sheader *a)
{
    char why[300];
    if (a->h.seq > c->trusted_seq) {
        snprintf(why, sizeof why,
                 "rollback: the trusted state (seq %llu) is behind the newest anchor (seq %llu)",
                 (unsigned long long)c->trusted_seq, (unsigned long long)a->h.seq);
        refuse(c, VMDB_BLOCK_ROLLBACK, why);
        return;
    }
    if (!in_history(c, h, a->h.seq, a->hash)) {
        snprintf(why, sizeof why, "the anchored header %llu is not in the database's history",
                 (unsigned long long)a->h.seq);
        refuse(c, VMDB_BLOCK_TRUST, why);
        return;
    }
    if (!c->anchor->ops->full_headers)
        fill_header(c, conn, h, a);
    pthread_mutex_lock(&c->mu);
    c->anchored = *a;
    c->has_anchored = true;
    /* When it was appended is not known here, but not before its header
     * was signed: the age shown is an upper bound. */
    c->anchored_at_ms = a->h.time_ms;
    pthread_mutex_unlock(&c->mu);
}

int vmdb_chain_recover(vmdb_chain *c, PGconn *conn, vmdb_hasher *h, const vmdb_chain_dbstate *db)
{
    char why[300], tswhy[200];
    uint64_t n = 0;
    vmdb_tstate ts;
    vmdb_sheader a, tip;
    bool has_a = false;
    memset(&ts, 0, sizeof ts);
    memset(&a, 0, sizeof a);
    int rc = load_headers(c, conn, h, true, &n, why, sizeof why);
    if (rc)
        return rc;
    if (why[0]) {
        char msg[400];
        snprintf(msg, sizeof msg, "the header chain in the database is broken: %.250s", why);
        refuse(c, VMDB_BLOCK_TRUST, msg);
        return 0;
    }
    int trc = vmdb_tstate_read(c->tstate_path, &ts, h, c->id.pk, tswhy, sizeof tswhy);
    int arc = vmdb_anchor_newest(c->anchor, &a, &has_a);
    if (arc == VMDB_EIO) {
        has_a = false; /* unknown yet: see the end */
    } else if (arc != 0) {
        refuse(c, VMDB_BLOCK_TRUST, "the newest anchor record does not verify");
        return 0;
    }
    bool state_refused = vmdb_status_is_set(c->status, VMDB_BLOCK_STATE);
    pthread_mutex_lock(&c->mu);
    c->has_anchored = false;
    tip = c->tip;
    pthread_mutex_unlock(&c->mu);
    if (n == 0) {
        bool fresh = db->seq == 0 && db->leaves == 0 && !has_a && arc != VMDB_EIO &&
                     (trc == VMDB_ENOTFOUND || (trc == 0 && ts.committed.h.seq == 0));
        if (fresh)
            return genesis(c, conn, h, db->schema_hash);
        refuse(c, VMDB_BLOCK_TRUST,
               "the database holds no signed headers (it was not written by this vmdb, or they "
               "were deleted)");
        return 0;
    }
    if (tip.h.seq != db->seq || memcmp(tip.h.smt_root, db->root, 32) != 0) {
        snprintf(why, sizeof why,
                 "the rows and leaves (seq %llu) do not match the newest signed header (seq %llu)",
                 (unsigned long long)db->seq, (unsigned long long)tip.h.seq);
        refuse(c, VMDB_BLOCK_TRUST, why);
        return 0;
    }
    if (state_refused)
        return 0; /* loading the tree already said why */
    if (n == 1 && tip.h.version == 2 && db->leaves == 0 && arc == 0 && !has_a &&
        (trc == VMDB_ENOTFOUND ||
         (trc == 0 && ts.committed.h.seq == 0 && memcmp(ts.committed.hash, tip.hash, 32) != 0))) {
        /* A v2 genesis writes the trusted state file after its COMMIT: a
         * crash in between leaves header 0 alone, nothing anchored, no
         * rows, and no file (or the previous chain's header 0 in it).
         * That state is the fresh one that would get a genesis anyway. */
        memset(&ts, 0, sizeof ts);
        ts.committed = tip;
        if ((rc = vmdb_tstate_write(c->tstate_path, &ts, h, &c->id)) != 0)
            return rc;
        trc = 0;
        LOG_INFO("trust: trusted state written for the genesis header (crashed before)");
    }
    if (trc == VMDB_ENOTFOUND) {
        refuse(c, VMDB_BLOCK_TRUST,
               "the trusted state file is missing; the database alone is not trusted (an admin "
               "may re-bless it with /bootstrap/repair-roots)");
        return 0;
    }
    if (trc != 0) {
        refuse(c, VMDB_BLOCK_TRUST, tswhy);
        return 0;
    }
    {
        /* The journal can only move the state forward: its slots are
         * states this key signed after the file was written. */
        vmdb_tstate jts;
        bool jfound = false;
        if ((rc = vmdb_tjournal_newest(c->journal, &jts, &jfound, h, c->id.pk)) != 0)
            return rc;
        if (jfound && vmdb_tstate_rank(&jts) > vmdb_tstate_rank(&ts))
            ts = jts;
    }
    uint64_t trusted = ts.committed.h.seq;
    if (memcmp(tip.hash, ts.committed.hash, 32) == 0) {
        /* normal */
    } else if (ts.has_intent && memcmp(tip.hash, ts.intent.hash, 32) == 0) {
        /* The crash came after COMMIT and before the next intent: adopt it. */
        vmdb_tstate adopted;
        memset(&adopted, 0, sizeof adopted);
        adopted.committed = ts.intent;
        sign_committed(c, &adopted.committed);
        if ((rc = vmdb_tstate_write(c->tstate_path, &adopted, h, &c->id)) != 0)
            return rc;
        trusted = ts.intent.h.seq;
        LOG_INFO("trust: adopted the intent header %llu (committed before the crash)",
                 (unsigned long long)trusted);
    } else {
        bool older = tip.h.seq < ts.committed.h.seq;
        snprintf(why, sizeof why,
                 older ? "the database (seq %llu) is older than the trusted state (seq %llu): "
                         "rolled back"
                       : "the database (seq %llu) does not match the trusted state (seq %llu)",
                 (unsigned long long)tip.h.seq, (unsigned long long)ts.committed.h.seq);
        refuse(c, older ? VMDB_BLOCK_ROLLBACK : VMDB_BLOCK_TRUST, why);
        return 0;
    }
    c->trusted_seq = trusted;
    if (arc == VMDB_EIO) {
        /* The anchor cannot be read now (an RPC outage): nothing may be
         * written until it is, or a rollback could pass unnoticed. The
         * anchor thread retries. Not a violation: nothing is known to be
         * wrong yet. */
        c->anchor_unchecked = true;
        LOG_WARN("trust: writes wait until the newest anchor can be read");
        vmdb_status_set(c->status, VMDB_BLOCK_ANCHOR_WAIT, ANCHOR_WAIT);
    }
    if (arc == 0 && has_a)
        check_anchor(c, conn, h, &a);
    return 0;
}

/* ---- the anchor thread ----------------------------------------------------------- */

static void wait_a_second(vmdb_chain *c)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 1;
    pthread_cond_timedwait(&c->anchor_cv, &c->mu, &until);
}

/* The start-up check could not read the anchor: retry it. Under mu; drops
 * it while talking to the anchor. */
static void retry_start_check(vmdb_chain *c, vmdb_hasher *h, uint64_t *next_try, uint64_t *backoff)
{
    vmdb_sheader a;
    bool found = false;
    pthread_mutex_unlock(&c->mu);
    int rc = vmdb_anchor_newest(c->anchor, &a, &found);
    if (rc == 0) {
        if (found) {
            vmdb_pglease l = vmdb_pgpool_get(c->pool);
            check_anchor(c, l.conn, h, &a);
            vmdb_pgpool_put(c->pool, &l);
        }
        vmdb_status_set(c->status, VMDB_BLOCK_ANCHOR_WAIT, NULL);
        LOG_INFO("anchor: the newest anchor was read; start-up checks complete");
    }
    pthread_mutex_lock(&c->mu);
    if (rc == 0) {
        c->anchor_unchecked = false;
        *backoff = 1000;
    } else {
        *next_try = now_ms() + *backoff;
        *backoff = *backoff < 60000 ? *backoff * 2 : 60000;
    }
}

static void *anchor_main(void *arg)
{
    vmdb_chain *c = arg;
    vmdb_hasher *h = c->anchor_h;
    uint64_t last_try = 0, next_try = 0, backoff = 1000;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        uint64_t t = now_ms();
        if (c->anchor_unchecked) {
            if (c->anchor_stop)
                break;
            if (t >= next_try)
                retry_start_check(c, h, &next_try, &backoff);
            wait_a_second(c);
            continue;
        }
        /* A state the start-up checks refused is never anchored: anchoring it
         * would bless a rollback or a tampered database on the next start. */
        bool backlog = c->has_tip && !vmdb_status_in_doubt(c->status) &&
                       (!c->has_anchored || c->tip.h.seq > c->anchored.h.seq);
        bool due =
            backlog && t >= next_try &&
            (c->anchor_now || c->anchor_stop || t - last_try >= (uint64_t)c->interval_s * 1000u);
        if (!due) {
            if (c->anchor_stop)
                break;
            wait_a_second(c);
            continue;
        }
        vmdb_sheader sh = c->tip;
        bool stopping = c->anchor_stop;
        c->anchor_now = false;
        pthread_mutex_unlock(&c->mu);
        last_try = t;
        int rc = vmdb_anchor_append(c->anchor, &sh);
        pthread_mutex_lock(&c->mu);
        if (rc == 0) {
            c->anchored = sh;
            c->has_anchored = true;
            c->anchored_at_ms = now_ms();
            c->anchor_error[0] = 0;
            pthread_cond_broadcast(&c->anchored_cv);
            backoff = 1000;
            next_try = 0;
        } else {
            /* Writes go on; the backlog grows and shows in /health. */
            snprintf(c->anchor_error, sizeof c->anchor_error, "anchoring header %llu failed",
                     (unsigned long long)sh.h.seq);
            LOG_WARN("anchor: append of header %llu failed; retrying in %llu ms",
                     (unsigned long long)sh.h.seq, (unsigned long long)backoff);
            next_try = now_ms() + backoff;
            backoff = backoff < 60000 ? backoff * 2 : 60000;
            c->anchor_now = true;
            if (stopping)
                break;
        }
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int vmdb_chain_start(vmdb_chain *c)
{
    pthread_mutex_lock(&c->mu);
    c->anchor_now = true; /* catch up at start (the seed never did) */
    pthread_mutex_unlock(&c->mu);
    if (!c->anchor_h && vmdb_hasher_new(&c->anchor_h, 0) != 0)
        return VMDB_ENOMEM;
    if (pthread_create(&c->thread, NULL, anchor_main, c) != 0)
        return VMDB_ENOMEM;
    c->started = true;
    return 0;
}

void vmdb_chain_stop(vmdb_chain *c, vmdb_hasher *h)
{
    if (!c->started)
        return;
    pthread_mutex_lock(&c->mu);
    c->anchor_stop = true;
    pthread_cond_signal(&c->anchor_cv);
    pthread_mutex_unlock(&c->mu);
    pthread_join(c->thread, NULL);
    c->started = false;
    /* A clean stop leaves no intent behind. */
    if (!vmdb_status_in_doubt(c->status) &&
        !vmdb_status_is_set(c->status, VMDB_BLOCK_ANCHOR_WAIT) && h &&
        vmdb_chain_checkpoint(c, h) != 0)
        LOG_WARN("trust: trusted_state.json not rewritten at stop (the journal holds the state)");
}

bool vmdb_chain_needs_upgrade(vmdb_chain *c)
{
    pthread_mutex_lock(&c->mu);
    bool v1 = c->has_tip && c->tip.h.version == 1;
    pthread_mutex_unlock(&c->mu);
    return v1 && c->proto == 2;
}

/* ---- reading ------------------------------------------------------------------------ */

bool vmdb_chain_tip(vmdb_chain *c, vmdb_sheader *out)
{
    pthread_mutex_lock(&c->mu);
    bool has = c->has_tip;
    if (has)
        *out = c->tip;
    pthread_mutex_unlock(&c->mu);
    return has;
}

bool vmdb_chain_recent(vmdb_chain *c, uint64_t seq, vmdb_sheader *out)
{
    pthread_mutex_lock(&c->mu);
    const vmdb_sheader *r = &c->recent[seq % RECENT];
    bool has = c->recent_ok[seq % RECENT] && r->h.seq == seq;
    if (has)
        *out = *r;
    pthread_mutex_unlock(&c->mu);
    return has;
}

const vmdb_identity *vmdb_chain_identity(const vmdb_chain *c)
{
    return &c->id;
}

const char *vmdb_chain_anchor_name(const vmdb_chain *c)
{
    return c->anchor ? c->anchor->ops->name : "none";
}

void vmdb_chain_get(vmdb_chain *c, vmdb_chain_view *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&c->mu);
    out->has_tip = c->has_tip;
    out->tip = c->tip;
    out->has_anchored = c->has_anchored;
    out->anchored = c->anchored;
    out->anchored_at_ms = c->has_anchored ? c->anchored_at_ms : 0;
    if (c->has_anchored)
        memcpy(out->main_root, c->anchored.h.smt_root, 32);
    out->backlog = !c->has_tip       ? 0
                   : c->has_anchored ? c->tip.h.seq - c->anchored.h.seq
                                     : c->tip.h.seq + 1;
    memcpy(out->anchor_error, c->anchor_error, sizeof out->anchor_error);
    pthread_mutex_unlock(&c->mu);
    if (c->anchor->ops->status)
        c->anchor->ops->status(c->anchor, &out->backend);
}

int vmdb_chain_header(vmdb_chain *c, vmdb_hasher *h, uint64_t seq, vmdb_sheader *out, char kind[32])
{
    char s[24];
    int rc = 0;
    snprintf(s, sizeof s, "%llu", (unsigned long long)seq);
    const char *p[1] = {s};
    PGresult *r = vmdb_pgpool_exec(
        c->pool, false, "read header",
        "SELECT header, sig, kind FROM vmdb_headers WHERE seq = $1::int8", 1, p, NULL);
    memset(out, 0, sizeof *out);
    if (!r)
        return VMDB_EIO;
    if (PQntuples(r) != 1) {
        rc = VMDB_ENOTFOUND;
        goto done;
    }
    bool good = sheader_from_row(h, r, 0, 0, out) && out->h.seq == seq;
    if (good) {
        pthread_mutex_lock(&c->mu);
        bool visible = seq < vmdb_hist_size(c->hist);
        pthread_mutex_unlock(&c->mu);
        if (!visible) {
            rc = VMDB_ENOTFOUND; /* committed an instant ago, not yet advanced here */
            goto done;
        }
        /* The database is not trusted: the header must be the one in this
         * process's verified history, with a good signature. */
        good = in_history(c, h, seq, out->hash) &&
               vmdb_header_verify_sig(out->sig, out->h.version, VMDB_SIG_INTENT, out->hash,
                                      c->id.pk) == 0;
    }
    if (!good) {
        vmdb_status_violation(c->status, "vmdb_headers", "a stored header differs from the history",
                              NULL, 0);
        rc = VMDB_EVERIFY;
        goto done;
    }
    /* In the verified history, so committed: handed out with its header
     * signature (the row holds the intent signature). */
    sign_committed(c, out);
    /* A v2 header signs its kind: the unsigned column only names a v1 one. */
    const char *kn = out->h.version >= 2 ? vmdb_header_kind_name(out->h.kind) : NULL;
    snprintf(kind, 32, "%s", kn ? kn : PQgetvalue(r, 0, 2));
done:
    PQclear(r);
    return rc;
}

/* ---- history proofs and the checkpoint ------------------------------------------ */

/* Header `seq` of the verified history: from the recent ones, else read. */
static int header_at(vmdb_chain *c, vmdb_hasher *h, uint64_t seq, vmdb_sheader *out)
{
    char kind[32];
    if (vmdb_chain_recent(c, seq, out))
        return 0;
    return vmdb_chain_header(c, h, seq, out, kind);
}

int vmdb_chain_history_proof(vmdb_chain *c, vmdb_hasher *h, uint64_t a, uint64_t b,
                             vmdb_history_proof *out)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (a > b)
        return VMDB_EINVAL;
    /* The headers first (may read the database: never under the lock). */
    rc = header_at(c, h, b, &out->to);
    rc = rc ? rc : header_at(c, h, a, &out->from);
    if (rc)
        return rc;
    pthread_mutex_lock(&c->mu);
    /* A reload may have replaced the history since: the headers must still
     * be its leaves, and b must be in it. */
    if (vmdb_hist_size(c->hist) <= b) {
        rc = VMDB_ENOTFOUND;
    } else {
        if (a < b)
            rc = vmdb_hist_inclusion_proof(c->hist, h, a, b, out->inclusion, &out->ninclusion);
        if (rc == 0 && a > 0 && a < b)
            rc =
                vmdb_hist_consistency_proof(c->hist, h, a, b, out->consistency, &out->nconsistency);
    }
    pthread_mutex_unlock(&c->mu);
    if (rc == 0 && (!in_history(c, h, a, out->from.hash) || !in_history(c, h, b, out->to.hash)))
        rc = VMDB_EVERIFY;
    return rc;
}

int vmdb_chain_history_root(vmdb_chain *c, vmdb_hasher *h, uint64_t *n, uint8_t root[32])
{
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    if (!c->has_tip || vmdb_hist_size(c->hist) != c->tip.h.seq + 1) {
        rc = VMDB_ENOTFOUND;
    } else {
        *n = c->tip.h.seq + 1;
        rc = vmdb_hist_root(c->hist, h, *n, root);
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

/*
 * Trust: the signed header chain, the trusted state file and the anchor.
 *
 * Every committed transition gets a header (PROTOCOL.md §6) signed by the
 * identity key and stored in vmdb_headers in the same transaction as the
 * rows. Before COMMIT the new header is written as the intent to the trusted
 * state journal (one data flush), so after a crash at any instant the
 * database's newest header is either the trusted state's committed header
 * or its intent. At start the
 * chain is walked (links, history roots, the newest signature), compared
 * with the tree, the file and the newest anchor; any disagreement stops
 * writes with the reason until an admin repairs it. An anchor thread copies
 * headers to the anchor every BATCH_COMMIT_SIZE headers or
 * VMDB_ANCHOR_INTERVAL seconds, never holding up the writer.
 */
#include "store/engine_internal.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sb.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void block_writes(vmdb_engine *e, const char *why)
{
    LOG_ERROR("trust: writes refused: %s", why);
    pthread_mutex_lock(&e->mu);
    snprintf(e->writes_blocked, sizeof e->writes_blocked, "%.290s", why);
    pthread_mutex_unlock(&e->mu);
    vmdb_engine_violation(e, "vmdb_headers", why, "");
}

static void schema_bytes(vmdb_engine *e, uint8_t out[32])
{
    memset(out, 0, 32);
    pthread_mutex_lock(&e->mu);
    if (e->reg && strlen(e->reg->schema_hash) == 64)
        vmdb_hex_decode(out, 32, e->reg->schema_hash, 64);
    pthread_mutex_unlock(&e->mu);
}

/* The header row and the state row as statements (pipelined by callers);
 * `buf` holds their parameters. */
typedef struct hdr_params {
    char seq[24], hex[2 * VMDB_HEADER_ENCODED_LEN + 1], sig[129], root[65];
    const char *p_hdr[4], *p_state[2];
} hdr_params;

static void header_statements(const vmdb_sheader *sh, const char *kind, hdr_params *hp,
                              vmdb_pgstmt out[2])
{
    uint8_t enc[VMDB_HEADER_ENCODED_LEN];
    vmdb_header_encode(enc, &sh->h);
    vmdb_hex_encode(hp->hex, enc, sizeof enc);
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
                           4, hp->p_hdr};
    out[1] = (vmdb_pgstmt){"write state",
                           "UPDATE vmdb_state SET seq = $1::int8, root = decode($2, 'hex'), "
                           "updated_at = now() WHERE id = 1",
                           2, hp->p_state};
}

/* The intent: from the moment it is durable a crash leaves the database at
 * the committed header or at this one, and recovery accepts either. Runs
 * while PostgreSQL runs the group's last statements; COMMIT leaves after. */
typedef struct intent_ctx {
    vmdb_engine *e;
    const vmdb_tstate *ts;
    vmdb_hasher *h;
} intent_ctx;

static int write_intent(void *arg)
{
    intent_ctx *c = arg;
    int rc = vmdb_tjournal_write(c->e->tjournal, c->ts, c->h, &c->e->id);
#ifdef VMDB_TEST_HOOKS
    if (rc == 0 && c->e->fault_after_intent &&
        (unsigned)(rand() % 1000) < c->e->fault_after_intent) {
        LOG_WARN("test hook: dying between the intent and COMMIT (seq %llu)",
                 (unsigned long long)c->ts->intent.h.seq);
        raise(SIGKILL);
    }
#endif
    return rc;
}

/* `pre`, the header and state rows, then (once the intent is durable)
 * COMMIT, in one round trip. */
static int store_and_commit(vmdb_engine *e, const vmdb_tstate *ts, const char *kind,
                            const vmdb_pgstmt *pre, size_t npre, vmdb_hasher *h)
{
    vmdb_pgstmt st[8];
    PGresult *res[8];
    hdr_params hp;
    char state[6];
    if (npre > 4)
        return VMDB_EINVAL;
    for (size_t i = 0; i < npre; i++)
        st[i] = pre[i];
    header_statements(&ts->intent, kind, &hp, st + npre);
    size_t n = npre + 2;
    st[n++] = (vmdb_pgstmt){"commit", "COMMIT", 0, NULL};
    intent_ctx ic = {e, ts, h};
    int f = vmdb_pg_pipeline_split(e->wconn, st, n, n - 1, write_intent, &ic, res, state);
    for (size_t i = 0; i < n; i++)
        PQclear(res[i]);
    return f < 0 ? 0 : VMDB_EIO;
}

int vmdb_trust_commit(vmdb_engine *e, uint64_t seq, const uint8_t root[32], const char *kind,
                      const vmdb_pgstmt *pre, size_t npre, vmdb_sheader *out)
{
    vmdb_hasher *h = vmdb_engine_hasher(e);
    vmdb_tstate ts = {0};
    bool has_last;
    if (!h)
        return VMDB_ENOMEM;
    pthread_mutex_lock(&e->mu);
    has_last = e->has_last;
    ts.committed = e->last;
    pthread_mutex_unlock(&e->mu);
    if (!has_last || vmdb_hist_size(e->hist) != seq || ts.committed.h.seq + 1 != seq) {
        LOG_ERROR("trust: no header chain to extend to seq %llu", (unsigned long long)seq);
        return VMDB_EBUSY;
    }
    vmdb_sheader *sh = &ts.intent;
    memset(sh, 0, sizeof *sh);
    sh->h.seq = seq;
    memcpy(sh->h.smt_root, root, 32);
    memcpy(sh->h.prev, ts.committed.hash, 32);
    if (vmdb_hist_root(e->hist, h, seq, sh->h.history_root) != 0)
        return VMDB_EBUSY;
    uint64_t t = now_ms();
    sh->h.time_ms = t > ts.committed.h.time_ms ? t : ts.committed.h.time_ms;
    schema_bytes(e, sh->h.schema_hash);
    if (vmdb_sheader_sign(sh, h, &e->id) != 0)
        return VMDB_ECRYPTO;
    ts.has_intent = true;
    int rc = store_and_commit(e, &ts, kind, pre, npre, h);
    if (rc == 0)
        *out = *sh;
    return rc;
}

void vmdb_trust_committed(vmdb_engine *e, const vmdb_sheader *sh)
{
    vmdb_hasher *h = vmdb_engine_hasher(e);
    pthread_mutex_lock(&e->mu);
    e->last = *sh;
    e->has_last = true;
    if (h && vmdb_hist_append(e->hist, h, sh->hash) != 0)
        LOG_ERROR("trust: out of memory extending the history");
    /* Every BATCH_COMMIT_SIZE-th header is anchored at once; the rest wait
     * for the interval (or the next boundary). Seq grows by one per header,
     * so no boundary is ever skipped (the seed's counter could be). */
    if (sh->h.seq % e->cfg.batch_commit_size == 0) {
        e->anchor_now = true;
        pthread_cond_signal(&e->anchor_cv);
    }
    pthread_mutex_unlock(&e->mu);
}

void vmdb_trust_anchor_soon(vmdb_engine *e)
{
    pthread_mutex_lock(&e->mu);
    e->anchor_now = true;
    pthread_cond_signal(&e->anchor_cv);
    pthread_mutex_unlock(&e->mu);
}

bool vmdb_trust_wait_anchored(vmdb_engine *e, uint64_t seq)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&e->mu);
    while (!(e->has_anchored && e->anchored.h.seq >= seq))
        if (pthread_cond_timedwait(&e->anchored_cv, &e->mu, &until) != 0)
            break;
    bool ok = e->has_anchored && e->anchored.h.seq >= seq;
    pthread_mutex_unlock(&e->mu);
    return ok;
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
static bool in_history(vmdb_engine *e, vmdb_hasher *h, uint64_t seq, const uint8_t hash[32])
{
    uint8_t leaf[32], want[32];
    static const uint8_t z = 0;
    vmdb_slice parts[2] = {{&z, 1}, {hash, 32}};
    vmdb_hash_parts(h, want, parts, 2);
    pthread_mutex_lock(&e->mu);
    bool in = vmdb_hist_leaf(e->hist, seq, leaf) == 0 && memcmp(leaf, want, 32) == 0;
    pthread_mutex_unlock(&e->mu);
    return in;
}

/* ---- loading and checking the chain -------------------------------------- */

/* Walks vmdb_headers: seq 0.. without gaps, each linked to the previous,
 * each with the history root of its predecessors, the newest signed by the
 * identity. Fills e->hist and e->last. `why` set on a broken chain. */
static int load_headers(vmdb_engine *e, bool own_txn, uint64_t *count, char *why, size_t whylen)
{
    vmdb_hasher *h = vmdb_engine_hasher(e);
    vmdb_hist *hist = NULL;
    vmdb_sheader prev = {0}, cur = {0};
    uint64_t n = 0;
    int rc = 0;
    why[0] = 0;
    if (!h || vmdb_hist_new(&hist) != 0)
        return VMDB_ENOMEM;
    /* Inside a caller's transaction (resync) the cursor lives in it and is
     * closed, never the transaction ended. */
    if ((own_txn &&
         vmdb_pg_cmd(e->wconn, "begin", "BEGIN ISOLATION LEVEL REPEATABLE READ", NULL)) ||
        vmdb_pg_cmd(
            e->wconn, "headers cursor",
            "DECLARE vmdb_hdrs NO SCROLL CURSOR FOR SELECT seq, header, sig FROM vmdb_headers "
            "ORDER BY seq",
            NULL)) {
        rc = VMDB_EIO;
        goto done;
    }
    for (;;) {
        PGresult *r =
            vmdb_pg_exec(e->wconn, "headers fetch", "FETCH 10000 FROM vmdb_hdrs", 0, NULL, NULL);
        if (!r) {
            rc = VMDB_EIO;
            goto done;
        }
        int nt = PQntuples(r);
        for (int i = 0; i < nt && !why[0]; i++) {
            uint64_t seq = strtoull(PQgetvalue(r, i, 0), NULL, 10);
            if (!sheader_from_row(h, r, i, 1, &cur))
                snprintf(why, whylen, "header %llu is malformed", (unsigned long long)seq);
            else if (seq != n || cur.h.seq != n)
                snprintf(why, whylen, "header %llu is missing", (unsigned long long)n);
            if (!why[0]) {
                uint8_t hr[32];
                if (n > 0 && memcmp(cur.h.prev, prev.hash, 32) != 0)
                    snprintf(why, whylen, "header %llu does not link to header %llu",
                             (unsigned long long)n, (unsigned long long)(n - 1));
                else if (vmdb_hist_root(hist, h, n, hr) != 0 ||
                         memcmp(hr, cur.h.history_root, 32) != 0)
                    snprintf(why, whylen, "header %llu has a wrong history root",
                             (unsigned long long)n);
                else if (vmdb_hist_append(hist, h, cur.hash) != 0)
                    rc = VMDB_ENOMEM;
            }
            prev = cur;
            n++;
        }
        PQclear(r);
        if (nt == 0 || why[0] || rc)
            break;
        if (n % 1000000 == 0)
            LOG_INFO("start-up: %llu headers checked", (unsigned long long)n);
    }
    /* Links prove every older header; the newest must carry our signature. */
    if (!why[0] && !rc && n > 0 && vmdb_header_verify_sig(prev.sig, prev.hash, e->id.pk) != 0)
        snprintf(why, whylen, "the newest header (seq %llu) is not signed by this identity",
                 (unsigned long long)prev.h.seq);
done:
    vmdb_pg_cmd(e->wconn, "end", own_txn ? "ROLLBACK" : "CLOSE vmdb_hdrs", NULL);
    if (rc == 0 && !why[0]) {
        pthread_mutex_lock(&e->mu);
        vmdb_hist *old = e->hist;
        e->hist = hist;
        hist = old;
        e->last = prev;
        e->has_last = n > 0;
        pthread_mutex_unlock(&e->mu);
        *count = n;
    }
    vmdb_hist_free(hist);
    return rc;
}

int vmdb_trust_reload_headers(vmdb_engine *e)
{
    char why[256];
    uint64_t n = 0;
    int rc = load_headers(e, false, &n, why, sizeof why);
    if (rc == 0 && why[0])
        block_writes(e, why);
    return rc;
}

/* Creates header 0 for an empty database. */
static int genesis(vmdb_engine *e)
{
    vmdb_hasher *h = vmdb_engine_hasher(e);
    vmdb_tstate ts = {0};
    vmdb_sheader *g = &ts.committed;
    int rc = 0;
    g->h.seq = 0;
    vmdb_hist_root(e->hist, h, 0, g->h.history_root);
    g->h.time_ms = now_ms();
    schema_bytes(e, g->h.schema_hash);
    if (vmdb_sheader_sign(g, h, &e->id) != 0)
        return VMDB_ECRYPTO;
    if (vmdb_pg_cmd(e->wconn, "begin", "BEGIN", NULL))
        return VMDB_EIO;
    {
        hdr_params hp;
        vmdb_pgstmt st[2];
        header_statements(g, "genesis", &hp, st);
        PGresult *r = vmdb_pg_exec(e->wconn, st[0].what, st[0].sql, st[0].n, st[0].params, NULL);
        rc = r ? 0 : VMDB_EIO;
        PQclear(r);
    }
    /* Slots left from an earlier life of this key (a data directory kept
     * across a new database) would outrank the new chain. */
    rc = rc ? rc : vmdb_tjournal_reset(e->tjournal);
    rc = rc ? rc : vmdb_tstate_write(e->tstate_path, &ts, h, &e->id);
    rc = rc ? rc : vmdb_pg_cmd(e->wconn, "commit", "COMMIT", NULL);
    if (rc) {
        vmdb_pg_cmd(e->wconn, "rollback", "ROLLBACK", NULL);
        return rc;
    }
    vmdb_trust_committed(e, g);
    LOG_INFO("trust: genesis header created for identity %s", e->id.address);
    return 0;
}

#define ANCHOR_WAIT "waiting to read the newest anchor (the anchor is unreachable)"

/* A backend that records only (seq, hash, root) gets the rest of the
 * header from the database, accepted only if it hashes to the anchor's. */
static void fill_header(vmdb_engine *e, PGconn *c, vmdb_sheader *a)
{
    vmdb_hasher *h = vmdb_engine_hasher(e);
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)a->h.seq);
    const char *p[1] = {s};
    PGresult *r =
        vmdb_pg_exec(c, "read anchored header",
                     "SELECT header, sig FROM vmdb_headers WHERE seq = $1::int8", 1, p, NULL);
    vmdb_sheader full = {0};
    if (r && PQntuples(r) == 1 && h && sheader_from_row(h, r, 0, 0, &full) &&
        memcmp(full.hash, a->hash, 32) == 0)
        *a = full;
    PQclear(r);
}

/* The newest anchor against the trusted seq and the verified history.
 * Records it as the anchored header when it fits; blocks writes when not. */
static void check_anchor(vmdb_engine *e, PGconn *c, vmdb_sheader *a)
{
    vmdb_hasher *h = vmdb_engine_hasher(e);
    char why[300];
    if (!h)
        return;
    if (a->h.seq > e->trusted_seq) {
        snprintf(why, sizeof why,
                 "rollback: the trusted state (seq %llu) is behind the newest anchor (seq %llu)",
                 (unsigned long long)e->trusted_seq, (unsigned long long)a->h.seq);
        block_writes(e, why);
        pthread_mutex_lock(&e->mu);
        e->rollback = true;
        pthread_mutex_unlock(&e->mu);
        return;
    }
    if (!in_history(e, h, a->h.seq, a->hash)) {
        snprintf(why, sizeof why, "the anchored header %llu is not in the database's history",
                 (unsigned long long)a->h.seq);
        block_writes(e, why);
        return;
    }
    if (!e->anchor->ops->full_headers)
        fill_header(e, c, a);
    pthread_mutex_lock(&e->mu);
    e->anchored = *a;
    e->has_anchored = true;
    memcpy(e->main_root, a->h.smt_root, 32);
    pthread_mutex_unlock(&e->mu);
}

int vmdb_trust_recover(vmdb_engine *e)
{
    vmdb_hasher *h = vmdb_engine_hasher(e);
    char why[300], tswhy[200];
    uint64_t n = 0;
    vmdb_tstate ts = {0};
    vmdb_sheader a = {0};
    bool has_a = false;
    int rc = load_headers(e, true, &n, why, sizeof why);
    if (rc)
        return rc;
    if (why[0]) {
        char msg[400];
        snprintf(msg, sizeof msg, "the header chain in the database is broken: %.250s", why);
        block_writes(e, msg);
        return 0;
    }
    int trc = vmdb_tstate_read(e->tstate_path, &ts, h, e->id.pk, tswhy, sizeof tswhy);
    int arc = e->anchor ? vmdb_anchor_newest(e->anchor, &a, &has_a) : 0;
    if (arc == VMDB_EIO) {
        has_a = false; /* unknown yet: see the end */
    } else if (arc != 0) {
        block_writes(e, "the newest anchor record does not verify");
        return 0;
    }
    pthread_mutex_lock(&e->mu);
    uint64_t seq = e->seq, leaves = vmdb_smt_view_count(vmdb_smt_current(e->tree));
    uint8_t root[32];
    memcpy(root, e->root, 32);
    bool blocked = e->writes_blocked[0] != 0;
    e->has_anchored = false;
    memset(e->main_root, 0, 32);
    pthread_mutex_unlock(&e->mu);
    if (n == 0) {
        bool fresh = seq == 0 && leaves == 0 && !has_a && arc != VMDB_EIO &&
                     (trc == VMDB_ENOTFOUND || (trc == 0 && ts.committed.h.seq == 0));
        if (fresh)
            return genesis(e);
        block_writes(e, "the database holds no signed headers (it was not written by this vmdb, "
                        "or they were deleted)");
        return 0;
    }
    const vmdb_sheader *newest = &e->last;
    if (newest->h.seq != seq || memcmp(newest->h.smt_root, root, 32) != 0) {
        snprintf(why, sizeof why,
                 "the rows and leaves (seq %llu) do not match the newest signed header (seq %llu)",
                 (unsigned long long)seq, (unsigned long long)newest->h.seq);
        block_writes(e, why);
        return 0;
    }
    if (blocked)
        return 0; /* load_tree already said why */
    if (trc == VMDB_ENOTFOUND) {
        block_writes(e, "the trusted state file is missing; the database alone is not trusted "
                        "(an admin may re-bless it with /bootstrap/repair-roots)");
        return 0;
    }
    if (trc != 0) {
        block_writes(e, tswhy);
        return 0;
    }
    {
        /* The journal can only move the state forward: its slots are
         * states this key signed after the file was written. */
        vmdb_tstate jts;
        bool jfound = false;
        if ((rc = vmdb_tjournal_newest(e->tjournal, &jts, &jfound, h, e->id.pk)) != 0)
            return rc;
        if (jfound && vmdb_tstate_rank(&jts) > vmdb_tstate_rank(&ts))
            ts = jts;
    }
    uint64_t trusted = ts.committed.h.seq;
    if (memcmp(newest->hash, ts.committed.hash, 32) == 0) {
        /* normal */
    } else if (ts.has_intent && memcmp(newest->hash, ts.intent.hash, 32) == 0) {
        /* The crash came after COMMIT and before the next intent: adopt it. */
        vmdb_tstate adopted = {.committed = ts.intent};
        if ((rc = vmdb_tstate_write(e->tstate_path, &adopted, h, &e->id)) != 0)
            return rc;
        trusted = ts.intent.h.seq;
        LOG_INFO("trust: adopted the intent header %llu (committed before the crash)",
                 (unsigned long long)trusted);
    } else {
        bool older = newest->h.seq < ts.committed.h.seq;
        snprintf(
            why, sizeof why,
            older
                ? "the database (seq %llu) is older than the trusted state (seq %llu): rolled back"
                : "the database (seq %llu) does not match the trusted state (seq %llu)",
            (unsigned long long)newest->h.seq, (unsigned long long)ts.committed.h.seq);
        block_writes(e, why);
        e->rollback = older;
        return 0;
    }
    e->trusted_seq = trusted;
    if (arc == VMDB_EIO) {
        /* The anchor cannot be read now (an RPC outage): nothing may be
         * written until it is, or a rollback could pass unnoticed. The
         * anchor thread retries. */
        e->anchor_unchecked = true;
        /* Not a violation: nothing is known to be wrong yet. */
        LOG_WARN("trust: writes wait until the newest anchor can be read");
        pthread_mutex_lock(&e->mu);
        snprintf(e->writes_blocked, sizeof e->writes_blocked, "%s", ANCHOR_WAIT);
        pthread_mutex_unlock(&e->mu);
    }
    if (arc == 0 && has_a)
        check_anchor(e, e->wconn, &a);
    return 0;
}

/* ---- the anchor thread ---------------------------------------------------- */

static void *anchor_main(void *arg)
{
    vmdb_engine *e = arg;
    uint64_t last_try = 0, next_try = 0, backoff = 1000;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        uint64_t t = now_ms();
        if (e->anchor_unchecked) {
            /* The start-up check could not read the anchor: retry it. */
            if (e->anchor_stop)
                break;
            if (t >= next_try) {
                pthread_mutex_unlock(&e->mu);
                vmdb_sheader a;
                bool found = false;
                int rc = vmdb_anchor_newest(e->anchor, &a, &found);
                unsigned slot;
                pthread_mutex_lock(&e->mu);
                if (rc == 0) {
                    e->anchor_unchecked = false;
                    if (strcmp(e->writes_blocked, ANCHOR_WAIT) == 0)
                        e->writes_blocked[0] = 0;
                    pthread_mutex_unlock(&e->mu);
                    if (found) {
                        PGconn *c = vmdb_engine_conn_get(e, &slot);
                        check_anchor(e, c, &a);
                        vmdb_engine_conn_put(e, slot);
                    }
                    LOG_INFO("anchor: the newest anchor was read; start-up checks complete");
                    pthread_mutex_lock(&e->mu);
                    backoff = 1000;
                } else {
                    next_try = now_ms() + backoff;
                    backoff = backoff < 60000 ? backoff * 2 : 60000;
                }
            }
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&e->anchor_cv, &e->mu, &until);
            continue;
        }
        /* A state the start-up checks refused is never anchored: anchoring it
         * would bless a rollback or a tampered database on the next start. */
        bool backlog = e->has_last && !e->writes_blocked[0] &&
                       (!e->has_anchored || e->last.h.seq > e->anchored.h.seq);
        bool due = backlog && t >= next_try &&
                   (e->anchor_now || e->anchor_stop ||
                    t - last_try >= (uint64_t)e->cfg.anchor_interval_s * 1000u);
        if (!due) {
            if (e->anchor_stop)
                break;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1;
            pthread_cond_timedwait(&e->anchor_cv, &e->mu, &until);
            continue;
        }
        vmdb_sheader sh = e->last;
        bool stopping = e->anchor_stop;
        e->anchor_now = false;
        pthread_mutex_unlock(&e->mu);
        last_try = t;
        int rc = vmdb_anchor_append(e->anchor, &sh);
        pthread_mutex_lock(&e->mu);
        if (rc == 0) {
            e->anchored = sh;
            e->has_anchored = true;
            e->anchor_error[0] = 0;
            memcpy(e->main_root, sh.h.smt_root, 32);
            pthread_cond_broadcast(&e->anchored_cv);
            backoff = 1000;
            next_try = 0;
        } else {
            /* Writes go on; the backlog grows and shows in /health. */
            snprintf(e->anchor_error, sizeof e->anchor_error, "anchoring header %llu failed",
                     (unsigned long long)sh.h.seq);
            LOG_WARN("anchor: append of header %llu failed; retrying in %llu ms",
                     (unsigned long long)sh.h.seq, (unsigned long long)backoff);
            next_try = now_ms() + backoff;
            backoff = backoff < 60000 ? backoff * 2 : 60000;
            e->anchor_now = true;
            if (stopping)
                break;
        }
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

int vmdb_trust_start(vmdb_engine *e)
{
    pthread_mutex_lock(&e->mu);
    e->anchor_now = true; /* catch up at start (the seed never did) */
    pthread_mutex_unlock(&e->mu);
    if (pthread_create(&e->anchor_thread, NULL, anchor_main, e) != 0)
        return VMDB_ENOMEM;
    e->anchor_started = true;
    return 0;
}

void vmdb_trust_stop(vmdb_engine *e)
{
    if (!e->anchor_started)
        return;
    pthread_mutex_lock(&e->mu);
    e->anchor_stop = true;
    pthread_cond_signal(&e->anchor_cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->anchor_thread, NULL);
    e->anchor_started = false;
    /* A clean stop leaves no intent behind. */
    if (e->writes_blocked[0] == 0)
        vmdb_trust_checkpoint(e);
}

int vmdb_trust_checkpoint(vmdb_engine *e)
{
    vmdb_hasher *h = vmdb_engine_hasher(e);
    vmdb_tstate ts = {0};
    bool has_last;
    pthread_mutex_lock(&e->mu);
    has_last = e->has_last;
    ts.committed = e->last;
    pthread_mutex_unlock(&e->mu);
    if (!has_last)
        return 0;
    return h ? vmdb_tstate_write(e->tstate_path, &ts, h, &e->id) : VMDB_ENOMEM;
}

/* ---- API ------------------------------------------------------------------ */

void vmdb_engine_identity(vmdb_engine *e, vmdb_answer *ans)
{
    vmdb_buf *d = &ans->data;
    int rc = vmdb_sb_printf(d, "{\"address\":\"%s\",\"anchor\":\"%s\",\"public_key\":\"%s\"}",
                            e->id.address, e->anchor ? e->anchor->ops->name : "none", e->id.pk_hex);
    ans->status = rc ? 500 : 200;
}

void vmdb_engine_roots_latest(vmdb_engine *e, vmdb_answer *ans)
{
    vmdb_hasher *h = vmdb_engine_hasher(e);
    pthread_mutex_lock(&e->mu);
    vmdb_sheader last = e->last, anch = e->anchored;
    bool has_last = e->has_last, has_anch = e->has_anchored;
    pthread_mutex_unlock(&e->mu);
    if (!h || !has_last) {
        vmdb_answer_fail(ans, 503, "WRITES_UNAVAILABLE", "no signed header yet");
        return;
    }
    vmdb_buf *d = &ans->data;
    uint64_t backlog = has_anch ? last.h.seq - anch.h.seq : last.h.seq + 1;
    int rc = vmdb_sb_printf(
        d, "{\"anchor\":\"%s\",\"anchored\":", e->anchor ? e->anchor->ops->name : "none");
    rc = rc ? rc
            : (has_anch ? vmdb_header_to_json(d, h, &anch.h, anch.sig) : vmdb_sb_puts(d, "null"));
    rc = rc ? rc : vmdb_sb_printf(d, ",\"backlog\":%llu,\"header\":", (unsigned long long)backlog);
    rc = rc ? rc : vmdb_header_to_json(d, h, &last.h, last.sig);
    rc = rc ? rc : vmdb_sb_printf(d, ",\"public_key\":\"%s\"}", e->id.pk_hex);
    ans->status = 200;
    if (rc)
        vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
}

void vmdb_engine_roots_get(vmdb_engine *e, uint64_t seq, vmdb_answer *ans)
{
    vmdb_hasher *h = vmdb_engine_hasher(e);
    char s[24];
    snprintf(s, sizeof s, "%llu", (unsigned long long)seq);
    const char *p[1] = {s};
    unsigned slot;
    PGconn *c = vmdb_engine_conn_get(e, &slot);
    PGresult *r =
        vmdb_pg_exec(c, "read header",
                     "SELECT header, sig, kind FROM vmdb_headers WHERE seq = $1::int8", 1, p, NULL);
    vmdb_engine_conn_put(e, slot);
    if (!r) {
        vmdb_answer_fail(ans, 503, "DB_UNAVAILABLE", "database unavailable");
        return;
    }
    if (PQntuples(r) != 1) {
        PQclear(r);
        vmdb_answer_fail(ans, 404, "NOT_FOUND", "no header with seq %llu", (unsigned long long)seq);
        return;
    }
    vmdb_sheader sh = {0};
    bool good = h && sheader_from_row(h, r, 0, 0, &sh) && sh.h.seq == seq;
    if (good) {
        pthread_mutex_lock(&e->mu);
        bool visible = seq < vmdb_hist_size(e->hist);
        pthread_mutex_unlock(&e->mu);
        if (!visible) {
            /* Committed an instant ago and not yet published here. */
            PQclear(r);
            vmdb_answer_fail(ans, 404, "NOT_FOUND", "no header with seq %llu",
                             (unsigned long long)seq);
            return;
        }
        /* The database is not trusted: the header must be the one in this
         * process's verified history, with a good signature. */
        good = in_history(e, h, seq, sh.hash) &&
               vmdb_header_verify_sig(sh.sig, sh.hash, e->id.pk) == 0;
    }
    vmdb_buf kind = VMDB_BUF_INIT;
    vmdb_sb_jstrz(&kind, PQgetvalue(r, 0, 2));
    PQclear(r);
    if (!good) {
        vmdb_engine_violation(e, "vmdb_headers", "a stored header differs from the history", "");
        vmdb_buf none = VMDB_BUF_INIT;
        vmdb_engine_integrity_answer(ans, &none);
        vmdb_buf_free(&kind);
        return;
    }
    vmdb_buf *d = &ans->data;
    int rc = vmdb_sb_puts(d, "{\"header\":");
    rc = rc ? rc : vmdb_header_to_json(d, h, &sh.h, sh.sig);
    rc = rc ? rc : vmdb_sb_puts(d, ",\"kind\":");
    rc = rc ? rc : vmdb_buf_put(d, kind.ptr, kind.len);
    rc = rc ? rc : vmdb_buf_putc(d, '}');
    vmdb_buf_free(&kind);
    ans->status = 200;
    if (rc)
        vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
}

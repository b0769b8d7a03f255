/*
 * The engine's state and identity calls: /health, the schema listing, the
 * identity and the signed roots. Each gathers typed views from the
 * components; nothing here changes state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pg.h"
#include "store/engine_internal.h"
#include "util/log.h"
#include "vmdb/json.h"
#include "vmdb/note.h"
#include "vmdb/rowhash.h"

void vmdb_engine_health(vmdb_engine *e, vmdb_health *out)
{
    memset(out, 0, sizeof *out);
    /* From memory only: the newest outcome of any PostgreSQL call, kept
     * fresh by the instance lock's ping and the read pool's health ticker
     * (db/pgpool.c), each once a second. An outcome older than
     * VMDB_HEALTH_STALE_MS means every call is stuck (a frozen server): the
     * database counts as not answering. */
    int64_t age = -1;
    out->db_ok = vmdb_pg_last(&age) && age <= VMDB_HEALTH_STALE_MS;
    vmdb_versions_latest(e->parts.versions, &out->seq, out->root, &out->leaves);
    vmdb_status_get(e->parts.status, &out->status);
    out->anchor_kind = vmdb_chain_anchor_name(e->parts.chain);
    vmdb_chain_get(e->parts.chain, &out->chain);
}

void vmdb_engine_metrics(vmdb_engine *e, vmdb_metrics_info *out)
{
    vmdb_chain_view cv;
    vmdb_status_view sv;
    memset(out, 0, sizeof *out);
    vmdb_versions_latest(e->parts.versions, NULL, NULL, &out->leaves);
    vmdb_chain_get(e->parts.chain, &cv);
    out->has_tip = cv.has_tip;
    out->header_seq = cv.has_tip ? cv.tip.h.seq : 0;
    out->has_anchored = cv.has_anchored;
    out->anchored_seq = cv.has_anchored ? cv.anchored.h.seq : 0;
    out->anchored_at_ms = cv.anchored_at_ms;
    out->backlog = cv.backlog;
    vmdb_status_get(e->parts.status, &sv);
    out->violations = sv.total; /* a counter: repairs clear the count, not the total */
    for (int i = 0; i < VMDB_BLOCK_COUNT; i++)
        out->blocked[i] = vmdb_status_is_set(e->parts.status, (vmdb_block)i);
    vmdb_pgpool_stats(e->parts.pool, &out->pool_size, &out->pool_in_use);
    vmdb_writer_stats(e->writer, &out->group_reqs, &out->group_rows);
}

int vmdb_engine_id_range(vmdb_engine *e, const vmdb_model *m, bool *has, int64_t *lo, int64_t *hi)
{
    *lo = *hi = 0;
    *has = vmdb_ranges_applies(m) && vmdb_ranges_get(e->parts.ranges, m->table, lo, hi);
    return 0;
}

/* The managed tables (those in the registry, ordered by name as
 * PostgreSQL's name type orders them), each followed by its columns and its
 * key columns in their positions: one statement, one snapshot. Tables vmdb
 * does not manage are not listed: their names and columns are not the
 * client's business (the seed listed every table of the schema). */
static const char *const schema_sql =
    "WITH t AS (SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
    "AND table_type = 'BASE TABLE' AND table_name::text IN (SELECT table_name FROM "
    "verifiable_models)), "
    "x AS (SELECT 0 AS kind, t.table_name::text AS tn, 0 AS pos, NULL::text AS a, NULL::text AS "
    "b, NULL::text AS c, NULL::text AS d FROM t "
    "UNION ALL SELECT 1, c.table_name::text, c.ordinal_position::int, c.column_name::text, "
    "c.data_type::text, (c.is_nullable = 'YES')::text, c.column_default::text FROM "
    "information_schema.columns c JOIN t ON t.table_name = c.table_name WHERE c.table_schema = "
    "'public' "
    "UNION ALL SELECT 2, k.table_name::text, k.ordinal_position::int, k.column_name::text, NULL, "
    "NULL, NULL FROM information_schema.table_constraints tc JOIN "
    "information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name AND "
    "k.table_schema = tc.table_schema AND k.table_name = tc.table_name JOIN t ON t.table_name = "
    "tc.table_name WHERE tc.table_schema = 'public' AND tc.constraint_type = 'PRIMARY KEY') "
    "SELECT kind, tn, a, b, c, d FROM x ORDER BY tn COLLATE \"C\", kind, pos";

static char *dup_value(vmdb_arena *ar, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    const char *v = PQgetvalue(r, row, col);
    return vmdb_arena_strndup(ar, v, strlen(v));
}

int vmdb_engine_schema(vmdb_engine *e, vmdb_arena *ar, vmdb_schema_info *out)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    PGresult *r = vmdb_pgpool_exec(e->parts.pool, false, "read schema", schema_sql, 0, NULL, NULL);
    if (!r)
        return vmdb_fail_check(
            vmdb_fail_set(&out->fail, VMDB_FAIL_DATABASE, "Failed to list tables"), &out->fail);
    int nt = PQntuples(r);
    size_t ntables = 0;
    for (int i = 0; i < nt; i++)
        ntables += PQgetvalue(r, i, 0)[0] == '0';
    out->tables = vmdb_arena_zalloc(ar, (ntables ? ntables : 1) * sizeof *out->tables);
    if (!out->tables)
        goto nomem;
    /* Rows come table by table: the table, its columns, its key columns. */
    for (int i = 0; i < nt;) {
        vmdb_schema_table *t = &out->tables[out->ntables++];
        size_t nc = 0, nk = 0;
        int j = i + 1;
        for (; j < nt && strcmp(PQgetvalue(r, j, 1), PQgetvalue(r, i, 1)) == 0; j++)
            PQgetvalue(r, j, 0)[0] == '1' ? nc++ : nk++;
        t->name = dup_value(ar, r, i, 1);
        t->columns = vmdb_arena_zalloc(ar, (nc ? nc : 1) * sizeof *t->columns);
        t->primary_key = vmdb_arena_zalloc(ar, (nk ? nk : 1) * sizeof *t->primary_key);
        if (!t->name || !t->columns || !t->primary_key)
            goto nomem;
        for (int k = i + 1; k < j; k++) {
            if (PQgetvalue(r, k, 0)[0] == '1') {
                vmdb_schema_column *c = &t->columns[t->ncolumns++];
                c->name = dup_value(ar, r, k, 2);
                c->data_type = dup_value(ar, r, k, 3);
                c->nullable = PQgetvalue(r, k, 4)[0] == 't';
                c->default_expr = dup_value(ar, r, k, 5);
                if (!c->name || !c->data_type || (!c->default_expr && !PQgetisnull(r, k, 5)))
                    goto nomem;
            } else if (!(t->primary_key[t->npk++] = dup_value(ar, r, k, 2))) {
                goto nomem;
            }
        }
        i = j;
    }
    goto done;
nomem:
    rc = vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL, "Failed to list tables");
done:
    PQclear(r);
    return vmdb_fail_check(rc, &out->fail);
}

void vmdb_engine_identity(vmdb_engine *e, vmdb_identity_info *out)
{
    const vmdb_identity *id = vmdb_chain_identity(e->parts.chain);
    out->address = id->address;
    out->public_key = id->pk_hex;
    out->anchor = vmdb_chain_anchor_name(e->parts.chain);
}

int vmdb_engine_roots_latest(vmdb_engine *e, vmdb_roots_info *out)
{
    vmdb_chain_view cv;
    int rc = 0;
    memset(out, 0, sizeof *out);
    vmdb_chain_get(e->parts.chain, &cv);
    out->anchor = vmdb_chain_anchor_name(e->parts.chain);
    out->public_key = vmdb_chain_identity(e->parts.chain)->pk_hex;
    if (!cv.has_tip) {
        rc = vmdb_fail_set(&out->fail, VMDB_FAIL_WRITES_UNAVAILABLE, "no signed header yet");
    } else {
        out->header = cv.tip;
        out->has_anchored = cv.has_anchored;
        out->anchored = cv.anchored;
        out->backlog = cv.backlog;
    }
    return vmdb_fail_check(rc, &out->fail);
}

/* The failure for a chain call that reads header `seq` (crc: its vmdb_err):
 * 0 when it succeeded. */
static int header_fail(vmdb_fail *f, int crc, uint64_t seq)
{
    switch (crc) {
    case 0:
        return 0;
    case VMDB_ENOTFOUND:
        return vmdb_fail_set(f, VMDB_FAIL_NOT_FOUND, "no header with seq %llu",
                             (unsigned long long)seq);
    case VMDB_EVERIFY:
        return vmdb_fail_integrity(f, NULL, 0);
    case VMDB_EIO:
        return vmdb_fail_set(f, VMDB_FAIL_DB_UNAVAILABLE, "database unavailable");
    default:
        return vmdb_fail_set(f, VMDB_FAIL_INTERNAL, "out of memory");
    }
}

int vmdb_engine_roots_get(vmdb_engine *e, uint64_t seq, vmdb_roots_info *out)
{
    int rc = 0;
    vmdb_hasher *h = vmdb_engine_hasher(e);
    memset(out, 0, sizeof *out);
    if (!h)
        return vmdb_fail_check(vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL, "out of memory"),
                               &out->fail);
    rc = header_fail(&out->fail, vmdb_chain_header(e->parts.chain, h, seq, &out->header, out->kind),
                     seq);
    return vmdb_fail_check(rc, &out->fail);
}

int vmdb_engine_roots_proof(vmdb_engine *e, uint64_t a, uint64_t b, vmdb_history_info *out)
{
    int rc = 0;
    vmdb_sheader tip;
    vmdb_hasher *h = vmdb_engine_hasher(e);
    memset(out, 0, sizeof *out);
    if (!h)
        return vmdb_fail_check(vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL, "out of memory"),
                               &out->fail);
    bool has_tip = vmdb_chain_tip(e->parts.chain, &tip);
    if (!has_tip || a > b || b > tip.h.seq) {
        rc = vmdb_fail_set(&out->fail, VMDB_FAIL_INVALID_RANGE,
                           "from and to must satisfy from <= to <= %llu (the newest seq)",
                           has_tip ? (unsigned long long)tip.h.seq : 0ULL);
        return vmdb_fail_check(rc, &out->fail);
    }
    rc = header_fail(&out->fail, vmdb_chain_history_proof(e->parts.chain, h, a, b, &out->proof), b);
    return vmdb_fail_check(rc, &out->fail);
}

int vmdb_engine_checkpoint(vmdb_engine *e, vmdb_checkpoint_info *out)
{
    int rc = 0;
    uint64_t n = 0;
    uint8_t root[32];
    char origin[VMDB_NOTE_MAX_NAME + 1];
    vmdb_buf text = VMDB_BUF_INIT, note = VMDB_BUF_INIT;
    vmdb_hasher *h = vmdb_engine_hasher(e);
    const vmdb_identity *id = vmdb_chain_identity(e->parts.chain);
    memset(out, 0, sizeof *out);
    if (!h) {
        rc = vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL, "out of memory");
        goto done;
    }
    snprintf(origin, sizeof origin, "%s", e->cfg.checkpoint_origin ? e->cfg.checkpoint_origin : "");
    if (!origin[0])
        snprintf(origin, sizeof origin, "vmdb/%s", id->address);
    if (vmdb_chain_history_root(e->parts.chain, h, &n, root) != 0) {
        rc = vmdb_fail_set(&out->fail, VMDB_FAIL_WRITES_UNAVAILABLE, "no signed header yet");
        goto done;
    }
    vmdb_slice name = VMDB_SLICE(origin, strlen(origin));
    note.max = sizeof out->note;
    if (vmdb_checkpoint_text(&text, name, n, root) != 0 ||
        vmdb_note_sign(&note, h, VMDB_SLICE(text.ptr, text.len), name, id->sk) != 0) {
        LOG_ERROR("checkpoint: %s", vmdb_error_last());
        rc = vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL, "cannot sign the checkpoint");
        goto done;
    }
    memcpy(out->note, note.ptr, note.len);
    out->len = note.len;
done:
    vmdb_buf_free(&text);
    vmdb_buf_free(&note);
    return vmdb_fail_check(rc, &out->fail);
}

/* The stored record and proof of header `seq` into `out` (request arena).
 * 0 with *found; VMDB_EIO, VMDB_ENOMEM, VMDB_EVERIFY (malformed). */
static int load_transition(vmdb_engine *e, vmdb_arena *ar, vmdb_hasher *h, uint64_t seq,
                           bool *found, vmdb_transition_info *out)
{
    char s[24];
    const char *p[1] = {s};
    vmdb_buf canon = VMDB_BUF_INIT;
    uint8_t bin[VMDB_PROOF_MAX_BYTES];
    int rc = 0;
    *found = false;
    snprintf(s, sizeof s, "%llu", (unsigned long long)seq);
    PGresult *r = vmdb_pgpool_exec(e->parts.pool, false, "read transition record",
                                   "SELECT record, encode(proof, 'hex') FROM vmdb_transitions "
                                   "WHERE seq = $1::bigint",
                                   1, p, NULL);
    if (!r)
        return VMDB_EIO;
    if (PQntuples(r) != 1)
        goto done;
    *found = true;
    const char *rec = PQgetvalue(r, 0, 0), *ph = PQgetvalue(r, 0, 1);
    size_t rlen = (size_t)PQgetlength(r, 0, 0), plen = strlen(ph);
    /* The record goes into the answer as it is: it must be the canonical
     * JSON object it claims to be (then its leaf says whether it is the
     * committed one). */
    if (vmdb_jcs_canonicalize(&canon, VMDB_SLICE(rec, rlen), NULL) != 0 || canon.len != rlen ||
        memcmp(canon.ptr, rec, rlen) != 0 || rec[0] != '{' || plen % 2 || plen / 2 > sizeof bin ||
        vmdb_hex_decode(bin, plen / 2, ph, plen) != 0 ||
        vmdb_proof_decode(&out->proof, VMDB_SLICE(bin, plen / 2)) != 0) {
        rc = VMDB_EVERIFY;
        goto done;
    }
    if (!(out->record = vmdb_arena_strndup(ar, rec, rlen))) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    out->record_len = rlen;
    vmdb_transition_key(h, out->key, seq);
    vmdb_transition_value(h, out->value, VMDB_SLICE(rec, rlen));
done:
    PQclear(r);
    vmdb_buf_free(&canon);
    return rc;
}

int vmdb_engine_transition(vmdb_engine *e, vmdb_arena *ar, uint64_t seq, vmdb_transition_info *out)
{
    int rc = 0;
    bool found = false;
    vmdb_hasher *h = vmdb_engine_hasher(e);
    memset(out, 0, sizeof *out);
    if (!h)
        return vmdb_fail_check(vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL, "out of memory"),
                               &out->fail);
    rc = header_fail(&out->fail, vmdb_chain_header(e->parts.chain, h, seq, &out->header, out->kind),
                     seq);
    if (rc)
        return vmdb_fail_check(rc, &out->fail);
    switch (load_transition(e, ar, h, seq, &found, out)) {
    case 0:
        break;
    case VMDB_EIO:
        rc = vmdb_fail_set(&out->fail, VMDB_FAIL_DB_UNAVAILABLE, "database unavailable");
        return vmdb_fail_check(rc, &out->fail);
    case VMDB_ENOMEM:
        rc = vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL, "out of memory");
        return vmdb_fail_check(rc, &out->fail);
    default:
        found = true;
        rc = VMDB_EVERIFY;
        break;
    }
    if (!found) {
        rc = vmdb_fail_set(&out->fail, VMDB_FAIL_NO_TRANSITION,
                           "header %llu (kind %s) has no transition record",
                           (unsigned long long)seq, out->kind);
        return vmdb_fail_check(rc, &out->fail);
    }
    /* Checked as a client would before it is answered: a record or proof
     * edited in the database is an integrity violation, never served. */
    if (rc == 0 &&
        vmdb_proof_verify(h, out->header.h.smt_root, out->key, out->value, &out->proof) != 0)
        rc = VMDB_EVERIFY;
    if (rc) {
        LOG_ERROR("transition: the stored record of seq %llu does not verify against its header",
                  (unsigned long long)seq);
        vmdb_status_violation(e->parts.status, "vmdb_transitions",
                              "a stored transition record does not verify against its header", NULL,
                              0);
        rc = vmdb_fail_integrity(&out->fail, NULL, 0);
    }
    return vmdb_fail_check(rc, &out->fail);
}

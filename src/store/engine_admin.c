/*
 * Administrative transitions: apply-schema, clear-data, repair-roots and
 * migrate. Each runs on the writer thread (so it serialises with write
 * groups and cannot deadlock with them) and is one PostgreSQL transaction
 * that also writes the new state row; the tree is rebuilt as a pending
 * version and published only after COMMIT.
 */
#include "store/engine_internal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sb.h"

static const uint8_t zero32[32];

static void state_now(vmdb_engine *e, uint64_t *seq, uint8_t root[32], uint8_t main_root[32])
{
    pthread_mutex_lock(&e->mu);
    *seq = e->seq;
    if (root)
        memcpy(root, e->root, 32);
    if (main_root)
        memcpy(main_root, e->main_root, 32);
    pthread_mutex_unlock(&e->mu);
}

static void unblock(vmdb_engine *e)
{
    pthread_mutex_lock(&e->mu);
    e->writes_blocked[0] = 0;
    pthread_mutex_unlock(&e->mu);
}

/* After a detected rollback only restoring the newest backup helps: no
 * admin transition may bless the rolled-back database. */
static bool refuse_rollback(vmdb_engine *e, vmdb_answer *ans)
{
    pthread_mutex_lock(&e->mu);
    bool rb = e->rollback;
    pthread_mutex_unlock(&e->mu);
    if (rb)
        vmdb_answer_fail(ans, 409, "ROLLBACK_DETECTED",
                         "the database was rolled back behind the trusted state or the anchor; "
                         "restore the newest backup instead");
    return rb;
}

static int cmp_leaf(const void *a, const void *b)
{
    return memcmp(((const vmdb_smt_leaf *)a)->key, ((const vmdb_smt_leaf *)b)->key, 32);
}

int vmdb_engine_rehash(vmdb_engine *e, const vmdb_registry *reg, vmdb_smt_leaf **out, size_t *nout)
{
    int rc = 0;
    vmdb_smt_leaf *l = NULL;
    size_t n = 0, cap = 0;
    vmdb_hasher *h = vmdb_engine_hasher(e);
    vmdb_buf jcs = VMDB_BUF_INIT;
    *out = NULL;
    *nout = 0;
    if (!h)
        return VMDB_ENOMEM;
    if (vmdb_pg_cmd(e->wconn, "clear leaves", "DELETE FROM vmdb_leaves", NULL))
        return VMDB_EIO;
    for (size_t i = 0; rc == 0 && i < reg->n; i++) {
        const vmdb_model *m = &reg->models[i];
        vmdb_buf sql = VMDB_BUF_INIT, from = VMDB_BUF_INIT;
        rc = vmdb_sb_puts(&sql, "DECLARE vmdb_rehash NO SCROLL CURSOR FOR ");
        rc = rc ? rc : vmdb_sb_ident(&from, m->table);
        rc = rc ? rc : vmdb_sb_cstr(&from);
        rc = rc ? rc : vmdb_engine_select_rows(&sql, m, (const char *)from.ptr);
        rc = rc ? rc : vmdb_sb_cstr(&sql);
        if (rc == 0 && vmdb_pg_cmd(e->wconn, "rehash cursor", (const char *)sql.ptr, NULL))
            rc = VMDB_EIO;
        vmdb_buf_free(&sql);
        vmdb_buf_free(&from);
        while (rc == 0) {
            PGresult *r = vmdb_pg_exec(e->wconn, "rehash fetch", "FETCH 10000 FROM vmdb_rehash", 0,
                                       NULL, NULL);
            if (!r) {
                rc = VMDB_EIO;
                break;
            }
            int nt = PQntuples(r);
            for (int k = 0; rc == 0 && k < nt; k++) {
                if (n == cap) {
                    size_t nc = cap ? cap * 2 : 4096;
                    vmdb_smt_leaf *nl = realloc(l, nc * sizeof *nl);
                    if (!nl) {
                        rc = VMDB_ENOMEM;
                        break;
                    }
                    l = nl;
                    cap = nc;
                }
                if (vmdb_engine_row_leaf(h, m, PQgetvalue(r, k, 0), PQgetvalue(r, k, 1), l[n].key,
                                         l[n].value, &jcs) != 0) {
                    LOG_ERROR("rehash: row %.100s of %s cannot be canonicalised: %s",
                              PQgetvalue(r, k, 0), m->table, vmdb_error_last());
                    rc = VMDB_EINVAL;
                    break;
                }
                n++;
            }
            PQclear(r);
            if (nt == 0)
                break;
        }
        if (vmdb_pg_cmd(e->wconn, "rehash close", "CLOSE vmdb_rehash", NULL) && rc == 0)
            rc = VMDB_EIO;
    }
    if (rc == 0) {
        qsort(l, n, sizeof *l, cmp_leaf);
        for (size_t i = 1; i < n && rc == 0; i++)
            if (memcmp(l[i - 1].key, l[i].key, 32) == 0)
                rc = VMDB_EINVAL; /* cannot happen with length-prefixed keys */
    }
    if (rc == 0 && n)
        rc = vmdb_pg_copy_leaves(e->wconn, l, n);
    vmdb_buf_free(&jcs);
    if (rc) {
        free(l);
        return rc;
    }
    *out = l;
    *nout = n;
    return 0;
}

/* COMMIT the open transaction after building `leaves` as the next tree and
 * writing the state row; publishes on success. */
static int commit_rebuilt(vmdb_engine *e, const vmdb_smt_leaf *leaves, size_t n, uint64_t *seq_out,
                          uint8_t root[32], const char *kind)
{
    uint64_t seq;
    state_now(e, &seq, NULL, NULL);
    /* Never move the state row backwards (another instance may be ahead). */
    PGresult *sr =
        vmdb_pg_exec(e->wconn, "lock state", "SELECT seq FROM vmdb_state WHERE id = 1 FOR UPDATE",
                     0, NULL, NULL);
    if (!sr || PQntuples(sr) != 1) {
        PQclear(sr);
        vmdb_pg_cmd(e->wconn, "rollback", "ROLLBACK", NULL);
        return VMDB_EIO;
    }
    uint64_t dbseq = strtoull(PQgetvalue(sr, 0, 0), NULL, 10);
    PQclear(sr);
    /* The verified header chain says where the history is; the state row
     * is only a copy (the host may have edited it). Another instance may be
     * ahead (ALLOW_MULTI_INSTANCE): its headers were reloaded on resync. */
    pthread_mutex_lock(&e->mu);
    if (e->has_last)
        seq = e->last.h.seq;
    pthread_mutex_unlock(&e->mu);
    (void)dbseq;
    int rc = vmdb_smt_build(e->tree, leaves, n);
    if (rc) {
        vmdb_pg_cmd(e->wconn, "rollback", "ROLLBACK", NULL);
        return rc;
    }
    vmdb_smt_view_root(vmdb_smt_pending(e->tree), root);
    vmdb_sheader sh;
    /* A header flagged with the kind of transition, the intent, COMMIT. */
    pthread_mutex_lock(&e->mu);
    e->inflight = seq + 1;
    pthread_mutex_unlock(&e->mu);
    rc = vmdb_trust_commit(e, seq + 1, root, kind, NULL, 0, &sh);
    if (rc) {
        pthread_mutex_lock(&e->mu);
        e->inflight = 0;
        pthread_mutex_unlock(&e->mu);
    }
    if (rc) {
        vmdb_smt_discard(e->tree);
        vmdb_pg_cmd(e->wconn, "rollback", "ROLLBACK", NULL);
        return rc;
    }
    vmdb_engine_publish(e, seq + 1);
    vmdb_trust_committed(e, &sh);
    /* Admin transitions also refresh the file itself: after a repair that
     * re-blessed a missing file, the file must exist again. A failure here
     * loses nothing (the journal holds the same state) and is logged. */
    if (vmdb_trust_checkpoint(e) != 0)
        LOG_WARN("trust: trusted_state.json not refreshed after %s", kind);
    /* A forced transition is anchored at once, as the seed's forced set. */
    vmdb_trust_anchor_soon(e);
    *seq_out = seq + 1;
    return 0;
}

static void rollback(vmdb_engine *e)
{
    vmdb_pg_cmd(e->wconn, "rollback", "ROLLBACK", NULL);
}

/* ---- apply-schema ------------------------------------------------------- */

typedef struct apply_arg {
    vmdb_registry *spec;
    bool force;
} apply_arg;

static void do_apply(vmdb_engine *e, void *arg, vmdb_answer *ans)
{
    if (refuse_rollback(e, ans))
        return;
    apply_arg *a = arg;
    vmdb_registry *spec = a->spec;
    vmdb_buf names = VMDB_BUF_INIT, sql = VMDB_BUF_INIT, cols = VMDB_BUF_INIT;
    PGresult *r = NULL;
    bool begun = false, reset = false;
    uint64_t seq = 0;
    uint8_t root[32];
    int rc = 0;
    if (vmdb_pg_cmd(e->wconn, "begin", "BEGIN", NULL)) {
        vmdb_answer_fail(ans, 503, "DB_UNAVAILABLE", "database unavailable");
        goto done;
    }
    begun = true;
    r = vmdb_pg_exec(e->wconn, "read schema hash",
                     "SELECT value FROM verifiable_registry_meta WHERE key = 'schema_hash'", 0,
                     NULL, NULL);
    if (!r)
        goto dberr;
    reset = a->force || PQntuples(r) == 0 || strcmp(PQgetvalue(r, 0, 0), spec->schema_hash) != 0;
    PQclear(r);
    /* Never adopt or drop a table vmdb did not create. */
    rc = vmdb_buf_putc(&names, '{');
    for (size_t i = 0; rc == 0 && i < spec->n; i++) {
        rc = i ? vmdb_buf_putc(&names, ',') : 0;
        rc = rc ? rc
                : vmdb_sb_pgarr_elem(&names, spec->models[i].table, strlen(spec->models[i].table));
    }
    rc = rc ? rc : vmdb_buf_putc(&names, '}');
    rc = rc ? rc : vmdb_sb_cstr(&names);
    if (rc)
        goto nomem;
    const char *p1[1] = {(const char *)names.ptr};
    r = vmdb_pg_exec(
        e->wconn, "find unmanaged tables",
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
        "AND table_name = ANY($1::text[]) AND table_name NOT IN (SELECT table_name FROM "
        "verifiable_models) ORDER BY 1",
        1, p1, NULL);
    if (!r)
        goto dberr;
    if (PQntuples(r) > 0) {
        vmdb_answer_fail(ans, 409, "TABLE_NOT_MANAGED",
                         "table '%.64s' exists and was not created by vmdb; it is left untouched",
                         PQgetvalue(r, 0, 0));
        goto done;
    }
    PQclear(r);
    r = NULL;
    if (reset) {
        r = vmdb_pg_exec(e->wconn, "list models", "SELECT table_name FROM verifiable_models", 0,
                         NULL, NULL);
        if (!r)
            goto dberr;
        for (int i = 0; i < PQntuples(r); i++) {
            const char *t = PQgetvalue(r, i, 0);
            if (!vmdb_ident_valid(t, strlen(t)))
                continue;
            sql.len = 0;
            if (vmdb_sb_puts(&sql, "DROP TABLE IF EXISTS ") || vmdb_sb_ident(&sql, t) ||
                vmdb_sb_puts(&sql, " CASCADE") || vmdb_sb_cstr(&sql))
                goto nomem;
            if (vmdb_pg_cmd(e->wconn, "drop table", (const char *)sql.ptr, NULL))
                goto dberr;
        }
        PQclear(r);
        r = NULL;
        if (vmdb_pg_cmd(e->wconn, "reset registry",
                        "DELETE FROM vmdb_leaves; DELETE FROM verifiable_models; "
                        "DELETE FROM verifiable_registry_meta WHERE key = 'schema_hash'",
                        NULL))
            goto dberr;
    }
    for (size_t i = 0; i < spec->n; i++) {
        const vmdb_model *m = &spec->models[i];
        char state[6];
        if (vmdb_pg_cmd(e->wconn, "create table", m->ddl, state)) {
            vmdb_answer_fail(ans, state[0] == '4' && state[1] == '2' ? 400 : 500,
                             state[0] == '4' && state[1] == '2' ? "INVALID_SCHEMA"
                                                                : "DATABASE_ERROR",
                             "Failed creating table '%s'", m->table);
            goto done;
        }
        cols.len = 0;
        if (vmdb_model_columns_json(m, &cols) || vmdb_sb_cstr(&cols))
            goto nomem;
        const char *p[5] = {m->table, m->pk, vmdb_pkkind_stored_name(m->pk_kind),
                            (const char *)cols.ptr, m->ddl};
        r = vmdb_pg_exec(
            e->wconn, "register model",
            "INSERT INTO verifiable_models (table_name, primary_key_field, primary_key_kind, "
            "columns, create_table_sql, updated_at) VALUES ($1, $2, $3, $4::jsonb, $5, now()) "
            "ON CONFLICT (table_name) DO UPDATE SET primary_key_field = "
            "EXCLUDED.primary_key_field, "
            "primary_key_kind = EXCLUDED.primary_key_kind, columns = EXCLUDED.columns, "
            "create_table_sql = EXCLUDED.create_table_sql, updated_at = now()",
            5, p, NULL);
        if (!r)
            goto dberr;
        PQclear(r);
        r = NULL;
    }
    const char *ph[1] = {spec->schema_hash};
    r = vmdb_pg_exec(e->wconn, "store schema hash",
                     "INSERT INTO verifiable_registry_meta (key, value) VALUES ('schema_hash', $1) "
                     "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                     1, ph, NULL);
    if (!r)
        goto dberr;
    PQclear(r);
    r = NULL;
    if (reset) {
        begun = false;
        if (commit_rebuilt(e, NULL, 0, &seq, root, "reset"))
            goto dberr;
        unblock(e);
        LOG_INFO("apply-schema: reset performed, schema %s, seq %llu", spec->schema_hash,
                 (unsigned long long)seq);
    } else {
        begun = false;
        if (vmdb_pg_cmd(e->wconn, "commit", "COMMIT", NULL))
            goto dberr;
    }
    vmdb_engine_set_registry(e, vmdb_registry_ref(spec));
    vmdb_buf *d = &ans->data;
    rc = vmdb_sb_printf(d, "{\"reset_performed\":%s,\"schema_hash\":\"%s\",\"tables\":[",
                        reset ? "true" : "false", spec->schema_hash);
    for (size_t i = 0; rc == 0 && i < spec->n; i++) {
        rc = i ? vmdb_buf_putc(d, ',') : 0;
        rc = rc ? rc : vmdb_sb_jstrz(d, spec->models[i].table);
    }
    rc = rc ? rc : vmdb_sb_puts(d, "]}");
    if (rc)
        goto nomem;
    ans->status = 200;
    goto done;
nomem:
    vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
    goto done;
dberr:
    vmdb_answer_fail(ans, 500, "DATABASE_ERROR", "apply-schema failed; nothing was changed");
done:
    PQclear(r);
    if (begun)
        rollback(e);
    vmdb_buf_free(&names);
    vmdb_buf_free(&sql);
    vmdb_buf_free(&cols);
}

void vmdb_engine_apply_schema(vmdb_engine *e, vmdb_registry *spec, bool force_reset,
                              vmdb_answer *ans)
{
    apply_arg a = {spec, force_reset};
    vmdb_wreq r = {.admin = do_apply, .admin_arg = &a, .ans = ans};
    vmdb_engine_submit(e, &r);
    vmdb_registry_unref(spec);
}

/* ---- clear-data --------------------------------------------------------- */

static void do_clear(vmdb_engine *e, void *arg, vmdb_answer *ans)
{
    (void)arg;
    if (refuse_rollback(e, ans))
        return;
    vmdb_registry *reg = NULL;
    vmdb_buf sql = VMDB_BUF_INIT;
    uint64_t seq;
    uint8_t root[32];
    bool begun = false;
    if (vmdb_pg_cmd(e->wconn, "begin", "BEGIN", NULL)) {
        vmdb_answer_fail(ans, 503, "DB_UNAVAILABLE", "database unavailable");
        goto done;
    }
    begun = true;
    if (vmdb_engine_load_registry(e->wconn, &reg))
        goto dberr;
    for (size_t i = 0; i < reg->n; i++) {
        sql.len = 0;
        if (vmdb_sb_puts(&sql, "DELETE FROM ") || vmdb_sb_ident(&sql, reg->models[i].table) ||
            vmdb_sb_cstr(&sql))
            goto dberr;
        if (vmdb_pg_cmd(e->wconn, "clear table", (const char *)sql.ptr, NULL))
            goto dberr;
    }
    if (vmdb_pg_cmd(e->wconn, "clear leaves", "DELETE FROM vmdb_leaves", NULL))
        goto dberr;
    begun = false;
    if (commit_rebuilt(e, NULL, 0, &seq, root, "clear"))
        goto dberr;
    unblock(e);
    LOG_INFO("clear-data: all managed rows removed, seq %llu", (unsigned long long)seq);
    if (vmdb_sb_puts(&ans->data,
                     "{\"cleared\":true,\"message\":\"Cleared all managed table data, truncated "
                     "SMT store, and reset roots to zero.\",\"root\":") ||
        vmdb_sb_jhex32(&ans->data, zero32) || vmdb_buf_putc(&ans->data, '}'))
        vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
    else
        ans->status = 200;
    goto done;
dberr:
    vmdb_answer_fail(ans, 500, "DATABASE_ERROR", "Failed clearing DB data; nothing was changed");
done:
    if (begun)
        rollback(e);
    vmdb_registry_unref(reg);
    vmdb_buf_free(&sql);
}

void vmdb_engine_clear(vmdb_engine *e, vmdb_answer *ans)
{
    vmdb_wreq r = {.admin = do_clear, .ans = ans};
    vmdb_engine_submit(e, &r);
}

/* ---- repair-roots ------------------------------------------------------- */

static void do_repair(vmdb_engine *e, void *arg, vmdb_answer *ans)
{
    (void)arg;
    vmdb_registry *reg = NULL;
    vmdb_smt_leaf *leaves = NULL;
    size_t n = 0;
    uint64_t seq;
    uint8_t old_root[32], root[32];
    bool begun = false;
    int rc;
    state_now(e, &seq, old_root, NULL);
    if (refuse_rollback(e, ans))
        goto done;
    if (vmdb_pg_cmd(e->wconn, "begin", "BEGIN", NULL)) {
        vmdb_answer_fail(ans, 503, "DB_UNAVAILABLE", "database unavailable");
        goto done;
    }
    begun = true;
    if (vmdb_engine_load_registry(e->wconn, &reg)) {
        vmdb_answer_fail(ans, 500, "DATABASE_ERROR", "Failed loading model registry from DB");
        goto done;
    }
    if (reg->n == 0) {
        vmdb_answer_fail(ans, 400, "NO_MODELS",
                         "No models found in verifiable_models; nothing to repair.");
        goto done;
    }
    if ((rc = vmdb_engine_rehash(e, reg, &leaves, &n))) {
        vmdb_answer_fail(ans, 500, rc == VMDB_EINVAL ? "INTERNAL" : "DATABASE_ERROR",
                         "Failed rebuilding SMT from DB (see the server log)");
        goto done;
    }
    begun = false;
    if ((rc = commit_rebuilt(e, leaves, n, &seq, root, "repair")) != 0) {
        if (rc == VMDB_EBUSY)
            vmdb_answer_fail(
                ans, 409, "HISTORY_BROKEN",
                "the signed header chain in the database is broken; restore the database "
                "from a backup");
        else
            vmdb_answer_fail(ans, 500, "DATABASE_ERROR",
                             "Failed rebuilding SMT from DB (see the server log)");
        goto done;
    }
    vmdb_engine_set_registry(e, vmdb_registry_ref(reg));
    unblock(e);
    char ho[65], hn[65];
    vmdb_hex_encode(ho, old_root, 32);
    vmdb_hex_encode(hn, root, 32);
    LOG_WARN(
        "repair-roots: the tree was rebuilt from the rows as they are now (%zu leaves): old root "
        "%s, new root %s, seq %llu",
        n, ho, hn, (unsigned long long)seq);
    if (vmdb_sb_puts(&ans->data,
                     "{\"message\":\"Rebuilt SMT from DB rows and force-set temporary_root + "
                     "main_root to the rebuilt root.\",\"new_root\":") ||
        vmdb_sb_jhex32(&ans->data, root) ||
        vmdb_sb_printf(
            &ans->data,
            ",\"old_root\":\"%s\",\"repaired\":true,\"seq\":%llu,\"updated_leaves\":%zu}", ho,
            (unsigned long long)seq, n))
        vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
    else
        ans->status = 200;
done:
    if (begun)
        rollback(e);
    free(leaves);
    vmdb_registry_unref(reg);
}

void vmdb_engine_repair(vmdb_engine *e, vmdb_answer *ans)
{
    vmdb_wreq r = {.admin = do_repair, .ans = ans};
    vmdb_engine_submit(e, &r);
}

/* ---- migrate ------------------------------------------------------------ */

typedef struct mig_file {
    char *name;
    size_t vlen; /* length of the version prefix */
} mig_file;

static int cmp_mig(const void *a, const void *b)
{
    const mig_file *x = a, *y = b;
    if (x->vlen != y->vlen)
        return x->vlen < y->vlen ? -1 : 1; /* numeric order of digit strings */
    int c = strncmp(x->name, y->name, x->vlen);
    return c ? c : strcmp(x->name, y->name);
}

static int read_file(const char *path, vmdb_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return VMDB_EIO;
    out->max = 16u << 20;
    int rc = 0;
    for (;;) {
        if ((rc = vmdb_buf_reserve(out, 65536)))
            break;
        ssize_t k = read(fd, out->ptr + out->len, out->cap - out->len);
        if (k < 0) {
            rc = VMDB_EIO;
            break;
        }
        if (k == 0)
            break;
        out->len += (size_t)k;
    }
    close(fd);
    return rc ? rc : vmdb_sb_cstr(out);
}

static const char *info_type_to_col(const char *t)
{
    static const char *const map[][2] = {{"integer", "int"},
                                         {"bigint", "big_int"},
                                         {"boolean", "bool"},
                                         {"text", "text"},
                                         {"uuid", "uuid"},
                                         {"jsonb", "jsonb"},
                                         {"timestamp with time zone", "timestamptz"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(t, map[i][0]) == 0)
            return map[i][1];
    return t;
}

/* Rewrites verifiable_models.columns from the live catalogue (seed §1.9 step 4),
 * keeping the unique flag of columns that were declared. */
static int refresh_columns(vmdb_engine *e, const vmdb_registry *reg)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < reg->n; i++) {
        const vmdb_model *m = &reg->models[i];
        const char *p[1] = {m->table};
        PGresult *r = vmdb_pg_exec(e->wconn, "read columns",
                                   "SELECT column_name, data_type, is_nullable = 'YES' FROM "
                                   "information_schema.columns WHERE table_schema = 'public' AND "
                                   "table_name = $1 ORDER BY ordinal_position",
                                   1, p, NULL);
        if (!r)
            return VMDB_EIO;
        vmdb_buf cols = VMDB_BUF_INIT;
        size_t nc = 0;
        rc = vmdb_buf_putc(&cols, '[');
        for (int k = 0; rc == 0 && k < PQntuples(r); k++) {
            const char *name = PQgetvalue(r, k, 0);
            if (strcmp(name, m->pk) == 0)
                continue;
            bool uniq = false;
            for (size_t j = 0; j < m->ncols; j++)
                if (strcmp(m->cols[j].name, name) == 0)
                    uniq = m->cols[j].unique;
            rc = nc++ ? vmdb_buf_putc(&cols, ',') : 0;
            rc = rc ? rc : vmdb_sb_puts(&cols, "{\"col_type\":");
            rc = rc ? rc : vmdb_sb_jstrz(&cols, info_type_to_col(PQgetvalue(r, k, 1)));
            rc = rc ? rc : vmdb_sb_puts(&cols, ",\"name\":");
            rc = rc ? rc : vmdb_sb_jstrz(&cols, name);
            rc = rc ? rc
                    : vmdb_sb_printf(&cols, ",\"nullable\":%s,\"unique\":%s}",
                                     PQgetvalue(r, k, 2)[0] == 't' ? "true" : "false",
                                     uniq ? "true" : "false");
        }
        PQclear(r);
        rc = rc ? rc : vmdb_buf_putc(&cols, ']');
        rc = rc ? rc : vmdb_sb_cstr(&cols);
        if (rc == 0) {
            const char *q[2] = {m->table, (const char *)cols.ptr};
            r = vmdb_pg_exec(e->wconn, "update columns",
                             "UPDATE verifiable_models SET columns = $2::jsonb, updated_at = now() "
                             "WHERE table_name = $1",
                             2, q, NULL);
            rc = r ? 0 : VMDB_EIO;
            PQclear(r);
        }
        vmdb_buf_free(&cols);
    }
    return rc;
}

static void do_migrate(vmdb_engine *e, void *arg, vmdb_answer *ans)
{
    (void)arg;
    mig_file *files = NULL;
    size_t nfiles = 0, cap = 0;
    vmdb_buf applied = VMDB_BUF_INIT, content = VMDB_BUF_INIT, path = VMDB_BUF_INIT;
    vmdb_registry *reg = NULL;
    vmdb_smt_leaf *leaves = NULL;
    size_t n = 0, napplied = 0;
    uint64_t seq;
    uint8_t old_root[32], old_main[32], root[32];
    bool begun = false;
    vmdb_hasher *h = vmdb_engine_hasher(e);
    state_now(e, &seq, old_root, old_main);
    if (refuse_rollback(e, ans))
        return;
    DIR *d = opendir(e->migrations_dir);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            const char *nm = de->d_name;
            size_t len = strlen(nm), v = 0;
            while (nm[v] >= '0' && nm[v] <= '9')
                v++;
            if (v == 0 || nm[v] != '_' || len < v + 6 || strcmp(nm + len - 4, ".sql") != 0)
                continue;
            if (nfiles == cap) {
                cap = cap ? cap * 2 : 16;
                mig_file *nf = realloc(files, cap * sizeof *nf);
                if (!nf)
                    goto nomem;
                files = nf;
            }
            if (!(files[nfiles].name = strdup(nm)))
                goto nomem;
            files[nfiles++].vlen = v;
        }
        closedir(d);
    } else {
        LOG_INFO("migrate: no migrations directory '%s'; only rehashing", e->migrations_dir);
    }
    qsort(files, nfiles, sizeof *files, cmp_mig);
    if (vmdb_pg_cmd(e->wconn, "begin", "BEGIN", NULL)) {
        vmdb_answer_fail(ans, 503, "DB_UNAVAILABLE", "database unavailable");
        goto done;
    }
    begun = true;
    for (size_t i = 0; i < nfiles; i++) {
        path.len = 0;
        content.len = 0;
        if (vmdb_sb_printf(&path, "%s/%s", e->migrations_dir, files[i].name) || vmdb_sb_cstr(&path))
            goto nomem;
        if (read_file((const char *)path.ptr, &content)) {
            vmdb_answer_fail(ans, 400, "MIGRATION_FAILED", "cannot read migration %s",
                             files[i].name);
            goto done;
        }
        uint8_t sum[32];
        char hex[65], version[32];
        vmdb_slice part = VMDB_SLICE(content.ptr, content.len);
        vmdb_hash_parts(h, sum, &part, 1);
        vmdb_hex_encode(hex, sum, 32);
        snprintf(version, sizeof version, "%.*s", (int)(files[i].vlen < 31 ? files[i].vlen : 31),
                 files[i].name);
        const char *p[3] = {version, files[i].name, hex};
        PGresult *r =
            vmdb_pg_exec(e->wconn, "read migration",
                         "SELECT checksum FROM vmdb_migrations WHERE version = $1", 1, p, NULL);
        if (!r)
            goto dberr;
        bool seen = PQntuples(r) > 0, same = seen && strcmp(PQgetvalue(r, 0, 0), hex) == 0;
        PQclear(r);
        if (seen && !same) {
            vmdb_answer_fail(ans, 409, "MIGRATION_CHANGED",
                             "migration %s was changed after it was applied", files[i].name);
            goto done;
        }
        if (seen)
            continue;
        char state[6];
        if (vmdb_pg_cmd(e->wconn, files[i].name, (const char *)content.ptr, state)) {
            vmdb_answer_fail(
                ans, 400, "MIGRATION_FAILED",
                "migration %s failed (SQLSTATE %s); nothing was applied, see the server log",
                files[i].name, state[0] ? state : "?");
            goto done;
        }
        r = vmdb_pg_exec(
            e->wconn, "record migration",
            "INSERT INTO vmdb_migrations (version, name, checksum) VALUES ($1, $2, $3)", 3, p,
            NULL);
        if (!r)
            goto dberr;
        PQclear(r);
        if ((napplied++ && vmdb_buf_putc(&applied, ',')) || vmdb_sb_jstrz(&applied, files[i].name))
            goto nomem;
        LOG_INFO("migrate: applied %s", files[i].name);
    }
    if (vmdb_engine_load_registry(e->wconn, &reg) || refresh_columns(e, reg))
        goto dberr;
    vmdb_registry_unref(reg);
    reg = NULL;
    if (vmdb_engine_load_registry(e->wconn, &reg))
        goto dberr;
    if (vmdb_engine_rehash(e, reg, &leaves, &n))
        goto dberr;
    begun = false;
    if (commit_rebuilt(e, leaves, n, &seq, root, "migrate"))
        goto dberr;
    vmdb_engine_set_registry(e, vmdb_registry_ref(reg));
    unblock(e);
    vmdb_buf *o = &ans->data;
    int rc = vmdb_sb_puts(o, "{\"applied\":[");
    rc = rc ? rc : vmdb_buf_put(o, applied.ptr, applied.len);
    rc = rc ? rc
            : vmdb_sb_puts(o,
                           "],\"message\":\"Migrations applied. SMT rebuilt from post-migration DB "
                           "state. temporary_root + main_root committed.\",\"migrated\":true,"
                           "\"new_root\":");
    rc = rc ? rc : vmdb_sb_jhex32(o, root);
    rc = rc ? rc : vmdb_sb_puts(o, ",\"old_main_root\":");
    rc = rc ? rc : vmdb_sb_jhex32(o, old_main);
    rc = rc ? rc : vmdb_sb_puts(o, ",\"old_temporary_root\":");
    rc = rc ? rc : vmdb_sb_jhex32(o, old_root);
    rc =
        rc ? rc
           : vmdb_sb_printf(o, ",\"seq\":%llu,\"updated_leaves\":%zu}", (unsigned long long)seq, n);
    if (rc)
        goto nomem;
    ans->status = 200;
    goto done;
nomem:
    vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
    goto done;
dberr:
    vmdb_answer_fail(ans, 500, "DATABASE_ERROR", "Failed applying migrations; nothing was changed");
done:
    if (begun)
        rollback(e);
    for (size_t i = 0; i < nfiles; i++)
        free(files[i].name);
    free(files);
    free(leaves);
    vmdb_registry_unref(reg);
    vmdb_buf_free(&applied);
    vmdb_buf_free(&content);
    vmdb_buf_free(&path);
}

void vmdb_engine_migrate(vmdb_engine *e, vmdb_answer *ans)
{
    vmdb_wreq r = {.admin = do_migrate, .ans = ans};
    vmdb_engine_submit(e, &r);
}

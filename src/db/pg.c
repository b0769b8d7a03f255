/*
 * libpq glue. The session settings matter for hashing (PROTOCOL.md §2.2):
 * row_to_json renders timestamptz in the session time zone, so every
 * connection pins UTC and ISO dates; extra_float_digits=1 gives shortest
 * round-trip floats; IntervalStyle, bytea_output and lc_monetary fix the
 * text of interval, bytea and money values.
 */
#include "db/pg.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/grow.h"
#include "util/log.h"
#include "util/sb.h"
#include "vmdb/common.h"

PGconn *vmdb_pg_connect(const char *url, const char *role)
{
    const char *keys[] = {"dbname",           "options",         "client_encoding",
                          "application_name", "connect_timeout", NULL};
    const char *vals[] = {url,
                          "-c TimeZone=UTC -c DateStyle=ISO,MDY -c extra_float_digits=1 "
                          "-c IntervalStyle=postgres -c bytea_output=hex -c lc_monetary=C "
                          "-c client_min_messages=warning",
                          "UTF8",
                          role,
                          "10",
                          NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        LOG_ERROR("postgres: connect failed: %s", c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        return NULL;
    }
    return c;
}

static void trim_nl(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = 0;
}

PGresult *vmdb_pg_exec(PGconn *c, const char *what, const char *sql, int n,
                       const char *const *params, char sqlstate[6])
{
    if (sqlstate)
        sqlstate[0] = 0;
    /* Without parameters the simple protocol runs, which accepts several
     * statements (DDL scripts, migrations). */
    PGresult *r =
        n == 0 && !params ? PQexec(c, sql) : PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_OUT ||
        st == PGRES_COPY_IN)
        return r;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    trim_nl(msg);
    LOG_WARN("postgres: %s failed [%s]: %s", what, state ? state : "-", msg);
    if (sqlstate && state && strlen(state) == 5)
        memcpy(sqlstate, state, 6);
    PQclear(r);
    return NULL;
}

int vmdb_pg_cmd(PGconn *c, const char *what, const char *sql, char sqlstate[6])
{
    PGresult *r = vmdb_pg_exec(c, what, sql, 0, NULL, sqlstate);
    if (!r)
        return VMDB_EIO;
    PQclear(r);
    return 0;
}

void vmdb_pgcache_reset(vmdb_pgcache *cache)
{
    for (unsigned i = 0; i < VMDB_PGCACHE_SLOTS; i++) {
        free(cache->sql[i]);
        cache->sql[i] = NULL;
    }
    cache->next = 0;
}

PGresult *vmdb_pg_exec_cached(PGconn *c, vmdb_pgcache *cache, const char *what, const char *sql,
                              int n, const char *const *params, char sqlstate[6])
{
    char name[32];
    unsigned slot = VMDB_PGCACHE_SLOTS;
    for (unsigned i = 0; i < VMDB_PGCACHE_SLOTS; i++)
        if (cache->sql[i] && strcmp(cache->sql[i], sql) == 0) {
            slot = i;
            break;
        }
    if (slot == VMDB_PGCACHE_SLOTS) {
        slot = cache->next;
        cache->next = (cache->next + 1) % VMDB_PGCACHE_SLOTS;
        if (cache->sql[slot]) {
            snprintf(name, sizeof name, "vmdb_%llu", cache->id[slot]);
            char dealloc[64];
            snprintf(dealloc, sizeof dealloc, "DEALLOCATE %s", name);
            PQclear(PQexec(c, dealloc));
            free(cache->sql[slot]);
            cache->sql[slot] = NULL;
        }
        cache->id[slot] = ++cache->serial;
        snprintf(name, sizeof name, "vmdb_%llu", cache->id[slot]);
        PGresult *r = PQprepare(c, name, sql, n, NULL);
        bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) /* report the error the plain way */
            return vmdb_pg_exec(c, what, sql, n, params, sqlstate);
        cache->sql[slot] = strdup(sql);
        if (!cache->sql[slot]) {
            PQclear(PQexec(c, "DEALLOCATE ALL"));
            vmdb_pgcache_reset(cache);
            return vmdb_pg_exec(c, what, sql, n, params, sqlstate);
        }
    }
    snprintf(name, sizeof name, "vmdb_%llu", cache->id[slot]);
    if (sqlstate)
        sqlstate[0] = 0;
    PGresult *r = PQexecPrepared(c, name, n, params, NULL, NULL, 0);
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    bool stale = state && (strcmp(state, "0A000") == 0 || strcmp(state, "26000") == 0);
    PQclear(r);
    /* A plan the catalogue invalidated (or a lost statement): forget it and
     * run the statement the plain way, which also logs a real error. */
    free(cache->sql[slot]);
    cache->sql[slot] = NULL;
    if (!stale && PQstatus(c) != CONNECTION_OK)
        vmdb_pgcache_reset(cache);
    return vmdb_pg_exec(c, what, sql, n, params, sqlstate);
}

int vmdb_pg_pipeline(PGconn *c, const vmdb_pgstmt *st, size_t n, PGresult **res, char sqlstate[6])
{
    return vmdb_pg_pipeline_split(c, st, n, n, NULL, NULL, res, sqlstate);
}

int vmdb_pg_pipeline_split(PGconn *c, const vmdb_pgstmt *st, size_t n, size_t split,
                           int (*between)(void *arg), void *arg, PGresult **res, char sqlstate[6])
{
    int first = -1;
    size_t sent = 0;
    bool held = false; /* `between` failed: the rest was not sent */
    sqlstate[0] = 0;
    for (size_t i = 0; i < n; i++)
        res[i] = NULL;
    if (PQenterPipelineMode(c) != 1) {
        LOG_WARN("postgres: cannot enter pipeline mode: %s", PQerrorMessage(c));
        return 0;
    }
    for (; sent < n; sent++) {
        if (sent == split && between) {
            if (PQsendFlushRequest(c) != 1 || PQflush(c) != 0)
                break;
            if (between(arg) != 0) {
                held = true;
                break;
            }
        }
        if (PQsendQueryParams(c, st[sent].sql, st[sent].n, NULL, st[sent].params, NULL, NULL, 0) !=
            1)
            break;
    }
    bool synced = PQpipelineSync(c) == 1;
    for (size_t i = 0; i < sent; i++) {
        PGresult *r = PQgetResult(c);
        ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
            res[i] = r;
        } else {
            if (first < 0) {
                first = (int)i;
                const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
                if (state && strlen(state) == 5)
                    memcpy(sqlstate, state, 6);
                if (s != PGRES_PIPELINE_ABORTED) {
                    char msg[512];
                    snprintf(msg, sizeof msg, "%s",
                             r ? PQresultErrorMessage(r) : PQerrorMessage(c));
                    trim_nl(msg);
                    LOG_WARN("postgres: %s failed [%s]: %s", st[i].what, state ? state : "-", msg);
                }
            }
            PQclear(r);
        }
        /* Each query's results end with a NULL. */
        PGresult *end;
        while (r && (end = PQgetResult(c)) != NULL)
            PQclear(end);
    }
    if (synced) {
        PGresult *r = PQgetResult(c); /* PGRES_PIPELINE_SYNC */
        PQclear(r);
    }
    if (PQexitPipelineMode(c) != 1)
        LOG_WARN("postgres: cannot leave pipeline mode: %s", PQerrorMessage(c));
    if (first < 0 && sent < n) {
        first = (int)sent;
        if (held)
            sqlstate[0] = 0;
        else
            LOG_WARN("postgres: pipeline send failed: %s", PQerrorMessage(c));
    }
    return first;
}

int vmdb_pg_text_array(vmdb_buf *b, const char *const *v, size_t n)
{
    int rc = vmdb_buf_putc(b, '{');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (i)
            rc = vmdb_buf_putc(b, ',');
        rc = rc ? rc : vmdb_sb_pgarr_elem(b, v[i], strlen(v[i]));
    }
    rc = rc ? rc : vmdb_buf_putc(b, '}');
    return rc ? rc : vmdb_sb_cstr(b);
}

static const uint8_t copy_sig[11] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0};

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return ntohl(v);
}

int vmdb_pg_load_leaves(PGconn *c, vmdb_smt_leaf **out, size_t *nout)
{
    int rc = 0;
    vmdb_smt_leaf *l = NULL;
    size_t n = 0, cap = 0;
    bool header = false;
    char *row = NULL;
    PGresult *r = vmdb_pg_exec(
        c, "load leaves",
        "COPY (SELECT key, value FROM vmdb_leaves ORDER BY key) TO STDOUT (FORMAT binary)", 0, NULL,
        NULL);
    if (!r)
        return VMDB_EIO;
    PQclear(r);
    for (;;) {
        int len = PQgetCopyData(c, &row, 0);
        if (len == -1)
            break;
        if (len < 0) {
            LOG_ERROR("postgres: COPY leaves failed: %s", PQerrorMessage(c));
            rc = VMDB_EIO;
            goto done;
        }
        const uint8_t *p = (const uint8_t *)row;
        size_t left = (size_t)len;
        if (!header) {
            if (left < 19 || memcmp(p, copy_sig, 11) != 0) {
                rc = VMDB_EINVAL;
                goto done;
            }
            uint32_t ext = rd32(p + 15);
            if (left < 19 + (size_t)ext) {
                rc = VMDB_EINVAL;
                goto done;
            }
            p += 19 + ext;
            left -= 19 + ext;
            header = true;
        }
        if (left == 2 && p[0] == 0xff && p[1] == 0xff) {
            PQfreemem(row);
            row = NULL;
            continue; /* trailer */
        }
        if (left != 2 + 4 + 32 + 4 + 32 || p[0] != 0 || p[1] != 2 || rd32(p + 2) != 32 ||
            rd32(p + 38) != 32) {
            LOG_ERROR("vmdb_leaves: a row is not a 32-byte key and a 32-byte value");
            rc = VMDB_EINVAL;
            goto done;
        }
        vmdb_smt_leaf *nl = vmdb_grow(l, &cap, n, sizeof *nl, 4096);
        if (!nl) {
            rc = VMDB_ENOMEM;
            goto done;
        }
        l = nl;
        memcpy(l[n].key, p + 6, 32);
        memcpy(l[n].value, p + 42, 32);
        n++;
        if (n % 1000000 == 0)
            LOG_INFO("start-up: %zu leaves loaded", n);
        PQfreemem(row);
        row = NULL;
    }
    r = PQgetResult(c);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        LOG_ERROR("postgres: COPY leaves failed: %s", PQresultErrorMessage(r));
        rc = VMDB_EIO;
    }
    PQclear(r);
    while ((r = PQgetResult(c)))
        PQclear(r);
done:
    if (row)
        PQfreemem(row);
    if (rc) {
        /* Drain whatever the server still sends so the connection is usable. */
        while (PQgetCopyData(c, &row, 0) >= 0)
            PQfreemem(row);
        PGresult *x;
        while ((x = PQgetResult(c)))
            PQclear(x);
        free(l);
        l = NULL;
        n = 0;
    }
    *out = l;
    *nout = n;
    return rc;
}

int vmdb_pg_copy_leaves(PGconn *c, const vmdb_smt_leaf *l, size_t n)
{
    int rc = 0;
    PGresult *r =
        vmdb_pg_exec(c, "copy leaves", "COPY vmdb_leaves (key, value) FROM STDIN (FORMAT binary)",
                     0, NULL, NULL);
    if (!r)
        return VMDB_EIO;
    PQclear(r);
    uint8_t hdr[19] = {0};
    memcpy(hdr, copy_sig, 11);
    vmdb_buf b = VMDB_BUF_INIT;
    rc = vmdb_buf_put(&b, hdr, sizeof hdr);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint8_t t[2 + 4 + 32 + 4 + 32];
        uint32_t len32 = htonl(32);
        t[0] = 0;
        t[1] = 2;
        memcpy(t + 2, &len32, 4);
        memcpy(t + 6, l[i].key, 32);
        memcpy(t + 38, &len32, 4);
        memcpy(t + 42, l[i].value, 32);
        rc = vmdb_buf_put(&b, t, sizeof t);
        if (rc == 0 && b.len >= (1 << 20)) {
            if (PQputCopyData(c, (const char *)b.ptr, (int)b.len) != 1)
                rc = VMDB_EIO;
            b.len = 0;
        }
    }
    if (rc == 0) {
        uint8_t trailer[2] = {0xff, 0xff};
        rc = vmdb_buf_put(&b, trailer, 2);
    }
    if (rc == 0 && PQputCopyData(c, (const char *)b.ptr, (int)b.len) != 1)
        rc = VMDB_EIO;
    vmdb_buf_free(&b);
    if (PQputCopyEnd(c, rc ? "aborted" : NULL) != 1)
        rc = VMDB_EIO;
    while ((r = PQgetResult(c))) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            LOG_ERROR("postgres: COPY into vmdb_leaves failed: %s", PQresultErrorMessage(r));
            rc = rc ? rc : VMDB_EIO;
        }
        PQclear(r);
    }
    return rc;
}

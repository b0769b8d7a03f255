/*
 * libpq glue. The session settings matter for hashing (PROTOCOL.md §2.2):
 * row_to_json renders timestamptz in the session time zone, so every
 * connection pins UTC and ISO dates; extra_float_digits=1 gives shortest
 * round-trip floats; IntervalStyle, bytea_output and lc_monetary fix the
 * text of interval, bytea and money values.
 */
#include "db/pg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util/grow.h"
#include "util/log.h"
#include "util/sb.h"
#include "vmdb/common.h"

/* The timeouts (set once at start, before any connection). */
static unsigned g_connect_s = 5, g_statement_ms = 30000, g_lock_ms = 10000, g_admin_s = 3600;
/* Per thread: 0 = the default deadline, -1 = none (admin jobs), > 0 = that
 * many ms (a /health probe). */
static _Thread_local int64_t tl_wait_ms;
/* The newest outcome of a PostgreSQL call, any connection: for /health. */
static _Atomic int64_t g_last_ok_ms, g_last_fail_ms;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vmdb_pg_set_timeouts(unsigned connect_s, unsigned statement_ms, unsigned lock_ms)
{
    g_connect_s = connect_s;
    g_statement_ms = statement_ms;
    g_lock_ms = lock_ms;
}

void vmdb_pg_set_wait(int64_t ms)
{
    tl_wait_ms = ms;
}

void vmdb_pg_set_admin_timeout(unsigned s)
{
    g_admin_s = s;
}

void vmdb_pg_admin_begin(PGconn *c)
{
    char sql[64];
    snprintf(sql, sizeof sql, "SET statement_timeout = %llu",
             (unsigned long long)g_admin_s * 1000u);
    vmdb_pg_set_wait(g_admin_s ? (int64_t)g_admin_s * 1000 + 2000 : -1);
    vmdb_pg_cmd(c, "set the admin statement timeout", sql, NULL);
}

void vmdb_pg_admin_end(PGconn *c)
{
    vmdb_pg_cmd(c, "restore the statement timeout", "RESET statement_timeout", NULL);
    vmdb_pg_set_wait(0);
}

static void note(bool ok)
{
    atomic_store(ok ? &g_last_ok_ms : &g_last_fail_ms, mono_ms());
}

bool vmdb_pg_last(int64_t *age_ms)
{
    int64_t ok = atomic_load(&g_last_ok_ms), fail = atomic_load(&g_last_fail_ms);
    int64_t last = ok > fail ? ok : fail;
    if (age_ms)
        *age_ms = last ? mono_ms() - last : -1;
    return last == 0 || ok >= fail;
}

bool vmdb_pg_sqlstate_unavailable(const char *s)
{
    /* no connection, connection exceptions (08), shutdown or start-up
     * (57P01..57P05), statement or lock timeout (57014, 55P03) */
    return !s || !s[0] || !strncmp(s, "08", 2) || !strncmp(s, "57P", 3) || !strcmp(s, "57014") ||
           !strcmp(s, "55P03");
}

PGconn *vmdb_pg_connect(const char *url, const char *role)
{
    char timeout[16], options[512];
    snprintf(timeout, sizeof timeout, "%u", g_connect_s ? g_connect_s : 5);
    /* statement_timeout and lock_timeout are session defaults: admin jobs
     * lift the statement timeout for their own transaction (SET LOCAL).
     * synchronous_commit is pinned on: a header is signed as committed once
     * its COMMIT returned (PROTOCOL.md §6.1), so a COMMIT that returned must
     * be durable whatever the database or role default says. */
    snprintf(options, sizeof options,
             "-c TimeZone=UTC -c DateStyle=ISO,MDY -c extra_float_digits=1 "
             "-c IntervalStyle=postgres -c bytea_output=hex -c lc_monetary=C "
             "-c synchronous_commit=on "
             "-c client_min_messages=warning -c statement_timeout=%u -c lock_timeout=%u",
             g_statement_ms, g_lock_ms);
    const char *keys[] = {"dbname",          "options",    "client_encoding", "application_name",
                          "connect_timeout", "keepalives", "keepalives_idle", NULL};
    const char *vals[] = {url, options, "UTF8", role, timeout, "1", "30", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        LOG_ERROR("postgres: connect failed: %s", c ? PQerrorMessage(c) : "out of memory");
        PQfinish(c);
        note(false);
        return NULL;
    }
    return c;
}

/* How long a thread waits for PostgreSQL to say anything before it counts
 * the connection as lost: a frozen server (SIGSTOP, a hung host) answers
 * neither the statement timeout nor TCP keepalives. 0 = no limit. */
static int64_t wait_limit(void)
{
    if (tl_wait_ms)
        return tl_wait_ms < 0 ? 0 : tl_wait_ms;
    return g_statement_ms ? (int64_t)g_statement_ms + 2000 : 0;
}

/* Waits until a result (or, with `copy`, COPY data) can be read without
 * blocking. false when nothing came within the limit: the socket is shut
 * down so that libpq, and everyone who checks PQstatus, sees a lost
 * connection. */
static bool await(PGconn *c, bool copy)
{
    int64_t limit = wait_limit();
    int fd = PQsocket(c);
    if (limit <= 0 || fd < 0)
        return true;
    int64_t end = mono_ms() + limit;
    for (;;) {
        if (PQstatus(c) != CONNECTION_OK || (!copy && !PQisBusy(c)))
            return true;
        int64_t left = end - mono_ms();
        if (left <= 0)
            break;
        struct pollfd p = {fd, POLLIN, 0};
        int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r < 0 && errno != EINTR)
            return true;
        if (r > 0) {
            if (PQconsumeInput(c) == 0 || copy)
                return true;
        }
    }
    LOG_WARN("postgres: no answer within %lld ms: dropping the connection", (long long)limit);
    shutdown(fd, SHUT_RDWR);
    PQconsumeInput(c);
    note(false);
    return false;
}

/* The results of what was just sent, as PQexec gives them: the last one,
 * or the first error; stops at a COPY. NULL when nothing came. */
static PGresult *collect(PGconn *c)
{
    PGresult *last = NULL;
    for (;;) {
        await(c, false);
        PGresult *r = PQgetResult(c);
        if (!r)
            break;
        ExecStatusType s = PQresultStatus(r);
        if (last && PQresultStatus(last) == PGRES_FATAL_ERROR) {
            PQclear(r);
        } else {
            PQclear(last);
            last = r;
        }
        if (s == PGRES_COPY_IN || s == PGRES_COPY_OUT || s == PGRES_COPY_BOTH)
            break;
    }
    return last;
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
    return vmdb_pg_exec_bin(c, what, sql, n, params, NULL, NULL, sqlstate);
}

PGresult *vmdb_pg_exec_bin(PGconn *c, const char *what, const char *sql, int n,
                           const char *const *params, const int *lengths, const int *formats,
                           char sqlstate[6])
{
    if (sqlstate)
        sqlstate[0] = 0;
    /* Without parameters the simple protocol runs, which accepts several
     * statements (DDL scripts, migrations). */
    int sent = n == 0 && !params ? PQsendQuery(c, sql)
                                 : PQsendQueryParams(c, sql, n, NULL, params, lengths, formats, 0);
    PGresult *r = sent == 1 ? collect(c) : NULL;
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    note(PQstatus(c) == CONNECTION_OK);
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
            if (PQsendQuery(c, dealloc) == 1)
                PQclear(collect(c));
            free(cache->sql[slot]);
            cache->sql[slot] = NULL;
        }
        cache->id[slot] = ++cache->serial;
        snprintf(name, sizeof name, "vmdb_%llu", cache->id[slot]);
        PGresult *r = PQsendPrepare(c, name, sql, n, NULL) == 1 ? collect(c) : NULL;
        bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) /* report the error the plain way */
            return vmdb_pg_exec(c, what, sql, n, params, sqlstate);
        cache->sql[slot] = strdup(sql);
        if (!cache->sql[slot]) {
            if (PQsendQuery(c, "DEALLOCATE ALL") == 1)
                PQclear(collect(c));
            vmdb_pgcache_reset(cache);
            return vmdb_pg_exec(c, what, sql, n, params, sqlstate);
        }
    }
    snprintf(name, sizeof name, "vmdb_%llu", cache->id[slot]);
    if (sqlstate)
        sqlstate[0] = 0;
    PGresult *r = PQsendQueryPrepared(c, name, n, params, NULL, NULL, 0) == 1 ? collect(c) : NULL;
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        note(true);
        return r;
    }
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
        if (PQsendQueryParams(c, st[sent].sql, st[sent].n, NULL, st[sent].params, st[sent].lengths,
                              st[sent].formats, 0) != 1)
            break;
    }
    bool synced = PQpipelineSync(c) == 1;
    for (size_t i = 0; i < sent; i++) {
        await(c, false);
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
        await(c, false);
        PGresult *r = PQgetResult(c); /* PGRES_PIPELINE_SYNC */
        PQclear(r);
    }
    note(PQstatus(c) == CONNECTION_OK);
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

static int put32(vmdb_buf *b, uint32_t x)
{
    uint8_t be[4] = {(uint8_t)(x >> 24), (uint8_t)(x >> 16), (uint8_t)(x >> 8), (uint8_t)x};
    return vmdb_buf_put(b, be, 4);
}

int vmdb_pg_bin_array(vmdb_buf *b, uint32_t oid, const char *const *v, const size_t *lens, size_t n)
{
    const size_t limit = (size_t)1 << 30;
    bool nulls = false;
    size_t total = 20;
    for (size_t i = 0; i < n; i++) {
        size_t l = !v[i] ? 0 : lens ? lens[i] : strlen(v[i]);
        nulls = nulls || !v[i];
        if (l >= limit || (total += 4 + l) >= limit)
            return VMDB_ELIMIT;
    }
    /* ndim, has-nulls flag, element type; then size and lower bound (1)
     * of the one dimension (none for an empty array); then each element
     * as its length (-1: NULL) and bytes. */
    int rc = put32(b, n ? 1 : 0);
    rc = rc ? rc : put32(b, nulls ? 1 : 0);
    rc = rc ? rc : put32(b, oid);
    rc = rc ? rc : n ? put32(b, (uint32_t)n) : 0;
    rc = rc ? rc : n ? put32(b, 1) : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t l = !v[i] ? 0 : lens ? lens[i] : strlen(v[i]);
        rc = put32(b, v[i] ? (uint32_t)l : UINT32_MAX);
        rc = rc || !v[i] || l == 0 ? rc : vmdb_buf_put(b, v[i], l);
    }
    return rc;
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
        int len = PQgetCopyData(c, &row, 1);
        if (len == 0) {
            if (!await(c, true)) {
                rc = VMDB_EIO;
                goto done;
            }
            if (PQconsumeInput(c) == 0) {
                LOG_ERROR("postgres: COPY leaves failed: %s", PQerrorMessage(c));
                rc = VMDB_EIO;
                goto done;
            }
            continue;
        }
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
    await(c, false);
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
        while (PQstatus(c) == CONNECTION_OK && PQgetCopyData(c, &row, 0) >= 0)
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

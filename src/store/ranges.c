/*
 * The id ranges: the writer's in-memory copy, the leaf of a range and the
 * SQL of vmdb_id_ranges. A handful of serial tables at most, so the copy is
 * a plain array searched by name.
 */
#include "store/ranges.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/grow.h"
#include "util/sb.h"
#include "vmdb/rowhash.h"

struct vmdb_ranges {
    pthread_mutex_t mu; /* guards v, n, cap */
    vmdb_id_range *v;
    size_t n, cap;
};

int vmdb_ranges_new(vmdb_ranges **out)
{
    vmdb_ranges *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r)
        return VMDB_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    *out = r;
    return 0;
}

void vmdb_ranges_free(vmdb_ranges *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r->v);
    free(r);
}

bool vmdb_ranges_applies(const vmdb_model *m)
{
    return m && (m->pk_kind == VMDB_PK_SERIAL || m->pk_kind == VMDB_PK_BIG_SERIAL);
}

/* The index of `table`, or r->n. Under the lock. */
static size_t find(const vmdb_ranges *r, const char *table)
{
    size_t i = 0;
    while (i < r->n && strcmp(r->v[i].table, table) != 0)
        i++;
    return i;
}

bool vmdb_ranges_get(vmdb_ranges *r, const char *table, int64_t *lo, int64_t *hi)
{
    pthread_mutex_lock(&r->mu);
    size_t i = find(r, table);
    bool has = i < r->n;
    if (has) {
        *lo = r->v[i].lo;
        *hi = r->v[i].hi;
    }
    pthread_mutex_unlock(&r->mu);
    return has;
}

int vmdb_ranges_set(vmdb_ranges *r, const char *table, int64_t lo, int64_t hi)
{
    int rc = 0;
    if (strlen(table) >= sizeof r->v[0].table)
        return VMDB_EINVAL;
    pthread_mutex_lock(&r->mu);
    size_t i = find(r, table);
    if (i == r->n) {
        vmdb_id_range *nv = vmdb_grow(r->v, &r->cap, r->n, sizeof *nv, 8);
        if (!nv) {
            rc = VMDB_ENOMEM;
            goto done;
        }
        r->v = nv;
    }
    if (i == r->n) {
        snprintf(r->v[i].table, sizeof r->v[i].table, "%s", table);
        r->n++;
    }
    r->v[i].lo = lo;
    r->v[i].hi = hi;
done:
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int vmdb_ranges_replace(vmdb_ranges *r, const vmdb_id_range *v, size_t n)
{
    vmdb_id_range *nv = n ? malloc(n * sizeof *nv) : NULL;
    if (n && !nv)
        return VMDB_ENOMEM;
    if (n)
        memcpy(nv, v, n * sizeof *nv);
    pthread_mutex_lock(&r->mu);
    vmdb_id_range *old = r->v;
    r->v = nv;
    r->n = r->cap = n;
    pthread_mutex_unlock(&r->mu);
    free(old);
    return 0;
}

int vmdb_ranges_leaf(vmdb_hasher *h, const char *table, int64_t lo, int64_t hi, uint8_t key[32],
                     uint8_t value[32])
{
    char ls[24], hs[24];
    int ln = snprintf(ls, sizeof ls, "%" PRId64, lo), hn = snprintf(hs, sizeof hs, "%" PRId64, hi);
    int rc = vmdb_range_key(h, key, VMDB_SLICE(table, strlen(table)));
    return rc ? rc
              : vmdb_range_value(h, value, VMDB_SLICE(ls, (size_t)ln), VMDB_SLICE(hs, (size_t)hn));
}

bool vmdb_ranges_parse_id(const char *text, int64_t *out)
{
    char *end = NULL;
    if (!text || !*text)
        return false;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end)
        return false;
    *out = (int64_t)v;
    return true;
}

int vmdb_ranges_gap(int64_t lo, int64_t hi, const int64_t *ids, size_t m, size_t limit, bool asc,
                    bool *empty, int64_t *from, int64_t *to, uint64_t *nabsent)
{
    *empty = false;
    *from = lo;
    *to = hi;
    *nabsent = 0;
    if (lo > hi || m > limit)
        return VMDB_EINVAL;
    for (size_t i = 0; i < m; i++)
        if (ids[i] < lo || ids[i] > hi ||
            (i && (asc ? ids[i] <= ids[i - 1] : ids[i] >= ids[i - 1])))
            return VMDB_EINVAL;
    if (m && m == limit) {
        /* A full page: the gap ends next to its last id (which the answer
         * returns), so compare before stepping past it. */
        int64_t last = ids[m - 1];
        if (asc ? last == lo : last == hi) {
            *empty = true;
            return 0;
        }
        if (asc)
            *to = last - 1;
        else
            *from = last + 1;
    }
    /* to - from in unsigned arithmetic is exact (to >= from); the gap holds
     * span + 1 ids, which wraps only for the whole int64 range. */
    uint64_t span = (uint64_t)*to - (uint64_t)*from;
    size_t inside = 0;
    for (size_t i = 0; i < m; i++)
        inside += ids[i] >= *from && ids[i] <= *to;
    if (inside > span)
        *nabsent = 0; /* every id of the gap is returned */
    else
        *nabsent = span - inside == UINT64_MAX ? UINT64_MAX : span - inside + 1;
    return 0;
}

int vmdb_ranges_load(PGconn *c, vmdb_id_range **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    PGresult *r = vmdb_pg_exec(c, "read id ranges",
                               "SELECT table_name, lo::text, hi::text FROM vmdb_id_ranges ORDER BY "
                               "table_name COLLATE \"C\"",
                               0, NULL, NULL);
    if (!r)
        return VMDB_EIO;
    int nt = PQntuples(r), k = 0;
    vmdb_id_range *v = calloc(nt ? (size_t)nt : 1, sizeof *v);
    if (!v) {
        PQclear(r);
        return VMDB_ENOMEM;
    }
    for (int i = 0; i < nt; i++) {
        const char *t = PQgetvalue(r, i, 0);
        /* A longer name (no model has one) is kept cut: the start-up
         * check then finds no leaf for it and reports it. */
        snprintf(v[k].table, sizeof v[k].table, "%s", t);
        if (vmdb_ranges_parse_id(PQgetvalue(r, i, 1), &v[k].lo) &&
            vmdb_ranges_parse_id(PQgetvalue(r, i, 2), &v[k].hi))
            k++;
    }
    PQclear(r);
    *out = v;
    *n = (size_t)k;
    return 0;
}

int vmdb_ranges_upsert_stmt(const vmdb_id_range *v, size_t n, vmdb_buf *names, vmdb_buf *los,
                            vmdb_buf *his, const char *params[3], vmdb_pgstmt *out)
{
    int rc = vmdb_buf_putc(names, '{');
    rc = rc ? rc : vmdb_buf_putc(los, '{');
    rc = rc ? rc : vmdb_buf_putc(his, '{');
    /* Table names are identifiers (letters, digits, _): no quoting needed. */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *sep = i ? "," : "";
        rc = vmdb_sb_printf(names, "%s%s", sep, v[i].table);
        rc = rc ? rc : vmdb_sb_printf(los, "%s%" PRId64, sep, v[i].lo);
        rc = rc ? rc : vmdb_sb_printf(his, "%s%" PRId64, sep, v[i].hi);
    }
    rc = rc ? rc : vmdb_buf_putc(names, '}');
    rc = rc ? rc : vmdb_buf_putc(los, '}');
    rc = rc ? rc : vmdb_buf_putc(his, '}');
    rc = rc ? rc : vmdb_sb_cstr(names);
    rc = rc ? rc : vmdb_sb_cstr(los);
    rc = rc ? rc : vmdb_sb_cstr(his);
    if (rc)
        return VMDB_ENOMEM;
    params[0] = (const char *)names->ptr;
    params[1] = (const char *)los->ptr;
    params[2] = (const char *)his->ptr;
    *out = (vmdb_pgstmt){"write id ranges",
                         "INSERT INTO vmdb_id_ranges (table_name, lo, hi) SELECT t, l, h FROM "
                         "unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(t, l, h) ON "
                         "CONFLICT (table_name) DO UPDATE SET lo = EXCLUDED.lo, hi = EXCLUDED.hi",
                         3,
                         params,
                         NULL,
                         NULL};
    return 0;
}

/*
 * The catalog of models: loading the registry rows and swapping the
 * registry in use.
 */
#include "store/catalog.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct vmdb_catalog {
    pthread_mutex_t mu;
    vmdb_registry *reg; /* NULL until the first set */
};

int vmdb_catalog_new(vmdb_catalog **out)
{
    vmdb_catalog *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return VMDB_ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

void vmdb_catalog_free(vmdb_catalog *c)
{
    if (!c)
        return;
    vmdb_registry_unref(c->reg);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int vmdb_catalog_load(PGconn *conn, vmdb_registry **out)
{
    int rc = 0;
    vmdb_model_row *rows = NULL;
    PGresult *h = NULL;
    const char *hash = NULL;
    PGresult *r =
        vmdb_pg_exec(conn, "load registry",
                     "SELECT table_name, primary_key_field, primary_key_kind, columns::text, "
                     "(SELECT value FROM verifiable_registry_meta WHERE key='schema_hash'), "
                     /* The live column types decide how values are hashed
                      * (PROTOCOL.md §2.2); the table is found as every
                      * unqualified statement finds it, by search_path. */
                     "(SELECT json_object_agg(a.attname, format_type(a.atttypid, NULL))::text "
                     "FROM pg_attribute a WHERE a.attrelid = to_regclass(quote_ident(table_name)) "
                     "AND a.attnum > 0 AND NOT a.attisdropped) "
                     "FROM verifiable_models ORDER BY table_name",
                     0, NULL, NULL);
    *out = NULL;
    if (!r)
        return VMDB_EIO;
    int n = PQntuples(r);
    if (!(rows = calloc(n ? (size_t)n : 1, sizeof *rows))) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    for (int i = 0; i < n; i++)
        rows[i] = (vmdb_model_row){PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                                   PQgetvalue(r, i, 3),
                                   PQgetisnull(r, i, 5) ? NULL : PQgetvalue(r, i, 5)};
    if (n)
        hash = PQgetvalue(r, 0, 4);
    else if ((h = vmdb_pg_exec(conn, "load schema hash",
                               "SELECT value FROM verifiable_registry_meta WHERE key='schema_hash'",
                               0, NULL, NULL)) &&
             PQntuples(h))
        hash = PQgetvalue(h, 0, 0);
    rc = vmdb_registry_from_rows(out, rows, (size_t)n, hash);
done:
    PQclear(h);
    PQclear(r);
    free(rows);
    return rc;
}

void vmdb_catalog_set(vmdb_catalog *c, vmdb_registry *r)
{
    pthread_mutex_lock(&c->mu);
    vmdb_registry *old = c->reg;
    c->reg = r;
    pthread_mutex_unlock(&c->mu);
    vmdb_registry_unref(old);
}

vmdb_registry *vmdb_catalog_get(vmdb_catalog *c)
{
    pthread_mutex_lock(&c->mu);
    vmdb_registry *r = c->reg ? vmdb_registry_ref(c->reg) : NULL;
    pthread_mutex_unlock(&c->mu);
    return r;
}

void vmdb_catalog_schema_hash(vmdb_catalog *c, uint8_t out[32])
{
    memset(out, 0, 32);
    pthread_mutex_lock(&c->mu);
    if (c->reg && strlen(c->reg->schema_hash) == 64)
        vmdb_hex_decode(out, 32, c->reg->schema_hash, 64);
    pthread_mutex_unlock(&c->mu);
}

int vmdb_catalog_resolve(vmdb_catalog *c, vmdb_pgpool *pool, const char *table, vmdb_registry **reg,
                         const vmdb_model **model)
{
    vmdb_registry *r = vmdb_catalog_get(c);
    const vmdb_model *m = r ? vmdb_registry_find(r, table) : NULL;
    *reg = NULL;
    *model = NULL;
    if (!m) {
        /* Another process may have registered it: reload, as the seed. */
        vmdb_registry *fresh = NULL;
        vmdb_pglease l = vmdb_pgpool_get(pool);
        int rc = vmdb_catalog_load(l.conn, &fresh);
        vmdb_pgpool_put(pool, &l);
        vmdb_registry_unref(r);
        r = NULL;
        if (rc == 0) {
            vmdb_catalog_set(c, vmdb_registry_ref(fresh));
            r = fresh;
            m = vmdb_registry_find(r, table);
        }
    }
    if (!m) {
        vmdb_registry_unref(r);
        return VMDB_ENOTFOUND;
    }
    *reg = r;
    *model = m;
    return 0;
}

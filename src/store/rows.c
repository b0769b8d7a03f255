/*
 * Rows as leaves: hashing, the shared select and the cursor scan used by
 * the start-up check and by rebuilding the leaves (repair, migrate).
 */
#include "store/rows.h"

#include <string.h>

#include "util/sb.h"
#include "vmdb/rowhash.h"

int vmdb_rows_key(vmdb_hasher *h, const vmdb_model *m, const char *pk, uint8_t key[32])
{
    return vmdb_row_key(h, key, VMDB_SLICE(m->table, strlen(m->table)), VMDB_SLICE(pk, strlen(pk)));
}

int vmdb_rows_leaf(vmdb_hasher *h, const vmdb_model *m, const char *pk, const char *json,
                   uint8_t key[32], uint8_t value[32], vmdb_buf *jcs)
{
    int rc = vmdb_rows_key(h, m, pk, key);
    if (rc)
        return rc;
    /* Only tables with json/jsonb columns pay for the substitution. */
    if (m->njson == 0)
        return vmdb_row_value(h, value, VMDB_SLICE(json, strlen(json)), NULL, jcs);
    return vmdb_row_value_cols(h, value, VMDB_SLICE(json, strlen(json)), m->json_cols, m->njson,
                               NULL, jcs);
}

int vmdb_rows_select(vmdb_buf *sql, const vmdb_model *m, const char *from)
{
    int rc = vmdb_sb_puts(sql, "SELECT t.");
    rc = rc ? rc : vmdb_sb_ident(sql, m->pk);
    /* x.*, not x: a bare x would also name a column x of the table. */
    rc = rc ? rc : vmdb_sb_puts(sql, "::text, row_to_json(x.*)::text FROM ");
    rc = rc ? rc : (from ? vmdb_sb_puts(sql, from) : vmdb_sb_ident(sql, m->table));
    rc = rc ? rc : vmdb_sb_puts(sql, " AS t CROSS JOIN LATERAL (SELECT ");
    rc = rc ? rc : vmdb_sb_puts(sql, m->proj);
    rc = rc ? rc : vmdb_sb_puts(sql, ") x");
    return rc;
}

int vmdb_rows_scan(PGconn *c, vmdb_hasher *h, const vmdb_model *m, const char *suffix,
                   vmdb_rows_fn fn, void *arg)
{
    vmdb_buf sql = VMDB_BUF_INIT, jcs = VMDB_BUF_INIT;
    bool open = false;
    int rc = vmdb_sb_puts(&sql, "DECLARE vmdb_rows NO SCROLL CURSOR FOR ");
    rc = rc ? rc : vmdb_rows_select(&sql, m, NULL);
    rc = rc ? rc : vmdb_sb_puts(&sql, suffix ? suffix : "");
    rc = rc ? rc : vmdb_sb_cstr(&sql);
    if (rc)
        goto done;
    if (vmdb_pg_cmd(c, "rows cursor", (const char *)sql.ptr, NULL)) {
        rc = VMDB_EIO;
        goto done;
    }
    open = true;
    while (rc == 0) {
        PGresult *r = vmdb_pg_exec(c, "rows fetch", "FETCH 10000 FROM vmdb_rows", 0, NULL, NULL);
        if (!r) {
            rc = VMDB_EIO;
            break;
        }
        int nt = PQntuples(r);
        for (int k = 0; rc == 0 && k < nt; k++) {
            uint8_t key[32], value[32];
            const char *pk = PQgetvalue(r, k, 0);
            int hrc = vmdb_rows_leaf(h, m, pk, PQgetvalue(r, k, 1), key, value, &jcs);
            rc = fn(arg, pk, hrc, key, value);
        }
        PQclear(r);
        if (nt == 0)
            break;
    }
done:
    if (open && vmdb_pg_cmd(c, "rows close", "CLOSE vmdb_rows", NULL) && rc == 0)
        rc = VMDB_EIO;
    vmdb_buf_free(&sql);
    vmdb_buf_free(&jcs);
    return rc;
}

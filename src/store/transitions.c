/*
 * Transition records: the record of an admin transition as JCS, its leaf,
 * and the SQL of vmdb_transitions. The record is written member by member in
 * key order and then canonicalised, so its bytes are exactly what a client
 * gets from JCS of the parsed record.
 */
#include "store/transitions.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/grow.h"
#include "util/sb.h"
#include "vmdb/json.h"
#include "vmdb/rowhash.h"

static int hex_or_null(vmdb_buf *out, bool has, const uint8_t v[32])
{
    return has ? vmdb_sb_jhex32(out, v) : vmdb_sb_puts(out, "null");
}

static int str_or_null(vmdb_buf *out, const char *s)
{
    return s ? vmdb_sb_jstrz(out, s) : vmdb_sb_puts(out, "null");
}

int vmdb_transitions_changes_json(vmdb_buf *out, const vmdb_admin_result *d)
{
    int rc = vmdb_buf_putc(out, '[');
    for (size_t i = 0; rc == 0 && i < d->nchanges; i++) {
        const vmdb_leaf_change *x = &d->changes[i];
        const char *what = !x->has_old ? "added" : !x->has_new ? "removed" : "changed";
        rc = vmdb_sb_printf(out, "%s{\"change\":\"%s\",\"id\":", i ? "," : "", what);
        rc = rc ? rc : str_or_null(out, x->id);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"key\":");
        rc = rc ? rc : vmdb_sb_jhex32(out, x->key);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"new\":");
        rc = rc ? rc : hex_or_null(out, x->has_new, x->new_value);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"old\":");
        rc = rc ? rc : hex_or_null(out, x->has_old, x->old_value);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"table\":");
        rc = rc ? rc : str_or_null(out, x->table);
        rc = rc ? rc : vmdb_buf_putc(out, '}');
    }
    return rc ? rc : vmdb_buf_putc(out, ']');
}

int vmdb_transitions_record(vmdb_buf *out, const vmdb_transition_in *in)
{
    vmdb_buf raw = VMDB_BUF_INIT;
    const vmdb_admin_result *d = in->diff;
    int rc = 0;
    /* Members in JCS order (all keys are ASCII): changes, count, diff_root,
     * kind, leaves_after, leaves_before, listed, migrations, old_root, seq,
     * tables. */
    if (d) {
        rc = vmdb_sb_puts(&raw, "{\"changes\":");
        rc = rc ? rc : vmdb_transitions_changes_json(&raw, d);
        rc = rc ? rc : vmdb_sb_printf(&raw, ",\"count\":%" PRIu64 ",\"diff_root\":", d->nchanged);
        rc = rc ? rc : vmdb_sb_jhex32(&raw, d->diff_root);
        rc = rc ? rc : vmdb_sb_puts(&raw, ",");
    } else {
        rc = vmdb_sb_puts(&raw, "{");
    }
    rc = rc ? rc : vmdb_sb_puts(&raw, "\"kind\":");
    rc = rc ? rc : vmdb_sb_jstrz(&raw, in->kind);
    rc = rc ? rc
            : vmdb_sb_printf(&raw, ",\"leaves_after\":%" PRIu64 ",\"leaves_before\":%" PRIu64,
                             in->leaves_after, in->leaves_before);
    if (d)
        rc = rc ? rc : vmdb_sb_printf(&raw, ",\"listed\":%zu", d->nchanges);
    if (!d && strcmp(in->kind, "migrate") == 0) {
        rc = rc ? rc : vmdb_sb_puts(&raw, ",\"migrations\":");
        rc = rc ? rc : vmdb_sb_jstrs(&raw, in->migrations, in->nmigrations);
    }
    rc = rc ? rc : vmdb_sb_puts(&raw, ",\"old_root\":");
    rc = rc ? rc : vmdb_sb_jhex32(&raw, in->old_root);
    rc = rc ? rc : vmdb_sb_printf(&raw, ",\"seq\":%" PRIu64, in->seq);
    if (!d) {
        rc = rc ? rc : vmdb_sb_puts(&raw, ",\"tables\":");
        rc = rc ? rc : vmdb_sb_jstrs(&raw, in->tables, in->ntables);
    }
    rc = rc ? rc : vmdb_buf_putc(&raw, '}');
    /* The writer above follows JCS already; canonicalising makes sure of it
     * (string escapes, key order) whatever the table names and ids hold. */
    rc = rc ? rc : vmdb_jcs_canonicalize(out, (vmdb_slice){raw.ptr, raw.len}, NULL);
    vmdb_buf_free(&raw);
    return rc;
}

void vmdb_transitions_leaf(vmdb_hasher *h, uint64_t seq, vmdb_slice record, uint8_t key[32],
                           uint8_t value[32])
{
    vmdb_transition_key(h, key, seq);
    vmdb_transition_value(h, value, record);
}

void vmdb_transitions_rows_free(vmdb_transition_row *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].record);
    free(v);
}

int vmdb_transitions_load(PGconn *c, vmdb_transition_row **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    PGresult *r =
        vmdb_pg_exec(c, "read transition records",
                     "SELECT seq::text, record FROM vmdb_transitions ORDER BY seq", 0, NULL, NULL);
    if (!r)
        return VMDB_EIO;
    int nt = PQntuples(r);
    vmdb_transition_row *v = calloc(nt ? (size_t)nt : 1, sizeof *v);
    int rc = v ? 0 : VMDB_ENOMEM;
    for (int i = 0; rc == 0 && i < nt; i++) {
        char *end = NULL;
        const char *rec = PQgetvalue(r, i, 1);
        size_t len = (size_t)PQgetlength(r, i, 1);
        v[i].seq = strtoull(PQgetvalue(r, i, 0), &end, 10);
        if (!(v[i].record = malloc(len + 1))) {
            rc = VMDB_ENOMEM;
            break;
        }
        memcpy(v[i].record, rec, len + 1);
        v[i].len = len;
    }
    PQclear(r);
    if (rc) {
        vmdb_transitions_rows_free(v, (size_t)nt);
        return rc;
    }
    *out = v;
    *n = (size_t)nt;
    return 0;
}

int vmdb_transitions_store(PGconn *c, uint64_t seq, vmdb_slice record, const vmdb_proof *proof)
{
    vmdb_buf bin = VMDB_BUF_INIT, rec = VMDB_BUF_INIT, hex = VMDB_BUF_INIT;
    char s[24];
    int rc = vmdb_proof_encode(&bin, proof);
    rc = rc ? rc : vmdb_buf_put(&rec, record.ptr, record.len);
    rc = rc ? rc : vmdb_sb_cstr(&rec);
    rc = rc ? rc : vmdb_buf_reserve(&hex, 2 * bin.len + 1);
    if (rc == 0) {
        vmdb_hex_encode((char *)hex.ptr, bin.ptr, bin.len);
        snprintf(s, sizeof s, "%" PRIu64, seq);
        const char *p[3] = {s, (const char *)rec.ptr, (const char *)hex.ptr};
        PGresult *r = vmdb_pg_exec(c, "write transition record",
                                   "INSERT INTO vmdb_transitions (seq, record, proof) VALUES "
                                   "($1::bigint, $2, decode($3, 'hex'))",
                                   3, p, NULL);
        rc = r ? 0 : VMDB_EIO;
        PQclear(r);
    }
    vmdb_buf_free(&bin);
    vmdb_buf_free(&rec);
    vmdb_buf_free(&hex);
    return rc == VMDB_EIO ? rc : rc ? VMDB_ENOMEM : 0;
}

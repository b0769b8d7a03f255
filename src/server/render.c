/*
 * Rendering of results and the failure table. The texts and member orders
 * are the API's (docs/openapi.json); tests compare them.
 */
#include "server/render.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "store/transitions.h"
#include "util/sb.h"

/* The one table: failure kind -> HTTP status and error code. */
static const struct {
    int status;
    const char *code;
} fail_table[VMDB_FAIL_KIND_COUNT] = {
    [VMDB_FAIL_NONE] = {200, NULL},
    [VMDB_FAIL_INTERNAL] = {500, "INTERNAL"},
    [VMDB_FAIL_DATABASE] = {500, "DATABASE_ERROR"},
    [VMDB_FAIL_DB_UNAVAILABLE] = {503, "DB_UNAVAILABLE"},
    [VMDB_FAIL_COMMIT_UNKNOWN] = {503, "COMMIT_UNKNOWN"},
    [VMDB_FAIL_WRITES_UNAVAILABLE] = {503, "WRITES_UNAVAILABLE"},
    [VMDB_FAIL_CONSTRAINT] = {409, "CONSTRAINT_VIOLATION"},
    [VMDB_FAIL_DUPLICATE_ID] = {400, "DUPLICATE_ID"},
    [VMDB_FAIL_INVALID_VALUE] = {400, "INVALID_VALUE"},
    [VMDB_FAIL_INTEGRITY] = {400, "INTEGRITY_VIOLATION"},
    [VMDB_FAIL_ROOT_CHANGED] = {409, "ROOT_CHANGED"},
    [VMDB_FAIL_NOT_FOUND] = {404, "NOT_FOUND"},
    [VMDB_FAIL_MODEL_NOT_REGISTERED] = {400, "MODEL_NOT_REGISTERED"},
    [VMDB_FAIL_ROLLBACK_DETECTED] = {409, "ROLLBACK_DETECTED"},
    [VMDB_FAIL_HISTORY_BROKEN] = {409, "HISTORY_BROKEN"},
    [VMDB_FAIL_TABLE_NOT_MANAGED] = {409, "TABLE_NOT_MANAGED"},
    [VMDB_FAIL_INVALID_SCHEMA] = {400, "INVALID_SCHEMA"},
    [VMDB_FAIL_NO_MODELS] = {400, "NO_MODELS"},
    [VMDB_FAIL_MIGRATION_FAILED] = {400, "MIGRATION_FAILED"},
    [VMDB_FAIL_MIGRATION_CHANGED] = {409, "MIGRATION_CHANGED"},
    [VMDB_FAIL_REPAIR_CHANGES_ROWS] = {409, "REPAIR_CHANGES_ROWS"},
    [VMDB_FAIL_BODY_SHAPE] = {422, "INVALID_JSON"},
    [VMDB_FAIL_BODY_SYNTAX] = {400, "INVALID_JSON"},
    [VMDB_FAIL_MEDIA_TYPE] = {415, "UNSUPPORTED_MEDIA_TYPE"},
    [VMDB_FAIL_PAYLOAD_TOO_LARGE] = {413, "PAYLOAD_TOO_LARGE"},
    [VMDB_FAIL_VALIDATION] = {400, "VALIDATION_FAILED"},
    [VMDB_FAIL_EMPTY_RECORDS] = {400, "EMPTY_RECORDS"},
    [VMDB_FAIL_UPSERT_NO_FIELDS] = {400, "UPSERT_NO_FIELDS"},
    [VMDB_FAIL_TOO_MANY_IDS] = {400, "TOO_MANY_IDS"},
    [VMDB_FAIL_INVALID_LIMIT] = {400, "INVALID_LIMIT"},
    [VMDB_FAIL_INVALID_WHERE] = {400, "INVALID_WHERE"},
    [VMDB_FAIL_INVALID_ORDER_BY] = {400, "INVALID_ORDER_BY"},
    [VMDB_FAIL_INVALID_EXPECTED_ROOT] = {400, "INVALID_EXPECTED_ROOT"},
    [VMDB_FAIL_INVALID_PAYLOAD] = {400, "INVALID_PAYLOAD"},
    [VMDB_FAIL_CONFIRM_REQUIRED] = {400, "CONFIRM_REQUIRED"},
    [VMDB_FAIL_INVALID_SEQ] = {400, "INVALID_SEQ"},
    [VMDB_FAIL_INVALID_RANGE] = {400, "INVALID_RANGE"},
    [VMDB_FAIL_NO_TRANSITION] = {404, "NO_TRANSITION"},
    [VMDB_FAIL_BAD_REQUEST] = {400, "BAD_REQUEST"},
    [VMDB_FAIL_ROUTE_NOT_FOUND] = {404, "ROUTE_NOT_FOUND"},
    [VMDB_FAIL_METHOD_NOT_ALLOWED] = {405, "METHOD_NOT_ALLOWED"},
    [VMDB_FAIL_UNAUTHORIZED] = {401, "UNAUTHORIZED"},
    [VMDB_FAIL_FORBIDDEN] = {403, "FORBIDDEN"},
};

int vmdb_render_status(vmdb_fail_kind kind)
{
    return kind < VMDB_FAIL_KIND_COUNT && fail_table[kind].status ? fail_table[kind].status : 500;
}

const char *vmdb_render_code(vmdb_fail_kind kind)
{
    if (kind == VMDB_FAIL_NONE)
        return NULL;
    return kind < VMDB_FAIL_KIND_COUNT && fail_table[kind].code ? fail_table[kind].code
                                                                : "INTERNAL";
}

/* ---- small writers ---------------------------------------------------------- */

/* A JSON array of strings. */
/* The ids of rows, and the rows themselves (their canonical JSON). */
static int row_ids(vmdb_buf *out, const vmdb_row *rows, size_t n)
{
    int rc = vmdb_buf_putc(out, '[');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = i ? vmdb_buf_putc(out, ',') : 0;
        rc = rc ? rc : vmdb_sb_jstrz(out, rows[i].id);
    }
    return rc ? rc : vmdb_buf_putc(out, ']');
}

static int row_records(vmdb_buf *out, const vmdb_row *rows, size_t n)
{
    int rc = vmdb_buf_putc(out, '[');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = i ? vmdb_buf_putc(out, ',') : 0;
        rc = rc ? rc : vmdb_buf_put(out, rows[i].json, rows[i].json_len);
    }
    return rc ? rc : vmdb_buf_putc(out, ']');
}

static int header_json(vmdb_buf *out, const vmdb_sheader *sh)
{
    return vmdb_sheader_to_json(out, sh);
}

/* `"proof":{...}` (PROTOCOL.md §9); callers write it only when p->has; `present` are
 * the answer's records (none for delete). Members in RFC 8785 order. */
static int proof_member(vmdb_buf *out, const vmdb_proof_out *p, const vmdb_row *present,
                        size_t npresent)
{
    int rc = vmdb_sb_puts(out, "\"proof\":{\"absent\":[");
    for (size_t i = 0; rc == 0 && i < p->nabsent; i++) {
        rc = vmdb_sb_puts(out, i ? ",{\"id\":" : "{\"id\":");
        rc = rc ? rc : vmdb_sb_jstrz(out, p->absent[i]);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"key\":");
        rc = rc ? rc : vmdb_sb_jhex32(out, p->absent_keys[i]);
        rc = rc ? rc : vmdb_buf_putc(out, '}');
    }
    rc = rc ? rc : vmdb_buf_putc(out, ']');
    if (p->complete.has) {
        /* PROTOCOL.md §10, members in RFC 8785 order. */
        const vmdb_proof_complete *c = &p->complete;
        rc = rc ? rc : vmdb_sb_puts(out, ",\"complete\":{\"hi\":");
        rc = rc ? rc : vmdb_sb_jstrz(out, c->hi);
        rc = rc ? rc : vmdb_sb_printf(out, ",\"limit\":%u,\"lo\":", c->limit);
        rc = rc ? rc : vmdb_sb_jstrz(out, c->lo);
        rc = rc ? rc
                : vmdb_sb_printf(out, ",\"order\":\"%s\",\"range_key\":", c->asc ? "asc" : "desc");
        rc = rc ? rc : vmdb_sb_jhex32(out, c->range_key);
        rc = rc ? rc : vmdb_buf_putc(out, '}');
    }
    rc = rc ? rc : vmdb_sb_puts(out, ",\"header\":");
    rc = rc ? rc : header_json(out, &p->header);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"multiproof\":{\"keys\":[");
    for (size_t i = 0; rc == 0 && i < p->nkeys; i++) {
        rc = i ? vmdb_buf_putc(out, ',') : 0;
        rc = rc ? rc : vmdb_sb_jhex32(out, p->keys[i]);
    }
    rc = rc ? rc : vmdb_sb_puts(out, "],\"proof\":");
    rc = rc ? rc : vmdb_sb_jhex(out, p->multiproof, p->multiproof_len);
    rc = rc ? rc : vmdb_sb_puts(out, "},\"present\":[");
    for (size_t i = 0; rc == 0 && i < npresent; i++) {
        rc = vmdb_sb_puts(out, i ? ",{\"id\":" : "{\"id\":");
        rc = rc ? rc : vmdb_sb_jstrz(out, present[i].id);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"key\":");
        rc = rc ? rc : vmdb_sb_jhex32(out, present[i].key);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"value\":");
        rc = rc ? rc : vmdb_sb_jhex32(out, present[i].value);
        rc = rc ? rc : vmdb_buf_putc(out, '}');
    }
    rc = rc ? rc : vmdb_sb_puts(out, "],\"primary_key\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, p->pk);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"table\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, p->table);
    return rc ? rc : vmdb_buf_putc(out, '}');
}

/* ---- failures and the envelope --------------------------------------------------- */

int vmdb_render_field_errors(vmdb_buf *out, const vmdb_field_errors *e)
{
    int rc = vmdb_buf_putc(out, '[');
    for (size_t i = 0; rc == 0 && e && i < e->n; i++) {
        const vmdb_field_error *x = &e->v[i];
        rc = i ? vmdb_buf_putc(out, ',') : 0;
        rc = rc ? rc : vmdb_sb_puts(out, "{\"expected\":");
        rc = rc ? rc : vmdb_sb_jstrz(out, x->expected);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"field\":");
        rc = rc ? rc : vmdb_sb_jstrz(out, x->field);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"got\":");
        rc = rc ? rc : vmdb_sb_jstrz(out, x->got);
        rc = rc ? rc : vmdb_sb_printf(out, ",\"index\":%zu,\"value\":", x->index);
        rc = rc ? rc : (x->value ? vmdb_jcs_write(out, x->value) : vmdb_sb_puts(out, "null"));
        rc = rc ? rc : vmdb_buf_putc(out, '}');
    }
    return rc ? rc : vmdb_buf_putc(out, ']');
}

int vmdb_render_fail_data(vmdb_buf *out, const vmdb_fail *f)
{
    int rc = 0;
    switch (f->kind) {
    case VMDB_FAIL_INTEGRITY:
        rc = vmdb_sb_puts(out, "{\"code\":\"INTEGRITY_VIOLATION\",\"ids\":");
        rc = rc ? rc : vmdb_sb_jstrs(out, f->ids, f->nids);
        rc = rc ? rc : vmdb_buf_putc(out, '}');
        break;
    case VMDB_FAIL_ROOT_CHANGED:
        rc = vmdb_sb_puts(out, "{\"code\":\"ROOT_CHANGED\",\"current_root\":");
        rc = rc ? rc : vmdb_sb_jhex32(out, f->current_root);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"expected_root\":");
        rc = rc ? rc : vmdb_sb_jhex32(out, f->expected_root);
        rc = rc ? rc : vmdb_buf_putc(out, '}');
        break;
    case VMDB_FAIL_VALIDATION:
        rc = vmdb_sb_puts(out, "{\"errors\":");
        rc = rc ? rc : vmdb_render_field_errors(out, f->errors);
        rc = rc ? rc : vmdb_buf_putc(out, '}');
        break;
    default:
        break;
    }
    return rc;
}

int vmdb_render_envelope(vmdb_buf *out, const vmdb_reply *r, int *status)
{
    int rc = 0;
    *status = vmdb_render_status(r->fail.kind);
    if (r->fail.kind == VMDB_FAIL_NONE) {
        if (r->bare)
            return vmdb_buf_put(out, r->data.ptr, r->data.len);
        rc = vmdb_sb_puts(out, "{\"success\":true");
        if (rc == 0 && r->data.len) {
            rc = vmdb_sb_puts(out, ",\"data\":");
            rc = rc ? rc : vmdb_buf_put(out, r->data.ptr, r->data.len);
        }
        return rc ? rc : vmdb_buf_putc(out, '}');
    }
    rc = vmdb_sb_puts(out, "{\"success\":false,\"code\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, vmdb_render_code(r->fail.kind));
    if (rc == 0) {
        /* The details of the failure, or data the route gave with it. */
        size_t mark = out->len;
        rc = vmdb_sb_puts(out, ",\"data\":");
        size_t at = out->len;
        rc = rc ? rc : vmdb_render_fail_data(out, &r->fail);
        if (rc == 0 && out->len == at && r->data.len)
            rc = vmdb_buf_put(out, r->data.ptr, r->data.len);
        if (rc == 0 && out->len == at)
            out->len = mark;
    }
    rc = rc ? rc : vmdb_sb_puts(out, ",\"error\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, r->fail.msg);
    return rc ? rc : vmdb_buf_putc(out, '}');
}

/* ---- rows ---------------------------------------------------------------------- */

int vmdb_render_write(vmdb_buf *out, vmdb_wkind kind, const vmdb_write_result *r)
{
    bool del = kind == VMDB_W_DELETE;
    int rc = del ? vmdb_sb_printf(out, "{\"deleted\":%zu,\"ids\":", r->nrows)
                 : vmdb_sb_puts(out, "{\"ids\":");
    rc = rc ? rc : row_ids(out, r->rows, r->nrows);
    rc = rc ? rc
            : vmdb_sb_printf(out, ",\"meta\":{\"committed\":%s,\"proposed_root\":",
                             r->committed ? "true" : "false");
    rc = rc ? rc : vmdb_sb_jhex32(out, r->header.h.smt_root);
    rc = rc ? rc : vmdb_sb_printf(out, ",\"seq\":%llu},", (unsigned long long)r->header.h.seq);
    if (del) {
        rc = rc ? rc : vmdb_sb_puts(out, "\"missing\":");
        rc = rc ? rc : vmdb_sb_jstrs(out, r->missing, r->nmissing);
        if (r->proof.has) {
            rc = rc ? rc : vmdb_buf_putc(out, ',');
            rc = rc ? rc : proof_member(out, &r->proof, NULL, 0);
        }
    } else {
        /* "proof" sorts before "records": the members stay in RFC 8785 order. */
        if (r->proof.has) {
            rc = rc ? rc : proof_member(out, &r->proof, r->rows, r->nrows);
            rc = rc ? rc : vmdb_buf_putc(out, ',');
        }
        rc = rc ? rc : vmdb_sb_puts(out, "\"records\":");
        rc = rc ? rc : row_records(out, r->rows, r->nrows);
    }
    return rc ? rc : vmdb_sb_puts(out, ",\"verified\":true}");
}

int vmdb_render_read_batch(vmdb_buf *out, const vmdb_read_result *r, const char *echo)
{
    int rc = vmdb_sb_puts(out, "{\"ids\":");
    rc = rc ? rc : (echo ? vmdb_sb_puts(out, echo) : row_ids(out, r->rows, r->nrows));
    rc = rc ? rc : vmdb_sb_puts(out, ",\"missing\":");
    rc = rc ? rc : vmdb_sb_jstrs(out, r->missing, r->nmissing);
    if (r->proof.has) {
        rc = rc ? rc : vmdb_buf_putc(out, ',');
        rc = rc ? rc : proof_member(out, &r->proof, r->rows, r->nrows);
    }
    rc = rc ? rc : vmdb_sb_puts(out, ",\"records\":");
    rc = rc ? rc : row_records(out, r->rows, r->nrows);
    return rc ? rc : vmdb_sb_puts(out, ",\"verified\":true}");
}

int vmdb_render_read_latest(vmdb_buf *out, const vmdb_read_result *r, unsigned limit)
{
    /* data.complete (PROTOCOL.md §10) beside a proof only, so that answers
     * without one stay as they were. */
    int rc = vmdb_buf_putc(out, '{');
    if (r->proof.has)
        rc = rc ? rc
                : vmdb_sb_printf(out, "\"complete\":%s,", r->proof.complete.has ? "true" : "false");
    rc = rc ? rc : vmdb_sb_puts(out, "\"ids\":");
    rc = rc ? rc : row_ids(out, r->rows, r->nrows);
    rc = rc ? rc : vmdb_sb_printf(out, ",\"meta\":{\"limit\":%u}", limit);
    if (r->proof.has) {
        rc = rc ? rc : vmdb_buf_putc(out, ',');
        rc = rc ? rc : proof_member(out, &r->proof, r->rows, r->nrows);
    }
    rc = rc ? rc : vmdb_sb_puts(out, ",\"records\":");
    rc = rc ? rc : row_records(out, r->rows, r->nrows);
    return rc ? rc : vmdb_sb_puts(out, ",\"verified\":true}");
}

/* ---- administration ---------------------------------------------------------------- */

int vmdb_render_apply_schema(vmdb_buf *out, const vmdb_admin_result *r)
{
    int rc = vmdb_sb_printf(out, "{\"reset_performed\":%s,\"schema_hash\":\"%s\",\"tables\":",
                            r->reset ? "true" : "false", r->schema_hash);
    rc = rc ? rc : vmdb_sb_jstrs(out, r->names, r->nnames);
    return rc ? rc : vmdb_buf_putc(out, '}');
}

int vmdb_render_clear(vmdb_buf *out, const vmdb_admin_result *r)
{
    /* The seed's message; the root is the new one, which holds the
     * transition records (PROTOCOL.md §14.2), no longer the empty root. */
    int rc = vmdb_sb_puts(out, "{\"cleared\":true,\"message\":\"Cleared all managed table data, "
                               "truncated SMT store, and reset roots to zero.\",\"root\":");
    rc = rc ? rc : vmdb_sb_jhex32(out, r->root);
    return rc ? rc : vmdb_buf_putc(out, '}');
}

/* A value of a change: hex, or null when absent. */
int vmdb_render_repair_diff(vmdb_buf *out, const vmdb_admin_result *r)
{
    int rc = vmdb_sb_puts(out, "{\"changes\":");
    rc = rc ? rc : vmdb_transitions_changes_json(out, r);
    rc =
        rc ? rc
           : vmdb_sb_printf(out, ",\"count\":%llu,\"diff_root\":", (unsigned long long)r->nchanged);
    rc = rc ? rc : vmdb_sb_jhex32(out, r->diff_root);
    rc = rc ? rc : vmdb_sb_printf(out, ",\"listed\":%zu,\"old_root\":", r->nchanges);
    rc = rc ? rc : vmdb_sb_jhex32(out, r->old_root);
    return rc ? rc : vmdb_buf_putc(out, '}');
}

int vmdb_render_repair(vmdb_buf *out, const vmdb_admin_result *r)
{
    int rc = 0;
    if (r->dry_run) {
        rc = vmdb_sb_puts(out, "{\"diff\":");
        rc = rc ? rc : vmdb_render_repair_diff(out, r);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"dry_run\":true,\"old_root\":");
        rc = rc ? rc : vmdb_sb_jhex32(out, r->old_root);
        return rc ? rc
                  : vmdb_sb_printf(out, ",\"repaired\":false,\"updated_leaves\":%zu}", r->leaves);
    }
    rc = vmdb_sb_puts(out, "{\"diff\":");
    rc = rc ? rc : vmdb_render_repair_diff(out, r);
    rc = rc ? rc
            : vmdb_sb_puts(out, ",\"message\":\"Rebuilt SMT from DB rows and force-set "
                                "temporary_root + main_root to the rebuilt root.\",\"new_root\":");
    rc = rc ? rc : vmdb_sb_jhex32(out, r->root);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"old_root\":");
    rc = rc ? rc : vmdb_sb_jhex32(out, r->old_root);
    return rc ? rc
              : vmdb_sb_printf(out, ",\"repaired\":true,\"seq\":%llu,\"updated_leaves\":%zu}",
                               (unsigned long long)r->seq, r->leaves);
}

int vmdb_render_migrate(vmdb_buf *out, const vmdb_admin_result *r)
{
    int rc = vmdb_sb_puts(out, "{\"applied\":");
    rc = rc ? rc : vmdb_sb_jstrs(out, r->names, r->nnames);
    rc = rc ? rc
            : vmdb_sb_puts(out, ",\"message\":\"Migrations applied. SMT rebuilt from "
                                "post-migration DB state. temporary_root + main_root "
                                "committed.\",\"migrated\":true,\"new_root\":");
    rc = rc ? rc : vmdb_sb_jhex32(out, r->root);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"old_main_root\":");
    rc = rc ? rc : vmdb_sb_jhex32(out, r->old_main);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"old_temporary_root\":");
    rc = rc ? rc : vmdb_sb_jhex32(out, r->old_root);
    return rc ? rc
              : vmdb_sb_printf(out, ",\"seq\":%llu,\"updated_leaves\":%zu}",
                               (unsigned long long)r->seq, r->leaves);
}

/* ---- state and identity -------------------------------------------------------------- */

static int violation_json(vmdb_buf *out, const vmdb_violation *v)
{
    char at[32];
    time_t t = (time_t)v->at;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", &tm);
    int rc = vmdb_sb_printf(out, "{\"at\":\"%s\",\"ids\":[", at);
    for (size_t i = 0; rc == 0 && i < v->nids; i++) {
        rc = i ? vmdb_buf_putc(out, ',') : 0;
        rc = rc ? rc : vmdb_sb_jstrz(out, vmdb_violation_id(v, i));
    }
    rc = rc ? rc : vmdb_sb_puts(out, "],\"reason\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, v->reason);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"table\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, v->table);
    return rc ? rc : vmdb_buf_putc(out, '}');
}

static int backend_json(vmdb_buf *out, const vmdb_anchor_status *b)
{
    if (!b->reported)
        return vmdb_sb_puts(out, "null");
    int rc = vmdb_sb_puts(out, "{\"balance\":");
    rc = rc ? rc
            : (b->balance_known ? vmdb_sb_printf(out, "%llu", (unsigned long long)b->balance)
                                : vmdb_sb_puts(out, "null"));
    rc = rc ? rc : vmdb_sb_puts(out, ",\"last_error\":");
    rc = rc ? rc
            : (b->last_error[0] ? vmdb_sb_jstrz(out, b->last_error) : vmdb_sb_puts(out, "null"));
    return rc ? rc
              : vmdb_sb_printf(out, ",\"low_balance\":%s,\"pending\":%s}",
                               b->low_balance ? "true" : "false", b->pending ? "true" : "false");
}

int vmdb_render_health(vmdb_buf *out, const vmdb_health *h)
{
    const vmdb_status_view *s = &h->status;
    const vmdb_chain_view *c = &h->chain;
    int rc = vmdb_sb_puts(out, "{\"integrity\":{");
    if (s->violations) {
        rc = rc ? rc : vmdb_sb_puts(out, "\"last\":");
        rc = rc ? rc : (s->has_last ? violation_json(out, &s->last) : vmdb_sb_puts(out, "{}"));
        rc = rc ? rc : vmdb_buf_putc(out, ',');
    }
    rc = rc ? rc
            : vmdb_sb_printf(out, "\"ok\":%s,\"violations\":%llu},\"leaves\":%llu,\"main_root\":",
                             s->violations ? "false" : "true", (unsigned long long)s->violations,
                             (unsigned long long)h->leaves);
    rc = rc ? rc : vmdb_sb_jhex32(out, c->main_root);
    rc = rc ? rc
            : vmdb_sb_printf(out, ",\"seq\":%llu,\"status\":\"%s\",\"temporary_root\":",
                             (unsigned long long)h->seq,
                             !h->db_ok                       ? "unhealthy"
                             : (s->violations || s->blocked) ? "degraded"
                                                             : "ok");
    rc = rc ? rc : vmdb_sb_jhex32(out, h->root);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"anchor\":{\"anchored_seq\":");
    rc = rc ? rc
            : (c->has_anchored ? vmdb_sb_printf(out, "%llu", (unsigned long long)c->anchored.h.seq)
                               : vmdb_sb_puts(out, "null"));
    rc = rc ? rc
            : vmdb_sb_printf(out, ",\"backlog\":%llu,\"backend\":", (unsigned long long)c->backlog);
    rc = rc ? rc : backend_json(out, &c->backend);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"error\":");
    rc =
        rc ? rc
           : (c->anchor_error[0] ? vmdb_sb_jstrz(out, c->anchor_error) : vmdb_sb_puts(out, "null"));
    rc = rc ? rc : vmdb_sb_puts(out, ",\"kind\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, h->anchor_kind);
    rc = rc ? rc : vmdb_sb_puts(out, "},\"writes\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, s->blocked ? s->blocked_msg : "ok");
    return rc ? rc : vmdb_buf_putc(out, '}');
}

int vmdb_render_schema(vmdb_buf *out, const vmdb_schema_info *s)
{
    int rc = vmdb_sb_puts(out, "{\"schema\":\"public\",\"tables\":[");
    for (size_t i = 0; rc == 0 && i < s->ntables; i++) {
        const vmdb_schema_table *t = &s->tables[i];
        rc = vmdb_sb_puts(out, i ? ",{\"columns\":[" : "{\"columns\":[");
        for (size_t k = 0; rc == 0 && k < t->ncolumns; k++) {
            const vmdb_schema_column *c = &t->columns[k];
            rc = vmdb_sb_puts(out, k ? ",{\"data_type\":" : "{\"data_type\":");
            rc = rc ? rc : vmdb_sb_jstrz(out, c->data_type);
            rc = rc ? rc : vmdb_sb_puts(out, ",\"default\":");
            rc = rc ? rc
                    : (c->default_expr ? vmdb_sb_jstrz(out, c->default_expr)
                                       : vmdb_sb_puts(out, "null"));
            rc = rc ? rc
                    : vmdb_sb_printf(
                          out, ",\"is_nullable\":%s,\"name\":", c->nullable ? "true" : "false");
            rc = rc ? rc : vmdb_sb_jstrz(out, c->name);
            rc = rc ? rc : vmdb_buf_putc(out, '}');
        }
        rc = rc ? rc : vmdb_sb_puts(out, "],\"primary_key\":");
        rc = rc ? rc : vmdb_sb_jstrs(out, t->primary_key, t->npk);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"table_name\":");
        rc = rc ? rc : vmdb_sb_jstrz(out, t->name);
        rc = rc ? rc : vmdb_buf_putc(out, '}');
    }
    return rc ? rc : vmdb_sb_puts(out, "]}");
}

int vmdb_render_identity(vmdb_buf *out, const vmdb_identity_info *id)
{
    int rc = vmdb_sb_puts(out, "{\"address\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, id->address);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"anchor\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, id->anchor);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"public_key\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, id->public_key);
    return rc ? rc : vmdb_buf_putc(out, '}');
}

int vmdb_render_roots_latest(vmdb_buf *out, const vmdb_roots_info *r)
{
    int rc = vmdb_sb_puts(out, "{\"anchor\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, r->anchor);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"anchored\":");
    rc = rc ? rc : (r->has_anchored ? header_json(out, &r->anchored) : vmdb_sb_puts(out, "null"));
    rc = rc ? rc
            : vmdb_sb_printf(out, ",\"backlog\":%llu,\"header\":", (unsigned long long)r->backlog);
    rc = rc ? rc : header_json(out, &r->header);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"public_key\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, r->public_key);
    return rc ? rc : vmdb_buf_putc(out, '}');
}

int vmdb_render_root(vmdb_buf *out, const vmdb_roots_info *r)
{
    int rc = vmdb_sb_puts(out, "{\"header\":");
    rc = rc ? rc : header_json(out, &r->header);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"kind\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, r->kind);
    return rc ? rc : vmdb_buf_putc(out, '}');
}

int vmdb_render_transition(vmdb_buf *out, const vmdb_transition_info *r)
{
    int rc = vmdb_sb_puts(out, "{\"header\":");
    rc = rc ? rc : header_json(out, &r->header);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"kind\":");
    rc = rc ? rc : vmdb_sb_jstrz(out, r->kind);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"proof\":");
    rc = rc ? rc : vmdb_proof_to_json(out, &r->proof, r->key, r->value);
    /* The record is canonical JSON already (checked by the store). */
    rc = rc ? rc : vmdb_sb_puts(out, ",\"record\":");
    rc = rc ? rc : vmdb_buf_put(out, r->record, r->record_len);
    return rc ? rc : vmdb_buf_putc(out, '}');
}

static int hash_array(vmdb_buf *out, const uint8_t (*v)[32], size_t n)
{
    char hex[65];
    int rc = vmdb_buf_putc(out, '[');
    for (size_t i = 0; rc == 0 && i < n; i++) {
        vmdb_hex_encode(hex, v[i], 32);
        rc = i ? vmdb_buf_putc(out, ',') : 0;
        rc = rc ? rc : vmdb_sb_jstrz(out, hex);
    }
    return rc ? rc : vmdb_buf_putc(out, ']');
}

int vmdb_render_roots_proof(vmdb_buf *out, const vmdb_history_proof *p)
{
    int rc = vmdb_sb_puts(out, "{\"consistency\":");
    rc = rc ? rc : hash_array(out, (const uint8_t(*)[32])p->consistency, p->nconsistency);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"from\":");
    rc = rc ? rc : header_json(out, &p->from);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"inclusion\":");
    rc = rc ? rc : hash_array(out, (const uint8_t(*)[32])p->inclusion, p->ninclusion);
    rc = rc ? rc : vmdb_sb_puts(out, ",\"to\":");
    rc = rc ? rc : header_json(out, &p->to);
    return rc ? rc : vmdb_buf_putc(out, '}');
}

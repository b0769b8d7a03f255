/*
 * Routes: what each takes, how it is checked, which engine call answers
 * it. vmdb_route_start and vmdb_route_finish (vmdb_route_run: both in a
 * row) do what every route shares, in the seed's order: the path's model
 * first, then the body (an unknown model is a 400 even when the body is
 * bad), then the handler; then the release of the request's arena, model
 * and document. Handlers check the shape and values of their
 * input with the seed's texts, call the engine, and render its typed result.
 */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/auth.h"
#include "server/metrics.h"
#include "server/render.h"
#include "server/server.h"
#include "store/coerce.h"
#include "util/sb.h"

#define SHAPE "Failed to deserialize the JSON body into the target type"

/* ---- shared checks ------------------------------------------------------------- */

static bool media_json(const char *ct)
{
    if (!ct)
        return false;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strcspn(ct, ";");
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    /* application/<anything>+json */
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 &&
           strncasecmp(ct + n - 5, "+json", 5) == 0 && memchr(ct + 12, '/', n - 12) == NULL;
}

typedef enum { BODY_OK, BODY_CT, BODY_BIG, BODY_SYNTAX } body_status;

static body_status parse_body(const vmdb_req *r, vmdb_json_doc **doc, const char **detail)
{
    *detail = "";
    if (!media_json(r->content_type))
        return BODY_CT;
    if (r->body_too_big)
        return BODY_BIG;
    vmdb_json_limits lim = {VMDB_MAX_BODY, 64};
    int rc = vmdb_json_parse(doc, VMDB_SLICE(r->body, r->body_len), &lim);
    if (rc == VMDB_ERANGE)
        *detail = ": a number is not exactly representable as a double (send it as a string)";
    else if (rc == VMDB_ELIMIT)
        *detail = ": nesting too deep";
    return rc ? BODY_SYNTAX : BODY_OK;
}

/* The seed's 422 for a body that could not be read. */
static int body_fail(vmdb_fail *f, body_status st, const char *detail, const char *hint)
{
    static const char *const reasons[] = {
        "", "Expected request with `Content-Type: application/json`",
        "Failed to buffer the request body", "Failed to parse the request body as JSON"};
    if (hint)
        return vmdb_fail_set(f, VMDB_FAIL_BODY_SHAPE, "Invalid JSON body: %s%s (expected: %s)",
                             reasons[st], detail, hint);
    return vmdb_fail_set(f, VMDB_FAIL_BODY_SHAPE, "Invalid JSON body: %s%s", reasons[st], detail);
}

/* The seed's short 422 for a body of the wrong shape. */
static int shape_fail_hint(vmdb_fail *f, const char *hint)
{
    return vmdb_fail_set(f, VMDB_FAIL_BODY_SHAPE, "Invalid JSON body: " SHAPE " (expected: %s)",
                         hint);
}

static bool is_type(const vmdb_json *v, vmdb_json_type t)
{
    return v && vmdb_json_typeof(v) == t;
}

static bool is_null_or_absent(const vmdb_json *v)
{
    return !v || vmdb_json_typeof(v) == VMDB_JSON_NULL;
}

/* Resolves the path's model (trimmed, lower case); 400 when unknown. */
static int resolve(vmdb_route_ctx *c, const char *name, vmdb_fail *f)
{
    char low[128];
    size_t b = 0, n = strlen(name);
    while (b < n && (name[b] == ' ' || name[b] == '\t' || name[b] == '\n' || name[b] == '\r'))
        b++;
    while (n > b && (name[n - 1] == ' ' || name[n - 1] == '\t' || name[n - 1] == '\n' ||
                     name[n - 1] == '\r'))
        n--;
    size_t len = n - b;
    if (len >= sizeof low)
        len = sizeof low - 1;
    for (size_t i = 0; i < len; i++) {
        char ch = name[b + i];
        low[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
    }
    low[len] = 0;
    if (!vmdb_ident_valid(low, len))
        return vmdb_fail_set(f, VMDB_FAIL_MODEL_NOT_REGISTERED, "Model '%.100s' is not registered",
                             low);
    return vmdb_engine_resolve(c->e, low, &c->reg, &c->model, f);
}

/* expected_root: optional whitespace, optional 0x, 64 hex digits. */
static int parse_root(const vmdb_json *v, uint8_t out[32], vmdb_fail *f)
{
    vmdb_slice s = vmdb_json_string(v);
    const char *p = (const char *)s.ptr;
    size_t n = s.len;
    while (n && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n' || p[n - 1] == '\r'))
        n--;
    if (n >= 2 && p[0] == '0' && p[1] == 'x')
        p += 2, n -= 2;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F')))
            return vmdb_fail_set(f, VMDB_FAIL_INVALID_EXPECTED_ROOT,
                                 "Invalid expected_root: invalid hex");
    }
    if (n != 64 || vmdb_hex_decode(out, 32, p, n) != 0)
        return vmdb_fail_set(f, VMDB_FAIL_INVALID_EXPECTED_ROOT,
                             n % 2 ? "Invalid expected_root: invalid hex"
                                   : "Invalid expected_root: expected 32-byte hex string");
    return 0;
}

static int validation_fail(vmdb_fail *f, const vmdb_field_errors *errors, const char *msg)
{
    int rc = vmdb_fail_set(f, VMDB_FAIL_VALIDATION, "%s", msg);
    f->errors = errors;
    return rc;
}

static int nomem(vmdb_fail *f)
{
    return vmdb_fail_set(f, VMDB_FAIL_INTERNAL, "out of memory");
}

/* "proof" (PROTOCOL.md §9): absent, true or false; any other value is a
 * bad field (400 VALIDATION_FAILED naming it), checked once the body has
 * the route's shape. */
static int want_proof(vmdb_route_ctx *c, bool *proof, vmdb_fail *f)
{
    const vmdb_json *v = vmdb_json_get(c->body, "proof");
    *proof = is_type(v, VMDB_JSON_TRUE);
    if (!v || *proof || is_type(v, VMDB_JSON_FALSE))
        return 0;
    vmdb_field_errors *errors = vmdb_arena_zalloc(&c->ar, sizeof *errors);
    if (!errors ||
        vmdb_field_errors_add(&c->ar, errors, 0, "proof", "bool", vmdb_json_type_name(v), v))
        return nomem(f);
    return validation_fail(f, errors, "proof must be true or false");
}

/* Renders a result into out->data; out of memory becomes the failure (and
 * the partial document is dropped). */
#define RENDER(out, call) ((call) == 0 ? 0 : ((out)->data.len = 0, nomem(&(out)->fail)))

/* ---- writes ----------------------------------------------------------------------- */

/* Runs a write: waits for its group commit, or with an asynchronous
 * route queues it and leaves the answer to vmdb_route_finish (the write and
 * its result then live in the request's arena). */
static int submit_write(vmdb_route_ctx *c, const vmdb_write *w, vmdb_reply *out)
{
    if (c->async) {
        vmdb_write *aw = vmdb_arena_alloc(&c->ar, sizeof *aw);
        vmdb_write_result *res = vmdb_arena_zalloc(&c->ar, sizeof *res);
        if (!aw || !res)
            return nomem(&out->fail);
        *aw = *w;
        if (vmdb_engine_write_begin(c->e, &c->ar, aw, res, c->async->wake, c->async->arg,
                                    &c->pending.ticket) != 0) {
            out->fail = res->fail;
            return vmdb_fail_err(&out->fail);
        }
        c->pending.on = true;
        c->pending.kind = w->kind;
        c->pending.res = res;
        return 0;
    }
    vmdb_write_result res;
    if (vmdb_engine_write(c->e, &c->ar, w, &res) != 0) {
        out->fail = res.fail;
        return vmdb_fail_err(&out->fail);
    }
    return RENDER(out, vmdb_render_write(&out->data, w->kind, &res));
}

/* create-batch, upsert and execute's create_batch share this. */
static int write_records(vmdb_route_ctx *c, vmdb_wkind kind, const vmdb_json *records,
                         const vmdb_json *expected, bool proof, vmdb_reply *out)
{
    vmdb_field_errors *errors = vmdb_arena_zalloc(&c->ar, sizeof *errors);
    vmdb_write w = {.kind = kind, .model = c->model, .proof = proof, .client = c->req->client};
    if (!errors)
        return nomem(&out->fail);
    if (!is_null_or_absent(expected)) {
        if (parse_root(expected, w.expected, &out->fail))
            return vmdb_fail_err(&out->fail);
        w.has_expected = true;
    }
    w.nrecs = vmdb_json_size(records);
    if (w.nrecs == 0)
        return vmdb_fail_set(&out->fail, VMDB_FAIL_EMPTY_RECORDS, "records_data cannot be empty");
    /* A proof grows with its keys: it is given for as many records as a
     * read-batch may ask for, so that no answer's proof is unbounded. */
    if (proof && w.nrecs > VMDB_MAX_IDS)
        return vmdb_fail_set(&out->fail, VMDB_FAIL_TOO_MANY_IDS,
                             "at most %d records per request with \"proof\": true", VMDB_MAX_IDS);
    if (vmdb_coerce_records(&c->ar, c->model, records, kind == VMDB_W_UPSERT, &w.recs, errors))
        return nomem(&out->fail);
    if (errors->total)
        return validation_fail(&out->fail, errors, "Validation/coercion failed");
    if (kind == VMDB_W_UPSERT) {
        for (size_t i = 0; i < w.nrecs; i++) {
            if (w.recs[i].n < 2)
                return vmdb_fail_set(&out->fail, VMDB_FAIL_UPSERT_NO_FIELDS,
                                     "Upsert requires at least one non-PK field to update");
            for (size_t j = 0; j < i; j++)
                if (strcmp(w.recs[i].pk_text, w.recs[j].pk_text) == 0)
                    return vmdb_fail_set(&out->fail, VMDB_FAIL_DUPLICATE_ID,
                                         "key '%.100s' appears more than once in this upsert",
                                         w.recs[i].pk_text);
        }
    }
    return submit_write(c, &w, out);
}

static int records_route(vmdb_route_ctx *c, vmdb_reply *out, vmdb_wkind kind)
{
    static const char *hint = "{\"records\": [...]}";
    const vmdb_json *recs = vmdb_json_get(c->body, "records");
    const vmdb_json *exp = vmdb_json_get(c->body, "expected_root");
    if (!is_type(c->body, VMDB_JSON_OBJECT) || !is_type(recs, VMDB_JSON_ARRAY) ||
        (!is_null_or_absent(exp) && !is_type(exp, VMDB_JSON_STRING)))
        return shape_fail_hint(&out->fail, hint);
    bool proof = false;
    if (want_proof(c, &proof, &out->fail))
        return vmdb_fail_err(&out->fail);
    return write_records(c, kind, recs, exp, proof, out);
}

static int h_create(vmdb_route_ctx *c, vmdb_reply *out)
{
    return records_route(c, out, VMDB_W_CREATE);
}

static int h_upsert(vmdb_route_ctx *c, vmdb_reply *out)
{
    return records_route(c, out, VMDB_W_UPSERT);
}

/* ids: array of strings; 422 otherwise. */
static bool ids_ok(const vmdb_json *ids)
{
    if (!is_type(ids, VMDB_JSON_ARRAY))
        return false;
    for (size_t i = 0; i < vmdb_json_size(ids); i++)
        if (!is_type(vmdb_json_at(ids, i), VMDB_JSON_STRING))
            return false;
    return true;
}

static int h_delete(vmdb_route_ctx *c, vmdb_reply *out)
{
    static const char *hint = "{\"ids\": [...]}";
    const vmdb_model *m = c->model;
    const vmdb_json *ids = vmdb_json_get(c->body, "ids");
    const vmdb_json *exp = vmdb_json_get(c->body, "expected_root");
    vmdb_field_errors *errors = vmdb_arena_zalloc(&c->ar, sizeof *errors);
    vmdb_write w = {.kind = VMDB_W_DELETE, .model = m, .client = c->req->client};
    if (!errors)
        return nomem(&out->fail);
    if (!ids_ok(ids) || (!is_null_or_absent(exp) && !is_type(exp, VMDB_JSON_STRING)))
        return shape_fail_hint(&out->fail, hint);
    if (want_proof(c, &w.proof, &out->fail))
        return vmdb_fail_err(&out->fail);
    if (!is_null_or_absent(exp)) {
        if (parse_root(exp, w.expected, &out->fail))
            return vmdb_fail_err(&out->fail);
        w.has_expected = true;
    }
    size_t n = vmdb_json_size(ids);
    if (n == 0)
        return vmdb_fail_set(&out->fail, VMDB_FAIL_EMPTY_RECORDS, "ids cannot be empty");
    if (n > VMDB_MAX_IDS)
        return vmdb_fail_set(&out->fail, VMDB_FAIL_TOO_MANY_IDS, "at most %d ids per request",
                             VMDB_MAX_IDS);
    const char **keys = vmdb_arena_alloc(&c->ar, n * sizeof *keys);
    if (!keys)
        return nomem(&out->fail);
    for (size_t i = 0; i < n; i++) {
        const vmdb_json *id = vmdb_json_at(ids, i);
        vmdb_slice s = vmdb_json_string(id);
        const char *k = NULL;
        int krc = vmdb_coerce_key(&c->ar, m->pk_type, (const char *)s.ptr, s.len, &k);
        if (krc == VMDB_ENOMEM)
            return nomem(&out->fail);
        if (krc != 0) {
            if (vmdb_field_errors_add(&c->ar, errors, i, m->pk, vmdb_ctype_name(m->pk_type),
                                      "string", id))
                return nomem(&out->fail);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < w.nids && !dup; j++)
            dup = strcmp(keys[j], k) == 0;
        if (!dup)
            keys[w.nids++] = k;
    }
    if (errors->total)
        return validation_fail(&out->fail, errors, "Validation/coercion failed");
    w.ids = keys;
    return submit_write(c, &w, out);
}

/* ---- reads ------------------------------------------------------------------------- */

/* Copies ids into arena C strings; "" for ids holding U+0000. */
static const char **ids_dup(vmdb_arena *ar, const vmdb_json *ids)
{
    size_t n = vmdb_json_size(ids);
    const char **out = vmdb_arena_zalloc(ar, (n ? n : 1) * sizeof *out);
    for (size_t i = 0; out && i < n; i++) {
        vmdb_slice s = vmdb_json_string(vmdb_json_at(ids, i));
        if (memchr(s.ptr, 0, s.len))
            out[i] = "";
        else if (!(out[i] = vmdb_arena_strndup(ar, (const char *)s.ptr, s.len)))
            return NULL;
    }
    return out;
}

static int read_ids(vmdb_route_ctx *c, const vmdb_json *ids, const char *echo, bool proof,
                    vmdb_reply *out)
{
    size_t n = vmdb_json_size(ids);
    vmdb_read_result res;
    if (n > VMDB_MAX_IDS)
        return vmdb_fail_set(&out->fail, VMDB_FAIL_TOO_MANY_IDS, "at most %d ids per request",
                             VMDB_MAX_IDS);
    if (n == 0)
        return vmdb_fail_set(&out->fail, VMDB_FAIL_NOT_FOUND,
                             "No records found for the given IDs.");
    const char **v = ids_dup(&c->ar, ids);
    if (!v)
        return nomem(&out->fail);
    if (vmdb_engine_read_batch(c->e, &c->ar, c->model, v, n, proof, &res) != 0) {
        out->fail = res.fail;
        return vmdb_fail_err(&out->fail);
    }
    return RENDER(out, vmdb_render_read_batch(&out->data, &res, echo));
}

static int h_read_batch(vmdb_route_ctx *c, vmdb_reply *out)
{
    const vmdb_json *ids = vmdb_json_get(c->body, "ids");
    bool proof = false;
    if (!ids_ok(ids))
        return shape_fail_hint(&out->fail, "{\"ids\": [...]}");
    if (want_proof(c, &proof, &out->fail))
        return vmdb_fail_err(&out->fail);
    return read_ids(c, ids, NULL, proof, out);
}

/* A where/order_by field name: a valid identifier naming a column. */
static const vmdb_column *named_column(vmdb_route_ctx *c, vmdb_slice name, vmdb_column *pkcol,
                                       char **text)
{
    *text = vmdb_arena_strndup(&c->ar, (const char *)name.ptr, name.len);
    if (!*text || !vmdb_ident_valid(*text, name.len) || memchr(name.ptr, 0, name.len))
        return NULL;
    return vmdb_model_column(c->model, *text, pkcol);
}

static int h_read_latest(vmdb_route_ctx *c, vmdb_reply *out)
{
    static const char *hint = "{\"limit\": 5}";
    const vmdb_model *m = c->model;
    const vmdb_json *lim = vmdb_json_get(c->body, "limit");
    const vmdb_json *where = vmdb_json_get(c->body, "where");
    const vmdb_json *ob = vmdb_json_get(c->body, "order_by");
    const vmdb_json *field = vmdb_json_get(ob, "field"), *dir = vmdb_json_get(ob, "direction");
    vmdb_field_errors *errors = vmdb_arena_zalloc(&c->ar, sizeof *errors);
    vmdb_latest_query q = {0};
    vmdb_read_result res;
    double lv = vmdb_json_number(lim);
    if (!errors)
        return nomem(&out->fail);
    if (!is_type(c->body, VMDB_JSON_OBJECT) || !is_type(lim, VMDB_JSON_NUMBER) ||
        !vmdb_json_is_integer_literal(lim) || lv < 0 || lv > 4294967295.0)
        return shape_fail_hint(&out->fail, hint);
    if (!is_null_or_absent(where) && !is_type(where, VMDB_JSON_OBJECT))
        return shape_fail_hint(&out->fail, hint);
    if (!is_null_or_absent(ob) &&
        (!is_type(ob, VMDB_JSON_OBJECT) || !is_type(field, VMDB_JSON_STRING) ||
         (dir && !is_type(dir, VMDB_JSON_STRING))))
        return shape_fail_hint(&out->fail, hint);
    if (want_proof(c, &q.proof, &out->fail))
        return vmdb_fail_err(&out->fail);
    if (lv < 1)
        return vmdb_fail_set(&out->fail, VMDB_FAIL_INVALID_LIMIT, "limit must be >= 1");
    q.limit = lv > 100 ? 100 : (unsigned)lv;
    q.nwhere = vmdb_json_size(where);
    vmdb_where *w = vmdb_arena_zalloc(&c->ar, (q.nwhere ? q.nwhere : 1) * sizeof *w);
    vmdb_column *pkc = vmdb_arena_zalloc(&c->ar, (q.nwhere + 1) * sizeof *pkc);
    if (!w || !pkc)
        return nomem(&out->fail);
    q.where = w;
    for (size_t i = 0; i < q.nwhere; i++) {
        vmdb_slice k = vmdb_json_key_at(where, i);
        char *key = NULL;
        w[i].col = named_column(c, k, &pkc[i], &key);
        if (!key)
            return nomem(&out->fail);
        if (!w[i].col)
            return vmdb_fail_set(&out->fail, VMDB_FAIL_INVALID_WHERE,
                                 vmdb_ident_valid(key, k.len) && !memchr(k.ptr, 0, k.len)
                                     ? "Unknown where field '%.100s'"
                                     : "Invalid where field '%.100s'",
                                 key);
    }
    if (!is_null_or_absent(ob)) {
        char *fs = NULL;
        vmdb_slice f = vmdb_json_string(field);
        q.order = named_column(c, f, &pkc[q.nwhere], &fs);
        if (!fs)
            return nomem(&out->fail);
        if (!q.order)
            return vmdb_fail_set(&out->fail, VMDB_FAIL_INVALID_ORDER_BY,
                                 vmdb_ident_valid(fs, f.len) && !memchr(f.ptr, 0, f.len)
                                     ? "Unknown order_by.field '%.100s'"
                                     : "Invalid order_by.field '%.100s'",
                                 fs);
        if (dir) {
            vmdb_slice d = vmdb_json_string(dir);
            if (d.len == 3 && strncasecmp((const char *)d.ptr, "asc", 3) == 0)
                q.asc = true;
            else if (!(d.len == 4 && strncasecmp((const char *)d.ptr, "desc", 4) == 0))
                return vmdb_fail_set(&out->fail, VMDB_FAIL_INVALID_ORDER_BY,
                                     "order_by.direction must be \"asc\" or \"desc\"");
        }
    }
    for (size_t i = 0; i < q.nwhere; i++) {
        const vmdb_json *v = vmdb_json_value_at(where, i);
        bool is_pk = strcmp(w[i].col->name, m->pk) == 0;
        vmdb_ctype t = is_pk ? m->pk_type : w[i].col->type;
        const char *got;
        int rc = vmdb_coerce_value(&c->ar, t, v, &w[i].text, &got);
        if (rc == VMDB_ENOMEM || (rc && vmdb_field_errors_add(&c->ar, errors, 0, w[i].col->name,
                                                              vmdb_ctype_name(t), got, v)))
            return nomem(&out->fail);
    }
    if (errors->total)
        return validation_fail(&out->fail, errors, "Invalid where filter values");
    if (vmdb_engine_read_latest(c->e, &c->ar, m, &q, &res) != 0) {
        out->fail = res.fail;
        return vmdb_fail_err(&out->fail);
    }
    return RENDER(out, vmdb_render_read_latest(&out->data, &res, q.limit));
}

/* POST /api/execute: the seed's one-route form of create_batch and
 * read_batch. Its body errors are 415/413/400, not the envelope's 422. */
static int h_execute(vmdb_route_ctx *c, vmdb_reply *out)
{
    const vmdb_json *name = vmdb_json_get(c->body, "model_name");
    const vmdb_json *action = vmdb_json_get(c->body, "action");
    const vmdb_json *payload = vmdb_json_get(c->body, "payload");
    vmdb_slice a = vmdb_json_string(action);
    bool create = a.len == 12 && memcmp(a.ptr, "create_batch", 12) == 0;
    bool read = a.len == 10 && memcmp(a.ptr, "read_batch", 10) == 0;
    if (!is_type(c->body, VMDB_JSON_OBJECT) || !is_type(name, VMDB_JSON_STRING) || !payload ||
        !is_type(action, VMDB_JSON_STRING) || !(create || read))
        return vmdb_fail_set(&out->fail, VMDB_FAIL_BODY_SHAPE,
                             "Failed to deserialize the JSON body into the target type: %s",
                             !is_type(name, VMDB_JSON_STRING) ? "model_name: expected a string"
                             : !payload                       ? "missing field `payload`"
                                                              : "action: unknown variant, expected "
                                                                "`create_batch` or `read_batch`");
    vmdb_slice ns = vmdb_json_string(name);
    char model[128];
    snprintf(model, sizeof model, "%.*s", (int)(ns.len < 127 ? ns.len : 127), (const char *)ns.ptr);
    if (memchr(ns.ptr, 0, ns.len))
        model[0] = 0;
    /* The action decides the role the API key needs, before the model is
     * looked up (a key limited to some tables learns nothing of others). */
    char table[128];
    vmdb_auth_table_name(table, sizeof table, model, strlen(model));
    if (vmdb_access_allows(c->req->access, create ? VMDB_ROLE_WRITE : VMDB_ROLE_READ, table,
                           &out->fail) != 0)
        return vmdb_fail_err(&out->fail);
    if (resolve(c, model, &out->fail) != 0)
        return vmdb_fail_err(&out->fail);
    if (create) {
        if (!is_type(payload, VMDB_JSON_ARRAY))
            return vmdb_fail_set(&out->fail, VMDB_FAIL_INVALID_PAYLOAD,
                                 "Invalid payload for create_batch: expected an array of records");
        return write_records(c, VMDB_W_CREATE, payload, NULL, false, out);
    }
    if (!is_type(payload, VMDB_JSON_OBJECT))
        return vmdb_fail_set(&out->fail, VMDB_FAIL_INVALID_PAYLOAD,
                             "Invalid payload: expected an object with an 'ids' field.");
    const vmdb_json *ids = vmdb_json_get(payload, "ids");
    if (!ids_ok(ids))
        return vmdb_fail_set(&out->fail, VMDB_FAIL_INVALID_PAYLOAD,
                             "Invalid payload: 'ids' field must be an array of strings.");
    /* The seed echoes the requested ids here, not the rows' ids. */
    vmdb_buf echo = VMDB_BUF_INIT;
    int rc = vmdb_jcs_write(&echo, ids) || vmdb_sb_cstr(&echo)
                 ? nomem(&out->fail)
                 : read_ids(c, ids, (const char *)echo.ptr, false, out);
    vmdb_buf_free(&echo);
    return rc;
}

/* ---- administration ---------------------------------------------------------------- */

/* {"confirm": bool} for the admin routes: 0 when confirmed. */
static int confirmed(vmdb_route_ctx *c, vmdb_fail *f, const char *what)
{
    const vmdb_json *v = vmdb_json_get(c->body, "confirm");
    if (!is_type(c->body, VMDB_JSON_OBJECT) ||
        (v && !is_type(v, VMDB_JSON_TRUE) && !is_type(v, VMDB_JSON_FALSE)))
        return shape_fail_hint(f, "{\"confirm\": true}");
    if (!is_type(v, VMDB_JSON_TRUE))
        return vmdb_fail_set(f, VMDB_FAIL_CONFIRM_REQUIRED, "confirm must be true to %s", what);
    return 0;
}

/* Runs an admin call and renders its result. */
static int admin_reply(int rc, const vmdb_admin_result *res,
                       int (*render)(vmdb_buf *, const vmdb_admin_result *), vmdb_reply *out)
{
    if (rc != 0) {
        out->fail = res->fail;
        return vmdb_fail_err(&out->fail);
    }
    return RENDER(out, render(&out->data, res));
}

static int h_clear(vmdb_route_ctx *c, vmdb_reply *out)
{
    vmdb_admin_result res;
    if (confirmed(c, &out->fail, "clear data"))
        return vmdb_fail_err(&out->fail);
    return admin_reply(vmdb_engine_clear(c->e, &res), &res, vmdb_render_clear, out);
}

static int h_migrate(vmdb_route_ctx *c, vmdb_reply *out)
{
    vmdb_admin_result res;
    if (confirmed(c, &out->fail, "run migrations"))
        return vmdb_fail_err(&out->fail);
    return admin_reply(vmdb_engine_migrate(c->e, &c->ar, &res), &res, vmdb_render_migrate, out);
}

static bool is_bool(const vmdb_json *v)
{
    return !v || is_type(v, VMDB_JSON_TRUE) || is_type(v, VMDB_JSON_FALSE);
}

/* {"confirm": true, "accept_changes": bool, "expect_diff_root": hex,
 * "dry_run": bool}: a dry run needs no confirm; a repair that changes
 * leaves needs accept_changes (PROTOCOL.md §14). */
static int h_repair(vmdb_route_ctx *c, vmdb_reply *out)
{
    static const char hint[] = "{\"confirm\": true}"; /* the seed's wording */
    vmdb_admin_result res;
    vmdb_repair_opts o;
    memset(&o, 0, sizeof o);
    const vmdb_json *dry = vmdb_json_get(c->body, "dry_run");
    const vmdb_json *acc = vmdb_json_get(c->body, "accept_changes");
    const vmdb_json *exp = vmdb_json_get(c->body, "expect_diff_root");
    if (!is_type(c->body, VMDB_JSON_OBJECT) || !is_bool(dry) || !is_bool(acc) ||
        (exp && !is_type(exp, VMDB_JSON_STRING)))
        return shape_fail_hint(&out->fail, hint);
    o.dry_run = is_type(dry, VMDB_JSON_TRUE);
    o.accept_changes = is_type(acc, VMDB_JSON_TRUE);
    if (exp && parse_root(exp, o.expect_diff_root, &out->fail) != 0)
        return vmdb_fail_set(&out->fail, VMDB_FAIL_BODY_SHAPE,
                             "Invalid JSON body: expect_diff_root must be 64 hex digits");
    o.has_expect = exp != NULL;
    if (!o.dry_run && confirmed(c, &out->fail, "repair roots"))
        return vmdb_fail_err(&out->fail);
    int rc = vmdb_engine_repair(c->e, &c->ar, &o, &res);
    if (rc != 0 && res.fail.kind == VMDB_FAIL_REPAIR_CHANGES_ROWS) {
        /* The changes travel with the refusal: they are what to review. */
        out->fail = res.fail;
        if (vmdb_render_repair_diff(&out->data, &res))
            return RENDER(out, VMDB_ENOMEM);
        return vmdb_fail_err(&out->fail);
    }
    return admin_reply(rc, &res, vmdb_render_repair, out);
}

static int h_apply_schema(vmdb_route_ctx *c, vmdb_reply *out)
{
    const vmdb_json *tables = vmdb_json_get(c->body, "tables");
    const vmdb_json *force = vmdb_json_get(c->body, "force_reset");
    vmdb_registry *spec = NULL;
    vmdb_admin_result res;
    char msg[256];
    if (!is_type(c->body, VMDB_JSON_OBJECT) ||
        (force && !is_type(force, VMDB_JSON_TRUE) && !is_type(force, VMDB_JSON_FALSE)))
        return vmdb_fail_set(&out->fail, VMDB_FAIL_BODY_SHAPE, "Invalid JSON body: " SHAPE);
    switch (vmdb_registry_from_request(&spec, tables, msg, sizeof msg)) {
    case 0:
        break;
    case VMDB_EPARSE:
        return vmdb_fail_set(&out->fail, VMDB_FAIL_BODY_SHAPE, "Invalid JSON body: %s", msg);
    case VMDB_EINVAL:
        return vmdb_fail_set(&out->fail, VMDB_FAIL_INVALID_SCHEMA, "%s", msg);
    default:
        return nomem(&out->fail);
    }
    return admin_reply(
        vmdb_engine_apply_schema(c->e, &c->ar, spec, is_type(force, VMDB_JSON_TRUE), &res), &res,
        vmdb_render_apply_schema, out);
}

/* ---- state and identity ------------------------------------------------------------ */

static int h_health(vmdb_route_ctx *c, vmdb_reply *out)
{
    vmdb_health h;
    vmdb_engine_health(c->e, &h);
    if (vmdb_render_health(&out->data, &h))
        return RENDER(out, VMDB_ENOMEM);
    /* The state travels with the failure: the database did not answer. */
    return h.db_ok ? 0 : vmdb_fail_set(&out->fail, VMDB_FAIL_DB_UNAVAILABLE, "DB ping failed");
}

static int h_schema(vmdb_route_ctx *c, vmdb_reply *out)
{
    vmdb_schema_info s;
    if (vmdb_engine_schema(c->e, &c->ar, &s) != 0) {
        out->fail = s.fail;
        return vmdb_fail_err(&out->fail);
    }
    out->bare = true;
    return RENDER(out, vmdb_render_schema(&out->data, &s));
}

static int h_identity(vmdb_route_ctx *c, vmdb_reply *out)
{
    vmdb_identity_info id;
    vmdb_engine_identity(c->e, &id);
    return RENDER(out, vmdb_render_identity(&out->data, &id));
}

static int h_roots_latest(vmdb_route_ctx *c, vmdb_reply *out)
{
    vmdb_roots_info r;
    if (vmdb_engine_roots_latest(c->e, &r) != 0) {
        out->fail = r.fail;
        return vmdb_fail_err(&out->fail);
    }
    return RENDER(out, vmdb_render_roots_latest(&out->data, &r));
}

/* A seq in a path: 1 to 18 decimal digits (below 2^63: the column is a
 * bigint). */
static bool path_seq(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    bool ok = n > 0 && n <= 18;
    for (size_t i = 0; ok && i < n; i++) {
        ok = s[i] >= '0' && s[i] <= '9';
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return ok;
}

static int h_roots_get(vmdb_route_ctx *c, vmdb_reply *out)
{
    const char *s = c->req->path_param;
    uint64_t seq = 0;
    vmdb_roots_info r;
    if (!path_seq(s, strlen(s), &seq))
        return vmdb_fail_set(&out->fail, VMDB_FAIL_INVALID_SEQ, "seq must be a decimal integer");
    if (vmdb_engine_roots_get(c->e, seq, &r) != 0) {
        out->fail = r.fail;
        return vmdb_fail_err(&out->fail);
    }
    return RENDER(out, vmdb_render_root(&out->data, &r));
}

/* GET /api/roots/{seq}/transition: the path parameter is "{seq}/transition". */
static int h_transition(vmdb_route_ctx *c, vmdb_reply *out)
{
    const char *s = c->req->path_param, *slash = strchr(s, '/');
    uint64_t seq = 0;
    vmdb_transition_info *r = vmdb_arena_alloc(&c->ar, sizeof *r);
    if (!slash || !path_seq(s, (size_t)(slash - s), &seq))
        return vmdb_fail_set(&out->fail, VMDB_FAIL_INVALID_SEQ, "seq must be a decimal integer");
    if (!r)
        return RENDER(out, VMDB_ENOMEM);
    if (vmdb_engine_transition(c->e, &c->ar, seq, r) != 0) {
        out->fail = r->fail;
        return vmdb_fail_err(&out->fail);
    }
    return RENDER(out, vmdb_render_transition(&out->data, r));
}

/* A query argument: 1 to 18 decimal digits (below 2^63, as seq). */
static bool query_seq(const vmdb_req *r, const char *name, uint64_t *out)
{
    const char *s = r->query ? r->query(r->query_ctx, name) : NULL;
    size_t n = s ? strlen(s) : 0;
    uint64_t v = 0;
    if (n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

static int h_roots_proof(vmdb_route_ctx *c, vmdb_reply *out)
{
    uint64_t a = 0, b = 0;
    vmdb_history_info *r = vmdb_arena_alloc(&c->ar, sizeof *r);
    if (!query_seq(c->req, "from", &a) || !query_seq(c->req, "to", &b))
        return vmdb_fail_set(&out->fail, VMDB_FAIL_INVALID_RANGE,
                             "from and to must be decimal integers (seq)");
    if (!r)
        return RENDER(out, VMDB_ENOMEM);
    if (vmdb_engine_roots_proof(c->e, a, b, r) != 0) {
        out->fail = r->fail;
        return vmdb_fail_err(&out->fail);
    }
    return RENDER(out, vmdb_render_roots_proof(&out->data, &r->proof));
}

static int h_checkpoint(vmdb_route_ctx *c, vmdb_reply *out)
{
    vmdb_checkpoint_info *r = vmdb_arena_alloc(&c->ar, sizeof *r);
    if (!r)
        return RENDER(out, VMDB_ENOMEM);
    if (vmdb_engine_checkpoint(c->e, r) != 0) {
        out->fail = r->fail;
        return vmdb_fail_err(&out->fail);
    }
    out->bare = true;
    out->content_type = "text/plain; charset=utf-8";
    return RENDER(out, vmdb_buf_put(&out->data, r->note, r->len));
}

/* ---- the table and the shared prelude --------------------------------------------- */

const vmdb_route vmdb_routes[] = {
    {"/health", false, "GET", VMDB_BODY_NONE, NULL, h_health, true},
    {"/api/execute", false, "POST", VMDB_BODY_EXECUTE, NULL, h_execute, false},
    {"create-batch", true, "POST", VMDB_BODY_JSON, "{\"records\": [...]}", h_create, false},
    {"read-batch", true, "POST", VMDB_BODY_JSON, "{\"ids\": [...]}", h_read_batch, false},
    {"read-latest", true, "POST", VMDB_BODY_JSON, "{\"limit\": 5}", h_read_latest, false},
    {"upsert", true, "POST", VMDB_BODY_JSON, "{\"records\": [...]}", h_upsert, false},
    {"delete-batch", true, "POST", VMDB_BODY_JSON, "{\"ids\": [...]}", h_delete, false},
    {"/bootstrap/apply-schema", false, "POST", VMDB_BODY_JSON, NULL, h_apply_schema, false},
    {"/bootstrap/clear-data", false, "POST", VMDB_BODY_JSON, "{\"confirm\": true}", h_clear, false},
    {"/bootstrap/migrate", false, "POST", VMDB_BODY_JSON, "{\"confirm\": true}", h_migrate, false},
    {"/bootstrap/repair-roots", false, "POST", VMDB_BODY_JSON, "{\"confirm\": true}", h_repair,
     false},
    {"/bootstrap/schema", false, "GET", VMDB_BODY_NONE, NULL, h_schema, false},
    {"/api/identity", false, "GET", VMDB_BODY_NONE, NULL, h_identity, false},
    {"/api/roots/latest", false, "GET", VMDB_BODY_NONE, NULL, h_roots_latest, false},
    {"/api/roots/proof", false, "GET", VMDB_BODY_NONE, NULL, h_roots_proof, false},
    {"/checkpoint", false, "GET", VMDB_BODY_NONE, NULL, h_checkpoint, false},
    {"/metrics", false, "GET", VMDB_BODY_NONE, NULL, vmdb_metrics_handler, true},
    /* Served by http.c from memory and files. */
    {"/api-docs/openapi.json", false, "GET", VMDB_BODY_NONE, NULL, NULL, false},
    {"/swagger-ui", false, "GET", VMDB_BODY_NONE, NULL, NULL, false},
};
const size_t vmdb_nroutes = sizeof vmdb_routes / sizeof vmdb_routes[0];
const vmdb_route vmdb_route_root_by_seq = {"/api/roots/", false,       "GET", VMDB_BODY_NONE,
                                           NULL,          h_roots_get, false};
const vmdb_route vmdb_route_transition = {
    "/api/roots/{seq}/transition", false, "GET", VMDB_BODY_NONE, NULL, h_transition, false};

/* The body as the route reads it. 0, or the failure in `f`. */
static int read_body(vmdb_route_ctx *c, const vmdb_route *rt, vmdb_fail *f)
{
    const char *detail;
    if (rt->body == VMDB_BODY_NONE)
        return 0;
    body_status st = parse_body(c->req, &c->doc, &detail);
    if (st == BODY_OK) {
        c->body = vmdb_json_doc_root(c->doc);
        return 0;
    }
    if (rt->body == VMDB_BODY_JSON)
        return body_fail(f, st, detail, rt->hint);
    if (st == BODY_CT)
        return vmdb_fail_set(f, VMDB_FAIL_MEDIA_TYPE,
                             "Expected request with `Content-Type: application/json`");
    if (st == BODY_BIG)
        return vmdb_fail_set(f, VMDB_FAIL_PAYLOAD_TOO_LARGE,
                             "Failed to buffer the request body: length limit exceeded");
    return vmdb_fail_set(f, VMDB_FAIL_BODY_SYNTAX, "Failed to parse the request body as JSON%s",
                         detail);
}

struct vmdb_route_job {
    vmdb_route_ctx c;
    vmdb_reply out;
    vmdb_req req;
    int rc;
};

int vmdb_route_start(vmdb_engine *e, const vmdb_route *rt, const vmdb_req *req,
                     const vmdb_route_async *as, vmdb_route_job **job)
{
    vmdb_route_job *j = calloc(1, sizeof *j);
    *job = NULL;
    if (!j)
        return VMDB_ENOMEM;
    j->req = *req;
    vmdb_route_ctx *c = &j->c;
    c->e = e;
    c->req = &j->req;
    c->metrics = req->metrics;
    c->async = as;
    c->ar.fault_at = req->fault_alloc;
    int rc = 0;
    if (!e) {
        /* No engine (vmdb_http_start): the body is read, nothing is run. */
        rc = read_body(c, rt, &j->out.fail);
        rc =
            rc ? rc : vmdb_fail_set(&j->out.fail, VMDB_FAIL_DB_UNAVAILABLE, "no engine is running");
        j->rc = rc;
        *job = j;
        return 0;
    }
    if (rt->model)
        rc = resolve(c, req->path_param ? req->path_param : "", &j->out.fail);
    rc = rc ? rc : read_body(c, rt, &j->out.fail);
    rc = rc ? rc : rt->handler(c, &j->out);
    j->rc = rc;
    *job = j;
    return 0;
}

bool vmdb_route_pending(const vmdb_route_job *job)
{
    return job->c.pending.on;
}

bool vmdb_route_finish_blocks(const vmdb_route_job *job)
{
    return job->c.pending.on && vmdb_engine_write_waits(job->c.pending.ticket);
}

int vmdb_route_finish(vmdb_route_job *j, vmdb_buf *body, int *status, const char **ctype)
{
    vmdb_reply *out = &j->out;
    int rc = j->rc;
    if (j->c.pending.on) {
        vmdb_write_result *res = j->c.pending.res;
        if (vmdb_engine_write_end(j->c.e, j->c.pending.ticket, res) != 0) {
            out->fail = res->fail;
            rc = vmdb_fail_err(&out->fail);
        } else {
            rc = RENDER(out, vmdb_render_write(&out->data, j->c.pending.kind, res));
        }
    }
    /* The contract: a failure is always filled in (never a 500 that says
     * success). A handler that broke it is a bug; the client still gets a
     * proper failure. */
    assert((rc == 0) == (out->fail.kind == VMDB_FAIL_NONE));
    if (rc != 0 && out->fail.kind == VMDB_FAIL_NONE)
        vmdb_fail_set(&out->fail, VMDB_FAIL_INTERNAL, "internal error");
    /* Rendered before the context goes: the failure's details live in the
     * request's arena. */
    rc = vmdb_render_envelope(body, out, status);
    *ctype = out->fail.kind == VMDB_FAIL_NONE && out->bare && out->content_type
                 ? out->content_type
                 : "application/json";
    vmdb_buf_free(&out->data);
    vmdb_json_doc_free(j->c.doc);
    vmdb_registry_unref(j->c.reg);
    vmdb_arena_free(&j->c.ar);
    free(j);
    return rc;
}

int vmdb_route_run(vmdb_engine *e, const vmdb_route *rt, const vmdb_req *req, vmdb_buf *body,
                   int *status, const char **ctype)
{
    vmdb_route_job *j = NULL;
    if (vmdb_route_start(e, rt, req, NULL, &j) != 0)
        return VMDB_ENOMEM;
    return vmdb_route_finish(j, body, status, ctype);
}

/*
 * Route handlers: body checks in the seed's order (model first, then the
 * body), shape validation with the seed's 422 texts, coercion, and the call
 * into the engine. Every request allocates from one arena freed on return.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "server/server.h"
#include "store/coerce.h"
#include "util/arena.h"
#include "util/sb.h"

#define SHAPE "Failed to deserialize the JSON body into the target type"

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

/* The seed's 422 for envelope routes; `hint` NULL for apply-schema. */
static void body_fail(vmdb_answer *ans, body_status st, const char *detail, const char *hint)
{
    static const char *const reasons[] = {
        "", "Expected request with `Content-Type: application/json`",
        "Failed to buffer the request body", "Failed to parse the request body as JSON"};
    if (hint)
        vmdb_answer_fail(ans, 422, "INVALID_JSON", "Invalid JSON body: %s%s (expected: %s)",
                         reasons[st], detail, hint);
    else
        vmdb_answer_fail(ans, 422, "INVALID_JSON", "Invalid JSON body: %s%s", reasons[st], detail);
}

/* The seed's short text; `why` is for the log only. */
static void shape_fail(vmdb_answer *ans, const char *hint, const char *why)
{
    (void)why;
    if (hint)
        vmdb_answer_fail(ans, 422, "INVALID_JSON", "Invalid JSON body: " SHAPE " (expected: %s)",
                         hint);
    else
        vmdb_answer_fail(ans, 422, "INVALID_JSON", "Invalid JSON body: " SHAPE);
}

static bool is_type(const vmdb_json *v, vmdb_json_type t)
{
    return v && vmdb_json_typeof(v) == t;
}

static bool is_null_or_absent(const vmdb_json *v)
{
    return !v || vmdb_json_typeof(v) == VMDB_JSON_NULL;
}

/* Resolves the path's model; 400 when unknown. */
static int resolve(vmdb_engine *e, const char *name, vmdb_registry **reg, const vmdb_model **m,
                   vmdb_answer *ans)
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
        char c = name[b + i];
        low[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    low[len] = 0;
    if (!vmdb_ident_valid(low, len) || vmdb_engine_resolve(e, low, reg, m) != 0) {
        vmdb_answer_fail(ans, 400, "MODEL_NOT_REGISTERED", "Model '%.100s' is not registered", low);
        return -1;
    }
    return 0;
}

/* The path's model, then the body, in the seed's order (an unknown model
 * is a 400 even when the body is bad). false when `ans` holds the failure;
 * the caller frees *reg and *doc either way (both accept NULL). */
static bool model_and_body(vmdb_engine *e, const vmdb_req *r, const char *hint, vmdb_registry **reg,
                           const vmdb_model **m, vmdb_json_doc **doc, vmdb_answer *ans)
{
    const char *detail;
    if (resolve(e, r->model, reg, m, ans))
        return false;
    body_status st = parse_body(r, doc, &detail);
    if (st != BODY_OK)
        body_fail(ans, st, detail, hint);
    return st == BODY_OK;
}

/* expected_root: optional whitespace, optional 0x, 64 hex digits. */
static int parse_root(const vmdb_json *v, uint8_t out[32], vmdb_answer *ans)
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
        char c = p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            vmdb_answer_fail(ans, 400, "INVALID_EXPECTED_ROOT",
                             "Invalid expected_root: invalid hex");
            return -1;
        }
    }
    if (n != 64 || vmdb_hex_decode(out, 32, p, n) != 0) {
        vmdb_answer_fail(ans, 400, "INVALID_EXPECTED_ROOT",
                         n % 2 ? "Invalid expected_root: invalid hex"
                               : "Invalid expected_root: expected 32-byte hex string");
        return -1;
    }
    return 0;
}

static void validation_fail(vmdb_answer *ans, const vmdb_buf *errors, const char *msg)
{
    vmdb_answer_fail(ans, 400, "VALIDATION_FAILED", "%s", msg);
    if (vmdb_sb_puts(&ans->data, "{\"errors\":[") ||
        vmdb_buf_put(&ans->data, errors->ptr, errors->len) || vmdb_sb_puts(&ans->data, "]}"))
        ans->data.len = 0;
}

/* create-batch, upsert and execute's create_batch share this. */
static void write_records(vmdb_engine *e, const vmdb_model *m, vmdb_wkind kind,
                          const vmdb_json *records, const vmdb_json *expected, vmdb_answer *ans)
{
    vmdb_arena ar = VMDB_ARENA_INIT;
    vmdb_buf errors = VMDB_BUF_INIT;
    size_t nerr = 0;
    vmdb_write w = {.kind = kind, .model = m};
    if (!is_null_or_absent(expected)) {
        if (parse_root(expected, w.expected, ans))
            goto done;
        w.has_expected = true;
    }
    w.nrecs = vmdb_json_size(records);
    if (w.nrecs == 0) {
        vmdb_answer_fail(ans, 400, "EMPTY_RECORDS", "records_data cannot be empty");
        goto done;
    }
    if (vmdb_coerce_records(&ar, m, records, kind == VMDB_W_UPSERT, &w.recs, &errors, &nerr) != 0) {
        vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
        goto done;
    }
    if (nerr) {
        validation_fail(ans, &errors, "Validation/coercion failed");
        goto done;
    }
    if (kind == VMDB_W_UPSERT) {
        for (size_t i = 0; i < w.nrecs; i++) {
            if (w.recs[i].n < 2) {
                vmdb_answer_fail(ans, 400, "UPSERT_NO_FIELDS",
                                 "Upsert requires at least one non-PK field to update");
                goto done;
            }
            for (size_t j = 0; j < i; j++)
                if (strcmp(w.recs[i].pk_text, w.recs[j].pk_text) == 0) {
                    vmdb_answer_fail(ans, 400, "DUPLICATE_ID",
                                     "key '%.100s' appears more than once in this upsert",
                                     w.recs[i].pk_text);
                    goto done;
                }
        }
    }
    vmdb_engine_write(e, &w, ans);
done:
    vmdb_buf_free(&errors);
    vmdb_arena_free(&ar);
}

static void records_route(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans, vmdb_wkind kind)
{
    static const char *hint = "{\"records\": [...]}";
    vmdb_registry *reg = NULL;
    const vmdb_model *m = NULL;
    vmdb_json_doc *doc = NULL;
    if (!model_and_body(e, r, hint, &reg, &m, &doc, ans))
        goto done;
    const vmdb_json *root = vmdb_json_doc_root(doc);
    const vmdb_json *recs = vmdb_json_get(root, "records");
    const vmdb_json *exp = vmdb_json_get(root, "expected_root");
    if (!is_type(root, VMDB_JSON_OBJECT) || !is_type(recs, VMDB_JSON_ARRAY) ||
        (!is_null_or_absent(exp) && !is_type(exp, VMDB_JSON_STRING))) {
        shape_fail(ans, hint,
                   !is_type(recs, VMDB_JSON_ARRAY) ? "records: expected an array"
                                                   : "expected_root: expected a string");
        goto done;
    }
    write_records(e, m, kind, recs, exp, ans);
done:
    vmdb_json_doc_free(doc);
    vmdb_registry_unref(reg);
}

void vmdb_h_create(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    records_route(e, r, ans, VMDB_W_CREATE);
}

void vmdb_h_upsert(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    records_route(e, r, ans, VMDB_W_UPSERT);
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

/* Copies ids into arena C strings; NULL entries for ids holding U+0000. */
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

static void read_ids(vmdb_engine *e, const vmdb_model *m, const vmdb_json *ids, const char *echo,
                     vmdb_answer *ans)
{
    vmdb_arena ar = VMDB_ARENA_INIT;
    size_t n = vmdb_json_size(ids);
    if (n > VMDB_MAX_IDS) {
        vmdb_answer_fail(ans, 400, "TOO_MANY_IDS", "at most %d ids per request", VMDB_MAX_IDS);
    } else if (n == 0) {
        vmdb_answer_fail(ans, 404, "NOT_FOUND", "No records found for the given IDs.");
    } else {
        const char **v = ids_dup(&ar, ids);
        if (!v)
            vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
        else
            vmdb_engine_read_batch(e, m, v, n, echo, ans);
    }
    vmdb_arena_free(&ar);
}

void vmdb_h_read_batch(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    static const char *hint = "{\"ids\": [...]}";
    vmdb_registry *reg = NULL;
    const vmdb_model *m = NULL;
    vmdb_json_doc *doc = NULL;
    if (model_and_body(e, r, hint, &reg, &m, &doc, ans)) {
        const vmdb_json *ids = vmdb_json_get(vmdb_json_doc_root(doc), "ids");
        if (!ids_ok(ids))
            shape_fail(ans, hint, "ids: expected an array of strings");
        else
            read_ids(e, m, ids, NULL, ans);
    }
    vmdb_json_doc_free(doc);
    vmdb_registry_unref(reg);
}

void vmdb_h_delete(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    static const char *hint = "{\"ids\": [...]}";
    vmdb_registry *reg = NULL;
    const vmdb_model *m = NULL;
    vmdb_json_doc *doc = NULL;
    vmdb_arena ar = VMDB_ARENA_INIT;
    vmdb_buf errors = VMDB_BUF_INIT;
    size_t nerr = 0;
    if (!model_and_body(e, r, hint, &reg, &m, &doc, ans))
        goto done;
    const vmdb_json *root = vmdb_json_doc_root(doc);
    const vmdb_json *ids = vmdb_json_get(root, "ids");
    const vmdb_json *exp = vmdb_json_get(root, "expected_root");
    if (!ids_ok(ids) || (!is_null_or_absent(exp) && !is_type(exp, VMDB_JSON_STRING))) {
        shape_fail(ans, hint,
                   !ids_ok(ids) ? "ids: expected an array of strings"
                                : "expected_root: expected a string");
        goto done;
    }
    vmdb_write w = {.kind = VMDB_W_DELETE, .model = m};
    if (!is_null_or_absent(exp)) {
        if (parse_root(exp, w.expected, ans))
            goto done;
        w.has_expected = true;
    }
    size_t n = vmdb_json_size(ids);
    if (n == 0) {
        vmdb_answer_fail(ans, 400, "EMPTY_RECORDS", "ids cannot be empty");
        goto done;
    }
    if (n > VMDB_MAX_IDS) {
        vmdb_answer_fail(ans, 400, "TOO_MANY_IDS", "at most %d ids per request", VMDB_MAX_IDS);
        goto done;
    }
    const char **keys = vmdb_arena_alloc(&ar, n * sizeof *keys);
    if (!keys)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        const vmdb_json *id = vmdb_json_at(ids, i);
        vmdb_slice s = vmdb_json_string(id);
        const char *k = NULL;
        if (vmdb_coerce_key(&ar, m->pk_type, (const char *)s.ptr, s.len, &k) != 0) {
            if (vmdb_field_error(&errors, &nerr, i, m->pk, vmdb_ctype_name(m->pk_type), "string",
                                 id))
                goto nomem;
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < w.nids && !dup; j++)
            dup = strcmp(keys[j], k) == 0;
        if (!dup)
            keys[w.nids++] = k;
    }
    if (nerr) {
        validation_fail(ans, &errors, "Validation/coercion failed");
        goto done;
    }
    w.ids = keys;
    vmdb_engine_write(e, &w, ans);
    goto done;
nomem:
    vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
done:
    vmdb_buf_free(&errors);
    vmdb_arena_free(&ar);
    vmdb_json_doc_free(doc);
    vmdb_registry_unref(reg);
}

void vmdb_h_read_latest(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    static const char *hint = "{\"limit\": 5}";
    vmdb_registry *reg = NULL;
    const vmdb_model *m = NULL;
    vmdb_json_doc *doc = NULL;
    vmdb_arena ar = VMDB_ARENA_INIT;
    vmdb_buf errors = VMDB_BUF_INIT;
    size_t nerr = 0;
    if (!model_and_body(e, r, hint, &reg, &m, &doc, ans))
        goto done;
    const vmdb_json *root = vmdb_json_doc_root(doc);
    const vmdb_json *lim = vmdb_json_get(root, "limit");
    const vmdb_json *where = vmdb_json_get(root, "where");
    const vmdb_json *ob = vmdb_json_get(root, "order_by");
    const vmdb_json *field = vmdb_json_get(ob, "field"), *dir = vmdb_json_get(ob, "direction");
    double lv = vmdb_json_number(lim);
    if (!is_type(root, VMDB_JSON_OBJECT) || !is_type(lim, VMDB_JSON_NUMBER) ||
        !vmdb_json_is_integer_literal(lim) || lv < 0 || lv > 4294967295.0) {
        shape_fail(ans, hint, "limit: expected an unsigned 32-bit integer");
        goto done;
    }
    if (!is_null_or_absent(where) && !is_type(where, VMDB_JSON_OBJECT)) {
        shape_fail(ans, hint, "where: expected an object");
        goto done;
    }
    if (!is_null_or_absent(ob) &&
        (!is_type(ob, VMDB_JSON_OBJECT) || !is_type(field, VMDB_JSON_STRING) ||
         (dir && !is_type(dir, VMDB_JSON_STRING)))) {
        shape_fail(ans, hint, "order_by: expected {\"field\": string, \"direction\": string}");
        goto done;
    }
    if (lv < 1) {
        vmdb_answer_fail(ans, 400, "INVALID_LIMIT", "limit must be >= 1");
        goto done;
    }
    unsigned limit = lv > 100 ? 100 : (unsigned)lv;
    size_t nw = vmdb_json_size(where);
    vmdb_where *w = vmdb_arena_zalloc(&ar, (nw ? nw : 1) * sizeof *w);
    vmdb_column *pkc = vmdb_arena_zalloc(&ar, (nw + 1) * sizeof *pkc);
    if (!w || !pkc)
        goto nomem;
    for (size_t i = 0; i < nw; i++) {
        vmdb_slice k = vmdb_json_key_at(where, i);
        char *key = vmdb_arena_strndup(&ar, (const char *)k.ptr, k.len);
        if (!key)
            goto nomem;
        if (!vmdb_ident_valid(key, k.len) || memchr(k.ptr, 0, k.len)) {
            vmdb_answer_fail(ans, 400, "INVALID_WHERE", "Invalid where field '%.100s'", key);
            goto done;
        }
        const vmdb_column *c = vmdb_model_column(m, key, &pkc[i]);
        if (!c) {
            vmdb_answer_fail(ans, 400, "INVALID_WHERE", "Unknown where field '%.100s'", key);
            goto done;
        }
        w[i].col = c;
    }
    const vmdb_column *order = NULL;
    bool asc = false;
    if (!is_null_or_absent(ob)) {
        vmdb_slice f = vmdb_json_string(field);
        char *fs = vmdb_arena_strndup(&ar, (const char *)f.ptr, f.len);
        if (!fs)
            goto nomem;
        if (!vmdb_ident_valid(fs, f.len) || memchr(f.ptr, 0, f.len)) {
            vmdb_answer_fail(ans, 400, "INVALID_ORDER_BY", "Invalid order_by.field '%.100s'", fs);
            goto done;
        }
        if (!(order = vmdb_model_column(m, fs, &pkc[nw]))) {
            vmdb_answer_fail(ans, 400, "INVALID_ORDER_BY", "Unknown order_by.field '%.100s'", fs);
            goto done;
        }
        if (dir) {
            vmdb_slice d = vmdb_json_string(dir);
            if (d.len == 3 && strncasecmp((const char *)d.ptr, "asc", 3) == 0)
                asc = true;
            else if (!(d.len == 4 && strncasecmp((const char *)d.ptr, "desc", 4) == 0)) {
                vmdb_answer_fail(ans, 400, "INVALID_ORDER_BY",
                                 "order_by.direction must be \"asc\" or \"desc\"");
                goto done;
            }
        }
    }
    for (size_t i = 0; i < nw; i++) {
        const vmdb_json *v = vmdb_json_value_at(where, i);
        bool is_pk = strcmp(w[i].col->name, m->pk) == 0;
        const char *got;
        int rc = vmdb_coerce_value(&ar, is_pk ? m->pk_type : w[i].col->type, v, &w[i].text, &got);
        if (rc == VMDB_ENOMEM)
            goto nomem;
        if (rc && vmdb_field_error(&errors, &nerr, 0, w[i].col->name,
                                   vmdb_ctype_name(is_pk ? m->pk_type : w[i].col->type), got, v))
            goto nomem;
    }
    if (nerr) {
        validation_fail(ans, &errors, "Invalid where filter values");
        goto done;
    }
    vmdb_engine_read_latest(e, m, w, nw, order, asc, limit, ans);
    goto done;
nomem:
    vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
done:
    vmdb_buf_free(&errors);
    vmdb_arena_free(&ar);
    vmdb_json_doc_free(doc);
    vmdb_registry_unref(reg);
}

void vmdb_h_execute(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    vmdb_json_doc *doc = NULL;
    vmdb_registry *reg = NULL;
    const vmdb_model *m = NULL;
    const char *detail;
    body_status st = parse_body(r, &doc, &detail);
    if (st == BODY_CT) {
        vmdb_answer_fail(ans, 415, "UNSUPPORTED_MEDIA_TYPE",
                         "Expected request with `Content-Type: application/json`");
        goto done;
    }
    if (st == BODY_BIG) {
        vmdb_answer_fail(ans, 413, "PAYLOAD_TOO_LARGE",
                         "Failed to buffer the request body: length limit exceeded");
        goto done;
    }
    if (st == BODY_SYNTAX) {
        vmdb_answer_fail(ans, 400, "INVALID_JSON", "Failed to parse the request body as JSON%s",
                         detail);
        goto done;
    }
    const vmdb_json *root = vmdb_json_doc_root(doc);
    const vmdb_json *name = vmdb_json_get(root, "model_name");
    const vmdb_json *action = vmdb_json_get(root, "action");
    const vmdb_json *payload = vmdb_json_get(root, "payload");
    vmdb_slice a = vmdb_json_string(action);
    bool create = a.len == 12 && memcmp(a.ptr, "create_batch", 12) == 0;
    bool read = a.len == 10 && memcmp(a.ptr, "read_batch", 10) == 0;
    if (!is_type(root, VMDB_JSON_OBJECT) || !is_type(name, VMDB_JSON_STRING) || !payload ||
        !is_type(action, VMDB_JSON_STRING) || !(create || read)) {
        vmdb_answer_fail(ans, 422, "INVALID_JSON",
                         "Failed to deserialize the JSON body into the target type: %s",
                         !is_type(name, VMDB_JSON_STRING) ? "model_name: expected a string"
                         : !payload                       ? "missing field `payload`"
                                                          : "action: unknown variant, expected "
                                                            "`create_batch` or `read_batch`");
        goto done;
    }
    vmdb_slice ns = vmdb_json_string(name);
    char model[128];
    snprintf(model, sizeof model, "%.*s", (int)(ns.len < 127 ? ns.len : 127), (const char *)ns.ptr);
    if (memchr(ns.ptr, 0, ns.len))
        model[0] = 0;
    if (resolve(e, model, &reg, &m, ans))
        goto done;
    if (create) {
        if (!is_type(payload, VMDB_JSON_ARRAY)) {
            vmdb_answer_fail(ans, 400, "INVALID_PAYLOAD",
                             "Invalid payload for create_batch: expected an array of records");
            goto done;
        }
        write_records(e, m, VMDB_W_CREATE, payload, NULL, ans);
        goto done;
    }
    if (!is_type(payload, VMDB_JSON_OBJECT)) {
        vmdb_answer_fail(ans, 400, "INVALID_PAYLOAD",
                         "Invalid payload: expected an object with an 'ids' field.");
        goto done;
    }
    const vmdb_json *ids = vmdb_json_get(payload, "ids");
    if (!ids_ok(ids)) {
        vmdb_answer_fail(ans, 400, "INVALID_PAYLOAD",
                         "Invalid payload: 'ids' field must be an array of strings.");
        goto done;
    }
    /* The seed echoes the requested ids here, not the rows' ids. */
    vmdb_buf echo = VMDB_BUF_INIT;
    if (vmdb_jcs_write(&echo, ids) || vmdb_sb_cstr(&echo))
        vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
    else
        read_ids(e, m, ids, (const char *)echo.ptr, ans);
    vmdb_buf_free(&echo);
done:
    vmdb_json_doc_free(doc);
    vmdb_registry_unref(reg);
}

/* {"confirm": bool} for the admin routes. */
static bool confirmed(const vmdb_req *r, vmdb_answer *ans, const char *what)
{
    static const char *hint = "{\"confirm\": true}";
    vmdb_json_doc *doc = NULL;
    const char *detail;
    bool ok = false;
    body_status st = parse_body(r, &doc, &detail);
    if (st != BODY_OK) {
        body_fail(ans, st, detail, hint);
        return false;
    }
    const vmdb_json *root = vmdb_json_doc_root(doc);
    const vmdb_json *c = vmdb_json_get(root, "confirm");
    if (!is_type(root, VMDB_JSON_OBJECT) ||
        (c && !is_type(c, VMDB_JSON_TRUE) && !is_type(c, VMDB_JSON_FALSE)))
        shape_fail(ans, hint, "confirm: expected a boolean");
    else if (!is_type(c, VMDB_JSON_TRUE))
        vmdb_answer_fail(ans, 400, "CONFIRM_REQUIRED", "confirm must be true to %s", what);
    else
        ok = true;
    vmdb_json_doc_free(doc);
    return ok;
}

void vmdb_h_clear(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    if (confirmed(r, ans, "clear data"))
        vmdb_engine_clear(e, ans);
}

void vmdb_h_migrate(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    if (confirmed(r, ans, "run migrations"))
        vmdb_engine_migrate(e, ans);
}

void vmdb_h_repair(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    if (confirmed(r, ans, "repair roots"))
        vmdb_engine_repair(e, ans);
}

void vmdb_h_apply_schema(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    vmdb_json_doc *doc = NULL;
    vmdb_registry *spec = NULL;
    const char *detail;
    body_status st = parse_body(r, &doc, &detail);
    if (st != BODY_OK) {
        body_fail(ans, st, detail, NULL);
        goto done;
    }
    const vmdb_json *root = vmdb_json_doc_root(doc);
    const vmdb_json *tables = vmdb_json_get(root, "tables");
    const vmdb_json *force = vmdb_json_get(root, "force_reset");
    if (!is_type(root, VMDB_JSON_OBJECT) ||
        (force && !is_type(force, VMDB_JSON_TRUE) && !is_type(force, VMDB_JSON_FALSE))) {
        shape_fail(ans, NULL, "force_reset: expected a boolean");
        goto done;
    }
    int status = 0;
    char msg[256];
    if (vmdb_registry_from_request(&spec, tables, &status, msg, sizeof msg) != 0) {
        if (status == 422)
            vmdb_answer_fail(ans, 422, "INVALID_JSON", "Invalid JSON body: %s", msg);
        else if (status == 400)
            vmdb_answer_fail(ans, 400, "INVALID_SCHEMA", "%s", msg);
        else
            vmdb_answer_fail(ans, 500, "INTERNAL", "out of memory");
        goto done;
    }
    vmdb_engine_apply_schema(e, spec, is_type(force, VMDB_JSON_TRUE), ans);
done:
    vmdb_json_doc_free(doc);
}

void vmdb_h_health(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    (void)r;
    vmdb_engine_health(e, ans);
}

void vmdb_h_schema(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    (void)r;
    vmdb_engine_schema(e, ans);
}

void vmdb_h_identity(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    (void)r;
    vmdb_engine_identity(e, ans);
}

void vmdb_h_roots_latest(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    (void)r;
    vmdb_engine_roots_latest(e, ans);
}

void vmdb_h_roots_get(vmdb_engine *e, const vmdb_req *r, vmdb_answer *ans)
{
    const char *s = r->model;
    size_t n = strlen(s);
    unsigned long long seq = 0;
    bool ok = n > 0 && n <= 18; /* below 2^63: the column is a bigint */
    for (size_t i = 0; ok && i < n; i++) {
        ok = s[i] >= '0' && s[i] <= '9';
        seq = seq * 10 + (unsigned)(s[i] - '0');
    }
    if (!ok) {
        vmdb_answer_fail(ans, 400, "INVALID_SEQ", "seq must be a decimal integer");
        return;
    }
    vmdb_engine_roots_get(e, (uint64_t)seq, ans);
}

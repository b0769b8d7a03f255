/*
 * Models (src/store/model.h): the apply-schema `tables` array parsed into a
 * normalised registry and the registry rebuilt from its stored rows. Checked
 * against the seed (seed-behaviour.md §2.1-§2.7) with vmdb's documented
 * differences (docs/COMPATIBILITY.md, "Schema bootstrap"): the schema_hash
 * vectors of §2.4, normalisation (sort as sent, then lower-case), the exact
 * DDL text (quoted identifiers) and row projection (int8/numeric as text),
 * the 422/400 split and messages of request errors, identifier rules
 * (63-byte limit, reserved prefixes, SQL reserved words accepted),
 * duplicates, the stored spellings read back by vmdb_registry_from_rows, the
 * type-name map, and reference counting (leaks are ASan's to find).
 *
 * JSON in this file is written with single quotes for readability; q()
 * turns them into double quotes before parsing (no test needs a literal ').
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "store/model.h"
#include "testutil.h"
#include "util/sb.h"
#include "vmdb/json.h"

#define SHAPE_ERR "Failed to deserialize the JSON body into the target type"

/* ---- helpers ------------------------------------------------------------ */

static char *q(const char *s)
{
    size_t n = strlen(s);
    char *p = malloc(n + 1);
    assert_non_null(p);
    for (size_t i = 0; i <= n; i++)
        p[i] = s[i] == '\'' ? '"' : s[i];
    return p;
}

static vmdb_json_doc *parse_raw(const char *text, size_t len)
{
    vmdb_json_doc *d = NULL;
    int rc = vmdb_json_parse(&d, VMDB_SLICE(text, len), NULL);
    if (rc != 0)
        fail_msg("test JSON does not parse (%s): %.200s", vmdb_error_name(rc), text);
    return d;
}

static vmdb_json_doc *parse_q(const char *single_quoted)
{
    char *s = q(single_quoted);
    vmdb_json_doc *d = parse_raw(s, strlen(s));
    free(s);
    return d;
}

/* Applies `tables` (single-quoted JSON); fails the test unless it succeeds. */
static vmdb_registry *apply_ok(const char *tables)
{
    vmdb_json_doc *d = parse_q(tables);
    vmdb_registry *r = NULL;
    char msg[256] = "";
    int rc = vmdb_registry_from_request(&r, vmdb_json_doc_root(d), msg, sizeof msg);
    vmdb_json_doc_free(d);
    if (rc != 0 || !r)
        fail_msg("apply failed: rc %d '%s' for %.300s", rc, msg, tables);
    assert_int_equal(atomic_load(&r->refs), 1);
    assert_int_equal(strlen(r->schema_hash), 64);
    return r;
}

/* The HTTP status the server answers a refused spec with: 422 for the
 * shape (VMDB_EPARSE), 400 for the rest (VMDB_EINVAL). */
static int status_of(int rc)
{
    return rc == VMDB_EPARSE ? 422 : rc == VMDB_EINVAL ? 400 : 0;
}

/* Applies the raw JSON text `tables`; expects failure with status and message. */
static void apply_fail_raw(const char *tables, size_t len, int want_status, const char *want_msg)
{
    vmdb_json_doc *d = parse_raw(tables, len);
    vmdb_registry *r = (vmdb_registry *)&r; /* must be reset to NULL */
    char msg[256] = "";
    int rc = vmdb_registry_from_request(&r, vmdb_json_doc_root(d), msg, sizeof msg);
    int status = status_of(rc);
    vmdb_json_doc_free(d);
    if (rc != VMDB_EINVAL && rc != VMDB_EPARSE)
        fail_msg("expected VMDB_EINVAL or VMDB_EPARSE, got %d ('%s') for %.300s", rc, msg, tables);
    assert_null(r);
    if (status != want_status || strcmp(msg, want_msg) != 0)
        fail_msg("for %.300s\n  got    %d '%s'\n  wanted %d '%s'", tables, status, msg, want_status,
                 want_msg);
}

static void apply_fail(const char *tables, int want_status, const char *want_msg)
{
    char *s = q(tables);
    apply_fail_raw(s, strlen(s), want_status, want_msg);
    free(s);
}

static void assert_spec_json(const vmdb_registry *r, const char *want_q)
{
    vmdb_buf b = VMDB_BUF_INIT;
    char *want = q(want_q);
    assert_int_equal(vmdb_registry_spec_json(r, &b), 0);
    if (b.len != strlen(want) || memcmp(b.ptr, want, b.len) != 0)
        fail_msg("spec JSON\n  got    %.*s\n  wanted %s", (int)b.len, (const char *)b.ptr, want);
    free(want);
    vmdb_buf_free(&b);
}

static void assert_columns_json(const vmdb_model *m, const char *want_q)
{
    vmdb_buf b = VMDB_BUF_INIT;
    char *want = q(want_q);
    assert_int_equal(vmdb_model_columns_json(m, &b), 0);
    if (b.len != strlen(want) || memcmp(b.ptr, want, b.len) != 0)
        fail_msg("columns JSON\n  got    %.*s\n  wanted %s", (int)b.len, (const char *)b.ptr, want);
    free(want);
    vmdb_buf_free(&b);
}

/* The schema hash by its definition (§2.4 step 4): SHA-256 of "VERIFLEAF"
 * followed by the canonical spec JSON, computed here with OpenSSL. */
static void assert_hash_covers_spec(const vmdb_registry *r)
{
    vmdb_buf b = VMDB_BUF_INIT;
    assert_int_equal(vmdb_buf_put(&b, "VERIFLEAF", 9), 0);
    assert_int_equal(vmdb_registry_spec_json(r, &b), 0);
    uint8_t d[32];
    SHA256(b.ptr, b.len, d);
    char hex[65];
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    assert_string_equal(r->schema_hash, hex);
    vmdb_buf_free(&b);
}

static const vmdb_model *find(const vmdb_registry *r, const char *table)
{
    const vmdb_model *m = vmdb_registry_find(r, table);
    if (!m)
        fail_msg("table %s not in registry", table);
    return m;
}

/* Rebuilds a registry from the rows apply-schema would store for `r` (stored
 * pk_kind spelling, columns JSON) and checks that every model comes back
 * identical: same names, types, DDL, projection and spec JSON. */
static void assert_rows_round_trip(const vmdb_registry *r)
{
    vmdb_model_row *rows = calloc(r->n ? r->n : 1, sizeof *rows);
    vmdb_buf *cols = calloc(r->n ? r->n : 1, sizeof *cols);
    assert_non_null(rows);
    assert_non_null(cols);
    for (size_t i = 0; i < r->n; i++) {
        const vmdb_model *m = &r->models[i];
        assert_int_equal(vmdb_model_columns_json(m, &cols[i]), 0);
        assert_int_equal(vmdb_sb_cstr(&cols[i]), 0);
        rows[i] = (vmdb_model_row){m->table, m->pk, vmdb_pkkind_stored_name(m->pk_kind),
                                   (const char *)cols[i].ptr, NULL};
    }
    vmdb_registry *back = NULL;
    assert_int_equal(vmdb_registry_from_rows(&back, rows, r->n, r->schema_hash), 0);
    assert_int_equal(back->n, r->n);
    assert_string_equal(back->schema_hash, r->schema_hash);
    for (size_t i = 0; i < r->n; i++) {
        const vmdb_model *a = &r->models[i], *b = &back->models[i];
        assert_string_equal(a->table, b->table);
        assert_string_equal(a->pk, b->pk);
        assert_int_equal(a->pk_kind, b->pk_kind);
        assert_int_equal(a->pk_type, b->pk_type);
        assert_int_equal(a->ncols, b->ncols);
        for (size_t j = 0; j < a->ncols; j++) {
            assert_string_equal(a->cols[j].name, b->cols[j].name);
            assert_string_equal(a->cols[j].type_name, b->cols[j].type_name);
            assert_int_equal(a->cols[j].type, b->cols[j].type);
            assert_int_equal(a->cols[j].nullable, b->cols[j].nullable);
            assert_int_equal(a->cols[j].unique, b->cols[j].unique);
        }
        assert_string_equal(a->ddl, b->ddl);
        assert_string_equal(a->proj, b->proj);
    }
    vmdb_buf s1 = VMDB_BUF_INIT, s2 = VMDB_BUF_INIT;
    assert_int_equal(vmdb_registry_spec_json(r, &s1), 0);
    assert_int_equal(vmdb_registry_spec_json(back, &s2), 0);
    assert_int_equal(s1.len, s2.len);
    assert_memory_equal(s1.ptr, s2.ptr, s1.len);
    vmdb_buf_free(&s1);
    vmdb_buf_free(&s2);
    vmdb_registry_unref(back);
    for (size_t i = 0; i < r->n; i++)
        vmdb_buf_free(&cols[i]);
    free(cols);
    free(rows);
}

/* ---- the seed's vectors (§2.4, §2.6) ------------------------------------- */

static const char *const README_AGENTS =
    "[{'table_name':'agents','primary_key_field':'id','primary_key_kind':'serial','columns':["
    "{'name':'name','col_type':'text','unique':true,'nullable':false},"
    "{'name':'description','col_type':'text','nullable':true},"
    "{'name':'metadata','col_type':'jsonb','nullable':true},"
    "{'name':'created_at','col_type':'timestamptz','nullable':false}]}]";

static void test_vector_readme_agents(void **state)
{
    (void)state;
    vmdb_registry *r = apply_ok(README_AGENTS);
    assert_string_equal(r->schema_hash,
                        "9ccc29ee5733f1e8e8682d2d2ae5790ceee7cb28b8a8c33d4bfde9f2ba1cc1a0");
    assert_spec_json(
        r, "[{'columns':[{'col_type':'timestamptz','name':'created_at','nullable':false,'unique':"
           "false},"
           "{'col_type':'text','name':'description','nullable':true,'unique':false},"
           "{'col_type':'jsonb','name':'metadata','nullable':true,'unique':false},"
           "{'col_type':'text','name':'name','nullable':false,'unique':true}],"
           "'primary_key_field':'id','primary_key_kind':'serial','table_name':'agents'}]");
    assert_hash_covers_spec(r);
    assert_int_equal(r->n, 1);
    const vmdb_model *m = find(r, "agents");
    assert_string_equal(m->pk, "id");
    assert_int_equal(m->pk_kind, VMDB_PK_SERIAL);
    assert_int_equal(m->pk_type, VMDB_T_INT);
    assert_string_equal(vmdb_pk_array_cast(m), "int4");
    /* The seed's example DDL (§2.6), with every identifier quoted. */
    assert_string_equal(m->ddl, "CREATE TABLE IF NOT EXISTS \"agents\" (\"id\" SERIAL PRIMARY KEY, "
                                "\"created_at\" TIMESTAMPTZ NOT NULL DEFAULT now(), "
                                "\"description\" TEXT, \"metadata\" JSONB, "
                                "\"name\" TEXT NOT NULL UNIQUE)");
    assert_string_equal(m->proj, "t.\"id\" AS \"id\", t.\"created_at\" AS \"created_at\", "
                                 "t.\"description\" AS \"description\", "
                                 "t.\"metadata\"::text AS \"metadata\", t.\"name\" AS \"name\"");
    /* The jsonb column travels as text and is substituted in C (§2.2). */
    assert_int_equal(m->njson, 1);
    assert_string_equal(m->json_cols[0], "metadata");
    assert_int_equal(m->ncols, 4);
    static const char *const names[] = {"created_at", "description", "metadata", "name"};
    static const vmdb_ctype types[] = {VMDB_T_TIMESTAMPTZ, VMDB_T_TEXT, VMDB_T_JSONB, VMDB_T_TEXT};
    static const bool nullable[] = {false, true, true, false},
                      unique[] = {false, false, false, true};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(m->cols[i].name, names[i]);
        assert_int_equal(m->cols[i].type, types[i]);
        assert_int_equal(m->cols[i].nullable, nullable[i]);
        assert_int_equal(m->cols[i].unique, unique[i]);
    }
    assert_rows_round_trip(r);
    vmdb_registry_unref(r);
}

static const char *const WARM_START =
    "[{'table_name':'agents','primary_key_field':'id','primary_key_kind':'big_serial','columns':["
    "{'name':'name','col_type':'text','unique':true,'nullable':false},"
    "{'name':'character','col_type':'jsonb','nullable':false}]}]";

static void test_vector_warm_start(void **state)
{
    (void)state;
    vmdb_registry *r = apply_ok(WARM_START);
    assert_string_equal(r->schema_hash,
                        "c97d5f0053148a9e41e36a6dd5e985db4458a4a6d4b1ad214adfff095866deec");
    assert_hash_covers_spec(r);
    const vmdb_model *m = find(r, "agents");
    assert_int_equal(m->pk_kind, VMDB_PK_BIG_SERIAL);
    assert_int_equal(m->pk_type, VMDB_T_BIGINT);
    assert_string_equal(vmdb_pk_array_cast(m), "int8");
    assert_string_equal(m->ddl,
                        "CREATE TABLE IF NOT EXISTS \"agents\" (\"id\" BIGSERIAL PRIMARY KEY, "
                        "\"character\" JSONB NOT NULL, \"name\" TEXT NOT NULL UNIQUE)");
    /* The int8 key travels as text (PROTOCOL.md §2.2). */
    assert_string_equal(m->proj,
                        "t.\"id\"::text AS \"id\", t.\"character\"::text AS \"character\", "
                        "t.\"name\" AS \"name\"");
    assert_columns_json(m,
                        "[{'col_type':'jsonb','name':'character','nullable':false,'unique':false},"
                        "{'col_type':'text','name':'name','nullable':false,'unique':true}]");
    assert_rows_round_trip(r);
    vmdb_registry_unref(r);
}

/* Member order, whitespace and omitted defaults of the request do not change
 * the hash: only the normalised spec is hashed. */
static void test_hash_independent_of_request_form(void **state)
{
    (void)state;
    vmdb_registry *a =
        apply_ok("[ "
                 "{'columns':[{'nullable':false,'name':'created_at','col_type':'timestamptz','"
                 "unique':false},"
                 "{'name':'metadata','nullable':true,'col_type':'jsonb'},"
                 "{'col_type':'text','name':'name','unique':true},"
                 "{'col_type':'text','name':'description','nullable':true,'unique':false}],"
                 " 'primary_key_kind':'serial', 'table_name':'agents', 'primary_key_field':'id',"
                 " 'ignored_member':[1,2,3]} ]");
    assert_string_equal(a->schema_hash,
                        "9ccc29ee5733f1e8e8682d2d2ae5790ceee7cb28b8a8c33d4bfde9f2ba1cc1a0");
    vmdb_registry_unref(a);
    /* Any change of the spec changes the hash. */
    static const char *const variants[] = {
        "[{'table_name':'agents','primary_key_field':'id','primary_key_kind':'big_serial','columns'"
        ":[]}]",
        "[{'table_name':'agents','primary_key_field':'id','primary_key_kind':'serial','columns':[]}"
        "]",
        "[{'table_name':'agents','primary_key_field':'key','primary_key_kind':'serial','columns':[]"
        "}]",
        "[{'table_name':'agent','primary_key_field':'id','primary_key_kind':'serial','columns':[]}"
        "]",
        "[{'table_name':'agents','primary_key_field':'id','primary_key_kind':'serial','columns':"
        "[{'name':'a','col_type':'text'}]}]",
        "[{'table_name':'agents','primary_key_field':'id','primary_key_kind':'serial','columns':"
        "[{'name':'a','col_type':'text','nullable':true}]}]",
        "[{'table_name':'agents','primary_key_field':'id','primary_key_kind':'serial','columns':"
        "[{'name':'a','col_type':'text','unique':true}]}]",
        "[{'table_name':'agents','primary_key_field':'id','primary_key_kind':'serial','columns':"
        "[{'name':'a','col_type':'int'}]}]",
    };
    char seen[sizeof variants / sizeof variants[0]][65];
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        vmdb_registry *r = apply_ok(variants[i]);
        assert_hash_covers_spec(r);
        memcpy(seen[i], r->schema_hash, 65);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(seen[i], seen[j]);
        vmdb_registry_unref(r);
    }
}

/* ---- normalisation (§2.4 steps 1-2) --------------------------------------- */

static void test_normalisation_sort_then_lower(void **state)
{
    (void)state;
    /* Byte order as sent: 'Zeta' < '_x' < 'alpha' < 'beta'. After lower-casing
     * the order is kept, so 'zeta' comes first although it sorts last. */
    vmdb_registry *r = apply_ok(
        "[{'table_name':'beta','primary_key_field':'ID','primary_key_kind':'text','columns':[]},"
        "{'table_name':'alpha','primary_key_field':'id','primary_key_kind':'int','columns':"
        "[{'name':'b','col_type':'int'},{'name':'Zed','col_type':'bool','nullable':true},"
        "{'name':'a','col_type':'uuid'},{'name':'B2','col_type':'text'}]},"
        "{'table_name':'Zeta','primary_key_field':'Key','primary_key_kind':'uuid','columns':[]},"
        "{'table_name':'_x','primary_key_field':'id','primary_key_kind':'big_int','columns':[]}]");
    assert_int_equal(r->n, 4);
    assert_string_equal(r->models[0].table, "zeta");
    assert_string_equal(r->models[1].table, "_x");
    assert_string_equal(r->models[2].table, "alpha");
    assert_string_equal(r->models[3].table, "beta");
    assert_string_equal(r->models[0].pk, "key");
    assert_string_equal(r->models[3].pk, "id");
    const vmdb_model *m = &r->models[2];
    assert_int_equal(m->ncols, 4);
    /* 'B2' < 'Zed' < 'a' < 'b' as sent. */
    assert_string_equal(m->cols[0].name, "b2");
    assert_string_equal(m->cols[1].name, "zed");
    assert_string_equal(m->cols[2].name, "a");
    assert_string_equal(m->cols[3].name, "b");
    assert_string_equal(m->ddl, "CREATE TABLE IF NOT EXISTS \"alpha\" (\"id\" INTEGER PRIMARY KEY, "
                                "\"b2\" TEXT NOT NULL, \"zed\" BOOLEAN, \"a\" UUID NOT NULL, "
                                "\"b\" INTEGER NOT NULL)");
    assert_spec_json(
        r,
        "[{'columns':[],'primary_key_field':'key','primary_key_kind':'uuid','table_name':'zeta'},"
        "{'columns':[],'primary_key_field':'id','primary_key_kind':'big_int','table_name':'_x'},"
        "{'columns':[{'col_type':'text','name':'b2','nullable':false,'unique':false},"
        "{'col_type':'bool','name':'zed','nullable':true,'unique':false},"
        "{'col_type':'uuid','name':'a','nullable':false,'unique':false},"
        "{'col_type':'int','name':'b','nullable':false,'unique':false}],"
        "'primary_key_field':'id','primary_key_kind':'int','table_name':'alpha'},"
        "{'columns':[],'primary_key_field':'id','primary_key_kind':'text','table_name':'beta'}]");
    assert_hash_covers_spec(r);
    assert_rows_round_trip(r);
    /* The request order of the tables does not matter. */
    vmdb_registry *r2 = apply_ok(
        "[{'table_name':'_x','primary_key_field':'id','primary_key_kind':'big_int','columns':[]},"
        "{'table_name':'Zeta','primary_key_field':'Key','primary_key_kind':'uuid','columns':[]},"
        "{'table_name':'alpha','primary_key_field':'id','primary_key_kind':'int','columns':"
        "[{'name':'B2','col_type':'text'},{'name':'a','col_type':'uuid'},"
        "{'name':'Zed','col_type':'bool','nullable':true},{'name':'b','col_type':'int'}]},"
        "{'table_name':'beta','primary_key_field':'ID','primary_key_kind':'text','columns':[]}]");
    assert_string_equal(r->schema_hash, r2->schema_hash);
    vmdb_registry_unref(r2);
    vmdb_registry_unref(r);
}

/* ---- DDL and projection (§2.6, PROTOCOL.md §2.2) ------------------------- */

static void test_every_column_type(void **state)
{
    (void)state;
    vmdb_registry *r = apply_ok(
        "[{'table_name':'all_types','primary_key_field':'key','primary_key_kind':'uuid','columns':["
        "{'name':'a','col_type':'text','nullable':true},{'name':'b','col_type':'int','nullable':"
        "true},"
        "{'name':'c','col_type':'big_int','nullable':true},{'name':'d','col_type':'bool','nullable'"
        ":true},"
        "{'name':'e','col_type':'jsonb','nullable':true},"
        "{'name':'f','col_type':'timestamptz','nullable':true},"
        "{'name':'g','col_type':'uuid','nullable':true}]}]");
    const vmdb_model *m = find(r, "all_types");
    assert_string_equal(m->ddl,
                        "CREATE TABLE IF NOT EXISTS \"all_types\" (\"key\" UUID PRIMARY KEY, "
                        "\"a\" TEXT, \"b\" INTEGER, \"c\" BIGINT, \"d\" BOOLEAN, \"e\" JSONB, "
                        "\"f\" TIMESTAMPTZ, \"g\" UUID)");
    assert_string_equal(m->proj,
                        "t.\"key\" AS \"key\", t.\"a\" AS \"a\", t.\"b\" AS \"b\", "
                        "t.\"c\"::text AS \"c\", t.\"d\" AS \"d\", t.\"e\"::text AS \"e\", "
                        "t.\"f\" AS \"f\", t.\"g\" AS \"g\"");
    static const vmdb_ctype types[] = {VMDB_T_TEXT,  VMDB_T_INT,         VMDB_T_BIGINT, VMDB_T_BOOL,
                                       VMDB_T_JSONB, VMDB_T_TIMESTAMPTZ, VMDB_T_UUID};
    static const char *const spelled[] = {"text",  "int",         "big_int", "bool",
                                          "jsonb", "timestamptz", "uuid"};
    assert_int_equal(m->ncols, 7);
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(m->cols[i].type, types[i]);
        assert_string_equal(m->cols[i].type_name, spelled[i]);
        assert_true(m->cols[i].nullable);
        assert_false(m->cols[i].unique);
    }
    assert_int_equal(m->pk_type, VMDB_T_UUID);
    assert_string_equal(vmdb_pk_array_cast(m), "uuid");
    assert_rows_round_trip(r);
    vmdb_registry_unref(r);
}

static void test_every_pk_kind(void **state)
{
    (void)state;
    static const struct {
        const char *kind, *stored, *sql, *arr, *proj;
        vmdb_pkkind k;
        vmdb_ctype t;
    } kinds[] = {
        {"serial", "serial", "SERIAL", "int4", "t.\"id\" AS \"id\"", VMDB_PK_SERIAL, VMDB_T_INT},
        {"big_serial", "bigserial", "BIGSERIAL", "int8", "t.\"id\"::text AS \"id\"",
         VMDB_PK_BIG_SERIAL, VMDB_T_BIGINT},
        {"text", "text", "TEXT", "text", "t.\"id\" AS \"id\"", VMDB_PK_TEXT, VMDB_T_TEXT},
        {"int", "int", "INTEGER", "int4", "t.\"id\" AS \"id\"", VMDB_PK_INT, VMDB_T_INT},
        {"big_int", "bigint", "BIGINT", "int8", "t.\"id\"::text AS \"id\"", VMDB_PK_BIG_INT,
         VMDB_T_BIGINT},
        {"uuid", "uuid", "UUID", "uuid", "t.\"id\" AS \"id\"", VMDB_PK_UUID, VMDB_T_UUID},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        char spec[256], ddl[160];
        snprintf(
            spec, sizeof spec,
            "[{'table_name':'t','primary_key_field':'id','primary_key_kind':'%s','columns':[]}]",
            kinds[i].kind);
        vmdb_registry *r = apply_ok(spec);
        const vmdb_model *m = find(r, "t");
        assert_int_equal(m->pk_kind, kinds[i].k);
        assert_int_equal(m->pk_type, kinds[i].t);
        assert_string_equal(vmdb_pkkind_request_name(m->pk_kind), kinds[i].kind);
        assert_string_equal(vmdb_pkkind_stored_name(m->pk_kind), kinds[i].stored);
        assert_string_equal(vmdb_pk_array_cast(m), kinds[i].arr);
        snprintf(ddl, sizeof ddl, "CREATE TABLE IF NOT EXISTS \"t\" (\"id\" %s PRIMARY KEY)",
                 kinds[i].sql);
        assert_string_equal(m->ddl, ddl);
        assert_string_equal(m->proj, kinds[i].proj);
        assert_int_equal(m->ncols, 0);
        assert_rows_round_trip(r);
        vmdb_registry_unref(r);
    }
}

static void test_ddl_default_now_and_unique(void **state)
{
    (void)state;
    vmdb_registry *r = apply_ok(
        "[{'table_name':'t1','primary_key_field':'id','primary_key_kind':'serial','columns':"
        "[{'name':'created_at','col_type':'timestamptz','nullable':true}]},"
        "{'table_name':'t2','primary_key_field':'id','primary_key_kind':'serial','columns':"
        "[{'name':'created_at','col_type':'text'}]},"
        "{'table_name':'t3','primary_key_field':'id','primary_key_kind':'serial','columns':"
        "[{'name':'updated_at','col_type':'timestamptz'}]},"
        "{'table_name':'t4','primary_key_field':'id','primary_key_kind':'serial','columns':"
        "[{'name':'CREATED_AT','col_type':'timestamptz','unique':true}]},"
        "{'table_name':'t5','primary_key_field':'id','primary_key_kind':'serial','columns':"
        "[{'name':'u','col_type':'uuid','nullable':true,'unique':true},"
        "{'name':'v','col_type':'int','nullable':false,'unique':false}]}]");
    assert_string_equal(find(r, "t1")->ddl, "CREATE TABLE IF NOT EXISTS \"t1\" (\"id\" SERIAL "
                                            "PRIMARY KEY, \"created_at\" TIMESTAMPTZ)");
    assert_string_equal(find(r, "t2")->ddl, "CREATE TABLE IF NOT EXISTS \"t2\" (\"id\" SERIAL "
                                            "PRIMARY KEY, \"created_at\" TEXT NOT NULL)");
    assert_string_equal(find(r, "t3")->ddl, "CREATE TABLE IF NOT EXISTS \"t3\" (\"id\" SERIAL "
                                            "PRIMARY KEY, \"updated_at\" TIMESTAMPTZ NOT NULL)");
    /* The name rule applies to the lower-cased name. */
    assert_string_equal(find(r, "t4")->ddl,
                        "CREATE TABLE IF NOT EXISTS \"t4\" (\"id\" SERIAL PRIMARY KEY, "
                        "\"created_at\" TIMESTAMPTZ NOT NULL DEFAULT now() UNIQUE)");
    assert_string_equal(find(r, "t5")->ddl,
                        "CREATE TABLE IF NOT EXISTS \"t5\" (\"id\" SERIAL PRIMARY KEY, "
                        "\"u\" UUID UNIQUE, \"v\" INTEGER NOT NULL)");
    vmdb_registry_unref(r);
}

/* A declared column named like the key is skipped in the DDL but kept in the
 * model's columns and in the hashed spec (§2.6). */
static void test_pk_column_skipped_in_ddl(void **state)
{
    (void)state;
    vmdb_registry *r = apply_ok(
        "[{'table_name':'p','primary_key_field':'ID','primary_key_kind':'serial','columns':"
        "[{'name':'v','col_type':'text','nullable':true},{'name':'Id','col_type':'int'}]}]");
    const vmdb_model *m = find(r, "p");
    assert_string_equal(m->ddl,
                        "CREATE TABLE IF NOT EXISTS \"p\" (\"id\" SERIAL PRIMARY KEY, \"v\" TEXT)");
    assert_string_equal(m->proj, "t.\"id\" AS \"id\", t.\"v\" AS \"v\"");
    assert_int_equal(m->ncols, 2);
    assert_string_equal(m->cols[0].name, "id");
    assert_string_equal(m->cols[1].name, "v");
    assert_spec_json(r,
                     "[{'columns':[{'col_type':'int','name':'id','nullable':false,'unique':false},"
                     "{'col_type':'text','name':'v','nullable':true,'unique':false}],"
                     "'primary_key_field':'id','primary_key_kind':'serial','table_name':'p'}]");
    vmdb_registry_unref(r);
}

/* The projection must render the key by the key's SQL type: the DDL makes
 * "id" a BIGSERIAL (the declared text column is skipped), so row_to_json
 * must get it as text (PROTOCOL.md §2.2: int8 travels as a string), as the
 * coercion does (it coerces the key by pk_type). Currently the declared
 * column's type wins and the key is projected without ::text, so the row JSON
 * holds the int8 as a number (ids beyond 2^53 no longer hash). */
static void test_pk_projection_follows_pk_type(void **state)
{
    (void)state;
    vmdb_registry *r = apply_ok(
        "[{'table_name':'p','primary_key_field':'id','primary_key_kind':'big_serial','columns':"
        "[{'name':'id','col_type':'text'}]},"
        "{'table_name':'q','primary_key_field':'id','primary_key_kind':'int','columns':"
        "[{'name':'id','col_type':'big_int'}]}]");
    assert_string_equal(find(r, "p")->ddl,
                        "CREATE TABLE IF NOT EXISTS \"p\" (\"id\" BIGSERIAL PRIMARY KEY)");
    assert_string_equal(find(r, "p")->proj, "t.\"id\"::text AS \"id\"");
    assert_string_equal(find(r, "q")->ddl,
                        "CREATE TABLE IF NOT EXISTS \"q\" (\"id\" INTEGER PRIMARY KEY)");
    assert_string_equal(find(r, "q")->proj, "t.\"id\" AS \"id\"");
    vmdb_registry_unref(r);
}

/* Reserved SQL words are fine: every identifier is quoted. */
static void test_reserved_sql_words_accepted(void **state)
{
    (void)state;
    vmdb_registry *r = apply_ok(
        "[{'table_name':'order','primary_key_field':'user','primary_key_kind':'text','columns':"
        "[{'name':'select','col_type':'text'},{'name':'from','col_type':'int','nullable':true},"
        "{'name':'Table','col_type':'bool','unique':true}]},"
        "{'table_name':'user','primary_key_field':'group','primary_key_kind':'serial','columns':[]}"
        "]");
    assert_string_equal(
        find(r, "order")->ddl,
        "CREATE TABLE IF NOT EXISTS \"order\" (\"user\" TEXT PRIMARY KEY, "
        "\"table\" BOOLEAN NOT NULL UNIQUE, \"from\" INTEGER, \"select\" TEXT NOT NULL)");
    assert_string_equal(find(r, "order")->proj,
                        "t.\"user\" AS \"user\", t.\"table\" AS \"table\", t.\"from\" AS \"from\", "
                        "t.\"select\" AS \"select\"");
    assert_string_equal(find(r, "user")->ddl,
                        "CREATE TABLE IF NOT EXISTS \"user\" (\"group\" SERIAL PRIMARY KEY)");
    vmdb_registry_unref(r);
}

/* ---- request errors -------------------------------------------------------- */

/* Shape errors: 422 with the seed's deserialisation text (§1.0.3, §2.1). */
static void test_shape_errors_422(void **state)
{
    (void)state;
#define GOOD_COL "{'name':'c','col_type':'text'}"
#define TBL(fields) "[{" fields "}]"
#define STD "'table_name':'t','primary_key_field':'id','primary_key_kind':'serial'"
    static const char *const bad[] = {
        "{}",
        "null",
        "'tables'",
        "[1]",
        "[null]",
        "[[]]",
        TBL("'primary_key_field':'id','primary_key_kind':'serial','columns':[]"),
        TBL("'table_name':'t','primary_key_kind':'serial','columns':[]"),
        TBL("'table_name':'t','primary_key_field':'id','columns':[]"),
        TBL(STD),
        TBL("'table_name':null,"
            "'primary_key_field':'id','primary_key_kind':'serial','columns':[]"),
        TBL("'table_name':5,'primary_key_field':'id','primary_key_kind':'serial','columns':[]"),
        TBL("'table_name':'t','primary_key_field':['id'],'primary_key_kind':'serial','columns':[]"),
        TBL(STD ",'columns':{}"),
        TBL(STD ",'columns':null"),
        TBL(STD ",'columns':['c']"),
        TBL(STD ",'columns':[{'col_type':'text'}]"),
        TBL(STD ",'columns':[{'name':'c'}]"),
        TBL(STD ",'columns':[{'name':7,'col_type':'text'}]"),
        TBL(STD ",'columns':[{'name':'c','col_type':null}]"),
        TBL(STD ",'columns':[{'name':'c','col_type':'text','nullable':'yes'}]"),
        TBL(STD ",'columns':[{'name':'c','col_type':'text','nullable':null}]"),
        TBL(STD ",'columns':[{'name':'c','col_type':'text','unique':1}]"),
        /* enum spellings: exact, snake_case */
        TBL("'table_name':'t','primary_key_field':'id','primary_key_kind':'bigserial','columns':["
            "]"),
        TBL("'table_name':'t','primary_key_field':'id','primary_key_kind':'bigint','columns':[]"),
        TBL("'table_name':'t','primary_key_field':'id','primary_key_kind':'integer','columns':[]"),
        TBL("'table_name':'t','primary_key_field':'id','primary_key_kind':'Serial','columns':[]"),
        TBL("'table_name':'t','primary_key_field':'id','primary_key_kind':'','columns':[]"),
        TBL("'table_name':'t','primary_key_field':'id','primary_key_kind':5,'columns':[]"),
        TBL(STD ",'columns':[{'name':'c','col_type':'bigint'}]"),
        TBL(STD ",'columns':[{'name':'c','col_type':'integer'}]"),
        TBL(STD ",'columns':[{'name':'c','col_type':'boolean'}]"),
        TBL(STD ",'columns':[{'name':'c','col_type':'numeric'}]"),
        TBL(STD ",'columns':[{'name':'c','col_type':'TEXT'}]"),
        TBL(STD ",'columns':[{'name':'c','col_type':'serial'}]"),
        /* a shape error anywhere wins over identifier errors elsewhere */
        "[{'table_name':'bad "
        "name','primary_key_field':'id','primary_key_kind':'serial','columns':[]},"
        "{'table_name':'t','primary_key_field':'id','primary_key_kind':'serial','columns':"
        "[" GOOD_COL ",{'name':'d','col_type':'big_serial'}]}]",
    };
#undef GOOD_COL
#undef TBL
#undef STD
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        apply_fail(bad[i], 422, SHAPE_ERR);

    /* No value at all. */
    char msg[128] = "";
    vmdb_registry *r = NULL;
    assert_int_equal(vmdb_registry_from_request(&r, NULL, msg, sizeof msg), VMDB_EPARSE);
    assert_null(r);
    assert_string_equal(msg, SHAPE_ERR);
}

static void test_empty_tables_400(void **state)
{
    (void)state;
    apply_fail("[]", 400, "tables cannot be empty");
    apply_fail("  [ ]  ", 400, "tables cannot be empty");
    /* An empty column list is fine (§2.1). */
    vmdb_registry *r = apply_ok(
        "[{'table_name':'t','primary_key_field':'id','primary_key_kind':'serial','columns':[]}]");
    vmdb_registry_unref(r);
}

static void test_identifier_errors_400(void **state)
{
    (void)state;
#define T1(tn, pk, cols)                                                                           \
    "[{'table_name':'" tn "','primary_key_field':'" pk                                             \
    "','primary_key_kind':'serial','columns':" cols "}]"
    apply_fail(T1("", "id", "[]"), 400, "Invalid table_name ''");
    apply_fail(T1("1abc", "id", "[]"), 400, "Invalid table_name '1abc'");
    apply_fail(T1("a-b", "id", "[]"), 400, "Invalid table_name 'a-b'");
    apply_fail(T1("a b", "id", "[]"), 400, "Invalid table_name 'a b'");
    apply_fail(T1("a.b", "id", "[]"), 400, "Invalid table_name 'a.b'");
    apply_fail(T1("a\\\"b", "id", "[]"), 400, "Invalid table_name 'a\"b'");
    apply_fail(T1("caf\\u00e9", "id", "[]"), 400, "Invalid table_name 'caf\xc3\xa9'");
    apply_fail(T1("Agents", "", "[]"), 400, "Invalid primary_key_field '' for table 'Agents'");
    apply_fail(T1("Agents", "my-id", "[]"), 400,
               "Invalid primary_key_field 'my-id' for table 'Agents'");
    apply_fail(T1("Agents", "9", "[]"), 400, "Invalid primary_key_field '9' for table 'Agents'");
    apply_fail(T1("Agents", "id",
                  "[{'name':'ok','col_type':'text'},{'name':'bad col','col_type':'text'}]"),
               400, "Invalid column name 'bad col' for table 'Agents'");
    apply_fail(T1("Agents", "id", "[{'name':'','col_type':'text'}]"), 400,
               "Invalid column name '' for table 'Agents'");
    apply_fail(T1("Agents", "id", "[{'name':'x;drop table y','col_type':'text'}]"), 400,
               "Invalid column name 'x;drop table y' for table 'Agents'");
    /* Order within a table: table name, then key, then columns. */
    apply_fail(T1("bad-t", "bad-k", "[{'name':'bad c','col_type':'text'}]"), 400,
               "Invalid table_name 'bad-t'");
    apply_fail(T1("t", "bad-k", "[{'name':'bad c','col_type':'text'}]"), 400,
               "Invalid primary_key_field 'bad-k' for table 't'");
    /* Input order across tables (before sorting): 'zz' is reported although
     * 'a-a' sorts first. */
    apply_fail(
        "[{'table_name':'zz','primary_key_field':'id','primary_key_kind':'serial','columns':"
        "[{'name':'c-1','col_type':'text'}]},"
        "{'table_name':'a-a','primary_key_field':'id','primary_key_kind':'serial','columns':[]}]",
        400, "Invalid column name 'c-1' for table 'zz'");
#undef T1
}

static void test_identifier_length(void **state)
{
    (void)state;
    char n63[64], n64[65], spec[512], want[160];
    memset(n63, 'a', 63);
    n63[63] = 0;
    memset(n64, 'b', 64);
    n64[64] = 0;
    n63[0] = 'T'; /* lower-cased in the model, counted as sent */

    snprintf(spec, sizeof spec,
             "[{'table_name':'%s','primary_key_field':'%s','primary_key_kind':'serial','columns':"
             "[{'name':'%s','col_type':'text'}]}]",
             n63, n63, n63 + 1);
    vmdb_registry *r = apply_ok(spec);
    assert_int_equal(strlen(r->models[0].table), 63);
    assert_int_equal(r->models[0].table[0], 't');
    assert_int_equal(strlen(r->models[0].pk), 63);
    assert_int_equal(strlen(r->models[0].cols[0].name), 62);
    vmdb_registry_unref(r);

    snprintf(
        spec, sizeof spec,
        "[{'table_name':'%s','primary_key_field':'id','primary_key_kind':'serial','columns':[]}]",
        n64);
    snprintf(want, sizeof want, "Invalid table_name '%s'", n64);
    apply_fail(spec, 400, want);

    snprintf(
        spec, sizeof spec,
        "[{'table_name':'t','primary_key_field':'%s','primary_key_kind':'serial','columns':[]}]",
        n64);
    snprintf(want, sizeof want, "Invalid primary_key_field '%s' for table 't'", n64);
    apply_fail(spec, 400, want);

    snprintf(spec, sizeof spec,
             "[{'table_name':'t','primary_key_field':'id','primary_key_kind':'serial','columns':"
             "[{'name':'%s','col_type':'int'}]}]",
             n64);
    snprintf(want, sizeof want, "Invalid column name '%s' for table 't'", n64);
    apply_fail(spec, 400, want);

    /* A very long name is cut in the message (70 bytes), not overflowing it. */
    char n300[301];
    memset(n300, 'c', 300);
    n300[300] = 0;
    vmdb_buf b = VMDB_BUF_INIT;
    assert_int_equal(vmdb_sb_printf(&b,
                                    "[{\"table_name\":\"%s\",\"primary_key_field\":\"id\","
                                    "\"primary_key_kind\":\"serial\",\"columns\":[]}]",
                                    n300),
                     0);
    snprintf(want, sizeof want, "Invalid table_name '%.70s'", n300);
    apply_fail_raw((const char *)b.ptr, b.len, 400, want);
    vmdb_buf_free(&b);
}

static void test_reserved_names_refused(void **state)
{
    (void)state;
    static const char *const reserved[] = {
        "vmdb_x",
        "VMDB_leaves",
        "vmdb_",
        "pg_x",
        "Pg_Catalog",
        "pg_",
        "verifiable_models",
        "Verifiable_Models",
        "verifiable_registry_meta",
        "merkle_nodes",
    };
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        char spec[256], want[128];
        snprintf(spec, sizeof spec,
                 "[{'table_name':'%s','primary_key_field':'id','primary_key_kind':'serial','"
                 "columns':[]}]",
                 reserved[i]);
        snprintf(want, sizeof want, "Invalid table_name '%s': reserved name", reserved[i]);
        apply_fail(spec, 400, want);
    }
    /* Near misses are ordinary names. */
    vmdb_registry *r = apply_ok(
        "[{'table_name':'vmdb','primary_key_field':'id','primary_key_kind':'serial','columns':[]},"
        "{'table_name':'pg','primary_key_field':'id','primary_key_kind':'serial','columns':[]},"
        "{'table_name':'my_vmdb_x','primary_key_field':'id','primary_key_kind':'serial','columns':["
        "]},"
        "{'table_name':'pgx','primary_key_field':'id','primary_key_kind':'serial','columns':[]},"
        "{'table_name':'verifiable_models2','primary_key_field':'id','primary_key_kind':'serial',"
        "'columns':[]}]");
    assert_int_equal(r->n, 5);
    vmdb_registry_unref(r);
}

static void test_duplicates_400(void **state)
{
    (void)state;
    apply_fail(
        "[{'table_name':'agents','primary_key_field':'id','primary_key_kind':'serial','columns':[]}"
        ","
        "{'table_name':'agents','primary_key_field':'k','primary_key_kind':'text','columns':[]}]",
        400, "Duplicate table_name 'agents'");
    /* Equal after lower-casing. */
    apply_fail("[{'table_name':'agents','primary_key_field':'id','primary_key_kind':'serial','"
               "columns':[]},"
               "{'table_name':'AGENTS','primary_key_field':'id','primary_key_kind':'serial','"
               "columns':[]}]",
               400, "Duplicate table_name 'agents'");
    apply_fail(
        "[{'table_name':'Agents','primary_key_field':'id','primary_key_kind':'serial','columns':"
        "[{'name':'name','col_type':'text'},{'name':'x','col_type':'int'},"
        "{'name':'name','col_type':'int'}]}]",
        400, "Duplicate column name 'name' for table 'agents'");
    apply_fail(
        "[{'table_name':'agents','primary_key_field':'id','primary_key_kind':'serial','columns':"
        "[{'name':'Name','col_type':'text'},{'name':'nAME','col_type':'text'}]}]",
        400, "Duplicate column name 'name' for table 'agents'");
    /* A failure in a later table frees the earlier, finished ones (ASan). */
    apply_fail("[{'table_name':'a','primary_key_field':'id','primary_key_kind':'serial','columns':"
               "[{'name':'x','col_type':'text'}]},"
               "{'table_name':'b','primary_key_field':'id','primary_key_kind':'serial','columns':"
               "[{'name':'x','col_type':'text'},{'name':'y','col_type':'text'},"
               "{'name':'X','col_type':'text'}]}]",
               400, "Duplicate column name 'x' for table 'b'");
}

static void test_too_many(void **state)
{
    (void)state;
    vmdb_buf b = VMDB_BUF_INIT;
    assert_int_equal(vmdb_buf_putc(&b, '['), 0);
    for (int i = 0; i < 257; i++)
        assert_int_equal(vmdb_sb_printf(&b,
                                        "%s{\"table_name\":\"t%d\",\"primary_key_field\":\"id\","
                                        "\"primary_key_kind\":\"serial\",\"columns\":[]}",
                                        i ? "," : "", i),
                         0);
    assert_int_equal(vmdb_buf_putc(&b, ']'), 0);
    apply_fail_raw((const char *)b.ptr, b.len, 400, "too many tables (at most 256)");

    /* 256 tables are fine. */
    b.len = 0;
    assert_int_equal(vmdb_buf_putc(&b, '['), 0);
    for (int i = 0; i < 256; i++)
        assert_int_equal(vmdb_sb_printf(&b,
                                        "%s{\"table_name\":\"t%d\",\"primary_key_field\":\"id\","
                                        "\"primary_key_kind\":\"serial\",\"columns\":[]}",
                                        i ? "," : "", i),
                         0);
    assert_int_equal(vmdb_buf_putc(&b, ']'), 0);
    vmdb_json_doc *d = parse_raw((const char *)b.ptr, b.len);
    vmdb_registry *r = NULL;
    char msg[128] = "";
    assert_int_equal(vmdb_registry_from_request(&r, vmdb_json_doc_root(d), msg, sizeof msg), 0);
    assert_int_equal(r->n, 256);
    assert_non_null(vmdb_registry_find(r, "t255"));
    vmdb_registry_unref(r);
    vmdb_json_doc_free(d);

    /* 1001 columns are refused, 1000 accepted. */
    for (int ncols = 1000; ncols <= 1001; ncols++) {
        b.len = 0;
        assert_int_equal(vmdb_sb_puts(&b, "[{\"table_name\":\"wide\",\"primary_key_field\":\"id\","
                                          "\"primary_key_kind\":\"serial\",\"columns\":["),
                         0);
        for (int i = 0; i < ncols; i++)
            assert_int_equal(
                vmdb_sb_printf(&b, "%s{\"name\":\"c%d\",\"col_type\":\"int\"}", i ? "," : "", i),
                0);
        assert_int_equal(vmdb_sb_puts(&b, "]}]"), 0);
        if (ncols == 1001) {
            apply_fail_raw((const char *)b.ptr, b.len, 400, "too many columns in table 'wide'");
            continue;
        }
        d = parse_raw((const char *)b.ptr, b.len);
        r = NULL;
        assert_int_equal(vmdb_registry_from_request(&r, vmdb_json_doc_root(d), msg, sizeof msg), 0);
        assert_int_equal(r->models[0].ncols, 1000);
        vmdb_registry_unref(r);
        vmdb_json_doc_free(d);
    }
    vmdb_buf_free(&b);
}

/* ---- registry rows (§2.6 stored spellings, §2.7 reload rules) ------------ */

static void test_from_rows_stored_spellings(void **state)
{
    (void)state;
    const vmdb_model_row rows[] = {
        {"agents", "id", "bigserial",
         "[{\"col_type\":\"jsonb\",\"name\":\"character\",\"nullable\":false,\"unique\":false},"
         "{\"col_type\":\"text\",\"name\":\"name\",\"nullable\":false,\"unique\":true}]",
         NULL},
        {"big", "k", "bigint",
         "[{\"col_type\":\"big_int\",\"name\":\"n\",\"nullable\":true},"
         "{\"col_type\":\"integer\",\"name\":\"i\"},"
         "{\"col_type\":\"numeric\",\"name\":\"amount\",\"nullable\":true},"
         "{\"name\":\"untyped\",\"nullable\":true},"
         "{\"col_type\":\"character varying\",\"name\":\"vc\"},"
         "{\"col_type\":\"point\",\"name\":\"pt\",\"nullable\":true},"
         "{\"col_type\":\"BOOLEAN\",\"name\":\"Flag\",\"unique\":true},"
         "{\"col_type\":\"text\",\"name\":\"bad name\"},"
         "{\"col_type\":\"text\"},"
         "{\"col_type\":\"text\",\"name\":5},"
         "{\"col_type\":\"text\",\"name\":\"\"},"
         "{\"col_type\":7,\"name\":\"seven\"},"
         "17]",
         NULL},
        {"srv", "id", "serial", "[]", NULL},
        {"txt", "id", "text", "[]", NULL},
        {"i4", "id", "int", "[]", NULL},
        {"u", "id", "uuid", "[]", NULL},
        {"req_spelling", "id", "big_serial", "[]", NULL},
        {"req_spelling2", "id", "big_int", "[]", NULL},
    };
    const size_t n = sizeof rows / sizeof rows[0];
    vmdb_registry *r = NULL;
    assert_int_equal(
        vmdb_registry_from_rows(&r, rows, n,
                                "c97d5f0053148a9e41e36a6dd5e985db4458a4a6d4b1ad214adfff095866deec"),
        0);
    assert_int_equal(r->n, n);
    assert_string_equal(r->schema_hash,
                        "c97d5f0053148a9e41e36a6dd5e985db4458a4a6d4b1ad214adfff095866deec");

    /* The stored form of the warm-start schema gives the applied model. */
    const vmdb_model *m = find(r, "agents");
    assert_int_equal(m->pk_kind, VMDB_PK_BIG_SERIAL);
    assert_int_equal(m->pk_type, VMDB_T_BIGINT);
    assert_string_equal(m->ddl,
                        "CREATE TABLE IF NOT EXISTS \"agents\" (\"id\" BIGSERIAL PRIMARY KEY, "
                        "\"character\" JSONB NOT NULL, \"name\" TEXT NOT NULL UNIQUE)");
    assert_string_equal(m->proj,
                        "t.\"id\"::text AS \"id\", t.\"character\"::text AS \"character\", "
                        "t.\"name\" AS \"name\"");

    m = find(r, "big");
    assert_int_equal(m->pk_kind, VMDB_PK_BIG_INT);
    assert_int_equal(m->pk_type, VMDB_T_BIGINT);
    assert_string_equal(vmdb_pk_array_cast(m), "int8");
    /* Stored order is kept; entries without a usable name are skipped. */
    static const struct {
        const char *name, *type_name;
        vmdb_ctype t;
        bool nullable, unique;
    } want[] = {
        {"n", "big_int", VMDB_T_BIGINT, true, false},
        {"i", "integer", VMDB_T_INT, false, false},
        {"amount", "numeric", VMDB_T_NUMERIC, true, false},
        {"untyped", "text", VMDB_T_TEXT, true, false},
        {"vc", "character varying", VMDB_T_TEXT, false, false},
        {"pt", "point", VMDB_T_OTHER, true, false},
        {"flag", "boolean", VMDB_T_BOOL, false, true},
        {"seven", "text", VMDB_T_TEXT, false, false},
    };
    assert_int_equal(m->ncols, sizeof want / sizeof want[0]);
    for (size_t i = 0; i < m->ncols; i++) {
        assert_string_equal(m->cols[i].name, want[i].name);
        assert_string_equal(m->cols[i].type_name, want[i].type_name);
        assert_int_equal(m->cols[i].type, want[i].t);
        assert_int_equal(m->cols[i].nullable, want[i].nullable);
        assert_int_equal(m->cols[i].unique, want[i].unique);
    }
    assert_string_equal(m->ddl, "CREATE TABLE IF NOT EXISTS \"big\" (\"k\" BIGINT PRIMARY KEY, "
                                "\"n\" BIGINT, \"i\" INTEGER NOT NULL, \"amount\" NUMERIC, "
                                "\"untyped\" TEXT, \"vc\" TEXT NOT NULL, \"pt\" TEXT, "
                                "\"flag\" BOOLEAN NOT NULL UNIQUE, \"seven\" TEXT NOT NULL)");
    assert_string_equal(m->proj,
                        "t.\"k\"::text AS \"k\", t.\"n\"::text AS \"n\", t.\"i\" AS \"i\", "
                        "t.\"amount\"::text AS \"amount\", t.\"untyped\" AS \"untyped\", "
                        "t.\"vc\" AS \"vc\", t.\"pt\"::text AS \"pt\", t.\"flag\" AS \"flag\", "
                        "t.\"seven\" AS \"seven\"");
    assert_columns_json(
        m, "[{'col_type':'big_int','name':'n','nullable':true,'unique':false},"
           "{'col_type':'integer','name':'i','nullable':false,'unique':false},"
           "{'col_type':'numeric','name':'amount','nullable':true,'unique':false},"
           "{'col_type':'text','name':'untyped','nullable':true,'unique':false},"
           "{'col_type':'character varying','name':'vc','nullable':false,'unique':false},"
           "{'col_type':'point','name':'pt','nullable':true,'unique':false},"
           "{'col_type':'boolean','name':'flag','nullable':false,'unique':true},"
           "{'col_type':'text','name':'seven','nullable':false,'unique':false}]");

    static const struct {
        const char *table;
        vmdb_pkkind k;
        vmdb_ctype t;
    } kinds[] = {
        {"srv", VMDB_PK_SERIAL, VMDB_T_INT},
        {"txt", VMDB_PK_TEXT, VMDB_T_TEXT},
        {"i4", VMDB_PK_INT, VMDB_T_INT},
        {"u", VMDB_PK_UUID, VMDB_T_UUID},
        {"req_spelling", VMDB_PK_BIG_SERIAL, VMDB_T_BIGINT},
        {"req_spelling2", VMDB_PK_BIG_INT, VMDB_T_BIGINT},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        m = find(r, kinds[i].table);
        assert_int_equal(m->pk_kind, kinds[i].k);
        assert_int_equal(m->pk_type, kinds[i].t);
        assert_int_equal(m->ncols, 0);
    }
    vmdb_registry_unref(r);
}

/* The §2.2 class of each PostgreSQL type, and the live types overriding
 * what col_type says. */
static void test_vclass(void **state)
{
    (void)state;
    static const struct {
        const char *type;
        vmdb_vclass v;
    } cases[] = {
        {"smallint", VMDB_V_PLAIN},
        {"integer", VMDB_V_PLAIN},
        {"int", VMDB_V_PLAIN},
        {"real", VMDB_V_PLAIN},
        {"double precision", VMDB_V_PLAIN},
        {"boolean", VMDB_V_PLAIN},
        {"text", VMDB_V_PLAIN},
        {"character varying", VMDB_V_PLAIN},
        {"character", VMDB_V_PLAIN},
        {"uuid", VMDB_V_PLAIN},
        {"bytea", VMDB_V_PLAIN},
        {"date", VMDB_V_PLAIN},
        {"time without time zone", VMDB_V_PLAIN},
        {"time with time zone", VMDB_V_PLAIN},
        {"timestamp without time zone", VMDB_V_PLAIN},
        {"timestamp with time zone", VMDB_V_PLAIN},
        {"timestamptz", VMDB_V_PLAIN},
        {"interval", VMDB_V_PLAIN},
        {"bigint", VMDB_V_TEXT},
        {"big_int", VMDB_V_TEXT},
        {"numeric", VMDB_V_TEXT},
        {"NUMERIC", VMDB_V_TEXT},
        {"json", VMDB_V_JSON},
        {"jsonb", VMDB_V_JSON},
        {"point", VMDB_V_TEXT},
        {"inet", VMDB_V_TEXT},
        {"money", VMDB_V_TEXT},
        {"mood", VMDB_V_TEXT},
        {"\"char\"", VMDB_V_TEXT},
        {"ARRAY", VMDB_V_TEXT},
        {"USER-DEFINED", VMDB_V_TEXT},
        {"", VMDB_V_TEXT},
        {"integer[]", VMDB_V_PLAIN},
        {"double precision[]", VMDB_V_PLAIN},
        {"timestamp with time zone[]", VMDB_V_PLAIN},
        {"bigint[]", VMDB_V_TEXT_ARRAY},
        {"numeric[]", VMDB_V_TEXT_ARRAY},
        {"jsonb[]", VMDB_V_TEXT},
        {"json[]", VMDB_V_TEXT},
        {"point[]", VMDB_V_TEXT},
        {"[]", VMDB_V_TEXT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (vmdb_vclass_from_type(cases[i].type) != cases[i].v)
            fail_msg("type '%s': class %d, wanted %d", cases[i].type,
                     (int)vmdb_vclass_from_type(cases[i].type), (int)cases[i].v);

    /* col_type says text; the live type (as the catalog reads it) decides. */
    const vmdb_model_row rows[] = {
        {"m", "id", "serial",
         "[{\"name\":\"a\",\"col_type\":\"text\"},{\"name\":\"b\",\"col_type\":\"ARRAY\"},"
         "{\"name\":\"c\",\"col_type\":\"json\"},{\"name\":\"d\",\"col_type\":\"numeric\"}]",
         "{\"id\":\"integer\",\"a\":\"numeric\",\"b\":\"bigint[]\",\"c\":\"json\"}"},
    };
    vmdb_registry *r = NULL;
    assert_int_equal(vmdb_registry_from_rows(&r, rows, 1, NULL), 0);
    const vmdb_model *m = find(r, "m");
    assert_string_equal(m->proj, "t.\"id\" AS \"id\", t.\"a\"::text AS \"a\", "
                                 "t.\"b\"::text[] AS \"b\", t.\"c\"::text AS \"c\", "
                                 "t.\"d\"::text AS \"d\"");
    assert_int_equal(m->cols[0].type, VMDB_T_TEXT); /* writes still coerce by col_type */
    assert_int_equal(m->njson, 1);
    assert_string_equal(m->json_cols[0], "c");
    vmdb_registry_unref(r);
}

/* Rows that do not validate are skipped; the others keep their order. */
static void test_from_rows_skips_invalid(void **state)
{
    (void)state;
    const vmdb_model_row rows[] = {
        {"bad table", "id", "serial", "[]", NULL},
        {"ok1", "id", "serial", "[]", NULL},
        {"t", "bad-pk", "serial", "[]", NULL},
        {"t", "id", "bogus", "[]", NULL},
        {"t", "id", "BIGSERIAL", "[]", NULL},
        {"t", "id", "serial", "not json", NULL},
        {"t", "id", "serial", "{\"name\":\"x\"}", NULL},
        {"t", "id", "serial", "[{\"name\":\"x\",\"name\":\"y\"}]", NULL},
        {"", "id", "serial", "[]", NULL},
        {"ok2", "ID", "uuid", "[{\"name\":\"V\",\"col_type\":\"int4\",\"nullable\":\"yes\"}]",
         NULL},
    };
    vmdb_registry *r = NULL;
    assert_int_equal(vmdb_registry_from_rows(&r, rows, sizeof rows / sizeof rows[0], NULL), 0);
    assert_int_equal(r->n, 2);
    assert_string_equal(r->models[0].table, "ok1");
    assert_string_equal(r->models[1].table, "ok2");
    assert_string_equal(r->models[1].pk, "id");
    assert_int_equal(r->models[1].ncols, 1);
    assert_string_equal(r->models[1].cols[0].name, "v");
    assert_int_equal(r->models[1].cols[0].type, VMDB_T_INT);
    assert_false(r->models[1].cols[0].nullable); /* not a bool: the default */
    assert_string_equal(r->schema_hash, "");
    assert_null(vmdb_registry_find(r, "t"));
    vmdb_registry_unref(r);

    /* A schema hash that is not 64 characters is not kept. */
    assert_int_equal(vmdb_registry_from_rows(&r, rows + 1, 1, "abc"), 0);
    assert_string_equal(r->schema_hash, "");
    vmdb_registry_unref(r);

    /* No rows: an empty registry. */
    assert_int_equal(vmdb_registry_from_rows(&r, NULL, 0, NULL), 0);
    assert_int_equal(r->n, 0);
    assert_null(vmdb_registry_find(r, "ok1"));
    assert_int_equal(atomic_load(&r->refs), 1);
    vmdb_registry_unref(r);
}

/* A declared column named like the key overrides the key's type (§2.7). */
static void test_model_column_lookup(void **state)
{
    (void)state;
    const vmdb_model_row rows[] = {
        {"a", "id", "serial", "[{\"name\":\"v\",\"col_type\":\"text\"}]", NULL},
        {"b", "id", "serial", "[{\"name\":\"id\",\"col_type\":\"bigint\"}]", NULL},
    };
    vmdb_registry *r = NULL;
    assert_int_equal(vmdb_registry_from_rows(&r, rows, 2, NULL), 0);
    const vmdb_model *a = find(r, "a"), *b = find(r, "b");
    vmdb_column pkc;
    memset(&pkc, 0x5a, sizeof pkc);
    const vmdb_column *c = vmdb_model_column(a, "id", &pkc);
    assert_ptr_equal(c, &pkc);
    assert_string_equal(c->name, "id");
    assert_int_equal(c->type, VMDB_T_INT);
    assert_string_equal(c->type_name, "int");
    assert_false(c->nullable);
    assert_true(c->unique);
    assert_null(vmdb_model_column(a, "id", NULL)); /* no room for the key column */
    c = vmdb_model_column(a, "v", &pkc);
    assert_ptr_equal(c, &a->cols[0]);
    assert_null(vmdb_model_column(a, "nope", &pkc));
    assert_null(vmdb_model_column(a, "V", &pkc)); /* names are exact, lower case */
    assert_null(vmdb_model_column(a, "", &pkc));
    c = vmdb_model_column(b, "id", &pkc);
    assert_ptr_equal(c, &b->cols[0]);
    assert_int_equal(c->type, VMDB_T_BIGINT);
    assert_int_equal(b->pk_type, VMDB_T_INT); /* the key's own type is unchanged */
    vmdb_registry_unref(r);
}

/* ---- names, casts, identifiers ------------------------------------------- */

static void test_ctype_from_name(void **state)
{
    (void)state;
    static const struct {
        const char *n;
        vmdb_ctype t;
    } map[] = {
        {"text", VMDB_T_TEXT},
        {"TEXT", VMDB_T_TEXT},
        {"character varying", VMDB_T_TEXT},
        {"varchar", VMDB_T_TEXT},
        {"int", VMDB_T_INT},
        {"int4", VMDB_T_INT},
        {"integer", VMDB_T_INT},
        {"Integer", VMDB_T_INT},
        {"serial", VMDB_T_INT},
        {"smallint", VMDB_T_INT},
        {"int2", VMDB_T_INT},
        {"big_int", VMDB_T_BIGINT},
        {"bigint", VMDB_T_BIGINT},
        {"int8", VMDB_T_BIGINT},
        {"bigserial", VMDB_T_BIGINT},
        {"big_serial", VMDB_T_BIGINT},
        {"bool", VMDB_T_BOOL},
        {"boolean", VMDB_T_BOOL},
        {"BOOLEAN", VMDB_T_BOOL},
        {"jsonb", VMDB_T_JSONB},
        {"timestamptz", VMDB_T_TIMESTAMPTZ},
        {"timestamp with time zone", VMDB_T_TIMESTAMPTZ},
        {"Timestamp With Time Zone", VMDB_T_TIMESTAMPTZ},
        {"uuid", VMDB_T_UUID},
        {"UUID", VMDB_T_UUID},
        {"numeric", VMDB_T_NUMERIC},
        {"decimal", VMDB_T_NUMERIC},
        /* everything else */
        {"", VMDB_T_OTHER},
        {"json", VMDB_T_OTHER},
        {"timestamp", VMDB_T_OTHER},
        {"timestamp without time zone", VMDB_T_OTHER},
        {"point", VMDB_T_OTHER},
        {" text", VMDB_T_OTHER},
        {"text ", VMDB_T_OTHER},
        {"int4x", VMDB_T_OTHER},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (vmdb_ctype_from_name(map[i].n) != map[i].t)
            fail_msg("'%s' → %d, wanted %d", map[i].n, vmdb_ctype_from_name(map[i].n), map[i].t);

    /* Names and casts of each type (the `expected` of field errors). */
    static const struct {
        vmdb_ctype t;
        const char *name, *cast;
    } tc[] = {
        {VMDB_T_TEXT, "text", "::text"},     {VMDB_T_INT, "int", "::int4"},
        {VMDB_T_BIGINT, "bigint", "::int8"}, {VMDB_T_BOOL, "bool", "::bool"},
        {VMDB_T_JSONB, "jsonb", "::jsonb"},  {VMDB_T_TIMESTAMPTZ, "timestamptz", "::timestamptz"},
        {VMDB_T_UUID, "uuid", "::uuid"},     {VMDB_T_NUMERIC, "numeric", "::numeric"},
        {VMDB_T_OTHER, "other", ""},
    };
    for (size_t i = 0; i < sizeof tc / sizeof tc[0]; i++) {
        assert_string_equal(vmdb_ctype_name(tc[i].t), tc[i].name);
        assert_string_equal(vmdb_ctype_cast(tc[i].t), tc[i].cast);
        if (tc[i].t != VMDB_T_OTHER)
            assert_int_equal(vmdb_ctype_from_name(tc[i].name), tc[i].t);
    }
}

static void test_ident_valid(void **state)
{
    (void)state;
    static const char *const good[] = {"a", "A", "_", "_1", "a1", "Z9_z", "order", "user", "__"};
    static const char *const bad[] = {"",         "1",           "1a",  "a-b",  "a b",
                                      " a",       "a ",          "a.b", "a\"b", "a$",
                                      "\xc3\xa9", "caf\xc3\xa9", "a;b", "$1",   "a\tb"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!vmdb_ident_valid(good[i], strlen(good[i])))
            fail_msg("'%s' should be valid", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (vmdb_ident_valid(bad[i], strlen(bad[i])))
            fail_msg("'%s' should be invalid", bad[i]);
    char n[70];
    memset(n, 'x', sizeof n);
    assert_true(vmdb_ident_valid(n, 1));
    assert_true(vmdb_ident_valid(n, 63));
    assert_false(vmdb_ident_valid(n, 64));
    assert_false(vmdb_ident_valid(n, 70));
    /* The length is the given one, not strlen: a prefix, and embedded NULs. */
    assert_true(vmdb_ident_valid("abc-", 3));
    assert_false(vmdb_ident_valid("abc-", 4));
    assert_false(vmdb_ident_valid("a\0b", 3));
    assert_false(vmdb_ident_valid("ab", 0));
}

/* ---- reference counting ---------------------------------------------------- */

static void test_refcount(void **state)
{
    (void)state;
    vmdb_registry *r = apply_ok(README_AGENTS);
    assert_ptr_equal(vmdb_registry_ref(r), r);
    assert_ptr_equal(vmdb_registry_ref(r), r);
    assert_int_equal(atomic_load(&r->refs), 3);
    vmdb_registry_unref(r);
    vmdb_registry_unref(r);
    assert_int_equal(atomic_load(&r->refs), 1);
    assert_non_null(vmdb_registry_find(r, "agents")); /* still alive */
    vmdb_registry_unref(r);                           /* freed: ASan reports a leak otherwise */
    assert_null(vmdb_registry_ref(NULL));
    vmdb_registry_unref(NULL);
    assert_null(vmdb_registry_find(NULL, "agents"));
}

typedef struct ref_job {
    vmdb_registry *r;
    int rounds;
} ref_job;

static void *ref_worker(void *p)
{
    ref_job *j = p;
    for (int i = 0; i < j->rounds; i++) {
        vmdb_registry *mine = vmdb_registry_ref(j->r);
        if (!vmdb_registry_find(mine, "agents"))
            abort();
        vmdb_registry_unref(mine);
    }
    vmdb_registry_unref(j->r); /* each thread owns one reference */
    return NULL;
}

static void test_refcount_threads(void **state)
{
    (void)state;
    enum { NT = 4 };
    vmdb_registry *r = apply_ok(WARM_START);
    pthread_t th[NT];
    ref_job job = {r, 20000};
    for (int i = 0; i < NT; i++)
        vmdb_registry_ref(r);
    for (int i = 0; i < NT; i++)
        assert_int_equal(pthread_create(&th[i], NULL, ref_worker, &job), 0);
    for (int i = 0; i < NT; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(atomic_load(&r->refs), 1);
    vmdb_registry_unref(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_readme_agents),
        cmocka_unit_test(test_vector_warm_start),
        cmocka_unit_test(test_hash_independent_of_request_form),
        cmocka_unit_test(test_normalisation_sort_then_lower),
        cmocka_unit_test(test_every_column_type),
        cmocka_unit_test(test_every_pk_kind),
        cmocka_unit_test(test_ddl_default_now_and_unique),
        cmocka_unit_test(test_pk_column_skipped_in_ddl),
        cmocka_unit_test(test_pk_projection_follows_pk_type),
        cmocka_unit_test(test_reserved_sql_words_accepted),
        cmocka_unit_test(test_shape_errors_422),
        cmocka_unit_test(test_empty_tables_400),
        cmocka_unit_test(test_identifier_errors_400),
        cmocka_unit_test(test_identifier_length),
        cmocka_unit_test(test_reserved_names_refused),
        cmocka_unit_test(test_duplicates_400),
        cmocka_unit_test(test_too_many),
        cmocka_unit_test(test_from_rows_stored_spellings),
        cmocka_unit_test(test_vclass),
        cmocka_unit_test(test_from_rows_skips_invalid),
        cmocka_unit_test(test_model_column_lookup),
        cmocka_unit_test(test_ctype_from_name),
        cmocka_unit_test(test_ident_valid),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_refcount_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

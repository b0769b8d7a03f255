/*
 * Fuzz target for the request side of the service that needs no database:
 * apply-schema table specs (validation, normalisation, schema hash, DDL and
 * projection text) and record coercion against a fixed model. The first
 * input byte picks the path, the rest is JSON. Properties checked: an
 * accepted spec has only valid, lower-case identifiers, a 64-hex schema
 * hash and DDL that quotes every identifier; coercion either reports field
 * errors or yields one value per known column, with key texts for keyed
 * records; nothing leaks or crashes under ASan/UBSan.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/render.h"
#include "store/coerce.h"
#include "store/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_request: property violated: %s\n", what);
        abort();
    }
}

static const char fixed_spec[] =
    "[{\"table_name\":\"things\",\"primary_key_field\":\"id\",\"primary_key_kind\":\"big_serial\","
    "\"columns\":[{\"name\":\"name\",\"col_type\":\"text\"},{\"name\":\"qty\",\"col_type\":\"int\"}"
    ","
    "{\"name\":\"big\",\"col_type\":\"big_int\"},{\"name\":\"ok\",\"col_type\":\"bool\"},"
    "{\"name\":\"doc\",\"col_type\":\"jsonb\",\"nullable\":true},{\"name\":\"at\",\"col_type\":"
    "\"timestamptz\"},{\"name\":\"u\",\"col_type\":\"uuid\"}]}]";

static void fuzz_spec(const vmdb_json *tables)
{
    vmdb_registry *r = NULL;
    char msg[256];
    int rc = vmdb_registry_from_request(&r, tables, msg, sizeof msg);
    if (rc != 0) {
        check(rc == VMDB_EPARSE || rc == VMDB_EINVAL || rc == VMDB_ENOMEM, "refusal kind");
        check(r == NULL, "nothing on refusal");
        return;
    }
    check(strlen(r->schema_hash) == 64, "schema hash length");
    for (size_t i = 0; i < r->n; i++) {
        const vmdb_model *m = &r->models[i];
        check(vmdb_ident_valid(m->table, strlen(m->table)), "table identifier");
        check(vmdb_ident_valid(m->pk, strlen(m->pk)), "pk identifier");
        for (const char *p = m->table; *p; p++)
            check(!(*p >= 'A' && *p <= 'Z'), "lower case");
        check(strstr(m->ddl, "CREATE TABLE IF NOT EXISTS \"") == m->ddl, "ddl prefix");
        check(strchr(m->ddl, ';') == NULL, "no statement separator in DDL");
        for (size_t j = 0; j < m->ncols; j++)
            check(vmdb_ident_valid(m->cols[j].name, strlen(m->cols[j].name)), "column identifier");
    }
    vmdb_registry_unref(vmdb_registry_ref(r));
    vmdb_registry_unref(r);
}

static void fuzz_records(const vmdb_json *records, bool keyed)
{
    static vmdb_registry *reg; /* built once; the fuzzer process keeps it */
    if (!reg) {
        vmdb_json_doc *d = NULL;
        char msg[256];
        check(vmdb_json_parse(&d, VMDB_SLICE(fixed_spec, sizeof fixed_spec - 1), NULL) == 0,
              "spec");
        check(vmdb_registry_from_request(&reg, vmdb_json_doc_root(d), msg, sizeof msg) == 0,
              "fixed model");
        vmdb_json_doc_free(d);
    }
    const vmdb_model *m = &reg->models[0];
    vmdb_arena ar = VMDB_ARENA_INIT;
    vmdb_field_errors errors = {0};
    vmdb_crec *recs = NULL;
    if (vmdb_json_typeof(records) != VMDB_JSON_ARRAY)
        return;
    int rc = vmdb_coerce_records(&ar, m, records, keyed, &recs, &errors);
    size_t nerr = errors.total;
    check(rc == 0 || rc == VMDB_ENOMEM, "coerce rc");
    if (rc == 0 && nerr == 0) {
        for (size_t i = 0; i < vmdb_json_size(records); i++) {
            check(recs[i].n == vmdb_json_size(vmdb_json_at(records, i)), "one value per member");
            if (keyed)
                check(recs[i].pk_text != NULL, "key text");
            for (size_t j = 1; j < recs[i].n; j++)
                check(strcmp(recs[i].v[j - 1].col->name, recs[i].v[j].col->name) < 0, "sorted");
        }
    }
    if (rc == 0 && nerr) {
        /* The error list, as the server renders it, must be valid JSON. */
        vmdb_buf text = VMDB_BUF_INIT;
        vmdb_json_doc *d = NULL;
        check(errors.n == (nerr < VMDB_FIELD_ERRORS_KEPT ? nerr : VMDB_FIELD_ERRORS_KEPT),
              "errors kept");
        check(vmdb_render_field_errors(&text, &errors) == 0, "errors rendered");
        check(vmdb_json_parse(&d, VMDB_SLICE(text.ptr, text.len), NULL) == 0, "errors are JSON");
        vmdb_json_doc_free(d);
        vmdb_buf_free(&text);
    }
    vmdb_arena_free(&ar);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    vmdb_json_doc *doc = NULL;
    vmdb_json_limits lim = {(size_t)1 << 20, 64};
    if (vmdb_json_parse(&doc, VMDB_SLICE(data + 1, size - 1), &lim) != 0)
        return 0;
    const vmdb_json *root = vmdb_json_doc_root(doc);
    switch (data[0] % 3) {
    case 0:
        fuzz_spec(root);
        break;
    case 1:
        fuzz_records(root, false);
        break;
    default:
        fuzz_records(root, true);
        break;
    }
    vmdb_json_doc_free(doc);
    return 0;
}

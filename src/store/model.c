/*
 * Model parsing, normalisation, hashing and SQL text. Identifiers are
 * validated before they are ever placed in SQL, and are always quoted there
 * as well, so reserved words work and nothing a client sends is interpreted
 * as SQL.
 */
#include "store/model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/log.h"
#include "util/sb.h"
#include "vmdb/hash.h"

const char *vmdb_ctype_name(vmdb_ctype t)
{
    switch (t) {
    case VMDB_T_TEXT:
        return "text";
    case VMDB_T_INT:
        return "int";
    case VMDB_T_BIGINT:
        return "bigint";
    case VMDB_T_BOOL:
        return "bool";
    case VMDB_T_JSONB:
        return "jsonb";
    case VMDB_T_TIMESTAMPTZ:
        return "timestamptz";
    case VMDB_T_UUID:
        return "uuid";
    case VMDB_T_NUMERIC:
        return "numeric";
    default:
        return "other";
    }
}

const char *vmdb_ctype_cast(vmdb_ctype t)
{
    switch (t) {
    case VMDB_T_TEXT:
        return "::text";
    case VMDB_T_INT:
        return "::int4";
    case VMDB_T_BIGINT:
        return "::int8";
    case VMDB_T_BOOL:
        return "::bool";
    case VMDB_T_JSONB:
        return "::jsonb";
    case VMDB_T_TIMESTAMPTZ:
        return "::timestamptz";
    case VMDB_T_UUID:
        return "::uuid";
    case VMDB_T_NUMERIC:
        return "::numeric";
    default:
        return "";
    }
}

static const char *const pk_req[] = {"serial", "big_serial", "text", "int", "big_int", "uuid"};
static const char *const pk_stored[] = {"serial", "bigserial", "text", "int", "bigint", "uuid"};
static const char *const pk_sql[] = {"SERIAL", "BIGSERIAL", "TEXT", "INTEGER", "BIGINT", "UUID"};

const char *vmdb_pkkind_request_name(vmdb_pkkind k)
{
    return pk_req[k];
}

const char *vmdb_pkkind_stored_name(vmdb_pkkind k)
{
    return pk_stored[k];
}

const char *vmdb_pk_array_cast(const vmdb_model *m)
{
    switch (m->pk_type) {
    case VMDB_T_INT:
        return "int4";
    case VMDB_T_BIGINT:
        return "int8";
    case VMDB_T_UUID:
        return "uuid";
    default:
        return "text";
    }
}

static vmdb_ctype pk_type_of(vmdb_pkkind k)
{
    static const vmdb_ctype t[] = {VMDB_T_INT, VMDB_T_BIGINT, VMDB_T_TEXT,
                                   VMDB_T_INT, VMDB_T_BIGINT, VMDB_T_UUID};
    return t[k];
}

vmdb_ctype vmdb_ctype_from_name(const char *s)
{
    static const struct {
        const char *n;
        vmdb_ctype t;
    } map[] = {
        {"text", VMDB_T_TEXT},
        {"character varying", VMDB_T_TEXT},
        {"varchar", VMDB_T_TEXT},
        {"int", VMDB_T_INT},
        {"int4", VMDB_T_INT},
        {"integer", VMDB_T_INT},
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
        {"jsonb", VMDB_T_JSONB},
        {"timestamptz", VMDB_T_TIMESTAMPTZ},
        {"timestamp with time zone", VMDB_T_TIMESTAMPTZ},
        {"uuid", VMDB_T_UUID},
        {"numeric", VMDB_T_NUMERIC},
        {"decimal", VMDB_T_NUMERIC},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcasecmp(s, map[i].n) == 0)
            return map[i].t;
    return VMDB_T_OTHER;
}

/* PostgreSQL types whose row_to_json form is already the §2.2 form, as
 * format_type() spells them, plus the col_type and short spellings. */
static const char *const plain_types[] = {
    "smallint",
    "integer",
    "int",
    "int2",
    "int4",
    "serial",
    "real",
    "float4",
    "double precision",
    "float8",
    "boolean",
    "bool",
    "text",
    "character varying",
    "varchar",
    "character",
    "bpchar",
    "uuid",
    "bytea",
    "date",
    "time without time zone",
    "time",
    "time with time zone",
    "timetz",
    "timestamp without time zone",
    "timestamp",
    "timestamp with time zone",
    "timestamptz",
    "interval",
};
/* Types that travel as their text: row_to_json would write them as JSON
 * numbers, which a double cannot hold exactly (bigint) or which would drop
 * the scale (numeric: 1.50 and 1.5 must hash differently). */
static const char *const text_types[] = {
    "bigint", "int8", "big_int", "bigserial", "big_serial", "numeric", "decimal",
};

static bool in_list(const char *s, size_t n, const char *const *list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (strlen(list[i]) == n && strncasecmp(s, list[i], n) == 0)
            return true;
    return false;
}

vmdb_vclass vmdb_vclass_from_type(const char *s)
{
    size_t n = strlen(s);
    bool array = n > 2 && strcmp(s + n - 2, "[]") == 0;
    if (array)
        n -= 2;
    bool plain = in_list(s, n, plain_types, sizeof plain_types / sizeof plain_types[0]);
    bool text = in_list(s, n, text_types, sizeof text_types / sizeof text_types[0]);
    bool json =
        (n == 4 && strncasecmp(s, "json", 4) == 0) || (n == 5 && strncasecmp(s, "jsonb", 5) == 0);
    if (array)
        /* Elements of any other type (json included) could nest JSON that
         * is not safe, so such arrays travel as their text. */
        return plain ? VMDB_V_PLAIN : text ? VMDB_V_TEXT_ARRAY : VMDB_V_TEXT;
    return plain ? VMDB_V_PLAIN : text ? VMDB_V_TEXT : json ? VMDB_V_JSON : VMDB_V_TEXT;
}

bool vmdb_ident_valid(const char *s, size_t n)
{
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && (i == 0 || !(c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

/* Names a client may not take: vmdb's own tables and PostgreSQL's prefix. */
static bool ident_reserved(const char *lower)
{
    return strncmp(lower, "vmdb_", 5) == 0 || strncmp(lower, "pg_", 3) == 0 ||
           strcmp(lower, "verifiable_models") == 0 ||
           strcmp(lower, "verifiable_registry_meta") == 0 || strcmp(lower, "merkle_nodes") == 0;
}

const vmdb_column *vmdb_model_column(const vmdb_model *m, const char *name, vmdb_column *pkcol)
{
    /* A declared column named like the key overrides the key's type (the
     * seed's reload rule), so columns are searched first. */
    for (size_t i = 0; i < m->ncols; i++)
        if (strcmp(m->cols[i].name, name) == 0)
            return &m->cols[i];
    if (strcmp(m->pk, name) == 0 && pkcol) {
        *pkcol = (vmdb_column){.name = m->pk,
                               .type_name = (char *)vmdb_ctype_name(m->pk_type),
                               .type = m->pk_type,
                               .vclass = m->pk_type == VMDB_T_BIGINT ? VMDB_V_TEXT : VMDB_V_PLAIN,
                               .unique = true};
        return pkcol;
    }
    return NULL;
}

static void model_clear(vmdb_model *m)
{
    free(m->table);
    free(m->pk);
    for (size_t i = 0; i < m->ncols; i++) {
        free(m->cols[i].name);
        free(m->cols[i].type_name);
    }
    free(m->cols);
    free(m->json_cols);
    free(m->ddl);
    free(m->proj);
}

vmdb_registry *vmdb_registry_ref(vmdb_registry *r)
{
    if (r)
        atomic_fetch_add(&r->refs, 1);
    return r;
}

void vmdb_registry_unref(vmdb_registry *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    for (size_t i = 0; i < r->n; i++)
        model_clear(&r->models[i]);
    free(r->models);
    free(r);
}

const vmdb_model *vmdb_registry_find(const vmdb_registry *r, const char *table)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (strcmp(r->models[i].table, table) == 0)
            return &r->models[i];
    return NULL;
}

static char *lower_dup(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (!p)
        return NULL;
    for (size_t i = 0; i < n; i++)
        p[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
    p[n] = 0;
    return p;
}

static const char *const vclass_cast[] = {" AS ", "::text AS ", "::text[] AS ", "::text AS "};

/* Builds the DDL and the projection once the names are final. */
static int model_finish(vmdb_model *m)
{
    vmdb_buf ddl = VMDB_BUF_INIT, proj = VMDB_BUF_INIT;
    m->njson = 0;
    if (!(m->json_cols = calloc(m->ncols ? m->ncols : 1, sizeof *m->json_cols)))
        return VMDB_ENOMEM;
    int rc = vmdb_sb_puts(&ddl, "CREATE TABLE IF NOT EXISTS ");
    rc = rc ? rc : vmdb_sb_ident(&ddl, m->table);
    rc = rc ? rc : vmdb_sb_puts(&ddl, " (");
    rc = rc ? rc : vmdb_sb_ident(&ddl, m->pk);
    rc = rc ? rc : vmdb_sb_printf(&ddl, " %s PRIMARY KEY", pk_sql[m->pk_kind]);
    /* The key's SQL type comes from its kind (the DDL), whatever a declared
     * column of the same name says. */
    rc = rc ? rc : vmdb_sb_puts(&proj, "t.");
    rc = rc ? rc : vmdb_sb_ident(&proj, m->pk);
    rc = rc ? rc
            : vmdb_sb_puts(&proj,
                           vclass_cast[m->pk_type == VMDB_T_BIGINT ? VMDB_V_TEXT : VMDB_V_PLAIN]);
    rc = rc ? rc : vmdb_sb_ident(&proj, m->pk);
    for (size_t i = 0; rc == 0 && i < m->ncols; i++) {
        const vmdb_column *c = &m->cols[i];
        if (strcmp(c->name, m->pk) == 0)
            continue;
        static const char *const sqlt[] = {"TEXT",  "INTEGER",     "BIGINT", "BOOLEAN",
                                           "JSONB", "TIMESTAMPTZ", "UUID",   "NUMERIC"};
        rc = vmdb_sb_puts(&ddl, ", ");
        rc = rc ? rc : vmdb_sb_ident(&ddl, c->name);
        rc = rc ? rc
                : vmdb_sb_printf(&ddl, " %s", c->type <= VMDB_T_NUMERIC ? sqlt[c->type] : "TEXT");
        if (rc == 0 && !c->nullable)
            rc = vmdb_sb_puts(&ddl, " NOT NULL");
        if (rc == 0 && !c->nullable && c->type == VMDB_T_TIMESTAMPTZ &&
            strcmp(c->name, "created_at") == 0)
            rc = vmdb_sb_puts(&ddl, " DEFAULT now()");
        if (rc == 0 && c->unique)
            rc = vmdb_sb_puts(&ddl, " UNIQUE");
        rc = rc ? rc : vmdb_sb_puts(&proj, ", t.");
        rc = rc ? rc : vmdb_sb_ident(&proj, c->name);
        rc = rc ? rc : vmdb_sb_puts(&proj, vclass_cast[c->vclass]);
        rc = rc ? rc : vmdb_sb_ident(&proj, c->name);
        if (rc == 0 && c->vclass == VMDB_V_JSON)
            m->json_cols[m->njson++] = c->name;
    }
    rc = rc ? rc : vmdb_sb_puts(&ddl, ")");
    rc = rc ? rc : vmdb_sb_cstr(&ddl);
    rc = rc ? rc : vmdb_sb_cstr(&proj);
    if (rc) {
        vmdb_buf_free(&ddl);
        vmdb_buf_free(&proj);
        return rc;
    }
    m->ddl = (char *)ddl.ptr;
    m->proj = (char *)proj.ptr;
    return 0;
}

/* ---- apply-schema request ---------------------------------------------- */

typedef struct spec_col {
    const vmdb_json *name;
    const char *type;
    bool nullable, unique;
} spec_col;

static int cmp_slice(vmdb_slice a, vmdb_slice b)
{
    size_t n = a.len < b.len ? a.len : b.len;
    int c = memcmp(a.ptr, b.ptr, n);
    return c ? c : (a.len > b.len) - (a.len < b.len);
}

static int cmp_table(const void *a, const void *b)
{
    const vmdb_json *x = vmdb_json_get(*(const vmdb_json *const *)a, "table_name");
    const vmdb_json *y = vmdb_json_get(*(const vmdb_json *const *)b, "table_name");
    return cmp_slice(vmdb_json_string(x), vmdb_json_string(y));
}

static int cmp_col(const void *a, const void *b)
{
    const vmdb_json *x = vmdb_json_get(*(const vmdb_json *const *)a, "name");
    const vmdb_json *y = vmdb_json_get(*(const vmdb_json *const *)b, "name");
    return cmp_slice(vmdb_json_string(x), vmdb_json_string(y));
}

static bool is_str(const vmdb_json *v)
{
    return v && vmdb_json_typeof(v) == VMDB_JSON_STRING;
}

static bool opt_bool(const vmdb_json *v, bool *out)
{
    if (!v)
        return true; /* absent: default false */
    vmdb_json_type t = vmdb_json_typeof(v);
    if (t != VMDB_JSON_TRUE && t != VMDB_JSON_FALSE)
        return false;
    *out = t == VMDB_JSON_TRUE;
    return true;
}

static int find_enum(vmdb_slice s, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == s.len && memcmp(names[i], s.ptr, s.len) == 0)
            return (int)i;
    return -1;
}

static const char *const col_types[] = {"text",  "int",         "big_int", "bool",
                                        "jsonb", "timestamptz", "uuid"};

#define SHAPE_ERR "Failed to deserialize the JSON body into the target type"

/* Checks the shape of one TableSpec (422 class errors). */
static bool table_shape_ok(const vmdb_json *t)
{
    if (!t || vmdb_json_typeof(t) != VMDB_JSON_OBJECT)
        return false;
    const vmdb_json *cols = vmdb_json_get(t, "columns");
    const vmdb_json *kind = vmdb_json_get(t, "primary_key_kind");
    if (!is_str(vmdb_json_get(t, "table_name")) || !is_str(vmdb_json_get(t, "primary_key_field")) ||
        !is_str(kind) || !cols || vmdb_json_typeof(cols) != VMDB_JSON_ARRAY)
        return false;
    if (find_enum(vmdb_json_string(kind), pk_req, 6) < 0)
        return false;
    for (size_t i = 0; i < vmdb_json_size(cols); i++) {
        const vmdb_json *c = vmdb_json_at(cols, i);
        bool b;
        if (vmdb_json_typeof(c) != VMDB_JSON_OBJECT || !is_str(vmdb_json_get(c, "name")) ||
            !is_str(vmdb_json_get(c, "col_type")) ||
            find_enum(vmdb_json_string(vmdb_json_get(c, "col_type")), col_types, 7) < 0 ||
            !opt_bool(vmdb_json_get(c, "nullable"), &b) ||
            !opt_bool(vmdb_json_get(c, "unique"), &b))
            return false;
    }
    return true;
}

static int fail(int rc, char *msg, size_t msglen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(int rc, char *msg, size_t msglen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return rc;
}

int vmdb_registry_from_request(vmdb_registry **out, const vmdb_json *tables, char *msg,
                               size_t msglen)
{
    int rc = 0;
    vmdb_registry *r = NULL;
    const vmdb_json **order = NULL, **corder = NULL;
    *out = NULL;
    if (!tables || vmdb_json_typeof(tables) != VMDB_JSON_ARRAY) {
        rc = fail(VMDB_EPARSE, msg, msglen, "%s", SHAPE_ERR);
        goto done;
    }
    size_t n = vmdb_json_size(tables);
    for (size_t i = 0; i < n; i++)
        if (!table_shape_ok(vmdb_json_at(tables, i))) {
            rc = fail(VMDB_EPARSE, msg, msglen, "%s", SHAPE_ERR);
            goto done;
        }
    if (n == 0) {
        rc = fail(VMDB_EINVAL, msg, msglen, "tables cannot be empty");
        goto done;
    }
    if (n > 256) {
        rc = fail(VMDB_EINVAL, msg, msglen, "too many tables (at most 256)");
        goto done;
    }
    /* Identifier checks in input order, on the original spelling. */
    for (size_t i = 0; i < n; i++) {
        const vmdb_json *t = vmdb_json_at(tables, i);
        vmdb_slice tn = vmdb_json_string(vmdb_json_get(t, "table_name"));
        vmdb_slice pk = vmdb_json_string(vmdb_json_get(t, "primary_key_field"));
        char tbuf[80], fbuf[80];
        snprintf(tbuf, sizeof tbuf, "%.*s", (int)(tn.len > 70 ? 70 : tn.len), (const char *)tn.ptr);
        if (!vmdb_ident_valid((const char *)tn.ptr, tn.len)) {
            rc = fail(VMDB_EINVAL, msg, msglen, "Invalid table_name '%s'", tbuf);
            goto done;
        }
        char *low = lower_dup((const char *)tn.ptr, tn.len);
        bool reserved = low && ident_reserved(low);
        free(low);
        if (reserved) {
            rc = fail(VMDB_EINVAL, msg, msglen, "Invalid table_name '%s': reserved name", tbuf);
            goto done;
        }
        snprintf(fbuf, sizeof fbuf, "%.*s", (int)(pk.len > 70 ? 70 : pk.len), (const char *)pk.ptr);
        if (!vmdb_ident_valid((const char *)pk.ptr, pk.len)) {
            rc = fail(VMDB_EINVAL, msg, msglen, "Invalid primary_key_field '%s' for table '%s'",
                      fbuf, tbuf);
            goto done;
        }
        const vmdb_json *cols = vmdb_json_get(t, "columns");
        for (size_t j = 0; j < vmdb_json_size(cols); j++) {
            vmdb_slice cn = vmdb_json_string(vmdb_json_get(vmdb_json_at(cols, j), "name"));
            if (!vmdb_ident_valid((const char *)cn.ptr, cn.len)) {
                snprintf(fbuf, sizeof fbuf, "%.*s", (int)(cn.len > 70 ? 70 : cn.len),
                         (const char *)cn.ptr);
                rc = fail(VMDB_EINVAL, msg, msglen, "Invalid column name '%s' for table '%s'", fbuf,
                          tbuf);
                goto done;
            }
        }
        if (vmdb_json_size(cols) > 1000) {
            rc = fail(VMDB_EINVAL, msg, msglen, "too many columns in table '%s'", tbuf);
            goto done;
        }
    }
    order = malloc(n * sizeof *order);
    r = calloc(1, sizeof *r);
    if (!order || !r || !(r->models = calloc(n, sizeof *r->models))) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    atomic_init(&r->refs, 1);
    for (size_t i = 0; i < n; i++)
        order[i] = vmdb_json_at(tables, i);
    qsort(order, n, sizeof *order, cmp_table);
    for (size_t i = 0; i < n; i++) {
        vmdb_model *m = &r->models[i];
        r->n = i + 1; /* counted from the start, so a failure frees it too */
        const vmdb_json *t = order[i];
        vmdb_slice tn = vmdb_json_string(vmdb_json_get(t, "table_name"));
        vmdb_slice pk = vmdb_json_string(vmdb_json_get(t, "primary_key_field"));
        const vmdb_json *cols = vmdb_json_get(t, "columns");
        size_t nc = vmdb_json_size(cols);
        m->table = lower_dup((const char *)tn.ptr, tn.len);
        m->pk = lower_dup((const char *)pk.ptr, pk.len);
        m->pk_kind = (vmdb_pkkind)find_enum(vmdb_json_string(vmdb_json_get(t, "primary_key_kind")),
                                            pk_req, 6);
        m->pk_type = pk_type_of(m->pk_kind);
        m->cols = calloc(nc ? nc : 1, sizeof *m->cols);
        free(corder);
        corder = malloc((nc ? nc : 1) * sizeof *corder);
        if (!m->table || !m->pk || !m->cols || !corder) {
            rc = VMDB_ENOMEM;
            goto done;
        }
        for (size_t j = 0; j < nc; j++)
            corder[j] = vmdb_json_at(cols, j);
        qsort(corder, nc, sizeof *corder, cmp_col);
        for (size_t j = 0; j < nc; j++, m->ncols++) {
            vmdb_column *c = &m->cols[j];
            vmdb_slice cn = vmdb_json_string(vmdb_json_get(corder[j], "name"));
            vmdb_slice ct = vmdb_json_string(vmdb_json_get(corder[j], "col_type"));
            c->name = lower_dup((const char *)cn.ptr, cn.len);
            c->type_name = lower_dup((const char *)ct.ptr, ct.len);
            if (!c->name || !c->type_name) {
                m->ncols++;
                rc = VMDB_ENOMEM;
                goto done;
            }
            c->type = vmdb_ctype_from_name(c->type_name);
            c->vclass = vmdb_vclass_from_type(c->type_name);
            opt_bool(vmdb_json_get(corder[j], "nullable"), &c->nullable);
            opt_bool(vmdb_json_get(corder[j], "unique"), &c->unique);
            for (size_t k = 0; k < j; k++)
                if (strcmp(m->cols[k].name, c->name) == 0) {
                    m->ncols++;
                    rc = fail(VMDB_EINVAL, msg, msglen, "Duplicate column name '%s' for table '%s'",
                              c->name, m->table);
                    goto done;
                }
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(r->models[k].table, m->table) == 0) {
                rc = fail(VMDB_EINVAL, msg, msglen, "Duplicate table_name '%s'", m->table);
                goto done;
            }
        if ((rc = model_finish(m)))
            goto done;
    }
    /* schema_hash = SHA-256("VERIFLEAF" || canonical spec), as the seed. */
    vmdb_buf spec = VMDB_BUF_INIT;
    vmdb_hasher *h = NULL;
    rc = vmdb_registry_spec_json(r, &spec);
    if (rc == 0)
        rc = vmdb_hasher_new(&h, 0);
    if (rc == 0) {
        uint8_t d[32];
        vmdb_slice parts[2] = {VMDB_SLICE_STR("VERIFLEAF"), VMDB_SLICE(spec.ptr, spec.len)};
        vmdb_hash_parts(h, d, parts, 2);
        vmdb_hex_encode(r->schema_hash, d, 32);
    }
    vmdb_hasher_free(h);
    vmdb_buf_free(&spec);
done:
    free(order);
    free(corder);
    if (rc) {
        vmdb_registry_unref(r);
        r = NULL;
    }
    *out = r;
    return rc;
}

int vmdb_model_columns_json(const vmdb_model *m, vmdb_buf *out)
{
    int rc = vmdb_buf_putc(out, '[');
    for (size_t j = 0; rc == 0 && j < m->ncols; j++) {
        const vmdb_column *c = &m->cols[j];
        rc = vmdb_sb_puts(out, j ? ",{\"col_type\":" : "{\"col_type\":");
        rc = rc ? rc : vmdb_sb_jstrz(out, c->type_name);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"name\":");
        rc = rc ? rc : vmdb_sb_jstrz(out, c->name);
        rc = rc ? rc
                : vmdb_sb_printf(out, ",\"nullable\":%s,\"unique\":%s}",
                                 c->nullable ? "true" : "false", c->unique ? "true" : "false");
    }
    return rc ? rc : vmdb_buf_putc(out, ']');
}

int vmdb_registry_spec_json(const vmdb_registry *r, vmdb_buf *out)
{
    int rc = vmdb_buf_putc(out, '[');
    for (size_t i = 0; rc == 0 && i < r->n; i++) {
        const vmdb_model *m = &r->models[i];
        rc = vmdb_sb_puts(out, i ? ",{\"columns\":" : "{\"columns\":");
        rc = rc ? rc : vmdb_model_columns_json(m, out);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"primary_key_field\":");
        rc = rc ? rc : vmdb_sb_jstrz(out, m->pk);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"primary_key_kind\":");
        rc = rc ? rc : vmdb_sb_jstrz(out, pk_req[m->pk_kind]);
        rc = rc ? rc : vmdb_sb_puts(out, ",\"table_name\":");
        rc = rc ? rc : vmdb_sb_jstrz(out, m->table);
        rc = rc ? rc : vmdb_buf_putc(out, '}');
    }
    return rc ? rc : vmdb_buf_putc(out, ']');
}

/* ---- registry rows ------------------------------------------------------ */

/* Sets col->vclass from the live type `live` (a JSON string, or NULL:
 * then from col_type). 0 or VMDB_ENOMEM. */
static int column_vclass(vmdb_column *col, const vmdb_json *live)
{
    vmdb_slice lt = vmdb_json_string(live);
    if (!lt.ptr || memchr(lt.ptr, 0, lt.len)) {
        col->vclass = vmdb_vclass_from_type(col->type_name);
        return 0;
    }
    char *real = lower_dup((const char *)lt.ptr, lt.len);
    if (!real)
        return VMDB_ENOMEM;
    col->vclass = vmdb_vclass_from_type(real);
    free(real);
    return 0;
}

static int model_from_row(vmdb_model *m, const vmdb_model_row *row)
{
    int rc = 0;
    vmdb_json_doc *doc = NULL, *types = NULL;
    size_t tl = strlen(row->table), pl = strlen(row->pk);
    if (!vmdb_ident_valid(row->table, tl) || !vmdb_ident_valid(row->pk, pl)) {
        rc = VMDB_EINVAL;
        goto done;
    }
    int kind = -1;
    for (int k = 0; k < 6; k++)
        if (strcmp(row->pk_kind, pk_stored[k]) == 0 || strcmp(row->pk_kind, pk_req[k]) == 0)
            kind = k;
    if (kind < 0) {
        rc = VMDB_EINVAL;
        goto done;
    }
    m->table = lower_dup(row->table, tl);
    m->pk = lower_dup(row->pk, pl);
    m->pk_kind = (vmdb_pkkind)kind;
    m->pk_type = pk_type_of(m->pk_kind);
    if (!m->table || !m->pk) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    rc = vmdb_json_parse(&doc, VMDB_SLICE(row->columns_json, strlen(row->columns_json)), NULL);
    if (rc)
        goto done;
    const vmdb_json *cols = vmdb_json_doc_root(doc);
    if (vmdb_json_typeof(cols) != VMDB_JSON_ARRAY) {
        rc = VMDB_EINVAL;
        goto done;
    }
    /* The live types: a table without them (not created yet) falls back to
     * col_type. Unusable text is treated as absent, not as an error. */
    if (row->types_json &&
        vmdb_json_parse(&types, VMDB_SLICE(row->types_json, strlen(row->types_json)), NULL) ==
            VMDB_ENOMEM) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    const vmdb_json *live = types ? vmdb_json_doc_root(types) : NULL;
    size_t nc = vmdb_json_size(cols);
    m->cols = calloc(nc ? nc : 1, sizeof *m->cols);
    if (!m->cols) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    for (size_t j = 0; j < nc; j++) {
        const vmdb_json *c = vmdb_json_at(cols, j);
        const vmdb_json *nm = vmdb_json_get(c, "name");
        const vmdb_json *ty = vmdb_json_get(c, "col_type");
        vmdb_slice ns = vmdb_json_string(nm);
        if (!is_str(nm) || !vmdb_ident_valid((const char *)ns.ptr, ns.len))
            continue; /* the seed's reload rule: entries without a usable name are skipped */
        vmdb_slice ts = is_str(ty) ? vmdb_json_string(ty) : VMDB_SLICE_STR("text");
        if (memchr(ts.ptr, 0, ts.len))
            ts = VMDB_SLICE_STR("text");
        vmdb_column *col = &m->cols[m->ncols++];
        col->name = lower_dup((const char *)ns.ptr, ns.len);
        col->type_name = lower_dup((const char *)ts.ptr, ts.len);
        if (!col->name || !col->type_name) {
            rc = VMDB_ENOMEM;
            goto done;
        }
        col->type = vmdb_ctype_from_name(col->type_name);
        if ((rc = column_vclass(col, vmdb_json_get(live, col->name))) != 0)
            goto done;
        opt_bool(vmdb_json_get(c, "nullable"), &col->nullable);
        opt_bool(vmdb_json_get(c, "unique"), &col->unique);
    }
    rc = model_finish(m);
done:
    vmdb_json_doc_free(types);
    vmdb_json_doc_free(doc);
    return rc;
}

int vmdb_registry_from_rows(vmdb_registry **out, const vmdb_model_row *rows, size_t n,
                            const char *schema_hash)
{
    vmdb_registry *r = calloc(1, sizeof *r);
    if (!r || !(r->models = calloc(n ? n : 1, sizeof *r->models))) {
        free(r);
        return VMDB_ENOMEM;
    }
    atomic_init(&r->refs, 1);
    for (size_t i = 0; i < n; i++) {
        vmdb_model *m = &r->models[r->n];
        int rc = model_from_row(m, &rows[i]);
        if (rc == VMDB_ENOMEM) {
            r->n++;
            vmdb_registry_unref(r);
            return rc;
        }
        if (rc) {
            LOG_WARN("registry: skipping model row '%.64s': not valid", rows[i].table);
            model_clear(m);
            memset(m, 0, sizeof *m);
            continue;
        }
        r->n++;
    }
    if (schema_hash && strlen(schema_hash) == 64)
        memcpy(r->schema_hash, schema_hash, 65);
    *out = r;
    return 0;
}

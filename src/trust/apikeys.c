/*
 * API keys: the key text, its hash and constant-time check, and the signed
 * keys file (apikeys.h). The signature covers the RFC 8785 form of the keys
 * array, so the file's formatting cannot matter; the file is written in
 * that form too, so `jq` shows what was signed.
 */
#include "trust/apikeys.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "util/file.h"
#include "util/sb.h"
#include "vmdb/header.h"
#include "vmdb/json.h"

#define APIKEYS_FILE_MAX ((size_t)4 << 20)

static const char *const role_names[] = {"none", "read", "write", "admin"};

const char *vmdb_role_name(vmdb_role r)
{
    return (unsigned)r <= VMDB_ROLE_ADMIN ? role_names[r] : "none";
}

vmdb_role vmdb_role_parse(const char *s)
{
    for (int r = VMDB_ROLE_READ; s && r <= VMDB_ROLE_ADMIN; r++)
        if (strcmp(s, role_names[r]) == 0)
            return (vmdb_role)r;
    return VMDB_ROLE_NONE;
}

static bool is_hex_lower(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

int vmdb_apikey_parse(char id[VMDB_APIKEY_ID_LEN + 1], uint8_t hash[32], const char *text,
                      size_t len)
{
    uint8_t secret[33];
    size_t got = 0;
    const char *end = NULL;
    char again[VMDB_APIKEY_SECRET_LEN + 1];
    id[0] = 0;
    if (!text || len != VMDB_APIKEY_LEN || memcmp(text, "vmdb_", 5) != 0 ||
        text[5 + VMDB_APIKEY_ID_LEN] != '_')
        return VMDB_EINVAL;
    for (size_t i = 0; i < VMDB_APIKEY_ID_LEN; i++)
        if (!is_hex_lower(text[5 + i]))
            return VMDB_EINVAL;
    const char *s = text + 6 + VMDB_APIKEY_ID_LEN;
    if (sodium_init() < 0 ||
        sodium_base642bin(secret, sizeof secret, s, VMDB_APIKEY_SECRET_LEN, NULL, &got, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        got != 32 || end != s + VMDB_APIKEY_SECRET_LEN)
        return VMDB_EINVAL;
    /* One text per key: the last character's unused bits must be zero. */
    sodium_bin2base64(again, sizeof again, secret, 32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if (memcmp(again, s, VMDB_APIKEY_SECRET_LEN) != 0) {
        sodium_memzero(secret, sizeof secret);
        return VMDB_EINVAL;
    }
    crypto_hash_sha256(hash, secret, 32);
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(again, sizeof again);
    memcpy(id, text + 5, VMDB_APIKEY_ID_LEN);
    id[VMDB_APIKEY_ID_LEN] = 0;
    return 0;
}

const vmdb_apikey *vmdb_apikeys_check(const vmdb_apikeys *set, const char *text, size_t len)
{
    char id[VMDB_APIKEY_ID_LEN + 1];
    uint8_t hash[32];
    static const uint8_t none[32];
    if (vmdb_apikey_parse(id, hash, text, len) != 0)
        return NULL;
    /* Ids are not secret: finding the entry by id may take any time. */
    const vmdb_apikey *k = NULL;
    for (size_t i = 0; set && i < set->n && !k; i++)
        if (strcmp(set->v[i].id, id) == 0)
            k = &set->v[i];
    bool same = sodium_memcmp(hash, k ? k->hash : none, 32) == 0;
    sodium_memzero(hash, sizeof hash);
    return k && same ? k : NULL;
}

bool vmdb_apikey_allows_table(const vmdb_apikey *k, const char *table)
{
    if (!k->tables)
        return true;
    for (size_t i = 0; table && i < k->ntables; i++)
        if (strcmp(k->tables[i], table) == 0)
            return true;
    return false;
}

bool vmdb_apikey_table_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > VMDB_APIKEY_MAX_TABLE_NAME || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static void key_free(vmdb_apikey *k)
{
    for (size_t i = 0; k->tables && i < k->ntables; i++)
        free(k->tables[i]);
    free(k->tables);
    free(k->note);
    memset(k, 0, sizeof *k);
}

void vmdb_apikeys_free(vmdb_apikeys *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        key_free(&set->v[i]);
    free(set->v);
    set->v = NULL;
    set->n = 0;
}

static char *lower_dup(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    for (size_t i = 0; d && i < n; i++)
        d[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
    if (d)
        d[n] = 0;
    return d;
}

/* Fills k's tables from `tables` (NULL: every table). */
static int set_tables(vmdb_apikey *k, const char *const *tables, size_t ntables)
{
    if (!tables)
        return 0;
    if (ntables == 0 || ntables > VMDB_APIKEY_MAX_TABLES)
        return vmdb_error_set(VMDB_EINVAL, "a key is limited to 1 to %d tables",
                              VMDB_APIKEY_MAX_TABLES);
    k->tables = calloc(ntables, sizeof *k->tables);
    if (!k->tables)
        return VMDB_ENOMEM;
    for (size_t i = 0; i < ntables; i++) {
        if (!vmdb_apikey_table_valid(tables[i]))
            return vmdb_error_set(VMDB_EINVAL, "'%.80s' is not a table name", tables[i]);
        if (!(k->tables[k->ntables] = lower_dup(tables[i], strlen(tables[i]))))
            return VMDB_ENOMEM;
        k->ntables++;
    }
    return 0;
}

int vmdb_apikeys_add(vmdb_apikeys *set, char text[VMDB_APIKEY_LEN + 1], vmdb_role role,
                     const char *const *tables, size_t ntables, const char *note,
                     uint64_t created_ms)
{
    int rc = 0;
    uint8_t secret[32], rid[VMDB_APIKEY_ID_LEN / 2];
    vmdb_apikey k;
    memset(&k, 0, sizeof k);
    text[0] = 0;
    if (role == VMDB_ROLE_NONE)
        return vmdb_error_set(VMDB_EINVAL, "the role must be read, write or admin");
    if (role == VMDB_ROLE_ADMIN && tables)
        return vmdb_error_set(VMDB_EINVAL, "an admin key cannot be limited to tables");
    if (note && strlen(note) > VMDB_APIKEY_MAX_NOTE)
        return vmdb_error_set(VMDB_EINVAL, "the note is longer than %d bytes",
                              VMDB_APIKEY_MAX_NOTE);
    if (set->n >= VMDB_APIKEYS_MAX)
        return vmdb_error_set(VMDB_EINVAL, "at most %d keys", VMDB_APIKEYS_MAX);
    if (sodium_init() < 0)
        return VMDB_ECRYPTO;
    k.role = role;
    k.created_ms = created_ms;
    if ((rc = set_tables(&k, tables, ntables)) != 0)
        goto done;
    if (note && !(k.note = strdup(note))) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    /* A fresh id: 32 random bits, drawn again on the rare collision. */
    for (bool taken = true; taken;) {
        randombytes_buf(rid, sizeof rid);
        vmdb_hex_encode(k.id, rid, sizeof rid);
        taken = false;
        for (size_t i = 0; i < set->n && !taken; i++)
            taken = strcmp(set->v[i].id, k.id) == 0;
    }
    randombytes_buf(secret, sizeof secret);
    crypto_hash_sha256(k.hash, secret, sizeof secret);
    vmdb_apikey *grown = realloc(set->v, (set->n + 1) * sizeof *grown);
    if (!grown) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    set->v = grown;
    memcpy(text, "vmdb_", 5);
    memcpy(text + 5, k.id, VMDB_APIKEY_ID_LEN);
    text[5 + VMDB_APIKEY_ID_LEN] = '_';
    sodium_bin2base64(text + 6 + VMDB_APIKEY_ID_LEN, VMDB_APIKEY_SECRET_LEN + 1, secret,
                      sizeof secret, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    set->v[set->n++] = k;
    memset(&k, 0, sizeof k);
done:
    sodium_memzero(secret, sizeof secret);
    key_free(&k);
    return rc;
}

int vmdb_apikeys_revoke(vmdb_apikeys *set, const char *id)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->v[i].id, id) == 0) {
            key_free(&set->v[i]);
            memmove(&set->v[i], &set->v[i + 1], (set->n - i - 1) * sizeof set->v[0]);
            set->n--;
            return 0;
        }
    return vmdb_error_set(VMDB_ENOTFOUND, "no key with id '%.20s'", id);
}

/* The keys array in RFC 8785 form (members sorted, as written here). */
static int keys_jcs(vmdb_buf *out, const vmdb_apikeys *set)
{
    int rc = vmdb_buf_putc(out, '[');
    for (size_t i = 0; rc == 0 && i < set->n; i++) {
        const vmdb_apikey *k = &set->v[i];
        rc = vmdb_sb_printf(out, "%s{\"created_ms\":%llu,\"hash\":", i ? "," : "",
                            (unsigned long long)k->created_ms);
        rc = rc ? rc : vmdb_sb_jhex32(out, k->hash);
        rc = rc ? rc : vmdb_sb_printf(out, ",\"id\":\"%s\",\"note\":", k->id);
        rc = rc ? rc
                : (k->note ? vmdb_jcs_string(out, VMDB_SLICE(k->note, strlen(k->note)))
                           : vmdb_sb_puts(out, "null"));
        rc = rc ? rc : vmdb_sb_printf(out, ",\"role\":\"%s\",\"tables\":", vmdb_role_name(k->role));
        if (rc == 0 && !k->tables)
            rc = vmdb_sb_puts(out, "null");
        for (size_t t = 0; rc == 0 && k->tables && t < k->ntables; t++) {
            rc = vmdb_buf_putc(out, t ? ',' : '[');
            rc = rc ? rc : vmdb_sb_jstrz(out, k->tables[t]);
        }
        rc = rc ? rc : (k->tables ? vmdb_buf_putc(out, ']') : 0);
        rc = rc ? rc : vmdb_buf_putc(out, '}');
    }
    return rc ? rc : vmdb_buf_putc(out, ']');
}

/* SHA-256 of the keys array's canonical text. */
static void digest(uint8_t out[32], vmdb_slice jcs)
{
    crypto_hash_sha256(out, jcs.ptr, jcs.len);
}

int vmdb_apikeys_format(vmdb_buf *out, const vmdb_apikeys *set, const vmdb_identity *id)
{
    vmdb_buf raw = VMDB_BUF_INIT, keys = VMDB_BUF_INIT;
    uint8_t d[32], sig[64];
    char shex[129];
    /* Written in canonical form already; canonicalised anyway, so that what
     * is signed is exactly what a reader recomputes. */
    int rc = keys_jcs(&raw, set);
    rc = rc ? rc : vmdb_jcs_canonicalize(&keys, VMDB_SLICE(raw.ptr, raw.len), NULL);
    if (rc == 0) {
        digest(d, VMDB_SLICE(keys.ptr, keys.len));
        rc = vmdb_header_sign(sig, 2, VMDB_SIG_API_KEYS, d, id->sk);
    }
    if (rc == 0) {
        vmdb_hex_encode(shex, sig, 64);
        rc = vmdb_sb_puts(out, "{\"version\":1,\"keys\":");
        rc = rc ? rc : vmdb_buf_put(out, keys.ptr, keys.len);
        rc = rc ? rc : vmdb_sb_printf(out, ",\"file_sig\":\"%s\"}\n", shex);
    }
    vmdb_buf_free(&raw);
    vmdb_buf_free(&keys);
    return rc;
}

/* A value's type test that accepts an absent member (NULL). */
static bool is(const vmdb_json *v, vmdb_json_type t)
{
    return v && vmdb_json_typeof(v) == t;
}

static char *str_dup(vmdb_slice s)
{
    if (memchr(s.ptr, 0, s.len))
        return NULL;
    char *d = malloc(s.len + 1);
    if (d) {
        memcpy(d, s.ptr, s.len);
        d[s.len] = 0;
    }
    return d;
}

/* One entry of the keys array. */
static int parse_key(vmdb_apikey *k, const vmdb_json *o)
{
    const vmdb_json *id = vmdb_json_get(o, "id"), *role = vmdb_json_get(o, "role");
    const vmdb_json *tables = vmdb_json_get(o, "tables"), *hash = vmdb_json_get(o, "hash");
    const vmdb_json *created = vmdb_json_get(o, "created_ms"), *note = vmdb_json_get(o, "note");
    vmdb_slice s = vmdb_json_string(id), hs = vmdb_json_string(hash), rs = vmdb_json_string(role);
    char rname[8] = "";
    if (!is(o, VMDB_JSON_OBJECT) || s.len != VMDB_APIKEY_ID_LEN || !hs.ptr || hs.len != 64 ||
        vmdb_hex_decode(k->hash, 32, (const char *)hs.ptr, hs.len) != 0 || !rs.ptr ||
        rs.len >= sizeof rname || !is(created, VMDB_JSON_NUMBER) ||
        !vmdb_json_is_integer_literal(created) || vmdb_json_number(created) < 0)
        return vmdb_error_set(VMDB_EINVAL, "a key entry lacks id, role, hash or created_ms");
    for (size_t i = 0; i < VMDB_APIKEY_ID_LEN; i++)
        if (!is_hex_lower((char)s.ptr[i]))
            return vmdb_error_set(VMDB_EINVAL, "a key id is not 8 hex digits");
    memcpy(k->id, s.ptr, VMDB_APIKEY_ID_LEN);
    k->id[VMDB_APIKEY_ID_LEN] = 0;
    memcpy(rname, rs.ptr, rs.len);
    rname[rs.len] = 0;
    if ((k->role = vmdb_role_parse(rname)) == VMDB_ROLE_NONE)
        return vmdb_error_set(VMDB_EINVAL, "key %s: unknown role", k->id);
    k->created_ms = (uint64_t)vmdb_json_number(created);
    if (note && !is(note, VMDB_JSON_NULL)) {
        if (!is(note, VMDB_JSON_STRING))
            return vmdb_error_set(VMDB_EINVAL, "key %s: note is not a string", k->id);
        if (!(k->note = str_dup(vmdb_json_string(note))))
            return VMDB_ENOMEM;
    }
    if (!tables || is(tables, VMDB_JSON_NULL))
        return 0;
    size_t n = vmdb_json_size(tables);
    if (!is(tables, VMDB_JSON_ARRAY) || n == 0 || n > VMDB_APIKEY_MAX_TABLES)
        return vmdb_error_set(VMDB_EINVAL, "key %s: tables is not a list of names", k->id);
    if (!(k->tables = calloc(n, sizeof *k->tables)))
        return VMDB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        vmdb_slice t = vmdb_json_string(vmdb_json_at(tables, i));
        if (!t.ptr || !(k->tables[i] = str_dup(t)))
            return t.ptr ? VMDB_ENOMEM : vmdb_error_set(VMDB_EINVAL, "key %s: bad table", k->id);
        k->ntables++;
        if (!vmdb_apikey_table_valid(k->tables[i]))
            return vmdb_error_set(VMDB_EINVAL, "key %s: bad table name", k->id);
    }
    return 0;
}

int vmdb_apikeys_parse(vmdb_apikeys *out, vmdb_slice text, const uint8_t pk[32])
{
    vmdb_json_doc *doc = NULL;
    vmdb_buf jcs = VMDB_BUF_INIT;
    uint8_t d[32], sig[64];
    vmdb_apikeys set = {NULL, 0};
    int rc = vmdb_json_parse(&doc, text, NULL);
    if (rc != 0) {
        rc = rc == VMDB_ENOMEM ? rc : vmdb_error_set(VMDB_EINVAL, "not JSON");
        goto done;
    }
    const vmdb_json *root = vmdb_json_doc_root(doc);
    const vmdb_json *ver = vmdb_json_get(root, "version"), *keys = vmdb_json_get(root, "keys");
    vmdb_slice fs = vmdb_json_string(vmdb_json_get(root, "file_sig"));
    if (!is(ver, VMDB_JSON_NUMBER) || vmdb_json_number(ver) != 1 || !is(keys, VMDB_JSON_ARRAY) ||
        !fs.ptr || fs.len != 128 || vmdb_hex_decode(sig, 64, (const char *)fs.ptr, fs.len) != 0) {
        rc = vmdb_error_set(VMDB_EINVAL, "not a version 1 keys file with keys and file_sig");
        goto done;
    }
    /* The signature first: nothing of an unsigned file is looked at. */
    if ((rc = vmdb_jcs_write(&jcs, keys)) != 0)
        goto done;
    digest(d, VMDB_SLICE(jcs.ptr, jcs.len));
    if (vmdb_header_verify_sig(sig, 2, VMDB_SIG_API_KEYS, d, pk) != 0) {
        rc = vmdb_error_set(VMDB_EVERIFY, "file_sig is not the identity key's signature of the "
                                          "keys (edited, or signed by another identity)");
        goto done;
    }
    size_t n = vmdb_json_size(keys);
    if (n > VMDB_APIKEYS_MAX) {
        rc = vmdb_error_set(VMDB_EINVAL, "more than %d keys", VMDB_APIKEYS_MAX);
        goto done;
    }
    if (n && !(set.v = calloc(n, sizeof *set.v))) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        set.n++;
        rc = parse_key(&set.v[i], vmdb_json_at(keys, i));
        for (size_t j = 0; rc == 0 && j < i; j++)
            if (strcmp(set.v[j].id, set.v[i].id) == 0)
                rc = vmdb_error_set(VMDB_EINVAL, "key id %s appears twice", set.v[i].id);
    }
    if (rc == 0) {
        *out = set;
        set.v = NULL;
        set.n = 0;
    }
done:
    vmdb_apikeys_free(&set);
    vmdb_buf_free(&jcs);
    vmdb_json_doc_free(doc);
    return rc;
}

int vmdb_apikeys_load(vmdb_apikeys *out, const char *path, const uint8_t pk[32])
{
    vmdb_buf b = VMDB_BUF_INIT;
    int rc = vmdb_file_read(path, &b, APIKEYS_FILE_MAX);
    rc = rc ? rc : vmdb_apikeys_parse(out, VMDB_SLICE(b.ptr, b.len), pk);
    vmdb_buf_free(&b);
    return rc;
}

int vmdb_apikeys_save(const char *path, const vmdb_apikeys *set, const vmdb_identity *id)
{
    vmdb_buf b = VMDB_BUF_INIT;
    int rc = vmdb_apikeys_format(&b, set, id);
    rc = rc ? rc : vmdb_file_write_atomic(path, b.ptr, b.len, 0600);
    vmdb_buf_free(&b);
    return rc;
}

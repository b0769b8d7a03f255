/*
 * The checks of `vmdb verify` (see verify_bundle.h): each reads the JSON
 * vmdb answers (PROTOCOL.md §6.3, §9, §10, §11) strictly — a member of
 * the wrong type, a hex string of the wrong length, a number that is not a
 * small non-negative integer is an error, never a guess — and checks it
 * with the verifier library. The first failing check decides, and its
 * reason says what did not hold.
 */
#include "cli/verify_bundle.h"

#include "vmdb/base58.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 100000 /* keys of one bundle: far above any answer (1000 ids, limit 1000) */

static int fail(char why[VMDB_VFY_WHY], int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char why[VMDB_VFY_WHY], int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, VMDB_VFY_WHY, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- strict members ------------------------------------------------------------- */

static int hex_member(const vmdb_json *o, const char *name, uint8_t *out, size_t n,
                      char why[VMDB_VFY_WHY])
{
    const vmdb_json *v = vmdb_json_get(o, name);
    vmdb_slice s = vmdb_json_string(v);
    if (!v || vmdb_json_typeof(v) != VMDB_JSON_STRING)
        return fail(why, VMDB_EPARSE, "%s: missing or not a string", name);
    if (s.len != 2 * n || vmdb_hex_decode(out, n, (const char *)s.ptr, s.len) != 0)
        return fail(why, VMDB_EPARSE, "%s: not %zu hex digits", name, 2 * n);
    return 0;
}

static int hex_value(const vmdb_json *v, uint8_t out[32], const char *what, char why[VMDB_VFY_WHY])
{
    vmdb_slice s = vmdb_json_string(v);
    if (!v || vmdb_json_typeof(v) != VMDB_JSON_STRING || s.len != 64 ||
        vmdb_hex_decode(out, 32, (const char *)s.ptr, s.len) != 0)
        return fail(why, VMDB_EPARSE, "%s: not 64 hex digits", what);
    return 0;
}

/* A non-negative integer below 2^53 written without fraction or exponent. */
static int u64_member(const vmdb_json *o, const char *name, uint64_t *out, char why[VMDB_VFY_WHY])
{
    const vmdb_json *v = vmdb_json_get(o, name);
    double d = vmdb_json_number(v);
    if (!v || vmdb_json_typeof(v) != VMDB_JSON_NUMBER || !vmdb_json_is_integer_literal(v) ||
        d < 0 || d >= 9007199254740992.0)
        return fail(why, VMDB_EPARSE, "%s: not a non-negative integer", name);
    *out = (uint64_t)d;
    return 0;
}

static const vmdb_json *typed(const vmdb_json *o, const char *name, vmdb_json_type t)
{
    const vmdb_json *v = vmdb_json_get(o, name);
    return v && vmdb_json_typeof(v) == t ? v : NULL;
}

static int hash_list(const vmdb_json *o, const char *name, uint8_t (*out)[32], size_t *n,
                     char why[VMDB_VFY_WHY])
{
    const vmdb_json *a = typed(o, name, VMDB_JSON_ARRAY);
    char what[48];
    if (!a)
        return fail(why, VMDB_EPARSE, "%s: missing or not an array", name);
    if (vmdb_json_size(a) > VMDB_HIST_MAX_PROOF)
        return fail(why, VMDB_EPARSE, "%s: more than %d hashes", name, VMDB_HIST_MAX_PROOF);
    *n = vmdb_json_size(a);
    for (size_t i = 0; i < *n; i++) {
        snprintf(what, sizeof what, "%s[%zu]", name, i);
        int rc = hex_value(vmdb_json_at(a, i), out[i], what, why);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- headers -------------------------------------------------------------------- */

int vmdb_vfy_check_header(vmdb_hasher *h, const vmdb_json *j, const vmdb_vfy_pins *pins,
                          vmdb_vfy_header *out, char why[VMDB_VFY_WHY])
{
    uint8_t given[32];
    uint64_t version = 0;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (!j || vmdb_json_typeof(j) != VMDB_JSON_OBJECT)
        return fail(why, VMDB_EPARSE, "header: not an object");
    if ((rc = u64_member(j, "version", &version, why)))
        return rc;
    if (version != 1 && version != 2)
        return fail(why, VMDB_EPARSE, "header: version %llu is not 1 or 2",
                    (unsigned long long)version);
    out->h.version = (uint8_t)version;
    /* v1 has no kind or chain_id (§12). Other members are not signed and
     * are ignored (§6.1); header_hash may be left out. */
    if (version == 2) {
        const vmdb_json *k = typed(j, "kind", VMDB_JSON_STRING);
        if (!k || vmdb_header_kind_parse(&out->h.kind, vmdb_json_string(k)) != 0)
            return fail(why, VMDB_EPARSE, "header: kind missing or unknown");
        if ((rc = hex_member(j, "chain_id", out->h.chain_id, 32, why)))
            return rc;
    }
    if ((rc = u64_member(j, "seq", &out->h.seq, why)) ||
        (rc = hex_member(j, "smt_root", out->h.smt_root, 32, why)) ||
        (rc = hex_member(j, "prev", out->h.prev, 32, why)) ||
        (rc = hex_member(j, "history_root", out->h.history_root, 32, why)) ||
        (rc = u64_member(j, "time_ms", &out->h.time_ms, why)) ||
        (rc = hex_member(j, "schema_hash", out->h.schema_hash, 32, why)) ||
        (rc = hex_member(j, "sig", out->sig, 64, why)))
        return rc;
    bool has_given = vmdb_json_get(j, "header_hash") != NULL;
    if (has_given && (rc = hex_member(j, "header_hash", given, 32, why)))
        return rc;
    unsigned long long seq = (unsigned long long)out->h.seq;
    vmdb_header_hash(h, out->hash, &out->h);
    if (has_given && memcmp(given, out->hash, 32) != 0)
        return fail(why, VMDB_EVERIFY, "header %llu: header_hash does not match its fields", seq);
    if (vmdb_header_verify_sig(out->sig, out->h.version, VMDB_SIG_COMMITTED, out->hash, pins->pk)) {
        /* Say so when it is an intent signature: a header that was about to
         * be committed, which proves nothing about what was. */
        if (version == 2 &&
            vmdb_header_verify_sig(out->sig, 2, VMDB_SIG_INTENT, out->hash, pins->pk) == 0)
            return fail(why, VMDB_EVERIFY,
                        "header %llu: sig is the intent signature, not the header signature", seq);
        return fail(why, VMDB_EVERIFY,
                    "header %llu: header signature invalid (not by the identity key)", seq);
    }
    if (version == 2 && pins->has_chain_id && memcmp(pins->chain_id, out->h.chain_id, 32) != 0)
        return fail(why, VMDB_EVERIFY, "header %llu: chain_id differs from the pinned one", seq);
    /* §6.1: signed, but not a header vmdb makes. Header 0 is a genesis
     * with prev = Z and the empty history H(""); a genesis is header 0. */
    static const uint8_t zero[32] = {0};
    static const uint8_t empty_history[32] = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a,
                                              0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae,
                                              0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99,
                                              0x1b, 0x78, 0x52, 0xb8, 0x55}; /* SHA-256("") */
    if (version == 2 && seq == 0 &&
        (out->h.kind != VMDB_KIND_GENESIS || memcmp(out->h.prev, zero, 32) != 0 ||
         memcmp(out->h.history_root, empty_history, 32) != 0))
        return fail(why, VMDB_EVERIFY, "header 0: not a genesis with prev Z and an empty history");
    if (version == 2 && seq > 0 && out->h.kind == VMDB_KIND_GENESIS)
        return fail(why, VMDB_EVERIFY, "header %llu: a genesis with seq > 0", seq);
    return 0;
}

/* ---- bundles (§9, §10) ------------------------------------------------------------ */

static int cmp_key(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* A canonical decimal integer (optional '-', no leading zeros) in int64. */
static bool parse_i64(vmdb_slice s, int64_t *out)
{
    size_t i = 0;
    bool neg = s.len > 0 && s.ptr[0] == '-';
    uint64_t v = 0;
    if (neg)
        i = 1;
    if (s.len == i || s.len - i > 19 || (s.ptr[i] == '0' && s.len - i > 1) ||
        (neg && s.len == 2 && s.ptr[1] == '0'))
        return false;
    for (; i < s.len; i++) {
        if (s.ptr[i] < '0' || s.ptr[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s.ptr[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX + (neg ? 1u : 0u))
        return false;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static bool has_i64(const int64_t *v, size_t n, int64_t x)
{
    return bsearch(&x, v, n, sizeof *v, cmp_i64) != NULL;
}

/* The text of a record's primary key: a JSON number's decimal form or a
 * string as is. */
static int pk_text(const vmdb_json *v, vmdb_buf *out)
{
    out->len = 0;
    if (v && vmdb_json_typeof(v) == VMDB_JSON_STRING) {
        vmdb_slice s = vmdb_json_string(v);
        return vmdb_buf_put(out, s.ptr, s.len);
    }
    if (v && vmdb_json_typeof(v) == VMDB_JSON_NUMBER)
        return vmdb_jcs_number(out, vmdb_json_number(v));
    return VMDB_EINVAL;
}

static bool slice_eq(vmdb_slice a, vmdb_slice b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* The id-range leaf of §10. */
static void range_key(vmdb_hasher *h, uint8_t out[32], vmdb_slice table)
{
    static const char tag[] = "vmdb/v2/id-range-key";
    uint8_t len[2] = {(uint8_t)(table.len >> 8), (uint8_t)table.len};
    vmdb_slice parts[3] = {{(const uint8_t *)tag, sizeof tag}, {len, 2}, table};
    vmdb_hash_parts(h, out, parts, 3);
}

static void range_value(vmdb_hasher *h, uint8_t out[32], vmdb_slice lo, vmdb_slice hi)
{
    static const char tag[] = "vmdb/v2/id-range";
    uint8_t l1[4] = {(uint8_t)(lo.len >> 24), (uint8_t)(lo.len >> 16), (uint8_t)(lo.len >> 8),
                     (uint8_t)lo.len};
    uint8_t l2[4] = {(uint8_t)(hi.len >> 24), (uint8_t)(hi.len >> 16), (uint8_t)(hi.len >> 8),
                     (uint8_t)hi.len};
    vmdb_slice parts[5] = {{(const uint8_t *)tag, sizeof tag}, {l1, 4}, lo, {l2, 4}, hi};
    vmdb_hash_parts(h, out, parts, 5);
}

/* Index of `key` in the sorted key list, or -1. */
static long key_index(uint8_t (*keys)[32], size_t n, const uint8_t key[32])
{
    const uint8_t(*p)[32] = bsearch(key, keys, n, 32, cmp_key);
    return p ? (long)(p - (const uint8_t(*)[32])keys) : -1;
}

typedef struct bundle_ctx {
    vmdb_hasher *h;
    vmdb_slice table;
    uint8_t (*keys)[32]; /* the multiproof's keys, as given (strictly ascending) */
    size_t nkeys;
    uint8_t (*values)[32];
    bool *present;
    bool *used; /* keys accounted for by present, absent or the range */
    vmdb_buf scratch;
} bundle_ctx;

/* `key` of entry `what` must be k(table, id), and a key of the multiproof;
 * *idx gets its index. */
static int entry_key(bundle_ctx *b, const vmdb_json *e, const char *what, vmdb_slice *id, long *idx,
                     char why[VMDB_VFY_WHY])
{
    uint8_t key[32], want[32];
    const vmdb_json *idv = typed(e, "id", VMDB_JSON_STRING);
    if (!idv)
        return fail(why, VMDB_EPARSE, "%s: id missing or not a string", what);
    *id = vmdb_json_string(idv);
    int rc = hex_member(e, "key", key, 32, why);
    if (rc)
        return rc;
    if (vmdb_row_key(b->h, want, b->table, *id) != 0 || memcmp(key, want, 32) != 0)
        return fail(why, VMDB_EVERIFY, "%s: key is not the row key of id '%.*s'", what,
                    (int)(id->len > 64 ? 64 : id->len), (const char *)id->ptr);
    *idx = key_index(b->keys, b->nkeys, key);
    if (*idx < 0)
        return fail(why, VMDB_EVERIFY, "%s: key of id '%.*s' is not in the multiproof", what,
                    (int)(id->len > 64 ? 64 : id->len), (const char *)id->ptr);
    b->used[*idx] = true;
    return 0;
}

/* Whether the id text is in the absent list. */
static bool in_absent(const vmdb_json *absent, vmdb_slice id)
{
    for (size_t i = 0; i < vmdb_json_size(absent); i++)
        if (slice_eq(vmdb_json_string(vmdb_json_get(vmdb_json_at(absent, i), "id")), id))
            return true;
    return false;
}

/* Every id of `arr` (an array of strings) must be proven absent. */
static int all_absent(const vmdb_json *arr, const vmdb_json *absent, const char *what,
                      char why[VMDB_VFY_WHY])
{
    for (size_t i = 0; arr && i < vmdb_json_size(arr); i++) {
        const vmdb_json *v = vmdb_json_at(arr, i);
        vmdb_slice id = vmdb_json_string(v);
        if (vmdb_json_typeof(v) != VMDB_JSON_STRING)
            return fail(why, VMDB_EPARSE, "data.%s[%zu]: not a string", what, i);
        if (!in_absent(absent, id))
            return fail(why, VMDB_EVERIFY, "data.%s id '%.*s' is not proven absent", what,
                        (int)(id.len > 64 ? 64 : id.len), (const char *)id.ptr);
    }
    return 0;
}

/* The limit a read-latest is answered with: the server caps it (§10's
 * complete.limit is the capped one). */
static uint64_t latest_limit(uint64_t asked)
{
    return asked > VMDB_VFY_LATEST_MAX ? VMDB_VFY_LATEST_MAX : asked;
}

static const char *kind_name(vmdb_vfy_kind k)
{
    switch (k) {
    case VMDB_VFY_READ_BATCH:
        return "read-batch";
    case VMDB_VFY_READ_LATEST:
        return "read-latest";
    case VMDB_VFY_DELETE:
        return "delete-batch";
    default:
        return "create-batch or upsert";
    }
}

/* A request member that another route's answer cannot satisfy: an answer
 * of another kind is no answer to it. */
static int request_fits(const vmdb_vfy_request *req, vmdb_vfy_kind kind, char why[VMDB_VFY_WHY])
{
    if (req->has_ids && kind != VMDB_VFY_READ_BATCH && kind != VMDB_VFY_DELETE)
        return fail(why, VMDB_EVERIFY,
                    "the request named ids (read-batch or delete-batch), the answer is a %s",
                    kind_name(kind));
    if ((req->limit || req->order != VMDB_VFY_ORDER_ANY || req->require_complete) &&
        kind != VMDB_VFY_READ_LATEST)
        return fail(why, VMDB_EVERIFY, "the request is a read-latest, the answer is a %s",
                    kind_name(kind));
    return 0;
}

/* Whether `id` is the id of an entry of `list` (present or absent). */
static bool in_entries(const vmdb_json *list, vmdb_slice id)
{
    for (size_t i = 0; i < vmdb_json_size(list); i++)
        if (slice_eq(vmdb_json_string(vmdb_json_get(vmdb_json_at(list, i), "id")), id))
            return true;
    return false;
}

/* §1: a registered table name, folded to lower case. */
static bool table_name_ok(vmdb_slice t)
{
    if (t.len == 0 || t.len > 63)
        return false;
    for (size_t i = 0; i < t.len; i++)
        if (!((t.ptr[i] >= 'a' && t.ptr[i] <= 'z') || (t.ptr[i] >= '0' && t.ptr[i] <= '9') ||
              t.ptr[i] == '_'))
            return false;
    return true;
}

/* The requested table, folded to lower case, is `t`. */
static bool same_table(const char *asked, vmdb_slice t)
{
    size_t n = strlen(asked);
    if (n != t.len)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = asked[i] >= 'A' && asked[i] <= 'Z' ? (char)(asked[i] - 'A' + 'a') : asked[i];
        if (c != (char)t.ptr[i])
            return false;
    }
    return true;
}

/* §10: the range leaf, then every id of the gap returned or proven absent. */
static int check_complete(bundle_ctx *b, const vmdb_json *cp, const vmdb_json *present,
                          const vmdb_json *absent, const vmdb_vfy_request *req,
                          vmdb_vfy_bundle_result *out, char why[VMDB_VFY_WHY])
{
    uint8_t rk[32], rv[32];
    uint64_t limit = 0;
    int64_t lo = 0, hi = 0, *rec = NULL, *abs = NULL;
    size_t m = vmdb_json_size(present), nabs = 0;
    int rc = 0;
    const vmdb_json *order = typed(cp, "order", VMDB_JSON_STRING);
    const vmdb_json *lov = typed(cp, "lo", VMDB_JSON_STRING),
                    *hiv = typed(cp, "hi", VMDB_JSON_STRING);
    vmdb_slice os = vmdb_json_string(order);
    bool desc = slice_eq(os, VMDB_SLICE_STR("desc"));
    if (!order || (!desc && !slice_eq(os, VMDB_SLICE_STR("asc"))))
        return fail(why, VMDB_EPARSE, "complete.order: not \"asc\" or \"desc\"");
    if ((rc = u64_member(cp, "limit", &limit, why)) ||
        (rc = hex_member(cp, "range_key", rk, 32, why)))
        return rc;
    out->desc = desc;
    out->limit = limit;
    /* What was asked: a smaller limit or the other order proves a
     * complete answer to another question. */
    if (req && req->order != VMDB_VFY_ORDER_ANY && desc != (req->order == VMDB_VFY_ORDER_DESC))
        return fail(why, VMDB_EVERIFY, "complete.order is \"%s\", not the requested \"%s\"",
                    desc ? "desc" : "asc", desc ? "asc" : "desc");
    if (req && req->limit && limit != latest_limit(req->limit))
        return fail(why, VMDB_EVERIFY, "complete.limit is %llu, not the requested %llu%s",
                    (unsigned long long)limit, (unsigned long long)latest_limit(req->limit),
                    req->limit > VMDB_VFY_LATEST_MAX ? " (the request's limit capped at 100)" : "");
    if (!lov || !hiv || !parse_i64(vmdb_json_string(lov), &lo) ||
        !parse_i64(vmdb_json_string(hiv), &hi) || lo > hi)
        return fail(why, VMDB_EPARSE, "complete.lo/hi: not decimal ids with lo <= hi");
    uint8_t want[32];
    range_key(b->h, want, b->table);
    if (memcmp(want, rk, 32) != 0)
        return fail(why, VMDB_EVERIFY, "complete.range_key is not the range key of table '%.*s'",
                    (int)b->table.len, (const char *)b->table.ptr);
    long ri = key_index(b->keys, b->nkeys, rk);
    if (ri < 0)
        return fail(why, VMDB_EVERIFY, "the range key is not in the multiproof");
    b->used[ri] = true;
    range_value(b->h, rv, vmdb_json_string(lov), vmdb_json_string(hiv));
    if (!b->present[ri] || memcmp(b->values[ri], rv, 32) != 0)
        return fail(why, VMDB_EVERIFY, "the multiproof does not prove the id range [%lld, %lld]",
                    (long long)lo, (long long)hi);
    if (limit == 0 || m > limit)
        return fail(why, VMDB_EVERIFY, "complete.limit %llu and %zu records disagree",
                    (unsigned long long)limit, m);
    rec = calloc(m + 1, sizeof *rec);
    abs = calloc(vmdb_json_size(absent) + 1, sizeof *abs);
    if (!rec || !abs) {
        rc = fail(why, VMDB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < m; i++) {
        vmdb_slice id = vmdb_json_string(vmdb_json_get(vmdb_json_at(present, i), "id"));
        if (!parse_i64(id, &rec[i]) || rec[i] < lo || rec[i] > hi ||
            (i > 0 && (desc ? rec[i] >= rec[i - 1] : rec[i] <= rec[i - 1]))) {
            rc = fail(why, VMDB_EVERIFY,
                      "read-latest record %zu (id '%.*s') is not in [lo, hi] in %s order", i,
                      (int)(id.len > 32 ? 32 : id.len), (const char *)id.ptr,
                      desc ? "descending" : "ascending");
            goto done;
        }
    }
    for (size_t i = 0; i < vmdb_json_size(absent); i++)
        if (parse_i64(vmdb_json_string(vmdb_json_get(vmdb_json_at(absent, i), "id")), &abs[nabs]))
            nabs++;
    qsort(abs, nabs, sizeof *abs, cmp_i64);
    int64_t *recs = rec; /* sorted copy for look-ups */
    int64_t glo = lo, ghi = hi;
    if (m == limit && desc) {
        glo = rec[m - 1]; /* (r_m, hi]: r_m itself is returned, so it is covered */
    } else if (m == limit) {
        ghi = rec[m - 1]; /* [lo, r_m) likewise; no overflow at the int64 ends */
    }
    qsort(recs, m, sizeof *recs, cmp_i64);
    /* Each step past a covered id consumes a distinct record or absent id,
     * so this ends after at most m + nabs + 1 steps. */
    for (int64_t g = glo; g <= ghi; g++) {
        if (!has_i64(recs, m, g) && !has_i64(abs, nabs, g)) {
            rc = fail(why, VMDB_EVERIFY,
                      "read-latest gap id %lld neither returned nor proven absent", (long long)g);
            goto done;
        }
        if (g == INT64_MAX)
            break;
    }
done:
    free(rec);
    free(abs);
    return rc;
}

int vmdb_vfy_bundle(vmdb_hasher *h, const vmdb_json *data, const vmdb_vfy_pins *pins,
                    const vmdb_vfy_request *req, vmdb_vfy_bundle_result *out,
                    char why[VMDB_VFY_WHY])
{
    bundle_ctx b;
    int rc = 0;
    memset(&b, 0, sizeof b);
    memset(out, 0, sizeof *out);
    b.h = h;
    const vmdb_json *proof = typed(data, "proof", VMDB_JSON_OBJECT);
    if (!proof)
        return fail(why, VMDB_EPARSE, "data.proof: missing or not an object");
    const vmdb_json *tv = typed(proof, "table", VMDB_JSON_STRING);
    const vmdb_json *pkv = typed(proof, "primary_key", VMDB_JSON_STRING);
    const vmdb_json *present = typed(proof, "present", VMDB_JSON_ARRAY);
    const vmdb_json *absent = typed(proof, "absent", VMDB_JSON_ARRAY);
    const vmdb_json *mp = typed(proof, "multiproof", VMDB_JSON_OBJECT);
    const vmdb_json *cp = vmdb_json_get(proof, "complete");
    const vmdb_json *records = vmdb_json_get(data, "records");
    const vmdb_json *dcomplete = vmdb_json_get(data, "complete");
    if (!tv || !pkv || !present || !absent || !mp)
        return fail(why, VMDB_EPARSE,
                    "data.proof: table, primary_key, present, absent and multiproof are required");
    b.table = vmdb_json_string(tv);
    if (b.table.len == 0 || b.table.len >= sizeof out->table)
        return fail(why, VMDB_EPARSE, "data.proof.table: empty or too long");
    memcpy(out->table, b.table.ptr, b.table.len);
    if (records && vmdb_json_typeof(records) != VMDB_JSON_ARRAY)
        return fail(why, VMDB_EPARSE, "data.records: not an array");
    if (cp && vmdb_json_typeof(cp) != VMDB_JSON_OBJECT)
        return fail(why, VMDB_EPARSE, "data.proof.complete: not an object");
    if (dcomplete && vmdb_json_typeof(dcomplete) != VMDB_JSON_TRUE &&
        vmdb_json_typeof(dcomplete) != VMDB_JSON_FALSE)
        return fail(why, VMDB_EPARSE, "data.complete: not a boolean");
    bool claims = dcomplete && vmdb_json_typeof(dcomplete) == VMDB_JSON_TRUE;
    if (claims != (cp != NULL))
        return fail(why, VMDB_EVERIFY, "data.complete and data.proof.complete disagree");
    out->kind = !records                         ? VMDB_VFY_DELETE
                : dcomplete                      ? VMDB_VFY_READ_LATEST
                : vmdb_json_get(data, "missing") ? VMDB_VFY_READ_BATCH
                                                 : VMDB_VFY_WRITE;

    /* 1. The header: answers carry v2 headers only (§9). */
    if ((rc = vmdb_vfy_check_header(h, vmdb_json_get(proof, "header"), pins, &out->header, why)))
        return rc;
    if (out->header.h.version != 2)
        return fail(why, VMDB_EVERIFY,
                    "data.proof.header: a v1 header where a v2 header is required");
    if (!table_name_ok(b.table))
        return fail(why, VMDB_EPARSE, "data.proof.table: not a registered (lower-case) table name");
    if (req && req->table && !same_table(req->table, b.table))
        return fail(why, VMDB_EVERIFY, "data.proof.table is '%s', not the table the request named",
                    out->table);
    if (req && (rc = request_fits(req, out->kind, why)))
        return rc;

    /* 2. The multiproof against the header's root. */
    const vmdb_json *kl = typed(mp, "keys", VMDB_JSON_ARRAY);
    const vmdb_json *pv = typed(mp, "proof", VMDB_JSON_STRING);
    if (!kl || !pv)
        return fail(why, VMDB_EPARSE, "multiproof: keys and proof are required");
    b.nkeys = vmdb_json_size(kl);
    if (b.nkeys == 0 || b.nkeys > MAX_KEYS)
        return fail(why, VMDB_EPARSE, "multiproof: no keys, or too many");
    vmdb_slice ph = vmdb_json_string(pv);
    uint8_t *bytes = ph.len % 2 == 0 ? malloc(ph.len / 2 + 1) : NULL;
    b.keys = calloc(b.nkeys, 32);
    b.values = calloc(b.nkeys, 32);
    b.present = calloc(b.nkeys, sizeof *b.present);
    b.used = calloc(b.nkeys, sizeof *b.used);
    if (ph.len % 2 != 0 || !bytes ||
        vmdb_hex_decode(bytes, ph.len / 2, (const char *)ph.ptr, ph.len)) {
        rc = fail(why, VMDB_EPARSE, "multiproof.proof: not hex");
        goto done;
    }
    if (!b.keys || !b.values || !b.present || !b.used) {
        rc = fail(why, VMDB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < b.nkeys; i++) {
        char what[40];
        snprintf(what, sizeof what, "multiproof.keys[%zu]", i);
        if ((rc = hex_value(vmdb_json_at(kl, i), b.keys[i], what, why)))
            goto done;
        if (i > 0 && memcmp(b.keys[i - 1], b.keys[i], 32) >= 0) {
            rc = fail(why, VMDB_EVERIFY, "multiproof.keys are not strictly ascending");
            goto done;
        }
    }
    if (vmdb_multiproof_verify(h, out->header.h.smt_root, (const uint8_t(*)[32])b.keys, b.nkeys,
                               VMDB_SLICE(bytes, ph.len / 2), b.values, b.present) != 0) {
        /* Also what a proof computed for another root (another header)
         * shows: the header is genuine, the proof is not for it. */
        rc = fail(why, VMDB_EVERIFY, "multiproof does not match the smt_root of header %llu (%s)",
                  (unsigned long long)out->header.h.seq, vmdb_error_last());
        goto done;
    }

    /* 3. Present rows: one per record, in order, with its key and value. */
    size_t nrec = records ? vmdb_json_size(records) : 0;
    if (vmdb_json_size(present) != nrec) {
        rc = fail(why, VMDB_EVERIFY, "%zu records but %zu present entries", nrec,
                  vmdb_json_size(present));
        goto done;
    }
    char pkname[128];
    vmdb_slice pks = vmdb_json_string(pkv);
    snprintf(pkname, sizeof pkname, "%.*s", (int)(pks.len > 127 ? 127 : pks.len),
             (const char *)pks.ptr);
    for (size_t i = 0; i < nrec; i++) {
        const vmdb_json *e = vmdb_json_at(present, i), *rec = vmdb_json_at(records, i);
        char what[40];
        uint8_t val[32], given[32];
        vmdb_slice id;
        long idx = -1;
        snprintf(what, sizeof what, "present[%zu]", i);
        if (vmdb_json_typeof(e) != VMDB_JSON_OBJECT) {
            rc = fail(why, VMDB_EPARSE, "%s: not an object", what);
            goto done;
        }
        if ((rc = entry_key(&b, e, what, &id, &idx, why)) ||
            (rc = hex_member(e, "value", given, 32, why)))
            goto done;
        if (vmdb_json_typeof(rec) != VMDB_JSON_OBJECT) {
            rc = fail(why, VMDB_EPARSE, "data.records[%zu]: not an object", i);
            goto done;
        }
        if (pk_text(vmdb_json_get(rec, pkname), &b.scratch) != 0 ||
            !slice_eq(VMDB_SLICE(b.scratch.ptr, b.scratch.len), id)) {
            rc = fail(why, VMDB_EVERIFY, "data.records[%zu].%s is not present[%zu].id '%.*s'", i,
                      pkname, i, (int)(id.len > 64 ? 64 : id.len), (const char *)id.ptr);
            goto done;
        }
        b.scratch.len = 0;
        if (vmdb_jcs_write(&b.scratch, rec) != 0) {
            rc = fail(why, VMDB_ENOMEM, "out of memory");
            goto done;
        }
        vmdb_row_value_jcs(h, val, VMDB_SLICE(b.scratch.ptr, b.scratch.len));
        if (memcmp(val, given, 32) != 0) {
            rc = fail(why, VMDB_EVERIFY, "data.records[%zu] does not hash to present[%zu].value", i,
                      i);
            goto done;
        }
        if (!b.present[idx] || memcmp(b.values[idx], val, 32) != 0) {
            rc = fail(why, VMDB_EVERIFY, "the multiproof does not prove row '%.*s' with this value",
                      (int)(id.len > 64 ? 64 : id.len), (const char *)id.ptr);
            goto done;
        }
    }

    /* 4. Absent ids. */
    for (size_t i = 0; i < vmdb_json_size(absent); i++) {
        const vmdb_json *e = vmdb_json_at(absent, i);
        char what[40];
        vmdb_slice id;
        long idx = -1;
        snprintf(what, sizeof what, "absent[%zu]", i);
        if (vmdb_json_typeof(e) != VMDB_JSON_OBJECT) {
            rc = fail(why, VMDB_EPARSE, "%s: not an object", what);
            goto done;
        }
        if ((rc = entry_key(&b, e, what, &id, &idx, why)))
            goto done;
        if (b.present[idx]) {
            rc = fail(why, VMDB_EVERIFY, "the multiproof shows id '%.*s' present, not absent",
                      (int)(id.len > 64 ? 64 : id.len), (const char *)id.ptr);
            goto done;
        }
    }
    if ((rc = all_absent(typed(data, "missing", VMDB_JSON_ARRAY), absent, "missing", why)))
        goto done;
    if (!records && (rc = all_absent(typed(data, "ids", VMDB_JSON_ARRAY), absent, "ids", why)))
        goto done; /* delete-batch: every deleted id is absent from the new state */

    /* 5. Every requested id answered: one left out of both records and
     * missing passes steps 3 and 4. */
    for (size_t i = 0; req && req->has_ids && i < req->nids; i++) {
        vmdb_slice id = req->ids[i];
        if (!in_entries(present, id) && !in_entries(absent, id)) {
            rc =
                fail(why, VMDB_EVERIFY, "requested id '%.*s' is neither returned nor proven absent",
                     (int)(id.len > 64 ? 64 : id.len), (const char *)id.ptr);
            goto done;
        }
    }

    /* §10. */
    if (req && req->limit && out->kind == VMDB_VFY_READ_LATEST && nrec > latest_limit(req->limit)) {
        rc = fail(why, VMDB_EVERIFY, "read-latest: %zu records, above the requested limit %llu",
                  nrec, (unsigned long long)latest_limit(req->limit));
        goto done;
    }
    if (cp && (rc = check_complete(&b, cp, present, absent, req, out, why)))
        goto done;
    if (!cp && req && req->require_complete) {
        rc = fail(why, VMDB_EVERIFY,
                  "read-latest: not complete, but the request requires a complete answer");
        goto done;
    }
    for (size_t i = 0; i < b.nkeys; i++)
        if (!b.used[i]) {
            rc = fail(why, VMDB_EVERIFY,
                      "multiproof key %zu is none of the present, absent or range keys", i);
            goto done;
        }
    out->npresent = nrec;
    out->nabsent = vmdb_json_size(absent);
    out->complete = cp != NULL;
done:
    free(bytes);
    free(b.keys);
    free(b.values);
    free(b.present);
    free(b.used);
    vmdb_buf_free(&b.scratch);
    return rc;
}

/* ---- history proofs and checkpoints (§11) ------------------------------------------ */

int vmdb_vfy_history(vmdb_hasher *h, const vmdb_json *proof, const vmdb_vfy_pins *pins,
                     vmdb_vfy_header *from, vmdb_vfy_header *to, char why[VMDB_VFY_WHY])
{
    uint8_t inc[VMDB_HIST_MAX_PROOF][32], con[VMDB_HIST_MAX_PROOF][32];
    size_t ninc = 0, ncon = 0;
    int rc = 0;
    if ((rc = vmdb_vfy_check_header(h, vmdb_json_get(proof, "from"), pins, from, why)) ||
        (rc = vmdb_vfy_check_header(h, vmdb_json_get(proof, "to"), pins, to, why)) ||
        (rc = hash_list(proof, "inclusion", inc, &ninc, why)) ||
        (rc = hash_list(proof, "consistency", con, &ncon, why)))
        return rc;
    uint64_t a = from->h.seq, b = to->h.seq;
    if (from->h.version == 2 && to->h.version == 2 &&
        memcmp(from->h.chain_id, to->h.chain_id, 32) != 0)
        return fail(why, VMDB_EVERIFY, "history proof: the two headers have different chain_ids");
    if (a > b)
        return fail(why, VMDB_EVERIFY, "history proof: from (%llu) is newer than to (%llu)",
                    (unsigned long long)a, (unsigned long long)b);
    if (from->h.version > to->h.version)
        return fail(why, VMDB_EVERIFY, "history proof: a v1 header after a v2 header");
    if (from->h.version == 1 && a == 0 && to->h.version == 2) {
        /* The chain id of an upgraded chain is derived from v1 header 0
         * (§6.2), which `from` is: check it even when none is pinned. */
        uint8_t cid[32];
        vmdb_slice parts[] = {VMDB_SLICE("vmdb/v2/chain", 14), VMDB_SLICE(pins->pk, 32),
                              VMDB_SLICE(from->hash, 32)};
        vmdb_hash_parts(h, cid, parts, 3);
        if (memcmp(cid, to->h.chain_id, 32) != 0)
            return fail(why, VMDB_EVERIFY,
                        "history proof: chain_id of header %llu is not derived from v1 header 0",
                        (unsigned long long)b);
    }
    if (a == b) {
        if (ninc || ncon || memcmp(from->hash, to->hash, 32) != 0)
            return fail(why, VMDB_EVERIFY, "history proof: two different headers with seq %llu",
                        (unsigned long long)a);
        return 0;
    }
    if (vmdb_hist_verify_inclusion(h, from->hash, a, b, (const uint8_t(*)[32])inc, ninc,
                                   to->h.history_root) != 0)
        return fail(why, VMDB_EVERIFY,
                    "history proof: header %llu is not in the history of header %llu",
                    (unsigned long long)a, (unsigned long long)b);
    if (a == 0 ? ncon != 0
               : vmdb_hist_verify_consistency(h, a, b, from->h.history_root, to->h.history_root,
                                              (const uint8_t(*)[32])con, ncon) != 0)
        return fail(why, VMDB_EVERIFY,
                    "history proof: the history of header %llu does not extend that of %llu",
                    (unsigned long long)b, (unsigned long long)a);
    return 0;
}

/* ---- transition records (§14.2) ------------------------------------------------ */

/* A §4 proof in its JSON form, as the binary form vmdb_proof_decode
 * checks; *key and *value (inclusion only, *has_value) from its members. */
static int proof_from_json(const vmdb_json *j, vmdb_proof *p, uint8_t key[32], uint8_t value[32],
                           bool *has_value, char why[VMDB_VFY_WHY])
{
    static const char *const kinds[] = {"inclusion", "absent_empty", "absent_leaf"};
    vmdb_slice ks = vmdb_json_string(vmdb_json_get(j, "kind"));
    const vmdb_json *sib = typed(j, "siblings", VMDB_JSON_ARRAY);
    uint8_t bin[VMDB_PROOF_MAX_BYTES], other[64];
    uint64_t depth = 0;
    int kind = -1, rc = 0;
    *has_value = false;
    if (!j || vmdb_json_typeof(j) != VMDB_JSON_OBJECT)
        return fail(why, VMDB_EPARSE, "proof: missing or not an object");
    for (int i = 0; i < 3; i++)
        if (slice_eq(ks, VMDB_SLICE(kinds[i], strlen(kinds[i]))))
            kind = i;
    if (kind < 0 || !typed(j, "kind", VMDB_JSON_STRING))
        return fail(why, VMDB_EPARSE,
                    "proof.kind: not one of inclusion, absent_empty, absent_leaf");
    if ((rc = hex_member(j, "key", key, 32, why)) || (rc = u64_member(j, "depth", &depth, why)))
        return rc;
    if (depth > 256)
        return fail(why, VMDB_EPARSE, "proof.depth: above 256");
    size_t nb = (size_t)(depth + 7) / 8, pos = 3 + nb;
    if (!sib || vmdb_json_size(sib) > 256)
        return fail(why, VMDB_EPARSE, "proof.siblings: missing, not an array or too long");
    bin[0] = (uint8_t)kind;
    bin[1] = (uint8_t)(depth >> 8);
    bin[2] = (uint8_t)depth;
    if (nb && (rc = hex_member(j, "bitmap", bin + 3, nb, why)))
        return rc;
    if (!nb && vmdb_json_string(vmdb_json_get(j, "bitmap")).len != 0)
        return fail(why, VMDB_EPARSE, "bitmap: not empty at depth 0");
    for (size_t i = 0; i < vmdb_json_size(sib); i++, pos += 32)
        if ((rc = hex_value(vmdb_json_at(sib, i), bin + pos, "proof.siblings[]", why)))
            return rc;
    if (kind == 0) {
        if ((rc = hex_member(j, "value", value, 32, why)))
            return rc;
        *has_value = true;
    }
    if (kind == 2) {
        if ((rc = hex_member(j, "other_key", other, 32, why)) ||
            (rc = hex_member(j, "other_value", other + 32, 32, why)))
            return rc;
        memcpy(bin + pos, other, 64);
        pos += 64;
    }
    if (vmdb_proof_decode(p, VMDB_SLICE(bin, pos)) != 0)
        return fail(why, VMDB_EPARSE, "proof: malformed (%s)", vmdb_error_last());
    return 0;
}

int vmdb_vfy_transition(vmdb_hasher *h, const vmdb_json *data, const vmdb_vfy_pins *pins,
                        vmdb_vfy_transition_result *out, char why[VMDB_VFY_WHY])
{
    static const char *const kinds[] = {"repair", "clear", "reset", "migrate"};
    const vmdb_json *rec = typed(data, "record", VMDB_JSON_OBJECT);
    vmdb_buf jcs = VMDB_BUF_INIT;
    vmdb_proof *p = NULL;
    uint8_t key[32], value[32], want[32];
    uint64_t seq = 0;
    bool has_value = false, known = false;
    int rc = 0;
    memset(out, 0, sizeof *out);
    if ((rc = vmdb_vfy_check_header(h, vmdb_json_get(data, "header"), pins, &out->header, why)))
        return rc;
    const char *kn = out->header.h.version == 2 ? vmdb_header_kind_name(out->header.h.kind) : NULL;
    vmdb_slice kname = kn ? VMDB_SLICE(kn, strlen(kn)) : VMDB_SLICE("", 0);
    for (int i = 0; kn && i < 4; i++)
        known = known || strcmp(kn, kinds[i]) == 0;
    if (!known)
        return fail(why, VMDB_EVERIFY, "transition: header %llu is of kind %s, which has no record",
                    (unsigned long long)out->header.h.seq, kn ? kn : "v1");
    if (!rec)
        return fail(why, VMDB_EPARSE, "record: missing or not an object");
    if (!typed(rec, "kind", VMDB_JSON_STRING) || !typed(data, "kind", VMDB_JSON_STRING) ||
        !slice_eq(vmdb_json_string(vmdb_json_get(rec, "kind")), kname) ||
        !slice_eq(vmdb_json_string(vmdb_json_get(data, "kind")), kname))
        return fail(why, VMDB_EVERIFY, "transition: the record is not of the header's kind (%s)",
                    kn);
    if ((rc = u64_member(rec, "seq", &seq, why)))
        return rc;
    if (seq != out->header.h.seq)
        return fail(why, VMDB_EVERIFY, "transition: the record is of seq %llu, the header %llu",
                    (unsigned long long)seq, (unsigned long long)out->header.h.seq);
    if (!(p = malloc(sizeof *p)))
        return fail(why, VMDB_ENOMEM, "out of memory");
    if ((rc = proof_from_json(vmdb_json_get(data, "proof"), p, key, value, &has_value, why)))
        goto done;
    vmdb_transition_key(h, want, seq);
    if (!has_value || memcmp(key, want, 32) != 0) {
        rc = fail(why, VMDB_EVERIFY,
                  "transition: the proof is not an inclusion of the key of seq %llu",
                  (unsigned long long)seq);
        goto done;
    }
    if (vmdb_jcs_write(&jcs, rec) != 0) {
        rc = fail(why, VMDB_ENOMEM, "out of memory");
        goto done;
    }
    vmdb_transition_value(h, want, VMDB_SLICE(jcs.ptr, jcs.len));
    if (memcmp(value, want, 32) != 0) {
        rc = fail(why, VMDB_EVERIFY, "transition: the record does not hash to the proven value");
        goto done;
    }
    if (vmdb_proof_verify(h, out->header.h.smt_root, key, value, p) != 0) {
        rc = fail(why, VMDB_EVERIFY, "transition: the proof does not verify against header %llu",
                  (unsigned long long)seq);
        goto done;
    }
    if (typed(rec, "count", VMDB_JSON_NUMBER) && u64_member(rec, "count", &out->count, why) == 0 &&
        u64_member(rec, "listed", &out->listed, why) == 0)
        out->has_count = true;
    why[0] = 0;
done:
    free(p);
    vmdb_buf_free(&jcs);
    return rc;
}

int vmdb_vfy_checkpoint(vmdb_hasher *h, vmdb_slice note, const char *origin,
                        const vmdb_vfy_pins *pins, uint64_t *n, uint8_t root[32],
                        char why[VMDB_VFY_WHY])
{
    char def[VMDB_NOTE_MAX_NAME + 1];
    vmdb_buf addr = VMDB_BUF_INIT;
    vmdb_slice text, got;
    if (!origin) {
        if (vmdb_base58_encode(&addr, VMDB_SLICE(pins->pk, 32)) != 0)
            return fail(why, VMDB_ENOMEM, "out of memory");
        snprintf(def, sizeof def, "vmdb/%.*s", (int)addr.len, (const char *)addr.ptr);
        vmdb_buf_free(&addr);
        origin = def;
    }
    vmdb_slice name = VMDB_SLICE(origin, strlen(origin));
    switch (vmdb_note_verify(h, note, name, pins->pk, &text)) {
    case 0:
        break;
    case VMDB_ENOTFOUND:
        return fail(why, VMDB_EVERIFY, "checkpoint: no signature by %s with the pinned key",
                    origin);
    case VMDB_EVERIFY:
        return fail(why, VMDB_EVERIFY, "checkpoint signature invalid");
    default:
        return fail(why, VMDB_EPARSE, "checkpoint: %s", vmdb_error_last());
    }
    if (vmdb_checkpoint_parse(text, &got, n, root) != 0)
        return fail(why, VMDB_EPARSE, "checkpoint: %s", vmdb_error_last());
    if (!slice_eq(got, name))
        return fail(why, VMDB_EVERIFY, "checkpoint: origin is not %s", origin);
    return 0;
}

/*
 * The checks of `vmdb verify` (src/cli/verify_bundle.c) on inputs built
 * here from the real tree (vmdb_smt multiproofs), the real history tree and
 * real Ed25519 signatures: proof bundles of §9 with a complete read-latest
 * of §10, history proofs of §11.1 and checkpoint notes of §11.2. Each
 * genuine input must verify, and each tampered variant must fail with its
 * own reason: a flipped bit of the multiproof, swapped rows, a proof for
 * another root, another chain_id, another key, an intent signature used as
 * the header signature, a read-latest gap id left unproven, a record
 * edited, a key of the wrong length, a duplicate member; a history proof
 * for a forked header; a checkpoint with another origin or signature.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/verify_bundle.h"
#include "testutil.h"
#include "vmdb/base58.h"
#include "vmdb/smt.h"

#define TABLE "users"
#define NROWS 10 /* ids 1..10, without 4 and 7 (deleted) */

typedef struct fx {
    vmdb_hasher *h;
    vmdb_smt *t, *other; /* the table's tree; a tree with one row changed */
    uint8_t pk[32], sk[64], pk2[32], sk2[64];
    uint8_t chain_id[32];
    vmdb_vfy_pins pins;
} fx;

static bool is_row(int id)
{
    return id >= 1 && id <= NROWS && id != 4 && id != 7;
}

static void row_json(char *out, size_t n, int id, const char *name)
{
    snprintf(out, n, "{\"id\":%d,\"name\":\"%s%d\"}", id, name, id);
}

static void row_key(vmdb_hasher *h, uint8_t out[32], const char *id)
{
    assert_int_equal(vmdb_row_key(h, out, VMDB_SLICE_STR(TABLE), VMDB_SLICE(id, strlen(id))), 0);
}

static void row_value(vmdb_hasher *h, uint8_t out[32], const char *json)
{
    vmdb_buf scratch = VMDB_BUF_INIT;
    assert_int_equal(vmdb_row_value(h, out, VMDB_SLICE(json, strlen(json)), NULL, &scratch), 0);
    vmdb_buf_free(&scratch);
}

/* §10's range leaf, written from the text. */
static void range_leaf(vmdb_hasher *h, uint8_t key[32], uint8_t value[32], const char *lo,
                       const char *hi)
{
    static const char kt[] = "vmdb/v2/id-range-key", vt[] = "vmdb/v2/id-range";
    uint8_t tl[2] = {0, (uint8_t)strlen(TABLE)};
    uint8_t ll[4] = {0, 0, 0, (uint8_t)strlen(lo)}, hl[4] = {0, 0, 0, (uint8_t)strlen(hi)};
    vmdb_slice kp[3] = {{(const uint8_t *)kt, sizeof kt}, {tl, 2}, VMDB_SLICE_STR(TABLE)};
    vmdb_slice vp[5] = {{(const uint8_t *)vt, sizeof vt},
                        {ll, 4},
                        {(const uint8_t *)lo, strlen(lo)},
                        {hl, 4},
                        {(const uint8_t *)hi, strlen(hi)}};
    vmdb_hash_parts(h, key, kp, 3);
    vmdb_hash_parts(h, value, vp, 5);
}

static void fill_tree(fx *f, vmdb_smt *t, const char *name9)
{
    vmdb_smt_change ch[NROWS + 1];
    size_t n = 0;
    char js[96], id[16];
    for (int i = 1; i <= NROWS; i++) {
        if (!is_row(i))
            continue;
        snprintf(id, sizeof id, "%d", i);
        row_json(js, sizeof js, i, i == 9 ? name9 : "u");
        row_key(f->h, ch[n].key, id);
        row_value(f->h, ch[n].value, js);
        ch[n++].remove = false;
    }
    range_leaf(f->h, ch[n].key, ch[n].value, "1", "10");
    ch[n++].remove = false;
    assert_int_equal(vmdb_smt_update(t, ch, n), 0);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    uint8_t seed[32];
    assert_non_null(f);
    assert_int_equal(vmdb_hasher_new(&f->h, 0), 0);
    memset(seed, 7, 32);
    assert_int_equal(vmdb_ed25519_from_seed(f->pk, f->sk, seed), 0);
    memset(seed, 8, 32);
    assert_int_equal(vmdb_ed25519_from_seed(f->pk2, f->sk2, seed), 0);
    memset(f->chain_id, 0xc1, 32);
    memcpy(f->pins.pk, f->pk, 32);
    memcpy(f->pins.chain_id, f->chain_id, 32);
    f->pins.has_chain_id = true;
    assert_int_equal(vmdb_smt_new(&f->t, 0), 0);
    assert_int_equal(vmdb_smt_new(&f->other, 0), 0);
    fill_tree(f, f->t, "u");
    fill_tree(f, f->other, "changed");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    vmdb_smt_free(f->t);
    vmdb_smt_free(f->other);
    vmdb_hasher_free(f->h);
    free(f);
    return 0;
}

/* What to build, and how to spoil it. */
typedef struct spec {
    int rec[8];
    size_t nrec;
    const char *absent[16];
    size_t nabs;
    const char *missing[4];
    size_t nmissing;
    const char *order; /* non-NULL: a complete read-latest */
    unsigned limit;
    /* tampering */
    bool flip_bit, swap_rows, other_root, intent_sig, other_key, edit_record, short_key, dup_member;
    uint8_t chain_id_byte; /* non-zero: the header's chain_id */
} spec;

static void put(vmdb_buf *b, const char *s)
{
    assert_int_equal(vmdb_buf_put(b, s, strlen(s)), 0);
}

static void put_hex(vmdb_buf *b, const uint8_t *p, size_t n)
{
    char *hx = malloc(2 * n + 1);
    assert_non_null(hx);
    vmdb_hex_encode(hx, p, n);
    put(b, "\"");
    put(b, hx);
    put(b, "\"");
    free(hx);
}

static int cmp32(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* The answer's data object with its §9 proof. */
static void build(fx *f, const spec *s, vmdb_buf *out)
{
    uint8_t keys[32][32], k[32], v[32], rk[32], rv[32];
    size_t nk = 0;
    char js[96], id[16];
    vmdb_buf mp = VMDB_BUF_INIT;
    int order[8];
    memcpy(order, s->rec, sizeof order);
    if (s->swap_rows) {
        order[0] = s->rec[1];
        order[1] = s->rec[0];
    }
    put(out, "{\"records\":[");
    for (size_t i = 0; i < s->nrec; i++) {
        row_json(js, sizeof js, order[i], s->edit_record && i == 0 ? "x" : "u");
        put(out, i ? "," : "");
        put(out, js);
    }
    put(out, "],\"missing\":[");
    for (size_t i = 0; i < s->nmissing; i++) {
        put(out, i ? ",\"" : "\"");
        put(out, s->missing[i]);
        put(out, "\"");
    }
    put(out, s->order ? "],\"complete\":true" : "]");
    /* The header. */
    vmdb_header hd;
    memset(&hd, 0, sizeof hd);
    hd.version = 2;
    hd.kind = VMDB_KIND_WRITE;
    hd.seq = 17;
    memset(hd.chain_id, s->chain_id_byte ? s->chain_id_byte : 0xc1, 32);
    vmdb_smt_view_root(vmdb_smt_current(s->other_root ? f->other : f->t), hd.smt_root);
    memset(hd.prev, 3, 32);
    memset(hd.history_root, 4, 32);
    hd.time_ms = 1700000000000ULL;
    uint8_t hash[32], sig[64];
    vmdb_header_hash(f->h, hash, &hd);
    assert_int_equal(vmdb_header_sign(sig, 2, s->intent_sig ? VMDB_SIG_INTENT : VMDB_SIG_COMMITTED,
                                      hash, s->other_key ? f->sk2 : f->sk),
                     0);
    put(out, ",\"proof\":{\"header\":");
    assert_int_equal(vmdb_header_to_json(out, f->h, &hd, sig), 0);
    put(out, ",\"table\":\"" TABLE "\",\"primary_key\":\"id\"");
    if (s->dup_member)
        put(out, ",\"table\":\"" TABLE "\"");
    put(out, ",\"present\":[");
    for (size_t i = 0; i < s->nrec; i++) {
        snprintf(id, sizeof id, "%d", s->rec[i]);
        row_json(js, sizeof js, s->rec[i], "u");
        row_key(f->h, k, id);
        row_value(f->h, v, js);
        memcpy(keys[nk++], k, 32);
        put(out, i ? ",{\"id\":\"" : "{\"id\":\"");
        put(out, id);
        put(out, "\",\"key\":");
        put_hex(out, k, s->short_key && i == 0 ? 31 : 32);
        put(out, ",\"value\":");
        put_hex(out, v, 32);
        put(out, "}");
    }
    put(out, "],\"absent\":[");
    for (size_t i = 0; i < s->nabs; i++) {
        row_key(f->h, k, s->absent[i]);
        memcpy(keys[nk++], k, 32);
        put(out, i ? ",{\"id\":\"" : "{\"id\":\"");
        put(out, s->absent[i]);
        put(out, "\",\"key\":");
        put_hex(out, k, 32);
        put(out, "}");
    }
    put(out, "]");
    if (s->order) {
        range_leaf(f->h, rk, rv, "1", "10");
        memcpy(keys[nk++], rk, 32);
    }
    qsort(keys, nk, 32, cmp32);
    assert_int_equal(vmdb_smt_multiprove(f->t, vmdb_smt_current(f->t), f->h,
                                         (const uint8_t(*)[32])keys, nk, &mp),
                     0);
    if (s->flip_bit)
        mp.ptr[mp.len / 2] ^= 0x10;
    put(out, ",\"multiproof\":{\"keys\":[");
    for (size_t i = 0; i < nk; i++) {
        put(out, i ? "," : "");
        put_hex(out, keys[i], 32);
    }
    put(out, "],\"proof\":");
    put_hex(out, mp.ptr, mp.len);
    put(out, "}");
    if (s->order) {
        char c[200];
        snprintf(c, sizeof c,
                 ",\"complete\":{\"order\":\"%s\",\"limit\":%u,\"lo\":\"1\",\"hi\":\"10\","
                 "\"range_key\":",
                 s->order, s->limit);
        put(out, c);
        put_hex(out, rk, 32);
        put(out, "}");
    }
    put(out, "}}");
    vmdb_buf_free(&mp);
}

/* Builds, parses and verifies; returns the result code, `why` the reason. */
static int check(fx *f, const spec *s, vmdb_vfy_bundle_result *r, char why[VMDB_VFY_WHY])
{
    vmdb_buf b = VMDB_BUF_INIT;
    vmdb_json_doc *doc = NULL;
    build(f, s, &b);
    int rc = vmdb_json_parse(&doc, VMDB_SLICE(b.ptr, b.len), NULL);
    why[0] = 0;
    if (rc == 0)
        rc = vmdb_vfy_bundle(f->h, vmdb_json_doc_root(doc), &f->pins, NULL, r, why);
    else
        snprintf(why, VMDB_VFY_WHY, "parse: %s", vmdb_error_last());
    vmdb_json_doc_free(doc);
    vmdb_buf_free(&b);
    return rc;
}

static void expect_fail(fx *f, const spec *s, const char *reason)
{
    vmdb_vfy_bundle_result r;
    char why[VMDB_VFY_WHY];
    int rc = check(f, s, &r, why);
    if (rc == 0 || !strstr(why, reason))
        fail_msg("expected failure '%s', got %d '%s'", reason, rc, why);
}

static const spec READ_BATCH = {.rec = {2, 3},
                                .nrec = 2,
                                .absent = {"99", "abc"},
                                .nabs = 2,
                                .missing = {"99", "abc"},
                                .nmissing = 2};
static const spec LATEST_5 = {
    .rec = {10, 9, 8, 6, 5}, .nrec = 5, .absent = {"7"}, .nabs = 1, .order = "desc", .limit = 5};

static void test_bundle_ok(void **state)
{
    fx *f = *state;
    vmdb_vfy_bundle_result r;
    char why[VMDB_VFY_WHY];
    assert_int_equal(check(f, &READ_BATCH, &r, why), 0);
    assert_string_equal(r.table, TABLE);
    assert_int_equal(r.npresent, 2);
    assert_int_equal(r.nabsent, 2);
    assert_false(r.complete);
    assert_int_equal(r.header.h.seq, 17);

    assert_int_equal(check(f, &LATEST_5, &r, why), 0);
    assert_true(r.complete);
    assert_int_equal(r.npresent, 5);
    /* A limit larger than the table: all of [lo, hi] is the gap. */
    spec all = {.rec = {1, 2, 3, 5, 6, 8, 9, 10},
                .nrec = 8,
                .absent = {"4", "7"},
                .nabs = 2,
                .order = "asc",
                .limit = 50};
    assert_int_equal(check(f, &all, &r, why), 0);
    /* asc with m = limit: the gap is [lo, r_m). */
    spec asc = {
        .rec = {1, 2, 3, 5}, .nrec = 4, .absent = {"4"}, .nabs = 1, .order = "asc", .limit = 4};
    assert_int_equal(check(f, &asc, &r, why), 0);
    /* The pinned chain id is optional. */
    f->pins.has_chain_id = false;
    assert_int_equal(check(f, &READ_BATCH, &r, why), 0);
    f->pins.has_chain_id = true;
}

static void test_bundle_tampered(void **state)
{
    fx *f = *state;
    spec s = READ_BATCH;
    s.flip_bit = true;
    expect_fail(f, &s, "multiproof does not match the smt_root of header");
    s = READ_BATCH;
    s.other_root = true;
    expect_fail(f, &s, "multiproof does not match the smt_root of header");
    s = READ_BATCH;
    s.swap_rows = true;
    expect_fail(f, &s, "data.records[0].id is not present[0].id '2'");
    s = READ_BATCH;
    s.edit_record = true;
    expect_fail(f, &s, "data.records[0] does not hash to present[0].value");
    s = READ_BATCH;
    s.chain_id_byte = 0xc2;
    expect_fail(f, &s, "chain_id differs from the pinned one");
    s = READ_BATCH;
    s.other_key = true;
    expect_fail(f, &s, "header signature invalid");
    s = READ_BATCH;
    s.intent_sig = true;
    expect_fail(f, &s, "sig is the intent signature, not the header signature");
    s = READ_BATCH;
    s.short_key = true;
    expect_fail(f, &s, "key: not 64 hex digits");
    s = READ_BATCH;
    s.dup_member = true;
    expect_fail(f, &s, "parse:");
    /* A missing id not proven absent. */
    s = READ_BATCH;
    s.nabs = 1;
    expect_fail(f, &s, "data.missing id 'abc' is not proven absent");
    /* A row claimed absent that is there. */
    s = READ_BATCH;
    s.absent[1] = "5";
    s.missing[1] = "5";
    expect_fail(f, &s, "the multiproof shows id '5' present, not absent");
    /* Read-latest: the gap id 7 left out; a row left out; out of order. */
    s = LATEST_5;
    s.nabs = 0;
    expect_fail(f, &s, "read-latest gap id 7 neither returned nor proven absent");
    s = LATEST_5;
    s.rec[3] = 5;
    s.nrec = 4;
    s.limit = 4; /* 10, 9, 8, 5: id 6 skipped */
    expect_fail(f, &s, "read-latest gap id 6 neither returned nor proven absent");
    s = LATEST_5;
    s.swap_rows = true;
    expect_fail(f, &s, "is not present[0].id");
    s = LATEST_5;
    s.limit = 4;
    expect_fail(f, &s, "complete.limit 4 and 5 records disagree");
}

/* ---- history proofs ------------------------------------------------------------- */

#define NH 9

typedef struct chain {
    vmdb_header hd[NH];
    uint8_t hash[NH][32], sig[NH][64];
    vmdb_hist *hist;
} chain;

static void make_chain(fx *f, chain *c, uint8_t salt)
{
    assert_int_equal(vmdb_hist_new(&c->hist), 0);
    for (int i = 0; i < NH; i++) {
        vmdb_header *h = &c->hd[i];
        memset(h, 0, sizeof *h);
        h->version = 2;
        h->kind = i == 0 ? VMDB_KIND_GENESIS : VMDB_KIND_WRITE;
        h->seq = (uint64_t)i;
        memcpy(h->chain_id, f->chain_id, 32);
        memset(h->smt_root, i < 5 ? i : i + salt, 32);
        if (i)
            memcpy(h->prev, c->hash[i - 1], 32);
        assert_int_equal(vmdb_hist_root(c->hist, f->h, (uint64_t)i, h->history_root), 0);
        h->time_ms = 1000 + (uint64_t)i;
        vmdb_header_hash(f->h, c->hash[i], h);
        assert_int_equal(vmdb_header_sign(c->sig[i], 2, VMDB_SIG_COMMITTED, c->hash[i], f->sk), 0);
        assert_int_equal(vmdb_hist_append(c->hist, f->h, c->hash[i]), 0);
    }
}

static void put_list(vmdb_buf *b, uint8_t (*v)[32], size_t n)
{
    put(b, "[");
    for (size_t i = 0; i < n; i++) {
        put(b, i ? "," : "");
        put_hex(b, v[i], 32);
    }
    put(b, "]");
}

/* {from, to, inclusion, consistency} with the headers of `cf` and `ct`
 * and the proofs of `ct`'s history. */
static void build_history(fx *f, chain *cf, chain *ct, uint64_t a, uint64_t b, vmdb_buf *out)
{
    uint8_t inc[VMDB_HIST_MAX_PROOF][32], con[VMDB_HIST_MAX_PROOF][32];
    size_t ni = 0, nc = 0;
    if (a < b)
        assert_int_equal(vmdb_hist_inclusion_proof(ct->hist, f->h, a, b, inc, &ni), 0);
    if (a > 0 && a < b)
        assert_int_equal(vmdb_hist_consistency_proof(ct->hist, f->h, a, b, con, &nc), 0);
    put(out, "{\"consistency\":");
    put_list(out, con, nc);
    put(out, ",\"from\":");
    assert_int_equal(vmdb_header_to_json(out, f->h, &cf->hd[a], cf->sig[a]), 0);
    put(out, ",\"inclusion\":");
    put_list(out, inc, ni);
    put(out, ",\"to\":");
    assert_int_equal(vmdb_header_to_json(out, f->h, &ct->hd[b], ct->sig[b]), 0);
    put(out, "}");
}

static int check_history(fx *f, chain *cf, chain *ct, uint64_t a, uint64_t b,
                         char why[VMDB_VFY_WHY])
{
    vmdb_buf buf = VMDB_BUF_INIT;
    vmdb_json_doc *doc = NULL;
    vmdb_vfy_header from, to;
    build_history(f, cf, ct, a, b, &buf);
    assert_int_equal(vmdb_json_parse(&doc, VMDB_SLICE(buf.ptr, buf.len), NULL), 0);
    why[0] = 0;
    int rc = vmdb_vfy_history(f->h, vmdb_json_doc_root(doc), &f->pins, &from, &to, why);
    if (rc == 0) {
        assert_int_equal(from.h.seq, a);
        assert_int_equal(to.h.seq, b);
    }
    vmdb_json_doc_free(doc);
    vmdb_buf_free(&buf);
    return rc;
}

static void test_history(void **state)
{
    fx *f = *state;
    chain c, fork;
    char why[VMDB_VFY_WHY];
    make_chain(f, &c, 0);
    make_chain(f, &fork, 50); /* the same up to seq 4, then other roots */
    for (uint64_t a = 0; a < NH; a++)
        for (uint64_t b = a; b < NH; b++)
            if (check_history(f, &c, &c, a, b, why) != 0)
                fail_msg("%llu..%llu: %s", (unsigned long long)a, (unsigned long long)b, why);
    /* Headers of the common part link across the fork... */
    assert_int_equal(check_history(f, &c, &fork, 3, 8, why), 0);
    /* ...a forked header does not. */
    assert_int_equal(check_history(f, &c, &fork, 6, 8, why), VMDB_EVERIFY);
    assert_non_null(strstr(why, "is not in the history of header 8"));
    /* Two different headers with the same seq. */
    assert_int_equal(check_history(f, &c, &fork, 7, 7, why), VMDB_EVERIFY);
    assert_non_null(strstr(why, "two different headers with seq 7"));
    vmdb_hist_free(c.hist);
    vmdb_hist_free(fork.hist);
}

/* ---- checkpoints ------------------------------------------------------------------ */

static void test_checkpoint(void **state)
{
    fx *f = *state;
    vmdb_buf text = VMDB_BUF_INIT, note = VMDB_BUF_INIT, addr = VMDB_BUF_INIT;
    uint8_t root[32], got[32];
    uint64_t n = 0;
    char why[VMDB_VFY_WHY], origin[128];
    memset(root, 0x5a, 32);
    assert_int_equal(vmdb_base58_encode(&addr, VMDB_SLICE(f->pk, 32)), 0);
    snprintf(origin, sizeof origin, "vmdb/%.*s", (int)addr.len, (const char *)addr.ptr);
    vmdb_slice name = VMDB_SLICE(origin, strlen(origin));
    assert_int_equal(vmdb_checkpoint_text(&text, name, 42, root), 0);
    assert_int_equal(vmdb_note_sign(&note, f->h, VMDB_SLICE(text.ptr, text.len), name, f->sk), 0);
    /* The default origin is vmdb/<address>. */
    assert_int_equal(
        vmdb_vfy_checkpoint(f->h, VMDB_SLICE(note.ptr, note.len), NULL, &f->pins, &n, got, why), 0);
    assert_int_equal(n, 42);
    assert_memory_equal(got, root, 32);
    /* Another origin, another key, a flipped signature bit, another size. */
    assert_int_equal(vmdb_vfy_checkpoint(f->h, VMDB_SLICE(note.ptr, note.len), "other.example/log",
                                         &f->pins, &n, got, why),
                     VMDB_EVERIFY);
    vmdb_vfy_pins p2 = f->pins;
    memcpy(p2.pk, f->pk2, 32);
    assert_int_equal(
        vmdb_vfy_checkpoint(f->h, VMDB_SLICE(note.ptr, note.len), NULL, &p2, &n, got, why),
        VMDB_EVERIFY);
    assert_non_null(strstr(why, "no signature by"));
    note.ptr[note.len - 10] ^= 1; /* inside the base64 of the signature */
    int rc =
        vmdb_vfy_checkpoint(f->h, VMDB_SLICE(note.ptr, note.len), NULL, &f->pins, &n, got, why);
    assert_true(rc != 0);
    note.ptr[note.len - 10] ^= 1;
    note.ptr[name.len + 1] = '3'; /* "42" -> "32" */
    assert_int_equal(
        vmdb_vfy_checkpoint(f->h, VMDB_SLICE(note.ptr, note.len), NULL, &f->pins, &n, got, why),
        VMDB_EVERIFY);
    assert_non_null(strstr(why, "checkpoint signature invalid"));
    vmdb_buf_free(&text);
    vmdb_buf_free(&note);
    vmdb_buf_free(&addr);
}

/* Base64 against RFC 4648 §10's vectors, and strictness. */
static void test_base64(void **state)
{
    (void)state;
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const want[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                       "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    uint8_t out[16];
    size_t n = 0;
    for (size_t i = 0; i < 7; i++) {
        vmdb_buf b = VMDB_BUF_INIT;
        assert_int_equal(vmdb_base64_encode(&b, VMDB_SLICE(in[i], strlen(in[i]))), 0);
        assert_int_equal(b.len, strlen(want[i]));
        assert_memory_equal(b.ptr ? (const char *)b.ptr : "", want[i], b.len);
        assert_int_equal(vmdb_base64_decode(out, sizeof out, &n, want[i], strlen(want[i])), 0);
        assert_int_equal(n, strlen(in[i]));
        assert_memory_equal(out, in[i], n);
        vmdb_buf_free(&b);
    }
    assert_int_equal(vmdb_base64_decode(out, sizeof out, &n, "Zh==", 4), VMDB_EPARSE);
    assert_int_equal(vmdb_base64_decode(out, sizeof out, &n, "Zg=", 3), VMDB_EPARSE);
    assert_int_equal(vmdb_base64_decode(out, sizeof out, &n, "Z=g=", 4), VMDB_EPARSE);
    assert_int_equal(vmdb_base64_decode(out, sizeof out, &n, "Zm 9", 4), VMDB_EPARSE);
    assert_true(vmdb_note_name_valid(VMDB_SLICE_STR("vmdb/abc")));
    assert_false(vmdb_note_name_valid(VMDB_SLICE_STR("a b")));
    assert_false(vmdb_note_name_valid(VMDB_SLICE_STR("a+b")));
    assert_false(vmdb_note_name_valid(VMDB_SLICE_STR("")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bundle_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bundle_tampered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint, setup, teardown),
        cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

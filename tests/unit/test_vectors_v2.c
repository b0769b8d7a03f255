/*
 * The protocol v2 vectors (docs/vectors/v2.json), produced by an
 * independent JavaScript implementation of PROTOCOL.md
 * (scripts/gen-vectors.mjs, checked by clients/js/src/protocol.mjs), replayed
 * through the C code item by item: the keys, chain_id derivations, v2
 * headers of every kind (encoding both ways, header_hash, committed and
 * intent signatures, JSON form), the v1->v2 upgrade link and the history
 * over mixed v1/v2 hashes, tree sequences step by step, the id-range leaf,
 * JSON proofs and multiproofs, the answer bundles (§9, §10), history proofs
 * and checkpoint notes through the verifier of `vmdb verify`, the trusted
 * state digest and file signature, and every negative vector, each of which
 * a C function must reject. Request-bound negatives (the client's own
 * request: the table, ids, limit it asked for, the header it holds) are
 * checked against the request here, as `vmdb verify` has no request: the C
 * verifier alone must not be the one to accept a tampered proof, so those
 * are listed by name and kept apart. A per-section count is printed so a
 * silently shrunk vector file would show.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/verify_bundle.h"
#include "testutil.h"
#include "trust/tstate.h"
#include "vmdb/base58.h"
#include "vmdb/header.h"
#include "vmdb/hist.h"
#include "vmdb/json.h"
#include "vmdb/proof.h"
#include "vmdb/rowhash.h"
#include "vmdb/smt.h"

static const vmdb_json_limits no_limits = {0, 0};

typedef struct v2ctx {
    tu_vectors *v;
    uint8_t pk[32], sk[64];
    uint8_t chain_id[32]; /* of the main chain (headers[0]) */
} v2ctx;

static int load(void **state)
{
    static const char *const known[] = {"version",
                                        "note",
                                        "key",
                                        "other_key",
                                        "chain_id",
                                        "headers",
                                        "header_upper_case_hex",
                                        "upgrade",
                                        "tree_sequences",
                                        "id_range",
                                        "row_values",
                                        "transitions",
                                        "json_proofs",
                                        "json_multiproofs",
                                        "answers",
                                        "history_proofs",
                                        "checkpoints",
                                        "trusted_state",
                                        "negative"};
    v2ctx *c = calloc(1, sizeof(*c));
    assert_non_null(c);
    c->v = tu_vectors_load(VMDB_VECTORS_V2, 2, known, sizeof(known) / sizeof(known[0]));
    const vmdb_json *key = vmdb_json_get(c->v->root, "key");
    uint8_t seed[32], pk[32];
    tu_json_hex32(key, "secret_seed", seed);
    tu_json_hex32(key, "public_key", pk);
    assert_int_equal(vmdb_ed25519_from_seed(c->pk, c->sk, seed), 0);
    assert_memory_equal(c->pk, pk, 32);
    tu_json_hex32(vmdb_json_at(tu_section(c->v, "headers"), 0), "chain_id", c->chain_id);
    *state = c;
    return 0;
}

static int unload(void **state)
{
    v2ctx *c = *state;
    tu_vectors_free(c->v);
    free(c);
    return 0;
}

static bool str_is(vmdb_slice s, const char *z)
{
    return s.len == strlen(z) && memcmp(s.ptr, z, s.len) == 0;
}

/* The JCS form of a parsed JSON value and of a JSON text must be equal. */
static void expect_same_json(const char *what, const vmdb_json *want, vmdb_slice got)
{
    vmdb_buf a = VMDB_BUF_INIT, b = VMDB_BUF_INIT;
    assert_int_equal(vmdb_jcs_write(&a, want), 0);
    if (vmdb_jcs_canonicalize(&b, got, &no_limits) != 0)
        fail_msg("%s: C output is not JSON: %.*s", what, (int)got.len, (const char *)got.ptr);
    if (a.len != b.len || memcmp(a.ptr, b.ptr, a.len) != 0)
        fail_msg("%s: C gives %.*s, want %.*s", what, (int)b.len, (const char *)b.ptr, (int)a.len,
                 (const char *)a.ptr);
    vmdb_buf_free(&a);
    vmdb_buf_free(&b);
}

static vmdb_vfy_pins pins_of(const v2ctx *c, const vmdb_json *it)
{
    vmdb_vfy_pins p;
    memset(&p, 0, sizeof(p));
    memcpy(p.pk, c->pk, 32);
    const vmdb_json *pk = vmdb_json_get(it, "public_key");
    if (pk)
        tu_json_hex32(it, "public_key", p.pk);
    const vmdb_json *ch = vmdb_json_get(it, "chain_id");
    if (ch && vmdb_json_typeof(ch) == VMDB_JSON_STRING) {
        tu_json_hex32(it, "chain_id", p.chain_id);
        p.has_chain_id = true;
    }
    return p;
}

/* --- keys and chain ids ----------------------------------------------------- */

static void check_key(const vmdb_json *key)
{
    uint8_t seed[32], pk[32], want[32], sk[64];
    tu_json_hex32(key, "secret_seed", seed);
    tu_json_hex32(key, "public_key", want);
    assert_int_equal(vmdb_ed25519_from_seed(pk, sk, seed), 0);
    tu_expect_bytes("key public_key", pk, 32, want, 32);
    vmdb_buf addr = VMDB_BUF_INIT;
    assert_int_equal(vmdb_base58_encode(&addr, VMDB_SLICE(pk, 32)), 0);
    vmdb_slice a = tu_json_str(key, "address");
    tu_expect_bytes("key address", addr.ptr, addr.len, a.ptr, a.len);
    vmdb_buf_free(&addr);
}

static void test_keys_chain_id(void **state)
{
    v2ctx *c = *state;
    check_key(vmdb_json_get(c->v->root, "key"));
    check_key(vmdb_json_get(c->v->root, "other_key"));
    const vmdb_json *cid = vmdb_json_get(c->v->root, "chain_id");
    static const char *const sect[] = {"nonce", "from_v1"};
    static const char *const src[] = {"nonce", "v1_header0_hash"};
    size_t n = 0;
    for (int s = 0; s < 2; s++) {
        const vmdb_json *a = tu_json_array(cid, sect[s]);
        assert_true(vmdb_json_size(a) > 0);
        for (size_t i = 0; i < vmdb_json_size(a); i++, n++) {
            const vmdb_json *it = vmdb_json_at(a, i);
            uint8_t pk[32], x[32], want[32], got[32];
            tu_json_hex32(it, "public_key", pk);
            tu_json_hex32(it, src[s], x);
            tu_json_hex32(it, "chain_id", want);
            /* §6.2: H("vmdb/v2/chain" 0x00 || public key || nonce or v1 hash). */
            vmdb_slice parts[] = {VMDB_SLICE("vmdb/v2/chain", 14), VMDB_SLICE(pk, 32),
                                  VMDB_SLICE(x, 32)};
            vmdb_hash_parts(c->v->h, got, parts, 3);
            tu_expect_bytes("chain_id", got, 32, want, 32);
        }
    }
    printf("vectors v2: keys 2, chain_id %zu/%zu derived\n", n, n);
}

/* --- headers ------------------------------------------------------------------ */

/* The message a v2 signature covers (§6.1). */
static void expect_message(const char *what, const vmdb_json *it, const char *member,
                           const char *ctx, const uint8_t hash[32])
{
    uint8_t want[64];
    size_t tl = strlen(ctx) + 1, mlen = 0;
    memcpy(want, ctx, tl);
    memcpy(want + tl, hash, 32);
    uint8_t *m = tu_json_hex(it, member, &mlen);
    tu_expect_bytes(what, m, mlen, want, tl + 32);
    free(m);
}

/* Checks one v2 header vector; fills *out. */
static void check_v2_header(v2ctx *c, const vmdb_json *it, const char *what, vmdb_sheader *out)
{
    vmdb_header hd, dec;
    uint8_t enc[VMDB_HEADER_MAX_LEN], hash[32], sig[64], isig[64], want_hash[32];
    memset(&hd, 0, sizeof(hd));
    hd.version = 2;
    hd.seq = tu_json_u64(it, "seq");
    assert_int_equal(tu_json_u64(it, "version"), 2);
    assert_int_equal(vmdb_header_kind_parse(&hd.kind, tu_json_str(it, "kind")), 0);
    assert_int_equal(hd.kind, tu_json_u64(it, "kind_code"));
    assert_true(str_is(tu_json_str(it, "kind"), vmdb_header_kind_name(hd.kind)));
    tu_json_hex32(it, "chain_id", hd.chain_id);
    tu_json_hex32(it, "smt_root", hd.smt_root);
    tu_json_hex32(it, "prev", hd.prev);
    tu_json_hex32(it, "history_root", hd.history_root);
    hd.time_ms = tu_json_u64(it, "time_ms");
    tu_json_hex32(it, "schema_hash", hd.schema_hash);

    size_t elen = 0, n = vmdb_header_encode(enc, &hd);
    uint8_t *want_enc = tu_json_hex(it, "encoded", &elen);
    tu_expect_bytes(what, enc, n, want_enc, elen);
    assert_int_equal(n, VMDB_HEADER_V2_LEN);
    memset(&dec, 0xa5, sizeof(dec));
    assert_int_equal(vmdb_header_decode(&dec, VMDB_SLICE(want_enc, elen)), 0);
    uint8_t again[VMDB_HEADER_MAX_LEN];
    assert_int_equal(vmdb_header_encode(again, &dec), n);
    tu_expect_bytes(what, again, n, want_enc, elen);
    assert_int_equal(dec.version, 2);
    assert_int_equal(dec.kind, hd.kind);
    free(want_enc);

    vmdb_header_hash(c->v->h, hash, &hd);
    tu_json_hex32(it, "header_hash", want_hash);
    tu_expect_bytes(what, hash, 32, want_hash, 32);
    expect_message(what, it, "committed_message", "vmdb/v2/committed", hash);
    expect_message(what, it, "intent_message", "vmdb/v2/intent", hash);

    /* Ed25519 is deterministic: our signatures are the vectors' bytes. */
    size_t sl = 0;
    uint8_t *want_sig = tu_json_hex(it, "sig", &sl), *want_isig = NULL;
    assert_int_equal(sl, 64);
    want_isig = tu_json_hex(it, "intent_sig", &sl);
    assert_int_equal(sl, 64);
    assert_int_equal(vmdb_header_sign(sig, 2, VMDB_SIG_COMMITTED, hash, c->sk), 0);
    assert_int_equal(vmdb_header_sign(isig, 2, VMDB_SIG_INTENT, hash, c->sk), 0);
    tu_expect_bytes(what, sig, 64, want_sig, 64);
    tu_expect_bytes(what, isig, 64, want_isig, 64);
    assert_int_equal(vmdb_header_verify_sig(want_sig, 2, VMDB_SIG_COMMITTED, hash, c->pk), 0);
    assert_int_equal(vmdb_header_verify_sig(want_isig, 2, VMDB_SIG_INTENT, hash, c->pk), 0);
    /* Neither passes for the other purpose, or as a bare-hash v1 signature. */
    assert_int_equal(vmdb_header_verify_sig(want_isig, 2, VMDB_SIG_COMMITTED, hash, c->pk),
                     VMDB_EVERIFY);
    assert_int_equal(vmdb_header_verify_sig(want_sig, 2, VMDB_SIG_INTENT, hash, c->pk),
                     VMDB_EVERIFY);
    assert_int_equal(vmdb_header_verify_sig(want_sig, 1, VMDB_SIG_COMMITTED, hash, c->pk),
                     VMDB_EVERIFY);

    /* JSON form (§6.3), and the verifier reads it back. */
    vmdb_buf js = VMDB_BUF_INIT;
    assert_int_equal(vmdb_header_to_json(&js, c->v->h, &hd, want_sig), 0);
    expect_same_json(what, vmdb_json_get(it, "json"), VMDB_SLICE(js.ptr, js.len));
    vmdb_buf_free(&js);
    vmdb_vfy_pins pins;
    char why[VMDB_VFY_WHY] = "";
    memset(&pins, 0, sizeof(pins));
    memcpy(pins.pk, c->pk, 32);
    pins.has_chain_id = true;
    memcpy(pins.chain_id, hd.chain_id, 32);
    if (vmdb_vfy_check_header(c->v->h, vmdb_json_get(it, "json"), &pins, out, why) != 0)
        fail_msg("%s: vmdb_vfy_check_header: %s", what, why);
    assert_memory_equal(out->hash, hash, 32);
    assert_memory_equal(out->sig, want_sig, 64);
    assert_int_equal(vmdb_sheader_verify(out, c->v->h, c->pk), 0);
    free(want_sig);
    free(want_isig);
}

static void test_headers(void **state)
{
    v2ctx *c = *state;
    const vmdb_json *a = tu_section(c->v, "headers");
    size_t n = vmdb_json_size(a);
    bool kinds[VMDB_KIND_COUNT] = {false};
    vmdb_sheader prev, cur;
    for (size_t i = 0; i < n; i++) {
        char what[64];
        snprintf(what, sizeof(what), "v2 header %zu", i);
        check_v2_header(c, vmdb_json_at(a, i), what, &cur);
        kinds[cur.h.kind] = true;
        /* The main chain links header to header; the upgrade header that
         * closes the list belongs to the upgrade chain. */
        if (i > 0 && cur.h.kind != VMDB_KIND_UPGRADE)
            assert_int_equal(vmdb_header_check_link(c->v->h, &prev.h, &cur.h), 0);
        prev = cur;
    }
    for (unsigned k = 0; k < VMDB_KIND_COUNT; k++)
        if (!kinds[k])
            fail_msg("no header of kind %s", vmdb_header_kind_name(k));

    /* Upper-case hex is accepted (§0: parsers accept either case). */
    vmdb_vfy_pins pins = pins_of(c, c->v->root);
    memcpy(pins.chain_id, c->chain_id, 32);
    pins.has_chain_id = true;
    char why[VMDB_VFY_WHY] = "";
    vmdb_sheader up;
    if (vmdb_vfy_check_header(c->v->h, vmdb_json_get(c->v->root, "header_upper_case_hex"), &pins,
                              &up, why) != 0)
        fail_msg("upper-case hex header rejected: %s", why);
    printf("vectors v2: headers %zu/%zu (all %d kinds), upper-case hex accepted\n", n, n,
           VMDB_KIND_COUNT);
}

/* --- the v1 -> v2 upgrade ----------------------------------------------------- */

static void test_upgrade(void **state)
{
    v2ctx *c = *state;
    const vmdb_json *u = vmdb_json_get(c->v->root, "upgrade");
    assert_non_null(u);
    const vmdb_json *v1 = tu_json_array(u, "v1_headers"), *v2 = tu_json_array(u, "v2_headers");
    size_t n1 = vmdb_json_size(v1), n2 = vmdb_json_size(v2), nall = n1 + n2;
    assert_true(n1 > 0 && n2 > 0);
    vmdb_sheader *all = calloc(nall, sizeof(*all));
    assert_non_null(all);
    for (size_t i = 0; i < n1; i++) {
        const vmdb_json *it = vmdb_json_at(v1, i);
        size_t elen = 0, sl = 0;
        uint8_t *enc = tu_json_hex(it, "encoded", &elen), want[32], again[VMDB_HEADER_MAX_LEN];
        uint8_t *sig = tu_json_hex(it, "sig", &sl);
        assert_int_equal(sl, 64);
        assert_int_equal(vmdb_header_decode(&all[i].h, VMDB_SLICE(enc, elen)), 0);
        assert_int_equal(all[i].h.version, 1);
        assert_int_equal(all[i].h.seq, tu_json_u64(it, "seq"));
        assert_int_equal(vmdb_header_encode(again, &all[i].h), elen);
        tu_expect_bytes("v1 header encoding", again, elen, enc, elen);
        vmdb_header_hash(c->v->h, all[i].hash, &all[i].h);
        tu_json_hex32(it, "header_hash", want);
        tu_expect_bytes("v1 header_hash", all[i].hash, 32, want, 32);
        memcpy(all[i].sig, sig, 64);
        assert_int_equal(vmdb_header_verify_sig(sig, 1, VMDB_SIG_COMMITTED, all[i].hash, c->pk), 0);
        assert_int_equal(vmdb_sheader_verify(&all[i], c->v->h, c->pk), 0);
        vmdb_buf js = VMDB_BUF_INIT;
        assert_int_equal(vmdb_header_to_json(&js, c->v->h, &all[i].h, sig), 0);
        expect_same_json("v1 header json", vmdb_json_get(it, "json"), VMDB_SLICE(js.ptr, js.len));
        vmdb_buf_free(&js);
        free(enc);
        free(sig);
    }
    for (size_t i = 0; i < n2; i++) {
        char what[64];
        snprintf(what, sizeof(what), "upgrade v2 header %zu", i);
        check_v2_header(c, vmdb_json_at(v2, i), what, &all[n1 + i]);
    }
    assert_int_equal(all[n1].h.kind, VMDB_KIND_UPGRADE);
    /* The chain id of the upgraded chain derives from v1 header 0 (§6.2). */
    uint8_t cid[32], want[32];
    vmdb_slice parts[] = {VMDB_SLICE("vmdb/v2/chain", 14), VMDB_SLICE(c->pk, 32),
                          VMDB_SLICE(all[0].hash, 32)};
    vmdb_hash_parts(c->v->h, cid, parts, 3);
    tu_json_hex32(u, "chain_id", want);
    tu_expect_bytes("upgrade chain_id", cid, 32, want, 32);
    for (size_t i = n1; i < nall; i++)
        assert_memory_equal(all[i].h.chain_id, cid, 32);
    /* Every link holds, v1 to v1, v1 to v2 (the upgrade), v2 to v2; and the
     * version never goes back. */
    for (size_t i = 1; i < nall; i++)
        if (vmdb_header_check_link(c->v->h, &all[i - 1].h, &all[i].h) != 0)
            fail_msg("upgrade link %zu -> %zu rejected: %s", i - 1, i, vmdb_error_last());
    assert_int_equal(vmdb_header_check_link(c->v->h, &all[n1].h, &all[n1 - 1].h), VMDB_EVERIFY);

    /* The history over the mixed hashes: leaves, and the root at every size,
     * which each header carries for the headers before it. */
    const vmdb_json *leaves = tu_json_array(u, "history_leaves"),
                    *roots = tu_json_array(u, "history_roots");
    assert_int_equal(vmdb_json_size(leaves), nall);
    vmdb_hist *hist = NULL;
    assert_int_equal(vmdb_hist_new(&hist), 0);
    for (size_t i = 0; i < nall; i++) {
        uint8_t leaf[32];
        tu_elem_hex32(vmdb_json_at(leaves, i), leaf);
        tu_expect_bytes("history leaf", all[i].hash, 32, leaf, 32);
        uint8_t r[32];
        assert_int_equal(vmdb_hist_root(hist, c->v->h, i, r), 0);
        tu_expect_bytes("header history_root", all[i].h.history_root, 32, r, 32);
        assert_int_equal(vmdb_hist_append(hist, c->v->h, leaf), 0);
    }
    for (size_t i = 0; i < vmdb_json_size(roots); i++) {
        const vmdb_json *it = vmdb_json_at(roots, i);
        uint64_t sz = tu_json_u64(it, "size");
        uint8_t r[32], w[32];
        tu_json_hex32(it, "root", w);
        assert_int_equal(vmdb_hist_root(hist, c->v->h, sz, r), 0);
        tu_expect_bytes("history root", r, 32, w, 32);
    }
    vmdb_hist_free(hist);

    /* History proofs across the upgrade (a v1 `from`, a v2 `to`). */
    const vmdb_json *hp = tu_json_array(u, "history_proofs");
    vmdb_vfy_pins pins;
    memset(&pins, 0, sizeof(pins));
    memcpy(pins.pk, c->pk, 32);
    memcpy(pins.chain_id, cid, 32);
    pins.has_chain_id = true;
    for (size_t i = 0; i < vmdb_json_size(hp); i++) {
        vmdb_vfy_header from, to;
        char why[VMDB_VFY_WHY] = "";
        if (vmdb_vfy_history(c->v->h, vmdb_json_at(hp, i), &pins, &from, &to, why) != 0)
            fail_msg("upgrade history proof %zu: %s", i, why);
    }
    printf("vectors v2: upgrade %zu v1 + %zu v2 headers linked, %zu history roots, %zu history "
           "proofs\n",
           n1, n2, vmdb_json_size(roots), vmdb_json_size(hp));
    free(all);
}

/* --- trees and the id range ------------------------------------------------------- */

static void test_tree_sequences(void **state)
{
    v2ctx *c = *state;
    const vmdb_json *a = tu_section(c->v, "tree_sequences");
    size_t nsteps = 0;
    vmdb_proof *p = malloc(sizeof(*p));
    assert_non_null(p);
    for (size_t s = 0; s < vmdb_json_size(a); s++) {
        const vmdb_json *seq = vmdb_json_at(a, s);
        vmdb_slice table = tu_json_str(seq, "table"), name = tu_json_str(seq, "name");
        const vmdb_json *steps = tu_json_array(seq, "steps");
        vmdb_smt *t = NULL;
        assert_int_equal(vmdb_smt_new(&t, 0), 0);
        for (size_t i = 0; i < vmdb_json_size(steps); i++, nsteps++) {
            const vmdb_json *st = vmdb_json_at(steps, i);
            char what[128];
            snprintf(what, sizeof(what), "tree sequence %.*s step %zu", (int)name.len,
                     (const char *)name.ptr, i);
            vmdb_smt_change ch;
            uint8_t key[32], root[32], want[32];
            memset(&ch, 0, sizeof(ch));
            vmdb_slice id = tu_json_str(st, "id"), op = tu_json_str(st, "op");
            tu_json_hex32(st, "key", ch.key);
            assert_int_equal(vmdb_row_key(c->v->h, key, table, id), 0);
            tu_expect_bytes(what, key, 32, ch.key, 32);
            ch.remove = str_is(op, "delete");
            if (!ch.remove) {
                assert_true(str_is(op, "insert") || str_is(op, "update"));
                tu_json_hex32(st, "value", ch.value);
            }
            if (vmdb_smt_update(t, &ch, 1) != 0)
                fail_msg("%s: %s", what, vmdb_error_last());
            const vmdb_smt_view *cur = vmdb_smt_current(t);
            vmdb_smt_view_root(cur, root);
            tu_json_hex32(st, "root", want);
            tu_expect_bytes(what, root, 32, want, 32);
            assert_int_equal(vmdb_smt_view_count(cur), tu_json_u64(st, "size"));
            /* The proof of the key just touched has the vectors' depth. */
            uint8_t val[32];
            vmdb_smt_prove(t, cur, c->v->h, ch.key, p, val);
            assert_int_equal(p->depth, tu_json_u64(st, "depth"));
            assert_int_equal(
                vmdb_proof_verify(c->v->h, root, ch.key, ch.remove ? NULL : ch.value, p), 0);
        }
        vmdb_slice z =
            VMDB_SLICE("\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 32);
        uint8_t root[32];
        vmdb_smt_view_root(vmdb_smt_current(t), root);
        tu_expect_bytes("sequence ends empty", root, 32, z.ptr, 32);
        vmdb_smt_free(t);
    }
    free(p);
    printf("vectors v2: tree_sequences %zu, %zu steps\n", vmdb_json_size(a), nsteps);
}

static void test_id_range(void **state)
{
    v2ctx *c = *state;
    const vmdb_json *a = tu_section(c->v, "id_range");
    for (size_t i = 0; i < vmdb_json_size(a); i++) {
        const vmdb_json *it = vmdb_json_at(a, i);
        uint8_t k[32], v[32], wk[32], wv[32];
        assert_int_equal(vmdb_range_key(c->v->h, k, tu_json_str(it, "table")), 0);
        assert_int_equal(vmdb_range_value(c->v->h, v, tu_json_str(it, "lo"), tu_json_str(it, "hi")),
                         0);
        tu_json_hex32(it, "range_key", wk);
        tu_json_hex32(it, "range_value", wv);
        tu_expect_bytes("range_key", k, 32, wk, 32);
        tu_expect_bytes("range_value", v, 32, wv, 32);
    }
    printf("vectors v2: id_range %zu/%zu\n", vmdb_json_size(a), vmdb_json_size(a));
}

/* --- §2.2 row values ------------------------------------------------------------------ */

/* Each row: its JCS and value as given; each json/jsonb column's text
 * mapped as §2.2 says (vmdb_row_json_column: the value, or {"$jsonb": text}
 * when unsafe); and the row as the store reads it, the JSON columns as
 * their text, hashed by vmdb_row_value_cols to the same value. */
static void test_row_values(void **state)
{
    v2ctx *c = *state;
    const vmdb_json *a = tu_section(c->v, "row_values");
    vmdb_buf scratch = VMDB_BUF_INIT, raw = VMDB_BUF_INIT, col = VMDB_BUF_INIT;
    size_t njson = 0, nwrapped = 0;
    for (size_t i = 0; i < vmdb_json_size(a); i++) {
        const vmdb_json *it = vmdb_json_at(a, i);
        const vmdb_json *cols = tu_json_array(it, "columns"),
                        *jc = vmdb_json_get(it, "json_columns");
        vmdb_slice name = tu_json_str(it, "name"), jcs = tu_json_str(it, "jcs");
        uint8_t v[32], want[32];
        const char *names[16];
        char namebuf[16][64];
        size_t nnames = 0;
        tu_json_hex32(it, "value", want);
        assert_int_equal(vmdb_row_value(c->v->h, v, tu_json_str(it, "row"), NULL, &scratch), 0);
        tu_expect_bytes("row_values jcs", scratch.ptr, scratch.len, jcs.ptr, jcs.len);
        tu_expect_bytes("row_values value", v, 32, want, 32);
        for (size_t k = 0; jc && k < vmdb_json_size(jc); k++) {
            const vmdb_json *x = vmdb_json_at(jc, k);
            vmdb_slice xn = tu_json_str(x, "name"), xj = tu_json_str(x, "json");
            bool wrapped = false;
            col.len = 0;
            assert_int_equal(vmdb_row_json_column(&col, tu_json_str(x, "text"), &wrapped), 0);
            tu_expect_bytes("row_values json column", col.ptr, col.len, xj.ptr, xj.len);
            if (wrapped != tu_json_bool(x, "wrapped"))
                fail_msg("row_values %.*s.%.*s: wrapped %d", (int)name.len, (const char *)name.ptr,
                         (int)xn.len, (const char *)xn.ptr, wrapped);
            assert_true(nnames < 16 && xn.len < 64);
            memcpy(namebuf[nnames], xn.ptr, xn.len);
            namebuf[nnames][xn.len] = 0;
            names[nnames] = namebuf[nnames];
            nnames++;
            njson++;
            nwrapped += wrapped;
        }
        /* The row as read: JSON columns as their text (a JSON string). */
        raw.len = 0;
        assert_int_equal(vmdb_buf_putc(&raw, '{'), 0);
        for (size_t k = 0; k < vmdb_json_size(cols); k++) {
            const vmdb_json *x = vmdb_json_at(cols, k);
            vmdb_slice xn = tu_json_str(x, "name");
            const vmdb_json *jx = NULL;
            for (size_t m = 0; jc && m < vmdb_json_size(jc); m++) {
                vmdb_slice mn = tu_json_str(vmdb_json_at(jc, m), "name");
                if (mn.len == xn.len && memcmp(mn.ptr, xn.ptr, xn.len) == 0)
                    jx = vmdb_json_at(jc, m);
            }
            assert_int_equal(k ? vmdb_buf_putc(&raw, ',') : 0, 0);
            assert_int_equal(vmdb_jcs_string(&raw, xn), 0);
            assert_int_equal(vmdb_buf_putc(&raw, ':'), 0);
            if (jx) {
                assert_int_equal(vmdb_jcs_string(&raw, tu_json_str(jx, "text")), 0);
            } else {
                vmdb_slice xj = tu_json_str(x, "json");
                assert_int_equal(vmdb_buf_put(&raw, xj.ptr, xj.len), 0);
            }
        }
        assert_int_equal(vmdb_buf_putc(&raw, '}'), 0);
        assert_int_equal(vmdb_row_value_cols(c->v->h, v, VMDB_SLICE(raw.ptr, raw.len), names,
                                             nnames, NULL, &scratch),
                         0);
        tu_expect_bytes("row_values value from the row as read", v, 32, want, 32);
    }
    vmdb_buf_free(&scratch);
    vmdb_buf_free(&raw);
    vmdb_buf_free(&col);
    assert_true(nwrapped > 0 && nwrapped < njson);
    printf("vectors v2: row_values %zu rows, %zu json columns (%zu wrapped)\n", vmdb_json_size(a),
           njson, nwrapped);
}

/* --- JSON proofs and multiproofs ---------------------------------------------------- */

/* The JSON form of a single proof (§4) into the struct, checking only what
 * the struct cannot hold (hex, lengths); the shape checks (bitmap bits
 * beyond depth, sibling count) are vmdb_proof_decode's, reached through a
 * binary round trip. 0, or VMDB_EPARSE for JSON that does not fit. */
static int proof_from_json(vmdb_proof *p, const vmdb_json *j, uint8_t key[32], uint8_t value[32],
                           bool *has_value)
{
    vmdb_proof q;
    memset(&q, 0, sizeof(q));
    vmdb_slice kind = vmdb_json_string(vmdb_json_get(j, "kind"));
    q.kind = str_is(kind, "inclusion")      ? VMDB_PROOF_INCLUSION
             : str_is(kind, "absent_empty") ? VMDB_PROOF_ABSENT_EMPTY
             : str_is(kind, "absent_leaf")  ? VMDB_PROOF_ABSENT_LEAF
                                            : 255;
    const vmdb_json *d = vmdb_json_get(j, "depth"), *sib = vmdb_json_get(j, "siblings");
    vmdb_slice k = vmdb_json_string(vmdb_json_get(j, "key")),
               bm = vmdb_json_string(vmdb_json_get(j, "bitmap"));
    if (q.kind == 255 || !d || vmdb_json_typeof(d) != VMDB_JSON_NUMBER || !sib ||
        vmdb_json_typeof(sib) != VMDB_JSON_ARRAY || vmdb_json_size(sib) > 256 || k.len != 64 ||
        vmdb_hex_decode(key, 32, (const char *)k.ptr, k.len) || bm.len % 2 || bm.len > 64 ||
        vmdb_hex_decode(q.bitmap, bm.len / 2, (const char *)bm.ptr, bm.len))
        return VMDB_EPARSE;
    double dd = vmdb_json_number(d);
    if (!(dd >= 0 && dd <= 256))
        return VMDB_EPARSE;
    q.depth = (uint16_t)dd;
    q.nsiblings = (uint16_t)vmdb_json_size(sib);
    for (size_t i = 0; i < q.nsiblings; i++) {
        vmdb_slice s = vmdb_json_string(vmdb_json_at(sib, i));
        if (s.len != 64 || vmdb_hex_decode(q.siblings[i], 32, (const char *)s.ptr, s.len))
            return VMDB_EPARSE;
    }
    const vmdb_json *v = vmdb_json_get(j, "value");
    *has_value = v && vmdb_json_typeof(v) == VMDB_JSON_STRING;
    if (*has_value) {
        vmdb_slice s = vmdb_json_string(v);
        if (s.len != 64 || vmdb_hex_decode(value, 32, (const char *)s.ptr, s.len))
            return VMDB_EPARSE;
    }
    if (q.kind == VMDB_PROOF_ABSENT_LEAF) {
        vmdb_slice ok = vmdb_json_string(vmdb_json_get(j, "other_key")),
                   ov = vmdb_json_string(vmdb_json_get(j, "other_value"));
        if (ok.len != 64 || ov.len != 64 ||
            vmdb_hex_decode(q.other_key, 32, (const char *)ok.ptr, ok.len) ||
            vmdb_hex_decode(q.other_value, 32, (const char *)ov.ptr, ov.len))
            return VMDB_EPARSE;
    }
    vmdb_buf b = VMDB_BUF_INIT;
    int rc = vmdb_proof_encode(&b, &q);
    if (rc == 0)
        rc = vmdb_proof_decode(p, VMDB_SLICE(b.ptr, b.len));
    vmdb_buf_free(&b);
    return rc;
}

/* §14.2: the transition leaf of each record (from its JCS text and from the
 * record object through vmdb's own JCS), and the answer's proof against its
 * header's smt_root. */
static void test_transitions(void **state)
{
    v2ctx *c = *state;
    const vmdb_json *t = vmdb_json_get(c->v->root, "transitions");
    assert_non_null(t);
    const vmdb_json *recs = tu_json_array(t, "records"), *ans = tu_json_array(t, "answers");
    vmdb_buf scratch = VMDB_BUF_INIT, js = VMDB_BUF_INIT;
    for (size_t i = 0; i < vmdb_json_size(recs); i++) {
        const vmdb_json *it = vmdb_json_at(recs, i);
        uint8_t k[32], v[32], v2[32], wk[32], wv[32];
        vmdb_transition_key(c->v->h, k, tu_json_u64(it, "seq"));
        vmdb_transition_value(c->v->h, v, tu_json_str(it, "record_jcs"));
        js.len = 0;
        assert_int_equal(vmdb_jcs_write(&js, vmdb_json_get(it, "record")), 0);
        assert_int_equal(
            vmdb_transition_value_json(c->v->h, v2, VMDB_SLICE(js.ptr, js.len), &scratch), 0);
        tu_json_hex32(it, "transition_key", wk);
        tu_json_hex32(it, "transition_value", wv);
        tu_expect_bytes("transition_key", k, 32, wk, 32);
        tu_expect_bytes("transition_value", v, 32, wv, 32);
        tu_expect_bytes("transition_value of the record", v2, 32, wv, 32);
    }
    assert_int_equal(
        vmdb_transition_value_json(c->v->h, (uint8_t[32]){0}, VMDB_SLICE_STR("[1]"), &scratch),
        VMDB_EINVAL);
    vmdb_proof *p = malloc(sizeof(*p));
    assert_non_null(p);
    for (size_t i = 0; i < vmdb_json_size(ans); i++) {
        const vmdb_json *a = vmdb_json_at(ans, i), *hdr = vmdb_json_get(a, "header");
        uint8_t root[32], key[32], value[32], want[32];
        bool has_value = false;
        tu_json_hex32(hdr, "smt_root", root);
        if (proof_from_json(p, vmdb_json_get(a, "proof"), key, value, &has_value) != 0)
            fail_msg("transition answer %zu: proof does not decode: %s", i, vmdb_error_last());
        assert_true(has_value);
        vmdb_transition_key(c->v->h, want, tu_json_u64(hdr, "seq"));
        tu_expect_bytes("transition answer key", key, 32, want, 32);
        js.len = 0;
        assert_int_equal(vmdb_jcs_write(&js, vmdb_json_get(a, "record")), 0);
        vmdb_transition_value(c->v->h, want, VMDB_SLICE(js.ptr, js.len));
        tu_expect_bytes("transition answer value", value, 32, want, 32);
        if (vmdb_proof_verify(c->v->h, root, key, value, p) != 0)
            fail_msg("transition answer %zu does not verify: %s", i, vmdb_error_last());
    }
    free(p);
    vmdb_buf_free(&scratch);
    vmdb_buf_free(&js);
    printf("vectors v2: transitions %zu records, %zu answers\n", vmdb_json_size(recs),
           vmdb_json_size(ans));
}

static void test_json_proofs(void **state)
{
    v2ctx *c = *state;
    const vmdb_json *a = tu_section(c->v, "json_proofs");
    vmdb_proof *p = malloc(sizeof(*p));
    assert_non_null(p);
    for (size_t i = 0; i < vmdb_json_size(a); i++) {
        const vmdb_json *it = vmdb_json_at(a, i), *pj = vmdb_json_get(it, "proof");
        uint8_t root[32], key[32], value[32];
        bool has_value = false, present = tu_json_bool(it, "present");
        tu_json_hex32(it, "root", root);
        if (proof_from_json(p, pj, key, value, &has_value) != 0)
            fail_msg("json proof %zu does not decode: %s", i, vmdb_error_last());
        assert_int_equal(has_value, present);
        if (vmdb_proof_verify(c->v->h, root, key, present ? value : NULL, p) != 0)
            fail_msg("json proof %zu does not verify: %s", i, vmdb_error_last());
        assert_int_equal(vmdb_proof_verify(c->v->h, root, key, present ? NULL : key, p),
                         VMDB_EVERIFY);
        vmdb_buf js = VMDB_BUF_INIT;
        assert_int_equal(vmdb_proof_to_json(&js, p, key, present ? value : NULL), 0);
        expect_same_json("json proof", pj, VMDB_SLICE(js.ptr, js.len));
        vmdb_buf_free(&js);
    }
    free(p);

    const vmdb_json *m = tu_section(c->v, "json_multiproofs");
    for (size_t i = 0; i < vmdb_json_size(m); i++) {
        const vmdb_json *it = vmdb_json_at(m, i), *mp = vmdb_json_get(it, "multiproof");
        const vmdb_json *keys = tu_json_array(mp, "keys"), *vals = vmdb_json_get(it, "values");
        size_t nk = vmdb_json_size(keys), plen = 0;
        uint8_t root[32], (*k)[32] = calloc(nk, 32), (*got)[32] = calloc(nk, 32);
        bool *pres = calloc(nk, sizeof(bool));
        assert_true(k && got && pres && vals);
        tu_json_hex32(it, "root", root);
        for (size_t j = 0; j < nk; j++)
            tu_elem_hex32(vmdb_json_at(keys, j), k[j]);
        uint8_t *proof = tu_json_hex(mp, "proof", &plen);
        if (vmdb_multiproof_verify(c->v->h, root, (const uint8_t(*)[32])k, nk,
                                   VMDB_SLICE(proof, plen), got, pres) != 0)
            fail_msg("json multiproof %zu: %s", i, vmdb_error_last());
        for (size_t j = 0; j < nk; j++) {
            vmdb_slice kh = vmdb_json_string(vmdb_json_at(keys, j));
            char kz[65];
            memcpy(kz, kh.ptr, 64);
            kz[64] = 0;
            const vmdb_json *wv = vmdb_json_get(vals, kz);
            assert_non_null(wv);
            assert_int_equal(pres[j], vmdb_json_typeof(wv) == VMDB_JSON_STRING);
            if (pres[j]) {
                uint8_t w[32];
                tu_elem_hex32(wv, w);
                tu_expect_bytes("multiproof value", got[j], 32, w, 32);
            }
        }
        free(proof);
        free(k);
        free(got);
        free(pres);
    }
    printf("vectors v2: json_proofs %zu, json_multiproofs %zu verified\n", vmdb_json_size(a),
           vmdb_json_size(m));
}

/* --- answers, history proofs, checkpoints ------------------------------------------ */

#define MAX_REQ_IDS 64

/* The verifier options of a vector (table, ids, order, limit,
 * requireComplete) as the request vmdb_vfy_bundle checks the answer
 * against; *ids holds the id slices (pointing into the vector). */
static vmdb_vfy_request request_of(const vmdb_json *it, char table[64], vmdb_slice ids[MAX_REQ_IDS])
{
    vmdb_vfy_request r;
    memset(&r, 0, sizeof(r));
    const vmdb_json *opts = vmdb_json_get(it, "opts");
    const vmdb_json *t = vmdb_json_get(opts, "table"), *i = vmdb_json_get(opts, "ids");
    const vmdb_json *l = vmdb_json_get(opts, "limit"), *o = vmdb_json_get(opts, "order");
    const vmdb_json *rc = vmdb_json_get(opts, "requireComplete");
    if (t) {
        vmdb_slice ts = vmdb_json_string(t);
        assert_true(ts.len > 0 && ts.len < 64);
        memcpy(table, ts.ptr, ts.len);
        table[ts.len] = 0;
        r.table = table;
    }
    if (i) {
        assert_true(vmdb_json_size(i) <= MAX_REQ_IDS);
        for (size_t k = 0; k < vmdb_json_size(i); k++)
            ids[k] = vmdb_json_string(vmdb_json_at(i, k));
        r.ids = ids;
        r.nids = vmdb_json_size(i);
        r.has_ids = true;
    }
    if (l)
        r.limit = tu_json_u64(opts, "limit");
    if (o)
        r.order = str_is(vmdb_json_string(o), "asc") ? VMDB_VFY_ORDER_ASC : VMDB_VFY_ORDER_DESC;
    r.require_complete = rc && vmdb_json_typeof(rc) == VMDB_JSON_TRUE;
    return r;
}

/* The kind vmdb_vfy_bundle tells from the answer's members. */
static vmdb_vfy_kind kind_of(vmdb_slice k)
{
    return str_is(k, "read-batch")     ? VMDB_VFY_READ_BATCH
           : str_is(k, "read-latest")  ? VMDB_VFY_READ_LATEST
           : str_is(k, "delete-batch") ? VMDB_VFY_DELETE
                                       : VMDB_VFY_WRITE;
}

static void test_answers(void **state)
{
    v2ctx *c = *state;
    const vmdb_json *a = tu_section(c->v, "answers");
    for (size_t i = 0; i < vmdb_json_size(a); i++) {
        const vmdb_json *it = vmdb_json_at(a, i);
        vmdb_slice name = tu_json_str(it, "name");
        vmdb_vfy_pins pins = pins_of(c, it);
        vmdb_vfy_bundle_result res;
        char why[VMDB_VFY_WHY] = "", table[64];
        vmdb_slice ids[MAX_REQ_IDS];
        vmdb_vfy_request req = request_of(it, table, ids);
        /* With the request the vector names and without one. */
        if (vmdb_vfy_bundle(c->v->h, vmdb_json_get(it, "data"), &pins, &req, &res, why) != 0)
            fail_msg("answer %.*s rejected: %s", (int)name.len, (const char *)name.ptr, why);
        if (vmdb_vfy_bundle(c->v->h, vmdb_json_get(it, "data"), &pins, NULL, &res, why) != 0)
            fail_msg("answer %.*s rejected without its request: %s", (int)name.len,
                     (const char *)name.ptr, why);
        const vmdb_json *dc = vmdb_json_get(vmdb_json_get(it, "data"), "complete");
        assert_int_equal(res.complete, dc && vmdb_json_typeof(dc) == VMDB_JSON_TRUE);
        assert_int_equal(res.kind, kind_of(tu_json_str(it, "kind")));
        const vmdb_json *cp =
            vmdb_json_get(vmdb_json_get(vmdb_json_get(it, "data"), "proof"), "complete");
        if (cp) {
            assert_int_equal(res.limit, tu_json_u64(cp, "limit"));
            assert_int_equal(res.desc, str_is(tu_json_str(cp, "order"), "desc"));
        }
    }
    printf("vectors v2: answers %zu/%zu verified\n", vmdb_json_size(a), vmdb_json_size(a));
}

static void test_history_checkpoints(void **state)
{
    v2ctx *c = *state;
    const vmdb_json *a = tu_section(c->v, "history_proofs");
    vmdb_vfy_pins pins;
    memset(&pins, 0, sizeof(pins));
    memcpy(pins.pk, c->pk, 32);
    memcpy(pins.chain_id, c->chain_id, 32);
    pins.has_chain_id = true;
    for (size_t i = 0; i < vmdb_json_size(a); i++) {
        vmdb_vfy_header from, to;
        char why[VMDB_VFY_WHY] = "";
        if (vmdb_vfy_history(c->v->h, vmdb_json_at(a, i), &pins, &from, &to, why) != 0)
            fail_msg("history proof %zu: %s", i, why);
    }
    const vmdb_json *cp = tu_section(c->v, "checkpoints");
    for (size_t i = 0; i < vmdb_json_size(cp); i++) {
        const vmdb_json *it = vmdb_json_at(cp, i);
        vmdb_slice origin = tu_json_str(it, "origin");
        char oz[256];
        snprintf(oz, sizeof(oz), "%.*s", (int)origin.len, (const char *)origin.ptr);
        uint64_t n = 0;
        uint8_t root[32], want[32];
        char why[VMDB_VFY_WHY] = "";
        if (vmdb_vfy_checkpoint(c->v->h, tu_json_str(it, "note"), oz, &pins, &n, root, why) != 0)
            fail_msg("checkpoint %zu: %s", i, why);
        assert_int_equal(n, tu_json_u64(it, "size"));
        tu_json_hex32(it, "root", want);
        tu_expect_bytes("checkpoint root", root, 32, want, 32);
    }
    printf("vectors v2: history_proofs %zu, checkpoints %zu verified\n", vmdb_json_size(a),
           vmdb_json_size(cp));
}

/* --- trusted state ------------------------------------------------------------------- */

/* Writes a trusted state file's JSON to a fresh temporary file and reads it
 * with vmdb_tstate_read against pk. */
static int read_tstate(v2ctx *c, const vmdb_json *file, const uint8_t pk[32], vmdb_tstate *ts,
                       char *why, size_t whylen)
{
    char path[] = "/tmp/vmdb-tstate-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    vmdb_buf b = VMDB_BUF_INIT;
    assert_int_equal(vmdb_jcs_write(&b, file), 0);
    assert_int_equal(write(fd, b.ptr, b.len), (ssize_t)b.len);
    close(fd);
    int rc = vmdb_tstate_read(path, ts, c->v->h, pk, why, whylen);
    unlink(path);
    vmdb_buf_free(&b);
    return rc;
}

/* The header and signature of a slot {seq, header, sig}. */
static size_t slot(const vmdb_json *s, uint8_t enc[VMDB_HEADER_MAX_LEN], uint8_t sig[64])
{
    size_t n = 0, sl = 0;
    uint8_t *e = tu_json_hex(s, "header", &n), *g = tu_json_hex(s, "sig", &sl);
    assert_true(n <= VMDB_HEADER_MAX_LEN && sl == 64);
    memcpy(enc, e, n);
    memcpy(sig, g, 64);
    free(e);
    free(g);
    return n;
}

static void test_trusted_state(void **state)
{
    v2ctx *c = *state;
    const vmdb_json *a = tu_section(c->v, "trusted_state");
    for (size_t i = 0; i < vmdb_json_size(a); i++) {
        const vmdb_json *it = vmdb_json_at(a, i), *f = vmdb_json_get(it, "file");
        const vmdb_json *in = vmdb_json_get(f, "intent");
        uint8_t ce[VMDB_HEADER_MAX_LEN], ie[VMDB_HEADER_MAX_LEN], cs[64], is[64], d[32], wd[32];
        uint8_t cl[2], il[2], flag = in && vmdb_json_typeof(in) == VMDB_JSON_OBJECT;
        size_t cn = slot(vmdb_json_get(f, "committed"), ce, cs), inn = 0;
        assert_int_equal(tu_json_u64(f, "version"), 2);
        /* §8.3, from the text: the digest over both slots, each header with
         * its u16 length. */
        vmdb_slice parts[8];
        size_t np = 0;
        cl[0] = (uint8_t)(cn >> 8);
        cl[1] = (uint8_t)cn;
        parts[np++] = VMDB_SLICE("vmdb/v2/trusted-state", 22);
        parts[np++] = VMDB_SLICE(cl, 2);
        parts[np++] = VMDB_SLICE(ce, cn);
        parts[np++] = VMDB_SLICE(cs, 64);
        parts[np++] = VMDB_SLICE(&flag, 1);
        if (flag) {
            inn = slot(in, ie, is);
            il[0] = (uint8_t)(inn >> 8);
            il[1] = (uint8_t)inn;
            parts[np++] = VMDB_SLICE(il, 2);
            parts[np++] = VMDB_SLICE(ie, inn);
            parts[np++] = VMDB_SLICE(is, 64);
        }
        vmdb_hash_parts(c->v->h, d, parts, np);
        tu_json_hex32(it, "digest", wd);
        tu_expect_bytes("trusted state digest", d, 32, wd, 32);
        size_t ml = 0, fl = 0;
        uint8_t *msg = tu_json_hex(it, "signed_message", &ml), want[54];
        memcpy(want, "vmdb/v2/trusted-state", 22);
        memcpy(want + 22, d, 32);
        tu_expect_bytes("trusted state signed message", msg, ml, want, 54);
        uint8_t *fsig = tu_json_hex(f, "file_sig", &fl);
        assert_int_equal(fl, 64);
        assert_int_equal(vmdb_header_verify_sig(fsig, 2, VMDB_SIG_TRUSTED_STATE, d, c->pk), 0);
        uint8_t mine[64];
        assert_int_equal(vmdb_header_sign(mine, 2, VMDB_SIG_TRUSTED_STATE, d, c->sk), 0);
        tu_expect_bytes("trusted state file_sig", mine, 64, fsig, 64);
        /* The reader accepts the file as it stands. */
        vmdb_tstate ts;
        char why[256] = "";
        if (read_tstate(c, f, c->pk, &ts, why, sizeof(why)) != 0)
            fail_msg("trusted state %zu: vmdb_tstate_read: %s", i, why);
        assert_int_equal(ts.has_intent, flag);
        free(msg);
        free(fsig);
    }
    printf("vectors v2: trusted_state %zu/%zu\n", vmdb_json_size(a), vmdb_json_size(a));
}

/* --- negative vectors ------------------------------------------------------------------ */

/* Negatives that depend on the header the client holds, which the C
 * verifier (like `vmdb verify` on a saved history proof) does not get:
 * their check is the caller's, replayed here from opts. (Those that depend
 * on the request are the C code's: vmdb_vfy_bundle gets it.) */
static bool trusted_check_rejects(const vmdb_json *it, const vmdb_vfy_header *from)
{
    const vmdb_json *opts = vmdb_json_get(it, "opts");
    if (!vmdb_json_get(opts, "trustedHash"))
        return false;
    uint8_t t[32];
    tu_json_hex32(opts, "trustedHash", t);
    return memcmp(t, from->hash, 32) != 0;
}

/* Verifies answers[0] with its header replaced by `hdr`. */
static int bundle_with_header(v2ctx *c, const vmdb_json *hdr, const vmdb_vfy_pins *pins,
                              char why[VMDB_VFY_WHY])
{
    const vmdb_json *data = vmdb_json_get(vmdb_json_at(tu_section(c->v, "answers"), 0), "data");
    vmdb_buf d = VMDB_BUF_INIT, old = VMDB_BUF_INIT, nw = VMDB_BUF_INIT, t = VMDB_BUF_INIT;
    assert_int_equal(vmdb_jcs_write(&d, data), 0);
    assert_int_equal(vmdb_jcs_write(&old, vmdb_json_get(vmdb_json_get(data, "proof"), "header")),
                     0);
    assert_int_equal(vmdb_jcs_write(&nw, hdr), 0);
    const uint8_t *at = memmem(d.ptr, d.len, old.ptr, old.len);
    assert_non_null(at);
    size_t off = (size_t)(at - d.ptr);
    assert_int_equal(vmdb_buf_put(&t, d.ptr, off), 0);
    assert_int_equal(vmdb_buf_put(&t, nw.ptr, nw.len), 0);
    assert_int_equal(vmdb_buf_put(&t, d.ptr + off + old.len, d.len - off - old.len), 0);
    vmdb_json_doc *doc = NULL;
    assert_int_equal(vmdb_json_parse(&doc, VMDB_SLICE(t.ptr, t.len), &no_limits), 0);
    vmdb_vfy_bundle_result res;
    int rc = vmdb_vfy_bundle(c->v->h, vmdb_json_doc_root(doc), pins, NULL, &res, why);
    vmdb_json_doc_free(doc);
    vmdb_buf_free(&d);
    vmdb_buf_free(&old);
    vmdb_buf_free(&nw);
    vmdb_buf_free(&t);
    return rc;
}

static void test_negative(void **state)
{
    v2ctx *c = *state;
    const vmdb_json *a = tu_section(c->v, "negative");
    size_t n = vmdb_json_size(a), rejected = 0, by_request = 0;
    vmdb_proof *p = malloc(sizeof(*p));
    assert_non_null(p);
    char accepted[4096] = "";
    size_t alen = 0;
    for (size_t i = 0; i < n; i++) {
        const vmdb_json *it = vmdb_json_at(a, i), *in = vmdb_json_get(it, "input");
        vmdb_slice type = tu_json_str(it, "type"), name = tu_json_str(it, "name");
        vmdb_vfy_pins pins = pins_of(c, it);
        char why[VMDB_VFY_WHY] = "";
        int rc = 0;
        bool req = false;
        assert_non_null(in);
        if (str_is(type, "header")) {
            vmdb_vfy_header hd;
            rc = vmdb_vfy_check_header(c->v->h, in, &pins, &hd, why);
            /* A v1 header is a header (history proofs hold them, §12), but
             * not where a v2 one is required: in an answer. */
            if (rc == 0 && hd.h.version == 1)
                rc = bundle_with_header(c, in, &pins, why);
        } else if (str_is(type, "proof")) {
            uint8_t root[32], key[32], value[32];
            bool hv = false;
            tu_json_hex32(it, "root", root);
            rc = proof_from_json(p, in, key, value, &hv);
            if (rc == 0)
                rc = vmdb_proof_verify(c->v->h, root, key,
                                       p->kind == VMDB_PROOF_INCLUSION ? value : NULL, p);
        } else if (str_is(type, "multiproof")) {
            uint8_t root[32];
            const vmdb_json *keys = tu_json_array(in, "keys");
            size_t nk = vmdb_json_size(keys), plen = 0;
            uint8_t(*k)[32] = calloc(nk + 1, 32), (*vals)[32] = calloc(nk + 1, 32);
            bool *pres = calloc(nk + 1, sizeof(bool));
            assert_true(k && vals && pres);
            tu_json_hex32(it, "root", root);
            for (size_t j = 0; j < nk; j++)
                tu_elem_hex32(vmdb_json_at(keys, j), k[j]);
            uint8_t *proof = tu_json_hex(in, "proof", &plen);
            rc = vmdb_multiproof_verify(c->v->h, root, (const uint8_t(*)[32])k, nk,
                                        VMDB_SLICE(proof, plen), vals, pres);
            free(proof);
            free(k);
            free(vals);
            free(pres);
        } else if (str_is(type, "answer")) {
            vmdb_vfy_bundle_result res;
            char table[64];
            vmdb_slice ids[MAX_REQ_IDS];
            vmdb_vfy_request rq = request_of(it, table, ids);
            rc = vmdb_vfy_bundle(c->v->h, in, &pins, &rq, &res, why);
        } else if (str_is(type, "history")) {
            vmdb_vfy_header from, to;
            rc = vmdb_vfy_history(c->v->h, in, &pins, &from, &to, why);
            if (rc == 0)
                req = trusted_check_rejects(it, &from);
        } else if (str_is(type, "checkpoint")) {
            const vmdb_json *o = vmdb_json_get(vmdb_json_get(it, "opts"), "origin");
            char oz[256];
            uint64_t sz = 0;
            uint8_t root[32];
            if (o)
                snprintf(oz, sizeof(oz), "%.*s", (int)vmdb_json_string(o).len,
                         (const char *)vmdb_json_string(o).ptr);
            rc = vmdb_vfy_checkpoint(c->v->h, vmdb_json_string(in), o ? oz : NULL, &pins, &sz, root,
                                     why);
        } else if (str_is(type, "trusted_state")) {
            vmdb_tstate ts;
            rc = read_tstate(c, in, pins.pk, &ts, why, sizeof(why));
        } else {
            fail_msg("negative %.*s: unknown type %.*s", (int)name.len, (const char *)name.ptr,
                     (int)type.len, (const char *)type.ptr);
        }
        if (rc == VMDB_ENOMEM)
            fail_msg("negative %.*s: out of memory", (int)name.len, (const char *)name.ptr);
        if (rc != 0) {
            rejected++;
        } else if (req) {
            by_request++;
        } else {
            alen += (size_t)snprintf(accepted + alen, sizeof(accepted) - alen, " %.*s",
                                     (int)name.len, (const char *)name.ptr);
            if (alen >= sizeof(accepted))
                alen = sizeof(accepted) - 1;
        }
    }
    free(p);
    printf(
        "vectors v2: negative %zu: %zu rejected by the C code, %zu by the trusted-header check\n",
        n, rejected, by_request);
    if (alen)
        fail_msg("negative vectors accepted by the C code:%s", accepted);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_chain_id), cmocka_unit_test(test_headers),
        cmocka_unit_test(test_upgrade),       cmocka_unit_test(test_tree_sequences),
        cmocka_unit_test(test_id_range),      cmocka_unit_test(test_row_values),
        cmocka_unit_test(test_transitions),   cmocka_unit_test(test_json_proofs),
        cmocka_unit_test(test_answers),       cmocka_unit_test(test_history_checkpoints),
        cmocka_unit_test(test_trusted_state), cmocka_unit_test(test_negative),
    };
    return cmocka_run_group_tests(tests, load, unload);
}

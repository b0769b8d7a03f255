/*
 * Fuzz target for the proof verifiers of PROTOCOL.md §4-§5, the code a
 * third party runs on untrusted bytes. A small fixed tree (keys sharing
 * long prefixes, a split at depth 255, lone leaves beside deep paths) is
 * built once; eight candidate keys are fixed, some present and some absent
 * (ending in an empty subtree or beside another leaf). The first input byte
 * chooses one candidate key and a non-empty set of candidates; the rest is
 * taken both as a single proof for the key and as a multiproof for the set.
 *
 * Properties: a single proof that decodes re-encodes to the same bytes,
 * and its JSON form parses; if it verifies against the root for any claim
 * (absent, the true value, a wrong value), the claim is the tree's truth
 * and the bytes are exactly the proof vmdb_smt_prove builds (proofs are
 * unique). A multiproof that verifies reports the tree's truth for every
 * key and is byte for byte the one vmdb_smt_multiprove builds. Errors are
 * only the documented codes. Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmdb/json.h"
#include "vmdb/proof.h"
#include "vmdb/smt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCAND 8
#define NLEAF 7

static struct {
    int ready;
    vmdb_smt *t;
    vmdb_hasher *h;
    uint8_t root[32];
    uint8_t cand[NCAND][32]; /* sorted ascending */
    bool present[NCAND];
    uint8_t value[NCAND][32];
    uint8_t *genuine[NCAND]; /* binary proof of each candidate */
    size_t genuine_len[NCAND];
} fx;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_proof: property violated: %s (last error: %s)\n", what,
                vmdb_error_last());
        abort();
    }
}

static void flip(uint8_t k[32], unsigned bit)
{
    k[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
}

static int key_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

/* The base key with the listed bits flipped (list ends with -1). */
static void make_key(uint8_t k[32], const int *bits)
{
    for (int i = 0; i < 32; i++)
        k[i] = (uint8_t)(0x3c + 37 * i);
    for (; *bits >= 0; bits++)
        flip(k, (unsigned)*bits);
}

static void setup(void)
{
    /* Leaves: B, B^255 (split at 255), B^200, B^3 (alone below depth 4),
     * B^0^100 and B^0^100^101 (a chain, then a split at 101), B^0^7. */
    static const int leaves[NLEAF][4] = {
        {-1}, {255, -1}, {200, -1}, {3, -1}, {0, 100, -1}, {0, 100, 101, -1}, {0, 7, -1},
    };
    /* Candidates: four present; B^254 (empty at depth 255), B^0 (empty
     * beside the chain), B^3^77 (beside the lone leaf B^3), B^0^100^101^150
     * (beside a leaf at depth 102). */
    static const int cands[NCAND][6] = {
        {-1},      {255, -1}, {3, -1},     {0, 100, 101, -1},
        {254, -1}, {0, -1},   {3, 77, -1}, {0, 100, 101, 150, -1},
    };
    vmdb_smt_change ch[NLEAF];
    vmdb_proof *p = malloc(sizeof(*p));
    vmdb_buf b = VMDB_BUF_INIT;

    check(p != NULL, "out of memory");
    check(vmdb_smt_new(&fx.t, 0) == 0, "vmdb_smt_new");
    check(vmdb_hasher_new(&fx.h, 0) == 0, "vmdb_hasher_new");
    memset(ch, 0, sizeof(ch));
    for (int i = 0; i < NLEAF; i++) {
        make_key(ch[i].key, leaves[i]);
        memset(ch[i].value, 0x11 * (i + 1), 32);
        ch[i].value[0] = (uint8_t)i;
    }
    check(vmdb_smt_update(fx.t, ch, NLEAF) == 0, "building the fixed tree");
    const vmdb_smt_view *v = vmdb_smt_current(fx.t);
    vmdb_smt_view_root(v, fx.root);
    for (int i = 0; i < NCAND; i++)
        make_key(fx.cand[i], cands[i]);
    qsort(fx.cand, NCAND, 32, key_cmp);
    for (int i = 0; i < NCAND; i++) {
        fx.present[i] = vmdb_smt_get(fx.t, v, fx.cand[i], fx.value[i]) == 0;
        vmdb_smt_prove(fx.t, v, fx.h, fx.cand[i], p, NULL);
        b.len = 0;
        check(vmdb_proof_encode(&b, p) == 0, "encoding a genuine proof");
        fx.genuine[i] = malloc(b.len);
        check(fx.genuine[i] != NULL, "out of memory");
        memcpy(fx.genuine[i], b.ptr, b.len);
        fx.genuine_len[i] = b.len;
        check(vmdb_proof_verify(fx.h, fx.root, fx.cand[i], fx.present[i] ? fx.value[i] : NULL, p) ==
                  0,
              "a genuine proof does not verify");
    }
    vmdb_buf_free(&b);
    free(p);
    fx.ready = 1;
}

/* The candidates that the selector byte puts in the multiproof set. */
static size_t select_set(uint8_t sel, uint8_t (*keys)[32], int *idx)
{
    unsigned mask = sel ? sel : 0xFF;
    size_t n = 0;
    for (int i = 0; i < NCAND; i++)
        if (mask >> i & 1) {
            memcpy(keys[n], fx.cand[i], 32);
            idx[n++] = i;
        }
    return n;
}

/* The JSON form of a decoded proof parses and carries its shape. */
static void check_json(const vmdb_proof *p, const uint8_t key[32])
{
    vmdb_buf j = VMDB_BUF_INIT;
    vmdb_json_doc *doc = NULL;
    static const uint8_t val[32] = {1};
    check(vmdb_proof_to_json(&j, p, key, val) == 0, "vmdb_proof_to_json failed");
    check(vmdb_json_parse(&doc, (vmdb_slice){j.ptr, j.len}, NULL) == 0,
          "proof JSON does not parse");
    const vmdb_json *r = vmdb_json_doc_root(doc);
    const vmdb_json *d = vmdb_json_get(r, "depth"), *s = vmdb_json_get(r, "siblings");
    check(d && vmdb_json_number(d) == p->depth, "proof JSON depth");
    check(s && vmdb_json_size(s) == p->nsiblings, "proof JSON sibling count");
    check((vmdb_json_get(r, "other_key") != NULL) == (p->kind == VMDB_PROOF_ABSENT_LEAF),
          "proof JSON other_key");
    check((vmdb_json_get(r, "value") != NULL) == (p->kind == VMDB_PROOF_INCLUSION),
          "proof JSON value");
    vmdb_json_doc_free(doc);
    vmdb_buf_free(&j);
}

static void single(int ki, const uint8_t *data, size_t size)
{
    vmdb_proof *p = malloc(sizeof(*p));
    check(p != NULL, "out of memory");
    int rc = vmdb_proof_decode(p, (vmdb_slice){data, size});
    if (rc != 0) {
        check(rc == VMDB_EPARSE, "vmdb_proof_decode: undocumented error code");
        free(p);
        return;
    }
    /* Decoding accepts only the canonical encoding. */
    vmdb_buf b = VMDB_BUF_INIT;
    check(vmdb_proof_encode(&b, p) == 0, "re-encoding a decoded proof");
    check(b.len == size && memcmp(b.ptr, data, size) == 0, "decode/encode is not the identity");
    vmdb_buf_free(&b);
    check_json(p, fx.cand[ki]);

    uint8_t wrong[32];
    memcpy(wrong, fx.value[ki], 32);
    wrong[31] ^= 0x40;
    const uint8_t *claims[3] = {NULL, fx.value[ki], wrong};
    for (int c = 0; c < 3; c++) {
        rc = vmdb_proof_verify(fx.h, fx.root, fx.cand[ki], claims[c], p);
        if (rc != 0) {
            check(rc == VMDB_EVERIFY, "vmdb_proof_verify: undocumented error code");
            continue;
        }
        if (c == 0)
            check(!fx.present[ki], "proved a present key absent");
        else if (c == 1)
            check(fx.present[ki], "proved an absent key present");
        else
            check(0, "proved a wrong value");
        check(size == fx.genuine_len[ki] && memcmp(data, fx.genuine[ki], size) == 0,
              "a proof other than the genuine one verifies");
    }
    free(p);
}

static void multi(uint8_t sel, const uint8_t *data, size_t size)
{
    uint8_t keys[NCAND][32], values[NCAND][32];
    bool present[NCAND];
    int idx[NCAND];
    size_t n = select_set(sel, keys, idx);

    int rc = vmdb_multiproof_verify(fx.h, fx.root, (const uint8_t(*)[32])keys, n,
                                    (vmdb_slice){data, size}, values, present);
    if (rc != 0) {
        check(rc == VMDB_EVERIFY, "vmdb_multiproof_verify: undocumented error code");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        check(present[i] == fx.present[idx[i]], "multiproof lies about presence");
        if (present[i])
            check(memcmp(values[i], fx.value[idx[i]], 32) == 0, "multiproof lies about a value");
    }
    vmdb_buf b = VMDB_BUF_INIT;
    check(vmdb_smt_multiprove(fx.t, vmdb_smt_current(fx.t), fx.h, (const uint8_t(*)[32])keys, n,
                              &b) == 0,
          "vmdb_smt_multiprove failed");
    check(b.len == size && memcmp(b.ptr, data, size) == 0,
          "a multiproof other than the genuine one verifies");
    vmdb_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fx.ready)
        setup();
    if (size < 1)
        return 0;
    single(data[0] & (NCAND - 1), data + 1, size - 1);
    multi(data[0], data + 1, size - 1);
    return 0;
}

/*
 * Fuzz target for the Solana transaction code that reads untrusted bytes
 * (src/anchor/solana/sol_tx.c): the wire parser, compact-u16, the vmdb1
 * memo parser and the keypair JSON parser. The whole input goes through
 * each of them.
 *
 * Properties: errors are only the documented codes. A transaction that
 * parses is canonical: its message re-encodes to the same bytes and the
 * signature count, signatures and message rebuild the input exactly; every
 * index it holds is within its key list; its first signature is what
 * vmdb_sol_tx_signature reads. A compact-u16 that decodes re-encodes to the
 * bytes it used. A memo that parses rebuilds to the same text; a keypair
 * that parses round-trips through the CLI form. Finally the input is used
 * as memo data of a built transaction (one signer, then two), which must
 * sign, parse, verify and yield the memo back. Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "anchor/solana/sol_tx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct {
    int ready;
    uint8_t sk[2][64];
    uint8_t blockhash[32];
} fx;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_soltx: property violated: %s (last error: %s)\n", what,
                vmdb_error_last());
        abort();
    }
}

static void setup(void)
{
    uint8_t seed[32], pk[32];
    check(sodium_init() >= 0, "sodium_init");
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 32; i++)
            seed[i] = (uint8_t)(32 * k + i);
        check(crypto_sign_seed_keypair(pk, fx.sk[k], seed) == 0, "key from seed");
    }
    memset(fx.blockhash, 0x42, 32);
    fx.ready = 1;
}

static void cu16(const uint8_t *data, size_t size)
{
    uint16_t v;
    size_t used;
    int rc = vmdb_sol_cu16_decode(&v, &used, data, size);
    if (rc) {
        check(rc == VMDB_EPARSE, "cu16 decode: undocumented error code");
        return;
    }
    vmdb_buf b = VMDB_BUF_INIT;
    check(used >= 1 && used <= 3 && used <= size, "cu16 decode: bytes used");
    check(vmdb_sol_cu16_encode(&b, v) == 0, "cu16 encode");
    check(b.len == used && memcmp(b.ptr, data, used) == 0, "cu16 is not canonical");
    vmdb_buf_free(&b);
}

static void tx(const uint8_t *data, size_t size)
{
    vmdb_sol_tx t;
    int rc = vmdb_sol_tx_parse(&t, VMDB_SLICE(data, size));
    if (rc) {
        check(rc == VMDB_EPARSE || rc == VMDB_ELIMIT, "tx parse: undocumented error code");
        check(t.ix_owned == NULL && t.nsigs == 0, "tx parse: failure leaves state behind");
        vmdb_sol_tx_free(&t);
        return;
    }
    const vmdb_sol_msg *m = &t.msg;
    check(size <= VMDB_SOL_PACKET_MAX, "tx parse: accepted an oversized input");
    check(t.nsigs == m->num_required_signatures && t.nsigs <= m->nkeys, "tx parse: counts");
    for (size_t i = 0; i < m->nix; i++) {
        check(m->ix[i].program_index > 0 && m->ix[i].program_index < m->nkeys,
              "tx parse: program index");
        for (size_t k = 0; k < m->ix[i].naccounts; k++)
            check(m->ix[i].accounts[k] < m->nkeys, "tx parse: account index");
    }
    vmdb_buf b = VMDB_BUF_INIT;
    check(vmdb_sol_msg_encode(&b, m) == 0, "re-encoding a parsed message");
    check(b.len == t.message.len && memcmp(b.ptr, t.message.ptr, b.len) == 0,
          "message re-encoding differs");
    b.len = 0;
    check(vmdb_sol_cu16_encode(&b, (uint32_t)t.nsigs) == 0, "cu16 encode");
    check(vmdb_buf_put(&b, t.sigs, 64 * t.nsigs) == 0 &&
              vmdb_buf_put(&b, t.message.ptr, t.message.len) == 0,
          "rebuilding the wire bytes");
    check(b.len == size && memcmp(b.ptr, data, size) == 0, "wire rebuilding differs");
    vmdb_buf_free(&b);

    uint8_t sig[64];
    check(vmdb_sol_tx_signature(sig, VMDB_SLICE(data, size)) == 0 &&
              memcmp(sig, t.sigs[0], 64) == 0,
          "vmdb_sol_tx_signature");
    rc = vmdb_sol_tx_verify(&t);
    check(rc == 0 || rc == VMDB_EVERIFY, "tx verify: undocumented error code");
    for (size_t k = 0; k < m->nkeys; k++) {
        vmdb_slice memo;
        rc = vmdb_sol_msg_find_memo(&memo, m, m->keys[k]);
        check(rc == 0 || rc == VMDB_ENOTFOUND, "find memo: undocumented error code");
        check(rc != 0 || k < m->num_required_signatures, "find memo: an unsigned identity");
    }
    vmdb_sol_tx_free(&t);
}

static void memo(const uint8_t *data, size_t size)
{
    uint64_t seq;
    uint8_t hh[32], root[32];
    int rc = vmdb_sol_memo_parse(&seq, hh, root, VMDB_SLICE(data, size));
    if (rc) {
        check(rc == VMDB_EPARSE, "memo parse: undocumented error code");
        return;
    }
    vmdb_buf b = VMDB_BUF_INIT;
    check(vmdb_sol_memo_text(&b, seq, hh, root) == 0, "memo text");
    check(b.len == size && memcmp(b.ptr, data, size) == 0, "memo is not canonical");
    vmdb_buf_free(&b);
}

static void keypair(const uint8_t *data, size_t size)
{
    uint8_t sk[64], sk2[64];
    int rc = vmdb_sol_keypair_parse(sk, VMDB_SLICE(data, size));
    if (rc) {
        check(rc == VMDB_EPARSE || rc == VMDB_EVERIFY, "keypair parse: undocumented error code");
        return;
    }
    vmdb_buf b = VMDB_BUF_INIT;
    check(vmdb_sol_keypair_json(&b, sk) == 0, "keypair json");
    check(vmdb_sol_keypair_parse(sk2, VMDB_SLICE(b.ptr, b.len)) == 0 && memcmp(sk, sk2, 64) == 0,
          "keypair does not round-trip");
    vmdb_buf_free(&b);
}

/* The input as the memo of a built transaction, paid by key 0 and signed
 * by key `who` (0: the payer itself). */
static void build(const uint8_t *data, size_t size, int who)
{
    vmdb_buf msg = VMDB_BUF_INIT, wire = VMDB_BUF_INIT;
    const uint8_t *payer = fx.sk[0] + 32, *ident = fx.sk[who] + 32;
    int rc = vmdb_sol_memo_message(&msg, payer, ident, fx.blockhash, VMDB_SLICE(data, size));
    if (rc) {
        check(rc == VMDB_EINVAL && size > VMDB_SOL_PACKET_MAX, "memo message: unexpected failure");
        return;
    }
    rc = vmdb_sol_tx_sign(&wire, VMDB_SLICE(msg.ptr, msg.len), (const uint8_t(*)[64])fx.sk,
                          who ? 2 : 1);
    if (rc) {
        check(rc == VMDB_ELIMIT && wire.len == 0, "signing: unexpected failure");
        vmdb_buf_free(&msg);
        vmdb_buf_free(&wire);
        return;
    }
    vmdb_sol_tx t;
    vmdb_slice got;
    check(vmdb_sol_tx_parse(&t, VMDB_SLICE(wire.ptr, wire.len)) == 0, "a built tx does not parse");
    check(vmdb_sol_tx_verify(&t) == 0, "a built tx does not verify");
    check(t.nsigs == (size_t)(who ? 2 : 1), "signer count of a built tx");
    check(vmdb_sol_msg_find_memo(&got, &t.msg, ident) == 0 && got.len == size &&
              (size == 0 || memcmp(got.ptr, data, size) == 0),
          "the memo of a built tx");
    vmdb_sol_tx_free(&t);
    vmdb_buf_free(&msg);
    vmdb_buf_free(&wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fx.ready)
        setup();
    cu16(data, size);
    tx(data, size);
    memo(data, size);
    keypair(data, size);
    build(data, size, 0);
    build(data, size, 1);
    return 0;
}

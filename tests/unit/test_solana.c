/*
 * The Solana anchor library (src/anchor/solana). Transactions: the one
 * transaction of docs/vectors/solana.json that is hard-coded here (a memo
 * without accounts, paid by the key of seed 0x00..0x1f) must come out byte
 * for byte, and so must every vector of that file (made by @solana/kit:
 * the vmdb1 memo signed by its fee payer, then with a separate fee payer);
 * compact-u16 at its edges and exhaustively; the wire parser on every
 * truncation, oversized inputs and each rule of the runtime's sanitizer;
 * the vmdb1 memo text; the CLI keypair file; base58 of any length (the
 * core's decoder the client uses for instruction data). The RPC client: against a tiny
 * HTTP server run here on 127.0.0.1, the failure paths (oversized answer
 * with and without a length, timeout, malformed JSON, HTTP errors, RPC
 * errors, a refused connection) and the parsing of canned answers of each
 * shape. The real cluster tests live with tools/solana-local.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "anchor/solana/sol_rpc.h"
#include "anchor/solana/sol_scan.h"
#include "anchor/solana/sol_tx.h"
#include "testutil.h"
#include "vmdb/base58.h"
#include "vmdb/json.h"

/* Vector 1 of docs/vectors/solana.json, fixed here whatever the file says. */
static const char V1_B64[] =
    "AduzuTMcXNMK4hCgQsp/+C8/k74S+0WTEVE/ECeYW8fx0NT8RRdJrp4iiieXSar739I57feZkKfkGnExwz5y+"
    "AsBAAECA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbgFSlNamSkhBk0k6HFg2jh8fDW13bySu4HkH6hAQQVEjU"
    "JCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCAQEAB3ZtZGI6aGk=";

static void seed_key(uint8_t sk[64], uint8_t first)
{
    uint8_t seed[32], pk[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(first + i);
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
}

static uint8_t *unb64(const char *s, size_t *len)
{
    size_t n = strlen(s);
    uint8_t *out = malloc(n);
    assert_non_null(out);
    int k = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    assert_true(k >= 0);
    size_t pad = (n && s[n - 1] == '=') + (n > 1 && s[n - 2] == '=');
    *len = (size_t)k - pad;
    return out;
}

/* Builds, signs and returns the wire bytes of a memo transaction. */
static void build_tx(vmdb_buf *wire, const uint8_t payer_sk[64], const uint8_t *signer_sk,
                     const uint8_t *memo_signer, const char *memo)
{
    uint8_t bh[32], sks[2][64];
    size_t nsk = 1;
    vmdb_buf msg = VMDB_BUF_INIT;
    memset(bh, 0x42, 32);
    memcpy(sks[0], payer_sk, 64);
    if (signer_sk) {
        memcpy(sks[1], signer_sk, 64);
        nsk = 2;
    }
    assert_int_equal(
        vmdb_sol_memo_message(&msg, payer_sk + 32, memo_signer, bh, VMDB_SLICE(memo, strlen(memo))),
        0);
    assert_int_equal(
        vmdb_sol_tx_sign(wire, VMDB_SLICE(msg.ptr, msg.len), (const uint8_t(*)[64])sks, nsk), 0);
    vmdb_buf_free(&msg);
}

/* ---------------------------------------------------------------- */

static void test_cu16(void **state)
{
    (void)state;
    static const struct {
        uint32_t v;
        uint8_t b[3];
        size_t n;
    } cases[] = {
        {0, {0x00}, 1},
        {127, {0x7f}, 1},
        {128, {0x80, 0x01}, 2},
        {16383, {0xff, 0x7f}, 2},
        {16384, {0x80, 0x80, 0x01}, 3},
        {65535, {0xff, 0xff, 0x03}, 3},
    };
    vmdb_buf b = VMDB_BUF_INIT;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t v;
        size_t used;
        b.len = 0;
        assert_int_equal(vmdb_sol_cu16_encode(&b, cases[i].v), 0);
        assert_int_equal(b.len, cases[i].n);
        assert_memory_equal(b.ptr, cases[i].b, cases[i].n);
        assert_int_equal(vmdb_sol_cu16_decode(&v, &used, cases[i].b, cases[i].n), 0);
        assert_int_equal(v, cases[i].v);
        assert_int_equal(used, cases[i].n);
        /* A truncated form fails. */
        assert_int_equal(vmdb_sol_cu16_decode(&v, &used, cases[i].b, cases[i].n - 1), VMDB_EPARSE);
    }
    assert_int_equal(vmdb_sol_cu16_encode(&b, 65536), VMDB_EINVAL);
    /* Every value round-trips and trailing bytes are not consumed. */
    for (uint32_t x = 0; x <= 0xffff; x++) {
        uint16_t v;
        size_t used;
        b.len = 0;
        assert_int_equal(vmdb_sol_cu16_encode(&b, x), 0);
        assert_int_equal(vmdb_buf_putc(&b, 0xAA), 0);
        assert_int_equal(vmdb_sol_cu16_decode(&v, &used, b.ptr, b.len), 0);
        assert_int_equal(v, x);
        assert_int_equal(used, b.len - 1);
    }
    vmdb_buf_free(&b);
    /* Aliases, overflow and truncation. */
    static const struct {
        uint8_t b[4];
        size_t n;
    } bad[] = {
        {{0x80, 0x00}, 2},
        {{0x80, 0x80, 0x00}, 3},
        {{0xff, 0x80, 0x00}, 3},
        {{0xff, 0xff, 0x04}, 3},
        {{0x80, 0x80, 0x80}, 3},
        {{0xff, 0xff, 0xff, 0x01}, 4},
        {{0x80}, 1},
        {{0x00}, 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint16_t v = 7;
        size_t used = 7;
        assert_int_equal(vmdb_sol_cu16_decode(&v, &used, bad[i].b, bad[i].n), VMDB_EPARSE);
        assert_int_equal(used, 0);
    }
}

static void test_vector1_hardcoded(void **state)
{
    (void)state;
    uint8_t sk[64], sig[64];
    size_t elen;
    uint8_t *expect = unb64(V1_B64, &elen);
    vmdb_buf wire = VMDB_BUF_INIT;
    vmdb_sol_tx tx;
    char id[VMDB_SOL_SIG_B58_MAX], addr[VMDB_SOL_KEY_B58_MAX];

    assert_int_equal(elen, 176);
    seed_key(sk, 0x00);
    assert_int_equal(vmdb_sol_key_b58(addr, sk + 32), 0);
    assert_string_equal(addr, "FAe4sisG95oZ42w7buUn5qEE4TAnfTTFPiguZUHmhiF");
    build_tx(&wire, sk, NULL, NULL, "vmdb:hi");
    assert_int_equal(wire.len, 176);
    assert_memory_equal(wire.ptr, expect, 176);

    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(expect, elen)), 0);
    assert_int_equal(vmdb_sol_tx_verify(&tx), 0);
    assert_int_equal(tx.nsigs, 1);
    assert_int_equal(tx.msg.num_required_signatures, 1);
    assert_int_equal(tx.msg.num_readonly_signed, 0);
    assert_int_equal(tx.msg.num_readonly_unsigned, 1);
    assert_int_equal(tx.msg.nkeys, 2);
    assert_memory_equal(tx.msg.keys[0], sk + 32, 32);
    assert_memory_equal(tx.msg.keys[1], vmdb_sol_memo_program_id, 32);
    assert_int_equal(tx.msg.nix, 1);
    assert_int_equal(tx.msg.ix[0].program_index, 1);
    assert_int_equal(tx.msg.ix[0].naccounts, 0);
    assert_int_equal(tx.msg.ix[0].data.len, 7);
    assert_memory_equal(tx.msg.ix[0].data.ptr, "vmdb:hi", 7);
    /* No account listed: the memo is not attributed to anyone. */
    vmdb_slice memo;
    assert_int_equal(vmdb_sol_msg_find_memo(&memo, &tx.msg, sk + 32), VMDB_ENOTFOUND);
    assert_int_equal(vmdb_sol_tx_signature(sig, VMDB_SLICE(expect, elen)), 0);
    assert_memory_equal(sig, expect + 1, 64);
    assert_int_equal(vmdb_sol_sig_b58(id, sig), 0);
    assert_string_equal(id, "5PmXjzrQBUjDk42ZoYhCMiPqjWvwvrrtNKeEvzH5RnMLAtyQVPrQkEDkGBha7nQ3jFa2o"
                            "iPwHSnasVVVMxuoRxVQ");
    vmdb_sol_tx_free(&tx);
    vmdb_sol_tx_free(NULL);
    vmdb_buf_free(&wire);
    free(expect);
}

/* Account order and header counts of the three shapes. */
static void test_memo_message_shapes(void **state)
{
    (void)state;
    uint8_t a[64], b[64];
    vmdb_buf wire = VMDB_BUF_INIT;
    vmdb_sol_tx tx;
    vmdb_slice memo;
    seed_key(a, 0x00);
    seed_key(b, 0x20);

    /* Identity pays and signs the memo: one signer, listed by the memo. */
    build_tx(&wire, a, NULL, a + 32, "x");
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(wire.ptr, wire.len)), 0);
    assert_int_equal(tx.msg.num_required_signatures, 1);
    assert_int_equal(tx.msg.num_readonly_signed, 0);
    assert_int_equal(tx.msg.num_readonly_unsigned, 1);
    assert_int_equal(tx.msg.nkeys, 2);
    assert_int_equal(tx.msg.ix[0].naccounts, 1);
    assert_int_equal(tx.msg.ix[0].accounts[0], 0);
    assert_int_equal(vmdb_sol_msg_find_memo(&memo, &tx.msg, a + 32), 0);
    assert_int_equal(memo.len, 1);
    assert_int_equal(vmdb_sol_msg_find_memo(&memo, &tx.msg, b + 32), VMDB_ENOTFOUND);
    vmdb_sol_tx_free(&tx);

    /* b pays, a signs the memo: writable signer b, readonly signer a,
     * readonly non-signer the program. */
    wire.len = 0;
    build_tx(&wire, b, a, a + 32, "y");
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(wire.ptr, wire.len)), 0);
    assert_int_equal(vmdb_sol_tx_verify(&tx), 0);
    assert_int_equal(tx.nsigs, 2);
    assert_int_equal(tx.msg.num_required_signatures, 2);
    assert_int_equal(tx.msg.num_readonly_signed, 1);
    assert_int_equal(tx.msg.num_readonly_unsigned, 1);
    assert_int_equal(tx.msg.nkeys, 3);
    assert_memory_equal(tx.msg.keys[0], b + 32, 32);
    assert_memory_equal(tx.msg.keys[1], a + 32, 32);
    assert_memory_equal(tx.msg.keys[2], vmdb_sol_memo_program_id, 32);
    assert_int_equal(tx.msg.ix[0].program_index, 2);
    assert_int_equal(tx.msg.ix[0].naccounts, 1);
    assert_int_equal(tx.msg.ix[0].accounts[0], 1);
    assert_int_equal(vmdb_sol_msg_find_memo(&memo, &tx.msg, a + 32), 0);
    assert_int_equal(vmdb_sol_msg_find_memo(&memo, &tx.msg, b + 32), VMDB_ENOTFOUND);
    /* The signatures are in key order: a flipped bit in either fails. */
    uint8_t *copy = malloc(wire.len);
    assert_non_null(copy);
    for (size_t s = 0; s < 2; s++) {
        vmdb_sol_tx t2;
        memcpy(copy, wire.ptr, wire.len);
        copy[1 + 64 * s + 5] ^= 1;
        assert_int_equal(vmdb_sol_tx_parse(&t2, VMDB_SLICE(copy, wire.len)), 0);
        assert_int_equal(vmdb_sol_tx_verify(&t2), VMDB_EVERIFY);
        vmdb_sol_tx_free(&t2);
    }
    free(copy);
    vmdb_sol_tx_free(&tx);

    /* The memo program cannot sign. */
    uint8_t bh[32] = {0};
    assert_int_equal(
        vmdb_sol_memo_message(&wire, a + 32, vmdb_sol_memo_program_id, bh, VMDB_SLICE_STR("z")),
        VMDB_EINVAL);
    vmdb_buf_free(&wire);
}

static void test_sign_errors(void **state)
{
    (void)state;
    uint8_t a[64], b[64], bad[64], bh[32], sks[2][64];
    vmdb_buf msg = VMDB_BUF_INIT, wire = VMDB_BUF_INIT;
    seed_key(a, 0x00);
    seed_key(b, 0x20);
    memset(bh, 1, 32);
    assert_int_equal(vmdb_sol_memo_message(&msg, b + 32, a + 32, bh, VMDB_SLICE_STR("vmdb1:1:x")),
                     0);
    vmdb_slice m = VMDB_SLICE(msg.ptr, msg.len);
    /* A signer without its key. */
    assert_int_equal(vmdb_sol_tx_sign(&wire, m, (const uint8_t(*)[64])b, 1), VMDB_EINVAL);
    assert_int_equal(wire.len, 0);
    /* A key that signs nothing. */
    memcpy(sks[0], b, 64);
    memcpy(sks[1], a, 64);
    uint8_t three[3][64];
    memcpy(three[0], b, 64);
    memcpy(three[1], a, 64);
    seed_key(three[2], 0x40);
    assert_int_equal(vmdb_sol_tx_sign(&wire, m, (const uint8_t(*)[64])three, 3), VMDB_EINVAL);
    /* A key whose public half is not its seed's. */
    memcpy(bad, a, 64);
    bad[40] ^= 1;
    memcpy(sks[1], bad, 64);
    assert_int_equal(vmdb_sol_tx_sign(&wire, m, (const uint8_t(*)[64])sks, 2), VMDB_EINVAL);
    /* Keys in any order. */
    memcpy(sks[0], a, 64);
    memcpy(sks[1], b, 64);
    assert_int_equal(vmdb_sol_tx_sign(&wire, m, (const uint8_t(*)[64])sks, 2), 0);
    /* A message with trailing bytes or cut short. */
    size_t len = wire.len;
    assert_int_equal(
        vmdb_sol_tx_sign(&wire, VMDB_SLICE(msg.ptr, msg.len - 1), (const uint8_t(*)[64])sks, 2),
        VMDB_EPARSE);
    assert_int_equal(vmdb_buf_putc(&msg, 0), 0);
    assert_int_equal(
        vmdb_sol_tx_sign(&wire, VMDB_SLICE(msg.ptr, msg.len), (const uint8_t(*)[64])sks, 2),
        VMDB_EPARSE);
    assert_int_equal(wire.len, len);
    /* A memo too long for a packet: the message builds, signing refuses. */
    char big[1100];
    memset(big, 'm', sizeof big);
    msg.len = 0;
    assert_int_equal(vmdb_sol_memo_message(&msg, b + 32, a + 32, bh, VMDB_SLICE(big, sizeof big)),
                     0);
    assert_int_equal(
        vmdb_sol_tx_sign(&wire, VMDB_SLICE(msg.ptr, msg.len), (const uint8_t(*)[64])sks, 2),
        VMDB_ELIMIT);
    char huge[VMDB_SOL_PACKET_MAX + 1];
    memset(huge, 'm', sizeof huge);
    assert_int_equal(vmdb_sol_memo_message(&msg, b + 32, a + 32, bh, VMDB_SLICE(huge, sizeof huge)),
                     VMDB_EINVAL);
    vmdb_buf_free(&msg);
    vmdb_buf_free(&wire);
}

/* A wire transaction from raw parts, for the sanitizer rules. */
typedef struct raw_tx {
    uint8_t nsig;
    uint8_t hdr[3];
    uint8_t nkeys;
    uint8_t keys[4][32];
    uint8_t prog;
    uint8_t nacc;
    uint8_t acc[2];
} raw_tx;

static size_t raw_encode(uint8_t *out, const raw_tx *r)
{
    size_t n = 0;
    out[n++] = r->nsig;
    memset(out + n, 0x11, 64 * (size_t)r->nsig);
    n += 64 * (size_t)r->nsig;
    memcpy(out + n, r->hdr, 3);
    n += 3;
    out[n++] = r->nkeys;
    memcpy(out + n, r->keys, 32 * (size_t)r->nkeys);
    n += 32 * (size_t)r->nkeys;
    memset(out + n, 0x42, 32);
    n += 32;
    out[n++] = 1; /* one instruction */
    out[n++] = r->prog;
    out[n++] = r->nacc;
    memcpy(out + n, r->acc, r->nacc);
    n += r->nacc;
    out[n++] = 2;
    out[n++] = 'h';
    out[n++] = 'i';
    return n;
}

static void test_parse_rejects(void **state)
{
    (void)state;
    uint8_t a[64], b[64];
    vmdb_buf wire = VMDB_BUF_INIT;
    vmdb_sol_tx tx;
    seed_key(a, 0x00);
    seed_key(b, 0x20);
    build_tx(&wire, b, a, a + 32, "vmdb1:7:aa");
    uint8_t *buf = malloc(VMDB_SOL_PACKET_MAX + 64);
    assert_non_null(buf);

    /* Every proper prefix fails, and so does one byte more. */
    for (size_t n = 0; n < wire.len; n++) {
        memcpy(buf, wire.ptr, n);
        assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, n)), VMDB_EPARSE);
        assert_null(tx.ix_owned);
        vmdb_sol_tx_free(&tx);
    }
    memcpy(buf, wire.ptr, wire.len);
    buf[wire.len] = 0;
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, wire.len + 1)), VMDB_EPARSE);
    /* Larger than a packet: refused before parsing. */
    memset(buf, 0, VMDB_SOL_PACKET_MAX + 1);
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, VMDB_SOL_PACKET_MAX + 1)), VMDB_ELIMIT);
    /* A memo filling the packet exactly parses. */
    {
        char memo[VMDB_SOL_PACKET_MAX];
        size_t over = wire.len - strlen("vmdb1:7:aa");
        /* data length grows from a 1-byte to a 2-byte compact-u16 */
        size_t mlen = VMDB_SOL_PACKET_MAX - over - 1;
        memset(memo, 'q', mlen);
        memo[mlen] = '\0';
        vmdb_buf w2 = VMDB_BUF_INIT;
        build_tx(&w2, b, a, a + 32, memo);
        assert_int_equal(w2.len, VMDB_SOL_PACKET_MAX);
        assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(w2.ptr, w2.len)), 0);
        assert_int_equal(vmdb_sol_tx_verify(&tx), 0);
        vmdb_sol_tx_free(&tx);
        vmdb_buf_free(&w2);
    }
    /* Signature count disagreeing with the header. */
    {
        uint8_t sig[64];
        assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(wire.ptr, wire.len)), 0);
        vmdb_sol_tx_free(&tx);
        memcpy(buf, wire.ptr, wire.len);
        buf[0] = 1; /* one signature, the message follows 64 bytes early */
        assert_int_not_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, wire.len)), 0);
        assert_int_equal(vmdb_sol_tx_signature(sig, VMDB_SLICE(buf, 1)), VMDB_EPARSE);
        buf[0] = 0;
        assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, wire.len)), VMDB_EPARSE);
        assert_int_equal(vmdb_sol_tx_signature(sig, VMDB_SLICE(buf, wire.len)), VMDB_EPARSE);
        /* A non-canonical signature count. */
        buf[0] = 0x82;
        memmove(buf + 2, wire.ptr + 1, wire.len - 1);
        buf[1] = 0x00;
        assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, wire.len + 1)), VMDB_EPARSE);
    }

    /* The sanitizer rules, one at a time, from a valid raw transaction. */
    raw_tx ok = {.nsig = 1, .hdr = {1, 0, 1}, .nkeys = 2, .prog = 1, .nacc = 1, .acc = {0}};
    memset(ok.keys[0], 0x01, 32);
    memset(ok.keys[1], 0x02, 32);
    size_t n = raw_encode(buf, &ok);
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, n)), 0);
    assert_int_equal(vmdb_sol_tx_verify(&tx), VMDB_EVERIFY);
    vmdb_sol_tx_free(&tx);

    raw_tx r;
    r = ok;
    r.prog = 0; /* the fee payer as program */
    n = raw_encode(buf, &r);
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, n)), VMDB_EPARSE);
    r = ok;
    r.prog = 2; /* program index past the keys */
    n = raw_encode(buf, &r);
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, n)), VMDB_EPARSE);
    r = ok;
    r.acc[0] = 2; /* account index past the keys */
    n = raw_encode(buf, &r);
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, n)), VMDB_EPARSE);
    r = ok;
    memset(r.keys[1], 0x01, 32); /* duplicate keys */
    n = raw_encode(buf, &r);
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, n)), VMDB_EPARSE);
    r = ok;
    r.hdr[1] = 1; /* the only signer readonly: no fee payer */
    n = raw_encode(buf, &r);
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, n)), VMDB_EPARSE);
    r = ok;
    r.hdr[2] = 2; /* signers + readonly unsigned > keys */
    n = raw_encode(buf, &r);
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, n)), VMDB_EPARSE);
    r = ok;
    r.hdr[0] = 0;
    r.nsig = 0; /* no signer at all */
    n = raw_encode(buf, &r);
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, n)), VMDB_EPARSE);
    r = ok;
    r.hdr[0] = 0x81; /* a versioned (v1) message */
    n = raw_encode(buf, &r);
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, n)), VMDB_EPARSE);
    r = ok;
    r.nkeys = 0;
    r.hdr[2] = 0; /* no keys */
    n = raw_encode(buf, &r);
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, n)), VMDB_EPARSE);
    /* An instruction count larger than the bytes could hold. */
    n = raw_encode(buf, &ok);
    size_t ixpos = 1 + 64 + 3 + 1 + 64 + 32;
    assert_int_equal(buf[ixpos], 1);
    buf[ixpos] = 0x7f;
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, n)), VMDB_EPARSE);
    /* A key count far beyond the bytes. */
    n = raw_encode(buf, &ok);
    buf[1 + 64 + 3] = 0x7f;
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(buf, n)), VMDB_EPARSE);

    free(buf);
    vmdb_buf_free(&wire);
}

static void test_memo_text(void **state)
{
    (void)state;
    uint8_t hh[32], root[32], h2[32], r2[32];
    uint64_t seq;
    vmdb_buf b = VMDB_BUF_INIT;
    memset(hh, 0xab, 32);
    memset(root, 0xcd, 32);
    assert_int_equal(vmdb_sol_memo_text(&b, 12345, hh, root), 0);
    const char *want =
        "vmdb1:12345:abababababababababababababababababababababababababababababababab:"
        "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.ptr, want, b.len);
    assert_int_equal(vmdb_sol_memo_parse(&seq, h2, r2, VMDB_SLICE(b.ptr, b.len)), 0);
    assert_int_equal(seq, 12345);
    assert_memory_equal(h2, hh, 32);
    assert_memory_equal(r2, root, 32);
    /* The longest: seq 2^64-1. */
    b.len = 0;
    assert_int_equal(vmdb_sol_memo_text(&b, UINT64_MAX, hh, root), 0);
    assert_int_equal(b.len, VMDB_SOL_MEMO_TEXT_MAX);
    assert_int_equal(vmdb_sol_memo_parse(&seq, h2, r2, VMDB_SLICE(b.ptr, b.len)), 0);
    assert_true(seq == UINT64_MAX);
    b.len = 0;
    assert_int_equal(vmdb_sol_memo_text(&b, 0, hh, root), 0);
    assert_int_equal(vmdb_sol_memo_parse(&seq, h2, r2, VMDB_SLICE(b.ptr, b.len)), 0);
    assert_int_equal(seq, 0);
    vmdb_buf_free(&b);

    static const char H[] = "abababababababababababababababababababababababababababababababab";
    static const char R[] = "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd";
    char text[512];
    const char *bad_seq[] = {
        "",   "01",  "00", "-1", "+1", " 1", "1 ", "18446744073709551616", "99999999999999999999",
        "1a", "0x10"};
    for (size_t i = 0; i < sizeof bad_seq / sizeof bad_seq[0]; i++) {
        snprintf(text, sizeof text, "vmdb1:%s:%s:%s", bad_seq[i], H, R);
        assert_int_equal(vmdb_sol_memo_parse(&seq, h2, r2, VMDB_SLICE(text, strlen(text))),
                         VMDB_EPARSE);
    }
    snprintf(text, sizeof text, "vmdb1:18446744073709551615:%s:%s", H, R);
    assert_int_equal(vmdb_sol_memo_parse(&seq, h2, r2, VMDB_SLICE(text, strlen(text))), 0);
    const char *bad[] = {
        "vmdb1:1:ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB:"
        "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", /* upper case */
        "vmdb1:1:abababababababababababababababababababababababababababababababa:"
        "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdc", /* 63 + 65 */
        "vmdb1:1:abababababababababababababababababababababababababababababababab:"
        "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdc", /* 63 */
        "vmdb1:1:abababababababababababababababababababababababababababababababab:"
        "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", /* 66 */
        "vmdb1:1:abababababababababababababababababababababababababababababababab;"
        "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", /* separator */
        "vmdb1:1:abababababababababababababababababababababababababababababababag:"
        "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", /* not hex */
        "vmdb2:1:abababababababababababababababababababababababababababababababab:"
        "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", /* version */
        "VMDB1:1:abababababababababababababababababababababababababababababababab:"
        "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
        "vmdb1:1:abababababababababababababababababababababababababababababababab:"
        "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd\n", /* trailing */
        "vmdb1:1:abababababababababababababababababababababababababababababababab",
        "vmdb1:",
        "vmdb1",
        "",
        "vmdb:hi",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(vmdb_sol_memo_parse(&seq, h2, r2, VMDB_SLICE(bad[i], strlen(bad[i]))),
                         VMDB_EPARSE);
    /* An embedded NUL. */
    snprintf(text, sizeof text, "vmdb1:1:%s:%s", H, R);
    size_t tl = strlen(text);
    text[10] = '\0';
    assert_int_equal(vmdb_sol_memo_parse(&seq, h2, r2, VMDB_SLICE(text, tl)), VMDB_EPARSE);
}

static void test_keypair(void **state)
{
    (void)state;
    uint8_t sk[64], got[64];
    vmdb_buf j = VMDB_BUF_INIT;
    seed_key(sk, 0x00);
    assert_int_equal(vmdb_sol_keypair_json(&j, sk), 0);
    assert_true(j.len > 64 * 2);
    assert_memory_equal(j.ptr, "[0,1,2,3,4,", 11);
    assert_int_equal(j.ptr[j.len - 1], ']');
    assert_int_equal(vmdb_sol_keypair_parse(got, VMDB_SLICE(j.ptr, j.len)), 0);
    assert_memory_equal(got, sk, 64);

    /* With JSON whitespace, as some tools write it. */
    char text[2048];
    size_t n = 0;
    n += (size_t)snprintf(text + n, sizeof text - n, " \n[\n");
    for (int i = 0; i < 64; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "  %u%s\n", sk[i], i < 63 ? " ," : "");
    n += (size_t)snprintf(text + n, sizeof text - n, "]\r\n\t");
    memset(got, 0, 64);
    assert_int_equal(vmdb_sol_keypair_parse(got, VMDB_SLICE(text, n)), 0);
    assert_memory_equal(got, sk, 64);

    /* Mutations of the canonical text. */
    char base[1024];
    memcpy(base, j.ptr, j.len);
    base[j.len] = '\0';
    char *last_comma = strrchr(base, ',');
    assert_non_null(last_comma);
    struct {
        const char *text;
        int rc;
    } cases[6];
    char c63[1024], c65[1024], c256[1024], c0lead[1024], cneg[1024], cfrac[1024];
    /* 63 numbers: drop the last. */
    snprintf(c63, sizeof c63, "%.*s]", (int)(last_comma - base), base);
    snprintf(c65, sizeof c65, "%.*s,1]", (int)(j.len - 1), base);
    snprintf(c256, sizeof c256, "[256%s", strchr(base, ','));
    snprintf(c0lead, sizeof c0lead, "[00%s", strchr(base, ','));
    snprintf(cneg, sizeof cneg, "[-0%s", strchr(base, ','));
    snprintf(cfrac, sizeof cfrac, "[0.0%s", strchr(base, ','));
    cases[0].text = c63;
    cases[1].text = c65;
    cases[2].text = c256;
    cases[3].text = c0lead;
    cases[4].text = cneg;
    cases[5].text = cfrac;
    for (size_t i = 0; i < 6; i++) {
        cases[i].rc = vmdb_sol_keypair_parse(got, VMDB_SLICE(cases[i].text, strlen(cases[i].text)));
        assert_int_equal(cases[i].rc, VMDB_EPARSE);
    }
    const char *bad[] = {"", "[]", "{}", "[1,2", "[,]", "\"x\"", "[1,,2]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(vmdb_sol_keypair_parse(got, VMDB_SLICE(bad[i], strlen(bad[i]))),
                         VMDB_EPARSE);
    /* Trailing garbage, trailing comma. */
    snprintf(text, sizeof text, "%s x", base);
    assert_int_equal(vmdb_sol_keypair_parse(got, VMDB_SLICE(text, strlen(text))), VMDB_EPARSE);
    snprintf(text, sizeof text, "%.*s,]", (int)(j.len - 1), base);
    assert_int_equal(vmdb_sol_keypair_parse(got, VMDB_SLICE(text, strlen(text))), VMDB_EPARSE);
    /* A public key that is not the seed's. */
    uint8_t wrong[64];
    memcpy(wrong, sk, 64);
    wrong[63] ^= 1;
    vmdb_buf w = VMDB_BUF_INIT;
    assert_int_equal(vmdb_sol_keypair_json(&w, wrong), 0);
    assert_int_equal(vmdb_sol_keypair_parse(got, VMDB_SLICE(w.ptr, w.len)), VMDB_EVERIFY);

    /* Files. */
    char path[] = "/tmp/vmdb-test-keypair-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, j.ptr, j.len), (ssize_t)j.len);
    close(fd);
    memset(got, 0, 64);
    assert_int_equal(vmdb_sol_keypair_read(got, path), 0);
    assert_memory_equal(got, sk, 64);
    /* Larger than 4 KiB, even if it were whitespace. */
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    for (int i = 0; i < 5000; i++)
        fputc(' ', f);
    fclose(f);
    assert_int_equal(vmdb_sol_keypair_read(got, path), VMDB_ELIMIT);
    unlink(path);
    assert_int_equal(vmdb_sol_keypair_read(got, path), VMDB_EIO);
    vmdb_buf_free(&j);
    vmdb_buf_free(&w);
}

/* ---- base58 of any length (the core's vmdb_base58_decode_buf) ---- */

/* Decodes `text` into a fresh buffer capped at `max` and checks it is the
 * `n` bytes of `want`. */
static void b58_buf_eq(const char *text, size_t max, const void *want, size_t n)
{
    vmdb_buf b = {NULL, 0, 0, max};
    assert_int_equal(vmdb_base58_decode_buf(&b, text, strlen(text)), 0);
    assert_int_equal(b.len, n);
    if (n)
        assert_memory_equal(b.ptr, want, n);
    vmdb_buf_free(&b);
}

static void test_base58_buf(void **state)
{
    (void)state;
    static const struct {
        const char *text, *hex;
    } vectors[] = {
        /* Bitcoin's base58_encode_decode.json */
        {"", ""},
        {"2g", "61"},
        {"a3gV", "626262"},
        {"aPEr", "636363"},
        {"2cFupjhnEsSn59qHXstmK2ffpLv2", "73696d706c792061206c6f6e6720737472696e67"},
        {"1NS17iag9jJgTHD1VXjvLCEnZuQ3rJDE9L",
         "00eb15231dfceb60925886b67d065299925915aeb172c06647"},
        {"ABnLTmg", "516b6fcd0f"},
        {"3SEo3LWLoPntC", "bf4f89001e670274dd"},
        {"3EFU7m", "572e4794"},
        {"EJDM8drfXA6uyA", "ecac89cad93923c02321"},
        {"Rt5zm", "10c8511e"},
        {"1111111111", "00000000000000000000"},
        /* leading '1's are zero bytes, before a value too */
        {"1", "00"},
        {"111", "000000"},
        {"112g", "000061"},
        {"1112", "00000001"},
        {"z", "39"},
        {"21", "3a"},
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t n = 0;
        uint8_t *want = tu_unhex(vectors[i].hex, strlen(vectors[i].hex), &n);
        b58_buf_eq(vectors[i].text, 0, want, n);
        /* A cap of exactly the size is enough. */
        b58_buf_eq(vectors[i].text, n, want, n);
        free(want);
    }
    b58_buf_eq("JxF12TrwUP45BMd", 0, "Hello World", 11);

    /* It appends; empty text appends nothing. */
    vmdb_buf b = VMDB_BUF_INIT;
    assert_int_equal(vmdb_buf_put(&b, "ab", 2), 0);
    assert_int_equal(vmdb_base58_decode_buf(&b, "", 0), 0);
    assert_int_equal(vmdb_base58_decode_buf(&b, NULL, 0), 0);
    assert_int_equal(b.len, 2);
    assert_int_equal(vmdb_base58_decode_buf(&b, "12g", 3), 0);
    assert_int_equal(b.len, 4);
    assert_memory_equal(b.ptr, "ab\0a", 4);

    /* Characters outside the alphabet, anywhere; an embedded NUL. */
    static const char *const bad[] = {
        "0",    "O",   "I",         "l",
        "+",    "/",   " 2g",       "2g ",
        "2g\n", "11O", "2\xc3\xa9", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vmdb_base58_decode_buf(&b, bad[i], strlen(bad[i])), VMDB_EINVAL);
        assert_int_equal(b.len, 4);
    }
    assert_int_equal(vmdb_base58_decode_buf(&b, "2\0g", 3), VMDB_EINVAL);
    /* Only `len` characters are read. */
    assert_int_equal(vmdb_base58_decode_buf(&b, "2gXYZ", 2), 0);
    assert_int_equal(b.len, 5);
    assert_int_equal(b.ptr[4], 0x61);
    vmdb_buf_free(&b);

    /* Over the cap: the value, the leading zeros, or what is already held. */
    vmdb_buf c = {NULL, 0, 0, 2};
    assert_int_equal(vmdb_base58_decode_buf(&c, "a3gV", 4), VMDB_ELIMIT);
    assert_int_equal(vmdb_base58_decode_buf(&c, "111", 3), VMDB_ELIMIT);
    assert_int_equal(vmdb_base58_decode_buf(&c, "12g", 3), 0);
    assert_int_equal(c.len, 2);
    assert_int_equal(vmdb_base58_decode_buf(&c, "2g", 2), VMDB_ELIMIT);
    assert_int_equal(vmdb_base58_decode_buf(&c, "1", 1), VMDB_ELIMIT);
    assert_int_equal(vmdb_base58_decode_buf(&c, "", 0), 0);
    assert_int_equal(c.len, 2);
    assert_memory_equal(c.ptr, "\0a", 2);
    vmdb_buf_free(&c);

    /* The text guard: VMDB_BASE58_TEXT_MAX characters decode, one more is
     * refused before any work, whatever the cap. */
    static char ones[VMDB_BASE58_TEXT_MAX + 2], zs[VMDB_BASE58_TEXT_MAX + 2];
    memset(ones, '1', VMDB_BASE58_TEXT_MAX + 1);
    memset(zs, 'z', VMDB_BASE58_TEXT_MAX + 1);
    vmdb_buf d = VMDB_BUF_INIT;
    assert_int_equal(vmdb_base58_decode_buf(&d, ones, VMDB_BASE58_TEXT_MAX), 0);
    assert_int_equal(d.len, VMDB_BASE58_TEXT_MAX);
    for (size_t i = 0; i < d.len; i++)
        assert_int_equal(d.ptr[i], 0);
    d.len = 0;
    assert_int_equal(vmdb_base58_decode_buf(&d, zs, VMDB_BASE58_TEXT_MAX), 0);
    /* 58^1700 - 1 takes 1245 bytes, all of them used. */
    assert_int_equal(d.len, 1245);
    assert_int_not_equal(d.ptr[0], 0);
    d.len = 0;
    assert_int_equal(vmdb_base58_decode_buf(&d, ones, VMDB_BASE58_TEXT_MAX + 1), VMDB_ELIMIT);
    assert_int_equal(vmdb_base58_decode_buf(&d, zs, VMDB_BASE58_TEXT_MAX + 1), VMDB_ELIMIT);
    assert_int_equal(d.len, 0);
    vmdb_buf_free(&d);
    /* The fixed-size decoder shares the guard (and answers VMDB_EINVAL). */
    uint8_t one[1];
    assert_int_equal(vmdb_base58_decode(one, 1, ones, VMDB_BASE58_TEXT_MAX + 1), VMDB_EINVAL);
    assert_int_equal(vmdb_base58_decode(one, 1, "2g", 2), 0);
    assert_int_equal(one[0], 0x61);
    assert_int_equal(vmdb_base58_decode(one, 1, "a3gV", 4), VMDB_EINVAL);
    assert_int_equal(vmdb_base58_decode(one, 1, "", 0), VMDB_EINVAL);
    assert_int_equal(vmdb_base58_decode(one, 1, "0", 1), VMDB_EINVAL);

    /* Round trips with the encoder on random bytes of random length, with
     * runs of leading zero bytes, through both decoders. */
    tu_rng r = {58};
    static uint8_t in[1024], fixed[1024];
    for (int iter = 0; iter < 400; iter++) {
        size_t n = iter < 8 ? (size_t)iter : (size_t)(tu_rand(&r) % (sizeof in + 1));
        if (iter >= 390)
            n = sizeof in;
        tu_fill(&r, in, n);
        size_t lead = n ? (size_t)(tu_rand(&r) % 4) : 0;
        memset(in, 0, lead < n ? lead : n);
        vmdb_buf text = VMDB_BUF_INIT, back = VMDB_BUF_INIT;
        assert_int_equal(vmdb_base58_encode(&text, VMDB_SLICE(in, n)), 0);
        assert_true(text.len <= VMDB_BASE58_TEXT_MAX);
        assert_int_equal(vmdb_base58_decode_buf(&back, (const char *)text.ptr, text.len), 0);
        assert_int_equal(back.len, n);
        if (n)
            assert_memory_equal(back.ptr, in, n);
        if (n) {
            assert_int_equal(vmdb_base58_decode(fixed, n, (const char *)text.ptr, text.len), 0);
            assert_memory_equal(fixed, in, n);
        }
        if (n > 1) { /* (a max of 0 means no cap) */
            /* One byte short of room: refused, nothing appended. */
            back.len = 0;
            back.max = n - 1;
            assert_int_equal(vmdb_base58_decode_buf(&back, (const char *)text.ptr, text.len),
                             VMDB_ELIMIT);
            assert_int_equal(back.len, 0);
        }
        vmdb_buf_free(&text);
        vmdb_buf_free(&back);
    }
}

/* ---- the RPC client against a local HTTP server ---- */

enum { SRV_REPLY, SRV_HANG, SRV_HUGE_LEN, SRV_HUGE_STREAM };

#define HUGE_BODY ((size_t)9 << 20)

typedef struct fake_srv {
    int lfd;
    unsigned short port;
    pthread_t th;
    pthread_mutex_t mu;
    int stop;
    /* what the next request gets */
    int mode;
    int status;
    char body[16384]; /* "@ID@" becomes the request's id */
    /* what arrived */
    char req[65536];
    size_t req_len;
    int connections;
} fake_srv;

static fake_srv srv;

static int wait_readable(int fd, int other, int ms)
{
    struct pollfd p[2] = {{fd, POLLIN, 0}, {other, POLLIN, 0}};
    int n = poll(p, other >= 0 ? 2 : 1, ms);
    if (n <= 0)
        return -1;
    if (other >= 0 && (p[1].revents & POLLIN) && !(p[0].revents & (POLLIN | POLLHUP)))
        return 1; /* a new connection is waiting: drop this one */
    return 0;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads one request into srv.req. 0, or -1 when the connection is done. */
static int read_request(int fd)
{
    static char buf[70000];
    size_t len = 0, body_at = 0, clen = 0;
    for (;;) {
        if (body_at && len >= body_at + clen)
            break;
        if (wait_readable(fd, srv.lfd, 5000) != 0)
            return -1;
        ssize_t k = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (k <= 0)
            return -1;
        len += (size_t)k;
        buf[len] = '\0';
        if (!body_at) {
            char *end = strstr(buf, "\r\n\r\n");
            if (!end)
                continue;
            body_at = (size_t)(end - buf) + 4;
            char *cl = strcasestr(buf, "\r\nContent-Length:");
            if (!cl || cl > end)
                return -1;
            clen = strtoul(cl + 17, NULL, 10);
            if (clen > sizeof srv.req - 1)
                return -1;
        }
    }
    pthread_mutex_lock(&srv.mu);
    memcpy(srv.req, buf + body_at, clen);
    srv.req[clen] = '\0';
    srv.req_len = clen;
    pthread_mutex_unlock(&srv.mu);
    return 0;
}

/* Serves requests on one connection until it closes or a mode ends it. */
static void serve_conn(int fd)
{
    char *out = malloc(sizeof srv.body + 256);
    if (!out)
        return;
    while (read_request(fd) == 0) {
        char id[32] = "0", head[256], body[sizeof srv.body];
        int mode, status;
        pthread_mutex_lock(&srv.mu);
        const char *ip = strstr(srv.req, "\"id\":");
        if (ip) {
            size_t n = strspn(ip + 5, "0123456789");
            if (n < sizeof id) {
                memcpy(id, ip + 5, n);
                id[n] = '\0';
            }
        }
        mode = srv.mode;
        status = srv.status;
        memcpy(body, srv.body, sizeof body);
        pthread_mutex_unlock(&srv.mu);

        if (mode == SRV_HANG) {
            char sink[256];
            /* Until the client gives up (or 10 s). */
            for (int i = 0; i < 100; i++) {
                if (wait_readable(fd, -1, 100) == 0 && recv(fd, sink, sizeof sink, 0) <= 0)
                    break;
            }
            break;
        }
        if (mode == SRV_HUGE_LEN || mode == SRV_HUGE_STREAM) {
            int n = mode == SRV_HUGE_LEN
                        ? snprintf(head, sizeof head,
                                   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   "Content-Length: %zu\r\n\r\n",
                                   HUGE_BODY)
                        : snprintf(head, sizeof head,
                                   "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   "Connection: close\r\n\r\n");
            static char chunk[65536];
            memset(chunk, ' ', sizeof chunk);
            chunk[0] = '[';
            if (send_all(fd, head, (size_t)n) == 0)
                for (size_t sent = 0; sent < HUGE_BODY; sent += sizeof chunk)
                    if (send_all(fd, chunk, sizeof chunk) != 0)
                        break;
            break;
        }
        /* The body with the id substituted. */
        size_t o = 0;
        for (const char *p = body; *p && o + sizeof id < sizeof srv.body; p++) {
            if (strncmp(p, "@ID@", 4) == 0) {
                memcpy(out + o, id, strlen(id));
                o += strlen(id);
                p += 3;
            } else {
                out[o++] = *p;
            }
        }
        int n = snprintf(head, sizeof head,
                         "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n\r\n",
                         status, o);
        if (send_all(fd, head, (size_t)n) != 0 || send_all(fd, out, o) != 0)
            break;
    }
    free(out);
}

static void *srv_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&srv.mu);
        int stop = srv.stop;
        pthread_mutex_unlock(&srv.mu);
        if (stop)
            break;
        if (wait_readable(srv.lfd, -1, 50) != 0)
            continue;
        int fd = accept(srv.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock(&srv.mu);
        srv.connections++;
        pthread_mutex_unlock(&srv.mu);
        serve_conn(fd);
        close(fd);
    }
    return NULL;
}

static int srv_start(void **state)
{
    (void)state;
    struct sockaddr_in a;
    socklen_t alen = sizeof a;
    memset(&srv, 0, sizeof srv);
    pthread_mutex_init(&srv.mu, NULL);
    srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (srv.lfd < 0 || bind(srv.lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(srv.lfd, 8) != 0 || getsockname(srv.lfd, (struct sockaddr *)&a, &alen) != 0)
        return -1;
    srv.port = ntohs(a.sin_port);
    return pthread_create(&srv.th, NULL, srv_main, NULL) == 0 ? 0 : -1;
}

static int srv_stop(void **state)
{
    (void)state;
    pthread_mutex_lock(&srv.mu);
    srv.stop = 1;
    pthread_mutex_unlock(&srv.mu);
    pthread_join(srv.th, NULL);
    close(srv.lfd);
    pthread_mutex_destroy(&srv.mu);
    return 0;
}

static void srv_script(int mode, int status, const char *body)
{
    pthread_mutex_lock(&srv.mu);
    srv.mode = mode;
    srv.status = status;
    snprintf(srv.body, sizeof srv.body, "%s", body ? body : "");
    srv.req[0] = '\0';
    srv.req_len = 0;
    pthread_mutex_unlock(&srv.mu);
}

/* The body of the last request (copied). */
static const char *srv_request(void)
{
    static char copy[sizeof srv.req];
    pthread_mutex_lock(&srv.mu);
    memcpy(copy, srv.req, sizeof copy);
    pthread_mutex_unlock(&srv.mu);
    return copy;
}

static int srv_connections(void)
{
    pthread_mutex_lock(&srv.mu);
    int n = srv.connections;
    pthread_mutex_unlock(&srv.mu);
    return n;
}

/* Log lines of the client, kept to check what they say. */
static struct {
    int n;
    char last[512];
    int secret_seen;
} logs;

static void test_log(void *ctx, const char *line)
{
    (void)ctx;
    logs.n++;
    snprintf(logs.last, sizeof logs.last, "%s", line);
    if (strstr(line, "SECRET"))
        logs.secret_seen = 1;
}

static vmdb_sol_rpc *new_client(long timeout_ms)
{
    char url[128];
    vmdb_sol_rpc_opts o = {0};
    vmdb_sol_rpc *c = NULL;
    o.timeout_ms = timeout_ms;
    o.connect_timeout_ms = 2000;
    o.log = test_log;
    snprintf(url, sizeof url, "http://127.0.0.1:%u/?api-key=SECRET", srv.port);
    assert_int_equal(vmdb_sol_rpc_new(&c, url, &o), 0);
    return c;
}

static void b58(char *out, size_t cap, const uint8_t *p, size_t n)
{
    vmdb_buf b = VMDB_BUF_INIT;
    assert_int_equal(vmdb_base58_encode(&b, VMDB_SLICE(p, n)), 0);
    assert_true(b.len < cap);
    memcpy(out, b.ptr, b.len);
    out[b.len] = '\0';
    vmdb_buf_free(&b);
}

/* SOLANA_RPC_URL: one endpoint or several, comma-separated. */
static void test_urls_split(void **state)
{
    (void)state;
    char *u[VMDB_SOL_MAX_ENDPOINTS] = {0};
    size_t n = 9;
    assert_int_equal(vmdb_sol_urls_split(u, &n, "http://a"), 0);
    assert_int_equal(n, 1);
    assert_string_equal(u[0], "http://a");
    vmdb_sol_urls_free(u, n);
    assert_int_equal(vmdb_sol_urls_split(u, &n, " http://a , https://b:8899/x?k=1,http://c\t"), 0);
    assert_int_equal(n, 3);
    assert_string_equal(u[0], "http://a");
    assert_string_equal(u[1], "https://b:8899/x?k=1");
    assert_string_equal(u[2], "http://c");
    vmdb_sol_urls_free(u, n);
    assert_null(u[0]);
    static const char *const bad[] = {
        "", " ", "http://a,", ",http://a", "http://a,,http://b", "a,b,c,d,e,f,g,h,i"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vmdb_sol_urls_split(u, &n, bad[i]), VMDB_EINVAL);
        assert_int_equal(n, 0);
    }
    assert_int_equal(vmdb_sol_urls_split(u, &n, NULL), VMDB_EINVAL);
    assert_int_equal(vmdb_sol_urls_split(u, &n, "a,b,c,d,e,f,g,h"), 0);
    assert_int_equal(n, 8);
    vmdb_sol_urls_free(u, n);
}

static void test_rpc_new(void **state)
{
    (void)state;
    vmdb_sol_rpc *c = (vmdb_sol_rpc *)1;
    assert_int_equal(vmdb_sol_rpc_new(&c, "ftp://127.0.0.1/", NULL), VMDB_EINVAL);
    assert_null(c);
    assert_int_equal(vmdb_sol_rpc_new(&c, "127.0.0.1:8899", NULL), VMDB_EINVAL);
    assert_int_equal(vmdb_sol_rpc_new(&c, NULL, NULL), VMDB_EINVAL);
    assert_int_equal(vmdb_sol_rpc_new(&c, "HTTPS://api.devnet.solana.com", NULL), 0);
    vmdb_sol_rpc_free(c);
    vmdb_sol_rpc_free(NULL);
}

static void test_rpc_errors(void **state)
{
    (void)state;
    vmdb_sol_rpc *c = new_client(1500);
    const vmdb_sol_rpc_status *st = vmdb_sol_rpc_last(c);
    uint64_t h;

    /* Oversized, announced by Content-Length: refused before reading. */
    srv_script(SRV_HUGE_LEN, 200, NULL);
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), VMDB_ELIMIT);
    assert_int_equal(st->kind, VMDB_SOL_RPC_TOO_LARGE);
    /* Oversized without a length: cut at the cap. */
    srv_script(SRV_HUGE_STREAM, 200, NULL);
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), VMDB_ELIMIT);
    assert_int_equal(st->kind, VMDB_SOL_RPC_TOO_LARGE);
    /* Malformed JSON, not JSON, and JSON of the wrong shape. */
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":");
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), VMDB_EPARSE);
    assert_int_equal(st->kind, VMDB_SOL_RPC_MALFORMED);
    srv_script(SRV_REPLY, 200, "hello");
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), VMDB_EPARSE);
    srv_script(SRV_REPLY, 200, "[1,2]");
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), VMDB_EPARSE);
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":\"12\"}");
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), VMDB_EPARSE);
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":-1}");
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), VMDB_ERANGE);
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":@ID@}");
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), VMDB_EPARSE);
    /* Duplicate keys, a wrong id, a wrong version. */
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":1,\"result\":2}");
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), VMDB_EPARSE);
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":99999,\"result\":1}");
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), VMDB_EPARSE);
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"1.0\",\"id\":@ID@,\"result\":1}");
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), VMDB_EPARSE);
    /* HTTP errors: without and with a JSON-RPC error in the body. */
    srv_script(SRV_REPLY, 500, "<html>oops</html>");
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), VMDB_EIO);
    assert_int_equal(st->kind, VMDB_SOL_RPC_HTTP);
    assert_int_equal(st->http_status, 500);
    srv_script(SRV_REPLY, 429,
               "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"error\":{\"code\":429,\"message\":\"Too many "
               "requests\"}}");
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), VMDB_EINVAL);
    assert_int_equal(st->kind, VMDB_SOL_RPC_ERROR);
    assert_int_equal(st->rpc_code, 429);
    assert_string_equal(st->rpc_message, "Too many requests");
    /* A malformed error object. */
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"error\":\"bad\"}");
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), VMDB_EPARSE);
    /* The client still works after all that. */
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":77}");
    assert_int_equal(vmdb_sol_rpc_get_block_height(c, &h), 0);
    assert_int_equal(h, 77);
    assert_int_equal(st->kind, VMDB_SOL_RPC_OK);
    assert_int_equal(st->http_status, 200);
    vmdb_sol_rpc_free(c);

    /* A timeout. */
    c = new_client(300);
    st = vmdb_sol_rpc_last(c);
    srv_script(SRV_HANG, 200, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(vmdb_sol_rpc_get_health(c), VMDB_EIO);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(st->kind, VMDB_SOL_RPC_TIMEOUT);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(secs >= 0.25 && secs < 3.0);
    /* No libcurl text in the error line the caller sees. */
    assert_string_equal(vmdb_error_last(), "solana rpc getHealth: timed out");
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":\"ok\"}");
    assert_int_equal(vmdb_sol_rpc_get_health(c), 0);
    vmdb_sol_rpc_free(c);

    /* Connection refused: a port nobody listens on. */
    {
        struct sockaddr_in a;
        socklen_t alen = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
        close(fd);
        char url[128];
        snprintf(url, sizeof url, "http://127.0.0.1:%u/?api-key=SECRET", ntohs(a.sin_port));
        vmdb_sol_rpc_opts o = {0};
        o.log = test_log;
        assert_int_equal(vmdb_sol_rpc_new(&c, url, &o), 0);
        int before = logs.n;
        assert_int_equal(vmdb_sol_rpc_get_health(c), VMDB_EIO);
        assert_int_equal(vmdb_sol_rpc_last(c)->kind, VMDB_SOL_RPC_TRANSPORT);
        assert_string_equal(vmdb_error_last(), "solana rpc getHealth: transport failure");
        assert_true(logs.n > before);
        vmdb_sol_rpc_free(c);
    }
    assert_false(logs.secret_seen);
}

static void test_rpc_methods(void **state)
{
    (void)state;
    vmdb_sol_rpc *c = new_client(5000);
    const vmdb_sol_rpc_status *st = vmdb_sol_rpc_last(c);
    char body[16384], k58[64], s58[100], s58b[100];
    uint8_t bh[32], got[32], sig[64], sig2[64], addr[32];
    uint64_t v;
    int conns = srv_connections();

    memset(bh, 0x42, 32);
    memset(addr, 0x07, 32);
    memset(sig, 0x33, 64);
    memset(sig2, 0x44, 64);
    b58(k58, sizeof k58, bh, 32);
    b58(s58, sizeof s58, sig, 64);
    b58(s58b, sizeof s58b, sig2, 64);

    /* getHealth, three times over one connection. */
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":\"ok\"}");
    for (int i = 0; i < 3; i++)
        assert_int_equal(vmdb_sol_rpc_get_health(c), 0);
    assert_int_equal(srv_connections(), conns + 1);
    assert_non_null(strstr(srv_request(), "\"method\":\"getHealth\""));
    srv_script(SRV_REPLY, 200,
               "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"error\":{\"code\":-32005,\"message\":"
               "\"Node is behind by 42 slots\",\"data\":{\"numSlotsBehind\":42}}}");
    assert_int_equal(vmdb_sol_rpc_get_health(c), VMDB_EINVAL);
    assert_int_equal(st->rpc_code, -32005);

    /* getLatestBlockhash */
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":{\"context\":{\"apiVersion\":\"2.2.0\","
             "\"slot\":341},\"value\":{\"blockhash\":\"%s\",\"lastValidBlockHeight\":491}}}",
             k58);
    srv_script(SRV_REPLY, 200, body);
    assert_int_equal(vmdb_sol_rpc_get_latest_blockhash(c, got, &v), 0);
    assert_memory_equal(got, bh, 32);
    assert_int_equal(v, 491);
    assert_non_null(strstr(srv_request(), "\"commitment\":\"confirmed\""));
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":{\"value\":{\"blockhash\":\"%s0\","
             "\"lastValidBlockHeight\":491}}}",
             k58);
    srv_script(SRV_REPLY, 200, body);
    assert_int_equal(vmdb_sol_rpc_get_latest_blockhash(c, got, NULL), VMDB_EPARSE);

    /* getBalance: a balance above 2^53 is exact. */
    srv_script(SRV_REPLY, 200,
               "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":{\"context\":{\"slot\":1},"
               "\"value\":500000000000000001}}");
    assert_int_equal(vmdb_sol_rpc_get_balance(c, &v, addr), 0);
    assert_true(v == 500000000000000001ULL);
    char a58[64];
    b58(a58, sizeof a58, addr, 32);
    assert_non_null(strstr(srv_request(), a58));
    /* A u64 above 2^63 elsewhere in the answer does not break it ... */
    srv_script(SRV_REPLY, 200,
               "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":{\"context\":{\"slot\":1,"
               "\"rentEpoch\":18446744073709551615},\"value\":1000}}");
    assert_int_equal(vmdb_sol_rpc_get_balance(c, &v, addr), 0);
    assert_int_equal(v, 1000);
    /* ... but the value asked for must stay exact. */
    srv_script(SRV_REPLY, 200,
               "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":{\"context\":{\"slot\":1,"
               "\"rentEpoch\":18446744073709551615},\"value\":500000000000000001}}");
    assert_int_equal(vmdb_sol_rpc_get_balance(c, &v, addr), VMDB_ERANGE);
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":{\"value\":1.5}}");
    assert_int_equal(vmdb_sol_rpc_get_balance(c, &v, addr), VMDB_ERANGE);

    /* getMinimumBalanceForRentExemption */
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":890880}");
    assert_int_equal(vmdb_sol_rpc_get_min_rent(c, &v, 0), 0);
    assert_int_equal(v, 890880);
    assert_non_null(strstr(srv_request(), "\"params\":[0,{"));

    /* requestAirdrop */
    snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":\"%s\"}", s58);
    srv_script(SRV_REPLY, 200, body);
    uint8_t out[64];
    assert_int_equal(vmdb_sol_rpc_request_airdrop(c, out, addr, 1000000000), 0);
    assert_memory_equal(out, sig, 64);
    assert_non_null(strstr(srv_request(), ",1000000000,"));

    /* sendTransaction: the wire bytes go base64; a rejection comes back as
     * the RPC code and a sanitized message. */
    uint8_t a[64];
    seed_key(a, 0x00);
    vmdb_buf wire = VMDB_BUF_INIT;
    build_tx(&wire, a, NULL, NULL, "vmdb:hi");
    uint8_t txsig[64];
    memcpy(txsig, wire.ptr + 1, 64);
    char t58[100];
    b58(t58, sizeof t58, txsig, 64);
    snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":\"%s\"}", t58);
    srv_script(SRV_REPLY, 200, body);
    assert_int_equal(vmdb_sol_rpc_send_transaction(c, out, VMDB_SLICE(wire.ptr, wire.len), true),
                     0);
    assert_memory_equal(out, txsig, 64);
    assert_non_null(strstr(srv_request(), V1_B64));
    assert_non_null(strstr(srv_request(), "\"skipPreflight\":true"));
    assert_non_null(strstr(srv_request(), "\"encoding\":\"base64\""));
    srv_script(SRV_REPLY, 200,
               "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"error\":{\"code\":-32002,\"message\":"
               "\"Transaction simulation failed: Blockhash not found\\u0007\\n\",\"data\":{"
               "\"accounts\":null,\"err\":\"BlockhashNotFound\",\"logs\":[]}}}");
    assert_int_equal(vmdb_sol_rpc_send_transaction(c, out, VMDB_SLICE(wire.ptr, wire.len), false),
                     VMDB_EINVAL);
    assert_non_null(strstr(srv_request(), "\"skipPreflight\":false"));
    assert_int_equal(st->kind, VMDB_SOL_RPC_ERROR);
    assert_int_equal(st->rpc_code, -32002);
    assert_string_equal(st->rpc_message, "Transaction simulation failed: Blockhash not found??");
    assert_int_equal(vmdb_sol_rpc_send_transaction(c, out, VMDB_SLICE(wire.ptr, 0), false),
                     VMDB_ELIMIT);
    assert_int_equal(st->kind, VMDB_SOL_RPC_ARG);

    /* getSignatureStatuses */
    uint8_t sigs[3][64];
    memset(sigs[0], 0x33, 64);
    memset(sigs[1], 0x44, 64);
    memset(sigs[2], 0x55, 64);
    vmdb_sol_sig_status ss[3];
    srv_script(SRV_REPLY, 200,
               "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":{\"context\":{\"slot\":82},\"value\":["
               "null,{\"slot\":72,\"confirmations\":null,\"err\":null,\"status\":{\"Ok\":null},"
               "\"confirmationStatus\":\"finalized\"},{\"slot\":48,\"confirmations\":1,\"err\":{"
               "\"InstructionError\":[0,{\"Custom\":1}]},\"status\":{\"Err\":{}},"
               "\"confirmationStatus\":\"confirmed\"}]}}");
    assert_int_equal(
        vmdb_sol_rpc_get_signature_statuses(c, ss, (const uint8_t(*)[64])sigs, 3, true), 0);
    assert_int_equal(ss[0].state, VMDB_SOL_TX_NOT_FOUND);
    assert_int_equal(ss[1].state, VMDB_SOL_TX_FINALIZED);
    assert_true(ss[1].err_null);
    assert_int_equal(ss[1].slot, 72);
    assert_int_equal(ss[2].state, VMDB_SOL_TX_CONFIRMED);
    assert_false(ss[2].err_null);
    assert_int_equal(ss[2].slot, 48);
    assert_non_null(strstr(srv_request(), s58));
    assert_non_null(strstr(srv_request(), s58b));
    assert_non_null(strstr(srv_request(), "\"searchTransactionHistory\":true"));
    /* One status short. */
    srv_script(SRV_REPLY, 200,
               "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":{\"context\":{\"slot\":82},\"value\":["
               "null,null]}}");
    assert_int_equal(
        vmdb_sol_rpc_get_signature_statuses(c, ss, (const uint8_t(*)[64])sigs, 3, false),
        VMDB_EPARSE);
    assert_int_equal(
        vmdb_sol_rpc_get_signature_statuses(c, ss, (const uint8_t(*)[64])sigs, 0, false),
        VMDB_EINVAL);

    /* getSignaturesForAddress */
    vmdb_sol_sig_info si[2];
    size_t n = 9;
    snprintf(body, sizeof body,
             "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":[{\"signature\":\"%s\",\"slot\":114,"
             "\"err\":null,\"memo\":\"[7] vmdb1:x\",\"blockTime\":null,\"confirmationStatus\":"
             "\"finalized\"},{\"signature\":\"%s\",\"slot\":113,\"err\":{\"x\":1},\"memo\":null,"
             "\"blockTime\":1700000000}]}",
             s58, s58b);
    srv_script(SRV_REPLY, 200, body);
    assert_int_equal(vmdb_sol_rpc_get_signatures_for_address(c, si, &n, addr, 2, sigs[2], sigs[0]),
                     0);
    assert_int_equal(n, 2);
    assert_memory_equal(si[0].sig, sigs[0], 64);
    assert_int_equal(si[0].slot, 114);
    assert_true(si[0].err_null);
    assert_int_equal(si[0].state, VMDB_SOL_TX_FINALIZED);
    assert_memory_equal(si[1].sig, sigs[1], 64);
    assert_false(si[1].err_null);
    assert_int_equal(si[1].state, VMDB_SOL_TX_NOT_FOUND);
    const char *rq = srv_request();
    assert_non_null(strstr(rq, "\"limit\":2"));
    assert_non_null(strstr(rq, "\"before\":\""));
    assert_non_null(strstr(rq, "\"until\":\""));
    assert_non_null(strstr(rq, "\"commitment\":\"confirmed\""));
    /* More entries than the limit. */
    assert_int_equal(vmdb_sol_rpc_get_signatures_for_address(c, si, &n, addr, 1, NULL, NULL),
                     VMDB_EPARSE);
    assert_int_equal(n, 0);
    assert_int_equal(vmdb_sol_rpc_get_signatures_for_address(c, si, &n, addr, 1001, NULL, NULL),
                     VMDB_EINVAL);
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":[]}");
    assert_int_equal(vmdb_sol_rpc_get_signatures_for_address(c, si, &n, addr, 1, NULL, NULL), 0);
    assert_int_equal(n, 0);

    vmdb_buf_free(&wire);
    vmdb_sol_rpc_free(c);
}

/* The JSON getTransaction returns for a wire transaction, as the node
 * writes it; `data_override` replaces the memo's base58 data. */
static void tx_json(char *out, size_t cap, const uint8_t *wire, size_t len,
                    const char *data_override)
{
    vmdb_sol_tx tx;
    vmdb_buf b = VMDB_BUF_INIT;
    char tmp[2200], kb[100];
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(wire, len)), 0);
#define PUT(...)                                                                                   \
    do {                                                                                           \
        int k_ = snprintf(tmp, sizeof tmp, __VA_ARGS__);                                           \
        assert_true(k_ > 0 && (size_t)k_ < sizeof tmp);                                            \
        assert_int_equal(vmdb_buf_put(&b, tmp, (size_t)k_), 0);                                    \
    } while (0)
    PUT("{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":{\"blockTime\":1700000000,\"meta\":{"
        "\"computeUnitsConsumed\":1234,\"err\":null,\"fee\":5000,\"preBalances\":["
        "18446744073709551615],\"status\":{\"Ok\":null}},\"slot\":4242,\"transaction\":{"
        "\"message\":{\"accountKeys\":[");
    for (size_t i = 0; i < tx.msg.nkeys; i++) {
        b58(kb, sizeof kb, tx.msg.keys[i], 32);
        PUT("%s\"%s\"", i ? "," : "", kb);
    }
    PUT("],\"header\":{\"numReadonlySignedAccounts\":%u,\"numReadonlyUnsignedAccounts\":%u,"
        "\"numRequiredSignatures\":%u},\"instructions\":[",
        tx.msg.num_readonly_signed, tx.msg.num_readonly_unsigned, tx.msg.num_required_signatures);
    for (size_t i = 0; i < tx.msg.nix; i++) {
        const vmdb_sol_ix *ix = &tx.msg.ix[i];
        PUT("%s{\"accounts\":[", i ? "," : "");
        for (size_t k = 0; k < ix->naccounts; k++)
            PUT("%s%u", k ? "," : "", ix->accounts[k]);
        char d58[2000];
        if (data_override)
            snprintf(d58, sizeof d58, "%s", data_override);
        else
            b58(d58, sizeof d58, ix->data.ptr, ix->data.len);
        PUT("],\"data\":\"%s\",\"programIdIndex\":%u,\"stackHeight\":null}", d58,
            ix->program_index);
    }
    b58(kb, sizeof kb, tx.msg.blockhash, 32);
    PUT("],\"recentBlockhash\":\"%s\"},\"signatures\":[", kb);
    for (size_t i = 0; i < tx.nsigs; i++) {
        char s[100];
        b58(s, sizeof s, tx.sigs[i], 64);
        PUT("%s\"%s\"", i ? "," : "", s);
    }
    PUT("]},\"version\":\"legacy\"}}");
#undef PUT
    assert_true(b.len < cap);
    memcpy(out, b.ptr, b.len);
    out[b.len] = '\0';
    vmdb_buf_free(&b);
    vmdb_sol_tx_free(&tx);
}

static void test_rpc_get_transaction(void **state)
{
    (void)state;
    vmdb_sol_rpc *c = new_client(5000);
    uint8_t a[64], b[64], hh[32], root[32], h2[32], r2[32];
    uint64_t seq;
    vmdb_buf memo = VMDB_BUF_INIT, wire = VMDB_BUF_INIT;
    vmdb_sol_tx_info info;
    vmdb_slice m;
    static char body[16384];

    seed_key(a, 0x00);
    seed_key(b, 0x20);
    memset(hh, 0xab, 32);
    memset(root, 0xcd, 32);
    assert_int_equal(vmdb_sol_memo_text(&memo, 12345, hh, root), 0);
    assert_int_equal(vmdb_buf_putc(&memo, 0), 0);
    build_tx(&wire, b, a, a + 32, (const char *)memo.ptr);

    tx_json(body, sizeof body, wire.ptr, wire.len, NULL);
    srv_script(SRV_REPLY, 200, body);
    assert_int_equal(vmdb_sol_rpc_get_transaction(c, &info, wire.ptr + 1), 0);
    assert_non_null(strstr(srv_request(), "\"encoding\":\"json\""));
    assert_non_null(strstr(srv_request(), "\"maxSupportedTransactionVersion\":0"));
    assert_int_equal(info.slot, 4242);
    assert_int_equal(info.version, -1);
    assert_true(info.has_meta);
    assert_true(info.err_null);
    assert_int_equal(info.nsigs, 2);
    assert_int_equal(info.msg.num_required_signatures, 2);
    assert_int_equal(info.msg.nkeys, 3);
    assert_memory_equal(info.msg.keys[1], a + 32, 32);
    assert_int_equal(info.msg.nix, 1);
    assert_int_equal(info.msg.ix[0].program_index, 2);
    assert_int_equal(vmdb_sol_tx_info_verify(&info), 0);
    assert_int_equal(vmdb_sol_msg_find_memo(&m, &info.msg, a + 32), 0);
    assert_int_equal(vmdb_sol_memo_parse(&seq, h2, r2, m), 0);
    assert_int_equal(seq, 12345);
    assert_memory_equal(h2, hh, 32);
    assert_memory_equal(r2, root, 32);
    vmdb_sol_tx_info_free(&info);
    vmdb_sol_tx_info_free(NULL);

    /* A node that reports another memo than was signed is caught. */
    tx_json(body, sizeof body, wire.ptr, wire.len, "JxF12TrwUP45BMd");
    srv_script(SRV_REPLY, 200, body);
    assert_int_equal(vmdb_sol_rpc_get_transaction(c, &info, wire.ptr + 1), 0);
    assert_int_equal(info.msg.ix[0].data.len, 11);
    assert_memory_equal(info.msg.ix[0].data.ptr, "Hello World", 11);
    assert_int_equal(vmdb_sol_tx_info_verify(&info), VMDB_EVERIFY);
    vmdb_sol_tx_info_free(&info);
    /* Data that is not base58. */
    tx_json(body, sizeof body, wire.ptr, wire.len, "0OIl");
    srv_script(SRV_REPLY, 200, body);
    assert_int_equal(vmdb_sol_rpc_get_transaction(c, &info, wire.ptr + 1), VMDB_EPARSE);
    /* Not found. */
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":null}");
    assert_int_equal(vmdb_sol_rpc_get_transaction(c, &info, wire.ptr + 1), VMDB_ENOTFOUND);
    /* Not a transaction. */
    srv_script(SRV_REPLY, 200, "{\"jsonrpc\":\"2.0\",\"id\":@ID@,\"result\":{\"slot\":1}}");
    assert_int_equal(vmdb_sol_rpc_get_transaction(c, &info, wire.ptr + 1), VMDB_EPARSE);

    vmdb_buf_free(&memo);
    vmdb_buf_free(&wire);
    vmdb_sol_rpc_free(c);
}

/* ---- docs/vectors/solana.json ---- */

static void slice_eq_str(vmdb_slice s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.ptr, want, s.len);
}

static void key_b58_eq(const uint8_t key[32], vmdb_slice want)
{
    char t[VMDB_SOL_KEY_B58_MAX];
    assert_int_equal(vmdb_sol_key_b58(t, key), 0);
    assert_int_equal(want.len, strlen(t));
    assert_memory_equal(want.ptr, t, want.len);
}

static const vmdb_json *json_member(const vmdb_json *o, const char *k, vmdb_json_type t)
{
    const vmdb_json *v = vmdb_json_get(o, k);
    if (!v || vmdb_json_typeof(v) != t)
        fail_msg("vector member %s missing or of the wrong type", k);
    return v;
}

static void seed_from_hex(uint8_t sk[64], const vmdb_json *o, const char *k)
{
    uint8_t seed[32], pk[32];
    tu_json_hex32(o, k, seed);
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
}

/* One vector: build the same transaction from its inputs, then compare
 * every part the file states. */
static void check_vector(const vmdb_json *v)
{
    const vmdb_json *in = json_member(v, "inputs", VMDB_JSON_OBJECT);
    const vmdb_json *ex = json_member(v, "expected", VMDB_JSON_OBJECT);
    uint8_t ident[64], payer[64], bh[32], sks[2][64];
    vmdb_buf msg = VMDB_BUF_INIT, wire = VMDB_BUF_INIT;
    size_t nsk = 1;

    seed_from_hex(ident, in, "identitySeedHex");
    seed_from_hex(payer, in, "feePayerSeedHex");
    key_b58_eq(ident + 32, tu_json_str(in, "identityAddress"));
    key_b58_eq(payer + 32, tu_json_str(in, "feePayerAddress"));
    tu_json_hex32(in, "recentBlockhashHex", bh);
    key_b58_eq(bh, tu_json_str(in, "recentBlockhash"));
    slice_eq_str(tu_json_str(in, "memoProgram"), VMDB_SOL_MEMO_PROGRAM_B58);
    slice_eq_str(tu_json_str(in, "messageVersion"), "legacy");
    vmdb_slice memo = tu_json_str(in, "memo");
    const vmdb_json *macc = json_member(in, "memoAccounts", VMDB_JSON_ARRAY);
    const uint8_t *memo_signer = NULL;
    assert_true(vmdb_json_size(macc) <= 1);
    if (vmdb_json_size(macc) == 1) {
        /* The identity, as a readonly signer of the memo. */
        const vmdb_json *a = vmdb_json_at(macc, 0);
        key_b58_eq(ident + 32, tu_json_str(a, "address"));
        assert_int_equal(vmdb_json_typeof(json_member(a, "signer", VMDB_JSON_TRUE)),
                         VMDB_JSON_TRUE);
        assert_int_equal(vmdb_json_typeof(json_member(a, "writable", VMDB_JSON_FALSE)),
                         VMDB_JSON_FALSE);
        memo_signer = ident + 32;
    }

    memcpy(sks[0], payer, 64);
    if (memcmp(payer, ident, 64) != 0 && memo_signer) {
        memcpy(sks[1], ident, 64);
        nsk = 2;
    }
    assert_int_equal(vmdb_sol_memo_message(&msg, payer + 32, memo_signer, bh, memo), 0);
    size_t hlen;
    uint8_t *mhex = tu_json_hex(ex, "messageHex", &hlen);
    assert_int_equal(msg.len, hlen);
    assert_memory_equal(msg.ptr, mhex, hlen);
    free(mhex);
    assert_int_equal(
        vmdb_sol_tx_sign(&wire, VMDB_SLICE(msg.ptr, msg.len), (const uint8_t(*)[64])sks, nsk), 0);

    vmdb_slice b64 = tu_json_str(ex, "base64");
    char *b64z = malloc(b64.len + 1);
    assert_non_null(b64z);
    memcpy(b64z, b64.ptr, b64.len);
    b64z[b64.len] = '\0';
    size_t elen;
    uint8_t *expect = unb64(b64z, &elen);
    free(b64z);
    assert_int_equal(elen, tu_json_u64(ex, "length"));
    assert_int_equal(wire.len, elen);
    assert_memory_equal(wire.ptr, expect, elen);

    /* Parsed back: signers, signatures, header, keys, instructions. */
    vmdb_sol_tx tx;
    assert_int_equal(vmdb_sol_tx_parse(&tx, VMDB_SLICE(expect, elen)), 0);
    assert_int_equal(vmdb_sol_tx_verify(&tx), 0);
    const vmdb_json *signers = json_member(ex, "signers", VMDB_JSON_ARRAY);
    const vmdb_json *sigs = json_member(ex, "signaturesHex", VMDB_JSON_ARRAY);
    assert_int_equal(vmdb_json_size(signers), tx.nsigs);
    assert_int_equal(vmdb_json_size(sigs), tx.nsigs);
    for (size_t i = 0; i < tx.nsigs; i++) {
        key_b58_eq(tx.msg.keys[i], vmdb_json_string(vmdb_json_at(signers, i)));
        vmdb_slice sh = vmdb_json_string(vmdb_json_at(sigs, i));
        uint8_t sig[64];
        assert_int_equal(vmdb_hex_decode(sig, 64, (const char *)sh.ptr, sh.len), 0);
        assert_memory_equal(sig, tx.sigs[i], 64);
    }
    const vmdb_json *m = json_member(ex, "message", VMDB_JSON_OBJECT);
    const vmdb_json *hdr = json_member(m, "header", VMDB_JSON_OBJECT);
    assert_int_equal(tu_json_u64(hdr, "numRequiredSignatures"), tx.msg.num_required_signatures);
    assert_int_equal(tu_json_u64(hdr, "numReadonlySignedAccounts"), tx.msg.num_readonly_signed);
    assert_int_equal(tu_json_u64(hdr, "numReadonlyUnsignedAccounts"), tx.msg.num_readonly_unsigned);
    const vmdb_json *keys = json_member(m, "accountKeys", VMDB_JSON_ARRAY);
    assert_int_equal(vmdb_json_size(keys), tx.msg.nkeys);
    for (size_t i = 0; i < tx.msg.nkeys; i++)
        key_b58_eq(tx.msg.keys[i], vmdb_json_string(vmdb_json_at(keys, i)));
    const vmdb_json *ixs = json_member(m, "instructions", VMDB_JSON_ARRAY);
    assert_int_equal(vmdb_json_size(ixs), tx.msg.nix);
    for (size_t i = 0; i < tx.msg.nix; i++) {
        const vmdb_json *ix = vmdb_json_at(ixs, i);
        const vmdb_json *acc = json_member(ix, "accounts", VMDB_JSON_ARRAY);
        assert_int_equal(tu_json_u64(ix, "programIdIndex"), tx.msg.ix[i].program_index);
        assert_int_equal(tu_json_u64(ix, "dataLength"), tx.msg.ix[i].data.len);
        assert_int_equal(vmdb_json_size(acc), tx.msg.ix[i].naccounts);
        for (size_t k = 0; k < tx.msg.ix[i].naccounts; k++)
            assert_int_equal(vmdb_json_number(vmdb_json_at(acc, k)), tx.msg.ix[i].accounts[k]);
    }
    /* The memo is found under the identity exactly when it lists it. */
    vmdb_slice got;
    int rc = vmdb_sol_msg_find_memo(&got, &tx.msg, ident + 32);
    if (memo_signer) {
        assert_int_equal(rc, 0);
        assert_int_equal(got.len, memo.len);
        assert_memory_equal(got.ptr, memo.ptr, memo.len);
    } else {
        assert_int_equal(rc, VMDB_ENOTFOUND);
    }
    /* A vmdb1 memo parses and rebuilds to the same text. */
    if (memo.len > 6 && memcmp(memo.ptr, "vmdb1:", 6) == 0) {
        uint64_t seq;
        uint8_t hh[32], root[32];
        vmdb_buf t = VMDB_BUF_INIT;
        assert_int_equal(vmdb_sol_memo_parse(&seq, hh, root, memo), 0);
        assert_int_equal(vmdb_sol_memo_text(&t, seq, hh, root), 0);
        assert_int_equal(t.len, memo.len);
        assert_memory_equal(t.ptr, memo.ptr, memo.len);
        vmdb_buf_free(&t);
    }
    vmdb_sol_tx_free(&tx);
    free(expect);
    vmdb_buf_free(&msg);
    vmdb_buf_free(&wire);
}

static void test_vectors_file(void **state)
{
    (void)state;
    size_t len;
    uint8_t *text = tu_read_file(VMDB_SOLANA_VECTORS, &len);
    if (!text)
        fail_msg("cannot read %s", VMDB_SOLANA_VECTORS);
    vmdb_json_doc *doc = NULL;
    assert_int_equal(vmdb_json_parse(&doc, VMDB_SLICE(text, len), NULL), 0);
    const vmdb_json *vs = json_member(vmdb_json_doc_root(doc), "vectors", VMDB_JSON_ARRAY);
    size_t n = vmdb_json_size(vs);
    bool saw_v1 = false, saw_sep = false, saw_ident = false;
    assert_true(n >= 3);
    for (size_t i = 0; i < n; i++) {
        const vmdb_json *v = vmdb_json_at(vs, i);
        const vmdb_json *in = json_member(v, "inputs", VMDB_JSON_OBJECT);
        check_vector(v);
        /* The three shapes the anchor uses are all present. */
        vmdb_slice b64 = tu_json_str(json_member(v, "expected", VMDB_JSON_OBJECT), "base64");
        if (b64.len == strlen(V1_B64) && memcmp(b64.ptr, V1_B64, b64.len) == 0)
            saw_v1 = true;
        vmdb_slice is = tu_json_str(in, "identitySeedHex"), ps = tu_json_str(in, "feePayerSeedHex");
        bool listed = vmdb_json_size(json_member(in, "memoAccounts", VMDB_JSON_ARRAY)) == 1;
        if (listed && (is.len != ps.len || memcmp(is.ptr, ps.ptr, is.len) != 0))
            saw_sep = true;
        if (listed && is.len == ps.len && memcmp(is.ptr, ps.ptr, is.len) == 0)
            saw_ident = true;
    }
    assert_true(saw_v1 && saw_sep && saw_ident);
    vmdb_json_doc_free(doc);
    free(text);
}

int main(void)
{
    assert_true(sodium_init() >= 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cu16),
        cmocka_unit_test(test_vector1_hardcoded),
        cmocka_unit_test(test_memo_message_shapes),
        cmocka_unit_test(test_sign_errors),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_memo_text),
        cmocka_unit_test(test_keypair),
        cmocka_unit_test(test_base58_buf),
        cmocka_unit_test(test_vectors_file),
        cmocka_unit_test(test_urls_split),
        cmocka_unit_test(test_rpc_new),
        cmocka_unit_test_setup_teardown(test_rpc_errors, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_rpc_methods, srv_start, srv_stop),
        cmocka_unit_test_setup_teardown(test_rpc_get_transaction, srv_start, srv_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

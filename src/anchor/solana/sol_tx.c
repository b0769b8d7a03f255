/*
 * Solana legacy transactions for the anchor (see sol_tx.h): compact-u16,
 * message building and checking, signing, the wire format and its strict
 * parser, the vmdb1 memo text and the CLI keypair file. The parser reads
 * untrusted bytes: every read is preceded by a bounds check against the
 * bytes left, counts are checked against the bytes left before anything is
 * allocated, and the whole input is capped at one packet.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "anchor/solana/sol_tx.h"
#include "core/error.h"
#include "vmdb/base58.h"

const uint8_t vmdb_sol_memo_program_id[32] = {
    0x05, 0x4a, 0x53, 0x5a, 0x99, 0x29, 0x21, 0x06, 0x4d, 0x24, 0xe8, 0x71, 0x60, 0xda, 0x38, 0x7c,
    0x7c, 0x35, 0xb5, 0xdd, 0xbc, 0x92, 0xbb, 0x81, 0xe4, 0x1f, 0xa8, 0x40, 0x41, 0x05, 0x44, 0x8d,
};

/* A legacy message may not have its first byte's top bit set: that marks a
 * versioned message. Account indices are u8, hence at most 256 keys. */
#define VERSION_PREFIX 0x80
#define MAX_KEYS 256
#define KEYPAIR_FILE_MAX 4096

/* ---- compact-u16 ---- */

int vmdb_sol_cu16_encode(vmdb_buf *out, uint32_t v)
{
    uint8_t b[3];
    size_t n = 0;
    if (v > 0xffff)
        return vmdb_error_set(VMDB_EINVAL, "compact-u16 value %u above 65535", (unsigned)v);
    do {
        uint8_t byte = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            byte |= 0x80;
        b[n++] = byte;
    } while (v);
    return vmdb_buf_put(out, b, n);
}

int vmdb_sol_cu16_decode(uint16_t *v, size_t *used, const uint8_t *p, size_t len)
{
    uint32_t val = 0;
    *v = 0;
    *used = 0;
    for (size_t i = 0; i < 3; i++) {
        if (i >= len)
            return vmdb_error_set(VMDB_EPARSE, "truncated compact-u16");
        uint8_t byte = p[i];
        /* A zero continuation byte makes a longer alias of a shorter form. */
        if (i > 0 && byte == 0)
            return vmdb_error_set(VMDB_EPARSE, "non-canonical compact-u16");
        if (i == 2 && byte > 0x03)
            return vmdb_error_set(VMDB_EPARSE, "compact-u16 above 65535");
        val |= (uint32_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            *v = (uint16_t)val;
            *used = i + 1;
            return 0;
        }
    }
    return vmdb_error_set(VMDB_EPARSE, "compact-u16 longer than 3 bytes");
}

/* ---- messages ---- */

int vmdb_sol_msg_check(const vmdb_sol_msg *m)
{
    if (m->nkeys == 0 || m->nkeys > MAX_KEYS)
        return vmdb_error_set(VMDB_EPARSE, "message has %zu account keys", m->nkeys);
    if (m->num_required_signatures == 0)
        return vmdb_error_set(VMDB_EPARSE, "message requires no signature");
    if ((size_t)m->num_required_signatures + m->num_readonly_unsigned > m->nkeys)
        return vmdb_error_set(VMDB_EPARSE, "message header counts exceed the keys");
    if (m->num_readonly_signed >= m->num_required_signatures)
        return vmdb_error_set(VMDB_EPARSE, "message has no writable fee payer");
    for (size_t i = 1; i < m->nkeys; i++)
        for (size_t j = 0; j < i; j++)
            if (memcmp(m->keys[i], m->keys[j], 32) == 0)
                return vmdb_error_set(VMDB_EPARSE, "duplicate account key");
    for (size_t i = 0; i < m->nix; i++) {
        const vmdb_sol_ix *ix = &m->ix[i];
        if (ix->program_index == 0 || ix->program_index >= m->nkeys)
            return vmdb_error_set(VMDB_EPARSE, "instruction %zu: bad program index", i);
        if (ix->naccounts > 0xffff || ix->data.len > 0xffff)
            return vmdb_error_set(VMDB_EPARSE, "instruction %zu: too long", i);
        for (size_t k = 0; k < ix->naccounts; k++)
            if (ix->accounts[k] >= m->nkeys)
                return vmdb_error_set(VMDB_EPARSE, "instruction %zu: bad account index", i);
    }
    if (m->nix > 0xffff)
        return vmdb_error_set(VMDB_EPARSE, "too many instructions");
    return 0;
}

int vmdb_sol_msg_encode(vmdb_buf *out, const vmdb_sol_msg *m)
{
    size_t start = out->len;
    int rc = vmdb_sol_msg_check(m);
    if (rc)
        goto done;
    uint8_t hdr[3] = {m->num_required_signatures, m->num_readonly_signed, m->num_readonly_unsigned};
    if ((rc = vmdb_buf_put(out, hdr, 3)) || (rc = vmdb_sol_cu16_encode(out, (uint32_t)m->nkeys)) ||
        (rc = vmdb_buf_put(out, m->keys, 32 * m->nkeys)) ||
        (rc = vmdb_buf_put(out, m->blockhash, 32)) ||
        (rc = vmdb_sol_cu16_encode(out, (uint32_t)m->nix)))
        goto done;
    for (size_t i = 0; i < m->nix; i++) {
        const vmdb_sol_ix *ix = &m->ix[i];
        if ((rc = vmdb_buf_putc(out, ix->program_index)) ||
            (rc = vmdb_sol_cu16_encode(out, (uint32_t)ix->naccounts)) ||
            (rc = vmdb_buf_put(out, ix->accounts, ix->naccounts)) ||
            (rc = vmdb_sol_cu16_encode(out, (uint32_t)ix->data.len)) ||
            (rc = vmdb_buf_put(out, ix->data.ptr, ix->data.len)))
            goto done;
    }
done:
    if (rc)
        out->len = start;
    return rc;
}

int vmdb_sol_memo_message(vmdb_buf *out, const uint8_t fee_payer[32], const uint8_t *memo_signer,
                          const uint8_t blockhash[32], vmdb_slice memo)
{
    uint8_t keys[3][32];
    uint8_t acct = 0;
    vmdb_sol_ix ix = {0};
    vmdb_sol_msg m = {0};
    int rc = 0;

    /* Even a one-signer transaction has 1 + 64 + 3 + 1 + 64 + 32 + 1 + 4
     * bytes around the data; a longer memo can never be sent. */
    if (memo.len > VMDB_SOL_PACKET_MAX) {
        rc = vmdb_error_set(VMDB_EINVAL, "memo of %zu bytes cannot fit a transaction", memo.len);
        goto done;
    }
    if (memo_signer && memcmp(memo_signer, vmdb_sol_memo_program_id, 32) == 0) {
        rc = vmdb_error_set(VMDB_EINVAL, "the memo signer is the memo program");
        goto done;
    }
    memcpy(keys[0], fee_payer, 32);
    m.nkeys = 1;
    m.num_required_signatures = 1;
    if (memo_signer && memcmp(memo_signer, fee_payer, 32) != 0) {
        /* A second signer that only signs: a readonly signer. */
        memcpy(keys[m.nkeys], memo_signer, 32);
        acct = (uint8_t)m.nkeys++;
        m.num_required_signatures = 2;
        m.num_readonly_signed = 1;
    }
    memcpy(keys[m.nkeys], vmdb_sol_memo_program_id, 32);
    ix.program_index = (uint8_t)m.nkeys++;
    m.num_readonly_unsigned = 1;
    ix.naccounts = memo_signer ? 1 : 0;
    ix.accounts = &acct;
    ix.data = memo;
    m.keys = (const uint8_t(*)[32])keys;
    m.blockhash = blockhash;
    m.nix = 1;
    m.ix = &ix;
    rc = vmdb_sol_msg_encode(out, &m);
done:
    return rc;
}

/* ---- the parser ---- */

typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static int rd_cu16(reader *r, size_t *v)
{
    uint16_t x = 0;
    size_t used = 0;
    int rc = vmdb_sol_cu16_decode(&x, &used, r->p, r->left);
    if (rc)
        return rc;
    r->p += used;
    r->left -= used;
    *v = x;
    return 0;
}

/* Borrows n bytes. */
static int rd_bytes(reader *r, const uint8_t **out, size_t n, const char *what)
{
    if (n > r->left)
        return vmdb_error_set(VMDB_EPARSE, "truncated transaction (%s)", what);
    *out = r->p;
    r->p += n;
    r->left -= n;
    return 0;
}

/* Header and keys only (enough for signing). */
static int parse_msg_head(vmdb_sol_msg *m, reader *r)
{
    const uint8_t *p = NULL;
    size_t n = 0;
    int rc;
    if ((rc = rd_bytes(r, &p, 3, "header")))
        return rc;
    if (p[0] & VERSION_PREFIX)
        return vmdb_error_set(VMDB_EPARSE, "versioned message (legacy only)");
    m->num_required_signatures = p[0];
    m->num_readonly_signed = p[1];
    m->num_readonly_unsigned = p[2];
    if ((rc = rd_cu16(r, &n)))
        return rc;
    if (n > MAX_KEYS)
        return vmdb_error_set(VMDB_EPARSE, "%zu account keys", n);
    if ((rc = rd_bytes(r, &p, 32 * n, "account keys")))
        return rc;
    m->nkeys = n;
    m->keys = (const uint8_t(*)[32])p;
    return 0;
}

/* The whole message; the instruction array is malloc'd into *ixs. */
static int parse_msg(vmdb_sol_msg *m, vmdb_sol_ix **ixs, reader *r)
{
    size_t nix = 0;
    int rc;
    *ixs = NULL;
    if ((rc = parse_msg_head(m, r)) || (rc = rd_bytes(r, &m->blockhash, 32, "blockhash")) ||
        (rc = rd_cu16(r, &nix)))
        goto done;
    /* Every instruction takes at least 3 bytes. */
    if (nix > r->left / 3) {
        rc = vmdb_error_set(VMDB_EPARSE, "truncated transaction (instructions)");
        goto done;
    }
    if (nix && (*ixs = calloc(nix, sizeof(**ixs))) == NULL) {
        rc = vmdb_error_set(VMDB_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nix; i++) {
        vmdb_sol_ix *ix = &(*ixs)[i];
        const uint8_t *p = NULL;
        size_t n = 0;
        if ((rc = rd_bytes(r, &p, 1, "program index")))
            goto done;
        ix->program_index = p[0];
        if ((rc = rd_cu16(r, &n)) || (rc = rd_bytes(r, &ix->accounts, n, "accounts")))
            goto done;
        ix->naccounts = n;
        if ((rc = rd_cu16(r, &n)) || (rc = rd_bytes(r, &p, n, "instruction data")))
            goto done;
        ix->data = VMDB_SLICE(p, n);
    }
    m->nix = nix;
    m->ix = *ixs;
    rc = vmdb_sol_msg_check(m);
done:
    if (rc) {
        free(*ixs);
        *ixs = NULL;
    }
    return rc;
}

int vmdb_sol_tx_parse(vmdb_sol_tx *tx, vmdb_slice wire)
{
    reader r = {wire.ptr, wire.len};
    size_t nsigs = 0;
    const uint8_t *sigs = NULL;
    int rc;

    memset(tx, 0, sizeof(*tx));
    if (wire.len > VMDB_SOL_PACKET_MAX) {
        rc = vmdb_error_set(VMDB_ELIMIT, "transaction of %zu bytes exceeds a packet", wire.len);
        goto done;
    }
    if ((rc = rd_cu16(&r, &nsigs)))
        goto done;
    if (nsigs == 0) {
        rc = vmdb_error_set(VMDB_EPARSE, "transaction without signatures");
        goto done;
    }
    if ((rc = rd_bytes(&r, &sigs, 64 * nsigs, "signatures")))
        goto done;
    tx->message = VMDB_SLICE(r.p, r.left);
    if ((rc = parse_msg(&tx->msg, &tx->ix_owned, &r)))
        goto done;
    if (r.left) {
        rc = vmdb_error_set(VMDB_EPARSE, "%zu trailing bytes after the message", r.left);
        goto done;
    }
    if (tx->msg.num_required_signatures != nsigs) {
        rc = vmdb_error_set(VMDB_EPARSE, "%zu signatures for %u signers", nsigs,
                            (unsigned)tx->msg.num_required_signatures);
        goto done;
    }
    tx->nsigs = nsigs;
    tx->sigs = (const uint8_t(*)[64])sigs;
done:
    if (rc)
        vmdb_sol_tx_free(tx);
    return rc;
}

void vmdb_sol_tx_free(vmdb_sol_tx *tx)
{
    if (!tx)
        return;
    free(tx->ix_owned);
    memset(tx, 0, sizeof(*tx));
}

int vmdb_sol_tx_verify(const vmdb_sol_tx *tx)
{
    if (tx->nsigs == 0 || tx->nsigs > tx->msg.nkeys)
        return vmdb_error_set(VMDB_EVERIFY, "no signatures to verify");
    for (size_t i = 0; i < tx->nsigs; i++)
        if (crypto_sign_verify_detached(tx->sigs[i], tx->message.ptr, tx->message.len,
                                        tx->msg.keys[i]) != 0)
            return vmdb_error_set(VMDB_EVERIFY, "signature %zu does not verify", i);
    return 0;
}

int vmdb_sol_tx_signature(uint8_t sig[64], vmdb_slice wire)
{
    reader r = {wire.ptr, wire.len};
    size_t n = 0;
    const uint8_t *p = NULL;
    int rc = rd_cu16(&r, &n);
    if (rc)
        return rc;
    if (n == 0)
        return vmdb_error_set(VMDB_EPARSE, "transaction without signatures");
    if ((rc = rd_bytes(&r, &p, 64, "signature")))
        return rc;
    memcpy(sig, p, 64);
    return 0;
}

/* ---- signing ---- */

int vmdb_sol_tx_sign(vmdb_buf *out, vmdb_slice message, const uint8_t (*sks)[64], size_t nsk)
{
    size_t start = out->len;
    reader r = {message.ptr, message.len};
    vmdb_sol_msg m = {0};
    vmdb_sol_ix *ixs = NULL;
    uint8_t pk[32], sk_check[64];
    bool used[MAX_KEYS] = {0};
    int rc;

    /* The whole message must be valid, not just its head. */
    if ((rc = parse_msg(&m, &ixs, &r)))
        goto done;
    if (r.left) {
        rc = vmdb_error_set(VMDB_EPARSE, "trailing bytes after the message");
        goto done;
    }
    if (nsk > MAX_KEYS) {
        rc = vmdb_error_set(VMDB_EINVAL, "too many secret keys");
        goto done;
    }
    for (size_t k = 0; k < nsk; k++) {
        if (crypto_sign_seed_keypair(pk, sk_check, sks[k]) != 0) {
            rc = vmdb_error_set(VMDB_ECRYPTO, "crypto_sign_seed_keypair failed");
            goto done;
        }
        if (memcmp(pk, sks[k] + 32, 32) != 0) {
            rc = vmdb_error_set(VMDB_EINVAL, "secret key %zu: public half is not the seed's", k);
            goto done;
        }
    }
    if ((rc = vmdb_sol_cu16_encode(out, m.num_required_signatures)))
        goto done;
    for (size_t i = 0; i < m.num_required_signatures; i++) {
        size_t k = 0;
        while (k < nsk && memcmp(sks[k] + 32, m.keys[i], 32) != 0)
            k++;
        if (k == nsk) {
            rc = vmdb_error_set(VMDB_EINVAL, "no secret key for signer %zu", i);
            goto done;
        }
        used[k] = true;
        if ((rc = vmdb_buf_reserve(out, 64)))
            goto done;
        if (crypto_sign_detached(out->ptr + out->len, NULL, message.ptr, message.len, sks[k]) !=
            0) {
            rc = vmdb_error_set(VMDB_ECRYPTO, "crypto_sign_detached failed");
            goto done;
        }
        out->len += 64;
    }
    for (size_t k = 0; k < nsk; k++)
        if (!used[k]) {
            rc = vmdb_error_set(VMDB_EINVAL, "secret key %zu signs nothing", k);
            goto done;
        }
    if ((rc = vmdb_buf_put(out, message.ptr, message.len)))
        goto done;
    if (out->len - start > VMDB_SOL_PACKET_MAX)
        rc = vmdb_error_set(VMDB_ELIMIT, "transaction of %zu bytes exceeds a packet",
                            out->len - start);
done:
    sodium_memzero(sk_check, sizeof sk_check);
    free(ixs);
    if (rc)
        out->len = start;
    return rc;
}

/* ---- memo instruction lookup ---- */

int vmdb_sol_msg_find_memo(vmdb_slice *memo, const vmdb_sol_msg *m, const uint8_t identity[32])
{
    *memo = VMDB_SLICE(NULL, 0);
    for (size_t i = 0; i < m->nix; i++) {
        const vmdb_sol_ix *ix = &m->ix[i];
        if (ix->program_index >= m->nkeys ||
            memcmp(m->keys[ix->program_index], vmdb_sol_memo_program_id, 32) != 0)
            continue;
        for (size_t k = 0; k < ix->naccounts; k++) {
            uint8_t a = ix->accounts[k];
            if (a < m->num_required_signatures && a < m->nkeys &&
                memcmp(m->keys[a], identity, 32) == 0) {
                *memo = ix->data;
                return 0;
            }
        }
    }
    return vmdb_error_set(VMDB_ENOTFOUND, "no memo signed by the identity");
}

/* ---- base58 text ---- */

static int b58_text(char *out, size_t cap, const uint8_t *p, size_t n)
{
    vmdb_buf b = {(uint8_t *)out, 0, cap, cap - 1};
    int rc = vmdb_base58_encode(&b, VMDB_SLICE(p, n));
    /* The buffer is the caller's array: it must never have been grown. */
    if (rc || b.ptr != (uint8_t *)out)
        return vmdb_error_set(VMDB_EINVAL, "base58 text does not fit");
    out[b.len] = '\0';
    return 0;
}

int vmdb_sol_key_b58(char out[VMDB_SOL_KEY_B58_MAX], const uint8_t key[32])
{
    return b58_text(out, VMDB_SOL_KEY_B58_MAX, key, 32);
}

int vmdb_sol_sig_b58(char out[VMDB_SOL_SIG_B58_MAX], const uint8_t sig[64])
{
    return b58_text(out, VMDB_SOL_SIG_B58_MAX, sig, 64);
}

/* ---- the vmdb1 memo text ---- */

int vmdb_sol_memo_text(vmdb_buf *out, uint64_t seq, const uint8_t header_hash[32],
                       const uint8_t smt_root[32])
{
    char text[VMDB_SOL_MEMO_TEXT_MAX + 1];
    int n = snprintf(text, sizeof text, "vmdb1:%llu:", (unsigned long long)seq);
    if (n < 0 || (size_t)n + 64 + 1 + 64 > VMDB_SOL_MEMO_TEXT_MAX)
        return vmdb_error_set(VMDB_EINVAL, "memo text does not fit");
    vmdb_hex_encode(text + n, header_hash, 32);
    text[n + 64] = ':';
    vmdb_hex_encode(text + n + 65, smt_root, 32);
    return vmdb_buf_put(out, text, (size_t)n + 129);
}

static int parse_lower_hex32(uint8_t out[32], const uint8_t *p)
{
    for (size_t i = 0; i < 64; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return vmdb_error_set(VMDB_EPARSE, "memo: not lower-case hex");
    if (vmdb_hex_decode(out, 32, (const char *)p, 64) != 0)
        return vmdb_error_set(VMDB_EPARSE, "memo: not lower-case hex");
    return 0;
}

int vmdb_sol_memo_parse(uint64_t *seq, uint8_t header_hash[32], uint8_t smt_root[32],
                        vmdb_slice text)
{
    static const char prefix[] = "vmdb1:";
    const uint8_t *p = text.ptr;
    size_t len = text.len, i = sizeof prefix - 1, digits = 0;
    uint64_t v = 0;
    int rc = 0;

    *seq = 0;
    if (len < i || memcmp(p, prefix, i) != 0) {
        rc = vmdb_error_set(VMDB_EPARSE, "memo: not a vmdb1 memo");
        goto done;
    }
    for (; i < len && p[i] >= '0' && p[i] <= '9'; i++, digits++) {
        unsigned d = (unsigned)(p[i] - '0');
        if (digits == 1 && v == 0) {
            rc = vmdb_error_set(VMDB_EPARSE, "memo: seq with a leading zero");
            goto done;
        }
        if (v > (UINT64_MAX - d) / 10) {
            rc = vmdb_error_set(VMDB_EPARSE, "memo: seq above 2^64-1");
            goto done;
        }
        v = v * 10 + d;
    }
    if (digits == 0 || len - i != 1 + 64 + 1 + 64 || p[i] != ':' || p[i + 65] != ':') {
        rc = vmdb_error_set(VMDB_EPARSE, "memo: malformed");
        goto done;
    }
    if ((rc = parse_lower_hex32(header_hash, p + i + 1)) ||
        (rc = parse_lower_hex32(smt_root, p + i + 66)))
        goto done;
    *seq = v;
done:
    return rc;
}

/* ---- keypairs ---- */

static bool json_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int vmdb_sol_keypair_parse(uint8_t sk[64], vmdb_slice json)
{
    uint8_t bytes[64], pk[32], sk2[64];
    const uint8_t *p = json.ptr;
    size_t len = json.len, i = 0, n = 0;
    int rc = 0;

    while (i < len && json_ws(p[i]))
        i++;
    if (i == len || p[i++] != '[') {
        rc = vmdb_error_set(VMDB_EPARSE, "keypair: not a JSON array");
        goto done;
    }
    for (;;) {
        unsigned v = 0;
        size_t digits = 0;
        while (i < len && json_ws(p[i]))
            i++;
        for (; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
            if (digits == 1 && v == 0) {
                rc = vmdb_error_set(VMDB_EPARSE, "keypair: number with a leading zero");
                goto done;
            }
            v = v * 10 + (unsigned)(p[i] - '0');
            if (++digits > 3 || v > 255) {
                rc = vmdb_error_set(VMDB_EPARSE, "keypair: number above 255");
                goto done;
            }
        }
        if (digits == 0 || n == 64) {
            rc = vmdb_error_set(VMDB_EPARSE, "keypair: expected 64 numbers 0-255");
            goto done;
        }
        bytes[n++] = (uint8_t)v;
        while (i < len && json_ws(p[i]))
            i++;
        if (i < len && p[i] == ',') {
            i++;
            continue;
        }
        if (i < len && p[i] == ']') {
            i++;
            break;
        }
        rc = vmdb_error_set(VMDB_EPARSE, "keypair: malformed array");
        goto done;
    }
    while (i < len && json_ws(p[i]))
        i++;
    if (n != 64 || i != len) {
        rc = vmdb_error_set(VMDB_EPARSE, "keypair: expected exactly 64 numbers");
        goto done;
    }
    if (crypto_sign_seed_keypair(pk, sk2, bytes) != 0) {
        rc = vmdb_error_set(VMDB_ECRYPTO, "crypto_sign_seed_keypair failed");
        goto done;
    }
    if (memcmp(pk, bytes + 32, 32) != 0) {
        rc = vmdb_error_set(VMDB_EVERIFY, "keypair: public key is not the seed's");
        goto done;
    }
    memcpy(sk, bytes, 64);
done:
    sodium_memzero(bytes, sizeof bytes);
    sodium_memzero(sk2, sizeof sk2);
    return rc;
}

int vmdb_sol_keypair_read(uint8_t sk[64], const char *path)
{
    uint8_t buf[KEYPAIR_FILE_MAX + 1];
    size_t len = 0;
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        rc = vmdb_error_set(VMDB_EIO, "keypair file: %s", strerror(errno));
        goto done;
    }
    while (len < sizeof buf) {
        ssize_t k = read(fd, buf + len, sizeof buf - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = vmdb_error_set(VMDB_EIO, "keypair file: %s", strerror(errno));
            goto done;
        }
        if (k == 0)
            break;
        len += (size_t)k;
    }
    if (len > KEYPAIR_FILE_MAX) {
        rc = vmdb_error_set(VMDB_ELIMIT, "keypair file larger than %d bytes", KEYPAIR_FILE_MAX);
        goto done;
    }
    rc = vmdb_sol_keypair_parse(sk, VMDB_SLICE(buf, len));
done:
    if (fd >= 0)
        close(fd);
    sodium_memzero(buf, sizeof buf);
    return rc;
}

int vmdb_sol_keypair_json(vmdb_buf *out, const uint8_t sk[64])
{
    size_t start = out->len;
    int rc = vmdb_buf_putc(out, '[');
    for (size_t i = 0; rc == 0 && i < 64; i++) {
        char num[8];
        int n = snprintf(num, sizeof num, i ? ",%u" : "%u", (unsigned)sk[i]);
        rc = vmdb_buf_put(out, num, (size_t)n);
        sodium_memzero(num, sizeof num);
    }
    if (rc == 0)
        rc = vmdb_buf_putc(out, ']');
    if (rc) {
        sodium_memzero(out->ptr + start, out->len - start);
        out->len = start;
    }
    return rc;
}

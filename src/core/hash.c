/*
 * The hasher: SHA-256 for node inputs and for variable-length messages.
 * With SHA-NI a node hash is two compressions over a stack buffer, with no
 * library call at all; without it OpenSSL's EVP does the work through a
 * digest fetched once and one context reused (the one-shot SHA256() costs
 * about three times more). The kernel is checked against OpenSSL on a
 * spread of lengths before it is trusted.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/error.h"
#include "core/hash_internal.h"
#include "vmdb/hash.h"

struct vmdb_hasher {
    bool use_ni;
    EVP_MD *md;
    EVP_MD_CTX *ctx;
    uint64_t nodes;
};

static const uint32_t sha256_iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static void state_out(uint8_t out[32], const uint32_t st[8])
{
    /* Only the SHA-NI path (x86, little-endian) comes here: one byte swap
     * and one store per word, not four byte stores. */
    uint32_t be[8];
    for (int i = 0; i < 8; i++)
        be[i] = __builtin_bswap32(st[i]);
    memcpy(out, be, 32);
}

/* SHA-256 of the parts through the SHA-NI kernel, streaming in 64-byte
 * blocks. */
static void ni_parts(uint8_t out[32], const vmdb_slice *parts, size_t n)
{
    uint32_t st[8];
    uint8_t blk[128];
    size_t fill = 0;
    uint64_t total = 0;

    memcpy(st, sha256_iv, sizeof(st));
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = parts[i].ptr;
        size_t len = parts[i].len;
        total += len;
        if (fill) {
            size_t take = 64 - fill < len ? 64 - fill : len;
            memcpy(blk + fill, p, take);
            fill += take;
            p += take;
            len -= take;
            if (fill == 64) {
                vmdb_sha256_ni_blocks(st, blk, 1);
                fill = 0;
            }
        }
        if (len >= 64) {
            vmdb_sha256_ni_blocks(st, p, len / 64);
            p += len & ~(size_t)63;
            len &= 63;
        }
        if (len) {
            memcpy(blk, p, len);
            fill = len;
        }
    }
    blk[fill++] = 0x80;
    size_t padded = fill <= 56 ? 64 : 128;
    memset(blk + fill, 0, padded - fill);
    uint64_t bits = total * 8;
    for (int i = 0; i < 8; i++)
        blk[padded - 1 - i] = (uint8_t)(bits >> (8 * i));
    vmdb_sha256_ni_blocks(st, blk, padded / 64);
    state_out(out, st);
}

static void evp_parts(vmdb_hasher *h, uint8_t out[32], const vmdb_slice *parts, size_t n)
{
    unsigned int olen = 0;
    /* EVP cannot fail here short of memory corruption; a hash that silently
     * produced garbage would be worse than stopping. */
    if (EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1)
        abort();
    for (size_t i = 0; i < n; i++)
        if (parts[i].len && EVP_DigestUpdate(h->ctx, parts[i].ptr, parts[i].len) != 1)
            abort();
    if (EVP_DigestFinal_ex(h->ctx, out, &olen) != 1 || olen != 32)
        abort();
}

void vmdb_hash_parts(vmdb_hasher *h, uint8_t out[32], const vmdb_slice *parts, size_t n)
{
    if (h->use_ni)
        ni_parts(out, parts, n);
    else
        evp_parts(h, out, parts, n);
}

/* The two blocks of a 65-byte node input: one full block, then the last
 * byte and the padding with the length 520 bits in the final two bytes. */
static void node_blocks(uint8_t blk[128], uint8_t tag, const uint8_t a[32], const uint8_t b[32])
{
    blk[0] = tag;
    memcpy(blk + 1, a, 32);
    memcpy(blk + 33, b, 32);
    blk[65] = 0x80;
    memset(blk + 66, 0, 60);
    blk[126] = 0x02;
    blk[127] = 0x08;
}

static void evp_node(vmdb_hasher *h, uint8_t out[32], uint8_t tag, const uint8_t a[32],
                     const uint8_t b[32])
{
    vmdb_slice parts[3] = {{&tag, 1}, {a, 32}, {b, 32}};
    evp_parts(h, out, parts, 3);
}

void vmdb_hash_node(vmdb_hasher *h, uint8_t out[32], uint8_t tag, const uint8_t a[32],
                    const uint8_t b[32])
{
    h->nodes++;
    if (h->use_ni) {
        uint8_t blk[128];
        uint32_t st[8];
        node_blocks(blk, tag, a, b);
        memcpy(st, sha256_iv, sizeof(st));
        vmdb_sha256_ni_blocks(st, blk, 2);
        state_out(out, st);
    } else {
        evp_node(h, out, tag, a, b);
    }
}

/* Hashes k (2 or 4) jobs through the multi-buffer kernel. The inputs are
 * copied into the blocks before any output is written, so an output may
 * alias its own inputs. */
static void ni_nodes(const vmdb_node_job *jobs, int k)
{
    uint8_t blk[4][128];
    uint32_t st[4][8];
    uint32_t *sp[4] = {st[0], st[1], st[2], st[3]};
    const uint8_t *dp[4] = {blk[0], blk[1], blk[2], blk[3]};
    for (int j = 0; j < k; j++) {
        node_blocks(blk[j], jobs[j].tag, jobs[j].a, jobs[j].b);
        memcpy(st[j], sha256_iv, sizeof(sha256_iv));
    }
    if (k == 4)
        vmdb_sha256_ni_blocks_x4(sp, dp, 2);
    else
        vmdb_sha256_ni_blocks_x2(sp, dp, 2);
    for (int j = 0; j < k; j++)
        state_out(jobs[j].out, st[j]);
}

void vmdb_hash_nodes(vmdb_hasher *h, const vmdb_node_job *jobs, size_t n)
{
    size_t i = 0;
    if (!h->use_ni) {
        for (; i < n; i++)
            evp_node(h, jobs[i].out, jobs[i].tag, jobs[i].a, jobs[i].b);
        h->nodes += n;
        return;
    }
    for (; i + 4 <= n; i += 4)
        ni_nodes(jobs + i, 4);
    if (n - i >= 2) {
        ni_nodes(jobs + i, 2);
        i += 2;
    }
    h->nodes += i;
    if (i < n)
        vmdb_hash_node(h, jobs[i].out, jobs[i].tag, jobs[i].a, jobs[i].b);
}

/* Compares the kernel with OpenSSL on every length from 0 to 300 bytes
 * (every padding case, one to six blocks) and on split inputs. */
static bool ni_selftest(vmdb_hasher *h)
{
    uint8_t msg[300], a[32], b[32];
    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 131u + 7u);
    for (size_t len = 0; len <= sizeof(msg); len++) {
        uint8_t x[32], y[32];
        vmdb_slice one = {msg, len};
        vmdb_slice split[3] = {
            {msg, len / 3}, {msg + len / 3, len / 3}, {msg + 2 * (len / 3), len - 2 * (len / 3)}};
        evp_parts(h, x, &one, 1);
        ni_parts(y, &one, 1);
        if (memcmp(x, y, 32) != 0)
            return false;
        ni_parts(y, split, 3);
        if (memcmp(x, y, 32) != 0)
            return false;
    }
    memcpy(a, msg, 32);
    memcpy(b, msg + 32, 32);
    for (uint8_t tag = 0; tag < 2; tag++) {
        uint8_t x[32], y[32];
        evp_node(h, x, tag, a, b);
        h->use_ni = true;
        vmdb_hash_node(h, y, tag, a, b);
        h->use_ni = false;
        h->nodes--;
        if (memcmp(x, y, 32) != 0)
            return false;
    }
    /* The multi-buffer kernel, 1 to 7 jobs (x4, x2 and single), distinct
     * inputs in every lane. */
    for (size_t n = 1; n <= 7; n++) {
        vmdb_node_job jobs[7];
        uint8_t got[7][32], want[32];
        for (size_t j = 0; j < n; j++)
            jobs[j] = (vmdb_node_job){got[j], msg + 3 * j + n, msg + 100 + 7 * j, (uint8_t)j};
        h->use_ni = true;
        vmdb_hash_nodes(h, jobs, n);
        h->use_ni = false;
        h->nodes -= n;
        for (size_t j = 0; j < n; j++) {
            evp_node(h, want, jobs[j].tag, jobs[j].a, jobs[j].b);
            if (memcmp(want, got[j], 32) != 0)
                return false;
        }
    }
    return true;
}

int vmdb_hasher_new(vmdb_hasher **out, unsigned flags)
{
    int rc = 0;
    vmdb_hasher *h = calloc(1, sizeof(*h));

    *out = NULL;
    if (!h) {
        rc = vmdb_error_set(VMDB_ENOMEM, "out of memory allocating hasher");
        goto done;
    }
    h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    h->ctx = EVP_MD_CTX_new();
    if (!h->md || !h->ctx) {
        rc = vmdb_error_set(VMDB_ECRYPTO, "OpenSSL could not provide SHA-256");
        goto done;
    }
    if (!(flags & VMDB_HASHER_FORCE_OPENSSL) && vmdb_sha256_ni_available())
        h->use_ni = ni_selftest(h);
    *out = h;
    h = NULL;
done:
    vmdb_hasher_free(h);
    return rc;
}

void vmdb_hasher_free(vmdb_hasher *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    EVP_MD_free(h->md);
    free(h);
}

const char *vmdb_hasher_impl(const vmdb_hasher *h)
{
    return h->use_ni ? "sha-ni" : "openssl";
}

uint64_t vmdb_hasher_node_count(const vmdb_hasher *h)
{
    return h->nodes;
}

void vmdb_hasher_count_add(vmdb_hasher *h, uint64_t nodes)
{
    h->nodes += nodes;
}

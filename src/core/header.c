/*
 * State header encoding, hashing and Ed25519 signatures (libsodium), for
 * both protocol versions. v2 signs a context-tagged message (§6.1), so a
 * committed-header signature, an intent signature and a trusted-state
 * signature can never stand in for one another, nor for a signature of a
 * bare 32-byte value that another tool made with the same key. v1 (§12)
 * signed the bare header hash; it is kept to check an upgraded chain's
 * old headers.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/error.h"
#include "vmdb/header.h"

static const char *const kind_names[VMDB_KIND_COUNT] = {
    "genesis", "write", "reset", "clear", "repair", "migrate", "upgrade",
};

const char *vmdb_header_kind_name(unsigned kind)
{
    return kind < VMDB_KIND_COUNT ? kind_names[kind] : NULL;
}

int vmdb_header_kind_parse(uint8_t *kind, vmdb_slice name)
{
    for (unsigned i = 0; i < VMDB_KIND_COUNT; i++)
        if (strlen(kind_names[i]) == name.len && memcmp(kind_names[i], name.ptr, name.len) == 0) {
            *kind = (uint8_t)i;
            return 0;
        }
    return vmdb_error_set(VMDB_EPARSE, "unknown header kind '%.*s'", (int)name.len,
                          (const char *)name.ptr);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

size_t vmdb_header_encode(uint8_t out[VMDB_HEADER_MAX_LEN], const vmdb_header *hdr)
{
    uint8_t *p = out;
    if (hdr->version != 1) {
        *p++ = 2;
        put_u64(p, hdr->seq);
        p += 8;
        *p++ = hdr->kind;
        memcpy(p, hdr->chain_id, 32);
        p += 32;
    } else {
        put_u64(p, hdr->seq);
        p += 8;
    }
    memcpy(p, hdr->smt_root, 32);
    memcpy(p + 32, hdr->prev, 32);
    memcpy(p + 64, hdr->history_root, 32);
    put_u64(p + 96, hdr->time_ms);
    memcpy(p + 104, hdr->schema_hash, 32);
    return (size_t)(p + 136 - out);
}

int vmdb_header_decode(vmdb_header *hdr, vmdb_slice in)
{
    const uint8_t *p = in.ptr;
    if (in.len == VMDB_HEADER_V2_LEN) {
        if (p[0] != 2)
            return vmdb_error_set(VMDB_EPARSE, "a 178-byte header must have version 2, not %u",
                                  p[0]);
        if (p[9] >= VMDB_KIND_COUNT)
            return vmdb_error_set(VMDB_EPARSE, "unknown header kind %u", p[9]);
        memset(hdr, 0, sizeof(*hdr));
        hdr->version = 2;
        hdr->seq = get_u64(p + 1);
        hdr->kind = p[9];
        memcpy(hdr->chain_id, p + 10, 32);
        p += 42;
    } else if (in.len == VMDB_HEADER_V1_LEN) {
        memset(hdr, 0, sizeof(*hdr));
        hdr->version = 1;
        hdr->seq = get_u64(p);
        p += 8;
    } else {
        return vmdb_error_set(VMDB_EPARSE, "encoded header must be %d or %d bytes, got %zu",
                              VMDB_HEADER_V1_LEN, VMDB_HEADER_V2_LEN, in.len);
    }
    memcpy(hdr->smt_root, p, 32);
    memcpy(hdr->prev, p + 32, 32);
    memcpy(hdr->history_root, p + 64, 32);
    hdr->time_ms = get_u64(p + 96);
    memcpy(hdr->schema_hash, p + 104, 32);
    return 0;
}

void vmdb_header_hash(vmdb_hasher *h, uint8_t out[32], const vmdb_header *hdr)
{
    static const uint8_t tag1[] = "vmdb/v1/header", tag2[] = "vmdb/v2/header";
    uint8_t enc[VMDB_HEADER_MAX_LEN];
    size_t n = vmdb_header_encode(enc, hdr);
    /* sizeof includes the terminator: the 0x00 separator. */
    vmdb_slice parts[2] = {{hdr->version == 1 ? tag1 : tag2, sizeof(tag1)}, {enc, n}};
    vmdb_hash_parts(h, out, parts, 2);
}

int vmdb_ed25519_from_seed(uint8_t pk[32], uint8_t sk[64], const uint8_t seed[32])
{
    if (sodium_init() < 0 || crypto_sign_seed_keypair(pk, sk, seed) != 0)
        return vmdb_error_set(VMDB_ECRYPTO, "libsodium could not derive a key pair");
    return 0;
}

/* The signed message: v2 "vmdb/v2/<context>" 0x00 || hash, v1 the hash. */
static size_t sig_message(uint8_t out[64], uint8_t version, vmdb_sig_context context,
                          const uint8_t hash[32])
{
    static const char *const labels[] = {"vmdb/v2/committed", "vmdb/v2/intent",
                                         "vmdb/v2/trusted-state", "vmdb/v2/api-keys"};
    if (version == 1) {
        memcpy(out, hash, 32);
        return 32;
    }
    const char *label = labels[(unsigned)context < 4 ? (unsigned)context : 0];
    size_t ll = strlen(label) + 1; /* with its terminator: the 0x00 */
    memcpy(out, label, ll);
    memcpy(out + ll, hash, 32);
    return ll + 32;
}

int vmdb_header_sign(uint8_t sig[64], uint8_t version, vmdb_sig_context context,
                     const uint8_t hash[32], const uint8_t sk[64])
{
    uint8_t msg[64];
    size_t n = sig_message(msg, version, context, hash);
    if (sodium_init() < 0 || crypto_sign_detached(sig, NULL, msg, n, sk) != 0)
        return vmdb_error_set(VMDB_ECRYPTO, "libsodium could not sign");
    return 0;
}

int vmdb_header_verify_sig(const uint8_t sig[64], uint8_t version, vmdb_sig_context context,
                           const uint8_t hash[32], const uint8_t pk[32])
{
    uint8_t msg[64];
    size_t n = sig_message(msg, version, context, hash);
    if (sodium_init() < 0)
        return vmdb_error_set(VMDB_ECRYPTO, "libsodium failed to initialise");
    if (crypto_sign_verify_detached(sig, msg, n, pk) != 0)
        return vmdb_error_set(VMDB_EVERIFY, "%s signature does not verify",
                              context == VMDB_SIG_INTENT          ? "intent"
                              : context == VMDB_SIG_TRUSTED_STATE ? "trusted state"
                              : context == VMDB_SIG_API_KEYS      ? "API keys file"
                                                                  : "header");
    return 0;
}

int vmdb_sheader_verify(const vmdb_sheader *sh, vmdb_hasher *h, const uint8_t pk[32])
{
    uint8_t hash[32];
    vmdb_header_hash(h, hash, &sh->h);
    if (memcmp(hash, sh->hash, 32) != 0)
        return vmdb_error_set(VMDB_EVERIFY, "header hash does not match header %llu",
                              (unsigned long long)sh->h.seq);
    return vmdb_header_verify_sig(sh->sig, sh->h.version, VMDB_SIG_COMMITTED, sh->hash, pk);
}

int vmdb_header_check_link(vmdb_hasher *h, const vmdb_header *prev_hdr, const vmdb_header *hdr)
{
    uint8_t ph[32];
    bool v1 = prev_hdr->version == 1, v1next = hdr->version == 1;
    if (prev_hdr->seq == UINT64_MAX || hdr->seq != prev_hdr->seq + 1)
        return vmdb_error_set(VMDB_EVERIFY, "header seq %llu does not follow %llu",
                              (unsigned long long)hdr->seq, (unsigned long long)prev_hdr->seq);
    if (!v1 && v1next)
        return vmdb_error_set(VMDB_EVERIFY, "v1 header %llu follows a v2 header",
                              (unsigned long long)hdr->seq);
    if (!v1 && memcmp(prev_hdr->chain_id, hdr->chain_id, 32) != 0)
        return vmdb_error_set(VMDB_EVERIFY, "header %llu has another chain_id than its predecessor",
                              (unsigned long long)hdr->seq);
    vmdb_header_hash(h, ph, prev_hdr);
    if (memcmp(ph, hdr->prev, 32) != 0)
        return vmdb_error_set(VMDB_EVERIFY, "header %llu does not chain to its predecessor",
                              (unsigned long long)hdr->seq);
    return 0;
}

/* The JSON form of `hdr` whose hash is `hash`. */
static int to_json(vmdb_buf *out, const vmdb_header *hdr, const uint8_t hash[32],
                   const uint8_t *sig)
{
    char sr[65], pv[65], hr[65], sh[65], hh[65], ci[65], sg[129];
    char head[192], tmp[800];
    int n;

    vmdb_hex_encode(sr, hdr->smt_root, 32);
    vmdb_hex_encode(pv, hdr->prev, 32);
    vmdb_hex_encode(hr, hdr->history_root, 32);
    vmdb_hex_encode(sh, hdr->schema_hash, 32);
    vmdb_hex_encode(hh, hash, 32);
    if (sig)
        vmdb_hex_encode(sg, sig, 64);
    if (hdr->version == 1) {
        snprintf(head, sizeof(head), "\"version\":1,\"seq\":%llu", (unsigned long long)hdr->seq);
    } else {
        const char *kn = vmdb_header_kind_name(hdr->kind);
        vmdb_hex_encode(ci, hdr->chain_id, 32);
        /* An unknown kind cannot be decoded; one set in memory is a bug,
         * rendered as its number so that it shows. */
        if (kn)
            snprintf(head, sizeof(head),
                     "\"version\":2,\"seq\":%llu,\"kind\":\"%s\",\"chain_id\":\"%s\"",
                     (unsigned long long)hdr->seq, kn, ci);
        else
            snprintf(head, sizeof(head),
                     "\"version\":2,\"seq\":%llu,\"kind\":%u,\"chain_id\":\"%s\"",
                     (unsigned long long)hdr->seq, hdr->kind, ci);
    }
    n = snprintf(tmp, sizeof(tmp),
                 "{%s,\"smt_root\":\"%s\",\"prev\":\"%s\",\"history_root\":\"%s\","
                 "\"time_ms\":%llu,\"schema_hash\":\"%s\",\"header_hash\":\"%s\"%s%s%s}",
                 head, sr, pv, hr, (unsigned long long)hdr->time_ms, sh, hh,
                 sig ? ",\"sig\":\"" : "", sig ? sg : "", sig ? "\"" : "");
    return vmdb_buf_put(out, tmp, (size_t)n);
}

int vmdb_header_to_json(vmdb_buf *out, vmdb_hasher *h, const vmdb_header *hdr, const uint8_t *sig)
{
    uint8_t hash[32];
    vmdb_header_hash(h, hash, hdr);
    return to_json(out, hdr, hash, sig);
}

int vmdb_sheader_to_json(vmdb_buf *out, const vmdb_sheader *sh)
{
    return to_json(out, &sh->h, sh->hash, sh->sig);
}

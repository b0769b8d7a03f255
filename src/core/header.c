/*
 * State header encoding, hashing and Ed25519 signatures (libsodium). The
 * signature covers the header hash, which already carries the domain tag
 * "vmdb/v1/header", so a vmdb signature can never be replayed as a
 * signature over some other 32-byte value that vmdb hashes.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "core/error.h"
#include "vmdb/header.h"

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

void vmdb_header_encode(uint8_t out[VMDB_HEADER_ENCODED_LEN], const vmdb_header *hdr)
{
    put_u64(out, hdr->seq);
    memcpy(out + 8, hdr->smt_root, 32);
    memcpy(out + 40, hdr->prev, 32);
    memcpy(out + 72, hdr->history_root, 32);
    put_u64(out + 104, hdr->time_ms);
    memcpy(out + 112, hdr->schema_hash, 32);
}

int vmdb_header_decode(vmdb_header *hdr, vmdb_slice in)
{
    if (in.len != VMDB_HEADER_ENCODED_LEN)
        return vmdb_error_set(VMDB_EPARSE, "encoded header must be %d bytes, got %zu",
                              VMDB_HEADER_ENCODED_LEN, in.len);
    hdr->seq = get_u64(in.ptr);
    memcpy(hdr->smt_root, in.ptr + 8, 32);
    memcpy(hdr->prev, in.ptr + 40, 32);
    memcpy(hdr->history_root, in.ptr + 72, 32);
    hdr->time_ms = get_u64(in.ptr + 104);
    memcpy(hdr->schema_hash, in.ptr + 112, 32);
    return 0;
}

void vmdb_header_hash(vmdb_hasher *h, uint8_t out[32], const vmdb_header *hdr)
{
    static const uint8_t tag[] = "vmdb/v1/header";
    uint8_t enc[VMDB_HEADER_ENCODED_LEN];
    vmdb_header_encode(enc, hdr);
    vmdb_slice parts[2] = {{tag, sizeof(tag)}, {enc, sizeof(enc)}};
    vmdb_hash_parts(h, out, parts, 2);
}

int vmdb_ed25519_from_seed(uint8_t pk[32], uint8_t sk[64], const uint8_t seed[32])
{
    if (sodium_init() < 0 || crypto_sign_seed_keypair(pk, sk, seed) != 0)
        return vmdb_error_set(VMDB_ECRYPTO, "libsodium could not derive a key pair");
    return 0;
}

int vmdb_header_sign(uint8_t sig[64], const uint8_t header_hash[32], const uint8_t sk[64])
{
    if (sodium_init() < 0 || crypto_sign_detached(sig, NULL, header_hash, 32, sk) != 0)
        return vmdb_error_set(VMDB_ECRYPTO, "libsodium could not sign");
    return 0;
}

int vmdb_header_verify_sig(const uint8_t sig[64], const uint8_t header_hash[32],
                           const uint8_t pk[32])
{
    if (sodium_init() < 0)
        return vmdb_error_set(VMDB_ECRYPTO, "libsodium failed to initialise");
    if (crypto_sign_verify_detached(sig, header_hash, 32, pk) != 0)
        return vmdb_error_set(VMDB_EVERIFY, "header signature does not verify");
    return 0;
}

int vmdb_sheader_verify(const vmdb_sheader *sh, vmdb_hasher *h, const uint8_t pk[32])
{
    uint8_t hash[32];
    vmdb_header_hash(h, hash, &sh->h);
    if (memcmp(hash, sh->hash, 32) != 0)
        return vmdb_error_set(VMDB_EVERIFY, "header hash does not match header %llu",
                              (unsigned long long)sh->h.seq);
    return vmdb_header_verify_sig(sh->sig, sh->hash, pk);
}

int vmdb_header_check_link(vmdb_hasher *h, const vmdb_header *prev_hdr, const vmdb_header *hdr)
{
    uint8_t ph[32];
    if (prev_hdr->seq == UINT64_MAX || hdr->seq != prev_hdr->seq + 1)
        return vmdb_error_set(VMDB_EVERIFY, "header seq %llu does not follow %llu",
                              (unsigned long long)hdr->seq, (unsigned long long)prev_hdr->seq);
    vmdb_header_hash(h, ph, prev_hdr);
    if (memcmp(ph, hdr->prev, 32) != 0)
        return vmdb_error_set(VMDB_EVERIFY, "header %llu does not chain to its predecessor",
                              (unsigned long long)hdr->seq);
    return 0;
}

int vmdb_header_to_json(vmdb_buf *out, vmdb_hasher *h, const vmdb_header *hdr, const uint8_t *sig)
{
    char sr[65], pv[65], hr[65], sh[65], hh[65], sg[129];
    char tmp[640];
    uint8_t hash[32];
    int n;

    vmdb_header_hash(h, hash, hdr);
    vmdb_hex_encode(sr, hdr->smt_root, 32);
    vmdb_hex_encode(pv, hdr->prev, 32);
    vmdb_hex_encode(hr, hdr->history_root, 32);
    vmdb_hex_encode(sh, hdr->schema_hash, 32);
    vmdb_hex_encode(hh, hash, 32);
    if (sig)
        vmdb_hex_encode(sg, sig, 64);
    n = snprintf(tmp, sizeof(tmp),
                 "{\"seq\":%llu,\"smt_root\":\"%s\",\"prev\":\"%s\",\"history_root\":\"%s\","
                 "\"time_ms\":%llu,\"schema_hash\":\"%s\",\"header_hash\":\"%s\"%s%s%s}",
                 (unsigned long long)hdr->seq, sr, pv, hr, (unsigned long long)hdr->time_ms, sh, hh,
                 sig ? ",\"sig\":\"" : "", sig ? sg : "", sig ? "\"" : "");
    return vmdb_buf_put(out, tmp, (size_t)n);
}

/*
 * vmdb anchor status | list | verify: the anchor seen from outside the
 * server. status compares the newest header in PostgreSQL with the newest
 * anchor; list prints the anchors an identity has on Solana (or in the local
 * anchor file); verify walks the header chain in PostgreSQL and checks it
 * against every anchor found, reporting any mismatch. Configuration comes
 * from the same environment as vmdb serve.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anchor/anchor.h"
#include "anchor/solana/sol_rpc.h"
#include "anchor/solana/sol_scan.h"
#include "anchor/solana/sol_tx.h"
#include "cli/cli.h"
#include "db/pg.h"
#include "trust/identity.h"
#include "util/file.h"
#include "util/log.h"
#include "util/sb.h"
#include "vmdb/base58.h"
#include "vmdb/header.h"

static const char anchor_help[] =
    "usage: vmdb anchor status | list [--address <base58>] [--limit N] | verify\n"
    "\n"
    "  status   newest header in PostgreSQL vs the newest anchor, backlog, fee payer balance\n"
    "  list     the anchors of an identity (default: this data directory's identity)\n"
    "  verify   check the header chain in PostgreSQL against every anchor found\n"
    "\n"
    "Environment as for vmdb serve: DATABASE_URL, VMDB_DATA_DIR, VMDB_IDENTITY_KEY,\n"
    "VMDB_ANCHOR (local | solana), SOLANA_RPC_URL (one endpoint or several, comma-separated:\n"
    "the anchors are the union of what every endpoint shows), SOLANA_KEYPAIR_PATH.\n";

typedef struct anchor_ent {
    uint64_t seq;
    uint8_t hash[32], root[32];
    char ref[96];
} anchor_ent;

static const char *env_or(const char *k, const char *d)
{
    const char *v = getenv(k);
    return v && *v ? v : d;
}

static bool use_solana(void)
{
    return strcmp(env_or("VMDB_ANCHOR", "local"), "solana") == 0;
}

static char *data_path(const char *name)
{
    return vmdb_file_path(env_or("VMDB_DATA_DIR", "./.vmdb"), name);
}

/* Appends the records of the local anchor file of one version that verify
 * against pk. A missing file adds nothing; *opened counts the files read. */
static int collect_local(anchor_ent **v, size_t *cnt, size_t *cap, bool v2, const uint8_t pk[32],
                         int *opened)
{
    const char *name = v2 ? "anchors2.bin" : "anchors.bin";
    size_t hl = v2 ? VMDB_HEADER_V2_LEN : VMDB_HEADER_V1_LEN;
    char *path = data_path(name);
    FILE *f = path ? fopen(path, "rb") : NULL;
    uint8_t rec[VMDB_HEADER_MAX_LEN + 64];
    vmdb_hasher *h = NULL;
    size_t k = 0;
    int rc = 0;
    free(path);
    if (!f)
        return 0;
    (*opened)++;
    if (vmdb_hasher_new(&h, 0) != 0) {
        fclose(f);
        return VMDB_ENOMEM;
    }
    for (; fread(rec, 1, hl + 64, f) == hl + 64; k++) {
        vmdb_header hd;
        uint8_t hash[32];
        if (vmdb_header_decode(&hd, VMDB_SLICE(rec, hl)) != 0)
            break;
        vmdb_header_hash(h, hash, &hd);
        if (vmdb_header_verify_sig(rec + hl, hd.version, VMDB_SIG_COMMITTED, hash, pk) != 0)
            continue;
        if (*cnt == *cap) {
            size_t nc = *cap ? *cap * 2 : 64;
            anchor_ent *nv = realloc(*v, nc * sizeof *nv);
            if (!nv) {
                rc = VMDB_ENOMEM;
                break;
            }
            *v = nv;
            *cap = nc;
        }
        anchor_ent *e = &(*v)[*cnt];
        e->seq = hd.seq;
        memcpy(e->hash, hash, 32);
        memcpy(e->root, hd.smt_root, 32);
        snprintf(e->ref, sizeof e->ref, "%s record %zu", name, k);
        (*cnt)++;
    }
    fclose(f);
    vmdb_hasher_free(h);
    return rc;
}

/* Every anchor of `pk`, oldest first, into *out (malloc'ed). */
static int collect_anchors(anchor_ent **out, size_t *n, const uint8_t pk[32], size_t limit)
{
    anchor_ent *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    *out = NULL;
    *n = 0;
    if (!use_solana()) {
        /* anchors.bin (v1 records) then anchors2.bin (v2), PROTOCOL.md
         * §8.2; one of them may be absent (a chain that began under v2, or
         * one not yet upgraded). */
        int opened = 0;
        for (int f = 0; f < 2 && rc == 0; f++)
            rc = collect_local(&v, &cnt, &cap, f == 1, pk, &opened);
        if (rc == 0 && opened == 0) {
            fprintf(stderr, "vmdb anchor: cannot read the local anchor file\n");
            rc = VMDB_EIO;
        }
    } else {
        vmdb_sol_anchor_ent *found = NULL;
        size_t nf = 0;
        /* Every endpoint of the list: the union of what they show. */
        rc = vmdb_sol_anchor_list_multi(env_or("SOLANA_RPC_URL", ""), &found, &nf, pk, limit, NULL);
        if (rc == VMDB_EINVAL) {
            fprintf(stderr, "vmdb anchor: SOLANA_RPC_URL is not usable (%s)\n", vmdb_error_last());
            return VMDB_EINVAL;
        }
        if (rc) {
            fprintf(stderr, "vmdb anchor: cannot read the anchors from the RPC (%s)\n",
                    vmdb_error_last());
        } else if (nf && !(v = calloc(nf, sizeof *v))) {
            rc = VMDB_ENOMEM;
        }
        /* newest first from the RPC: make it oldest first */
        for (size_t i = 0; rc == 0 && i < nf; i++) {
            const vmdb_sol_anchor_ent *e = &found[nf - 1 - i];
            v[i].seq = e->seq;
            memcpy(v[i].hash, e->header_hash, 32);
            memcpy(v[i].root, e->smt_root, 32);
            vmdb_sol_sig_b58(v[i].ref, e->sig);
        }
        cnt = rc ? 0 : nf;
        free(found);
    }
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return 0;
}

static int load_identity(vmdb_identity *id)
{
    const char *p = getenv("VMDB_IDENTITY_KEY");
    char *def = data_path("identity.json");
    int rc = vmdb_identity_load(id, p && *p ? p : def, false);
    free(def);
    return rc;
}

static int cmd_list(int argc, char **argv)
{
    uint8_t pk[32];
    size_t limit = (size_t)-1;
    const char *addr = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--address") && i + 1 < argc)
            addr = argv[++i];
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
            limit = (size_t)strtoull(argv[++i], NULL, 10);
        else {
            fputs(anchor_help, stderr);
            return 2;
        }
    }
    if (addr) {
        if (vmdb_base58_decode(pk, 32, addr, strlen(addr)) != 0) {
            fprintf(stderr, "vmdb anchor: --address is not a base58 public key\n");
            return 2;
        }
    } else {
        vmdb_identity id;
        if (load_identity(&id) != 0)
            return 1;
        memcpy(pk, id.pk, 32);
        vmdb_identity_clear(&id);
    }
    anchor_ent *v = NULL;
    size_t n = 0;
    if (collect_anchors(&v, &n, pk, limit) != 0)
        return 1;
    for (size_t i = 0; i < n; i++) {
        char hh[65], hr[65];
        vmdb_hex_encode(hh, v[i].hash, 32);
        vmdb_hex_encode(hr, v[i].root, 32);
        printf("seq %llu header_hash %s smt_root %s %s\n", (unsigned long long)v[i].seq, hh, hr,
               v[i].ref);
    }
    fprintf(stderr, "%zu anchors\n", n);
    free(v);
    return 0;
}

/* Header hashes 0..n-1 from PostgreSQL, checked link by link. */
static int load_chain(PGconn *c, uint8_t (**hashes)[32], size_t *n, char *why, size_t whylen)
{
    vmdb_hasher *h = NULL;
    PGresult *r = PQexec(c, "SELECT seq, header FROM vmdb_headers ORDER BY seq");
    int rc = 0;
    *hashes = NULL;
    *n = 0;
    why[0] = 0;
    if (!r || PQresultStatus(r) != PGRES_TUPLES_OK || vmdb_hasher_new(&h, 0) != 0) {
        PQclear(r);
        vmdb_hasher_free(h);
        snprintf(why, whylen, "cannot read vmdb_headers");
        return VMDB_EIO;
    }
    size_t nt = (size_t)PQntuples(r);
    uint8_t(*hs)[32] = calloc(nt ? nt : 1, 32);
    if (!hs)
        rc = VMDB_ENOMEM;
    for (size_t i = 0; rc == 0 && i < nt && !why[0]; i++) {
        size_t hl = 0;
        unsigned char *hb = PQunescapeBytea((const unsigned char *)PQgetvalue(r, (int)i, 1), &hl);
        vmdb_header hd;
        if (!hb || vmdb_header_decode(&hd, VMDB_SLICE(hb, hl)) != 0 || hd.seq != i)
            snprintf(why, whylen, "header %zu is missing or malformed", i);
        else if (i > 0 && memcmp(hd.prev, hs[i - 1], 32) != 0)
            snprintf(why, whylen, "header %zu does not link to header %zu", i, i - 1);
        else
            vmdb_header_hash(h, hs[i], &hd);
        PQfreemem(hb);
        *n = i + 1;
    }
    PQclear(r);
    vmdb_hasher_free(h);
    if (rc || why[0]) {
        free(hs);
        *n = 0;
        return rc ? rc : VMDB_EVERIFY;
    }
    *hashes = hs;
    return 0;
}

static int cmd_status_verify(bool verify)
{
    vmdb_identity id;
    PGconn *c = NULL;
    uint8_t(*hs)[32] = NULL;
    size_t nh = 0, na = 0, bad = 0;
    anchor_ent *v = NULL;
    char why[200] = "";
    int rc = 1;
    if (load_identity(&id) != 0)
        return 1;
    printf("identity %s\npublic_key %s\nanchor %s\n", id.address, id.pk_hex,
           use_solana() ? "solana" : "local");
    const char *url = getenv("DATABASE_URL");
    if (url && *url && (c = vmdb_pg_connect(url, "vmdb-anchor-cli")) != NULL) {
        if (load_chain(c, &hs, &nh, why, sizeof why) != 0)
            printf("database_chain BROKEN: %s\n", why);
        else
            printf("database_newest_seq %lld\n", nh ? (long long)(nh - 1) : -1LL);
    } else {
        printf("database unavailable (set DATABASE_URL)\n");
    }
    if (collect_anchors(&v, &na, id.pk, verify ? (size_t)-1 : (size_t)-1) != 0)
        goto done;
    if (na) {
        char hh[65];
        vmdb_hex_encode(hh, v[na - 1].hash, 32);
        printf("newest_anchor_seq %llu\nnewest_anchor_hash %s\nnewest_anchor_ref %s\n",
               (unsigned long long)v[na - 1].seq, hh, v[na - 1].ref);
        if (nh)
            printf("backlog %lld\n", (long long)(nh - 1) - (long long)v[na - 1].seq);
    } else {
        printf("newest_anchor none\n");
    }
    if (use_solana()) {
        vmdb_sol_rpc *rpc = NULL;
        uint8_t payer_sk[64], pk[32];
        const char *kp = getenv("SOLANA_KEYPAIR_PATH");
        memcpy(pk, id.pk, 32);
        if (kp && *kp && vmdb_sol_keypair_read(payer_sk, kp) == 0)
            memcpy(pk, payer_sk + 32, 32);
        uint64_t bal = 0, rent = 890880;
        char *urls[VMDB_SOL_MAX_ENDPOINTS] = {0};
        size_t nurls = 0;
        vmdb_sol_urls_split(urls, &nurls, env_or("SOLANA_RPC_URL", ""));
        /* The balance from the first endpoint that answers. */
        for (size_t k = 0; k < nurls; k++) {
            if (vmdb_sol_rpc_new(&rpc, urls[k], NULL) == 0 &&
                vmdb_sol_rpc_get_balance(rpc, &bal, pk) == 0) {
                vmdb_sol_rpc_get_min_rent(rpc, &rent, 0);
                printf("fee_payer_balance %llu%s\n", (unsigned long long)bal,
                       bal < rent + 100000 ? " LOW (below the rent-exempt minimum plus fees)" : "");
                k = nurls;
            }
            vmdb_sol_rpc_free(rpc);
            rpc = NULL;
        }
        vmdb_sol_urls_free(urls, nurls);
        memset(payer_sk, 0, sizeof payer_sk);
    }
    rc = 0;
    if (verify) {
        if (!hs && nh == 0 && why[0]) {
            rc = 1;
            goto done;
        }
        for (size_t i = 0; i < na; i++) {
            bool ok = v[i].seq < nh && memcmp(hs[v[i].seq], v[i].hash, 32) == 0;
            if (!ok) {
                bad++;
                printf("MISMATCH anchor seq %llu (%s): %s\n", (unsigned long long)v[i].seq,
                       v[i].ref,
                       v[i].seq < nh ? "the database holds a different header"
                                     : "the database has no header with this seq (rolled back?)");
            }
        }
        printf("verify: %zu anchors checked against %zu headers, %zu mismatches\n", na, nh, bad);
        rc = bad ? 1 : 0;
    }
done:
    free(hs);
    free(v);
    PQfinish(c);
    vmdb_identity_clear(&id);
    return rc;
}

int vmdb_cli_anchor(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(anchor_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "status"))
        return cmd_status_verify(false);
    if (!strcmp(argv[1], "verify"))
        return cmd_status_verify(true);
    if (!strcmp(argv[1], "list"))
        return cmd_list(argc - 1, argv + 1);
    fputs(anchor_help, stderr);
    return 2;
}

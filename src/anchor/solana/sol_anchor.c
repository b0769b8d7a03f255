/*
 * Solana anchor: each anchored header becomes one SPL Memo instruction,
 * `vmdb1:<seq>:<header_hash hex>:<smt_root hex>`, in a legacy transaction
 * signed by the identity key (and paid by it, or by a separate fee payer, in
 * which case the identity signs the memo as its listed account). Only the
 * identity key can produce such a transaction, so no program and no
 * authority check are needed.
 *
 * Appending never double-anchors a header: the transaction is built, signed
 * and recorded in the local state file before it is sent; the same bytes are
 * re-sent until a status appears; only when the block height has passed the
 * blockhash's lastValidBlockHeight with no status may the header be rebuilt
 * with a new blockhash. Reading the newest anchor lists the identity's
 * signatures newest first, stopping at the last anchor recorded locally so
 * that spam cannot bury it, and accepts a transaction only if it succeeded,
 * its signatures verify, the identity is a signer and the memo parses. A
 * record that names no anchor of the identity (edited, or from another
 * ledger) is not trusted: the whole history is scanned instead.
 *
 * SOLANA_RPC_URL may list several endpoints. The newest anchor is the
 * newest that any endpoint which answers shows, so one endpoint (or a proxy
 * the host controls) cannot hide a newer anchor by leaving it out; only if
 * none answers is the anchor unreachable. A transaction is sent to every
 * endpoint (a host-controlled one could swallow it; the same signed bytes
 * land once however often they are sent) and counts once any endpoint
 * reports it confirmed.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "anchor/anchor.h"
#include "anchor/solana/sol_rpc.h"
#include "anchor/solana/sol_scan.h"
#include "anchor/solana/sol_tx.h"
#include "core/error.h"
#include "util/file.h"
#include "util/log.h"
#include "util/sb.h"
#include "vmdb/base58.h"
#include "vmdb/json.h"

#define SCAN_PAGE 1000
#define SCAN_MAX_PAGES 50 /* 50,000 signatures at most per scan */
#define CONFIRM_WAIT_MS 60000
#define STATE_FILE_MAX ((size_t)1 << 20)

/* One RPC endpoint of SOLANA_RPC_URL. */
typedef struct sol_ep {
    vmdb_sol_rpc *rpc;
    vmdb_sol_rpc *rpc_read; /* anchors are read at "confirmed" at least */
} sol_ep;

typedef struct sol_anchor {
    vmdb_anchor base;
    sol_ep ep[VMDB_SOL_MAX_ENDPOINTS];
    size_t nep;
    uint8_t id_sk[64], id_pk[32];
    uint8_t payer_sk[64], payer_pk[32];
    bool separate_payer;
    char *state_path;
    /* the local record */
    bool has_last;
    uint8_t last_sig[64];
    uint64_t last_seq;
    bool has_pending;
    uint64_t pending_seq, pending_last_valid;
    uint8_t pending_sig[64];
    vmdb_buf pending_wire;
    /* for /health */
    char last_error[160];
    uint64_t balance;
    bool balance_known;
} sol_anchor;

static void rpc_log(void *ctx, const char *line)
{
    (void)ctx;
    LOG_WARN("solana rpc: %s", line);
}

/* Records why `rpc`'s last call failed (for /health and the log). */
static void set_error(sol_anchor *s, vmdb_sol_rpc *rpc, const char *what)
{
    const vmdb_sol_rpc_status *st = vmdb_sol_rpc_last(rpc);
    if (st && st->kind == VMDB_SOL_RPC_ERROR)
        snprintf(s->last_error, sizeof s->last_error, "%s: RPC error %lld %.100s", what,
                 st->rpc_code, st->rpc_message);
    else
        snprintf(s->last_error, sizeof s->last_error, "%s: RPC unavailable", what);
    LOG_WARN("solana anchor: %s", s->last_error);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- the local record ---------------------------------------------------- */

static int save_state(sol_anchor *s)
{
    vmdb_buf b = VMDB_BUF_INIT;
    char sig[VMDB_SOL_SIG_B58_MAX];
    int rc = vmdb_sb_puts(&b, "{\"last_seq\":");
    if (rc == 0 && s->has_last) {
        vmdb_sol_sig_b58(sig, s->last_sig);
        rc = vmdb_sb_printf(&b, "%llu,\"last_sig\":\"%s\"", (unsigned long long)s->last_seq, sig);
    } else if (rc == 0) {
        rc = vmdb_sb_puts(&b, "null,\"last_sig\":null");
    }
    rc = rc ? rc : vmdb_sb_puts(&b, ",\"pending\":");
    if (rc == 0 && s->has_pending) {
        size_t n64 = 4 * ((s->pending_wire.len + 2) / 3) + 1;
        char *w64 = malloc(n64);
        if (!w64)
            rc = VMDB_ENOMEM;
        else {
            EVP_EncodeBlock((unsigned char *)w64, s->pending_wire.ptr, (int)s->pending_wire.len);
            vmdb_sol_sig_b58(sig, s->pending_sig);
            rc = vmdb_sb_printf(&b,
                                "{\"last_valid\":%llu,\"seq\":%llu,\"sig\":\"%s\",\"wire\":\"%s\"}",
                                (unsigned long long)s->pending_last_valid,
                                (unsigned long long)s->pending_seq, sig, w64);
            free(w64);
        }
    } else if (rc == 0) {
        rc = vmdb_sb_puts(&b, "null");
    }
    rc = rc ? rc : vmdb_sb_puts(&b, "}\n");
    rc = rc ? rc : vmdb_file_write_atomic(s->state_path, b.ptr, b.len, 0600);
    vmdb_buf_free(&b);
    return rc;
}

static bool json_u64(const vmdb_json *v, uint64_t *out)
{
    double d = vmdb_json_number(v);
    if (vmdb_json_typeof(v) != VMDB_JSON_NUMBER || !vmdb_json_is_integer_literal(v) || d < 0 ||
        d > 9007199254740992.0)
        return false;
    *out = (uint64_t)d;
    return true;
}

static bool json_sig(const vmdb_json *v, uint8_t sig[64])
{
    vmdb_slice t = vmdb_json_string(v);
    return t.ptr && vmdb_base58_decode(sig, 64, (const char *)t.ptr, t.len) == 0;
}

static void load_state(sol_anchor *s)
{
    vmdb_buf raw = VMDB_BUF_INIT;
    vmdb_json_doc *doc = NULL;
    int rc = vmdb_file_read(s->state_path, &raw, STATE_FILE_MAX);
    if (rc == VMDB_ENOTFOUND)
        goto done; /* nothing recorded yet */
    if (rc == 0 && vmdb_json_parse(&doc, VMDB_SLICE(raw.ptr, raw.len), NULL) == 0) {
        const vmdb_json *r = vmdb_json_doc_root(doc);
        s->has_last = json_u64(vmdb_json_get(r, "last_seq"), &s->last_seq) &&
                      json_sig(vmdb_json_get(r, "last_sig"), s->last_sig);
        const vmdb_json *p = vmdb_json_get(r, "pending");
        vmdb_slice w = vmdb_json_string(vmdb_json_get(p, "wire"));
        if (p && vmdb_json_typeof(p) == VMDB_JSON_OBJECT && w.ptr && w.len < 4096 &&
            json_u64(vmdb_json_get(p, "seq"), &s->pending_seq) &&
            json_u64(vmdb_json_get(p, "last_valid"), &s->pending_last_valid) &&
            json_sig(vmdb_json_get(p, "sig"), s->pending_sig)) {
            unsigned char bin[4096];
            int n = EVP_DecodeBlock(bin, w.ptr, (int)w.len);
            size_t pad =
                (w.len && w.ptr[w.len - 1] == '=') + (w.len > 1 && w.ptr[w.len - 2] == '=');
            if (n > 0 && (size_t)n >= pad) {
                s->pending_wire.len = 0;
                s->has_pending = vmdb_buf_put(&s->pending_wire, bin, (size_t)n - pad) == 0;
            }
        }
    } else {
        LOG_WARN("solana anchor: %s is unreadable; scanning the chain instead", s->state_path);
    }
done:
    vmdb_json_doc_free(doc);
    vmdb_buf_free(&raw);
}

/* ---- reading anchors ----------------------------------------------------- */

/* Reads transaction `sig` as an anchor of the identity (sol_scan.c: the
 * wire bytes, every signature, the memo). 0, VMDB_ENOTFOUND (not an anchor,
 * or unknown to the node), else the RPC failed. */
static int read_anchor_tx(sol_anchor *s, vmdb_sol_rpc *rpc, const uint8_t sig[64],
                          vmdb_sheader *out)
{
    vmdb_sol_anchor_ent e;
    memset(out, 0, sizeof *out);
    int rc = vmdb_sol_anchor_read(rpc, &e, sig, s->id_pk);
    if (rc == VMDB_EPARSE)
        rc = VMDB_ENOTFOUND; /* a transaction no anchor looks like */
    if (rc == 0) {
        out->h.seq = e.seq;
        memcpy(out->hash, e.header_hash, 32);
        memcpy(out->h.smt_root, e.smt_root, 32);
    }
    return rc;
}

/* The newest anchor one endpoint shows. With `use_last` the scan stops at
 * the recorded anchor and then checks it again. 0 (*found says whether
 * there is one), VMDB_ENOTFOUND (the recorded anchor is no anchor of the
 * identity on this endpoint), VMDB_EIO (the endpoint failed), VMDB_ENOMEM. */
static int scan_endpoint(sol_anchor *s, size_t k, bool use_last, vmdb_sheader *out, bool *found)
{
    vmdb_sol_rpc *rpc = s->ep[k].rpc_read;
    vmdb_sol_sig_info *page = calloc(SCAN_PAGE, sizeof *page);
    uint8_t before[64];
    bool has_before = false;
    int rc = 0;
    *found = false;
    memset(out, 0, sizeof *out);
    if (!page)
        return VMDB_ENOMEM;
    for (int p = 0; p < SCAN_MAX_PAGES && !*found; p++) {
        size_t n = 0;
        if (vmdb_sol_rpc_get_signatures_for_address(rpc, page, &n, s->id_pk, SCAN_PAGE,
                                                    has_before ? before : NULL,
                                                    use_last ? s->last_sig : NULL) != 0) {
            snprintf(s->last_error, sizeof s->last_error,
                     "getSignaturesForAddress: RPC unavailable");
            rc = VMDB_EIO;
            goto done;
        }
        for (size_t i = 0; i < n && !*found; i++) {
            vmdb_sheader cand;
            if (!page[i].err_null)
                continue;
            int r = read_anchor_tx(s, rpc, page[i].sig, &cand);
            if (r == VMDB_ENOTFOUND)
                continue;
            if (r) {
                /* Skipping it could miss the newest anchor. */
                set_error(s, rpc, "getTransaction");
                rc = r == VMDB_ENOMEM ? r : VMDB_EIO;
                goto done;
            }
            if (!use_last || cand.h.seq >= s->last_seq) {
                *out = cand;
                *found = true;
            }
        }
        if (n < SCAN_PAGE)
            break;
        memcpy(before, page[n - 1].sig, 64);
        has_before = true;
        if (p + 1 == SCAN_MAX_PAGES && !*found) {
            /* More foreign transactions than one scan reads: the newest
             * anchor may be buried under them. Unknown is not "none". */
            snprintf(
                s->last_error, sizeof s->last_error,
                "more than %d transactions since the last known anchor; cannot find the newest",
                SCAN_PAGE * SCAN_MAX_PAGES);
            LOG_ERROR("solana anchor: %s", s->last_error);
            rc = VMDB_EIO;
            goto done;
        }
    }
    /* Nothing newer than the last recorded anchor: that one is the newest,
     * if the chain holds it as recorded. */
    if (!*found && use_last) {
        vmdb_sheader cand;
        int r = read_anchor_tx(s, rpc, s->last_sig, &cand);
        if (r == 0 && cand.h.seq == s->last_seq) {
            *out = cand;
            *found = true;
        } else if (r == 0 || r == VMDB_ENOTFOUND) {
            rc = VMDB_ENOTFOUND;
        } else {
            set_error(s, rpc, "getTransaction");
            rc = r == VMDB_ENOMEM ? r : VMDB_EIO;
        }
    }
done:
    free(page);
    return rc;
}

static int sol_newest(vmdb_anchor *a, vmdb_sheader *out, bool *found)
{
    sol_anchor *s = (sol_anchor *)a;
    size_t answered = 0;
    int rc = 0;
    *found = false;
    memset(out, 0, sizeof *out);
    for (size_t k = 0; k < s->nep; k++) {
        vmdb_sheader cand;
        bool got = false;
        int r = scan_endpoint(s, k, s->has_last, &cand, &got);
        if (r == VMDB_ENOTFOUND) {
            /* The local record is only a shortcut: a transaction that is not
             * an anchor of this identity as recorded (an edited file, another
             * ledger, a node that lost it) is no reason to stop writes. */
            char b58[VMDB_SOL_SIG_B58_MAX];
            vmdb_sol_sig_b58(b58, s->last_sig);
            LOG_WARN("solana anchor: the recorded anchor %s (seq %llu) in %s is not an anchor of "
                     "this identity on RPC endpoint %zu of %zu (not found, or another "
                     "transaction); scanning the identity's transactions instead",
                     b58, (unsigned long long)s->last_seq, s->state_path, k + 1, s->nep);
            r = scan_endpoint(s, k, false, &cand, &got);
        }
        if (r == VMDB_ENOMEM)
            return r;
        if (r) {
            LOG_WARN("solana anchor: RPC endpoint %zu of %zu cannot be read (%s); skipped", k + 1,
                     s->nep, s->last_error);
            continue;
        }
        answered++;
        if (!got)
            continue;
        if (!*found || cand.h.seq > out->h.seq) {
            *out = cand;
            *found = true;
        } else if (cand.h.seq == out->h.seq && memcmp(cand.hash, out->hash, 32) != 0) {
            /* The identity anchored two headers with one seq: a fork. */
            LOG_ERROR("solana anchor: two anchors of seq %llu carry different header hashes",
                      (unsigned long long)cand.h.seq);
            rc = VMDB_EVERIFY;
        }
    }
    if (answered == 0) {
        *found = false;
        return VMDB_EIO; /* the anchor is unreachable: writes wait, retried */
    }
    return rc;
}

/* ---- appending ------------------------------------------------------------ */

static int build_tx(sol_anchor *s, const vmdb_sheader *sh)
{
    vmdb_buf memo = VMDB_BUF_INIT, msg = VMDB_BUF_INIT;
    uint8_t blockhash[32], sks[2][64];
    uint64_t last_valid = 0;
    int rc = VMDB_EIO;
    /* The blockhash from the first endpoint that answers. */
    for (size_t k = 0; k < s->nep && rc; k++)
        if ((rc = vmdb_sol_rpc_get_latest_blockhash(s->ep[k].rpc, blockhash, &last_valid)) != 0)
            set_error(s, s->ep[k].rpc, "getLatestBlockhash");
    if (rc)
        return VMDB_EIO;
    rc = vmdb_sol_memo_text(&memo, sh->h.seq, sh->hash, sh->h.smt_root);
    rc = rc ? rc
            : vmdb_sol_memo_message(&msg, s->separate_payer ? s->payer_pk : s->id_pk, s->id_pk,
                                    blockhash, VMDB_SLICE(memo.ptr, memo.len));
    memcpy(sks[0], s->id_sk, 64);
    if (s->separate_payer)
        memcpy(sks[1], s->payer_sk, 64);
    s->pending_wire.len = 0;
    rc = rc ? rc
            : vmdb_sol_tx_sign(&s->pending_wire, VMDB_SLICE(msg.ptr, msg.len),
                               (const uint8_t(*)[64])sks, s->separate_payer ? 2 : 1);
    rc = rc ? rc
            : vmdb_sol_tx_signature(s->pending_sig,
                                    VMDB_SLICE(s->pending_wire.ptr, s->pending_wire.len));
    memset(sks, 0, sizeof sks);
    vmdb_buf_free(&memo);
    vmdb_buf_free(&msg);
    if (rc)
        return rc;
    s->has_pending = true;
    s->pending_seq = sh->h.seq;
    s->pending_last_valid = last_valid;
    /* Recorded before it is sent: a restart re-sends these bytes. */
    return save_state(s);
}

static int sol_append(vmdb_anchor *a, const vmdb_sheader *sh)
{
    sol_anchor *s = (sol_anchor *)a;
    int rc = 0;
    if (s->has_pending && s->pending_seq != sh->h.seq) {
        /* An older pending header: a newer one supersedes it (the newest
         * anchor covers its ancestors through the history tree). Its bytes
         * may still land; that is harmless. */
        s->has_pending = false;
    }
    if (!s->has_pending && (rc = build_tx(s, sh)) != 0)
        return rc;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned rejected = 0;
    for (unsigned round = 0;; round++) {
        if (round % 4 == 0) {
            /* To every endpoint: one that swallows it cannot stop it. */
            size_t accepted = 0, refused = 0;
            for (size_t k = 0; k < s->nep; k++) {
                uint8_t sig[64];
                vmdb_sol_rpc *rpc = s->ep[k].rpc;
                if (vmdb_sol_rpc_send_transaction(
                        rpc, sig, VMDB_SLICE(s->pending_wire.ptr, s->pending_wire.len), false) ==
                    0) {
                    accepted++;
                    continue;
                }
                const vmdb_sol_rpc_status *st = vmdb_sol_rpc_last(rpc);
                bool rpc_error = st && st->kind == VMDB_SOL_RPC_ERROR;
                /* A rejection (already processed, blockhash not found,
                 * insufficient funds, ...): shown at once; the status and
                 * the block height decide below. */
                set_error(s, rpc, rpc_error ? "sendTransaction rejected" : "sendTransaction");
                refused += rpc_error;
            }
            if (accepted == 0 && refused == 0)
                return VMDB_EIO; /* every RPC is down: the caller backs off */
            rejected = accepted ? 0 : rejected + 1;
        }
        /* The best status any endpoint reports. */
        vmdb_sol_sig_status stt;
        size_t told = 0;
        memset(&stt, 0, sizeof stt);
        for (size_t k = 0; k < s->nep && stt.state < VMDB_SOL_TX_CONFIRMED; k++) {
            vmdb_sol_sig_status one;
            if (vmdb_sol_rpc_get_signature_statuses(
                    s->ep[k].rpc, &one, (const uint8_t(*)[64])s->pending_sig, 1, true) != 0) {
                set_error(s, s->ep[k].rpc, "getSignatureStatuses");
                continue;
            }
            told++;
            if (one.state > stt.state)
                stt = one;
        }
        if (told == 0)
            return VMDB_EIO;
        if (stt.state == VMDB_SOL_TX_CONFIRMED || stt.state == VMDB_SOL_TX_FINALIZED) {
            if (!stt.err_null) {
                snprintf(s->last_error, sizeof s->last_error, "anchor transaction failed on chain");
                s->has_pending = false;
                save_state(s);
                return VMDB_EIO;
            }
            s->has_last = true;
            s->last_seq = s->pending_seq;
            memcpy(s->last_sig, s->pending_sig, 64);
            s->has_pending = false;
            s->last_error[0] = 0;
            if (save_state(s) != 0)
                LOG_WARN("solana anchor: cannot record the anchor locally");
            char b58[VMDB_SOL_SIG_B58_MAX];
            vmdb_sol_sig_b58(b58, s->last_sig);
            LOG_INFO("solana anchor: header %llu anchored in %s", (unsigned long long)s->last_seq,
                     b58);
            uint64_t bal;
            for (size_t k = 0; k < s->nep; k++)
                if (vmdb_sol_rpc_get_balance(s->ep[k].rpc, &bal,
                                             s->separate_payer ? s->payer_pk : s->id_pk) == 0) {
                    s->balance = bal;
                    s->balance_known = true;
                    break;
                }
            return 0;
        }
        if (stt.state == VMDB_SOL_TX_NOT_FOUND && rejected >= 2)
            return VMDB_EIO; /* rejected twice and nowhere to be seen: back off, keep the bytes */
        if (stt.state == VMDB_SOL_TX_NOT_FOUND) {
            /* Expired only when every endpoint that answers says so: the
             * lowest height. One endpoint's word is not enough to sign the
             * header a second time. */
            uint64_t height = UINT64_MAX;
            for (size_t k = 0; k < s->nep; k++) {
                uint64_t hk = 0;
                if (vmdb_sol_rpc_get_block_height(s->ep[k].rpc, &hk) != 0)
                    set_error(s, s->ep[k].rpc, "getBlockHeight");
                else if (hk < height)
                    height = hk;
            }
            if (height == UINT64_MAX)
                return VMDB_EIO;
            if (height > s->pending_last_valid) {
                /* Expired without a trace: only now may it be rebuilt. */
                LOG_WARN("solana anchor: transaction for header %llu expired; rebuilding",
                         (unsigned long long)sh->h.seq);
                s->has_pending = false;
                if ((rc = build_tx(s, sh)) != 0)
                    return rc;
                round = (unsigned)-1;
                continue;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000 > CONFIRM_WAIT_MS) {
            snprintf(s->last_error, sizeof s->last_error, "not confirmed yet; will retry");
            return VMDB_EIO;
        }
        sleep_ms(500);
    }
}

static void sol_status(vmdb_anchor *a, vmdb_anchor_status *out)
{
    sol_anchor *s = (sol_anchor *)a;
    memset(out, 0, sizeof *out);
    out->reported = true;
    out->balance_known = s->balance_known;
    out->balance = s->balance;
    /* A fee payer must keep the rent-exempt minimum after fees. */
    out->low_balance = s->balance_known && s->balance < 890880 + 100000;
    out->pending = s->has_pending;
    snprintf(out->last_error, sizeof out->last_error, "%s", s->last_error);
}

static void sol_close(vmdb_anchor *a)
{
    sol_anchor *s = (sol_anchor *)a;
    if (!s)
        return;
    for (size_t k = 0; k < s->nep; k++) {
        if (s->ep[k].rpc_read != s->ep[k].rpc)
            vmdb_sol_rpc_free(s->ep[k].rpc_read);
        vmdb_sol_rpc_free(s->ep[k].rpc);
    }
    memset(s->id_sk, 0, sizeof s->id_sk);
    memset(s->payer_sk, 0, sizeof s->payer_sk);
    vmdb_buf_free(&s->pending_wire);
    free(s->state_path);
    free(s);
}

static const vmdb_anchor_ops sol_ops = {"solana",   sol_newest, sol_append,
                                        sol_status, sol_close,  false};

int vmdb_anchor_solana_open(vmdb_anchor **out, const vmdb_anchor_solana_cfg *cfg)
{
    int rc = 0;
    sol_anchor *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return VMDB_ENOMEM;
    s->base.ops = &sol_ops;
    s->pending_wire.max = VMDB_SOL_PACKET_MAX;
    memcpy(s->id_sk, cfg->identity_sk, 64);
    memcpy(s->id_pk, cfg->identity_sk + 32, 32);
    s->state_path = strdup(cfg->state_path);
    vmdb_sol_rpc_opts o = {.commitment = (vmdb_sol_commitment)cfg->commitment, .log = rpc_log};
    if (!s->state_path) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    if (cfg->fee_payer_path && *cfg->fee_payer_path) {
        if ((rc = vmdb_sol_keypair_read(s->payer_sk, cfg->fee_payer_path)) != 0) {
            LOG_ERROR("SOLANA_KEYPAIR_PATH %s is not a Solana keypair file", cfg->fee_payer_path);
            rc = VMDB_EINVAL;
            goto done;
        }
        memcpy(s->payer_pk, s->payer_sk + 32, 32);
        s->separate_payer = memcmp(s->payer_pk, s->id_pk, 32) != 0;
    }
    char *urls[VMDB_SOL_MAX_ENDPOINTS] = {0};
    if ((rc = vmdb_sol_urls_split(urls, &s->nep, cfg->rpc_url)) != 0) {
        LOG_ERROR("SOLANA_RPC_URL: %s", vmdb_error_last());
        goto done;
    }
    for (size_t k = 0; k < s->nep && rc == 0; k++) {
        sol_ep *e = &s->ep[k];
        if ((rc = vmdb_sol_rpc_new(&e->rpc, urls[k], &o)) != 0) {
            LOG_ERROR("SOLANA_RPC_URL: endpoint %zu of %zu is not a usable http(s) URL", k + 1,
                      s->nep);
            break;
        }
        /* Reading back: an anchor that is confirmed counts, also when
         * sending waits for "finalized" (else a quick restart would not see
         * the newest anchor yet). */
        e->rpc_read = e->rpc;
        if (o.commitment == VMDB_SOL_FINALIZED) {
            vmdb_sol_rpc_opts ro = o;
            ro.commitment = VMDB_SOL_CONFIRMED;
            rc = vmdb_sol_rpc_new(&e->rpc_read, urls[k], &ro);
        }
    }
    vmdb_sol_urls_free(urls, s->nep);
    if (rc)
        goto done;
    if (s->nep > 1)
        LOG_INFO("solana anchor: %zu RPC endpoints; the newest anchor is the newest any of them "
                 "shows",
                 s->nep);
    load_state(s);
done:
    if (rc) {
        sol_close(&s->base);
        return rc;
    }
    *out = &s->base;
    return 0;
}

/*
 * vmdb verify: checks a saved vmdb answer from outside, trusting nothing
 * but the identity public key — an answer with a proof bundle (§9, §10), a
 * history proof (§11.1), a signed header (/api/roots/latest or
 * /api/roots/{seq}) or a checkpoint note (§11.2). With --state it also
 * keeps the newest header verified so far (with the key and chain id,
 * pinned on first use) and requires every new header to be linked to it
 * by a history proof, so that a server rolled back to an older backup, or
 * a fork, is caught. The checks themselves are in verify_bundle.c; this
 * file reads input, fetches what is asked for over HTTP (libcurl) and
 * keeps the state file (written atomically). With --solana-rpc it also
 * checks that the identity anchored the answer's header on Solana, or a
 * later header that a history proof from --server links it to (§8.1).
 *
 * --table, --ids, --limit, --order and --require-complete say what was
 * asked, so that an answer to another question (an id left out of both
 * records and missing, a smaller limit, the other order, another table) is
 * refused; what was not given is named in the ok line as not checked.
 *
 * Exit status: 0 and one "ok: ..." line when everything checks; 1 and one
 * reason on stderr otherwise; 2 for usage errors.
 */
#include <curl/curl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anchor/solana/sol_scan.h"
#include "cli/cli.h"
#include "cli/verify_bundle.h"
#include "util/file.h"
#include "util/sb.h"
#include "vmdb/base58.h"

#define VFY_MAX_INPUT ((size_t)64 << 20)
#define VFY_MAX_FETCH ((size_t)16 << 20)

static const char verify_help[] =
    "usage: vmdb verify [FILE|-] (--public-key HEX | --identity-from URL) [--chain-id HEX]\n"
    "                   [--state FILE] [--server URL] [--history FILE] [--origin NAME]\n"
    "                   [--solana-rpc URL] [--cacert FILE]\n"
    "                   [--table T] [--ids A,B,...] [--limit N] [--order asc|desc]\n"
    "                   [--require-complete]\n"
    "\n"
    "Checks a saved vmdb answer with nothing but the identity public key. FILE (default\n"
    "stdin) is one of: an answer with data.proof (read/write with \"proof\": true, incl. a\n"
    "complete read-latest), a GET /api/roots/proof answer, a GET /api/roots/latest or\n"
    "/api/roots/{seq} answer (a signed header), a GET /api/roots/{seq}/transition answer\n"
    "(the record of an admin transition, proven against its header), or a GET /checkpoint\n"
    "note.\n"
    "\n"
    "  --public-key HEX     the identity public key (64 hex digits)\n"
    "  --identity-from URL  fetch it from URL/api/identity (trust on first use: warns)\n"
    "  --chain-id HEX       pin the chain id (default: the state's, else the first seen)\n"
    "  --state FILE         keep the newest verified header (and the key and chain id) in\n"
    "                       FILE; a newer or older header must be linked to it by a history\n"
    "                       proof, else \"rollback or fork\"\n"
    "  --history FILE       a saved GET /api/roots/proof answer linking the two headers\n"
    "  --server URL         fetch the linking proof from URL/api/roots/proof\n"
    "  --origin NAME        the checkpoint's origin (default vmdb/<identity address>)\n"
    "  --solana-rpc URL     require the header to be anchored by the identity on Solana:\n"
    "                       an anchor of its seq, or of a later header (fetched with its\n"
    "                       history proof from --server); else \"not anchored yet\"\n"
    "                       (several endpoints, comma-separated: the newest anchor any shows)\n"
    "  --cacert FILE        PEM CA certificate(s) to verify an https:// server with\n"
    "                       (instead of the system's; e.g. a vmdb with its own CA)\n"
    "\n"
    "What the request asked (answers with data.proof; PROTOCOL.md 9 step 5 and 10). An\n"
    "answer proves only what it lists: without these, an answer to another question passes,\n"
    "and the ok line names what was not checked.\n"
    "  --table T            the model the request named (compared folded to lower case)\n"
    "  --ids A,B,...        read-batch, delete-batch: the ids asked for, each returned or\n"
    "                       proven absent (canonical text, PROTOCOL.md 1: 7, not 0007)\n"
    "  --limit N            read-latest: the limit sent (the server caps it at 100); a\n"
    "                       complete answer must prove exactly it, and no answer has more rows\n"
    "  --order asc|desc     read-latest: the order asked for (the server's default is desc);\n"
    "                       a complete answer must prove it\n"
    "  --require-complete   read-latest: refuse an answer without a complete proof\n"
    "\n"
    "Environment: VMDB_API_KEY, a key of the read role sent as a Bearer token with every\n"
    "request to the server (--identity-from, --server) when it has API keys.\n"
    "\n"
    "Exit status: 0 and \"ok: ...\" when everything checks; 1 and the reason otherwise;\n"
    "2 for usage errors.\n";

typedef struct vctx {
    const char *file, *pk_hex, *identity_from, *chain_hex, *state_path, *server, *history, *origin,
        *solana_rpc, *cacert, *api_key, *ids_arg, *limit_arg, *order_arg;
    vmdb_vfy_request req; /* what the request asked (--table ... --require-complete) */
    bool has_req;
    bool usage; /* c->why is a usage error (exit 2) */
    vmdb_hasher *h;
    vmdb_vfy_pins pins;
    bool has_state;
    vmdb_vfy_header saved; /* the state's header */
    char why[VMDB_VFY_WHY];
} vctx;

static int bad(vctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(vctx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, sizeof c->why, fmt, ap);
    va_end(ap);
    return VMDB_EVERIFY;
}

/* ---- HTTP ------------------------------------------------------------------------ */

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    vmdb_buf *b = arg;
    return vmdb_buf_put(b, p, size * n) == 0 ? size * n : 0;
}

/* GET `url` into `out`; *status gets the HTTP status. `cacert`: a PEM
 * file of CAs for https (NULL: the system's). `api_key`: sent as a Bearer
 * token (NULL: none; checked for CR/LF by the caller). 0 or VMDB_EIO. */
static int http_get(const char *cacert, const char *api_key, const char *url, vmdb_buf *out,
                    long *status, char *err, size_t errlen)
{
    char ebuf[CURL_ERROR_SIZE] = "";
    int rc = 0;
    struct curl_slist *hdrs = NULL;
    vmdb_buf authz = VMDB_BUF_INIT;
    if (api_key &&
        (vmdb_sb_printf(&authz, "Authorization: Bearer %s", api_key) != 0 ||
         vmdb_sb_cstr(&authz) != 0 || !(hdrs = curl_slist_append(NULL, (const char *)authz.ptr)))) {
        vmdb_buf_free(&authz);
        snprintf(err, errlen, "out of memory");
        return VMDB_EIO;
    }
    CURL *cu = curl_easy_init();
    out->max = VFY_MAX_FETCH;
    if (!cu) {
        curl_slist_free_all(hdrs);
        vmdb_buf_free(&authz);
        snprintf(err, errlen, "libcurl could not start");
        return VMDB_EIO;
    }
    CURLcode e;
    if ((e = curl_easy_setopt(cu, CURLOPT_URL, url)) ||
        (e = curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, ebuf)) ||
        (e = curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L)) ||
        (e = curl_easy_setopt(cu, CURLOPT_FOLLOWLOCATION, 0L)) ||
        (e = curl_easy_setopt(cu, CURLOPT_USERAGENT, "vmdb-verify")) ||
        (e = curl_easy_setopt(cu, CURLOPT_TIMEOUT_MS, 30000L)) ||
        (e = curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, on_data)) ||
        (e = curl_easy_setopt(cu, CURLOPT_WRITEDATA, out)) ||
        (cacert && (e = curl_easy_setopt(cu, CURLOPT_CAINFO, cacert))) ||
        (hdrs && (e = curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdrs))) ||
        (e = curl_easy_perform(cu)) ||
        (e = curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, status))) {
        snprintf(err, errlen, "GET %s: %s", url, ebuf[0] ? ebuf : curl_easy_strerror(e));
        rc = VMDB_EIO;
    }
    curl_easy_cleanup(cu);
    curl_slist_free_all(hdrs);
    vmdb_buf_free(&authz);
    return rc;
}

/* The envelope's `data`, or the document itself when it has none. */
static const vmdb_json *payload(const vmdb_json *root)
{
    const vmdb_json *d = vmdb_json_get(root, "data");
    const vmdb_json *s = vmdb_json_get(root, "success");
    if (d && s && vmdb_json_typeof(d) == VMDB_JSON_OBJECT && vmdb_json_typeof(s) == VMDB_JSON_TRUE)
        return d;
    return root;
}

static int parse_doc(vmdb_json_doc **doc, const vmdb_buf *b)
{
    vmdb_json_limits lim = {VFY_MAX_INPUT, 0};
    return vmdb_json_parse(doc, VMDB_SLICE(b->ptr, b->len), &lim);
}

/* ---- pins and the state ------------------------------------------------------------ */

static bool hex32(const char *s, uint8_t out[32])
{
    return s && strlen(s) == 64 && vmdb_hex_decode(out, 32, s, 64) == 0;
}

/* A JSON string of 64 hex digits. */
static bool jhex32(const vmdb_json *v, uint8_t out[32])
{
    vmdb_slice s = vmdb_json_string(v);
    return v && vmdb_json_typeof(v) == VMDB_JSON_STRING && s.len == 64 &&
           vmdb_hex_decode(out, 32, (const char *)s.ptr, 64) == 0;
}

static int fetch_identity(vctx *c, uint8_t pk[32])
{
    char url[2048], err[512];
    vmdb_buf body = VMDB_BUF_INIT;
    vmdb_json_doc *doc = NULL;
    long status = 0;
    int rc = 0;
    snprintf(url, sizeof url, "%s/api/identity", c->identity_from);
    if (http_get(c->cacert, c->api_key, url, &body, &status, err, sizeof err) != 0) {
        rc = bad(c, "cannot fetch the identity: %s", err);
        goto done;
    }
    const vmdb_json *d = NULL;
    if (status != 200 || parse_doc(&doc, &body) != 0 || !(d = payload(vmdb_json_doc_root(doc))) ||
        !jhex32(vmdb_json_get(d, "public_key"), pk)) {
        rc = bad(c, "GET %s: HTTP %ld, no public_key", url, status);
        goto done;
    }
    fprintf(stderr,
            "vmdb verify: warning: trusting the public key served by %s on first use "
            "(pin it with --public-key or --state)\n",
            url);
done:
    vmdb_json_doc_free(doc);
    vmdb_buf_free(&body);
    return rc;
}

/* State file: {"chain_id": hex|null, "header": {...}, "public_key": hex,
 * "version": 1}. */
static int load_state(vctx *c, bool *has_pk, uint8_t pk[32])
{
    vmdb_buf b = VMDB_BUF_INIT;
    vmdb_json_doc *doc = NULL;
    int rc = vmdb_file_read(c->state_path, &b, (size_t)1 << 20);
    if (rc == VMDB_ENOTFOUND) {
        rc = 0;
        goto done;
    }
    if (rc) {
        rc = bad(c, "cannot read the state file %s", c->state_path);
        goto done;
    }
    const vmdb_json *r = NULL, *ci = NULL;
    if (parse_doc(&doc, &b) != 0 || !(r = vmdb_json_doc_root(doc)) ||
        vmdb_json_typeof(r) != VMDB_JSON_OBJECT || !jhex32(vmdb_json_get(r, "public_key"), pk) ||
        !(ci = vmdb_json_get(r, "chain_id"))) {
        rc = bad(c, "the state file %s is malformed", c->state_path);
        goto done;
    }
    *has_pk = true;
    if (vmdb_json_typeof(ci) != VMDB_JSON_NULL) {
        if (!jhex32(ci, c->pins.chain_id)) {
            rc = bad(c, "the state file %s is malformed (chain_id)", c->state_path);
            goto done;
        }
        c->pins.has_chain_id = true;
    }
    vmdb_vfy_pins sp = c->pins;
    memcpy(sp.pk, pk, 32);
    if (vmdb_vfy_check_header(c->h, vmdb_json_get(r, "header"), &sp, &c->saved, c->why) != 0) {
        char w[VMDB_VFY_WHY];
        snprintf(w, sizeof w, "%s", c->why);
        rc = bad(c, "the state file's header does not verify: %s", w);
        goto done;
    }
    c->has_state = true;
done:
    vmdb_json_doc_free(doc);
    vmdb_buf_free(&b);
    return rc;
}

static int save_state(vctx *c, const vmdb_vfy_header *hd)
{
    vmdb_buf b = VMDB_BUF_INIT;
    char hex[65];
    int rc = 0;
    vmdb_hex_encode(hex, c->pins.chain_id, 32);
    rc = vmdb_buf_put(&b, "{\"chain_id\":", 12);
    if (rc == 0 && c->pins.has_chain_id) {
        rc = vmdb_buf_putc(&b, '"');
        rc = rc ? rc : vmdb_buf_put(&b, hex, 64);
        rc = rc ? rc : vmdb_buf_putc(&b, '"');
    } else if (rc == 0) {
        rc = vmdb_buf_put(&b, "null", 4);
    }
    rc = rc ? rc : vmdb_buf_put(&b, ",\"header\":", 10);
    rc = rc ? rc : vmdb_header_to_json(&b, c->h, &hd->h, hd->sig);
    vmdb_hex_encode(hex, c->pins.pk, 32);
    rc = rc ? rc : vmdb_buf_put(&b, ",\"public_key\":\"", 15);
    rc = rc ? rc : vmdb_buf_put(&b, hex, 64);
    rc = rc ? rc : vmdb_buf_put(&b, "\",\"version\":1}\n", 15);
    if (rc || vmdb_file_write_atomic(c->state_path, b.ptr, b.len, 0600) != 0)
        rc = bad(c, "cannot write the state file %s", c->state_path);
    vmdb_buf_free(&b);
    return rc;
}

/* ---- linking two headers ----------------------------------------------------------- */

static bool is_history(const vmdb_json *d)
{
    return vmdb_json_get(d, "from") && vmdb_json_get(d, "to") && vmdb_json_get(d, "inclusion");
}

/* Whether the verified proof in `d` links exactly `older` to `newer`. */
static int link_with(vctx *c, const vmdb_json *d, const char *src, const vmdb_vfy_header *older,
                     const vmdb_vfy_header *newer)
{
    vmdb_vfy_header f, t;
    if (!is_history(d))
        return bad(c, "%s is not a history proof", src);
    if (vmdb_vfy_history(c->h, d, &c->pins, &f, &t, c->why) != 0) {
        char w[VMDB_VFY_WHY];
        snprintf(w, sizeof w, "%s", c->why);
        return bad(c, "rollback or fork: %s: %s", src, w);
    }
    if (f.h.seq != older->h.seq || t.h.seq != newer->h.seq)
        return bad(c, "%s links headers %llu and %llu, not %llu and %llu", src,
                   (unsigned long long)f.h.seq, (unsigned long long)t.h.seq,
                   (unsigned long long)older->h.seq, (unsigned long long)newer->h.seq);
    if (memcmp(f.hash, older->hash, 32) != 0 || memcmp(t.hash, newer->hash, 32) != 0)
        return bad(c, "rollback or fork: header %llu is not an ancestor of header %llu (%s)",
                   (unsigned long long)older->h.seq, (unsigned long long)newer->h.seq, src);
    return 0;
}

/* Links `older` to `newer` with --history (when `use_history`), else
 * --server. */
static int link_headers(vctx *c, const vmdb_vfy_header *older, const vmdb_vfy_header *newer,
                        bool use_history)
{
    vmdb_buf b = VMDB_BUF_INIT;
    vmdb_json_doc *doc = NULL;
    char url[2048], err[512], src[2100];
    long status = 0;
    int rc = 0;
    unsigned long long a = older->h.seq, z = newer->h.seq;
    if (use_history && c->history) {
        snprintf(src, sizeof src, "%s", c->history);
        if (vmdb_file_read(c->history, &b, VFY_MAX_INPUT) != 0 || parse_doc(&doc, &b) != 0) {
            rc = bad(c, "cannot read the history proof %s as JSON", c->history);
            goto done;
        }
    } else if (c->server) {
        snprintf(url, sizeof url, "%s/api/roots/proof?from=%llu&to=%llu", c->server, a, z);
        snprintf(src, sizeof src, "%s", url);
        if (http_get(c->cacert, c->api_key, url, &b, &status, err, sizeof err) != 0) {
            rc = bad(c, "cannot link header %llu to header %llu: %s", a, z, err);
            goto done;
        }
        int prc = parse_doc(&doc, &b); /* a failure's envelope names its code */
        if (status != 200 || prc != 0) {
            vmdb_slice code = doc ? vmdb_json_string(vmdb_json_get(vmdb_json_doc_root(doc), "code"))
                                  : VMDB_SLICE("", 0);
            rc = bad(c,
                     "rollback or fork: the server cannot link header %llu to header %llu "
                     "(HTTP %ld %.*s)",
                     a, z, status, (int)(code.len > 40 ? 40 : code.len),
                     code.ptr ? (const char *)code.ptr : "");
            goto done;
        }
    } else {
        rc = bad(c,
                 "rollback or fork: header %llu cannot be linked to the saved header %llu "
                 "without a history proof (give --history FILE or --server URL)",
                 z == c->saved.h.seq ? a : z, c->saved.h.seq == z ? z : a);
        goto done;
    }
    rc = link_with(c, payload(vmdb_json_doc_root(doc)), src, older, newer);
done:
    vmdb_json_doc_free(doc);
    vmdb_buf_free(&b);
    return rc;
}

/* The state against the newest header of the input (`got`; `from` is the
 * older header of a history proof input, or NULL). On success the state
 * holds the newer of the two. *note says what happened. */
static int check_state(vctx *c, const vmdb_vfy_header *got, const vmdb_vfy_header *from, char *note,
                       size_t notelen)
{
    int rc = 0;
    const vmdb_vfy_header *keep = got;
    unsigned long long s = c->has_state ? c->saved.h.seq : 0, n = got->h.seq;
    if (!c->has_state) {
        snprintf(note, notelen, "; state: pinned at seq %llu", n);
    } else if (n == s) {
        if (memcmp(got->hash, c->saved.hash, 32) != 0)
            return bad(c, "rollback or fork: header %llu differs from the saved header %llu", n, s);
        snprintf(note, notelen, "; state: unchanged at seq %llu", s);
    } else if (n > s) {
        if (from && from->h.seq == s && memcmp(from->hash, c->saved.hash, 32) == 0)
            rc = 0; /* the input itself links the saved header */
        else if (from && from->h.seq == s)
            return bad(c, "rollback or fork: header %llu differs from the saved header %llu",
                       (unsigned long long)from->h.seq, s);
        else
            rc = link_headers(c, &c->saved, got, true);
        if (rc)
            return rc;
        snprintf(note, notelen, "; state: moved from seq %llu to %llu", s, n);
    } else {
        /* An older header: the saved one must extend it. */
        if ((rc = link_headers(c, got, &c->saved, true)))
            return rc;
        keep = &c->saved;
        snprintf(note, notelen, "; state: unchanged at seq %llu (this header is older)", s);
    }
    if (!c->pins.has_chain_id && keep->h.version == 2) {
        memcpy(c->pins.chain_id, keep->h.chain_id, 32);
        c->pins.has_chain_id = true;
    }
    return save_state(c, keep);
}

/* ---- anchors on Solana ------------------------------------------------------------ */

static int cmp_anchor(const void *a, const void *b)
{
    const vmdb_sol_anchor_ent *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* GET --server/api/roots/{seq}: the header, verified, into *out. */
static int fetch_header(vctx *c, uint64_t seq, vmdb_vfy_header *out)
{
    vmdb_buf b = VMDB_BUF_INIT;
    vmdb_json_doc *doc = NULL;
    char url[2048], err[512];
    long status = 0;
    int rc = 0;
    snprintf(url, sizeof url, "%s/api/roots/%llu", c->server, (unsigned long long)seq);
    if (http_get(c->cacert, c->api_key, url, &b, &status, err, sizeof err) != 0) {
        rc = bad(c, "cannot fetch the anchored header: %s", err);
        goto done;
    }
    if (status != 200 || parse_doc(&doc, &b) != 0) {
        rc = bad(c,
                 "rollback or fork: GET %s: HTTP %ld: the server does not serve the anchored "
                 "header",
                 url, status);
        goto done;
    }
    if (vmdb_vfy_check_header(c->h, vmdb_json_get(payload(vmdb_json_doc_root(doc)), "header"),
                              &c->pins, out, c->why) != 0) {
        char w[VMDB_VFY_WHY];
        snprintf(w, sizeof w, "%s", c->why);
        rc = bad(c, "GET %s: %s", url, w);
    }
done:
    vmdb_json_doc_free(doc);
    vmdb_buf_free(&b);
    return rc;
}

/* §8.1: the identity anchored `got`, or a later header linked to it.
 * *note says where. */
static int check_anchor(vctx *c, const vmdb_vfy_header *got, char *note, size_t notelen)
{
    vmdb_sol_anchor_ent *v = NULL;
    size_t n = 0;
    char tx[VMDB_SOL_SIG_B58_MAX] = "";
    unsigned long long s = got->h.seq;
    int rc = 0;
    /* Several endpoints (comma-separated): the union of their anchors, so
     * that one of them cannot hide a newer anchor. */
    int lrc = vmdb_sol_anchor_list_multi(c->solana_rpc, &v, &n, c->pins.pk, (size_t)-1, NULL);
    if (lrc == VMDB_EINVAL) {
        rc = bad(c, "--solana-rpc %s is not usable", c->solana_rpc);
        goto done;
    }
    if (lrc != 0) {
        rc = bad(c, "cannot read the anchors from %s (%s)", c->solana_rpc, vmdb_error_last());
        goto done;
    }
    if (n == 0) {
        rc = bad(c, "not anchored yet (the identity has no anchor on Solana)");
        goto done;
    }
    /* The anchor rule: one header per seq. (The order the transactions
     * landed in is no part of it.) */
    qsort(v, n, sizeof *v, cmp_anchor);
    for (size_t i = 1; i < n; i++)
        if (v[i].seq == v[i - 1].seq && memcmp(v[i].header_hash, v[i - 1].header_hash, 32) != 0) {
            rc = bad(c, "fork: two anchors of seq %llu carry different header_hash",
                     (unsigned long long)v[i].seq);
            goto done;
        }
    size_t a = 0;
    while (a < n && v[a].seq < s)
        a++;
    if (a == n) {
        rc = bad(c, "not anchored yet (newest anchor seq %llu)", (unsigned long long)v[n - 1].seq);
        goto done;
    }
    vmdb_sol_sig_b58(tx, v[a].sig);
    if (v[a].seq == s) {
        if (memcmp(v[a].header_hash, got->hash, 32) != 0 ||
            memcmp(v[a].smt_root, got->h.smt_root, 32) != 0) {
            rc = bad(c, "rollback or fork: the anchor of seq %llu (tx %s) carries another header",
                     s, tx);
            goto done;
        }
    } else {
        vmdb_vfy_header anchored;
        unsigned long long as = (unsigned long long)v[a].seq;
        if (!c->server) {
            rc = bad(c,
                     "header %llu is not anchored itself; the anchor of seq %llu covers it only "
                     "with a history proof (give --server URL)",
                     s, as);
            goto done;
        }
        if ((rc = fetch_header(c, v[a].seq, &anchored)))
            goto done;
        if (memcmp(anchored.hash, v[a].header_hash, 32) != 0 ||
            memcmp(anchored.h.smt_root, v[a].smt_root, 32) != 0) {
            rc = bad(c,
                     "rollback or fork: the server's header %llu is not the one anchored "
                     "(tx %s)",
                     as, tx);
            goto done;
        }
        if ((rc = link_headers(c, got, &anchored, false)))
            goto done;
    }
    snprintf(note, notelen, "; anchored at seq %llu (slot %llu, tx %s)",
             (unsigned long long)v[a].seq, (unsigned long long)v[a].slot, tx);
done:
    free(v);
    return rc;
}

static int read_stdin(vmdb_buf *b)
{
    uint8_t chunk[65536];
    size_t n;
    b->max = VFY_MAX_INPUT;
    while ((n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        if (vmdb_buf_put(b, chunk, n) != 0)
            return VMDB_ELIMIT;
    return ferror(stdin) ? VMDB_EIO : 0;
}

/* ---- the command ------------------------------------------------------------------- */

static void short_hex(char out[17], const uint8_t *p)
{
    vmdb_hex_encode(out, p, 8);
}

/* Request options beside an input that answers no request: a usage error
 * (exit 2). */
static int request_misused(vctx *c, const char *what)
{
    c->usage = true;
    snprintf(c->why, sizeof c->why,
             "--table, --ids, --limit, --order and --require-complete apply to an answer with "
             "data.proof; the input is %s",
             what);
    return VMDB_EINVAL;
}

static void add_name(char *list, size_t n, const char *name)
{
    size_t used = strlen(list);
    snprintf(list + used, n - used, "%s%s", used ? ", " : "", name);
}

/* The end of the ok line: what of the request the answer was checked
 * against, and what not (an answer proves only what it lists, §9 step 5). */
static void request_note(const vctx *c, const vmdb_vfy_bundle_result *r, char *out, size_t n)
{
    char done[80] = "", todo[80] = "", give[120] = "";
    const vmdb_vfy_request *q = &c->req;
    bool batch = r->kind == VMDB_VFY_READ_BATCH || r->kind == VMDB_VFY_DELETE;
    bool latest = r->kind == VMDB_VFY_READ_LATEST;
    struct {
        bool applies, given;
        const char *name, *opt;
    } items[] = {
        {true, q->table != NULL, "table", "--table"},
        {batch, q->has_ids, "ids", "--ids"},
        {latest, q->limit != 0, "limit", "--limit"},
        /* The order of an answer that is not complete proves nothing. */
        {latest && r->complete, q->order != VMDB_VFY_ORDER_ANY, "order", "--order"},
        {latest, q->require_complete, "complete", NULL},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        if (!items[i].applies)
            continue;
        if (items[i].given) {
            add_name(done, sizeof done, items[i].name);
        } else if (items[i].opt) {
            add_name(todo, sizeof todo, items[i].name);
            size_t used = strlen(give);
            snprintf(give + used, sizeof give - used, "%s%s", used ? "/" : "", items[i].opt);
        }
    }
    out[0] = 0;
    if (done[0])
        snprintf(out, n, "; request checked: %s", done);
    if (todo[0]) {
        size_t used = strlen(out);
        snprintf(out + used, n - used, "; %s: not checked (give %s)", todo, give);
    }
}

static int run(vctx *c, const vmdb_buf *in, char *line, size_t linelen)
{
    vmdb_json_doc *doc = NULL;
    vmdb_vfy_header got, from;
    const vmdb_vfy_header *pfrom = NULL;
    char note[200] = "", anote[200] = "", hx[17];
    int rc = 0;
    size_t i = 0;
    while (i < in->len &&
           (in->ptr[i] == ' ' || in->ptr[i] == '\n' || in->ptr[i] == '\r' || in->ptr[i] == '\t'))
        i++;
    if (i == in->len)
        return bad(c, "empty input");
    if (in->ptr[i] != '{') {
        /* A checkpoint note. */
        if (c->has_req)
            return request_misused(c, "a checkpoint");
        uint64_t n = 0;
        uint8_t root[32];
        char rh[65];
        if (c->solana_rpc)
            return bad(c, "--solana-rpc needs an answer with a header (a checkpoint holds none)");
        if ((rc = vmdb_vfy_checkpoint(c->h, VMDB_SLICE(in->ptr, in->len), c->origin, &c->pins, &n,
                                      root, c->why)))
            return rc;
        if (c->has_state && c->saved.h.seq >= n)
            return bad(c,
                       "rollback or fork: the checkpoint covers %llu headers but the saved header "
                       "is seq %llu",
                       (unsigned long long)n, (unsigned long long)c->saved.h.seq);
        vmdb_hex_encode(rh, root, 32);
        snprintf(line, linelen, "ok: checkpoint of %llu headers (seq 0..%llu), history root %s%s",
                 (unsigned long long)n, (unsigned long long)(n ? n - 1 : 0), rh,
                 c->state_path ? "; state: unchanged (a checkpoint holds no header)" : "");
        return 0;
    }
    int prc = parse_doc(&doc, in);
    if (prc)
        return bad(c, "input is not strict JSON (%s)", vmdb_error_last());
    const vmdb_json *d = payload(vmdb_json_doc_root(doc));
    const vmdb_json *proof = vmdb_json_get(d, "proof");
    if (proof && vmdb_json_typeof(proof) == VMDB_JSON_OBJECT && vmdb_json_get(d, "record")) {
        vmdb_vfy_transition_result r;
        if (c->has_req) {
            rc = request_misused(c, "a transition record");
            goto done;
        }
        if ((rc = vmdb_vfy_transition(c->h, d, &c->pins, &r, c->why)))
            goto done;
        got = r.header;
        char cnt[64] = "";
        if (r.has_count)
            snprintf(cnt, sizeof cnt, ", %llu changed key%s (%llu listed)",
                     (unsigned long long)r.count, r.count == 1 ? "" : "s",
                     (unsigned long long)r.listed);
        short_hex(hx, got.hash);
        snprintf(line, linelen,
                 "ok: transition record of header %llu (%s)%s, proven against it (hash %s...)",
                 (unsigned long long)got.h.seq, vmdb_header_kind_name(got.h.kind), cnt, hx);
    } else if (proof && vmdb_json_typeof(proof) == VMDB_JSON_OBJECT) {
        vmdb_vfy_bundle_result r;
        char comp[64], req[384]; /* request_note: "; request checked: " + 79 + the rest: 222 */
        if ((rc = vmdb_vfy_bundle(c->h, d, &c->pins, &c->req, &r, c->why)))
            goto done;
        got = r.header;
        if (r.complete)
            snprintf(comp, sizeof comp, "complete (%s, limit %llu)", r.desc ? "desc" : "asc",
                     (unsigned long long)r.limit);
        else
            snprintf(comp, sizeof comp, "not complete");
        request_note(c, &r, req, sizeof req);
        snprintf(line, linelen, "ok: table %s, %zu row%s present, %zu absent, %s, at seq %llu%s",
                 r.table, r.npresent, r.npresent == 1 ? "" : "s", r.nabsent, comp,
                 (unsigned long long)got.h.seq, req);
    } else if (is_history(d)) {
        if (c->has_req) {
            rc = request_misused(c, "a history proof");
            goto done;
        }
        if ((rc = vmdb_vfy_history(c->h, d, &c->pins, &from, &got, c->why)))
            goto done;
        pfrom = &from;
        snprintf(line, linelen, "ok: header %llu extends header %llu",
                 (unsigned long long)got.h.seq, (unsigned long long)from.h.seq);
    } else {
        const vmdb_json *hj = vmdb_json_get(d, "header");
        if (!hj && vmdb_json_get(d, "sig"))
            hj = d; /* a bare header */
        if (!hj) {
            rc = bad(c, "input is none of: an answer with data.proof, a history proof, a signed "
                        "header, a transition record, a checkpoint");
            goto done;
        }
        if (c->has_req) {
            rc = request_misused(c, "a signed header");
            goto done;
        }
        if ((rc = vmdb_vfy_check_header(c->h, hj, &c->pins, &got, c->why)))
            goto done;
        const char *kn = got.h.version == 2 ? vmdb_header_kind_name(got.h.kind) : NULL;
        short_hex(hx, got.hash);
        snprintf(line, linelen, "ok: header %llu%s%s%s (hash %s...) signed by the identity",
                 (unsigned long long)got.h.seq, kn ? " (" : "", kn ? kn : "", kn ? ")" : "", hx);
    }
    if (c->solana_rpc && (rc = check_anchor(c, &got, anote, sizeof anote)))
        goto done;
    if (c->state_path && (rc = check_state(c, &got, pfrom, note, sizeof note)))
        goto done;
    size_t used = strlen(line);
    snprintf(line + used, linelen - used, "%s%s", anote, note);
done:
    vmdb_json_doc_free(doc);
    return rc;
}

/* --limit: a decimal 1..2^32-1, as the server takes it (it answers with at
 * most 100 rows). */
static bool parse_limit(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    size_t n = strlen(s);
    if (n == 0 || n > 10 || s[0] == '0')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX)
        return false;
    *out = v;
    return true;
}

/* The request options into c->req; a usage error prints why and returns
 * VMDB_EINVAL. */
static int parse_request(vctx *c)
{
    vmdb_vfy_request *q = &c->req;
    const char *t = q->table;
    if (t) {
        size_t n = strlen(t), ok = n >= 1 && n <= 63;
        for (size_t i = 0; ok && i < n; i++)
            ok = (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= 'A' && t[i] <= 'Z') ||
                 (t[i] >= '0' && t[i] <= '9') || t[i] == '_';
        if (!ok) {
            fprintf(stderr, "vmdb verify: --table must be a table name (letters, digits and _, "
                            "at most 63)\n");
            return VMDB_EINVAL;
        }
    }
    if (c->limit_arg && !parse_limit(c->limit_arg, &q->limit)) {
        fprintf(stderr, "vmdb verify: --limit must be an integer from 1 to 4294967295\n");
        return VMDB_EINVAL;
    }
    if (c->order_arg) {
        if (!strcmp(c->order_arg, "asc")) {
            q->order = VMDB_VFY_ORDER_ASC;
        } else if (!strcmp(c->order_arg, "desc")) {
            q->order = VMDB_VFY_ORDER_DESC;
        } else {
            fprintf(stderr, "vmdb verify: --order must be asc or desc\n");
            return VMDB_EINVAL;
        }
    }
    if (c->ids_arg) {
        /* Comma-separated, each non-empty (an id holding a comma cannot be
         * given). The slices point into argv. */
        const char *a = c->ids_arg;
        size_t n = 1;
        for (const char *p = a; *p; p++)
            n += *p == ',';
        vmdb_slice *ids = calloc(n, sizeof *ids);
        if (!ids) {
            fprintf(stderr, "vmdb verify: out of memory\n");
            return VMDB_EINVAL;
        }
        for (size_t k = 0; k < n; k++) {
            const char *end = strchr(a, ',');
            size_t len = end ? (size_t)(end - a) : strlen(a);
            if (len == 0) {
                free(ids);
                fprintf(stderr, "vmdb verify: --ids holds an empty id\n");
                return VMDB_EINVAL;
            }
            ids[k] = VMDB_SLICE(a, len);
            a += len + 1;
        }
        q->ids = ids;
        q->nids = n;
        q->has_ids = true;
    }
    if (q->has_ids && (q->limit || q->order != VMDB_VFY_ORDER_ANY || q->require_complete)) {
        fprintf(stderr, "vmdb verify: --ids (read-batch, delete-batch) and --limit, --order, "
                        "--require-complete (read-latest) are for different requests\n");
        free((void *)q->ids);
        q->ids = NULL;
        return VMDB_EINVAL;
    }
    c->has_req =
        q->table || q->has_ids || q->limit || q->order != VMDB_VFY_ORDER_ANY || q->require_complete;
    return 0;
}

int vmdb_cli_verify(int argc, char **argv)
{
    vctx c;
    vmdb_buf in = VMDB_BUF_INIT;
    char line[800] = "";
    int rc = 1;
    memset(&c, 0, sizeof c);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = !strcmp(a, "--public-key")      ? &c.pk_hex
                            : !strcmp(a, "--identity-from") ? &c.identity_from
                            : !strcmp(a, "--chain-id")      ? &c.chain_hex
                            : !strcmp(a, "--state")         ? &c.state_path
                            : !strcmp(a, "--server")        ? &c.server
                            : !strcmp(a, "--history")       ? &c.history
                            : !strcmp(a, "--origin")        ? &c.origin
                            : !strcmp(a, "--solana-rpc")    ? &c.solana_rpc
                            : !strcmp(a, "--cacert")        ? &c.cacert
                            : !strcmp(a, "--table")         ? &c.req.table
                            : !strcmp(a, "--ids")           ? &c.ids_arg
                            : !strcmp(a, "--limit")         ? &c.limit_arg
                            : !strcmp(a, "--order")         ? &c.order_arg
                                                            : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(verify_help, stdout);
            return 0;
        }
        if (!strcmp(a, "--require-complete")) {
            c.req.require_complete = true;
            continue;
        }
        if (slot) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                fprintf(stderr, "vmdb verify: %s needs a value\n%s", a, verify_help);
                return 2;
            }
            *slot = argv[++i];
        } else if (a[0] == '-' && a[1] != 0) {
            fprintf(stderr, "vmdb verify: unknown option '%s'\n%s", a, verify_help);
            return 2;
        } else if (c.file) {
            fprintf(stderr, "vmdb verify: one input only\n%s", verify_help);
            return 2;
        } else {
            c.file = a;
        }
    }
    /* The key travels in the environment, not on the command line (where
     * `ps` shows it); one that could break the header line is refused. */
    c.api_key = getenv("VMDB_API_KEY");
    if (c.api_key && !c.api_key[0])
        c.api_key = NULL;
    if (c.api_key && (strlen(c.api_key) > 256 || strpbrk(c.api_key, "\r\n"))) {
        fprintf(stderr, "vmdb verify: VMDB_API_KEY is not an API key\n");
        return 2;
    }
    if ((c.pk_hex && c.identity_from) || (!c.pk_hex && !c.identity_from && !c.state_path)) {
        fprintf(stderr, "vmdb verify: give --public-key HEX or --identity-from URL\n%s",
                verify_help);
        return 2;
    }
    uint8_t given_pk[32], state_pk[32], given_chain[32];
    bool has_state_pk = false;
    if (c.pk_hex && !hex32(c.pk_hex, given_pk)) {
        fprintf(stderr, "vmdb verify: --public-key must be 64 hex digits\n");
        return 2;
    }
    if (c.chain_hex && !hex32(c.chain_hex, given_chain)) {
        fprintf(stderr, "vmdb verify: --chain-id must be 64 hex digits\n");
        return 2;
    }
    if (c.origin && !vmdb_note_name_valid(VMDB_SLICE(c.origin, strlen(c.origin)))) {
        fprintf(stderr, "vmdb verify: --origin must be printable ASCII without spaces or '+'\n");
        return 2;
    }
    if (parse_request(&c) != 0)
        return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (vmdb_hasher_new(&c.h, 0) != 0) {
        snprintf(c.why, sizeof c.why, "out of memory");
        goto done;
    }
    if (c.state_path && load_state(&c, &has_state_pk, state_pk) != 0)
        goto done;
    if (!c.pk_hex && !c.identity_from && !has_state_pk) {
        fprintf(stderr, "vmdb verify: the state file holds no key yet: give --public-key HEX or "
                        "--identity-from URL\n");
        rc = 2;
        goto done;
    }
    if (c.identity_from && fetch_identity(&c, given_pk) != 0)
        goto done;
    if (c.pk_hex || c.identity_from) {
        if (has_state_pk && memcmp(given_pk, state_pk, 32) != 0) {
            bad(&c, "public key differs from the pinned one (state file %s)", c.state_path);
            goto done;
        }
        memcpy(c.pins.pk, given_pk, 32);
    } else {
        memcpy(c.pins.pk, state_pk, 32);
    }
    if (c.chain_hex) {
        if (c.pins.has_chain_id && memcmp(c.pins.chain_id, given_chain, 32) != 0) {
            bad(&c, "chain_id differs from the pinned one (state file %s)", c.state_path);
            goto done;
        }
        memcpy(c.pins.chain_id, given_chain, 32);
        c.pins.has_chain_id = true;
    }
    int frc = !c.file || !strcmp(c.file, "-") ? read_stdin(&in)
                                              : vmdb_file_read(c.file, &in, VFY_MAX_INPUT);
    if (frc != 0) {
        bad(&c, "cannot read %s (%s)", c.file ? c.file : "stdin", vmdb_error_last());
        goto done;
    }
    if (run(&c, &in, line, sizeof line) == 0) {
        printf("%s\n", line);
        rc = 0;
    } else if (c.usage) {
        rc = 2;
        fprintf(stderr, "vmdb verify: %s\n", c.why);
    }
done:
    if (rc == 1)
        fprintf(stderr, "vmdb verify: %s\n", c.why[0] ? c.why : "failed");
    free((void *)c.req.ids);
    vmdb_buf_free(&in);
    vmdb_hasher_free(c.h);
    curl_global_cleanup();
    return rc;
}

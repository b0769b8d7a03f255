/*
 * Solana JSON-RPC client (see sol_rpc.h). Requests are small JSON texts
 * built here from values that need no escaping (base58, base64, numbers,
 * fixed words); responses are read into a capped buffer by the write
 * callback and parsed with jansson.
 *
 * Why jansson and not vmdb_json: vmdb's parser is made for hashing and
 * rejects any number whose text does not survive a double exactly, and
 * Solana answers carry u64 values that do not (lamport balances above
 * 2^53, rentEpoch = 18446744073709551615), which would fail whole
 * responses. jansson keeps integers exactly as int64. Only a value above
 * 2^63-1 makes it fail (json_error_numeric_overflow); the body is then
 * parsed again with JSON_DECODE_INT_AS_REAL so that such a field elsewhere
 * in the answer does not break the call, and every integer this client
 * reads is accepted only if exact: an int64 >= 0, or a double below 2^53.
 * Duplicate keys are rejected (JSON_REJECT_DUPLICATES).
 *
 * libcurl's error text goes to the log callback only.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "anchor/solana/sol_rpc.h"
#include "core/error.h"
#include "util/sb.h"
#include "vmdb/base58.h"
#include "vmdb/note.h"

#define REQUEST_MAX ((size_t)64 << 10)
/* Keep at most this much response buffer between calls. */
#define RESP_KEEP ((size_t)1 << 20)
#define TWO_POW_53 9007199254740992.0

struct vmdb_sol_rpc {
    CURL *curl;
    struct curl_slist *headers;
    char errbuf[CURL_ERROR_SIZE];
    vmdb_buf req;
    vmdb_buf resp;
    int write_rc; /* why the write callback refused data */
    unsigned long long next_id;
    vmdb_sol_commitment commitment;
    void (*log)(void *log_ctx, const char *line);
    void *log_ctx;
    vmdb_sol_rpc_status last;
};

/* ---- global libcurl initialization (once per process) ---- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- logging ---- */

static void rpc_log(vmdb_sol_rpc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void rpc_log(vmdb_sol_rpc *c, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    int n = snprintf(line, sizeof line, "solana rpc: ");
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One line: no control characters from library or server text. */
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    if (c->log)
        c->log(c->log_ctx, line);
    else
        fprintf(stderr, "%s\n", line);
}

/* Sets the outcome of a failed call and returns `rc`. */
static int fail(vmdb_sol_rpc *c, vmdb_sol_rpc_fail kind, int rc, const char *method,
                const char *what)
{
    c->last.kind = kind;
    rpc_log(c, "%s: %s", method, what);
    return vmdb_error_set(rc, "solana rpc %s: %s", method, what);
}

static int shape(vmdb_sol_rpc *c, const char *method, const char *what)
{
    return fail(c, VMDB_SOL_RPC_MALFORMED, VMDB_EPARSE, method, what);
}

/* ---- client ---- */

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud)
{
    vmdb_sol_rpc *c = ud;
    size_t n = size * nmemb;
    int rc = vmdb_buf_put(&c->resp, p, n);
    if (rc) {
        c->write_rc = rc;
        return 0; /* anything but n aborts the transfer */
    }
    return n;
}

int vmdb_sol_rpc_new(vmdb_sol_rpc **out, const char *url, const vmdb_sol_rpc_opts *opts)
{
    static const vmdb_sol_rpc_opts defaults = {0};
    vmdb_sol_rpc *c = NULL;
    int rc = 0;
    CURLcode e = CURLE_OK;

    *out = NULL;
    if (!opts)
        opts = &defaults;
    if (!url || (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0)) {
        rc = vmdb_error_set(VMDB_EINVAL, "solana rpc: the URL must be http:// or https://");
        goto done;
    }
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        rc = vmdb_error_set(VMDB_EIO, "solana rpc: libcurl initialization failed");
        goto done;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        rc = vmdb_error_set(VMDB_ENOMEM, "out of memory");
        goto done;
    }
    c->log = opts->log;
    c->log_ctx = opts->log_ctx;
    c->commitment = opts->commitment;
    c->req.max = REQUEST_MAX;
    c->resp.max = opts->max_response ? opts->max_response : VMDB_SOL_RPC_DEFAULT_MAX_RESPONSE;
    c->next_id = 1;
    if ((c->curl = curl_easy_init()) == NULL) {
        rc = vmdb_error_set(VMDB_EIO, "solana rpc: curl_easy_init failed");
        goto done;
    }
    struct curl_slist *h = NULL;
    static const char *const hdrs[] = {"Content-Type: application/json", "Accept: application/json",
                                       "Expect:"};
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        struct curl_slist *n = curl_slist_append(h, hdrs[i]);
        if (!n) {
            curl_slist_free_all(h);
            rc = vmdb_error_set(VMDB_ENOMEM, "out of memory");
            goto done;
        }
        h = n;
    }
    c->headers = h;
    long cto = opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 5000;
    long to = opts->timeout_ms > 0 ? opts->timeout_ms : 30000;
    if ((e = curl_easy_setopt(c->curl, CURLOPT_URL, url)) ||
        (e = curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, c->errbuf)) ||
#if LIBCURL_VERSION_NUM >= 0x075500
        (e = curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https")) ||
#else
        (e = curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS,
                              (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS))) ||
#endif
        (e = curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L)) ||
        (e = curl_easy_setopt(c->curl, CURLOPT_FOLLOWLOCATION, 0L)) ||
        (e = curl_easy_setopt(c->curl, CURLOPT_POST, 1L)) ||
        (e = curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers)) ||
        (e = curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "vmdb")) ||
        (e = curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, cto)) ||
        (e = curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, to)) ||
        (e = curl_easy_setopt(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->resp.max)) ||
        (e = curl_easy_setopt(c->curl, CURLOPT_TCP_KEEPALIVE, 1L)) ||
        (e = curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, on_data)) ||
        (e = curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c))) {
        rpc_log(c, "setting up libcurl: %s", curl_easy_strerror(e));
        rc = vmdb_error_set(VMDB_EIO, "solana rpc: libcurl setup failed");
        goto done;
    }
    *out = c;
    c = NULL;
done:
    vmdb_sol_rpc_free(c);
    return rc;
}

void vmdb_sol_rpc_free(vmdb_sol_rpc *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    curl_slist_free_all(c->headers);
    vmdb_buf_free(&c->req);
    vmdb_buf_free(&c->resp);
    free(c);
}

const vmdb_sol_rpc_status *vmdb_sol_rpc_last(const vmdb_sol_rpc *c)
{
    return &c->last;
}

/* ---- request text ---- */

/* "<base58>" */
static int put_b58(vmdb_buf *b, const uint8_t *p, size_t n)
{
    int rc = vmdb_buf_putc(b, '"');
    if (rc == 0)
        rc = vmdb_base58_encode(b, VMDB_SLICE(p, n));
    if (rc == 0)
        rc = vmdb_buf_putc(b, '"');
    return rc;
}

static const char *commitment_name(vmdb_sol_commitment cm, bool history)
{
    switch (cm) {
    case VMDB_SOL_PROCESSED:
        return history ? "confirmed" : "processed";
    case VMDB_SOL_FINALIZED:
        return "finalized";
    case VMDB_SOL_CONFIRMED:
    default:
        return "confirmed";
    }
}

/* Starts a request: `{"jsonrpc":"2.0","id":N,"method":"M","params":[`. */
static int req_begin(vmdb_sol_rpc *c, const char *method)
{
    c->req.len = 0;
    memset(&c->last, 0, sizeof c->last);
    return vmdb_sb_printf(&c->req,
                          "{\"jsonrpc\":\"2.0\",\"id\":%llu,\"method\":\"%s\",\"params\":[",
                          c->next_id, method);
}

/* ---- the call ---- */

/* Parses the body; see the file comment for the retry. */
static json_t *parse_body(vmdb_sol_rpc *c)
{
    json_error_t jerr;
    json_t *root =
        json_loadb((const char *)c->resp.ptr, c->resp.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root && json_error_code(&jerr) == json_error_numeric_overflow)
        root = json_loadb((const char *)c->resp.ptr, c->resp.len,
                          JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
    if (!root)
        rpc_log(c, "response is not JSON: %s (line %d)", jerr.text, jerr.line);
    return root;
}

/* An integer held exactly: an int64, or (after the retry with
 * JSON_DECODE_INT_AS_REAL) an integral double of magnitude below 2^53. */
static bool exact_int(const json_t *v, long long *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d > -TWO_POW_53 && d < TWO_POW_53 && (double)(long long)d == d) {
            *out = (long long)d;
            return true;
        }
    }
    return false;
}

static void copy_message(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (; src && src[n] && n + 1 < cap; n++) {
        unsigned char ch = (unsigned char)src[n];
        dst[n] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    dst[n] = '\0';
}

/*
 * Sends the request (closed here with `]}`), and on a well-formed JSON-RPC
 * success answer returns its `result` (borrowed from *root, which the
 * caller frees with json_decref).
 */
static int rpc_call(vmdb_sol_rpc *c, const char *method, json_t **root, json_t **result)
{
    CURLcode e;
    long status = 0;
    int rc = 0;
    unsigned long long id = c->next_id++;

    *root = NULL;
    *result = NULL;
    if ((rc = vmdb_sb_puts(&c->req, "]}"))) {
        rc = fail(c, VMDB_SOL_RPC_ARG, rc, method, "request too large");
        goto done;
    }
    c->resp.len = 0;
    c->write_rc = 0;
    c->errbuf[0] = '\0';
    if ((e = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, (const char *)c->req.ptr)) ||
        (e = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->req.len))) {
        rc = fail(c, VMDB_SOL_RPC_TRANSPORT, VMDB_EIO, method, "libcurl setup failed");
        goto done;
    }
    e = curl_easy_perform(c->curl);
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    c->last.http_status = status;
    if (e != CURLE_OK) {
        if (e == CURLE_FILESIZE_EXCEEDED ||
            (e == CURLE_WRITE_ERROR && c->write_rc == VMDB_ELIMIT)) {
            rpc_log(c, "%s: response larger than %zu bytes", method, c->resp.max);
            rc = fail(c, VMDB_SOL_RPC_TOO_LARGE, VMDB_ELIMIT, method, "response too large");
        } else if (e == CURLE_WRITE_ERROR && c->write_rc == VMDB_ENOMEM) {
            rc = fail(c, VMDB_SOL_RPC_TRANSPORT, VMDB_ENOMEM, method, "out of memory");
        } else if (e == CURLE_OPERATION_TIMEDOUT) {
            rpc_log(c, "%s: libcurl: %s", method, c->errbuf[0] ? c->errbuf : curl_easy_strerror(e));
            rc = fail(c, VMDB_SOL_RPC_TIMEOUT, VMDB_EIO, method, "timed out");
        } else {
            rpc_log(c, "%s: libcurl: %s", method, c->errbuf[0] ? c->errbuf : curl_easy_strerror(e));
            rc = fail(c, VMDB_SOL_RPC_TRANSPORT, VMDB_EIO, method, "transport failure");
        }
        goto done;
    }
    *root = parse_body(c);
    const json_t *err = json_is_object(*root) ? json_object_get(*root, "error") : NULL;
    if (err && !json_is_null(err)) {
        const json_t *code = json_object_get(err, "code");
        const json_t *msg = json_object_get(err, "message");
        long long code_v = 0;
        if (!json_is_object(err) || !exact_int(code, &code_v)) {
            rc = shape(c, method, "malformed error object");
            goto done;
        }
        c->last.rpc_code = code_v;
        copy_message(c->last.rpc_message, sizeof c->last.rpc_message,
                     json_is_string(msg) ? json_string_value(msg) : NULL);
        c->last.kind = VMDB_SOL_RPC_ERROR;
        rpc_log(c, "%s: RPC error %lld: %s", method, c->last.rpc_code, c->last.rpc_message);
        rc = vmdb_error_set(VMDB_EINVAL, "solana rpc %s: RPC error %lld", method, c->last.rpc_code);
        goto done;
    }
    if (status != 200) {
        rpc_log(c, "%s: HTTP status %ld", method, status);
        rc = fail(c, VMDB_SOL_RPC_HTTP, VMDB_EIO, method, "unexpected HTTP status");
        goto done;
    }
    if (!json_is_object(*root)) {
        rc = shape(c, method, "response is not a JSON-RPC object");
        goto done;
    }
    const json_t *ver = json_object_get(*root, "jsonrpc");
    const json_t *rid = json_object_get(*root, "id");
    long long rid_v = -1;
    if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0") != 0 ||
        !exact_int(rid, &rid_v) || rid_v < 0 || (unsigned long long)rid_v != id) {
        rc = shape(c, method, "response is not the answer to this request");
        goto done;
    }
    if ((*result = json_object_get(*root, "result")) == NULL) {
        rc = shape(c, method, "response without result");
        goto done;
    }
done:
    if (c->resp.cap > RESP_KEEP)
        vmdb_buf_free(&c->resp);
    if (rc) {
        json_decref(*root);
        *root = NULL;
        *result = NULL;
    }
    return rc;
}

/* ---- reading results ---- */

static int get_u64(vmdb_sol_rpc *c, const char *method, uint64_t *out, const json_t *v)
{
    if (json_is_integer(v)) {
        json_int_t x = json_integer_value(v);
        if (x < 0)
            return fail(c, VMDB_SOL_RPC_MALFORMED, VMDB_ERANGE, method, "negative integer");
        *out = (uint64_t)x;
        return 0;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d >= 0 && d < TWO_POW_53) || (double)(uint64_t)d != d)
            return fail(c, VMDB_SOL_RPC_MALFORMED, VMDB_ERANGE, method, "inexact integer");
        *out = (uint64_t)d;
        return 0;
    }
    return shape(c, method, "expected an integer");
}

static int get_u8(vmdb_sol_rpc *c, const char *method, uint8_t *out, const json_t *v)
{
    uint64_t x = 0;
    int rc = get_u64(c, method, &x, v);
    if (rc)
        return rc;
    if (x > 255)
        return shape(c, method, "expected a value 0-255");
    *out = (uint8_t)x;
    return 0;
}

/* A base58 string of exactly n bytes. */
static int get_b58(vmdb_sol_rpc *c, const char *method, uint8_t *out, size_t n, const json_t *v)
{
    if (!json_is_string(v) ||
        vmdb_base58_decode(out, n, json_string_value(v), json_string_length(v)) != 0)
        return shape(c, method, "expected base58 of a key or signature");
    return 0;
}

/* result.value of a response with context. */
static const json_t *value_of(const json_t *result)
{
    return json_is_object(result) ? json_object_get(result, "value") : NULL;
}

static vmdb_sol_tx_state state_of(const json_t *s, const json_t *confirmations)
{
    const char *t = json_is_string(s) ? json_string_value(s) : NULL;
    if (t && strcmp(t, "finalized") == 0)
        return VMDB_SOL_TX_FINALIZED;
    if (t && strcmp(t, "confirmed") == 0)
        return VMDB_SOL_TX_CONFIRMED;
    if (t && strcmp(t, "processed") == 0)
        return VMDB_SOL_TX_PROCESSED;
    /* Older nodes: no confirmationStatus; confirmations null means rooted. */
    if (!t && confirmations)
        return json_is_null(confirmations) ? VMDB_SOL_TX_FINALIZED : VMDB_SOL_TX_PROCESSED;
    return VMDB_SOL_TX_NOT_FOUND;
}

/* ---- methods ---- */

int vmdb_sol_rpc_get_health(vmdb_sol_rpc *c)
{
    static const char m[] = "getHealth";
    json_t *root = NULL, *res;
    int rc;
    if ((rc = req_begin(c, m)) || (rc = rpc_call(c, m, &root, &res)))
        goto done;
    if (!json_is_string(res) || strcmp(json_string_value(res), "ok") != 0)
        rc = shape(c, m, "health is not \"ok\"");
done:
    json_decref(root);
    return rc;
}

int vmdb_sol_rpc_get_latest_blockhash(vmdb_sol_rpc *c, uint8_t blockhash[32],
                                      uint64_t *last_valid_block_height)
{
    static const char m[] = "getLatestBlockhash";
    json_t *root = NULL, *res;
    uint64_t h = 0;
    int rc;
    if ((rc = req_begin(c, m)) ||
        (rc = vmdb_sb_printf(&c->req, "{\"commitment\":\"%s\"}",
                             commitment_name(c->commitment, false))) ||
        (rc = rpc_call(c, m, &root, &res)))
        goto done;
    const json_t *v = value_of(res);
    if (!json_is_object(v)) {
        rc = shape(c, m, "no value");
        goto done;
    }
    if ((rc = get_b58(c, m, blockhash, 32, json_object_get(v, "blockhash"))) ||
        (rc = get_u64(c, m, &h, json_object_get(v, "lastValidBlockHeight"))))
        goto done;
    if (last_valid_block_height)
        *last_valid_block_height = h;
done:
    json_decref(root);
    return rc;
}

/* Methods whose result is one integer (`in_value`: under result.value). */
static int u64_method(vmdb_sol_rpc *c, const char *m, uint64_t *out, bool in_value, json_t **root)
{
    json_t *res;
    int rc = rpc_call(c, m, root, &res);
    if (rc == 0)
        rc = get_u64(c, m, out, in_value ? value_of(res) : res);
    return rc;
}

int vmdb_sol_rpc_get_block_height(vmdb_sol_rpc *c, uint64_t *height)
{
    static const char m[] = "getBlockHeight";
    json_t *root = NULL;
    int rc;
    if ((rc = req_begin(c, m)) || (rc = vmdb_sb_printf(&c->req, "{\"commitment\":\"%s\"}",
                                                       commitment_name(c->commitment, false))))
        goto done;
    rc = u64_method(c, m, height, false, &root);
done:
    json_decref(root);
    return rc;
}

int vmdb_sol_rpc_get_balance(vmdb_sol_rpc *c, uint64_t *lamports, const uint8_t address[32])
{
    static const char m[] = "getBalance";
    json_t *root = NULL;
    int rc;
    if ((rc = req_begin(c, m)) || (rc = put_b58(&c->req, address, 32)) ||
        (rc = vmdb_sb_printf(&c->req, ",{\"commitment\":\"%s\"}",
                             commitment_name(c->commitment, false))))
        goto done;
    rc = u64_method(c, m, lamports, true, &root);
done:
    json_decref(root);
    return rc;
}

int vmdb_sol_rpc_get_min_rent(vmdb_sol_rpc *c, uint64_t *lamports, uint64_t data_len)
{
    static const char m[] = "getMinimumBalanceForRentExemption";
    json_t *root = NULL;
    int rc;
    if ((rc = req_begin(c, m)) ||
        (rc = vmdb_sb_printf(&c->req, "%llu,{\"commitment\":\"%s\"}", (unsigned long long)data_len,
                             commitment_name(c->commitment, false))))
        goto done;
    rc = u64_method(c, m, lamports, false, &root);
done:
    json_decref(root);
    return rc;
}

int vmdb_sol_rpc_request_airdrop(vmdb_sol_rpc *c, uint8_t sig[64], const uint8_t address[32],
                                 uint64_t lamports)
{
    static const char m[] = "requestAirdrop";
    json_t *root = NULL, *res;
    int rc;
    if ((rc = req_begin(c, m)) || (rc = put_b58(&c->req, address, 32)) ||
        (rc = vmdb_sb_printf(&c->req, ",%llu,{\"commitment\":\"%s\"}", (unsigned long long)lamports,
                             commitment_name(c->commitment, false))) ||
        (rc = rpc_call(c, m, &root, &res)))
        goto done;
    rc = get_b58(c, m, sig, 64, res);
done:
    json_decref(root);
    return rc;
}

int vmdb_sol_rpc_send_transaction(vmdb_sol_rpc *c, uint8_t sig[64], vmdb_slice wire,
                                  bool skip_preflight)
{
    static const char m[] = "sendTransaction";
    unsigned char b64[4 * ((VMDB_SOL_PACKET_MAX + 2) / 3) + 1];
    json_t *root = NULL, *res;
    int rc;
    if (wire.len == 0 || wire.len > VMDB_SOL_PACKET_MAX) {
        memset(&c->last, 0, sizeof c->last);
        rc = fail(c, VMDB_SOL_RPC_ARG, VMDB_ELIMIT, m, "transaction size out of range");
        goto done;
    }
    int n = EVP_EncodeBlock(b64, wire.ptr, (int)wire.len);
    if ((rc = req_begin(c, m)) || (rc = vmdb_buf_putc(&c->req, '"')) ||
        (rc = vmdb_buf_put(&c->req, b64, (size_t)n)) ||
        (rc = vmdb_sb_printf(&c->req,
                             "\",{\"encoding\":\"base64\",\"skipPreflight\":%s,"
                             "\"preflightCommitment\":\"%s\"}",
                             skip_preflight ? "true" : "false",
                             commitment_name(c->commitment, false))) ||
        (rc = rpc_call(c, m, &root, &res)))
        goto done;
    rc = get_b58(c, m, sig, 64, res);
done:
    json_decref(root);
    return rc;
}

int vmdb_sol_rpc_get_signature_statuses(vmdb_sol_rpc *c, vmdb_sol_sig_status *out,
                                        const uint8_t (*sigs)[64], size_t n, bool search_history)
{
    static const char m[] = "getSignatureStatuses";
    json_t *root = NULL, *res;
    int rc;
    if (n == 0 || n > VMDB_SOL_RPC_MAX_STATUSES) {
        memset(&c->last, 0, sizeof c->last);
        rc = fail(c, VMDB_SOL_RPC_ARG, VMDB_EINVAL, m, "signature count out of range");
        goto done;
    }
    if ((rc = req_begin(c, m)) || (rc = vmdb_buf_putc(&c->req, '[')))
        goto done;
    for (size_t i = 0; i < n; i++)
        if ((i && (rc = vmdb_buf_putc(&c->req, ','))) || (rc = put_b58(&c->req, sigs[i], 64)))
            goto done;
    if ((rc = vmdb_sb_printf(&c->req, "],{\"searchTransactionHistory\":%s}",
                             search_history ? "true" : "false")) ||
        (rc = rpc_call(c, m, &root, &res)))
        goto done;
    const json_t *v = value_of(res);
    if (!json_is_array(v) || json_array_size(v) != n) {
        rc = shape(c, m, "value is not an array of one status per signature");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *s = json_array_get(v, i);
        memset(&out[i], 0, sizeof out[i]);
        if (json_is_null(s))
            continue;
        if (!json_is_object(s)) {
            rc = shape(c, m, "status is not an object");
            goto done;
        }
        if ((rc = get_u64(c, m, &out[i].slot, json_object_get(s, "slot"))))
            goto done;
        const json_t *err = json_object_get(s, "err");
        out[i].err_null = err == NULL || json_is_null(err);
        out[i].state =
            state_of(json_object_get(s, "confirmationStatus"), json_object_get(s, "confirmations"));
        if (out[i].state == VMDB_SOL_TX_NOT_FOUND) {
            rc = shape(c, m, "status without confirmation level");
            goto done;
        }
    }
done:
    json_decref(root);
    return rc;
}

int vmdb_sol_rpc_get_signatures_for_address(vmdb_sol_rpc *c, vmdb_sol_sig_info *out, size_t *n,
                                            const uint8_t address[32], size_t limit,
                                            const uint8_t *before, const uint8_t *until)
{
    static const char m[] = "getSignaturesForAddress";
    json_t *root = NULL, *res;
    int rc;
    *n = 0;
    if (limit == 0 || limit > VMDB_SOL_RPC_MAX_SIGNATURES) {
        memset(&c->last, 0, sizeof c->last);
        rc = fail(c, VMDB_SOL_RPC_ARG, VMDB_EINVAL, m, "limit out of range");
        goto done;
    }
    if ((rc = req_begin(c, m)) || (rc = put_b58(&c->req, address, 32)) ||
        (rc = vmdb_sb_printf(&c->req, ",{\"limit\":%zu,\"commitment\":\"%s\"", limit,
                             commitment_name(c->commitment, true))))
        goto done;
    if (before &&
        ((rc = vmdb_sb_puts(&c->req, ",\"before\":")) || (rc = put_b58(&c->req, before, 64))))
        goto done;
    if (until &&
        ((rc = vmdb_sb_puts(&c->req, ",\"until\":")) || (rc = put_b58(&c->req, until, 64))))
        goto done;
    if ((rc = vmdb_sb_puts(&c->req, "}")) || (rc = rpc_call(c, m, &root, &res)))
        goto done;
    if (!json_is_array(res) || json_array_size(res) > limit) {
        rc = shape(c, m, "result is not an array of at most limit entries");
        goto done;
    }
    size_t count = json_array_size(res);
    for (size_t i = 0; i < count; i++) {
        const json_t *e = json_array_get(res, i);
        vmdb_sol_sig_info *o = &out[i];
        memset(o, 0, sizeof *o);
        if (!json_is_object(e)) {
            rc = shape(c, m, "entry is not an object");
            goto done;
        }
        if ((rc = get_b58(c, m, o->sig, 64, json_object_get(e, "signature"))) ||
            (rc = get_u64(c, m, &o->slot, json_object_get(e, "slot"))))
            goto done;
        const json_t *err = json_object_get(e, "err");
        o->err_null = err == NULL || json_is_null(err);
        o->state = state_of(json_object_get(e, "confirmationStatus"), NULL);
    }
    *n = count;
done:
    json_decref(root);
    return rc;
}

void vmdb_sol_tx_info_free(vmdb_sol_tx_info *t)
{
    if (!t)
        return;
    for (size_t i = 0; t->ix_owned && i < t->msg.nix; i++) {
        free((void *)t->ix_owned[i].accounts);
        free((void *)t->ix_owned[i].data.ptr);
    }
    free(t->ix_owned);
    free(t->keys_owned);
    free(t->sigs);
    memset(t, 0, sizeof(*t));
}

static int tx_info_ix(vmdb_sol_rpc *c, const char *m, vmdb_sol_ix *ix, const json_t *j)
{
    const json_t *accts = json_object_get(j, "accounts");
    const json_t *data = json_object_get(j, "data");
    uint8_t *a = NULL;
    /* Instruction data is at most one packet. */
    vmdb_buf d = {NULL, 0, 0, VMDB_SOL_PACKET_MAX};
    int rc;
    if (!json_is_object(j) || !json_is_array(accts) || !json_is_string(data)) {
        rc = shape(c, m, "malformed instruction");
        goto done;
    }
    if ((rc = get_u8(c, m, &ix->program_index, json_object_get(j, "programIdIndex"))))
        goto done;
    size_t na = json_array_size(accts);
    if (na > VMDB_SOL_PACKET_MAX) {
        rc = shape(c, m, "too many instruction accounts");
        goto done;
    }
    if (na && (a = malloc(na)) == NULL) {
        rc = fail(c, VMDB_SOL_RPC_MALFORMED, VMDB_ENOMEM, m, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < na; k++)
        if ((rc = get_u8(c, m, &a[k], json_array_get(accts, k))))
            goto done;
    rc = vmdb_base58_decode_buf(&d, json_string_value(data), json_string_length(data));
    if (rc) {
        rc = rc == VMDB_ENOMEM ? fail(c, VMDB_SOL_RPC_MALFORMED, rc, m, "out of memory")
                               : shape(c, m, "instruction data is not base58 of a packet");
        goto done;
    }
    ix->accounts = a;
    ix->naccounts = na;
    ix->data = VMDB_SLICE(d.ptr, d.len); /* owned: vmdb_sol_tx_info_free */
    a = NULL;
    d.ptr = NULL;
done:
    free(a);
    vmdb_buf_free(&d);
    return rc;
}

/* Sends getTransaction for `sig` in `encoding` ("json" or "base64") and
 * gives the answer's root (the caller frees it) and its result.
 * VMDB_ENOTFOUND when the node does not know the transaction. */
static int get_transaction(vmdb_sol_rpc *c, const uint8_t sig[64], const char *encoding,
                           json_t **root, json_t **res)
{
    static const char m[] = "getTransaction";
    int rc = req_begin(c, m);
    rc = rc ? rc : put_b58(&c->req, sig, 64);
    rc = rc ? rc
            : vmdb_sb_printf(&c->req,
                             ",{\"encoding\":\"%s\",\"commitment\":\"%s\","
                             "\"maxSupportedTransactionVersion\":0}",
                             encoding, commitment_name(c->commitment, true));
    rc = rc ? rc : rpc_call(c, m, root, res);
    if (rc == 0 && json_is_null(*res)) {
        c->last.kind = VMDB_SOL_RPC_OK;
        rc = vmdb_error_set(VMDB_ENOTFOUND, "solana rpc getTransaction: not found");
    }
    return rc;
}

int vmdb_sol_rpc_get_transaction(vmdb_sol_rpc *c, vmdb_sol_tx_info *out, const uint8_t sig[64])
{
    static const char m[] = "getTransaction";
    json_t *root = NULL, *res;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = get_transaction(c, sig, "json", &root, &res)))
        goto done;
    const json_t *tx = json_object_get(res, "transaction");
    const json_t *msg = json_object_get(tx, "message");
    const json_t *hdr = json_object_get(msg, "header");
    const json_t *keys = json_object_get(msg, "accountKeys");
    const json_t *sigs = json_object_get(tx, "signatures");
    const json_t *ixs = json_object_get(msg, "instructions");
    const json_t *meta = json_object_get(res, "meta");
    const json_t *ver = json_object_get(res, "version");
    if (!json_is_object(hdr) || !json_is_array(keys) || !json_is_array(sigs) ||
        !json_is_array(ixs)) {
        rc = shape(c, m, "not a transaction in json encoding");
        goto done;
    }
    if ((rc = get_u64(c, m, &out->slot, json_object_get(res, "slot"))))
        goto done;
    long long ver_v = -1;
    out->version = -1;
    if (exact_int(ver, &ver_v) && ver_v >= 0 && ver_v < 128) {
        out->version = (int)ver_v;
    } else if (ver && !(json_is_string(ver) && strcmp(json_string_value(ver), "legacy") == 0)) {
        rc = shape(c, m, "unknown transaction version");
        goto done;
    }
    out->has_meta = json_is_object(meta);
    if (out->has_meta) {
        const json_t *err = json_object_get(meta, "err");
        out->err_null = err == NULL || json_is_null(err);
    }
    if ((rc = get_u8(c, m, &out->msg.num_required_signatures,
                     json_object_get(hdr, "numRequiredSignatures"))) ||
        (rc = get_u8(c, m, &out->msg.num_readonly_signed,
                     json_object_get(hdr, "numReadonlySignedAccounts"))) ||
        (rc = get_u8(c, m, &out->msg.num_readonly_unsigned,
                     json_object_get(hdr, "numReadonlyUnsignedAccounts"))) ||
        (rc = get_b58(c, m, out->blockhash_owned, 32, json_object_get(msg, "recentBlockhash"))))
        goto done;
    out->msg.blockhash = out->blockhash_owned;
    size_t nk = json_array_size(keys), ns = json_array_size(sigs), ni = json_array_size(ixs);
    /* Everything has to have fit one packet. */
    if (nk == 0 || nk > 256 || ns == 0 || ns > nk || ni > VMDB_SOL_PACKET_MAX / 3) {
        rc = shape(c, m, "key, signature or instruction count out of range");
        goto done;
    }
    if ((out->keys_owned = calloc(nk, 32)) == NULL || (out->sigs = calloc(ns, 64)) == NULL ||
        (ni && (out->ix_owned = calloc(ni, sizeof(*out->ix_owned))) == NULL)) {
        rc = fail(c, VMDB_SOL_RPC_MALFORMED, VMDB_ENOMEM, m, "out of memory");
        goto done;
    }
    out->msg.keys = (const uint8_t(*)[32])out->keys_owned;
    out->msg.nkeys = nk;
    out->nsigs = ns;
    out->msg.ix = out->ix_owned;
    out->msg.nix = ni;
    for (size_t i = 0; i < nk; i++)
        if ((rc = get_b58(c, m, out->keys_owned[i], 32, json_array_get(keys, i))))
            goto done;
    for (size_t i = 0; i < ns; i++)
        if ((rc = get_b58(c, m, out->sigs[i], 64, json_array_get(sigs, i))))
            goto done;
    for (size_t i = 0; i < ni; i++)
        if ((rc = tx_info_ix(c, m, &out->ix_owned[i], json_array_get(ixs, i))))
            goto done;
done:
    json_decref(root);
    if (rc)
        vmdb_sol_tx_info_free(out);
    return rc;
}

int vmdb_sol_tx_info_verify(const vmdb_sol_tx_info *t)
{
    vmdb_buf msg = {NULL, 0, 0, VMDB_SOL_PACKET_MAX};
    int rc;
    if (t->version != -1) {
        rc = vmdb_error_set(VMDB_EINVAL, "not a legacy transaction");
        goto done;
    }
    if (t->nsigs == 0 || t->nsigs != t->msg.num_required_signatures) {
        rc = vmdb_error_set(VMDB_EVERIFY, "signature count does not match the header");
        goto done;
    }
    if ((rc = vmdb_sol_msg_encode(&msg, &t->msg)))
        goto done;
    for (size_t i = 0; i < t->nsigs; i++)
        if (crypto_sign_verify_detached(t->sigs[i], msg.ptr, msg.len, t->msg.keys[i]) != 0) {
            rc = vmdb_error_set(VMDB_EVERIFY, "signature %zu does not verify", i);
            goto done;
        }
done:
    vmdb_buf_free(&msg);
    return rc;
}

int vmdb_sol_rpc_get_transaction_wire(vmdb_sol_rpc *c, vmdb_sol_tx_wire *out, const uint8_t sig[64])
{
    static const char m[] = "getTransaction";
    json_t *root = NULL, *res;
    int rc;
    memset(out, 0, sizeof *out);
    if ((rc = req_begin(c, m)) || (rc = put_b58(&c->req, sig, 64)) ||
        (rc = vmdb_sb_printf(&c->req,
                             ",{\"encoding\":\"base64\",\"commitment\":\"%s\","
                             "\"maxSupportedTransactionVersion\":0}",
                             commitment_name(c->commitment, true))) ||
        (rc = rpc_call(c, m, &root, &res)))
        goto done;
    if (json_is_null(res)) {
        c->last.kind = VMDB_SOL_RPC_OK;
        rc = vmdb_error_set(VMDB_ENOTFOUND, "solana rpc getTransaction: not found");
        goto done;
    }
    /* "transaction": ["<base64>", "base64"] */
    const json_t *tx = json_object_get(res, "transaction");
    const json_t *b64 = json_array_get(tx, 0), *enc = json_array_get(tx, 1);
    const json_t *meta = json_object_get(res, "meta");
    if (!json_is_array(tx) || json_array_size(tx) != 2 || !json_is_string(b64) ||
        !json_is_string(enc) || strcmp(json_string_value(enc), "base64") != 0) {
        rc = shape(c, m, "not a transaction in base64 encoding");
        goto done;
    }
    if ((rc = get_u64(c, m, &out->slot, json_object_get(res, "slot"))))
        goto done;
    out->has_meta = json_is_object(meta);
    if (out->has_meta) {
        const json_t *err = json_object_get(meta, "err");
        out->err_null = err == NULL || json_is_null(err);
    }
    size_t n = 0;
    if (vmdb_base64_decode(out->wire, sizeof out->wire, &n, json_string_value(b64),
                           json_string_length(b64)) != 0) {
        rc = shape(c, m, "transaction is not base64 of at most one packet");
        goto done;
    }
    out->len = n;
done:
    json_decref(root);
    return rc;
}

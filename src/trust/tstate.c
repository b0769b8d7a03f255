/*
 * trusted_state.json and its journal (PROTOCOL.md §8.3). The file
 * signature covers a fixed binary digest of the content, not the JSON text,
 * so formatting cannot matter. v2: H("vmdb/v2/trusted-state" 0x00 ||
 * u16 len || committed header || committed sig || has_intent || [u16 len ||
 * intent header || intent sig]) signed under the trusted-state context; the
 * committed header carries its header signature, the intent its intent
 * signature. v1 files (no length prefixes, "vmdb/v1/trusted-state", the
 * digest signed bare) are still read, and written while every header in
 * the state is v1 (a chain not yet upgraded).
 */
#include "trust/tstate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/file.h"
#include "util/log.h"
#include "util/sb.h"
#include "vmdb/json.h"

/* A trusted state file takes about 1.3 KiB; one of 16 KiB or more is
 * refused as malformed. */
#define TSTATE_FILE_MAX 16383u

int vmdb_sheader_sign(vmdb_sheader *sh, vmdb_hasher *h, const vmdb_identity *id,
                      vmdb_sig_context context)
{
    vmdb_header_hash(h, sh->hash, &sh->h);
    return vmdb_header_sign(sh->sig, sh->h.version, context, sh->hash, id->sk);
}

/* A v1 file (§12) holds only v1 headers; any v2 header makes it v2. */
static bool tstate_is_v1(const vmdb_tstate *ts)
{
    return ts->committed.h.version == 1 && (!ts->has_intent || ts->intent.h.version == 1);
}

static void digest(vmdb_hasher *h, uint8_t out[32], const vmdb_tstate *ts, bool v1)
{
    uint8_t ce[VMDB_HEADER_MAX_LEN], ie[VMDB_HEADER_MAX_LEN], cl[2], il[2];
    uint8_t flag = ts->has_intent ? 1 : 0;
    size_t cn = vmdb_header_encode(ce, &ts->committed.h), in = 0;
    vmdb_slice parts[9];
    size_t n = 0;
    /* The labels' sizes include the terminator: the 0x00. v2 puts each
     * header's length before it, as headers of both lengths may appear. */
    cl[0] = (uint8_t)(cn >> 8);
    cl[1] = (uint8_t)cn;
    parts[n++] =
        v1 ? VMDB_SLICE("vmdb/v1/trusted-state", 22) : VMDB_SLICE("vmdb/v2/trusted-state", 22);
    if (!v1)
        parts[n++] = VMDB_SLICE(cl, 2);
    parts[n++] = VMDB_SLICE(ce, cn);
    parts[n++] = VMDB_SLICE(ts->committed.sig, 64);
    parts[n++] = VMDB_SLICE(&flag, 1);
    if (ts->has_intent) {
        in = vmdb_header_encode(ie, &ts->intent.h);
        il[0] = (uint8_t)(in >> 8);
        il[1] = (uint8_t)in;
        if (!v1)
            parts[n++] = VMDB_SLICE(il, 2);
        parts[n++] = VMDB_SLICE(ie, in);
        parts[n++] = VMDB_SLICE(ts->intent.sig, 64);
    }
    vmdb_hash_parts(h, out, parts, n);
}

static int put_sh(vmdb_buf *b, const char *name, const vmdb_sheader *sh)
{
    uint8_t enc[VMDB_HEADER_MAX_LEN];
    char hex[2 * VMDB_HEADER_MAX_LEN + 1], shex[129];
    size_t n = vmdb_header_encode(enc, &sh->h);
    vmdb_hex_encode(hex, enc, n);
    vmdb_hex_encode(shex, sh->sig, 64);
    return vmdb_sb_printf(b, "  \"%s\": {\"seq\": %llu, \"header\": \"%s\", \"sig\": \"%s\"}", name,
                          (unsigned long long)sh->h.seq, hex, shex);
}

static int tstate_format(vmdb_buf *b, const vmdb_tstate *ts, vmdb_hasher *h,
                         const vmdb_identity *id)
{
    uint8_t d[32], fsig[64];
    char fhex[129];
    bool v1 = tstate_is_v1(ts);
    digest(h, d, ts, v1);
    if (vmdb_header_sign(fsig, v1 ? 1 : 2, VMDB_SIG_TRUSTED_STATE, d, id->sk) != 0)
        return VMDB_ECRYPTO;
    vmdb_hex_encode(fhex, fsig, 64);
    int rc = vmdb_sb_printf(b, "{\n  \"version\": %d,\n  \"public_key\": \"%s\",\n", v1 ? 1 : 2,
                            id->pk_hex);
    rc = rc ? rc : put_sh(b, "committed", &ts->committed);
    rc = rc ? rc : vmdb_sb_puts(b, ",\n");
    rc = rc ? rc
            : (ts->has_intent ? put_sh(b, "intent", &ts->intent)
                              : vmdb_sb_puts(b, "  \"intent\": null"));
    rc = rc ? rc : vmdb_sb_printf(b, ",\n  \"file_sig\": \"%s\"\n}\n", fhex);
    return rc;
}

int vmdb_tstate_write(const char *path, const vmdb_tstate *ts, vmdb_hasher *h,
                      const vmdb_identity *id)
{
    vmdb_buf b = VMDB_BUF_INIT;
    int rc = tstate_format(&b, ts, h, id);
    rc = rc ? rc : vmdb_file_write_atomic(path, b.ptr, b.len, 0600);
    vmdb_buf_free(&b);
    return rc;
}

static bool get_hex(const vmdb_json *o, const char *k, uint8_t *out, size_t n)
{
    vmdb_slice s = vmdb_json_string(vmdb_json_get(o, k));
    return s.ptr && s.len == 2 * n && vmdb_hex_decode(out, n, (const char *)s.ptr, s.len) == 0;
}

/* A header of either length, then its signature. */
static bool get_sh(const vmdb_json *o, vmdb_sheader *sh, vmdb_hasher *h)
{
    uint8_t enc[VMDB_HEADER_MAX_LEN];
    vmdb_slice s = vmdb_json_string(vmdb_json_get(o, "header"));
    size_t n = s.len / 2;
    if (vmdb_json_typeof(o) != VMDB_JSON_OBJECT || !s.ptr || s.len % 2 || n > VMDB_HEADER_MAX_LEN ||
        vmdb_hex_decode(enc, n, (const char *)s.ptr, s.len) != 0 ||
        !get_hex(o, "sig", sh->sig, 64) || vmdb_header_decode(&sh->h, VMDB_SLICE(enc, n)) != 0)
        return false;
    vmdb_header_hash(h, sh->hash, &sh->h);
    return true;
}

static int tstate_parse(const uint8_t *raw, size_t n, vmdb_tstate *out, vmdb_hasher *h,
                        const uint8_t pk[32], char *why, size_t whylen)
{
    vmdb_json_doc *doc = NULL;
    int rc = VMDB_EVERIFY;
    vmdb_tstate ts = {0};
    uint8_t fpk[32], fsig[64], d[32];
    if (n == 0 || vmdb_json_parse(&doc, VMDB_SLICE(raw, n), NULL)) {
        snprintf(why, whylen, "trusted state file is not valid JSON");
        goto done;
    }
    const vmdb_json *root = vmdb_json_doc_root(doc);
    const vmdb_json *intent = vmdb_json_get(root, "intent");
    if (!get_hex(root, "public_key", fpk, 32) || !get_hex(root, "file_sig", fsig, 64) ||
        !get_sh(vmdb_json_get(root, "committed"), &ts.committed, h) || !intent ||
        (vmdb_json_typeof(intent) != VMDB_JSON_NULL && !get_sh(intent, &ts.intent, h))) {
        snprintf(why, whylen, "trusted state file is malformed");
        goto done;
    }
    ts.has_intent = vmdb_json_typeof(intent) != VMDB_JSON_NULL;
    /* No version (or 1): a v1 file (PROTOCOL.md §12), which holds v1
     * headers only. */
    const vmdb_json *ver = vmdb_json_get(root, "version");
    double version = ver ? vmdb_json_number(ver) : 1;
    if (ver && (vmdb_json_typeof(ver) != VMDB_JSON_NUMBER || (version != 1 && version != 2))) {
        snprintf(why, whylen, "trusted state file has an unknown version");
        goto done;
    }
    bool v1 = version == 1;
    if (v1 && !tstate_is_v1(&ts)) {
        snprintf(why, whylen, "trusted state file is malformed (a v2 header in a v1 file)");
        goto done;
    }
    if (memcmp(fpk, pk, 32) != 0) {
        snprintf(why, whylen, "trusted state file belongs to another identity key");
        goto done;
    }
    digest(h, d, &ts, v1);
    if (vmdb_header_verify_sig(fsig, (uint8_t)version, VMDB_SIG_TRUSTED_STATE, d, pk) != 0 ||
        vmdb_header_verify_sig(ts.committed.sig, ts.committed.h.version, VMDB_SIG_COMMITTED,
                               ts.committed.hash, pk) != 0 ||
        (ts.has_intent && vmdb_header_verify_sig(ts.intent.sig, ts.intent.h.version,
                                                 VMDB_SIG_INTENT, ts.intent.hash, pk) != 0)) {
        snprintf(why, whylen, "trusted state file signature does not verify");
        goto done;
    }
    *out = ts;
    rc = 0;
done:
    vmdb_json_doc_free(doc);
    return rc;
}

int vmdb_tstate_read(const char *path, vmdb_tstate *out, vmdb_hasher *h, const uint8_t pk[32],
                     char *why, size_t whylen)
{
    vmdb_buf raw = VMDB_BUF_INIT;
    int rc = vmdb_file_read(path, &raw, TSTATE_FILE_MAX);
    if (rc == VMDB_ELIMIT) {
        snprintf(why, whylen, "trusted state file is not valid JSON");
        rc = VMDB_EVERIFY;
    } else if (rc) {
        /* "<path>: <strerror>" */
        snprintf(why, whylen, "%s", vmdb_error_last());
    } else {
        rc = tstate_parse(raw.ptr, raw.len, out, h, pk, why, whylen);
    }
    vmdb_buf_free(&raw);
    return rc;
}

uint64_t vmdb_tstate_rank(const vmdb_tstate *ts)
{
    return ts->has_intent ? ts->intent.h.seq : ts->committed.h.seq;
}

/* ---- the journal ---------------------------------------------------------- */

#define TJ_SLOT 4096u

static const uint8_t tj_zero[2 * TJ_SLOT]; /* two empty slots */

struct vmdb_tjournal {
    int fd;
    char *path;
};

static int full_pwrite(int fd, const uint8_t *p, size_t len, off_t off)
{
    while (len) {
        ssize_t k = pwrite(fd, p, len, off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return VMDB_EIO;
        p += k;
        len -= (size_t)k;
        off += k;
    }
    return 0;
}

int vmdb_tjournal_open(vmdb_tjournal **out, const char *path)
{
    int rc = VMDB_EIO;
    vmdb_tjournal *j = calloc(1, sizeof *j);
    struct stat st;
    *out = NULL;
    if (!j || !(j->path = strdup(path))) {
        rc = VMDB_ENOMEM;
        goto done;
    }
    j->fd = open(path, O_RDWR | O_CLOEXEC);
    if (j->fd >= 0 && fstat(j->fd, &st) == 0 && st.st_size == 2 * TJ_SLOT) {
        *out = j;
        j = NULL;
        rc = 0;
        goto done;
    }
    /* Absent or the wrong size: start with two empty slots. The blocks are
     * written (not a sparse ftruncate) so later overwrites allocate nothing
     * and fdatasync has no metadata to commit. */
    if (j->fd >= 0)
        close(j->fd);
    j->fd = -1;
    if (vmdb_file_write_atomic(path, tj_zero, sizeof tj_zero, 0600) != 0)
        goto done;
    if ((j->fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
        goto done;
    *out = j;
    j = NULL;
    rc = 0;
done:
    if (rc == VMDB_EIO)
        LOG_ERROR("trusted state journal %s: %s", path, strerror(errno));
    vmdb_tjournal_free(j);
    return rc;
}

int vmdb_tjournal_write(vmdb_tjournal *j, const vmdb_tstate *ts, vmdb_hasher *h,
                        const vmdb_identity *id)
{
    vmdb_buf b = VMDB_BUF_INIT;
    int rc = tstate_format(&b, ts, h, id);
    if (rc == 0 && b.len >= TJ_SLOT)
        rc = VMDB_EIO;
    /* The NUL padding is part of the write, so a shorter record never
     * leaves the tail of a longer one behind. */
    rc = rc ? rc : vmdb_buf_reserve(&b, TJ_SLOT - b.len);
    if (rc == 0) {
        memset(b.ptr + b.len, 0, TJ_SLOT - b.len);
        off_t off = (off_t)(vmdb_tstate_rank(ts) & 1u) * TJ_SLOT;
        rc = full_pwrite(j->fd, b.ptr, TJ_SLOT, off);
        if (rc == 0 && fdatasync(j->fd) != 0)
            rc = VMDB_EIO;
        if (rc)
            LOG_ERROR("cannot write %s durably: %s", j->path, strerror(errno));
    }
    vmdb_buf_free(&b);
    return rc;
}

int vmdb_tjournal_reset(vmdb_tjournal *j)
{
    int rc = full_pwrite(j->fd, tj_zero, sizeof tj_zero, 0);
    if (rc == 0 && fdatasync(j->fd) != 0)
        rc = VMDB_EIO;
    if (rc)
        LOG_ERROR("cannot reset %s: %s", j->path, strerror(errno));
    return rc;
}

int vmdb_tjournal_newest(vmdb_tjournal *j, vmdb_tstate *out, bool *found, vmdb_hasher *h,
                         const uint8_t pk[32])
{
    uint8_t raw[2 * TJ_SLOT];
    char why[200];
    *found = false;
    ssize_t n = pread(j->fd, raw, sizeof raw, 0);
    if (n != (ssize_t)sizeof raw)
        return VMDB_EIO;
    for (unsigned s = 0; s < 2; s++) {
        const uint8_t *p = raw + s * TJ_SLOT;
        const uint8_t *nul = memchr(p, 0, TJ_SLOT);
        size_t len = nul ? (size_t)(nul - p) : TJ_SLOT;
        vmdb_tstate ts;
        if (len == 0)
            continue;
        if (tstate_parse(p, len, &ts, h, pk, why, sizeof why) != 0) {
            /* A torn slot after a crash looks like this; the other slot
             * holds the state before it. */
            LOG_WARN("trusted state journal slot %u ignored: %s", s, why);
            continue;
        }
        if (!*found || vmdb_tstate_rank(&ts) > vmdb_tstate_rank(out)) {
            *out = ts;
            *found = true;
        }
    }
    return 0;
}

void vmdb_tjournal_free(vmdb_tjournal *j)
{
    if (!j)
        return;
    if (j->fd >= 0)
        close(j->fd);
    free(j->path);
    free(j);
}

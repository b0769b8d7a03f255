/*
 * C2SP signed notes and tlog checkpoints (PROTOCOL.md §11.2), and the
 * strict base64 they are written in. A note is its text (ending in a
 * newline), a blank line, and signature lines "— <name> <base64>" (U+2014
 * and a space); an Ed25519 line's base64 holds the 4-byte key ID and the
 * 64-byte signature of the text. Verification is strict where the format
 * leaves room (canonical base64, no control characters, decimal sizes
 * without leading zeros), so one checkpoint has one encoding.
 */
#include <string.h>

#include <sodium.h>

#include "core/error.h"
#include "vmdb/note.h"

#define DASH "\xe2\x80\x94 " /* U+2014 and a space: the start of a signature line */
#define MAX_NOTE 65536       /* a checkpoint is far smaller; bounds the work */
#define MAX_SIGS 100         /* as Go's note.Open */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int vmdb_base64_encode(vmdb_buf *out, vmdb_slice in)
{
    char q[4];
    for (size_t i = 0; i < in.len; i += 3) {
        uint32_t v = (uint32_t)in.ptr[i] << 16;
        size_t left = in.len - i;
        if (left > 1)
            v |= (uint32_t)in.ptr[i + 1] << 8;
        if (left > 2)
            v |= in.ptr[i + 2];
        q[0] = b64[v >> 18 & 63];
        q[1] = b64[v >> 12 & 63];
        q[2] = left > 1 ? b64[v >> 6 & 63] : '=';
        q[3] = left > 2 ? b64[v & 63] : '=';
        int rc = vmdb_buf_put(out, q, 4);
        if (rc)
            return rc;
    }
    return 0;
}

static int b64_val(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

int vmdb_base64_decode(uint8_t *out, size_t cap, size_t *outlen, const char *in, size_t n)
{
    size_t len = 0;
    *outlen = 0;
    if (n % 4)
        return vmdb_error_set(VMDB_EPARSE, "base64 length is not a multiple of 4");
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int v[4];
        size_t pad = 0;
        for (int j = 0; j < 4; j++) {
            v[j] = b64_val(in[i + (size_t)j]);
            if (in[i + (size_t)j] == '=' && last && j >= 2) {
                v[j] = 0;
                pad++;
            } else if (v[j] < 0 || pad) {
                return vmdb_error_set(VMDB_EPARSE, "not base64");
            }
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        /* Canonical: the bits that padding leaves over must be zero. */
        if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
            return vmdb_error_set(VMDB_EPARSE, "base64 is not canonical");
        size_t k = 3 - pad;
        if (len + k > cap)
            return vmdb_error_set(VMDB_ELIMIT, "base64 decodes to more than %zu bytes", cap);
        uint8_t b[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
        memcpy(out + len, b, k);
        len += k;
    }
    *outlen = len;
    return 0;
}

bool vmdb_note_name_valid(vmdb_slice name)
{
    if (name.len == 0 || name.len > VMDB_NOTE_MAX_NAME)
        return false;
    for (size_t i = 0; i < name.len; i++)
        if (name.ptr[i] < 0x21 || name.ptr[i] > 0x7e || name.ptr[i] == '+')
            return false;
    return true;
}

void vmdb_note_key_id(vmdb_hasher *h, uint8_t out[4], vmdb_slice name, const uint8_t pk[32])
{
    static const uint8_t sep[2] = {0x0a, 0x01}; /* newline, then the Ed25519 signature type */
    uint8_t d[32];
    vmdb_slice parts[3] = {name, {sep, 2}, {pk, 32}};
    vmdb_hash_parts(h, d, parts, 3);
    memcpy(out, d, 4);
}

int vmdb_checkpoint_text(vmdb_buf *out, vmdb_slice origin, uint64_t n, const uint8_t root[32])
{
    char num[24];
    size_t k = 0;
    if (!vmdb_note_name_valid(origin))
        return vmdb_error_set(VMDB_EINVAL, "invalid checkpoint origin");
    do {
        num[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    for (size_t i = 0; i < k / 2; i++) {
        char t = num[i];
        num[i] = num[k - 1 - i];
        num[k - 1 - i] = t;
    }
    int rc = vmdb_buf_put(out, origin.ptr, origin.len);
    rc = rc ? rc : vmdb_buf_putc(out, '\n');
    rc = rc ? rc : vmdb_buf_put(out, num, k);
    rc = rc ? rc : vmdb_buf_putc(out, '\n');
    rc = rc ? rc : vmdb_base64_encode(out, VMDB_SLICE(root, 32));
    return rc ? rc : vmdb_buf_putc(out, '\n');
}

/* Note text: non-empty, ends in a newline, no blank line, no control
 * character but newlines (the note as a whole must be free of them). */
static bool text_ok(vmdb_slice t)
{
    if (t.len == 0 || t.ptr[t.len - 1] != '\n' || t.ptr[0] == '\n')
        return false;
    for (size_t i = 0; i < t.len; i++) {
        if (t.ptr[i] < 0x20 && t.ptr[i] != '\n')
            return false;
        if (t.ptr[i] == '\n' && i + 1 < t.len && t.ptr[i + 1] == '\n')
            return false;
    }
    return true;
}

int vmdb_note_sign(vmdb_buf *out, vmdb_hasher *h, vmdb_slice text, vmdb_slice name,
                   const uint8_t sk[64])
{
    uint8_t blob[4 + 64];
    if (!text_ok(text) || !vmdb_note_name_valid(name))
        return vmdb_error_set(VMDB_EINVAL, "note text or key name is not valid");
    if (sodium_init() < 0 || crypto_sign_detached(blob + 4, NULL, text.ptr, text.len, sk) != 0)
        return vmdb_error_set(VMDB_ECRYPTO, "libsodium could not sign");
    vmdb_note_key_id(h, blob, name, sk + 32); /* libsodium's sk is seed || pk */
    int rc = vmdb_buf_put(out, text.ptr, text.len);
    rc = rc ? rc : vmdb_buf_putc(out, '\n');
    rc = rc ? rc : vmdb_buf_put(out, DASH, sizeof DASH - 1);
    rc = rc ? rc : vmdb_buf_put(out, name.ptr, name.len);
    rc = rc ? rc : vmdb_buf_putc(out, ' ');
    rc = rc ? rc : vmdb_base64_encode(out, VMDB_SLICE(blob, sizeof blob));
    return rc ? rc : vmdb_buf_putc(out, '\n');
}

int vmdb_note_verify(vmdb_hasher *h, vmdb_slice note, vmdb_slice name, const uint8_t pk[32],
                     vmdb_slice *text)
{
    const uint8_t *p = note.ptr;
    size_t n = note.len, split = 0, nsigs = 0;
    uint8_t want_id[4];
    if (n > MAX_NOTE)
        return vmdb_error_set(VMDB_EPARSE, "note longer than %d bytes", MAX_NOTE);
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 && p[i] != '\n')
            return vmdb_error_set(VMDB_EPARSE, "note holds a control character");
    /* The text ends at the last blank line: "\n\n" searched from the end. */
    for (size_t i = n; i >= 2 && !split; i--)
        if (p[i - 1] == '\n' && p[i - 2] == '\n')
            split = i - 1;
    if (!split || n == split || p[n - 1] != '\n')
        return vmdb_error_set(VMDB_EPARSE, "note has no signature lines");
    *text = VMDB_SLICE(p, split);
    vmdb_note_key_id(h, want_id, name, pk);
    for (size_t at = split + 1; at < n;) {
        const uint8_t *line = p + at, *eol = memchr(line, '\n', n - at);
        size_t len = (size_t)(eol - line);
        at += len + 1;
        if (++nsigs > MAX_SIGS)
            return vmdb_error_set(VMDB_EPARSE, "note has more than %d signatures", MAX_SIGS);
        if (len < sizeof DASH || memcmp(line, DASH, sizeof DASH - 1) != 0)
            return vmdb_error_set(VMDB_EPARSE, "malformed signature line");
        const uint8_t *nm = line + sizeof DASH - 1, *sp = memchr(nm, ' ', len - (sizeof DASH - 1));
        if (!sp)
            return vmdb_error_set(VMDB_EPARSE, "malformed signature line");
        vmdb_slice lname = {nm, (size_t)(sp - nm)};
        const char *b = (const char *)sp + 1;
        size_t blen = (size_t)(line + len - (sp + 1));
        uint8_t blob[4 + 256];
        size_t bl = 0;
        if (lname.len == 0 || memchr(b, ' ', blen) ||
            vmdb_base64_decode(blob, sizeof blob, &bl, b, blen) != 0 || bl < 5)
            return vmdb_error_set(VMDB_EPARSE, "malformed signature line");
        if (lname.len != name.len || memcmp(lname.ptr, name.ptr, name.len) != 0 ||
            memcmp(blob, want_id, 4) != 0)
            continue; /* another key's signature: ignored */
        if (bl != 4 + 64)
            return vmdb_error_set(VMDB_EVERIFY, "signature of the wrong length");
        if (sodium_init() < 0 || crypto_sign_verify_detached(blob + 4, text->ptr, text->len, pk))
            return vmdb_error_set(VMDB_EVERIFY, "note signature invalid");
        return 0;
    }
    return vmdb_error_set(VMDB_ENOTFOUND, "no signature by the pinned key");
}

int vmdb_checkpoint_parse(vmdb_slice text, vmdb_slice *origin, uint64_t *n, uint8_t root[32])
{
    const uint8_t *p = text.ptr, *end = text.ptr + text.len;
    const uint8_t *l1 = memchr(p, '\n', text.len);
    if (!l1)
        return vmdb_error_set(VMDB_EPARSE, "checkpoint has no origin line");
    *origin = VMDB_SLICE(p, (size_t)(l1 - p));
    if (!vmdb_note_name_valid(*origin))
        return vmdb_error_set(VMDB_EPARSE, "checkpoint origin is not valid");
    const uint8_t *s = l1 + 1, *l2 = memchr(s, '\n', (size_t)(end - s));
    size_t sl = l2 ? (size_t)(l2 - s) : 0;
    if (!l2 || sl == 0 || sl > 19 || (s[0] == '0' && sl > 1))
        return vmdb_error_set(VMDB_EPARSE, "checkpoint size is not a decimal number");
    uint64_t v = 0;
    for (size_t i = 0; i < sl; i++) {
        if (s[i] < '0' || s[i] > '9')
            return vmdb_error_set(VMDB_EPARSE, "checkpoint size is not a decimal number");
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    const uint8_t *r = l2 + 1, *l3 = memchr(r, '\n', (size_t)(end - r));
    size_t got = 0;
    if (!l3 || vmdb_base64_decode(root, 32, &got, (const char *)r, (size_t)(l3 - r)) != 0 ||
        got != 32)
        return vmdb_error_set(VMDB_EPARSE, "checkpoint root is not base64 of 32 bytes");
    *n = v;
    return 0;
}

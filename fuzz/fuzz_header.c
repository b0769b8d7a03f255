/*
 * Fuzz target for the small decoders of untrusted bytes in the verifier
 * library: binary headers (PROTOCOL.md §6 and §12), header kind names,
 * C2SP signed notes and checkpoints (§11.2) and their strict base64. The
 * first input byte (mod 6) picks the decoder; the rest is its input:
 *
 *   0  vmdb_header_decode: accepted bytes re-encode to themselves, hash,
 *      and render as JSON whose kind name parses back
 *   1  vmdb_header_kind_parse: an accepted name is the name of its kind
 *   2  vmdb_note_verify under the vectors' key (bit 3 of the first byte:
 *      the origin "example.com/vmdb-test", else vmdb/<base58 of pk>); an
 *      accepted note's text is a prefix, and parses as a checkpoint or not
 *   3  vmdb_checkpoint_parse: an accepted text starts with exactly the
 *      checkpoint vmdb_checkpoint_text builds from the parsed fields
 *   4  vmdb_base64_decode: accepted text re-encodes to itself; and the
 *      input, encoded, decodes back to itself
 *   5  vmdb_note_sign of the input as text: a note it signs verifies and
 *      gives back the text; also vmdb_note_name_valid of the input
 *
 * Errors are only the documented codes. Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmdb/base58.h"
#include "vmdb/header.h"
#include "vmdb/json.h"
#include "vmdb/note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* key.secret_seed of docs/vectors/v2.json: its checkpoints verify here. */
static const char seed_hex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

static struct {
    int ready;
    vmdb_hasher *h;
    uint8_t pk[32], sk[64];
    char origin[VMDB_NOTE_MAX_NAME + 1];
} fx;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_header: property violated: %s (last error: %s)\n", what,
                vmdb_error_last());
        abort();
    }
}

static void setup(void)
{
    uint8_t seed[32];
    vmdb_buf a = VMDB_BUF_INIT;
    check(vmdb_hasher_new(&fx.h, 0) == 0, "vmdb_hasher_new");
    check(vmdb_hex_decode(seed, 32, seed_hex, 64) == 0, "seed hex");
    check(vmdb_ed25519_from_seed(fx.pk, fx.sk, seed) == 0, "key pair");
    check(vmdb_base58_encode(&a, VMDB_SLICE(fx.pk, 32)) == 0, "base58");
    snprintf(fx.origin, sizeof fx.origin, "vmdb/%.*s", (int)a.len, (const char *)a.ptr);
    vmdb_buf_free(&a);
    fx.ready = 1;
}

static void header(const uint8_t *in, size_t n)
{
    vmdb_header hd;
    uint8_t enc[VMDB_HEADER_MAX_LEN], hash[32];
    int rc = vmdb_header_decode(&hd, VMDB_SLICE(in, n));
    if (rc != 0) {
        check(rc == VMDB_EPARSE, "vmdb_header_decode: undocumented error code");
        return;
    }
    check(hd.version == 1 || hd.version == 2, "decoded version");
    check(hd.version == 2 || hd.kind == 0, "a v1 header with a kind");
    size_t len = vmdb_header_encode(enc, &hd);
    check(len == n && memcmp(enc, in, n) == 0, "decode/encode is not the identity");
    vmdb_header_hash(fx.h, hash, &hd);

    /* §6.3: seq and time_ms stay below 2^53, as JSON numbers must; the
     * JSON form of a header beyond that is not required to parse. */
    if (hd.seq >= (uint64_t)1 << 53 || hd.time_ms >= (uint64_t)1 << 53)
        return;
    vmdb_buf j = VMDB_BUF_INIT;
    vmdb_json_doc *doc = NULL;
    check(vmdb_header_to_json(&j, fx.h, &hd, NULL) == 0, "vmdb_header_to_json");
    check(vmdb_json_parse(&doc, VMDB_SLICE(j.ptr, j.len), NULL) == 0, "header JSON does not parse");
    const vmdb_json *r = vmdb_json_doc_root(doc);
    check(vmdb_json_number(vmdb_json_get(r, "version")) == hd.version, "header JSON version");
    if (hd.version == 2) {
        uint8_t kind = 0xff;
        check(vmdb_header_kind_parse(&kind, vmdb_json_string(vmdb_json_get(r, "kind"))) == 0 &&
                  kind == hd.kind,
              "header JSON kind");
    }
    vmdb_json_doc_free(doc);
    vmdb_buf_free(&j);
}

static void kind(const uint8_t *in, size_t n)
{
    uint8_t k = 0xff;
    int rc = vmdb_header_kind_parse(&k, VMDB_SLICE(in, n));
    if (rc != 0) {
        check(rc == VMDB_EPARSE, "vmdb_header_kind_parse: undocumented error code");
        return;
    }
    const char *name = vmdb_header_kind_name(k);
    check(k < VMDB_KIND_COUNT && name && strlen(name) == n && memcmp(name, in, n) == 0,
          "kind name round trip");
}

/* An accepted checkpoint text starts with the canonical checkpoint. */
static void checkpoint(vmdb_slice text)
{
    vmdb_slice origin;
    uint64_t size = 0;
    uint8_t root[32];
    int rc = vmdb_checkpoint_parse(text, &origin, &size, root);
    if (rc != 0) {
        check(rc == VMDB_EPARSE, "vmdb_checkpoint_parse: undocumented error code");
        return;
    }
    check(origin.ptr == text.ptr && origin.len < text.len, "checkpoint origin outside its text");
    vmdb_buf want = VMDB_BUF_INIT;
    check(vmdb_checkpoint_text(&want, origin, size, root) == 0, "vmdb_checkpoint_text");
    check(want.len <= text.len && memcmp(want.ptr, text.ptr, want.len) == 0,
          "checkpoint text is not canonical");
    vmdb_buf_free(&want);
}

static void note(uint8_t sel, const uint8_t *in, size_t n)
{
    const char *name = sel & 8 ? "example.com/vmdb-test" : fx.origin;
    vmdb_slice text;
    int rc =
        vmdb_note_verify(fx.h, VMDB_SLICE(in, n), VMDB_SLICE(name, strlen(name)), fx.pk, &text);
    if (rc != 0) {
        check(rc == VMDB_EPARSE || rc == VMDB_ENOTFOUND || rc == VMDB_EVERIFY,
              "vmdb_note_verify: undocumented error code");
        return;
    }
    check(text.ptr == in && text.len < n && in[text.len] == '\n', "note text is not a prefix");
    checkpoint(text);
}

static void base64(const uint8_t *in, size_t n)
{
    size_t cap = n / 4 * 3, len = 0;
    uint8_t *out = malloc(cap + 1);
    vmdb_buf b = VMDB_BUF_INIT;
    check(out != NULL, "out of memory");
    int rc = vmdb_base64_decode(out, cap, &len, (const char *)in, n);
    if (rc == 0) {
        check(vmdb_base64_encode(&b, VMDB_SLICE(out, len)) == 0, "vmdb_base64_encode");
        check(b.len == n && (n == 0 || memcmp(b.ptr, in, n) == 0),
              "base64 decode/encode is not the identity");
    } else {
        check(rc == VMDB_EPARSE, "vmdb_base64_decode: undocumented error code");
    }
    /* The other way round, and a cap one byte short must be refused. */
    b.len = 0;
    check(vmdb_base64_encode(&b, VMDB_SLICE(in, n)) == 0, "vmdb_base64_encode");
    free(out);
    out = malloc(n + 1);
    check(out != NULL, "out of memory");
    check(vmdb_base64_decode(out, n, &len, (const char *)b.ptr, b.len) == 0 && len == n &&
              memcmp(out, in, n) == 0,
          "base64 encode/decode is not the identity");
    if (n > 0)
        check(vmdb_base64_decode(out, n - 1, &len, (const char *)b.ptr, b.len) == VMDB_ELIMIT,
              "base64 decode past its cap");
    free(out);
    vmdb_buf_free(&b);
}

static void sign(const uint8_t *in, size_t n)
{
    vmdb_buf b = VMDB_BUF_INIT;
    vmdb_slice name = VMDB_SLICE(fx.origin, strlen(fx.origin)), text;
    (void)vmdb_note_name_valid(VMDB_SLICE(in, n));
    int rc = vmdb_note_sign(&b, fx.h, VMDB_SLICE(in, n), name, fx.sk);
    if (rc != 0) {
        check(rc == VMDB_EINVAL, "vmdb_note_sign: undocumented error code");
        vmdb_buf_free(&b);
        return;
    }
    check(vmdb_note_verify(fx.h, VMDB_SLICE(b.ptr, b.len), name, fx.pk, &text) == 0,
          "a signed note does not verify");
    check(text.len == n && memcmp(text.ptr, in, n) == 0, "a signed note's text changed");
    vmdb_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fx.ready)
        setup();
    if (size < 1)
        return 0;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    switch (data[0] % 6) {
    case 0:
        header(in, n);
        break;
    case 1:
        kind(in, n);
        break;
    case 2:
        note(data[0], in, n);
        break;
    case 3:
        checkpoint(VMDB_SLICE(in, n));
        break;
    case 4:
        base64(in, n);
        break;
    default:
        sign(in, n);
        break;
    }
    return 0;
}

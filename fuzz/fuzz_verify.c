/*
 * Fuzz target for the checks of `vmdb verify` (src/cli/verify_bundle.h),
 * which a third party runs on answers, history proofs, headers and
 * checkpoints it got from a server it does not trust (PROTOCOL.md §6, §9,
 * §10, §11). The first input byte picks the check and what is pinned; the
 * rest is the input, JSON (strictly parsed, as the CLI parses it) or a
 * checkpoint note:
 *
 *   bits 0-1  0 answer bundle, 1 history proof, 2 header, 3 checkpoint
 *   bits 2-3  pinned chain id: none, the vectors' chain, the upgraded
 *             chain's, the other key's chain
 *   bit  4    the other key of docs/vectors/v2.json as the identity key
 *   bit  5    checkpoint origin "example.com/vmdb-test" (else the default)
 *
 * The committed corpus holds the real inputs of docs/vectors/v2.json
 * (fuzz/seed-corpus.mjs), so mutations start past the signature checks.
 * Properties: only the documented codes come back; a failure writes a
 * reason (non-empty, terminated inside the buffer); whatever is accepted
 * holds up when checked again through the library (the header's hash and
 * signature, a history proof's seq order, a checkpoint's note signature
 * and text). Any violation abort()s.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/verify_bundle.h"
#include "vmdb/base58.h"
#include "vmdb/json.h"
#include "vmdb/note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* key.public_key and other_key.public_key of docs/vectors/v2.json. */
static const char *const pk_hex[2] = {
    "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8",
    "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7",
};
/* The chain ids there: the key's, the upgraded chain's, the other key's. */
static const char *const chain_hex[3] = {
    "cb9445317e3848e1864854336f8fafbed6a2fc51bb7969c53776d92aa536a24a",
    "4c9887eab5e2262593cd20d28d2e0337c0a2b327daa7e32e43a6dcdacf384b7c",
    "58d20a8e4be2a1e4a67400b590efa14bff868f9d0fa58dd685931783b706ccdd",
};

static const vmdb_json_limits limits = {(size_t)1 << 20, 0};

static struct {
    int ready;
    vmdb_hasher *h;
    uint8_t pk[2][32];
    uint8_t chain[3][32];
} fx;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_verify: property violated: %s (last error: %s)\n", what,
                vmdb_error_last());
        abort();
    }
}

static void setup(void)
{
    check(vmdb_hasher_new(&fx.h, 0) == 0, "vmdb_hasher_new");
    for (int i = 0; i < 2; i++)
        check(vmdb_hex_decode(fx.pk[i], 32, pk_hex[i], 64) == 0, "public key hex");
    for (int i = 0; i < 3; i++)
        check(vmdb_hex_decode(fx.chain[i], 32, chain_hex[i], 64) == 0, "chain id hex");
    fx.ready = 1;
}

/* The result code is documented and a failure says why. */
static void check_outcome(int rc, const char why[VMDB_VFY_WHY], const char *what)
{
    if (rc == 0)
        return;
    if (rc != VMDB_EPARSE && rc != VMDB_EVERIFY && rc != VMDB_ENOMEM) {
        fprintf(stderr, "fuzz_verify: %s returned %d\n", what, rc);
        abort();
    }
    check(memchr(why, 0, VMDB_VFY_WHY) != NULL, "reason not terminated");
    check(why[0] != 0, "failure without a reason");
}

/* An accepted header is what the library accepts too. */
static void check_header(const vmdb_vfy_header *hd, const vmdb_vfy_pins *pins)
{
    uint8_t hash[32], enc[VMDB_HEADER_MAX_LEN];
    vmdb_header back;
    check(hd->h.version == 1 || hd->h.version == 2, "accepted header version");
    vmdb_header_hash(fx.h, hash, &hd->h);
    check(memcmp(hash, hd->hash, 32) == 0, "accepted header's hash");
    check(vmdb_sheader_verify(hd, fx.h, pins->pk) == 0, "accepted header's signature");
    if (hd->h.version == 2 && pins->has_chain_id)
        check(memcmp(hd->h.chain_id, pins->chain_id, 32) == 0, "accepted header off the pin");
    size_t n = vmdb_header_encode(enc, &hd->h);
    check(vmdb_header_decode(&back, VMDB_SLICE(enc, n)) == 0 &&
              memcmp(&back, &hd->h, sizeof back) == 0,
          "accepted header does not round-trip");
}

static void run_json(unsigned check_kind, const vmdb_vfy_pins *pins, const uint8_t *in, size_t n)
{
    vmdb_json_doc *doc = NULL;
    char why[VMDB_VFY_WHY];
    int rc = 0;

    if (vmdb_json_parse(&doc, VMDB_SLICE(in, n), &limits) != 0)
        return;
    const vmdb_json *root = vmdb_json_doc_root(doc);
    memset(why, 0x5a, sizeof why);
    if (check_kind == 0) {
        vmdb_vfy_bundle_result r;
        rc = vmdb_vfy_bundle(fx.h, root, pins, NULL, &r, why);
        check_outcome(rc, why, "vmdb_vfy_bundle");
        if (rc == 0) {
            check_header(&r.header, pins);
            check(r.header.h.version == 2, "a bundle with a v1 header");
            check(memchr(r.table, 0, sizeof r.table) != NULL && r.table[0] != 0,
                  "bundle table name");
        }
    } else if (check_kind == 1) {
        vmdb_vfy_header from, to;
        rc = vmdb_vfy_history(fx.h, root, pins, &from, &to, why);
        check_outcome(rc, why, "vmdb_vfy_history");
        if (rc == 0) {
            check_header(&from, pins);
            check_header(&to, pins);
            check(from.h.seq <= to.h.seq && from.h.version <= to.h.version,
                  "history proof out of order");
            check(from.h.seq != to.h.seq || memcmp(from.hash, to.hash, 32) == 0,
                  "two headers with one seq");
        }
    } else {
        vmdb_vfy_header hd;
        rc = vmdb_vfy_check_header(fx.h, root, pins, &hd, why);
        check_outcome(rc, why, "vmdb_vfy_check_header");
        if (rc == 0)
            check_header(&hd, pins);
    }
    vmdb_json_doc_free(doc);
}

static void run_checkpoint(const char *origin, const vmdb_vfy_pins *pins, const uint8_t *in,
                           size_t n)
{
    char why[VMDB_VFY_WHY];
    uint64_t size = 0;
    uint8_t root[32];
    memset(why, 0x5a, sizeof why);
    int rc = vmdb_vfy_checkpoint(fx.h, VMDB_SLICE(in, n), origin, pins, &size, root, why);
    check_outcome(rc, why, "vmdb_vfy_checkpoint");
    if (rc != 0)
        return;
    /* Accepted: the note verifies under the origin's name, and its text
     * starts with exactly the checkpoint that came out. */
    char def[VMDB_NOTE_MAX_NAME + 1];
    if (!origin) {
        vmdb_buf a = VMDB_BUF_INIT;
        check(vmdb_base58_encode(&a, VMDB_SLICE(pins->pk, 32)) == 0, "base58");
        snprintf(def, sizeof def, "vmdb/%.*s", (int)a.len, (const char *)a.ptr);
        vmdb_buf_free(&a);
        origin = def;
    }
    vmdb_slice name = VMDB_SLICE(origin, strlen(origin)), text;
    check(vmdb_note_verify(fx.h, VMDB_SLICE(in, n), name, pins->pk, &text) == 0,
          "accepted checkpoint's note does not verify");
    vmdb_buf want = VMDB_BUF_INIT;
    check(vmdb_checkpoint_text(&want, name, size, root) == 0, "vmdb_checkpoint_text");
    check(want.len <= text.len && memcmp(want.ptr, text.ptr, want.len) == 0,
          "accepted checkpoint's text is not its origin, size and root");
    vmdb_buf_free(&want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fx.ready)
        setup();
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    unsigned pin = sel >> 2 & 3;
    vmdb_vfy_pins pins;
    memset(&pins, 0, sizeof pins);
    memcpy(pins.pk, fx.pk[sel >> 4 & 1], 32);
    if (pin) {
        memcpy(pins.chain_id, fx.chain[pin - 1], 32);
        pins.has_chain_id = true;
    }
    if ((sel & 3) == 3)
        run_checkpoint(sel & 0x20 ? "example.com/vmdb-test" : NULL, &pins, data + 1, size - 1);
    else
        run_json(sel & 3, &pins, data + 1, size - 1);
    return 0;
}

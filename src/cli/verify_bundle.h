/*
 * The checks of `vmdb verify`, apart from the command line so that tests
 * call them directly: signed headers (PROTOCOL.md §6), proof bundles of
 * answers (§9) with complete read-latest (§10), history proofs between two
 * headers (§11.1) and checkpoint notes (§11.2). Every check is done with
 * the verifier library (include/vmdb/verify.h) on JSON parsed by its strict
 * parser (duplicate keys, numbers that do not round-trip and malformed
 * hex are errors). A failing check returns VMDB_EVERIFY (or VMDB_EPARSE for
 * input of the wrong shape) and writes one precise reason into `why`.
 * Nothing here does I/O.
 */
#ifndef VMDB_CLI_VERIFY_BUNDLE_H
#define VMDB_CLI_VERIFY_BUNDLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmdb/verify.h"

#define VMDB_VFY_WHY 320 /* size of a reason buffer */

/* What the verifier trusts: the identity public key and, once pinned, the
 * chain id. */
typedef struct vmdb_vfy_pins {
    uint8_t pk[32];
    bool has_chain_id;
    uint8_t chain_id[32];
} vmdb_vfy_pins;

/* A header as a verifier holds it: the fields, their hash and the header
 * signature. */
typedef vmdb_sheader vmdb_vfy_header;

/* Parses the JSON form of a header (§6.3; a v1 header by §12's rules),
 * recomputes header_hash (a mismatch with the given one is an error),
 * checks the header (committed) signature with pins->pk and a v2 header's
 * chain id against pins (when pinned). 0, VMDB_EPARSE, VMDB_EVERIFY. */
int vmdb_vfy_check_header(vmdb_hasher *h, const vmdb_json *j, const vmdb_vfy_pins *pins,
                          vmdb_vfy_header *out, char why[VMDB_VFY_WHY]);

/* The route an answer is from, as its members show it (§9): delete-batch
 * has no `records`, read-latest has `complete`, read-batch `missing`;
 * create-batch and upsert answers look alike. */
typedef enum vmdb_vfy_kind {
    VMDB_VFY_WRITE, /* create-batch, upsert */
    VMDB_VFY_READ_BATCH,
    VMDB_VFY_READ_LATEST,
    VMDB_VFY_DELETE,
} vmdb_vfy_kind;

typedef enum vmdb_vfy_order {
    VMDB_VFY_ORDER_ANY,
    VMDB_VFY_ORDER_ASC,
    VMDB_VFY_ORDER_DESC
} vmdb_vfy_order;

#define VMDB_VFY_LATEST_MAX 100 /* the server caps read-latest's limit at this */

/* What the client asked: the checks of an answer that depend on the
 * request (§9 step 5, §10), which the answer alone cannot show. A member
 * left zero (NULL, false) is not checked. */
typedef struct vmdb_vfy_request {
    const char *table;     /* the model the request named (folded to lower case) */
    const vmdb_slice *ids; /* read-batch, delete-batch: every id answered, as text */
    size_t nids;           /* ... (has_ids with nids 0: none asked) */
    bool has_ids;          /* ... */
    uint64_t limit;        /* read-latest: as sent, 0 none; compared capped at 100 */
    vmdb_vfy_order order;  /* read-latest */
    bool require_complete; /* read-latest: a §10 proof is required */
} vmdb_vfy_request;

/* What a bundle proved. */
typedef struct vmdb_vfy_bundle_result {
    vmdb_vfy_header header;
    char table[64];
    size_t npresent, nabsent;
    vmdb_vfy_kind kind;
    bool complete;  /* §10: no row was left out */
    bool desc;      /* complete: the order */
    uint64_t limit; /* complete: the limit */
} vmdb_vfy_bundle_result;

/* Verifies an answer's `data` (with `data.proof`, §9 and §10) and, when
 * `req` is not NULL, that it answers that request (a request member that
 * does not fit the answer's kind, such as ids beside a read-latest, fails). */
int vmdb_vfy_bundle(vmdb_hasher *h, const vmdb_json *data, const vmdb_vfy_pins *pins,
                    const vmdb_vfy_request *req, vmdb_vfy_bundle_result *out,
                    char why[VMDB_VFY_WHY]);

/* Verifies a history proof (§11.1: {from, to, inclusion, consistency}):
 * both headers, then that `to` extends `from`. */
int vmdb_vfy_history(vmdb_hasher *h, const vmdb_json *proof, const vmdb_vfy_pins *pins,
                     vmdb_vfy_header *from, vmdb_vfy_header *to, char why[VMDB_VFY_WHY]);

/* What a transition answer proved (§14.2). */
typedef struct vmdb_vfy_transition_result {
    vmdb_vfy_header header;
    bool has_count; /* a repair's: how many keys it changed, how many are listed */
    uint64_t count, listed;
} vmdb_vfy_transition_result;

/* Verifies the `data` of GET /api/roots/{seq}/transition (§14.2): the
 * header, that the record is of its kind and seq, and the single-key proof
 * of the record's leaf (JCS of the record as given) against its smt_root. */
int vmdb_vfy_transition(vmdb_hasher *h, const vmdb_json *data, const vmdb_vfy_pins *pins,
                        vmdb_vfy_transition_result *out, char why[VMDB_VFY_WHY]);

/* Verifies a checkpoint note (§11.2) signed by pins->pk under `origin`
 * (NULL: the default vmdb/<base58 of pk>). *n and root get the tree. */
int vmdb_vfy_checkpoint(vmdb_hasher *h, vmdb_slice note, const char *origin,
                        const vmdb_vfy_pins *pins, uint64_t *n, uint8_t root[32],
                        char why[VMDB_VFY_WHY]);

#endif

/*
 * A Solana JSON-RPC client over HTTP(S) with libcurl: the dozen methods
 * the anchor needs (blockhash, send, statuses, history by address, fetch a
 * transaction, balances, airdrops on test clusters, health, rent).
 *
 * One client owns one libcurl easy handle, reused for every request (so
 * the connection is kept alive), with a connect timeout, a total timeout
 * and a hard cap on the response size. A client is NOT thread-safe: use one
 * per thread, or serialize calls on it.
 *
 * Errors are codes. libcurl's text and anything else a library says goes to
 * the client's log callback (one short line), never to the caller; the
 * caller gets a vmdb_err and vmdb_sol_rpc_last() for the kind of failure,
 * the HTTP status and, when the server answered with a JSON-RPC error
 * object, its code and a sanitized, truncated copy of its message:
 *   VMDB_EIO     transport failure, timeout, or an HTTP status other than
 *                200 without a JSON-RPC error in the body
 *   VMDB_ELIMIT  the response exceeded the cap
 *   VMDB_EPARSE  the body is not JSON, or not the shape the method returns
 *   VMDB_ERANGE  a number the caller asked for is not an exact integer
 *   VMDB_EINVAL  the server answered with a JSON-RPC error (rpc_code), or
 *                a bad argument
 *   VMDB_ENOTFOUND  getTransaction: the cluster does not know the signature
 *   VMDB_ENOMEM
 */
#ifndef VMDB_ANCHOR_SOLANA_SOL_RPC_H
#define VMDB_ANCHOR_SOLANA_SOL_RPC_H

#include "anchor/solana/sol_tx.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VMDB_SOL_RPC_DEFAULT_MAX_RESPONSE ((size_t)8 << 20)
#define VMDB_SOL_RPC_MAX_STATUSES 256    /* getSignatureStatuses per call */
#define VMDB_SOL_RPC_MAX_SIGNATURES 1000 /* getSignaturesForAddress limit */

typedef enum vmdb_sol_commitment {
    VMDB_SOL_CONFIRMED = 0, /* the default */
    VMDB_SOL_PROCESSED,
    VMDB_SOL_FINALIZED,
} vmdb_sol_commitment;

typedef struct vmdb_sol_rpc_opts {
    long connect_timeout_ms; /* 0: 5000 */
    long timeout_ms;         /* whole request; 0: 30000 */
    size_t max_response;     /* 0: VMDB_SOL_RPC_DEFAULT_MAX_RESPONSE */
    /* Commitment of every request that takes one. getSignaturesForAddress
     * and getTransaction do not accept "processed": they use "confirmed"
     * then. */
    vmdb_sol_commitment commitment;
    /* Where diagnostic lines go (NULL: stderr). Called on the calling
     * thread, with a NUL-terminated line without newline. */
    void (*log)(void *log_ctx, const char *line);
    void *log_ctx;
} vmdb_sol_rpc_opts;

typedef enum vmdb_sol_rpc_fail {
    VMDB_SOL_RPC_OK = 0,
    VMDB_SOL_RPC_TRANSPORT, /* could not connect, connection broken, TLS */
    VMDB_SOL_RPC_TIMEOUT,
    VMDB_SOL_RPC_HTTP,      /* HTTP status other than 200 */
    VMDB_SOL_RPC_TOO_LARGE, /* response above max_response */
    VMDB_SOL_RPC_MALFORMED, /* not JSON-RPC, or not the expected shape */
    VMDB_SOL_RPC_ERROR,     /* a JSON-RPC error object: rpc_code, rpc_message */
    VMDB_SOL_RPC_ARG,       /* a bad argument; nothing was sent */
} vmdb_sol_rpc_fail;

/* The outcome of the last call on a client. */
typedef struct vmdb_sol_rpc_status {
    vmdb_sol_rpc_fail kind;
    long http_status;      /* 0 when no response arrived */
    long long rpc_code;    /* JSON-RPC error code when kind is ERROR */
    char rpc_message[160]; /* printable ASCII, truncated; "" if none */
} vmdb_sol_rpc_status;

typedef struct vmdb_sol_rpc vmdb_sol_rpc;

/* A client for the endpoint `url` (http:// or https://; the URL is never
 * logged, it may carry an API key). `opts` may be NULL. Errors:
 * VMDB_EINVAL (bad URL scheme), VMDB_ENOMEM, VMDB_EIO (libcurl failed). */
int vmdb_sol_rpc_new(vmdb_sol_rpc **out, const char *url, const vmdb_sol_rpc_opts *opts);
/* Accepts NULL. */
void vmdb_sol_rpc_free(vmdb_sol_rpc *c);
/* The outcome of the last call (valid until the next call on `c`). */
const vmdb_sol_rpc_status *vmdb_sol_rpc_last(const vmdb_sol_rpc *c);

/* getHealth: 0 when the node says "ok"; VMDB_EINVAL with the RPC error
 * (-32005 "node is behind") otherwise. */
int vmdb_sol_rpc_get_health(vmdb_sol_rpc *c);
/* getLatestBlockhash. `last_valid_block_height` may be NULL. */
int vmdb_sol_rpc_get_latest_blockhash(vmdb_sol_rpc *c, uint8_t blockhash[32],
                                      uint64_t *last_valid_block_height);
/* getBlockHeight. */
int vmdb_sol_rpc_get_block_height(vmdb_sol_rpc *c, uint64_t *height);
/* getBalance, in lamports. */
int vmdb_sol_rpc_get_balance(vmdb_sol_rpc *c, uint64_t *lamports, const uint8_t address[32]);
/* getMinimumBalanceForRentExemption for an account of `data_len` bytes. */
int vmdb_sol_rpc_get_min_rent(vmdb_sol_rpc *c, uint64_t *lamports, uint64_t data_len);
/* requestAirdrop (test clusters): the airdrop transaction's signature. */
int vmdb_sol_rpc_request_airdrop(vmdb_sol_rpc *c, uint8_t sig[64], const uint8_t address[32],
                                 uint64_t lamports);

/* sendTransaction of wire bytes (sent base64). On success `sig` is the
 * signature the node returned (the transaction's first signature). A
 * rejection (preflight failure, blockhash not found, ...) is VMDB_EINVAL
 * with vmdb_sol_rpc_last()->rpc_code and rpc_message. */
int vmdb_sol_rpc_send_transaction(vmdb_sol_rpc *c, uint8_t sig[64], vmdb_slice wire,
                                  bool skip_preflight);

typedef enum vmdb_sol_tx_state {
    VMDB_SOL_TX_NOT_FOUND = 0,
    VMDB_SOL_TX_PROCESSED,
    VMDB_SOL_TX_CONFIRMED,
    VMDB_SOL_TX_FINALIZED,
} vmdb_sol_tx_state;

typedef struct vmdb_sol_sig_status {
    vmdb_sol_tx_state state;
    bool err_null; /* the transaction succeeded (meaningful when found) */
    uint64_t slot;
} vmdb_sol_sig_status;

/* getSignatureStatuses of n <= VMDB_SOL_RPC_MAX_STATUSES signatures; out[i]
 * answers sigs[i]. `search_history` asks the node to look beyond its
 * recent status cache. */
int vmdb_sol_rpc_get_signature_statuses(vmdb_sol_rpc *c, vmdb_sol_sig_status *out,
                                        const uint8_t (*sigs)[64], size_t n, bool search_history);

typedef struct vmdb_sol_sig_info {
    uint8_t sig[64];
    uint64_t slot;
    bool err_null;
    vmdb_sol_tx_state state; /* confirmationStatus (NOT_FOUND if absent) */
} vmdb_sol_sig_info;

/* getSignaturesForAddress, newest first: at most `limit` (1..1000) entries
 * into out[0..limit), their count in *n. `before` and `until` (64 bytes
 * each) may be NULL. */
int vmdb_sol_rpc_get_signatures_for_address(vmdb_sol_rpc *c, vmdb_sol_sig_info *out, size_t *n,
                                            const uint8_t address[32], size_t limit,
                                            const uint8_t *before, const uint8_t *until);

/* A transaction as getTransaction (encoding "json") reports it. `msg`
 * points into the arrays owned here (vmdb_sol_tx_info_free). Account keys
 * are the static keys of the message (a v0 transaction's looked-up keys
 * are not included). */
typedef struct vmdb_sol_tx_info {
    uint64_t slot;
    int version; /* -1: legacy, else the version number */
    bool has_meta;
    bool err_null; /* meta.err is null (false if there is no meta) */
    size_t nsigs;
    uint8_t (*sigs)[64];
    vmdb_sol_msg msg; /* header counts, keys, blockhash, instructions */
    /* owned storage behind msg */
    uint8_t (*keys_owned)[32];
    uint8_t blockhash_owned[32];
    vmdb_sol_ix *ix_owned;
} vmdb_sol_tx_info;

/* getTransaction. VMDB_ENOTFOUND when the result is null. Instruction data
 * is base58-decoded (at most VMDB_SOL_PACKET_MAX bytes each). */
int vmdb_sol_rpc_get_transaction(vmdb_sol_rpc *c, vmdb_sol_tx_info *out, const uint8_t sig[64]);
/* Releases the arrays and empties *t. Accepts NULL. */
void vmdb_sol_tx_info_free(vmdb_sol_tx_info *t);
/* Checks a legacy transaction as reported: re-serializes its message (the
 * legacy encoding is canonical, so these are the signed bytes if the node
 * reported the transaction faithfully) and verifies every signature
 * against its key. 0, VMDB_EVERIFY (a signature fails, or the counts do not
 * match), VMDB_EINVAL (not a legacy transaction), VMDB_EPARSE (not a valid
 * message), VMDB_ENOMEM. */
int vmdb_sol_tx_info_verify(const vmdb_sol_tx_info *t);

/* A transaction as getTransaction (encoding "base64") reports it: the wire
 * bytes exactly as signed, to be parsed with vmdb_sol_tx_parse. */
typedef struct vmdb_sol_tx_wire {
    uint64_t slot;
    bool has_meta;
    bool err_null; /* meta.err is null (false if there is no meta) */
    size_t len;
    uint8_t wire[VMDB_SOL_PACKET_MAX];
} vmdb_sol_tx_wire;

/* getTransaction with encoding "base64". VMDB_ENOTFOUND when the result is
 * null; VMDB_EPARSE when it is not a base64 transaction of at most one
 * packet. */
int vmdb_sol_rpc_get_transaction_wire(vmdb_sol_rpc *c, vmdb_sol_tx_wire *out,
                                      const uint8_t sig[64]);

#ifdef __cplusplus
}
#endif
#endif

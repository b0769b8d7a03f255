/*
 * Solana legacy transactions, as much of them as vmdb's anchor needs: the
 * compact-u16 length prefix, legacy messages (header, account keys, recent
 * blockhash, compiled instructions), Ed25519 signing with libsodium, the
 * wire format and a strict parser of it for untrusted bytes, the SPL Memo
 * (v2) instruction that carries an anchored header as the UTF-8 text
 * `vmdb1:<seq>:<header_hash hex>:<smt_root hex>`, and the Solana CLI
 * keypair file (a JSON array of the 64 bytes seed || public key, which is
 * also libsodium's secret key form).
 *
 * Everything here is pure computation: no I/O except reading a keypair
 * file, no global state, safe to call from any thread.
 */
#ifndef VMDB_ANCHOR_SOLANA_SOL_TX_H
#define VMDB_ANCHOR_SOLANA_SOL_TX_H

#include "vmdb/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The largest transaction the network accepts (IPv6 MTU minus headers). */
#define VMDB_SOL_PACKET_MAX 1232
/* Base58 text sizes including the NUL: a 32-byte key, a 64-byte signature. */
#define VMDB_SOL_KEY_B58_MAX 45
#define VMDB_SOL_SIG_B58_MAX 89
/* Longest vmdb1 memo text: "vmdb1:" + 20 digits + ":" + 64 + ":" + 64. */
#define VMDB_SOL_MEMO_TEXT_MAX 156

#define VMDB_SOL_MEMO_PROGRAM_B58 "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"
/* The SPL Memo v2 program id (the bytes of VMDB_SOL_MEMO_PROGRAM_B58). */
extern const uint8_t vmdb_sol_memo_program_id[32];

/* --- compact-u16 ("short vec" length) --------------------------------- */

/* Appends the 1-3 byte encoding of v (v <= 0xffff, else VMDB_EINVAL).
 * 0, VMDB_EINVAL, VMDB_ENOMEM or VMDB_ELIMIT. */
int vmdb_sol_cu16_encode(vmdb_buf *out, uint32_t v);
/* Decodes one compact-u16 from the start of p[0..len): the value and the
 * bytes used. Only the canonical (shortest) form is accepted. VMDB_EPARSE on
 * truncation, a non-canonical form or a value above 0xffff. */
int vmdb_sol_cu16_decode(uint16_t *v, size_t *used, const uint8_t *p, size_t len);

/* --- messages ---------------------------------------------------------- */

/* A compiled instruction. Pointers are borrowed (from a parsed transaction
 * or from the caller). */
typedef struct vmdb_sol_ix {
    uint8_t program_index; /* index into the account keys */
    size_t naccounts;
    const uint8_t *accounts; /* naccounts account indices */
    vmdb_slice data;
} vmdb_sol_ix;

/* A legacy message. The account keys are ordered as Solana's compiler
 * orders them: writable signers (the fee payer first), readonly signers,
 * writable non-signers, readonly non-signers; the header counts say where
 * the groups end. */
typedef struct vmdb_sol_msg {
    uint8_t num_required_signatures;
    uint8_t num_readonly_signed;
    uint8_t num_readonly_unsigned;
    size_t nkeys;
    const uint8_t (*keys)[32];
    const uint8_t *blockhash; /* 32 bytes */
    size_t nix;
    const vmdb_sol_ix *ix;
} vmdb_sol_msg;

/* Checks what the Solana runtime's sanitizer checks of a legacy message: at
 * least one signer, header counts within the key list, a writable fee
 * payer, no duplicate keys, every index within the key list, no program at
 * index 0, at most 256 keys. 0 or VMDB_EPARSE. */
int vmdb_sol_msg_check(const vmdb_sol_msg *m);
/* Appends the serialized message. VMDB_EPARSE if vmdb_sol_msg_check fails,
 * VMDB_ENOMEM, VMDB_ELIMIT. */
int vmdb_sol_msg_encode(vmdb_buf *out, const vmdb_sol_msg *m);

/* Appends the message of a transaction with one SPL Memo instruction whose
 * data is `memo`, paid by `fee_payer`, with recent blockhash `blockhash`.
 * `memo_signer` (32 bytes or NULL) is the account the memo instruction
 * lists, which the Memo program requires to be a signer: NULL lists none;
 * the fee payer's key lists the fee payer (one signer); any other key is
 * added as a readonly signer (two signers: fee payer, then it). Keys:
 * fee payer, [memo signer], memo program. Errors: VMDB_EINVAL (memo signer
 * is the memo program, or memo text too long for a packet), VMDB_ENOMEM,
 * VMDB_ELIMIT. */
int vmdb_sol_memo_message(vmdb_buf *out, const uint8_t fee_payer[32], const uint8_t *memo_signer,
                          const uint8_t blockhash[32], vmdb_slice memo);

/* --- transactions ------------------------------------------------------ */

/* Signs a serialized legacy message and appends the wire transaction
 * (compact count of signatures, the signatures, the message). Each of the
 * message's num_required_signatures first keys must be the public half of
 * exactly one of the `nsk` 64-byte secret keys (libsodium form: seed ||
 * public key; the public half is checked against the seed). Errors:
 * VMDB_EPARSE (not a valid message), VMDB_EINVAL (a signer without a key,
 * a key that signs nothing, a key whose halves disagree), VMDB_ELIMIT
 * (transaction larger than VMDB_SOL_PACKET_MAX or out->max), VMDB_ENOMEM,
 * VMDB_ECRYPTO. On error out->len is restored. */
int vmdb_sol_tx_sign(vmdb_buf *out, vmdb_slice message, const uint8_t (*sks)[64], size_t nsk);

/* A parsed wire transaction. Every pointer borrows the input bytes except
 * the instruction array, which vmdb_sol_tx_free releases. */
typedef struct vmdb_sol_tx {
    size_t nsigs;
    const uint8_t (*sigs)[64];
    vmdb_slice message; /* the signed bytes */
    vmdb_sol_msg msg;
    vmdb_sol_ix *ix_owned;
} vmdb_sol_tx;

/* Parses untrusted wire bytes. Strict: at most VMDB_SOL_PACKET_MAX bytes
 * (VMDB_ELIMIT), canonical compact-u16 everywhere, legacy messages only
 * (a versioned prefix is VMDB_EPARSE), as many signatures as the header
 * requires, vmdb_sol_msg_check passes, no trailing bytes. Signatures are not
 * verified (vmdb_sol_tx_verify). On error *tx is empty (free is still
 * allowed). Errors: VMDB_EPARSE, VMDB_ELIMIT, VMDB_ENOMEM. */
int vmdb_sol_tx_parse(vmdb_sol_tx *tx, vmdb_slice wire);
/* Releases what vmdb_sol_tx_parse allocated and empties *tx. Accepts NULL. */
void vmdb_sol_tx_free(vmdb_sol_tx *tx);
/* 0 if signature i verifies for key i over the message, for every i;
 * VMDB_EVERIFY otherwise. */
int vmdb_sol_tx_verify(const vmdb_sol_tx *tx);
/* The transaction's signature (its id): the first signature of the wire
 * bytes. VMDB_EPARSE if there is none. Does not parse the rest. */
int vmdb_sol_tx_signature(uint8_t sig[64], vmdb_slice wire);

/* The memo instruction of `m` that `identity` signed: one whose program is
 * the Memo program and which lists an account holding `identity` among the
 * message's signers. *memo borrows its data. 0 (the first such
 * instruction) or VMDB_ENOTFOUND. */
int vmdb_sol_msg_find_memo(vmdb_slice *memo, const vmdb_sol_msg *m, const uint8_t identity[32]);

/* Base58 text (NUL-terminated) of a key or a signature. 0 or VMDB_EINVAL. */
int vmdb_sol_key_b58(char out[VMDB_SOL_KEY_B58_MAX], const uint8_t key[32]);
int vmdb_sol_sig_b58(char out[VMDB_SOL_SIG_B58_MAX], const uint8_t sig[64]);

/* --- the vmdb1 memo text ----------------------------------------------- */

/* Appends `vmdb1:<seq>:<header_hash hex>:<smt_root hex>` (decimal seq,
 * lower-case hex). 0, VMDB_ENOMEM or VMDB_ELIMIT. */
int vmdb_sol_memo_text(vmdb_buf *out, uint64_t seq, const uint8_t header_hash[32],
                       const uint8_t smt_root[32]);
/* Parses exactly that form: seq in decimal without leading zeros (a lone
 * "0" is allowed) within uint64, 64 lower-case hex digits twice, nothing
 * else. 0 or VMDB_EPARSE. */
int vmdb_sol_memo_parse(uint64_t *seq, uint8_t header_hash[32], uint8_t smt_root[32],
                        vmdb_slice text);

/* --- keypairs ---------------------------------------------------------- */

/* Parses the Solana CLI keypair JSON: an array of exactly 64 integers 0-255
 * (decimal, no leading zeros, JSON whitespace allowed), the seed then the
 * public key. The public key must be the seed's (VMDB_EVERIFY otherwise).
 * `sk` receives the 64 bytes (libsodium's secret key form). Temporary
 * copies are wiped. Errors: VMDB_EPARSE, VMDB_EVERIFY, VMDB_ECRYPTO. */
int vmdb_sol_keypair_parse(uint8_t sk[64], vmdb_slice json);
/* Reads and parses a keypair file (at most 4 KiB). VMDB_EIO, VMDB_ELIMIT,
 * or the errors of vmdb_sol_keypair_parse. */
int vmdb_sol_keypair_read(uint8_t sk[64], const char *path);
/* Appends the keypair JSON of `sk` as the Solana CLI writes it
 * ("[n,n,...]"). 0, VMDB_ENOMEM or VMDB_ELIMIT. */
int vmdb_sol_keypair_json(vmdb_buf *out, const uint8_t sk[64]);

#ifdef __cplusplus
}
#endif
#endif

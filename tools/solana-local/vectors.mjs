#!/usr/bin/env node
// Test vectors for vmdb's Solana anchoring: wire transactions built and
// signed by @solana/kit's own builders (legacy messages, one SPL Memo v2
// instruction).
//
//   node vectors.mjs            print the vectors as JSON
//   node vectors.mjs --write    write them to docs/vectors/solana.json
//   node vectors.mjs --check    exit 1 unless docs/vectors/solana.json matches
//
// Also a module: buildMemoTransaction() is what the harness tests send with
// a live blockhash, so the shapes in the vectors are the shapes that land.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  AccountRole,
  address,
  appendTransactionMessageInstruction,
  createKeyPairSignerFromPrivateKeyBytes,
  createTransactionMessage,
  getBase58Decoder,
  getBase64EncodedWireTransaction,
  getCompiledTransactionMessageDecoder,
  getTransactionEncoder,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
} from '@solana/kit';

export const MEMO_PROGRAM_ADDRESS = address('MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr');

export const IDENTITY_SEED = Uint8Array.from({ length: 32 }, (_, i) => i); // 0x00..0x1f
export const PAYER_SEED = Uint8Array.from({ length: 32 }, (_, i) => 0x20 + i); // 0x20..0x3f
export const VECTOR_BLOCKHASH_BYTES = new Uint8Array(32).fill(0x42);
export const FULL_MEMO = `vmdb1:12345:${'ab'.repeat(32)}:${'cd'.repeat(32)}`;

// 176 bytes: 1 + 64 (signature) + 3 (header) + 1 + 2*32 (keys) + 32 (blockhash)
// + 1 + 1 + 1 + 1 + 7 (the instruction). Also rebuilt by hand with node:crypto
// in test/harness.test.mjs.
export const EXPECTED_VECTOR_1 =
  'AduzuTMcXNMK4hCgQsp/+C8/k74S+0WTEVE/ECeYW8fx0NT8RRdJrp4iiieXSar739I57feZkKfkGnExwz5y+AsBAAECA6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbgFSlNamSkhBk0k6HFg2jh8fDW13bySu4HkH6hAQQVEjUJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCAQEAB3ZtZGI6aGk=';

const hex = (b) => Buffer.from(b).toString('hex');

/**
 * A legacy transaction with one Memo v2 instruction.
 *   identity: KeyPairSigner; payer: KeyPairSigner (fee payer; may be identity)
 *   identityAsSigner: list the identity as a (read-only) signer account of
 *   the memo instruction — the Memo program then logs "Signed by <identity>".
 * Returns the signed kit Transaction.
 */
export async function buildMemoTransaction({ identity, payer, blockhash, memo, identityAsSigner }) {
  const instruction = {
    programAddress: MEMO_PROGRAM_ADDRESS,
    accounts: identityAsSigner
      ? [{ address: identity.address, role: AccountRole.READONLY_SIGNER, signer: identity }]
      : [],
    data: new TextEncoder().encode(memo),
  };
  const message = pipe(
    createTransactionMessage({ version: 'legacy' }),
    (m) => setTransactionMessageFeePayerSigner(payer ?? identity, m),
    (m) => setTransactionMessageLifetimeUsingBlockhash({ blockhash, lastValidBlockHeight: 0n }, m),
    (m) => appendTransactionMessageInstruction(instruction, m),
  );
  return signTransactionMessageWithSigners(message);
}

// The compiled message as kit decodes it (header in the RPC's field names).
function compiledLayout(messageBytes) {
  const m = getCompiledTransactionMessageDecoder().decode(messageBytes);
  return {
    header: {
      numRequiredSignatures: m.header.numSignerAccounts,
      numReadonlySignedAccounts: m.header.numReadonlySignerAccounts,
      numReadonlyUnsignedAccounts: m.header.numReadonlyNonSignerAccounts,
    },
    accountKeys: m.staticAccounts,
    instructions: m.instructions.map((ix) => ({
      programIdIndex: ix.programAddressIndex,
      accounts: ix.accountIndices ?? [],
      dataLength: ix.data?.length ?? 0,
    })),
  };
}

export async function vectors() {
  const identity = await createKeyPairSignerFromPrivateKeyBytes(IDENTITY_SEED);
  const payer = await createKeyPairSignerFromPrivateKeyBytes(PAYER_SEED);
  const blockhash = getBase58Decoder().decode(VECTOR_BLOCKHASH_BYTES);
  const cases = [
    {
      name: 'memo_short_identity_pays',
      description: 'fee payer = identity; one Memo v2 instruction with no accounts; memo "vmdb:hi"',
      payer: null,
      memo: 'vmdb:hi',
      identityAsSigner: false,
    },
    {
      name: 'memo_full_identity_pays_and_signs_memo',
      description:
        'fee payer = identity; Memo v2 instruction lists the identity as a signer account; full vmdb1 memo (141 bytes: two-byte compact-u16 data length)',
      payer: null,
      memo: FULL_MEMO,
      identityAsSigner: true,
    },
    {
      name: 'memo_full_separate_fee_payer',
      description:
        'fee payer = seed 0x20..0x3f (signature 0); identity (seed 0x00..0x1f) is a read-only signer account of the Memo v2 instruction (signature 1)',
      payer,
      memo: FULL_MEMO,
      identityAsSigner: true,
    },
  ];
  const out = [];
  for (const c of cases) {
    const tx = await buildMemoTransaction({ identity, payer: c.payer, blockhash, memo: c.memo, identityAsSigner: c.identityAsSigner });
    const wire = new Uint8Array(getTransactionEncoder().encode(tx));
    const feePayer = c.payer ?? identity;
    out.push({
      name: c.name,
      description: c.description,
      inputs: {
        identitySeedHex: hex(IDENTITY_SEED),
        identityAddress: identity.address,
        feePayerSeedHex: hex(c.payer ? PAYER_SEED : IDENTITY_SEED),
        feePayerAddress: feePayer.address,
        recentBlockhash: blockhash,
        recentBlockhashHex: hex(VECTOR_BLOCKHASH_BYTES),
        memoProgram: MEMO_PROGRAM_ADDRESS,
        memo: c.memo,
        memoAccounts: c.identityAsSigner ? [{ address: identity.address, signer: true, writable: false }] : [],
        messageVersion: 'legacy',
      },
      expected: {
        base64: getBase64EncodedWireTransaction(tx),
        length: wire.length,
        signers: Object.keys(tx.signatures),
        signaturesHex: Object.values(tx.signatures).map(hex),
        messageHex: hex(tx.messageBytes),
        message: compiledLayout(tx.messageBytes),
      },
    });
  }
  return {
    description:
      'Solana wire transactions (legacy message, SPL Memo v2) for vmdb anchoring, built and signed by @solana/kit 8.4.0 (tools/solana-local/vectors.mjs). Ed25519 keys from 32-byte seeds; signatures are deterministic. Wire = compact-u16 signature count, 64-byte signatures in signer order, message bytes.',
    generator: 'tools/solana-local/vectors.mjs (@solana/kit 8.4.0)',
    vectors: out,
  };
}

const here = path.dirname(fileURLToPath(import.meta.url));
export const VECTORS_FILE = path.resolve(here, '../../docs/vectors/solana.json');

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const v = await vectors();
  if (v.vectors[0].expected.base64 !== EXPECTED_VECTOR_1 || v.vectors[0].expected.length !== 176) {
    process.stderr.write(`vectors: vector 1 is not the expected 176-byte transaction:\n${v.vectors[0].expected.base64}\n`);
    process.exit(1);
  }
  const text = `${JSON.stringify(v, null, 1)}\n`;
  const arg = process.argv[2];
  if (arg === '--write') {
    fs.writeFileSync(VECTORS_FILE, text);
    process.stderr.write(`vectors: wrote ${VECTORS_FILE}\n`);
  } else if (arg === '--check') {
    const cur = fs.existsSync(VECTORS_FILE) ? fs.readFileSync(VECTORS_FILE, 'utf8') : '';
    if (cur !== text) {
      process.stderr.write(`vectors: ${VECTORS_FILE} differs from what vectors.mjs produces\n`);
      process.exit(1);
    }
    process.stderr.write('vectors: docs/vectors/solana.json is up to date\n');
  } else if (arg === undefined) {
    process.stdout.write(text);
  } else {
    process.stderr.write('usage: node vectors.mjs [--write | --check]\n');
    process.exit(2);
  }
}

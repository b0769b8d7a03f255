// Tests of solana-local: the real server process (node server.mjs), driven
// over HTTP with @solana/kit's builders and RPC client, plus raw JSON-RPC
// where the exact error codes and texts matter.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AccountRole,
  address,
  appendTransactionMessageInstruction,
  appendTransactionMessageInstructions,
  createKeyPairSignerFromPrivateKeyBytes,
  createSolanaRpc,
  createTransactionMessage,
  generateKeyPairSigner,
  getBase58Decoder,
  getBase58Encoder,
  getBase64EncodedWireTransaction,
  getAddressEncoder,
  getProgramDerivedAddress,
  compressTransactionMessageUsingAddressLookupTables,
  getSignatureFromTransaction,
  getTransactionEncoder,
  pipe,
  setTransactionMessageFeePayerSigner,
  setTransactionMessageLifetimeUsingBlockhash,
  signTransactionMessageWithSigners,
} from '@solana/kit';
import {
  buildMemoTransaction, vectors, VECTORS_FILE, EXPECTED_VECTOR_1, FULL_MEMO, MEMO_PROGRAM_ADDRESS,
} from '../vectors.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SERVER = path.resolve(here, '../server.mjs');
const MEMO_V1 = address('Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo');
const TX_TYPE = 'solana_transaction::versioned::VersionedTransaction';
const enc = new TextEncoder();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- helpers

async function startServer(args = []) {
  const proc = spawn(process.execPath, [SERVER, '--port', '0', '--quiet', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 20000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /^solana-local listening on (http:\/\/127\.0\.0\.1:\d+)\n/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
  });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    url,
    proc,
    exited,
    rpc: createSolanaRpc(url),
    async stop(sig = 'SIGTERM') {
      if (proc.exitCode === null) proc.kill(sig);
      return exited;
    },
  };
}

let nextId = 1;
async function raw(url, method, params, init = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params }),
    ...init,
  });
  const text = await res.text();
  return { status: res.status, body: res.status === 200 ? JSON.parse(text) : text };
}

async function call(url, method, params) {
  const { status, body } = await raw(url, method, params);
  assert.equal(status, 200, `${method}: HTTP ${status}`);
  if (body.error) {
    const e = new Error(`${method}: ${body.error.code} ${body.error.message}`);
    e.rpc = body.error;
    throw e;
  }
  return body.result;
}

async function rpcError(url, method, params) {
  const { status, body } = await raw(url, method, params);
  assert.equal(status, 200);
  assert.ok(body.error, `${method} should fail, got ${JSON.stringify(body.result)}`);
  return body.error;
}

const advance = (url, n) => call(url, 'vmdb_advanceBlocks', [{ n }]);

async function waitFor(what, fn, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function blockhash(url, commitment = 'processed') {
  const r = await call(url, 'getLatestBlockhash', [{ commitment }]);
  return r.value;
}

async function memoTx(signer, bh, text, extra = {}) {
  const msg = pipe(
    createTransactionMessage({ version: extra.version ?? 'legacy' }),
    (m) => setTransactionMessageFeePayerSigner(signer, m),
    (m) => setTransactionMessageLifetimeUsingBlockhash({ blockhash: bh.blockhash, lastValidBlockHeight: BigInt(bh.lastValidBlockHeight) }, m),
    (m) =>
      appendTransactionMessageInstructions(
        extra.instructions ?? [{ programAddress: MEMO_PROGRAM_ADDRESS, accounts: extra.accounts ?? [], data: enc.encode(text) }],
        m,
      ),
  );
  return signTransactionMessageWithSigners(msg);
}

const wire64 = (tx) => getBase64EncodedWireTransaction(tx);
const send = (url, tx, opts = { preflightCommitment: 'processed' }) =>
  call(url, 'sendTransaction', [wire64(tx), { encoding: 'base64', ...opts }]);

async function status(url, sig) {
  const r = await call(url, 'getSignatureStatuses', [[sig], { searchTransactionHistory: true }]);
  return r.value[0];
}

// Airdrops, then closes the block (with manual blocks), so that what the
// test sends next lands in a later slot than the airdrop. Within one slot
// getSignaturesForAddress orders by signature, not by time.
async function fund(url, signer, lamports = 2_000_000_000, { closeBlock = true } = {}) {
  const sig = await call(url, 'requestAirdrop', [signer.address, lamports]);
  assert.ok((await status(url, sig)) !== null, 'airdrop landed in the current block');
  if (closeBlock) await advance(url, 1);
  return sig;
}

const vmdbMemo = (seq) => `vmdb1:${seq}:${crypto.randomBytes(32).toString('hex')}:${crypto.randomBytes(32).toString('hex')}`;

// ----------------------------------------------------- with the block timer

describe('solana-local with its block timer (50 ms blocks)', () => {
  let s;
  before(async () => {
    s = await startServer(['--block-ms', '50']);
  });
  after(() => s.stop());

  test('basic methods answer in the real shapes, and blocks advance on their own', async () => {
    assert.equal(await s.rpc.getHealth().send(), 'ok');
    const v = await s.rpc.getVersion().send();
    assert.equal(typeof v['solana-core'], 'string');
    assert.equal(typeof v['feature-set'], 'number');
    const h1 = await s.rpc.getBlockHeight({ commitment: 'processed' }).send();
    const slot1 = await s.rpc.getSlot({ commitment: 'processed' }).send();
    assert.ok(slot1 > h1, 'slots run ahead of block heights');
    const lb = await s.rpc.getLatestBlockhash({ commitment: 'processed' }).send();
    assert.equal(typeof lb.context.slot, 'bigint');
    const issuedAt = lb.value.lastValidBlockHeight - 150n; // the height the blockhash was issued at
    assert.ok(issuedAt >= h1 && issuedAt <= h1 + 5n, `lastValidBlockHeight = height + 150 (${h1}, ${issuedAt})`);
    await sleep(300);
    const h2 = await s.rpc.getBlockHeight({ commitment: 'processed' }).send();
    assert.ok(h2 >= h1 + 2n, `block height grows on the timer (${h1} -> ${h2})`);
    // kit's RPC defaults to "confirmed"; the server's default is "finalized".
    const fin = BigInt(await call(s.url, 'getBlockHeight', []));
    const h3 = await s.rpc.getBlockHeight({ commitment: 'processed' }).send();
    const conf = await s.rpc.getBlockHeight().send();
    assert.ok(conf >= h3 - 1n && conf <= h3 + 5n && conf > fin);
    assert.ok(fin >= h2 - 32n && fin <= h3 - 32n, `finalized = processed - 32 (${fin}, ${h2}..${h3})`);
    const lb2 = await s.rpc.getLatestBlockhash().send();
    assert.notEqual(lb2.value.blockhash, lb.value.blockhash);
    const rent = await s.rpc.getMinimumBalanceForRentExemption(0n).send();
    assert.equal(rent, 890880n);
    const ei = await call(s.url, 'getEpochInfo', []);
    assert.equal(typeof ei.epoch, 'number');
  });

  test('airdrop, memo signed by the key, confirmed, in the history and in getTransaction', async () => {
    const key = await generateKeyPairSigner();
    const airdropSig = await s.rpc.requestAirdrop(key.address, 1_000_000_000n).send();
    await waitFor('airdrop confirmed', async () => {
      const st = (await s.rpc.getSignatureStatuses([airdropSig]).send()).value[0];
      return st && st.confirmationStatus !== 'processed';
    });
    const bal = await s.rpc.getBalance(key.address, { commitment: 'confirmed' }).send();
    assert.equal(bal.value, 1_000_000_000n);
    assert.equal(typeof bal.context.slot, 'bigint');

    const memo = vmdbMemo(1);
    const { value: bh } = await s.rpc.getLatestBlockhash({ commitment: 'confirmed' }).send();
    const tx = await memoTx(key, bh, memo);
    const sig = await s.rpc
      .sendTransaction(wire64(tx), { encoding: 'base64', preflightCommitment: 'confirmed' })
      .send();
    assert.equal(sig, getSignatureFromTransaction(tx));

    const st = await waitFor('memo confirmed', async () => {
      const v = (await s.rpc.getSignatureStatuses([sig], { searchTransactionHistory: true }).send()).value[0];
      return v && v.confirmationStatus === 'confirmed' ? v : null;
    });
    assert.equal(st.err, null);
    assert.deepEqual(st.status, { Ok: null });
    assert.ok(st.confirmations >= 1n);

    const hist = await s.rpc.getSignaturesForAddress(key.address, { commitment: 'confirmed' }).send();
    assert.equal(hist.length, 2);
    assert.equal(hist[0].signature, sig, 'newest first');
    assert.equal(hist[0].memo, `[${memo.length}] ${memo}`);
    assert.equal(hist[0].err, null);
    assert.equal(hist[0].confirmationStatus, 'confirmed');
    assert.equal(typeof hist[0].blockTime, 'bigint');
    assert.equal(hist[1].signature, airdropSig);
    assert.equal(hist[1].memo, null);

    const t = await s.rpc
      .getTransaction(sig, { commitment: 'confirmed', encoding: 'json', maxSupportedTransactionVersion: 0 })
      .send();
    assert.equal(t.version, 'legacy');
    assert.equal(t.slot, st.slot);
    const m = t.transaction.message;
    const idx = m.accountKeys.indexOf(key.address);
    assert.ok(idx >= 0 && idx < m.header.numRequiredSignatures, 'the key is a signer');
    assert.equal(t.transaction.signatures[idx], sig);
    assert.equal(m.recentBlockhash, bh.blockhash);
    assert.equal(m.instructions.length, 1);
    assert.equal(m.accountKeys[m.instructions[0].programIdIndex], MEMO_PROGRAM_ADDRESS);
    assert.equal(Buffer.from(getBase58Encoder().encode(m.instructions[0].data)).toString(), memo);
    assert.equal(t.meta.err, null);
    assert.equal(t.meta.fee, 5000n);
    assert.equal(t.meta.preBalances[idx] - t.meta.postBalances[idx], 5000n);
    assert.ok(t.meta.logMessages.some((l) => l.includes(memo)));
    assert.equal(typeof t.blockTime, 'bigint');

    const t64 = await s.rpc.getTransaction(sig, { commitment: 'confirmed', encoding: 'base64' }).send();
    assert.deepEqual(t64.transaction, [wire64(tx), 'base64']);
    assert.equal(t64.version, undefined, 'no version without maxSupportedTransactionVersion');
  });
});

// ------------------------------------------------ manual blocks (--block-ms 0)

describe('solana-local with manual blocks', () => {
  let s;
  let url;
  before(async () => {
    s = await startServer(['--block-ms', '0']);
    url = s.url;
  });
  after(() => s.stop());

  test('no block is produced without vmdb_advanceBlocks', async () => {
    const h = await call(url, 'getBlockHeight', [{ commitment: 'processed' }]);
    await sleep(150);
    assert.equal(await call(url, 'getBlockHeight', [{ commitment: 'processed' }]), h);
    const r = await advance(url, 3);
    assert.equal(r.blockHeight, h + 3);
    assert.equal(await call(url, 'getBlockHeight', [{ commitment: 'processed' }]), h + 3);
    assert.equal(await call(url, 'getBlockHeight', [{ commitment: 'confirmed' }]), h + 2);
    assert.equal(await call(url, 'getBlockHeight', []), h + 3 - 32);
  });

  test('block time moves at least 400 ms per slot as blocks are produced', async () => {
    const key = await generateKeyPairSigner();
    const a = await fund(url, key, 1_000_000);
    await advance(url, 150); // >= 150 slots: at least 60 s of chain time
    const b = await fund(url, key, 1_000_000);
    await advance(url, 1);
    const [tb, ta] = await call(url, 'getSignaturesForAddress', [key.address, { commitment: 'confirmed' }]);
    assert.equal(ta.signature, a);
    assert.equal(tb.signature, b);
    assert.ok(tb.blockTime - ta.blockTime >= 60, `${ta.blockTime} -> ${tb.blockTime}`);
    assert.ok(ta.blockTime >= Math.floor(Date.now() / 1000) - 5);
  });

  test('commitment levels: processed, then confirmed, then finalized after 32 blocks', async () => {
    const key = await generateKeyPairSigner();
    await fund(url, key);
    const sig = await send(url, await memoTx(key, await blockhash(url), 'finality'));
    let st = await status(url, sig);
    assert.equal(st.confirmationStatus, 'processed');
    assert.equal(st.confirmations, 0);
    const seen = async (cfg) => (await call(url, 'getSignaturesForAddress', [key.address, cfg])).map((x) => x.signature);
    assert.ok(!(await seen({ commitment: 'confirmed' })).includes(sig), 'not confirmed yet');
    assert.equal(await call(url, 'getTransaction', [sig, { commitment: 'confirmed' }]), null);
    await advance(url, 1);
    st = await status(url, sig);
    assert.equal(st.confirmationStatus, 'confirmed');
    assert.equal(st.confirmations, 1);
    assert.equal((await seen({ commitment: 'confirmed' }))[0], sig);
    assert.deepEqual(await seen(), [], 'default commitment is finalized');
    assert.equal(await call(url, 'getTransaction', [sig]), null);
    await advance(url, 31);
    st = await status(url, sig);
    assert.equal(st.confirmationStatus, 'finalized');
    assert.equal(st.confirmations, null);
    const hist = await call(url, 'getSignaturesForAddress', [key.address]);
    assert.equal(hist[0].signature, sig);
    assert.equal(hist[0].confirmationStatus, 'finalized');
    assert.notEqual(await call(url, 'getTransaction', [sig]), null);
    const e = await rpcError(url, 'getSignaturesForAddress', [key.address, { commitment: 'processed' }]);
    assert.deepEqual(e, { code: -32602, message: 'Method does not support commitment below `confirmed`' });
    const e2 = await rpcError(url, 'getTransaction', [sig, { commitment: 'processed' }]);
    assert.equal(e2.code, -32602);
  });

  test('a transaction with a wrong signature is rejected and never lands', async () => {
    const key = await generateKeyPairSigner();
    const other = await generateKeyPairSigner();
    await fund(url, key);
    const tx = await memoTx(key, await blockhash(url), 'bad signature');
    // Flip one bit of the signature.
    const bytes = new Uint8Array(getTransactionEncoder().encode(tx));
    bytes[10] ^= 1;
    const b64 = Buffer.from(bytes).toString('base64');
    const e = await rpcError(url, 'sendTransaction', [b64, { encoding: 'base64' }]);
    assert.deepEqual(e, { code: -32003, message: 'Transaction signature verification failure' });
    // A valid signature by another key over the same message.
    const msg = bytes.subarray(65);
    const forged = await crypto.webcrypto.subtle.sign('Ed25519', other.keyPair.privateKey, msg);
    bytes.set(new Uint8Array(forged), 1);
    const e2 = await rpcError(url, 'sendTransaction', [Buffer.from(bytes).toString('base64'), { encoding: 'base64' }]);
    assert.equal(e2.code, -32003);
    // With skipPreflight the RPC hands it on and answers its signature, but
    // it is never included: no status, no history, no fee.
    const before = (await call(url, 'getBalance', [key.address, { commitment: 'processed' }])).value;
    const sig = await call(url, 'sendTransaction', [b64, { encoding: 'base64', skipPreflight: true }]);
    assert.equal(sig, getBase58Decoder().decode(Buffer.from(b64, 'base64').subarray(1, 65)));
    await advance(url, 2);
    assert.equal(await status(url, sig), null);
    assert.equal((await call(url, 'getBalance', [key.address, { commitment: 'processed' }])).value, before);
  });

  test('blockhashes: valid for 150 blocks, then "Blockhash not found"; unknown ones too', async () => {
    const key = await generateKeyPairSigner();
    await fund(url, key);
    const bh = await blockhash(url);
    const height = await call(url, 'getBlockHeight', [{ commitment: 'processed' }]);
    assert.equal(bh.lastValidBlockHeight, height + 150);
    const ok = await memoTx(key, bh, 'at the last valid height');
    const late = await memoTx(key, bh, 'one block too late');
    await advance(url, 150);
    assert.equal(await call(url, 'getBlockHeight', [{ commitment: 'processed' }]), bh.lastValidBlockHeight);
    const sig = await send(url, ok);
    assert.ok(await status(url, sig));
    await advance(url, 1);
    const e = await rpcError(url, 'sendTransaction', [wire64(late), { encoding: 'base64', preflightCommitment: 'processed' }]);
    assert.equal(e.code, -32002);
    assert.equal(e.message, 'Transaction simulation failed: Blockhash not found');
    assert.equal(e.data.err, 'BlockhashNotFound');
    assert.deepEqual(e.data.logs, []);
    assert.equal(e.data.accounts, null);
    assert.equal(e.data.unitsConsumed, 0);
    // skipPreflight: the signature comes back, the transaction is dropped.
    const lateSig = await call(url, 'sendTransaction', [wire64(late), { encoding: 'base64', skipPreflight: true }]);
    await advance(url, 1);
    assert.equal(await status(url, lateSig), null);
    // A blockhash this cluster never issued.
    const bogus = await memoTx(key, { blockhash: getBase58Decoder().decode(new Uint8Array(32).fill(0x42)), lastValidBlockHeight: 0 }, 'bogus');
    const e2 = await rpcError(url, 'sendTransaction', [wire64(bogus), { encoding: 'base64', preflightCommitment: 'processed' }]);
    assert.equal(e2.message, 'Transaction simulation failed: Blockhash not found');
  });

  test('preflight runs against the preflightCommitment bank (default finalized)', async () => {
    const key = await generateKeyPairSigner();
    await fund(url, key);
    await advance(url, 1);
    const tx = await memoTx(key, await blockhash(url, 'processed'), 'processed blockhash');
    const e = await rpcError(url, 'sendTransaction', [wire64(tx), { encoding: 'base64' }]);
    assert.equal(e.message, 'Transaction simulation failed: Blockhash not found', 'not yet in the finalized bank');
    const e2 = await rpcError(url, 'sendTransaction', [wire64(tx), { encoding: 'base64', preflightCommitment: 'confirmed' }]);
    assert.equal(e2.data.err, 'BlockhashNotFound');
    const sig = await send(url, tx, { preflightCommitment: 'processed' });
    assert.ok(await status(url, sig));
    // A finalized blockhash goes through with the default preflight.
    const tx2 = await memoTx(key, await blockhash(url, 'finalized'), 'finalized blockhash');
    const sig2 = await call(url, 'sendTransaction', [wire64(tx2), { encoding: 'base64' }]);
    assert.ok(await status(url, sig2));
  });

  test('a resent transaction: AlreadyProcessed in preflight, ignored with skipPreflight', async () => {
    const key = await generateKeyPairSigner();
    await fund(url, key);
    const tx = await memoTx(key, await blockhash(url), 'once');
    const sig = await send(url, tx);
    const e = await rpcError(url, 'sendTransaction', [wire64(tx), { encoding: 'base64', preflightCommitment: 'processed' }]);
    assert.equal(e.code, -32002);
    assert.equal(e.message, 'Transaction simulation failed: This transaction has already been processed');
    assert.equal(e.data.err, 'AlreadyProcessed');
    assert.equal(await call(url, 'sendTransaction', [wire64(tx), { encoding: 'base64', skipPreflight: true }]), sig);
    await advance(url, 1);
    const hist = await call(url, 'getSignaturesForAddress', [key.address, { commitment: 'confirmed' }]);
    assert.equal(hist.filter((h) => h.signature === sig).length, 1);
    const bal = (await call(url, 'getBalance', [key.address, { commitment: 'processed' }])).value;
    assert.equal(bal, 2_000_000_000 - 5000, 'charged once');
  });

  test('size: over 1232 bytes is rejected with the real messages; 1232 lands', async () => {
    const key = await generateKeyPairSigner();
    await fund(url, key);
    const bh = await blockhash(url);
    // identity-pays memo with no accounts: wire = 170 + memo length (memo >= 128 bytes)
    const at = async (n) => {
      const tx = await memoTx(key, bh, 'x'.repeat(n - 170));
      assert.equal(getTransactionEncoder().encode(tx).length, n);
      return tx;
    };
    const big = wire64(await at(1300));
    let e = await rpcError(url, 'sendTransaction', [big, { encoding: 'base64' }]);
    assert.deepEqual(e, {
      code: -32602,
      message: `base64 encoded ${TX_TYPE} too large: ${big.length} bytes (max: encoded/raw 1644/1232)`,
    });
    const b1233 = wire64(await at(1233));
    assert.equal(b1233.length, 1644);
    e = await rpcError(url, 'sendTransaction', [b1233, { encoding: 'base64' }]);
    assert.deepEqual(e, { code: -32602, message: `decoded ${TX_TYPE} too large: 1233 bytes (max: 1232 bytes)` });
    const b58 = getBase58Decoder().decode(getTransactionEncoder().encode(await at(1300)));
    e = await rpcError(url, 'sendTransaction', [b58]);
    assert.equal(e.message, `base58 encoded ${TX_TYPE} too large: ${b58.length} bytes (max: encoded/raw 1683/1232)`);
    const sig = await send(url, await at(1232));
    assert.equal((await status(url, sig)).err, null);
  });

  test('sendTransaction takes base58 (the default encoding) too, and rejects junk', async () => {
    const key = await generateKeyPairSigner();
    await fund(url, key);
    const tx = await memoTx(key, await blockhash(url), 'base58');
    const b58 = getBase58Decoder().decode(getTransactionEncoder().encode(tx));
    const sig = await call(url, 'sendTransaction', [b58, { preflightCommitment: 'processed' }]);
    assert.equal(sig, getSignatureFromTransaction(tx));
    let e = await rpcError(url, 'sendTransaction', ['AAAA', { encoding: 'base64' }]);
    assert.equal(e.code, -32602);
    assert.match(e.message, /^failed to deserialize solana_transaction::versioned::VersionedTransaction/);
    e = await rpcError(url, 'sendTransaction', [wire64(tx), { encoding: 'json' }]);
    assert.equal(e.message, 'unsupported encoding: json. Supported encodings: base58, base64');
    e = await rpcError(url, 'getBalance', ['not-an-address']);
    assert.deepEqual(e, { code: -32602, message: 'Invalid param: Invalid' });
    const slot = await call(url, 'getSlot', [{ commitment: 'processed' }]);
    e = await rpcError(url, 'getBalance', [key.address, { commitment: 'processed', minContextSlot: slot + 10 }]);
    assert.deepEqual(e, { code: -32016, message: 'Minimum context slot has not been reached', data: { contextSlot: slot } });
    e = await rpcError(url, 'noSuchMethod', []);
    assert.deepEqual(e, { code: -32601, message: 'Method not found' });
  });

  test('a failing transaction: preflight rejects it; with skipPreflight it lands with err and pays its fee', async () => {
    const identity = await generateKeyPairSigner();
    const attacker = await generateKeyPairSigner();
    await fund(url, identity);
    await fund(url, attacker);
    const memo = vmdbMemo(7);
    // Memo v2 requires every listed account to sign: listing the identity as
    // a read-only non-signer makes it fail.
    const tx = await memoTx(attacker, await blockhash(url), memo, {
      accounts: [{ address: identity.address, role: AccountRole.READONLY }],
    });
    const e = await rpcError(url, 'sendTransaction', [wire64(tx), { encoding: 'base64', preflightCommitment: 'processed' }]);
    assert.equal(e.code, -32002);
    assert.equal(e.message, 'Transaction simulation failed: Error processing Instruction 0: missing required signature for instruction');
    assert.deepEqual(e.data.err, { InstructionError: [0, 'MissingRequiredSignature'] });
    assert.ok(e.data.logs.length > 0);
    assert.ok(e.data.unitsConsumed > 0);
    const bal0 = (await call(url, 'getBalance', [attacker.address, { commitment: 'processed' }])).value;
    assert.equal(bal0, 2_000_000_000, 'preflight did not commit');

    const sig = await call(url, 'sendTransaction', [wire64(tx), { encoding: 'base64', skipPreflight: true }]);
    await advance(url, 1);
    const st = await status(url, sig);
    assert.deepEqual(st.err, { InstructionError: [0, 'MissingRequiredSignature'] });
    assert.deepEqual(st.status, { Err: { InstructionError: [0, 'MissingRequiredSignature'] } });
    const hist = await call(url, 'getSignaturesForAddress', [identity.address, { commitment: 'confirmed' }]);
    assert.equal(hist[0].signature, sig, 'in the identity history although the identity did not sign');
    assert.deepEqual(hist[0].err, { InstructionError: [0, 'MissingRequiredSignature'] });
    assert.equal(hist[0].memo, `[${memo.length}] ${memo}`);
    const t = await call(url, 'getTransaction', [sig, { commitment: 'confirmed' }]);
    const m = t.transaction.message;
    assert.ok(m.accountKeys.indexOf(identity.address) >= m.header.numRequiredSignatures, 'not a signer');
    assert.deepEqual(t.meta.err, { InstructionError: [0, 'MissingRequiredSignature'] });
    assert.equal(t.meta.fee, 5000);
    const bal1 = (await call(url, 'getBalance', [attacker.address, { commitment: 'processed' }])).value;
    assert.equal(bal1, 2_000_000_000 - 5000, 'the failed transaction paid its fee');
  });

  test('a memo by another key naming the identity read-only shows in its history, not as a signer', async () => {
    const identity = await generateKeyPairSigner();
    const attacker = await generateKeyPairSigner();
    await fund(url, identity);
    await fund(url, attacker);
    const memo = vmdbMemo(8);
    // Memo v1 checks no signers: the identity can be listed as a read-only
    // non-signer account, and the transaction succeeds.
    const tx = await memoTx(attacker, await blockhash(url), memo, {
      instructions: [{ programAddress: MEMO_V1, accounts: [{ address: identity.address, role: AccountRole.READONLY }], data: enc.encode(memo) }],
    });
    const sig = await send(url, tx);
    await advance(url, 1);
    assert.equal((await status(url, sig)).err, null);
    const hist = await call(url, 'getSignaturesForAddress', [identity.address, { commitment: 'confirmed' }]);
    assert.equal(hist[0].signature, sig);
    assert.equal(hist[0].err, null);
    assert.equal(hist[0].memo, `[${memo.length}] ${memo}`);
    const t = await call(url, 'getTransaction', [sig, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 }]);
    const m = t.transaction.message;
    const idx = m.accountKeys.indexOf(identity.address);
    assert.ok(idx >= m.header.numRequiredSignatures, 'listed, but not among the signers');
    assert.equal(m.accountKeys[0], attacker.address);
    assert.equal(t.transaction.signatures.length, 1);
  });

  test('getSignaturesForAddress paging: newest first, before/until, limits', async () => {
    const key = await generateKeyPairSigner();
    const airdrop = await fund(url, key);
    await advance(url, 1);
    const sent = [];
    for (let b = 0; b < 3; b++) {
      const bh = await blockhash(url);
      for (let i = 0; i < 3; i++) sent.push(await send(url, await memoTx(key, bh, `page ${b}.${i}`)));
      await advance(url, 1);
    }
    const all = await call(url, 'getSignaturesForAddress', [key.address, { commitment: 'confirmed' }]);
    assert.equal(all.length, 10);
    assert.equal(all[9].signature, airdrop);
    assert.deepEqual(new Set(all.map((x) => x.signature)), new Set([...sent, airdrop]));
    // Slot descending; within a slot the blockstore orders by signature, descending.
    const key58 = (x) => Buffer.from(getBase58Encoder().encode(x.signature));
    for (let i = 1; i < all.length; i++) {
      const a = all[i - 1];
      const b = all[i];
      assert.ok(a.slot > b.slot || (a.slot === b.slot && Buffer.compare(key58(a), key58(b)) > 0), `order at ${i}`);
    }
    const memos = all.slice(0, 9).map((x) => x.memo);
    assert.ok(memos.every((mm) => /^\[8\] page \d\.\d$/.test(mm)));
    // Pages of 4 with before.
    const paged = [];
    let beforeSig;
    for (;;) {
      const page = await call(url, 'getSignaturesForAddress', [key.address, { commitment: 'confirmed', limit: 4, before: beforeSig }]);
      if (page.length === 0) break;
      paged.push(...page);
      beforeSig = page.at(-1).signature;
    }
    assert.deepEqual(paged, all);
    // until: stops before it; with before: a window.
    assert.deepEqual(await call(url, 'getSignaturesForAddress', [key.address, { commitment: 'confirmed', until: all[5].signature }]), all.slice(0, 5));
    assert.deepEqual(
      await call(url, 'getSignaturesForAddress', [key.address, { commitment: 'confirmed', before: all[1].signature, until: all[6].signature }]),
      all.slice(2, 6),
    );
    assert.deepEqual(
      await call(url, 'getSignaturesForAddress', [key.address, { commitment: 'confirmed', before: all[2].signature, limit: 2 }]),
      all.slice(3, 5),
    );
    // An unknown before: nothing; an unknown until: no bound.
    const unknown = getBase58Decoder().decode(crypto.randomBytes(64));
    assert.deepEqual(await call(url, 'getSignaturesForAddress', [key.address, { commitment: 'confirmed', before: unknown }]), []);
    assert.deepEqual(await call(url, 'getSignaturesForAddress', [key.address, { commitment: 'confirmed', until: unknown }]), all);
    for (const limit of [0, 1001]) {
      const e = await rpcError(url, 'getSignaturesForAddress', [key.address, { limit }]);
      assert.deepEqual(e, { code: -32602, message: 'Invalid limit; max 1000' });
    }
    assert.equal((await call(url, 'getSignaturesForAddress', [key.address, { commitment: 'confirmed', limit: 1000 }])).length, 10);
  });

  test('getSignatureStatuses: unknown is null, at most 256, order kept', async () => {
    const unknown = getBase58Decoder().decode(crypto.randomBytes(64));
    const key = await generateKeyPairSigner();
    const a = await fund(url, key, 1_000_000, { closeBlock: false });
    const r = await call(url, 'getSignatureStatuses', [[unknown, a]]);
    assert.equal(typeof r.context.slot, 'number');
    assert.equal(r.value[0], null);
    assert.equal(r.value[1].confirmationStatus, 'processed');
    const e = await rpcError(url, 'getSignatureStatuses', [Array(257).fill(unknown)]);
    assert.deepEqual(e, { code: -32602, message: 'Too many inputs provided; max 256' });
  });

  test('airdrops are real transactions from a faucet', async () => {
    const key = await generateKeyPairSigner();
    const sig = await fund(url, key, 1234567);
    await advance(url, 1);
    const t = await call(url, 'getTransaction', [sig, { commitment: 'confirmed' }]);
    const m = t.transaction.message;
    assert.equal(m.accountKeys[m.instructions[0].programIdIndex], '11111111111111111111111111111111');
    const idx = m.accountKeys.indexOf(key.address);
    assert.equal(t.meta.postBalances[idx] - t.meta.preBalances[idx], 1234567);
    assert.equal(t.meta.fee, 5000);
  });

  test('v0 transactions: getTransaction needs maxSupportedTransactionVersion', async () => {
    const key = await generateKeyPairSigner();
    await fund(url, key);
    const tx = await memoTx(key, await blockhash(url), 'v0', { version: 0 });
    const sig = await send(url, tx);
    await advance(url, 1);
    const e = await rpcError(url, 'getTransaction', [sig, { commitment: 'confirmed' }]);
    assert.equal(e.code, -32015);
    const t = await call(url, 'getTransaction', [sig, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 }]);
    assert.equal(t.version, 0);
    assert.deepEqual(t.transaction.message.addressTableLookups, []);
  });

  test('v0 with an address lookup table: loaded addresses are indexed like static ones', async () => {
    const ALT = address('AddressLookupTab1e1111111111111111111111111');
    const SYS = address('11111111111111111111111111111111');
    const payer = await generateKeyPairSigner();
    const target = await generateKeyPairSigner();
    await fund(url, payer);
    await advance(url, 1);
    // CreateLookupTable { recent_slot, bump } + ExtendLookupTable { [target] },
    // built by hand. recent_slot must be in SlotHashes: the parent's slot is.
    const slot = BigInt(await call(url, 'getSlot', [{ commitment: 'confirmed' }]));
    const slotLe = Buffer.alloc(8);
    slotLe.writeBigUInt64LE(slot);
    const [table, bump] = await getProgramDerivedAddress({ programAddress: ALT, seeds: [getAddressEncoder().encode(payer.address), slotLe] });
    const create = Buffer.alloc(13);
    create.writeBigUInt64LE(slot, 4);
    create[12] = bump;
    const extend = Buffer.concat([Buffer.from([2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]), Buffer.from(getAddressEncoder().encode(target.address))]);
    const accounts = [
      { address: table, role: AccountRole.WRITABLE },
      { address: payer.address, role: AccountRole.READONLY_SIGNER, signer: payer },
      { address: payer.address, role: AccountRole.WRITABLE_SIGNER, signer: payer },
      { address: SYS, role: AccountRole.READONLY },
    ];
    const bh = await blockhash(url);
    const setup = await memoTx(payer, bh, '', {
      instructions: [
        { programAddress: ALT, accounts, data: new Uint8Array(create) },
        { programAddress: ALT, accounts, data: new Uint8Array(extend) },
      ],
    });
    assert.equal((await status(url, await send(url, setup))).err, null);
    await advance(url, 2); // an extended table is usable from the next slot on
    const msg = pipe(
      createTransactionMessage({ version: 0 }),
      (m) => setTransactionMessageFeePayerSigner(payer, m),
      (m) => setTransactionMessageLifetimeUsingBlockhash({ blockhash: bh.blockhash, lastValidBlockHeight: BigInt(bh.lastValidBlockHeight) }, m),
      (m) => appendTransactionMessageInstruction({ programAddress: MEMO_V1, accounts: [{ address: target.address, role: AccountRole.READONLY }], data: enc.encode('via alt') }, m),
      (m) => compressTransactionMessageUsingAddressLookupTables(m, { [table]: [target.address] }),
    );
    const sig = await send(url, await signTransactionMessageWithSigners(msg));
    await advance(url, 1);
    const t = await call(url, 'getTransaction', [sig, { commitment: 'confirmed', maxSupportedTransactionVersion: 0 }]);
    assert.equal(t.meta.err, null);
    assert.ok(!t.transaction.message.accountKeys.includes(target.address), 'not a static key');
    assert.deepEqual(t.transaction.message.addressTableLookups, [{ accountKey: table, writableIndexes: [], readonlyIndexes: [0] }]);
    assert.deepEqual(t.meta.loadedAddresses, { writable: [], readonly: [target.address] });
    assert.equal(t.meta.preBalances.length, 3);
    const hist = await call(url, 'getSignaturesForAddress', [target.address, { commitment: 'confirmed' }]);
    assert.deepEqual(hist.map((h) => [h.signature, h.memo]), [[sig, '[7] via alt']]);
  });

  test('the vectors: kit output matches docs/vectors/solana.json and a hand-built transaction', async () => {
    const v = await vectors();
    assert.equal(`${JSON.stringify(v, null, 1)}\n`, fs.readFileSync(VECTORS_FILE, 'utf8'));
    const v1 = v.vectors[0].expected;
    assert.equal(v1.base64, EXPECTED_VECTOR_1);
    assert.equal(v1.length, 176);
    // Rebuilt without kit: node:crypto Ed25519 over a hand-laid message.
    const seed = Buffer.from([...Array(32).keys()]);
    const priv = crypto.createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
    const pub = crypto.createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(12);
    const memoProgram = Buffer.from(getBase58Encoder().encode(MEMO_PROGRAM_ADDRESS));
    const message = Buffer.concat([
      Buffer.from([1, 0, 1, 2]), pub, memoProgram, Buffer.alloc(32, 0x42), Buffer.from([1, 1, 0, 7]), Buffer.from('vmdb:hi'),
    ]);
    const wire = Buffer.concat([Buffer.from([1]), crypto.sign(null, message, priv), message]);
    assert.equal(wire.toString('base64'), EXPECTED_VECTOR_1);
    // Vector 2: the data length takes two compact-u16 bytes.
    const v2 = Buffer.from(v.vectors[1].expected.base64, 'base64');
    assert.equal(FULL_MEMO.length, 141);
    assert.equal(v2.length, v.vectors[1].expected.length);
    assert.ok(v2.includes(Buffer.concat([Buffer.from([0x8d, 0x01]), Buffer.from(FULL_MEMO)])));
    // Vector 3: two signatures, fee payer first.
    assert.equal(v.vectors[2].expected.signaturesHex.length, 2);
    assert.equal(v.vectors[2].expected.message.header.numReadonlySignedAccounts, 1);
  });

  test('the vector shapes land on the runtime with a live blockhash', async () => {
    const identity = await createKeyPairSignerFromPrivateKeyBytes(crypto.randomBytes(32));
    const payer = await generateKeyPairSigner();
    await fund(url, identity);
    await fund(url, payer);
    const bh = (await blockhash(url)).blockhash;
    const shapes = [
      { payer: null, memo: 'vmdb:hi', identityAsSigner: false },
      { payer: null, memo: FULL_MEMO, identityAsSigner: true },
      { payer, memo: FULL_MEMO, identityAsSigner: true },
    ];
    const sigs = [];
    for (const sh of shapes) {
      const tx = await buildMemoTransaction({ identity, blockhash: bh, ...sh });
      sigs.push(await send(url, tx));
    }
    await advance(url, 1);
    for (const [i, sig] of sigs.entries()) {
      const t = await call(url, 'getTransaction', [sig, { commitment: 'confirmed' }]);
      assert.equal(t.meta.err, null, `shape ${i + 1}`);
      const m = t.transaction.message;
      assert.ok(m.accountKeys.indexOf(identity.address) < m.header.numRequiredSignatures, `identity signs shape ${i + 1}`);
      if (shapes[i].identityAsSigner) assert.ok(t.meta.logMessages.some((l) => l.includes('Signed by')));
    }
    const t3 = await call(url, 'getTransaction', [sigs[2], { commitment: 'confirmed' }]);
    assert.equal(t3.transaction.message.accountKeys[0], payer.address);
    assert.equal(t3.meta.fee, 10000, 'two signatures');
    const hist = await call(url, 'getSignaturesForAddress', [identity.address, { commitment: 'confirmed', limit: 3 }]);
    assert.deepEqual(new Set(hist.map((h) => h.signature)), new Set(sigs));
  });

  test('outage toggle: 503, 429, reset, hang, refuse; the admin methods keep working', async () => {
    const off = (mode, extra = {}) => call(url, 'vmdb_setAvailable', [{ available: false, mode, ...extra }]);
    const on = () => call(url, 'vmdb_setAvailable', [{ available: true }]);

    await off('503');
    let r = await raw(url, 'getSlot', []);
    assert.equal(r.status, 503);
    await assert.rejects(s.rpc.getSlot().send());
    r = await fetch(`${url}/health`);
    assert.equal(r.status, 503);
    const st = await call(url, 'vmdb_status', []);
    assert.equal(st.available, false);
    await advance(url, 1); // admin still works
    await on();
    assert.equal((await raw(url, 'getSlot', [])).status, 200);

    await off('429');
    assert.equal((await raw(url, 'getHealth', [])).status, 429);
    await off('reset');
    await assert.rejects(raw(url, 'getHealth', []));
    await off('hang');
    await assert.rejects(raw(url, 'getHealth', [], { signal: AbortSignal.timeout(300) }));
    await on();
    assert.equal((await call(url, 'getHealth', [])), 'ok');

    await off('refuse', { durationMs: 600 });
    await sleep(100);
    await assert.rejects(raw(url, 'getHealth', []), (err) => {
      assert.equal(err.cause?.code, 'ECONNREFUSED');
      return true;
    });
    await sleep(800);
    assert.equal(await call(url, 'getHealth', []), 'ok');

    // An outage with a duration ends by itself.
    await off('503', { durationMs: 200 });
    assert.equal((await raw(url, 'getHealth', [])).status, 503);
    await sleep(350);
    assert.equal(await call(url, 'getHealth', []), 'ok');
  });
});

describe('process', () => {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    test(`${sig} ends the server cleanly`, async () => {
      const s = await startServer(['--block-ms', '20']);
      assert.equal(await call(s.url, 'getHealth', []), 'ok');
      const { code } = await s.stop(sig);
      assert.equal(code, 0);
    });
  }

  test('PORT and BLOCK_MS come from the environment too', async () => {
    const proc = spawn(process.execPath, [SERVER, '--quiet'], {
      env: { ...process.env, PORT: '0', BLOCK_MS: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise((resolve) => proc.stdout.once('data', (d) => resolve(String(d))));
    assert.match(line, /^solana-local listening on http:\/\/127\.0\.0\.1:\d+\n$/);
    proc.kill('SIGTERM');
    await new Promise((r) => proc.on('exit', r));
  });
});

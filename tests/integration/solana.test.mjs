// Solana anchoring (VMDB_ANCHOR=solana) against the real Solana runtime:
// each test starts its own tools/solana-local (LiteSVM behind a JSON-RPC
// server) on a free port, real `vmdb serve` processes on it, and reads the
// chain back itself with plain JSON-RPC (getSignaturesForAddress +
// getTransaction), independently of vmdb's own reader.
//
//   (a) seed scenario S1 with BATCH_COMMIT_SIZE=3: the boundary write answers
//       committed: true once its memo is on chain; the memo names its seq and
//       the header_hash of GET /api/roots/{seq}; docs/SOLANA.md's verifier
//       agrees; `vmdb verify --solana-rpc` finds each header anchored
//       (itself, or by a later anchor and a history proof) or not yet
//   (b) restarts read the anchor back (with and without the local record);
//       an unfunded identity anchors once funded; no header is anchored twice
//   (c) an RPC outage: writes go on, the backlog and the error show in
//       /health, the anchors catch up when the RPC returns
//   (d) vmdb1 memos from another key that list the identity (Memo v1, and a
//       failed Memo v2) are ignored by the server, the CLI and the verifier
//       (and vmdb verify --solana-rpc); a second memo of one seq signed by
//       the identity breaks the anchor rule
//   (e) SOLANA_KEYPAIR_PATH: a separate fee payer pays, the identity signs
//   (f) vmdb anchor status | list | verify, and verify after newer headers
//       were deleted from the database
//   (g) database + data directory rolled back together: the chain's anchor
//       catches it, and a refusing server anchors nothing
//   (h) VMDB_SOLANA_COMMITMENT=finalized: no false alarm when restarted
//       before the last anchor is finalized
//   (i) several endpoints in SOLANA_RPC_URL: one down is skipped; a proxy
//       that hides the newest anchors cannot hide a rollback from a vmdb
//       that also asks the real RPC; a solana_anchor.json naming a
//       transaction that is no anchor falls back to scanning
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  BIN, ROOT, startServer, tempDir, createDb, psql, post, get, ok, fails, health,
  applySchema, sleep, S1_TABLES, headerHashOf, headerHashOfEncoding, verifyHeaderSig, startSolanaLocal,
} from './lib.mjs';

const run = promisify(execFile);
const TOOLS = path.join(ROOT, 'tools', 'solana-local');
const kit = createRequire(path.join(TOOLS, 'package.json'))('@solana/kit');
const MEMO_V2 = 'MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr';
const MEMO_V1 = 'Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo';
const SOL = 1_000_000_000;
const FEE = 5000; // lamports per signature
const MEMO_RE = /^vmdb1:(0|[1-9][0-9]*):([0-9a-f]{64}):([0-9a-f]{64})$/;
const NOTES = {
  table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'body', col_type: 'text' }],
};

// ---------------------------------------------------------------- base58, keys

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function b58decode(s) {
  let n = 0n;
  for (const c of s) {
    const i = B58.indexOf(c);
    assert.ok(i >= 0, `base58 character ${c}`);
    n = n * 58n + BigInt(i);
  }
  let hex = n === 0n ? '' : n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return Buffer.concat([Buffer.alloc(s.match(/^1*/)[0].length), Buffer.from(hex, 'hex')]);
}
function b58encode(buf) {
  let n = BigInt('0x' + (Buffer.from(buf).toString('hex') || '0'));
  let out = '';
  while (n > 0n) { out = B58[Number(n % 58n)] + out; n /= 58n; }
  for (const b of buf) { if (b !== 0) break; out = '1' + out; }
  return out;
}

/** PROTOCOL.md §6 (§12 for v1): header_hash of a header in its JSON form (hex). */
const headerHash = (h) => headerHashOf(h).toString('hex');

/** `vmdb keygen <file>`: {public_key, address}. */
async function keygen(file) {
  const { stdout } = await run(BIN, ['keygen', file]);
  const pk = /^public_key ([0-9a-f]{64})$/m.exec(stdout)?.[1];
  const address = /^address ([1-9A-HJ-NP-Za-km-z]{32,44})$/m.exec(stdout)?.[1];
  assert.ok(pk && address, `keygen output: ${stdout}`);
  assert.equal(b58encode(Buffer.from(pk, 'hex')), address, 'the address is the base58 public key');
  return { public_key: pk, address };
}

/** A keypair file in the Solana CLI format (JSON array: 32-byte seed || public key), written here. */
function writeCliKeypair(file) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d, 'base64url');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x, 'base64url');
  fs.writeFileSync(file, JSON.stringify([...seed, ...pub]), { mode: 0o600 });
  return { address: b58encode(pub), seed };
}

// ---------------------------------------------------------------- solana-local

async function waitFor(what, fn, ms = 15_000, every = 100) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

/** requestAirdrop, then waits until it is confirmed. */
async function airdrop(sol, address, lamports = SOL) {
  const sig = await sol.call('requestAirdrop', [address, lamports]);
  await waitForStatus(sol, sig);
  return sig;
}

async function waitForStatus(sol, sig) {
  return waitFor(`status of ${sig}`, async () => {
    const st = (await sol.call('getSignatureStatuses', [[sig], { searchTransactionHistory: true }])).value[0];
    return st && (st.confirmationStatus === 'confirmed' || st.confirmationStatus === 'finalized') ? st : null;
  });
}

const balance = async (sol, address) => (await sol.call('getBalance', [address, { commitment: 'confirmed' }])).value;

/**
 * Every confirmed transaction that mentions `address`, newest first, read
 * with getSignaturesForAddress + getTransaction (json encoding):
 * {signature, slot, err, fee, feePayer, signers, keys, pre, post, memos: [{program, text, accounts, signerAccounts}]}.
 */
async function history(sol, address) {
  const out = [];
  let before;
  for (;;) {
    const page = await sol.call('getSignaturesForAddress', [address, { limit: 1000, before, commitment: 'confirmed' }]);
    for (const s of page) {
      const tx = await sol.call('getTransaction', [s.signature, { encoding: 'json', commitment: 'confirmed', maxSupportedTransactionVersion: 0 }]);
      assert.ok(tx, `getTransaction ${s.signature}`);
      const m = tx.transaction.message;
      const keys = m.accountKeys;
      const nreq = m.header.numRequiredSignatures;
      out.push({
        signature: s.signature,
        slot: tx.slot,
        err: tx.meta.err,
        fee: tx.meta.fee,
        feePayer: keys[0],
        signers: keys.slice(0, nreq),
        keys,
        pre: tx.meta.preBalances,
        post: tx.meta.postBalances,
        memos: m.instructions.filter((ix) => keys[ix.programIdIndex] === MEMO_V2 || keys[ix.programIdIndex] === MEMO_V1)
          .map((ix) => ({
            program: keys[ix.programIdIndex],
            text: b58decode(ix.data).toString('utf8'),
            accounts: ix.accounts.map((i) => keys[i]),
            signerAccounts: ix.accounts.filter((i) => i < nreq).map((i) => keys[i]),
          })),
      });
    }
    if (page.length < 1000) break;
    before = page[page.length - 1].signature;
  }
  return out;
}

/**
 * vmdb's anchors among `txs` (history()), newest first: succeeded, a Memo v2
 * instruction with the identity among its signer accounts, text in the vmdb1
 * form. {seq, hash, root, signature, slot, tx}.
 */
function anchorsIn(txs, identity) {
  const out = [];
  for (const tx of txs) {
    if (tx.err !== null) continue;
    for (const memo of tx.memos) {
      const m = MEMO_RE.exec(memo.text);
      if (memo.program === MEMO_V2 && memo.signerAccounts.includes(identity) && m) {
        out.push({ seq: Number(m[1]), hash: m[2], root: m[3], signature: tx.signature, slot: tx.slot, tx });
      }
    }
  }
  return out;
}

const chainAnchors = async (sol, identity) => anchorsIn(await history(sol, identity), identity);

// ---------------------------------------------------------------- vmdb

/** startServer with the Solana anchor on `sol`; other Solana settings cleared unless given. */
function startVmdb(sol, opts = {}) {
  return startServer({
    ...opts,
    env: {
      VMDB_ANCHOR: 'solana', SOLANA_RPC_URL: sol.url, SOLANA_KEYPAIR_PATH: undefined,
      VMDB_IDENTITY_KEY: undefined, VMDB_SOLANA_COMMITMENT: undefined, SOLANA_PROGRAM_ID: undefined,
      ...opts.env,
    },
  });
}

/** Waits until /health shows the anchor at `seq` with no backlog. */
async function waitAnchored(srv, seq, ms = 15_000) {
  return waitFor(`anchor at seq ${seq} (health)`, async () => {
    const h = await health(srv.url);
    return h.anchor.anchored_seq === seq && h.anchor.backlog === 0 ? h : null;
  }, ms);
}

/** A data directory with an identity created by `vmdb keygen`, funded on `sol`. */
async function fundedDataDir(sol, lamports = SOL) {
  const dataDir = tempDir('vmdb-sol-data-');
  fs.chmodSync(dataDir, 0o700);
  const id = await keygen(path.join(dataDir, 'identity.json'));
  await airdrop(sol, id.address, lamports);
  return { dataDir, id };
}

const write = async (srv, body) => ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body }] }), `write ${body}`);

/** The header of GET /api/roots/{seq}, checked (hash recomputed, signature). */
async function rootAt(srv, seq, pkHex) {
  const h = ok(await get(srv.url, `/api/roots/${seq}`), `roots/${seq}`).header;
  assert.equal(h.seq, seq);
  assert.equal(headerHash(h), h.header_hash, `header ${seq}: header_hash recomputed (PROTOCOL.md §6)`);
  assert.ok(verifyHeaderSig(h, pkHex, 'committed'), `header ${seq}: header signature (PROTOCOL.md §6.1)`);
  return h;
}

/** Env for the `vmdb anchor` CLI. */
const cliEnv = (srv, sol, extra = {}) => {
  const env = { ...process.env, DATABASE_URL: srv.db, VMDB_DATA_DIR: srv.dataDir, VMDB_ANCHOR: 'solana', SOLANA_RPC_URL: sol.url, ...extra };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  for (const k of ['VMDB_IDENTITY_KEY']) if (!(k in extra)) delete env[k];
  return env;
};

/** Runs `vmdb anchor <args>`; {code, stdout, stderr} (never throws on a non-zero exit). */
async function anchorCli(args, env) {
  try {
    const { stdout, stderr } = await run(BIN, ['anchor', ...args], { env, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    if (typeof err.code !== 'number') throw err;
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

/** The verifier of docs/SOLANA.md (the ```js block that starts with `// verify-anchors.mjs`), as a file. */
let verifierFile = null;
function docVerifier() {
  if (verifierFile) return verifierFile;
  const md = fs.readFileSync(path.join(ROOT, 'docs', 'SOLANA.md'), 'utf8');
  const m = /```js\n(\/\/ verify-anchors\.mjs[\s\S]*?)```/.exec(md);
  assert.ok(m, 'docs/SOLANA.md holds the verify-anchors.mjs example');
  verifierFile = path.join(tempDir('vmdb-sol-doc-'), 'verify-anchors.mjs');
  fs.writeFileSync(verifierFile, m[1]);
  return verifierFile;
}

/** Runs the documented verifier: {code, lines, summary}. */
async function runVerifier(sol, address, vmdbUrl) {
  const args = [docVerifier(), sol.url, address, ...(vmdbUrl ? [vmdbUrl] : [])];
  let stdout, code = 0;
  try {
    ({ stdout } = await run(process.execPath, args, { timeout: 60_000 }));
  } catch (err) {
    if (typeof err.code !== 'number') throw err;
    ({ stdout, code } = err);
  }
  const lines = stdout.trim().split('\n');
  return { code, lines, summary: JSON.parse(lines[lines.length - 1]), stdout };
}

/** Cleanups run last-in first-out at the end of a test (vmdb before solana-local). */
function cleanups(t) {
  const fns = [];
  t.after(async () => {
    for (const f of fns.reverse()) await f();
  });
  return (f) => fns.push(f);
}

/** A vmdb whose anchoring is known to work: genesis anchored, notes table, anchored again. */
async function ready(sol, onStop, env, dataDirInfo) {
  const { dataDir, id } = dataDirInfo || await fundedDataDir(sol);
  const srv = await startVmdb(sol, { dataDir, env });
  onStop(() => srv.stop());
  await waitAnchored(srv, 0);
  const s = await applySchema(srv.url, [NOTES]);
  assert.equal(s.reset_performed, true);
  await waitAnchored(srv, 1); // an admin transition is anchored at once
  return { srv, id, dataDir };
}

// ---------------------------------------------------------------- tests

test('(a) S1 with BATCH_COMMIT_SIZE=3: the boundary write is committed once its memo, signed by the identity, is on chain', async (t) => {
  const onStop = cleanups(t);
  const sol = await startSolanaLocal();
  onStop(() => sol.stop());
  const { dataDir, id } = await fundedDataDir(sol);
  const srv = await startVmdb(sol, { dataDir, env: { BATCH_COMMIT_SIZE: '3', VMDB_ANCHOR_INTERVAL: '3600' } });
  onStop(() => srv.stop());
  const ident = ok(await get(srv.url, '/api/identity'));
  assert.deepEqual(ident, { address: id.address, anchor: 'solana', public_key: id.public_key });
  const h0 = await waitAnchored(srv, 0);
  assert.equal(h0.anchor.kind, 'solana');
  assert.equal(h0.anchor.error, null);
  assert.equal(h0.anchor.backend.pending, false);

  const schema = await applySchema(srv.url, S1_TABLES, true);
  assert.equal(schema.reset_performed, true);
  await waitAnchored(srv, 1);

  // The seed's three create-batches: genesis is header 0 and the schema
  // header 1, so they are headers 2, 3 and 4; header 3 is the boundary.
  const w1 = ok(await post(srv.url, '/api/models/agents/create-batch', {
    records: [
      { name: 'alice', character: { role: 'builder', traits: ['curious', 'patient'] } },
      { name: 'bob', character: { role: 'runner', speed: 7 } },
      { name: 'charlie', character: { role: 'critic', mood: null } },
    ],
  }), 'agents batch 1');
  const t2 = Date.now();
  const w2 = ok(await post(srv.url, '/api/models/agents/create-batch', {
    records: [
      { name: 'diana', character: { role: 'scout' } },
      { name: 'eve', character: { role: 'auditor', level: 2.5 } },
      { name: 'frank', character: { role: 'writer', langs: ['en', 'de'] } },
    ],
  }), 'agents batch 2');
  const w2ms = Date.now() - t2;
  const agentIds = w1.ids.map((s) => Number.parseInt(s, 10));
  const w3 = ok(await post(srv.url, '/api/models/follow_queue/create-batch', {
    records: agentIds.map((aid, i) => ({
      user_id: `u${i}`, username: `user_${i}`, type: i === 0 ? 'follow' : null, agent_id: aid,
      created_at: `2025-01-15T10:20:3${i}.123456789Z`,
    })),
  }), 'follow_queue batch');
  const ws = [w1, w2, w3];
  assert.deepEqual(ws.map((w) => w.meta.seq), [2, 3, 4]);
  for (const w of ws) {
    assert.equal(w.verified, true);
    assert.equal(w.meta.committed, w.meta.seq % 3 === 0, `committed exactly at the boundary (seq ${w.meta.seq})`);
  }
  const committed = w2;
  assert.ok(w2ms < 10_000, `the boundary write waited ${w2ms} ms (at most 10 s)`);

  // The chain, read here: the newest memo from the identity names seq 3 and
  // the header GET /api/roots/3 gives.
  const txs = await history(sol, id.address);
  const anchors = anchorsIn(txs, id.address);
  assert.ok(anchors.length >= 1, 'anchors on chain');
  const newest = anchors[0];
  assert.equal(newest.signature, txs[0].signature, 'the newest transaction of the identity is its newest anchor');
  assert.equal(newest.seq, committed.meta.seq, 'the newest anchor is the committed write');
  const hdr = await rootAt(srv, committed.meta.seq, id.public_key);
  assert.equal(newest.hash, hdr.header_hash, 'memo header_hash = GET /api/roots/{seq} header_hash');
  assert.equal(newest.root, hdr.smt_root);
  assert.equal(newest.root, committed.meta.proposed_root, 'memo smt_root = the write\'s proposed_root');
  assert.equal(newest.tx.memos[0].text, `vmdb1:${hdr.seq}:${hdr.header_hash}:${hdr.smt_root}`);
  // One legacy transaction, one signature: the identity pays and signs.
  assert.equal(newest.tx.feePayer, id.address);
  assert.deepEqual(newest.tx.signers, [id.address]);
  assert.equal(newest.tx.fee, FEE);
  assert.equal(newest.tx.memos.length, 1);
  assert.deepEqual(newest.tx.memos[0].accounts, [id.address]);
  // Anchors in seq order, oldest first; each names a header vmdb serves.
  const seqs = anchors.map((a) => a.seq).reverse();
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'anchor seqs rise with the slot');
  assert.equal(new Set(seqs).size, seqs.length, 'no header anchored twice');
  assert.deepEqual(seqs.slice(0, 2), [0, 1], 'genesis and the schema header are anchored');
  for (const a of anchors) assert.equal(a.hash, (await rootAt(srv, a.seq, id.public_key)).header_hash);

  // /health: anchored at 3, header 4 waiting; the balance is the identity's.
  const h = await health(srv.url);
  assert.equal(h.status, 'ok');
  assert.equal(h.writes, 'ok');
  assert.equal(h.seq, 4);
  assert.equal(h.anchor.anchored_seq, 3);
  assert.equal(h.anchor.backlog, 1);
  assert.equal(h.main_root, committed.meta.proposed_root);
  const bal = await balance(sol, id.address);
  assert.equal(txs.length, anchors.length + 1, 'the identity\'s history: the airdrop and the anchors');
  assert.equal(bal, SOL - FEE * anchors.length, 'the identity paid 5000 lamports per anchor');
  assert.equal(h.anchor.backend.balance, bal);
  assert.equal(h.anchor.backend.low_balance, false);
  const latest = ok(await get(srv.url, '/api/roots/latest'));
  assert.equal(latest.anchored.seq, 3);
  assert.equal(latest.anchored.header_hash, newest.hash);
  assert.equal(latest.backlog, 1);

  // docs/SOLANA.md's verifier, with the RPC, the address and vmdb's API.
  const v = await runVerifier(sol, id.address, srv.url);
  assert.equal(v.code, 0, v.stdout);
  assert.deepEqual(v.summary, { anchors: anchors.length, newest_seq: 3, ignored: 1, problems: 0 }, v.stdout);

  // vmdb verify --solana-rpc: header 3 is anchored itself; header 2 by the
  // anchor of 3 and the history proof 2..3 from --server; an answer at
  // header 4 is not anchored yet.
  const vfy = (args, input) => spawnSync(BIN, ['verify', '--public-key', id.public_key, '--solana-rpc', sol.url, ...args],
    { input, encoding: 'utf8', timeout: 60_000 });
  const slot3 = newest.slot;
  let cv = vfy(['-'], (await get(srv.url, '/api/roots/3')).text);
  assert.equal(cv.status, 0, cv.stderr);
  assert.match(cv.stdout, new RegExp(`^ok: header 3 \\(write\\) .*; anchored at seq 3 \\(slot ${slot3}, tx ${newest.signature}\\)$`, 'm'));
  const r2 = (await get(srv.url, '/api/roots/2')).text;
  cv = vfy(['-', '--server', srv.url], r2);
  assert.equal(cv.status, 0, cv.stderr);
  assert.match(cv.stdout, /^ok: header 2 .*; anchored at seq 3 \(slot \d+, tx \w+\)$/m);
  cv = vfy(['-'], r2);
  assert.equal(cv.status, 1, cv.stdout);
  assert.match(cv.stderr, /header 2 is not anchored itself; the anchor of seq 3 covers it only with a history proof \(give --server URL\)/);
  const rd = await post(srv.url, '/api/models/agents/read-batch', { ids: w1.ids, proof: true });
  assert.equal(ok(rd).proof.header.seq, 4);
  cv = vfy(['-', '--server', srv.url], rd.text);
  assert.equal(cv.status, 1, cv.stdout);
  assert.match(cv.stderr, /^vmdb verify: not anchored yet \(newest anchor seq 3\)$/m);

  const exit = await srv.stop('SIGINT');
  assert.deepEqual(exit, { code: 0, signal: null });
  // SIGINT anchored header 4.
  const after = await chainAnchors(sol, id.address);
  assert.equal(after[0].seq, 4, 'the stop anchored the pending header');
  // The same answer, now that header 4 is anchored.
  cv = vfy(['-'], rd.text);
  assert.equal(cv.status, 0, cv.stderr);
  assert.match(cv.stdout, new RegExp(`^ok: table agents, 3 rows present, 0 absent, not complete, at seq 4; table, ids: not checked \\(give --table/--ids\\); anchored at seq 4 \\(slot ${after[0].slot}, tx ${after[0].signature}\\)$`, 'm'));
});

test('(b) restarts read the anchor back: after kill -9, after a clean stop, without the local record; an unfunded identity anchors once funded', async (t) => {
  const onStop = cleanups(t);
  const sol = await startSolanaLocal();
  onStop(() => sol.stop());
  const env = { BATCH_COMMIT_SIZE: '2', VMDB_ANCHOR_INTERVAL: '3600' };
  const db = await createDb('sol_b');
  const dataDir = tempDir('vmdb-sol-data-');

  // Started with an identity that holds no lamports: genesis waits.
  const a = await startVmdb(sol, { db, dataDir, env });
  onStop(() => a.stop());
  const { address, public_key: pk } = ok(await get(a.url, '/api/identity'));
  const h0 = await health(a.url);
  assert.equal(h0.anchor.anchored_seq, null, 'nothing anchored without funds');
  assert.equal(h0.anchor.backlog, 1);
  assert.equal(h0.writes, 'ok');
  await airdrop(sol, address);
  await waitAnchored(a, 0);
  await applySchema(a.url, [NOTES]);
  await waitAnchored(a, 1);
  const w = [];
  for (let i = 0; i < 4; i++) w.push(await write(a, `a${i}`));
  assert.deepEqual(w.map((x) => [x.meta.seq, x.meta.committed]), [[2, true], [3, false], [4, true], [5, false]]);
  let anchors = await chainAnchors(sol, address);
  assert.equal(anchors[0].seq, 4);
  const count1 = anchors.length;
  await a.kill9();

  // 1. After kill -9 (header 5 not anchored): the start-up catch-up anchors
  //    it, once; header 4 is not anchored again.
  const b = await startVmdb(sol, { db, dataDir, env });
  onStop(() => b.stop());
  await waitAnchored(b, 5);
  anchors = await chainAnchors(sol, address);
  assert.equal(anchors.length, count1 + 1, 'exactly one new anchor (header 5)');
  assert.equal(anchors[0].seq, 5);
  assert.equal(anchors[0].hash, (await rootAt(b, 5, pk)).header_hash);
  assert.equal((await health(b.url)).writes, 'ok');
  assert.deepEqual(await b.stop(), { code: 0, signal: null });

  // 2. After a clean stop: anchored_seq is the chain's newest at once, no
  //    transaction is sent, writes work.
  const nTx = (await history(sol, address)).length;
  const c = await startVmdb(sol, { db, dataDir, env });
  onStop(() => c.stop());
  const hc = await health(c.url);
  assert.equal(hc.writes, 'ok', JSON.stringify(hc));
  assert.equal(hc.status, 'ok');
  assert.equal(hc.anchor.anchored_seq, 5, 'read back from the chain');
  assert.equal(hc.anchor.backlog, 0);
  assert.equal(ok(await get(c.url, '/api/roots/latest')).anchored.header_hash, anchors[0].hash);
  await sleep(1500);
  assert.equal((await history(sol, address)).length, nTx, 'nothing re-anchored');
  const w6 = await write(c, 'c6');
  assert.deepEqual([w6.meta.seq, w6.meta.committed], [6, true]);
  anchors = await chainAnchors(sol, address);
  assert.equal(anchors[0].seq, 6);
  await c.stop();

  // 3. Without the local record (solana_anchor.json deleted): the whole
  //    history is scanned; same answer.
  const rec = path.join(dataDir, 'solana_anchor.json');
  const recJson = JSON.parse(fs.readFileSync(rec, 'utf8'));
  assert.equal(recJson.last_seq, 6);
  assert.equal(recJson.last_sig, anchors[0].signature);
  assert.equal(recJson.pending, null);
  fs.rmSync(rec);
  const d = await startVmdb(sol, { db, dataDir, env });
  onStop(() => d.stop());
  const hd = await health(d.url);
  assert.equal(hd.writes, 'ok', JSON.stringify(hd));
  assert.equal(hd.anchor.anchored_seq, 6);
  assert.equal(hd.anchor.backlog, 0);
  const w7 = await write(d, 'd7');
  const w8 = await write(d, 'd8');
  assert.deepEqual([w7.meta.committed, w8.meta.committed], [false, true]);
  anchors = await chainAnchors(sol, address);
  assert.equal(anchors[0].seq, 8);
  const seqs = anchors.map((x) => x.seq);
  assert.equal(new Set(seqs).size, seqs.length, `no header anchored twice: ${seqs}`);
});

test('(c) an RPC outage: writes go on, /health shows the backlog and the error; the anchors catch up when the RPC returns', async (t) => {
  const onStop = cleanups(t);
  const sol = await startSolanaLocal();
  onStop(() => sol.stop());
  const { srv, id } = await ready(sol, onStop, { BATCH_COMMIT_SIZE: '1000', VMDB_ANCHOR_INTERVAL: '1' });

  assert.deepEqual(await sol.call('vmdb_setAvailable', [{ available: false }]), { available: false, mode: '503' });
  let res = await fetch(sol.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":1,"method":"getHealth"}' });
  assert.equal(res.status, 503, 'the RPC is down');
  await res.arrayBuffer();
  const outageStart = Date.now();
  for (let i = 0; i < 6; i++) {
    const t0 = Date.now();
    const w = await write(srv, `during outage ${i}`);
    assert.equal(w.meta.committed, false);
    assert.ok(Date.now() - t0 < 2000, `write ${i} was not held up by the outage (${Date.now() - t0} ms)`);
    await sleep(400);
  }
  const h = await waitFor('the anchor error in /health', async () => {
    const x = await health(srv.url);
    return x.anchor.error ? x : null;
  }, 5000);
  assert.equal(h.status, 'ok');
  assert.equal(h.writes, 'ok', 'writes are not refused during an outage');
  assert.equal(h.seq, 7);
  assert.equal(h.anchor.anchored_seq, 1);
  assert.equal(h.anchor.backlog, 6, 'the backlog grew with the writes');
  assert.match(h.anchor.error, /anchoring header \d+ failed/);
  assert.match(h.anchor.backend.last_error, /unavailable/i);
  ok(await post(srv.url, '/api/models/notes/read-batch', { ids: ['1', '6'] }), 'reads during the outage');

  t.diagnostic(`outage lasted ${Date.now() - outageStart} ms`);
  await sol.call('vmdb_setAvailable', [{ available: true }]);
  const back = Date.now();
  const hb = await waitAnchored(srv, 7, 20_000);
  const catchUp = Date.now() - back;
  t.diagnostic(`caught up ${catchUp} ms after the RPC returned`);
  assert.equal(hb.anchor.error, null);
  assert.equal(hb.anchor.backend.last_error, null);
  const anchors = await chainAnchors(sol, id.address);
  assert.equal(anchors[0].seq, 7, 'the newest header is anchored (it covers 2..6)');
  assert.equal(anchors[0].hash, (await rootAt(srv, 7, id.public_key)).header_hash);
  const seqs = anchors.map((x) => x.seq);
  assert.equal(new Set(seqs).size, seqs.length, `no header anchored twice: ${seqs}`);
  // And anchoring goes on normally.
  const w = await write(srv, 'after');
  assert.equal(w.meta.seq, 8);
  await waitAnchored(srv, 8, 10_000);

  // A harder outage: the RPC's port refuses connections for 2.5 s.
  await sol.call('vmdb_setAvailable', [{ available: false, mode: 'refuse', durationMs: 2500 }]);
  for (let i = 0; i < 3; i++) {
    const t0 = Date.now();
    const wr = await write(srv, `refused ${i}`);
    assert.equal(wr.meta.committed, false);
    assert.ok(Date.now() - t0 < 2000, `write ${i} was not held up (${Date.now() - t0} ms)`);
    await sleep(300);
  }
  const hr = await waitFor('the anchor error in /health (connection refused)', async () => {
    const x = await health(srv.url);
    return x.anchor.error ? x : null;
  }, 5000, 50);
  assert.equal(hr.writes, 'ok');
  assert.ok(hr.anchor.backlog >= 1, `backlog ${hr.anchor.backlog}`);
  assert.match(hr.anchor.backend.last_error, /unavailable/i);
  await waitAnchored(srv, 11, 20_000);
  assert.equal((await chainAnchors(sol, id.address))[0].seq, 11);
});

test('(d) vmdb1 memos from another key that list the identity are ignored: no false rollback, anchored_seq unchanged', async (t) => {
  const onStop = cleanups(t);
  const sol = await startSolanaLocal();
  onStop(() => sol.stop());
  const env = { BATCH_COMMIT_SIZE: '1' };
  const { srv, id, dataDir } = await ready(sol, onStop, env);
  for (let i = 0; i < 2; i++) await write(srv, `real ${i}`);
  await waitAnchored(srv, 3);
  await srv.stop();
  const before = await chainAnchors(sol, id.address);
  assert.equal(before[0].seq, 3);

  // Another key, funded, sends memos in vmdb's format naming a far newer seq.
  const other = await kit.generateKeyPairSigner();
  await airdrop(sol, other.address);
  const fake = `vmdb1:999999:${'ab'.repeat(32)}:${'cd'.repeat(32)}`;
  const bh = (await sol.call('getLatestBlockhash', [{ commitment: 'finalized' }])).value;
  const send = async (programAddress, skipPreflight) => {
    const msg = kit.pipe(
      kit.createTransactionMessage({ version: 'legacy' }),
      (m) => kit.setTransactionMessageFeePayerSigner(other, m),
      (m) => kit.setTransactionMessageLifetimeUsingBlockhash({ blockhash: bh.blockhash, lastValidBlockHeight: BigInt(bh.lastValidBlockHeight) }, m),
      (m) => kit.appendTransactionMessageInstruction({
        programAddress: kit.address(programAddress),
        accounts: [{ address: kit.address(id.address), role: kit.AccountRole.READONLY }],
        data: new TextEncoder().encode(fake),
      }, m),
    );
    const tx = await kit.signTransactionMessageWithSigners(msg);
    const sig = await sol.call('sendTransaction', [kit.getBase64EncodedWireTransaction(tx), { encoding: 'base64', skipPreflight }]);
    await waitForStatus(sol, sig);
    return sig;
  };
  // Memo v1 accepts accounts that did not sign: this one succeeds.
  const sigV1 = await send(MEMO_V1, false);
  // Memo v2 refuses them: with skipPreflight it lands as a failed transaction.
  const sigV2 = await send(MEMO_V2, true);
  const txs = await history(sol, id.address);
  const byId = Object.fromEntries(txs.map((x) => [x.signature, x]));
  assert.ok(byId[sigV1] && byId[sigV2], 'both memos are in the identity\'s history');
  assert.equal(byId[sigV1].err, null, 'the Memo v1 transaction succeeded');
  assert.notEqual(byId[sigV2].err, null, 'the Memo v2 transaction failed');
  assert.equal(byId[sigV1].memos[0].text, fake);
  assert.deepEqual(byId[sigV1].memos[0].accounts, [id.address]);
  assert.deepEqual(byId[sigV1].signers, [other.address], 'the identity did not sign');
  assert.ok([sigV1, sigV2].includes(txs[0].signature), 'a fake memo is the newest entry of the history');
  assert.deepEqual((await chainAnchors(sol, id.address)).map((x) => x.signature), before.map((x) => x.signature),
    'not anchors by this test\'s own reading either');

  // Restart: no rollback alarm, anchored_seq unchanged, writes work.
  let newestHeader = null;
  for (const dropRecord of [false, true]) {
    if (dropRecord) fs.rmSync(path.join(dataDir, 'solana_anchor.json'));
    const b = await startVmdb(sol, { db: srv.db, dataDir, env });
    onStop(() => b.stop());
    const h = await health(b.url);
    const what = dropRecord ? 'without the local record' : 'with the local record';
    assert.equal(h.writes, 'ok', `${what}: ${JSON.stringify(h)}`);
    assert.equal(h.status, 'ok', what);
    assert.equal(h.integrity.ok, true, what);
    assert.equal(h.anchor.anchored_seq, dropRecord ? 4 : 3, `${what}: anchored_seq is vmdb's own newest anchor`);
    assert.equal(h.anchor.backlog, 0, what);
    const w = await write(b, `after fake ${dropRecord}`);
    assert.equal(w.meta.committed, true, what);
    if (dropRecord) newestHeader = (await get(b.url, `/api/roots/${w.meta.seq}`)).text;
    assert.equal((await health(b.url)).anchor.anchored_seq, w.meta.seq, what);
    await b.stop();
  }

  // The CLI and the documented verifier ignore the fake memos too.
  const env2 = cliEnv(srv, sol);
  const v = await anchorCli(['verify'], env2);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /verify: 6 anchors checked against 6 headers, 0 mismatches/);
  assert.doesNotMatch(v.stdout, /999999/);
  const l = await anchorCli(['list'], env2);
  assert.equal(l.code, 0, l.stderr);
  assert.doesNotMatch(l.stdout, /999999/);
  assert.equal(l.stdout.trim().split('\n').length, 6);
  const vd = await runVerifier(sol, id.address);
  assert.equal(vd.code, 0, vd.stdout);
  assert.equal(vd.summary.anchors, 6);
  assert.equal(vd.summary.newest_seq, 5);
  assert.equal(vd.summary.ignored, 3, 'the airdrop and the two fake memos');

  // vmdb verify --solana-rpc ignores them as well; then a second memo of
  // seq 5 signed by the identity itself breaks the anchor rule (§8.1).
  const vfy = (input) => spawnSync(BIN, ['verify', '-', '--public-key', id.public_key, '--solana-rpc', sol.url],
    { input, encoding: 'utf8', timeout: 60_000 });
  let cv = vfy(newestHeader);
  assert.equal(cv.status, 0, cv.stderr);
  assert.match(cv.stdout, /^ok: header 5 .*; anchored at seq 5 \(slot \d+, tx \w+\)$/m);
  const idSigner = await kit.createKeyPairSignerFromBytes(
    new Uint8Array(JSON.parse(fs.readFileSync(path.join(dataDir, 'identity.json'), 'utf8'))));
  const bh2 = (await sol.call('getLatestBlockhash', [{ commitment: 'finalized' }])).value;
  const forged = await kit.signTransactionMessageWithSigners(kit.pipe(
    kit.createTransactionMessage({ version: 'legacy' }),
    (m) => kit.setTransactionMessageFeePayerSigner(idSigner, m),
    (m) => kit.setTransactionMessageLifetimeUsingBlockhash({ blockhash: bh2.blockhash, lastValidBlockHeight: BigInt(bh2.lastValidBlockHeight) }, m),
    (m) => kit.appendTransactionMessageInstruction({
      programAddress: kit.address(MEMO_V2),
      accounts: [{ address: kit.address(id.address), role: kit.AccountRole.READONLY_SIGNER }],
      data: new TextEncoder().encode(`vmdb1:5:${'ee'.repeat(32)}:${'ff'.repeat(32)}`),
    }, m),
  ));
  await waitForStatus(sol, await sol.call('sendTransaction', [kit.getBase64EncodedWireTransaction(forged), { encoding: 'base64' }]));
  cv = vfy(newestHeader);
  assert.equal(cv.status, 1, cv.stdout);
  assert.match(cv.stderr, /^vmdb verify: fork: two anchors of seq 5 carry different header_hash$/m);
});

test('(e) SOLANA_KEYPAIR_PATH: a separate fee payer (Solana CLI keypair file) pays, the identity only signs', async (t) => {
  const onStop = cleanups(t);
  const sol = await startSolanaLocal();
  onStop(() => sol.stop());
  const dataDir = tempDir('vmdb-sol-data-');
  const id = await keygen(path.join(dataDir, 'identity.json'));
  const payerFile = path.join(tempDir('vmdb-sol-payer-'), 'payer.json');
  const payer = writeCliKeypair(payerFile);
  await airdrop(sol, payer.address);
  const env = { BATCH_COMMIT_SIZE: '2', SOLANA_KEYPAIR_PATH: payerFile, VMDB_ANCHOR_INTERVAL: '3600' };
  const { srv } = await ready(sol, onStop, env, { dataDir, id });
  const w = [];
  for (let i = 0; i < 3; i++) w.push(await write(srv, `paid ${i}`));
  assert.deepEqual(w.map((x) => [x.meta.seq, x.meta.committed]), [[2, true], [3, false], [4, true]]);
  const h = await waitAnchored(srv, 4);

  const txs = await history(sol, id.address);
  const anchors = anchorsIn(txs, id.address);
  assert.equal(anchors.length, txs.length, 'every transaction of the identity is an anchor');
  assert.deepEqual(anchors.map((x) => x.seq).reverse(), [0, 1, 2, 4]);
  for (const a of anchors) {
    assert.equal(a.tx.feePayer, payer.address, `seq ${a.seq}: the payer pays`);
    assert.deepEqual(a.tx.signers, [payer.address, id.address], `seq ${a.seq}: two signatures`);
    assert.deepEqual(a.tx.memos[0].signerAccounts, [id.address], `seq ${a.seq}: the identity signs the memo`);
    assert.equal(a.tx.fee, 2 * FEE);
    assert.equal(a.tx.pre[1] - a.tx.post[1], 0, `seq ${a.seq}: the identity's balance does not move`);
    assert.equal(a.hash, (await rootAt(srv, a.seq, id.public_key)).header_hash);
  }
  assert.equal(await balance(sol, id.address), 0, 'the identity holds nothing and paid nothing');
  const pb = await balance(sol, payer.address);
  assert.equal(pb, SOL - 2 * FEE * anchors.length, 'the payer paid 10000 lamports per anchor');
  assert.equal(h.anchor.backend.balance, pb, '/health shows the payer\'s balance');

  const st = await anchorCli(['status'], cliEnv(srv, sol, { SOLANA_KEYPAIR_PATH: payerFile }));
  assert.equal(st.code, 0, st.stderr);
  assert.match(st.stdout, new RegExp(`^fee_payer_balance ${pb}$`, 'm'));
  assert.match(st.stdout, /^newest_anchor_seq 4$/m);
  assert.match(st.stdout, new RegExp(`^identity ${id.address}$`, 'm'));
});

test('(f) vmdb anchor status | list | verify; verify reports the anchors a rolled-back database lacks', async (t) => {
  const onStop = cleanups(t);
  const sol = await startSolanaLocal();
  onStop(() => sol.stop());
  const { srv, id } = await ready(sol, onStop, { BATCH_COMMIT_SIZE: '1' });
  for (let i = 0; i < 3; i++) await write(srv, `v${i}`);
  await waitAnchored(srv, 4);
  await srv.stop();
  const env = cliEnv(srv, sol);

  const st = await anchorCli(['status'], env);
  assert.equal(st.code, 0, st.stderr);
  const bal = await balance(sol, id.address);
  for (const re of [`^identity ${id.address}$`, `^public_key ${id.public_key}$`, '^anchor solana$', '^database_newest_seq 4$',
    '^newest_anchor_seq 4$', '^backlog 0$', `^fee_payer_balance ${bal}$`]) {
    assert.match(st.stdout, new RegExp(re, 'm'));
  }
  const chain = (await chainAnchors(sol, id.address)).reverse();
  const l = await anchorCli(['list'], env);
  assert.equal(l.code, 0, l.stderr);
  const listed = l.stdout.trim().split('\n').map((line) => {
    const m = /^seq (\d+) header_hash ([0-9a-f]{64}) smt_root ([0-9a-f]{64}) (\S+)$/.exec(line);
    assert.ok(m, line);
    return { seq: Number(m[1]), hash: m[2], root: m[3], signature: m[4] };
  });
  assert.deepEqual(listed, chain.map(({ seq, hash, root, signature }) => ({ seq, hash, root, signature })));
  assert.deepEqual(listed.map((x) => x.seq), [0, 1, 2, 3, 4]);
  const dbHashes = (await psql(srv.db, "SELECT encode(header, 'hex') FROM vmdb_headers ORDER BY seq")).split('\n')
    .map((hex) => headerHashOfEncoding(Buffer.from(hex, 'hex')).toString('hex'));
  assert.deepEqual(listed.map((x) => x.hash), dbHashes, 'the chain holds the database\'s headers');

  const v = await anchorCli(['verify'], env);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.match(v.stdout, /^verify: 5 anchors checked against 5 headers, 0 mismatches$/m);
  assert.doesNotMatch(v.stdout, /MISMATCH/);

  // An older database state: the two newest headers are gone.
  await psql(srv.db, 'DELETE FROM vmdb_headers WHERE seq > 2');
  const v2 = await anchorCli(['verify'], env);
  assert.notEqual(v2.code, 0, `verify must fail: ${v2.stdout}`);
  assert.match(v2.stdout, /^MISMATCH anchor seq 3 .*rolled back/m);
  assert.match(v2.stdout, /^MISMATCH anchor seq 4 .*rolled back/m);
  assert.match(v2.stdout, /^verify: 5 anchors checked against 3 headers, 2 mismatches$/m);
  const st2 = await anchorCli(['status'], env);
  assert.match(st2.stdout, /^database_newest_seq 2$/m);
  assert.match(st2.stdout, /^newest_anchor_seq 4$/m);
});

test('(g) database and data directory rolled back together: refused, the reason names the anchor on chain', async (t) => {
  const onStop = cleanups(t);
  const sol = await startSolanaLocal();
  onStop(() => sol.stop());
  const env = { BATCH_COMMIT_SIZE: '1' };
  const { srv, id, dataDir } = await ready(sol, onStop, env);
  for (let i = 0; i < 2; i++) await write(srv, `old ${i}`);
  await waitAnchored(srv, 3);
  await srv.stop();

  // The backup: pg_dump and a copy of the data directory's state files.
  const keep = tempDir('vmdb-sol-backup-');
  const dump = path.join(keep, 'db.dump');
  await run('pg_dump', ['-Fc', '-f', dump, '-d', srv.db]);
  for (const f of ['trusted_state.json', 'trusted_state.journal', 'solana_anchor.json']) fs.copyFileSync(path.join(dataDir, f), path.join(keep, f));

  // More writes: the chain's anchor moves to seq 6.
  const b = await startVmdb(sol, { db: srv.db, dataDir, env });
  onStop(() => b.stop());
  for (let i = 0; i < 3; i++) await write(b, `new ${i}`);
  await waitAnchored(b, 6);
  await b.stop();
  assert.equal((await chainAnchors(sol, id.address))[0].seq, 6);

  // Restore both.
  await psql(srv.db, 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  await run('pg_restore', ['--no-owner', '-d', srv.db, dump]);
  assert.equal(await psql(srv.db, 'SELECT max(seq) FROM vmdb_headers'), '3');
  for (const f of ['trusted_state.json', 'trusted_state.journal', 'solana_anchor.json']) fs.copyFileSync(path.join(keep, f), path.join(dataDir, f));

  // Started twice: with the old solana_anchor.json, then without it (the
  // whole history is scanned). Both must refuse; a refusing server must not
  // anchor the rolled-back header (that would make it the chain's newest
  // anchor and hide the rollback from the next start).
  const nTx = (await history(sol, id.address)).length;
  const chainNow = async () => `; the chain's anchors, newest first: ${(await chainAnchors(sol, id.address)).map((x) => x.seq)}`;
  for (const dropRecord of [false, true]) {
    const what = dropRecord ? 'second start, without the local record' : 'first start, with the old local record';
    if (dropRecord) fs.rmSync(path.join(dataDir, 'solana_anchor.json'), { force: true });
    const c = await startVmdb(sol, { db: srv.db, dataDir, env });
    onStop(() => c.stop());
    const h = await health(c.url);
    assert.equal(h.status, 'degraded', `${what}: ${JSON.stringify(h)}${await chainNow()}`);
    assert.match(h.writes, /anchor/, `${what}: the reason names the anchor: ${h.writes}`);
    assert.match(h.writes, /rollback|rolled back/i, what);
    assert.match(h.writes, /\b6\b/, `${what}: the reason names the anchored seq 6: ${h.writes}`);
    const f = fails(await post(c.url, '/api/models/notes/create-batch', { records: [{ body: 'refused' }] }),
      503, 'WRITES_UNAVAILABLE', what);
    assert.match(f.error, /anchor/, what);
    fails(await post(c.url, '/bootstrap/repair-roots', { confirm: true }), 409, 'ROLLBACK_DETECTED', `${what}: repair-roots`);
    const r = ok(await post(c.url, '/api/models/notes/read-latest', { limit: 10 }), `${what}: reads`);
    assert.equal(r.ids.length, 2, `${what}: the older rows`);
    // A third party sees it too: vmdb serves no header 4..6.
    const v = await runVerifier(sol, id.address, c.url);
    assert.notEqual(v.code, 0, v.stdout);
    assert.match(v.stdout, /BAD seq 6 .*no header 6/, v.stdout);
    await sleep(1000); // time for a (wrong) start-up anchor to land
    await c.stop();
    assert.equal(await psql(srv.db, 'SELECT max(seq) FROM vmdb_headers'), '3', `${what}: nothing written`);
    assert.deepEqual(fs.readFileSync(path.join(dataDir, 'trusted_state.json')), fs.readFileSync(path.join(keep, 'trusted_state.json')),
      `${what}: the trusted state file is left alone`);
  }
  assert.equal((await history(sol, id.address)).length, nTx,
    `a refusing server sends no anchor${await chainNow()}`);
});

test('(h) VMDB_SOLANA_COMMITMENT=finalized: a restart right after an anchor is not a false alarm', async (t) => {
  const onStop = cleanups(t);
  const sol = await startSolanaLocal();
  onStop(() => sol.stop());
  const env = { BATCH_COMMIT_SIZE: '1', VMDB_SOLANA_COMMITMENT: 'finalized' };
  const { srv, id, dataDir } = await ready(sol, onStop, env);
  const w = await write(srv, 'x');
  assert.equal(w.meta.committed, true);
  await srv.stop();
  // The anchor of header 2 is confirmed, not yet finalized (32 blocks, about 13 s here).
  const nTx = (await history(sol, id.address)).length;
  const b = await startVmdb(sol, { db: srv.db, dataDir, env });
  onStop(() => b.stop());
  const h = await health(b.url);
  assert.equal(h.writes, 'ok', `a healthy restart must not refuse writes: ${JSON.stringify(h)}`);
  assert.equal(h.integrity.ok, true);
  ok(await post(b.url, '/api/models/notes/create-batch', { records: [{ body: 'y' }] }), 'write after the restart');
  await b.stop();
  const anchors = await chainAnchors(sol, id.address);
  assert.equal(anchors.length, new Set(anchors.map((x) => x.seq)).size, `no header anchored twice: ${anchors.map((x) => x.seq)}`);
  assert.ok((await history(sol, id.address)).length <= nTx + 1, 'one new anchor at most (the write after the restart)');
});

/** A JSON-RPC proxy to `target` that hides the signatures in `hidden` (a host controlling the RPC path). */
async function hidingProxy(target, hidden) {
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    const msg = JSON.parse(body);
    let text = await (await fetch(target, { method: 'POST', headers: { 'content-type': 'application/json' }, body })).text();
    if (msg.method === 'getSignaturesForAddress') {
      const out = JSON.parse(text);
      out.result = out.result.filter((e) => !hidden.has(e.signature));
      text = JSON.stringify(out);
    } else if (msg.method === 'getTransaction' && hidden.has(msg.params[0])) {
      text = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: null });
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(text);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => { server.closeAllConnections(); server.close(); } };
}

test('(i) several RPC endpoints: one down is skipped, a hiding proxy cannot hide a rollback, a stale solana_anchor.json falls back to scanning', async (t) => {
  const onStop = cleanups(t);
  const sol = await startSolanaLocal();
  onStop(() => sol.stop());
  const DOWN = 'http://127.0.0.1:1'; // nothing listens there
  const env = { BATCH_COMMIT_SIZE: '1' };
  const { srv, id, dataDir } = await ready(sol, onStop, env);
  await write(srv, 'old');
  await waitAnchored(srv, 2);
  await srv.stop();
  const keep = tempDir('vmdb-sol-backup-');
  const dump = path.join(keep, 'db.dump');
  await run('pg_dump', ['-Fc', '-f', dump, '-d', srv.db]);
  const STATE = ['trusted_state.json', 'trusted_state.journal', 'solana_anchor.json'];
  for (const f of STATE) fs.copyFileSync(path.join(dataDir, f), path.join(keep, f));
  const seen = new Set((await history(sol, id.address)).map((x) => x.signature));

  // One endpoint down: anchoring and writes go on through the other.
  const b = await startVmdb(sol, { db: srv.db, dataDir, env: { ...env, SOLANA_RPC_URL: `${DOWN},${sol.url}` } });
  onStop(() => b.stop());
  assert.equal((await health(b.url)).writes, 'ok');
  assert.equal((await write(b, 'new')).meta.committed, true, 'anchored with one endpoint down');
  await waitAnchored(b, 3);
  await b.stop();

  // A solana_anchor.json naming a transaction of the identity that is no
  // anchor (here a newer airdrop): start-up scans instead of waiting forever.
  const drop = await airdrop(sol, id.address, 1000);
  const rec = path.join(dataDir, 'solana_anchor.json');
  fs.writeFileSync(rec, JSON.stringify({ ...JSON.parse(fs.readFileSync(rec, 'utf8')), last_sig: drop }));
  const c = await startVmdb(sol, { db: srv.db, dataDir, env });
  onStop(() => c.stop());
  const hc = await waitFor('writes ok after the stale record', async () => { const h = await health(c.url); return h.writes === 'ok' ? h : null; });
  assert.equal(hc.anchor.anchored_seq, 3, JSON.stringify(hc));
  assert.match(c.log(), /is not an anchor of this identity.*scanning the identity's transactions/);
  assert.equal((await write(c, 'after')).meta.committed, true);
  await c.stop();

  // Database and data directory rolled back to seq 2; a proxy hides every
  // transaction since then. Through the proxy alone the rollback passes;
  // with the real RPC in the list too (and one endpoint down) it is caught.
  await psql(srv.db, 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  await run('pg_restore', ['--no-owner', '-d', srv.db, dump]);
  for (const f of STATE) fs.copyFileSync(path.join(keep, f), path.join(dataDir, f));
  const hidden = new Set((await history(sol, id.address)).map((x) => x.signature).filter((x) => !seen.has(x)));
  const proxy = await hidingProxy(sol.url, hidden);
  onStop(() => proxy.close());
  const cli = (url) => anchorCli(['status'], cliEnv(srv, sol, { SOLANA_RPC_URL: url }));
  assert.match((await cli(proxy.url)).stdout, /^newest_anchor_seq 2$/m, 'the proxy hides the newer anchors');
  assert.match((await cli(`${proxy.url},${DOWN},${sol.url}`)).stdout, /^newest_anchor_seq 4$/m);
  const d = await startVmdb(sol, { db: srv.db, dataDir, env: { ...env, SOLANA_RPC_URL: proxy.url } });
  onStop(() => d.stop());
  assert.equal((await health(d.url)).writes, 'ok', 'one hiding endpoint misses the rollback');
  await d.stop(); // (it wrote nothing, so the rollback is still there)
  const e = await startVmdb(sol, { db: srv.db, dataDir, env: { ...env, SOLANA_RPC_URL: `${proxy.url},${DOWN},${sol.url}` } });
  onStop(() => e.stop());
  const he = await health(e.url);
  assert.equal(he.status, 'degraded', JSON.stringify(he));
  assert.match(he.writes, /rollback|rolled back/i);
  assert.match(he.writes, /\b4\b/, `names the anchored seq 4: ${he.writes}`);
  fails(await post(e.url, '/api/models/notes/create-batch', { records: [{ body: 'refused' }] }), 503, 'WRITES_UNAVAILABLE');
});

// One conformance run on tools/solana-local (the Solana runtime behind a
// local JSON-RPC server): a real `vmdb serve` with VMDB_ANCHOR=solana anchors
// its admin transitions; both clients' checkAnchored / check_anchored
// confirm an anchored header and a header between two anchors (through the
// later one and a history proof), and raise NOT_ANCHORED for a header newer than
// the newest anchor (writes are not anchored: BATCH_COMMIT_SIZE and the
// anchor interval are large). Needs tools/solana-local/node_modules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { BIN, ROOT, startServer, startSolanaLocal, solanaRpc as rpc, tempDir, post, get, ok, health, applySchema, sleep } from '../integration/lib.mjs';
import { LANGS, runSteps } from './clients.mjs';

const run = promisify(execFile);
const TOOLS = path.join(ROOT, 'tools', 'solana-local');
const NOTES = { table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'serial', columns: [{ name: 'body', col_type: 'text' }] };

async function waitFor(what, fn, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

test('solana-local: checkAnchored confirms an anchored header and gives NOT_ANCHORED past the newest anchor, in both clients', async (t) => {
  assert.ok(fs.existsSync(path.join(TOOLS, 'node_modules')), 'tools/solana-local/node_modules is needed (npm ci there)');
  const sol = await startSolanaLocal();
  t.after(() => sol.stop());
  const dataDir = tempDir('vmdb-conform-sol-');
  fs.chmodSync(dataDir, 0o700);
  const { stdout } = await run(BIN, ['keygen', path.join(dataDir, 'identity.json')]);
  const pk = /^public_key ([0-9a-f]{64})$/m.exec(stdout)[1];
  const address = /^address (\S+)$/m.exec(stdout)[1];
  const sig = await rpc(sol.url, 'requestAirdrop', [address, 1_000_000_000]);
  await waitFor('airdrop', async () => {
    const st = (await rpc(sol.url, 'getSignatureStatuses', [[sig], { searchTransactionHistory: true }])).value[0];
    return st && (st.confirmationStatus === 'confirmed' || st.confirmationStatus === 'finalized');
  });
  const srv = await startServer({
    dataDir,
    env: { VMDB_ANCHOR: 'solana', SOLANA_RPC_URL: sol.url, SOLANA_KEYPAIR_PATH: undefined, VMDB_IDENTITY_KEY: undefined, BATCH_COMMIT_SIZE: '1000', VMDB_ANCHOR_INTERVAL: '3600' },
  });
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES]);
  const anchored = await waitFor('the schema transition anchored', async () => {
    const h = await health(srv.url);
    return h.anchor.anchored_seq >= 1 && h.anchor.backlog === 0 ? h.anchor.anchored_seq : null;
  });
  // Until the anchors are finalized too: the clients may read at either
  // commitment (JS: confirmed, Python: the RPC default, finalized), and this
  // test is about coverage, not about commitment levels.
  await waitFor('the anchors finalized', async () => {
    const list = async (commitment) => (await rpc(sol.url, 'getSignaturesForAddress', [address, { limit: 1000, commitment }])).length;
    const conf = await list('confirmed');
    return conf > 1 && (await list('finalized')) === conf;
  }, 60_000);
  // A write between two anchors: not anchored itself, covered by the later
  // anchor through a history proof (the clients' second path).
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'between anchors' }] }));
  const between = ok(await get(srv.url, '/api/roots/latest')).header;
  await applySchema(srv.url, [NOTES, { table_name: 'more', primary_key_field: 'id', primary_key_kind: 'serial', columns: [{ name: 'x', col_type: 'text' }] }]);
  const later = await waitFor('the second schema transition anchored', async () => {
    const h = await health(srv.url);
    return h.anchor.anchored_seq > between.seq && h.anchor.backlog === 0 ? h.anchor.anchored_seq : null;
  });
  await waitFor('the anchors finalized again', async () => {
    const list = async (commitment) => (await rpc(sol.url, 'getSignaturesForAddress', [address, { limit: 1000, commitment }])).length;
    const conf = await list('confirmed');
    return conf > 2 && (await list('finalized')) === conf;
  }, 60_000);
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'not anchored yet' }] }));
  const newer = ok(await get(srv.url, '/api/roots/latest')).header;
  assert.ok(newer.seq > anchored, `a header past the newest anchor (${newer.seq} > ${anchored})`);
  const old = ok(await get(srv.url, `/api/roots/${anchored}`)).header;
  for (const lang of LANGS) {
    const outs = await runSteps(lang, { url: srv.url, publicKey: pk, solanaRpc: sol.url },
      [{ op: 'sync' }, { op: 'checkAnchored', header: old }, { op: 'checkAnchored', header: newer }, { op: 'checkAnchored', header: between }]);
    assert.equal(outs[0].ok, true, `${lang} sync: ${outs[0].message}`);
    assert.equal(outs[1].ok, true, `${lang} checkAnchored(seq ${old.seq}): ${outs[1].message}`);
    assert.ok(outs[1].anchoredSeq >= old.seq, `${lang}: anchoredSeq ${outs[1].anchoredSeq} covers seq ${old.seq}`);
    assert.equal(outs[2].ok, false, `${lang} checkAnchored(seq ${newer.seq}) must fail`);
    assert.equal(outs[2].code, 'NOT_ANCHORED', `${lang}: ${outs[2].message}`);
    assert.equal(outs[3].ok, true, `${lang} checkAnchored(seq ${between.seq}), between anchors: ${outs[3].message}`);
    assert.equal(outs[3].anchoredSeq, later, `${lang}: covered by the later anchor (seq ${later})`);
  }
});

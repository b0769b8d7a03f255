// Upgrade in place (PROTOCOL.md §12): a database written under protocol v1
// (made here by a test build with VMDB_TEST_PROTOCOL=1, which writes v1
// headers, v1 signatures, a v1 trusted state file and anchors.bin exactly
// as the previous release did) is started by a normal vmdb: the chain goes
// on with one v2 header of kind upgrade whose prev is the last v1 header's
// hash, whose history holds every v1 header and whose chain_id is derived
// from v1 header 0; the v1 headers are still served with their v1
// signatures; reads verify, writes go on under v2, a restart is clean, and
// the trusted state file and the anchors move to v2. A build without the
// test hooks (VMDB_TEST_HOOKS) cannot make the v1 database and skips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, verify as edVerify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, post, get, ok, health, applySchema, psql, ed25519Key, encodeHeader, headerHashOf,
  readAnchorFile, verifyHeaderSig, skipWithoutHooks,
} from './lib.mjs';

const NOTES = {
  table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'body', col_type: 'text' }, { name: 'n', col_type: 'int', nullable: true }],
};
const sha256 = (...parts) => { const h = createHash('sha256'); for (const p of parts) h.update(p); return h.digest(); };
function mth(leaves) {
  if (leaves.length === 0) return sha256(Buffer.alloc(0));
  if (leaves.length === 1) return sha256(Buffer.from([0]), leaves[0]);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha256(Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** Headers 0..last as served, each checked by its version's rules; returns their hashes. */
async function checkHeaders(url, db, pkHex, last, what) {
  const hashes = [];
  const out = [];
  for (let s = 0; s <= last; s++) {
    const d = ok(await get(url, `/api/roots/${s}`), `${what}: roots/${s}`);
    const hd = d.header;
    const hh = headerHashOf(hd);
    assert.equal(hd.header_hash, hh.toString('hex'), `${what}: header ${s} hash (v${hd.version})`);
    assert.equal(hd.prev, s === 0 ? '0'.repeat(64) : hashes[s - 1].toString('hex'), `${what}: header ${s} links`);
    assert.equal(hd.history_root, mth(hashes).toString('hex'), `${what}: header ${s} history root`);
    assert.ok(verifyHeaderSig(hd, pkHex, 'committed'), `${what}: header ${s} signature (v${hd.version} rules)`);
    const stored = await psql(db, `SELECT encode(header, 'hex') FROM vmdb_headers WHERE seq = ${s}`);
    assert.equal(stored, encodeHeader(hd).toString('hex'), `${what}: header ${s} as stored`);
    hashes.push(hh);
    out.push({ ...hd, kind_text: d.kind });
  }
  return { hashes, headers: out };
}

test('a v1 database is upgraded in place: one v2 header of kind upgrade, the v1 history kept and verifiable', async (t) => {
  const env1 = { VMDB_TEST_PROTOCOL: '1', BATCH_COMMIT_SIZE: '1' };
  const a = await startServer({ env: env1 });
  t.after(() => a.stop());
  const g = ok(await get(a.url, '/api/roots/0')).header;
  if (skipWithoutHooks(t, g.version === 1, 'it cannot write a v1 database')) return;
  const pkHex = ok(await get(a.url, '/api/identity')).public_key;
  await applySchema(a.url, [NOTES]);
  const ids = [];
  for (let i = 0; i < 4; i++) {
    ids.push(...ok(await post(a.url, '/api/models/notes/create-batch', { records: [{ body: `v1 note ${i}`, n: i }] })).ids);
  }
  ok(await post(a.url, '/api/models/notes/upsert', { records: [{ id: ids[0], body: 'v1 edited' }] }));
  const n = (await health(a.url)).seq;
  const v1 = await checkHeaders(a.url, a.db, pkHex, n, 'v1 chain');
  for (const hd of v1.headers) {
    assert.equal(hd.version, 1, `v1 header ${hd.seq}`);
    assert.equal(hd.kind, undefined);
    assert.equal(hd.chain_id, undefined);
    // v1 signed the bare hash (no context), the same signature stored and served.
    assert.ok(edVerify(null, Buffer.from(hd.header_hash, 'hex'), ed25519Key(pkHex), Buffer.from(hd.sig, 'hex')));
    assert.equal(await psql(a.db, `SELECT encode(sig, 'hex') FROM vmdb_headers WHERE seq = ${hd.seq}`), hd.sig);
  }
  await a.stop();
  const tsFile = path.join(a.dataDir, 'trusted_state.json');
  assert.equal(JSON.parse(fs.readFileSync(tsFile, 'utf8')).version, 1, 'a v1 trusted state file');
  assert.ok(readAnchorFile(a.dataDir, 1).length > 0, 'v1 anchors in anchors.bin');
  assert.equal(readAnchorFile(a.dataDir, 2).length, 0, 'nothing in anchors2.bin');

  // A normal start upgrades.
  const b = await startServer({ db: a.db, dataDir: a.dataDir, env: { BATCH_COMMIT_SIZE: '1' } });
  t.after(() => b.stop());
  const hb = await health(b.url);
  assert.equal(hb.status, 'ok', JSON.stringify(hb));
  assert.equal(hb.writes, 'ok');
  assert.equal(hb.seq, n + 1, 'one header: the upgrade');
  assert.match(b.log(), /upgrade/);
  const all = await checkHeaders(b.url, b.db, pkHex, n + 1, 'upgraded chain');
  const up = all.headers[n + 1];
  assert.equal(up.version, 2);
  assert.equal(up.kind, 'upgrade');
  assert.equal(up.kind_text, 'upgrade');
  assert.equal(up.prev, v1.hashes[n].toString('hex'), 'prev = hash of the last v1 header');
  assert.equal(up.history_root, mth(v1.hashes).toString('hex'), 'the history holds every v1 header');
  const chainId = sha256(Buffer.from('vmdb/v2/chain\0'), Buffer.from(pkHex, 'hex'), v1.hashes[0]).toString('hex');
  assert.equal(up.chain_id, chainId, 'chain_id derived from v1 header 0 (§6.2)');
  assert.equal(up.smt_root, hb.temporary_root);
  assert.ok(!verifyHeaderSig(up, pkHex, 'intent'), 'the served signature is the header signature');
  for (let s = 0; s <= n; s++) {
    assert.deepEqual(all.headers[s], v1.headers[s], `v1 header ${s} served as before, with its v1 signature`);
  }
  const r = ok(await post(b.url, '/api/models/notes/read-batch', { ids }), 'reads');
  assert.equal(r.verified, true);
  assert.equal(r.records.length, ids.length);
  const w = ok(await post(b.url, '/api/models/notes/create-batch', { records: [{ body: 'v2 note' }] }), 'a write after the upgrade');
  assert.equal(w.meta.seq, n + 2);
  const hw = ok(await get(b.url, `/api/roots/${n + 2}`));
  assert.equal(hw.header.version, 2);
  assert.equal(hw.header.kind, 'write');
  assert.equal(hw.header.chain_id, chainId);
  assert.ok(verifyHeaderSig(hw.header, pkHex, 'committed'));
  await b.stop();
  const ts = JSON.parse(fs.readFileSync(tsFile, 'utf8'));
  assert.equal(ts.version, 2, 'the trusted state file is v2 now');
  assert.equal(ts.committed.seq, n + 2);
  const anchors2 = readAnchorFile(b.dataDir, 2);
  assert.ok(anchors2.length > 0 && anchors2[anchors2.length - 1].seq === n + 2, 'v2 anchors go to anchors2.bin');

  // A restart is clean and writes go on.
  const c = await startServer({ db: a.db, dataDir: a.dataDir });
  t.after(() => c.stop());
  const hc = await health(c.url);
  assert.equal(hc.status, 'ok', JSON.stringify(hc));
  assert.equal(hc.writes, 'ok');
  assert.equal(hc.seq, n + 2, 'no second upgrade');
  await checkHeaders(c.url, c.db, pkHex, n + 2, 'after restart');
  ok(await post(c.url, '/api/models/notes/upsert', { records: [{ id: ids[1], body: 'v2 edited' }] }));
  assert.equal(ok(await post(c.url, '/api/models/notes/read-batch', { ids })).verified, true);
  await c.stop();
});

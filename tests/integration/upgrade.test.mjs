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
  readAnchorFile, verifyHeaderSig, skipWithoutHooks, tempDir,
} from './lib.mjs';
import { verifyAnswer } from '../../clients/js/src/protocol.mjs';

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

/** A v1 database (test hooks), or null after skipping the test. */
async function v1Server(t, env = {}) {
  const a = await startServer({ env: { VMDB_TEST_PROTOCOL: '1', BATCH_COMMIT_SIZE: '1', ...env } });
  t.after(() => a.stop());
  if (skipWithoutHooks(t, ok(await get(a.url, '/api/roots/0')).header.version === 1, 'it cannot write a v1 database')) return null;
  return a;
}

test('the upgrade checks every row against the v1 tree: a row edited by SQL is not blessed', async (t) => {
  const a = await v1Server(t);
  if (!a) return;
  await applySchema(a.url, [NOTES]);
  // Enough rows that the start-up spot check (64 rows) usually misses the
  // edited one: the upgrade's own check must catch it.
  const records = Array.from({ length: 600 }, (_, i) => ({ body: `v1 note ${i}`, n: i }));
  const ids = ok(await post(a.url, '/api/models/notes/create-batch', { records })).ids;
  const n = (await health(a.url)).seq;
  await a.stop();
  const victim = ids[417];
  await psql(a.db, `UPDATE notes SET body = 'forged' WHERE id = ${victim}`);

  const b = await startServer({ db: a.db, dataDir: a.dataDir });
  t.after(() => b.stop());
  const hb = await health(b.url);
  assert.equal(hb.seq, n, 'no upgrade header');
  assert.equal(ok(await get(b.url, `/api/roots/${n}`)).header.version, 1, 'the chain stays on v1');
  assert.equal(hb.status, 'degraded');
  assert.equal(hb.integrity.ok, false);
  assert.match(hb.writes, /upgrade to protocol v2 was refused/);
  assert.match(b.log(), /upgrade: (refused|the chain stays on protocol v1)/);
  const byUpgrade = /rows and leaves differ from the v1 tree/.test(b.log());
  t.diagnostic(byUpgrade ? 'found by the upgrade\'s check' : 'found by the start-up spot check');
  assert.deepEqual(hb.integrity.last.ids, [String(victim)]);
  const r = await post(b.url, '/api/models/notes/read-batch', { ids: [victim] });
  assert.notEqual(r.status, 200, 'the forged row is not served');
  const w = await post(b.url, '/api/models/notes/create-batch', { records: [{ body: 'x' }] });
  assert.equal(w.status, 503, `writes are refused: ${w.text}`);

  // The operator's way out: a repair (which lists and accepts the change,
  // still on v1), then a restart upgrades.
  const rep = ok(await post(b.url, '/bootstrap/repair-roots', { confirm: true, accept_changes: true }), 'repair-roots');
  assert.equal(rep.diff.count, 1, 'the repair lists the forged row');
  assert.equal(ok(await get(b.url, `/api/roots/${n + 1}`)).header.version, 1, 'a v1 repair header');
  await b.stop();
  const c = await startServer({ db: a.db, dataDir: a.dataDir });
  t.after(() => c.stop());
  const hc = await health(c.url);
  assert.equal(hc.status, 'ok', JSON.stringify(hc));
  assert.equal(hc.seq, n + 2);
  const up = ok(await get(c.url, `/api/roots/${n + 2}`)).header;
  assert.equal(up.version, 2);
  assert.equal(up.kind, 'upgrade');
  assert.equal(ok(await post(c.url, '/api/models/notes/read-batch', { ids: [victim] })).records[0].body, 'forged');
});

test('the upgrade of a table with real, bytea and bigint[] columns: rehashed, reads verify', async (t) => {
  const migDir = tempDir('vmdb-upg-mig-');
  const a = await v1Server(t, { VMDB_MIGRATIONS_DIR: migDir });
  if (!a) return;
  const BLOBS = {
    table_name: 'blobs', primary_key_field: 'id', primary_key_kind: 'serial',
    columns: [{ name: 'label', col_type: 'text' }],
  };
  await applySchema(a.url, [BLOBS]);
  fs.writeFileSync(path.join(migDir, '20261208000000_real_bytea.sql'), String.raw`
ALTER TABLE blobs ADD COLUMN r real, ADD COLUMN b bytea, ADD COLUMN ia bigint[];
INSERT INTO blobs (label, r, b, ia) VALUES
  ('max', 3.4028235e+38, '\xdeadbeef', '{1,9223372036854775807}'),
  ('tiny', 1e-45, '\x', '{}'),
  ('nulls', NULL, NULL, NULL),
  ('tenth', 0.1, '\x00ff', '{-1,NULL}');
`);
  ok(await post(a.url, '/bootstrap/migrate', { confirm: true }), 'migrate');
  const ids = ok(await post(a.url, '/api/models/blobs/read-latest', { limit: 10 })).records.map((x) => String(x.id));
  assert.equal(ids.length, 4);
  const n = (await health(a.url)).seq;
  await a.stop();

  const b = await startServer({ db: a.db, dataDir: a.dataDir, env: { VMDB_MIGRATIONS_DIR: migDir } });
  t.after(() => b.stop());
  const hb = await health(b.url);
  assert.equal(hb.status, 'ok', JSON.stringify(hb));
  assert.equal(hb.seq, n + 1, 'one header: the upgrade');
  const up = ok(await get(b.url, `/api/roots/${n + 1}`)).header;
  assert.equal(up.kind, 'upgrade');
  const pub = ok(await get(b.url, '/api/identity')).public_key;
  const d = ok(await post(b.url, '/api/models/blobs/read-batch', { ids, proof: true }));
  const v = verifyAnswer(d, 'read-batch', pub, { chainId: up.chain_id, table: 'blobs', ids });
  assert.equal(v.ok, true, v.reason);
  assert.equal(d.proof.header.seq, n + 1);
  const byLabel = Object.fromEntries(d.records.map((x) => [x.label, x]));
  assert.equal(byLabel.max.r, 3.4028235e+38);
  assert.equal(byLabel.max.b, '\\xdeadbeef');
  assert.deepEqual(byLabel.max.ia, ['1', '9223372036854775807']);
  assert.equal(byLabel.tiny.r, 1e-45);
  assert.equal(byLabel.tiny.b, '\\x');
  assert.equal(byLabel.tenth.r, 0.1);
  // The tree is the v2 tree of the rows: a repair finds nothing to change.
  const rep = ok(await post(b.url, '/bootstrap/repair-roots', { confirm: true }), 'repair-roots');
  assert.equal(rep.diff.count, 0);
});

// Trust (issue items 7-8): the identity key, the signed header chain
// (/api/roots), and start-up recovery refusing writes with a named reason
// when the trusted state file was edited or deleted, the database was rolled
// back behind the anchor (then no admin transition may re-bless it), a header
// was deleted or edited, or leaves were reordered; SIGTERM/SIGINT anchor the
// pending header; a restart right after kill -9 waits for a COMMIT that
// PostgreSQL is still running.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, verify as edVerify } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  BIN, startServer, spawnServer, tempDir, psql, post, get, ok, fails, health,
  applySchema, isHex64, rowKey, sleep, ed25519Key, encodeHeader, headerHashOfEncoding, readAnchorFile, sigMessage,
  verifyHeaderSig,
} from './lib.mjs';

const run = promisify(execFile);
const NOTES = {
  table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'body', col_type: 'text' }, { name: 'n', col_type: 'int', nullable: true }],
};
const REC = 242; // anchors2.bin record: 178-byte encoded v2 header + 64-byte header signature
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

const sha256 = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

function base58Decode(s) {
  let n = 0n;
  for (const c of s) {
    const i = B58.indexOf(c);
    assert.ok(i >= 0, `base58 character ${c}`);
    n = n * 58n + BigInt(i);
  }
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  const lead = s.match(/^1*/)[0].length;
  return Buffer.concat([Buffer.alloc(lead), n === 0n ? Buffer.alloc(0) : Buffer.from(hex, 'hex')]);
}

const headerHash = headerHashOfEncoding;

/** PROTOCOL.md §7: RFC 9162 Merkle tree hash over header hashes. */
function mth(leaves) {
  if (leaves.length === 0) return sha256(Buffer.alloc(0));
  if (leaves.length === 1) return sha256(Buffer.from([0]), leaves[0]);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return sha256(Buffer.from([1]), mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

/** Records of anchors2.bin (PROTOCOL.md §8.2): [{seq, header (178 bytes), sig (64 bytes)}]. */
const readAnchors = (dataDir) => readAnchorFile(dataDir, 2);

const newestHeaderSeq = async (db) => Number(await psql(db, 'SELECT max(seq) FROM vmdb_headers'));

/** Waits for a process started with spawnServer to exit (it must, within 20 s). */
async function mustExit(s) {
  let timer;
  const res = await Promise.race([s.exited, new Promise((r) => { timer = setTimeout(() => r('timeout'), 20_000); })]);
  clearTimeout(timer);
  if (res === 'timeout') {
    s.proc.kill('SIGKILL');
    assert.fail(`vmdb serve did not exit; log:\n${s.log()}`);
  }
  return res;
}

/** A server with the notes table and `n` sequential writes. */
async function setup(opts = {}, n = 3) {
  const srv = await startServer(opts);
  await applySchema(srv.url, [NOTES]);
  const writes = [];
  for (let i = 0; i < n; i++) {
    writes.push(ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: `note ${i}`, n: i }] })));
  }
  const h = await health(srv.url);
  assert.equal(h.status, 'ok');
  assert.equal(h.writes, 'ok');
  return { srv, writes };
}

/**
 * Health after a detected problem: degraded, integrity not ok, `writes`
 * holding the reason (matched against `reason`); a write answers 503
 * WRITES_UNAVAILABLE with that reason; reads still answer.
 */
async function assertRefused(srv, reason, what) {
  const h = await health(srv.url);
  assert.equal(h.status, 'degraded', `${what}: health status; ${JSON.stringify(h)}`);
  assert.equal(h.integrity.ok, false, `${what}: integrity.ok`);
  assert.ok(h.integrity.violations >= 1, `${what}: integrity.violations`);
  assert.notEqual(h.writes, 'ok', `${what}: health.writes names the reason`);
  assert.match(h.writes, reason, `${what}: health.writes = ${JSON.stringify(h.writes)}`);
  const w = fails(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'refused' }] }),
    503, 'WRITES_UNAVAILABLE', `${what}: write`);
  assert.match(w.error, reason, `${what}: the write's error names the reason`);
  fails(await post(srv.url, '/api/models/notes/upsert', { records: [{ id: 1, body: 'refused' }] }),
    503, 'WRITES_UNAVAILABLE', `${what}: upsert`);
  return h;
}

/**
 * After a detected rollback no admin transition may bless the database:
 * repair-roots, clear-data, apply-schema and migrate answer 409
 * ROLLBACK_DETECTED, and nothing is written.
 */
async function assertNoAdminTransition(srv, what) {
  const before = await psql(srv.db, 'SELECT count(*) || \',\' || max(seq) FROM vmdb_headers');
  const rows = await psql(srv.db, 'SELECT count(*) FROM notes');
  fails(await post(srv.url, '/bootstrap/repair-roots', { confirm: true }), 409, 'ROLLBACK_DETECTED', `${what}: repair-roots`);
  fails(await post(srv.url, '/bootstrap/clear-data', { confirm: true }), 409, 'ROLLBACK_DETECTED', `${what}: clear-data`);
  fails(await post(srv.url, '/bootstrap/migrate', { confirm: true }), 409, 'ROLLBACK_DETECTED', `${what}: migrate`);
  fails(await post(srv.url, '/bootstrap/apply-schema', { tables: [NOTES], force_reset: true }), 409, 'ROLLBACK_DETECTED',
    `${what}: apply-schema with force_reset`);
  assert.equal(await psql(srv.db, 'SELECT count(*) || \',\' || max(seq) FROM vmdb_headers'), before, `${what}: no header written`);
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM notes'), rows, `${what}: rows untouched`);
}

test('identity: /api/identity, identity.json mode 0600, a 0644 key refuses to start, vmdb keygen + VMDB_IDENTITY_KEY', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  const id = ok(await get(srv.url, '/api/identity'));
  assert.ok(isHex64(id.public_key), `public_key: ${id.public_key}`);
  assert.match(id.address, /^[1-9A-HJ-NP-Za-km-z]{32,44}$/, 'address is base58');
  assert.equal(base58Decode(id.address).toString('hex'), id.public_key, 'the address is the base58 form of the public key');
  assert.equal(id.anchor, 'local');

  const keyPath = path.join(srv.dataDir, 'identity.json');
  assert.equal(fs.statSync(keyPath).mode & 0o777, 0o600, 'identity.json has mode 0600');
  const key = JSON.parse(fs.readFileSync(keyPath, 'utf8'));
  assert.equal(key.length, 64, 'Solana keypair JSON: 64 bytes');
  assert.equal(Buffer.from(key.slice(32)).toString('hex'), id.public_key, 'its public half is the reported key');
  const latest = ok(await get(srv.url, '/api/roots/latest'));
  assert.equal(latest.public_key, id.public_key);

  // A copy readable by others: refused, the log says why.
  const loose = path.join(tempDir('vmdb-key-'), 'loose.json');
  fs.copyFileSync(keyPath, loose);
  fs.chmodSync(loose, 0o644);
  const bad = await spawnServer({ env: { VMDB_IDENTITY_KEY: loose } });
  const res = await mustExit(bad);
  assert.notEqual(res.code, 0, `exit status with a 0644 key; log:\n${bad.log()}`);
  assert.match(bad.log(), /mode 644|chmod 600/, 'the log names the mode');
  // The default key file made readable by others: refused as well.
  await srv.stop();
  fs.chmodSync(keyPath, 0o644);
  const bad2 = await spawnServer({ db: srv.db, dataDir: srv.dataDir });
  assert.notEqual((await mustExit(bad2)).code, 0, `exit status with identity.json 0644; log:\n${bad2.log()}`);
  fs.chmodSync(keyPath, 0o600);
  const again = await startServer({ db: srv.db, dataDir: srv.dataDir });
  t.after(() => again.stop());
  assert.equal(ok(await get(again.url, '/api/identity')).public_key, id.public_key, 'same key after chmod 600');

  // vmdb keygen <path>: mode 0600, prints the key; never overwrites.
  const kdir = tempDir('vmdb-keygen-');
  const kp = path.join(kdir, 'id.json');
  const { stdout } = await run(BIN, ['keygen', kp]);
  assert.equal(fs.statSync(kp).mode & 0o777, 0o600, 'keygen writes mode 0600');
  const gen = JSON.parse(fs.readFileSync(kp, 'utf8'));
  const pk = Buffer.from(gen.slice(32)).toString('hex');
  assert.match(stdout, new RegExp(`public_key ${pk}`), `keygen output: ${stdout}`);
  const before = fs.readFileSync(kp);
  await assert.rejects(run(BIN, ['keygen', kp]), 'keygen refuses an existing file');
  assert.deepEqual(fs.readFileSync(kp), before, 'the existing key is untouched');

  // VMDB_IDENTITY_KEY=<that file>: the server reports that key and does
  // not create identity.json in its data directory.
  const withKey = await startServer({ env: { VMDB_IDENTITY_KEY: kp } });
  t.after(() => withKey.stop());
  const id2 = ok(await get(withKey.url, '/api/identity'));
  assert.equal(id2.public_key, pk, 'the server uses the key of VMDB_IDENTITY_KEY');
  assert.notEqual(id2.public_key, id.public_key);
  assert.ok(!fs.existsSync(path.join(withKey.dataDir, 'identity.json')), 'no default key generated');
  // A key given by path is never generated: a missing one refuses to start.
  const missing = await spawnServer({ env: { VMDB_IDENTITY_KEY: path.join(kdir, 'nope.json') } });
  assert.notEqual((await mustExit(missing)).code, 0, `missing VMDB_IDENTITY_KEY file; log:\n${missing.log()}`);
});

test('roots: signed headers, seq +1 per write group, prev = hash of the previous header, history roots, meta.seq', async (t) => {
  const srv = await startServer({ env: { BATCH_COMMIT_SIZE: '1000' } });
  t.after(() => srv.stop());
  const pkHex = ok(await get(srv.url, '/api/identity')).public_key;
  const pub = ed25519Key(pkHex);
  await applySchema(srv.url, [NOTES]);
  const acks = [];
  for (let i = 0; i < 6; i++) {
    const d = i % 2
      ? ok(await post(srv.url, '/api/models/notes/upsert', { records: [{ id: 1, body: `u${i}` }] }))
      : ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: `c${i}` }, { body: `c${i}b` }] }));
    if (acks.length) assert.equal(d.meta.seq, acks[acks.length - 1].meta.seq + 1, 'one header per sequential write');
    acks.push(d);
  }
  const last = acks[acks.length - 1].meta.seq;
  const h = await health(srv.url);
  assert.equal(h.seq, last, 'health seq = the last write\'s meta.seq');

  // Every header from genesis: its fields, hash, signature, link and history root.
  const hashes = [];
  let chainId = null;
  let prevTime = 0;
  for (let s = 0; s <= last; s++) {
    const d = ok(await get(srv.url, `/api/roots/${s}`), `roots/${s}`);
    const hd = d.header;
    assert.deepEqual(Object.keys(hd).sort(),
      ['chain_id', 'header_hash', 'history_root', 'kind', 'prev', 'schema_hash', 'seq', 'sig', 'smt_root', 'time_ms', 'version'], `header ${s} fields`);
    assert.equal(hd.seq, s);
    assert.equal(hd.version, 2, `header ${s} is v2`);
    for (const f of ['chain_id', 'smt_root', 'prev', 'history_root', 'schema_hash', 'header_hash']) assert.ok(isHex64(hd[f]), `header ${s}.${f}`);
    if (s > 0) assert.equal(hd.chain_id, chainId, `header ${s}: the chain_id of header 0`);
    else chainId = hd.chain_id;
    assert.match(hd.sig, /^[0-9a-f]{128}$/);
    assert.ok(Number.isInteger(hd.time_ms) && hd.time_ms >= prevTime, `header ${s} time_ms does not go back`);
    prevTime = hd.time_ms;
    const enc = encodeHeader(hd);
    const hh = headerHash(enc);
    assert.equal(enc.length, 178);
    assert.equal(hd.header_hash, hh.toString('hex'), `header ${s}: header_hash = H("vmdb/v2/header" 0x00 || encoding)`);
    assert.ok(verifyHeaderSig(hd, pkHex, 'committed'), `header ${s}: header signature (committed context) by the identity`);
    assert.ok(!verifyHeaderSig(hd, pkHex, 'intent'), `header ${s}: the header signature is no intent signature`);
    assert.ok(!edVerify(null, hh, pub, Buffer.from(hd.sig, 'hex')), `header ${s}: not a signature of the bare hash`);
    assert.equal(hd.prev, s === 0 ? '0'.repeat(64) : hashes[s - 1].toString('hex'), `header ${s}.prev = hash of header ${s - 1}`);
    assert.equal(hd.history_root, mth(hashes).toString('hex'), `header ${s}.history_root = MTH of headers 0..${s - 1}`);
    // PostgreSQL holds the header and its intent signature, never the header signature.
    const [storedEnc, storedSig] = (await psql(srv.db, `SELECT encode(header, 'hex') || ' ' || encode(sig, 'hex') FROM vmdb_headers WHERE seq = ${s}`)).split(' ');
    assert.equal(storedEnc, enc.toString('hex'), `header ${s} as stored in vmdb_headers`);
    assert.notEqual(storedSig, hd.sig, `header ${s}: the stored signature is not the header signature`);
    assert.ok(verifyHeaderSig(hd, pkHex, 'intent', storedSig), `header ${s}: the stored signature is the intent signature`);
    assert.equal(d.kind, s === 0 ? 'genesis' : s === 1 ? 'reset' : 'write', `header ${s} kind`);
    assert.equal(hd.kind, d.kind, `header ${s}: the signed kind is the transition's`);
    hashes.push(hh);
  }
  for (const a of acks) {
    const hd = ok(await get(srv.url, `/api/roots/${a.meta.seq}`)).header;
    assert.equal(hd.smt_root, a.meta.proposed_root, `header ${a.meta.seq}.smt_root = the write's proposed_root`);
  }
  const latest = ok(await get(srv.url, '/api/roots/latest'));
  assert.equal(latest.header.seq, last);
  assert.equal(latest.header.smt_root, h.temporary_root);
  assert.equal(latest.header.header_hash, hashes[last].toString('hex'));
  assert.equal(latest.public_key, pkHex);
  assert.equal(latest.anchor, 'local');
  assert.ok(latest.anchored && latest.anchored.seq <= last, `anchored: ${JSON.stringify(latest.anchored)}`);
  assert.equal(latest.backlog, last - latest.anchored.seq);
  fails(await get(srv.url, `/api/roots/${last + 1}`), 404, 'NOT_FOUND', 'a header not yet written');

  // Concurrent writes share a header: still +1 per group, never a gap.
  const many = await Promise.all(Array.from({ length: 24 }, (_, i) =>
    post(srv.url, '/api/models/notes/create-batch', { records: [{ body: `p${i}` }] })));
  const seqs = [...new Set(many.map((r) => ok(r).meta.seq))].sort((a, b) => a - b);
  const h2 = await health(srv.url);
  assert.equal(seqs[0], last + 1);
  assert.equal(h2.seq, seqs[seqs.length - 1]);
  for (let s = last + 1; s <= h2.seq; s++) {
    const hd = ok(await get(srv.url, `/api/roots/${s}`)).header;
    assert.equal(hd.prev, ok(await get(srv.url, `/api/roots/${s - 1}`)).header.header_hash, `header ${s} links`);
  }
  for (const r of many) {
    assert.equal(ok(await get(srv.url, `/api/roots/${r.json.data.meta.seq}`)).header.smt_root, r.json.data.meta.proposed_root);
  }
});

test('an edited trusted state file: writes 503 WRITES_UNAVAILABLE, health names the trusted state; reads go on', async (t) => {
  const { srv, writes } = await setup();
  await srv.stop();
  const file = path.join(srv.dataDir, 'trusted_state.json');
  const ts = JSON.parse(fs.readFileSync(file, 'utf8'));
  assert.equal(ts.intent, null, 'a clean stop leaves no intent');
  // Flip one hex digit of the committed header's smt_root.
  const hex = ts.committed.header;
  const i = 16 + 5;
  ts.committed.header = hex.slice(0, i) + (hex[i] === '0' ? '1' : '0') + hex.slice(i + 1);
  fs.writeFileSync(file, JSON.stringify(ts, null, 2));

  const b = await startServer({ db: srv.db, dataDir: srv.dataDir });
  t.after(() => b.stop());
  await assertRefused(b, /trusted state/, 'edited trusted state');
  const r = ok(await post(b.url, '/api/models/notes/read-batch', { ids: writes[0].ids }), 'reads still work');
  assert.equal(r.verified, true);
  // The file is not rewritten by a blocked server, so the refusal stays.
  await b.stop();
  const c = await startServer({ db: srv.db, dataDir: srv.dataDir });
  t.after(() => c.stop());
  await assertRefused(c, /trusted state/, 'still edited after another restart');
});

test('rollback: an older database with its older trusted state while the anchor is ahead is refused; so is an older database alone', async (t) => {
  const env = { BATCH_COMMIT_SIZE: '1' };
  const { srv } = await setup({ env });
  await srv.stop();
  const keep = tempDir('vmdb-backup-');
  const dump = path.join(keep, 'db.dump');
  const tsFile = path.join(srv.dataDir, 'trusted_state.json');
  const jFile = path.join(srv.dataDir, 'trusted_state.journal');
  await run('pg_dump', ['-Fc', '-f', dump, '-d', srv.db]);
  // A rollback of the disk brings back both trusted state files.
  fs.copyFileSync(tsFile, path.join(keep, 'old_trusted_state.json'));
  fs.copyFileSync(jFile, path.join(keep, 'old_trusted_state.journal'));
  const oldSeq = await newestHeaderSeq(srv.db);

  const b = await startServer({ db: srv.db, dataDir: srv.dataDir, env });
  for (let i = 0; i < 3; i++) ok(await post(b.url, '/api/models/notes/create-batch', { records: [{ body: `later ${i}` }] }));
  const newSeq = (await health(b.url)).seq;
  await b.stop();
  fs.copyFileSync(tsFile, path.join(keep, 'new_trusted_state.json'));
  fs.copyFileSync(jFile, path.join(keep, 'new_trusted_state.journal'));
  const anchors = readAnchors(srv.dataDir);
  assert.equal(anchors[anchors.length - 1].seq, newSeq, 'the anchor moved ahead with the writes');
  assert.ok(newSeq > oldSeq);

  // Restore the older database and the older trusted state; keep anchors2.bin.
  await psql(srv.db, 'DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  await run('pg_restore', ['--no-owner', '-d', srv.db, dump]);
  assert.equal(await newestHeaderSeq(srv.db), oldSeq, 'the older database is back');
  fs.copyFileSync(path.join(keep, 'old_trusted_state.json'), tsFile);
  fs.copyFileSync(path.join(keep, 'old_trusted_state.journal'), jFile);
  const c = await startServer({ db: srv.db, dataDir: srv.dataDir, env });
  t.after(() => c.stop());
  const h = await assertRefused(c, /anchor/, 'rolled back behind the anchor');
  assert.match(h.writes, /rollback|rolled back/i, `the reason says rollback: ${h.writes}`);
  assert.match(h.writes, new RegExp(`\\b${newSeq}\\b`), `the reason names the anchored seq ${newSeq}: ${h.writes}`);
  const r = ok(await post(c.url, '/api/models/notes/read-latest', { limit: 10 }), 'reads still work');
  assert.equal(r.ids.length, 3, 'the older rows');
  await assertNoAdminTransition(c, 'behind the anchor');
  await c.stop();
  assert.deepEqual(fs.readFileSync(tsFile), fs.readFileSync(path.join(keep, 'old_trusted_state.json')),
    'a blocked server leaves the trusted state file alone');

  // The older database with the newer trusted state file: refused as well.
  fs.copyFileSync(path.join(keep, 'new_trusted_state.json'), tsFile);
  fs.copyFileSync(path.join(keep, 'new_trusted_state.journal'), jFile);
  const d = await startServer({ db: srv.db, dataDir: srv.dataDir, env });
  t.after(() => d.stop());
  const hd = await assertRefused(d, /rolled back|older than the trusted state/, 'database older than the trusted state');
  assert.match(hd.writes, /trusted state/);
  await assertNoAdminTransition(d, 'older than the trusted state');
});

test('a deleted header row (not the newest): refused, the reason names the header chain', async (t) => {
  const { srv } = await setup({}, 4);
  await srv.stop();
  const newest = await newestHeaderSeq(srv.db);
  const victim = newest - 2;
  await psql(srv.db, `DELETE FROM vmdb_headers WHERE seq = ${victim}`);
  const b = await startServer({ db: srv.db, dataDir: srv.dataDir });
  t.after(() => b.stop());
  const h = await assertRefused(b, /header chain/, 'deleted header');
  assert.match(h.writes, new RegExp(`header ${victim}\\b`), `the reason names header ${victim}: ${h.writes}`);
  ok(await post(b.url, '/api/models/notes/read-batch', { ids: ['1', '2'] }), 'reads still work');
  fails(await post(b.url, '/bootstrap/repair-roots', { confirm: true }), 409, 'HISTORY_BROKEN',
    'repair cannot extend a broken chain');
});

test('an edited header row (its smt_root changed): refused, the reason names the header chain', async (t) => {
  const { srv } = await setup({}, 4);
  await srv.stop();
  const newest = await newestHeaderSeq(srv.db);
  const victim = newest - 1;
  // bytes 9..40 of the encoding are smt_root (1-based for overlay)
  await psql(srv.db, `UPDATE vmdb_headers SET header = overlay(header placing '\\x00ff'::bytea from 12 for 2) WHERE seq = ${victim}`);
  const b = await startServer({ db: srv.db, dataDir: srv.dataDir });
  t.after(() => b.stop());
  const h = await assertRefused(b, /header chain/, 'edited header');
  assert.match(h.writes, new RegExp(`header ${victim + 1} does not link|header ${victim}`), h.writes);
});

test('reordered leaves (two vmdb_leaves values swapped): refused with a root mismatch; reads of those ids are INTEGRITY_VIOLATION', async (t) => {
  const { srv, writes } = await setup({}, 4);
  await srv.stop();
  const [a, b] = [writes[0].ids[0], writes[1].ids[0]];
  const ka = rowKey('notes', a).toString('hex');
  const kb = rowKey('notes', b).toString('hex');
  const before = await psql(srv.db, 'SELECT count(*) FROM vmdb_leaves');
  await psql(srv.db, `UPDATE vmdb_leaves SET value = CASE key WHEN '\\x${ka}'::bytea THEN (SELECT value FROM vmdb_leaves WHERE key = '\\x${kb}'::bytea)
    ELSE (SELECT value FROM vmdb_leaves WHERE key = '\\x${ka}'::bytea) END WHERE key IN ('\\x${ka}'::bytea, '\\x${kb}'::bytea)`);
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM vmdb_leaves'), before);
  const s = await startServer({ db: srv.db, dataDir: srv.dataDir });
  t.after(() => s.stop());
  await assertRefused(s, /root|do not match/, 'reordered leaves');
  for (const id of [a, b]) {
    const r = fails(await post(s.url, '/api/models/notes/read-batch', { ids: [id] }), 400, 'INTEGRITY_VIOLATION', `read of ${id}`);
    assert.deepEqual(r.data.ids, [id]);
  }
  const other = writes[2].ids[0];
  assert.equal(ok(await post(s.url, '/api/models/notes/read-batch', { ids: [other] }), 'an untouched id').verified, true);
});

test('the trusted state journal: after kill -9 it holds the newest intent; a broken other slot is ignored; a deleted journal is refused', async (t) => {
  const { srv } = await setup({}, 4);
  const newest = (await health(srv.url)).seq;
  await srv.kill9();
  const tsFile = path.join(srv.dataDir, 'trusted_state.json');
  const jFile = path.join(srv.dataDir, 'trusted_state.journal');
  const ts = JSON.parse(fs.readFileSync(tsFile, 'utf8'));
  assert.ok(ts.committed.seq < newest, `the file is a checkpoint (seq ${ts.committed.seq}), behind the newest header ${newest}`);
  const journal = fs.readFileSync(jFile);
  assert.equal(journal.length, 8192, 'two 4096-byte slots');
  const slot = (i) => {
    const b = journal.subarray(i * 4096, (i + 1) * 4096);
    const end = b.indexOf(0);
    return JSON.parse(b.subarray(0, end < 0 ? 4096 : end).toString('utf8'));
  };
  const mine = slot(newest % 2);
  assert.equal(mine.intent.seq, newest, 'the slot of the newest seq holds it as the intent');
  assert.equal(mine.committed.seq, newest - 1);
  assert.equal(slot((newest + 1) % 2).intent.seq, newest - 1, 'the other slot holds the intent before it');

  // Without the journal the database is ahead of the file: refused, never
  // taken on the database's word.
  fs.rmSync(jFile);
  const b = await startServer({ db: srv.db, dataDir: srv.dataDir });
  await assertRefused(b, /trusted state/, 'deleted journal');
  await b.stop();

  // The journal back, with the other slot torn: the newest slot carries it.
  const torn = Buffer.from(journal);
  const other = ((newest + 1) % 2) * 4096;
  torn.fill(0x41, other + 100, other + 4096);
  fs.writeFileSync(jFile, torn);
  const c = await startServer({ db: srv.db, dataDir: srv.dataDir });
  t.after(() => c.stop());
  const h = await health(c.url);
  assert.equal(h.status, 'ok', JSON.stringify(h));
  assert.equal(h.writes, 'ok');
  assert.equal(h.seq, newest);
  assert.equal(ok(await post(c.url, '/api/models/notes/create-batch', { records: [{ body: 'after' }] })).meta.seq, newest + 1);
});

test('a deleted trusted_state.json: refused ("missing"); repair-roots re-blesses and writes work again', async (t) => {
  const { srv, writes } = await setup();
  await srv.stop();
  const tsFile = path.join(srv.dataDir, 'trusted_state.json');
  fs.rmSync(tsFile);
  const b = await startServer({ db: srv.db, dataDir: srv.dataDir });
  await assertRefused(b, /missing/, 'deleted trusted state');
  assert.match((await health(b.url)).writes, /trusted state/);
  ok(await post(b.url, '/api/models/notes/read-batch', { ids: writes[0].ids }), 'reads still work');
  const seq = (await health(b.url)).seq;
  const rep = ok(await post(b.url, '/bootstrap/repair-roots', { confirm: true }), 'repair-roots');
  assert.equal(rep.seq, seq + 1);
  assert.ok(fs.existsSync(tsFile), 'repair-roots writes the trusted state file');
  const h = await health(b.url);
  assert.equal(h.writes, 'ok', 'writes are allowed again');
  const w = ok(await post(b.url, '/api/models/notes/create-batch', { records: [{ body: 'after repair' }] }), 'write after repair');
  assert.equal(w.meta.seq, seq + 2);
  await b.stop();
  // A restart finds everything consistent again.
  const c = await startServer({ db: srv.db, dataDir: srv.dataDir });
  t.after(() => c.stop());
  const hc = await health(c.url);
  assert.equal(hc.status, 'ok', JSON.stringify(hc));
  assert.equal(hc.integrity.ok, true);
  assert.equal(hc.writes, 'ok');
  assert.equal(hc.seq, seq + 2);
});

test('SIGTERM and SIGINT anchor the pending header (BATCH_COMMIT_SIZE=1000, VMDB_ANCHOR_INTERVAL=3600)', async () => {
  for (const sig of ['SIGTERM', 'SIGINT']) {
    const env = { BATCH_COMMIT_SIZE: '1000', VMDB_ANCHOR_INTERVAL: '3600' };
    const { srv } = await setup({ env }, 4);
    const latest = ok(await get(srv.url, '/api/roots/latest'));
    assert.ok(latest.backlog > 0, `${sig}: headers wait for the anchor (backlog ${latest.backlog})`);
    const anchoredBefore = readAnchors(srv.dataDir);
    assert.ok(anchoredBefore[anchoredBefore.length - 1].seq < latest.header.seq, `${sig}: not anchored before the stop`);
    const ex = await srv.stop(sig);
    assert.deepEqual(ex, { code: 0, signal: null }, `${sig}: clean exit`);
    const newest = await newestHeaderSeq(srv.db);
    assert.equal(newest, latest.header.seq);
    const size = fs.statSync(path.join(srv.dataDir, 'anchors2.bin')).size;
    assert.equal(size % REC, 0, `${sig}: whole 242-byte records`);
    assert.equal(fs.statSync(path.join(srv.dataDir, 'anchors.bin')).size, 0, `${sig}: no v1 records`);
    const recs = readAnchors(srv.dataDir);
    const lastRec = recs[recs.length - 1];
    assert.equal(lastRec.seq, newest, `${sig}: the last anchor record is the newest header`);
    const [stored, storedSig] = (await psql(srv.db, `SELECT encode(header, 'hex') || ' ' || encode(sig, 'hex') FROM vmdb_headers WHERE seq = ${newest}`)).split(' ');
    assert.equal(lastRec.header.toString('hex'), stored, `${sig}: the record is that header`);
    assert.notEqual(lastRec.sig.toString('hex'), storedSig, `${sig}: with its header signature, not the stored intent signature`);
    assert.ok(edVerify(null, sigMessage(2, 'committed', headerHash(lastRec.header)), ed25519Key(latest.public_key), lastRec.sig), `${sig}: the record verifies`);
    for (let i = 1; i < recs.length; i++) assert.ok(recs[i].seq > recs[i - 1].seq, `${sig}: records in seq order`);
    const ts = JSON.parse(fs.readFileSync(path.join(srv.dataDir, 'trusted_state.json'), 'utf8'));
    assert.equal(ts.committed.seq, newest, `${sig}: the trusted state holds the newest header`);
    assert.equal(ts.intent, null, `${sig}: no intent after a clean stop`);
    // And the restart is clean.
    const b = await startServer({ db: srv.db, dataDir: srv.dataDir, env });
    const h = await health(b.url);
    assert.equal(h.status, 'ok');
    assert.equal(h.writes, 'ok');
    assert.equal(ok(await get(b.url, '/api/roots/latest')).backlog, 0, `${sig}: nothing to anchor after the restart`);
    assert.equal(ok(await get(b.url, `/api/roots/${newest}`)).header.sig, lastRec.sig.toString('hex'), `${sig}: the anchored signature is the one served`);
    await b.stop();
  }
});

test('kill -9 while COMMIT is still running in PostgreSQL, restart at once: the new instance waits for it and continues (no false alarm)', async (t) => {
  const { srv } = await setup({}, 2);
  const seq0 = (await health(srv.url)).seq;
  // A deferred trigger makes COMMIT take 2 s, as a slow WAL flush would.
  await psql(srv.db, `CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(2); RETURN NULL; END $$;
    CREATE CONSTRAINT TRIGGER slow_commit AFTER UPDATE ON vmdb_state DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();`);
  const inflight = post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'in flight' }] }).catch(() => null);
  await sleep(500);
  await srv.kill9();
  assert.equal(await inflight, null, 'the write got no answer');
  let b;
  for (let i = 0; !b; i++) {
    try {
      b = await startServer({ db: srv.db, dataDir: srv.dataDir });
    } catch (err) {
      if (i > 50 || !/Another VerifiableDB API instance/.test(err.message)) throw err;
      await sleep(100);
    }
  }
  t.after(() => b.stop());
  await psql(srv.db, 'DROP TRIGGER slow_commit ON vmdb_state; DROP FUNCTION slow_commit()');
  const h = await health(b.url);
  assert.equal(h.seq, seq0 + 1, 'the dead instance\'s COMMIT landed before the new one loaded the state');
  assert.equal(h.status, 'ok', JSON.stringify(h));
  assert.equal(h.writes, 'ok');
  const w = ok(await post(b.url, '/api/models/notes/create-batch', { records: [{ body: 'after' }] }), 'a write after the restart');
  assert.equal(w.meta.seq, seq0 + 2);
  const r = ok(await post(b.url, '/api/models/notes/read-latest', { limit: 10 }));
  assert.ok(r.records.some((x) => x.body === 'in flight'), 'the unanswered write committed and verifies');
  assert.equal((await health(b.url)).status, 'ok');
});

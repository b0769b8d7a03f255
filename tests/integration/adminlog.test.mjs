// Admin actions and the signed history (issue 13, Deliver 2; PROTOCOL.md
// §14): a repair-roots that would change leaves (rows edited behind vmdb's
// back) is refused with 409 REPAIR_CHANGES_ROWS listing the changes, and
// commits only with "accept_changes" (and the diff root of the dry run);
// a repair that changes nothing needs no acceptance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import {
  BIN, startServer, psql, post, get, ok, fails, health, applySchema, rowKey, rangeLeaf, isHex64, tableCounts,
  expectedRootFromRows,
} from './lib.mjs';
import { verifyTransition, verifyAnswer, verifyHeader } from '../../clients/js/src/protocol.mjs';
import { VmdbClient } from '../../clients/js/src/index.mjs';

const NOTES = {
  table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'body', col_type: 'text' }, { name: 'n', col_type: 'int', nullable: true }],
};
const readBatch = (srv, ids) => post(srv.url, '/api/models/notes/read-batch', { ids });
const repair = (srv, body) => post(srv.url, '/bootstrap/repair-roots', body);

async function setup(t) {
  const srv = await startServer();
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES]);
  const records = Array.from({ length: 10 }, (_, i) => ({ body: `note ${i + 1}`, n: i + 1 }));
  ok(await post(srv.url, '/api/models/notes/create-batch', { records }));
  return srv;
}

/** The diff root of PROTOCOL.md §14, recomputed from the listed changes. */
function diffRoot(changes) {
  const h = createHash('sha256');
  h.update(Buffer.from('vmdb/v2/repair-diff\0', 'utf8'));
  const n = Buffer.alloc(8); n.writeBigUInt64BE(BigInt(changes.length)); h.update(n);
  const zero = '0'.repeat(64);
  for (const c of [...changes].sort((a, b) => (a.key < b.key ? -1 : 1))) {
    h.update(Buffer.from(c.key, 'hex'));
    h.update(Buffer.from(c.old ?? zero, 'hex'));
    h.update(Buffer.from(c.new ?? zero, 'hex'));
  }
  return h.digest('hex');
}

function assertDiffShape(d, what) {
  assert.ok(Array.isArray(d.changes), `${what}: changes`);
  assert.equal(d.listed, d.changes.length, `${what}: listed`);
  assert.ok(d.count >= d.listed, `${what}: count`);
  assert.ok(isHex64(d.diff_root), `${what}: diff_root`);
  if (d.count === d.listed) assert.equal(d.diff_root, diffRoot(d.changes), `${what}: diff_root recomputed`);
  for (const c of d.changes) {
    assert.ok(isHex64(c.key), `${what}: key`);
    assert.equal(c.change, c.old === null ? 'added' : c.new === null ? 'removed' : 'changed', `${what}: change kind`);
  }
}

test('psql edit then repair: refused and listed without accept_changes; nothing changes; accepted with the diff root', async (t) => {
  const srv = await setup(t);
  const before = await health(srv.url);
  await psql(srv.db, "UPDATE notes SET body = 'evil' WHERE id = 2");
  fails(await readBatch(srv, ['2']), 400, 'INTEGRITY_VIOLATION', 'edited row');

  // Without acceptance: 409 with the diff, nothing written.
  const counts = await tableCounts(srv.db);
  const leavesBefore = await psql(srv.db, "SELECT string_agg(encode(key,'hex') || encode(value,'hex'), ',' ORDER BY key) FROM vmdb_leaves");
  const refused = fails(await repair(srv, { confirm: true }), 409, 'REPAIR_CHANGES_ROWS', 'repair without accept');
  const d = refused.data;
  assertDiffShape(d, 'refused');
  assert.equal(d.count, 1, `one leaf differs: ${JSON.stringify(d)}`);
  const c = d.changes[0];
  assert.equal(c.change, 'changed');
  assert.equal(c.table, 'notes');
  assert.equal(c.id, '2');
  assert.equal(c.key, rowKey('notes', '2').toString('hex'));
  assert.ok(isHex64(c.old) && isHex64(c.new) && c.old !== c.new);
  assert.equal(d.old_root, before.temporary_root);
  // The old value is the leaf vmdb committed; nothing moved.
  assert.equal(await psql(srv.db, `SELECT encode(value,'hex') FROM vmdb_leaves WHERE key = '\\x${c.key}'`), c.old);
  assert.equal(await psql(srv.db, "SELECT string_agg(encode(key,'hex') || encode(value,'hex'), ',' ORDER BY key) FROM vmdb_leaves"), leavesBefore);
  assert.deepEqual(await tableCounts(srv.db), counts);
  const mid = await health(srv.url);
  assert.equal(mid.temporary_root, before.temporary_root, 'root unchanged');
  fails(await readBatch(srv, ['2']), 400, 'INTEGRITY_VIOLATION', 'still a violation after the refused repair');

  // A dry run lists the same diff, needs no confirm and writes nothing.
  const dry = ok(await repair(srv, { dry_run: true }), 'dry run');
  assert.equal(dry.dry_run, true);
  assert.equal(dry.repaired, false);
  assert.deepEqual(dry.diff, d);
  assert.equal(dry.old_root, before.temporary_root);
  assert.equal((await health(srv.url)).temporary_root, before.temporary_root);

  // accept_changes with a different expected diff root: refused.
  fails(await repair(srv, { confirm: true, accept_changes: true, expect_diff_root: '00'.repeat(32) }), 409, 'REPAIR_CHANGES_ROWS', 'wrong diff root');
  fails(await readBatch(srv, ['2']), 400, 'INTEGRITY_VIOLATION', 'still a violation');
  // Bad shapes.
  fails(await repair(srv, { confirm: true, accept_changes: 'yes' }), 422, 'INVALID_JSON', 'accept_changes not a bool');
  fails(await repair(srv, { confirm: true, accept_changes: true, expect_diff_root: 'xyz' }), 422, 'INVALID_JSON', 'bad diff root');

  // Accepted exactly as listed: committed, and the answer says what changed.
  const rep = ok(await repair(srv, { confirm: true, accept_changes: true, expect_diff_root: d.diff_root }), 'accepted repair');
  assert.equal(rep.repaired, true);
  assert.deepEqual(rep.diff.changes, d.changes);
  assert.equal(rep.diff.diff_root, d.diff_root);
  assert.ok(rep.seq > before.seq);
  const r2 = ok(await readBatch(srv, ['2']), 'the edited row after the accepted repair');
  assert.equal(r2.verified, true);
  assert.equal(await psql(srv.db, `SELECT encode(value,'hex') FROM vmdb_leaves WHERE key = '\\x${c.key}'`), c.new);
  assert.equal(await psql(srv.db, `SELECT kind FROM vmdb_headers WHERE seq = ${rep.seq}`), 'repair');

  // Repairing again changes nothing: no acceptance needed.
  const again = ok(await repair(srv, { confirm: true }), 'repair without changes');
  assert.equal(again.repaired, true);
  assert.equal(again.diff.count, 0);
  assert.deepEqual(again.diff.changes, []);
  assert.equal(again.diff.diff_root, diffRoot([]));
});

test('a deleted and an inserted row: listed as removed and added, with the id range that moved', async (t) => {
  const srv = await setup(t);
  await psql(srv.db, 'DELETE FROM notes WHERE id = 4');
  await psql(srv.db, "INSERT INTO notes (id, body, n) VALUES (1000, 'forged', 1)");
  const d = fails(await repair(srv, { confirm: true }), 409, 'REPAIR_CHANGES_ROWS').data;
  assertDiffShape(d, 'delete+insert');
  assert.equal(d.count, 3, JSON.stringify(d.changes));
  const by = Object.fromEntries(d.changes.map((c) => [c.key, c]));
  const removed = by[rowKey('notes', '4').toString('hex')];
  assert.equal(removed.change, 'removed');
  assert.equal(removed.new, null);
  const added = by[rowKey('notes', '1000').toString('hex')];
  assert.equal(added.change, 'added');
  assert.equal(added.old, null);
  assert.equal(added.table, 'notes');
  assert.equal(added.id, '1000');
  const range = rangeLeaf('notes', '1', '1000');
  const rc = by[range.key.toString('hex')];
  assert.equal(rc.change, 'changed', 'the id range leaf');
  assert.equal(rc.new, range.value.toString('hex'));
  assert.equal(rc.table, 'notes');
  assert.equal(rc.id, null);
  fails(await readBatch(srv, ['1000']), 400, 'INTEGRITY_VIOLATION');
  // accept_changes alone (no expected root) is enough.
  const rep = ok(await repair(srv, { confirm: true, accept_changes: true }), 'accepted');
  assert.equal(rep.diff.count, 3);
  assert.equal(ok(await readBatch(srv, ['1000'])).verified, true);
});

test('a repair that changes no leaf (a lost vmdb_leaves row is rebuilt the same) needs no acceptance', async (t) => {
  const srv = await setup(t);
  const before = await health(srv.url);
  // vmdb_leaves is only a copy of the tree vmdb holds: a lost leaf row is
  // rebuilt as it was, which changes no leaf.
  await psql(srv.db, `DELETE FROM vmdb_leaves WHERE key = '\\x${rowKey('notes', '3').toString('hex')}'`);
  // 10 rows, the id range and the record of the first apply-schema (a reset).
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM vmdb_leaves'), '11');
  const r = ok(await repair(srv, { confirm: true }), 'repair of an untouched database');
  assert.equal(r.diff.count, 0);
  assert.equal(r.old_root, before.temporary_root);
  assert.equal(r.updated_leaves, 12);
  // The new root differs from the old one by the repair's own record only.
  assert.equal(r.new_root, await expectedRootFromRows(srv.url, srv.db, [{ table: 'notes', pk: 'id' }]));
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM vmdb_leaves'), '13');
});

// ---- PROTOCOL.md §14.2: transition records ------------------------------------

const transition = (srv, seq) => get(srv.url, `/api/roots/${seq}/transition`);

async function publicKey(srv) {
  return ok(await get(srv.url, '/api/identity')).public_key;
}

/** GET the transition of seq, verified with the JS client; returns {data, record}. */
async function verifiedTransition(srv, seq, pk, what) {
  const data = ok(await transition(srv, seq), what);
  const v = verifyTransition(data, pk);
  assert.equal(v.ok, true, `${what}: ${v.reason}`);
  assert.equal(data.header.seq, seq);
  assert.equal(data.record.seq, seq);
  return { data, record: data.record };
}

test('transition records: a repair commits its changes, clear and reset theirs; each is proven against its signed header, also after a restart', async (t) => {
  let srv = await setup(t);
  const pk = await publicKey(srv);
  // The first apply-schema was a reset (seq 1): it has its record.
  const first = (await verifiedTransition(srv, 1, pk, 'first apply-schema')).record;
  assert.equal(first.kind, 'reset');
  assert.deepEqual(first.tables, ['notes']);
  assert.equal(first.leaves_before, 0);
  assert.equal(first.leaves_after, 1);

  // A write has no record: 404 NO_TRANSITION; beyond the chain 404 NOT_FOUND.
  const writeSeq = (await health(srv.url)).seq;
  fails(await transition(srv, writeSeq), 404, 'NO_TRANSITION', 'a write header');
  fails(await transition(srv, 999999), 404, 'NOT_FOUND', 'no such header');
  fails(await transition(srv, 'abc'), 400, 'INVALID_SEQ', 'not a seq');
  fails(await post(srv.url, `/api/roots/1/transition`, {}), 405, 'METHOD_NOT_ALLOWED', 'POST');

  // psql edit, dry run, accepted repair: the record lists the edited key.
  const before = await health(srv.url);
  await psql(srv.db, "UPDATE notes SET body = 'evil' WHERE id = 2");
  const d = ok(await repair(srv, { dry_run: true })).diff;
  assert.equal(d.count, 1);
  const rep = ok(await repair(srv, { confirm: true, accept_changes: true, expect_diff_root: d.diff_root }));
  const { data, record } = await verifiedTransition(srv, rep.seq, pk, 'the repair');
  assert.equal(data.kind, 'repair');
  assert.equal(data.header.kind, 'repair');
  assert.equal(data.header.smt_root, rep.new_root);
  assert.equal(record.kind, 'repair');
  assert.equal(record.count, 1);
  assert.equal(record.listed, 1);
  assert.equal(record.diff_root, d.diff_root);
  assert.equal(record.old_root, before.temporary_root);
  assert.deepEqual(record.changes, d.changes);
  const c = record.changes[0];
  assert.equal(c.key, rowKey('notes', '2').toString('hex'));
  assert.equal(c.change, 'changed');
  assert.ok(isHex64(c.old) && isHex64(c.new) && c.old !== c.new);
  assert.equal(record.leaves_before, before.leaves);
  assert.equal(record.leaves_after, before.leaves + 1);
  assert.equal(Number(await psql(srv.db, 'SELECT count(*) FROM vmdb_leaves')), record.leaves_after);
  // A record that says something else, or a proof of another seq, fails.
  const forged = structuredClone(data);
  forged.record.changes[0].new = c.old;
  assert.equal(verifyTransition(forged, pk).ok, false);
  assert.equal(verifyTransition({ ...data, record: first }, pk).ok, false);
  assert.equal(verifyTransition(data, '11'.repeat(32)).ok, false);

  // `vmdb verify` checks the saved answer (the whole envelope) offline.
  const saved = (await transition(srv, rep.seq)).text;
  let v = spawnSync(BIN, ['verify', '-', '--public-key', pk], { input: saved, encoding: 'utf8' });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, new RegExp(`^ok: transition record of header ${rep.seq} \\(repair\\), 1 changed key \\(1 listed\\)`));
  v = spawnSync(BIN, ['verify', '-', '--public-key', pk], { input: saved.replace('"count":1', '"count":0'), encoding: 'utf8' });
  assert.equal(v.status, 1, v.stdout);
  assert.match(v.stderr, /does not hash to the proven value/);

  // The client's call verifies it too and links its header to its state.
  const client = new VmdbClient({ url: srv.url, publicKey: pk });
  await client.readBatch('notes', ['1']);
  const viaClient = await client.transition(rep.seq);
  assert.deepEqual(viaClient.record, record);
  assert.equal((await client.state()).header.seq >= rep.seq, true);

  // A later read still verifies (with its proof) against the new state.
  const rb = ok(await post(srv.url, '/api/models/notes/read-batch', { ids: ['2'], proof: true }));
  const va = verifyAnswer(rb, 'read-batch', pk, { table: 'notes', ids: ['2'] });
  assert.equal(va.ok, true, va.reason);

  // clear-data and a forced reset: records of their own, the older records kept.
  ok(await post(srv.url, '/bootstrap/clear-data', { confirm: true }));
  const cleared = await health(srv.url);
  const cr = (await verifiedTransition(srv, cleared.seq, pk, 'clear-data')).record;
  assert.equal(cr.kind, 'clear');
  assert.deepEqual(cr.tables, ['notes']);
  assert.equal(cr.leaves_before, record.leaves_after);
  assert.equal(cr.leaves_after, 3, 'the records of the reset, the repair and the clear');
  assert.notEqual(cleared.temporary_root, '0'.repeat(64), 'a cleared tree holds the transition records');
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM notes'), '0');
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'after clear', n: 1 }] }));
  await applySchema(srv.url, [NOTES], true);
  const reset = await health(srv.url);
  const rr = (await verifiedTransition(srv, reset.seq, pk, 'reset')).record;
  assert.equal((await client.transition(cleared.seq)).record.kind, 'clear', 'the client links a newer header');
  assert.equal(rr.kind, 'reset');
  assert.equal(rr.leaves_after, 4);
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM vmdb_transitions'), '4');
  // The repair's record is still proven against its own header.
  await verifiedTransition(srv, rep.seq, pk, 'the repair after clear and reset');

  // A repair now changes nothing (records are kept as stored); a full
  // start-up check with the record leaves present passes.
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'x', n: 2 }] }));
  const again = ok(await repair(srv, { confirm: true }), 'repair with records present');
  assert.equal(again.diff.count, 0);
  await srv.stop();
  srv = await startServer({ db: srv.db, dataDir: srv.dataDir, args: ['--verify-rows'] });
  t.after(() => srv.stop());
  const h = await health(srv.url);
  assert.equal(h.integrity?.ok ?? true, true, JSON.stringify(h));
  assert.equal(h.temporary_root, again.new_root);
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'after restart', n: 3 }] }), 'writes allowed');
  for (const s of [1, rep.seq, cleared.seq, reset.seq, again.seq]) await verifiedTransition(srv, s, pk, `seq ${s} after restart`);
  const latest = ok(await get(srv.url, '/api/roots/latest'));
  assert.equal(verifyHeader(latest.header, pk).ok, true);
});

test('a transition record edited in the database: refused when served, listed by a repair, and reported at start-up', async (t) => {
  let srv = await setup(t);
  await psql(srv.db, "UPDATE notes SET body = 'evil' WHERE id = 3");
  const rep = ok(await repair(srv, { confirm: true, accept_changes: true }));
  await psql(srv.db, `UPDATE vmdb_transitions SET record = replace(record, '"count":1', '"count":0') WHERE seq = ${rep.seq}`);
  fails(await transition(srv, rep.seq), 400, 'INTEGRITY_VIOLATION', 'edited record');
  // clear-data refuses to carry an edited record over.
  fails(await post(srv.url, '/bootstrap/clear-data', { confirm: true }), 400, 'INTEGRITY_VIOLATION', 'clear with an edited record');
  // A repair lists it as a changed leaf of vmdb_transitions.
  const d = fails(await repair(srv, { confirm: true }), 409, 'REPAIR_CHANGES_ROWS').data;
  assert.equal(d.count, 1, JSON.stringify(d.changes));
  assert.equal(d.changes[0].table, 'vmdb_transitions');
  assert.equal(d.changes[0].id, String(rep.seq));
  // After a restart the start-up check reports it and refuses writes.
  await srv.stop();
  srv = await startServer({ db: srv.db, dataDir: srv.dataDir });
  t.after(() => srv.stop());
  const h = await health(srv.url);
  assert.ok(JSON.stringify(h).includes('vmdb_transitions'), JSON.stringify(h));
  const w = await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'x', n: 1 }] });
  assert.notEqual(w.status, 200, 'writes refused');
});

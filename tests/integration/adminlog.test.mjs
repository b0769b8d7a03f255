// Admin actions and the signed history (issue 13, Deliver 2; PROTOCOL.md
// §14): a repair-roots that would change leaves (rows edited behind vmdb's
// back) is refused with 409 REPAIR_CHANGES_ROWS listing the changes, and
// commits only with "accept_changes" (and the diff root of the dry run);
// a repair that changes nothing needs no acceptance.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  startServer, psql, post, ok, fails, health, applySchema, rowKey, rangeLeaf, isHex64, tableCounts,
} from './lib.mjs';

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
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM vmdb_leaves'), '10');
  const r = ok(await repair(srv, { confirm: true }), 'repair of an untouched database');
  assert.equal(r.diff.count, 0);
  assert.equal(r.new_root, before.temporary_root);
  assert.equal(r.updated_leaves, 11);
});

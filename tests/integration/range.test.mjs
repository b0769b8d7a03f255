// The id-range leaf of PROTOCOL.md §10: a serial table's lowest and highest
// id ever written, in vmdb_id_ranges and as one extra leaf of the tree,
// checked here with node:crypto (lib.mjs) against vmdb_leaves and the
// signed root; deletes never shrink it, explicit ids widen it, start-up
// refuses writes when the stored range and the tree disagree, repair
// recomputes it from the rows, clear-data removes it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, psql, post, get, ok, fails, health, applySchema, rowKey, rangeKey, rangeLeaf,
  smtRootHex, expectedRootFromRows, storedTransitionLeaves,
} from './lib.mjs';

const NOTES = {
  table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'body', col_type: 'text' }],
};
const TAGS = {
  table_name: 'tags', primary_key_field: 'name', primary_key_kind: 'text',
  columns: [{ name: 'n', col_type: 'int', nullable: true }],
};

/** Every leaf of vmdb_leaves as [{key, value}] (Buffers). */
async function storedLeaves(db) {
  return (await psql(db, "SELECT encode(key, 'hex') || ' ' || encode(value, 'hex') FROM vmdb_leaves"))
    .split('\n').filter(Boolean).map((l) => {
      const [k, v] = l.split(' ');
      return { key: Buffer.from(k, 'hex'), value: Buffer.from(v, 'hex') };
    });
}

/** The stored range of `table` as "lo|hi", '' when none. */
const storedRange = (db, table) => psql(db, `SELECT lo || '|' || hi FROM vmdb_id_ranges WHERE table_name = '${table}'`);

/** The range leaf's value in vmdb_leaves (hex), '' when none. */
const rangeLeafHex = (db, table) =>
  psql(db, `SELECT encode(value, 'hex') FROM vmdb_leaves WHERE key = '\\x${rangeKey(table).toString('hex')}'::bytea`);

/**
 * The range of notes is (lo, hi) in vmdb_id_ranges and in vmdb_leaves; the
 * root over every stored leaf is the signed root and /health's, and equals
 * the root recomputed from the rows vmdb answers plus the range leaf.
 */
async function assertRange(srv, lo, hi, what) {
  assert.equal(await storedRange(srv.db, 'notes'), `${lo}|${hi}`, `${what}: vmdb_id_ranges`);
  assert.equal(await rangeLeafHex(srv.db, 'notes'), rangeLeaf('notes', lo, hi).value.toString('hex'),
    `${what}: the range leaf in vmdb_leaves`);
  const root = smtRootHex(await storedLeaves(srv.db));
  const latest = ok(await get(srv.url, '/api/roots/latest'), `${what}: roots/latest`);
  assert.equal(latest.header.smt_root, root, `${what}: signed root = root of vmdb_leaves`);
  assert.equal((await health(srv.url)).temporary_root, root, `${what}: health root`);
  const fromRows = await expectedRootFromRows(srv.url, srv.db,
    [{ table: 'notes', pk: 'id' }, { table: 'tags', pk: 'name' }]);
  assert.equal(fromRows, root, `${what}: root recomputed from the rows and the range`);
  // The recomputation above used the stored range: check it is the right leaf.
  const leaves = await storedLeaves(srv.db);
  const rows = Number(await psql(srv.db, 'SELECT count(*) FROM notes')) +
    Number(await psql(srv.db, 'SELECT count(*) FROM tags'));
  const records = Number(await psql(srv.db, 'SELECT count(*) FROM vmdb_transitions'));
  assert.equal(leaves.length, rows + 1 + records, `${what}: one leaf per row, one range leaf and the transition records`);
}

async function restart(t, srv) {
  assert.deepEqual(await srv.stop(), { code: 0, signal: null });
  const again = await startServer({ db: srv.db, dataDir: srv.dataDir });
  t.after(() => again.stop());
  return again;
}

async function assertRefused(srv, what) {
  const h = await health(srv.url);
  assert.equal(h.status, 'degraded', `${what}: ${JSON.stringify(h)}`);
  assert.equal(h.integrity.ok, false, what);
  assert.match(h.writes, /do not match/, `${what}: health.writes`);
  const w = fails(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'refused' }] }),
    503, 'WRITES_UNAVAILABLE', what);
  assert.match(w.error, /do not match/, `${what}: the write names the reason`);
}

async function repair(srv, what) {
  const r = ok(await post(srv.url, '/bootstrap/repair-roots', { confirm: true, accept_changes: true }), `${what}: repair-roots`);
  assert.equal(r.repaired, true);
  assert.equal((await health(srv.url)).writes, 'ok', `${what}: writes allowed after repair`);
  return r;
}

test('id range: written with the rows, kept by deletes, widened by explicit ids, checked at start-up, repaired, cleared', async (t) => {
  const srv0 = await startServer();
  t.after(() => srv0.stop());
  await applySchema(srv0.url, [NOTES, TAGS]);
  // A table that never had a row has no range.
  assert.equal(await psql(srv0.db, 'SELECT count(*) FROM vmdb_id_ranges'), '0');
  assert.equal(await rangeLeafHex(srv0.db, 'notes'), '');

  const c = ok(await post(srv0.url, '/api/models/notes/create-batch',
    { records: Array.from({ length: 5 }, (_, i) => ({ body: `n${i + 1}` })) }));
  assert.deepEqual(c.ids, ['1', '2', '3', '4', '5']);
  ok(await post(srv0.url, '/api/models/tags/create-batch', { records: [{ name: 'a', n: 1 }] }));
  assert.equal(await psql(srv0.db, "SELECT count(*) FROM vmdb_id_ranges WHERE table_name = 'tags'"), '0',
    'a text key has no range');
  await assertRange(srv0, 1, 5, 'after create');
  // The range key is no row's key.
  assert.notEqual(rangeKey('notes').toString('hex'), rowKey('notes', '').toString('hex'));

  // Deleting the top row does not shrink the range.
  ok(await post(srv0.url, '/api/models/notes/delete-batch', { ids: ['5'] }));
  await assertRange(srv0, 1, 5, 'after deleting id 5');

  // Explicit ids (upsert of a new key) widen it; updating a row inside it does not change it.
  ok(await post(srv0.url, '/api/models/notes/upsert', { records: [{ id: 40, body: 'forty' }] }));
  await assertRange(srv0, 1, 40, 'after upsert of id 40');
  ok(await post(srv0.url, '/api/models/notes/upsert', { records: [{ id: 2, body: 'two' }] }));
  await assertRange(srv0, 1, 40, 'after an update of id 2');
  // Several requests in one group: one range change per table.
  await Promise.all(Array.from({ length: 6 }, (_, i) =>
    post(srv0.url, '/api/models/notes/create-batch', { records: [{ body: `g${i}` }] }).then((r) => ok(r))));
  // (The explicit id 40 moved the sequence past it: these are 41..46.)
  assert.equal(await psql(srv0.db, 'SELECT count(*) FROM notes WHERE id BETWEEN 41 AND 46'), '6');
  const hi = 46;
  await assertRange(srv0, 1, hi, 'after concurrent creates');

  // Restart: start-up accepts the stored ranges.
  const srv1 = await restart(t, srv0);
  const h1 = await health(srv1.url);
  assert.equal(h1.status, 'ok', JSON.stringify(h1));
  assert.equal(h1.writes, 'ok');
  await assertRange(srv1, 1, hi, 'after restart');

  // Tamper vmdb_id_ranges: start-up refuses writes; repair recomputes the
  // range from the rows as they are.
  await psql(srv1.db, "UPDATE vmdb_id_ranges SET hi = hi + 100 WHERE table_name = 'notes'");
  const srv2 = await restart(t, srv1);
  await assertRefused(srv2, 'tampered vmdb_id_ranges');
  assert.match((await health(srv2.url)).writes, /id ranges/, 'the reason names the id ranges');
  await repair(srv2, 'tampered vmdb_id_ranges');
  await assertRange(srv2, 1, hi, 'after repair of vmdb_id_ranges');

  // A range leaf without its stored range.
  await psql(srv2.db, 'DELETE FROM vmdb_id_ranges');
  const srv3 = await restart(t, srv2);
  await assertRefused(srv3, 'range row deleted');
  await repair(srv3, 'range row deleted');
  await assertRange(srv3, 1, hi, 'after repair of a deleted range row');

  // Tamper the range leaf itself: the leaves no longer give the stored root.
  const forged = rangeLeaf('notes', 1, hi + 7).value.toString('hex');
  await psql(srv3.db, `UPDATE vmdb_leaves SET value = '\\x${forged}'::bytea WHERE key = '\\x${rangeKey('notes').toString('hex')}'::bytea`);
  const srv4 = await restart(t, srv3);
  await assertRefused(srv4, 'tampered range leaf');
  // Repair takes the rows as they are: delete the top row first, the
  // recomputed range ends at the highest remaining id.
  await psql(srv4.db, `DELETE FROM notes WHERE id = ${hi}`);
  await repair(srv4, 'tampered range leaf');
  await assertRange(srv4, 1, hi - 1, 'after repair with the top row gone');
  const c12 = ok(await post(srv4.url, '/api/models/notes/create-batch', { records: [{ body: 'after repair' }] }));
  assert.deepEqual(c12.ids, [String(hi + 1)]);
  await assertRange(srv4, 1, hi + 1, 'a create after repair widens the recomputed range');

  // clear-data removes the ranges with the rows.
  ok(await post(srv4.url, '/bootstrap/clear-data', { confirm: true }));
  assert.equal(await psql(srv4.db, 'SELECT count(*) FROM vmdb_id_ranges'), '0');
  // Only the transition records stay (PROTOCOL.md §14.2).
  assert.equal(await psql(srv4.db, 'SELECT count(*) FROM vmdb_leaves'), await psql(srv4.db, 'SELECT count(*) FROM vmdb_transitions'));
  assert.equal((await health(srv4.url)).temporary_root, smtRootHex(await storedTransitionLeaves(srv4.db)));
  const srv5 = await restart(t, srv4);
  assert.equal((await health(srv5.url)).writes, 'ok');
  const c2 = ok(await post(srv5.url, '/api/models/notes/create-batch', { records: [{ body: 'anew' }] }));
  await assertRange(srv5, c2.ids[0], c2.ids[0], 'the first row after clear-data');
});

test('id range: a schema reset removes it; a new serial table has none until its first row', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES]);
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'x' }, { body: 'y' }] }));
  assert.equal(await storedRange(srv.db, 'notes'), '1|2');
  const OTHER = { ...NOTES, table_name: 'other' };
  await applySchema(srv.url, [NOTES, OTHER]); // another schema: a reset
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM vmdb_id_ranges'), '0');
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM vmdb_leaves'), '2', 'the records of the two resets');
  ok(await post(srv.url, '/api/models/other/create-batch', { records: [{ body: 'z' }] }));
  assert.equal(await storedRange(srv.db, 'other'), '1|1');
  assert.equal(await storedRange(srv.db, 'notes'), '');
  const root = smtRootHex(await storedLeaves(srv.db));
  assert.equal((await health(srv.url)).temporary_root, root);
});

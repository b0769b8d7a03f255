// Tampering with PostgreSQL behind vmdb's back (psql on the live database):
// reads of the affected ids answer 400 INTEGRITY_VIOLATION naming them,
// unaffected ids still read, /health turns "degraded", and writes never
// re-bless a tampered row (COMPATIBILITY.md "Reads" and "Writes"; seed §7, §9.1-2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  startServer, psql, post, ok, fails, health, applySchema, rowKey, tableCounts,
} from './lib.mjs';

const NOTES = {
  table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'body', col_type: 'text' }, { name: 'n', col_type: 'int', nullable: true }],
};
const PROOF_FAILED = 'Proof verification failed - data integrity cannot be verified';

function assertViolation(r, ids, what) {
  const b = fails(r, 400, 'INTEGRITY_VIOLATION', what);
  assert.equal(b.error, PROOF_FAILED, what);
  assert.equal(b.data?.code, 'INTEGRITY_VIOLATION', `${what}: data.code`);
  assert.ok(Array.isArray(b.data.ids), `${what}: data.ids`);
  for (const id of ids) assert.ok(b.data.ids.includes(id), `${what}: data.ids ${JSON.stringify(b.data.ids)} names ${id}`);
  assert.equal(b.data.records, undefined, `${what}: no rows are returned`);
  return b.data.ids;
}

const readBatch = (srv, ids) => post(srv.url, '/api/models/notes/read-batch', { ids });

async function setup(t, opts = {}) {
  const srv = await startServer(opts);
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES]);
  const records = Array.from({ length: 10 }, (_, i) => ({ body: `note ${i + 1}`, n: i + 1 }));
  const c = ok(await post(srv.url, '/api/models/notes/create-batch', { records }));
  assert.deepEqual(c.ids, ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
  const h = await health(srv.url);
  assert.equal(h.status, 'ok');
  assert.equal(h.integrity?.ok, true);
  return srv;
}

async function assertDegraded(srv) {
  const h = await health(srv.url);
  assert.equal(h.status, 'degraded');
  assert.equal(h.integrity.ok, false);
  assert.ok(h.integrity.violations >= 1);
  return h;
}

test('UPDATE of a row column: reads of that id fail, others verify, health degraded, writes refuse to re-bless it', async (t) => {
  const srv = await setup(t);
  await psql(srv.db, "UPDATE notes SET body = 'evil' WHERE id = 2");

  const bad = assertViolation(await readBatch(srv, ['2']), ['2'], 'read-batch [2]');
  assert.deepEqual(bad, ['2']);
  const mixed = assertViolation(await readBatch(srv, ['1', '2', '3']), ['2'], 'read-batch [1,2,3]');
  assert.ok(!mixed.includes('1') && !mixed.includes('3'), 'unaffected ids are not named');
  assertViolation(await post(srv.url, '/api/models/notes/read-latest', { limit: 100 }), ['2'], 'read-latest covering id 2');
  assertViolation(await post(srv.url, '/api/models/notes/read-latest', { limit: 5, where: { body: 'evil' } }), ['2'], 'read-latest where body=evil');
  assertViolation(await post(srv.url, '/api/execute', { model_name: 'notes', action: 'read_batch', payload: { ids: ['2'] } }), ['2'], 'execute read_batch');

  const good = ok(await readBatch(srv, ['1', '3']), 'unaffected ids');
  assert.equal(good.verified, true);
  const gl = ok(await post(srv.url, '/api/models/notes/read-latest', { limit: 3, order_by: { field: 'id', direction: 'desc' } }));
  assert.deepEqual(gl.ids, ['10', '9', '8']);

  const h = await assertDegraded(srv);

  // Writes that touch the tampered row are refused and write nothing.
  const counts = await tableCounts(srv.db);
  assertViolation(await post(srv.url, '/api/models/notes/upsert', { records: [{ id: 2, n: 99 }] }), ['2'], 'upsert of the tampered row');
  assertViolation(await post(srv.url, '/api/models/notes/delete-batch', { ids: ['2'] }), ['2'], 'delete of the tampered row');
  assert.equal(await psql(srv.db, 'SELECT body || \',\' || n FROM notes WHERE id = 2'), 'evil,2');
  assert.deepEqual(await tableCounts(srv.db), counts);
  assertViolation(await readBatch(srv, ['2']), ['2'], 'still detected');
  // COMPATIBILITY.md "Health": integrity {"ok": bool, "violations": n, "last": {...}}.
  assert.ok(h.integrity.last && typeof h.integrity.last === 'object', `integrity.last is an object: ${JSON.stringify(h.integrity.last)}`);
});

test('DELETE of a row and INSERT of a row: both detected on read, health degraded', async (t) => {
  const srv = await setup(t);
  await psql(srv.db, 'DELETE FROM notes WHERE id = 4');
  assert.deepEqual(assertViolation(await readBatch(srv, ['4']), ['4'], 'read-batch of a deleted row'), ['4']);
  const m = assertViolation(await readBatch(srv, ['4', '5']), ['4'], 'deleted row among good ones');
  assert.ok(!m.includes('5'));
  assertViolation(await post(srv.url, '/api/models/notes/delete-batch', { ids: ['4'] }), ['4'], 'delete-batch of a row deleted behind vmdb');
  ok(await readBatch(srv, ['5']));
  await assertDegraded(srv);

  await psql(srv.db, "INSERT INTO notes (id, body, n) VALUES (1000, 'forged', 1)");
  assert.deepEqual(assertViolation(await readBatch(srv, ['1000']), ['1000'], 'read-batch of an inserted row'), ['1000']);
  assertViolation(await post(srv.url, '/api/models/notes/read-latest', { limit: 1 }), ['1000'], 'read-latest returning the forged row');
  assertViolation(await post(srv.url, '/api/models/notes/read-latest', { limit: 5, where: { body: 'forged' } }), ['1000'], 'read-latest where');
  assertViolation(await post(srv.url, '/api/models/notes/upsert', { records: [{ id: 1000, n: 2 }] }), ['1000'], 'upsert over a forged row');
  assert.equal(await psql(srv.db, 'SELECT n FROM notes WHERE id = 1000'), '1');
  const g = ok(await readBatch(srv, ['6', '7']));
  assert.equal(g.verified, true);
  const h = await assertDegraded(srv);
  assert.ok(h.integrity.violations >= 2);

  // repair-roots re-blesses what the database holds once the changes it lists are accepted, and
  // then everything reads again.
  const r = ok(await post(srv.url, '/bootstrap/repair-roots', { confirm: true, accept_changes: true }), 'repair-roots');
  assert.equal(r.repaired, true);
  assert.equal(r.updated_leaves, 12, '9 original rows + the forged one + the id range of notes + the record of the apply-schema reset');
  assert.equal((await health(srv.url)).temporary_root, r.new_root);
  const after = ok(await readBatch(srv, ['1000', '5']));
  assert.equal(after.verified, true);
  fails(await readBatch(srv, ['4']), 404, 'NOT_FOUND');
});

test('UPDATE of a leaf in vmdb_leaves: detected for that id once the tree is loaded from the database; other ids read', async (t) => {
  const srv = await setup(t);
  const key = rowKey('notes', '6').toString('hex');
  assert.equal(await psql(srv.db, `SELECT count(*) FROM vmdb_leaves WHERE key = '\\x${key}'::bytea`), '1',
    'vmdb_leaves holds the protocol v1 key of notes/6');
  const forged = createHash('sha256').update('forged').digest('hex');
  await psql(srv.db, `UPDATE vmdb_leaves SET value = '\\x${forged}'::bytea WHERE key = '\\x${key}'::bytea`);

  // While running, the in-memory tree is the trusted copy: a read of id 6
  // must never answer a row that does not match it.
  const live = await readBatch(srv, ['6']);
  if (live.status === 200) {
    assert.equal(live.json.data.verified, true);
    assert.equal(live.json.data.records[0].body, 'note 6');
  } else {
    assertViolation(live, ['6'], 'read of id 6 with a tampered leaf (live)');
  }

  // Restart: the tree is rebuilt from vmdb_leaves, which no longer matches.
  assert.deepEqual(await srv.stop(), { code: 0, signal: null });
  const again = await startServer({ db: srv.db, dataDir: srv.dataDir });
  t.after(() => again.stop());
  assertViolation(await readBatch(again, ['6']), ['6'], 'read of id 6 after restart');
  const m = assertViolation(await readBatch(again, ['5', '6', '7']), ['6'], 'id 6 among good ones after restart');
  assert.ok(!m.includes('5') && !m.includes('7'));
  const g = ok(await readBatch(again, ['1', '5', '7', '10']), 'unaffected ids after restart');
  assert.equal(g.verified, true);
  await assertDegraded(again);
});

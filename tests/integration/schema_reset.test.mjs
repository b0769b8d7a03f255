// apply-schema reset decisions (seed-behaviour.md §2.5, §8), TABLE_NOT_MANAGED
// (COMPATIBILITY.md), clear-data (§1.8, §8), /bootstrap/schema (§1.11).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, psql, post, get, ok, fails, health, applySchema, tableCounts, ZERO_ROOT,
  smtRootHex, storedTransitionLeaves,
} from './lib.mjs';

const NOTES = {
  table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'body', col_type: 'text' }, { name: 'n', col_type: 'int', nullable: true }],
};
const TAGS = {
  table_name: 'tags', primary_key_field: 'tag', primary_key_kind: 'text',
  columns: [{ name: 'weight', col_type: 'int', nullable: true }],
};

async function columnsOf(db, table) {
  return (await psql(db, `SELECT column_name FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name = '${table}' ORDER BY column_name`)).split('\n').filter(Boolean);
}

test('apply-schema: first resets, same spec keeps data, changed spec and force_reset reset', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());

  const a = await applySchema(srv.url, [NOTES, TAGS]);
  assert.equal(a.reset_performed, true, 'the first apply-schema on a database always resets');
  assert.deepEqual(a.tables, ['notes', 'tags']);
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'x' }, { body: 'y', n: 2 }] }));
  ok(await post(srv.url, '/api/models/tags/create-batch', { records: [{ tag: 'red', weight: 1 }] }));
  const h1 = await health(srv.url);
  assert.notEqual(h1.temporary_root, ZERO_ROOT);

  // Same spec (tables in another order, defaults spelled out): no reset.
  const b = await applySchema(srv.url, [
    { ...TAGS, columns: [{ name: 'weight', col_type: 'int', nullable: true, unique: false }] },
    { ...NOTES, columns: [NOTES.columns[1], { ...NOTES.columns[0], nullable: false }] },
  ]);
  assert.equal(b.reset_performed, false);
  assert.equal(b.schema_hash, a.schema_hash);
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM notes'), '2');
  assert.equal((await health(srv.url)).temporary_root, h1.temporary_root);
  const r = ok(await post(srv.url, '/api/models/notes/read-batch', { ids: ['1', '2'] }));
  assert.equal(r.verified, true);

  // Changed spec: reset, tables dropped and recreated; the tree holds only
  // the transition records (PROTOCOL.md §14.2: the first apply-schema's and
  // this reset's).
  const notes2 = { ...NOTES, columns: [...NOTES.columns, { name: 'extra', col_type: 'jsonb', nullable: true }] };
  const c = await applySchema(srv.url, [notes2, TAGS]);
  assert.equal(c.reset_performed, true);
  assert.notEqual(c.schema_hash, a.schema_hash);
  assert.deepEqual(await columnsOf(srv.db, 'notes'), ['body', 'extra', 'id', 'n']);
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM notes'), '0');
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM tags'), '0');
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM vmdb_leaves'), '2');
  let h = await health(srv.url);
  const recordsRoot = async () => smtRootHex(await storedTransitionLeaves(srv.db));
  assert.equal(h.temporary_root, await recordsRoot());
  assert.equal(h.main_root, h.temporary_root);
  assert.equal(h.leaves, 2);
  fails(await post(srv.url, '/api/models/notes/read-batch', { ids: ['1'] }), 404);

  const w = ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'z', extra: { k: 1 } }] }));
  assert.deepEqual(w.ids, ['1'], 'a recreated table starts its sequence again');

  // force_reset with the same spec: reset anyway.
  const d = await applySchema(srv.url, [notes2, TAGS], true);
  assert.equal(d.reset_performed, true);
  assert.equal(d.schema_hash, c.schema_hash);
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM notes'), '0');
  h = await health(srv.url);
  assert.equal(h.temporary_root, await recordsRoot());
  assert.equal(h.leaves, 3);

  // A model dropped from the spec is no longer registered; its table is gone.
  const e = await applySchema(srv.url, [TAGS]);
  assert.equal(e.reset_performed, true);
  assert.deepEqual(e.tables, ['tags']);
  fails(await post(srv.url, '/api/models/notes/read-latest', { limit: 1 }), 400);
  assert.equal(await psql(srv.db, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'notes'"), '0');
});

test('apply-schema: a requested table that exists but is not managed is refused (409 TABLE_NOT_MANAGED), nothing changes', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES]);
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'keep me' }] }));
  await psql(srv.db, "CREATE TABLE precious (id int PRIMARY KEY, v text); INSERT INTO precious VALUES (1, 'mine');");
  const before = await tableCounts(srv.db);
  const root = (await health(srv.url)).temporary_root;

  const f = fails(await post(srv.url, '/bootstrap/apply-schema', {
    tables: [NOTES, { table_name: 'precious', primary_key_field: 'id', primary_key_kind: 'int', columns: [] }],
    force_reset: true,
  }), 409, 'TABLE_NOT_MANAGED');
  assert.match(f.error, /precious/);
  assert.deepEqual(await tableCounts(srv.db), before);
  assert.equal(await psql(srv.db, 'SELECT v FROM precious'), 'mine');
  assert.equal((await health(srv.url)).temporary_root, root);
  const r = ok(await post(srv.url, '/api/models/notes/read-batch', { ids: ['1'] }));
  assert.equal(r.records[0].body, 'keep me');
  // The unmanaged table is neither listed by /bootstrap/schema nor a model.
  const s = await get(srv.url, '/bootstrap/schema');
  assert.deepEqual(s.json.tables.map((x) => x.table_name), ['notes']);
  fails(await post(srv.url, '/api/models/precious/read-batch', { ids: ['1'] }), 400);
});

test('clear-data: confirm required; clears rows and their leaves, the transition records stay, tables and sequences kept', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES, TAGS]);
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'a' }, { body: 'b' }, { body: 'c' }] }));
  ok(await post(srv.url, '/api/models/tags/create-batch', { records: [{ tag: 't1' }] }));
  const before = await tableCounts(srv.db);
  const root = (await health(srv.url)).temporary_root;

  for (const body of [{}, { confirm: false }]) {
    const f = fails(await post(srv.url, '/bootstrap/clear-data', body), 400);
    assert.equal(f.error, 'confirm must be true to clear data');
  }
  assert.deepEqual(await tableCounts(srv.db), before);
  assert.equal((await health(srv.url)).temporary_root, root);

  const d = ok(await post(srv.url, '/bootstrap/clear-data', { confirm: true }), 'clear-data');
  assert.equal(d.cleared, true);
  assert.equal(typeof d.message, 'string');
  // Only the records of the first apply-schema (a reset) and of this clear
  // are left (PROTOCOL.md §14.2).
  assert.equal(await psql(srv.db, 'SELECT (SELECT count(*) FROM notes) + (SELECT count(*) FROM tags)'), '0');
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM vmdb_leaves'), '2');
  const h = await health(srv.url);
  assert.equal(d.root, h.temporary_root);
  assert.notEqual(d.root, ZERO_ROOT);
  assert.equal(h.temporary_root, smtRootHex(await storedTransitionLeaves(srv.db)));
  assert.equal(h.leaves, 2);
  assert.equal(h.status, 'ok');

  // Registry and tables kept; sequences continue.
  const w = ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'after' }] }));
  assert.deepEqual(w.ids, ['4']);
  const r = ok(await post(srv.url, '/api/models/notes/read-batch', { ids: ['4'] }));
  assert.equal(r.verified, true);
  fails(await post(srv.url, '/api/models/notes/read-batch', { ids: ['1'] }), 404);
  const s = ok(await post(srv.url, '/bootstrap/apply-schema', { tables: [NOTES, TAGS] }));
  assert.equal(s.reset_performed, false, 'the schema hash is kept');
});

test('/bootstrap/schema: live catalog, internal tables hidden, not enveloped', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES, TAGS]);
  const s = await get(srv.url, '/bootstrap/schema');
  assert.equal(s.status, 200);
  assert.equal(s.json.success, undefined, 'not wrapped in the envelope');
  assert.equal(s.json.schema, 'public');
  assert.deepEqual(s.json.tables.map((x) => x.table_name), ['notes', 'tags']);
  const notes = s.json.tables[0];
  assert.deepEqual(notes.primary_key, ['id']);
  assert.deepEqual(notes.columns.map((c) => c.name).sort(), ['body', 'id', 'n']);
  const id = notes.columns.find((c) => c.name === 'id');
  assert.equal(id.data_type, 'integer');
  assert.equal(id.is_nullable, false);
  assert.equal(id.default, "nextval('notes_id_seq'::regclass)");
  assert.deepEqual(notes.columns.find((c) => c.name === 'body'),
    { name: 'body', data_type: 'text', is_nullable: false, default: null });
  assert.deepEqual(s.json.tables[1].primary_key, ['tag']);
});

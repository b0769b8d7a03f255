// Seed scenario S3 (migration, seed-behaviour.md §8 and §1.9) and the
// migration rules of docs/COMPATIBILITY.md (VMDB_MIGRATIONS_DIR, one
// transaction, MIGRATION_FAILED, MIGRATION_CHANGED).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, tempDir, psql, post, get, ok, fails, health, isHex64,
  applySchema, S1_TABLES, expectedRootFromRows, tableCounts,
} from './lib.mjs';

const ALL = [{ table: 'agents', pk: 'id' }, { table: 'follow_queue', pk: 'id' }, { table: 'agent_tweets', pk: 'id' }];
const MIGRATION = `-- seed: migrations/20260122144429_migration_test_add_columns.sql
ALTER TABLE agents ADD COLUMN IF NOT EXISTS schema_version integer NOT NULL DEFAULT 1;
ALTER TABLE agent_tweets ADD COLUMN IF NOT EXISTS archived boolean NOT NULL DEFAULT false;
ALTER TABLE follow_queue ADD COLUMN IF NOT EXISTS processed_at timestamptz NULL;
`;

async function seedRows(url) {
  const ag = ok(await post(url, '/api/models/agents/create-batch', {
    records: [{ name: 'alice', character: { role: 'builder' } }, { name: 'bob', character: { role: 'runner' } }],
  }));
  ok(await post(url, '/api/models/follow_queue/create-batch', {
    records: [{ user_id: 'u1', username: 'one', agent_id: ag.ids[0], created_at: '2025-02-01T00:00:00Z' }],
  }));
  ok(await post(url, '/api/models/agent_tweets/create-batch', {
    records: [{ agent_id: ag.ids[1], tweet_id: 't-1', content: 'hello', poll_options: ['a', 'b'] }],
  }));
  return ag;
}

function column(schemaBody, table, name) {
  const t = schemaBody.tables.find((x) => x.table_name === table);
  assert.ok(t, `table ${table} in /bootstrap/schema`);
  return t.columns.find((c) => c.name === name);
}

test('S3: migrate adds columns, rebuilds the tree; writes and reads verify afterwards', async (t) => {
  const migDir = tempDir('vmdb-mig-');
  const srv = await startServer({ env: { VMDB_MIGRATIONS_DIR: migDir } });
  t.after(() => srv.stop());
  await applySchema(srv.url, S1_TABLES, true);
  const ag = await seedRows(srv.url);
  const before = await health(srv.url);

  const file = '20260122144429_migration_test_add_columns.sql';
  fs.writeFileSync(path.join(migDir, file), MIGRATION);
  const m = ok(await post(srv.url, '/bootstrap/migrate', { confirm: true }), 'migrate');
  assert.equal(m.migrated, true);
  assert.ok(isHex64(m.new_root), 'data.new_root');
  assert.equal(m.old_temporary_root, before.temporary_root);
  assert.equal(m.updated_leaves, 4 + 3 + 1, 'four rows, the id ranges of the three serial tables and the record of the apply-schema reset');
  assert.ok(Array.isArray(m.applied) && m.applied.length === 1, `applied: ${JSON.stringify(m.applied)}`);
  assert.ok(JSON.stringify(m.applied).includes('20260122144429'), 'applied names the file');
  assert.notEqual(m.new_root, before.temporary_root, 'every row hash now covers the new columns');

  const h = await health(srv.url);
  assert.equal(h.temporary_root, m.new_root);
  assert.equal(h.status, 'ok');

  const s = await get(srv.url, '/bootstrap/schema');
  assert.equal(s.status, 200);
  assert.equal(s.json.schema, 'public');
  assert.deepEqual(column(s.json, 'agents', 'schema_version'),
    { name: 'schema_version', data_type: 'integer', is_nullable: false, default: '1' });
  assert.deepEqual(column(s.json, 'agent_tweets', 'archived'),
    { name: 'archived', data_type: 'boolean', is_nullable: false, default: 'false' });
  assert.deepEqual(column(s.json, 'follow_queue', 'processed_at'),
    { name: 'processed_at', data_type: 'timestamp with time zone', is_nullable: true, default: null });
  for (const x of s.json.tables) {
    assert.doesNotMatch(x.table_name, /^(vmdb_|verifiable_)/, 'internal tables are hidden');
  }

  // Old rows read back verified, with the new column.
  const r = ok(await post(srv.url, '/api/models/agents/read-batch', { ids: ag.ids }), 'read after migrate');
  assert.equal(r.verified, true);
  for (const rec of r.records) assert.equal(rec.schema_version, 1);

  // New columns are registered with their types (coercion applies).
  const c = ok(await post(srv.url, '/api/models/agents/create-batch',
    { records: [{ name: 'carol', character: {}, schema_version: '2' }] }), 'create after migrate');
  assert.equal(c.records[0].schema_version, 2);
  const tw = ok(await post(srv.url, '/api/models/agent_tweets/create-batch',
    { records: [{ tweet_id: 't-2', archived: 't' }] }), 'create tweet after migrate');
  assert.equal(tw.records[0].archived, true);
  const fq = ok(await post(srv.url, '/api/models/follow_queue/create-batch',
    { records: [{ user_id: 'u2', username: 'two', agent_id: '1', processed_at: '2025-03-01T12:00:00+02:00' }] }));
  assert.equal(fq.records[0].processed_at, '2025-03-01T10:00:00+00:00');
  const bad = fails(await post(srv.url, '/api/models/agents/create-batch',
    { records: [{ name: 'dave', character: {}, schema_version: 'two' }] }), 400, 'VALIDATION_FAILED');
  assert.deepEqual(bad.data.errors, [{ index: 0, field: 'schema_version', expected: 'int', got: 'string', value: 'two' }]);
  const up = ok(await post(srv.url, '/api/models/agents/upsert',
    { records: [{ id: ag.ids[0], schema_version: 3 }] }), 'upsert after migrate');
  assert.equal(up.records[0].schema_version, 3);
  assert.equal(up.records[0].name, 'alice');

  const h2 = await health(srv.url);
  assert.equal(await expectedRootFromRows(srv.url, srv.db, ALL), h2.temporary_root);

  // Nothing pending: success, nothing applied; the rows' leaves do not
  // move, the tree only gains the migrate's record (PROTOCOL.md §14.2).
  const m2 = ok(await post(srv.url, '/bootstrap/migrate', { confirm: true }), 'second migrate');
  assert.deepEqual(m2.applied, []);
  assert.equal(m2.old_temporary_root, h2.temporary_root);
  assert.equal(m2.new_root, await expectedRootFromRows(srv.url, srv.db, ALL));
  assert.equal((await health(srv.url)).temporary_root, m2.new_root);
  const rec = JSON.parse(await psql(srv.db, `SELECT record FROM vmdb_transitions WHERE seq = ${m2.seq}`));
  assert.equal(rec.kind, 'migrate');
  assert.deepEqual(rec.migrations, []);
  assert.equal(rec.old_root, h2.temporary_root);
});

test('migrate: confirm required; a failing file changes nothing; a changed applied file is refused', async (t) => {
  const migDir = tempDir('vmdb-mig-');
  const srv = await startServer({ env: { VMDB_MIGRATIONS_DIR: migDir } });
  t.after(() => srv.stop());
  await applySchema(srv.url, S1_TABLES, true);
  await seedRows(srv.url);

  fails(await post(srv.url, '/bootstrap/migrate', {}), 400);
  const nc = fails(await post(srv.url, '/bootstrap/migrate', { confirm: false }), 400);
  assert.equal(nc.error, 'confirm must be true to run migrations');

  // Two pending files, the second fails: neither is applied.
  fs.writeFileSync(path.join(migDir, '1_add_note.sql'), 'ALTER TABLE agents ADD COLUMN note text NULL;\n');
  fs.writeFileSync(path.join(migDir, '2_broken.sql'), 'ALTER TABLE no_such_table ADD COLUMN x int;\n');
  const before = await health(srv.url);
  const countsBefore = await tableCounts(srv.db);
  const f = fails(await post(srv.url, '/bootstrap/migrate', { confirm: true }), 400, 'MIGRATION_FAILED');
  assert.match(f.error, /2_broken/, 'the error names the failing file');
  assert.equal(await psql(srv.db,
    "SELECT count(*) FROM information_schema.columns WHERE table_name = 'agents' AND column_name = 'note'"), '0',
  'the first file was rolled back with the second');
  assert.equal((await health(srv.url)).temporary_root, before.temporary_root);
  assert.deepEqual(await tableCounts(srv.db), countsBefore);

  // Fix the broken file: both apply.
  fs.writeFileSync(path.join(migDir, '2_broken.sql'), 'ALTER TABLE agent_tweets ADD COLUMN lang text NULL;\n');
  const m = ok(await post(srv.url, '/bootstrap/migrate', { confirm: true }), 'migrate after fix');
  assert.equal(m.applied.length, 2);
  const rows = ok(await post(srv.url, '/api/models/agents/read-latest', { limit: 10 }));
  assert.equal(rows.verified, true);
  for (const r of rows.records) assert.ok('note' in r && r.note === null);

  // Editing an applied file: refused, nothing changes.
  fs.writeFileSync(path.join(migDir, '1_add_note.sql'), 'ALTER TABLE agents ADD COLUMN note2 text NULL;\n');
  const root = (await health(srv.url)).temporary_root;
  fails(await post(srv.url, '/bootstrap/migrate', { confirm: true }), 409, 'MIGRATION_CHANGED');
  assert.equal(await psql(srv.db,
    "SELECT count(*) FROM information_schema.columns WHERE table_name = 'agents' AND column_name = 'note2'"), '0');
  assert.equal((await health(srv.url)).temporary_root, root);
});

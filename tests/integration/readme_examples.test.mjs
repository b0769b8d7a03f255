// The seed README's examples (apply-schema of `agents`, create-batch,
// read-batch, read-latest with where/order_by, upsert), and the protocol v1
// leaves vmdb stores for them (docs/PROTOCOL.md, table vmdb_leaves).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, psql, post, ok, health, applySchema, README_AGENTS, rowKey, rowValue, rangeLeaf, smtRootHex, storedTransitionLeaves,
} from './lib.mjs';

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?\+00:00$/;
const byId = (d) => Object.fromEntries(d.ids.map((id, i) => [id, d.records[i]]));

test('README: apply-schema, create-batch, read-batch, read-latest; leaves follow PROTOCOL.md', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());

  const h0 = await health(srv.url);
  assert.equal(h0.status, 'ok');

  const s1 = ok(await post(srv.url, '/bootstrap/apply-schema', { tables: [README_AGENTS], force_reset: false }));
  assert.deepEqual(s1, {
    schema_hash: '9ccc29ee5733f1e8e8682d2d2ae5790ceee7cb28b8a8c33d4bfde9f2ba1cc1a0',
    reset_performed: true,
    tables: ['agents'],
  });
  // The DDL the README promises: created_at NOT NULL DEFAULT now(), name UNIQUE.
  const cols = await psql(srv.db, `SELECT column_name, data_type, is_nullable, coalesce(column_default, '')
    FROM information_schema.columns WHERE table_name = 'agents' ORDER BY column_name`);
  assert.equal(cols, [
    'created_at|timestamp with time zone|NO|now()',
    'description|text|YES|',
    'id|integer|NO|nextval(\'agents_id_seq\'::regclass)',
    'metadata|jsonb|YES|',
    'name|text|NO|',
  ].join('\n'));
  // The tree holds only the record of the apply-schema (a reset, PROTOCOL.md §14.2).
  const records = await storedTransitionLeaves(srv.db);
  assert.equal(records.length, 1);
  assert.equal((await health(srv.url)).temporary_root, smtRootHex(records));

  const c = ok(await post(srv.url, '/api/models/agents/create-batch', {
    records: [
      { name: 'alice', description: 'first agent', metadata: { team: 'core', level: 3, tags: ['a', 'b'] } },
      { name: 'bob', metadata: null },
    ],
  }), 'create-batch');
  assert.deepEqual(c.ids, ['1', '2']);
  assert.equal(c.verified, true);
  const [alice, bob] = c.records;
  assert.equal(alice.id, 1);
  assert.equal(alice.name, 'alice');
  assert.equal(alice.description, 'first agent');
  assert.deepEqual(alice.metadata, { team: 'core', level: 3, tags: ['a', 'b'] });
  assert.match(alice.created_at, TS, 'created_at DEFAULT now(), in row_to_json UTC form');
  assert.deepEqual(Object.keys(bob).sort(), ['created_at', 'description', 'id', 'metadata', 'name']);
  assert.equal(bob.description, null);
  assert.equal(bob.metadata, null);

  // What PostgreSQL holds is what was answered.
  assert.equal(await psql(srv.db,
    "SET TimeZone = 'UTC'; SELECT row_to_json(a)->>'created_at' FROM agents a WHERE id = 1"), alice.created_at);
  assert.equal(await psql(srv.db, 'SELECT metadata IS NULL FROM agents WHERE id = 2'), 't');

  // vmdb_leaves holds exactly the leaves of the returned rows, the id range
  // of the serial table (PROTOCOL.md §10) and the apply-schema's record
  // (§14.2), and the root is the root over them.
  const leaves = (await psql(srv.db, "SELECT encode(key, 'hex') || ' ' || encode(value, 'hex') FROM vmdb_leaves ORDER BY 1"))
    .split('\n').sort();
  const all = [...c.records.map((r) => ({ key: rowKey('agents', String(r.id)), value: rowValue(r) })),
    rangeLeaf('agents', 1, 2), ...records];
  const want = all.map((l) => `${l.key.toString('hex')} ${l.value.toString('hex')}`).sort();
  assert.deepEqual(leaves, want, 'vmdb_leaves = {rowKey(table, pk): rowValue(row)}, the range leaf and the record');
  const root = smtRootHex(all);
  assert.equal(c.meta.proposed_root, root);
  assert.equal((await health(srv.url)).temporary_root, root);

  const rb = ok(await post(srv.url, '/api/models/agents/read-batch', { ids: ['1', '2'] }), 'read-batch');
  assert.equal(rb.verified, true);
  assert.deepEqual(byId(rb), byId(c));

  const rl = ok(await post(srv.url, '/api/models/agents/read-latest', { limit: 5 }), 'read-latest');
  assert.deepEqual(rl.ids, ['2', '1'], 'latest first (primary key descending)');
  assert.equal(rl.verified, true);
  assert.equal(rl.meta.limit, 5);
  assert.deepEqual(rl.records, [bob, alice]);

  // Same spec again: no reset, same hash, data kept.
  const s2 = ok(await post(srv.url, '/bootstrap/apply-schema', { tables: [README_AGENTS] }));
  assert.deepEqual(s2, { ...s1, reset_performed: false });
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM agents'), '2');
  assert.equal((await health(srv.url)).temporary_root, root);
});

test('README: read-latest where/order_by and upsert examples (poll_duration, enabled)', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  const agents = {
    ...README_AGENTS,
    columns: [...README_AGENTS.columns,
      { name: 'poll_duration', col_type: 'int', nullable: true },
      { name: 'enabled', col_type: 'bool', nullable: true }],
  };
  await applySchema(srv.url, [agents]);
  ok(await post(srv.url, '/api/models/agents/create-batch', {
    records: [
      { name: 'a1', poll_duration: 1440, enabled: true },
      { name: 'a2', poll_duration: '1440', enabled: 'false' },
      { name: 'a3', poll_duration: 60, enabled: '1' },
      { name: 'a4', poll_duration: '1440', enabled: 't' },
      { name: 'a5' },
    ],
  }));

  // The README's example, verbatim.
  const rl = ok(await post(srv.url, '/api/models/agents/read-latest', {
    limit: 10,
    where: { poll_duration: '1440', enabled: 'true' },
    order_by: { field: 'id', direction: 'desc' },
  }), 'read-latest example');
  assert.deepEqual(rl.ids, ['4', '1']);
  assert.equal(rl.verified, true);
  assert.equal(rl.meta.limit, 10);
  for (const r of rl.records) {
    assert.equal(r.poll_duration, 1440);
    assert.equal(r.enabled, true);
  }

  // The README's upsert example: only the supplied column changes.
  const before = ok(await post(srv.url, '/api/models/agents/read-batch', { ids: ['3'] })).records[0];
  const up = ok(await post(srv.url, '/api/models/agents/upsert',
    { records: [{ id: 3, poll_duration: '1440' }] }), 'upsert example');
  assert.deepEqual(up.ids, ['3']);
  assert.equal(up.verified, true);
  assert.deepEqual(up.records[0], { ...before, poll_duration: 1440 });
  const after = ok(await post(srv.url, '/api/models/agents/read-batch', { ids: ['3'] }));
  assert.deepEqual(after.records[0], up.records[0]);
  assert.equal(await psql(srv.db, 'SELECT poll_duration FROM agents WHERE id = 3'), '1440');
  assert.equal((await health(srv.url)).temporary_root, up.meta.proposed_root);
});

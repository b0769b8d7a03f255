// Seed scenarios S1 (end-to-end batching) and S2 (warm restart) of
// shared/spec/seed-behaviour.md §8, against a real `vmdb serve` on a real
// PostgreSQL. S3 (migration) is in migrate.test.mjs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, createDb, tempDir, psql, post, get, ok, health, isHex64,
  applySchema, S1_TABLES, expectedRootFromRows,
} from './lib.mjs';

const byId = (d) => Object.fromEntries(d.ids.map((id, i) => [id, d.records[i]]));

function assertWrite(d, n, what) {
  assert.equal(d.verified, true, `${what}: verified`);
  assert.equal(d.ids.length, n, `${what}: ids`);
  assert.equal(d.records.length, n, `${what}: records`);
  for (const id of d.ids) assert.equal(typeof id, 'string', `${what}: ids are strings`);
  assert.ok(d.meta && isHex64(d.meta.proposed_root), `${what}: meta.proposed_root`);
  assert.equal(typeof d.meta.committed, 'boolean', `${what}: meta.committed`);
  assert.ok(Number.isInteger(d.meta.seq), `${what}: meta.seq`);
}

test('S1: three tables, three create-batches, verified read-batch of the three highest agent ids', async (t) => {
  const N = 3;
  const srv = await startServer({ env: { BATCH_COMMIT_SIZE: String(N) } });
  t.after(() => srv.stop());

  const schema = await applySchema(srv.url, S1_TABLES, true);
  assert.equal(schema.reset_performed, true);
  assert.ok(isHex64(schema.schema_hash));
  assert.deepEqual(schema.tables, ['agent_tweets', 'agents', 'follow_queue']);

  const w1 = ok(await post(srv.url, '/api/models/agents/create-batch', {
    records: [
      { name: 'alice', character: { role: 'builder', traits: ['curious', 'patient'] } },
      { name: 'bob', character: { role: 'runner', speed: 7 } },
      { name: 'charlie', character: { role: 'critic', mood: null } },
    ],
  }), 'agents batch 1');
  assertWrite(w1, 3, 'agents batch 1');
  const w2 = ok(await post(srv.url, '/api/models/agents/create-batch', {
    records: [
      { name: 'diana', character: { role: 'scout' } },
      { name: 'eve', character: { role: 'auditor', level: 2.5 } },
      { name: 'frank', character: { role: 'writer', langs: ['en', 'de'] } },
    ],
  }), 'agents batch 2');
  assertWrite(w2, 3, 'agents batch 2');
  // agent_id from the returned string ids, created_at with nanoseconds (UTC).
  const agentIds = w1.ids.map((s) => Number.parseInt(s, 10));
  const w3 = ok(await post(srv.url, '/api/models/follow_queue/create-batch', {
    records: agentIds.map((id, i) => ({
      user_id: `u${i}`, username: `user_${i}`, type: i === 0 ? 'follow' : null, agent_id: id,
      created_at: `2025-01-15T10:20:3${i}.123456789Z`,
    })),
  }), 'follow_queue batch');
  assertWrite(w3, 3, 'follow_queue batch');

  // Rows as PostgreSQL returned them: bigserial/bigint travel as strings,
  // timestamps in row_to_json's UTC form with microseconds.
  const a = byId(w1);
  assert.deepEqual(a[w1.ids[0]], {
    id: w1.ids[0], name: 'alice', character: { role: 'builder', traits: ['curious', 'patient'] },
    created_at: null, updated_at: null,
  });
  const fq = w3.records;
  assert.deepEqual(fq.map((r) => r.agent_id), w1.ids, 'follow_queue.agent_id (bigint) as strings');
  assert.equal(fq[0].created_at, '2025-01-15T10:20:30.123457+00:00');
  assert.equal(fq[0].type, 'follow');
  assert.equal(fq[1].type, null);
  for (const r of fq) assert.equal(typeof r.id, 'number', 'follow_queue.id (serial) is a number');

  // One group per sequential write; committed exactly on multiples of N.
  const ws = [w1, w2, w3];
  assert.equal(w2.meta.seq, w1.meta.seq + 1);
  assert.equal(w3.meta.seq, w2.meta.seq + 1);
  for (const w of ws) assert.equal(w.meta.committed, w.meta.seq % N === 0, `committed at seq ${w.meta.seq}`);
  assert.equal(ws.filter((w) => w.meta.committed).length, 1, 'exactly one of three consecutive writes is committed');
  const committed = ws.find((w) => w.meta.committed);

  const h = await health(srv.url);
  assert.equal(h.status, 'ok');
  assert.equal(h.temporary_root, w3.meta.proposed_root);
  assert.equal(h.main_root, committed.meta.proposed_root, 'main_root is the root of the committed write');
  assert.equal(h.seq, w3.meta.seq);
  assert.equal(h.leaves, 9 + 2 + 1, '9 rows, the id ranges of agents and follow_queue (PROTOCOL.md §10) and the record of the apply-schema reset (§14.2)');

  // Step 4: the three highest agent ids, found with SQL, read back verified.
  const top = (await psql(srv.db, 'SELECT id::text FROM agents ORDER BY id DESC LIMIT 3')).split('\n');
  assert.deepEqual(top.slice().sort(), w2.ids.slice().sort());
  const rb = ok(await post(srv.url, '/api/models/agents/read-batch', { ids: top }), 'read-batch');
  assert.equal(rb.verified, true);
  assert.deepEqual(rb.ids.slice().sort(), top.slice().sort());
  assert.deepEqual(byId(rb), byId(w2), 'read-batch returns the rows create-batch returned');
  assert.ok(rb.missing === undefined || rb.missing.length === 0);

  // Independent check: the root over every row, computed here (PROTOCOL.md).
  const root = await expectedRootFromRows(srv.url, srv.db, [
    { table: 'agents', pk: 'id' }, { table: 'follow_queue', pk: 'id' }, { table: 'agent_tweets', pk: 'id' }]);
  assert.equal(root, h.temporary_root, 'temporary_root is the protocol v1 root of the rows');

  // Step 5: graceful shutdown.
  const exit = await srv.stop('SIGINT');
  assert.deepEqual(exit, { code: 0, signal: null }, `exit status; log:\n${srv.log()}`);
});

test('S2: warm restart on the same database without apply-schema', async (t) => {
  const db = await createDb('s2');
  const dataDir = tempDir('vmdb-data-s2-');
  const a = await startServer({ db, dataDir, env: { CLEAR_DB: 'true', BATCH_COMMIT_SIZE: '1' } });
  let b = null;
  t.after(async () => { if (a.isRunning()) await a.stop(); if (b) await b.stop(); });

  const schema = await applySchema(a.url, [{
    table_name: 'agents', primary_key_field: 'id', primary_key_kind: 'big_serial',
    columns: [
      { name: 'name', col_type: 'text', nullable: false, unique: true },
      { name: 'character', col_type: 'jsonb', nullable: false },
    ],
  }], true);
  assert.equal(schema.reset_performed, true);
  assert.equal(schema.schema_hash, 'c97d5f0053148a9e41e36a6dd5e985db4458a4a6d4b1ad214adfff095866deec');

  const w1 = ok(await post(a.url, '/api/models/agents/create-batch',
    { records: [{ name: 'alice', character: { role: 'builder' } }] }), 'create A');
  assertWrite(w1, 1, 'create A');
  const hA = await health(a.url);
  assert.equal(hA.temporary_root, w1.meta.proposed_root);
  assert.deepEqual(await a.stop(), { code: 0, signal: null }, `first instance exit; log:\n${a.log()}`);

  // Restart: registry, tree and trusted state come back from the database
  // and the data directory.
  b = await startServer({ db, dataDir, env: { CLEAR_DB: 'false', BATCH_COMMIT_SIZE: '1' } });
  const hB = await health(b.url);
  assert.equal(hB.status, 'ok');
  assert.equal(hB.temporary_root, hA.temporary_root, 'same trusted root after restart');
  assert.equal(hB.seq, hA.seq);
  assert.equal(hB.leaves, 3, 'one row, the id range of agents and the record of the apply-schema reset');

  const w2 = ok(await post(b.url, '/api/models/agents/create-batch',
    { records: [{ name: 'bob', character: { role: 'runner' } }] }), 'create B');
  assertWrite(w2, 1, 'create B');
  assert.notEqual(w2.ids[0], w1.ids[0]);
  assert.equal(w2.meta.seq, hA.seq + 1);

  const r2 = ok(await post(b.url, '/api/models/agents/read-batch', { ids: w2.ids }), 'read new id');
  assert.equal(r2.verified, true);
  assert.deepEqual(r2.records, w2.records);
  const r12 = ok(await post(b.url, '/api/models/agents/read-batch', { ids: [w1.ids[0], w2.ids[0]] }), 'read both');
  assert.equal(r12.verified, true);
  assert.deepEqual(byId(r12), { ...byId(w1), ...byId(w2) });

  const s = await get(b.url, '/bootstrap/schema');
  assert.equal(s.status, 200);
  assert.deepEqual(s.json.tables.map((x) => x.table_name), ['agents']);
});

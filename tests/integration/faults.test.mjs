// Allocation failures (the error contract of docs/ARCHITECTURE.md): for
// every route, each allocation of the request's arena is made to fail in
// turn (the test-only header X-Vmdb-Fault-Alloc: N, honoured by builds with
// VMDB_TEST_HOOKS, such as the ASan + UBSan build the test suite runs
// twice). Every answer must be a proper envelope: a failure says
// success:false with a code (never a 500 that says success:true), a success
// is the same answer as without the fault; no write is half done, the
// integrity status stays clean, and the server keeps working. A build
// without the hooks skips the test, or fails it with VMDB_EXPECT_TEST_HOOKS=1.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, post, get, ok, assertFailureEnvelope, health, applySchema, psql,
  expectedRootFromRows, tempDir, smtRootHex, storedTransitionLeaves, skipWithoutHooks,
} from './lib.mjs';

const NOTES = {
  table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'big_serial',
  columns: [
    { name: 'title', col_type: 'text', unique: true },
    { name: 'n', col_type: 'int', nullable: true },
    { name: 'doc', col_type: 'jsonb', nullable: true },
  ],
};
const MAX_N = 400; // more allocations than any route makes

let srv;
let hooks = false;
let counter = 0;
const fresh = () => `t${++counter}`;

before(async () => {
  const migrations = tempDir('vmdb-mig-');
  fs.writeFileSync(path.join(migrations, '001_extra.sql'),
    'ALTER TABLE notes ADD COLUMN IF NOT EXISTS extra integer;\n');
  srv = await startServer({ env: { BATCH_COMMIT_SIZE: '1', VMDB_MIGRATIONS_DIR: migrations } });
  await applySchema(srv.url, [NOTES]);
  ok(await post(srv.url, '/api/models/notes/create-batch', {
    records: [{ title: 'seed-a', n: 1, doc: { k: [1, 2] } }, { title: 'seed-b', n: 2 }],
  }));
  // Does this build honour the header? A read-batch always allocates.
  const r = await post(srv.url, '/api/models/notes/read-batch', { ids: ['1'] },
    { headers: { 'x-vmdb-fault-alloc': '1' } });
  hooks = r.status === 500;
});
after(() => srv && srv.stop());

/**
 * Sends the request for N = 1, 2, ... until it succeeds; checks every
 * answer. `allocates`: the route takes memory from the request's arena, so
 * N = 1 must fail.
 */
async function sweep(t, name, send, allocates = true) {
  let n = 1;
  const codes = new Set();
  for (; n <= MAX_N; n++) {
    const r = await send({ 'x-vmdb-fault-alloc': String(n) });
    assert.ok(r.json && typeof r.json === 'object', `${name} N=${n}: a JSON envelope: ${r.status} ${r.text.slice(0, 300)}`);
    if (r.status === 200 && r.json.success === true) break;
    assert.notEqual(r.json.success, true, `${name} N=${n}: a ${r.status} must not say success`);
    assertFailureEnvelope(r, `${name} N=${n}`);
    assert.equal(r.status, 500, `${name} N=${n}: an allocation failure is a 500: ${r.text.slice(0, 300)}`);
    assert.equal(r.json.code, 'INTERNAL', `${name} N=${n}`);
    codes.add(r.json.code);
  }
  if (allocates) assert.ok(n > 1, `${name}: the first allocation was made to fail`);
  assert.ok(n <= MAX_N, `${name}: succeeds once the fault is past its allocations`);
  t.diagnostic(n > 1 ? `${name}: ${n - 1} allocations failed in turn, each answered ${[...codes].join(',')}`
    : `${name}: takes nothing from the request's arena; answered as without the fault`);
}

test('every allocation failure of every route answers a proper failure and leaves nothing half written', async (t) => {
  if (skipWithoutHooks(t, hooks)) return;
  const m = (route) => `/api/models/notes/${route}`;
  await sweep(t, 'create-batch', (h) => post(srv.url, m('create-batch'),
    { records: [{ title: fresh(), n: 5, doc: { a: 'x' } }, { title: fresh() }] }, { headers: h }));
  await sweep(t, 'upsert', (h) => post(srv.url, m('upsert'),
    { records: [{ id: '1', title: 'seed-a', n: counter++ }, { id: String(1000 + counter), title: fresh() }] }, { headers: h }));
  await sweep(t, 'read-batch', (h) => post(srv.url, m('read-batch'), { ids: ['1', '2', '999999'] }, { headers: h }));
  await sweep(t, 'read-latest', (h) => post(srv.url, m('read-latest'),
    { limit: 3, where: { n: 5 }, order_by: { field: 'title', direction: 'asc' } }, { headers: h }));
  await sweep(t, 'delete-batch', async (h) => {
    const d = ok(await post(srv.url, m('create-batch'), { records: [{ title: fresh() }] }));
    return post(srv.url, m('delete-batch'), { ids: [d.ids[0], '888888'] }, { headers: h });
  });
  // The same routes with "proof": true (PROTOCOL.md §9). A write whose
  // proof cannot be built after it committed answers 500 INTERNAL (and
  // says it was committed); the next attempt writes anew.
  await sweep(t, 'create-batch proof', (h) => post(srv.url, m('create-batch'),
    { records: [{ title: fresh(), n: 5 }, { title: fresh() }], proof: true }, { headers: h }));
  await sweep(t, 'upsert proof', (h) => post(srv.url, m('upsert'),
    { records: [{ id: '1', title: 'seed-a', n: counter++ }], proof: true }, { headers: h }));
  await sweep(t, 'read-batch proof', (h) => post(srv.url, m('read-batch'),
    { ids: ['1', '2', '999999', 'x'], proof: true }, { headers: h }));
  await sweep(t, 'read-latest proof', (h) => post(srv.url, m('read-latest'), { limit: 2, proof: true }, { headers: h }));
  // A complete read-latest (§10) over the whole id range, gap ids included.
  await sweep(t, 'read-latest complete', (h) => post(srv.url, m('read-latest'),
    { limit: 100, order_by: { field: 'id', direction: 'asc' }, proof: true }, { headers: h }));
  await sweep(t, 'delete-batch proof', async (h) => {
    const d = ok(await post(srv.url, m('create-batch'), { records: [{ title: fresh() }] }));
    return post(srv.url, m('delete-batch'), { ids: [d.ids[0], '777777'], proof: true }, { headers: h });
  });
  await sweep(t, 'execute create_batch', (h) => post(srv.url, '/api/execute',
    { model_name: 'notes', action: 'create_batch', payload: [{ title: fresh() }] }, { headers: h }));
  await sweep(t, 'execute read_batch', (h) => post(srv.url, '/api/execute',
    { model_name: 'notes', action: 'read_batch', payload: { ids: ['2'] } }, { headers: h }));
  await sweep(t, 'validation failure', async (h) => {
    // Fails validation when nothing else fails: the sweep ends on its 400.
    const r = await post(srv.url, m('create-batch'), { records: [{ title: 5, bogus: 1 }] }, { headers: h });
    return r.status === 400 ? { ...r, status: 200, json: { success: true } } : r;
  });
  await sweep(t, 'apply-schema (same schema)', (h) => post(srv.url, '/bootstrap/apply-schema', { tables: [NOTES] }, { headers: h }));
  // The migration is applied (and its name answered) by the first
  // attempt that gets through.
  await sweep(t, 'migrate', (h) => post(srv.url, '/bootstrap/migrate', { confirm: true }, { headers: h }));
  await sweep(t, 'schema', (h) => get(srv.url, '/bootstrap/schema', { headers: h })
    .then((r) => (r.status === 200 && r.json?.tables ? { ...r, json: { success: true } } : r)));
  // Routes that take nothing from the arena still answer through it.
  for (const p of ['/health', '/api/identity', '/api/roots/latest', '/api/roots/1']) {
    await sweep(t, p, (h) => get(srv.url, p, { headers: h }), false);
  }
  await sweep(t, 'roots proof', (h) => get(srv.url, '/api/roots/proof?from=1&to=2', { headers: h }));
  // The record of the first apply-schema (a reset, PROTOCOL.md §14.2).
  await sweep(t, 'roots transition', (h) => get(srv.url, '/api/roots/1/transition', { headers: h }));
  await sweep(t, 'checkpoint', (h) => get(srv.url, '/checkpoint', { headers: h })
    .then((r) => (r.status === 200 && r.text.startsWith('vmdb/') ? { ...r, json: { success: true } } : r)));
  await sweep(t, 'repair-roots', (h) => post(srv.url, '/bootstrap/repair-roots', { confirm: true }, { headers: h }), false);

  // Nothing half written: the tree matches the rows, the status is clean,
  // and writes go on.
  const hl = await health(srv.url);
  assert.equal(hl.integrity.ok, true, JSON.stringify(hl));
  assert.equal(hl.writes, 'ok');
  const rows = Number(await psql(srv.db, 'SELECT count(*) FROM notes'));
  const records = Number(await psql(srv.db, 'SELECT count(*) FROM vmdb_transitions'));
  assert.equal(hl.leaves, rows + 1 + records, 'one leaf per row, the id range of notes (PROTOCOL.md §10) and the transition records (§14.2)');
  assert.equal(await expectedRootFromRows(srv.url, srv.db, [{ table: 'notes', pk: 'id' }]), hl.temporary_root);
  ok(await post(srv.url, m('create-batch'), { records: [{ title: fresh() }] }));

  // The transitions that empty the tables, last.
  await sweep(t, 'clear-data', (h) => post(srv.url, '/bootstrap/clear-data', { confirm: true }, { headers: h }), false);
  await sweep(t, 'apply-schema (reset)', (h) => post(srv.url, '/bootstrap/apply-schema',
    { tables: [NOTES], force_reset: true }, { headers: h }));
  const after = await health(srv.url);
  assert.equal(after.integrity.ok, true, JSON.stringify(after));
  // Only the transition records are left, one per transition that got through.
  assert.equal(after.leaves, Number(await psql(srv.db, 'SELECT count(*) FROM vmdb_transitions')));
  assert.equal(after.temporary_root, smtRootHex(await storedTransitionLeaves(srv.db)));
  ok(await post(srv.url, m('create-batch'), { records: [{ title: fresh() }] }));
});

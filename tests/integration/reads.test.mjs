// Reads: read-latest (seed-behaviour.md §1.5, §8), read-batch (§1.4, §8 and
// COMPATIBILITY.md "Reads"), model resolution (§1.0.5), /api/execute (§1.2).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, post, ok, fails, applySchema } from './lib.mjs';

const ITEMS = {
  table_name: 'items', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [
    { name: 'name', col_type: 'text' },
    { name: 'poll_duration', col_type: 'int', nullable: true },
    { name: 'enabled', col_type: 'bool', nullable: true },
    { name: 'score', col_type: 'big_int', nullable: true },
  ],
};

let srv;
let created;
before(async () => {
  srv = await startServer();
  await applySchema(srv.url, [ITEMS]);
  const records = [];
  for (let i = 1; i <= 120; i++) {
    records.push({ name: `item${String(i).padStart(3, '0')}`, poll_duration: i % 3 === 0 ? 1440 : 60, enabled: i % 2 === 0, score: 1000 - i });
  }
  created = ok(await post(srv.url, '/api/models/items/create-batch', { records }), 'seed rows');
});
after(() => srv && srv.stop());

const latest = (body) => post(srv.url, '/api/models/items/read-latest', body);
const readBatch = (ids) => post(srv.url, '/api/models/items/read-batch', { ids });

test('read-latest: limit rules (0 → 400, 500 → meta.limit 100), default order primary key descending', async () => {
  const f = fails(await latest({ limit: 0 }), 400);
  assert.equal(f.error, 'limit must be >= 1');
  const d = ok(await latest({ limit: 500 }));
  assert.equal(d.meta.limit, 100);
  assert.equal(d.ids.length, 100);
  assert.equal(d.ids[0], '120');
  assert.equal(d.ids[99], '21');
  assert.equal(d.verified, true);
  const e = ok(await latest({ limit: 3 }));
  assert.deepEqual(e.ids, ['120', '119', '118']);
  assert.deepEqual(e.records.map((r) => r.id), [120, 119, 118]);
  for (const body of [{}, { limit: -1 }, { limit: 5.5 }, { limit: '5' }, { limit: null }, { limit: 4294967296 }]) {
    fails(await latest(body), 422, 'INVALID_JSON', JSON.stringify(body));
  }
});

test('read-latest: where filters with coercion, unknown/invalid fields, order_by and direction', async () => {
  const w = ok(await latest({ limit: 100, where: { poll_duration: '1440' } }), 'where "1440" on an int column');
  assert.equal(w.ids.length, 40);
  for (const r of w.records) assert.equal(r.poll_duration, 1440);
  const w2 = ok(await latest({ limit: 100, where: { poll_duration: 1440, enabled: 'true' } }));
  assert.deepEqual(w2.ids, ['120', '114', '108', '102', '96', '90', '84', '78', '72', '66', '60', '54', '48', '42', '36', '30', '24', '18', '12', '6']);
  const w3 = ok(await latest({ limit: 5, where: { id: '7' } }), 'where on the serial key with a string');
  assert.deepEqual(w3.ids, ['7']);
  const w4 = ok(await latest({ limit: 5, where: { score: '990' } }), 'where on a bigint');
  assert.deepEqual(w4.ids, ['10']);
  assert.equal(w4.records[0].score, '990');
  fails(await latest({ limit: 5, where: { name: 'nobody' } }), 404, 'NOT_FOUND');
  // COMPATIBILITY.md: null matches SQL NULL (no row here has a NULL poll_duration).
  const nf = fails(await latest({ limit: 5, where: { poll_duration: null } }), 404);
  assert.equal(nf.error, 'No records found');

  const u = fails(await latest({ limit: 5, where: { nope: 1 } }), 400);
  assert.equal(u.error, "Unknown where field 'nope'");
  const iv = fails(await latest({ limit: 5, where: { 'a-b': 1 } }), 400);
  assert.equal(iv.error, "Invalid where field 'a-b'");
  const c = fails(await latest({ limit: 5, where: { poll_duration: 'abc' } }), 400);
  assert.equal(c.error, 'Invalid where filter values');
  assert.deepEqual(c.data.errors, [{ index: 0, field: 'poll_duration', expected: 'int', got: 'string', value: 'abc' }]);
  const ob = fails(await latest({ limit: 5, order_by: { field: 'nope' } }), 400);
  assert.equal(ob.error, "Unknown order_by.field 'nope'");
  const ob2 = fails(await latest({ limit: 5, order_by: { field: 'x;y' } }), 400);
  assert.equal(ob2.error, "Invalid order_by.field 'x;y'");
  fails(await latest({ limit: 5, order_by: { direction: 'asc' } }), 422, 'INVALID_JSON');
  fails(await latest({ limit: 5, order_by: { field: 'id', direction: null } }), 422, 'INVALID_JSON');

  const asc = ok(await latest({ limit: 3, order_by: { field: 'id', direction: 'asc' } }));
  assert.deepEqual(asc.ids, ['1', '2', '3']);
  const desc = ok(await latest({ limit: 3, order_by: { field: 'id', direction: 'desc' } }), 'desc');
  assert.deepEqual(desc.ids, ['120', '119', '118']);
  const dflt = ok(await latest({ limit: 3, order_by: { field: 'id' } }), 'no direction');
  assert.deepEqual(dflt.ids, ['120', '119', '118']);
  const byScore = ok(await latest({ limit: 2, order_by: { field: 'score', direction: 'asc' } }));
  assert.deepEqual(byScore.ids, ['120', '119']);
  const byName = ok(await latest({ limit: 2, where: { enabled: false }, order_by: { field: 'name' } }));
  assert.deepEqual(byName.ids, ['119', '117']);
  assert.equal(byName.verified, true);
  // COMPATIBILITY.md (departs from seed §1.5): "asc"/"desc" in any case, any
  // other string is 400 INVALID_ORDER_BY.
  for (const [dir, ids] of [['ASC', ['1', '2', '3']], ['Asc', ['1', '2', '3']], ['DESC', ['120', '119', '118']]]) {
    const x = ok(await latest({ limit: 3, order_by: { field: 'id', direction: dir } }), dir);
    assert.deepEqual(x.ids, ids, `direction ${dir}`);
  }
  for (const dir of ['up', '', 'descending', ' asc']) {
    fails(await latest({ limit: 3, order_by: { field: 'id', direction: dir } }), 400, 'INVALID_ORDER_BY', `direction ${JSON.stringify(dir)}`);
  }
  // Ties on a non-unique column are broken by the primary key, same direction.
  const tieDesc = ok(await latest({ limit: 3, order_by: { field: 'poll_duration', direction: 'desc' } }));
  assert.deepEqual(tieDesc.ids, ['120', '117', '114']);
  const tieAsc = ok(await latest({ limit: 3, order_by: { field: 'poll_duration', direction: 'asc' } }));
  assert.deepEqual(tieAsc.ids, ['1', '2', '4']);
});

test('read-batch: found rows verified; unknown ids listed in missing; all unknown → 404; repeated ids once; at most 1000', async () => {
  const d = ok(await readBatch(['5', '6']));
  assert.equal(d.verified, true);
  assert.deepEqual(d.ids.slice().sort(), ['5', '6']);
  const byId = Object.fromEntries(created.ids.map((id, i) => [id, created.records[i]]));
  for (let i = 0; i < d.ids.length; i++) assert.deepEqual(d.records[i], byId[d.ids[i]]);

  const m = ok(await readBatch(['5', '99999', 'abc']), 'one unknown among known');
  assert.deepEqual(m.ids, ['5']);
  assert.deepEqual(m.missing.slice().sort(), ['99999', 'abc']);
  assert.equal(m.verified, true);

  const r = ok(await readBatch(['7', '7', '8', '7']), 'repeated ids');
  assert.deepEqual(r.ids.slice().sort(), ['7', '8']);
  assert.equal(r.records.length, 2);

  const nf = fails(await readBatch(['99999', '88888']), 404, 'NOT_FOUND');
  assert.equal(nf.error, 'No records found for the given IDs.');
  fails(await readBatch([]), 404, 'NOT_FOUND');

  const many = Array.from({ length: 1000 }, (_, i) => String(i + 1));
  const big = ok(await readBatch(many), '1000 ids');
  assert.equal(big.ids.length, 120);
  assert.equal(big.missing.length, 880);
  fails(await readBatch([...many, '1001']), 400, 'TOO_MANY_IDS');

  fails(await readBatch([1]), 422, 'INVALID_JSON');
  fails(await post(srv.url, '/api/models/items/read-batch', {}), 422, 'INVALID_JSON');
});

test('model resolution: unknown model → 400 before the body is examined; name trimmed and lower-cased', async () => {
  const f = fails(await post(srv.url, '/api/models/nope/read-batch', { ids: ['1'] }), 400);
  assert.equal(f.error, "Model 'nope' is not registered");
  fails(await post(srv.url, '/api/models/nope/create-batch', '{not json'), 400, undefined, 'unregistered model with a malformed body');
  const d = ok(await post(srv.url, '/api/models/ITEMS/read-batch', { ids: ['1'] }));
  assert.deepEqual(d.ids, ['1']);
  const e = ok(await post(srv.url, '/api/models/%20Items%20/read-latest', { limit: 1 }));
  assert.deepEqual(e.ids, ['120']);
});

test('/api/execute: create_batch and read_batch as the seed, with coercion', async () => {
  const c = ok(await post(srv.url, '/api/execute', {
    model_name: 'Items', action: 'create_batch', payload: [{ name: 'via-execute', poll_duration: '42' }],
  }), 'execute create_batch');
  assert.equal(c.verified, true);
  assert.equal(c.records[0].poll_duration, 42, 'coerced like create-batch');
  const id = c.ids[0];
  const r = ok(await post(srv.url, '/api/execute', {
    model_name: 'items', action: 'read_batch', payload: { ids: [id] },
  }), 'execute read_batch');
  assert.deepEqual(r.ids, [id]);
  assert.equal(r.records[0].name, 'via-execute');
  assert.equal(r.verified, true);

  fails(await post(srv.url, '/api/execute', { model_name: 'items', action: 'create_batch', payload: [{ name: 'x', poll_duration: 'abc' }] }), 400, 'VALIDATION_FAILED');
  fails(await post(srv.url, '/api/execute', { model_name: 'items', action: 'read_batch', payload: { ids: [1] } }), 400, 'INVALID_PAYLOAD');
  fails(await post(srv.url, '/api/execute', { model_name: 'items', action: 'read_batch', payload: [] }), 400, 'INVALID_PAYLOAD');
  fails(await post(srv.url, '/api/execute', { model_name: 'items', action: 'drop_all', payload: {} }), 422, 'INVALID_JSON');
  fails(await post(srv.url, '/api/execute', '{"model_name":'), 400, 'INVALID_JSON');
  fails(await post(srv.url, '/api/execute', { model_name: 'items' }, { headers: { 'content-type': 'text/plain' } }), 415);
});

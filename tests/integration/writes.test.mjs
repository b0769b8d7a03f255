// Writes: expected_root (seed-behaviour.md §1.0.7, §5.7), coercion (§3,
// COMPATIBILITY.md "Writes"), upsert (§1.6), delete-batch (COMPATIBILITY.md).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, psql, post, ok, fails, health, applySchema, tableCounts, expectedRootFromRows, ZERO_ROOT,
  rangeKey, rangeLeaf, smtRootHex,
} from './lib.mjs';

const METRICS = {
  table_name: 'metrics', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [
    { name: 'label', col_type: 'text', unique: true },
    { name: 'poll_duration', col_type: 'int', nullable: true },
    { name: 'enabled', col_type: 'bool', nullable: true },
    { name: 'big', col_type: 'big_int', nullable: true },
    { name: 'at', col_type: 'timestamptz', nullable: true },
    { name: 'uid', col_type: 'uuid', nullable: true },
    { name: 'doc', col_type: 'jsonb', nullable: true },
    { name: 'note', col_type: 'text', nullable: true },
  ],
};
const KV = {
  table_name: 'kv', primary_key_field: 'k', primary_key_kind: 'text',
  columns: [{ name: 'v', col_type: 'int' }, { name: 'tag', col_type: 'text', nullable: true }],
};
const UU = {
  table_name: 'uu', primary_key_field: 'id', primary_key_kind: 'uuid',
  columns: [{ name: 'v', col_type: 'int', nullable: true }],
};

let srv;
before(async () => {
  srv = await startServer();
  await applySchema(srv.url, [METRICS, KV, UU]);
});
after(() => srv && srv.stop());

let labelNo = 0;
const label = () => `m${++labelNo}`;
const create = (model, records, extra = {}) => post(srv.url, `/api/models/${model}/create-batch`, { records, ...extra });
const upsert = (model, records, extra = {}) => post(srv.url, `/api/models/${model}/upsert`, { records, ...extra });
const del = (model, ids, extra = {}) => post(srv.url, `/api/models/${model}/delete-batch`, { ids, ...extra });

async function unchanged(fn) {
  const counts = await tableCounts(srv.db);
  const h = await health(srv.url);
  await fn();
  assert.deepEqual(await tableCounts(srv.db), counts, 'row counts unchanged');
  const h2 = await health(srv.url);
  assert.equal(h2.temporary_root, h.temporary_root, 'root unchanged');
  assert.equal(h2.seq, h.seq, 'seq unchanged');
}

test('expected_root: current root accepted (any case, 0x, whitespace); stale → 409 ROOT_CHANGED; malformed → 400', async () => {
  const w = ok(await create('metrics', [{ label: label() }]));
  const root = w.meta.proposed_root;
  assert.equal((await health(srv.url)).temporary_root, root);

  const w2 = ok(await create('metrics', [{ label: label() }], { expected_root: root }), 'expected_root = current');
  const w3 = ok(await create('metrics', [{ label: label() }],
    { expected_root: `  0x${w2.meta.proposed_root.toUpperCase()} ` }), 'expected_root with 0x, upper case, spaces');

  await unchanged(async () => {
    const f = fails(await create('metrics', [{ label: label() }], { expected_root: root }), 409, 'ROOT_CHANGED');
    assert.equal(f.error, 'Root changed, retry the write');
    assert.deepEqual(f.data, { code: 'ROOT_CHANGED', expected_root: root, current_root: w3.meta.proposed_root });
    fails(await upsert('kv', [{ k: 'x', v: 1 }], { expected_root: root }), 409, 'ROOT_CHANGED');
    fails(await del('metrics', w.ids, { expected_root: root }), 409, 'ROOT_CHANGED');
    for (const bad of ['xyz', 'ab'.repeat(31), 'g'.repeat(64), '0X' + root, root + '00', '']) {
      const m = fails(await create('metrics', [{ label: label() }], { expected_root: bad }), 400, undefined, `expected_root ${JSON.stringify(bad)}`);
      assert.match(m.error, /^Invalid expected_root/);
    }
  });
  // null means absent.
  ok(await create('metrics', [{ label: label() }], { expected_root: null }));
  const cur = (await health(srv.url)).temporary_root;
  ok(await upsert('kv', [{ k: 'er', v: 1 }], { expected_root: cur }));
  const cur2 = (await health(srv.url)).temporary_root;
  ok(await del('kv', ['er'], { expected_root: cur2 }));
});

test('coercion: strings into int/bool/bigint, RFC 3339 timestamps, uuid, jsonb, text, null', async () => {
  const l = label();
  const d = ok(await create('metrics', [{
    label: l, poll_duration: '1440', enabled: 't', big: '9007199254740993', at: '2024-01-01T00:00:00Z',
    uid: 'ABCDEF00-1234-4ABC-8DEF-0123456789AB', doc: 'hello', note: 5,
  }]), 'coercion');
  const r = d.records[0];
  assert.equal(r.poll_duration, 1440);
  assert.equal(r.enabled, true);
  assert.equal(r.big, '9007199254740993', 'bigint travels as a string, exactly');
  assert.equal(r.at, '2024-01-01T00:00:00+00:00');
  assert.equal(r.uid, 'abcdef00-1234-4abc-8def-0123456789ab');
  assert.equal(r.doc, 'hello', 'a JSON string into jsonb stays a string');
  assert.equal(r.note, '5', 'a number into text becomes its JSON text');
  assert.equal(await psql(srv.db, `SELECT poll_duration, enabled, big, jsonb_typeof(doc) FROM metrics WHERE label = '${l}'`),
    '1440|t|9007199254740993|string');

  const bools = [['0', false], ['1', true], [' TRUE ', true], ['f', false], [false, false]];
  for (const [input, want] of bools) {
    const x = ok(await create('metrics', [{ label: label(), enabled: input }]), `bool ${JSON.stringify(input)}`);
    assert.equal(x.records[0].enabled, want, `bool ${JSON.stringify(input)}`);
  }
  const ints = [['-7', -7], ['+12', 12], [2147483647, 2147483647]];
  for (const [input, want] of ints) {
    const x = ok(await create('metrics', [{ label: label(), poll_duration: input }]), `int ${JSON.stringify(input)}`);
    assert.equal(x.records[0].poll_duration, want);
  }

  // null is SQL NULL for every type (COMPATIBILITY.md), text included.
  const n = ok(await create('metrics', [{
    label: label(), poll_duration: null, enabled: null, big: null, at: null, uid: null, doc: null, note: null,
  }]), 'nulls');
  for (const k of ['poll_duration', 'enabled', 'big', 'at', 'uid', 'doc', 'note']) assert.equal(n.records[0][k], null, k);
  assert.equal(await psql(srv.db, `SELECT note IS NULL AND doc IS NULL FROM metrics WHERE id = ${n.ids[0]}`), 't');

  const rb = ok(await post(srv.url, '/api/models/metrics/read-batch', { ids: [d.ids[0], n.ids[0]] }));
  assert.equal(rb.verified, true);

  // read-latest `where` with null matches SQL NULL (COMPATIBILITY.md).
  const nl = ok(await post(srv.url, '/api/models/metrics/read-latest', { limit: 5, where: { label: n.records[0].label, note: null } }));
  assert.deepEqual(nl.ids, n.ids);
  fails(await post(srv.url, '/api/models/metrics/read-latest', { limit: 5, where: { label: l, note: null } }), 404, 'NOT_FOUND');
});

test('coercion errors: 400 VALIDATION_FAILED with every error listed, nothing written', async () => {
  await unchanged(async () => {
    const f = fails(await create('metrics', [{ label: label(), poll_duration: 'abc' }]), 400, 'VALIDATION_FAILED');
    assert.equal(f.error, 'Validation/coercion failed');
    assert.deepEqual(f.data.errors, [{ index: 0, field: 'poll_duration', expected: 'int', got: 'string', value: 'abc' }]);

    const g = fails(await create('metrics', [
      { label: label(), poll_duration: 1.5 },
      { label: label(), enabled: 5, uid: 'not-a-uuid' },
      { label: label(), at: 'yesterday', big: true, poll_duration: 2147483648 },
    ]), 400, 'VALIDATION_FAILED');
    const key = (e) => `${e.index}:${e.field}`;
    const errs = Object.fromEntries(g.data.errors.map((e) => [key(e), e]));
    assert.deepEqual(Object.keys(errs).sort(), ['0:poll_duration', '1:enabled', '1:uid', '2:at', '2:big', '2:poll_duration']);
    assert.deepEqual(errs['0:poll_duration'], { index: 0, field: 'poll_duration', expected: 'int', got: 'number', value: 1.5 });
    assert.deepEqual(errs['1:enabled'], { index: 1, field: 'enabled', expected: 'bool', got: 'number', value: 5 });
    assert.deepEqual(errs['1:uid'], { index: 1, field: 'uid', expected: 'uuid', got: 'string', value: 'not-a-uuid' });
    assert.deepEqual(errs['2:at'], { index: 2, field: 'at', expected: 'timestamptz', got: 'string', value: 'yesterday' });
    assert.deepEqual(errs['2:big'], { index: 2, field: 'big', expected: 'bigint', got: 'bool', value: true });
    assert.equal(errs['2:poll_duration'].expected, 'int');

    const h = fails(await create('metrics', ['abc']), 400, 'VALIDATION_FAILED');
    assert.equal(h.data.errors[0].index, 0);
    assert.equal(h.data.errors[0].field, '<record>');
    assert.equal(h.data.errors[0].expected, 'object');

    // Constraint violations: 409, the whole batch is rolled back.
    const dup = label();
    const c = fails(await create('metrics', [{ label: dup }, { label: dup }]), 409, 'CONSTRAINT_VIOLATION');
    assert.match(c.error, /unique/i);
    fails(await create('metrics', [{ label: label() }, { label: null }]), 409, 'CONSTRAINT_VIOLATION');
    fails(await create('kv', [{ k: 'nn' }]), 409, 'CONSTRAINT_VIOLATION');

    const e = fails(await create('metrics', []), 400, 'EMPTY_RECORDS');
    assert.equal(e.error, 'records_data cannot be empty');
  });
});

test('upsert: inserts and updates only the supplied columns; key required; key-only and duplicate keys refused', async () => {
  const ins = ok(await upsert('kv', [{ k: 'a', v: 1, tag: 'first' }, { k: 'b', v: 2 }]), 'upsert insert');
  assert.deepEqual(ins.ids, ['a', 'b']);
  assert.deepEqual(ins.records, [{ k: 'a', v: 1, tag: 'first' }, { k: 'b', v: 2, tag: null }]);
  const upd = ok(await upsert('kv', [{ k: 'a', v: '10' }]), 'upsert update');
  assert.deepEqual(upd.records, [{ k: 'a', v: 10, tag: 'first' }], 'only v changed');
  assert.equal(await psql(srv.db, "SELECT v || ',' || tag FROM kv WHERE k = 'a'"), '10,first');

  // Existing serial row: only the supplied column changes.
  const m = ok(await create('metrics', [{ label: label(), poll_duration: 5, note: 'keep' }]));
  const id = m.ids[0];
  const u = ok(await upsert('metrics', [{ id, enabled: '1' }]), 'upsert metrics');
  assert.deepEqual(u.records[0], { ...m.records[0], enabled: true });
  assert.equal(u.verified, true);
  assert.equal((await health(srv.url)).temporary_root, u.meta.proposed_root);

  // Upserting identical content succeeds and leaves the root where it was.
  const same = ok(await upsert('kv', [{ k: 'a', v: 10 }]));
  assert.equal(same.meta.proposed_root, u.meta.proposed_root);

  await unchanged(async () => {
    const f = fails(await upsert('kv', [{ v: 1 }]), 400, 'VALIDATION_FAILED');
    assert.deepEqual(f.data.errors, [{ index: 0, field: 'k', expected: 'present', got: 'missing', value: null }]);
    const g = fails(await upsert('kv', [{ k: 'a' }]), 400, 'UPSERT_NO_FIELDS');
    assert.equal(g.error, 'Upsert requires at least one non-PK field to update');
    fails(await upsert('kv', [{ k: 'a', v: 1 }, { k: 'a', v: 2 }]), 400, 'DUPLICATE_ID');
    fails(await upsert('metrics', [{ id: Number(id), note: 'x' }, { id: String(id), note: 'y' }]), 400, 'DUPLICATE_ID');
    fails(await upsert('kv', []), 400, 'EMPTY_RECORDS');
  });

  const rb = ok(await post(srv.url, '/api/models/kv/read-batch', { ids: ['a', 'b'] }));
  assert.equal(rb.verified, true);
});

test('uuid primary key: normalised to lower case in ids and keys', async () => {
  const U = '0F8FAD5B-D9CB-469F-A165-70867728950E';
  const d = ok(await create('uu', [{ id: U, v: 1 }]));
  assert.deepEqual(d.ids, [U.toLowerCase()]);
  const r = ok(await post(srv.url, '/api/models/uu/read-batch', { ids: [U.toLowerCase()] }));
  assert.equal(r.verified, true);
  const u = ok(await upsert('uu', [{ id: U, v: 2 }]));
  assert.deepEqual(u.ids, [U.toLowerCase()]);
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM uu'), '1');
});

test('delete-batch: removes rows and leaves in one transition; missing ids listed; root as if never written but for the id range', async () => {
  const leafRows = async () => (await psql(srv.db, "SELECT encode(key, 'hex') || ' ' || encode(value, 'hex') FROM vmdb_leaves ORDER BY 1")).split('\n').filter(Boolean);
  const rk = rangeKey('metrics').toString('hex');
  const before0 = (await leafRows()).filter((l) => !l.startsWith(rk));
  const leaves0 = Number(await psql(srv.db, 'SELECT count(*) FROM vmdb_leaves'));
  const c = ok(await create('metrics', [{ label: label() }, { label: label() }, { label: label() }]));
  const [a, b, keep] = c.ids;
  assert.equal(Number(await psql(srv.db, 'SELECT count(*) FROM vmdb_leaves')), leaves0 + 3 + (leaves0 ? 0 : 1),
    'one leaf per row (and the id range, PROTOCOL.md §10)');

  const d = ok(await del('metrics', [a, b, '999999']), 'delete-batch');
  assert.deepEqual(d.ids.slice().sort(), [a, b].sort());
  assert.deepEqual(d.missing, ['999999']);
  assert.equal(d.verified, true);
  assert.ok(/^[0-9a-f]{64}$/.test(d.meta.proposed_root));
  assert.equal(Number(await psql(srv.db, `SELECT count(*) FROM metrics WHERE id IN (${a}, ${b})`)), 0);
  assert.equal(Number(await psql(srv.db, 'SELECT count(*) FROM vmdb_leaves')), leaves0 + 1 + (leaves0 ? 0 : 1));
  fails(await post(srv.url, '/api/models/metrics/read-batch', { ids: [a, b] }), 404, 'NOT_FOUND');
  const rkeep = ok(await post(srv.url, '/api/models/metrics/read-batch', { ids: [keep] }));
  assert.equal(rkeep.verified, true);

  // Deleting the last of the three gives back the leaves from before the
  // create, but for the id range, which a delete never shrinks: it still
  // ends at the highest id written.
  const d2 = ok(await del('metrics', [keep]));
  const after = await leafRows();
  assert.deepEqual(after.filter((l) => !l.startsWith(rk)), before0, 'the row leaves are as before the create');
  const lo = await psql(srv.db, "SELECT lo FROM vmdb_id_ranges WHERE table_name = 'metrics'");
  assert.ok(after.includes(`${rk} ${rangeLeaf('metrics', lo, keep).value.toString('hex')}`), 'the range ends at the highest id written');
  const root = smtRootHex(after.map((l) => { const [k, v] = l.split(' '); return { key: Buffer.from(k, 'hex'), value: Buffer.from(v, 'hex') }; }));
  assert.equal(d2.meta.proposed_root, root, 'the tree is a function of its leaves');
  assert.equal((await health(srv.url)).temporary_root, root);

  // Only missing ids: nothing deleted, success with everything in `missing`.
  const d3 = await del('metrics', ['424242']);
  if (d3.status === 200) {
    assert.deepEqual(d3.json.data.ids, []);
    assert.deepEqual(d3.json.data.missing, ['424242']);
  } else {
    fails(d3, 404, 'NOT_FOUND');
  }

  // Text keys; deleting then re-creating the same key.
  ok(await create('kv', [{ k: 'gone', v: 1 }]));
  ok(await del('kv', ['gone']));
  const again = ok(await create('kv', [{ k: 'gone', v: 2 }]));
  assert.equal(again.records[0].v, 2);
  const rr = ok(await post(srv.url, '/api/models/kv/read-batch', { ids: ['gone'] }));
  assert.equal(rr.records[0].v, 2);

  const h = await health(srv.url);
  assert.notEqual(h.temporary_root, ZERO_ROOT);
  assert.equal(await expectedRootFromRows(srv.url, srv.db,
    [{ table: 'metrics', pk: 'id' }, { table: 'kv', pk: 'k' }, { table: 'uu', pk: 'id' }]), h.temporary_root);
});

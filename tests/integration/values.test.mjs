// The value mapping of PROTOCOL.md §2.2: a table gets a column of every
// PostgreSQL type the table lists (and a few it does not) through a
// migration, rows with edge values are written by SQL and through the API,
// and every record read back verified must be exactly the §2.2 form, with
// its leaf in vmdb_leaves equal to H("vmdb/v1/row" || 0x00 || JCS(record))
// computed here. numeric 1.50 and 1.5 (and {1.50} and {1.5}) must hash
// differently; unsafe json/jsonb values travel wrapped as {"$jsonb": T}.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startServer, tempDir, psql, post, ok, fails, health, applySchema, jcs, rowKey, rowValue,
  expectedRootFromRows,
} from './lib.mjs';

const VALS = {
  table_name: 'vals', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [
    { name: 'label', col_type: 'text', nullable: false, unique: true },
    { name: 'doc', col_type: 'jsonb', nullable: true },
  ],
};

// Every type of the §2.2 table, and a few "any other type" ones. The rows
// are inserted by the migration itself, so the migrate rehash hashes them.
const MIGRATION = String.raw`
CREATE TYPE mood AS ENUM ('sad', 'happy');
ALTER TABLE vals
  ADD COLUMN i2 smallint, ADD COLUMN i4 integer, ADD COLUMN i8 bigint,
  ADD COLUMN r4 real, ADD COLUMN r8 double precision, ADD COLUMN num numeric,
  ADD COLUMN num2 numeric(10,2), ADD COLUMN b boolean, ADD COLUMN t text,
  ADD COLUMN vc varchar(10), ADD COLUMN ch char(5), ADD COLUMN u uuid, ADD COLUMN by bytea,
  ADD COLUMN d date, ADD COLUMN tm time, ADD COLUMN ttz timetz, ADD COLUMN ts timestamp,
  ADD COLUMN tsz timestamptz, ADD COLUMN iv interval, ADD COLUMN na numeric[],
  ADD COLUMN ba bigint[], ADD COLUMN ia integer[], ADD COLUMN fa real[], ADD COLUMN ta text[],
  ADD COLUMN tsa timestamp[], ADD COLUMN j json, ADD COLUMN jb jsonb, ADD COLUMN pt point,
  ADD COLUMN ip inet, ADD COLUMN mo money, ADD COLUMN en mood, ADD COLUMN rg int4range,
  ADD COLUMN ja jsonb[];
INSERT INTO vals (label, doc, i2, i4, i8, r4, r8, num, num2, b, t, vc, ch, u, by, d, tm, ttz, ts,
  tsz, iv, na, ba, ia, fa, ta, tsa, j, jb, pt, ip, mo, en, rg, ja) VALUES
 ('edge', '{"$jsonb": "x"}', -32768, 2147483647, 9223372036854775807, 3.4028235e+38, 0.1, 1.50,
  3, true, 'a "b"', 'x', 'ab', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '\xdeadbeef', 'infinity',
  '03:04:05.5', '03:04:05.123+02:30', '2024-01-02 03:04:05', '2024-01-02 03:04:05.123456+02',
  '1 year 2 months 3 days 04:05:06.5', '{{1.50,NULL},{2,NaN}}', '{1,NULL,9223372036854775807}',
  '{1,2}', '{NaN,Infinity,-Infinity,1.5}', '{a,NULL}', '{"2024-01-02 03:04:05",infinity}',
  '{"a":1,"a":2}', '{"n": 9007199254740993}', '(1,2)', '10.0.0.1/8', 12.5, 'happy', '[1,5)',
  '{"{\"a\":1}"}'),
 ('specials', '{"k": [1, 2.50, {"$jsonb": "nested"}]}', NULL, NULL, -1, 'NaN', '-Infinity', 'NaN',
  NULL, false, '', NULL, NULL, NULL, '\x', '-infinity', '24:00:00', '00:00:00+00', 'infinity',
  '-infinity', '-1 days +02:00:00', '{}', '{}', NULL, NULL, NULL, NULL, '{"b": 1}', '[1, "x", null]',
  NULL, NULL, NULL, NULL, 'empty', NULL),
 ('tiny', NULL, 0, -1, 0, 1e-45, 5e-324, 0.000, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  '2024-02-29', '00:00:00.000001', '23:59:59.999999-12', '0001-01-01 00:00:00', '2024-01-02 00:00:00Z',
  '0', '{{{1}}}', NULL, '{{1,2},{3,4}}', '{-0,1.17549435e-38}', NULL, NULL, '"s"', '{"$jsonb": 1, "b": 2}',
  NULL, NULL, NULL, NULL, NULL, NULL);
`;

const NULLS = Object.fromEntries([
  'doc', 'i2', 'i4', 'i8', 'r4', 'r8', 'num', 'num2', 'b', 't', 'vc', 'ch', 'u', 'by', 'd', 'tm', 'ttz',
  'ts', 'tsz', 'iv', 'na', 'ba', 'ia', 'fa', 'ta', 'tsa', 'j', 'jb', 'pt', 'ip', 'mo', 'en', 'rg', 'ja',
].map((k) => [k, null]));

// The records as §2.2 says they travel (ids filled in below).
const EXPECTED = {
  edge: {
    label: 'edge',
    doc: { $jsonb: '{"$jsonb": "x"}' },
    i2: -32768,
    i4: 2147483647,
    i8: '9223372036854775807',
    r4: 3.4028235e+38,
    r8: 0.1,
    num: '1.50',
    num2: '3.00',
    b: true,
    t: 'a "b"',
    vc: 'x',
    ch: 'ab   ',
    u: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    by: '\\xdeadbeef',
    d: 'infinity',
    tm: '03:04:05.5',
    ttz: '03:04:05.123+02:30',
    ts: '2024-01-02T03:04:05',
    tsz: '2024-01-02T01:04:05.123456+00:00',
    iv: '1 year 2 mons 3 days 04:05:06.5',
    na: [['1.50', null], ['2', 'NaN']],
    ba: ['1', null, '9223372036854775807'],
    ia: [1, 2],
    fa: ['NaN', 'Infinity', '-Infinity', 1.5],
    ta: ['a', null],
    tsa: ['2024-01-02T03:04:05', 'infinity'],
    j: { $jsonb: '{"a":1,"a":2}' },
    jb: { $jsonb: '{"n": 9007199254740993}' },
    pt: '(1,2)',
    ip: '10.0.0.1/8',
    mo: '$12.50',
    en: 'happy',
    rg: '[1,5)',
    ja: '{"{\\"a\\": 1}"}',
  },
  specials: {
    ...NULLS,
    label: 'specials',
    doc: { k: [1, 2.5, { $jsonb: 'nested' }] },
    i8: '-1',
    r4: 'NaN',
    r8: '-Infinity',
    num: 'NaN',
    b: false,
    t: '',
    by: '\\x',
    d: '-infinity',
    tm: '24:00:00',
    ttz: '00:00:00+00',
    ts: 'infinity',
    tsz: '-infinity',
    iv: '-1 days +02:00:00',
    na: [],
    ba: [],
    j: { b: 1 },
    jb: [1, 'x', null],
    rg: 'empty',
  },
  tiny: {
    ...NULLS,
    label: 'tiny',
    i2: 0,
    i4: -1,
    i8: '0',
    r4: 1e-45,
    r8: 5e-324,
    num: '0.000',
    d: '2024-02-29',
    tm: '00:00:00.000001',
    ttz: '23:59:59.999999-12',
    ts: '0001-01-01T00:00:00',
    tsz: '2024-01-02T00:00:00+00:00',
    iv: '00:00:00',
    na: [[['1']]],
    ia: [[1, 2], [3, 4]],
    fa: [0, 1.1754944e-38], // -0 is written 0 (§2.1)
    j: 's',
    jb: { $jsonb: 1, b: 2 },
  },
};

async function leaves(db) {
  const out = new Map();
  const txt = await psql(db, "SELECT encode(key, 'hex') || ' ' || encode(value, 'hex') FROM vmdb_leaves");
  for (const line of txt.split('\n').filter(Boolean)) {
    const [k, v] = line.split(' ');
    out.set(k, v);
  }
  return out;
}

// Each record is the row exactly as hashed: its leaf is H(row tag, JCS(record)).
async function assertLeaves(db, table, ids, records, msg) {
  const l = await leaves(db);
  ids.forEach((id, i) => {
    const k = rowKey(table, id).toString('hex');
    assert.ok(l.has(k), `${msg}: leaf of ${table}/${id}`);
    assert.equal(l.get(k), rowValue(records[i]).toString('hex'), `${msg}: leaf value of ${table}/${id} = H(JCS(record))`);
  });
}

const readBatch = (srv, ids) => post(srv.url, '/api/models/vals/read-batch', { ids });

test('§2.2: every column type travels as the protocol says, and the leaf is H(JCS(record))', async (t) => {
  const migDir = tempDir('vmdb-mig-');
  const srv = await startServer({ env: { VMDB_MIGRATIONS_DIR: migDir } });
  t.after(() => srv.stop());
  await applySchema(srv.url, [VALS], true);
  fs.writeFileSync(path.join(migDir, '1_every_type.sql'), MIGRATION);
  const m = ok(await post(srv.url, '/bootstrap/migrate', { confirm: true }), 'migrate');
  assert.equal(m.updated_leaves, 5); // three rows, the id range of the serial key (PROTOCOL.md §10) and the apply-schema reset's record (§14.2)

  // The registry records the real types (arrays and user-defined types by name).
  const cols = JSON.parse(await psql(srv.db, "SELECT columns::text FROM verifiable_models WHERE table_name = 'vals'"));
  const typeOf = Object.fromEntries(cols.map((c) => [c.name, c.col_type]));
  assert.equal(typeOf.ba, 'bigint[]');
  assert.equal(typeOf.na, 'numeric[]');
  assert.equal(typeOf.en, 'mood');
  assert.equal(typeOf.i8, 'big_int');

  const ids = (await psql(srv.db, 'SELECT id FROM vals ORDER BY id')).split('\n');
  const r = ok(await readBatch(srv, ids), 'read-batch');
  assert.equal(r.verified, true);
  for (const rec of r.records) {
    const want = { id: Number(rec.id), ...EXPECTED[rec.label] };
    assert.deepEqual(rec, want, `record ${rec.label}`);
    assert.equal(jcs(rec), jcs(want));
  }
  // Spot checks of the exact canonical text (a JS number prints as JCS does).
  const edge = r.records.find((x) => x.label === 'edge');
  assert.match(jcs(edge), /"r4":3\.4028235e\+38,/);
  assert.match(jcs(edge), /"num":"1\.50"/);
  await assertLeaves(srv.db, 'vals', r.ids, r.records, 'after migrate');
  const h = await health(srv.url);
  assert.equal(h.status, 'ok');
  assert.equal(await expectedRootFromRows(srv.url, srv.db, [{ table: 'vals', pk: 'id' }]), h.temporary_root);

  // Writes through the API: values of the new types as strings, JSON as JSON.
  const c = ok(await post(srv.url, '/api/models/vals/create-batch', {
    records: [{
      label: 'api', num: '1.50', na: '{1.50,2}', ba: '{5}', i8: '12345678901234567890'.slice(0, 18),
      d: '2024-01-02', iv: '1 day 01:00:00', by: '\\x00ff', tsz: '2024-01-02T03:04:05+02:00',
      jb: { n: 1, s: 'x' }, j: [1, 2], doc: { $jsonb: 'looks wrapped' }, r4: 0.1, fa: '{0.1}',
    }],
  }), 'create');
  const rec = c.records[0];
  assert.deepEqual(rec, {
    ...NULLS, id: Number(c.ids[0]), label: 'api', num: '1.50', na: ['1.50', '2'], ba: ['5'],
    i8: '123456789012345678', d: '2024-01-02', iv: '1 day 01:00:00', by: '\\x00ff',
    tsz: '2024-01-02T01:04:05+00:00', jb: { n: 1, s: 'x' }, j: [1, 2],
    doc: { $jsonb: '{"$jsonb": "looks wrapped"}' }, r4: 0.1, fa: [0.1],
  });
  await assertLeaves(srv.db, 'vals', c.ids, c.records, 'after create');
  const back = ok(await readBatch(srv, c.ids), 'read the created row');
  assert.deepEqual(back.records, c.records, 'the answer of a write is the row as read');

  // numeric 1.50 and 1.5 hash differently, in a column and in an array.
  const id = c.ids[0];
  const leafOf = async () => (await leaves(srv.db)).get(rowKey('vals', id).toString('hex'));
  const l150 = await leafOf();
  const u1 = ok(await post(srv.url, '/api/models/vals/upsert', { records: [{ id, num: '1.5' }] }), 'num 1.5');
  assert.equal(u1.records[0].num, '1.5');
  const l15 = await leafOf();
  assert.notEqual(l15, l150, 'numeric 1.50 and 1.5 give different leaves');
  const u2 = ok(await post(srv.url, '/api/models/vals/upsert', { records: [{ id, na: '{1.5,2}' }] }), 'na {1.5,2}');
  assert.deepEqual(u2.records[0].na, ['1.5', '2']);
  const la = await leafOf();
  assert.notEqual(la, l15, 'numeric[] {1.50,2} and {1.5,2} give different leaves');
  await assertLeaves(srv.db, 'vals', [id], u2.records, 'after upserts');

  // Where filters on the new types.
  const w1 = ok(await post(srv.url, '/api/models/vals/read-latest', { limit: 10, where: { num: '1.5' } }), 'where numeric');
  assert.deepEqual(w1.ids.map(String).sort(), [String(id), ...r.records.filter((x) => x.label === 'edge').map((x) => String(x.id))].sort());
  const w2 = ok(await post(srv.url, '/api/models/vals/read-latest', { limit: 10, where: { d: '2024-02-29' } }), 'where date');
  assert.deepEqual(w2.records.map((x) => x.label), ['tiny']);
  const w3 = ok(await post(srv.url, '/api/models/vals/read-latest', { limit: 10, where: { jb: { n: 1, s: 'x' } } }), 'where jsonb');
  assert.deepEqual(w3.records.map((x) => x.label), ['api']);
  const w4 = ok(await post(srv.url, '/api/models/vals/read-latest', { limit: 10, where: { i8: '-1' } }), 'where bigint');
  assert.deepEqual(w4.records.map((x) => x.label), ['specials']);
  // A json column has no equality in PostgreSQL: a clear 4xx, not a 500.
  const wj = await post(srv.url, '/api/models/vals/read-latest', { limit: 10, where: { j: { b: 1 } } });
  fails(wj, 400, 'INVALID_VALUE');
  fails(await post(srv.url, '/api/models/vals/read-latest', { limit: 10, order_by: { field: 'j' } }), 400, 'INVALID_VALUE');
  fails(await post(srv.url, '/api/models/vals/read-latest', { limit: 10, where: { d: 'not a date' } }), 400, 'INVALID_VALUE');

  // Every rehash path agrees: repair rebuilds the same root, a restart's
  // check finds no violation.
  const h2 = await health(srv.url);
  const rep = ok(await post(srv.url, '/bootstrap/repair-roots', { confirm: true }), 'repair');
  assert.equal(rep.diff.count, 0, 'rebuilt tree = current tree');
  assert.equal(rep.old_root, h2.temporary_root);
  await srv.stop();
  const again = await startServer({ db: srv.db, dataDir: srv.dataDir, env: { VMDB_MIGRATIONS_DIR: migDir } });
  t.after(() => again.stop());
  const h3 = await health(again.url);
  assert.equal(h3.status, 'ok');
  assert.equal(h3.temporary_root, rep.new_root);
  const r3 = ok(await readBatch(again, ids), 'read after restart');
  assert.deepEqual(r3.records, r.records);
});

test('§2.2: a column added by hand keeps hashing by its real type', async (t) => {
  // The registry says text, the column is numeric: 1.50 still travels as
  // "1.50" and the jsonb column said to be text is still substituted.
  const srv = await startServer();
  t.after(() => srv.stop());
  await applySchema(srv.url, [VALS], true);
  await psql(srv.db, `ALTER TABLE vals ADD COLUMN amount numeric, ADD COLUMN extra jsonb;
    UPDATE verifiable_models SET columns = columns || '[{"name":"amount","col_type":"text","nullable":true,"unique":false},{"name":"extra","col_type":"text","nullable":true,"unique":false}]'::jsonb
    WHERE table_name = 'vals'`);
  // A restart reloads the registry (the same path as any reload); the rows
  // written by SQL are adopted by a repair.
  await srv.stop();
  await psql(srv.db, `INSERT INTO vals (label, amount, extra) VALUES ('x', 1.50, '{"n": 9007199254740993}')`);
  const again = await startServer({ db: srv.db, dataDir: srv.dataDir });
  t.after(() => again.stop());
  ok(await post(again.url, '/bootstrap/repair-roots', { confirm: true, accept_changes: true }), 'repair');
  const id = await psql(srv.db, "SELECT id FROM vals WHERE label = 'x'");
  const r = ok(await readBatch(again, [id]), 'read');
  assert.equal(r.verified, true);
  assert.equal(r.records[0].amount, '1.50');
  assert.deepEqual(r.records[0].extra, { $jsonb: '{"n": 9007199254740993}' });
  await assertLeaves(again.db, 'vals', r.ids, r.records, 'hand-added column');
  // Through the API the column is written as the registry says (text).
  ok(await post(again.url, '/api/models/vals/upsert', { records: [{ id, label: 'y' }] }), 'upsert other column');
  const r2 = ok(await readBatch(again, [id]), 'read after upsert');
  assert.equal(r2.records[0].amount, '1.50');
  await assertLeaves(again.db, 'vals', r2.ids, r2.records, 'after upsert');
});

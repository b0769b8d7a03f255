// Identifiers in apply-schema (seed-behaviour.md §2.2, COMPATIBILITY.md
// "Schema bootstrap"): hostile names are refused with 400 INVALID_SCHEMA
// before any SQL runs (nothing changes, even with force_reset), reserved
// words work because identifiers are always quoted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, post, get, ok, fails, health, applySchema, tableCounts, psql, expectedRootFromRows,
} from './lib.mjs';

const BASE = {
  table_name: 'base', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'v', col_type: 'text' }],
};
const table = (name, over = {}) => ({
  table_name: name, primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'c', col_type: 'text', nullable: true }], ...over,
});

test('hostile identifiers → 400 INVALID_SCHEMA, nothing changes (even with force_reset)', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  const s0 = await applySchema(srv.url, [BASE]);
  ok(await post(srv.url, '/api/models/base/create-batch', { records: [{ v: 'survivor' }] }));
  const counts = await tableCounts(srv.db);
  const root = (await health(srv.url)).temporary_root;
  const catalog = await psql(srv.db, `SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY table_name, column_name)
    FROM information_schema.columns WHERE table_schema = 'public'`);

  const bad = [
    // [what, spec, exact seed message or null]
    ['quote in table', table('a"b'), `Invalid table_name 'a"b'`],
    ['semicolon in table', table('x; DROP TABLE base; --'), `Invalid table_name 'x; DROP TABLE base; --'`],
    ['space in table', table('a b'), `Invalid table_name 'a b'`],
    ['leading digit', table('1abc'), `Invalid table_name '1abc'`],
    ['empty table name', table(''), `Invalid table_name ''`],
    ['unicode table', table('tëst'), `Invalid table_name 'tëst'`],
    ['cyrillic table', table('таблица'), `Invalid table_name 'таблица'`],
    ['dash', table('a-b'), `Invalid table_name 'a-b'`],
    ['dot (schema-qualified)', table('public.x'), `Invalid table_name 'public.x'`],
    ['64 characters', table('t'.repeat(64)), null],
    ['200 characters', table('t'.repeat(200)), null],
    ['vmdb_ prefix', table('vmdb_x'), null],
    ['VMDB_ prefix upper case', table('VMDB_x'), null],
    ['vmdb_leaves', table('vmdb_leaves'), null],
    ['pg_ prefix', table('pg_x'), null],
    ['verifiable_models', table('verifiable_models'), null],
    ['verifiable_registry_meta', table('verifiable_registry_meta'), null],
    ['quote in primary key', table('ok1', { primary_key_field: 'id"' }), `Invalid primary_key_field 'id"' for table 'ok1'`],
    ['semicolon in primary key', table('ok2', { primary_key_field: 'id;' }), `Invalid primary_key_field 'id;' for table 'ok2'`],
    ['64-character primary key', table('ok3', { primary_key_field: 'k'.repeat(64) }), null],
    ['quote in column', table('ok4', { columns: [{ name: 'c"', col_type: 'text' }] }), `Invalid column name 'c"' for table 'ok4'`],
    ['unicode column', table('ok5', { columns: [{ name: 'ç', col_type: 'text' }] }), `Invalid column name 'ç' for table 'ok5'`],
    ['paren in column', table('ok6', { columns: [{ name: 'c) ; DROP TABLE base; --', col_type: 'text' }] }), `Invalid column name 'c) ; DROP TABLE base; --' for table 'ok6'`],
    ['empty column', table('ok7', { columns: [{ name: '', col_type: 'text' }] }), `Invalid column name '' for table 'ok7'`],
    ['70-character column', table('ok8', { columns: [{ name: 'c'.repeat(70), col_type: 'text' }] }), null],
    ['duplicate column', table('ok9', { columns: [{ name: 'c', col_type: 'text' }, { name: 'c', col_type: 'int' }] }), null],
    ['duplicate column after lower-casing', table('ok10', { columns: [{ name: 'name', col_type: 'text' }, { name: 'NAME', col_type: 'text' }] }), null],
  ];
  for (const [what, spec, msg] of bad) {
    for (const force of [false, true]) {
      // The good table comes first: nothing of it may be created either.
      const r = fails(await post(srv.url, '/bootstrap/apply-schema', { tables: [table('fresh_ok'), spec], force_reset: force }),
        400, 'INVALID_SCHEMA', `${what} (force_reset ${force})`);
      if (msg) assert.equal(r.error, msg, what);
    }
  }
  for (const tables of [[table('dup'), table('dup')], [table('dup'), table('DUP')]]) {
    fails(await post(srv.url, '/bootstrap/apply-schema', { tables, force_reset: true }), 400, 'INVALID_SCHEMA', 'duplicate tables');
  }
  const e = fails(await post(srv.url, '/bootstrap/apply-schema', { tables: [], force_reset: true }), 400);
  assert.equal(e.error, 'tables cannot be empty');

  assert.deepEqual(await tableCounts(srv.db), counts, 'no rows or tables changed');
  assert.equal(await psql(srv.db, `SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY table_name, column_name)
    FROM information_schema.columns WHERE table_schema = 'public'`), catalog, 'catalog unchanged');
  assert.equal((await health(srv.url)).temporary_root, root);
  const r = ok(await post(srv.url, '/api/models/base/read-batch', { ids: ['1'] }));
  assert.equal(r.records[0].v, 'survivor');
  const again = await applySchema(srv.url, [BASE]);
  assert.equal(again.reset_performed, false, 'the stored schema hash was not touched');
  assert.equal(again.schema_hash, s0.schema_hash);
});

test('reserved words and 63-character names work (identifiers are quoted)', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  const long = 'l'.repeat(63);
  const tables = [
    {
      table_name: 'order', primary_key_field: 'select', primary_key_kind: 'serial',
      columns: [
        { name: 'user', col_type: 'text' },
        { name: 'group', col_type: 'int', nullable: true },
        { name: 'from', col_type: 'jsonb', nullable: true },
        { name: 'table', col_type: 'bool', nullable: true },
        { name: 'Where', col_type: 'text', nullable: true, unique: true },
      ],
    },
    { table_name: 'user', primary_key_field: 'limit', primary_key_kind: 'text', columns: [{ name: 'offset', col_type: 'int' }] },
    { table_name: long, primary_key_field: 'k'.repeat(63), primary_key_kind: 'big_int', columns: [{ name: 'c'.repeat(63), col_type: 'text', nullable: true }] },
  ];
  const s = await applySchema(srv.url, tables);
  assert.deepEqual(s.tables.slice().sort(), [long, 'order', 'user'].sort());
  assert.equal(await psql(srv.db, `SELECT string_agg(column_name, ',' ORDER BY column_name) FROM information_schema.columns WHERE table_name = 'order'`),
    'from,group,select,table,user,where');

  const c = ok(await post(srv.url, '/api/models/order/create-batch', {
    records: [{ user: 'ann', group: '7', from: { a: 1 }, table: 't', where: 'w1' }, { user: 'ben', group: 3 }],
  }), 'create in "order"');
  assert.deepEqual(c.ids, ['1', '2']);
  assert.deepEqual(c.records[0], { select: 1, user: 'ann', group: 7, from: { a: 1 }, table: true, where: 'w1' });
  const l = ok(await post(srv.url, '/api/models/order/read-latest', {
    limit: 5, where: { user: 'ann', group: '7' }, order_by: { field: 'group', direction: 'asc' },
  }), 'read-latest on reserved words');
  assert.deepEqual(l.ids, ['1']);
  const u = ok(await post(srv.url, '/api/models/order/upsert', { records: [{ select: 2, group: 8 }] }), 'upsert with pk "select"');
  assert.equal(u.records[0].group, 8);
  fails(await post(srv.url, '/api/models/order/create-batch', { records: [{ user: 'dup', where: 'w1' }] }), 409, 'CONSTRAINT_VIOLATION');

  ok(await post(srv.url, '/api/models/user/create-batch', { records: [{ limit: 'L1', offset: 1 }] }));
  const ur = ok(await post(srv.url, '/api/models/user/read-batch', { ids: ['L1'] }));
  assert.deepEqual(ur.records, [{ limit: 'L1', offset: 1 }]);
  const d = ok(await post(srv.url, '/api/models/user/delete-batch', { ids: ['L1'] }));
  assert.deepEqual(d.ids, ['L1']);

  const lc = ok(await post(srv.url, `/api/models/${long}/create-batch`, { records: [{ ['k'.repeat(63)]: '9223372036854775807', ['c'.repeat(63)]: 'x' }] }));
  assert.deepEqual(lc.ids, ['9223372036854775807']);
  assert.equal(lc.records[0]['k'.repeat(63)], '9223372036854775807');

  const sch = await get(srv.url, '/bootstrap/schema');
  assert.deepEqual(sch.json.tables.map((x) => x.table_name).sort(), [long, 'order', 'user'].sort());
  const h = await health(srv.url);
  assert.equal(await expectedRootFromRows(srv.url, srv.db, [
    { table: 'order', pk: 'select' }, { table: 'user', pk: 'limit' }, { table: long, pk: 'k'.repeat(63) }]), h.temporary_root);
});

test('columns named like the aliases of vmdb\'s own SQL (x, t, s, g, r, k, j, seq): every route works', async (t) => {
  // The row statement is "SELECT t.pk, row_to_json(x.*) FROM tbl AS t CROSS
  // JOIN LATERAL (...) x", wrapped in "FROM vmdb_state AS s LEFT JOIN
  // vmdb_id_ranges AS g ... AS r(k, j)": a column x once made every read of
  // its table a 500 (an unqualified x was ambiguous).
  const srv = await startServer();
  t.after(() => srv.stop());
  const names = ['x', 't', 's', 'g', 'r', 'k', 'j', 'seq', 'lo', 'hi'];
  await applySchema(srv.url, [{
    table_name: 'x', primary_key_field: 'id', primary_key_kind: 'serial',
    columns: names.map((name) => ({ name, col_type: 'text', nullable: true })),
  }]);
  const rec = Object.fromEntries(names.map((n) => [n, `v-${n}`]));
  const c = ok(await post(srv.url, '/api/models/x/create-batch', { records: [rec, { x: 'only x' }], proof: true }));
  assert.deepEqual(c.ids, ['1', '2']);
  assert.deepEqual(c.records[0], { id: 1, ...rec });
  const rb = ok(await post(srv.url, '/api/models/x/read-batch', { ids: ['1', '2', '3'], proof: true }));
  assert.deepEqual(rb.records.map((r) => r.x), ['v-x', 'only x']);
  const l = ok(await post(srv.url, '/api/models/x/read-latest', { limit: 5, proof: true }));
  assert.equal(l.complete, true);
  const w = ok(await post(srv.url, '/api/models/x/read-latest', { limit: 5, where: { x: 'only x', t: null }, order_by: { field: 'k', direction: 'asc' } }));
  assert.deepEqual(w.ids, ['2']);
  ok(await post(srv.url, '/api/models/x/upsert', { records: [{ id: 2, x: 'x2', seq: '9' }], proof: true }));
  ok(await post(srv.url, '/api/models/x/delete-batch', { ids: ['1'], proof: true }));
  const h = await health(srv.url);
  assert.equal(h.integrity.ok, true);
  assert.equal(await expectedRootFromRows(srv.url, srv.db, [{ table: 'x', pk: 'id' }]), h.temporary_root);
});

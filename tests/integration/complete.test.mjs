// Complete read-latest (docs/PROTOCOL.md §10): a read-latest with
// "proof": true, no where, in key order, on a serial or big_serial table
// says data.complete: true and proves it with the table's id-range leaf and
// every gap id proven absent. Each complete answer is checked by both
// verifiers written from the protocol text: clients/js/src/protocol.mjs
// (verifyAnswer with requireComplete) and `vmdb verify` on the saved
// answer. Reads that cannot be complete (a where, another order, a text key,
// a gap of more than 1000 ids) say data.complete: false with no complete
// part, and answers without "proof" carry no complete field at all. On a
// test build (VMDB_TEST_HOOKS), a server made to lie (VMDB_TEST_HIDE_LATEST_ROW:
// a row left out of the answer and out of the absent ids) is caught by both
// verifiers with the gap id it hid.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  BIN, ROOT, startServer, post, get, ok, applySchema, tempDir, psql, skipWithoutHooks,
} from './lib.mjs';
import { verifyAnswer, verifyHeader } from '../../clients/js/src/protocol.mjs';
import { validateSchema, responseSchema } from '../../scripts/check-openapi.mjs';

const DOC = JSON.parse(fs.readFileSync(path.join(ROOT, 'docs', 'openapi.json'), 'utf8'));

const NOTES = {
  table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'body', col_type: 'text' }, { name: 'n', col_type: 'int', nullable: true }],
};
const EVENTS = {
  table_name: 'events', primary_key_field: 'id', primary_key_kind: 'big_serial',
  columns: [{ name: 'what', col_type: 'text' }],
};
const TAGS = {
  table_name: 'tags', primary_key_field: 'tag', primary_key_kind: 'text',
  columns: [{ name: 'w', col_type: 'int', nullable: true }],
};

const GONE = {
  table_name: 'gone', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'x', col_type: 'text' }],
};

let srv;
let pub;
let chain;
let dir;
let saved = 0;
const m = (table, route) => `/api/models/${table}/${route}`;

before(async () => {
  dir = tempDir('vmdb-complete-');
  srv = await startServer();
  pub = ok(await get(srv.url, '/api/identity')).public_key;
  const genesis = ok(await get(srv.url, '/api/roots/0')).header;
  assert.equal(verifyHeader(genesis, pub).ok, true);
  chain = genesis.chain_id;
  await applySchema(srv.url, [NOTES, EVENTS, TAGS, GONE]);
  const notes = [];
  for (let i = 1; i <= 10; i++) notes.push({ body: `note${i}`, n: i });
  ok(await post(srv.url, m('notes', 'create-batch'), { records: notes }));
  ok(await post(srv.url, m('events', 'create-batch'),
    { records: [{ what: 'a' }, { what: 'b' }, { what: 'c' }, { what: 'd' }] }));
  ok(await post(srv.url, m('tags', 'create-batch'), { records: [{ tag: 'x', w: 1 }, { tag: 'y', w: 2 }] }));
});
after(() => srv && srv.stop());

/** POST read-latest; the answer conforms to docs/openapi.json; returns the raw reply. */
async function readLatest(url, table, body) {
  const r = await post(url, m(table, 'read-latest'), body);
  const schema = responseSchema(DOC, '/api/models/{model}/read-latest', 'post', r.status);
  assert.ok(schema, `read-latest ${r.status} is documented`);
  assert.deepEqual(validateSchema(DOC, schema, r.json), [], r.text.slice(0, 500));
  return r;
}

/** `vmdb verify --public-key` on the saved answer text: {code, out, err}. */
function cliVerify(text, extra = []) {
  const f = path.join(dir, `answer-${++saved}.json`);
  fs.writeFileSync(f, text);
  const r = spawnSync(BIN, ['verify', '--public-key', pub, '--chain-id', chain, f, ...extra],
    { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/**
 * A complete answer: data.complete and proof.complete as expected, the
 * ids as expected, the gap ids (and only those) in proof.absent, members in
 * RFC 8785 order; both verifiers accept it and say it is complete.
 */
async function complete(table, body, want) {
  const r = await readLatest(srv.url, table, { ...body, proof: true });
  const d = ok(r);
  assert.equal(d.complete, true, `complete: ${r.text.slice(0, 400)}`);
  const c = d.proof.complete;
  assert.deepEqual(Object.keys(c), ['hi', 'limit', 'lo', 'order', 'range_key']);
  assert.deepEqual(Object.keys(d), Object.keys(d).slice().sort());
  assert.deepEqual(Object.keys(d.proof), Object.keys(d.proof).slice().sort());
  assert.equal(c.order, want.order);
  assert.equal(c.limit, d.meta.limit);
  assert.equal(c.lo, want.lo);
  assert.equal(c.hi, want.hi);
  assert.deepEqual(d.ids, want.ids);
  assert.deepEqual(d.proof.absent.map((a) => a.id), want.absent);
  assert.ok(d.proof.multiproof.keys.includes(c.range_key), 'the range key is in the multiproof');
  const v = verifyAnswer(d, 'read-latest', pub, { chainId: chain, requireComplete: true, order: want.order, limit: d.meta.limit });
  assert.equal(v.ok, true, `vmdb-verify: ${v.reason}`);
  let cli = cliVerify(r.text);
  assert.equal(cli.code, 0, `vmdb verify: ${cli.out}${cli.err}`);
  assert.match(cli.out, new RegExp(`^ok: .*, complete \\(${want.order}, limit ${d.meta.limit}\\), at seq \\d+; table, limit, order: not checked`, 'm'));
  cli = cliVerify(r.text, ['--table', table, '--limit', String(d.meta.limit), '--order', want.order, '--require-complete']);
  assert.equal(cli.code, 0, `vmdb verify with the request: ${cli.out}${cli.err}`);
  assert.match(cli.out, /; request checked: table, limit, order, complete$/m);
  // Without "proof" the same read has no complete field (as before §10).
  const plain = ok(await readLatest(srv.url, table, body));
  assert.equal(plain.complete, undefined);
  assert.equal(plain.proof, undefined);
  assert.deepEqual(plain.ids, d.ids);
  return d;
}

/** A read with a proof that cannot be complete: data.complete false, no proof.complete, still verifies. */
async function notComplete(table, body, what) {
  const d = ok(await readLatest(srv.url, table, { ...body, proof: true }));
  assert.equal(d.complete, false, what);
  assert.equal(d.proof.complete, undefined, what);
  const v = verifyAnswer(d, 'read-latest', pub, { chainId: chain });
  assert.equal(v.ok, true, `${what}: ${v.reason}`);
  const strict = verifyAnswer(d, 'read-latest', pub, { chainId: chain, requireComplete: true });
  assert.equal(strict.ok, false, `${what}: requireComplete rejects it`);
  const plain = ok(await readLatest(srv.url, table, body));
  assert.equal(plain.complete, undefined, what);
  return d;
}

const range = (a, b) => Array.from({ length: b - a + 1 }, (_, i) => String(a + i));

test('no row: proven empty with a proof (every id of the range absent), 404 without one or when it cannot be proven', async () => {
  // Never a row: no range leaf, nothing to prove (§10), the seed's 404.
  let r = await readLatest(srv.url, 'gone', { limit: 5, proof: true });
  assert.equal(r.status, 404, r.text);
  assert.equal(r.json.code, 'NOT_FOUND');
  ok(await post(srv.url, m('gone', 'create-batch'), { records: [{ x: 'a' }, { x: 'b' }, { x: 'c' }] }));
  ok(await post(srv.url, m('gone', 'delete-batch'), { ids: ['1', '2', '3'] }));
  for (const order of ['desc', 'asc']) {
    r = await readLatest(srv.url, 'gone', { limit: 5, proof: true, order_by: { field: 'id', direction: order } });
    const d = ok(r);
    assert.deepEqual([d.ids, d.records, d.complete], [[], [], true]);
    assert.deepEqual(d.proof.absent.map((a) => a.id), ['1', '2', '3']);
    const v = verifyAnswer(d, 'read-latest', pub, { chainId: chain, requireComplete: true, order, limit: 5 });
    assert.equal(v.ok, true, v.reason);
    const cli = cliVerify(r.text, ['--table', 'gone', '--limit', '5', '--order', order, '--require-complete']);
    assert.equal(cli.code, 0, `vmdb verify: ${cli.out}${cli.err}`);
    // A lie by omission: the absent ids dropped, the answer claims an empty
    // complete table with nothing proven.
    const x = structuredClone(d);
    x.proof.absent = [];
    assert.equal(verifyAnswer(x, 'read-latest', pub, { chainId: chain, requireComplete: true, order, limit: 5 }).ok, false);
  }
  assert.equal((await readLatest(srv.url, 'gone', { limit: 5 })).status, 404, 'without a proof: the seed\'s 404');
  assert.equal((await readLatest(srv.url, 'gone', { limit: 5, proof: true, where: { x: 'a' } })).status, 404,
    'with a where nothing can be proven: 404');
  // read-batch: none of the ids has a row, each proven absent.
  const rb = ok(await post(srv.url, m('gone', 'read-batch'), { ids: ['1', '2', 'zz'], proof: true }));
  assert.deepEqual([rb.records, rb.missing.slice().sort()], [[], ['1', '2', 'zz']]);
  const v = verifyAnswer(rb, 'read-batch', pub, { chainId: chain, table: 'gone', ids: ['1', '2', 'zz'] });
  assert.equal(v.ok, true, v.reason);
  const rbText = (await post(srv.url, m('gone', 'read-batch'), { ids: ['1', '2', 'zz'], proof: true })).text;
  const cli = cliVerify(rbText, ['--table', 'gone', '--ids', '1,2,zz']);
  assert.equal(cli.code, 0, `vmdb verify: ${cli.out}${cli.err}`);
  assert.equal(cliVerify(rbText, ['--table', 'gone', '--ids', '1,2,zz,3']).code, 1, 'an id neither present nor absent');
  assert.equal((await post(srv.url, m('gone', 'read-batch'), { ids: ['1'] })).status, 404);
});

test('serial, desc and asc, a page and the whole range', async () => {
  await complete('notes', { limit: 3 }, { order: 'desc', lo: '1', hi: '10', ids: ['10', '9', '8'], absent: [] });
  await complete('notes', { limit: 3, order_by: { field: 'id' } },
    { order: 'desc', lo: '1', hi: '10', ids: ['10', '9', '8'], absent: [] });
  await complete('notes', { limit: 3, order_by: { field: 'id', direction: 'asc' } },
    { order: 'asc', lo: '1', hi: '10', ids: ['1', '2', '3'], absent: [] });
  await complete('notes', { limit: 50 }, { order: 'desc', lo: '1', hi: '10', ids: range(1, 10).reverse(), absent: [] });
  await complete('notes', { limit: 1000, order_by: { field: 'id', direction: 'ASC' } },
    { order: 'asc', lo: '1', hi: '10', ids: range(1, 10), absent: [] }); // meta.limit is 100
});

test('big_serial, desc and asc', async () => {
  await complete('events', { limit: 2 }, { order: 'desc', lo: '1', hi: '4', ids: ['4', '3'], absent: [] });
  await complete('events', { limit: 2, order_by: { field: 'id', direction: 'asc' } },
    { order: 'asc', lo: '1', hi: '4', ids: ['1', '2'], absent: [] });
  ok(await post(srv.url, m('events', 'delete-batch'), { ids: ['1', '3'] }));
  await complete('events', { limit: 10, order_by: { field: 'id', direction: 'asc' } },
    { order: 'asc', lo: '1', hi: '4', ids: ['2', '4'], absent: ['1', '3'] });
  await complete('events', { limit: 1 }, { order: 'desc', lo: '1', hi: '4', ids: ['4'], absent: [] });
  await complete('events', { limit: 1, order_by: { field: 'id', direction: 'asc' } },
    { order: 'asc', lo: '1', hi: '4', ids: ['2'], absent: ['1'] });
});

test('deleted rows in the gap are proven absent; an explicit id widens the range', async () => {
  ok(await post(srv.url, m('notes', 'delete-batch'), { ids: ['9', '10', '5'] }));
  await complete('notes', { limit: 3 }, { order: 'desc', lo: '1', hi: '10', ids: ['8', '7', '6'], absent: ['9', '10'] });
  await complete('notes', { limit: 50, order_by: { field: 'id', direction: 'asc' } },
    { order: 'asc', lo: '1', hi: '10', ids: ['1', '2', '3', '4', '6', '7', '8'], absent: ['5', '9', '10'] });
  ok(await post(srv.url, m('notes', 'upsert'), { records: [{ id: 40, body: 'forty', n: 40 }] }));
  await complete('notes', { limit: 2 }, { order: 'desc', lo: '1', hi: '40', ids: ['40', '8'], absent: range(9, 39) });
  await complete('notes', { limit: 3, order_by: { field: 'id', direction: 'asc' } },
    { order: 'asc', lo: '1', hi: '40', ids: ['1', '2', '3'], absent: [] });
});

test('a where, another order, a text key or a gap over 1000 ids: complete false', async () => {
  await notComplete('notes', { limit: 3, where: { n: 7 } }, 'where');
  await notComplete('notes', { limit: 3, where: { id: 7 } }, 'where on the key');
  await notComplete('notes', { limit: 3, order_by: { field: 'body', direction: 'asc' } }, 'another order');
  await notComplete('tags', { limit: 3 }, 'text key');
  await notComplete('tags', { limit: 3, order_by: { field: 'tag', direction: 'asc' } }, 'text key in key order');
  // 3000 widens the range: desc with two rows leaves (40, 3000), 2959 ids, to prove absent.
  ok(await post(srv.url, m('notes', 'upsert'), { records: [{ id: 3000, body: 'far', n: 1 }] }));
  await notComplete('notes', { limit: 2 }, 'gap of 2959 absent ids');
  // The first page alone needs no absent id at all.
  await complete('notes', { limit: 1 }, { order: 'desc', lo: '1', hi: '3000', ids: ['3000'], absent: [] });
  // The whole range asc: more than 1000 absent ids.
  await notComplete('notes', { limit: 100, order_by: { field: 'id', direction: 'asc' } }, 'whole range');
  // Exactly 1000 absent ids still is complete: 1..1001 with 1001 rows gone but one.
  ok(await post(srv.url, m('events', 'upsert'), { records: [{ id: 1005, what: 'e' }] }));
  await complete('events', { limit: 2 }, { order: 'desc', lo: '1', hi: '1005', ids: ['1005', '4'], absent: range(5, 1004) });
  ok(await post(srv.url, m('events', 'upsert'), { records: [{ id: 1006, what: 'f' }] }));
  ok(await post(srv.url, m('events', 'delete-batch'), { ids: ['1005'] }));
  await notComplete('events', { limit: 2 }, '1001 absent ids');
});

test('a tampered complete answer is rejected by both verifiers', async () => {
  const r = await readLatest(srv.url, 'events', { limit: 2, proof: true, order_by: { field: 'id', direction: 'asc' } });
  const d = ok(r);
  assert.equal(d.complete, true);
  // Drop a gap id from absent.
  const gone = structuredClone(d);
  gone.proof.absent = gone.proof.absent.filter((a) => a.id !== '1');
  const v = verifyAnswer(gone, 'read-latest', pub, { chainId: chain, requireComplete: true });
  assert.equal(v.ok, false);
  const cli = cliVerify(JSON.stringify({ success: true, data: gone }));
  assert.equal(cli.code, 1, cli.out + cli.err);
  // A forged hi.
  const wide = structuredClone(d);
  wide.proof.complete.hi = '2000';
  assert.match(verifyAnswer(wide, 'read-latest', pub, { chainId: chain, requireComplete: true }).reason, /range/);
  assert.equal(cliVerify(JSON.stringify({ success: true, data: wide })).code, 1);
});

test('a stored id range that is not the tree\'s: complete false, never a guess', async () => {
  await psql(srv.db, "UPDATE vmdb_id_ranges SET hi = hi + 1 WHERE table_name = 'events'");
  try {
    await notComplete('events', { limit: 2, order_by: { field: 'id', direction: 'asc' } }, 'tampered vmdb_id_ranges');
  } finally {
    await psql(srv.db, "UPDATE vmdb_id_ranges SET hi = hi - 1 WHERE table_name = 'events'");
  }
  assert.match(srv.log(), /stored id range is not the tree's range leaf/);
  await complete('events', { limit: 2, order_by: { field: 'id', direction: 'asc' } },
    { order: 'asc', lo: '1', hi: '1006', ids: ['2', '4'], absent: ['1', '3'] });
});

test('test build: a server that hides a row is caught by both verifiers', async (t) => {
  const probe = await post(srv.url, m('notes', 'read-batch'), { ids: ['1'] }, { headers: { 'x-vmdb-fault-alloc': '1' } });
  if (skipWithoutHooks(t, probe.status === 500)) return;
  const liar = await startServer({ env: { VMDB_TEST_HIDE_LATEST_ROW: '1' } });
  t.after(() => liar.stop());
  const lpub = ok(await get(liar.url, '/api/identity')).public_key;
  const lchain = ok(await get(liar.url, '/api/roots/0')).header.chain_id;
  await applySchema(liar.url, [NOTES]);
  ok(await post(liar.url, m('notes', 'create-batch'), { records: range(1, 5).map((i) => ({ body: `n${i}` })) }));
  const r = await readLatest(liar.url, 'notes', { limit: 10, proof: true });
  const d = ok(r);
  assert.equal(d.complete, true, 'the lie claims completeness');
  assert.deepEqual(d.ids, ['4', '3', '2', '1'], 'the newest row is hidden');
  assert.deepEqual(d.proof.absent, [], 'and not listed as absent');
  const v = verifyAnswer(d, 'read-latest', lpub, { chainId: lchain, requireComplete: true });
  assert.equal(v.ok, false);
  assert.match(v.reason, /gap id 5 neither returned nor proven absent/);
  const f = path.join(dir, 'liar.json');
  fs.writeFileSync(f, r.text);
  const cli = spawnSync(BIN, ['verify', '--public-key', lpub, f], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(cli.status, 1, cli.stdout + cli.stderr);
  assert.match(cli.stdout + cli.stderr, /gap id 5 neither returned nor proven absent/);
  // Without a proof (nothing to lie about) the row is there.
  assert.deepEqual(ok(await readLatest(liar.url, 'notes', { limit: 10 })).ids, ['5', '4', '3', '2', '1']);
});

test('a row deleted behind vmdb\'s back inside the gap is an integrity violation, not a complete answer', async () => {
  // Last: it leaves the server with a recorded violation.
  await psql(srv.db, 'DELETE FROM events WHERE id = 2');
  // The first row is now 4, so the gap [1, 4) holds 2, still a leaf of the tree.
  const r = await readLatest(srv.url, 'events', { limit: 1, proof: true, order_by: { field: 'id', direction: 'asc' } });
  assert.equal(r.status, 400, r.text);
  assert.equal(r.json.code, 'INTEGRITY_VIOLATION');
  assert.deepEqual(r.json.data.ids, ['2']);
});

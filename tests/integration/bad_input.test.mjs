// Bad input (seed-behaviour.md §1.0.3, COMPATIBILITY.md): malformed JSON,
// wrong content type, wrong types, unknown record fields, oversized bodies,
// unknown routes and methods. Every answer is a 4xx with the envelope and a
// `code`, and nothing is written (row counts, leaves, root and seq unchanged).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, post, get, httpRequest, ok, fails, health, applySchema, tableCounts, psql,
} from './lib.mjs';

const THINGS = {
  table_name: 'things', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [
    { name: 'name', col_type: 'text', unique: true },
    { name: 'qty', col_type: 'int', nullable: true },
    { name: 'doc', col_type: 'jsonb', nullable: true },
  ],
};
const HINT = {
  'create-batch': '{"records": [...]}',
  upsert: '{"records": [...]}',
  'read-batch': '{"ids": [...]}',
  'read-latest': '{"limit": 5}',
  'delete-batch': null,
};
const MODEL_ROUTES = Object.keys(HINT);
const CONFIRM_ROUTES = ['/bootstrap/clear-data', '/bootstrap/migrate', '/bootstrap/repair-roots'];

let srv;
before(async () => {
  srv = await startServer();
  await applySchema(srv.url, [THINGS]);
  ok(await post(srv.url, '/api/models/things/create-batch', { records: [{ name: 'a', qty: 1 }, { name: 'b', doc: { x: 1 } }] }));
});
after(() => srv && srv.stop());

// Runs fn, then checks that nothing was written.
async function nothingWritten(fn) {
  const counts = await tableCounts(srv.db);
  const h = await health(srv.url);
  await fn();
  assert.deepEqual(await tableCounts(srv.db), counts, 'row counts unchanged');
  const h2 = await health(srv.url);
  assert.equal(h2.temporary_root, h.temporary_root, 'root unchanged');
  assert.equal(h2.seq, h.seq, 'seq unchanged');
}

const modelPath = (route) => `/api/models/things/${route}`;

test('malformed JSON → 422 INVALID_JSON "Failed to parse the request body as JSON"', async () => {
  await nothingWritten(async () => {
    for (const route of MODEL_ROUTES) {
      for (const body of ['{"records": [', '{records: []}', '', '{"ids": ["1"]} x', '\ufeff{"limit": 5}', '{"a":1,}']) {
        const r = fails(await post(srv.url, modelPath(route), body), 422, 'INVALID_JSON', `${route} ${JSON.stringify(body)}`);
        assert.match(r.error, /^Invalid JSON body: Failed to parse the request body as JSON/);
        if (HINT[route]) assert.equal(r.error, `Invalid JSON body: Failed to parse the request body as JSON (expected: ${HINT[route]})`);
      }
    }
    for (const p of CONFIRM_ROUTES) {
      const r = fails(await post(srv.url, p, '{"confirm": tru'), 422, 'INVALID_JSON', p);
      assert.equal(r.error, 'Invalid JSON body: Failed to parse the request body as JSON (expected: {"confirm": true})');
    }
    const a = fails(await post(srv.url, '/bootstrap/apply-schema', '{"tables": [}'), 422, 'INVALID_JSON');
    assert.equal(a.error, 'Invalid JSON body: Failed to parse the request body as JSON');
    // A repeated member name is refused, not "last one wins".
    fails(await post(srv.url, modelPath('create-batch'), '{"records": [{"name": "x", "name": "y"}]}'), 422, 'INVALID_JSON', 'repeated member');
    fails(await post(srv.url, modelPath('create-batch'), '{"records": [], "records": [{"name": "z"}]}'), 422, 'INVALID_JSON', 'repeated top-level member');
    // Invalid UTF-8, lone surrogate, too deep, numbers that are not exactly a double.
    fails(await post(srv.url, modelPath('create-batch'), Buffer.from([0x7b, 0x22, 0x72, 0xff, 0x22, 0x3a, 0x31, 0x7d])), 422, 'INVALID_JSON', 'invalid UTF-8');
    const surrogate = await post(srv.url, modelPath('create-batch'), '{"records": [{"name": "\\ud800"}]}');
    assert.ok(surrogate.status >= 400 && surrogate.status < 500, `lone surrogate: ${surrogate.status}`);
    fails(surrogate, surrogate.status);
    const deep = '['.repeat(200) + ']'.repeat(200);
    const d = await post(srv.url, modelPath('create-batch'), `{"records": [{"name": "deep", "doc": ${deep}}]}`);
    assert.ok(d.status >= 400 && d.status < 500, `200-deep nesting: ${d.status}`);
    fails(d, d.status);
    for (const num of ['9007199254740993', '1e400', '0.10000000000000001']) {
      const n = await post(srv.url, modelPath('create-batch'), `{"records": [{"name": "num${num}", "doc": {"v": ${num}}}]}`);
      assert.ok(n.status >= 400 && n.status < 500, `number ${num}: ${n.status} ${n.text}`);
      fails(n, n.status);
    }
  });
});

test('wrong or missing Content-Type → 422 "Expected request with `Content-Type: application/json`"; +json types accepted', async () => {
  await nothingWritten(async () => {
    for (const route of MODEL_ROUTES) {
      for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'application/jsonx', null]) {
        const r = fails(await post(srv.url, modelPath(route), { records: [{ name: 'ct' }], ids: ['1'], limit: 1 },
          { headers: { 'content-type': ct } }), 422, undefined, `${route} content-type ${ct}`);
        assert.match(r.error, /^Invalid JSON body: Expected request with `Content-Type: application\/json`/);
        if (HINT[route]) assert.equal(r.error, `Invalid JSON body: Expected request with \`Content-Type: application/json\` (expected: ${HINT[route]})`);
      }
    }
    const a = fails(await post(srv.url, '/bootstrap/apply-schema', { tables: [THINGS] }, { headers: { 'content-type': 'text/plain' } }), 422);
    assert.equal(a.error, 'Invalid JSON body: Expected request with `Content-Type: application/json`');
  });
  for (const ct of ['application/json; charset=utf-8', 'Application/JSON', 'application/vnd.api+json', 'application/merge-patch+json; charset=UTF-8']) {
    const r = ok(await post(srv.url, modelPath('read-batch'), { ids: ['1'] }, { headers: { 'content-type': ct } }), `content-type ${ct}`);
    assert.deepEqual(r.ids, ['1']);
  }
});

test('wrong types → 422 "Failed to deserialize the JSON body into the target type"', async () => {
  const cases = [
    ['create-batch', { records: 'x' }], ['create-batch', {}], ['create-batch', []], ['create-batch', { records: {} }],
    ['create-batch', { records: [{ name: 'x' }], expected_root: 5 }],
    ['upsert', { records: null }], ['upsert', '"records"'],
    ['read-batch', { ids: [1] }], ['read-batch', { ids: '1' }], ['read-batch', {}], ['read-batch', { ids: [null] }],
    ['read-latest', { limit: -1 }], ['read-latest', { limit: '5' }], ['read-latest', { limit: 5.5 }], ['read-latest', {}],
    ['read-latest', { limit: 5, where: [] }], ['read-latest', { limit: 5, order_by: 'id' }],
    ['delete-batch', { ids: [1] }], ['delete-batch', {}],
  ];
  // The seed's <reason> is the short framework text, without serde's detail
  // (seed-behaviour.md §1.0.3); wrong messages are collected and reported together.
  const wrongText = [];
  const text = (r, want, what) => { if (r.error !== want) wrongText.push(`${what}: ${JSON.stringify(r.error)}`); };
  await nothingWritten(async () => {
    for (const [route, body] of cases) {
      const what = `${route} ${JSON.stringify(body)}`;
      const r = fails(await post(srv.url, modelPath(route), body), 422, 'INVALID_JSON', what);
      if (HINT[route]) text(r, `Invalid JSON body: Failed to deserialize the JSON body into the target type (expected: ${HINT[route]})`, what);
      else if (!/^Invalid JSON body: Failed to deserialize the JSON body into the target type/.test(r.error)) wrongText.push(`${what}: ${JSON.stringify(r.error)}`);
    }
    for (const p of CONFIRM_ROUTES) {
      for (const body of [{ confirm: 'yes' }, { confirm: 1 }, []]) {
        const what = `${p} ${JSON.stringify(body)}`;
        const r = fails(await post(srv.url, p, body), 422, 'INVALID_JSON', what);
        text(r, 'Invalid JSON body: Failed to deserialize the JSON body into the target type (expected: {"confirm": true})', what);
      }
    }
    const schemaCases = [
      { tables: [{ ...THINGS, primary_key_kind: 'bigserial' }] },
      { tables: [{ ...THINGS, columns: [{ name: 'c', col_type: 'varchar' }] }] },
      { tables: [{ ...THINGS, columns: [{ name: 'c', col_type: 'text', nullable: 'yes' }] }] },
      { tables: [{ table_name: 'x', primary_key_field: 'id', primary_key_kind: 'serial' }] },
      { tables: 'things' }, {}, { tables: [THINGS], force_reset: 'true' },
    ];
    for (const body of schemaCases) {
      const what = `apply-schema ${JSON.stringify(body)}`;
      const r = fails(await post(srv.url, '/bootstrap/apply-schema', body), 422, 'INVALID_JSON', what);
      text(r, 'Invalid JSON body: Failed to deserialize the JSON body into the target type', what);
    }
    // Values of the wrong type for a column: 400 VALIDATION_FAILED.
    const v = fails(await post(srv.url, modelPath('create-batch'), { records: [{ name: 'v', qty: 'many' }] }), 400, 'VALIDATION_FAILED');
    assert.deepEqual(v.data.errors, [{ index: 0, field: 'qty', expected: 'int', got: 'string', value: 'many' }]);
    const w = fails(await post(srv.url, modelPath('create-batch'), { records: [{ name: 'w', qty: [1] }, 7] }), 400, 'VALIDATION_FAILED');
    assert.deepEqual(w.data.errors.map((e) => [e.index, e.field]), [[0, 'qty'], [1, '<record>']]);
    assert.equal(w.data.errors[0].got, 'array');
  });
  assert.deepEqual(wrongText, [], 'error text is the short seed text');
});

test('unknown record fields → 400 VALIDATION_FAILED naming the key (never reaches SQL)', async () => {
  const hostile = 'name) VALUES (1); DROP TABLE things; --';
  await nothingWritten(async () => {
    const r = fails(await post(srv.url, modelPath('create-batch'), { records: [{ name: 'u1', evil: '1' }] }), 400, 'VALIDATION_FAILED');
    assert.equal(r.error, 'Validation/coercion failed');
    assert.deepEqual(r.data.errors, [{ index: 0, field: 'evil', expected: 'column', got: 'unknown', value: '1' }]);

    const s = fails(await post(srv.url, modelPath('create-batch'), { records: [{ name: 'u2' }, { name: 'u3', [hostile]: 1 }] }), 400, 'VALIDATION_FAILED');
    assert.deepEqual(s.data.errors, [{ index: 1, field: hostile, expected: 'column', got: 'unknown', value: 1 }]);

    const u = fails(await post(srv.url, modelPath('upsert'), { records: [{ id: 1, 'qty"; --': 2 }] }), 400, 'VALIDATION_FAILED');
    assert.equal(u.data.errors[0].field, 'qty"; --');
    assert.equal(u.data.errors[0].expected, 'column');

    const e = fails(await post(srv.url, '/api/execute', { model_name: 'things', action: 'create_batch', payload: [{ name: 'u4', 'Name': 'x' }] }), 400, 'VALIDATION_FAILED');
    // Keys fold to lower case like SQL identifiers, so "Name" and "name" name
    // the same column twice: refused as a duplicate, nothing written.
    assert.ok(['Name', 'name'].includes(e.data.errors[0].field));
    assert.equal(e.data.errors[0].got, 'duplicate');

    fails(await post(srv.url, modelPath('read-latest'), { limit: 1, where: { [hostile]: 1 } }), 400);
    fails(await post(srv.url, modelPath('read-latest'), { limit: 1, order_by: { field: 'id; DROP TABLE things' } }), 400);
  });
  assert.equal(await psql(srv.db, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'things'"), '1');
});

test('bodies over 2 MiB → 422 INVALID_JSON "Failed to buffer the request body"; just under 2 MiB works', async () => {
  const big = JSON.stringify({ records: [{ name: 'big', doc: { s: 'x'.repeat(2 * 1024 * 1024 + 100) } }] });
  await nothingWritten(async () => {
    for (const route of ['create-batch', 'upsert', 'read-batch', 'read-latest']) {
      const r = fails(await post(srv.url, modelPath(route), big), 422, 'INVALID_JSON', route);
      assert.match(r.error, /^Invalid JSON body: Failed to buffer the request body/);
      if (HINT[route]) assert.equal(r.error, `Invalid JSON body: Failed to buffer the request body (expected: ${HINT[route]})`);
    }
    const a = fails(await post(srv.url, '/bootstrap/apply-schema', big), 422, 'INVALID_JSON');
    assert.equal(a.error, 'Invalid JSON body: Failed to buffer the request body');
    // Without Content-Length (chunked).
    const chunks = [Buffer.from(big.slice(0, 1 << 20)), Buffer.from(big.slice(1 << 20))];
    const stream = new ReadableStream({
      pull(ctl) { const c = chunks.shift(); if (c) ctl.enqueue(c); else ctl.close(); },
    });
    const res = await fetch(srv.url + modelPath('create-batch'), {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: stream, duplex: 'half',
    });
    const text = await res.text();
    const c = fails({ status: res.status, text, json: JSON.parse(text), headers: res.headers }, 422, 'INVALID_JSON', 'chunked');
    assert.match(c.error, /Failed to buffer the request body/);
    // A huge declared Content-Length is refused too (no body needed).
    const h = fails(await post(srv.url, modelPath('create-batch'), Buffer.alloc(3 * 1024 * 1024, 0x20)), 422, 'INVALID_JSON', '3 MiB of spaces');
    assert.match(h.error, /Failed to buffer the request body/);
  });
  const justUnder = JSON.stringify({ records: [{ name: 'almost-2MiB', doc: { s: 'y'.repeat(2 * 1024 * 1024 - 200) } }] });
  assert.ok(Buffer.byteLength(justUnder) < 2 * 1024 * 1024);
  const d = ok(await post(srv.url, modelPath('create-batch'), justUnder), 'body just under 2 MiB');
  const r = ok(await post(srv.url, modelPath('read-batch'), { ids: d.ids }));
  assert.equal(r.records[0].doc.s.length, 2 * 1024 * 1024 - 200);
});

test('unknown route → 404 ROUTE_NOT_FOUND, wrong method → 405 METHOD_NOT_ALLOWED with Allow', async () => {
  await nothingWritten(async () => {
    for (const p of ['/nope', '/api/models/things', '/api/models/things/drop', '/health/', '/bootstrap']) {
      fails(await post(srv.url, p, {}), 404, 'ROUTE_NOT_FOUND', p);
    }
    fails(await get(srv.url, '/nope'), 404, 'ROUTE_NOT_FOUND');
    for (const [method, p, allow] of [
      ['GET', modelPath('read-batch'), 'POST'], ['DELETE', modelPath('create-batch'), 'POST'],
      ['PUT', '/bootstrap/apply-schema', 'POST'], ['POST', '/health', 'GET'], ['POST', '/bootstrap/schema', 'GET'],
      ['GET', '/bootstrap/clear-data', 'POST'],
    ]) {
      const res = await httpRequest(method, srv.url, p, method === 'GET' ? undefined : {});
      fails(res, 405, 'METHOD_NOT_ALLOWED', `${method} ${p}`);
      assert.match(res.headers.get('allow') || '', new RegExp(allow), `${method} ${p}: Allow header`);
    }
  });
});

test('confirm routes without confirm → 400, nothing written', async () => {
  await nothingWritten(async () => {
    for (const p of CONFIRM_ROUTES) {
      for (const body of [{}, { confirm: false }]) fails(await post(srv.url, p, body), 400, undefined, `${p} ${JSON.stringify(body)}`);
    }
    const e = fails(await post(srv.url, '/bootstrap/repair-roots', { confirm: false }), 400);
    assert.equal(e.error, 'confirm must be true to repair roots');
  });
  // The data is intact and verifies.
  const r = ok(await post(srv.url, modelPath('read-latest'), { limit: 10 }));
  assert.equal(r.verified, true);
});

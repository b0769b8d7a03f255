// docs/openapi.json against itself and against a running `vmdb serve`.
//
// 1. Structure (no server): OpenAPI 3.0.x, strict JSON, every $ref resolves,
//    every operation has an operationId and responses, exactly the routes
//    and methods of the server, examples conform to their schemas
//    (scripts/check-openapi.mjs does the same for ctest).
// 2. Server: /api-docs/openapi.json is this file; every documented
//    path/method is routed; every other method on those paths is 405
//    METHOD_NOT_ALLOWED; real answers (health, apply-schema, schema,
//    create/read/upsert/delete, execute and several failures) conform to the
//    schema documented for their status, their status is documented for the
//    operation, and their error code is named in the operation's text. The
//    trust routes (/api/identity, /api/roots/latest, /api/roots/{seq},
//    /api/roots/{seq}/transition, /api/roots/proof, /checkpoint) too,
//    with header_hash recomputed and sig checked as the Header schema says.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { ROOT, createDb, startServer, get, post, httpRequest, encodeHeader, headerHashOf, verifyHeaderSig } from './lib.mjs';
import {
  checkOpenApi, ROUTES, ERROR_CODES, validateSchema, responseSchema, resolveRef,
} from '../../scripts/check-openapi.mjs';

const DOC_PATH = path.join(ROOT, 'docs', 'openapi.json');
const TEXT = fs.readFileSync(DOC_PATH, 'utf8');
const DOC = JSON.parse(TEXT);

const NO_MODEL = 'no_such_model_oa';
// {seq} probes header 0 (the genesis header exists from the first start).
const concrete = (route) => route.replace('{model}', NO_MODEL).replace('{seq}', '0');
const show = (r) => `${r.status} ${String(r.text).slice(0, 1500)}`;

// All text of one operation (descriptions of the operation and its responses).
function opText(route, method) {
  const op = DOC.paths[route][method];
  return JSON.stringify([op.summary, op.description,
    Object.values(op.responses).map((x) => (x.$ref ? resolveRef(DOC, x.$ref) : x).description)]);
}

function assertJsonContentType(r, what) {
  const ct = r.headers.get('content-type') || '';
  assert.match(ct, /^application\/json\b/i, `${what}: Content-Type is "${ct}"`);
}

// Asserts that answer `r` of `method route` is documented: its status is one
// of the operation's responses, the body conforms to that response's schema,
// and its error code (if any) is named in the operation's text.
function assertDocumented(route, method, r, what = `${method.toUpperCase()} ${route}`) {
  const op = DOC.paths[route][method];
  assert.ok(String(r.status) in op.responses,
    `${what}: status ${r.status} is not documented (documented: ${Object.keys(op.responses)}); got ${show(r)}`);
  const schema = responseSchema(DOC, route, method, r.status);
  if (schema) {
    assertJsonContentType(r, what);
    assert.ok(r.json !== undefined, `${what}: body is not JSON: ${show(r)}`);
    const errs = validateSchema(DOC, schema, r.json);
    assert.deepEqual(errs, [], `${what}: answer does not match the documented ${r.status} schema: ${show(r)}`);
  }
  if (r.json && typeof r.json.code === 'string') {
    assert.ok(ERROR_CODES.includes(r.json.code), `${what}: unknown code ${r.json.code}`);
    assert.ok(opText(route, method).includes(r.json.code),
      `${what}: code ${r.json.code} (status ${r.status}) is not named in the operation's description`);
  }
  return r.json;
}

function assertComponentResponse(name, r, what) {
  const resp = DOC.components.responses[name];
  assertJsonContentType(r, what);
  const errs = validateSchema(DOC, resp.content['application/json'].schema, r.json);
  assert.deepEqual(errs, [], `${what}: does not match components.responses.${name}: ${show(r)}`);
}

// --------------------------------------------------------------- structure

test('docs/openapi.json: structural checks', () => {
  assert.deepEqual(checkOpenApi(DOC, TEXT), []);
});

test('docs/openapi.json: exactly the server routes, each with an operationId and responses', () => {
  assert.match(DOC.openapi, /^3\.0\.\d+$/);
  assert.deepEqual(Object.keys(DOC.paths).sort(), Object.keys(ROUTES).sort());
  for (const [route, methods] of Object.entries(ROUTES)) {
    const have = Object.keys(DOC.paths[route]).filter((k) => k !== 'parameters' && k !== 'summary' && k !== 'description');
    assert.deepEqual(have.sort(), methods.slice().sort(), route);
    for (const m of methods) {
      assert.equal(typeof DOC.paths[route][m].operationId, 'string', `${m} ${route}`);
      assert.ok(Object.keys(DOC.paths[route][m].responses).length > 0, `${m} ${route}`);
    }
  }
});

// ------------------------------------------------------------------ server

describe('against a running server', () => {
  let srv;
  let url;

  before(async () => {
    const db = await createDb('vmdb_openapi');
    srv = await startServer({ db, env: { BATCH_COMMIT_SIZE: '3' } });
    url = srv.url;
  });

  after(async () => {
    if (srv) await srv.stop();
  });

  test('GET /api-docs/openapi.json serves docs/openapi.json', async () => {
    const r = await get(url, '/api-docs/openapi.json');
    assert.equal(r.status, 200, show(r));
    assertJsonContentType(r, 'openapi.json');
    assert.deepEqual(r.json, DOC);
    assert.equal(r.text.trimEnd(), TEXT.trimEnd(), 'served text differs from the file');
  });

  test('GET /swagger-ui serves an HTML page', async () => {
    const r = await get(url, '/swagger-ui');
    assert.equal(r.status, 200, show(r));
    assert.match(r.headers.get('content-type') || '', /^text\/html\b/i);
    assert.match(r.text, /<html/i);
  });

  test('every documented path and method is routed', async () => {
    for (const [route, methods] of Object.entries(ROUTES)) {
      for (const m of methods) {
        const variants = m === 'get'
          ? [() => get(url, concrete(route))]
          : [
            () => post(url, concrete(route), undefined), // no body, no Content-Type
            () => post(url, concrete(route), {}), // empty object
            () => post(url, concrete(route), '{"x":'), // invalid JSON
          ];
        for (const send of variants) {
          const r = await send();
          const what = `${m.toUpperCase()} ${concrete(route)}`;
          assert.notEqual(r.status, 405, `${what}: ${show(r)}`);
          assert.notEqual(r.json?.code, 'ROUTE_NOT_FOUND', `${what}: ${show(r)}`);
          assert.notEqual(r.json?.code, 'METHOD_NOT_ALLOWED', `${what}: ${show(r)}`);
          if (route === '/swagger-ui' || route === '/api-docs/openapi.json') continue;
          assertDocumented(route, m, r, what);
        }
      }
    }
  });

  test('undocumented methods on documented paths answer 405 METHOD_NOT_ALLOWED', async () => {
    for (const [route, methods] of Object.entries(ROUTES)) {
      for (const m of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']) {
        if (methods.includes(m.toLowerCase())) continue;
        const r = await httpRequest(m, url, concrete(route), undefined);
        const what = `${m} ${concrete(route)}`;
        assert.equal(r.status, 405, `${what}: ${show(r)}`);
        assert.equal(r.json?.success, false, `${what}: ${show(r)}`);
        assert.equal(r.json?.code, 'METHOD_NOT_ALLOWED', `${what}: ${show(r)}`);
        assertComponentResponse('MethodNotAllowed', r, what);
        const allow = (r.headers.get('allow') || '').toUpperCase().split(/\s*,\s*/);
        for (const want of methods) assert.ok(allow.includes(want.toUpperCase()), `${what}: Allow "${r.headers.get('allow')}"`);
      }
    }
  });

  test('an unknown path answers 404 ROUTE_NOT_FOUND as documented', async () => {
    for (const p of ['/nope', '/api/models/x/nope', '/health/']) {
      const r = await get(url, p);
      assert.equal(r.status, 404, `${p}: ${show(r)}`);
      assert.equal(r.json?.code, 'ROUTE_NOT_FOUND', `${p}: ${show(r)}`);
      assertComponentResponse('RouteNotFound', r, p);
    }
  });

  test('real answers match the documented schemas', async () => {
    const C = '/api/models/{model}/create-batch';
    const RB = '/api/models/{model}/read-batch';
    const RL = '/api/models/{model}/read-latest';
    const UP = '/api/models/{model}/upsert';
    const DEL = '/api/models/{model}/delete-batch';
    const at = (route) => route.replace('{model}', 'oa_items');

    // health
    let r = await get(url, '/health');
    assert.equal(r.status, 200, show(r));
    assertDocumented('/health', 'get', r);
    assert.equal(r.json.data.status, 'ok');

    // apply-schema
    const table = {
      table_name: 'oa_items',
      primary_key_field: 'id',
      primary_key_kind: 'big_serial',
      columns: [
        { name: 'name', col_type: 'text', nullable: false, unique: true },
        { name: 'qty', col_type: 'int', nullable: true },
        { name: 'big', col_type: 'big_int', nullable: true },
        { name: 'meta', col_type: 'jsonb', nullable: true },
        { name: 'flag', col_type: 'bool', nullable: true },
        { name: 'created_at', col_type: 'timestamptz', nullable: false },
      ],
    };
    r = await post(url, '/bootstrap/apply-schema', { tables: [table], force_reset: false });
    assert.equal(r.status, 200, show(r));
    assertDocumented('/bootstrap/apply-schema', 'post', r);
    assert.deepEqual(r.json.data.tables, ['oa_items']);

    // apply-schema failure: invalid identifier
    r = await post(url, '/bootstrap/apply-schema', { tables: [{ ...table, table_name: '1bad' }] });
    assert.equal(r.status, 400, show(r));
    assertDocumented('/bootstrap/apply-schema', 'post', r);

    // live schema (not enveloped)
    r = await get(url, '/bootstrap/schema');
    assert.equal(r.status, 200, show(r));
    assertDocumented('/bootstrap/schema', 'get', r);
    assert.ok(r.json.tables.some((t) => t.table_name === 'oa_items'), show(r));

    // create-batch
    r = await post(url, at(C), {
      records: [
        { name: 'a', qty: 1, big: '9007199254740993', meta: { k: [1, 'x'] }, flag: true },
        { name: 'b', qty: '2', meta: null },
        { name: 'c' },
      ],
    });
    assert.equal(r.status, 200, show(r));
    assertDocumented(C, 'post', r);
    const ids = r.json.data.ids;
    assert.equal(ids.length, 3);
    const root1 = r.json.data.meta.proposed_root;

    // 400 VALIDATION_FAILED with data.errors
    r = await post(url, at(C), { records: [{ name: 'd', qty: 'abc' }, 5] });
    assert.equal(r.status, 400, show(r));
    assertDocumented(C, 'post', r);
    assert.equal(r.json.code, 'VALIDATION_FAILED');
    assert.ok(r.json.data.errors.length >= 2, show(r));
    assert.deepEqual(r.json.data.errors[0], { index: 0, field: 'qty', expected: 'int', got: 'string', value: 'abc' });

    // 400 EMPTY_RECORDS, 400 INVALID_EXPECTED_ROOT, 409 ROOT_CHANGED, 409 CONSTRAINT_VIOLATION
    r = await post(url, at(C), { records: [] });
    assert.equal(r.status, 400, show(r));
    assertDocumented(C, 'post', r);
    r = await post(url, at(C), { records: [{ name: 'e' }], expected_root: 'zz' });
    assert.equal(r.status, 400, show(r));
    assertDocumented(C, 'post', r);
    r = await post(url, at(C), { records: [{ name: 'e' }], expected_root: 'ab'.repeat(32) });
    assert.equal(r.status, 409, show(r));
    assertDocumented(C, 'post', r);
    assert.equal(r.json.code, 'ROOT_CHANGED');
    r = await post(url, at(C), { records: [{ name: 'a' }] });
    assert.equal(r.status, 409, show(r));
    assertDocumented(C, 'post', r);
    assert.equal(r.json.code, 'CONSTRAINT_VIOLATION');

    // 422 on a model route: malformed JSON
    r = await post(url, at(C), '{"records": [');
    assert.equal(r.status, 422, show(r));
    assertDocumented(C, 'post', r);

    // read-batch: found rows plus one missing id
    r = await post(url, at(RB), { ids: [ids[0], ids[1], '999999'] });
    assert.equal(r.status, 200, show(r));
    assertDocumented(RB, 'post', r);
    assert.equal(r.json.data.verified, true);
    assert.deepEqual(r.json.data.missing, ['999999']);
    // all unknown → 404 NOT_FOUND
    r = await post(url, at(RB), { ids: ['999998', '999999'] });
    assert.equal(r.status, 404, show(r));
    assertDocumented(RB, 'post', r);
    // ids that are not strings → 422
    r = await post(url, at(RB), { ids: [1] });
    assert.equal(r.status, 422, show(r));
    assertDocumented(RB, 'post', r);

    // read-latest
    r = await post(url, at(RL), { limit: 500, order_by: { field: 'id', direction: 'asc' } });
    assert.equal(r.status, 200, show(r));
    assertDocumented(RL, 'post', r);
    assert.equal(r.json.data.meta.limit, 100);
    r = await post(url, at(RL), { limit: 0 });
    assert.equal(r.status, 400, show(r));
    assertDocumented(RL, 'post', r);
    r = await post(url, at(RL), { limit: 5, where: { nope: 1 } });
    assert.equal(r.status, 400, show(r));
    assertDocumented(RL, 'post', r);
    r = await post(url, at(RL), { limit: 5, order_by: { field: 'nope' } });
    assert.equal(r.status, 400, show(r));
    assertDocumented(RL, 'post', r);

    // upsert (with the current root as expected_root)
    r = await get(url, '/health');
    const current = r.json.data.temporary_root || root1;
    r = await post(url, at(UP), { records: [{ id: ids[0], qty: 7 }], expected_root: current });
    assert.equal(r.status, 200, show(r));
    assertDocumented(UP, 'post', r);
    r = await post(url, at(UP), { records: [{ id: ids[0] }] });
    assert.equal(r.status, 400, show(r));
    assertDocumented(UP, 'post', r);
    r = await post(url, at(UP), { records: [{ id: ids[0], qty: 1 }, { id: ids[0], qty: 2 }] });
    assert.equal(r.status, 400, show(r));
    assertDocumented(UP, 'post', r);
    r = await post(url, at(UP), { records: [{ qty: 1 }] });
    assert.equal(r.status, 400, show(r));
    assertDocumented(UP, 'post', r);

    // execute
    r = await post(url, '/api/execute', { model_name: 'oa_items', action: 'read_batch', payload: { ids: [ids[0]] } });
    assert.equal(r.status, 200, show(r));
    assertDocumented('/api/execute', 'post', r);
    r = await post(url, '/api/execute', { model_name: 'oa_items', action: 'create_batch', payload: [{ name: 'x1' }] });
    assert.equal(r.status, 200, show(r));
    assertDocumented('/api/execute', 'post', r);
    r = await post(url, '/api/execute', { model_name: 'oa_items', action: 'read_batch', payload: { ids: [1] } });
    assert.equal(r.status, 400, show(r));
    assertDocumented('/api/execute', 'post', r);
    r = await post(url, '/api/execute', { model_name: 'oa_items', action: 'nope', payload: {} });
    assert.equal(r.status, 422, show(r));
    assertDocumented('/api/execute', 'post', r);
    r = await post(url, '/api/execute', '{"model_name":');
    assert.equal(r.status, 400, show(r));
    assertDocumented('/api/execute', 'post', r);
    r = await post(url, '/api/execute', { model_name: 'oa_items', action: 'read_batch', payload: { ids: [] } },
      { headers: { 'content-type': 'text/plain' } });
    assert.equal(r.status, 415, show(r));
    assertDocumented('/api/execute', 'post', r);

    // delete-batch
    r = await post(url, at(DEL), { ids: [ids[2], '999999'] });
    assert.equal(r.status, 200, show(r));
    assertDocumented(DEL, 'post', r);
    assert.deepEqual(r.json.data.ids, [ids[2]]);
    assert.deepEqual(r.json.data.missing, ['999999']);

    // admin routes without confirm; repair-roots with confirm (harmless: the
    // database matches the tree)
    for (const p of ['/bootstrap/clear-data', '/bootstrap/migrate', '/bootstrap/repair-roots']) {
      r = await post(url, p, {});
      assert.equal(r.status, 400, `${p}: ${show(r)}`);
      assertDocumented(p, 'post', r);
      assert.equal(r.json.code, 'CONFIRM_REQUIRED');
    }
    r = await post(url, '/bootstrap/repair-roots', { confirm: true });
    assert.equal(r.status, 200, show(r));
    assertDocumented('/bootstrap/repair-roots', 'post', r);
    const repairSeq = r.json.data.seq;

    // health again, after writes
    r = await get(url, '/health');
    assert.equal(r.status, 200, show(r));
    assertDocumented('/health', 'get', r);
    const health = r.json.data;
    assert.equal(health.writes, 'ok', show(r));

    // trust routes
    const ID = '/api/identity';
    const LATEST = '/api/roots/latest';
    const SEQ = '/api/roots/{seq}';
    r = await get(url, ID);
    assert.equal(r.status, 200, show(r));
    assertDocumented(ID, 'get', r);
    const pk = r.json.data.public_key;
    assert.equal(r.json.data.anchor, 'local');

    r = await get(url, LATEST);
    assert.equal(r.status, 200, show(r));
    assertDocumented(LATEST, 'get', r);
    const latest = r.json.data;
    assert.equal(latest.public_key, pk);
    assert.equal(latest.header.seq, health.seq, show(r));
    assert.equal(latest.header.smt_root, health.temporary_root, show(r));
    assert.equal(latest.backlog, latest.anchored ? latest.header.seq - latest.anchored.seq : latest.header.seq + 1);
    assertHeaderSigned(latest.header, pk);

    r = await get(url, '/api/roots/0');
    assert.equal(r.status, 200, show(r));
    assertDocumented(SEQ, 'get', r);
    assert.equal(r.json.data.kind, 'genesis');
    assert.equal(r.json.data.header.seq, 0);
    assertHeaderSigned(r.json.data.header, pk);
    r = await get(url, `/api/roots/${latest.header.seq}`);
    assert.equal(r.status, 200, show(r));
    assertDocumented(SEQ, 'get', r);
    assert.deepEqual(r.json.data.header, latest.header);
    assert.ok(['write', 'reset', 'clear', 'repair', 'migrate'].includes(r.json.data.kind), show(r));
    for (const bad of ['x', '-1', '1.5', '00000000000000000001'.repeat(2)]) {
      r = await get(url, `/api/roots/${bad}`);
      assert.equal(r.status, 400, `${bad}: ${show(r)}`);
      assertDocumented(SEQ, 'get', r);
      assert.equal(r.json.code, 'INVALID_SEQ');
    }
    r = await get(url, `/api/roots/${latest.header.seq + 1000}`);
    assert.equal(r.status, 404, show(r));
    assertDocumented(SEQ, 'get', r);
    assert.equal(r.json.code, 'NOT_FOUND');

    // The repair's transition record (PROTOCOL.md §14.2), and a header without one.
    const TRANSITION = '/api/roots/{seq}/transition';
    r = await get(url, `/api/roots/${repairSeq}/transition`);
    assert.equal(r.status, 200, show(r));
    assertDocumented(TRANSITION, 'get', r);
    assert.equal(r.json.data.record.kind, 'repair');
    assertHeaderSigned(r.json.data.header, pk);
    r = await get(url, '/api/roots/0/transition');
    assert.equal(r.status, 404, show(r));
    assertDocumented(TRANSITION, 'get', r);
    assert.equal(r.json.code, 'NO_TRANSITION');
    r = await get(url, '/api/roots/x/transition');
    assert.equal(r.status, 400, show(r));
    assertDocumented(TRANSITION, 'get', r);
    assert.equal(r.json.code, 'INVALID_SEQ');

    const PROOF = '/api/roots/proof';
    r = await get(url, `${PROOF}?from=0&to=${latest.header.seq}`);
    assert.equal(r.status, 200, show(r));
    assertDocumented(PROOF, 'get', r);
    assert.deepEqual(r.json.data.to, latest.header);
    assertHeaderSigned(r.json.data.from, pk);
    for (const q of ['', '?from=0', '?from=x&to=0', '?from=1&to=0', `?from=0&to=${latest.header.seq + 1}`, '?from=-1&to=0']) {
      r = await get(url, `${PROOF}${q}`);
      assert.equal(r.status, 400, `${q}: ${show(r)}`);
      assertDocumented(PROOF, 'get', r);
      assert.equal(r.json.code, 'INVALID_RANGE');
    }
    r = await get(url, '/checkpoint');
    assert.equal(r.status, 200, show(r));
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.ok('text/plain; charset=utf-8' in DOC.paths['/checkpoint'].get.responses['200'].content);
    assert.equal(r.text.split('\n')[1], String(latest.header.seq + 1), r.text);
    r = await get(url, '/metrics');
    assert.equal(r.status, 200, show(r));
    assert.ok(r.headers.get('content-type') in DOC.paths['/metrics'].get.responses['200'].content);
  });
});

// Recomputes header_hash (PROTOCOL.md §6) and checks the header signature (§6.1).
function assertHeaderSigned(h, pkHex) {
  assert.equal(encodeHeader(h).length, h.version === 1 ? 144 : 178);
  assert.equal(headerHashOf(h).toString('hex'), h.header_hash, `header ${h.seq}: header_hash`);
  assert.ok(verifyHeaderSig(h, pkHex, 'committed'), `header ${h.seq}: sig does not verify`);
}

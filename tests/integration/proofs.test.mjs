// Proofs in answers (docs/PROTOCOL.md §9): "proof": true on read-batch,
// read-latest, create-batch, upsert and delete-batch. Every answer is
// checked in JS from the protocol text (tests/integration/proofcheck.mjs):
// keys and values recomputed, the multiproof verified against the header's
// root, the header's hash and signature checked with the key of
// GET /api/identity. The checker itself must reject tampered proofs, and
// answers without "proof" stay as they were.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, post, get, ok, fails, applySchema } from './lib.mjs';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './lib.mjs';
import { verifyAnswer, verifyMultiproof, verifyHeader } from './proofcheck.mjs';
import { validateSchema, responseSchema } from '../../scripts/check-openapi.mjs';

const DOC = JSON.parse(fs.readFileSync(path.join(ROOT, 'docs', 'openapi.json'), 'utf8'));
/** The answer conforms to the schema docs/openapi.json gives for its status. */
function documented(route, r) {
  const schema = responseSchema(DOC, `/api/models/{model}/${route}`, 'post', r.status);
  assert.ok(schema, `${route} ${r.status} is documented`);
  assert.deepEqual(validateSchema(DOC, schema, r.json), [], `${route}: ${r.text.slice(0, 500)}`);
  return r;
}
const postp = async (table, route, body) => documented(route, await post(srv.url, m(table, route), body));

const ITEMS = {
  table_name: 'items', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [
    { name: 'name', col_type: 'text' },
    { name: 'n', col_type: 'int', nullable: true },
    { name: 'score', col_type: 'big_int', nullable: true },
    { name: 'doc', col_type: 'jsonb', nullable: true },
  ],
};
const TAGS = {
  table_name: 'tags', primary_key_field: 'tag', primary_key_kind: 'text',
  columns: [{ name: 'weight', col_type: 'int', nullable: true }],
};

let srv;
let pub;
const m = (table, route) => `/api/models/${table}/${route}`;

before(async () => {
  srv = await startServer();
  await applySchema(srv.url, [ITEMS, TAGS]);
  const records = [];
  for (let i = 1; i <= 40; i++) records.push({ name: `item${i}`, n: i, score: String(1000 * i), doc: { i, tags: ['a', 'b'] } });
  ok(await post(srv.url, m('items', 'create-batch'), { records }));
  ok(await post(srv.url, m('tags', 'create-batch'), { records: [{ tag: 'red', weight: 1 }, { tag: 'Grün ✓', weight: 2 }] }));
  pub = ok(await get(srv.url, '/api/identity')).public_key;
});
after(() => srv && srv.stop());

/** The same request with and without "proof": the data differ only by data.proof. */
async function withAndWithout(url, body) {
  const route = url.split('/').pop();
  const plain = documented(route, await post(srv.url, url, body));
  const proved = documented(route, await post(srv.url, url, { ...body, proof: true }));
  const d = ok(proved);
  const p = ok(plain);
  assert.equal(p.proof, undefined, 'no proof unless asked');
  const { proof, ...rest } = d;
  assert.ok(proof, 'proof when asked');
  assert.deepEqual(rest, p);
  // "proof": false is the answer without a proof, byte for byte.
  const off = await post(srv.url, url, { ...body, proof: false });
  assert.equal(off.text, plain.text);
  // Members in RFC 8785 order, as every answer.
  assert.deepEqual(Object.keys(d), Object.keys(d).slice().sort());
  assert.deepEqual(Object.keys(proof), Object.keys(proof).slice().sort());
  return d;
}

test('read-batch: present rows, missing ids and ids that are not keys are all proven', async () => {
  const d = await withAndWithout(m('items', 'read-batch'), { ids: ['3', '1', '999', 'abc', '0007', '3'] });
  assert.deepEqual(d.missing.sort(), ['999', 'abc'].sort());
  const h = verifyAnswer(d, pub);
  assert.deepEqual(d.proof.present.map((e) => e.id), d.ids);
  assert.deepEqual(d.proof.absent.map((e) => e.id).sort(), ['999', 'abc'].sort());
  assert.equal(d.proof.table, 'items');
  assert.equal(d.proof.primary_key, 'id');
  // The header is one the service signed: the same as /api/roots/{seq}.
  const r = ok(await get(srv.url, `/api/roots/${h.seq}`));
  assert.deepEqual(r.header, h);
  // A text key with non-ASCII text.
  const t = await withAndWithout(m('tags', 'read-batch'), { ids: ['Grün ✓', 'blue'] });
  verifyAnswer(t, pub);
  assert.deepEqual(t.proof.absent.map((e) => e.id), ['blue']);
});

test('read-latest: the rows in the requested order are proven present', async () => {
  const d = await withAndWithout(m('items', 'read-latest'), { limit: 5 });
  verifyAnswer(d, pub);
  assert.equal(d.proof.present.length, 5);
  assert.deepEqual(d.proof.absent, []);
  const w = await withAndWithout(m('items', 'read-latest'), { limit: 3, where: { n: 7 }, order_by: { field: 'name', direction: 'asc' } });
  verifyAnswer(w, pub);
  assert.deepEqual(w.proof.present.map((e) => e.id), ['7']);
});

test('create-batch and upsert: the stored rows are proven under the header they committed under', async () => {
  const c = ok(await postp('items', 'create-batch', {
    records: [{ name: 'new1', n: 1 }, { name: 'new2', doc: { deep: { x: [1, 2.5, null] } } }], proof: true,
  }));
  const h = verifyAnswer(c, pub);
  assert.equal(h.seq, c.meta.seq);
  assert.equal(h.smt_root, c.meta.proposed_root);
  // Upsert of existing rows (and one new key).
  const u = ok(await postp('items', 'upsert', {
    records: [{ id: c.ids[0], name: 'renamed' }, { id: '2', n: 222 }, { id: '5000', name: 'fresh' }], proof: true,
  }));
  const hu = verifyAnswer(u, pub);
  assert.equal(hu.seq, u.meta.seq);
  assert.equal(hu.prev.length, 64);
  assert.equal(u.records[0].name, 'renamed');
  // The upserted values are the ones now stored: a read proves the same leaves.
  const r = ok(await post(srv.url, m('items', 'read-batch'), { ids: u.ids, proof: true }));
  verifyAnswer(r, pub);
  assert.deepEqual(r.proof.present.map((e) => e.value).sort(), u.proof.present.map((e) => e.value).sort());
  // Without "proof" the write answers are as before.
  const plain = ok(await post(srv.url, m('tags', 'upsert'), { records: [{ tag: 'red', weight: 9 }] }));
  assert.deepEqual(Object.keys(plain), ['ids', 'meta', 'records', 'verified']);
  const t = ok(await post(srv.url, m('tags', 'upsert'), { records: [{ tag: 'red', weight: 10 }], proof: true }));
  assert.deepEqual(Object.keys(t), ['ids', 'meta', 'proof', 'records', 'verified']);
  verifyAnswer(t, pub);
});

test('delete-batch: deleted and missing ids are proven absent in the new state', async () => {
  const d = ok(await postp('items', 'delete-batch', { ids: ['10', '11', '4242'], proof: true }));
  assert.deepEqual(Object.keys(d), ['deleted', 'ids', 'meta', 'missing', 'proof', 'verified']);
  assert.equal(d.deleted, 2);
  assert.deepEqual(d.missing, ['4242']);
  const h = verifyAnswer(d, pub, { deleted: true });
  assert.equal(h.seq, d.meta.seq);
  assert.deepEqual(d.proof.present, []);
  assert.deepEqual(d.proof.absent.map((e) => e.id).sort(), ['10', '11', '4242']);
  // The same answer read as a non-delete answer would not pass: ids must be absent.
  assert.throws(() => verifyAnswer({ ...d, proof: { ...d.proof, absent: d.proof.absent.filter((e) => e.id !== '10') } }, pub, { deleted: true }));
  const plain = ok(await post(srv.url, m('items', 'delete-batch'), { ids: ['12'] }));
  assert.deepEqual(Object.keys(plain), ['deleted', 'ids', 'meta', 'missing', 'verified']);
});

test('"proof" that is not a boolean: 400 VALIDATION_FAILED naming the field, on every route', async () => {
  const bodies = [
    ['items', 'read-batch', { ids: ['1'] }],
    ['items', 'read-latest', { limit: 1 }],
    ['items', 'create-batch', { records: [{ name: 'x' }] }],
    ['items', 'upsert', { records: [{ id: '1', name: 'x' }] }],
    ['items', 'delete-batch', { ids: ['1'] }],
  ];
  for (const [t, route, body] of bodies) {
    for (const bad of [1, 'true', null, {}, []]) {
      const f = fails(await postp(t, route, { ...body, proof: bad }), 400, 'VALIDATION_FAILED', `${route} proof=${JSON.stringify(bad)}`);
      assert.equal(f.data.errors[0].field, 'proof');
      assert.equal(f.data.errors[0].expected, 'bool');
    }
  }
  // A proof is bounded: create and upsert take at most 1000 records with one.
  const many = Array.from({ length: 1001 }, (_, i) => ({ name: `many${i}` }));
  const f = fails(await postp('items', 'create-batch', { records: many, proof: true }), 400, 'TOO_MANY_IDS');
  assert.match(f.error, /proof/);
  fails(await postp('items', 'upsert', { records: many.map((r, i) => ({ id: String(9000 + i), ...r })), proof: true }), 400, 'TOO_MANY_IDS');
  // Nothing was written by the refused writes.
  const r = ok(await post(srv.url, m('items', 'read-batch'), { ids: ['1', '9000'] }));
  assert.equal(r.records[0].name, 'item1');
  assert.deepEqual(r.missing, ['9000']);
});

test('the checker rejects a flipped bit, a swapped record, a wrong root and a forged header', async () => {
  const d = ok(await post(srv.url, m('items', 'read-batch'), { ids: ['1', '2', '3', '77777'], proof: true }));
  verifyAnswer(d, pub);
  const clone = () => JSON.parse(JSON.stringify(d));
  const flipHex = (s, at) => s.slice(0, at) + ((parseInt(s[at], 16) ^ 1).toString(16)) + s.slice(at + 1);
  // Every bit of the multiproof matters: flip each byte's low bit in turn.
  const bytes = d.proof.multiproof.proof.length / 2;
  for (let i = 0; i < bytes; i++) {
    const x = clone();
    x.proof.multiproof.proof = flipHex(x.proof.multiproof.proof, 2 * i + 1);
    assert.throws(() => verifyAnswer(x, pub), /proof rejected/, `flipped byte ${i} of ${bytes}`);
  }
  // Truncated or extended.
  let x = clone();
  x.proof.multiproof.proof = x.proof.multiproof.proof.slice(0, -2);
  assert.throws(() => verifyAnswer(x, pub), /proof rejected/);
  x = clone();
  x.proof.multiproof.proof += '00';
  assert.throws(() => verifyAnswer(x, pub), /proof rejected/);
  // Two records swapped (their present entries left in place).
  x = clone();
  [x.records[0], x.records[1]] = [x.records[1], x.records[0]];
  assert.throws(() => verifyAnswer(x, pub), /proof rejected/);
  // A record changed.
  x = clone();
  x.records[2].name = 'tampered';
  assert.throws(() => verifyAnswer(x, pub), /value is not the record's hash/);
  // A present row claimed missing.
  x = clone();
  x.missing.push('1');
  x.proof.absent.push({ id: '1', key: x.proof.present[0].key });
  assert.throws(() => verifyAnswer(x, pub), /proof rejected/);
  // A missing id without its absent entry.
  x = clone();
  x.proof.absent = [];
  assert.throws(() => verifyAnswer(x, pub), /proof rejected/);
  // A wrong root: the multiproof no longer computes it (and a header with
  // that root no longer carries a valid signature).
  assert.throws(() => verifyMultiproof(flipHex(d.proof.header.smt_root, 63), d.proof.multiproof.keys, d.proof.multiproof.proof), /root differs/);
  x = clone();
  x.proof.header.smt_root = flipHex(x.proof.header.smt_root, 0);
  assert.throws(() => verifyAnswer(x, pub), /proof rejected/);
  delete x.proof.header.header_hash;
  assert.throws(() => verifyHeader(x.proof.header, pub), /signature does not verify/);
  // Another key, another seq, a bad signature.
  x = clone();
  assert.throws(() => verifyHeader(x.proof.header, flipHex(pub, 5)), /proof rejected/);
  x.proof.header.seq += 1;
  assert.throws(() => verifyHeader(x.proof.header, pub), /proof rejected/);
  x = clone();
  x.proof.header.sig = flipHex(x.proof.header.sig, 10);
  assert.throws(() => verifyHeader(x.proof.header, pub), /signature does not verify/);
  // Keys out of order, and a key list that differs from the entries.
  x = clone();
  x.proof.multiproof.keys.reverse();
  assert.throws(() => verifyAnswer(x, pub), /ascending/);
  x = clone();
  x.proof.multiproof.keys = [];
  assert.throws(() => verifyAnswer(x, pub), /empty key list/);
});

test('concurrent writes and reads with proofs: each verifies against its own header', async () => {
  const writes = Array.from({ length: 12 }, (_, i) => postp('items', 'create-batch', { records: [{ name: `conc${i}`, n: i }], proof: true }));
  const reads = Array.from({ length: 12 }, () => postp('items', 'read-batch', { ids: ['1', '2', '31', 'nope'], proof: true }));
  const ws = await Promise.all(writes);
  const rs = await Promise.all(reads);
  for (const r of ws) {
    const d = ok(r);
    const h = verifyAnswer(d, pub);
    assert.equal(h.seq, d.meta.seq);
    assert.equal(h.smt_root, d.meta.proposed_root);
  }
  for (const r of rs) verifyAnswer(ok(r), pub);
});

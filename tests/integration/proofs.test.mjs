// Proofs in answers (docs/PROTOCOL.md §9): "proof": true on read-batch,
// read-latest, create-batch, upsert and delete-batch. Every answer is
// checked by clients/js/src/protocol.mjs, the verifier written from the protocol
// text alone (the one scripts/gen-vectors.mjs uses): keys and values
// recomputed, the multiproof verified against the header's root, the v2
// header's hash, its committed-context signature (with the key of
// GET /api/identity) and its chain_id (pinned at the start). The verifier
// must reject tampered answers with a reason that names what is wrong, and
// answers without "proof" stay as they were.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPairSync, sign } from 'node:crypto';
import { startServer, post, get, ok, fails, applySchema, psql, ROOT } from './lib.mjs';
import {
  verifyAnswer, verifyHeader, verifyIntent, verifyMultiproofJson,
  committedMessage, intentMessage, encodeHeaderV1, headerHashV1, hex, unhex,
} from '../../clients/js/src/protocol.mjs';
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
let pub;   // identity public key (hex), from GET /api/identity
let chain; // chain_id (hex), pinned at first contact like a client would
const m = (table, route) => `/api/models/${table}/${route}`;

before(async () => {
  srv = await startServer();
  pub = ok(await get(srv.url, '/api/identity')).public_key;
  const genesis = ok(await get(srv.url, '/api/roots/0')).header;
  assert.equal(verifyHeader(genesis, pub).ok, true, 'the genesis header verifies');
  chain = genesis.chain_id;
  await applySchema(srv.url, [ITEMS, TAGS]);
  const records = [];
  for (let i = 1; i <= 40; i++) records.push({ name: `item${i}`, n: i, score: String(1000 * i), doc: { i, tags: ['a', 'b'] } });
  ok(await post(srv.url, m('items', 'create-batch'), { records }));
  ok(await post(srv.url, m('tags', 'create-batch'), { records: [{ tag: 'red', weight: 1 }, { tag: 'Grün ✓', weight: 2 }] }));
});
after(() => srv && srv.stop());

/**
 * Verifies an answer with vmdb-verify (pinned key and chain_id, plus `opts`)
 * and asserts it passes; returns the header as the answer gives it (JSON).
 */
function verified(data, kind, opts = {}) {
  const r = verifyAnswer(data, kind, pub, { chainId: chain, ...opts });
  assert.equal(r.ok, true, `${kind}: ${r.reason}`);
  assert.equal(r.header.seq, data.proof.header.seq);
  return data.proof.header;
}
/** Asserts vmdb-verify rejects the answer, for the reason `re` names. */
function rejected(data, kind, re, opts = {}, key = pub) {
  const r = verifyAnswer(data, kind, key, { chainId: chain, ...opts });
  assert.equal(r.ok, false, `${kind}: accepted, expected a rejection matching ${re}`);
  assert.match(r.reason, re);
  return r.reason;
}

/** The same request with and without "proof": the data differ only by data.proof. */
async function withAndWithout(url, body) {
  const route = url.split('/').pop();
  const plain = documented(route, await post(srv.url, url, body));
  const proved = documented(route, await post(srv.url, url, { ...body, proof: true }));
  const d = ok(proved);
  const p = ok(plain);
  assert.equal(p.proof, undefined, 'no proof unless asked');
  const { proof, complete, ...rest } = d;
  assert.ok(proof, 'proof when asked');
  // data.complete (§10) beside a read-latest's proof only.
  assert.equal(complete, route === 'read-latest' ? !!proof.complete : undefined, 'data.complete');
  assert.equal(p.complete, undefined, 'no data.complete without a proof');
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
  const ids = ['3', '1', '999', 'abc', '0007', '3'];
  const d = await withAndWithout(m('items', 'read-batch'), { ids });
  assert.deepEqual(d.missing.sort(), ['999', 'abc'].sort());
  // §9 step 5 with the ids in canonical form (§1): each is returned or proven absent.
  const h = verified(d, 'read-batch', { table: 'Items', ids: ids.filter((id) => id !== '0007') });
  assert.equal(h.version, 2);
  assert.equal(h.chain_id, chain);
  assert.deepEqual(d.proof.present.map((e) => e.id), d.ids);
  assert.deepEqual(d.proof.absent.map((e) => e.id).sort(), ['999', 'abc'].sort());
  assert.equal(d.proof.table, 'items');
  assert.equal(d.proof.primary_key, 'id');
  // '0007' found row 7, proven under the canonical id '7' (§1): a client that
  // asks with a non-canonical id cannot match it to an entry by text.
  assert.ok(d.proof.present.some((e) => e.id === '7'));
  rejected(d, 'read-batch', /requested id 0007 is neither returned nor proven absent/, { ids });
  // An id the answer leaves out of both records and missing is noticed (step 5).
  rejected(d, 'read-batch', /requested id 5 is neither returned nor proven absent/, { ids: ['1', '5'] });
  // The proof is for the table the request named.
  rejected(d, 'read-batch', /not the table the request named/, { table: 'tags' });
  // The header is one the service signed: the same as /api/roots/{seq}.
  const r = ok(await get(srv.url, `/api/roots/${h.seq}`));
  assert.deepEqual(r.header, h);
  // A text key with non-ASCII text.
  const t = await withAndWithout(m('tags', 'read-batch'), { ids: ['Grün ✓', 'blue'] });
  verified(t, 'read-batch', { table: 'tags', ids: ['Grün ✓', 'blue'] });
  assert.deepEqual(t.proof.absent.map((e) => e.id), ['blue']);
});

test('read-latest: the rows in the requested order are proven present', async () => {
  const d = await withAndWithout(m('items', 'read-latest'), { limit: 5 });
  verified(d, 'read-latest', { table: 'items' });
  assert.equal(d.proof.present.length, 5);
  // items is serial, read in key order without where: complete (§10, complete.test.mjs).
  assert.equal(d.complete, true);
  verified(d, 'read-latest', { table: 'items', requireComplete: true });
  const w = await withAndWithout(m('items', 'read-latest'), { limit: 3, where: { n: 7 }, order_by: { field: 'name', direction: 'asc' } });
  verified(w, 'read-latest', { table: 'items' });
  assert.equal(w.complete, false);
  assert.deepEqual(w.proof.absent, []);
  assert.deepEqual(w.proof.present.map((e) => e.id), ['7']);
});

test('create-batch and upsert: the stored rows are proven under the header they committed under', async () => {
  const c = ok(await postp('items', 'create-batch', {
    records: [{ name: 'new1', n: 1 }, { name: 'new2', doc: { deep: { x: [1, 2.5, null] } } }], proof: true,
  }));
  const h = verified(c, 'create-batch', { table: 'items' });
  assert.equal(h.seq, c.meta.seq);
  assert.equal(h.kind, 'write');
  assert.equal(h.smt_root, c.meta.proposed_root);
  // Upsert of existing rows (and one new key).
  const u = ok(await postp('items', 'upsert', {
    records: [{ id: c.ids[0], name: 'renamed' }, { id: '2', n: 222 }, { id: '5000', name: 'fresh' }], proof: true,
  }));
  const hu = verified(u, 'upsert', { table: 'items' });
  assert.equal(hu.seq, u.meta.seq);
  assert.equal(hu.prev.length, 64);
  assert.equal(u.records[0].name, 'renamed');
  // The upserted values are the ones now stored: a read proves the same leaves.
  const r = ok(await post(srv.url, m('items', 'read-batch'), { ids: u.ids, proof: true }));
  verified(r, 'read-batch', { ids: u.ids });
  assert.deepEqual(r.proof.present.map((e) => e.value).sort(), u.proof.present.map((e) => e.value).sort());
  // Without "proof" the write answers are as before.
  const plain = ok(await post(srv.url, m('tags', 'upsert'), { records: [{ tag: 'red', weight: 9 }] }));
  assert.deepEqual(Object.keys(plain), ['ids', 'meta', 'records', 'verified']);
  const t = ok(await post(srv.url, m('tags', 'upsert'), { records: [{ tag: 'red', weight: 10 }], proof: true }));
  assert.deepEqual(Object.keys(t), ['ids', 'meta', 'proof', 'records', 'verified']);
  verified(t, 'upsert', { table: 'tags' });
});

test('delete-batch: deleted and missing ids are proven absent in the new state', async () => {
  const ids = ['10', '11', '4242'];
  const d = ok(await postp('items', 'delete-batch', { ids, proof: true }));
  assert.deepEqual(Object.keys(d), ['deleted', 'ids', 'meta', 'missing', 'proof', 'verified']);
  assert.equal(d.deleted, 2);
  assert.deepEqual(d.missing, ['4242']);
  const h = verified(d, 'delete-batch', { table: 'items', ids });
  assert.equal(h.seq, d.meta.seq);
  assert.deepEqual(d.proof.present, []);
  assert.deepEqual(d.proof.absent.map((e) => e.id).sort(), ['10', '11', '4242']);
  // A deleted id without its absent entry does not pass.
  rejected({ ...d, proof: { ...d.proof, absent: d.proof.absent.filter((e) => e.id !== '10') } }, 'delete-batch',
    /keys are not exactly the present, absent and range keys/);
  // Nor does a delete answer read as a read answer (it has no records), or a
  // read answer read as a delete answer (it has present rows).
  rejected(d, 'read-batch', /data\.records: not an array/);
  const r = ok(await post(srv.url, m('items', 'read-batch'), { ids: ['1'], proof: true }));
  rejected(r, 'delete-batch', /present rows in a delete answer/);
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

const flipHex = (s, at) => s.slice(0, at) + ((parseInt(s[at], 16) ^ 1).toString(16)) + s.slice(at + 1);

test('the verifier rejects a flipped bit, a swapped record, a wrong root and a forged header', async () => {
  const d = ok(await post(srv.url, m('items', 'read-batch'), { ids: ['1', '2', '3', '77777'], proof: true }));
  verified(d, 'read-batch');
  const clone = () => JSON.parse(JSON.stringify(d));
  const badProof = /multiproof: does not verify against the root/;
  // Every bit of the multiproof matters: flip each byte's low bit in turn.
  const bytes = d.proof.multiproof.proof.length / 2;
  for (let i = 0; i < bytes; i++) {
    const x = clone();
    x.proof.multiproof.proof = flipHex(x.proof.multiproof.proof, 2 * i + 1);
    rejected(x, 'read-batch', badProof, {}, pub);
  }
  // Truncated or extended.
  let x = clone();
  x.proof.multiproof.proof = x.proof.multiproof.proof.slice(0, -2);
  rejected(x, 'read-batch', badProof);
  x = clone();
  x.proof.multiproof.proof += '00';
  rejected(x, 'read-batch', badProof);
  // Two records swapped (their present entries left in place).
  x = clone();
  [x.records[0], x.records[1]] = [x.records[1], x.records[0]];
  rejected(x, 'read-batch', /present\[0\]\.value is not the value of data\.records\[0\]/);
  // A record changed.
  x = clone();
  x.records[2].name = 'tampered';
  rejected(x, 'read-batch', /present\[2\]\.value is not the value of data\.records\[2\]/);
  // A record whose primary key is not its entry's id (value recomputed to match).
  x = clone();
  x.proof.present[0].id = '2';
  rejected(x, 'read-batch', /present\[0\]\.key is not k\(table, id\)/);
  // A present row claimed missing.
  x = clone();
  x.missing.push('1');
  x.proof.absent.push({ id: '1', key: x.proof.present[0].key });
  rejected(x, 'read-batch', /absent\[\d+\] \(id 1\) is present/);
  // A missing id without its absent entry (the multiproof still covers its key).
  x = clone();
  x.proof.absent = [];
  rejected(x, 'read-batch', /keys are not exactly the present, absent and range keys/);
  // A missing id with no absent entry and none in the multiproof either.
  x = clone();
  x.missing.push('31');
  rejected(x, 'read-batch', /data\.missing\[1\] \(31\) is not proven absent/);
  // A wrong root: the multiproof no longer computes it (and a header with
  // that root no longer carries a valid signature).
  const wr = verifyMultiproofJson(flipHex(d.proof.header.smt_root, 63), d.proof.multiproof);
  assert.equal(wr.ok, false);
  assert.match(wr.reason, badProof);
  assert.equal(verifyMultiproofJson(d.proof.header.smt_root, d.proof.multiproof).ok, true);
  x = clone();
  x.proof.header.smt_root = flipHex(x.proof.header.smt_root, 0);
  rejected(x, 'read-batch', /header_hash does not match the fields/);
  delete x.proof.header.header_hash;
  rejected(x, 'read-batch', /signature does not verify with the identity key/);
  // Another key, another seq, a bad signature.
  x = clone();
  rejected(x, 'read-batch', /signature does not verify with the identity key/, {}, flipHex(pub, 5));
  x.proof.header.seq += 1;
  rejected(x, 'read-batch', /header_hash does not match the fields/);
  delete x.proof.header.header_hash;
  rejected(x, 'read-batch', /signature does not verify with the identity key/);
  x = clone();
  x.proof.header.sig = flipHex(x.proof.header.sig, 10);
  rejected(x, 'read-batch', /signature does not verify with the identity key/);
  // Keys out of order, and an empty key list.
  x = clone();
  x.proof.multiproof.keys.reverse();
  rejected(x, 'read-batch', /keys not strictly ascending/);
  x = clone();
  x.proof.multiproof.keys = [];
  rejected(x, 'read-batch', /empty key list/);
});

test('v2 headers: chain_id, kind and the signature context are all checked', async () => {
  const d = ok(await post(srv.url, m('items', 'read-batch'), { ids: ['1', '2', '88888'], proof: true }));
  const h = verified(d, 'read-batch');
  assert.equal(h.version, 2);
  const clone = () => JSON.parse(JSON.stringify(d));
  // The header's chain_id changed: the hash no longer matches, nor (without
  // header_hash) the signature.
  let x = clone();
  x.proof.header.chain_id = flipHex(x.proof.header.chain_id, 7);
  rejected(x, 'read-batch', /header_hash does not match the fields/);
  delete x.proof.header.header_hash;
  rejected(x, 'read-batch', /signature does not verify with the identity key/);
  // A genuine header of another chain (here: the same one pinned under
  // another chain_id) is refused by a client that pinned its chain.
  rejected(d, 'read-batch', /chain_id is not the pinned chain/, { chainId: flipHex(chain, 0) });
  // The kind changed, to another valid kind, to a bad one, to genesis
  // (the structure of §6.1 is checked before the signature).
  for (const [kind, re] of [['reset', /header_hash does not match the fields/], ['repair', /header_hash does not match/],
    ['bogus', /unknown kind "bogus"/], [1, /unknown kind 1/]]) {
    x = clone();
    x.proof.header.kind = kind;
    rejected(x, 'read-batch', re);
  }
  x = clone();
  x.proof.header.kind = 'genesis';
  delete x.proof.header.header_hash;
  rejected(x, 'read-batch', /genesis with seq > 0/);
  x = clone();
  x.proof.header.kind = 'clear';
  delete x.proof.header.header_hash;
  rejected(x, 'read-batch', /signature does not verify with the identity key/);
  // Dressed up as a v1 header: refused in an answer (v1 only in history, §12).
  x = clone();
  x.proof.header.version = 1;
  rejected(x, 'read-batch', /a v1 header has no kind or chain_id/);

  // The intent signature vmdb stored for this header in vmdb_headers
  // (§6.1: the table holds intents only) is a real signature by the
  // identity key, but never a header signature.
  const intentSig = await psql(srv.db, `SELECT encode(sig, 'hex') FROM vmdb_headers WHERE seq = ${h.seq}`);
  assert.match(intentSig, /^[0-9a-f]{128}$/);
  assert.notEqual(intentSig, h.sig);
  assert.equal(verifyIntent(h, intentSig, pub).ok, true, 'the stored intent verifies as an intent');
  const asIntent = verifyIntent(h, h.sig, pub);
  assert.equal(asIntent.ok, false, 'the header signature is not an intent');
  assert.match(asIntent.reason, /intent: signature does not verify/);
  x = clone();
  x.proof.header.sig = intentSig;
  rejected(x, 'read-batch', /sig is an intent signature, not a header signature/);

  // A throw-away key of our own signs the same header fields under each
  // context: only the committed context passes, and only with that key.
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const own = hex(publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
  const hh = unhex(h.header_hash);
  const signed = (msg) => { const y = clone(); y.proof.header.sig = hex(sign(null, msg, privateKey)); return y; };
  const ownCommitted = signed(committedMessage(hh));
  assert.equal(verifyAnswer(ownCommitted, 'read-batch', own, { chainId: chain }).ok, true, 'our key, committed context');
  rejected(ownCommitted, 'read-batch', /signature does not verify with the identity key/); // a forged header: not the identity's
  const ownIntent = signed(intentMessage(hh));
  rejected(ownIntent, 'read-batch', /sig is an intent signature, not a header signature/, {}, own);
  assert.equal(verifyIntent(ownIntent.proof.header, ownIntent.proof.header.sig, own).ok, true);
  rejected(signed(hh), 'read-batch', /sig is a v1-style signature over the bare hash/, {}, own);
  // A v1 header (§12 encoding and bare-hash signature) with the same fields:
  // valid as v1 history, refused as the header of an answer.
  const v1 = { version: 1, seq: h.seq, smt_root: h.smt_root, prev: h.prev, history_root: h.history_root, time_ms: h.time_ms, schema_hash: h.schema_hash };
  const v1hash = headerHashV1(encodeHeaderV1({ ...v1, smt_root: unhex(v1.smt_root), prev: unhex(v1.prev),
    history_root: unhex(v1.history_root), schema_hash: unhex(v1.schema_hash) }));
  const v1h = { ...v1, header_hash: hex(v1hash), sig: hex(sign(null, v1hash, privateKey)) };
  assert.equal(verifyHeader(v1h, own, { allowV1: true }).ok, true, 'a well-formed v1 header');
  x = clone();
  x.proof.header = v1h;
  rejected(x, 'read-batch', /a v1 header where a v2 header is required/, {}, own);
});

test('concurrent writes and reads with proofs: each verifies against its own header', async () => {
  const writes = Array.from({ length: 12 }, (_, i) => postp('items', 'create-batch', { records: [{ name: `conc${i}`, n: i }], proof: true }));
  const reads = Array.from({ length: 12 }, () => postp('items', 'read-batch', { ids: ['1', '2', '31', 'nope'], proof: true }));
  const ws = await Promise.all(writes);
  const rs = await Promise.all(reads);
  for (const r of ws) {
    const d = ok(r);
    const h = verified(d, 'create-batch', { table: 'items' });
    assert.equal(h.seq, d.meta.seq);
    assert.equal(h.smt_root, d.meta.proposed_root);
  }
  for (const r of rs) verified(ok(r), 'read-batch', { table: 'items', ids: ['1', '2', '31', 'nope'] });
});

// The protocol vectors through the client's protocol layer and its
// conformance entry point: every v1 vector (JCS, numbers, keys, values,
// proofs, multiproofs, v1 headers, history tree), every positive v2 vector
// ok, and every negative v2 vector rejected with the reason code of
// tests/conformance/expected-codes.json.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as P from '../src/protocol.mjs';
import { conformCase } from '../src/conform.mjs';
import { verifyAnswer, verifyHeader, REASON_CODES } from '../src/index.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const load = (f) => JSON.parse(fs.readFileSync(path.join(ROOT, f), 'utf8'));
const V1 = load('docs/vectors/v1.json');
const V2 = load('docs/vectors/v2.json');
const EXPECTED = load('tests/conformance/expected-codes.json');

test('v1: JCS accepts, canonicalises and rejects as the vectors say', () => {
  for (const c of V1.jcs) assert.equal(P.jcs(c.input), c.output, c.name);
  for (const c of V1.jcs_reject) assert.equal(P.jcsAccepts(c.input), false, c.name);
  for (const c of V1.numbers) {
    const d = Buffer.from(c.bits, 'hex').readDoubleBE(0);
    assert.equal(P.numberToString(d), c.output, c.bits);
  }
});

test('v1: row keys and row values', () => {
  for (const c of V1.row_keys) assert.equal(P.hex(P.rowKey(c.table, c.pk)), c.key);
  for (const c of V1.row_values) {
    assert.equal(P.jcs(c.row), c.jcs);
    assert.equal(P.hex(P.rowValue(c.row)), c.value);
    assert.equal(P.hex(P.rowValueOf(JSON.parse(c.row))), c.value);
  }
});

test('v1: proofs and multiproofs', () => {
  for (const t of V1.trees) {
    const R = P.unhex(t.root);
    for (const p of t.proofs) {
      assert.ok(P.verifyProof(R, P.unhex(p.key), p.present ? P.unhex(p.value) : null, P.unhex(p.proof)), `${t.name} ${p.key}`);
      // the opposite claim never verifies
      const other = p.present ? null : Buffer.alloc(32, 1);
      assert.equal(P.verifyProof(R, P.unhex(p.key), other, P.unhex(p.proof)), false);
    }
    for (const m of t.multiproofs || []) {
      const res = P.verifyMulti(R, m.keys.map(P.unhex), P.unhex(m.proof));
      assert.ok(res, `${t.name} multiproof`);
      m.keys.forEach((k, i) => assert.equal(res.get(k) === null ? null : P.hex(res.get(k)), m.present[i] ? m.values[i] : null));
    }
  }
});

test('v1: headers (with allowV1 only) and the history tree', () => {
  for (const h of V1.headers) {
    const j = { version: 1, seq: h.seq, smt_root: h.smt_root, prev: h.prev, history_root: h.history_root, time_ms: h.time_ms,
      schema_hash: h.schema_hash, header_hash: h.header_hash, sig: h.sig };
    assert.equal(verifyHeader(j, h.public_key, { allowV1: true }).ok, true);
    const r = verifyHeader(j, h.public_key);
    assert.equal(r.ok, false);
    assert.equal(r.code, 'BAD_HEADER');
  }
  for (const t of V1.history) {
    const D = t.leaves.map(P.unhex);
    assert.equal(P.hex(P.mth(D)), t.root);
    for (const i of t.inclusion) assert.ok(P.verifyInclusion(D[i.index], i.index, i.size, P.unhex(i.root), i.path.map(P.unhex)));
    for (const c of t.consistency) {
      if (c.old === 0) continue;
      assert.ok(P.verifyConsistency(c.old, c.new, P.unhex(c.old_root), P.unhex(c.new_root), c.proof.map(P.unhex)));
    }
  }
});

const pin = (chainId, opts = {}) => (chainId ? { chainId, ...opts } : { ...opts });

test('v2: row values of the §2.2 mapping (float4, bytea, interval, dates, numeric[], $jsonb)', () => {
  assert.ok(V2.row_values.length > 0);
  for (const c of V2.row_values) {
    assert.equal(P.jcs(c.row), c.jcs, c.name);
    assert.equal(P.hex(P.rowValue(c.row)), c.value, c.name);
  }
});

test('v2: every positive vector verifies (conformCase ok)', async () => {
  const pk = V2.key.public_key;
  const cases = [];
  for (const a of V2.answers) cases.push({ name: a.name, op: 'answer', kind: a.kind, input: a.data, public_key: a.public_key, opts: pin(a.chain_id, a.opts) });
  for (const h of V2.headers) cases.push({ name: `header ${h.seq}`, op: 'header', input: h.json, public_key: pk, opts: pin(h.chain_id) });
  cases.push({ name: 'upper-case hex', op: 'header', input: V2.header_upper_case_hex, public_key: pk, opts: {} });
  for (const h of V2.upgrade.v1_headers) cases.push({ name: `v1 ${h.seq}`, op: 'header', input: h.json, public_key: pk, opts: { allowV1: true } });
  for (const h of V2.upgrade.v2_headers) cases.push({ name: `upgrade ${h.seq}`, op: 'header', input: h.json || h, public_key: pk, opts: pin(V2.upgrade.chain_id) });
  for (const p of [...V2.history_proofs, ...V2.upgrade.history_proofs]) {
    cases.push({ name: `history ${p.from.seq}-${p.to.seq}`, op: 'history', input: p, public_key: pk, opts: pin(p.to.chain_id) });
  }
  for (const c of V2.checkpoints) cases.push({ name: `checkpoint ${c.origin}`, op: 'checkpoint', input: c.note, public_key: pk, opts: { origin: c.origin } });
  V2.json_proofs.forEach((p, i) => cases.push({ name: `proof ${i}`, op: 'proof', input: p.proof, public_key: pk, opts: { root: p.root } }));
  V2.json_multiproofs.forEach((p, i) => cases.push({ name: `multiproof ${i}`, op: 'multiproof', input: p.multiproof, public_key: pk, opts: { root: p.root } }));
  assert.ok(cases.length > 30);
  for (const c of cases) assert.deepEqual(await conformCase(structuredClone(c)), { name: c.name, ok: true, code: null });
});

test('v2: every negative vector gives the code of expected-codes.json', async () => {
  let n = 0;
  for (const v of V2.negative) {
    if (v.type === 'trusted_state') continue;
    const code = EXPECTED[v.name];
    assert.ok(REASON_CODES.includes(code), `expected-codes.json: ${v.name}`);
    const c = { name: v.name, op: v.type, input: v.input, public_key: v.public_key, opts: pin(v.chain_id, v.opts) };
    if (v.type === 'answer') c.kind = v.answer_kind;
    if (v.type === 'proof' || v.type === 'multiproof') c.opts.root = v.root;
    assert.deepEqual(await conformCase(c), { name: v.name, ok: false, code }, v.js_reason);
    n++;
  }
  assert.equal(n, Object.keys(EXPECTED).filter((k) => !k.startsWith('_')).length);
});

test('v2: answer checks use the request (table, ids, limit, order)', () => {
  const a = V2.answers.find((x) => x.name === 'read_batch');
  const pk = a.public_key;
  assert.equal(verifyAnswer(a.data, 'read-batch', pk, { chainId: a.chain_id, ...a.opts }).ok, true);
  assert.equal(verifyAnswer(a.data, 'read-batch', pk, { ...a.opts, table: 'posts' }).code, 'BAD_ANSWER');
  assert.equal(verifyAnswer(a.data, 'read-batch', pk, { ...a.opts, ids: [...a.opts.ids, '77'] }).code, 'BAD_ANSWER');
  assert.equal(verifyAnswer(a.data, 'read-batch', pk, { ...a.opts, chainId: 'ab'.repeat(32) }).code, 'WRONG_CHAIN');
  assert.equal(verifyAnswer(a.data, 'read-batch', V2.other_key.public_key, a.opts).code, 'BAD_SIGNATURE');
  const l = V2.answers.find((x) => x.name === 'read_latest_desc');
  assert.equal(verifyAnswer(l.data, 'read-latest', pk, { ...l.opts, order: 'asc' }).code, 'BAD_ANSWER');
  assert.equal(verifyAnswer(l.data, 'read-latest', pk, { ...l.opts, limit: 4 }).code, 'BAD_ANSWER');
  const bad = structuredClone(a.data);
  delete bad.proof.multiproof;
  assert.equal(verifyAnswer(bad, 'read-batch', pk, a.opts).code, 'BAD_ANSWER');
});

test('v2: transition records (PROTOCOL.md §14.2): keys, values, and a verified answer; every tampering rejected', () => {
  const pk = V2.key.public_key;
  for (const r of V2.transitions.records) {
    assert.equal(P.jcs(JSON.stringify(r.record)), r.record_jcs);
    assert.equal(P.hex(P.transitionKey(r.seq)), r.transition_key);
    assert.equal(P.hex(P.transitionValue(r.record)), r.transition_value);
  }
  const [a] = V2.transitions.answers;
  const ok = P.verifyTransition(a, pk, { chainId: a.header.chain_id });
  assert.equal(ok.ok, true, ok.reason);
  assert.equal(ok.record.kind, 'repair');
  const bad = (what, f, code) => {
    const d = structuredClone(a);
    f(d);
    const r = P.verifyTransition(d, pk);
    assert.equal(r.ok, false, what);
    if (code) assert.equal(r.code, code, `${what}: ${r.reason}`);
  };
  bad('record count changed', (d) => { d.record.count += 1; }, 'BAD_PROOF');
  bad('a change dropped', (d) => { d.record.changes.pop(); }, 'BAD_PROOF');
  bad('record of another seq', (d) => { d.record.seq += 1; }, 'BAD_ANSWER');
  bad('record of another kind', (d) => { d.record.kind = 'clear'; }, 'BAD_ANSWER');
  bad('answer kind differs', (d) => { d.kind = 'migrate'; }, 'BAD_ANSWER');
  bad('header smt_root changed', (d) => { d.header.smt_root = '00'.repeat(32); }, 'BAD_HEADER');
  bad('proof of another key', (d) => { d.proof.key = P.hex(P.transitionKey(a.header.seq + 1)); }, 'BAD_PROOF');
  bad('proof sibling flipped', (d) => { const s = d.proof.siblings[0]; d.proof.siblings[0] = (s[0] === '0' ? '1' : '0') + s.slice(1); }, 'BAD_PROOF');
  bad('no record', (d) => { delete d.record; });
  assert.equal(P.verifyTransition(a, V2.other_key.public_key).code, 'BAD_SIGNATURE');
  assert.equal(P.verifyTransition(a, pk, { chainId: '11'.repeat(32) }).code, 'WRONG_CHAIN');
  // A write header has no record.
  const w = V2.headers.find((h) => h.kind === 'write');
  bad('a write header', (d) => { d.header = w.json; }, 'BAD_ANSWER');
});

// Live conformance (issue 12 item 3): a real `vmdb serve` on a private
// PostgreSQL (tests/integration/lib.mjs), honest answers with "proof": true
// from all five routes plus /api/roots/proof, /api/roots/latest and
// /checkpoint, and the tampered variants of issue 11 derived from them, as
// conformance cases run through both clients' entry points (honest: ok;
// each tampered one: the same code in both). Then each client's VmdbClient
// against the server: every data call resolves verified; one state file
// moves forward across the JS client, the Python client and
// `vmdb verify --state`; a server restored from an older backup is caught
// (ROLLBACK, then FORK once the copy writes) with the state file unchanged;
// a row edited with psql gives VmdbServerError INTEGRITY_VIOLATION.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  BIN, ROOT, startServer, get, post, ok, applySchema, psql, dbUrl, tempDir, sigMessage,
} from '../integration/lib.mjs';
import { verifyAnswer, verifyHeader, verifyHistoryProof, verifyCheckpoint } from '../../clients/js/src/protocol.mjs';
import { LANGS, runCases, runSteps, expected, verdict } from './clients.mjs';

const AGENTS = {
  table_name: 'agents', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'name', col_type: 'text', nullable: false }],
};
const ENV = { BATCH_COMMIT_SIZE: '1' };
const m = (r) => `/api/models/agents/${r}`;
const flipHex = (s, at) => s.slice(0, at) + (parseInt(s[at], 16) ^ 1).toString(16) + s.slice(at + 1);
const clone = (x) => JSON.parse(JSON.stringify(x));

let srv;
let pk;
let chain;
let dir;

before(async () => {
  dir = tempDir('vmdb-conform-');
  srv = await startServer({ env: ENV });
  await applySchema(srv.url, [AGENTS]);
  pk = ok(await get(srv.url, '/api/identity')).public_key;
  chain = ok(await get(srv.url, '/api/roots/latest')).header.chain_id;
});
after(() => srv && srv.stop());

/** Asserts each language gives each case's expectation; one message lists every difference. */
async function expectAll(cases) {
  const want = cases.map(expected);
  for (const lang of LANGS) {
    const got = (await runCases(lang, cases)).map(verdict);
    const diff = got.map((g, i) => [g, want[i]]).filter(([g, w]) => g.ok !== w.ok || g.code !== w.code)
      .map(([g, w]) => `  ${w.name}: expected ${w.ok ? 'ok' : w.code}, got ${g.ok ? 'ok' : g.code}`);
    assert.equal(diff.length, 0, `${lang}: ${diff.length} of ${cases.length} cases differ:\n${diff.join('\n')}`);
  }
}

/** The protocol functions (clients/js/src/protocol.mjs, also scripts/gen-vectors.mjs's verifier) on a case: does it agree on ok / not ok? (checks the suite's own cases) */
function reference(c) {
  const o = c.opts;
  if (c.op === 'answer') return verifyAnswer(c.input, c.kind, c.public_key, o);
  if (c.op === 'header') return verifyHeader(c.input, c.public_key, o);
  if (c.op === 'history') return verifyHistoryProof(c.input, c.public_key, o);
  return verifyCheckpoint(c.input, c.public_key, o);
}

test('live cases: honest answers of every route verify in both clients, every tampered variant fails with the same code', async () => {
  const cases = [];
  const honest = (name, kind, data, opts) => {
    cases.push({ name: `honest:${name}`, op: 'answer', kind, input: data, public_key: pk, opts: { chainId: chain, ...opts }, expect: { ok: true } });
  };
  const bad = (name, kind, data, opts, code) => {
    cases.push({ name: `tampered:${name}`, op: 'answer', kind, input: data, public_key: pk, opts: { chainId: chain, ...opts }, expect: { ok: false, code } });
  };

  const older = ok(await get(srv.url, '/api/roots/latest')).header; // a header of another root
  const c = ok(await post(srv.url, m('create-batch'), { records: Array.from({ length: 8 }, (_, i) => ({ name: `c${i}` })), proof: true }));
  const ids = c.ids.map(String);
  honest('create-batch', 'create-batch', c, { table: 'agents' });
  // A gap for read-latest: the second-newest id deleted (proven absent in the complete answer).
  const gapId = ids[6];
  const d = ok(await post(srv.url, m('delete-batch'), { ids: [gapId, '888888'], proof: true }));
  honest('delete-batch', 'delete-batch', d, { table: 'agents', ids: [gapId, '888888'] });
  const rbIds = [ids[0], ids[2], '999999', 'abc'];
  const rb = ok(await post(srv.url, m('read-batch'), { ids: rbIds, proof: true }));
  honest('read-batch', 'read-batch', rb, { table: 'agents', ids: rbIds });
  // None of the ids has a row: with a proof, 200 and every id proven absent
  // (without one, the seed's 404).
  const noneIds = ['999998', 'xyz', gapId];
  const none = ok(await post(srv.url, m('read-batch'), { ids: noneIds, proof: true }));
  assert.deepEqual([none.records.length, none.proof.absent.length], [0, 3]);
  assert.equal((await post(srv.url, m('read-batch'), { ids: noneIds })).status, 404);
  honest('read-batch, no id has a row', 'read-batch', none, { table: 'agents', ids: noneIds });
  const desc = ok(await post(srv.url, m('read-latest'), { limit: 3, proof: true }));
  assert.equal(desc.complete, true, 'a read-latest by id without where is complete');
  assert.ok(desc.proof.absent.some((e) => e.id === gapId), 'the deleted id is a proven gap');
  honest('read-latest desc', 'read-latest', desc, { table: 'agents', order: 'desc', limit: 3, requireComplete: true });
  const asc = ok(await post(srv.url, m('read-latest'), { limit: 4, order_by: { field: 'id', direction: 'asc' }, proof: true }));
  assert.equal(asc.complete, true);
  honest('read-latest asc', 'read-latest', asc, { table: 'agents', order: 'asc', limit: 4, requireComplete: true });
  const where = ok(await post(srv.url, m('read-latest'), { limit: 3, where: { name: 'c1' }, proof: true }));
  assert.equal(where.complete, false);
  honest('read-latest where (not complete)', 'read-latest', where, { table: 'agents', limit: 3 });
  const up = ok(await post(srv.url, m('upsert'), { records: [{ id: ids[0], name: 'c0b' }, { id: ids[2], name: 'c2b' }], proof: true }));
  honest('upsert', 'upsert', up, { table: 'agents' });

  // Tampered variants of the read-batch answer (issue 11's list).
  const mp = rb.proof.multiproof.proof;
  for (const at of [1, mp.length >> 1, mp.length - 1]) {
    const x = clone(rb);
    x.proof.multiproof.proof = flipHex(mp, at);
    bad(`flipped multiproof bit @${at}`, 'read-batch', x, { table: 'agents', ids: rbIds }, 'BAD_PROOF');
  }
  let x = clone(rb);
  [x.records[0], x.records[1]] = [x.records[1], x.records[0]];
  bad('swapped rows', 'read-batch', x, { table: 'agents', ids: rbIds }, 'BAD_PROOF');
  x = clone(rb);
  x.records[1].name = 'edited';
  bad('edited record', 'read-batch', x, { table: 'agents', ids: rbIds }, 'BAD_PROOF');
  x = clone(rb);
  x.proof.header = older;
  bad('proof for another root (older header pasted in)', 'read-batch', x, { table: 'agents', ids: rbIds }, 'BAD_PROOF');
  const { privateKey } = crypto.generateKeyPairSync('ed25519');
  const otherKeySig = (h) => crypto.sign(null, sigMessage(2, 'committed', Buffer.from(h.header_hash, 'hex')), privateKey).toString('hex');
  x = clone(rb);
  x.proof.header.sig = otherKeySig(x.proof.header);
  bad('header signed by another key', 'read-batch', x, { table: 'agents', ids: rbIds }, 'BAD_SIGNATURE');
  x = clone(rb);
  x.proof.header.sig = await psql(srv.db, `SELECT encode(sig, 'hex') FROM vmdb_headers WHERE seq = ${rb.proof.header.seq}`);
  assert.match(x.proof.header.sig, /^[0-9a-f]{128}$/);
  bad('intent signature from vmdb_headers', 'read-batch', x, { table: 'agents', ids: rbIds }, 'BAD_SIGNATURE');
  bad('another table requested', 'read-batch', rb, { table: 'other', ids: rbIds }, 'BAD_ANSWER');
  bad('a requested id neither present nor absent', 'read-batch', rb, { table: 'agents', ids: [...rbIds, '424242'] }, 'BAD_ANSWER');
  // The same on the write answers: a flipped bit, another key, the intent signature.
  for (const [kind, data, opts] of [['create-batch', c, { table: 'agents' }], ['upsert', up, { table: 'agents' }], ['delete-batch', d, { table: 'agents', ids: [gapId, '888888'] }]]) {
    x = clone(data);
    x.proof.multiproof.proof = flipHex(x.proof.multiproof.proof, 1);
    bad(`${kind}: flipped multiproof bit`, kind, x, opts, 'BAD_PROOF');
    x = clone(data);
    x.proof.header.sig = otherKeySig(x.proof.header);
    bad(`${kind}: another key`, kind, x, opts, 'BAD_SIGNATURE');
    x = clone(data);
    x.proof.header.sig = await psql(srv.db, `SELECT encode(sig, 'hex') FROM vmdb_headers WHERE seq = ${data.proof.header.seq}`);
    bad(`${kind}: intent signature`, kind, x, opts, 'BAD_SIGNATURE');
  }
  x = clone(none);
  x.missing = x.missing.filter((id) => id !== gapId);
  x.proof.absent = x.proof.absent.filter((e) => e.id !== gapId);
  bad('read-batch, no id has a row: one requested id dropped', 'read-batch', x, { table: 'agents', ids: noneIds }, 'BAD_PROOF');
  x = clone(none);
  x.proof.multiproof.proof = flipHex(x.proof.multiproof.proof, 3);
  bad('read-batch, no id has a row: flipped multiproof bit', 'read-batch', x, { table: 'agents', ids: noneIds }, 'BAD_PROOF');
  x = clone(d);
  x.proof.absent = x.proof.absent.filter((e) => e.id !== '888888');
  bad('delete-batch: a missing id not proven absent', 'delete-batch', x, { table: 'agents', ids: [gapId, '888888'] }, 'BAD_PROOF');
  // An incomplete read-latest: the gap id dropped from absent, nothing
  // rebuilt. §9 step 2 (the multiproof's keys are exactly present + absent +
  // range) comes before §10's gap check, so this is BAD_PROOF; INCOMPLETE
  // needs a rebuilt multiproof (the vectors latest_incomplete_* have one).
  x = clone(desc);
  x.proof.absent = x.proof.absent.filter((e) => e.id !== gapId);
  bad('read-latest: gap id dropped from absent (multiproof not rebuilt)', 'read-latest', x, { table: 'agents', order: 'desc', limit: 3, requireComplete: true }, 'BAD_PROOF');
  x = clone(desc);
  x.proof.complete.limit = 4;
  bad('read-latest: complete.limit inflated', 'read-latest', x, { table: 'agents', order: 'desc', limit: 3, requireComplete: true }, 'BAD_ANSWER');
  bad('read-latest: requireComplete on an answer with where', 'read-latest', where, { table: 'agents', limit: 3, requireComplete: true }, 'INCOMPLETE');
  // proof.complete removed: the range key is still in the multiproof, so
  // §9 step 2 fails first (BAD_PROOF; the vector
  // latest_complete_flag_without_proof has a rebuilt multiproof: INCOMPLETE).
  x = clone(desc);
  x.complete = true;
  delete x.proof.complete;
  bad('read-latest: data.complete without proof.complete (multiproof not rebuilt)', 'read-latest', x, { table: 'agents', order: 'desc', limit: 3 }, 'BAD_PROOF');

  // Another chain under the same key: a second server on a fresh database
  // with VMDB_IDENTITY_KEY pointing at the first one's key.
  const b = await startServer({ env: { ...ENV, VMDB_IDENTITY_KEY: path.join(srv.dataDir, 'identity.json') } });
  try {
    assert.equal(ok(await get(b.url, '/api/identity')).public_key, pk, 'the same identity');
    await applySchema(b.url, [AGENTS]);
    const bc = ok(await post(b.url, m('create-batch'), { records: [{ name: 'b1' }], proof: true }));
    assert.notEqual(bc.proof.header.chain_id, chain);
    bad('header of another chain (same key, fresh database)', 'create-batch', bc, { table: 'agents' }, 'WRONG_CHAIN');
    x = clone(rb);
    x.proof.header = bc.proof.header;
    bad('read-batch with the header of another chain', 'read-batch', x, { table: 'agents', ids: rbIds }, 'WRONG_CHAIN');
    const bl = ok(await get(b.url, '/api/roots/latest')).header;
    cases.push({ name: 'tampered:header of another chain', op: 'header', input: bl, public_key: pk, opts: { chainId: chain }, expect: { ok: false, code: 'WRONG_CHAIN' } });
  } finally {
    await b.stop();
  }

  // Headers, history proofs, checkpoint.
  const latest = ok(await get(srv.url, '/api/roots/latest')).header;
  cases.push({ name: 'honest:header /api/roots/latest', op: 'header', input: latest, public_key: pk, opts: { chainId: chain }, expect: { ok: true } });
  let h = clone(latest);
  h.sig = otherKeySig(h);
  cases.push({ name: 'tampered:header signed by another key', op: 'header', input: h, public_key: pk, opts: { chainId: chain }, expect: { ok: false, code: 'BAD_SIGNATURE' } });
  h = clone(latest);
  h.smt_root = flipHex(h.smt_root, 3);
  cases.push({ name: 'tampered:header field changed', op: 'header', input: h, public_key: pk, opts: { chainId: chain }, expect: { ok: false, code: 'BAD_HEADER' } });
  // Without header_hash (§6.1 lets a header leave it out) a changed field
  // and another key's signature look the same to a verifier: the signature
  // does not cover the hash recomputed from the fields. Both are
  // BAD_SIGNATURE (as the vector header_field_changed).
  h = clone(latest);
  delete h.header_hash;
  h.smt_root = flipHex(h.smt_root, 3);
  cases.push({ name: 'tampered:header field changed, no header_hash', op: 'header', input: h, public_key: pk, opts: { chainId: chain }, expect: { ok: false, code: 'BAD_SIGNATURE' } });
  h = clone(latest);
  h.sig = otherKeySig(h);
  delete h.header_hash;
  cases.push({ name: 'tampered:header signed by another key, no header_hash', op: 'header', input: h, public_key: pk, opts: { chainId: chain }, expect: { ok: false, code: 'BAD_SIGNATURE' } });
  const hp = ok(await get(srv.url, `/api/roots/proof?from=${older.seq}&to=${latest.seq}`));
  cases.push({ name: 'honest:history proof', op: 'history', input: hp, public_key: pk, opts: { chainId: chain, trustedHash: older.header_hash }, expect: { ok: true } });
  const hp0 = ok(await get(srv.url, `/api/roots/proof?from=1&to=${latest.seq}`));
  cases.push({ name: 'honest:history proof from 1', op: 'history', input: hp0, public_key: pk, opts: { chainId: chain }, expect: { ok: true } });
  let y = clone(hp);
  y.inclusion[0] = flipHex(y.inclusion[0], 5);
  cases.push({ name: 'tampered:history inclusion bit', op: 'history', input: y, public_key: pk, opts: { chainId: chain }, expect: { ok: false, code: 'FORK' } });
  cases.push({ name: 'tampered:history from another trusted header', op: 'history', input: hp, public_key: pk, opts: { chainId: chain, trustedHash: latest.prev }, expect: { ok: false, code: 'FORK' } });
  const cp = await get(srv.url, '/checkpoint');
  assert.equal(cp.status, 200, cp.text);
  cases.push({ name: 'honest:checkpoint', op: 'checkpoint', input: cp.text, public_key: pk, opts: {}, expect: { ok: true } });
  const cpLines = cp.text.split('\n');
  cpLines[1] = String(Number(cpLines[1]) + 1);
  cases.push({ name: 'tampered:checkpoint size changed', op: 'checkpoint', input: cpLines.join('\n'), public_key: pk, opts: {}, expect: { ok: false, code: 'BAD_SIGNATURE' } });

  // The suite's own check: the protocol functions agree on ok / not ok.
  for (const k of cases) {
    const r = reference(k);
    assert.equal(r.ok, k.expect.ok, `reference verifier on ${k.name}: ${r.reason}`);
  }
  for (const k of cases) if (!k.expect.ok) assert.ok(k.expect.code);
  fs.writeFileSync(path.join(dir, 'live-cases.json'), JSON.stringify(cases));
  await expectAll(cases);
});

// ---------------------------------------------------------------------------
// live client runs
// ---------------------------------------------------------------------------

const verifyCli = (args) => spawnSync(BIN, ['verify', ...args], { encoding: 'utf8', timeout: 60_000 });
const stateSeq = (f) => JSON.parse(fs.readFileSync(f, 'utf8')).header.seq;

/** The five data calls; every outcome must be ok. */
function dataSteps(tag) {
  return [
    { op: 'createBatch', model: 'agents', records: [{ name: `${tag}-1` }, { name: `${tag}-2` }, { name: `${tag}-3` }] },
    { op: 'readBatch', model: 'agents', ids: ['1', '2', '999999', 'abc'] },
    { op: 'readBatch', model: 'agents', ids: ['999997', 'abc'] },
    { op: 'readLatest', model: 'agents', limit: 5, requireComplete: true },
    { op: 'upsert', model: 'agents', records: [{ id: '1', name: `${tag}-up` }] },
    { op: 'deleteBatch', model: 'agents', ids: ['777777'] },
    { op: 'sync' },
    // Above the server's cap (100): the answer proves the capped limit.
    { op: 'readLatest', model: 'agents', limit: 200 },
  ];
}

function assertAllOk(lang, outs, steps) {
  outs.forEach((o, i) => assert.equal(o.ok, true, `${lang} ${steps[i].op}: ${JSON.stringify(o).slice(0, 800)}`));
}

test('live client runs: both VmdbClients verify every call; one state file moves forward across JS, Python and vmdb verify --state', async () => {
  const st = path.join(dir, 'shared-state.json');
  let last = -1;
  for (const lang of LANGS) {
    for (const round of [1, 2]) {
      const steps = dataSteps(`${lang}${round}`);
      const outs = await runSteps(lang, { url: srv.url, publicKey: pk, state: st }, steps);
      assertAllOk(lang, outs, steps);
      assert.equal(outs[0].ids.length, 3);
      assert.equal(outs[3].complete, true, `${lang}: readLatest with requireComplete is complete`);
      assert.deepEqual([outs[2].records.length, outs[2].missing.length], [0, 2], `${lang}: no id has a row: proven absent`);
      assert.deepEqual(outs[1].missing.slice().sort(), ['999999', 'abc']);
      const s = stateSeq(st);
      assert.ok(s > last, `${lang}: the state moved forward (${last} -> ${s})`);
      assert.equal(fs.statSync(st).mode & 0o777, 0o600, 'state file mode 0600');
      const saved = JSON.parse(fs.readFileSync(st, 'utf8'));
      assert.equal(saved.public_key, pk);
      assert.equal(saved.chain_id, chain);
      last = s;
      // The CLI takes the same file over: a newer /api/roots/latest, linked by the server.
      ok(await post(srv.url, m('create-batch'), { records: [{ name: `cli-${lang}${round}` }] }));
      const lf = path.join(dir, `latest-${lang}${round}.json`);
      fs.writeFileSync(lf, (await get(srv.url, '/api/roots/latest')).text);
      const v = verifyCli([lf, '--state', st, '--server', srv.url]);
      assert.equal(v.status, 0, `vmdb verify --state after ${lang}: ${v.stderr}`);
      assert.ok(stateSeq(st) > last, 'vmdb verify moved the state forward');
      last = stateSeq(st);
    }
  }
});

test('live client runs: a server restored from an older backup gives ROLLBACK, then FORK once it writes; a row edited with psql gives INTEGRITY_VIOLATION', async () => {
  // The backup: the database (CREATE DATABASE ... TEMPLATE) and the data
  // directory, copied while the server is stopped.
  await srv.stop();
  const dbName = new URL(srv.db).pathname.slice(1);
  const backupDb = dbUrl(srv.db, `${dbName}_bak`);
  await psql(dbUrl(srv.db, 'postgres'), `CREATE DATABASE "${dbName}_bak" TEMPLATE "${dbName}"`);
  const backupDir = tempDir('vmdb-conform-backup-');
  fs.cpSync(srv.dataDir, backupDir, { recursive: true });
  fs.chmodSync(backupDir, 0o700);
  srv = await startServer({ db: srv.db, dataDir: srv.dataDir, env: ENV });
  const states = {};
  for (const lang of LANGS) {
    states[lang] = path.join(dir, `rollback-${lang}.json`);
    const steps = [...dataSteps(`newer-${lang}`), { op: 'createBatch', model: 'agents', records: [{ name: `newer2-${lang}` }] }];
    const outs = await runSteps(lang, { url: srv.url, publicKey: pk, state: states[lang] }, steps);
    assertAllOk(lang, outs, steps);
  }
  const newest = ok(await get(srv.url, '/api/roots/latest')).header.seq;

  const restored = await startServer({ db: backupDb, dataDir: backupDir, env: ENV });
  try {
    const before = Object.fromEntries(LANGS.map((l) => [l, fs.readFileSync(states[l], 'utf8')]));
    const probe = [{ op: 'readBatch', model: 'agents', ids: ['1'] }, { op: 'sync' }];
    for (const lang of LANGS) {
      const outs = await runSteps(lang, { url: restored.url, publicKey: pk, state: states[lang] }, probe);
      for (const [i, o] of outs.entries()) {
        assert.equal(o.ok, false, `${lang} ${probe[i].op} on the restored server must fail`);
        assert.equal(o.error, 'VerificationError', `${lang} ${probe[i].op}: ${o.message}`);
        assert.equal(o.code, 'ROLLBACK', `${lang} ${probe[i].op}: ${o.message}`);
      }
      assert.equal(fs.readFileSync(states[lang], 'utf8'), before[lang], `${lang}: the state file is unchanged`);
    }
    // The copy writes past the newest header the clients saw: another history.
    while (ok(await get(restored.url, '/api/roots/latest')).header.seq <= newest) {
      ok(await post(restored.url, m('create-batch'), { records: [{ name: 'fork' }] }));
    }
    for (const lang of LANGS) {
      const outs = await runSteps(lang, { url: restored.url, publicKey: pk, state: states[lang] }, probe);
      for (const [i, o] of outs.entries()) {
        assert.equal(o.ok, false, `${lang} ${probe[i].op} on the forked copy must fail`);
        assert.equal(o.code, 'FORK', `${lang} ${probe[i].op}: ${o.message}`);
      }
      assert.equal(fs.readFileSync(states[lang], 'utf8'), before[lang], `${lang}: the state file is unchanged`);
    }
  } finally {
    await restored.stop();
  }

  // A row edited behind vmdb's back: the server refuses it, both clients say so.
  await psql(srv.db, "UPDATE agents SET name = 'evil' WHERE id = 2");
  for (const lang of LANGS) {
    const outs = await runSteps(lang, { url: srv.url, publicKey: pk, state: states[lang] }, [{ op: 'readBatch', model: 'agents', ids: ['2'] }]);
    assert.equal(outs[0].ok, false, `${lang}: an edited row is not returned`);
    assert.equal(outs[0].error, 'VmdbServerError', `${lang}: ${outs[0].message}`);
    assert.equal(outs[0].code, 'INTEGRITY_VIOLATION', `${lang}: ${outs[0].message}`);
    assert.equal(outs[0].status, 400);
  }
});

test('live client runs: a server that hides the newest row (test build) gives INCOMPLETE in both clients', async (t) => {
  // VMDB_HOOK_BIN: a build with VMDB_TEST_HOOKS (scripts/test.sh passes the
  // ASan build); the release build has no way to make a server lie.
  const hookBin = process.env.VMDB_HOOK_BIN && path.resolve(ROOT, process.env.VMDB_HOOK_BIN);
  if (!hookBin) {
    t.skip('VMDB_HOOK_BIN (a VMDB_TEST_HOOKS build) is not set');
    return;
  }
  const liar = await startServer({ bin: hookBin, env: { ...ENV, VMDB_TEST_HIDE_LATEST_ROW: '1' } });
  try {
    await applySchema(liar.url, [AGENTS]);
    const lpk = ok(await get(liar.url, '/api/identity')).public_key;
    ok(await post(liar.url, m('create-batch'), { records: [1, 2, 3, 4, 5].map((i) => ({ name: `l${i}` })) }));
    for (const lang of LANGS) {
      const steps = [
        { op: 'readLatest', model: 'agents', limit: 10, requireComplete: true },
        { op: 'readLatest', model: 'agents', limit: 10 },
      ];
      const outs = await runSteps(lang, { url: liar.url, publicKey: lpk }, steps);
      for (const [i, o] of outs.entries()) {
        assert.equal(o.ok, false, `${lang} ${JSON.stringify(steps[i])}: the hidden row must be caught`);
        assert.equal(o.error, 'VerificationError', `${lang}: ${o.message}`);
        assert.equal(o.code, 'INCOMPLETE', `${lang}: ${o.message}`);
      }
    }
  } finally {
    await liar.stop();
  }
});

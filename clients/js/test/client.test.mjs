// VmdbClient against a fake server (a fetch function) that serves the
// signed headers and answers of docs/vectors/v2.json, with history proofs
// computed from that chain: proofs requested on every call, the state file
// (format, mode, round trip), linking on seq changes, ROLLBACK and FORK,
// the pins, server errors, tampered answers.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as P from '../src/protocol.mjs';
import { VmdbClient, VerificationError, VmdbServerError, MemoryStateStore } from '../src/index.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const V2 = JSON.parse(fs.readFileSync(path.join(ROOT, 'docs/vectors/v2.json'), 'utf8'));
const PK = V2.key.public_key;
const CHAIN = V2.chain_id.nonce[0].chain_id;
const H = V2.headers.filter((h) => h.kind !== 'upgrade').map((h) => h.json); // seq 0..6 of one chain
const D = H.map((h) => P.unhex(h.header_hash));
const FORKED3 = V2.negative.find((n) => n.name === 'history_fork').input.to;

// RFC 9162 audit paths and consistency proofs over the chain's header hashes.
const split = (n) => { let k = 1; while (k * 2 < n) k *= 2; return k; };
function path_(m, d) {
  if (d.length <= 1) return [];
  const k = split(d.length);
  return m < k ? [...path_(m, d.slice(0, k)), P.mth(d.slice(k))] : [...path_(m - k, d.slice(k)), P.mth(d.slice(0, k))];
}
function subproof(m, d, b) {
  if (m === d.length) return b ? [] : [P.mth(d)];
  const k = split(d.length);
  return m <= k ? [...subproof(m, d.slice(0, k), b), P.mth(d.slice(k))] : [...subproof(m - k, d.slice(k), false), P.mth(d.slice(0, k))];
}
function historyProof(a, b) {
  const d = D.slice(0, b);
  return { from: H[a], to: H[b], inclusion: a === b ? [] : path_(a, d).map(P.hex), consistency: a === 0 || a === b ? [] : subproof(a, d, true).map(P.hex) };
}
test('the fake server\'s history proofs verify', () => {
  for (let a = 0; a <= 6; a++) for (let b = a; b <= 6; b++) assert.equal(P.verifyHistoryProof(historyProof(a, b), PK).ok, true, `${a}-${b}`);
});

/** A fake vmdb: `srv.latest` is the header /api/roots/latest answers, `srv.newest` the newest seq it can prove to. */
function fakeServer() {
  const srv = { latest: H[2], newest: 6, requests: [], answers: {}, proof: null };
  const envelope = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  srv.fetch = async (url, init = {}) => {
    const u = new URL(url);
    const body = init.body ? JSON.parse(init.body) : undefined;
    srv.requests.push({ method: init.method, path: u.pathname + u.search, body, headers: init.headers });
    if (u.pathname === '/api/roots/latest') return envelope(200, { success: true, data: { anchor: 'local', anchored: null, backlog: 0, header: srv.latest, public_key: PK } });
    if (u.pathname === '/api/roots/proof') {
      const a = Number(u.searchParams.get('from')), b = Number(u.searchParams.get('to'));
      if (!(a <= b && b <= srv.newest)) return envelope(400, { success: false, error: 'from and to must satisfy from <= to <= newest', code: 'INVALID_RANGE' });
      return envelope(200, { success: true, data: srv.proof ? srv.proof(a, b) : historyProof(a, b) });
    }
    const m = /^\/api\/models\/([^/]+)\/([a-z-]+)$/.exec(u.pathname);
    if (m && srv.answers[m[2]]) {
      const a = srv.answers[m[2]];
      return typeof a === 'function' ? a(body) : envelope(200, { success: true, data: structuredClone(a) });
    }
    return envelope(404, { success: false, error: 'no such route', code: 'ROUTE_NOT_FOUND' });
  };
  return srv;
}
const answer = (name) => V2.answers.find((a) => a.name === name).data;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'vmdb-client-js-'));

async function rejects(p, code) {
  await assert.rejects(p, (e) => { assert.ok(e instanceof VerificationError, String(e)); assert.equal(e.code, code, e.message); return true; });
}

test('state file: pinned on first use, vmdb verify --state format, mode 0600, atomic, reloaded', async () => {
  const dir = tmp();
  const file = path.join(dir, 'state.json');
  const srv = fakeServer();
  const db = new VmdbClient({ url: 'http://vmdb.test/', publicKey: PK, state: file, fetch: srv.fetch });
  const h = await db.sync();
  assert.equal(h.seq, 2);
  const text = fs.readFileSync(file, 'utf8');
  const s = JSON.parse(text);
  assert.deepEqual(Object.keys(s), ['chain_id', 'header', 'public_key', 'version']);
  assert.equal(s.chain_id, CHAIN);
  assert.equal(s.public_key, PK);
  assert.equal(s.version, 1);
  assert.deepEqual(s.header, H[2]);
  assert.ok(text.endsWith('}\n'));
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.deepEqual(fs.readdirSync(dir), ['state.json']); // no temporary file left
  // a new client on the same file starts from seq 2 and links forward to 5
  srv.latest = H[5];
  const db2 = new VmdbClient({ url: 'http://vmdb.test', publicKey: PK, state: file, fetch: srv.fetch });
  assert.equal((await db2.sync()).seq, 5);
  assert.ok(srv.requests.some((r) => r.path === '/api/roots/proof?from=2&to=5'));
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).header.seq, 5);
  // a state for another key is a usage error; another configured chain is WRONG_CHAIN
  const other = new VmdbClient({ url: 'http://vmdb.test', publicKey: V2.other_key.public_key, state: file, fetch: srv.fetch });
  await assert.rejects(other.sync(), (e) => !(e instanceof VerificationError) && /another public key/.test(e.message));
  const wrong = new VmdbClient({ url: 'http://vmdb.test', publicKey: PK, chainId: 'ab'.repeat(32), state: file, fetch: srv.fetch });
  await rejects(wrong.sync(), 'WRONG_CHAIN');
  fs.rmSync(dir, { recursive: true });
});

test('data calls send proof: true and the api key, verify, and move the state', async () => {
  const srv = fakeServer();
  srv.answers['read-batch'] = answer('read_batch'); // seq 3
  srv.answers['read-latest'] = answer('read_latest_desc'); // seq 3
  srv.answers['delete-batch'] = answer('delete_batch'); // seq 3
  srv.answers['create-batch'] = answer('create_batch'); // seq 2
  const store = new MemoryStateStore();
  const db = new VmdbClient({ url: 'http://vmdb.test', publicKey: PK, state: store, apiKey: 'sekrit', fetch: srv.fetch });
  await db.sync(); // seq 2
  const c = await db.createBatch('users', [{ name: 'x' }]);
  assert.equal(c.header.seq, 2);
  const r = await db.readBatch('Users', ['5', '3', '99', 'abc', '9']);
  assert.deepEqual(r.ids, ['5', '3']);
  assert.deepEqual(r.missing, answer('read_batch').missing);
  assert.equal(r.header.seq, 3);
  assert.equal(store.state.header.seq, 3);
  const l = await db.readLatest('users', { limit: 5, requireComplete: true });
  assert.equal(l.complete, true);
  assert.equal(l.records.length, answer('read_latest_desc').records.length);
  const d = await db.deleteBatch('users', ['9', '10', '100']);
  assert.deepEqual(d.ids, answer('delete_batch').ids);
  for (const q of srv.requests.filter((x) => x.method === 'POST')) {
    assert.equal(q.body.proof, true);
    assert.equal(q.headers.authorization, 'Bearer sekrit');
  }
  assert.deepEqual(srv.requests.filter((x) => x.path.startsWith('/api/roots/proof')).map((x) => x.path), ['/api/roots/proof?from=2&to=3']);
  // the request is part of the check: another table, another id, another limit
  await rejects(db.readBatch('posts', ['5']), 'BAD_ANSWER');
  await rejects(db.readBatch('users', ['5', '3', '99', 'abc', '9', '11']), 'BAD_ANSWER');
  await rejects(db.readLatest('users', { limit: 6 }), 'BAD_ANSWER');
  // an older answer (seq 2) while holding seq 3: linked, the state stays at 3
  await db.createBatch('users', [{ name: 'y' }]);
  assert.equal(store.state.header.seq, 3);
});

test('tampered answers: VerificationError with the reason code, state unchanged', async () => {
  const srv = fakeServer();
  const db = new VmdbClient({ url: 'http://vmdb.test', publicKey: PK, fetch: srv.fetch });
  await db.sync();
  const edited = answer('read_batch');
  edited.records[0].name = 'mallory';
  srv.answers['read-batch'] = edited;
  await rejects(db.readBatch('users', ['5', '3', '99', 'abc', '9']), 'BAD_PROOF');
  srv.answers['read-latest'] = answer('read_latest_incomplete_flag');
  await rejects(db.readLatest('users', { requireComplete: true }), 'INCOMPLETE');
  srv.answers['read-batch'] = () => new Response('{"success":true,"data":{"ids":[],"ids":[]}}', { status: 200 });
  await rejects(db.readBatch('users', ['1']), 'BAD_ANSWER');
  srv.answers['read-batch'] = () => new Response('<html>', { status: 200 });
  await rejects(db.readBatch('users', ['1']), 'BAD_ANSWER');
  assert.equal((await db.state()).header.seq, 2);
});

test('server errors are VmdbServerError with status, code, message, data', async () => {
  const srv = fakeServer();
  srv.answers['read-batch'] = () => new Response(JSON.stringify({ success: false, error: 'none of the ids has a row', code: 'NOT_FOUND', data: { x: 1 } }), { status: 404 });
  const db = new VmdbClient({ url: 'http://vmdb.test', publicKey: PK, fetch: srv.fetch });
  await assert.rejects(db.readBatch('users', ['77']), (e) => {
    assert.ok(e instanceof VmdbServerError);
    assert.equal(e.status, 404);
    assert.equal(e.code, 'NOT_FOUND');
    assert.equal(e.message, 'none of the ids has a row');
    assert.deepEqual(e.data, { x: 1 });
    return true;
  });
});

test('ROLLBACK: a server restored from an older backup', async () => {
  const srv = fakeServer();
  const db = new VmdbClient({ url: 'http://vmdb.test', publicKey: PK, fetch: srv.fetch });
  srv.latest = H[6];
  await db.sync();
  // the backup knows headers up to 4 only: it cannot prove 4 -> 6
  srv.latest = H[4];
  srv.newest = 4;
  await rejects(db.sync(), 'ROLLBACK');
  // a server that sends a proof that does not verify for an older header
  srv.newest = 6;
  srv.proof = (a, b) => ({ ...historyProof(a, b), inclusion: [] });
  await rejects(db.sync(), 'ROLLBACK');
  // an honest server answering with an older header: fine, the state stays at 6
  srv.proof = null;
  assert.equal((await db.sync()).seq, 4);
  assert.equal((await db.state()).header.seq, 6);
});

test('FORK: two headers for one seq, or a newer header that does not extend the saved one', async () => {
  const srv = fakeServer();
  const db = new VmdbClient({ url: 'http://vmdb.test', publicKey: PK, fetch: srv.fetch });
  srv.latest = H[3];
  await db.sync();
  srv.latest = FORKED3;
  await rejects(db.sync(), 'FORK');
  srv.latest = H[5];
  srv.proof = (a, b) => ({ ...historyProof(a, b), consistency: historyProof(a, b).consistency.slice(1) });
  await rejects(db.sync(), 'FORK');
  srv.proof = (a, b) => historyProof(a === 3 ? 2 : a, b); // a proof from another header than the saved one
  await rejects(db.sync(), 'FORK');
  assert.equal((await db.state()).header.seq, 3);
  srv.proof = null;
  assert.equal((await db.sync()).seq, 5);
});

test('a configured chainId is pinned; a header of another chain is WRONG_CHAIN', async () => {
  const srv = fakeServer();
  srv.latest = V2.headers.find((h) => h.kind === 'upgrade').json; // another chain, same key
  const db = new VmdbClient({ url: 'http://vmdb.test', publicKey: PK, chainId: CHAIN, fetch: srv.fetch });
  await rejects(db.sync(), 'WRONG_CHAIN');
  const db2 = new VmdbClient({ url: 'http://vmdb.test', publicKey: PK, fetch: srv.fetch });
  srv.latest = H[2];
  await db2.sync();
  srv.latest = V2.headers.find((h) => h.kind === 'upgrade').json;
  await rejects(db2.sync(), 'WRONG_CHAIN'); // pinned from the first header
});

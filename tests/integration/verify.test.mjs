// `vmdb verify` against real servers (PROTOCOL.md §11): a saved
// /api/roots/latest answer, a /checkpoint note (also checked here with
// node:crypto alone, as any C2SP verifier would) and a /api/roots/proof
// answer verify with the public key; tampered ones and a wrong key do not;
// --state pins the key and chain id and moves forward across writes, linked
// by history proofs from --server or --history; and a state file holding a
// newer header than a server restored from an older backup (the database
// copied with CREATE DATABASE ... TEMPLATE and the data directory copied
// while the server was stopped) is rejected as a rollback or fork, leaving
// the state file as it was. Answers with "proof": true (§9) from all five
// routes verify, from a file, stdin or with the key fetched from the
// server; every tampered variant (a flipped multiproof bit, swapped or
// edited records, the header of another answer, of another chain, signed by
// another key or with the intent signature) fails with its own reason, and
// a state pinned on one server refuses another chain under the same key.
// What depends on the request (--table, --ids, --limit, --order,
// --require-complete) is checked when given: an honest answer passes, an
// answer to another question (an id left out of both records and missing,
// a smaller limit, the other order, another table) fails with its reason;
// without them the ok line names what was not checked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import {
  BIN, startServer, get, post, ok, applySchema, psql, dbUrl, tempDir, sigMessage,
} from './lib.mjs';

const AGENTS = {
  table_name: 'agents', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'name', col_type: 'text', nullable: false }],
};

let srv;
let pk;
let dir;
let n = 0;

const verify = (args, input) => {
  const r = spawnSync(BIN, ['verify', ...args], { input, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const save = (name, text) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};
const write = async (url) => ok(await post(url, '/api/models/agents/create-batch',
  { records: [{ name: `a${++n}` }] }));
const latest = async (url) => {
  const r = await get(url, '/api/roots/latest');
  assert.equal(r.status, 200, r.text);
  return r;
};

before(async () => {
  dir = tempDir('vmdb-verify-');
  srv = await startServer({ env: { BATCH_COMMIT_SIZE: '1' } });
  await applySchema(srv.url, [AGENTS]);
  await write(srv.url);
  await write(srv.url);
  pk = (await get(srv.url, '/api/identity')).json.data.public_key;
});
after(async () => { if (srv) await srv.stop(); });

test('a saved /api/roots/latest answer verifies with the public key; a tampered one does not', async () => {
  const r = await latest(srv.url);
  const f = save('latest.json', r.text);
  let v = verify([f, '--public-key', pk]);
  assert.equal(v.code, 0, v.err);
  assert.match(v.out, new RegExp(`^ok: header ${r.json.data.header.seq} \\(write\\)`));
  // stdin, and the key fetched from the server (with a warning).
  v = verify(['-', '--identity-from', srv.url], r.text);
  assert.equal(v.code, 0, v.err);
  assert.match(v.err, /warning: trusting the public key/);

  const h = r.json.data.header;
  const flip = (s) => (s[0] === '0' ? '1' : '0') + s.slice(1);
  v = verify(['-', '--public-key', pk], JSON.stringify({ ...h, smt_root: flip(h.smt_root) }));
  assert.equal(v.code, 1);
  assert.match(v.err, /header_hash does not match its fields/);
  v = verify(['-', '--public-key', pk], JSON.stringify({ ...h, sig: flip(h.sig) }));
  assert.equal(v.code, 1);
  assert.match(v.err, /header signature invalid/);
  v = verify([f, '--public-key', crypto.randomBytes(32).toString('hex')]);
  assert.equal(v.code, 1);
  assert.match(v.err, /header signature invalid/);
  v = verify([f, '--public-key', pk, '--chain-id', 'ab'.repeat(32)]);
  assert.equal(v.code, 1);
  assert.match(v.err, /chain_id differs from the pinned one/);
  v = verify([f, '--public-key', pk, '--chain-id', h.chain_id]);
  assert.equal(v.code, 0, v.err);
  // Strict JSON: a duplicate member, a short hex string.
  v = verify(['-', '--public-key', pk], r.text.replace('{"anchor"', '{"anchor":"x","anchor"'));
  assert.equal(v.code, 1);
  assert.match(v.err, /not strict JSON/);
  v = verify(['-', '--public-key', pk], JSON.stringify({ ...h, prev: h.prev.slice(2) }));
  assert.equal(v.code, 1);
  assert.match(v.err, /prev: not 64 hex digits/);
  // Usage errors.
  for (const args of [[f], [f, '--public-key', 'xyz'], [f, '--public-key', pk, '--bogus'],
    [f, '--public-key', pk, '--identity-from', srv.url]]) {
    assert.equal(verify(args).code, 2, args.join(' '));
  }
});

test('GET /checkpoint: a C2SP signed note that node:crypto and vmdb verify both accept', async () => {
  const r = await get(srv.url, '/checkpoint');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
  const id = (await get(srv.url, '/api/identity')).json.data;
  const origin = `vmdb/${id.address}`;
  // text, blank line, one signature line: "— <name> <base64(keyid || sig)>".
  const cut = r.text.lastIndexOf('\n\n');
  const text = r.text.slice(0, cut + 1);
  const sigLines = r.text.slice(cut + 2).split('\n');
  assert.deepEqual(sigLines.slice(1), ['']);
  const lines = text.split('\n');
  assert.equal(lines.length, 4);
  assert.equal(lines[0], origin);
  const head = (await latest(srv.url)).json.data.header;
  assert.equal(lines[1], String(head.seq + 1));
  assert.equal(Buffer.from(lines[2], 'base64').length, 32);
  const m = sigLines[0].match(/^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/);
  assert.ok(m, sigLines[0]);
  assert.equal(m[1], origin);
  const blob = Buffer.from(m[2], 'base64');
  assert.equal(blob.length, 68);
  const pub = Buffer.from(pk, 'hex');
  const keyId = crypto.createHash('sha256')
    .update(Buffer.concat([Buffer.from(origin), Buffer.from([0x0a, 0x01]), pub])).digest().subarray(0, 4);
  assert.deepEqual(blob.subarray(0, 4), keyId);
  const key = crypto.createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), pub]), format: 'der', type: 'spki',
  });
  assert.ok(crypto.verify(null, Buffer.from(text, 'utf8'), key, blob.subarray(4)), 'Ed25519 signature of the note text');
  // The root is the history tree over headers 0..N-1: the history_root of
  // header N once it exists.
  await write(srv.url);
  const next = (await latest(srv.url)).json.data.header;
  assert.equal(next.seq, head.seq + 1);
  assert.equal(Buffer.from(lines[2], 'base64').toString('hex'), next.history_root);

  const f = save('checkpoint.txt', r.text);
  let v = verify([f, '--public-key', pk]);
  assert.equal(v.code, 0, v.err);
  assert.match(v.out, new RegExp(`^ok: checkpoint of ${head.seq + 1} headers`));
  v = verify(['-', '--public-key', pk], r.text.replace(`\n${lines[1]}\n`, `\n${Number(lines[1]) + 1}\n`));
  assert.equal(v.code, 1);
  assert.match(v.err, /checkpoint signature invalid/);
  v = verify([f, '--public-key', pk, '--origin', 'example.com/log']);
  assert.equal(v.code, 1);
  assert.match(v.err, /no signature by example.com\/log/);
});

test('VMDB_CHECKPOINT_ORIGIN names the checkpoint; an invalid one is refused at start', async () => {
  const s = await startServer({ env: { VMDB_CHECKPOINT_ORIGIN: 'example.com/vmdb-log' } });
  try {
    const r = await get(s.url, '/checkpoint');
    assert.equal(r.status, 200, r.text);
    assert.match(r.text, /^example\.com\/vmdb-log\n1\n/);
    assert.match(r.text, /\n\n\u2014 example\.com\/vmdb-log /);
    const key = (await get(s.url, '/api/identity')).json.data.public_key;
    const v = verify(['-', '--public-key', key, '--origin', 'example.com/vmdb-log'], r.text);
    assert.equal(v.code, 0, v.err);
  } finally {
    await s.stop();
  }
  for (const bad of ['has space', 'a+b', 'tab\there']) {
    const r = spawnSync(BIN, ['serve'], {
      env: { ...process.env, DATABASE_URL: srv.db, VMDB_CHECKPOINT_ORIGIN: bad, VMDB_DATA_DIR: tempDir('vmdb-o-') },
      encoding: 'utf8', timeout: 30_000,
    });
    assert.equal(r.status, 2, `${bad}: ${r.stderr}`);
    assert.match(r.stderr, /VMDB_CHECKPOINT_ORIGIN must be/);
  }
});

test('GET /api/roots/proof answers verify; --state moves forward across writes', async () => {
  const st = path.join(dir, 'state.json');
  let r = await latest(srv.url);
  let v = verify([save('l1.json', r.text), '--public-key', pk, '--state', st]);
  assert.equal(v.code, 0, v.err);
  assert.match(v.out, /state: pinned at seq \d+$/m);
  const s1 = r.json.data.header.seq;
  const saved = JSON.parse(fs.readFileSync(st, 'utf8'));
  assert.equal(saved.public_key, pk);
  assert.equal(saved.chain_id, r.json.data.header.chain_id);
  assert.deepEqual(saved.header, r.json.data.header);
  assert.equal(fs.statSync(st).mode & 0o777, 0o600);

  // Two writes later: linked by the server's history proof.
  await write(srv.url);
  await write(srv.url);
  r = await latest(srv.url);
  const s2 = r.json.data.header.seq;
  const l2 = save('l2.json', r.text);
  v = verify([l2, '--state', st]);
  assert.equal(v.code, 1);
  assert.match(v.err, /rollback or fork: header \d+ cannot be linked to the saved header/);
  v = verify([l2, '--state', st, '--server', srv.url]);
  assert.equal(v.code, 0, v.err);
  assert.match(v.out, new RegExp(`state: moved from seq ${s1} to ${s2}$`, 'm'));

  // A proof answer: verified alone, and as the input that moves the state.
  await write(srv.url);
  const s3 = (await latest(srv.url)).json.data.header.seq;
  const p = await get(srv.url, `/api/roots/proof?from=${s2}&to=${s3}`);
  assert.equal(p.status, 200, p.text);
  const pf = save('p23.json', p.text);
  v = verify([pf, '--public-key', pk]);
  assert.equal(v.code, 0, v.err);
  assert.match(v.out, new RegExp(`^ok: header ${s3} extends header ${s2}`));
  v = verify([pf, '--state', st]);
  assert.equal(v.code, 0, v.err);
  assert.match(v.out, new RegExp(`state: moved from seq ${s2} to ${s3}$`, 'm'));
  // Every pair of the chain links, and the proofs are not interchangeable.
  for (const [a, b] of [[0, s3], [1, s3], [s1, s3], [s3, s3], [0, 0]]) {
    const q = await get(srv.url, `/api/roots/proof?from=${a}&to=${b}`);
    assert.equal(q.status, 200, q.text);
    assert.equal(q.json.data.inclusion.length === 0, a === b, `${a}..${b}`);
    assert.equal(q.json.data.consistency.length === 0, a === 0 || a === b, `${a}..${b}`);
    v = verify(['-', '--public-key', pk], q.text);
    assert.equal(v.code, 0, `${a}..${b}: ${v.err}`);
  }
  const q = await get(srv.url, `/api/roots/proof?from=1&to=${s3}`);
  const bad = JSON.parse(q.text);
  bad.data.inclusion = p.json.data.inclusion;
  v = verify(['-', '--public-key', pk], JSON.stringify(bad));
  assert.equal(v.code, 1);
  assert.match(v.err, /is not in the history of header/);
  // An older header: linked the other way, the state stays.
  v = verify([save('l1b.json', JSON.stringify({ success: true, data: { header: saved.header } })), '--state', st, '--server', srv.url]);
  assert.equal(v.code, 0, v.err);
  assert.match(v.out, new RegExp(`state: unchanged at seq ${s3} \\(this header is older\\)`));
  // --history: a saved proof file.
  await write(srv.url);
  const s4 = (await latest(srv.url)).json.data.header.seq;
  const h34 = save('h34.json', (await get(srv.url, `/api/roots/proof?from=${s3}&to=${s4}`)).text);
  v = verify([save('l4.json', (await latest(srv.url)).text), '--state', st, '--history', h34]);
  assert.equal(v.code, 0, v.err);
  assert.match(v.out, new RegExp(`state: moved from seq ${s3} to ${s4}$`, 'm'));
  // The pinned key: another one is refused.
  v = verify([l2, '--state', st, '--public-key', crypto.randomBytes(32).toString('hex')]);
  assert.equal(v.code, 1);
  assert.match(v.err, /public key differs from the pinned one/);
});

const flipHex = (s, at) => s.slice(0, at) + (parseInt(s[at], 16) ^ 1).toString(16) + s.slice(at + 1);

/** The answers of the five routes with "proof": true, against server `url`. */
async function provedAnswers(url) {
  const m = (r) => `/api/models/agents/${r}`;
  const c = await post(url, m('create-batch'), { records: [{ name: 'p1' }, { name: 'p2' }, { name: 'p3' }], proof: true });
  const ids = ok(c).ids.map(String);
  return {
    'create-batch': c,
    // Two present rows, a missing id and one that is no key of a serial table.
    'read-batch': await post(url, m('read-batch'), { ids: [ids[0], ids[2], '999999', 'abc'], proof: true }),
    'read-latest': await post(url, m('read-latest'), { limit: 3, proof: true }),
    // Existing rows.
    upsert: await post(url, m('upsert'), { records: [{ id: ids[0], name: 'p1b' }, { id: ids[2], name: 'p3b' }], proof: true }),
    // One deleted id and one missing.
    'delete-batch': await post(url, m('delete-batch'), { ids: [ids[1], '888888'], proof: true }),
  };
}

test('answers with "proof": true from all five routes verify; each tampered variant fails with its reason', async () => {
  const older = (await latest(srv.url)).json.data.header; // a header of another root
  const answers = await provedAnswers(srv.url);
  const want = {
    'create-batch': /^ok: table agents, 3 rows present, 0 absent, not complete, at seq \d+; table: not checked \(give --table\)$/m,
    'read-batch': /^ok: table agents, 2 rows present, 2 absent, /m,
    'read-latest': /^ok: table agents, 3 rows present, /m,
    upsert: /^ok: table agents, 2 rows present, 0 absent, /m,
    'delete-batch': /^ok: table agents, 0 rows present, 2 absent, /m,
  };
  const { privateKey } = crypto.generateKeyPairSync('ed25519');
  const tampered = (d) => JSON.stringify({ success: true, data: d });
  const fails = (input, re, extra = []) => {
    const v = verify(['-', '--public-key', pk, ...extra], input);
    assert.equal(v.code, 1, `accepted, expected ${re}: ${v.out}`);
    assert.match(v.err, re);
    assert.equal(v.err.trim().split('\n').length, 1, v.err);
  };
  for (const [route, r] of Object.entries(answers)) {
    assert.equal(r.status, 200, `${route}: ${r.text}`);
    const d = r.json.data;
    const seq = d.proof.header.seq;
    const f = save(`${route}.json`, r.text);
    let v = verify([f, '--public-key', pk]);
    assert.equal(v.code, 0, `${route}: ${v.err}`);
    assert.match(v.out, want[route], route);
    assert.match(v.out, new RegExp(`at seq ${seq}; `, 'm'));
    v = verify(['-', '--public-key', pk], r.text);
    assert.equal(v.code, 0, `${route} on stdin: ${v.err}`);
    v = verify([f, '--identity-from', srv.url]);
    assert.equal(v.code, 0, `${route} --identity-from: ${v.err}`);
    assert.match(v.out, /^ok: /);
    assert.match(v.err, /warning: trusting the public key served by/);
    v = verify([f, '--public-key', pk, '--chain-id', d.proof.header.chain_id]);
    assert.equal(v.code, 0, `${route} --chain-id: ${v.err}`);

    const clone = () => JSON.parse(JSON.stringify(d));
    // A flipped bit at the start, middle and end of the multiproof.
    const mp = d.proof.multiproof.proof;
    for (const at of [1, mp.length >> 1, mp.length - 1]) {
      const x = clone();
      x.proof.multiproof.proof = flipHex(mp, at);
      fails(tampered(x), new RegExp(`multiproof does not match the smt_root of header ${seq} `));
    }
    // The header of an older answer pasted in: genuine, but not this proof's root.
    let x = clone();
    x.proof.header = older;
    fails(tampered(x), new RegExp(`multiproof does not match the smt_root of header ${older.seq} `));
    // The header signed by another key (header_hash unchanged).
    x = clone();
    x.proof.header.sig = crypto.sign(null, sigMessage(2, 'committed', Buffer.from(x.proof.header.header_hash, 'hex')), privateKey).toString('hex');
    fails(tampered(x), new RegExp(`header ${seq}: header signature invalid \\(not by the identity key\\)`));
    // The intent signature vmdb keeps in vmdb_headers, passed off as the header signature.
    x = clone();
    x.proof.header.sig = await psql(srv.db, `SELECT encode(sig, 'hex') FROM vmdb_headers WHERE seq = ${seq}`);
    assert.match(x.proof.header.sig, /^[0-9a-f]{128}$/);
    assert.notEqual(x.proof.header.sig, d.proof.header.sig);
    fails(tampered(x), new RegExp(`header ${seq}: sig is the intent signature, not the header signature`));
    // A chain_id pin it does not match.
    fails(r.text, new RegExp(`header ${seq}: chain_id differs from the pinned one`), ['--chain-id', 'ab'.repeat(32)]);
    if (!d.records || d.records.length < 2) continue;
    // Two records swapped, and a record edited.
    x = clone();
    [x.records[0], x.records[1]] = [x.records[1], x.records[0]];
    fails(tampered(x), new RegExp(`data\\.records\\[0\\]\\.id is not present\\[0\\]\\.id '${d.proof.present[0].id}'`));
    x = clone();
    x.records[1].name = 'tampered';
    fails(tampered(x), /data\.records\[1\] does not hash to present\[1\]\.value/);
  }
  // The deleted and the missing id both proven absent; one left out is noticed.
  const del = answers['delete-batch'].json.data;
  const x = JSON.parse(JSON.stringify(del));
  x.proof.absent = x.proof.absent.filter((e) => e.id !== '888888');
  fails(tampered(x), /data\.missing id '888888' is not proven absent/);
});

test('what the request asked: --table, --ids, --limit, --order, --require-complete', async () => {
  const m = (r) => `/api/models/agents/${r}`;
  const ids = ok(await post(srv.url, m('create-batch'), { records: [{ name: 'q1' }, { name: 'q2' }, { name: 'q3' }, { name: 'q4' }] })).ids.map(String);
  const input = (a) => (typeof a.text === 'string' ? a.text : JSON.stringify({ success: true, data: a }));
  const passes = (a, args, re) => {
    const v = verify(['-', '--public-key', pk, ...args], input(a));
    assert.equal(v.code, 0, `${args.join(' ')}: ${v.err}`);
    assert.match(v.out.trimEnd(), re, args.join(' '));
  };
  const fails = (a, args, re) => {
    const v = verify(['-', '--public-key', pk, ...args], input(a));
    assert.equal(v.code, 1, `${args.join(' ')}: accepted, expected ${re}: ${v.out}`);
    assert.match(v.err.trimEnd(), re);
    assert.equal(v.err.trim().split('\n').length, 1, v.err);
  };
  const clone = (r) => JSON.parse(r.text).data;

  // read-batch: each requested id returned or proven absent (§9 step 5).
  const rb = await post(srv.url, m('read-batch'), { ids: [ids[0], ids[1], '999999'], proof: true });
  assert.equal(rb.status, 200, rb.text);
  passes(rb, [], /^ok: table agents, 2 rows present, 1 absent, not complete, at seq \d+; table, ids: not checked \(give --table\/--ids\)$/);
  passes(rb, ['--table', 'Agents', '--ids', `${ids[0]},${ids[1]},999999`], /, at seq \d+; request checked: table, ids$/);
  passes(rb, ['--ids', `${ids[1]},${ids[0]},${ids[0]}`], /; request checked: ids; table: not checked \(give --table\)$/);
  // An answer to fewer ids than asked: id 2 left out of both records and missing.
  fails(rb, ['--ids', `${ids[0]},${ids[1]},${ids[2]},999999`], new RegExp(`^vmdb verify: requested id '${ids[2]}' is neither returned nor proven absent$`));
  let x = clone(rb);
  x.missing = x.missing.filter((id) => id !== '999999');
  x.proof.absent = x.proof.absent.filter((e) => e.id !== '999999');
  fails(x, ['--ids', `${ids[0]},${ids[1]},999999`], /requested id '999999' is neither returned nor proven absent/);
  x = clone(rb);
  x.records.pop();
  x.ids.pop();
  x.proof.present.pop();
  fails(x, ['--ids', `${ids[0]},${ids[1]},999999`], new RegExp(`requested id '${ids[1]}' is neither returned nor proven absent`));
  // Ids are compared as the answer's canonical text (§1).
  fails(rb, ['--ids', `00${ids[0]}`], new RegExp(`requested id '00${ids[0]}' is neither returned nor proven absent`));
  // Another table: the request named it, or the proof was renamed.
  fails(rb, ['--table', 'notes'], /^vmdb verify: data\.proof\.table is 'agents', not the table the request named$/);
  x = clone(rb);
  x.proof.table = 'notes';
  fails(x, ['--table', 'agents'], /data\.proof\.table is 'notes', not the table the request named/);
  fails(x, [], /present\[0\]: key is not the row key of id/);

  // delete-batch: every id asked to delete is proven absent afterwards.
  const del = await post(srv.url, m('delete-batch'), { ids: [ids[3], '777777'], proof: true });
  assert.equal(del.status, 200, del.text);
  passes(del, [], /^ok: table agents, 0 rows present, 2 absent, not complete, at seq \d+; table, ids: not checked \(give --table\/--ids\)$/);
  passes(del, ['--table', 'agents', '--ids', `${ids[3]},777777`], /; request checked: table, ids$/);
  fails(del, ['--ids', `${ids[3]},777777,${ids[2]}`], new RegExp(`requested id '${ids[2]}' is neither returned nor proven absent`));

  // read-latest: a complete answer proves its order and limit (§10).
  const latestOf = async (body) => {
    const r = await post(srv.url, m('read-latest'), { ...body, proof: true });
    assert.equal(r.status, 200, r.text);
    return r;
  };
  const l3 = await latestOf({ limit: 3 });
  assert.equal(l3.json.data.complete, true);
  passes(l3, [], /^ok: table agents, 3 rows present, \d+ absent, complete \(desc, limit 3\), at seq \d+; table, limit, order: not checked \(give --table\/--limit\/--order\)$/);
  passes(l3, ['--table', 'agents', '--limit', '3', '--order', 'desc', '--require-complete'], /complete \(desc, limit 3\), at seq \d+; request checked: table, limit, order, complete$/);
  // A smaller limit answered (genuine and signed, but not what was asked)...
  const l2 = await latestOf({ limit: 2 });
  fails(l2, ['--limit', '3'], /^vmdb verify: complete\.limit is 2, not the requested 3$/);
  // ...or complete.limit reduced together with the last row removed.
  x = clone(l3);
  x.proof.complete.limit = 2;
  x.records.pop();
  x.ids.pop();
  x.proof.present.pop();
  fails(x, ['--limit', '3'], /complete\.limit is 2, not the requested 3/);
  // The other order.
  const asc = await latestOf({ limit: 3, order_by: { field: 'id', direction: 'asc' } });
  passes(asc, ['--order', 'asc', '--limit', '3'], /complete \(asc, limit 3\), at seq \d+; request checked: limit, order; table: not checked/);
  fails(asc, ['--order', 'desc'], /^vmdb verify: complete\.order is "asc", not the requested "desc"$/);
  fails(l3, ['--order', 'asc'], /complete\.order is "desc", not the requested "asc"/);
  // The server caps the limit at 100 and proves the capped one.
  const big = await latestOf({ limit: 500 });
  passes(big, ['--limit', '500'], /complete \(desc, limit 100\)/);
  fails(big, ['--limit', '99'], /complete\.limit is 100, not the requested 99$/);
  fails(l3, ['--limit', '500'], /complete\.limit is 3, not the requested 100 \(the request's limit capped at 100\)/);
  // No answer holds more rows than the limit, complete or not.
  const wh = await latestOf({ limit: 3, where: { name: 'q1' } });
  assert.equal(wh.json.data.complete, false);
  passes(wh, [], /not complete, at seq \d+; table, limit: not checked \(give --table\/--limit\)$/);
  passes(wh, ['--limit', '3'], /not complete, at seq \d+; request checked: limit; table: not checked/);
  fails(wh, ['--require-complete'], /^vmdb verify: read-latest: not complete, but the request requires a complete answer$/);
  ok(await post(srv.url, m('create-batch'), { records: [{ name: 'dup' }, { name: 'dup' }, { name: 'dup' }] }));
  const dup = await latestOf({ limit: 3, where: { name: 'dup' } });
  assert.equal(dup.json.data.records.length, 3);
  passes(dup, ['--limit', '3'], /3 rows present, 0 absent, not complete/);
  fails(dup, ['--limit', '2'], /^vmdb verify: read-latest: 3 records, above the requested limit 2$/);

  // An answer of another route is no answer to the request.
  fails(rb, ['--limit', '3'], /^vmdb verify: the request is a read-latest, the answer is a read-batch$/);
  fails(l3, ['--ids', '1'], /^vmdb verify: the request named ids \(read-batch or delete-batch\), the answer is a read-latest$/);
  const cr = await post(srv.url, m('create-batch'), { records: [{ name: 'q5' }], proof: true });
  fails(cr, ['--ids', '1'], /the answer is a create-batch or upsert$/);
  passes(cr, ['--table', 'agents'], /not complete, at seq \d+; request checked: table$/);

  // Usage errors: exit 2.
  const head = (await latest(srv.url)).text;
  for (const args of [['--limit', '0'], ['--limit', 'x'], ['--limit', '-1'], ['--limit', '4294967296'], ['--order', 'up'],
    ['--ids', '1,,2'], ['--ids', ','], ['--table', 'a-b'], ['--table', 'x'.repeat(64)], ['--ids', '1', '--limit', '2'],
    ['--ids', '1', '--require-complete'], ['--table']]) {
    const v = verify(['-', '--public-key', pk, ...args], rb.text);
    assert.equal(v.code, 2, `${args.join(' ')}: ${v.out}${v.err}`);
  }
  const v = verify(['-', '--public-key', pk, '--table', 'agents'], head);
  assert.equal(v.code, 2, v.out);
  assert.match(v.err, /apply to an answer with data\.proof; the input is a signed header/);
});

test('another chain under the same key (fresh database, VMDB_IDENTITY_KEY): refused by a --chain-id pin and by a --state pinned on the first', async () => {
  const b = await startServer({ env: { VMDB_IDENTITY_KEY: path.join(srv.dataDir, 'identity.json') } });
  try {
    assert.equal((await get(b.url, '/api/identity')).json.data.public_key, pk, 'the same identity');
    await applySchema(b.url, [AGENTS]);
    const rb = await provedAnswers(b.url);
    const a = ok(await post(srv.url, '/api/models/agents/read-batch', { ids: ['1', '2'], proof: true }));
    const chainA = a.proof.header.chain_id;
    const st = path.join(dir, 'chain-state.json');
    let v = verify([save('a-read.json', JSON.stringify({ success: true, data: a })), '--public-key', pk, '--state', st]);
    assert.equal(v.code, 0, v.err);
    const pinned = fs.readFileSync(st, 'utf8');
    for (const [route, r] of Object.entries(rb)) {
      assert.equal(r.status, 200, `${route}: ${r.text}`);
      const h = r.json.data.proof.header;
      assert.notEqual(h.chain_id, chainA, 'a fresh database starts another chain');
      const f = save(`b-${route}.json`, r.text);
      // Alone, with the key only, B's answer is genuine...
      v = verify([f, '--public-key', pk]);
      assert.equal(v.code, 0, `${route}: ${v.err}`);
      // ...but not of the chain pinned on A.
      v = verify([f, '--public-key', pk, '--chain-id', chainA]);
      assert.equal(v.code, 1, v.out);
      assert.match(v.err, new RegExp(`header ${h.seq}: chain_id differs from the pinned one`));
      v = verify([f, '--state', st, '--server', b.url]);
      assert.equal(v.code, 1, v.out);
      assert.match(v.err, new RegExp(`header ${h.seq}: chain_id differs from the pinned one`));
      // A --chain-id that contradicts the state is refused before reading anything.
      v = verify([f, '--state', st, '--chain-id', h.chain_id]);
      assert.equal(v.code, 1, v.out);
      assert.match(v.err, /chain_id differs from the pinned one \(state file /);
    }
    assert.equal(fs.readFileSync(st, 'utf8'), pinned, 'the state file is unchanged');
  } finally {
    await b.stop();
  }
});

test('a server restored from an older backup is caught: rollback or fork', async () => {
  const st = path.join(dir, 'rollback-state.json');
  // Stop the server, copy its database and data directory (the backup),
  // start it again and write on.
  await srv.stop();
  const backupDb = dbUrl(srv.db, `${new URL(srv.db).pathname.slice(1)}_bak`);
  await psql(dbUrl(srv.db, 'postgres'),
    `CREATE DATABASE "${new URL(backupDb).pathname.slice(1)}" TEMPLATE "${new URL(srv.db).pathname.slice(1)}"`);
  const backupDir = tempDir('vmdb-backup-');
  fs.cpSync(srv.dataDir, backupDir, { recursive: true });
  fs.chmodSync(backupDir, 0o700);
  srv = await startServer({ db: srv.db, dataDir: srv.dataDir, env: { BATCH_COMMIT_SIZE: '1' } });
  const old = (await latest(srv.url)).json.data.header.seq;
  await write(srv.url);
  await write(srv.url);
  const r = await latest(srv.url);
  let v = verify([save('new.json', r.text), '--public-key', pk, '--state', st]);
  assert.equal(v.code, 0, v.err);
  const before = fs.readFileSync(st, 'utf8');

  // The restored copy: same key, same chain, an older newest header.
  const restored = await startServer({ db: backupDb, dataDir: backupDir, env: { BATCH_COMMIT_SIZE: '1' } });
  try {
    const rr = await latest(restored.url);
    assert.equal(rr.json.data.header.seq, old);
    const f = save('restored.json', rr.text);
    // Alone, the restored header is genuine...
    v = verify([f, '--public-key', pk]);
    assert.equal(v.code, 0, v.err);
    // ...but it cannot be linked to the newer header the client saw.
    v = verify([f, '--state', st, '--server', restored.url]);
    assert.equal(v.code, 1, v.out);
    assert.match(v.err, /rollback or fork: the server cannot link header \d+ to header \d+ \(HTTP 400 INVALID_RANGE\)/);
    v = verify([f, '--state', st]);
    assert.equal(v.code, 1, v.out);
    assert.match(v.err, /rollback or fork/);
    // Its checkpoint covers fewer headers than the client saw.
    const c = await get(restored.url, '/checkpoint');
    v = verify([save('restored-ckpt.txt', c.text), '--state', st]);
    assert.equal(v.code, 1, v.out);
    assert.match(v.err, /rollback or fork: the checkpoint covers \d+ headers but the saved header is seq/);
    // A write on the restored copy forks the chain: same seq, other hash.
    ok(await post(restored.url, '/api/models/agents/create-batch', { records: [{ name: 'fork' }] }));
    await write(restored.url);
    const fr = await latest(restored.url);
    assert.equal(fr.json.data.header.seq, r.json.data.header.seq);
    v = verify([save('fork.json', fr.text), '--state', st]);
    assert.equal(v.code, 1, v.out);
    assert.match(v.err, /rollback or fork: header \d+ differs from the saved header/);
    // The forked header alone is genuinely signed: only the state tells.
    assert.equal(verify([save('fork.json', fr.text), '--public-key', pk]).code, 0);
    assert.equal(fs.readFileSync(st, 'utf8'), before, 'the state file is unchanged');
  } finally {
    await restored.stop();
  }
});

// 32 clients write (create-batch, upsert) and read for a bounded time; then
// every acknowledged write reads back verified with the acknowledged
// content, PostgreSQL holds exactly the acknowledged rows, and the tree
// equals the tree rebuilt from the rows (repair-roots new_root = current root).
//
// VMDB_IT_CLIENTS (default 32) and VMDB_IT_SECONDS (default 10) tune it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, post, get, ok, health, applySchema, psql, expectedRootFromRows, jcs,
} from './lib.mjs';

const CLIENTS = Number(process.env.VMDB_IT_CLIENTS || 32);
const SECONDS = Number(process.env.VMDB_IT_SECONDS || 10);

const ITEMS = {
  table_name: 'items', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [
    { name: 'owner', col_type: 'int' },
    { name: 'n', col_type: 'int' },
    { name: 'payload', col_type: 'jsonb', nullable: true },
    { name: 'label', col_type: 'text', nullable: true },
  ],
};
const KV = {
  table_name: 'kv', primary_key_field: 'k', primary_key_kind: 'text',
  columns: [{ name: 'v', col_type: 'int' }, { name: 'owner', col_type: 'int' }],
};

// Deterministic per-client PRNG.
function rng(seed) {
  let s = seed >>> 0;
  return () => { s = (s + 0x6d2b79f5) >>> 0; let x = s; x = Math.imul(x ^ (x >>> 15), x | 1); x ^= x + Math.imul(x ^ (x >>> 7), x | 61); return ((x ^ (x >>> 14)) >>> 0) / 4294967296; };
}

test(`concurrency: ${CLIENTS} clients writing and reading for ${SECONDS} s, then everything acknowledged verifies`, async (t) => {
  const srv = await startServer({ env: { BATCH_COMMIT_SIZE: '7' } });
  t.after(() => srv.stop());
  await applySchema(srv.url, [ITEMS, KV]);

  const items = new Map(); // id -> {owner, n, payload, label}
  const kv = new Map(); // k -> {v, owner}
  const problems = [];
  let problemCount = 0;
  problems.push = function push(x) { problemCount++; return this.length < 20 ? Array.prototype.push.call(this, x) : this.length; };
  const stats = { create: 0, upsertKv: 0, upsertItem: 0, readBatch: 0, readLatest: 0 };
  const deadline = Date.now() + SECONDS * 1000;
  const note = (what, r) => problems.push(`${what}: ${r.status} ${r.text.slice(0, 300)}`);

  async function client(c) {
    const rand = rng(c * 7919 + 1);
    const mine = []; // item ids of this client
    let counter = 0;
    let lastSeq = -1;
    const checkMeta = (d, what) => {
      if (!d.verified || !/^[0-9a-f]{64}$/.test(d.meta?.proposed_root) || !Number.isInteger(d.meta?.seq)) {
        problems.push(`${what}: bad answer ${JSON.stringify(d).slice(0, 300)}`);
      } else {
        if (d.meta.seq <= lastSeq) problems.push(`${what}: seq went from ${lastSeq} to ${d.meta.seq}`);
        lastSeq = d.meta.seq;
      }
    };
    while (Date.now() < deadline) {
      const p = rand();
      if (p < 0.3 || mine.length === 0) {
        const k = 1 + Math.floor(rand() * 4);
        const records = Array.from({ length: k }, () => ({
          owner: c, n: ++counter, payload: { c, i: counter, s: 'x'.repeat(Math.floor(rand() * 50)), f: rand() < 0.5 ? 0.25 : [1, 2] },
          label: rand() < 0.5 ? null : `c${c}-${counter}`,
        }));
        const r = await post(srv.url, '/api/models/items/create-batch', { records });
        if (r.status !== 200) { note('create-batch', r); continue; }
        const d = r.json.data;
        checkMeta(d, 'create-batch');
        d.ids.forEach((id, i) => {
          mine.push(id);
          items.set(id, records[i]);
          const got = d.records[i];
          if (got.n !== records[i].n || got.owner !== c) problems.push(`create-batch returned ${JSON.stringify(got)} for ${JSON.stringify(records[i])}`);
        });
        stats.create++;
      } else if (p < 0.55) {
        const keys = new Set();
        const k = 1 + Math.floor(rand() * 3);
        while (keys.size < k) keys.add(`c${c}-k${Math.floor(rand() * 10)}`);
        const records = [...keys].map((key) => ({ k: key, v: ++counter, owner: c }));
        const r = await post(srv.url, '/api/models/kv/upsert', { records });
        if (r.status !== 200) { note('upsert kv', r); continue; }
        checkMeta(r.json.data, 'upsert kv');
        for (const rec of records) kv.set(rec.k, { v: rec.v, owner: c });
        stats.upsertKv++;
      } else if (p < 0.7) {
        const id = mine[Math.floor(rand() * mine.length)];
        const n = ++counter;
        const r = await post(srv.url, '/api/models/items/upsert', { records: [{ id: Number(id), n }] });
        if (r.status !== 200) { note('upsert item', r); continue; }
        checkMeta(r.json.data, 'upsert item');
        items.set(id, { ...items.get(id), n });
        stats.upsertItem++;
      } else if (p < 0.9) {
        const ids = [];
        for (let i = 0; i < Math.min(20, mine.length); i++) ids.push(mine[Math.floor(rand() * mine.length)]);
        const r = await post(srv.url, '/api/models/items/read-batch', { ids });
        if (r.status !== 200) { note('read-batch', r); continue; }
        const d = r.json.data;
        if (!d.verified || (d.missing && d.missing.length)) problems.push(`read-batch: ${JSON.stringify(d).slice(0, 300)}`);
        d.ids.forEach((id, i) => {
          const want = items.get(id);
          const got = d.records[i];
          if (got.n !== want.n || got.owner !== c || jcs(got.payload) !== jcs(want.payload)) {
            problems.push(`read-batch ${id}: got ${JSON.stringify(got)}, acknowledged ${JSON.stringify(want)}`);
          }
        });
        stats.readBatch++;
      } else {
        const r = await post(srv.url, '/api/models/items/read-latest', { limit: 10, where: { owner: c } });
        if (r.status !== 200) { note('read-latest', r); continue; }
        const d = r.json.data;
        if (!d.verified || d.records.some((x) => x.owner !== c)) problems.push(`read-latest: ${JSON.stringify(d).slice(0, 300)}`);
        stats.readLatest++;
      }
    }
  }

  await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));
  t.diagnostic(`requests: ${JSON.stringify(stats)}; items ${items.size}, kv ${kv.size}`);
  assert.deepEqual([...problems], [], `every request succeeded and answered what was written (${problemCount} problems, first 20 shown)`);
  assert.ok(stats.create > CLIENTS && stats.readBatch > 0, `enough traffic: ${JSON.stringify(stats)}`);

  // Every acknowledged id reads back verified with its acknowledged content.
  const itemIds = [...items.keys()];
  for (let i = 0; i < itemIds.length; i += 1000) {
    const d = ok(await post(srv.url, '/api/models/items/read-batch', { ids: itemIds.slice(i, i + 1000) }), 'final read items');
    assert.equal(d.verified, true);
    assert.ok(!d.missing || d.missing.length === 0, `missing: ${d.missing}`);
    d.ids.forEach((id, j) => {
      const w = items.get(id);
      const g = d.records[j];
      assert.deepEqual({ owner: g.owner, n: g.n, payload: g.payload, label: g.label }, w, `item ${id}`);
    });
  }
  const keys = [...kv.keys()];
  for (let i = 0; i < keys.length; i += 1000) {
    const d = ok(await post(srv.url, '/api/models/kv/read-batch', { ids: keys.slice(i, i + 1000) }), 'final read kv');
    assert.equal(d.verified, true);
    d.ids.forEach((k, j) => assert.deepEqual({ v: d.records[j].v, owner: d.records[j].owner }, kv.get(k), `kv ${k}`));
    assert.equal(d.ids.length, Math.min(1000, keys.length - i));
  }
  // PostgreSQL holds exactly the acknowledged rows.
  assert.equal(Number(await psql(srv.db, 'SELECT count(*) FROM items')), items.size);
  assert.equal(Number(await psql(srv.db, 'SELECT count(*) FROM kv')), kv.size);
  // One leaf per row, the id range of items (PROTOCOL.md §10): no deletes
  // here, so it is exactly the lowest and highest id; and the record of the
  // apply-schema reset (§14.2).
  assert.equal(Number(await psql(srv.db, 'SELECT count(*) FROM vmdb_leaves')), items.size + kv.size + 2);
  assert.equal(await psql(srv.db, "SELECT r.lo = min(i.id) AND r.hi = max(i.id) FROM vmdb_id_ranges r, items i WHERE r.table_name = 'items' GROUP BY r.lo, r.hi"), 't');

  const h = await health(srv.url);
  assert.equal(h.status, 'ok');
  assert.equal(h.leaves, items.size + kv.size + 2);
  assert.equal(h.integrity.ok, true);
  // Independent: the protocol v1 root over the rows.
  assert.equal(await expectedRootFromRows(srv.url, srv.db, [{ table: 'items', pk: 'id' }, { table: 'kv', pk: 'k' }]), h.temporary_root);
  // The tree equals the tree rebuilt from the rows (the repair adds only its
  // own record).
  const rep = ok(await post(srv.url, '/bootstrap/repair-roots', { confirm: true }), 'repair-roots');
  assert.equal(rep.repaired, true);
  assert.equal(rep.diff.count, 0, 'rebuilt tree = current tree');
  assert.equal(rep.updated_leaves, items.size + kv.size + 2);
  assert.equal(rep.old_root, h.temporary_root);
  assert.equal(rep.new_root, await expectedRootFromRows(srv.url, srv.db, [{ table: 'items', pk: 'id' }, { table: 'kv', pk: 'k' }]));
  assert.equal((await health(srv.url)).temporary_root, rep.new_root);
});

// Requests of one commit group that write or delete the same key: every
// answer must be true of the header it names. Concurrent upserts and
// deletes of the same few ids with "proof": true (default commit delay, so
// they share groups), every answer checked by the protocol's JS verifier;
// no two answers change one id under one header; the final state is the
// one the answer with the highest seq left.
test('concurrency: upserts and deletes of the same ids in one group each get a proof of their own header', async (t) => {
  const { verifyAnswer } = await import('../../clients/js/src/protocol.mjs');
  const srv = await startServer();
  t.after(() => srv.stop());
  const HOT = {
    table_name: 'hot', primary_key_field: 'id', primary_key_kind: 'serial',
    columns: [{ name: 'n', col_type: 'int' }, { name: 'owner', col_type: 'int' }],
  };
  await applySchema(srv.url, [HOT]);
  const pub = ok(await get(srv.url, '/api/identity')).public_key;
  const chainId = ok(await get(srv.url, '/api/roots/0')).header.chain_id;
  const IDS = 4;
  ok(await post(srv.url, '/api/models/hot/create-batch', { records: Array.from({ length: IDS }, (_, i) => ({ n: -1 - i, owner: -1 })) }));
  const groupSums = async () => {
    const text = (await get(srv.url, '/metrics')).text;
    const v = (name) => Number((text.match(new RegExp(`^${name} (\\S+)$`, 'm')) || [])[1]);
    return { sum: v('vmdb_write_group_requests_sum'), count: v('vmdb_write_group_requests_count') };
  };
  const m0 = await groupSums();
  const problems = [];
  const effects = []; // {seq, id, n (null: deleted)}
  const ROUNDS = Number(process.env.VMDB_IT_HOT_ROUNDS || 40);
  let counter = 0;
  async function client(c) {
    const rand = rng(c * 104729 + 7);
    for (let r = 0; r < ROUNDS; r++) {
      const id = String(1 + Math.floor(rand() * IDS));
      if (rand() < 0.7) {
        const n = ++counter;
        const res = await post(srv.url, '/api/models/hot/upsert', { records: [{ id, n, owner: c }], proof: true });
        if (res.status !== 200) { problems.push(`upsert ${id}: ${res.status} ${res.text.slice(0, 200)}`); continue; }
        const d = res.json.data;
        const v = verifyAnswer(d, 'upsert', pub, { chainId, table: 'hot' });
        if (!v.ok) problems.push(`upsert ${id} (seq ${d.proof?.header?.seq}): rejected: ${v.reason}`);
        if (d.records[0].n !== n) problems.push(`upsert ${id}: answered ${JSON.stringify(d.records[0])}`);
        effects.push({ seq: d.proof.header.seq, id, n });
      } else {
        const res = await post(srv.url, '/api/models/hot/delete-batch', { ids: [id], proof: true });
        if (res.status !== 200) { problems.push(`delete ${id}: ${res.status} ${res.text.slice(0, 200)}`); continue; }
        const d = res.json.data;
        const v = verifyAnswer(d, 'delete-batch', pub, { chainId, table: 'hot', ids: [id] });
        if (!v.ok) problems.push(`delete ${id} (seq ${d.proof?.header?.seq}): rejected: ${v.reason}`);
        effects.push({ seq: d.proof.header.seq, id, n: null });
      }
    }
  }
  await Promise.all(Array.from({ length: 16 }, (_, c) => client(c)));
  const m1 = await groupSums();
  t.diagnostic(`${effects.length} answers in ${m1.count - m0.count} groups (${m1.sum - m0.sum} requests)`);
  assert.deepEqual(problems.slice(0, 20), [], `${problems.length} answers failed or did not verify`);
  // Groups of more than one request did happen (the case under test).
  assert.ok(m1.sum - m0.sum > m1.count - m0.count, `some group held more than one request: ${JSON.stringify({ m0, m1 })}`);
  // One id changes at most once per header.
  const seen = new Set();
  for (const e of effects) {
    const k = `${e.seq}/${e.id}`;
    assert.ok(!seen.has(k), `two answers change id ${e.id} under header ${e.seq}`);
    seen.add(k);
  }
  // The final state is what the last answer of each id said, proven.
  const last = new Map();
  for (const e of effects.sort((a, b) => a.seq - b.seq)) last.set(e.id, e.n);
  const ids = Array.from({ length: IDS }, (_, i) => String(i + 1));
  const d = ok(await post(srv.url, '/api/models/hot/read-batch', { ids, proof: true }));
  const v = verifyAnswer(d, 'read-batch', pub, { chainId, table: 'hot', ids });
  assert.equal(v.ok, true, v.reason);
  for (const id of ids) {
    if (!last.has(id)) continue;
    const i = d.ids.indexOf(id);
    if (last.get(id) === null) assert.equal(i, -1, `id ${id} was deleted last`);
    else assert.equal(d.records[i]?.n, last.get(id), `id ${id} holds the last upsert`);
  }
  const h = await health(srv.url);
  assert.equal(h.integrity.ok, true);
  assert.equal(await expectedRootFromRows(srv.url, srv.db, [{ table: 'hot', pk: 'id' }]), h.temporary_root);
});

// The HTTP thread model and shared reads (issue 13 Deliver 4, issue 14):
// connections do not pin threads (a write waiting for its group commit holds
// no worker, so one worker still gathers many writes into one group), and
// concurrent small read-batches that share one PostgreSQL statement
// (db/pgshare.c) each get exactly their own rows, verified, with a tampered
// row caught for exactly the requests that asked for it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, psql, post, get, ok, fails, health, applySchema } from './lib.mjs';

const NOTES = {
  table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'body', col_type: 'text' }, { name: 'n', col_type: 'int' }],
};
const readBatch = (srv, ids) => post(srv.url, '/api/models/notes/read-batch', { ids });

/** Runs fn over items with at most `width` requests open (fetch may open more sockets than that: the per-address cap is lifted). */
async function pooled(items, width, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i]); }
  }));
  return out;
}

test('one worker: 48 concurrent writes are committed in a few groups, /health answers meanwhile', async (t) => {
  const srv = await startServer({ env: { VMDB_HTTP_WORKERS: '1', VMDB_HTTP_THREADS: '1' } });
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES]);
  const before = (await health(srv.url)).seq;
  const writes = Array.from({ length: 48 }, (_, i) =>
    post(srv.url, '/api/models/notes/create-batch', { records: [{ body: `w${i}`, n: i }] }));
  const h = await get(srv.url, '/health');
  assert.equal(h.status, 200);
  const answers = await Promise.all(writes);
  for (const r of answers) ok(r, 'write');
  const after = (await health(srv.url)).seq;
  // With a worker held per waiting write, each group would have one write.
  assert.ok(after - before < 48, `48 writes in ${after - before} groups`);
  const ids = answers.map((r) => r.json.data.ids[0]);
  assert.equal(new Set(ids).size, 48);
  const back = ok(await readBatch(srv, ids));
  assert.equal(back.records.length, 48);
});

test('shared read-batches: each answer has exactly its own rows and missing ids; a tampered row fails only its readers', async (t) => {
  // One statement at a time: every concurrent read-batch shares.
  const srv = await startServer({ env: { VMDB_READ_INFLIGHT: '1', VMDB_HTTP_PER_IP_CONNECTIONS: '0' } });
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES]);
  const records = Array.from({ length: 300 }, (_, i) => ({ body: `note ${i + 1}`, n: i + 1 }));
  ok(await post(srv.url, '/api/models/notes/create-batch', { records }));
  ok(await post(srv.url, '/api/models/notes/delete-batch', { ids: ['7', '8'] }));

  let seed = 12345;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const asks = Array.from({ length: 400 }, () => {
    const k = 1 + rnd(3);
    return Array.from({ length: k }, () => String(1 + rnd(320))); // ids over 300 and 7, 8 are missing
  });
  for (let round = 0; round < 2; round++) {
    const answers = await pooled(asks, 40, (ids) => readBatch(srv, ids));
    answers.forEach((r, i) => {
      const want = [...new Set(asks[i])];
      const present = want.filter((id) => Number(id) <= 300 && id !== '7' && id !== '8');
      if (present.length === 0) { fails(r, 404, 'NOT_FOUND', `read ${i}`); return; }
      const d = ok(r, `read ${i}`);
      assert.equal(d.verified, true);
      assert.deepEqual(d.records.map((x) => String(x.id)).sort(), [...present].sort(), `read ${i} rows`);
      for (const x of d.records) assert.equal(x.body, `note ${x.id}`);
      assert.deepEqual([...d.missing].sort(), want.filter((id) => !present.includes(id)).sort(), `read ${i} missing`);
    });
  }

  // Tamper with one row: exactly the reads that ask for it fail.
  await psql(srv.db, "UPDATE notes SET body = 'evil' WHERE id = 42");
  const mixed = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? ['42', String(100 + i)] : [String(100 + i)]));
  const answers = await pooled(mixed, 40, (ids) => readBatch(srv, ids));
  answers.forEach((r, i) => {
    if (mixed[i].includes('42')) {
      const f = fails(r, 400, 'INTEGRITY_VIOLATION', `tampered read ${i}`);
      assert.deepEqual(f.data.ids, ['42']);
    } else {
      const d = ok(r, `clean read ${i}`);
      assert.equal(d.records.length, 1);
    }
  });
});

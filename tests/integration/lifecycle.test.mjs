// Process lifecycle (seed-behaviour.md §5, §8): the batch counter, crash and
// restart, the single-instance lock, a model registered by another process,
// clean exit on SIGINT/SIGTERM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, spawnServer, createDb, tempDir, post, get, ok, fails, health, applySchema, sleep, psql,
} from './lib.mjs';

const LOG = {
  table_name: 'events', primary_key_field: 'id', primary_key_kind: 'big_serial',
  columns: [{ name: 'what', col_type: 'text' }, { name: 'data', col_type: 'jsonb', nullable: true }],
};

test('batch counter: with BATCH_COMMIT_SIZE=N the writes at multiples of N are committed and become main_root', async (t) => {
  const N = 4;
  const srv = await startServer({ env: { BATCH_COMMIT_SIZE: String(N) } });
  t.after(() => srv.stop());
  await applySchema(srv.url, [LOG]);
  let prevSeq = (await health(srv.url)).seq;
  let main = (await health(srv.url)).main_root;
  let committed = 0;
  for (let i = 0; i < 2 * N + 1; i++) {
    const d = ok(await post(srv.url, '/api/models/events/create-batch', { records: [{ what: `e${i}` }] }));
    assert.equal(d.meta.seq, prevSeq + 1, 'one state per sequential write');
    prevSeq = d.meta.seq;
    assert.equal(d.meta.committed, d.meta.seq % N === 0, `committed at seq ${d.meta.seq}`);
    const h = await health(srv.url);
    assert.equal(h.temporary_root, d.meta.proposed_root);
    if (d.meta.committed) {
      committed++;
      main = d.meta.proposed_root;
    }
    assert.equal(h.main_root, main, `main_root after seq ${d.meta.seq}`);
  }
  assert.ok(committed >= 2, 'two or three of 2N+1 consecutive writes are committed');
});

test('crash (SIGKILL) and restart: trusted state survives, writes and reads continue', async (t) => {
  const db = await createDb('crash');
  const dataDir = tempDir('vmdb-data-crash-');
  const env = { BATCH_COMMIT_SIZE: '1000' };
  const a = await startServer({ db, dataDir, env });
  let b = null;
  t.after(async () => { if (a.isRunning()) await a.kill9(); if (b) await b.stop(); });
  await applySchema(a.url, [LOG]);
  const ids = [];
  let last;
  for (let i = 0; i < 5; i++) {
    last = ok(await post(a.url, '/api/models/events/create-batch',
      { records: [{ what: `before-${i}`, data: { i } }, { what: `before-${i}b` }] }));
    ids.push(...last.ids);
  }
  const hA = await health(a.url);
  assert.equal(hA.temporary_root, last.meta.proposed_root);
  const k = await a.kill9();
  assert.equal(k.signal, 'SIGKILL');

  b = await startServer({ db, dataDir, env });
  const hB = await health(b.url);
  assert.equal(hB.temporary_root, hA.temporary_root, 'temporary_root after a crash = last acknowledged root');
  assert.equal(hB.seq, hA.seq);
  assert.equal(hB.leaves, 10 + 1 + 1, 'the rows, the id range (PROTOCOL.md §10) and the apply-schema record (§14.2)');
  assert.equal(hB.status, 'ok');
  assert.equal(hB.writes, 'ok');

  const r = ok(await post(b.url, '/api/models/events/read-batch', { ids }), 'read after restart');
  assert.equal(r.verified, true);
  assert.equal(r.ids.length, 10);
  const w = ok(await post(b.url, '/api/models/events/create-batch', { records: [{ what: 'after' }] }), 'write after restart');
  assert.equal(w.meta.seq, hA.seq + 1);
  const u = ok(await post(b.url, '/api/models/events/upsert', { records: [{ id: ids[0], what: 'changed' }] }));
  assert.equal(u.records[0].what, 'changed');
  const l = ok(await post(b.url, '/api/models/events/read-latest', { limit: 100 }));
  assert.equal(l.ids.length, 11);
  assert.equal(l.verified, true);
});

test('a second instance on the same database refuses to start, unless ALLOW_MULTI_INSTANCE=true', async (t) => {
  const a = await startServer();
  const stops = [() => a.stop()];
  t.after(async () => { for (const s of stops) await s(); });
  await applySchema(a.url, [LOG]);

  const b = await spawnServer({ db: a.db });
  const timeout = sleep(20_000).then(() => 'timeout');
  const res = await Promise.race([b.exited, timeout]);
  if (res === 'timeout') {
    b.proc.kill('SIGKILL');
    assert.fail(`the second instance did not exit; log:\n${b.log()}`);
  }
  assert.notEqual(res.code, 0, `second instance exit status; log:\n${b.log()}`);
  assert.match(b.log(), /instance|lock/i, 'the log says why');

  // The first one still works.
  ok(await post(a.url, '/api/models/events/create-batch', { records: [{ what: 'still here' }] }));

  // With ALLOW_MULTI_INSTANCE=true a second process starts; a model that the
  // first registers afterwards is found by the second on a lookup miss.
  const c = await startServer({ db: a.db, env: { ALLOW_MULTI_INSTANCE: 'true' } });
  stops.push(() => c.stop());
  const hc = await get(c.url, '/health');
  assert.equal(hc.status, 200);
  fails(await post(c.url, '/api/models/later/read-latest', { limit: 1 }), 400);
  // Applying the same LOG spec again keeps `events`; `later` is new.
  const later = { table_name: 'later', primary_key_field: 'k', primary_key_kind: 'text', columns: [] };
  await applySchema(a.url, [LOG, later]);
  const f = fails(await post(c.url, '/api/models/later/read-latest', { limit: 1 }), 404, undefined,
    'registered by the other process: found after the registry refresh');
  assert.equal(f.error, 'No records found');
});

test('SIGINT and SIGTERM: clean exit with status 0', async () => {
  for (const sig of ['SIGINT', 'SIGTERM']) {
    const s = await startServer();
    await applySchema(s.url, [LOG]);
    ok(await post(s.url, '/api/models/events/create-batch', { records: [{ what: sig }] }));
    const r = await s.stop(sig);
    assert.deepEqual(r, { code: 0, signal: null }, `${sig}; log:\n${s.log()}`);
  }
});

test('instance lock lost: writes answer 503 WRITES_UNAVAILABLE until the lock is re-taken; reads go on', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  await applySchema(srv.url, [LOG]);
  const first = ok(await post(srv.url, '/api/models/events/create-batch', { records: [{ what: 'before' }] }));
  // Another session kills vmdb's lock connection and takes the lock itself,
  // holding it for 3 s.
  const { spawn } = await import('node:child_process');
  const holder = spawn('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', srv.db, '-c',
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'vmdb-lock' AND datname = current_database()",
    '-c', 'SELECT pg_advisory_lock(4240001)', '-c', 'SELECT pg_sleep(3)'], { stdio: 'ignore' });
  const held = new Promise((resolve) => holder.on('exit', resolve));
  let refused = null;
  for (let i = 0; i < 40 && !refused; i++) {
    await sleep(100);
    const r = await post(srv.url, '/api/models/events/create-batch', { records: [{ what: `during ${i}` }] });
    if (r.status === 503) refused = r;
  }
  assert.ok(refused, 'a write is refused while another session holds the lock');
  assert.equal(refused.json.code, 'WRITES_UNAVAILABLE');
  const h = await health(srv.url);
  assert.notEqual(h.writes, 'ok', 'health says why writes stop');
  ok(await post(srv.url, '/api/models/events/read-batch', { ids: first.ids }), 'reads go on');
  assert.equal(await held, 0, 'the lock holder ran');
  // Once the other session is gone the monitor re-takes the lock.
  let back = false;
  for (let i = 0; i < 50 && !back; i++) {
    await sleep(100);
    back = (await post(srv.url, '/api/models/events/create-batch', { records: [{ what: 'after' }] })).status === 200;
  }
  assert.ok(back, 'writes resume after the lock is re-taken');
  assert.equal((await health(srv.url)).writes, 'ok');
});

test('the state row moved behind a running single instance: the next write group fails whole with 503 WRITES_UNAVAILABLE, nothing of it is written', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  await applySchema(srv.url, [LOG]);
  ok(await post(srv.url, '/api/models/events/create-batch', { records: [{ what: 'before' }] }));
  const rows = await psql(srv.db, 'SELECT count(*) FROM events');
  const headers = await psql(srv.db, 'SELECT count(*) FROM vmdb_headers');
  await psql(srv.db, 'UPDATE vmdb_state SET seq = seq + 5');
  for (const body of [{ records: [{ what: 'create' }] }, { records: [{ id: '1', what: 'upsert' }] }]) {
    const route = body.records[0].id ? 'upsert' : 'create-batch';
    const f = fails(await post(srv.url, `/api/models/events/${route}`, body), 503, 'WRITES_UNAVAILABLE', route);
    assert.match(f.error, /changed outside vmdb/, f.error);
  }
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM events'), rows, 'no row written');
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM vmdb_headers'), headers, 'no header written');
  const h = await health(srv.url);
  assert.equal(h.status, 'degraded');
  assert.match(h.writes, /state row changed outside vmdb/);
  // Reads name the state the rows came from, which no signed header has.
  fails(await post(srv.url, '/api/models/events/read-batch', { ids: ['1'] }), 400, 'INTEGRITY_VIOLATION', 'read');
});

test('ALLOW_MULTI_INSTANCE=true: two instances writing in turn both commit; each catches up with the other\'s headers', async (t) => {
  const a = await startServer({ env: { ALLOW_MULTI_INSTANCE: 'true' } });
  t.after(() => a.stop());
  await applySchema(a.url, [LOG]);
  // The instances share the identity key and the data directory: one
  // signer, one trusted state.
  const b = await startServer({ db: a.db, dataDir: a.dataDir, env: { ALLOW_MULTI_INSTANCE: 'true' } });
  t.after(() => b.stop());
  const ids = [];
  let seq = (await health(a.url)).seq;
  for (let i = 0; i < 6; i++) {
    const s = i % 2 ? b : a;
    const d = ok(await post(s.url, '/api/models/events/create-batch', { records: [{ what: `turn ${i}` }] }), `write ${i}`);
    assert.equal(d.meta.seq, seq + 1, `write ${i} extends the shared chain`);
    seq = d.meta.seq;
    ids.push(...d.ids);
  }
  for (const s of [a, b]) {
    const h = await health(s.url);
    assert.equal(h.writes, 'ok', JSON.stringify(h));
    assert.equal(h.integrity.ok, true);
  }
  // The last writer knows every row; the other verifies them after it
  // catches up on its next write.
  const r = ok(await post(b.url, '/api/models/events/read-batch', { ids }));
  assert.equal(r.verified, true);
  assert.equal(r.records.length, ids.length);
  ok(await post(a.url, '/api/models/events/create-batch', { records: [{ what: 'catch up' }] }));
  assert.equal(ok(await post(a.url, '/api/models/events/read-batch', { ids })).records.length, ids.length);
});

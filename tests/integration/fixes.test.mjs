// The small fixes of issue 13: a value too large for an index (400
// INVALID_VALUE), /bootstrap/schema listing only managed tables, /health's
// integrity clearing after a repairing transition, ambiguous HTTP framing
// (400 BAD_REQUEST and close), a column named like the primary key (the
// seed's rule, kept), the serial sequence moved past client-supplied ids,
// and a lost database connection outside COMMIT (503 DB_UNAVAILABLE).
// COMPATIBILITY.md lists each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import {
  startServer, psql, post, get, ok, fails, health, applySchema, countRows,
} from './lib.mjs';

const NOTES = {
  table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'body', col_type: 'text' }, { name: 'slug', col_type: 'text', nullable: true, unique: true }],
};
const BIG = {
  table_name: 'events', primary_key_field: 'id', primary_key_kind: 'big_serial',
  columns: [{ name: 'what', col_type: 'text' }],
};
const KEYS = {
  table_name: 'keys', primary_key_field: 'k', primary_key_kind: 'text',
  columns: [{ name: 'v', col_type: 'text', nullable: true }],
};

// About 3 KB that PostgreSQL cannot compress below the btree entry limit
// (about 2700 bytes): random base64.
const bigText = () => crypto.randomBytes(2400).toString('base64');

test('a ~3 KB value in a unique or primary-key column answers 400 INVALID_VALUE and writes nothing', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES, KEYS]);
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'a' }] }));
  const root = (await health(srv.url)).temporary_root;

  const cases = [
    ['/api/models/notes/create-batch', { records: [{ body: 'b', slug: bigText() }] }],
    ['/api/models/notes/create-batch', { records: [{ body: 'c' }, { body: 'd', slug: bigText() }] }],
    ['/api/models/notes/upsert', { records: [{ id: 1, slug: bigText() }] }],
    ['/api/models/keys/create-batch', { records: [{ k: bigText(), v: 'x' }] }],
    ['/api/models/keys/upsert', { records: [{ k: bigText(), v: 'x' }] }],
  ];
  for (const [route, body] of cases) {
    const f = fails(await post(srv.url, route, body), 400, 'INVALID_VALUE', route);
    assert.match(f.error, /too large/, f.error);
  }
  assert.equal(await countRows(srv.db, 'notes'), 1);
  assert.equal(await countRows(srv.db, 'keys'), 0);
  assert.equal(await psql(srv.db, 'SELECT count(*) FROM notes WHERE slug IS NOT NULL'), '0');
  const h = await health(srv.url);
  assert.equal(h.temporary_root, root, 'nothing was written');
  assert.equal(h.status, 'ok');
  // A large value in a column without an index is fine.
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: bigText() }] }));
  // In a group with good writes, only the bad one fails.
  const rs = await Promise.all([
    post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'g1' }] }),
    post(srv.url, '/api/models/keys/create-batch', { records: [{ k: bigText() }] }),
    post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'g2' }] }),
  ]);
  ok(rs[0]);
  fails(rs[1], 400, 'INVALID_VALUE');
  ok(rs[2]);
  assert.equal(await countRows(srv.db, 'notes'), 4);
});

test('/bootstrap/schema lists only the tables vmdb manages', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES, KEYS]);
  await psql(srv.db, 'CREATE TABLE secrets (id int PRIMARY KEY, password text)');
  const s = await get(srv.url, '/bootstrap/schema');
  assert.equal(s.status, 200);
  assert.deepEqual(s.json.tables.map((x) => x.table_name), ['keys', 'notes']);
  assert.ok(!s.text.includes('secrets') && !s.text.includes('password'), s.text);
  assert.ok(!s.text.includes('vmdb_') && !s.text.includes('verifiable_'), 'internal tables stay hidden');
  const notes = s.json.tables.find((x) => x.table_name === 'notes');
  assert.deepEqual(notes.columns.map((c) => c.name), ['id', 'body', 'slug']);
  assert.deepEqual(notes.primary_key, ['id']);
});

async function violate(srv, id) {
  await psql(srv.db, `UPDATE notes SET body = 'evil' WHERE id = ${id}`);
  fails(await post(srv.url, '/api/models/notes/read-batch', { ids: [String(id)] }), 400, 'INTEGRITY_VIOLATION');
  const h = await health(srv.url);
  assert.equal(h.integrity.ok, false);
  assert.equal(h.status, 'degraded');
  return h;
}

function assertClean(h, what) {
  assert.equal(h.integrity.ok, true, `${what}: ${JSON.stringify(h.integrity)}`);
  assert.equal(h.integrity.violations, 0, what);
  assert.equal(h.integrity.last, undefined, what);
  assert.equal(h.status, 'ok', what);
  assert.equal(h.writes, 'ok', what);
}

test('/health integrity is ok again after repair-roots, clear-data and a reset; later violations count anew', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES]);
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'a' }, { body: 'b' }, { body: 'c' }] }));
  assertClean(await health(srv.url), 'fresh');

  let h = await violate(srv, 1);
  assert.equal(h.integrity.violations, 1);
  ok(await post(srv.url, '/bootstrap/repair-roots', { confirm: true, accept_changes: true }), 'repair-roots');
  assertClean(await health(srv.url), 'after repair-roots');
  ok(await post(srv.url, '/api/models/notes/read-batch', { ids: ['1'] }));

  h = await violate(srv, 2);
  assert.equal(h.integrity.violations, 1, 'counted anew after the repair');
  assert.deepEqual(h.integrity.last.ids, ['2']);
  ok(await post(srv.url, '/bootstrap/clear-data', { confirm: true }), 'clear-data');
  assertClean(await health(srv.url), 'after clear-data');

  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'd' }] }));
  await violate(srv, 4);
  ok(await post(srv.url, '/bootstrap/apply-schema', { tables: [NOTES], force_reset: true }), 'reset');
  assertClean(await health(srv.url), 'after the reset');
  // A failed transition clears nothing.
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'e' }] }));
  await violate(srv, 1);
  fails(await post(srv.url, '/bootstrap/repair-roots', {}), 400, 'CONFIRM_REQUIRED');
  assert.equal((await health(srv.url)).integrity.ok, false);
});

/** Sends raw bytes; resolves with everything the server sent until it closed (or `ms` passed). */
function rawExchange(port, bytes, ms = 5000) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const chunks = [];
    let closed = false;
    const timer = setTimeout(() => { sock.destroy(); resolve({ text: Buffer.concat(chunks).toString('latin1'), closed }); }, ms);
    sock.on('connect', () => sock.write(bytes));
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (e) => { if (e.code !== 'ECONNRESET') { clearTimeout(timer); reject(e); } });
    sock.on('close', () => { closed = true; clearTimeout(timer); resolve({ text: Buffer.concat(chunks).toString('latin1'), closed }); });
  });
}

test('Content-Length with Transfer-Encoding (or Content-Length twice) answers 400 BAD_REQUEST and closes', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES]);
  const body = '{"records":[{"body":"smuggled"}]}';
  const chunked = `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  const follow = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';
  const cases = [
    `POST /api/models/notes/create-batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n${chunked}${follow}`,
    `POST /api/models/notes/create-batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: ${chunked.length}\r\n\r\n${chunked}${follow}`,
    `POST /api/models/notes/create-batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\ncontent-length: ${body.length}\r\nContent-Length: ${body.length}\r\n\r\n${body}${follow}`,
  ];
  for (const c of cases) {
    const r = await rawExchange(srv.port, c);
    assert.ok(r.closed, 'the connection is closed');
    assert.match(r.text, /^HTTP\/1\.1 400 /, r.text);
    assert.match(r.text, /"code":"BAD_REQUEST"/, r.text);
    assert.equal(r.text.match(/HTTP\/1\.1 /g).length, 1, `one answer only: ${r.text}`);
  }
  assert.equal(await countRows(srv.db, 'notes'), 0, 'nothing was written');
  // Either framing alone is fine.
  for (const c of [
    `POST /api/models/notes/create-batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunked}`,
    `POST /api/models/notes/create-batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  ]) {
    const r = await rawExchange(srv.port, c);
    assert.match(r.text, /^HTTP\/1\.1 200 /, r.text);
  }
  assert.equal(await countRows(srv.db, 'notes'), 2);
  assert.equal((await health(srv.url)).status, 'ok');
});

test('a column named like the primary key: the key wins (the seed rule), the column is kept in the registry only', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  const spec = {
    table_name: 'items', primary_key_field: 'id', primary_key_kind: 'serial',
    columns: [{ name: 'ID', col_type: 'text', nullable: true }, { name: 'name', col_type: 'text' }],
  };
  await applySchema(srv.url, [spec]);
  assert.equal(await psql(srv.db, "SELECT data_type || ' ' || (column_default IS NOT NULL) FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'id'"),
    'integer true', 'the key column is the serial key');
  assert.match(await psql(srv.db, "SELECT columns::text FROM verifiable_models WHERE table_name = 'items'"), /"name": "id"/);
  const c = ok(await post(srv.url, '/api/models/items/create-batch', { records: [{ name: 'a' }] }));
  assert.deepEqual(c.ids, ['1']);
  // The value is the key's: an integer, not the declared text.
  fails(await post(srv.url, '/api/models/items/create-batch', { records: [{ id: 'x', name: 'b' }] }), 400, 'VALIDATION_FAILED');
  // Same spec again: no reset (the column is part of the schema hash).
  assert.equal((await applySchema(srv.url, [spec])).reset_performed, false);
});

test('client-supplied serial ids move the sequence: the next plain create does not collide', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES, BIG]);
  const create = async (table, records) => ok(await post(srv.url, `/api/models/${table}/create-batch`, { records }), table).ids;

  // A fresh sequence (never drawn from): the explicit id is its first value.
  assert.deepEqual(await create('notes', [{ id: 1, body: 'x' }]), ['1']);
  assert.deepEqual(await create('notes', [{ body: 'plain' }]), ['2']);
  // The sequence's next value, then one further ahead.
  assert.deepEqual(await create('notes', [{ id: 3, body: 'x' }, { id: 7, body: 'y' }]), ['3', '7']);
  assert.deepEqual(await create('notes', [{ body: 'plain' }, { body: 'plain' }]), ['8', '9']);
  // An upsert that inserts a new key.
  ok(await post(srv.url, '/api/models/notes/upsert', { records: [{ id: 20, body: 'u' }] }));
  assert.deepEqual(await create('notes', [{ body: 'plain' }]), ['21']);
  // A lower explicit id leaves the sequence alone.
  assert.deepEqual(await create('notes', [{ id: 15, body: 'low' }]), ['15']);
  assert.deepEqual(await create('notes', [{ body: 'plain' }]), ['22']);
  // A failed write does not count... but may leave a gap: ids only grow.
  fails(await post(srv.url, '/api/models/notes/create-batch', { records: [{ id: 30, body: 'x', slug: 's' }, { id: 31, body: 'y', slug: 's' }] }), 409, 'CONSTRAINT_VIOLATION');
  const after = Number((await create('notes', [{ body: 'plain' }]))[0]);
  assert.ok(after >= 23, `${after}`);

  // big_serial beyond 2^31, and several requests in one group.
  assert.deepEqual(await create('events', [{ id: '5000000000', what: 'far' }]), ['5000000000']);
  const rs = await Promise.all(Array.from({ length: 8 }, (_, i) => post(srv.url, '/api/models/events/create-batch', { records: [{ what: `p${i}` }] })));
  const ids = rs.map((r) => ok(r).ids[0]);
  for (const id of ids) assert.ok(BigInt(id) > 5000000000n, id);
  assert.equal(new Set(ids).size, 8);
  assert.equal((await health(srv.url)).status, 'ok');
});

async function waiting(srv, appName) {
  for (let i = 0; i < 200; i++) {
    const n = await psql(srv.db, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
      AND application_name = '${appName}' AND wait_event_type = 'Lock'`);
    if (n !== '0') return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`${appName} never waited on the lock`);
}

async function terminate(srv, appName, onlyWaiting = false) {
  const n = await psql(srv.db, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = '${appName}' AND pid <> pg_backend_pid()
    ${onlyWaiting ? "AND wait_event_type = 'Lock'" : ''}`);
  assert.ok(Number(n) >= 1, `terminated ${appName}: ${n}`);
}

// PostgreSQL stopping (fast shutdown) ends each backend with FATAL 57P01;
// a backend busy with a statement sends it as that statement's error. The
// statements are held on a table lock, then their backends terminated.
test('a database connection lost outside COMMIT answers 503 DB_UNAVAILABLE, and the next request reconnects', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES]);
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'a' }] }));
  const root = (await health(srv.url)).temporary_root;

  // A write and a read in flight.
  const holder = psql(srv.db, 'BEGIN; LOCK TABLE notes IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;');
  await new Promise((r) => setTimeout(r, 300));
  const w = post(srv.url, '/api/models/notes/upsert', { records: [{ id: 1, body: 'lost' }] });
  const rd = post(srv.url, '/api/models/notes/read-batch', { ids: ['1'] });
  await waiting(srv, 'vmdb-writer');
  await waiting(srv, 'vmdb-read');
  await terminate(srv, 'vmdb-writer', true);
  await terminate(srv, 'vmdb-read', true);
  fails(await w, 503, 'DB_UNAVAILABLE');
  fails(await rd, 503, 'DB_UNAVAILABLE');
  await holder;
  assert.equal(await psql(srv.db, 'SELECT body FROM notes WHERE id = 1'), 'a');
  assert.equal((await health(srv.url)).temporary_root, root);

  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'b' }] }), 'the writer reconnects');
  ok(await post(srv.url, '/api/models/notes/read-batch', { ids: ['1'] }), 'reads reconnect');

  // An idle connection that was cut: the next statement finds it closed.
  await terminate(srv, 'vmdb-writer');
  await new Promise((r) => setTimeout(r, 200));
  const w2 = await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'maybe' }] });
  if (w2.status !== 200) fails(w2, 503, 'DB_UNAVAILABLE');
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'c' }] }), 'the writer reconnects');
  const h = await health(srv.url);
  assert.equal(h.integrity.ok, true);
  assert.equal(h.writes, 'ok');
});

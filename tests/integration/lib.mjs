// Integration test harness: a real PostgreSQL (scripts/pgcluster.sh), real
// `vmdb serve` processes, real HTTP. Node built-ins only.
//
//   startPg()                 -> {url, dir, stop()}   cluster (shared via VMDB_TEST_PG_URL)
//   createDb(name)            -> database URL of a new, empty database
//   psql(dbUrl, sql)          -> stdout of `psql -X -At -v ON_ERROR_STOP=1`
//   startServer({env, db, dataDir, cwd, bin})
//                             -> {url, db, dataDir, port, proc, stop(), kill9(), log()}
//   post(url, path, body, {headers}) / get(url, path, {headers})
//                             -> {status, json, text, headers}
//   encodeHeader(h) / headerHashOf(h) / verifyHeaderSig(h, pkHex[, context])
//                             PROTOCOL.md §6, §6.1 and §12 for a header in its JSON form
//   readAnchorFile(dataDir, v) -> records of anchors.bin (v 1) or anchors2.bin (v 2)
//
// Environment: VMDB_BIN (default build/vmdb, relative to the repository root),
// VMDB_TEST_PG_URL (a running cluster's URL, e.g. postgres://u@127.0.0.1:p/postgres;
// without it each test file starts its own cluster), VMDB_TEST_KEEP=1 keeps
// temporary directories and logs, VMDB_EXPECT_TEST_HOOKS=1 makes the tests
// that need a -DVMDB_TEST_HOOKS=ON build fail instead of skip without one
// (skipWithoutHooks).
import { spawn, execFile, spawnSync } from 'node:child_process';
import { createHash, createPublicKey, verify as edVerify } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = path.resolve(ROOT, process.env.VMDB_BIN || 'build/vmdb');
export const ZERO_ROOT = '0'.repeat(64);
const KEEP = process.env.VMDB_TEST_KEEP === '1';

// ---------------------------------------------------------------------------
// temporary directories, cleaned at exit
// ---------------------------------------------------------------------------

const tempDirs = [];
const exitHooks = [];
let exitHooked = false;
function hookExit() {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', () => {
    for (const f of exitHooks.splice(0).reverse()) {
      try { f(); } catch { /* best effort */ }
    }
    if (!KEEP) for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  });
}

/** A new temporary directory (mode 755, so the postgres user can traverse it). */
export function tempDir(prefix = 'vmdb-it-') {
  hookExit();
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(d, 0o755);
  tempDirs.push(d);
  return d;
}

// ---------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------

let pgPromise = null;

function run(cmd, args, { input, env, timeout = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { env: env || process.env, timeout, maxBuffer: 256 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          err.message = `${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`;
          err.stdout = stdout;
          err.stderr = stderr;
          reject(err);
        } else resolve({ stdout, stderr });
      });
    if (input !== undefined) child.stdin.end(input);
  });
}

/**
 * The PostgreSQL cluster of this test run: the one named by VMDB_TEST_PG_URL
 * (started by scripts/test.sh for all test files), or a private one with fsync
 * off in a temporary directory, stopped and deleted when the process exits.
 * Returns {url, dir, stop()}; url is postgres://user@127.0.0.1:port/postgres.
 */
export function startPg() {
  if (!pgPromise) {
    pgPromise = (async () => {
      if (process.env.VMDB_TEST_PG_URL) {
        return { url: process.env.VMDB_TEST_PG_URL, dir: null, stop: async () => {} };
      }
      const dir = path.join(tempDir('vmdb-pg-'), 'pg');
      const script = path.join(ROOT, 'scripts', 'pgcluster.sh');
      const { stdout } = await run(script, ['start', dir, 'auto', '--no-fsync']);
      const url = stdout.trim().split('\n').pop();
      let stopped = false;
      const stop = async () => {
        if (stopped) return;
        stopped = true;
        await run(script, [KEEP ? 'stop' : 'destroy', dir]);
      };
      exitHooks.push(() => { if (!stopped) spawnSync(script, [KEEP ? 'stop' : 'destroy', dir], { stdio: 'ignore' }); });
      return { url, dir, stop };
    })();
  }
  return pgPromise;
}

/** URL of `dbname` on the cluster whose URL is `url`. */
export function dbUrl(url, dbname) {
  const u = new URL(url);
  u.pathname = '/' + dbname;
  return u.toString();
}

let dbCounter = 0;
/**
 * Creates a new, empty database on the test cluster and returns its URL. The
 * name is `name` plus a suffix unique to this process (test files run in
 * parallel on one cluster).
 */
export async function createDb(name = 'vmdb_it') {
  const pg = await startPg();
  const safe = String(name).toLowerCase().replace(/[^a-z0-9_]/g, '_').slice(0, 40);
  const dbname = `${safe}_${process.pid}_${++dbCounter}`;
  await psql(pg.url, `CREATE DATABASE "${dbname}"`);
  return dbUrl(pg.url, dbname);
}

/** Runs SQL with the psql client; returns its stdout (-At: unaligned, tuples only) without the final newline. */
export async function psql(url, sql) {
  const { stdout } = await run('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', '-'], { input: sql });
  return stdout.replace(/\n$/, '');
}

/** Number of rows of `table` (a quoted identifier is used). */
export async function countRows(db, table) {
  return Number(await psql(db, `SELECT count(*) FROM "${table.replace(/"/g, '""')}"`));
}

/** {table: rowcount} for every base table of schema public, internal tables included. */
export async function tableCounts(db) {
  const names = (await psql(db,
    `SELECT table_name FROM information_schema.tables
      WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`))
    .split('\n').filter(Boolean);
  const out = {};
  for (const n of names) out[n] = await countRows(db, n);
  return out;
}

// ---------------------------------------------------------------------------
// vmdb server processes
// ---------------------------------------------------------------------------

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { sleep };

/**
 * Spawns `vmdb serve` without waiting for it to answer. Options:
 *   db       database URL (default: a new database)
 *   dataDir  VMDB_DATA_DIR (default: a new temporary directory); pass the
 *            previous server's dataDir (and db) to restart "the same" server
 *   cwd      working directory (default: dataDir, so no stray .env or
 *            ./migrations is picked up)
 *   env      extra environment (overrides)
 *   bin      binary (default VMDB_BIN or build/vmdb)
 *   port     listen port (default: a free one)
 * Returns {url, db, dataDir, port, proc, exited (promise of {code, signal}), log()}.
 */
export async function spawnServer(opts = {}) {
  const db = opts.db || await createDb(opts.dbName || 'vmdb_it');
  const dataDir = opts.dataDir || tempDir('vmdb-data-');
  const port = opts.port || await freePort();
  const logDir = opts.logDir || tempDir('vmdb-log-');
  const logFile = path.join(logDir, `vmdb-${port}-${Date.now()}.log`);
  const fd = fs.openSync(logFile, 'a');
  const env = { ...process.env };
  for (const k of ['DATABASE_URL', 'VMDB_LISTEN', 'VMDB_DATA_DIR', 'BATCH_COMMIT_SIZE',
    'ALLOW_MULTI_INSTANCE', 'VMDB_MIGRATIONS_DIR', 'CLEAR_DB']) delete env[k];
  Object.assign(env, {
    DATABASE_URL: db,
    VMDB_LISTEN: `127.0.0.1:${port}`,
    VMDB_DATA_DIR: dataDir,
  }, opts.env || {});
  for (const [k, v] of Object.entries(env)) if (v === undefined || v === null) delete env[k];
  const bin = opts.bin || BIN;
  const proc = spawn(bin, ['serve', ...(opts.args || [])], { cwd: opts.cwd || dataDir, env, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const exited = new Promise((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
    proc.on('error', (err) => resolve({ code: null, signal: null, error: err }));
  });
  let done = false;
  exited.then(() => { done = true; });
  exitHooks.push(() => { if (!done) try { proc.kill('SIGKILL'); } catch { /* gone */ } });
  hookExit();
  const log = () => { try { return fs.readFileSync(logFile, 'utf8'); } catch { return ''; } };
  return { url: `http://127.0.0.1:${port}`, db, dataDir, port, proc, exited, log, logFile, isRunning: () => !done };
}

/**
 * Starts `vmdb serve` (options of spawnServer) and waits until GET /health
 * answers (any status). Returns {url, db, dataDir, port, proc, log(),
 * stop() -> {code, signal} (SIGTERM, then SIGKILL after 20 s), kill9()}.
 */
export async function startServer(opts = {}) {
  const s = await spawnServer(opts);
  const deadline = Date.now() + (opts.startTimeoutMs || 30_000);
  let exitInfo = null;
  s.exited.then((e) => { exitInfo = e; });
  for (;;) {
    if (exitInfo) {
      throw new Error(`vmdb serve exited during start-up (${JSON.stringify(exitInfo)}); log:\n${s.log()}`);
    }
    try {
      const r = await fetch(s.url + '/health', { signal: AbortSignal.timeout(2000) });
      await r.arrayBuffer();
      break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) {
      s.proc.kill('SIGKILL');
      throw new Error(`vmdb serve did not answer /health within the timeout; log:\n${s.log()}`);
    }
    await sleep(50);
  }
  const stopWith = async (sig, graceMs) => {
    if (!s.isRunning()) return s.exited;
    s.proc.kill(sig);
    const t = setTimeout(() => { try { s.proc.kill('SIGKILL'); } catch { /* gone */ } }, graceMs);
    const r = await s.exited;
    clearTimeout(t);
    // A sanitizer build reports memory errors, UB and leaks in the server's
    // log; any such report fails the test that ran the server.
    const report = s.log().match(/(ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:)[^\n]*/);
    if (report) throw new Error(`sanitizer report in the server log (${s.logFile}): ${report[0]}\n${s.log().slice(-4000)}`);
    return r;
  };
  return {
    ...s,
    stop: (sig = 'SIGTERM') => stopWith(sig, 20_000),
    kill9: () => stopWith('SIGKILL', 10_000),
  };
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

async function request(method, url, pathname, body, { headers = {}, timeoutMs = 30_000 } = {}) {
  const h = {};
  let payload;
  if (body !== undefined) {
    h['content-type'] = 'application/json';
    // Always bytes: fetch would add `text/plain` to a string body without a Content-Type.
    payload = (Buffer.isBuffer(body) || body instanceof Uint8Array)
      ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  }
  for (const [k, v] of Object.entries(headers)) {
    const lk = k.toLowerCase();
    if (v === null || v === undefined) delete h[lk]; else h[lk] = v;
  }
  const res = await fetch(url + pathname, { method, headers: h, body: payload, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text, headers: res.headers };
}

/** POST `body` (an object is sent as JSON; a string or Buffer as is) with Content-Type: application/json unless headers say otherwise (null removes a header). */
export function post(url, pathname, body, opts = {}) { return request('POST', url, pathname, body, opts); }
export function get(url, pathname, opts = {}) { return request('GET', url, pathname, undefined, opts); }
export function httpRequest(method, url, pathname, body, opts = {}) { return request(method, url, pathname, body, opts); }

// ---------------------------------------------------------------------------
// assertions on the API envelope
// ---------------------------------------------------------------------------

const show = (r) => `${r.status} ${r.text.slice(0, 2000)}`;

/** Asserts a 200 success envelope; returns data. */
export function ok(r, msg = '') {
  assert.equal(r.status, 200, `${msg} expected 200, got ${show(r)}`);
  assert.equal(r.json?.success, true, `${msg} success must be true: ${show(r)}`);
  assert.equal(r.json.error, undefined, `${msg} error must be absent on success`);
  return r.json.data;
}

/**
 * Asserts a failure envelope: the status, success:false, a string `error`
 * and a string `code` (equal to `code` when given). Returns the body.
 */
export function fails(r, status, code, msg = '') {
  assert.equal(r.status, status, `${msg} expected ${status}${code ? ' ' + code : ''}, got ${show(r)}`);
  assertFailureEnvelope(r, msg);
  if (code) assert.equal(r.json.code, code, `${msg} code: ${show(r)}`);
  return r.json;
}

/** Every failure: JSON, success:false, string error, string code. */
export function assertFailureEnvelope(r, msg = '') {
  assert.ok(r.json && typeof r.json === 'object', `${msg} failure body must be a JSON envelope: ${show(r)}`);
  assert.equal(r.json.success, false, `${msg} success must be false: ${show(r)}`);
  assert.equal(typeof r.json.error, 'string', `${msg} error must be a string: ${show(r)}`);
  assert.equal(typeof r.json.code, 'string', `${msg} code must be a string: ${show(r)}`);
  assert.match(r.json.code, /^[A-Z][A-Z0-9_]*$/, `${msg} code looks like a stable code`);
}

// ---------------------------------------------------------------------------
// test builds (-DVMDB_TEST_HOOKS=ON)
// ---------------------------------------------------------------------------

/** VMDB_EXPECT_TEST_HOOKS=1: the binary under test is a build with the hooks. */
export const EXPECT_TEST_HOOKS = process.env.VMDB_EXPECT_TEST_HOOKS === '1';

/**
 * For a test that needs the test hooks: true when it must stop (the build
 * has none, and none were expected: the test is skipped). When they were
 * expected (VMDB_EXPECT_TEST_HOOKS=1) a build without them fails the test
 * instead, so that a hook test cannot skip silently in every pass. `what`
 * says what the test needs the hooks for.
 */
export function skipWithoutHooks(t, hasHooks, what = '') {
  if (hasHooks) return false;
  const why = `this build has no test hooks (VMDB_TEST_HOOKS)${what ? ': ' + what : ''}`;
  assert.ok(!EXPECT_TEST_HOOKS, `${why}, but VMDB_EXPECT_TEST_HOOKS=1 says it must (${BIN})`);
  t.skip(why);
  return true;
}

export const isHex64 = (s) => typeof s === 'string' && /^[0-9a-f]{64}$/.test(s);

/** GET /health data (asserts the shape vmdb documents). */
export async function health(url) {
  const r = await get(url, '/health');
  assert.ok(r.json && r.json.data, `health: ${show(r)}`);
  return r.json.data;
}

// ---------------------------------------------------------------------------
// protocol v1 (docs/PROTOCOL.md) in a few lines, for independent checks
// ---------------------------------------------------------------------------

const H = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? Buffer.from(p, 'utf8') : p);
  return h.digest();
};

/** Row key of PROTOCOL.md §1 (Buffer). */
export function rowKey(table, pk) {
  const t = Buffer.from(table, 'utf8');
  const p = Buffer.from(String(pk), 'utf8');
  const l16 = Buffer.alloc(2); l16.writeUInt16BE(t.length);
  const l32 = Buffer.alloc(4); l32.writeUInt32BE(p.length);
  return H('vmdb/v1/key', Buffer.from([0]), l16, t, l32, p);
}

/** Id-range key of PROTOCOL.md §10 for a serial table (Buffer). */
export function rangeKey(table) {
  const t = Buffer.from(table, 'utf8');
  const l16 = Buffer.alloc(2); l16.writeUInt16BE(t.length);
  return H('vmdb/v2/id-range-key', Buffer.from([0]), l16, t);
}

/** Id-range value of PROTOCOL.md §10 for the lowest and highest id (Buffer). */
export function rangeValue(lo, hi) {
  const l = Buffer.from(String(lo), 'utf8'), h = Buffer.from(String(hi), 'utf8');
  const ll = Buffer.alloc(4); ll.writeUInt32BE(l.length);
  const hl = Buffer.alloc(4); hl.writeUInt32BE(h.length);
  return H('vmdb/v2/id-range', Buffer.from([0]), ll, l, hl, h);
}

/** The range leaf {key, value} of a serial table. */
export function rangeLeaf(table, lo, hi) {
  return { key: rangeKey(table), value: rangeValue(lo, hi) };
}

/** The range leaves of the rows of vmdb_id_ranges (of `tables` when given). */
export async function storedRangeLeaves(db, tables) {
  const out = (await psql(db, 'SELECT table_name, lo, hi FROM vmdb_id_ranges ORDER BY 1'))
    .split('\n').filter(Boolean).map((l) => l.split('|'));
  return out.filter(([t]) => !tables || tables.includes(t)).map(([t, lo, hi]) => rangeLeaf(t, lo, hi));
}

/** Transition-record leaf of PROTOCOL.md §14.2 for header seq and the record's JCS text. */
export function transitionLeaf(seq, recordText) {
  const s = Buffer.alloc(8); s.writeBigUInt64BE(BigInt(seq));
  return {
    key: H('vmdb/v2/transition-key', Buffer.from([0]), s),
    value: H('vmdb/v2/transition', Buffer.from([0]), Buffer.from(recordText, 'utf8')),
  };
}

/** The transition-record leaves of the rows of vmdb_transitions. */
export async function storedTransitionLeaves(db) {
  const out = await psql(db, "SELECT coalesce(json_agg(json_build_object('seq', seq, 'record', record) ORDER BY seq), '[]') FROM vmdb_transitions");
  return JSON.parse(out).map((r) => transitionLeaf(r.seq, r.record));
}

/** RFC 8785 JCS of a parsed JSON value (keys sorted by UTF-16 code units, ECMAScript numbers). */
export function jcs(v) {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') {
    if (typeof v === 'number') return Object.is(v, -0) ? '0' : String(v);
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(jcs).join(',')}]`;
  const keys = Object.keys(v).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${JSON.stringify(k)}:${jcs(v[k])}`).join(',')}}`;
}

/** Row value of PROTOCOL.md §2 for a row object as the API returns it (Buffer). */
export function rowValue(row) {
  return H('vmdb/v1/row', Buffer.from([0]), Buffer.from(jcs(row), 'utf8'));
}

/** Tree root of PROTOCOL.md §3 over [{key, value}] (Buffers); hex. */
export function smtRootHex(leaves) {
  const bit = (k, i) => (k[i >> 3] >> (7 - (i & 7))) & 1;
  const rootOf = (S, d) => {
    if (S.length === 0) return Buffer.alloc(32);
    if (S.length === 1) return H(Buffer.from([0]), S[0].key, S[0].value);
    const S0 = [], S1 = [];
    for (const l of S) (bit(l.key, d) ? S1 : S0).push(l);
    return H(Buffer.from([1]), rootOf(S0, d + 1), rootOf(S1, d + 1));
  };
  return rootOf(leaves, 0).toString('hex');
}

// ---------------------------------------------------------------------------
// schema helpers
// ---------------------------------------------------------------------------

/** POST /bootstrap/apply-schema and assert success; returns data. */
export async function applySchema(url, tables, forceReset = false) {
  const r = await post(url, '/bootstrap/apply-schema', { tables, force_reset: forceReset });
  return ok(r, 'apply-schema');
}

/** The README's `agents` table (serial id). */
export const README_AGENTS = {
  table_name: 'agents',
  primary_key_field: 'id',
  primary_key_kind: 'serial',
  columns: [
    { name: 'name', col_type: 'text', unique: true, nullable: false },
    { name: 'description', col_type: 'text', nullable: true },
    { name: 'metadata', col_type: 'jsonb', nullable: true },
    { name: 'created_at', col_type: 'timestamptz', nullable: false },
  ],
};

/** The three tables of seed scenario S1 (tests/test_schema_update.rs). */
export const S1_TABLES = [
  {
    table_name: 'agents', primary_key_field: 'id', primary_key_kind: 'big_serial',
    columns: [
      { name: 'name', col_type: 'text', nullable: false, unique: true },
      { name: 'character', col_type: 'jsonb', nullable: false },
      { name: 'created_at', col_type: 'timestamptz', nullable: true },
      { name: 'updated_at', col_type: 'timestamptz', nullable: true },
    ],
  },
  {
    table_name: 'follow_queue', primary_key_field: 'id', primary_key_kind: 'serial',
    columns: [
      { name: 'user_id', col_type: 'text', nullable: false },
      { name: 'username', col_type: 'text', nullable: false },
      { name: 'type', col_type: 'text', nullable: true },
      { name: 'agent_id', col_type: 'big_int', nullable: false },
      { name: 'created_at', col_type: 'timestamptz', nullable: true },
      { name: 'updated_at', col_type: 'timestamptz', nullable: true },
    ],
  },
  {
    table_name: 'agent_tweets', primary_key_field: 'id', primary_key_kind: 'serial',
    columns: [
      { name: 'agent_id', col_type: 'big_int', nullable: true },
      { name: 'tweet_id', col_type: 'text', nullable: true, unique: true },
      { name: 'content', col_type: 'text', nullable: true },
      { name: 'type', col_type: 'text', nullable: true },
      { name: 'type_of_post', col_type: 'text', nullable: true },
      { name: 'status', col_type: 'text', nullable: true },
      { name: 'poll_options', col_type: 'jsonb', nullable: true },
    ],
  },
];

/**
 * Root of the tree over every row of the given managed tables, computed here
 * from the rows vmdb returns (read-batch of every key found with psql), plus
 * the id-range leaves of those tables as vmdb_id_ranges holds them
 * (PROTOCOL.md §10; range.test.mjs checks the ranges themselves).
 */
export async function expectedRootFromRows(url, db, tables) {
  const leaves = [];
  for (const { table, pk } of tables) {
    const ids = (await psql(db, `SELECT "${pk}"::text FROM "${table}"`)).split('\n').filter(Boolean);
    for (let i = 0; i < ids.length; i += 1000) {
      const chunk = ids.slice(i, i + 1000);
      const d = ok(await post(url, `/api/models/${table}/read-batch`, { ids: chunk }), `read-batch ${table}`);
      assert.equal(d.verified, true);
      for (let j = 0; j < d.ids.length; j++) {
        leaves.push({ key: rowKey(table, d.ids[j]), value: rowValue(d.records[j]) });
      }
    }
  }
  leaves.push(...await storedRangeLeaves(db, tables.map((x) => x.table)));
  leaves.push(...await storedTransitionLeaves(db));
  return smtRootHex(leaves);
}

// ---------------------------------------------------------------------------
// protocol helpers (PROTOCOL.md §6, §6.1, §8.2, §12), written from the text
// ---------------------------------------------------------------------------

const KINDS = ['genesis', 'write', 'reset', 'clear', 'repair', 'migrate', 'upgrade'];
const u64be = (v) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(v)); return b; };
const hexb = (s) => Buffer.from(s, 'hex');

/** The encoding of a header in its JSON form: 178 bytes (v2) or 144 (v1). */
export function encodeHeader(h) {
  const tail = [hexb(h.smt_root), hexb(h.prev), hexb(h.history_root), u64be(h.time_ms), hexb(h.schema_hash)];
  if (h.version === 1) return Buffer.concat([u64be(h.seq), ...tail]);
  assert.equal(h.version, 2, 'header version');
  const k = KINDS.indexOf(h.kind);
  assert.ok(k >= 0, `header kind ${h.kind}`);
  return Buffer.concat([Buffer.from([2]), u64be(h.seq), Buffer.from([k]), hexb(h.chain_id), ...tail]);
}

/** header_hash of an encoding (its version by its length). */
export function headerHashOfEncoding(enc) {
  const tag = enc.length === 144 ? 'vmdb/v1/header\0' : 'vmdb/v2/header\0';
  return createHash('sha256').update(tag).update(enc).digest();
}

/** header_hash of a header in its JSON form. */
export const headerHashOf = (h) => headerHashOfEncoding(encodeHeader(h));

/** The Ed25519 public key object of a 32-byte hex key. */
export function ed25519Key(pkHex) {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: hexb(pkHex).toString('base64url') }, format: 'jwk' });
}

/** The signed message of §6.1 (v2: context label, 0x00, hash; v1: the hash). */
export function sigMessage(version, context, hash) {
  return version === 1 ? hash : Buffer.concat([Buffer.from(`vmdb/v2/${context}\0`), hash]);
}

/** Whether `sig` (hex or bytes) is pk's signature of header `h` for `context` ('committed' or 'intent'). */
export function verifyHeaderSig(h, pkHex, context = 'committed', sig = h.sig) {
  const hash = headerHashOf(h);
  return edVerify(null, sigMessage(h.version, context, hash), ed25519Key(pkHex), typeof sig === 'string' ? hexb(sig) : sig);
}

/** Records of the local anchor file of version v (§8.2): [{seq, header, sig, hash}]. */
export function readAnchorFile(dataDir, v = 2) {
  const file = path.join(dataDir, v === 1 ? 'anchors.bin' : 'anchors2.bin');
  const hl = v === 1 ? 144 : 178;
  const rec = hl + 64;
  const buf = fs.existsSync(file) ? fs.readFileSync(file) : Buffer.alloc(0);
  const out = [];
  for (let off = 0; off + rec <= buf.length; off += rec) {
    const header = buf.subarray(off, off + hl);
    out.push({ seq: Number(header.readBigUInt64BE(v === 1 ? 0 : 1)), header, sig: buf.subarray(off + hl, off + rec), hash: headerHashOfEncoding(header) });
  }
  return out;
}

// ---- tools/solana-local ------------------------------------------------------

let rpcId = 0;
export async function solanaRpc(url, method, params = []) {
  const res = await fetch(url, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: ++rpcId, method, params }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  assert.equal(res.status, 200, `${method}: HTTP ${res.status} ${text.slice(0, 300)}`);
  const body = JSON.parse(text);
  if (body.error) {
    const e = new Error(`${method}: ${body.error.code} ${body.error.message}`);
    e.rpc = body.error;
    throw e;
  }
  return body.result;
}

/**
 * Starts `node tools/solana-local/server.mjs --port 0` (400 ms blocks).
 * Returns {url, proc, call(method, params), stop()}.
 */
export async function startSolanaLocal() {
  const proc = spawn(process.execPath, [path.join(ROOT, 'tools', 'solana-local', 'server.mjs'), '--port', '0', '--quiet'],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`solana-local did not start: ${stderr}`)); }, 30_000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /solana-local listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    exited.then((e) => { clearTimeout(timer); reject(new Error(`solana-local exited ${JSON.stringify(e)}: ${stderr}`)); });
  });
  process.on('exit', () => { if (proc.exitCode === null) proc.kill('SIGKILL'); });
  return {
    url,
    proc,
    call: (method, params) => solanaRpc(url, method, params),
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      const r = await exited;
      clearTimeout(t);
      return r;
    },
    log: () => stderr,
  };
}

/** Internal error text that must never reach a client (issue 13: the log
 *  has PostgreSQL's text; answers carry codes and vmdb's own words). */
export const INTERNAL_TEXT = /postgres|ERROR:|syntax error|relation "|SQLSTATE|libpq|PQ[a-z]+\(/i;

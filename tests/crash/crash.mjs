#!/usr/bin/env node
// Crash test (issue item 7): concurrent writers against `vmdb serve`, kill -9
// at random moments (and, in about a third of the cycles, the test-only hook
// VMDB_FAULT_AFTER_INTENT kills the writer between the intent record and
// COMMIT), restart on the same database and data directory, and check:
//
//   * no false alarm: /health status "ok", integrity.ok true, writes "ok";
//   * no lost write: every acknowledged row reads back verified (read-batch)
//     with the acknowledged content or that of a later (possibly
//     unacknowledged) upsert of the same key; rows nobody acknowledged are
//     only ones an unacknowledged create-batch sent (no phantom rows);
//   * seq and roots continue: the new server's seq >= the highest
//     acknowledged seq, GET /api/roots/latest header = health seq and root,
//     acknowledged (seq, proposed_root) pairs are in the signed history, the
//     anchor file only moves forward;
//   * at the end, /bootstrap/repair-roots rebuilds the same leaves (an empty diff).
// In about one cycle in five a repair-roots call (an admin transition with
// its own header, through the same intent/COMMIT path) races the writers.
//
// Usage (a PostgreSQL cluster from VMDB_TEST_PG_URL, else a private one):
//   VMDB_BIN=build-asan/vmdb VMDB_CRASH_CYCLES=20 node tests/crash/crash.mjs
// Environment: VMDB_CRASH_CYCLES (default 20), VMDB_BIN (needs
// -DVMDB_TEST_HOOKS=ON for hook kills; without it those cycles end with
// kill -9 only), VMDB_CRASH_SEED (PRNG seed, printed; repeat a run's
// choices), VMDB_CRASH_WRITERS (default 8), VMDB_TEST_KEEP=1 (keep the data
// directory and server logs). Exits non-zero on any failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  startServer, createDb, tempDir, psql, post, get, applySchema, sleep,
} from '../integration/lib.mjs';

const CYCLES = Number(process.env.VMDB_CRASH_CYCLES || 20);
const WRITERS = Number(process.env.VMDB_CRASH_WRITERS || 8);
const SEED = Number(process.env.VMDB_CRASH_SEED || Math.floor(Math.random() * 2 ** 31));
const KEEP = process.env.VMDB_TEST_KEEP === '1';
const HOOK_PER_MILLE = '30';
const VERIFY_ALL_MAX = 20_000; // above this many rows, untouched rows are sampled between cycles
const SAMPLE = 5_000;
const REC = 242; // anchors2.bin record: 178-byte v2 header + 64-byte header signature (PROTOCOL.md §8.2)

const TABLE = {
  table_name: 'crash_kv', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'v', col_type: 'text', nullable: false }, { name: 'w', col_type: 'int', nullable: false }],
};

// mulberry32: a seeded PRNG, so a failing run's choices can be repeated.
let prng = SEED >>> 0;
function rand() {
  prng = (prng + 0x6d2b79f5) >>> 0;
  let t = prng;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const randInt = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const pick = (a) => a[Math.floor(rand() * a.length)];

// ---------------------------------------------------------------------------
// bookkeeping
// ---------------------------------------------------------------------------

// id -> {base, attempts}: base is the content read back (verified) at the
// start of this cycle (undefined for a row created in this cycle); attempts
// are this cycle's writes of the key, {content, send, ack} with `send` and
// `ack` taken from one event counter (ack null: no answer seen).
const known = new Map();
const knownIds = [];
const touched = new Set(); // ids written (or tried) in this cycle
let pendingCreates = new Map(); // v -> content of an unacknowledged create
let ev = 0; // event counter: orders sends and acknowledgements
let cycleAcks = []; // [{seq, root}] of this cycle's acknowledged writes

const stats = {
  cycles: 0, hookKills: 0, kill9: 0, acknowledged: 0, ackedRows: 0, unackedCommitted: 0,
  lost: 0, falseAlarms: 0, lockRetries: 0, repairs: 0, httpErrors: 0, maxAckedSeq: 0, failures: [],
};
const content = (v, w) => `${v}|${w}`;
const fail = (msg) => {
  stats.failures.push(msg);
  console.error(`crash: FAIL: ${msg}`);
};

function recordAck(d, what) {
  stats.acknowledged++;
  const seq = d?.meta?.seq;
  if (!Number.isInteger(seq) || typeof d.meta.proposed_root !== 'string' || d.verified !== true) {
    fail(`${what}: acknowledged answer without meta.seq/proposed_root/verified: ${JSON.stringify(d)}`);
    return;
  }
  cycleAcks.push({ seq, root: d.meta.proposed_root });
  if (seq > stats.maxAckedSeq) stats.maxAckedSeq = seq;
}

// ---------------------------------------------------------------------------
// the writers
// ---------------------------------------------------------------------------

async function createOp(srv, cycle, wi, n) {
  const count = randInt(1, 3);
  const records = [];
  const send = ++ev;
  for (let k = 0; k < count; k++) {
    const v = `c${cycle}-${wi}-${n}-${k}`;
    const w = randInt(0, 1_000_000);
    records.push({ v, w });
    pendingCreates.set(v, { content: content(v, w), send });
  }
  const r = await post(srv.url, '/api/models/crash_kv/create-batch', { records });
  if (r.status !== 200) return r;
  const ack = ++ev;
  const d = r.json.data;
  recordAck(d, 'create-batch');
  if (!Array.isArray(d.ids) || d.ids.length !== count) {
    fail(`create-batch answered ids ${JSON.stringify(d.ids)} for ${count} records`);
    return r;
  }
  for (let k = 0; k < count; k++) {
    const id = d.ids[k];
    const rec = d.records[k];
    if (String(rec.id) !== id || rec.v !== records[k].v || rec.w !== records[k].w) {
      fail(`create-batch record ${k} ${JSON.stringify(rec)} is not what was sent ${JSON.stringify(records[k])} (id ${id})`);
    }
    if (known.has(id)) fail(`create-batch acknowledged id ${id}, which already exists`);
    known.set(id, { base: undefined, attempts: [{ content: content(records[k].v, records[k].w), send, ack }] });
    knownIds.push(id);
    touched.add(id);
    pendingCreates.delete(records[k].v);
    stats.ackedRows++;
  }
  return r;
}

async function upsertOp(srv, cycle, wi, n) {
  // Half the time among the 64 newest keys, so writers contend for keys.
  const pool = rand() < 0.5 ? knownIds.slice(-64) : knownIds;
  const ids = [...new Set([pick(pool), pick(pool)].slice(0, randInt(1, 2)))];
  const send = ++ev;
  const records = ids.map((id, k) => ({ id: Number(id), v: `u${cycle}-${wi}-${n}-${k}`, w: randInt(0, 1_000_000) }));
  const attempts = records.map((rec) => {
    const a = { content: content(rec.v, rec.w), send, ack: null };
    known.get(String(rec.id)).attempts.push(a);
    touched.add(String(rec.id));
    return a;
  });
  const r = await post(srv.url, '/api/models/crash_kv/upsert', { records });
  if (r.status !== 200) return r;
  const ack = ++ev;
  const d = r.json.data;
  recordAck(d, 'upsert');
  for (let k = 0; k < records.length; k++) {
    attempts[k].ack = ack;
    const rec = d.records?.find((x) => String(x.id) === String(records[k].id));
    if (!rec || rec.v !== records[k].v || rec.w !== records[k].w) {
      fail(`upsert answered ${JSON.stringify(rec)} for ${JSON.stringify(records[k])}`);
    }
    stats.ackedRows++;
  }
  return r;
}

async function writer(srv, cycle, wi) {
  for (let n = 0; srv.isRunning(); n++) {
    let r;
    try {
      r = (knownIds.length === 0 || rand() < 0.5) ? await createOp(srv, cycle, wi, n) : await upsertOp(srv, cycle, wi, n);
    } catch (err) {
      // The server died under the request (kill -9 or the hook). Anything
      // else (a reset while it runs) is a failure.
      const gone = await Promise.race([srv.exited.then(() => true), sleep(2000).then(() => false)]);
      if (!gone) fail(`writer ${wi}: request failed while the server runs: ${err.message}`);
      return;
    }
    if (r.status !== 200) {
      stats.httpErrors++;
      fail(`writer ${wi}: ${r.status} ${r.text.slice(0, 500)}`);
      return;
    }
    if (rand() < 0.3) await sleep(randInt(0, 3));
  }
}

// In about one cycle in five, an admin transition (repair-roots: rebuilt
// tree, its own header, anchored at once) races the writers and the kill.
async function repairTask(srv, cycle) {
  await sleep(randInt(0, 1000));
  if (!srv.isRunning()) return;
  let r;
  try {
    r = await post(srv.url, '/bootstrap/repair-roots', { confirm: true });
  } catch (err) {
    const gone = await Promise.race([srv.exited.then(() => true), sleep(2000).then(() => false)]);
    if (!gone) fail(`repair-roots failed while the server runs: ${err.message}`);
    return;
  }
  if (r.status !== 200 || !Number.isInteger(r.json?.data?.seq)) {
    stats.httpErrors++;
    fail(`cycle ${cycle}: repair-roots ${r.status} ${r.text.slice(0, 500)}`);
    return;
  }
  stats.repairs++;
  const { seq, new_root: root } = r.json.data;
  cycleAcks.push({ seq, root });
  if (seq > stats.maxAckedSeq) stats.maxAckedSeq = seq;
}

// ---------------------------------------------------------------------------
// checks after a restart
// ---------------------------------------------------------------------------

function readAnchors(dataDir) {
  let buf;
  try { buf = fs.readFileSync(path.join(dataDir, 'anchors2.bin')); } catch { return []; }
  const seqs = [];
  // u8(2) || u64(seq) || ...
  for (let off = 0; off + REC <= buf.length; off += REC) seqs.push(Number(buf.readBigUInt64BE(off + 1)));
  return seqs;
}

let lastAnchorCount = 0;
let lastAnchorSeq = -1;

async function checkRestart(srv, cycle) {
  const hr = await get(srv.url, '/health');
  const h = hr.json?.data;
  if (hr.status !== 200 || !h || h.status !== 'ok' || h.integrity?.ok !== true || h.writes !== 'ok') {
    stats.falseAlarms++;
    fail(`cycle ${cycle}: false alarm after restart: /health ${hr.status} ${hr.text}\n--- server log (${srv.logFile}):\n${srv.log().slice(-6000)}`);
    return null;
  }
  if (h.seq < stats.maxAckedSeq) fail(`cycle ${cycle}: restarted at seq ${h.seq} < highest acknowledged seq ${stats.maxAckedSeq}`);

  // Roots continue: the newest signed header is the state health reports.
  const lr = await get(srv.url, '/api/roots/latest');
  const latest = lr.json?.data;
  if (lr.status !== 200 || !latest?.header) {
    fail(`cycle ${cycle}: /api/roots/latest ${lr.status} ${lr.text.slice(0, 500)}`);
  } else {
    if (latest.header.seq !== h.seq) fail(`cycle ${cycle}: roots/latest header.seq ${latest.header.seq} != health seq ${h.seq}`);
    if (latest.header.smt_root !== h.temporary_root) fail(`cycle ${cycle}: roots/latest smt_root ${latest.header.smt_root} != health temporary_root ${h.temporary_root}`);
    if (latest.anchored && latest.anchored.seq > latest.header.seq) fail(`cycle ${cycle}: anchored seq ${latest.anchored.seq} > header seq ${latest.header.seq}`);
  }
  // Every acknowledged (seq, root) is in the signed history: all of them
  // agree within a group; the newest and a sample are looked up.
  const bySeq = new Map();
  for (const a of cycleAcks) {
    const prev = bySeq.get(a.seq);
    if (prev && prev !== a.root) fail(`cycle ${cycle}: two acknowledgements of seq ${a.seq} with different roots`);
    bySeq.set(a.seq, a.root);
  }
  const seqs = [...bySeq.keys()].sort((x, y) => x - y);
  const sample = new Set(seqs.slice(-1));
  for (let i = 0; i < 8 && seqs.length; i++) sample.add(pick(seqs));
  for (const s of sample) {
    const r = await get(srv.url, `/api/roots/${s}`);
    const hd = r.json?.data?.header;
    if (r.status !== 200 || !hd) { fail(`cycle ${cycle}: /api/roots/${s}: ${r.status} ${r.text.slice(0, 300)}`); continue; }
    if (hd.smt_root !== bySeq.get(s)) fail(`cycle ${cycle}: header ${s} has root ${hd.smt_root}, the write acknowledged at seq ${s} had ${bySeq.get(s)}`);
    if (s > 0) {
      const p = (await get(srv.url, `/api/roots/${s - 1}`)).json?.data?.header;
      if (!p || p.header_hash !== hd.prev) fail(`cycle ${cycle}: header ${s}.prev does not equal the hash of header ${s - 1}`);
    }
  }
  // The anchor file only grows, in strictly increasing seq, never past the state.
  const anchors = readAnchors(srv.dataDir);
  if (anchors.length < lastAnchorCount) fail(`cycle ${cycle}: anchors2.bin shrank from ${lastAnchorCount} to ${anchors.length} records`);
  for (let i = 1; i < anchors.length; i++) {
    if (anchors[i] <= anchors[i - 1]) { fail(`cycle ${cycle}: anchors2.bin record ${i} seq ${anchors[i]} after ${anchors[i - 1]}`); break; }
  }
  const newestAnchor = anchors.length ? anchors[anchors.length - 1] : -1;
  if (newestAnchor > h.seq) fail(`cycle ${cycle}: newest anchor ${newestAnchor} is ahead of the state ${h.seq}`);
  if (newestAnchor < lastAnchorSeq) fail(`cycle ${cycle}: newest anchor went back from ${lastAnchorSeq} to ${newestAnchor}`);
  lastAnchorCount = anchors.length;
  lastAnchorSeq = newestAnchor;
  return h;
}

async function readBack(srv, ids) {
  const out = new Map();
  for (let i = 0; i < ids.length; i += 1000) {
    let chunk = ids.slice(i, i + 1000);
    let r = await post(srv.url, '/api/models/crash_kv/read-batch', { ids: chunk });
    if (r.status === 400 && r.json?.code === 'INTEGRITY_VIOLATION' && Array.isArray(r.json.data?.ids)) {
      // Name the rows that do not verify; read the others of the chunk.
      const bad = new Set(r.json.data.ids.map(String));
      fail(`read-batch: INTEGRITY_VIOLATION for ids ${[...bad].slice(0, 20).join(', ')}`);
      chunk = chunk.filter((id) => !bad.has(id));
      if (chunk.length === 0) continue;
      r = await post(srv.url, '/api/models/crash_kv/read-batch', { ids: chunk });
    }
    if (r.status === 404) continue; // none of them exists
    if (r.status !== 200 || r.json?.data?.verified !== true) {
      fail(`read-batch: ${r.status} ${r.text.slice(0, 1000)}`);
      continue;
    }
    for (const rec of r.json.data.records) out.set(String(rec.id), content(rec.v, rec.w));
  }
  return out;
}

async function verifyRows(srv, cycle, all) {
  // Rows nobody acknowledged must come from an unacknowledged create-batch.
  const prefix = `c${cycle - 1}-`;
  const fresh = (await psql(srv.db, `SELECT id, v, w FROM crash_kv WHERE v LIKE '${prefix}%' ORDER BY id`))
    .split('\n').filter(Boolean).map((l) => l.split('|'));
  for (const [id, v, w] of fresh) {
    if (known.has(id)) continue;
    const p = pendingCreates.get(v);
    if (!p || p.content !== content(v, Number(w))) {
      fail(`cycle ${cycle}: row ${id} (${v}, ${w}) was never sent`);
      continue;
    }
    stats.unackedCommitted++;
    known.set(id, { base: undefined, attempts: [{ content: p.content, send: p.send, ack: null }] });
    knownIds.push(id);
    touched.add(id);
  }
  pendingCreates = new Map();
  const total = Number(await psql(srv.db, 'SELECT count(*) FROM crash_kv'));
  if (total !== known.size) fail(`cycle ${cycle}: crash_kv holds ${total} rows, ${known.size} are accounted for`);

  let ids;
  if (all || knownIds.length <= VERIFY_ALL_MAX) {
    ids = knownIds;
  } else {
    const s = new Set(touched);
    for (let i = 0; i < SAMPLE; i++) s.add(pick(knownIds));
    ids = [...s];
  }
  const got = await readBack(srv, ids);
  let lost = 0;
  for (const id of ids) {
    const k = known.get(id);
    const acked = k.attempts.filter((a) => a.ack !== null);
    const maxAckedSend = acked.length ? Math.max(...acked.map((a) => a.send)) : -Infinity;
    // A write W can be the final one unless an acknowledged write W' was
    // sent after W's acknowledgement (then W' committed after W).
    const allowed = [];
    if (k.base !== undefined && acked.length === 0) allowed.push(k.base);
    for (const a of k.attempts) if (a.ack === null || a.ack > maxAckedSend) allowed.push(a.content);
    const have = got.get(id);
    if (acked.length === 0 && k.base === undefined) {
      // An unacknowledged create that committed: its row must verify.
      if (have === undefined) fail(`cycle ${cycle}: row ${id} seen in PostgreSQL does not read back`);
    } else if (have === undefined || !allowed.includes(have)) {
      lost++;
      fail(`cycle ${cycle}: LOST write of id ${id}: read ${have === undefined ? 'nothing' : JSON.stringify(have)}, acknowledged or later attempts ${JSON.stringify(allowed)}`);
    }
    if (have !== undefined) {
      k.base = have;
    }
    k.attempts = [];
  }
  stats.lost += lost;
  touched.clear();
  return ids.length;
}

// ---------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------

function sanitizerReport(log) {
  const m = log.match(/(ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:)[^\n]*/);
  return m ? m[0] : null;
}

async function start(db, dataDir, logDir, env) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await startServer({ db, dataDir, logDir, env });
    } catch (err) {
      // Just after a kill -9 the old lock session may not have ended yet.
      if (attempt < 50 && /Another VerifiableDB API instance/.test(err.message)) {
        stats.lockRetries++;
        await sleep(100);
        continue;
      }
      throw err;
    }
  }
}

async function main() {
  const t0 = Date.now();
  const db = await createDb('crash');
  const dataDir = tempDir('vmdb-crash-data-');
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vmdb-crash-log-'));
  console.log(`crash: ${CYCLES} cycles, ${WRITERS} writers, seed ${SEED}, bin ${process.env.VMDB_BIN || 'build/vmdb'}, data ${dataDir}, logs ${logDir}`);
  let hookCycles = 0;
  for (let cycle = 0; cycle < CYCLES && stats.falseAlarms === 0; cycle++) {
    // Not in cycle 0: the hook would also kill apply-schema (same intent path).
    const hook = cycle > 0 && rand() < 1 / 3;
    const env = {
      BATCH_COMMIT_SIZE: String(pick([1, 3, 10, 1000])),
      VMDB_ANCHOR_INTERVAL: String(pick([1, 30])),
      VMDB_FAULT_AFTER_INTENT: hook ? HOOK_PER_MILLE : undefined,
    };
    hookCycles += hook ? 1 : 0;
    const srv = await start(db, dataDir, logDir, env);
    if (cycle === 0) {
      await applySchema(srv.url, [TABLE]);
    } else {
      if (!await checkRestart(srv, cycle)) { await srv.kill9(); break; }
      await verifyRows(srv, cycle, false);
    }
    cycleAcks = [];
    const killAfter = randInt(200, 1500);
    let killedByUs = false;
    const timer = setTimeout(() => { killedByUs = true; srv.proc.kill('SIGKILL'); }, killAfter);
    const tasks = Array.from({ length: WRITERS }, (_, wi) => writer(srv, cycle, wi));
    if (cycle > 0 && rand() < 0.2) tasks.push(repairTask(srv, cycle));
    await Promise.all(tasks);
    const ex = await srv.exited;
    clearTimeout(timer);
    stats.cycles++;
    const log = srv.log();
    const rep = sanitizerReport(log);
    if (rep) fail(`cycle ${cycle}: sanitizer report in ${srv.logFile}: ${rep}`);
    if (ex.signal !== 'SIGKILL') {
      fail(`cycle ${cycle}: the server exited by itself (${JSON.stringify(ex)}); log tail:\n${log.slice(-4000)}`);
      break;
    }
    if (!killedByUs || /test hook: dying between the intent and COMMIT/.test(log)) {
      if (!/test hook: dying between the intent and COMMIT/.test(log)) {
        fail(`cycle ${cycle}: SIGKILL not sent by the test and no hook message; log tail:\n${log.slice(-4000)}`);
      }
      stats.hookKills++;
    } else {
      stats.kill9++;
    }
    if (stats.failures.length > 50) break;
  }

  // The last restart: everything verifies, then repair-roots rebuilds the
  // same leaves (an empty diff from the root we had); its new root is that
  // tree plus the repair's own transition record (PROTOCOL.md §14.2).
  if (stats.falseAlarms === 0 && stats.cycles === CYCLES) {
    const srv = await start(db, dataDir, logDir, { BATCH_COMMIT_SIZE: '1000', VMDB_ANCHOR_INTERVAL: '3600' });
    const h = await checkRestart(srv, stats.cycles);
    if (h) {
      const n = await verifyRows(srv, stats.cycles, true);
      const rr = await post(srv.url, '/bootstrap/repair-roots', { confirm: true });
      const d = rr.json?.data;
      if (rr.status !== 200 || d?.old_root !== h.temporary_root || d?.diff?.count !== 0 || d?.diff?.old_root !== h.temporary_root) {
        fail(`repair-roots: ${rr.status} ${rr.text.slice(0, 500)}; expected an empty diff from ${h.temporary_root}`);
      }
      const h2 = (await get(srv.url, '/health')).json?.data;
      if (h2?.status !== 'ok' || h2.seq !== h.seq + 1) fail(`after repair-roots: ${JSON.stringify(h2)}`);
      console.log(`crash: final check: ${n} rows verified, seq ${h.seq}, root ${h.temporary_root}`);
      const ex = await srv.stop();
      if (ex.code !== 0) fail(`final SIGTERM: exit ${JSON.stringify(ex)}`);
      const anchors = readAnchors(dataDir);
      if (anchors[anchors.length - 1] !== h2.seq) fail(`after SIGTERM the newest anchor is ${anchors[anchors.length - 1]}, the state ${h2.seq}`);
    } else {
      await srv.kill9();
    }
  }
  if (hookCycles >= 3 && stats.hookKills === 0) {
    console.log('crash: note: no hook kill in any hook cycle; is the binary built with -DVMDB_TEST_HOOKS=ON?');
  }
  const secs = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(`crash: detail: seed=${SEED} acknowledged_rows=${stats.ackedRows} unacknowledged_committed=${stats.unackedCommitted} ` +
    `repairs=${stats.repairs} max_seq=${stats.maxAckedSeq} rows=${known.size} lock_retries=${stats.lockRetries} http_errors=${stats.httpErrors} ` +
    `failures=${stats.failures.length} seconds=${secs}`);
  console.log(`crash: cycles=${stats.cycles} hook_kills=${stats.hookKills} kill9=${stats.kill9} ` +
    `acknowledged=${stats.acknowledged} lost=${stats.lost} false_alarms=${stats.falseAlarms}`);
  const okRun = stats.failures.length === 0 && stats.cycles === CYCLES;
  if (okRun && !KEEP) fs.rmSync(logDir, { recursive: true, force: true });
  else console.log(`crash: server logs kept in ${logDir}`);
  return okRun;
}

main().then((okRun) => process.exit(okRun ? 0 : 1), (err) => {
  console.error(`crash: FAIL: ${err.stack || err}`);
  process.exit(1);
});

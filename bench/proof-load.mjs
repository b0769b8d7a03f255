// proof-load.mjs — the load generator of bench/proof.sh (`make bench-proof`):
// what `"proof": true` (docs/PROTOCOL.md §9, §10) costs a client of
// `vmdb serve`, at the table size the script loaded.
//
// Purpose. bench/proof.sh starts a private PostgreSQL cluster and a server
// with one registered table; this script then
//   1. loads the table to BENCH_ROWS rows through create-batch (the real
//      write path, so the tree holds one leaf per row plus the id range leaf),
//      several concurrent clients, 1000 rows per request, and prints the rate;
//   2. for each operation (read-batch of 1 and of 100 ids, read-latest limit
//      100, create-batch of 1 and of 100 rows) and each client count, sends a
//      fixed number of requests without and with "proof": true, interleaved
//      in rounds (plain, proof, plain, proof, ...) so that the noise of the
//      shared machine hits both sides alike;
//   3. verifies a sample of the proved answers with clients/js/src/protocol.mjs
//      (pinned identity key and chain_id), so the figures are for valid proofs;
//   4. prints a table: requests/s, p50/p99 latency, mean answer bytes, mean
//      bytes of data.proof, the vmdb process's CPU per request, and the ratios
//      proof / no-proof.
// Node built-ins only: one keep-alive http.Agent (one socket) per client, and
// each client sends its next request as soon as the last one is answered.
//
//   node bench/proof-load.mjs --url http://127.0.0.1:PORT --model bench_rows [--pid VMDB_PID]
//
// Environment: BENCH_ROWS (default 1000000), BENCH_CLIENTS (default "1 8"),
// BENCH_LOAD_CLIENTS (default 4), BENCH_ROUNDS (default 4), BENCH_SCALE
// (multiplies the request counts, default 1), BENCH_VERIFY (proved answers
// verified per operation and client count, default 20), BENCH_OPS (subset of
// "read1 read100 latest100 create1 create100").
// Exit status: 0 when every measured request succeeded and every sampled
// proof verified, 1 otherwise (bench/proof.sh reports it and exits 0).

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { verifyAnswer } from '../clients/js/src/protocol.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
);
const BASE = new URL(args.url ?? 'http://127.0.0.1:8080');
const MODEL = args.model ?? 'bench_rows';
const VMDB_PID = args.pid ? Number(args.pid) : 0;
const ROWS = Number(process.env.BENCH_ROWS ?? 1000000);
const CLIENTS = (process.env.BENCH_CLIENTS ?? '1 8').trim().split(/\s+/).map(Number);
const LOAD_CLIENTS = Number(process.env.BENCH_LOAD_CLIENTS ?? 4);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 4));
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const VERIFY = Number(process.env.BENCH_VERIFY ?? 20);
const OPS = (process.env.BENCH_OPS ?? 'read1 read100 latest100 create1 create100').trim().split(/\s+/);
const LOAD_BATCH = 1000;

const say = (s) => process.stdout.write(`${s}\n`);

// --- HTTP -----------------------------------------------------------------

/** A client: one keep-alive socket, one request at a time. */
function client() {
  return new http.Agent({ keepAlive: true, maxSockets: 1 });
}

/** POSTs a body (string); resolves {status, bytes, text}. */
function post(agent, path, body) {
  return new Promise((resolve, reject) => {
    const buf = Buffer.from(body);
    const req = http.request(
      { host: BASE.hostname, port: BASE.port, path, method: 'POST', agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': buf.length } },
      (res) => {
        const parts = [];
        let n = 0;
        res.on('data', (d) => { parts.push(d); n += d.length; });
        res.on('end', () => resolve({ status: res.statusCode, bytes: n, text: Buffer.concat(parts, n).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(buf);
  });
}

async function getJson(path) {
  const agent = client();
  const r = await new Promise((resolve, reject) => {
    http.get({ host: BASE.hostname, port: BASE.port, path, agent }, (res) => {
      let t = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { t += d; });
      res.on('end', () => resolve({ status: res.statusCode, text: t }));
    }).on('error', reject);
  });
  agent.destroy();
  const j = JSON.parse(r.text);
  if (!j.success) throw new Error(`GET ${path}: ${r.text.slice(0, 300)}`);
  return j.data;
}

const route = (r) => `/api/models/${MODEL}/${r}`;

// --- small helpers ----------------------------------------------------------

/** CPU ticks (utime + stime) of the vmdb process, 0 when unknown. */
function vmdbTicks() {
  if (!VMDB_PID) return 0;
  try {
    const s = readFileSync(`/proc/${VMDB_PID}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    return Number(f[11]) + Number(f[12]); // fields 14 and 15
  } catch {
    return 0;
  }
}
const HZ = 100; // USER_HZ on Linux

function pct(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
const fmt = (x, d = 0) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

let rowCounter = 0;
const PAD = 'x'.repeat(32);
function rows(n, owner) {
  const out = [];
  for (let i = 0; i < n; i++) out.push({ owner, n: ++rowCounter, payload: { k: PAD } });
  return out;
}

// --- 1. load --------------------------------------------------------------

async function load() {
  const have = await maxId();
  let need = ROWS - have;
  if (need <= 0) { say(`load: the table already has ids up to ${have}`); return; }
  let sent = 0;
  let errors = 0;
  const t0 = process.hrtime.bigint();
  let nextReport = 0.1;
  async function loop(c) {
    const agent = client();
    for (;;) {
      const n = Math.min(LOAD_BATCH, need - sent);
      if (n <= 0) break;
      sent += n;
      const r = await post(agent, route('create-batch'), JSON.stringify({ records: rows(n, c) }));
      if (r.status !== 200 || !r.text.startsWith('{"success":true')) {
        errors++;
        if (errors <= 3) process.stderr.write(`load: ${r.status} ${r.text.slice(0, 200)}\n`);
        if (errors > 20) throw new Error('load: too many failed create-batch requests');
        sent -= n;
      }
      if (sent / need >= nextReport) {
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        process.stderr.write(`load: ${fmt(sent + have)} rows, ${fmt(sent / s)} rows/s\n`);
        nextReport += 0.1;
      }
    }
    agent.destroy();
  }
  await Promise.all(Array.from({ length: LOAD_CLIENTS }, (_, c) => loop(c)));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  say(`load: ${fmt(need)} rows through create-batch (${LOAD_BATCH} rows per request, ${LOAD_CLIENTS} clients) in ${s.toFixed(1)} s: ${fmt(need / s)} rows/s`);
}

async function maxId() {
  const a = client();
  const r = await post(a, route('read-latest'), JSON.stringify({ limit: 1 }));
  a.destroy();
  if (r.status === 404) return 0;
  const j = JSON.parse(r.text);
  if (!j.success) throw new Error(`read-latest: ${r.text.slice(0, 300)}`);
  return j.data.records.length ? Number(j.data.records[0].id) : 0;
}

// --- 2. the operations ------------------------------------------------------

let MAX_ID = 0;
const randId = () => 1 + Math.floor(Math.random() * MAX_ID);
const absentId = () => MAX_ID + 1000000 + Math.floor(Math.random() * 1e9);

/** Each op: the request (body without "proof", plus what the verifier must know), and its request count. */
const OPERATIONS = {
  read1: {
    label: 'read-batch 1 id', kind: 'read-batch', route: 'read-batch', count: 20000,
    make() { const ids = [String(randId())]; return { body: { ids }, opts: { ids } }; },
  },
  read100: {
    label: 'read-batch 100 ids', kind: 'read-batch', route: 'read-batch', count: 3000,
    make() {
      const ids = new Set();
      while (ids.size < 95) ids.add(String(randId()));
      while (ids.size < 100) ids.add(String(absentId()));
      const list = [...ids];
      return { body: { ids: list }, opts: { ids: list } };
    },
  },
  latest100: {
    label: 'read-latest 100', kind: 'read-latest', route: 'read-latest', count: 3000,
    make() { return { body: { limit: 100 }, opts: { order: 'desc', limit: 100 } }; },
  },
  create1: {
    label: 'create-batch 1 row', kind: 'create-batch', route: 'create-batch', count: 6000,
    make(c) { return { body: { records: rows(1, 1000 + c) }, opts: {} }; },
  },
  create100: {
    label: 'create-batch 100 rows', kind: 'create-batch', route: 'create-batch', count: 800,
    make(c) { return { body: { records: rows(100, 1000 + c) }, opts: {} }; },
  },
};

/**
 * Sends `n` requests of `op` from `clients` concurrent clients (proof or
 * not); returns {wall, lat[], bytes, errors, ticks, kept[]} where kept holds
 * the first `keep` answers with their verifier options.
 */
async function run(op, clients, n, proof, keep) {
  let left = n;
  const lat = [];
  const kept = [];
  let bytes = 0;
  let errors = 0;
  const tk0 = vmdbTicks();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  async function loop(c, agent) {
    while (left > 0) {
      left--;
      const { body, opts } = op.make(c);
      if (proof) body.proof = true;
      const s = process.hrtime.bigint();
      const r = await post(agent, route(op.route), JSON.stringify(body));
      lat.push(Number(process.hrtime.bigint() - s) / 1e6);
      bytes += r.bytes;
      if (r.status !== 200) {
        errors++;
        if (errors <= 3) process.stderr.write(`${op.label}${proof ? ' proof' : ''}: ${r.status} ${r.text.slice(0, 200)}\n`);
      } else if (kept.length < keep) {
        kept.push({ text: r.text, opts });
      }
    }
  }
  const agents = Array.from({ length: clients }, client);
  await Promise.all(agents.map((a, c) => loop(c, a)));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const ticks = vmdbTicks() - tk0;
  const cpu = process.cpuUsage(cpu0);
  agents.forEach((a) => a.destroy());
  return { wall, lat, bytes, errors, ticks, lgUs: cpu.user + cpu.system, kept };
}

function merge(into, r) {
  into.wall += r.wall;
  into.lat.push(...r.lat);
  into.bytes += r.bytes;
  into.errors += r.errors;
  into.ticks += r.ticks;
  into.lgUs += r.lgUs;
  into.kept.push(...r.kept);
  return into;
}
const empty = () => ({ wall: 0, lat: [], bytes: 0, errors: 0, ticks: 0, lgUs: 0, kept: [] });

// --- 3. verification ----------------------------------------------------------

let PUB = '';
let CHAIN = '';
const verifyStats = { ok: 0, bad: 0, complete: 0, incomplete: 0, ms: 0, reasons: new Set() };

/**
 * Verifies the kept proved answers; returns the mean bytes of data.proof (as
 * JSON) and of its multiproof in binary (half its hex), the figure
 * `vmdb bench tree` reports.
 */
function verifySample(op, kept) {
  let proofBytes = 0;
  let mpBytes = 0;
  for (const { text, opts } of kept) {
    const data = JSON.parse(text).data;
    proofBytes += Buffer.byteLength(JSON.stringify(data.proof ?? null));
    mpBytes += (data.proof?.multiproof?.proof?.length ?? 0) / 2;
    const t = process.hrtime.bigint();
    const v = verifyAnswer(data, op.kind, PUB, { chainId: CHAIN, table: MODEL, ...opts });
    verifyStats.ms += Number(process.hrtime.bigint() - t) / 1e6;
    if (v.ok) verifyStats.ok++;
    else { verifyStats.bad++; verifyStats.reasons.add(`${op.label}: ${v.reason}`); }
    if (op.kind === 'read-latest') {
      if (data.proof && data.proof.complete) verifyStats.complete++;
      else verifyStats.incomplete++;
    }
  }
  const k = Math.max(1, kept.length);
  return { proofBytes: proofBytes / k, mpBytes: mpBytes / k };
}

// --- main -----------------------------------------------------------------

async function main() {
  PUB = (await getJson('/api/identity')).public_key;
  CHAIN = (await getJson('/api/roots/0')).header.chain_id;
  await load();
  MAX_ID = await maxId();
  say(`table ${MODEL}: ids 1..${fmt(MAX_ID)}; ${ROUNDS} rounds per figure (plain and proof alternating), ` +
      `request counts x${SCALE}; the load generator, vmdb and PostgreSQL share this machine's cores`);

  const results = [];
  for (const name of OPS) {
    const op = OPERATIONS[name];
    if (!op) throw new Error(`unknown op ${name} (BENCH_OPS)`);
    for (const c of CLIENTS) {
      const n = Math.max(c, Math.round((op.count * SCALE) / ROUNDS));
      // Warm-up, not counted: both variants once.
      await run(op, c, Math.min(n, 4 * c), false, 0);
      await run(op, c, Math.min(n, 4 * c), true, 0);
      const plain = empty();
      const proved = empty();
      for (let i = 0; i < ROUNDS; i++) {
        merge(plain, await run(op, c, n, false, 0));
        merge(proved, await run(op, c, n, true, Math.ceil(VERIFY / ROUNDS)));
      }
      const { proofBytes, mpBytes } = verifySample(op, proved.kept);
      for (const [proof, r] of [[false, plain], [true, proved]]) {
        r.lat.sort((a, b) => a - b);
        const reqs = r.lat.length;
        results.push({
          op: op.label, clients: c, proof, reqs, errors: r.errors, rps: reqs / r.wall,
          p50: pct(r.lat, 50), p99: pct(r.lat, 99), bytes: r.bytes / reqs,
          proofBytes: proof ? proofBytes : 0, mpBytes: proof ? mpBytes : 0,
          cpu: VMDB_PID ? (r.ticks * 1e6) / HZ / reqs : NaN, lg: r.lgUs / reqs,
        });
      }
      const [a, b] = results.slice(-2);
      process.stderr.write(`${op.label}, ${c} clients: ${fmt(a.rps)} / ${fmt(b.rps)} req/s (plain / proof)\n`);
    }
  }

  // The table.
  say('');
  const head = ['op', 'clients', 'proof', 'req/s', 'p50 ms', 'p99 ms', 'answer B', 'proof B', 'multiproof B', 'vmdb us/req', 'lg us/req', 'req/s ratio', 'p50 ratio'];
  const rowsOut = [head];
  for (let i = 0; i < results.length; i += 2) {
    for (const r of [results[i], results[i + 1]]) {
      const base = results[i];
      rowsOut.push([
        r.op, String(r.clients), r.proof ? 'yes' : 'no', fmt(r.rps), r.p50.toFixed(2), r.p99.toFixed(2),
        fmt(r.bytes), r.proof ? fmt(r.proofBytes) : '-', r.proof ? fmt(r.mpBytes) : '-',
        Number.isNaN(r.cpu) ? '-' : fmt(r.cpu), fmt(r.lg),
        r.proof ? (r.rps / base.rps).toFixed(2) : '', r.proof ? (r.p50 / base.p50).toFixed(2) : '',
      ]);
    }
  }
  const w = head.map((_, j) => Math.max(...rowsOut.map((r) => r[j].length)));
  for (const r of rowsOut) say(r.map((x, j) => (j === 0 ? x.padEnd(w[j]) : x.padStart(w[j]))).join('  '));
  say('');
  say('ratio = with proof / without (req/s: below 1 is slower; p50: above 1 is slower). answer B: mean bytes of the');
  say('answer body; proof B: mean bytes of data.proof (JSON) over the verified sample; multiproof B: its §5 multiproof in');
  say('binary (the JSON carries it in hex); vmdb / lg us/req: CPU of the vmdb process / of this load generator per request.');
  for (let i = 0; i < results.length; i += 2) {
    const [a, b] = [results[i], results[i + 1]];
    say(`ratio proof/plain req_per_s=${(b.rps / a.rps).toFixed(2)} p50=${(b.p50 / a.p50).toFixed(2)} bytes=${(b.bytes / a.bytes).toFixed(1)} (${a.op}, clients=${a.clients})`);
  }
  const errors = results.reduce((s, r) => s + r.errors, 0);
  const n = verifyStats.ok + verifyStats.bad;
  say('');
  say(`verified with clients/js/src/protocol.mjs: ${verifyStats.ok}/${n} proved answers valid` +
      ` (mean ${(verifyStats.ms / Math.max(1, n)).toFixed(2)} ms each in JS)` +
      (verifyStats.complete + verifyStats.incomplete
        ? `; read-latest answers with a complete part (§10): ${verifyStats.complete}/${verifyStats.complete + verifyStats.incomplete}`
        : ''));
  for (const r of verifyStats.reasons) say(`  INVALID ${r}`);
  if (errors) say(`failed requests: ${errors}`);
  return errors === 0 && verifyStats.bad === 0 && n > 0 ? 0 : 1;
}

main().then((rc) => { process.exitCode = rc; }, (e) => { process.stderr.write(`proof-load: ${e.stack ?? e}\n`); process.exitCode = 2; });

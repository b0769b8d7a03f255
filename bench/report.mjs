#!/usr/bin/env node
// The arithmetic of `make bench` (bench/bench.sh), Node built-ins only.
//
//   node bench/report.mjs pgbench-log DIR WARMUP BATCH
//     Reads pgbench's per-transaction logs (--log --log-prefix=DIR/log, one
//     file per thread) and its summary (DIR/out), drops the transactions that
//     ended in the first WARMUP seconds (as vmdb-loadgen's --warmup does) and
//     prints one line in vmdb-loadgen's format:
//       ok=.. err=.. rps=.. rows_per_s=.. p50_ms=.. p99_ms=.. pgbench_tps=..
//
//   node bench/report.mjs report RUNS META OUT_JSON OUT_MD PLOT_DAT
//     RUNS: one measurement a line, key=value words (target=P1 side=vmdb
//     round=1 rps=.. ...; P4 and P5 lines carry their own keys); META: a JSON
//     object (machine, commit, mode). Prints the targets table (text), writes
//     the same as a markdown table to OUT_MD, everything to OUT_JSON, and the
//     throughput-vs-clients sweep (if measured) to PLOT_DAT for gnuplot.
import fs from 'node:fs';
import path from 'node:path';

function kv(line) {
  const o = {};
  for (const w of line.trim().split(/\s+/)) {
    const i = w.indexOf('=');
    if (i <= 0) continue;
    const k = w.slice(0, i), v = w.slice(i + 1);
    o[k] = v !== '' && /^-?[0-9.]+(e[-+]?[0-9]+)?$/i.test(v) ? Number(v) : v;
  }
  return o;
}

function pct(sorted, p) {
  if (!sorted.length) return 0;
  const i = Math.min(sorted.length - 1, Math.round(p * (sorted.length - 1)));
  return sorted[i];
}

function pgbenchLog(dir, warmup, batch) {
  // pgbench 15 log line: client_id transaction_no latency_us script_no
  // epoch_s epoch_us [lag]; a failed transaction has "failed" as latency.
  const ends = [], lats = [];
  let failed = 0;
  for (const f of fs.readdirSync(dir)) {
    if (!f.startsWith('log.')) continue;
    for (const line of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) {
      const a = line.split(' ');
      if (a.length < 6) continue;
      const t = Number(a[4]) + Number(a[5]) * 1e-6;
      if (!/^[0-9]+$/.test(a[2])) { failed++; continue; }
      ends.push(t);
      lats.push(Number(a[2]) / 1000);
    }
  }
  let out = '';
  try { out = fs.readFileSync(path.join(dir, 'out'), 'utf8'); } catch { /* no summary */ }
  const m = out.match(/tps = ([0-9.]+) \(without initial connection time\)/);
  const pgTps = m ? Number(m[1]) : 0;
  if (!ends.length) return `ok=0 err=${failed} rps=0 rows_per_s=0 p50_ms=0 p99_ms=0 pgbench_tps=${pgTps}`;
  let first = Infinity, last = -Infinity;
  for (const t of ends) { if (t < first) first = t; if (t > last) last = t; }
  const from = first + warmup;
  const win = [];
  for (let i = 0; i < ends.length; i++) if (ends[i] >= from) win.push(lats[i]);
  const secs = Math.max(1e-3, last - from);
  win.sort((x, y) => x - y);
  const rps = win.length / secs;
  return `ok=${win.length} err=${failed} rps=${rps.toFixed(1)} rows_per_s=${(rps * batch).toFixed(1)} ` +
    `p50_ms=${pct(win, 0.5).toFixed(2)} p99_ms=${pct(win, 0.99).toFixed(2)} pgbench_tps=${pgTps}`;
}

const mean = (a) => (a.length ? a.reduce((s, x) => s + x, 0) / a.length : null);

function fmtNum(v, unit) {
  if (v === null || v === undefined || Number.isNaN(v)) return 'n/a';
  if (unit === 'x') return `${v.toFixed(2)}x`;
  if (unit === 's') return `${v.toFixed(1)} s`;
  if (unit === 'ms') return `${v.toFixed(2)} ms`;
  if (unit === 'B/leaf') return `${v.toFixed(1)} B/leaf`;
  const s = Math.round(v).toLocaleString('en-US');
  return unit ? `${s} ${unit}` : s;
}

function report(runsFile, metaFile, outJson, outMd, plotDat) {
  const runs = fs.readFileSync(runsFile, 'utf8').split('\n').filter((l) => l.trim()).map(kv);
  const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8'));
  const pick = (target, side) => runs.filter((r) => r.target === target && r.side === side && r.ok > 0);
  const avg = (target, side, key) => mean(pick(target, side).map((r) => r[key]));
  const one = (target) => runs.find((r) => r.target === target) || {};
  const T = [];
  const add = (id, workload, vmdb, base, unit, ratio, target, pass, extra = {}) =>
    T.push({ id, workload, vmdb, baseline: base, unit, ratio, target, verdict: pass === null ? 'n/a' : pass ? 'PASS' : 'FAIL', ...extra });
  const vsPg = (id, target, workload, key, unit, min, minText, baseTarget = target) => {
    const v = avg(target, 'vmdb', key), p = avg(baseTarget, 'pg', key);
    const r = v !== null && p ? v / p : null;
    add(id, workload, v, p, unit, r, minText, r === null ? null : r >= min);
  };
  const c = meta.clients || {};
  vsPg('P1', 'P1', `create-batch 1 row, ${c.P1} clients vs pgbench INSERT`, 'rps', '/s', 1.5, '>= 1.5x');
  vsPg('P2', 'P2', `create-batch 100 rows, ${c.P2} clients vs pgbench INSERT ... SELECT of 100`, 'rows_per_s', 'rows/s', 0.8, '>= 0.8x');
  vsPg('P3', 'P3', `read-batch 1 id, ${c.P3} clients vs pgbench PK SELECT row_to_json`, 'rps', '/s', 0.7, '>= 0.7x');
  vsPg('P3p', 'P3p', `read-batch 1 id + "proof": true, ${c.P3} clients vs the same pgbench`, 'rps', '/s', 0.5, '>= 0.5x', 'P3');
  const p4 = one('P4');
  add('P4a', 'tree: batch-of-1000 updates on 1M leaves / hash floor', p4.floor_ratio ?? null, 1, 'x', p4.floor_ratio ?? null, '<= 1.5x',
    p4.floor_ratio === undefined ? null : p4.floor_ratio <= 1.5);
  add('P4b', 'tree: proof verifications per second, one core', p4.verify_per_s ?? null, 1e6, '/s',
    p4.verify_per_s === undefined ? null : p4.verify_per_s / 1e6, '>= 1M/s', p4.verify_per_s === undefined ? null : p4.verify_per_s >= 1e6);
  const p5 = one('P5');
  const rowsLabel = p5.rows ? `${fmtNum(p5.rows)} rows${meta.quick ? ' (--quick; the target is at 10M)' : ''}` : 'n/a';
  add('P5a', `restart, seconds to the first good /health, ${rowsLabel}`, p5.restart_s ?? null, 15, 's',
    p5.restart_s === undefined ? null : p5.restart_s / 15, '<= 15 s', p5.restart_s === undefined ? null : p5.restart_s <= 15);
  add('P5b', `RSS per leaf after the restart, ${rowsLabel}`, p5.bytes_per_leaf ?? null, 128, 'B/leaf',
    p5.bytes_per_leaf === undefined ? null : p5.bytes_per_leaf / 128, '<= 128 B/leaf',
    p5.bytes_per_leaf === undefined ? null : p5.bytes_per_leaf <= 128);
  for (const [id, t, what, goal] of [['P6a', 'P1', 'P1 (create-batch 1 row)', 20], ['P6b', 'P3', 'P3 (read-batch 1 id)', null]]) {
    const v50 = avg(t, 'vmdb', 'p50_ms'), v99 = avg(t, 'vmdb', 'p99_ms');
    const p50 = avg(t, 'pg', 'p50_ms'), p99 = avg(t, 'pg', 'p99_ms');
    add(id, `latency p50 / p99 of ${what}`, v99, p99, 'ms', v99 !== null && p99 ? v99 / p99 : null,
      goal ? `p99 < ${goal} ms` : 'reported', goal && v99 !== null ? v99 < goal : null,
      { vmdb_p50_ms: v50, vmdb_p99_ms: v99, pg_p50_ms: p50, pg_p99_ms: p99 });
  }
  const show = (t, side) => {
    if (t.id.startsWith('P6')) {
      const a = side === 'vmdb' ? [t.vmdb_p50_ms, t.vmdb_p99_ms] : [t.pg_p50_ms, t.pg_p99_ms];
      return a[0] === null || a[0] === undefined ? 'n/a' : `${a[0].toFixed(2)} / ${a[1].toFixed(2)} ms`;
    }
    if (side === 'pg') {
      if (t.id === 'P4a') return 'hash floor (1.0x)';
      if (t.id === 'P4b' || t.id.startsWith('P5')) return '-';
    }
    return fmtNum(side === 'vmdb' ? t.vmdb : t.baseline, t.unit);
  };
  const rows = T.map((t) => [t.id, t.workload, show(t, 'vmdb'), show(t, 'pg'),
    t.ratio === null || t.ratio === undefined ? 'n/a' : t.ratio.toFixed(2), t.target, t.verdict]);
  const head = ['id', 'workload', 'vmdb', 'PostgreSQL (pgbench) / reference', 'ratio', 'target', 'verdict'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r) => r.map((x, i) => (i === 1 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  ');
  console.log(line(head));
  for (const r of rows) console.log(line(r));
  const md = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.map((x, i) => (i === 6 && x !== 'n/a' ? `**${x}**` : x)).join(' | ')} |`)].join('\n') + '\n';

  // The measured runs behind P1-P3p, averaged over the rounds, with the CPU
  // time per request of vmdb and of the whole PostgreSQL cluster.
  const detail = [];
  for (const t of ['P1', 'P2', 'P3', 'P3p']) {
    for (const side of ['vmdb', 'pg']) {
      const rs = pick(t, side);
      if (!rs.length) continue;
      const a = (k) => mean(rs.map((r) => r[k]).filter((x) => typeof x === 'number'));
      const f = (v, d = 0) => (v === null ? 'n/a' : d ? v.toFixed(d) : Math.round(v).toLocaleString('en-US'));
      detail.push([t, side === 'pg' ? 'pgbench' : 'vmdb', String(rs[0].clients), String(rs[0].batch), String(rs.length),
        f(a('rps')), f(a('rows_per_s')), f(a('p50_ms'), 2), f(a('p99_ms'), 2), f(a('vmdb_cpu_us')), f(a('pg_cpu_us'))]);
    }
  }
  const dhead = ['target', 'side', 'clients', 'batch', 'rounds', 'req/s', 'rows/s', 'p50 ms', 'p99 ms', 'vmdb CPU us/req', 'PG CPU us/req'];
  if (detail.length) {
    const dw = dhead.map((h, i) => Math.max(h.length, ...detail.map((r) => r[i].length)));
    console.log('');
    console.log(dhead.map((h, i) => h.padStart(dw[i])).join('  '));
    for (const r of detail) console.log(r.map((x, i) => x.padStart(dw[i])).join('  '));
  }
  const dmd = detail.length
    ? ['', `| ${dhead.join(' | ')} |`, `|${dhead.map(() => '---').join('|')}|`, ...detail.map((r) => `| ${r.join(' | ')} |`)].join('\n') + '\n'
    : '';
  fs.writeFileSync(outMd, md + dmd);

  // The sweep: clients vs requests/s, writes and reads, both sides.
  const sweep = runs.filter((r) => typeof r.target === 'string' && r.target.startsWith('sweep-') && r.ok > 0);
  const clients = [...new Set(sweep.map((r) => r.clients))].sort((a, b) => a - b);
  const cell = (t, side, cl) => mean(sweep.filter((r) => r.target === t && r.side === side && r.clients === cl).map((r) => r.rps));
  const sweepRows = clients.map((cl) => ({ clients: cl,
    vmdb_write: cell('sweep-write', 'vmdb', cl), pg_write: cell('sweep-write', 'pg', cl),
    vmdb_read: cell('sweep-read', 'vmdb', cl), pg_read: cell('sweep-read', 'pg', cl) }));
  if (sweepRows.length) {
    const f = (v) => (v === null ? 'NaN' : v.toFixed(1));
    fs.writeFileSync(plotDat, '# clients vmdb_write pg_write vmdb_read pg_read (requests/s)\n' +
      sweepRows.map((r) => `${r.clients} ${f(r.vmdb_write)} ${f(r.pg_write)} ${f(r.vmdb_read)} ${f(r.pg_read)}`).join('\n') + '\n');
    console.log('\nthroughput against concurrency (requests/s; writes: create-batch 1 row vs INSERT, reads: read-batch 1 id vs PK SELECT)');
    console.log('clients  vmdb write    pg write   vmdb read     pg read');
    for (const r of sweepRows) {
      console.log([String(r.clients).padStart(7), ...[r.vmdb_write, r.pg_write, r.vmdb_read, r.pg_read]
        .map((v) => fmtNum(v, '').padStart(11))].join(' '));
    }
  }
  fs.writeFileSync(outJson, JSON.stringify({ meta, targets: T, sweep: sweepRows, runs }, null, 2) + '\n');
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'pgbench-log' && args.length === 3) {
  console.log(pgbenchLog(args[0], Number(args[1]), Number(args[2])));
} else if (cmd === 'report' && args.length === 5) {
  report(...args);
} else {
  console.error('usage: report.mjs pgbench-log DIR WARMUP BATCH | report RUNS META OUT_JSON OUT_MD PLOT_DAT');
  process.exit(2);
}

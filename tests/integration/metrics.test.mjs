// GET /metrics (Prometheus text format 0.0.4), request ids and JSON-lines
// logs (issue 13, Deliver 6). The exposition is parsed strictly here: every
// line a comment or a sample, HELP and TYPE at most once per family and
// before its samples, a family's samples together, histogram buckets
// cumulative with +Inf equal to _count. Counters are checked to move by
// exactly the requests made between two scrapes (the first scrape counts
// itself once it is answered), gauges against /health and
// /api/roots/latest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  BIN, startServer, psql, post, get, ok, fails, health, applySchema, tempDir, createDb,
} from './lib.mjs';

const NOTES = {
  table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'body', col_type: 'text' }],
};
const RID = /^[A-Za-z0-9._-]{1,64}$/;
const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

// ---- a strict parser of the text format -------------------------------------

function parseLabels(s, where) {
  const labels = {};
  let i = 0;
  while (i < s.length) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(s.slice(i));
    assert.ok(m, `${where}: a label name and =" at ${JSON.stringify(s.slice(i))}`);
    i += m[0].length;
    let v = '';
    for (;;) {
      assert.ok(i < s.length, `${where}: unterminated label value`);
      const c = s[i++];
      if (c === '"') break;
      if (c === '\\') {
        const e = s[i++];
        assert.ok(e === '\\' || e === '"' || e === 'n', `${where}: bad escape \\${e}`);
        v += e === 'n' ? '\n' : e;
      } else {
        assert.notEqual(c, '\n', `${where}: raw newline in a label value`);
        v += c;
      }
    }
    assert.ok(!(m[1] in labels), `${where}: label ${m[1]} twice`);
    labels[m[1]] = v;
    if (i < s.length) {
      assert.equal(s[i], ',', `${where}: labels are separated by commas`);
      i++;
    }
  }
  return labels;
}

function parseValue(s, where) {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  assert.match(s, /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/, `${where}: a number`);
  return Number(s);
}

/** Parses an exposition; returns {families: Map name -> {type, help, samples: [{name, labels, value}]}}. */
export function parseExposition(text) {
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  const families = new Map();
  const seenSamples = new Set(); // families whose samples have ended
  let current = null; // the family whose samples come now
  const family = (name) => {
    if (!families.has(name)) families.set(name, { type: 'untyped', help: undefined, typed: false, samples: [] });
    return families.get(name);
  };
  const familyOf = (name) => {
    for (const suf of ['_bucket', '_sum', '_count']) {
      const base = name.endsWith(suf) ? name.slice(0, -suf.length) : null;
      if (base && families.get(base)?.type === 'histogram') return base;
    }
    return name;
  };
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, n) => {
    const where = `line ${n + 1} ${JSON.stringify(line)}`;
    assert.ok(line.length > 0, `${where}: no empty lines`);
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      assert.match(m[2], NAME, where);
      const f = family(m[2]);
      assert.ok(!seenSamples.has(m[2]) && f.samples.length === 0, `${where}: ${m[1]} before the family's samples`);
      if (m[1] === 'HELP') {
        assert.equal(f.help, undefined, `${where}: HELP once per family`);
        f.help = m[3];
      } else {
        assert.ok(!f.typed, `${where}: TYPE once per family`);
        assert.ok(TYPES.has(m[3]), `${where}: a known type`);
        f.type = m[3];
        f.typed = true;
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `${where}: name{labels} value (no timestamp)`);
    const base = familyOf(m[1]);
    if (current !== base) {
      assert.ok(!seenSamples.has(base), `${where}: the samples of ${base} are together`);
      if (current) seenSamples.add(current);
      current = base;
    }
    family(base).samples.push({ name: m[1], labels: m[2] ? parseLabels(m[2], where) : {}, value: parseValue(m[3], where) });
  });
  for (const [name, f] of families) {
    assert.ok(f.typed && f.help !== undefined, `${name}: HELP and TYPE`);
    assert.ok(name.startsWith('vmdb_'), `${name}: the vmdb_ prefix`);
    if (f.type === 'counter') assert.ok(name.endsWith('_total'), `${name}: a counter ends in _total`);
    else assert.ok(!name.endsWith('_total'), `${name}: only counters end in _total`);
    if (f.type === 'histogram') checkHistogram(name, f);
    else for (const s of f.samples) assert.equal(s.name, name, `${name}: sample names`);
  }
  return families;
}

const labelKey = (labels, without = 'le') =>
  JSON.stringify(Object.keys(labels).filter((k) => k !== without).sort().map((k) => [k, labels[k]]));

function checkHistogram(name, f) {
  const groups = new Map();
  for (const s of f.samples) {
    const k = labelKey(s.labels);
    if (!groups.has(k)) groups.set(k, { buckets: [], sum: undefined, count: undefined });
    const g = groups.get(k);
    if (s.name === `${name}_bucket`) {
      assert.ok('le' in s.labels, `${name}: a bucket has le`);
      g.buckets.push({ le: parseValue(s.labels.le, name), v: s.value });
    } else if (s.name === `${name}_sum`) {
      assert.equal(g.sum, undefined, `${name} ${k}: one _sum`);
      g.sum = s.value;
    } else if (s.name === `${name}_count`) {
      assert.equal(g.count, undefined, `${name} ${k}: one _count`);
      g.count = s.value;
    } else {
      assert.fail(`${name}: unexpected sample ${s.name}`);
    }
  }
  for (const [k, g] of groups) {
    assert.ok(g.buckets.length >= 1 && g.sum !== undefined && g.count !== undefined, `${name} ${k}: buckets, _sum and _count`);
    for (let i = 1; i < g.buckets.length; i++) {
      assert.ok(g.buckets[i].le > g.buckets[i - 1].le, `${name} ${k}: le ascending`);
      assert.ok(g.buckets[i].v >= g.buckets[i - 1].v, `${name} ${k}: buckets cumulative`);
    }
    const last = g.buckets[g.buckets.length - 1];
    assert.equal(last.le, Infinity, `${name} ${k}: the last bucket is +Inf`);
    assert.equal(last.v, g.count, `${name} ${k}: +Inf equals _count`);
  }
}

/** The value of the sample `name` with exactly `labels` (0 when absent). */
function value(fams, name, labels = {}) {
  for (const f of fams.values())
    for (const s of f.samples)
      if (s.name === name && labelKey(s.labels, null) === labelKey(labels, null)) return s.value;
  return 0;
}
const has = (fams, name, labels = {}) => {
  for (const f of fams.values())
    for (const s of f.samples)
      if (s.name === name && labelKey(s.labels, null) === labelKey(labels, null)) return true;
  return false;
};

async function scrape(srv) {
  const r = await get(srv.url, '/metrics');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(r.headers.get('x-request-id') || '', RID);
  return parseExposition(r.text);
}

const req = (route, method, status) => ({ route, method, status: String(status) });
const TOTAL = 'vmdb_http_requests_total';

function counterDeltas(before, after) {
  const out = new Map();
  for (const s of after.get(TOTAL).samples) {
    const d = s.value - value(before, TOTAL, s.labels);
    if (d) out.set(labelKey(s.labels, null), d);
  }
  return out;
}

// ---- the tests -----------------------------------------------------------------

test('parser: rejects what the format forbids', () => {
  const okText = '# HELP vmdb_x_total x\n# TYPE vmdb_x_total counter\nvmdb_x_total{a="1"} 2\n';
  parseExposition(okText);
  assert.throws(() => parseExposition(okText + '# HELP vmdb_x_total again\n'));
  assert.throws(() => parseExposition('# HELP vmdb_y y\n# TYPE vmdb_y gauge\nvmdb_y{a=1} 2\n'));
  assert.throws(() => parseExposition('# HELP vmdb_y y\n# TYPE vmdb_y gauge\nvmdb_y 2 3 4\n'));
  assert.throws(() => parseExposition('# HELP vmdb_h h\n# TYPE vmdb_h histogram\n'
    + 'vmdb_h_bucket{le="1"} 3\nvmdb_h_bucket{le="+Inf"} 2\nvmdb_h_sum 1\nvmdb_h_count 2\n'), /cumulative/);
  assert.throws(() => parseExposition('# HELP vmdb_h h\n# TYPE vmdb_h histogram\n'
    + 'vmdb_h_bucket{le="1"} 1\nvmdb_h_bucket{le="+Inf"} 2\nvmdb_h_sum 1\nvmdb_h_count 3\n'), /_count/);
});

test('/metrics: strict format, counters move by exactly the requests made, gauges match /health and /api/roots/latest', async (t) => {
  const srv = await startServer({ env: { VMDB_PG_POOL: '3', VMDB_ANCHOR_INTERVAL: '1' } });
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES]);
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'a' }, { body: 'b' }, { body: 'c' }] }));

  const m0 = await scrape(srv);
  const info = m0.get('vmdb_build_info').samples;
  assert.equal(info.length, 1);
  assert.equal(info[0].value, 1);
  assert.equal(info[0].labels.protocol, '2');
  assert.match(info[0].labels.version, /^\d+\.\d+\.\d+/);
  for (const fam of ['vmdb_http_request_duration_seconds', 'vmdb_write_group_requests', 'vmdb_write_group_rows'])
    assert.equal(m0.get(fam)?.type, 'histogram', fam);
  for (const fam of ['vmdb_tree_leaves', 'vmdb_header_seq', 'vmdb_anchored_seq', 'vmdb_anchor_backlog',
    'vmdb_last_anchor_age_seconds', 'vmdb_writes_blocked', 'vmdb_pg_read_pool_connections', 'vmdb_pg_read_pool_in_use'])
    assert.equal(m0.get(fam)?.type, 'gauge', fam);
  assert.equal(m0.get('vmdb_integrity_violations_total')?.type, 'counter');

  // The requests between the scrapes, with the series each one must move.
  const READ = '/api/models/{model}/read-batch';
  const CREATE = '/api/models/{model}/create-batch';
  ok(await post(srv.url, '/api/models/notes/read-batch', { ids: ['1'] }));
  ok(await post(srv.url, '/api/models/notes/read-batch', { ids: ['2', '3'] }));
  fails(await post(srv.url, '/api/models/nope/read-batch', { ids: ['1'] }), 400, 'MODEL_NOT_REGISTERED');
  fails(await post(srv.url, '/api/models/notes/read-batch', '{'), 422);
  fails(await get(srv.url, '/no/such/path?x=1'), 404);
  fails(await get(srv.url, '/api/models/notes/read-batch'), 405);
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'd' }, { body: 'e' }] }));
  ok(await get(srv.url, '/api/roots/1'));
  await health(srv.url);
  const m1 = await scrape(srv);

  const expected = new Map([
    [req('/metrics', 'GET', 200), 1], // the first scrape, counted once answered
    [req(READ, 'POST', 200), 2],
    [req(READ, 'POST', 400), 1],
    [req(READ, 'POST', 422), 1],
    [req('unmatched', 'GET', 404), 1],
    [req(READ, 'GET', 405), 1],
    [req(CREATE, 'POST', 200), 1],
    [req('/api/roots/{seq}', 'GET', 200), 1],
    [req('/health', 'GET', 200), 1],
  ].map(([l, n]) => [labelKey(l, null), n]));
  assert.deepEqual(Object.fromEntries(counterDeltas(m0, m1)), Object.fromEntries(expected));
  // Route templates only: no raw path or model name appears as a label.
  for (const s of m1.get(TOTAL).samples) {
    assert.ok(!/notes|nope|no\/such/.test(s.labels.route), `a template, not a path: ${s.labels.route}`);
    assert.ok(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'OTHER'].includes(s.labels.method));
  }
  // The latency histogram counts the same requests per route.
  const dur = 'vmdb_http_request_duration_seconds_count';
  assert.equal(value(m1, dur, { route: READ }) - value(m0, dur, { route: READ }), 5);
  assert.equal(value(m1, dur, { route: '/health' }) - value(m0, dur, { route: '/health' }), 1);
  // One group commit of one request and two rows.
  assert.equal(value(m1, 'vmdb_write_group_requests_count') - value(m0, 'vmdb_write_group_requests_count'), 1);
  assert.equal(value(m1, 'vmdb_write_group_requests_sum') - value(m0, 'vmdb_write_group_requests_sum'), 1);
  assert.equal(value(m1, 'vmdb_write_group_rows_sum') - value(m0, 'vmdb_write_group_rows_sum'), 2);
  assert.equal(value(m1, 'vmdb_write_group_rows_bucket', { le: '1' }) - value(m0, 'vmdb_write_group_rows_bucket', { le: '1' }), 0);
  assert.equal(value(m1, 'vmdb_write_group_rows_bucket', { le: '4' }) - value(m0, 'vmdb_write_group_rows_bucket', { le: '4' }), 1);

  // Gauges against /health and /api/roots/latest, once the anchor thread
  // has caught up (VMDB_ANCHOR_INTERVAL=1) so that nothing moves between.
  let h, roots, m;
  for (let i = 0; ; i++) {
    h = await health(srv.url);
    roots = ok(await get(srv.url, '/api/roots/latest'));
    m = await scrape(srv);
    const h2 = await health(srv.url);
    if (h2.anchor.backlog === 0 && JSON.stringify(h2) === JSON.stringify(h)) break;
    assert.ok(i < 50, 'the backlog is anchored within seconds');
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(value(m, 'vmdb_tree_leaves'), h.leaves);
  assert.equal(value(m, 'vmdb_header_seq'), roots.header.seq);
  assert.equal(value(m, 'vmdb_header_seq'), h.seq);
  assert.equal(value(m, 'vmdb_anchored_seq'), h.anchor.anchored_seq);
  assert.equal(value(m, 'vmdb_anchored_seq'), roots.anchored.seq);
  assert.equal(value(m, 'vmdb_anchor_backlog'), h.anchor.backlog);
  const age = value(m, 'vmdb_last_anchor_age_seconds');
  assert.ok(age >= 0 && age < 60, `anchor age ${age}`);
  assert.equal(value(m, 'vmdb_integrity_violations_total'), h.integrity.violations);
  assert.equal(value(m, 'vmdb_pg_read_pool_connections'), 3);
  const inUse = value(m, 'vmdb_pg_read_pool_in_use');
  assert.ok(inUse >= 0 && inUse <= 3, `pool in use ${inUse}`);
  const reasons = m.get('vmdb_writes_blocked').samples.map((s) => s.labels.reason).sort();
  assert.deepEqual(reasons, ['anchor_wait', 'commit_lost', 'lock_lost', 'rollback', 'state', 'trust']);
  for (const s of m.get('vmdb_writes_blocked').samples) assert.equal(s.value, 0, s.labels.reason);
  assert.equal(h.writes, 'ok');

  // An integrity violation: counted, and its log line carries the request id.
  await psql(srv.db, "UPDATE notes SET body = 'evil' WHERE id = 2");
  const r = await post(srv.url, '/api/models/notes/read-batch', { ids: ['2'] }, { headers: { 'X-Request-Id': 'tamper-read.1' } });
  fails(r, 400, 'INTEGRITY_VIOLATION');
  assert.equal(r.headers.get('x-request-id'), 'tamper-read.1');
  const m2 = await scrape(srv);
  assert.equal(value(m2, 'vmdb_integrity_violations_total') - value(m, 'vmdb_integrity_violations_total'), 1);
  assert.equal(value(m2, 'vmdb_integrity_violations_total'), (await health(srv.url)).integrity.violations);
  const line = srv.log().split('\n').find((l) => l.includes('INTEGRITY_VIOLATION'));
  assert.ok(line, 'the violation is logged');
  assert.match(line, / error \[tamper-read\.1\] INTEGRITY_VIOLATION /, 'text format: "<ts> <level> [<request id>] <message>"');
});

test('request ids: a valid client id is echoed, anything else is replaced by a generated one', async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  const cases = [
    ['abc', 'abc'],
    ['A.b_c-9', 'A.b_c-9'],
    ['x'.repeat(64), 'x'.repeat(64)],
    ['x'.repeat(65), null],
    ['has space', null],
    ['semi;colon', null],
    ['ünï', null],
  ];
  for (const [sent, echoed] of cases) {
    const r = await fetch(srv.url + '/health', { headers: { 'X-Request-Id': Buffer.from(sent, 'utf8').toString('latin1') } });
    await r.arrayBuffer();
    const got = r.headers.get('x-request-id');
    assert.match(got, RID, `a usable id for ${JSON.stringify(sent)}`);
    if (echoed) assert.equal(got, echoed);
    else assert.notEqual(got, sent);
  }
  // Generated ids differ; every kind of answer carries one (404, 405, 422, assets).
  const ids = new Set();
  for (const [method, p, body] of [['GET', '/health'], ['GET', '/nope'], ['PUT', '/health'],
    ['POST', '/api/execute', '{'], ['GET', '/swagger-ui/no-such.js'], ['GET', '/api-docs/openapi.json']]) {
    const r = await fetch(srv.url + p, { method, body, headers: body ? { 'content-type': 'application/json' } : {} });
    await r.arrayBuffer();
    const id = r.headers.get('x-request-id');
    assert.match(id || '', RID, `${method} ${p}: ${r.status}`);
    ids.add(id);
  }
  assert.equal(ids.size, 6, 'generated ids are distinct');
});

test('VMDB_LOG_FORMAT=json: every line is a JSON object with ts, level, msg, and request_id while answering', async (t) => {
  const srv = await startServer({ env: { VMDB_LOG_FORMAT: 'json' } });
  t.after(() => srv.stop());
  await applySchema(srv.url, [NOTES]);
  ok(await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'a "quoted"\n\tline' }, { body: 'b' }] }));
  await psql(srv.db, "UPDATE notes SET body = 'evil' WHERE id = 1");
  fails(await post(srv.url, '/api/models/notes/read-batch', { ids: ['1'] }, { headers: { 'X-Request-Id': 'json-rid-7' } }), 400, 'INTEGRITY_VIOLATION');
  await srv.stop();
  const lines = srv.log().split('\n').filter((l) => l.length);
  assert.ok(lines.length >= 5, 'start-up, the violation and shutdown are logged');
  const recs = lines.map((l) => {
    let o;
    assert.doesNotThrow(() => { o = JSON.parse(l); }, `a JSON line: ${l}`);
    assert.equal(typeof o, 'object');
    assert.match(o.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(['debug', 'info', 'warn', 'error'].includes(o.level), l);
    assert.equal(typeof o.msg, 'string');
    if ('request_id' in o) assert.match(o.request_id, RID);
    return o;
  });
  const v = recs.find((o) => o.msg.startsWith('INTEGRITY_VIOLATION'));
  assert.ok(v, 'the violation is logged');
  assert.equal(v.level, 'error');
  assert.equal(v.request_id, 'json-rid-7');
  assert.ok(recs.some((o) => /listening on/.test(o.msg) && !('request_id' in o)), 'start-up lines have no request id');
});

test('VMDB_LOG_FORMAT other than text or json refuses to start', async () => {
  const db = await createDb('vmdb_it');
  const env = { ...process.env, DATABASE_URL: db, VMDB_DATA_DIR: tempDir('vmdb-data-'), VMDB_LOG_FORMAT: 'xml', VMDB_LISTEN: '127.0.0.1:1' };
  const p = spawn(BIN, ['serve'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((r) => p.on('exit', r));
  assert.equal(code, 2);
  assert.match(err, /VMDB_LOG_FORMAT must be 'text' or 'json'/);
});

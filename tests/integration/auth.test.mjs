// API keys with roles (issue 13, Deliver 1): keys made with `vmdb keys`;
// every route against no key, malformed and unknown keys, a revoked key, and
// read, write, admin and table-limited keys (401 UNAUTHORIZED with
// WWW-Authenticate, 403 FORBIDDEN, or the route's own answer); revocation and
// new keys take effect without a restart (file change and SIGHUP); a keys file
// with a key added or widened by hand refuses start; a non-loopback bind
// without keys refuses start unless VMDB_INSECURE_NO_AUTH=true; the JS and
// Python clients send their key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  BIN, ROOT, startServer, spawnServer, tempDir, post, get, httpRequest, sleep, freePort,
} from './lib.mjs';
import { VmdbClient } from '../../clients/js/src/index.mjs';

const run = promisify(execFile);

const NOTES = {
  table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'body', col_type: 'text' }],
};
const OTHER = {
  table_name: 'other', primary_key_field: 'id', primary_key_kind: 'serial',
  columns: [{ name: 'v', col_type: 'int' }],
};

function keyEnv(dataDir) {
  const env = { ...process.env, VMDB_DATA_DIR: dataDir };
  for (const k of ['VMDB_API_KEYS', 'VMDB_IDENTITY_KEY']) delete env[k];
  return env;
}

async function keys(dataDir, ...args) {
  const r = await run(BIN, ['keys', ...args], { env: keyEnv(dataDir), cwd: dataDir });
  return r.stdout.trim();
}

async function keysFails(dataDir, ...args) {
  await assert.rejects(run(BIN, ['keys', ...args], { env: keyEnv(dataDir), cwd: dataDir }));
}

const bearer = (k) => ({ authorization: `Bearer ${k}` });
const RANK = { open: 0, read: 1, write: 2, admin: 3 };

// Each route: how it is called, the role it needs, the table it touches
// ('*': every table), and the statuses it may answer once admitted.
const ROUTES = [
  { name: 'health', m: 'GET', p: '/health', need: 'open', ok: [200] },
  // Open unless VMDB_AUTH_METRICS=true (the next test).
  { name: 'metrics', m: 'GET', p: '/metrics', need: 'open', ok: [200] },
  { name: 'openapi', m: 'GET', p: '/api-docs/openapi.json', need: 'open', ok: [200] },
  { name: 'swagger', m: 'GET', p: '/swagger-ui', need: 'open', ok: [200] },
  { name: 'swagger asset', m: 'GET', p: '/swagger-ui/index.html', need: 'open', ok: [200] },
  { name: 'create', m: 'POST', p: '/api/models/notes/create-batch', need: 'write', table: 'notes', body: { records: [{ body: 'x' }] }, ok: [200] },
  { name: 'upsert', m: 'POST', p: '/api/models/notes/upsert', need: 'write', table: 'notes', body: { records: [{ id: 1, body: 'y' }] }, ok: [200] },
  { name: 'delete', m: 'POST', p: '/api/models/notes/delete-batch', need: 'write', table: 'notes', body: { ids: ['999999'] }, ok: [200] },
  { name: 'read-batch', m: 'POST', p: '/api/models/notes/read-batch', need: 'read', table: 'notes', body: { ids: ['1'] }, ok: [200] },
  { name: 'read-latest', m: 'POST', p: '/api/models/notes/read-latest', need: 'read', table: 'notes', body: { limit: 2 }, ok: [200] },
  { name: 'read-latest other', m: 'POST', p: '/api/models/other/read-latest', need: 'read', table: 'other', body: { limit: 2 }, ok: [200, 404] },
  { name: 'create other', m: 'POST', p: '/api/models/other/create-batch', need: 'write', table: 'other', body: { records: [{ v: 1 }] }, ok: [200] },
  { name: 'unknown model', m: 'POST', p: '/api/models/nope/read-latest', need: 'read', table: 'nope', body: { limit: 1 }, ok: [400] },
  { name: 'execute read', m: 'POST', p: '/api/execute', need: 'read', table: 'notes', body: { model_name: 'notes', action: 'read_batch', payload: { ids: ['1'] } }, ok: [200] },
  { name: 'execute create', m: 'POST', p: '/api/execute', need: 'write', table: 'notes', body: { model_name: 'Notes', action: 'create_batch', payload: [{ body: 'e' }] }, ok: [200] },
  { name: 'execute read other', m: 'POST', p: '/api/execute', need: 'read', table: 'other', body: { model_name: 'other', action: 'read_batch', payload: { ids: ['1'] } }, ok: [200, 404] },
  { name: 'roots latest', m: 'GET', p: '/api/roots/latest', need: 'read', ok: [200] },
  { name: 'roots by seq', m: 'GET', p: '/api/roots/1', need: 'read', ok: [200] },
  { name: 'roots proof', m: 'GET', p: '/api/roots/proof?from=1&to=1', need: 'read', ok: [200] },
  // A transition record names rows of any table: a key for every table only.
  { name: 'roots transition', m: 'GET', p: '/api/roots/1/transition', need: 'read', table: '*', ok: [200] },
  { name: 'checkpoint', m: 'GET', p: '/checkpoint', need: 'read', ok: [200] },
  { name: 'identity', m: 'GET', p: '/api/identity', need: 'read', ok: [200] },
  { name: 'schema', m: 'GET', p: '/bootstrap/schema', need: 'read', table: '*', ok: [200] },
  { name: 'not a route', m: 'GET', p: '/no/such/route', need: 'read', ok: [404] },
  // Admitted, the admin routes are sent bodies they refuse, so the matrix
  // changes nothing: the point is that a refused key never gets this far.
  { name: 'apply-schema', m: 'POST', p: '/bootstrap/apply-schema', need: 'admin', body: { tables: 5 }, ok: [422, 400] },
  { name: 'clear-data', m: 'POST', p: '/bootstrap/clear-data', need: 'admin', body: { confirm: false }, ok: [400] },
  { name: 'migrate', m: 'POST', p: '/bootstrap/migrate', need: 'admin', body: { confirm: false }, ok: [400] },
  { name: 'repair-roots', m: 'POST', p: '/bootstrap/repair-roots', need: 'admin', body: { confirm: false }, ok: [400] },
];

async function call(url, rt, headers) {
  return httpRequest(rt.m, url, rt.p, rt.body, { headers });
}

test('API keys: every route against every kind of key', async () => {
  const dataDir = tempDir('vmdb-auth-');
  const admin = await keys(dataDir, 'create', '--role', 'admin', '--note', 'ops');
  const write = await keys(dataDir, 'create', '--role', 'write');
  const read = await keys(dataDir, 'create', '--role', 'read');
  const scoped = await keys(dataDir, 'create', '--role', 'write', '--table', 'Notes');
  const revoked = await keys(dataDir, 'create', '--role', 'admin');
  for (const k of [admin, write, read, scoped, revoked]) assert.match(k, /^vmdb_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
  await keys(dataDir, 'revoke', revoked.slice(5, 13));
  const list = await keys(dataDir, 'list');
  assert.equal(list.split('\n').length, 4, list);
  assert.ok(!list.includes(revoked.slice(5, 13)), list);
  assert.match(list, new RegExp(`${scoped.slice(5, 13)}\twrite\tnotes\t`));
  // Only hashes are stored.
  const file = fs.readFileSync(path.join(dataDir, 'api_keys.json'), 'utf8');
  for (const k of [admin, write, read, scoped]) assert.ok(!file.includes(k.slice(14)), 'a secret in the keys file');
  assert.equal(fs.statSync(path.join(dataDir, 'api_keys.json')).mode & 0o777, 0o600);
  // A bad role, or an admin key limited to tables, is refused.
  await keysFails(dataDir, 'create', '--role', 'root');
  await keysFails(dataDir, 'create', '--role', 'admin', '--table', 'notes');
  await keysFails(dataDir, 'revoke', 'ffffffff');

  const srv = await startServer({ dataDir });
  try {
    const st = await post(srv.url, '/bootstrap/apply-schema', { tables: [NOTES, OTHER] }, { headers: bearer(admin) });
    assert.equal(st.status, 200, st.text);
    const seed = await post(srv.url, '/api/models/notes/create-batch', { records: [{ body: 'a' }] }, { headers: bearer(admin) });
    assert.equal(seed.status, 200, seed.text);

    const unknown = `vmdb_0badc0de_${'A'.repeat(43)}`;
    const who = {
      'no key': {},
      'empty bearer': { authorization: 'Bearer ' },
      'basic scheme': { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
      'malformed key': bearer('not-a-key'),
      'unknown key': bearer(unknown),
      'truncated key': bearer(admin.slice(0, -1)),
      'revoked key': bearer(revoked),
      read: bearer(read),
      write: bearer(write),
      admin: bearer(admin),
      'write on notes': bearer(scoped),
    };
    const rank = { read: 1, write: 2, admin: 3, 'write on notes': 2 };
    const failures = [];
    for (const rt of ROUTES) {
      for (const [kname, headers] of Object.entries(who)) {
        const r = await call(srv.url, rt, headers);
        let want;
        if (rt.need === 'open') want = 'ok';
        else if (!(kname in rank)) want = 401;
        else if (rank[kname] < RANK[rt.need]) want = 403;
        else if (kname === 'write on notes' && rt.table && rt.table !== 'notes') want = 403;
        else want = 'ok';
        const good = want === 'ok'
          ? rt.ok.includes(r.status)
          : r.status === want && r.json?.code === (want === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN') &&
            r.json?.success === false && typeof r.json?.error === 'string' &&
            (want !== 401 || /^Bearer/.test(r.headers.get('www-authenticate') || ''));
        if (!good) failures.push(`${rt.name} with ${kname}: expected ${want === 'ok' ? rt.ok.join('|') : want}, got ${r.status} ${r.text.slice(0, 200)}`);
      }
    }
    assert.deepEqual(failures, []);

    // Refused requests never reach the store: the rows are those the
    // admitted creates made, no more.
    const latest = await post(srv.url, '/api/models/other/read-latest', { limit: 100 }, { headers: bearer(admin) });
    assert.equal(latest.json.data.ids.length, 2, latest.text); // write's and admin's; none from read or scoped
  } finally {
    await srv.stop();
  }
});

test('API keys: revocation and new keys take effect without a restart', async () => {
  const dataDir = tempDir('vmdb-auth-');
  const a = await keys(dataDir, 'create', '--role', 'read');
  const srv = await startServer({ dataDir });
  try {
    const ident = () => get(srv.url, '/api/identity', { headers: bearer(a) });
    assert.equal((await ident()).status, 200);
    await keys(dataDir, 'revoke', a.slice(5, 13));
    // Seen within about a second (the file's mtime is looked at once a second).
    let status = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 3000 && (status = (await ident()).status) !== 401) await sleep(100);
    assert.equal(status, 401);
    // A new key, then SIGHUP: accepted without a restart.
    const b = await keys(dataDir, 'create', '--role', 'read');
    srv.proc.kill('SIGHUP');
    const t1 = Date.now();
    while (Date.now() - t1 < 3000 && (status = (await get(srv.url, '/api/identity', { headers: bearer(b) })).status) !== 200) await sleep(50);
    assert.equal(status, 200);
    // The file deleted while running: no key is valid (fail closed).
    fs.unlinkSync(path.join(dataDir, 'api_keys.json'));
    const t2 = Date.now();
    while (Date.now() - t2 < 3000 && (status = (await get(srv.url, '/api/identity', { headers: bearer(b) })).status) !== 401) await sleep(100);
    assert.equal(status, 401);
    assert.ok(srv.isRunning());
    assert.match(srv.log(), /SIGHUP received/);
  } finally {
    await srv.stop();
  }
});

test('API keys: a keys file edited by hand refuses start', async () => {
  const dataDir = tempDir('vmdb-auth-');
  await keys(dataDir, 'create', '--role', 'read');
  const p = path.join(dataDir, 'api_keys.json');
  const good = fs.readFileSync(p, 'utf8');
  const doc = JSON.parse(good);
  const edits = {
    'a key added': (d) => d.keys.push({ ...d.keys[0], id: '00000000', role: 'admin' }),
    'a role widened': (d) => { d.keys[0].role = 'admin'; },
    'a table limit removed': (d) => { d.keys[0].tables = null; d.keys[0].role = 'write'; },
    'the signature changed': (d) => { d.file_sig = (d.file_sig[0] === '0' ? '1' : '0') + d.file_sig.slice(1); },
  };
  for (const [what, edit] of Object.entries(edits)) {
    const d = structuredClone(doc);
    edit(d);
    fs.writeFileSync(p, JSON.stringify(d), { mode: 0o600 });
    const s = await spawnServer({ dataDir });
    const ex = await s.exited;
    assert.notEqual(ex.code, 0, `${what}: vmdb started`);
    assert.match(s.log(), /API keys file .* (not one the identity key signed|file_sig)/, `${what}: ${s.log()}`);
  }
  // Formatting does not matter (the signature covers the canonical form).
  fs.writeFileSync(p, JSON.stringify(doc, null, 2), { mode: 0o600 });
  const srv = await startServer({ dataDir });
  await srv.stop();
  // VMDB_API_KEYS naming a missing file refuses start.
  const s2 = await spawnServer({ dataDir, env: { VMDB_API_KEYS: path.join(dataDir, 'nope.json') } });
  assert.notEqual((await s2.exited).code, 0);
  assert.match(s2.log(), /VMDB_API_KEYS names .* which does not exist/);
});

test('API keys: a non-loopback bind needs keys or VMDB_INSECURE_NO_AUTH=true; VMDB_AUTH_HEALTH, VMDB_AUTH_METRICS', async () => {
  const port = await freePort();
  const s = await spawnServer({ env: { VMDB_LISTEN: `0.0.0.0:${port}` } });
  const ex = await s.exited;
  assert.equal(ex.code, 2, s.log());
  assert.match(s.log(), /reachable from other machines and there are no API keys/);

  const insecure = await startServer({ port, env: { VMDB_LISTEN: `0.0.0.0:${port}`, VMDB_INSECURE_NO_AUTH: 'true' } });
  try {
    assert.match(insecure.log(), /VMDB_INSECURE_NO_AUTH=true/);
    assert.equal((await get(insecure.url, '/api/identity')).status, 200);
  } finally {
    await insecure.stop();
  }

  // With keys (provisioned from elsewhere through VMDB_API_KEYS) a
  // non-loopback bind starts and enforces them; /health too when asked.
  const dataDir = tempDir('vmdb-auth-');
  const keyDir = tempDir('vmdb-keys-');
  const env = { ...keyEnv(dataDir), VMDB_API_KEYS: path.join(keyDir, 'keys.json') };
  const k = (await run(BIN, ['keys', 'create', '--role', 'read'], { env, cwd: dataDir })).stdout.trim();
  assert.ok(!fs.existsSync(path.join(dataDir, 'api_keys.json')));
  const port2 = await freePort();
  const srv = await startServer({
    dataDir, port: port2,
    env: {
      VMDB_LISTEN: `0.0.0.0:${port2}`, VMDB_API_KEYS: env.VMDB_API_KEYS, VMDB_AUTH_HEALTH: 'true',
      VMDB_AUTH_METRICS: 'true',
    },
  });
  try {
    const h = await get(srv.url, '/health');
    assert.equal(h.status, 401, h.text);
    assert.equal((await get(srv.url, '/health', { headers: bearer(k) })).status, 200);
    const m = await get(srv.url, '/metrics');
    assert.equal(m.status, 401, m.text);
    assert.equal(m.json?.code, 'UNAUTHORIZED', m.text);
    assert.match(m.headers.get('www-authenticate') || '', /^Bearer/);
    const m2 = await get(srv.url, '/metrics', { headers: bearer(k) });
    assert.equal(m2.status, 200, m2.text);
    assert.match(m2.text, /^# (HELP|TYPE) vmdb_/m);
    assert.equal((await get(srv.url, '/api/identity')).status, 401);
    assert.equal((await get(srv.url, '/api-docs/openapi.json')).status, 200);
  } finally {
    await srv.stop();
  }
  const bad = await spawnServer({ env: { VMDB_AUTH_HEALTH: 'yes' } });
  assert.equal((await bad.exited).code, 2);
  const badMetrics = await spawnServer({ env: { VMDB_AUTH_METRICS: '1' } });
  assert.equal((await badMetrics.exited).code, 2);
});

test('API keys: the JS and Python clients send theirs', async () => {
  const dataDir = tempDir('vmdb-auth-');
  const admin = await keys(dataDir, 'create', '--role', 'admin');
  const read = await keys(dataDir, 'create', '--role', 'read');
  const srv = await startServer({ dataDir });
  try {
    assert.equal((await post(srv.url, '/bootstrap/apply-schema', { tables: [NOTES] }, { headers: bearer(admin) })).status, 200);
    const publicKey = (await get(srv.url, '/api/identity', { headers: bearer(read) })).json.data.public_key;
    const js = new VmdbClient({ url: srv.url, publicKey, apiKey: admin });
    const w = await js.createBatch('notes', [{ body: 'from js' }]);
    assert.equal(w.ids.length, 1);
    const noKey = new VmdbClient({ url: srv.url, publicKey });
    await assert.rejects(noKey.readLatest('notes'), (e) => /UNAUTHORIZED|401/.test(`${e.code} ${e.message}`));
    const py = [
      'import sys, json',
      'from vmdb_client import VmdbClient',
      'c = VmdbClient(sys.argv[1], sys.argv[2], api_key=sys.argv[3])',
      'r = c.read_latest("notes", limit=5)',
      'print(json.dumps([x["body"] for x in r.records]))',
    ].join('\n');
    const out = await run('/usr/bin/python3', ['-c', py, srv.url, publicKey, read], {
      env: { ...process.env, PYTHONPATH: path.join(ROOT, 'clients', 'python') },
    });
    assert.deepEqual(JSON.parse(out.stdout), ['from js']);
    // vmdb verify sends VMDB_API_KEY with what it fetches (--identity-from, --server).
    const roots = (await get(srv.url, '/api/roots/latest', { headers: bearer(read) })).text;
    const file = path.join(dataDir, 'latest.json');
    fs.writeFileSync(file, roots);
    const vfy = (env) => run(BIN, ['verify', file, '--identity-from', srv.url], { env: { ...process.env, ...env } });
    const good = await vfy({ VMDB_API_KEY: read });
    assert.match(good.stdout, /^ok: /);
    await assert.rejects(vfy({ VMDB_API_KEY: '' }), (e) => /401|UNAUTHORIZED/.test(e.stderr));
    await assert.rejects(vfy({ VMDB_API_KEY: 'a\r\nX-Evil: 1' }), (e) => e.code === 2);
  } finally {
    await srv.stop();
  }
});

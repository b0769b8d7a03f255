// HTTPS (VMDB_TLS_CERT / VMDB_TLS_KEY). The test makes its own CA and
// server certificates with `openssl` (for localhost and 127.0.0.1), starts
// vmdb with them and checks that: curl --cacert and node's https with `ca`
// connect and verify, under both names; a wrong CA, or none, fails; plain
// HTTP to the TLS port gets no HTTP answer and leaves the server up; the
// JavaScript client (NODE_EXTRA_CA_CERTS) writes and reads with proofs over
// https; `vmdb verify --identity-from https://... --cacert` verifies a saved
// header and fails without the CA; after the files are replaced, SIGHUP makes
// new connections see the new certificate (fingerprints compared) while an
// open keep-alive connection goes on and the process stays the same; a bad
// pair on SIGHUP keeps the current certificate; VMDB_TLS_MIN_VERSION=1.3
// refuses TLS 1.2; a plain HTTP server ignores SIGHUP; a missing, unreadable,
// invalid or mismatched pair (or only one of the two settings) refuses to
// start with a clear message; SIGTERM still stops cleanly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { BIN, ROOT, spawnServer, startServer, tempDir, sleep } from './lib.mjs';

let dir;
let srv; // {port, proc, exited, log, logFile}
const pem = (name) => path.join(dir, name);
const fp256 = (file) => new crypto.X509Certificate(fs.readFileSync(file)).fingerprint256;

function openssl(args) {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A CA (name.pem, name.key). */
function makeCa(name) {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=vmdb test ${name}`]);
}

/** A server certificate for localhost and 127.0.0.1 signed by `ca` (name.pem, name.key). */
function makeServerCert(name, ca, keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']) {
  fs.writeFileSync(pem('ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' +
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  openssl(['req', ...keyArgs, '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`,
    '-subj', '/CN=localhost']);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
    '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', 'ext.cnf']);
}

/** GET over https; resolves {status, text, fp (the peer's SHA-256), reused}. */
function httpsGet(port, pathname, { ca, host = '127.0.0.1', agent = false } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host, port, path: pathname, ca, agent, timeout: 10_000 }, (res) => {
      const fp = res.socket.getPeerCertificate().fingerprint256;
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString('utf8'),
        fp, reused: req.reusedSocket }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

const curl = (args) => spawnSync('curl', ['-sS', '--max-time', '10', ...args],
  { encoding: 'utf8', timeout: 30_000 });

/** Starts vmdb with `env` and waits until https /health answers with `ca`. */
async function startTls(env, ca = pem('ca.pem')) {
  const s = await spawnServer({ env });
  const deadline = Date.now() + 30_000;
  let exitInfo = null;
  s.exited.then((e) => { exitInfo = e; });
  for (;;) {
    if (exitInfo) throw new Error(`vmdb serve exited (${JSON.stringify(exitInfo)}):\n${s.log()}`);
    try {
      const r = await httpsGet(s.port, '/health', { ca: fs.readFileSync(ca) });
      if (r.status) break;
    } catch { /* not yet */ }
    if (Date.now() > deadline) {
      s.proc.kill('SIGKILL');
      throw new Error(`vmdb serve (TLS) did not answer within 30 s:\n${s.log()}`);
    }
    await sleep(100);
  }
  return s;
}

async function stop(s) {
  if (!s.isRunning()) return s.exited;
  s.proc.kill('SIGTERM');
  const t = setTimeout(() => s.proc.kill('SIGKILL'), 20_000);
  const r = await s.exited;
  clearTimeout(t);
  // As lib.mjs's stop(): a sanitizer build's report in the log fails the test.
  const report = s.log().match(/(ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:)[^\n]*/);
  if (report) throw new Error(`sanitizer report in the server log (${s.logFile}): ${report[0]}`);
  return r;
}

/** Waits until the server's log has `count` lines matching `re`. */
async function waitLog(s, re, count) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const n = (s.log().match(new RegExp(re.source, 'g')) || []).length;
    if (n >= count) return;
    if (Date.now() > deadline) throw new Error(`log has ${n} of ${count} lines matching ${re}:\n${s.log()}`);
    await sleep(50);
  }
}

/** Runs `vmdb serve` with `env` (no database needed: TLS is checked first). */
function serveRefusal(env) {
  const e = { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', VMDB_DATA_DIR: pem('refuse-data'),
    VMDB_LISTEN: '127.0.0.1:1', ...env };
  for (const [k, v] of Object.entries(e)) if (v === undefined) delete e[k];
  const r = spawnSync(BIN, ['serve'], { cwd: dir, env: e, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, err: r.stderr };
}

before(async () => {
  const v = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  assert.equal(v.status, 0, 'openssl is needed (scripts/install-deps.sh installs it)');
  dir = tempDir('vmdb-tls-');
  makeCa('ca');
  makeCa('wrongca');
  makeServerCert('a', 'ca');
  makeServerCert('b', 'ca', ['-newkey', 'rsa:2048']);
  makeServerCert('other', 'ca');
  fs.copyFileSync(pem('a.pem'), pem('server.pem'));
  fs.copyFileSync(pem('a.key'), pem('server.key'));
  srv = await startTls({ VMDB_TLS_CERT: pem('server.pem'), VMDB_TLS_KEY: pem('server.key'), BATCH_COMMIT_SIZE: '1' });
});

after(async () => {
  if (srv) {
    const r = await stop(srv);
    assert.equal(r.code, 0, `SIGTERM stops the TLS server cleanly:\n${srv.log().slice(-2000)}`);
  }
});

test('curl --cacert and node https with ca connect and verify, by IP and by name', async () => {
  for (const host of ['127.0.0.1', 'localhost']) {
    const c = curl(['--cacert', pem('ca.pem'), `https://${host}:${srv.port}/health`]);
    assert.equal(c.status, 0, `curl ${host}: ${c.stderr}`);
    assert.equal(JSON.parse(c.stdout).success, true);
    const r = await httpsGet(srv.port, '/api/identity', { ca: fs.readFileSync(pem('ca.pem')), host });
    assert.equal(r.status, 200);
    assert.match(JSON.parse(r.text).data.public_key, /^[0-9a-f]{64}$/);
    assert.equal(r.fp, fp256(pem('a.pem')), 'the server presents certificate a');
  }
  assert.match(srv.log(), new RegExp(`TLS certificate .* \\(SHA-256 ${fp256(pem('a.pem'))}\\)`));
  assert.match(srv.log(), /listening on https:\/\//);
});

test('a wrong CA, or the system CAs, do not verify the server', async () => {
  const c = curl(['--cacert', pem('wrongca.pem'), `https://127.0.0.1:${srv.port}/health`]);
  assert.equal(c.status, 60, `curl with the wrong CA: exit 60 (peer certificate not verified): ${c.stderr}`);
  assert.equal(curl([`https://127.0.0.1:${srv.port}/health`]).status, 60);
  await assert.rejects(httpsGet(srv.port, '/health', { ca: fs.readFileSync(pem('wrongca.pem')) }),
    (e) => /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|unable to verify/i.test(`${e.code} ${e.message}`));
  await assert.rejects(httpsGet(srv.port, '/health'));
});

test('plain HTTP to the TLS port gets no HTTP answer, and the server stays up', async () => {
  const c = curl([`http://127.0.0.1:${srv.port}/health`]);
  assert.notEqual(c.status, 0, 'curl over plain HTTP must fail');
  assert.equal(c.stdout, '');
  await assert.rejects(fetch(`http://127.0.0.1:${srv.port}/health`, { signal: AbortSignal.timeout(10_000) }));
  // A raw request: whatever comes back is not an HTTP response, and the socket closes.
  const got = await new Promise((resolve, reject) => {
    const s = net.connect(srv.port, '127.0.0.1', () => s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
    const bufs = [];
    s.setTimeout(10_000, () => { s.destroy(); reject(new Error('socket stayed open')); });
    s.on('data', (b) => bufs.push(b));
    s.on('error', () => resolve(Buffer.concat(bufs)));
    s.on('close', () => resolve(Buffer.concat(bufs)));
  });
  assert.ok(!got.toString('latin1').startsWith('HTTP/'), 'no HTTP answer on the TLS port');
  const r = await httpsGet(srv.port, '/health', { ca: fs.readFileSync(pem('ca.pem')) });
  assert.equal(r.status, 200);
});

test('the JavaScript client writes and reads with proofs over https (NODE_EXTRA_CA_CERTS)', async () => {
  const id = JSON.parse((await httpsGet(srv.port, '/api/identity', { ca: fs.readFileSync(pem('ca.pem')) })).text);
  const client = pathToFileURL(path.join(ROOT, 'clients/js/src/index.mjs')).href;
  const script = `
    import { VmdbClient } from ${JSON.stringify(client)};
    const url = process.env.URL;
    const schema = await fetch(url + '/bootstrap/apply-schema', { method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tables: [{ table_name: 'notes', primary_key_field: 'id', primary_key_kind: 'serial',
        columns: [{ name: 'body', col_type: 'text', nullable: false }] }] }) });
    if (schema.status !== 200) throw new Error('apply-schema ' + schema.status + ' ' + await schema.text());
    const db = new VmdbClient({ url, publicKey: process.env.PK });
    const w = await db.createBatch('notes', [{ body: 'over tls' }]);
    const r = await db.readBatch('notes', w.ids);
    console.log(JSON.stringify({ ids: w.ids, body: r.records[0].body, seq: r.header.seq }));
  `;
  const run = (extra) => new Promise((resolve) => {
    const env = { ...process.env, URL: `https://localhost:${srv.port}`, PK: id.data.public_key, ...extra };
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
    const p = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '', err = '';
    p.stdout.on('data', (b) => { out += b; });
    p.stderr.on('data', (b) => { err += b; });
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('exit', (code) => { clearTimeout(t); resolve({ code, out, err }); });
  });
  const bad = await run({ NODE_EXTRA_CA_CERTS: undefined });
  assert.notEqual(bad.code, 0, 'without the CA the client must refuse the server');
  const good = await run({ NODE_EXTRA_CA_CERTS: pem('ca.pem') });
  assert.equal(good.code, 0, good.err);
  const res = JSON.parse(good.out.trim());
  assert.equal(res.body, 'over tls');
  assert.equal(res.ids.length, 1);
});

test('vmdb verify --identity-from https://... --cacert verifies; without the CA it cannot fetch', async () => {
  const latest = (await httpsGet(srv.port, '/api/roots/latest', { ca: fs.readFileSync(pem('ca.pem')) })).text;
  const file = pem('latest.json');
  fs.writeFileSync(file, latest);
  const verify = (args) => spawnSync(BIN, ['verify', file, ...args], { encoding: 'utf8', timeout: 60_000 });
  const url = `https://127.0.0.1:${srv.port}`;
  const ok = verify(['--identity-from', url, '--cacert', pem('ca.pem')]);
  assert.equal(ok.status, 0, `${ok.stdout}${ok.stderr}`);
  assert.match(ok.stdout, /^ok: /m);
  const none = verify(['--identity-from', url]);
  assert.equal(none.status, 1, `${none.stdout}${none.stderr}`);
  assert.match(none.stdout + none.stderr, /cannot fetch the identity/);
  const wrong = verify(['--identity-from', url, '--cacert', pem('wrongca.pem')]);
  assert.equal(wrong.status, 1, `${wrong.stdout}${wrong.stderr}`);
});

test('SIGHUP after the files are replaced: new connections get the new certificate, open ones go on', async () => {
  const ca = fs.readFileSync(pem('ca.pem'));
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca });
  const first = await httpsGet(srv.port, '/health', { ca, agent });
  assert.equal(first.fp, fp256(pem('a.pem')));
  const pid = srv.proc.pid;
  const reloads = (srv.log().match(/TLS certificate reloaded/g) || []).length;
  fs.copyFileSync(pem('b.pem'), pem('server.pem'));
  fs.copyFileSync(pem('b.key'), pem('server.key'));
  srv.proc.kill('SIGHUP');
  await waitLog(srv, /TLS certificate reloaded/, reloads + 1);
  assert.match(srv.log(), new RegExp(`reloaded \\(SHA-256 ${fp256(pem('b.pem'))}\\)`));
  const fresh = await httpsGet(srv.port, '/health', { ca });
  assert.equal(fresh.status, 200);
  assert.equal(fresh.fp, fp256(pem('b.pem')), 'a new connection sees certificate b');
  const c = curl(['--cacert', pem('ca.pem'), '-w', '%{http_code}', '-o', '/dev/null', `https://localhost:${srv.port}/health`]);
  assert.equal(c.stdout, '200', c.stderr);
  // The keep-alive connection opened before the reload still answers, on the same socket.
  const again = await httpsGet(srv.port, '/health', { ca, agent });
  assert.equal(again.status, 200);
  assert.equal(again.reused, true, 'the old connection was reused');
  assert.equal(again.fp, fp256(pem('a.pem')), 'the old connection keeps its certificate');
  agent.destroy();
  assert.equal(srv.proc.pid, pid);
  assert.ok(srv.isRunning());
});

test('SIGHUP with a broken or mismatched pair keeps the current certificate', async () => {
  const ca = fs.readFileSync(pem('ca.pem'));
  const before = (await httpsGet(srv.port, '/health', { ca })).fp;
  const failures = () => (srv.log().match(/TLS reload failed/g) || []).length;
  let n = failures();
  fs.writeFileSync(pem('server.pem'), 'not a certificate\n');
  srv.proc.kill('SIGHUP');
  await waitLog(srv, /TLS reload failed/, ++n);
  assert.equal((await httpsGet(srv.port, '/health', { ca })).fp, before);
  fs.copyFileSync(pem('other.pem'), pem('server.pem')); // key still b's
  srv.proc.kill('SIGHUP');
  await waitLog(srv, /TLS reload failed/, ++n);
  assert.match(srv.log(), /do not match/);
  assert.equal((await httpsGet(srv.port, '/health', { ca })).fp, before);
  fs.copyFileSync(pem('other.key'), pem('server.key'));
  srv.proc.kill('SIGHUP');
  await waitLog(srv, new RegExp(`reloaded \\(SHA-256 ${fp256(pem('other.pem'))}\\)`), 1);
  assert.equal((await httpsGet(srv.port, '/health', { ca })).fp, fp256(pem('other.pem')));
});

test('VMDB_TLS_MIN_VERSION=1.3 refuses TLS 1.2; the default takes 1.2 and refuses 1.1', async () => {
  const s = await startTls({ VMDB_TLS_CERT: pem('a.pem'), VMDB_TLS_KEY: pem('a.key'), VMDB_TLS_MIN_VERSION: '1.3' });
  try {
    const u = `https://127.0.0.1:${s.port}/health`;
    assert.equal(curl(['--cacert', pem('ca.pem'), '--tls-max', '1.2', u]).status === 0, false);
    const ok13 = curl(['--cacert', pem('ca.pem'), '--tlsv1.3', '-o', '/dev/null', '-w', '%{http_code}', u]);
    assert.equal(ok13.stdout, '200', ok13.stderr);
  } finally {
    assert.equal((await stop(s)).code, 0);
  }
  const u = `https://127.0.0.1:${srv.port}/health`;
  const ok12 = curl(['--cacert', pem('ca.pem'), '--tls-max', '1.2', '-o', '/dev/null', '-w', '%{http_code}', u]);
  assert.equal(ok12.stdout, '200', ok12.stderr);
  assert.notEqual(curl(['--cacert', pem('ca.pem'), '--tls-max', '1.1', u]).status, 0);
});

test('a plain HTTP server ignores SIGHUP (no certificate to reload)', async () => {
  const s = await startServer();
  try {
    s.proc.kill('SIGHUP');
    await waitLog(s, /SIGHUP received; no TLS certificate to reload/, 1);
    const h = await fetch(s.url + '/health');
    assert.equal(h.status, 200);
  } finally {
    assert.equal((await s.stop()).code, 0);
  }
});

test('vmdb serve refuses to start on a bad TLS configuration, with a clear message', () => {
  const cases = [
    [{ VMDB_TLS_CERT: pem('a.pem') }, /VMDB_TLS_CERT and VMDB_TLS_KEY go together/],
    [{ VMDB_TLS_KEY: pem('a.key') }, /VMDB_TLS_CERT and VMDB_TLS_KEY go together/],
    [{ VMDB_TLS_CERT: pem('missing.pem'), VMDB_TLS_KEY: pem('a.key') }, /cannot read the certificate file .*missing\.pem/],
    [{ VMDB_TLS_CERT: pem('a.pem'), VMDB_TLS_KEY: pem('missing.key') }, /cannot read the key file .*missing\.key/],
    [{ VMDB_TLS_CERT: pem('ext.cnf'), VMDB_TLS_KEY: pem('a.key') }, /cannot serve HTTPS: .*not a PEM certificate/],
    [{ VMDB_TLS_CERT: pem('a.pem'), VMDB_TLS_KEY: pem('a.pem') }, /cannot serve HTTPS: /],
    [{ VMDB_TLS_CERT: pem('a.pem'), VMDB_TLS_KEY: pem('b.key') }, /do not match/],
    [{ VMDB_TLS_CERT: pem('a.pem'), VMDB_TLS_KEY: pem('a.key'), VMDB_TLS_MIN_VERSION: '1.0' }, /VMDB_TLS_MIN_VERSION must be 1.2 or 1.3/],
  ];
  for (const [env, re] of cases) {
    const r = serveRefusal({ VMDB_TLS_CERT: undefined, VMDB_TLS_KEY: undefined, VMDB_TLS_MIN_VERSION: undefined, ...env });
    assert.equal(r.code, 2, `${JSON.stringify(env)}: ${r.err}`);
    assert.match(r.err, re, JSON.stringify(env));
  }
  const help = spawnSync(BIN, ['serve', '--help'], { encoding: 'utf8' });
  for (const k of ['VMDB_TLS_CERT', 'VMDB_TLS_KEY', 'VMDB_TLS_MIN_VERSION']) assert.match(help.stdout, new RegExp(k));
});

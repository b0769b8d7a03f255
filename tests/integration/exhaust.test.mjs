// Connection exhaustion (issue 13, Deliver 4): slow-header (slowloris)
// clients and one client opening many connections must not keep others
// from being answered. The server caps open connections per client address
// (VMDB_HTTP_PER_IP_CONNECTIONS) and closes a connection whose request line
// and headers are not in by a deadline that slow senders cannot extend
// (VMDB_HTTP_HEADER_TIMEOUT_S; a body gets that plus 1 s per 16 KiB).
// Linux routes all of 127.0.0.0/8 to lo, so the test speaks from several
// loopback addresses (socket localAddress) to be several clients.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { startServer, spawnServer, sleep } from './lib.mjs';

const HEADER_S = 3;
const PER_IP = 64;

let srvPromise = null;
function server() {
  srvPromise ||= startServer({
    env: { VMDB_HTTP_HEADER_TIMEOUT_S: String(HEADER_S), VMDB_HTTP_PER_IP_CONNECTIONS: String(PER_IP) },
  });
  return srvPromise;
}
after(async () => { if (srvPromise) await (await srvPromise).stop(); });

/** GET `path` on a new connection from `localAddress`: {status, ms, body}. */
function getFrom(port, localAddress, path = '/health', timeoutMs = 5000) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.request({ host: '127.0.0.1', port, path, localAddress, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, ms: performance.now() - t0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** A raw connection from `localAddress`; `first` is written on connect and
 * `drip` (if any) every `everyMs` after, one piece at a time. Returns a state
 * object whose `closed` promise resolves with the ms from connect to close. */
function rawConn(port, localAddress, first, { drip = null, everyMs = 1000 } = {}) {
  const st = { data: '', t0: performance.now(), closedMs: null, timer: null };
  const s = net.connect({ host: '127.0.0.1', port, localAddress });
  st.socket = s;
  st.closed = new Promise((resolve) => {
    s.on('close', () => {
      clearInterval(st.timer);
      st.closedMs = performance.now() - st.t0;
      resolve(st.closedMs);
    });
  });
  s.on('error', () => { /* a refused or reset connection: seen as close */ });
  s.on('data', (c) => { st.data += c.toString(); });
  s.on('connect', () => {
    st.t0 = performance.now();
    if (first) s.write(first);
    if (drip) st.timer = setInterval(() => { if (!s.destroyed) s.write(drip); }, everyMs);
  });
  return st;
}

test('1,100 slow-header connections from one client: others are answered within a second, the slow ones are capped and closed by the header deadline', async () => {
  const srv = await server();
  const N = 1100;
  const slow = [];
  for (let i = 0; i < N; i++) {
    slow.push(rawConn(srv.port, '127.0.0.1', 'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ', { drip: 'a', everyMs: 1000 }));
  }
  const t0 = performance.now();
  const probes = [];
  let openAt1500 = null;
  // Normal requests from other addresses every 100 ms, for twice the deadline.
  while (performance.now() - t0 < (2 * HEADER_S + 1) * 1000) {
    const from = `127.0.0.${2 + (probes.length % 5)}`;
    probes.push(getFrom(srv.port, from));
    await sleep(100);
    if (openAt1500 === null && performance.now() - t0 >= 1500) openAt1500 = slow.filter((s) => s.closedMs === null).length;
  }
  const answers = await Promise.all(probes);
  for (const a of answers) {
    assert.equal(a.status, 200, a.body);
    assert.ok(a.ms < 1000, `a normal request took ${a.ms.toFixed(0)} ms`);
  }
  // The per-address cap: the connections beyond it were closed at once.
  assert.ok(openAt1500 <= PER_IP && openAt1500 >= PER_IP / 2, `open after 1.5 s: ${openAt1500}`);
  // The rest: closed by the deadline, although they kept sending.
  const closed = await Promise.race([
    Promise.all(slow.map((s) => s.closed)),
    sleep(3000).then(() => null),
  ]);
  assert.ok(closed, `slow connections still open: ${slow.filter((s) => s.closedMs === null).length}`);
  const held = closed.filter((ms) => ms > 1500);
  assert.ok(held.length <= PER_IP && held.length >= PER_IP / 2, `held: ${held.length}`);
  for (const ms of held) assert.ok(ms < (HEADER_S + 1.5) * 1000 && ms > (HEADER_S - 0.5) * 1000, `closed after ${ms} ms`);
  for (const s of slow) assert.ok(!s.data.startsWith('HTTP/1.1 200'), 'a slow request was answered');
});

test('per-address cap: the (N+1)-th connection from one address is closed while another address is served, and a freed slot is usable', async () => {
  const srv = await server();
  // N idle connections (no bytes yet) from 127.0.0.9.
  const held = [];
  for (let i = 0; i < PER_IP; i++) held.push(rawConn(srv.port, '127.0.0.9', null));
  await sleep(300);
  assert.equal(held.filter((s) => s.closedMs !== null).length, 0, 'a connection within the cap was closed');
  const extra = rawConn(srv.port, '127.0.0.9', 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  const ms = await Promise.race([extra.closed, sleep(2000).then(() => null)]);
  assert.ok(ms !== null && ms < 1000, 'the connection over the cap stayed open');
  assert.equal(extra.data, '', 'the connection over the cap was answered');
  const other = await getFrom(srv.port, '127.0.0.10');
  assert.equal(other.status, 200);
  assert.ok(other.ms < 1000);
  // One closed: that address gets a connection again.
  held[0].socket.destroy();
  await held[0].closed;
  await sleep(100);
  const again = await getFrom(srv.port, '127.0.0.9');
  assert.equal(again.status, 200);
  for (const s of held) s.socket.destroy();
});

test('deadlines: headers completed just in time are answered; a slow body and an idle kept-alive connection are closed', async () => {
  const srv = await server();
  // Headers over ~2 s (within 3 s): answered.
  const inTime = rawConn(srv.port, '127.0.0.11', 'GET /health HTTP/1.1\r\n');
  await sleep(1000);
  inTime.socket.write('Host: x\r\n');
  await sleep(1000);
  inTime.socket.write('Connection: close\r\n\r\n');
  await inTime.closed;
  assert.match(inTime.data, /^HTTP\/1\.1 200/);

  // A 10-byte body one byte a second: closed at the deadline, unanswered.
  const body = rawConn(srv.port, '127.0.0.12',
    'POST /api/models/x/create-batch HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\n\r\n',
    { drip: ' ', everyMs: 1000 });
  const bodyMs = await Promise.race([body.closed, sleep((HEADER_S + 3) * 1000).then(() => null)]);
  assert.ok(bodyMs !== null, 'a slow body was not cut');
  assert.ok(bodyMs > (HEADER_S - 0.5) * 1000, `slow body closed after ${bodyMs} ms`);
  assert.equal(body.data, '');

  // Kept alive after an answer: the next request's headers are due within
  // the same timeout; an idle connection is closed then.
  const ka = rawConn(srv.port, '127.0.0.13', 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
  while (!/\r\n\r\n[\s\S]*\}\s*$/.test(ka.data) && ka.closedMs === null) await sleep(20);
  const answeredAt = performance.now();
  assert.match(ka.data, /^HTTP\/1\.1 200/);
  const kaClosed = await Promise.race([ka.closed, sleep((HEADER_S + 3) * 1000).then(() => null)]);
  assert.ok(kaClosed !== null, 'an idle kept-alive connection stayed open');
  const idleMs = performance.now() - answeredAt;
  assert.ok(idleMs > (HEADER_S - 0.5) * 1000, `idle connection closed after ${idleMs} ms`);
});

test('settings: a bad VMDB_HTTP_PER_IP_CONNECTIONS or VMDB_HTTP_HEADER_TIMEOUT_S refuses to start', async () => {
  for (const env of [{ VMDB_HTTP_PER_IP_CONNECTIONS: '-1' }, { VMDB_HTTP_PER_IP_CONNECTIONS: '2000' },
    { VMDB_HTTP_HEADER_TIMEOUT_S: 'ten' }, { VMDB_HTTP_HEADER_TIMEOUT_S: '3601' }, { VMDB_HTTP_HEADER_TIMEOUT_S: '0' }]) {
    const s = await spawnServer({ env });
    const ex = await s.exited;
    assert.equal(ex.code, 2, JSON.stringify(env));
    assert.match(s.log(), new RegExp(`${Object.keys(env)[0]} must be`));
  }
});

#!/usr/bin/env node
// solana-local: LiteSVM behind a Solana JSON-RPC 2.0 HTTP server on
// 127.0.0.1, for vmdb's tests. See README.md.
//
//   node server.mjs [--port N] [--block-ms MS] [--quiet]
//   (PORT and BLOCK_MS in the environment work too; port 0 = any free port)
import http from 'node:http';
import crypto from 'node:crypto';
import { Chain } from './lib/chain.mjs';
import { RpcError, invalidParams } from './lib/wire.mjs';

function parseArgs(argv) {
  const opts = {
    port: process.env.PORT ?? '8899',
    blockMs: process.env.BLOCK_MS ?? '400',
    quiet: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--port' || a.startsWith('--port=')) opts.port = val();
    else if (a === '--block-ms' || a.startsWith('--block-ms=')) opts.blockMs = val();
    else if (a === '--quiet') opts.quiet = true;
    else if (a === '--help' || a === '-h') usage();
    else usage(`unknown argument ${a}`);
  }
  const port = Number(opts.port);
  const blockMs = Number(opts.blockMs);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`bad port ${opts.port}`);
  if (!Number.isInteger(blockMs) || blockMs < 0) usage(`bad block interval ${opts.blockMs}`);
  return { port, blockMs, quiet: opts.quiet };
}

function usage(err) {
  const text =
    'usage: node server.mjs [--port N] [--block-ms MS] [--quiet]\n' +
    '  --port N       listen on 127.0.0.1:N (0 = any free port; env PORT; default 8899)\n' +
    '  --block-ms MS  produce a block every MS milliseconds (0 = only on vmdb_advanceBlocks;\n' +
    '                 env BLOCK_MS; default 400)\n';
  if (err) {
    process.stderr.write(`solana-local: ${err}\n${text}`);
    process.exit(2);
  }
  process.stdout.write(text);
  process.exit(0);
}

// JSON with u64 values: bigints are written as plain integers.
const BIG = `__big_${crypto.randomBytes(6).toString('hex')}_`;
const BIG_RE = new RegExp(`"${BIG}(-?\\d+)"`, 'g');
function stringify(v) {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${BIG}${x}` : x)).replace(BIG_RE, '$1');
}

const opts = parseArgs(process.argv.slice(2));
const log = opts.quiet ? () => {} : (msg) => process.stderr.write(`solana-local: ${msg}\n`);
const chain = new Chain({ log });
chain.advance(64); // so that finalized, confirmed and processed are distinct blocks from the start

// ------------------------------------------------------------------ outages
// Every method but the vmdb_* ones fails while unavailable:
//   "503"    HTTP 503 Service Unavailable (default)
//   "429"    HTTP 429 Too Many Requests
//   "reset"  the connection is closed without a response
//   "hang"   no response until available again (then the connection is closed)
//   "refuse" the listening socket is closed: connections are refused. Needs
//            durationMs or SIGUSR2 to come back, since vmdb_* cannot reach it.
// SIGUSR1 starts a "503" outage, SIGUSR2 ends any outage.
const outage = { available: true, mode: '503', timer: null };
const hung = new Set();
const sockets = new Set();
let listening = false;

function setAvailable(available, mode = '503', durationMs) {
  if (outage.timer) clearTimeout(outage.timer);
  outage.timer = null;
  if (!['503', '429', 'reset', 'hang', 'refuse'].includes(mode))
    throw invalidParams(`vmdb_setAvailable: unknown mode ${mode} (503, 429, reset, hang, refuse)`);
  if (available) {
    outage.available = true;
    for (const res of hung) res.socket?.destroy();
    hung.clear();
    if (!listening) listen(actualPort);
  } else {
    if (mode === 'refuse' && !(durationMs > 0))
      throw invalidParams('vmdb_setAvailable: mode "refuse" needs durationMs (or SIGUSR2 to end it)');
    outage.available = false;
    outage.mode = mode;
    if (durationMs > 0) outage.timer = setTimeout(() => setAvailable(true), durationMs);
    if (mode === 'refuse') {
      // Reply first, then close everything.
      setImmediate(() => {
        listening = false;
        server.close();
        for (const s of sockets) s.destroy();
      });
    }
  }
  log(`available=${outage.available}${outage.available ? '' : ` mode=${mode}`}`);
}

// ------------------------------------------------------------------ methods

function positional(params) {
  if (params === undefined || params === null) return [];
  if (!Array.isArray(params)) throw invalidParams('Invalid params: invalid type: map, expected a tuple.');
  return params;
}

function named(params) {
  if (Array.isArray(params)) return params[0] ?? {};
  return params ?? {};
}

const methods = {
  getHealth: () => 'ok',
  getVersion: () => chain.getVersion(),
  getGenesisHash: () => chain.genesisHash,
  getSlot: (p) => chain.getSlot(p[0]),
  getBlockHeight: (p) => chain.getBlockHeight(p[0]),
  getEpochInfo: (p) => chain.getEpochInfo(p[0]),
  getLatestBlockhash: (p) => chain.getLatestBlockhash(p[0]),
  getBalance: (p) => chain.getBalance(p[0], p[1]),
  getMinimumBalanceForRentExemption: (p) => chain.getMinimumBalanceForRentExemption(p[0], p[1]),
  requestAirdrop: (p) => chain.requestAirdrop(p[0], p[1], p[2]),
  sendTransaction: (p) => chain.sendTransaction(p[0], p[1]),
  getSignatureStatuses: (p) => chain.getSignatureStatuses(p[0], p[1]),
  getSignaturesForAddress: (p) => chain.getSignaturesForAddress(p[0], p[1]),
  getTransaction: (p) => chain.getTransaction(p[0], p[1]),
};

const adminMethods = {
  vmdb_setAvailable: (params) => {
    const a = named(params);
    if (typeof a.available !== 'boolean') throw invalidParams('vmdb_setAvailable: {available: bool, mode?, durationMs?}');
    setAvailable(a.available, a.mode ?? '503', a.durationMs);
    return { available: outage.available, mode: outage.available ? null : outage.mode };
  },
  vmdb_advanceBlocks: (params) => {
    const a = named(params);
    const n = a.n ?? 1;
    if (!Number.isInteger(n) || n < 0 || n > 1_000_000) throw invalidParams('vmdb_advanceBlocks: {n: integer 0..1000000}');
    chain.advance(n);
    return { blockHeight: chain.height, slot: chain.slot };
  },
  vmdb_status: () => ({ ...chain.status(), available: outage.available, mode: outage.available ? null : outage.mode }),
};

function handleOne(req) {
  if (req === null || typeof req !== 'object' || Array.isArray(req) || req.jsonrpc !== '2.0' || typeof req.method !== 'string')
    return { jsonrpc: '2.0', error: { code: -32600, message: 'Invalid request' }, id: req?.id ?? null };
  const id = req.id ?? null;
  try {
    let result;
    if (Object.hasOwn(adminMethods, req.method)) result = adminMethods[req.method](req.params);
    else if (Object.hasOwn(methods, req.method)) result = methods[req.method](positional(req.params));
    else return { jsonrpc: '2.0', error: { code: -32601, message: 'Method not found' }, id };
    return { jsonrpc: '2.0', result, id };
  } catch (e) {
    if (e instanceof RpcError) return { jsonrpc: '2.0', error: e.toJSON(), id };
    log(`internal error in ${req.method}: ${e.stack ?? e}`);
    return { jsonrpc: '2.0', error: { code: -32603, message: `Internal error: ${e.message}` }, id };
  }
}

const isAdmin = (r) => r && typeof r === 'object' && typeof r.method === 'string' && r.method.startsWith('vmdb_');

function send(res, status, body, type = 'application/json; charset=utf-8') {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function refuse(res) {
  switch (outage.mode) {
    case '429':
      return send(res, 429, 'Too Many Requests\n', 'text/plain');
    case 'reset':
    case 'refuse':
      return res.socket?.destroy();
    case 'hang':
      hung.add(res);
      res.on('close', () => hung.delete(res));
      return undefined;
    default:
      return send(res, 503, 'Service Unavailable\n', 'text/plain');
  }
}

const MAX_BODY = 10 * 1024 * 1024;

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && (req.url === '/health' || req.url === '/health/')) {
    if (!outage.available) return refuse(res);
    return send(res, 200, 'ok', 'text/plain');
  }
  if (req.method !== 'POST') {
    res.setHeader('Allow', 'POST');
    return send(res, 405, 'Used HTTP Method is not allowed. POST or OPTIONS is required\n', 'text/plain');
  }
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) {
      send(res, 413, 'Payload Too Large\n', 'text/plain');
      req.destroy();
    } else chunks.push(c);
  });
  req.on('end', () => {
    if (size > MAX_BODY) return;
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      if (!outage.available) return refuse(res);
      return send(res, 200, stringify({ jsonrpc: '2.0', error: { code: -32700, message: 'Parse error' }, id: null }));
    }
    const batch = Array.isArray(body);
    const reqs = batch ? body : [body];
    if (!outage.available && !(reqs.length > 0 && reqs.every(isAdmin))) return refuse(res);
    if (batch && reqs.length === 0)
      return send(res, 200, stringify({ jsonrpc: '2.0', error: { code: -32600, message: 'Invalid request' }, id: null }));
    const out = reqs.map(handleOne);
    return send(res, 200, stringify(batch ? out : out[0]));
  });
});
server.keepAliveTimeout = 5000;
server.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});

let actualPort = opts.port;
let announced = false;
function listen(port) {
  server.listen(port, '127.0.0.1', () => {
    listening = true;
    actualPort = server.address().port;
    if (!announced) {
      announced = true;
      process.stdout.write(`solana-local listening on http://127.0.0.1:${actualPort}\n`);
    }
  });
}
server.on('error', (e) => {
  process.stderr.write(`solana-local: ${e.message}\n`);
  process.exit(1);
});

const blockTimer = opts.blockMs > 0 ? setInterval(() => chain.produceBlock(), opts.blockMs) : null;
listen(opts.port);

function shutdown(sig) {
  log(`${sig}: shutting down`);
  if (blockTimer) clearInterval(blockTimer);
  if (outage.timer) clearTimeout(outage.timer);
  server.close();
  for (const s of sockets) s.destroy();
  process.exit(0);
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGUSR1', () => setAvailable(false, '503'));
process.on('SIGUSR2', () => setAvailable(true));

// The two clients' entry points as the conformance suite calls them
// (docs/CLIENTS.md and the client contract):
//
//   runCases(lang, cases)  -> [{name, ok, code}]  conformance entry point
//                             (JS: clients/js/src/conform.mjs conformCase;
//                             Python: `python3 -m vmdb_client.conform`, a JSON
//                             array of cases on stdin, results on stdout)
//   runSteps(lang, config, steps) -> [outcome]    a VmdbClient driven through
//                             data calls (JS: imported here; Python:
//                             tests/conformance/py_driver.py)
//   LANGS                  -> the languages to run (CONFORM_LANG=js|python
//                             picks one; default both)
//
// A case carries its expectation in `expect` ({ok, code}); it is taken off
// before the case reaches a client, so a client sees exactly the contract's
// case object. Python is Debian's /usr/bin/python3 (python3-cryptography),
// or CONFORM_PYTHON.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PYTHON = process.env.CONFORM_PYTHON || '/usr/bin/python3';
// CONFORM_CLIENTS_ROOT: take the clients from another checkout (to try a
// client's work in progress against the suite); default this repository.
const CLIENTS = path.resolve(process.env.CONFORM_CLIENTS_ROOT || ROOT);
const JS_CONFORM = path.join(CLIENTS, 'clients', 'js', 'src', 'conform.mjs');
const JS_DIR = path.join(CLIENTS, 'clients', 'js');
const PY_DIR = path.join(CLIENTS, 'clients', 'python');
const PY_DRIVER = path.join(ROOT, 'tests', 'conformance', 'py_driver.py');

const ALL = ['js', 'python'];
export const LANGS = (() => {
  const want = process.env.CONFORM_LANG;
  if (!want) return ALL;
  const l = want.split(',').map((s) => s.trim()).filter(Boolean);
  for (const x of l) if (!ALL.includes(x)) throw new Error(`CONFORM_LANG: unknown language ${x} (js, python)`);
  return l;
})();

/** The case object of the contract: the suite's `expect` (and any other extra member) removed. */
export function contractCase(c) {
  const out = { name: c.name, op: c.op };
  if (c.kind !== undefined) out.kind = c.kind;
  out.input = c.input;
  out.public_key = c.public_key;
  out.opts = c.opts || {};
  return out;
}

/** Runs a child process with `input` on stdin; {code, stdout, stderr}. */
function runChild(cmd, args, input, env, timeoutMs = 120_000) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => { clearTimeout(t); reject(e); });
    p.on('close', (code, signal) => { clearTimeout(t); resolve({ code, signal, stdout, stderr }); });
    p.stdin.end(input);
  });
}

const pyEnv = () => ({ PYTHONPATH: [PY_DIR, process.env.PYTHONPATH].filter(Boolean).join(path.delimiter), PYTHONDONTWRITEBYTECODE: '1' });

let jsConform = null;
async function loadJsConform() {
  if (!jsConform) {
    if (!fs.existsSync(JS_CONFORM)) throw new Error(`${path.relative(ROOT, JS_CONFORM)} does not exist`);
    const mod = await import(pathToFileURL(JS_CONFORM).href);
    if (typeof mod.conformCase !== 'function') throw new Error('clients/js/src/conform.mjs does not export conformCase');
    jsConform = mod.conformCase;
  }
  return jsConform;
}

/** Whether a client's conformance entry point is there at all (the file exists). */
export function hasClient(lang) {
  return lang === 'js' ? fs.existsSync(JS_CONFORM) : fs.existsSync(path.join(PY_DIR, 'vmdb_client', 'conform.py'));
}

/**
 * Runs the cases through one client's conformance entry point; returns the
 * results in the cases' order. A crash of the entry point (an exception out
 * of conformCase, a non-zero exit, output that is not the array of results)
 * throws: that is a broken entry point, not a verdict.
 */
export async function runCases(lang, cases) {
  const plain = cases.map(contractCase);
  let results;
  if (lang === 'js') {
    const conformCase = await loadJsConform();
    results = [];
    for (const c of plain) {
      let r;
      try {
        r = await conformCase(structuredClone(c));
      } catch (e) {
        throw new Error(`js conformCase crashed on ${c.name}: ${e.stack || e}`);
      }
      results.push(r);
    }
  } else if (lang === 'python') {
    const r = await runChild(PYTHON, ['-m', 'vmdb_client.conform'], JSON.stringify(plain), pyEnv());
    if (r.code !== 0) throw new Error(`python -m vmdb_client.conform exited ${r.code ?? r.signal}: ${r.stderr.slice(-3000)}`);
    try {
      results = JSON.parse(r.stdout);
    } catch {
      throw new Error(`python -m vmdb_client.conform: stdout is not JSON: ${r.stdout.slice(0, 500)} ${r.stderr.slice(-1000)}`);
    }
  } else {
    throw new Error(`unknown language ${lang}`);
  }
  if (!Array.isArray(results) || results.length !== plain.length) {
    throw new Error(`${lang}: expected ${plain.length} results, got ${JSON.stringify(results).slice(0, 300)}`);
  }
  results.forEach((r, i) => {
    if (!r || typeof r !== 'object' || r.name !== plain[i].name || typeof r.ok !== 'boolean') {
      throw new Error(`${lang}: result ${i} is not {name: ${JSON.stringify(plain[i].name)}, ok, code}: ${JSON.stringify(r)}`);
    }
  });
  return results;
}

/** What a case expects, as a result object: {name, ok, code}. */
export const expected = (c) => ({ name: c.name, ok: c.expect.ok, code: c.expect.ok ? null : c.expect.code });

/** The result in the same shape, with a missing code read as null. */
export const verdict = (r) => ({ name: r.name, ok: r.ok, code: r.ok ? null : (r.code ?? null) });

// ---------------------------------------------------------------------------
// VmdbClient driven through steps (the live client runs)
// ---------------------------------------------------------------------------
//
// config: {url, publicKey, chainId?, state? (file path), solanaRpc?}
// step:   {op: 'createBatch'|'readBatch'|'readLatest'|'upsert'|'deleteBatch'|'sync'|'checkAnchored',
//          model?, records?, ids?, limit?, where?, orderBy?, requireComplete?, header?}
// outcome: {ok: true, ids?, records?, missing?, complete?, seq, header_hash, anchoredSeq?}
//        | {ok: false, error: 'VerificationError'|'VmdbServerError'|<other>, code, status?, message}

function summarise(r) {
  const h = r.header || r;
  const out = { ok: true };
  for (const k of ['ids', 'records', 'missing', 'complete']) if (r[k] !== undefined) out[k] = r[k];
  if (h && h.seq !== undefined) { out.seq = h.seq; out.header_hash = h.header_hash; out.header = h; }
  return out;
}

/** The JS package's entry file, as its package.json names it (exports "." or main). */
function jsEntry() {
  const pkg = JSON.parse(fs.readFileSync(path.join(JS_DIR, 'package.json'), 'utf8'));
  let e = pkg.exports;
  if (e && typeof e === 'object' && e['.'] !== undefined) e = e['.'];
  while (e && typeof e === 'object') e = e.import ?? e.node ?? e.default;
  return path.join(JS_DIR, typeof e === 'string' ? e : (pkg.main || 'src/index.mjs'));
}

let jsIndex = null;
async function jsSteps(config, steps) {
  if (!jsIndex) jsIndex = await import(pathToFileURL(jsEntry()).href);
  const { VmdbClient, VerificationError, VmdbServerError } = jsIndex;
  const db = new VmdbClient({ url: config.url, publicKey: config.publicKey, chainId: config.chainId, state: config.state, solanaRpc: config.solanaRpc });
  const out = [];
  for (const s of steps) {
    try {
      let r;
      switch (s.op) {
        case 'createBatch': r = summarise(await db.createBatch(s.model, s.records)); break;
        case 'readBatch': r = summarise(await db.readBatch(s.model, s.ids)); break;
        case 'readLatest': r = summarise(await db.readLatest(s.model, { limit: s.limit, where: s.where, orderBy: s.orderBy, requireComplete: s.requireComplete })); break;
        case 'upsert': r = summarise(await db.upsert(s.model, s.records)); break;
        case 'deleteBatch': r = summarise(await db.deleteBatch(s.model, s.ids)); break;
        case 'sync': r = summarise(await db.sync()); break;
        case 'checkAnchored': r = { ok: true, ...(await db.checkAnchored(s.header)) }; break;
        default: throw new Error(`unknown step ${s.op}`);
      }
      out.push(r);
    } catch (e) {
      const error = e instanceof VerificationError ? 'VerificationError' : e instanceof VmdbServerError ? 'VmdbServerError' : (e?.constructor?.name || 'Error');
      out.push({ ok: false, error, code: e?.code ?? null, status: e?.status ?? null, message: String(e?.message ?? e) });
    }
  }
  return out;
}

/** Runs the steps on one client; one outcome per step (an error does not stop the run). */
export async function runSteps(lang, config, steps) {
  if (lang === 'js') return jsSteps(config, steps);
  const r = await runChild(PYTHON, [PY_DRIVER], JSON.stringify({ config, steps }), pyEnv());
  if (r.code !== 0) throw new Error(`py_driver.py exited ${r.code ?? r.signal}: ${r.stderr.slice(-3000)}`);
  const out = JSON.parse(r.stdout);
  if (!Array.isArray(out) || out.length !== steps.length) throw new Error(`py_driver.py: ${r.stdout.slice(0, 500)}`);
  return out;
}

// Cross-checks vmdb's JCS against Node's own ECMAScript implementation:
// 200,000 random doubles formatted by `vmdb jcs --number-bits` must equal
// String(x), and 2,000 random documents (unicode keys, nesting, numbers)
// canonicalised by `vmdb jcs` must equal JSON.stringify with keys sorted by
// UTF-16 code units, which is what RFC 8785 specifies.
// Usage: node jcs_numbers_vs_node.mjs path/to/vmdb
import { execFileSync } from 'node:child_process';

const vmdb = process.argv[2];
let seed = 0x12345678n;
function next() {
  // xorshift64*
  seed ^= seed << 13n; seed &= (1n << 64n) - 1n;
  seed ^= seed >> 7n;
  seed ^= seed << 17n; seed &= (1n << 64n) - 1n;
  return seed;
}
const buf = new DataView(new ArrayBuffer(8));

const lines = [], want = [];
for (let i = 0; i < 200000; i++) {
  let x;
  if (i % 4 === 0) {
    x = Number((next() % 2000000n)) / 1000 * (i % 8 ? 1 : -1);   // short decimals
  } else if (i % 4 === 1) {
    x = Number(next() % 100000000000000000000n) * 10 ** (Number(next() % 40n) - 30);
  } else {
    buf.setBigUint64(0, next());
    x = buf.getFloat64(0);
    if (!Number.isFinite(x)) continue;
  }
  buf.setFloat64(0, x);
  lines.push(buf.getBigUint64(0).toString(16).padStart(16, '0'));
  want.push(Object.is(x, -0) ? '0' : String(x));
}
const got = execFileSync(vmdb, ['jcs', '--number-bits'], { input: lines.join('\n') + '\n', maxBuffer: 64 << 20 })
  .toString().split('\n');
let bad = 0;
for (let i = 0; i < want.length; i++) {
  if (got[i] !== want[i]) {
    if (bad++ < 10) console.error(`number ${lines[i]}: vmdb ${got[i]} node ${want[i]}`);
  }
}

function randStr() {
  const pool = ['a', 'b', 'Z', '1', ' ', '\u0000', '\u001f', '"', '\\', '\u007f', '\u00e9', '\u2028',
                '\ue000', '\uffff', '\u{1f600}', '\u{10ffff}', '\u20ac', '\ufb33'];
  let s = '';
  const n = Number(next() % 5n);
  for (let i = 0; i < n; i++) s += pool[Number(next() % BigInt(pool.length))];
  return s;
}
function randValue(depth) {
  const k = Number(next() % (depth > 3 ? 4n : 6n));
  if (k === 0) return null;
  if (k === 1) return next() % 2n === 0n;
  if (k === 2) { buf.setBigUint64(0, next()); const x = buf.getFloat64(0); return Number.isFinite(x) ? x : 1.5; }
  if (k === 3) return randStr();
  if (k === 4) { const a = []; const n = Number(next() % 4n); for (let i = 0; i < n; i++) a.push(randValue(depth + 1)); return a; }
  const o = {}; const n = Number(next() % 5n);
  for (let i = 0; i < n; i++) o[randStr()] = randValue(depth + 1);
  return o;
}
function canon(v) {
  if (Array.isArray(v)) return '[' + v.map(canon).join(',') + ']';
  if (v !== null && typeof v === 'object')
    return '{' + Object.keys(v).sort().map(k => JSON.stringify(k) + ':' + canon(v[k])).join(',') + '}';
  return JSON.stringify(v);
}
let docs = 0;
for (let i = 0; i < 2000; i++) {
  const v = randValue(0);
  // Pretty-printed input with shuffled spacing exercises the parser too.
  const input = JSON.stringify(v, null, i % 2 ? 1 : 0);
  const out = execFileSync(vmdb, ['jcs'], { input }).toString();
  docs++;
  if (out !== canon(v)) {
    if (bad++ < 20) console.error(`document ${input}\n vmdb ${out}\n node ${canon(v)}`);
  }
}
console.log(`${want.length + docs - bad} passed, ${bad} failed`);
process.exit(bad ? 1 : 0);

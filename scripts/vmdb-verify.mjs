// vmdb-verify.mjs — verifier of the vmdb protocol (docs/PROTOCOL.md, v2 and
// v1), in JavaScript with Node's built-in modules only.
//
// Purpose. Everything a client needs to check vmdb's answers while holding
// nothing but the identity public key (and the chain_id it pinned): strict
// JCS and row values (§1, §2), single proofs and multiproofs (§4, §5), v1 and
// v2 headers and their context-tagged signatures (§6, §12), the history tree
// (§7), proof bundles in answers (§9), complete read-latest (§10), history
// proofs and the C2SP checkpoint (§11) and the trusted state file (§8.3).
// It was written from the text of PROTOCOL.md alone, without reading the C
// code, so that the vectors scripts/gen-vectors.mjs makes with it test the C
// implementation rather than repeat it. gen-vectors.mjs imports it; the
// integration tests and the JS client can too.
//
// Conventions: binary strings are Buffers; hex is emitted lower case and
// accepted in either case. The low-level helpers throw VerifyError / JcsError
// on bad input; the high-level verifiers (verifyHeader, verifyAnswer,
// verifyHistoryProof, verifyCheckpoint, verifyTrustedState) never throw on
// untrusted input and return {ok, reason, ...}.

import { createHash, createPublicKey, verify } from 'node:crypto';

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

/** Throws unless cond holds. Used for the self-consistency checks. */
export function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

/** SHA-256 over the concatenation of the given Buffers / strings (UTF-8). */
export function H(...parts) {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? Buffer.from(p, 'utf8') : p);
  return h.digest();
}

export const Z = Buffer.alloc(32); // 32 zero bytes
export const hex = (b) => Buffer.from(b).toString('hex');
export const unhex = (s) => Buffer.from(s, 'hex');
export const u8 = (n) => Buffer.from([n]);
export function u16(n) { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }
export function u32(n) { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; }
export function u64(n) { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; }

/** Bit i of a 32-byte string, counted from the MSB of byte 0 (PROTOCOL notation). */
export function bitAt(k, i) { return (k[i >> 3] >> (7 - (i & 7))) & 1; }
// ---------------------------------------------------------------------------
// §2.1  Strict JSON parsing and JCS (RFC 8785) as vmdb applies it
// ---------------------------------------------------------------------------

export class JcsError extends Error {}

export const MAX_INPUT_BYTES = 16 * 1024 * 1024; // "more than 16 MiB of input" is rejected
export const MAX_DEPTH = 128;                     // "nesting deeper than 128 levels" is rejected

/** A parsed JSON object: members in input order, names already unescaped. */
export class JObject {
  constructor(members) { this.members = members; } // [[name, value], ...]
}

/**
 * Strict UTF-8 decoder: rejects overlong forms, surrogates (U+D800..DFFF),
 * code points above U+10FFFF and truncated sequences. Returns a JS string.
 */
export function decodeUtf8Strict(buf) {
  const parts = [];
  let i = 0;
  const cont = (j, lo = 0x80, hi = 0xbf) => {
    if (j >= buf.length || buf[j] < lo || buf[j] > hi) throw new JcsError('invalid UTF-8');
    return buf[j] & 0x3f;
  };
  while (i < buf.length) {
    const b = buf[i];
    let cp;
    if (b < 0x80) { cp = b; i += 1; }
    else if (b >= 0xc2 && b <= 0xdf) { cp = ((b & 0x1f) << 6) | cont(i + 1); i += 2; }
    else if (b >= 0xe0 && b <= 0xef) {
      const lo = b === 0xe0 ? 0xa0 : 0x80;     // no overlong 3-byte forms
      const hi = b === 0xed ? 0x9f : 0xbf;     // no surrogates
      cp = ((b & 0x0f) << 12) | (cont(i + 1, lo, hi) << 6) | cont(i + 2); i += 3;
    } else if (b >= 0xf0 && b <= 0xf4) {
      const lo = b === 0xf0 ? 0x90 : 0x80;     // no overlong 4-byte forms
      const hi = b === 0xf4 ? 0x8f : 0xbf;     // nothing above U+10FFFF
      cp = ((b & 0x07) << 18) | (cont(i + 1, lo, hi) << 12) | (cont(i + 2) << 6) | cont(i + 3); i += 4;
    } else throw new JcsError('invalid UTF-8');
    parts.push(String.fromCodePoint(cp));
  }
  return parts.join('');
}

/**
 * Normalises a decimal number given as sign, digit string and BigInt
 * exponent (value = digits × 10^exp) so that two equal decimal numbers get
 * equal forms: no leading or trailing zeros in the digits; zero (of either
 * sign) is {zero: true}.
 */
export function normaliseDecimal(neg, digits, exp) {
  let i = 0;
  while (i < digits.length && digits[i] === '0') i++;
  digits = digits.slice(i);
  if (digits === '') return { zero: true };
  let j = digits.length;
  while (digits[j - 1] === '0') j--;
  return { zero: false, neg, digits: digits.slice(0, j), exp: exp + BigInt(digits.length - j) };
}

export const NUMBER_RE = /^(-?)(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE]([+-]?[0-9]+))?$/;

/** The decimal number denoted by a JSON number literal (or by String(d)). */
export function decimalOfLiteral(lit) {
  const m = NUMBER_RE.exec(lit);
  if (!m) throw new JcsError(`malformed number ${JSON.stringify(lit)}`);
  const [, sign, int, frac = '', exp = '0'] = m;
  return normaliseDecimal(sign === '-', int + frac, BigInt(exp) - BigInt(frac.length));
}

export function sameDecimal(a, b) {
  if (a.zero || b.zero) return a.zero === b.zero; // -0 and 0 are the same decimal number
  return a.neg === b.neg && a.digits === b.digits && a.exp === b.exp;
}

/**
 * Parses a JSON number literal under the round-trip rule of §2.1: the
 * literal must denote exactly the decimal number that Number::toString
 * produces for the double it rounds to. Returns that double.
 */
export function parseNumberLiteral(lit) {
  const dec = decimalOfLiteral(lit);
  if (dec.zero) return lit.startsWith('-') ? -0 : 0;
  // A shortest round-trip representation never has more than 17 significant
  // digits, so longer literals cannot satisfy the rule. Rejecting them here
  // also means Number() below only ever sees <= 17 significant digits, for
  // which ECMAScript guarantees correct rounding (RoundMVResult).
  if (dec.digits.length > 17) throw new JcsError(`number ${lit} does not round-trip`);
  const n = dec.exp + BigInt(dec.digits.length); // value = 0.digits × 10^n
  if (n > 309n) throw new JcsError(`number ${lit} overflows a double`);
  if (n < -323n) throw new JcsError(`number ${lit} underflows a double`);
  const d = Number(`${dec.neg ? '-' : ''}${dec.digits}e${dec.exp}`);
  if (!Number.isFinite(d)) throw new JcsError(`number ${lit} overflows a double`);
  if (!sameDecimal(dec, decimalOfLiteral(String(d)))) {
    throw new JcsError(`number ${lit} does not round-trip (nearest double prints as ${String(d)})`);
  }
  return d;
}

/** Recursive-descent parser for RFC 8259 JSON text with vmdb's extra rules. */
export class JsonParser {
  constructor(text) { this.s = text; this.i = 0; this.depth = 0; }

  fail(msg) { throw new JcsError(`${msg} at offset ${this.i}`); }

  ws() {
    const s = this.s;
    while (this.i < s.length) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.i++;
      else break;
    }
  }

  document() {
    this.ws();
    const v = this.value();
    this.ws();
    if (this.i !== this.s.length) this.fail('trailing characters after the value');
    return v;
  }

  value() {
    const c = this.s[this.i];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    for (const [word, val] of [['true', true], ['false', false], ['null', null]]) {
      if (this.s.startsWith(word, this.i)) { this.i += word.length; return val; }
    }
    this.fail('unexpected character');
  }

  enter() { if (++this.depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`); }

  object() {
    this.enter();
    this.i++; // '{'
    const members = [];
    const seen = new Set();
    this.ws();
    if (this.s[this.i] === '}') { this.i++; this.depth--; return new JObject(members); }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail('expected a member name');
      const name = this.string();
      if (seen.has(name)) this.fail(`duplicate member name ${JSON.stringify(name)}`);
      seen.add(name);
      this.ws();
      if (this.s[this.i] !== ':') this.fail("expected ':'");
      this.i++;
      this.ws();
      members.push([name, this.value()]);
      this.ws();
      const c = this.s[this.i++];
      if (c === '}') break;
      if (c !== ',') this.fail("expected ',' or '}'");
    }
    this.depth--;
    return new JObject(members);
  }

  array() {
    this.enter();
    this.i++; // '['
    const items = [];
    this.ws();
    if (this.s[this.i] === ']') { this.i++; this.depth--; return items; }
    for (;;) {
      this.ws();
      items.push(this.value());
      this.ws();
      const c = this.s[this.i++];
      if (c === ']') break;
      if (c !== ',') this.fail("expected ',' or ']'");
    }
    this.depth--;
    return items;
  }

  hex4() {
    const h = this.s.slice(this.i, this.i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail('bad \\u escape');
    this.i += 4;
    return parseInt(h, 16);
  }

  string() {
    const s = this.s;
    this.i++; // opening quote
    const out = [];
    for (;;) {
      if (this.i >= s.length) this.fail('unterminated string');
      const c = s[this.i];
      const code = c.charCodeAt(0);
      if (c === '"') { this.i++; break; }
      if (code < 0x20) this.fail('raw control character in string');
      if (c !== '\\') { out.push(c); this.i++; continue; }
      const e = s[this.i + 1];
      this.i += 2;
      const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' }[e];
      if (simple !== undefined) { out.push(simple); continue; }
      if (e !== 'u') this.fail('invalid escape');
      const u = this.hex4();
      if (u >= 0xdc00 && u <= 0xdfff) this.fail('lone low surrogate escape');
      if (u >= 0xd800 && u <= 0xdbff) {
        // must be immediately followed by an escaped low surrogate
        if (s[this.i] !== '\\' || s[this.i + 1] !== 'u') this.fail('lone high surrogate escape');
        this.i += 2;
        const lo = this.hex4();
        if (lo < 0xdc00 || lo > 0xdfff) this.fail('lone high surrogate escape');
        out.push(String.fromCharCode(u, lo));
        continue;
      }
      out.push(String.fromCharCode(u));
    }
    return out.join('');
  }

  number() {
    // Take the maximal run of number characters; a valid document never has
    // one of these right after a number, so this loses nothing.
    const start = this.i;
    while (this.i < this.s.length && /[-+0-9.eE]/.test(this.s[this.i])) this.i++;
    return parseNumberLiteral(this.s.slice(start, this.i));
  }
}

/** Parses UTF-8 JSON text (Buffer or JS string) under §2.1; throws JcsError. */
export function parseJson(input) {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (bytes.length > MAX_INPUT_BYTES) throw new JcsError('input larger than 16 MiB');
  return new JsonParser(decodeUtf8Strict(bytes)).document();
}

/**
 * ECMAScript Number::toString written out from the rules of PROTOCOL §2.1
 * (RFC 8785 §3.2.2.3). The shortest round-trip digits come from
 * toExponential(); the result is asserted equal to String(d), so every
 * number this script serialises also checks the PROTOCOL text.
 */
export function numberToString(d) {
  assert(Number.isFinite(d), 'JSON numbers are finite');
  if (d === 0) return '0'; // also -0
  const [mant, e] = Math.abs(d).toExponential().split('e');
  const digits = mant.replace('.', '');
  const k = digits.length;
  const n = Number(e) + 1; // value = 0.digits × 10^n
  let out;
  if (k <= n && n <= 21) out = digits + '0'.repeat(n - k);
  else if (0 < n && n <= 21) out = `${digits.slice(0, n)}.${digits.slice(n)}`;
  else if (-6 < n && n <= 0) out = `0.${'0'.repeat(-n)}${digits}`;
  else out = `${digits[0]}${k > 1 ? '.' + digits.slice(1) : ''}e${n - 1 >= 0 ? '+' : '-'}${Math.abs(n - 1)}`;
  out = (d < 0 ? '-' : '') + out;
  assert(out === String(d), `PROTOCOL number rules give ${out}, ECMAScript gives ${String(d)}`);
  return out;
}

/** RFC 8785 string serialisation (§2.1 "Strings"). */
export function stringToJcs(str) {
  let out = '"';
  for (const ch of str) {
    const c = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0c) out += '\\f';
    else if (c === 0x0d) out += '\\r';
    else if (c < 0x20) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch; // everything else, incl. U+007F, U+2028 and non-ASCII, literally
  }
  return out + '"';
}

/** Compares two strings as sequences of UTF-16 code units. */
export function compareUtf16(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a.charCodeAt(i) - b.charCodeAt(i);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Serialises a parsed value in canonical form; returns a JS string. */
export function serialiseJcs(v) {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'number') return numberToString(v);
  if (typeof v === 'string') return stringToJcs(v);
  if (Array.isArray(v)) return `[${v.map(serialiseJcs).join(',')}]`;
  assert(v instanceof JObject, 'unknown value type');
  const sorted = [...v.members].sort((a, b) => compareUtf16(a[0], b[0]));
  return `{${sorted.map(([k, x]) => `${stringToJcs(k)}:${serialiseJcs(x)}`).join(',')}}`;
}

/** JCS(text) as vmdb applies it: canonical JSON text (JS string). Throws JcsError. */
export function jcs(input) { return serialiseJcs(parseJson(input)); }

/** Whether input is accepted by §2.1. */
export function jcsAccepts(input) {
  try { parseJson(input); return true; } catch (e) { if (e instanceof JcsError) return false; throw e; }
}

// ---------------------------------------------------------------------------
// §1 Row key, §2 Row value
// ---------------------------------------------------------------------------

/** k = H("vmdb/v1/key" || 0x00 || u16(len table) || table || u32(len pk) || pk) */
export function rowKey(table, pk) {
  const t = Buffer.from(table, 'utf8');
  const p = Buffer.from(pk, 'utf8');
  assert(t.length <= 0xffff, 'table name at most 65535 bytes');
  return H('vmdb/v1/key', u8(0), u16(t.length), t, u32(p.length), p);
}

/** v = H("vmdb/v1/row" || 0x00 || JCS(row)); the row must be a JSON object. */
export function rowValue(rowJsonText) {
  const parsed = parseJson(rowJsonText);
  assert(parsed instanceof JObject, 'a row is a JSON object');
  return H('vmdb/v1/row', u8(0), Buffer.from(serialiseJcs(parsed), 'utf8'));
}

// ---------------------------------------------------------------------------
// §3 Sparse Merkle tree (naive recursive definition)
// ---------------------------------------------------------------------------

export const leafHash = (k, v) => H(u8(0x00), k, v);
export const nodeHash = (l, r) => H(u8(0x01), l, r);

// ---------------------------------------------------------------------------
// §4 Proof for one key
// ---------------------------------------------------------------------------

export const KIND_CODE = { inclusion: 0, absent_empty: 1, absent_leaf: 2 };

export class VerifyError extends Error {}

/**
 * Verifies a §4 proof (binary form) for key k against root R. `value` is the
 * caller's claim: a 32-byte Buffer claims presence with that value, null
 * claims absence. Returns true iff the proof is well formed and proves the
 * claim.
 *
 * Beyond PROTOCOL §4 step 1 this also rejects an unknown kind byte and a
 * listed sibling equal to Z (the bitmap marks exactly the non-empty siblings,
 * so such a proof is non-canonical; §5 likewise rejects an all-zero HASH).
 */
export function verifyProof(R, k, value, proof) {
  try {
    verifyProofOrThrow(R, k, value, proof);
    return true;
  } catch (e) {
    if (e instanceof VerifyError) return false;
    throw e;
  }
}

export function verifyProofOrThrow(R, k, value, proof) {
  const fail = (msg) => { throw new VerifyError(msg); };
  if (proof.length < 3) fail('truncated');
  const kind = proof[0];
  if (kind > 2) fail('unknown kind');
  const L = proof.readUInt16BE(1);
  if (L > 256) fail('L > 256');
  const bmLen = Math.ceil(L / 8);
  if (proof.length < 3 + bmLen) fail('truncated bitmap');
  const bitmap = proof.subarray(3, 3 + bmLen);
  const bmBit = (i) => (bitmap[i >> 3] >> (7 - (i & 7))) & 1;
  let set = 0;
  for (let i = 0; i < bmLen * 8; i++) {
    if (bmBit(i)) {
      if (i >= L) fail('bitmap bit at position >= L');
      set++;
    }
  }
  const expected = 3 + bmLen + 32 * set + (kind === 2 ? 64 : 0);
  if (proof.length !== expected) fail('wrong length (sibling count or trailing bytes)');
  if (value !== null && kind !== 0) fail('absence proof for a claimed presence');
  if (value === null && kind === 0) fail('inclusion proof for a claimed absence');
  let pos = 3 + bmLen;
  const listed = [];
  for (let j = 0; j < set; j++, pos += 32) listed.push(proof.subarray(pos, pos + 32));
  let h;
  if (kind === 0) h = leafHash(k, value);
  else if (kind === 1) h = Z;
  else {
    const k2 = proof.subarray(pos, pos + 32);
    const v2 = proof.subarray(pos + 32, pos + 64);
    if (k2.equals(k)) fail("k' = k");
    for (let i = 0; i < L; i++) if (bitAt(k2, i) !== bitAt(k, i)) fail("k' leaves k's path");
    h = leafHash(k2, v2);
  }
  let next = 0; // siblings are listed deepest first
  for (let i = L - 1; i >= 0; i--) {
    let s = Z;
    if (bmBit(i)) {
      s = listed[next++];
      if (s.equals(Z)) fail('listed sibling is Z (non-canonical)');
    }
    h = bitAt(k, i) ? nodeHash(s, h) : nodeHash(h, s);
  }
  if (!h.equals(R)) fail('root mismatch');
}

// ---------------------------------------------------------------------------
// §5 Multiproof
// ---------------------------------------------------------------------------

/** Sorts 32-byte keys ascending and removes duplicates. */
export function sortKeys(keys) {
  const out = [...keys].sort(Buffer.compare);
  return out.filter((k, i) => i === 0 || !k.equals(out[i - 1]));
}


/**
 * Verifies a §5 multiproof for the key set Q (must be strictly ascending,
 * non-empty) against root R. Returns a Map hex(key) -> value Buffer (present)
 * or null (absent), or null if the proof is rejected.
 */
export function verifyMulti(R, Q, proof) {
  try {
    return verifyMultiOrThrow(R, Q, proof);
  } catch (e) {
    if (e instanceof VerifyError) return null;
    throw e;
  }
}

export function verifyMultiOrThrow(R, Q, proof) {
  const fail = (msg) => { throw new VerifyError(msg); };
  if (Q.length === 0) fail('empty key set');
  for (let i = 1; i < Q.length; i++) if (Buffer.compare(Q[i - 1], Q[i]) >= 0) fail('keys not strictly ascending');
  let pos = 0;
  const take = (n) => {
    if (pos + n > proof.length) fail('truncated');
    const b = proof.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const results = new Map();
  const node = (d, Qx) => { // a node that the keys Qx (non-empty) enter
    const tag = take(1)[0];
    if (tag === 0x00) { for (const q of Qx) results.set(hex(q), null); return Z; }
    if (tag === 0x01) {
      const k = take(32), v = take(32);
      for (const q of Qx) {
        for (let i = 0; i < d; i++) if (bitAt(k, i) !== bitAt(q, i)) fail('LEAF off the keys\' path');
        results.set(hex(q), q.equals(k) ? Buffer.from(v) : null);
      }
      return leafHash(k, v);
    }
    if (tag === 0x02) {
      if (d === 256) fail('BRANCH at depth 256');
      const Q0 = Qx.filter((q) => !bitAt(q, d));
      const Q1 = Qx.filter((q) => bitAt(q, d));
      const left = Q0.length ? node(d + 1, Q0) : untouched();
      const right = Q1.length ? node(d + 1, Q1) : untouched();
      return nodeHash(left, right);
    }
    if (tag === 0x03) fail('HASH where keys enter');
    fail('unknown node tag');
  };
  const untouched = () => { // a child that no key enters: EMPTY or HASH only
    const tag = take(1)[0];
    if (tag === 0x00) return Z;
    if (tag === 0x03) {
      const h = take(32);
      if (h.equals(Z)) fail('all-zero HASH');
      return h;
    }
    fail('expected EMPTY or HASH');
  };
  const h = node(0, Q);
  if (pos !== proof.length) fail('trailing bytes');
  if (!h.equals(R)) fail('root mismatch');
  return results;
}

// ---------------------------------------------------------------------------
// §7 History tree (RFC 6962 / RFC 9162 §2.1)
// ---------------------------------------------------------------------------

/** Largest power of two strictly less than n (n >= 2). */
export function splitPoint(n) { let k = 1; while (k * 2 < n) k *= 2; return k; }

/** MTH(D[0..n)). */
export function mth(D) {
  if (D.length === 0) return H('');
  if (D.length === 1) return H(u8(0x00), D[0]);
  const k = splitPoint(D.length);
  return nodeHash(mth(D.slice(0, k)), mth(D.slice(k)));
}


/** RFC 9162 §2.1.3.2: verify leaf (32-byte entry) at index in a tree of size with root. */
export function verifyInclusion(leaf, index, size, root, path) {
  if (index >= size) return false;
  let fn = index, sn = size - 1;
  let r = H(u8(0x00), leaf);
  for (const p of path) {
    if (sn === 0) return false;
    if ((fn & 1) === 1 || fn === sn) {
      r = nodeHash(p, r);
      if ((fn & 1) === 0) while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
    } else {
      r = nodeHash(r, p);
    }
    fn >>= 1; sn >>= 1;
  }
  return sn === 0 && r.equals(root);
}


/**
 * RFC 9162 §2.1.4.2 for 0 < first < second. RFC 9162 does not cover
 * first = second; there the proof must be empty and the two roots equal.
 */
export function verifyConsistency(first, second, firstHash, secondHash, proof) {
  if (first < 1 || first > second) return false;
  if (first === second) return proof.length === 0 && firstHash.equals(secondHash);
  if (proof.length === 0) return false;
  const path = (first & (first - 1)) === 0 ? [firstHash, ...proof] : [...proof];
  let fn = first - 1, sn = second - 1;
  while ((fn & 1) === 1) { fn >>= 1; sn >>= 1; }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if ((fn & 1) === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if ((fn & 1) === 0) while ((fn & 1) === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
    } else {
      sr = nodeHash(sr, c);
    }
    fn >>= 1; sn >>= 1;
  }
  return fr.equals(firstHash) && sr.equals(secondHash) && sn === 0;
}

export const SPKI_ED25519_PREFIX = unhex('302a300506032b6570032100');

/** Verifies a signature against a raw 32-byte public key, as a verifier would. */
export function ed25519Verify(pub, msg, sig) {
  const key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, pub]), format: 'der', type: 'spki' });
  return verify(null, msg, key, sig);
}


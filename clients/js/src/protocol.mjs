// protocol.mjs — verifier of the vmdb protocol (docs/PROTOCOL.md, v2 and
// v1), in JavaScript with Node's built-in modules only (the protocol layer
// of the @vmdb/client package; formerly scripts/vmdb-verify.mjs).
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
// untrusted input and return {ok, reason, code, ...}: `code` is the stable
// reason code of the client contract (BAD_ANSWER, BAD_HEADER, BAD_SIGNATURE,
// WRONG_CHAIN, BAD_PROOF, INCOMPLETE, FORK; null when ok), `reason` the
// human-readable detail.

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

/** A failed check; `code` is the reason code (undefined: BAD_ANSWER). */
export class VerifyError extends Error {
  constructor(msg, code) { super(msg); this.code = code; }
}

/** The reason codes of the client contract (docs/CLIENTS.md). */
export const REASON_CODES = ['BAD_ANSWER', 'BAD_HEADER', 'BAD_SIGNATURE', 'WRONG_CHAIN', 'BAD_PROOF', 'INCOMPLETE',
  'ROLLBACK', 'FORK', 'NOT_ANCHORED'];

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

// ---------------------------------------------------------------------------
// Strict readers of untrusted JSON members (throw VerifyError)
// ---------------------------------------------------------------------------

const vfail = (msg, code) => { throw new VerifyError(msg, code); };

/** Runs fn; a VerifyError without a code gets `code` (a structural failure inside a part with its own code). */
function recode(code, fn) {
  try {
    return fn();
  } catch (e) {
    if (e instanceof VerifyError && e.code === undefined) e.code = code;
    throw e;
  }
}
const HEX_RE = /^(?:[0-9a-fA-F]{2})*$/;

/** Hex text of exactly n bytes (either case); n undefined: any length. */
export function hexBytes(s, n, what) {
  if (typeof s !== 'string' || !HEX_RE.test(s)) vfail(`${what}: not hex`);
  if (n !== undefined && s.length !== 2 * n) vfail(`${what}: not ${n} bytes`);
  return Buffer.from(s, 'hex');
}

/** A JSON number that is an integer in [0, 2^53). */
function safeUint(x, what) {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) vfail(`${what}: not an unsigned integer below 2^53`);
  return x;
}

const isObject = (x) => x !== null && typeof x === 'object' && !Array.isArray(x);
function obj(x, what) { if (!isObject(x)) vfail(`${what}: not an object`); return x; }
function arr(x, what) { if (!Array.isArray(x)) vfail(`${what}: not an array`); return x; }
function str(x, what) { if (typeof x !== 'string') vfail(`${what}: not a string`); return x; }

/** Runs fn; a VerifyError / JcsError becomes {ok: false, reason, code}. */
function outcome(fn) {
  try {
    return { ok: true, reason: null, code: null, ...fn() };
  } catch (e) {
    if (e instanceof VerifyError || e instanceof JcsError) return { ok: false, reason: e.message, code: e.code ?? 'BAD_ANSWER' };
    throw e;
  }
}

// ---------------------------------------------------------------------------
// Base58 (the identity's Solana address) and base64 (checkpoint)
// ---------------------------------------------------------------------------

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

export function base58(bytes) {
  let n = BigInt('0x' + (hex(bytes) || '0'));
  let out = '';
  while (n > 0n) { out = B58[Number(n % 58n)] + out; n /= 58n; }
  for (const b of bytes) { if (b !== 0) break; out = '1' + out; }
  return out;
}

/** Standard padded base64, canonical only (re-encodes to the same text). */
function base64Strict(s, what) {
  if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) vfail(`${what}: not base64`);
  const b = Buffer.from(s, 'base64');
  if (b.toString('base64') !== s) vfail(`${what}: non-canonical base64`);
  return b;
}

// ---------------------------------------------------------------------------
// Ed25519 against a raw public key (never throws)
// ---------------------------------------------------------------------------

/** Like ed25519Verify, but false (not an exception) for a key that is not a curve point. */
export function ed25519Check(pub, msg, sig) {
  if (pub.length !== 32 || sig.length !== 64) return false;
  try { return ed25519Verify(pub, msg, sig); } catch { return false; }
}

// ---------------------------------------------------------------------------
// §6 v2 header, §12 v1 header, §6.1 signatures, §6.2 chain_id
// ---------------------------------------------------------------------------

export const HEADER_KINDS = ['genesis', 'write', 'reset', 'clear', 'repair', 'migrate', 'upgrade'];
export const MTH_EMPTY = H('');

/** u8(2) || u64(seq) || u8(kind) || chain_id || smt_root || prev || history_root || u64(time_ms) || schema_hash */
export function encodeHeaderV2(h) {
  const enc = Buffer.concat([u8(2), u64(h.seq), u8(h.kind), h.chain_id, h.smt_root, h.prev, h.history_root,
    u64(h.time_ms), h.schema_hash]);
  assert(enc.length === 178, 'v2 header encoding is 178 bytes');
  return enc;
}
/** u64(seq) || smt_root || prev || history_root || u64(time_ms) || schema_hash (§12) */
export function encodeHeaderV1(h) {
  const enc = Buffer.concat([u64(h.seq), h.smt_root, h.prev, h.history_root, u64(h.time_ms), h.schema_hash]);
  assert(enc.length === 144, 'v1 header encoding is 144 bytes');
  return enc;
}
export const headerHashV2 = (enc) => H('vmdb/v2/header', u8(0), enc);
export const headerHashV1 = (enc) => H('vmdb/v1/header', u8(0), enc);

/** The messages of §6.1. The v1 signature is over the bare header hash. */
export const committedMessage = (hh) => Buffer.concat([Buffer.from('vmdb/v2/committed'), u8(0), hh]);
export const intentMessage = (hh) => Buffer.concat([Buffer.from('vmdb/v2/intent'), u8(0), hh]);
export const trustedStateMessage = (digest) => Buffer.concat([Buffer.from('vmdb/v2/trusted-state'), u8(0), digest]);

/** §6.2: genesis chain_id from a 32-byte nonce, or from the hash of v1 header 0. */
export const chainIdFromNonce = (pub, nonce) => H('vmdb/v2/chain', u8(0), pub, nonce);
export const chainIdFromV1 = (pub, v1Header0Hash) => H('vmdb/v2/chain', u8(0), pub, v1Header0Hash);

/** Decodes a 178-byte v2 or 144-byte v1 encoding into fields (Buffers and numbers). */
export function decodeHeader(enc) {
  if (enc.length === 178) {
    if (enc[0] !== 2) vfail('v2 encoding without version byte 2');
    const seq = enc.readBigUInt64BE(1), time = enc.readBigUInt64BE(138);
    if (seq >= 2n ** 53n || time >= 2n ** 53n) vfail('seq or time_ms not below 2^53');
    const kind = enc[9];
    if (kind >= HEADER_KINDS.length) vfail('unknown header kind');
    const h = { version: 2, seq: Number(seq), kind, chain_id: enc.subarray(10, 42), smt_root: enc.subarray(42, 74),
      prev: enc.subarray(74, 106), history_root: enc.subarray(106, 138), time_ms: Number(time), schema_hash: enc.subarray(146, 178) };
    return { ...h, encoded: enc, header_hash: headerHashV2(enc) };
  }
  if (enc.length === 144) {
    const seq = enc.readBigUInt64BE(0), time = enc.readBigUInt64BE(104);
    if (seq >= 2n ** 53n || time >= 2n ** 53n) vfail('seq or time_ms not below 2^53');
    const h = { version: 1, seq: Number(seq), smt_root: enc.subarray(8, 40), prev: enc.subarray(40, 72),
      history_root: enc.subarray(72, 104), time_ms: Number(time), schema_hash: enc.subarray(112, 144) };
    return { ...h, encoded: enc, header_hash: headerHashV1(enc) };
  }
  return vfail('a header encoding is 178 (v2) or 144 (v1) bytes');
}

/**
 * Reads the JSON form (§6.3; v1: §12) into fields, recomputing encoding and
 * header_hash. Members not in the form are ignored (they are not signed).
 */
export function parseHeaderJson(j) {
  return recode('BAD_HEADER', () => parseHeaderFields(j));
}

function parseHeaderFields(j) {
  obj(j, 'header');
  const h = {};
  if (j.version === 2) {
    h.version = 2;
    h.kind = HEADER_KINDS.indexOf(j.kind);
    if (typeof j.kind !== 'string' || h.kind < 0) vfail(`header: unknown kind ${JSON.stringify(j.kind)}`);
    h.chain_id = hexBytes(j.chain_id, 32, 'header.chain_id');
  } else if (j.version === 1) {
    h.version = 1;
    if ('kind' in j || 'chain_id' in j) vfail('header: a v1 header has no kind or chain_id');
  } else vfail(`header: unknown version ${JSON.stringify(j.version)}`);
  h.seq = safeUint(j.seq, 'header.seq');
  h.time_ms = safeUint(j.time_ms, 'header.time_ms');
  for (const f of ['smt_root', 'prev', 'history_root', 'schema_hash']) h[f] = hexBytes(j[f], 32, `header.${f}`);
  h.sig = hexBytes(j.sig, 64, 'header.sig');
  h.encoded = h.version === 2 ? encodeHeaderV2(h) : encodeHeaderV1(h);
  h.header_hash = h.version === 2 ? headerHashV2(h.encoded) : headerHashV1(h.encoded);
  if (j.header_hash !== undefined && !hexBytes(j.header_hash, 32, 'header.header_hash').equals(h.header_hash)) {
    vfail('header: header_hash does not match the fields');
  }
  // Structure that every header of §6 has: only header 0 is the genesis, has
  // prev = Z and the empty history; an upgrade follows v1 headers.
  if (h.seq === 0) {
    if (!h.prev.equals(Z)) vfail('header: seq 0 with prev not Z');
    if (!h.history_root.equals(MTH_EMPTY)) vfail('header: seq 0 with a history root other than H("")');
    if (h.version === 2 && h.kind !== 0) vfail('header: seq 0 is not a genesis header');
  } else if (h.version === 2 && h.kind === 0) vfail('header: genesis with seq > 0');
  if (h.version === 2 && h.kind === 6 && h.seq === 0) vfail('header: upgrade at seq 0');
  return h;
}

/** The JSON form of §6.3 (v1: §12) of header fields (Buffers). */
export function headerJson(h, sig) {
  if (h.version === 1) {
    const enc = encodeHeaderV1(h);
    return { version: 1, seq: h.seq, smt_root: hex(h.smt_root), prev: hex(h.prev), history_root: hex(h.history_root),
      time_ms: h.time_ms, schema_hash: hex(h.schema_hash), header_hash: hex(headerHashV1(enc)), sig: hex(sig) };
  }
  const enc = encodeHeaderV2(h);
  return { version: 2, seq: h.seq, kind: HEADER_KINDS[h.kind], chain_id: hex(h.chain_id), smt_root: hex(h.smt_root),
    prev: hex(h.prev), history_root: hex(h.history_root), time_ms: h.time_ms, schema_hash: hex(h.schema_hash),
    header_hash: hex(headerHashV2(enc)), sig: hex(sig) };
}

function pubKey(publicKeyHex) { return hexBytes(publicKeyHex, 32, 'public key'); }

/** Throwing core of verifyHeader; returns the parsed header. */
function checkHeader(j, pub, { chainId, allowV1 = false } = {}) {
  const h = parseHeaderJson(j);
  if (h.version === 1) {
    if (!allowV1) vfail('header: a v1 header where a v2 header is required', 'BAD_HEADER');
    if (!ed25519Check(pub, h.header_hash, h.sig)) vfail('header: v1 signature does not verify', 'BAD_SIGNATURE');
    return h;
  }
  if (!ed25519Check(pub, committedMessage(h.header_hash), h.sig)) {
    if (ed25519Check(pub, intentMessage(h.header_hash), h.sig)) vfail('header: sig is an intent signature, not a header signature', 'BAD_SIGNATURE');
    if (ed25519Check(pub, h.header_hash, h.sig)) vfail('header: sig is a v1-style signature over the bare hash', 'BAD_SIGNATURE');
    vfail('header: signature does not verify with the identity key', 'BAD_SIGNATURE');
  }
  if (chainId !== undefined && chainId !== null && !hexBytes(chainId, 32, 'pinned chain_id').equals(h.chain_id)) {
    vfail('header: chain_id is not the pinned chain', 'WRONG_CHAIN');
  }
  return h;
}

/**
 * §6.1: recomputes header_hash from the fields, checks sig (the committed
 * message; never an intent or a bare-hash signature) with the identity key,
 * then the pinned chain_id if given. opts.allowV1 admits v1 headers (§12,
 * checked with the v1 rule). Returns {ok, reason, header}.
 */
export function verifyHeader(header, publicKeyHex, opts = {}) {
  return outcome(() => ({ header: checkHeader(header, pubKey(publicKeyHex), opts) }));
}

/** Verifies an intent signature (§6.1) over a v2 header given as JSON (its sig member ignored). */
export function verifyIntent(header, intentSigHex, publicKeyHex) {
  return outcome(() => {
    const h = parseHeaderJson({ ...header, sig: intentSigHex });
    if (h.version !== 2) vfail('intent: not a v2 header');
    if (!ed25519Check(pubKey(publicKeyHex), intentMessage(h.header_hash), h.sig)) vfail('intent: signature does not verify');
    return { header: h };
  });
}

// ---------------------------------------------------------------------------
// §4 and §5 JSON forms
// ---------------------------------------------------------------------------

/** The binary form of a §4 proof from its JSON form; also returns key and claimed value. */
export function proofFromJson(j) {
  obj(j, 'proof');
  const kind = KIND_CODE[j.kind];
  if (typeof j.kind !== 'string' || kind === undefined) vfail('proof: unknown kind');
  const key = hexBytes(j.key, 32, 'proof.key');
  const L = safeUint(j.depth, 'proof.depth');
  if (L > 256) vfail('proof: depth > 256');
  const bitmap = hexBytes(j.bitmap, Math.ceil(L / 8), 'proof.bitmap');
  const siblings = arr(j.siblings, 'proof.siblings').map((s, i) => hexBytes(s, 32, `proof.siblings[${i}]`));
  if (kind === 0) { if (j.other_key !== undefined || j.other_value !== undefined) vfail('proof: other_key in an inclusion proof'); }
  else if (j.value !== undefined) vfail('proof: value in an absence proof');
  if (kind !== 2 && (j.other_key !== undefined || j.other_value !== undefined)) vfail('proof: other_key outside absent_leaf');
  const value = kind === 0 ? hexBytes(j.value, 32, 'proof.value') : null;
  const tail = kind === 2 ? [hexBytes(j.other_key, 32, 'proof.other_key'), hexBytes(j.other_value, 32, 'proof.other_value')] : [];
  const L16 = Buffer.alloc(2); L16.writeUInt16BE(L);
  return { key, value, bytes: Buffer.concat([u8(kind), L16, bitmap, ...siblings, ...tail]) };
}

/**
 * Verifies a §4 proof in JSON form against root (hex). Returns {ok, reason,
 * key, present, value}: what the proof proves about its key.
 */
export function verifyProofJson(rootHex, j) {
  return outcome(() => {
    const R = hexBytes(rootHex, 32, 'root');
    const p = proofFromJson(j);
    if (!verifyProof(R, p.key, p.value, p.bytes)) vfail('proof: does not verify against the root', 'BAD_PROOF');
    return { key: hex(p.key), present: p.value !== null, value: p.value ? hex(p.value) : null };
  });
}

/** Verifies a §5 multiproof in JSON form against root (hex). Returns {ok, reason, values: Map hex key -> hex value | null}. */
export function verifyMultiproofJson(rootHex, j) {
  return outcome(() => ({ values: checkMultiproofJson(hexBytes(rootHex, 32, 'root'), j) }));
}

function checkMultiproofJson(R, j) {
  obj(j, 'multiproof');
  const Q = arr(j.keys, 'multiproof.keys').map((k, i) => hexBytes(k, 32, `multiproof.keys[${i}]`));
  const proof = hexBytes(j.proof, undefined, 'multiproof.proof');
  if (Q.length === 0) vfail('multiproof: empty key list', 'BAD_PROOF');
  for (let i = 1; i < Q.length; i++) if (Buffer.compare(Q[i - 1], Q[i]) >= 0) vfail('multiproof: keys not strictly ascending', 'BAD_PROOF');
  const res = verifyMulti(R, Q, proof);
  if (res === null) vfail('multiproof: does not verify against the root', 'BAD_PROOF');
  const out = new Map();
  for (const [k, v] of res) out.set(k, v === null ? null : hex(v));
  return out;
}

// ---------------------------------------------------------------------------
// §10 id-range leaf
// ---------------------------------------------------------------------------

export function rangeKey(table) {
  const t = Buffer.from(table, 'utf8');
  return H('vmdb/v2/id-range-key', u8(0), u16(t.length), t);
}
export function rangeValue(lo, hi) {
  const l = Buffer.from(lo, 'utf8'), h = Buffer.from(hi, 'utf8');
  return H('vmdb/v2/id-range', u8(0), u32(l.length), l, u32(h.length), h);
}

// ---------------------------------------------------------------------------
// §14.2 transition records
// ---------------------------------------------------------------------------

/** The kinds of header that carry a transition record (§14.2). */
export const TRANSITION_KINDS = ['repair', 'clear', 'reset', 'migrate'];

/** §14.2: the key of the transition record of header seq. */
export function transitionKey(seq) { return H('vmdb/v2/transition-key', u8(0), u64(seq)); }
/** §14.2: the value of a transition record given as an object (hashed as its JCS). */
export function transitionValue(record) {
  if (!isObject(record)) vfail('transition record is not a JSON object');
  return H('vmdb/v2/transition', u8(0), Buffer.from(jcsOfValue(record), 'utf8'));
}

/**
 * Verifies the answer of GET /api/roots/{seq}/transition (its `data`):
 * the header's signature (and the pinned chain_id, opts.chainId), that the
 * record is of the header's kind and seq, and that the proof shows the
 * record's leaf in the header's tree. Returns {ok, reason, code, header,
 * record}.
 */
export function verifyTransition(data, publicKeyHex, opts = {}) {
  return outcome(() => {
    obj(data, 'answer');
    const h = checkHeader(data.header, pubKey(publicKeyHex), opts);
    const rec = obj(data.record, 'record');
    const kind = h.version === 2 ? HEADER_KINDS[h.kind] : null;
    if (!TRANSITION_KINDS.includes(kind)) vfail(`transition: header ${h.seq} is of kind ${kind}, which has no record`);
    if (rec.kind !== kind || data.kind !== kind) vfail('transition: the record is not of the header\'s kind');
    if (rec.seq !== h.seq) vfail('transition: the record is not of the header\'s seq');
    const p = proofFromJson(data.proof);
    if (p.value === null) vfail('transition: the proof says the record is absent', 'BAD_PROOF');
    if (!p.key.equals(transitionKey(h.seq))) vfail('transition: the proof is not for the record\'s key', 'BAD_PROOF');
    if (!p.value.equals(transitionValue(rec))) vfail('transition: the record does not hash to the proven value', 'BAD_PROOF');
    if (!verifyProof(h.smt_root, p.key, p.value, p.bytes)) vfail('transition: the proof does not verify against the header', 'BAD_PROOF');
    return { header: h, record: rec };
  });
}

// ---------------------------------------------------------------------------
// §9 proofs in answers, §10 complete read-latest
// ---------------------------------------------------------------------------

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** JCS (§2.1 output rules) of a JS value as JSON.parse returns it. */
export function jcsOfValue(v, depth = 0) {
  if (depth > 128) vfail('record nested deeper than 128 levels');
  if (v === null || v === true || v === false) return String(v);
  if (typeof v === 'number') { if (!Number.isFinite(v)) vfail('record holds a non-finite number'); return numberToString(v); }
  if (typeof v === 'string') { if (LONE_SURROGATE.test(v)) vfail('record holds a lone surrogate'); return serialiseJcs(v); }
  if (Array.isArray(v)) return `[${v.map((x) => jcsOfValue(x, depth + 1)).join(',')}]`;
  if (isObject(v)) {
    const names = Object.keys(v).sort(compareUtf16);
    return `{${names.map((n) => { if (LONE_SURROGATE.test(n)) vfail('record holds a lone surrogate'); return `${serialiseJcs(n)}:${jcsOfValue(v[n], depth + 1)}`; }).join(',')}}`;
  }
  return vfail('record holds a value that is not JSON');
}

/** §2: v = H("vmdb/v1/row" || 0x00 || JCS(row)) of a record object. */
export function rowValueOf(record) {
  if (!isObject(record)) vfail('record is not a JSON object');
  return H('vmdb/v1/row', u8(0), Buffer.from(jcsOfValue(record), 'utf8'));
}

/** §9 step 3: the primary key's text of a record member (a number's decimal form, or a string as is). */
function pkText(x) {
  if (typeof x === 'string') return x;
  if (typeof x === 'number' && Number.isFinite(x)) return numberToString(x);
  return vfail('record: primary key is neither a number nor a string');
}

const INT_RE = /^(?:0|-?[1-9][0-9]*)$/;
function intText(s, what) { if (typeof s !== 'string' || !INT_RE.test(s)) vfail(`${what}: not an integer in canonical decimal`); return BigInt(s); }

export const ANSWER_KINDS = ['read-batch', 'read-latest', 'create-batch', 'upsert', 'delete-batch'];

/**
 * Verifies the `data` object of an answer with `"proof": true` (§9, §10).
 * kind: one of ANSWER_KINDS. opts: chainId (pinned; recommended), table
 * (the model the request named; compared after folding to lower case), ids
 * (read-batch / delete-batch: the requested ids, each of which must be
 * answered), order and limit (read-latest: as requested), requireComplete
 * (read-latest: reject an answer without §10's complete part).
 * Returns {ok, reason, header} (header: the parsed, verified header).
 */
export function verifyAnswer(data, kind, publicKeyHex, opts = {}) {
  return outcome(() => checkAnswer(data, kind, pubKey(publicKeyHex), opts));
}

function checkAnswer(data, kind, pub, opts) {
  if (!ANSWER_KINDS.includes(kind)) vfail(`unknown answer kind ${kind}`);
  obj(data, 'data');
  const p = obj(data.proof, 'data.proof');
  // 1. the header
  const header = checkHeader(p.header, pub, { chainId: opts.chainId });
  const table = str(p.table, 'proof.table');
  if (!/^[a-z0-9_]{1,63}$/.test(table)) vfail('proof.table: not a registered (lower-case) table name');
  if (opts.table !== undefined && opts.table.toLowerCase() !== table) vfail('proof.table: not the table the request named');
  const pk = str(p.primary_key, 'proof.primary_key');
  if (pk === '') vfail('proof.primary_key: empty');
  const present = arr(p.present, 'proof.present').map((e, i) => {
    obj(e, `proof.present[${i}]`);
    return { id: str(e.id, `proof.present[${i}].id`), key: hexBytes(e.key, 32, `proof.present[${i}].key`),
      value: hexBytes(e.value, 32, `proof.present[${i}].value`) };
  });
  const absent = arr(p.absent, 'proof.absent').map((e, i) => {
    obj(e, `proof.absent[${i}]`);
    return { id: str(e.id, `proof.absent[${i}].id`), key: hexBytes(e.key, 32, `proof.absent[${i}].key`) };
  });
  const complete = p.complete === undefined || p.complete === null ? null : obj(p.complete, 'proof.complete');
  if (complete && kind !== 'read-latest') vfail('proof.complete outside read-latest');
  const rkey = complete ? hexBytes(complete.range_key, 32, 'complete.range_key') : null;
  if (rkey && !rkey.equals(rangeKey(table))) vfail('complete.range_key is not the range key of the table', 'INCOMPLETE');

  // 2. the multiproof, over exactly the present, absent (and range) keys
  const values = checkMultiproofJson(header.smt_root, p.multiproof);
  const expected = new Set([...present.map((e) => hex(e.key)), ...absent.map((e) => hex(e.key))]);
  if (rkey) expected.add(hex(rkey));
  if (expected.size !== values.size || [...expected].some((k) => !values.has(k))) {
    vfail('multiproof: its keys are not exactly the present, absent and range keys', 'BAD_PROOF');
  }

  // 3. present rows
  const records = kind === 'delete-batch' ? (data.records ?? []) : arr(data.records, 'data.records');
  arr(records, 'data.records');
  if (kind === 'delete-batch' && (present.length !== 0 || records.length !== 0)) vfail('delete-batch: present rows in a delete answer', 'BAD_PROOF');
  if (present.length !== records.length) vfail('proof.present: not one entry per record', 'BAD_PROOF');
  present.forEach((e, i) => {
    if (!e.key.equals(rowKey(table, e.id))) vfail(`proof.present[${i}].key is not k(table, id)`, 'BAD_PROOF');
    if (!e.value.equals(recode('BAD_PROOF', () => rowValueOf(records[i])))) vfail(`proof.present[${i}].value is not the value of data.records[${i}]`, 'BAD_PROOF');
    if (!Object.prototype.hasOwnProperty.call(records[i], pk) || recode('BAD_PROOF', () => pkText(records[i][pk])) !== e.id) {
      vfail(`data.records[${i}]: primary key is not proof.present[${i}].id`, 'BAD_PROOF');
    }
    if (values.get(hex(e.key)) !== hex(e.value)) vfail(`multiproof: present[${i}] (id ${e.id}) is not present with its value`, 'BAD_PROOF');
  });

  // 4. absent ids
  absent.forEach((e, i) => {
    if (!e.key.equals(rowKey(table, e.id))) vfail(`proof.absent[${i}].key is not k(table, id)`, 'BAD_PROOF');
    if (values.get(hex(e.key)) !== null) vfail(`multiproof: absent[${i}] (id ${e.id}) is present`, 'BAD_PROOF');
  });
  const absentIds = new Set(absent.map((e) => e.id));
  const presentIds = new Set(present.map((e) => e.id));
  if (kind === 'read-batch' || kind === 'delete-batch') {
    const missing = arr(data.missing ?? [], 'data.missing');
    missing.forEach((id, i) => { if (!absentIds.has(str(id, `data.missing[${i}]`))) vfail(`data.missing[${i}] (${id}) is not proven absent`, 'BAD_PROOF'); });
  }
  if (kind === 'delete-batch') {
    arr(data.ids ?? [], 'data.ids').forEach((id, i) => { if (!absentIds.has(str(id, `data.ids[${i}]`))) vfail(`data.ids[${i}] (${id}) is not proven absent after the delete`, 'BAD_PROOF'); });
  }
  if (opts.ids && (kind === 'read-batch' || kind === 'delete-batch')) {
    for (const id of opts.ids) {
      if (!presentIds.has(String(id)) && !absentIds.has(String(id))) vfail(`requested id ${id} is neither returned nor proven absent`);
    }
  }

  // §10
  if (kind === 'read-latest') {
    if (complete) {
      if (data.complete !== true) vfail('data.complete is not true beside a complete proof');
      checkComplete(complete, table, present, absentIds, values, opts);
    } else {
      if (data.complete === true) vfail('data.complete is true without a complete proof', 'INCOMPLETE');
      if (opts.requireComplete) vfail('read-latest: no complete proof', 'INCOMPLETE');
    }
  }
  return { header };
}

/** §10: the range leaf, the order of the rows, and every gap id returned or proven absent. */
function checkComplete(c, table, present, absentIds, values, opts) {
  if (c.order !== 'desc' && c.order !== 'asc') vfail('complete.order: neither desc nor asc');
  const limit = safeUint(c.limit, 'complete.limit');
  if (limit < 1) vfail('complete.limit: below 1');
  if (opts.order !== undefined && opts.order !== c.order) vfail('complete.order: not the requested order');
  if (opts.limit !== undefined && opts.limit !== limit) vfail('complete.limit: not the requested limit');
  const lo = intText(c.lo, 'complete.lo'), hi = intText(c.hi, 'complete.hi');
  if (lo > hi) vfail('complete: lo > hi', 'INCOMPLETE');
  if (values.get(hex(rangeKey(table))) !== hex(rangeValue(c.lo, c.hi))) {
    vfail('complete: the range key is not present with the range value of (lo, hi)', 'INCOMPLETE');
  }
  const m = present.length;
  if (m > limit) vfail('complete: more rows than the limit', 'INCOMPLETE');
  const r = present.map((e, i) => recode('INCOMPLETE', () => intText(e.id, `present[${i}].id`)));
  for (let i = 0; i < m; i++) {
    if (r[i] < lo || r[i] > hi) vfail(`complete: row id ${r[i]} outside [lo, hi]`, 'INCOMPLETE');
    if (i > 0 && (c.order === 'desc' ? r[i] >= r[i - 1] : r[i] <= r[i - 1])) vfail(`complete: row ids not strictly ${c.order === 'desc' ? 'decreasing' : 'increasing'}`, 'INCOMPLETE');
  }
  let from = lo, to = hi; // the gap, inclusive bounds
  if (m === limit) { if (c.order === 'desc') from = r[m - 1] + 1n; else to = r[m - 1] - 1n; }
  const rset = new Set(r.map(String));
  // Stops at the first uncovered id, so it runs at most m + |absent| + 1 times whatever lo and hi claim.
  for (let g = from; g <= to; g++) {
    const s = String(g);
    if (!rset.has(s) && !absentIds.has(s)) vfail(`complete: gap id ${s} neither returned nor proven absent`, 'INCOMPLETE');
  }
}

// ---------------------------------------------------------------------------
// §11.1 history proof, §11.2 checkpoint
// ---------------------------------------------------------------------------

/**
 * Verifies {from, to, inclusion, consistency} (§11.1): both headers (v1
 * headers with the v1 rule, §12), then that `to` extends `from`.
 * opts: chainId (pinned, for v2 headers), trustedHash (hex header_hash of the
 * header the client already holds: `from` must be it). Returns {ok, reason, from, to}.
 */
export function verifyHistoryProof(proof, publicKeyHex, opts = {}) {
  return outcome(() => {
    const pub = pubKey(publicKeyHex);
    obj(proof, 'history proof');
    const A = checkHeader(proof.from, pub, { chainId: opts.chainId, allowV1: true });
    const B = checkHeader(proof.to, pub, { chainId: opts.chainId, allowV1: true });
    if (opts.trustedHash !== undefined && !hexBytes(opts.trustedHash, 32, 'trusted hash').equals(A.header_hash)) {
      vfail('history: from is not the trusted header', 'FORK');
    }
    const inc = arr(proof.inclusion, 'inclusion').map((x, i) => hexBytes(x, 32, `inclusion[${i}]`));
    const con = arr(proof.consistency, 'consistency').map((x, i) => hexBytes(x, 32, `consistency[${i}]`));
    if (A.seq > B.seq) vfail('history: from.seq > to.seq');
    if (A.version > B.version) vfail('history: a v1 header after a v2 header', 'FORK');
    if (A.version === 2 && !A.chain_id.equals(B.chain_id)) vfail('history: the headers are of different chains', 'WRONG_CHAIN');
    if (A.version === 1 && A.seq === 0 && B.version === 2 && !B.chain_id.equals(chainIdFromV1(pub, A.header_hash))) {
      vfail('history: chain_id is not derived from this v1 header 0', 'WRONG_CHAIN');
    }
    if (A.seq === B.seq) {
      if (inc.length || con.length) vfail('history: non-empty proofs between a header and itself');
      if (!A.header_hash.equals(B.header_hash)) vfail('history: two different headers with the same seq (a fork)', 'FORK');
      return { from: A, to: B };
    }
    if (!verifyInclusion(A.header_hash, A.seq, B.seq, B.history_root, inc)) vfail('history: inclusion proof does not verify', 'FORK');
    if (A.seq === 0) { if (con.length) vfail('history: consistency proof from size 0'); }
    else if (!verifyConsistency(A.seq, B.seq, A.history_root, B.history_root, con)) vfail('history: consistency proof does not verify', 'FORK');
    return { from: A, to: B };
  });
}

/** §11.2 key ID: the first 4 bytes of H(origin || 0x0A || 0x01 || public key). */
export const checkpointKeyId = (origin, pub) => H(origin, u8(0x0a), u8(0x01), pub).subarray(0, 4);
export const defaultOrigin = (pub) => `vmdb/${base58(pub)}`;
const ORIGIN_RE = /^[\x21-\x2a\x2c-\x7e]+$/; // printable ASCII without space and '+'

/**
 * Verifies a C2SP checkpoint note (§11.2) signed by the identity key.
 * opts.origin: the expected origin (default vmdb/<address>). Returns {ok,
 * reason, origin, size, root (hex)}.
 */
export function verifyCheckpoint(note, publicKeyHex, opts = {}) {
  return outcome(() => {
    const pub = pubKey(publicKeyHex);
    str(note, 'note');
    const origin = opts.origin ?? defaultOrigin(pub);
    const sep = note.indexOf('\n\n');
    if (sep < 0 || !note.endsWith('\n')) vfail('note: no blank line before the signatures, or no final newline');
    const text = note.slice(0, sep + 1);
    const lines = text.slice(0, -1).split('\n');
    if (lines.length !== 3) vfail('note: the text is not three lines');
    const [o, n, r] = lines;
    if (!ORIGIN_RE.test(o)) vfail('note: origin is not printable ASCII without spaces or +');
    if (o !== origin) vfail('note: not the expected origin');
    if (!/^(?:0|[1-9][0-9]*)$/.test(n) || !Number.isSafeInteger(Number(n))) vfail('note: size is not a decimal without leading zeros');
    const root = base64Strict(r, 'note root');
    if (root.length !== 32) vfail('note: root is not 32 bytes');
    const keyId = checkpointKeyId(origin, pub);
    const sigLines = note.slice(sep + 2, -1).split('\n');
    let good = false;
    for (const line of sigLines) {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m) vfail('note: malformed signature line');
      if (m[1] !== origin) continue; // another signer's line
      const b = base64Strict(m[2], 'note signature');
      if (b.length !== 68 || !b.subarray(0, 4).equals(keyId)) continue;
      if (ed25519Check(pub, Buffer.from(text, 'utf8'), b.subarray(4))) good = true;
      else vfail('note: the identity signature does not verify', 'BAD_SIGNATURE');
    }
    if (!good) vfail('note: no signature by the identity key', 'BAD_SIGNATURE');
    return { origin, size: Number(n), root: hex(root) };
  });
}

// ---------------------------------------------------------------------------
// §8.3 trusted state file
// ---------------------------------------------------------------------------

/** digest = H("vmdb/v2/trusted-state" || 0x00 || u16(len) || committed header || sig || u8(has_intent) || [...]) */
export function trustedStateDigest(committedHeader, committedSig, intentHeader, intentSig) {
  const parts = [Buffer.from('vmdb/v2/trusted-state'), u8(0), u16(committedHeader.length), committedHeader, committedSig];
  if (intentHeader) parts.push(u8(1), u16(intentHeader.length), intentHeader, intentSig);
  else parts.push(u8(0));
  return H(...parts);
}

/** Verifies a v2 trusted_state.json object (already parsed) against the identity key. Returns {ok, reason, committed, intent}. */
export function verifyTrustedState(file, publicKeyHex) {
  return outcome(() => {
    const pub = pubKey(publicKeyHex);
    obj(file, 'trusted state');
    if (file.version !== 2) vfail('trusted state: not version 2');
    if (!hexBytes(file.public_key, 32, 'public_key').equals(pub)) vfail('trusted state: another public key');
    const slot = (s, what, isIntent) => {
      obj(s, what);
      const h = decodeHeader(hexBytes(s.header, undefined, `${what}.header`));
      const sig = hexBytes(s.sig, 64, `${what}.sig`);
      const msg = h.version === 1 ? h.header_hash : isIntent ? intentMessage(h.header_hash) : committedMessage(h.header_hash);
      if (!ed25519Check(pub, msg, sig)) vfail(`trusted state: ${what} signature does not verify`);
      return { header: h, sig };
    };
    const c = slot(file.committed, 'committed', false);
    const i = file.intent === null ? null : slot(file.intent, 'intent', true);
    const digest = trustedStateDigest(c.header.encoded, c.sig, i && i.header.encoded, i && i.sig);
    if (!ed25519Check(pub, trustedStateMessage(digest), hexBytes(file.file_sig, 64, 'file_sig'))) vfail('trusted state: file_sig does not verify');
    return { committed: c, intent: i, digest: hex(digest) };
  });
}

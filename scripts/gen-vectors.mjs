// gen-vectors.mjs — reference implementation of the vmdb v1 protocol in
// JavaScript, and generator of the protocol's test vectors.
//
// Purpose. This script implements docs/PROTOCOL.md from its text alone,
// independently of the C implementation in src/: row keys (§1), strict
// canonical JSON (JCS as vmdb applies it, §2), the sparse Merkle tree with its
// single-key proofs and multiproofs (§3–§5), signed state headers (§6) and the
// RFC 9162 history tree (§7). It contains both the provers and the VERIFIERS,
// checks every vector it produces with its own verifiers (plus mutation tests:
// every corrupted proof must be rejected), and then writes
// docs/vectors/v1.json, which the C test suite replays. For protocol v2 it
// also writes docs/vectors/v2.json (see genV2 for its layout). The verifier
// half lives in clients/js/src/protocol.mjs, which this script imports.
//
// Usage:   node scripts/gen-vectors.mjs [--out DIR]   (Node 20, built-in modules only;
//          --out writes into DIR instead of docs/vectors/)
// Output:  docs/vectors/v1.json, deterministic (fixed-seed PRNG, Ed25519 is
//          deterministic), byte-identical on every run.
//
// Conventions: binary strings are Buffers; hex is lower case; every helper that
// can fail on untrusted input throws VerifyError / JcsError, which the
// verifiers turn into a false result.

import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  assert, H, Z, hex, unhex, u8, u16, u64, bitAt, numberToString, jcs, jcsAccepts, rowKey, rowValue, leafHash,
  nodeHash, KIND_CODE, verifyProof, sortKeys, verifyMulti, splitPoint, mth, verifyInclusion, verifyConsistency,
  ed25519Verify,
} from '../clients/js/src/protocol.mjs';
import * as V from '../clients/js/src/protocol.mjs';

/** Deterministic PRNG: SplitMix64 over BigInt. Returns a function yielding u64 BigInts. */
function splitmix64(seed) {
  let state = BigInt.asUintN(64, BigInt(seed));
  return () => {
    state = BigInt.asUintN(64, state + 0x9e3779b97f4a7c15n);
    let z = state;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  };
}

/** n pseudo-random bytes from a splitmix64 generator. */
function randomBytes(next, n) {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i += 8) {
    const b = u64(next());
    b.copy(out, i, 0, Math.min(8, n - i));
  }
  return out;
}

/** IEEE-754 double <-> 64-bit big-endian pattern. */
function doubleFromBits(bits) { const b = Buffer.alloc(8); b.writeBigUInt64BE(bits); return b.readDoubleBE(0); }
function bitsFromDouble(d) { const b = Buffer.alloc(8); b.writeDoubleBE(d); return b.readBigUInt64BE(0); }

/** Splits leaves (sharing their first d bits) by bit d. */
function splitAt(S, d) {
  const S0 = [], S1 = [];
  for (const leaf of S) (bitAt(leaf.key, d) ? S1 : S0).push(leaf);
  return [S0, S1];
}

/** root(S, d) of PROTOCOL §3. S: [{key, value}] with distinct keys. */
function smtRoot(S, d = 0) {
  if (S.length === 0) return Z;
  if (S.length === 1) return leafHash(S[0].key, S[0].value);
  assert(d < 256, 'distinct keys split before depth 256');
  const [S0, S1] = splitAt(S, d);
  return nodeHash(smtRoot(S0, d + 1), smtRoot(S1, d + 1));
}

/**
 * Builds the proof for key k: walks k's path until the subtree is empty or
 * a single leaf (depth L), collecting the sibling hashes s_0..s_{L-1}.
 * Returns {kind, L, siblings, leaf (the leaf at depth L or null), bytes}.
 */
function proveKey(S, k) {
  let cur = S;
  const siblings = [];
  let d = 0;
  while (cur.length >= 2) {
    const [S0, S1] = splitAt(cur, d);
    const b = bitAt(k, d);
    siblings.push(smtRoot(b ? S0 : S1, d + 1));
    cur = b ? S1 : S0;
    d++;
  }
  const L = d;
  const leaf = cur.length === 1 ? cur[0] : null;
  const kind = leaf === null ? 'absent_empty' : leaf.key.equals(k) ? 'inclusion' : 'absent_leaf';
  // binary form: u8(kind) || u16(L) || bitmap || non-empty siblings deepest first || [k' || v']
  const bitmap = Buffer.alloc(Math.ceil(L / 8));
  const listed = [];
  for (let i = L - 1; i >= 0; i--) {
    if (!siblings[i].equals(Z)) { bitmap[i >> 3] |= 0x80 >> (i & 7); listed.push(siblings[i]); }
  }
  const parts = [u8(KIND_CODE[kind]), u16(L), bitmap, ...listed];
  if (kind === 'absent_leaf') parts.push(leaf.key, leaf.value);
  return { kind, L, siblings, leaf, bytes: Buffer.concat(parts) };
}

/** Encodes the multiproof of the (non-empty, sorted) key set Q over leaves S. */
function proveMulti(S, Q) {
  assert(Q.length > 0, 'the empty set has no multiproof');
  const out = [];
  const encode = (Sx, Qx, d) => { // Qx non-empty: some key enters this subtree
    if (Sx.length === 0) { out.push(u8(0x00)); return; }
    if (Sx.length === 1) { out.push(u8(0x01), Sx[0].key, Sx[0].value); return; }
    out.push(u8(0x02));
    const [S0, S1] = splitAt(Sx, d);
    const Q0 = Qx.filter((q) => !bitAt(q, d));
    const Q1 = Qx.filter((q) => bitAt(q, d));
    for (const [Sc, Qc] of [[S0, Q0], [S1, Q1]]) {
      if (Qc.length > 0) encode(Sc, Qc, d + 1);
      else if (Sc.length === 0) out.push(u8(0x00));
      else out.push(u8(0x03), smtRoot(Sc, d + 1));
    }
  };
  encode(S, Q, 0);
  return Buffer.concat(out);
}
/** RFC 9162 §2.1.3.1 PATH(m, D[n]): audit path, leaf level first. */
function inclusionPath(m, D) {
  if (D.length <= 1) return [];
  const k = splitPoint(D.length);
  if (m < k) return [...inclusionPath(m, D.slice(0, k)), mth(D.slice(k))];
  return [...inclusionPath(m - k, D.slice(k)), mth(D.slice(0, k))];
}
/** RFC 9162 §2.1.4.1 PROOF(m, D[n]) = SUBPROOF(m, D[n], true); empty when m = n. */
function consistencyProof(m, D) {
  const sub = (m, D, b) => {
    const n = D.length;
    if (m === n) return b ? [] : [mth(D)];
    const k = splitPoint(n);
    if (m <= k) return [...sub(m, D.slice(0, k), b), mth(D.slice(k))];
    return [...sub(m - k, D.slice(k), false), mth(D.slice(0, k))];
  };
  return sub(m, D, true);
}
// ---------------------------------------------------------------------------
// §6 State header and Ed25519
// ---------------------------------------------------------------------------

/** u64(seq) || smt_root || prev || history_root || u64(time_ms) || schema_hash (144 bytes). */
function encodeHeader(h) {
  const enc = Buffer.concat([u64(h.seq), h.smt_root, h.prev, h.history_root, u64(h.time_ms), h.schema_hash]);
  assert(enc.length === 144, 'encoded header is 144 bytes');
  return enc;
}
const headerHash = (encoded) => H('vmdb/v1/header', u8(0), encoded);

const PKCS8_ED25519_PREFIX = unhex('302e020100300506032b657004220420');

function ed25519FromSeed(seed) {
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const pub = createPublicKey(priv).export({ format: 'der', type: 'spki' }).subarray(-32);
  return { priv, pub: Buffer.from(pub) };
}
// ---------------------------------------------------------------------------
// Self-checks of the primitives against published values
// ---------------------------------------------------------------------------

function selfChecks() {
  // RFC 8032 §7.1 TEST 1 (empty message): checks the seed -> key construction.
  const t1 = ed25519FromSeed(unhex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'));
  assert(hex(t1.pub) === 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'RFC 8032 test 1 public key');
  assert(hex(sign(null, Buffer.alloc(0), t1.priv)) ===
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    'RFC 8032 test 1 signature');
  // MTH({}) = SHA-256("")
  assert(hex(mth([])) === 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'MTH of the empty tree');
  // RFC 8785 Appendix B: sample IEEE-754 values and their serialisations.
  const rfc8785B = [
    ['0000000000000000', '0'], ['8000000000000000', '0'], ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'], ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'], ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'], ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'], ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'], ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'], ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'], ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'], ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'], ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'], ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  for (const [bits, s] of rfc8785B) assert(numberToString(doubleFromBits(BigInt('0x' + bits))) === s, `RFC 8785 B ${bits}`);
  return rfc8785B.map(([bits]) => bits);
}

// ---------------------------------------------------------------------------
// Vector generation: JCS
// ---------------------------------------------------------------------------

const nested = (n) => '['.repeat(n) + ']'.repeat(n);

function genJcs() {
  const RFC8785_322 = `{
  "numbers": [333333333.3333333, 1E30, 4.50,
              2e-3, 0.000000000000000000000000001],
  "string": "\\u20ac$\\u000F\\u000aA'\\u0042\\u0022\\u005c\\\\\\"\\/",
  "literals": [null, true, false]
}`;
  const RFC8785_323 = `{
  "\\u20ac": "Euro Sign",
  "\\r": "Carriage Return",
  "\\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\\ud83d\\ude00": "Emoji: Grinning Face",
  "\\u0080": "Control",
  "\\u00f6": "Latin Small Letter O With Diaeresis"
}`;
  const allControls = Array.from({ length: 32 }, (_, i) => '\\u' + i.toString(16).padStart(4, '0').toUpperCase()).join('');
  // [name, input, expected output or undefined (then only computed)]
  const cases = [
    ['rfc8785_3_2_2_adapted', RFC8785_322,
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'],
    ['rfc8785_3_2_3_sorting', RFC8785_323,
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin Small Letter O With Diaeresis","€":"Euro Sign","😀":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}'],
    ['utf16_order_e000_after_1f600_escaped', '{"\\ue000":1,"\\ud83d\\ude00":2}', '{"😀":2,"\ue000":1}'],
    ['utf16_order_e000_after_1f600_raw', '{"\ue000":1,"😀":2}', '{"😀":2,"\ue000":1}'],
    ['utf16_order_prefixes', '{"b":3,"aa":1,"a":2,"":0,"A":4}', '{"":0,"A":4,"a":2,"aa":1,"b":3}'],
    ['sort_after_unescape', '{"\\u0062":1,"a":2,"\\u0063":3}', '{"a":2,"b":1,"c":3}'],
    ['control_chars_all', `"${allControls}"`,
      '"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f' +
      '\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f"'],
    ['short_escapes', '"\\b\\t\\n\\f\\r"', '"\\b\\t\\n\\f\\r"'],
    ['short_escapes_from_u', '"\\u0008\\u0009\\u000a\\u000C\\u000d"', '"\\b\\t\\n\\f\\r"'],
    ['quote_and_backslash', '"\\u0022\\"\\u005c\\\\"', '"\\"\\"\\\\\\\\"'],
    ['del_literal_from_escape', '"\\u007f"', '"\u007f"'],
    ['del_literal_raw', '"a\u007fb"', '"a\u007fb"'],
    ['u2028_u2029_literal', '"\\u2028\\u2029"', '"\u2028\u2029"'],
    ['solidus_literal', '"a/b"', '"a/b"'],
    ['escaped_solidus', '"a\\/b\\/"', '"a/b/"'],
    ['non_ascii_escapes', '"\\u00e9\\u00C9\\u4e2d\\uFFFF"', '"éÉ中\uffff"'],
    ['non_ascii_raw', '"é中😀"', '"é中😀"'],
    ['surrogate_pair_escape_upper', '"\\uD83D\\uDE00"', '"😀"'],
    ['empty_string', '""', '""'],
    ['integers', '[0,1,-1,123456789,-987654321,4294967296]', '[0,1,-1,123456789,-987654321,4294967296]'],
    ['max_safe_integers', '[9007199254740992,-9007199254740992,9007199254740991]', '[9007199254740992,-9007199254740992,9007199254740991]'],
    ['negative_zero', '[-0,-0.0,-0e10,0.0,0e-5]', '[0,0,0,0,0]'],
    ['trailing_zeros', '[1.50,2.000,10.0e0]', '[1.5,2,10]'],
    ['exponent_forms', '[1e2,1E2,1e+2,10e-1,0.5e1]', '[100,100,100,1,5]'],
    ['large_1e20_1e21', '[1e20,100000000000000000000,1e21,1000000000000000000000]',
      '[100000000000000000000,100000000000000000000,1e+21,1e+21]'],
    ['large_2_pow_68', '295147905179352830000', '295147905179352830000'],
    ['large_1e23', '[1e23,9.999999999999997e22]', '[1e+23,9.999999999999997e+22]'],
    ['small_1e-7_0_000001', '[1e-7,0.0000001,0.000001,1e-6,1.5e-7]', '[1e-7,1e-7,0.000001,0.000001,1.5e-7]'],
    ['small_123e-20', '123e-20', '1.23e-18'],
    ['exponent_leading_zeros', '[1E+0021,5e-0007,1e00]', '[1e+21,5e-7,1]'],
    ['zero_with_huge_exponent', '[0e400,-0.000e-99999999999999999999]', '[0,0]'],
    ['decimals', '[0.1,0.2,0.3,-0.5,3.14159]', '[0.1,0.2,0.3,-0.5,3.14159]'],
    ['double_extremes', '[5e-324,-5e-324,1.7976931348623157e308,2.2250738585072014e-308]',
      '[5e-324,-5e-324,1.7976931348623157e+308,2.2250738585072014e-308]'],
    ['shortest_neighbours', '[333333333.3333332,333333333.33333325,1424953923781206.2]',
      '[333333333.3333332,333333333.33333325,1424953923781206.2]'],
    ['nested_arrays', '[[[]],[[1],[2,[3]]]]', '[[[]],[[1],[2,[3]]]]'],
    ['nested_objects', '{"b":{"d":1,"c":{"f":[],"e":{}}},"a":[{"z":1,"y":2}]}', '{"a":[{"y":2,"z":1}],"b":{"c":{"e":{},"f":[]},"d":1}}'],
    ['empty_object', '{}', '{}'],
    ['empty_array', '[]', '[]'],
    ['empty_containers_nested', '[{},[],{"":{}}]', '[{},[],{"":{}}]'],
    ['top_null', 'null', 'null'],
    ['top_true', 'true', 'true'],
    ['top_false', 'false', 'false'],
    ['top_string', '"hello"', '"hello"'],
    ['top_number', '42', '42'],
    ['top_negative_float', '-1.25e1', '-12.5'],
    ['whitespace_everywhere', ' \t\n\r{ "b" : [ 1 , 2 , { } ] ,\n"a"\t:\r null , "c" : "x y" } \n\t ', '{"a":null,"b":[1,2,{}],"c":"x y"}'],
    ['whitespace_scalar', '\n\n  true \r\n', 'true'],
    ['key_with_escapes', '{"a\\nb":1,"a\\"b":2,"a\\\\b":3}', '{"a\\nb":1,"a\\"b":2,"a\\\\b":3}'],
    ['key_nul_escape', '{"a\\u0000":1,"a":2}', '{"a":2,"a\\u0000":1}'],
    ['literals_in_array', '[null,true,false,null]', '[null,true,false,null]'],
    ['row_like', '{"name":"row 7","id":7,"tags":["x","y"],"deleted":null}', '{"deleted":null,"id":7,"name":"row 7","tags":["x","y"]}'],
    ['depth_128_accepted', nested(128), nested(128)],
    ['depth_128_objects', '{"a":'.repeat(127) + '[]' + '}'.repeat(127), '{"a":'.repeat(127) + '[]' + '}'.repeat(127)],
  ];
  const out = [];
  const names = new Set();
  for (const [name, input, expected] of cases) {
    assert(!names.has(name), `duplicate case name ${name}`);
    names.add(name);
    const output = jcs(input);
    assert(output === expected, `jcs ${name}: got ${JSON.stringify(output)}, expected ${JSON.stringify(expected)}`);
    assert(jcs(output) === output, `jcs ${name}: canonical form is a fixed point`);
    out.push({ name, input, output });
  }
  return out;
}

function genJcsReject() {
  const cases = [
    ['int_2_pow_53_plus_1', '9007199254740993'],
    ['int_20_digits', '12345678901234567890'],
    ['decimal_0_3_plus_1e-20', '0.30000000000000000001'],
    ['overflow_1e400', '1e400'],
    ['overflow_neg_1e400', '-1e400'],
    ['underflow_1e-400', '1e-400'],
    ['overflow_huge_exponent', '1e99999999999999999999'],
    ['underflow_huge_negative_exponent', '-1e-99999999999999999999'],
    ['not_shortest_0_1', '0.10000000000000001'],
    ['not_shortest_5e-324', '4.9406564584124654e-324'],
    ['not_shortest_1', '1.0000000000000001'],
    ['rfc8785_3_2_2_original', '{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001]}'],
    ['duplicate_key', '{"a":1,"a":2}'],
    ['duplicate_key_after_unescape', '{"a":1,"\\u0061":2}'],
    ['duplicate_key_nested', '{"x":{"b":1,"c":2,"b":3}}'],
    ['duplicate_key_surrogate_pair', '{"😀":1,"\\ud83d\\ude00":2}'],
    ['lone_high_surrogate', '"\\ud800"'],
    ['lone_low_surrogate', '"\\udc00"'],
    ['high_surrogate_then_char', '"\\ud800a"'],
    ['high_surrogate_then_bmp_escape', '"\\ud800\\u0041"'],
    ['reversed_surrogates', '"\\ude00\\ud83d"'],
    ['high_surrogate_at_end_of_key', '{"\\ud83d":1}'],
    ['trailing_comma_array', '[1,2,]'],
    ['trailing_comma_object', '{"a":1,}'],
    ['single_quotes_string', "'a'"],
    ['single_quotes_key', "{'a':1}"],
    ['leading_zero', '01'],
    ['leading_zero_negative', '-01'],
    ['double_zero', '00'],
    ['nan', 'NaN'],
    ['infinity', 'Infinity'],
    ['negative_infinity', '-Infinity'],
    ['plus_sign', '+1'],
    ['leading_dot', '.5'],
    ['trailing_dot', '1.'],
    ['bare_exponent', '1e'],
    ['exponent_sign_only', '1e+'],
    ['minus_only', '-'],
    ['hex_number', '0x10'],
    ['unterminated_string', '"abc'],
    ['unterminated_array', '[1,2'],
    ['unterminated_object', '{"a":1'],
    ['raw_control_char_in_string', '"a\u0001b"'],
    ['raw_tab_in_string', '"a\tb"'],
    ['raw_newline_in_string', '"a\nb"'],
    ['raw_unit_separator_in_key', '{"\u001f":1}'],
    ['invalid_escape', '"\\x41"'],
    ['short_u_escape', '"\\u12"'],
    ['upper_u_escape', '"\\U0041"'],
    ['trailing_garbage', '[1] x'],
    ['two_values', '1 2'],
    ['two_objects', '{}{}'],
    ['string_then_garbage', '"a"b'],
    ['empty_input', ''],
    ['whitespace_only', ' \n'],
    ['missing_colon', '{"a" 1}'],
    ['missing_value', '{"a":}'],
    ['unquoted_key', '{a:1}'],
    ['comment', '[1 /* c */]'],
    ['capitalised_literal', 'True'],
    ['truncated_literal', 'nul'],
    ['non_json_whitespace', '\u00a0[]'],
    ['depth_129_rejected', nested(129)],
  ];
  const names = new Set();
  return cases.map(([name, input]) => {
    assert(!names.has(name), `duplicate case name ${name}`);
    names.add(name);
    assert(!jcsAccepts(input), `jcs_reject ${name} must be rejected`);
    return { name, input };
  });
}

// ---------------------------------------------------------------------------
// Vector generation: numbers
// ---------------------------------------------------------------------------

function genNumbers(rfcBits) {
  const next = splitmix64(0x766d6462); // "vmdb"
  const list = [];
  const seen = new Set();
  const add = (bits) => {
    bits = BigInt.asUintN(64, bits);
    if (((bits >> 52n) & 0x7ffn) === 0x7ffn) return; // NaN / Infinity
    const key = bits.toString(16);
    if (seen.has(key)) return;
    seen.add(key);
    list.push(bits);
  };
  const addNum = (d) => add(bitsFromDouble(d));
  const addAround = (d) => { // d, its neighbours, and the same for -d
    const b = bitsFromDouble(Math.abs(d));
    for (const x of [b - 1n, b, b + 1n]) if (x >= 0n) { add(x); add(x | (1n << 63n)); }
  };

  for (const bits of rfcBits) add(BigInt('0x' + bits));
  // Hand-picked edge cases.
  [0, -0, 5e-324, 1.7976931348623157e308, 2 ** 53, 1e21, 1e20, 1e-7, 1e-6, 0.1, 0.2, 0.3, 123e-20,
    2.2250738585072014e-308, 2.225073858507201e-308, 1, -1, 1.5, 100, 1e22, 1e23, 12345678901234567,
    0.000001234, 1.234e-7, 4.35, 0.5, 2 ** -1074 * 3, 9007199254740993 - 1].forEach(addNum);
  // Powers of two across the whole range (and neighbours of the interesting ones).
  for (let e = -1074; e <= 1023; e += 37) addNum(2 ** e);
  for (const e of [-1074, -1073, -1023, -1022, -1021, -30, -20, -1, 0, 1, 10, 52, 53, 54, 63, 64, 66, 67, 68, 69, 70, 1022, 1023]) addAround(2 ** e);
  // Boundaries of the Number::toString forms.
  for (const d of [1e21, 1e-6, 1e-7, 1e20, 1e15, 1e16, 1e17, 1e-5, 0.1, 1e308]) addAround(d);
  // Powers of ten.
  for (let e = -323; e <= 308; e += 7) addNum(Number(`1e${e}`));
  // Uniformly random bit patterns.
  for (let i = 0; i < 200; i++) add(next());
  // Random doubles with exponents from about 1e-9 to 1e23, to exercise every
  // output form (fixed, fraction, leading zeros, exponent).
  for (let i = 0; i < 120; i++) {
    const r = next();
    const exp = 0x3e0n + (r >> 56n) % 0x70n;
    add((r & 0x800fffffffffffffn) | (exp << 52n));
  }
  // Short decimals and random safe integers.
  for (let i = 0; i < 60; i++) {
    const r = next();
    addNum(Number(`${(r % 99999n) + 1n}e${Number((r >> 32n) % 40n) - 15}`) * ((r >> 63n) ? -1 : 1));
    addNum(Number(next() % 9007199254740992n));
  }
  return list.map((bits) => {
    const d = doubleFromBits(bits);
    const output = numberToString(d); // asserts PROTOCOL rules == String(d)
    if (d !== 0) assert(jcs(output) === output, `number ${output} is accepted and canonical`);
    return { bits: bits.toString(16).padStart(16, '0'), output };
  });
}

// ---------------------------------------------------------------------------
// Vector generation: row keys and values
// ---------------------------------------------------------------------------

function genRowKeys() {
  const pairs = [
    ['ab', 'c'], ['a', 'bc'], ['t', '0'], ['t', '1'], ['users', ''], ['', ''], ['', 'x'],
    ['users', '123'], ['users', '9223372036854775807'], ['users', '-42'],
    ['accounts', '550e8400-e29b-41d4-a716-446655440000'],
    ['tâble', 'ключ'], ['表', '😀'], ['orders', 'text with spaces and "quotes"'],
    ['t'.repeat(255), 'x'], ['t'.repeat(256), 'y'], ['long_pk', 'p'.repeat(300)],
  ];
  const keys = pairs.map(([table, pk]) => ({ table, pk, key: hex(rowKey(table, pk)) }));
  assert(keys[0].key !== keys[1].key, '(ab,c) and (a,bc) differ');
  assert(new Set(keys.map((k) => k.key)).size === keys.length, 'row keys distinct');
  return keys;
}

function genRowValues() {
  const rows = [
    '{"id": 1, "name": "alice"}',
    '{"name":"row 0","id":0}',
    '{"id":"9223372036854775807","price":"123.4500","ratio":0.5,"ok":true,"deleted":null,"n":-17}',
    '{"created_at":"2024-01-02T03:04:05.123456+00:00","uuid":"550e8400-e29b-41d4-a716-446655440000"}',
    '{"a":"NaN","b":"Infinity","c":"-Infinity","d":-0.0,"e":1e21,"f":1.5e-7,"g":1E2}',
    '{"é":1,"z":2,"😀":3,"\\ue000":4,"a\\u0000b":5,"\\u00e9t\\u00e9":6}',
    '{"doc":{"b":[1,{"y":2,"x":1}],"a":"\\u2028"},"arr":[[],{}]}',
    '{}',
    '{"s":"line1\\nline2\\t\\"q\\" \\\\ \\/ \\u001f \\u007f"}',
    '{ "r" : 3.4028234663852886e38 , "x" : 0.1 , "y" : 100 }',
  ];
  return rows.map((row) => ({ row, jcs: jcs(row), value: hex(rowValue(row)) }));
}

// ---------------------------------------------------------------------------
// Vector generation: trees, proofs, multiproofs
// ---------------------------------------------------------------------------

/** Leaves of the "t" tables: key = rowKey("t", i), value = row value of {"id": i, "name": "row i"}. */
function rowsTree(n) {
  return Array.from({ length: n }, (_, i) => ({
    key: rowKey('t', String(i)),
    value: rowValue(`{"id":${i},"name":"row ${i}"}`),
  }));
}

const rawKey = (hexStr) => unhex(hexStr.padStart(64, '0'));

/** Mutation test: every single-byte corruption, truncation and extension must be rejected. */
function assertMutationsRejected(bytes, accepts, what) {
  const variants = [bytes.subarray(0, bytes.length - 1), Buffer.concat([bytes, u8(0)])];
  for (let i = 0; i < bytes.length; i++) {
    for (const mask of [0x01, 0x80]) {
      const m = Buffer.from(bytes);
      m[i] ^= mask;
      variants.push(m);
    }
  }
  for (const v of variants) assert(!accepts(v), `${what}: corrupted proof ${hex(v)} accepted`);
}

/** Builds one tree vector: root, single-key proofs and multiproofs, all verified. */
function treeVector(name, leaves, proofKeys, multiSets) {
  const keysHex = new Set(leaves.map((l) => hex(l.key)));
  assert(keysHex.size === leaves.length, `${name}: distinct keys`);
  const lookup = (k) => leaves.find((l) => l.key.equals(k)) || null;
  const root = smtRoot(leaves);

  const proofs = proofKeys.map((k) => {
    const p = proveKey(leaves, k);
    const leaf = lookup(k);
    const value = leaf ? leaf.value : null;
    assert((p.kind === 'inclusion') === (leaf !== null), `${name}: kind matches presence`);
    assert(verifyProof(root, k, value, p.bytes), `${name}: proof for ${hex(k)} verifies`);
    // The opposite claim must fail, and so must a wrong value.
    if (leaf) {
      assert(!verifyProof(root, k, null, p.bytes), `${name}: inclusion proof does not prove absence`);
      assert(!verifyProof(root, k, H('wrong'), p.bytes), `${name}: wrong value rejected`);
    } else {
      assert(!verifyProof(root, k, H('wrong'), p.bytes), `${name}: absence proof does not prove presence`);
    }
    assertMutationsRejected(p.bytes, (b) => verifyProof(root, k, value, b), `${name} proof`);
    return { key: hex(k), present: leaf !== null, value: value ? hex(value) : null, kind: p.kind, proof: hex(p.bytes) };
  });

  const seenSets = new Set();
  const uniqueSets = multiSets.map(sortKeys).filter((Q) => {
    const id = Q.map(hex).join();
    if (seenSets.has(id)) return false;
    seenSets.add(id);
    return true;
  });
  const multiproofs = uniqueSets.map((Q) => {
    const proof = proveMulti(leaves, Q);
    const res = verifyMulti(root, Q, proof);
    assert(res !== null, `${name}: multiproof verifies`);
    const present = Q.map((q) => lookup(q) !== null);
    const values = Q.map((q) => { const l = lookup(q); return l ? hex(l.value) : null; });
    Q.forEach((q, i) => {
      const got = res.get(hex(q));
      assert(got !== undefined, `${name}: multiproof decides every key`);
      assert((got === null ? null : hex(got)) === values[i], `${name}: multiproof learns the right value`);
    });
    if (proof.length <= 2048) assertMutationsRejected(proof, (b) => verifyMulti(root, Q, b) !== null, `${name} multiproof`);
    // A multiproof for one key must agree with the single-key proof's verdict.
    if (Q.length === 1) {
      const p = proveKey(leaves, Q[0]);
      assert(verifyProof(root, Q[0], lookup(Q[0])?.value ?? null, p.bytes), `${name}: single/multi agree`);
    }
    return { keys: Q.map(hex), present, values, proof: hex(proof) };
  });

  return { name, leaves: leaves.map((l) => ({ key: hex(l.key), value: hex(l.value) })), root: hex(root), proofs, multiproofs };
}

/**
 * Picks absent keys for a tree: hashes H("vmdb-absent-" + j) classified by
 * the kind of their proof, up to `per` of each absent kind, plus extras.
 */
function absentKeys(leaves, per = 2, extras = []) {
  const byKind = { absent_empty: [], absent_leaf: [] };
  for (const k of extras) {
    assert(!leaves.some((l) => l.key.equals(k)), 'extra absent key is absent');
    byKind[proveKey(leaves, k).kind].push(k);
  }
  const hashed = { absent_empty: 0, absent_leaf: 0 };
  for (let j = 0; j < 400; j++) {
    const k = H(`vmdb-absent-${j}`);
    const kind = proveKey(leaves, k).kind;
    if (hashed[kind] < per) { hashed[kind]++; byKind[kind].push(k); }
  }
  return byKind;
}

function genTrees() {
  const trees = [];

  // Trees of row keys of table "t".
  for (const n of [0, 1, 2, 3, 100]) {
    const leaves = rowsTree(n);
    const abs = absentKeys(leaves);
    if (n === 0) assert(abs.absent_leaf.length === 0 && abs.absent_empty.length > 0, 'empty tree: absent_empty only');
    if (n === 1) assert(abs.absent_empty.length === 0 && abs.absent_leaf.length > 0, 'one leaf: absent_leaf only');
    if (n >= 2) assert(abs.absent_empty.length > 0 && abs.absent_leaf.length > 0, `${n} leaves: both absent kinds`);
    const present = n === 100 ? [0, 1, 2, 3, 17, 42, 63, 77, 98, 99].map((i) => leaves[i].key) : leaves.map((l) => l.key);
    const absent = [...abs.absent_empty, ...abs.absent_leaf];
    const proofKeys = [...present, ...absent];
    let sets;
    if (n === 0) sets = [absent.slice(0, 2)];
    else if (n === 100) {
      const more = absentKeys(leaves, 3);
      const five = [...more.absent_empty.slice(0, 3), ...more.absent_leaf.slice(0, 2)];
      sets = [
        [...present, ...five],                 // 10 present + 5 absent
        leaves.map((l) => l.key),              // all 100
        [present[4]],                          // one present
        [abs.absent_empty[0]],                 // one absent (empty)
        [abs.absent_leaf[0], present[0]],      // absent_leaf + present
      ];
      assert(sortKeys(sets[0]).length === 15, '10 + 5 keys');
    } else {
      sets = [
        [present[0]],
        [absent[0]],
        [abs.absent_leaf[0]],
        [...present],
        [...present, ...absent],
      ];
      if (n >= 2) sets.push([present[n - 1], abs.absent_empty[0]]);
    }
    trees.push(treeVector(`rows_${n}`, leaves, proofKeys, sets));
  }

  // Crafted: 00..00 and 00..01 differ only at bit 255 (leaves at depth 256), plus ff..ff.
  {
    const keys = [rawKey('00'), rawKey('01'), unhex('ff'.repeat(32))];
    const leaves = keys.map((key, i) => ({ key, value: H(`deep value ${i}`) }));
    const p0 = proveKey(leaves, keys[0]);
    assert(p0.kind === 'inclusion' && p0.L === 256, 'deep leaves sit at depth 256');
    const extras = [
      rawKey('02'),                        // same path down to bit 254 -> absent_empty at L = 255
      unhex('80' + '00'.repeat(31)),       // bit 0 = 1: shares the right subtree with ff..ff -> absent_leaf at L = 1
      unhex('7f' + 'ff'.repeat(31)),       // absent_empty at L = 2
      unhex('ff'.repeat(31) + 'fe'),       // absent_leaf at L = 1
      rawKey('8000'),                      // absent_empty deep (L = 241)
    ];
    const abs = absentKeys(leaves, 1, extras);
    const expectL = [255, 1, 2, 1, 241];
    extras.forEach((k, i) => assert(proveKey(leaves, k).L === expectL[i], `deep tree: extra absent key ${i} depth`));
    const absent = [...abs.absent_empty, ...abs.absent_leaf];
    trees.push(treeVector('deep_256', leaves, [...keys, ...absent], [
      [keys[0], keys[1]],
      [keys[0]],
      [keys[1], rawKey('02')],
      [rawKey('02'), rawKey('8000')],
      [...keys, ...extras],
      [unhex('80' + '00'.repeat(31)), keys[2]],
    ]));
  }

  // Crafted: 16 keys sharing a 40-bit prefix; some pairs share much more.
  {
    const next = splitmix64(0x70726566); // "pref"
    const prefix = unhex('3ca50ff096');
    const keys = [];
    for (let i = 0; i < 16; i++) keys.push(Buffer.concat([prefix, randomBytes(next, 27)]));
    keys[13] = Buffer.from(keys[12]); keys[13][12] ^= 0x08;    // differs from key 12 first at bit 100
    keys[15] = Buffer.from(keys[14]); keys[15][31] ^= 0x01;    // differs from key 14 only at bit 255
    const leaves = keys.map((key, i) => ({ key, value: H(`prefix value ${i}`) }));
    const flip = (k, bit) => { const c = Buffer.from(k); c[bit >> 3] ^= 0x80 >> (bit & 7); return c; };
    const extras = [
      flip(keys[0], 0),       // leaves the shared prefix at bit 0  -> absent_empty at L = 1
      flip(keys[0], 20),      // leaves it at bit 20                -> absent_empty at L = 21
      flip(keys[0], 39),      // leaves it at bit 39                -> absent_empty at L = 40
      flip(keys[12], 101),    // next to keys 12/13 below bit 100    -> absent_empty or absent_leaf deep
      flip(keys[14], 200),    // inside the 14/15 pair's long common path
    ];
    const abs = absentKeys(leaves, 1, extras);
    [1, 21, 40].forEach((L, i) => {
      const p = proveKey(leaves, extras[i]);
      assert(p.kind === 'absent_empty' && p.L === L, `prefix tree: extra ${i} at depth ${L}`);
    });
    // Absent keys with the shared prefix (random rest).
    const inPrefix = Array.from({ length: 4 }, () => Buffer.concat([prefix, randomBytes(next, 27)]));
    const absent = [...abs.absent_empty, ...abs.absent_leaf, ...inPrefix];
    trees.push(treeVector('prefix_40', leaves, [...keys, ...absent], [
      [...keys],
      [keys[12], keys[13], keys[14], keys[15]],
      [keys[3], ...inPrefix],
      [...extras],
      [...keys, ...absent],
      [extras[0], extras[1]],
    ]));
  }

  return trees;
}

// ---------------------------------------------------------------------------
// Vector generation: headers and history
// ---------------------------------------------------------------------------

function genHeaders() {
  const seed = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  const { priv, pub } = ed25519FromSeed(seed);
  const smtRoots = [smtRoot(rowsTree(1)), smtRoot(rowsTree(2)), smtRoot(rowsTree(3))];
  const headers = [];
  const hashes = [];
  for (let seq = 0; seq < 3; seq++) {
    const h = {
      seq,
      smt_root: smtRoots[seq],
      prev: seq === 0 ? Z : hashes[seq - 1],
      history_root: mth(hashes.slice(0, seq)), // MTH over header hashes 0..seq-1 (H("") for seq 0)
      time_ms: 1767225600000 + seq,
      schema_hash: H('schema'),
    };
    const encoded = encodeHeader(h);
    const hh = headerHash(encoded);
    const sig = sign(null, hh, priv);
    assert(sig.length === 64, 'Ed25519 signatures are 64 bytes');
    assert(ed25519Verify(pub, hh, sig), 'header signature verifies');
    const bad = Buffer.from(hh); bad[0] ^= 1;
    assert(!ed25519Verify(pub, bad, sig), 'signature bound to the header hash');
    hashes.push(hh);
    headers.push({
      seq, smt_root: hex(h.smt_root), prev: hex(h.prev), history_root: hex(h.history_root),
      time_ms: h.time_ms, schema_hash: hex(h.schema_hash), encoded: hex(encoded), header_hash: hex(hh),
      secret_seed: hex(seed), public_key: hex(pub), sig: hex(sig),
    });
  }
  // The chain links: each header's history root includes every earlier header.
  for (let seq = 1; seq < 3; seq++) {
    const size = seq;
    for (let i = 0; i < size; i++) {
      const path = inclusionPath(i, hashes.slice(0, size));
      assert(verifyInclusion(hashes[i], i, size, unhex(headers[seq].history_root), path), 'header ancestry proof');
    }
  }
  return headers;
}

function genHistory() {
  const out = [];
  for (const n of [0, 1, 2, 3, 5, 7, 8, 13]) {
    const D = Array.from({ length: n }, (_, i) => H(String(i)));
    const roots = Array.from({ length: n + 1 }, (_, m) => mth(D.slice(0, m)));
    const inclusion = [];
    // Every index at every size 1..n (which includes the full size).
    for (let size = n; size >= 1; size--) {
      for (let index = 0; index < size; index++) {
        const path = inclusionPath(index, D.slice(0, size));
        assert(verifyInclusion(D[index], index, size, roots[size], path), `history inclusion ${index}/${size}`);
        if (size > 1) assert(!verifyInclusion(H('other'), index, size, roots[size], path), 'wrong leaf rejected');
        if (index + 1 < size) assert(!verifyInclusion(D[index], index + 1, size, roots[size], path), 'wrong index rejected');
        inclusion.push({ index, size, root: hex(roots[size]), path: path.map(hex) });
      }
    }
    const consistency = [];
    for (let m = 1; m <= n; m++) {
      for (let k = m; k <= n; k++) {
        const proof = consistencyProof(m, D.slice(0, k));
        assert(verifyConsistency(m, k, roots[m], roots[k], proof), `history consistency ${m}->${k}`);
        if (m < k) {
          assert(!verifyConsistency(m, k, H('x'), roots[k], proof), 'wrong old root rejected');
          assert(!verifyConsistency(m, k, roots[m], H('x'), proof), 'wrong new root rejected');
          assert(!verifyConsistency(m, k, roots[m], roots[k], proof.slice(1)), 'truncated proof rejected');
        }
        consistency.push({ old: m, new: k, old_root: hex(roots[m]), new_root: hex(roots[k]), proof: proof.map(hex) });
      }
    }
    out.push({ leaves: D.map(hex), root: hex(roots[n]), inclusion, consistency });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Protocol v2 vectors (docs/vectors/v2.json)
// ---------------------------------------------------------------------------

const KEY_SEED = Buffer.from(Array.from({ length: 32 }, (_, i) => i));        // the identity (as in v1.json)
const OTHER_SEED = Buffer.from(Array.from({ length: 32 }, (_, i) => 32 + i)); // another deployment's key
const T0 = 1767225600000; // 2026-01-01T00:00:00Z

/** Signs a v2 header (fields with Buffers): header, intent and the wrong kinds of signature. */
function signV2(h, priv) {
  const enc = V.encodeHeaderV2(h);
  const hh = V.headerHashV2(enc);
  return { enc, hh, sig: sign(null, V.committedMessage(hh), priv), intent: sign(null, V.intentMessage(hh), priv),
    bare: sign(null, hh, priv) };
}

/** One entry of the "headers" list: fields, encoding, hash, both signatures, JSON form; all checked. */
function headerVector(h, key, chainId) {
  const s = signV2(h, key.priv);
  const json = V.headerJson(h, s.sig);
  const pubHex = hex(key.pub);
  assert(V.verifyHeader(json, pubHex, { chainId: hex(chainId) }).ok, `v2 header ${h.seq} verifies`);
  assert(V.verifyIntent(json, hex(s.intent), pubHex).ok, `v2 intent ${h.seq} verifies`);
  assert(!V.verifyIntent(json, hex(s.sig), pubHex).ok, 'a header signature is no intent signature');
  return {
    version: 2, seq: h.seq, kind: V.HEADER_KINDS[h.kind], kind_code: h.kind, chain_id: hex(h.chain_id),
    smt_root: hex(h.smt_root), prev: hex(h.prev), history_root: hex(h.history_root), time_ms: h.time_ms,
    schema_hash: hex(h.schema_hash), encoded: hex(s.enc), header_hash: hex(s.hh),
    committed_message: hex(V.committedMessage(s.hh)), sig: hex(s.sig),
    intent_message: hex(V.intentMessage(s.hh)), intent_sig: hex(s.intent), json,
  };
}

/** Rows of table "users" (serial key "id"). */
const userRow = (i) => ({ id: i, name: `user ${i}`, score: i / 4, tags: i % 3 ? ['a'] : [], note: i % 4 ? null : 'x\u00e9' });
const userLeaf = (i) => ({ key: rowKey('users', String(i)), value: V.rowValueOf(userRow(i)) });
const rangeLeaf = (table, lo, hi) => ({ key: V.rangeKey(table), value: V.rangeValue(lo, hi) });

/** The example database: users ids, plus two rows of another table "notes" (uuid keys) to make the tree less trivial. */
function dbLeaves(ids, range) {
  const notes = ['6f1c1f2e-6c1a-4a8e-9b1e-0d6c2f1e3a4b', 'a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d'].map((u, i) => ({
    key: rowKey('notes', u), value: rowValue(JSON.stringify({ id: u, body: `note ${i}` })),
  }));
  const leaves = [...ids.map(userLeaf), ...notes];
  if (range) leaves.push(rangeLeaf('users', ...range));
  return leaves;
}

/** The main chain: kinds genesis, reset, write, write (delete), repair, migrate, clear. */
function buildChain(key, nonce) {
  const chainId = V.chainIdFromNonce(key.pub, nonce);
  const all = Array.from({ length: 12 }, (_, i) => i + 1);
  const after = all.filter((i) => i !== 9 && i !== 10);
  const S = { empty: [], full: dbLeaves(all, ['1', '12']), deleted: dbLeaves(after, ['1', '12']) };
  const plan = [
    ['genesis', S.empty, 'schema v1'], ['reset', S.empty, 'schema v2'], ['write', S.full, 'schema v2'],
    ['write', S.deleted, 'schema v2'], ['repair', S.deleted, 'schema v2'], ['migrate', S.deleted, 'schema v3'],
    ['clear', S.empty, 'schema v3'],
  ];
  const hashes = [], fields = [], vecs = [], sigs = [];
  plan.forEach(([kind, leaves, schema], seq) => {
    const h = { version: 2, seq, kind: V.HEADER_KINDS.indexOf(kind), chain_id: chainId, smt_root: smtRoot(leaves),
      prev: seq ? hashes[seq - 1] : Z, history_root: mth(hashes), time_ms: T0 + 1000 * seq, schema_hash: H(schema) };
    const v = headerVector(h, key, chainId);
    hashes.push(unhex(v.header_hash));
    fields.push(h); vecs.push(v); sigs.push(signV2(h, key.priv));
  });
  return { chainId, hashes, fields, vecs, sigs, S };
}

/** v1 headers 0..2, then the upgrade header (seq 3) and a v2 write (seq 4). */
function buildUpgrade(key) {
  const hashes = [], v1 = [];
  for (let seq = 0; seq < 3; seq++) {
    const h = { version: 1, seq, smt_root: smtRoot(dbLeaves(Array.from({ length: seq }, (_, i) => i + 1))),
      prev: seq ? hashes[seq - 1] : Z, history_root: mth(hashes), time_ms: T0 - 10000 + seq, schema_hash: H('schema v1') };
    const enc = V.encodeHeaderV1(h);
    const hh = V.headerHashV1(enc);
    const sig = sign(null, hh, key.priv);
    const json = V.headerJson(h, sig);
    assert(V.verifyHeader(json, hex(key.pub), { allowV1: true }).ok, 'v1 header verifies with allowV1');
    assert(!V.verifyHeader(json, hex(key.pub)).ok, 'v1 header refused where v2 is required');
    v1.push({ seq, encoded: hex(enc), header_hash: hex(hh), sig: hex(sig), json });
    hashes.push(hh);
  }
  const chainId = V.chainIdFromV1(key.pub, hashes[0]);
  const v2 = [];
  // The upgrade rehashes rows under the v2 mapping: the root changes (here: the range leaf appears).
  const roots = [smtRoot([...dbLeaves([1, 2]), rangeLeaf('users', '1', '2')]),
    smtRoot([...dbLeaves([1, 2, 3]), rangeLeaf('users', '1', '3')])];
  ['upgrade', 'write'].forEach((kind, i) => {
    const seq = 3 + i;
    const h = { version: 2, seq, kind: V.HEADER_KINDS.indexOf(kind), chain_id: chainId, smt_root: roots[i],
      prev: hashes[seq - 1], history_root: mth(hashes), time_ms: T0 + i, schema_hash: H('schema v1') };
    const v = headerVector(h, key, chainId);
    v2.push(v);
    hashes.push(unhex(v.header_hash));
  });
  const historyRoots = Array.from({ length: hashes.length + 1 }, (_, n) => ({ size: n, root: hex(mth(hashes.slice(0, n))) }));
  // The upgrade header's prev is the last v1 hash and its history holds all v1 hashes.
  assert(v2[0].prev === v1[2].header_hash && v2[0].history_root === historyRoots[3].root, 'upgrade links to v1');
  const proofs = [[1, 4], [0, 3], [2, 4]].map(([a, b]) => historyProof(a < 3 ? v1[a].json : v2[a - 3].json,
    b < 3 ? v1[b].json : v2[b - 3].json, hashes, a, b));
  for (const p of proofs) assert(V.verifyHistoryProof(p, hex(key.pub), { chainId: hex(chainId) }).ok, 'mixed history proof verifies');
  return { chain_id: hex(chainId), v1_headers: v1, v2_headers: v2, leaves: hashes.map(hex), history_roots: historyRoots,
    history_proofs: proofs, hashes };
}

function historyProof(fromJson, toJson, hashes, a, b) {
  return { from: fromJson, to: toJson, inclusion: a === b ? [] : inclusionPath(a, hashes.slice(0, b)).map(hex),
    consistency: a === 0 || a === b ? [] : consistencyProof(a, hashes.slice(0, b)).map(hex) };
}

/** Length of the common bit prefix of two keys. */
function commonBits(a, b) { let i = 0; while (i < 256 && bitAt(a, i) === bitAt(b, i)) i++; return i; }

/** Insert/update/delete sequences with the root after each step (naive root of the current set). */
function genTreeSequences() {
  const seqs = [];
  const run = (name, ops, note) => {
    const cur = new Map();
    const steps = ops.map(([op, id, ver]) => {
      const key = rowKey('seq', String(id));
      const value = rowValue(JSON.stringify({ id, v: ver ?? 0 }));
      if (op === 'insert') { assert(!cur.has(hex(key)), 'insert of a new key'); cur.set(hex(key), { key, value }); }
      else if (op === 'update') { assert(cur.has(hex(key)), 'update of a key'); cur.set(hex(key), { key, value }); }
      else { assert(cur.has(hex(key)), 'delete of a key'); cur.delete(hex(key)); }
      const leaves = [...cur.values()];
      const root = smtRoot(leaves);
      const step = { op, id: String(id), key: hex(key), ...(op === 'delete' ? {} : { value: hex(value) }), root: hex(root), size: leaves.length };
      // The proof of the key just touched verifies against the new root.
      const p = proveKey(leaves, key);
      assert(verifyProof(root, key, op === 'delete' ? null : value, p.bytes), `${name}: proof after ${op}`);
      step.depth = p.L;
      return step;
    });
    assert(steps[steps.length - 1].root === hex(Z) && steps[steps.length - 1].size === 0, `${name}: ends at the empty tree`);
    seqs.push({ name, table: 'seq', note, steps });
  };
  // Find two row keys of table "seq" sharing a long prefix: sort 4096 keys, best adjacent pair.
  const cands = Array.from({ length: 4096 }, (_, i) => ({ id: i, key: rowKey('seq', String(i)) })).sort((a, b) => Buffer.compare(a.key, b.key));
  let best = null;
  for (let i = 1; i < cands.length; i++) {
    const c = commonBits(cands[i - 1].key, cands[i].key);
    if (!best || c > best.c) best = { a: cands[i - 1].id, b: cands[i].id, c };
  }
  assert(best.c >= 16, 'a pair sharing at least 16 bits');
  // Three shallow keys that share no long prefix with the pair.
  const shallow = [];
  for (let i = 5000; shallow.length < 3; i++) {
    const k = rowKey('seq', String(i));
    if (commonBits(k, rowKey('seq', String(best.a))) < 4) shallow.push(i);
  }
  const [s1, s2, s3] = shallow;
  const { a, b } = best;
  run('collapse_deep_pair', [
    ['insert', s1], ['insert', a], ['insert', s2], ['insert', b], ['update', a, 1], ['insert', s3],
    ['delete', b], ['update', a, 2], ['insert', b, 3], ['delete', a], ['delete', s1], ['delete', s2], ['delete', s3], ['delete', b],
  ], `ids ${a} and ${b} share their first ${best.c} bits: inserting ${b} pushes ${a}'s leaf down to depth ${best.c + 1}; deleting ${b} collapses ${a} back to a shallow leaf (the one-leaf rule), and deleting ${a} later collapses ${b}`);
  {
    const steps = seqs[0].steps;
    assert(steps[3].depth === best.c + 1, 'the pair sits below its common prefix');
    assert(steps[6].root === hex(smtRoot([s1, a, s2, s3].map((i) => ({ key: rowKey('seq', String(i)), value: rowValue(JSON.stringify({ id: i, v: i === a ? 1 : 0 })) })))), 'collapsed root = root of the set');
  }
  // 24 rows inserted, a few updated, all deleted in a shuffled order.
  const next = splitmix64(0x73657173); // "seqs"
  const ids = Array.from({ length: 24 }, (_, i) => 100 + i);
  const ops = ids.map((i) => ['insert', i]);
  for (const i of [100, 107, 123]) ops.push(['update', i, 1]);
  const order = [...ids];
  for (let i = order.length - 1; i > 0; i--) { const j = Number(next() % BigInt(i + 1)); [order[i], order[j]] = [order[j], order[i]]; }
  for (const i of order) ops.push(['delete', i]);
  run('insert_update_delete_24', ops, 'every delete restores the root of the remaining set');
  return seqs;
}

function genIdRange() {
  const cases = [['users', '1', '12'], ['users', '1', '1'], ['orders', '7', '9223372036854775807'], ['t', '-5', '0'], ['a_b', '10', '2']];
  return cases.map(([table, lo, hi]) => ({ table, lo, hi, range_key: hex(V.rangeKey(table)), range_value: hex(V.rangeValue(lo, hi)) }));
}

/**
 * §2.2 for a json/jsonb column: the JSON a column whose PostgreSQL text is
 * `text` travels as. The value itself when §2.1 accepts the text, it nests at
 * most 127 levels (it sits one level inside the row) and it is not an object
 * whose only member is `$jsonb`; else {"$jsonb": text}.
 */
function jsonColumn(text) {
  const depth = (v) => (Array.isArray(v) ? 1 + Math.max(0, ...v.map(depth))
    : v instanceof V.JObject ? 1 + Math.max(0, ...v.members.map(([, x]) => depth(x))) : 0);
  let v;
  try { v = V.parseJson(text); } catch { v = undefined; }
  const unsafe = v === undefined || depth(v) > 127 ||
    (v instanceof V.JObject && v.members.length === 1 && v.members[0][0] === '$jsonb');
  return unsafe ? { json: `{"$jsonb":${V.stringToJcs(text)}}`, wrapped: true } : { json: V.serialiseJcs(v), wrapped: false };
}

/**
 * §2.2 rows: each column's PostgreSQL type and value (a SQL literal), the
 * JSON it travels as, the row as vmdb hashes it, its JCS and value. For
 * json/jsonb columns also `json_columns`: the column's PostgreSQL text and
 * whether it travels wrapped in {"$jsonb": text}. (The texts are PostgreSQL
 * 15's with the session settings of §2.2.)
 */
function genRowValuesV2() {
  const c = (name, type, sql, json) => ({ name, type, sql, json });
  const j = (name, type, text) => ({ name, type, sql: `'${text.replace(/'/g, "''")}'::${type}`, text });
  const cases = [
    ['real_float4_max', 'real is PostgreSQL\'s shortest float4 text: 3.4028235e+38, not the widened double 3.4028234663852886e+38',
      [c('id', 'integer', '1', '1'), c('r', 'real', "'3.4028235e+38'::real", '3.4028235e+38'), c('s', 'real', "'1e-45'::real", '1e-45'),
        c('t', 'real', "'-0.1'::real", '-0.1'), c('u', 'real', "'NaN'::real", '"NaN"'), c('v', 'double precision', "'-Infinity'::float8", '"-Infinity"')]],
    ['bytea', 'bytea as \\x and lower-case hex; the empty value is "\\x"',
      [c('id', 'integer', '2', '2'), c('b', 'bytea', "'\\xDEADBEEF'::bytea", '"\\\\xdeadbeef"'), c('e', 'bytea', "''::bytea", '"\\\\x"')]],
    ['interval', 'intervals in the postgres IntervalStyle',
      [c('id', 'integer', '3', '3'), c('i', 'interval', "'1 year 2 mons 3 days 04:05:06.5'::interval", '"1 year 2 mons 3 days 04:05:06.5"'),
        c('j', 'interval', "'-1 days +02:00:00'::interval", '"-1 days +02:00:00"'), c('k', 'interval', "'0'::interval", '"00:00:00"')]],
    ['date_time', 'dates (infinity included), times, timestamps',
      [c('id', 'integer', '4', '4'), c('d', 'date', "'infinity'::date", '"infinity"'), c('dn', 'date', "'-infinity'::date", '"-infinity"'),
        c('d2', 'date', "'2024-01-02'::date", '"2024-01-02"'), c('tm', 'time', "'03:04:05.5'::time", '"03:04:05.5"'),
        c('tm2', 'time', "'24:00:00'::time", '"24:00:00"'), c('tz', 'timetz', "'03:04:05.123+02:30'::timetz", '"03:04:05.123+02:30"'),
        c('ts', 'timestamp', "'2024-01-02 03:04:05'::timestamp", '"2024-01-02T03:04:05"'), c('tsi', 'timestamp', "'infinity'::timestamp", '"infinity"'),
        c('tstz', 'timestamptz', "'2024-01-02 03:04:05.123456+00'::timestamptz", '"2024-01-02T03:04:05.123456+00:00"')]],
    ['arrays', 'numeric[] and bigint[] elements are strings (scale kept); other arrays nest; lower bounds are dropped',
      [c('id', 'bigint', "'9223372036854775807'::bigint", '"9223372036854775807"'),
        c('na', 'numeric[]', "'{1.50,2,NULL}'::numeric[]", '["1.50","2",null]'), c('ba', 'bigint[]', "'{9223372036854775807,-1}'::bigint[]", '["9223372036854775807","-1"]'),
        c('ia', 'integer[]', "'{{1,2},{3,4}}'::int[]", '[[1,2],[3,4]]'), c('lb', 'integer[]', "'[0:1]={1,2}'::int[]", '[1,2]'),
        c('ea', 'numeric[]', "'{}'::numeric[]", '[]'), c('n', 'numeric', "'123.4500'::numeric", '"123.4500"')]],
  ];
  const jsonCases = [
    ['jsonb_big_integer', 'a jsonb integer above 2^53 fails the round-trip rule: the column travels wrapped, as its jsonb text',
      [j('doc', 'jsonb', '{"n": 9007199254740993}'), j('ok', 'jsonb', '[9007199254740992, 1.50, 100]')]],
    ['jsonb_wrapper_top_level', 'a jsonb value that is itself an object with the one member $jsonb travels wrapped',
      [j('doc', 'jsonb', '{"$jsonb": "x"}')]],
    ['jsonb_wrapper_nested', 'nested deeper, {"$jsonb": ...} is an ordinary value; 1.50 passes the round-trip rule and is written 1.5',
      [j('doc', 'jsonb', '{"a": {"$jsonb": "x"}, "m": 1.50}')]],
    ['json_duplicate_names', 'json (not jsonb) keeps duplicate member names: unsafe, wrapped as the stored text; a safe json value loses its whitespace and member order',
      [j('doc', 'json', '{"a": 1, "a": 2}'), j('other', 'json', '{"b":1, "a" : [true,null]}')]],
    ['jsonb_depth_128', '128 nested arrays: within §2.1 alone, one level too deep inside the row',
      [j('doc', 'jsonb', '['.repeat(128) + ']'.repeat(128)), j('d127', 'jsonb', '['.repeat(127) + ']'.repeat(127))]],
  ];
  const out = [];
  const add = (name, note, cols, jsonCols) => {
    const row = `{${cols.map((x) => `${V.stringToJcs(x.name)}:${x.json}`).join(',')}}`;
    const e = { name, note, columns: cols, row, jcs: jcs(row), value: hex(rowValue(row)) };
    if (jsonCols) e.json_columns = jsonCols;
    assert(V.hex(V.rowValueOf(JSON.parse(row))) === e.value, `${name}: hashes as parsed`);
    out.push(e);
  };
  for (const [name, note, cols] of cases) add(name, note, cols);
  for (const [name, note, cols] of jsonCases) {
    const jc = cols.map((x) => ({ name: x.name, type: x.type, text: x.text, ...jsonColumn(x.text) }));
    add(name, note, [c('id', 'integer', '1', '1'), ...jc.map((x) => c(x.name, x.type, cols.find((y) => y.name === x.name).sql, x.json))], jc);
  }
  const w = Object.fromEntries(out.filter((e) => e.json_columns).flatMap((e) => e.json_columns.map((x) => [`${e.name}.${x.name}`, x.wrapped])));
  assert(w['jsonb_big_integer.doc'] && !w['jsonb_big_integer.ok'] && w['jsonb_wrapper_top_level.doc'] && !w['jsonb_wrapper_nested.doc'] &&
    w['json_duplicate_names.doc'] && !w['json_duplicate_names.other'] && w['jsonb_depth_128.doc'] && !w['jsonb_depth_128.d127'], 'the wrapper cases wrap as §2.2 says');
  assert(out[0].jcs.includes('"r":3.4028235e+38'), 'float4 max travels float4-shortest');
  return out;
}

/**
 * §14.2 transition records: key and value of records of each kind (a
 * non-ASCII table name and a large seq among them), and one answer of
 * GET /api/roots/{seq}/transition: a repair header whose tree holds the rows
 * and the record's leaf, with the record's §4 proof.
 */
function genTransitions(chain, key) {
  const tKey = (seq) => H('vmdb/v2/transition-key', u8(0), u64(seq));
  const tValue = (text) => H('vmdb/v2/transition', u8(0), text);
  const k2 = hex(rowKey('users', '2')), k9 = hex(rowKey('users', '9'));
  const repair = {
    changes: [{ change: 'changed', id: '2', key: k2, new: hex(H('new 2')), old: hex(H('old 2')), table: 'users' },
      { change: 'removed', id: null, key: k9, new: null, old: hex(H('old 9')), table: null }]
      .sort((a, b) => (a.key < b.key ? -1 : 1)),
    count: 2, diff_root: hex(H('a diff root')), kind: 'repair', leaves_after: 13, leaves_before: 13, listed: 2,
    old_root: hex(H('an old root')), seq: 4,
  };
  const cases = [
    repair,
    { kind: 'reset', leaves_after: 1, leaves_before: 0, old_root: hex(Z), seq: 1, tables: ['notes', 'users'] },
    { kind: 'migrate', leaves_after: 15, leaves_before: 14, migrations: ['1_add.sql', '2_caf\u00e9.sql'], old_root: hex(H('r')), seq: 5,
      tables: ['notes', 'users', '\u00fcber'] },
    { kind: 'clear', leaves_after: 3, leaves_before: 40, old_root: hex(H('s')), seq: 2 ** 40 + 7, tables: [] },
  ];
  const records = cases.map((record) => {
    const text = jcs(JSON.stringify(record));
    assert(hex(V.transitionKey(record.seq)) === hex(tKey(record.seq)), 'transition key');
    assert(hex(V.transitionValue(record)) === hex(tValue(text)), 'transition value');
    return { seq: record.seq, record, record_jcs: text, transition_key: hex(tKey(record.seq)), transition_value: hex(tValue(text)) };
  });
  // The answer: header 4 (repair) of a tree with the rows and the record.
  const leaves = [...chain.S.deleted, { key: tKey(4), value: tValue(records[0].record_jcs) }];
  const h = { ...chain.fields[4], smt_root: smtRoot(leaves) };
  const hv = headerVector(h, key, chain.chainId);
  const answer = { header: hv.json, kind: 'repair', proof: proofJson(leaves, tKey(4)), record: repair };
  const r = V.verifyTransition(answer, hex(key.pub), { chainId: hex(chain.chainId) });
  assert(r.ok, `transition answer verifies: ${r.reason}`);
  assert(!V.verifyTransition({ ...answer, record: { ...repair, count: 3 } }, hex(key.pub)).ok, 'a changed record is rejected');
  return { records, answers: [answer] };
}

/** §4 JSON form of a proof built by proveKey. */
function proofJson(leaves, k) {
  const p = proveKey(leaves, k);
  const bitmap = Buffer.alloc(Math.ceil(p.L / 8));
  const sibs = [];
  for (let i = p.L - 1; i >= 0; i--) if (!p.siblings[i].equals(Z)) { bitmap[i >> 3] |= 0x80 >> (i & 7); sibs.push(hex(p.siblings[i])); }
  const j = { kind: p.kind, key: hex(k) };
  if (p.kind === 'inclusion') j.value = hex(p.leaf.value);
  Object.assign(j, { depth: p.L, bitmap: hex(bitmap), siblings: sibs });
  if (p.kind === 'absent_leaf') Object.assign(j, { other_key: hex(p.leaf.key), other_value: hex(p.leaf.value) });
  assert(V.proofFromJson(j).bytes.equals(p.bytes), 'JSON form carries the binary form');
  return j;
}

const multiJson = (leaves, keys) => { const Q = sortKeys(keys); return { keys: Q.map(hex), proof: hex(proveMulti(leaves, Q)) }; };

/** Builds the data object of an answer with its §9 proof. */
function answerData(kind, leaves, headerJsonObj, { records = [], missing = [], ids, absentIds, complete, meta }) {
  const present = records.map((r) => ({ id: String(r.id), key: hex(rowKey('users', String(r.id))), value: hex(V.rowValueOf(r)) }));
  const absent = absentIds.map((id) => ({ id, key: hex(rowKey('users', id)) }));
  const keys = [...present, ...absent].map((e) => unhex(e.key));
  if (complete) keys.push(V.rangeKey('users'));
  const proof = { header: headerJsonObj, table: 'users', primary_key: 'id', present, absent, multiproof: multiJson(leaves, keys) };
  if (complete) proof.complete = { ...complete, range_key: hex(V.rangeKey('users')) };
  const data = {};
  if (kind === 'delete-batch') { data.ids = ids; data.missing = missing; }
  else { data.ids = records.map((r) => String(r.id)); data.records = records; if (kind === 'read-batch') data.missing = missing; }
  data.verified = true;
  if (kind === 'read-latest') data.complete = !!complete;
  if (meta) data.meta = meta;
  data.proof = proof;
  return data;
}

function genAnswers(chain, key) {
  const pubHex = hex(key.pub);
  const chainId = hex(chain.chainId);
  const h3 = chain.vecs[3].json; // after the delete of users 9 and 10
  const leaves3 = chain.S.deleted;
  const rows = (ids) => ids.map(userRow);
  const out = [];
  const add = (name, kind, data, opts, note) => {
    const full = { chainId, ...opts };
    const r = V.verifyAnswer(data, kind, pubHex, full);
    assert(r.ok, `answer ${name}: ${r.reason}`);
    out.push({ name, kind, public_key: pubHex, chain_id: chainId, opts: opts ?? {}, note, data });
  };
  add('read_batch', 'read-batch', answerData('read-batch', leaves3, h3, {
    records: rows([5, 3]), missing: ['99', 'abc', '9'], absentIds: ['99', 'abc', '9'],
  }), { table: 'Users', ids: ['5', '3', '99', 'abc', '9'] }, 'ids 5, 3 found; 99 never existed, abc is no valid integer key, 9 was deleted');
  add('delete_batch', 'delete-batch', answerData('delete-batch', leaves3, h3, {
    ids: ['9', '10'], missing: ['100'], absentIds: ['9', '10', '100'],
    meta: { proposed_root: h3.smt_root, committed: false, seq: 3 },
  }), { table: 'users', ids: ['9', '10', '100'] }, 'header 3 is the header the delete committed under');
  add('read_latest_desc', 'read-latest', answerData('read-latest', leaves3, h3, {
    records: rows([12, 11, 8, 7, 6]), absentIds: ['10', '9'], complete: { order: 'desc', limit: 5, lo: '1', hi: '12' }, meta: { limit: 5 },
  }), { order: 'desc', limit: 5, requireComplete: true }, 'gap (6, 12] holds the deleted ids 9 and 10, proven absent');
  add('read_latest_asc_all', 'read-latest', answerData('read-latest', leaves3, h3, {
    records: rows([1, 2, 3, 4, 5, 6, 7, 8, 11, 12]), absentIds: ['9', '10'], complete: { order: 'asc', limit: 50, lo: '1', hi: '12' }, meta: { limit: 50 },
  }), { order: 'asc', limit: 50, requireComplete: true }, 'fewer rows than the limit: the gap is all of [lo, hi]');
  add('read_latest_asc_short', 'read-latest', answerData('read-latest', leaves3, h3, {
    records: rows([1, 2, 3]), absentIds: [], complete: { order: 'asc', limit: 3, lo: '1', hi: '12' }, meta: { limit: 3 },
  }), { requireComplete: true }, 'gap [1, 3) has no deleted id: no absent entries, only the range key besides the rows');
  add('read_latest_incomplete_flag', 'read-latest', answerData('read-latest', leaves3, h3, {
    records: rows([12, 11]), absentIds: [], meta: { limit: 2 },
  }), {}, 'no complete part (data.complete false): only the rows are proven');
  add('create_batch', 'create-batch', answerData('create-batch', chain.S.full, chain.vecs[2].json, {
    records: rows([11, 12]), absentIds: [],
  }), { table: 'users' }, 'rows as created, proven against the header the write committed under');
  add('upsert', 'upsert', answerData('upsert', chain.S.full, chain.vecs[2].json, {
    records: rows([4, 1]), absentIds: [],
  }), { table: 'users' }, 'rows as written (in the order of the request, not sorted), proven against the header the write committed under');
  return out;
}

/** A C2SP signed note of §11.2 over the first n header hashes. */
function checkpointNote(hashes, key, origin) {
  const root = mth(hashes);
  const text = `${origin}\n${hashes.length}\n${root.toString('base64')}\n`;
  const sig = sign(null, Buffer.from(text, 'utf8'), key.priv);
  const keyId = V.checkpointKeyId(origin, key.pub);
  return { origin, size: hashes.length, root: hex(root), key_id: hex(keyId), text, signature: hex(sig),
    note: `${text}\n\u2014 ${origin} ${Buffer.concat([keyId, sig]).toString('base64')}\n` };
}

function trustedStateFile(chain, key, withIntent) {
  const c = chain.sigs[5], i = chain.sigs[6];
  const digest = V.trustedStateDigest(c.enc, c.sig, withIntent ? i.enc : null, withIntent ? i.intent : null);
  const file = {
    version: 2, public_key: hex(key.pub),
    committed: { seq: 5, header: hex(c.enc), sig: hex(c.sig) },
    intent: withIntent ? { seq: 6, header: hex(i.enc), sig: hex(i.intent) } : null,
    file_sig: hex(sign(null, V.trustedStateMessage(digest), key.priv)),
  };
  assert(V.verifyTrustedState(file, hex(key.pub)).ok, 'trusted state verifies');
  return { file, digest: hex(digest), signed_message: hex(V.trustedStateMessage(digest)) };
}

const clone = (x) => JSON.parse(JSON.stringify(x));
const flipHex = (s, byte = s.length / 2 - 1, mask = 1) => { const b = unhex(s); b[byte] ^= mask; return hex(b); };

function genNegatives(ctx) {
  const { key, other, chain, answers, upgrade, cp, ts } = ctx;
  const pubHex = hex(key.pub), chainId = hex(chain.chainId);
  const out = [];
  const defaultRoot = hex(smtRoot(chain.S.deleted)); // the root of header 3
  const check = {
    header: (n) => V.verifyHeader(n.input, n.public_key, { chainId: n.chain_id, ...n.opts }),
    proof: (n) => V.verifyProofJson(n.root, n.input),
    multiproof: (n) => V.verifyMultiproofJson(n.root, n.input),
    answer: (n) => V.verifyAnswer(n.input, n.answer_kind, n.public_key, { chainId: n.chain_id, ...n.opts }),
    history: (n) => V.verifyHistoryProof(n.input, n.public_key, { chainId: n.chain_id, ...n.opts }),
    checkpoint: (n) => V.verifyCheckpoint(n.input, n.public_key, n.opts),
    trusted_state: (n) => V.verifyTrustedState(n.input, n.public_key),
  };
  /** Adds a negative vector; the verifier must reject it and say `expect` in its reason. */
  const neg = (name, type, input, reason, expect, extra = {}) => {
    const n = { name, type, ...extra, public_key: extra.public_key ?? pubHex, chain_id: 'chain_id' in extra ? extra.chain_id : chainId, input, reason };
    if (!n.opts) n.opts = {};
    if ((type === 'proof' || type === 'multiproof') && n.root === undefined) n.root = defaultRoot;
    const r = check[type](n);
    assert(!r.ok, `negative ${name} accepted`);
    assert(r.reason.includes(expect), `negative ${name}: rejected for "${r.reason}", expected "${expect}"`);
    n.js_reason = r.reason;
    out.push(n);
  };
  const resignV2 = (fields, k = key, how = 'sig') => { const s = signV2(fields, k.priv); return V.headerJson(fields, s[how === 'sig' ? 'sig' : how]); };
  const hf = chain.fields[3];
  const h3 = chain.vecs[3].json;

  // Headers.
  neg('header_field_changed', 'header', { ...h3, smt_root: chain.vecs[2].smt_root, header_hash: undefined },
    'smt_root changed after signing: the signature does not cover the recomputed header_hash', 'signature does not verify');
  neg('header_hash_mismatch', 'header', { ...h3, header_hash: chain.vecs[2].header_hash }, 'header_hash does not match the fields', 'header_hash does not match');
  neg('header_other_chain', 'header', resignV2({ ...hf, chain_id: H('another chain') }),
    'correctly signed by the identity, but of another chain_id than the pinned one (a restored copy or test instance)', 'not the pinned chain');
  neg('header_other_key', 'header', resignV2(hf, other), 'signed by another key', 'does not verify with the identity key');
  neg('header_intent_sig', 'header', resignV2(hf, key, 'intent'), 'the sig is the intent signature of the header: an intent is never a header signature', 'intent signature');
  neg('header_v1_style_sig', 'header', resignV2(hf, key, 'bare'), 'the sig is Ed25519 over the bare header_hash (v1 style), not over the committed message', 'v1-style');
  neg('header_kind_unknown', 'header', { ...h3, kind: 'delete' }, 'kind is not one of the seven names', 'unknown kind');
  neg('header_kind_code', 'header', { ...h3, kind: 1 }, 'kind must be the JSON name, not the code', 'unknown kind');
  neg('header_version_3', 'header', { ...h3, version: 3 }, 'unknown version', 'unknown version');
  neg('header_seq_string', 'header', { ...h3, seq: '3' }, 'seq must be a JSON number', 'header.seq');
  neg('header_short_chain_id', 'header', { ...h3, chain_id: h3.chain_id.slice(2) }, 'chain_id is not 32 bytes', 'header.chain_id');
  neg('header_v1_as_v2', 'header', upgrade.v1_headers[1].json, 'a v1 header where a v2 header is required', 'v1 header');
  neg('header_genesis_seq', 'header', resignV2({ ...hf, kind: 0 }), 'a genesis header with seq > 0 (signed, but not a header vmdb makes)', 'genesis with seq > 0');
  neg('header_seq0_not_genesis', 'header', resignV2({ ...chain.fields[0], kind: 1 }), 'header 0 must be the genesis', 'seq 0 is not a genesis');

  // Single proofs (§4 JSON form) against the root of header 3.
  const leaves = chain.S.deleted, root = hex(smtRoot(leaves));
  const pin = proofJson(leaves, rowKey('users', '5'));
  const pabsLeaf = (() => { for (let j = 0; ; j++) { const k = rowKey('users', `x${j}`); if (proveKey(leaves, k).kind === 'absent_leaf') return proofJson(leaves, k); } })();
  neg('proof_flipped_sibling', 'proof', { ...pin, siblings: [flipHex(pin.siblings[0]), ...pin.siblings.slice(1)] }, 'one bit of a sibling flipped', 'does not verify');
  neg('proof_flipped_value', 'proof', { ...pin, value: flipHex(pin.value, 0, 0x80) }, 'the value is not the one in the tree', 'does not verify');
  neg('proof_other_root', 'proof', pin, 'a valid proof, but for the root of another state', 'does not verify', { root: hex(smtRoot(chain.S.full)) });
  neg('proof_listed_zero_sibling', 'proof', (() => {
    // Non-minimal: a Z sibling listed (its bitmap bit set) instead of left out. Take the deepest empty one.
    let k = null;
    for (let j = 0; !k; j++) { const c = rowKey('users', `z${j}`); if (proveKey(leaves, c).siblings.some((s) => s.equals(Z))) k = c; }
    const p = proveKey(leaves, k), pj = proofJson(leaves, k);
    const i = p.siblings.findLastIndex((s) => s.equals(Z));
    const bm = unhex(pj.bitmap); bm[i >> 3] |= 0x80 >> (i & 7);
    const sibs = []; for (let d = p.L - 1; d >= 0; d--) if (!p.siblings[d].equals(Z) || d === i) sibs.push(hex(p.siblings[d]));
    return { ...pj, bitmap: hex(bm), siblings: sibs };
  })(), 'non-minimal: an empty sibling listed as Z instead of marked 0 in the bitmap', 'does not verify');
  neg('proof_bitmap_bit_beyond_depth', 'proof', (() => {
    assert(pin.depth % 8 !== 0, 'depth not a multiple of 8');
    const bm = unhex(pin.bitmap); bm[bm.length - 1] |= 1;
    return { ...pin, bitmap: hex(bm) };
  })(), 'non-minimal: a bitmap bit at a position >= depth is set', 'does not verify');
  neg('proof_absent_leaf_other_key_off_path', 'proof', { ...pabsLeaf, other_key: flipHex(pabsLeaf.other_key, 0, 0x80) },
    "absent_leaf whose k' leaves k's path in its first L bits", 'does not verify');
  neg('proof_absent_leaf_same_key', 'proof', { ...pabsLeaf, other_key: pabsLeaf.key }, "absent_leaf with k' = k", 'does not verify');
  neg('proof_inclusion_as_absent', 'proof', { ...pin, kind: 'absent_leaf', value: undefined, other_key: pin.key, other_value: pin.value },
    'an inclusion proof rewritten to claim absence', 'does not verify');

  // Multiproofs.
  const mKeys = [rowKey('users', '1'), rowKey('users', '9'), rowKey('users', '12')];
  const mp = multiJson(leaves, mKeys);
  neg('multiproof_flipped_bit', 'multiproof', { ...mp, proof: flipHex(mp.proof) }, 'one bit flipped in the last hash', 'does not verify', { root });
  neg('multiproof_keys_unsorted', 'multiproof', { ...mp, keys: [mp.keys[1], mp.keys[0], mp.keys[2]] }, 'key list not strictly ascending', 'not strictly ascending', { root });
  neg('multiproof_trailing_byte', 'multiproof', { ...mp, proof: mp.proof + '00' }, 'bytes after the root node', 'does not verify', { root });
  neg('multiproof_empty', 'multiproof', { keys: [], proof: '00' }, 'the empty key set has no multiproof', 'empty key list', { root: hex(Z) });
  {
    // Non-minimal: an empty untouched child sent as HASH(Z) instead of EMPTY.
    // Z hashes like EMPTY, so the root still matches: only the all-zero HASH rule rejects it.
    const two = [{ key: mKeys[0], value: H('only') }, { key: rowKey('users', '2'), value: H('two') }];
    const one = proveMulti(two, [mKeys[0]]);
    assert(one[one.length - 1] === 0x00, 'the last node is the EMPTY untouched child');
    const bad = Buffer.concat([one.subarray(0, one.length - 1), u8(0x03), Z]);
    assert(verifyMulti(smtRoot(two), [mKeys[0]], one) !== null, 'the minimal form verifies');
    neg('multiproof_hash_of_zero', 'multiproof', { keys: [hex(mKeys[0])], proof: hex(bad) },
      'non-minimal: an empty untouched child encoded as HASH of Z instead of EMPTY', 'does not verify', { root: hex(smtRoot(two)) });
  }

  // Answers.
  const A = Object.fromEntries(answers.map((a) => [a.name, a]));
  const negA = (name, base, mutate, reason, expect, opts) => {
    const d = clone(base.data);
    mutate(d);
    neg(name, 'answer', d, reason, expect, { answer_kind: base.kind, opts: opts ?? base.opts });
  };
  const rebuild = (d, lv = leaves) => { // multiproof over the keys the (mutated) bundle lists
    const keys = [...d.proof.present, ...d.proof.absent].map((e) => unhex(e.key));
    if (d.proof.complete) keys.push(unhex(d.proof.complete.range_key));
    d.proof.multiproof = multiJson(lv, keys);
  };
  negA('answer_flipped_multiproof_bit', A.read_batch, (d) => { d.proof.multiproof.proof = flipHex(d.proof.multiproof.proof); }, 'one bit flipped in the multiproof', 'multiproof: does not verify');
  negA('answer_swapped_rows', A.read_batch, (d) => { d.records.reverse(); }, 'records swapped: present[i] no longer describes records[i]', 'is not the value of data.records[0]');
  negA('answer_edited_row', A.read_batch, (d) => { d.records[0].name = 'mallory'; }, 'a returned row differs from its leaf', 'is not the value of data.records[0]');
  negA('answer_proof_for_other_root', A.read_batch, (d) => rebuild(d, chain.S.full), 'the multiproof is for another state (before the delete), not header.smt_root', 'multiproof: does not verify');
  negA('answer_header_other_chain', A.read_batch, (d) => { d.proof.header = resignV2({ ...hf, chain_id: H('another chain') }); },
    'the header is of another chain_id than the pinned one', 'not the pinned chain');
  negA('answer_header_other_key', A.read_batch, (d) => { d.proof.header = resignV2(hf, other); }, 'the header is signed by another key', 'does not verify with the identity key');
  negA('answer_header_intent_sig', A.read_batch, (d) => { d.proof.header = resignV2(hf, key, 'intent'); }, 'the header carries its intent signature', 'intent signature');
  negA('answer_header_v1_style_sig', A.read_batch, (d) => { d.proof.header = resignV2(hf, key, 'bare'); }, 'the header carries a v1-style signature over the bare hash', 'v1-style');
  negA('answer_missing_not_proven', A.read_batch, (d) => { d.proof.absent = d.proof.absent.filter((e) => e.id !== '99'); rebuild(d); },
    'an id of data.missing has no absent entry', 'data.missing[0] (99) is not proven absent');
  negA('answer_requested_id_dropped', A.read_batch, (d) => { d.missing = d.missing.filter((id) => id !== '9'); d.proof.absent = d.proof.absent.filter((e) => e.id !== '9'); rebuild(d); },
    'a requested id is neither returned nor listed missing (the client passes the ids it asked for)', 'requested id 9');
  negA('answer_extra_record', A.read_batch, (d) => { d.records.push(userRow(4)); }, 'a record that no present entry covers', 'not one entry per record');
  negA('answer_multiproof_extra_key', A.read_batch, (d) => { d.proof.multiproof = multiJson(leaves, [...[...d.proof.present, ...d.proof.absent].map((e) => unhex(e.key)), rowKey('users', '4')]); },
    'the multiproof covers a key that is neither present nor absent in the bundle', 'not exactly the present');
  negA('answer_absent_is_present', A.read_batch, (d) => { d.proof.absent.push({ id: '4', key: hex(rowKey('users', '4')) }); d.missing.push('4'); rebuild(d); },
    'an id said missing is present in the tree', 'absent[3] (id 4) is present');
  negA('answer_wrong_table', A.read_batch, (d) => { d.proof.table = 'notes'; }, 'proof for another table than the one requested', 'not the table the request named');
  negA('answer_pk_mismatch', A.read_batch, (d) => { d.records[0] = { ...userRow(4) }; d.proof.present[0] = { id: '5', key: d.proof.present[0].key, value: hex(V.rowValueOf(userRow(4))) }; },
    'present[0] says id 5 but the record (and the value it lists) is the row with id 4', 'primary key is not');
  negA('delete_id_not_absent', A.delete_batch, (d) => { d.proof.absent = d.proof.absent.filter((e) => e.id !== '10'); rebuild(d); },
    'a deleted id (data.ids) is not proven absent from the new state', 'data.ids[1] (10) is not proven absent');
  negA('delete_with_present', A.delete_batch, (d) => { d.proof.present = [{ id: '1', key: hex(rowKey('users', '1')), value: hex(V.rowValueOf(userRow(1))) }]; rebuild(d); },
    'delete-batch answers have an empty present', 'present rows in a delete answer');
  negA('latest_incomplete_gap', A.read_latest_desc, (d) => { d.proof.absent = d.proof.absent.filter((e) => e.id !== '9'); rebuild(d); },
    'incomplete read-latest: gap id 9 is neither returned nor proven absent (multiproof rebuilt, so only completeness fails)', 'gap id 9 neither returned nor proven absent');
  negA('latest_incomplete_row_dropped', A.read_latest_asc_all, (d) => { d.records = d.records.filter((r) => r.id !== 5); d.ids = d.ids.filter((x) => x !== '5'); d.proof.present = d.proof.present.filter((e) => e.id !== '5'); rebuild(d); },
    'a row left out of an answer with fewer rows than the limit: id 5 is in the gap and not proven absent', 'gap id 5');
  negA('latest_wrong_range_value', A.read_latest_desc, (d) => { d.proof.complete.hi = '11'; },
    'complete.hi differs from the range leaf in the tree (wrong range value)', 'range key is not present with the range value');
  negA('latest_wrong_range_key', A.read_latest_desc, (d) => { d.proof.complete.range_key = hex(V.rangeKey('notes')); },
    'range_key of another table', 'not the range key of the table');
  negA('latest_rows_out_of_order', A.read_latest_desc, (d) => { [d.records[0], d.records[1]] = [d.records[1], d.records[0]]; [d.proof.present[0], d.proof.present[1]] = [d.proof.present[1], d.proof.present[0]]; },
    'rows not strictly decreasing in a desc answer', 'not strictly decreasing');
  negA('latest_limit_inflated', A.read_latest_desc, (d) => { d.proof.complete.limit = 6; },
    'complete.limit is not the requested limit', 'not the requested limit');
  negA('latest_limit_lied_gap', A.read_latest_desc, (d) => { d.proof.complete.limit = 6; },
    'with limit 6 and 5 rows the gap is all of [1, 12] and ids 1..5 are not proven absent', 'gap id 1', { requireComplete: true });
  negA('latest_complete_flag_without_proof', A.read_latest_incomplete_flag, (d) => { d.complete = true; },
    'data.complete is true but the proof has no complete part', 'without a complete proof');
  negA('latest_complete_required', A.read_latest_incomplete_flag, () => {}, 'the client asked for completeness and got none', 'no complete proof', { requireComplete: true });

  // History proofs.
  const hp = (a, b) => historyProof(chain.vecs[a].json, chain.vecs[b].json, chain.hashes, a, b);
  const p25 = hp(2, 5);
  neg('history_flipped_inclusion', 'history', { ...p25, inclusion: [flipHex(p25.inclusion[0]), ...p25.inclusion.slice(1)] }, 'one bit flipped in the audit path', 'inclusion proof does not verify');
  neg('history_truncated_consistency', 'history', { ...p25, consistency: p25.consistency.slice(1) }, 'a hash missing from the consistency proof', 'consistency proof does not verify');
  neg('history_reversed', 'history', { ...p25, from: p25.to, to: p25.from }, 'from is newer than to', 'from.seq > to.seq');
  neg('history_fork', 'history', { from: chain.vecs[3].json, to: resignV2({ ...hf, time_ms: hf.time_ms + 1 }), inclusion: [], consistency: [] },
    'two different signed headers with the same seq: a fork', 'fork');
  neg('history_other_chain', 'history', (() => {
    const o = { ...chain.fields[5], chain_id: H('another chain') };
    return { ...hp(2, 5), to: resignV2(o) };
  })(), 'to is of another chain', 'not the pinned chain');
  neg('history_not_trusted', 'history', hp(2, 5), 'from is not the header the client holds', 'not the trusted header', { opts: { trustedHash: chain.vecs[1].header_hash } });
  neg('history_upgrade_wrong_chain_id', 'history', (() => {
    const u = upgrade.v2_headers[1].json;
    const f = { version: 2, seq: u.seq, kind: 1, chain_id: H('another chain'), smt_root: unhex(u.smt_root), prev: unhex(u.prev),
      history_root: unhex(u.history_root), time_ms: u.time_ms, schema_hash: unhex(u.schema_hash) };
    return { ...upgrade.history_proofs[0], from: upgrade.v1_headers[0].json, to: resignV2(f), inclusion: inclusionPath(0, upgrade.hashes.slice(0, 4)).map(hex), consistency: [] };
  })(), 'a v2 header whose chain_id is not derived from v1 header 0 of its history', 'not derived from this v1 header 0', { chain_id: null });

  // Checkpoint.
  const note = cp.note;
  neg('checkpoint_other_key', 'checkpoint', checkpointNote(chain.hashes.slice(0, 6), other, cp.origin).note, 'signed by another key (same origin)', 'no signature by the identity key');
  neg('checkpoint_size_changed', 'checkpoint', note.replace('\n6\n', '\n7\n'), 'size edited after signing', 'signature does not verify');
  neg('checkpoint_root_changed', 'checkpoint', note.replace(unhex(cp.root).toString('base64'), H('x').toString('base64')), 'root edited after signing', 'signature does not verify');
  neg('checkpoint_other_origin', 'checkpoint', note, 'the note is not of the expected origin', 'not the expected origin', { opts: { origin: 'vmdb/other' } });
  neg('checkpoint_no_final_newline', 'checkpoint', note.slice(0, -1), 'the signature line must end with a newline', 'final newline');
  neg('checkpoint_leading_zero', 'checkpoint', (() => {
    const text = `${cp.origin}\n06\n${unhex(cp.root).toString('base64')}\n`;
    const kid = V.checkpointKeyId(cp.origin, key.pub);
    return `${text}\n\u2014 ${cp.origin} ${Buffer.concat([kid, sign(null, Buffer.from(text), key.priv)]).toString('base64')}\n`;
  })(), 'non-minimal: the size has a leading zero (signed anyway)', 'leading zeros');

  // Trusted state.
  const f = ts.file;
  neg('trusted_state_file_sig_bare_digest', 'trusted_state', { ...f, file_sig: hex(sign(null, unhex(ts.digest), key.priv)) },
    'file_sig over the bare digest instead of the context-tagged message', 'file_sig does not verify');
  neg('trusted_state_intent_with_header_sig', 'trusted_state', (() => {
    const g = clone(f); g.intent.sig = hex(chain.sigs[6].sig);
    const dg = V.trustedStateDigest(unhex(g.committed.header), unhex(g.committed.sig), unhex(g.intent.header), unhex(g.intent.sig));
    g.file_sig = hex(sign(null, V.trustedStateMessage(dg), key.priv));
    return g;
  })(), 'the intent slot carries a header signature, not an intent signature', 'intent signature does not verify');
  neg('trusted_state_other_key', 'trusted_state', f, 'the file is checked against another identity', 'another public key', { public_key: hex(other.pub) });
  return out;
}

/**
 * docs/vectors/v2.json: key / other_key (seeds, public keys, addresses);
 * chain_id (nonce and from_v1 derivations); headers (one per kind: fields,
 * encoded, header_hash, committed/intent messages and signatures, JSON form);
 * upgrade (v1 headers 0..2, the upgrade header and a write, history roots
 * and proofs over the mixed hashes); tree_sequences (steps with the root
 * after each); id_range; row_values (§2.2: rows of each value type, with
 * the JSON form of json/jsonb columns); transitions (§14.2 records with their key and
 * value, and a verified /api/roots/{seq}/transition answer); json_proofs / json_multiproofs (with the root);
 * answers (`data` of read-batch, delete-batch, read-latest, create-batch, upsert with
 * §9/§10 proofs, and the verifier options: table, ids, order, limit,
 * requireComplete); history_proofs (§11.1); checkpoints (§11.2 notes);
 * trusted_state (§8.3 files with digest); negative (type, input, the
 * options and key to check it with, reason, and js_reason: this verifier's
 * message). Every positive vector verifies and every negative is rejected.
 */
function genV2() {
  const key = ed25519FromSeed(KEY_SEED), other = ed25519FromSeed(OTHER_SEED);
  const nonce = H('vmdb vectors nonce');
  const chain = buildChain(key, nonce);
  const upgrade = buildUpgrade(key);
  const answers = genAnswers(chain, key);
  const origin = V.defaultOrigin(key.pub);
  const cp = checkpointNote(chain.hashes.slice(0, 6), key, origin); // N = seq 5 + 1
  const c = V.verifyCheckpoint(cp.note, hex(key.pub));
  assert(c.ok && c.size === 6 && c.root === cp.root, `checkpoint verifies: ${c.reason}`);
  const cpCustom = checkpointNote(chain.hashes, key, 'example.com/vmdb-test');
  assert(V.verifyCheckpoint(cpCustom.note, hex(key.pub), { origin: 'example.com/vmdb-test' }).ok, 'custom origin verifies');
  const history = [[2, 5], [0, 6], [3, 3], [5, 6], [1, 4]].map(([a, b]) => {
    const p = historyProof(chain.vecs[a].json, chain.vecs[b].json, chain.hashes, a, b);
    assert(V.verifyHistoryProof(p, hex(key.pub), { chainId: hex(chain.chainId), trustedHash: chain.vecs[a].header_hash }).ok, `history ${a}->${b}`);
    return p;
  });
  const ts = trustedStateFile(chain, key, true);
  const tsNoIntent = trustedStateFile(chain, key, false);
  const proofTree = chain.S.deleted;
  const proofRoot = smtRoot(proofTree);
  const jsonProofs = [rowKey('users', '5'), rowKey('users', '9'), V.rangeKey('users'), rowKey('users', 'abc'), rowKey('notes', 'x')].map((k) => {
    const j = proofJson(proofTree, k);
    const r = V.verifyProofJson(hex(proofRoot), j);
    assert(r.ok && r.key === hex(k), 'JSON proof verifies');
    return { root: hex(proofRoot), proof: j, present: r.present };
  });
  { // absent from the empty tree (root Z): depth 0, no bitmap, no siblings
    const j = proofJson([], rowKey('users', '1'));
    assert(j.kind === 'absent_empty' && j.depth === 0 && j.bitmap === '' && j.siblings.length === 0, 'empty-tree proof');
    const r = V.verifyProofJson(hex(Z), j);
    assert(r.ok && r.present === false, 'JSON proof in the empty tree verifies');
    assert(!V.verifyProofJson(hex(smtRoot([userLeaf(1)])), j).ok, 'not against a non-empty root');
    jsonProofs.push({ root: hex(Z), proof: j, present: false });
  }
  const jsonMulti = [[rowKey('users', '1'), rowKey('users', '9'), rowKey('users', '12')], [V.rangeKey('users'), rowKey('users', '10')]].map((ks) => {
    const m = multiJson(proofTree, ks);
    const r = V.verifyMultiproofJson(hex(proofRoot), m);
    assert(r.ok, 'JSON multiproof verifies');
    return { root: hex(proofRoot), multiproof: m, values: Object.fromEntries(r.values) };
  });
  const key2 = (k) => ({ secret_seed: hex(k === key ? KEY_SEED : OTHER_SEED), public_key: hex(k.pub), address: V.base58(k.pub) });
  const ctx = { key, other, chain, answers, upgrade, cp, ts };
  const negative = genNegatives(ctx);
  // Upper-case hex is accepted (PROTOCOL notation): one positive case.
  const upper = { ...chain.vecs[3].json, smt_root: chain.vecs[3].json.smt_root.toUpperCase(), sig: chain.vecs[3].json.sig.toUpperCase() };
  assert(V.verifyHeader(upper, hex(key.pub), { chainId: hex(chain.chainId) }).ok, 'upper-case hex accepted');
  return {
    version: 2,
    note: 'Generated by scripts/gen-vectors.mjs from docs/PROTOCOL.md alone; verified by clients/js/src/protocol.mjs.',
    key: key2(key), other_key: key2(other),
    chain_id: {
      nonce: [{ public_key: hex(key.pub), nonce: hex(nonce), chain_id: hex(chain.chainId) },
        { public_key: hex(other.pub), nonce: hex(nonce), chain_id: hex(V.chainIdFromNonce(other.pub, nonce)) }],
      from_v1: [{ public_key: hex(key.pub), v1_header0_hash: upgrade.v1_headers[0].header_hash, chain_id: upgrade.chain_id }],
    },
    headers: [...chain.vecs, upgrade.v2_headers[0]],
    header_upper_case_hex: upper,
    upgrade: { chain_id: upgrade.chain_id, v1_headers: upgrade.v1_headers, v2_headers: upgrade.v2_headers,
      history_leaves: upgrade.leaves, history_roots: upgrade.history_roots, history_proofs: upgrade.history_proofs },
    tree_sequences: genTreeSequences(),
    id_range: genIdRange(),
    row_values: genRowValuesV2(),
    transitions: genTransitions(chain, key),
    json_proofs: jsonProofs,
    json_multiproofs: jsonMulti,
    answers,
    history_proofs: history,
    checkpoints: [cp, cpCustom],
    trusted_state: [ts, tsNoIntent],
    negative,
  };
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

function main() {
  const rfcBits = selfChecks();
  const vectors = {
    version: 1,
    jcs: genJcs(),
    jcs_reject: genJcsReject(),
    numbers: genNumbers(rfcBits),
    row_keys: genRowKeys(),
    row_values: genRowValues(),
    trees: genTrees(),
    headers: genHeaders(),
    history: genHistory(),
  };
  assert(vectors.jcs.length >= 40 && vectors.jcs_reject.length >= 15 && vectors.numbers.length >= 300, 'minimum counts');

  // --out DIR writes both files into DIR instead (the drift check of
  // tests/vectors_regen.test compares them with the committed ones).
  const oi = process.argv.indexOf('--out');
  if (oi >= 0 && !process.argv[oi + 1]) throw new Error('--out needs a directory');
  const dir = oi >= 0 ? pathToFileURL(resolve(process.argv[oi + 1]) + '/')
    : new URL('../docs/vectors/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL('v1.json', dir);
  writeFileSync(file, JSON.stringify(vectors, null, 1) + '\n');

  const v2 = genV2();
  const file2 = new URL('v2.json', dir);
  writeFileSync(file2, JSON.stringify(v2, null, 1) + '\n');

  const t = vectors.trees;
  console.log(`wrote ${file.pathname}`);
  console.log(`  jcs ${vectors.jcs.length}, jcs_reject ${vectors.jcs_reject.length}, numbers ${vectors.numbers.length}, ` +
    `row_keys ${vectors.row_keys.length}, row_values ${vectors.row_values.length}`);
  console.log(`  trees ${t.length} (proofs ${t.reduce((a, x) => a + x.proofs.length, 0)}, ` +
    `multiproofs ${t.reduce((a, x) => a + x.multiproofs.length, 0)}), headers ${vectors.headers.length}, ` +
    `history ${vectors.history.length} (inclusion ${vectors.history.reduce((a, x) => a + x.inclusion.length, 0)}, ` +
    `consistency ${vectors.history.reduce((a, x) => a + x.consistency.length, 0)})`);
  console.log(`wrote ${file2.pathname}`);
  console.log(`  headers ${v2.headers.length}, tree_sequences ${v2.tree_sequences.length}, row_values ${v2.row_values.length}, answers ${v2.answers.length}, ` +
    `history_proofs ${v2.history_proofs.length}, checkpoints ${v2.checkpoints.length}, negative ${v2.negative.length}`);
}

main();

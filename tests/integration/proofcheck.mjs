// A verifier of the proofs in answers (docs/PROTOCOL.md §5, §6, §9), written
// from the protocol text alone, with Node built-ins only. It never trusts
// the answer's own summaries: keys, values and the header hash are
// recomputed; every check that fails throws an Error that says why.
//
//   verifyMultiproof(rootHex, keysHex, proofHex) -> Map(keyHex -> valueHex | null)
//   verifyHeader(header, pubKeyHex)               (the one place that knows the header version)
//   verifyAnswer(data, pubKeyHex, {deleted})      -> the header the answer was checked against
import { createHash, createPublicKey, verify as edVerify } from 'node:crypto';

const H = (...parts) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? Buffer.from(p, 'utf8') : p);
  return h.digest();
};
const Z = Buffer.alloc(32);
const bit = (k, i) => (k[i >> 3] >> (7 - (i & 7))) & 1;
const fail = (why) => { throw new Error(`proof rejected: ${why}`); };
const hexBuf = (s, n, what) => {
  if (typeof s !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(s) || (n !== undefined && s.length !== 2 * n)) fail(`${what}: not ${n ?? 'some'} bytes of hex`);
  return Buffer.from(s, 'hex');
};

/** Row key of §1 (Buffer). */
export function rowKey(table, pk) {
  const t = Buffer.from(table, 'utf8');
  const p = Buffer.from(String(pk), 'utf8');
  const l16 = Buffer.alloc(2); l16.writeUInt16BE(t.length);
  const l32 = Buffer.alloc(4); l32.writeUInt32BE(p.length);
  return H('vmdb/v1/key', Buffer.from([0]), l16, t, l32, p);
}

/** RFC 8785 of a parsed JSON value (numbers as ECMAScript writes them). */
export function jcs(v) {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return Object.is(v, -0) ? '0' : String(v);
  if (Array.isArray(v)) return `[${v.map(jcs).join(',')}]`;
  // UTF-16 code unit order is JavaScript's default string order.
  const keys = Object.keys(v).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${JSON.stringify(k)}:${jcs(v[k])}`).join(',')}}`;
}

/** Row value of §2 (Buffer). */
export function rowValue(row) {
  return H('vmdb/v1/row', Buffer.from([0]), Buffer.from(jcs(row), 'utf8'));
}

/**
 * §5: verifies the multiproof `proofHex` for the keys `keysHex` against
 * `rootHex`. Returns a Map from each key (lower-case hex) to its value
 * (hex) or null (absent). Throws when anything is off.
 */
export function verifyMultiproof(rootHex, keysHex, proofHex) {
  const root = hexBuf(rootHex, 32, 'root');
  if (!Array.isArray(keysHex) || keysHex.length === 0) fail('empty key list');
  const keys = keysHex.map((k, i) => hexBuf(k, 32, `keys[${i}]`));
  for (let i = 1; i < keys.length; i++) if (Buffer.compare(keys[i - 1], keys[i]) >= 0) fail('keys not strictly ascending');
  const buf = hexBuf(proofHex, undefined, 'proof');
  const result = new Map();
  let pos = 0;
  const take = (n) => {
    if (pos + n > buf.length) fail('truncated');
    const s = buf.subarray(pos, pos + n);
    pos += n;
    return s;
  };
  // Reads one node at depth d for the keys Q (non-empty); returns its hash.
  const node = (Q, d) => {
    const tag = take(1)[0];
    if (tag === 0) {
      for (const k of Q) result.set(k.toString('hex'), null);
      return Z;
    }
    if (tag === 1) {
      const k = Buffer.from(take(32)), v = Buffer.from(take(32));
      for (const q of Q) {
        for (let i = 0; i < d; i++) if (bit(q, i) !== bit(k, i)) fail(`leaf at depth ${d} off the path of a key`);
        result.set(q.toString('hex'), q.equals(k) ? v.toString('hex') : null);
      }
      return H(Buffer.from([0]), k, v);
    }
    if (tag === 2) {
      if (d === 256) fail('branch at depth 256');
      const Q0 = Q.filter((q) => bit(q, d) === 0), Q1 = Q.filter((q) => bit(q, d) === 1);
      const side = (S) => {
        if (S.length) return node(S, d + 1);
        const t = take(1)[0];
        if (t === 0) return Z;
        if (t === 3) {
          const h = Buffer.from(take(32));
          if (h.equals(Z)) fail('all-zero HASH');
          return h;
        }
        fail(`node ${t} where no key enters`);
      };
      const l = side(Q0), r = side(Q1);
      return H(Buffer.from([1]), l, r);
    }
    if (tag === 3) fail('HASH where keys enter');
    return fail(`unknown node tag ${tag}`);
  };
  const got = node(keys, 0);
  if (pos !== buf.length) fail('trailing bytes');
  if (!got.equals(root)) fail('computed root differs from the header root');
  return result;
}

/**
 * §6.1 (and §12 for v1): recomputes header_hash from the fields and checks
 * the signature with the pinned key. Today's headers are v1 (144 bytes,
 * pure Ed25519 over the hash); a v2 header must be checked by the v2 rules,
 * which is the one thing to change here when the server moves to v2.
 */
export function verifyHeader(h, pubKeyHex) {
  const u64 = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; };
  if (h.version !== undefined && h.version !== 1) fail(`header version ${h.version} is not checked by this verifier`);
  if (!Number.isSafeInteger(h.seq) || !Number.isSafeInteger(h.time_ms)) fail('header seq/time_ms');
  const enc = Buffer.concat([u64(h.seq), hexBuf(h.smt_root, 32, 'smt_root'), hexBuf(h.prev, 32, 'prev'),
    hexBuf(h.history_root, 32, 'history_root'), u64(h.time_ms), hexBuf(h.schema_hash, 32, 'schema_hash')]);
  const hash = H('vmdb/v1/header', Buffer.from([0]), enc);
  if (h.header_hash !== undefined && hash.toString('hex') !== String(h.header_hash).toLowerCase()) fail('header_hash does not match the fields');
  const key = createPublicKey({
    key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), hexBuf(pubKeyHex, 32, 'public key')]), format: 'der', type: 'spki',
  });
  if (!edVerify(null, hash, key, hexBuf(h.sig, 64, 'sig'))) fail('header signature does not verify');
}

/**
 * §9: checks an answer's `data` (read-batch, read-latest, create-batch,
 * upsert or delete-batch, with "proof": true) against the pinned key.
 * `deleted`: the answer is delete-batch's (its `ids` are absent, it has no
 * records). Returns the header.
 */
export function verifyAnswer(data, pubKeyHex, { deleted = false } = {}) {
  const p = data?.proof;
  if (!p || typeof p !== 'object') fail('no data.proof');
  const { header, table, primary_key: pkcol, present, absent, multiproof } = p;
  if (typeof table !== 'string' || typeof pkcol !== 'string') fail('table/primary_key');
  if (!Array.isArray(present) || !Array.isArray(absent)) fail('present/absent must be arrays');
  // 1. the header
  verifyHeader(header, pubKeyHex);
  // 2. the multiproof, and its key list is exactly present ∪ absent
  if (!multiproof || typeof multiproof !== 'object') fail('no multiproof');
  const values = verifyMultiproof(header.smt_root, multiproof.keys, multiproof.proof);
  const claimed = new Set();
  // 3. present: one per record, in order, key and value recomputed
  const records = deleted ? [] : data.records;
  if (!Array.isArray(records)) fail('records');
  if (deleted && present.length) fail('delete answers have no present entries');
  if (present.length !== records.length) fail('a record without its present entry (or the reverse)');
  present.forEach((e, i) => {
    const rec = records[i];
    const pkv = rec?.[pkcol];
    const text = typeof pkv === 'number' ? String(pkv) : pkv;
    if (typeof text !== 'string' || text !== e.id) fail(`present[${i}]: id ${e.id} is not the record's ${pkcol}`);
    const k = rowKey(table, e.id).toString('hex');
    if (k !== String(e.key).toLowerCase()) fail(`present[${i}]: key is not k(table, id)`);
    const v = rowValue(rec).toString('hex');
    if (v !== String(e.value).toLowerCase()) fail(`present[${i}]: value is not the record's hash`);
    if (values.get(k) !== v) fail(`present[${i}]: the multiproof does not show ${e.id} with this value`);
    claimed.add(k);
  });
  // 4. absent: recomputed keys, absent in the tree, covering missing (and deleted ids)
  const absentIds = new Set();
  absent.forEach((e, i) => {
    if (typeof e.id !== 'string') fail(`absent[${i}]: id`);
    const k = rowKey(table, e.id).toString('hex');
    if (k !== String(e.key).toLowerCase()) fail(`absent[${i}]: key is not k(table, id)`);
    if (!values.has(k) || values.get(k) !== null) fail(`absent[${i}]: the multiproof does not show ${e.id} absent`);
    claimed.add(k);
    absentIds.add(e.id);
  });
  for (const id of data.missing ?? []) if (!absentIds.has(id)) fail(`missing id ${id} has no absent entry`);
  if (deleted) for (const id of data.ids ?? []) if (!absentIds.has(id)) fail(`deleted id ${id} has no absent entry`);
  const listed = new Set(multiproof.keys.map((k) => k.toLowerCase()));
  if (listed.size !== claimed.size || [...claimed].some((k) => !listed.has(k))) fail('multiproof keys differ from the present and absent keys');
  return header;
}

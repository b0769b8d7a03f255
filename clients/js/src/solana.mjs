// solana.mjs — the identity's anchors on Solana, as a third party reads them
// (docs/SOLANA.md §7, PROTOCOL.md §8.1), for VmdbClient.checkAnchored.
//
// Lists every transaction that mentions the identity (getSignaturesForAddress,
// paged), fetches each (getTransaction, base64), parses the legacy wire
// transaction, verifies every signature with node:crypto, and keeps the
// `vmdb1:<seq>:<header_hash>:<smt_root>` memos the identity signed in
// transactions that succeeded. Anything else is not an anchor and is ignored.

import { createPublicKey, verify } from 'node:crypto';

const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

export function base58Decode(s) {
  let n = 0n;
  for (const c of s) {
    const d = B58.indexOf(c);
    if (d < 0) throw new Error(`not base58: ${s}`);
    n = n * 58n + BigInt(d);
  }
  let h = n ? n.toString(16) : '';
  if (h.length % 2) h = '0' + h;
  return Buffer.concat([Buffer.alloc(s.match(/^1*/)[0].length), Buffer.from(h, 'hex')]);
}

const MEMO_V2 = base58Decode('MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr');
const SPKI = Buffer.from('302a300506032b6570032100', 'hex');
const MEMO_RE = /^vmdb1:(0|[1-9][0-9]*):([0-9a-f]{64}):([0-9a-f]{64})$/;

function edVerify(pub, msg, sig) {
  try {
    return verify(null, msg, createPublicKey({ key: Buffer.concat([SPKI, pub]), format: 'der', type: 'spki' }), sig);
  } catch {
    return false;
  }
}

/** A legacy wire transaction: its signatures and the message they sign; null if it is not one. */
export function parseTransaction(w) {
  let o = 0;
  const need = (n) => { if (o + n > w.length) throw new Error('truncated'); };
  const cu16 = () => {
    let v = 0;
    for (let s = 0; s < 21; s += 7) { need(1); const b = w[o++]; v |= (b & 0x7f) << s; if (!(b & 0x80)) return v; }
    throw new Error('bad compact-u16');
  };
  const take = (n) => { need(n); return w.subarray(o, (o += n)); };
  try {
    const sigs = Array.from({ length: cu16() }, () => take(64));
    const message = w.subarray(o);
    need(1);
    if (message[0] & 0x80) return null; // a versioned message: vmdb sends legacy ones only
    const nreq = take(3)[0];
    const keys = Array.from({ length: cu16() }, () => take(32));
    take(32); // recent blockhash
    const ixs = Array.from({ length: cu16() }, () => { need(1); return { program: w[o++], accounts: [...take(cu16())], data: take(cu16()) }; });
    return { sigs, message, nreq, keys, ixs };
  } catch {
    return null;
  }
}

/** The anchor a transaction carries for identity `id` (32 bytes), or null. */
export function anchorOf(wire, id) {
  const t = parseTransaction(wire);
  if (!t || t.sigs.length !== t.nreq || t.nreq > t.keys.length) return null;
  if (!t.sigs.every((s, i) => edVerify(t.keys[i], t.message, s))) return null;
  for (const ix of t.ixs) {
    if (!t.keys[ix.program] || !t.keys[ix.program].equals(MEMO_V2)) continue;
    if (!ix.accounts.some((a) => a < t.nreq && t.keys[a].equals(id))) continue;
    const m = MEMO_RE.exec(ix.data.toString('latin1'));
    if (m) return { seq: Number(m[1]), header_hash: m[2], smt_root: m[3] };
  }
  return null;
}

/** Every anchor of the identity (address: base58), oldest first: [{seq, header_hash, smt_root, slot, signature}]. */
export async function listAnchors(rpcUrl, address, fetchFn = globalThis.fetch) {
  const id = base58Decode(address);
  let nextId = 0;
  const rpc = async (method, ...params) => {
    const res = await fetchFn(rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: ++nextId, method, params }) });
    const body = await res.json();
    if (body.error) throw new Error(`Solana RPC ${method}: ${body.error.code} ${body.error.message}`);
    return body.result;
  };
  const anchors = [];
  let before;
  for (;;) {
    const page = await rpc('getSignaturesForAddress', address, { limit: 1000, before, commitment: 'confirmed' });
    for (const { signature, err } of page) {
      if (err) continue;
      const tx = await rpc('getTransaction', signature, { encoding: 'base64', commitment: 'confirmed', maxSupportedTransactionVersion: 0 });
      if (!tx || !tx.meta || tx.meta.err !== null || !Array.isArray(tx.transaction)) continue;
      const a = anchorOf(Buffer.from(tx.transaction[0], 'base64'), id);
      if (a) anchors.push({ ...a, slot: tx.slot, signature });
    }
    if (page.length < 1000) break;
    before = page[page.length - 1].signature;
  }
  return anchors.reverse();
}

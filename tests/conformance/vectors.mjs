// The protocol vectors of docs/vectors/v2.json as conformance cases (the
// case format of the client contract, plus `expect`):
//   positive: every answer, header (v2, and the v1 headers of the upgrade
//             vectors with allowV1), history proof (and the upgrade's) and
//             checkpoint must give {ok: true};
//   negative: every negative vector but trusted_state_* must give the code of
//             tests/conformance/expected-codes.json.
// The proof and multiproof vectors (§4, §5 alone, with no answer around
// them) have ops of their own, "proof" and "multiproof" (input: the proof
// object; opts.root: the root hex); see README.md.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './clients.mjs';

export const V2 = JSON.parse(fs.readFileSync(path.join(ROOT, 'docs', 'vectors', 'v2.json'), 'utf8'));
export const EXPECTED = JSON.parse(fs.readFileSync(path.join(ROOT, 'tests', 'conformance', 'expected-codes.json'), 'utf8'));

const pin = (chainId, opts = {}) => (chainId ? { chainId, ...opts } : { ...opts });
const OK = { ok: true, code: null };

/** Every vector case: [{name, op, kind?, input, public_key, opts, expect}]. */
export function vectorCases() {
  const v = V2;
  const pk = v.key.public_key;
  const out = [];
  for (const a of v.answers) {
    out.push({ name: `answer:${a.name}`, op: 'answer', kind: a.kind, input: a.data, public_key: a.public_key, opts: pin(a.chain_id, a.opts), expect: OK });
  }
  for (const h of v.headers) {
    out.push({ name: `header:${h.seq}:${h.kind}`, op: 'header', input: h.json, public_key: pk, opts: pin(h.chain_id), expect: OK });
  }
  for (const h of v.upgrade.v1_headers) {
    // v1 headers have no chain: only allowV1 (a verifier meeting history) accepts them.
    out.push({ name: `header:v1:${h.seq}`, op: 'header', input: h.json || h, public_key: pk, opts: { allowV1: true }, expect: OK });
  }
  for (const h of v.upgrade.v2_headers) {
    out.push({ name: `header:upgrade:${h.seq}:${h.kind}`, op: 'header', input: h.json || h, public_key: pk, opts: pin(v.upgrade.chain_id), expect: OK });
  }
  v.history_proofs.forEach((p, i) => {
    out.push({ name: `history:${i}:${p.from.seq}-${p.to.seq}`, op: 'history', input: p, public_key: pk, opts: pin(p.to.chain_id), expect: OK });
  });
  v.upgrade.history_proofs.forEach((p, i) => {
    out.push({ name: `history:upgrade:${i}:${p.from.seq}-${p.to.seq}`, op: 'history', input: p, public_key: pk, opts: pin(p.to.chain_id), expect: OK });
  });
  v.checkpoints.forEach((c, i) => {
    out.push({ name: `checkpoint:${i}:${c.origin}`, op: 'checkpoint', input: c.note, public_key: pk, opts: { origin: c.origin }, expect: OK });
  });
  for (const n of v.negative) {
    if (n.type === 'trusted_state') continue;
    const code = EXPECTED[n.name];
    if (!code) throw new Error(`tests/conformance/expected-codes.json has no code for negative vector ${n.name}`);
    const c = { name: `negative:${n.name}`, op: n.type, input: n.input, public_key: n.public_key, opts: pin(n.chain_id, n.opts), expect: { ok: false, code } };
    if (n.type === 'answer') c.kind = n.answer_kind;
    if (n.type === 'proof' || n.type === 'multiproof') c.opts = { ...c.opts, root: n.root };
    out.push(c);
  }
  return out;
}

/** Positive §4/§5 vectors in the "proof"/"multiproof" ops (to tell a client without those ops). */
export function proofCases() {
  const pk = V2.key.public_key;
  const out = [];
  V2.json_proofs.forEach((p, i) => out.push({ name: `proof:${i}`, op: 'proof', input: p.proof, public_key: pk, opts: { root: p.root }, expect: OK }));
  V2.json_multiproofs.forEach((p, i) => out.push({ name: `multiproof:${i}`, op: 'multiproof', input: p.multiproof, public_key: pk, opts: { root: p.root }, expect: OK }));
  return out;
}

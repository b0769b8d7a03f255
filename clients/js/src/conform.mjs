// conform.mjs — the offline conformance entry point of the client contract
// (tests/conformance): conformCase(case) -> {name, ok, code}.
//
// A case is {name, op, kind?, input, public_key, opts}: op "answer" (input:
// an answer's data object, kind: read-batch | read-latest | create-batch |
// upsert | delete-batch), "header" (a §6.3 header), "history" (a
// /api/roots/proof data object), "checkpoint" (the note text), and, for the
// §4/§5 vectors that have no answer around them, "proof" and "multiproof"
// (input: the proof object, opts.root: the root hex). opts: chainId, table,
// ids, order, limit, requireComplete, trustedHash, origin, allowV1, root.

import * as P from './protocol.mjs';

const RUN = {
  answer: (c, o) => P.verifyAnswer(c.input, c.kind, c.public_key, o),
  header: (c, o) => P.verifyHeader(c.input, c.public_key, o),
  history: (c, o) => P.verifyHistoryProof(c.input, c.public_key, o),
  checkpoint: (c, o) => P.verifyCheckpoint(c.input, c.public_key, o),
  proof: (c, o) => P.verifyProofJson(o.root, c.input),
  multiproof: (c, o) => P.verifyMultiproofJson(o.root, c.input),
};

export function conformCase(c) {
  const run = RUN[c.op];
  if (!run) throw new Error(`conformCase: unknown op ${c.op}`);
  const o = { ...(c.opts || {}) };
  for (const k of Object.keys(o)) if (o[k] === null) delete o[k];
  const r = run(c, o);
  return { name: c.name, ok: r.ok, code: r.ok ? null : r.code };
}

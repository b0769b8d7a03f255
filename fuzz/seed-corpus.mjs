#!/usr/bin/env node
// Writes the seed corpora of fuzz_verify and fuzz_header from the real
// inputs of docs/vectors/v2.json: answers, history proofs, headers and
// checkpoints (and their encodings, kind names, base64), each prefixed by
// the selector byte the target reads first (see the comments atop
// fuzz/fuzz_verify.c and fuzz/fuzz_header.c). Files are named seed-*, so
// running this again replaces them and leaves other inputs (crash
// reproducers, inputs that fuzzing found) alone.
//   node fuzz/seed-corpus.mjs
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const v = JSON.parse(readFileSync(join(root, 'docs/vectors/v2.json'), 'utf8'));

function corpus(target, seeds) {
  const dir = join(root, 'fuzz/corpus', target);
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f.startsWith('seed-')) rmSync(join(dir, f));
  for (const [name, sel, body] of seeds) {
    const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    writeFileSync(join(dir, `seed-${name}`), Buffer.concat([Buffer.from([sel]), b]));
  }
  console.log(`${target}: ${seeds.length} seeds`);
}

// fuzz_verify: bits 0-1 the check (0 bundle, 1 history, 2 header,
// 3 checkpoint), bits 2-3 the chain pin (1 the key's chain, 2 the upgraded
// chain), bit 5 the origin example.com/vmdb-test.
const PIN_CHAIN = 1 << 2, PIN_UPGRADE = 2 << 2, EXAMPLE_ORIGIN = 0x20;
const j = (x) => JSON.stringify(x);
const verify = [];
v.answers.forEach((a) => verify.push([`answer-${a.name}`, 0 | PIN_CHAIN, j(a.data)]));
v.history_proofs.forEach((p, i) => verify.push([`history-${i}`, 1 | PIN_CHAIN, j(p)]));
v.upgrade.history_proofs.forEach((p, i) =>
  verify.push([`history-upgrade-${i}`, 1 | PIN_UPGRADE, j(p)]));
const pinOf = (h) => (h.chain_id === v.upgrade.chain_id ? PIN_UPGRADE : PIN_CHAIN);
v.headers.forEach((h, i) => verify.push([`header-${i}-${h.kind}`, 2 | pinOf(h), j(h.json)]));
verify.push(['header-v1', 2, j(v.upgrade.v1_headers[1].json)]);
verify.push(['header-upper-case-hex', 2 | PIN_CHAIN, j(v.header_upper_case_hex)]);
v.checkpoints.forEach((c, i) =>
  verify.push([`checkpoint-${i}`, 3 | (c.origin.startsWith('vmdb/') ? 0 : EXAMPLE_ORIGIN), c.note]));
// A few negative vectors of each kind, near misses the checks must refuse.
const neg = new Set(['answer_edited_row', 'latest_incomplete_gap', 'history_fork',
  'checkpoint_leading_zero', 'header_intent_sig']);
const sel = { answer: 0, history: 1, header: 2, checkpoint: 3 };
for (const n of v.negative.filter((n) => neg.has(n.name))) {
  const s = sel[n.type] | (n.type === 'checkpoint' ? 0 : PIN_CHAIN);
  verify.push([`negative-${n.name}`, s, typeof n.input === 'string' ? n.input : j(n.input)]);
}
corpus('fuzz_verify', verify);

// fuzz_header: first byte mod 6 picks 0 header decode, 1 kind name,
// 2 note verify (bit 3: origin example.com/vmdb-test), 3 checkpoint text,
// 4 base64, 5 note signing.
const hex = (s) => Buffer.from(s, 'hex');
const header = [];
for (const h of v.headers.slice(0, 3)) header.push([`v2-${h.kind}`, 0, hex(h.encoded)]);
header.push(['v1', 0, hex(v.upgrade.v1_headers[1].encoded)]);
for (const k of ['genesis', 'upgrade']) header.push([`kind-${k}`, 1, k]);
v.checkpoints.forEach((c, i) =>
  header.push([`note-${i}`, c.origin.startsWith('vmdb/') ? 2 : 2 + 6, c.note]));
v.checkpoints.forEach((c, i) => header.push([`checkpoint-${i}`, 3, c.text]));
header.push(['base64-root', 4, v.checkpoints[0].text.split('\n')[2]]);
header.push(['base64-sig', 4, v.checkpoints[0].note.split(' ').pop().trim()]);
header.push(['sign-text', 5, v.checkpoints[1].text]);
corpus('fuzz_header', header);

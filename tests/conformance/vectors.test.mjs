// Vector conformance: every case of docs/vectors/v2.json (vectors.mjs)
// through both clients' conformance entry points. Positive answers,
// headers, history proofs and checkpoints give ok; each negative vector
// gives the code of tests/conformance/expected-codes.json, in both clients.
// The §4/§5 proof and multiproof vectors use the "proof" and "multiproof"
// ops, which the client contract does not list: a client that does not
// accept the positive ones has these cases reported as todo, not failed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LANGS, ROOT, PYTHON, runCases, expected, verdict } from './clients.mjs';
import { vectorCases, proofCases } from './vectors.mjs';

const ALL = vectorCases();
const CONTRACT_OPS = new Set(['answer', 'header', 'history', 'checkpoint']);
const main = ALL.filter((c) => CONTRACT_OPS.has(c.op));
const extra = ALL.filter((c) => !CONTRACT_OPS.has(c.op));

function differences(cases, got) {
  const want = cases.map(expected);
  return got.map(verdict).map((g, i) => [g, want[i]]).filter(([g, w]) => g.ok !== w.ok || g.code !== w.code)
    .map(([g, w]) => `  ${w.name}: expected ${w.ok ? 'ok' : w.code}, got ${g.ok ? 'ok' : g.code}`);
}

for (const lang of LANGS) {
  test(`${lang}: ${main.length} protocol vectors (answers, headers, history proofs, checkpoints) give their expected result`, async () => {
    const got = await runCases(lang, main);
    const diff = differences(main, got);
    assert.equal(diff.length, 0, `${diff.length} of ${main.length} cases differ:\n${diff.join('\n')}`);
  });

  test(`${lang}: the §4 proof and §5 multiproof vectors ("proof", "multiproof" ops)`, async (t) => {
    const pos = proofCases();
    let posDiff;
    try {
      posDiff = differences(pos, await runCases(lang, pos));
    } catch (e) {
      posDiff = pos.map((c) => `${c.name}: ${e.message}`);
    }
    if (posDiff.length === pos.length) {
      t.todo(`${lang} does not support the "proof"/"multiproof" ops (not in the client contract): ${posDiff[0]}`);
      return;
    }
    const diff = [...posDiff, ...differences(extra, await runCases(lang, extra))];
    assert.equal(diff.length, 0, `${diff.length} cases differ:\n${diff.join('\n')}`);
  });
}

test('every language gives the same result for every vector case', async () => {
  if (LANGS.length < 2) return;
  const results = await Promise.all(LANGS.map((l) => runCases(l, main)));
  const diff = [];
  for (let i = 0; i < main.length; i++) {
    const v = results.map((r) => verdict(r[i]));
    if (v.some((x) => x.ok !== v[0].ok || x.code !== v[0].code)) diff.push(`  ${main[i].name}: ${LANGS.map((l, j) => `${l}=${v[j].ok ? 'ok' : v[j].code}`).join(' ')}`);
  }
  assert.equal(diff.length, 0, `the clients disagree:\n${diff.join('\n')}`);
});

test('both clients have the same reason codes, in the same order (docs/CLIENTS.md lists them)', async () => {
  const { REASON_CODES } = await import(pathToFileURL(path.join(ROOT, 'clients', 'js', 'src', 'protocol.mjs')).href);
  const py = spawnSync(PYTHON, ['-c', 'import json, vmdb_client; print(json.dumps(list(vmdb_client.REASON_CODES)))'],
    { encoding: 'utf8', env: { ...process.env, PYTHONPATH: path.join(ROOT, 'clients', 'python') } });
  assert.equal(py.status, 0, py.stderr);
  assert.deepEqual(JSON.parse(py.stdout), [...REASON_CODES]);
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'CLIENTS.md'), 'utf8');
  for (const code of REASON_CODES) assert.match(doc, new RegExp(`^\\| \`${code}\` \\|`, 'm'), `docs/CLIENTS.md explains ${code}`);
});

#!/usr/bin/env node
// Plants one violation of each include rule into a copy of src/ and include/
// and checks that scripts/check-includes.mjs catches it.
//
//   node tests/include_rules_planted.mjs
//
// Independent of the real tree's state: the violations of the clean copy
// are the baseline, and each planted change (on a fresh copy) must exit 1
// and ADD a violation of the expected rule. Exit 0 when every expectation
// holds, 1 otherwise. Run by ctest as `include_rules_planted`.

import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const checker = path.join(repo, 'scripts', 'check-includes.mjs');

function run(root) {
  const r = spawnSync(process.execPath, [checker, '--root', root], { encoding: 'utf8' });
  const lines = (r.stderr + r.stdout).split('\n').filter(Boolean);
  return { status: r.status, lines, text: lines.join('\n') };
}

// A fresh copy of the repository's src/ and include/ under a new directory.
function freshCopy(tmp, name) {
  const root = path.join(tmp, name);
  for (const d of ['src', 'include']) cpSync(path.join(repo, d), path.join(root, d), { recursive: true });
  return root;
}

// The first source file of a folder (listed, not hard-coded: names change).
function firstSource(root, folder) {
  const dir = path.join(root, 'src', folder);
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && /\.[ch]$/.test(e.name)).map((e) => e.name).sort();
  const pick = names.find((n) => n.endsWith('.c')) ?? names[0];
  if (!pick) throw new Error(`no *.c or *.h file in src/${folder} to plant into`);
  return path.join(dir, pick);
}

// Appending (not inserting) keeps the baseline's line numbers valid.
const addInclude = (file, target) => appendFileSync(file, `\n#include "${target}"\n`);
// The same with <...>: with -Isrc the compiler finds it all the same.
const addAngleInclude = (file, target) => appendFileSync(file, `\n#include <${target}>\n`);

const CASES = [
  { name: 'store includes server', rule: 'store-never-includes-server',
    plant: (root) => addInclude(firstSource(root, 'store'), 'server/server.h') },
  { name: 'store includes server through <...>', rule: 'store-never-includes-server',
    mentions: ['#include <server/server.h>'],
    plant: (root) => addAngleInclude(firstSource(root, 'store'), 'server/server.h') },
  { name: 'util includes db through <...>', rule: 'layering', mentions: ['#include <db/pg.h>'],
    plant: (root) => addAngleInclude(firstSource(root, 'util'), 'db/pg.h') },
  { name: 'a <...> include of a part that names no file', rule: 'unresolved-include',
    mentions: ['#include <store/no_such_file.h>'],
    plant: (root) => addAngleInclude(firstSource(root, 'store'), 'store/no_such_file.h') },
  { name: 'trust includes store', rule: 'trust-anchor-never-include-store',
    plant: (root) => addInclude(firstSource(root, 'trust'), 'store/engine.h') },
  { name: 'a component includes the engine wiring', rule: 'engine-wiring-stays-in-the-engine',
    plant: (root) => addInclude(path.join(root, 'src', 'store', 'writer.c'), 'store/engine_internal.h') },
  { name: 'core includes util', rule: 'core-is-pure',
    plant: (root) => addInclude(firstSource(root, 'core'), 'util/log.h') },
  { name: 'two headers include each other', rule: 'no-include-cycles', mentions: ['cyc_a.h', 'cyc_b.h'],
    plant: (root) => {
      const guard = (n, other) => `#ifndef VMDB_CYC_${n}_H\n#define VMDB_CYC_${n}_H\n#include "util/${other}"\n#endif\n`;
      writeFileSync(path.join(root, 'src', 'util', 'cyc_a.h'), guard('A', 'cyc_b.h'));
      writeFileSync(path.join(root, 'src', 'util', 'cyc_b.h'), guard('B', 'cyc_a.h'));
    } },
  { name: 'a folder with no layering rule', rule: 'layering', mentions: ['no layering rule for part zzz'],
    plant: (root) => {
      mkdirSync(path.join(root, 'src', 'zzz'));
      writeFileSync(path.join(root, 'src', 'zzz', 'x.c'), '#include "vmdb/common.h"\n');
    } },
];

function main() {
  const tmp = mkdtempSync(path.join(tmpdir(), 'vmdb-include-rules-'));
  const failures = [];
  try {
    const base = run(freshCopy(tmp, 'clean'));
    if (base.status !== 0 && base.status !== 1) {
      console.error(`not ok - the checker failed on the clean copy (exit ${base.status}):\n${base.text}`);
      return 1;
    }
    const baseline = new Set(base.status === 1 ? base.lines : []);
    console.log(base.status === 0
      ? `ok - clean copy passes (${base.text})`
      : `# clean copy has ${baseline.size} violation(s) already (the baseline):\n${base.lines.map((l) => `#   ${l}`).join('\n')}`);

    CASES.forEach((c, i) => {
      const root = freshCopy(tmp, `case${i}`);
      c.plant(root);
      const r = run(root);
      const added = r.lines.filter((l) => !baseline.has(l));
      const hit = added.find((l) => l.startsWith(`${c.rule}:`) && (c.mentions ?? []).every((m) => l.includes(m)));
      if (r.status === 1 && hit) {
        console.log(`ok - ${c.name}: ${hit}`);
      } else {
        failures.push(c.name);
        console.error(`not ok - ${c.name}: expected exit 1 and a new ${c.rule} violation` +
          `${c.mentions ? ` naming ${c.mentions.join(', ')}` : ''}; got exit ${r.status}, new lines:\n` +
          (added.map((l) => `    ${l}`).join('\n') || '    (none)'));
      }
      rmSync(root, { recursive: true, force: true });
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  if (failures.length > 0) {
    console.error(`include_rules_planted: ${failures.length} of ${CASES.length} planted violations not caught`);
    return 1;
  }
  console.log(`include_rules_planted: all ${CASES.length} planted violations caught`);
  return 0;
}

process.exitCode = main();

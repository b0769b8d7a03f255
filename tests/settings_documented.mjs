#!/usr/bin/env node
// Every setting vmdb reads is documented (issue 13, Deliver 9: "every
// setting"). Finds each environment variable read in src/ — getenv() with a
// literal, and the literals passed to any function that calls getenv() on
// its parameter (env_or, env_uint, env_bool, ... in whichever file defines
// them) — and checks that each name appears in docs/OPERATIONS.md as
// `NAME`, and either in a row of README.md's settings tables (| `NAME` |)
// or in the help text of the vmdb command that reads it (`vmdb serve
// --help`, `vmdb keys --help`, `vmdb verify --help`, `vmdb anchor --help`).
// Test hooks (VMDB_TEST_*, VMDB_FAULT_*) are not settings and are skipped.
//
//   node tests/settings_documented.mjs [--root DIR] [--bin path/to/vmdb]
//
// Without --bin (or when it does not run), only README.md counts for the
// second place. Exit 1 with the list of undocumented names.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const root = path.resolve(opt('--root') || path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
const bin = opt('--bin');

function sources(dir) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (/\.[ch]$/.test(e.name)) out.push(p);
  }
  return out;
}

// Comments out, string literals kept (the names are literals).
const stripComments = (s) => s.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/(^|[^:"])\/\/[^\n]*/g, '$1');

const files = sources(path.join(root, 'src')).map((f) => ({ f, text: stripComments(fs.readFileSync(f, 'utf8')) }));

// Helpers: a function whose body calls getenv() on something that is not a
// literal (its parameter). The function's name is the last identifier
// before "(" on the definition line that starts the enclosing body.
const helpers = new Set(['getenv', 'secure_getenv']);
for (const { text } of files) {
  const defRe = /^[A-Za-z_][\w \t*]*?\b([A-Za-z_]\w*)\s*\([^;{]*\)\s*\{/gm;
  const defs = [...text.matchAll(defRe)].map((m) => ({ name: m[1], at: m.index }));
  for (const m of text.matchAll(/\b(?:secure_)?getenv\s*\(\s*(?!")/g)) {
    const enclosing = defs.filter((d) => d.at < m.index).pop();
    if (enclosing) helpers.add(enclosing.name);
  }
}

const names = new Map(); // name -> first file:line that reads it
const callRe = new RegExp(`\\b(${[...helpers].join('|')})\\s*\\(\\s*"([A-Z][A-Z0-9_]*)"`, 'g');
for (const { f, text } of files) {
  for (const m of text.matchAll(callRe)) {
    const name = m[2];
    if (/^VMDB_(TEST|FAULT)_/.test(name)) continue;
    if (!names.has(name)) {
      const line = text.slice(0, m.index).split('\n').length;
      names.set(name, `${path.relative(root, f)}:${line}`);
    }
  }
}
if (names.size < 10) {
  console.error(`settings_documented: found only ${names.size} settings in src/ (helpers: ${[...helpers].join(', ')}); the scan is broken`);
  process.exit(1);
}

const ops = fs.readFileSync(path.join(root, 'docs', 'OPERATIONS.md'), 'utf8');
const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
let help = '';
if (bin) {
  for (const cmd of [['serve', '--help'], ['keys', '--help'], ['verify', '--help'], ['anchor', '--help']]) {
    try {
      help += execFileSync(bin, cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: {} });
    } catch (e) {
      help += `${e.stdout || ''}${e.stderr || ''}`; // a help printed with a usage exit status
    }
  }
  if (!/VMDB_LISTEN/.test(help)) {
    console.error(`settings_documented: ${bin} serve --help did not list VMDB_LISTEN; is it the vmdb binary?`);
    process.exit(1);
  }
}

const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const missing = [];
for (const [name, where] of [...names].sort()) {
  const inOps = ops.includes(`\`${name}\``);
  const inReadme = new RegExp(`^\\|\\s*\`${esc(name)}\`\\s*\\|`, 'm').test(readme);
  const inHelp = new RegExp(`\\b${esc(name)}\\b`).test(help);
  if (!inOps) missing.push(`${name} (read at ${where}): not in docs/OPERATIONS.md`);
  if (!inReadme && !inHelp) missing.push(`${name} (read at ${where}): neither in README.md's settings tables nor in a vmdb --help`);
}
if (missing.length) {
  console.error(`settings_documented: ${missing.length} gap(s):\n  ${missing.join('\n  ')}`);
  process.exit(1);
}
console.log(`settings_documented: ${names.size} settings, each in docs/OPERATIONS.md and README.md or --help (helpers: ${[...helpers].sort().join(', ')})`);

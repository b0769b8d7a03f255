#!/usr/bin/env node
// Include rules of the C sources: which part of vmdb may include which.
//
//   node scripts/check-includes.mjs [--root DIR]
//
// Scans every *.c and *.h under <root>/src and <root>/include/vmdb (root
// defaults to the repository root) and reads their includes of vmdb: every
// quoted one (`#include "x/y.h"`), and every `<x/y.h>` whose first folder is
// a part (`<server/server.h>` finds src/server/server.h through -Isrc just
// as well; other `<...>` are system headers). Both resolve to
// <root>/src/x/y.h, else <root>/include/x/y.h. Every file belongs to a part:
// include/vmdb/* is part `vmdb`, src/<dir>/... is part <dir> (subfolders
// count as their top folder). Exit 0 with one summary line on stdout when
// every rule holds; exit 1 with one line per violation on stderr otherwise
// (exit 2 on bad usage). Run by ctest as `include_rules`; the rules
// themselves are exercised by tests/include_rules_planted.mjs.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

// Which parts each part may include, besides itself. Lower parts never
// depend on higher ones, so each part can be built, tested and reasoned
// about with only the parts below it. `vmdb` (the public headers) and
// `core` are the verifier library that clients link: they must stay free
// of the server's modules. A new folder under src/ needs a line here.
const LAYERS = {
  vmdb:   [],                                   // public API: only itself
  core:   ['vmdb'],                             // implements the public API
  util:   ['vmdb', 'core'],                     // logging, arenas, text
  db:     ['util', 'vmdb', 'core'],             // database access
  anchor: ['util', 'vmdb', 'core'],             // publishes signed headers
  trust:  ['anchor', 'db', 'util', 'vmdb', 'core'],  // identity, trust state
  store:  ['trust', 'anchor', 'db', 'util', 'vmdb', 'core'],  // the engine
  server: ['store', 'trust', 'anchor', 'db', 'util', 'vmdb', 'core'],  // HTTP
  cli:    ['server', 'store', 'trust', 'anchor', 'db', 'util', 'vmdb', 'core'],
};

// Named invariants, checked on top of (and independently of) LAYERS, so
// that a careless edit of the table cannot silently allow them.
const FORBIDDEN = [
  { rule: 'core-is-pure', from: ['core', 'vmdb'],
    allows: (to) => to === 'core' || to === 'vmdb' },
  { rule: 'store-never-includes-server', from: ['store'],
    allows: (to) => to !== 'server' },
  { rule: 'trust-anchor-never-include-store', from: ['trust', 'anchor'],
    allows: (to) => to !== 'store' && to !== 'server' },
];

// The engine's wiring (the components' pointers) is for the files that
// implement the engine's calls; the components themselves get what they
// use explicitly, so that none can reach into another through it.
const WIRING = 'src/store/engine_internal.h';
const WIRING_USERS = ['src/store/engine.c', 'src/store/access.c', 'src/store/admin.c',
  'src/store/info.c'];

const SCANNED = ['src', path.join('include', 'vmdb')];
const INCLUDE_DIRS = ['src', 'include'];   // resolution order of "x/y.h"

const posix = (p) => p.split(path.sep).join('/');

// The part of a root-relative path (posix form), or null outside a folder.
function partOf(rel) {
  const [top, dir, ...rest] = rel.split('/');
  if ((top !== 'src' && top !== 'include') || rest.length === 0) return null;
  return dir;
}

function listSources(root) {
  const out = [];
  const walk = (dir) => {
    for (const ent of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, ent.name);
      if (ent.isDirectory()) walk(full);
      else if (ent.isFile() && /\.[ch]$/.test(ent.name)) out.push(posix(path.relative(root, full)));
    }
  };
  for (const d of SCANNED) if (existsSync(path.join(root, d))) walk(path.join(root, d));
  return out.sort();
}

// Blank out comments, keeping newlines (so line numbers hold) and string
// and character literals (so "/*" inside a string is not a comment).
function stripComments(text) {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      const stop = end < 0 ? text.length : end + 2;
      out += ' ' + text.slice(i, stop).replace(/[^\n]/g, '');
      i = stop - 1;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else {
      out += c;
    }
  }
  return out;
}

// An angle include names vmdb when its first folder is a part.
const ANGLE = new RegExp(`^\\s*#\\s*include\\s*<((?:${Object.keys(LAYERS).join('|')})/[^>]+)>`);

// The includes of vmdb in a file: {line, target, text} (text as written).
function vmdbIncludes(text) {
  const found = [];
  stripComments(text).split('\n').forEach((line, i) => {
    const q = /^\s*#\s*include\s*"([^"]+)"/.exec(line);
    const a = q ? null : ANGLE.exec(line);
    if (q) found.push({ line: i + 1, target: q[1], text: `#include "${q[1]}"` });
    else if (a) found.push({ line: i + 1, target: a[1], text: `#include <${a[1]}>` });
  });
  return found;
}

function resolve(root, target) {
  for (const d of INCLUDE_DIRS) {
    const rel = `${d}/${target}`;
    if (existsSync(path.join(root, rel)) && statSync(path.join(root, rel)).isFile()) return rel;
  }
  return null;
}

// One cycle per back edge of a depth-first walk, each reported once
// (rotations of the same cycle are merged). Every cyclic part of the graph
// gives at least one; after it is broken, a rerun shows any other.
function findCycles(graph) {
  const cycles = new Map();
  const state = new Map();   // node -> 'open' | 'done'
  const stack = [];
  const visit = (node) => {
    state.set(node, 'open');
    stack.push(node);
    for (const edge of graph.get(node) ?? []) {
      const s = state.get(edge.to);
      if (s === 'open') {
        const cyc = stack.slice(stack.indexOf(edge.to));
        const start = cyc.indexOf([...cyc].sort()[0]);
        const canon = [...cyc.slice(start), ...cyc.slice(0, start)];
        const key = canon.join('\0');
        if (!cycles.has(key)) cycles.set(key, { path: [...canon, canon[0]], file: node, line: edge.line });
      } else if (s === undefined && graph.has(edge.to)) {
        visit(edge.to);
      }
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return [...cycles.values()];
}

export function checkIncludes(root) {
  const files = listSources(root);
  const violations = [];
  const report = (rule, file, line, what) =>
    violations.push(`${rule}: ${file}${line ? `:${line}` : ''}: ${what}`);
  const graph = new Map();
  let includes = 0;

  for (const file of files) {
    const from = partOf(file);
    const allowed = from === null ? undefined : LAYERS[from];
    if (from === null) report('layering', file, 0, 'file is outside any part folder');
    else if (!Object.hasOwn(LAYERS, from)) report('layering', file, 0, `no layering rule for part ${from} (add it to LAYERS in scripts/check-includes.mjs)`);

    const edges = [];
    for (const { line, target, text: inc } of vmdbIncludes(readFileSync(path.join(root, file), 'utf8'))) {
      includes++;
      const to = resolve(root, target);
      if (to === null) {
        report('unresolved-include', file, line, `${inc}: unresolved include (no src/${target} or include/${target})`);
        continue;
      }
      edges.push({ to, line });
      if (to === WIRING && !WIRING_USERS.includes(file)) {
        report('engine-wiring-stays-in-the-engine', file, line,
          `${inc} (only ${WIRING_USERS.join(', ')} see the engine's wiring)`);
      }
      const toPart = partOf(to) ?? '(none)';
      if (from === null || toPart === from) continue;
      for (const f of FORBIDDEN) {
        if (f.from.includes(from) && !f.allows(toPart)) report(f.rule, file, line, `${inc} (part ${from} includes part ${toPart})`);
      }
      if (allowed && !allowed.includes(toPart)) {
        report('layering', file, line, `${inc} (part ${from} may include only ${[from, ...allowed].join(', ')}; not ${toPart})`);
      }
    }
    graph.set(file, edges);
  }

  for (const c of findCycles(graph)) {
    report('no-include-cycles', c.file, c.line, `include cycle ${c.path.join(' -> ')}`);
  }
  return { files: files.length, includes, violations };
}

function main(argv) {
  let root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--root' && i + 1 < argv.length) root = path.resolve(argv[++i]);
    else if (a.startsWith('--root=')) root = path.resolve(a.slice('--root='.length));
    else if (a === '-h' || a === '--help') {
      console.log('usage: node scripts/check-includes.mjs [--root DIR]');
      return 0;
    } else {
      console.error(`check-includes: unknown argument ${a} (usage: [--root DIR])`);
      return 2;
    }
  }
  if (!existsSync(path.join(root, 'src'))) {
    console.error(`check-includes: no src/ under ${root}`);
    return 2;
  }
  const { files, includes, violations } = checkIncludes(root);
  if (violations.length > 0) {
    for (const v of violations) console.error(v);
    return 1;
  }
  console.log(`check-includes: ${files} files scanned, ${includes} includes checked, no violations`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}

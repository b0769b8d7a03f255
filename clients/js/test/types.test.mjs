// The hand-written declarations (index.d.ts) against the code: every
// runtime export is declared, and a strict TypeScript program using the
// whole API type-checks (test/types/check.ts, compiled with the
// repository's devDependency `typescript`; skipped when it is not
// installed, e.g. outside `npm ci`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PKG = path.resolve(HERE, '..');
const TSC = path.resolve(PKG, '..', '..', 'node_modules', '.bin', 'tsc');

test('every runtime export of src/index.mjs is declared in index.d.ts', async () => {
  const mod = await import(path.join(PKG, 'src', 'index.mjs'));
  const dts = fs.readFileSync(path.join(PKG, 'index.d.ts'), 'utf8');
  const declared = new Set([...dts.matchAll(/^export (?:declare )?(?:class|function|const|let) ([A-Za-z_$][\w$]*)/gm)].map((m) => m[1]));
  const missing = Object.keys(mod).filter((k) => !declared.has(k));
  assert.deepEqual(missing, [], 'runtime exports without a declaration');
  const phantom = [...declared].filter((k) => !(k in mod));
  assert.deepEqual(phantom, [], 'declared values the module does not export');
});

test('a strict TypeScript program using the client type-checks', { skip: !fs.existsSync(TSC) && 'typescript is not installed (npm ci at the repository root)' }, () => {
  const r = spawnSync(TSC, ['-p', path.join(HERE, 'types', 'tsconfig.json')], { encoding: 'utf8' });
  assert.equal(r.status, 0, `tsc: ${r.stdout}${r.stderr}`);
});

test('ServerErrorCode names every error code of the server (src/server/render.c)', () => {
  const dts = fs.readFileSync(path.join(PKG, 'index.d.ts'), 'utf8');
  const union = dts.slice(dts.indexOf('export type ServerErrorCode'), dts.indexOf('export class VmdbServerError'));
  const declared = new Set([...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]));
  const render = path.resolve(PKG, '..', '..', 'src', 'server', 'render.c');
  if (!fs.existsSync(render)) return; // the package outside the repository
  const server = [...new Set([...fs.readFileSync(render, 'utf8').matchAll(/"([A-Z_]{4,})"/g)].map((m) => m[1]))];
  assert.deepEqual(server.filter((c) => !declared.has(c)), [], 'codes the server answers with that index.d.ts does not name');
});

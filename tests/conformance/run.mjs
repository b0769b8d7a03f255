#!/usr/bin/env node
// Runs the client conformance suite (tests/conformance/README.md):
//   node tests/conformance/run.mjs [--lang js|python] [vectors|live|examples|solana ...]
// --lang runs one client only (default: both, which must agree); the names
// pick test files (default: all four). Uses VMDB_BIN (default build/vmdb)
// and VMDB_TEST_PG_URL (a running cluster; otherwise each file starts its
// own), like tests/integration. Exit status is node --test's.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FILES = { vectors: 'vectors.test.mjs', live: 'live.test.mjs', examples: 'examples.test.mjs', solana: 'solana.test.mjs' };
const args = process.argv.slice(2);
const env = { ...process.env };
const picked = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--lang') env.CONFORM_LANG = args[++i];
  else if (a.startsWith('--lang=')) env.CONFORM_LANG = a.slice(7);
  else if (a === '-h' || a === '--help') {
    console.log('usage: node tests/conformance/run.mjs [--lang js|python] [vectors|live|examples|solana ...]');
    process.exit(0);
  } else if (FILES[a]) picked.push(FILES[a]);
  else {
    console.error(`run.mjs: unknown argument ${a}`);
    process.exit(2);
  }
}
if (env.CONFORM_LANG === 'py') env.CONFORM_LANG = 'python';
const files = (picked.length ? picked : Object.values(FILES)).map((f) => path.join(HERE, f));
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=3', '--test-timeout=180000', ...files], { stdio: 'inherit', env });
process.exit(r.status ?? 1);

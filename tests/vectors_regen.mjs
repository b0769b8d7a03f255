// Drift check between the two implementations of PROTOCOL.md: regenerates
// the vectors with scripts/gen-vectors.mjs (the independent JS
// implementation) into a temporary directory and requires them to be byte
// for byte the committed docs/vectors/v1.json and v2.json, which the C unit
// tests (test_vectors, test_vectors_v2) replay. A change to either side that
// is not carried into the committed vectors fails here. Needs only node.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = mkdtempSync(join(tmpdir(), 'vmdb-vectors-'));
let failed = false;
try {
  execFileSync(process.execPath, [join(root, 'scripts/gen-vectors.mjs'), '--out', out], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (const name of ['v1.json', 'v2.json']) {
    const got = readFileSync(join(out, name));
    const want = readFileSync(join(root, 'docs/vectors', name));
    if (!got.equals(want)) {
      let i = 0;
      while (i < got.length && i < want.length && got[i] === want[i]) i++;
      console.error(`docs/vectors/${name} differs from a fresh run of scripts/gen-vectors.mjs at byte ${i} ` +
        `(regenerated ${got.length} bytes, committed ${want.length}): run node scripts/gen-vectors.mjs and commit`);
      failed = true;
    } else {
      console.log(`docs/vectors/${name}: identical (${got.length} bytes)`);
    }
  }
} finally {
  rmSync(out, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

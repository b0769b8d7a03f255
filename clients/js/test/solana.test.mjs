// The Solana anchor parser of checkAnchored on the wire transactions of
// docs/vectors/solana.json (@solana/kit): a vmdb1 memo the identity signs is
// an anchor; a memo without the identity as account, a foreign memo text or a
// broken signature is not.
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { anchorOf, base58Decode } from '../src/solana.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const S = JSON.parse(fs.readFileSync(path.join(ROOT, 'docs/vectors/solana.json'), 'utf8'));

test('anchors in the Solana wire vectors', () => {
  let anchors = 0;
  for (const v of S.vectors) {
    const wire = Buffer.from(v.expected.base64, 'base64');
    const id = base58Decode(v.inputs.identityAddress);
    const a = anchorOf(wire, id);
    const m = /^vmdb1:(0|[1-9][0-9]*):([0-9a-f]{64}):([0-9a-f]{64})$/.exec(v.inputs.memo);
    const signs = (v.inputs.memoAccounts || []).length > 0;
    if (m && signs) {
      assert.deepEqual(a, { seq: Number(m[1]), header_hash: m[2], smt_root: m[3] }, v.name);
      anchors++;
      const bad = Buffer.from(wire);
      bad[1] ^= 1; // first signature
      assert.equal(anchorOf(bad, id), null);
      assert.equal(anchorOf(wire, Buffer.alloc(32, 7)), null); // another identity
    } else {
      assert.equal(a, null, v.name);
    }
  }
  assert.ok(anchors >= 1);
});

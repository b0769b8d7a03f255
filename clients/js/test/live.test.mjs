// The client against a real `vmdb serve` (private PostgreSQL, local anchor),
// skipped when the server binary is not built: proved writes and reads,
// a complete read-latest, the state file shared across clients, and the
// agent-memory example end to end (a row edited with psql is refused).
import test from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { BIN, ROOT, startServer, get, ok, tempDir } from '../../../tests/integration/lib.mjs';
import { VmdbClient, VmdbServerError } from '../src/index.mjs';

// Opt-in like the integration tests: VMDB_BIN names the server binary.
const skip = (!process.env.VMDB_BIN && 'VMDB_BIN is not set') || (!fs.existsSync(BIN) && `${BIN} is not built`);

test('live: a verified round trip and the agent-memory example', { skip, timeout: 300_000 }, async (t) => {
  const srv = await startServer();
  t.after(() => srv.stop());
  const publicKey = ok(await get(srv.url, '/api/identity')).public_key;
  const dir = tempDir('vmdb-client-js-live-');
  const state = path.join(dir, 'state.json');
  const out = execFileSync(process.execPath, [path.join(ROOT, 'examples/agent-memory/js/agent.mjs'), srv.url, publicKey, '--state', state],
    { env: { ...process.env, DATABASE_URL: srv.db }, encoding: 'utf8' });
  assert.match(out, /stored ids 1, 2, 3/);
  assert.match(out, /latest 3 memories \(complete: true/);
  assert.match(out, /refused by the (server|client)/);

  const db = new VmdbClient({ url: srv.url, publicKey, state });
  const before = (await db.state()).header.seq;
  const w = await db.createBatch('memories', [{ content: 'x' }]);
  assert.ok(w.header.seq > before);
  const u = await db.upsert('memories', [{ id: Number(w.ids[0]), content: 'y' }]);
  assert.deepEqual(u.ids, w.ids);
  const r = await db.readBatch('memories', [w.ids[0], '999']);
  assert.equal(r.records[0].content, 'y');
  assert.deepEqual(r.missing, ['999']);
  const d = await db.deleteBatch('memories', [w.ids[0]]);
  assert.deepEqual(d.ids, w.ids);
  const l = await db.readLatest('memories', { limit: 2, requireComplete: true });
  assert.equal(l.complete, true);
  const h = await db.sync();
  assert.equal((await db.state()).header.seq, h.seq);
  await assert.rejects(db.readBatch('memories', ['12345']), (e) => e instanceof VmdbServerError && e.code === 'NOT_FOUND');
  fs.rmSync(dir, { recursive: true, force: true });
});

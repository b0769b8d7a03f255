// Type-checked (not run) by ../types.test.mjs: the declarations describe the
// API a TypeScript agent uses, in strict mode.
import {
  VmdbClient, VerificationError, VmdbServerError, verifyAnswer, verifyHeader,
  verifyHistoryProof, verifyCheckpoint, verifyTransition, FileStateStore, MemoryStateStore,
  type Header, type ReasonCode, type ReadLatestResult, type State,
} from '@vmdb/client';

async function agent(publicKey: string): Promise<number> {
  const db = new VmdbClient({ url: 'http://127.0.0.1:3000', publicKey, state: './state.json', apiKey: 'k' });
  const w = await db.createBatch('memories', [{ agent: 'a1', text: 'tea' }]);
  const ids: string[] = w.ids;
  const latest: ReadLatestResult = await db.readLatest('memories', { limit: 10, requireComplete: true });
  const complete: boolean = latest.complete;
  const h: Header = latest.header;
  const r = await db.readBatch('memories', [...ids, 42]);
  const missing: string[] = r.missing;
  await db.upsert('memories', [{ id: 1, text: 'coffee' }]);
  const d = await db.deleteBatch('memories', ['1']);
  const tip: Header = await db.sync();
  const s: State | null = await db.state();
  try {
    await db.checkAnchored(h);
  } catch (e) {
    if (e instanceof VerificationError) {
      const code: ReasonCode = e.code;
      return code.length;
    }
    if (e instanceof VmdbServerError) return e.status;
    throw e;
  }
  const a = verifyAnswer({}, 'read-batch', publicKey, { table: 'memories', ids: ['1'] });
  const ok: boolean = a.ok && verifyHeader(h, publicKey).ok && verifyHistoryProof({}, publicKey).ok &&
    verifyCheckpoint('', publicKey).ok && verifyTransition({}, publicKey).ok;
  const tr = await db.transition(3);
  const trKind: unknown = tr.record.kind;
  new MemoryStateStore(s);
  new FileStateStore('./other.json');
  return (complete ? 1 : 0) + missing.length + d.ids.length + tip.seq + (ok ? 1 : 0) + tr.header.seq + (trKind ? 1 : 0);
}

export { agent };

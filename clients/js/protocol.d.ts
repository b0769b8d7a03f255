// Declarations of @vmdb/client/protocol: the protocol layer (PROTOCOL.md) the
// client is built on. Only the high-level checks are typed precisely; the
// low-level helpers (hashes, tree, JCS) are exported for tests and tools.
export {
  ReasonCode, REASON_CODES, CheckResult, AnswerKind, AnswerOptions, verifyAnswer, verifyHeader,
  verifyHistoryProof, verifyCheckpoint, verifyProofJson, verifyMultiproofJson,
  verifyTransition,
} from './index.js';
export function jcs(input: string | Uint8Array): string;
export function jcsAccepts(input: string | Uint8Array): boolean;
export function rowKey(table: string, pk: string): Buffer;
export function rowValueOf(record: Record<string, unknown>): Buffer;
export function transitionKey(seq: number | bigint): Buffer;
export function transitionValue(record: Record<string, unknown>): Buffer;
export function verifyTrustedState(file: unknown, publicKey: string): { ok: boolean; reason: string | null; code: string | null };

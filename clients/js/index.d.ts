// Type declarations of @vmdb/client (hand-written; the code is plain ESM).

export type ReasonCode =
  | 'BAD_ANSWER' | 'BAD_HEADER' | 'BAD_SIGNATURE' | 'WRONG_CHAIN' | 'BAD_PROOF'
  | 'INCOMPLETE' | 'ROLLBACK' | 'FORK' | 'NOT_ANCHORED';

export const REASON_CODES: readonly ReasonCode[];

/** A signed state header in its JSON form (PROTOCOL.md §6.3; v1 headers have no kind or chain_id). */
export interface Header {
  version: 1 | 2;
  seq: number;
  kind?: 'genesis' | 'write' | 'reset' | 'clear' | 'repair' | 'migrate' | 'upgrade';
  chain_id?: string;
  smt_root: string;
  prev: string;
  history_root: string;
  time_ms: number;
  schema_hash: string;
  header_hash?: string;
  sig: string;
}

/** The saved state: the same JSON as `vmdb verify --state FILE`. */
export interface State {
  chain_id: string | null;
  header: Header;
  public_key: string;
  version: 1;
}

export interface StateStore {
  load(): State | null | Promise<State | null>;
  save(state: State): void | Promise<void>;
}

export class MemoryStateStore implements StateStore {
  constructor(state?: State | null);
  load(): State | null;
  save(state: State): void;
}

/** The state file's text, exactly as `vmdb verify --state` writes it (one line). */
export function stateText(state: State): string;

/** Atomic (temporary file + rename), mode 0600. */
export class FileStateStore implements StateStore {
  constructor(file: string);
  load(): State | null;
  save(state: State): void;
}

export type Row = Record<string, unknown>;

export interface ClientOptions {
  url: string;
  /** The identity public key, 64 hex digits (from /api/identity plus attestation, or configuration). */
  publicKey: string;
  /** Pin the chain_id; default: the state's, else the first verified header's. */
  chainId?: string;
  /** A file path (Node) or a StateStore; default: in memory. */
  state?: string | StateStore;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** A Solana JSON-RPC URL, for checkAnchored. */
  solanaRpc?: string;
  fetch?: typeof globalThis.fetch;
}

export interface OrderBy { field: string; direction?: 'asc' | 'desc' }

export interface ReadLatestOptions {
  /** Default 10; the server caps it at 100. */
  limit?: number;
  where?: Record<string, unknown>;
  orderBy?: OrderBy;
  /** Throw VerificationError('INCOMPLETE') unless the answer is proven complete (PROTOCOL.md §10). */
  requireComplete?: boolean;
}

export interface WriteResult { ids: string[]; records: Row[]; header: Header }
export interface ReadBatchResult { ids: string[]; records: Row[]; missing: string[]; header: Header }
export interface ReadLatestResult { ids: string[]; records: Row[]; complete: boolean; header: Header }
export interface DeleteResult { ids: string[]; missing: string[]; header: Header }
export interface AnchorResult { anchoredSeq: number; slot: number; signature: string }

export const MAX_READ_LATEST: number;

export class VmdbClient {
  constructor(options: ClientOptions);
  createBatch(model: string, records: Row[]): Promise<WriteResult>;
  readBatch(model: string, ids: Array<string | number>): Promise<ReadBatchResult>;
  readLatest(model: string, options?: ReadLatestOptions): Promise<ReadLatestResult>;
  upsert(model: string, records: Row[]): Promise<WriteResult>;
  deleteBatch(model: string, ids: Array<string | number>): Promise<DeleteResult>;
  /** GET /bootstrap/schema, NOT verified (nothing signs the schema). */
  schema(): Promise<unknown>;
  /** Fetches /api/roots/latest, verifies the header and links it to the state. */
  sync(): Promise<Header>;
  /** The verified transition record of header seq (PROTOCOL.md §14.2). */
  transition(seq: number): Promise<{ record: Record<string, unknown>; header: Header }>;
  /** Needs solanaRpc; throws VerificationError('NOT_ANCHORED') when no anchor of the identity covers the header. */
  checkAnchored(header: Header): Promise<AnchorResult>;
  /** The saved state, or null before the first verified answer. */
  state(): Promise<State | null>;
}

export class VerificationError extends Error {
  constructor(code: ReasonCode, message?: string);
  code: ReasonCode;
}

/**
 * The error codes vmdb answers with (docs/openapi.json; src/server/render.c's
 * table). A newer server may add codes, hence the open end.
 */
export type ServerErrorCode =
  'BAD_REQUEST' |
  'COMMIT_UNKNOWN' |
  'CONFIRM_REQUIRED' |
  'CONSTRAINT_VIOLATION' |
  'DATABASE_ERROR' |
  'DB_UNAVAILABLE' |
  'DUPLICATE_ID' |
  'EMPTY_RECORDS' |
  'FORBIDDEN' |
  'HISTORY_BROKEN' |
  'INTEGRITY_VIOLATION' |
  'INTERNAL' |
  'INVALID_EXPECTED_ROOT' |
  'INVALID_JSON' |
  'INVALID_LIMIT' |
  'INVALID_ORDER_BY' |
  'INVALID_PAYLOAD' |
  'INVALID_RANGE' |
  'INVALID_SCHEMA' |
  'INVALID_SEQ' |
  'INVALID_VALUE' |
  'INVALID_WHERE' |
  'METHOD_NOT_ALLOWED' |
  'MIGRATION_CHANGED' |
  'MIGRATION_FAILED' |
  'MODEL_NOT_REGISTERED' |
  'NOT_FOUND' |
  'NO_MODELS' |
  'NO_TRANSITION' |
  'PAYLOAD_TOO_LARGE' |
  'REPAIR_CHANGES_ROWS' |
  'ROLLBACK_DETECTED' |
  'ROOT_CHANGED' |
  'ROUTE_NOT_FOUND' |
  'TABLE_NOT_MANAGED' |
  'TOO_MANY_IDS' |
  'UNAUTHORIZED' |
  'UNSUPPORTED_MEDIA_TYPE' |
  'UPSERT_NO_FIELDS' |
  'VALIDATION_FAILED' |
  'WRITES_UNAVAILABLE' |
  (string & {});

export class VmdbServerError extends Error {
  constructor(status: number, code: ServerErrorCode | null, message?: string, data?: unknown);
  status: number;
  /** The server's error code (NOT_FOUND, INTEGRITY_VIOLATION, WRITES_UNAVAILABLE, ...); null when the answer had none. */
  code: ServerErrorCode | null;
  data: unknown;
}

/** Offline checks; they never throw on untrusted input. */
export interface CheckResult { ok: boolean; reason: string | null; code: ReasonCode | null }

export type AnswerKind = 'read-batch' | 'read-latest' | 'create-batch' | 'upsert' | 'delete-batch';

export interface AnswerOptions {
  chainId?: string;
  table?: string;
  ids?: string[];
  order?: 'asc' | 'desc';
  limit?: number;
  requireComplete?: boolean;
}

export function verifyAnswer(data: unknown, kind: AnswerKind, publicKey: string, opts?: AnswerOptions): CheckResult & { header?: unknown };
export function verifyHeader(header: unknown, publicKey: string, opts?: { chainId?: string; allowV1?: boolean }): CheckResult & { header?: unknown };
export function verifyHistoryProof(proof: unknown, publicKey: string, opts?: { chainId?: string; trustedHash?: string }): CheckResult & { from?: unknown; to?: unknown };
export function verifyCheckpoint(note: string, publicKey: string, opts?: { origin?: string }): CheckResult & { origin?: string; size?: number; root?: string };
export function verifyProofJson(root: string, proof: unknown): CheckResult & { key?: string; present?: boolean; value?: string | null };
export function verifyMultiproofJson(root: string, multiproof: unknown): CheckResult & { values?: Map<string, string | null> };
/** The data of GET /api/roots/{seq}/transition (PROTOCOL.md §14.2). */
export function verifyTransition(data: unknown, publicKey: string, opts?: { chainId?: string }): CheckResult & { header?: unknown; record?: Record<string, unknown> };

// index.mjs — @vmdb/client: a vmdb client that believes nothing it has not
// checked.
//
// Every data call asks for proofs ("proof": true), verifies the answer with
// the pinned identity key (PROTOCOL.md §9 steps 1-5, §10 for read-latest),
// links the answer's header to the newest header the client already trusts
// (a history proof, §11.1, whenever the seq moves: a server restored from an
// older backup or showing two histories is caught here) and only then
// resolves. Anything that does not check throws VerificationError with a
// stable reason code; the server's own errors throw VmdbServerError. The
// protocol layer (protocol.mjs) is exported too, for offline checks.

import * as P from './protocol.mjs';
import { VerificationError, VmdbServerError } from './errors.mjs';
import { FileStateStore, MemoryStateStore, stateText } from './state.mjs';
import { listAnchors } from './solana.mjs';

export { VerificationError, VmdbServerError, FileStateStore, MemoryStateStore, stateText };
export { verifyAnswer, verifyHeader, verifyHistoryProof, verifyCheckpoint, verifyProofJson, verifyMultiproofJson,
  verifyTransition, REASON_CODES } from './protocol.mjs';

/** read-latest: the server caps `limit` at this (docs/openapi.json), and proves the capped limit. */
export const MAX_READ_LATEST = 100;

const HEX64 = /^[0-9a-fA-F]{64}$/;

/** A strictly parsed JSON value (PROTOCOL §2.1: no duplicate names, exact numbers) as plain JS values. */
function plain(v) {
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof P.JObject) {
    const o = {};
    for (const [k, x] of v.members) Object.defineProperty(o, k, { value: plain(x), enumerable: true, writable: true, configurable: true });
    return o;
  }
  return v;
}

/** Throws VerificationError for a failed protocol check. */
function check(r) {
  if (!r.ok) throw new VerificationError(r.code, r.reason);
  return r;
}

export class VmdbClient {
  /**
   * opts: url, publicKey (hex, required), chainId (hex, optional pin), state
   * (file path or StateStore; default in memory), apiKey (Authorization:
   * Bearer), solanaRpc (URL, for checkAnchored), fetch (default globalThis.fetch).
   */
  constructor(opts = {}) {
    if (!opts.url) throw new Error('VmdbClient: url is required');
    if (typeof opts.publicKey !== 'string' || !HEX64.test(opts.publicKey)) throw new Error('VmdbClient: publicKey (64 hex digits) is required');
    if (opts.chainId != null && (typeof opts.chainId !== 'string' || !HEX64.test(opts.chainId))) throw new Error('VmdbClient: chainId must be 64 hex digits');
    this.url = String(opts.url).replace(/\/+$/, '');
    this.publicKey = opts.publicKey.toLowerCase();
    this.chainId = opts.chainId ? opts.chainId.toLowerCase() : null;
    this.apiKey = opts.apiKey ?? null;
    this.solanaRpc = opts.solanaRpc ?? null;
    this.fetch = opts.fetch ?? globalThis.fetch;
    if (opts.state == null) this.store = new MemoryStateStore();
    else if (typeof opts.state === 'string') this.store = new FileStateStore(opts.state);
    else if (typeof opts.state.load === 'function' && typeof opts.state.save === 'function') this.store = opts.state;
    else throw new Error('VmdbClient: state is a file path or an object with load() and save()');
    this._state = undefined; // {chain_id, header (JSON), public_key, version, parsed}; null: none yet
    this._lock = Promise.resolve();
  }

  // ---- HTTP ----------------------------------------------------------------

  /** One request; resolves to the envelope's `data` (verified by nobody yet). */
  async _request(method, path, body) {
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    const res = await this.fetch(this.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = Buffer.from(await res.arrayBuffer());
    let env;
    try {
      env = plain(P.parseJson(text));
    } catch (e) {
      if (!res.ok) throw new VmdbServerError(res.status, null, `HTTP ${res.status}: ${text.toString('utf8').slice(0, 200)}`);
      throw new VerificationError('BAD_ANSWER', `answer is not valid JSON: ${e.message}`);
    }
    if (!env || typeof env !== 'object' || Array.isArray(env)) throw new VerificationError('BAD_ANSWER', 'answer is not a JSON object');
    if (env.success === false || !res.ok) {
      throw new VmdbServerError(res.status, typeof env.code === 'string' ? env.code : null,
        typeof env.error === 'string' ? env.error : `HTTP ${res.status}`, env.data);
    }
    if (env.success !== true || env.data === undefined) {
      // /bootstrap/schema answers its data without the envelope
      if (path === '/bootstrap/schema') return env;
      throw new VerificationError('BAD_ANSWER', 'answer has no success envelope with data');
    }
    return env.data;
  }

  // ---- state ---------------------------------------------------------------

  /** Serialises state updates: answers of concurrent calls are linked one at a time. */
  _serial(fn) {
    const run = this._lock.then(fn, fn);
    this._lock = run.then(() => {}, () => {});
    return run;
  }

  async _loadState() {
    if (this._state !== undefined) return this._state;
    const s = await this.store.load();
    if (!s) { this._state = null; return null; }
    if (typeof s.public_key !== 'string' || s.public_key.toLowerCase() !== this.publicKey) {
      throw new Error(`the saved state is for another public key (${s.public_key}) than the configured one`);
    }
    const savedChain = s.chain_id ? String(s.chain_id).toLowerCase() : null;
    if (this.chainId && savedChain && savedChain !== this.chainId) {
      throw new VerificationError('WRONG_CHAIN', `the saved state pins chain ${savedChain}, not the configured ${this.chainId}`);
    }
    const pin = this.chainId ?? savedChain ?? undefined;
    const r = P.verifyHeader(s.header, this.publicKey, { chainId: pin, allowV1: true });
    if (!r.ok) throw new Error(`the saved state's header does not verify: ${r.reason}`);
    if (!this.chainId && savedChain) this.chainId = savedChain;
    this._state = { ...s, parsed: r.header };
    return this._state;
  }

  async _saveState(h) {
    if (!this.chainId && h.version === 2) this.chainId = P.hex(h.chain_id);
    const s = { chain_id: this.chainId, header: P.headerJson(h, h.sig), public_key: this.publicKey, version: 1 };
    await this.store.save({ chain_id: s.chain_id, header: s.header, public_key: s.public_key, version: 1 });
    this._state = { ...s, parsed: h };
  }

  /** The saved state (the vmdb verify --state object), or null. */
  async state() {
    const s = await this._serial(() => this._loadState());
    return s && { chain_id: s.chain_id, header: s.header, public_key: s.public_key, version: 1 };
  }

  /** Fetches and verifies the history proof from seq a to seq b (a <= b); null when the server cannot give it. */
  async _history(a, b) {
    let data;
    try {
      data = await this._request('GET', `/api/roots/proof?from=${a}&to=${b}`);
    } catch (e) {
      if (e instanceof VmdbServerError && e.status >= 400 && e.status < 500) return { missing: e };
      throw e;
    }
    return { data, r: P.verifyHistoryProof(data, this.publicKey, { chainId: this.chainId ?? undefined }) };
  }

  /** Links a verified header to the state (§11.1) and keeps the newer one. */
  _link(h) {
    return this._serial(async () => {
      const s = await this._loadState();
      if (!s) return this._saveState(h);
      const t = s.parsed;
      if (h.seq === t.seq) {
        if (!h.header_hash.equals(t.header_hash)) {
          throw new VerificationError('FORK', `two different headers for seq ${h.seq}: the saved ${P.hex(t.header_hash)} and the server's ${P.hex(h.header_hash)}`);
        }
        return undefined;
      }
      const older = h.seq < t.seq ? h : t, newer = h.seq < t.seq ? t : h;
      const code = h.seq < t.seq ? 'ROLLBACK' : 'FORK';
      const what = h.seq < t.seq
        ? `the server's header ${h.seq} is older than the saved header ${t.seq}`
        : `the server's header ${h.seq} does not extend the saved header ${t.seq}`;
      const got = await this._history(older.seq, newer.seq);
      if (got.missing) throw new VerificationError(code, `${what}, and the server gives no history proof (${got.missing.code ?? got.missing.status}: ${got.missing.message})`);
      if (!got.r.ok) throw new VerificationError(code, `${what}: the history proof does not verify (${got.r.reason})`);
      if (!got.r.from.header_hash.equals(older.header_hash) || !got.r.to.header_hash.equals(newer.header_hash)) {
        throw new VerificationError(code, `${what}: the history proof is between other headers`);
      }
      if (h.seq > t.seq) return this._saveState(h);
      return undefined;
    });
  }

  // ---- data calls ----------------------------------------------------------

  async _verified(kind, model, path, body, opts) {
    const data = await this._request('POST', `/api/models/${encodeURIComponent(model)}/${path}`, { ...body, proof: true });
    await this._loadState();
    const r = check(P.verifyAnswer(data, kind, this.publicKey, { chainId: this.chainId ?? undefined, table: model, ...opts }));
    await this._link(r.header);
    return { data, header: data.proof.header };
  }

  /** Inserts records; -> {ids, records, header}. */
  async createBatch(model, records) {
    const { data, header } = await this._verified('create-batch', model, 'create-batch', { records });
    return { ids: data.ids, records: data.records, header };
  }

  /** Reads rows by id; -> {ids, records, missing, header}. Ids that are no row are proven absent. */
  async readBatch(model, ids) {
    const want = ids.map(String);
    const { data, header } = await this._verified('read-batch', model, 'read-batch', { ids: want }, { ids: want });
    return { ids: data.ids, records: data.records, missing: data.missing ?? [], header };
  }

  /**
   * The newest rows; -> {ids, records, complete, header}. complete: the
   * answer is proven to hold the `limit` rows with the highest (desc) or
   * lowest (asc) ids (§10; only by primary key, without where).
   * requireComplete: throw INCOMPLETE unless it is.
   */
  async readLatest(model, { limit = 10, where, orderBy, requireComplete = false } = {}) {
    const body = { limit };
    if (where != null) body.where = where;
    if (orderBy != null) body.order_by = orderBy;
    const opts = { requireComplete };
    if (Number.isSafeInteger(limit) && limit > 0) opts.limit = Math.min(limit, MAX_READ_LATEST);
    opts.order = orderBy?.direction ?? 'desc';
    const { data, header } = await this._verified('read-latest', model, 'read-latest', body, opts);
    return { ids: data.ids, records: data.records, complete: data.complete === true, header };
  }

  /** Inserts or updates records (by primary key); -> {ids, records, header}. */
  async upsert(model, records) {
    const { data, header } = await this._verified('upsert', model, 'upsert', { records });
    return { ids: data.ids, records: data.records, header };
  }

  /** Deletes rows by id; -> {ids, missing, header}; every id is proven absent afterwards. */
  async deleteBatch(model, ids) {
    const want = ids.map(String);
    const { data, header } = await this._verified('delete-batch', model, 'delete-batch', { ids: want }, { ids: want });
    return { ids: data.ids, missing: data.missing ?? [], header };
  }

  /** The server's schema (GET /bootstrap/schema). NOT verified: nothing signs it. */
  async schema() {
    return this._request('GET', '/bootstrap/schema');
  }

  /** Fetches the newest header (/api/roots/latest), verifies it and links it to the state; -> header. */
  async sync() {
    const data = await this._request('GET', '/api/roots/latest');
    await this._loadState();
    const r = check(P.verifyHeader(data?.header, this.publicKey, { chainId: this.chainId ?? undefined }));
    await this._link(r.header);
    return data.header;
  }

  /**
   * The transition record of header `seq` (PROTOCOL.md §14.2: what a repair,
   * clear, reset or migrate did), verified against that signed header, whose
   * history is linked to the state; -> {record, header}.
   */
  async transition(seq) {
    const data = await this._request('GET', `/api/roots/${encodeURIComponent(String(seq))}/transition`);
    await this._loadState();
    const r = check(P.verifyTransition(data, this.publicKey, { chainId: this.chainId ?? undefined }));
    if (String(r.header.seq) !== String(seq)) throw new VerificationError('BAD_ANSWER', `asked for the transition of ${seq}, got ${r.header.seq}`);
    await this._link(r.header);
    return { record: r.record, header: data.header };
  }

  /**
   * With solanaRpc: whether an anchor of the identity covers `header` (an
   * anchor of the header itself, or of a later header that a verified
   * history proof links it to); -> {anchoredSeq, slot, signature}.
   * Throws NOT_ANCHORED otherwise, or when two anchors of one seq differ.
   */
  async checkAnchored(header) {
    if (!this.solanaRpc) throw new Error('checkAnchored needs the solanaRpc option');
    await this._loadState();
    const h = check(P.verifyHeader(header, this.publicKey, { chainId: this.chainId ?? undefined })).header;
    const hh = P.hex(h.header_hash);
    const anchors = await listAnchors(this.solanaRpc, P.base58(P.unhex(this.publicKey)), this.fetch);
    const bySeq = new Map();
    for (const a of anchors) {
      const o = bySeq.get(a.seq);
      if (o && o.header_hash !== a.header_hash) {
        throw new VerificationError('NOT_ANCHORED', `two anchors of seq ${a.seq} with different headers (${o.signature}, ${a.signature})`);
      }
      bySeq.set(a.seq, a);
    }
    const same = bySeq.get(h.seq);
    if (same) {
      if (same.header_hash !== hh || same.smt_root !== P.hex(h.smt_root)) {
        throw new VerificationError('NOT_ANCHORED', `the anchor of seq ${h.seq} (${same.signature}) is of another header`);
      }
      return { anchoredSeq: same.seq, slot: same.slot, signature: same.signature };
    }
    const later = [...bySeq.values()].filter((a) => a.seq > h.seq).sort((a, b) => a.seq - b.seq)[0];
    if (!later) throw new VerificationError('NOT_ANCHORED', `no anchor of the identity at seq ${h.seq} or later`);
    const got = await this._history(h.seq, later.seq);
    if (got.missing || !got.r.ok) {
      throw new VerificationError('NOT_ANCHORED', `no history proof links header ${h.seq} to the anchor of seq ${later.seq}: ${got.missing ? got.missing.message : got.r.reason}`);
    }
    if (!got.r.from.header_hash.equals(h.header_hash) || P.hex(got.r.to.header_hash) !== later.header_hash ||
        P.hex(got.r.to.smt_root) !== later.smt_root) {
      throw new VerificationError('NOT_ANCHORED', `header ${h.seq} is not an ancestor of the anchored header ${later.seq}`);
    }
    return { anchoredSeq: later.seq, slot: later.slot, signature: later.signature };
  }
}

// The chain model of solana-local: LiteSVM (signature verification on, its
// own blockhash check off) plus what LiteSVM lacks and a real cluster has:
// blocks with heights, slots, times and blockhashes that stay valid for 150
// blocks; commitment levels; a ledger of committed transactions indexed by
// every account they mention; preflight that never commits.
import crypto from 'node:crypto';
import './napi-guard.mjs';
import { LiteSVM } from 'litesvm';
import internal from 'litesvm/dist/internal.js';
import {
  RpcError, invalidParams, parseTransaction, sanitizeTransaction,
  extractMemo, toBase58, fromBase58, txErrorToJson, txErrorText,
  PACKET_DATA_SIZE, MAX_BASE58_SIZE, MAX_BASE64_SIZE, TX_TYPE_NAME, ALT_PROGRAM,
} from './wire.mjs';

const { FailedTransactionMetadata, Account } = internal;

export const MAX_PROCESSING_AGE = 150; // blocks a blockhash stays usable
export const FINALITY_DEPTH = 32; // blocks until a block is rooted (finalized)
const STATUS_CACHE_BLOCKS = 300; // getSignatureStatuses without history search
const KEEP_BLOCKS = 1024; // blocks (and their blockhashes) remembered
const SLOT_HEIGHT_GAP = 20_000_000n; // genesis block height = genesis slot - this
const FAUCET_LAMPORTS = 500_000_000n * 1_000_000_000n; // 500M SOL
export const CORE_VERSION = '4.3.0'; // the agave crates litesvm 1.5.0 is built on
const U64_MAX = (1n << 64n) - 1n;
const SLOT_MS = 400; // nominal slot duration

const COMMITMENTS = ['processed', 'confirmed', 'finalized'];

export function parseCommitment(c, dflt = 'finalized') {
  if (c === undefined || c === null) return dflt;
  if (COMMITMENTS.includes(c)) return c;
  throw invalidParams(
    `Invalid params: unknown variant \`${c}\`, expected one of \`processed\`, \`confirmed\`, \`finalized\`.`,
  );
}

function atLeastConfirmed(c) {
  if (c === 'processed') throw invalidParams('Method does not support commitment below `confirmed`');
}

function cmpBytes(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

// Newest first, the blockstore's order: slot descending, and within a slot
// signature bytes descending (not the order inside the block).
function cmpDesc(x, y) {
  if (x.slot !== y.slot) return x.slot > y.slot ? -1 : 1;
  return -cmpBytes(x.sigBytes, y.sigBytes);
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
function ed25519Verify(pub, msg, sig) {
  try {
    const key = crypto.createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, pub]), format: 'der', type: 'spki' });
    return crypto.verify(null, msg, key, sig);
  } catch {
    return false;
  }
}

function u64le(n) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

function decodeWire(encoded, encoding) {
  if (typeof encoded !== 'string') throw invalidParams('Invalid params: invalid type: expected a string.');
  let wire;
  if (encoding === 'base58') {
    if (encoded.length > MAX_BASE58_SIZE)
      throw invalidParams(
        `base58 encoded ${TX_TYPE_NAME} too large: ${encoded.length} bytes (max: encoded/raw ${MAX_BASE58_SIZE}/${PACKET_DATA_SIZE})`,
      );
    const m = /[^1-9A-HJ-NP-Za-km-z]/.exec(encoded);
    if (m) throw invalidParams(`invalid base58 encoding: InvalidCharacter { character: '${m[0]}', index: ${m.index} }`);
    wire = encoded.length ? fromBase58(encoded) : new Uint8Array(0);
    if (!wire) throw invalidParams('invalid base58 encoding: BufferTooSmall');
  } else if (encoding === 'base64') {
    if (encoded.length > MAX_BASE64_SIZE)
      throw invalidParams(
        `base64 encoded ${TX_TYPE_NAME} too large: ${encoded.length} bytes (max: encoded/raw ${MAX_BASE64_SIZE}/${PACKET_DATA_SIZE})`,
      );
    const m = /[^A-Za-z0-9+/=]/.exec(encoded);
    if (m) throw invalidParams(`invalid base64 encoding: InvalidByte(${m.index}, ${m[0].charCodeAt(0)})`);
    if (encoded.length % 4 !== 0 || /=[^=]/.test(encoded) || /={3,}$/.test(encoded))
      throw invalidParams('invalid base64 encoding: InvalidPadding');
    wire = new Uint8Array(Buffer.from(encoded, 'base64'));
  } else {
    throw invalidParams(`unsupported encoding: ${encoding}. Supported encodings: base58, base64`);
  }
  if (wire.length > PACKET_DATA_SIZE)
    throw invalidParams(`decoded ${TX_TYPE_NAME} too large: ${wire.length} bytes (max: ${PACKET_DATA_SIZE} bytes)`);
  return wire;
}

function addressParam(s) {
  const b = fromBase58(s, 32);
  if (!b) throw invalidParams('Invalid param: Invalid');
  return b;
}

function signatureParam(s) {
  const b = fromBase58(s, 64);
  if (!b) throw invalidParams('Invalid param: Invalid');
  return b;
}

function config(cfg) {
  if (cfg === undefined || cfg === null) return {};
  if (typeof cfg !== 'object' || Array.isArray(cfg)) throw invalidParams('Invalid params: invalid type: expected a map.');
  return cfg;
}

export class Chain {
  constructor({ log = () => {} } = {}) {
    this.log = log;
    this.svm = new LiteSVM().withSigverify(true).withBlockhashCheck(false);
    this.inner = this.svm.inner;
    this.blocks = new Map(); // height -> {height, slot, blockhash, blockTime}
    this.issued = new Map(); // blockhash -> height
    this.txs = new Map(); // first signature (base58) -> record
    this.byAddress = new Map(); // address (base58) -> [record] in commit order
    this.seq = 0;
    this.droppedCount = 0;
    this.slotHashes = [];

    const clock = this.svm.getClock();
    this.slot = clock.slot;
    this.height = clock.slot - SLOT_HEIGHT_GAP;
    this.genesisHeight = this.height;
    this.addBlock(this.svm.latestBlockhash());
    this.genesisHash = this.svm.latestBlockhash();

    // The faucet behind requestAirdrop: a real key whose transfers are real
    // transactions, indexed like any other.
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
    this.faucetKey = privateKey;
    this.faucetPub = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }).subarray(12));
    this.inner.setAccount(
      this.faucetPub,
      new Account(FAUCET_LAMPORTS, new Uint8Array(0), new Uint8Array(32), false, U64_MAX),
    );
  }

  // ------------------------------------------------------------------ blocks

  addBlock(blockhash) {
    // Block time: never behind the wall clock, and at least 400 ms per slot
    // after the previous block, so that advancing blocks also moves time.
    const prev = this.blocks.get(this.height - 1n);
    const timeMs = prev ? Math.max(Date.now(), prev.timeMs + SLOT_MS * Number(this.slot - prev.slot)) : Date.now();
    const blockTime = Math.floor(timeMs / 1000);
    this.blocks.set(this.height, { height: this.height, slot: this.slot, blockhash, blockTime, timeMs });
    this.issued.set(blockhash, this.height);
    const old = this.blocks.get(this.height - BigInt(KEEP_BLOCKS));
    if (old) {
      this.blocks.delete(old.height);
      this.issued.delete(old.blockhash);
    }
    const clock = this.svm.getClock();
    clock.slot = this.slot;
    clock.unixTimestamp = BigInt(blockTime);
    const es = this.svm.getEpochSchedule();
    const epoch = this.epochOf(this.slot, es).epoch;
    clock.epoch = epoch;
    clock.leaderScheduleEpoch = epoch + 1n;
    this.svm.setClock(clock);
    // SlotHashes: the ancestors' slots (newest first, at most 512), as a bank
    // sees them, so that programs that read it — e.g. creating an address
    // lookup table — see the slots this chain made.
    if (prev) this.slotHashes.unshift({ slot: prev.slot, hash: prev.blockhash });
    if (this.slotHashes.length > 512) this.slotHashes.pop();
    this.svm.setSlotHashes(this.slotHashes);
  }

  /** Produces one block: a new height, slot, blockhash and clock. */
  produceBlock() {
    this.height += 1n;
    // Every fourth block follows a skipped leader slot, so slots run ahead
    // of block heights (as on a real cluster) and the two are never equal.
    this.slot += this.height % 4n === 0n ? 2n : 1n;
    this.svm.expireBlockhash();
    this.addBlock(this.svm.latestBlockhash());
  }

  advance(n) {
    for (let i = 0; i < n; i++) this.produceBlock();
  }

  epochOf(slot, es = this.svm.getEpochSchedule()) {
    if (es.warmup && slot < es.firstNormalSlot) {
      // Warm-up epochs: 32, 64, ... slots.
      let len = 32n;
      let start = 0n;
      let epoch = 0n;
      while (slot >= start + len) {
        start += len;
        len *= 2n;
        epoch += 1n;
      }
      return { epoch, slotIndex: slot - start, slotsInEpoch: len };
    }
    const off = slot - (es.warmup ? es.firstNormalSlot : 0n);
    return {
      epoch: (es.warmup ? es.firstNormalEpoch : 0n) + off / es.slotsPerEpoch,
      slotIndex: off % es.slotsPerEpoch,
      slotsInEpoch: es.slotsPerEpoch,
    };
  }

  /** Height of the newest block at a commitment level. */
  visibleHeight(commitment) {
    const back = commitment === 'processed' ? 0n : commitment === 'confirmed' ? 1n : BigInt(FINALITY_DEPTH);
    const h = this.height - back;
    return h < this.genesisHeight ? this.genesisHeight : h;
  }

  /** The block a read at `commitment` sees, checking minContextSlot like the RPC. */
  bank(commitment, cfg = {}) {
    const block = this.blocks.get(this.visibleHeight(commitment));
    const min = cfg.minContextSlot;
    if (min !== undefined && min !== null) {
      if (!Number.isInteger(min) || min < 0) throw invalidParams('Invalid params: invalid type: expected u64.');
      if (BigInt(min) > block.slot)
        throw new RpcError(-32016, 'Minimum context slot has not been reached', { contextSlot: block.slot });
    }
    return block;
  }

  confirmationStatus(rec) {
    const age = this.height - rec.height;
    if (age >= BigInt(FINALITY_DEPTH)) return 'finalized';
    return age >= 1n ? 'confirmed' : 'processed';
  }

  // ------------------------------------------------------------ transactions

  /** Resolves v0 address-table lookups against current account state. */
  resolveLookups(tx) {
    const writable = [];
    const readonly = [];
    for (const l of tx.lookups) {
      const acct = this.inner.getAccount(l.accountKey);
      if (!acct) throw invalidParams("invalid transaction: Transaction loads an address table account that doesn't exist");
      if (toBase58(acct.owner()) !== ALT_PROGRAM)
        throw invalidParams('invalid transaction: Transaction loads an address table account with an invalid owner');
      const data = acct.data();
      if (data.length < 56 || (data.length - 56) % 32 !== 0)
        throw invalidParams('invalid transaction: Transaction loads an address table account with invalid data');
      const n = (data.length - 56) / 32;
      const pick = (i) => {
        if (i >= n) throw invalidParams('invalid transaction: Transaction address table lookup uses an invalid index');
        return data.slice(56 + 32 * i, 56 + 32 * (i + 1));
      };
      for (const i of l.writableIndexes) writable.push(pick(i));
      for (const i of l.readonlyIndexes) readonly.push(pick(i));
    }
    return { writable, readonly };
  }

  verifySignatures(tx) {
    return tx.signatures.every((s, i) => ed25519Verify(tx.staticKeys[i], tx.messageBytes, s));
  }

  blockhashUsable(tx, atHeight) {
    const h = this.issued.get(toBase58(tx.recentBlockhash));
    return h !== undefined && h <= atHeight && atHeight - h <= BigInt(MAX_PROCESSING_AGE);
  }

  balanceOf(keyBytes) {
    return this.inner.getBalance(keyBytes) ?? 0n;
  }

  /** sendTransaction: decode, sanitize, preflight (unless skipped), land. */
  sendTransaction(encoded, cfgIn) {
    const cfg = config(cfgIn);
    const wire = decodeWire(encoded, cfg.encoding ?? 'base58');
    const tx = parseTransaction(wire);
    sanitizeTransaction(tx);
    const skip = cfg.skipPreflight === true;
    const pc = skip ? 'processed' : parseCommitment(cfg.preflightCommitment);
    const pbank = this.bank(pc, cfg);
    const loaded = this.resolveLookups(tx);
    const sig = toBase58(tx.signatures[0]);
    const canonical = Uint8Array.from(wire.subarray(0, tx.length));

    if (!skip) {
      if (!this.verifySignatures(tx)) throw new RpcError(-32003, 'Transaction signature verification failure');
      // The simulation runs against the preflight bank: its blockhash queue
      // and its status cache.
      if (!this.blockhashUsable(tx, pbank.height)) throw preflightFailure('BlockhashNotFound', [], 0n);
      const seen = this.txs.get(sig);
      if (seen && seen.height <= pbank.height) throw preflightFailure('AlreadyProcessed', [], 0n);
      if (!seen) {
        const sim = this.inner.simulateVersionedTransaction(canonical);
        if (sim instanceof FailedTransactionMetadata) {
          const m = sim.meta();
          throw preflightFailure(txErrorToJson(sim.err()), m.logs(), m.computeUnitsConsumed());
        }
      }
    }
    this.land(canonical, loaded);
    return sig;
  }

  /**
   * Executes a transaction in the current block. One that cannot be
   * included (duplicate, blockhash unknown or too old, bad signature, fee
   * payer unable to pay) is dropped without a trace, as a leader drops it;
   * one that fails while executing is recorded with its error and fee.
   */
  land(canonical, loaded) {
    const tx = parseTransaction(canonical);
    const sig = toBase58(tx.signatures[0]);
    if (this.txs.has(sig) || !this.blockhashUsable(tx, this.height)) {
      this.droppedCount++;
      return null;
    }
    const keys = [...tx.staticKeys, ...loaded.writable, ...loaded.readonly];
    const pre = keys.map((k) => this.balanceOf(k));
    const res = this.inner.sendVersionedTransaction(canonical);
    let err = null;
    let meta = res;
    if (res instanceof FailedTransactionMetadata) {
      if (this.inner.getTransaction(tx.signatures[0]) === null) {
        this.droppedCount++;
        this.log(`dropped ${sig}: ${JSON.stringify(txErrorToJson(res.err()))}`);
        return null;
      }
      err = txErrorToJson(res.err());
      meta = res.meta();
    }
    const post = keys.map((k) => this.balanceOf(k));
    const fee = pre.reduce((a, b) => a + b, 0n) - post.reduce((a, b) => a + b, 0n);
    const block = this.blocks.get(this.height);
    const inner = meta.innerInstructions();
    const rd = meta.returnData();
    const rdData = rd.data();
    const rec = {
      sig,
      sigBytes: tx.signatures[0],
      seq: this.seq++,
      height: block.height,
      slot: block.slot,
      blockTime: block.blockTime,
      wire: canonical,
      tx,
      loaded: { writable: loaded.writable.map(toBase58), readonly: loaded.readonly.map(toBase58) },
      keys: keys.map(toBase58),
      err,
      fee,
      pre,
      post,
      logs: meta.logs(),
      computeUnitsConsumed: meta.computeUnitsConsumed(),
      innerInstructions: inner
        .map((list, index) => ({
          index,
          instructions: list.map((ii) => {
            const ci = ii.instruction();
            return {
              programIdIndex: ci.programIdIndex(),
              accounts: Array.from(ci.accounts()),
              data: toBase58(ci.data()),
              stackHeight: ii.stackHeight(),
            };
          }),
        }))
        .filter((e) => e.instructions.length > 0),
      returnData: rdData.length ? { programId: toBase58(rd.programId()), data: [Buffer.from(rdData).toString('base64'), 'base64'] } : null,
      memo: extractMemo(tx),
    };
    this.txs.set(sig, rec);
    for (const k of new Set(rec.keys)) {
      let list = this.byAddress.get(k);
      if (!list) this.byAddress.set(k, (list = []));
      list.push(rec);
    }
    return rec;
  }

  /** requestAirdrop: a System transfer from the faucet, landed without preflight. */
  requestAirdrop(addr, lamports, cfgIn) {
    config(cfgIn);
    const to = addressParam(addr);
    if (typeof lamports !== 'number' || !Number.isInteger(lamports) || lamports < 0)
      throw invalidParams('Invalid params: invalid type: expected u64.');
    const blockhash = fromBase58(this.blocks.get(this.height).blockhash, 32);
    const system = new Uint8Array(32);
    const sameKey = Buffer.compare(Buffer.from(to), Buffer.from(this.faucetPub)) === 0;
    const keys = sameKey ? [this.faucetPub, system] : [this.faucetPub, to, system];
    const data = Buffer.concat([Buffer.from([2, 0, 0, 0]), u64le(lamports)]);
    const message = Buffer.concat([
      Buffer.from([1, 0, 1, keys.length]),
      ...keys,
      blockhash,
      Buffer.from([1, keys.length - 1, 2, 0, sameKey ? 0 : 1, data.length]),
      data,
    ]);
    const signature = crypto.sign(null, message, this.faucetKey);
    const wire = new Uint8Array(Buffer.concat([Buffer.from([1]), signature, message]));
    this.land(wire, { writable: [], readonly: [] });
    return toBase58(signature);
  }

  getSignatureStatuses(sigs, cfgIn) {
    const cfg = config(cfgIn);
    if (!Array.isArray(sigs)) throw invalidParams('Invalid params: invalid type: expected a sequence.');
    if (sigs.length > 256) throw invalidParams('Too many inputs provided; max 256');
    const search = cfg.searchTransactionHistory === true;
    const value = sigs.map((s) => {
      signatureParam(s);
      const rec = this.txs.get(s);
      if (!rec) return null;
      const age = this.height - rec.height;
      if (!search && age > BigInt(STATUS_CACHE_BLOCKS)) return null;
      return {
        slot: rec.slot,
        confirmations: age >= BigInt(FINALITY_DEPTH) ? null : age,
        err: rec.err,
        status: rec.err ? { Err: rec.err } : { Ok: null },
        confirmationStatus: this.confirmationStatus(rec),
      };
    });
    return { context: this.context(this.bank('processed')), value };
  }

  getSignaturesForAddress(addr, cfgIn) {
    const cfg = config(cfgIn);
    addressParam(addr);
    const limit = cfg.limit ?? 1000;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw invalidParams('Invalid limit; max 1000');
    const c = parseCommitment(cfg.commitment);
    atLeastConfirmed(c);
    const bank = this.bank(c, cfg);
    const visible = (r) => r && r.height <= bank.height;
    let list = (this.byAddress.get(addr) ?? []).filter(visible);
    if (cfg.before !== undefined && cfg.before !== null) {
      signatureParam(cfg.before);
      const b = this.txs.get(cfg.before);
      if (!visible(b)) return [];
      list = list.filter((r) => cmpDesc(r, b) > 0);
    }
    if (cfg.until !== undefined && cfg.until !== null) {
      signatureParam(cfg.until);
      const u = this.txs.get(cfg.until);
      if (visible(u)) list = list.filter((r) => cmpDesc(r, u) < 0);
    }
    list.sort(cmpDesc);
    return list.slice(0, limit).map((r) => ({
      signature: r.sig,
      slot: r.slot,
      err: r.err,
      memo: r.memo,
      blockTime: r.blockTime,
      confirmationStatus: this.height - r.height >= BigInt(FINALITY_DEPTH) ? 'finalized' : 'confirmed',
    }));
  }

  getTransaction(sigStr, cfgIn) {
    const cfg = typeof cfgIn === 'string' ? { encoding: cfgIn } : config(cfgIn);
    signatureParam(sigStr);
    const encoding = cfg.encoding ?? 'json';
    if (!['json', 'base64', 'base58', 'jsonParsed'].includes(encoding))
      throw invalidParams(
        `Invalid params: unknown variant \`${encoding}\`, expected one of \`binary\`, \`base64\`, \`base58\`, \`json\`, \`jsonParsed\`.`,
      );
    if (encoding === 'jsonParsed') throw invalidParams('solana-local: encoding jsonParsed is not supported; use json, base64 or base58');
    const c = parseCommitment(cfg.commitment);
    atLeastConfirmed(c);
    const bank = this.bank(c, cfg);
    const r = this.txs.get(sigStr);
    if (!r || r.height > bank.height) return null;
    const mstv = cfg.maxSupportedTransactionVersion;
    if (r.tx.version === 0 && (mstv === undefined || mstv === null || mstv < 0))
      throw new RpcError(
        -32015,
        'Transaction version (0) is not supported by the requesting client. Please try the request again with the following configuration parameter: "maxSupportedTransactionVersion": 0',
      );
    const tx = r.tx;
    let transaction;
    if (encoding === 'json') {
      const message = {
        accountKeys: tx.staticKeys.map(toBase58),
        header: tx.header,
        recentBlockhash: toBase58(tx.recentBlockhash),
        instructions: tx.instructions.map((ix) => ({
          programIdIndex: ix.programIdIndex,
          accounts: Array.from(ix.accounts),
          data: toBase58(ix.data),
          stackHeight: null,
        })),
      };
      if (tx.version === 0)
        message.addressTableLookups = tx.lookups.map((l) => ({
          accountKey: toBase58(l.accountKey),
          writableIndexes: Array.from(l.writableIndexes),
          readonlyIndexes: Array.from(l.readonlyIndexes),
        }));
      transaction = { message, signatures: tx.signatures.map(toBase58) };
    } else if (encoding === 'base64') {
      transaction = [Buffer.from(r.wire).toString('base64'), 'base64'];
    } else {
      transaction = [toBase58(r.wire), 'base58'];
    }
    const meta = {
      err: r.err,
      status: r.err ? { Err: r.err } : { Ok: null },
      fee: r.fee,
      preBalances: r.pre,
      postBalances: r.post,
      innerInstructions: r.innerInstructions,
      logMessages: r.logs,
      preTokenBalances: [],
      postTokenBalances: [],
      rewards: [],
      loadedAddresses: r.loaded,
      computeUnitsConsumed: r.computeUnitsConsumed,
    };
    if (r.returnData) meta.returnData = r.returnData;
    const out = { slot: r.slot, transaction, meta, blockTime: r.blockTime };
    if (mstv !== undefined && mstv !== null) out.version = tx.version;
    return out;
  }

  context(block) {
    return { apiVersion: CORE_VERSION, slot: block.slot };
  }

  // ---------------------------------------------------------------- reads

  getBalance(addr, cfgIn) {
    const cfg = config(cfgIn);
    const key = addressParam(addr);
    const bank = this.bank(parseCommitment(cfg.commitment), cfg);
    return { context: this.context(bank), value: this.balanceOf(key) };
  }

  getLatestBlockhash(cfgIn) {
    const cfg = config(cfgIn);
    const bank = this.bank(parseCommitment(cfg.commitment), cfg);
    return {
      context: this.context(bank),
      value: { blockhash: bank.blockhash, lastValidBlockHeight: bank.height + BigInt(MAX_PROCESSING_AGE) },
    };
  }

  getBlockHeight(cfgIn) {
    const cfg = config(cfgIn);
    return this.bank(parseCommitment(cfg.commitment), cfg).height;
  }

  getSlot(cfgIn) {
    const cfg = config(cfgIn);
    return this.bank(parseCommitment(cfg.commitment), cfg).slot;
  }

  getEpochInfo(cfgIn) {
    const cfg = config(cfgIn);
    const bank = this.bank(parseCommitment(cfg.commitment), cfg);
    const e = this.epochOf(bank.slot);
    let count = 0;
    for (const r of this.txs.values()) if (r.height <= bank.height) count++;
    return {
      absoluteSlot: bank.slot,
      blockHeight: bank.height,
      epoch: e.epoch,
      slotIndex: e.slotIndex,
      slotsInEpoch: e.slotsInEpoch,
      transactionCount: count,
    };
  }

  getMinimumBalanceForRentExemption(len, cfgIn) {
    config(cfgIn);
    if (!Number.isInteger(len) || len < 0) throw invalidParams('Invalid params: invalid type: expected usize.');
    return this.svm.minimumBalanceForRentExemption(BigInt(len));
  }

  getVersion() {
    // feature-set: a u32 digest of the active feature ids, like the real one.
    const fs = new internal.FeatureSet();
    const ids = fs.getActiveFeatures().map((b) => Buffer.from(b).toString('hex')).sort();
    const digest = crypto.createHash('sha256').update(ids.join('')).digest();
    return { 'solana-core': CORE_VERSION, 'feature-set': digest.readUInt32LE(0) };
  }

  status() {
    return {
      blockHeight: this.height,
      slot: this.slot,
      finalizedBlockHeight: this.visibleHeight('finalized'),
      transactionCount: this.txs.size,
      droppedCount: this.droppedCount,
      faucet: toBase58(this.faucetPub),
    };
  }
}

function preflightFailure(errJson, logs, unitsConsumed) {
  return new RpcError(-32002, `Transaction simulation failed: ${txErrorText(errJson)}`, {
    accounts: null,
    err: errJson,
    innerInstructions: null,
    logs,
    replacementBlockhash: null,
    returnData: null,
    unitsConsumed,
  });
}

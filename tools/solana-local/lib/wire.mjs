// Wire-format helpers for solana-local: transaction parsing and sanitizing
// (legacy and v0 messages), base58, and the real RPC's error texts.
import { getBase58Decoder, getBase58Encoder } from '@solana/kit';

const b58dec = getBase58Decoder(); // bytes -> string
const b58enc = getBase58Encoder(); // string -> bytes

export const PACKET_DATA_SIZE = 1232;
export const MAX_BASE58_SIZE = 1683;
export const MAX_BASE64_SIZE = 1644;
export const TX_TYPE_NAME = 'solana_transaction::versioned::VersionedTransaction';

export const SYSTEM_PROGRAM = '11111111111111111111111111111111';
export const MEMO_V1_PROGRAM = 'Memo1UhkJRfHyvLMcVucJwxXeuD728EqVDDwQDxFMNo';
export const MEMO_PROGRAM = 'MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr';
export const ALT_PROGRAM = 'AddressLookupTab1e1111111111111111111111111';

export function toBase58(bytes) {
  return b58dec.decode(bytes);
}

// Decodes a base58 string (of exactly `len` bytes when given); null when it
// is not one.
export function fromBase58(str, len) {
  if (typeof str !== 'string' || str.length === 0) return null;
  if (len !== undefined && str.length > 2 * len) return null;
  let bytes;
  try {
    bytes = b58enc.encode(str);
  } catch {
    return null;
  }
  if (len !== undefined && bytes.length !== len) return null;
  return new Uint8Array(bytes);
}

/** A JSON-RPC error: code, message and optional data, as the real RPC sends them. */
export class RpcError extends Error {
  constructor(code, message, data) {
    super(message);
    this.code = code;
    this.data = data;
  }
  toJSON() {
    const e = { code: this.code, message: this.message };
    if (this.data !== undefined) e.data = this.data;
    return e;
  }
}

export const invalidParams = (msg) => new RpcError(-32602, msg);

// ---------------------------------------------------------------------------
// Transaction errors: the JSON form (serde of TransactionError) and the
// Display text the RPC puts into "Transaction simulation failed: <text>".

// Order of litesvm's TransactionErrorFieldless / InstructionErrorFieldless enums.
const TX_ERR_FIELDLESS = [
  'AccountInUse', 'AccountLoadedTwice', 'AccountNotFound', 'ProgramAccountNotFound',
  'InsufficientFundsForFee', 'InvalidAccountForFee', 'AlreadyProcessed', 'BlockhashNotFound',
  'CallChainTooDeep', 'MissingSignatureForFee', 'InvalidAccountIndex', 'SignatureFailure',
  'InvalidProgramForExecution', 'SanitizeFailure', 'ClusterMaintenance', 'AccountBorrowOutstanding',
  'WouldExceedMaxBlockCostLimit', 'UnsupportedVersion', 'InvalidWritableAccount',
  'WouldExceedMaxAccountCostLimit', 'WouldExceedAccountDataBlockLimit', 'TooManyAccountLocks',
  'AddressLookupTableNotFound', 'InvalidAddressLookupTableOwner', 'InvalidAddressLookupTableData',
  'InvalidAddressLookupTableIndex', 'InvalidRentPayingAccount', 'WouldExceedMaxVoteCostLimit',
  'WouldExceedAccountDataTotalLimit', 'MaxLoadedAccountsDataSizeExceeded',
  'InvalidLoadedAccountsDataSizeLimit', 'ResanitizationNeeded', 'UnbalancedTransaction',
  'ProgramCacheHitMaxLimit', 'CommitCancelled',
];
const IX_ERR_FIELDLESS = [
  'GenericError', 'InvalidArgument', 'InvalidInstructionData', 'InvalidAccountData',
  'AccountDataTooSmall', 'InsufficientFunds', 'IncorrectProgramId', 'MissingRequiredSignature',
  'AccountAlreadyInitialized', 'UninitializedAccount', 'UnbalancedInstruction', 'ModifiedProgramId',
  'ExternalAccountLamportSpend', 'ExternalAccountDataModified', 'ReadonlyLamportChange',
  'ReadonlyDataModified', 'DuplicateAccountIndex', 'ExecutableModified', 'RentEpochModified',
  'NotEnoughAccountKeys', 'AccountDataSizeChanged', 'AccountNotExecutable', 'AccountBorrowFailed',
  'AccountBorrowOutstanding', 'DuplicateAccountOutOfSync', 'InvalidError', 'ExecutableDataModified',
  'ExecutableLamportChange', 'ExecutableAccountNotRentExempt', 'UnsupportedProgramId', 'CallDepth',
  'MissingAccount', 'ReentrancyNotAllowed', 'MaxSeedLengthExceeded', 'InvalidSeeds', 'InvalidRealloc',
  'ComputationalBudgetExceeded', 'PrivilegeEscalation', 'ProgramEnvironmentSetupFailure',
  'ProgramFailedToComplete', 'ProgramFailedToCompile', 'Immutable', 'IncorrectAuthority',
  'AccountNotRentExempt', 'InvalidAccountOwner', 'ArithmeticOverflow', 'UnsupportedSysvar',
  'IllegalOwner', 'MaxAccountsDataAllocationsExceeded', 'MaxAccountsExceeded',
  'MaxInstructionTraceLengthExceeded', 'BuiltinProgramsMustConsumeComputeUnits', 'BorshIoError',
];

const TX_ERR_TEXT = {
  AccountInUse: 'Account in use',
  AccountLoadedTwice: 'Account loaded twice',
  AccountNotFound: 'Attempt to debit an account but found no record of a prior credit.',
  ProgramAccountNotFound: 'Attempt to load a program that does not exist',
  InsufficientFundsForFee: 'Insufficient funds for fee',
  InvalidAccountForFee: 'This account may not be used to pay transaction fees',
  AlreadyProcessed: 'This transaction has already been processed',
  BlockhashNotFound: 'Blockhash not found',
  CallChainTooDeep: 'Loader call chain is too deep',
  MissingSignatureForFee: 'Transaction requires a fee but has no signature present',
  InvalidAccountIndex: 'Transaction contains an invalid account reference',
  SignatureFailure: 'Transaction did not pass signature verification',
  InvalidProgramForExecution: 'This program may not be used for executing instructions',
  SanitizeFailure: 'Transaction failed to sanitize accounts offsets correctly',
  ClusterMaintenance: 'Transactions are currently disabled due to cluster maintenance',
  AccountBorrowOutstanding: 'Transaction processing left an account with an outstanding borrowed reference',
  WouldExceedMaxBlockCostLimit: 'Transaction would exceed max Block Cost Limit',
  UnsupportedVersion: 'Transaction version is unsupported',
  InvalidWritableAccount: 'Transaction loads a writable account that cannot be written',
  WouldExceedMaxAccountCostLimit: 'Transaction would exceed max account limit within the block',
  WouldExceedAccountDataBlockLimit: 'Transaction would exceed account data limit within the block',
  TooManyAccountLocks: 'Transaction locked too many accounts',
  AddressLookupTableNotFound: "Transaction loads an address table account that doesn't exist",
  InvalidAddressLookupTableOwner: 'Transaction loads an address table account with an invalid owner',
  InvalidAddressLookupTableData: 'Transaction loads an address table account with invalid data',
  InvalidAddressLookupTableIndex: 'Transaction address table lookup uses an invalid index',
  InvalidRentPayingAccount: 'Transaction leaves an account with a lower balance than rent-exempt minimum',
  WouldExceedMaxVoteCostLimit: 'Transaction would exceed max Vote Cost Limit',
  WouldExceedAccountDataTotalLimit: 'Transaction would exceed total account data limit',
  MaxLoadedAccountsDataSizeExceeded: 'Transaction exceeded max loaded accounts data size cap',
  InvalidLoadedAccountsDataSizeLimit: 'LoadedAccountsDataSizeLimit set for transaction must be greater than 0.',
  ResanitizationNeeded: 'Sanitized transaction differed before/after feature activiation. Needs to be resanitized.',
  UnbalancedTransaction: 'Sum of account balances before and after transaction do not match',
  ProgramCacheHitMaxLimit: 'Program cache hit max limit',
  CommitCancelled: 'CommitCancelled',
};

const IX_ERR_TEXT = {
  GenericError: 'generic instruction error',
  InvalidArgument: 'invalid program argument',
  InvalidInstructionData: 'invalid instruction data',
  InvalidAccountData: 'invalid account data for instruction',
  AccountDataTooSmall: 'account data too small for instruction',
  InsufficientFunds: 'insufficient funds for instruction',
  IncorrectProgramId: 'incorrect program id for instruction',
  MissingRequiredSignature: 'missing required signature for instruction',
  AccountAlreadyInitialized: 'instruction requires an uninitialized account',
  UninitializedAccount: 'instruction requires an initialized account',
  UnbalancedInstruction: 'sum of account balances before and after instruction do not match',
  ModifiedProgramId: 'instruction illegally modified the program id of an account',
  ExternalAccountLamportSpend: 'instruction spent from the balance of an account it does not own',
  ExternalAccountDataModified: 'instruction modified data of an account it does not own',
  ReadonlyLamportChange: 'instruction changed the balance of a read-only account',
  ReadonlyDataModified: 'instruction modified data of a read-only account',
  DuplicateAccountIndex: 'instruction contains duplicate accounts',
  ExecutableModified: 'instruction changed executable bit of an account',
  RentEpochModified: 'instruction modified rent epoch of an account',
  NotEnoughAccountKeys: 'insufficient account keys for instruction',
  AccountDataSizeChanged: "program other than the account's owner changed the size of the account data",
  AccountNotExecutable: 'instruction expected an executable account',
  AccountBorrowFailed: 'instruction tries to borrow reference for an account which is already borrowed',
  AccountBorrowOutstanding: 'instruction left account with an outstanding borrowed reference',
  DuplicateAccountOutOfSync: 'instruction modifications of multiply-passed account differ',
  InvalidError: 'program returned invalid error code',
  ExecutableDataModified: 'instruction changed executable accounts data',
  ExecutableLamportChange: 'instruction changed the balance of an executable account',
  ExecutableAccountNotRentExempt: 'executable accounts must be rent exempt',
  UnsupportedProgramId: 'Unsupported program id',
  CallDepth: 'Cross-program invocation call depth too deep',
  MissingAccount: 'An account required by the instruction is missing',
  ReentrancyNotAllowed: 'Cross-program invocation reentrancy not allowed for this instruction',
  MaxSeedLengthExceeded: 'Length of the seed is too long for address generation',
  InvalidSeeds: 'Provided seeds do not result in a valid address',
  InvalidRealloc: 'Failed to reallocate account data',
  ComputationalBudgetExceeded: 'Computational budget exceeded',
  PrivilegeEscalation: 'Cross-program invocation with unauthorized signer or writable account',
  ProgramEnvironmentSetupFailure: 'Failed to create program execution environment',
  ProgramFailedToComplete: 'Program failed to complete',
  ProgramFailedToCompile: 'Program failed to compile',
  Immutable: 'Account is immutable',
  IncorrectAuthority: 'Incorrect authority provided',
  AccountNotRentExempt: 'An account does not have enough lamports to be rent-exempt',
  InvalidAccountOwner: 'Invalid account owner',
  ArithmeticOverflow: 'Program arithmetic overflowed',
  UnsupportedSysvar: 'Unsupported sysvar',
  IllegalOwner: 'Provided owner is not allowed',
  MaxAccountsDataAllocationsExceeded: 'Accounts data allocations exceeded the maximum allowed per transaction',
  MaxAccountsExceeded: 'Max accounts exceeded',
  MaxInstructionTraceLengthExceeded: 'Max instruction trace length exceeded',
  BuiltinProgramsMustConsumeComputeUnits: 'Builtin programs must consume compute units',
  BorshIoError: 'Failed to serialize or deserialize account data',
};

function instructionErrorJson(e) {
  if (typeof e === 'number') return IX_ERR_FIELDLESS[e] ?? 'GenericError';
  if (e && typeof e.code === 'number') return { Custom: e.code };
  if (e && typeof e.msg === 'string') return { BorshIoError: e.msg };
  return 'GenericError';
}

/** litesvm's error object (number or napi class) -> the RPC's JSON form. */
export function txErrorToJson(err) {
  if (typeof err === 'number') return TX_ERR_FIELDLESS[err] ?? 'SanitizeFailure';
  const name = err?.constructor?.name;
  switch (name) {
    case 'TransactionErrorInstructionError':
      return { InstructionError: [err.index, instructionErrorJson(err.err())] };
    case 'TransactionErrorDuplicateInstruction':
      return { DuplicateInstruction: err.index };
    case 'TransactionErrorInsufficientFundsForRent':
      return { InsufficientFundsForRent: { account_index: err.accountIndex } };
    case 'TransactionErrorProgramExecutionTemporarilyRestricted':
      return { ProgramExecutionTemporarilyRestricted: { account_index: err.accountIndex } };
    default:
      return String(err);
  }
}

/** The Display text of a TransactionError in its JSON form. */
export function txErrorText(j) {
  if (typeof j === 'string') return TX_ERR_TEXT[j] ?? j;
  if (j.InstructionError) {
    const [idx, ie] = j.InstructionError;
    let t;
    if (typeof ie === 'string') t = IX_ERR_TEXT[ie] ?? ie;
    else if ('Custom' in ie) t = `custom program error: 0x${ie.Custom.toString(16)}`;
    else if ('BorshIoError' in ie) t = `${IX_ERR_TEXT.BorshIoError}: ${ie.BorshIoError}`;
    else t = JSON.stringify(ie);
    return `Error processing Instruction ${idx}: ${t}`;
  }
  if ('DuplicateInstruction' in j)
    return `Transaction contains a duplicate instruction (${j.DuplicateInstruction}) that is not allowed`;
  if (j.InsufficientFundsForRent)
    return `Transaction results in an account (${j.InsufficientFundsForRent.account_index}) with insufficient funds for rent`;
  if (j.ProgramExecutionTemporarilyRestricted)
    return `Execution of the program referenced by account at index ${j.ProgramExecutionTemporarilyRestricted.account_index} is temporarily restricted.`;
  return JSON.stringify(j);
}

// ---------------------------------------------------------------------------
// Transaction parsing (bincode layout of VersionedTransaction).

class DeserializeError extends Error {}

class Reader {
  constructor(bytes) {
    this.b = bytes;
    this.o = 0;
  }
  need(n) {
    if (this.o + n > this.b.length) throw new DeserializeError('io error: unexpected end of file');
  }
  u8() {
    this.need(1);
    return this.b[this.o++];
  }
  bytes(n) {
    this.need(n);
    const v = this.b.subarray(this.o, this.o + n);
    this.o += n;
    return v;
  }
  // short_vec length: 1-3 bytes, 7 bits each, canonical, <= u16::MAX.
  compactU16() {
    let value = 0;
    for (let i = 0; i < 3; i++) {
      const byte = this.u8();
      const elem = byte & 0x7f;
      value |= elem << (i * 7);
      if ((byte & 0x80) === 0) {
        if (i > 0 && byte === 0) throw new DeserializeError('invalid value: alias encoding, expected ShortU16');
        if (value > 0xffff) throw new DeserializeError('invalid value: overflow, expected ShortU16');
        return value;
      }
      if (i === 2) throw new DeserializeError('invalid value: byte, expected ShortU16');
    }
    throw new DeserializeError('invalid value: ShortU16');
  }
}

/**
 * Parses a wire transaction. Returns
 * { signatures, messageBytes, version ('legacy'|0), header, staticKeys,
 *   recentBlockhash, instructions, lookups, length } — all byte arrays are
 * views into `bytes`. Throws an RpcError (-32602) like the real RPC's
 * "failed to deserialize ..." on malformed input.
 */
export function parseTransaction(bytes) {
  const r = new Reader(bytes);
  try {
    const nsig = r.compactU16();
    const signatures = [];
    for (let i = 0; i < nsig; i++) signatures.push(r.bytes(64));
    const msgStart = r.o;
    let version = 'legacy';
    let first = r.u8();
    if (first & 0x80) {
      const v = first & 0x7f;
      if (v !== 0) throw new DeserializeError(`invalid value: integer \`${v}\`, expected a valid transaction message version`);
      version = 0;
      first = r.u8();
    }
    const header = {
      numRequiredSignatures: first,
      numReadonlySignedAccounts: r.u8(),
      numReadonlyUnsignedAccounts: r.u8(),
    };
    const nkeys = r.compactU16();
    const staticKeys = [];
    for (let i = 0; i < nkeys; i++) staticKeys.push(r.bytes(32));
    const recentBlockhash = r.bytes(32);
    const nix = r.compactU16();
    const instructions = [];
    for (let i = 0; i < nix; i++) {
      const programIdIndex = r.u8();
      const accounts = r.bytes(r.compactU16());
      const data = r.bytes(r.compactU16());
      instructions.push({ programIdIndex, accounts, data });
    }
    const lookups = [];
    if (version === 0) {
      const nl = r.compactU16();
      for (let i = 0; i < nl; i++) {
        const accountKey = r.bytes(32);
        const writableIndexes = r.bytes(r.compactU16());
        const readonlyIndexes = r.bytes(r.compactU16());
        lookups.push({ accountKey, writableIndexes, readonlyIndexes });
      }
    }
    // bincode is configured with allow_trailing_bytes in the RPC: the
    // transaction ends where its message ends.
    return {
      signatures,
      messageBytes: bytes.subarray(msgStart, r.o),
      version,
      header,
      staticKeys,
      recentBlockhash,
      instructions,
      lookups,
      length: r.o,
    };
  } catch (e) {
    if (e instanceof DeserializeError)
      throw invalidParams(`failed to deserialize ${TX_TYPE_NAME}: ${e.message}`);
    throw e;
  }
}

const sanitizeFailure = () => invalidParams(`invalid transaction: ${TX_ERR_TEXT.SanitizeFailure}`);

/** VersionedTransaction::sanitize + the duplicate-key check of SanitizedMessage. */
export function sanitizeTransaction(tx) {
  const { header, staticKeys, instructions, lookups, signatures } = tx;
  if (signatures.length !== header.numRequiredSignatures) throw sanitizeFailure();
  if (signatures.length > staticKeys.length) throw sanitizeFailure();
  if (header.numRequiredSignatures + header.numReadonlyUnsignedAccounts > staticKeys.length) throw sanitizeFailure();
  if (header.numReadonlySignedAccounts >= header.numRequiredSignatures) throw sanitizeFailure();
  let loaded = 0;
  for (const l of lookups) {
    if (l.writableIndexes.length + l.readonlyIndexes.length === 0) throw sanitizeFailure();
    loaded += l.writableIndexes.length + l.readonlyIndexes.length;
  }
  const total = staticKeys.length + loaded;
  if (total > 256) throw sanitizeFailure();
  for (const ix of instructions) {
    if (ix.programIdIndex === 0) throw sanitizeFailure();
    if (ix.programIdIndex >= staticKeys.length) throw sanitizeFailure(); // programs are static keys
    for (const a of ix.accounts) if (a >= total) throw sanitizeFailure();
  }
  const seen = new Set();
  for (const k of staticKeys) {
    const s = toBase58(k);
    if (seen.has(s)) throw invalidParams(`invalid transaction: ${TX_ERR_TEXT.AccountLoadedTwice}`);
    seen.add(s);
  }
}


/** The memo field of getSignaturesForAddress: "[<len>] <text>" per memo instruction, "; "-joined. */
export function extractMemo(tx) {
  const memos = [];
  for (const ix of tx.instructions) {
    const prog = toBase58(tx.staticKeys[ix.programIdIndex]);
    if (prog !== MEMO_PROGRAM && prog !== MEMO_V1_PROGRAM) continue;
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(ix.data);
    } catch {
      text = '(unparseable)';
    }
    memos.push(`[${ix.data.length}] ${text}`);
  }
  return memos.length ? memos.join('; ') : null;
}

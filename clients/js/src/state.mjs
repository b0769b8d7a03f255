// state.mjs — where a VmdbClient keeps the newest header it verified.
//
// The state is the JSON object `vmdb verify --state FILE` keeps:
//   {"chain_id": hex|null, "header": {§6.3 header}, "public_key": hex, "version": 1}
// so one file serves the CLI and both clients. A StateStore is any object
// with load() -> state|null and save(state) (either may return a promise).
// FileStateStore writes the file atomically (a temporary file in the same
// directory, fsync, rename) with mode 0600; MemoryStateStore keeps it in the
// process only.

import fs from 'node:fs';
import path from 'node:path';

export class MemoryStateStore {
  constructor(state = null) { this.state = state; }
  load() { return this.state; }
  save(s) { this.state = s; }
}

export class FileStateStore {
  constructor(file) { this.file = file; }

  load() {
    let text;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (e) {
      if (e.code === 'ENOENT') return null;
      throw e;
    }
    let s;
    try {
      s = JSON.parse(text);
    } catch {
      throw new Error(`the state file ${this.file} is not JSON`);
    }
    if (!s || typeof s !== 'object' || s.version !== 1 || typeof s.public_key !== 'string' || !s.header ||
        !(s.chain_id === null || typeof s.chain_id === 'string')) {
      throw new Error(`the state file ${this.file} is malformed`);
    }
    return s;
  }

  save(s) {
    const dir = path.dirname(path.resolve(this.file));
    const tmp = path.join(dir, `.${path.basename(this.file)}.${process.pid}.${Date.now()}.tmp`);
    const fd = fs.openSync(tmp, 'wx', 0o600);
    try {
      fs.writeSync(fd, stateText(s));
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    try {
      fs.renameSync(tmp, this.file);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  }
}

const HEADER_ORDER = ['version', 'seq', 'kind', 'chain_id', 'smt_root', 'prev', 'history_root', 'time_ms', 'schema_hash',
  'header_hash', 'sig'];

/** The state as `vmdb verify` writes it: members in that order, the header's in §6.3's, one line. */
export function stateText(s) {
  const h = {};
  for (const k of HEADER_ORDER) if (s.header[k] !== undefined) h[k] = s.header[k];
  return JSON.stringify({ chain_id: s.chain_id ?? null, header: h, public_key: s.public_key, version: 1 }) + '\n';
}

// errors.mjs — the two error types of @vmdb/client.
//
// VerificationError: an answer (or the server's history) did not check; its
// `code` is one of the stable reason codes of docs/CLIENTS.md, the same in
// the Python client and the conformance fixtures. VmdbServerError: the server
// answered with its error envelope ({"success": false, "error", "code"}); its
// `code` is the server's own code (NOT_FOUND, WRITES_UNAVAILABLE, ...).

export class VerificationError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'VerificationError';
    this.code = code;
  }
}

export class VmdbServerError extends Error {
  constructor(status, code, message, data) {
    super(message || `HTTP ${status}${code ? ` ${code}` : ''}`);
    this.name = 'VmdbServerError';
    this.status = status;
    this.code = code ?? null;
    this.data = data;
  }
}

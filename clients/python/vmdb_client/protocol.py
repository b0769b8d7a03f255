"""vmdb protocol v2 (docs/PROTOCOL.md), the verifier side, written from the text.

Row keys and values (§1, §2), the §4 proof and §5 multiproof, headers v1/v2
and their context-tagged signatures (§6, §12), the history tree (§7),
proofs in answers (§9), complete read-latest (§10), history proofs (§11.1)
and the checkpoint note (§11.2). Everything that does not check raises
VerificationError with one of the stable reason codes (errors.py); nothing
here does I/O.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .errors import VerificationError, fail
from .jcs import JcsError, JNum, jcs, number_to_string

Z = bytes(32)
HEADER_KINDS = ("genesis", "write", "reset", "clear", "repair", "migrate", "upgrade")
ANSWER_KINDS = ("read-batch", "read-latest", "create-batch", "upsert", "delete-batch")


def H(*parts: bytes | str) -> bytes:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode("utf-8") if isinstance(p, str) else p)
    return h.digest()


MTH_EMPTY = H(b"")


def u8(n: int) -> bytes:
    return n.to_bytes(1, "big")


def u16(n: int) -> bytes:
    return n.to_bytes(2, "big")


def u32(n: int) -> bytes:
    return n.to_bytes(4, "big")


def u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def bit_at(k: bytes, i: int) -> int:
    return (k[i >> 3] >> (7 - (i & 7))) & 1


_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


def hex_bytes(s: Any, n: int | None, what: str, code: str = "BAD_ANSWER") -> bytes:
    """Hex text (either case) of exactly n bytes (any length if n is None)."""
    if not isinstance(s, str) or not _HEX.fullmatch(s):
        raise fail(code, f"{what}: not hex")
    if n is not None and len(s) != 2 * n:
        raise fail(code, f"{what}: not {n} bytes")
    return bytes.fromhex(s)


def uint53(x: Any, what: str, code: str = "BAD_ANSWER") -> int:
    """A JSON number that is an integer in [0, 2^53)."""
    v: int | None = None
    if isinstance(x, JNum):
        try:
            f = x.to_float()
        except JcsError:
            f = -1.0
        if f.is_integer():
            v = int(f)
    elif isinstance(x, int) and not isinstance(x, bool):
        v = x
    elif isinstance(x, float) and x.is_integer():
        v = int(x)
    if v is None or v < 0 or v >= 2**53:
        raise fail(code, f"{what}: not an unsigned integer below 2^53")
    return v


def ed25519_ok(pub: bytes, msg: bytes, sig: bytes) -> bool:
    """Ed25519 (RFC 8032, pure); False for a bad key or signature, never raises."""
    if len(pub) != 32 or len(sig) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(pub).verify(sig, msg)
        return True
    except Exception:
        return False


def _obj(x: Any, what: str, code: str = "BAD_ANSWER") -> Mapping[str, Any]:
    if not isinstance(x, Mapping):
        raise fail(code, f"{what}: not an object")
    return x


def _arr(x: Any, what: str, code: str = "BAD_ANSWER") -> Sequence[Any]:
    if not isinstance(x, (list, tuple)):
        raise fail(code, f"{what}: not an array")
    return x


def _str(x: Any, what: str, code: str = "BAD_ANSWER") -> str:
    if not isinstance(x, str):
        raise fail(code, f"{what}: not a string")
    return x


# ---- §1, §2 row key and value ---------------------------------------------------------------


def row_key(table: str, pk: str) -> bytes:
    t = table.encode("utf-8")
    p = pk.encode("utf-8")
    if len(t) > 0xFFFF:
        raise ValueError("table name at most 65535 bytes")
    return H(b"vmdb/v1/key", b"\x00", u16(len(t)), t, u32(len(p)), p)


def row_value(record: Any) -> bytes:
    """v = H("vmdb/v1/row" || 0x00 || JCS(row)) of a parsed record object."""
    if not isinstance(record, Mapping):
        raise fail("BAD_ANSWER", "a record is not a JSON object")
    try:
        text = jcs(record)
    except JcsError as e:
        raise fail("BAD_PROOF", f"record cannot be hashed: {e}") from None
    return H(b"vmdb/v1/row", b"\x00", text.encode("utf-8"))


def range_key(table: str) -> bytes:
    t = table.encode("utf-8")
    return H(b"vmdb/v2/id-range-key", b"\x00", u16(len(t)), t)


def range_value(lo: str, hi: str) -> bytes:
    a, b = lo.encode("utf-8"), hi.encode("utf-8")
    return H(b"vmdb/v2/id-range", b"\x00", u32(len(a)), a, u32(len(b)), b)


def leaf_hash(k: bytes, v: bytes) -> bytes:
    return H(b"\x00", k, v)


def node_hash(left: bytes, right: bytes) -> bytes:
    return H(b"\x01", left, right)


# ---- §4 proof for one key -------------------------------------------------------------------

PROOF_KINDS = {"inclusion": 0, "absent_empty": 1, "absent_leaf": 2}


def verify_proof_bytes(root: bytes, k: bytes, value: bytes | None, proof: bytes) -> bool:
    """§4 verification of (k, value or absent) against root. value None claims absence."""
    if len(proof) < 3:
        return False
    kind = proof[0]
    L = int.from_bytes(proof[1:3], "big")
    if kind > 2 or L > 256:
        return False
    nb = (L + 7) // 8
    bitmap = proof[3 : 3 + nb]
    if len(bitmap) != nb:
        return False
    for i in range(L, nb * 8):
        if bit_at(bitmap, i):
            return False
    nsib = sum(bit_at(bitmap, i) for i in range(L))
    pos = 3 + nb
    sib_bytes = proof[pos : pos + 32 * nsib]
    pos += 32 * nsib
    tail = proof[pos:]
    if len(sib_bytes) != 32 * nsib or len(tail) != (64 if kind == 2 else 0):
        return False
    siblings = [sib_bytes[32 * j : 32 * j + 32] for j in range(nsib)]  # deepest first
    if any(s == Z for s in siblings):
        return False
    if (kind == 0) != (value is not None):
        return False
    if kind == 0:
        assert value is not None
        h = leaf_hash(k, value)
    elif kind == 1:
        h = Z
    else:
        k2, v2 = tail[:32], tail[32:]
        if k2 == k or any(bit_at(k2, i) != bit_at(k, i) for i in range(L)):
            return False
        h = leaf_hash(k2, v2)
    j = 0
    for i in range(L - 1, -1, -1):
        s = Z
        if bit_at(bitmap, i):
            s = siblings[j]
            j += 1
        h = node_hash(s, h) if bit_at(k, i) else node_hash(h, s)
    return h == root


@dataclass(frozen=True)
class ProofResult:
    key: str
    present: bool
    value: str | None


def verify_proof_json(root_hex: str, j: Any) -> ProofResult:
    """A §4 proof in JSON form against a root: what it proves about its key (BAD_PROOF otherwise)."""
    root = hex_bytes(root_hex, 32, "root")
    j = _obj(j, "proof")
    kind = PROOF_KINDS.get(j.get("kind")) if isinstance(j.get("kind"), str) else None
    if kind is None:
        raise fail("BAD_ANSWER", "proof: unknown kind")
    key = hex_bytes(j.get("key"), 32, "proof.key")
    L = uint53(j.get("depth"), "proof.depth")
    if L > 256:
        raise fail("BAD_PROOF", "proof: depth > 256")
    bitmap = hex_bytes(j.get("bitmap"), (L + 7) // 8, "proof.bitmap")
    sibs = [hex_bytes(s, 32, f"proof.siblings[{i}]") for i, s in enumerate(_arr(j.get("siblings"), "proof.siblings"))]
    has_other = "other_key" in j or "other_value" in j
    if kind != 2 and has_other:
        raise fail("BAD_ANSWER", "proof: other_key outside absent_leaf")
    if kind != 0 and "value" in j:
        raise fail("BAD_ANSWER", "proof: value in an absence proof")
    value = hex_bytes(j.get("value"), 32, "proof.value") if kind == 0 else None
    tail = b""
    if kind == 2:
        tail = hex_bytes(j.get("other_key"), 32, "proof.other_key") + hex_bytes(
            j.get("other_value"), 32, "proof.other_value"
        )
    raw = u8(kind) + u16(L) + bitmap + b"".join(sibs) + tail
    if not verify_proof_bytes(root, key, value, raw):
        raise fail("BAD_PROOF", "proof: does not verify against the root")
    return ProofResult(key.hex(), value is not None, value.hex() if value else None)


# ---- §5 multiproof --------------------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.b = data
        self.i = 0

    def take(self, n: int) -> bytes:
        if self.i + n > len(self.b):
            raise _Bad()
        out = self.b[self.i : self.i + n]
        self.i += n
        return out


class _Bad(Exception):
    pass


def verify_multiproof_bytes(root: bytes, keys: Sequence[bytes], proof: bytes) -> dict[bytes, bytes | None] | None:
    """§5: the value (None = absent) of every key, or None when the multiproof does not verify."""
    if not keys or any(keys[i - 1] >= keys[i] for i in range(1, len(keys))):
        return None
    r = _Reader(proof)
    out: dict[bytes, bytes | None] = {}

    def node(d: int, q: list[bytes]) -> bytes:
        tag = r.take(1)[0]
        if tag == 0:
            for k in q:
                out[k] = None
            return Z
        if tag == 1:
            k = r.take(32)
            v = r.take(32)
            for x in q:
                if any(bit_at(x, i) != bit_at(k, i) for i in range(d)):
                    raise _Bad()
                out[x] = v if x == k else None
            return leaf_hash(k, v)
        if tag == 2:
            if d == 256:
                raise _Bad()
            hs = []
            for side in (0, 1):
                part = [x for x in q if bit_at(x, d) == side]
                if part:
                    hs.append(node(d + 1, part))
                else:
                    t = r.take(1)[0]
                    if t == 0:
                        hs.append(Z)
                    elif t == 3:
                        h = r.take(32)
                        if h == Z:
                            raise _Bad()
                        hs.append(h)
                    else:
                        raise _Bad()
            return node_hash(hs[0], hs[1])
        raise _Bad()  # HASH where keys enter, or an unknown tag

    try:
        h = node(0, list(keys))
    except _Bad:
        return None
    if r.i != len(proof) or h != root:
        return None
    return out


def verify_multiproof_json(root: bytes | str, j: Any) -> dict[str, str | None]:
    """A §5 multiproof in JSON form: hex key -> hex value or None (BAD_PROOF when it does not verify)."""
    if isinstance(root, str):
        root = hex_bytes(root, 32, "root")
    j = _obj(j, "multiproof")
    q = [hex_bytes(k, 32, f"multiproof.keys[{i}]") for i, k in enumerate(_arr(j.get("keys"), "multiproof.keys"))]
    proof = hex_bytes(j.get("proof"), None, "multiproof.proof")
    if not q:
        raise fail("BAD_PROOF", "multiproof: empty key list")
    if any(q[i - 1] >= q[i] for i in range(1, len(q))):
        raise fail("BAD_PROOF", "multiproof: keys not strictly ascending")
    res = verify_multiproof_bytes(root, q, proof)
    if res is None:
        raise fail("BAD_PROOF", "multiproof: does not verify against the root")
    return {k.hex(): (v.hex() if v is not None else None) for k, v in res.items()}


# ---- §6 headers, §12 v1 headers ----------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """A verified header: its fields, encoding, header_hash and the JSON it came as."""

    version: int
    seq: int
    kind: str | None
    chain_id: bytes | None
    smt_root: bytes
    prev: bytes
    history_root: bytes
    time_ms: int
    schema_hash: bytes
    sig: bytes
    encoded: bytes
    header_hash: bytes

    def to_json(self) -> dict[str, Any]:
        """The §6.3 JSON form (v1: §12)."""
        j: dict[str, Any] = {"version": self.version, "seq": self.seq}
        if self.version == 2:
            assert self.chain_id is not None
            j["kind"] = self.kind
            j["chain_id"] = self.chain_id.hex()
        j.update(
            smt_root=self.smt_root.hex(),
            prev=self.prev.hex(),
            history_root=self.history_root.hex(),
            time_ms=self.time_ms,
            schema_hash=self.schema_hash.hex(),
            header_hash=self.header_hash.hex(),
            sig=self.sig.hex(),
        )
        return j


def committed_message(hh: bytes) -> bytes:
    return b"vmdb/v2/committed\x00" + hh


def intent_message(hh: bytes) -> bytes:
    return b"vmdb/v2/intent\x00" + hh


def chain_id_from_v1(pub: bytes, v1_header0_hash: bytes) -> bytes:
    return H(b"vmdb/v2/chain", b"\x00", pub, v1_header0_hash)


def parse_header(j: Any) -> Header:
    """Reads the JSON form, recomputes encoding and header_hash, checks §6.1's structure rules."""
    c = "BAD_HEADER"
    j = _obj(j, "header", c)
    version = j.get("version")
    vnum = uint53(version, "header.version", c) if isinstance(version, (JNum, int)) else None
    kind: str | None = None
    chain_id: bytes | None = None
    if vnum == 2:
        k = j.get("kind")
        if not isinstance(k, str) or k not in HEADER_KINDS:
            raise fail(c, f"header: unknown kind {k!r}")
        kind = k
        chain_id = hex_bytes(j.get("chain_id"), 32, "header.chain_id", c)
    elif vnum == 1:
        if "kind" in j or "chain_id" in j:
            raise fail(c, "header: a v1 header has no kind or chain_id")
    else:
        raise fail(c, f"header: unknown version {version!r}")
    seq = uint53(j.get("seq"), "header.seq", c)
    time_ms = uint53(j.get("time_ms"), "header.time_ms", c)
    f = {n: hex_bytes(j.get(n), 32, f"header.{n}", c) for n in ("smt_root", "prev", "history_root", "schema_hash")}
    sig = hex_bytes(j.get("sig"), 64, "header.sig", c)
    if vnum == 2:
        assert kind is not None and chain_id is not None
        enc = (
            u8(2)
            + u64(seq)
            + u8(HEADER_KINDS.index(kind))
            + chain_id
            + f["smt_root"]
            + f["prev"]
            + f["history_root"]
            + u64(time_ms)
            + f["schema_hash"]
        )
        hh = H(b"vmdb/v2/header", b"\x00", enc)
    else:
        enc = u64(seq) + f["smt_root"] + f["prev"] + f["history_root"] + u64(time_ms) + f["schema_hash"]
        hh = H(b"vmdb/v1/header", b"\x00", enc)
    if "header_hash" in j and hex_bytes(j.get("header_hash"), 32, "header.header_hash", c) != hh:
        raise fail(c, "header: header_hash does not match the fields")
    if seq == 0:
        if f["prev"] != Z:
            raise fail(c, "header: seq 0 with prev not Z")
        if f["history_root"] != MTH_EMPTY:
            raise fail(c, 'header: seq 0 with a history root other than H("")')
        if vnum == 2 and kind != "genesis":
            raise fail(c, "header: seq 0 is not a genesis header")
    elif kind == "genesis":
        raise fail(c, "header: genesis with seq > 0")
    return Header(
        vnum,
        seq,
        kind,
        chain_id,
        f["smt_root"],
        f["prev"],
        f["history_root"],
        time_ms,
        f["schema_hash"],
        sig,
        enc,
        hh,
    )


def _pub(public_key: str | bytes) -> bytes:
    if isinstance(public_key, bytes):
        if len(public_key) != 32:
            raise ValueError("public key: not 32 bytes")
        return public_key
    if not isinstance(public_key, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", public_key):
        raise ValueError("public key: not 64 hex digits")
    return bytes.fromhex(public_key)


def _chain(chain_id: str | bytes | None) -> bytes | None:
    if chain_id is None or isinstance(chain_id, bytes):
        return chain_id
    if not re.fullmatch(r"[0-9a-fA-F]{64}", chain_id):
        raise ValueError("chain_id: not 64 hex digits")
    return bytes.fromhex(chain_id)


def check_header(j: Any, pub: bytes, chain_id: bytes | None = None, allow_v1: bool = False) -> Header:
    h = parse_header(j)
    if h.version == 1:
        if not allow_v1:
            raise fail("BAD_HEADER", "header: a v1 header where a v2 header is required")
        if not ed25519_ok(pub, h.header_hash, h.sig):
            raise fail("BAD_SIGNATURE", "header: v1 signature does not verify")
        return h
    if not ed25519_ok(pub, committed_message(h.header_hash), h.sig):
        if ed25519_ok(pub, intent_message(h.header_hash), h.sig):
            raise fail("BAD_SIGNATURE", "header: sig is an intent signature, not a header signature")
        if ed25519_ok(pub, h.header_hash, h.sig):
            raise fail("BAD_SIGNATURE", "header: sig is a v1-style signature over the bare hash")
        raise fail("BAD_SIGNATURE", "header: signature does not verify with the identity key")
    if chain_id is not None and h.chain_id != chain_id:
        raise fail("WRONG_CHAIN", "header: chain_id is not the pinned chain")
    return h


def verify_header(
    header: Any, public_key: str | bytes, chain_id: str | bytes | None = None, allow_v1: bool = False
) -> Header:
    """§6.1: header_hash from the fields, sig over the committed message, the pinned chain_id."""
    return check_header(header, _pub(public_key), _chain(chain_id), allow_v1)


# ---- §14.2 transition records -------------------------------------------------------------

TRANSITION_KINDS = ("repair", "clear", "reset", "migrate")


def transition_key(seq: int) -> bytes:
    """H("vmdb/v2/transition-key" || 0x00 || u64(seq))."""
    return H(b"vmdb/v2/transition-key", b"\x00", u64(seq))


def transition_value(record: Any) -> bytes:
    """H("vmdb/v2/transition" || 0x00 || JCS(record)) of a parsed record object."""
    if not isinstance(record, Mapping):
        raise fail("BAD_ANSWER", "transition record is not a JSON object")
    try:
        text = jcs(record)
    except JcsError as e:
        raise fail("BAD_PROOF", f"transition record cannot be hashed: {e}") from None
    return H(b"vmdb/v2/transition", b"\x00", text.encode("utf-8"))


@dataclass(frozen=True)
class TransitionResult:
    header: Header
    record: Mapping[str, Any]


def verify_transition(data: Any, public_key: str | bytes, chain_id: str | bytes | None = None) -> TransitionResult:
    """The data of GET /api/roots/{seq}/transition: the signed header, the record of its kind and
    seq, and the proof of the record's leaf against the header's smt_root (PROTOCOL.md §14.2)."""
    data = _obj(data, "answer")
    h = check_header(data.get("header"), _pub(public_key), _chain(chain_id))
    rec = _obj(data.get("record"), "record")
    kind = h.kind if h.version == 2 else None
    if kind not in TRANSITION_KINDS:
        raise fail("BAD_ANSWER", f"transition: header {h.seq} is of kind {kind}, which has no record")
    if rec.get("kind") != kind or data.get("kind") != kind:
        raise fail("BAD_ANSWER", "transition: the record is not of the header's kind")
    seq = rec.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq != h.seq:
        raise fail("BAD_ANSWER", "transition: the record is not of the header's seq")
    p = _obj(data.get("proof"), "proof")
    if p.get("kind") != "inclusion":
        raise fail("BAD_PROOF", "transition: the proof is not an inclusion proof")
    if hex_bytes(p.get("key"), 32, "proof.key") != transition_key(h.seq):
        raise fail("BAD_PROOF", "transition: the proof is not for the record's key")
    if hex_bytes(p.get("value"), 32, "proof.value") != transition_value(rec):
        raise fail("BAD_PROOF", "transition: the record does not hash to the proven value")
    verify_proof_json(h.smt_root.hex(), p)
    return TransitionResult(h, rec)


# ---- §7 history tree (RFC 9162 §2.1.3, §2.1.4) --------------------------------------------


def mth(leaves: Sequence[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return MTH_EMPTY
    if n == 1:
        return H(b"\x00", leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def verify_inclusion(leaf: bytes, index: int, size: int, root: bytes, path: Sequence[bytes]) -> bool:
    if index >= size:
        return False
    fn, sn = index, size - 1
    r = H(b"\x00", leaf)
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m: int, n: int, first: bytes, second: bytes, proof: Sequence[bytes]) -> bool:
    if m == n:
        return len(proof) == 0 and first == second
    if m == 0 or m > n:
        return False
    path = list(proof)
    if m & (m - 1) == 0:
        path = [first] + path
    if not path:
        return False
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first and sr == second and sn == 0


# ---- §11.1 history proof ------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryResult:
    from_header: Header
    to_header: Header


def verify_history_proof(
    proof: Any,
    public_key: str | bytes,
    chain_id: str | bytes | None = None,
    trusted_hash: str | bytes | None = None,
) -> HistoryResult:
    """§11.1: both headers (v1 with the v1 rule), then that `to` extends `from`.

    trusted_hash: the header_hash the caller holds; `from` must be it (FORK otherwise).
    """
    pub = _pub(public_key)
    pin = _chain(chain_id)
    p = _obj(proof, "history proof")
    a = check_header(p.get("from"), pub, pin, allow_v1=True)
    b = check_header(p.get("to"), pub, pin, allow_v1=True)
    if trusted_hash is not None:
        t = trusted_hash if isinstance(trusted_hash, bytes) else hex_bytes(trusted_hash, 32, "trusted hash")
        if t != a.header_hash:
            raise fail("FORK", "history: from is not the trusted header")
    inc = [hex_bytes(x, 32, f"inclusion[{i}]") for i, x in enumerate(_arr(p.get("inclusion"), "inclusion"))]
    con = [hex_bytes(x, 32, f"consistency[{i}]") for i, x in enumerate(_arr(p.get("consistency"), "consistency"))]
    if a.seq > b.seq:
        raise fail("BAD_ANSWER", "history: from.seq > to.seq")
    if a.version > b.version:
        raise fail("FORK", "history: a v1 header after a v2 header")
    if a.version == 2 and a.chain_id != b.chain_id:
        raise fail("WRONG_CHAIN", "history: the headers are of different chains")
    if a.version == 1 and a.seq == 0 and b.version == 2 and b.chain_id != chain_id_from_v1(pub, a.header_hash):
        raise fail("WRONG_CHAIN", "history: chain_id is not derived from this v1 header 0")
    if a.seq == b.seq:
        if inc or con:
            raise fail("BAD_ANSWER", "history: non-empty proofs between a header and itself")
        if a.header_hash != b.header_hash:
            raise fail("FORK", "history: two different headers with the same seq (a fork)")
        return HistoryResult(a, b)
    if not verify_inclusion(a.header_hash, a.seq, b.seq, b.history_root, inc):
        raise fail("FORK", "history: inclusion proof does not verify")
    if a.seq == 0:
        if con:
            raise fail("FORK", "history: consistency proof from size 0")
    elif not verify_consistency(a.seq, b.seq, a.history_root, b.history_root, con):
        raise fail("FORK", "history: consistency proof does not verify")
    return HistoryResult(a, b)


# ---- §11.2 checkpoint ---------------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58(b: bytes) -> str:
    n = int.from_bytes(b, "big")
    out = ""
    while n > 0:
        n, r = divmod(n, 58)
        out = _B58[r] + out
    for x in b:
        if x != 0:
            break
        out = "1" + out
    return out


def base58_decode(s: str) -> bytes:
    n = 0
    for ch in s:
        i = _B58.find(ch)
        if i < 0:
            raise ValueError("not base58")
        n = n * 58 + i
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    lead = len(s) - len(s.lstrip("1"))
    return b"\x00" * lead + body


def _b64_strict(s: str, what: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", s) or len(s) % 4:
        raise fail("BAD_ANSWER", f"{what}: not base64")
    b = base64.b64decode(s)
    if base64.b64encode(b).decode() != s:
        raise fail("BAD_ANSWER", f"{what}: non-canonical base64")
    return b


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: str


def verify_checkpoint(note: str, public_key: str | bytes, origin: str | None = None) -> Checkpoint:
    """§11.2: a C2SP checkpoint note signed by the identity key."""
    pub = _pub(public_key)
    if not isinstance(note, str):
        raise fail("BAD_ANSWER", "note: not text")
    want = origin if origin is not None else "vmdb/" + base58(pub)
    sep = note.find("\n\n")
    if sep < 0 or not note.endswith("\n"):
        raise fail("BAD_ANSWER", "note: no blank line before the signatures, or no final newline")
    text = note[: sep + 1]
    lines = text[:-1].split("\n")
    if len(lines) != 3:
        raise fail("BAD_ANSWER", "note: the text is not three lines")
    o, n, r = lines
    if not re.fullmatch(r"[\x21-\x2a\x2c-\x7e]+", o):
        raise fail("BAD_ANSWER", "note: origin is not printable ASCII without spaces or +")
    if o != want:
        raise fail("BAD_ANSWER", "note: not the expected origin")
    if not re.fullmatch(r"0|[1-9][0-9]*", n) or int(n) >= 2**53:
        raise fail("BAD_ANSWER", "note: size is not a decimal without leading zeros")
    root = _b64_strict(r, "note root")
    if len(root) != 32:
        raise fail("BAD_ANSWER", "note: root is not 32 bytes")
    key_id = H(want.encode(), b"\x0a\x01", pub)[:4]
    good = False
    for line in note[sep + 2 : -1].split("\n"):
        m = re.fullmatch(r"\u2014 (\S+) (\S+)", line)
        if not m:
            raise fail("BAD_ANSWER", "note: malformed signature line")
        if m.group(1) != want:
            continue
        b = _b64_strict(m.group(2), "note signature")
        if len(b) != 68 or b[:4] != key_id:
            continue
        if ed25519_ok(pub, text.encode("utf-8"), b[4:]):
            good = True
        else:
            raise fail("BAD_SIGNATURE", "note: the identity signature does not verify")
    if not good:
        raise fail("BAD_SIGNATURE", "note: no signature by the identity key")
    return Checkpoint(o, int(n), root.hex())


# ---- §9 proofs in answers, §10 complete read-latest ----------------------------------------

_INT = re.compile(r"0|-?[1-9][0-9]*")


def _pk_text(x: Any) -> str:
    if isinstance(x, str):
        return x
    if isinstance(x, bool) or x is None:
        raise fail("BAD_PROOF", "record: primary key is neither a number nor a string")
    try:
        if isinstance(x, JNum):
            return number_to_string(x.to_float())
        if isinstance(x, (int, float)):
            from .jcs import number_text

            return number_text(x)
    except JcsError as e:
        raise fail("BAD_PROOF", f"record: primary key: {e}") from None
    raise fail("BAD_PROOF", "record: primary key is neither a number nor a string")


def _int_text(s: Any, what: str) -> int:
    if not isinstance(s, str) or not _INT.fullmatch(s):
        raise fail("INCOMPLETE", f"{what}: not an integer in canonical decimal")
    return int(s)


def canonical_id(x: Any) -> str:
    """A requested id as text (ints in decimal); the server answers with canonical ids (§9 step 5)."""
    if isinstance(x, bool):
        raise ValueError("an id is a string or an integer")
    if isinstance(x, int):
        return str(x)
    if isinstance(x, str):
        return x
    raise ValueError("an id is a string or an integer")


def verify_answer(
    data: Any,
    kind: str,
    public_key: str | bytes,
    chain_id: str | bytes | None = None,
    table: str | None = None,
    ids: Iterable[Any] | None = None,
    order: str | None = None,
    limit: int | None = None,
    require_complete: bool = False,
) -> Header:
    """§9 steps 1-5 (and §10 for read-latest) over an answer's `data`; returns the verified header.

    `data` should come from a strict parse (jcs.parse_strict) so that records
    hash from the exact number literals the server sent.
    """
    pub = _pub(public_key)
    pin = _chain(chain_id)
    if kind not in ANSWER_KINDS:
        raise ValueError(f"unknown answer kind {kind!r}")
    d = _obj(data, "data")
    p = _obj(d.get("proof"), "data.proof")
    # 1. the header
    header = check_header(p.get("header"), pub, pin)
    ptable = _str(p.get("table"), "proof.table")
    if not re.fullmatch(r"[a-z0-9_]{1,63}", ptable):
        raise fail("BAD_ANSWER", "proof.table: not a registered (lower-case) table name")
    if table is not None and table.lower() != ptable:
        raise fail("BAD_ANSWER", "proof.table: not the table the request named")
    pk = _str(p.get("primary_key"), "proof.primary_key")
    if pk == "":
        raise fail("BAD_ANSWER", "proof.primary_key: empty")
    present = []
    for i, e in enumerate(_arr(p.get("present"), "proof.present")):
        e = _obj(e, f"proof.present[{i}]")
        present.append(
            (
                _str(e.get("id"), f"proof.present[{i}].id"),
                hex_bytes(e.get("key"), 32, f"proof.present[{i}].key"),
                hex_bytes(e.get("value"), 32, f"proof.present[{i}].value"),
            )
        )
    absent = []
    for i, e in enumerate(_arr(p.get("absent"), "proof.absent")):
        e = _obj(e, f"proof.absent[{i}]")
        absent.append((_str(e.get("id"), f"proof.absent[{i}].id"), hex_bytes(e.get("key"), 32, f"proof.absent[{i}].key")))
    complete = p.get("complete")
    if complete is not None:
        complete = _obj(complete, "proof.complete")
        if kind != "read-latest":
            raise fail("BAD_ANSWER", "proof.complete outside read-latest")
    rkey = None
    if complete is not None:
        rkey = hex_bytes(complete.get("range_key"), 32, "complete.range_key")
        if rkey != range_key(ptable):
            raise fail("INCOMPLETE", "complete.range_key is not the range key of the table")

    # 2. the multiproof, over exactly the present, absent (and range) keys
    values = verify_multiproof_json(header.smt_root, p.get("multiproof"))
    expected = {k.hex() for _, k, _ in present} | {k.hex() for _, k in absent}
    if rkey is not None:
        expected.add(rkey.hex())
    if expected != set(values):
        raise fail("BAD_PROOF", "multiproof: its keys are not exactly the present, absent and range keys")

    # 3. present rows
    records = d.get("records")
    if kind == "delete-batch" and records is None:
        records = []
    records = _arr(records, "data.records")
    if kind == "delete-batch" and (present or records):
        raise fail("BAD_PROOF", "delete-batch: present rows in a delete answer")
    if len(present) != len(records):
        raise fail("BAD_PROOF", "proof.present: not one entry per record")
    for i, (pid, key, value) in enumerate(present):
        if key != row_key(ptable, pid):
            raise fail("BAD_PROOF", f"proof.present[{i}].key is not k(table, id)")
        if value != row_value(records[i]):
            raise fail("BAD_PROOF", f"proof.present[{i}].value is not the value of data.records[{i}]")
        if pk not in records[i] or _pk_text(records[i][pk]) != pid:
            raise fail("BAD_PROOF", f"data.records[{i}]: primary key is not proof.present[{i}].id")
        if values.get(key.hex()) != value.hex():
            raise fail("BAD_PROOF", f"multiproof: present[{i}] (id {pid}) is not present with its value")

    # 4. absent ids
    for i, (aid, key) in enumerate(absent):
        if key != row_key(ptable, aid):
            raise fail("BAD_PROOF", f"proof.absent[{i}].key is not k(table, id)")
        if values.get(key.hex()) is not None:
            raise fail("BAD_PROOF", f"multiproof: absent[{i}] (id {aid}) is present")
    absent_ids = {a for a, _ in absent}
    present_ids = {x for x, _, _ in present}
    if kind in ("read-batch", "delete-batch"):
        missing = d.get("missing")
        for i, mid in enumerate(_arr([] if missing is None else missing, "data.missing")):
            if _str(mid, f"data.missing[{i}]") not in absent_ids:
                raise fail("BAD_PROOF", f"data.missing[{i}] ({mid}) is not proven absent")
    if kind == "delete-batch":
        dids = d.get("ids")
        for i, did in enumerate(_arr([] if dids is None else dids, "data.ids")):
            if _str(did, f"data.ids[{i}]") not in absent_ids:
                raise fail("BAD_PROOF", f"data.ids[{i}] ({did}) is not proven absent after the delete")
    # 5. every requested id answered
    if ids is not None and kind in ("read-batch", "delete-batch"):
        for x in ids:
            s = canonical_id(x)
            if s not in present_ids and s not in absent_ids:
                raise fail("BAD_ANSWER", f"requested id {s} is neither returned nor proven absent")

    # §10
    if kind == "read-latest":
        if limit is not None and len(records) > limit:
            raise fail("BAD_ANSWER", "read-latest: more records than the limit")
        if complete is not None:
            if d.get("complete") is not True:
                raise fail("INCOMPLETE", "data.complete is not true beside a complete proof")
            _check_complete(complete, ptable, [x for x, _, _ in present], absent_ids, values, order, limit)
        else:
            if d.get("complete") is True:
                raise fail("INCOMPLETE", "data.complete is true without a complete proof")
            if require_complete:
                raise fail("INCOMPLETE", "read-latest: no complete proof")
    return header


def _check_complete(
    c: Mapping[str, Any],
    table: str,
    present_ids: list[str],
    absent_ids: set[str],
    values: Mapping[str, str | None],
    order: str | None,
    limit: int | None,
) -> None:
    corder = c.get("order")
    if corder not in ("desc", "asc"):
        raise fail("BAD_ANSWER", "complete.order: neither desc nor asc")
    climit = uint53(c.get("limit"), "complete.limit")
    if climit < 1:
        raise fail("BAD_ANSWER", "complete.limit: below 1")
    if order is not None and order != corder:
        raise fail("BAD_ANSWER", "complete.order: not the requested order")
    if limit is not None and limit != climit:
        raise fail("BAD_ANSWER", "complete.limit: not the requested limit")
    lo = _int_text(c.get("lo"), "complete.lo")
    hi = _int_text(c.get("hi"), "complete.hi")
    if lo > hi:
        raise fail("INCOMPLETE", "complete: lo > hi")
    if values.get(range_key(table).hex()) != range_value(c["lo"], c["hi"]).hex():
        raise fail("INCOMPLETE", "complete: the range key is not present with the range value of (lo, hi)")
    m = len(present_ids)
    if m > climit:
        raise fail("INCOMPLETE", "complete: more rows than the limit")
    r = [_int_text(x, f"present[{i}].id") for i, x in enumerate(present_ids)]
    for i in range(m):
        if r[i] < lo or r[i] > hi:
            raise fail("INCOMPLETE", f"complete: row id {r[i]} outside [lo, hi]")
        if i > 0 and (r[i] >= r[i - 1] if corder == "desc" else r[i] <= r[i - 1]):
            word = "decreasing" if corder == "desc" else "increasing"
            raise fail("INCOMPLETE", f"complete: row ids not strictly {word}")
    start, end = lo, hi
    if m == climit:
        if corder == "desc":
            start = r[-1] + 1
        else:
            end = r[-1] - 1
    rset = set(r)
    g = start
    # Stops at the first uncovered id: at most m + |absent| + 1 rounds whatever lo and hi claim.
    while g <= end:
        if g not in rset and str(g) not in absent_ids:
            raise fail("INCOMPLETE", f"complete: gap id {g} neither returned nor proven absent")
        g += 1


__all__ = [
    "VerificationError",
    "Header",
    "verify_answer",
    "verify_header",
    "verify_history_proof",
    "verify_checkpoint",
    "verify_proof_json",
    "verify_multiproof_json",
    "row_key",
    "row_value",
    "range_key",
    "range_value",
]

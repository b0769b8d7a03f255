"""Anchors on Solana (PROTOCOL.md §8.1), read with two JSON-RPC calls and checked locally.

getSignaturesForAddress lists the identity's transactions; getTransaction
(base64) returns each one's wire bytes, whose legacy message is parsed here
and whose Ed25519 signatures are verified over the exact bytes signed, so a
lying RPC node can hide anchors but not invent them.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.request
from dataclasses import dataclass
from typing import Any

from .protocol import base58, base58_decode, ed25519_ok

MEMO_PROGRAM = base58_decode("MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr")
_MEMO = re.compile(r"vmdb1:(0|[1-9][0-9]{0,19}):([0-9a-f]{64}):([0-9a-f]{64})")


@dataclass(frozen=True)
class Anchor:
    seq: int
    header_hash: str
    smt_root: str
    slot: int
    signature: str  # base58 transaction id


class _Wire:
    def __init__(self, b: bytes) -> None:
        self.b = b
        self.i = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.i + n > len(self.b):
            raise ValueError("truncated transaction")
        out = self.b[self.i : self.i + n]
        self.i += n
        return out

    def cu16(self) -> int:
        """Solana's compact-u16 (1 to 3 bytes, minimal)."""
        v = 0
        for shift in (0, 7, 14):
            x = self.take(1)[0]
            if shift == 14 and x > 3:
                raise ValueError("compact-u16 overflow")
            v |= (x & 0x7F) << shift
            if not x & 0x80:
                if x == 0 and shift:
                    raise ValueError("non-minimal compact-u16")
                return v
        raise ValueError("compact-u16 too long")


def parse_anchor_tx(wire: bytes, identity: bytes) -> tuple[int, str, str, bytes] | None:
    """(seq, header_hash, smt_root, first signature) if the wire transaction is an anchor of identity."""
    try:
        w = _Wire(wire)
        nsig = w.cu16()
        sigs = [w.take(64) for _ in range(nsig)]
        msg_start = w.i
        hdr = w.take(3)
        if hdr[0] & 0x80:
            return None  # a versioned message: vmdb anchors with legacy messages
        nreq = hdr[0]
        nkeys = w.cu16()
        keys = [w.take(32) for _ in range(nkeys)]
        w.take(32)  # recent blockhash
        ninst = w.cu16()
        insts = []
        for _ in range(ninst):
            prog = w.take(1)[0]
            accts = list(w.take(w.cu16()))
            data = w.take(w.cu16())
            insts.append((prog, accts, data))
        if w.i != len(wire) or nsig != nreq or nreq > nkeys or nsig == 0:
            return None
        msg = wire[msg_start:]
        if not all(ed25519_ok(keys[i], msg, sigs[i]) for i in range(nsig)):
            return None
        if identity not in keys[:nreq]:
            return None
        for prog, accts, data in insts:
            if prog >= nkeys or keys[prog] != MEMO_PROGRAM:
                continue
            if any(a >= nkeys for a in accts) or not any(keys[a] == identity for a in accts):
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                continue
            m = _MEMO.fullmatch(text)
            if m and int(m.group(1)) < 2**64:
                return int(m.group(1)), m.group(2), m.group(3), sigs[0]
        return None
    except (ValueError, IndexError):
        return None


def _rpc(url: str, method: str, params: list[Any], timeout: float) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        out = json.loads(r.read())
    if "error" in out and out["error"]:
        raise OSError(f"{method}: {out['error']}")
    return out.get("result")


def list_anchors(rpc_url: str, identity: bytes, timeout: float = 30) -> list[Anchor]:
    """Every anchor of the identity the RPC node knows of (each transaction verified here)."""
    addr = base58(identity)
    out: list[Anchor] = []
    before: str | None = None
    while True:
        # "confirmed", as the JS client and vmdb's own anchor reader use.
        opts: dict[str, Any] = {"limit": 1000, "commitment": "confirmed"}
        if before:
            opts["before"] = before
        page = _rpc(rpc_url, "getSignaturesForAddress", [addr, opts], timeout) or []
        for ent in page:
            if ent.get("err") is not None:
                continue
            sig = ent["signature"]
            tx = _rpc(rpc_url, "getTransaction", [sig, {"encoding": "base64", "commitment": "confirmed", "maxSupportedTransactionVersion": 0}], timeout)
            if not tx or not tx.get("meta") or tx["meta"].get("err") is not None:
                continue
            t = tx.get("transaction")
            if not isinstance(t, list) or len(t) < 1:
                continue
            try:
                wire = base64.b64decode(t[0], validate=True)
            except ValueError:
                continue
            got = parse_anchor_tx(wire, identity)
            if got is None or base58(got[3]) != sig:
                continue  # the transaction asked for is the one returned: its first signature is its id
            out.append(Anchor(got[0], got[1], got[2], int(tx.get("slot") or 0), sig))
        if len(page) < 1000:
            break
        before = page[-1]["signature"]
    return out

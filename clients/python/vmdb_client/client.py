"""VmdbClient: every call asks for a proof, verifies it, and links it to the newest header seen.

The state (the newest verified header, with the pinned key and chain_id) is
the JSON of ``vmdb verify --state FILE``, so one file serves the CLI and both
clients. When an answer's header seq differs from the saved one, the history
proof between the two (PROTOCOL.md §11.1) is fetched and checked: an older
server (restored from a backup) gives ROLLBACK, two histories give FORK.
"""

from __future__ import annotations

import json
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from .errors import VerificationError, VmdbServerError, fail
from .jcs import JcsError, dumps_plain, parse_strict, plain
from .protocol import Header, _chain, _pub, check_header, verify_answer, verify_history_proof

# The most rows one read-latest answers (the server caps a larger limit and
# proves the limit it used), as MAX_READ_LATEST in the JS client.
MAX_READ_LATEST = 100


@dataclass
class WriteResult:
    ids: list[str]
    records: list[dict[str, Any]]
    header: dict[str, Any]


@dataclass
class ReadBatchResult:
    ids: list[str]
    records: list[dict[str, Any]]
    missing: list[str]
    header: dict[str, Any]


@dataclass
class ReadLatestResult:
    ids: list[str]
    records: list[dict[str, Any]]
    complete: bool
    header: dict[str, Any]


@dataclass
class DeleteResult:
    ids: list[str]
    missing: list[str]
    header: dict[str, Any]


@dataclass
class AnchorResult:
    anchored_seq: int
    slot: int
    signature: str


class StateStore(Protocol):
    """Where the newest verified header lives: load() -> dict | None, save(dict)."""

    def load(self) -> dict[str, Any] | None: ...

    def save(self, state: dict[str, Any]) -> None: ...


@dataclass
class MemoryState:
    state: dict[str, Any] | None = None

    def load(self) -> dict[str, Any] | None:
        return self.state

    def save(self, state: dict[str, Any]) -> None:
        self.state = state


@dataclass
class FileState:
    """The `vmdb verify --state` file: written atomically (temp file + rename), mode 0600."""

    path: str

    def load(self) -> dict[str, Any] | None:
        try:
            with open(self.path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return None
        try:
            v = parse_strict(raw)
        except JcsError as e:
            raise ValueError(f"the state file {self.path} is malformed: {e}") from None
        if not isinstance(v, dict):
            raise ValueError(f"the state file {self.path} is malformed")
        return v

    def save(self, state: dict[str, Any]) -> None:
        d = os.path.dirname(os.path.abspath(self.path))
        fd, tmp = tempfile.mkstemp(prefix=".vmdb-state-", dir=d)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(dumps_plain(state) + "\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


Transport = Callable[[str, str, "bytes | None", dict[str, str]], tuple[int, bytes]]


class VmdbClient:
    """A client that resolves only to verified answers (PROTOCOL.md v2)."""

    def __init__(
        self,
        url: str,
        public_key: str,
        chain_id: str | None = None,
        state: str | os.PathLike[str] | StateStore | None = None,
        api_key: str | None = None,
        solana_rpc: str | None = None,
        timeout: float = 30,
        transport: Transport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.public_key = _pub(public_key).hex()
        self._pub = bytes.fromhex(self.public_key)
        self.chain_id = _chain(chain_id).hex() if chain_id else None
        self.api_key = api_key
        self.solana_rpc = solana_rpc
        self.timeout = timeout
        self._transport = transport or self._urllib
        if state is None:
            self._store: StateStore = MemoryState()
        elif isinstance(state, (str, os.PathLike)):
            self._store = FileState(os.fspath(state))
        else:
            self._store = state
        self._saved: Header | None = None
        self._load_state()

    # ---- state -------------------------------------------------------------------------

    def _load_state(self) -> None:
        s = self._store.load()
        if s is None:
            return
        if not isinstance(s, dict) or not isinstance(s.get("public_key"), str):
            raise ValueError("the state is malformed (public_key)")
        if s["public_key"].lower() != self.public_key:
            raise ValueError("the state holds another public key than the one configured")
        sc = s.get("chain_id")
        if sc is not None:
            sc = _chain(sc).hex() if isinstance(sc, str) else None
            if sc is None:
                raise ValueError("the state is malformed (chain_id)")
            if self.chain_id is not None and self.chain_id != sc:
                raise VerificationError("WRONG_CHAIN", "the state's chain_id is not the configured one")
            self.chain_id = sc
        self._saved = check_header(s.get("header"), self._pub, self._pin())

    def _pin(self) -> bytes | None:
        return bytes.fromhex(self.chain_id) if self.chain_id else None

    def _save(self, h: Header) -> None:
        if self.chain_id is None and h.chain_id is not None:
            self.chain_id = h.chain_id.hex()
        self._store.save(
            {"chain_id": self.chain_id, "header": h.to_json(), "public_key": self.public_key, "version": 1}
        )
        self._saved = h

    @property
    def saved_header(self) -> dict[str, Any] | None:
        """The newest verified header (JSON form), or None before the first answer."""
        return self._saved.to_json() if self._saved else None

    def _link(self, h: Header) -> None:
        """Links a verified header to the saved one (§11.1), then keeps the newer."""
        t = self._saved
        if t is None:
            self._save(h)
            return
        if h.seq == t.seq:
            if h.header_hash != t.header_hash:
                raise fail("FORK", f"two different headers for seq {h.seq}")
            return
        older, newer = (h, t) if h.seq < t.seq else (t, h)
        code = "ROLLBACK" if h.seq < t.seq else "FORK"
        try:
            data = self._get(f"/api/roots/proof?from={older.seq}&to={newer.seq}")
        except VmdbServerError as e:
            # Any refusal (4xx) to prove the link is the verdict the direction
            # calls for, as in the JS client; a 5xx stays a server error.
            if 400 <= e.status < 500:
                raise fail(code, f"the server cannot prove seq {newer.seq} extends {older.seq} ({e.code}: {e.message})") from None
            raise
        try:
            r = verify_history_proof(data, self._pub, self._pin(), trusted_hash=older.header_hash)
            if r.to_header.header_hash != newer.header_hash:
                raise fail(code, "the history proof ends at another header than the one held")
        except VerificationError as e:
            if h.seq < t.seq:
                raise fail("ROLLBACK", f"seq {h.seq} is older than the saved seq {t.seq} and not its ancestor: {e}") from None
            raise fail("FORK", f"seq {h.seq} does not extend the saved seq {t.seq}: {e}") from None
        if h.seq > t.seq:
            self._save(h)

    # ---- HTTP ----------------------------------------------------------------------------

    def _urllib(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        req = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def _call(self, method: str, path: str, body: Any = None, bare: bool = False) -> Any:
        headers = {"Accept": "application/json"}
        raw = None
        if body is not None:
            raw = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        status, resp = self._transport(method, self.url + path, raw, headers)
        try:
            env = parse_strict(resp)
        except JcsError as e:
            if status >= 400:
                raise VmdbServerError(status, "HTTP_ERROR", resp[:200].decode("utf-8", "replace")) from None
            raise fail("BAD_ANSWER", f"the answer is not strict JSON: {e}") from None
        if bare and status < 400 and not (isinstance(env, dict) and "success" in env):
            return env  # a route that answers without the envelope (/bootstrap/schema)
        if not isinstance(env, dict) or not isinstance(env.get("success"), bool):
            raise fail("BAD_ANSWER", "the answer is not vmdb's envelope")
        if env["success"] is not True:
            code = env.get("code") if isinstance(env.get("code"), str) else "ERROR"
            msg = env.get("error") if isinstance(env.get("error"), str) else ""
            raise VmdbServerError(status, code, msg, plain(env.get("data")))
        return env.get("data")

    def _get(self, path: str) -> Any:
        return self._call("GET", path)

    def _model(self, model: str, op: str, body: dict[str, Any]) -> Any:
        body = dict(body, proof=True)
        return self._call("POST", f"/api/models/{urllib.parse.quote(model, safe='')}/{op}", body)

    def _verified(self, data: Any, kind: str, model: str, **kw: Any) -> Header:
        h = verify_answer(data, kind, self._pub, chain_id=self._pin(), table=model, **kw)
        self._link(h)
        return h

    # ---- the API -------------------------------------------------------------------------

    def create_batch(self, model: str, records: list[dict[str, Any]]) -> WriteResult:
        data = self._model(model, "create-batch", {"records": records})
        h = self._verified(data, "create-batch", model)
        return WriteResult(plain(data.get("ids") or []), plain(data["records"]), h.to_json())

    def upsert(self, model: str, records: list[dict[str, Any]]) -> WriteResult:
        data = self._model(model, "upsert", {"records": records})
        h = self._verified(data, "upsert", model)
        return WriteResult(plain(data.get("ids") or []), plain(data["records"]), h.to_json())

    def read_batch(self, model: str, ids: list[Any]) -> ReadBatchResult:
        sids = [str(x) if isinstance(x, int) and not isinstance(x, bool) else x for x in ids]
        data = self._model(model, "read-batch", {"ids": sids})
        h = self._verified(data, "read-batch", model, ids=sids)
        return ReadBatchResult(
            plain(data.get("ids") or []), plain(data["records"]), plain(data.get("missing") or []), h.to_json()
        )

    def read_latest(
        self,
        model: str,
        limit: int = 10,
        where: dict[str, Any] | None = None,
        order_by: dict[str, Any] | None = None,
        require_complete: bool = False,
    ) -> ReadLatestResult:
        body: dict[str, Any] = {"limit": limit}
        if where is not None:
            body["where"] = where
        if order_by is not None:
            body["order_by"] = order_by
        data = self._model(model, "read-latest", body)
        order = None
        if isinstance(order_by, dict) and isinstance(order_by.get("direction"), str):
            order = order_by["direction"].lower()
        # The server answers at most MAX_READ_LATEST rows and proves the limit it used.
        proven_limit = min(limit, MAX_READ_LATEST) if isinstance(limit, int) and limit > 0 else limit
        h = self._verified(
            data, "read-latest", model, limit=proven_limit, order=order, require_complete=require_complete
        )
        return ReadLatestResult(
            plain(data.get("ids") or []), plain(data["records"]), data.get("complete") is True, h.to_json()
        )

    def delete_batch(self, model: str, ids: list[Any]) -> DeleteResult:
        sids = [str(x) if isinstance(x, int) and not isinstance(x, bool) else x for x in ids]
        data = self._model(model, "delete-batch", {"ids": sids})
        h = self._verified(data, "delete-batch", model, ids=sids)
        return DeleteResult(plain(data.get("ids") or []), plain(data.get("missing") or []), h.to_json())

    def schema(self) -> Any:
        """The server's /bootstrap/schema data. Not verified: the schema is not part of any proof."""
        return plain(self._call("GET", "/bootstrap/schema", bare=True))

    def sync(self) -> dict[str, Any]:
        """Fetches /api/roots/latest, verifies the header and links it to the state."""
        data = self._get("/api/roots/latest")
        if not isinstance(data, dict):
            raise fail("BAD_ANSWER", "/api/roots/latest: no data")
        h = check_header(data.get("header"), self._pub, self._pin())
        self._link(h)
        return h.to_json()

    def transition(self, seq: int) -> dict[str, Any]:
        """The transition record of header seq (PROTOCOL.md §14.2), verified against that signed
        header, whose history is linked to the state; -> {"record", "header"}."""
        from .protocol import verify_transition

        data = self._get(f"/api/roots/{int(seq)}/transition")
        t = verify_transition(data, self._pub, self._pin())
        if t.header.seq != int(seq):
            raise fail("BAD_ANSWER", f"asked for the transition of {seq}, got {t.header.seq}")
        self._link(t.header)
        return {"record": t.record, "header": t.header.to_json()}

    def check_anchored(self, header: dict[str, Any]) -> AnchorResult:
        """§8.1: an anchor of the identity on Solana covers the header (itself or a later, linked one)."""
        from .solana import list_anchors

        if not self.solana_rpc:
            raise ValueError("check_anchored needs solana_rpc")
        h = check_header(header, self._pub, self._pin())
        try:
            anchors = list_anchors(self.solana_rpc, self._pub, self.timeout)
        except (OSError, ValueError, KeyError) as e:
            raise fail("NOT_ANCHORED", f"cannot read the anchors: {e}") from None
        by_seq: dict[int, Any] = {}
        for a in anchors:
            if a.seq in by_seq and by_seq[a.seq].header_hash != a.header_hash:
                raise fail("NOT_ANCHORED", f"two anchors of seq {a.seq} carry different headers")
            by_seq.setdefault(a.seq, a)
        later = sorted(s for s in by_seq if s >= h.seq)
        if not later:
            raise fail("NOT_ANCHORED", f"no anchor of the identity at seq {h.seq} or later")
        a = by_seq[later[0]]
        if a.seq == h.seq:
            if a.header_hash != h.header_hash.hex() or a.smt_root != h.smt_root.hex():
                raise fail("NOT_ANCHORED", f"the anchor of seq {a.seq} carries another header")
        else:
            try:
                data = self._get(f"/api/roots/proof?from={h.seq}&to={a.seq}")
                r = verify_history_proof(data, self._pub, self._pin(), trusted_hash=h.header_hash)
            except (VerificationError, VmdbServerError) as e:
                raise fail("NOT_ANCHORED", f"the anchor of seq {a.seq} is not linked to seq {h.seq}: {e}") from None
            if r.to_header.header_hash.hex() != a.header_hash or r.to_header.smt_root.hex() != a.smt_root:
                raise fail("NOT_ANCHORED", f"the server's header {a.seq} is not the one anchored")
        return AnchorResult(a.seq, a.slot, a.signature)


__all__ = [
    "VmdbClient",
    "WriteResult",
    "ReadBatchResult",
    "ReadLatestResult",
    "DeleteResult",
    "AnchorResult",
    "StateStore",
    "MemoryState",
    "FileState",
    "VmdbServerError",
]

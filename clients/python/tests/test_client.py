"""VmdbClient's state and its ROLLBACK / FORK logic, against a scripted transport serving vector headers."""

from __future__ import annotations

import json
import os
import stat
import tempfile
import unittest
from typing import Any

from vmdb_client import VerificationError, VmdbClient, VmdbServerError
from vmdb_client.client import MemoryState

from .test_vectors import V2

PK = V2["key"]["public_key"]
CHAIN = V2["headers"][0]["chain_id"]
HDR = {h["seq"]: h["json"] for h in V2["headers"] if h["chain_id"] == CHAIN}
PROOFS = {(p["from"]["seq"], p["to"]["seq"]): p for p in V2["history_proofs"]}


class FakeServer:
    """Answers /api/roots/latest with `latest` and /api/roots/proof from `proofs` (else INVALID_RANGE)."""

    def __init__(self, latest: dict[str, Any], proofs: dict[tuple[int, int], Any]) -> None:
        self.latest = latest
        self.proofs = proofs
        self.calls: list[tuple[str, str, dict[str, str]]] = []

    def __call__(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        self.calls.append((method, url, headers))
        path = url.split("://", 1)[1].split("/", 1)[1]
        if path == "api/roots/latest":
            return 200, json.dumps({"success": True, "data": {"header": self.latest}}).encode()
        if path.startswith("api/roots/proof?"):
            q = dict(kv.split("=") for kv in path.split("?", 1)[1].split("&"))
            p = self.proofs.get((int(q["from"]), int(q["to"])))
            if p is None:
                return 400, json.dumps({"success": False, "code": "INVALID_RANGE", "error": "no such range"}).encode()
            return 200, json.dumps({"success": True, "data": p}).encode()
        return 404, json.dumps({"success": False, "code": "NOT_FOUND", "error": "nothing"}).encode()


def client(server: FakeServer, state: Any = None, **kw: Any) -> VmdbClient:
    return VmdbClient(url="http://vmdb.test", public_key=PK, state=state, transport=server, **kw)


class StateTests(unittest.TestCase):
    def test_file_round_trip(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "state.json")
            c = client(FakeServer(HDR[5], PROOFS), state=path, api_key="k1")
            self.assertEqual(c.sync()["seq"], 5)
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            with open(path) as f:
                s = json.load(f)
            self.assertEqual(sorted(s), ["chain_id", "header", "public_key", "version"])
            self.assertEqual((s["chain_id"], s["public_key"], s["version"], s["header"]["seq"]), (CHAIN, PK, 1, 5))
            self.assertEqual(s["header"]["header_hash"], HDR[5]["header_hash"])
            # a new client reads it back, and moves to 6 with the proof 5 -> 6
            srv = FakeServer(HDR[6], PROOFS)
            c2 = client(srv, state=path)
            self.assertEqual(c2.saved_header["seq"], 5)
            self.assertEqual(c2.sync()["seq"], 6)
            self.assertTrue(any("from=5&to=6" in u for _, u, _ in srv.calls))
            with open(path) as f:
                self.assertEqual(json.load(f)["header"]["seq"], 6)
            with self.assertRaises(ValueError):  # another key in the state file: a usage error
                VmdbClient(url="http://x", public_key=V2["other_key"]["public_key"], state=path, transport=srv)
            with self.assertRaises(VerificationError) as e:
                client(srv, state=path, chain_id="00" * 32)
            self.assertEqual(e.exception.code, "WRONG_CHAIN")

    def test_bearer(self):
        srv = FakeServer(HDR[5], PROOFS)
        client(srv, api_key="secret").sync()
        self.assertEqual(srv.calls[0][2].get("Authorization"), "Bearer secret")


class LinkTests(unittest.TestCase):
    def saved_at(self, seq: int) -> MemoryState:
        return MemoryState({"chain_id": CHAIN, "header": HDR[seq], "public_key": PK, "version": 1})

    def test_older_with_proof_is_fine(self):
        st = self.saved_at(5)
        c = client(FakeServer(HDR[2], PROOFS), state=st)
        self.assertEqual(c.sync()["seq"], 2)
        self.assertEqual(st.state["header"]["seq"], 5)  # keeps the newer

    def test_rollback(self):
        c = client(FakeServer(HDR[3], PROOFS), state=self.saved_at(6))  # no proof 3 -> 6: INVALID_RANGE
        with self.assertRaises(VerificationError) as e:
            c.sync()
        self.assertEqual(e.exception.code, "ROLLBACK")

    def test_fork_without_proof(self):
        c = client(FakeServer(HDR[6], PROOFS), state=self.saved_at(3))  # no proof 3 -> 6: INVALID_RANGE
        with self.assertRaises(VerificationError) as e:
            c.sync()
        self.assertEqual(e.exception.code, "FORK")

    def test_rollback_bad_proof(self):
        p = json.loads(json.dumps(PROOFS[(2, 5)]))
        p["inclusion"][0] = "00" * 32
        c = client(FakeServer(HDR[2], {(2, 5): p}), state=self.saved_at(5))
        with self.assertRaises(VerificationError) as e:
            c.sync()
        self.assertEqual(e.exception.code, "ROLLBACK")

    def test_fork_bad_proof(self):
        p = json.loads(json.dumps(PROOFS[(2, 5)]))
        p["consistency"] = p["consistency"][:-1]
        c = client(FakeServer(HDR[5], {(2, 5): p}), state=self.saved_at(2))
        with self.assertRaises(VerificationError) as e:
            c.sync()
        self.assertEqual(e.exception.code, "FORK")

    def test_fork_same_seq(self):
        fork = [n for n in V2["negative"] if n["name"] == "history_fork"][0]["input"]
        a, b = fork["from"], fork["to"]
        st = MemoryState({"chain_id": CHAIN, "header": a, "public_key": PK, "version": 1})
        c = client(FakeServer(b, {}), state=st)
        with self.assertRaises(VerificationError) as e:
            c.sync()
        self.assertEqual(e.exception.code, "FORK")

    def test_server_error(self):
        srv = FakeServer(HDR[5], PROOFS)
        c = client(srv)
        with self.assertRaises(VmdbServerError) as e:
            c.read_batch("users", ["1"])
        self.assertEqual((e.exception.status, e.exception.code), (404, "NOT_FOUND"))

    def test_pins_chain(self):
        st = MemoryState()
        c = client(FakeServer(HDR[5], PROOFS), state=st)
        c.sync()
        self.assertEqual(st.state["chain_id"], CHAIN)
        other = [h for h in V2["headers"] if h["chain_id"] != CHAIN][0]["json"]
        c2 = client(FakeServer(other, {}), state=st)
        with self.assertRaises(VerificationError) as e:
            c2.sync()
        self.assertEqual(e.exception.code, "WRONG_CHAIN")


if __name__ == "__main__":
    unittest.main()

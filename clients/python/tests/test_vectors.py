"""The protocol vectors of docs/vectors (v1.json, v2.json, solana.json) through vmdb_client."""

from __future__ import annotations

import base64
import io
import json
import os
import struct
import subprocess
import sys
import unittest

from vmdb_client import VerificationError, canonicalize, verify_answer, verify_checkpoint, verify_header
from vmdb_client import verify_history_proof, verify_multiproof_json, verify_proof_json
from vmdb_client.conform import conform_case
from vmdb_client.jcs import JcsError, number_to_string
from vmdb_client.protocol import (
    mth,
    range_key,
    range_value,
    row_key,
    row_value,
    verify_consistency,
    verify_inclusion,
    verify_multiproof_bytes,
    verify_proof_bytes,
)
from vmdb_client.jcs import parse_strict
from vmdb_client.solana import parse_anchor_tx
from vmdb_client.protocol import base58_decode

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def load(name: str):
    with open(os.path.join(ROOT, "docs", "vectors", name), encoding="utf-8") as f:
        return json.load(f)


V1 = load("v1.json")
V2 = load("v2.json")
with open(os.path.join(ROOT, "tests", "conformance", "expected-codes.json"), encoding="utf-8") as f:
    EXPECTED = json.load(f)


def strict(v):
    return parse_strict(json.dumps(v, ensure_ascii=False))


class JcsVectors(unittest.TestCase):
    def test_jcs(self):
        for v in V1["jcs"]:
            with self.subTest(v["name"]):
                self.assertEqual(canonicalize(v["input"]), v["output"])

    def test_jcs_reject(self):
        for v in V1["jcs_reject"]:
            with self.subTest(v["name"]):
                with self.assertRaises(JcsError):
                    canonicalize(v["input"])

    def test_numbers(self):
        for v in V1["numbers"]:
            d = struct.unpack(">d", bytes.fromhex(v["bits"]))[0]
            self.assertEqual(number_to_string(d), v["output"], v["bits"])

    def test_invalid_utf8_rejected(self):
        with self.assertRaises(JcsError):
            canonicalize(b'"\xff"')
        with self.assertRaises(JcsError):
            canonicalize(b"\xef\xbb\xbf[]")


class V1Vectors(unittest.TestCase):
    def test_row_keys_values(self):
        for v in V1["row_keys"]:
            self.assertEqual(row_key(v["table"], v["pk"]).hex(), v["key"])
        for v in V1["row_values"]:
            self.assertEqual(canonicalize(v["row"]), v["jcs"])
            self.assertEqual(row_value(parse_strict(v["row"])).hex(), v["value"])

    def test_trees(self):
        for t in V1["trees"]:
            root = bytes.fromhex(t["root"])
            for p in t["proofs"]:
                val = bytes.fromhex(p["value"]) if p["present"] else None
                self.assertTrue(verify_proof_bytes(root, bytes.fromhex(p["key"]), val, bytes.fromhex(p["proof"])))
                if p["present"]:  # the same proof claiming absence fails
                    self.assertFalse(verify_proof_bytes(root, bytes.fromhex(p["key"]), None, bytes.fromhex(p["proof"])))
            for m in t["multiproofs"]:
                keys = [bytes.fromhex(k) for k in m["keys"]]
                res = verify_multiproof_bytes(root, keys, bytes.fromhex(m["proof"]))
                self.assertIsNotNone(res, t["name"])
                assert res is not None
                for k, pres, val in zip(keys, m["present"], m["values"]):
                    self.assertEqual(res[k].hex() if res[k] else None, val if pres else None)

    def test_headers(self):
        for h in V1["headers"]:
            j = {k: h[k] for k in ("seq", "smt_root", "prev", "history_root", "time_ms", "schema_hash", "header_hash", "sig")}
            j["version"] = 1
            got = verify_header(j, h["public_key"], allow_v1=True)
            self.assertEqual(got.header_hash.hex(), h["header_hash"])
            self.assertEqual(got.encoded.hex(), h["encoded"])
            with self.assertRaises(VerificationError) as e:
                verify_header(j, h["public_key"])
            self.assertEqual(e.exception.code, "BAD_HEADER")

    def test_history(self):
        for hv in V1["history"]:
            leaves = [bytes.fromhex(x) for x in hv["leaves"]]
            self.assertEqual(mth(leaves).hex(), hv["root"])
            for p in hv["inclusion"]:
                path = [bytes.fromhex(x) for x in p["path"]]
                self.assertTrue(verify_inclusion(leaves[p["index"]], p["index"], p["size"], bytes.fromhex(p["root"]), path))
            for p in hv["consistency"]:
                path = [bytes.fromhex(x) for x in p["proof"]]
                self.assertTrue(
                    verify_consistency(p["old"], p["new"], bytes.fromhex(p["old_root"]), bytes.fromhex(p["new_root"]), path)
                )


class V2Vectors(unittest.TestCase):
    pk = V2["key"]["public_key"]

    def test_headers(self):
        for h in V2["headers"]:
            got = verify_header(strict(h["json"]), self.pk, h["chain_id"])
            self.assertEqual(got.encoded.hex(), h["encoded"])
            self.assertEqual(got.header_hash.hex(), h["header_hash"])
        verify_header(V2["header_upper_case_hex"], self.pk)
        for h in V2["upgrade"]["v1_headers"]:
            verify_header(h["json"], self.pk, allow_v1=True)
        for h in V2["upgrade"]["v2_headers"]:
            verify_header(h["json"], self.pk, V2["upgrade"]["chain_id"])

    def test_id_range(self):
        for r in V2["id_range"]:
            self.assertEqual(range_key(r["table"]).hex(), r["range_key"])
            self.assertEqual(range_value(r["lo"], r["hi"]).hex(), r["range_value"])

    def test_transitions(self):
        from vmdb_client import verify_transition
        from vmdb_client.protocol import transition_key, transition_value

        for r in V2["transitions"]["records"]:
            self.assertEqual(canonicalize(json.dumps(r["record"])), r["record_jcs"])
            self.assertEqual(transition_key(r["seq"]).hex(), r["transition_key"])
            self.assertEqual(transition_value(r["record"]).hex(), r["transition_value"])
        a = V2["transitions"]["answers"][0]
        t = verify_transition(a, self.pk, a["header"]["chain_id"])
        self.assertEqual(t.header.seq, a["record"]["seq"])
        for mutate in (
            lambda d: d["record"].__setitem__("count", d["record"]["count"] + 1),
            lambda d: d["record"].__setitem__("seq", d["record"]["seq"] + 1),
            lambda d: d.__setitem__("kind", "clear"),
            lambda d: d["proof"].__setitem__("key", transition_key(a["header"]["seq"] + 1).hex()),
        ):
            d = json.loads(json.dumps(a))
            mutate(d)
            with self.assertRaises(VerificationError):
                verify_transition(d, self.pk)
        with self.assertRaises(VerificationError):
            verify_transition(a, V2["other_key"]["public_key"])

    def test_tree_sequences(self):
        for s in V2["tree_sequences"]:
            for st in s["steps"]:
                self.assertEqual(row_key(s["table"], st["id"]).hex(), st["key"])

    def test_row_values(self):
        self.assertTrue(V2["row_values"])
        for v in V2["row_values"]:
            self.assertEqual(canonicalize(v["row"]), v["jcs"], v["name"])
            self.assertEqual(row_value(parse_strict(v["row"])).hex(), v["value"], v["name"])

    def test_json_proofs(self):
        for p in V2["json_proofs"]:
            self.assertEqual(verify_proof_json(p["root"], p["proof"]).present, p["present"])
        for m in V2["json_multiproofs"]:
            self.assertEqual(verify_multiproof_json(m["root"], m["multiproof"]), m["values"])

    def test_answers(self):
        for a in V2["answers"]:
            with self.subTest(a["name"]):
                o = a["opts"]
                h = verify_answer(
                    strict(a["data"]),
                    a["kind"],
                    a["public_key"],
                    chain_id=a["chain_id"],
                    table=o.get("table"),
                    ids=o.get("ids"),
                    order=o.get("order"),
                    limit=o.get("limit"),
                    require_complete=o.get("requireComplete", False),
                )
                self.assertEqual(h.header_hash.hex(), a["data"]["proof"]["header"]["header_hash"])

    def test_history_proofs(self):
        for p in V2["history_proofs"] + V2["upgrade"]["history_proofs"]:
            r = verify_history_proof(p, self.pk, trusted_hash=p["from"]["header_hash"])
            self.assertEqual(r.to_header.seq, p["to"]["seq"])

    def test_checkpoints(self):
        for c in V2["checkpoints"]:
            cp = verify_checkpoint(c["note"], self.pk, c["origin"])
            self.assertEqual((cp.size, cp.root), (c["size"], c["root"]))

    def test_negative_codes(self):
        names = set()
        for n in V2["negative"]:
            if n["type"] == "trusted_state":
                continue
            names.add(n["name"])
            opts = dict(n.get("opts") or {})
            if n.get("chain_id"):
                opts.setdefault("chainId", n["chain_id"])
            if n["type"] in ("proof", "multiproof"):
                opts["root"] = n["root"]
            case = {"name": n["name"], "op": n["type"], "input": n["input"], "public_key": n["public_key"], "opts": opts}
            if n["type"] == "answer":
                case["kind"] = n["answer_kind"]
            with self.subTest(n["name"]):
                self.assertEqual(conform_case(case), {"name": n["name"], "ok": False, "code": EXPECTED[n["name"]]})
        self.assertEqual(names, set(EXPECTED) - {"_about"})

    def test_conform_cli(self):
        cases = [
            {"name": "cp", "op": "checkpoint", "input": V2["checkpoints"][0]["note"], "public_key": self.pk, "opts": {}},
            {"name": "bad", "op": "header", "input": {"version": 9}, "public_key": self.pk, "opts": {}},
        ]
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "clients", "python"))
        out = subprocess.run(
            [sys.executable, "-m", "vmdb_client.conform"], input=json.dumps(cases), capture_output=True, text=True, env=env, check=True
        )
        self.assertEqual(
            json.loads(out.stdout),
            [{"name": "cp", "ok": True, "code": None}, {"name": "bad", "ok": False, "code": "BAD_HEADER"}],
        )


class SolanaVectors(unittest.TestCase):
    def test_wire(self):
        for v in load("solana.json")["vectors"]:
            wire = base64.b64decode(v["expected"]["base64"])
            ident = base58_decode(v["inputs"]["identityAddress"])
            got = parse_anchor_tx(wire, ident)
            is_anchor = v["inputs"]["memo"].startswith("vmdb1:") and any(
                a["address"] == v["inputs"]["identityAddress"] for a in v["inputs"]["memoAccounts"]
            )
            self.assertEqual(got is not None, is_anchor, v["name"])
            if got:
                seq, hh, root, _ = got
                self.assertEqual(f"vmdb1:{seq}:{hh}:{root}", v["inputs"]["memo"])
                bad = bytearray(wire)
                bad[-1] ^= 1  # the memo changes: the signatures no longer verify
                self.assertIsNone(parse_anchor_tx(bytes(bad), ident))


if __name__ == "__main__":
    unittest.main()

"""Drives clients/python's VmdbClient for tests/conformance (the live client runs).

Reads {"config": {...}, "steps": [...]} as JSON on stdin and writes one outcome
per step as a JSON array on stdout; the step and outcome shapes are those of
tests/conformance/clients.mjs (runSteps), so the JS and the Python client are
driven through the same steps and compared. An error of a step is an outcome
({"ok": false, "error": <class>, "code": ...}), not a crash: the run goes on.
Run with Debian's /usr/bin/python3 and PYTHONPATH=clients/python.
"""
from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

from vmdb_client import VerificationError, VmdbClient, VmdbServerError


def _plain(v: Any) -> Any:
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _plain(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _summary(r: Any) -> dict[str, Any]:
    d = _plain(r)
    if not isinstance(d, dict):
        return {"ok": True, "value": d}
    out: dict[str, Any] = {"ok": True}
    for k in ("ids", "records", "missing", "complete"):
        if k in d and d[k] is not None:
            out[k] = d[k]
    h = d.get("header", d)
    if isinstance(h, dict) and "seq" in h:
        out["seq"] = h["seq"]
        out["header_hash"] = h.get("header_hash")
        out["header"] = h
    return out


def _anchored(r: Any) -> dict[str, Any]:
    d = _plain(r)
    out: dict[str, Any] = {"ok": True}
    if isinstance(d, dict):
        # snake_case fields under the JS names, so both compare the same.
        out["anchoredSeq"] = d.get("anchored_seq", d.get("anchoredSeq"))
        out["slot"] = d.get("slot")
        out["signature"] = d.get("signature")
    return out


def main() -> int:
    req = json.load(sys.stdin)
    cfg = req["config"]
    db = VmdbClient(url=cfg["url"], public_key=cfg["publicKey"], chain_id=cfg.get("chainId"),
                    state=cfg.get("state"), solana_rpc=cfg.get("solanaRpc"))
    out: list[dict[str, Any]] = []
    for s in req["steps"]:
        op = s["op"]
        try:
            if op == "createBatch":
                o = _summary(db.create_batch(s["model"], s["records"]))
            elif op == "readBatch":
                o = _summary(db.read_batch(s["model"], s["ids"]))
            elif op == "readLatest":
                o = _summary(db.read_latest(s["model"], limit=s.get("limit", 10), where=s.get("where"),
                                            order_by=s.get("orderBy"),
                                            require_complete=bool(s.get("requireComplete", False))))
            elif op == "upsert":
                o = _summary(db.upsert(s["model"], s["records"]))
            elif op == "deleteBatch":
                o = _summary(db.delete_batch(s["model"], s["ids"]))
            elif op == "sync":
                o = _summary(db.sync())
            elif op == "checkAnchored":
                o = _anchored(db.check_anchored(s["header"]))
            else:
                raise ValueError(f"unknown step {op}")
        except VerificationError as e:
            o = {"ok": False, "error": "VerificationError", "code": e.code, "status": None, "message": str(e)}
        except VmdbServerError as e:
            o = {"ok": False, "error": "VmdbServerError", "code": e.code, "status": e.status, "message": str(e)}
        except Exception as e:  # noqa: BLE001 - reported to the suite, which fails the step
            o = {"ok": False, "error": type(e).__name__, "code": getattr(e, "code", None), "status": None,
                 "message": str(e)}
        out.append(o)
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

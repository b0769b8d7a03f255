"""Conformance entry point: ``python3 -m vmdb_client.conform`` < cases.json > results.json.

Reads a JSON array of cases (docs/CLIENTS.md, clients contract) on stdin and
writes one result ``{"name", "ok", "code"}`` per case. Besides the contract's
ops (answer, header, history, checkpoint) it takes ``proof`` and
``multiproof`` (input: the §4 / §5 JSON form, opts.root: hex), so the
proof_* and multiproof_* negative vectors run through it too. Exit status 0
whatever the verdicts; non-zero only on a crash or unreadable input.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from .errors import VerificationError
from .jcs import JcsError, parse_strict
from .protocol import (
    verify_answer,
    verify_checkpoint,
    verify_header,
    verify_history_proof,
    verify_multiproof_json,
    verify_proof_json,
)


def _strict(v: Any) -> Any:
    """Re-reads a case's input through the strict parser, so numbers keep their literal form."""
    if isinstance(v, str):
        return v
    return parse_strict(json.dumps(v, ensure_ascii=False))


def conform_case(case: dict[str, Any]) -> dict[str, Any]:
    name = case.get("name")
    op = case.get("op")
    opts = case.get("opts") or {}
    pk = case.get("public_key")
    try:
        if op == "answer":
            verify_answer(
                _strict(case.get("input")),
                case.get("kind", ""),
                pk,
                chain_id=opts.get("chainId"),
                table=opts.get("table"),
                ids=opts.get("ids"),
                order=opts.get("order"),
                limit=opts.get("limit"),
                require_complete=bool(opts.get("requireComplete", False)),
            )
        elif op == "header":
            verify_header(_strict(case.get("input")), pk, opts.get("chainId"), bool(opts.get("allowV1", False)))
        elif op == "history":
            verify_history_proof(_strict(case.get("input")), pk, opts.get("chainId"), opts.get("trustedHash"))
        elif op == "checkpoint":
            verify_checkpoint(case.get("input"), pk, opts.get("origin"))
        elif op == "proof":
            verify_proof_json(opts.get("root"), _strict(case.get("input")))
        elif op == "multiproof":
            verify_multiproof_json(opts.get("root"), _strict(case.get("input")))
        else:
            raise ValueError(f"unknown op {op!r}")
    except VerificationError as e:
        return {"name": name, "ok": False, "code": e.code}
    except JcsError:
        return {"name": name, "ok": False, "code": "BAD_ANSWER"}
    return {"name": name, "ok": True, "code": None}


def main() -> int:
    cases = json.load(sys.stdin)
    if not isinstance(cases, list):
        print("conform: stdin must hold a JSON array of cases", file=sys.stderr)
        return 2
    json.dump([conform_case(c) for c in cases], sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

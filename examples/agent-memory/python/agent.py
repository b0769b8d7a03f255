#!/usr/bin/python3
"""An agent keeping its memory in vmdb, and catching a memory edited behind vmdb's back.

Usage: /usr/bin/python3 examples/agent-memory/python/agent.py <url> <public_key_hex> [DATABASE_URL]

It applies a `memories` table (if the server has none), stores three
memories, reads the latest 10 with a completeness proof, then (given
DATABASE_URL) edits one row with psql directly in PostgreSQL and shows the
next read being refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "clients", "python"))

from vmdb_client import VerificationError, VmdbClient, VmdbServerError  # noqa: E402

SCHEMA = {
    "tables": [
        {
            "table_name": "memories",
            "primary_key_field": "id",
            "primary_key_kind": "serial",
            "columns": [{"name": "text", "col_type": "text", "nullable": False}],
        }
    ]
}


def ensure_schema(url: str, db: VmdbClient) -> None:
    tables = [t["table_name"] for t in db.schema().get("tables", [])]
    if "memories" in tables:
        return
    req = urllib.request.Request(url.rstrip("/") + "/bootstrap/apply-schema", data=json.dumps(SCHEMA).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req) as r:
        print("applied the memories schema:", r.status)


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    url, public_key = sys.argv[1], sys.argv[2]
    database_url = sys.argv[3] if len(sys.argv) > 3 else os.environ.get("DATABASE_URL")
    db = VmdbClient(url=url, public_key=public_key, state="agent-state.json")
    ensure_schema(url, db)

    w = db.create_batch("memories", [{"text": "the user prefers tea"}, {"text": "meeting moved to 3pm"},
                                     {"text": "project codename: heron"}])
    print(f"stored memories {w.ids} under header {w.header['seq']} (verified)")

    latest = db.read_latest("memories", limit=10, require_complete=True)
    print(f"latest {len(latest.records)} memories, complete={latest.complete}, header {latest.header['seq']}:")
    for r in latest.records:
        print(f"  #{r['id']}: {r['text']}")

    if not database_url:
        print("(give DATABASE_URL to see a tampered row refused)")
        return 0
    victim = w.ids[0]
    sql = f"UPDATE memories SET text = 'the user prefers coffee' WHERE id = {int(victim)}"
    subprocess.run(["psql", database_url, "-q", "-c", sql], check=True)
    print(f"edited memory #{victim} with psql, behind vmdb's back")
    try:
        got = db.read_batch("memories", [victim])
        print("UNEXPECTED: the edited row was returned:", got.records)
        return 1
    except VmdbServerError as e:
        print(f"refused by the server: {e.status} {e.code}: {e.message}")
    except VerificationError as e:
        print(f"refused by the client: {e.code}: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

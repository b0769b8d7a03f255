#!/usr/bin/python3
"""An agent keeping its memory in vmdb, and catching a memory edited behind vmdb's back.

Usage: /usr/bin/python3 examples/agent-memory/python/agent.py <url> <public_key_hex>
           [--state FILE] [DATABASE_URL]

It applies the `memories` table (if the server has none; the same table as
the JavaScript example and docs/CLIENTS.md), stores three memories, reads the
latest 10 with a completeness proof, then (given DATABASE_URL, as an argument
or in the environment) edits one row with psql directly in PostgreSQL and
shows the next read being refused. Exit status 0 when the edit was refused
(or not attempted), 1 when an edited memory came back.
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
            "columns": [
                {"name": "content", "col_type": "text", "nullable": False},
                {"name": "topic", "col_type": "text", "nullable": True},
            ],
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
    args = sys.argv[1:]
    state = None
    if "--state" in args:
        i = args.index("--state")
        if i + 1 >= len(args):
            print(__doc__)
            return 2
        state = args[i + 1]
        del args[i : i + 2]
    if len(args) < 2:
        print(__doc__)
        return 2
    url, public_key = args[0], args[1]
    database_url = args[2] if len(args) > 2 else os.environ.get("DATABASE_URL")
    # state: the newest verified header, kept across runs (in memory without --state).
    db = VmdbClient(url=url, public_key=public_key, state=state)
    ensure_schema(url, db)

    w = db.create_batch("memories", [
        {"content": "the user prefers tea", "topic": "style"},
        {"content": "meeting moved to 3pm", "topic": "calendar"},
        {"content": "project codename: heron", "topic": "ops"},
    ])
    print(f"stored memories {w.ids} under header {w.header['seq']} (verified)")

    latest = db.read_latest("memories", limit=10, require_complete=True)
    print(f"latest {len(latest.records)} memories, complete={latest.complete}, header {latest.header['seq']}:")
    for r in latest.records:
        print(f"  #{r['id']} [{r['topic']}] {r['content']}")

    if not database_url:
        print("(give DATABASE_URL to see a tampered row refused)")
        return 0
    victim = w.ids[0]
    sql = f"UPDATE memories SET content = 'the user prefers coffee' WHERE id = {int(victim)}"
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

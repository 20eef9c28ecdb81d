"""Operator commands.

    python -m todo_core.ops migrate                          # apply pending SQL migrations (Helm hook Job)
    python -m todo_core.ops verify-audit [--user UUID]      # exit 1 when a chain is broken
    python -m todo_core.ops replay-dlq TOPIC.dlq [--limit N] # put dead letters back on their topic

Both read DATABASE_URL. Replaying appends the original event to the outbox again (same CloudEvent
id), so the consumers see it once more and their idempotency keeps any effect single; each
dead letter is replayed at most once (recorded in the processed-event ledger).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from uuid import UUID

import psycopg

from todo_core.domain.ids import new_id
from todo_core.store import audit as audit_store
from todo_core.store import ledger


async def verify_audit(conninfo: str, user: UUID | None = None) -> list[audit_store.ChainReport]:
    async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
        if user is not None:
            users = [user]
        else:
            cur = await conn.execute("SELECT DISTINCT user_id FROM audit_log ORDER BY user_id")
            users = [r[0] for r in await cur.fetchall()]
        return [await audit_store.verify_chain(conn, u) for u in users]


async def replay_dlq(conninfo: str, dlq_topic: str, *, limit: int = 1000) -> int:
    if not dlq_topic.endswith(".dlq"):
        raise ValueError("give a dead-letter topic, e.g. audit-append.dlq")
    replayed = 0
    async with await psycopg.AsyncConnection.connect(conninfo) as conn:
        cur = await conn.execute(
            "SELECT event_id, payload FROM outbox WHERE topic = %(t)s ORDER BY id LIMIT %(n)s",
            {"t": dlq_topic, "n": limit},
        )
        for letter_id, letter in await cur.fetchall():
            original = letter.get("data", {}).get("event")
            async with conn.transaction():
                if not await ledger.claim(conn, "dlq-replay", letter_id):
                    continue
                if not isinstance(original, dict) or "id" not in original:
                    continue  # not an event (e.g. a message that was not JSON): nothing to replay
                await conn.execute(
                    "INSERT INTO outbox (event_id, topic, key, type, payload)"
                    " VALUES (%(id)s, %(topic)s, %(key)s, %(type)s, %(payload)s)",
                    {
                        "id": new_id(),
                        "topic": dlq_topic.removesuffix(".dlq"),
                        "key": str(letter.get("data", {}).get("key") or original.get("subject") or original["id"]),
                        "type": str(original.get("type", "")),
                        "payload": json.dumps(original),
                    },
                )
                replayed += 1
    return replayed


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m todo_core.ops", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="apply pending SQL migrations")
    v = sub.add_parser("verify-audit", help="verify the hash chain of the audit log")
    v.add_argument("--user", type=UUID)
    r = sub.add_parser("replay-dlq", help="replay the events of a dead-letter topic")
    r.add_argument("topic")
    r.add_argument("--limit", type=int, default=1000)
    args = ap.parse_args(argv)
    conninfo = os.environ.get("DATABASE_URL", "")
    if not conninfo:
        sys.stderr.write("DATABASE_URL is required\n")
        return 2
    if args.command == "migrate":
        from todo_core.store.db import migrate

        applied = migrate(conninfo)
        sys.stdout.write(f"{len(applied)} migrations applied: {', '.join(applied) or 'none pending'}\n")
        return 0
    if args.command == "verify-audit":
        reports = asyncio.run(verify_audit(conninfo, args.user))
        broken = [r for r in reports if not r.ok]
        for rep in reports:
            state = "ok" if rep.ok else f"BROKEN at audit_log.id={rep.broken_at}"
            sys.stdout.write(f"user {rep.user_id}: {rep.entries} entries checked, {state}\n")
        sys.stdout.write(f"{len(reports)} chains, {len(broken)} broken\n")
        return 1 if broken else 0
    n = asyncio.run(replay_dlq(conninfo, args.topic, limit=args.limit))
    sys.stdout.write(f"{n} events replayed from {args.topic}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

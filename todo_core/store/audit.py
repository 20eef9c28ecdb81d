"""Append-only audit trail, hash-chained per user, idempotent by event id."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

Conn = AsyncConnection[Any]

GENESIS = "0" * 64


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """sha256 over the previous hash and the canonical JSON of the entry."""
    canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _entry(
    event_id: str,
    user_id: str,
    task_id: str | None,
    action: str,
    actor: str,
    channel: str,
    before: Any,
    after: Any,
    occurred_at: str,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "user_id": user_id,
        "task_id": task_id,
        "action": action,
        "actor": actor,
        "channel": channel,
        "before": before,
        "after": after,
        "occurred_at": occurred_at,
    }


async def append_event(conn: Conn, envelope: dict[str, Any]) -> bool:
    """Append one ``todo.audit.append.v1`` event; False if it was already there. Run in a transaction."""
    data = envelope["data"]
    user_id = str(envelope["userid"])
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%(u)s, 7))", {"u": user_id})
    seen = await conn.execute("SELECT 1 FROM audit_log WHERE event_id = %(e)s", {"e": envelope["id"]})
    if await seen.fetchone():
        return False
    last = await conn.execute(
        "SELECT hash FROM audit_log WHERE user_id = %(u)s ORDER BY id DESC LIMIT 1", {"u": user_id}
    )
    row = await last.fetchone()
    prev = row[0] if row else GENESIS
    occurred_at = datetime.fromisoformat(envelope["time"]).astimezone(UTC)
    entry = _entry(
        str(envelope["id"]),
        user_id,
        data.get("task_id"),
        data["action"],
        data["actor"],
        data["channel"],
        data.get("before"),
        data.get("after"),
        occurred_at.isoformat(),
    )
    await conn.execute(
        "INSERT INTO audit_log (event_id, user_id, task_id, action, actor, channel, before, after,"
        " occurred_at, prev_hash, hash) VALUES (%(event_id)s, %(user_id)s, %(task_id)s, %(action)s,"
        " %(actor)s, %(channel)s, %(before)s, %(after)s, %(occurred_at)s, %(prev)s, %(hash)s)",
        {
            **entry,
            "before": Jsonb(entry["before"]),
            "after": Jsonb(entry["after"]),
            "occurred_at": occurred_at,
            "prev": prev,
            "hash": entry_hash(prev, entry),
        },
    )
    return True


@dataclass(frozen=True, slots=True)
class ChainReport:
    user_id: UUID | None
    entries: int
    broken_at: int | None  # audit_log.id of the first entry that does not verify

    @property
    def ok(self) -> bool:
        return self.broken_at is None


async def verify_chain(conn: Conn, user_id: UUID) -> ChainReport:
    prev = GENESIS
    n = 0
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, event_id, user_id, task_id, action, actor, channel, before, after, occurred_at,"
            " prev_hash, hash FROM audit_log WHERE user_id = %(u)s ORDER BY id",
            {"u": user_id},
        )
        async for r in cur:
            n += 1
            entry = _entry(
                str(r["event_id"]),
                str(r["user_id"]),
                str(r["task_id"]) if r["task_id"] else None,
                r["action"],
                r["actor"],
                r["channel"],
                r["before"],
                r["after"],
                r["occurred_at"].astimezone(UTC).isoformat(),
            )
            if r["prev_hash"] != prev or entry_hash(prev, entry) != r["hash"]:
                return ChainReport(user_id, n, r["id"])
            prev = r["hash"]
    return ChainReport(user_id, n, None)


async def list_for_user(
    conn: Conn, user_id: UUID, *, task_id: UUID | None = None, limit: int = 100, before_id: int | None = None
) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, event_id, task_id, action, actor, channel, before, after, occurred_at, hash"
            " FROM audit_log WHERE user_id = %(u)s"
            " AND (%(t)s::uuid IS NULL OR task_id = %(t)s::uuid)"
            " AND (%(b)s::bigint IS NULL OR id < %(b)s::bigint)"
            " ORDER BY id DESC LIMIT %(l)s",
            {"u": user_id, "t": task_id, "b": before_id, "l": limit},
        )
        return await cur.fetchall()

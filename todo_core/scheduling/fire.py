"""The one fire handler: whatever timer says a reminder is due (the local timer, a Dapr job, the
reconciler), this turns it into exactly one ``todo.reminder.fire.v1`` outbox event.

The gate is the row itself: ``pending -> fired`` happens once, in the same transaction as the
outbox row, so a timer that fires twice (a Dapr retry, two gateway replicas, a restart) writes
one event. A reminder whose time passed more than ``LATE_AFTER`` ago fires marked ``late``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from todo_core.domain import events as ev
from todo_core.observability import observe_reminder_lateness
from todo_core.store import outbox

log = logging.getLogger(__name__)

LATE_AFTER = timedelta(seconds=30)
# a Dapr job may call back a moment before its dueTime (clock skew between hosts); the local timer
# never fires early
EARLY_TOLERANCE = timedelta(milliseconds=500)

Conn = AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class Fired:
    reminder_id: UUID
    task_id: UUID
    user_id: UUID
    fire_at: datetime
    late: bool
    event_id: UUID


async def fire_in(
    conn: Conn,
    reminder_id: UUID,
    *,
    now: datetime,
    expected_fire_at: datetime | None = None,
    early: timedelta = timedelta(0),
) -> Fired | None:
    """Inside a transaction: flip one pending reminder to fired and write its event; None if not due/valid."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE reminders r SET status = 'fired', fired_at = %(now)s,"
            " late = (%(now)s - r.fire_at) > %(late_after)s"
            " FROM tasks t"
            " WHERE r.id = %(id)s AND r.status = 'pending' AND t.id = r.task_id AND t.status = 'open'"
            " AND r.fire_at <= %(now)s + %(early)s"
            " AND (%(expected)s::timestamptz IS NULL OR r.fire_at = %(expected)s::timestamptz)"
            " RETURNING r.id, r.task_id, r.user_id, r.fire_at, r.late, t.title, t.due_at, t.timezone",
            {
                "id": reminder_id,
                "now": now,
                "late_after": LATE_AFTER,
                "early": early,
                "expected": expected_fire_at,
            },
        )
        row = await cur.fetchone()
    if row is None:
        return None
    event = ev.make_event(
        topic=ev.REMINDER_FIRE,
        type_=ev.REMINDER_FIRE_TYPE,
        key=str(row["task_id"]),
        subject=f"task/{row['task_id']}",
        user_id=row["user_id"],
        now=now,
        data={
            "reminder_id": str(row["id"]),
            "task_id": str(row["task_id"]),
            "fire_at": row["fire_at"].isoformat(),
            "fired_at": now.isoformat(),
            "late": row["late"],
            "title": row["title"],
            "due_at": row["due_at"].isoformat() if row["due_at"] else None,
            "timezone": row["timezone"],
        },
    )
    await outbox.append(conn, [event])
    return Fired(row["id"], row["task_id"], row["user_id"], row["fire_at"], row["late"], event.id)


async def fire_reminder(
    pool: AsyncConnectionPool,
    reminder_id: UUID,
    *,
    now: datetime,
    expected_fire_at: datetime | None = None,
    early: timedelta = timedelta(0),
) -> Fired | None:
    async with pool.connection() as conn, conn.transaction():
        fired = await fire_in(conn, reminder_id, now=now, expected_fire_at=expected_fire_at, early=early)
    if fired is not None:
        observe_reminder_lateness(fired.fire_at, now)
        log.info(
            "reminder fired", extra={"reminder_id": str(reminder_id), "late": fired.late, "fire_at": str(fired.fire_at)}
        )
    return fired


async def fire_due(
    pool: AsyncConnectionPool, *, now: datetime, limit: int = 500, older_than: timedelta | None = None
) -> list[Fired]:
    """Fire every pending reminder whose time has come (the local timer, and the reconciler with
    ``older_than``: only those a timer should already have fired). Rows locked by another replica
    are skipped, not waited for."""
    cutoff = now if older_than is None else now - older_than
    fired: list[Fired] = []
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute(
            "SELECT r.id FROM reminders r WHERE r.status = 'pending' AND r.fire_at <= %(cutoff)s"
            " ORDER BY r.fire_at LIMIT %(n)s FOR UPDATE SKIP LOCKED",
            {"cutoff": cutoff, "n": limit},
        )
        ids = [r[0] for r in await cur.fetchall()]
        for rid in ids:
            f = await fire_in(conn, rid, now=now)
            if f is not None:
                fired.append(f)
    for f in fired:  # committed: each fired exactly once
        observe_reminder_lateness(f.fire_at, now)
    return fired


async def next_fire_at(pool: AsyncConnectionPool) -> datetime | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT min(fire_at) FROM reminders WHERE status = 'pending'")
        row = await cur.fetchone()
    return row[0] if row else None

"""The processed-event ledger: an effect happens once per (consumer, event id)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection


async def claim(conn: AsyncConnection[Any], consumer: str, event_id: UUID | str) -> bool:
    """Inside the effect's transaction: True the first time, False for a redelivery."""
    cur = await conn.execute(
        "INSERT INTO processed_events (consumer, event_id) VALUES (%(c)s, %(e)s) ON CONFLICT DO NOTHING RETURNING 1",
        {"c": consumer, "e": event_id},
    )
    return await cur.fetchone() is not None

"""The transactional outbox: events are rows written in the command's own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from todo_core.domain.events import Event

Conn = AsyncConnection[Any]


async def append(conn: Conn, events: Sequence[Event]) -> None:
    """Write events to the outbox; must run inside the transaction of the state change."""
    if not events:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO outbox (event_id, topic, key, type, payload)"
            " VALUES (%(id)s, %(topic)s, %(key)s, %(type)s, %(payload)s)",
            [
                {"id": e.id, "topic": e.topic, "key": e.key, "type": e.type, "payload": Jsonb(e.envelope())}
                for e in events
            ],
        )

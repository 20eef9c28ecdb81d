"""The transactional outbox: events are rows written in the command's own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from todo_core.domain.events import Event

Conn = AsyncConnection[Any]
NOTIFY_CHANNEL = "todo_outbox"


async def append(conn: Conn, events: Sequence[Event], *, notify: Sequence[tuple[str, str]] = ()) -> None:
    """Write events to the outbox; must run inside the transaction of the state change.

    ``notify``: further (channel, payload) notifications sent on commit, in the same statement
    (the realtime message of a command rides along instead of costing a round trip of its own)."""
    if not events:
        return
    # one multi-row INSERT: a single round trip (executemany would add a pipeline sync)
    rows = ", ".join(f"(%(id{i})s, %(topic{i})s, %(key{i})s, %(type{i})s, %(payload{i})s)" for i in range(len(events)))
    params: dict[str, Any] = {}
    for i, e in enumerate(events):
        params |= {
            f"id{i}": e.id,
            f"topic{i}": e.topic,
            f"key{i}": e.key,
            f"type{i}": e.type,
            f"payload{i}": Jsonb(e.envelope()),
        }
    # ... and, on commit, a wake-up for the relay and the embedded consumers (they poll as a fallback)
    extra = "".join(f", pg_notify(%(nc{i})s, %(np{i})s)" for i in range(len(notify)))
    for i, (channel, payload) in enumerate(notify):
        params |= {f"nc{i}": channel, f"np{i}": payload}
    await conn.execute(
        f"WITH ins AS (INSERT INTO outbox (event_id, topic, key, type, payload) VALUES {rows} RETURNING 1)"
        f" SELECT pg_notify('{NOTIFY_CHANNEL}', ''){extra} FROM (SELECT 1 FROM ins LIMIT 1) s",
        params,
    )


async def prune(conn: Conn, *, older_than_hours: float, embedded: bool, batch: int = 5000) -> int:
    """Delete outbox rows that have done their work and are older than the retention.

    Kafka/cluster modes: published rows. Embedded mode (the outbox is the log): rows every consumer
    group of their topic has passed. Dead letters (``*.dlq``) are kept for operators."""
    if embedded:
        done = (
            "NOT EXISTS (SELECT 1 FROM consumer_offsets c WHERE c.topic = o.topic"
            " AND (c.position_tx, c.position) < (o.tx_id, o.id))"
            " AND EXISTS (SELECT 1 FROM consumer_offsets c WHERE c.topic = o.topic)"
        )
    else:
        done = "o.published_at IS NOT NULL"
    cur = await conn.execute(
        "DELETE FROM outbox WHERE id IN (SELECT o.id FROM outbox o"
        f" WHERE o.created_at < now() - make_interval(secs => %(secs)s) AND o.topic NOT LIKE '%%.dlq' AND {done}"
        " ORDER BY o.id LIMIT %(n)s)",
        {"secs": older_than_hours * 3600, "n": batch},
    )
    return cur.rowcount

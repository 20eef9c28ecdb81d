"""The outbox relay: publishes outbox rows, in order per key, in batches; one active instance.

Rows are read in (tx_id, id) order and only from settled transactions (``tx_id`` below the
snapshot's xmin): a row committed later can never slip in front of one already published
for the same key. A session-level advisory lock on a dedicated connection makes one relay
active among all gateway replicas; the others wait and take over when it dies.
While the publisher fails (broker down), the relay backs off exponentially and leaves the rows
unpublished; when the broker is back it drains the backlog.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from prometheus_client import Counter, Gauge

from todo_core.bus.base import OutboxRecord, Publisher
from todo_core.store.outbox import NOTIFY_CHANNEL

log = logging.getLogger(__name__)

RELAY_LOCK = 0x70D0_5E1A  # advisory lock id of the active relay

PUBLISHED = Counter("todo_outbox_published_total", "Outbox events published by the relay")
PUBLISH_FAILURES = Counter("todo_outbox_publish_failures_total", "Outbox events the publisher did not accept")
BACKLOG = Gauge("todo_outbox_backlog", "Unpublished outbox rows (at the last relay check)")
OLDEST_AGE = Gauge("todo_outbox_oldest_unpublished_age_seconds", "Age of the oldest unpublished outbox row")
PUBLISH_RATE = Gauge("todo_outbox_publish_rate", "Events per second published over the last 10 s")

_FETCH = (
    "SELECT id, topic, key, payload::text FROM outbox"
    " WHERE published_at IS NULL AND tx_id < pg_snapshot_xmin(pg_current_snapshot())"
    " ORDER BY tx_id, id LIMIT %(n)s"
)


@dataclass
class RelayStats:
    published: int = 0
    failed: int = 0
    batches: int = 0
    active: bool = False
    window: list[tuple[float, int]] = field(default_factory=list)

    def rate(self, now: float, seconds: float = 10.0) -> float:
        self.window = [(t, n) for t, n in self.window if now - t <= seconds]
        return sum(n for _, n in self.window) / seconds


async def backlog(conn: psycopg.AsyncConnection[Any]) -> tuple[int, float]:
    """Unpublished rows and the age in seconds of the oldest one."""
    cur = await conn.execute(
        "SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8"
        " FROM outbox WHERE published_at IS NULL"
    )
    row = await cur.fetchone()
    assert row is not None
    return int(row[0]), float(row[1])


class OutboxRelay:
    def __init__(
        self,
        conninfo: str,
        publisher: Publisher,
        *,
        batch_size: int = 2000,
        idle_sleep: float = 0.5,
        min_interval: float = 0.005,
        max_backoff: float = 5.0,
        lock_retry: float = 2.0,
    ) -> None:
        self.conninfo = conninfo
        self.publisher = publisher
        self.batch_size = batch_size
        self.idle_sleep = idle_sleep
        self.min_interval = min_interval
        self.max_backoff = max_backoff
        self.lock_retry = lock_retry
        self.stats = RelayStats()

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; survives database restarts and broker outages."""
        while not stop.is_set():
            try:
                async with await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True) as conn:
                    await self._run_connected(conn, stop)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                self.stats.active = False
                log.warning("relay lost its database connection: %s", exc)
                await _sleep_or_stop(stop, 1.0)

    async def _run_connected(self, conn: psycopg.AsyncConnection[Any], stop: asyncio.Event) -> None:
        while not stop.is_set():  # wait to become the active relay
            cur = await conn.execute("SELECT pg_try_advisory_lock(%(k)s)", {"k": RELAY_LOCK})
            row = await cur.fetchone()
            if row and row[0]:
                break
            await _sleep_or_stop(stop, self.lock_retry)
        if stop.is_set():
            return
        self.stats.active = True
        await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        log.info("outbox relay active")
        backoff = 0.0
        last_metrics = 0.0
        try:
            while not stop.is_set():
                sent, failed = await self.drain_once(conn)
                now = time.monotonic()
                if now - last_metrics > 1.0:
                    last_metrics = now
                    n, age = await backlog(conn)
                    BACKLOG.set(n)
                    OLDEST_AGE.set(age)
                    PUBLISH_RATE.set(self.stats.rate(now))
                if failed:
                    backoff = min(self.max_backoff, backoff * 2 or 0.2)
                    log.warning("relay backing off", extra={"failed": failed, "backoff_s": backoff})
                    await _sleep_or_stop(stop, backoff)
                    continue
                backoff = 0.0
                if sent < self.batch_size:  # caught up: wait for a commit's notification (or poll)
                    await asyncio.sleep(self.min_interval)  # lets a burst of commits gather
                    if not stop.is_set():
                        async for _ in conn.notifies(timeout=self.idle_sleep, stop_after=1):
                            pass
        finally:
            self.stats.active = False
            if not conn.closed:
                await conn.execute("SELECT pg_advisory_unlock(%(k)s)", {"k": RELAY_LOCK})

    async def drain_once(self, conn: psycopg.AsyncConnection[Any]) -> tuple[int, int]:
        """Publish one batch; returns (published, failed)."""
        cur = await conn.execute(_FETCH, {"n": self.batch_size})
        rows = await cur.fetchall()
        if not rows:
            return 0, 0
        records = [
            OutboxRecord(id=r[0], topic=r[1], key=r[2], payload=json.loads(r[3]), raw=r[3].encode()) for r in rows
        ]
        result = await self.publisher.publish(records)
        if result.published:
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE id = ANY(%(ids)s)", {"ids": result.published}
            )
        n_ok, n_failed = len(result.published), len(result.failed)
        self.stats.published += n_ok
        self.stats.failed += n_failed
        self.stats.batches += 1
        self.stats.window.append((time.monotonic(), n_ok))
        PUBLISHED.inc(n_ok)
        PUBLISH_FAILURES.inc(n_failed)
        return n_ok, n_failed


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass

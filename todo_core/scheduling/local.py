"""Local reminder timer (embedded and kafka modes): sleeps until the next pending reminder.

It is also the reconciler: on start it fires, marked late, every reminder whose time passed
while the system was down. Wake it when reminders change (``wake()``), or it notices within
``max_sleep`` seconds anyway; several replicas may run it, the fire gate keeps each reminder once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
from psycopg_pool import AsyncConnectionPool

from todo_core.scheduling.fire import Fired, fire_due, next_fire_at

log = logging.getLogger(__name__)


class LocalScheduler:
    def __init__(
        self,
        pool: AsyncConnectionPool,
        *,
        clock: Callable[[], datetime] | None = None,
        max_sleep: float = 0.5,
        on_fired: Callable[[list[Fired]], None] | None = None,
    ) -> None:
        self.pool = pool
        self.clock = clock or (lambda: datetime.now(UTC))
        self.max_sleep = max_sleep
        self.on_fired = on_fired
        self.fired_total = 0
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                fired = await fire_due(self.pool, now=self.clock())
                if fired:
                    self.fired_total += len(fired)
                    if self.on_fired:
                        self.on_fired(fired)
                    continue  # there may be more than one batch due
                nxt = await next_fire_at(self.pool)
                delay = self.max_sleep
                if nxt is not None:
                    delay = max(0.0, min(delay, (nxt - self.clock()).total_seconds()))
            except (psycopg.OperationalError, psycopg.InterfaceError, TimeoutError) as exc:
                log.warning("reminder timer cannot reach the database: %s", exc)
                delay = 1.0
            self._wake.clear()
            waiter = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()

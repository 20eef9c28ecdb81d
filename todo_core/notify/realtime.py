"""Realtime messages to open browser tabs, across gateway replicas, through Postgres LISTEN/NOTIFY.

Publishing is part of the writer's transaction: ``publish(conn, ...)`` inside ``conn.transaction()``
runs ``pg_notify``, which Postgres delivers only when (and if) that transaction commits, to every
session listening on :data:`CHANNEL` — one :class:`RealtimeHub` per gateway process. A rolled-back
command therefore never shows up in anyone's UI, and a committed one reaches every replica.

Realtime is a hint, not a log: a message published while a hub was reconnecting, or dropped for a
consumer that could not keep up, is not replayed. Subscribers then get a ``resync`` message and the
UI refetches. Payloads of 8000 bytes or more (Postgres' NOTIFY limit) are cut to ``{"id",
"version", "partial": true}`` in ``data``, which tells the UI to fetch the thing itself.

LISTEN needs a session of its own: the hub's connection must not go through a transaction-mode
pooler (PgBouncer ``pool_mode=transaction``); point it at Postgres or a session-mode pooler.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final
from uuid import UUID

import psycopg
from psycopg import sql

from todo_core.domain.ids import new_id

__all__ = [
    "APPLICATION_NAME",
    "CHANNEL",
    "MAX_PAYLOAD_BYTES",
    "NOTIFICATION_CREATED",
    "RESYNC",
    "TASK_COMPLETED",
    "TASK_CREATED",
    "TASK_DELETED",
    "TASK_UPDATED",
    "RealtimeHub",
    "RealtimeMessage",
    "Subscription",
    "SubscriptionClosed",
    "encode_payload",
    "publish",
]

log = logging.getLogger(__name__)

#: A conninfo string, or (like psycopg_pool's) a function giving one, called at every (re)connect.
ConnInfo = str | Callable[[], str] | Callable[[], Awaitable[str]]

CHANNEL: Final = "todo_realtime"
#: ``application_name`` of the hub's session (visible in pg_stat_activity).
APPLICATION_NAME: Final = "todo-realtime-hub"
#: Postgres refuses NOTIFY payloads of 8000 bytes or more (default build).
MAX_PAYLOAD_BYTES: Final = 7999

TASK_CREATED: Final = "task.created"
TASK_UPDATED: Final = "task.updated"  # also a reopen
TASK_COMPLETED: Final = "task.completed"
TASK_DELETED: Final = "task.deleted"
NOTIFICATION_CREATED: Final = "notification.created"
#: Sent by the hub itself (never published): messages may have been missed, refetch what is shown.
RESYNC: Final = "resync"


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def encode_payload(user_id: UUID | str, type_: str, data: dict[str, Any], *, message_id: UUID | None = None) -> str:
    """The NOTIFY payload: compact JSON ``{"id", "user_id", "type", "data"}`` below :data:`MAX_PAYLOAD_BYTES`."""
    message = {"id": str(message_id or new_id()), "user_id": str(user_id), "type": type_, "data": data}
    text = _dumps(message)
    if len(text.encode()) <= MAX_PAYLOAD_BYTES:
        return text
    message["data"] = {**{k: data[k] for k in ("id", "version") if k in data}, "partial": True}
    text = _dumps(message)
    if len(text.encode()) > MAX_PAYLOAD_BYTES:  # an absurd id or version: the UI refetches everything
        message["data"] = {"partial": True}
        text = _dumps(message)
    return text


async def publish(conn: psycopg.AsyncConnection[Any], user_id: UUID | str, type_: str, data: dict[str, Any]) -> None:
    """Queue a realtime message for the user's open tabs; delivered when ``conn``'s transaction commits."""
    await conn.execute(
        "SELECT pg_notify(%(channel)s, %(payload)s)",
        {"channel": CHANNEL, "payload": encode_payload(user_id, type_, data)},
    )


@dataclass(frozen=True, slots=True)
class RealtimeMessage:
    id: str
    user_id: str
    type: str
    data: dict[str, Any]

    @classmethod
    def parse(cls, payload: str) -> RealtimeMessage:
        raw = json.loads(payload)
        data = raw.get("data")
        return cls(
            id=str(raw["id"]),
            user_id=str(raw["user_id"]),
            type=str(raw["type"]),
            data=data if isinstance(data, dict) else {},
        )


class SubscriptionClosed(Exception):
    """The subscription was closed (by its owner, or because the hub stopped or is draining)."""


class Subscription:
    """One consumer's messages for one user (a browser tab's stream), with a bounded buffer.

    A consumer that falls ``max_queue`` messages behind loses the newest ones (counted in
    ``dropped``) and then reads one ``resync`` message: nobody else waits for it. Iterate with
    ``async for``, or call :meth:`get` with a timeout; close it (or use ``async with``) when done.
    """

    def __init__(self, hub: RealtimeHub, user_id: str, max_queue: int) -> None:
        self.user_id = user_id
        self.dropped = 0
        self._hub = hub
        self._queue: deque[RealtimeMessage] = deque()
        self._max = max_queue
        self._overflowed = False
        self._wakeup = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def _offer(self, message: RealtimeMessage) -> bool:
        if self._closed:
            return False
        if len(self._queue) >= self._max:
            self.dropped += 1
            self._overflowed = True
            self._wakeup.set()
            return False
        self._queue.append(message)
        self._wakeup.set()
        return True

    def _resync(self, reason: str) -> None:
        """Tell the consumer that messages may have been missed (ahead of anything still buffered)."""
        if not self._closed:
            self._queue.clear()
            self._overflowed = False
            self._queue.append(RealtimeMessage(str(new_id()), self.user_id, RESYNC, {"reason": reason}))
            self._wakeup.set()

    async def get(self, timeout: float | None = None) -> RealtimeMessage | None:  # noqa: ASYNC109
        """The next message; None after ``timeout`` seconds without one; SubscriptionClosed once closed."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self._queue:
                return self._queue.popleft()
            if self._overflowed:
                self._overflowed = False
                return RealtimeMessage(str(new_id()), self.user_id, RESYNC, {"reason": "overflow"})
            if self._closed:
                raise SubscriptionClosed
            self._wakeup.clear()
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)

    def __aiter__(self) -> AsyncIterator[RealtimeMessage]:
        return self

    async def __anext__(self) -> RealtimeMessage:
        try:
            message = await self.get()
        except SubscriptionClosed:
            raise StopAsyncIteration from None
        assert message is not None
        return message

    def close(self) -> None:
        """Stop receiving; a waiting :meth:`get` wakes up with SubscriptionClosed. Idempotent."""
        if not self._closed:
            self._closed = True
            self._queue.clear()
            self._wakeup.set()
            self._hub._remove(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


@dataclass(slots=True)
class HubStats:
    subscribers: int = 0
    listening: bool = False
    reconnects: int = 0
    received: int = 0
    delivered: int = 0
    dropped: int = 0
    invalid: int = 0
    users: int = 0


class RealtimeHub:
    """Listens on :data:`CHANNEL` with one dedicated autocommit connection and fans messages out per user.

    ``async with RealtimeHub(conninfo) as hub`` (``conninfo`` as psycopg_pool takes it) connects and
    LISTENs (waiting up to ``connect_timeout`` for the first connection), reconnects with jittered
    exponential backoff whenever the connection drops, and on exit closes every subscription, so
    streams built on them end. :meth:`drain` does the same early (server shutdown) and refuses new
    subscribers from then on.
    """

    def __init__(
        self,
        conninfo: ConnInfo,
        *,
        max_queue: int = 256,
        connect_timeout: float = 10.0,
        idle_check_seconds: float = 30.0,
        max_backoff: float = 30.0,
        application_name: str = APPLICATION_NAME,
    ) -> None:
        self._conninfo = conninfo
        self._application_name = application_name
        self._max_queue = max_queue
        self._connect_timeout = connect_timeout
        self._idle_check = idle_check_seconds
        self._max_backoff = max_backoff
        self._subs: dict[str, set[Subscription]] = {}
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._draining = False
        self._connected_once = False
        self.reconnects = 0
        self.received = 0
        self.delivered = 0
        self.invalid = 0
        self._dropped_closed = 0  # dropped counts of subscriptions already closed

    # -- lifecycle -------------------------------------------------------------------------------

    async def __aenter__(self) -> RealtimeHub:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name="realtime-hub")
        try:
            await asyncio.wait_for(self._listening.wait(), self._connect_timeout)
        except TimeoutError:
            log.warning("realtime hub is not listening yet; it keeps retrying in the background")

    def drain(self) -> None:
        """End every open stream now and accept no new subscribers (the server is shutting down)."""
        self._draining = True
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub.close()

    async def close(self) -> None:
        self.drain()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def listening(self) -> bool:
        return self._listening.is_set()

    @property
    def draining(self) -> bool:
        return self._draining

    async def wait_listening(self, timeout: float) -> bool:  # noqa: ASYNC109
        try:
            await asyncio.wait_for(self._listening.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        backoff = 0.25
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("realtime listener connection lost: %s", type(exc).__name__, exc_info=exc)
            was_listening = self._listening.is_set()
            self._listening.clear()
            if was_listening:
                backoff = 0.25
            delay = backoff * (0.5 + random.random())  # jitter, not security
            backoff = min(backoff * 2, self._max_backoff)
            await asyncio.sleep(delay)

    async def _resolve_conninfo(self) -> str:
        if isinstance(self._conninfo, str):
            return self._conninfo
        value = self._conninfo()
        return value if isinstance(value, str) else await value

    async def _listen(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            await self._resolve_conninfo(),
            autocommit=True,
            connect_timeout=max(1, int(self._connect_timeout)),
            application_name=self._application_name,
        ) as conn:
            await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
            if self._connected_once:
                self.reconnects += 1
                log.info("realtime listener reconnected")
                # anything published while we were away is lost: every open tab refetches
                self._broadcast_resync("reconnected")
            self._connected_once = True
            self._listening.set()
            while True:
                async for notify in conn.notifies(timeout=self._idle_check):
                    self._dispatch(notify.payload)
                # quiet for a while: make sure the connection is still alive
                await conn.execute("SELECT 1")

    # -- fan-out ---------------------------------------------------------------------------------

    def _dispatch(self, payload: str) -> None:
        self.received += 1
        try:
            message = RealtimeMessage.parse(payload)
        except (ValueError, KeyError, TypeError):
            self.invalid += 1
            log.warning("realtime: ignoring a malformed message on %s", CHANNEL)
            return
        for sub in list(self._subs.get(message.user_id, ())):
            if sub._offer(message):
                self.delivered += 1

    def _broadcast_resync(self, reason: str) -> None:
        for subs in list(self._subs.values()):
            for sub in list(subs):
                sub._resync(reason)

    def subscribe(self, user_id: UUID | str) -> Subscription:
        """Messages of this user from now on. SubscriptionClosed when the hub is draining or closed."""
        if self._draining:
            raise SubscriptionClosed("the realtime hub is shutting down")
        sub = Subscription(self, str(user_id), self._max_queue)
        self._subs.setdefault(sub.user_id, set()).add(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.user_id)
        if subs is not None and sub in subs:
            subs.discard(sub)
            self._dropped_closed += sub.dropped
            if not subs:
                del self._subs[sub.user_id]

    # -- metrics ---------------------------------------------------------------------------------

    @property
    def connections(self) -> int:
        """Open subscriptions (streams) on this replica."""
        return sum(len(s) for s in self._subs.values())

    @property
    def dropped(self) -> int:
        """Messages not delivered because a subscriber's buffer was full."""
        return self._dropped_closed + sum(sub.dropped for subs in self._subs.values() for sub in subs)

    def stats(self) -> HubStats:
        return HubStats(
            subscribers=self.connections,
            listening=self.listening,
            reconnects=self.reconnects,
            received=self.received,
            delivered=self.delivered,
            dropped=self.dropped,
            invalid=self.invalid,
            users=len(self._subs),
        )

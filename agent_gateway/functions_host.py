"""Local functions host: runs the Kafka-triggered functions of ``function_app.py`` outside Azure.

It reads the app's own metadata (``FunctionApp.get_functions()``: topic, consumer group,
cardinality, retry policy; ``host.json``: maxBatchSize) and drives the same handler functions
with the Azure Functions Kafka extension's semantics: one consumer per function in its own
consumer group, offsets committed only after the batch succeeded, retries with the declared
backoff, and dead-lettering by the function on its last retry. A batch that still fails is
never committed: it is retried until it goes through, so nothing is lost.

Sources: Kafka (``KAFKA_BOOTSTRAP_SERVERS`` set) or, in embedded mode, the outbox table itself
read in (tx_id, id) order from settled transactions, with the position per consumer group in
``consumer_offsets``.

    python -m agent_gateway.functions_host [--only NAME ...]   # the host alone (tests kill it)

Run alone with ``FUNCTIONS_METRICS_PORT`` set, it serves the functions' metrics on that port, as an
event-function pod does (``function_app.py`` starts the endpoint when it is imported).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import azure.functions as func
import psycopg
from azure.functions._abc import RetryContext, TraceContext

from todo_core.settings import Settings

if TYPE_CHECKING:
    from todo_core.consumers import ConsumerContext

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
GATHER_S = 0.01  # embedded log: after a wake-up, wait this long for more commits before reading


# -- the app's metadata ---------------------------------------------------------------------------


def _seconds(hms: str | None, default: float) -> float:
    if not hms:
        return default
    h, m, s = hms.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    topic: str
    consumer_group: str
    many: bool
    max_retries: int
    min_interval: float
    max_interval: float
    handler: Callable[..., Awaitable[None]]


def host_kafka_settings(host_json: Path = ROOT / "host.json") -> dict[str, Any]:
    data = json.loads(host_json.read_text())
    kafka: dict[str, Any] = data.get("extensions", {}).get("kafka", {})
    return kafka


def discover(app: func.FunctionApp) -> list[FunctionSpec]:
    """Every Kafka-triggered function of the app, from its own bindings and settings."""
    specs = []
    for f in app.get_functions():
        trigger = f.get_trigger()
        binding = trigger.get_dict_repr()
        if binding.get("type") != "kafkaTrigger":
            continue
        retry = f.get_settings_dict("retry_policy") or {}
        cardinality = binding.get("cardinality")
        specs.append(
            FunctionSpec(
                name=f.get_function_name(),
                topic=binding["topic"],
                consumer_group=binding.get("consumerGroup") or f.get_function_name(),
                many=str(getattr(cardinality, "value", cardinality)).lower() == "many",
                max_retries=int(retry.get("max_retry_count", 0)),
                min_interval=_seconds(retry.get("minimum_interval") or retry.get("delay_interval"), 1.0),
                max_interval=_seconds(retry.get("maximum_interval") or retry.get("delay_interval"), 30.0),
                handler=f.get_user_function(),
            )
        )
    return specs


# -- invocation context ---------------------------------------------------------------------------


class _Retry(RetryContext):
    def __init__(self, count: int, max_count: int) -> None:
        self._count, self._max = count, max_count

    @property
    def retry_count(self) -> int:
        return self._count

    @property
    def max_retry_count(self) -> int:
        return self._max

    @property
    def exception(self) -> Any:
        return None


class _Trace(TraceContext):
    def __init__(self, traceparent: str = "") -> None:
        self._tp = traceparent

    @property
    def Tracestate(self) -> str:
        return ""

    @property
    def Traceparent(self) -> str:
        return self._tp

    @property
    def Attributes(self) -> dict[str, str]:
        return {}


class LocalContext(func.Context):
    """The invocation context the local host passes; ``consumer`` is the host's own consumer context
    (pool, services, hooks), so two hosts in one process never share or swap theirs."""

    def __init__(self, name: str, attempt: int, max_retries: int, consumer: ConsumerContext | None = None) -> None:
        self._name, self._retry = name, _Retry(attempt, max_retries)
        self.consumer = consumer
        self._id = f"local-{name}-{time.monotonic_ns()}"

    @property
    def invocation_id(self) -> str:
        return self._id

    @property
    def thread_local_storage(self) -> Any:
        return threading.local()

    @property
    def function_name(self) -> str:
        return self._name

    @property
    def function_directory(self) -> str:
        return str(ROOT)

    @property
    def trace_context(self) -> TraceContext:
        return _Trace()

    @property
    def retry_context(self) -> RetryContext:
        return self._retry


# -- sources --------------------------------------------------------------------------------------


@dataclass
class Message:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    timestamp: str | None = None
    position: tuple[int, int] | None = None  # embedded: (tx_id, id)

    def event(self) -> func.KafkaEvent:
        return func.KafkaEvent(
            body=self.value,
            key=self.key,
            offset=self.offset,
            partition=self.partition,
            topic=self.topic,
            timestamp=self.timestamp,
        )


class Source(Protocol):
    async def poll(self, max_messages: int, wait_s: float) -> list[Message]: ...
    async def commit(self, messages: Sequence[Message]) -> None: ...
    async def close(self) -> None: ...


class KafkaSource:
    """A confluent-kafka consumer in the function's consumer group; manual commits after success."""

    def __init__(self, conf: dict[str, Any], topic: str, group: str) -> None:
        from confluent_kafka import Consumer

        self.topic = topic
        self._consumer = Consumer(
            {
                **conf,
                "group.id": group,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",  # matches the extension and KEDA's offsetResetPolicy
                "session.timeout.ms": 10_000,
                "heartbeat.interval.ms": 1_000,
                "max.poll.interval.ms": 300_000,
            }
        )
        self._consumer.subscribe([topic])
        self._lock = threading.Lock()

    def _consume(self, n: int, timeout: float) -> list[Any]:
        # wait for the first message only, then take what is already fetched: batches without
        # adding a batch-fill delay to every event
        with self._lock:
            first = self._consumer.poll(timeout)
            if first is None:
                return []
            return [first, *self._consumer.consume(num_messages=n - 1, timeout=0)] if n > 1 else [first]

    async def poll(self, max_messages: int, wait_s: float) -> list[Message]:
        raw = await asyncio.to_thread(self._consume, max_messages, wait_s)
        out = []
        for m in raw:
            if m.error() is not None:
                log.warning("kafka consumer error: %s", m.error())
                continue
            ts = m.timestamp()[1]
            out.append(
                Message(
                    topic=m.topic(),
                    partition=m.partition(),
                    offset=m.offset(),
                    key=m.key().decode() if m.key() is not None else None,
                    value=m.value() or b"",
                    timestamp=datetime.fromtimestamp(ts / 1000, UTC).isoformat() if ts > 0 else None,
                )
            )
        return out

    def _commit(self, offsets: list[Any]) -> None:
        with self._lock:
            self._consumer.commit(offsets=offsets, asynchronous=False)

    async def commit(self, messages: Sequence[Message]) -> None:
        from confluent_kafka import TopicPartition

        last: dict[tuple[str, int], int] = {}
        for m in messages:
            last[(m.topic, m.partition)] = max(last.get((m.topic, m.partition), -1), m.offset)
        await asyncio.to_thread(self._commit, [TopicPartition(t, p, o + 1) for (t, p), o in last.items()])

    async def close(self) -> None:
        await asyncio.to_thread(self._consumer.close)


class EmbeddedSource:
    """The outbox table as the log (embedded mode). One consumer per group: an advisory lock on a
    dedicated connection keeps a second process from consuming the same group."""

    def __init__(self, conninfo: str, topic: str, group: str) -> None:
        self.conninfo, self.topic, self.group = conninfo, topic, group
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._locked = False
        self._pos: tuple[int, int] = (0, 0)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
            self._locked = False
        return self._conn

    async def poll(self, max_messages: int, wait_s: float) -> list[Message]:
        conn = await self._connection()
        if not self._locked:
            key = zlib.crc32(f"{self.group}/{self.topic}".encode())
            cur = await conn.execute("SELECT pg_try_advisory_lock(7, %(k)s)", {"k": key - (1 << 31)})
            row = await cur.fetchone()
            if not (row and row[0]):
                await asyncio.sleep(wait_s)
                return []
            self._locked = True
            await conn.execute("LISTEN todo_outbox")
            cur = await conn.execute(
                "SELECT position_tx::text::bigint, position FROM consumer_offsets"
                " WHERE consumer_group = %(g)s AND topic = %(t)s",
                {"g": self.group, "t": self.topic},
            )
            row = await cur.fetchone()
            self._pos = (int(row[0]), int(row[1])) if row else (0, 0)
        cur = await conn.execute(
            "SELECT id, tx_id::text::bigint, key, payload::text, created_at FROM outbox"
            " WHERE topic = %(t)s AND (tx_id, id) > (%(ptx)s::text::xid8, %(pid)s)"
            " AND tx_id < pg_snapshot_xmin(pg_current_snapshot())"
            " ORDER BY tx_id, id LIMIT %(n)s",
            {"t": self.topic, "ptx": self._pos[0], "pid": self._pos[1], "n": max_messages},
        )
        rows = await cur.fetchall()
        if not rows:
            # wait for a commit's notification (or poll again after wait_s), then a moment more so
            # that a burst of commits is read as one batch rather than one query per commit
            async for _ in conn.notifies(timeout=wait_s, stop_after=1):
                await asyncio.sleep(GATHER_S)
            return []
        return [
            Message(
                topic=self.topic,
                partition=0,
                offset=r[0],
                key=r[2],
                value=r[3].encode(),
                timestamp=r[4].isoformat(),
                position=(r[1], r[0]),
            )
            for r in rows
        ]

    async def commit(self, messages: Sequence[Message]) -> None:
        pos = max(m.position for m in messages if m.position is not None)
        conn = await self._connection()
        await conn.execute(
            "INSERT INTO consumer_offsets (consumer_group, topic, position, position_tx, updated_at)"
            " VALUES (%(g)s, %(t)s, %(id)s, %(tx)s::text::xid8, now())"
            " ON CONFLICT (consumer_group, topic) DO UPDATE SET position = excluded.position,"
            " position_tx = excluded.position_tx, updated_at = now()",
            {"g": self.group, "t": self.topic, "id": pos[1], "tx": pos[0]},
        )
        self._pos = pos

    async def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            await self._conn.close()


# -- the host -------------------------------------------------------------------------------------


@dataclass
class FunctionStats:
    """The host's own tally per function (tests and benches wait on it). The Prometheus series come
    from the functions themselves (``functions/_metrics.py``), wherever they run."""

    batches: int = 0
    events: int = 0
    failures: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


class FunctionsHost:
    def __init__(
        self,
        specs: Sequence[FunctionSpec],
        source_factory: Callable[[FunctionSpec], Source],
        *,
        max_batch_size: int = 64,
        poll_timeout: float = 0.5,
        backoff_scale: float = 1.0,
        context: ConsumerContext | None = None,
    ) -> None:
        self.specs = list(specs)
        self.context = context  # handed to every invocation (None: the functions build their own)
        self.source_factory = source_factory
        self.max_batch_size = max_batch_size
        self.poll_timeout = poll_timeout
        self.backoff_scale = backoff_scale  # < 1 shortens the declared retry intervals (tests only)
        self.stats = {s.name: FunctionStats() for s in self.specs}

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self._run_one(spec, stop) for spec in self.specs))

    async def _run_one(self, spec: FunctionSpec, stop: asyncio.Event) -> None:
        source = self.source_factory(spec)
        try:
            while not stop.is_set():
                try:
                    messages = await source.poll(self.max_batch_size, self.poll_timeout)
                except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                    log.warning("functions host source unavailable: %s", exc)
                    await asyncio.sleep(1.0)
                    continue
                if not messages:
                    continue
                batches = [messages] if spec.many else [[m] for m in messages]
                for batch in batches:
                    await self._invoke(spec, batch, stop)
                    if stop.is_set():
                        return  # not committed: redelivered to the next consumer
                    await source.commit(batch)
        finally:
            await source.close()

    async def _invoke(self, spec: FunctionSpec, batch: list[Message], stop: asyncio.Event) -> None:
        stats = self.stats[spec.name]
        attempt = 0
        while not stop.is_set():
            events = [m.event() for m in batch]
            arg: Any = events if spec.many else events[0]
            try:
                await spec.handler(events=arg, context=LocalContext(spec.name, attempt, spec.max_retries, self.context))
                stats.batches += 1
                stats.events += len(batch)
                return
            except Exception as exc:
                stats.failures += 1
                attempt += 1
                delay = min(spec.max_interval, spec.min_interval * 2 ** (attempt - 1)) * self.backoff_scale
                if attempt > spec.max_retries:
                    # even the last attempt (which dead-letters) failed, e.g. the database is down:
                    # keep the batch uncommitted and try again later; never skip it
                    attempt = spec.max_retries
                    delay = spec.max_interval * self.backoff_scale
                log.warning(
                    "function failed; retrying",
                    extra={"function": spec.name, "attempt": attempt, "delay_s": delay, "error": repr(exc)},
                )
                try:
                    await asyncio.wait_for(stop.wait(), timeout=delay)
                except TimeoutError:
                    pass


def make_source_factory(settings: Settings, conninfo: str) -> Callable[[FunctionSpec], Source]:
    prefix = settings.kafka_topic_prefix
    if settings.kafka_bootstrap_servers:
        from todo_core.bus.kafka import client_config

        conf = client_config(settings)
        return lambda spec: KafkaSource(conf, prefix + spec.topic, prefix + spec.consumer_group)
    return lambda spec: EmbeddedSource(conninfo, spec.topic, prefix + spec.consumer_group)


_SPECS: list[FunctionSpec] = []


def load_app_specs(only: Sequence[str] = ()) -> list[FunctionSpec]:
    """The app's Kafka functions (read once: FunctionApp.get_functions() may only be called once)."""
    if not _SPECS:
        from function_app import app

        _SPECS.extend(discover(app))
    return [s for s in _SPECS if not only or s.name in only]


async def serve(settings: Settings, only: Sequence[str] = ()) -> None:
    """Run the host alone until SIGTERM/SIGINT (what the tests start, stop and SIGKILL)."""
    import signal

    from todo_core.api.runtime import resolve_database_url
    from todo_core.consumers import ConsumerContext
    from todo_core.service import TaskService
    from todo_core.store.db import make_pool

    conninfo = resolve_database_url(settings)
    pool = make_pool(conninfo, min_size=1, max_size=settings.db_pool_max)
    await pool.open(wait=True, timeout=30)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    ctx = ConsumerContext(pool=pool, settings=settings, tasks=TaskService(pool))
    sync = None
    if settings.dapr_enabled:  # as the functions do in the cluster: reminder jobs through the gateway's scheduler
        from todo_core.scheduling.remote import gateway_reminder_sync

        sync = gateway_reminder_sync(settings)
        ctx.reminders_changed = sync
    host = FunctionsHost(
        load_app_specs(only),
        make_source_factory(settings, conninfo),
        max_batch_size=int(host_kafka_settings().get("maxBatchSize", 64)),
        context=ctx,
    )
    log.info("functions host running", extra={"functions": [s.name for s in host.specs]})
    try:
        await host.run(stop)
    finally:
        if sync is not None:
            await sync.aclose()
        await pool.close()


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    from todo_core.settings import get_settings

    ap = argparse.ArgumentParser(prog="python -m agent_gateway.functions_host", description=__doc__)
    ap.add_argument("--only", action="append", default=[], help="run only this function (repeatable)")
    args = ap.parse_args(argv)
    # the host's own setting for "run only these functions", read by the app as it registers them
    for i, name in enumerate(args.only):
        os.environ[f"AzureFunctionsJobHost__functions__{i}"] = name
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(serve(settings, args.only))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

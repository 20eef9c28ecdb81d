"""The gateway's event machinery for the app's lifetime: topics, outbox relay, reminder timer and
the local functions host, chosen by settings (embedded, kafka or cluster mode; ARCHITECTURE §1).

- embedded (no KAFKA_BOOTSTRAP_SERVERS, no Dapr): the outbox is the log; the functions host reads it.
- kafka: topics created when missing, the relay produces to Kafka, the functions host consumes.
- cluster (DAPR_ENABLED): the relay publishes through Dapr pub/sub; the event functions run as
  their own KEDA-scaled deployments, so no local host; reminders are Dapr jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from fastapi import FastAPI

from todo_core.api.runtime import Runtime
from todo_core.bus.base import Publisher
from todo_core.bus.relay import OutboxRelay
from todo_core.consumers import ConsumerContext
from todo_core.scheduling.local import LocalScheduler

log = logging.getLogger(__name__)

_LIVE: weakref.WeakSet[Pipeline] = weakref.WeakSet()


class _PipelineCollector:
    """Prometheus view of the running pipelines of this process: reminders fired by the local timer.

    The functions' series (``todo_function_events_total`` and the rest) are not collected here: the
    functions count them themselves in ``functions/_metrics.py``, in the default registry, so the
    in-process host's counts reach this process's ``/metrics`` once, under the same names as the
    event-function pods' own endpoint."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        fired = CounterMetricFamily("todo_reminders_fired", "Reminders fired by the local timer")
        total_fired = 0
        for pipe in list(_LIVE):
            if pipe.scheduler is not None:
                total_fired += pipe.scheduler.fired_total
        fired.add_metric([], total_fired)
        yield fired


def _register_collector() -> None:
    from prometheus_client import REGISTRY

    if not getattr(_register_collector, "done", False):
        REGISTRY.register(_PipelineCollector())  # type: ignore[arg-type]
        _register_collector.done = True  # type: ignore[attr-defined]


@dataclass(eq=False)
class Pipeline:
    mode: str
    relay: OutboxRelay | None = None
    scheduler: LocalScheduler | None = None
    host: Any = None  # agent_gateway.functions_host.FunctionsHost
    context: ConsumerContext | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


async def _prune_loop(runtime: Runtime, *, embedded: bool, stop: asyncio.Event, every: float = 600.0) -> None:
    """Keeps the outbox from growing without bound (several replicas may run it: deletes are idempotent)."""
    from todo_core.store import outbox

    while not stop.is_set():
        try:
            async with runtime.pool.connection() as conn:
                while (
                    n := await outbox.prune(
                        conn, older_than_hours=runtime.settings.outbox_retention_hours, embedded=embedded
                    )
                ) > 0:
                    await conn.commit()
                    log.info("outbox pruned", extra={"rows": n})
                await conn.commit()
        except Exception:
            log.exception("outbox pruning failed; will try again")
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except TimeoutError:
            pass


def mode_of(runtime: Runtime) -> str:
    s = runtime.settings
    if s.dapr_enabled:
        return "cluster"
    return "kafka" if s.kafka_bootstrap_servers else "embedded"


@contextlib.asynccontextmanager
async def pipeline_component(app: FastAPI, runtime: Runtime) -> AsyncIterator[Pipeline]:
    settings = runtime.settings
    conninfo = runtime.pool.conninfo
    mode = mode_of(runtime)
    pipe = Pipeline(mode=mode)
    stop = asyncio.Event()
    publisher: Publisher | None = None

    if mode == "kafka":
        from todo_core.bus.kafka import all_topics, client_config, ensure_topics

        prefix = settings.kafka_topic_prefix
        await asyncio.to_thread(
            ensure_topics,
            client_config(settings),
            all_topics(prefix),
            partitions={t: settings.partitions_of(t.removeprefix(prefix)) for t in all_topics(prefix)},
            replication_factor=settings.kafka_replication_factor,
        )
    if settings.relay_enabled and mode != "embedded":
        if mode == "cluster":
            from todo_core.bus.dapr import DaprPublisher

            token = settings.dapr_api_token.get_secret_value() if settings.dapr_api_token else None
            publisher = DaprPublisher(settings.dapr_http_endpoint, settings.dapr_pubsub_name, api_token=token)
        else:
            from todo_core.bus.kafka import KafkaPublisher, client_config

            publisher = KafkaPublisher(client_config(settings), topic_prefix=settings.kafka_topic_prefix)
        pipe.relay = OutboxRelay(conninfo, publisher)
        pipe.tasks.append(asyncio.create_task(pipe.relay.run(stop), name="outbox-relay"))

    if settings.scheduler_enabled and mode != "cluster":
        pipe.scheduler = LocalScheduler(runtime.pool)
        pipe.tasks.append(asyncio.create_task(pipe.scheduler.run(stop), name="reminder-timer"))

    if settings.functions_host_enabled and mode != "cluster":
        from agent_gateway.functions_host import FunctionsHost, host_kafka_settings, load_app_specs, make_source_factory
        from todo_core.notify.webpush import VapidKeys

        scheduler = pipe.scheduler

        async def reminders_changed(_user: UUID, _task: UUID) -> None:
            if scheduler is not None:
                scheduler.wake()

        vapid = None
        if settings.vapid_public_key and settings.vapid_private_key is not None:
            vapid = VapidKeys(settings.vapid_public_key, settings.vapid_private_key.get_secret_value())
        pipe.context = ConsumerContext(
            pool=runtime.pool,
            settings=settings,
            tasks=runtime.tasks,
            reminders_changed=reminders_changed,
            vapid=vapid,
        )
        pipe.host = FunctionsHost(
            load_app_specs(),
            make_source_factory(settings, conninfo),
            max_batch_size=int(host_kafka_settings().get("maxBatchSize", 64)),
            backoff_scale=settings.functions_retry_backoff_scale,
            context=pipe.context,
        )
        pipe.tasks.append(asyncio.create_task(pipe.host.run(stop), name="functions-host"))

    pipe.tasks.append(asyncio.create_task(_prune_loop(runtime, embedded=mode == "embedded", stop=stop), name="pruner"))
    app.state.pipeline = pipe
    _register_collector()
    _LIVE.add(pipe)
    log.info("event pipeline started", extra={"mode": mode, "workers": [t.get_name() for t in pipe.tasks]})
    try:
        yield pipe
    finally:
        stop.set()
        done, pending = await asyncio.wait(pipe.tasks, timeout=15) if pipe.tasks else (set(), set())
        for t in pending:
            t.cancel()
        for t in done:
            if not t.cancelled() and t.exception() is not None:
                log.error("pipeline worker failed", exc_info=t.exception())
        if publisher is not None:
            await publisher.close()

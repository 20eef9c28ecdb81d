"""What the four Kafka-triggered functions share: trigger arguments, the consumer context, and the
batch loop with the Kafka extension's semantics made explicit (per event, in order; dead-letter
yourself on the last retry, because the extension would otherwise commit past a failing batch).

Trigger bindings name app settings (``KafkaBrokers``, ``KafkaUsername``, ``KafkaPassword``); the
protocol and SASL mechanism are enums in the binding, read from the environment when the worker
indexes the functions (``KafkaProtocol``, ``KafkaAuthMode``; unset means plaintext).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any

import azure.functions as func

from functions import _metrics
from todo_core.consumers import HANDLERS, ConsumerContext, PoisonEvent
from todo_core.domain import events as ev
from todo_core.store import outbox

log = logging.getLogger("functions")

MAX_RETRIES = 5  # retries after the first attempt; host.json's Kafka MaxRetries matches
MIN_INTERVAL = "00:00:01"
MAX_INTERVAL = "00:00:30"
# KEDA lagThreshold per function: messages behind per replica before another is asked for. Half a
# second of backlog at the events/s one replica handles (docs/scaling.md §4, from bench/events_bench.py),
# never below a busy replica's in-flight lag (about a third of a second's worth).
LAG_THRESHOLDS = {"task_events": 75, "recurrence_due": 250, "reminder_fire": 50, "audit_append": 250}
KEY_CONCURRENCY = 8  # keys of one batch handled at once (each key strictly in order)

_context: ConsumerContext | None = None
_context_lock = asyncio.Lock()


def trigger_args(function_name: str, topic: str) -> dict[str, Any]:
    """Kafka trigger arguments: consumer group = function name, batches (cardinality MANY).
    ``KafkaSslCaLocation`` (a mounted CA file, e.g. Strimzi's cluster CA on AKS) is passed when set."""
    extra = {"ssl_ca_location": os.environ["KafkaSslCaLocation"]} if os.environ.get("KafkaSslCaLocation") else {}
    _metrics.function_registered(function_name)
    return {
        **extra,
        "arg_name": "events",
        "topic": topic,
        "broker_list": "KafkaBrokers",
        "consumer_group": function_name,
        "cardinality": func.Cardinality.MANY,
        "data_type": func.DataType.STRING,
        "username": "KafkaUsername",
        "password": "KafkaPassword",
        "protocol": os.environ.get("KafkaProtocol", "NotSet"),
        "authentication_mode": os.environ.get("KafkaAuthMode", "NotSet"),
        "lag_threshold": LAG_THRESHOLDS[function_name],
    }


def retry_args() -> dict[str, Any]:
    return {
        "strategy": "exponential_backoff",
        "max_retry_count": str(MAX_RETRIES),
        "minimum_interval": MIN_INTERVAL,
        "maximum_interval": MAX_INTERVAL,
    }


def install_context(ctx: ConsumerContext | None) -> None:
    """The context of every invocation that brings none of its own (tests, benchmarks); a local
    functions host passes its own with each invocation instead (``LocalContext.consumer``)."""
    global _context
    _context = ctx


async def consumer_context() -> ConsumerContext:
    """In Azure: built once per worker from settings, pool opened on first use."""
    global _context
    async with _context_lock:
        if _context is None:
            _context = await _build_context()
        return _context


async def _build_context() -> ConsumerContext:  # pragma: no cover - exercised in the cluster
    from todo_core.api.runtime import resolve_database_url
    from todo_core.service import TaskService
    from todo_core.settings import get_settings
    from todo_core.store.db import make_pool

    settings = get_settings()
    pool = make_pool(resolve_database_url(settings), min_size=1, max_size=settings.db_pool_max)
    await pool.open(wait=True, timeout=30)
    ctx = ConsumerContext(pool=pool, settings=settings, tasks=TaskService(pool))
    if settings.dapr_enabled:
        from todo_core.scheduling.remote import gateway_reminder_sync

        ctx.reminders_changed = gateway_reminder_sync(settings)
    if settings.vapid_private_key is not None and settings.vapid_public_key:
        from todo_core.notify.webpush import VapidKeys

        ctx.vapid = VapidKeys(settings.vapid_public_key, settings.vapid_private_key.get_secret_value())
    return ctx


def decode(event: func.KafkaEvent) -> Any:
    """The CloudEvent in a Kafka message (the extension may hand over its own JSON around the value)."""
    body = event.get_body()
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PoisonEvent("message value is not JSON") from exc
    if isinstance(value, dict) and "Value" in value and "Offset" in value and "specversion" not in value:
        inner = value["Value"]
        try:
            value = json.loads(inner) if isinstance(inner, str | bytes) else inner
        except ValueError as exc:
            raise PoisonEvent("message value is not JSON") from exc
    return value


async def run_batch(function_name: str, events: list[func.KafkaEvent], context: func.Context | None) -> dict[str, int]:
    """Handle a batch: events of one key in order, different keys concurrently (as the extension runs
    partitions in parallel). A failing event stops its key; the batch then fails and is retried, and
    the events already handled are no-ops the second time. On the last retry a failing event is
    dead-lettered and its key goes on. Malformed events are dead-lettered at once.

    Counted in ``functions._metrics``: a batch that goes through adds its events by outcome, a batch
    that raises is a failed attempt; both are timed."""
    started = time.perf_counter()
    try:
        outcomes = await _handle_batch(function_name, events, context)
    except Exception:
        _metrics.batch_failed(function_name, time.perf_counter() - started)
        raise
    _metrics.batch_done(function_name, outcomes, time.perf_counter() - started)
    return outcomes


async def _handle_batch(
    function_name: str, events: list[func.KafkaEvent], context: func.Context | None
) -> dict[str, int]:
    handler = HANDLERS[function_name]
    # a local host hands its own context over with the invocation; in Azure the worker builds one
    ctx = getattr(context, "consumer", None) or await consumer_context()
    retry = context.retry_context if context is not None else None
    attempt = retry.retry_count if retry is not None else 0
    last_attempt = retry is None or attempt >= retry.max_retry_count
    outcomes: dict[str, int] = {}
    by_key: dict[str, list[func.KafkaEvent]] = {}
    for event in events:
        by_key.setdefault(event.key or "", []).append(event)
    limit = asyncio.Semaphore(KEY_CONCURRENCY)

    async def run_key(key_events: list[func.KafkaEvent]) -> None:
        async with limit:
            for event in key_events:
                try:
                    envelope = decode(event)
                    outcome = await handler(ctx, envelope)
                except PoisonEvent as exc:
                    await dead_letter(ctx, function_name, event, exc, attempt)
                    outcome = _metrics.DEAD_LETTERED
                except Exception as exc:
                    if not last_attempt:
                        log.warning(
                            "event failed; the batch will be retried",
                            extra={
                                "function": function_name,
                                "offset": event.offset,
                                "attempt": attempt,
                                "error": repr(exc),
                            },
                        )
                        raise
                    await dead_letter(ctx, function_name, event, exc, attempt)
                    outcome = _metrics.DEAD_LETTERED
                outcomes[outcome] = outcomes.get(outcome, 0) + 1

    results = await asyncio.gather(*(run_key(evs) for evs in by_key.values()), return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return outcomes


def _original(event: func.KafkaEvent) -> Any:
    """The message as the producer wrote it, for the dead letter: the CloudEvent when it parses (out of
    the extension's own JSON around the value, as the worker hands MANY/string batches over), else the
    text of the value."""
    try:
        return decode(event)
    except PoisonEvent:
        pass
    body = event.get_body()
    try:
        outer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return body.decode("utf-8", "replace")
    if isinstance(outer, dict) and "Value" in outer and "Offset" in outer and "specversion" not in outer:
        return outer["Value"]
    return outer


async def dead_letter(
    ctx: ConsumerContext, function_name: str, event: func.KafkaEvent, exc: Exception, attempt: int
) -> None:
    """Write the failed event and the error to ``<topic>.dlq`` through the outbox (never lost)."""
    topic = (event.topic or "").removeprefix(ctx.settings.kafka_topic_prefix)
    original = _original(event)
    event_id = original.get("id") if isinstance(original, dict) else None
    userid = original.get("userid", "") if isinstance(original, dict) else ""
    letter = ev.make_event(
        topic=ev.dlq(topic or "unknown"),
        type_="todo.deadletter.v1",
        key=event.key or str(event_id or ""),
        subject=f"{function_name}/{event.partition}/{event.offset}",
        user_id=userid if isinstance(userid, str) else "",
        data={
            "function": function_name,
            "topic": topic,
            "key": event.key,
            "partition": event.partition,
            "offset": event.offset,
            "attempts": attempt + 1,
            "error": f"{type(exc).__name__}: {exc}"[:2000],
            "event": original,
        },
    )
    async with ctx.pool.connection() as conn, conn.transaction():
        await outbox.append(conn, [letter])
    _metrics.dead_lettered(function_name)
    log.error(
        "event dead-lettered",
        extra={"function": function_name, "topic": topic, "offset": event.offset, "error": repr(exc)},
    )

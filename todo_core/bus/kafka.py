"""Kafka through confluent-kafka: the idempotent producer of the relay, topic creation, client config."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from todo_core.bus.base import CLOUDEVENTS_CONTENT_TYPE, OutboxRecord, PublishResult
from todo_core.domain.events import TOPICS, dlq
from todo_core.settings import Settings

log = logging.getLogger(__name__)


def client_config(settings: Settings) -> dict[str, Any]:
    """Connection settings shared by producer, consumers and admin (credentials only from settings)."""
    conf: dict[str, Any] = {
        "bootstrap.servers": settings.kafka_bootstrap_servers,
        "security.protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        conf["sasl.mechanism"] = settings.kafka_sasl_mechanism
        conf["sasl.username"] = settings.kafka_username
        conf["sasl.password"] = settings.kafka_password.get_secret_value() if settings.kafka_password else ""
    return conf


def all_topics(prefix: str = "") -> list[str]:
    return [prefix + t for t in TOPICS] + [prefix + dlq(t) for t in TOPICS]


def ensure_topics(
    conf: dict[str, Any],
    topics: Sequence[str],
    *,
    partitions: int | Mapping[str, int],
    replication_factor: int,
    timeout: float = 30.0,
) -> list[str]:
    """Create the topics that do not exist yet; returns the ones created. Blocking (run it in a thread).
    ``partitions``: one count for all, or one per topic name. An existing topic is never changed (adding
    partitions moves keys, which breaks per-key order for the events in flight): one with fewer
    partitions than asked is logged, for the operator to grow it at a quiet moment."""

    def count(topic: str) -> int:
        return partitions[topic] if isinstance(partitions, Mapping) else partitions

    admin = AdminClient(conf)
    listed = admin.list_topics(timeout=timeout).topics
    missing = [t for t in topics if t not in listed]
    short = {
        t: (len(listed[t].partitions), count(t)) for t in topics if t in listed and len(listed[t].partitions) < count(t)
    }
    if short:
        log.warning("kafka topics have fewer partitions than configured", extra={"topics": short})
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                t,
                num_partitions=count(t),
                replication_factor=replication_factor,
                # dead-letter topics keep their events for operators for two weeks
                config={"retention.ms": str(14 * 24 * 3600 * 1000)} if t.endswith(".dlq") else {},
            )
            for t in missing
        ],
        operation_timeout=timeout,
    )
    created = []
    for topic, fut in futures.items():
        try:
            fut.result()
            created.append(topic)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # another instance won the race
                raise
    # wait until every partition has a leader, so the first publish does not fail
    for _ in range(int(timeout * 10)):
        md = admin.list_topics(timeout=timeout).topics
        if all(t in md and md[t].partitions and all(p.leader >= 0 for p in md[t].partitions.values()) for t in missing):
            break
        import time

        time.sleep(0.1)
    log.info("kafka topics created", extra={"topics": created})
    return created


class KafkaPublisher:
    """Idempotent producer (acks=all, enable.idempotence): per key, Kafka keeps the outbox order.

    ``publish`` sends a batch, waits for every delivery report and says which rows made it.
    Message timeout is short so that a broker outage turns into failed rows (the relay backs off
    and retries them) instead of a queue that grows in memory.
    """

    def __init__(self, conf: dict[str, Any], *, topic_prefix: str = "", message_timeout_ms: int = 15_000) -> None:
        self._prefix = topic_prefix
        self._producer = Producer(
            {
                **conf,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "batch.num.messages": 10_000,
                "compression.type": "lz4",
                "message.timeout.ms": message_timeout_ms,
                "queue.buffering.max.messages": 200_000,
            }
        )
        self._lock = asyncio.Lock()

    async def publish(self, records: Sequence[OutboxRecord]) -> PublishResult:
        async with self._lock:
            return await asyncio.to_thread(self._publish_sync, records)

    def _publish_sync(self, records: Sequence[OutboxRecord]) -> PublishResult:
        result = PublishResult()
        outcome: dict[int, str | None] = {}

        def report(record_id: int) -> Any:
            def on_delivery(err: KafkaError | None, _msg: Message) -> None:
                outcome[record_id] = None if err is None else str(err)

            return on_delivery

        for r in records:
            while True:
                try:
                    self._producer.produce(
                        self._prefix + r.topic,
                        key=r.key.encode(),
                        value=r.value(),
                        headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode()), ("ce_id", r.event_id.encode())],
                        on_delivery=report(r.id),
                    )
                    break
                except BufferError:
                    self._producer.poll(0.05)  # local queue full: let deliveries drain
                except KafkaException as exc:
                    outcome[r.id] = str(exc)
                    break
        self._producer.flush()
        failed_keys: set[str] = set()
        for r in records:
            err = outcome.get(r.id, "no delivery report")
            if err is None and r.key not in failed_keys:
                result.published.append(r.id)
            else:
                # a later row of a key whose earlier row failed is retried too, to keep the order
                failed_keys.add(r.key)
                result.failed[r.id] = err or "an earlier event of the same key failed"
        return result

    async def close(self) -> None:
        """Flush what is queued (bounded), then let librdkafka tear the client down."""
        await asyncio.to_thread(self._producer.flush, 10)
        del self._producer

"""The local Kafka broker behaves like the real thing: keyed order, consumer groups, restarts."""

from __future__ import annotations

import socket
import time
import uuid
from collections import defaultdict
from typing import Any

import pytest
from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition

pytest_plugins = ["tests.fix_kafka"]

pytestmark = pytest.mark.integration


def _producer(bootstrap: str) -> Producer:
    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "message.timeout.ms": 60_000,
        }
    )


def _produce(producer: Producer, topic: str, records: list[tuple[str, str]]) -> dict[str, set[int]]:
    """Produce (key, value) pairs, wait for every delivery; return the partitions each key went to."""
    errors: list[Any] = []
    partitions: dict[str, set[int]] = defaultdict(set)

    def on_delivery(err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            errors.append(err)
        else:
            partitions[msg.key().decode()].add(msg.partition())

    for key, value in records:
        producer.produce(topic, key=key.encode(), value=value.encode(), on_delivery=on_delivery)
        producer.poll(0)
    remaining = producer.flush(60)
    assert remaining == 0, f"{remaining} messages not delivered"
    assert not errors, errors
    return partitions


def _consume(bootstrap: str, topic: str, expected: int, *, timeout: float = 60.0) -> tuple[list[Message], Consumer]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"g-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 10_000,
        }
    )
    consumer.subscribe([topic])
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        for msg in consumer.consume(num_messages=500, timeout=0.5):
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise AssertionError(f"consumer error: {msg.error()}")
            got.append(msg)
    # Anything past the expected count would be a duplicate: give it a moment to show up.
    got.extend(m for m in consumer.consume(num_messages=500, timeout=1.0) if m.error() is None)
    return got, consumer


def test_idempotent_keyed_messages_keep_per_key_order(kafka_bootstrap: str, kafka_topic: Any) -> None:
    topic = kafka_topic("orders", partitions=6)
    keys = [f"user-{i}" for i in range(10)]
    records = [(key, f"{key}:{seq}") for seq in range(10) for key in keys]  # 100, interleaved

    producer = _producer(kafka_bootstrap)
    key_partitions = _produce(producer, topic, records)
    assert all(len(parts) == 1 for parts in key_partitions.values()), key_partitions
    used = set().union(*key_partitions.values())
    assert len(used) >= 2, f"10 keys all landed on partitions {used} of 6"

    got, consumer = _consume(kafka_bootstrap, topic, expected=len(records))
    try:
        assert len(got) == 100
        by_key: dict[str, list[int]] = defaultdict(list)
        for msg in got:
            key = msg.key().decode()
            value = msg.value().decode()
            assert value.startswith(f"{key}:")
            by_key[key].append(int(value.split(":")[1]))
        assert sorted(by_key) == sorted(keys)
        for key, seqs in by_key.items():
            assert seqs == list(range(10)), f"{key} out of order: {seqs}"

        # The group coordinator (offsets topic, RF=1) works: commit and read the offsets back.
        consumer.commit(asynchronous=False)
        committed = consumer.committed([TopicPartition(topic, p) for p in range(6)], timeout=10)
        assert sum(max(tp.offset, 0) for tp in committed) == 100
    finally:
        consumer.close()


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_messages_survive_broker_restart(kafka_broker: Any, kafka_bootstrap: str, kafka_topic: Any, how: str) -> None:
    if kafka_broker.external:
        pytest.skip("restarts need the session's own broker")
    topic = kafka_topic("durable", partitions=3)
    producer = _producer(kafka_bootstrap)
    before = [(f"k{i % 4}", f"before-{i}") for i in range(20)]
    _produce(producer, topic, before)

    if how == "kill":
        kafka_broker.kill()  # crash: SIGKILL, no clean shutdown
    else:
        kafka_broker.stop()
    host, port = kafka_bootstrap.rsplit(":", 1)
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=1).close()

    kafka_broker.start()
    assert kafka_broker.bootstrap_servers == kafka_bootstrap  # same data dir, same ports

    # The producer made before the outage reconnects on its own and goes on.
    after = [(f"k{i % 4}", f"after-{i}") for i in range(5)]
    _produce(producer, topic, after)

    got, consumer = _consume(kafka_bootstrap, topic, expected=len(before) + len(after))
    consumer.close()
    values = sorted(m.value().decode() for m in got)
    assert values == sorted(v for _, v in before + after)

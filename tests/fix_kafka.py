"""Real Kafka for the tests: one local KRaft broker per session (or KAFKA_BOOTSTRAP_SERVERS).

Load with ``-p tests.fix_kafka`` (or ``pytest_plugins = ["tests.fix_kafka"]``).

Fixtures:

* ``kafka_broker``    (session) a started :class:`KafkaBroker`, or an :class:`ExternalKafka`
  when ``KAFKA_BOOTSTRAP_SERVERS`` is set. Both have ``bootstrap_servers``, ``external``,
  ``stop()``, ``start()``, ``kill()`` and ``restart()``; on an external broker those four
  skip the calling test, so outage tests skip themselves there.
* ``kafka_bootstrap`` (session) the bootstrap servers string.
* ``kafka_admin``     (session) a ``confluent_kafka.admin.AdminClient``.
* ``kafka_topic``     (function) factory ``kafka_topic(prefix="t", partitions=6, config=None) -> str``
  creating a uniquely named topic (auto-create is off on the local broker), waiting until
  every partition has a leader; the topics are deleted when the test ends.

Without Java (and no KAFKA_BOOTSTRAP_SERVERS) the Kafka tests are skipped; any other
failure to bring the broker up is an error that shows the tail of the broker's log.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from tests._scripts import load_script

if TYPE_CHECKING:
    from confluent_kafka.admin import AdminClient


kafka_broker_mod = load_script("kafka_broker.py", "todo_cloud_kafka_broker")
KafkaBroker = kafka_broker_mod.KafkaBroker
KafkaBrokerError = kafka_broker_mod.KafkaBrokerError


class BrokerHandle(Protocol):
    external: bool

    @property
    def bootstrap_servers(self) -> str: ...
    def start(self) -> Any: ...
    def stop(self) -> None: ...
    def kill(self) -> None: ...
    def restart(self) -> Any: ...


class ExternalKafka:
    """A broker this session did not start (KAFKA_BOOTSTRAP_SERVERS): it cannot be stopped."""

    external = True

    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap = bootstrap_servers

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap

    def _skip(self) -> None:
        pytest.skip("needs the session's own Kafka broker; KAFKA_BOOTSTRAP_SERVERS points at an external one")

    def start(self) -> ExternalKafka:
        self._skip()
        return self

    def stop(self) -> None:
        self._skip()

    def kill(self) -> None:
        self._skip()

    def restart(self) -> ExternalKafka:
        self._skip()
        return self

    def __repr__(self) -> str:
        return f"ExternalKafka({self._bootstrap})"


_session_broker: list[Any] = []


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerHandle]:
    """One Kafka broker for the whole session (see module doc)."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if external:
        yield ExternalKafka(external)
        return
    if kafka_broker_mod.java_executable() is None:
        pytest.skip("Kafka tests need Java (no 'java' on PATH, JAVA or JAVA_HOME) or KAFKA_BOOTSTRAP_SERVERS")
    jvm_opts = os.environ.get("TODO_CLOUD_KAFKA_JVM_OPTS", kafka_broker_mod.FAST_STARTUP_JVM_OPTS).split()
    broker = KafkaBroker(tmp_path_factory.mktemp("kafka"), jvm_opts=jvm_opts)
    broker.start()
    _session_broker.append(broker)
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: BrokerHandle) -> str:
    return kafka_broker.bootstrap_servers


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str) -> AdminClient:
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": kafka_bootstrap})


def wait_for_topic(admin: AdminClient, topic: str, partitions: int, timeout: float = 30.0) -> None:
    """Block until ``topic`` shows ``partitions`` partitions, each with a leader."""
    deadline = time.monotonic() + timeout
    last = "no metadata yet"
    while time.monotonic() < deadline:
        try:
            md = admin.list_topics(topic=topic, timeout=5.0).topics.get(topic)
        except Exception as exc:
            last = repr(exc)
        else:
            if md is not None and md.error is None and len(md.partitions) == partitions:
                if all(p.leader >= 0 and p.error is None for p in md.partitions.values()):
                    return
            last = f"metadata: {md!r}"
        time.sleep(0.1)
    raise TimeoutError(f"topic {topic} not ready after {timeout}s ({last})")


TopicFactory = Callable[..., str]


@pytest.fixture
def kafka_topic(kafka_admin: AdminClient, request: pytest.FixtureRequest) -> Iterator[TopicFactory]:
    """Factory: ``kafka_topic(prefix="t", partitions=6, config=None) -> name`` (deleted after the test)."""
    from confluent_kafka.admin import NewTopic

    created: list[str] = []
    test_part = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name)[:80].strip("-._")

    def make(prefix: str = "t", partitions: int = 6, config: dict[str, str] | None = None) -> str:
        name = f"{prefix}.{test_part}.{uuid.uuid4().hex[:8]}"
        futures = kafka_admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1, config=dict(config or {}))],
            operation_timeout=30.0,
            request_timeout=30.0,
        )
        futures[name].result(timeout=60)
        created.append(name)
        wait_for_topic(kafka_admin, name, partitions)
        return name

    yield make

    if created:
        try:
            for fut in kafka_admin.delete_topics(created, operation_timeout=10.0, request_timeout=10.0).values():
                fut.result(timeout=15)
        except Exception:  # best effort: the broker may be down after an outage test
            pass


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for broker in _session_broker:
        started = f", up in {broker.last_start_seconds:.1f}s" if broker.last_start_seconds else ""
        terminalreporter.write_line(
            f"kafka: {broker.version} at {broker.bootstrap_servers}{started}; log {broker.log_file}"
        )


def start_groups_at_the_end(bootstrap: str, groups: dict[str, str]) -> dict[str, int]:
    """Commit each consumer group (``{group: topic}``) at its topic's end, so it consumes only what comes
    next: the session's broker is shared, and unprefixed topics (the cluster's names, used by the Dapr and
    monitoring stages) may hold events of other tests' databases. Returns the events skipped per group."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    skipped: dict[str, int] = {}
    for group, topic in groups.items():
        meta = admin.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            skipped[group] = 0
            continue
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
        try:
            ends = [TopicPartition(topic, p) for p in meta.partitions]
            committed = {c.partition: c.offset for c in consumer.committed(ends, timeout=10)}
            behind = []  # only partitions with something to skip: the others stay as they were
            for tp in ends:
                low, high = consumer.get_watermark_offsets(tp, timeout=10)
                start = committed[tp.partition] if committed[tp.partition] >= 0 else low
                if high > start:
                    behind.append((TopicPartition(topic, tp.partition, high), high - start))
            skipped[group] = sum(n for _, n in behind)
            if behind:
                consumer.commit(offsets=[tp for tp, _ in behind], asynchronous=False)
        finally:
            consumer.close()
    return skipped

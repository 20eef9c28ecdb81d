"""Nothing lost, nothing doubled: a Kafka outage during 1,000 creates, a consumer killed with SIGKILL
mid-batch, and the same scenarios in embedded mode (the outbox as the log)."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.fix_pipeline import Gateway, start_functions_host, wait_until
from todo_core.store import audit as audit_store

ROOT = Path(__file__).resolve().parents[2]


def _create_many(gw: Gateway, user: Any, n: int, prefix: str) -> list[str]:
    ids = []
    with httpx.Client(base_url=gw.url, headers=user.http.headers, timeout=30) as c:
        for i in range(n):
            r = c.post("/api/v1/tasks", json={"title": f"{prefix} {i}", "tags": ["load"]})
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
    return ids


def _audit_count(gw: Gateway, user_id: str) -> int:
    return int(gw.query("SELECT count(*) FROM audit_log WHERE user_id = %(u)s", {"u": user_id})[0][0])


def _chain_ok(gw: Gateway, user_id: str) -> bool:
    async def run() -> bool:
        async with await psycopg.AsyncConnection.connect(gw.pg_url, autocommit=True) as conn:
            return (await audit_store.verify_chain(conn, uuid.UUID(user_id))).ok

    return asyncio.run(run())


def test_kafka_outage_while_1000_tasks_are_created_loses_and_doubles_nothing(
    start_gateway: Any, kafka_broker: Any
) -> None:
    gw = start_gateway("kafka")
    alice = gw.user()
    kafka_broker.stop()
    try:
        _create_many(gw, alice, 1000, "during outage")
        # the relay could not publish: the events wait in the outbox
        wait_until(lambda: gw.pipeline.relay.stats.failed > 0, timeout=60, what="the relay to notice the outage")
        backlog = gw.query("SELECT count(*) FROM outbox WHERE published_at IS NULL")[0][0]
        assert backlog >= 2000  # a task event and an audit event per create
        assert _audit_count(gw, alice.user_id) == 0
    finally:
        kafka_broker.start()
    wait_until(lambda: _audit_count(gw, alice.user_id) >= 1000, timeout=120, what="all audit entries")
    wait_until(lambda: gw.pipeline.host.stats["task_events"].events >= 1000, timeout=60, what="all task events")
    wait_until(
        lambda: gw.query("SELECT count(*) FROM outbox WHERE published_at IS NULL")[0][0] == 0,
        timeout=60,
        what="the backlog to drain",
    )
    assert _audit_count(gw, alice.user_id) == 1000
    assert _chain_ok(gw, alice.user_id)


def test_consumers_down_in_embedded_mode_catch_up_without_loss_or_doubling(start_gateway: Any) -> None:
    gw = start_gateway("embedded", functions_host_enabled=False)
    alice = gw.user()
    _create_many(gw, alice, 1000, "while consumers are down")
    assert _audit_count(gw, alice.user_id) == 0
    host = start_functions_host(gw)
    try:
        wait_until(lambda: _audit_count(gw, alice.user_id) >= 1000, timeout=120, what="all audit entries")
    finally:
        host.terminate()
        host.wait(15)
    assert _audit_count(gw, alice.user_id) == 1000
    assert _chain_ok(gw, alice.user_id)
    # every consumer group read the whole log: its position is the last task event
    (last,) = gw.query("SELECT max(id) FROM outbox WHERE topic = 'task-events'")[0]
    assert gw.query("SELECT position FROM consumer_offsets WHERE topic = 'task-events'") == [(last,)]


def test_consumer_killed_with_sigkill_mid_batch_resumes_without_loss_or_doubling(
    start_gateway: Any, pipeline_mode: str
) -> None:
    gw = start_gateway(pipeline_mode, functions_host_enabled=False)
    alice = gw.user()
    n = 1500
    _create_many(gw, alice, n, "kill me")
    if pipeline_mode == "kafka":
        wait_until(
            lambda: gw.query("SELECT count(*) FROM outbox WHERE published_at IS NULL")[0][0] == 0,
            timeout=60,
            what="everything published",
        )
    host = start_functions_host(gw, "audit_append")
    try:
        wait_until(lambda: _audit_count(gw, alice.user_id) >= 150, timeout=120, what="the consumer to be mid-way")
        host.send_signal(signal.SIGKILL)
        host.wait(10)
    finally:
        if host.poll() is None:
            host.kill()
    at_kill = _audit_count(gw, alice.user_id)
    assert 150 <= at_kill < n, at_kill  # really killed mid-stream
    host = start_functions_host(gw, "audit_append")
    try:
        wait_until(lambda: _audit_count(gw, alice.user_id) >= n, timeout=120, what="the rest after the restart")
    finally:
        host.terminate()
        host.wait(15)
    assert _audit_count(gw, alice.user_id) == n
    assert _chain_ok(gw, alice.user_id)
    actions = gw.query(
        "SELECT count(DISTINCT task_id) FROM audit_log WHERE user_id = %(u)s AND action = 'task.created'",
        {"u": alice.user_id},
    )
    assert actions == [(n,)]

"""The function app's own metadata is what the cluster and the local host run: check it, and call a
Kafka-triggered function directly with func.KafkaEvent objects as the Functions host would."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import azure.functions as func
import psycopg
import pytest

from agent_gateway.functions_host import LocalContext, load_app_specs
from functions import _events
from functions.audit_append import audit_append
from todo_core.consumers import ConsumerContext
from todo_core.domain import events as ev
from todo_core.service import TaskService
from todo_core.settings import Environment, Settings
from todo_core.store.db import make_pool

ROOT = Path(__file__).resolve().parents[2]


def test_every_event_function_has_its_topic_group_batching_and_retry() -> None:
    specs = {s.name: s for s in load_app_specs()}
    assert set(specs) == {"task_events", "recurrence_due", "reminder_fire", "audit_append"}
    topics = {"task_events": ev.TASK_EVENTS, "recurrence_due": ev.RECURRENCE_DUE}
    topics |= {"reminder_fire": ev.REMINDER_FIRE, "audit_append": ev.AUDIT_APPEND}
    for name, spec in specs.items():
        assert spec.topic == topics[name]
        assert spec.consumer_group == name
        assert spec.many
        assert spec.max_retries == 5
        assert 0 < spec.min_interval < spec.max_interval


def test_bindings_name_app_settings_never_secrets_and_host_json_matches() -> None:
    kafka = json.loads((ROOT / "host.json").read_text())["extensions"]["kafka"]
    assert kafka["CommitOnFailure"] is False
    assert 0 < kafka["MaxRetries"] <= 10
    assert kafka["maxBatchSize"] == 64
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensionBundle"] == {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": "[4.*, 5.0.0)"}
    args = _events.trigger_args("audit_append", ev.AUDIT_APPEND)
    assert (args["broker_list"], args["username"], args["password"]) == (
        "KafkaBrokers",
        "KafkaUsername",
        "KafkaPassword",
    )


@pytest.fixture
async def ctx(pg_url: str, tmp_path: Path) -> AsyncIterator[ConsumerContext]:
    pool = make_pool(pg_url, min_size=1, max_size=4)
    await pool.open(wait=True)
    settings = Settings(environment=Environment.TEST, database_url=pg_url, data_dir=tmp_path, jwt_secret="x" * 40)
    c = ConsumerContext(pool=pool, settings=settings, tasks=TaskService(pool))
    _events.install_context(c)
    yield c
    _events.install_context(None)
    await pool.close()


@pytest.mark.anyio
async def test_audit_append_called_directly_with_kafka_events_is_idempotent(ctx: ConsumerContext, pg_url: str) -> None:
    user = uuid.uuid4()
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO users (id, email, password_hash) VALUES (%(u)s, %(e)s, 'x')",
            {"u": user, "e": f"{user}@example.com"},
        )
    events = []
    for i in range(3):
        e = ev.make_event(
            topic=ev.AUDIT_APPEND,
            type_=ev.AUDIT_APPEND_TYPE,
            key=str(user),
            subject="task/x",
            user_id=user,
            data={"action": "task.created", "task_id": None, "actor": "t", "channel": "api", "n": i},
        )
        events.append(func.KafkaEvent(body=json.dumps(e.envelope()).encode(), key=str(user), offset=i, partition=0))
    # the extension's own JSON around the value is understood too
    wrapped = {"Offset": 9, "Partition": 0, "Topic": "audit-append", "Value": events[0].get_body().decode()}
    events.append(func.KafkaEvent(body=json.dumps(wrapped).encode(), key=str(user), offset=9, partition=0))
    await audit_append(events=events, context=LocalContext("audit_append", 0, 5))
    await audit_append(events=events, context=LocalContext("audit_append", 1, 5))  # a redelivered batch
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        cur = await conn.execute("SELECT count(*) FROM audit_log WHERE user_id = %(u)s", {"u": user})
        assert await cur.fetchone() == (3,)


@pytest.mark.anyio
async def test_a_failing_event_fails_the_batch_until_the_last_retry_then_goes_to_the_dlq(
    ctx: ConsumerContext, pg_url: str
) -> None:
    bad = {"specversion": "1.0", "id": str(uuid.uuid4()), "type": "todo.audit.append.v1", "time": "soon"}
    bad |= {"userid": str(uuid.uuid4()), "data": {"action": "a", "actor": "b", "channel": "c"}}
    event = func.KafkaEvent(body=json.dumps(bad).encode(), key="k", offset=1, partition=2, topic="audit-append")
    with pytest.raises(ValueError):
        await audit_append(events=[event], context=LocalContext("audit_append", 0, 5))
    await audit_append(events=[event], context=LocalContext("audit_append", 5, 5))
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        cur = await conn.execute(
            "SELECT payload FROM outbox WHERE topic = 'audit-append.dlq' AND payload->'data'->'event'->>'id' = %(i)s",
            {"i": bad["id"]},
        )
        (letter,) = await cur.fetchone()  # type: ignore[misc]
    assert letter["data"]["partition"] == 2 and letter["data"]["offset"] == 1 and letter["data"]["attempts"] == 6

"""Cluster mode against Dapr itself: the gateway (``DAPR_ENABLED``) beside a real ``daprd`` in self-hosted
mode with the Dapr scheduler, the session's Kafka broker and Postgres, and the components of
``infra/dapr`` (see tests/fix_dapr.py). The local functions host consumes Kafka with the same Dapr settings
the functions have in the cluster, so every flow below runs end to end:

REST command -> outbox -> relay -> Dapr pub/sub -> Kafka -> event functions; task_events -> Dapr service
invocation -> the gateway's scheduler -> Dapr Jobs API -> scheduler -> ``POST /job/reminder-<id>`` ->
reminder fired -> Dapr pub/sub -> Kafka -> reminder_fire -> notification; chat memory in the Dapr state
store (``state.postgresql`` v2).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from tests.fix_dapr import ALLOWED_CHANGES, ROOT, DaprCluster, derive_resources, diff_paths
from tests.fix_pipeline import wait_until
from todo_core.consumers import ConsumerContext, task_events
from todo_core.scheduling.remote import gateway_reminder_sync
from todo_core.service import TaskService
from todo_core.store.db import make_pool


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _kafka_messages(bootstrap: str, topic: str, want: Callable[[dict[str, Any]], bool], n: int) -> list[Any]:
    """The first ``n`` messages of ``topic`` whose JSON value satisfies ``want`` (a consumer group of its own)."""
    from confluent_kafka import Consumer

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"real-dapr-test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    found: list[Any] = []
    try:

        def poll() -> bool:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None and want(json.loads(msg.value())):
                found.append(msg)
            return len(found) >= n

        wait_until(poll, timeout=30, interval=0, what=f"{n} matching messages on {topic}")
    finally:
        consumer.close()
    return found


# -- the components -------------------------------------------------------------------------------


def test_derived_components_differ_from_infra_dapr_only_in_connection_settings(tmp_path: Path) -> None:
    derived = derive_resources(
        tmp_path,
        kafka_brokers="127.0.0.1:1",
        secret_values={("statestore", "connectionString"): "host=/tmp/pg dbname=x"},
        otel_endpoint="127.0.0.1:2",
    )
    changed = {
        (name, path) for name, (original, doc) in derived.documents.items() for path in diff_paths(original, doc)
    }
    assert changed == ALLOWED_CHANGES
    # every file of infra/dapr/minikube plus resiliency and configuration was used
    assert set(derived.documents) == {
        "Component/kafka-pubsub",
        "Component/statestore",
        "Component/secretstore",
        "Resiliency/todo-cloud",
        "Configuration/todo-cloud",
    }
    assert {p.name for p in derived.resources_dir.iterdir()} == {
        "pubsub-kafka.yaml",
        "statestore.yaml",
        "secretstore.yaml",
        "resiliency.yaml",
    }
    # the local secret store serves the database under the name and key the state store's secretKeyRef reads
    (ref,) = [
        m["secretKeyRef"]
        for m in derived.documents["Component/statestore"][1]["spec"]["metadata"]
        if "secretKeyRef" in m
    ]
    assert json.loads(derived.secrets_file.read_text()) == {ref["name"]: {ref["key"]: "host=/tmp/pg dbname=x"}}
    secretstore = derived.documents["Component/secretstore"][1]
    assert secretstore["spec"]["type"] == "secretstores.local.file"
    assert derived.documents["Component/statestore"][1]["auth"]["secretStore"] == secretstore["metadata"]["name"]
    # and the diff itself notices a change anywhere else
    _, pubsub = derived.documents["Component/kafka-pubsub"]
    pubsub["scopes"].append("intruder")
    assert diff_paths(derived.documents["Component/kafka-pubsub"][0], pubsub) == {
        "scopes",
        "spec.metadata[brokers].value",
    }


def test_daprd_runs_the_cluster_components_beside_the_gateway(dapr_cluster: DaprCluster, dapr_binaries: Any) -> None:
    md = dapr_cluster.daprd.metadata()
    assert md["id"] == "agent-gateway"
    assert md["extended"]["daprRuntimeVersion"] == dapr_binaries.version == "1.16.0"
    components = {c["name"]: (c["type"], c["version"]) for c in md["components"]}
    assert components == {
        "kafka-pubsub": ("pubsub.kafka", "v1"),
        "statestore": ("state.postgresql", "v2"),
        "secretstore": ("secretstores.local.file", "v1"),
    }
    assert md["scheduler"]["connected_addresses"] == [dapr_cluster.scheduler.address]
    assert md["appConnectionProperties"]["port"] == int(dapr_cluster.gw.url.rsplit(":", 1)[1])
    assert dapr_cluster.gw.pipeline.mode == "cluster"
    # daprd asked the gateway for its subscriptions at start and got a JSON answer (none), not the UI's HTML
    log = dapr_cluster.daprd.log_text()
    assert "application discovered on port" in log
    assert "error getting topics from app" not in log
    assert "Loading Resiliency configuration: todo-cloud" in log
    # daprd refuses callers without its API token (DAPR_API_TOKEN), as in the cluster
    r = httpx.get(f"{dapr_cluster.daprd.url}/v1.0/metadata", timeout=10)
    assert r.status_code == 401


def test_a_function_sidecar_loads_only_the_components_scoped_to_its_app(
    dapr_cluster: DaprCluster, start_daprd: Callable[..., Any]
) -> None:
    sidecar = start_daprd(app_id="task-events", resources=dapr_cluster.resources)
    components = {c["name"] for c in sidecar.metadata()["components"]}
    assert components == {"secretstore"}  # pub/sub and state store are the gateway's alone


# -- the build script -----------------------------------------------------------------------------


def test_the_build_script_says_exit_3_when_there_is_no_go_toolchain(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TODO_CLOUD_CACHE": str(tmp_path), "GO": "/no/such/go"}
    for args in ([], ["--check"]):
        proc = subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "dapr_build.py"), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 3, proc.stderr
        assert "no Go toolchain" in proc.stderr


def test_the_wrapper_module_repeats_daprs_replace_directives_verbatim() -> None:
    from tests.fix_dapr import dapr_build

    dapr_go_mod = (
        "module github.com/dapr/dapr\n\ngo 1.24.6\n\nrequire (\n\tgithub.com/a/b v1.0.0\n)\n\n"
        "replace (\n\t// a fork\n\tx.io/y => x.io/y v0.1.0\n)\n\n"
        "replace z.io/w => github.com/z/w v1.2.3\n\n"
        "// replace github.com/dapr/components-contrib => ../components-contrib\n"
    )
    text = dapr_build.wrapper_go_mod("1.16.0", dapr_go_mod)
    assert "module todocloud/daprbuild\n\ngo 1.24.6\n\nrequire github.com/dapr/dapr v1.16.0\n" in text
    assert "replace (\n\t// a fork\n\tx.io/y => x.io/y v0.1.0\n)" in text
    assert "replace z.io/w => github.com/z/w v1.2.3" in text
    assert "components-contrib" not in text  # a commented-out development replace is not copied
    with pytest.raises(dapr_build.BuildError):
        dapr_build.wrapper_go_mod("1.16.0", "replace a.io/b => ../b\n")


# -- pub/sub --------------------------------------------------------------------------------------


def test_relay_publishes_through_dapr_to_kafka_and_audit_append_consumes_one_envelope(
    dapr_cluster: DaprCluster,
) -> None:
    cl = dapr_cluster
    alice = cl.gw.user()
    trace_id = uuid.uuid4().hex
    task = alice.http.post(
        "/api/v1/tasks",
        json={"title": "Buy milk", "tags": ["shop"]},
        headers={"traceparent": f"00-{trace_id}-{'2' * 16}-01"},
    ).json()
    alice.http.post(f"/api/v1/tasks/{task['id']}/complete").raise_for_status()

    # the functions host's audit_append read them from Kafka and appended them, once each
    audit = wait_until(
        lambda: (
            (
                r := cl.query(
                    "SELECT event_id::text, action FROM audit_log WHERE user_id = %(u)s ORDER BY id",
                    {"u": alice.user_id},
                )
            )
            and len(r) >= 2
            and r
        ),
        timeout=60,  # relay -> daprd -> Kafka -> functions host on a loaded machine (20 s timed out once in CI)
        what="the audit trail of create and complete",
    )
    outbox = {
        str(p["id"]): (topic, key, p)
        for topic, key, p in cl.query(
            "SELECT topic, key, payload FROM outbox WHERE payload->>'userid' = %(u)s", {"u": alice.user_id}
        )
    }
    assert {e for e, _ in audit} == {e for e, (t, _, _) in outbox.items() if t == "audit-append"}
    assert [a for _, a in audit] == ["task.created", "task.completed"]

    # what daprd put on Kafka: the outbox's CloudEvent, keyed as the outbox says
    for topic in ("task-events", "audit-append"):
        ours = {e for e, (t, _, _) in outbox.items() if t == topic}
        msgs = _kafka_messages(cl.kafka_bootstrap, topic, lambda v, ours=ours: v.get("id") in ours, len(ours))
        for msg in msgs:
            value = json.loads(msg.value())
            _, key, payload = outbox[value["id"]]
            assert msg.key().decode() == key
            # published raw: the envelope exactly as the outbox holds it (no fields added by daprd, whose
            # own traceparent would otherwise replace the command's), and one envelope, not two
            assert value == payload
            assert "specversion" not in value["data"]
    created = next(p for t, _, p in outbox.values() if p["type"] == "todo.task.created.v1")
    assert created["traceparent"].split("-")[1] == trace_id


# -- reminders as Dapr jobs -----------------------------------------------------------------------


def test_a_reminder_job_fires_through_daprd_and_the_notification_follows(dapr_cluster: DaprCluster) -> None:
    cl = dapr_cluster
    alice = cl.gw.user()
    fire_at = (datetime.now(UTC) + timedelta(seconds=5)).replace(microsecond=0)
    task = alice.create(title="Call mum", reminders=[{"at": fire_at.isoformat()}])
    rid = task["reminders"][0]["id"]
    name = f"reminder-{rid}"
    scheduler = cl.gw.app.state.dapr_scheduler
    fired_before = scheduler.fired_total

    # task_events (functions host, Kafka) -> service invocation -> gateway -> Jobs API -> scheduler
    job = wait_until(lambda: cl.daprd.get_job(name), timeout=15, interval=0.2, what="the reminder's Dapr job")
    assert _ts(job["dueTime"]) == fire_at
    assert job["data"] == {
        "reminder_id": rid,
        "task_id": task["id"],
        "user_id": alice.user_id,
        "fire_at": fire_at.isoformat(),
    }
    assert cl.query("SELECT status FROM reminders WHERE id = %(r)s", {"r": rid}) == [("pending",)]

    # at the due time daprd calls POST /job/reminder-<id>; the gate fires it; reminder_fire notifies
    (note,) = wait_until(
        lambda: cl.query("SELECT title, late, created_at FROM notifications WHERE reminder_id = %(r)s", {"r": rid}),
        timeout=30,
        what="the notification",
    )
    assert note[0] == "Call mum" and note[1] is False
    assert note[2] >= fire_at
    assert cl.query("SELECT status, late FROM reminders WHERE id = %(r)s", {"r": rid}) == [("delivered", False)]
    (event,) = [
        p
        for (p,) in cl.query(
            "SELECT payload FROM outbox WHERE topic = 'reminder-fire' AND payload->'data'->>'reminder_id' = %(r)s",
            {"r": rid},
        )
    ]
    assert event["data"]["late"] is False
    assert scheduler.fired_total == fired_before + 1  # by the job callback ...
    assert scheduler.reconciled_total == 0  # ... not by the reconciler
    assert cl.daprd.get_job(name) is None  # one-shot: gone after it fired
    assert f"/job/{name}" not in cl.daprd.log_text()  # no failed callback logged


class _FailingCallbacks:
    """The gateway's scheduler, except that the first ``failures`` job callbacks meet a database error."""

    def __init__(self, real: Any, failures: int) -> None:
        self.real, self.failures = real, failures
        self.calls: list[tuple[str, float, str]] = []

    async def on_job(self, name: str, data: Any) -> str:
        import psycopg

        if self.failures > 0:
            self.failures -= 1
            self.calls.append((name, time.monotonic(), "failed"))
            raise psycopg.OperationalError("the database is away (test)")
        status = str(await self.real.on_job(name, data))
        self.calls.append((name, time.monotonic(), status))
        return status

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.real, attr)


def test_daprd_retries_a_job_callback_that_failed_and_it_fires_once(dapr_cluster: DaprCluster) -> None:
    cl = dapr_cluster
    alice = cl.gw.user()
    fire_at = (datetime.now(UTC) + timedelta(seconds=4)).replace(microsecond=0)
    task = alice.create(title="retry me", reminders=[{"at": fire_at.isoformat()}])
    rid = task["reminders"][0]["id"]
    name = f"reminder-{rid}"
    wait_until(lambda: cl.daprd.get_job(name), timeout=15, interval=0.2, what="the reminder's Dapr job")
    real = cl.gw.app.state.dapr_scheduler
    flaky = _FailingCallbacks(real, failures=2)
    cl.gw.app.state.dapr_scheduler = flaky
    try:
        wait_until(
            lambda: [c for c in flaky.calls if c[0] == name and c[2] == "fired"],
            timeout=30,
            interval=0.2,
            what="the callback daprd retried",
        )
    finally:
        cl.gw.app.state.dapr_scheduler = real
    calls = [c for c in flaky.calls if c[0] == name]
    assert [c[2] for c in calls] == ["failed", "failed", "fired"]  # 500 -> daprd's failure policy retries
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(calls)]
    assert all(g >= 0.5 for g in gaps), gaps  # daprd's default policy: constant, 1 s apart
    wait_until(
        lambda: cl.query("SELECT 1 FROM notifications WHERE reminder_id = %(r)s", {"r": rid}),
        timeout=20,
        what="the notification",
    )
    assert cl.query(
        "SELECT count(*) FROM outbox WHERE topic = 'reminder-fire' AND payload->'data'->>'reminder_id' = %(r)s",
        {"r": rid},
    ) == [(1,)]


def test_moving_completing_and_reopening_the_task_replace_delete_and_restore_its_job(dapr_cluster: DaprCluster) -> None:
    cl = dapr_cluster
    alice = cl.gw.user()
    due = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    task = alice.create(title="Dentist", due_at=due.isoformat(), reminders=[{"offset_minutes": 30}])
    name = f"reminder-{task['reminders'][0]['id']}"

    def due_time() -> datetime | None:
        job = cl.daprd.get_job(name)
        return None if job is None else _ts(job["dueTime"])

    wait_until(lambda: due_time() == due - timedelta(minutes=30), timeout=15, interval=0.2, what="the job")

    moved = due + timedelta(days=1)
    r = alice.http.patch(f"/api/v1/tasks/{task['id']}", json={"due_at": moved.isoformat()})
    assert r.status_code == 200, r.text
    wait_until(lambda: due_time() == moved - timedelta(minutes=30), timeout=15, interval=0.2, what="the job replaced")
    assert _ts(cl.daprd.get_job(name)["data"]["fire_at"]) == moved - timedelta(minutes=30)

    alice.http.post(f"/api/v1/tasks/{task['id']}/complete").raise_for_status()
    wait_until(lambda: cl.daprd.get_job(name) is None, timeout=15, interval=0.2, what="the job deleted")

    alice.http.post(f"/api/v1/tasks/{task['id']}/reopen").raise_for_status()
    wait_until(lambda: due_time() == moved - timedelta(minutes=30), timeout=15, interval=0.2, what="the job back")

    alice.http.delete(f"/api/v1/tasks/{task['id']}").raise_for_status()
    # a deleted task's rows are gone, and with them the record of its job: it stays, and fires into the gate
    assert cl.daprd.get_job(name) is not None


def test_task_events_reaches_the_gateway_scheduler_through_dapr_service_invocation(dapr_cluster: DaprCluster) -> None:
    cl = dapr_cluster
    alice = cl.gw.user()
    due = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    task = alice.create(title="invoke me", due_at=due.isoformat(), reminders=[{"offset_minutes": 60}])
    name = f"reminder-{task['reminders'][0]['id']}"
    wait_until(lambda: cl.daprd.get_job(name), timeout=15, interval=0.2, what="the job from the functions host")
    # make daprd forget it, then run the task_events function here, with the functions' Dapr settings
    httpx.delete(f"{cl.daprd.url}/v1.0-alpha1/jobs/{name}", headers=cl.daprd.headers, timeout=10).raise_for_status()
    assert cl.daprd.get_job(name) is None
    (envelope,) = cl.query(
        "SELECT payload FROM outbox WHERE topic = 'task-events' AND key = %(k)s ORDER BY id DESC LIMIT 1",
        {"k": task["id"]},
    )[0]

    async def run(settings: Any) -> str:
        sync = gateway_reminder_sync(settings)
        pool = make_pool(cl.gw.pg_url, min_size=1, max_size=1)
        await pool.open(wait=True)
        try:
            ctx = ConsumerContext(pool=pool, settings=settings, tasks=TaskService(pool), reminders_changed=sync)
            return await task_events(ctx, envelope)
        finally:
            await sync.aclose()
            await pool.close()

    settings = cl.gw.settings.model_copy(update={"dapr_http_endpoint": cl.daprd.url})
    assert asyncio.run(run(settings)) == "synced"
    assert _ts(cl.daprd.get_job(name)["dueTime"]) == due - timedelta(minutes=60)

    # daprd adds the app token (APP_API_TOKEN) the gateway's internal route wants; without it the route refuses
    direct = httpx.post(
        f"{cl.gw.url}/internal/reminders/sync", json={"user_id": alice.user_id, "task_id": task["id"]}, timeout=10
    )
    assert direct.status_code == 401
    via = httpx.post(
        f"{cl.daprd.url}/v1.0/invoke/agent-gateway/method/internal/reminders/sync",
        json={"user_id": alice.user_id, "task_id": task["id"]},
        headers=cl.daprd.headers,
        timeout=10,
    )
    assert (via.status_code, via.json()) == (200, {"scheduled": 1, "deleted": 0})
    # and a caller without daprd's API token gets nowhere: the function's call fails, so it retries
    from todo_core.scheduling.dapr_jobs import DaprError

    with pytest.raises(DaprError) as err:
        asyncio.run(run(settings.model_copy(update={"dapr_api_token": None})))
    assert err.value.status == 401


# -- conversation memory --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_chat_memory_is_stored_and_read_back_through_the_dapr_state_store(dapr_cluster: DaprCluster) -> None:
    from agent_gateway.chat_store import DaprStateSession

    cl = dapr_cluster
    settings = cl.gw.settings.model_copy(update={"dapr_http_endpoint": cl.daprd.url})
    alice, bob, thread = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with httpx.AsyncClient(timeout=10) as http:
        # the first write of a new thread races too: four writers, no ETag yet, nothing lost
        fresh = [DaprStateSession(http, settings, alice, uuid.UUID(int=thread.int ^ 1)) for _ in range(4)]
        await asyncio.gather(*(s.add_items([{"role": "user", "content": f"first {i}"}]) for i, s in enumerate(fresh)))
        assert sorted(i["content"] for i in await fresh[0].get_items()) == [f"first {i}" for i in range(4)]
        await fresh[0].clear_session()
        session = DaprStateSession(http, settings, alice, thread)
        assert await session.get_items() == []
        user = {"role": "user", "content": "add milk"}
        answer = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "ok"}]}
        await session.add_items([user])
        await session.add_items([answer])
        assert await session.get_items() == [user, answer]
        assert await session.get_items(limit=1) == [answer]
        assert await DaprStateSession(http, settings, bob, thread).get_items() == []
        # the row is in the Postgres state store of the component (tablePrefix dapr_), under daprd's app-id prefix
        rows = cl.query("SELECT key, etag FROM dapr_state WHERE key = %(k)s", {"k": f"agent-gateway||{session.key}"})
        assert len(rows) == 1
        # four writers at once: the state store's ETags (409 from daprd) make the losers read again and retry,
        # nothing is lost. (Each conflict means another writer won, so up to DAPR_WRITE_ATTEMPTS writers
        # always get through; a thread's turns run one at a time in a process.)
        other = DaprStateSession(http, settings, alice, thread)
        await asyncio.gather(
            *(s.add_items([{"role": "user", "content": str(i)}]) for i, s in enumerate([session, other] * 2))
        )
        items = await session.get_items()
        assert items[:2] == [user, answer]
        assert sorted(i["content"] for i in items[2:]) == ["0", "1", "2", "3"]
        assert await session.pop_item() == items[-1]
        assert await session.get_items() == items[:-1]
        await session.clear_session()
        assert await session.get_items() == []
        assert cl.query(
            "SELECT count(*) FROM dapr_state WHERE key = %(k)s", {"k": f"agent-gateway||{session.key}"}
        ) == [(0,)]


def test_a_chat_turn_keeps_its_memory_in_the_dapr_state_store(dapr_cluster: DaprCluster) -> None:
    cl = dapr_cluster
    alice = cl.gw.user()
    with alice.http.stream("POST", "/api/v1/chat", json={"message": "add buy bread tomorrow"}) as r:
        assert r.status_code == 200
        body = "".join(r.iter_text())
    thread_id = json.loads(
        next(line[5:] for line in body.splitlines() if line.startswith("data:") and "thread_id" in line)
    )["thread_id"]
    key = f"agent-gateway||chat-{alice.user_id}-{thread_id}"
    ((value,),) = cl.query("SELECT value FROM dapr_state WHERE key = %(k)s", {"k": key})
    memory = json.loads(bytes(value))  # state.postgresql v2 keeps the value as bytes (the JSON daprd was given)
    assert memory[0] == {"role": "user", "content": "add buy bread tomorrow"}
    assert any(item.get("type") == "function_call" for item in memory)  # the agent's tool call, remembered
    # nothing of the memory in the Postgres rows of the local mode
    assert cl.query(
        "SELECT count(*) FROM chat_items WHERE thread_id = %(t)s AND kind = 'session'", {"t": UUID(thread_id)}
    ) == [(0,)]
    # read back through daprd
    thread = alice.http.get(f"/api/v1/chat/threads/{thread_id}").json()
    assert thread["messages"][0]["role"] == "user" and "buy bread" in json.dumps(thread["messages"][0])
    assert len(thread["messages"]) >= 2

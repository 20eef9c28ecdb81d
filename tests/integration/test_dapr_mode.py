"""Cluster mode (DAPR_ENABLED) against real Postgres and a fake daprd over real HTTP: the relay
publishes through Dapr pub/sub, the task_events function reaches the gateway's scheduler through
service invocation, reminders are Dapr jobs that call back ``POST /job/reminder-<id>``, and the
reconciler fires (late) what no job fired."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_gateway.main import create_app
from tests.fake_dapr import FakeDapr, fake_dapr  # noqa: F401
from tests.fix_api import make_settings
from tests.fix_pipeline import Gateway, wait_until
from todo_core.consumers import ConsumerContext, task_events
from todo_core.scheduling.dapr_jobs import DaprError
from todo_core.scheduling.remote import gateway_reminder_sync
from todo_core.service import TaskService
from todo_core.store.db import make_pool

APP_ID = "agent-gateway"
SYNC_PATH = "internal/reminders/sync"


@dataclass
class Cluster:
    gw: Gateway
    dapr: FakeDapr

    def published_event(self, event_id: str) -> Any:
        """The event as the relay handed it to Dapr pub/sub (what the functions consume)."""
        return wait_until(
            lambda: next((e for e in self.dapr.published if e.event.get("id") == event_id), None),
            what=f"event {event_id} published through dapr",
        )

    def run_task_events(self, task_id: str) -> str:
        """Run the task_events function on the task's latest event, as published, with the cluster's
        reminders hook (service invocation of the gateway through daprd)."""
        (event_id,) = self.gw.query(
            "SELECT event_id::text FROM outbox WHERE topic = 'task-events' AND key = %(k)s ORDER BY id DESC LIMIT 1",
            {"k": task_id},
        )[0]
        envelope = self.published_event(event_id).event

        async def run() -> str:
            sync = gateway_reminder_sync(self.gw.settings)
            pool = make_pool(self.gw.pg_url, min_size=1, max_size=1)
            await pool.open(wait=True)
            try:
                ctx = ConsumerContext(
                    pool=pool, settings=self.gw.settings, tasks=TaskService(pool), reminders_changed=sync
                )
                return await task_events(ctx, envelope)
            finally:
                await sync.aclose()
                await pool.close()

        return asyncio.run(run())

    def sync_calls(self) -> list[Any]:
        return [i for i in self.dapr.invocations if i.method == SYNC_PATH]

    def job_posts(self, name: str) -> list[dict[str, Any]]:
        return [
            json.loads(r.body)
            for r in self.dapr.requests
            if r.method == "POST" and r.path == f"/v1.0-alpha1/jobs/{name}"
        ]

    def fire_events(self, reminder_id: str) -> list[dict[str, Any]]:
        rows = self.gw.query(
            "SELECT payload FROM outbox WHERE topic = 'reminder-fire' AND payload->'data'->>'reminder_id' = %(r)s",
            {"r": reminder_id},
        )
        return [p for (p,) in rows]


@pytest.fixture
def start_cluster(
    fake_dapr: FakeDapr,  # noqa: F811
    start_gateway: Callable[..., Gateway],
) -> Iterator[Callable[..., Cluster]]:
    def start(**settings: Any) -> Cluster:
        gw = start_gateway("embedded", dapr_enabled=True, dapr_http_endpoint=fake_dapr.url, **settings)
        fake_dapr.set_app(APP_ID, gw.url)
        fake_dapr.set_job_callback_target(gw.url)
        return Cluster(gw, fake_dapr)

    yield start


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_relay_publishes_every_outbox_event_through_dapr_pubsub(start_cluster: Callable[..., Cluster]) -> None:
    cl = start_cluster()
    assert cl.gw.pipeline.mode == "cluster"
    assert cl.gw.pipeline.host is None and cl.gw.pipeline.scheduler is None  # no local host, no local timer
    alice = cl.gw.user()
    task = alice.create(title="Buy milk", priority="high", tags=["shop"])
    alice.http.post(f"/api/v1/tasks/{task['id']}/complete").raise_for_status()

    rows = wait_until(
        lambda: (
            (r := cl.gw.query("SELECT event_id::text, topic, key, payload, published_at FROM outbox ORDER BY id"))
            and len(r) >= 4
            and all(row[4] is not None for row in r)
            and r
        ),
        what="every outbox row marked published",
    )
    by_id = {e.event["id"]: e for e in cl.dapr.published}
    assert len(cl.dapr.published) == len(rows)  # each event once
    for event_id, topic, key, payload, _ in rows:
        sent = by_id[event_id]
        assert (sent.pubsub, sent.topic, sent.partition_key) == (cl.gw.settings.dapr_pubsub_name, topic, key)
        assert sent.event == payload  # the CloudEvent envelope unchanged
        assert not sent.wrapped  # sent as application/cloudevents+json: daprd does not wrap it again
    types = [p["type"] for (_, _, k, p, _) in rows if k == task["id"]]
    assert types == ["todo.task.created.v1", "todo.task.completed.v1"]


def test_reminder_job_through_service_invocation_fires_once(start_cluster: Callable[..., Cluster]) -> None:
    cl = start_cluster()
    alice = cl.gw.user()
    task = alice.create(title="Call mum", reminders=[{"at": (datetime.now(UTC) + timedelta(seconds=2)).isoformat()}])
    reminder = task["reminders"][0]
    rid, fire_at = reminder["id"], _ts(reminder["fire_at"])
    name = f"reminder-{rid}"

    assert cl.run_task_events(task["id"]) == "synced"
    (call,) = cl.sync_calls()
    assert (call.app_id, call.http_verb, call.status) == (APP_ID, "POST", 200)
    assert json.loads(call.body) == {"user_id": alice.user_id, "task_id": task["id"]}
    assert json.loads(call.response_body) == {"scheduled": 1, "deleted": 0}
    job = cl.dapr.jobs[name]
    assert job.due_at == fire_at
    assert job.data == {
        "reminder_id": rid,
        "task_id": task["id"],
        "user_id": alice.user_id,
        "fire_at": fire_at.isoformat(),
    }
    assert job.overwrite is True
    assert cl.fire_events(rid) == []  # nothing before its time

    callbacks = wait_until(lambda: [c for c in cl.dapr.callbacks if c.name == name], timeout=15, what="job callback")
    assert len(callbacks) == 1
    assert callbacks[0].url == f"{cl.gw.url}/job/{name}"
    assert (callbacks[0].status, json.loads(callbacks[0].response_body)) == (200, {"status": "fired"})
    assert callbacks[0].at >= fire_at
    (event,) = cl.fire_events(rid)
    assert event["data"]["late"] is False
    assert _ts(event["data"]["fire_at"]) == fire_at
    assert cl.gw.query("SELECT status FROM reminders WHERE id = %(r)s", {"r": rid}) == [("fired",)]
    sent = cl.published_event(event["id"])
    assert (sent.topic, sent.partition_key, sent.event) == ("reminder-fire", task["id"], event)
    assert name not in cl.dapr.jobs  # one-shot

    # daprd delivering the job again (a retry) changes nothing
    again = httpx.post(f"{cl.gw.url}/job/{name}", json=job.data, timeout=10)
    assert (again.status_code, again.json()) == (200, {"status": "noop"})
    assert len(cl.fire_events(rid)) == 1


def test_moving_and_completing_the_task_replace_and_delete_its_job(start_cluster: Callable[..., Cluster]) -> None:
    cl = start_cluster()
    alice = cl.gw.user()
    # a reminder removed from its task leaves its job behind (its row, the job's only record, is gone):
    # the job fires into the gate and nothing happens
    soon = alice.create(title="dropped", reminders=[{"at": (datetime.now(UTC) + timedelta(seconds=2)).isoformat()}])
    dropped = f"reminder-{soon['reminders'][0]['id']}"
    assert cl.run_task_events(soon["id"]) == "synced"
    alice.http.patch(f"/api/v1/tasks/{soon['id']}", json={"reminders": []}).raise_for_status()
    assert cl.run_task_events(soon["id"]) == "synced"
    assert json.loads(cl.sync_calls()[-1].response_body) == {"scheduled": 0, "deleted": 0}

    due = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    task = alice.create(title="Dentist", due_at=due.isoformat(), reminders=[{"offset_minutes": 30}])
    rid = task["reminders"][0]["id"]
    name = f"reminder-{rid}"
    assert cl.run_task_events(task["id"]) == "synced"
    assert cl.dapr.jobs[name].due_at == due - timedelta(minutes=30)

    moved = due + timedelta(days=1)
    r = alice.http.patch(f"/api/v1/tasks/{task['id']}", json={"due_at": moved.isoformat()})
    assert r.status_code == 200, r.text
    assert r.json()["reminders"][0]["id"] == rid  # same reminder, new time
    assert cl.run_task_events(task["id"]) == "synced"
    job = cl.dapr.jobs[name]
    assert job.due_at == moved - timedelta(minutes=30)
    assert _ts(job.data["fire_at"]) == moved - timedelta(minutes=30)
    posts = cl.job_posts(name)
    assert len(posts) == 2 and all(p["overwrite"] is True for p in posts)  # replaced, not a second job

    alice.http.post(f"/api/v1/tasks/{task['id']}/complete").raise_for_status()
    assert cl.run_task_events(task["id"]) == "synced"
    assert name not in cl.dapr.jobs
    assert json.loads(cl.sync_calls()[-1].response_body) == {"scheduled": 0, "deleted": 1}
    assert [r.method for r in cl.dapr.requests if r.path.endswith(f"/jobs/{name}")] == ["POST", "POST", "DELETE"]

    alice.http.post(f"/api/v1/tasks/{task['id']}/reopen").raise_for_status()
    assert cl.run_task_events(task["id"]) == "synced"
    assert cl.dapr.jobs[name].due_at == moved - timedelta(minutes=30)  # back, since it is still ahead

    leftover = wait_until(
        lambda: [c for c in cl.dapr.callbacks if c.name == dropped], timeout=15, what="the dropped reminder's job"
    )
    assert (leftover[0].status, json.loads(leftover[0].response_body)) == (200, {"status": "noop"})
    assert cl.gw.query("SELECT count(*) FROM outbox WHERE topic = 'reminder-fire'") == [(0,)]


def test_a_callback_that_meets_a_database_failure_is_retried_by_daprd(start_cluster: Callable[..., Cluster]) -> None:
    cl = start_cluster()
    alice = cl.gw.user()
    task = alice.create(title="retry me", reminders=[{"at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()}])
    rid = task["reminders"][0]["id"]
    name = f"reminder-{rid}"
    assert cl.run_task_events(task["id"]) == "synced"
    _rename(cl.gw, "reminders", "reminders_away")
    try:
        failed = wait_until(lambda: [c for c in cl.dapr.callbacks if c.name == name], timeout=15, what="a callback")
    finally:
        _rename(cl.gw, "reminders_away", "reminders")
    assert failed[0].status == 500
    callbacks = wait_until(
        lambda: (c := [c for c in cl.dapr.callbacks if c.name == name]) and c[-1].status == 200 and c,
        timeout=10,
        what="daprd's retry",
    )
    assert json.loads(callbacks[-1].response_body) == {"status": "fired"}
    assert [c.status for c in callbacks[:-1]] == [500] * (len(callbacks) - 1)
    assert len(cl.fire_events(rid)) == 1


def _rename(gw: Gateway, old: str, new: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(gw.pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new)))


def test_reconciler_fires_long_overdue_reminders_late_and_leaves_recent_ones_to_their_job(
    start_cluster: Callable[..., Cluster],
) -> None:
    cl = start_cluster(reminder_reconcile_seconds=0.2)
    alice = cl.gw.user()
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    old = alice.create(title="while we were down", reminders=[{"at": ahead}])
    recent = alice.create(title="job still due", reminders=[{"at": ahead}])
    old_rid, recent_rid = old["reminders"][0]["id"], recent["reminders"][0]["id"]
    # no job was ever scheduled for these (no sync): their times pass
    cl.gw.query(
        "UPDATE reminders SET fire_at = now() - interval '2 hours' WHERE id = %(r)s RETURNING 1", {"r": old_rid}
    )
    cl.gw.query(
        "UPDATE reminders SET fire_at = now() - interval '5 seconds' WHERE id = %(r)s RETURNING 1", {"r": recent_rid}
    )

    row = wait_until(
        lambda: cl.gw.query(
            "SELECT late FROM reminders WHERE id = %(r)s AND status = 'fired'",
            {"r": old_rid},
        ),
        timeout=10,
        what="the reconciler",
    )
    assert row == [(True,)]
    (event,) = cl.fire_events(old_rid)
    assert event["data"]["late"] is True
    sent = cl.published_event(event["id"])
    assert (sent.topic, sent.partition_key) == ("reminder-fire", old["id"])
    time.sleep(0.6)  # several more passes
    assert cl.gw.query("SELECT status FROM reminders WHERE id = %(r)s", {"r": recent_rid}) == [("pending",)]
    assert cl.fire_events(recent_rid) == []
    assert len(cl.fire_events(old_rid)) == 1
    assert cl.dapr.callbacks == []


def test_dapr_routes_want_the_app_token_and_stay_out_of_the_public_api(start_cluster: Callable[..., Cluster]) -> None:
    token = "app-token-" + "z" * 24
    cl = start_cluster(dapr_app_token=token)
    alice = cl.gw.user()
    task = alice.create(title="guarded", reminders=[{"at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}])
    rid = task["reminders"][0]["id"]
    name = f"reminder-{rid}"
    data = {
        "reminder_id": rid,
        "task_id": task["id"],
        "user_id": alice.user_id,
        "fire_at": task["reminders"][0]["fire_at"],
    }
    sync_body = {"user_id": alice.user_id, "task_id": task["id"]}
    job_url, sync_url = f"{cl.gw.url}/job/{name}", f"{cl.gw.url}/{SYNC_PATH}"

    for headers in ({}, {"dapr-api-token": "wrong"}, {"dapr-api-token": token + "x"}):
        r = httpx.post(job_url, json=data, headers=headers)
        assert r.status_code == 401, r.text
        assert r.json()["error"]["code"] == "unauthorized"
        assert httpx.post(sync_url, json=sync_body, headers=headers).status_code == 401
    assert cl.dapr.jobs == {}

    ok = {"dapr-api-token": token}
    r = httpx.post(sync_url, json=sync_body, headers=ok)
    assert (r.status_code, r.json()) == (200, {"scheduled": 1, "deleted": 0})
    assert name in cl.dapr.jobs
    r = httpx.post(job_url, json=data, headers=ok)  # not due yet
    assert (r.status_code, r.json()) == (200, {"status": "noop"})
    r = httpx.post(f"{cl.gw.url}/job/{name}", json={**data, "reminder_id": str(uuid.uuid4())}, headers=ok)
    assert r.status_code == 400
    r = httpx.post(f"{cl.gw.url}/job/nightly-backup", json=data, headers=ok)
    assert r.status_code == 400
    r = httpx.post(f"{cl.gw.url}/job/reminder-{uuid.uuid4()}", json={**data, "reminder_id": "x"}, headers=ok)
    assert r.status_code == 400
    r = httpx.post(sync_url, json={"user_id": "nope"}, headers=ok)
    assert r.status_code == 422

    # this fake sidecar does not add the app token (daprd does, from APP_API_TOKEN): the function's
    # call is refused, and the function sees a failure it retries and finally dead-letters
    with pytest.raises(DaprError) as err:
        cl.run_task_events(task["id"])
    assert err.value.status == 401
    assert cl.fire_events(rid) == []

    paths = httpx.get(f"{cl.gw.url}/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/job", "/internal"))]
    assert "/api/v1/tasks" in paths


def test_outside_cluster_mode_the_dapr_routes_do_not_exist(fresh_pg_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(fresh_pg_url, tmp_path / "data"))

    async def post(path: str) -> int:  # no lifespan needed: routing alone answers
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw") as client:
            return (await client.post(path, json={})).status_code

    assert asyncio.run(post(f"/job/reminder-{uuid.uuid4()}")) == 404
    assert asyncio.run(post(f"/{SYNC_PATH}")) == 404

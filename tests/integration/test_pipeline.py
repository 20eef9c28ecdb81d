"""The event pipeline end to end, in embedded mode (outbox as the log) and on a real Kafka broker:
relay, the four event functions through the local functions host, reminders, audit, DLQ."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg

from tests.fix_pipeline import Gateway, insert_outbox_event, unparseable_audit_event, wait_until
from todo_core.store import audit as audit_store


def _occurrences(gw: Gateway, series_id: str) -> list[tuple[Any, ...]]:
    return gw.query(
        "SELECT occurrence, due_at, status, title, priority, tags, description FROM tasks"
        " WHERE series_id = %(s)s ORDER BY occurrence",
        {"s": series_id},
    )


def _redeliver(gw: Gateway, topic: str, event_id: str, times: int) -> None:
    """Deliver the stored event again: produce it to Kafka once more, or rewind the embedded log."""
    (payload, key) = gw.query("SELECT payload::text, key FROM outbox WHERE event_id = %(e)s", {"e": event_id})[0]
    if gw.settings.kafka_bootstrap_servers:
        from confluent_kafka import Producer

        p = Producer({"bootstrap.servers": gw.settings.kafka_bootstrap_servers})
        for _ in range(times):
            p.produce(gw.settings.kafka_topic_prefix + topic, key=key.encode(), value=payload.encode())
        assert p.flush(10) == 0
    else:
        # the same CloudEvent (same id) appears in the log again, as a redelivery would hand it over
        for _ in range(times):
            gw.query(
                "INSERT INTO outbox (event_id, topic, key, type, payload)"
                " SELECT gen_random_uuid(), topic, key, type, payload FROM outbox WHERE event_id = %(e)s RETURNING 1",
                {"e": event_id},
            )


def test_weekly_task_completed_yields_next_occurrence_once_even_when_redelivered(gateway: Gateway) -> None:
    alice = gateway.user("Europe/Berlin")
    task = alice.create(
        title="Water the plants",
        description="balcony too",
        priority="high",
        tags=["home"],
        due_at="2026-03-23T09:00:00+01:00",
        timezone="Europe/Berlin",
        recurrence={"rrule": "FREQ=WEEKLY;BYDAY=MO", "anchor": "schedule"},
        reminders=[{"offset_minutes": 15}],
    )
    r = alice.http.post(f"/api/v1/tasks/{task['id']}/complete")
    assert r.status_code == 200, r.text
    rows = wait_until(
        lambda: len(_occurrences(gateway, task["series_id"])) == 2 and _occurrences(gateway, task["series_id"]),
        what="next occurrence",
    )
    occ, due, status, title, priority, tags, description = rows[1]
    assert (occ, status, title, priority, tags, description) == (
        2,
        "open",
        "Water the plants",
        0,
        ["home"],
        "balcony too",
    )
    # 09:00 Berlin on the next Monday, across the DST change of 29 March
    assert due == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    nxt = alice.http.get("/api/v1/tasks", params={"q": "water"}).json()["items"]
    assert [t["occurrence"] for t in nxt] == [2]
    assert nxt[0]["priority"] == "high"
    assert [rm["offset_minutes"] for rm in nxt[0]["reminders"]] == [15]

    (event_id,) = gateway.query("SELECT event_id::text FROM outbox WHERE topic = 'recurrence-due'")[0]
    _redeliver(gateway, "recurrence-due", event_id, 3)
    # the redeliveries are consumed (the ledger/unique key makes them no-ops)
    wait_until(
        lambda: (
            gateway.pipeline.host.stats["recurrence_due"].events >= 4 or not gateway.settings.kafka_bootstrap_servers
        ),
        what="redeliveries consumed",
    )
    assert len(_occurrences(gateway, task["series_id"])) == 2
    created = gateway.query(
        "SELECT count(*) FROM outbox WHERE type = 'todo.task.created.v1'"
        " AND payload->'data'->'task'->>'series_id' = %(s)s",
        {"s": task["series_id"]},
    )[0][0]
    assert created == 2  # the first task and one next occurrence: no doubled event either


def test_every_command_gets_exactly_one_audit_entry_and_the_chain_verifies(gateway: Gateway) -> None:
    alice = gateway.user()
    t = alice.create(title="audit me")
    alice.http.patch(f"/api/v1/tasks/{t['id']}", json={"priority": "low"}).raise_for_status()
    alice.http.post(f"/api/v1/tasks/{t['id']}/complete").raise_for_status()
    alice.http.post(f"/api/v1/tasks/{t['id']}/reopen").raise_for_status()
    alice.http.delete(f"/api/v1/tasks/{t['id']}").raise_for_status()
    rows = wait_until(
        lambda: (
            (r := gateway.query("SELECT action FROM audit_log WHERE user_id = %(u)s ORDER BY id", {"u": alice.user_id}))
            and len(r) >= 5
            and r
        ),
        what="five audit entries",
    )
    assert [a for (a,) in rows] == ["task.created", "task.updated", "task.completed", "task.reopened", "task.deleted"]
    trail = alice.http.get("/api/v1/audit", params={"task_id": t["id"]}).json()
    assert len(trail["items"] if isinstance(trail, dict) else trail) == 5

    import asyncio

    async def verify() -> tuple[bool, bool]:
        async with await psycopg.AsyncConnection.connect(gateway.pg_url, autocommit=True) as conn:
            ok = (await audit_store.verify_chain(conn, uuid.UUID(alice.user_id))).ok
            await conn.execute(
                "UPDATE audit_log SET actor = 'mallory'"
                " WHERE id = (SELECT min(id) + 1 FROM audit_log WHERE user_id = %(u)s)",
                {"u": alice.user_id},
            )
            tampered = (await audit_store.verify_chain(conn, uuid.UUID(alice.user_id))).ok
            return ok, tampered

    ok, tampered_ok = asyncio.run(verify())
    assert ok is True
    assert tampered_ok is False


def test_poison_message_goes_to_the_dead_letter_topic_and_the_consumer_carries_on(gateway: Gateway) -> None:
    alice = gateway.user()
    bad_id = str(uuid.uuid4())
    poison = {"specversion": "1.0", "id": bad_id, "type": "todo.audit.append.v1", "userid": "not-a-uuid", "data": {}}
    if gateway.settings.kafka_bootstrap_servers:
        from confluent_kafka import Producer

        p = Producer({"bootstrap.servers": gateway.settings.kafka_bootstrap_servers})
        p.produce(gateway.settings.kafka_topic_prefix + "audit-append", key=b"x", value=b"{not json")
        p.produce(gateway.settings.kafka_topic_prefix + "audit-append", key=b"x", value=json.dumps(poison).encode())
        assert p.flush(10) == 0
    else:
        insert_outbox_event(gateway, poison, "x", type_="x")
    # a good event after the poison is still processed
    t = alice.create(title="after the poison")
    wait_until(
        lambda: gateway.query("SELECT 1 FROM audit_log WHERE task_id = %(t)s", {"t": t["id"]}),
        what="audit after poison",
    )
    letters = wait_until(
        lambda: gateway.query("SELECT payload FROM outbox WHERE topic = 'audit-append.dlq' ORDER BY id"),
        what="dead letters",
    )
    errors = [p["data"]["error"] for (p,) in letters]
    assert any("userid" in e for e in errors), errors
    assert all(p["data"]["function"] == "audit_append" for (p,) in letters)
    if gateway.settings.kafka_bootstrap_servers:
        assert any("not JSON" in e for e in errors), errors
        # and the relay put them on the real DLQ topic
        wait_until(
            lambda: (
                gateway.query("SELECT 1 FROM outbox WHERE topic = 'audit-append.dlq' AND published_at IS NULL") == []
                and gateway.pipeline.relay.stats.published > 0
            ),
            what="dead letters published",
        )


def _subscribe_push(user: Any, push_service: Any) -> Any:
    sub = push_service.new_subscription()
    r = user.http.post(
        "/api/v1/push/subscriptions", json={"endpoint": sub.endpoint, "keys": {"p256dh": sub.p256dh, "auth": sub.auth}}
    )
    assert r.status_code == 201, r.text
    return sub


def test_reminder_three_seconds_ahead_gives_inbox_realtime_and_web_push(
    gateway: Gateway, push_service: Any, record_property: Any
) -> None:
    from tests.fix_pipeline import SseCollector

    alice = gateway.user("Europe/Berlin")
    sub = _subscribe_push(alice, push_service)
    stream = SseCollector(gateway.url, alice)
    fire_at = datetime.now(UTC) + timedelta(seconds=3)
    task = alice.create(title="Call mum", reminders=[{"at": fire_at.isoformat()}])
    try:
        note = wait_until(
            lambda: gateway.query(
                "SELECT title, task_id::text, late, created_at FROM notifications WHERE user_id = %(u)s",
                {"u": alice.user_id},
            ),
            timeout=30,
            what="the inbox notification",
        )
        title, task_id, late, created_at = note[0]
        assert (title, task_id, late) == ("Call mum", task["id"], False)
        assert created_at >= fire_at  # never early
        pushed = wait_until(lambda: push_service.received, timeout=30, what="the web push")
        assert len(pushed) == 1
        msg = pushed[0]
        assert msg.endpoint == sub.endpoint
        assert msg.payload["title"] == "Call mum"
        assert msg.payload["task_id"] == task["id"]
        assert msg.payload["tag"].startswith("reminder-")
        assert msg.claims["sub"].startswith("mailto:")
        realtime = wait_until(lambda: stream.of_type("notification.created"), timeout=30, what="realtime event")
        data, arrived = realtime[0]
        assert data["task_id"] == task["id"]
        assert data["title"] == "Call mum"
        lateness_push = (msg.received_at - fire_at).total_seconds()
        lateness_rt = arrived - fire_at.timestamp()
        record_property("reminder_lateness_push_s", round(lateness_push, 3))
        record_property("reminder_lateness_realtime_s", round(lateness_rt, 3))
        assert lateness_push >= 0 and lateness_rt >= 0
        status = gateway.query("SELECT status FROM reminders WHERE task_id = %(t)s", {"t": task["id"]})
        assert status == [("delivered",)]
        listed = alice.http.get("/api/v1/notifications").json()
        assert [n["title"] for n in listed["items"]] == ["Call mum"]
    finally:
        stream.close()
    # redelivering the fire event changes nothing: one inbox row, one push
    (event_id,) = gateway.query("SELECT event_id::text FROM outbox WHERE topic = 'reminder-fire'")[0]
    _redeliver(gateway, "reminder-fire", event_id, 2)
    wait_until(lambda: gateway.pipeline.host.stats["reminder_fire"].events >= 3, what="redeliveries consumed")
    assert gateway.query("SELECT count(*) FROM notifications WHERE user_id = %(u)s", {"u": alice.user_id}) == [(1,)]
    assert len(push_service.received) == 1


def test_task_completed_before_its_reminder_sends_nothing(gateway: Gateway, push_service: Any) -> None:
    import time

    alice = gateway.user()
    _subscribe_push(alice, push_service)
    fire_at = datetime.now(UTC) + timedelta(seconds=2)
    task = alice.create(title="Never mind", reminders=[{"at": fire_at.isoformat()}])
    alice.http.post(f"/api/v1/tasks/{task['id']}/complete").raise_for_status()
    # a control task whose reminder does fire proves the pipeline was running meanwhile
    control = alice.create(title="control", reminders=[{"at": (fire_at + timedelta(seconds=1)).isoformat()}])
    wait_until(
        lambda: gateway.query("SELECT 1 FROM notifications WHERE task_id = %(t)s", {"t": control["id"]}),
        timeout=30,
        what="the control reminder",
    )
    time.sleep(0.5)
    assert gateway.query("SELECT count(*) FROM notifications WHERE task_id = %(t)s", {"t": task["id"]}) == [(0,)]
    assert gateway.query("SELECT status FROM reminders WHERE task_id = %(t)s", {"t": task["id"]}) == [("cancelled",)]
    assert [m.payload["title"] for m in push_service.received] == ["control"]


def test_metrics_expose_consumers_relay_backlog_and_rate(gateway: Gateway) -> None:
    import re

    alice = gateway.user()
    t = alice.create(title="count me")
    wait_until(lambda: gateway.query("SELECT 1 FROM audit_log WHERE task_id = %(t)s", {"t": t["id"]}), what="audit")
    text = wait_until(
        lambda: (
            (m := httpx.get(f"{gateway.url}/metrics").text)
            and re.search(r'todo_function_events_total\{function="audit_append",outcome="appended"\} [1-9]', m)
            and m
        ),
        what="consumer metrics",
    )
    if gateway.settings.kafka_bootstrap_servers:
        published = wait_until(
            lambda: (
                float(
                    re.search(r"^todo_outbox_published_total (\S+)$", httpx.get(f"{gateway.url}/metrics").text, re.M)[1]
                )
                >= 2
            ),
            what="relay metrics",
        )
        assert published
        for name in ("todo_outbox_backlog", "todo_outbox_oldest_unpublished_age_seconds", "todo_outbox_publish_rate"):
            assert re.search(rf"^{name} \S+$", text, re.M), name


def _ops(gw: Gateway, *args: str) -> Any:
    import os
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "todo_core.ops", *args],
        env={**os.environ, "DATABASE_URL": gw.pg_url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_outbox_row_without_an_event_id_is_dead_lettered_and_nothing_behind_it_stalls(gateway: Gateway) -> None:
    """The relay publishes a malformed row like any other (it never stops at one), and the consumer
    dead-letters it; the events committed after it are delivered."""
    alice = gateway.user()
    insert_outbox_event(gateway, {"hello": "no id, no specversion"}, "x", type_="x")
    t = alice.create(title="behind the malformed row")
    wait_until(
        lambda: gateway.query("SELECT 1 FROM audit_log WHERE task_id = %(t)s", {"t": t["id"]}),
        what="the audit entry behind the malformed row",
    )
    letters = wait_until(
        lambda: gateway.query("SELECT payload FROM outbox WHERE topic = 'audit-append.dlq'"),
        what="the dead letter",
    )
    assert [p["data"]["event"] for (p,) in letters] == [{"hello": "no id, no specversion"}]
    if gateway.settings.kafka_bootstrap_servers:
        assert gateway.pipeline.relay.stats.active


def test_ops_commands_verify_the_audit_chain_and_replay_dead_letters(start_gateway: Any) -> None:
    gw = start_gateway("embedded")
    alice = gw.user()
    t = alice.create(title="chain")
    alice.http.post(f"/api/v1/tasks/{t['id']}/complete").raise_for_status()
    wait_until(lambda: _audit_rows(gw, alice.user_id) >= 2, what="audit entries")
    ok = _ops(gw, "verify-audit")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "0 broken" in ok.stdout

    # a dead letter holding an audit event that was never applied: replay applies it, once
    lost = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/test",
        "type": "todo.audit.append.v1",
        "subject": f"task/{t['id']}",
        "time": datetime.now(UTC).isoformat(),
        "userid": alice.user_id,
        "data": {"action": "task.updated", "task_id": t["id"], "actor": "test", "channel": "api"},
    }
    letter = {"specversion": "1.0", "id": str(uuid.uuid4()), "data": {"event": lost, "key": alice.user_id}}
    gw.query(
        "INSERT INTO outbox (event_id, topic, key, type, payload)"
        " VALUES (%(e)s, 'audit-append.dlq', 'k', 'todo.deadletter.v1', %(p)s) RETURNING 1",
        {"e": letter["id"], "p": json.dumps(letter)},
    )
    first = _ops(gw, "replay-dlq", "audit-append.dlq")
    assert first.returncode == 0, first.stderr
    assert "1 events replayed" in first.stdout
    wait_until(lambda: _audit_rows(gw, alice.user_id) == 3, what="the replayed audit entry")
    again = _ops(gw, "replay-dlq", "audit-append.dlq")
    assert "0 events replayed" in again.stdout

    gw.query(
        "UPDATE audit_log SET channel = 'mcp' WHERE id = (SELECT max(id) FROM audit_log WHERE user_id = %(u)s)"
        " RETURNING 1",
        {"u": alice.user_id},
    )
    broken = _ops(gw, "verify-audit", "--user", alice.user_id)
    assert broken.returncode == 1
    assert "BROKEN" in broken.stdout


def _audit_rows(gw: Gateway, user_id: str) -> int:
    return int(gw.query("SELECT count(*) FROM audit_log WHERE user_id = %(u)s", {"u": user_id})[0][0])


def test_kafka_topics_and_dead_letter_topics_exist_with_the_configured_partitions(start_gateway: Any) -> None:
    """KAFKA_PARTITIONS for the topics, KAFKA_DLQ_PARTITIONS for their .dlq, KAFKA_TOPIC_PARTITIONS per topic
    (the 1M-user plan's shape); a topic that already exists is left as it is."""
    from confluent_kafka.admin import AdminClient

    per_topic = {"reminder-fire": 5, "audit-append": 4, "task-events.dlq": 1}
    gw = start_gateway("kafka", kafka_topic_partitions=per_topic, kafka_dlq_partitions=2)
    prefix = gw.settings.kafka_topic_prefix
    admin = AdminClient({"bootstrap.servers": gw.settings.kafka_bootstrap_servers})
    md = admin.list_topics(timeout=10).topics
    expected = {
        "task-events": 3,
        "recurrence-due": 3,
        "reminder-fire": 5,
        "audit-append": 4,
        "task-events.dlq": 1,
        "recurrence-due.dlq": 2,
        "reminder-fire.dlq": 2,
        "audit-append.dlq": 2,
    }
    assert {t: len(md[prefix + t].partitions) for t in expected if prefix + t in md} == expected

    # a second instance asking for more partitions does not repartition the existing topic
    start_gateway("kafka", kafka_topic_prefix=prefix, kafka_topic_partitions={"reminder-fire": 8})
    assert len(admin.list_topics(timeout=10).topics[prefix + "reminder-fire"].partitions) == 5


def test_one_relay_is_active_per_database_and_another_takes_over(start_gateway: Any) -> None:
    first = start_gateway("kafka")
    second = start_gateway("kafka", kafka_topic_prefix=first.settings.kafka_topic_prefix)
    relays = [first.pipeline.relay, second.pipeline.relay]
    wait_until(lambda: sum(r.stats.active for r in relays) == 1, what="one active relay")
    active = next(g for g in (first, second) if g.pipeline.relay.stats.active)
    standby = second if active is first else first
    alice = standby.user()
    t = alice.create(title="order matters")
    for i in range(20):
        r = alice.http.patch(f"/api/v1/tasks/{t['id']}", json={"title": f"order matters {i}"})
        assert r.status_code == 200, r.text
    wait_until(lambda: active.pipeline.relay.stats.published >= 42, what="published by the active relay")
    assert standby.pipeline.relay.stats.published == 0

    # per key, Kafka holds the task's events in commit order
    from confluent_kafka import Consumer

    c = Consumer(
        {
            "bootstrap.servers": active.settings.kafka_bootstrap_servers,
            "group.id": f"check-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
        }
    )
    c.subscribe([active.settings.kafka_topic_prefix + "task-events"])
    versions: list[int] = []
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while len(versions) < 21 and datetime.now(UTC) < deadline:
        m = c.poll(0.5)
        if m is not None and m.error() is None and m.key() == t["id"].encode():
            versions.append(json.loads(m.value())["data"]["task"]["version"])
    c.close()
    assert versions == list(range(1, 22))

    # the active gateway stops: the standby's relay takes over and publishes what comes next
    active.stop()
    wait_until(lambda: standby.pipeline.relay.stats.active, timeout=30, what="the standby relay to take over")
    alice.create(title="after the takeover")
    wait_until(lambda: standby.pipeline.relay.stats.published >= 2, what="published by the new active relay")


def test_reminder_missed_while_the_system_was_down_fires_late_on_start(start_gateway: Any) -> None:
    gw = start_gateway("embedded", scheduler_enabled=False)  # the timer is "down"
    alice = gw.user()
    t = alice.create(title="missed", reminders=[{"at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()}])
    # an hour passes while nothing runs
    gw.query(
        "UPDATE reminders SET fire_at = now() - interval '1 hour' WHERE task_id = %(t)s RETURNING 1", {"t": t["id"]}
    )
    gw.stop()
    back = start_gateway("embedded")
    rows = wait_until(
        lambda: back.query("SELECT late, title FROM notifications WHERE task_id = %(t)s", {"t": t["id"]}),
        timeout=30,
        what="the late notification",
    )
    assert rows == [(True, "missed")]
    assert back.query("SELECT status, late FROM reminders WHERE task_id = %(t)s", {"t": t["id"]}) == [
        ("delivered", True)
    ]


def test_event_failing_every_attempt_is_dead_lettered_after_the_retries(start_gateway: Any, pipeline_mode: str) -> None:
    gw = start_gateway(pipeline_mode, functions_retry_backoff_scale=0.01)
    alice = gw.user()
    # well-formed, but its time cannot be parsed: the handler fails on every attempt
    bad = unparseable_audit_event(alice.user_id)
    insert_outbox_event(gw, bad, alice.user_id)
    t = alice.create(title="after the failing event")
    letters = wait_until(
        lambda: gw.query("SELECT payload FROM outbox WHERE topic = 'audit-append.dlq'"), timeout=60, what="the letter"
    )
    (letter,) = letters[0]
    stats = gw.pipeline.host.stats["audit_append"]
    assert letter["data"]["attempts"] == 6  # the first attempt and the five declared retries
    assert letter["data"]["event"]["id"] == bad["id"]
    assert "yesterday-ish" in letter["data"]["error"]
    assert stats.failures == 5
    # the consumer carried on: the next event of the same user is in the audit log
    wait_until(lambda: gw.query("SELECT 1 FROM audit_log WHERE task_id = %(t)s", {"t": t["id"]}), what="carry on")


def test_push_subscription_answering_gone_is_removed_and_others_still_get_the_push(
    start_gateway: Any, push_service: Any
) -> None:
    gw = start_gateway("embedded")
    alice = gw.user()
    keep = _subscribe_push(alice, push_service)
    gone = _subscribe_push(alice, push_service)
    push_service.set_status(gone.endpoint, 410)
    alice.create(title="ping", reminders=[{"at": (datetime.now(UTC) + timedelta(seconds=1)).isoformat()}])
    wait_until(lambda: push_service.received, timeout=30, what="the push")
    wait_until(
        lambda: (
            gw.query("SELECT endpoint FROM push_subscriptions WHERE user_id = %(u)s", {"u": alice.user_id})
            == [(keep.endpoint,)]
        ),
        what="the gone subscription removed",
    )
    assert [m.endpoint for m in push_service.received] == [keep.endpoint]
    assert gw.query(
        "SELECT push_sent_at IS NOT NULL FROM notifications WHERE user_id = %(u)s", {"u": alice.user_id}
    ) == [(True,)]


def test_moving_a_task_moves_its_reminder_timer(start_gateway: Any) -> None:
    gw = start_gateway("embedded")
    alice = gw.user()
    far = datetime.now(UTC) + timedelta(days=2)
    t = alice.create(title="moved", due_at=far.isoformat(), reminders=[{"offset_minutes": 10}])
    # the due moves to 10 minutes and 2 seconds from now: the reminder is due in 2 s
    soon = datetime.now(UTC) + timedelta(minutes=10, seconds=2)
    r = alice.http.patch(f"/api/v1/tasks/{t['id']}", json={"due_at": soon.isoformat()})
    assert r.status_code == 200, r.text
    (fire_at,) = [rm["fire_at"] for rm in r.json()["reminders"]]
    assert abs(datetime.fromisoformat(fire_at) - (soon - timedelta(minutes=10))) < timedelta(seconds=1)
    rows = wait_until(
        lambda: gw.query("SELECT created_at FROM notifications WHERE task_id = %(t)s", {"t": t["id"]}),
        timeout=30,
        what="the moved reminder",
    )
    assert rows[0][0] >= datetime.fromisoformat(fire_at)


def test_outbox_rows_that_did_their_work_are_pruned_and_dead_letters_kept(gateway: Gateway) -> None:
    from todo_core.store import outbox

    alice = gateway.user()
    t = alice.create(title="prune me")
    wait_until(lambda: gateway.query("SELECT 1 FROM audit_log WHERE task_id = %(t)s", {"t": t["id"]}), what="audit")
    if gateway.settings.kafka_bootstrap_servers:
        wait_until(
            lambda: gateway.query("SELECT count(*) FROM outbox WHERE published_at IS NULL") == [(0,)],
            what="published",
        )
    else:
        wait_until(
            lambda: gateway.query(
                "SELECT 1 FROM consumer_offsets c JOIN outbox o"
                " ON o.topic = c.topic AND o.type = 'todo.task.created.v1'"
                " WHERE (c.position_tx, c.position) >= (o.tx_id, o.id)"
            ),
            what="consumed",
        )
    letter = str(uuid.uuid4())
    gateway.query(
        "INSERT INTO outbox (event_id, topic, key, type, payload) VALUES (%(e)s, 'audit-append.dlq', 'k', 'x', '{}')"
        " RETURNING 1",
        {"e": letter},
    )
    fresh = alice.create(title="too young to prune")
    gateway.query(
        "UPDATE outbox SET created_at = now() - interval '100 hours' WHERE payload->'data'->'task'->>'id' = %(t)s"
        " OR payload->'data'->>'task_id' = %(t)s OR event_id = %(e)s RETURNING 1",
        {"t": t["id"], "e": letter},
    )

    async def run() -> int:
        async with await psycopg.AsyncConnection.connect(gateway.pg_url, autocommit=True) as conn:
            embedded = not gateway.settings.kafka_bootstrap_servers
            return await outbox.prune(conn, older_than_hours=72, embedded=embedded)

    import asyncio

    assert asyncio.run(run()) == 2  # the task event and the audit event of the old create
    left = gateway.query("SELECT topic FROM outbox WHERE created_at < now() - interval '72 hours'")
    assert left == [("audit-append.dlq",)]
    assert gateway.query(
        "SELECT count(*) FROM outbox WHERE payload->'data'->'task'->>'id' = %(t)s", {"t": fresh["id"]}
    ) == [(1,)]


def test_the_request_traceparent_is_carried_into_every_event_of_the_command(start_gateway: Any) -> None:
    gw = start_gateway("embedded")
    alice = gw.user()
    trace_id = uuid.uuid4().hex
    parent = f"00-{trace_id}-{'1' * 16}-01"
    r = alice.http.post(
        "/api/v1/tasks",
        json={"title": "traced", "due_at": "2026-12-01T09:00:00+01:00", "recurrence": {"rrule": "FREQ=DAILY"}},
        headers={"traceparent": parent},
    )
    assert r.status_code == 201, r.text
    alice.http.post(f"/api/v1/tasks/{r.json()['id']}/complete", headers={"traceparent": parent}).raise_for_status()
    # the next occurrence, made by the recurrence_due function, continues the same trace
    wait_until(
        lambda: gw.query("SELECT 1 FROM tasks WHERE series_id = %(s)s AND occurrence = 2", {"s": r.json()["id"]}),
        what="next occurrence",
    )
    rows = gw.query(
        "SELECT type, payload->>'traceparent' FROM outbox WHERE payload->>'userid' = %(u)s", {"u": alice.user_id}
    )
    types = {t for t, _ in rows}
    assert {"todo.task.created.v1", "todo.task.completed.v1", "todo.recurrence.due.v1", "todo.audit.append.v1"} <= types
    assert all(tp.split("-")[1] == trace_id for _, tp in rows), rows
    assert all(tp != parent for _, tp in rows)  # each event is a span of its own in that trace
    # a malformed header starts a fresh trace instead
    bad = alice.http.post("/api/v1/tasks", json={"title": "untraced"}, headers={"traceparent": "garbage"})
    (tp,) = gw.query(
        "SELECT payload->>'traceparent' FROM outbox WHERE type = 'todo.task.created.v1'"
        " AND payload->'data'->'task'->>'id' = %(t)s",
        {"t": bad.json()["id"]},
    )[0]
    assert tp.split("-")[1] != trace_id


def test_a_gateway_stopping_leaves_another_gateways_functions_in_the_same_process_working(
    start_gateway: Any,
) -> None:
    """Each in-process functions host hands its own consumer context to its invocations: one gateway
    shutting down (as a test's teardown, or a second app in one process) must not take the other's."""
    first = start_gateway("embedded")
    second = start_gateway("embedded")
    first.stop()
    alice = second.user()
    task = alice.create(title="after the other gateway stopped")
    audit = "SELECT count(*) FROM audit_log WHERE user_id = %(u)s"
    wait_until(lambda: second.query(audit, {"u": alice.user_id}) == [(1,)], timeout=30, what="the audit entry")
    assert second.query("SELECT count(*) FROM outbox WHERE topic = 'audit-append.dlq'") == [(0,)], task["id"]

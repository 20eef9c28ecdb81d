"""Event pipeline benchmark: relay throughput, audit_append throughput, end-to-end latencies.

    .venv/bin/python bench/events_bench.py                      # 50,000 relay events, 20,000 audit events
    .venv/bin/python bench/events_bench.py --relay-events 200000 --rate 100 --seconds 20

Starts an embedded PostgreSQL and a local Kafka broker (or uses DATABASE_URL /
KAFKA_BOOTSTRAP_SERVERS), then measures on this machine:

1. relay throughput: outbox rows -> Kafka (idempotent producer, acks=all), events/s;
2. audit_append throughput: hash-chained appends through the local functions host, from the
   embedded log and from Kafka, events/s;
3. end-to-end latency at ``--rate`` commands per second, with the system started as the run
   command starts it (kafka mode): complete a recurring task -> its next occurrence committed,
   and reminder due -> notification stored; p50/p99 from the realtime channel's timestamps.

Targets (2 cores): relay >= 10,000 events/s; end-to-end p99 <= 1 s at 100 events/s.
Everything shares two cores, so compare figures within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from todo_core.domain import events as ev  # noqa: E402
from todo_core.store.db import migrate  # noqa: E402


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))] if s else float("nan")


def start_database(tmp: Path) -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from todo_core.store.embedded import start_embedded

    return start_embedded(tmp / "pg")


def start_kafka(tmp: Path) -> tuple[str, Any]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return os.environ["KAFKA_BOOTSTRAP_SERVERS"], None
    spec = importlib.util.spec_from_file_location("kafka_broker", ROOT / "scripts" / "kafka_broker.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["kafka_broker"] = mod
    spec.loader.exec_module(mod)
    broker = mod.KafkaBroker(tmp / "kafka", jvm_opts=mod.FAST_STARTUP_JVM_OPTS.split())
    broker.start()
    return broker.bootstrap_servers, broker


def task_json(i: int, user: uuid.UUID) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "id": str(uuid.uuid4()),
        "title": f"benchmark task {i} with a realistic title",
        "description": "lorem ipsum " * 8,
        "status": "open",
        "priority": "medium",
        "tags": ["bench", "work"],
        "due_at": now,
        "all_day": False,
        "timezone": "Europe/Berlin",
        "recurrence": None,
        "series_id": None,
        "occurrence": 1,
        "next_due_at": None,
        "reminders": [],
        "created_at": now,
        "updated_at": now,
        "completed_at": None,
        "version": 1,
        "user_id": str(user),
    }


def seed_outbox(url: str, n: int, topic: str, users: int = 50) -> None:
    """n task events (or audit events) written straight into the outbox, as commands would."""
    user_ids = [uuid.uuid4() for _ in range(users)]
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        if topic == ev.AUDIT_APPEND:
            for u in user_ids:
                cur.execute(
                    "INSERT INTO users (id, email, password_hash) VALUES (%s, %s, 'x') ON CONFLICT DO NOTHING",
                    (u, f"{u}@bench.local"),
                )
        with cur.copy("COPY outbox (event_id, topic, key, type, payload) FROM STDIN") as copy:
            for i in range(n):
                user = user_ids[i % users]
                task = task_json(i, user)
                if topic == ev.AUDIT_APPEND:
                    e = ev.make_event(
                        topic=topic,
                        type_=ev.AUDIT_APPEND_TYPE,
                        key=str(user),
                        subject=f"task/{task['id']}",
                        user_id=user,
                        data={
                            "action": "task.created",
                            "task_id": task["id"],
                            "actor": f"user:{user}",
                            "channel": "api",
                            "before": None,
                            "after": task,
                        },
                    )
                else:
                    e = ev.make_event(
                        topic=topic,
                        type_=ev.TASK_CREATED,
                        key=task["id"],
                        subject=f"task/{task['id']}",
                        user_id=user,
                        data={"action": "task.created", "task": task},
                    )
                copy.write_row((e.id, e.topic, e.key, e.type, json.dumps(e.envelope())))
        conn.commit()


async def relay_throughput(url: str, bootstrap: str, n: int) -> float:
    from todo_core.bus.kafka import KafkaPublisher, all_topics, ensure_topics
    from todo_core.bus.relay import OutboxRelay

    prefix = f"b{uuid.uuid4().hex[:6]}-"
    conf = {"bootstrap.servers": bootstrap}
    ensure_topics(conf, all_topics(prefix), partitions=6, replication_factor=1)
    seed_outbox(url, n, ev.TASK_EVENTS)
    publisher = KafkaPublisher(conf, topic_prefix=prefix)
    relay = OutboxRelay(url, publisher, batch_size=5000)
    stop = asyncio.Event()
    t0 = time.perf_counter()
    task = asyncio.create_task(relay.run(stop))
    while relay.stats.published < n:
        await asyncio.sleep(0.02)
        if task.done():
            task.result()
    elapsed = time.perf_counter() - t0
    stop.set()
    await task
    await publisher.close()
    return n / elapsed


async def audit_throughput(url: str, bootstrap: str | None, n: int) -> float:
    from agent_gateway.functions_host import FunctionsHost, host_kafka_settings, load_app_specs, make_source_factory
    from todo_core.consumers import ConsumerContext
    from todo_core.service import TaskService
    from todo_core.settings import Settings
    from todo_core.store.db import make_pool

    prefix = f"a{uuid.uuid4().hex[:6]}-"
    settings = Settings(
        database_url=url,
        kafka_bootstrap_servers=bootstrap or "",
        kafka_topic_prefix=prefix,
        jwt_secret="bench-" + "x" * 40,
    )
    with psycopg.connect(url, autocommit=True) as conn:
        base = conn.execute("SELECT count(*) FROM audit_log").fetchone()[0]  # type: ignore[index]
        conn.execute("DELETE FROM outbox WHERE topic = 'audit-append'")
    seed_outbox(url, n, ev.AUDIT_APPEND)
    pool = make_pool(url, min_size=2, max_size=4)
    await pool.open(wait=True)
    stop = asyncio.Event()
    relay_task = None
    if bootstrap:
        from todo_core.bus.kafka import KafkaPublisher, all_topics, ensure_topics
        from todo_core.bus.relay import OutboxRelay

        conf = {"bootstrap.servers": bootstrap}
        ensure_topics(conf, all_topics(prefix), partitions=6, replication_factor=1)
        publisher = KafkaPublisher(conf, topic_prefix=prefix)
        relay = OutboxRelay(url, publisher, batch_size=5000)
        relay_task = asyncio.create_task(relay.run(stop))
        while relay.stats.published < n:  # noqa: ASYNC110 - measure the consumer, not the relay
            await asyncio.sleep(0.05)
    host = FunctionsHost(
        load_app_specs(["audit_append"]),
        make_source_factory(settings, url),
        max_batch_size=int(host_kafka_settings().get("maxBatchSize", 64)),
        context=ConsumerContext(pool=pool, settings=settings, tasks=TaskService(pool)),
    )
    t0 = time.perf_counter()
    host_task = asyncio.create_task(host.run(stop))
    while True:
        async with pool.connection() as conn:
            cur = await conn.execute("SELECT count(*) FROM audit_log")
            done = (await cur.fetchone())[0] - base  # type: ignore[index]
        if done >= n:
            break
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - t0
    stop.set()
    await host_task
    if relay_task:
        await relay_task
        await publisher.close()
    await pool.close()
    return n / elapsed


def start_gateway(url: str, bootstrap: str, tmp: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC_PREFIX": f"e{uuid.uuid4().hex[:6]}-",
        "PORT": str(port),
        "DATA_DIR": str(tmp / "gw"),
        "JWT_SECRET": "bench-" + "x" * 40,
        "LOG_LEVEL": "WARNING",
    }
    from api_bench import launch_gateway  # bench/ is the script's directory, first on sys.path

    return launch_gateway(env, port, quiet=False)


async def end_to_end(url: str, base: str, rate: float, seconds: float) -> tuple[list[float], list[float]]:
    """Latencies (s) of complete -> next occurrence and reminder due -> notification stored."""
    n = int(rate * seconds)
    async with httpx.AsyncClient(base_url=base, timeout=30) as c:
        r = await c.post(
            "/api/v1/auth/register",
            json={"email": f"e2e-{uuid.uuid4().hex[:8]}@bench.local", "password": "bench-password", "timezone": "UTC"},
        )
        r.raise_for_status()
        c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        user_id = r.json()["user"]["id"]
        ids = []
        for i in range(n):
            t = await c.post(
                "/api/v1/tasks",
                json={
                    "title": f"recurring {i}",
                    "due_at": "2026-01-05T09:00:00Z",
                    "recurrence": {"rrule": "FREQ=DAILY", "anchor": "schedule"},
                },
            )
            ids.append(t.json()["id"])

        arrivals: dict[str, float] = {}
        notes: dict[str, float] = {}
        listening = asyncio.Event()

        async def listen() -> None:
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                await conn.execute("LISTEN todo_realtime")
                listening.set()
                async for msg in conn.notifies():
                    now = time.time()
                    m = json.loads(msg.payload)
                    if m.get("user_id") != user_id:
                        continue
                    d = m.get("data", {})
                    if m.get("type") == "task.created" and d.get("occurrence") == 2:
                        arrivals[d["series_id"]] = now
                    elif m.get("type") == "notification.created":
                        notes[d["task_id"]] = now

        listener = asyncio.create_task(listen())
        await listening.wait()

        # reminders due at `rate` per second, starting a few seconds ahead
        start = datetime.now(UTC) + timedelta(seconds=4)
        fire_at: dict[str, float] = {}
        for i in range(n):
            at = start + timedelta(seconds=i / rate)
            t = await c.post("/api/v1/tasks", json={"title": f"remind {i}", "reminders": [{"at": at.isoformat()}]})
            fire_at[t.json()["id"]] = at.timestamp()

        sent: dict[str, float] = {}
        t0 = time.perf_counter()
        for i, tid in enumerate(ids):  # completes at `rate` per second, alongside the reminders
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent[tid] = time.time()
            (await c.post(f"/api/v1/tasks/{tid}/complete")).raise_for_status()
        deadline = time.monotonic() + 30
        while (len(arrivals) < n or len(notes) < n) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        listener.cancel()
    recur = [arrivals[s] - sent[s] for s in sent if s in arrivals]
    remind = [notes[t] - fire_at[t] for t in fire_at if t in notes]
    if len(recur) < n or len(remind) < n:
        print(f"  WARNING: missing results: {n - len(recur)} occurrences, {n - len(remind)} notifications")
    return recur, remind


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--relay-events", type=int, default=50_000)
    ap.add_argument("--audit-events", type=int, default=20_000)
    ap.add_argument("--rate", type=float, default=100.0, help="commands per second for the latency run")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--port", type=int, default=8797)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="todo-events-bench-", ignore_cleanup_errors=True) as tmp_s:
        tmp = Path(tmp_s)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp))
        url = start_database(tmp)
        migrate(url)
        bootstrap, broker = start_kafka(tmp)
        try:
            rate = asyncio.run(relay_throughput(url, bootstrap, args.relay_events))
            print(f"relay throughput, {args.relay_events:,} events -> Kafka:      {rate:10,.0f} events/s")
            rate = asyncio.run(audit_throughput(url, None, args.audit_events))
            print(f"audit_append throughput, embedded log, {args.audit_events:,}: {rate:10,.0f} events/s")
            rate = asyncio.run(audit_throughput(url, bootstrap, args.audit_events))
            print(f"audit_append throughput, from Kafka, {args.audit_events:,}:   {rate:10,.0f} events/s")
            with psycopg.connect(url, autocommit=True) as conn:  # a clean log for the latency run
                conn.execute("UPDATE outbox SET published_at = now() WHERE published_at IS NULL")
            proc = start_gateway(url, bootstrap, tmp, args.port)
            try:
                recur, remind = asyncio.run(end_to_end(url, f"http://127.0.0.1:{args.port}", args.rate, args.seconds))
            finally:
                proc.terminate()
                proc.wait(20)
            print(f"end to end at {args.rate:.0f} commands/s for {args.seconds:.0f} s (kafka mode, one gateway):")
            for name, values in (("complete -> next occurrence", recur), ("reminder due -> notification", remind)):
                ms = [v * 1000 for v in values]
                print(f"  {name:<30} n={len(ms):>5}  p50={pct(ms, 50):7.1f} ms  p99={pct(ms, 99):7.1f} ms")
        finally:
            if broker is not None:
                broker.stop()


if __name__ == "__main__":
    main()

"""Task API benchmark: latency percentiles and create throughput over real HTTP, next to a raw psycopg baseline.

    .venv/bin/python bench/api_bench.py                 # N=10,000 tasks for the measured user among 10xN rows
    .venv/bin/python bench/api_bench.py --n 100000      # the size the targets are stated for

Seeds one measured user with N tasks among 10xN rows (nine other users), starts the system as the run
command does (uvicorn, one worker) against that database, and prints p50/p99 per operation. Everything
runs in one process tree on this machine, so compare figures within a run rather than across runs.
Targets (2 cores): list and search p99 ≤ 25 ms at N=100,000; create ≥ 1,000/s sustained.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from todo_core.store.db import migrate  # noqa: E402

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "fi", "go", "hu", "je", "zu"]
ACTIONS = ["buy", "call", "write", "review", "plan", "fix", "clean", "book", "pay", "send", "read", "prepare"]


def vocabulary(size: int = 3000) -> list[str]:
    rnd = random.Random(1)
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rnd.choice(SYLLABLES) for _ in range(rnd.randint(2, 4))))
    return sorted(words)


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def row(name: str, ms: list[float]) -> str:
    return f"  {name:<34} n={len(ms):>5}  p50={pct(ms, 50):7.2f} ms  p99={pct(ms, 99):7.2f} ms"


def start_database(tmp: Path) -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from todo_core.store.embedded import start_embedded

    return start_embedded(tmp / "data", database="bench")


def seed(url: str, n: int, words: list[str]) -> uuid.UUID:
    """N tasks for the measured user, 9xN for nine others; realistic titles, tags, dues, priorities."""
    rnd = random.Random(42)
    users = [uuid.uuid4() for _ in range(10)]
    now = datetime.now(UTC)
    with psycopg.connect(url, autocommit=True) as conn:
        have = conn.execute("SELECT count(*) FROM tasks").fetchone()
        if have and have[0] >= 10 * n:
            measured = conn.execute("SELECT user_id FROM tasks GROUP BY user_id ORDER BY count(*) LIMIT 1").fetchone()
            assert measured is not None
            return uuid.UUID(str(measured[0]))
        conn.execute("TRUNCATE users CASCADE")
        for u in users:
            conn.execute(
                "INSERT INTO users (id, email, password_hash, timezone) VALUES (%s, %s, 'x', 'Europe/Berlin')",
                (u, f"{u}@bench.local"),
            )
        t0 = time.perf_counter()
        with conn.cursor().copy(
            "COPY tasks (id, user_id, title, description, status, priority, tags, due_at, timezone) FROM STDIN"
        ) as copy:
            for u in users:
                for i in range(n):
                    title = f"{rnd.choice(ACTIONS)} " + " ".join(rnd.choice(words) for _ in range(rnd.randint(2, 5)))
                    due = "\\N" if rnd.random() < 0.3 else (now + timedelta(hours=rnd.randint(-2000, 4000))).isoformat()
                    tags = (
                        "{"
                        + ",".join(
                            rnd.sample(["work", "home", "errands", "health", "money", "study"], rnd.randint(0, 2))
                        )
                        + "}"
                    )
                    copy.write_row(
                        (
                            uuid.uuid4(),
                            u,
                            title,
                            "",
                            "done" if rnd.random() < 0.2 else "open",
                            rnd.randint(0, 3),
                            tags,
                            None if due == "\\N" else due,
                            "Europe/Berlin",
                        )
                    )
                    del i
        conn.execute("VACUUM ANALYZE tasks")
        print(f"seeded {10 * n:,} rows in {time.perf_counter() - t0:.1f} s")
    return users[0]


def raw_insert_baseline(url: str, user: uuid.UUID, count: int) -> tuple[list[float], float]:
    """One INSERT per transaction with psycopg, no API: the floor a create cannot beat."""
    lat: list[float] = []
    with psycopg.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        for i in range(count):
            s = time.perf_counter()
            with conn.transaction():
                conn.execute(
                    "INSERT INTO tasks (id, user_id, title, priority, tags) VALUES (%s, %s, %s, 1, %s)",
                    (uuid.uuid4(), user, f"raw baseline {i}", ["bench"]),
                )
            lat.append((time.perf_counter() - s) * 1000)
        elapsed = time.perf_counter() - t0
    return lat, count / elapsed


def start_server(
    url: str, port: int, data_dir: Path, workers: int = 1, *, pipeline: bool = False
) -> subprocess.Popen[bytes]:
    """The run command's server. Without ``pipeline`` it serves the task API as the cluster's HTTP
    functions do (no event consumers or timer in the process); with it, the whole embedded system."""
    env = {
        "WORKERS": str(workers),
        "FUNCTIONS_HOST_ENABLED": str(pipeline).lower(),
        "SCHEDULER_ENABLED": str(pipeline).lower(),
        "RELAY_ENABLED": str(pipeline).lower(),
        **os.environ,
        "DATABASE_URL": url,
        "PORT": str(port),
        "DATA_DIR": str(data_dir),
        "JWT_SECRET": "bench-" + "x" * 40,
        "LOG_LEVEL": "WARNING",
        "DB_POOL_MAX": "10",
    }
    return launch_gateway(env, port, quiet=True)


def launch_gateway(env: dict[str, str], port: int, *, quiet: bool, timeout: float = 90) -> subprocess.Popen[bytes]:
    """``python -m agent_gateway`` (the run command) with ``env``; returns once /readyz answers 200."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_gateway"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if quiet else None,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the gateway did not start")


async def timed(samples: int, fn: Callable[[int], Awaitable[httpx.Response]]) -> list[float]:
    out = []
    for i in range(samples):
        s = time.perf_counter()
        r = await fn(i)
        out.append((time.perf_counter() - s) * 1000)
        assert r.status_code < 300, r.text
    return out


async def throughput(client: httpx.AsyncClient, seconds: float, concurrency: int) -> tuple[int, float]:
    done = 0
    stop = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal done
        i = 0
        while time.perf_counter() < stop:
            r = await client.post(
                "/api/v1/tasks",
                json={"title": f"load {w}-{i}", "priority": "medium", "tags": ["load"], "timezone": "Europe/Berlin"},
            )
            assert r.status_code == 201, r.text
            done += 1
            i += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    return done, done / (time.perf_counter() - t0)


async def run_http(base: str, token: str, words: list[str], samples: int, load_seconds: float) -> None:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=30
    ) as c:
        rnd = random.Random(3)
        for _ in range(20):  # warm up pools and caches
            await c.get("/api/v1/tasks", params={"limit": 50})
        warm = random.Random(99)  # steady state: one pass of searches (other words) before measuring
        for _ in range(samples):
            await c.get("/api/v1/tasks", params={"q": warm.choice(words)[: warm.choice((4, 8))], "limit": 50})
        create = await timed(
            samples,
            lambda i: c.post(
                "/api/v1/tasks",
                json={
                    "title": f"bench create {i}",
                    "priority": "high",
                    "tags": ["bench", "work"],
                    "timezone": "Europe/Berlin",
                    "due_at": "2027-01-15T09:00:00+01:00",
                    "reminders": [{"offset_minutes": 30}],
                },
            ),
        )
        listing = await timed(
            samples,
            lambda i: c.get(
                "/api/v1/tasks",
                params={"status": "open", "priority": "high,medium", "tag": ["work"], "sort": "due", "limit": 50},
            ),
        )
        listing_prio = await timed(
            samples, lambda i: c.get("/api/v1/tasks", params={"sort": "priority", "has_due": "true", "limit": 50})
        )
        search = await timed(samples, lambda i: c.get("/api/v1/tasks", params={"q": rnd.choice(words), "limit": 50}))
        prefix = await timed(
            samples, lambda i: c.get("/api/v1/tasks", params={"q": rnd.choice(words)[:4], "limit": 50})
        )
        typo = await timed(
            samples,
            lambda i: c.get(
                "/api/v1/tasks",
                params={
                    "q": (lambda w: w[:2] + w[3] + w[2] + w[4:])(rnd.choice([w for w in words if len(w) >= 6])),
                    "limit": 50,
                },
            ),
        )
        ids = [t["id"] for t in (await c.get("/api/v1/tasks", params={"tag": "bench", "limit": 200})).json()["items"]]
        complete = await timed(min(samples, len(ids)), lambda i: c.post(f"/api/v1/tasks/{ids[i]}/complete"))
        print("HTTP (one uvicorn worker, task API only as the HTTP functions serve it):")
        for name, ms in (
            ("create", create),
            ("list filtered+sorted (due)", listing),
            ("list sorted by priority", listing_prio),
            ("search (word)", search),
            ("search (prefix)", prefix),
            ("search (typo)", typo),
            ("complete", complete),
        ):
            print(row(name, ms))
        for conc in (8, 32):
            n, rate = await throughput(c, load_seconds, conc)
            print(f"  create throughput, httpx {conc:>2} concurrent {n:>6} in {load_seconds:.0f} s = {rate:8.0f} /s")


WRK_SCRIPT = """
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", "/api/v1/tasks", {["Content-Type"]="application/json",
    ["Authorization"]="Bearer " .. os.getenv("BENCH_TOKEN")},
    '{"title":"wrk ' .. counter .. '","priority":"medium","tags":["load"],"timezone":"Europe/Berlin"}')
end
"""


def wrk_throughput(base: str, token: str, seconds: float, tmp: Path) -> None:
    """Create throughput with wrk (C load generator), so the client does not eat the server's CPU."""
    import shutil

    if not shutil.which("wrk"):
        print("  (install wrk for a load generator that does not compete for CPU: apt-get install wrk)")
        return
    script = tmp / "create.lua"
    script.write_text(WRK_SCRIPT)
    for conc in (8, 32):
        out = subprocess.run(
            ["wrk", "-t1", f"-c{conc}", f"-d{int(seconds)}s", "-s", str(script), base],
            env={**os.environ, "BENCH_TOKEN": token},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rate = next(line.split()[1] for line in out.splitlines() if line.startswith("Requests/sec"))
        errors = [line.strip() for line in out.splitlines() if "Non-2xx" in line or "Socket errors" in line]
        print(f"  create throughput, wrk {conc:>2} connections  {float(rate):8.0f} /s  {' '.join(errors)}")


async def run_service(url: str, user: uuid.UUID, seconds: float, concurrency: int) -> float:
    """Creates through TaskService directly (no HTTP): what the core sustains."""
    from todo_core.domain.tasks import build_fields
    from todo_core.service import Actor, TaskService
    from todo_core.store.db import make_pool

    pool = make_pool(url, min_size=concurrency, max_size=concurrency)
    await pool.open(wait=True)
    svc = TaskService(pool)
    actor = Actor(user_id=user)
    fields = build_fields(title="service create", priority="medium", tags=["load"], timezone="Europe/Berlin")
    done = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop:
            await svc.create(actor, fields)
            done += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    rate = done / (time.perf_counter() - t0)
    await pool.close()
    return rate


def explain_search(url: str, user: uuid.UUID, word: str) -> str:
    from psycopg import sql

    from todo_core.domain.query import build_query
    from todo_core.store.tasks import list_statement

    stmt, params, _ = list_statement(user, build_query(q=word), now=datetime.now(UTC))
    with psycopg.connect(url) as conn:
        conn.execute("SET pg_trgm.word_similarity_threshold = 0.45")
        plan = conn.execute(sql.SQL("EXPLAIN ") + stmt, params).fetchall()
    return " / ".join(r[0].strip() for r in plan if "Index" in r[0] and "reminders" not in r[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000, help="tasks of the measured user (10xN rows in all)")
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--load-seconds", type=float, default=10)
    ap.add_argument("--port", type=int, default=8799)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="todo-bench-", ignore_cleanup_errors=True) as tmp_s:
        tmp = Path(tmp_s)
        os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp))
        url = start_database(tmp)
        migrate(url)
        words = vocabulary()
        user = seed(url, args.n, words)
        print(f"N={args.n:,} tasks for the measured user, {10 * args.n:,} rows in all")
        print(f"search plan at this size: {explain_search(url, user, words[7])}")
        lat, rate = raw_insert_baseline(url, user, 2000)
        print("raw psycopg baseline (one INSERT per transaction, no API):")
        print(row("insert", lat) + f"   {rate:8.0f} /s sequential")
        svc_rate = asyncio.run(run_service(url, user, args.load_seconds, 16))
        print(f"TaskService.create, 16 concurrent, no HTTP: {svc_rate:8.0f} /s")
        proc = start_server(url, args.port, tmp / "srv")
        try:
            base = f"http://127.0.0.1:{args.port}"
            email = f"bench-{uuid.uuid4().hex[:8]}@bench.local"
            r = httpx.post(
                f"{base}/api/v1/auth/register",
                json={"email": email, "password": "bench-password", "timezone": "Europe/Berlin"},
            )
            token = r.json()["access_token"]
            # measure as the seeded user: move the N tasks to the registered account
            with psycopg.connect(url, autocommit=True) as conn:
                new_user = r.json()["user"]["id"]
                conn.execute("UPDATE tasks SET user_id = %s WHERE user_id = %s", (new_user, user))
                conn.execute("ANALYZE tasks")
            asyncio.run(run_http(base, token, words, args.samples, args.load_seconds))
            wrk_throughput(base, token, args.load_seconds, tmp)
        finally:
            proc.terminate()
            proc.wait(10)
        proc = start_server(url, args.port, tmp / "srv", workers=2)
        try:
            print("HTTP (WORKERS=2):")
            wrk_throughput(f"http://127.0.0.1:{args.port}", token, args.load_seconds, tmp)
        finally:
            proc.terminate()
            proc.wait(10)
        # the earlier steps left ~100k events in the embedded log; they are not part of this measurement:
        # the consumers start at the end of the log, as a deployment that has caught up would
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO consumer_offsets (consumer_group, topic, position, position_tx)"
                " SELECT g, o.topic, max(o.id), max(o.tx_id) FROM outbox o,"
                " unnest(ARRAY['task_events', 'recurrence_due', 'reminder_fire', 'audit_append']) g"
                " GROUP BY g, o.topic"
                " ON CONFLICT (consumer_group, topic) DO UPDATE"
                " SET position = excluded.position, position_tx = excluded.position_tx"
            )
        proc = start_server(url, args.port, tmp / "srv", workers=2, pipeline=True)
        try:
            print("whole embedded system on these 2 cores (WORKERS=2, event consumers and timer in-process):")
            wrk_throughput(f"http://127.0.0.1:{args.port}", token, args.load_seconds, tmp)
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()

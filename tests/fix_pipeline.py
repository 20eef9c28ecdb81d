"""The system with its event pipeline, in embedded mode (outbox as the log) or on real Kafka.

``pipeline_mode`` is parametrized by tests that must pass in both modes; ``gateway`` starts the
gateway app (task API, relay, reminder timer, local functions host) over real HTTP on a database
of its own, so no other consumer shares its events.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from agent_gateway.main import create_app
from tests.fix_api import ServerThread, UserClient, free_port, make_settings, register

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Gateway:
    url: str
    pg_url: str
    app: Any
    settings: Any
    server: Any = None

    def stop(self) -> None:
        """Shut this gateway down (its lifespan ends: relay, timer and consumers stop)."""
        if self.server is not None:
            self.server.__exit__(None, None, None)
            self.server = None

    @property
    def pipeline(self) -> Any:
        return self.app.state.pipeline

    def user(self, timezone: str = "UTC") -> UserClient:
        return register(self.url, timezone)

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            return conn.execute(sql, params or {}).fetchall()  # type: ignore[arg-type]


def process_env(gw: Gateway, **extra: str) -> dict[str, str]:
    """The environment of a process of the system (gateway, functions host) on ``gw``'s database and topics."""
    s = gw.settings
    return {
        **os.environ,
        "DATABASE_URL": gw.pg_url,
        "ENVIRONMENT": "test",
        "JWT_SECRET": s.jwt_secret.get_secret_value(),
        "DATA_DIR": str(s.data_dir),
        "KAFKA_BOOTSTRAP_SERVERS": s.kafka_bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": s.kafka_topic_prefix,
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def stop_process(proc: subprocess.Popen[Any], timeout: float = 15) -> None:
    """SIGTERM, then SIGKILL after ``timeout`` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def start_functions_host(gw: Gateway, *only: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """The local functions host as its own process (``python -m agent_gateway.functions_host``), on the
    gateway's database and topics; ``only`` limits it to those functions, as a Deployment does."""
    environ = process_env(gw, **(env or {}))
    args = [sys.executable, "-m", "agent_gateway.functions_host"]
    for name in only:
        args += ["--only", name]
    return subprocess.Popen(args, cwd=ROOT, env=environ)


def insert_outbox_event(
    gw: Gateway, payload: Any, key: str, *, topic: str = "audit-append", type_: str = "todo.audit.append.v1"
) -> None:
    """An event written straight into the outbox (what the relay and the embedded source read), for
    malformed and failing events that the API would never write."""
    event_id = payload.get("id") if isinstance(payload, dict) else None
    gw.query(
        "INSERT INTO outbox (event_id, topic, key, type, payload)"
        " VALUES (%(e)s, %(t)s, %(k)s, %(ty)s, %(p)s) RETURNING 1",
        {"e": event_id or str(uuid.uuid4()), "t": topic, "k": key, "ty": type_, "p": json.dumps(payload)},
    )


def unparseable_audit_event(user_id: str) -> dict[str, Any]:
    """Well-formed, but its time cannot be parsed: ``audit_append`` fails on every attempt."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/test",
        "type": "todo.audit.append.v1",
        "time": "yesterday-ish",
        "userid": user_id,
        "data": {"action": "task.updated", "task_id": None, "actor": "x", "channel": "api"},
    }


def wait_until(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.05, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(interval)


def mode_settings(mode: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    if mode == "embedded":
        return {}
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    return {
        "kafka_bootstrap_servers": bootstrap,
        "kafka_topic_prefix": f"t{uuid.uuid4().hex[:8]}-",
        "kafka_partitions": 3,
    }


@pytest.fixture(params=["embedded", "kafka"])
def pipeline_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def start_gateway(
    fresh_pg_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Gateway]]:
    gateways: list[Gateway] = []

    def start(mode: str, **extra: Any) -> Gateway:
        settings = make_settings(fresh_pg_url, tmp_path / "data", **{**mode_settings(mode, request), **extra})
        app = create_app(settings)
        server = ServerThread(app, free_port()).__enter__()
        gw = Gateway(server.url, fresh_pg_url, app, settings, server)
        gateways.append(gw)
        return gw

    yield start
    for gw in reversed(gateways):
        gw.stop()


@pytest.fixture
def gateway(start_gateway: Callable[..., Gateway], pipeline_mode: str) -> Gateway:
    return start_gateway(pipeline_mode)


class SseCollector:
    """Reads a user's realtime stream (ticket auth) in a thread and keeps every event with its arrival time."""

    def __init__(self, base_url: str, user: UserClient) -> None:
        import threading

        self.events: list[tuple[str, dict[str, Any], float]] = []
        self.ready = threading.Event()
        self._stop = False
        ticket = user.http.post("/api/v1/events/ticket").json()["ticket"]
        self._url = f"{base_url}/api/v1/events/stream"
        self._params = {"ticket": ticket}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.ready.wait(10), "realtime stream did not open"

    def _run(self) -> None:
        import json

        import httpx

        with httpx.stream("GET", self._url, params=self._params, timeout=None) as r:
            event = "message"
            for line in r.iter_lines():
                if self._stop:
                    return
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    if event == "ready":
                        self.ready.set()
                    else:
                        self.events.append((event, json.loads(line[5:]), time.time()))
                elif line == "":
                    event = "message"

    def of_type(self, type_: str) -> list[tuple[dict[str, Any], float]]:
        return [(d, t) for e, d, t in self.events if e == type_]

    def close(self) -> None:
        self._stop = True

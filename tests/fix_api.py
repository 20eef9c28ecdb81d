"""The task API served over real HTTP (uvicorn on a loopback port), and clients for it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn

from agent_gateway.main import create_app
from todo_core.domain.events import AUDIT_APPEND
from todo_core.settings import Environment, Settings
from todo_core.store import audit as audit_store

# the nine MCP tools of the agent contract, written out here (not imported from agent_gateway) so that a tool
# added or dropped in the code fails the contract tests
CONTRACT_TOOLS = {
    "add_task",
    "list_tasks",
    "get_task",
    "update_task",
    "complete_task",
    "reopen_task",
    "delete_task",
    "list_tags",
    "list_notifications",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    def __init__(self, app: Any, port: int) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("API server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def make_settings(pg_url: str, data_dir: Path, **extra: Any) -> Settings:
    return Settings(
        environment=Environment.TEST,
        database_url=pg_url,
        data_dir=data_dir,
        jwt_secret="test-secret-" + "x" * 40,
        **extra,
    )


@pytest.fixture(scope="session")
def api_url(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    app = create_app(make_settings(pg_url, tmp_path_factory.mktemp("data")))
    with ServerThread(app, free_port()) as server:
        yield server.url


@dataclass
class UserClient:
    """An httpx client signed in as one freshly registered user."""

    http: httpx.Client
    user_id: str
    email: str
    token: str

    def create(self, **body: Any) -> dict[str, Any]:
        r = self.http.post("/api/v1/tasks", json=body)
        assert r.status_code == 201, r.text
        return dict(r.json())


def register(api_url: str, timezone: str = "UTC") -> UserClient:
    email = f"u{uuid.uuid4().hex[:12]}@example.com"
    r = httpx.post(
        f"{api_url}/api/v1/auth/register",
        json={"email": email, "password": "correct horse battery", "timezone": timezone},
    )
    assert r.status_code == 201, r.text
    body = r.json()
    http = httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=30)
    return UserClient(http, body["user"]["id"], email, body["access_token"])


@pytest.fixture
def alice(api_url: str) -> Iterator[UserClient]:
    c = register(api_url, "Europe/Berlin")
    yield c
    c.http.close()


@pytest.fixture
def bob(api_url: str) -> Iterator[UserClient]:
    c = register(api_url, "America/New_York")
    yield c
    c.http.close()


def fill_audit(pg_url: str, user_id: str) -> None:
    """Do what the audit_append consumer does: append the user's audit events from the outbox."""

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
            cur = await conn.execute(
                "SELECT payload FROM outbox WHERE topic = %(t)s AND payload->>'userid' = %(u)s ORDER BY id",
                {"t": AUDIT_APPEND, "u": user_id},
            )
            for (payload,) in await cur.fetchall():
                async with conn.transaction():
                    await audit_store.append_event(conn, payload)

    asyncio.run(run())

"""Realtime over real HTTP (ARCHITECTURE §3 Realtime): tickets, the SSE stream, fan-out across replicas.

Streams are read with httpx the way EventSource reads them. Task events reach the stream only
because TaskService publishes them (``realtime.publish`` inside each command's transaction); the
hub's own behaviour (transactional delivery, isolation, slow consumers, reconnects) is tested by
publishing directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import jwt
import psycopg
import pytest

from agent_gateway.main import create_app
from agent_gateway.realtime import TICKET_AUDIENCE
from tests.fix_api import ServerThread, UserClient, free_port, make_settings
from todo_core.notify import realtime
from todo_core.notify.realtime import RealtimeHub

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

log = logging.getLogger(__name__)

API = "/api/v1"
SETTINGS = make_settings("postgresql://unused", Path("/nonexistent"))
SECRET = SETTINGS.signing_secret()  # what the fixture servers sign with
MAX_LATENCY = 1.0


# -- an EventSource in a few lines -------------------------------------------------------------------


@dataclass
class Event:
    event: str
    data: Any
    id: str | None
    at: float  # time.monotonic() when it arrived


class Stream:
    """One open ``/events/stream``: events (comments as event ``:``) collected as they arrive."""

    def __init__(self, base_url: str, ticket: str) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10, read=None))
        self._ticket = ticket
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._response: httpx.Response | None = None
        self.ended = asyncio.Event()

    async def __aenter__(self) -> Stream:
        request = self._client.build_request("GET", f"{API}/events/stream", params={"ticket": self._ticket})
        self._response = await self._client.send(request, stream=True)
        assert self._response.status_code == 200, (await self._response.aread()).decode()
        assert self._response.headers["content-type"].startswith("text/event-stream")
        self._reader = asyncio.create_task(self._read(self._response))
        return self

    async def _read(self, response: httpx.Response) -> None:
        fields: dict[str, str] = {}
        try:
            async for line in response.aiter_lines():
                if line == "":
                    if fields:
                        data = json.loads(fields["data"]) if "data" in fields else None
                        self._queue.put_nowait(Event(fields.get("event", "message"), data, fields.get("id"), _now()))
                    fields = {}
                elif line.startswith(":"):
                    self._queue.put_nowait(Event(":", line[1:].strip(), None, _now()))
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
        except (httpx.ReadError, httpx.RemoteProtocolError):
            pass
        finally:
            self.ended.set()
            self._queue.put_nowait(None)

    async def next(self, timeout: float = 5.0, *, comments: bool = False) -> Event:  # noqa: ASYNC109
        with anyio.fail_after(timeout):
            while True:
                event = await self._queue.get()
                if event is None:
                    self._queue.put_nowait(None)
                    raise AssertionError("the stream ended")
                if comments or event.event != ":":
                    return event

    async def quiet(self, seconds: float) -> list[Event]:
        """Whatever non-comment events arrive within ``seconds`` (expected: none)."""
        got: list[Event] = []
        with anyio.move_on_after(seconds):
            got.append(await self.next(seconds + 1))
        return got

    async def __aexit__(self, *exc: object) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self._response is not None:
            await self._response.aclose()
        await self._client.aclose()


def _now() -> float:
    return time.monotonic()


async def ticket_for(base_url: str, token: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as c:
        r = await c.post(f"{API}/events/ticket", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.headers.get("cache-control") == "no-store"
    body = r.json()
    assert set(body) == {"ticket", "expires_in"} and body["expires_in"] == 30
    return str(body["ticket"])


@contextlib.asynccontextmanager
async def open_stream(base_url: str, token: str) -> AsyncIterator[Stream]:
    """A tab's stream, past its ``ready`` event (from then on it hears everything)."""
    async with Stream(base_url, await ticket_for(base_url, token)) as stream:
        ready = await stream.next()
        assert ready.event == "ready", ready
        yield stream


async def publish(pg_url: str, user_id: str, type_: str, data: dict[str, Any], *, rollback: bool = False) -> None:
    """What a command does: publish inside its transaction (which here commits, or rolls back)."""
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
        async with conn.transaction(force_rollback=rollback):
            await realtime.publish(conn, user_id, type_, data)


async def assert_nothing_before_marker(pg_url: str, stream: Stream, user_id: str) -> None:
    """The next event of ``stream`` is a marker published now: nothing else was delivered to it before."""
    mark = uuid.uuid4().hex
    await publish(pg_url, user_id, "test.marker", {"id": mark})
    event = await stream.next()
    assert (event.event, event.data) == ("test.marker", {"id": mark}), f"unexpected event {event}"


def api(base_url: str, client: UserClient) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {client.token}"}, timeout=30)


# -- tickets -------------------------------------------------------------------------------------------


async def test_ticket_flow(api_url: str, alice: UserClient) -> None:
    async with httpx.AsyncClient(base_url=api_url, timeout=30) as anon:
        r = await anon.post(f"{API}/events/ticket")
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
        ticket = await ticket_for(api_url, alice.token)
        claims = jwt.decode(ticket, SECRET, algorithms=["HS256"], audience=TICKET_AUDIENCE)
        assert claims["sub"] == alice.user_id and claims["exp"] - claims["iat"] == 30
        # a ticket is no access token
        for method, path in (("GET", "/me"), ("GET", "/tasks"), ("POST", "/events/ticket")):
            r = await anon.request(method, f"{API}{path}", headers={"Authorization": f"Bearer {ticket}"})
            assert r.status_code == 401, (path, r.text)
    async with Stream(api_url, ticket) as stream:
        ready = await stream.next()
        assert ready.event == "ready" and ready.data["user_id"] == alice.user_id
    async with Stream(api_url, ticket) as again:  # valid for 30 s: a second tab (or a reconnect) may use it
        assert (await again.next()).event == "ready"


def _ticket(sub: str, *, secret: str = SECRET, expires_in: int = 30, **claims: Any) -> str:
    now = datetime.now(UTC)
    payload = {
        "sub": sub,
        "iss": SETTINGS.jwt_issuer,
        "aud": TICKET_AUDIENCE,
        "iat": now - timedelta(seconds=60),
        "exp": now + timedelta(seconds=expires_in),
        "scope": "realtime",
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return jwt.encode(payload, secret, algorithm="HS256")


def bad_tickets(user: UserClient) -> dict[str, dict[str, str]]:
    unsigned = jwt.encode({"sub": user.user_id, "aud": TICKET_AUDIENCE, "exp": 4102444800}, key="", algorithm="none")
    return {
        "missing": {},
        "empty": {"ticket": ""},
        "garbage": {"ticket": "not.a.ticket"},
        "access token": {"ticket": user.token},
        "expired": {"ticket": _ticket(user.user_id, expires_in=-5)},
        "other audience": {"ticket": _ticket(user.user_id, aud="todo-api")},
        "no audience": {"ticket": _ticket(user.user_id, aud=None)},
        "access scope": {"ticket": _ticket(user.user_id, scope="api")},
        "wrong secret": {"ticket": _ticket(user.user_id, secret="another-secret-" + "y" * 40)},
        "wrong issuer": {"ticket": _ticket(user.user_id, iss="someone-else")},
        "alg none": {"ticket": unsigned},
    }


@pytest.fixture(scope="module")
def dave(api_url: str) -> Iterator[UserClient]:
    from tests.fix_api import register

    c = register(api_url)
    yield c
    c.http.close()


def test_crafted_ticket_helper_is_accepted(api_url: str, dave: UserClient) -> None:
    """The control for the 401 cases: a ticket made here the server's way opens the stream."""
    with (
        httpx.Client(base_url=api_url, timeout=httpx.Timeout(10, read=5)) as c,
        c.stream("GET", f"{API}/events/stream", params={"ticket": _ticket(dave.user_id)}) as r,
    ):
        assert r.status_code == 200
        assert next(r.iter_lines()) == "retry: 2000"


@pytest.mark.parametrize(
    "kind",
    [
        "missing",
        "empty",
        "garbage",
        "access token",
        "expired",
        "other audience",
        "no audience",
        "access scope",
        "wrong secret",
        "wrong issuer",
        "alg none",
    ],
)
def test_bad_tickets_are_401(api_url: str, dave: UserClient, kind: str) -> None:
    params = bad_tickets(dave)[kind]
    r = httpx.get(f"{api_url}{API}/events/stream", params=params, timeout=10)
    assert r.status_code == 401, r.text
    assert r.json()["error"]["code"] == "unauthorized"
    assert r.headers["content-type"].startswith("application/json")


# -- delivery ------------------------------------------------------------------------------------------


async def test_a_commit_reaches_only_its_user_and_a_rollback_nobody(
    api_url: str, alice: UserClient, bob: UserClient, pg_url: str
) -> None:
    async with open_stream(api_url, alice.token) as tab, open_stream(api_url, bob.token) as bobs:
        await publish(pg_url, alice.user_id, "task.updated", {"id": "rolled back"}, rollback=True)
        data = {"id": str(uuid.uuid4()), "version": 2, "title": "Zahnärzt 🦷", "tags": ["a"]}
        t0 = _now()
        await publish(pg_url, alice.user_id, "task.updated", data)
        event = await tab.next()
        latency = event.at - t0
        log.info("realtime latency (publish+commit -> SSE): %.1f ms", latency * 1000)
        assert (event.event, event.data) == ("task.updated", data)  # and not the rolled-back one first
        assert event.id is not None and uuid.UUID(event.id)
        assert latency < MAX_LATENCY

        # too big for NOTIFY: the tab is told what changed and fetches it
        big = {"id": str(uuid.uuid4()), "version": 7, "description": "x" * 20_000}
        await publish(pg_url, alice.user_id, "task.updated", big)
        event = await tab.next()
        assert event.data == {"id": big["id"], "version": 7, "partial": True}

        await assert_nothing_before_marker(pg_url, bobs, bob.user_id)
        await assert_nothing_before_marker(pg_url, tab, alice.user_id)


async def test_task_changes_over_rest_reach_the_owner_within_a_second(
    api_url: str, alice: UserClient, bob: UserClient, pg_url: str
) -> None:
    """Needs TaskService to publish task.created/updated/completed/deleted in each command's transaction."""
    latencies: dict[str, float] = {}
    async with (
        api(api_url, alice) as rest,
        open_stream(api_url, alice.token) as tab,
        open_stream(api_url, bob.token) as bobs,
    ):

        async def expect(step: str, type_: str, request: Any) -> dict[str, Any]:
            t0 = _now()
            r = await request
            assert r.status_code in (200, 201, 204), r.text
            event = await tab.next()
            latencies[step] = event.at - t0
            assert event.event == type_, (step, event)
            return dict(event.data)

        created = await expect("create", "task.created", rest.post(f"{API}/tasks", json={"title": "stream me"}))
        task_id = created["id"]
        assert created["title"] == "stream me"
        updated = await expect("update", "task.updated", rest.patch(f"{API}/tasks/{task_id}", json={"title": "new"}))
        assert (updated["id"], updated["title"]) == (task_id, "new")
        done = await expect("complete", "task.completed", rest.post(f"{API}/tasks/{task_id}/complete"))
        assert (done["id"], done["status"]) == (task_id, "done")
        reopened = await expect("reopen", "task.updated", rest.post(f"{API}/tasks/{task_id}/reopen"))
        assert (reopened["id"], reopened["status"]) == (task_id, "open")
        deleted = await expect("delete", "task.deleted", rest.delete(f"{API}/tasks/{task_id}"))
        assert deleted["id"] == task_id
        # versions follow the commands: the UI can drop stale events
        assert created["version"] < updated["version"] < done["version"] < reopened["version"]

        await assert_nothing_before_marker(pg_url, bobs, bob.user_id)
    log.info("realtime latency (REST request -> SSE), ms: %s", {k: round(v * 1000, 1) for k, v in latencies.items()})
    assert max(latencies.values()) < MAX_LATENCY, latencies


async def test_every_tab_of_the_user_gets_it(api_url: str, alice: UserClient) -> None:
    async with (
        api(api_url, alice) as rest,
        open_stream(api_url, alice.token) as tab1,
        open_stream(api_url, alice.token) as tab2,
    ):
        r = await rest.post(f"{API}/tasks", json={"title": "two tabs"})
        assert r.status_code == 201
        e1, e2 = await tab1.next(), await tab2.next()
        assert e1.event == e2.event == "task.created"
        assert e1.id == e2.id and e1.data == e2.data and e1.data["id"] == r.json()["id"]


# -- replicas ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def replica(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second gateway process on the same database (another replica behind the load balancer)."""
    with ServerThread(create_app(make_settings(pg_url, tmp_path_factory.mktemp("replica"))), free_port()) as s:
        yield s.url


async def test_every_replica_hears_a_commit(api_url: str, replica: str, alice: UserClient, pg_url: str) -> None:
    async with open_stream(api_url, alice.token) as here, open_stream(replica, alice.token) as there:
        data = {"id": str(uuid.uuid4()), "version": 1}
        t0 = _now()
        await publish(pg_url, alice.user_id, "task.created", data)
        for tab in (here, there):
            event = await tab.next()
            assert (event.event, event.data) == ("task.created", data)
            assert event.at - t0 < MAX_LATENCY


async def test_a_change_on_one_replica_reaches_a_tab_on_the_other(
    api_url: str, replica: str, alice: UserClient
) -> None:
    async with (
        api(api_url, alice) as rest_a,
        api(replica, alice) as rest_b,
        open_stream(replica, alice.token) as tab_on_b,
        open_stream(api_url, alice.token) as tab_on_a,
    ):
        for rest, tab in ((rest_a, tab_on_b), (rest_b, tab_on_a)):
            t0 = _now()
            r = await rest.post(f"{API}/tasks", json={"title": "across replicas"})
            assert r.status_code == 201, r.text
            event = await tab.next()
            assert (event.event, event.data["id"]) == ("task.created", r.json()["id"])
            assert event.at - t0 < MAX_LATENCY
            other = tab_on_a if tab is tab_on_b else tab_on_b
            assert (await other.next()).data["id"] == r.json()["id"]  # the writer's replica tab too


# -- lifetime ------------------------------------------------------------------------------------------


async def test_heartbeats_disconnect_and_a_quick_shutdown(
    pg_url: str, tmp_path_factory: pytest.TempPathFactory, alice: UserClient
) -> None:
    app = create_app(make_settings(pg_url, tmp_path_factory.mktemp("shutdown")))
    app.state.realtime_heartbeat_seconds = 0.2
    server = ServerThread(app, free_port())
    await anyio.to_thread.run_sync(server.__enter__)
    hub: RealtimeHub = app.state.realtime_hub
    try:
        async with open_stream(server.url, alice.token) as tab:
            beat = await tab.next(2, comments=True)
            assert (beat.event, beat.data) == (":", "keep-alive")
            assert hub.connections == 1
        # the tab went away: its subscription goes too
        for _ in range(150):
            if hub.connections == 0:
                break
            await anyio.sleep(0.02)
        assert hub.connections == 0

        async with open_stream(server.url, alice.token) as tab:
            t0 = _now()
            await anyio.to_thread.run_sync(server.__exit__, None, None, None)
            stopped = _now() - t0
            assert not server.thread.is_alive()
            assert stopped < 5, f"shutdown took {stopped:.1f}s with a stream open"
            last = await tab.next()
            assert (last.event, last.data) == ("reconnect", {"reason": "shutdown"})
            with anyio.fail_after(2):
                await tab.ended.wait()
        log.info("shutdown with an open stream took %.2f s", stopped)
    finally:
        if server.thread.is_alive():
            await anyio.to_thread.run_sync(server.__exit__, None, None, None)


# -- the hub on its own ----------------------------------------------------------------------------------


async def test_hub_drops_for_a_slow_consumer_only_and_survives_a_lost_connection(pg_url: str) -> None:
    user = str(uuid.uuid4())
    name = f"test-hub-{uuid.uuid4().hex[:8]}"
    async with RealtimeHub(pg_url, max_queue=3, application_name=name) as hub:
        slow, fast = hub.subscribe(user), hub.subscribe(user)
        other = hub.subscribe(uuid.uuid4())
        for n in range(5):
            await publish(pg_url, user, "task.updated", {"n": n})
            got = await fast.get(timeout=5)
            assert got is not None and got.data == {"n": n}
        assert (slow.dropped, fast.dropped, hub.dropped) == (2, 0, 2)
        kept = [await slow.get(1) for _ in range(3)]
        assert [m.data if m else None for m in kept] == [{"n": 0}, {"n": 1}, {"n": 2}]  # the newest were dropped
        resync = await slow.get(1)
        assert resync is not None and resync.type == realtime.RESYNC
        assert await slow.get(0.2) is None
        assert await other.get(0.2) is None
        assert hub.delivered == 5 + 3 and hub.connections == 3

        # the listening session dies (failover, idle kill, network): the hub comes back and says "resync"
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as admin:
            cur = await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %(n)s", {"n": name}
            )
            assert [r[0] for r in await cur.fetchall()] == [True]
        got = await fast.get(timeout=10)
        assert got is not None and (got.type, got.data) == (realtime.RESYNC, {"reason": "reconnected"})
        assert hub.reconnects == 1 and hub.listening
        await publish(pg_url, user, "task.deleted", {"id": "x"})
        got = await fast.get(timeout=5)
        assert got is not None and got.type == "task.deleted"
        slow.close()
        assert hub.connections == 2 and hub.dropped == 2
    # closed with the hub: readers wake up, nobody can subscribe any more
    with pytest.raises(realtime.SubscriptionClosed):
        await fast.get(1)
    with pytest.raises(realtime.SubscriptionClosed):
        hub.subscribe(user)

"""The notification inbox and Web Push subscriptions over real HTTP (ARCHITECTURE §3 Notifications).

Inbox rows are written the way the reminder_fire consumer writes them (inbox.create_reminder_notification
on a psycopg connection to the same database); everything else goes through the API.
"""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from agent_gateway.main import create_app
from tests.fix_api import ServerThread, UserClient, free_port, make_settings, register
from todo_core.api.routes.notifications import _check_endpoint
from todo_core.domain.errors import NotFound, ValidationError
from todo_core.domain.ids import new_id
from todo_core.notify import inbox
from todo_core.notify.webpush import generate_vapid_keys
from todo_core.settings import Environment

pytestmark = pytest.mark.e2e

API = "/api/v1"


# -- helpers ---------------------------------------------------------------------------------------


def insert_notifications(
    pg_url: str, user_id: str, titles: list[str], *, same_transaction: bool = False
) -> list[dict[str, Any]]:
    """Inbox rows as the reminder_fire consumer writes them; one transaction each unless ``same_transaction``."""

    async def one(conn: psycopg.AsyncConnection[Any], title: str) -> dict[str, Any]:
        task_id = uuid.uuid4()
        note = await inbox.create_reminder_notification(
            conn,
            notification_id=new_id(),
            user_id=uuid.UUID(user_id),
            task_id=task_id,
            reminder_id=uuid.uuid4(),
            title=title,
            body=f"body of {title}",
            data={"url": f"/?task={task_id}", "n": title},
            late=title.endswith("late"),
        )
        assert note is not None
        return note

    async def run() -> list[dict[str, Any]]:
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
            if same_transaction:
                async with conn.transaction():
                    return [await one(conn, t) for t in titles]
            out = []
            for t in titles:
                async with conn.transaction():
                    out.append(await one(conn, t))
            return out

    return asyncio.run(run())


def subscriptions_in_db(pg_url: str, user_id: str) -> list[dict[str, str]]:
    async def run() -> list[dict[str, str]]:
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
            return await inbox.subscriptions_for(conn, uuid.UUID(user_id))

    return asyncio.run(run())


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    return dict(body["error"])


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def browser_keys() -> dict[str, str]:
    """What a browser's PushSubscription.toJSON() carries in ``keys``."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return {"p256dh": b64url(point), "auth": b64url(os.urandom(16))}


def endpoint() -> str:
    return f"https://push.example.net/wpush/v2/{uuid.uuid4().hex}{uuid.uuid4().hex}"


def page_through(client: UserClient, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(50):
        r = client.http.get(f"{API}/notifications", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= params.get("limit", inbox.DEFAULT_PAGE)
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


# -- inbox -----------------------------------------------------------------------------------------


def test_inbox_lists_newest_first_pages_and_counts_unread(alice: UserClient, pg_url: str) -> None:
    assert alice.http.get(f"{API}/notifications").json() == {"items": [], "next_cursor": None, "unread_count": 0}
    made = insert_notifications(pg_url, alice.user_id, ["n1", "n2", "n3 late"])
    # three in one transaction share created_at: the id breaks the tie, pages must not skip or repeat
    made += insert_notifications(pg_url, alice.user_id, ["t1", "t2", "t3"], same_transaction=True)
    made += insert_notifications(pg_url, alice.user_id, ["n4"])
    newest_first = list(reversed(made))

    first = alice.http.get(f"{API}/notifications").json()
    assert first["unread_count"] == 7
    assert first["next_cursor"] is None
    assert first["items"] == newest_first  # the API's JSON is exactly what the store returned
    note = first["items"][0]
    assert set(note) == {
        "id",
        "task_id",
        "reminder_id",
        "kind",
        "title",
        "body",
        "data",
        "late",
        "created_at",
        "read_at",
    }
    assert note["kind"] == "reminder" and note["read_at"] is None and note["created_at"].endswith("+00:00")
    assert [n["late"] for n in newest_first].count(True) == 1

    for limit in (1, 2, 3):
        assert page_through(alice, limit=limit) == newest_first, limit

    # read one: idempotent, keeps the first read time; unread filter and count follow
    target = newest_first[2]
    r1 = alice.http.post(f"{API}/notifications/{target['id']}/read")
    assert r1.status_code == 200, r1.text
    assert r1.json()["read_at"] is not None and r1.json()["id"] == target["id"]
    r2 = alice.http.post(f"{API}/notifications/{target['id']}/read")
    assert r2.status_code == 200 and r2.json() == r1.json()
    body = alice.http.get(f"{API}/notifications", params={"unread": "true"}).json()
    assert body["unread_count"] == 6
    assert [n["id"] for n in body["items"]] == [n["id"] for n in newest_first if n["id"] != target["id"]]
    assert page_through(alice, unread="true", limit=2) == body["items"]

    r = alice.http.post(f"{API}/notifications/read-all")
    assert r.status_code == 200 and r.json() == {"updated": 6}
    assert alice.http.post(f"{API}/notifications/read-all").json() == {"updated": 0}
    after = alice.http.get(f"{API}/notifications").json()
    assert after["unread_count"] == 0 and len(after["items"]) == 7
    assert all(n["read_at"] for n in after["items"])
    assert alice.http.get(f"{API}/notifications", params={"unread": "true"}).json()["items"] == []
    # read-all did not move the read time of the one read before
    assert next(n for n in after["items"] if n["id"] == target["id"])["read_at"] == r1.json()["read_at"]


def test_one_inbox_row_per_reminder_however_often_it_fires(alice: UserClient, pg_url: str) -> None:
    reminder_id, task_id = uuid.uuid4(), uuid.uuid4()

    async def fire() -> dict[str, Any] | None:
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn, conn.transaction():
            return await inbox.create_reminder_notification(
                conn,
                notification_id=new_id(),
                user_id=uuid.UUID(alice.user_id),
                task_id=task_id,
                reminder_id=reminder_id,
                title="Pay rent",
                body="Due Mon",
                data={},
                late=False,
            )

    first = asyncio.run(fire())
    assert first is not None and first["reminder_id"] == str(reminder_id)
    assert asyncio.run(fire()) is None  # redelivery: no second row, caller sends nothing
    assert asyncio.run(fire()) is None
    listed = alice.http.get(f"{API}/notifications").json()
    assert listed["items"] == [first] and listed["unread_count"] == 1


def test_bob_never_sees_or_touches_alices_notifications(alice: UserClient, bob: UserClient, pg_url: str) -> None:
    (secret,) = insert_notifications(pg_url, alice.user_id, ["Alice private reminder"])
    (own,) = insert_notifications(pg_url, bob.user_id, ["bob reminder"])
    assert bob.http.get(f"{API}/notifications").json() == {"items": [own], "next_cursor": None, "unread_count": 1}
    r = bob.http.post(f"{API}/notifications/{secret['id']}/read")
    err = assert_error(r, 404, "not_found")
    assert "Alice" not in err["message"]
    unknown = bob.http.post(f"{API}/notifications/{uuid.uuid4()}/read")
    assert unknown.json() == r.json()  # indistinguishable from an id that does not exist
    assert bob.http.post(f"{API}/notifications/read-all").json() == {"updated": 1}
    mine = alice.http.get(f"{API}/notifications").json()
    assert mine == {"items": [secret], "next_cursor": None, "unread_count": 1}  # untouched, still unread
    # bob's cursor-crafting gets nothing of alice's either
    far_future = inbox.NotificationCursor(datetime(2999, 1, 1, tzinfo=UTC), uuid.UUID(int=(1 << 128) - 1))
    r = bob.http.get(f"{API}/notifications", params={"cursor": inbox.encode_cursor(far_future)})
    assert [n["id"] for n in r.json()["items"]] == [own["id"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"unread": "maybe"}, "unread"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": base64.urlsafe_b64encode(b'{"t":"2020-01-01T00:00:00","i":"x"}').decode()}, "cursor"),
    ],
)
def test_bad_list_parameters_are_422(carol: UserClient, params: dict[str, Any], field: str) -> None:
    err = assert_error(carol.http.get(f"{API}/notifications", params=params), 422, "validation_error")
    assert [d["field"] for d in err["details"]] == [field]


def test_notification_routes_need_a_token(api_url: str) -> None:
    with httpx.Client(base_url=api_url, timeout=30) as anon:
        for method, path in [
            ("GET", "/notifications"),
            ("POST", f"/notifications/{uuid.uuid4()}/read"),
            ("POST", "/notifications/read-all"),
            ("GET", "/push/vapid-public-key"),
            ("POST", "/push/subscriptions"),
            ("DELETE", "/push/subscriptions"),
        ]:
            assert_error(anon.request(method, f"{API}{path}"), 401, "unauthorized")


def test_bad_notification_id_is_422(alice: UserClient) -> None:
    err = assert_error(alice.http.post(f"{API}/notifications/123/read"), 422, "validation_error")
    assert err["details"][0]["field"] == "notification_id"


def test_what_the_delivery_pipeline_calls(alice: UserClient, bob: UserClient, pg_url: str) -> None:
    """get_notification, mark_push_sent, touch_subscription_ok, remove_subscription_by_endpoint."""
    (note,) = insert_notifications(pg_url, alice.user_id, ["push me"])
    ep = endpoint()
    r = alice.http.post(f"{API}/push/subscriptions", json={"endpoint": ep, "keys": browser_keys()})
    assert r.status_code == 201, r.text
    note_id, alice_id, bob_id = uuid.UUID(note["id"]), uuid.UUID(alice.user_id), uuid.UUID(bob.user_id)

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
            assert await inbox.get_notification(conn, alice_id, note_id) == note
            with pytest.raises(NotFound):
                await inbox.get_notification(conn, bob_id, note_id)
            assert await inbox.mark_push_sent(conn, note_id) is True
            assert await inbox.mark_push_sent(conn, note_id) is False  # recorded once
            await inbox.touch_subscription_ok(conn, ep)
            cur = await conn.execute("SELECT last_ok_at FROM push_subscriptions WHERE endpoint = %(e)s", {"e": ep})
            row = await cur.fetchone()
            assert row is not None and row[0] is not None
            assert await inbox.remove_subscription_by_endpoint(conn, ep) is True
            assert await inbox.remove_subscription_by_endpoint(conn, ep) is False
            assert await inbox.subscriptions_for(conn, alice_id) == []

    asyncio.run(run())
    # pushing is not reading: the notification is still unread in the inbox
    assert alice.http.get(f"{API}/notifications").json()["unread_count"] == 1


# -- web push ----------------------------------------------------------------------------------------


def test_vapid_key_of_the_fixture_server(alice: UserClient) -> None:
    """The fixture sets no VAPID key: a uniform 503 — or, once the gateway generates one, a usable key."""
    r = alice.http.get(f"{API}/push/vapid-public-key")
    if r.status_code == 503:
        assert_error(r, 503, "push_unavailable")
    else:
        assert r.status_code == 200, r.text
        raw = base64.urlsafe_b64decode(r.json()["public_key"] + "==")
        assert len(raw) == 65 and raw[0] == 4


@pytest.fixture(scope="module")
def vapid_server(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    keys = generate_vapid_keys()
    settings = make_settings(
        pg_url, tmp_path_factory.mktemp("vapid"), vapid_public_key=keys.public_key, vapid_private_key=keys.private_key
    )
    with ServerThread(create_app(settings), free_port()) as server:
        yield server.url, keys.public_key


def test_configured_vapid_key_is_served(vapid_server: tuple[str, str], alice: UserClient) -> None:
    url, key = vapid_server
    r = httpx.get(f"{url}{API}/push/vapid-public-key", headers={"Authorization": f"Bearer {alice.token}"})
    assert r.status_code == 200, r.text
    assert r.json() == {"public_key": key}


def test_subscribe_resubscribe_move_and_unsubscribe(alice: UserClient, bob: UserClient, pg_url: str) -> None:
    ep, keys = endpoint(), browser_keys()
    r = alice.http.post(
        f"{API}/push/subscriptions",
        json={"endpoint": ep, "expirationTime": None, "keys": keys},
        headers={"User-Agent": "Firefox/140"},
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == {"id", "endpoint"} and created["endpoint"] == ep
    assert subscriptions_in_db(pg_url, alice.user_id) == [{"id": created["id"], "endpoint": ep, **keys}]

    # the same browser again with rotated keys: same subscription, new keys, no duplicate
    keys2 = browser_keys()
    r = alice.http.post(f"{API}/push/subscriptions", json={"endpoint": ep, "keys": keys2})
    assert r.status_code == 201 and r.json() == created
    assert subscriptions_in_db(pg_url, alice.user_id) == [{"id": created["id"], "endpoint": ep, **keys2}]

    # a second device of alice's
    ep2 = endpoint()
    assert alice.http.post(f"{API}/push/subscriptions", json={"endpoint": ep2, "keys": keys}).status_code == 201
    assert [s["endpoint"] for s in subscriptions_in_db(pg_url, alice.user_id)] == [ep, ep2]

    # bob signs in on alice's first browser: the endpoint is his now, alice's reminders stop going there
    keys3 = browser_keys()
    r = bob.http.post(f"{API}/push/subscriptions", json={"endpoint": ep, "keys": keys3})
    assert r.status_code == 201, r.text
    assert subscriptions_in_db(pg_url, bob.user_id) == [{"id": created["id"], "endpoint": ep, **keys3}]
    assert [s["endpoint"] for s in subscriptions_in_db(pg_url, alice.user_id)] == [ep2]
    assert_error(alice.http.request("DELETE", f"{API}/push/subscriptions", json={"endpoint": ep}), 404, "not_found")
    # ... and bob cannot remove alice's remaining one
    assert_error(bob.http.delete(f"{API}/push/subscriptions", params={"endpoint": ep2}), 404, "not_found")
    assert [s["endpoint"] for s in subscriptions_in_db(pg_url, alice.user_id)] == [ep2]

    # unsubscribe by JSON body and by query
    r = bob.http.request("DELETE", f"{API}/push/subscriptions", json={"endpoint": ep})
    assert r.status_code == 204 and r.content == b""
    assert_error(bob.http.request("DELETE", f"{API}/push/subscriptions", json={"endpoint": ep}), 404, "not_found")
    assert alice.http.delete(f"{API}/push/subscriptions", params={"endpoint": ep2}).status_code == 204
    assert subscriptions_in_db(pg_url, alice.user_id) == subscriptions_in_db(pg_url, bob.user_id) == []
    err = assert_error(alice.http.delete(f"{API}/push/subscriptions"), 422, "validation_error")
    assert err["details"][0]["field"] == "endpoint"


def test_loopback_http_endpoint_is_accepted_outside_production(alice: UserClient, pg_url: str) -> None:
    """The local push service of the tests lives on http://127.0.0.1 (the fixture runs as environment=test)."""
    ep = f"http://127.0.0.1:8089/push/{uuid.uuid4().hex}"
    r = alice.http.post(f"{API}/push/subscriptions", json={"endpoint": ep, "keys": browser_keys()})
    assert r.status_code == 201, r.text
    assert [s["endpoint"] for s in subscriptions_in_db(pg_url, alice.user_id)] == [ep]


def test_production_accepts_https_endpoints_only() -> None:
    assert _check_endpoint("https://fcm.googleapis.com/fcm/send/x", Environment.PRODUCTION)
    for ep in ("http://127.0.0.1:8089/push/x", "http://localhost/push/x"):
        with pytest.raises(ValidationError):
            _check_endpoint(ep, Environment.PRODUCTION)
        assert _check_endpoint(ep, Environment.DEVELOPMENT) == ep


def _point_off_curve() -> str:
    return b64url(b"\x04" + b"\x01" * 64)


def _bad_subscriptions() -> list[tuple[str, dict[str, Any], str]]:
    k = browser_keys()
    ep = endpoint()
    return [
        ("no keys", {"endpoint": ep}, "keys"),
        ("no endpoint", {"keys": k}, "endpoint"),
        ("empty endpoint", {"endpoint": "", "keys": k}, "endpoint"),
        ("endpoint not a string", {"endpoint": 42, "keys": k}, "endpoint"),
        ("endpoint too long", {"endpoint": "https://push.example.net/" + "a" * 2030, "keys": k}, "endpoint"),
        ("ftp endpoint", {"endpoint": "ftp://push.example.net/x", "keys": k}, "endpoint"),
        ("relative endpoint", {"endpoint": "/push/x", "keys": k}, "endpoint"),
        ("http on a public host", {"endpoint": "http://push.example.net/x", "keys": k}, "endpoint"),
        ("credentials in endpoint", {"endpoint": "https://u:p@push.example.net/x", "keys": k}, "endpoint"),
        ("bad port", {"endpoint": "https://push.example.net:99999/x", "keys": k}, "endpoint"),
        ("p256dh not base64url", {"endpoint": ep, "keys": {**k, "p256dh": "a+b/c" * 18}}, "keys.p256dh"),
        ("p256dh too short", {"endpoint": ep, "keys": {**k, "p256dh": b64url(b"\x04" + b"\x01" * 32)}}, "keys.p256dh"),
        (
            "p256dh compressed",
            {"endpoint": ep, "keys": {**k, "p256dh": b64url(b"\x02" + os.urandom(64))}},
            "keys.p256dh",
        ),
        ("p256dh off the curve", {"endpoint": ep, "keys": {**k, "p256dh": _point_off_curve()}}, "keys.p256dh"),
        ("auth 15 bytes", {"endpoint": ep, "keys": {**k, "auth": b64url(os.urandom(15))}}, "keys.auth"),
        ("auth 32 bytes", {"endpoint": ep, "keys": {**k, "auth": b64url(os.urandom(32))}}, "keys.auth"),
        ("auth not a string", {"endpoint": ep, "keys": {**k, "auth": 16}}, "keys.auth"),
        ("unknown key field", {"endpoint": ep, "keys": {**k, "extra": "x"}}, "keys.extra"),
        ("unknown field", {"endpoint": ep, "keys": k, "owner": "bob"}, "owner"),
    ]


@pytest.fixture(scope="module")
def carol(api_url: str) -> Iterator[UserClient]:
    """One user for the parametrized validation cases (registering is slow); she never subscribes."""
    c = register(api_url)
    yield c
    c.http.close()


@pytest.mark.parametrize(("case", "body", "field"), _bad_subscriptions(), ids=[c[0] for c in _bad_subscriptions()])
def test_bad_subscriptions_are_422_and_store_nothing(
    carol: UserClient, pg_url: str, case: str, body: dict[str, Any], field: str
) -> None:
    r = carol.http.post(f"{API}/push/subscriptions", json=body)
    err = assert_error(r, 422, "validation_error")
    assert field in [d["field"] for d in err["details"]], (case, err)
    assert subscriptions_in_db(pg_url, carol.user_id) == []


def test_subscribe_body_must_be_json(alice: UserClient) -> None:
    r = alice.http.post(f"{API}/push/subscriptions", content=b"{not json", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_json")

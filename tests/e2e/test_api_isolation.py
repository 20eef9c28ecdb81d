"""Identity rules (ARCHITECTURE §6) over real HTTP: one user never reaches another's tasks, and
every authenticated route refuses a missing, garbage, expired or foreign token with 401."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.fix_api import UserClient, fill_audit, make_settings, register

pytestmark = pytest.mark.e2e

API = "/api/v1"
SECRET_LESS = make_settings("postgresql://unused", Path("/nonexistent"))
SECRET = SECRET_LESS.signing_secret()  # the secret the fixture server signs with
ISSUER = SECRET_LESS.jwt_issuer


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], list)
    return dict(body["error"])


@pytest.fixture(scope="module")
def owner(api_url: str) -> Iterator[UserClient]:
    """Alice again, shared by the parametrized tests of this module (registering is slow)."""
    c = register(api_url, "Europe/Berlin")
    yield c
    c.http.close()


@pytest.fixture(scope="module")
def intruder(api_url: str) -> Iterator[UserClient]:
    c = register(api_url, "America/New_York")
    yield c
    c.http.close()


def private_task(client: UserClient) -> dict[str, Any]:
    return client.create(
        title="Alice private dentist appointment",
        description="root canal",
        priority="high",
        tags=["alicesecret"],
        due_at="2030-04-01T10:00:00+02:00",
        recurrence={"rrule": "FREQ=MONTHLY"},
        reminders=[{"offset_minutes": 30}],
    )


@pytest.fixture
def alices_task(alice: UserClient) -> dict[str, Any]:
    return private_task(alice)


def unchanged(alice: UserClient, task: dict[str, Any]) -> None:
    r = alice.http.get(f"{API}/tasks/{task['id']}")
    assert r.status_code == 200, r.text
    assert r.json() == task


# -- another user's task does not exist for bob ------------------------------------------------

ROUTES = [
    ("GET", "", None, None),
    ("PATCH", "", {"title": "pwned"}, None),
    ("PATCH", "", {"title": "pwned"}, '"1"'),
    ("PATCH", "", {"title": "pwned"}, '"99"'),
    ("DELETE", "", None, None),
    ("DELETE", "", None, '"1"'),
    ("POST", "/complete", None, None),
    ("POST", "/reopen", None, None),
]


@pytest.mark.parametrize(("method", "suffix", "body", "if_match"), ROUTES)
def test_other_users_task_is_404_and_untouched(
    owner: UserClient,
    intruder: UserClient,
    method: str,
    suffix: str,
    body: dict[str, Any] | None,
    if_match: str | None,
) -> None:
    alices_task = private_task(owner)
    if suffix == "/reopen":  # make reopen meaningful: the task is done
        done = owner.http.post(f"{API}/tasks/{alices_task['id']}/complete")
        assert done.status_code == 200
        alices_task = done.json()
    headers = {"If-Match": if_match} if if_match else {}
    r = intruder.http.request(method, f"{API}/tasks/{alices_task['id']}{suffix}", json=body, headers=headers)
    # 404 (not 403, not 412): bob cannot even learn that the task exists or its version
    err = assert_error(r, 404, "not_found")
    assert alices_task["title"] not in err["message"]
    unchanged(owner, alices_task)
    # and a task id bob never saw answers the very same way
    r2 = intruder.http.request(method, f"{API}/tasks/{uuid.uuid4()}{suffix}", json=body, headers=headers)
    assert r2.status_code == 404
    assert r2.json() == r.json()


def test_bob_never_sees_alices_task_in_lists_search_tags(
    alice: UserClient, bob: UserClient, alices_task: dict[str, Any]
) -> None:
    bobs = bob.create(title="Bob dentist appointment", tags=["bobtag"], due_at="2030-04-02T10:00:00-04:00")
    for params in (
        {},
        {"status": "all"},
        {"status": "all", "sort": "title"},
        {"q": "Alice private dentist"},
        {"q": "dentist"},
        {"q": "canal"},
        {"tag": "alicesecret"},
        {"priority": "high"},
        {"recurring": "true"},
        {"due_after": "2030-01-01T00:00:00Z"},
    ):
        r = bob.http.get(f"{API}/tasks", params={**params, "limit": 200})
        assert r.status_code == 200, (params, r.text)
        ids = {t["id"] for t in r.json()["items"]}
        assert alices_task["id"] not in ids, params
        assert ids <= {bobs["id"]}, params
    assert [t["id"] for t in bob.http.get(f"{API}/tasks", params={"q": "dentist"}).json()["items"]] == [bobs["id"]]
    assert [t["name"] for t in bob.http.get(f"{API}/tags").json()] == ["bobtag"]
    # alice, for her part, sees her own and not bob's
    alice_ids = {t["id"] for t in alice.http.get(f"{API}/tasks", params={"q": "dentist"}).json()["items"]}
    assert alice_ids == {alices_task["id"]}
    assert [t["name"] for t in alice.http.get(f"{API}/tags").json()] == ["alicesecret"]


def test_bob_cannot_read_alices_audit_trail(
    alice: UserClient, bob: UserClient, alices_task: dict[str, Any], pg_url: str
) -> None:
    bob.create(title="bob's own")
    fill_audit(pg_url, alice.user_id)
    fill_audit(pg_url, bob.user_id)
    mine = alice.http.get(f"{API}/audit", params={"task_id": alices_task["id"]})
    assert mine.status_code == 200
    assert [x["task_id"] for x in mine.json()["items"]] == [alices_task["id"]]  # the control: it is there
    r = bob.http.get(f"{API}/audit", params={"task_id": alices_task["id"]})
    assert r.status_code == 200
    assert r.json() == {"items": []}
    everything = bob.http.get(f"{API}/audit").json()["items"]
    assert len(everything) == 1
    assert all(x["task_id"] != alices_task["id"] for x in everything)
    assert "Alice private" not in str(everything)


def test_idempotency_keys_are_per_user(alice: UserClient, bob: UserClient) -> None:
    key = f"shared-{uuid.uuid4()}"
    body = {"title": "same body"}
    a = alice.http.post(f"{API}/tasks", json=body, headers={"Idempotency-Key": key})
    b = bob.http.post(f"{API}/tasks", json=body, headers={"Idempotency-Key": key})
    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b.headers
    assert a.json()["id"] != b.json()["id"]
    assert bob.http.get(f"{API}/tasks/{b.json()['id']}").status_code == 200
    assert bob.http.get(f"{API}/tasks/{a.json()['id']}").status_code == 404
    # a different body under the same key from bob is no conflict with alice's either
    c = bob.http.post(f"{API}/tasks", json={"title": "other"}, headers={"Idempotency-Key": f"{key}-2"})
    assert c.status_code == 201


# -- credentials -------------------------------------------------------------------------------


def make_token(sub: str | None, *, secret: str = SECRET, expires_in: int = 3600, **claims: Any) -> str:
    """An HS256 access token like the server's own; ``sub=None`` leaves the subject out."""
    now = datetime.now(UTC)
    payload = {
        **({"sub": sub} if sub is not None else {}),
        "iss": ISSUER,
        "iat": now - timedelta(hours=2),
        "exp": now + timedelta(seconds=expires_in),
        "scope": "api",
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return jwt.encode(payload, secret, algorithm="HS256")


def test_crafted_token_helper_is_accepted(alice: UserClient, api_url: str) -> None:
    """The control for the 401 tests below: a token made here with the server's secret works."""
    r = httpx.get(f"{api_url}{API}/me", headers={"Authorization": f"Bearer {make_token(alice.user_id)}"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == alice.user_id


def bad_headers(user_id: str) -> dict[str, dict[str, str]]:
    unsigned = jwt.encode({"sub": user_id, "iss": ISSUER, "exp": 4102444800, "scope": "api"}, key="", algorithm="none")
    return {
        "missing": {},
        "bare scheme": {"Authorization": "Bearer"},
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "expired": {"Authorization": f"Bearer {make_token(user_id, expires_in=-60)}"},
        "wrong secret": {"Authorization": f"Bearer {make_token(user_id, secret='another-secret-' + 'y' * 40)}"},
        "wrong issuer": {"Authorization": f"Bearer {make_token(user_id, iss='someone-else')}"},
        "other scope": {"Authorization": f"Bearer {make_token(user_id, scope='events')}"},
        "alg none": {"Authorization": f"Bearer {unsigned}"},
        "no sub": {"Authorization": f"Bearer {make_token(None)}"},
        "basic scheme": {"Authorization": "Basic YWxpY2U6cGFzc3dvcmQ="},
        "token without scheme": {"Authorization": make_token(user_id)},
    }


def authenticated_routes(task_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", "/me", None),
        ("PATCH", "/me", {"timezone": "Asia/Tokyo"}),
        ("GET", "/tasks", None),
        ("POST", "/tasks", {"title": "intruder"}),
        ("GET", f"/tasks/{task_id}", None),
        ("PATCH", f"/tasks/{task_id}", {"title": "pwned"}),
        ("DELETE", f"/tasks/{task_id}", None),
        ("POST", f"/tasks/{task_id}/complete", None),
        ("POST", f"/tasks/{task_id}/reopen", None),
        ("GET", "/tags", None),
        ("GET", "/audit", None),
    ]


CREDENTIAL_KINDS = list(bad_headers(str(uuid.uuid4())))


@pytest.mark.parametrize("kind", CREDENTIAL_KINDS)
def test_bad_credentials_are_401_on_every_route(api_url: str, owner: UserClient, kind: str) -> None:
    task = private_task(owner)
    before = owner.http.get(f"{API}/tasks", params={"status": "all", "sort": "created", "limit": 200}).json()
    headers = bad_headers(owner.user_id)[kind]
    with httpx.Client(base_url=api_url, headers=headers, timeout=30) as anon:
        for method, path, body in authenticated_routes(task["id"]):
            r = anon.request(method, f"{API}{path}", json=body)
            assert_error(r, 401, "unauthorized")
            assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), (kind, method, path)
    # nothing the rejected requests asked for happened
    unchanged(owner, task)
    assert owner.http.get(f"{API}/me").json()["timezone"] == "Europe/Berlin"
    after = owner.http.get(f"{API}/tasks", params={"status": "all", "sort": "created", "limit": 200}).json()
    assert after == before


def test_token_of_one_user_only_reaches_that_user(alice: UserClient, bob: UserClient) -> None:
    """The subject of the token, not anything in the request, decides whose tasks are served."""
    t = alice.create(title="alice only")
    r = bob.http.get(f"{API}/tasks/{t['id']}", headers={"X-User-Id": alice.user_id})
    assert r.status_code == 404
    r = bob.http.get(f"{API}/tasks", params={"user_id": alice.user_id, "status": "all"})
    assert r.status_code == 200
    assert t["id"] not in {x["id"] for x in r.json()["items"]}
    # a token crafted for alice's id (with the right secret) does reach her task: the sub decides
    r = bob.http.get(f"{API}/tasks/{t['id']}", headers={"Authorization": f"Bearer {make_token(alice.user_id)}"})
    assert r.status_code == 200

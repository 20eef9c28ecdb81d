"""The public HTTP contract of the task API (ARCHITECTURE §3), exercised over real HTTP.

Every test signs in as freshly registered users (``alice`` lives in Europe/Berlin, ``bob`` in
America/New_York), so lists and tags only ever hold what the test itself created.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.fix_api import UserClient, fill_audit, register

pytestmark = pytest.mark.e2e

API = "/api/v1"
PASSWORD = "correct horse battery"
TASK_KEYS = {
    "id",
    "title",
    "description",
    "status",
    "priority",
    "tags",
    "due_at",
    "all_day",
    "timezone",
    "recurrence",
    "series_id",
    "occurrence",
    "next_due_at",
    "reminders",
    "created_at",
    "updated_at",
    "completed_at",
    "version",
}
REMINDER_KEYS = {"id", "offset_minutes", "at", "fire_at", "status"}


# -- helpers -----------------------------------------------------------------------------------


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is ``status`` with the one error body of the contract; returns the error."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "details"}, err
    assert isinstance(err["code"], str) and err["code"]
    assert isinstance(err["message"], str) and err["message"]
    assert isinstance(err["details"], list)
    if code is not None:
        assert err["code"] == code, err
    return dict(err)


def ts(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.tzinfo is not None, f"{value} has no UTC offset"
    return parsed


def listing(client: UserClient, **params: Any) -> list[dict[str, Any]]:
    """One page of GET /tasks (sorted by title unless told otherwise)."""
    params.setdefault("sort", "title")
    params.setdefault("limit", 200)
    r = client.http.get(f"{API}/tasks", params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"items", "next_cursor"}
    return list(body["items"])


def titles(client: UserClient, **params: Any) -> list[str]:
    return [t["title"] for t in listing(client, **params)]


def walk(client: UserClient, **params: Any) -> list[str]:
    """All pages of GET /tasks following next_cursor; returns the ids in order."""
    ids: list[str] = []
    cursor: str | None = None
    for _ in range(50):
        r = client.http.get(f"{API}/tasks", params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= params.get("limit", 50)
        ids += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids
    raise AssertionError("pagination never ended")


# -- health, OpenAPI, error shape --------------------------------------------------------------


def test_health_and_readiness(api_url: str) -> None:
    assert httpx.get(f"{api_url}/healthz").status_code == 200
    r = httpx.get(f"{api_url}/readyz")
    assert r.status_code == 200
    assert r.json()["ready"] is True


def test_openapi_lists_every_api_path(api_url: str) -> None:
    r = httpx.get(f"{api_url}/openapi.json")
    assert r.status_code == 200
    paths = r.json()["paths"]
    expected = {
        "/api/v1/auth/register": {"post"},
        "/api/v1/auth/login": {"post"},
        "/api/v1/me": {"get", "patch"},
        "/api/v1/tasks": {"get", "post"},
        "/api/v1/tasks/{task_id}": {"get", "patch", "delete"},
        "/api/v1/tasks/{task_id}/complete": {"post"},
        "/api/v1/tasks/{task_id}/reopen": {"post"},
        "/api/v1/tags": {"get"},
        "/api/v1/audit": {"get"},
    }
    for path, methods in expected.items():
        assert path in paths, f"{path} missing from /openapi.json"
        assert methods <= set(paths[path]), (path, set(paths[path]))


def test_unknown_route_and_method_use_the_error_shape(alice: UserClient) -> None:
    assert_error(alice.http.get(f"{API}/nope"), 404, "not_found")
    t = alice.create(title="x")
    assert_error(alice.http.put(f"{API}/tasks/{t['id']}", json={"title": "y"}), 405)


# -- accounts ----------------------------------------------------------------------------------


def test_register_returns_user_and_working_token(api_url: str) -> None:
    email = f"Reg.{uuid.uuid4().hex[:8]}@Example.com"
    r = httpx.post(f"{api_url}{API}/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    body = r.json()
    assert {"user", "access_token"} <= set(body)
    user = body["user"]
    assert set(user) == {"id", "email", "timezone", "created_at"}
    uuid.UUID(user["id"])
    assert user["email"] == email
    assert user["timezone"] == "UTC"  # the default when none is given
    ts(user["created_at"])
    me = httpx.get(f"{api_url}{API}/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == user["id"]


def test_register_duplicate_email_is_409_case_insensitively(api_url: str, alice: UserClient) -> None:
    for variant in (alice.email, alice.email.upper(), f"  {alice.email.capitalize()} "):
        r = httpx.post(f"{api_url}{API}/auth/register", json={"email": variant, "password": "another password"})
        assert_error(r, 409, "conflict")
    # the original account still signs in with its own password
    r = httpx.post(f"{api_url}{API}/auth/login", json={"email": alice.email, "password": PASSWORD})
    assert r.status_code == 200


def test_login_returns_bearer_token(api_url: str, alice: UserClient) -> None:
    r = httpx.post(f"{api_url}{API}/auth/login", json={"email": alice.email.upper(), "password": PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    me = httpx.get(f"{api_url}{API}/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["id"] == alice.user_id


def test_login_wrong_password_or_unknown_email_is_401(api_url: str, alice: UserClient) -> None:
    wrong = assert_error(
        httpx.post(f"{api_url}{API}/auth/login", json={"email": alice.email, "password": "wrong password"}),
        401,
        "unauthorized",
    )
    unknown = assert_error(
        httpx.post(f"{api_url}{API}/auth/login", json={"email": "nobody@example.com", "password": PASSWORD}),
        401,
        "unauthorized",
    )
    assert wrong["message"] == unknown["message"]  # does not reveal which e-mails exist


def test_login_is_throttled_after_ten_failures(api_url: str) -> None:
    user = register(api_url)
    try:
        url = f"{api_url}{API}/auth/login"
        for _ in range(10):
            assert_error(httpx.post(url, json={"email": user.email, "password": "wrong password"}), 401)
        r = httpx.post(url, json={"email": user.email, "password": "wrong password"})
        assert_error(r, 429, "too_many_requests")
        assert 0 < int(r.headers["Retry-After"]) <= 300
        # while throttled even the right password is refused
        r = httpx.post(url, json={"email": user.email, "password": PASSWORD})
        assert_error(r, 429)
        assert "Retry-After" in r.headers
    finally:
        user.http.close()


def test_me_get_and_patch_timezone(alice: UserClient) -> None:
    r = alice.http.get(f"{API}/me")
    assert r.status_code == 200
    me = r.json()
    assert (me["id"], me["email"], me["timezone"]) == (alice.user_id, alice.email, "Europe/Berlin")
    r = alice.http.patch(f"{API}/me", json={"timezone": "Asia/Tokyo"})
    assert r.status_code == 200, r.text
    assert r.json()["timezone"] == "Asia/Tokyo"
    assert alice.http.get(f"{API}/me").json()["timezone"] == "Asia/Tokyo"
    # new tasks without a zone take the user's new zone
    t = alice.create(title="tokyo", due_at="2030-01-01T00:00:00Z")
    assert t["timezone"] == "Asia/Tokyo"
    assert t["due_at"] == "2030-01-01T09:00:00+09:00"


# -- create ------------------------------------------------------------------------------------


def test_create_returns_full_task_with_location_and_etag(alice: UserClient) -> None:
    before = datetime.now(UTC) - timedelta(seconds=5)
    r = alice.http.post(
        f"{API}/tasks",
        json={
            "title": "  Buy   groceries ",
            "description": "milk, eggs",
            "priority": "high",
            "tags": ["#Home", "Errands", "home"],
            "due_at": "2030-03-10T09:00:00Z",
        },
    )
    assert r.status_code == 201, r.text
    t = r.json()
    assert set(t) == TASK_KEYS
    uuid.UUID(t["id"])
    assert r.headers["Location"] == f"/api/v1/tasks/{t['id']}"
    assert r.headers["ETag"] == '"1"'
    assert t["title"] == "Buy groceries"
    assert t["description"] == "milk, eggs"
    assert t["status"] == "open"
    assert t["priority"] == "high"
    assert t["tags"] == ["home", "errands"]  # lower-case, no '#', de-duplicated, order kept
    assert t["timezone"] == "Europe/Berlin"  # alice's zone
    assert t["due_at"] == "2030-03-10T10:00:00+01:00"  # the same instant, in the task's zone
    assert t["all_day"] is False
    assert t["recurrence"] is None and t["series_id"] is None and t["next_due_at"] is None
    assert t["occurrence"] == 1
    assert t["reminders"] == []
    assert t["completed_at"] is None
    assert t["version"] == 1
    created = ts(t["created_at"])
    assert before <= created <= datetime.now(UTC) + timedelta(seconds=5)
    assert ts(t["updated_at"]) == created
    # Location leads to the same task
    got = alice.http.get(r.headers["Location"])
    assert got.status_code == 200
    assert got.json() == t
    assert got.headers["ETag"] == '"1"'


def test_create_minimal_task_defaults(alice: UserClient) -> None:
    t = alice.create(title="Just a title")
    assert t["description"] == ""
    assert t["priority"] == "none"
    assert t["tags"] == []
    assert t["due_at"] is None
    assert t["all_day"] is False
    assert t["timezone"] == "Europe/Berlin"


def test_create_with_explicit_timezone_expresses_due_in_it(alice: UserClient) -> None:
    t = alice.create(title="NY call", due_at="2030-07-01T15:00:00+02:00", timezone="America/New_York")
    assert t["timezone"] == "America/New_York"
    assert t["due_at"] == "2030-07-01T09:00:00-04:00"


def test_create_all_day_with_bare_date(alice: UserClient) -> None:
    t = alice.create(title="Holiday", due_at="2030-03-11", all_day=True)
    assert t["all_day"] is True
    assert t["due_at"] == "2030-03-11T00:00:00+01:00"  # local midnight of that date in the task's zone


def test_create_with_bare_date_is_all_day_without_saying_so(alice: UserClient) -> None:
    r = alice.http.post(f"{API}/tasks", json={"title": "Holiday", "due_at": "2030-03-11"})
    assert r.status_code == 201, r.text
    assert r.json()["all_day"] is True
    assert r.json()["due_at"] == "2030-03-11T00:00:00+01:00"


def test_create_recurring_task_previews_next_due_on_wall_clock(alice: UserClient) -> None:
    # weekly at 09:00 Berlin across the start of summer time (2030-03-31): stays 09:00 local
    t = alice.create(
        title="Team sync", due_at="2030-03-25T09:00:00+01:00", recurrence={"rrule": "FREQ=WEEKLY;BYDAY=MO"}
    )
    assert t["recurrence"] == {"rrule": "FREQ=WEEKLY;BYDAY=MO", "anchor": "schedule"}
    assert t["series_id"] == t["id"]
    assert t["occurrence"] == 1
    assert t["next_due_at"] == "2030-04-01T09:00:00+02:00"
    c = alice.create(
        title="Water plants",
        due_at="2030-01-10T08:00:00+01:00",
        recurrence={"rrule": "FREQ=DAILY;INTERVAL=3", "anchor": "completion"},
    )
    assert c["recurrence"]["anchor"] == "completion"
    assert c["next_due_at"] is not None


def test_create_reminders_fire_before_due(alice: UserClient) -> None:
    t = alice.create(
        title="Dentist",
        due_at="2030-05-02T14:00:00+02:00",
        reminders=[{"offset_minutes": 30}, {"offset_minutes": 1440}, {"at": "2030-05-01T06:00:00Z"}],
    )
    rems = t["reminders"]
    assert len(rems) == 3
    assert all(set(r) == REMINDER_KEYS for r in rems)
    assert len({r["id"] for r in rems}) == 3
    assert all(r["status"] == "pending" for r in rems)
    by_offset = {r["offset_minutes"]: r for r in rems}
    assert ts(by_offset[30]["fire_at"]) == ts("2030-05-02T13:30:00+02:00")
    assert ts(by_offset[1440]["fire_at"]) == ts("2030-05-01T14:00:00+02:00")
    absolute = by_offset[None]
    assert ts(absolute["at"]) == ts("2030-05-01T06:00:00Z")
    assert ts(absolute["fire_at"]) == ts("2030-05-01T06:00:00Z")
    assert absolute["fire_at"].endswith("+02:00")  # expressed in the task's zone


def test_idempotency_key_replays_the_same_task(alice: UserClient) -> None:
    key = f"create-{uuid.uuid4()}"
    body = {"title": "Pay rent", "tags": ["home"], "due_at": "2030-02-01T09:00:00+01:00"}
    first = alice.http.post(f"{API}/tasks", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    second = alice.http.post(f"{API}/tasks", json=body, headers={"Idempotency-Key": key})
    assert second.status_code == 201, second.text
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert second.headers["Location"] == first.headers["Location"]
    assert titles(alice, status="all") == ["Pay rent"]
    # the same key with another body is a conflict and creates nothing
    other = alice.http.post(f"{API}/tasks", json={**body, "title": "Pay bills"}, headers={"Idempotency-Key": key})
    assert_error(other, 409, "conflict")
    assert titles(alice, status="all") == ["Pay rent"]
    # without a key, the same body is a new task
    alice.create(**body)
    assert titles(alice, status="all") == ["Pay rent", "Pay rent"]


def test_idempotency_key_under_concurrent_retries_creates_one_task(alice: UserClient) -> None:
    key = f"burst-{uuid.uuid4()}"
    headers = {"Authorization": f"Bearer {alice.token}", "Idempotency-Key": key}
    url = str(alice.http.base_url).rstrip("/") + f"{API}/tasks"

    def post(_: int) -> httpx.Response:
        return httpx.post(url, json={"title": "Once only"}, headers=headers, timeout=30)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(post, range(6)))
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum("Idempotent-Replayed" not in r.headers for r in responses) == 1
    assert titles(alice, status="all") == ["Once only"]


# -- read, update ------------------------------------------------------------------------------


def test_get_task_by_id(alice: UserClient) -> None:
    t = alice.create(title="Read me", tags=["x"])
    r = alice.http.get(f"{API}/tasks/{t['id']}")
    assert r.status_code == 200
    assert r.json() == t
    assert r.headers["ETag"] == '"1"'
    assert_error(alice.http.get(f"{API}/tasks/{uuid.uuid4()}"), 404, "not_found")


def test_patch_changes_only_given_fields(alice: UserClient) -> None:
    t = alice.create(title="Draft", description="keep me", priority="low", tags=["a"], due_at="2030-01-01T09:00:00Z")
    r = alice.http.patch(f"{API}/tasks/{t['id']}", json={"title": "Final", "tags": ["#B", "c"]})
    assert r.status_code == 200, r.text
    u = r.json()
    assert u["title"] == "Final"
    assert u["tags"] == ["b", "c"]
    for same in ("description", "priority", "due_at", "all_day", "timezone", "created_at", "id"):
        assert u[same] == t[same], same
    assert u["version"] == 2
    assert r.headers["ETag"] == '"2"'
    assert ts(u["updated_at"]) > ts(t["updated_at"])
    assert alice.http.get(f"{API}/tasks/{t['id']}").json() == u


def test_patch_null_clears_fields(alice: UserClient) -> None:
    t = alice.create(
        title="Full",
        description="text",
        priority="high",
        tags=["a", "b"],
        due_at="2030-01-01T09:00:00Z",
        recurrence={"rrule": "FREQ=DAILY"},
    )
    r = alice.http.patch(f"{API}/tasks/{t['id']}", json={"recurrence": None})
    assert r.status_code == 200, r.text
    assert r.json()["recurrence"] is None
    assert r.json()["next_due_at"] is None
    r = alice.http.patch(
        f"{API}/tasks/{t['id']}", json={"description": None, "priority": None, "tags": None, "due_at": None}
    )
    assert r.status_code == 200, r.text
    u = r.json()
    assert u["description"] == ""
    assert u["priority"] == "none"
    assert u["tags"] == []
    assert u["due_at"] is None
    assert u["all_day"] is False
    assert u["title"] == "Full"


def test_patch_timezone_keeps_the_instant(alice: UserClient) -> None:
    t = alice.create(title="Call", due_at="2030-01-01T09:00:00Z")
    r = alice.http.patch(f"{API}/tasks/{t['id']}", json={"timezone": "Asia/Tokyo"})
    assert r.status_code == 200, r.text
    assert r.json()["timezone"] == "Asia/Tokyo"
    assert r.json()["due_at"] == "2030-01-01T18:00:00+09:00"


def test_patch_due_moves_offset_reminders(alice: UserClient) -> None:
    t = alice.create(title="Meet", due_at="2030-01-01T09:00:00Z", reminders=[{"offset_minutes": 15}])
    r = alice.http.patch(f"{API}/tasks/{t['id']}", json={"due_at": "2030-02-01T12:00:00Z"})
    assert r.status_code == 200, r.text
    [rem] = r.json()["reminders"]
    assert rem["offset_minutes"] == 15
    assert ts(rem["fire_at"]) == ts("2030-02-01T11:45:00Z")
    assert rem["status"] == "pending"
    # replacing the reminders
    r = alice.http.patch(f"{API}/tasks/{t['id']}", json={"reminders": [{"offset_minutes": 60}]})
    assert [(x["offset_minutes"], ts(x["fire_at"])) for x in r.json()["reminders"]] == [
        (60, ts("2030-02-01T11:00:00Z"))
    ]


def test_patch_with_if_match(alice: UserClient) -> None:
    t = alice.create(title="v1")
    url = f"{API}/tasks/{t['id']}"
    r = alice.http.patch(url, json={"title": "v2"}, headers={"If-Match": '"1"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    r = alice.http.patch(url, json={"title": "v3"}, headers={"If-Match": 'W/"2"'})
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 3
    # stale version: 412, and nothing changes
    err = assert_error(alice.http.patch(url, json={"title": "lost update"}, headers={"If-Match": '"2"'}), 412)
    assert err["code"] == "precondition_failed"
    now = alice.http.get(url).json()
    assert now["title"] == "v3" and now["version"] == 3
    # a malformed If-Match is a client error, and nothing changes
    assert_error(alice.http.patch(url, json={"title": "x"}, headers={"If-Match": "yesterday"}), 400)
    assert alice.http.get(url).json() == now


def test_stale_if_match_on_complete_and_delete_is_412(alice: UserClient) -> None:
    t = alice.create(title="guarded")
    url = f"{API}/tasks/{t['id']}"
    alice.http.patch(url, json={"title": "guarded 2"})
    assert_error(alice.http.post(f"{url}/complete", headers={"If-Match": '"1"'}), 412, "precondition_failed")
    assert_error(alice.http.delete(url, headers={"If-Match": '"1"'}), 412, "precondition_failed")
    now = alice.http.get(url)
    assert now.status_code == 200
    assert now.json()["status"] == "open"
    assert alice.http.delete(url, headers={"If-Match": '"2"'}).status_code == 204


# -- complete, reopen, delete ------------------------------------------------------------------


def test_complete_and_reopen(alice: UserClient) -> None:
    t = alice.create(
        title="Finish report",
        due_at="2030-06-01T17:00:00+02:00",
        reminders=[{"offset_minutes": 60}, {"at": "2030-05-31T08:00:00Z"}],
    )
    url = f"{API}/tasks/{t['id']}"
    r = alice.http.post(f"{url}/complete")
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == "done"
    completed = ts(done["completed_at"])
    assert abs(completed - datetime.now(UTC)) < timedelta(minutes=1)
    assert [x["status"] for x in done["reminders"]] == ["cancelled", "cancelled"]
    assert done["version"] == 2
    assert r.headers["ETag"] == '"2"'
    assert titles(alice) == []
    assert titles(alice, status="done") == ["Finish report"]
    # completing again changes nothing
    again = alice.http.post(f"{url}/complete")
    assert again.status_code == 200
    assert again.json()["completed_at"] == done["completed_at"]
    assert again.json()["version"] == 2

    r = alice.http.post(f"{url}/reopen")
    assert r.status_code == 200, r.text
    reopened = r.json()
    assert reopened["status"] == "open"
    assert reopened["completed_at"] is None
    assert [x["status"] for x in reopened["reminders"]] == ["pending", "pending"]
    assert [x["fire_at"] for x in reopened["reminders"]] == [x["fire_at"] for x in t["reminders"]]
    assert titles(alice) == ["Finish report"]


def test_complete_recurring_task_marks_it_done(alice: UserClient) -> None:
    t = alice.create(title="Daily standup", due_at="2030-01-07T09:30:00+01:00", recurrence={"rrule": "FREQ=DAILY"})
    r = alice.http.post(f"{API}/tasks/{t['id']}/complete")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "done"
    assert r.json()["completed_at"] is not None
    assert r.json()["recurrence"] == t["recurrence"]


def test_reminders_follow_edits_made_while_done(alice: UserClient) -> None:
    t = alice.create(title="Edit when done", due_at="2030-01-01T09:00:00Z", reminders=[{"offset_minutes": 10}])
    url = f"{API}/tasks/{t['id']}"
    assert alice.http.post(f"{url}/complete").status_code == 200
    r = alice.http.patch(url, json={"due_at": "2030-02-01T09:00:00Z", "reminders": [{"offset_minutes": 60}]})
    assert r.status_code == 200, r.text
    assert [x["offset_minutes"] for x in r.json()["reminders"]] == [60]
    reopened = alice.http.post(f"{url}/reopen").json()
    [rem] = reopened["reminders"]
    assert rem["offset_minutes"] == 60
    assert ts(rem["fire_at"]) == ts("2030-02-01T08:00:00Z")
    assert rem["status"] == "pending"


def test_delete_then_404(alice: UserClient) -> None:
    keep = alice.create(title="keep", tags=["shared"])
    t = alice.create(title="bye", tags=["shared", "gone"])
    url = f"{API}/tasks/{t['id']}"
    r = alice.http.delete(url)
    assert r.status_code == 204
    assert r.content == b""
    assert_error(alice.http.get(url), 404, "not_found")
    assert_error(alice.http.delete(url), 404, "not_found")
    assert_error(alice.http.patch(url, json={"title": "zombie"}), 404, "not_found")
    assert_error(alice.http.post(f"{url}/complete"), 404, "not_found")
    assert [x["id"] for x in listing(alice, status="all")] == [keep["id"]]
    assert {x["name"] for x in alice.http.get(f"{API}/tags").json()} == {"shared"}


# -- tags, audit -------------------------------------------------------------------------------


def test_tags_count_all_and_open(alice: UserClient) -> None:
    assert alice.http.get(f"{API}/tags").json() == []
    alice.create(title="a", tags=["#Home", "work"])
    alice.create(title="b", tags=["home"])
    done = alice.create(title="c", tags=["home", "errands"])
    alice.http.post(f"{API}/tasks/{done['id']}/complete")
    r = alice.http.get(f"{API}/tags")
    assert r.status_code == 200
    tags = r.json()
    assert all(set(x) == {"name", "count", "open_count"} for x in tags)
    assert sorted((x["name"], x["count"], x["open_count"]) for x in tags) == [
        ("errands", 1, 0),
        ("home", 3, 2),
        ("work", 1, 1),
    ]


def test_audit_lists_the_callers_trail(alice: UserClient, pg_url: str) -> None:
    r = alice.http.get(f"{API}/audit")
    assert r.status_code == 200
    assert r.json() == {"items": []}
    t = alice.create(title="audited")
    other = alice.create(title="other")
    alice.http.patch(f"{API}/tasks/{t['id']}", json={"title": "audited 2"})
    r = alice.http.get(f"{API}/audit", params={"task_id": t["id"]})
    assert r.status_code == 200
    assert isinstance(r.json()["items"], list)

    fill_audit(pg_url, alice.user_id)  # what the audit_append consumer does
    items = alice.http.get(f"{API}/audit", params={"task_id": t["id"]}).json()["items"]
    assert [x["action"] for x in items] == ["task.updated", "task.created"]  # newest first
    assert all(x["task_id"] == t["id"] and x["channel"] == "api" for x in items)
    assert items[0]["before"]["title"] == "audited" and items[0]["after"]["title"] == "audited 2"
    everything = alice.http.get(f"{API}/audit").json()["items"]
    assert {x["task_id"] for x in everything} == {t["id"], other["id"]}
    assert len(alice.http.get(f"{API}/audit", params={"limit": 1}).json()["items"]) == 1


# -- list: filters -----------------------------------------------------------------------------


@pytest.fixture
def seeded(alice: UserClient) -> UserClient:
    """Six tasks of alice, one of them done and one without a due date."""
    alice.create(title="Buy groceries", tags=["home", "errands"], priority="high", due_at="2030-01-10T09:00:00Z")
    alice.create(title="Team meeting notes", tags=["work"], priority="medium", due_at="2030-01-20T09:00:00Z")
    alice.create(
        title="Pay rent",
        tags=["home", "finance"],
        priority="low",
        due_at="2030-02-01T09:00:00Z",
        recurrence={"rrule": "FREQ=MONTHLY"},
    )
    alice.create(title="Read book", description="a novel by Tolstoy")
    alice.create(title="Renew passport", tags=["work"], due_at="2020-01-01T09:00:00Z")
    done = alice.create(title="Sort photos", tags=["home"], due_at="2021-01-01T09:00:00Z")
    assert alice.http.post(f"{API}/tasks/{done['id']}/complete").status_code == 200
    return alice


OPEN = ["Buy groceries", "Pay rent", "Read book", "Renew passport", "Team meeting notes"]


def test_filter_status(seeded: UserClient) -> None:
    assert titles(seeded) == OPEN
    assert titles(seeded, status="open") == OPEN
    assert titles(seeded, status="done") == ["Sort photos"]
    assert titles(seeded, status="all") == sorted([*OPEN, "Sort photos"])


def test_filter_priority(seeded: UserClient) -> None:
    assert titles(seeded, priority="high,medium") == ["Buy groceries", "Team meeting notes"]
    assert titles(seeded, priority="low") == ["Pay rent"]
    assert titles(seeded, priority="none") == ["Read book", "Renew passport"]


def test_filter_tags_any_and_all(seeded: UserClient) -> None:
    assert titles(seeded, tag="home") == ["Buy groceries", "Pay rent"]
    assert titles(seeded, tag="#HOME") == ["Buy groceries", "Pay rent"]
    assert titles(seeded, tag=["finance", "work"]) == ["Pay rent", "Renew passport", "Team meeting notes"]
    assert titles(seeded, tag=["finance", "work"], tag_mode="any") == titles(seeded, tag=["finance", "work"])
    assert titles(seeded, tag=["home", "finance"], tag_mode="all") == ["Pay rent"]
    assert titles(seeded, tag=["home", "work"], tag_mode="all") == []
    assert titles(seeded, tag="home", status="all") == ["Buy groceries", "Pay rent", "Sort photos"]


def test_filter_due_window_honours_utc_offsets(seeded: UserClient) -> None:
    # "Buy groceries" is due 2030-01-10T09:00Z = 10:00+01:00; httpx encodes '+' as %2B
    assert "Buy groceries" in titles(seeded, due_before="2030-01-10T10:30:00+01:00")
    assert "Buy groceries" not in titles(seeded, due_before="2030-01-10T09:30:00+01:00")
    assert "Buy groceries" in titles(seeded, due_after="2030-01-10T03:30:00-05:00")
    assert "Buy groceries" not in titles(seeded, due_after="2030-01-10T04:30:00-05:00")
    assert titles(seeded, due_before="2030-01-15T00:00:00+01:00") == ["Buy groceries", "Renew passport"]
    assert titles(seeded, due_after="2030-01-15T00:00:00+01:00") == ["Pay rent", "Team meeting notes"]
    assert titles(seeded, due_after="2030-01-15T00:00:00Z", due_before="2030-01-25T00:00:00Z") == ["Team meeting notes"]


def test_filter_overdue_has_due_recurring(seeded: UserClient) -> None:
    assert titles(seeded, overdue="true") == ["Renew passport"]  # the done one is not overdue
    assert titles(seeded, overdue="false") == ["Buy groceries", "Pay rent", "Read book", "Team meeting notes"]
    assert titles(seeded, has_due="false") == ["Read book"]
    assert titles(seeded, has_due="true") == ["Buy groceries", "Pay rent", "Renew passport", "Team meeting notes"]
    assert titles(seeded, recurring="true") == ["Pay rent"]
    assert "Pay rent" not in titles(seeded, recurring="false")


def test_overdue_all_day_task_is_not_overdue_on_its_day(alice: UserClient) -> None:
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo("Europe/Berlin")).date()
    alice.create(title="today", due_at=today.isoformat(), all_day=True)
    alice.create(title="last week", due_at=(today - timedelta(days=7)).isoformat(), all_day=True)
    assert titles(alice, overdue="true") == ["last week"]


def test_keyword_search_words_prefixes_and_typos(seeded: UserClient) -> None:
    assert titles(seeded, q="groceries") == ["Buy groceries"]
    assert titles(seeded, q="groc") == ["Buy groceries"]  # prefix
    assert titles(seeded, q="meetnig") == ["Team meeting notes"]  # typo
    assert titles(seeded, q="tolstoy") == ["Read book"]  # description
    assert titles(seeded, q="team notes") == ["Team meeting notes"]  # every word
    assert titles(seeded, q="zebra") == []
    assert titles(seeded, q="photos") == []  # done tasks only with status
    assert titles(seeded, q="photos", status="done") == ["Sort photos"]
    # the default order with q is relevance; it answers too
    r = seeded.http.get(f"{API}/tasks", params={"q": "groc"})
    assert r.status_code == 200
    assert [t["title"] for t in r.json()["items"]] == ["Buy groceries"]


# -- list: sorting and pagination --------------------------------------------------------------


@pytest.fixture
def dated(alice: UserClient) -> UserClient:
    """Five dated tasks whose order differs per sort key."""
    alice.create(title="delta", priority="low", due_at="2030-01-04T09:00:00+01:00")
    alice.create(title="Alpha", priority="none", due_at="2030-01-02T09:00:00+01:00")
    alice.create(title="echo", priority="high", due_at="2030-01-05T09:00:00Z", timezone="Asia/Tokyo")
    alice.create(title="Charlie", priority="medium", due_at="2030-01-01T09:00:00-05:00")
    alice.create(title="bravo", priority="high", due_at="2030-01-03T09:00:00+01:00")
    return alice


def test_sort_by_due_both_directions(dated: UserClient) -> None:
    assert titles(dated, sort="due") == ["Charlie", "Alpha", "bravo", "delta", "echo"]
    assert titles(dated, sort="-due") == ["echo", "delta", "bravo", "Alpha", "Charlie"]
    assert titles(dated) != titles(dated, sort="due")  # titles() sorts by title unless told
    r = dated.http.get(f"{API}/tasks")  # the default order is by due
    assert [t["title"] for t in r.json()["items"]] == ["Charlie", "Alpha", "bravo", "delta", "echo"]


def test_sort_by_priority_title_created(dated: UserClient) -> None:
    assert titles(dated, sort="priority") == ["bravo", "echo", "Charlie", "delta", "Alpha"]  # ties by due
    rev = [t["priority"] for t in listing(dated, sort="-priority")]
    assert rev == ["none", "low", "medium", "high", "high"]
    assert titles(dated, sort="title") == ["Alpha", "bravo", "Charlie", "delta", "echo"]  # case-insensitive
    assert titles(dated, sort="-title") == ["echo", "delta", "Charlie", "bravo", "Alpha"]
    assert titles(dated, sort="created") == ["delta", "Alpha", "echo", "Charlie", "bravo"]
    assert titles(dated, sort="-created") == ["bravo", "Charlie", "echo", "Alpha", "delta"]


def test_sort_by_updated(dated: UserClient) -> None:
    first = listing(dated, sort="created")[0]
    assert first["title"] == "delta"
    dated.http.patch(f"{API}/tasks/{first['id']}", json={"description": "touched"})
    assert titles(dated, sort="updated")[-1] == "delta"
    assert titles(dated, sort="-updated")[0] == "delta"


def test_default_list_with_an_undated_task(alice: UserClient) -> None:
    alice.create(title="Someday")
    alice.create(title="Soon", due_at="2030-01-01T09:00:00Z")
    r = alice.http.get(f"{API}/tasks")
    assert r.status_code == 200, r.text
    assert [t["title"] for t in r.json()["items"]] == ["Soon", "Someday"]


def test_sort_by_due_puts_undated_tasks_last_both_directions(alice: UserClient) -> None:
    alice.create(title="never")
    alice.create(title="late", due_at="2030-02-01T09:00:00Z")
    alice.create(title="early", due_at="2030-01-01T09:00:00Z")
    assert titles(alice, sort="due") == ["early", "late", "never"]
    assert titles(alice, sort="-due") == ["late", "early", "never"]
    assert titles(alice, sort="priority") == ["early", "late", "never"]


def test_cursor_pagination_walks_everything_once(dated: UserClient) -> None:
    dated.create(title="foxtrot")  # an undated task, listed by title and created
    for sort in ("created", "-created", "title", "-title", "updated"):
        full = [t["id"] for t in listing(dated, sort=sort)]
        assert len(full) == 6
        assert walk(dated, sort=sort, limit=2) == full, sort
    r = dated.http.get(f"{API}/tasks", params={"sort": "title", "limit": 6})
    assert r.json()["next_cursor"] is None


def test_cursor_pagination_with_ties_and_filters(alice: UserClient) -> None:
    for i in range(7):
        alice.create(title=f"same {i}", priority="high" if i % 2 else "low", due_at="2030-01-01T09:00:00Z")
    ids = walk(alice, sort="due", limit=2)
    assert len(ids) == 7 and len(set(ids)) == 7
    assert walk(alice, sort="-due", limit=2) == [t["id"] for t in listing(alice, sort="-due")]
    prio = walk(alice, sort="priority", limit=3)
    assert prio == [t["id"] for t in listing(alice, sort="priority")]
    assert len(set(prio)) == 7
    high = walk(alice, sort="title", limit=2, priority="high")
    assert len(high) == 3 and len(set(high)) == 3


def test_cursor_pagination_by_due_with_undated_tasks(alice: UserClient) -> None:
    for i in range(3):
        alice.create(title=f"dated {i}", due_at=f"2030-01-0{i + 1}T09:00:00Z")
        alice.create(title=f"undated {i}")
    ids = walk(alice, sort="due", limit=2)
    assert len(ids) == 6 and len(set(ids)) == 6

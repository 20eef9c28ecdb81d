"""Bad input (ARCHITECTURE §6): a clear 4xx — 422 validation_error naming the field, or 400
malformed_json — and nothing changes: the task list, the tags and the task itself stay as they were."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.fix_api import UserClient, register

pytestmark = pytest.mark.e2e

API = "/api/v1"
DUE = "2030-01-01T09:00:00+00:00"


def assert_error(r: httpx.Response, status: int, code: str, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"}, body
    err = body["error"]
    assert set(err) == {"code", "message", "details"}, err
    assert err["code"] == code, err
    assert isinstance(err["message"], str) and err["message"], err
    assert isinstance(err["details"], list), err
    if field is not None:
        fields = [d.get("field", "") for d in err["details"]]
        assert any(f == field or f.startswith(f"{field}.") for f in fields), (field, err)
    return dict(err)


def state(client: UserClient) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Everything the user could see: all tasks (with their reminders and versions) and the tags."""
    r = client.http.get(f"{API}/tasks", params={"status": "all", "sort": "created", "limit": 200})
    assert r.status_code == 200, r.text
    tags = client.http.get(f"{API}/tags")
    assert tags.status_code == 200
    return r.json()["items"], tags.json()


@pytest.fixture(scope="module")
def alice(api_url: str) -> Iterator[UserClient]:
    """One user for the whole module (registering is slow): no test here may change what it has."""
    c = register(api_url, "Europe/Berlin")
    yield c
    c.http.close()


@pytest.fixture(scope="module")
def existing(alice: UserClient) -> dict[str, Any]:
    return alice.create(
        title="Existing task",
        description="keep",
        priority="medium",
        tags=["keep"],
        due_at=DUE,
        reminders=[{"offset_minutes": 15}],
    )


def rrule(rule: str) -> dict[str, Any]:
    return {"title": "r", "due_at": DUE, "recurrence": {"rrule": rule}}


# (id, body, status, code, field)
CREATE_CASES: list[tuple[str, Any, int, str, str | None]] = [
    ("title missing", {"description": "no title"}, 422, "validation_error", "title"),
    ("title empty", {"title": ""}, 422, "validation_error", "title"),
    ("title blank", {"title": "   \t "}, 422, "validation_error", "title"),
    ("title 501 chars", {"title": "x" * 501}, 422, "validation_error", "title"),
    ("description 20001 chars", {"title": "d", "description": "x" * 20_001}, 422, "validation_error", "description"),
    ("31 tags", {"title": "t", "tags": [f"tag{i}" for i in range(31)]}, 422, "validation_error", "tags"),
    ("tag of 51 chars", {"title": "t", "tags": ["a" * 51]}, 422, "validation_error", "tags"),
    ("empty tag", {"title": "t", "tags": ["#"]}, 422, "validation_error", "tags"),
    ("tag with space", {"title": "t", "tags": ["two words"]}, 422, "validation_error", "tags"),
    ("unknown time zone", {"title": "z", "timezone": "Mars/Olympus_Mons"}, 422, "validation_error", "timezone"),
    ("path as time zone", {"title": "z", "timezone": "../../etc/passwd"}, 422, "validation_error", "timezone"),
    ("rrule FREQ=SOMETIMES", rrule("FREQ=SOMETIMES"), 422, "validation_error", "recurrence"),
    ("rrule garbage", rrule("garbage"), 422, "validation_error", "recurrence"),
    ("rrule empty", rrule(""), 422, "validation_error", "recurrence"),
    (
        "recurrence anchor unknown",
        {**rrule("FREQ=DAILY"), "recurrence": {"rrule": "FREQ=DAILY", "anchor": "whenever"}},
        422,
        "validation_error",
        "recurrence",
    ),
    (
        "recurrence without due_at",
        {"title": "r", "recurrence": {"rrule": "FREQ=DAILY"}},
        422,
        "validation_error",
        "recurrence",
    ),
    ("unknown priority", {"title": "p", "priority": "urgent"}, 422, "validation_error", "priority"),
    ("title is a number", {"title": 5}, 422, "validation_error", "title"),
    ("tags is a string", {"title": "t", "tags": "x"}, 422, "validation_error", "tags"),
    ("all_day is a string", {"title": "t", "all_day": "yes"}, 422, "validation_error", "all_day"),
    ("due_at is a word", {"title": "t", "due_at": "tomorrow"}, 422, "validation_error", "due_at"),
    ("priority is a number", {"title": "t", "priority": 1}, 422, "validation_error", "priority"),
    ("unknown field", {"title": "t", "color": "red"}, 422, "validation_error", "color"),
    ("naive due_at", {"title": "t", "due_at": "2030-01-01T09:00:00"}, 422, "validation_error", "due_at"),
    (
        "11 reminders",
        {"title": "t", "due_at": DUE, "reminders": [{"offset_minutes": i} for i in range(11)]},
        422,
        "validation_error",
        "reminders",
    ),
    (
        "reminder with offset and at",
        {"title": "t", "due_at": DUE, "reminders": [{"offset_minutes": 5, "at": DUE}]},
        422,
        "validation_error",
        "reminders",
    ),
    ("reminder with neither", {"title": "t", "due_at": DUE, "reminders": [{}]}, 422, "validation_error", "reminders"),
    (
        "negative reminder offset",
        {"title": "t", "due_at": DUE, "reminders": [{"offset_minutes": -5}]},
        422,
        "validation_error",
        "reminders",
    ),
    (
        "offset reminder without due",
        {"title": "t", "reminders": [{"offset_minutes": 5}]},
        422,
        "validation_error",
        "reminders",
    ),
    (
        "naive reminder at",
        {"title": "t", "due_at": DUE, "reminders": [{"at": "2030-01-01T08:00:00"}]},
        422,
        "validation_error",
        "reminders",
    ),
    (
        "same reminder twice",
        {"title": "t", "due_at": DUE, "reminders": [{"offset_minutes": 5}, {"offset_minutes": 5}]},
        422,
        "validation_error",
        "reminders",
    ),
    ("body is a list", [{"title": "t"}], 422, "validation_error", None),
]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"), [c[1:] for c in CREATE_CASES], ids=[c[0] for c in CREATE_CASES]
)
def test_create_rejects_bad_input_and_creates_nothing(
    alice: UserClient, existing: dict[str, Any], body: Any, status: int, code: str, field: str | None
) -> None:
    before = state(alice)
    assert_error(alice.http.post(f"{API}/tasks", json=body), status, code, field)
    assert state(alice) == before


@pytest.mark.parametrize(
    "raw",
    [b'{"title": "x"', b"{title: 'x'}", b'{"title": "x",}', b"not json at all"],
    ids=["unterminated", "single quotes", "trailing comma", "prose"],
)
def test_malformed_json_is_400_and_creates_nothing(alice: UserClient, existing: dict[str, Any], raw: bytes) -> None:
    before = state(alice)
    r = alice.http.post(f"{API}/tasks", content=raw, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_json")
    assert state(alice) == before
    r = alice.http.patch(f"{API}/tasks/{existing['id']}", content=raw, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "malformed_json")
    assert state(alice) == before


def test_body_that_is_not_utf8_is_malformed_json(alice: UserClient, existing: dict[str, Any]) -> None:
    before = state(alice)
    r = alice.http.post(f"{API}/tasks", content=b'{"title": "\xff"}', headers={"Content-Type": "application/json"})
    assert state(alice) == before
    assert_error(r, 400, "malformed_json")


def test_bounds_themselves_are_accepted(alice: UserClient) -> None:
    """The control for the cases above: exactly at each bound is fine."""
    t = alice.create(
        title="x" * 500,
        description="y" * 20_000,
        tags=[f"t{i}" for i in range(29)] + ["a" * 50],
        due_at=DUE,
        reminders=[{"offset_minutes": i} for i in range(10)],
    )
    assert len(t["title"]) == 500
    assert len(t["description"]) == 20_000
    assert len(t["tags"]) == 30
    assert len(t["reminders"]) == 10


PATCH_CASES: list[tuple[str, Any, int, str, str | None]] = [
    ("title empty", {"title": ""}, 422, "validation_error", "title"),
    ("title null", {"title": None}, 422, "validation_error", "title"),
    ("title 501 chars", {"title": "x" * 501}, 422, "validation_error", "title"),
    ("description 20001 chars", {"description": "x" * 20_001}, 422, "validation_error", "description"),
    ("31 tags", {"tags": [f"tag{i}" for i in range(31)]}, 422, "validation_error", "tags"),
    ("tag of 51 chars", {"tags": ["a" * 51]}, 422, "validation_error", "tags"),
    ("unknown time zone", {"timezone": "Europe/Atlantis"}, 422, "validation_error", "timezone"),
    ("rrule FREQ=SOMETIMES", {"recurrence": {"rrule": "FREQ=SOMETIMES"}}, 422, "validation_error", "recurrence"),
    ("rrule garbage", {"recurrence": {"rrule": "garbage"}}, 422, "validation_error", "recurrence"),
    ("unknown priority", {"priority": "urgent"}, 422, "validation_error", "priority"),
    ("title is a number", {"title": 5}, 422, "validation_error", "title"),
    ("tags is a string", {"tags": "x"}, 422, "validation_error", "tags"),
    ("all_day is a string", {"all_day": "yes"}, 422, "validation_error", "all_day"),
    ("due_at is a word", {"due_at": "tomorrow"}, 422, "validation_error", "due_at"),
    ("naive due_at", {"due_at": "2030-01-01T09:00:00"}, 422, "validation_error", "due_at"),
    ("unknown field", {"status": "done"}, 422, "validation_error", "status"),
    ("11 reminders", {"reminders": [{"offset_minutes": i} for i in range(11)]}, 422, "validation_error", "reminders"),
    (
        "reminder with offset and at",
        {"reminders": [{"offset_minutes": 5, "at": DUE}]},
        422,
        "validation_error",
        "reminders",
    ),
    # the task has an offset reminder: dropping its due leaves the reminder without a reference
    ("clear due under an offset reminder", {"due_at": None}, 422, "validation_error", "reminders"),
    # a valid field next to an invalid one: all or nothing
    ("valid and invalid together", {"title": "renamed", "priority": "urgent"}, 422, "validation_error", "priority"),
]


@pytest.mark.parametrize(
    ("body", "status", "code", "field"), [c[1:] for c in PATCH_CASES], ids=[c[0] for c in PATCH_CASES]
)
def test_patch_rejects_bad_input_and_changes_nothing(
    alice: UserClient, existing: dict[str, Any], body: Any, status: int, code: str, field: str | None
) -> None:
    before = state(alice)
    task = alice.http.get(f"{API}/tasks/{existing['id']}").json()
    assert_error(alice.http.patch(f"{API}/tasks/{existing['id']}", json=body), status, code, field)
    assert state(alice) == before
    assert alice.http.get(f"{API}/tasks/{existing['id']}").json() == task


def test_recurring_task_cannot_lose_its_due(alice: UserClient) -> None:
    t = alice.create(title="weekly", due_at=DUE, recurrence={"rrule": "FREQ=WEEKLY"})
    assert_error(alice.http.patch(f"{API}/tasks/{t['id']}", json={"due_at": None}), 422, "validation_error")
    assert alice.http.get(f"{API}/tasks/{t['id']}").json() == t


QUERY_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("limit=0", {"limit": 0}, "limit"),
    ("limit=201", {"limit": 201}, "limit"),
    ("limit=-1", {"limit": -1}, "limit"),
    ("limit not a number", {"limit": "ten"}, "limit"),
    ("bad cursor", {"cursor": "not-a-cursor!!"}, "cursor"),
    ("base64 cursor of junk", {"cursor": "eyJmb28iOiAxfQ"}, "cursor"),
    ("bad sort", {"sort": "colour"}, "sort"),
    ("sort double minus", {"sort": "--due"}, "sort"),
    ("relevance without q", {"sort": "relevance"}, "sort"),
    ("bad status", {"status": "pending"}, "status"),
    ("bad priority", {"priority": "high,urgent"}, "priority"),
    ("bad tag_mode", {"tag_mode": "some"}, "tag_mode"),
    ("bad tag", {"tag": "two words"}, "tags"),
    ("naive due_before", {"due_before": "2030-01-01T00:00:00"}, "due_before"),
    ("due_after is a word", {"due_after": "tomorrow"}, "due_after"),
    ("overdue not a bool", {"overdue": "maybe"}, "overdue"),
    ("q too long", {"q": "x" * 201}, "q"),
]


@pytest.mark.parametrize(("params", "field"), [c[1:] for c in QUERY_CASES], ids=[c[0] for c in QUERY_CASES])
def test_list_rejects_bad_query(
    alice: UserClient, existing: dict[str, Any], params: dict[str, Any], field: str
) -> None:
    assert_error(alice.http.get(f"{API}/tasks", params=params), 422, "validation_error", field)


def test_cursor_of_another_sort_is_rejected(alice: UserClient) -> None:
    for i in range(3):
        alice.create(title=f"t{i}", due_at=DUE)
    page = alice.http.get(f"{API}/tasks", params={"sort": "title", "limit": 1}).json()
    assert page["next_cursor"]
    ok = alice.http.get(f"{API}/tasks", params={"sort": "title", "limit": 1, "cursor": page["next_cursor"]})
    assert ok.status_code == 200  # the control: it is a good cursor for its own sort
    r = alice.http.get(f"{API}/tasks", params={"sort": "created", "limit": 1, "cursor": page["next_cursor"]})
    assert_error(r, 422, "validation_error", "cursor")


@pytest.mark.parametrize("path", ["", "/complete", "/reopen"])
@pytest.mark.parametrize("task_id", ["not-a-uuid", "123", "00000000-0000-0000-0000-00000000000g"])
def test_invalid_uuid_in_path_is_422(alice: UserClient, existing: dict[str, Any], task_id: str, path: str) -> None:
    before = state(alice)
    methods = ["GET", "PATCH", "DELETE"] if path == "" else ["POST"]
    for method in methods:
        body = {"title": "x"} if method == "PATCH" else None
        r = alice.http.request(method, f"{API}/tasks/{task_id}{path}", json=body)
        assert_error(r, 422, "validation_error", "task_id")
    assert state(alice) == before


def test_audit_rejects_bad_task_id_and_limit(alice: UserClient) -> None:
    assert_error(alice.http.get(f"{API}/audit", params={"task_id": "nope"}), 422, "validation_error", "task_id")
    assert_error(alice.http.get(f"{API}/audit", params={"limit": 0}), 422, "validation_error", "limit")


def test_non_bearer_auth_header_is_401_and_creates_nothing(alice: UserClient, existing: dict[str, Any]) -> None:
    before = state(alice)
    with httpx.Client(base_url=alice.http.base_url) as anon:
        for value in ("Basic YWxpY2U6c2VjcmV0", f"Token {alice.token}", alice.token, f"Digest {alice.token}"):
            r = anon.post(f"{API}/tasks", json={"title": "sneaky"}, headers={"Authorization": value})
            assert_error(r, 401, "unauthorized")
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert state(alice) == before


def test_idempotency_key_too_long_or_empty_is_422(alice: UserClient, existing: dict[str, Any]) -> None:
    before = state(alice)
    for key in ("k" * 201, ""):
        r = alice.http.post(f"{API}/tasks", json={"title": "keyed"}, headers={"Idempotency-Key": key})
        assert_error(r, 422, "validation_error", "Idempotency-Key")
    assert state(alice) == before


def test_bad_input_does_not_burn_the_idempotency_key(alice: UserClient) -> None:
    key = f"k-{uuid.uuid4()}"
    bad = alice.http.post(f"{API}/tasks", json={"title": ""}, headers={"Idempotency-Key": key})
    assert_error(bad, 422, "validation_error", "title")
    good = alice.http.post(f"{API}/tasks", json={"title": "fixed"}, headers={"Idempotency-Key": key})
    assert good.status_code == 201, good.text
    assert "Idempotent-Replayed" not in good.headers


# -- accounts ----------------------------------------------------------------------------------

REGISTER_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("invalid email", {"email": "not-an-email", "password": "long enough pw"}, "email"),
    ("short password", {"password": "short"}, "password"),
    ("unknown time zone", {"password": "long enough pw", "timezone": "Moon/Tranquility"}, "timezone"),
    ("password missing", {}, "password"),
    ("unknown field", {"password": "long enough pw", "admin": True}, "admin"),
    ("password is a number", {"password": 12345678}, "password"),
]


@pytest.mark.parametrize(("body", "field"), [c[1:] for c in REGISTER_CASES], ids=[c[0] for c in REGISTER_CASES])
def test_register_rejects_bad_input_and_creates_no_account(api_url: str, body: dict[str, Any], field: str) -> None:
    email = f"bad{uuid.uuid4().hex[:10]}@example.com"
    r = httpx.post(f"{api_url}{API}/auth/register", json={"email": email, **body})
    assert_error(r, 422, "validation_error", field)
    # the e-mail is still free: nothing was created
    ok = httpx.post(f"{api_url}{API}/auth/register", json={"email": email, "password": "long enough pw"})
    assert ok.status_code == 201, ok.text


def test_patch_me_rejects_unknown_time_zone(alice: UserClient) -> None:
    for body in ({"timezone": "Europe/Nowhere"}, {"timezone": None}, {"timezone": ""}, {}):
        assert_error(alice.http.patch(f"{API}/me", json=body), 422, "validation_error", "timezone")
    assert alice.http.get(f"{API}/me").json()["timezone"] == "Europe/Berlin"


def test_login_rejects_malformed_body(api_url: str) -> None:
    url = f"{api_url}{API}/auth/login"
    assert_error(httpx.post(url, json={"email": "a@example.com"}), 422, "validation_error", "password")
    bad = httpx.post(url, content=b"{", headers={"Content-Type": "application/json"})
    assert_error(bad, 400, "malformed_json")


# -- input the database cannot store ---------------------------------------------------------


@pytest.mark.parametrize("body", [{"title": "nul\x00title"}, {"title": "ok", "description": "nul\x00"}])
def test_nul_character_is_a_validation_error(api_url: str, alice: UserClient, body: dict[str, Any]) -> None:
    before = state(alice)
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {alice.token}"}) as fresh:
        r = fresh.post(f"{API}/tasks", json=body)
    assert_error(r, 422, "validation_error")
    assert state(alice) == before


def test_nul_character_in_search_is_a_validation_error(api_url: str, alice: UserClient) -> None:
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {alice.token}"}) as fresh:
        r = fresh.get(f"{API}/tasks", params={"q": "meet\x00ing"})
    assert_error(r, 422, "validation_error", "q")


@pytest.mark.parametrize("due", ["9999-12-31T23:30:00-05:00", "0001-01-01T00:30:00+01:00"])
def test_due_at_out_of_range_is_a_validation_error(api_url: str, alice: UserClient, due: str) -> None:
    before = state(alice)
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {alice.token}"}) as fresh:
        r = fresh.post(f"{API}/tasks", json={"title": "far", "due_at": due})
    assert_error(r, 422, "validation_error", "due_at")
    assert state(alice) == before

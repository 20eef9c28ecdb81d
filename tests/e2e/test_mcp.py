"""The MCP server at /mcp over real HTTP, driven by the real ``mcp`` client (streamable HTTP, bearer header).

Every tool of the contract is called, with its error cases; identity comes only from the bearer token
(no token, a bad one or a foreign one is refused with 401, and bob never reaches alice's tasks);
what the tools did is checked again through the HTTP API, and the audit trail says channel "mcp".
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import httpx2
import jwt
import psycopg
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from agent_gateway.mcp_server import tool_schema_tokens, tool_schemas
from tests.fix_api import CONTRACT_TOOLS, UserClient, fill_audit, make_settings
from todo_core.domain.ids import new_id
from todo_core.notify import inbox

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

API = "/api/v1"
SETTINGS = make_settings("postgresql://unused", Path("/nonexistent"))
SECRET = SETTINGS.signing_secret()  # what the fixture server signs with
ISSUER = SETTINGS.jwt_issuer
NO_SUCH_TASK = str(uuid.uuid4())


# -- helpers ---------------------------------------------------------------------------------------


@asynccontextmanager
async def connect(api_url: str, token: str, *, mode: str = "auto") -> AsyncIterator[Client]:
    """An MCP client session as any agent would open one: the gateway's /mcp with the user's bearer token."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(f"{api_url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


async def ok(client: Client, tool: str, **args: Any) -> dict[str, Any]:
    """Call a tool that must succeed; its structured output (the text is the same data, nulls left out)."""
    r = await client.call_tool(tool, args)
    assert not r.is_error, r.content
    assert r.structured_content is not None
    assert json.loads(r.content[0].text) == without_nulls(r.structured_content)  # type: ignore[union-attr]
    return dict(r.structured_content)


async def err(client: Client, tool: str, **args: Any) -> str:
    """Call a tool that must fail as a tool error (isError, not a crash or a protocol error); its one-line message."""
    r = await client.call_tool(tool, args)
    assert r.is_error, r.structured_content
    assert r.structured_content is None
    text: str = r.content[0].text  # type: ignore[union-attr]
    prefix = f"Error executing tool {tool}: "
    assert text.startswith(prefix), text
    assert "Traceback" not in text and "\n" not in text
    return text.removeprefix(prefix)


def http_task(user: UserClient, task_id: str) -> dict[str, Any]:
    r = user.http.get(f"{API}/tasks/{task_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def all_http_tasks(user: UserClient) -> list[dict[str, Any]]:
    r = user.http.get(f"{API}/tasks", params={"status": "all", "limit": 200})
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def titles(page: dict[str, Any]) -> list[str]:
    return [t["title"] for t in page["items"]]


def token(secret: str, user_id: str, *, scope: str = "api", expires_in: int = 600, issuer: str = ISSUER) -> str:
    now = datetime.now(UTC)
    claims = {"sub": user_id, "iss": issuer, "iat": now, "exp": now + timedelta(seconds=expires_in), "scope": scope}
    return jwt.encode(claims, secret, algorithm="HS256")


# -- the tool list -----------------------------------------------------------------------------------


def _property_names(schema: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(schema, dict):
        names |= set(schema.get("properties", {}))
        for value in schema.values():
            names |= _property_names(value)
    elif isinstance(schema, list):
        for value in schema:
            names |= _property_names(value)
    return names


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_lists_the_contract_tools_with_lean_schemas_and_no_user_argument(
    api_url: str, alice: UserClient, mode: str
) -> None:
    async with connect(api_url, alice.token, mode=mode) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == CONTRACT_TOOLS
        for t in tools.values():
            assert t.description and len(t.description) < 120, t.name
            assert t.input_schema["type"] == "object"
            assert t.output_schema is not None and t.output_schema["type"] == "object", t.name
            assert not {n for n in _property_names(t.input_schema) if "user" in n.lower()}, t.name
            assert "$ref" not in json.dumps(t.input_schema) and "title" not in t.input_schema
        assert tools["add_task"].input_schema["required"] == ["title"]
        for name in ("get_task", "update_task", "complete_task", "reopen_task", "delete_task"):
            assert tools[name].input_schema["required"] == ["task_id"], name
        add = tools["add_task"].input_schema["properties"]
        assert set(add) == {
            "title", "description", "priority", "tags", "due", "timezone", "rrule", "anchor", "reminders"
        }  # fmt: skip
        assert add["priority"]["enum"] == ["high", "medium", "low", "none"]
        assert add["anchor"]["enum"] == ["schedule", "completion"]
        assert set(add["reminders"]["items"]["properties"]) == {"offset_minutes", "at"}
        upd = tools["update_task"].input_schema["properties"]
        assert {"clear_recurrence", "expected_version", "due", "rrule", "reminders"} <= set(upd)
        lst = tools["list_tasks"].input_schema["properties"]
        assert set(lst) == {
            "query", "status", "priority", "tags", "tag_mode", "due_before", "due_after", "overdue", "has_due",
            "recurring", "sort", "limit", "cursor",
        }  # fmt: skip
        assert lst["limit"]["maximum"] == 50 and lst["limit"]["default"] == 20
        keys = ("due", "priority", "title", "created", "updated")
        assert set(lst["sort"]["enum"]) == {*keys, *(f"-{k}" for k in keys)}
        assert set(tools["list_notifications"].input_schema["properties"]) == {"unread_only", "limit"}
        assert tools["delete_task"].annotations is not None and tools["delete_task"].annotations.destructive_hint
        assert tools["list_tasks"].annotations is not None and tools["list_tasks"].annotations.read_only_hint

        # what the benchmark measures is what is served
        served = {name: (t.description, t.input_schema) for name, t in tools.items()}
        assert served == {s["name"]: (s["description"], s["parameters"]) for s in tool_schemas()}
    assert 300 < tool_schema_tokens() <= 1_400  # the budget: prompt + all tools <= 2,000 tokens per turn


# -- add, get ----------------------------------------------------------------------------------------


async def test_add_task_with_everything_and_get_it_back(api_url: str, alice: UserClient) -> None:
    async with connect(api_url, alice.token) as client:
        task = await ok(
            client,
            "add_task",
            title="  Pay   rent ",
            description="to the landlord",
            priority="high",
            tags=["Home", "#money"],
            due="2031-03-01T09:00:00+01:00",
            timezone="Europe/Berlin",
            rrule="FREQ=MONTHLY;BYMONTHDAY=1",
            anchor="schedule",
            reminders=[{"offset_minutes": 1440}, {"at": "2031-02-27T18:00:00+01:00"}],
        )
        assert task["title"] == "Pay rent" and task["description"] == "to the landlord"
        assert (task["status"], task["priority"], task["tags"], task["version"]) == (
            "open",
            "high",
            ["home", "money"],
            1,
        )
        assert (task["due_at"], task["all_day"], task["timezone"]) == (
            "2031-03-01T09:00:00+01:00",
            False,
            "Europe/Berlin",
        )
        # 09:00 stays 09:00 across the DST change of March 30th
        assert task["recurrence"] == {
            "rrule": "FREQ=MONTHLY;BYMONTHDAY=1",
            "anchor": "schedule",
            "next_due_at": "2031-04-01T09:00:00+02:00",
        }
        assert task["reminders"] == [
            {"offset_minutes": 1440, "at": None, "fire_at": "2031-02-28T09:00:00+01:00", "status": "pending"},
            {
                "offset_minutes": None,
                "at": "2031-02-27T18:00:00+01:00",
                "fire_at": "2031-02-27T18:00:00+01:00",
                "status": "pending",
            },
        ]
        assert await ok(client, "get_task", task_id=task["id"]) == task

        # all-day on a date, in the user's own zone (alice: Europe/Berlin), default priority
        day = await ok(client, "add_task", title="Dentist", due="2031-05-02")
        assert (day["due_at"], day["all_day"], day["timezone"], day["priority"]) == (
            "2031-05-02T00:00:00+02:00", True, "Europe/Berlin", "none"
        )  # fmt: skip
        bare = await ok(client, "add_task", title="Someday")
        assert (bare["due_at"], bare["recurrence"], bare["reminders"], bare["tags"]) == (None, None, [], [])

    stored = http_task(alice, task["id"])  # really stored, as the HTTP API shows it
    assert (stored["title"], stored["priority"], stored["tags"], stored["due_at"]) == (
        "Pay rent", "high", ["home", "money"], "2031-03-01T09:00:00+01:00"
    )  # fmt: skip
    assert stored["recurrence"] == {"rrule": "FREQ=MONTHLY;BYMONTHDAY=1", "anchor": "schedule"}
    assert [r["fire_at"] for r in stored["reminders"]] == [r["fire_at"] for r in task["reminders"]]
    assert {t["title"] for t in all_http_tasks(alice)} == {"Pay rent", "Dentist", "Someday"}


# -- list ---------------------------------------------------------------------------------------------


async def test_list_tasks_searches_filters_sorts_and_pages(api_url: str, alice: UserClient) -> None:
    async with connect(api_url, alice.token) as client:

        async def add(**args: Any) -> dict[str, Any]:
            return await ok(client, "add_task", **args)

        dentist = await add(
            title="Dentist appointment", priority="high", tags=["health"], due="2031-01-10T10:00:00+01:00"
        )
        report = await add(title="Write report", priority="medium", tags=["work"], due="2031-01-05T09:00:00+01:00")
        rent = await add(
            title="Pay rent", priority="high", tags=["home", "money"], due="2031-01-01", rrule="FREQ=MONTHLY"
        )
        tax = await add(title="Old tax form", priority="low", tags=["work", "money"], due="2020-01-01T09:00:00+01:00")
        book = await add(title="Read a book")
        await ok(client, "complete_task", task_id=book["id"])

        async def find(**args: Any) -> list[str]:
            return titles(await ok(client, "list_tasks", **args))

        # default: open tasks by due date
        assert await find() == ["Old tax form", "Pay rent", "Write report", "Dentist appointment"]
        assert await find(status="done") == ["Read a book"]
        assert len(await find(status="all")) == 5
        assert await find(query="dentist") == ["Dentist appointment"]
        assert await find(query="dent") == ["Dentist appointment"]  # prefix
        assert await find(query="apointment") == ["Dentist appointment"]  # typo
        assert await find(query="nothing like this") == []
        assert sorted(await find(priority=["high"])) == ["Dentist appointment", "Pay rent"]
        assert sorted(await find(priority=["high", "low"])) == ["Dentist appointment", "Old tax form", "Pay rent"]
        assert sorted(await find(tags=["money"])) == ["Old tax form", "Pay rent"]
        assert sorted(await find(tags=["#Work", "money"])) == ["Old tax form", "Pay rent", "Write report"]
        assert await find(tags=["work", "money"], tag_mode="all") == ["Old tax form"]
        assert await find(due_before="2031-01-06T00:00:00+01:00") == ["Old tax form", "Pay rent", "Write report"]
        assert await find(due_after="2031-01-02") == ["Write report", "Dentist appointment"]  # local midnight
        assert await find(due_after="2031-01-02", due_before="2031-01-06") == ["Write report"]
        assert await find(overdue=True) == ["Old tax form"]
        assert await find(has_due=False, status="all") == ["Read a book"]
        assert await find(recurring=True) == ["Pay rent"]
        assert await find(sort="title") == ["Dentist appointment", "Old tax form", "Pay rent", "Write report"]
        assert await find(sort="-title") == ["Write report", "Pay rent", "Old tax form", "Dentist appointment"]
        by_priority = await ok(client, "list_tasks", sort="priority")
        assert [t["priority"] for t in by_priority["items"]] == ["high", "high", "medium", "low"]
        assert await find(sort="-due") == ["Dentist appointment", "Write report", "Pay rent", "Old tax form"]
        assert (await find(sort="created"))[0] == "Dentist appointment"
        assert (await find(sort="-created"))[0] == "Old tax form"

        # the compact list item: no description, recurrence with its next due, the version to update with
        page = await ok(client, "list_tasks", recurring=True)
        item = page["items"][0]
        assert item["id"] == rent["id"] and "description" not in item
        assert item["recurrence"]["next_due_at"] == "2031-02-01T00:00:00+01:00" and item["all_day"] is True
        assert item["version"] == 1 and page["next_cursor"] is None

        # paging: the pages together are the list, nothing twice
        first = await ok(client, "list_tasks", sort="title", limit=3)
        assert titles(first) == ["Dentist appointment", "Old tax form", "Pay rent"] and first["next_cursor"]
        second = await ok(client, "list_tasks", sort="title", limit=3, cursor=first["next_cursor"])
        assert titles(second) == ["Write report"] and second["next_cursor"] is None
        assert {t["id"] for t in first["items"] + second["items"]} == {
            dentist["id"],
            tax["id"],
            rent["id"],
            report["id"],
        }


# -- update ------------------------------------------------------------------------------------------


async def test_update_task_changes_each_field_and_checks_the_version(api_url: str, alice: UserClient) -> None:
    async with connect(api_url, alice.token) as client:
        t = await ok(
            client,
            "add_task",
            title="Draft",
            priority="low",
            tags=["a"],
            due="2031-02-01T09:00:00+01:00",
            reminders=[{"offset_minutes": 60}],
        )
        tid = t["id"]

        async def update(**args: Any) -> dict[str, Any]:
            return await ok(client, "update_task", task_id=tid, **args)

        u = await update(title="Final draft", priority="high", tags=["b", "#C"], description="two pages")
        assert (u["title"], u["priority"], u["tags"], u["description"], u["version"]) == (
            "Final draft", "high", ["b", "c"], "two pages", 2
        )  # fmt: skip
        assert u["due_at"] == t["due_at"] and u["reminders"][0]["offset_minutes"] == 60  # untouched

        u = await update(due="2031-02-03")  # a date: all-day; the reminder follows the due
        assert (u["due_at"], u["all_day"]) == ("2031-02-03T00:00:00+01:00", True)
        assert u["reminders"][0]["fire_at"] == "2031-02-02T23:00:00+01:00"
        u = await update(due="2031-02-04T15:30:00+01:00")  # a time: timed again
        assert (u["due_at"], u["all_day"]) == ("2031-02-04T15:30:00+01:00", False)
        u = await update(timezone="America/New_York")  # same instant, the task's new zone
        assert (u["due_at"], u["timezone"]) == ("2031-02-04T09:30:00-05:00", "America/New_York")

        u = await update(rrule="FREQ=WEEKLY;BYDAY=TU")
        assert u["recurrence"] == {
            "rrule": "FREQ=WEEKLY;BYDAY=TU",
            "anchor": "schedule",
            "next_due_at": "2031-02-11T09:30:00-05:00",
        }
        u = await update(anchor="completion")  # the rule stays, the anchor changes
        assert (u["recurrence"]["rrule"], u["recurrence"]["anchor"]) == ("FREQ=WEEKLY;BYDAY=TU", "completion")
        u = await update(clear_recurrence=True)
        assert u["recurrence"] is None

        u = await update(reminders=[{"at": "2031-02-04T08:00:00-05:00"}, {"offset_minutes": 15}])
        assert [(r["at"], r["offset_minutes"], r["fire_at"]) for r in u["reminders"]] == [
            ("2031-02-04T08:00:00-05:00", None, "2031-02-04T08:00:00-05:00"),
            (None, 15, "2031-02-04T09:15:00-05:00"),
        ]
        u = await update(reminders=[], tags=[])
        assert (u["reminders"], u["tags"]) == ([], [])
        u = await update(due="")
        assert (u["due_at"], u["all_day"]) == (None, False)
        assert await update() == u  # nothing given, nothing changed

        # optimistic concurrency: an old version is refused and changes nothing
        stale = u["version"] - 1
        message = await err(client, "update_task", task_id=tid, title="lost update", expected_version=stale)
        assert message == f"task changed since version {stale}; it is now at version {u['version']}"
        assert http_task(alice, tid)["title"] == "Final draft"
        u2 = await update(title="Final", expected_version=u["version"])
        assert (u2["title"], u2["version"]) == ("Final", u["version"] + 1)

    stored = http_task(alice, tid)
    assert (stored["title"], stored["priority"], stored["timezone"], stored["due_at"], stored["recurrence"]) == (
        "Final", "high", "America/New_York", None, None
    )  # fmt: skip
    assert stored["version"] == u2["version"]


# -- complete, reopen, delete ---------------------------------------------------------------------------


async def test_complete_reopen_and_delete(api_url: str, alice: UserClient) -> None:
    async with connect(api_url, alice.token) as client:
        t = await ok(
            client, "add_task", title="Report", due="2031-01-05T09:00:00+01:00", reminders=[{"offset_minutes": 5}]
        )
        done = await ok(client, "complete_task", task_id=t["id"])
        assert done["status"] == "done" and done["completed_at"] and done["version"] == 2
        assert done["reminders"][0]["status"] == "cancelled"
        assert (await ok(client, "complete_task", task_id=t["id"]))["version"] == 2  # twice: no-op
        assert http_task(alice, t["id"])["status"] == "done"

        again = await ok(client, "reopen_task", task_id=t["id"])
        assert (again["status"], again["completed_at"], again["reminders"][0]["status"]) == ("open", None, "pending")
        assert http_task(alice, t["id"])["status"] == "open"

        gone = await ok(client, "delete_task", task_id=t["id"])
        assert gone == {"deleted": True, "id": t["id"], "title": "Report"}
        assert alice.http.get(f"{API}/tasks/{t['id']}").status_code == 404
        assert await err(client, "get_task", task_id=t["id"]) == "task not found"
        assert await err(client, "delete_task", task_id=t["id"]) == "task not found"


# -- tags and notifications -----------------------------------------------------------------------------


def insert_notification(pg_url: str, user_id: str, task_id: str, title: str) -> dict[str, Any]:
    """An inbox row as the reminder_fire consumer writes it."""

    async def run() -> dict[str, Any]:
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
            note = await inbox.create_reminder_notification(
                conn,
                notification_id=new_id(),
                user_id=uuid.UUID(user_id),
                task_id=uuid.UUID(task_id),
                reminder_id=uuid.uuid4(),
                title=title,
                body=f"due soon: {title}",
                data={},
                late=False,
            )
        assert note is not None
        return note

    return asyncio.run(run())


async def test_list_tags_and_notifications(api_url: str, alice: UserClient, bob: UserClient, pg_url: str) -> None:
    async with connect(api_url, alice.token) as client:
        assert await ok(client, "list_tags") == {"tags": []}
        assert await ok(client, "list_notifications") == {"items": []}
        a = await ok(client, "add_task", title="a", tags=["home", "work"])
        await ok(client, "add_task", title="b", tags=["home"])
        c = await ok(client, "add_task", title="c", tags=["home"])
        await ok(client, "complete_task", task_id=c["id"])
        assert (await ok(client, "list_tags"))["tags"] == [
            {"name": "home", "count": 3, "open_count": 2},
            {"name": "work", "count": 1, "open_count": 1},
        ]

        first = await asyncio.to_thread(insert_notification, pg_url, alice.user_id, a["id"], "a")
        second = await asyncio.to_thread(insert_notification, pg_url, alice.user_id, a["id"], "a again")
        notes = (await ok(client, "list_notifications"))["items"]
        assert [n["id"] for n in notes] == [second["id"], first["id"]]  # newest first
        assert notes[1] == {
            "id": first["id"],
            "kind": "reminder",
            "title": "a",
            "body": "due soon: a",
            "task_id": a["id"],
            "late": False,
            "created_at": first["created_at"],
            "read_at": None,
        }
        assert [n["id"] for n in (await ok(client, "list_notifications", limit=1))["items"]] == [second["id"]]
        assert alice.http.post(f"{API}/notifications/{second['id']}/read").status_code == 200
        unread = (await ok(client, "list_notifications", unread_only=True))["items"]
        assert [n["id"] for n in unread] == [first["id"]]
        assert (await ok(client, "list_notifications"))["items"][0]["read_at"] is not None
        assert (await err(client, "list_notifications", limit=0)).startswith("limit: Input should be greater")

    async with connect(api_url, bob.token) as client:  # none of it is bob's
        assert await ok(client, "list_tags") == {"tags": []}
        assert await ok(client, "list_notifications") == {"items": []}


# -- errors --------------------------------------------------------------------------------------------

ERROR_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("get_task", {"task_id": NO_SUCH_TASK}, "task not found"),
    ("get_task", {"task_id": "not-an-id"}, "task not found: task_id must be an id returned by add_task or list_tasks"),
    ("update_task", {"task_id": NO_SUCH_TASK, "title": "x"}, "task not found"),
    ("complete_task", {"task_id": NO_SUCH_TASK}, "task not found"),
    ("reopen_task", {"task_id": NO_SUCH_TASK}, "task not found"),
    ("delete_task", {"task_id": NO_SUCH_TASK}, "task not found"),
    ("add_task", {"title": "x", "priority": "urgent"}, "priority: Input should be 'high', 'medium', 'low' or 'none'"),
    ("add_task", {"title": "x", "due": "2031-01-01T09:00:00+01:00", "rrule": "FREQ=SOMETIMES"}, "rrule: invalid"),
    ("add_task", {"title": "x", "rrule": "FREQ=DAILY"}, "rrule: a recurring task needs a due date"),
    ("add_task", {"title": "x" * 501}, "title: must be at most 500 characters"),
    ("add_task", {"title": "   "}, "title: must not be empty"),
    ("add_task", {"title": "x", "timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
    ("add_task", {"title": "x", "due": "next tuesday"}, "due: must be RFC 3339"),
    ("add_task", {"title": "x", "due": "2031-01-01T09:00:00"}, "due: needs a UTC offset"),
    ("add_task", {"title": "x", "anchor": "completion"}, "anchor: needs rrule"),
    ("add_task", {"title": "x", "tags": ["no spaces allowed"]}, "tags: tag 'no spaces allowed' may contain"),
    ("add_task", {"title": "x", "due": "2031-01-01", "reminders": [{"offset_minutes": 5}] * 11}, "reminders: "),
    ("add_task", {"title": "x", "reminders": [{"offset_minutes": 5, "at": "2031-01-01T09:00:00Z"}]}, "reminders: "),
    ("add_task", {"title": "x", "reminders": [{"at": "2031-01-01T09:00:00"}]}, "reminders.0.at: "),
    ("add_task", {"title": "x", "due_at": "2031-01-01"}, "due_at: unknown argument"),  # misspelt: not ignored
    ("add_task", {"title": "x", "user_id": "someone"}, "user_id: unknown argument"),
    ("add_task", {}, "title: Field required"),
    ("list_tasks", {"limit": 51}, "limit: Input should be less than or equal to 50"),
    ("list_tasks", {"cursor": "garbage"}, "cursor: is not a cursor"),
    ("list_tasks", {"sort": "relevance"}, "sort: Input should be 'due'"),
    ("list_tasks", {"due_before": "2031-01-01T09:00:00"}, "due_before: needs a UTC offset"),
    ("list_tasks", {"query": "x" * 201}, "query: must be at most 200 characters"),
]
UPDATE_ERROR_CASES: list[tuple[dict[str, Any], str]] = [
    ({"priority": "urgent"}, "priority: Input should be 'high', 'medium', 'low' or 'none'"),
    ({"rrule": "NOT A RULE"}, "rrule: invalid"),
    ({"title": "x" * 501}, "title: must be at most 500 characters"),
    ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone"),
    ({"due": "tomorrow"}, "due: must be RFC 3339"),
    ({"anchor": "completion"}, "anchor: the task does not repeat"),
    ({"clear_recurrence": True, "rrule": "FREQ=DAILY"}, "clear_recurrence: cannot be combined"),
    ({"reminders": [{"minutes": 5}]}, "reminders.0.minutes: unknown argument"),
    ({"tags": ["ok", ""]}, "tags: a tag must not be empty"),
    ({"expected_version": 7}, "task changed since version 7; it is now at version 1"),
]


async def test_bad_input_is_a_tool_error_and_changes_nothing(api_url: str, alice: UserClient) -> None:
    async with connect(api_url, alice.token) as client:
        keep = await ok(client, "add_task", title="Keep me", priority="low", due="2031-01-01T09:00:00+01:00")
        before = http_task(alice, keep["id"])
        for tool, args, expected in ERROR_CASES:
            message = await err(client, tool, **args)
            assert message.startswith(expected), (tool, args, message)
        for args, expected in UPDATE_ERROR_CASES:
            message = await err(client, "update_task", task_id=keep["id"], **args)
            assert message.startswith(expected), (args, message)
        assert http_task(alice, keep["id"]) == before
        assert [t["id"] for t in all_http_tasks(alice)] == [keep["id"]]


# -- identity ------------------------------------------------------------------------------------------

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


def post_mcp(api_url: str, authorization: str | None, method: str = "POST") -> httpx.Response:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if authorization is not None:
        headers["Authorization"] = authorization
    body = json.dumps(INITIALIZE) if method == "POST" else None
    return httpx.request(method, f"{api_url}/mcp", headers=headers, content=body, timeout=10)


async def test_requests_without_a_valid_token_are_refused(api_url: str, alice: UserClient) -> None:
    assert post_mcp(api_url, f"Bearer {alice.token}").status_code == 200  # the control: this request is fine
    refused = {
        "no header": None,
        "no token": "Bearer",
        "garbage": "Bearer not-a-jwt",
        "basic auth": "Basic YWxpY2U6c2VjcmV0",
        "another secret": "Bearer " + token("another-secret-" + "y" * 40, alice.user_id),
        "expired": "Bearer " + token(SECRET, alice.user_id, expires_in=-60),
        "another issuer": "Bearer " + token(SECRET, alice.user_id, issuer="someone-else"),
        "another scope": "Bearer " + token(SECRET, alice.user_id, scope="events"),
        "tampered": f"Bearer {alice.token[:-4]}{'AAAA' if not alice.token.endswith('AAAA') else 'BBBB'}",
    }
    for name, authorization in refused.items():
        for method in ("POST", "GET", "DELETE"):
            r = post_mcp(api_url, authorization, method)
            assert r.status_code == 401, (name, method, r.status_code, r.text)
            assert r.headers["www-authenticate"].startswith("Bearer "), name
            assert r.json()["error"] == "invalid_token"

    # and the mcp client gets no session with a forged token
    with pytest.raises(ExceptionGroup) as caught:
        async with connect(api_url, token("another-secret-" + "y" * 40, alice.user_id)) as client:
            await client.list_tools()
    assert caught.group_contains(MCPError, depth=None)
    assert all_http_tasks(alice) == []


async def test_bob_never_reaches_alices_tasks(api_url: str, alice: UserClient, bob: UserClient) -> None:
    async with connect(api_url, alice.token) as as_alice, connect(api_url, bob.token) as as_bob:
        secret = await ok(
            as_alice,
            "add_task",
            title="Alice private dentist",
            tags=["alicesecret"],
            due="2031-04-01T10:00:00+02:00",
            rrule="FREQ=MONTHLY",
        )
        before = http_task(alice, secret["id"])
        sid = secret["id"]
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("get_task", {}),
            ("update_task", {"title": "pwned"}),
            ("update_task", {"clear_recurrence": True, "expected_version": 1}),
            ("complete_task", {}),
            ("reopen_task", {}),
            ("delete_task", {}),
        ]
        for tool, args in attempts:
            message = await err(as_bob, tool, task_id=sid, **args)
            assert message == "task not found", (tool, message)
        # the model cannot name another user either: there is no such argument
        assert await err(as_bob, "list_tasks", user_id=alice.user_id) == "user_id: unknown argument"
        assert await ok(as_bob, "list_tasks", status="all") == {"items": [], "next_cursor": None}
        assert (await ok(as_bob, "list_tasks", query="dentist", status="all"))["items"] == []
        assert (await ok(as_bob, "list_tasks", tags=["alicesecret"], status="all"))["items"] == []
        assert await ok(as_bob, "list_tags") == {"tags": []}

        # interleaved calls on two connections at once: each sees only its own user's tasks
        mine = await ok(as_bob, "add_task", title="Bob's task")

        async def listing(client: Client) -> list[str]:
            return [t["id"] for t in (await ok(client, "list_tasks", status="all"))["items"]]

        for _ in range(5):
            results = await asyncio.gather(*(listing(c) for c in (as_alice, as_bob) * 4))
            assert results == [[sid], [mine["id"]]] * 4

    assert http_task(alice, sid) == before
    assert [t["id"] for t in all_http_tasks(alice)] == [sid]
    assert [t["title"] for t in all_http_tasks(bob)] == ["Bob's task"]


async def test_the_audit_trail_records_channel_mcp(api_url: str, alice: UserClient, pg_url: str) -> None:
    async with connect(api_url, alice.token) as client:
        t = await ok(client, "add_task", title="audited")
        await ok(client, "update_task", task_id=t["id"], priority="high")
        await ok(client, "complete_task", task_id=t["id"])
        await ok(client, "reopen_task", task_id=t["id"])
        await ok(client, "delete_task", task_id=t["id"])
    via_api = alice.create(title="from the API")

    await asyncio.to_thread(fill_audit, pg_url, alice.user_id)  # what the audit_append consumer does
    items = alice.http.get(f"{API}/audit", params={"task_id": t["id"]}).json()["items"]
    assert [x["action"] for x in items] == [
        "task.deleted",
        "task.reopened",
        "task.completed",
        "task.updated",
        "task.created",
    ]
    assert {(x["channel"], x["actor"]) for x in items} == {("mcp", "mcp")}
    assert items[3]["before"]["priority"] == "none" and items[3]["after"]["priority"] == "high"
    api_items = alice.http.get(f"{API}/audit", params={"task_id": via_api["id"]}).json()["items"]
    assert [x["channel"] for x in api_items] == ["api"]

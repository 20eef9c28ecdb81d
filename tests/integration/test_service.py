"""TaskService on real PostgreSQL: filters, sorts, search, paging, concurrency, idempotency, outbox."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from psycopg.rows import dict_row

from todo_core.domain.errors import Conflict, NotFound, PreconditionFailed
from todo_core.domain.query import build_query
from todo_core.domain.reminders import ReminderSpec
from todo_core.domain.tasks import TaskPatch, build_fields
from todo_core.service import Actor, TaskService
from todo_core.store import audit as audit_store
from todo_core.store import users as user_store

pytestmark = [pytest.mark.anyio, pytest.mark.integration]

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def new_user(pool: Any, tz: str = "UTC") -> Actor:
    async with pool.connection() as conn:
        row = await user_store.insert_user(
            conn, user_id=uuid4(), email=f"{uuid4().hex}@example.com", password_hash="x", timezone=tz
        )
    assert row is not None
    return Actor(user_id=row.id, channel="api")


@pytest.fixture
def svc(pool: Any) -> TaskService:
    return TaskService(pool, clock=lambda: NOW)


async def make(svc: TaskService, actor: Actor, title: str, **kw: Any) -> dict[str, Any]:
    return (await svc.create(actor, build_fields(title=title, **kw))).task


async def titles(svc: TaskService, actor: Actor, **query: Any) -> list[str]:
    page = await svc.list_tasks(actor.user_id, build_query(limit=200, **query))
    return [t.fields.title for t in page.items]


async def outbox_rows(pool: Any, user_id: UUID) -> list[dict[str, Any]]:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT topic, key, type, payload FROM outbox WHERE payload->>'userid' = %(u)s ORDER BY id",
            {"u": str(user_id)},
        )
        return await cur.fetchall()


async def test_every_filter(svc: TaskService, pool: Any) -> None:
    me = await new_user(pool)
    other = await new_user(pool)
    await make(svc, other, "Other user's high work task", priority="high", tags=["work"])
    await make(svc, me, "Write report", priority="high", tags=["work"], due_at=NOW + timedelta(days=1))
    await make(svc, me, "Overdue invoice", priority="medium", tags=["work", "money"], due_at=NOW - timedelta(days=2))
    await make(svc, me, "Buy milk", priority="low", tags=["home"])
    await make(
        svc,
        me,
        "Water plants",
        tags=["home"],
        due_at=NOW + timedelta(days=3),
        recurrence=("FREQ=WEEKLY", "schedule"),
    )
    done = await make(svc, me, "Old chore", tags=["home"], due_at=NOW - timedelta(days=5))
    await svc.complete(me, UUID(done["id"]))
    # all-day task due today is not overdue yet
    await make(svc, me, "All-day today", due_at=NOW.date(), all_day=True)

    assert set(await titles(svc, me)) == {
        "Write report",
        "Overdue invoice",
        "Buy milk",
        "Water plants",
        "All-day today",
    }
    assert await titles(svc, me, status="done") == ["Old chore"]
    assert len(await titles(svc, me, status="all")) == 6
    assert set(await titles(svc, me, priority="high,medium")) == {"Write report", "Overdue invoice"}
    assert set(await titles(svc, me, tags=["home"])) == {"Buy milk", "Water plants"}
    assert set(await titles(svc, me, tags=["work", "home"], tag_mode="any")) == {
        "Write report",
        "Overdue invoice",
        "Buy milk",
        "Water plants",
    }
    assert await titles(svc, me, tags=["work", "money"], tag_mode="all") == ["Overdue invoice"]
    assert set(await titles(svc, me, due_before=NOW + timedelta(days=2))) == {
        "Write report",
        "Overdue invoice",
        "All-day today",
    }
    assert set(await titles(svc, me, due_after=NOW)) == {"Write report", "Water plants"}
    assert await titles(svc, me, overdue=True) == ["Overdue invoice"]
    assert "Overdue invoice" not in await titles(svc, me, overdue=False)
    assert await titles(svc, me, has_due=False) == ["Buy milk"]
    assert len(await titles(svc, me, has_due=True)) == 4
    assert await titles(svc, me, recurring=True) == ["Water plants"]
    assert "Water plants" not in await titles(svc, me, recurring=False)


async def test_every_sort_with_nulls_last_for_due(svc: TaskService, pool: Any) -> None:
    me = await new_user(pool)
    clock_base = NOW
    specs = [
        ("b task", "low", 2),
        ("A task", "high", None),
        ("c task", "high", 1),
        ("d task", "none", 3),
        ("e task", "medium", None),
    ]
    for i, (title, prio, days) in enumerate(specs):
        svc._clock = lambda i=i: clock_base + timedelta(minutes=i)  # type: ignore[misc]
        await make(svc, me, title, priority=prio, due_at=NOW + timedelta(days=days) if days else None)
    svc._clock = lambda: NOW + timedelta(hours=1)  # type: ignore[misc]
    b_task = (await svc.list_tasks(me.user_id, build_query(q="b task"))).items[0]
    await svc.update(me, b_task.id, TaskPatch(description="touched"))

    assert await titles(svc, me, sort="due") == ["c task", "b task", "d task", "A task", "e task"]
    assert await titles(svc, me, sort="-due") == ["d task", "b task", "c task", "e task", "A task"]
    assert await titles(svc, me, sort="priority") == ["c task", "A task", "e task", "b task", "d task"]
    assert (await titles(svc, me, sort="-priority"))[0] == "d task"
    assert await titles(svc, me, sort="title") == ["A task", "b task", "c task", "d task", "e task"]
    assert await titles(svc, me, sort="-title") == ["e task", "d task", "c task", "b task", "A task"]
    assert await titles(svc, me, sort="created") == ["b task", "A task", "c task", "d task", "e task"]
    assert await titles(svc, me, sort="-created") == ["e task", "d task", "c task", "A task", "b task"]
    assert (await titles(svc, me, sort="-updated"))[0] == "b task"
    assert (await titles(svc, me, sort="updated"))[-1] == "b task"


async def test_search_words_prefix_typo_ranked_and_scoped(svc: TaskService, pool: Any) -> None:
    me = await new_user(pool)
    other = await new_user(pool)
    await make(svc, other, "Team meeting notes")
    await make(svc, me, "Team meeting notes", description="agenda for the weekly sync")
    await make(svc, me, "Buy groceries")
    await make(svc, me, "Dentist appointment", description="bring the meeting insurance card")
    await make(svc, me, "Unrelated thing")
    assert await titles(svc, me, q="groceries") == ["Buy groceries"]
    assert await titles(svc, me, q="groc") == ["Buy groceries"]  # prefix
    assert await titles(svc, me, q="weekly sync") == ["Team meeting notes"]  # words in the description
    assert await titles(svc, me, q="meetnig") == ["Team meeting notes"]  # typo
    assert await titles(svc, me, q="grocerys") == ["Buy groceries"]  # typo
    # a title match ranks above a description match
    assert await titles(svc, me, q="meeting") == ["Team meeting notes", "Dentist appointment"]
    assert await titles(svc, me, q="zzzqqq") == []
    assert await titles(svc, me, q="'&|!():*") == []  # tsquery syntax is data, not syntax
    # between two title matches, the title that starts with what was typed comes first
    await make(svc, me, "Write the report")
    await make(svc, me, "Report to the board")
    assert await titles(svc, me, q="repo") == ["Report to the board", "Write the report"]
    assert await titles(svc, me, q="report_%") == ["Report to the board", "Write the report"]


async def test_keyset_pagination_no_gaps_or_duplicates_while_inserting(svc: TaskService, pool: Any) -> None:
    me = await new_user(pool)
    rnd = random.Random(7)
    original = set()
    for i in range(120):
        due = NOW + timedelta(hours=rnd.randint(-50, 50)) if rnd.random() < 0.8 else None
        t = await make(svc, me, f"task {i:03d}", priority=rnd.choice(["high", "medium", "low", "none"]), due_at=due)
        original.add(t["id"])
    for sort in ("due", "-due", "priority", "-priority", "title", "-title", "created", "-created"):
        seen: list[str] = []
        cursor = None
        inserted = 0
        while True:
            page = await svc.list_tasks(me.user_id, build_query(sort=sort, limit=13, cursor=cursor))
            seen.extend(str(t.id) for t in page.items)
            # rows inserted while paging must not shift or duplicate the rows already seen
            for _ in range(2):
                due = NOW + timedelta(hours=rnd.randint(-50, 50)) if rnd.random() < 0.8 else None
                await make(svc, me, f"late {sort} {inserted}", due_at=due)
                inserted += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert len(seen) == len(set(seen)), f"duplicates with sort={sort}"
        assert original <= set(seen), f"gaps with sort={sort}"


async def test_two_patches_with_same_version_one_gets_412(svc: TaskService, pool: Any) -> None:
    me = await new_user(pool)
    t = await make(svc, me, "contended")
    tid = UUID(t["id"])
    results = await asyncio.gather(
        svc.update(me, tid, TaskPatch(title="first"), expected_version=1),
        svc.update(me, tid, TaskPatch(title="second"), expected_version=1),
        return_exceptions=True,
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    failed = [r for r in results if isinstance(r, BaseException)]
    assert len(ok) == 1 and len(failed) == 1
    assert isinstance(failed[0], PreconditionFailed)
    current = await svc.get(me.user_id, tid)
    assert current.version == 2 and current.fields.title == ok[0].fields.title


async def test_idempotent_create_concurrent_same_key_makes_one_task(svc: TaskService, pool: Any) -> None:
    me = await new_user(pool)
    fields = build_fields(title="pay rent", priority="high")
    results = await asyncio.gather(*(svc.create(me, fields, idempotency_key="k-1") for _ in range(5)))
    assert len({r.task["id"] for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    assert await titles(svc, me) == ["pay rent"]
    with pytest.raises(Conflict):
        await svc.create(me, build_fields(title="something else"), idempotency_key="k-1")
    # the same key is independent per user
    other = await new_user(pool)
    r = await svc.create(other, fields, idempotency_key="k-1")
    assert not r.replayed and r.task["id"] != results[0].task["id"]


class FailingAfterWrite(TaskService):
    """Fails after the task row and the outbox rows are written, inside the same transaction."""

    async def _emit(self, *args: Any, **kwargs: Any) -> None:
        await super()._emit(*args, **kwargs)
        raise RuntimeError("crash after writing")


async def test_failed_transaction_leaves_no_task_and_no_outbox_rows(pool: Any) -> None:
    me = await new_user(pool)
    good = TaskService(pool, clock=lambda: NOW)
    bad = FailingAfterWrite(pool, clock=lambda: NOW)
    kept = (await good.create(me, build_fields(title="kept"))).task
    before = await outbox_rows(pool, me.user_id)
    with pytest.raises(RuntimeError):
        await bad.create(me, build_fields(title="lost", reminders=[ReminderSpec(at=NOW + timedelta(hours=1))]))
    with pytest.raises(RuntimeError):
        await bad.update(me, UUID(kept["id"]), TaskPatch(title="renamed"))
    with pytest.raises(RuntimeError):
        await bad.delete(me, UUID(kept["id"]))
    assert await titles(good, me, status="all") == ["kept"]
    assert await outbox_rows(pool, me.user_id) == before
    async with pool.connection() as conn:
        n = await (
            await conn.execute("SELECT count(*) FROM reminders WHERE user_id = %(u)s", {"u": me.user_id})
        ).fetchone()
    assert n == (0,)


async def test_each_command_writes_its_events_in_the_same_transaction(svc: TaskService, pool: Any) -> None:
    me = await new_user(pool, "Europe/Berlin")
    t = await make(
        svc,
        me,
        "weekly review",
        due_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
        timezone="Europe/Berlin",
        recurrence=("FREQ=WEEKLY;BYDAY=FR", "schedule"),
    )
    tid = UUID(t["id"])
    await svc.update(me, tid, TaskPatch(priority="high"))
    await svc.complete(me, tid)
    await svc.reopen(me, tid)
    await svc.delete(me, tid)
    rows = await outbox_rows(pool, me.user_id)
    assert [(r["topic"], r["type"]) for r in rows] == [
        ("task-events", "todo.task.created.v1"),
        ("audit-append", "todo.audit.append.v1"),
        ("task-events", "todo.task.updated.v1"),
        ("audit-append", "todo.audit.append.v1"),
        ("task-events", "todo.task.completed.v1"),
        ("audit-append", "todo.audit.append.v1"),
        ("recurrence-due", "todo.recurrence.due.v1"),
        ("task-events", "todo.task.updated.v1"),
        ("audit-append", "todo.audit.append.v1"),
        ("task-events", "todo.task.deleted.v1"),
        ("audit-append", "todo.audit.append.v1"),
    ]
    for r in rows:
        env = r["payload"]
        assert env["specversion"] == "1.0" and env["subject"] == f"task/{tid}"
        assert env["userid"] == str(me.user_id) and env["traceparent"].startswith("00-")
        assert r["key"] == (str(me.user_id) if r["topic"] == "audit-append" else str(tid))
    due = rows[6]["payload"]["data"]
    assert due["next_due_at"] == "2026-12-04T10:00:00+01:00" and due["next_occurrence"] == 2
    audits = [r["payload"]["data"] for r in rows if r["topic"] == "audit-append"]
    assert [a["action"] for a in audits] == [
        "task.created",
        "task.updated",
        "task.completed",
        "task.reopened",
        "task.deleted",
    ]
    assert audits[0]["before"] is None and audits[-1]["after"] is None
    assert audits[1]["before"]["priority"] == "none" and audits[1]["after"]["priority"] == "high"
    assert {a["channel"] for a in audits} == {"api"}


async def test_audit_chain_appends_once_verifies_and_detects_tampering(svc: TaskService, pool: Any) -> None:
    me = await new_user(pool)
    t = await make(svc, me, "audited")
    await svc.update(me, UUID(t["id"]), TaskPatch(title="audited twice"))
    await svc.complete(me, UUID(t["id"]))
    envelopes = [r["payload"] for r in await outbox_rows(pool, me.user_id) if r["topic"] == "audit-append"]
    async with pool.connection() as conn:
        for env in envelopes + envelopes:  # delivered twice: appended once
            async with conn.transaction():
                await audit_store.append_event(conn, env)
        report = await audit_store.verify_chain(conn, me.user_id)
        assert report.ok and report.entries == 3
        trail = await svc.audit_trail(me.user_id, task_id=UUID(t["id"]))
        assert [e["action"] for e in trail] == ["task.completed", "task.updated", "task.created"]
        await conn.execute(
            "UPDATE audit_log SET after = jsonb_set(after, '{title}', '\"forged\"')"
            " WHERE user_id = %(u)s AND action = 'task.updated'",
            {"u": me.user_id},
        )
        await conn.commit()
        report = await audit_store.verify_chain(conn, me.user_id)
    assert not report.ok and report.broken_at is not None


async def test_reminders_follow_due_changes_and_completion(svc: TaskService, pool: Any) -> None:
    me = await new_user(pool)
    due = NOW + timedelta(days=1)
    t = await make(svc, me, "call mom", due_at=due, reminders=[ReminderSpec(offset_minutes=30)])
    tid = UUID(t["id"])
    assert t["reminders"][0]["fire_at"] == (due - timedelta(minutes=30)).isoformat()
    moved = await svc.update(me, tid, TaskPatch(due_at=due + timedelta(hours=2)))
    assert moved.reminders[0].id == UUID(t["reminders"][0]["id"])  # same reminder, new time
    assert moved.reminders[0].fire_at == due + timedelta(hours=2) - timedelta(minutes=30)
    done = await svc.complete(me, tid)
    assert [r.status for r in done.reminders] == ["cancelled"]
    again = await svc.reopen(me, tid)
    assert [r.status for r in again.reminders] == ["pending"]
    cleared = await svc.update(me, tid, TaskPatch(reminders=[]))
    assert cleared.reminders == ()


async def test_other_users_task_is_not_found_for_every_command(svc: TaskService, pool: Any) -> None:
    owner = await new_user(pool)
    intruder = await new_user(pool)
    t = await make(svc, owner, "private")
    tid = UUID(t["id"])
    for call in (
        svc.get(intruder.user_id, tid),
        svc.update(intruder, tid, TaskPatch(title="pwned")),
        svc.complete(intruder, tid),
        svc.reopen(intruder, tid),
        svc.delete(intruder, tid),
    ):
        with pytest.raises(NotFound):
            await call
    assert (await svc.get(owner.user_id, tid)).fields.title == "private"
    assert await svc.tags(intruder.user_id) == []


@pytest.fixture(scope="module")
def seeded_user(pg_url: str) -> UUID:
    """A user with 20,000 tasks among 40,000 rows of others, analyzed, so plans are realistic."""
    import psycopg

    uid, other = uuid4(), uuid4()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for u in (uid, other):
            conn.execute(
                "INSERT INTO users (id, email, password_hash) VALUES (%(u)s, %(e)s, 'x')",
                {"u": u, "e": f"{u}@example.com"},
            )
        for u, n in ((uid, 20_000), (other, 40_000)):
            conn.execute(
                "INSERT INTO tasks (id, user_id, title, description, status, priority, tags, due_at, rrule, anchor)"
                " SELECT gen_random_uuid(), %(u)s, 'task ' || i || CASE WHEN i %% 500 = 0 THEN ' report' ELSE '' END,"
                " 'words ' || (i %% 97), CASE WHEN i %% 10 = 0 THEN 'done' ELSE 'open' END, i %% 4,"
                " ARRAY['t' || (i %% 200)], CASE WHEN i %% 5 = 0 THEN NULL"
                " ELSE now() + (i %% 1000 - 500) * interval '1 hour' END,"
                " CASE WHEN i %% 300 = 1 THEN 'FREQ=DAILY' END, CASE WHEN i %% 300 = 1 THEN 'schedule' END"
                " FROM generate_series(1, %(n)s) AS i",
                {"u": u, "n": n},
            )
        conn.execute("ANALYZE tasks")
    return uid


@pytest.mark.parametrize(
    ("query", "index"),
    [
        ({"sort": "due"}, "tasks_by_due"),
        ({"sort": "-due"}, "tasks_by_due_desc"),
        ({"sort": "priority"}, "tasks_by_priority"),
        ({"sort": "-priority"}, "tasks_by_priority"),
        ({"sort": "title"}, "tasks_by_title"),
        ({"sort": "-title"}, "tasks_by_title"),
        ({"sort": "created"}, "tasks_by_created"),
        ({"sort": "-updated"}, "tasks_by_updated"),
        ({"tags": ["t1"]}, "tasks_tags"),
        ({"tags": ["t1", "t2"], "tag_mode": "all"}, "tasks_tags"),
        # keyword search: on a table this small the planner prefers the owner's btree and filters;
        # bench/api_bench.py prints the plan at 1M rows, where tasks_search/tasks_title_trgm serve it
        ({"q": "report"}, "tasks_"),
        ({"q": "reprot"}, "tasks_"),
        ({"recurring": True}, "tasks_recurring"),
        ({"overdue": True}, "tasks_by_due"),
        ({"has_due": False}, "tasks_by_due"),
        ({"due_before": NOW, "due_after": NOW - timedelta(hours=3)}, "tasks_by_due"),
        ({"priority": "high", "sort": "priority"}, "tasks_by_priority"),
        ({"status": "done", "sort": "title"}, "tasks_by_title"),
    ],
)
def test_every_filter_and_sort_is_served_by_an_index(
    pg_url: str, seeded_user: UUID, query: dict[str, Any], index: str
) -> None:
    import psycopg
    from psycopg import sql

    from todo_core.store.tasks import list_statement

    stmt, params, _ = list_statement(seeded_user, build_query(**query), now=NOW)
    with psycopg.connect(pg_url) as conn:
        conn.execute("SET pg_trgm.word_similarity_threshold = 0.45")
        # GIN costs are pessimistic on a table this small; at the benchmark's size the planner picks them
        # by itself. Here we prove that an index can serve every filter and sort.
        conn.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in conn.execute(sql.SQL("EXPLAIN ") + stmt, params).fetchall())
    main = plan.split("SubPlan")[0]
    assert "Seq Scan on tasks" not in plan, plan
    assert index in main, plan
    if "sort" in query and "q" not in query:
        assert "Sort Key" not in main, f"the index should give the order:\n{plan}"

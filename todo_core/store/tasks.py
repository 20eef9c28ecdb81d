"""Task, reminder and tag persistence (psycopg 3, named parameters, composed SQL only)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg import sql as S
from psycopg.rows import dict_row

from todo_core.domain.query import Sort, SortKey, TaskQuery, encode_cursor
from todo_core.domain.recurrence import Recurrence
from todo_core.domain.reminders import ReminderSpec, fire_time
from todo_core.domain.tasks import Priority, Reminder, Status, Task, TaskFields

Conn = AsyncConnection[Any]

_COLUMNS = S.SQL(
    "t.id, t.user_id, t.title, t.description, t.status, t.priority, t.tags, t.due_at, t.all_day,"
    " t.timezone, t.rrule, t.anchor, t.series_id, t.occurrence, t.created_at, t.updated_at,"
    " t.completed_at, t.version,"
    " (SELECT coalesce(json_agg(json_build_object('id', r.id, 'offset_minutes', r.offset_minutes,"
    "   'at', r.at, 'fire_at', r.fire_at, 'status', r.status) ORDER BY r.created_at, r.id), '[]')"
    "  FROM reminders r WHERE r.task_id = t.id) AS reminders"
)


def _ts(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def row_to_task(row: dict[str, Any]) -> Task:
    recurrence = Recurrence(row["rrule"], row["anchor"]) if row["rrule"] else None
    reminders = tuple(
        Reminder(
            id=UUID(r["id"]),
            offset_minutes=r["offset_minutes"],
            at=_ts(r["at"]),
            fire_at=_ts(r["fire_at"]),
            status=r["status"],
        )
        for r in row["reminders"]
    )
    fields = TaskFields(
        title=row["title"],
        description=row["description"],
        priority=Priority.from_rank(row["priority"]),
        tags=tuple(row["tags"]),
        due_at=row["due_at"],
        all_day=row["all_day"],
        timezone=row["timezone"],
        recurrence=recurrence,
        reminders=tuple(r.spec for r in reminders),
    )
    return Task(
        id=row["id"],
        user_id=row["user_id"],
        fields=fields,
        status=Status(row["status"]),
        series_id=row["series_id"],
        occurrence=row["occurrence"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        completed_at=row["completed_at"],
        version=row["version"],
        reminders=reminders,
    )


def _field_params(f: TaskFields) -> dict[str, Any]:
    return {
        "title": f.title,
        "description": f.description,
        "priority": f.priority.rank,
        "tags": list(f.tags),
        "due_at": f.due_at,
        "all_day": f.all_day,
        "timezone": f.timezone,
        "rrule": f.recurrence.rrule if f.recurrence else None,
        "anchor": f.recurrence.anchor if f.recurrence else None,
    }


async def insert_task(
    conn: Conn,
    *,
    task_id: UUID,
    user_id: UUID,
    fields: TaskFields,
    series_id: UUID | None,
    occurrence: int,
    now: datetime,
) -> bool:
    """Insert; False when the (series, occurrence) already exists (the next occurrence is made once)."""
    cur = await conn.execute(
        "INSERT INTO tasks (id, user_id, title, description, priority, tags, due_at, all_day, timezone,"
        " rrule, anchor, series_id, occurrence, created_at, updated_at)"
        " VALUES (%(id)s, %(user_id)s, %(title)s, %(description)s, %(priority)s, %(tags)s, %(due_at)s,"
        " %(all_day)s, %(timezone)s, %(rrule)s, %(anchor)s, %(series_id)s, %(occurrence)s, %(now)s, %(now)s)"
        " ON CONFLICT (series_id, occurrence) WHERE series_id IS NOT NULL DO NOTHING",
        {
            **_field_params(fields),
            "id": task_id,
            "user_id": user_id,
            "series_id": series_id,
            "occurrence": occurrence,
            "now": now,
        },
    )
    return cur.rowcount == 1


async def update_task(
    conn: Conn,
    task: Task,
    fields: TaskFields,
    *,
    status: Status,
    completed_at: datetime | None,
    series_id: UUID | None,
    now: datetime,
) -> None:
    await conn.execute(
        "UPDATE tasks SET title = %(title)s, description = %(description)s, priority = %(priority)s,"
        " tags = %(tags)s, due_at = %(due_at)s, all_day = %(all_day)s, timezone = %(timezone)s,"
        " rrule = %(rrule)s, anchor = %(anchor)s, status = %(status)s, completed_at = %(completed_at)s,"
        " series_id = %(series_id)s, updated_at = %(now)s, version = version + 1"
        " WHERE id = %(id)s AND user_id = %(user_id)s",
        {
            **_field_params(fields),
            "status": status.value,
            "completed_at": completed_at,
            "series_id": series_id,
            "now": now,
            "id": task.id,
            "user_id": task.user_id,
        },
    )


async def delete_task(conn: Conn, task: Task) -> None:
    await conn.execute(
        "DELETE FROM tasks WHERE id = %(id)s AND user_id = %(user_id)s", {"id": task.id, "user_id": task.user_id}
    )


async def get_task(conn: Conn, user_id: UUID, task_id: UUID, *, for_update: bool = False) -> Task | None:
    query = S.SQL("SELECT {} FROM tasks t WHERE t.id = %(id)s AND t.user_id = %(user_id)s{}").format(
        _COLUMNS, S.SQL(" FOR UPDATE OF t") if for_update else S.SQL("")
    )
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, {"id": task_id, "user_id": user_id})
        row = await cur.fetchone()
    return row_to_task(row) if row else None


# -- reminders ---------------------------------------------------------------------------------


async def sync_reminders(
    conn: Conn, task_id: UUID, user_id: UUID, current: Sequence[Reminder], fields: TaskFields, *, new_ids: Any
) -> None:
    """Make the pending reminder rows match ``fields.reminders`` for the task's current due.

    A row exists exactly while the reminder is part of the task. Reminders that stay keep their id
    and get a recomputed fire time (and fire again when moved into the future); dropped ones are
    deleted, so a timer that fires late finds nothing to deliver.
    """
    wanted = list(fields.reminders)
    for r in current:
        if r.spec in wanted:
            wanted.remove(r.spec)
            new_fire = fire_time(r.spec, fields.due_at)
            if new_fire != r.fire_at:
                await conn.execute(
                    "UPDATE reminders SET fire_at = %(f)s, status = 'pending', late = false, fired_at = NULL,"
                    " delivered_at = NULL WHERE id = %(id)s",
                    {"f": new_fire, "id": r.id},
                )
        else:
            await conn.execute("DELETE FROM reminders WHERE id = %(id)s", {"id": r.id})
    await insert_reminders(conn, task_id, user_id, wanted, fields.due_at, new_ids=new_ids)


async def insert_reminders(
    conn: Conn,
    task_id: UUID,
    user_id: UUID,
    specs: Sequence[ReminderSpec],
    due_at: datetime | None,
    *,
    new_ids: Any,
) -> list[Reminder]:
    """Insert pending reminder rows; returns them as they were stored."""
    made = [Reminder(new_ids(), s.offset_minutes, s.at, fire_time(s, due_at), "pending") for s in specs]
    if not made:
        return made
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO reminders (id, task_id, user_id, offset_minutes, at, fire_at)"
            " VALUES (%(id)s, %(task_id)s, %(user_id)s, %(offset)s, %(at)s, %(fire_at)s)",
            [
                {
                    "id": r.id,
                    "task_id": task_id,
                    "user_id": user_id,
                    "offset": r.offset_minutes,
                    "at": r.at,
                    "fire_at": r.fire_at,
                }
                for r in made
            ],
        )
    return made


async def set_pending_reminders_status(conn: Conn, task_id: UUID, *, to: str, now: datetime) -> None:
    """Complete cancels pending reminders; reopen revives the cancelled ones still ahead."""
    if to == "cancelled":
        await conn.execute(
            "UPDATE reminders SET status = 'cancelled' WHERE task_id = %(t)s AND status = 'pending'", {"t": task_id}
        )
    else:
        await conn.execute(
            "UPDATE reminders SET status = 'pending' WHERE task_id = %(t)s AND status = 'cancelled'"
            " AND fire_at > %(now)s",
            {"t": task_id, "now": now},
        )


# -- queries -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Task]
    next_cursor: str | None


# Relevance: full-text rank (title weighted above description above tags), plus a bonus for a
# title that starts with the first word typed. In typo mode the title's trigram closeness to the
# query counts instead; word_similarity costs ~5 us a row, so it is kept for the (smaller) typo mode.
_RANK = S.SQL(
    "(ts_rank(t.search, to_tsquery('simple', %(tsq)s))"
    " + CASE WHEN t.title_key LIKE %(title_prefix)s THEN 0.5 ELSE 0 END)::float8"
)
_RANK_FUZZY = S.SQL("(ts_rank(t.search, to_tsquery('simple', %(tsq)s)) + word_similarity(%(q)s, t.title))::float8")


def _like_prefix(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _sort_columns(sort: Sort, *, fuzzy: bool = False) -> tuple[list[S.Composable], bool]:
    """Key expressions (all ordered the same way) and whether that way is descending."""
    k = sort.key
    if k is SortKey.RELEVANCE:
        return [_RANK_FUZZY if fuzzy else _RANK, S.SQL("t.id")], True
    if k is SortKey.DUE:
        cols = ["t.due_key_desc" if sort.descending else "t.due_key", "t.id"]
    elif k is SortKey.PRIORITY:
        cols = ["t.priority", "t.due_key", "t.id"]
    elif k is SortKey.TITLE:
        cols = ["t.title_key", "t.id"]
    elif k is SortKey.CREATED:
        cols = ["t.created_at", "t.id"]
    else:
        cols = ["t.updated_at", "t.id"]
    return [S.SQL(c) for c in cols], sort.descending


TYPO_MIN_LENGTH = 4  # shorter words match too much when misspellings are allowed
MAX_SEARCH_WORDS = 8


def search_words(q: str) -> list[str]:
    """Lower-case words of the query, reduced to characters without tsquery meaning."""
    words = ["".join(ch for ch in w if ch.isalnum() or ch == "_").lower() for w in q.split()]
    return list(dict.fromkeys(w for w in words if w))[:MAX_SEARCH_WORDS]


def list_statement(user_id: UUID, query: TaskQuery, *, now: datetime) -> tuple[S.Composed, dict[str, Any], int]:
    """The list query, its parameters and the number of sort-key columns (``sk0``..)."""
    where: list[S.Composable] = [S.SQL("t.user_id = %(user_id)s")]
    params: dict[str, Any] = {"user_id": user_id, "limit": query.limit + 1, "now": now}
    if query.status != "all":
        where.append(S.SQL("t.status = %(status)s"))
        params["status"] = query.status
    if query.priorities:
        where.append(S.SQL("t.priority = ANY(%(priorities)s)"))
        params["priorities"] = [p.rank for p in query.priorities]
    if query.tags:
        op = "&&" if query.tag_mode == "any" else "@>"
        where.append(S.SQL("t.tags {} %(tags)s::text[]").format(S.SQL(op)))
        params["tags"] = list(query.tags)
    if query.due_before is not None:
        where.append(S.SQL("t.due_key < %(due_before)s"))
        params["due_before"] = query.due_before
    if query.due_after is not None:
        where.append(S.SQL("t.due_key >= %(due_after)s AND t.due_at IS NOT NULL"))
        params["due_after"] = query.due_after
    overdue = S.SQL(
        "t.status = 'open' AND t.due_key < %(now)s AND (NOT t.all_day OR t.due_at + interval '1 day' <= %(now)s)"
    )
    if query.overdue is True:
        where.append(overdue)
    elif query.overdue is False:
        where.append(S.SQL("NOT ({})").format(overdue))
    if query.has_due is True:
        where.append(S.SQL("t.due_at IS NOT NULL"))
    elif query.has_due is False:
        where.append(S.SQL("t.due_key = 'infinity'"))
    if query.recurring is True:
        where.append(S.SQL("t.rrule IS NOT NULL"))
    elif query.recurring is False:
        where.append(S.SQL("t.rrule IS NULL"))
    if query.q:
        words = search_words(query.q)
        params["q"] = query.q
        params["tsq"] = " | ".join(f"'{w}':*" for w in words)
        params["title_prefix"] = _like_prefix(words[0]) if words else ""
        if not words:
            where.append(S.SQL("false"))
        for i, w in enumerate(words):
            # each word must match: as a word or word prefix anywhere, or (typo-tolerant) in the title
            params[f"w{i}"] = f"'{w}':*"
            cond = S.SQL("t.search @@ to_tsquery('simple', {})").format(S.Placeholder(f"w{i}"))
            if query.fuzzy and len(w) >= TYPO_MIN_LENGTH:
                params[f"r{i}"] = w
                cond = S.SQL("({} OR {} <%% t.title)").format(cond, S.Placeholder(f"r{i}"))
            where.append(cond)
    cols, desc = _sort_columns(query.sort, fuzzy=query.fuzzy)
    if query.cursor is not None:
        if len(query.cursor) != len(cols):
            from todo_core.domain.errors import ValidationError

            raise ValidationError("cursor does not match the sort", [{"field": "cursor", "message": "invalid"}])
        placeholders = []
        for i, value in enumerate(query.cursor):
            params[f"c{i}"] = value
            placeholders.append(S.Placeholder(f"c{i}"))
        where.append(
            S.SQL("({}) {} ({})").format(
                S.SQL(", ").join(cols), S.SQL("<" if desc else ">"), S.SQL(", ").join(placeholders)
            )
        )
    direction = S.SQL(" DESC" if desc else "")
    order = S.SQL(", ").join(S.Composed([c, direction]) for c in cols)
    stmt = S.SQL("SELECT {}, {} FROM tasks t WHERE {} ORDER BY {} LIMIT %(limit)s").format(
        _COLUMNS,
        S.SQL(", ").join(S.Composed([S.SQL("("), c, S.SQL(f")::text AS sk{i}")]) for i, c in enumerate(cols)),
        S.SQL(" AND ").join(where),
        order,
    )
    return stmt, params, len(cols)


async def list_tasks(conn: Conn, user_id: UUID, query: TaskQuery, *, now: datetime) -> Page:
    rows, n_keys = await _fetch(conn, user_id, query, now)
    if not rows and query.q and not query.fuzzy and query.cursor is None:
        # nothing matches as typed: try again allowing typos (trigram similarity on the title)
        query = replace(query, fuzzy=True)
        rows, n_keys = await _fetch(conn, user_id, query, now)
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(query.sort, tuple(last[f"sk{i}"] for i in range(n_keys)), fuzzy=query.fuzzy)
    return Page(items=[row_to_task(r) for r in rows], next_cursor=next_cursor)


async def _fetch(conn: Conn, user_id: UUID, query: TaskQuery, now: datetime) -> tuple[list[dict[str, Any]], int]:
    stmt, params, n_keys = list_statement(user_id, query, now=now)
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(stmt, params)
        return await cur.fetchall(), n_keys


async def list_tags(conn: Conn, user_id: UUID) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT name, task_count AS count, open_count FROM tags WHERE user_id = %(u)s"
            " ORDER BY open_count DESC, task_count DESC, name",
            {"u": user_id},
        )
        return await cur.fetchall()

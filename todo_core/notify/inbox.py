"""The notification inbox and the Web Push subscriptions of each user (tables of migration 0002).

Every function takes an open psycopg ``AsyncConnection`` and runs inside whatever transaction
the caller holds, so an inbox row, its realtime message and its outbox/ledger rows commit together.
Every read and write is scoped by the user id, except the ones the delivery pipeline uses by
a key only it holds (notification id, push endpoint).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from todo_core.domain.errors import NotFound, ValidationError
from todo_core.domain.ids import new_id

__all__ = [
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "NotificationCursor",
    "NotificationPage",
    "create_reminder_notification",
    "decode_cursor",
    "delete_subscription",
    "encode_cursor",
    "get_notification",
    "list_notifications",
    "mark_all_read",
    "mark_push_sent",
    "mark_read",
    "remove_subscription_by_endpoint",
    "subscriptions_for",
    "touch_subscription_ok",
    "unread_count",
    "upsert_subscription",
]

Conn = AsyncConnection[Any]

DEFAULT_PAGE: Final = 20
MAX_PAGE: Final = 100

_COLUMNS: Final = "id, task_id, reminder_id, kind, title, body, data, late, created_at, read_at"


def _rfc3339(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _str(value: UUID | None) -> str | None:
    return str(value) if value is not None else None


def _public(row: dict[str, Any]) -> dict[str, Any]:
    """The notification JSON of the public contract."""
    return {
        "id": str(row["id"]),
        "task_id": _str(row["task_id"]),
        "reminder_id": _str(row["reminder_id"]),
        "kind": row["kind"],
        "title": row["title"],
        "body": row["body"],
        "data": row["data"],
        "late": row["late"],
        "created_at": _rfc3339(row["created_at"]),
        "read_at": _rfc3339(row["read_at"]),
    }


# -- notifications -------------------------------------------------------------------------------


async def create_reminder_notification(
    conn: Conn,
    *,
    notification_id: UUID,
    user_id: UUID,
    task_id: UUID,
    reminder_id: UUID,
    title: str,
    body: str,
    data: dict[str, Any],
    late: bool,
) -> dict[str, Any] | None:
    """Insert the inbox row of a fired reminder; its public JSON, or None when the reminder already has one.

    ``reminder_id`` is unique in the table, so however often the reminder event is redelivered the
    user gets one inbox entry (and the caller sends push/realtime only when this returns a row).
    """
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "INSERT INTO notifications (id, user_id, task_id, reminder_id, kind, title, body, data, late)"
            " VALUES (%(id)s, %(u)s, %(t)s, %(r)s, 'reminder', %(title)s, %(body)s, %(data)s, %(late)s)"
            " ON CONFLICT (reminder_id) DO NOTHING"
            f" RETURNING {_COLUMNS}",
            {
                "id": notification_id,
                "u": user_id,
                "t": task_id,
                "r": reminder_id,
                "title": title,
                "body": body,
                "data": Jsonb(data),
                "late": late,
            },
        )
        row = await cur.fetchone()
    return _public(row) if row is not None else None


@dataclass(frozen=True, slots=True)
class NotificationCursor:
    """Position after the last notification of a page: lists are ordered by (created_at, id) descending."""

    created_at: datetime
    id: UUID


def encode_cursor(cursor: NotificationCursor) -> str:
    raw = json.dumps({"t": cursor.created_at.isoformat(), "i": str(cursor.id)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> NotificationCursor:
    """The cursor an earlier page returned; ValidationError (422) for anything else."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        created_at = datetime.fromisoformat(data["t"])
        if created_at.tzinfo is None:
            raise ValueError("naive")
        return NotificationCursor(created_at, UUID(data["i"]))
    except Exception:
        raise ValidationError(
            "cursor: is not a cursor returned by this API",
            [{"field": "cursor", "message": "is not a cursor returned by this API"}],
        ) from None


@dataclass(frozen=True, slots=True)
class NotificationPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


async def list_notifications(
    conn: Conn,
    user_id: UUID,
    *,
    unread_only: bool = False,
    limit: int = DEFAULT_PAGE,
    before: NotificationCursor | None = None,
) -> NotificationPage:
    """The user's notifications, newest first, ``limit`` (1..MAX_PAGE) at a time after ``before``."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationError(
            f"limit: must be 1 to {MAX_PAGE}", [{"field": "limit", "message": f"must be 1 to {MAX_PAGE}"}]
        )
    conditions = [sql.SQL("user_id = %(u)s")]
    if unread_only:
        conditions.append(sql.SQL("read_at IS NULL"))
    if before is not None:
        conditions.append(sql.SQL("(created_at, id) < (%(t)s, %(i)s)"))
    query = sql.SQL(
        "SELECT {columns} FROM notifications WHERE {where} ORDER BY created_at DESC, id DESC LIMIT %(n)s"
    ).format(columns=sql.SQL(_COLUMNS), where=sql.SQL(" AND ").join(conditions))
    params: dict[str, Any] = {"u": user_id, "n": limit + 1}
    if before is not None:
        params |= {"t": before.created_at, "i": before.id}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        rows = await cur.fetchall()
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(NotificationCursor(rows[-1]["created_at"], rows[-1]["id"]))
    return NotificationPage([_public(r) for r in rows], next_cursor)


async def get_notification(conn: Conn, user_id: UUID, notification_id: UUID) -> dict[str, Any]:
    """One notification of the user; NotFound for unknown ids and for other users' notifications alike."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM notifications WHERE id = %(id)s AND user_id = %(u)s",
            {"id": notification_id, "u": user_id},
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFound("notification not found")
    return _public(row)


async def mark_read(conn: Conn, user_id: UUID, notification_id: UUID) -> dict[str, Any]:
    """Mark one notification read and return it. Idempotent: a second call keeps the first ``read_at``."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "UPDATE notifications SET read_at = coalesce(read_at, now())"
            f" WHERE id = %(id)s AND user_id = %(u)s RETURNING {_COLUMNS}",
            {"id": notification_id, "u": user_id},
        )
        row = await cur.fetchone()
    if row is None:
        raise NotFound("notification not found")
    return _public(row)


async def mark_all_read(conn: Conn, user_id: UUID) -> int:
    """Mark every unread notification of the user read; how many changed."""
    cur = await conn.execute(
        "UPDATE notifications SET read_at = now() WHERE user_id = %(u)s AND read_at IS NULL", {"u": user_id}
    )
    return cur.rowcount


async def unread_count(conn: Conn, user_id: UUID) -> int:
    cur = await conn.execute(
        "SELECT count(*) FROM notifications WHERE user_id = %(u)s AND read_at IS NULL", {"u": user_id}
    )
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def mark_push_sent(conn: Conn, notification_id: UUID) -> bool:
    """Record that the notification went out as Web Push; False if it was recorded before (or is unknown)."""
    cur = await conn.execute(
        "UPDATE notifications SET push_sent_at = now() WHERE id = %(id)s AND push_sent_at IS NULL",
        {"id": notification_id},
    )
    return cur.rowcount == 1


# -- push subscriptions ----------------------------------------------------------------------------


async def upsert_subscription(
    conn: Conn, user_id: UUID, *, endpoint: str, p256dh: str, auth: str, user_agent: str = ""
) -> dict[str, Any]:
    """Store the browser's subscription for the user: ``{id, endpoint, created, moved}``.

    The endpoint is the key. The same user subscribing again (new keys after the browser rotated
    them, or simply every page load) updates the row. An endpoint held by ANOTHER user is moved to
    this one (``moved``): browsers hand out one endpoint per profile and site, so when a second
    person signs in on the same browser, reminders must go to whoever is signed in now, never to
    the previous account. An endpoint is an unguessable capability URL, so only someone with that
    browser profile can present it.
    """
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            # the CTE reads the previous owner in the statement's snapshot, before the upsert
            "WITH prev AS (SELECT user_id FROM push_subscriptions WHERE endpoint = %(e)s)"
            " INSERT INTO push_subscriptions AS s (id, user_id, endpoint, p256dh, auth, user_agent)"
            " VALUES (%(id)s, %(u)s, %(e)s, %(p)s, %(a)s, %(ua)s)"
            " ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh,"
            " auth = excluded.auth, user_agent = excluded.user_agent,"
            " last_ok_at = CASE WHEN s.user_id = excluded.user_id THEN s.last_ok_at END"
            " RETURNING s.id, s.endpoint, (SELECT user_id FROM prev) AS previous_user",
            {"id": new_id(), "u": user_id, "e": endpoint, "p": p256dh, "a": auth, "ua": user_agent},
        )
        row = await cur.fetchone()
    assert row is not None
    previous = row["previous_user"]
    return {
        "id": str(row["id"]),
        "endpoint": row["endpoint"],
        "created": previous is None,
        "moved": previous is not None and previous != user_id,
    }


async def delete_subscription(conn: Conn, user_id: UUID, endpoint: str) -> bool:
    """Remove the user's subscription with this endpoint; False if the user has none with it."""
    cur = await conn.execute(
        "DELETE FROM push_subscriptions WHERE user_id = %(u)s AND endpoint = %(e)s", {"u": user_id, "e": endpoint}
    )
    return cur.rowcount == 1


async def subscriptions_for(conn: Conn, user_id: UUID) -> list[dict[str, str]]:
    """Where to push the user's notifications, oldest first: ``{id, endpoint, p256dh, auth}`` each
    (``webpush.PushSubscription(endpoint=..., p256dh=..., auth=...)`` takes the last three)."""
    cur = await conn.execute(
        "SELECT id, endpoint, p256dh, auth FROM push_subscriptions WHERE user_id = %(u)s ORDER BY created_at, id",
        {"u": user_id},
    )
    return [{"id": str(i), "endpoint": e, "p256dh": p, "auth": a} for i, e, p, a in await cur.fetchall()]


async def remove_subscription_by_endpoint(conn: Conn, endpoint: str) -> bool:
    """Forget a subscription the push service reported gone (404/410), whoever held it."""
    cur = await conn.execute("DELETE FROM push_subscriptions WHERE endpoint = %(e)s", {"e": endpoint})
    return cur.rowcount == 1


async def touch_subscription_ok(conn: Conn, endpoint: str) -> None:
    """Record a successful delivery to the endpoint (``last_ok_at``)."""
    await conn.execute("UPDATE push_subscriptions SET last_ok_at = now() WHERE endpoint = %(e)s", {"e": endpoint})

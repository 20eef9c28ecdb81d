"""Users and idempotency keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

Conn = AsyncConnection[Any]


@dataclass(frozen=True, slots=True)
class UserRow:
    id: UUID
    email: str
    password_hash: str
    timezone: str
    created_at: datetime

    def to_public(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "email": self.email,
            "timezone": self.timezone,
            "created_at": self.created_at.isoformat(),
        }


async def insert_user(conn: Conn, *, user_id: UUID, email: str, password_hash: str, timezone: str) -> UserRow | None:
    """None when the e-mail is taken (case-insensitively)."""
    async with conn.cursor(row_factory=class_row(UserRow)) as cur:
        await cur.execute(
            "INSERT INTO users (id, email, password_hash, timezone) VALUES (%(id)s, %(e)s, %(h)s, %(tz)s)"
            " ON CONFLICT (lower(email)) DO NOTHING"
            " RETURNING id, email, password_hash, timezone, created_at",
            {"id": user_id, "e": email, "h": password_hash, "tz": timezone},
        )
        return await cur.fetchone()


async def user_by_email(conn: Conn, email: str) -> UserRow | None:
    async with conn.cursor(row_factory=class_row(UserRow)) as cur:
        await cur.execute(
            "SELECT id, email, password_hash, timezone, created_at FROM users WHERE lower(email) = lower(%(e)s)",
            {"e": email},
        )
        return await cur.fetchone()


async def user_by_id(conn: Conn, user_id: UUID) -> UserRow | None:
    async with conn.cursor(row_factory=class_row(UserRow)) as cur:
        await cur.execute(
            "SELECT id, email, password_hash, timezone, created_at FROM users WHERE id = %(id)s", {"id": user_id}
        )
        return await cur.fetchone()


async def update_user_timezone(conn: Conn, user_id: UUID, timezone: str) -> None:
    await conn.execute("UPDATE users SET timezone = %(tz)s WHERE id = %(id)s", {"tz": timezone, "id": user_id})


async def update_password_hash(conn: Conn, user_id: UUID, password_hash: str) -> None:
    await conn.execute("UPDATE users SET password_hash = %(h)s WHERE id = %(id)s", {"h": password_hash, "id": user_id})


# -- idempotency keys --------------------------------------------------------------------------


async def claim_idempotency_key(conn: Conn, user_id: UUID, key: str, request_hash: str) -> dict[str, Any] | None:
    """Claim the key inside the caller's transaction.

    Returns None when this request owns the key now (go on and store the response), or the stored
    row when an earlier request used it. A concurrent request with the same key waits on the
    unique index until the first one commits or rolls back.
    """
    cur = await conn.execute(
        "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES (%(u)s, %(k)s, %(h)s)"
        " ON CONFLICT (user_id, key) DO NOTHING",
        {"u": user_id, "k": key, "h": request_hash},
    )
    if cur.rowcount == 1:
        return None
    async with conn.cursor(row_factory=dict_row) as c:
        await c.execute(
            "SELECT request_hash, status_code, response FROM idempotency_keys WHERE user_id = %(u)s AND key = %(k)s",
            {"u": user_id, "k": key},
        )
        row = await c.fetchone()
    assert row is not None
    return row


async def store_idempotent_response(
    conn: Conn, user_id: UUID, key: str, status_code: int, response: dict[str, Any]
) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status_code = %(s)s, response = %(r)s WHERE user_id = %(u)s AND key = %(k)s",
        {"s": status_code, "r": Jsonb(response), "u": user_id, "k": key},
    )

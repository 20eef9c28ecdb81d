"""Chat threads and the agent's conversation memory, always scoped by the thread's owner.

* :class:`ChatStore` keeps the thread index (``chat_threads``: owner, title, ChatKit metadata) and
  the thread items (``chat_items``) in Postgres. Every statement filters by the user id that the
  caller verified, so another user's thread id reads as "not found".
* Conversation memory is an Agents SDK :class:`~agents.memory.Session` per thread:
  :class:`PostgresSession` (rows of kind ``session``) locally, :class:`DaprStateSession` (one key
  per thread in a Dapr state store, written with ETags) in cluster mode (``settings.dapr_enabled``).
  :meth:`ChatStore.session` picks the one the settings ask for. The thread index stays in Postgres
  in both modes: ownership and listing need one queryable place.
* ChatKit thread items (what the ChatKit UI shows) are rows of kind ``chatkit`` of the same threads.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Literal
from uuid import UUID, uuid4

import httpx
from psycopg import AsyncConnection
from psycopg.rows import class_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from todo_core.settings import Settings

if TYPE_CHECKING:
    from agents.items import TResponseInputItem
    from agents.memory import Session, SessionSettings

log = logging.getLogger(__name__)

Conn = AsyncConnection[Any]
ItemKind = Literal["session", "chatkit"]
TITLE_MAX: Final = 200
THREADS_PAGE_MAX: Final = 100
_THREAD_COLUMNS: Final = "id, user_id, title, meta, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class ThreadRow:
    id: UUID
    user_id: UUID
    title: str
    meta: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    def to_public(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "title": self.title,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def thread_title(text: str) -> str:
    """A thread's title from its first message: one line, at most 80 characters."""
    line = " ".join(text.split())
    return line if len(line) <= 80 else line[:79].rstrip() + "…"


def thread_cursor(row: ThreadRow) -> str:
    """The list cursor that continues after ``row``."""
    raw = json.dumps([row.updated_at.isoformat(), str(row.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        updated, thread_id = json.loads(raw)
        at = datetime.fromisoformat(updated)
        if at.tzinfo is None:
            raise ValueError("naive")
        return at, UUID(thread_id)
    except (ValueError, TypeError) as exc:
        raise ValueError("invalid cursor") from exc


class ChatStore:
    """Threads and their items in Postgres. ``user_id`` is always the verified caller."""

    def __init__(self, pool: AsyncConnectionPool, settings: Settings, *, http: httpx.AsyncClient | None = None):
        self._pool = pool
        self._settings = settings
        self._http = http  # the Dapr sidecar client in cluster mode

    # -- threads -------------------------------------------------------------------------------

    async def create_thread(
        self, user_id: UUID, *, title: str = "", thread_id: UUID | None = None, meta: dict[str, Any] | None = None
    ) -> ThreadRow:
        async with self._pool.connection() as conn, conn.cursor(row_factory=class_row(ThreadRow)) as cur:
            await cur.execute(
                f"INSERT INTO chat_threads (id, user_id, title, meta) VALUES (%(id)s, %(u)s, %(t)s, %(m)s)"
                f" RETURNING {_THREAD_COLUMNS}",
                {"id": thread_id or uuid4(), "u": user_id, "t": title[:TITLE_MAX], "m": Jsonb(meta or {})},
            )
            row = await cur.fetchone()
            assert row is not None
            return row

    async def get_thread(self, user_id: UUID, thread_id: UUID) -> ThreadRow | None:
        async with self._pool.connection() as conn, conn.cursor(row_factory=class_row(ThreadRow)) as cur:
            await cur.execute(
                f"SELECT {_THREAD_COLUMNS} FROM chat_threads WHERE id = %(id)s AND user_id = %(u)s",
                {"id": thread_id, "u": user_id},
            )
            return await cur.fetchone()

    async def save_thread(self, user_id: UUID, thread_id: UUID, *, title: str, meta: dict[str, Any]) -> bool:
        """Insert or update a thread of this user; False when the id is another user's thread."""
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "INSERT INTO chat_threads (id, user_id, title, meta) VALUES (%(id)s, %(u)s, %(t)s, %(m)s)"
                " ON CONFLICT (id) DO UPDATE SET title = excluded.title, meta = excluded.meta, updated_at = now()"
                " WHERE chat_threads.user_id = excluded.user_id",
                {"id": thread_id, "u": user_id, "t": title[:TITLE_MAX], "m": Jsonb(meta)},
            )
            return cur.rowcount == 1

    async def touch(self, user_id: UUID, thread_id: UUID, *, title: str | None = None) -> None:
        """Mark activity; sets the title when the thread has none yet."""
        async with self._pool.connection() as conn:
            await conn.execute(
                "UPDATE chat_threads SET updated_at = now(),"
                " title = CASE WHEN title = '' AND %(t)s::text IS NOT NULL THEN %(t)s::text ELSE title END"
                " WHERE id = %(id)s AND user_id = %(u)s",
                {"id": thread_id, "u": user_id, "t": title[:TITLE_MAX] if title else None},
            )

    async def list_threads(
        self, user_id: UUID, *, limit: int = 20, cursor: str | None = None
    ) -> tuple[list[ThreadRow], str | None]:
        """Newest activity first; ``cursor`` from the previous page. ValueError for a bad cursor."""
        limit = max(1, min(limit, THREADS_PAGE_MAX))
        params: dict[str, Any] = {"u": user_id, "n": limit + 1}
        where = "user_id = %(u)s"
        if cursor:
            params["at"], params["id"] = _decode_cursor(cursor)
            where += " AND (updated_at, id) < (%(at)s, %(id)s)"
        async with self._pool.connection() as conn, conn.cursor(row_factory=class_row(ThreadRow)) as cur:
            await cur.execute(
                f"SELECT {_THREAD_COLUMNS} FROM chat_threads WHERE {where}"
                " ORDER BY updated_at DESC, id DESC LIMIT %(n)s",
                params,
            )
            rows = await cur.fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return rows, (thread_cursor(rows[-1]) if more else None)

    async def delete_thread(self, user_id: UUID, thread_id: UUID) -> bool:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM chat_threads WHERE id = %(id)s AND user_id = %(u)s", {"id": thread_id, "u": user_id}
            )
            deleted = cur.rowcount == 1
        if deleted and self._settings.dapr_enabled and self._http is not None:
            await DaprStateSession(self._http, self._settings, user_id, thread_id).clear_session()
        return deleted

    # -- items ---------------------------------------------------------------------------------

    async def add_items(
        self, user_id: UUID, thread_id: UUID, kind: ItemKind, items: list[tuple[str | None, Any]]
    ) -> None:
        """Append ``(item_id, data)`` pairs; an existing ``item_id`` is replaced in place."""
        if not items:
            return
        async with self._pool.connection() as conn, conn.transaction():
            async with conn.cursor() as cur:
                await cur.executemany(
                    "INSERT INTO chat_items (thread_id, user_id, kind, item_id, data)"
                    " VALUES (%(t)s, %(u)s, %(k)s, %(i)s, %(d)s)"
                    " ON CONFLICT (thread_id, kind, item_id) WHERE item_id IS NOT NULL"
                    " DO UPDATE SET data = excluded.data",
                    [{"t": thread_id, "u": user_id, "k": kind, "i": i, "d": Jsonb(d)} for i, d in items],
                )
            await conn.execute(
                "UPDATE chat_threads SET updated_at = now() WHERE id = %(t)s AND user_id = %(u)s",
                {"t": thread_id, "u": user_id},
            )

    async def load_items(
        self,
        user_id: UUID,
        thread_id: UUID,
        kind: ItemKind,
        *,
        limit: int | None = None,
        order: Literal["asc", "desc"] = "asc",
        after: str | None = None,
    ) -> list[tuple[str | None, Any]]:
        """``(item_id, data)`` in insertion order (``desc``: newest first), after the item ``after``."""
        direction = "DESC" if order == "desc" else "ASC"
        cmp = "<" if order == "desc" else ">"
        params: dict[str, Any] = {"t": thread_id, "u": user_id, "k": kind, "n": limit, "after": after}
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT item_id, data FROM chat_items WHERE thread_id = %(t)s AND user_id = %(u)s AND kind = %(k)s"
                f" AND (%(after)s::text IS NULL OR id {cmp} (SELECT id FROM chat_items"
                "   WHERE thread_id = %(t)s AND user_id = %(u)s AND kind = %(k)s AND item_id = %(after)s))"
                f" ORDER BY id {direction} LIMIT %(n)s",
                params,
            )
            return [(r[0], r[1]) for r in await cur.fetchall()]

    async def load_item(self, user_id: UUID, thread_id: UUID, kind: ItemKind, item_id: str) -> Any | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "SELECT data FROM chat_items WHERE thread_id = %(t)s AND user_id = %(u)s AND kind = %(k)s"
                " AND item_id = %(i)s",
                {"t": thread_id, "u": user_id, "k": kind, "i": item_id},
            )
            row = await cur.fetchone()
            return None if row is None else row[0]

    async def delete_item(self, user_id: UUID, thread_id: UUID, kind: ItemKind, item_id: str) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "DELETE FROM chat_items WHERE thread_id = %(t)s AND user_id = %(u)s AND kind = %(k)s"
                " AND item_id = %(i)s",
                {"t": thread_id, "u": user_id, "k": kind, "i": item_id},
            )

    async def pop_item(self, user_id: UUID, thread_id: UUID, kind: ItemKind) -> Any | None:
        async with self._pool.connection() as conn:
            cur = await conn.execute(
                "DELETE FROM chat_items WHERE id = (SELECT max(id) FROM chat_items"
                "  WHERE thread_id = %(t)s AND user_id = %(u)s AND kind = %(k)s) RETURNING data",
                {"t": thread_id, "u": user_id, "k": kind},
            )
            row = await cur.fetchone()
            return None if row is None else row[0]

    async def clear_items(self, user_id: UUID, thread_id: UUID, kind: ItemKind) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                "DELETE FROM chat_items WHERE thread_id = %(t)s AND user_id = %(u)s AND kind = %(k)s",
                {"t": thread_id, "u": user_id, "k": kind},
            )

    # -- conversation memory -------------------------------------------------------------------

    def session(self, user_id: UUID, thread_id: UUID) -> Session:
        """The agent's memory of one thread: Dapr state in cluster mode, Postgres otherwise.

        The caller has checked that the thread is this user's (:meth:`get_thread`)."""
        if self._settings.dapr_enabled:
            if self._http is None:
                raise RuntimeError("cluster mode needs the Dapr HTTP client")
            return DaprStateSession(self._http, self._settings, user_id, thread_id)
        return PostgresSession(self, user_id, thread_id)


@dataclass
class PostgresSession:
    """Agents SDK ``Session`` over ``chat_items`` rows of kind ``session``."""

    store: ChatStore
    user_id: UUID
    thread_id: UUID
    session_settings: SessionSettings | None = None
    session_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.session_id = str(self.thread_id)

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        if limit is None:
            rows = await self.store.load_items(self.user_id, self.thread_id, "session")
        else:
            rows = list(
                reversed(
                    await self.store.load_items(self.user_id, self.thread_id, "session", limit=limit, order="desc")
                )
            )
        return [data for _, data in rows]

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        await self.store.add_items(self.user_id, self.thread_id, "session", [(None, _plain(i)) for i in items])

    async def pop_item(self) -> TResponseInputItem | None:
        item: TResponseInputItem | None = await self.store.pop_item(self.user_id, self.thread_id, "session")
        return item

    async def clear_session(self) -> None:
        await self.store.clear_items(self.user_id, self.thread_id, "session")


DAPR_WRITE_ATTEMPTS: Final = 5


class DaprStateError(RuntimeError):
    pass


class DaprStateSession:
    """Agents SDK ``Session`` in a Dapr state store: one key per thread holding the item list.

    Reads ``GET /v1.0/state/<store>/<key>`` (the ETag header comes back), writes
    ``POST /v1.0/state/<store>`` with that ETag (none for a new thread) and first-write concurrency,
    retrying on 409 (someone wrote or created it in between), and forgets with
    ``DELETE /v1.0/state/<store>/<key>``. The key holds both the user and the thread, so one user's
    thread id never opens another's memory.
    """

    session_settings: SessionSettings | None = None

    def __init__(self, http: httpx.AsyncClient, settings: Settings, user_id: UUID, thread_id: UUID) -> None:
        self._http = http
        self._base = settings.dapr_http_endpoint.rstrip("/") + f"/v1.0/state/{settings.dapr_state_store}"
        token = settings.dapr_api_token.get_secret_value() if settings.dapr_api_token else ""
        self._headers = {"dapr-api-token": token} if token else {}
        self.session_id = str(thread_id)
        self.key = f"chat-{user_id}-{thread_id}"

    async def _read(self) -> tuple[list[Any], str | None]:
        r = await self._http.get(f"{self._base}/{self.key}", headers=self._headers)
        if r.status_code == 204 or (r.status_code == 200 and not r.content):
            return [], None
        if r.status_code != 200:
            raise DaprStateError(f"state read failed: HTTP {r.status_code}")
        value = r.json()
        return (value if isinstance(value, list) else []), r.headers.get("ETag")

    async def _write(self, items: list[Any], etag: str | None) -> bool:
        # first-write always: with the ETag read, the write fails if someone wrote since; without one (no
        # memory yet) it fails if someone created the key since. Either way the loser reads again.
        entry: dict[str, Any] = {"key": self.key, "value": items, "options": {"concurrency": "first-write"}}
        if etag is not None:
            entry["etag"] = etag
        r = await self._http.post(self._base, json=[entry], headers=self._headers)
        if r.status_code in (200, 201, 204):
            return True
        if r.status_code == 409:
            return False
        if etag is None and (await self._read())[1] is not None:
            # a first write that lost the race to create the key: state.postgresql answers 500 "no item
            # was updated" rather than 409, so the key now existing is what says it was a conflict
            return False
        raise DaprStateError(f"state write failed: HTTP {r.status_code} {r.text[:300]}")

    async def _update(self, change: Any) -> Any:
        for attempt in range(DAPR_WRITE_ATTEMPTS):
            items, etag = await self._read()
            result = change(items)
            if await self._write(items, etag):
                return result
            await asyncio.sleep(0.01 * (attempt + 1))
        raise DaprStateError("state write kept conflicting")

    async def get_items(self, limit: int | None = None) -> list[TResponseInputItem]:
        items, _ = await self._read()
        return items[-limit:] if limit else items

    async def add_items(self, items: list[TResponseInputItem]) -> None:
        plain = [_plain(i) for i in items]
        await self._update(lambda current: current.extend(plain))

    async def pop_item(self) -> TResponseInputItem | None:
        popped: TResponseInputItem | None = await self._update(lambda current: current.pop() if current else None)
        return popped

    async def clear_session(self) -> None:
        r = await self._http.delete(f"{self._base}/{self.key}", headers=self._headers)
        if r.status_code not in (200, 204):
            raise DaprStateError(f"state delete failed: HTTP {r.status_code}")


def _plain(item: Any) -> Any:
    """A session item as plain JSON (items can hold pydantic models)."""
    return json.loads(json.dumps(item, default=_json_default))


def _json_default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_unset=True)
    if isinstance(value, datetime | UUID):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")

"""TaskService: every task command, each one transaction that writes state and outbox together.

Adapters (HTTP routes, MCP tools, agent tools, event functions) call this and nothing else;
no business rule lives in them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from todo_core.domain import events as ev
from todo_core.domain.errors import Conflict, NotFound, PreconditionFailed, ValidationError
from todo_core.domain.ids import new_id
from todo_core.domain.query import TaskQuery
from todo_core.domain.recurrence import next_occurrence
from todo_core.domain.reminders import carry_over
from todo_core.domain.tasks import Status, Task, TaskFields, TaskPatch, apply_patch
from todo_core.notify import realtime
from todo_core.store import audit as audit_store
from todo_core.store import outbox
from todo_core.store import tasks as repo
from todo_core.store import users as user_store
from todo_core.store.tasks import Conn, Page

CHANNELS = ("api", "mcp", "chat", "function", "system")
_REALTIME_TYPES = {
    "task.created": "task.created",
    "task.updated": "task.updated",
    "task.completed": "task.completed",
    "task.reopened": "task.updated",
    "task.deleted": "task.deleted",
}


@dataclass(frozen=True, slots=True)
class Actor:
    """Who runs a command, for whom, through which channel. ``user_id`` always comes from a verified
    credential (or, for event functions, from the event that the system itself wrote)."""

    user_id: UUID
    channel: str = "api"
    name: str = ""
    traceparent: str | None = None  # set when the command continues a trace (an event function)

    @property
    def label(self) -> str:
        return self.name or f"user:{self.user_id}"


@dataclass(frozen=True, slots=True)
class Created:
    task: dict[str, Any]  # public JSON
    replayed: bool  # True when an Idempotency-Key matched an earlier create


def request_fingerprint(fields: TaskFields) -> str:
    return hashlib.sha256(repr(fields).encode()).hexdigest()


class TaskService:
    def __init__(self, pool: AsyncConnectionPool, *, clock: Callable[[], datetime] | None = None) -> None:
        self._pool = pool
        self._clock = clock or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self._clock()

    # -- commands ------------------------------------------------------------------------------

    async def create(self, actor: Actor, fields: TaskFields, *, idempotency_key: str | None = None) -> Created:
        if idempotency_key is not None and not (1 <= len(idempotency_key) <= 200):
            raise ValidationError(
                "Idempotency-Key must be 1 to 200 characters",
                [{"field": "Idempotency-Key", "message": "1 to 200 characters"}],
            )
        async with self._pool.connection() as conn, conn.transaction():
            if idempotency_key is not None:
                fingerprint = request_fingerprint(fields)
                earlier = await user_store.claim_idempotency_key(conn, actor.user_id, idempotency_key, fingerprint)
                if earlier is not None:
                    if earlier["request_hash"] != fingerprint:
                        raise Conflict(
                            "this Idempotency-Key was used for a different request",
                            [{"field": "Idempotency-Key", "message": "reused with another body"}],
                        )
                    return Created(task=earlier["response"], replayed=True)
            task_id = new_id()
            series_id = task_id if fields.recurrence is not None else None
            task = await self._insert(conn, actor, task_id, fields, series_id=series_id, occurrence=1)
            assert task is not None
            public = task.to_public()
            if idempotency_key is not None:
                await user_store.store_idempotent_response(conn, actor.user_id, idempotency_key, 201, public)
            return Created(task=public, replayed=False)

    async def create_next_occurrence(self, actor: Actor, source: Task, due_at: datetime) -> Task | None:
        """The next task of a recurring series, made exactly once per (series, occurrence)."""
        assert source.series_id is not None
        fields = replace(source.fields, due_at=due_at, reminders=tuple(carry_over(source.fields.reminders)))
        async with self._pool.connection() as conn, conn.transaction():
            return await self._insert(
                conn, actor, new_id(), fields, series_id=source.series_id, occurrence=source.occurrence + 1
            )

    async def _insert(
        self,
        conn: Conn,
        actor: Actor,
        task_id: UUID,
        fields: TaskFields,
        *,
        series_id: UUID | None,
        occurrence: int,
    ) -> Task | None:
        now = self.now()
        inserted = await repo.insert_task(
            conn,
            task_id=task_id,
            user_id=actor.user_id,
            fields=fields,
            series_id=series_id,
            occurrence=occurrence,
            now=now,
        )
        if not inserted:
            return None
        reminders = await repo.insert_reminders(
            conn, task_id, actor.user_id, fields.reminders, fields.due_at, new_ids=new_id
        )
        # the stored row is exactly what was written: no need to read it back
        task = Task(
            id=task_id,
            user_id=actor.user_id,
            fields=fields,
            status=Status.OPEN,
            series_id=series_id,
            occurrence=occurrence,
            created_at=now,
            updated_at=now,
            completed_at=None,
            version=1,
            reminders=tuple(reminders),
        )
        await self._emit(conn, actor, ev.TASK_CREATED, "task.created", before=None, after=task, now=now)
        return task

    async def update(
        self, actor: Actor, task_id: UUID, patch: TaskPatch, *, expected_version: int | None = None
    ) -> Task:
        async with self._pool.connection() as conn, conn.transaction():
            current = await self._locked(conn, actor, task_id, expected_version)
            if patch.is_empty():
                return current
            fields = apply_patch(current.fields, patch)
            series_id = current.series_id
            if fields.recurrence is not None and series_id is None:
                series_id = current.id
            now = self.now()
            await repo.update_task(
                conn,
                current,
                fields,
                status=current.status,
                completed_at=current.completed_at,
                series_id=series_id,
                now=now,
            )
            await repo.sync_reminders(conn, current.id, actor.user_id, current.reminders, fields, new_ids=new_id)
            if current.status is Status.DONE:  # kept for a reopen, but a done task reminds of nothing
                await repo.set_pending_reminders_status(conn, current.id, to="cancelled", now=now)
            after = await self._reload(conn, actor, task_id)
            changed = _changed_fields(current, after)
            await self._emit(
                conn,
                actor,
                ev.TASK_UPDATED,
                "task.updated",
                before=current,
                after=after,
                now=now,
                extra={"changed": changed},
            )
            return after

    async def complete(self, actor: Actor, task_id: UUID, *, expected_version: int | None = None) -> Task:
        """Done; pending reminders are cancelled; a recurring task asks for its next occurrence."""
        return await self._set_status(actor, task_id, Status.DONE, expected_version)

    async def reopen(self, actor: Actor, task_id: UUID, *, expected_version: int | None = None) -> Task:
        """Open again; cancelled reminders that are still ahead become pending."""
        return await self._set_status(actor, task_id, Status.OPEN, expected_version)

    async def _set_status(self, actor: Actor, task_id: UUID, to: Status, expected_version: int | None) -> Task:
        async with self._pool.connection() as conn, conn.transaction():
            current = await self._locked(conn, actor, task_id, expected_version)
            if current.status is to:
                return current  # completing twice (or reopening an open task) is a no-op, not an error
            now = self.now()
            done = to is Status.DONE
            await repo.update_task(
                conn,
                current,
                current.fields,
                status=to,
                completed_at=now if done else None,
                series_id=current.series_id,
                now=now,
            )
            await repo.set_pending_reminders_status(conn, current.id, to="cancelled" if done else "pending", now=now)
            after = await self._reload(conn, actor, task_id)
            if done:
                trace = await self._emit(
                    conn, actor, ev.TASK_COMPLETED, "task.completed", before=current, after=after, now=now
                )
                await self._request_next_occurrence(conn, actor, current, after, now, trace)
            else:
                await self._emit(
                    conn,
                    actor,
                    ev.TASK_REOPENED,
                    "task.reopened",
                    before=current,
                    after=after,
                    now=now,
                    extra={"changed": ["status"]},
                )
            return after

    async def _request_next_occurrence(
        self, conn: Conn, actor: Actor, current: Task, after: Task, now: datetime, traceparent: str
    ) -> None:
        f = current.fields
        if f.recurrence is None or f.due_at is None or current.series_id is None:
            return
        nxt = next_occurrence(
            f.recurrence,
            due_at=f.due_at,
            timezone=f.timezone,
            occurrence=current.occurrence,
            completed_at=now,
            all_day=f.all_day,
        )
        if nxt is None:
            return  # the series is over (COUNT reached, UNTIL passed)
        data = {
            "task_id": str(current.id),
            "series_id": str(current.series_id),
            "occurrence": current.occurrence,
            "next_occurrence": current.occurrence + 1,
            "next_due_at": nxt.isoformat(),
            "completed_at": now.isoformat(),
            "task": after.to_public(),
        }
        event = ev.make_event(
            topic=ev.RECURRENCE_DUE,
            type_=ev.RECURRENCE_DUE_TYPE,
            key=str(current.id),
            subject=f"task/{current.id}",
            user_id=actor.user_id,
            data=data,
            now=now,
            traceparent=ev.child_traceparent(traceparent),
        )
        await outbox.append(conn, [event])

    async def delete(self, actor: Actor, task_id: UUID, *, expected_version: int | None = None) -> Task:
        async with self._pool.connection() as conn, conn.transaction():
            current = await self._locked(conn, actor, task_id, expected_version)
            now = self.now()
            await repo.delete_task(conn, current)
            await self._emit(conn, actor, ev.TASK_DELETED, "task.deleted", before=current, after=None, now=now)
            return current

    # -- queries -------------------------------------------------------------------------------

    async def get(self, user_id: UUID, task_id: UUID) -> Task:
        async with self._pool.connection() as conn:
            task = await repo.get_task(conn, user_id, task_id)
        if task is None:
            raise NotFound("task not found")
        return task

    async def list_tasks(self, user_id: UUID, query: TaskQuery) -> Page:
        async with self._pool.connection() as conn:
            return await repo.list_tasks(conn, user_id, query, now=self.now())

    async def tags(self, user_id: UUID) -> list[dict[str, Any]]:
        async with self._pool.connection() as conn:
            return await repo.list_tags(conn, user_id)

    async def audit_trail(
        self, user_id: UUID, *, task_id: UUID | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        async with self._pool.connection() as conn:
            return await audit_store.list_for_user(conn, user_id, task_id=task_id, limit=limit)

    # -- helpers -------------------------------------------------------------------------------

    async def _locked(self, conn: Conn, actor: Actor, task_id: UUID, expected_version: int | None) -> Task:
        task = await repo.get_task(conn, actor.user_id, task_id, for_update=True)
        if task is None:
            raise NotFound("task not found")
        if expected_version is not None and task.version != expected_version:
            raise PreconditionFailed(
                f"task changed since version {expected_version}; it is now at version {task.version}",
                [{"field": "If-Match", "message": f"current version is {task.version}"}],
            )
        return task

    async def _reload(self, conn: Conn, actor: Actor, task_id: UUID) -> Task:
        task = await repo.get_task(conn, actor.user_id, task_id)
        assert task is not None
        return task

    async def _emit(
        self,
        conn: Conn,
        actor: Actor,
        type_: str,
        action: str,
        *,
        before: Task | None,
        after: Task | None,
        now: datetime,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """The task event for task-events and the audit event for audit-append, one traceparent (returned)."""
        subject_task = after or before
        assert subject_task is not None
        tid = str(subject_task.id)
        before_json = before.to_public() if before else None
        after_json = after.to_public() if after else None
        task_event = ev.make_event(
            topic=ev.TASK_EVENTS,
            type_=type_,
            key=tid,
            subject=f"task/{tid}",
            user_id=actor.user_id,
            data={"action": action, "task": after_json or before_json, **(extra or {})},
            now=now,
            traceparent=ev.child_traceparent(actor.traceparent) if actor.traceparent else None,
        )
        audit_event = ev.make_event(
            topic=ev.AUDIT_APPEND,
            type_=ev.AUDIT_APPEND_TYPE,
            key=str(actor.user_id),
            subject=f"task/{tid}",
            user_id=actor.user_id,
            now=now,
            traceparent=task_event.traceparent,
            data={
                "action": action,
                "task_id": tid,
                "actor": actor.label,
                "channel": actor.channel,
                "before": before_json,
                "after": after_json,
            },
        )
        # and every open tab of the user, on every replica, hears of it once the transaction commits
        message = realtime.encode_payload(actor.user_id, _REALTIME_TYPES[action], after_json or before_json or {})
        await outbox.append(conn, [task_event, audit_event], notify=[(realtime.CHANNEL, message)])
        return task_event.traceparent


def _changed_fields(before: Task, after: Task) -> list[str]:
    b, a = before.to_public(), after.to_public()
    skip = {"updated_at", "version", "next_due_at"}
    return sorted(k for k in a if k not in skip and a[k] != b[k])

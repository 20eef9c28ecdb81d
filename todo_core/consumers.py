"""What the four event functions do, independent of how the event arrived (Azure Functions Kafka
trigger, the local functions host, a test). Delivery is at least once; every handler makes its
effect exactly once through a natural unique key or the processed-event ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from todo_core.domain import events as ev
from todo_core.domain.ids import new_id
from todo_core.service import Actor, TaskService
from todo_core.settings import Settings
from todo_core.store import audit as audit_store
from todo_core.store import ledger
from todo_core.store import tasks as repo

log = logging.getLogger(__name__)

RemindersChanged = Callable[[UUID, UUID], Awaitable[None]]  # (user_id, task_id)


async def _no_timer(_user: UUID, _task: UUID) -> None:
    return None


@dataclass
class ConsumerContext:
    pool: AsyncConnectionPool
    settings: Settings
    tasks: TaskService
    # keeps reminder timers in step: the local timer's wake-up, or a call to the gateway's scheduler
    reminders_changed: RemindersChanged = _no_timer
    vapid: Any = None  # todo_core.notify.webpush.VapidKeys when Web Push is configured
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


class PoisonEvent(ValueError):
    """The event cannot be processed whatever the retries (malformed); it goes to the dead-letter topic."""


def _uuid(value: Any, name: str) -> UUID:
    try:
        return UUID(str(value))
    except (ValueError, TypeError) as exc:
        raise PoisonEvent(f"{name} is not a UUID: {value!r}") from exc


def _require(envelope: Any, type_prefix: str) -> dict[str, Any]:
    if not isinstance(envelope, dict) or envelope.get("specversion") != "1.0" or "data" not in envelope:
        raise PoisonEvent("not a CloudEvents 1.0 structured event")
    if not str(envelope.get("type", "")).startswith(type_prefix):
        raise PoisonEvent(f"unexpected event type {envelope.get('type')!r}")
    data = envelope["data"]
    if not isinstance(data, dict):
        raise PoisonEvent("event data is not an object")
    _uuid(envelope.get("id"), "id")
    _uuid(envelope.get("userid"), "userid")
    return data


# -- recurrence_due -------------------------------------------------------------------------------


async def recurrence_due(ctx: ConsumerContext, envelope: dict[str, Any]) -> str:
    """Create the next occurrence of a completed recurring task, once per (series, occurrence)."""
    data = _require(envelope, ev.RECURRENCE_DUE_TYPE)
    user_id = _uuid(envelope["userid"], "userid")
    task_id = _uuid(data.get("task_id"), "task_id")
    try:
        due_at = datetime.fromisoformat(str(data["next_due_at"]))
    except (KeyError, ValueError) as exc:
        raise PoisonEvent("next_due_at missing or not a timestamp") from exc
    if due_at.tzinfo is None:
        raise PoisonEvent("next_due_at has no offset")
    async with ctx.pool.connection() as conn:
        source = await repo.get_task(conn, user_id, task_id)
    if source is None or source.series_id is None:
        log.info("recurrence source gone; no next occurrence", extra={"task_id": str(task_id)})
        return "source-gone"
    if source.occurrence + 1 != int(data.get("next_occurrence", source.occurrence + 1)):
        return "stale"  # the series moved on (reopened and completed again): that event made it
    actor = Actor(user_id, channel="function", name="recurrence_due", traceparent=envelope.get("traceparent"))
    made = await ctx.tasks.create_next_occurrence(actor, source, due_at)
    if made is None:
        return "duplicate"
    await ctx.reminders_changed(user_id, made.id)
    return "created"


# -- audit_append ---------------------------------------------------------------------------------


async def audit_append(ctx: ConsumerContext, envelope: dict[str, Any]) -> str:
    data = _require(envelope, ev.AUDIT_APPEND_TYPE)
    for key in ("action", "actor", "channel"):
        if not isinstance(data.get(key), str):
            raise PoisonEvent(f"audit event without {key}")
    async with ctx.pool.connection() as conn, conn.transaction():
        added = await audit_store.append_event(conn, envelope)
    return "appended" if added else "duplicate"


# -- task_events ----------------------------------------------------------------------------------


async def task_events(ctx: ConsumerContext, envelope: dict[str, Any]) -> str:
    """Keep reminder timers in step with the task (new, moved, cancelled, completed, deleted)."""
    data = _require(envelope, "todo.task.")
    task = data.get("task")
    if not isinstance(task, dict):
        raise PoisonEvent("task event without task")
    task_id = _uuid(task.get("id"), "task.id")
    if not task.get("reminders") and data.get("action") == "task.created":
        return "no-reminders"
    await ctx.reminders_changed(_uuid(envelope["userid"], "userid"), task_id)
    return "synced"


# -- reminder_fire --------------------------------------------------------------------------------


async def reminder_fire(ctx: ConsumerContext, envelope: dict[str, Any]) -> str:
    """Inbox notification + realtime event + reminder delivered, exactly once; then Web Push."""
    from todo_core.notify import inbox, realtime

    data = _require(envelope, ev.REMINDER_FIRE_TYPE)
    user_id = _uuid(envelope["userid"], "userid")
    reminder_id = _uuid(data.get("reminder_id"), "reminder_id")
    task_id = _uuid(data.get("task_id"), "task_id")
    try:
        fire_at = datetime.fromisoformat(str(data["fire_at"]))
    except (KeyError, ValueError) as exc:
        raise PoisonEvent("fire_at missing or not a timestamp") from exc
    outcome = "stale"
    async with ctx.pool.connection() as conn, conn.transaction():
        if await ledger.claim(conn, "reminder_fire", envelope["id"]):
            cur = await conn.execute(
                "SELECT r.status, r.fire_at, r.late, t.status, t.title, t.due_at, t.timezone"
                " FROM reminders r JOIN tasks t ON t.id = r.task_id"
                " WHERE r.id = %(r)s AND r.user_id = %(u)s AND t.id = %(t)s FOR UPDATE OF r",
                {"r": reminder_id, "u": user_id, "t": task_id},
            )
            row = await cur.fetchone()
            # still valid: fired by the scheduler, task open, and the time it fired for is still its time
            if row is not None and row[0] == "fired" and row[3] == "open" and row[1] == fire_at:
                _, _, late, _, title, due_at, tz = row
                body = _reminder_body(due_at, tz)
                note = await inbox.create_reminder_notification(
                    conn,
                    notification_id=new_id(),
                    user_id=user_id,
                    task_id=task_id,
                    reminder_id=reminder_id,
                    title=title,
                    body=body,
                    data={"task_id": str(task_id), "url": f"/?task={task_id}", "fire_at": fire_at.isoformat()},
                    late=bool(late),
                )
                await conn.execute(
                    "UPDATE reminders SET status = 'delivered', delivered_at = %(now)s WHERE id = %(r)s",
                    {"r": reminder_id, "now": ctx.clock()},
                )
                if note is not None:
                    await realtime.publish(conn, user_id, "notification.created", note)
                outcome = "delivered"
        else:
            outcome = "duplicate"
    await _push_pending(ctx, user_id, reminder_id)
    return outcome


def _reminder_body(due_at: datetime | None, tz: str) -> str:
    if due_at is None:
        return "Reminder"
    from zoneinfo import ZoneInfo

    local = due_at.astimezone(ZoneInfo(tz))
    return f"Due {local:%a %d %b %H:%M} ({tz})"


async def _push_pending(ctx: ConsumerContext, user_id: UUID, reminder_id: UUID) -> None:
    """Web Push for the reminder's notification unless already sent. At least once: a crash between
    the push and the mark sends again, and the browser shows one (same tag)."""
    if ctx.vapid is None:
        return
    from todo_core.notify import inbox
    from todo_core.notify.webpush import PushSubscription, send_push

    async with ctx.pool.connection() as conn:
        subs = await inbox.subscriptions_for(conn, user_id)
        if not subs:
            return  # nobody to push to: the inbox and the realtime stream carry the reminder
        cur = await conn.execute(
            "SELECT id, title, body, task_id, data, late FROM notifications"
            " WHERE reminder_id = %(r)s AND user_id = %(u)s AND push_sent_at IS NULL",
            {"r": reminder_id, "u": user_id},
        )
        note = await cur.fetchone()
        if note is None:
            return
    payload = {
        "type": "reminder",
        "notification_id": str(note[0]),
        "title": note[1],
        "body": note[2],
        "task_id": str(note[3]),
        "url": note[4].get("url", "/"),
        "late": note[5],
        "tag": f"reminder-{reminder_id}",
    }
    for sub in subs:
        outcome = await send_push(
            PushSubscription(endpoint=sub["endpoint"], p256dh=sub["p256dh"], auth=sub["auth"]),
            payload,
            vapid=ctx.vapid,
            subject=ctx.settings.vapid_subject,
            topic=f"reminder-{reminder_id}",
        )
        async with ctx.pool.connection() as conn:
            if outcome.gone:
                await inbox.remove_subscription_by_endpoint(conn, sub["endpoint"])
            elif outcome.ok:
                await inbox.touch_subscription_ok(conn, sub["endpoint"])
            else:
                log.warning("web push failed", extra={"status": outcome.status, "error": outcome.error})
    async with ctx.pool.connection() as conn:
        await inbox.mark_push_sent(conn, note[0])


HANDLERS: dict[str, Callable[[ConsumerContext, dict[str, Any]], Awaitable[str]]] = {
    "task_events": task_events,
    "recurrence_due": recurrence_due,
    "reminder_fire": reminder_fire,
    "audit_append": audit_append,
}

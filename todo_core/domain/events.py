"""Events as CloudEvents 1.0 (structured JSON): topics, types and the envelope. Pure: no I/O."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

SOURCE = "/todo-cloud/todo-core"

# topics
TASK_EVENTS = "task-events"
RECURRENCE_DUE = "recurrence-due"
REMINDER_FIRE = "reminder-fire"
AUDIT_APPEND = "audit-append"
TOPICS = (TASK_EVENTS, RECURRENCE_DUE, REMINDER_FIRE, AUDIT_APPEND)


def dlq(topic: str) -> str:
    return f"{topic}.dlq"


# types
TASK_CREATED = "todo.task.created.v1"
TASK_UPDATED = "todo.task.updated.v1"
TASK_COMPLETED = "todo.task.completed.v1"
TASK_REOPENED = "todo.task.updated.v1"  # a reopen is an update of status
TASK_DELETED = "todo.task.deleted.v1"
RECURRENCE_DUE_TYPE = "todo.recurrence.due.v1"
REMINDER_FIRE_TYPE = "todo.reminder.fire.v1"
AUDIT_APPEND_TYPE = "todo.audit.append.v1"


@dataclass(frozen=True, slots=True)
class Event:
    """One message for one topic; ``envelope()`` is what travels."""

    id: UUID
    topic: str
    type: str
    key: str
    subject: str
    userid: str
    time: datetime
    data: dict[str, Any]
    traceparent: str

    def envelope(self) -> dict[str, Any]:
        return {
            "specversion": "1.0",
            "id": str(self.id),
            "source": SOURCE,
            "type": self.type,
            "subject": self.subject,
            "time": self.time.isoformat(),
            "datacontenttype": "application/json",
            "traceparent": self.traceparent,
            "userid": self.userid,
            "data": self.data,
        }


def new_traceparent() -> str:
    """A fresh W3C traceparent (version 00, sampled)."""
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def child_traceparent(parent: str | None) -> str:
    """A new span in the parent's trace (W3C trace context), or a fresh trace without a valid parent."""
    parts = (parent or "").split("-")
    if len(parts) == 4 and len(parts[1]) == 32 and parts[1] != "0" * 32:
        return f"00-{parts[1]}-{secrets.token_hex(8)}-{parts[3]}"
    return new_traceparent()


def make_event(
    *,
    topic: str,
    type_: str,
    key: str,
    subject: str,
    user_id: UUID | str,
    data: dict[str, Any],
    traceparent: str | None = None,
    now: datetime | None = None,
) -> Event:
    return Event(
        id=uuid4(),
        topic=topic,
        type=type_,
        key=key,
        subject=subject,
        userid=str(user_id),
        time=now or datetime.now(UTC),
        data=data,
        traceparent=traceparent or new_traceparent(),
    )

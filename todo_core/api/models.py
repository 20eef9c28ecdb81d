"""Request and response models of the public contract (ARCHITECTURE §3)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from todo_core.domain.reminders import ReminderSpec, parse_reminder
from todo_core.domain.tasks import UNSET, TaskFields, TaskPatch, build_fields


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date_only(value: Any) -> Any:
    """A bare YYYY-MM-DD is a calendar date (an all-day due), not midnight of an unknown zone."""
    if isinstance(value, str) and _DATE_ONLY.match(value):
        return date.fromisoformat(value)
    return value


class RecurrenceIn(_In):
    rrule: StrictStr = Field(description="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO,WE")
    anchor: Literal["schedule", "completion"] = "schedule"


class ReminderIn(_In):
    offset_minutes: StrictInt | None = Field(default=None, description="minutes before the due time")
    at: AwareDatetime | None = Field(default=None, description="an absolute time (RFC 3339 with offset)")

    def spec(self) -> ReminderSpec:
        return parse_reminder(self.offset_minutes, self.at)


class TaskCreate(_In):
    title: StrictStr
    description: StrictStr = ""
    priority: StrictStr = "none"
    tags: list[StrictStr] = Field(default_factory=list, max_length=100)
    due_at: datetime | date | None = Field(
        default=None, description="RFC 3339 with offset, or a date (YYYY-MM-DD) for an all-day task"
    )
    all_day: StrictBool = False
    timezone: StrictStr | None = Field(default=None, description="IANA zone; defaults to the user's")
    recurrence: RecurrenceIn | None = None
    reminders: list[ReminderIn] = Field(default_factory=list, max_length=100)

    _due_date_only = field_validator("due_at", mode="before")(_date_only)

    def to_fields(self, default_timezone: str) -> TaskFields:
        return build_fields(
            title=self.title,
            description=self.description,
            priority=self.priority,
            tags=self.tags,
            due_at=self.due_at,
            all_day=self.all_day,
            timezone=self.timezone or default_timezone,
            recurrence=(self.recurrence.rrule, self.recurrence.anchor) if self.recurrence else None,
            reminders=[r.spec() for r in self.reminders],
        )


class TaskUpdate(_In):
    title: StrictStr | None = None
    description: StrictStr | None = None
    priority: StrictStr | None = None
    tags: list[StrictStr] | None = Field(default=None, max_length=100)
    due_at: datetime | date | None = None
    all_day: StrictBool | None = None
    timezone: StrictStr | None = None
    recurrence: RecurrenceIn | None = None
    reminders: list[ReminderIn] | None = Field(default=None, max_length=100)

    _due_date_only = field_validator("due_at", mode="before")(_date_only)

    def to_patch(self) -> TaskPatch:
        given = self.model_fields_set
        values: dict[str, Any] = {}
        for name in ("title", "description", "priority", "tags", "due_at", "all_day", "timezone"):
            if name in given:
                values[name] = getattr(self, name)
        if "all_day" in given and self.all_day is None:
            values["all_day"] = False
        if "timezone" in given and self.timezone is None:
            values["timezone"] = "UTC"
        if "recurrence" in given:
            values["recurrence"] = (self.recurrence.rrule, self.recurrence.anchor) if self.recurrence else None
        if "reminders" in given:
            values["reminders"] = [r.spec() for r in (self.reminders or [])]
        return TaskPatch(**{k: values.get(k, UNSET) for k in TaskPatch.__slots__})


class RecurrenceOut(BaseModel):
    rrule: str
    anchor: Literal["schedule", "completion"]


class ReminderOut(BaseModel):
    id: str
    offset_minutes: int | None
    at: datetime | None
    fire_at: datetime | None
    status: Literal["pending", "fired", "delivered", "cancelled"]


class TaskPublic(BaseModel):
    id: str
    title: str
    description: str
    status: Literal["open", "done"]
    priority: Literal["high", "medium", "low", "none"]
    tags: list[str]
    due_at: datetime | None
    all_day: bool
    timezone: str
    recurrence: RecurrenceOut | None
    series_id: str | None
    occurrence: int
    next_due_at: datetime | None
    reminders: list[ReminderOut]
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    version: int


class TaskPage(BaseModel):
    items: list[TaskPublic]
    next_cursor: str | None


class TagOut(BaseModel):
    name: str
    count: int
    open_count: int


class RegisterIn(_In):
    email: StrictStr
    password: StrictStr
    timezone: StrictStr | None = None


class LoginIn(_In):
    email: StrictStr
    password: StrictStr


class UserPublic(BaseModel):
    id: str
    email: str
    timezone: str
    created_at: datetime


class RegisterOut(BaseModel):
    user: UserPublic
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class MeUpdate(_In):
    timezone: StrictStr


class AuditEntry(BaseModel):
    id: int
    event_id: str
    task_id: str | None
    action: str
    actor: str
    channel: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    occurred_at: datetime
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEntry]

"""Tasks: values, bounds and the rules that build or change them. Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from todo_core.domain.errors import ValidationError
from todo_core.domain.recurrence import Recurrence, parse_recurrence, preview_next
from todo_core.domain.reminders import ReminderSpec, validate_reminders

MAX_TITLE = 500
MAX_DESCRIPTION = 20_000
MAX_TAGS = 30
MAX_TAG_LENGTH = 50
MIN_YEAR, MAX_YEAR = 1900, 9000
TAG_RE = re.compile(r"^[\w][\w\-./:+&]*$", re.UNICODE)


class Priority(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"

    @property
    def rank(self) -> int:
        """Sort rank stored in the database: high sorts first."""
        return _PRIORITY_RANK[self]

    @classmethod
    def from_rank(cls, rank: int) -> Priority:
        return _RANK_PRIORITY[rank]

    @classmethod
    def parse(cls, value: str, field_name: str = "priority") -> Priority:
        try:
            return cls(value.strip().lower())
        except (ValueError, AttributeError):
            raise ValidationError(
                f"unknown priority {value!r}; use high, medium, low or none",
                [{"field": field_name, "message": "must be one of high, medium, low, none"}],
            ) from None


_PRIORITY_RANK = {Priority.HIGH: 0, Priority.MEDIUM: 1, Priority.LOW: 2, Priority.NONE: 3}
_RANK_PRIORITY = {v: k for k, v in _PRIORITY_RANK.items()}


class Status(StrEnum):
    OPEN = "open"
    DONE = "done"


def _fail(field_name: str, message: str) -> ValidationError:
    return ValidationError(f"{field_name}: {message}", [{"field": field_name, "message": message}])


def check_timezone(name: str) -> str:
    if not isinstance(name, str) or not name or len(name) > 64 or name.startswith(("/", ".")):
        raise _fail("timezone", "must be an IANA time zone such as Europe/Berlin")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _fail("timezone", f"unknown time zone {name!r}") from None
    return name


def check_title(title: str) -> str:
    cleaned = " ".join(title.split()) if isinstance(title, str) else ""
    if "\x00" in cleaned:
        raise _fail("title", "must not contain NUL characters")
    if not cleaned:
        raise _fail("title", "must not be empty")
    if len(cleaned) > MAX_TITLE:
        raise _fail("title", f"must be at most {MAX_TITLE} characters")
    return cleaned


def check_description(description: str) -> str:
    if "\x00" in description:
        raise _fail("description", "must not contain NUL characters")
    if len(description) > MAX_DESCRIPTION:
        raise _fail("description", f"must be at most {MAX_DESCRIPTION} characters")
    return description.strip()


def normalize_tag(tag: str) -> str:
    cleaned = tag.strip().lstrip("#").strip().lower()
    if not cleaned:
        raise _fail("tags", "a tag must not be empty")
    if len(cleaned) > MAX_TAG_LENGTH:
        raise _fail("tags", f"a tag must be at most {MAX_TAG_LENGTH} characters")
    if not TAG_RE.match(cleaned):
        raise _fail("tags", f"tag {tag!r} may contain letters, digits and - _ . / : + & only")
    return cleaned


def check_tags(tags: Sequence[str]) -> tuple[str, ...]:
    """Normalized (lower-case, no '#'), de-duplicated, order kept."""
    out: list[str] = []
    for t in tags:
        n = normalize_tag(t)
        if n not in out:
            out.append(n)
    if len(out) > MAX_TAGS:
        raise _fail("tags", f"at most {MAX_TAGS} tags")
    return tuple(out)


def normalize_due(due_at: datetime | date | None, timezone: str, all_day: bool) -> tuple[datetime | None, bool]:
    """An all-day due is the local midnight of its date in the task's zone; a timed due must be aware."""
    if due_at is None:
        return None, False
    if not MIN_YEAR <= due_at.year <= MAX_YEAR:
        raise _fail("due_at", f"must be between the years {MIN_YEAR} and {MAX_YEAR}")
    tz = ZoneInfo(timezone)
    if isinstance(due_at, datetime):
        if due_at.tzinfo is None:
            if not all_day:
                raise _fail("due_at", "must carry a UTC offset (RFC 3339), or set all_day")
            local_date = due_at.date()
        else:
            local_date = due_at.astimezone(tz).date()
            if not all_day:
                return due_at.astimezone(tz), False
    else:
        local_date = due_at
        all_day = True
    if not all_day:  # a bare date is all-day by nature
        all_day = True
    return datetime.combine(local_date, time(0, 0), tzinfo=tz), True


@dataclass(frozen=True, slots=True)
class TaskFields:
    """The user-editable state of a task, validated and normalized."""

    title: str
    description: str = ""
    priority: Priority = Priority.NONE
    tags: tuple[str, ...] = ()
    due_at: datetime | None = None
    all_day: bool = False
    timezone: str = "UTC"
    recurrence: Recurrence | None = None
    reminders: tuple[ReminderSpec, ...] = ()

    def validated(self) -> TaskFields:
        """Cross-field rules: a recurring task needs a due date, reminders need what they refer to."""
        if self.recurrence is not None:
            if self.due_at is None:
                raise _fail("recurrence", "a recurring task needs a due date")
            # rules that can never follow this due (HOURLY on an all-day task, an unreachable time) fail now,
            # not later when the task is shown or completed
            preview_next(
                self.recurrence, due_at=self.due_at, timezone=self.timezone, occurrence=1, all_day=self.all_day
            )
        validate_reminders(self.reminders, self.due_at)
        return self


_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class TaskPatch:
    """Fields to change; a field left at UNSET keeps its value. ``None`` clears nullable fields."""

    title: Any = _UNSET
    description: Any = _UNSET
    priority: Any = _UNSET
    tags: Any = _UNSET
    due_at: Any = _UNSET
    all_day: Any = _UNSET
    timezone: Any = _UNSET
    recurrence: Any = _UNSET
    reminders: Any = _UNSET

    def is_empty(self) -> bool:
        return all(getattr(self, f) is _UNSET for f in self.__slots__)


UNSET = _UNSET


def build_fields(
    *,
    title: str,
    description: str | None = None,
    priority: str | None = None,
    tags: Sequence[str] | None = None,
    due_at: datetime | date | None = None,
    all_day: bool = False,
    timezone: str = "UTC",
    recurrence: tuple[str, str] | None = None,
    reminders: Sequence[ReminderSpec] = (),
) -> TaskFields:
    tz = check_timezone(timezone)
    due, is_all_day = normalize_due(due_at, tz, all_day)
    return TaskFields(
        title=check_title(title),
        description=check_description(description or ""),
        priority=Priority.parse(priority) if priority is not None else Priority.NONE,
        tags=check_tags(tags or ()),
        due_at=due,
        all_day=is_all_day,
        timezone=tz,
        recurrence=parse_recurrence(*recurrence) if recurrence is not None else None,
        reminders=tuple(reminders),
    ).validated()


def apply_patch(current: TaskFields, patch: TaskPatch) -> TaskFields:
    """The fields after the patch, validated as a whole."""
    changes: dict[str, Any] = {}
    if patch.title is not UNSET:
        changes["title"] = check_title(patch.title)
    if patch.description is not UNSET:
        changes["description"] = check_description(patch.description or "")
    if patch.priority is not UNSET:
        changes["priority"] = Priority.parse(patch.priority or "none")
    if patch.tags is not UNSET:
        changes["tags"] = check_tags(patch.tags or ())
    tz = check_timezone(patch.timezone) if patch.timezone is not UNSET else current.timezone
    changes["timezone"] = tz
    all_day = current.all_day if patch.all_day is UNSET else bool(patch.all_day)
    if patch.due_at is not UNSET:
        changes["due_at"], changes["all_day"] = normalize_due(patch.due_at, tz, all_day)
    elif current.due_at is not None and (patch.timezone is not UNSET or patch.all_day is not UNSET):
        # same instant, re-expressed; an all-day date keeps its calendar date in the new zone
        base: datetime | date = current.due_at.date() if current.all_day else current.due_at
        changes["due_at"], changes["all_day"] = normalize_due(base, tz, all_day)
    if patch.recurrence is not UNSET:
        changes["recurrence"] = parse_recurrence(*patch.recurrence) if patch.recurrence else None
    if patch.reminders is not UNSET:
        changes["reminders"] = tuple(patch.reminders or ())
    return replace(current, **changes).validated()


@dataclass(frozen=True, slots=True)
class Reminder:
    id: UUID
    offset_minutes: int | None
    at: datetime | None
    fire_at: datetime | None
    status: str

    @property
    def spec(self) -> ReminderSpec:
        return ReminderSpec(offset_minutes=self.offset_minutes, at=self.at)


@dataclass(frozen=True, slots=True)
class Task:
    id: UUID
    user_id: UUID
    fields: TaskFields
    status: Status
    series_id: UUID | None
    occurrence: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    version: int
    reminders: tuple[Reminder, ...] = field(default=())

    @property
    def next_due_at(self) -> datetime | None:
        f = self.fields
        if f.recurrence is None or f.due_at is None:
            return None
        return preview_next(
            f.recurrence, due_at=f.due_at, timezone=f.timezone, occurrence=self.occurrence, all_day=f.all_day
        )

    def to_public(self) -> dict[str, Any]:
        """The task JSON of the public contract (ARCHITECTURE §3)."""
        f = self.fields
        nxt = self.next_due_at
        tz = ZoneInfo(f.timezone)

        def local(value: datetime | None) -> str | None:
            return value.astimezone(tz).isoformat() if value is not None else None

        return {
            "id": str(self.id),
            "title": f.title,
            "description": f.description,
            "status": self.status.value,
            "priority": f.priority.value,
            "tags": list(f.tags),
            "due_at": local(f.due_at),
            "all_day": f.all_day,
            "timezone": f.timezone,
            "recurrence": ({"rrule": f.recurrence.rrule, "anchor": f.recurrence.anchor} if f.recurrence else None),
            "series_id": str(self.series_id) if self.series_id else None,
            "occurrence": self.occurrence,
            "next_due_at": local(nxt),
            "reminders": [
                {
                    "id": str(r.id),
                    "offset_minutes": r.offset_minutes,
                    "at": local(r.at),
                    "fire_at": local(r.fire_at),
                    "status": r.status,
                }
                for r in self.reminders
            ],
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "completed_at": _iso(self.completed_at),
            "version": self.version,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None

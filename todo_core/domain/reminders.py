"""Reminder rules: what the user asked for and when it fires.

A reminder is either an offset before the task's due (recomputed for every occurrence of a
recurring task) or an absolute, time-zone-aware moment (which belongs to one occurrence only).
Offsets are elapsed time: "60 minutes before" a 03:30 due on a spring-forward day is 01:30 local,
one real hour earlier, even though the wall clock jumped in between.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from todo_core.domain.errors import ValidationError

__all__ = [
    "MAX_OFFSET_MINUTES",
    "MAX_REMINDERS",
    "ReminderSpec",
    "carry_over",
    "fire_time",
    "parse_reminder",
    "validate_reminders",
]

MAX_REMINDERS = 10
MAX_OFFSET_MINUTES = 525_600  # one (non-leap) year

_FIELD = "reminders"


@dataclass(frozen=True, slots=True)
class ReminderSpec:
    """What the user asked for: exactly one of ``offset_minutes`` (before due) or ``at`` (absolute)."""

    offset_minutes: int | None = None
    at: datetime | None = None


def _invalid(message: str) -> ValidationError:
    return ValidationError(message, details=[{"field": _FIELD, "message": message}])


def parse_reminder(offset_minutes: int | None, at: datetime | None) -> ReminderSpec:
    """Validate one reminder. Exactly one of the two must be given; ``at`` must be time-zone aware;
    ``offset_minutes`` must be in 0..525600 (up to a year before the due)."""
    if (offset_minutes is None) == (at is None):
        raise _invalid("a reminder needs exactly one of offset_minutes or at")
    if offset_minutes is not None:
        if isinstance(offset_minutes, bool) or not isinstance(offset_minutes, int):
            raise _invalid("reminder offset_minutes must be an integer")
        if not 0 <= offset_minutes <= MAX_OFFSET_MINUTES:
            raise _invalid(f"reminder offset_minutes must be in 0..{MAX_OFFSET_MINUTES}")
    if at is not None and (not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None):
        raise _invalid("reminder time 'at' must be a time-zone-aware datetime")
    return ReminderSpec(offset_minutes=offset_minutes, at=at)


def fire_time(spec: ReminderSpec, due_at: datetime | None) -> datetime | None:
    """When the reminder fires: ``due_at - offset`` (``None`` without a due) or the absolute ``at``.

    An offset result is expressed in ``due_at``'s time zone; it is computed on elapsed time.
    """
    if spec.at is not None:
        return spec.at
    if spec.offset_minutes is None or due_at is None:
        return None
    if due_at.tzinfo is None or due_at.utcoffset() is None:
        raise _invalid("due_at must be a time-zone-aware datetime")
    fired = due_at.astimezone(UTC) - timedelta(minutes=spec.offset_minutes)
    return fired.astimezone(due_at.tzinfo)


def validate_reminders(specs: Sequence[ReminderSpec], due_at: datetime | None) -> None:
    """The reminders of one task: each valid, at most ``MAX_REMINDERS``, offset reminders only with
    a due date, and no two the same (absolute times are compared as instants)."""
    if len(specs) > MAX_REMINDERS:
        raise _invalid(f"a task can have at most {MAX_REMINDERS} reminders")
    seen: set[ReminderSpec] = set()
    for spec in specs:
        parse_reminder(spec.offset_minutes, spec.at)
        if spec.offset_minutes is not None and due_at is None:
            raise _invalid("a reminder relative to the due date needs a due date")
        if spec in seen:
            raise _invalid("the same reminder is given twice")
        seen.add(spec)


def carry_over(specs: Sequence[ReminderSpec]) -> list[ReminderSpec]:
    """The reminders the next occurrence of a recurring task gets: the offset ones (absolute ones
    belong to the occurrence they were set for)."""
    return [spec for spec in specs if spec.offset_minutes is not None]

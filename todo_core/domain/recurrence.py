"""Recurring tasks: RFC 5545 RRULE values, evaluated on wall-clock time in the task's zone.

A task stores its current ``due_at`` (aware), its IANA ``timezone``, the 1-based number of the
current ``occurrence`` and a :class:`Recurrence` (a normalized RRULE value plus an anchor). Nothing
else about the series is stored, so every function here computes the next due from the current
one. The RRULE value never carries DTSTART: the current due plays that role.

Rules of the game
-----------------
* **Wall-clock time.** All arithmetic happens on the naive local time in the task's zone; the
  result is then localized with :class:`zoneinfo.ZoneInfo`. A task due 09:00 Europe/Berlin stays
  at 09:00 across the DST changes. A local time that does not exist (spring-forward gap) moves
  forward by the size of the gap (02:30 -> 03:30, PEP 495 ``fold=0``); an ambiguous time
  (fall-back) takes its first occurrence. Because only the current due is stored, a series whose
  wall time fell into a gap continues from the shifted time (02:30 -> 03:30 on the change day, then
  03:30); the only way to avoid that would be to store the series' time of day separately.
  All-day tasks always restart from local midnight, so they never shift.
* **Strictly later.** The rule's DTSTART is the current due in local wall time. dateutil only
  yields DTSTART when it matches the rule; we always take the first occurrence strictly after
  the reference instant (the due, or the completion, see below).
* **COUNT and UNTIL** are removed before the rule is handed to dateutil and applied here.
  The series has COUNT occurrences in total, counted by ``occurrence`` (skipped, missed
  occurrences of a daily rule do not count). UNTIL is inclusive and may be a date (``YYYYMMDD``:
  that whole local day), a floating local date-time (``YYYYMMDDTHHMMSS``: compared with the
  local wall time) or UTC (``...Z``: compared as an instant).
* **anchor "schedule".** The next due follows the scheduled one. For DAILY and HOURLY rules the
  occurrences missed while the task was overdue are skipped, not piled up: the next due is the
  first occurrence strictly after ``max(due_at, completed_at)``. For WEEKLY, MONTHLY and YEARLY
  rules the series advances exactly one step from the scheduled due, even when that step is still
  in the past: a missed monthly bill is still owed, and the user should see it as overdue rather
  than have it silently skipped.
* **anchor "completion"** (Todoist's ``every!``). The interval counts from the completion:
  DTSTART is the completion's local date combined with the due's local time of day, and the
  next due is the first occurrence strictly after ``max(DTSTART, completion)``. For HOURLY rules
  the completion's own local time (to the minute) is the DTSTART, since "every 2 hours after I
  did it" is counted from the moment it was done.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo
from typing import Literal, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import DAILY, HOURLY, MONTHLY, WEEKLY, YEARLY, rrule, weekday, weekdays

from todo_core.domain.errors import ValidationError

__all__ = [
    "MAX_INTERVAL",
    "MAX_RRULE_LENGTH",
    "Anchor",
    "Recurrence",
    "describe",
    "next_occurrence",
    "parse_recurrence",
    "preview_next",
    "upcoming",
]

Anchor = Literal["schedule", "completion"]

MAX_RRULE_LENGTH = 500
MAX_INTERVAL = 1000
MAX_UPCOMING = 1000

_RULE_FIELD = "recurrence.rrule"
_ANCHOR_FIELD = "recurrence.anchor"

_Freq = Literal["YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY"]
_FREQ_CONST: dict[str, Literal[0, 1, 2, 3, 4, 5, 6]] = {
    "YEARLY": YEARLY,
    "MONTHLY": MONTHLY,
    "WEEKLY": WEEKLY,
    "DAILY": DAILY,
    "HOURLY": HOURLY,
}
_DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WORKDAYS = ((0, None), (1, None), (2, None), (3, None), (4, None))
# RFC 5545 recur-rule-part order; FREQ first. BYSECOND is deliberately unsupported (too fine).
_PART_ORDER = (
    "FREQ",
    "UNTIL",
    "COUNT",
    "INTERVAL",
    "BYMINUTE",
    "BYHOUR",
    "BYDAY",
    "BYMONTHDAY",
    "BYYEARDAY",
    "BYWEEKNO",
    "BYMONTH",
    "BYSETPOS",
    "WKST",
)
# name -> (smallest absolute value, largest absolute value, negative values allowed)
_INT_LISTS: dict[str, tuple[int, int, bool]] = {
    "BYMINUTE": (0, 59, False),
    "BYHOUR": (0, 23, False),
    "BYMONTHDAY": (1, 31, True),
    "BYYEARDAY": (1, 366, True),
    "BYWEEKNO": (1, 53, True),
    "BYMONTH": (1, 12, False),
    "BYSETPOS": (1, 366, True),
}
_INT_RE = re.compile(r"[+-]?\d{1,9}")
_BYDAY_RE = re.compile(r"([+-]?\d{1,2})?(MO|TU|WE|TH|FR|SA|SU)")
_UNTIL_RE = re.compile(r"(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z?))?")
_PROPERTY_RE = re.compile(r"(?:^|\s)(DTSTART|EXDATE|RDATE|EXRULE|DTEND|DURATION)\s*[:;]")

# Year 9600 starts the same 400-year Gregorian cycle as 2000 (same weekdays, same leap years).
# dateutil stops at year 9999, so searching from there inspects exactly one full cycle.
_PROBE_START = datetime.combine(date(9600, 1, 1), time())


@dataclass(frozen=True, slots=True)
class Recurrence:
    """How a task repeats: a normalized RRULE value (no ``RRULE:`` prefix, no DTSTART) and an anchor."""

    rrule: str
    anchor: Anchor = "schedule"


@dataclass(frozen=True, slots=True)
class _Until:
    kind: Literal["date", "local", "utc"]
    day: date
    moment: datetime | None  # naive local wall time ("local") or aware UTC ("utc")

    def allows(self, local: datetime) -> bool:
        """Whether the occurrence ``local`` (aware, in the task's zone) is not after UNTIL."""
        if self.kind == "date":
            return local.date() <= self.day
        assert self.moment is not None
        if self.kind == "local":
            return local.replace(tzinfo=None) <= self.moment
        return local <= self.moment


@dataclass(frozen=True, slots=True)
class _Rule:
    freq: _Freq
    interval: int
    count: int | None
    until: _Until | None
    until_text: str | None
    ints: tuple[tuple[str, tuple[int, ...]], ...]  # BYxxx integer lists, in _PART_ORDER
    byday: tuple[tuple[int, int | None], ...]  # (weekday 0=MO, ordinal or None)
    wkst: int | None

    def get(self, name: str) -> tuple[int, ...]:
        for key, values in self.ints:
            if key == name:
                return values
        return ()

    @property
    def normalized(self) -> str:
        parts: dict[str, str] = {"FREQ": self.freq}
        if self.until_text is not None:
            parts["UNTIL"] = self.until_text
        if self.count is not None:
            parts["COUNT"] = str(self.count)
        if self.interval != 1:
            parts["INTERVAL"] = str(self.interval)
        for key, values in self.ints:
            parts[key] = ",".join(str(v) for v in values)
        if self.byday:
            parts["BYDAY"] = ",".join(f"{n if n is not None else ''}{_DAYS[d]}" for d, n in self.byday)
        if self.wkst is not None:
            parts["WKST"] = _DAYS[self.wkst]
        return ";".join(f"{key}={parts[key]}" for key in _PART_ORDER if key in parts)

    def build(self, dtstart: datetime) -> rrule:
        """The dateutil rule without COUNT/UNTIL, starting at the naive local ``dtstart``."""
        ints = dict(self.ints)
        byweekday: list[weekday] | None = None
        if self.byday:
            byweekday = [weekdays[d] if n is None else weekdays[d](n) for d, n in self.byday]
        return rrule(
            _FREQ_CONST[self.freq],
            dtstart=dtstart,
            interval=self.interval,
            wkst=0 if self.wkst is None else self.wkst,  # RFC default; dateutil's follows `calendar`
            bysetpos=ints.get("BYSETPOS"),
            bymonth=ints.get("BYMONTH"),
            bymonthday=ints.get("BYMONTHDAY"),
            byyearday=ints.get("BYYEARDAY"),
            byweekno=ints.get("BYWEEKNO"),
            byweekday=byweekday,
            byhour=ints.get("BYHOUR"),
            byminute=ints.get("BYMINUTE"),
        )


def _invalid(message: str, field: str = _RULE_FIELD) -> ValidationError:
    return ValidationError(message, details=[{"field": field, "message": message}])


def _parse_int(name: str, text: str) -> int:
    if not _INT_RE.fullmatch(text):
        raise _invalid(f"invalid recurrence rule: {name} must be an integer, got {text!r}")
    return int(text)


def _parse_int_list(name: str, text: str) -> tuple[int, ...]:
    low, high, negative_ok = _INT_LISTS[name]
    values: set[int] = set()
    for item in text.split(","):
        value = _parse_int(name, item.strip())
        if not (low <= abs(value) <= high) or (value < 0 and not negative_ok):
            allowed = f"{low}..{high}" + (f" or -{high}..-{low}" if negative_ok else "")
            raise _invalid(f"invalid recurrence rule: {name} values must be in {allowed}, got {value}")
        values.add(value)
    return tuple(sorted(values))


def _parse_byday(text: str) -> tuple[tuple[int, int | None], ...]:
    days: set[tuple[int, int | None]] = set()
    for item in text.split(","):
        match = _BYDAY_RE.fullmatch(item.strip())
        if match is None:
            raise _invalid(f"invalid recurrence rule: BYDAY item {item!r} is not like MO, 2TU or -1FR")
        ordinal = int(match.group(1)) if match.group(1) else None
        if ordinal is not None and not 1 <= abs(ordinal) <= 53:
            raise _invalid(f"invalid recurrence rule: BYDAY ordinal must be 1..53 or -53..-1, got {ordinal}")
        days.add((_DAYS.index(match.group(2)), ordinal))
    return tuple(sorted(days, key=lambda d: (d[0], d[1] or 0)))


def _parse_until(text: str) -> _Until:
    match = _UNTIL_RE.fullmatch(text)
    error = _invalid(
        f"invalid recurrence rule: UNTIL must be YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ, got {text!r}"
    )
    if match is None:
        raise error
    year, month, day, hour, minute, second, zulu = match.groups()
    try:
        day_value = date(int(year), int(month), int(day))
        if hour is None:
            return _Until("date", day_value, None)
        wall = datetime.combine(day_value, time(int(hour), int(minute), int(second)))
    except ValueError:
        raise error from None
    if zulu:
        return _Until("utc", day_value, wall.replace(tzinfo=UTC))
    return _Until("local", day_value, wall)


@functools.lru_cache(maxsize=1024)
def _parse_rule(text: str) -> _Rule:
    """Validate an RRULE value (without checking that it yields occurrences)."""
    value = text.strip()
    if not value:
        raise _invalid("recurrence rule must not be empty")
    if len(value) > MAX_RRULE_LENGTH:
        raise _invalid(f"recurrence rule must be at most {MAX_RRULE_LENGTH} characters")
    value = value.upper()
    prop = _PROPERTY_RE.search(value)
    if prop is not None:
        raise _invalid(f"{prop.group(1)} is not supported: send only the RRULE value (the due date is the start)")
    if "\n" in value or "\r" in value:
        raise _invalid("recurrence rule must be a single RRULE line")
    if value.startswith("RRULE:"):
        value = value[len("RRULE:") :].strip()
    if ":" in value:
        raise _invalid("invalid recurrence rule: only a single RRULE value is accepted")

    raw: dict[str, str] = {}
    for part in value.split(";"):
        if not part.strip():
            continue
        name, sep, item = part.partition("=")
        name, item = name.strip(), item.strip()
        if not sep or not name or not item:
            raise _invalid(f"invalid recurrence rule: {part.strip()!r} is not NAME=VALUE")
        if name in raw:
            raise _invalid(f"invalid recurrence rule: {name} is given more than once")
        raw[name] = item
    unknown = sorted(set(raw) - set(_PART_ORDER))
    if unknown:
        raise _invalid(f"invalid recurrence rule: unsupported part(s) {', '.join(unknown)}")

    freq = raw.get("FREQ")
    if freq is None:
        raise _invalid("invalid recurrence rule: FREQ is required")
    if freq in ("SECONDLY", "MINUTELY"):
        raise _invalid(f"FREQ={freq} is too fine for a todo list; the finest is HOURLY")
    if freq not in _FREQ_CONST:
        raise _invalid(f"invalid recurrence rule: unknown FREQ {freq!r}")
    if "COUNT" in raw and "UNTIL" in raw:
        raise _invalid("invalid recurrence rule: COUNT and UNTIL must not both be given")

    count = _parse_int("COUNT", raw["COUNT"]) if "COUNT" in raw else None
    if count is not None and count < 1:
        raise _invalid("invalid recurrence rule: COUNT must be at least 1")
    interval = _parse_int("INTERVAL", raw["INTERVAL"]) if "INTERVAL" in raw else 1
    if not 1 <= interval <= MAX_INTERVAL:
        raise _invalid(f"invalid recurrence rule: INTERVAL must be in 1..{MAX_INTERVAL}")
    until = _parse_until(raw["UNTIL"]) if "UNTIL" in raw else None
    ints = tuple((name, _parse_int_list(name, raw[name])) for name in _PART_ORDER if name in _INT_LISTS and name in raw)
    byday = _parse_byday(raw["BYDAY"]) if "BYDAY" in raw else ()
    wkst = None
    if "WKST" in raw:
        if raw["WKST"] not in _DAYS:
            raise _invalid(f"invalid recurrence rule: WKST must be one of {', '.join(_DAYS)}")
        wkst = _DAYS.index(raw["WKST"])

    # RFC 5545 section 3.3.10 restrictions that dateutil does not enforce.
    if any(n is not None for _, n in byday) and freq not in ("MONTHLY", "YEARLY"):
        raise _invalid("invalid recurrence rule: BYDAY with a number (like 2MO) needs FREQ=MONTHLY or YEARLY")
    if any(n is not None for _, n in byday) and freq == "YEARLY" and "BYWEEKNO" in raw:
        raise _invalid("invalid recurrence rule: BYDAY with a number cannot be combined with BYWEEKNO")
    if "BYMONTHDAY" in raw and freq == "WEEKLY":
        raise _invalid("invalid recurrence rule: BYMONTHDAY cannot be used with FREQ=WEEKLY")
    if "BYYEARDAY" in raw and freq in ("DAILY", "WEEKLY", "MONTHLY"):
        raise _invalid("invalid recurrence rule: BYYEARDAY needs FREQ=YEARLY or HOURLY")
    if "BYWEEKNO" in raw and freq != "YEARLY":
        raise _invalid("invalid recurrence rule: BYWEEKNO needs FREQ=YEARLY")
    if "BYSETPOS" in raw and not (set(raw) & (set(_INT_LISTS) - {"BYSETPOS"} | {"BYDAY"})):
        raise _invalid("invalid recurrence rule: BYSETPOS needs another BYxxx part")

    return _Rule(
        freq=cast(_Freq, freq),
        interval=interval,
        count=count,
        until=until,
        until_text=raw.get("UNTIL"),
        ints=ints,
        byday=byday,
        wkst=wkst,
    )


def parse_recurrence(rrule: str, anchor: str = "schedule") -> Recurrence:
    """Validate and normalize a recurrence.

    Accepts an optional ``RRULE:`` prefix, any letter case and surrounding whitespace. Raises
    :class:`ValidationError` (field ``recurrence.rrule`` or ``recurrence.anchor``) for anything
    that is not a single, supported RRULE value yielding at least one occurrence.
    """
    anchor_value = anchor.strip().lower() if isinstance(anchor, str) else anchor
    if anchor_value not in ("schedule", "completion"):
        raise _invalid(f"unknown recurrence anchor {anchor!r}: use 'schedule' or 'completion'", _ANCHOR_FIELD)
    if not isinstance(rrule, str):
        raise _invalid("recurrence rule must be a string")
    rule = _parse_rule(rrule)
    # Start on a time the rule can reach: with HOURLY;INTERVAL=2;BYHOUR=9 only odd hours work.
    probe = _PROBE_START.replace(hour=min(rule.get("BYHOUR") or [0]), minute=min(rule.get("BYMINUTE") or [0]))
    try:
        first = rule.build(probe).after(probe, inc=True)
    except ValueError as exc:  # dateutil rejects some combinations (e.g. INTERVAL vs BYHOUR)
        raise _invalid(f"invalid recurrence rule: {exc}") from None
    if first is None:
        raise _invalid("recurrence rule never yields an occurrence")
    return Recurrence(rule.normalized, cast(Anchor, anchor_value))


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise _invalid(f"unknown time zone {timezone!r}", "timezone") from None


def _aware(value: datetime, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise _invalid(f"{field} must be a time-zone-aware datetime", field)
    return value


def _localize(wall: datetime, zone: tzinfo) -> datetime:
    """Naive local wall time -> aware time in ``zone``: gaps move forward, ambiguous times take the first."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)


def _wall(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(zone).replace(tzinfo=None, microsecond=0)


def _next(
    rule: _Rule,
    anchor: Anchor,
    *,
    due_at: datetime,
    zone: ZoneInfo,
    occurrence: int,
    completed_at: datetime,
    all_day: bool,
) -> datetime | None:
    if rule.count is not None and occurrence >= rule.count:
        return None
    if all_day and (rule.freq == "HOURLY" or rule.get("BYHOUR") or rule.get("BYMINUTE")):
        raise _invalid("an all-day task cannot repeat at times of day (HOURLY, BYHOUR, BYMINUTE)")

    due_wall = _wall(due_at, zone)
    done_wall = _wall(completed_at, zone)
    if all_day:
        due_wall = datetime.combine(due_wall.date(), time())
    if anchor == "completion":
        if rule.freq == "HOURLY":
            dtstart = done_wall.replace(second=due_wall.second)
        else:
            dtstart = datetime.combine(done_wall.date(), due_wall.time())
        after, threshold = max(dtstart, done_wall), completed_at.astimezone(UTC)
    elif rule.freq in ("DAILY", "HOURLY"):
        dtstart = due_wall
        after, threshold = max(due_wall, done_wall), max(due_at.astimezone(UTC), completed_at.astimezone(UTC))
    else:
        dtstart = due_wall
        after, threshold = due_wall, due_at.astimezone(UTC)

    try:
        candidates: Iterator[datetime] = rule.build(dtstart).xafter(after)
        # A few candidates at most: only a fall-back fold can make a later wall time an earlier instant.
        for _, wall in zip(range(100), candidates, strict=False):
            local = _localize(wall, zone)
            if rule.until is not None and not rule.until.allows(local):
                return None
            if local.astimezone(UTC) > threshold:  # as instants: same-zone comparison ignores fold
                return local
    except ValueError as exc:  # e.g. HOURLY;INTERVAL=24;BYHOUR=5 with a due at 09:00
        raise _invalid(f"recurrence rule cannot be applied to this due date: {exc}") from None
    return None


def _check_occurrence(occurrence: int) -> None:
    if isinstance(occurrence, bool) or not isinstance(occurrence, int) or occurrence < 1:
        raise _invalid("occurrence must be a positive integer (1 for the first)", "occurrence")


def next_occurrence(
    rec: Recurrence,
    *,
    due_at: datetime,
    timezone: str,
    occurrence: int,
    completed_at: datetime,
    all_day: bool = False,
) -> datetime | None:
    """The due of the occurrence after number ``occurrence`` (1-based, due ``due_at``), completed at
    ``completed_at``. Returned as an aware datetime in the task's zone; ``None`` when the series is
    over (COUNT reached, UNTIL passed, or the rule yields nothing more from this due)."""
    _check_occurrence(occurrence)
    return _next(
        _parse_rule(rec.rrule),
        rec.anchor,
        due_at=_aware(due_at, "due_at"),
        zone=_zone(timezone),
        occurrence=occurrence,
        completed_at=_aware(completed_at, "completed_at"),
        all_day=all_day,
    )


def preview_next(
    rec: Recurrence, *, due_at: datetime, timezone: str, occurrence: int, all_day: bool = False
) -> datetime | None:
    """The ``next_due_at`` shown in the API: :func:`next_occurrence` completed exactly at ``due_at``."""
    return next_occurrence(
        rec, due_at=due_at, timezone=timezone, occurrence=occurrence, completed_at=due_at, all_day=all_day
    )


def upcoming(
    rec: Recurrence, *, due_at: datetime, timezone: str, occurrence: int, count: int, all_day: bool = False
) -> list[datetime]:
    """The next ``count`` (at most 1000) schedule-anchored dues after ``due_at``, honouring COUNT and
    UNTIL (the list is shorter when the series ends). Each is computed from the previous one, exactly
    as the series would advance if every occurrence were completed on time."""
    _check_occurrence(occurrence)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_UPCOMING:
        raise _invalid(f"count must be in 0..{MAX_UPCOMING}", "count")
    rule = _parse_rule(rec.rrule)
    zone = _zone(timezone)
    current = _aware(due_at, "due_at")
    result: list[datetime] = []
    for number in range(occurrence, occurrence + count):
        following = _next(
            rule,
            "schedule",
            due_at=current,
            zone=zone,
            occurrence=number,
            completed_at=current,
            all_day=all_day,
        )
        if following is None:
            break
        result.append(following)
        current = following
    return result


# --- describe -----------------------------------------------------------------------------------

_UNITS = {"YEARLY": "year", "MONTHLY": "month", "WEEKLY": "week", "DAILY": "day", "HOURLY": "hour"}


def _ordinal(n: int) -> str:
    if n == -1:
        return "last"
    if n < -1:
        return f"{_ordinal(-n)}-to-last"
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _describe_days(rule: _Rule) -> str | None:
    """Text for the day selection of a MONTHLY or YEARLY rule ("the 15th", "the last Fri", ...)."""
    monthdays = rule.get("BYMONTHDAY")
    setpos = rule.get("BYSETPOS")
    if monthdays and not rule.byday and not setpos:
        return "the " + _join([_ordinal(d) + (" day" if d < 0 else "") for d in monthdays])
    if rule.byday and not monthdays:
        if all(n is not None for _, n in rule.byday) and not setpos:
            return "the " + _join([f"{_ordinal(n or 0)} {_DAY_NAMES[d]}" for d, n in rule.byday])
        if all(n is None for _, n in rule.byday) and len(setpos) == 1:
            what = "weekday" if rule.byday == _WORKDAYS else "/".join(_DAY_NAMES[d] for d, _ in rule.byday)
            return f"the {_ordinal(setpos[0])} {what}"
    return None


def describe(rec: Recurrence) -> str:
    """Short English text for UI and notifications ("every 2 weeks on Mon", "every weekday", ...).

    Covers the common rules; anything else falls back to the rule text itself.
    """
    try:
        rule = _parse_rule(rec.rrule)
    except ValidationError:
        return rec.rrule
    unit = _UNITS[rule.freq]
    every = f"every {unit}" if rule.interval == 1 else f"every {rule.interval} {unit}s"
    months = rule.get("BYMONTH")
    extra = {name for name, _ in rule.ints} - {"BYMONTHDAY", "BYSETPOS", "BYMONTH"}
    text: str | None = None
    if extra:
        text = None
    elif rule.freq in ("DAILY", "WEEKLY") and not months and not rule.get("BYSETPOS"):
        if not rule.byday:
            text = every
        elif rule.byday == _WORKDAYS and rule.interval == 1:
            text = "every weekday"
        elif rule.freq == "WEEKLY" or rule.interval == 1:
            text = f"{every if rule.freq == 'WEEKLY' else 'every week'} on " + ", ".join(
                _DAY_NAMES[d] for d, _ in rule.byday
            )
    elif rule.freq == "MONTHLY" and not months:
        days = _describe_days(rule)
        text = every if not (rule.byday or rule.ints) else (f"{every} on {days}" if days else None)
    elif rule.freq == "YEARLY":
        month_names = [calendar.month_abbr[m] for m in months]
        monthdays = rule.get("BYMONTHDAY")
        if not rule.byday and not rule.get("BYSETPOS") and not monthdays:
            text = every + (f" in {_join(month_names)}" if months else "")
        elif len(months) == 1 and len(monthdays) == 1 and monthdays[0] > 0 and not rule.byday:
            text = f"{every} on {month_names[0]} {monthdays[0]}"
        elif months and (days := _describe_days(rule)):
            text = f"{every} on {days} of {_join(month_names)}"
    elif rule.freq == "HOURLY" and not (months or rule.byday or rule.ints):
        text = every
    if text is None:
        return rec.rrule
    if rule.count is not None:
        text += ", once" if rule.count == 1 else f", {rule.count} times"
    if rule.until is not None:
        until = rule.until.day.isoformat()
        if rule.until.moment is not None:
            until += rule.until.moment.strftime(" %H:%M") + (" UTC" if rule.until.kind == "utc" else "")
        text += f", until {until}"
    if rec.anchor == "completion":
        text += " after completion"
    return text

"""Dates and times in English, resolved against a clock in the user's zone. Pure: no I/O.

Conventions (what a phrase means when people could mean two things):

* A bare weekday, "on friday", "this friday", "coming friday" is the next such day *after* today
  (said on a Wednesday, "wednesday" is next week's); "this wednesday" said on a Wednesday is today.
  "next friday" and "friday next week" are the Friday of next calendar week (weeks run Monday to
  Sunday): said on a Wednesday that is nine days ahead, said on a Saturday six.
* "tonight" 20:00, "this evening"/"<day> evening" 19:00, "morning" 09:00, "afternoon" 15:00,
  "<day> night" 20:00, "noon"/"midday" 12:00, "midnight" 23:59 of that day (a deadline).
* "next week" is its Monday, "next month"/"next year" their first day, "this weekend" Saturday
  (today when it is already the weekend), "end of the week" Friday (Sunday once it is the weekend),
  "end of month"/"eom" its last day, "end of the year" 31 December.
* Numeric dates are day/month ("3/12" and "3.12." are 3 December) unless the user's zone is a
  United States zone, where "3/12" is 12 March; when the preferred order gives no valid date the
  other one is used ("25/12" is 25 December everywhere). "2026-12-03" is always ISO.
* A date without a year is the next such date, today included ("dec 3" said on 25 Nov 2026 is
  2026-12-03, "jan 5" is 2027-01-05). "the 15th" is the next 15th.
* A bare hour after "at" (and an h:mm time without leading zero) from 1 to 6 is in the afternoon,
  7 to 11 in the morning: "at 3" is 15:00, "at 9" 09:00, "4:30" 16:30, "04:30" 04:30. Next to
  "evening", "night", "tonight" or "afternoon" a bare hour is always pm ("tonight at 8" = 20:00).
* A time without a date is today if it has not passed, otherwise tomorrow.
* "in 2 hours"/"in 30 minutes" are elapsed time from now (a DST change in between is honoured), to
  the minute; "in 3 days"/"in a week"/"in a month" are calendar dates (all-day), month arithmetic
  clamps to the month's last day (31 Jan + 1 month = 28/29 Feb).
* Wall-clock times become instants with zoneinfo: a time in the spring-forward gap moves forward by
  the gap (02:30 -> 03:30), an ambiguous autumn time takes its first (summer-time) occurrence.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from todo_core.domain.errors import ValidationError
from todo_core.domain.tasks import MAX_YEAR, check_timezone
from todo_core.nlp.text import NUM, number

__all__ = [
    "DAYNUM",
    "MONTH",
    "MONTHS",
    "PARTS",
    "WEEKDAY",
    "WEEKDAYS",
    "Clock",
    "DateHit",
    "TimeHit",
    "add_months",
    "find_date",
    "find_time",
    "make_clock",
    "match_date",
    "match_time",
    "resolve_when",
]

WEEKDAYS: dict[str, int] = {
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tues": 1,
    "tue": 1,
    "wednesday": 2,
    "wed": 2,
    "thursday": 3,
    "thurs": 3,
    "thur": 3,
    "thu": 3,
    "friday": 4,
    "fri": 4,
    "saturday": 5,
    "sat": 5,
    "sunday": 6,
    "sun": 6,
}
MONTHS: dict[str, int] = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}
PARTS: dict[str, time] = {
    "morning": time(9, 0),
    "noon": time(12, 0),
    "afternoon": time(15, 0),
    "evening": time(19, 0),
    "night": time(20, 0),
}
_PM_PARTS = frozenset({"afternoon", "evening", "night"})

FULL_WEEKDAY = "(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
WEEKDAY = (
    "(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)"
)
MONTH = (
    "(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    "|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
DAYNUM = "(?:3[01]|[12]\\d|0?[1-9])"
ORD_SUFFIX = "(?:st|nd|rd|th)"
_PART = "(?P<part>morning|afternoon|evening|night|noon)"

# United States zones write month/day; everybody else day/month.
_US_ZONE_PREFIXES = ("US/", "America/Indiana/", "America/Kentucky/", "America/North_Dakota/")
_US_ZONES = frozenset(
    {
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Los_Angeles",
        "America/Phoenix",
        "America/Anchorage",
        "America/Juneau",
        "America/Sitka",
        "America/Yakutat",
        "America/Nome",
        "America/Metlakatla",
        "America/Adak",
        "America/Detroit",
        "America/Boise",
        "America/Menominee",
        "America/Indianapolis",
        "America/Louisville",
        "Pacific/Honolulu",
        "EST5EDT",
        "CST6CDT",
        "MST7MDT",
        "PST8PDT",
    }
)


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", [{"field": field, "message": message}])


@dataclass(frozen=True, slots=True)
class Clock:
    """``now`` (aware, expressed in the user's zone) and that zone."""

    now: datetime
    zone: ZoneInfo
    timezone: str

    @property
    def today(self) -> date:
        return self.now.date()

    @property
    def month_first(self) -> bool:
        """Whether numeric dates are month/day for this user."""
        return self.timezone in _US_ZONES or self.timezone.startswith(_US_ZONE_PREFIXES)

    def at(self, day: date, at: time) -> datetime:
        """Local wall time -> aware instant: a gap moves forward, an ambiguous time takes the first."""
        wall = datetime.combine(day, at).replace(tzinfo=self.zone, fold=0)
        return wall.astimezone(UTC).astimezone(self.zone)

    def midnight(self, day: date) -> datetime:
        return self.at(day, time(0, 0))

    def after_elapsed(self, delta: timedelta) -> datetime:
        moment = (self.now.astimezone(UTC) + delta).astimezone(self.zone)
        return moment.replace(second=0, microsecond=0)


def make_clock(now: datetime, timezone: str) -> Clock:
    """Validate ``now`` (aware) and ``timezone`` (IANA); raises :class:`ValidationError`."""
    zone_name = check_timezone(timezone)
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise _invalid("now", "must be a time-zone-aware datetime (RFC 3339 with offset)")
    zone = ZoneInfo(zone_name)
    return Clock(now=now.astimezone(zone), zone=zone, timezone=zone_name)


def add_months(day: date, months: int) -> date:
    """Calendar month arithmetic, clamped to the last day of the target month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _next_weekday(today: date, weekday: int, *, include_today: bool = False) -> date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and not include_today:
        ahead = 7
    return today + timedelta(days=ahead)


def _next_week_monday(today: date) -> date:
    return today + timedelta(days=7 - today.weekday())


def _weekday_of(name: str) -> int:
    return WEEKDAYS[name.rstrip(".")]


def _month_of(name: str) -> int:
    return MONTHS[name.rstrip(".")]


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        value = date(year, month, day)
    except ValueError:
        return None
    return value if value.year <= MAX_YEAR else None


def _upcoming(today: date, month: int, day: int) -> date | None:
    """The next ``month``/``day`` on or after today (29 Feb waits for a leap year)."""
    for year in range(today.year, today.year + 9):
        value = _safe_date(year, month, day)
        if value is not None and value >= today:
            return value
    return None


def _year(text: str | None) -> int | None:
    if text is None:
        return None
    value = int(text)
    return 2000 + value if value < 100 else value


# --- dates ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DateHit:
    """A date phrase at ``[start, end)``: a calendar ``day`` or an exact ``moment`` ("in 2 hours"),
    possibly with the time its words imply ("tonight"), and the preposition in front of it."""

    start: int
    end: int
    day: date | None
    moment: datetime | None = None
    default_time: time | None = None
    part: str | None = None
    prep: str | None = None


@dataclass(frozen=True, slots=True)
class _Value:
    day: date | None
    moment: datetime | None = None
    default_time: time | None = None
    part: str | None = None
    prep: str | None = None


_Handler = Callable[[re.Match[str], Clock], _Value | None]


def _part_value(day: date, part: str | None) -> _Value:
    return _Value(day, default_time=PARTS[part] if part else None, part=part)


def _h_today(m: re.Match[str], clock: Clock) -> _Value:
    return _Value(clock.today)


def _h_tonight(m: re.Match[str], clock: Clock) -> _Value:
    return _part_value(clock.today, "night")


def _h_tomorrow(m: re.Match[str], clock: Clock) -> _Value:
    return _part_value(clock.today + timedelta(days=1), m.group("part"))


def _h_overmorrow(m: re.Match[str], clock: Clock) -> _Value:
    return _Value(clock.today + timedelta(days=2))


def _h_this_part(m: re.Match[str], clock: Clock) -> _Value:
    return _part_value(clock.today, m.group("part"))


def _h_in_the_part(m: re.Match[str], clock: Clock) -> _Value:
    part = m.group("part")
    day = clock.today if clock.now.time() < PARTS[part] else clock.today + timedelta(days=1)
    return _part_value(day, part)


def _h_weekday(m: re.Match[str], clock: Clock) -> _Value:
    weekday = _weekday_of(m.group("wd"))
    mod = m.group("mod")
    today = clock.today
    if mod == "next" or m.group("nw"):
        day = _next_week_monday(today) + timedelta(days=weekday)
    else:
        day = _next_weekday(today, weekday, include_today=mod == "this")
    value = _part_value(day, m.group("part"))
    prep = m.groupdict().get("p")
    return _Value(value.day, default_time=value.default_time, part=value.part, prep=prep)


def _h_relative(m: re.Match[str], clock: Clock) -> _Value | None:
    if m.group("half"):
        count, unit = 0.5, "hour"
    else:
        count = float(number(m.group("n")))
        unit = m.group("unit")
        if m.groupdict().get("andhalf"):
            count += 0.5
    if count <= 0 or count > 100_000:
        return None
    today = clock.today
    try:
        if unit.startswith(("h", "m")) and not unit.startswith("mo"):
            minutes = count * (60 if unit.startswith("h") else 1)
            return _Value(None, moment=clock.after_elapsed(timedelta(minutes=minutes)))
        if not count.is_integer():
            return None
        n = int(count)
        if unit.startswith("d"):
            day = today + timedelta(days=n)
        elif unit.startswith("w"):
            day = today + timedelta(weeks=n)
        elif unit.startswith("mo"):
            day = add_months(today, n)
        else:
            day = add_months(today, 12 * n)
    except (OverflowError, ValueError):
        return None
    return _Value(day) if day.year <= MAX_YEAR else None


def _h_next_period(m: re.Match[str], clock: Clock) -> _Value:
    today = clock.today
    unit = m.group("unit")
    if unit == "week":
        return _Value(_next_week_monday(today))
    if unit == "month":
        return _Value(add_months(today.replace(day=1), 1))
    return _Value(date(today.year + 1, 1, 1))


def _h_weekend(m: re.Match[str], clock: Clock) -> _Value:
    today = clock.today
    if m.group("nx"):
        return _Value(_next_week_monday(today) + timedelta(days=5))
    if today.weekday() >= 5:
        return _Value(today)
    return _Value(today + timedelta(days=5 - today.weekday()))


def _h_end_of(m: re.Match[str], clock: Clock) -> _Value:
    today = clock.today
    unit = m.group("unit") or {"eow": "week", "eom": "month", "eoy": "year"}[m.group("abbr")]
    nxt = bool(m.group("nx"))
    if unit == "week":
        if nxt:
            return _Value(_next_week_monday(today) + timedelta(days=4))
        if today.weekday() <= 4:
            return _Value(today + timedelta(days=4 - today.weekday()))
        return _Value(today + timedelta(days=6 - today.weekday()))
    if unit == "month":
        return _Value(_month_end(add_months(today.replace(day=1), 1 if nxt else 0)))
    return _Value(date(today.year + (1 if nxt else 0), 12, 31))


def _h_start_of(m: re.Match[str], clock: Clock) -> _Value:
    return _h_next_period(m, clock)


def _h_month_day(m: re.Match[str], clock: Clock) -> _Value | None:
    month = _month_of(m.group("mon"))
    day = int(m.group("day"))
    year = _year(m.group("year"))
    value = _safe_date(year, month, day) if year is not None else _upcoming(clock.today, month, day)
    return _Value(value) if value is not None else None


def _h_iso(m: re.Match[str], clock: Clock) -> _Value | None:
    value = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return _Value(value) if value is not None else None


def _h_numeric(m: re.Match[str], clock: Clock) -> _Value | None:
    first, second = int(m.group("a")), int(m.group("b"))
    year = _year(m.group("year"))
    orders = [(second, first), (first, second)]  # (month, day)
    if clock.month_first and m.group("sep") == "/":
        orders.reverse()
    for month, day in orders:
        if not (1 <= month <= 12 and 1 <= day <= 31):
            continue
        value = _safe_date(year, month, day) if year is not None else _upcoming(clock.today, month, day)
        if value is not None:
            return _Value(value)
    return None


def _h_ordinal_day(m: re.Match[str], clock: Clock) -> _Value | None:
    day = int(m.group("day"))
    start = clock.today.replace(day=1)
    if m.group("nx"):
        start = add_months(start, 1)
    for k in range(13):
        month = add_months(start, k)
        value = _safe_date(month.year, month.month, day)
        if value is not None and value >= clock.today:
            return _Value(value)
    return None


def _h_midnight_day(m: re.Match[str], clock: Clock) -> _Value:
    return _Value(clock.today)


_DATE_PATTERNS: list[tuple[re.Pattern[str], _Handler]] = [
    (re.compile(r"\btoday\b(?!'s)"), _h_today),
    (re.compile(r"\btonight\b"), _h_tonight),
    (
        re.compile(r"\b(?:tomorrow|tmrw|tmr|tomorow|tommorow|tommorrow)\b(?:\s+" + _PART + r"\b)?"),
        _h_tomorrow,
    ),
    (re.compile(r"\b(?:the\s+)?day\s+after\s+tomorrow\b|\bovermorrow\b"), _h_overmorrow),
    (re.compile(r"\bthis\s+(?P<part>morning|afternoon|evening)\b"), _h_this_part),
    (re.compile(r"\bin\s+the\s+(?P<part>morning|afternoon|evening)\b"), _h_in_the_part),
    (
        re.compile(
            r"\b(?:(?P<mod>this|next|coming|upcoming)\s+)?(?P<wd>" + FULL_WEEKDAY + r")(?!s\b)\b"
            r"(?:\s+" + _PART + r"\b)?(?:\s+(?P<nw>next\s+week)\b)?"
        ),
        _h_weekday,
    ),
    (
        re.compile(
            r"\b(?:(?P<mod>this|next|coming|upcoming)|(?P<p>on|by|until|till|from|before))\s+(?P<wd>"
            + WEEKDAY
            + r")\b\.?(?:\s+"
            + _PART
            + r"\b)?(?:\s+(?P<nw>next\s+week)\b)?"
        ),
        _h_weekday,
    ),
    (
        re.compile(
            r"\bin\s+(?:(?P<half>half\s+an\s+hour)|(?P<n>"
            + NUM
            + r")\s+(?P<unit>days?|weeks?|months?|years?|hours?|hrs?|minutes?|mins?)\b"
            r"(?P<andhalf>\s+and\s+a\s+half)?)"
        ),
        _h_relative,
    ),
    (
        re.compile(
            r"\b(?:(?P<half>half\s+an\s+hour)|(?P<n>"
            + NUM
            + r")\s+(?P<unit>days?|weeks?|months?|years?|hours?|hrs?|minutes?|mins?))"
            r"\s+from\s+now\b"
        ),
        _h_relative,
    ),
    (re.compile(r"\bnext\s+(?P<unit>week|month|year)\b"), _h_next_period),
    (re.compile(r"\b(?:(?:this|the|on\s+the)\s+|(?P<nx>next)\s+)?weekend\b"), _h_weekend),
    (
        re.compile(
            r"\b(?:(?:by|at)\s+)?(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?(?P<nx>next\s+)?(?P<unit>week|month|year)\b"
            r"|\b(?P<abbr>eow|eom|eoy)\b"
        ),
        _h_end_of,
    ),
    (
        re.compile(r"\b(?:the\s+)?(?:start|beginning)\s+of\s+(?:the\s+)?next\s+(?P<unit>week|month|year)\b"),
        _h_start_of,
    ),
    (
        re.compile(
            r"\b(?:" + WEEKDAY + r",?\s+)?(?:the\s+)?(?P<mon>" + MONTH + r")\.?\s+(?:the\s+)?(?P<day>" + DAYNUM + r")"
            r"(?:" + ORD_SUFFIX + r")?(?![\d:/.]\d)\b(?:,?\s+(?P<year>\d{4})\b)?"
        ),
        _h_month_day,
    ),
    (
        re.compile(
            r"\b(?:" + WEEKDAY + r",?\s+)?(?:the\s+)?(?P<day>" + DAYNUM + r")(?:" + ORD_SUFFIX + r")?"
            r"(?:\s+of)?\s+(?P<mon>" + MONTH + r")\b\.?(?:,?\s+(?P<year>\d{4})\b)?"
        ),
        _h_month_day,
    ),
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), _h_iso),
    (
        re.compile(r"(?<![\w/.:])(?P<a>\d{1,2})(?P<sep>/)(?P<b>\d{1,2})(?:/(?P<year>\d{4}|\d{2}))?(?![\w/:]|\.\w)"),
        _h_numeric,
    ),
    (
        re.compile(r"(?<![\w/.:])(?P<a>\d{1,2})(?P<sep>\.)(?P<b>\d{1,2})\.(?P<year>\d{4}|\d{2})?(?![\w/:]|\.\d)"),
        _h_numeric,
    ),
    (
        re.compile(
            r"\bthe\s+(?P<day>" + DAYNUM + r")" + ORD_SUFFIX + r"\b"
            r"(?:\s+of\s+(?:(?:the|this)\s+month|(?P<nx>next)\s+month)\b"
            # "the 3rd" is a date at the end of a phrase or before a time, not in "the 3rd quarter"
            r"|(?=\s*$|\s*[^\w\s#]|\s+(?:at|by|and|or|from|to|until|till|in|on|morning|afternoon|evening|night|noon"
            r"|midday|remind|every|starting|p[1-4]|\d)\b|\s+[#!@]))"
        ),
        _h_ordinal_day,
    ),
]

_DATE_PREP = re.compile(
    r"(?:\b(?P<prep>due(?:\s+(?:on|by|date))?|on|by|before|after|for|until|till|from|starting(?:\s+(?:on|from))?"
    r"|beginning|no\s+later\s+than)\s+)$"
)


def _extend(view: str, start: int, pattern: re.Pattern[str]) -> tuple[int, str | None]:
    m = pattern.search(view, max(0, start - 30), start)
    if m is None:
        return start, None
    return m.start(), " ".join(m.group("prep").split())


def _best(candidates: list[tuple[int, int, _Value]]) -> tuple[int, int, _Value] | None:
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c[0], -(c[1] - c[0])))


def match_date(view: str, pos: int, clock: Clock) -> DateHit | None:
    """The longest date phrase starting exactly at ``pos`` (no preposition handling)."""
    found: list[tuple[int, int, _Value]] = []
    for pattern, handler in _DATE_PATTERNS:
        m = pattern.match(view, pos)
        if m is not None and (value := handler(m, clock)) is not None:
            found.append((m.start(), m.end(), value))
    best = _best(found)
    if best is None:
        return None
    start, end, value = best
    return DateHit(start, end, value.day, value.moment, value.default_time, value.part)


def find_date(view: str, clock: Clock) -> DateHit | None:
    """The leftmost (then longest) date phrase in ``view``, with the preposition before it."""
    found: list[tuple[int, int, _Value, str | None]] = []
    for pattern, handler in _DATE_PATTERNS:
        for m in pattern.finditer(view):
            value = handler(m, clock)
            if value is not None:
                start, prep = _extend(view, m.start(), _DATE_PREP)
                found.append((start, m.end(), value, value.prep or prep))
                break
    if not found:
        return None
    start, end, value, prep = min(found, key=lambda c: (c[0], -(c[1] - c[0])))
    return DateHit(start, end, value.day, value.moment, value.default_time, value.part, prep)


# --- times ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeHit:
    """A time of day at ``[start, end)``. ``meridiem`` is "am"/"pm" when written; ``bare`` when the
    hour could be either (an hour after "at", or h:mm without a leading zero)."""

    start: int
    end: int
    hour: int
    minute: int
    meridiem: str | None
    bare: bool

    def resolve(self, part: str | None = None) -> time:
        hour = self.hour
        if self.meridiem == "am":
            hour = 0 if hour == 12 else hour
        elif self.meridiem == "pm":
            hour = hour if hour == 12 else hour + 12
        elif self.bare and 1 <= hour <= 11:
            if part in _PM_PARTS or (part is None and hour <= 6):
                hour += 12
        return time(hour, self.minute)


_T_AMPM = re.compile(r"(?<![\w:.])(?P<h>\d{1,2})(?:[:.](?P<m>[0-5]\d))?\s?(?P<ap>[ap])\.?m\b\.?")
_T_24 = re.compile(r"(?<![\w:.])(?P<h>[01]?\d|2[0-3]):(?P<m>[0-5]\d)(?![\d:])")
_T_AT = re.compile(r"(?:\b(?:at|around)\s+|@\s*)(?P<h>\d{1,2})(?:\s*o'?clock\b)?(?![\w:./%'])")
_T_OCLOCK = re.compile(r"(?<![\w:.])(?P<h>\d{1,2})\s*o'?clock\b")
_T_WORD = re.compile(r"\b(?P<w>noon|midday|midnight)\b")
_TIME_RANGE = re.compile(r"\s*(?:-|\u2013|to|until|till)\s*")
_TIME_PREP = re.compile(r"(?:\b(?P<prep>at|by|around|before|from)\s+|(?P<at>@)\s*)$")


def _time_from(m: re.Match[str], pattern: re.Pattern[str]) -> TimeHit | None:
    if pattern is _T_WORD:
        word = m.group("w")
        hour, minute = (23, 59) if word == "midnight" else (12, 0)
        return TimeHit(m.start(), m.end(), hour, minute, None, False)
    hour = int(m.group("h"))
    minute = int(m.groupdict().get("m") or 0)
    if pattern is _T_AMPM:
        if not 1 <= hour <= 12:
            return None
        return TimeHit(m.start(), m.end(), hour, minute, "am" if m.group("ap") == "a" else "pm", False)
    if hour > 23:
        return None
    bare = pattern is not _T_24 or not m.group("h").startswith("0")
    return TimeHit(m.start(), m.end(), hour, minute, None, bare and hour <= 12)


_TIME_PATTERNS = (_T_AMPM, _T_24, _T_AT, _T_OCLOCK, _T_WORD)


_AT_PREFIX = re.compile(r"(?:at|around|by)\s+|@\s*")


def match_time(view: str, pos: int) -> TimeHit | None:
    """The longest time phrase starting exactly at ``pos`` ("at 9", "9am", "at 5pm", "17:30", "noon")."""
    hit = _match_time(view, pos)
    if hit is None and (prefix := _AT_PREFIX.match(view, pos)) is not None:
        inner = _match_time(view, prefix.end())
        if inner is not None:
            hit = TimeHit(pos, inner.end, inner.hour, inner.minute, inner.meridiem, inner.bare)
    return hit


def _match_time(view: str, pos: int) -> TimeHit | None:
    hits = [h for p in _TIME_PATTERNS if (m := p.match(view, pos)) is not None and (h := _time_from(m, p))]
    if not hits:
        return None
    return max(hits, key=lambda h: h.end)


def find_time(view: str) -> TimeHit | None:
    """The leftmost (then longest) time phrase, with "at"/"by"/"around" before it included."""
    hits: list[TimeHit] = []
    for pattern in _TIME_PATTERNS:
        for m in pattern.finditer(view):
            hit = _time_from(m, pattern)
            if hit is not None:
                hits.append(hit)
                break
    if not hits:
        return None
    hit = min(hits, key=lambda h: (h.start, -(h.end - h.start)))
    start, end = hit.start, hit.end
    prep = _TIME_PREP.search(view, max(0, hit.start - 10), hit.start)
    if prep is not None:
        start = prep.start()
    # "3pm-4pm", "9 to 10:30": the end of a time range is read (and dropped: tasks have no duration)
    if (dash := _TIME_RANGE.match(view, end)) is not None and (until := _match_time(view, dash.end())) is not None:
        end = until.end
    return TimeHit(start, end, hit.hour, hit.minute, hit.meridiem, hit.bare)


def resolve_when(
    date_hit: DateHit | None, time_hit: TimeHit | None, clock: Clock
) -> tuple[datetime | date | None, bool]:
    """The due a date phrase and a time phrase make together: an aware datetime, or a date (all-day)."""
    if date_hit is not None and date_hit.moment is not None:
        return date_hit.moment, False
    if date_hit is not None and date_hit.day is not None:
        if time_hit is not None:
            return clock.at(date_hit.day, time_hit.resolve(date_hit.part)), False
        if date_hit.default_time is not None:
            return clock.at(date_hit.day, date_hit.default_time), False
        return date_hit.day, True
    if time_hit is not None:
        wall = time_hit.resolve()
        moment = clock.at(clock.today, wall)
        if moment < clock.now:
            moment = clock.at(clock.today + timedelta(days=1), wall)
        return moment, False
    return None, False

"""Recurrence phrases -> RFC 5545 RRULE values, and the first due of a new series. Pure: no I/O.

Understood: "every day"/"daily", "every other day", "every 3 days", "every weekday", "every weekend",
"every monday", "every monday and wednesday", "on mondays", "every other monday" (= every second
monday, fortnightly), "every 2 weeks (on friday)", "weekly", "fortnightly", "every month (on the
15th)", "monthly", "every 15th", "on the 1st of every month", "every last day of the month",
"every 3rd friday" and "every last friday" (of the month: a numeral ordinal before a weekday is
monthly, "second"/"other" is fortnightly), "every year (on june 12)", "every dec 3", "every
quarter"/"quarterly", "every hour", "every morning/evening", plus "until <date>", "5 times",
"for 10 days", and the completion anchor: "every!" or "... after completion"/"after I finish it".

The RRULE carries no time of day and no DTSTART: the due date is the series' start, as the domain
expects. A series without an explicit start begins at its first occurrence from now on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.rrule import rrulestr

from todo_core.domain.errors import ValidationError
from todo_core.domain.recurrence import Recurrence, parse_recurrence
from todo_core.nlp.dates import DAYNUM, MONTH, MONTHS, ORD_SUFFIX, WEEKDAY, WEEKDAYS, Clock, match_date
from todo_core.nlp.text import NUM, number

__all__ = ["RecurHit", "find_recurrence", "first_occurrence"]

_CODES = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_WORKWEEK = ("MO", "TU", "WE", "TH", "FR")
_FULL = "(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_WD_ITEM = WEEKDAY + r"s?\b\.?"
_WD_SEP = r"(?:\s*,\s*(?:and\s+)?|\s+and\s+|\s*&\s*|\s*\+\s*|\s*/\s*)"
WDLIST = _WD_ITEM + "(?:" + _WD_SEP + _WD_ITEM + ")*"
_ORDINALS = {
    "first": 1,
    "1st": 1,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "fifth": 5,
    "5th": 5,
    "last": -1,
    "second to last": -2,
    "second-to-last": -2,
    "penultimate": -2,
}
_ORDW = "(?:second[- ]to[- ]last|penultimate|first|1st|2nd|third|3rd|fourth|4th|fifth|5th|last)"
_DOM = "(?:" + DAYNUM + ORD_SUFFIX + "|first)"
_DOMLIST = _DOM + r"(?:\s*(?:,\s*(?:and\s+)?|\s+and\s+|\s*&\s*)" + _DOM + ")*"
_MONTHDAY = (
    "(?:(?P<mon>"
    + MONTH
    + r")\.?\s+(?:the\s+)?(?P<day>"
    + DAYNUM
    + r")(?:"
    + ORD_SUFFIX
    + r")?\b|(?:the\s+)?(?P<day2>"
    + DAYNUM
    + r")(?:"
    + ORD_SUFFIX
    + r")?(?:\s+of)?\s+(?P<mon2>"
    + MONTH
    + r")\b\.?)"
)
_PARTS_RE = r"(?P<part>morning|afternoon|evening|night)\b"
_UNIT_FREQ = {
    "hour": "HOURLY",
    "day": "DAILY",
    "week": "WEEKLY",
    "month": "MONTHLY",
    "year": "YEARLY",
    "quarter": "MONTHLY",
}


@dataclass(frozen=True, slots=True)
class RecurHit:
    """A recognised repetition. ``spans`` are the phrases it was read from."""

    spans: tuple[tuple[int, int], ...]
    freq: str
    interval: int = 1
    byday: tuple[str, ...] = ()
    bymonthday: tuple[int, ...] = ()
    bymonth: tuple[int, ...] = ()
    part: str | None = None
    anchor: str = "schedule"
    until: date | None = None
    count: int | None = None

    @property
    def plain_interval(self) -> bool:
        """A rule that only counts intervals (no weekday, month day or month to land on)."""
        return not (self.byday or self.bymonthday or self.bymonth)

    def rrule(self) -> str:
        parts = [f"FREQ={self.freq}"]
        if self.until is not None:
            parts.append("UNTIL=" + self.until.strftime("%Y%m%d"))
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.byday:
            parts.append("BYDAY=" + ",".join(self.byday))
        if self.bymonthday:
            parts.append("BYMONTHDAY=" + ",".join(str(d) for d in self.bymonthday))
        if self.bymonth:
            parts.append("BYMONTH=" + ",".join(str(m) for m in self.bymonth))
        return ";".join(parts)

    def recurrence(self) -> Recurrence | None:
        """The validated, normalized value, or None when the domain refuses it."""
        try:
            return parse_recurrence(self.rrule(), self.anchor)
        except ValidationError:
            return None


@dataclass(frozen=True, slots=True)
class _Core:
    start: int
    end: int
    freq: str
    interval: int = 1
    byday: tuple[str, ...] = ()
    bymonthday: tuple[int, ...] = ()
    bymonth: tuple[int, ...] = ()
    part: str | None = None
    bang: bool = False


def _day_range(m: re.Match[str]) -> tuple[str, ...]:
    """ "mon-fri" -> MO..FR; a range may wrap ("fri-mon" = FR, SA, SU, MO)."""
    first, last = WEEKDAYS[m.group("a")], WEEKDAYS[m.group("b")]
    days = [(first + i) % 7 for i in range((last - first) % 7 + 1)]
    return tuple(sorted((_CODES[d] for d in days), key=_CODES.index))


def _weekdays(text: str) -> tuple[str, ...]:
    found: list[str] = []
    for word in re.findall(WEEKDAY + r"s?\b", text):
        name = word if word in WEEKDAYS else word[:-1]
        code = _CODES[WEEKDAYS[name]]
        if code not in found:
            found.append(code)
    return tuple(sorted(found, key=_CODES.index))


def _month_days(text: str) -> tuple[int, ...]:
    days = {1 if d == "first" else int(re.sub(r"\D", "", d)) for d in re.findall(DAYNUM + ORD_SUFFIX + "|first", text)}
    return tuple(sorted(d for d in days if 1 <= d <= 31))


def _ordinal_weekday(ordinal: str, weekday: str) -> str:
    n = _ORDINALS[" ".join(ordinal.replace("-", " ").split()) if "to" in ordinal else ordinal]
    return f"{n}{_CODES[WEEKDAYS[weekday.rstrip('.')]]}"


def _month_day(m: re.Match[str]) -> tuple[int, int] | None:
    mon = m.group("mon") or m.group("mon2")
    day = int(m.group("day") or m.group("day2"))
    month = MONTHS[mon.rstrip(".")]
    try:
        date(2000, month, day)  # 2000 is a leap year: 29 Feb is a valid yearly date
    except ValueError:
        return None
    return month, day


# --- the body after "every" ------------------------------------------------------------------------

_B_OTHER_UNIT = re.compile(r"(?:other|second|2nd)\s+(?P<unit>hour|day|week|month|year)\b")
_B_OTHER_WD = re.compile(r"(?:other|second)\s+(?P<wds>" + WDLIST + ")")
_B_N_UNITS = re.compile(r"(?P<n>" + NUM + r")\s+(?P<unit>hour|day|week|month|year|quarter)s?\b")
_B_ORD_WD = re.compile(
    r"(?:the\s+)?(?P<ord>"
    + _ORDW
    + r")\s+(?P<wd>"
    + WEEKDAY
    + r")\b\.?(?:\s+(?:of|in)\s+(?:the|every|each)\s+month\b)?"
)
_B_LAST_DAY = re.compile(
    r"(?:the\s+)?(?:last\s+day|end)\s+of\s+(?:the\s+|every\s+|each\s+)?month\b|month[- ]end\b|end\s+of\s+month\b"
)
_B_DOM = re.compile(r"(?:the\s+)?(?P<dom>" + _DOMLIST + r")\b(?:\s+(?:day\s+)?of\s+(?:the|every|each)\s+month\b)?")
_B_WORKDAY = re.compile(r"(?:weekday|workday|business\s+day|working\s+day|work\s+day)s?\b")
_B_WEEKEND = re.compile(r"weekends?\b")
_B_WDS = re.compile(r"(?P<wds>" + WDLIST + ")")
_B_UNIT = re.compile(r"(?P<unit>hour|day|week|month|year|quarter)\b")
_B_MONTHDAY = re.compile(_MONTHDAY)
_B_PART = re.compile(_PARTS_RE)

_S_PART = re.compile(r"\s+" + _PARTS_RE)
_S_WEEK = re.compile(r"\s+on\s+(?:the\s+)?(?P<wds>" + WDLIST + ")")
_S_MONTH_DOM = re.compile(r"\s+on\s+the\s+(?P<dom>" + _DOMLIST + r")\b(?:\s+(?:day\s+)?of\s+the\s+month\b)?")
_S_MONTH_LAST = re.compile(r"\s+on\s+the\s+last\s+day\b(?:\s+of\s+the\s+month\b)?")
_S_MONTH_ORD = re.compile(r"\s+on\s+the\s+(?P<ord>" + _ORDW + r")\s+(?P<wd>" + WEEKDAY + r")\b\.?")
_S_YEAR_DATE = re.compile(r"\s+on\s+" + _MONTHDAY)
_S_YEAR_MONTH = re.compile(r"\s+in\s+(?P<mon>" + MONTH + r")\b\.?")

_DAY_RANGE = re.compile(
    r"(?P<a>" + WEEKDAY + r")\.?\s*(?:-|\u2013|\s+to\s+|\s+through\s+|\s+thru\s+)\s*(?P<b>" + WEEKDAY + r")\b\.?"
)
_STANDALONE_RANGE = re.compile(
    r"\b(?:on\s+)?(?P<a>" + WEEKDAY + r")\.?\s*(?:-|\u2013)\s*(?P<b>" + WEEKDAY + r")\b\.?(?:\s+" + _PARTS_RE + ")?"
)
_EVERY = re.compile(r"\b(?:every|each)(?P<bang>!)?(?:\s+|(?<=!)(?=\d))")
_STANDALONE = re.compile(
    r"\b(?P<w>daily|weekly|monthly|yearly|annually|hourly|fortnightly|bi-?weekly|quarterly)\b(?P<bang>!)?"
)
_ON_THE_OF_EVERY = re.compile(
    r"\b(?:on\s+)?the\s+(?:(?P<ord>"
    + _ORDW
    + r")\s+(?P<wd>"
    + WEEKDAY
    + r")|(?P<last>last\s+day)|(?P<dom>"
    + _DOMLIST
    + r"))\s+(?:day\s+)?of\s+(?:every|each)\s+month\b"
)
_PLURAL_DAYS = re.compile(
    r"\b(?:on\s+)?(?P<wds>" + _FULL + r"s(?:" + _WD_SEP + _FULL + r"s)*)\b(?:\s+" + _PARTS_RE + ")?"
)
_PLURAL_WORKDAYS = re.compile(r"\b(?:on\s+)?(?P<w>weekdays|weekends)\b(?:\s+" + _PARTS_RE + ")?")

_COMPLETION = re.compile(
    r"\b(?:after|from|since)\s+(?:the\s+)?(?:last\s+)?(?:completion|completing(?:\s+it)?|finishing(?:\s+it)?"
    r"|(?:it\s+is|it's|its|it\s+was|i'm|im|i\s+am|i've)\s+(?:done|completed|finished|complete)(?:\s+it)?"
    r"|(?:i\s+)?(?:complete|completed|finish|finished|do|did)\s+it|(?:it's\s+|being\s+)?done)\b"
)
_UNTIL = re.compile(r"\b(?:until|till|through|thru|ending(?:\s+on)?|up\s+to)\s+")
_EXCEPT = re.compile(
    r"\s*,?\s*(?:except|but\s+not|excluding|apart\s+from|other\s+than|not\s+on)\s+(?:on\s+)?(?:the\s+)?"
    r"(?P<days>weekends?|weekdays|" + WDLIST + ")"
)
_COUNT_TIMES = re.compile(r"\b(?:for\s+)?(?P<n>" + NUM + r")\s+times\b")
_COUNT_FOR = re.compile(r"\bfor\s+(?:the\s+next\s+)?(?P<n>" + NUM + r")\s+(?P<unit>days|weeks|months|years)\b")


def _with_suffixes(view: str, core: _Core) -> _Core:
    """Extend a core match with "on monday", "on the 15th", "in june", "morning" where they fit."""
    end = core.end
    byday, bymonthday, bymonth, part = core.byday, core.bymonthday, core.bymonth, core.part
    if core.freq == "WEEKLY" and not byday and (m := _S_WEEK.match(view, end)):
        byday, end = _weekdays(m.group("wds")), m.end()
    elif core.freq == "MONTHLY" and not (byday or bymonthday):
        if m := _S_MONTH_LAST.match(view, end):
            bymonthday, end = (-1,), m.end()
        elif m := _S_MONTH_ORD.match(view, end):
            byday, end = (_ordinal_weekday(m.group("ord"), m.group("wd")),), m.end()
        elif m := _S_MONTH_DOM.match(view, end):
            bymonthday, end = _month_days(m.group("dom")), m.end()
    elif core.freq == "YEARLY" and not (bymonth or bymonthday):
        if (m := _S_YEAR_DATE.match(view, end)) and (md := _month_day(m)):
            bymonth, bymonthday, end = (md[0],), (md[1],), m.end()
        elif m := _S_YEAR_MONTH.match(view, end):
            bymonth, end = (MONTHS[m.group("mon").rstrip(".")],), m.end()
    if part is None and core.freq in ("DAILY", "WEEKLY") and (m := _S_PART.match(view, end)):
        part, end = m.group("part"), m.end()
    return _Core(core.start, end, core.freq, core.interval, byday, bymonthday, bymonth, part, core.bang)


def _unit_core(start: int, end: int, unit: str, interval: int, bang: bool) -> _Core | None:
    if unit == "quarter":
        interval *= 3
    if not 1 <= interval <= 1000:
        return None
    return _Core(start, end, _UNIT_FREQ[unit], interval, bang=bang)


def _after_every(view: str, start: int, pos: int, bang: bool) -> _Core | None:
    cores: list[_Core] = []
    if m := _B_OTHER_UNIT.match(view, pos):
        core = _unit_core(start, m.end(), m.group("unit"), 2, bang)
        cores += [core] if core else []
    if m := _B_OTHER_WD.match(view, pos):
        cores.append(_Core(start, m.end(), "WEEKLY", 2, _weekdays(m.group("wds")), bang=bang))
    if m := _B_N_UNITS.match(view, pos):
        core = _unit_core(start, m.end(), m.group("unit"), number(m.group("n")), bang)
        cores += [core] if core else []
    if m := _B_ORD_WD.match(view, pos):
        cores.append(
            _Core(start, m.end(), "MONTHLY", byday=(_ordinal_weekday(m.group("ord"), m.group("wd")),), bang=bang)
        )
    if m := _B_LAST_DAY.match(view, pos):
        cores.append(_Core(start, m.end(), "MONTHLY", bymonthday=(-1,), bang=bang))
    if (m := _B_DOM.match(view, pos)) and (days := _month_days(m.group("dom"))):
        cores.append(_Core(start, m.end(), "MONTHLY", bymonthday=days, bang=bang))
    if m := _B_WORKDAY.match(view, pos):
        cores.append(_Core(start, m.end(), "WEEKLY", byday=_WORKWEEK, bang=bang))
    if m := _B_WEEKEND.match(view, pos):
        cores.append(_Core(start, m.end(), "WEEKLY", byday=("SA", "SU"), bang=bang))
    if m := _DAY_RANGE.match(view, pos):
        cores.append(_Core(start, m.end(), "WEEKLY", byday=_day_range(m), bang=bang))
    if m := _B_WDS.match(view, pos):
        cores.append(_Core(start, m.end(), "WEEKLY", byday=_weekdays(m.group("wds")), bang=bang))
    if m := _B_UNIT.match(view, pos):
        core = _unit_core(start, m.end(), m.group("unit"), 1, bang)
        cores += [core] if core else []
    if (m := _B_MONTHDAY.match(view, pos)) and (md := _month_day(m)):
        cores.append(_Core(start, m.end(), "YEARLY", bymonth=(md[0],), bymonthday=(md[1],), bang=bang))
    if m := _B_PART.match(view, pos):
        cores.append(_Core(start, m.end(), "DAILY", part=m.group("part"), bang=bang))
    if not cores:
        return None
    return max((_with_suffixes(view, c) for c in cores), key=lambda c: c.end)


def _cores(view: str) -> list[_Core]:
    found: list[_Core] = []
    byday: tuple[str, ...]
    for every in _EVERY.finditer(view):
        core = _after_every(view, every.start(), every.end(), bool(every.group("bang")))
        if core is not None:
            found.append(core)
            break
    if m := _STANDALONE.search(view):
        word = m.group("w").replace("-", "")
        freq, interval = {
            "daily": ("DAILY", 1),
            "weekly": ("WEEKLY", 1),
            "monthly": ("MONTHLY", 1),
            "yearly": ("YEARLY", 1),
            "annually": ("YEARLY", 1),
            "hourly": ("HOURLY", 1),
            "fortnightly": ("WEEKLY", 2),
            "biweekly": ("WEEKLY", 2),
            "quarterly": ("MONTHLY", 3),
        }[word]
        found.append(_with_suffixes(view, _Core(m.start(), m.end(), freq, interval, bang=bool(m.group("bang")))))
    if on := _ON_THE_OF_EVERY.search(view):
        if on.group("ord"):
            byday = (_ordinal_weekday(on.group("ord"), on.group("wd")),)
            found.append(_Core(on.start(), on.end(), "MONTHLY", byday=byday))
        elif on.group("last"):
            found.append(_Core(on.start(), on.end(), "MONTHLY", bymonthday=(-1,)))
        elif monthdays := _month_days(on.group("dom")):
            found.append(_Core(on.start(), on.end(), "MONTHLY", bymonthday=monthdays))
    if plural := _PLURAL_DAYS.search(view):
        byday = _weekdays(plural.group("wds"))
        found.append(_Core(plural.start(), plural.end(), "WEEKLY", byday=byday, part=plural.group("part")))
    if days_range := _STANDALONE_RANGE.search(view):
        byday = _day_range(days_range)
        found.append(_Core(days_range.start(), days_range.end(), "WEEKLY", byday=byday, part=days_range.group("part")))
    if workdays := _PLURAL_WORKDAYS.search(view):
        byday = _WORKWEEK if workdays.group("w") == "weekdays" else ("SA", "SU")
        found.append(_Core(workdays.start(), workdays.end(), "WEEKLY", byday=byday, part=workdays.group("part")))
    return found


def find_recurrence(view: str, clock: Clock) -> RecurHit | None:
    """The leftmost (then longest) repetition in ``view`` with its modifiers (anchor, until, count)."""
    cores = _cores(view)
    if not cores:
        return None
    core = min(cores, key=lambda c: (c.start, -(c.end - c.start)))
    everyday = core.freq == "DAILY" and not core.byday
    if (
        core.interval == 1
        and (everyday or (core.freq == "WEEKLY" and core.byday))
        and (ex := _EXCEPT.match(view, core.end))
    ):
        # "every day except sunday", "every weekday but not friday"
        word = ex.group("days")
        excluded = ("SA", "SU") if word.startswith("weekend") else _WORKWEEK if word == "weekdays" else _weekdays(word)
        keep = tuple(d for d in (core.byday or _CODES) if d not in excluded)
        if keep:
            core = _Core(core.start, ex.end(), "WEEKLY", 1, keep, part=core.part, bang=core.bang)
    spans = [(core.start, core.end)]
    rest = view[: core.start] + " " * (core.end - core.start) + view[core.end :]
    anchor = "completion" if core.bang else "schedule"
    if m := _COMPLETION.search(rest):
        anchor = "completion"
        spans.append((m.start(), m.end()))
    until: date | None = None
    for m in _UNTIL.finditer(rest):
        hit = match_date(rest, m.end(), clock)
        if hit is not None and hit.day is not None:
            until = hit.day
            spans.append((m.start(), hit.end))
            break
    count: int | None = None
    if m := _COUNT_TIMES.search(rest):
        count = number(m.group("n"))
        spans.append((m.start(), m.end()))
    elif (m := _COUNT_FOR.search(rest)) and core.interval == 1:
        unit = m.group("unit")[:-1]
        if _UNIT_FREQ.get(unit) == core.freq:
            count = number(m.group("n"))
            spans.append((m.start(), m.end()))
    if count is not None and not 1 <= count <= 10_000:
        count = None
    if count is not None and until is not None:
        until = None
    return RecurHit(
        spans=tuple(spans),
        freq=core.freq,
        interval=core.interval,
        byday=core.byday,
        bymonthday=core.bymonthday,
        bymonth=core.bymonth,
        part=core.part,
        anchor=anchor,
        until=until,
        count=count,
    )


def first_occurrence(rule: str, *, start: date, at: time | None, clock: Clock) -> datetime | date | None:
    """The due of a new series of ``rule`` starting on ``start`` (today or later): the first occurrence
    at or after now, on or after ``start``; a date when ``at`` is None (all-day), else an aware time.

    A rule that only counts intervals ("every 3 days at 9") starts on ``start``, or the day after when
    the time has already passed today. An hourly rule without a time starts at the next full hour.
    """
    freq = rule.split(";", 1)[0]
    if freq == "FREQ=HOURLY" and at is None:
        base = max(clock.now, clock.midnight(start))
        return base.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    plain = not any(part in rule for part in ("BYDAY", "BYMONTHDAY", "BYMONTH"))
    if plain and "UNTIL" not in rule and "COUNT" not in rule:
        if at is None:
            return start
        moment = clock.at(start, at)
        return moment if moment >= clock.now else clock.at(start + timedelta(days=1), at)
    dtstart = datetime.combine(start, at or time(0, 0))
    # the series starts at its first matching day: "every other monday" said on a Wednesday is due
    # next Monday, "every 3 months on the 10th" the coming 10th (dateutil would count the interval
    # from the week or month of DTSTART and skip them)
    first_rule = re.sub(r";INTERVAL=\d+", "", rule)
    try:
        occurrences = rrulestr(first_rule, dtstart=dtstart).xafter(dtstart, inc=True)
        for _, wall in zip(range(2000), occurrences, strict=False):
            if at is None:
                return wall.date()
            moment = clock.at(wall.date(), wall.time())
            if moment >= clock.now:
                return moment
    except (ValueError, OverflowError):
        return None
    return None

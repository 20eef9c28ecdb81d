"""Quick add: one sentence -> a task draft (title, due, priority, tags, recurrence, reminders). Pure.

What is recognised is taken out of the title; what is left, tidied, is the title. Conventions of
dates and times: :mod:`todo_core.nlp.dates`; of repetition: :mod:`todo_core.nlp.recur`. Here:

* Priorities: "high priority", "urgent", "asap", "p1" -> high; "medium priority", "p2", "!!" -> medium;
  "low priority", "not urgent", "p3" -> low; "p4"/"no priority" -> none; "!!!" -> high (Apple
  Reminders' marks; a single "!" is punctuation).
* Tags: "#work" (lower-cased, as the task API stores them).
* Reminders: "remind me 30 minutes before", "... 1 hour and 15 minutes before", "the day before",
  "a week before" (offsets, kept for every occurrence); "remind me at 8am" (that time on the due
  date, or the evening before when 8am is after a timed due; today or tomorrow when there is no due),
  "the day before at 6pm", "the night before" (20:00), "remind me tomorrow at 9", "remind me"
  alone or "remind me to ..." (at the due time; 09:00 on the day of an all-day due).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from todo_core.domain.errors import ValidationError
from todo_core.domain.recurrence import Anchor, Recurrence, describe
from todo_core.domain.reminders import MAX_OFFSET_MINUTES, MAX_REMINDERS, ReminderSpec
from todo_core.domain.tasks import MAX_TITLE, Priority, build_fields, normalize_tag
from todo_core.nlp.dates import (
    PARTS,
    Clock,
    DateHit,
    TimeHit,
    find_date,
    find_time,
    make_clock,
    match_date,
    match_time,
    resolve_when,
)
from todo_core.nlp.recur import find_recurrence, first_occurrence
from todo_core.nlp.text import NUM, Span, Work, number

__all__ = ["Draft", "find_priority", "find_tags", "parse_draft", "rfc3339", "tidy_title"]

_MORNING = time(9, 0)


def rfc3339(value: datetime | date) -> str:
    """An aware datetime as RFC 3339 with its offset (to the second), a date as YYYY-MM-DD."""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return value.isoformat()


@dataclass(frozen=True, slots=True)
class Draft:
    """A task as read from one sentence. ``due`` is an aware datetime in the user's zone, or a date
    for an all-day task; ``spans`` are the recognised phrases, ``notes`` what was read but dropped."""

    title: str
    timezone: str
    due: datetime | date | None = None
    all_day: bool = False
    priority: Priority | None = None
    tags: tuple[str, ...] = ()
    rrule: str | None = None
    anchor: Anchor = "schedule"
    reminders: tuple[ReminderSpec, ...] = ()
    spans: tuple[Span, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def due_text(self) -> str | None:
        return rfc3339(self.due) if self.due is not None else None

    def reminders_json(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for spec in self.reminders:
            if spec.at is not None:
                out.append({"at": rfc3339(spec.at)})
            else:
                out.append({"offset_minutes": spec.offset_minutes})
        return out

    def tool_arguments(self) -> dict[str, Any]:
        """Arguments of the ``add_task`` tool: only what the sentence expressed."""
        args: dict[str, Any] = {"title": self.title}
        if self.priority is not None:
            args["priority"] = self.priority.value
        if self.tags:
            args["tags"] = list(self.tags)
        if self.due is not None:
            args["due"] = self.due_text
        if self.rrule is not None:
            args["rrule"] = self.rrule
            if self.anchor != "schedule":
                args["anchor"] = self.anchor
        if self.reminders:
            args["reminders"] = self.reminders_json()
        return args

    def task_body(self) -> dict[str, Any]:
        """The body for ``POST /api/v1/tasks`` that creates this task."""
        body: dict[str, Any] = {"title": self.title, "timezone": self.timezone}
        if self.priority is not None:
            body["priority"] = self.priority.value
        if self.tags:
            body["tags"] = list(self.tags)
        if self.due is not None:
            body["due_at"] = self.due_text
            body["all_day"] = self.all_day
        if self.rrule is not None:
            body["recurrence"] = {"rrule": self.rrule, "anchor": self.anchor}
        if self.reminders:
            body["reminders"] = self.reminders_json()
        return body

    def to_json(self) -> dict[str, Any]:
        """The ``POST /api/v1/parse`` response."""
        recurrence = None
        if self.rrule is not None:
            recurrence = {
                "rrule": self.rrule,
                "anchor": self.anchor,
                "description": describe(Recurrence(self.rrule, self.anchor)),
            }
        return {
            "title": self.title,
            "due_at": self.due_text,
            "all_day": self.all_day,
            "timezone": self.timezone,
            "priority": self.priority.value if self.priority is not None else None,
            "tags": list(self.tags),
            "recurrence": recurrence,
            "reminders": self.reminders_json(),
            "recognised": [
                {"kind": s.kind, "text": s.text, "start": s.start, "end": s.end}
                for s in sorted(self.spans, key=lambda s: s.start)
            ],
            "notes": list(self.notes),
            "task": self.task_body(),
        }


# --- priority and tags --------------------------------------------------------------------------

_PRIORITY_WORDS = {
    "high": Priority.HIGH,
    "highest": Priority.HIGH,
    "top": Priority.HIGH,
    "urgent": Priority.HIGH,
    "medium": Priority.MEDIUM,
    "med": Priority.MEDIUM,
    "normal": Priority.MEDIUM,
    "mid": Priority.MEDIUM,
    "low": Priority.LOW,
    "lowest": Priority.LOW,
    "none": Priority.NONE,
    "no": Priority.NONE,
    "1": Priority.HIGH,
    "2": Priority.MEDIUM,
    "3": Priority.LOW,
    "4": Priority.NONE,
}
_PRIORITY_PATTERNS: list[tuple[re.Pattern[str], Priority | None]] = [
    (
        re.compile(
            r"\b(?:with\s+)?(?:a\s+)?(?P<v>high(?:est)?|top|urgent|medium|med|normal|mid|low(?:est)?|no)"
            r"[- ]prio(?:rity)?\b"
        ),
        None,
    ),
    (re.compile(r"\bprio(?:rity)?\s*[:=]?\s*(?P<v>high|medium|med|normal|low|none|[1-4])\b"), None),
    (re.compile(r"(?<![\w/#-])p(?P<v>[1-4])\b(?![-/])"), None),
    (re.compile(r"\bnot\s+(?:urgent|important)\b"), Priority.LOW),
    (re.compile(r"\b(?:urgent(?:ly)?|asap)\b|\ba\.s\.a\.p\.?"), Priority.HIGH),
    (re.compile(r"(?<!\S)!!!(?!\S)"), Priority.HIGH),
    (re.compile(r"(?<!\S)!!(?!\S)"), Priority.MEDIUM),
]


def find_priority(work: Work) -> Priority | None:
    """Take every priority phrase; the first one written decides."""
    found: list[tuple[int, int, Priority]] = []
    view = work.view
    for pattern, fixed in _PRIORITY_PATTERNS:
        for m in pattern.finditer(view):
            value = fixed if fixed is not None else _PRIORITY_WORDS[m.group("v")]
            found.append((m.start(), m.end(), value))
    found.sort(key=lambda f: (f[0], -(f[1] - f[0])))
    chosen: Priority | None = None
    last_end = -1
    for start, end, value in found:
        if start < last_end:
            continue
        work.take("priority", start, end)
        last_end = end
        chosen = value if chosen is None else chosen
    return chosen


# a tag has a letter: "#4711" is a number ("pay invoice #4711"), "#2fa" a tag
_TAG = re.compile(r"(?<![\w&#/])#(?P<tag>\d*[^\W\d_][\w\-./:+&]*)")


def find_tags(work: Work) -> tuple[str, ...]:
    tags: list[str] = []
    for m in list(_TAG.finditer(work.view)):
        raw = m.group("tag").rstrip(".:/-+&")
        try:
            tag = normalize_tag(raw)
        except ValidationError:
            continue
        work.take("tag", m.start(), m.start() + 1 + len(raw))
        if tag not in tags:
            tags.append(tag)
    return tuple(tags[:30])


# --- reminders ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Ask:
    """A reminder as said, before the due is known."""

    offset: int | None = None  # minutes before due
    on_due_at: time | None = None  # that time on the due's day
    days_before: int = 0  # with on_due_at: so many days before the due's day
    at: datetime | None = None  # an absolute moment


_TRIGGER = re.compile(
    r"\b(?:remind(?:\s+me)?|(?:set\s+|with\s+|add\s+)?(?:an?\s+)?reminders?(?:\s+(?:for|at))?|alert\s+me|notify\s+me"
    r"|ping\s+me)\b(?:\s+(?:about\s+it|of\s+it|on\s+it))?"
)
_R_OFFSET = re.compile(
    r"(?:(?P<half>half\s+an\s+hour)|(?P<n>"
    + NUM
    + r")\s*(?P<unit>minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)\b(?P<andhalf>\s+and\s+a\s+half)?)"
)
_R_BEFORE = re.compile(r"\s*(?:before(?:hand)?|earlier|prior|ahead(?:\s+of\s+time)?|in\s+advance)\b")
_R_REL = re.compile(r"(?:the\s+|a\s+|one\s+)?(?P<rel>day|night|evening|morning|week)\s+before\b")
_R_SAME_DAY = re.compile(r"(?:on\s+the\s+day|that\s+day|the\s+same\s+day|on\s+the\s+same\s+day)\s+")
_R_ON_TIME = re.compile(r"(?:on\s+time|when\s+(?:it'?s|it\s+is)\s+due|at\s+(?:the\s+)?due\s+time|at\s+the\s+time)\b")
_R_SEP = re.compile(r"\s*(?:,\s*(?:and\s+)?|\s+and\s+|\s*&\s*|\s+also\s+|\s+plus\s+)(?:(?:again|also)\s+)?")
_R_ALONE = re.compile(r"\s*(?:$|[,.;!?)]|\band\b|\bplease\b)")
_REMIND_TO = re.compile(r"^\s*(?:please\s+)?(?:remind\s+me|reminder)\s*(?:to|:)\s+")
_REMIND_WHEN_TO = re.compile(r"^\s*(?:please\s+)?remind\s+me\s+(?P<when>.{1,80}?)\s+(?P<to>to)\s+\S")


def _skip_spaces(view: str, pos: int) -> int:
    while pos < len(view) and view[pos] == " ":
        pos += 1
    return pos


def _offset_minutes(m: re.Match[str]) -> int | None:
    if m.group("half"):
        return 30
    n = float(number(m.group("n")))
    if m.group("andhalf"):
        n += 0.5
    unit = m.group("unit")
    scale = 1 if unit.startswith("m") else 60 if unit.startswith("h") else 1440 if unit.startswith("d") else 10080
    minutes = n * scale
    return int(minutes) if minutes.is_integer() and 0 <= minutes <= MAX_OFFSET_MINUTES else None


def _one_reminder(view: str, pos: int, clock: Clock) -> tuple[int, _Ask] | None:
    """One reminder item at ``pos``: offset(s) before, "the day before (at 6pm)", a time, a date."""
    if m := _R_ON_TIME.match(view, pos):
        return m.end(), _Ask(offset=0)
    if m := _R_REL.match(view, pos):
        rel, end = m.group("rel"), m.end()
        after = _skip_spaces(view, end)
        t = match_time(view, after)
        if rel == "week":
            return end, _Ask(offset=10080)
        if t is not None:
            part = "night" if rel in ("night", "evening") else None
            return t.end, _Ask(on_due_at=t.resolve(part), days_before=1)
        if rel == "day":
            return end, _Ask(offset=1440)
        default = {"night": time(20, 0), "evening": time(19, 0), "morning": _MORNING}[rel]
        return end, _Ask(on_due_at=default, days_before=1)
    if m := _R_OFFSET.match(view, pos):
        minutes = _offset_minutes(m)
        if minutes is None:
            return None
        end = m.end()
        # "1 hour and 15 minutes before"
        if (sep := re.compile(r"\s+and\s+").match(view, end)) and (more := _R_OFFSET.match(view, sep.end())):
            extra = _offset_minutes(more)
            if extra is not None and _R_BEFORE.match(view, more.end()):
                minutes, end = minutes + extra, more.end()
        if b := _R_BEFORE.match(view, end):
            end = b.end()
        return end, _Ask(offset=min(minutes, MAX_OFFSET_MINUTES))
    same = _R_SAME_DAY.match(view, pos)
    tpos = same.end() if same else pos
    if (t := match_time(view, tpos)) is not None:
        return t.end, _Ask(on_due_at=t.resolve())
    if (d := match_date(view, pos, clock)) is not None:
        if d.moment is not None:
            return d.end, _Ask(at=d.moment)
        assert d.day is not None
        after = _skip_spaces(view, d.end)
        t = match_time(view, after)
        if t is not None:
            return t.end, _Ask(at=clock.at(d.day, t.resolve(d.part)))
        return d.end, _Ask(at=clock.at(d.day, d.default_time or _MORNING))
    return None


def _find_reminders(work: Work, clock: Clock) -> list[_Ask]:
    asks: list[_Ask] = []
    view = work.view
    for trigger in list(_TRIGGER.finditer(view)):
        pos = _skip_spaces(view, trigger.end())
        items: list[_Ask] = []
        end = trigger.end()
        while True:
            item = _one_reminder(view, pos, clock)
            if item is None:
                break
            end, ask = item
            items.append(ask)
            sep = _R_SEP.match(view, end)
            if sep is None:
                break
            pos = sep.end()
        if not items:
            if not trigger.group(0).startswith("remind") or not _R_ALONE.match(view, trigger.end()):
                continue
            items.append(_Ask(offset=0))
        # an offset list said once: "remind me 1 day and 1 hour before"
        work.take("reminder", trigger.start(), end)
        asks.extend(items)
    return asks


def _resolve_reminders(
    asks: list[_Ask], due: datetime | date | None, all_day: bool, clock: Clock
) -> tuple[list[ReminderSpec], list[str]]:
    specs: list[ReminderSpec] = []
    notes: list[str] = []
    due_day = due.astimezone(clock.zone).date() if isinstance(due, datetime) else due
    for ask in asks:
        if ask.offset is not None:
            if due is None:
                notes.append("a reminder before the due time needs a due date; it was left out")
                continue
            specs.append(ReminderSpec(offset_minutes=ask.offset))
        elif ask.at is not None:
            specs.append(ReminderSpec(at=ask.at))
        elif ask.on_due_at is not None:
            if due_day is None:
                if ask.days_before:
                    notes.append("a reminder the day before needs a due date; it was left out")
                    continue
                moment = clock.at(clock.today, ask.on_due_at)
                if moment < clock.now:
                    moment = clock.at(clock.today + timedelta(days=1), ask.on_due_at)
            else:
                moment = clock.at(due_day - timedelta(days=ask.days_before), ask.on_due_at)
                if isinstance(due, datetime) and not all_day and moment > due and not ask.days_before:
                    moment = clock.at(due_day - timedelta(days=1), ask.on_due_at)
            specs.append(ReminderSpec(at=moment))
    unique: list[ReminderSpec] = []
    for spec in specs:
        if spec not in unique:
            unique.append(spec)
    if len(unique) > MAX_REMINDERS:
        notes.append(f"only the first {MAX_REMINDERS} reminders were kept")
    return unique[:MAX_REMINDERS], notes


# --- title --------------------------------------------------------------------------------------

_DANGLING_END = re.compile(
    r"(?:[\s,;:\-\u2013\u2014|/+&]+|\s+(?:at|on|by|due|for|to|and|with|every|each|in|from|until|till|before|"
    r"starting|also|then|please|@)\b)+$",
    re.IGNORECASE,
)
_DANGLING_START = re.compile(r"^(?:[\s,;:\-\u2013\u2014|/+&]+|(?:and|also|then|to|due)\b\s*)+", re.IGNORECASE)


def tidy_title(rest: str) -> str:
    """What is left after the recognised phrases, as a title: spaces collapsed, stray punctuation and
    dangling prepositions ("at", "on", "by", ...) removed from the ends."""
    text = " ".join(rest.split())
    text = re.sub(r"\s+([,;:.!?)])", r"\1", text)
    text = re.sub(r"([(])\s+", r"\1", text)
    text = re.sub(r"\(\s*\)", "", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    previous = None
    while previous != text:
        previous = text
        text = _DANGLING_END.sub("", " " + text).strip()
        text = _DANGLING_START.sub("", text).strip()
    return text[:MAX_TITLE]


# --- the draft ----------------------------------------------------------------------------------


def _take_when(work: Work, clock: Clock) -> tuple[DateHit | None, TimeHit | None]:
    date_hit = find_date(work.view, clock)
    if date_hit is not None:
        work.take("date", date_hit.start, date_hit.end)
    time_hit = None
    if date_hit is None or date_hit.moment is None:
        time_hit = find_time(work.view)
        if time_hit is not None:
            work.take("time", time_hit.start, time_hit.end)
    return date_hit, time_hit


def _validated(draft: Draft) -> Draft:
    """Drop what the task rules refuse (noting why) so that the draft can always be saved."""
    notes = list(draft.notes)
    current = draft
    for _ in range(3):
        try:
            build_fields(
                title=current.title or "untitled",
                priority=current.priority.value if current.priority is not None else None,
                tags=current.tags,
                due_at=current.due,
                all_day=current.all_day,
                timezone=current.timezone,
                recurrence=(current.rrule, current.anchor) if current.rrule else None,
                reminders=current.reminders,
            )
            break
        except ValidationError as exc:
            field_names = {str(d.get("field", "")).split(".")[0] for d in exc.details}
            if current.rrule is not None and "recurrence" in field_names:
                notes.append(f"the repetition was left out: {exc.message}")
                current = _replace(current, rrule=None, anchor="schedule")
            elif current.reminders:
                notes.append(f"the reminders were left out: {exc.message}")
                current = _replace(current, reminders=())
            else:
                notes.append(f"the date was left out: {exc.message}")
                current = _replace(current, due=None, all_day=False, rrule=None, reminders=())
    return _replace(current, notes=tuple(notes))


def _replace(draft: Draft, **changes: Any) -> Draft:
    values = {name: getattr(draft, name) for name in Draft.__dataclass_fields__}
    values.update(changes)
    return Draft(**values)


def _only_when(text: str, clock: Clock) -> bool:
    """Whether ``text`` is nothing but a date and/or time phrase."""
    work = Work(text)
    _take_when(work, clock)
    return bool(work.spans) and not work.rest().strip()


def parse_draft(text: str, *, now: datetime, timezone: str) -> Draft:
    """Read one sentence as a task. Deterministic for a given ``now`` (aware) and IANA ``timezone``;
    raises :class:`ValidationError` only for a naive ``now`` or an unknown zone, never for the text."""
    clock = make_clock(now, timezone)
    return _parse(Work(text if isinstance(text, str) else ""), clock)


def _parse(work: Work, clock: Clock) -> Draft:
    notes: list[str] = []
    remind_at_due = False
    if m := _REMIND_TO.match(work.view):
        work.take("reminder", m.start(), m.end())
        remind_at_due = True
    elif (m := _REMIND_WHEN_TO.match(work.view)) and _only_when(m.group("when"), clock):
        # "remind me in 10 minutes to turn off the oven": the time is the due, the reminder is at it
        work.take("reminder", m.start(), m.start("when"))
        work.take("reminder", m.start("to"), m.end("to"))
        remind_at_due = True
    tags = find_tags(work)
    asks = _find_reminders(work, clock)
    rec_hit = find_recurrence(work.view, clock)
    recurrence = rec_hit.recurrence() if rec_hit is not None else None
    if rec_hit is not None:
        if recurrence is None:
            notes.append("the repetition could not be used")
        else:
            for start, end in rec_hit.spans:
                work.take("recurrence", start, end)
    priority = find_priority(work)
    date_hit, time_hit = _take_when(work, clock)

    due: datetime | date | None
    if recurrence is not None and rec_hit is not None:
        first_day = clock.today
        at: time | None = None
        part = rec_hit.part
        if date_hit is not None:
            if date_hit.moment is not None:
                first_day, at = date_hit.moment.date(), date_hit.moment.time()
            elif date_hit.day is not None:
                first_day = max(date_hit.day, clock.today)
                at = date_hit.default_time
                part = date_hit.part or part
        if time_hit is not None:
            at = time_hit.resolve(part)
        elif at is None and part is not None:
            at = PARTS[part]
        due = first_occurrence(recurrence.rrule, start=first_day, at=at, clock=clock)
        all_day = isinstance(due, date) and not isinstance(due, datetime)
        if due is None:
            notes.append("the repetition has no occurrence from now on")
            recurrence = None
    else:
        due, all_day = resolve_when(date_hit, time_hit, clock)

    if remind_at_due and not asks and due is not None:
        if all_day:
            assert isinstance(due, date)
            if clock.at(due, _MORNING) > clock.now:
                asks.append(_Ask(at=clock.at(due, _MORNING)))
        else:
            asks.append(_Ask(offset=0))
    reminders, reminder_notes = _resolve_reminders(asks, due, all_day, clock)
    notes.extend(reminder_notes)

    title = tidy_title(work.rest())
    if not title:
        notes.append("no title was found")
    draft = Draft(
        title=title,
        timezone=clock.timezone,
        due=due,
        all_day=all_day,
        priority=priority,
        tags=tags,
        rrule=recurrence.rrule if recurrence is not None else None,
        anchor=recurrence.anchor if recurrence is not None else "schedule",
        reminders=tuple(reminders),
        spans=tuple(work.spans),
        notes=tuple(notes),
    )
    return _validated(draft)

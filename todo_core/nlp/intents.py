"""The offline chat interpreter: a message -> tool calls, a reference to a task, a question, or help.

Deterministic for a given ``now`` and zone, pure (no I/O). It emits calls to the MCP tools
(``add_task``, ``list_tasks``, ``list_tags``, ``list_notifications``, ...) with only the arguments the
user expressed. Changing one existing task goes through :class:`ByReference`: the chat layer runs
:meth:`ByReference.search_call` and hands the matches to :func:`resolve_reference`, which acts on a
single match and asks otherwise. The interpreter itself never plans ``delete_task``: a deletion
needs a reference that resolves to exactly one task, and anything that reads like a bulk change
("delete all my tasks", "clear my list", "mark everything as done") gets a question back.

Query conventions:

* "today" = due before tomorrow 00:00 (overdue included); "tomorrow", "next week", "next month",
  "on dec 3" = that day/period; "this week" = from today 00:00 to the end of Sunday (today's all-day
  tasks included); "this month" likewise to the month's end; "in the next 3 days" = today and the
  three days after; "before friday" = due before Friday 00:00, "by friday" = up to the end of Friday.
* Tags: "#work", "tagged work", "with the tag work", and a word that looks like a tag — one of the
  user's ``known_tags`` or a common tag word (work, home, personal, family, errands, shopping,
  groceries, school, health, finance, ...) — in "at work", "for home", "in the garden",
  "work tasks", "work and home tasks". Any other word in "<word> tasks" is searched for instead.
* Search: "find X", "search for X", "look for X", "anything about X", "tasks mentioning X",
  "called X"; the words left after the filters (articles and task nouns dropped) are the query.
* Sorting: "by due date"/"soonest first" due, "by priority" priority, "alphabetically"/"by title"
  title, "newest"/"most recent" -created, "oldest" created, "recently updated" -updated;
  "top 5"/"5 tasks" limit; "my next 3 tasks" = the three due soonest.
* A message that adds nothing and names no command ("hello", "lol", "the weather is nice") gets
  help text; an unprefixed sentence is taken as a new task when it has a date, time, repetition,
  priority, tag or reminder, or starts with a common imperative verb ("book dentist appointment").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from todo_core.domain.errors import ValidationError
from todo_core.domain.recurrence import Recurrence, describe
from todo_core.nlp.dates import Clock, add_months, find_date, make_clock
from todo_core.nlp.draft import Draft, _find_reminders, _parse, rfc3339
from todo_core.nlp.recur import find_recurrence
from todo_core.nlp.text import NUM, Work, fold, number

__all__ = [
    "COMMON_TAGS",
    "HELP",
    "Action",
    "ByReference",
    "Clarify",
    "Interpretation",
    "Plan",
    "ToolCall",
    "Unknown",
    "interpret",
    "resolve_reference",
]

Action = Literal["complete", "reopen", "delete", "update", "get"]

HELP = (
    "I can add tasks (\u201cbuy milk tomorrow at 5pm #errands\u201d, \u201cpay rent every month on the 1st at 9, "
    "remind me the day before\u201d), list them (\u201cwhat's overdue at work?\u201d, \u201cshow high priority "
    "tasks due this week\u201d, \u201cfind dentist\u201d), and complete, reopen, move, rename or delete one by its "
    "title (\u201cdone with the report\u201d, \u201cpush the dentist to friday\u201d)."
)

COMMON_TAGS = frozenset(
    {
        "work",
        "home",
        "personal",
        "private",
        "family",
        "errands",
        "shopping",
        "groceries",
        "school",
        "uni",
        "university",
        "study",
        "health",
        "fitness",
        "finance",
        "finances",
        "money",
        "bills",
        "admin",
        "office",
        "house",
        "household",
        "chores",
        "garden",
        "kids",
        "travel",
        "car",
        "pets",
        "hobby",
        "hobbies",
        "side-project",
        "projects",
    }
)


@dataclass(frozen=True, slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """Tool calls to make, in order, and a short reply to show with their results."""

    calls: list[ToolCall]
    reply: str


@dataclass(frozen=True, slots=True)
class Clarify:
    """A question back; ``options`` lists candidate tasks (task_id, title, due_at) when there are some."""

    question: str
    options: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Unknown:
    """Nothing to do: help text."""

    reply: str


@dataclass(frozen=True, slots=True)
class ByReference:
    """An action on one existing task named by (part of) its title.

    ``changes`` are ``update_task`` arguments; a ``due`` that is a bare date ("YYYY-MM-DD") keeps the
    task's time of day when the task has one. ``shift_days`` moves the current due ("postpone by 2
    days"), ``add_tags`` and ``add_reminders`` add to what the task already has. ``add_reminders``
    items are ``{"offset_minutes": n}``, ``{"at": RFC 3339}`` or ``{"at_time": "HH:MM", "days_before": n}``
    (that time on the task's due date)."""

    action: Action
    reference: str
    changes: dict[str, Any] = field(default_factory=dict)
    shift_days: int = 0
    add_tags: tuple[str, ...] = ()
    add_reminders: tuple[dict[str, Any], ...] = ()

    @property
    def search_status(self) -> Literal["open", "done"]:
        """Which tasks to search: done ones to reopen, open ones for everything else."""
        return "done" if self.action == "reopen" else "open"

    def search_call(self) -> ToolCall:
        return ToolCall("list_tasks", {"query": self.reference, "status": self.search_status})

    def resolve(self, matches: Sequence[Mapping[str, Any]]) -> Plan | Clarify:
        return resolve_reference(
            self.action,
            self.reference,
            self.changes,
            matches,
            shift_days=self.shift_days,
            add_tags=self.add_tags,
            add_reminders=self.add_reminders,
        )


Interpretation = Plan | ByReference | Clarify | Unknown


# --- resolving a reference ----------------------------------------------------------------------


def _task_zone(task: Mapping[str, Any]) -> ZoneInfo | None:
    try:
        return ZoneInfo(str(task.get("timezone") or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _task_due(task: Mapping[str, Any]) -> datetime | None:
    raw = task.get("due_at", task.get("due"))
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, str) and raw:
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return None
        if len(raw) == 10 and (zone := _task_zone(task)) is not None:  # a bare date: that day's midnight
            value = _local(value.date(), time(0, 0), zone)
    else:
        return None
    if value.tzinfo is None:
        return None
    zone = _task_zone(task)
    return value.astimezone(zone) if zone is not None else value


def _local(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at).replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)


def _describe_due(task: Mapping[str, Any]) -> str:
    due = _task_due(task)
    if due is None:
        return ""
    if task.get("all_day"):
        return f" (due {due:%a %d %b})"
    return f" (due {due:%a %d %b %H:%M})"


def _title(task: Mapping[str, Any]) -> str:
    return str(task.get("title") or "untitled")


def _existing_reminders(task: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in task.get("reminders") or []:
        if not isinstance(item, Mapping) or item.get("status") in ("cancelled",):
            continue
        if item.get("offset_minutes") is not None:
            out.append({"offset_minutes": item["offset_minutes"]})
        elif item.get("at") is not None:
            at = item["at"]
            out.append({"at": at.isoformat() if isinstance(at, datetime) else str(at)})
    return out


def _update_arguments(
    task: Mapping[str, Any],
    changes: Mapping[str, Any],
    shift_days: int,
    add_tags: Sequence[str],
    add_reminders: Sequence[Mapping[str, Any]],
) -> dict[str, Any] | str:
    """The update_task arguments for this task, or a question when something is missing."""
    args = dict(changes)
    due = _task_due(task)
    zone = _task_zone(task)
    timed = due is not None and not task.get("all_day")
    new_due = args.get("due")
    if isinstance(new_due, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", new_due) and timed and zone and due:
        args["due"] = rfc3339(_local(date.fromisoformat(new_due), due.timetz().replace(tzinfo=None), zone))
    if shift_days:
        if due is None or zone is None:
            return f"\u201c{_title(task)}\u201d has no due date to move. When should it be due?"
        day = due.date() + timedelta(days=shift_days)
        args["due"] = rfc3339(_local(day, due.time(), zone)) if timed else day.isoformat()
    if add_tags:
        current = [str(t) for t in task.get("tags") or []]
        args["tags"] = current + [t for t in add_tags if t not in current]
    if add_reminders:
        reminders = _existing_reminders(task)
        for item in add_reminders:
            if "at_time" in item:
                if due is None or zone is None:
                    return f"\u201c{_title(task)}\u201d has no due date. When should I remind you?"
                wall = time.fromisoformat(str(item["at_time"]))
                days_before = int(item.get("days_before", 0))
                moment = _local(due.date() - timedelta(days=days_before), wall, zone)
                if timed and moment > due and not days_before:
                    moment = _local(due.date() - timedelta(days=1), wall, zone)
                entry: dict[str, Any] = {"at": rfc3339(moment)}
            else:
                if "offset_minutes" in item and due is None:
                    return f"\u201c{_title(task)}\u201d has no due date to remind you before. When should it be due?"
                entry = dict(item)
            if entry not in reminders:
                reminders.append(entry)
        args["reminders"] = reminders
    if not args:
        return f"What should I change about \u201c{_title(task)}\u201d?"
    return args


def resolve_reference(
    action: Action,
    reference: str,
    changes: Mapping[str, Any],
    matches: Sequence[Mapping[str, Any]],
    *,
    shift_days: int = 0,
    add_tags: Sequence[str] = (),
    add_reminders: Sequence[Mapping[str, Any]] = (),
) -> Plan | Clarify:
    """Act on the task a reference names, given the tasks that ``list_tasks(query=reference)`` found.

    No match: a question saying so. Several: a question listing them by title (and due), never a
    guess. One: the action's tool call with that task's id (for ``update``, the changes completed
    with the task's current values where they only add to them)."""
    if not matches:
        return Clarify(
            f"I couldn't find {'a completed' if action == 'reopen' else 'an open'} task matching "
            f"\u201c{reference}\u201d. Which task do you mean?"
        )
    if len(matches) > 1:
        shown = list(matches[:10])
        listed = "; ".join(f"\u201c{_title(t)}\u201d{_describe_due(t)}" for t in shown)
        more = f" and {len(matches) - len(shown)} more" if len(matches) > len(shown) else ""
        verb = {"complete": "complete", "reopen": "reopen", "delete": "delete", "update": "change", "get": "show"}
        return Clarify(
            f"Several tasks match \u201c{reference}\u201d: {listed}{more}. Which one should I {verb[action]}?",
            tuple(
                {"task_id": str(t.get("id")), "title": _title(t), "due_at": t.get("due_at", t.get("due"))}
                for t in shown
            ),
        )
    task = matches[0]
    task_id = str(task.get("id"))
    title = _title(task)
    if action == "complete":
        return Plan([ToolCall("complete_task", {"task_id": task_id})], f"Marked \u201c{title}\u201d as done.")
    if action == "reopen":
        return Plan([ToolCall("reopen_task", {"task_id": task_id})], f"Reopened \u201c{title}\u201d.")
    if action == "delete":
        return Plan([ToolCall("delete_task", {"task_id": task_id})], f"Deleted \u201c{title}\u201d.")
    if action == "get":
        return Plan([ToolCall("get_task", {"task_id": task_id})], f"Here is \u201c{title}\u201d.")
    args = _update_arguments(task, changes, shift_days, add_tags, add_reminders)
    if isinstance(args, str):
        return Clarify(args)
    return Plan([ToolCall("update_task", {"task_id": task_id, **args})], f"Updated \u201c{title}\u201d.")


# --- message clean-up ---------------------------------------------------------------------------

_LEAD = re.compile(
    r"^(?:(?:hey|hi|hello|ok(?:ay)?|so|um+|uh+|well|please|pls|plz|kindly|alright|right|now|also|and|oh)\b[\s,!.:]*"
    r"|(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+)?"
    r"|i\s+(?:want|would\s+like|'d\s+like|wanna)\s+(?:you\s+)?to\s+(?=(?:add|create|see|show|list|find|know|delete"
    r"|remove|mark|complete|move|push|rename|reopen|check)\b))+"
)
_TRAIL = re.compile(r"(?:[\s,]*(?:please|pls|plz|thanks|thank\s+you|thx|for\s+me|now|asap\s+please))+[\s.!]*$")


def _clean(text: str) -> str:
    """The message without greetings and politeness around it (same length mapping is not needed)."""
    text = " ".join(text.split())
    previous = None
    while previous != text:
        previous = text
        folded = fold(text)
        if (m := _LEAD.match(folded)) is not None and m.end() > 0:
            text = text[m.end() :].strip()
            continue
        if (m := _TRAIL.search(fold(text))) is not None and m.start() > 0:
            text = text[: m.start()].strip()
    return text


def _strip_end(text: str) -> str:
    return re.sub(r"[\s.!?;,]+$", "", text)


# --- adding -------------------------------------------------------------------------------------

_ADD = re.compile(
    r"^(?:"
    r"(?:add|insert|jot\s+down|note\s+down)\s+"
    r"(?:(?:a|an|the|new|another|one\s+more)\s+)*(?:(?:task|todo|to-do|to\s+do|item|entry|reminder)s?\b\s*)?"
    r"(?:(?:to|called|named|titled|that\s+says|saying|for\s+me\s+to|:|-)\s*)?"
    r"|(?:create|make|put|set\s+up|schedule|write\s+down)\s+(?:(?:a|an|new|another|one\s+more)\s+)+(?:new\s+)?"
    r"(?:task|todo|to-do|to\s+do|item|entry|reminder)s?\b\s*(?:(?:to|called|named|titled|that\s+says|saying"
    r"|for\s+me\s+to|:|-)\s*)?"
    r"|put\s+(?=.+\s+(?:on|in|onto)\s+(?:my|the)\s+(?:todo\s+|to-do\s+|to\s+do\s+|task\s+)?list\s*$)"
    r"|(?:new\s+)?(?:task|todo|to-do|to\s+do)\s*:\s*"
    r"|(?:i\s+(?:need|have|must|should|want|got|ought)\s+to|i\s+must|i\s+should|i\s+gotta|i'?ll\s+need\s+to|need\s+to"
    r"|have\s+to|gotta|remember\s+to|don'?t\s+(?:let\s+me\s+)?forget\s+to|do\s+not\s+forget\s+to|must)\s+"
    r")"
)
_ADD_TARGET = re.compile(
    r"\s+(?:to|on|in|onto)\s+(?:my|the)\s+(?:todo\s+|to-do\s+|to\s+do\s+|task\s+|[\w-]+\s+)?(?:list|tasks|todos)\s*$"
)
_REMIND_TO = re.compile(r"^(?:remind\s+me|reminder)\s*(?:to|:)\s+")
_IMPERATIVES = frozenset(
    """buy get grab call phone ring text email e-mail mail message write read send post pay book order clean wash
    fix repair pick drop return renew cancel check review prepare prep plan organise organize start schedule visit
    go take bring make cook bake water feed walk meet submit file print sign upgrade install back backup charge
    sell donate sort tidy vacuum hoover iron mow study learn practice practise research ask tell invite thank reply
    respond follow contact arrange confirm register apply pack unpack collect deliver ship buy pay finish do draft
    edit proofread translate test deploy publish upload download refill replace paint hang shop exercise run
    run jog swim stretch meditate floss brush change update wear watch listen attend join hang bring put cut
    feed lock unlock empty""".split()
)


def _draft_from(text: str, clock: Clock) -> Draft:
    return _parse(Work(text), clock)


def _add_plan(draft: Draft) -> Plan | Clarify:
    if not draft.title:
        return Clarify("What should the task be called?")
    parts = [f"Adding \u201c{draft.title}\u201d"]
    if isinstance(draft.due, datetime):
        parts.append(f"due {draft.due:%a %d %b %H:%M}")
    elif isinstance(draft.due, date):
        parts.append(f"due {draft.due:%a %d %b}")
    if draft.rrule is not None:
        parts.append(describe(Recurrence(draft.rrule, draft.anchor)))
    if draft.priority is not None:
        parts.append(f"{draft.priority.value} priority")
    if draft.tags:
        parts.append(" ".join("#" + t for t in draft.tags))
    if draft.reminders:
        parts.append(f"{len(draft.reminders)} reminder{'s' if len(draft.reminders) > 1 else ''}")
    return Plan([ToolCall("add_task", draft.tool_arguments())], ", ".join(parts) + ".")


def _has_features(draft: Draft) -> bool:
    return bool(draft.due is not None or draft.rrule or draft.priority is not None or draft.tags or draft.reminders)


# --- safety -------------------------------------------------------------------------------------

_DESTROY = (
    r"(?:delete|remove|erase|clear|wipe|purge|trash|destroy|nuke|empty|get\s+rid\s+of|kill|reset|bin|scrap|discard"
    r"|cancel|drop(?!\s+off))"
)
_CHANGE_MANY = (
    r"(?:mark|complete|finish|check\s+off|tick\s+off|close|reopen|move|push|postpone|reschedule|update|change|edit"
    r"|rename)"
)
_MANY = (
    r"(?:all\b|everything\b|every\s+(?:single\s+)?(?:one|task|todo|to-do|item|thing|reminder)\b|each\s+(?:one|task|todo|item)\b"
    r"|(?:all\s+)?(?:of\s+)?(?:my|the|these|those|your|our)\s+(?:\w+\s+){0,3}?(?:tasks|todos|to-dos|items|reminders|entries"
    r"|list|lists|data|account|stuff|history)\b|them\b|those\b|these\b|my\s+(?:account|profile|data|history|list)\b"
    r"|(?:tasks|todos|to-dos|items)\b)"
)
_BULK = re.compile(r"\b" + _DESTROY + r"\b(?:\s+[\w'-]+){0,3}?\s+" + _MANY)
_BULK_CHANGE = re.compile(
    r"\b"
    + _CHANGE_MANY
    + r"\b(?:\s+[\w'-]+){0,2}?\s+(?:all\b|everything\b|every\s+(?:single\s+)?(?:one|task|todo|item)\b"
    r"|(?:all\s+)?(?:of\s+)?(?:my|the|these|those)\s+(?:\w+\s+){0,2}?(?:tasks|todos|to-dos|items)\b|them\b|those\b|these\b)"
)
_WIPE_LIST = re.compile(r"\b(?:start\s+(?:over|fresh|from\s+scratch)|clean\s+slate|factory\s+reset)\b")


# --- chatter ------------------------------------------------------------------------------------

_HELP = re.compile(
    r"^(?:help|\?+|what\s+can\s+you\s+do|what\s+do\s+you\s+do|how\s+does\s+this\s+work|commands|usage"
    r"|how\s+do\s+i\s+use\s+(?:this|you|it)|what\s+are\s+you|who\s+are\s+you)\b[\s?!.]*$"
)
_CHATTER = re.compile(
    r"^(?:hi|hello|hey|yo|hiya|howdy|good\s+(?:morning|afternoon|evening|night|day)|thanks?(?:\s+a\s+lot)?|thank\s+you"
    r"|thx|ty|cheers|ok(?:ay)?|k|cool|great|nice|awesome|perfect|bye|goodbye|good\s*bye|see\s+(?:you|ya)(?:\s+\w+)?"
    r"|later|lol|haha+|yes|no|yep|nope|sure|fine|how\s+are\s+you(?:\s+doing)?|what(?:'s|\s+is)\s+up|sup"
    r"|tell\s+me\s+a\s+joke|what\s+time\s+is\s+it|what\s+day\s+is\s+(?:it|today)|never\s*mind|nvm|forget\s+it"
    r"|i\s+love\s+you|you'?re\s+\w+)\b[\s?!.]*$"
)


# --- references ---------------------------------------------------------------------------------

_PRONOUNS = frozenset(
    {
        "it",
        "that",
        "this",
        "them",
        "those",
        "these",
        "this one",
        "that one",
        "the one",
        "one",
        "task",
        "the task",
        "that task",
        "this task",
        "everything",
        "all",
        "something",
        "the thing",
        "thing",
        "my task",
        "",
    }
)
_REF_LEAD = re.compile(r"^(?:(?:the|my|our|a|an|that|this)\s+)+")
_REF_TRAIL = re.compile(r"\s+(?:task|todo|to-do|item|one|thing|entry)$")


def _reference(text: str) -> str | None:
    """The title words of a reference, or None when it names no task ("it", "that one", ...)."""
    ref = _strip_end(" ".join(text.split()))
    ref = ref.strip("\"'\u201c\u201d\u2018\u2019")
    if fold(ref) in _PRONOUNS:
        return None
    ref = _REF_LEAD.sub("", ref) if _REF_LEAD.sub("", fold(ref)) else ref
    ref = _REF_TRAIL.sub("", ref) if _REF_TRAIL.sub("", fold(ref)).strip() else ref
    ref = ref.strip("\"'\u201c\u201d\u2018\u2019 ")
    return None if fold(ref) in _PRONOUNS else ref


@dataclass(frozen=True, slots=True)
class _Msg:
    text: str  # cleaned original (case kept)
    low: str  # folded, same length

    def group(self, m: re.Match[str], name: str) -> str:
        """A named group of a match on ``low``, in the original letter case."""
        return self.text[m.start(name) : m.end(name)]


def _ask_which(verb: str) -> Clarify:
    return Clarify(f"Which task should I {verb}? Tell me (part of) its title.")


def _ref_or_ask(msg: _Msg, m: re.Match[str], action: Action, verb: str, **kw: Any) -> ByReference | Clarify:
    ref = _reference(msg.group(m, "ref"))
    if ref is None:
        return _ask_which(verb)
    return ByReference(action, ref, **kw)


_BARE_VERB = re.compile(
    r"^(?:delete|remove|erase|trash|complete|finish|done|reopen|move|reschedule|postpone|push|rename|update|change|edit"
    r"|undo|mark(?:\s+(?:it\s+)?(?:as\s+)?(?:done|complete|completed|finished))?|check\s+off|tick\s+off|get\s+rid\s+of"
    r"|i'?m\s+done|all\s+done|finished)$"
)
_R_REOPEN = [
    re.compile(r"^(?:reopen|re-open|unmark|uncheck|untick|uncomplete|un-complete|restore|undo|revive)\s+(?P<ref>.+)$"),
    re.compile(
        r"^(?:mark|set|flag)\s+(?P<ref>.+?)\s+(?:as\s+)?(?:not\s+(?:yet\s+)?(?:done|complete|completed|finished)|undone"
        r"|incomplete|unfinished|open|to\s?do|pending)$"
    ),
    re.compile(
        r"^(?P<ref>.+?)\s+(?:is|was|'s)(?:\s+not|n't)\s+(?:really\s+|actually\s+)?(?:done|finished|complete|completed)"
        r"(?:\s+yet)?$"
    ),
]
_R_COMPLETE = [
    re.compile(
        r"^(?:i'?m\s+|i\s+am\s+|i'?ve\s+|i\s+have\s+|we'?re\s+)?(?:all\s+)?(?:done|finished|through)\s+with\s+(?P<ref>.+)$"
    ),
    re.compile(
        r"^(?:i|we)(?:\s+have\s+|'ve\s+|\s+)(?:just\s+|already\s+|finally\s+)?(?:finished|completed|did|done)\s+"
        r"(?P<ref>.+)$"
    ),
    re.compile(r"^(?:finished|completed)\s+(?P<ref>.+)$"),
    re.compile(r"^(?:mark|set|flag)\s+(?P<ref>.+?)\s+(?:as\s+)?(?:done|complete|completed|finished)$"),
    re.compile(r"^(?:check|tick|cross)\s+off\s+(?P<ref>.+)$"),
    re.compile(r"^(?:check|tick|cross)\s+(?P<ref>.+?)\s+off$"),
    re.compile(r"^(?P<ref>.+?)\s+(?:is|are|was|'s)\s+(?:now\s+|all\s+)?(?:done|finished|complete|completed)$"),
]
_R_COMPLETE_VERB = re.compile(r"^(?:complete|finish|close|resolve)\s+(?P<ref>.+)$")
_R_COMPLETE_TAIL = re.compile(r"^(?P<ref>(?:\S+\s+){0,5}?\S+)\s+(?:done|finished|completed)$")
_R_DELETE = [
    re.compile(
        r"^(?:delete|remove|erase|trash|bin|scrap|discard|drop|get\s+rid\s+of|forget(?:\s+about)?|kill|nuke|destroy"
        r"|ditch)\s+(?P<ref>.+)$"
    ),
    re.compile(r"^(?P<ref>.+?)\s+(?:can|should|must)\s+be\s+(?:deleted|removed)$"),
]
_PRIO_WORDS = {
    "high": "high",
    "top": "high",
    "urgent": "high",
    "important": "high",
    "a": "high",
    "p1": "high",
    "medium": "medium",
    "normal": "medium",
    "p2": "medium",
    "low": "low",
    "p3": "low",
    "none": "none",
    "no": "none",
    "p4": "none",
    "not urgent": "low",
    "not important": "low",
}
_PRIO_PHRASE = (
    r"(?P<prio>(?:high|top|medium|normal|low|no|a)(?:\s+|-)prio(?:rity)?|urgent|important|not\s+urgent|not\s+important"
    r"|p[1-4])"
)
_R_PRIORITY = [
    re.compile(r"^(?:make|set|mark|flag)\s+(?P<ref>.+?)\s+(?:as\s+)?(?:a\s+)?" + _PRIO_PHRASE + r"$"),
    re.compile(
        r"^(?:set|change|raise|lower|make)\s+(?:the\s+)?priority\s+(?:of|for|on)\s+(?P<ref>.+?)\s+(?:to|as)\s+"
        r"(?P<prio>high|medium|normal|low|none|urgent|p[1-4])$"
    ),
    re.compile(r"^(?P<ref>.+?)\s+is\s+(?:now\s+|very\s+)?(?:a\s+)?" + _PRIO_PHRASE + r"$"),
    re.compile(
        r"^(?:set|change|raise|lower|make|update)\s+(?P<ref>.+?)'s?\s+priority\s+(?:to|as)\s+"
        r"(?P<prio>high|medium|normal|low|none|urgent|p[1-4])$"
    ),
]
_R_PRIORITIZE = re.compile(r"^(?P<dir>prioriti[sz]e|deprioriti[sz]e|de-prioriti[sz]e)\s+(?P<ref>.+)$")
_R_RENAME = [
    re.compile(r"^(?:rename|retitle|re-name)\s+(?P<ref>.+?)\s+(?:to|as|into)\s+(?P<new>.+)$"),
    re.compile(r"^(?:change|set|update)\s+(?:the\s+)?(?:title|name)\s+of\s+(?P<ref>.+?)\s+to\s+(?P<new>.+)$"),
]
_R_TAG = [
    re.compile(r"^(?:tag|label)\s+(?P<ref>.+?)\s+(?:with|as)\s+(?P<tags>.+)$"),
    re.compile(
        r"^add\s+(?:the\s+)?(?:tags?\s+|labels?\s+)?(?P<tags>#\S+(?:\s*(?:,|and|&)?\s*#\S+)*)\s+to\s+(?P<ref>.+)$"
    ),
    re.compile(r"^add\s+(?:the\s+)?(?:tag|label)\s+(?P<tags>[\w-]+)\s+to\s+(?P<ref>.+)$"),
]
_R_NOTE = re.compile(
    r"^(?:add\s+(?:a\s+)?(?:note|description|details?)\s+(?:to|on|for)|describe)\s+(?P<ref>.+?)\s*[:\u2013\u2014-]\s*(?P<desc>.+)$"
)
_R_STOP_REPEAT = [
    re.compile(r"^(?:stop|don'?t|do\s+not|no\s+longer|quit)\s+(?:repeating|recurring|repeat|recur)\s+(?P<ref>.+)$"),
    re.compile(r"^stop\s+(?P<ref>.+?)\s+(?:from\s+)?(?:repeating|recurring)$"),
    re.compile(
        r"^(?:make|set)\s+(?P<ref>.+?)\s+(?:not\s+(?:repeat(?:ing)?|recur(?:ring)?)|one-?off|non-?recurring"
        r"|a\s+one-?(?:time|off)(?:\s+task)?)$"
    ),
    re.compile(
        r"^(?P<ref>.+?)\s+(?:should\s+)?(?:no\s+longer|not|doesn'?t\s+need\s+to)\s+(?:repeat|recur)s?(?:\s+anymore)?$"
    ),
]
_R_REPEAT = [
    re.compile(r"^(?:make|set)\s+(?P<ref>.+?)\s+(?:to\s+)?(?:repeat|recur|recurring|repeating)\s+(?P<rule>.+)$"),
    re.compile(r"^(?P<ref>.+?)\s+should\s+(?:repeat|recur|happen)\s+(?P<rule>.+)$"),
    re.compile(r"^repeat\s+(?P<ref>.+?)\s+(?P<rule>(?:every|each)\b.+|daily|weekly|monthly|yearly|fortnightly)$"),
]
_R_REMIND = re.compile(
    r"^(?:remind\s+me|set\s+(?:a\s+)?reminder|add\s+(?:a\s+)?reminder)\s+(?:about|of|for|on)\s+(?P<rest>.+)$"
)
_MOVE_VERB = r"(?:push|move|postpone|reschedule|defer|delay|shift|bump|put\s+off|push\s+back|change|set|make)"
_R_MOVE = re.compile(r"^" + _MOVE_VERB + r"\s+(?:back\s+)?(?P<rest>.+)$")
_R_SHIFT = re.compile(
    r"^(?:push|move|postpone|delay|defer|put\s+off|bump|shift)\s+(?:back\s+)?(?P<ref>.+?)\s+(?:back\s+)?(?:by\s+)?"
    r"(?P<n>" + NUM + r")\s+(?P<unit>days?|weeks?)(?:\s+(?:later|back))?$"
)
_MAX_WHEN = 80  # a date/time or reminder phrase at the end of a command is never longer
_R_MOVE_SPLIT = re.compile(r"\s+(?:to|till|until|for|on|into|at)\s+")
_DUE_OF = re.compile(r"^(?:the\s+)?(?:due\s+date|deadline|date|due|time)\s+(?:of|for|on)\s+")
_R_GET = [
    re.compile(
        r"^(?:show|open|get|view|display|see)\s+(?:me\s+)?(?:the\s+)?(?:details\s+(?:of|for|on)\s+)?(?P<ref>.+?)\s+"
        r"(?:task|todo|item)(?:\s+details)?$"
    ),
    re.compile(r"^(?:details|info|information)\s+(?:of|for|on|about)\s+(?P<ref>.+)$"),
    re.compile(r"^when\s+(?:is|'s|was)\s+(?P<ref>.+?)(?:\s+due)?$"),
    re.compile(r"^what(?:'s|\s+is)\s+(?:the\s+)?(?:status|state|deal)\s+(?:of|with|on)\s+(?P<ref>.+)$"),
]
_R_NO_REMINDERS = re.compile(
    r"^(?:remove|delete|clear|cancel|turn\s+off|drop|disable)\s+(?:the\s+|all\s+(?:the\s+)?|any\s+|my\s+)?"
    r"(?:reminders?|alerts?|notifications?)\s+(?:from|for|on|of)\s+(?P<ref>.+)$"
)
_PLURAL_REF = re.compile(r"\b(?:tasks|todos|to-dos|items|reminders|entries|everything|all)\b")


def _due_phrase(text: str, clock: Clock) -> str | None:
    """``text`` as a due date/time when it is nothing but one ("friday", "tomorrow at 3pm")."""
    draft = _draft_from(text, clock)
    if draft.title or draft.due is None or draft.rrule or draft.priority is not None or draft.tags:
        return None
    return rfc3339(draft.due)


def _tags_of(text: str) -> tuple[str, ...]:
    from todo_core.domain.tasks import normalize_tag

    out: list[str] = []
    for word in re.findall(r"#?([^\W_][\w\-./:+&]*)", text):
        if word in ("and", "or", "with", "as", "the", "tag", "tags", "label"):
            continue
        try:
            tag = normalize_tag(word)
        except ValidationError:
            continue
        if tag not in out:
            out.append(tag)
    return tuple(out)


def _reminder_items(text: str, clock: Clock) -> tuple[dict[str, Any], ...] | None:
    """Reminder phrases for an existing task ("1 hour before", "at 8am", "tomorrow at 9")."""
    work = Work("remind me " + text)
    asks = _find_reminders(work, clock)
    if not asks or fold(work.rest()).strip():
        return None
    items: list[dict[str, Any]] = []
    for ask in asks:
        if ask.offset is not None:
            items.append({"offset_minutes": ask.offset})
        elif ask.at is not None:
            items.append({"at": rfc3339(ask.at)})
        elif ask.on_due_at is not None:
            items.append({"at_time": ask.on_due_at.strftime("%H:%M"), "days_before": ask.days_before})
    return tuple(items)


def _references(msg: _Msg, clock: Clock) -> Interpretation | None:
    low = _strip_end(msg.low)
    text = msg.text[: len(low)]
    msg = _Msg(text, low)
    if _BARE_VERB.match(low):
        return _ask_which(
            low.split()[0] if low.split()[0] not in ("done", "finished", "i'm", "im", "all") else "mark as done"
        )
    for pattern in _R_REOPEN:
        if m := pattern.match(low):
            return _ref_or_ask(msg, m, "reopen", "reopen")
    for pattern in _R_RENAME:
        if m := pattern.match(low):
            new_title = msg.group(m, "new").strip().strip("\"'\u201c\u201d")
            return _ref_or_ask(msg, m, "update", "rename", changes={"title": new_title})
    for pattern in _R_PRIORITY:
        if m := pattern.match(low):
            key = " ".join(re.split(r"[\s-]+", m.group("prio"))[:2])
            word = key.split()[0] if not key.startswith("not") else key
            prio = _PRIO_WORDS.get(word, _PRIO_WORDS.get(key, "high"))
            return _ref_or_ask(msg, m, "update", "change", changes={"priority": prio})
    if m := _R_PRIORITIZE.match(low):
        prio = "high" if m.group("dir").startswith("prior") else "low"
        return _ref_or_ask(msg, m, "update", "change", changes={"priority": prio})
    for pattern in _R_TAG:
        if (m := pattern.match(low)) and (tags := _tags_of(m.group("tags"))):
            return _ref_or_ask(msg, m, "update", "tag", add_tags=tags)
    if m := _R_NOTE.match(low):
        return _ref_or_ask(msg, m, "update", "change", changes={"description": msg.group(m, "desc").strip()})
    for pattern in _R_STOP_REPEAT:
        if m := pattern.match(low):
            return _ref_or_ask(msg, m, "update", "change", changes={"clear_recurrence": True})
    for pattern in _R_REPEAT:
        if m := pattern.match(low):
            hit = find_recurrence(m.group("rule"), clock)
            rec = hit.recurrence() if hit is not None else None
            if rec is not None:
                changes: dict[str, Any] = {"rrule": rec.rrule}
                if rec.anchor != "schedule":
                    changes["anchor"] = rec.anchor
                return _ref_or_ask(msg, m, "update", "change", changes=changes)
    if m := _R_REMIND.match(low):
        rest_low, rest = m.group("rest"), msg.group(m, "rest")
        for split in reversed(list(re.finditer(r"\s+", rest_low))):
            if len(rest_low) - split.end() > _MAX_WHEN:
                break
            items = _reminder_items(rest_low[split.end() :], clock)
            if items is not None:
                ref = _reference(rest[: split.start()])
                return (
                    _ask_which("remind you about") if ref is None else ByReference("update", ref, add_reminders=items)
                )
        ref = _reference(rest)
        if ref is None:
            return _ask_which("remind you about")
        return ByReference("update", ref, add_reminders=({"offset_minutes": 0},))
    if m := _R_SHIFT.match(low):
        n = number(m.group("n")) * (7 if m.group("unit").startswith("w") else 1)
        return _ref_or_ask(msg, m, "update", "move", shift_days=n)
    if m := _R_MOVE.match(low):
        rest_low, rest = m.group("rest"), msg.group(m, "rest")
        for split in _R_MOVE_SPLIT.finditer(rest_low):
            if len(rest_low) - split.end() > _MAX_WHEN:
                continue
            due = _due_phrase(rest_low[split.end() :], clock)
            if due is None and split.group(0).strip() == "at":
                continue
            if due is not None:
                ref_text = _DUE_OF.sub("", rest[: split.start()]) if _DUE_OF.match(rest_low) else rest[: split.start()]
                ref = _reference(ref_text)
                return _ask_which("move") if ref is None else ByReference("update", ref, changes={"due": due})
        verb = low.split()[0]
        if verb in ("push", "move", "postpone", "reschedule", "defer", "delay", "bump"):
            ref = _reference(rest)
            if ref is None:
                return _ask_which("move")
            return Clarify(f"When should \u201c{ref}\u201d be due?")
    if m := _R_NO_REMINDERS.match(low):
        return _ref_or_ask(msg, m, "update", "change", changes={"reminders": []})
    for pattern in _R_DELETE:
        if m := pattern.match(low):
            if _PLURAL_REF.search(m.group("ref")):
                return Clarify("I delete one task at a time: which task (by its title) should I delete?")
            return _ref_or_ask(msg, m, "delete", "delete")
    for pattern in _R_COMPLETE:
        if m := pattern.match(low):
            return _ref_or_ask(msg, m, "complete", "mark as done")
    if m := _R_COMPLETE_VERB.match(low):
        draft = _draft_from(msg.text, clock)
        if not _has_features(draft):
            return _ref_or_ask(msg, m, "complete", "mark as done")
        return None  # "finish the report by friday" is a new task
    for pattern in _R_GET:
        if m := pattern.match(low):
            return _ref_or_ask(msg, m, "get", "show")
    if (m := _R_COMPLETE_TAIL.match(low)) and not _QUERY_START.match(low):
        return _ref_or_ask(msg, m, "complete", "mark as done")
    return None


# --- queries ------------------------------------------------------------------------------------

_QUERY_START = re.compile(
    r"^(?:what(?:'s|s|\s+is|\s+are|\s+do|\s+did|\s+should|\s+have|\s+else|\s+about)?|which|show|list|display|give\s+me"
    r"|get\s+me|find|search|look\s+(?:for|up)|lookup|locate|do\s+i\s+have|have\s+i\s+got|any|anything|how\s+many"
    r"|are\s+there|is\s+there|tell\s+me|see|view|where|my|all|overdue|upcoming|open|pending|tasks|todos)\b"
)
_TASK_NOUN = re.compile(r"\b(?:tasks?|todos?|to-dos?|items|list|agenda|due|on|anything|stuff|things|plans?|left)\b")
_SEARCH_START = re.compile(r"^(?:find|search(?:\s+for)?|look\s+(?:for|up)|lookup|locate|where\s+is)\b")
_SEARCH_CUE = re.compile(
    r"\b(?:about|regarding|mentioning|containing|matching|called|named|titled|related\s+to|with\s+(?:the\s+)?words?)\b"
)
_QUOTED = re.compile(r"[\"\u201c](?P<q>[^\"\u201c\u201d]{1,200})[\"\u201d]")
_STATUS_ALL = re.compile(
    r"\b(?:including|incl\.?|with|and|plus|also)\s+(?:the\s+)?(?:done|completed|finished|closed)(?:\s+ones)?\b"
    r"|\b(?:done|completed)\s+(?:and|or|&)\s+(?:open|not\s+done|pending)\b|\b(?:open|pending)\s+(?:and|or|&)\s+"
    r"(?:done|completed)\b|\b(?:any|every|all)\s+status(?:es)?\b"
)
_STATUS_OPEN = re.compile(
    r"\b(?:open|not\s+(?:yet\s+)?(?:done|completed|finished)|unfinished|incomplete|pending|outstanding|undone)\b"
)
_STATUS_DONE = re.compile(
    r"\b(?:done|completed|finished|finish|complete|closed|checked[- ]off|ticked[- ]off)\b|\bdid\s+i\s+(?:do|close)\b"
)
_OVERDUE = re.compile(r"\b(?:overdue|late|past\s+due|missed|behind(?:\s+on)?)\b")
_NO_DUE = re.compile(
    r"\b(?:without|with\s+no|no|missing|lacking|having\s+no|have\s+no|has\s+no|don'?t\s+have\s+a|doesn'?t\s+have\s+a)\s+"
    r"(?:a\s+)?(?:due\s+)?(?:dates?|deadlines?|due)\b|\b(?:undated|unscheduled|someday)\b"
)
_HAS_DUE = re.compile(
    r"\b(?:with|having|that\s+have|which\s+have)\s+(?:a\s+)?(?:due\s+dates?|deadlines?)\b|\bscheduled\b"
)
_NOT_RECURRING = re.compile(r"\b(?:non-?recurring|non-?repeating|one-?off|one-?time)\b")
_RECURRING = re.compile(r"\b(?:recurring|repeating|repeated|recurrent|routine)\b")
_SORT_BY = re.compile(
    r"\b(?:(?:sort(?:ed)?|order(?:ed)?|organi[sz]ed|arranged|grouped)\s+)?by\s+(?:the\s+)?(?:their\s+)?"
    r"(?P<key>due(?:\s+dates?)?|deadlines?|dates?|priority|priorities|importance|urgency|title|names?|creation(?:\s+date)?"
    r"|created(?:\s+date)?|date\s+(?:created|added)|(?:last\s+)?updated?|modified|alphabet)\b"
    r"(?:\s*,?\s*(?P<dir>desc(?:ending)?|asc(?:ending)?|reversed?|newest\s+first|oldest\s+first|latest\s+first"
    r"|earliest\s+first))?"
)
_SORT_WORDS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"\b(?:sorted\s+|ordered\s+|listed\s+)?alphabetic(?:al(?:ly)?)?\b|\ba-z\b|\bin\s+alphabetical\s+order\b"
        ),
        "title",
    ),
    (re.compile(r"\bz-a\b|\breverse\s+alphabetical(?:\s+order)?\b"), "-title"),
    (re.compile(r"\b(?:recently|last)\s+(?:updated|changed|modified|edited)\b"), "-updated"),
    (
        re.compile(
            r"\b(?:newest|latest|most\s+recent(?:ly\s+(?:created|added))?|recently\s+(?:added|created))(?:\s+(?:ones\s+)?first)?\b"
        ),
        "-created",
    ),
    (re.compile(r"\boldest(?:\s+(?:ones\s+)?first)?\b"), "created"),
    (re.compile(r"\b(?:soonest|earliest)(?:\s+(?:due\s+)?first)?\b|\bsoonest\s+due\b"), "due"),
    (re.compile(r"\b(?:latest|furthest)\s+due(?:\s+first)?\b"), "-due"),
    (re.compile(r"\bmost\s+(?:important|urgent)(?:\s+first)?\b"), "priority"),
]
_LIMIT_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twenty": 20,
    "fifty": 50,
}


def _limit(n: str) -> int:
    """A count of a "top five" / "10 tasks" phrase, as list_tasks takes it (1..200)."""
    return min(int(n) if n.isdigit() else _LIMIT_WORDS[n], 200) or 1


_LIMIT_NUM = r"(?P<n>\d{1,3}|" + "|".join(_LIMIT_WORDS) + ")"
_LIMIT_TOP = re.compile(r"\b(?P<w>top|first|next)\s+" + _LIMIT_NUM + r"\b")
_LIMIT_N = re.compile(r"\b" + _LIMIT_NUM + r"\s+(?:tasks|todos|to-dos|items|things)\b")
_LEVEL = r"(?:high(?:est)?|top|medium|med|normal|mid|low(?:est)?|urgent)"
_PRIO_Q = [
    re.compile(
        r"\b(?P<lv>" + _LEVEL + r"(?:\s*(?:,|and|or|&|/|\+)\s*" + _LEVEL + r")*)(?:\s+|-)?prio(?:rity|rities)?\b"
    ),
    re.compile(r"\bprio(?:rity)?\s*[:=]?\s*(?P<lv>high|medium|low)\b"),
    re.compile(r"(?<![\w/#-])(?P<lv>p[1-4](?:\s*(?:,|and|or|&|/)\s*p[1-4])*)\b"),
    re.compile(r"\b(?P<lv>urgent|important|critical|asap)\b"),
]
_LEVELS = {
    "high": "high",
    "highest": "high",
    "top": "high",
    "urgent": "high",
    "important": "high",
    "critical": "high",
    "asap": "high",
    "medium": "medium",
    "med": "medium",
    "normal": "medium",
    "mid": "medium",
    "low": "low",
    "lowest": "low",
    "p1": "high",
    "p2": "medium",
    "p3": "low",
    "p4": "none",
}
_DUE_WORD = r"(?:(?:due|scheduled|planned)\s+(?:for\s+|on\s+)?|for\s+|on\s+)?"
_RANGE_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b" + _DUE_WORD + r"(?:today|tonight)(?:'s)?\b"), "today"),
    (re.compile(r"\b" + _DUE_WORD + r"tomorrow(?:'s)?\b"), "tomorrow"),
    (
        re.compile(r"\b" + _DUE_WORD + r"(?:(?:this|the\s+current)\s+week(?:'s)?|the\s+rest\s+of\s+the\s+week)\b"),
        "week",
    ),
    (re.compile(r"\b" + _DUE_WORD + r"next\s+week(?:'s)?\b"), "next_week"),
    (re.compile(r"\b" + _DUE_WORD + r"(?:this|the)\s+weekend\b"), "weekend"),
    (re.compile(r"\b" + _DUE_WORD + r"this\s+month(?:'s)?\b"), "month"),
    (re.compile(r"\b" + _DUE_WORD + r"next\s+month(?:'s)?\b"), "next_month"),
    (
        re.compile(
            r"\b(?:due\s+)?(?:(?:in|within|over|during)\s+)?(?:the\s+)?next\s+(?P<n>"
            + NUM
            + r")\s+(?P<unit>days|weeks)\b"
        ),
        "next_n",
    ),
]
_TAGGED = re.compile(
    r"\b(?:tagged(?:\s+with)?|labell?ed|with\s+(?:the\s+)?(?:tags?|labels?)|under(?:\s+the)?\s+(?:tag|label))\s+"
    r"(?P<tags>#?[\w][\w-]*(?:\s*(?:,|and|or|&)\s*#?[\w][\w-]*)*)"
)
_HASH = re.compile(r"(?<![\w&#/])#(?P<t>\d*[^\W\d_][\w\-./:+&]*)")
_TAG_PLACE = re.compile(r"\b(?:at|for|in|from|around|on)\s+(?:the\s+)?(?:my\s+)?(?P<w>[\w][\w-]*)\b")
_TAG_NOUN = re.compile(
    r"\b(?P<ws>[\w][\w-]*(?:\s*(?:,|and|or|&|/)\s*[\w][\w-]*)*)\s+(?:tasks?|todos?|to-dos?|items|stuff|things|jobs|ones)\b"
)
_STOPWORDS = frozenset(
    """a an the my your our all any some of to for in on at by with and or is are was be do does did have has i me we
    you it its what whats what's which show list display find search look up lookup locate where when tell give get
    see view tasks task todos todo to-dos items item stuff things thing anything something everything there that this
    these those about regarding mentioning containing matching called named titled related please can could would
    should will just only also any open due left other remaining current please now hey so ok okay here many how
    much more ones one""".split()
)


def _level_list(text: str) -> list[str]:
    out: list[str] = []
    for word in re.findall(r"[a-z0-9]+", text):
        level = _LEVELS.get(word)
        if level is not None and level not in out:
            out.append(level)
    return out


def _range(kind: str, clock: Clock, m: re.Match[str]) -> tuple[datetime | None, datetime | None]:
    today = clock.today
    monday_next = today + timedelta(days=7 - today.weekday())
    if kind == "today":
        return None, clock.midnight(today + timedelta(days=1))
    if kind == "tomorrow":
        return clock.midnight(today + timedelta(days=1)), clock.midnight(today + timedelta(days=2))
    if kind == "week":
        return clock.midnight(today), clock.midnight(monday_next)
    if kind == "next_week":
        return clock.midnight(monday_next), clock.midnight(monday_next + timedelta(days=7))
    if kind == "weekend":
        saturday = today if today.weekday() >= 5 else today + timedelta(days=5 - today.weekday())
        return clock.midnight(saturday), clock.midnight(monday_next)
    if kind == "month":
        return clock.midnight(today), clock.midnight(add_months(today.replace(day=1), 1))
    if kind == "next_month":
        first = add_months(today.replace(day=1), 1)
        return clock.midnight(first), clock.midnight(add_months(first, 1))
    n = min(number(m.group("n")), 3660)
    days = n if m.group("unit") == "days" else 7 * n
    return clock.midnight(today), clock.midnight(today + timedelta(days=days + 1))


def _query(msg: _Msg, clock: Clock, tag_words: frozenset[str]) -> Plan | None:
    work = Work(msg.text)
    args: dict[str, Any] = {}
    search_words: list[str] = []
    cue = False

    if m := _QUOTED.search(work.view):
        search_words.append(msg.text[m.start("q") : m.end("q")])
        work.take("query", m.start(), m.end())
        cue = True
    if m := _SEARCH_START.match(work.view):
        work.take("search", m.start(), m.end())
        cue = True
    if m := _SEARCH_CUE.search(work.view):
        work.take("search", m.start(), m.end())
        cue = True

    for pattern, value in ((_STATUS_ALL, "all"), (_STATUS_OPEN, "open"), (_STATUS_DONE, "done")):
        if m := pattern.search(work.view):
            args["status"] = value
            work.take("status", m.start(), m.end())
            break
    if m := _OVERDUE.search(work.view):
        args["overdue"] = True
        work.take("overdue", m.start(), m.end())
    if m := _NO_DUE.search(work.view):
        args["has_due"] = False
        work.take("has_due", m.start(), m.end())
    elif m := _HAS_DUE.search(work.view):
        args["has_due"] = True
        work.take("has_due", m.start(), m.end())
    if m := _NOT_RECURRING.search(work.view):
        args["recurring"] = False
        work.take("recurring", m.start(), m.end())
    elif m := _RECURRING.search(work.view):
        args["recurring"] = True
        work.take("recurring", m.start(), m.end())

    if m := _SORT_BY.search(work.view):
        key = m.group("key")
        base = (
            "priority"
            if key.startswith(("prior", "import", "urgen"))
            else "title"
            if key.startswith(("title", "name", "alpha"))
            else "created"
            if key.startswith(("creat", "date c", "date a"))
            else "updated"
            if key.startswith(("updat", "last", "modif"))
            else "due"
        )
        direction = m.group("dir") or ""
        reverse = direction.startswith(("desc", "revers", "newest", "latest"))
        if base in ("created", "updated") and not direction:
            reverse = True
        args["sort"] = ("-" if reverse else "") + base
        work.take("sort", m.start(), m.end())
    else:
        for pattern, value in _SORT_WORDS:
            if m := pattern.search(work.view):
                args["sort"] = value
                work.take("sort", m.start(), m.end())
                break
    for pattern, kind in _RANGE_PATTERNS:
        if m := pattern.search(work.view):
            after, before = _range(kind, clock, m)
            if after is not None:
                args["due_after"] = rfc3339(after)
            if before is not None:
                args["due_before"] = rfc3339(before)
            work.take("due", m.start(), m.end())
            break
    else:
        hit = find_date(work.view, clock)
        if hit is not None and hit.day is not None:
            day, prep = hit.day, hit.prep or ""
            if prep == "before":
                args["due_before"] = rfc3339(clock.midnight(day))
            elif prep in ("by", "until", "till", "due by", "no later than"):
                args["due_before"] = rfc3339(clock.midnight(day + timedelta(days=1)))
            elif prep == "after":
                args["due_after"] = rfc3339(clock.midnight(day + timedelta(days=1)))
            elif prep in ("from", "starting", "starting on", "starting from", "beginning"):
                args["due_after"] = rfc3339(clock.midnight(day))
            else:
                args["due_after"] = rfc3339(clock.midnight(day))
                args["due_before"] = rfc3339(clock.midnight(day + timedelta(days=1)))
            work.take("due", hit.start, hit.end)
        elif hit is not None and hit.moment is not None:
            args["due_before"] = rfc3339(hit.moment)
            work.take("due", hit.start, hit.end)

    if m := _LIMIT_TOP.search(work.view):
        n = m.group("n")
        args["limit"] = _limit(n)
        if m.group("w") == "next" and "sort" not in args:
            args["sort"] = "due"
        work.take("limit", m.start(), m.end())
    elif m := _LIMIT_N.search(work.view):
        n = m.group("n")
        args["limit"] = _limit(n)
        work.take("limit", m.start(), m.start("n") + len(n))

    levels: list[str] = []
    for pattern in _PRIO_Q:
        for m in list(pattern.finditer(work.view)):
            for level in _level_list(m.group("lv")):
                if level not in levels:
                    levels.append(level)
            work.take("priority", m.start(), m.end())
    if levels:
        args["priority"] = levels

    tags: list[str] = []

    def add_tag(word: str) -> None:
        from todo_core.domain.tasks import normalize_tag

        try:
            tag = normalize_tag(word)
        except ValidationError:
            return
        if tag not in tags:
            tags.append(tag)

    for m in list(_HASH.finditer(work.view)):
        add_tag(m.group("t").rstrip(".:/-+&"))
        work.take("tag", m.start(), m.end())
    if m := _TAGGED.search(work.view):
        for word in _tags_of(m.group("tags")):
            add_tag(word)
        work.take("tag", m.start(), m.end())
    for m in list(_TAG_PLACE.finditer(work.view)):
        if m.group("w") in tag_words:
            add_tag(m.group("w"))
            work.take("tag", m.start(), m.end())
    for m in list(_TAG_NOUN.finditer(work.view)):
        words = [w for w in re.split(r"\s*(?:,|\band\b|\bor\b|&|/)\s*|\s+", m.group("ws")) if w]
        # the words right before "tasks": tag words become tags, any other word is searched for
        trailing = []
        for word in reversed(words):
            if word in _STOPWORDS:
                break
            trailing.append(word)
        trailing.reverse()
        if trailing and all(w in tag_words for w in trailing):
            for word in trailing:
                add_tag(word)
            work.take("tag", m.start("ws") + m.group("ws").rfind(trailing[0]), m.end("ws"))
        elif trailing and not cue:
            cue = True
    if tags:
        args["tags"] = tags

    if cue:
        rest = [w for w in re.findall(r"[\w][\w'&.+-]*", work.rest()) if fold(w) not in _STOPWORDS]
        search_words.extend(rest)
        query = " ".join(search_words).strip()
        if query:
            args["query"] = query[:200]
    return Plan([ToolCall("list_tasks", args)], _query_reply(args))


def _query_reply(args: Mapping[str, Any]) -> str:
    bits: list[str] = []
    if args.get("overdue"):
        bits.append("overdue")
    if "priority" in args:
        bits.append("/".join(args["priority"]) + " priority")
    if "tags" in args:
        bits.append(" ".join("#" + t for t in args["tags"]))
    what = " ".join([*bits, "tasks"]) if bits else "tasks"
    if args.get("status") == "done":
        what = "completed " + what
    if "query" in args:
        what += f" matching \u201c{args['query']}\u201d"
    return f"Here are your {what}."


# --- the interpreter ----------------------------------------------------------------------------

_TAGS_LIST = re.compile(
    r"^(?:(?:list|show|display|see|view|get|give\s+me)\s+(?:me\s+)?(?:all\s+)?(?:of\s+)?(?:my\s+|the\s+)?(?:tags|labels)"
    r"|(?:what|which)\s+(?:tags|labels)\b.*|(?:my\s+)?(?:tags|labels)\??|what\s+are\s+my\s+(?:tags|labels))[\s?!.]*$"
)
_NOTIFICATIONS = re.compile(r"\b(?:notifications?|notifs?|alerts|inbox)\b")
_UNREAD = re.compile(r"\b(?:unread|new|unseen)\b")


def interpret(text: str, *, now: datetime, timezone: str, known_tags: Iterable[str] = ()) -> Interpretation:
    """What a chat message asks for. ``known_tags`` (the user's tags, when the caller has them) make
    tag words in queries precise; without them a list of common tag words is used."""
    clock = make_clock(now, timezone)
    cleaned = _clean(text if isinstance(text, str) else "")[:2000]
    low = fold(cleaned)
    if not any(ch.isalpha() for ch in low) or _HELP.match(low):
        return Unknown(HELP)
    msg = _Msg(cleaned, low)

    # 1. an explicit new task: whatever follows "add ..." is the task (even "delete all my tasks")
    for pattern in [*_R_TAG[1:], _R_NOTE]:
        if pattern.match(_strip_end(low)):
            found = _references(msg, clock)
            if found is not None:
                return found
    if m := _ADD.match(low):
        body = cleaned[m.end() :]
        body_low = fold(body)
        if t := _ADD_TARGET.search(body_low):
            body = body[: t.start()]
        return _add_plan(_draft_from(body, clock))
    if _REMIND_TO.match(low):
        return _add_plan(_draft_from(cleaned, clock))

    # 2. bulk changes are never planned
    if _BULK.search(low) or _BULK_CHANGE.search(low) or _WIPE_LIST.search(low):
        return Clarify(
            "That would change many tasks at once. I only change one task at a time: tell me which task "
            "(by its title), or do bulk changes in the app."
        )

    # 3. small talk
    if _CHATTER.match(low):
        return Unknown(HELP)

    # 4. tags and notifications
    if _TAGS_LIST.match(low):
        return Plan([ToolCall("list_tags", {})], "Here are your tags.")
    if _NOTIFICATIONS.search(low) and (_QUERY_START.match(low) or len(low.split()) <= 4):
        args = {"unread_only": True} if _UNREAD.search(low) else {}
        return Plan([ToolCall("list_notifications", args)], "Here are your notifications.")

    # 5. one existing task
    found = _references(msg, clock)
    if found is not None:
        return found

    # 6. queries
    tag_words = COMMON_TAGS | {fold(t).lstrip("#") for t in known_tags if isinstance(t, str)}
    is_question = _QUERY_START.match(low) is not None
    if is_question and (
        _TASK_NOUN.search(low) or _SEARCH_START.match(low) or low.startswith(("what", "which", "show", "list"))
    ):
        plan = _query(msg, clock, frozenset(tag_words))
        if plan is not None and (plan.calls[0].arguments or _TASK_NOUN.search(low) or low.startswith(("show", "list"))):
            return plan

    # 7. a task without "add"
    if not low.rstrip().endswith("?"):
        draft = _draft_from(cleaned, clock)
        first = low.split()[0] if low.split() else ""
        if draft.title and any(ch.isalpha() for ch in draft.title):
            if _has_features(draft) or (first in _IMPERATIVES and len(low.split()) >= 2):
                return _add_plan(draft)
    return Unknown(HELP)

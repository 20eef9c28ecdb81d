"""List queries: filters, sorts and opaque keyset cursors. Pure: no I/O."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from todo_core.domain.errors import ValidationError
from todo_core.domain.tasks import Priority, normalize_tag

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
MAX_QUERY = 200


class SortKey(StrEnum):
    DUE = "due"
    PRIORITY = "priority"
    TITLE = "title"
    CREATED = "created"
    UPDATED = "updated"
    RELEVANCE = "relevance"  # only with q


@dataclass(frozen=True, slots=True)
class Sort:
    key: SortKey
    descending: bool = False

    @classmethod
    def parse(cls, value: str | None, *, has_query: bool) -> Sort:
        if value is None or value == "":
            return cls(SortKey.RELEVANCE) if has_query else cls(SortKey.DUE)
        desc = value.startswith("-")
        name = value[1:] if desc else value
        try:
            key = SortKey(name)
        except ValueError:
            raise ValidationError(
                f"unknown sort {value!r}",
                [{"field": "sort", "message": "use due, priority, title, created or updated, '-' to reverse"}],
            ) from None
        if key is SortKey.RELEVANCE and not has_query:
            raise ValidationError("sort=relevance needs q", [{"field": "sort", "message": "needs q"}])
        return cls(key, desc)

    def token(self) -> str:
        return ("-" if self.descending else "") + self.key.value


@dataclass(frozen=True, slots=True)
class TaskQuery:
    status: Literal["open", "done", "all"] = "open"
    q: str | None = None
    priorities: tuple[Priority, ...] = ()
    tags: tuple[str, ...] = ()
    tag_mode: Literal["any", "all"] = "any"
    due_before: datetime | None = None
    due_after: datetime | None = None
    overdue: bool | None = None
    has_due: bool | None = None
    recurring: bool | None = None
    sort: Sort = Sort(SortKey.DUE)
    limit: int = DEFAULT_LIMIT
    cursor: tuple[Any, ...] | None = None
    # keyword search matches words and prefixes; only when that finds nothing does it allow typos
    fuzzy: bool = False


def _bad(field_name: str, message: str) -> ValidationError:
    return ValidationError(f"{field_name}: {message}", [{"field": field_name, "message": message}])


def _due_bound(name: str, value: datetime | date | None, timezone: str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        if value is not None and value.tzinfo is None:
            raise _bad(name, "must carry a UTC offset (RFC 3339)")
        return value
    if timezone is None:
        raise _bad(name, "a calendar date needs the user's time zone")
    return datetime.combine(value, time(0, 0), tzinfo=ZoneInfo(timezone))


def build_query(
    *,
    q: str | None = None,
    status: str = "open",
    priority: str | None = None,
    tags: list[str] | None = None,
    tag_mode: str = "any",
    due_before: datetime | date | None = None,
    due_after: datetime | date | None = None,
    overdue: bool | None = None,
    has_due: bool | None = None,
    recurring: bool | None = None,
    sort: str | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
    timezone: str | None = None,
) -> TaskQuery:
    """A validated query. A due bound given as a calendar date stands for 00:00 of that day in
    ``timezone`` (the user's); a datetime bound must carry its UTC offset."""
    if status not in ("open", "done", "all"):
        raise _bad("status", "must be open, done or all")
    query_text = " ".join(q.split()) if q else None
    if query_text is not None and len(query_text) > MAX_QUERY:
        raise _bad("q", f"must be at most {MAX_QUERY} characters")
    if query_text is not None and "\x00" in query_text:
        raise _bad("q", "must not contain NUL characters")
    prios: tuple[Priority, ...] = ()
    if priority:
        prios = tuple(dict.fromkeys(Priority.parse(p, "priority") for p in priority.split(",") if p.strip()))
    if tag_mode not in ("any", "all"):
        raise _bad("tag_mode", "must be any or all")
    tag_list = tuple(dict.fromkeys(normalize_tag(t) for t in (tags or [])))
    due_before = _due_bound("due_before", due_before, timezone)
    due_after = _due_bound("due_after", due_after, timezone)
    if not 1 <= limit <= MAX_LIMIT:
        raise _bad("limit", f"must be between 1 and {MAX_LIMIT}")
    srt = Sort.parse(sort, has_query=bool(query_text))
    keys, fuzzy = decode_cursor(cursor, srt) if cursor else (None, False)
    return TaskQuery(
        status=status,  # type: ignore[arg-type]
        q=query_text or None,
        priorities=prios,
        tags=tag_list,
        tag_mode=tag_mode,  # type: ignore[arg-type]
        due_before=due_before,
        due_after=due_after,
        overdue=overdue,
        has_due=has_due,
        recurring=recurring,
        sort=srt,
        limit=limit,
        cursor=keys,
        fuzzy=fuzzy,
    )


def encode_cursor(sort: Sort, values: tuple[Any, ...], *, fuzzy: bool = False) -> str:
    """An opaque token holding the sort it belongs to, the last row's key values and the search mode."""
    raw = json.dumps({"s": sort.token(), "k": [_enc(v) for v in values], "f": fuzzy}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str, sort: Sort) -> tuple[tuple[Any, ...], bool]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        if data["s"] != sort.token():
            raise _bad("cursor", "belongs to another sort order; start again without a cursor")
        return tuple(_dec(v) for v in data["k"]), bool(data.get("f", False))
    except ValidationError:
        raise
    except Exception:
        raise _bad("cursor", "is not a cursor returned by this API") from None


def _enc(v: Any) -> Any:
    if isinstance(v, datetime):
        return {"t": v.isoformat()}
    return v if isinstance(v, (int, float, str)) or v is None else str(v)


def _dec(v: Any) -> Any:
    if isinstance(v, dict):
        return datetime.fromisoformat(v["t"])
    if isinstance(v, (int, float, str)) or v is None:
        return v
    raise ValueError("bad cursor value")

"""Task fields, patches, queries and cursors: pure rules, no I/O."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._clock import examples
from todo_core.domain.errors import ValidationError
from todo_core.domain.ids import new_id
from todo_core.domain.query import Sort, SortKey, build_query, decode_cursor, encode_cursor
from todo_core.domain.reminders import ReminderSpec
from todo_core.domain.tasks import MAX_TAGS, Priority, TaskPatch, apply_patch, build_fields

BERLIN = ZoneInfo("Europe/Berlin")


def test_fields_are_normalized() -> None:
    f = build_fields(
        title="  Pay   rent ",
        priority="HIGH",
        tags=["#Home", "home", " Bills "],
        timezone="Europe/Berlin",
        due_at=datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
    )
    assert f.title == "Pay rent" and f.priority is Priority.HIGH
    assert f.tags == ("home", "bills")
    assert f.due_at == datetime(2026, 12, 1, 9, 0, tzinfo=BERLIN)


def test_all_day_due_is_local_midnight() -> None:
    f = build_fields(title="x", due_at=date(2026, 12, 24), timezone="Europe/Berlin")
    assert f.all_day and f.due_at == datetime(2026, 12, 24, tzinfo=BERLIN)
    g = build_fields(
        title="x", due_at=datetime(2026, 12, 24, 23, 30, tzinfo=UTC), all_day=True, timezone="Europe/Berlin"
    )
    assert g.due_at == datetime(2026, 12, 25, tzinfo=BERLIN)  # the local date of that instant


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"title": ""}, "title"),
        ({"title": "x" * 501}, "title"),
        ({"title": "x", "description": "d" * 20_001}, "description"),
        ({"title": "x", "tags": [f"t{i}" for i in range(MAX_TAGS + 1)]}, "tags"),
        ({"title": "x", "tags": ["x" * 51]}, "tags"),
        ({"title": "x", "tags": ["has space"]}, "tags"),
        ({"title": "x", "timezone": "Mars/Olympus"}, "timezone"),
        ({"title": "x", "timezone": "../etc/passwd"}, "timezone"),
        ({"title": "x", "priority": "urgent"}, "priority"),
        ({"title": "x", "recurrence": ("FREQ=WEEKLY", "schedule")}, "recurrence"),
        ({"title": "x", "due_at": datetime(2026, 1, 1, 9, 0)}, "due_at"),  # noqa: DTZ001 - naive on purpose
        ({"title": "x", "reminders": [ReminderSpec(offset_minutes=10)]}, "reminders"),
        (
            {"title": "x", "due_at": date(2026, 1, 1), "recurrence": ("FREQ=HOURLY", "schedule")},
            "recurrence",
        ),
    ],
)
def test_bad_fields_are_rejected_with_the_field_named(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        build_fields(**kwargs)  # type: ignore[arg-type]
    assert any(field in d["field"] for d in err.value.details), err.value.details


def test_patch_changes_only_given_fields_and_revalidates() -> None:
    base = build_fields(title="a", priority="low", tags=["x"], due_at=datetime(2026, 3, 1, 9, tzinfo=UTC))
    after = apply_patch(base, TaskPatch(priority="high"))
    assert after.priority is Priority.HIGH and after.title == "a" and after.tags == ("x",)
    cleared = apply_patch(base, TaskPatch(due_at=None))
    assert cleared.due_at is None
    with pytest.raises(ValidationError):
        apply_patch(base, TaskPatch(title="   "))
    moved_zone = apply_patch(base, TaskPatch(timezone="Asia/Tokyo"))
    assert moved_zone.due_at == base.due_at  # the same instant, shown in another zone
    assert TaskPatch().is_empty() and not TaskPatch(title="x").is_empty()


def test_query_parsing_and_bounds() -> None:
    q = build_query(q="  weekly   review ", priority="high,medium,high", tags=["#Work"], sort="-due", limit=200)
    assert q.q == "weekly review" and q.priorities == (Priority.HIGH, Priority.MEDIUM)
    assert q.tags == ("work",) and q.sort == Sort(SortKey.DUE, True)
    assert build_query(q="x").sort.key is SortKey.RELEVANCE
    for bad in (
        {"limit": 0},
        {"limit": 201},
        {"status": "closed"},
        {"sort": "random"},
        {"tag_mode": "some"},
        {"priority": "p1"},
        {"sort": "relevance"},
        {"cursor": "!!notacursor"},
        {"due_before": datetime(2026, 1, 1)},  # noqa: DTZ001 - naive on purpose
    ):
        with pytest.raises(ValidationError):
            build_query(**bad)  # type: ignore[arg-type]


def test_a_calendar_date_bound_is_midnight_in_the_users_zone() -> None:
    q = build_query(due_after=date(2031, 1, 2), due_before=date(2031, 1, 6), timezone="Europe/Berlin")
    assert q.due_after == datetime(2031, 1, 2, tzinfo=ZoneInfo("Europe/Berlin"))
    assert q.due_before == datetime(2031, 1, 6, tzinfo=ZoneInfo("Europe/Berlin"))
    with pytest.raises(ValidationError):
        build_query(due_before=date(2031, 1, 6))  # no zone to read the day in


def test_cursor_belongs_to_its_sort() -> None:
    token = encode_cursor(Sort(SortKey.DUE), ("2026-01-01 00:00:00+00", "abc"))
    assert decode_cursor(token, Sort(SortKey.DUE)) == (("2026-01-01 00:00:00+00", "abc"), False)
    assert decode_cursor(encode_cursor(Sort(SortKey.DUE), ("x",), fuzzy=True), Sort(SortKey.DUE))[1] is True
    with pytest.raises(ValidationError):
        decode_cursor(token, Sort(SortKey.TITLE))


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.one_of(st.text(max_size=30), st.integers(), st.none()), max_size=4))
def test_cursor_round_trips(values: list[object]) -> None:
    sort = Sort(SortKey.PRIORITY, descending=True)
    assert decode_cursor(encode_cursor(sort, tuple(values)), sort) == (tuple(values), False)


@settings(max_examples=examples(100), deadline=None)
@given(st.text(max_size=200))
def test_query_text_never_crashes_the_parser(text: str) -> None:
    try:
        q = build_query(q=text)
    except ValidationError:
        return
    assert q.q is None or len(q.q) <= 200


def test_ids_are_time_ordered_and_unique() -> None:
    ids = [new_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids, key=lambda u: u.bytes)
    assert all(u.version == 7 for u in ids[:10])


def test_next_due_preview_for_recurring_task() -> None:
    f = build_fields(
        title="x",
        due_at=datetime(2026, 1, 31, 9, tzinfo=BERLIN),
        timezone="Europe/Berlin",
        recurrence=("FREQ=MONTHLY;BYMONTHDAY=-1", "schedule"),
    )
    from todo_core.domain.recurrence import preview_next

    assert f.recurrence is not None and f.due_at is not None
    nxt = preview_next(f.recurrence, due_at=f.due_at, timezone=f.timezone, occurrence=1)
    assert nxt == datetime(2026, 2, 28, 9, tzinfo=BERLIN)
    assert nxt - f.due_at == timedelta(days=28)

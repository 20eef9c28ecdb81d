"""Reminder rules: parsing, fire times (also across DST), per-task limits, carry-over to the next occurrence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests._clock import examples
from todo_core.domain.errors import ValidationError
from todo_core.domain.reminders import (
    MAX_REMINDERS,
    ReminderSpec,
    carry_over,
    fire_time,
    parse_reminder,
    validate_reminders,
)

BERLIN = ZoneInfo("Europe/Berlin")
DUE = datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN)
AT = datetime(2026, 5, 3, 18, 0, tzinfo=UTC)
FAST = settings(max_examples=examples(200), deadline=None)


def field_of(err: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(err.value.details[0]["field"])


# --- parse_reminder -----------------------------------------------------------------------


def test_parse_offset_and_absolute() -> None:
    assert parse_reminder(30, None) == ReminderSpec(offset_minutes=30)
    assert parse_reminder(0, None) == ReminderSpec(offset_minutes=0)
    assert parse_reminder(525_600, None) == ReminderSpec(offset_minutes=525_600)
    assert parse_reminder(None, AT) == ReminderSpec(at=AT)


@pytest.mark.parametrize(
    ("offset", "at"),
    [
        (None, None),
        (30, AT),
        (-1, None),
        (525_601, None),
        (True, None),
        (1.5, None),
        (None, datetime(2026, 5, 3, 18, 0)),  # noqa: DTZ001 - naive on purpose
    ],
)
def test_parse_rejects(offset: object, at: datetime | None) -> None:
    with pytest.raises(ValidationError) as err:
        parse_reminder(offset, at)  # type: ignore[arg-type]
    assert field_of(err) == "reminders"
    assert err.value.details[0]["message"]


# --- fire_time ------------------------------------------------------------------------------


def test_fire_time_offset_and_absolute() -> None:
    assert fire_time(ReminderSpec(offset_minutes=30), DUE) == datetime(2026, 5, 4, 8, 30, tzinfo=BERLIN)
    assert fire_time(ReminderSpec(offset_minutes=0), DUE) == DUE
    assert fire_time(ReminderSpec(offset_minutes=1440), DUE) == datetime(2026, 5, 3, 9, 0, tzinfo=BERLIN)
    assert fire_time(ReminderSpec(offset_minutes=30), None) is None
    assert fire_time(ReminderSpec(at=AT), DUE) == AT
    assert fire_time(ReminderSpec(at=AT), None) == AT


def test_fire_time_is_in_the_due_zone() -> None:
    fired = fire_time(ReminderSpec(offset_minutes=15), DUE)
    assert fired is not None and fired.tzinfo == BERLIN and fired.isoformat() == "2026-05-04T08:45:00+02:00"


def test_offset_is_elapsed_time_across_spring_forward() -> None:
    due = datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN)  # +02:00, just after the gap
    fired = fire_time(ReminderSpec(offset_minutes=60), due)
    # one real hour earlier is 01:30 +01:00, not the non-existent 02:30
    assert fired is not None and fired.isoformat() == "2026-03-29T01:30:00+01:00"
    assert due.astimezone(UTC) - fired.astimezone(UTC) == timedelta(hours=1)


def test_offset_is_elapsed_time_across_fall_back() -> None:
    due = datetime(2026, 10, 25, 3, 30, tzinfo=BERLIN)  # +01:00, after the fold
    fired = fire_time(ReminderSpec(offset_minutes=60), due)
    assert fired is not None and fired.astimezone(UTC) == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert fired.fold == 1 and fired.isoformat() == "2026-10-25T02:30:00+01:00"


def test_fire_time_rejects_naive_due() -> None:
    with pytest.raises(ValidationError):
        fire_time(ReminderSpec(offset_minutes=5), datetime(2026, 5, 4, 9))  # noqa: DTZ001


# --- validate_reminders ---------------------------------------------------------------------


def test_validate_accepts_up_to_ten() -> None:
    specs = [ReminderSpec(offset_minutes=m) for m in range(MAX_REMINDERS)]
    validate_reminders(specs, DUE)
    validate_reminders([], None)
    validate_reminders([ReminderSpec(at=AT)], None)


def test_validate_rejects_eleven() -> None:
    specs = [ReminderSpec(offset_minutes=m) for m in range(MAX_REMINDERS + 1)]
    with pytest.raises(ValidationError, match="10") as err:
        validate_reminders(specs, DUE)
    assert field_of(err) == "reminders"


def test_offset_reminders_need_a_due_date() -> None:
    with pytest.raises(ValidationError) as err:
        validate_reminders([ReminderSpec(at=AT), ReminderSpec(offset_minutes=10)], None)
    assert field_of(err) == "reminders"


def test_exact_duplicates_are_rejected() -> None:
    with pytest.raises(ValidationError):
        validate_reminders([ReminderSpec(offset_minutes=10), ReminderSpec(offset_minutes=10)], DUE)
    # the same instant written in another zone is the same reminder
    with pytest.raises(ValidationError):
        validate_reminders([ReminderSpec(at=AT), ReminderSpec(at=AT.astimezone(BERLIN))], DUE)
    # an offset and an absolute time that fire together are different reminders
    validate_reminders([ReminderSpec(offset_minutes=0), ReminderSpec(at=DUE)], DUE)


@pytest.mark.parametrize(
    "spec",
    [
        ReminderSpec(),
        ReminderSpec(offset_minutes=5, at=AT),
        ReminderSpec(offset_minutes=-5),
        ReminderSpec(at=datetime(2026, 1, 1)),  # noqa: DTZ001
    ],
)
def test_validate_rechecks_each_spec(spec: ReminderSpec) -> None:
    with pytest.raises(ValidationError):
        validate_reminders([spec], DUE)


# --- carry_over -----------------------------------------------------------------------------


def test_carry_over_keeps_offsets_only() -> None:
    specs = [ReminderSpec(offset_minutes=10), ReminderSpec(at=AT), ReminderSpec(offset_minutes=0)]
    assert carry_over(specs) == [ReminderSpec(offset_minutes=10), ReminderSpec(offset_minutes=0)]
    assert carry_over([]) == []


# --- properties -----------------------------------------------------------------------------

aware_datetimes = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001 - bounds for hypothesis, zone added below
    max_value=datetime(2100, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from(
        [ZoneInfo(z) for z in ("Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata")]
        + [UTC, timezone(timedelta(hours=-3, minutes=-30))]
    ),
)
specs = st.one_of(
    st.integers(0, 525_600).map(lambda m: ReminderSpec(offset_minutes=m)),
    aware_datetimes.map(lambda at: ReminderSpec(at=at)),
)


@FAST
@given(offset=st.integers(0, 525_600), due=aware_datetimes)
def test_offset_fires_exactly_offset_minutes_before_due(offset: int, due: datetime) -> None:
    fired = fire_time(parse_reminder(offset, None), due)
    assert fired is not None and fired.utcoffset() is not None
    assert due.astimezone(UTC) - fired.astimezone(UTC) == timedelta(minutes=offset)
    assert fired.tzinfo is due.tzinfo


@FAST
@given(offset=st.integers(), at=st.none() | aware_datetimes)
def test_parse_either_valid_or_validation_error(offset: int, at: datetime | None) -> None:
    try:
        spec = parse_reminder(offset, at)
    except ValidationError as exc:
        assert exc.details[0]["field"] == "reminders"
        assert at is not None or not 0 <= offset <= 525_600
    else:
        assert at is None and 0 <= offset <= 525_600
        assert spec == ReminderSpec(offset_minutes=offset)


@FAST
@given(items=st.lists(specs, max_size=14), due=st.none() | aware_datetimes)
def test_validate_matches_the_rules(items: list[ReminderSpec], due: datetime | None) -> None:
    too_many = len(items) > MAX_REMINDERS
    needs_due = due is None and any(s.offset_minutes is not None for s in items)
    duplicated = len(set(items)) != len(items)
    if too_many or needs_due or duplicated:
        with pytest.raises(ValidationError):
            validate_reminders(items, due)
    else:
        validate_reminders(items, due)
        assert all(s.offset_minutes is not None or fire_time(s, due) == s.at for s in items)


@FAST
@given(items=st.lists(specs, max_size=10))
def test_carry_over_is_the_offset_subsequence(items: list[ReminderSpec]) -> None:
    kept = carry_over(items)
    assert kept == [s for s in items if s.at is None]
    assert carry_over(kept) == kept

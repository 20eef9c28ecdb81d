"""Recurrence rules: parsing, next due across DST, month ends, COUNT/UNTIL, anchors, describe."""

from __future__ import annotations

import calendar
import itertools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests._clock import examples
from todo_core.domain.errors import ValidationError
from todo_core.domain.recurrence import (
    Recurrence,
    describe,
    next_occurrence,
    parse_recurrence,
    preview_next,
    upcoming,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
FAST = settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def at(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=zone)


def series(rule: str, due: datetime, n: int, tz: str = "Europe/Berlin", **kw: bool) -> list[datetime]:
    return upcoming(parse_recurrence(rule), due_at=due, timezone=tz, occurrence=1, count=n, **kw)


def local_iso(values: list[datetime]) -> list[str]:
    return [v.isoformat() for v in values]


# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("FREQ=DAILY", "FREQ=DAILY"),
        ("  rrule:freq=weekly;byday=we,mo  ", "FREQ=WEEKLY;BYDAY=MO,WE"),
        ("BYDAY=MO;INTERVAL=2;FREQ=WEEKLY", "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO"),
        ("FREQ=DAILY;INTERVAL=1", "FREQ=DAILY"),
        ("FREQ=MONTHLY;BYSETPOS=-1;BYDAY=FR,TH,WE,TU,MO", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"),
        ("FREQ=MONTHLY;BYDAY=+3FR", "FREQ=MONTHLY;BYDAY=3FR"),
        ("FREQ=YEARLY;UNTIL=20301231T235959Z;BYMONTH=3", "FREQ=YEARLY;UNTIL=20301231T235959Z;BYMONTH=3"),
        ("FREQ=DAILY;COUNT=5", "FREQ=DAILY;COUNT=5"),
        ("FREQ=HOURLY;INTERVAL=4", "FREQ=HOURLY;INTERVAL=4"),
        ("FREQ=WEEKLY;WKST=SU;BYDAY=SU,SA;INTERVAL=2", "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA,SU;WKST=SU"),
    ],
)
def test_parse_normalizes(raw: str, normalized: str) -> None:
    rec = parse_recurrence(raw)
    assert rec == Recurrence(normalized, "schedule")
    assert parse_recurrence(rec.rrule) == rec


def test_parse_anchor() -> None:
    assert parse_recurrence("FREQ=DAILY", "completion").anchor == "completion"
    assert parse_recurrence("FREQ=DAILY", " Schedule ").anchor == "schedule"
    with pytest.raises(ValidationError) as err:
        parse_recurrence("FREQ=DAILY", "whenever")
    assert err.value.details[0]["field"] == "recurrence.anchor"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "X" * 501,
        "FREQ=DAILY;" + "BYHOUR=1;" * 60,
        "garbage",
        "FREQ=DAILY;INTERVAL",
        "FREQ=FORTNIGHTLY",
        "FREQ=SECONDLY",
        "FREQ=MINUTELY;INTERVAL=30",
        "INTERVAL=2",
        "FREQ=DAILY;COUNT=3;UNTIL=20300101",
        "FREQ=DAILY;COUNT=0",
        "FREQ=DAILY;COUNT=-1",
        "FREQ=DAILY;INTERVAL=0",
        "FREQ=DAILY;INTERVAL=1001",
        "FREQ=DAILY;INTERVAL=two",
        "FREQ=DAILY;FREQ=WEEKLY",
        "FREQ=DAILY;UNTIL=20301301",
        "FREQ=DAILY;UNTIL=2030-01-01",
        "FREQ=DAILY;UNTIL=20300101T250000Z",
        "DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY",
        "DTSTART;TZID=Europe/Berlin:20260101T090000",
        "RRULE:FREQ=DAILY\nEXDATE:20260102T090000Z",
        "RDATE:20260102T090000Z",
        "FREQ=DAILY\nFREQ=WEEKLY",
        "EXRULE:FREQ=DAILY",
        "FREQ=WEEKLY;BYDAY=XX",
        "FREQ=WEEKLY;BYDAY=",
        "FREQ=WEEKLY;BYDAY=2MO",
        "FREQ=MONTHLY;BYMONTHDAY=32",
        "FREQ=MONTHLY;BYMONTHDAY=0",
        "FREQ=YEARLY;BYMONTH=13",
        "FREQ=DAILY;BYHOUR=24",
        "FREQ=DAILY;BYSECOND=0",
        "FREQ=WEEKLY;BYMONTHDAY=1",
        "FREQ=MONTHLY;BYWEEKNO=3",
        "FREQ=DAILY;BYSETPOS=1",
        "FREQ=DAILY;X-NAME=1",
        "FREQ=DAILY;BYEASTER=0",
        "FREQ=DAILY;WKST=XX",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",  # never happens
        "FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4,6,9,11",  # never happens
        "FREQ=DAILY;BYHOUR=9;BYSETPOS=2",  # one occurrence per day, never a 2nd
    ],
)
def test_parse_rejects(raw: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_recurrence(raw)
    assert err.value.details[0]["field"] == "recurrence.rrule"
    assert err.value.details[0]["message"]


def test_parse_rejects_non_string_anchor_and_rule() -> None:
    with pytest.raises(ValidationError):
        parse_recurrence(None)  # type: ignore[arg-type]


def test_length_limit_is_500_characters() -> None:
    rule = "FREQ=YEARLY;COUNT=99;BYMONTHDAY=10," + ",".join(["1"] * 233)
    assert len(rule) == 500
    assert parse_recurrence(f"  {rule}  ").rrule == "FREQ=YEARLY;COUNT=99;BYMONTHDAY=1,10"
    with pytest.raises(ValidationError, match="500"):
        parse_recurrence(rule + ",1")


# --- DST: wall-clock time is kept -------------------------------------------------------------


def test_daily_keeps_nine_oclock_across_spring_forward() -> None:
    got = series("FREQ=DAILY", at(BERLIN, 2026, 3, 27, 9), 4)
    assert local_iso(got) == [
        "2026-03-28T09:00:00+01:00",
        "2026-03-29T09:00:00+02:00",
        "2026-03-30T09:00:00+02:00",
        "2026-03-31T09:00:00+02:00",
    ]


def test_daily_keeps_nine_oclock_across_fall_back() -> None:
    due = at(BERLIN, 2026, 10, 24, 9)
    got = series("FREQ=DAILY", due, 2)
    assert local_iso(got) == ["2026-10-25T09:00:00+01:00", "2026-10-26T09:00:00+01:00"]
    # 25 h of real time between the first two, but the same wall time
    assert got[0].astimezone(UTC) - due.astimezone(UTC) == timedelta(hours=25)


def test_due_given_in_utc_is_evaluated_in_the_task_zone() -> None:
    due = datetime(2026, 3, 28, 8, 0, tzinfo=UTC)  # 09:00 in Berlin (CET)
    nxt = preview_next(parse_recurrence("FREQ=DAILY"), due_at=due, timezone="Europe/Berlin", occurrence=1)
    assert nxt == at(BERLIN, 2026, 3, 29, 9)
    assert nxt is not None and nxt.astimezone(UTC).hour == 7


def test_nonexistent_wall_time_moves_forward_by_the_gap() -> None:
    got = series("FREQ=DAILY", at(BERLIN, 2026, 3, 28, 2, 30), 1)
    assert local_iso(got) == ["2026-03-29T03:30:00+02:00"]


def test_ambiguous_wall_time_takes_the_first() -> None:
    got = series("FREQ=DAILY", at(BERLIN, 2026, 10, 24, 2, 30), 1)
    assert local_iso(got) == ["2026-10-25T02:30:00+02:00"]


def test_hourly_through_fall_back_is_strictly_increasing() -> None:
    got = series("FREQ=DAILY;BYHOUR=2,3;BYMINUTE=30", at(BERLIN, 2026, 10, 24, 3, 30), 3)
    assert local_iso(got) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T03:30:00+01:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_second_of_two_ambiguous_times_never_goes_back() -> None:
    # 02:30 +01:00 is the second 02:30; the next HOURLY :45 must not be the first 02:45 (+02:00)
    due = datetime(2026, 10, 25, 2, 30, tzinfo=BERLIN, fold=1)
    assert due.utcoffset() == timedelta(hours=1)
    rec = parse_recurrence("FREQ=HOURLY;BYMINUTE=0,45")
    nxt = preview_next(rec, due_at=due, timezone="Europe/Berlin", occurrence=1)
    assert nxt is not None and nxt > due
    assert nxt.isoformat() == "2026-10-25T03:00:00+01:00"


def test_hourly_is_wall_clock_hours_across_the_gap() -> None:
    got = series("FREQ=HOURLY", at(BERLIN, 2026, 3, 29, 0, 30), 3)
    assert local_iso(got) == [
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:30:00+02:00",  # 02:30 does not exist
        "2026-03-29T04:30:00+02:00",
    ]


def test_weekly_in_new_york_across_its_dst_change() -> None:
    got = series("FREQ=WEEKLY", at(NEW_YORK, 2026, 3, 2, 18), 2, tz="America/New_York")
    assert local_iso(got) == ["2026-03-09T18:00:00-04:00", "2026-03-16T18:00:00-04:00"]


def test_unknown_time_zone() -> None:
    with pytest.raises(ValidationError) as err:
        preview_next(parse_recurrence("FREQ=DAILY"), due_at=at(BERLIN, 2026, 1, 1), timezone="Mars/Base", occurrence=1)
    assert err.value.details[0]["field"] == "timezone"


@pytest.mark.parametrize("field", ["due_at", "completed_at"])
def test_naive_datetimes_are_rejected(field: str) -> None:
    kwargs = {"due_at": at(BERLIN, 2026, 1, 1), "completed_at": at(BERLIN, 2026, 1, 1)}
    kwargs[field] = kwargs[field].replace(tzinfo=None)
    with pytest.raises(ValidationError) as err:
        next_occurrence(
            parse_recurrence("FREQ=DAILY"),
            due_at=kwargs["due_at"],
            completed_at=kwargs["completed_at"],
            timezone="Europe/Berlin",
            occurrence=1,
        )
    assert err.value.details[0]["field"] == field


def test_occurrence_must_be_positive() -> None:
    with pytest.raises(ValidationError):
        preview_next(parse_recurrence("FREQ=DAILY"), due_at=at(BERLIN, 2026, 1, 1), timezone="UTC", occurrence=0)


# --- the common rules -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "due", "expected"),
    [
        ("FREQ=DAILY;INTERVAL=3", (2026, 1, 30), ["2026-02-02", "2026-02-05", "2026-02-08"]),
        ("FREQ=WEEKLY;INTERVAL=2", (2026, 1, 5), ["2026-01-19", "2026-02-02", "2026-02-16"]),
        ("FREQ=MONTHLY;INTERVAL=2", (2026, 1, 15), ["2026-03-15", "2026-05-15", "2026-07-15"]),
        ("FREQ=YEARLY;INTERVAL=2", (2026, 6, 1), ["2028-06-01", "2030-06-01", "2032-06-01"]),
        # Mon/Wed/Fri, starting on a Friday
        ("FREQ=WEEKLY;BYDAY=MO,WE,FR", (2026, 1, 2), ["2026-01-05", "2026-01-07", "2026-01-09"]),
        # every weekday, both spellings, starting on a Friday
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", (2026, 1, 9), ["2026-01-12", "2026-01-13", "2026-01-14"]),
        ("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", (2026, 1, 9), ["2026-01-12", "2026-01-13", "2026-01-14"]),
        # third Friday, both spellings
        ("FREQ=MONTHLY;BYDAY=3FR", (2026, 1, 16), ["2026-02-20", "2026-03-20", "2026-04-17"]),
        ("FREQ=MONTHLY;BYDAY=FR;BYSETPOS=3", (2026, 1, 16), ["2026-02-20", "2026-03-20", "2026-04-17"]),
        ("FREQ=MONTHLY;BYDAY=-1FR", (2026, 1, 30), ["2026-02-27", "2026-03-27", "2026-04-24"]),
        # last day of the month never drifts: Jan 31 -> Feb 29 (leap 2028) -> Mar 31 -> Apr 30
        ("FREQ=MONTHLY;BYMONTHDAY=-1", (2028, 1, 31), ["2028-02-29", "2028-03-31", "2028-04-30"]),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", (2026, 1, 31), ["2026-02-28", "2026-03-31", "2026-04-30"]),
        # last workday of the month (Jan 2026 ends on a Saturday, May 2026 on a Sunday)
        (
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            (2025, 12, 31),
            ["2026-01-30", "2026-02-27", "2026-03-31"],
        ),
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", (2026, 4, 30), ["2026-05-29", "2026-06-30"]),
        # every month on the 15th, from a due before the 15th
        ("FREQ=MONTHLY;BYMONTHDAY=15", (2026, 1, 10), ["2026-01-15", "2026-02-15", "2026-03-15"]),
        # every other Monday
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", (2026, 1, 5), ["2026-01-19", "2026-02-02", "2026-02-16"]),
        # plain MONTHLY on the 31st follows RFC 5545: months without a 31st are skipped
        ("FREQ=MONTHLY", (2026, 1, 31), ["2026-03-31", "2026-05-31", "2026-07-31"]),
        # YEARLY from Feb 29 only hits leap years (RFC 5545)
        ("FREQ=YEARLY", (2028, 2, 29), ["2032-02-29", "2036-02-29"]),
        ("FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=-1", (2027, 2, 28), ["2028-02-29", "2029-02-28"]),
    ],
)
def test_common_rules(rule: str, due: tuple[int, int, int], expected: list[str]) -> None:
    got = series(rule, at(BERLIN, *due, 9), len(expected))
    assert [d.date().isoformat() for d in got] == expected
    assert all(d.time() == time(9) and d.tzinfo == BERLIN for d in got)


def test_every_weekday_chain_never_hits_a_weekend() -> None:
    got = series("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", at(BERLIN, 2026, 1, 1, 9), 60)
    assert len(got) == 60
    assert all(d.weekday() < 5 for d in got)
    gaps = {(a.weekday(), (b.date() - a.date()).days) for a, b in itertools.pairwise(got)}
    assert gaps == {(0, 1), (1, 1), (2, 1), (3, 1), (4, 3)}  # Fri -> Mon skips the weekend


# --- COUNT and UNTIL --------------------------------------------------------------------------


def test_count_through_occurrence() -> None:
    rec = parse_recurrence("FREQ=DAILY;COUNT=3")
    due = at(BERLIN, 2026, 1, 1, 9)
    assert preview_next(rec, due_at=due, timezone="Europe/Berlin", occurrence=1) == at(BERLIN, 2026, 1, 2, 9)
    assert preview_next(rec, due_at=due, timezone="Europe/Berlin", occurrence=2) == at(BERLIN, 2026, 1, 2, 9)
    assert preview_next(rec, due_at=due, timezone="Europe/Berlin", occurrence=3) is None
    assert preview_next(rec, due_at=due, timezone="Europe/Berlin", occurrence=7) is None
    assert len(upcoming(rec, due_at=due, timezone="Europe/Berlin", occurrence=1, count=10)) == 2


def test_count_one_has_no_next() -> None:
    rec = parse_recurrence("FREQ=WEEKLY;COUNT=1")
    assert preview_next(rec, due_at=at(BERLIN, 2026, 1, 1, 9), timezone="Europe/Berlin", occurrence=1) is None


def test_until_date_includes_the_whole_local_day() -> None:
    got = series("FREQ=DAILY;UNTIL=20260105", at(BERLIN, 2026, 1, 1, 23, 30), 10)
    assert [d.day for d in got] == [2, 3, 4, 5]


def test_until_utc_is_an_instant() -> None:
    # 2026-01-05 22:30 UTC is 23:30 in Berlin: the 23:30 Berlin occurrence on the 5th is allowed,
    # while at 22:29:59 UTC it is not.
    assert [d.day for d in series("FREQ=DAILY;UNTIL=20260105T223000Z", at(BERLIN, 2026, 1, 1, 23, 30), 9)] == [
        2,
        3,
        4,
        5,
    ]
    assert [d.day for d in series("FREQ=DAILY;UNTIL=20260105T222959Z", at(BERLIN, 2026, 1, 1, 23, 30), 9)] == [
        2,
        3,
        4,
    ]


def test_until_local_is_wall_clock() -> None:
    got = series("FREQ=DAILY;UNTIL=20260105T090000", at(BERLIN, 2026, 1, 1, 9), 9)
    assert [d.day for d in got] == [2, 3, 4, 5]
    got = series("FREQ=DAILY;UNTIL=20260105T085959", at(BERLIN, 2026, 1, 1, 9), 9)
    assert [d.day for d in got] == [2, 3, 4]


def test_until_in_the_past_ends_the_series() -> None:
    rec = parse_recurrence("FREQ=WEEKLY;UNTIL=20200101")
    assert preview_next(rec, due_at=at(BERLIN, 2026, 1, 1, 9), timezone="Europe/Berlin", occurrence=1) is None


# --- anchors and late completion ------------------------------------------------------------


def nxt(rule: str, due: datetime, done: datetime, anchor: str = "schedule", **kw: bool) -> datetime | None:
    return next_occurrence(
        parse_recurrence(rule, anchor),
        due_at=due,
        timezone="Europe/Berlin",
        occurrence=1,
        completed_at=done,
        **kw,
    )


def test_daily_completed_late_skips_missed_occurrences() -> None:
    due = at(BERLIN, 2026, 1, 10, 9)
    assert nxt("FREQ=DAILY", due, at(BERLIN, 2026, 1, 10, 15)) == at(BERLIN, 2026, 1, 11, 9)
    assert nxt("FREQ=DAILY", due, at(BERLIN, 2026, 1, 12, 8)) == at(BERLIN, 2026, 1, 12, 9)
    assert nxt("FREQ=DAILY", due, at(BERLIN, 2026, 1, 12, 10)) == at(BERLIN, 2026, 1, 13, 9)
    # the series keeps its rhythm: every 3 days from the 10th is 13, 16, 19, ...
    assert nxt("FREQ=DAILY;INTERVAL=3", due, at(BERLIN, 2026, 1, 15, 10)) == at(BERLIN, 2026, 1, 16, 9)


def test_hourly_completed_late_skips_missed_hours() -> None:
    due = at(BERLIN, 2026, 1, 10, 9)
    assert nxt("FREQ=HOURLY;INTERVAL=2", due, at(BERLIN, 2026, 1, 10, 14, 5)) == at(BERLIN, 2026, 1, 10, 15)


def test_completed_early_still_moves_past_the_due() -> None:
    due = at(BERLIN, 2026, 1, 10, 9)
    assert nxt("FREQ=DAILY", due, at(BERLIN, 2026, 1, 8, 9)) == at(BERLIN, 2026, 1, 11, 9)
    assert nxt("FREQ=MONTHLY", due, at(BERLIN, 2026, 1, 1, 9)) == at(BERLIN, 2026, 2, 10, 9)


def test_monthly_completed_late_advances_one_step_even_into_the_past() -> None:
    due = at(BERLIN, 2026, 1, 15, 9)
    done = at(BERLIN, 2026, 4, 2, 9)
    assert nxt("FREQ=MONTHLY;BYMONTHDAY=15", due, done) == at(BERLIN, 2026, 2, 15, 9)
    assert nxt("FREQ=WEEKLY", due, done) == at(BERLIN, 2026, 1, 22, 9)
    assert nxt("FREQ=YEARLY", due, at(BERLIN, 2029, 1, 1)) == at(BERLIN, 2027, 1, 15, 9)


def test_completion_anchor_counts_from_completion() -> None:
    due = at(BERLIN, 2026, 1, 5, 9)
    done = at(BERLIN, 2026, 1, 10, 18)
    assert nxt("FREQ=DAILY;INTERVAL=3", due, done, "completion") == at(BERLIN, 2026, 1, 13, 9)
    assert nxt("FREQ=WEEKLY", due, done, "completion") == at(BERLIN, 2026, 1, 17, 9)
    assert nxt("FREQ=MONTHLY", due, done, "completion") == at(BERLIN, 2026, 2, 10, 9)
    # completed early: still counted from the completion
    assert nxt("FREQ=DAILY;INTERVAL=3", due, at(BERLIN, 2026, 1, 3, 8), "completion") == at(BERLIN, 2026, 1, 6, 9)


def test_completion_anchor_next_is_after_the_completion() -> None:
    due = at(BERLIN, 2026, 1, 5, 9)
    got = nxt("FREQ=DAILY;BYHOUR=9,18", due, at(BERLIN, 2026, 1, 10, 20), "completion")
    assert got == at(BERLIN, 2026, 1, 11, 9)
    # "every! 2 hours" counts from the moment it was done
    got = nxt("FREQ=HOURLY;INTERVAL=2", due, at(BERLIN, 2026, 1, 10, 15, 20), "completion")
    assert got == at(BERLIN, 2026, 1, 10, 17, 20)


def test_completion_anchor_keeps_time_of_day_across_dst() -> None:
    got = nxt("FREQ=DAILY;INTERVAL=2", at(BERLIN, 2026, 3, 20, 9), at(BERLIN, 2026, 3, 28, 8), "completion")
    assert got is not None and got.isoformat() == "2026-03-30T09:00:00+02:00"


def test_preview_equals_on_time_completion() -> None:
    rec = parse_recurrence("FREQ=DAILY", "completion")
    due = at(BERLIN, 2026, 1, 5, 9)
    assert preview_next(rec, due_at=due, timezone="Europe/Berlin", occurrence=1) == at(BERLIN, 2026, 1, 6, 9)


# --- all-day tasks --------------------------------------------------------------------------


def test_all_day_results_are_local_midnight() -> None:
    got = series("FREQ=DAILY", at(BERLIN, 2026, 3, 28), 3, all_day=True)
    assert local_iso(got) == [
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
        "2026-03-31T00:00:00+02:00",
    ]
    got = series("FREQ=MONTHLY;BYMONTHDAY=-1", at(BERLIN, 2028, 1, 31), 2, all_day=True)
    assert local_iso(got) == ["2028-02-29T00:00:00+01:00", "2028-03-31T00:00:00+02:00"]


def test_all_day_completion_and_lateness() -> None:
    due = at(BERLIN, 2026, 1, 10)
    assert nxt("FREQ=DAILY;INTERVAL=3", due, at(BERLIN, 2026, 1, 10, 15), "completion", all_day=True) == at(
        BERLIN, 2026, 1, 13
    )
    assert nxt("FREQ=DAILY", due, at(BERLIN, 2026, 1, 12, 8), all_day=True) == at(BERLIN, 2026, 1, 13)


def test_all_day_midnight_gap_does_not_drift() -> None:
    # Chile's DST starts at local midnight: 2026-09-06 00:00 does not exist in America/Santiago.
    zone = ZoneInfo("America/Santiago")
    got = series("FREQ=DAILY", at(zone, 2026, 9, 5), 2, tz="America/Santiago", all_day=True)
    assert [(d.day, d.hour) for d in got] == [(6, 1), (7, 0)]


def test_all_day_hourly_is_rejected() -> None:
    with pytest.raises(ValidationError):
        series("FREQ=HOURLY", at(BERLIN, 2026, 1, 1), 1, all_day=True)


def test_due_and_rule_that_cannot_meet() -> None:
    rec = parse_recurrence("FREQ=HOURLY;INTERVAL=2;BYHOUR=9,11")
    assert preview_next(rec, due_at=at(BERLIN, 2026, 1, 1, 9), timezone="Europe/Berlin", occurrence=1) == at(
        BERLIN, 2026, 1, 1, 11
    )
    with pytest.raises(ValidationError):
        preview_next(rec, due_at=at(BERLIN, 2026, 1, 1, 10), timezone="Europe/Berlin", occurrence=1)
    # monthly on the due's day, only in February, from a due on the 30th: nothing ever comes
    rec = parse_recurrence("FREQ=MONTHLY;BYMONTH=2")
    assert preview_next(rec, due_at=at(BERLIN, 2026, 1, 30, 9), timezone="Europe/Berlin", occurrence=1) is None


def test_upcoming_bounds() -> None:
    rec = parse_recurrence("FREQ=DAILY")
    assert upcoming(rec, due_at=at(BERLIN, 2026, 1, 1), timezone="UTC", occurrence=1, count=0) == []
    with pytest.raises(ValidationError):
        upcoming(rec, due_at=at(BERLIN, 2026, 1, 1), timezone="UTC", occurrence=1, count=1001)
    # completion-anchored rules preview on schedule
    rec = parse_recurrence("FREQ=DAILY", "completion")
    got = upcoming(rec, due_at=at(BERLIN, 2026, 1, 1, 9), timezone="Europe/Berlin", occurrence=1, count=2)
    assert got == [at(BERLIN, 2026, 1, 2, 9), at(BERLIN, 2026, 1, 3, 9)]


# --- describe -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "anchor", "text"),
    [
        ("FREQ=DAILY", "schedule", "every day"),
        ("FREQ=DAILY;INTERVAL=3", "completion", "every 3 days after completion"),
        ("FREQ=HOURLY;INTERVAL=4", "schedule", "every 4 hours"),
        ("FREQ=WEEKLY", "schedule", "every week"),
        ("FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "schedule", "every 2 weeks on Mon"),
        ("FREQ=WEEKLY;BYDAY=MO,WE,FR", "schedule", "every week on Mon, Wed, Fri"),
        ("FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", "schedule", "every weekday"),
        ("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR", "schedule", "every weekday"),
        ("FREQ=MONTHLY", "schedule", "every month"),
        ("FREQ=MONTHLY;BYMONTHDAY=15", "schedule", "every month on the 15th"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,11,21,22,23", "schedule", "every month on the 1st, 11th, 21st, 22nd and 23rd"),
        ("FREQ=MONTHLY;BYMONTHDAY=-1", "schedule", "every month on the last day"),
        ("FREQ=MONTHLY;BYMONTHDAY=-2", "schedule", "every month on the 2nd-to-last day"),
        ("FREQ=MONTHLY;BYDAY=3FR", "schedule", "every month on the 3rd Fri"),
        ("FREQ=MONTHLY;BYDAY=FR;BYSETPOS=3", "schedule", "every month on the 3rd Fri"),
        ("FREQ=MONTHLY;BYDAY=-1FR", "schedule", "every month on the last Fri"),
        ("FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1", "schedule", "every month on the last weekday"),
        ("FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1", "schedule", "every 3 months on the 1st"),
        ("FREQ=YEARLY", "schedule", "every year"),
        ("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=15", "schedule", "every year on Mar 15"),
        ("FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", "schedule", "every year on the 4th Thu of Nov"),
        ("FREQ=DAILY;COUNT=5", "schedule", "every day, 5 times"),
        ("FREQ=WEEKLY;UNTIL=20261231", "schedule", "every week, until 2026-12-31"),
        ("FREQ=YEARLY;BYWEEKNO=20", "schedule", "FREQ=YEARLY;BYWEEKNO=20"),
        ("FREQ=DAILY;BYHOUR=9,18", "schedule", "FREQ=DAILY;BYHOUR=9,18"),
    ],
)
def test_describe(rule: str, anchor: str, text: str) -> None:
    assert describe(parse_recurrence(rule, anchor)) == text


def test_describe_falls_back_on_unparseable_rule() -> None:
    assert describe(Recurrence("NOT A RULE")) == "NOT A RULE"


# --- properties -----------------------------------------------------------------------------

RULES = [
    "FREQ=HOURLY;INTERVAL=5",
    "FREQ=DAILY",
    "FREQ=DAILY;INTERVAL=3",
    "FREQ=DAILY;BYHOUR=1,2,3;BYMINUTE=0,30",
    "FREQ=WEEKLY",
    "FREQ=WEEKLY;BYDAY=MO,WE,FR",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO",
    "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
    "FREQ=MONTHLY",
    "FREQ=MONTHLY;BYMONTHDAY=-1",
    "FREQ=MONTHLY;BYDAY=3FR",
    "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
    "FREQ=YEARLY",
    "FREQ=YEARLY;BYMONTH=3,10;BYDAY=-1SU",
]
# rules whose occurrences all fall on the due's time of day
TIME_KEEPING_RULES = [r for r in RULES if "HOURLY" not in r and "BYHOUR" not in r]


@st.composite
def local_dues(draw: st.DrawFn, zones: list[str] = ZONES) -> tuple[str, datetime]:
    tz = draw(st.sampled_from(zones))
    day = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)))
    wall = draw(st.times()).replace(microsecond=0)
    # localize like the module: a gap moves forward, a fold takes the first
    due = datetime.combine(day, wall, tzinfo=ZoneInfo(tz)).astimezone(UTC).astimezone(ZoneInfo(tz))
    return tz, due


def exists(wall: datetime, zone: ZoneInfo) -> bool:
    aware = wall.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


@FAST
@given(rule=st.sampled_from(RULES), tz_due=local_dues(), late=st.integers(0, 24 * 90))
def test_occurrences_strictly_increase(rule: str, tz_due: tuple[str, datetime], late: int) -> None:
    tz, due = tz_due
    rec = parse_recurrence(rule)
    got = upcoming(rec, due_at=due, timezone=tz, occurrence=1, count=12)
    assert len(got) == 12
    instants = [d.astimezone(UTC) for d in [due, *got]]
    assert all(a < b for a, b in itertools.pairwise(instants))
    # completing late never yields a due before the scheduled one, and daily rules skip to the future
    done = due + timedelta(hours=late)
    after = next_occurrence(rec, due_at=due, timezone=tz, occurrence=1, completed_at=done)
    assert after is not None and after.astimezone(UTC) > due.astimezone(UTC)
    if rule.startswith(("FREQ=DAILY", "FREQ=HOURLY")):
        assert after.astimezone(UTC) > done.astimezone(UTC)


@FAST
@given(rule=st.sampled_from(TIME_KEEPING_RULES), tz_due=local_dues(), completion=st.booleans())
def test_wall_clock_time_of_day_is_kept(rule: str, tz_due: tuple[str, datetime], completion: bool) -> None:
    tz, due = tz_due
    zone = ZoneInfo(tz)
    rec = parse_recurrence(rule, "completion" if completion else "schedule")
    current = due
    for n in range(1, 8):
        following = preview_next(rec, due_at=current, timezone=tz, occurrence=n)
        assert following is not None and following.tzinfo == zone
        wall = datetime.combine(following.date(), due.time())
        if exists(wall, zone):
            assert following.time() == due.time(), (current, following)
        else:  # moved forward by the gap, never more than 2 hours
            assert timedelta(0) < following.replace(tzinfo=None) - wall <= timedelta(hours=2)
            break  # the series continues from the shifted time (documented limitation)
        current = following


@FAST
@given(
    tz=st.sampled_from(ZONES),
    year=st.integers(1990, 2100),
    month=st.integers(1, 12),
    hour=st.integers(0, 23),
    all_day=st.booleans(),
)
def test_last_day_of_month_always(tz: str, year: int, month: int, hour: int, all_day: bool) -> None:
    last = calendar.monthrange(year, month)[1]
    due = datetime(year, month, last, 0 if all_day else hour, tzinfo=ZoneInfo(tz))
    got = upcoming(
        parse_recurrence("FREQ=MONTHLY;BYMONTHDAY=-1"), due_at=due, timezone=tz, occurrence=1, count=25, all_day=all_day
    )
    assert len(got) == 25
    for d in got:
        assert d.day == calendar.monthrange(d.year, d.month)[1]
    assert (got[-1].year * 12 + got[-1].month) - (year * 12 + month) == 25


@FAST
@given(rule=st.sampled_from(RULES), tz_due=local_dues(), n=st.integers(1, 30))
def test_count_gives_exactly_n_occurrences(rule: str, tz_due: tuple[str, datetime], n: int) -> None:
    tz, due = tz_due
    rec = parse_recurrence(f"{rule};COUNT={n}")
    got = upcoming(rec, due_at=due, timezone=tz, occurrence=1, count=40)
    assert len([due, *got]) == n
    last = got[-1] if got else due
    assert preview_next(rec, due_at=last, timezone=tz, occurrence=n) is None


@FAST
@given(
    rule=st.sampled_from(RULES),
    tz_due=local_dues(),
    days=st.integers(0, 800),
    form=st.sampled_from(["date", "local", "utc"]),
)
def test_nothing_after_until(rule: str, tz_due: tuple[str, datetime], days: int, form: str) -> None:
    tz, due = tz_due
    zone = ZoneInfo(tz)
    if "HOURLY" in rule or "BYHOUR" in rule:
        days %= 30  # keep the series under 1000 occurrences
    limit = due + timedelta(days=days, minutes=37)
    if form == "date":
        until = limit.strftime("%Y%m%d")
    elif form == "local":
        until = limit.strftime("%Y%m%dT%H%M%S")
    else:
        until = limit.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    rec = parse_recurrence(f"{rule};UNTIL={until}")
    got = upcoming(rec, due_at=due, timezone=tz, occurrence=1, count=1000)
    assert len(got) < 1000
    for d in got:
        if form == "date":
            assert d.date() <= limit.date()
        elif form == "local":
            assert d.astimezone(zone).replace(tzinfo=None) <= limit.replace(tzinfo=None)
        else:
            assert d.astimezone(UTC) <= limit.astimezone(UTC)
    # and the series does reach UNTIL: the next occurrence without UNTIL is beyond it
    plain = parse_recurrence(rule)
    beyond = preview_next(plain, due_at=got[-1] if got else due, timezone=tz, occurrence=1)
    assert beyond is not None
    if form == "date":
        assert beyond.date() > limit.date()
    elif form == "local":
        assert beyond.replace(tzinfo=None) > limit.replace(tzinfo=None)
    else:
        assert beyond.astimezone(UTC) > limit.astimezone(UTC)


PART_VALUES = {
    "INTERVAL": st.integers(1, 1000).map(str),
    "COUNT": st.integers(1, 10_000).map(str),
    "BYDAY": st.lists(st.sampled_from(["MO", "TU", "WE", "TH", "FR", "SA", "SU"]), min_size=1, max_size=7).map(
        ",".join
    ),
    "BYMONTH": st.lists(st.integers(1, 12), min_size=1, max_size=4).map(lambda xs: ",".join(map(str, xs))),
    "BYHOUR": st.lists(st.integers(0, 23), min_size=1, max_size=4).map(lambda xs: ",".join(map(str, xs))),
    "WKST": st.sampled_from(["MO", "SU"]),
}


@st.composite
def rule_texts(draw: st.DrawFn) -> str:
    freq = draw(st.sampled_from(["DAILY", "WEEKLY", "MONTHLY", "YEARLY", "HOURLY"]))
    names = draw(st.lists(st.sampled_from(sorted(PART_VALUES)), unique=True, max_size=4))
    parts = [f"FREQ={freq}", *(f"{name}={draw(PART_VALUES[name])}" for name in names)]
    parts = draw(st.permutations(parts))
    text = ";".join(parts)
    text = "".join(c.lower() if draw(st.booleans()) else c for c in text) if draw(st.booleans()) else text
    prefix = draw(st.sampled_from(["", "RRULE:", "rrule:"]))
    return f"  {prefix}{text}\t"


@FAST
@given(text=rule_texts())
def test_parse_is_idempotent(text: str) -> None:
    try:
        rec = parse_recurrence(text)
    except ValidationError:
        return  # e.g. HOURLY with BYHOUR and an INTERVAL that cannot reach it
    again = parse_recurrence(rec.rrule)
    assert again == rec
    assert rec.rrule.startswith("FREQ=")
    assert rec.rrule == rec.rrule.upper() == rec.rrule.strip()
    # part order does not matter
    shuffled = ";".join(reversed(rec.rrule.split(";")))
    assert parse_recurrence(shuffled) == rec


@FAST
@given(text=st.text(max_size=80) | st.from_regex(r"FREQ=[A-Z]{0,8}(;[A-Z]{1,9}=[-+0-9A-Z,]{0,6}){0,4}", fullmatch=True))
def test_anything_is_either_a_rule_or_a_validation_error(text: str) -> None:
    try:
        rec = parse_recurrence(text)
    except ValidationError as exc:
        assert exc.details and exc.details[0]["field"] == "recurrence.rrule"
    else:
        assert parse_recurrence(rec.rrule) == rec


@FAST
@given(
    base=st.sampled_from(["FREQ=DAILY", "FREQ=WEEKLY;BYDAY=MO", "FREQ=MONTHLY;BYMONTHDAY=-1"]),
    bad=st.sampled_from(
        [
            "FREQ=SECONDLY",
            "FREQ=MINUTELY",
            "COUNT=0",
            "COUNT=-3",
            "INTERVAL=0",
            "INTERVAL=1001",
            "COUNT=2;UNTIL=20300101",
            "UNTIL=20300230",
            "BYMONTHDAY=40",
            "NOPE=1",
            "BYDAY=XY",
        ]
    ),
)
def test_invalid_parts_are_rejected(base: str, bad: str) -> None:
    freq_override = bad.startswith("FREQ=")
    text = bad if freq_override else f"{base};{bad}"
    with pytest.raises(ValidationError):
        parse_recurrence(text)


@FAST
@given(tz_due=local_dues(), interval=st.integers(1, 10), late_days=st.integers(0, 60))
def test_completion_anchor_counts_interval_from_completion(
    tz_due: tuple[str, datetime], interval: int, late_days: int
) -> None:
    tz, due = tz_due
    zone = ZoneInfo(tz)
    done = (due + timedelta(days=late_days)).replace(hour=23, minute=59).astimezone(zone)
    assume(done > due)
    rec = parse_recurrence(f"FREQ=DAILY;INTERVAL={interval}", "completion")
    got = next_occurrence(rec, due_at=due, timezone=tz, occurrence=1, completed_at=done)
    assert got is not None
    assert got.date() == done.date() + timedelta(days=interval)

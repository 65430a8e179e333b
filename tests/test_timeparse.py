from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from priomem import InvalidInputError, WrongTypeError, parse_duration, parse_time

NOW = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("48h", timedelta(hours=48)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
        ("30m", timedelta(minutes=30)),
        ("3 days ago", timedelta(days=3)),
        ("1.5h", timedelta(minutes=90)),
    ],
)
def test_relative_times_count_back_from_now(text: str, delta: timedelta) -> None:
    assert parse_time(text, field="since", now=NOW) == NOW - delta


def test_iso_and_datetimes_become_utc() -> None:
    assert parse_time("2026-05-01T12:00:00Z", field="t") == datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert parse_time("2026-05-01T14:00:00+02:00", field="t") == datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert parse_time(datetime(2026, 5, 1, 12), field="t") == datetime(
        2026, 5, 1, 12, tzinfo=UTC
    )  # naive = UTC
    assert parse_time(date(2026, 5, 1), field="t") == datetime(2026, 5, 1, tzinfo=UTC)
    tz = timezone(timedelta(hours=-5))
    assert parse_time(datetime(2026, 5, 1, 7, tzinfo=tz), field="t") == datetime(2026, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "bad", ["yesterday-ish", "2026-13-45", "", "48 parsecs", "1800-01-01", "99999-01-01"]
)
def test_bad_times_name_the_field(bad: str) -> None:
    with pytest.raises(InvalidInputError, match=r"^since:"):
        parse_time(bad, field="since", now=NOW)


def test_wrong_types() -> None:
    with pytest.raises(WrongTypeError, match="until"):
        parse_time(12345, field="until")
    with pytest.raises(WrongTypeError):
        parse_duration(True)


@pytest.mark.parametrize("bad", ["0s", "-5d", float("nan"), float("inf"), 0, "soon"])
def test_durations_must_be_positive_and_finite(bad: object) -> None:
    with pytest.raises(InvalidInputError, match="ttl"):
        parse_duration(bad)


def test_durations() -> None:
    assert parse_duration("7d") == timedelta(days=7)
    assert parse_duration(90) == timedelta(seconds=90)
    assert parse_duration(timedelta(hours=1)) == timedelta(hours=1)

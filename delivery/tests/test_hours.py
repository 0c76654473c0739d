"""Opening hours: periods past midnight, several periods a day, date exceptions, time zones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pytest_django import DjangoAssertNumQueries, Settings

from delivery.hours import DateException, Period, is_open_at, store_is_open
from delivery.models import HoursException, OpeningHours, Store
from delivery.tests.factories import StoreFactory

SHANGHAI = ZoneInfo("Asia/Shanghai")
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
# The week of 23 November 2026: Monday the 23rd to Sunday the 29th.
MONDAY = date(2026, 11, 23)
FRIDAY = date(2026, 11, 27)
SATURDAY = date(2026, 11, 28)


def shanghai(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def open_at(periods: Sequence[Period], at: datetime, exceptions: Mapping[date, DateException] | None = None) -> bool:
    return is_open_at(periods=periods, exceptions=exceptions or {}, at=at, tz=SHANGHAI)


def test_a_period_past_midnight_keeps_the_store_open_into_the_next_day() -> None:
    periods = [(FRI, time(22), time(2))]

    assert not open_at(periods, shanghai(FRIDAY, 21, 59))
    assert open_at(periods, shanghai(FRIDAY, 22, 0))
    assert open_at(periods, shanghai(FRIDAY, 23, 59))
    assert open_at(periods, shanghai(SATURDAY, 1, 0))
    assert not open_at(periods, shanghai(SATURDAY, 2, 0))
    # Only Friday's: the Thursday night before and Saturday night after are closed.
    assert not open_at(periods, shanghai(FRIDAY, 1, 0))
    assert not open_at(periods, shanghai(SATURDAY, 23, 0))


def test_several_periods_a_day_leave_the_gaps_closed() -> None:
    periods = [(MON, time(11), time(14)), (MON, time(17), time(21, 30))]

    assert not open_at(periods, shanghai(MONDAY, 10, 59))
    assert open_at(periods, shanghai(MONDAY, 11, 0))
    assert open_at(periods, shanghai(MONDAY, 13, 59))
    assert not open_at(periods, shanghai(MONDAY, 14, 0))
    assert not open_at(periods, shanghai(MONDAY, 16, 0))
    assert open_at(periods, shanghai(MONDAY, 18, 0))
    assert not open_at(periods, shanghai(MONDAY, 21, 30))


def test_closes_equal_to_opens_is_open_around_the_clock() -> None:
    periods = [(day, time(0), time(0)) for day in range(7)]

    for hour in (0, 6, 12, 23):
        assert open_at(periods, shanghai(MONDAY, hour, 30))


def test_no_periods_means_closed() -> None:
    assert not open_at([], shanghai(MONDAY, 12))


def test_a_closed_exception_closes_the_whole_date() -> None:
    periods = [(MON, time(11), time(14)), (TUE, time(11), time(14))]
    exceptions = {MONDAY: (True, None, None)}

    assert not open_at(periods, shanghai(MONDAY, 12), exceptions)
    assert open_at(periods, shanghai(date(2026, 11, 24), 12), exceptions)  # the Tuesday is not touched


def test_special_hours_replace_the_weekday_periods_of_that_date() -> None:
    periods = [(MON, time(11), time(14)), (MON, time(17), time(21))]
    exceptions = {MONDAY: (False, time(9), time(10, 30))}

    assert open_at(periods, shanghai(MONDAY, 9, 30), exceptions)
    assert not open_at(periods, shanghai(MONDAY, 12), exceptions)
    assert not open_at(periods, shanghai(MONDAY, 18), exceptions)


def test_special_hours_may_run_past_midnight() -> None:
    exceptions = {MONDAY: (False, time(20), time(1))}

    assert open_at([], shanghai(MONDAY, 23), exceptions)
    assert open_at([], shanghai(date(2026, 11, 24), 0, 30), exceptions)
    assert not open_at([], shanghai(date(2026, 11, 24), 1, 0), exceptions)


def test_a_closed_date_does_not_cut_short_the_previous_nights_shift() -> None:
    # Friday's 22:00-02:00 belongs to Friday: closing Saturday closes what opens on Saturday.
    periods = [(FRI, time(22), time(2)), (SAT, time(11), time(14))]
    exceptions = {SATURDAY: (True, None, None)}

    assert open_at(periods, shanghai(SATURDAY, 1), exceptions)
    assert not open_at(periods, shanghai(SATURDAY, 12), exceptions)


def test_hours_are_read_in_the_given_time_zone_not_utc() -> None:
    # Open 23:00 to midnight, Shanghai time, on Mondays.
    periods = [(MON, time(23), time(0))]
    half_past_eleven_in_shanghai = datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    half_past_eleven_utc = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # Tuesday 07:30 in Shanghai

    assert open_at(periods, half_past_eleven_in_shanghai)
    assert open_at(periods, shanghai(MONDAY, 23, 30))
    assert not open_at(periods, half_past_eleven_utc)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        open_at([(MON, time(0), time(0))], datetime(2026, 11, 23, 12))


# --- store_is_open: the store's rows, in settings.TIME_ZONE -----------------------------------


def _store_with_hours() -> Store:
    store: Store = StoreFactory()
    OpeningHours.objects.bulk_create(
        [
            OpeningHours(store=store, weekday=FRI, opens=time(22), closes=time(2)),
            OpeningHours(store=store, weekday=MON, opens=time(11), closes=time(14)),
        ]
    )
    HoursException.objects.create(store=store, date=date(2026, 11, 30), closed=True, note="renovation")
    HoursException.objects.create(store=store, date=date(2025, 1, 1), closed=True, note="old")
    return store


@pytest.mark.django_db
def test_store_is_open_reads_the_stores_hours_and_exceptions(settings: Settings) -> None:
    settings.TIME_ZONE = "Asia/Shanghai"
    store = _store_with_hours()

    assert store_is_open(store, shanghai(SATURDAY, 1))
    assert store_is_open(store, shanghai(MONDAY, 12))
    assert not store_is_open(store, shanghai(date(2026, 11, 30), 12))  # the next Monday, closed
    assert not store_is_open(store, datetime(2026, 11, 23, 12, tzinfo=UTC))  # 20:00 in Shanghai


@pytest.mark.django_db
def test_a_store_without_opening_hours_is_closed() -> None:
    store: Store = StoreFactory()

    assert not store_is_open(store, shanghai(MONDAY, 12))


@pytest.mark.django_db
def test_store_is_open_uses_prefetched_rows_without_querying(django_assert_num_queries: DjangoAssertNumQueries) -> None:
    _store_with_hours()
    store = Store.objects.prefetch_related("opening_hours", "hours_exceptions").get()

    with django_assert_num_queries(0):
        assert store_is_open(store, shanghai(SATURDAY, 1))
        assert not store_is_open(store, shanghai(date(2026, 11, 30), 12))


@pytest.mark.django_db
def test_store_is_open_without_prefetch_runs_two_queries(django_assert_num_queries: DjangoAssertNumQueries) -> None:
    store = _store_with_hours()

    with django_assert_num_queries(2):
        assert store_is_open(store, shanghai(MONDAY, 12))

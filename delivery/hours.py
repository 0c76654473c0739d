"""Is a store open at a given instant? Opening hours in local wall-clock time, with exceptions.

`is_open_at` is pure: it reads only its arguments. `store_is_open` gathers a store's rows and
asks it, in settings.TIME_ZONE.

Invariants:
- A period belongs to the weekday it opens on (0 = Monday). A period whose `closes` is at or
  before its `opens` runs past midnight into the next day; `closes == opens` is 24 hours.
- A period is half-open: open at `opens`, closed at `closes`.
- An exception on a date replaces the periods that *open* on that date: closed all day, or one
  special period (which may itself run past midnight). The tail of the previous day's period
  past midnight still belongs to the previous day, so a Friday 22:00-02:00 shift keeps a store
  open at 01:00 on a Saturday that is closed by exception.
- No period at all means closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from delivery.models import HoursException, OpeningHours, Store

# (weekday, opens, closes), weekday 0 = Monday.
Period = tuple[int, time, time]
# date -> (closed all day, opens, closes); opens/closes are set when not closed.
DateException = tuple[bool, time | None, time | None]


def _periods_opening_on(
    day: date, periods: Sequence[Period], exceptions: Mapping[date, DateException]
) -> Iterable[tuple[time, time]]:
    """The (opens, closes) pairs that open on `day`: the exception's, or the weekday's."""
    exception = exceptions.get(day)
    if exception is not None:
        closed, opens, closes = exception
        if closed or opens is None or closes is None:
            return ()
        return ((opens, closes),)
    weekday = day.weekday()
    return tuple((opens, closes) for wd, opens, closes in periods if wd == weekday)


def is_open_at(
    *,
    periods: Sequence[Period],
    exceptions: Mapping[date, DateException],
    at: datetime,
    tz: ZoneInfo,
) -> bool:
    """Whether the periods (as amended by the date exceptions) cover the instant `at`.

    `at` must be timezone-aware (ValueError otherwise); it is read as wall-clock time in `tz`.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("`at` must be timezone-aware")
    local = at.astimezone(tz)
    today = local.date()
    now = local.time().replace(tzinfo=None)
    for opens, closes in _periods_opening_on(today, periods, exceptions):
        if closes > opens:
            if opens <= now < closes:
                return True
        elif now >= opens:  # runs past midnight: open from `opens` to the end of today
            return True
    yesterday = today - timedelta(days=1)
    for opens, closes in _periods_opening_on(yesterday, periods, exceptions):
        if closes <= opens and now < closes:  # yesterday's period spilling past midnight
            return True
    return False


def _prefetched(store: Store, relation: str) -> bool:
    cache: dict[str, object] = getattr(store, "_prefetched_objects_cache", {})
    return relation in cache


def store_is_open(store: Store, at: datetime) -> bool:
    """Whether `store`'s opening hours and exceptions cover `at` (aware), in settings.TIME_ZONE.

    Reads `store.opening_hours` and `store.hours_exceptions` through `.all()`, so rows from
    `prefetch_related` are used as they are (no query); a prefetch of exceptions may be limited
    to the dates around `at` (the day and the day before are the only ones that matter). Without
    a prefetch it runs two queries, fetching only the exceptions of those two dates. Does not
    look at the store's status: a paused store may well be "open" by its hours.
    """
    tz = ZoneInfo(settings.TIME_ZONE)
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("`at` must be timezone-aware")
    today = at.astimezone(tz).date()
    relevant = {today, today - timedelta(days=1)}
    hours: Iterable[OpeningHours] = store.opening_hours.all()
    found: Iterable[HoursException]
    if _prefetched(store, "hours_exceptions"):
        found = store.hours_exceptions.all()
    else:
        found = store.hours_exceptions.filter(date__in=relevant)
    periods = [(row.weekday, row.opens, row.closes) for row in hours]
    exceptions = {row.date: (row.closed, row.opens, row.closes) for row in found if row.date in relevant}
    return is_open_at(periods=periods, exceptions=exceptions, at=at, tz=tz)

"""Statistics for the staff console's charts: rentals per hour and per day, locker utilisation.

The ledger stores UTC; "today" and "a day" are local days of the configured time zone. Local
day boundaries are computed here in Python (a zone with daylight saving time has 23- and
25-hour days) and every query of rentals asks for a UTC range of one time column, so that an
index on that column can serve it (created_at for the counts, updated_at for utilisation);
without one, each query is still correct, as one scan of the table.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from lockerkey.store.ledger import Ledger, guarded, held_sql
from lockerkey.store.timestamps import parse_ts, ts

AVERAGE_DAYS = 28  # the "4-week average" of the hourly chart: the 28 local days before today

# Rentals whose key was taken: pending is only an intent, cancelled had no key taken.
# The unary plus keeps SQLite from scanning idx_rental_status for this IN list (it matches
# nearly every row, so walking it and looking up each row costs more than a plain table scan);
# the time range is the selective term and the one an index should serve.
_TAKEN = "+status IN ('active', 'returned', 'abnormal')"

# A rental starts at created_at. rental_barcode_time is the card scan of the session, but it
# is nullable (a row from elsewhere may lack it) and, after a restart or a link loss, the
# sensor confirmation that makes the row a rental can come much later; created_at is NOT NULL,
# never changes, and is the card scan on a per-slot cabinet (where the key is taken within the
# take-key timeout) and the sensor confirmation itself on a shared-door cabinet, so it is the
# one time every counted row has that says when its rental began.
#
# Counting groups by the UTC quarter-hour of created_at in SQL, so a month of rentals comes
# back as at most 96 rows a day instead of one row per rental. That is exact in local time:
# every UTC offset in use and every daylight-saving change falls on a quarter-hour, so one
# UTC quarter-hour lies inside one local hour of one local date. The text positions hold
# because every timestamp is written by timestamps.ts() (YYYY-MM-DDTHH:MM:SS.mmm+00:00).
_QUARTER = (
    "substr(created_at, 1, 14)"
    " || printf('%02d', CAST(substr(created_at, 15, 2) AS INTEGER) / 15 * 15)"
)
_COUNT_BY_QUARTER = (
    f"SELECT {_QUARTER} AS quarter, COUNT(*) AS n FROM rentals"
    f" WHERE created_at >= ? AND created_at < ? AND {_TAKEN} GROUP BY quarter"
)

# Per locker: when each rental's key left and came back. Every change to a rentals row sets
# updated_at, so a rental that ended inside the window (or started there) has updated_at at or
# after the window's start; the rentals still holding a key are read by status instead (at
# most one per locker, found through idx_rental_status), because one that started long ago may
# not have changed since.
_INTERVAL_COLUMNS = (
    "SELECT locker_number, COALESCE(rental_sensor_time, created_at) AS started,"
    f" COALESCE(return_sensor_time, updated_at) AS ended, {held_sql()} AS held FROM rentals"
)
_INTERVALS_CHANGED = f"{_INTERVAL_COLUMNS} WHERE updated_at >= ? AND {_TAKEN}"
_INTERVALS_HELD_UNCHANGED = f"{_INTERVAL_COLUMNS} WHERE {held_sql()} AND updated_at < ?"


@guarded
def hourly(ledger: Ledger, now: datetime, tz: ZoneInfo) -> tuple[list[int], list[float]]:
    """Rentals started in each local hour 0..23 of today, and the 28 previous days' average."""
    today = _local_date(now, tz)
    first = today - timedelta(days=AVERAGE_DAYS)
    counts = _count_by_quarter(ledger, _day_start(first, tz), _day_start(_next(today), tz))
    today_hours = [0] * 24
    past_hours = [0] * 24
    for quarter, n in counts.items():
        local = quarter.astimezone(tz)
        # On the day clocks go back, 01:00-02:00 happens twice: both count as hour 1.
        (today_hours if local.date() == today else past_hours)[local.hour] += n
    return today_hours, [n / AVERAGE_DAYS for n in past_hours]


@guarded
def daily(ledger: Ledger, now: datetime, tz: ZoneInfo, days: int = 30) -> list[tuple[date, int]]:
    """Rentals started on each of the last ``days`` local days, oldest first, today last."""
    _check_days(days)
    today = _local_date(now, tz)
    first = today - timedelta(days=days - 1)
    counts = _count_by_quarter(ledger, _day_start(first, tz), _day_start(_next(today), tz))
    per_day: Counter[date] = Counter()
    for quarter, n in counts.items():
        per_day[quarter.astimezone(tz).date()] += n
    every_day = [first + timedelta(days=i) for i in range(days)]
    return [(day, per_day[day]) for day in every_day]


@guarded
def utilisation(
    ledger: Ledger, now: datetime, tz: ZoneInfo, days: int = 30
) -> list[tuple[str, float]]:
    """Per configured locker, the fraction (0..1) of the last ``days`` local days it was rented."""
    # The window is the one daily() shows, so the two charts cover the same rentals: from
    # local midnight days - 1 days before today up to now. A rental counts from the moment its
    # key left (rental_sensor_time, else created_at) until it came back (return_sensor_time,
    # else the row's last change); a key still out counts up to now.
    _check_days(days)
    start = _day_start(_local_date(now, tz) - timedelta(days=days - 1), tz)
    end = now.astimezone(UTC)
    # Same order as the locker table of reports.locker_table: cabinet, then slot number.
    lockers = [
        row[0]
        for row in ledger.conn.execute(
            "SELECT locker_number FROM locker_status WHERE configured = 1"
            " ORDER BY cabinet, slot, locker_number"
        )
    ]
    busy: dict[str, list[tuple[datetime, datetime]]] = {number: [] for number in lockers}
    for sql in (_INTERVALS_CHANGED, _INTERVALS_HELD_UNCHANGED):
        for row in ledger.conn.execute(sql, (ts(start),)):
            intervals = busy.get(row["locker_number"])
            if intervals is None:  # a locker no longer configured
                continue
            began = max(_parsed(row["started"]), start)
            ended = end if row["held"] else min(_parsed(row["ended"]), end)
            if ended > began:
                intervals.append((began, ended))
    span = (end - start).total_seconds()
    if span <= 0:  # now is exactly the window's start: nothing has elapsed yet
        return [(number, 0.0) for number in lockers]
    return [(number, min(1.0, _covered(busy[number]) / span)) for number in lockers]


def _count_by_quarter(ledger: Ledger, start: datetime, end: datetime) -> Counter[datetime]:
    """Started rentals per UTC quarter-hour in [start, end)."""
    counts: Counter[datetime] = Counter()
    for row in ledger.conn.execute(_COUNT_BY_QUARTER, (ts(start), ts(end))):
        counts[datetime.fromisoformat(row["quarter"]).replace(tzinfo=UTC)] += row["n"]
    return counts


def _covered(intervals: list[tuple[datetime, datetime]]) -> float:
    """Seconds covered by the union of the intervals (a rental overlapping another counts once)."""
    total = 0.0
    reach: datetime | None = None
    for began, ended in sorted(intervals):
        # Only the part after everything counted so far is new.
        fresh = began if reach is None else max(began, reach)
        if ended > fresh:
            total += (ended - fresh).total_seconds()
            reach = ended
    return total


def _local_date(now: datetime, tz: ZoneInfo) -> date:
    if now.tzinfo is None:
        raise ValueError("naive datetime given as now")
    return now.astimezone(tz).date()


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of a local date, in UTC.

    fold=0 makes this right on every day: where midnight happens twice it is the first one,
    and where clocks skip midnight (Santiago, Havana) it is the instant the day begins.
    """
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _next(day: date) -> date:
    return day + timedelta(days=1)


def _parsed(text: str) -> datetime:
    value = parse_ts(text)
    assert value is not None  # both columns are COALESCEd with a NOT NULL one
    return value


def _check_days(days: int) -> None:
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")

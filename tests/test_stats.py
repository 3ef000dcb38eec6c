"""The console's statistics (store/stats.py) on real ledger files, in several time zones."""

from __future__ import annotations

import itertools
import sqlite3
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lockerkey.core.events import KeySensed, Scan, Select
from lockerkey.core.layout import Layout
from lockerkey.core.model import CabinetKind
from lockerkey.store import stats
from lockerkey.store.ledger import Ledger, LedgerError, ts
from tests.conftest import SEOUL, T0, LedgerRig, add_members, per_slot_layout

NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+05:30: local hours are not whole UTC hours
SANTIAGO = ZoneInfo("America/Santiago")  # clocks skip local midnight in September

_tx = itertools.count(1)


def seoul(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, ms: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=SEOUL)


def add_rental(
    led: Ledger,
    created: datetime,
    locker: str = "1",
    status: str = "returned",
    sensor: datetime | None = None,
    returned: datetime | None = None,
    updated: datetime | None = None,
    error_code: str | None = None,
    verified: bool = True,
) -> None:
    """A rentals row as the engine leaves it; times default to what the engine would write."""
    if status == "returned" and returned is None:
        returned = created + timedelta(hours=1)
    led.conn.execute(
        "INSERT INTO rentals (transaction_id, member_id, locker_number, rental_barcode_time,"
        " rental_sensor_time, rental_verified, return_sensor_time, return_verified, status,"
        " error_code, created_at, updated_at) VALUES (?, 'M1', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            f"t{next(_tx)}",
            locker,
            ts(created),
            ts(sensor),
            int(verified),
            ts(returned),
            int(returned is not None),
            status,
            error_code,
            ts(created),
            ts(updated or returned or sensor or created),
        ),
    )


@pytest.fixture
def led(ledger: Ledger) -> Ledger:
    """The ledger fixture with member M1 and a six-locker cabinet."""
    add_members(ledger, "M1")
    ledger.sync_layout(per_slot_layout(6))
    return ledger


# ---- hourly ---------------------------------------------------------------------------------


def test_hourly_counts_by_local_hour_with_midnight_on_either_side(led: Ledger) -> None:
    now = seoul(2026, 11, 26, 12)
    add_rental(led, seoul(2026, 11, 25, 23, 59, 59, 999))  # yesterday: only in the average
    add_rental(led, seoul(2026, 11, 26, 0, 0))  # the first instant of today
    add_rental(led, seoul(2026, 11, 26, 0, 14, 59, 999))
    add_rental(led, seoul(2026, 11, 26, 8, 30))  # 23:30 UTC the day before: still today
    add_rental(led, seoul(2026, 11, 26, 23, 59, 59, 999))  # later today than now: today
    add_rental(led, seoul(2026, 11, 27, 0, 0))  # tomorrow: nowhere
    today, average = stats.hourly(led, now, SEOUL)
    assert len(today) == 24 and len(average) == 24
    assert today[0] == 2 and today[8] == 1 and today[23] == 1
    assert sum(today) == 4
    assert average[23] == pytest.approx(1 / 28)
    assert sum(average) == pytest.approx(1 / 28)


def test_hourly_average_covers_exactly_the_28_previous_days(led: Ledger) -> None:
    now = seoul(2026, 11, 26, 9)
    for back in range(1, 29):
        add_rental(led, seoul(2026, 11, 26, 10, 5) - timedelta(days=back))
    add_rental(led, seoul(2026, 11, 25, 10, 40))  # a second one yesterday at 10
    add_rental(led, seoul(2026, 10, 29, 0, 0))  # the first instant of the 28th day back
    add_rental(led, seoul(2026, 10, 28, 23, 59, 59, 999))  # 29 days back: too old
    add_rental(led, seoul(2026, 10, 28, 10, 5))  # too old
    add_rental(led, seoul(2026, 11, 26, 10, 5))  # today (after now): today only
    today, average = stats.hourly(led, now, SEOUL)
    assert today[10] == 1 and sum(today) == 1
    assert average[10] == pytest.approx(29 / 28)
    assert average[0] == pytest.approx(1 / 28)
    assert average[23] == 0
    assert sum(average) == pytest.approx(30 / 28)


def test_only_rentals_whose_key_was_taken_count(led: Ledger) -> None:
    at = seoul(2026, 11, 26, 10)
    add_rental(led, at, status="returned")
    add_rental(led, at, status="active", sensor=at)
    add_rental(led, at, status="abnormal", sensor=at, error_code="NOT_ALLOWED_TAKEN")
    add_rental(led, at, status="cancelled", verified=False)
    add_rental(led, at, status="pending", verified=False)
    today, _ = stats.hourly(led, seoul(2026, 11, 26, 12), SEOUL)
    assert today[10] == 3
    assert stats.daily(led, seoul(2026, 11, 26, 12), SEOUL, days=1) == [(date(2026, 11, 26), 3)]


def test_an_empty_ledger_gives_zeros(led: Ledger) -> None:
    now = seoul(2026, 11, 26, 12)
    assert stats.hourly(led, now, SEOUL) == ([0] * 24, [0.0] * 24)
    assert [n for _, n in stats.daily(led, now, SEOUL)] == [0] * 30
    assert stats.utilisation(led, now, SEOUL) == [(str(i), 0.0) for i in range(1, 7)]


def test_new_york_on_the_spring_forward_day(led: Ledger) -> None:
    # 2026-03-08: 02:00 EST becomes 03:00 EDT; the local day is 05:00Z to 04:00Z (23 hours).
    now = datetime(2026, 3, 8, 12, 0, tzinfo=NEW_YORK)
    add_rental(led, datetime(2026, 3, 8, 4, 59, tzinfo=UTC))  # 23:59 EST on the 7th
    add_rental(led, datetime(2026, 3, 8, 5, 0, tzinfo=UTC))  # 00:00 EST
    add_rental(led, datetime(2026, 3, 8, 6, 30, tzinfo=UTC))  # 01:30 EST
    add_rental(led, datetime(2026, 3, 8, 7, 0, tzinfo=UTC))  # 03:00 EDT, right after the gap
    add_rental(led, datetime(2026, 3, 9, 3, 30, tzinfo=UTC))  # 23:30 EDT (22:30 at EST)
    add_rental(led, datetime(2026, 3, 9, 4, 0, tzinfo=UTC))  # 00:00 EDT on the 9th
    today, average = stats.hourly(led, now, NEW_YORK)
    assert today[0] == today[1] == today[3] == today[23] == 1
    assert today[2] == 0 and today[22] == 0  # 02:00-03:00 did not exist
    assert sum(today) == 4
    assert average[23] == pytest.approx(1 / 28)
    days = stats.daily(led, now, NEW_YORK, days=2)
    assert days == [(date(2026, 3, 7), 1), (date(2026, 3, 8), 4)]
    tomorrow = stats.daily(led, now + timedelta(days=1), NEW_YORK, days=3)
    assert tomorrow == [(date(2026, 3, 7), 1), (date(2026, 3, 8), 4), (date(2026, 3, 9), 1)]


def test_new_york_on_the_fall_back_day(led: Ledger) -> None:
    # 2026-11-01: 01:00-02:00 happens twice; the local day is 04:00Z to 05:00Z (25 hours).
    now = datetime(2026, 11, 1, 18, 0, tzinfo=NEW_YORK)
    add_rental(led, datetime(2026, 11, 1, 5, 30, tzinfo=UTC))  # 01:30 EDT
    add_rental(led, datetime(2026, 11, 1, 6, 30, tzinfo=UTC))  # 01:30 EST
    add_rental(led, datetime(2026, 11, 2, 4, 30, tzinfo=UTC))  # 23:30 EST
    add_rental(led, datetime(2026, 11, 2, 5, 0, tzinfo=UTC))  # 00:00 EST on the 2nd
    today, _ = stats.hourly(led, now, NEW_YORK)
    assert today[1] == 2 and today[23] == 1 and sum(today) == 3
    assert stats.daily(led, now, NEW_YORK, days=1) == [(date(2026, 11, 1), 3)]


def test_a_half_hour_zone_counts_by_its_own_hours(led: Ledger) -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=KOLKATA)
    add_rental(led, datetime(2026, 11, 25, 18, 29, 59, 999000, tzinfo=UTC))  # 23:59:59.999
    add_rental(led, datetime(2026, 11, 25, 18, 30, tzinfo=UTC))  # 00:00 on the 26th
    add_rental(led, datetime(2026, 11, 26, 4, 44, tzinfo=UTC))  # 10:14
    add_rental(led, datetime(2026, 11, 26, 4, 45, tzinfo=UTC))  # 10:15
    today, average = stats.hourly(led, now, KOLKATA)
    assert today[0] == 1 and today[10] == 2 and sum(today) == 3
    assert average[23] == pytest.approx(1 / 28)


def test_a_day_that_starts_at_one_because_midnight_was_skipped(led: Ledger) -> None:
    # Santiago, 2026-09-06: 00:00 -04 becomes 01:00 -03, so the day begins at 04:00Z.
    now = datetime(2026, 9, 6, 12, 0, tzinfo=SANTIAGO)
    add_rental(led, datetime(2026, 9, 6, 3, 59, tzinfo=UTC))  # 23:59 -04 on the 5th
    add_rental(led, datetime(2026, 9, 6, 4, 10, tzinfo=UTC))  # 01:10 -03
    today, _ = stats.hourly(led, now, SANTIAGO)
    assert today[1] == 1 and sum(today) == 1
    assert stats.daily(led, now, SANTIAGO, days=2) == [(date(2026, 9, 5), 1), (date(2026, 9, 6), 1)]


# ---- daily ----------------------------------------------------------------------------------


def test_daily_is_zero_filled_oldest_first_and_ends_today(led: Ledger) -> None:
    now = seoul(2026, 11, 26, 0, 30)
    add_rental(led, seoul(2026, 11, 22, 0, 0))  # the first instant of the window
    add_rental(led, seoul(2026, 11, 21, 23, 59, 59, 999))  # just before it
    add_rental(led, seoul(2026, 11, 24, 13))
    add_rental(led, seoul(2026, 11, 24, 14))
    add_rental(led, seoul(2026, 11, 26, 23, 59))
    result = stats.daily(led, now, SEOUL, days=5)
    assert result == [
        (date(2026, 11, 22), 1),
        (date(2026, 11, 23), 0),
        (date(2026, 11, 24), 2),
        (date(2026, 11, 25), 0),
        (date(2026, 11, 26), 1),
    ]
    thirty = stats.daily(led, now, SEOUL)
    assert len(thirty) == 30
    assert thirty[0][0] == date(2026, 10, 28) and thirty[-1][0] == date(2026, 11, 26)
    assert sum(n for _, n in thirty) == 5


def test_today_is_the_local_date_not_the_utc_one(led: Ledger) -> None:
    # 2026-11-26 01:00 in Seoul is still the 25th in UTC.
    now = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    add_rental(led, seoul(2026, 11, 26, 0, 30))
    assert stats.daily(led, now, SEOUL, days=1) == [(date(2026, 11, 26), 1)]
    assert stats.hourly(led, now, SEOUL)[0][0] == 1


def test_bad_arguments_are_refused(led: Ledger) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        stats.daily(led, T0, SEOUL, days=0)
    with pytest.raises(ValueError, match="at least 1"):
        stats.utilisation(led, T0, SEOUL, days=-3)
    with pytest.raises(ValueError, match="naive"):
        stats.hourly(led, datetime(2026, 11, 26, 12), SEOUL)


# ---- utilisation ----------------------------------------------------------------------------


def test_utilisation_clips_to_the_window_and_counts_keys_still_out(led: Ledger) -> None:
    # days=2: the window is 2026-11-25 00:00 to now, 2026-11-26 12:00 in Seoul: 36 hours.
    now = seoul(2026, 11, 26, 12)
    hours = 36 * 3600.0
    # 1: returned inside the window, key out 6 hours (barcode scan 5 s before the sensor).
    add_rental(
        led,
        seoul(2026, 11, 25, 9, 59, 55),
        "1",
        sensor=seoul(2026, 11, 25, 10),
        returned=seoul(2026, 11, 25, 16),
    )
    # 2: active since 3 days ago, unchanged since: counts for the whole window.
    taken = seoul(2026, 11, 23, 8)
    add_rental(led, taken, "2", status="active", sensor=taken)
    # 3: taken before the window, returned this morning: from the window's start.
    add_rental(
        led,
        seoul(2026, 11, 20, 8),
        "3",
        sensor=seoul(2026, 11, 20, 8),
        returned=seoul(2026, 11, 26, 6),
    )
    # 4: no key taken, and a rental over before the window began.
    add_rental(led, seoul(2026, 11, 25, 10), "4", status="cancelled", verified=False)
    add_rental(led, seoul(2026, 11, 25, 10), "4", status="pending", verified=False)
    add_rental(led, seoul(2026, 11, 23, 10), "4", returned=seoul(2026, 11, 24, 23, 59))
    # 5: a NOT_ALLOWED_TAKEN key still out since 10:00 today (up to now), an earlier rental
    # without sensor times (created_at to updated_at: 1 hour), and one after now (ignored).
    add_rental(
        led,
        seoul(2026, 11, 26, 10),
        "5",
        status="abnormal",
        sensor=seoul(2026, 11, 26, 10),
        error_code="NOT_ALLOWED_TAKEN",
    )
    add_rental(
        led,
        seoul(2026, 11, 25, 20),
        "5",
        status="abnormal",
        error_code="SET_ASIDE_TAKEN",
        updated=seoul(2026, 11, 25, 21),
    )
    add_rental(led, seoul(2026, 11, 26, 13), "5", sensor=seoul(2026, 11, 26, 13))
    # 6: two rentals that overlap (a broken ledger) count once: 10:00 to 14:00.
    add_rental(led, seoul(2026, 11, 25, 10), "6", returned=seoul(2026, 11, 25, 13))
    add_rental(led, seoul(2026, 11, 25, 11), "6", returned=seoul(2026, 11, 25, 12))
    add_rental(led, seoul(2026, 11, 25, 12), "6", returned=seoul(2026, 11, 25, 14))
    # A locker that is not configured is not listed.
    add_rental(led, seoul(2026, 11, 25, 10), "99")
    result = dict(stats.utilisation(led, now, SEOUL, days=2))
    assert list(result) == ["1", "2", "3", "4", "5", "6"]
    assert result["1"] == pytest.approx(6 * 3600 / hours)
    assert result["2"] == 1.0
    assert result["3"] == pytest.approx(30 * 3600 / hours)
    assert result["4"] == 0.0
    assert result["5"] == pytest.approx(3 * 3600 / hours)
    assert result["6"] == pytest.approx(4 * 3600 / hours)


def test_utilisation_window_follows_local_days_in_a_dst_zone(led: Ledger) -> None:
    # days=1 on New York's 25-hour day: the window is 04:00Z to now.
    now = datetime(2026, 11, 1, 23, 0, tzinfo=NEW_YORK)  # 04:00Z on the 2nd: 24 hours in
    add_rental(
        led,
        datetime(2026, 10, 31, 12, 0, tzinfo=UTC),
        "1",
        sensor=datetime(2026, 10, 31, 12, 0, tzinfo=UTC),
        returned=datetime(2026, 11, 1, 10, 0, tzinfo=UTC),
    )
    assert dict(stats.utilisation(led, now, NEW_YORK, days=1))["1"] == pytest.approx(6 / 24)


def test_utilisation_at_the_first_instant_of_the_window_is_zero(led: Ledger) -> None:
    taken = seoul(2026, 11, 20)
    add_rental(led, taken, "2", status="active", sensor=taken)
    result = stats.utilisation(led, seoul(2026, 11, 26), SEOUL, days=1)
    assert result == [(str(i), 0.0) for i in range(1, 7)]


def test_utilisation_lists_lockers_in_cabinet_and_slot_order(ledger: Ledger) -> None:
    add_members(ledger, "M1")
    layout = Layout.simple(
        [
            ("c1", CabinetKind.PER_SLOT, [str(i) for i in range(1, 13)]),
            ("c2", CabinetKind.PER_SLOT, ["A2", "A1"]),
        ]
    )
    ledger.sync_layout(layout)
    ledger.sync_layout(per_slot_layout(12))  # c2's lockers are no longer configured
    assert [n for n, _ in stats.utilisation(ledger, T0, SEOUL)] == [str(i) for i in range(1, 13)]
    ledger.sync_layout(layout)
    names = [n for n, _ in stats.utilisation(ledger, T0, SEOUL)]
    assert names == [*(str(i) for i in range(1, 13)), "A2", "A1"]


# ---- the whole path -------------------------------------------------------------------------


def test_a_rental_made_through_the_engine_is_counted(lrig: LedgerRig) -> None:
    led = lrig.ledger
    lrig.do(Scan("M1"))
    lrig.do(Select("2"))
    lrig.t += 4
    lrig.do(KeySensed(0, 2, False))  # 12:00:04 in Seoul
    now = T0 + timedelta(hours=1)
    today, _ = stats.hourly(led, now, SEOUL)
    assert today[12] == 1 and sum(today) == 1
    assert stats.daily(led, now, SEOUL, days=1) == [(date(2026, 11, 26), 1)]
    shares = dict(stats.utilisation(led, now, SEOUL, days=1))
    assert shares["2"] == pytest.approx((3600 - 4) / (13 * 3600))
    assert shares["1"] == 0.0


def test_sqlite_errors_become_ledger_errors(led: Ledger) -> None:
    led.conn.execute("DROP TABLE rentals")
    for call in (
        lambda: stats.hourly(led, T0, SEOUL),
        lambda: stats.daily(led, T0, SEOUL),
        lambda: stats.utilisation(led, T0, SEOUL),
    ):
        with pytest.raises(LedgerError, match="no such table"):
            call()


class Recorder:
    """A connection stand-in that remembers every statement and its parameters."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.calls: list[tuple[str, Any]] = []

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        self.calls.append((sql, params))
        return self.conn.execute(sql, params)


def test_with_time_indexes_no_query_reads_the_whole_rentals_table(led: Ledger) -> None:
    # The time indexes of schema migration 2 (made here too, so this holds whatever the
    # schema): with them, every query of rentals searches an index instead of scanning.
    conn = led.conn
    conn.execute("CREATE INDEX IF NOT EXISTS idx_rental_created ON rentals(created_at)")
    conn.execute("CREATE INDEX IF NOT EXISTS idx_rental_updated ON rentals(updated_at)")
    recorder = Recorder(conn)
    led.conn = recorder  # type: ignore[assignment]
    try:
        stats.hourly(led, T0, SEOUL)
        stats.daily(led, T0, SEOUL)
        stats.utilisation(led, T0, SEOUL)
    finally:
        led.conn = conn
    queries = [(sql, p) for sql, p in recorder.calls if "FROM rentals" in sql]
    assert len(queries) == 4
    for sql, params in queries:
        plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        assert "SCAN rentals" not in plan, (sql, plan)
        assert "USING INDEX" in plan, (sql, plan)

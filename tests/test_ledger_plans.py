"""Nothing the kiosk reads or writes on its way, nor at start-up, reads every past rental.

Every statement the ledger runs for a rental, a return, a restart's loads and `lockerkey
status` is captured and put to SQLite's planner (EXPLAIN QUERY PLAN) on a ledger with years
of returned rentals and planner statistics (ANALYZE), which make a scan most tempting.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

from lockerkey.store import reports, sync_store
from lockerkey.store.ledger import Ledger, ts
from tests.conftest import T0, LedgerRig
from tests.test_sync_store import give_back, rent

PAST = 3000
# A full pass over rentals or events, unless through one of the small partial indexes.
FULL_PASS = re.compile(r"^SCAN (rentals|events|r|e)\b(?!.*USING (COVERING )?INDEX idx_rental_held)")


def add_history(led: Ledger, lockers: int = 6) -> None:
    """PAST rentals of M1..M3, long returned (a few abnormal), with their events."""
    rentals, events = [], []
    for i in range(PAST):
        out = T0 - timedelta(days=900) + timedelta(hours=i)
        status, code = ("abnormal", "WRONG_SLOT") if i % 500 == 0 else ("returned", None)
        locker = str(1 + i % lockers)
        tx = f"past-{i}"
        rentals.append(
            (tx, f"M{1 + i % 3}", locker, ts(out), ts(out), locker, status, code, ts(out))
        )
        details = json.dumps({"locker": locker})
        events += [(ts(out), kind, tx, details, "TEST") for kind in ("scan", "key")]
    with led.transaction() as c:
        c.executemany(
            "INSERT INTO rentals (transaction_id, member_id, locker_number, rental_barcode_time,"
            " rental_sensor_time, return_actual_locker, status, error_code, created_at,"
            " updated_at, rental_verified, return_verified, sync_status)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1, 1)",
            [(*r, r[-1]) for r in rentals],
        )
        c.executemany(
            "INSERT INTO events (time, kind, transaction_id, details, device_id)"
            " VALUES (?, ?, ?, ?, ?)",
            events,
        )
    led.conn.execute("ANALYZE")


def full_passes(led: Ledger, statements: list[str]) -> list[tuple[str, str]]:
    """(statement, plan line) for every statement that would read all of a big table."""
    found = []
    for sql in statements:
        if not re.match(r"\s*(SELECT|UPDATE|DELETE|INSERT|WITH)", sql, re.I):
            continue
        for row in led.conn.execute(f"EXPLAIN QUERY PLAN {sql}"):
            if FULL_PASS.search(row[3]):
                found.append((sql, row[3]))
    return found


def test_the_kiosks_statements_use_indexes_on_a_long_history(lrig: LedgerRig) -> None:
    led = lrig.ledger
    add_history(led)
    statements: list[str] = []
    led.conn.set_trace_callback(statements.append)
    try:
        rent(lrig, "M1", "1")
        rent(lrig, "M2", "2")
        give_back(lrig, "1")
        led.load_lockers()
        led.load_unresolved(lrig.layout)
        reports.locker_table(led)
        sync_store.recent_runs(led, limit=1)
        sync_store.last_success(led)
    finally:
        led.conn.set_trace_callback(None)
    assert len(statements) > 20  # the capture saw the work
    assert full_passes(led, statements) == []


def test_the_check_itself_catches_a_full_pass(lrig: LedgerRig) -> None:
    led = lrig.ledger
    add_history(led)
    slow = "SELECT locker_number, COUNT(*) FROM rentals WHERE error_details IS NULL"
    held = "SELECT locker_number FROM rentals WHERE status IN ('active', 'abnormal')"
    assert full_passes(led, [slow, held]) == [(slow, "SCAN rentals")]

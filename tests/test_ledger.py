"""The SQLite ledger on real files: schema, migrations, the engine's writes, reports."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from lockerkey.core import ops
from lockerkey.core.events import KeySensed, LinkLost, Scan, Select
from lockerkey.core.layout import Layout, Policy
from lockerkey.core.model import CabinetKind, MemberStatus, RentalStatus, Service
from lockerkey.core.roster import MemberRow
from lockerkey.store import reports
from lockerkey.store.ledger import Ledger, LedgerError, parse_ts, ts
from lockerkey.store.schema import SCHEMA_VERSION
from tests.conftest import SEOUL, T0, LedgerRig, add_members, full_snapshot, per_slot_layout


def rental(led: Ledger, tx: str) -> sqlite3.Row:
    return led.conn.execute("SELECT * FROM rentals WHERE transaction_id = ?", (tx,)).fetchone()


def member_row(led: Ledger, member_id: str) -> sqlite3.Row:
    return led.conn.execute("SELECT * FROM members WHERE member_id = ?", (member_id,)).fetchone()


def test_pragmas_and_version(ledger: Ledger) -> None:
    q = ledger.conn.execute
    assert q("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert q("PRAGMA foreign_keys").fetchone()[0] == 1
    assert q("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert q("PRAGMA busy_timeout").fetchone()[0] == 5000
    assert ledger.schema_version() == SCHEMA_VERSION
    tables = {row[0] for row in q("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"members", "rentals", "locker_status", "active_transactions", "events"} <= tables


def test_seed_columns_are_all_there(ledger: Ledger) -> None:
    seed = {
        "members": "member_id member_name status expiry_date currently_renting daily_rental_count"
        " last_rental_time sync_date",
        "rentals": "rental_id transaction_id member_id locker_number rental_barcode_time"
        " rental_sensor_time rental_verified return_barcode_time return_target_locker"
        " return_sensor_time return_actual_locker return_verified status error_code error_details"
        " device_id sync_status created_at updated_at",
        "locker_status": "locker_number sensor_status door_status current_member"
        " current_transaction locked_until last_change_time",
        "active_transactions": "transaction_id member_id transaction_type start_time"
        " last_activity timeout_at sensor_events status",
    }
    for table, columns in seed.items():
        have = {row[1] for row in ledger.conn.execute(f"PRAGMA table_info({table})")}
        assert set(columns.split()) <= have, table


def test_reopen_does_not_migrate_again_and_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locker.db"
    Ledger.open(path).close()
    led = Ledger.open(path)
    assert led.schema_version() == SCHEMA_VERSION
    led.conn.execute("PRAGMA user_version = 99")
    led.close()
    with pytest.raises(LedgerError, match="newer"):
        Ledger.open(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locker.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="unusable"):
        Ledger.open(path)
    with pytest.raises(LedgerError, match="cannot open"):
        Ledger.open(tmp_path / "locker.db" / "inside-a-file.db")


def test_timestamps_are_utc_and_naive_ones_are_refused() -> None:
    local = datetime(2026, 11, 26, 9, 0, tzinfo=SEOUL)
    assert ts(local) == "2026-11-26T00:00:00.000+00:00"
    assert parse_ts(ts(local)) == local
    assert parse_ts("2026-11-26T00:00:00") == datetime(2026, 11, 26, tzinfo=UTC)
    assert ts(None) is None and parse_ts(None) is None
    with pytest.raises(ValueError, match="naive"):
        ts(datetime(2026, 1, 1))


def test_a_whole_rental_and_return_in_the_ledger(lrig: LedgerRig) -> None:
    led = lrig.ledger
    lrig.do(Scan("M1"))
    lrig.do(Select("2"))
    row = rental(led, "tx1")
    assert row["status"] == "pending" and row["rental_verified"] == 0
    tx = led.conn.execute("SELECT * FROM active_transactions").fetchone()
    assert tx["status"] == "active" and tx["locker_number"] == "2"
    assert parse_ts(tx["timeout_at"]) - parse_ts(tx["last_activity"]) == timedelta(seconds=30)
    lrig.t += 4
    lrig.do(KeySensed(0, 2, False))
    row = rental(led, "tx1")
    assert (row["status"], row["rental_verified"]) == ("active", 1)
    assert parse_ts(row["rental_sensor_time"]) == T0 + timedelta(seconds=4)
    m = member_row(led, "M1")
    assert (m["currently_renting"], m["daily_rental_count"]) == ("2", 1)
    status = led.conn.execute("SELECT * FROM locker_status WHERE locker_number = '2'").fetchone()
    assert (status["sensor_status"], status["current_member"]) == (0, "M1")

    lrig.do(Scan("KEY-2"))
    lrig.do(KeySensed(0, 2, True))
    row = rental(led, "tx1")
    assert (row["status"], row["return_verified"]) == ("returned", 1)
    assert (row["return_target_locker"], row["return_actual_locker"]) == ("2", "2")
    assert member_row(led, "M1")["currently_renting"] is None
    assert reports.invariant_problems(led) == []
    kinds = [r[0] for r in led.conn.execute("SELECT kind FROM events ORDER BY event_id")]
    for kind in (
        "scan",
        "session_started",
        "command",
        "key",
        "rental_active",
        "returned",
        "message",
    ):
        assert kind in kinds
    assert {r[0] for r in led.conn.execute("SELECT device_id FROM events")} == {"TEST_DEVICE"}


def test_daily_count_restarts_on_a_new_local_day(lrig: LedgerRig) -> None:
    def rent_and_return(locker: str) -> None:
        lrig.do(Scan("M1"))
        lrig.do(Select(locker))
        lrig.do(KeySensed(0, int(locker), False))
        lrig.do(Scan(f"KEY-{locker}"))
        lrig.do(KeySensed(0, int(locker), True))

    rent_and_return("1")
    rent_and_return("2")
    assert member_row(lrig.ledger, "M1")["daily_rental_count"] == 2
    lrig.t += 12 * 3600  # 12:00 -> 00:00 the next day in Seoul
    rent_and_return("3")
    assert member_row(lrig.ledger, "M1")["daily_rental_count"] == 1


def test_reset_daily_counts_at_midnight(ledger: Ledger) -> None:
    add_members(ledger, "M1", "M2")
    ledger.conn.execute(
        "UPDATE members SET daily_rental_count = 3, last_rental_time = ? WHERE member_id = 'M1'",
        (ts(T0 - timedelta(days=1)),),
    )
    ledger.conn.execute(
        "UPDATE members SET daily_rental_count = 2, last_rental_time = ? WHERE member_id = 'M2'",
        (ts(T0),),
    )
    assert ledger.reset_daily_counts(T0 - timedelta(hours=1)) == 1
    assert member_row(ledger, "M1")["daily_rental_count"] == 0
    assert member_row(ledger, "M2")["daily_rental_count"] == 2


def test_one_step_is_all_or_nothing(ledger: Ledger) -> None:
    before = ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    bad = [
        ops.Audit("first", T0),
        ops.CreatePendingRental("tx", "NO-SUCH-MEMBER", "1", T0),  # foreign key fails
    ]
    with pytest.raises(LedgerError, match="FOREIGN KEY"):
        ledger.apply(bad)
    assert ledger.conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == before
    assert not ledger.conn.in_transaction


def test_events_are_append_only(ledger: Ledger) -> None:
    ledger.audit("something", T0, detail="x")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        ledger.conn.execute("UPDATE events SET kind = 'other'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        ledger.conn.execute("DELETE FROM events")


def test_upsert_updates_master_data_only(ledger: Ledger) -> None:
    add_members(ledger, "0012")
    ledger.conn.execute(
        "UPDATE members SET currently_renting = '7', daily_rental_count = 2,"
        " last_rental_time = ? WHERE member_id = '0012'",
        (ts(T0),),
    )
    row = MemberRow(
        "0012", "새이름", MemberStatus.SUSPENDED, date(2027, 1, 31), "F", "vip", None, {"memo": "x"}
    )
    fresh = MemberRow("0013", "다른회원", MemberStatus.ACTIVE, None, None, None, None, {})
    result = ledger.upsert_members([row, fresh], T0)
    assert (result.inserted, result.updated) == (1, 1)
    m = member_row(ledger, "0012")
    assert (m["member_name"], m["status"], m["expiry_date"]) == (
        "새이름",
        "suspended",
        "2027-01-31",
    )
    assert (m["currently_renting"], m["daily_rental_count"]) == ("7", 2)
    assert m["last_rental_time"] == ts(T0)
    member = ledger.get_member("0012")
    assert member is not None and member.attributes == {
        "memo": "x",
        "gender": "F",
        "category": "vip",
    }
    assert ledger.get_member("12") is None  # leading zeros are part of the barcode


def test_layout_rows_and_loading_state(ledger: Ledger) -> None:
    add_members(ledger, "M1")
    rig = LedgerRig(ledger, layout=per_slot_layout(3))
    rig.online(missing=[3])
    rig.do(Scan("M1"))
    rig.do(Select("1"))
    rig.do(KeySensed(0, 1, False))
    states = ledger.load_lockers()
    assert set(states) == {"1", "2", "3"}
    assert states["1"].holder is not None and states["1"].holder.member_id == "M1"
    assert states["1"].last_rented == rig.now().wall
    assert states["3"].service is Service.SET_ASIDE and states["3"].key is False
    # a smaller layout keeps the old rows but marks them unconfigured
    ledger.sync_layout(per_slot_layout(2))
    assert set(ledger.load_lockers()) == {"1", "2"}
    assert [r["locker"] for r in reports.locker_table(ledger)] == ["1", "2"]


def test_unresolved_sessions_survive_a_restart(ledger: Ledger) -> None:
    add_members(ledger, "M1")
    rig = LedgerRig(ledger, layout=per_slot_layout(3))
    rig.online()
    rig.do(Scan("M1"))
    rig.do(Select("2"))
    rig.do(LinkLost(0, "unplugged"))
    (pending,) = ledger.load_unresolved(rig.layout)
    assert (pending.tx_id, pending.kind, pending.locker, pending.cabinets) == (
        "tx1",
        "rental",
        "2",
        {0},
    )
    assert pending.member is not None and pending.member.member_id == "M1"
    assert reports.invariant_problems(ledger) == []  # pending inside an interrupted session

    rig2 = LedgerRig(
        ledger,
        layout=per_slot_layout(3),
        unresolved=ledger.load_unresolved(rig.layout),
        lockers=ledger.load_lockers(),
    )
    rig2.online(missing=[2])
    assert rental(ledger, "tx1")["status"] == "active"
    assert "recovered" in rental(ledger, "tx1")["error_details"]
    assert ledger.load_unresolved(rig.layout) == []
    assert reports.invariant_problems(ledger) == []


def test_locker_table_shows_who_has_what(lrig: LedgerRig) -> None:
    lrig.do(Scan("M2"))
    lrig.do(Select("4"))
    lrig.do(KeySensed(0, 4, False))
    table = {row["locker"]: row for row in reports.locker_table(lrig.ledger)}
    assert table["4"]["key"] == "out" and table["4"]["member_id"] == "M2"
    assert table["4"]["member_name"] == "회원M2" and table["4"]["rental_status"] == "active"
    assert table["1"]["key"] == "in" and table["1"]["member_id"] is None
    assert table["1"]["locked"] is True


def test_invariant_checks_find_each_broken_rule(lrig: LedgerRig) -> None:
    led = lrig.ledger
    lrig.do(Scan("M1"))
    lrig.do(Select("1"))
    lrig.do(KeySensed(0, 1, False))
    assert reports.invariant_problems(led) == []
    assert reports.integrity_problems(led) == []
    q = led.conn.execute
    q(
        "INSERT INTO rentals (transaction_id, member_id, locker_number, status, rental_verified,"
        " created_at, updated_at) VALUES ('bad1', 'M1', '1', 'active', 0, 'x', 'x')"
    )
    q(
        "INSERT INTO rentals (transaction_id, member_id, locker_number, status, created_at,"
        " updated_at) VALUES ('bad2', 'M2', '3', 'pending', 'x', 'x')"
    )
    q("UPDATE members SET currently_renting = '5' WHERE member_id = 'M3'")
    q(
        "INSERT INTO active_transactions (transaction_id, member_id, transaction_type, start_time,"
        " last_activity, timeout_at) VALUES ('s1', 'M1', 'rental', 'x', 'x', 'x'),"
        " ('s2', 'M2', 'rental', 'x', 'x', 'x')"
    )
    text = "\n".join(reports.invariant_problems(led))
    assert "locker 1: its key is out on 2 rentals" in text
    assert "member M1: 2 active rentals" in text
    assert "member M3: currently_renting is '5'" in text
    assert "without the sensor confirmation" in text
    assert "pending outside any open session" in text
    assert "2 sessions are active at once" in text
    q("UPDATE locker_status SET current_member = 'M9' WHERE locker_number = '6'")
    assert "locker 6: locker_status names 'M9' but the key is out with None" in "\n".join(
        reports.invariant_problems(led)
    )


def test_export_marks_only_what_it_read(lrig: LedgerRig) -> None:
    led = lrig.ledger
    for who, locker in (("M1", "1"), ("M2", "2")):
        lrig.do(Scan(who))
        lrig.do(Select(locker))
        lrig.do(KeySensed(0, int(locker), False))
    read = reports.unsynced_rentals(led)
    assert [r.row["locker_number"] for r in read] == ["1", "2"]
    # while the upload runs, locker 1 is returned and a new rental begins
    lrig.do(Scan("KEY-1"))
    lrig.do(KeySensed(0, 1, True))
    lrig.do(Scan("M3"))
    lrig.do(Select("3"))
    lrig.do(KeySensed(0, 3, False))
    assert reports.mark_synced(led, read) == 1  # only locker 2's row is unchanged
    left = {r.row["locker_number"]: r.row["status"] for r in reports.unsynced_rentals(led)}
    assert left == {"1": "returned", "3": "active"}
    assert left["1"] == RentalStatus.RETURNED


@pytest.mark.parametrize("selection", ["auto", "choose"])
def test_restart_during_take_key_with_the_key_still_in(ledger: Ledger, selection: str) -> None:
    add_members(ledger, "M1")
    policy = Policy(timeout_s=30, selection=selection, tz=SEOUL)
    rig = LedgerRig(ledger, layout=per_slot_layout(3), policy=policy)
    rig.online()
    rig.do(Scan("M1"))
    if selection == "choose":
        rig.do(Select("1"))
    assert rig.engine.phase.value == "take_key"
    row = ledger.conn.execute("SELECT locker_number FROM active_transactions").fetchone()
    assert row[0] == "1"  # the session names its slot before anything is unlocked
    again = LedgerRig(
        ledger,
        layout=per_slot_layout(3),
        policy=policy,
        lockers=ledger.load_lockers(),
        unresolved=ledger.load_unresolved(rig.layout),
    )
    again.online()  # every key still in: nothing was taken
    assert rental(ledger, "tx1")["status"] == "cancelled"
    assert reports.invariant_problems(ledger) == []


def test_a_session_left_on_an_offline_cabinet_does_not_count_as_active(ledger: Ledger) -> None:
    add_members(ledger, "M1", "M2")
    two = Layout.simple(
        [("a", CabinetKind.PER_SLOT, ["1", "2"]), ("b", CabinetKind.PER_SLOT, ["3", "4"])]
    )
    rig = LedgerRig(ledger, layout=two)
    rig.online()
    rig.do(Scan("M1"))
    rig.do(Select("3"))
    # the kiosk restarts; only cabinet a answers at first
    again = LedgerRig(
        ledger,
        layout=two,
        lockers=ledger.load_lockers(),
        unresolved=ledger.load_unresolved(two),
        tx_prefix="after",
    )
    again.begin()
    again.do(full_snapshot(0, 2))
    again.do(Scan("M2"))
    again.do(Select("1"))
    assert reports.invariant_problems(ledger) == []
    again.do(full_snapshot(1, 2, missing=[1]))  # cabinet b: locker 3's key was taken
    assert rental(ledger, "tx1")["status"] == "active"
    assert reports.invariant_problems(ledger) == []


def test_sessions_keep_their_sensor_readings(lrig: LedgerRig) -> None:
    lrig.do(Scan("M1"))
    lrig.do(Select("2"))
    lrig.do(KeySensed(0, 2, False))
    raw = lrig.ledger.conn.execute(
        "SELECT sensor_events FROM active_transactions WHERE transaction_id = 'tx1'"
    ).fetchone()[0]
    assert json.loads(raw) == [{"locker": "2", "present": False, "at": ts(lrig.now().wall)}]

"""The ledger side of the member-sheet sync, on real ledger files: migration 3 and the
``removed`` member status, applying the member sheet, the sync log, the rental upload and the
sync line of ``lockerkey status``. All member names and barcodes are invented."""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from lockerkey import cli
from lockerkey.core import ops
from lockerkey.core.engine import Phase
from lockerkey.core.events import KeySensed, Scan, Select
from lockerkey.core.messages import Msg, render
from lockerkey.core.model import MemberStatus
from lockerkey.core.roster import MemberRow, parse_rows, parse_status
from lockerkey.core.rules import refusal
from lockerkey.store import reports, sync_store
from lockerkey.store.ledger import Ledger, LedgerError, ts
from lockerkey.store.schema import FOREIGN_KEYS_OFF, MIGRATIONS, SCHEMA_VERSION
from lockerkey.store.sync_store import MemberSync, SyncRun, UploadRow
from tests.conftest import SEOUL, T0, LedgerRig, Rig, add_members, member

T1 = T0 + timedelta(hours=1)
T2 = T0 + timedelta(hours=2)


def rows_of(
    *ids: str, status: MemberStatus = MemberStatus.ACTIVE, name: str = ""
) -> list[MemberRow]:
    return [
        MemberRow(m, name or f"회원{m}", status, date(2099, 12, 31), "F", "regular", None, {})
        for m in ids
    ]


def member_row(led: Ledger, member_id: str) -> sqlite3.Row:
    row = led.conn.execute("SELECT * FROM members WHERE member_id = ?", (member_id,)).fetchone()
    assert row is not None
    return row


def statuses(led: Ledger) -> dict[str, str]:
    return {
        r["member_id"]: r["status"]
        for r in led.conn.execute("SELECT member_id, status FROM members ORDER BY member_id")
    }


def dump(conn: sqlite3.Connection, table: str, order: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY {order}")]


def rent(r: LedgerRig, who: str, locker: str) -> None:
    r.do(Scan(who))
    r.do(Select(locker))
    r.do(KeySensed(0, int(locker), False))


def give_back(r: LedgerRig, locker: str) -> None:
    r.do(Scan(f"KEY-{locker}"))
    r.do(KeySensed(0, int(locker), True))


# ---- migration 3 ----------------------------------------------------------------------------


def open_at_version_2(path: Path) -> Ledger:
    """A ledger file as lockerkey with schema version 2 made it (no migration 3 run)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    for script in MIGRATIONS[:2]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 2")
    return Ledger(conn, "TEST_DEVICE", path)


TABLES = {
    "members": "member_id",
    "rentals": "rental_id",
    "locker_status": "locker_number",
    "active_transactions": "transaction_id",
    "events": "event_id",
    "admin_accounts": "name",
    "sqlite_sequence": "name",
}


def test_migration_3_keeps_every_member_and_rental(tmp_path: Path) -> None:
    path = tmp_path / "locker.db"
    old = open_at_version_2(path)
    assert old.schema_version() == 2
    add_members(old, "M1", "M2", "M3")
    add_members(old, "S1", status=MemberStatus.SUSPENDED)
    old.upsert_members(
        [
            MemberRow(
                "X1",
                "만료회원",
                MemberStatus.EXPIRED,
                date(2025, 1, 1),
                "M",
                "vip",
                "A",
                {"메모": "값"},
            )
        ],
        T0,
    )
    r = LedgerRig(old)
    r.online()
    rent(r, "M1", "1")
    rent(r, "M2", "2")
    give_back(r, "2")
    rent(r, "M3", "3")
    old.conn.execute(
        "INSERT INTO admin_accounts VALUES ('boss', 'scrypt$x', ?, ?)", (ts(T0), ts(T0))
    )
    before = {t: dump(old.conn, t, o) for t, o in TABLES.items()}
    assert len(before["rentals"]) == 3 and len(before["members"]) == 5
    old.conn.close()

    led = Ledger.open(path, "TEST_DEVICE")
    try:
        assert led.schema_version() == SCHEMA_VERSION
        after = {t: dump(led.conn, t, o) for t, o in TABLES.items()}
        assert after == before  # every row, every value, the AUTOINCREMENT counters too
        assert led.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert reports.integrity_problems(led) == []
        assert reports.invariant_problems(led) == []
        # rentals still point at members: the foreign key is there and enforced
        joined = led.conn.execute(
            "SELECT COUNT(*) FROM rentals r JOIN members m ON m.member_id = r.member_id"
        ).fetchone()[0]
        assert joined == 3
        fks = led.conn.execute("PRAGMA foreign_key_list(rentals)").fetchall()
        assert [(f["table"], f["from"], f["to"]) for f in fks] == [
            ("members", "member_id", "member_id")
        ]
        with pytest.raises(sqlite3.IntegrityError):
            led.conn.execute(
                "INSERT INTO rentals (transaction_id, member_id, locker_number, created_at,"
                " updated_at) VALUES ('t', 'NOBODY', '1', 'x', 'x')"
            )
        with pytest.raises(sqlite3.IntegrityError):
            led.conn.execute("DELETE FROM members WHERE member_id = 'M1'")
        # the new status is accepted, others still refused
        led.conn.execute("UPDATE members SET status = 'removed' WHERE member_id = 'M1'")
        assert led.get_member("M1").status is MemberStatus.REMOVED  # type: ignore[union-attr]
        with pytest.raises(sqlite3.IntegrityError):
            led.conn.execute("UPDATE members SET status = 'gone' WHERE member_id = 'M1'")
        names = {
            row[0]
            for row in led.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        assert "sync_runs" in names and "members_new" not in names
        index = led.conn.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'idx_sync_runs_started'"
        ).fetchone()
        assert "sync_runs(started_at)" in index[0]
        # the engine reads its starting state as before
        assert led.load_lockers()["1"].holder is not None
    finally:
        led.close()


def test_a_new_ledger_is_the_same_as_a_migrated_one(tmp_path: Path) -> None:
    fresh = Ledger.open(tmp_path / "new.db")
    old = open_at_version_2(tmp_path / "old.db")
    old.conn.close()
    migrated = Ledger.open(tmp_path / "old.db")
    try:
        schema = "SELECT type, name, tbl_name FROM sqlite_master ORDER BY name"
        assert fresh.conn.execute(schema).fetchall() == migrated.conn.execute(schema).fetchall()
        info = "SELECT * FROM pragma_table_info('members')"
        assert [tuple(r) for r in fresh.conn.execute(info)] == [
            tuple(r) for r in migrated.conn.execute(info)
        ]
    finally:
        fresh.close()
        migrated.close()


def test_only_marked_migrations_turn_foreign_keys_off() -> None:
    assert [FOREIGN_KEYS_OFF in m for m in MIGRATIONS] == [False, False, True, False]


def test_a_rebuild_that_breaks_references_is_rolled_back(tmp_path: Path) -> None:
    path = tmp_path / "locker.db"
    led = open_at_version_2(path)
    add_members(led, "M1")
    led.conn.execute("PRAGMA foreign_keys = OFF")
    led.conn.execute(
        "INSERT INTO rentals (transaction_id, member_id, locker_number, status, created_at,"
        " updated_at) VALUES ('orphan', 'GHOST', '1', 'active', 'x', 'x')"
    )
    led.conn.execute("PRAGMA foreign_keys = ON")
    led.conn.close()

    with pytest.raises(LedgerError, match=r"migration 3 would leave 1 broken reference.*version 2"):
        Ledger.open(path)
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        table = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'members'").fetchone()[0]
        assert "removed" not in table
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert not {"members_new", "sync_runs"} & names
        assert conn.execute("SELECT COUNT(*) FROM members").fetchone()[0] == 1


def test_migrate_restores_the_connections_foreign_key_setting(tmp_path: Path) -> None:
    for enforced in (0, 1):
        led = open_at_version_2(tmp_path / f"fk{enforced}.db")
        led.conn.execute(f"PRAGMA foreign_keys = {enforced}")
        led.migrate()
        assert led.schema_version() == SCHEMA_VERSION
        assert led.conn.execute("PRAGMA foreign_keys").fetchone()[0] == enforced
        led.conn.close()


# ---- the removed status at the kiosk --------------------------------------------------------


def test_removed_is_refused_with_its_own_message(rig: Rig) -> None:
    gone = member("M9", MemberStatus.REMOVED)
    step = rig.do(Scan("M9", gone))
    assert [n.msg for n in step.notices] == [Msg.MEMBER_REMOVED]
    assert step.notices[0].params == {}
    assert step.commands == []
    assert not [w for w in step.writes if isinstance(w, ops.StartSession)]
    assert rig.engine.session is None and rig.engine.phase is Phase.IDLE
    # a removed staff card opens no staff menu either
    staff = member("S9", MemberStatus.REMOVED, category="staff")
    assert [n.msg for n in rig.do(Scan("S9", staff)).notices] == [Msg.MEMBER_REMOVED]


def test_removed_message_and_rule_order() -> None:
    assert render(Msg.MEMBER_REMOVED, "ko") == "회원 명단에 없는 회원입니다. 데스크에 문의해 주세요"
    assert render(Msg.MEMBER_REMOVED, "en") == (
        "You are not on the member list. Please ask at the front desk"
    )
    expired_and_gone = member("M9", MemberStatus.REMOVED, expiry=date(2020, 1, 1))
    assert refusal(expired_and_gone, T0, 0, SEOUL) == (Msg.MEMBER_REMOVED, {})
    renting = replace(member("M9", MemberStatus.REMOVED), currently_renting="3")
    assert refusal(renting, T0, 0, SEOUL) == (Msg.MEMBER_REMOVED, {})


def test_a_sheet_can_never_say_removed() -> None:
    assert parse_status("removed") is None
    assert parse_status("REMOVED") is None
    good, bad = parse_rows(
        ["barcode", "name", "status", "expiry_date"],
        [["M1", "회원1", "removed", ""], ["M2", "회원2", "active", ""]],
    )
    assert [r.barcode for r in good] == ["M2"]
    assert [(p.row, p.barcode, p.reason) for p in bad] == [(2, "M1", "unknown status 'removed'")]


def test_a_removed_member_is_refused_but_their_key_still_returns(lrig: LedgerRig) -> None:
    led = lrig.ledger
    rent(lrig, "M1", "2")
    done = sync_store.apply_members(led, rows_of("M2", "M3"), T1)
    assert done.removed == ("M1",)
    assert member_row(led, "M1")["currently_renting"] == "2"  # the sync leaves rentals alone

    step = lrig.do(Scan("M1"))
    assert [n.msg for n in step.notices] == [Msg.MEMBER_REMOVED]
    assert lrig.engine.session is None

    assert [n.msg for n in lrig.do(Scan("KEY-2")).notices] == [Msg.RETURN_KEY]
    assert [n.msg for n in lrig.do(KeySensed(0, 2, True)).notices] == [Msg.RETURN_OK]
    row = member_row(led, "M1")
    assert (row["status"], row["currently_renting"]) == ("removed", None)
    rental = led.conn.execute("SELECT status FROM rentals WHERE member_id = 'M1'").fetchone()
    assert rental["status"] == "returned"
    assert reports.invariant_problems(led) == []


# ---- applying the member sheet --------------------------------------------------------------


def test_apply_adds_members(ledger: Ledger) -> None:
    done = sync_store.apply_members(ledger, rows_of("A", "B", "C"), T0)
    assert done == MemberSync(
        added=3, updated=0, removed=(), guarded=False, active_before=0, sheet_rows=3
    )
    row = member_row(ledger, "B")
    assert (row["member_name"], row["status"], row["gender"], row["category"]) == (
        "회원B",
        "active",
        "F",
        "regular",
    )
    assert row["created_at"] == row["updated_at"] == row["sync_date"] == ts(T0)


def test_apply_updates_master_data_and_keeps_rental_state(lrig: LedgerRig) -> None:
    led = lrig.ledger
    rent(lrig, "M1", "4")
    before = member_row(led, "M1")
    assert before["currently_renting"] == "4" and before["daily_rental_count"] == 1
    sheet = [
        MemberRow(
            "M1", "새이름", MemberStatus.SUSPENDED, date(2030, 1, 2), "M", "vip", "B", {"x": "1"}
        ),
        *rows_of("M2", "M3", "M4"),
    ]
    done = sync_store.apply_members(led, sheet, T1)
    assert (done.added, done.updated, done.removed, done.guarded) == (1, 3, (), False)
    assert (done.active_before, done.sheet_rows) == (3, 4)
    row = member_row(led, "M1")
    assert (row["member_name"], row["status"], row["expiry_date"], row["zone"]) == (
        "새이름",
        "suspended",
        "2030-01-02",
        "B",
    )
    assert json.loads(row["attributes"]) == {"x": "1"}
    for kept in ("currently_renting", "daily_rental_count", "last_rental_time", "created_at"):
        assert row[kept] == before[kept], kept
    assert row["sync_date"] == row["updated_at"] == ts(T1)
    assert led.conn.execute("SELECT COUNT(*) FROM rentals").fetchone()[0] == 1


def test_apply_marks_members_gone_from_the_sheet_removed(ledger: Ledger) -> None:
    sync_store.apply_members(ledger, rows_of("A", "B", "C", "D"), T0)
    done = sync_store.apply_members(ledger, rows_of("A", "C", "D"), T1)
    assert done == MemberSync(
        added=0, updated=3, removed=("B",), guarded=False, active_before=4, sheet_rows=3
    )
    row = member_row(ledger, "B")
    assert row["status"] == "removed"
    assert row["updated_at"] == ts(T1)
    assert row["sync_date"] == row["created_at"] == ts(T0)  # when the sheet last had them
    assert ledger.get_member("B").status is MemberStatus.REMOVED  # type: ignore[union-attr]
    # already removed: not removed again, and no longer counted among the members before
    again = sync_store.apply_members(ledger, rows_of("A", "C", "D"), T2)
    assert (again.removed, again.active_before) == ((), 3)
    assert member_row(ledger, "B")["updated_at"] == ts(T1)


def test_a_removed_member_back_in_the_sheet_gets_the_sheet_status(ledger: Ledger) -> None:
    sync_store.apply_members(ledger, rows_of("A", "B", "C"), T0)
    sync_store.apply_members(ledger, rows_of("A", "C"), T1)
    assert statuses(ledger)["B"] == "removed"
    back = [*rows_of("A", "C"), *rows_of("B", status=MemberStatus.SUSPENDED)]
    done = sync_store.apply_members(ledger, back, T2)
    assert (done.added, done.updated, done.removed, done.active_before) == (0, 3, (), 2)
    assert statuses(ledger) == {"A": "active", "B": "suspended", "C": "active"}


def test_an_empty_sheet_removes_nobody(ledger: Ledger) -> None:
    sync_store.apply_members(ledger, rows_of("A", "B"), T0)
    before = [tuple(r) for r in ledger.conn.execute("SELECT * FROM members ORDER BY 1")]
    done = sync_store.apply_members(ledger, [], T1)
    assert done == MemberSync(
        added=0, updated=0, removed=(), guarded=True, active_before=2, sheet_rows=0
    )
    assert [tuple(r) for r in ledger.conn.execute("SELECT * FROM members ORDER BY 1")] == before
    # on an empty ledger too: an empty sheet is never taken at its word
    empty = Ledger.open(ledger.path.parent / "empty.db")
    try:
        assert sync_store.apply_members(empty, [], T1).guarded
    finally:
        empty.close()


def test_a_sheet_with_under_half_the_members_removes_nobody(ledger: Ledger) -> None:
    ids = [f"M{i:02}" for i in range(10)]
    sync_store.apply_members(ledger, rows_of(*ids), T0)
    # 4 rows against 10 members: looks truncated; the rows themselves are still applied
    done = sync_store.apply_members(
        ledger, [*rows_of(*ids[:3], name="바뀐이름"), *rows_of("NEW")], T1
    )
    assert done == MemberSync(
        added=1, updated=3, removed=(), guarded=True, active_before=10, sheet_rows=4
    )
    assert set(statuses(ledger).values()) == {"active"}
    assert member_row(ledger, "M00")["member_name"] == "바뀐이름"
    # 6 rows against 11 members: more than half, the other five go
    done = sync_store.apply_members(ledger, rows_of(*ids[:6]), T2)
    assert (done.guarded, done.active_before, done.sheet_rows) == (False, 11, 6)
    assert done.removed == ("M06", "M07", "M08", "M09", "NEW")


def test_exactly_half_is_not_under_half(ledger: Ledger) -> None:
    ids = [f"M{i:02}" for i in range(10)]
    sync_store.apply_members(ledger, rows_of(*ids), T0)
    done = sync_store.apply_members(ledger, rows_of(*ids[:5]), T1)
    assert (done.guarded, done.removed) == (False, tuple(ids[5:]))


def test_min_ratio_is_the_callers(ledger: Ledger) -> None:
    sync_store.apply_members(ledger, rows_of("A", "B", "C", "D"), T0)
    done = sync_store.apply_members(ledger, rows_of("A", "B", "C"), T1, min_ratio=0.9)
    assert done.guarded and done.removed == ()
    done = sync_store.apply_members(ledger, rows_of("A"), T1, min_ratio=0.0)
    assert not done.guarded and done.removed == ("B", "C", "D")


def test_apply_is_one_transaction(ledger: Ledger) -> None:
    sync_store.apply_members(ledger, rows_of("A", "B", "C"), T0)
    bad = replace(rows_of("Z")[0], name=None)  # type: ignore[arg-type]
    with pytest.raises(LedgerError, match="NOT NULL"):
        sync_store.apply_members(ledger, [*rows_of("A", "NEW"), bad], T1)
    assert statuses(ledger) == {"A": "active", "B": "active", "C": "active"}
    assert member_row(ledger, "A")["updated_at"] == ts(T0)


def test_the_import_and_the_sync_share_one_upsert(ledger: Ledger) -> None:
    result = ledger.upsert_members(rows_of("A", "B"), T0)
    assert (result.inserted, result.updated) == (2, 0)
    via_import = [tuple(r) for r in ledger.conn.execute("SELECT * FROM members ORDER BY 1")]
    other = Ledger.open(ledger.path.parent / "other.db")
    try:
        sync_store.apply_members(other, rows_of("A", "B"), T0)
        via_sync = [tuple(r) for r in other.conn.execute("SELECT * FROM members ORDER BY 1")]
    finally:
        other.close()
    assert via_sync == via_import
    # the CSV import removes nobody
    ledger.upsert_members(rows_of("A"), T1)
    assert statuses(ledger) == {"A": "active", "B": "active"}


# ---- the sync log ---------------------------------------------------------------------------


def test_sync_run_lifecycle(ledger: Ledger) -> None:
    assert sync_store.running(ledger) is None
    assert sync_store.last_success(ledger) is None
    assert sync_store.recent_runs(ledger) == []

    first = sync_store.start_run(ledger, "startup", "gsheets", T0)
    now_running = sync_store.running(ledger)
    assert now_running is not None and now_running.run_id == first
    assert (now_running.status, now_running.ended_at, now_running.members_read) == (
        "running",
        None,
        None,
    )
    assert now_running.started_at == T0 and now_running.started_at.tzinfo is not None
    assert now_running.details == {}

    counts = {name: i for i, name in enumerate(sync_store.COUNTS, start=1)}
    bad = [{"row": 7, "barcode": "X", "reason": "empty name"}]
    sync_store.finish_run(
        ledger,
        first,
        T0 + timedelta(seconds=5),
        status="ok",
        counts=counts,
        api_calls=4,
        details={"bad_rows": bad, "note": "한글", "when": T0},
    )
    assert sync_store.running(ledger) is None
    assert sync_store.last_success(ledger) == T0 + timedelta(seconds=5)
    (run,) = sync_store.recent_runs(ledger)
    assert run == SyncRun(
        run_id=first,
        started_at=T0,
        ended_at=T0 + timedelta(seconds=5),
        trigger="startup",
        backend="gsheets",
        status="ok",
        members_read=1,
        members_added=2,
        members_updated=3,
        members_removed=4,
        bad_rows=5,
        rentals_appended=6,
        rentals_updated=7,
        api_calls=4,
        error=None,
        details={"bad_rows": bad, "note": "한글", "when": str(T0)},
    )
    assert run.counts == counts
    assert run.ended_at is not None and run.ended_at.tzinfo is not None

    second = sync_store.start_run(ledger, "schedule", "csv", T1)
    sync_store.finish_run(
        ledger,
        second,
        T1 + timedelta(seconds=1),
        status="failed",
        counts={"members_read": 3},
        api_calls=1,
        error="the sheet is not shared",
    )
    failed = sync_store.recent_runs(ledger)[0]
    assert (failed.run_id, failed.status, failed.error, failed.api_calls) == (
        second,
        "failed",
        "the sheet is not shared",
        1,
    )
    assert failed.counts == {
        name: (3 if name == "members_read" else None) for name in sync_store.COUNTS
    }
    assert sync_store.last_success(ledger) == T0 + timedelta(seconds=5)  # a failure is no success

    ids = [
        sync_store.start_run(ledger, t, "csv", T2 + timedelta(minutes=i))
        for i, t in enumerate(("manual", "cli", "schedule"))
    ]
    assert [r.run_id for r in sync_store.recent_runs(ledger, limit=4)] == [*reversed(ids), second]
    assert [r.trigger for r in sync_store.recent_runs(ledger, limit=2)] == ["schedule", "cli"]


def test_runs_left_running_by_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "locker.db"
    led = Ledger.open(path)
    done = sync_store.start_run(led, "schedule", "gsheets", T0)
    sync_store.finish_run(led, done, T0, status="ok", counts={}, api_calls=2)
    crashed = sync_store.start_run(led, "manual", "gsheets", T1)
    led.close()  # the process dies mid-sync

    led = Ledger.open(path)
    try:
        stale = sync_store.running(led)
        assert stale is not None and stale.run_id == crashed and stale.status == "running"
        assert sync_store.fail_stale_runs(led, T2) == 1
        assert sync_store.running(led) is None
        run = sync_store.recent_runs(led, limit=1)[0]
        assert (run.run_id, run.status, run.error, run.ended_at) == (
            crashed,
            "failed",
            "interrupted",
            T2,
        )
        assert sync_store.fail_stale_runs(led, T2) == 0
        assert sync_store.last_success(led) == T0
        # the first run is untouched
        first = sync_store.recent_runs(led)[1]
        assert (first.status, first.error, first.api_calls) == ("ok", None, 2)
    finally:
        led.close()


def test_sync_log_refuses_what_it_cannot_record(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="unknown sync trigger 'cron'"):
        sync_store.start_run(ledger, "cron", "csv", T0)
    run = sync_store.start_run(ledger, "cli", "csv", T0)
    with pytest.raises(ValueError, match="not 'running'"):
        sync_store.finish_run(ledger, run, T0, status="running", counts={}, api_calls=0)
    with pytest.raises(ValueError, match=r"unknown sync count.*members_readd"):
        sync_store.finish_run(
            ledger, run, T0, status="ok", counts={"members_readd": 1}, api_calls=0
        )
    with pytest.raises(LedgerError, match="no sync run 999"):
        sync_store.finish_run(ledger, 999, T0, status="ok", counts={}, api_calls=0)
    with pytest.raises(ValueError, match="naive"):
        sync_store.start_run(ledger, "cli", "csv", datetime(2026, 1, 1))
    assert [r.status for r in sync_store.recent_runs(ledger)] == ["running"]


# ---- the rental upload ----------------------------------------------------------------------


def test_rentals_for_upload(lrig: LedgerRig) -> None:
    led = lrig.ledger
    rent(lrig, "M1", "1")
    rent(lrig, "M2", "2")
    give_back(lrig, "2")
    lrig.do(Scan("M3"))
    lrig.do(Select("3"))  # pending: the key is not taken yet

    rows = sync_store.rentals_for_upload(led)
    assert [(r.member_id, r.locker_number, r.status) for r in rows] == [
        ("M1", "1", "active"),
        ("M2", "2", "returned"),
    ]
    assert [r.rental_id for r in rows] == sorted(r.rental_id for r in rows)
    active, returned = rows
    assert active.member_name == "회원M1" and returned.member_name == "회원M2"
    assert active.device_id == "TEST_DEVICE"
    assert active.return_sensor_time is None and active.return_actual_locker is None
    assert returned.return_actual_locker == "2"
    for r in rows:
        for when in (r.created_at, r.rental_sensor_time, r.updated_at):
            assert when is not None and when.tzinfo is not None
    assert returned.return_sensor_time is not None and returned.return_sensor_time.tzinfo
    stored = led.conn.execute(
        "SELECT * FROM rentals WHERE rental_id = ?", (returned.rental_id,)
    ).fetchone()
    assert returned.revision == stored["revision"] > 1
    assert returned.transaction_id == stored["transaction_id"]
    assert ts(returned.updated_at) == stored["updated_at"]
    assert (returned.error_code, active.error_code, active.error_details) == (None, None, None)

    assert sync_store.mark_uploaded(led, rows) == 2
    assert sync_store.rentals_for_upload(led) == []
    # the pending rental goes up once it is a rental
    lrig.do(KeySensed(0, 3, False))
    (third,) = sync_store.rentals_for_upload(led)
    assert (third.member_id, third.status) == ("M3", "active")


def test_mark_uploaded_skips_a_row_changed_after_it_was_read(lrig: LedgerRig) -> None:
    led = lrig.ledger
    rent(lrig, "M1", "1")
    rent(lrig, "M2", "2")
    read = sync_store.rentals_for_upload(led)
    give_back(lrig, "1")  # while the upload is in flight
    assert sync_store.mark_uploaded(led, read) == 1
    (left,) = sync_store.rentals_for_upload(led)
    assert (left.locker_number, left.status) == ("1", "returned")
    assert left.revision > read[0].revision
    assert sync_store.mark_uploaded(led, [left]) == 1
    assert sync_store.rentals_for_upload(led) == []
    assert sync_store.mark_uploaded(led, []) == 0
    assert reports.unsynced_rentals(led) == []  # the older API reads the same bookkeeping


def test_reports_mark_synced_still_works(lrig: LedgerRig) -> None:
    led = lrig.ledger
    rent(lrig, "M1", "1")
    read = reports.unsynced_rentals(led)
    assert reports.mark_synced(led, read) == 1
    assert sync_store.rentals_for_upload(led) == []


def many_rentals(led: Ledger, n: int, synced_every: int = 0) -> None:
    add_members(led, "M1")
    stamp = ts(T0)
    with led.transaction() as c:
        c.executemany(
            "INSERT INTO rentals (transaction_id, member_id, locker_number, rental_sensor_time,"
            " rental_verified, status, sync_status, created_at, updated_at)"
            " VALUES (?, 'M1', ?, ?, 1, 'returned', ?, ?, ?)",
            [
                (
                    f"tx{i}",
                    str(i % 50 + 1),
                    stamp,
                    int(bool(synced_every) and i % synced_every == 0),
                    stamp,
                    stamp,
                )
                for i in range(n)
            ],
        )


def test_ten_thousand_rentals_go_up_at_once_through_the_index(ledger: Ledger) -> None:
    many_rentals(ledger, 10_000)
    plan = " | ".join(sync_store.upload_query_plan(ledger))
    assert "idx_rental_unsynced" in plan, plan
    assert "TEMP B-TREE" not in plan, plan  # the index gives rental_id order: no sort
    started = time.perf_counter()
    rows = sync_store.rentals_for_upload(ledger)
    elapsed = time.perf_counter() - started
    assert len(rows) == 10_000 and elapsed < 5, elapsed
    assert [r.rental_id for r in rows] == list(range(1, 10_001))
    assert all(isinstance(r, UploadRow) and r.member_name == "회원M1" for r in rows[:3])
    started = time.perf_counter()
    assert sync_store.mark_uploaded(ledger, rows) == 10_000
    assert time.perf_counter() - started < 5
    assert sync_store.rentals_for_upload(ledger) == []


def test_the_index_is_used_with_most_rows_synced_and_after_analyze(ledger: Ledger) -> None:
    many_rentals(ledger, 10_000, synced_every=1)  # every row synced
    ledger.conn.execute(
        "UPDATE rentals SET sync_status = 0, revision = revision + 1 WHERE rental_id % 1000 = 0"
    )
    ledger.conn.execute("ANALYZE")
    plan = " | ".join(sync_store.upload_query_plan(ledger))
    assert "idx_rental_unsynced" in plan, plan
    assert [r.rental_id for r in sync_store.rentals_for_upload(ledger)] == list(
        range(1000, 10_001, 1000)
    )


# ---- lockerkey status -----------------------------------------------------------------------


CONFIG = """\
device_id = "GYM-SYNC-01"
data_dir = "{data}"

[[cabinet]]
port = "/dev/ttyACM0"
lockers = "1-2"

[scanner]
kind = "none"
"""


@pytest.fixture
def site(tmp_path: Path) -> Path:
    config = tmp_path / "lockerkey.toml"
    config.write_text(CONFIG.format(data=(tmp_path / "data").as_posix()), encoding="utf-8")
    return config


def status(config: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    assert cli.main(["status", "-c", str(config), *extra]) == 0
    return capsys.readouterr().out


def test_status_without_any_sync(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = status(site, capsys).splitlines()
    assert len(lines) == 1 + 2 and "locker" in lines[0]
    assert not any(line.startswith("sync") for line in lines)
    data = json.loads(status(site, capsys, "--json"))
    assert data["sync"] is None
    assert data["device_id"] == "GYM-SYNC-01" and len(data["lockers"]) == 2


def test_status_shows_the_last_sync(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status(site, capsys)  # creates the ledger
    db = site.parent / "data" / "locker.db"
    led = Ledger.open(db)
    try:
        ok = sync_store.start_run(led, "schedule", "gsheets", T0)
        counts = dict.fromkeys(sync_store.COUNTS, 0) | {"members_read": 120, "members_added": 2}
        sync_store.finish_run(
            led, ok, T0 + timedelta(seconds=3), status="ok", counts=counts, api_calls=5
        )
    finally:
        led.close()

    out = status(site, capsys).splitlines()
    assert len(out) == 1 + 2 + 1
    assert "locker" in out[0]
    assert out[-1] == (
        "sync: 2026-11-26 12:00 ok (120 read, 2 added, 0 updated, 0 removed, 0 bad rows,"
        " 0 rentals appended, 0 rentals updated)"
    )
    data = json.loads(status(site, capsys, "--json"))
    assert {"device_id", "lockers", "sync"} == set(data)
    assert data["sync"] == {
        "run_id": ok,
        "status": "ok",
        "trigger": "schedule",
        "backend": "gsheets",
        "started_at": ts(T0),
        "ended_at": ts(T0 + timedelta(seconds=3)),
        "counts": counts,
        "api_calls": 5,
        "error": None,
        "last_success": ts(T0 + timedelta(seconds=3)),
    }

    led = Ledger.open(db)
    try:
        bad = sync_store.start_run(led, "manual", "gsheets", T1)
        sync_store.finish_run(
            led, bad, T1, status="failed", counts={}, api_calls=1, error="no network"
        )
    finally:
        led.close()
    assert status(site, capsys).splitlines()[-1] == (
        "sync: 2026-11-26 13:00 failed: no network; last ok 2026-11-26 12:00"
    )
    data = json.loads(status(site, capsys, "--json"))["sync"]
    assert (data["status"], data["error"], data["last_success"]) == (
        "failed",
        "no network",
        ts(T0 + timedelta(seconds=3)),
    )

    led = Ledger.open(db)
    try:
        sync_store.start_run(led, "cli", "csv", T2)
    finally:
        led.close()
    assert (
        status(site, capsys).splitlines()[-1] == "sync: running since 2026-11-26 14:00 (cli, csv)"
    )


def test_status_when_no_sync_ever_succeeded(site: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status(site, capsys)
    led = Ledger.open(site.parent / "data" / "locker.db")
    try:
        run = sync_store.start_run(led, "startup", "gsheets", T0.astimezone(UTC))
        sync_store.finish_run(
            led,
            run,
            T0,
            status="failed",
            counts={"members_read": 3, "bad_rows": 1},
            api_calls=2,
            error="the spreadsheet is not shared with the service account",
        )
    finally:
        led.close()
    assert status(site, capsys).splitlines()[-1] == (
        "sync: 2026-11-26 12:00 failed (3 read, 1 bad rows): the spreadsheet is not shared with"
        " the service account; last ok never"
    )
    assert json.loads(status(site, capsys, "--json"))["sync"]["last_success"] is None

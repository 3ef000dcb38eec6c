"""One test per defect of the seed design's sample code; each fails on the seed's behaviour."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from lockerkey.cabinet.wire import Decoder, crc16, encode
from lockerkey.core.events import KeySensed, Scan, Select
from lockerkey.core.messages import Msg
from lockerkey.core.model import MemberStatus
from lockerkey.core.roster import MemberRow
from lockerkey.core.state import Phase
from lockerkey.store import reports
from lockerkey.store.ledger import Ledger, parse_ts
from tests.conftest import SEOUL, LedgerRig, add_members


def test_1_abandoned_session_frees_the_machine_after_its_timeout_not_nine_hours(
    ledger: Ledger,
) -> None:
    """Seed: timeout stored as local now() but compared with SQLite's UTC now."""
    add_members(ledger, "M1", "M2")
    rig = LedgerRig(ledger, start=datetime(2026, 11, 26, 10, 0, tzinfo=SEOUL))
    rig.online()
    rig.do(Scan("M1"))  # walks away
    row = ledger.conn.execute("SELECT start_time, timeout_at FROM active_transactions").fetchone()
    start, timeout = parse_ts(row["start_time"]), parse_ts(row["timeout_at"])
    assert start is not None and timeout is not None
    assert timeout - start == timedelta(seconds=30)
    assert row["timeout_at"].endswith("+00:00")  # stored in UTC, not local wall time
    rig.advance(30)
    step = rig.do(Scan("M2"))
    assert [n.msg for n in step.notices] == [Msg.CHOOSE_LOCKER]


def test_2_expiry_uses_the_local_date_not_utc(ledger: Ledger) -> None:
    """Seed: date(expiry_date) >= date('now') lets in yesterday's expiries until 09:00 KST."""
    add_members(ledger, "M1", expiry=date(2026, 11, 25))
    rig = LedgerRig(ledger, start=datetime(2026, 11, 26, 8, 0, tzinfo=SEOUL))  # UTC: 25th 23:00
    rig.online()
    step = rig.do(Scan("M1"))
    assert [n.msg for n in step.notices] == [Msg.EXPIRED]
    assert rig.engine.session is None


def test_3_no_write_transaction_is_held_while_waiting_for_the_sensor(
    ledger: Ledger, tmp_path: Path
) -> None:
    """Seed: BEGIN ... wait up to 30 s for the sensor ... COMMIT blocks every other writer."""
    add_members(ledger, "M1")
    rig = LedgerRig(ledger)
    rig.online()
    rig.do(Scan("M1"))
    rig.do(Select("1"))  # unlocked: now waiting for the member to take the key
    assert rig.engine.phase is Phase.TAKE_KEY
    assert not ledger.conn.in_transaction
    other = sqlite3.connect(tmp_path / "locker.db", timeout=0)
    other.execute("BEGIN IMMEDIATE")  # would raise "database is locked" under the seed
    other.execute("UPDATE members SET sync_date = 'x' WHERE member_id = 'M1'")
    other.execute("COMMIT")
    other.close()
    rig.do(KeySensed(0, 1, False))
    assert reports.invariant_problems(ledger) == []


def test_4_member_sync_keeps_rental_state(ledger: Ledger) -> None:
    """Seed: INSERT OR REPLACE wipes currently_renting and counts (and breaks foreign keys)."""
    add_members(ledger, "M1")
    rig = LedgerRig(ledger)
    rig.online()
    rig.do(Scan("M1"))
    rig.do(Select("2"))
    rig.do(KeySensed(0, 2, False))
    again = MemberRow("M1", "이름변경", MemberStatus.ACTIVE, None, None, None, None, {})
    ledger.upsert_members([again], datetime.now(UTC))
    row = ledger.conn.execute("SELECT * FROM members WHERE member_id = 'M1'").fetchone()
    assert (row["member_name"], row["currently_renting"], row["daily_rental_count"]) == (
        "이름변경",
        "2",
        1,
    )
    assert row["last_rental_time"] is not None
    assert reports.integrity_problems(ledger) == []


def test_5_export_never_marks_rows_written_during_the_upload(ledger: Ledger) -> None:
    """Seed: UPDATE rentals SET sync_status = 1 WHERE sync_status = 0 after the upload."""
    add_members(ledger, "M1", "M2")
    rig = LedgerRig(ledger)
    rig.online()
    rig.do(Scan("M1"))
    rig.do(Select("1"))
    rig.do(KeySensed(0, 1, False))
    uploading = reports.unsynced_rentals(ledger)
    rig.do(Scan("M2"))  # written while the upload is in flight
    rig.do(Select("2"))
    rig.do(KeySensed(0, 2, False))
    reports.mark_synced(ledger, uploading)
    left = [r.row["locker_number"] for r in reports.unsynced_rentals(ledger)]
    assert left == ["2"]


def test_6_an_invalid_card_never_holds_the_machine(ledger: Ledger) -> None:
    """Seed: start_transaction runs before validate_member."""
    add_members(ledger, "M1")
    add_members(ledger, "BAD", status=MemberStatus.SUSPENDED)
    rig = LedgerRig(ledger)
    rig.online()
    rig.do(Scan("BAD"))
    rig.do(Scan("NOT-A-MEMBER"))
    count = ledger.conn.execute("SELECT COUNT(*) FROM active_transactions").fetchone()[0]
    assert count == 0
    step = rig.do(Scan("M1"))
    assert [n.msg for n in step.notices] == [Msg.CHOOSE_LOCKER]


def test_7_daily_count_is_counted_and_reset(ledger: Ledger) -> None:
    """Seed: daily_rental_count is never incremented nor reset."""
    add_members(ledger, "M1")
    rig = LedgerRig(ledger)
    rig.engine.policy = type(rig.engine.policy)(timeout_s=30, daily_limit=1, tz=SEOUL)
    rig.online()
    rig.do(Scan("M1"))
    rig.do(Select("1"))
    rig.do(KeySensed(0, 1, False))
    rig.do(Scan("KEY-1"))
    rig.do(KeySensed(0, 1, True))
    assert ledger.get_member("M1").daily_rental_count == 1  # type: ignore[union-attr]
    assert [n.msg for n in rig.do(Scan("M1")).notices] == [Msg.DAILY_LIMIT]
    rig.t += 12 * 3600  # past local midnight
    ledger.reset_daily_counts(datetime(2026, 11, 27, tzinfo=SEOUL))
    assert ledger.get_member("M1").daily_rental_count == 0  # type: ignore[union-attr]
    assert [n.msg for n in rig.do(Scan("M1")).notices] == [Msg.CHOOSE_LOCKER]


@pytest.mark.parametrize(
    "line",
    [
        b"garbage\n",
        b'{"ev":"key","seq":1,"slot":3,"present":false\n',  # torn, no CRC
        b'{"ev":"key","seq":1,"slot":3,"present":false}*0000\n',  # wrong CRC
        b"\xff\xfe\x00 binary noise",
        b"x" * 10_000,
        b"MicroPython v1.27.0 on 2026-01-01; ESP32 module with ESP32\r\n",
    ],
)
def test_8_a_garbage_serial_line_is_dropped_not_fatal(line: bytes) -> None:
    """Seed: json.loads on every serial line raises out of the read loop."""
    decoder = Decoder()
    assert decoder.decode(line) is None
    assert sum(decoder.dropped.values()) == 1
    good = encode({"ev": "key", "seq": 1, "slot": 3, "present": False})
    assert decoder.decode(good) == {"ev": "key", "seq": 1, "slot": 3, "present": False}


def test_8_framing_details() -> None:
    assert crc16(b"123456789") == 0x29B1
    frame = encode({"id": 7, "cmd": "unlock", "slot": 12, "ms": 30000, "boot": "1a2b3c4d"})
    assert frame == b'{"id":7,"cmd":"unlock","slot":12,"ms":30000,"boot":"1a2b3c4d"}*097F\n'
    decoder = Decoder()
    assert decoder.decode(frame.replace(b"097F", b"097f")) is None  # lower-case hex
    body = b"[1,2]"
    assert decoder.decode(body + b"*%04X" % crc16(body)) is None
    nan = b'{"a":NaN}'
    assert decoder.decode(nan + b"*%04X" % crc16(nan)) is None
    big = b'{"a":1e999}'
    assert decoder.decode(big + b"*%04X" % crc16(big)) is None
    huge = b'{"a":%d}' % (2**60)
    assert decoder.decode(huge + b"*%04X" % crc16(huge)) is None
    assert decoder.decode(b"\r\n") is None and decoder.decode(b"") is None
    assert dict(decoder.dropped) == {"bad_crc": 1, "not_object": 1, "bad_json": 3}
    assert decoder.decode(frame.rstrip(b"\n") + b"\r\n") is not None


def test_9_foreign_keys_are_enforced(ledger: Ledger) -> None:
    """Seed: FOREIGN KEY declared, but PRAGMA foreign_keys is off by default."""
    assert ledger.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        ledger.conn.execute(
            "INSERT INTO rentals (transaction_id, member_id, locker_number, created_at,"
            " updated_at) VALUES ('t', 'nobody', '1', 'x', 'x')"
        )

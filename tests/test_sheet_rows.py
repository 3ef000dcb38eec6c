"""The rentals sheet plan (append, update, reconcile) and the report, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from lockerkey.core.roster import RowProblem
from lockerkey.sync.schedule import last_slot, missed
from lockerkey.sync.sheet_rows import (
    RENTAL_COLUMNS,
    RentalLine,
    local_text,
    plan_rentals,
    report_table,
)

SEOUL = ZoneInfo("Asia/Seoul")
HEADER = list(RENTAL_COLUMNS)


def line(tx: str, device: str = "K1", status: str = "active", **values: str) -> RentalLine:
    cells = {"transaction_id": tx, "device_id": device, "status": status, "locker": "3"}
    return RentalLine(tx, device, {**cells, **values})


def row(tx: str, device: str = "K1", status: str = "active") -> list[str]:
    cells = dict.fromkeys(HEADER, "")
    cells.update(transaction_id=tx, device_id=device, status=status, locker="3")
    return [cells[c] for c in HEADER]


def test_an_empty_sheet_gets_the_header_and_every_row_appended() -> None:
    plan = plan_rentals([], [line("a"), line("b")], "K1")
    assert plan.header == HEADER
    assert [r[0] for r in plan.appends] == ["a", "b"]
    assert plan.updates == {}


def test_rows_already_there_are_updated_in_place_not_appended_again() -> None:
    # What a crash between the sheet write and the local mark leaves: the rows are there.
    sheet = [HEADER, row("a"), row("b")]
    plan = plan_rentals(sheet, [line("a", status="returned"), line("b"), line("c")], "K1")
    assert plan.header is None
    assert [r[0] for r in plan.appends] == ["c"]
    assert list(plan.updates) == [2]  # b is unchanged: no write for it
    assert plan.updates[2][HEADER.index("status")] == "returned"


def test_other_kiosks_rows_are_left_alone() -> None:
    sheet = [HEADER, row("a", "K2"), row("b", "K1")]
    plan = plan_rentals(sheet, [line("a", "K1", status="returned")], "K1")
    assert plan.foreign == 1
    assert plan.updates == {}
    assert [r[0] for r in plan.appends] == ["a"]  # not ours to update


def test_operator_columns_are_kept_and_missing_ones_added() -> None:
    header = ["transaction_id", "device_id", "status", "메모"]
    sheet = [header, ["a", "K1", "active", "staff note"]]
    plan = plan_rentals(sheet, [line("a", status="returned")], "K1")
    assert plan.header is not None and plan.header[:4] == header
    assert set(RENTAL_COLUMNS) <= set(plan.header)
    updated = plan.updates[2]
    assert updated[3] == "staff note" and updated[2] == "returned"


def test_a_duplicated_row_updates_the_first_only() -> None:
    sheet = [HEADER, row("a"), row("a")]
    plan = plan_rentals(sheet, [line("a", status="returned")], "K1")
    assert list(plan.updates) == [2]


def test_local_text_and_the_report() -> None:
    when = datetime(2026, 11, 26, 15, 30, tzinfo=UTC)
    assert local_text(when, SEOUL) == "2026-11-27 00:30:00"
    assert local_text(None, SEOUL) == ""
    table = report_table([RowProblem(5, "0012", "duplicate barcode")], "now", ["guard"])
    assert table[1] == ["5", "0012", "duplicate barcode", "now"]
    assert table[2] == ["", "", "guard", "now"]
    assert report_table([], "now", [])[1][2].startswith("no problems")


def test_the_last_slot_and_a_missed_run() -> None:
    times = [(6, 0), (18, 0)]
    # 2026-11-26 10:00 in Seoul: the last slot was 06:00 that morning.
    now = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
    slot = last_slot(now, times, SEOUL)
    assert slot == datetime(2026, 11, 25, 21, 0, tzinfo=UTC)
    assert missed(None, now, times, SEOUL)
    assert missed(datetime(2026, 11, 25, 20, 0, tzinfo=UTC), now, times, SEOUL)
    assert not missed(datetime(2026, 11, 25, 21, 5, tzinfo=UTC), now, times, SEOUL)
    # A week off: still one catch-up (missed is a yes/no, not a count).
    assert missed(datetime(2026, 11, 19, 0, 0, tzinfo=UTC), now, times, SEOUL)
    assert last_slot(now, [], SEOUL) is None
    assert not missed(datetime(2026, 11, 1, tzinfo=UTC), now, [], SEOUL)


def test_a_renamed_kiosk_still_updates_the_rows_of_its_older_rentals() -> None:
    # Rentals made before device_id changed keep the old id, in the ledger and the sheet.
    sheet = [HEADER, row("a", "DEVICE_001")]
    plan = plan_rentals(sheet, [line("a", "DEVICE_001", status="returned")], "K1")
    assert plan.appends == [] and list(plan.updates) == [2]
    assert plan.foreign == 0

"""Whole sync runs (members in, the report, rentals out) against each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lockerkey.store import sync_store
from lockerkey.sync.backend import SyncUnavailable, Table
from lockerkey.sync.sheet_rows import RENTAL_COLUMNS
from tests.fake_google import FakeGoogle
from tests.sync_harness import MEMBERS_HEADER, CsvSheets, GoogleSheetsSite, Kiosk, member_rows

COL = {name: i for i, name in enumerate(RENTAL_COLUMNS)}


@pytest.fixture(params=["csv", "gsheets"])
def sheets(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The same scenarios against CSV files and against Google Sheets (the local fake)."""
    if request.param == "csv":
        (tmp_path / "share").mkdir()
        yield CsvSheets(tmp_path / "share")
        return
    with FakeGoogle() as google:
        yield GoogleSheetsSite(tmp_path / "share", google)


@pytest.fixture
def kiosk(tmp_path: Path, sheets: Any) -> Iterator[Kiosk]:
    k = Kiosk(tmp_path / "k1")
    yield k
    k.close()


def by_tx(table: Table) -> dict[str, list[str]]:
    return {row[COL["transaction_id"]]: row for row in table[1:] if row and row[0]}


def test_members_in_with_korean_headers_dates_and_text_barcodes(kiosk: Kiosk, sheets: Any) -> None:
    sheets.set_members(
        [
            ["이름", "만료일", "바코드", "상태", "메모"],  # any column order, an extra column
            ["가나", "2027-01-31", "0012", "활성", "x"],
            ["다라", "2027.1.31", "0013", "정지", ""],
            ["마바", "2027. 01. 31", "0014", "만료", ""],
            ["사아", "2027/01/31", "0015", "active", ""],
            ["자차", "", "0016", "활성", ""],
        ]
    )
    done = kiosk.sync(sheets.backend())
    assert done.ok, done.error
    assert done.counts["members_added"] == 5 and done.counts["bad_rows"] == 0
    assert kiosk.member_status("0012") == ("active", None)  # leading zeros kept
    assert kiosk.member_status("0013") == ("suspended", None)
    assert kiosk.member_status("0014") == ("expired", None)
    member = kiosk.ledger.get_member("0015")
    assert member is not None and str(member.expiry_date) == "2027-01-31"
    assert sheets.report()[1][2].startswith("no problems")


def test_every_bad_row_is_skipped_and_reported_with_its_row_number(
    kiosk: Kiosk, sheets: Any
) -> None:
    sheets.set_members(
        [
            MEMBERS_HEADER,
            ["0001", "첫째", "활성", "2099-12-31", "남"],  # row 2
            ["", "바코드없음", "활성", "2099-12-31", "남"],  # row 3: empty barcode
            ["0001", "중복", "활성", "2099-12-31", "남"],  # row 4: duplicate, the first wins
            ["0002", "상태이상", "휴면", "2099-12-31", "남"],  # row 5: unknown status
            ["0003", "날짜이상", "활성", "2099-13-45", "남"],  # row 6: not a date
            ["0004", "정상", "활성", "2099-12-31", "여"],  # row 7
        ]
    )
    done = kiosk.sync(sheets.backend())
    assert done.ok and done.counts["bad_rows"] == 4 and done.counts["members_added"] == 2
    report = sheets.report()
    assert [r[0] for r in report[1:]] == ["3", "4", "5", "6"]
    assert all(r[2] for r in report[1:])
    assert kiosk.ledger.get_member("0001").name == "첫째"  # type: ignore[union-attr]
    run = sync_store.recent_runs(kiosk.ledger, 1)[0]
    assert run.status == "ok" and [b["row"] for b in run.details["bad_rows"]] == [3, 4, 5, 6]


def test_local_state_is_preserved_and_gone_members_are_deactivated(
    kiosk: Kiosk, sheets: Any
) -> None:
    sheets.set_members([MEMBERS_HEADER, *member_rows(4)])
    assert kiosk.sync(sheets.backend()).ok
    kiosk.rent("0001", 1)
    renamed = member_rows(3)
    renamed[0][1] = "새이름"
    sheets.set_members([MEMBERS_HEADER, *renamed])  # 0004 is gone from the sheet
    done = kiosk.sync(sheets.backend())
    assert done.ok and done.counts["members_removed"] == 1
    assert kiosk.member_status("0001") == ("active", "1")  # still renting locker 1
    assert kiosk.ledger.get_member("0001").name == "새이름"  # type: ignore[union-attr]
    assert kiosk.member_status("0004") == ("removed", None)
    sheets.set_members([MEMBERS_HEADER, *member_rows(4)])  # back in the sheet
    assert kiosk.sync(sheets.backend()).ok
    assert kiosk.member_status("0004") == ("active", None)


@pytest.mark.parametrize("kept", [0, 3])
def test_a_cleared_sheet_deactivates_nobody(kiosk: Kiosk, sheets: Any, kept: int) -> None:
    sheets.set_members([MEMBERS_HEADER, *member_rows(10)])
    assert kiosk.sync(sheets.backend()).ok
    sheets.set_members([MEMBERS_HEADER, *member_rows(kept)] if kept else [])
    done = kiosk.sync(sheets.backend())
    assert done.ok and done.guarded and done.counts["members_removed"] == 0
    assert all(kiosk.member_status(f"{i:04d}") == ("active", None) for i in range(1, 11))
    assert any("nobody was deactivated" in r[2] for r in sheets.report()[1:])
    kinds = [r[0] for r in kiosk.ledger.conn.execute("SELECT kind FROM events")]
    assert "sync_mass_removal_blocked" in kinds


def test_rentals_go_up_once_and_are_updated_in_place(kiosk: Kiosk, sheets: Any) -> None:
    sheets.set_members([MEMBERS_HEADER, *member_rows(4)])
    assert kiosk.sync(sheets.backend()).ok  # the members, before anyone rents
    kiosk.rent("0001", 1)
    kiosk.rent("0002", 2)
    first = kiosk.sync(sheets.backend())
    assert first.counts["rentals_appended"] == 2 and first.counts["rentals_updated"] == 0
    table = sheets.rental_rows()
    assert table[0] == list(RENTAL_COLUMNS)
    rows = by_tx(table)
    assert {r[COL["status"]] for r in rows.values()} == {"active"}
    assert {r[COL["device_id"]] for r in rows.values()} == {"K1"}
    assert rows["K1-tx1"][COL["member_name"]] == "회원1"
    assert rows["K1-tx1"][COL["rented_at"]].startswith("2026-11-26 ")
    kiosk.give_back(1)
    second = kiosk.sync(sheets.backend())
    assert second.counts == {**second.counts, "rentals_appended": 0, "rentals_updated": 1}
    rows = by_tx(sheets.rental_rows())
    assert len(rows) == 2 and len(sheets.rental_rows()) == 3
    assert rows["K1-tx1"][COL["status"]] == "returned" and rows["K1-tx1"][COL["returned_at"]]
    nothing = kiosk.sync(sheets.backend())
    assert nothing.counts["rentals_appended"] == nothing.counts["rentals_updated"] == 0


class LostResponse:
    """A backend whose rentals write reaches the sheet but whose answer never comes back."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name

    @property
    def api_calls(self) -> int:
        return int(self.inner.api_calls)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def write_rentals(self, *args: Any) -> None:
        self.inner.write_rentals(*args)
        raise SyncUnavailable("the connection dropped before the answer")


def test_a_crash_between_the_sheet_write_and_the_local_mark_duplicates_nothing(
    kiosk: Kiosk, sheets: Any
) -> None:
    sheets.set_members([MEMBERS_HEADER, *member_rows(4)])
    assert kiosk.sync(sheets.backend()).ok
    kiosk.rent("0001", 1)
    kiosk.rent("0002", 2)
    lost = kiosk.sync(LostResponse(sheets.backend()))
    assert not lost.ok and "dropped" in (lost.error or "")
    assert len(sync_store.rentals_for_upload(kiosk.ledger)) == 2  # not marked
    assert len(by_tx(sheets.rental_rows())) == 2  # but in the sheet
    kiosk.give_back(2)
    done = kiosk.sync(sheets.backend())
    assert done.ok and done.counts["rentals_appended"] == 0
    assert done.counts["rentals_updated"] == 1  # the return; the other row is unchanged
    table = sheets.rental_rows()
    assert len(table) == 3 and len(by_tx(table)) == 2
    assert sync_store.rentals_for_upload(kiosk.ledger) == []


def test_two_kiosks_share_one_rentals_sheet(tmp_path: Path, kiosk: Kiosk, sheets: Any) -> None:
    other = Kiosk(tmp_path / "k2", device_id="K2")
    try:
        sheets.set_members([MEMBERS_HEADER, *member_rows(4)])
        assert kiosk.sync(sheets.backend()).ok
        assert other.sync(sheets.backend()).ok
        kiosk.rent("0001", 1)
        other.rent("0002", 1)
        assert kiosk.sync(sheets.backend()).ok
        assert other.sync(sheets.backend()).ok
        kiosk.give_back(1)
        other.give_back(1)
        assert kiosk.sync(sheets.backend()).counts["rentals_updated"] == 1
        assert other.sync(sheets.backend()).counts["rentals_updated"] == 1
        rows = by_tx(sheets.rental_rows())
        assert len(rows) == 2 and len(sheets.rental_rows()) == 3
        assert rows["K1-tx1"][COL["device_id"]] == "K1"
        assert rows["K2-tx1"][COL["device_id"]] == "K2"
        assert {r[COL["status"]] for r in rows.values()} == {"returned"}
    finally:
        other.close()


class Offline:
    """No network at all."""

    name = "csv"
    api_calls = 0

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any) -> None:
            raise SyncUnavailable("no network")

        return fail


def test_a_week_offline_then_one_sync(kiosk: Kiosk, sheets: Any) -> None:
    sheets.set_members([MEMBERS_HEADER, *member_rows(6)])
    assert kiosk.sync(sheets.backend()).ok
    for day in range(7):
        locker = day % 6 + 1
        kiosk.rent(f"{locker:04d}", locker)
        kiosk.give_back(locker)
        failed = kiosk.sync(Offline())
        assert not failed.ok and failed.error == "no network"
    runs = sync_store.recent_runs(kiosk.ledger, 20)
    assert [r.status for r in runs[:7]] == ["failed"] * 7
    backend = sheets.backend()
    done = kiosk.sync(backend)
    assert done.ok and done.counts["rentals_appended"] == 7
    assert len(by_tx(sheets.rental_rows())) == 7
    assert sync_store.last_success(kiosk.ledger) is not None


def test_a_broken_member_sheet_fails_the_run_but_rentals_still_go_up(
    kiosk: Kiosk, sheets: Any
) -> None:
    sheets.set_members([MEMBERS_HEADER, *member_rows(4)])
    assert kiosk.sync(sheets.backend()).ok
    kiosk.rent("0001", 1)
    sheets.set_members([["이름", "상태"], ["가나", "활성"]])  # someone deleted the barcode column
    done = kiosk.sync(sheets.backend())
    assert not done.ok and "members:" in (done.error or "") and "바코드" in (done.error or "")
    assert done.counts["rentals_appended"] == 1
    assert len(by_tx(sheets.rental_rows())) == 1
    assert kiosk.member_status("0002") == ("active", None)  # nobody deactivated
    assert sync_store.recent_runs(kiosk.ledger, 1)[0].status == "failed"

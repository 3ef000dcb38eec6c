"""A big gym's sync against the Google Sheets fake: 10,000 members in and 10,000 rentals out
in a fixed, small number of API calls; 429 and 500 storms ridden out or given up cleanly."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lockerkey.store import sync_store
from lockerkey.store.timestamps import ts
from tests.fake_google import FakeGoogle
from tests.sync_harness import MEMBERS_HEADER, GoogleSheetsSite, Kiosk, member_rows

N = 10_000


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[Kiosk, GoogleSheetsSite]]:
    with FakeGoogle() as google:
        sheets = GoogleSheetsSite(tmp_path / "share", google)
        kiosk = Kiosk(tmp_path / "k1")
        try:
            yield kiosk, sheets
        finally:
            kiosk.close()


def past_rentals(kiosk: Kiosk, n: int, members: int = N) -> None:
    """``n`` returned rentals of members 0001.., as years of use leave them (written directly:
    the engine's path is tested elsewhere; here only their number matters)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        out = start + timedelta(minutes=10 * i)
        back = out + timedelta(hours=1)
        locker = str(i % 6 + 1)
        member = f"{i % members + 1:04d}"
        rows.append((f"T{i:06d}", member, locker, ts(out), ts(back), ts(out), ts(back), locker))
    with kiosk.ledger.transaction() as c:
        c.executemany(
            "INSERT INTO rentals (transaction_id, member_id, locker_number, rental_sensor_time,"
            " return_sensor_time, created_at, updated_at, return_actual_locker, status,"
            " rental_verified, return_verified, device_id)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'returned', 1, 1, 'K1')",
            rows,
        )


def test_ten_thousand_members_and_rentals_in_a_handful_of_calls(
    site: tuple[Kiosk, GoogleSheetsSite],
) -> None:
    kiosk, sheets = site
    sheets.set_members([MEMBERS_HEADER, *member_rows(N)])
    first = kiosk.sync(sheets.backend())
    assert first.ok and first.counts["members_added"] == N
    past_rentals(kiosk, N)
    sheets.google.reset_counts()
    done = kiosk.sync(sheets.backend())
    assert done.ok, done.error
    assert done.counts["rentals_appended"] == N
    assert done.api_calls <= 10, sheets.google.kinds()
    assert len(sheets.rental_rows()) == N + 1
    assert sync_store.rentals_for_upload(kiosk.ledger) == []
    # Every row changed (say, a re-sync after an edit): updates in place, same call count.
    with kiosk.ledger.transaction() as c:
        c.execute(
            "UPDATE rentals SET error_details = 'checked', revision = revision + 1, sync_status = 0"
        )
    sheets.google.reset_counts()
    again = kiosk.sync(sheets.backend())
    assert (
        again.ok and again.counts["rentals_updated"] == N and again.counts["rentals_appended"] == 0
    )
    assert again.api_calls <= 10
    assert len(sheets.rental_rows()) == N + 1


def test_the_rentals_upload_alone_takes_at_most_five_calls(
    site: tuple[Kiosk, GoogleSheetsSite],
) -> None:
    kiosk, sheets = site
    sheets.set_members([MEMBERS_HEADER, *member_rows(6)])
    assert kiosk.sync(sheets.backend()).ok
    past_rentals(kiosk, N, members=6)
    backend = sheets.backend()
    backend.read_members()  # the members spreadsheet opened: what follows is rentals only
    backend.write_report([["row"]])
    before = backend.api_calls
    from lockerkey.sync.runner import Outcome, _rentals  # noqa: PLC0415

    outcome = Outcome(0, ok=False)
    _rentals(kiosk.settings, kiosk.ledger, backend, outcome)
    assert outcome.counts["rentals_appended"] == N
    assert backend.api_calls - before <= 5


def test_a_storm_of_429s_and_500s_is_ridden_out(site: tuple[Kiosk, GoogleSheetsSite]) -> None:
    kiosk, sheets = site
    sheets.set_members([MEMBERS_HEADER, *member_rows(6)])
    sheets.google.fail_next(3, status=429)
    done = kiosk.sync(sheets.backend())
    assert done.ok, done.error
    assert sheets.sleeps and max(sheets.sleeps) <= 32  # capped backoff, injected sleep
    sheets.google.clear_faults()
    kiosk.rent("0001", 1)
    sheets.google.fail_next(2, status=500)
    assert kiosk.sync(sheets.backend()).ok
    assert len(sheets.rental_rows()) == 2


def test_a_storm_that_does_not_end_fails_the_run_and_loses_nothing(
    site: tuple[Kiosk, GoogleSheetsSite],
) -> None:
    kiosk, sheets = site
    sheets.set_members([MEMBERS_HEADER, *member_rows(6)])
    assert kiosk.sync(sheets.backend()).ok
    kiosk.rent("0001", 1)
    sheets.google.fail_when(lambda _call: True, status=500, times=None)
    failed = kiosk.sync(sheets.backend())
    assert not failed.ok and "500" in (failed.error or "")
    run = sync_store.recent_runs(kiosk.ledger, 1)[0]
    assert run.status == "failed" and run.error == failed.error and run.api_calls
    assert len(sync_store.rentals_for_upload(kiosk.ledger)) == 1  # still to go up
    sheets.google.clear_faults()
    assert kiosk.sync(sheets.backend()).ok
    assert len(sheets.rental_rows()) == 2

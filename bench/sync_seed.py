"""The seed design's sync (design-sketch.md, ``sync_with_google_sheets``) beside ours
(bench/sync_10k.py), measured the same way: real gspread + google-auth against the local
Sheets fake (tests/fake_google.py) on loopback, the same invented data (10,000 members in,
then 10,000 rentals out), one ``append_row`` request per rental as the seed does. Run:

    .venv/bin/python -m bench.sync_seed
"""

from __future__ import annotations

import platform
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import gspread
from tests.fake_google import FakeGoogle
from tests.sync_harness import MEMBERS_HEADER, GoogleSheetsSite, member_rows

from bench import sync_10k
from lockerkey.sync.google_http import GoogleHTTP

N = 10_000
# The seed's two tables its sync uses, with its own column names (those this data needs).
SCHEMA = """
CREATE TABLE members (member_id TEXT PRIMARY KEY, member_name TEXT NOT NULL, status TEXT
  DEFAULT 'active', expiry_date DATE, currently_renting TEXT, daily_rental_count INTEGER
  DEFAULT 0, last_rental_time TIMESTAMP, sync_date TIMESTAMP);
CREATE TABLE rentals (rental_id INTEGER PRIMARY KEY AUTOINCREMENT, transaction_id TEXT UNIQUE,
  member_id TEXT NOT NULL, locker_number TEXT NOT NULL, rental_sensor_time TIMESTAMP,
  return_sensor_time TIMESTAMP, return_actual_locker TEXT, status TEXT DEFAULT 'active',
  error_code TEXT, error_details TEXT, device_id TEXT DEFAULT 'DEVICE_001',
  sync_status INTEGER DEFAULT 0, updated_at TIMESTAMP);"""
# The seed reads record['barcode'] etc.; our invented sheet has the Korean headers.
BARCODE, NAME, STATUS, EXPIRY = MEMBERS_HEADER[:4]
Marks = list[tuple[int, float]]  # (API calls so far, perf_counter) after each step
# The seed elides the appended row ([...]): its columns that our rentals sheet has too.
ROW = ("transaction_id", "device_id", "member_id", "locker_number", "rental_sensor_time",
       "return_sensor_time", "status", "error_code", "error_details", "return_actual_locker",
       "updated_at")  # fmt: skip


class TimedFake(FakeGoogle):
    """The fake, also adding up the time it spends answering (its share of the seconds)."""

    server_s = 0.0

    def handle(self, *args: Any, **kw: Any) -> Any:
        """Answer as the fake does, timed."""
        began, answer = time.perf_counter(), super().handle(*args, **kw)
        self.server_s += time.perf_counter() - began
        return answer


def seed_sync(conn: sqlite3.Connection, key_file: Path, url: str, marks: Marks) -> None:
    """The seed's algorithm, call for call; ``marks`` gets its start, members and end."""
    marks.append((0, time.perf_counter()))
    gc = gspread.service_account(filename=str(key_file), http_client=GoogleHTTP)
    http = cast(GoogleHTTP, gc.http_client)  # gspread builds the class it is given
    # Only the base URL changes (to the fake); no retries, so the count is the call pattern.
    http.configure(api_endpoint=url, timeout_s=60.0, retries=0, sleep=time.sleep, rand=lambda: 0)
    sheet = gc.open("락카키_회원관리").sheet1
    for member in sheet.get_all_records():
        conn.execute(
            "INSERT OR REPLACE INTO members (member_id, member_name, status, expiry_date)"
            " VALUES (?, ?, ?, ?)",
            (member[BARCODE], member[NAME], member[STATUS], member[EXPIRY]),
        )
    marks.append((http.calls, time.perf_counter()))
    records = conn.execute("SELECT * FROM rentals WHERE sync_status = 0").fetchall()
    if records:
        rental_sheet = gc.open("락카키_대여기록").sheet1
        for record in records:
            rental_sheet.append_row([record[c] or "" for c in ROW])
        conn.execute("UPDATE rentals SET sync_status = 1 WHERE sync_status = 0")
    conn.commit()
    marks.append((http.calls, time.perf_counter()))


def add_rentals(conn: sqlite3.Connection, n: int) -> None:
    """``n`` returned, unsynced rentals, as bench/sync_10k.py's past_rentals makes them."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = [(start + timedelta(minutes=10 * i), start + timedelta(minutes=10 * i + 60))
             for i in range(n)]  # fmt: skip
    rows = [(f"T{i:06d}", f"{i % N + 1:04d}", str(i % 6 + 1), out.isoformat(), back.isoformat(),
             str(i % 6 + 1), back.isoformat()) for i, (out, back) in enumerate(times)]  # fmt: skip
    conn.executemany(
        "INSERT INTO rentals (transaction_id, member_id, locker_number, rental_sensor_time,"
        " return_sensor_time, return_actual_locker, updated_at, status, device_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, 'returned', 'K1')",
        rows,
    )
    conn.commit()


def measure(n: int = N) -> dict[str, float]:
    """Calls and seconds of the seed's sync: members in, then (next sync) the rentals out."""
    google = TimedFake()
    with tempfile.TemporaryDirectory() as where, google:
        sheets = GoogleSheetsSite(Path(where) / "share", google)
        sheets.set_members([MEMBERS_HEADER, *member_rows(n)])
        conn = sqlite3.connect(Path(where) / "locker.db")
        conn.row_factory = sqlite3.Row
        conn.executescript(SCHEMA)
        try:
            marks: Marks = []
            seed_sync(conn, sheets.key_file, google.url, marks)
            add_rentals(conn, n)
            google.reset_counts()
            google.server_s, before = 0.0, len(marks)
            seed_sync(conn, sheets.key_file, google.url, marks)
            assert (google.count(), len(sheets.rental_rows())) == (marks[-1][0], n)
            (zeros,) = conn.execute("SELECT COUNT(*) FROM members WHERE member_id LIKE '0%'")
        finally:
            conn.close()
    (_, began), _, (members_calls, members_at) = marks[:before]
    (_, again), (read_calls, read_at), (whole_calls, done_at) = marks[before:]
    return {
        "members_calls": members_calls,
        "members_s": members_at - began,
        "rentals_calls": whole_calls - read_calls,
        "rentals_s": done_at - read_at,
        "whole_calls": whole_calls,
        "whole_s": done_at - again,
        "whole_fake_s": google.server_s,  # of whole_s, spent inside the fake answering
        "barcodes_with_zeros_kept": zeros[0],  # get_all_records() reads "0001" as 1
    }


def main() -> None:
    """Print the seed's figures beside ours (bench/sync_10k.py)."""
    r, ours = measure(), sync_10k.measure()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print("| 10,000 members, 10,000 rentals | seed: calls | seed: s | ours: calls | ours: s |")
    print("|---|---|---|---|---|")
    for label, seed, our in (("first sync: members in", "members", "first"),
                             ("next sync: members in, rentals out", "whole", "next")):  # fmt: skip
        print(f"| {label} | {r[seed + '_calls']} | {r[seed + '_s']:.2f} | {ours[our + '_calls']}"
              f" | {ours[our + '_s']:.2f} |")  # fmt: skip
    print(f"seed, rentals step alone: {r['rentals_calls']} calls, {r['rentals_s']:.2f} s"
          f" ({r['whole_fake_s']:.2f} s of the next sync inside the fake)")  # fmt: skip
    print(f"seed: barcodes 0001.. stored with their zeros: {r['barcodes_with_zeros_kept']}")


if __name__ == "__main__":
    main()

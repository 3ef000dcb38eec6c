"""How long a big gym's sync takes, and how many API calls: 10,000 members in and 10,000
rentals out, through the real gspread + google-auth clients, against the local Sheets fake
(tests/fake_google.py) on loopback. Run from the repository root:

    .venv/bin/python -m bench.sync_10k
"""

from __future__ import annotations

import platform
import tempfile
import time
from pathlib import Path

from tests.fake_google import FakeGoogle
from tests.sync_harness import MEMBERS_HEADER, GoogleSheetsSite, Kiosk, member_rows
from tests.test_sync_scale import past_rentals

from lockerkey.sync.runner import Outcome

N = 10_000


def measure() -> dict[str, float]:
    """The two syncs' API calls and seconds."""
    first, members_s, second, whole_s = _runs()
    return {
        "first_calls": first.api_calls,
        "first_s": members_s,
        "next_calls": second.api_calls,
        "next_s": whole_s,
    }


def _runs() -> tuple[Outcome, float, Outcome, float]:
    with tempfile.TemporaryDirectory() as where, FakeGoogle() as google:
        sheets = GoogleSheetsSite(Path(where) / "share", google)
        kiosk = Kiosk(Path(where) / "k1")
        try:
            sheets.set_members([MEMBERS_HEADER, *member_rows(N)])
            began = time.perf_counter()
            first = kiosk.sync(sheets.backend())
            members_s = time.perf_counter() - began
            past_rentals(kiosk, N)
            began = time.perf_counter()
            second = kiosk.sync(sheets.backend())
            whole_s = time.perf_counter() - began
            assert first.ok and second.ok, (first.error, second.error)
        finally:
            kiosk.close()
    return first, members_s, second, whole_s


def main() -> None:
    """Print one table row per step."""
    first, members_s, second, whole_s = _runs()
    python = f"{platform.python_implementation()} {platform.python_version()}"
    print(f"machine: {platform.machine()}, {python}")
    print("| sync | members in | rentals out | API calls | seconds |")
    print("|---|---|---|---|---|")
    for label, run, seconds in (
        ("first (10,000 new members)", first, members_s),
        ("next (10,000 members, 10,000 new rentals)", second, whole_s),
    ):
        c = run.counts
        print(
            f"| {label} | {c['members_read']:,} | {c['rentals_appended']:,}"
            f" | {run.api_calls} | {seconds:.2f} |"
        )


if __name__ == "__main__":
    main()

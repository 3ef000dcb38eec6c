"""A kiosk's ledger with rentals made by the real engine, and a sync backend to run against:
CSV files, or Google Sheets served by the local fake (tests/fake_google.py)."""

from __future__ import annotations

import csv
import dataclasses
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lockerkey.config import Settings, settings_from_mapping
from lockerkey.core.events import KeySensed, Scan, Select
from lockerkey.core.layout import Policy
from lockerkey.store.ledger import Ledger
from lockerkey.sync.backend import Backend, Table
from lockerkey.sync.csv_backend import CsvFiles
from lockerkey.sync.runner import Outcome, run_sync
from tests.conftest import SEOUL, LedgerRig, per_slot_layout

MEMBERS_HEADER = ["바코드", "이름", "상태", "만료일", "성별"]


def member_rows(n: int, start: int = 1) -> Table:
    """``n`` invented members, barcodes 0001.. (numeric-looking on purpose)."""
    return [
        [f"{i:04d}", f"회원{i}", "활성", "2099. 12. 31", "남" if i % 2 else "여"]
        for i in range(start, start + n)
    ]


class Kiosk:
    """One kiosk: settings, a real ledger file, an engine committing to it, a clock."""

    def __init__(self, where: Path, device_id: str = "K1", lockers: int = 6) -> None:
        where.mkdir(parents=True, exist_ok=True)
        self.settings: Settings = settings_from_mapping(
            {
                "device_id": device_id,
                "data_dir": str(where),
                "timezone": "Asia/Seoul",
                "cabinet": [{"port": "unused", "lockers": f"1-{lockers}"}],
                "session": {"selection": "choose"},
                "sync": {"backend": "csv"},
            }
        )
        self.ledger = Ledger.open(self.settings.db_path, device_id)
        self.rig = LedgerRig(
            self.ledger,
            layout=per_slot_layout(lockers),
            policy=Policy(timeout_s=30, tz=SEOUL, selection="choose"),
            tx_prefix=f"{device_id}-tx",
        )
        self.rig.online()
        self.clock = itertools.count()

    def now(self) -> datetime:
        """Wall time that moves on by a second each reading."""
        return datetime(2026, 11, 26, 3, 0, tzinfo=UTC) + timedelta(seconds=next(self.clock))

    def rent(self, member: str, locker: int) -> None:
        """A rental, as the engine confirms it (key sensed out)."""
        self.rig.do(Scan(member))
        self.rig.do(Select(str(locker)))
        self.rig.do(KeySensed(0, locker, False))

    def give_back(self, locker: int) -> None:
        """A return into its own slot."""
        self.rig.do(Scan(f"KEY-{locker}"))
        self.rig.do(KeySensed(0, locker, True))

    def sync(self, backend: Backend, trigger: str = "manual") -> Outcome:
        """One whole sync run."""
        return run_sync(self.settings, self.ledger, backend, trigger, self.now)

    def member_status(self, member_id: str) -> tuple[str, str | None] | None:
        row = self.ledger.conn.execute(
            "SELECT status, currently_renting FROM members WHERE member_id = ?", (member_id,)
        ).fetchone()
        return (row[0], row[1]) if row else None

    def close(self) -> None:
        self.ledger.close()


@dataclasses.dataclass
class CsvSheets:
    """The CSV backend's two files (and its report), for the scenario tests."""

    folder: Path

    def __post_init__(self) -> None:
        self.members = self.folder / "members.csv"
        self.rentals = self.folder / "rentals.csv"

    def set_members(self, table: Table) -> None:
        with self.members.open("w", encoding="utf-8", newline="") as out:
            csv.writer(out).writerows(table)

    def backend(self) -> CsvFiles:
        return CsvFiles(self.members, self.rentals)

    def report(self) -> Table:
        return _read(self.folder / "sync_report.csv")

    def rental_rows(self) -> Table:
        return _read(self.rentals)


def _read(path: Path) -> Table:
    if not path.exists():
        return []
    with path.open(encoding="utf-8-sig", newline="") as f:
        return [row for row in csv.reader(f)]


Factory = Callable[[Path], CsvSheets]


class GoogleSheetsSite:
    """The fake Google with a member spreadsheet and a rentals spreadsheet, for the scenarios."""

    def __init__(self, folder: Path, google: Any) -> None:
        from tests.google_creds import write_key  # noqa: PLC0415

        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.google = google
        self.key_file = write_key(folder / "credentials.json", google.token_uri)
        self.members_key = google.add_spreadsheet("락카키_회원관리", {"회원": []})
        self.rentals_key = google.add_spreadsheet("락카키_대여기록", {"대여기록": []})
        self.sleeps: list[float] = []

    def set_members(self, table: Table) -> None:
        self.google.set_values(self.members_key, "회원", table)

    def backend(self) -> Any:
        from lockerkey.sync.gsheets import GoogleSheets  # noqa: PLC0415

        return GoogleSheets(
            self.key_file,
            self.members_key,
            "",
            self.rentals_key,
            "",
            api_endpoint=self.google.url,
            timeout_s=5.0,
            sleep=self.sleeps.append,
        )

    def report(self) -> Table:
        return list(self.google.values(self.members_key, "sync_report"))

    def rental_rows(self) -> Table:
        return list(self.google.values(self.rentals_key, "대여기록"))

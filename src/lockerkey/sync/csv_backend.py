"""The CSV backend: ``members.csv`` in, ``rentals.csv`` out, for sites without Google."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from lockerkey.sync.backend import SyncRefused, Table
from lockerkey.sync.csv_members import MembersFileError, read_table

REPORT_NAME = "sync_report.csv"


class CsvFiles:
    """Files on the kiosk (or a mounted share) with the same semantics as the two sheets."""

    name = "csv"

    def __init__(self, members: Path, rentals: Path) -> None:
        self.members = members
        self.rentals = rentals
        self.report = members.with_name(REPORT_NAME)
        self.api_calls = 0  # file reads and writes, counted like requests

    def read_members(self) -> Table:
        """The members file as text cells (a missing file needs a person: refused)."""
        self.api_calls += 1
        if not self.members.exists():
            raise SyncRefused(f"{self.members}: no such file (the member list to read)")
        try:
            return read_table(self.members)
        except MembersFileError as err:
            raise SyncRefused(str(err)) from err

    def write_report(self, rows: Table) -> None:
        """Replace sync_report.csv beside the members file."""
        self.api_calls += 1
        _write(self.report, rows)

    def read_rentals(self) -> Table:
        """The rentals file, or [] before the first upload."""
        self.api_calls += 1
        if not self.rentals.exists():
            return []
        try:
            return read_table(self.rentals)
        except MembersFileError as err:
            raise SyncRefused(str(err)) from err

    def write_rentals(
        self, header: list[str] | None, appends: Table, updates: dict[int, list[str]]
    ) -> None:
        """Rewrite the file with the header, the updated rows and the new ones, atomically."""
        self.api_calls += 1
        table = self.read_rentals() if self.rentals.exists() else []
        self.api_calls -= 1  # the read is part of this one write
        if header is not None:
            table[:1] = [header]
        for number, row in updates.items():
            while len(table) < number:
                table.append([])
            table[number - 1] = row
        table.extend(appends)
        _write(self.rentals, table)

    def close(self) -> None:
        """Nothing stays open between calls."""


def _write(path: Path, rows: Table) -> None:
    """Write a CSV file that Excel opens as UTF-8 (BOM), replacing the old one in one step."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with temporary.open("w", encoding="utf-8-sig", newline="") as out:
            out.write(buffer.getvalue())
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(path)
    except OSError as err:
        raise SyncRefused(f"{path}: cannot write: {err.strerror or err}") from err

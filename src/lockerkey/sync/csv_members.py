"""Reading the member master from a CSV file (Excel or Google Sheets export)."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

from lockerkey.core.roster import MemberRow, RosterError, RowProblem, parse_rows

__all__ = ["MembersFileError", "members_from_table", "read_members_csv", "read_table"]

# Tried in order: Excel's "CSV UTF-8" (with BOM) and Google Sheets (without) first, then
# what Korean Excel writes by default. CP949 is a superset of EUC-KR, so it covers both.
_ENCODINGS = ("utf-8-sig", "cp949")


class MembersFileError(Exception):
    """The members file cannot be used at all; the message names the file and the cause."""


def _decode(path: Path, data: bytes) -> str:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Excel's "Unicode text" export; say what to do instead of just "binary".
        raise MembersFileError(f"{path}: UTF-16 text is not supported; save it as CSV (UTF-8)")
    if b"\x00" in data:
        raise MembersFileError(f"{path}: not a text file (it contains NUL bytes)")
    for encoding in _ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise MembersFileError(f"{path}: not a text file or unknown encoding")


def _records(path: Path, text: str) -> list[list[str]]:
    # strict=True turns an unclosed quote into an error; otherwise the csv module would
    # silently swallow the rest of the file into a single cell.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[list[str]] = []
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return records
        except csv.Error as err:
            where = f"line {reader.line_num}"
            if reader.line_num != start:
                where += f" (record starting on line {start})"
            raise MembersFileError(f"{path}: not a valid CSV file at {where}: {err}") from err
        records.append(record)


def read_table(path: Path) -> list[list[str]]:
    """A CSV file's records, decoded (UTF-8 with or without BOM, or CP949)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise MembersFileError(f"{path}: cannot read file: {err.strerror or err}") from err
    return _records(path, _decode(path, data))


def members_from_table(
    records: list[list[str]], where: str
) -> tuple[list[MemberRow], list[RowProblem]]:
    """Valid rows and per-row problems of a members table (a CSV file or a worksheet).

    A spreadsheet shows each record as one row, even one whose quoted cell spans several
    lines, so row numbers count records, not file lines. Blank rows above the header are
    tolerated but still counted so that numbers match what the operator sees. A table with
    nothing in it gives no rows: the caller decides what an empty member list means.
    """
    header_at = next(
        (i for i, record in enumerate(records) if any(cell.strip() for cell in record)), None
    )
    if header_at is None:
        return [], []
    try:
        return parse_rows(records[header_at], records[header_at + 1 :], first_row=header_at + 2)
    except RosterError as err:
        raise MembersFileError(f"{where}: {err}") from err


def read_members_csv(path: Path) -> tuple[list[MemberRow], list[RowProblem]]:
    """Read a members CSV file into valid rows and per-row problems."""
    records = read_table(path)
    if not any(any(cell.strip() for cell in record) for record in records):
        text = path.read_bytes().decode("utf-8", "replace")
        cause = "empty file" if not text.strip("\ufeff \t\r\n") else "no header row"
        raise MembersFileError(f"{path}: {cause}")
    return members_from_table(records, str(path))

"""How rentals and the sync report look in a sheet, and which rows to append or update.

Pure: tables of text in, tables of text out. The rentals sheet has one row per rental, keyed
by ``transaction_id``; a kiosk writes and updates only rows with its own ``device_id``, so
several kiosks can share one sheet. Columns an operator added (notes, say) are kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from lockerkey.core.roster import RowProblem
from lockerkey.sync.backend import Table

# The rentals sheet's columns, in order (docs/sync.md). Renaming one is a breaking change.
RENTAL_COLUMNS = (
    "transaction_id",
    "device_id",
    "member_id",
    "member_name",
    "locker",
    "rented_at",
    "returned_at",
    "status",
    "error_code",
    "error_details",
    "return_locker",
    "updated_at",
)
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
REPORT_HEADER = ["row", "barcode", "reason", "checked_at"]


@dataclass(frozen=True)
class RentalLine:
    """One rental as the sheet shows it (times already local text)."""

    transaction_id: str
    device_id: str
    values: dict[str, str]


@dataclass(frozen=True)
class RentalPlan:
    """What to write: a header (or None), rows to append, rows to replace by sheet row."""

    header: list[str] | None
    appends: Table
    updates: dict[int, list[str]]
    foreign: int  # rows of other kiosks seen (left alone)


def local_text(when: datetime | None, tz: ZoneInfo) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS`` in the site's zone ("" for none)."""
    return when.astimezone(tz).strftime(TIME_FORMAT) if when is not None else ""


def plan_rentals(sheet: Table, lines: Sequence[RentalLine], device_id: str) -> RentalPlan:
    """Append rentals the sheet lacks, update the ones it has (this kiosk's rows only).

    Reconciling by ``transaction_id`` is what makes an upload exactly-once: a row written
    before a crash (or a lost response) is found here and updated, never appended again.
    """
    header = [cell.strip() for cell in sheet[0]] if sheet else []
    write_header = None
    if not any(header):
        header = list(RENTAL_COLUMNS)
        write_header = header
    else:
        missing = [c for c in RENTAL_COLUMNS if c not in header]
        if missing:  # an older or hand-made header: add our columns at its end
            header = header + missing
            write_header = header
    at = {name: i for i, name in reversed(list(enumerate(header)))}
    tx_col, device_col = at["transaction_id"], at["device_id"]
    # Keyed by (device, transaction): a rental is matched to the row its own kiosk wrote,
    # also after this kiosk's device_id was renamed (older rentals keep the old id).
    rows_of: dict[tuple[str, str], tuple[int, list[str]]] = {}
    for number, row in enumerate(sheet[1:], start=2):
        tx = row[tx_col].strip() if tx_col < len(row) else ""
        device = row[device_col].strip() if device_col < len(row) else ""
        if tx:  # a duplicate from elsewhere: the first row is the one kept
            rows_of.setdefault((device, tx), (number, row))
    ours = {(line.device_id, line.transaction_id) for line in lines}
    foreign = sum(1 for key in rows_of if key[0] != device_id and key not in ours)
    appends: Table = []
    updates: dict[int, list[str]] = {}
    for line in lines:
        found = rows_of.get((line.device_id, line.transaction_id))
        base = list(found[1]) if found else []
        base += [""] * (len(header) - len(base))
        cells = list(base)
        for name, value in line.values.items():
            cells[at[name]] = value
        if found is None:
            appends.append(cells)
        elif cells != base:  # unchanged rows cost nothing
            updates[found[0]] = cells
    return RentalPlan(write_header, appends, updates, foreign)


def report_table(problems: Iterable[RowProblem], checked_at: str, notes: Sequence[str]) -> Table:
    """The ``sync_report`` worksheet: one row per skipped member row, then any notes."""
    rows: Table = [REPORT_HEADER]
    rows += [[str(p.row), p.barcode, p.reason, checked_at] for p in problems]
    rows += [["", "", note, checked_at] for note in notes]
    if len(rows) == 1:
        rows.append(["", "", "no problems / 문제 없음", checked_at])
    return rows

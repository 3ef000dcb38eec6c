"""Turning member-master rows (CSV now, Google Sheets later) into validated member records."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from lockerkey.core.model import MemberStatus

__all__ = [
    "REQUIRED",
    "MemberRow",
    "RosterError",
    "RowProblem",
    "canonical_header",
    "parse_date",
    "parse_rows",
    "parse_status",
]

REQUIRED = ("barcode", "name", "status", "expiry_date")

# Korean name shown next to each required column in error messages, so an operator
# whose sheet is in Korean knows which header to add.
_KOREAN_NAME = {
    "barcode": "바코드",
    "name": "이름",
    "status": "상태",
    "expiry_date": "만료일",
}

_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "barcode": ("바코드", "회원번호", "barcode", "member_id"),
    "name": ("이름", "성명", "회원명", "name", "member_name"),
    "status": ("상태", "status"),
    "expiry_date": ("만료일", "만료일자", "expiry", "expiry_date", "expires"),
    "gender": ("성별", "gender", "sex"),
    "category": ("구분", "분류", "category"),
    "zone": ("구역", "zone"),
}
_CANONICAL = {alias: canon for canon, aliases in _HEADER_ALIASES.items() for alias in aliases}

_STATUS_WORDS = {
    "active": MemberStatus.ACTIVE,
    "suspended": MemberStatus.SUSPENDED,
    "expired": MemberStatus.EXPIRED,
    "활성": MemberStatus.ACTIVE,
    "정지": MemberStatus.SUSPENDED,
    "만료": MemberStatus.EXPIRED,
}

# ASCII digits only: \d would also accept e.g. full-width or Arabic-Indic digits.
_DATE_SEPARATED = re.compile(
    r"(?P<y>[0-9]{4})(?P<sep>[-/])(?P<m>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})"
)
# Korean-locale sheets render dates as "2026. 12. 31." (space after each dot, trailing dot).
_DATE_DOTTED = re.compile(r"(?P<y>[0-9]{4})\.\s*(?P<m>[0-9]{1,2})\.\s*(?P<d>[0-9]{1,2})\.?")
_DATE_COMPACT = re.compile(r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})")

_BARCODE_MAX = 64
_BARCODE_REASON = f"barcode must be 1-{_BARCODE_MAX} printable ASCII characters"


@dataclass(frozen=True)
class MemberRow:
    """One valid member-master row."""

    barcode: str
    name: str
    status: MemberStatus
    expiry_date: date | None
    gender: str | None = None
    category: str | None = None
    zone: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RowProblem:
    """A member-master row that was skipped, and why."""

    row: int
    barcode: str
    reason: str

    def __str__(self) -> str:
        """Render as the operator should read it."""
        return f"row {self.row}: {self.reason}"


class RosterError(Exception):
    """The header as a whole is unusable (required columns missing or duplicated)."""


def _clean(text: str) -> str:
    # str.strip() already covers U+00A0 and U+3000, but not the BOM, which Excel and
    # some copy-paste paths leave at the start of a cell.
    return text.strip().strip("\ufeff").strip()


def canonical_header(text: str) -> str:
    """Map a header cell to its canonical column name, or return it stripped if unknown."""
    stripped = _clean(text)
    # "Expiry Date" and "member-id" are how people actually type these headers.
    key = re.sub(r"[\s\-]+", "_", stripped.casefold())
    return _CANONICAL.get(key, stripped)


def parse_status(text: str) -> MemberStatus | None:
    """Parse a status cell (English any case, or 활성/정지/만료); None if empty or unknown."""
    return _STATUS_WORDS.get(_clean(text).casefold())


def parse_date(text: str) -> date | None:
    """Parse an expiry-date cell; None if empty, ValueError if not a real date in a known form."""
    cleaned = _clean(text)
    if not cleaned:
        return None
    for pattern in (_DATE_SEPARATED, _DATE_DOTTED, _DATE_COMPACT):
        match = pattern.fullmatch(cleaned)
        if match:
            # date() itself rejects month 13, Feb 30, year 0 and the like.
            return date(int(match["y"]), int(match["m"]), int(match["d"]))
    raise ValueError(f"not a date: {text!r}")


def _valid_barcode(barcode: str) -> bool:
    return 1 <= len(barcode) <= _BARCODE_MAX and all(" " <= ch <= "~" for ch in barcode)


def _column_index(header: Sequence[str]) -> dict[str, int]:
    index: dict[str, int] = {}
    seen_as: dict[str, list[str]] = {}
    for position, cell in enumerate(header):
        name = canonical_header(cell)
        if not name:
            continue
        seen_as.setdefault(name, []).append(_clean(cell))
        index.setdefault(name, position)

    faults: list[str] = []
    missing = [name for name in REQUIRED if name not in index]
    if missing:
        listed = ", ".join(f"{name} ({_KOREAN_NAME[name]})" for name in missing)
        faults.append(f"missing column(s): {listed}")
    duplicated = [(name, cells) for name, cells in seen_as.items() if len(cells) > 1]
    if duplicated:
        listed = ", ".join(
            f"{name} (" + " and ".join(repr(cell) for cell in cells) + ")"
            for name, cells in duplicated
        )
        faults.append(f"duplicate column(s): {listed}")
    if faults:
        raise RosterError("; ".join(faults))
    return index


def _cell(cells: Sequence[str], index: Mapping[str, int], name: str) -> str:
    position = index.get(name)
    return "" if position is None else cells[position]


def parse_rows(
    header: Sequence[str], rows: Iterable[Sequence[str]], first_row: int = 2
) -> tuple[list[MemberRow], list[RowProblem]]:
    """Validate member-master rows; return the good ones and a problem for each bad one."""
    index = _column_index(header)
    known = {index[name] for name in _HEADER_ALIASES if name in index}
    extra_columns: list[tuple[int, str]] = []
    for position, cell in enumerate(header):
        if position in known:
            continue
        # A column with data but no header still carries information; name it by position
        # (1-based, as a spreadsheet user counts) rather than dropping it.
        extra_columns.append((position, canonical_header(cell) or f"column {position + 1}"))

    members: list[MemberRow] = []
    problems: list[RowProblem] = []
    first_seen: dict[str, int] = {}
    width = len(header)

    for row_number, raw in enumerate(rows, start=first_row):
        cells = [_clean(text) for text in raw[:width]]
        cells += [""] * (width - len(cells))
        if not any(cells):
            continue

        barcode = _cell(cells, index, "barcode")
        reasons: list[str] = []
        if not barcode:
            reasons.append("empty barcode")
        elif not _valid_barcode(barcode):
            reasons.append(_BARCODE_REASON)
        elif barcode in first_seen:
            reasons.append(
                f"duplicate barcode {barcode!r} (first seen on row {first_seen[barcode]})"
            )
        else:
            # The first row claims the barcode even if it is bad in other ways: silently
            # taking a later row instead would hide the conflict from the operator.
            first_seen[barcode] = row_number

        name = _cell(cells, index, "name")
        if not name:
            reasons.append("empty name")

        status_text = _cell(cells, index, "status")
        status = parse_status(status_text)
        if not status_text:
            reasons.append("empty status")
        elif status is None:
            reasons.append(f"unknown status {status_text!r}")

        expiry_text = _cell(cells, index, "expiry_date")
        expiry: date | None = None
        try:
            expiry = parse_date(expiry_text)
        except ValueError:
            reasons.append(f"bad expiry date {expiry_text!r}")

        if reasons or status is None:
            problems.append(RowProblem(row_number, barcode, "; ".join(reasons)))
            continue

        extra: dict[str, str] = {}
        for position, column in extra_columns:
            if cells[position]:
                extra.setdefault(column, cells[position])
        members.append(
            MemberRow(
                barcode=barcode,
                name=name,
                status=status,
                expiry_date=expiry,
                gender=_cell(cells, index, "gender") or None,
                category=_cell(cells, index, "category") or None,
                zone=_cell(cells, index, "zone") or None,
                extra=extra,
            )
        )
    return members, problems

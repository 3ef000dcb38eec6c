"""The data side of the fake Google: spreadsheets, A1 ranges, typed cells and field masks.

Stdlib only. ``fake_google.py`` serves this over HTTP; nothing here knows about requests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

Cell = str | int | float | bool  # "" is an empty cell
DEFAULT_ROWS = 1000
DEFAULT_COLS = 26

_CELL_RE = re.compile(r"([A-Za-z]*)(\d*)")
_NUMBER_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_PLAIN_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ApiError(Exception):
    """An error answer: HTTP status, Google's ``status`` word and its message."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    """Google's 400 INVALID_ARGUMENT."""
    return ApiError(400, "INVALID_ARGUMENT", message)


def col_letters(col: int) -> str:
    """1 -> A, 27 -> AA."""
    letters = ""
    while col > 0:
        col, rem = divmod(col - 1, 26)
        letters = chr(ord("A") + rem) + letters
    return letters


def _col_number(letters: str) -> int:
    number = 0
    for ch in letters.upper():
        number = number * 26 + ord(ch) - ord("A") + 1
    return number


@dataclass
class Sheet:
    """One worksheet: a grid size and its cells (rows may be shorter than the grid)."""

    sheet_id: int
    title: str
    index: int
    rows: int = DEFAULT_ROWS
    cols: int = DEFAULT_COLS
    cells: list[list[Cell]] = field(default_factory=list)

    def get(self, r: int, c: int) -> Cell:
        """The cell at 0-based (r, c); "" when empty."""
        if r < len(self.cells) and c < len(self.cells[r]):
            return self.cells[r][c]
        return ""

    def put(self, r: int, c: int, value: Cell) -> None:
        """Store one cell, growing the row lists as needed (not the grid)."""
        while len(self.cells) <= r:
            self.cells.append([])
        row = self.cells[r]
        while len(row) <= c:
            row.append("")
        row[c] = value

    def row_empty(self, r: int, c0: int = 0, c1: int | None = None) -> bool:
        """No value in row r between columns c0 and c1 (exclusive)."""
        if r >= len(self.cells):
            return True
        return all(v == "" for v in self.cells[r][c0:c1])

    def insert_rows(self, at: int, n: int) -> None:
        """Insert n empty rows before 0-based row ``at``; the grid grows by n."""
        if at < len(self.cells):
            self.cells[at:at] = [[] for _ in range(n)]
        self.rows += n

    def delete(self, dimension: str, start: int, end: int) -> None:
        """Delete rows or columns [start, end)."""
        if dimension == "ROWS":
            del self.cells[start:end]
            self.rows -= end - start
        else:
            for row in self.cells:
                del row[start:end]
            self.cols -= end - start

    def resize(self, rows: int, cols: int) -> None:
        """Set the grid size; cells outside it are dropped, as Google does."""
        self.rows, self.cols = rows, cols
        del self.cells[rows:]
        for row in self.cells:
            del row[cols:]

    def properties(self) -> dict[str, Any]:
        """The ``sheets[].properties`` object of the metadata."""
        return {
            "sheetId": self.sheet_id,
            "title": self.title,
            "index": self.index,
            "sheetType": "GRID",
            "gridProperties": {"rowCount": self.rows, "columnCount": self.cols},
        }

    def label(self) -> str:
        """The sheet name as Google writes it in returned ranges (quoted when needed)."""
        if _PLAIN_NAME_RE.fullmatch(self.title) and not _looks_like_cell(self.title):
            return self.title
        return "'" + self.title.replace("'", "''") + "'"


def _looks_like_cell(text: str) -> bool:
    m = _CELL_RE.fullmatch(text)
    return bool(m and m.group(1) and m.group(2))


@dataclass
class Book:
    """One spreadsheet file."""

    id: str
    title: str
    sheets: list[Sheet]
    shared: str  # "writer", "reader" or "" (not shared with the service account)
    created: str
    modified: str

    def sheet(self, title: str) -> Sheet | None:
        """The sheet with this title."""
        return next((s for s in self.sheets if s.title == title), None)

    def by_id(self, sheet_id: object) -> Sheet:
        """The sheet with this sheetId, or a 400."""
        for s in self.sheets:
            if s.sheet_id == sheet_id:
                return s
        raise bad_request(f"No grid with id: {sheet_id}")

    def renumber(self) -> None:
        """Keep ``index`` equal to the position."""
        for i, s in enumerate(self.sheets):
            s.index = i


@dataclass
class Range:
    """A parsed A1 range: 0-based start, exclusive end, None = open (to the grid's edge)."""

    sheet: Sheet
    r0: int
    c0: int
    r1: int | None
    c1: int | None
    anchor: bool  # a single cell: writes may extend from it

    def clipped(self) -> tuple[int, int]:
        """The end row and column, bounded by the grid; a start outside it is a 400."""
        if self.r0 >= self.sheet.rows or self.c0 >= self.sheet.cols:
            raise bad_request(self.grid_message())
        r1 = self.sheet.rows if self.r1 is None else min(self.r1, self.sheet.rows)
        c1 = self.sheet.cols if self.c1 is None else min(self.c1, self.sheet.cols)
        return r1, c1

    def grid_message(self) -> str:
        """Google's words for a range outside the grid."""
        return (
            f"Range ({a1(self.sheet, self.r0, self.c0, self.r0 + 1, self.c0 + 1)}) exceeds grid"
            f" limits. Max rows: {self.sheet.rows}, max columns: {self.sheet.cols}"
        )


def a1(sheet: Sheet, r0: int, c0: int, r1: int, c1: int) -> str:
    """``Sheet1!A1:C3`` for 0-based [r0, r1) x [c0, c1)."""
    start = f"{col_letters(c0 + 1)}{r0 + 1}"
    end = f"{col_letters(c1)}{r1}"
    return (
        f"{sheet.label()}!{start}"
        if (r1 - r0, c1 - c0) == (1, 1)
        else f"{sheet.label()}!{start}:{end}"
    )


def _split_sheet(text: str) -> tuple[str | None, str]:
    if text.startswith("'"):
        i, chars = 1, []
        while i < len(text):
            if text[i] == "'":
                if text[i + 1 : i + 2] == "'":
                    chars.append("'")
                    i += 2
                    continue
                rest = text[i + 1 :]
                if rest and not rest.startswith("!"):
                    raise bad_request(f"Unable to parse range: {text}")
                return "".join(chars), rest[1:]
            chars.append(text[i])
            i += 1
        raise bad_request(f"Unable to parse range: {text}")
    if "!" in text:
        name, _, cells = text.rpartition("!")
        return name, cells
    return None, text


def _parse_cell(text: str, full: str) -> tuple[int | None, int | None]:
    m = _CELL_RE.fullmatch(text)
    if not m or not (m.group(1) or m.group(2)):
        raise bad_request(f"Unable to parse range: {full}")
    col = _col_number(m.group(1)) - 1 if m.group(1) else None
    row = int(m.group(2)) - 1 if m.group(2) else None
    if row is not None and row < 0:
        raise bad_request(f"Unable to parse range: {full}")
    return row, col


def parse_range(book: Book, text: str) -> Range:
    """Parse ``'name'!A1:B2``, ``name!A:L``, ``A2:L``, ``1:3``, ``name`` or ``A1`` (first sheet)."""
    name, cells = _split_sheet(text)
    if name is None:
        # Unqualified: a sheet's name when one has it, else cells of the first sheet.
        named = book.sheet(cells)
        if named is not None:
            return Range(named, 0, 0, None, None, anchor=False)
        sheet = book.sheets[0]
    else:
        found = book.sheet(name)
        if found is None:
            raise bad_request(f"Unable to parse range: {text}")
        sheet = found
    if not cells:
        return Range(sheet, 0, 0, None, None, anchor=False)
    first, _, second = cells.partition(":")
    r0, c0 = _parse_cell(first, text)
    if not second:
        if r0 is None or c0 is None:
            raise bad_request(f"Unable to parse range: {text}")
        return Range(sheet, r0, c0, r0 + 1, c0 + 1, anchor=True)
    r1, c1 = _parse_cell(second, text)
    # A:B has no rows, 1:3 no columns, A2:L no end row: those sides are open.
    start_r = 0 if r0 is None else r0
    start_c = 0 if c0 is None else c0
    end_r = None if r1 is None else r1 + 1
    end_c = None if c1 is None else c1 + 1
    return Range(sheet, start_r, start_c, end_r, end_c, anchor=False)


def parse_input(value: object, option: str) -> Cell | None:
    """A JSON value as stored under ``valueInputOption``; None = leave the cell alone."""
    if value is None:
        return None
    if isinstance(value, bool | int | float):
        return value
    if not isinstance(value, str):
        raise bad_request(f"Invalid values: {value!r}")
    if option == "RAW" or value == "":
        return value
    # USER_ENTERED: parsed as if typed into the sheet.
    if value.startswith("'"):
        return value[1:]
    if _NUMBER_RE.fullmatch(value):
        number = float(value)
        if number.is_integer() and abs(number) < 1e15 and re.fullmatch(r"[+-]?\d+", value):
            return int(value)
        return number
    if value.upper() in ("TRUE", "FALSE"):
        return value.upper() == "TRUE"
    return value


def formatted(cell: Cell) -> str:
    """The displayed text of a cell in the default (automatic) number format."""
    if isinstance(cell, bool):
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, int):
        return str(cell) if abs(cell) < 10**15 else formatted(float(cell))
    if isinstance(cell, float):
        if abs(cell) >= 1e15:
            mantissa, _, exponent = f"{cell:.5E}".partition("E")
            return f"{mantissa.rstrip('0').rstrip('.')}E{exponent}"
        if cell.is_integer():
            return str(int(cell))
        return format(cell, ".10g")
    return cell


def rendered(cell: Cell, option: str) -> object:
    """A cell as ``valueRenderOption`` returns it."""
    if option == "FORMATTED_VALUE":
        return formatted(cell)
    if isinstance(cell, float) and cell.is_integer():
        return int(cell)
    return cell


def read_values(rng: Range, render: str, major: str) -> tuple[str, list[list[object]]]:
    """The returned range and values, trailing empty cells and rows trimmed as Google does."""
    r1, c1 = rng.clipped()
    sheet = rng.sheet
    rows: list[list[object]] = []
    for r in range(rng.r0, r1):
        row = [sheet.get(r, c) for c in range(rng.c0, c1)]
        while row and row[-1] == "":
            row.pop()
        rows.append([rendered(v, render) for v in row])
    if major == "COLUMNS":
        width = max((len(r) for r in rows), default=0)
        rows = [[r[i] if i < len(r) else "" for r in rows] for i in range(width)]
        for col in rows:
            while col and col[-1] == "":
                col.pop()
    while rows and not rows[-1]:
        rows.pop()
    return a1(sheet, rng.r0, rng.c0, r1, c1), rows


def write_values(
    rng: Range, values: list[list[object]], option: str, *, grow: bool, strict: bool
) -> tuple[int, int, int, int]:
    """Write from the range's start; returns (r0, c0, r1, c1) written. Check before writing."""
    if not isinstance(values, list) or not all(isinstance(r, list) for r in values):
        raise bad_request("Invalid value at 'data.values': expected a list of lists")
    parsed = [[parse_input(v, option) for v in row] for row in values]
    height = len(parsed)
    width = max((len(r) for r in parsed), default=0)
    r_end, c_end = rng.r0 + height, rng.c0 + width
    if not rng.anchor:
        bound = a1(rng.sheet, rng.r0, rng.c0, rng.r1 or r_end, rng.c1 or c_end)
        if rng.r1 is not None and r_end > rng.r1:
            raise bad_request(
                f"Requested writing within range [{bound}], but tried writing to row [{r_end}]"
            )
        if rng.c1 is not None and c_end > rng.c1:
            raise bad_request(
                f"Requested writing within range [{bound}],"
                f" but tried writing to column [{col_letters(c_end)}]"
            )
    sheet = rng.sheet
    if grow:
        sheet.rows = max(sheet.rows, r_end)
        sheet.cols = max(sheet.cols, c_end)
    elif r_end > sheet.rows or c_end > sheet.cols or rng.r0 >= sheet.rows:
        if strict:
            raise bad_request(rng.grid_message())
        sheet.rows = max(sheet.rows, r_end)
        sheet.cols = max(sheet.cols, c_end)
    for i, row in enumerate(parsed):
        for j, v in enumerate(row):
            if v is not None:
                sheet.put(rng.r0 + i, rng.c0 + j, v)
    return rng.r0, rng.c0, r_end, c_end


def table_end(rng: Range) -> int | None:
    """Where ``append`` writes: after the contiguous block of rows starting at the range's
    first row (within its columns); None when that row is empty (no table: write there)."""
    sheet = rng.sheet
    if sheet.row_empty(rng.r0, rng.c0, rng.c1):
        return None
    r = rng.r0
    limit = sheet.rows if rng.r1 is None else min(rng.r1, sheet.rows)
    while r + 1 < max(limit, len(sheet.cells)) and not sheet.row_empty(r + 1, rng.c0, rng.c1):
        r += 1
    return r + 1

"""The spreadsheet-level side of the fake Sheets API: metadata, ``:batchUpdate``, field masks."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from tests.fake_google_grid import (
    DEFAULT_COLS,
    DEFAULT_ROWS,
    Book,
    Sheet,
    bad_request,
    formatted,
)

if TYPE_CHECKING:
    from tests.fake_google import FakeGoogle


def metadata(book: Book, include_grid_data: bool) -> dict[str, Any]:
    """``GET /v4/spreadsheets/{id}`` before any ``fields`` mask."""
    sheets = []
    for sheet in book.sheets:
        entry: dict[str, Any] = {"properties": sheet.properties()}
        if include_grid_data:
            entry["data"] = [grid_data(sheet)]
        sheets.append(entry)
    return {
        "spreadsheetId": book.id,
        "properties": {
            "title": book.title,
            "locale": "en_US",
            "autoRecalc": "ON_CHANGE",
            "timeZone": "Etc/GMT",
        },
        "sheets": sheets,
        "spreadsheetUrl": f"https://docs.google.com/spreadsheets/d/{book.id}/edit",
    }


def batch_update_sheets(
    fake: FakeGoogle, book: Book, requests: object
) -> tuple[list[dict[str, Any]], Book]:
    """Apply ``requests`` to a copy of ``book`` (all or nothing); the replies and the copy."""
    if not isinstance(requests, list) or not requests:
        raise bad_request("Must specify at least one request.")
    trial = copy.deepcopy(book)
    replies: list[dict[str, Any]] = []
    for i, request in enumerate(requests):
        if not isinstance(request, dict) or len(request) != 1:
            raise bad_request(f"Invalid requests[{i}]: exactly one kind of request expected")
        ((name, body),) = request.items()
        if not isinstance(body, dict):
            raise bad_request(f"Invalid requests[{i}].{name}")
        handler = _HANDLERS.get(name)
        if handler is None:
            raise bad_request(f'Invalid JSON payload received. Unknown name "{name}"')
        replies.append(handler(fake, trial, body, f"requests[{i}].{name}"))
    return replies, trial


def _add_sheet(fake: FakeGoogle, book: Book, body: dict[str, Any], where: str) -> dict[str, Any]:
    props = body.get("properties") or {}
    title = props.get("title") or f"Sheet{len(book.sheets) + 1}"
    if book.sheet(title) is not None:
        raise bad_request(
            f'Invalid {where}: A sheet with the name "{title}" already exists.'
            " Please enter another name."
        )
    grid = props.get("gridProperties") or {}
    sheet = Sheet(
        props.get("sheetId") or fake.new_sheet_id(),
        title,
        0,
        int(grid.get("rowCount") or DEFAULT_ROWS),
        int(grid.get("columnCount") or DEFAULT_COLS),
    )
    index = props.get("index")
    book.sheets.insert(len(book.sheets) if index is None else int(index), sheet)
    book.renumber()
    return {"addSheet": {"properties": sheet.properties()}}


def _update_sheet_properties(
    _fake: FakeGoogle, book: Book, body: dict[str, Any], where: str
) -> dict[str, Any]:
    props = body.get("properties") or {}
    fields = body.get("fields")
    if not isinstance(fields, str) or not fields:
        raise bad_request(f"Invalid {where}: fields is required")
    sheet = book.by_id(props.get("sheetId", 0))
    mask = parse_mask(fields)
    everything = "*" in mask
    if everything or "title" in mask:
        sheet.title = props.get("title", sheet.title)
    grid_mask = mask.get("gridProperties", {}) if not everything else None
    grid = props.get("gridProperties") or {}
    rows, cols = sheet.rows, sheet.cols
    if grid_mask is None or "rowCount" in grid_mask:
        rows = int(grid.get("rowCount", rows))
    if grid_mask is None or "columnCount" in grid_mask:
        cols = int(grid.get("columnCount", cols))
    if rows < 1 or cols < 1:
        raise bad_request(f"Invalid {where}: a sheet needs at least one row and one column")
    sheet.resize(rows, cols)
    return {}


def _delete_dimension(
    _fake: FakeGoogle, book: Book, body: dict[str, Any], where: str
) -> dict[str, Any]:
    rng = body.get("range") or {}
    sheet = book.by_id(rng.get("sheetId", 0))
    dimension = rng.get("dimension")
    start, end = int(rng.get("startIndex", 0)), rng.get("endIndex")
    size = sheet.rows if dimension == "ROWS" else sheet.cols
    stop = size if end is None else int(end)
    if dimension not in ("ROWS", "COLUMNS") or not 0 <= start < stop <= size:
        raise bad_request(f"Invalid {where}: range out of bounds")
    if stop - start == size:
        what = "rows" if dimension == "ROWS" else "columns"
        raise bad_request(f"Invalid {where}: You can't delete all the {what} on the sheet.")
    sheet.delete(dimension, start, stop)
    return {}


def _append_dimension(
    _fake: FakeGoogle, book: Book, body: dict[str, Any], where: str
) -> dict[str, Any]:
    sheet = book.by_id(body.get("sheetId", 0))
    length = int(body.get("length", 0))
    if length < 1:
        raise bad_request(f"Invalid {where}: length must be positive")
    if body.get("dimension") == "ROWS":
        sheet.rows += length
    else:
        sheet.cols += length
    return {}


def _delete_sheet(
    _fake: FakeGoogle, book: Book, body: dict[str, Any], where: str
) -> dict[str, Any]:
    sheet = book.by_id(body.get("sheetId"))
    if len(book.sheets) == 1:
        raise bad_request(f"Invalid {where}: You can't remove all the sheets in a document.")
    book.sheets.remove(sheet)
    book.renumber()
    return {}


_HANDLERS = {
    "addSheet": _add_sheet,
    "updateSheetProperties": _update_sheet_properties,
    "deleteDimension": _delete_dimension,
    "appendDimension": _append_dimension,
    "deleteSheet": _delete_sheet,
}


def grid_data(sheet: Sheet) -> dict[str, Any]:
    """``sheets[].data`` for includeGridData=true (values only, no formats)."""
    row_data = []
    for row in sheet.cells:
        cells: list[dict[str, Any]] = []
        for v in row:
            if v == "":
                cells.append({})
                continue
            kind = (
                "boolValue"
                if isinstance(v, bool)
                else "numberValue"
                if isinstance(v, int | float)
                else "stringValue"
            )
            cells.append(
                {
                    "userEnteredValue": {kind: v},
                    "effectiveValue": {kind: v},
                    "formattedValue": formatted(v),
                }
            )
        row_data.append({"values": cells})
    return {"startRow": 0, "startColumn": 0, "rowData": row_data}


# Field masks ("properties.title,sheets(properties(sheetId,title))"): parsed into a tree,
# {name: subtree or None for "everything below"}.
Mask = dict[str, Any]


def parse_mask(text: str) -> Mask:
    """Parse a ``fields`` parameter; ``/`` is accepted as a separator as Google does."""
    pos = 0
    text = text.replace(" ", "").replace("/", ".")

    def parse_list() -> Mask:
        nonlocal pos
        mask: Mask = {}
        while pos < len(text) and text[pos] != ")":
            path = []
            while True:
                m = re.match(r"[A-Za-z_*][A-Za-z0-9_]*", text[pos:])
                if not m:
                    raise bad_request(f"Invalid field selection {text}")
                path.append(m.group(0))
                pos += m.end()
                if pos < len(text) and text[pos] == ".":
                    pos += 1
                    continue
                break
            sub: Mask | None = None
            if pos < len(text) and text[pos] == "(":
                pos += 1
                sub = parse_list()
                if pos >= len(text) or text[pos] != ")":
                    raise bad_request(f"Invalid field selection {text}")
                pos += 1
            node = mask
            for name in path[:-1]:
                node = node.setdefault(name, {}) if node.get(name, {}) is not None else {}
            last = path[-1]
            if sub is None or node.get(last, {}) is None:
                node[last] = None
            else:
                existing = node.setdefault(last, {})
                existing.update(sub)
            if pos < len(text) and text[pos] == ",":
                pos += 1
        return mask

    mask = parse_list()
    if pos != len(text):
        raise bad_request(f"Invalid field selection {text}")
    return mask


def apply_mask(value: Any, mask: Mask | None) -> Any:
    """Keep only the masked fields of a JSON value."""
    if mask is None or "*" in mask:
        return value
    if isinstance(value, list):
        return [apply_mask(v, mask) for v in value]
    if isinstance(value, dict):
        return {k: apply_mask(v, mask[k]) for k, v in value.items() if k in mask}
    return value

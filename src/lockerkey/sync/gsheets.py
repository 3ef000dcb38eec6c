"""The Google Sheets backend: the member master and the rental records in spreadsheets.

Imported only when backend = "gsheets", so gspread stays out of the idle kiosk's memory.
Every spreadsheet is opened once per run (one metadata read) and the worksheets' titles
and grid sizes are kept from it; each read or write after that is one request.
"""

from __future__ import annotations

import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import google.auth.exceptions
import gspread
import requests
from gspread.exceptions import APIError
from gspread.utils import absolute_range_name, rowcol_to_a1

from lockerkey.sync.backend import SyncError, SyncRefused, SyncUnavailable, Table
from lockerkey.sync.google_http import GoogleHTTP
from lockerkey.sync.google_key import load_credentials, read_key_file

__all__ = ["DRIVE_READONLY_SCOPE", "REPORT_WORKSHEET", "SHEETS_SCOPE", "GoogleSheets"]

SHEETS_SCOPE = "https://www.googleapis.com/auth/spreadsheets"
DRIVE_READONLY_SCOPE = "https://www.googleapis.com/auth/drive.readonly"
REPORT_WORKSHEET = "sync_report"
# Rows a new report worksheet gets beyond the report, so the next, longer report seldom
# needs a resize (blank rows cost a few bytes in the one write; a resize is a request).
_REPORT_SPARE_ROWS = 200
_KEY_RE = re.compile(r"[A-Za-z0-9_-]{30,}")
_URL_KEY_RE = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")
_META_FIELDS = "spreadsheetId,properties.title,sheets.properties"


@dataclass
class _Worksheet:
    title: str
    sheet_id: int
    rows: int
    cols: int


@dataclass
class _Book:
    key: str
    label: str  # as the settings name it, for messages
    sheets: list[_Worksheet]  # in the spreadsheet's order


@dataclass(frozen=True)
class _Ref:
    text: str
    key: str | None  # None: ``text`` is a title, found through Drive


def _ref(text: str, role: str) -> _Ref:
    text = text.strip()
    if not text:
        raise SyncRefused(f"the {role} spreadsheet is not set (a key, URL or title)")
    if "://" in text or text.startswith("docs.google.com"):
        m = _URL_KEY_RE.search(text)
        if m is None:
            raise SyncRefused(f"{role} spreadsheet {text!r} is not a Google Sheets URL")
        return _Ref(text, m.group(1))
    return _Ref(text, text if _KEY_RE.fullmatch(text) else None)


def _pad(row: list[str], width: int) -> list[str]:
    return row + [""] * (width - len(row)) if len(row) < width else row


class GoogleSheets:
    """The ``Backend`` on Google Sheets through gspread, with a service-account key."""

    name = "gsheets"

    def __init__(
        self,
        credentials: Path,
        members_spreadsheet: str,
        members_worksheet: str,
        rentals_spreadsheet: str,
        rentals_worksheet: str,
        api_endpoint: str = "",
        timeout_s: float = 30.0,
        retries: int = 5,
        sleep: Callable[[float], object] = time.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._members = _ref(members_spreadsheet, "members")
        self._rentals = _ref(rentals_spreadsheet, "rentals")
        self._members_ws = members_worksheet.strip()
        self._rentals_ws = rentals_worksheet.strip()
        info = read_key_file(credentials)
        self.email: str = info["client_email"]
        # Drive only finds spreadsheets by title; a key needs no Drive access at all.
        self.scopes = [SHEETS_SCOPE]
        if self._members.key is None or self._rentals.key is None:
            self.scopes.append(DRIVE_READONLY_SCOPE)
        creds = load_credentials(info, self.scopes)
        if creds is None:
            raise SyncRefused(f"credentials file {credentials}: the private key cannot be loaded")
        self._client = gspread.Client(creds, http_client=GoogleHTTP)
        http = self._client.http_client
        if not isinstance(http, GoogleHTTP):  # pragma: no cover - gspread builds what we ask
            raise TypeError("gspread did not use the given http_client")
        http.configure(
            api_endpoint=api_endpoint, timeout_s=timeout_s, retries=retries, sleep=sleep, rand=rand
        )
        self._http = http
        self._books: dict[str, _Book] = {}  # by key
        self._keys: dict[str, str] = {}  # title -> key
        self._rentals_rows: int | None = None  # rows of the rentals table as last read
        self._rentals_width = 0

    @property
    def api_calls(self) -> int:
        """Sheets and Drive requests sent so far, retries included."""
        return self._http.calls

    @api_calls.setter
    def api_calls(self, value: int) -> None:
        self._http.calls = value

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.session.close()

    # -- the Backend protocol --------------------------------------------------------------

    def read_members(self) -> Table:
        """The members worksheet as displayed text, header first, rows padded to its width."""
        book = self._book(self._members, "members")
        sheet = self._worksheet(book, self._members_ws, "members")
        return self._read(book, sheet, "members")

    def write_report(self, rows: Table) -> None:
        """Replace worksheet ``sync_report`` of the members spreadsheet in one write; stale
        cells are blanked by the same write (it covers the old grid)."""
        book = self._book(self._members, "members")
        sheet = next((s for s in book.sheets if s.title == REPORT_WORKSHEET), None)
        height = len(rows)
        width = max(1, max((len(r) for r in rows), default=0))
        context = f"report worksheet {REPORT_WORKSHEET!r} of {book.label!r}"
        with self._edge(context):
            if sheet is None:
                sheet = self._add_sheet(book, REPORT_WORKSHEET, height + _REPORT_SPARE_ROWS, width)
            elif height > sheet.rows or width > sheet.cols:
                grown = max(height + _REPORT_SPARE_ROWS, sheet.rows)
                self._resize(book, sheet, grown, max(width, sheet.cols))
            blank = [""] * sheet.cols
            values = [_pad(list(r), sheet.cols) for r in rows]
            values += [blank] * (sheet.rows - height)
            end = rowcol_to_a1(sheet.rows, sheet.cols)
            self._http.values_update(
                book.key,
                absolute_range_name(sheet.title, f"A1:{end}"),
                params={"valueInputOption": "RAW"},
                body={"majorDimension": "ROWS", "values": values},
            )

    def read_rentals(self) -> Table:
        """The rentals worksheet as displayed text, header first; [] when it is empty."""
        book = self._book(self._rentals, "rentals")
        sheet = self._worksheet(book, self._rentals_ws, "rentals")
        table = self._read(book, sheet, "rentals")
        self._rentals_rows = len(table)
        self._rentals_width = len(table[0]) if table else 0
        return table

    def write_rentals(
        self, header: list[str] | None, appends: Table, updates: dict[int, list[str]]
    ) -> None:
        """Row 1 and the replaced rows in one batch write, then the new rows in one append;
        all RAW, so a barcode like ``0012`` stays text."""
        book = self._book(self._rentals, "rentals")
        sheet = self._worksheet(book, self._rentals_ws, "rentals")
        width = max(len(header or []), self._rentals_width)
        data = []
        if header is not None:
            data.append(
                {"range": absolute_range_name(sheet.title, "A1"), "values": [_pad(header, width)]}
            )
        for number, row in sorted(updates.items()):
            if not 1 <= number <= sheet.rows:
                raise SyncRefused(
                    f"rentals row {number} is outside {sheet.title!r} (1-{sheet.rows})"
                )
            cells = _pad(list(row), width)  # a whole row: stale cells to its right are blanked
            data.append(
                {"range": absolute_range_name(sheet.title, f"A{number}"), "values": [cells]}
            )
        needed = max([width, *(len(r) for r in appends), *(len(r) for r in updates.values())])
        context = f"rentals worksheet {sheet.title!r} of {book.label!r}"
        with self._edge(context):
            if needed > sheet.cols:
                # Google refuses to write outside the grid: widen it first (seldom needed).
                self._resize(book, sheet, sheet.rows, needed)
            if data:
                self._http.values_batch_update(
                    book.key, body={"valueInputOption": "RAW", "data": data}
                )
            if appends:
                self._http.values_append(
                    book.key,
                    self._append_range(sheet, header is not None),
                    params={"valueInputOption": "RAW", "insertDataOption": "INSERT_ROWS"},
                    body={"majorDimension": "ROWS", "values": appends},
                )
                sheet.rows += len(appends)  # INSERT_ROWS grows the grid by the rows added
        if self._rentals_rows is not None:
            self._rentals_rows = max(self._rentals_rows, int(header is not None)) + len(appends)
        self._rentals_width = width

    # -- spreadsheets and worksheets -------------------------------------------------------

    def _append_range(self, sheet: _Worksheet, header: bool) -> str:
        """Where Google looks for the table to append to. Its table detection stops at a
        blank row, so when the end of the table is known (from read_rentals) the search
        starts just below it; otherwise at A1."""
        if self._rentals_rows is not None:
            start = max(self._rentals_rows, 1 if header else 0) + 1
            if start <= sheet.rows:
                return absolute_range_name(sheet.title, f"A{start}")
        return absolute_range_name(sheet.title, "A1")

    def _book(self, ref: _Ref, role: str) -> _Book:
        key = ref.key or self._keys.get(ref.text) or self._find(ref.text, role)
        book = self._books.get(key)
        if book is not None:
            return book
        with self._edge(f"{role} spreadsheet {ref.text!r}"):
            meta = self._http.fetch_sheet_metadata(
                key, params={"includeGridData": "false", "fields": _META_FIELDS}
            )
            sheets = [
                _Worksheet(
                    str(p["title"]),
                    int(p["sheetId"]),
                    int(p["gridProperties"]["rowCount"]),
                    int(p["gridProperties"]["columnCount"]),
                )
                for p in (s["properties"] for s in meta["sheets"])
            ]
        book = _Book(key, ref.text, sheets)
        self._books[key] = book
        return book

    def _find(self, title: str, role: str) -> str:
        with self._edge(f"{role} spreadsheet titled {title!r}"):
            files = [f for f in self._client.list_spreadsheet_files(title) if f["name"] == title]
        if not files:
            raise SyncRefused(
                f"{role} spreadsheet titled {title!r} not found or not shared with {self.email}"
            )
        if len(files) > 1:
            raise SyncRefused(
                f"{len(files)} spreadsheets titled {title!r} are shared with {self.email};"
                " set the spreadsheet's key (from its URL) instead of the title"
            )
        key = str(files[0]["id"])
        self._keys[title] = key
        return key

    def _worksheet(self, book: _Book, title: str, role: str) -> _Worksheet:
        if not title:
            if not book.sheets:
                raise SyncRefused(f"{role} spreadsheet {book.label!r} has no worksheets")
            return book.sheets[0]
        for sheet in book.sheets:
            if sheet.title == title:
                return sheet
        titles = ", ".join(repr(s.title) for s in book.sheets)
        raise SyncRefused(
            f"{role} worksheet {title!r} not found in spreadsheet {book.label!r} (it has {titles})"
        )

    def _read(self, book: _Book, sheet: _Worksheet, role: str) -> Table:
        with self._edge(f"{role} worksheet {sheet.title!r} of {book.label!r}"):
            answer = self._http.values_get(
                book.key,
                absolute_range_name(sheet.title),
                params={"valueRenderOption": "FORMATTED_VALUE", "majorDimension": "ROWS"},
            )
            rows = [[str(v) for v in row] for row in answer.get("values", [])]
        if not rows:
            return []
        width = len(rows[0])
        return [_pad(row, width) for row in rows]

    def _add_sheet(self, book: _Book, title: str, rows: int, cols: int) -> _Worksheet:
        grid = {"rowCount": rows, "columnCount": cols}
        body = {
            "requests": [{"addSheet": {"properties": {"title": title, "gridProperties": grid}}}]
        }
        reply = self._http.batch_update(book.key, body)
        props = reply["replies"][0]["addSheet"]["properties"]
        sheet = _Worksheet(title, int(props["sheetId"]), rows, cols)
        book.sheets.append(sheet)
        return sheet

    def _resize(self, book: _Book, sheet: _Worksheet, rows: int, cols: int) -> None:
        props = {
            "sheetId": sheet.sheet_id,
            "gridProperties": {"rowCount": rows, "columnCount": cols},
        }
        fields = "gridProperties.rowCount,gridProperties.columnCount"
        body = {"requests": [{"updateSheetProperties": {"properties": props, "fields": fields}}]}
        self._http.batch_update(book.key, body)
        sheet.rows, sheet.cols = rows, cols

    # -- errors ----------------------------------------------------------------------------

    @contextmanager
    def _edge(self, context: str) -> Iterator[None]:
        """Turn gspread, google-auth and requests exceptions into SyncError with context."""
        try:
            yield
        except SyncUnavailable as err:
            raise SyncUnavailable(f"{context}: {err}") from err
        except SyncError:
            raise
        except APIError as err:
            raise self._refusal(context, err) from err
        except google.auth.exceptions.RefreshError as err:
            detail = err.args[0] if err.args and isinstance(err.args[0], str) else "refused"
            if getattr(err, "retryable", False):
                raise SyncUnavailable(f"Google's token endpoint: {detail}") from err
            raise SyncRefused(
                f"Google refused the credentials of {self.email} ({detail}); check that the"
                " key is not deleted or disabled in the Cloud console"
            ) from err
        except requests.RequestException as err:
            raise SyncUnavailable(f"{context}: {type(err).__name__}") from err
        except (KeyError, IndexError, TypeError, ValueError) as err:
            raise SyncUnavailable(f"{context}: unexpected answer from Google ({err!r})") from err

    def _refusal(self, context: str, err: APIError) -> SyncError:
        code = err.response.status_code
        message = str(err.error.get("message", "")) if isinstance(err.error, Mapping) else ""
        said = f"HTTP {code}: {message}" if message else f"HTTP {code}"
        if code == 404:
            return SyncRefused(f"{context} not found or not shared with {self.email} ({said})")
        if code == 403:
            return SyncRefused(
                f"{context}: access denied to {self.email} ({said}); share the spreadsheet"
                f" with {self.email} as Editor"
            )
        if code == 401:
            return SyncRefused(
                f"{context}: Google did not accept the credentials of {self.email} ({said})"
            )
        if 400 <= code < 500:
            return SyncRefused(f"{context}: Google refused the request ({said})")
        return SyncUnavailable(f"{context}: {said}")

"""A local HTTP server speaking the OAuth token, Sheets v4 and Drive v3 wire formats.

Stdlib only. Real gspread and google-auth clients talk to it (point the service-account
file's ``token_uri`` at ``fake.token_uri`` and the API base at ``fake.url``). It keeps the
spreadsheets in memory, counts requests, and injects faults: error statuses, held
(timed-out) requests, and writes applied whose answer is then lost.
"""

from __future__ import annotations

import copy
import json
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fake_google_api import jwt_claims, route_of, serve_drive, serve_sheets
from tests.fake_google_grid import ApiError, Book, Cell, Sheet, formatted

TOKEN_PATH = "/token"
SHEETS_SCOPES = {
    "https://www.googleapis.com/auth/spreadsheets",
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.file",
}
READ_SCOPES = SHEETS_SCOPES | {
    "https://www.googleapis.com/auth/spreadsheets.readonly",
    "https://www.googleapis.com/auth/drive.readonly",
}
DRIVE_SCOPES = {
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/drive.readonly",
    "https://www.googleapis.com/auth/drive.metadata.readonly",
}
_STATUS_WORDS = {
    400: ("INVALID_ARGUMENT", "Invalid request."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: ("NOT_FOUND", "Requested entity was not found."),
    429: ("RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Read requests'."),
    500: ("INTERNAL", "Internal error encountered."),
    502: ("UNAVAILABLE", "Bad gateway."),
    503: ("UNAVAILABLE", "The service is currently unavailable."),
    504: ("DEADLINE_EXCEEDED", "The request timed out."),
}


@dataclass(frozen=True)
class Call:
    """One API request as the fake saw it (path unquoted, body parsed)."""

    method: str
    path: str
    kind: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class _Fault:
    when: Callable[[Call], bool]
    status: int
    times: int | None  # None = every match
    retry_after: float | None = None
    apply_first: bool = False
    hold: float | None = None  # hold the request this long (None with hold_forever)
    hold_forever: bool = False


@dataclass
class _Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(code: int, message: str | None = None, status: str | None = None) -> _Answer:
    word, default = _STATUS_WORDS.get(code, ("UNKNOWN", "Error."))
    body = {"error": {"code": code, "message": message or default, "status": status or word}}
    return _Answer(code, body)


class FakeGoogle:
    """In-memory Sheets + Drive + OAuth token endpoint on 127.0.0.1, in a background thread."""

    def __init__(self, *, strict_grid: bool = True) -> None:
        self.strict_grid = strict_grid  # values.update beyond the grid is a 400
        self.books: dict[str, Book] = {}
        self.calls: list[tuple[str, str]] = []
        self.requests: list[Call] = []
        self.token_calls = 0
        self.token_scopes: list[str] = []
        self.token_error: str | None = None  # e.g. "invalid_grant": refuse every assertion
        self._tokens: dict[str, set[str]] = {}
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._next_sheet_id = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._server.fake = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.token_uri = self.url + TOKEN_PATH
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,))
        self._thread.daemon = True
        self._thread.start()

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Release held requests and stop serving."""
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> FakeGoogle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- content ---------------------------------------------------------------------------

    def add_spreadsheet(
        self,
        title: str,
        sheets: dict[str, list[list[str]]],
        *,
        shared: bool | str = True,
        rows: int | None = None,
        cols: int | None = None,
    ) -> str:
        """A spreadsheet with these worksheets (cells stored as text); returns its key.

        ``shared``: True/"writer", "reader" (writes get 403) or False (everything 403,
        and Drive does not list it). ``rows``/``cols`` set the grid (default 1000 x 26,
        grown to fit the data)."""
        key = secrets.token_urlsafe(33)  # 44 characters of [A-Za-z0-9_-], like a real key
        role = "writer" if shared is True else (shared or "")
        book = Book(key, title, [], role, _now(), _now())
        for title_, values in sheets.items():
            height = max(len(values), rows or 1000)
            width = max(max((len(r) for r in values), default=0), cols or 26)
            sheet = self._new_sheet(book, title_, height, width)
            sheet.cells = [[str(v) for v in row] for row in values]
        if not book.sheets:
            self._new_sheet(book, "Sheet1", rows or 1000, cols or 26)
        with self._lock:
            self.books[key] = book
        return key

    def _new_sheet(self, book: Book, title: str, rows: int, cols: int) -> Sheet:
        self._next_sheet_id += 1
        sheet = Sheet(self._next_sheet_id * 7919, title, len(book.sheets), rows, cols)
        book.sheets.append(sheet)
        return sheet

    def new_sheet_id(self) -> int:
        """A fresh sheetId (used by addSheet)."""
        self._next_sheet_id += 1
        return self._next_sheet_id * 7919

    def _sheet(self, key: str, title: str) -> Sheet:
        sheet = self.books[key].sheet(title)
        if sheet is None:
            raise KeyError(title)
        return sheet

    def set_values(self, key: str, title: str, values: list[list[str]]) -> None:
        """Replace a worksheet's cells, as a person editing the sheet would (text cells)."""
        with self._lock:
            sheet = self._sheet(key, title)
            sheet.cells = [[str(v) for v in row] for row in values]
            sheet.rows = max(sheet.rows, len(values))

    def values(self, key: str, title: str) -> list[list[str]]:
        """The worksheet as displayed text, trimmed as the API returns it."""
        with self._lock:
            sheet = self._sheet(key, title)
            rows = [[formatted(v) for v in row] for row in sheet.cells]
        for row in rows:
            while row and row[-1] == "":
                row.pop()
        while rows and not rows[-1]:
            rows.pop()
        return rows

    def cells(self, key: str, title: str) -> list[list[Cell]]:
        """The stored cells with their types (text stays str, numbers are int/float)."""
        with self._lock:
            return copy.deepcopy(self._sheet(key, title).cells)

    def grid(self, key: str, title: str) -> tuple[int, int]:
        """(rowCount, columnCount) of a worksheet."""
        with self._lock:
            sheet = self._sheet(key, title)
            return sheet.rows, sheet.cols

    def sheet_titles(self, key: str) -> list[str]:
        """Worksheet titles in order."""
        with self._lock:
            return [s.title for s in self.books[key].sheets]

    def count(self, kind: str | None = None) -> int:
        """API requests received (token requests not included), of one kind or all.

        Kinds: sheets.get, sheets.batchUpdate, values.get, values.batchGet, values.update,
        values.append, values.batchUpdate, values.clear, values.batchClear, drive.list,
        drive.get."""
        with self._lock:
            return sum(1 for c in self.requests if kind is None or c.kind == kind)

    def kinds(self) -> list[str]:
        """The kinds of the API requests received, in order."""
        with self._lock:
            return [c.kind for c in self.requests]

    def reset_counts(self) -> None:
        """Forget the requests seen so far."""
        with self._lock:
            self.calls.clear()
            self.requests.clear()
            self.token_calls = 0

    def revoke_tokens(self) -> None:
        """Every access token issued so far becomes invalid (API answers 401)."""
        with self._lock:
            self._tokens.clear()

    # -- faults ----------------------------------------------------------------------------

    def fail_next(self, n: int, status: int = 503, retry_after: float | None = None) -> None:
        """The next n API requests answer ``status`` (Google's error JSON) without effect."""
        self.fail_when(lambda _c: True, status, times=n, retry_after=retry_after)

    def fail_when(
        self,
        predicate: Callable[[Call], bool],
        status: int = 500,
        *,
        times: int | None = 1,
        apply_then_fail: bool = False,
        retry_after: float | None = None,
    ) -> None:
        """Matching API requests answer ``status``; with ``apply_then_fail`` the request is
        carried out first, so its answer is what gets lost (a write that did happen)."""
        with self._lock:
            self._faults.append(
                _Fault(predicate, status, times, retry_after, apply_first=apply_then_fail)
            )

    def timeout_next(
        self, n: int, seconds: float | None = None, *, apply_first: bool = False
    ) -> None:
        """Hold the next n API requests for ``seconds`` (None: until close), then drop the
        connection without an answer; the client's read timeout fires first."""
        with self._lock:
            self._faults.append(
                _Fault(
                    lambda _c: True,
                    0,
                    n,
                    apply_first=apply_first,
                    hold=seconds,
                    hold_forever=seconds is None,
                )
            )

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def _take_fault(self, call: Call) -> _Fault | None:
        for fault in self._faults:
            if fault.when(call):
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    # -- dispatch (called by the handler) --------------------------------------------------

    def handle(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> _Answer | None:
        """Answer one HTTP request; None = drop the connection without an answer."""
        split = urlsplit(raw_path)
        query = parse_qs(split.query, keep_blank_values=True)
        if split.path == TOKEN_PATH and method == "POST":
            with self._lock:
                return self._token(body)
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            return _error(400, "Invalid JSON payload received.")
        kind, params = route_of(method, split.path)
        call = Call(method, unquote(split.path), kind, query, parsed)
        with self._lock:
            self.calls.append((method, call.path))
            self.requests.append(call)
            fault = self._take_fault(call)
        if fault is not None and (fault.hold is not None or fault.hold_forever):
            if fault.apply_first:
                self._serve(call, params, headers)
            self._released.wait(fault.hold)
            return None
        if fault is not None and not fault.apply_first:
            return self._fault_answer(fault)
        answer = self._serve(call, params, headers)
        if fault is not None:
            return self._fault_answer(fault)
        return answer

    def _fault_answer(self, fault: _Fault) -> _Answer:
        answer = _error(fault.status)
        if fault.retry_after is not None:
            answer.headers["Retry-After"] = f"{fault.retry_after:g}"
        return answer

    def _serve(self, call: Call, route: tuple[str, ...], headers: dict[str, str]) -> _Answer:
        with self._lock:
            scopes = self._authorised(headers)
            if scopes is None:
                return _error(
                    401,
                    "Request had invalid authentication credentials. Expected"
                    " OAuth 2 access token, login cookie or other valid"
                    " authentication credential.",
                )
            try:
                return _Answer(200, self._dispatch(call, route, scopes))
            except ApiError as err:
                return _error(err.code, err.message, err.status)

    def _authorised(self, headers: dict[str, str]) -> set[str] | None:
        auth = headers.get("authorization", "")
        if not auth.startswith("Bearer "):
            return None
        return self._tokens.get(auth[len("Bearer ") :])

    def _token(self, body: bytes) -> _Answer:
        self.token_calls += 1
        claims, error = jwt_claims(body)
        if claims is None:
            return _Answer(400, error)
        if self.token_error is not None:
            refused = {"error": self.token_error, "error_description": "Invalid JWT Signature."}
            return _Answer(400, refused)
        self.token_scopes.append(claims["scope"])
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self._tokens[token] = set(claims["scope"].split())
        return _Answer(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    # -- the APIs --------------------------------------------------------------------------

    def _dispatch(self, call: Call, route: tuple[str, ...], scopes: set[str]) -> Any:
        if call.kind == "unknown":
            raise ApiError(404, "NOT_FOUND", f"Method not found: {call.method} {call.path}")
        if call.kind.startswith("drive."):
            if not scopes & DRIVE_SCOPES:
                raise ApiError(
                    403, "PERMISSION_DENIED", "Request had insufficient authentication scopes."
                )
            return serve_drive(self, call, route)
        writing = call.kind not in ("sheets.get", "values.get", "values.batchGet")
        if not scopes & (SHEETS_SCOPES if writing else READ_SCOPES):
            raise ApiError(
                403, "PERMISSION_DENIED", "Request had insufficient authentication scopes."
            )
        book = self.books.get(route[0])
        if book is None:
            raise ApiError(404, "NOT_FOUND", "Requested entity was not found.")
        if not book.shared or (writing and book.shared != "writer"):
            raise ApiError(403, "PERMISSION_DENIED", "The caller does not have permission")
        if writing:
            book.modified = _now()
        return serve_sheets(self, book, call, route)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Google's front ends speak
    timeout = 30  # idle keep-alive connections end by themselves

    def setup(self) -> None:
        """No Nagle delay: headers and body go out in two writes on a kept-alive socket."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _any(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake: FakeGoogle = self.server.fake  # type: ignore[attr-defined]
        answer = fake.handle(self.command, self.path, headers, body)
        if answer is None:
            self.close_connection = True
            return
        data = json.dumps(answer.body).encode()
        try:
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read ``FakeGoogle.requests`` instead."""

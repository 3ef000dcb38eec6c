"""The fake Sheets values endpoints and the Drive file list, over the in-memory books."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote

from tests.fake_google_grid import (
    ApiError,
    Book,
    Range,
    a1,
    bad_request,
    parse_range,
    read_values,
    table_end,
    write_values,
)
from tests.fake_google_sheets import apply_mask, batch_update_sheets, metadata, parse_mask

if TYPE_CHECKING:
    from tests.fake_google import Call, FakeGoogle


def serve_sheets(fake: FakeGoogle, book: Book, call: Call, route: tuple[str, ...]) -> Any:
    q = {k: v[-1] for k, v in call.query.items()}
    body = call.body if isinstance(call.body, dict) else {}
    kind = call.kind
    if kind == "sheets.get":
        include = q.get("includeGridData", "false").lower() == "true"
        mask = parse_mask(q["fields"]) if q.get("fields") else None
        return apply_mask(metadata(book, include), mask)
    if kind == "sheets.batchUpdate":
        replies, updated = batch_update_sheets(fake, book, body.get("requests"))
        fake.books[book.id] = updated
        return {"spreadsheetId": book.id, "replies": replies}
    if kind == "values.get":
        return value_range(book, unquote(route[1]), q)
    if kind == "values.batchGet":
        ranges = call.query.get("ranges", [])
        return {
            "spreadsheetId": book.id,
            "valueRanges": [value_range(book, r, q) for r in ranges],
        }
    if kind in ("values.clear", "values.batchClear"):
        names = [unquote(route[1])] if kind == "values.clear" else body.get("ranges", [])
        cleared = [clear(book, name) for name in names]
        if kind == "values.clear":
            return {"spreadsheetId": book.id, "clearedRange": cleared[0]}
        return {"spreadsheetId": book.id, "clearedRanges": cleared}
    option = q.get("valueInputOption") or body.get("valueInputOption")
    if option not in ("RAW", "USER_ENTERED"):
        raise bad_request("'valueInputOption' is required but not specified")
    if kind == "values.update":
        rng = parse_range(book, unquote(route[1]))
        values = _rows(body, "values")
        return write(fake, book, rng, values, option, grow=False)
    if kind == "values.append":
        return append(fake, book, unquote(route[1]), body, q, option)
    if kind == "values.batchUpdate":
        return batch_write(fake, book, body, option)
    raise ApiError(404, "NOT_FOUND", "Method not found.")


def value_range(book: Book, name: str, q: dict[str, str]) -> dict[str, Any]:
    rng = parse_range(book, name)
    major = q.get("majorDimension") or "ROWS"
    rendered_range, values = read_values(
        rng, q.get("valueRenderOption") or "FORMATTED_VALUE", major
    )
    answer: dict[str, Any] = {"range": rendered_range, "majorDimension": major}
    if values:
        answer["values"] = values
    return answer


def clear(book: Book, name: str) -> str:
    rng = parse_range(book, name)
    r1, c1 = rng.clipped()
    for r in range(rng.r0, min(r1, len(rng.sheet.cells))):
        row = rng.sheet.cells[r]
        for c in range(rng.c0, min(c1, len(row))):
            row[c] = ""
    return a1(rng.sheet, rng.r0, rng.c0, r1, c1)


def write(
    fake: FakeGoogle, book: Book, rng: Range, values: list[list[object]], option: str, *, grow: bool
) -> dict[str, Any]:
    r0, c0, r1, c1 = write_values(rng, values, option, grow=grow, strict=fake.strict_grid)
    answer: dict[str, Any] = {"spreadsheetId": book.id}
    if values:
        answer |= {
            "updatedRange": a1(rng.sheet, r0, c0, r1, c1),
            "updatedRows": r1 - r0,
            "updatedColumns": c1 - c0,
            "updatedCells": sum(len(r) for r in values),
        }
    return answer


def append(
    fake: FakeGoogle, book: Book, name: str, body: dict[str, Any], q: dict[str, str], option: str
) -> dict[str, Any]:
    rng = parse_range(book, name)
    values = _rows(body, "values")
    end = table_end(rng)
    start = rng.r0 if end is None else end
    sheet = rng.sheet
    if (q.get("insertDataOption") or "OVERWRITE") == "INSERT_ROWS":
        sheet.insert_rows(min(start, sheet.rows), len(values))
    target = Range(sheet, start, rng.c0, None, None, anchor=True)
    answer: dict[str, Any] = {
        "spreadsheetId": book.id,
        "updates": write(fake, book, target, values, option, grow=True),
    }
    if end is not None:
        width = max(len(r) for r in sheet.cells[rng.r0 : end]) if end > rng.r0 else 1
        answer["tableRange"] = a1(sheet, rng.r0, rng.c0, end, max(rng.c0 + 1, width))
    return answer


def batch_write(fake: FakeGoogle, book: Book, body: dict[str, Any], option: str) -> dict[str, Any]:
    data = body.get("data")
    if not isinstance(data, list):
        raise bad_request("Invalid value at 'data'")
    # All or nothing, as Google applies a batch: write into a copy, keep it if all fit.
    trial = copy.deepcopy(book)
    responses = []
    for item in data:
        if not isinstance(item, dict) or not isinstance(item.get("range"), str):
            raise bad_request("Invalid value at 'data[].range'")
        rng = parse_range(trial, item["range"])
        responses.append(write(fake, trial, rng, _rows(item, "values"), option, grow=False))
    fake.books[book.id] = trial
    return {
        "spreadsheetId": book.id,
        "totalUpdatedRows": sum(r.get("updatedRows", 0) for r in responses),
        "totalUpdatedColumns": max((r.get("updatedColumns", 0) for r in responses), default=0),
        "totalUpdatedCells": sum(r.get("updatedCells", 0) for r in responses),
        "totalUpdatedSheets": len(
            {r["updatedRange"].split("!")[0] for r in responses if "updatedRange" in r}
        ),
        "responses": responses,
    }


def serve_drive(fake: FakeGoogle, call: Call, route: tuple[str, ...]) -> Any:
    q = {k: v[-1] for k, v in call.query.items()}
    mask = parse_mask(q["fields"]) if q.get("fields") else None
    visible = [b for b in fake.books.values() if b.shared]
    if call.kind == "drive.get":
        found = next((b for b in visible if b.id == route[0]), None)
        if found is None:
            raise ApiError(404, "NOT_FOUND", f"File not found: {route[0]}.")
        return apply_mask(_file(found), mask)
    matches = [b for b in visible if _drive_query(q.get("q", ""))(b)]
    size = min(int(q.get("pageSize") or 100), 1000)
    offset = int(q.get("pageToken") or 0)
    page = matches[offset : offset + size]
    answer: dict[str, Any] = {
        "kind": "drive#fileList",
        "incompleteSearch": False,
        "files": [_file(b) for b in page],
    }
    if offset + size < len(matches):
        answer["nextPageToken"] = str(offset + size)
    if mask is None:
        answer["files"] = [
            {k: f[k] for k in ("kind", "id", "name", "mimeType")} for f in answer["files"]
        ]
        return answer
    return apply_mask(answer, mask)


def _rows(body: dict[str, Any], key: str) -> list[list[object]]:
    values = body.get(key, [])
    if body.get("majorDimension") == "COLUMNS" and isinstance(values, list):
        width = max((len(c) for c in values), default=0)
        values = [[c[i] if i < len(c) else None for c in values] for i in range(width)]
    if not isinstance(values, list):
        raise bad_request(f"Invalid value at '{key}'")
    return values


def _file(book: Book) -> dict[str, Any]:
    return {
        "kind": "drive#file",
        "id": book.id,
        "name": book.title,
        "mimeType": "application/vnd.google-apps.spreadsheet",
        "createdTime": book.created,
        "modifiedTime": book.modified,
    }


_CLAUSE_RE = re.compile(
    r"""\s*(\w+)\s*(=|!=|contains)\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|(\w+))\s*"""
)


def _clause(name: str, op: str, value: str) -> Callable[[Book], bool]:
    def test(book: Book) -> bool:
        if name == "trashed":
            return value == "false"  # nothing in the fake is ever trashed
        if name == "mimeType":
            return (value == "application/vnd.google-apps.spreadsheet") == (op == "=")
        if op == "contains":
            return value in book.title
        return (book.title == value) == (op == "=")

    return test


def _drive_query(q: str) -> Callable[[Book], bool]:
    """Drive's ``q`` for the clauses gspread and people use: name, mimeType, trashed."""
    tests: list[Callable[[Book], bool]] = []
    for clause in (
        re.split(r"\s+and\s+(?=(?:[^'\"]|'[^']*'|\"[^\"]*\")*$)", q.strip()) if q.strip() else []
    ):
        m = _CLAUSE_RE.fullmatch(clause)
        if not m:
            raise bad_request("Invalid Value")
        name, op = m.group(1), m.group(2)
        raw = (
            m.group(3)
            if m.group(3) is not None
            else m.group(4)
            if m.group(4) is not None
            else m.group(5)
        )
        value = re.sub(r"\\(.)", r"\1", raw)
        if name not in ("trashed", "mimeType", "name"):
            raise bad_request("Invalid Value")
        tests.append(_clause(name, op, value))
    return lambda b: all(t(b) for t in tests)


_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"/v4/spreadsheets/([^/:]+)"), "sheets.get"),
    ("POST", re.compile(r"/v4/spreadsheets/([^/:]+):batchUpdate"), "sheets.batchUpdate"),
    ("GET", re.compile(r"/v4/spreadsheets/([^/:]+)/values:batchGet"), "values.batchGet"),
    ("POST", re.compile(r"/v4/spreadsheets/([^/:]+)/values:batchUpdate"), "values.batchUpdate"),
    ("POST", re.compile(r"/v4/spreadsheets/([^/:]+)/values:batchClear"), "values.batchClear"),
    ("POST", re.compile(r"/v4/spreadsheets/([^/:]+)/values/(.+):append"), "values.append"),
    ("POST", re.compile(r"/v4/spreadsheets/([^/:]+)/values/(.+):clear"), "values.clear"),
    ("GET", re.compile(r"/v4/spreadsheets/([^/:]+)/values/([^/]+)"), "values.get"),
    ("PUT", re.compile(r"/v4/spreadsheets/([^/:]+)/values/([^/]+)"), "values.update"),
    ("GET", re.compile(r"/drive/v3/files"), "drive.list"),
    ("GET", re.compile(r"/drive/v3/files/([^/]+)"), "drive.get"),
]


def route_of(method: str, raw_path: str) -> tuple[str, tuple[str, ...]]:
    """The kind of request and its path parameters (still percent-encoded)."""
    for verb, pattern, kind in _ROUTES:
        m = pattern.fullmatch(raw_path)
        if m and verb == method:
            return kind, m.groups()
    return "unknown", ()


JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def _b64json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jwt_claims(body: bytes) -> tuple[dict[str, Any] | None, dict[str, str]]:
    """The claims of a JWT-bearer grant (a well-formed RS256 JWT with a scope; the signature
    is not checked), or None and the OAuth error answer."""
    form = parse_qs(body.decode("ascii", "replace"))
    if form.get("grant_type") != [JWT_GRANT] or len(form.get("assertion", [])) != 1:
        return None, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type"}
    parts = form["assertion"][0].split(".")
    try:
        if len(parts) != 3 or not parts[2]:
            raise ValueError("not three parts")
        header, claims = _b64json(parts[0]), _b64json(parts[1])
        base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        if header.get("alg") != "RS256" or header.get("typ") != "JWT":
            raise ValueError("header")
        if not all(isinstance(claims.get(k), int) for k in ("iat", "exp")):
            raise ValueError("iat/exp")
        if not 0 < claims["exp"] - claims["iat"] <= 3600 or not claims.get("iss"):
            raise ValueError("lifetime or issuer")
    except (ValueError, binascii.Error, AttributeError):
        return None, {"error": "invalid_grant", "error_description": "Invalid JWT."}
    if not isinstance(claims.get("scope"), str) or not claims["scope"]:
        return None, {
            "error": "invalid_scope",
            "error_description": "Invalid OAuth scope or ID token audience provided.",
        }
    return claims, {}

"""The fake Google answers real gspread + google-auth clients as Google does."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator

import gspread
import pytest
from google.oauth2 import service_account
from gspread.exceptions import APIError, SpreadsheetNotFound
from gspread.utils import ValueInputOption, ValueRenderOption

from lockerkey.sync.google_http import GoogleHTTP
from tests.fake_google import FakeGoogle
from tests.google_creds import key_info

SHEETS = "https://www.googleapis.com/auth/spreadsheets"
DRIVE_RO = "https://www.googleapis.com/auth/drive.readonly"


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as fake:
        yield fake


def client(google: FakeGoogle, scopes: tuple[str, ...] = (SHEETS, DRIVE_RO)) -> gspread.Client:
    """gspread as the backend builds it: service-account credentials, GoogleHTTP, no retries."""
    creds = service_account.Credentials.from_service_account_info(
        key_info(google.token_uri), scopes=list(scopes)
    )
    gc = gspread.Client(creds, http_client=GoogleHTTP)
    assert isinstance(gc.http_client, GoogleHTTP)
    gc.http_client.configure(
        api_endpoint=google.url, timeout_s=5, retries=0, sleep=lambda _s: None, rand=lambda: 0.0
    )
    return gc


def test_token_grant_scopes_and_bearer_check(google: FakeGoogle) -> None:
    key = google.add_spreadsheet("Members", {"members": [["barcode"], ["0012"]]})
    sheet = client(google).open_by_key(key)
    assert sheet.title == "Members"
    assert google.token_calls == 1
    assert google.token_scopes == [f"{SHEETS} {DRIVE_RO}"]
    # Without a bearer token the API answers 401 in Google's error format.
    url = f"{google.url}/v4/spreadsheets/{key}"
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url, timeout=5)
    error = json.loads(caught.value.read())["error"]
    assert (error["code"], error["status"]) == (401, "UNAUTHENTICATED")
    # A revoked token: google-auth refreshes on the 401 and repeats the request.
    google.revoke_tokens()
    assert sheet.sheet1.get_all_values() == [["barcode"], ["0012"]]
    assert google.token_calls == 2


def test_token_endpoint_checks_the_jwt(google: FakeGoogle) -> None:
    def post(form: str) -> dict[str, str]:
        request = urllib.request.Request(google.token_uri, data=form.encode(), method="POST")
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        assert caught.value.code == 400
        return json.loads(caught.value.read())  # type: ignore[no-any-return]

    grant = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
    assert post(grant + "&assertion=not.a.jwt")["error"] == "invalid_grant"
    assert post("grant_type=password&assertion=x")["error"] == "unsupported_grant_type"
    assert google.token_scopes == []


def test_metadata_fields_and_worksheet_reads(google: FakeGoogle) -> None:
    rows = [["barcode", "name", "memo"], ["0012", "Kim"], [], ["M3", "", "x", "", ""]]
    key = google.add_spreadsheet("Members", {"it's members": rows, "other": []})
    http = client(google).http_client
    meta = http.fetch_sheet_metadata(key, params={"fields": "sheets.properties(title,index)"})
    assert meta == {
        "sheets": [
            {"properties": {"title": "it's members", "index": 0}},
            {"properties": {"title": "other", "index": 1}},
        ]
    }
    ws = client(google).open_by_key(key).worksheet("it's members")
    # Trailing empty cells and rows are trimmed; an empty row inside stays as [].
    assert ws.get() == [["barcode", "name", "memo"], ["0012", "Kim"], [], ["M3", "", "x"]]
    assert ws.get_all_values()[1:3] == [["0012", "Kim", ""], ["", "", ""]]  # gspread pads
    assert ws.get("A2:B") == [["0012", "Kim"], [], ["M3"]]
    assert ws.get("B:B") == [["name"], ["Kim"]]
    answer = http.values_get(key, "'it''s members'!A1:B2")
    assert answer["range"] == "'it''s members'!A1:B2"
    both = ws.batch_get(["A1", "C4"])
    assert [list(r) for r in both] == [[["barcode"]], [["x"]]]
    assert client(google).open_by_key(key).worksheet("other").get_all_values() == [[]]


def test_user_entered_numbers_and_raw_text(google: FakeGoogle) -> None:
    key = google.add_spreadsheet("Book", {"s": []})
    ws = client(google).open_by_key(key).sheet1
    ws.update([["0012", "'0013", "1.50", "TRUE"]], "A1", value_input_option="USER_ENTERED")
    ws.update([["0012", "12345678901234567890"]], "A2", value_input_option=ValueInputOption.raw)
    ws.update([["12345678901234567890"]], "A3", value_input_option="USER_ENTERED")
    assert google.values(key, "s") == [
        ["12", "0013", "1.5", "TRUE"],
        ["0012", "12345678901234567890"],
        ["1.23457E+19"],
    ]
    assert google.cells(key, "s")[0] == [12, "0013", 1.5, True]
    unformatted = ws.get("A1:B2", value_render_option=ValueRenderOption.unformatted)
    assert unformatted == [[12, "0013"], ["0012", "12345678901234567890"]]


def test_grid_limits_resize_and_append_growth(google: FakeGoogle) -> None:
    key = google.add_spreadsheet("Book", {"s": [["h"]]}, rows=3, cols=2)
    ws = client(google).open_by_key(key).sheet1
    with pytest.raises(APIError) as caught:
        ws.update([["a"], ["b"], ["c"]], "A2")
    assert caught.value.code == 400
    assert "exceeds grid limits. Max rows: 3, max columns: 2" in caught.value.error["message"]
    with pytest.raises(APIError, match="tried writing to row"):
        ws.update([["a"], ["b"]], "A1:A1")
    ws.resize(rows=4)
    ws.update([["a"], ["b"], ["c"]], "A2")
    answer = ws.append_rows([["d", "e", "f"]], value_input_option="RAW")
    assert answer["updates"]["updatedRange"] == "s!A5:C5"
    assert answer["tableRange"] == "s!A1:A4"
    assert google.grid(key, "s") == (5, 3)  # INSERT_ROWS added a row; the third column too
    assert google.values(key, "s") == [["h"], ["a"], ["b"], ["c"], ["d", "e", "f"]]


def test_structure_clear_and_delete(google: FakeGoogle) -> None:
    key = google.add_spreadsheet("Book", {"s": [["1", "2"], ["3", "4"], ["5", "6"]]})
    sheet = client(google).open_by_key(key)
    new = sheet.add_worksheet("sync_report", rows=10, cols=3)
    assert (new.row_count, new.col_count) == (10, 3)
    with pytest.raises(APIError, match="already exists"):
        sheet.add_worksheet("sync_report", rows=1, cols=1)
    assert google.sheet_titles(key) == ["s", "sync_report"]
    ws = sheet.sheet1
    ws.batch_clear(["A1", "B3"])
    assert google.values(key, "s") == [["", "2"], ["3", "4"], ["5"]]
    ws.delete_rows(2)
    assert google.values(key, "s") == [["", "2"], ["5"]]
    ws.batch_update([{"range": "A1:B1", "values": [["x", "y"]]}], value_input_option="RAW")
    ws.clear()
    assert google.values(key, "s") == []
    sheet.del_worksheet(new)
    assert google.sheet_titles(key) == ["s"]


def test_drive_lists_by_title_and_pages(google: FakeGoogle) -> None:
    first = google.add_spreadsheet("Members", {"s": []})
    google.add_spreadsheet("Rentals", {"s": []})
    google.add_spreadsheet("Members", {"s": []}, shared=False)  # not shared: not listed
    gc = client(google)
    assert gc.open("Members").id == first
    assert [c.kind for c in google.requests] == ["drive.list", "sheets.get"]
    query = google.requests[0].query
    assert query["q"] == ['mimeType="application/vnd.google-apps.spreadsheet" and name = "Members"']
    assert query["fields"] == ["kind,nextPageToken,files(id,name,createdTime,modifiedTime)"]
    with pytest.raises(SpreadsheetNotFound):
        gc.open("Nothing")
    page = gc.http_client.request(
        "get", "https://www.googleapis.com/drive/v3/files", params={"pageSize": 1}
    ).json()
    assert len(page["files"]) == 1
    assert page["nextPageToken"]
    assert set(page["files"][0]) == {"kind", "id", "name", "mimeType"}
    quoted = google.add_spreadsheet("It's", {"s": []})
    q = "name = 'It\\'s' and mimeType='application/vnd.google-apps.spreadsheet' and trashed = false"
    files = gc.http_client.request(
        "get", "https://www.googleapis.com/drive/v3/files", params={"q": q, "fields": "files(id)"}
    ).json()
    assert files == {"files": [{"id": quoted}]}
    # Without a Drive scope the token cannot list files.
    with pytest.raises(APIError, match="insufficient authentication scopes"):
        client(google, scopes=(SHEETS,)).list_spreadsheet_files()


def test_not_found_not_shared_and_read_only(google: FakeGoogle) -> None:
    hidden = google.add_spreadsheet("Hidden", {"s": []}, shared=False)
    viewer = google.add_spreadsheet("Viewer", {"s": [["a"]]}, shared="reader")
    gc = client(google)
    with pytest.raises(SpreadsheetNotFound):
        gc.open_by_key("1" * 44)
    with pytest.raises(PermissionError):
        gc.open_by_key(hidden)
    ws = gc.open_by_key(viewer).sheet1
    assert ws.get_all_values() == [["a"]]
    with pytest.raises(APIError) as caught:
        ws.update([["b"]], "A1")
    assert caught.value.error == {
        "code": 403,
        "message": "The caller does not have permission",
        "status": "PERMISSION_DENIED",
    }


def test_faults_fail_next_and_apply_then_fail(google: FakeGoogle) -> None:
    key = google.add_spreadsheet("Book", {"s": [["h"]]})
    ws = client(google).open_by_key(key).sheet1
    google.fail_next(1, status=404)
    with pytest.raises(APIError) as caught:
        ws.get_all_values()
    assert caught.value.error["status"] == "NOT_FOUND"
    google.fail_when(lambda call: call.kind == "values.append", status=400, apply_then_fail=True)
    with pytest.raises(APIError):
        ws.append_rows([["lost answer"]])
    assert google.values(key, "s") == [["h"], ["lost answer"]]  # the write did happen
    assert google.count("values.append") == 1
    assert google.calls[-1] == ("POST", f"/v4/spreadsheets/{key}/values/'s':append")

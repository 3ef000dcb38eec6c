"""The Google Sheets backend against the fake Google, through real gspread + google-auth:
credentials, finding spreadsheets, reads, the report, the rentals and the call budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from lockerkey.sync.backend import Backend, SyncRefused
from lockerkey.sync.google_http import GoogleHTTP
from lockerkey.sync.gsheets import DRIVE_READONLY_SCOPE, SHEETS_SCOPE
from tests.google_creds import EMAIL, private_key_pem
from tests.gsheets_rig import HEADER, MEMBERS, Rig, gsheets_rig, rental


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with gsheets_rig(tmp_path) as rig:
        yield rig


def test_is_a_backend(rig: Rig) -> None:
    backend: Backend = rig.make()
    assert backend.name == "gsheets"
    assert backend.api_calls == 0  # nothing is sent before the first read


# -- credentials ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o700])
def test_key_readable_by_others_is_refused(rig: Rig, mode: int) -> None:
    os.chmod(rig.key_file, mode)
    with pytest.raises(SyncRefused) as caught:
        rig.make()
    assert str(rig.key_file) in str(caught.value)
    assert f"chmod 600 {rig.key_file}" in str(caught.value)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_key_is_accepted(rig: Rig, mode: int) -> None:
    os.chmod(rig.key_file, mode)
    assert rig.make().read_members()[0] == MEMBERS[0]


def test_missing_or_not_a_file(rig: Rig, tmp_path: Path) -> None:
    with pytest.raises(SyncRefused, match="does not exist"):
        rig.make(credentials=tmp_path / "nope.json")
    with pytest.raises(SyncRefused, match="not a regular file"):
        rig.make(credentials=tmp_path)


def _chain(err: BaseException | None) -> str:
    text = ""
    while err is not None:
        text += f"{err!r} {err}\n"
        err = err.__cause__ or err.__context__
    return text


@pytest.mark.parametrize(
    "content",
    [
        # Broken JSON: the message gives line and column, never the text around them.
        '{"type": "service_account", "private_key": "SECRET-KEY-TEXT" "client_email": 1}',
        '["SECRET-KEY-TEXT"]',
        '{"type": "authorized_user", "refresh_token": "SECRET-KEY-TEXT"}',
        '{"type": "service_account", "client_email": "a@b", "token_uri": "http://x",'
        ' "private_key": "-----BEGIN PRIVATE KEY-----\\nSECRET-KEY-TEXT\\n'
        '-----END PRIVATE KEY-----\\n"}',
        "SECRET-KEY-TEXT \xff",
    ],
)
def test_bad_key_file_never_shows_its_content(rig: Rig, tmp_path: Path, content: str) -> None:
    path = tmp_path / "key.json"
    path.write_bytes(content.encode("latin-1"))
    os.chmod(path, 0o600)
    with pytest.raises(SyncRefused) as caught:
        rig.make(credentials=path)
    assert str(path) in str(caught.value)
    assert "SECRET" not in _chain(caught.value)
    # Nothing chained either: a parser's exception would hold the text (``doc``, ``object``).
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None


def test_real_key_never_in_messages(rig: Rig) -> None:
    rig.google.token_error = "invalid_grant"
    with pytest.raises(SyncRefused) as caught:
        rig.make().read_members()
    assert EMAIL in str(caught.value)
    assert "invalid_grant" in str(caught.value)
    body = private_key_pem().splitlines()[1]
    assert body not in _chain(caught.value)


# -- finding spreadsheets -------------------------------------------------------------------


def test_key_opens_without_drive(rig: Rig) -> None:
    backend = rig.make()
    assert backend.scopes == [SHEETS_SCOPE]
    backend.read_members()
    assert rig.google.kinds() == ["sheets.get", "values.get"]
    assert rig.google.token_scopes == [SHEETS_SCOPE]


def test_title_uses_drive_and_its_scope(rig: Rig) -> None:
    backend = rig.make(members_spreadsheet="Members")
    assert backend.scopes == [SHEETS_SCOPE, DRIVE_READONLY_SCOPE]
    assert backend.read_members() == [MEMBERS[0], MEMBERS[1], [*MEMBERS[2], ""]]
    assert rig.google.kinds() == ["drive.list", "sheets.get", "values.get"]
    assert rig.google.token_scopes == [f"{SHEETS_SCOPE} {DRIVE_READONLY_SCOPE}"]


def test_url_gives_the_key(rig: Rig) -> None:
    url = f"https://docs.google.com/spreadsheets/d/{rig.members}/edit#gid=0"
    backend = rig.make(members_spreadsheet=url)
    assert backend.scopes == [SHEETS_SCOPE]
    assert backend.read_members()[1] == MEMBERS[1]
    assert rig.google.kinds() == ["sheets.get", "values.get"]
    with pytest.raises(SyncRefused, match="not a Google Sheets URL"):
        rig.make(members_spreadsheet="https://example.com/members.csv")


def test_title_missing_or_ambiguous(rig: Rig) -> None:
    with pytest.raises(SyncRefused) as caught:
        rig.make(members_spreadsheet="Nobody Shared This").read_members()
    assert "'Nobody Shared This' not found or not shared with " + EMAIL in str(caught.value)
    rig.google.add_spreadsheet("Members", {"members": []})
    with pytest.raises(SyncRefused, match="2 spreadsheets titled 'Members'"):
        rig.make(members_spreadsheet="Members").read_members()


def test_one_spreadsheet_for_both_is_opened_once(rig: Rig) -> None:
    both = rig.google.add_spreadsheet("Both", {"members": MEMBERS, "rentals": [HEADER]})
    backend = rig.make(members_spreadsheet=both, rentals_spreadsheet="Both")
    backend.read_members()
    assert backend.read_rentals() == [HEADER]
    assert rig.google.kinds() == ["sheets.get", "values.get", "drive.list", "values.get"]


def test_worksheet_missing_or_first(rig: Rig) -> None:
    with pytest.raises(SyncRefused, match=r"worksheet 'Sheet9' not found .*it has 'members'"):
        rig.make(members_worksheet="Sheet9").read_members()
    assert rig.make(members_worksheet="").read_members()[0] == MEMBERS[0]


def test_api_endpoint_rewrites_both_hosts() -> None:
    http = GoogleHTTP(None, session=requests.Session())
    http.configure(
        api_endpoint="http://127.0.0.1:8900/google/",
        timeout_s=1,
        retries=0,
        sleep=lambda _s: None,
        rand=lambda: 0.0,
    )
    sheets = "https://sheets.googleapis.com/v4/spreadsheets/K/values/%27a%27%21A1:append?x=1"
    drive = "https://www.googleapis.com/drive/v3/files?q=name"
    assert (
        http.url(sheets)
        == "http://127.0.0.1:8900/google/v4/spreadsheets/K/values/%27a%27%21A1:append?x=1"
    )
    assert http.url(drive) == "http://127.0.0.1:8900/google/drive/v3/files?q=name"
    http.configure(api_endpoint="", timeout_s=1, retries=0, sleep=print, rand=lambda: 0.0)
    assert http.url(drive) == drive
    with pytest.raises(SyncRefused, match="api_endpoint"):
        http.configure(
            api_endpoint="127.0.0.1:8900", timeout_s=1, retries=0, sleep=print, rand=float
        )


def test_both_hosts_reach_the_fake(rig: Rig) -> None:
    backend = rig.make(members_spreadsheet="Members", rentals_spreadsheet="Rentals")
    backend.read_members()
    backend.read_rentals()
    paths = [path for _method, path in rig.google.calls]
    assert paths[0] == "/drive/v3/files"
    assert paths[1] == f"/v4/spreadsheets/{rig.members}"
    assert backend.api_calls == rig.google.count() == 6


# -- reading ---------------------------------------------------------------------------------


def test_reads_keep_text_barcodes_and_pad_rows(rig: Rig) -> None:
    backend = rig.make()
    assert backend.read_members() == [MEMBERS[0], MEMBERS[1], ["M0002", "Lee", ""]]
    assert backend.read_rentals() == []
    # A barcode typed into the sheet as a number shows as Google displays it.
    numbers = rig.google.add_spreadsheet("Numbers", {"m": [["barcode"]]})
    backend = rig.make(members_spreadsheet=numbers, members_worksheet="m")
    google_client = backend._http  # the same client, to type 0012 as a person would
    google_client.values_update(
        numbers, "m!A2", {"valueInputOption": "USER_ENTERED"}, {"values": [["0012"]]}
    )
    assert backend.read_members() == [["barcode"], ["12"]]


# -- the report ------------------------------------------------------------------------------


def test_report_created_then_overwritten_shorter(rig: Rig) -> None:
    backend = rig.make()
    report = [["row", "barcode", "problem"], *[[str(i), f"{i:04d}", "bad"] for i in range(2, 9)]]
    backend.write_report(report)
    assert rig.google.kinds() == ["sheets.get", "sheets.batchUpdate", "values.update"]
    key = rig.members
    assert rig.google.values(key, "sync_report") == report
    assert rig.google.cells(key, "sync_report")[1][1] == "0002"  # RAW: text stays text
    rig.google.reset_counts()
    shorter = [["row", "barcode"], ["5", "0005"]]
    backend.write_report(shorter)
    assert rig.google.kinds() == ["values.update"]  # the old rows are blanked by the same write
    assert rig.google.values(key, "sync_report") == shorter


def test_report_longer_than_the_grid_resizes(rig: Rig) -> None:
    key = rig.members
    small = rig.google.add_spreadsheet(
        "Small", {"members": MEMBERS, "sync_report": [["old"]]}, rows=3, cols=1
    )
    backend = rig.make(members_spreadsheet=small)
    report = [["row", "problem"], *[[str(i), "bad"] for i in range(5)]]
    backend.write_report(report)
    assert rig.google.kinds() == ["sheets.get", "sheets.batchUpdate", "values.update"]
    assert rig.google.values(small, "sync_report") == report
    assert rig.google.sheet_titles(key) == ["members"]  # the other spreadsheet was not touched


# -- rentals ---------------------------------------------------------------------------------


def test_rentals_header_appends_and_updates(rig: Rig) -> None:
    backend = rig.make()
    key = rig.rentals
    assert backend.read_rentals() == []
    backend.write_rentals(HEADER, [rental(1), rental(2)], {})
    assert rig.google.kinds() == ["sheets.get", "values.get", "values.batchUpdate", "values.append"]
    assert rig.google.values(key, "rentals") == [HEADER, rental(1), rental(2)]
    assert rig.google.cells(key, "rentals")[1][2] == "0001"
    rig.google.reset_counts()
    backend = rig.make()
    assert backend.read_rentals() == [HEADER, rental(1), rental(2)]
    backend.write_rentals(None, [rental(3)], {2: [*rental(1)[:3], "returned"]})
    assert rig.google.kinds() == ["sheets.get", "values.get", "values.batchUpdate", "values.append"]
    assert rig.google.values(key, "rentals")[1:] == [
        [*rental(1)[:3], "returned"],
        rental(2),
        rental(3),
    ]
    rig.google.reset_counts()
    backend.write_rentals(None, [], {3: rental(2)[:2]})  # a shorter row blanks the rest
    assert rig.google.kinds() == ["values.batchUpdate"]
    assert rig.google.values(key, "rentals")[2] == rental(2)[:2]


def test_a_narrow_rentals_grid_is_widened_first(rig: Rig) -> None:
    narrow = rig.google.add_spreadsheet("Narrow", {"rentals": []}, rows=5, cols=2)
    backend = rig.make(rentals_spreadsheet=narrow)
    backend.read_rentals()
    rig.google.reset_counts()
    backend.write_rentals(HEADER, [rental(i) for i in range(10)], {})
    assert rig.google.kinds() == ["sheets.batchUpdate", "values.batchUpdate", "values.append"]
    assert rig.google.grid(narrow, "rentals") == (15, 4)
    assert rig.google.values(narrow, "rentals") == [HEADER, *[rental(i) for i in range(10)]]


def test_appends_go_below_the_table_even_after_a_blank_row(rig: Rig) -> None:
    key = rig.google.add_spreadsheet("Gap", {"rentals": [HEADER, rental(1), [], rental(2)]})
    backend = rig.make(rentals_spreadsheet=key)
    assert len(backend.read_rentals()) == 4
    backend.write_rentals(None, [rental(3)], {})
    assert rig.google.values(key, "rentals") == [HEADER, rental(1), [], rental(2), rental(3)]


def test_a_whole_pass_of_ten_thousand_rows(rig: Rig) -> None:
    members = [MEMBERS[0], *[[f"{i:06d}", f"name {i}", "active"] for i in range(10_000)]]
    old = [HEADER, *[rental(i) for i in range(10_000)]]
    report = [["row", "problem"], *[[str(i), "bad"] for i in range(300)]]
    updates = {row: [*rental(row - 2)[:3], "returned"] for row in range(2, 10_002)}
    new = [rental(i) for i in range(10_000, 20_000)]
    both = rig.google.add_spreadsheet("Both", {"members": members, "rentals": old})
    separate = rig.google.add_spreadsheet("Rentals 2", {"rentals": old})

    def measure(step: Callable[[], object]) -> int:
        before = rig.google.count()
        step()
        return rig.google.count() - before

    steps: dict[str, list[int]] = {}
    passes = [("first", separate), ("separate", separate), ("shared", both)]
    for name, rentals_key in passes:
        backend = rig.make(members_spreadsheet=both, rentals_spreadsheet=rentals_key)
        before = len(rig.google.values(rentals_key, "rentals"))
        steps[name] = [
            measure(backend.read_members),
            measure(lambda: backend.write_report(report)),  # noqa: B023
            measure(backend.read_rentals),
            measure(lambda: backend.write_rentals(HEADER, new, updates)),  # noqa: B023
        ]
        assert backend.api_calls == sum(steps[name])
        table = rig.google.values(rentals_key, "rentals")
        assert len(table) == before + 10_000
        assert table[10_000] == [*rental(9_999)[:3], "returned"]
        assert table[-1] == rental(19_999)
    # members: metadata + values; report: one write (plus an addSheet the first time);
    # rentals read: metadata (unless the spreadsheet is already open) + values; rentals
    # write: one batch (header + 10,000 updates) and one append (10,000 rows).
    assert steps == {"first": [2, 2, 2, 2], "separate": [2, 1, 2, 2], "shared": [2, 1, 1, 2]}
    assert sum(steps["separate"]) <= 7


def test_gspread_stays_out_of_the_kiosk() -> None:
    code = (
        "import sys, lockerkey.daemon, lockerkey.sync.runner, lockerkey.sync.backend;"
        "import json; print(json.dumps([m for m in sys.modules if m.startswith('gspread')]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []

"""Tests for lockerkey.sync.csv_members: encodings, CSV quirks and file-level errors."""

from __future__ import annotations

import codecs
from datetime import date
from pathlib import Path

import pytest

from lockerkey.core.model import MemberStatus
from lockerkey.sync.csv_members import MembersFileError, read_members_csv

KOREAN_CSV = (
    "바코드,이름,상태,만료일,구역,비고\r\n"
    "0012,김테스트,활성,2026. 12. 31.,남자,사물함 선호\r\n"
    "0345,이가상,정지,,여자,\r\n"
)


def _write(tmp_path: Path, data: bytes, name: str = "members.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _check_korean(path: Path) -> None:
    members, problems = read_members_csv(path)
    assert problems == []
    assert [(m.barcode, m.name, m.status, m.expiry_date, m.zone) for m in members] == [
        ("0012", "김테스트", MemberStatus.ACTIVE, date(2026, 12, 31), "남자"),
        ("0345", "이가상", MemberStatus.SUSPENDED, None, "여자"),
    ]
    assert members[0].extra == {"비고": "사물함 선호"}
    assert members[1].extra == {}


def test_utf8_without_bom(tmp_path: Path) -> None:
    _check_korean(_write(tmp_path, KOREAN_CSV.encode("utf-8")))


def test_utf8_with_bom(tmp_path: Path) -> None:
    data = codecs.BOM_UTF8 + KOREAN_CSV.encode("utf-8")
    path = _write(tmp_path, data)
    _check_korean(path)
    # The BOM must not end up glued to the first header (which would make "barcode" missing).
    members, _ = read_members_csv(path)
    assert "\ufeff바코드" not in members[0].extra


def test_cp949(tmp_path: Path) -> None:
    data = KOREAN_CSV.encode("cp949")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # make sure the fallback is what is being exercised
    _check_korean(_write(tmp_path, data))


def test_euc_kr(tmp_path: Path) -> None:
    _check_korean(_write(tmp_path, KOREAN_CSV.encode("euc-kr")))


def test_lf_line_endings_and_english_header(tmp_path: Path) -> None:
    text = "Member_ID,Name,Status,Expires\n0001,Test One,Active,2026-01-05\n"
    members, problems = read_members_csv(_write(tmp_path, text.encode()))
    assert problems == []
    assert members[0].barcode == "0001"
    assert members[0].expiry_date == date(2026, 1, 5)


def test_leading_zeros_kept(tmp_path: Path) -> None:
    text = "barcode,name,status,expiry_date\n000123,Zero Lead,active,\n"
    members, _ = read_members_csv(_write(tmp_path, text.encode()))
    assert members[0].barcode == "000123"


def test_row_numbers_count_records_not_lines(tmp_path: Path) -> None:
    text = (
        "barcode,name,status,expiry_date,note\n"  # row 1
        '1,One,active,,"two\nline note"\n'  # row 2 spans two file lines
        "2,,active,,\n"  # row 3
        "\n"  # row 4: blank, skipped
        ",,,,\n"  # row 5: blank, skipped
        "1,Dup,active,,\n"  # row 6
        '3,Three,active,"2026.2.30",\n'  # row 7
    )
    members, problems = read_members_csv(_write(tmp_path, text.encode()))
    assert [m.barcode for m in members] == ["1"]
    assert members[0].extra == {"note": "two\nline note"}
    assert [str(p) for p in problems] == [
        "row 3: empty name",
        "row 6: duplicate barcode '1' (first seen on row 2)",
        "row 7: bad expiry date '2026.2.30'",
    ]


def test_blank_lines_above_header_counted(tmp_path: Path) -> None:
    text = "\n,,,\nbarcode,name,status,expiry_date\n1,,active,\n"
    _, problems = read_members_csv(_write(tmp_path, text.encode()))
    assert [str(p) for p in problems] == ["row 4: empty name"]


def test_header_only_gives_no_rows(tmp_path: Path) -> None:
    path = _write(tmp_path, b"barcode,name,status,expiry_date\n")
    assert read_members_csv(path) == ([], [])


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.csv"
    with pytest.raises(MembersFileError, match=r"nope\.csv") as info:
        read_members_csv(path)
    assert isinstance(info.value.__cause__, OSError)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(MembersFileError, match="cannot read"):
        read_members_csv(tmp_path)


@pytest.mark.parametrize("data", [b"", b"\n\n", codecs.BOM_UTF8, b"  \r\n"])
def test_empty_file(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(MembersFileError, match=r"members\.csv: empty file"):
        read_members_csv(_write(tmp_path, data))


def test_no_header_row(tmp_path: Path) -> None:
    with pytest.raises(MembersFileError, match="no header row"):
        read_members_csv(_write(tmp_path, b",,,\n , ,\n"))


def test_binary_file(tmp_path: Path) -> None:
    data = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"
    with pytest.raises(MembersFileError, match=r"members\.csv: not a text file"):
        read_members_csv(_write(tmp_path, data))


def test_utf16_file_rejected_with_advice(tmp_path: Path) -> None:
    data = KOREAN_CSV.encode("utf-16")
    with pytest.raises(MembersFileError, match="UTF-16"):
        read_members_csv(_write(tmp_path, data))


def test_undecodable_file(tmp_path: Path) -> None:
    data = b"barcode,name,status,expiry_date\n1,\xff\xff\xff,active,\n"
    with pytest.raises(MembersFileError, match="not a text file or unknown encoding"):
        read_members_csv(_write(tmp_path, data))


def test_unclosed_quote_reports_lines(tmp_path: Path) -> None:
    text = 'barcode,name,status,expiry_date\n1,"Open,active,\n2,B,active,\n'
    with pytest.raises(MembersFileError, match="not a valid CSV") as info:
        read_members_csv(_write(tmp_path, text.encode()))
    assert "record starting on line 2" in str(info.value)
    assert "members.csv" in str(info.value)


def test_bad_quoting_reports_line(tmp_path: Path) -> None:
    text = 'barcode,name,status,expiry_date\n1,A,active,\n2,"B"x,active,\n'
    with pytest.raises(MembersFileError, match="line 3"):
        read_members_csv(_write(tmp_path, text.encode()))


def test_missing_headers_named(tmp_path: Path) -> None:
    path = _write(tmp_path, "바코드,이름\n1,가\n".encode())
    with pytest.raises(MembersFileError) as info:
        read_members_csv(path)
    message = str(info.value)
    assert str(path) in message
    assert "status (상태)" in message
    assert "expiry_date (만료일)" in message
    assert type(info.value.__cause__).__name__ == "RosterError"


def test_duplicate_headers(tmp_path: Path) -> None:
    path = _write(tmp_path, b"barcode,member_id,name,status,expiry_date\n")
    with pytest.raises(MembersFileError, match="duplicate column"):
        read_members_csv(path)


def test_semicolon_file_is_missing_columns(tmp_path: Path) -> None:
    # A European-style export is one big column; the operator is told what is missing.
    path = _write(tmp_path, b"barcode;name;status;expiry_date\n1;A;active;\n")
    with pytest.raises(MembersFileError, match="missing column"):
        read_members_csv(path)


def test_cp949_values_and_problems(tmp_path: Path) -> None:
    text = "회원번호,회원명,상태,만료일자\r\n0007,박예시,휴면,\r\n0008,최샘플,만료,2025/1/1\r\n"
    members, problems = read_members_csv(_write(tmp_path, text.encode("cp949")))
    assert [(m.barcode, m.status, m.expiry_date) for m in members] == [
        ("0008", MemberStatus.EXPIRED, date(2025, 1, 1))
    ]
    assert [str(p) for p in problems] == ["row 2: unknown status '휴면'"]

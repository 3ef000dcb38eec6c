"""Tests for lockerkey.core.roster: header aliases, cell parsing and row validation."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockerkey.core.model import MemberStatus
from lockerkey.core.roster import (
    REQUIRED,
    MemberRow,
    RosterError,
    RowProblem,
    canonical_header,
    parse_date,
    parse_rows,
    parse_status,
)

HEADER = ["barcode", "name", "status", "expiry_date"]


def _one(row: list[str], header: list[str] = HEADER) -> MemberRow:
    members, problems = parse_rows(header, [row])
    assert problems == []
    assert len(members) == 1
    return members[0]


def _problems(rows: list[list[str]], header: list[str] = HEADER) -> list[tuple[int, str, str]]:
    _, problems = parse_rows(header, rows)
    return [(p.row, p.barcode, p.reason) for p in problems]


# --- canonical_header ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("바코드", "barcode"),
        ("회원번호", "barcode"),
        ("Barcode", "barcode"),
        ("MEMBER_ID", "barcode"),
        ("member id", "barcode"),
        ("이름", "name"),
        ("성명", "name"),
        ("회원명", "name"),
        ("Name", "name"),
        ("member_name", "name"),
        ("상태", "status"),
        ("STATUS", "status"),
        ("만료일", "expiry_date"),
        ("만료일자", "expiry_date"),
        ("expiry", "expiry_date"),
        ("Expiry Date", "expiry_date"),
        ("expires", "expiry_date"),
        ("성별", "gender"),
        ("Sex", "gender"),
        ("gender", "gender"),
        ("구분", "category"),
        ("분류", "category"),
        ("Category", "category"),
        ("구역", "zone"),
        ("ZONE", "zone"),
        ("  \ufeff바코드\u00a0 ", "barcode"),
    ],
)
def test_canonical_header_aliases(text: str, expected: str) -> None:
    assert canonical_header(text) == expected


def test_canonical_header_unknown_keeps_case_and_strips() -> None:
    assert canonical_header("  Locker Pref\u00a0") == "Locker Pref"
    assert canonical_header("비고") == "비고"


# --- parse_status -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("active", MemberStatus.ACTIVE),
        ("ACTIVE", MemberStatus.ACTIVE),
        (" Active ", MemberStatus.ACTIVE),
        ("suspended", MemberStatus.SUSPENDED),
        ("Suspended", MemberStatus.SUSPENDED),
        ("expired", MemberStatus.EXPIRED),
        ("EXPIRED", MemberStatus.EXPIRED),
        ("활성", MemberStatus.ACTIVE),
        ("정지", MemberStatus.SUSPENDED),
        ("만료", MemberStatus.EXPIRED),
        ("\u00a0만료\u00a0", MemberStatus.EXPIRED),
    ],
)
def test_parse_status_known(text: str, expected: MemberStatus) -> None:
    assert parse_status(text) is expected


@pytest.mark.parametrize("text", ["", "   ", "paused", "정상", "activ", "active!", "1"])
def test_parse_status_unknown_or_empty_is_none(text: str) -> None:
    assert parse_status(text) is None


# --- parse_date ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-31",
        "2026.12.31",
        "2026. 12. 31",
        "2026. 12. 31.",
        "2026.12.31.",
        "2026/12/31",
        "20261231",
        " 2026-12-31 ",
        "\ufeff2026. 12. 31.\u00a0",
    ],
)
def test_parse_date_formats(text: str) -> None:
    assert parse_date(text) == date(2026, 12, 31)


@pytest.mark.parametrize(
    "text", ["2026-1-5", "2026.1.5", "2026. 1. 5.", "2026/1/5", "2026-01-05", "20260105"]
)
def test_parse_date_single_digit_month_and_day(text: str) -> None:
    assert parse_date(text) == date(2026, 1, 5)


@pytest.mark.parametrize("text", ["", "   ", "\u00a0", "\ufeff"])
def test_parse_date_empty_is_none(text: str) -> None:
    assert parse_date(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "2026-13-01",  # month 13
        "2026-02-30",  # impossible day
        "2025-02-29",  # not a leap year
        "2026-00-10",
        "2026-04-31",
        "0000-01-01",  # year 0 does not exist
        "20261301",
    ],
)
def test_parse_date_impossible_dates_raise(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


def test_parse_date_leap_day_accepted() -> None:
    assert parse_date("2028. 2. 29.") == date(2028, 2, 29)


@pytest.mark.parametrize(
    "text",
    [
        "31/12/2026",
        "12/31/2026",
        "2026-12",
        "2026-12-31.",  # trailing dot only in the dotted (Korean sheet) form
        "2026-12/31",  # mixed separators
        "26-12-31",
        "2026123",
        "202612310",
        "2026-12-31 00:00:00",
        "2026년 12월 31일",
        "tomorrow",
        "２０２６-１２-３１",  # full-width digits
        "2026-012-31",
        "2026..12.31",
    ],
)
def test_parse_date_rejects_other_forms(text: str) -> None:
    with pytest.raises(ValueError):
        parse_date(text)


_dates = st.dates(min_value=date(1000, 1, 1), max_value=date(9999, 12, 31))


@given(_dates)
def test_parse_date_roundtrips_isoformat(value: date) -> None:
    assert parse_date(value.isoformat()) == value


@given(_dates, st.booleans())
def test_parse_date_roundtrips_korean_sheet_rendering(value: date, trailing_dot: bool) -> None:
    text = f"{value.year}. {value.month}. {value.day}" + ("." if trailing_dot else "")
    assert parse_date(text) == value


# --- parse_rows: header -------------------------------------------------------------


def test_required_columns() -> None:
    assert REQUIRED == ("barcode", "name", "status", "expiry_date")


def test_missing_columns_named_in_english_and_korean() -> None:
    with pytest.raises(RosterError) as info:
        parse_rows(["barcode", "name"], [])
    message = str(info.value)
    assert "missing column(s): status (상태), expiry_date (만료일)" in message
    assert "barcode" not in message.split(":", 1)[1]


def test_missing_all_columns_for_empty_header() -> None:
    with pytest.raises(RosterError, match=r"barcode \(바코드\), name \(이름\)"):
        parse_rows([], [])


def test_duplicate_columns_by_alias_rejected() -> None:
    with pytest.raises(RosterError, match=r"duplicate column.*barcode.*바코드.*회원번호"):
        parse_rows(["바코드", "회원번호", "이름", "상태", "만료일"], [])


def test_duplicate_extra_columns_rejected() -> None:
    with pytest.raises(RosterError, match=r"duplicate column.*Note"):
        parse_rows([*HEADER, "Note", " Note "], [])


def test_korean_header_and_free_column_order() -> None:
    header = ["만료일", "구역", "상태", "이름", "성별", "바코드", "구분"]
    row = ["2026. 12. 31.", "A", "활성", "김테스트", "M", "0012", "일반"]
    assert _one(row, header) == MemberRow(
        barcode="0012",
        name="김테스트",
        status=MemberStatus.ACTIVE,
        expiry_date=date(2026, 12, 31),
        gender="M",
        category="일반",
        zone="A",
        extra={},
    )


# --- parse_rows: values -------------------------------------------------------------


def test_leading_zeros_and_stripping() -> None:
    member = _one([" 0012\u00a0", "\ufeff Test Person ", " active ", " 2026-01-05 "])
    assert member.barcode == "0012"
    assert member.name == "Test Person"
    assert member.status is MemberStatus.ACTIVE
    assert member.expiry_date == date(2026, 1, 5)


def test_empty_expiry_means_no_end_date() -> None:
    assert _one(["1", "Test", "active", ""]).expiry_date is None


def test_optional_columns_absent_or_empty_are_none() -> None:
    member = _one(["1", "Test", "active", ""])
    assert (member.gender, member.category, member.zone) == (None, None, None)
    header = [*HEADER, "gender", "category", "zone"]
    member = _one(["1", "Test", "active", "", " ", "", "\u00a0"], header)
    assert (member.gender, member.category, member.zone) == (None, None, None)


def test_extra_columns_kept_with_header_as_written() -> None:
    header = [" Locker Pref ", *HEADER, "비고", "Empty Col"]
    member = _one(["L-07", "77", "Test", "정지", "", " left-handed ", ""], header)
    assert member.status is MemberStatus.SUSPENDED
    assert member.extra == {"Locker Pref": "L-07", "비고": "left-handed"}


def test_data_under_blank_header_kept_by_position() -> None:
    member = _one(["1", "Test", "active", "", "", "stray"], [*HEADER, "", ""])
    assert member.extra == {"column 6": "stray"}


def test_short_rows_padded_and_long_rows_truncated() -> None:
    header = [*HEADER, "zone"]
    members, problems = parse_rows(
        header,
        [
            ["1", "Short", "active"],  # expiry and zone missing entirely
            ["2", "Long", "expired", "2026-01-01", "B", "beyond", "header"],
        ],
    )
    assert problems == []
    assert members[0].expiry_date is None
    assert members[0].zone is None
    assert members[1].zone == "B"
    assert members[1].extra == {}


def test_rows_accept_tuples_and_generators() -> None:
    members, _ = parse_rows(tuple(HEADER), (r for r in [("5", "Gen", "active", "")]))
    assert [m.barcode for m in members] == ["5"]


# --- parse_rows: problems and row numbers -------------------------------------------


def test_empty_rows_skipped_silently_but_counted() -> None:
    rows = [
        ["1", "One", "active", ""],
        [],
        ["", " ", "\u00a0", ""],
        ["", "", "", "", "", ""],
        ["2", "", "active", ""],
    ]
    members, problems = parse_rows(HEADER, rows)
    assert [m.barcode for m in members] == ["1"]
    assert [(p.row, p.reason) for p in problems] == [(6, "empty name")]


def test_row_with_only_extra_data_is_not_empty() -> None:
    assert _problems([["", "", "", "", "note"]], [*HEADER, "memo"]) == [
        (2, "", "empty barcode; empty name; empty status")
    ]


def test_every_problem_kind_with_row_numbers() -> None:
    rows = [
        ["0012", "First", "active", "2026-12-31"],  # row 2: good
        ["", "No Barcode", "active", ""],  # row 3
        ["12 34\t5", "Tab", "active", ""],  # row 4: control character
        ["x" * 65, "Too Long", "active", ""],  # row 5
        ["바코드1", "Hangul", "active", ""],  # row 6: not ASCII
        ["0012", "Second", "active", ""],  # row 7: duplicate
        ["0099", "", "active", ""],  # row 8
        ["0100", "Paused", "paused", ""],  # row 9
        ["0101", "No Status", "", ""],  # row 10
        ["0102", "Bad Date", "active", "2026-13-01"],  # row 11
        ["12", "Not A Dup", "활성", ""],  # row 12: "12" is not "0012"
    ]
    members, problems = parse_rows(HEADER, rows)
    assert [m.barcode for m in members] == ["0012", "12"]
    assert members[0].name == "First"
    assert [(p.row, p.barcode, p.reason) for p in problems] == [
        (3, "", "empty barcode"),
        (4, "12 34\t5", "barcode must be 1-64 printable ASCII characters"),
        (5, "x" * 65, "barcode must be 1-64 printable ASCII characters"),
        (6, "바코드1", "barcode must be 1-64 printable ASCII characters"),
        (7, "0012", "duplicate barcode '0012' (first seen on row 2)"),
        (8, "0099", "empty name"),
        (9, "0100", "unknown status 'paused'"),
        (10, "0101", "empty status"),
        (11, "0102", "bad expiry date '2026-13-01'"),
    ]


def test_barcode_length_limits_and_printable_range() -> None:
    members, problems = parse_rows(
        HEADER,
        [
            ["x" * 64, "Max", "active", ""],
            ["!~ ~!", "Punct", "active", ""],
            ["a\x7fb", "Del", "active", ""],
        ],
    )
    assert [m.barcode for m in members] == ["x" * 64, "!~ ~!"]
    assert [p.row for p in problems] == [4]


def test_all_faults_of_a_row_in_one_problem() -> None:
    assert _problems([["", "", "zzz", "31/12/2026"]]) == [
        (2, "", "empty barcode; empty name; unknown status 'zzz'; bad expiry date '31/12/2026'")
    ]


def test_duplicate_first_row_wins_even_when_later_rows_repeat() -> None:
    rows = [
        ["7", "A", "active", ""],
        ["8", "B", "active", ""],
        ["7", "C", "active", ""],
        ["7", "D", "active", ""],
    ]
    members, problems = parse_rows(HEADER, rows)
    assert [(m.barcode, m.name) for m in members] == [("7", "A"), ("8", "B")]
    assert [str(p) for p in problems] == [
        "row 4: duplicate barcode '7' (first seen on row 2)",
        "row 5: duplicate barcode '7' (first seen on row 2)",
    ]


def test_bad_first_row_still_claims_its_barcode() -> None:
    # Otherwise the later row would be taken silently and the conflict would resurface
    # only once the operator fixes the first one.
    rows = [["7", "A", "paused", ""], ["7", "B", "active", ""]]
    members, problems = parse_rows(HEADER, rows)
    assert members == []
    assert [str(p) for p in problems] == [
        "row 2: unknown status 'paused'",
        "row 3: duplicate barcode '7' (first seen on row 2)",
    ]


def test_barcodes_compared_after_stripping() -> None:
    assert _problems([["7", "A", "active", ""], [" 7\u00a0", "B", "active", ""]]) == [
        (3, "7", "duplicate barcode '7' (first seen on row 2)")
    ]


def test_first_row_parameter_shifts_numbers() -> None:
    _, problems = parse_rows(HEADER, [["1", "", "active", ""]], first_row=10)
    assert [str(p) for p in problems] == ["row 10: empty name"]


def test_row_problem_str() -> None:
    assert str(RowProblem(row=3, barcode="9", reason="empty name")) == "row 3: empty name"


def test_all_statuses_and_korean_dates_through_parse_rows() -> None:
    header = ["회원번호", "성명", "상태", "만료일자"]
    rows = [
        ["A1", "가", "활성", "2026. 1. 5."],
        ["A2", "나", "정지", "2026/02/03"],
        ["A3", "다", "만료", "20250101"],
        ["A4", "라", "Expired", "2024.12.31"],
    ]
    members, problems = parse_rows(header, rows)
    assert problems == []
    assert [(m.status, m.expiry_date) for m in members] == [
        (MemberStatus.ACTIVE, date(2026, 1, 5)),
        (MemberStatus.SUSPENDED, date(2026, 2, 3)),
        (MemberStatus.EXPIRED, date(2025, 1, 1)),
        (MemberStatus.EXPIRED, date(2024, 12, 31)),
    ]

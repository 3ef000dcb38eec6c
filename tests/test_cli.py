"""End-to-end tests of the ``lockerkey`` command: real processes, real files, a real SQLite file.

Every command runs as ``python -m lockerkey ...`` (or the console script) in its own process with
``cwd=tmp_path``; the ledger is inspected and broken with the ``sqlite3`` module directly. All
member names and barcodes below are invented.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from lockerkey import __version__
from lockerkey.config import example_config
from lockerkey.store import reports
from lockerkey.store.ledger import Ledger

TIMEOUT = 20  # seconds per command; every command here normally takes well under one
# Inherit the environment; pin the child's stdio encoding so Korean output decodes the same
# whatever the locale of the machine running the tests.
ENV = {**os.environ, "PYTHONIOENCODING": "utf-8"}

CONFIG = """\
device_id = "GYM-TEST-01"
data_dir = "data"

[[cabinet]]
port = "/dev/ttyACM0"
lockers = "1-4"

[scanner]
kind = "none"
"""

HEADER = "barcode,name,status,expiry_date,gender,category\n"
MEMBERS = HEADER + (
    "T1001,Test Alpha,active,2099-12-31,M,regular\n"
    "T1002,Test Bravo,active,2099-12-31,F,regular\n"
    "T1003,Test Charlie,suspended,2099-12-31,M,staff\n"
    "T1004,Test Delta,active,,F,regular\n"
)


def lockerkey(
    *args: str | Path,
    cwd: Path,
    input: str | None = None,
    argv0: Sequence[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run one lockerkey command to completion; no command may ever end in a traceback."""
    command = [*(argv0 or (sys.executable, "-m", "lockerkey")), *map(str, args)]
    result = subprocess.run(
        command,
        cwd=cwd,
        env=ENV,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=TIMEOUT,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def write_config(root: Path, text: str = CONFIG, name: str = "lockerkey.toml") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def write_csv(root: Path, text: str, name: str = "members.csv", encoding: str = "utf-8") -> Path:
    path = root / name
    path.write_bytes(text.encode(encoding))
    return path


def query(db: Path, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def execute(db: Path, *statements: tuple[str, Sequence[object]]) -> None:
    with closing(sqlite3.connect(db)) as conn, conn:
        for sql, params in statements:
            conn.execute(sql, params)


def add_rental(
    db: Path, member: str, locker: str, *, status: str = "active", verified: bool = True
) -> int:
    """Insert a rental row behind the kiosk's back and return its rental_id."""
    tx = f"tx-{member}-{locker}-{status}-{len(query(db, 'SELECT 1 FROM rentals'))}"
    sensor = "2030-01-02T03:04:05.000+00:00" if verified else None
    execute(
        db,
        (
            "INSERT INTO rentals (transaction_id, member_id, locker_number, rental_barcode_time,"
            " rental_sensor_time, rental_verified, status, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                tx,
                member,
                locker,
                "2030-01-02T03:04:00.000+00:00",
                sensor,
                int(verified),
                status,
                "2030-01-02T03:04:00.000+00:00",
                "2030-01-02T03:04:05.000+00:00",
            ),
        ),
    )
    if status == "active":  # as the kiosk would: the locker's row names who has its key
        execute(
            db,
            (
                "UPDATE locker_status SET current_member = ?, sensor_status = 0"
                " WHERE locker_number = ?",
                (member, locker),
            ),
        )
    return int(query(db, "SELECT rental_id FROM rentals WHERE transaction_id = ?", (tx,))[0][0])


def set_renting(db: Path, member: str, locker: str | None) -> None:
    execute(
        db,
        ("UPDATE members SET currently_renting = ? WHERE member_id = ?", (locker, member)),
    )


def dump(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as conn:
        return list(conn.iterdump())


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A kiosk directory with a config (data in ./data) and four imported members."""
    write_config(tmp_path)
    write_csv(tmp_path, MEMBERS)
    result = lockerkey("members", "import", "members.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


def db_of(root: Path) -> Path:
    return root / "data" / "locker.db"


# --- version ----------------------------------------------------------------------------------


def test_version_from_module_and_console_script(tmp_path: Path) -> None:
    module = lockerkey("--version", cwd=tmp_path)
    assert module.returncode == 0
    assert module.stdout.strip() == f"lockerkey {__version__}"

    script = shutil.which("lockerkey", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the lockerkey console script is not installed next to this Python")
    console = lockerkey("--version", cwd=tmp_path, argv0=[script])
    assert console.returncode == 0
    assert console.stdout.strip() == f"lockerkey {__version__}"


# --- the whole flow on an empty data dir --------------------------------------------------------


def test_init_import_status_check_end_to_end(tmp_path: Path) -> None:
    init = lockerkey("init", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    config = tmp_path / "lockerkey.toml"
    text = config.read_text(encoding="utf-8")
    assert text.lstrip().startswith("#")  # commented
    for old, new in (
        ('device_id = "DEVICE_001"', 'device_id = "GYM-E2E"'),
        ('data_dir = "."', 'data_dir = "data"'),
        ('lockers = "1-24"', 'lockers = "1-6"'),
        ('kind = "serial"', 'kind = "none"'),  # [scanner]; the comments mention it too
    ):
        text, found = re.subn(f"^{re.escape(old)}$", new, text, flags=re.MULTILINE)
        assert found == 1, old
    config.write_text(text, encoding="utf-8")
    assert not (tmp_path / "data").exists()

    write_csv(tmp_path, MEMBERS)
    imported = lockerkey("members", "import", "members.csv", cwd=tmp_path)
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "4" in imported.stdout
    db = db_of(tmp_path)
    assert db.is_file()
    assert query(
        db, "SELECT member_id, member_name, status, expiry_date FROM members ORDER BY member_id"
    ) == [
        ("T1001", "Test Alpha", "active", "2099-12-31"),
        ("T1002", "Test Bravo", "active", "2099-12-31"),
        ("T1003", "Test Charlie", "suspended", "2099-12-31"),
        ("T1004", "Test Delta", "active", None),
    ]

    status = lockerkey("status", "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["device_id"] == "GYM-E2E"
    assert [row["locker"] for row in data["lockers"]] == ["1", "2", "3", "4", "5", "6"]
    for row in data["lockers"]:
        assert {"locker", "key", "service", "member_id"} <= row.keys()
        assert row["member_id"] is None
        assert row["service"] == "in_service"

    check = lockerkey("check", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.startswith("ok")
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


# --- init -------------------------------------------------------------------------------------


def test_init_refuses_to_overwrite_unless_forced(tmp_path: Path) -> None:
    config = write_config(tmp_path, "# my own settings\n")
    refused = lockerkey("init", cwd=tmp_path)
    assert refused.returncode == 1
    assert "lockerkey.toml" in refused.stderr
    assert "--force" in refused.stderr
    assert config.read_text(encoding="utf-8") == "# my own settings\n"

    forced = lockerkey("init", "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert config.read_text(encoding="utf-8") == example_config()


def test_init_writes_a_valid_config_anywhere_and_data_dir_is_relative_to_it(
    tmp_path: Path,
) -> None:
    init = lockerkey("init", "-c", "site/kiosk.toml", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "site" / "kiosk.toml").read_text(encoding="utf-8") == example_config()
    assert not (tmp_path / "lockerkey.toml").exists()

    # The untouched example is a usable configuration; its data_dir "." is the file's folder.
    check = lockerkey("check", "-c", "site/kiosk.toml", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert (tmp_path / "site" / "locker.db").is_file()
    assert not (tmp_path / "locker.db").exists()


def test_config_option_is_accepted_before_and_after_the_command(tmp_path: Path) -> None:
    write_config(tmp_path, CONFIG, name="elsewhere.toml")
    write_csv(tmp_path, MEMBERS)
    assert (
        lockerkey(
            "-c", "elsewhere.toml", "members", "import", "members.csv", cwd=tmp_path
        ).returncode
        == 0
    )
    assert (
        lockerkey(
            "members", "import", "-c", "elsewhere.toml", "members.csv", cwd=tmp_path
        ).returncode
        == 0
    )
    before = json.loads(lockerkey("-c", "elsewhere.toml", "status", "--json", cwd=tmp_path).stdout)
    after = json.loads(lockerkey("status", "--json", "-c", "elsewhere.toml", cwd=tmp_path).stdout)
    assert before == after
    assert before["device_id"] == "GYM-TEST-01"
    # Without -c the default ./lockerkey.toml is used, and it does not exist here.
    missing = lockerkey("status", cwd=tmp_path)
    assert missing.returncode == 1
    assert "lockerkey.toml" in missing.stderr
    assert "lockerkey init" in missing.stderr


# --- a broken configuration -------------------------------------------------------------------

BROKEN = [
    pytest.param(
        CONFIG + "\n[session]\ntimeout_s = 0\n",
        "session.timeout_s",
        "between 1 and 300",
        id="out-of-range",
    ),
    pytest.param(CONFIG.replace("data_dir", "data_dri"), "data_dri", "unknown key", id="typo"),
    pytest.param(
        CONFIG.replace('lockers = "1-4"\n', ""),
        "cabinet[1].lockers",
        "required",
        id="missing-lockers",
    ),
    pytest.param(
        CONFIG.replace('kind = "none"', 'kind = "laser"'),
        "scanner.kind",
        "must be one of",
        id="bad-choice",
    ),
    pytest.param(
        'timezone = "Mars/Olympus_Mons"\n' + CONFIG,
        "timezone",
        "unknown time zone",
        id="bad-timezone",
    ),
]


@pytest.mark.parametrize(("text", "key", "what"), BROKEN)
def test_broken_config_stops_every_command_before_anything_starts(
    tmp_path: Path, text: str, key: str, what: str
) -> None:
    write_config(tmp_path, text)
    write_csv(tmp_path, MEMBERS)
    for command in (
        ["status", "--json"],
        ["check"],
        ["members", "import", "members.csv"],
        ["run"],
    ):
        result = lockerkey(*command, cwd=tmp_path)
        assert result.returncode == 1, (command, result.stdout, result.stderr)
        assert "lockerkey.toml" in result.stderr, command
        assert key in result.stderr, (command, result.stderr)
        assert what in result.stderr, (command, result.stderr)
        assert result.stdout == "", command
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lockerkey.toml", "members.csv"]


def test_config_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    write_config(tmp_path, CONFIG + "lockers = [1, 2\n", name="site.toml")
    result = lockerkey("check", "-c", "site.toml", cwd=tmp_path)
    assert result.returncode == 1
    assert "site.toml" in result.stderr
    assert "TOML" in result.stderr
    assert not (tmp_path / "data").exists()


# --- members import ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "cp949"])
def test_import_accepts_korean_headers_and_optional_columns(tmp_path: Path, encoding: str) -> None:
    write_config(tmp_path)
    write_csv(
        tmp_path,
        "바코드,이름,상태,만료일,성별,구분\n"
        "K2001,테스트일,활성,2099. 12. 31.,남,정회원\n"
        "K2002,테스트이,정지,2099-06-30,여,강사\n",
        encoding=encoding,
    )
    result = lockerkey("members", "import", "members.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert query(
        db_of(tmp_path),
        "SELECT member_id, member_name, status, expiry_date, gender, category FROM members"
        " ORDER BY member_id",
    ) == [
        ("K2001", "테스트일", "active", "2099-12-31", "남", "정회원"),
        ("K2002", "테스트이", "suspended", "2099-06-30", "여", "강사"),
    ]


def test_import_skips_bad_rows_by_number_and_imports_the_rest(tmp_path: Path) -> None:
    write_config(tmp_path)
    write_csv(
        tmp_path,
        "barcode,name,status,expiry_date\n"  # row 1
        'T3001,"Test Echo\nsecond line",active,2099-12-31\n'  # row 2 (two file lines)
        "T3002,,active,2099-12-31\n"  # row 3: no name
        "T3003,Test Foxtrot,active,2099-02-30\n"  # row 4: no such date
        ",,,\n"  # row 5: blank, ignored
        "T3005,Test Golf,active,2099-12-31\n"  # row 6
        "T3001,Test Hotel,active,2099-12-31\n"  # row 7: barcode of row 2 again
        "T3007,Test India,sleeping,2099-12-31\n",  # row 8: unknown status
    )
    result = lockerkey("members", "import", "members.csv", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    out = result.stdout + result.stderr
    reported = sorted(int(n) for n in re.findall(r"\brow (\d+):", out))
    assert reported == [3, 4, 7, 8], out
    assert re.search(r"row 3:.*name", out)
    assert re.search(r"row 4:.*2099-02-30", out)
    assert re.search(r"row 7:.*T3001.*row 2", out)
    assert re.search(r"row 8:.*sleeping", out)
    assert query(
        db_of(tmp_path), "SELECT member_id, member_name FROM members ORDER BY member_id"
    ) == [
        ("T3001", "Test Echo\nsecond line"),
        ("T3005", "Test Golf"),
    ]


UNUSABLE = [
    pytest.param(None, id="missing-file"),
    pytest.param(b"", id="empty"),
    pytest.param(b"barcode,name,status\nT9001,Test Kilo,active\n", id="required-header-missing"),
    pytest.param(
        b"id,full name,state,until\nT9001,Test Kilo,active,2099-12-31\n", id="no-known-header"
    ),
    pytest.param(
        b'barcode,name,status,expiry_date\nT9001,"Test Kilo,active,2099-12-31\n'
        b"T9002,Test Lima,active,2099-12-31\n",
        id="unclosed-quote",
    ),
    pytest.param(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00", id="binary-xlsx"),
    pytest.param(
        "barcode,name,status,expiry_date\nT9001,Test Kilo,active,2099-12-31\n".encode("utf-16"),
        id="utf-16",
    ),
    pytest.param("directory", id="directory"),
]


@pytest.mark.parametrize("content", UNUSABLE)
def test_unusable_members_file_changes_nothing(site: Path, content: bytes | str | None) -> None:
    db = db_of(site)
    set_renting(db, "T1001", "2")
    add_rental(db, "T1001", "2")
    before = dump(db)
    target = site / "new.csv"
    if isinstance(content, bytes):
        target.write_bytes(content)
    elif content == "directory":
        target.mkdir()
    result = lockerkey("members", "import", "new.csv", cwd=site)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "new.csv" in result.stderr
    assert "imported 0" not in result.stdout
    assert dump(db) == before


def test_import_never_clobbers_rental_state_or_history(site: Path) -> None:
    db = db_of(site)
    last = "2030-01-02T03:04:05.000+00:00"
    execute(
        db,
        (
            "UPDATE members SET currently_renting = '2', daily_rental_count = 3,"
            " last_rental_time = ? WHERE member_id = 'T1001'",
            (last,),
        ),
    )
    add_rental(db, "T1001", "2")
    add_rental(db, "T1002", "3", status="returned")
    execute(
        db,
        (
            "UPDATE rentals SET return_verified = 1, return_sensor_time = ?, return_target_locker"
            " = '3', return_actual_locker = '3' WHERE member_id = 'T1002'",
            (last,),
        ),
    )
    rentals = query(db, "SELECT * FROM rentals ORDER BY rental_id")
    # A member list that changes T1001's master data and even carries columns named like
    # the kiosk's own state: they are master data at most, never the rental state.
    write_csv(
        site,
        "barcode,name,status,expiry_date,currently_renting,daily_rental_count,last_rental_time\n"
        "T1001,Test Alpha Renamed,suspended,2100-01-31,,0,\n"
        "T1002,Test Bravo,active,2099-12-31,4,9,2000-01-01\n",
        name="again.csv",
    )
    result = lockerkey("members", "import", "again.csv", cwd=site)
    assert result.returncode == 0, result.stdout + result.stderr
    assert query(
        db,
        "SELECT member_id, member_name, status, expiry_date, currently_renting,"
        " daily_rental_count, last_rental_time FROM members WHERE member_id IN ('T1001', 'T1002')"
        " ORDER BY member_id",
    ) == [
        ("T1001", "Test Alpha Renamed", "suspended", "2100-01-31", "2", 3, last),
        ("T1002", "Test Bravo", "active", "2099-12-31", None, 0, None),
    ]
    assert query(db, "SELECT * FROM rentals ORDER BY rental_id") == rentals
    # Members not in the new file are kept.
    assert {row[0] for row in query(db, "SELECT member_id FROM members")} == {
        "T1001",
        "T1002",
        "T1003",
        "T1004",
    }
    check = lockerkey("check", cwd=site)
    assert check.returncode == 0, check.stdout + check.stderr


# --- status -----------------------------------------------------------------------------------


def test_status_shows_who_holds_each_key(site: Path) -> None:
    db = db_of(site)
    set_renting(db, "T1002", "3")
    add_rental(db, "T1002", "3")

    data = json.loads(lockerkey("status", "--json", cwd=site).stdout)
    by_locker = {row["locker"]: row for row in data["lockers"]}
    assert list(by_locker) == ["1", "2", "3", "4"]
    assert by_locker["3"]["member_id"] == "T1002"
    assert by_locker["3"]["member_name"] == "Test Bravo"
    assert [by_locker[n]["member_id"] for n in ("1", "2", "4")] == [None, None, None]

    table = lockerkey("status", cwd=site)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert "locker" in lines[0]
    assert len(lines) == 1 + 4
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"1", "2", "3", "4"}
    assert "T1002" in rows["3"]
    assert not any("T1002" in rows[n] for n in ("1", "2", "4"))
    assert "2030-01-02 12:04" in rows["3"]  # 03:04 UTC shown in the site's time zone (Seoul)


# --- check ------------------------------------------------------------------------------------


def break_two_active(db: Path) -> str:
    set_renting(db, "T1001", "1")
    add_rental(db, "T1001", "1")
    add_rental(db, "T1001", "2")
    return r"member T1001: 2 active rentals"


def break_renting_mismatch(db: Path) -> str:
    set_renting(db, "T1002", "3")  # but no rental at all
    return r"member T1002: currently_renting is '3'"


def break_unverified_active(db: Path) -> str:
    set_renting(db, "T1004", "4")
    rental = add_rental(db, "T1004", "4", verified=False)
    return rf"rental {rental}: active without the sensor confirmation"


def break_shared_key(db: Path) -> str:
    set_renting(db, "T1001", "1")
    set_renting(db, "T1002", "1")
    add_rental(db, "T1001", "1")
    add_rental(db, "T1002", "1")
    return r"locker 1: its key is out on 2 rentals"


BREAKAGES = [break_two_active, break_renting_mismatch, break_unverified_active, break_shared_key]


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda f: f.__name__[6:])
def test_check_finds_each_broken_invariant(site: Path, breakage: Any) -> None:
    assert lockerkey("check", cwd=site).returncode == 0
    expected = breakage(db_of(site))
    result = lockerkey("check", cwd=site)
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(expected, result.stdout), result.stdout


def test_check_lists_every_problem_at_once(site: Path) -> None:
    db = db_of(site)
    expected = [
        break_two_active(db),
        break_renting_mismatch(db),
        break_unverified_active(db),
    ]
    result = lockerkey("check", cwd=site)
    assert result.returncode == 1, result.stdout + result.stderr
    listed = [line for line in result.stdout.splitlines() if line.lstrip().startswith("- ")]
    for pattern in expected:
        assert sum(bool(re.search(pattern, line)) for line in listed) == 1, (pattern, listed)
    assert re.search(rf"\b{len(listed)} problem", result.stdout)


@pytest.mark.parametrize("damaged", ["index", "table"])
def test_check_reports_a_damaged_file_without_crashing(site: Path, damaged: str) -> None:
    db = db_of(site)
    sql = (
        "SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'members'"
        if damaged == "index"
        else "SELECT rootpage FROM sqlite_master WHERE type = 'table' AND name = 'locker_status'"
    )
    page = int(query(db, sql)[0][0])
    size = int(query(db, "PRAGMA page_size")[0][0])
    data = bytearray(db.read_bytes())
    data[(page - 1) * size] = 0x07  # not a valid b-tree page type
    db.write_bytes(bytes(data))

    result = lockerkey("check", cwd=site)
    assert result.returncode == 1
    assert "malformed" in result.stdout + result.stderr
    assert "locker.db" in result.stdout + result.stderr


# --- demo -------------------------------------------------------------------------------------

CLOSED_STDIN = (
    sys.executable,
    "-c",
    "import os, sys; os.close(0);"
    " os.execv(sys.executable, [sys.executable, '-m', 'lockerkey', *sys.argv[1:]])",
)


def ledger_problems(db: Path) -> list[str]:
    ledger = Ledger.open(db)
    try:
        return reports.integrity_problems(ledger) + reports.invariant_problems(ledger)
    finally:
        ledger.close()


@pytest.mark.parametrize("stdin", ["closed", "empty"])
def test_demo_without_tour_ends_when_there_is_no_input(tmp_path: Path, stdin: str) -> None:
    result = lockerkey(
        "demo",
        "--no-web",
        "--no-tour",
        "--data-dir",
        "demo",
        cwd=tmp_path,
        argv0=CLOSED_STDIN if stdin == "closed" else None,
        input=None if stdin == "closed" else "",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    db = tmp_path / "demo" / "locker.db"
    assert query(db, "SELECT COUNT(*) FROM members")[0][0] == 6
    assert query(db, "SELECT COUNT(*) FROM rentals")[0][0] == 0
    assert ledger_problems(db) == []


def test_demo_tour(tmp_path: Path) -> None:
    result = lockerkey(
        "demo", "--no-web", "--data-dir", "demo", "--delay", "0.05", cwd=tmp_path, input=""
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for text in (
        "이용이 정지된 회원입니다",
        "Another member is using the machine",
        "다른 회원이 이용 중입니다",
        "3번 락카 대여 완료",
        "반납 완료",
        "20번 락카는 대여 중이 아닙니다",
    ):
        assert text in out, text
    db = tmp_path / "demo" / "locker.db"
    assert ledger_problems(db) == []
    assert query(
        db,
        "SELECT member_id, currently_renting FROM members WHERE member_id IN"
        " ('M0001', 'M0002', 'M0003', 'M0004') ORDER BY member_id",
    ) == [
        ("M0001", "3"),
        ("M0002", None),
        ("M0003", None),
        ("M0004", None),
    ]
    assert query(db, "SELECT member_id, locker_number FROM rentals WHERE status = 'active'") == [
        ("M0001", "3"),
    ]
    assert query(db, "SELECT status, return_verified FROM rentals WHERE member_id = 'M0002'") == [
        ("returned", 1),
    ]
    assert query(db, "SELECT COUNT(*) FROM rentals WHERE status = 'pending'") == [(0,)]
    assert query(db, "SELECT COUNT(*) FROM active_transactions WHERE status = 'active'") == [(0,)]


def test_demo_reads_typed_codes_and_commands(tmp_path: Path) -> None:
    result = lockerkey(
        "demo",
        "--no-web",
        "--no-tour",
        "--data-dir",
        "demo",
        "--delay",
        "0.05",
        cwd=tmp_path,
        input="M0001\n/select 7\n/status\n/quit\nM0002\n",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "http://" not in result.stdout  # no web pages
    assert "7번 락카 대여 완료" in result.stdout
    assert re.search(r"locker 7: key out.*M0001", result.stdout)
    assert "> M0002" not in result.stdout  # nothing after /quit is read
    db = tmp_path / "demo" / "locker.db"
    assert query(db, "SELECT member_id, locker_number FROM rentals WHERE status = 'active'") == [
        ("M0001", "7"),
    ]
    assert ledger_problems(db) == []


def test_demo_tour_at_a_shared_door(tmp_path: Path) -> None:
    result = lockerkey(
        "demo",
        "--no-web",
        "--shared-door",
        "--data-dir",
        "demo",
        "--delay",
        "0.05",
        cwd=tmp_path,
        input="",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "shared-door cabinet" in out
    for text in (
        "이용이 정지된 회원입니다",
        "Another member is using the machine",
        "1번 락카 대여 완료",
        "2번 락카 대여 완료",
        "2번 락카 반납 완료",
        "20번 락카는 대여 중이 아닙니다",
    ):
        assert text in out, text
    db = tmp_path / "demo" / "locker.db"
    assert ledger_problems(db) == []
    # The pretend member put back the very key whose tag was scanned (not the older one).
    assert query(db, "SELECT member_id, locker_number, status FROM rentals ORDER BY 1") == [
        ("M0001", "1", "active"),
        ("M0002", "2", "returned"),
    ]

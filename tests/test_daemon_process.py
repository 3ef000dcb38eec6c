"""``lockerkey run`` end to end: a real process, the cabinet simulator on a pty, and a serial
card reader emulated on a second pty. Everything the test knows it reads from the daemon's log
(stderr), the simulator's console and the ledger file, as staff would."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockerkey.fwsim.boards import sample_board
from tests.processes import Lines, SimulatorProcess, run_to_end, spawn

CONFIG = """\
device_id = "E2E"
timezone = "Asia/Seoul"
data_dir = "data"

[[cabinet]]
port = "cabinet.link"
lockers = "1-4"

[scanner]
{scanner}

[session]
timeout_s = {timeout}
selection = "auto"

[backup]
time = ""

[web]
port = 0
"""

SERIAL = 'kind = "serial"\nport = "reader.link"'
STDIN = 'kind = "stdin"'

MEMBERS = (
    "바코드,이름,상태,만료일\n"
    "R100,가상회원하나,활성,2099-12-31\n"
    "R200,가상회원둘,활성,2099-12-31\n"
    "R300,가상회원셋,활성,2020-01-01\n"
)


class Cabinet(SimulatorProcess):
    """``lockerkey simulate`` on a pty linked at site/cabinet.link, driven through its console:
    the simulator's controller, or the real firmware on simulated pins (a 4-slot board)."""

    def __init__(self, site: Path, kind: str = "simulator") -> None:
        if kind == "firmware":
            board = json.dumps(sample_board(4, shared_door=False), indent=1)
            (site / "board.json").write_text(board, encoding="utf-8")
            super().__init__(site, "--firmware", "--board", "board.json")
        else:
            super().__init__(site, "--slots", "4")


class Reader:
    """A serial barcode reader: a pty whose far end the daemon opens at site/reader.link."""

    def __init__(self, site: Path) -> None:
        self.master, self.slave = os.openpty()
        (site / "reader.link").symlink_to(os.ttyname(self.slave))

    def scan(self, data: bytes) -> None:
        """Bytes as the reader sends them (a code and its line end)."""
        os.write(self.master, data)

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


class Daemon:
    """``lockerkey run`` as a process; its log (stderr) is what the test watches."""

    def __init__(self, site: Path) -> None:
        self.proc = spawn(site, "run")
        assert self.proc.stderr is not None and self.proc.stdout is not None
        self.log = Lines(self.proc.stderr)
        self.screen = Lines(self.proc.stdout)

    def ready(self) -> None:
        """Wait until it takes scans from the reader."""
        self.log.wait_for(" ready ")
        self.log.wait_for("reading codes from reader.link")

    def stop(self) -> int:
        """SIGTERM; its exit status (the issue allows it 5 s)."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def site(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A site folder: settings (``request.param`` may change them), members imported."""
    options = {"timeout": 30, "scanner": SERIAL, **getattr(request, "param", {})}
    (tmp_path / "lockerkey.toml").write_text(CONFIG.format(**options), encoding="utf-8")
    (tmp_path / "members.csv").write_text(MEMBERS, encoding="utf-8")
    done = run_to_end(tmp_path, "members", "import", "members.csv")
    assert done.returncode == 0, done.stderr
    return tmp_path


@pytest.fixture(params=["simulator", "firmware"])
def cabinet(site: Path, request: pytest.FixtureRequest) -> Iterator[Cabinet]:
    cab = Cabinet(site, request.param)
    yield cab
    cab.close()


@pytest.fixture
def reader(site: Path) -> Iterator[Reader]:
    pty = Reader(site)
    yield pty
    pty.close()


@pytest.fixture
def daemon(site: Path, cabinet: Cabinet, reader: Reader) -> Iterator[Daemon]:
    kiosk = Daemon(site)
    try:
        kiosk.ready()
        yield kiosk
    finally:
        kiosk.kill()


def ledger(site: Path) -> sqlite3.Connection:
    """A read-only look at the ledger, also while the daemon writes it (WAL)."""
    uri = f"file:{site / 'data' / 'locker.db'}?mode=ro"
    return sqlite3.connect(uri, uri=True)


def rentals(site: Path) -> list[tuple[str, str, str, int, int, str | None]]:
    with ledger(site) as db:
        return db.execute(
            "SELECT member_id, locker_number, status, rental_verified, return_verified,"
            " error_code FROM rentals ORDER BY rental_id"
        ).fetchall()


def open_sessions(site: Path) -> list[tuple[str, str]]:
    with ledger(site) as db:
        return db.execute(
            "SELECT member_id, status FROM active_transactions"
            " WHERE status IN ('active', 'interrupted')"
        ).fetchall()


def rent(daemon: Daemon, reader: Reader, cabinet: Cabinet, code: bytes) -> str:
    """Scan a member card, take the key the kiosk unlocks; the locker's number."""
    reader.scan(code)
    line = daemon.log.wait_for("screen [take_key] take_key {'locker': ")
    locker = line.rsplit("'", 2)[1]
    assert cabinet.ask(f"take {locker}") == "ok"
    daemon.log.wait_for(f"rental_ok {{'locker': '{locker}'}}")
    return locker


def test_rental_and_return_with_cr_lf_and_crlf_line_ends(
    site: Path, cabinet: Cabinet, reader: Reader, daemon: Daemon
) -> None:
    assert rent(daemon, reader, cabinet, b"R100\r") == "1"
    reader.scan(b"KEY-1\n")
    daemon.log.wait_for("screen [return_key] return_key {'locker': '1'}")
    assert cabinet.ask("insert 1") == "ok"
    daemon.log.wait_for("return_ok")
    second = rent(daemon, reader, cabinet, b"R200\r\n")
    assert daemon.stop() == 0
    assert rentals(site) == [
        ("R100", "1", "returned", 1, 1, None),
        ("R200", second, "active", 1, 0, None),
    ]
    keys = "".join("0" if str(slot) == second else "1" for slot in range(1, 5))
    assert cabinet.ask("status").startswith(f"ok keys=-{keys} doors=----- locks=-1111 ")
    daemon.screen.wait_for("[idle]")  # the terminal display still shows the screens


def test_return_into_the_wrong_slot_is_abnormal_and_sets_both_aside(
    site: Path, cabinet: Cabinet, reader: Reader, daemon: Daemon
) -> None:
    mine = rent(daemon, reader, cabinet, b"R100\n")
    theirs = rent(daemon, reader, cabinet, b"R200\n")
    reader.scan(f"KEY-{mine}\n".encode())
    daemon.log.wait_for("screen [return_key]")
    assert cabinet.ask(f"insert {theirs}") == "ok"  # into R200's empty slot, not its own
    daemon.log.wait_for("return_wrong_slot")
    assert daemon.stop() == 0
    got = {row[0]: row[2:] for row in rentals(site)}
    assert got["R100"] == ("abnormal", 1, 1, "WRONG_SLOT")  # a key did come back, elsewhere
    assert got["R200"] == ("active", 1, 0, None)
    with ledger(site) as db:
        actual = db.execute("SELECT return_actual_locker FROM rentals WHERE member_id = 'R100'")
        assert actual.fetchone() == (theirs,)
        aside = db.execute(
            "SELECT locker_number FROM locker_status WHERE service = 'set_aside' ORDER BY 1"
        ).fetchall()
    assert aside == sorted([(mine,), (theirs,)])


def test_a_second_member_is_turned_away_during_a_session(
    site: Path, cabinet: Cabinet, reader: Reader, daemon: Daemon
) -> None:
    reader.scan(b"R100\n")
    daemon.log.wait_for("screen [take_key]")
    reader.scan(b"R200\n")
    daemon.log.wait_for("busy")
    assert cabinet.ask("take 1") == "ok"
    daemon.log.wait_for("rental_ok")
    assert daemon.stop() == 0
    assert [(r[0], r[2]) for r in rentals(site)] == [("R100", "active")]


def test_an_expired_member_and_junk_are_refused_and_nothing_unlocks(
    site: Path, cabinet: Cabinet, reader: Reader, daemon: Daemon
) -> None:
    reader.scan(b"R300\n")
    daemon.log.wait_for("screen [idle] expired {'date': '2020-01-01'}")
    reader.scan(b"R1\x1b[A00\r")  # an escape sequence typed by a doctored barcode
    daemon.log.wait_for("invalid_code")
    reader.scan(b"\xff\xfeR100\n")
    daemon.log.wait_for("invalid_code")
    assert daemon.stop() == 0
    assert rentals(site) == []
    assert cabinet.ask("status").startswith("ok keys=-1111 doors=----- locks=-1111 ")
    with ledger(site) as db:
        kinds = [k for (k,) in db.execute("SELECT kind FROM events ORDER BY event_id")]
    assert kinds.count("scan_rejected") == 2 and "refused" in "".join(kinds)


@pytest.mark.parametrize("site", [{"timeout": 2}], indirect=True)
def test_a_key_not_taken_in_time_cancels_the_rental_and_relocks(
    site: Path, cabinet: Cabinet, reader: Reader, daemon: Daemon
) -> None:
    reader.scan(b"R100\n")
    daemon.log.wait_for("screen [take_key]")
    daemon.log.wait_for("rental_timeout")
    assert cabinet.ask("status").startswith("ok keys=-1111 doors=----- locks=-1111 ")
    assert daemon.stop() == 0
    assert [(r[0], r[2], r[3]) for r in rentals(site)] == [("R100", "cancelled", 0)]
    assert open_sessions(site) == []


def test_sigterm_mid_session_locks_up_and_the_restart_decides_from_the_sensors(
    site: Path, cabinet: Cabinet, reader: Reader, daemon: Daemon
) -> None:
    reader.scan(b"R100\n")
    daemon.log.wait_for("screen [take_key]")
    assert cabinet.ask("status").startswith("ok keys=-1111 doors=----- locks=-0111 ")
    assert daemon.stop() == 0
    daemon.log.wait_for("stopped: every cabinet locked, ledger closed")
    assert not (site / "data" / "locker.db-wal").exists()  # closed cleanly, checkpointed
    assert cabinet.ask("status").startswith("ok keys=-1111 doors=----- locks=-1111 ")
    assert open_sessions(site) == [("R100", "interrupted")]

    again = Daemon(site)
    try:
        again.log.wait_for("event 'recovered' member R100 locker 1 outcome=not_taken")
        again.ready()
        assert again.stop() == 0
    finally:
        again.kill()
    assert [(r[0], r[2]) for r in rentals(site)] == [("R100", "cancelled")]  # key was home
    assert open_sessions(site) == []


def test_kill_9_mid_session_then_restart_resolves_the_rental_from_the_cabinet(
    site: Path, cabinet: Cabinet, reader: Reader, daemon: Daemon
) -> None:
    reader.scan(b"R100\n")
    daemon.log.wait_for("screen [take_key]")
    daemon.proc.send_signal(signal.SIGKILL)
    daemon.proc.wait(timeout=10)
    assert cabinet.ask("take 1") == "ok"  # the member takes the key while the kiosk is down
    assert [(r[0], r[2]) for r in rentals(site)] == [("R100", "pending")]

    again = Daemon(site)
    try:
        again.log.wait_for("event 'recovered' member R100 locker 1 outcome=taken")
        again.ready()
        reader.scan(b"KEY-1\n")  # and the kiosk goes on: the key comes back
        again.log.wait_for("screen [return_key]")
        assert cabinet.ask("insert 1") == "ok"
        again.log.wait_for("return_ok")
        assert again.stop() == 0
    finally:
        again.kill()
    assert rentals(site) == [("R100", "1", "returned", 1, 1, None)]  # one row, nothing lost
    assert open_sessions(site) == []
    with ledger(site) as db:
        member = db.execute("SELECT currently_renting FROM members WHERE member_id = 'R100'")
        assert member.fetchone() == (None,)


def test_a_second_daemon_on_the_same_data_is_refused(
    site: Path, cabinet: Cabinet, reader: Reader, daemon: Daemon
) -> None:
    second = run_to_end(site, "run")
    assert second.returncode == 1
    assert str(daemon.proc.pid) in second.stderr
    assert daemon.proc.poll() is None  # the first one is untouched
    assert daemon.stop() == 0


@pytest.mark.parametrize("site", [{"scanner": STDIN}], indirect=True)
def test_codes_typed_on_stdin_rent_and_return(site: Path, cabinet: Cabinet) -> None:
    kiosk = Daemon(site)
    assert kiosk.proc.stdin is not None
    try:
        kiosk.log.wait_for(" ready ")
        kiosk.proc.stdin.write("R100\n")
        kiosk.proc.stdin.flush()
        kiosk.log.wait_for("screen [take_key] take_key {'locker': '1'}")
        assert cabinet.ask("take 2") == "error: slot 2 is locked; force it to take the key anyway"
        assert cabinet.ask("take 1") == "ok"
        kiosk.screen.wait_for("대여 완료")
        kiosk.proc.stdin.write("KEY-1\n")
        kiosk.proc.stdin.flush()
        kiosk.log.wait_for("screen [return_key]")
        assert cabinet.ask("insert 1") == "ok"
        kiosk.screen.wait_for("반납 완료")
        assert kiosk.stop() == 0
    finally:
        kiosk.kill()
    assert rentals(site) == [("R100", "1", "returned", 1, 1, None)]
    with ledger(site) as db:
        assert db.execute("SELECT DISTINCT device_id FROM rentals").fetchall() == [("E2E",)]


def test_a_broken_config_is_refused_before_anything_starts(tmp_path: Path) -> None:
    bad = CONFIG.format(timeout=0, scanner=STDIN).replace("[scanner]", "[scaner]")
    (tmp_path / "lockerkey.toml").write_text(bad, encoding="utf-8")
    done = run_to_end(tmp_path, "run")
    assert done.returncode == 1
    assert "lockerkey.toml" in done.stderr
    assert "session.timeout_s" in done.stderr and "scaner" in done.stderr
    assert not (tmp_path / "data").exists()  # no ledger, no logs, no lock file

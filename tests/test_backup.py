"""Ledger backups, verification and restore on real SQLite files, and the daemon's run lock.

Nothing here waits on a clock: threads meet through Events and Conditions, the lock-holding
child process through a line on a pipe. Waits have timeouts only so that a broken test fails
instead of hanging.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lockerkey import cli
from lockerkey.core import ops
from lockerkey.core.model import RentalStatus
from lockerkey.runlock import LOCK_NAME, AlreadyRunning, RunLock, running_pid
from lockerkey.store import reports
from lockerkey.store.backup import (
    BackupError,
    is_raw_copy,
    list_backups,
    restore_backup,
    take_backup,
    verify_backup,
)
from lockerkey.store.ledger import Ledger, LedgerError
from lockerkey.store.schema import SCHEMA_VERSION
from tests.conftest import SEOUL, T0, add_members

TIMEOUT = 20  # seconds; only ever reached when something is broken

CONFIG = 'data_dir = "."\n\n[[cabinet]]\nport = "x"\nlockers = "1-4"\n'


# ---- helpers -------------------------------------------------------------------------------


def make_ledger(path: Path, *members: str) -> Path:
    """A closed ledger holding these members."""
    led = Ledger.open(path, "TEST_DEVICE")
    try:
        add_members(led, *members)
    finally:
        led.close()
    return path


def read_only(path: Path) -> sqlite3.Connection:
    """This one file as it is on disk (no -wal read, nothing created beside it)."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)


def members_in(path: Path) -> set[str]:
    with closing(read_only(path)) as conn:
        return {row[0] for row in conn.execute("SELECT member_id FROM members")}


def ticks_in(conn: sqlite3.Connection) -> list[int]:
    rows = conn.execute("SELECT details FROM events WHERE kind = 'tick' ORDER BY event_id")
    return [json.loads(row[0])["n"] for row in rows]


def files_under(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def rental_commit(i: int) -> list[ops.LedgerOp]:
    """One commit: a whole rental and its return, and event number ``i``."""
    at = T0 + timedelta(seconds=i)
    member, locker, tx = f"M{i % 3}", str(i % 4 + 1), f"tx{i}"
    return [
        ops.ConfirmRental(tx, member, locker, at, at, RentalStatus.ACTIVE, day_start=T0),
        ops.CompleteReturn(tx, member, locker, locker, at, RentalStatus.RETURNED),
        ops.Audit("tick", at, details={"n": i}),
    ]


class Writer(threading.Thread):
    """Commits rentals through its own Ledger connection until told to stop."""

    def __init__(self, db: Path, warmup: int) -> None:
        super().__init__(daemon=True)
        self.db = db
        self.warmup = warmup
        self.committed = 0  # commits done; one more may be done but not yet counted
        self.error: LedgerError | None = None
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.progress = threading.Condition()

    def run(self) -> None:
        try:
            led = Ledger.open(self.db, "WRITER")
            try:
                while not self.stop.is_set():
                    led.apply(rental_commit(self.committed))
                    with self.progress:
                        self.committed += 1
                        self.progress.notify_all()
                    if self.committed == self.warmup:
                        self.ready.set()
            finally:
                led.close()
        except LedgerError as err:
            self.error = err
        finally:
            self.ready.set()  # never leave the test waiting for a writer that failed
            with self.progress:
                self.progress.notify_all()

    def wait_past(self, count: int) -> bool:
        with self.progress:
            return self.progress.wait_for(
                lambda: self.committed > count or not self.is_alive(), TIMEOUT
            ) and (self.committed > count)


# ---- backups -------------------------------------------------------------------------------


def test_a_backup_during_writes_holds_a_prefix_of_the_commits_and_restores(
    tmp_path: Path,
) -> None:
    db = make_ledger(tmp_path / "data" / "locker.db", "M0", "M1", "M2")
    # Enough rows that the copy is not instant, so commits land while it runs.
    make_ledger(db, *(f"B{i:05}" for i in range(5000)))
    writer = Writer(db, warmup=20)
    writer.start()
    try:
        assert writer.ready.wait(TIMEOUT) and writer.error is None
        before = writer.committed
        result = take_backup(db, tmp_path / "data" / "backup", 3, datetime.now(UTC))
        after = writer.committed
        # The writer was never held up for good: it commits again after the backup.
        assert writer.wait_past(after), writer.error
    finally:
        writer.stop.set()
        writer.join(TIMEOUT)
    assert not writer.is_alive() and writer.error is None

    with closing(read_only(result.path)) as conn:
        ticks = ticks_in(conn)
        rentals = conn.execute("SELECT COUNT(*) FROM rentals").fetchone()[0]
    # One snapshot: events 0..k with no gap, and exactly the rentals of those same commits.
    assert ticks == list(range(len(ticks)))
    assert before <= len(ticks) <= after + 1
    assert rentals == len(ticks) == result.rentals
    assert result.size == result.path.stat().st_size
    assert verify_backup(result.path) == SCHEMA_VERSION

    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert restore_backup(result.path, fresh / "locker.db", fresh / "backup", T0) is None
    led = Ledger.open(fresh / "locker.db")
    try:
        assert reports.integrity_problems(led) == []
        assert reports.invariant_problems(led) == []
        assert ticks_in(led.conn) == ticks
    finally:
        led.close()
    with closing(read_only(db)) as conn:
        assert len(ticks_in(conn)) > len(ticks)  # the live ledger went on past the snapshot


def test_prune_keeps_the_newest_of_ours_and_touches_nothing_else(tmp_path: Path) -> None:
    db = make_ledger(tmp_path / "locker.db", "M1")
    backups = tmp_path / "backup"
    backups.mkdir()
    foreign = {
        "notes.txt": b"staff notes",
        "locker.db": b"a copy someone put here",
        "locker-before-restore-20200101-000000.db": b"a safety copy",
        "locker-20200101-000000.db.bak": b"renamed by hand",
        "locker-2020.db": b"not our pattern",
        "other-20200101-000000.db": b"not ours either",
    }
    for name, content in foreign.items():
        (backups / name).write_bytes(content)
    written: list[Path] = []
    pruned: list[Path] = []
    for hour in range(6):
        result = take_backup(db, backups, 3, T0 + timedelta(hours=hour))
        written.append(result.path)
        pruned.extend(result.pruned)
    assert written[0].name == "locker-20261126-030000.db"  # T0, in UTC
    assert list_backups(backups) == written[:2:-1]
    assert sorted(pruned) == sorted(written[:3])
    assert not any(p.exists() for p in written[:3])
    # Nothing else was removed or changed, and no temporary file was left behind.
    assert files_under(backups) == {
        **foreign,
        **{p.name: p.read_bytes() for p in written[3:]},
    }


def test_backups_in_the_same_second_never_share_a_name(tmp_path: Path) -> None:
    db = make_ledger(tmp_path / "locker.db", "M1")
    backups = tmp_path / "backup"
    # The same UTC second, however the time is written.
    moments = [T0, T0.astimezone(SEOUL), T0 + timedelta(milliseconds=999)]
    paths = [take_backup(db, backups, 10, at).path for at in moments]
    assert [p.name for p in paths] == [
        "locker-20261126-030000.db",
        "locker-20261126-030000-1.db",
        "locker-20261126-030000-2.db",
    ]
    assert list_backups(backups) == paths[::-1]

    # Four at once, from four threads: four files, none lost to another's rename.
    start = threading.Barrier(4, timeout=TIMEOUT)
    done: list[Path] = []

    def one() -> None:
        start.wait()
        done.append(take_backup(db, backups, 10, T0 + timedelta(hours=1)).path)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert len(done) == len(set(done)) == 4
    assert all(verify_backup(p) == SCHEMA_VERSION for p in [*paths, *done])
    assert len(list_backups(backups)) == 7


def test_a_backup_written_with_the_clock_behind_is_not_pruned_at_once(tmp_path: Path) -> None:
    db = make_ledger(tmp_path / "locker.db", "M1")
    backups = tmp_path / "backup"
    days = [take_backup(db, backups, 2, T0 + timedelta(days=d)).path for d in range(3)]
    behind = take_backup(db, backups, 2, datetime(2020, 1, 1, tzinfo=UTC))
    assert behind.pruned == (days[1],)
    assert list_backups(backups) == [days[2], behind.path]


def test_a_copy_that_fails_its_check_is_removed_and_the_error_names_the_ledger(
    tmp_path: Path,
) -> None:
    db = make_ledger(tmp_path / "locker.db", "M1")
    # A rental of a member who does not exist, slipped in with foreign keys off: SQLite copies
    # it happily, and the copy's foreign key check must catch it.
    with closing(sqlite3.connect(db)) as conn, conn:
        conn.execute(
            "INSERT INTO rentals (transaction_id, member_id, locker_number, created_at,"
            " updated_at) VALUES ('tx-x', 'NOBODY', '1', ?, ?)",
            (T0.isoformat(), T0.isoformat()),
        )
    backups = tmp_path / "backup"
    with pytest.raises(BackupError, match="foreign key") as info:
        take_backup(db, backups, 3, T0)
    assert str(db) in str(info.value)
    assert list(backups.iterdir()) == []


def test_a_damaged_ledger_a_missing_one_and_an_unusable_directory_fail_cleanly(
    tmp_path: Path,
) -> None:
    db = make_ledger(tmp_path / "locker.db", *(f"B{i:04}" for i in range(2000)))
    backups = tmp_path / "backup"
    data = bytearray(db.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[page * 2 : page * 4] = b"\xa5" * (page * 2)  # two pages of a table turned to noise
    db.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=re.escape(str(db))):
        take_backup(db, backups, 3, T0)
    assert list(backups.iterdir()) == []

    missing = tmp_path / "none" / "locker.db"
    with pytest.raises(BackupError, match="no ledger"):
        take_backup(missing, backups, 3, T0)
    assert not missing.exists()

    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("in the way")
    good = make_ledger(tmp_path / "good.db", "M1")
    with pytest.raises(BackupError, match=re.escape(str(not_a_dir))):
        take_backup(good, not_a_dir / "backup", 3, T0)
    with pytest.raises(ValueError, match="naive"):
        take_backup(good, backups, 3, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="keep"):
        take_backup(good, backups, 0, T0)


# ---- verify --------------------------------------------------------------------------------


@pytest.fixture
def good_backup(tmp_path: Path) -> Path:
    """A checked backup of a ledger with enough members to span many pages."""
    db = make_ledger(tmp_path / "src" / "locker.db", *(f"B{i:04}" for i in range(500)))
    return take_backup(db, tmp_path / "backup", 3, T0).path


def _truncated(good: Path, path: Path) -> None:
    data = good.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _text(good: Path, path: Path) -> None:
    path.write_text("member_id,name\nM1,someone\n" * 200, encoding="utf-8")


def _empty(good: Path, path: Path) -> None:
    path.write_bytes(b"")


def _other_app(good: Path, path: Path) -> None:
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("PRAGMA user_version = 3")


def _newer(good: Path, path: Path) -> None:
    shutil.copyfile(good, path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_truncated, "damaged|integrity"),
        (_text, "not an SQLite database"),
        (_empty, "not an SQLite database"),
        (_other_app, "not a lockerkey ledger"),
        (_newer, "made by a newer lockerkey"),
    ],
)
def test_verify_rejects_what_is_not_a_usable_ledger(
    good_backup: Path, tmp_path: Path, make: Callable[[Path, Path], None], message: str
) -> None:
    assert verify_backup(good_backup) == SCHEMA_VERSION
    bad = tmp_path / "bad.db"
    make(good_backup, bad)
    with pytest.raises(BackupError, match=message) as info:
        verify_backup(bad)
    assert str(bad) in str(info.value)


def test_verify_reads_only_the_file_itself_and_leaves_nothing_beside_it(tmp_path: Path) -> None:
    db = make_ledger(tmp_path / "data" / "locker.db", "M1")  # WAL mode in its header
    before = files_under(tmp_path)
    assert verify_backup(db) == SCHEMA_VERSION
    assert files_under(tmp_path) == before


# ---- restore -------------------------------------------------------------------------------


def crashed_ledger(data_dir: Path, work: Path) -> Path:
    """A ledger as a killed daemon leaves it: OLD1 checkpointed, OLD2 only in its -wal."""
    live = make_ledger(work / "locker.db", "OLD1")
    led = Ledger.open(live, "TEST_DEVICE")
    try:
        led.conn.execute("PRAGMA wal_autocheckpoint = 0")
        add_members(led, "OLD2")
        data_dir.mkdir(parents=True)
        for suffix in ("", "-wal", "-shm"):
            shutil.copyfile(f"{live}{suffix}", data_dir / f"locker.db{suffix}")
    finally:
        led.close()
    return data_dir / "locker.db"


def test_restore_replaces_the_ledger_and_saves_the_old_one_with_its_wal(tmp_path: Path) -> None:
    backup = take_backup(
        make_ledger(tmp_path / "b" / "locker.db", "NEW1"), tmp_path / "b" / "backup", 3, T0
    ).path
    db = crashed_ledger(tmp_path / "data", tmp_path / "work")
    assert members_in(db) == {"OLD1"}  # OLD2 is in the -wal only
    assert Path(f"{db}-wal").exists() and Path(f"{db}-shm").exists()

    safety = restore_backup(backup, db, tmp_path / "data" / "backup", T0)

    assert safety is not None and safety.name == "locker-before-restore-20261126-030000.db"
    assert not is_raw_copy(safety)
    assert members_in(safety) == {"OLD1", "OLD2"}
    assert verify_backup(safety) == SCHEMA_VERSION
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    assert db.read_bytes() == backup.read_bytes()
    assert list((tmp_path / "data").glob(".*")) == []  # no temporary file left
    led = Ledger.open(db)
    try:
        assert led.get_member("NEW1") is not None and led.get_member("OLD1") is None
        assert reports.integrity_problems(led) == []
    finally:
        led.close()


def test_a_stale_wal_beside_a_missing_ledger_is_not_applied_to_the_restored_one(
    tmp_path: Path,
) -> None:
    backup = take_backup(
        make_ledger(tmp_path / "b" / "locker.db", "NEW1"), tmp_path / "b" / "backup", 3, T0
    ).path
    data = tmp_path / "data"
    data.mkdir()
    # The -wal and -shm of some other ledger, valid as WAL files: SQLite would replay them.
    ghost = make_ledger(tmp_path / "ghost" / "locker.db", "G0")
    led = Ledger.open(ghost, "TEST_DEVICE")
    try:
        led.conn.execute("PRAGMA wal_autocheckpoint = 0")
        add_members(led, "GHOST")
        for suffix in ("-wal", "-shm"):
            shutil.copyfile(f"{ghost}{suffix}", data / f"locker.db{suffix}")
    finally:
        led.close()

    assert restore_backup(backup, data / "locker.db", data / "backup", T0) is None

    assert sorted(p.name for p in data.iterdir()) == ["locker.db"]
    led = Ledger.open(data / "locker.db")
    try:
        ids = {row[0] for row in led.conn.execute("SELECT member_id FROM members")}
    finally:
        led.close()
    assert ids == {"NEW1"}


@pytest.mark.parametrize("kind", ["text", "newer", "missing"])
def test_a_bad_backup_file_changes_nothing(good_backup: Path, tmp_path: Path, kind: str) -> None:
    data = tmp_path / "data"
    crashed_ledger(data, tmp_path / "work")
    bad = tmp_path / "bad.db"
    if kind == "text":
        _text(good_backup, bad)
    elif kind == "newer":
        _newer(good_backup, bad)
    before = files_under(data)
    with pytest.raises(BackupError, match="nothing was changed") as info:
        restore_backup(bad, data / "locker.db", data / "backup", T0)
    assert str(bad) in str(info.value)
    assert files_under(data) == before


def test_a_ledger_too_damaged_to_read_is_saved_raw_before_it_is_replaced(
    good_backup: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "locker.db"
    db.write_bytes(b"\x00garbage where the ledger was" * 100)
    Path(f"{db}-wal").write_bytes(b"and its wal")

    safety = restore_backup(good_backup, db, data / "backup", T0)

    assert safety is not None and is_raw_copy(safety)
    assert safety.read_bytes() == b"\x00garbage where the ledger was" * 100
    assert Path(f"{safety}-wal").read_bytes() == b"and its wal"
    assert db.read_bytes() == good_backup.read_bytes()
    assert not Path(f"{db}-wal").exists()
    assert list_backups(data / "backup") == []  # a safety copy is never pruned as ours


# ---- the run lock and the commands ---------------------------------------------------------

HOLDER = (
    "import sys\n"
    "from pathlib import Path\n"
    "from lockerkey.runlock import RunLock\n"
    "RunLock(Path(sys.argv[1])).acquire()\n"
    "print('locked', flush=True)\n"
    "sys.stdin.readline()\n"
)


@contextmanager
def lock_holder(data_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process that holds the run lock until its stdin closes (or it is killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        ready, _, _ = select.select([proc.stdout], [], [], TIMEOUT)
        line = proc.stdout.readline() if ready else ""
        assert line == "locked\n", proc.stderr.read() if proc.poll() is not None else "no answer"
        yield proc
    finally:
        proc.kill()
        proc.wait(TIMEOUT)
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()


def test_the_run_lock_is_held_across_processes_and_dies_with_its_holder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert running_pid(data) is None
    with lock_holder(data) as proc:
        assert running_pid(data) == proc.pid
        with pytest.raises(AlreadyRunning, match=f"pid {proc.pid}") as info:
            RunLock(data).acquire()
        assert info.value.pid == proc.pid
        proc.kill()  # no clean-up code runs: the kernel alone lets go of the lock
        proc.wait(TIMEOUT)
        assert running_pid(data) is None
    lock_file = data / LOCK_NAME
    assert lock_file.read_text().strip() == str(proc.pid)  # a stale pid, not a running daemon
    with RunLock(data) as lock:
        assert lock.held and running_pid(data) == os.getpid()
        with pytest.raises(AlreadyRunning):
            RunLock(data).acquire()  # another open file, so another lock, even in one process
    assert not lock.held and running_pid(data) is None
    assert lock_file.exists()


def test_restore_command_refuses_while_the_daemon_runs_and_works_after(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "lockerkey.toml"
    config.write_text(CONFIG, encoding="utf-8")
    db = make_ledger(tmp_path / "locker.db", "OLD1")
    backup = take_backup(
        make_ledger(tmp_path / "b" / "locker.db", "NEW1"), tmp_path / "b" / "backup", 3, T0
    ).path
    argv = ["-c", str(config), "restore", str(backup)]
    with lock_holder(tmp_path) as proc:
        before = files_under(tmp_path)
        assert cli.main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("lockerkey: ") and f"pid {proc.pid}" in err
        assert files_under(tmp_path) == before
        assert proc.stdin is not None
        proc.stdin.close()  # the holder stops as a daemon would
        assert proc.wait(TIMEOUT) == 0
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    safety = tmp_path / "backup" / "locker-before-restore-"
    assert f"restored {backup} to {db}" in out and f"saved as {safety}" in out
    assert running_pid(tmp_path) is None  # the command let go of the lock
    assert members_in(db) == {"NEW1"}
    with closing(read_only(db)) as conn:
        kinds = [row[0] for row in conn.execute("SELECT kind FROM events")]
    assert kinds[-1] == "restore"
    assert members_in(next((tmp_path / "backup").glob("locker-before-restore-*.db"))) == {"OLD1"}


def test_backup_command_prints_a_checked_backup_and_records_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "lockerkey.toml"
    config.write_text(CONFIG, encoding="utf-8")
    assert cli.main(["-c", str(config), "backup"]) == 1
    assert "no ledger" in capsys.readouterr().err
    assert not (tmp_path / "locker.db").exists()

    db = make_ledger(tmp_path / "locker.db", "M0", "M1", "M2")
    led = Ledger.open(db)
    try:
        led.apply(rental_commit(0))
    finally:
        led.close()
    assert cli.main(["-c", str(config), "backup"]) == 0
    out = capsys.readouterr().out
    match = re.search(r"backup written: (\S+) \((\d+) bytes, (\d+) rentals, checked ok\)", out)
    assert match, out
    path = Path(match.group(1))
    assert path.parent == tmp_path / "backup"
    assert verify_backup(path) == SCHEMA_VERSION
    assert int(match.group(2)) == path.stat().st_size and int(match.group(3)) == 1
    with closing(read_only(db)) as conn:
        row = conn.execute("SELECT details FROM events WHERE kind = 'backup'").fetchone()
    assert json.loads(row[0])["path"] == str(path)

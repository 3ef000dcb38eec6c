"""Checked copies of the ledger in ``<data_dir>/backup/``, and putting one back in place.

Backups are named ``locker-YYYYmmdd-HHMMSS.db`` from the time of the backup in UTC (a compact
form without "Z": UTC because local clocks jump at daylight-saving changes and the name must
sort in time order); a second backup in the same second gets ``-1``, ``-2``... Only files
matching that pattern are ever pruned; anything else in the directory is left alone, including
the ``locker-before-restore-...`` copies a restore makes.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lockerkey.store.schema import SCHEMA_VERSION

__all__ = [
    "BackupError",
    "BackupResult",
    "is_raw_copy",
    "list_backups",
    "restore_backup",
    "take_backup",
    "verify_backup",
]

log = logging.getLogger(__name__)

LEDGER_TABLES = ("members", "rentals", "locker_status", "active_transactions", "events")
SQLITE_MAGIC = b"SQLite format 3\x00"
_OURS = re.compile(r"locker-(\d{8})-(\d{6})(?:-(\d+))?\.db")
_RAW = "-raw"
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK}
# Files SQLite keeps beside a database; another database's journal must never meet ours.
_SIDECARS = ("-wal", "-shm", "-journal")


class BackupError(Exception):
    """A backup could not be written, checked, verified or restored; the message names the file."""


@dataclass(frozen=True)
class BackupResult:
    """What ``take_backup`` wrote and removed."""

    path: Path
    size: int
    seconds: float
    pruned: tuple[Path, ...]
    rentals: int


def take_backup(db_path: Path, backup_dir: Path, keep: int, now: datetime) -> BackupResult:
    """Write a checked copy of the live ledger into ``backup_dir``, then prune old ones (blocking)."""
    if keep < 1:
        raise ValueError("keep must be at least 1: the new backup itself is kept")
    started = time.monotonic()
    if not db_path.is_file():
        raise BackupError(f"{db_path}: no ledger here, nothing to back up")
    _make_dir(backup_dir)
    path, rentals = _snapshot(db_path, backup_dir, f"locker-{_stamp(now)}")
    size = path.stat().st_size
    pruned = _prune(backup_dir, keep, path)
    return BackupResult(path, size, time.monotonic() - started, pruned, rentals)


def verify_backup(path: Path) -> int:
    """Check that ``path`` is a sound lockerkey ledger this version can use; its schema version."""
    return _verify(path, path)


def restore_backup(file: Path, db_path: Path, backup_dir: Path, now: datetime) -> Path | None:
    """Put backup ``file`` in place of the ledger; the safety copy of the replaced one, if any.

    The daemon must not run (the caller holds the run lock). Steps are ordered so that any
    failure leaves the previous ledger in place: copy and verify first, then save the current
    ledger, and only then swap.
    """
    stamp = _stamp(now)
    data_dir = db_path.parent
    # The copy goes next to the ledger so that the final rename stays on one filesystem, and
    # it is what gets verified: the bytes checked are the bytes put in place.
    try:
        fd, name = tempfile.mkstemp(prefix=f".{db_path.name}.restore-", suffix=".tmp", dir=data_dir)
        os.close(fd)
    except OSError as err:
        raise BackupError(f"{data_dir}: cannot write here: {err}") from err
    tmp = Path(name)
    try:
        try:
            shutil.copyfile(file, tmp)
            _fsync_file(tmp)
        except OSError as err:
            raise BackupError(f"{file}: cannot copy it next to the ledger: {err}") from err
        _verify(tmp, file)
        safety = _save_current(db_path, backup_dir, stamp) if db_path.exists() else None
        try:
            _match_owner(tmp, db_path)
            # A -wal left beside locker.db would be applied to the restored file (SQLite cannot
            # tell whose WAL it is). The safety copy already checkpointed it into the old file,
            # so deleting it first loses nothing even if the rename below then fails.
            for sidecar in _SIDECARS:
                Path(f"{db_path}{sidecar}").unlink(missing_ok=True)
            tmp.replace(db_path)
            _fsync_dir(data_dir)
        except OSError as err:
            raise BackupError(
                f"{db_path}: cannot put the backup in place: {err}; the previous ledger is "
                "still there"
            ) from err
    finally:
        tmp.unlink(missing_ok=True)
    return safety


def list_backups(backup_dir: Path) -> list[Path]:
    """The backups ``take_backup`` wrote (our name pattern only), newest first."""
    try:
        found = [p for p in backup_dir.iterdir() if _OURS.fullmatch(p.name) and p.is_file()]
    except FileNotFoundError:
        return []
    except OSError as err:
        raise BackupError(f"{backup_dir}: cannot list backups: {err}") from err
    return sorted(found, key=_order, reverse=True)


def is_raw_copy(path: Path) -> bool:
    """Whether a safety copy is a raw copy of a damaged ledger (main file plus -wal/-shm)."""
    return path.stem.rsplit("-", 1)[0].endswith(_RAW) or path.stem.endswith(_RAW)


# ---- the consistent copy -------------------------------------------------------------------


def _snapshot(db_path: Path, directory: Path, stem: str) -> tuple[Path, int]:
    """Copy the ledger consistently to ``directory/stem[-n].db``; (path, rentals in the copy)."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=directory)
        os.close(fd)
    except OSError as err:
        raise BackupError(f"{directory}: cannot write a backup here: {err}") from err
    tmp = Path(name)
    try:
        conn = _open_live(db_path)
        try:
            # VACUUM INTO rather than the backup API: one statement is one read transaction,
            # so the copy is a snapshot of a single commit (WAL content included) while the
            # daemon keeps writing (in WAL mode readers never block writers). The backup API
            # would also do, but only if run in a single step; VACUUM INTO also writes a
            # compact file in rollback-journal mode, one self-contained file with no -wal.
            # It needs an empty or missing target: mkstemp's empty file is fine.
            conn.execute("VACUUM INTO ?", (str(tmp),))
            # Fold the WAL into the main file (a no-op while the daemon holds a reader): a
            # restore deletes the -wal after this copy, and nothing must be lost if it then
            # stops halfway.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        # SQLite does not fsync the target of VACUUM INTO.
        _fsync_file(tmp)
        _version, rentals = _inspect(tmp, db_path, "the copy")
        final = _claim(tmp, directory, stem)
        _fsync_dir(directory)
    except (OSError, sqlite3.Error) as err:
        raise BackupError(f"{db_path}: cannot copy the ledger into {directory}: {err}") from err
    finally:
        tmp.unlink(missing_ok=True)
    return final, rentals


def _open_live(db_path: Path) -> sqlite3.Connection:
    # mode=rw: never create an empty ledger where there was none. 5 s like the daemon's.
    uri = f"{db_path.resolve().as_uri()}?mode=rw"
    return sqlite3.connect(uri, uri=True, isolation_level=None, timeout=5.0)


def _verify(path: Path, shown: Path) -> int:
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as err:
        raise BackupError(f"{shown}: cannot read: {err}") from err
    if head != SQLITE_MAGIC:
        raise BackupError(f"{shown}: not an SQLite database")
    version, _rentals = _inspect(path, shown, "it")
    if version > SCHEMA_VERSION:
        raise BackupError(
            f"{shown}: made by a newer lockerkey (schema version {version}; this lockerkey "
            f"reads up to {SCHEMA_VERSION}); upgrade lockerkey first"
        )
    if version < 1:
        raise BackupError(f"{shown}: not a lockerkey ledger (schema version {version})")
    return version


def _inspect(path: Path, shown: Path, what: str) -> tuple[int, int]:
    """Integrity, foreign keys and our tables; (user_version, rentals). Never writes."""
    # immutable=1: read exactly this one file. No -wal beside it is read and no -shm is
    # created, so a backup file is judged by its own bytes (what a restore copies) and is not
    # touched. Only for files nobody is writing: never the live ledger.
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error as err:
        raise BackupError(f"{shown}: cannot open {what}: {err}") from err
    try:
        checks = [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
        if checks != ["ok"]:
            raise BackupError(f"{shown}: {what} fails the integrity check: {'; '.join(checks[:3])}")
        orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
        if orphans:
            table, rowid, parent = orphans[0][0], orphans[0][1], orphans[0][2]
            raise BackupError(
                f"{shown}: {what} fails the foreign key check: {len(orphans)} row(s), first "
                f"{table} row {rowid} refers to a missing {parent}"
            )
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        missing = [t for t in LEDGER_TABLES if t not in tables]
        if missing:
            raise BackupError(
                f"{shown}: not a lockerkey ledger (no {', '.join(missing)} table)"
            )
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        rentals = int(conn.execute("SELECT COUNT(*) FROM rentals").fetchone()[0])
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{shown}: {what} is damaged or not a database: {err}") from err
    finally:
        conn.close()
    return version, rentals


# ---- restore's safety copy -----------------------------------------------------------------


def _save_current(db_path: Path, backup_dir: Path, stamp: str) -> Path:
    """Copy the ledger about to be replaced aside, consistently if possible, raw otherwise."""
    stem = f"locker-before-restore-{stamp}"
    _make_dir(backup_dir)
    try:
        return _snapshot(db_path, backup_dir, stem)[0]
    except BackupError as err:
        reason = err
    # A damaged ledger cannot be read through SQLite; its bytes are still worth keeping. The
    # copies keep SQLite's sidecar naming, so the set opens as it was.
    log.warning("%s; copying its raw files aside instead", reason)
    try:
        main = _raw_copy(db_path, backup_dir, stem + _RAW)
    except OSError as err:
        raise BackupError(
            f"cannot save the current ledger before replacing it ({reason}; a raw copy failed "
            f"too: {err}); nothing was changed"
        ) from err
    return main


def _raw_copy(db_path: Path, backup_dir: Path, stem: str) -> Path:
    fd, name = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=backup_dir)
    os.close(fd)
    tmp = Path(name)
    try:
        shutil.copyfile(db_path, tmp)
        _fsync_file(tmp)
        main = _claim(tmp, backup_dir, stem)
    finally:
        tmp.unlink(missing_ok=True)
    for sidecar in ("-wal", "-shm"):
        source = Path(f"{db_path}{sidecar}")
        if source.exists():
            target = Path(f"{main}{sidecar}")
            shutil.copyfile(source, target)
            _fsync_file(target)
    _fsync_dir(backup_dir)
    return main


# ---- files ---------------------------------------------------------------------------------


def _stamp(now: datetime) -> str:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("naive datetime for a backup name")
    return now.astimezone(UTC).strftime("%Y%m%d-%H%M%S")


def _order(path: Path) -> tuple[str, str, int]:
    match = _OURS.fullmatch(path.name)
    assert match is not None
    return match.group(1), match.group(2), int(match.group(3) or 0)


def _claim(tmp: Path, directory: Path, stem: str) -> Path:
    """Give ``tmp`` the first free name ``stem.db``, ``stem-1.db``...; never replace a file."""
    for n in range(1000):
        final = directory / (f"{stem}.db" if n == 0 else f"{stem}-{n}.db")
        try:
            # link() fails if the name exists, so two processes backing up in the same
            # second cannot both take it (rename() would silently replace the other's file).
            os.link(tmp, final)
        except FileExistsError:
            continue
        except OSError as err:
            if err.errno not in _NO_HARD_LINKS:
                raise
            if final.exists():  # a filesystem without hard links: check, then rename
                continue
            tmp.replace(final)
            return final
        tmp.unlink()
        return final
    raise BackupError(f"{directory}: no free name for {stem}.db")


def _prune(backup_dir: Path, keep: int, new: Path) -> tuple[Path, ...]:
    # The new backup always stays, even if it sorts oldest: a Pi without a clock battery can
    # boot with the time behind, and its backup must not be deleted as soon as it is written.
    others = [p for p in list_backups(backup_dir) if p != new]
    pruned: list[Path] = []
    for old in others[keep - 1 :]:
        try:
            old.unlink()
        except OSError as err:
            log.warning("cannot remove old backup %s: %s", old, err)
            continue
        pruned.append(old)
    if pruned:
        with contextlib.suppress(OSError):  # the deletions are done; durability only
            _fsync_dir(backup_dir)
    return tuple(pruned)


def _make_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BackupError(f"{directory}: cannot create the backup directory: {err}") from err


def _match_owner(tmp: Path, db_path: Path) -> None:
    """Give the restored file the replaced ledger's mode and, when allowed, its owner."""
    try:
        old = db_path.stat()
    except FileNotFoundError:
        return
    os.chmod(tmp, old.st_mode & 0o7777)
    # Run as root (sudo), the restored file would otherwise belong to root and the daemon's
    # user could not open it; as anyone else chown to another user is refused, and harmless.
    with contextlib.suppress(PermissionError):
        os.chown(tmp, old.st_uid, old.st_gid)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    """Make a rename or a new name in ``directory`` survive a power cut."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

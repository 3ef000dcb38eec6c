"""Checked copies of the ledger in ``<data_dir>/backup/``, and putting one back in place.

Backups are named ``locker-YYYYmmdd-HHMMSS.db`` from the time of the backup in UTC (compact,
no "Z"; UTC because local time repeats an hour at a daylight-saving change and names must sort
in time order). A second backup in the same second gets ``-1``, ``-2``... Pruning touches only
files of that pattern: anything else in the directory stays, including the
``locker-before-restore-...`` copies a restore makes.
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
_RAW = re.compile(r"locker-before-restore-\d{8}-\d{6}-raw(?:-\d+)?\.db")
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK}


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
    """Write a checked copy of the live ledger into ``backup_dir``, then prune (blocking)."""
    if keep < 1:
        raise ValueError("keep must be at least 1: the new backup itself is kept")
    started = time.monotonic()
    if not db_path.is_file():
        raise BackupError(f"{db_path}: no ledger here, nothing to back up")
    _make_dir(backup_dir)
    path, rentals = _snapshot(db_path, backup_dir, f"locker-{_stamp(now)}", checkpoint=False)
    size = path.stat().st_size
    pruned = _prune(backup_dir, keep, path)
    return BackupResult(path, size, time.monotonic() - started, pruned, rentals)


def verify_backup(path: Path) -> int:
    """Check that ``path`` is a sound lockerkey ledger this version can use; its schema version."""
    return _verify(path, path)


def restore_backup(file: Path, db_path: Path, backup_dir: Path, now: datetime) -> Path | None:
    """Put backup ``file`` in place of the ledger; the safety copy of the replaced one, if any.

    The daemon must not run (the caller holds the run lock). The steps are ordered so that a
    failure leaves the previous ledger in place: copy and verify, save the current ledger, swap.
    """
    stamp = _stamp(now)
    # The copy goes next to the ledger, so the final rename stays on one filesystem, and it is
    # the copy that gets verified: the bytes checked are the bytes put in place.
    tmp = _temp(db_path.parent, f".{db_path.name}.restore-")
    try:
        try:
            shutil.copyfile(file, tmp)
            _fsync(tmp)
        except OSError as err:
            raise BackupError(f"{file}: cannot read it: {err}; nothing was changed") from err
        try:
            _verify(tmp, file)
        except BackupError as err:
            raise BackupError(f"{err}; nothing was changed") from err
        safety = _save_current(db_path, backup_dir, stamp) if db_path.exists() else None
        try:
            _match_owner(tmp, db_path)
            # SQLite cannot tell whose -wal it finds: a stale one beside locker.db would be
            # applied to the restored file. The safety copy checkpointed it into the old file
            # (or kept it raw), so deleting it before the rename loses nothing if that fails.
            for sidecar in ("-wal", "-shm", "-journal"):
                Path(f"{db_path}{sidecar}").unlink(missing_ok=True)
            tmp.replace(db_path)
        except OSError as err:
            raise BackupError(
                f"{db_path}: cannot put the backup in place: {err}; the previous ledger is "
                "still there"
            ) from err
    finally:
        tmp.unlink(missing_ok=True)
    try:
        _fsync(db_path.parent)
    except OSError as err:
        raise BackupError(f"{db_path}: restored, but syncing its directory failed: {err}") from err
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
    return _RAW.fullmatch(path.name) is not None


# ---- copying and checking ------------------------------------------------------------------


def _snapshot(db_path: Path, directory: Path, stem: str, checkpoint: bool) -> tuple[Path, int]:
    """Copy the ledger consistently to ``directory/stem[-n].db``; (path, rentals in the copy)."""
    tmp = _temp(directory, f".{stem}.")
    try:
        # mode=rw: never create an empty ledger where there was none; 5 s like the daemon's.
        uri = f"{db_path.resolve().as_uri()}?mode=rw"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=5.0)
        try:
            # VACUUM INTO, not the backup API: one statement is one read transaction, so the
            # copy is the snapshot of one commit, WAL content included, while the daemon goes
            # on writing (in WAL mode a reader does not block writers). The backup API does
            # that only when run in one step, and copies free pages and the WAL flag; VACUUM
            # INTO writes a compact, self-contained rollback-mode file. It wants an empty or
            # missing target: mkstemp's empty file is fine.
            conn.execute("VACUUM INTO ?", (str(tmp),))
            if checkpoint:
                # Restore only, the daemon stopped: fold the WAL into the old file, because the
                # restore deletes the -wal next. Never while the daemon runs: a TRUNCATE
                # checkpoint holds its writers off.
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        _fsync(tmp)  # SQLite does not sync the target of VACUUM INTO
        _version, rentals = _inspect(tmp, db_path, "the copy")
        final = _claim(tmp, directory, stem)
        _fsync(directory)
    except (OSError, sqlite3.Error) as err:
        raise BackupError(f"{db_path}: cannot copy the ledger into {directory}: {err}") from err
    finally:
        tmp.unlink(missing_ok=True)
    return final, rentals


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
    # immutable=1 reads exactly this one file: no -wal beside it is read and no -shm created,
    # so a backup is judged by its own bytes (what a restore copies) and left untouched. Only
    # for files nobody is writing: never the live ledger.
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as err:
        raise BackupError(f"{shown}: cannot open {what}: {err}") from err
    try:
        checks = [str(row[0]) for row in conn.execute("PRAGMA integrity_check")]
        if checks != ["ok"]:
            raise BackupError(f"{shown}: {what} fails the integrity check: {'; '.join(checks[:3])}")
        orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
        if orphans:
            table, rowid, parent = orphans[0][:3]
            raise BackupError(
                f"{shown}: {what} fails the foreign key check: {len(orphans)} row(s), the first "
                f"{table} row {rowid} refers to a missing {parent}"
            )
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
        missing = set(LEDGER_TABLES) - {row[0] for row in conn.execute(query)}
        if missing:
            raise BackupError(f"{shown}: not a lockerkey ledger (no {', '.join(sorted(missing))})")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        rentals = int(conn.execute("SELECT COUNT(*) FROM rentals").fetchone()[0])
    except sqlite3.DatabaseError as err:
        raise BackupError(f"{shown}: {what} is damaged or not a database: {err}") from err
    finally:
        conn.close()
    return version, rentals


def _save_current(db_path: Path, backup_dir: Path, stamp: str) -> Path:
    """Copy the ledger about to be replaced aside, consistently if possible, raw otherwise."""
    stem = f"locker-before-restore-{stamp}"
    _make_dir(backup_dir)
    # The raw files are copied first: a damaged ledger fails to open, but closing even that
    # connection makes SQLite checkpoint and delete its -wal, so afterwards it would be gone.
    raw: dict[str, Path] = {}
    try:
        try:
            for sidecar in ("", "-wal", "-shm"):
                if Path(f"{db_path}{sidecar}").exists():
                    raw[sidecar] = _temp(backup_dir, f".{stem}-raw{sidecar}.")
                    shutil.copyfile(f"{db_path}{sidecar}", raw[sidecar])
        except OSError as err:
            raise BackupError(
                f"{db_path}: cannot copy the current ledger aside: {err}; nothing was changed"
            ) from err
        try:
            return _snapshot(db_path, backup_dir, stem, checkpoint=True)[0]
        except BackupError as err:
            reason = err
        # Unreadable through SQLite, but its bytes are still worth keeping. The copies keep
        # SQLite's sidecar names, so the set opens as it was.
        log.warning("%s; keeping its raw files instead", reason)
        try:
            for tmp in raw.values():
                _fsync(tmp)
            main = _claim(raw[""], backup_dir, f"{stem}-raw")
            for sidecar, tmp in raw.items():
                if sidecar:
                    tmp.replace(f"{main}{sidecar}")
            _fsync(backup_dir)
        except OSError as err:
            raise BackupError(
                f"cannot save the current ledger before replacing it ({reason}; a raw copy "
                f"failed too: {err}); the restore stopped before replacing anything"
            ) from err
        return main
    finally:
        for tmp in raw.values():
            tmp.unlink(missing_ok=True)


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
    """Give ``tmp`` the first free name of ``stem.db``, ``stem-1.db``...; never replace a file."""
    for n in range(1000):
        final = directory / (f"{stem}.db" if n == 0 else f"{stem}-{n}.db")
        try:
            # link() fails when the name exists, so two processes backing up in the same
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
    # The new backup always stays, even when it sorts oldest: a Pi without a clock battery can
    # boot with its time behind, and that backup must not go as soon as it is written.
    pruned: list[Path] = []
    for old in [p for p in list_backups(backup_dir) if p != new][keep - 1 :]:
        try:
            old.unlink()
        except OSError as err:
            log.warning("cannot remove old backup %s: %s", old, err)
            continue
        pruned.append(old)
    if pruned:
        with contextlib.suppress(OSError):  # the deletions are done; this is durability only
            _fsync(backup_dir)
    return tuple(pruned)


def _temp(directory: Path, prefix: str) -> Path:
    """A new empty file in ``directory`` (mode 0600: the ledger holds members' names)."""
    try:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=directory)
    except OSError as err:
        raise BackupError(f"{directory}: cannot write here: {err}") from err
    os.close(fd)
    return Path(name)


def _make_dir(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise BackupError(f"{directory}: cannot create the backup directory: {err}") from err


def _match_owner(tmp: Path, db_path: Path) -> None:
    """Give the restored file the replaced ledger's mode and, where allowed, its owner."""
    try:
        old = db_path.stat()
    except FileNotFoundError:
        return
    os.chmod(tmp, old.st_mode & 0o7777)
    # Run with sudo, the restored file would belong to root and the daemon's user could not
    # open it. Anyone but root is refused a chown to another user, harmlessly.
    with contextlib.suppress(PermissionError):
        os.chown(tmp, old.st_uid, old.st_gid)


def _fsync(path: Path) -> None:
    """Sync a file's data, or a directory's entries (a new name or a rename survives a cut)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

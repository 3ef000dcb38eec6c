"""Checkpoints of the ledger's WAL from a connection of their own (store/checkpoint.py)."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from lockerkey.store.checkpoint import SAFETY_NET_PAGES, checkpoint
from lockerkey.store.ledger import Ledger, LedgerError
from tests.conftest import add_members


def members_in_file_alone(db: Path, where: Path) -> int:
    """Members in the database file read without its WAL (what checkpoints moved there)."""
    alone = where / "alone.db"
    shutil.copyfile(db, alone)
    with closing(sqlite3.connect(alone)) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM members").fetchone()[0])


def test_deferred_checkpoints_leave_the_wal_to_the_checkpointer(tmp_path: Path) -> None:
    db = tmp_path / "locker.db"
    ledger = Ledger.open(db)
    try:
        checkpoint(db)  # the new schema into the file
        ledger.defer_checkpoints(SAFETY_NET_PAGES)
        for n in range(300):  # well past SQLite's usual 1,000-page checkpoint
            add_members(ledger, *[f"M{n}-{i}" for i in range(20)])
        assert members_in_file_alone(db, tmp_path) == 0  # all still in the WAL
        done = checkpoint(db)
        assert not done.busy and done.frames > 1000 and done.moved == done.frames
        assert members_in_file_alone(db, tmp_path) == 6000
        add_members(ledger, "after")  # the kiosk's connection goes on writing
        assert ledger.get_member("after") is not None
    finally:
        ledger.close()


def test_a_checkpoint_that_cannot_run_is_a_ledger_error_naming_the_file(tmp_path: Path) -> None:
    db = tmp_path / "locker.db"
    db.write_bytes(b"not a database, whatever its name" * 100)
    with pytest.raises(LedgerError, match=r"locker\.db: checkpoint failed"):
        checkpoint(db)

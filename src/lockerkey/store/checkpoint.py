"""Moving the ledger's write-ahead log into the database file, off the kiosk's path.

Left to itself, SQLite checkpoints inside whichever commit pushes the WAL past 1,000 pages;
with years of rentals that commit pays for writing pages all over a big file and syncing it,
and a member waits on it (bench: 6 to 40 ms spikes in scan -> unlock on a 1.7 GB ledger). The
daemon moves that limit far out, as a safety net only, and checkpoints every few seconds from
a connection and a thread of its own: a PASSIVE checkpoint never blocks the kiosk's commits.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from lockerkey.store.ledger import LedgerError

# SQLite's own checkpoint, should the checkpointer fall behind: about 40 MB of WAL.
SAFETY_NET_PAGES = 10_000


@dataclass(frozen=True)
class Checkpointed:
    """One checkpoint's outcome: WAL frames in all, frames now in the database file."""

    busy: bool
    frames: int
    moved: int


def checkpoint(path: Path) -> Checkpointed:
    """One PASSIVE checkpoint through a connection of its own (blocking: call it on a thread).

    A connection per run, not one kept open: a stop may abandon the thread mid-run, and a
    connection of its own is never closed under another thread's feet.
    """
    try:
        conn = sqlite3.connect(path, isolation_level=None)
    except sqlite3.Error as err:
        raise LedgerError(f"{path}: checkpoint failed: {err}") from err
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        # The database file is synced after the pages are copied, as for the commits.
        conn.execute("PRAGMA synchronous = FULL")
        busy, frames, moved = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.Error as err:
        raise LedgerError(f"{path}: checkpoint failed: {err}") from err
    finally:
        conn.close()
    return Checkpointed(bool(busy), frames, moved)

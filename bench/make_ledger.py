"""Make a big ledger, as years of use at a big gym leave it: N members and M past rentals
(returned, with a few abnormal and cancelled ones), each with the audit events a rental
writes. Invented data only.

    .venv/bin/python -m bench.make_ledger PATH [--members 100000] [--rentals 1000000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from lockerkey.core.layout import CabinetSpec, Layout, LockerSpec
from lockerkey.core.model import CabinetKind
from lockerkey.store.ledger import Ledger
from lockerkey.store.timestamps import ts

LOCKERS = 140
BATCH = 20_000
# What one rental leaves in `events` (scan, session, command, key, ..., message lines).
EVENT_KINDS = ("scan", "session_started", "command", "key", "rental_active", "command")


def layout(lockers: int = LOCKERS) -> Layout:
    """One per-slot cabinet of ``lockers`` lockers."""
    numbers = [str(i) for i in range(1, lockers + 1)]
    cabinet = CabinetSpec(0, "cabinet1", CabinetKind.PER_SLOT, tuple(numbers))
    specs = [LockerSpec(n, 0, i, f"KEY-{n}", None) for i, n in enumerate(numbers, start=1)]
    return Layout([cabinet], specs, [])


def make(path: Path, members: int, rentals: int, seed: int = 7, device: str = "BENCH") -> None:
    """Write the ledger at ``path`` (a new file)."""
    rng = random.Random(seed)
    ledger = Ledger.open(path, device)
    try:
        ledger.sync_layout(layout())
        now = datetime(2026, 11, 1, tzinfo=UTC)
        stamp = ts(now)
        with ledger.transaction() as c:
            c.executemany(
                "INSERT INTO members (member_id, member_name, status, expiry_date, gender,"
                " created_at, updated_at) VALUES (?, ?, 'active', '2099-12-31', ?, ?, ?)",
                (
                    (f"B{i:07d}", f"회원{i}", "M" if i % 2 else "F", stamp, stamp)
                    for i in range(members)
                ),
            )
        start = now - timedelta(days=3 * 365)
        step = (now - start) / max(rentals, 1)
        for first in range(0, rentals, BATCH):
            rows, events = [], []
            for i in range(first, min(first + BATCH, rentals)):
                out = start + step * i
                back = out + timedelta(minutes=rng.randint(30, 180))
                locker = str(rng.randint(1, LOCKERS))
                member = f"B{rng.randrange(members):07d}"
                roll = rng.random()
                status, code = (
                    ("abnormal", "WRONG_SLOT")
                    if roll < 0.002
                    else ("cancelled", None)
                    if roll < 0.02
                    else ("returned", None)
                )
                tx = f"bench-{i:08d}"
                rows.append(
                    (
                        tx,
                        member,
                        locker,
                        ts(out),
                        ts(out),
                        ts(back),
                        locker,
                        status,
                        code,
                        device,
                        ts(out),
                        ts(back),
                    )
                )
                details = json.dumps({"locker": locker})
                events += [
                    (ts(out), kind, member, locker, tx, details, device) for kind in EVENT_KINDS
                ]
            with ledger.transaction() as c:
                c.executemany(
                    "INSERT INTO rentals (transaction_id, member_id, locker_number,"
                    " rental_barcode_time, rental_sensor_time, return_sensor_time,"
                    " return_actual_locker, status, error_code, device_id, created_at,"
                    " updated_at, rental_verified, return_verified, sync_status)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, 1, 1)",
                    rows,
                )
                c.executemany(
                    "INSERT INTO events (time, kind, member_id, locker_number, transaction_id,"
                    " details, device_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    events,
                )
        ledger.conn.execute("ANALYZE")
    finally:
        ledger.close()


def main() -> None:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--rentals", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.path.exists():
        parser.error(f"{args.path} exists: give a new file")
    began = time.perf_counter()
    make(args.path, args.members, args.rentals)
    size = args.path.stat().st_size
    print(
        f"{args.path}: {args.members:,} members, {args.rentals:,} rentals,"
        f" {size / 1e6:.0f} MB in {time.perf_counter() - began:.1f} s"
    )


if __name__ == "__main__":
    main()

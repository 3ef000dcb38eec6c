"""The engine and the ledger alone, on one core: rentals and returns per second, and the time
from a scan to its committed step, on a small and on a big ledger (nothing in the kiosk's
path may grow with the number of past rentals).

    .venv/bin/python -m bench.engine_ledger SMALL.db BIG.db   (made by bench.make_ledger)
"""

from __future__ import annotations

import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.make_ledger import LOCKERS, layout
from lockerkey.core.engine import Engine
from lockerkey.core.events import Event, KeySensed, Now, Scan, Snapshot, Step, Unlock
from lockerkey.core.layout import Policy
from lockerkey.store.ledger import Ledger

CYCLES = 1_000


def run(path: Path, cycles: int = CYCLES) -> dict[str, float]:
    """``cycles`` rentals and returns through Engine + Ledger on ``path``; figures in ms."""
    ledger = Ledger.open(path, "BENCH")
    try:
        where = layout()
        engine = Engine(
            where,
            Policy(selection="auto"),
            lambda: str(uuid.uuid4()),
            ledger.load_lockers(),
            ledger.load_unresolved(where),
        )
        clock = [datetime(2026, 11, 26, tzinfo=UTC), 0.0]

        def handle(event: Event) -> Step:
            clock[0] += timedelta(milliseconds=50)  # type: ignore[operator]
            clock[1] += 0.05  # type: ignore[operator]
            if isinstance(event, Scan) and event.member is None:
                event = Scan(event.code, ledger.get_member(event.code))
            step = engine.handle(event, Now(clock[0], clock[1]))  # type: ignore[arg-type]
            ledger.apply(step.writes)
            return step

        ledger.apply(engine.start(Now(clock[0], clock[1])).writes)  # type: ignore[arg-type]
        handle(Snapshot(0, "-" + "1" * LOCKERS, "-" * (LOCKERS + 1), "-" + "1" * LOCKERS))
        scan_ms: list[float] = []
        began = time.perf_counter()
        for i in range(cycles):
            member = f"B{i:07d}"
            t0 = time.perf_counter()
            step = handle(Scan(member))  # lookup, engine, commit: all before the unlock goes
            scan_ms.append((time.perf_counter() - t0) * 1000)
            slot = next(c.slot for c in step.commands if isinstance(c, Unlock))
            handle(KeySensed(0, slot, present=False))
            locker = where.by_slot[(0, slot)]
            handle(Scan(f"KEY-{locker}"))
            handle(KeySensed(0, slot, present=True))
        seconds = time.perf_counter() - began
    finally:
        ledger.close()
    scan_ms.sort()
    return {
        "cycles_per_s": cycles / seconds,
        "scan_commit_p50_ms": statistics.median(scan_ms),
        "scan_commit_p99_ms": scan_ms[int(len(scan_ms) * 0.99) - 1],
        "scan_commit_max_ms": scan_ms[-1],
    }


def main() -> None:
    """Print the figures for each ledger given."""
    for name in sys.argv[1:]:
        figures = run(Path(name))
        print(name, " ".join(f"{k}={v:.2f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()

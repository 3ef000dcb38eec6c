"""`make bench`: the benchmarks that exist so far, a table on stdout and bench/results.json.

Made here: a small ledger (100,000 members, 1,000 past rentals) and a big one (100,000
members, 1,000,000 past rentals), under bench/work/ (kept between runs; delete it to remake).
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench import engine_ledger, make_ledger, sync_10k

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
SIZES = {"small": 1_000, "big": 1_000_000}
MEMBERS = 100_000
CONFIG = 'data_dir = "."\n[[cabinet]]\nport = "unused"\nlockers = "1-140"\n[web]\nenabled = false\n'


def ledger(name: str) -> Path:
    """The ledger ``name`` (small or big), made once."""
    folder = WORK / name
    path = folder / "locker.db"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        make_ledger.make(path, MEMBERS, SIZES[name])
        print(f"made {path} in {time.perf_counter() - began:.0f} s", file=sys.stderr)
        (folder / "lockerkey.toml").write_text(CONFIG, encoding="utf-8")
    return path


def status_seconds(folder: Path, runs: int = 5) -> float:
    """The best of ``runs`` `lockerkey status` runs, as a process (start-up included)."""
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "lockerkey", "status"],
            cwd=folder,
            check=True,
            capture_output=True,
        )
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    """Run everything and write the results."""
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, "
        f"Python {platform.python_version()}",
    }
    paths = {name: ledger(name) for name in SIZES}
    for name, path in paths.items():
        # On a copy, so every run starts from the same ledger.
        scratch = path.with_name("scratch.db")
        shutil.copyfile(path, scratch)
        try:
            results[f"engine_ledger_{name}"] = engine_ledger.run(scratch)
        finally:
            for leftover in scratch.parent.glob("scratch.db*"):
                leftover.unlink()
        results[f"status_s_{name}"] = status_seconds(path.parent)
    results["sync_10k"] = sync_10k.measure()
    grown = paths["big"].stat().st_size - paths["small"].stat().st_size
    results["ledger_mb_per_100k_rentals"] = grown / 1e6 / ((SIZES["big"] - SIZES["small"]) / 1e5)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"machine: {results['machine']}")
    print("| figure | 1,000 past rentals | 1,000,000 past rentals |")
    print("|---|---|---|")
    small, big = results["engine_ledger_small"], results["engine_ledger_big"]
    assert isinstance(small, dict) and isinstance(big, dict)
    for key, label in (
        ("cycles_per_s", "engine + ledger: rentals and returns per second (one core)"),
        ("scan_commit_p50_ms", "scan → step committed, p50 (ms)"),
        ("scan_commit_p99_ms", "scan → step committed, p99 (ms)"),
        ("scan_commit_max_ms", "scan → step committed, max (ms)"),
    ):
        print(f"| {label} | {small[key]:.2f} | {big[key]:.2f} |")
    print(
        f"| `lockerkey status` (s, whole process) | {results['status_s_small']:.2f}"
        f" | {results['status_s_big']:.2f} |"
    )
    print(f"ledger size: {results['ledger_mb_per_100k_rentals']:.1f} MB per 100,000 rentals")
    sync = results["sync_10k"]
    assert isinstance(sync, dict)
    print(
        f"sync, 10,000 members in: {sync['first_calls']} calls, {sync['first_s']:.2f} s;"
        f" then 10,000 rentals out: {sync['next_calls']} calls, {sync['next_s']:.2f} s"
    )


if __name__ == "__main__":
    main()

"""How long `lockerkey members import` takes for a big gym's member list: 100,000 invented
members in a Korean-headed CSV (as Excel saves it), imported as a whole process into a fresh
ledger (best of 3), and again into the filled ledger (the twice-a-day resync). Target: 3 s.
Run from the repository root:

    .venv/bin/python -m bench.import_members
"""

from __future__ import annotations

import csv
import platform
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N = 100_000
RUNS = 3
CONFIG = (
    'data_dir = "data"\n[[cabinet]]\nport = "unused"\nlockers = "1-140"\n[web]\nenabled = false\n'
)
HEADER = ["바코드", "이름", "상태", "만료일", "성별", "구분"]
SURNAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN = "하늘바다구름노을새벽가람보라다온나래슬기"
# Mostly active; the others are what a real list carries too (and are imported as such).
STATUSES = ["활성"] * 17 + ["정지", "만료", "active"]


def write_csv(path: Path, n: int, seed: int = 11) -> None:
    """``n`` invented members; dates in the three forms Korean Excel and Sheets produce."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for i in range(1, n + 1):
            y, m, d = rng.randint(2025, 2029), rng.randint(1, 12), rng.randint(1, 28)
            expiry = rng.choice((f"{y}-{m:02d}-{d:02d}", f"{y}. {m}. {d}.", f"{y}{m:02d}{d:02d}"))
            name = rng.choice(SURNAMES) + rng.choice(GIVEN[::2]) + rng.choice(GIVEN[1::2])
            category = "staff" if i % 500 == 0 else "regular"
            gender = "남" if i % 2 else "여"
            writer.writerow([f"{i:07d}", name, rng.choice(STATUSES), expiry, gender, category])


def import_seconds(site: Path, csv_path: Path) -> float:
    """One `lockerkey members import` as a process, start-up included."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "lockerkey", "members", "import", str(csv_path)],
        cwd=site,
        capture_output=True,
        text=True,
        check=False,  # asserted below, with the output in the message
    )
    seconds = time.perf_counter() - began
    assert done.returncode == 0, (done.returncode, done.stdout[-500:], done.stderr[-500:])
    return seconds


def member_count(site: Path) -> int:
    """Members in the site's ledger."""
    conn = sqlite3.connect(site / "data" / "locker.db")
    try:
        return int(conn.execute("SELECT COUNT(*) FROM members").fetchone()[0])
    finally:
        conn.close()


def measure(n: int = N) -> dict[str, float]:
    """Seconds to import ``n`` members into a fresh ledger (best of 3) and into a filled one."""
    with tempfile.TemporaryDirectory() as where:
        root = Path(where)
        csv_path = root / "members.csv"
        began = time.perf_counter()
        write_csv(csv_path, n)
        write_s = time.perf_counter() - began
        fresh: list[float] = []
        again: list[float] = []
        for run in range(RUNS):
            # A new site each run, so every first import starts from no ledger at all.
            site = root / f"site{run}"
            site.mkdir()
            (site / "lockerkey.toml").write_text(CONFIG, encoding="utf-8")
            fresh.append(import_seconds(site, csv_path))
            again.append(import_seconds(site, csv_path))
            count = member_count(site)
            assert count == n, (count, n)
        return {
            "members": count,
            "csv_mb": csv_path.stat().st_size / 1e6,
            "csv_write_s": write_s,
            "fresh_s": min(fresh),
            "fresh_worst_s": max(fresh),
            "resync_s": min(again),
            "resync_worst_s": max(again),
            "version_s": _startup_seconds(),
        }


def _startup_seconds() -> float:
    """The best of 3 `lockerkey --version`: what start-up alone costs, for reference."""
    best = float("inf")
    for _ in range(RUNS):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lockerkey", "--version"], check=True,
                       capture_output=True)  # fmt: skip
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    """Print the figures as a small table."""
    r = measure()
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print(f"members.csv: {int(r['members']):,} members, {r['csv_mb']:.1f} MB")
    print("| `lockerkey members import` (whole process) | best of 3 (s) | worst (s) |")
    print("|---|---|---|")
    print(f"| into a fresh ledger | {r['fresh_s']:.2f} | {r['fresh_worst_s']:.2f} |")
    print(f"| again, into the filled ledger | {r['resync_s']:.2f} | {r['resync_worst_s']:.2f} |")
    print(f"start-up alone (`lockerkey --version`): {r['version_s']:.2f} s; target: 3 s")


if __name__ == "__main__":
    main()

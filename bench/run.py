"""`make bench`: every benchmark, a table on stdout and bench/results.json.

Made here once and kept under bench/work/ (delete it to remake): a small ledger (100,000
members, 1,000 past rentals) and a big one (100,000 members, 1,000,000 past rentals).

    .venv/bin/python -m bench.run [--rentals 1000] [--soak 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench import engine_ledger, import_members, make_ledger, process, sync_10k, sync_seed
from lockerkey.store.ledger import Ledger

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
    # Brought to this lockerkey's schema once, so a copy's start-up times no migration.
    Ledger.open(path, "BENCH").close()
    return path


def status_seconds(folder: Path, runs: int = 5) -> float:
    """The best of ``runs`` `lockerkey status` runs, as a process (start-up included)."""
    best = float("inf")
    for _ in range(runs):
        began = time.perf_counter()
        command = [sys.executable, "-m", "lockerkey", "status"]
        subprocess.run(command, cwd=folder, check=True, capture_output=True)
        best = min(best, time.perf_counter() - began)
    return best


def machine() -> str:
    """CPU model, cores and Python, as the table's caption."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def collect(rentals: int, soak: int) -> dict[str, Any]:
    """Every figure."""
    results: dict[str, Any] = {"machine": machine(), "date": time.strftime("%Y-%m-%d")}
    for name in SIZES:
        path = ledger(name)
        print(f"{name} ledger: engine + ledger ...", file=sys.stderr)
        scratch = path.with_name("scratch.db")
        shutil.copyfile(path, scratch)  # every run starts from the same ledger
        try:
            results[f"engine_ledger_{name}"] = engine_ledger.run(scratch)
        finally:
            for leftover in scratch.parent.glob("scratch.db*"):
                leftover.unlink()
        results[f"status_s_{name}"] = status_seconds(path.parent)
        print(f"{name} ledger: the daemon, {rentals} rentals ...", file=sys.stderr)
        site = WORK / "site"
        try:
            results[f"process_{name}"] = process.measure(
                path, site, rentals, soak if name == "big" else 0
            )
        finally:
            shutil.rmtree(site, ignore_errors=True)
    grown = ledger("big").stat().st_size - ledger("small").stat().st_size
    results["ledger_mb_per_100k_rentals"] = grown / 1e6 / ((SIZES["big"] - SIZES["small"]) / 1e5)
    print("members import, sync (ours, then the seed's) ...", file=sys.stderr)
    results["import_100k"] = import_members.measure()
    results["sync_10k"] = sync_10k.measure()
    results["sync_seed_10k"] = sync_seed.measure()
    return results


def _ms(figures: dict[str, Any], name: str) -> str:
    f = figures[name]
    return f"{f['p50']:.1f} / {f['p99']:.1f} / {f['max']:.1f}"


def table(r: dict[str, Any]) -> list[str]:
    """The results as the README's Markdown table and lines."""
    small, big = r["process_small"], r["process_big"]
    es, eb = r["engine_ledger_small"], r["engine_ledger_big"]
    rows = [
        ("scan → unlock, ms (p50 / p99 / max)", "p99 ≤ 5", _ms(small, "scan_unlock"),
         _ms(big, "scan_unlock")),
        ("key removed → rental committed, ms", "p99 ≤ 5", _ms(small, "key_commit"),
         _ms(big, "key_commit")),
        ("scan → kiosk screen (WebSocket), ms", "p99 ≤ 20", _ms(small, "scan_screen"),
         _ms(big, "scan_screen")),
        ("engine + ledger alone: rentals and returns a second, one core", "",
         f"{es['cycles_per_s']:.0f}", f"{eb['cycles_per_s']:.0f}"),
        ("launch → ready, s (median of 6)", "≤ 1", f"{small['ready_s']:.2f}",
         f"{big['ready_s']:.2f}"),
        ("daemon RSS at idle, MB", "≤ 45", f"{small['rss_idle_mb']:.1f}",
         f"{big['rss_idle_mb']:.1f}"),
        (f"daemon RSS after {small['scans']:,} / {big['scans']:,} scans, MB (peak)", "no growth",
         f"{small['rss_after_mb']:.1f} ({small['rss_peak_mb']:.1f})",
         f"{big['rss_after_mb']:.1f} ({big['rss_peak_mb']:.1f})"),
        ("`lockerkey status`, s (whole process)", "", f"{r['status_s_small']:.2f}",
         f"{r['status_s_big']:.2f}"),
    ]  # fmt: skip
    lines = [
        f"Machine: {r['machine']}; {r['date']}.",
        "",
        "| figure | target | 1,000 past rentals | 1,000,000 past rentals |",
        "|---|---|---|---|",
        *(f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows),
        "",
    ]
    if "soak_scan_unlock" in big:
        curve = ", ".join(f"{mb:.1f}" for mb in big["rss_every_1000_scans_mb"])
        lines += [
            f"Soak on the big ledger, {big['scans']:,} scans (rentals and returns): RSS every"
            f" 1,000 scans, MB: {curve}; scan → unlock {_ms(big, 'soak_scan_unlock')} ms;"
            f" return scan → unlock {_ms(big, 'soak_return_scan_unlock')} ms;"
            f" key back → return committed {_ms(big, 'soak_return_key_commit')} ms.",
            "",
        ]
    imp, ours, seed = r["import_100k"], r["sync_10k"], r["sync_seed_10k"]
    lines += [
        f"Ledger size: {r['ledger_mb_per_100k_rentals']:.0f} MB per 100,000 rentals (with their"
        " audit events).",
        "`lockerkey members import` of 100,000 members (CSV, whole process):"
        f" {imp['fresh_s']:.2f} s into a new ledger, {imp['resync_s']:.2f} s again into the"
        " filled one (target ≤ 3 s).",
        "",
        "| sync, 10,000 members and 10,000 rentals | API calls | seconds |",
        "|---|---|---|",
        f"| lockerkey: first sync (members in) | {ours['first_calls']} | {ours['first_s']:.2f} |",
        f"| lockerkey: next sync (members in, rentals out) | {ours['next_calls']}"
        f" | {ours['next_s']:.2f} |",
        f"| seed design: first sync | {seed['members_calls']} | {seed['members_s']:.2f} |",
        f"| seed design: next sync (one `append_row` a rental) | {seed['whole_calls']:,}"
        f" | {seed['whole_s']:.1f} ({seed['whole_s'] - seed['whole_fake_s']:.1f} outside the"
        " test server) |",
        f"| ratio, next sync: seed / lockerkey | {seed['whole_calls'] / ours['next_calls']:,.0f}×"
        f" | {seed['whole_s'] / ours['next_s']:.0f}× |",
    ]
    return lines


def main() -> None:
    """Run everything, write bench/results.json, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rentals", type=int, default=1000, help="rentals timed per ledger")
    parser.add_argument("--soak", type=int, default=0, help="more scans on the big ledger")
    args = parser.parse_args()
    results = collect(args.rentals, args.soak)
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print("\n".join(table(results)))


if __name__ == "__main__":
    main()

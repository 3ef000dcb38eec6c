"""`make bench`'s process rig still drives a real daemon end to end (a few rentals and returns
on a small generated ledger): the figures exist and the ledger shows what was done. No
timing is asserted; the timings are the benchmark's business."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bench import make_ledger, process


def test_the_process_bench_rents_returns_and_restarts(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.db"
    make_ledger.make(ledger, members=50, rentals=40)
    site = tmp_path / "site"
    figures = process.measure(ledger, site, rentals=3, soak=4, restarts=1)
    # 3 rentals; then the soak returns those 3 keys and rents 1 more: 7 scans in all.
    assert figures["scans"] == 7
    for name, count in (("scan_unlock", 3), ("soak_return_key_commit", 3), ("soak_scan_screen", 1)):
        assert figures[name]["n"] == count, name
        assert 0 < figures[name]["p50"] <= figures[name]["max"], name
    assert len(figures["ready_runs_s"]) == 2
    assert figures["rss_idle_mb"] > 0 and figures["rss_peak_mb"] >= figures["rss_after_mb"]
    with sqlite3.connect(site / "data" / "locker.db") as db:
        rows = db.execute(
            "SELECT member_id, status FROM rentals WHERE transaction_id NOT LIKE 'bench-%'"
            " ORDER BY rental_id"
        ).fetchall()
    assert rows == [
        ("B0000000", "returned"),
        ("B0000001", "returned"),
        ("B0000002", "returned"),
        ("B0000003", "active"),
    ]

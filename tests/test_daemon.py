"""The daemon in-process: readers start after recovery, crashed parts restart, backups while
rentals flow, the loop watchdog, and the daily schedule's arithmetic."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lockerkey.app import TerminalDisplay, build_cabinets, open_ledger
from lockerkey.cabinet.controller import Controller
from lockerkey.cabinet.simulator import Simulator
from lockerkey.core import rules
from lockerkey.daemon import Daemon, watch_loop
from lockerkey.readers.base import Emit
from lockerkey.store.backup import list_backups, verify_backup
from tests.conftest import add_members
from tests.live import eventually, site_settings


class QueueReader:
    """A reader fed by the test: each put code is emitted, as a scanner's would be."""

    def __init__(self, name: str = "test-reader", crash_first: bool = False) -> None:
        self.name = name
        self.codes: asyncio.Queue[str] = asyncio.Queue()
        self.crash_first = crash_first
        self.starts: list[bool] = []  # whether the kiosk was ready at each start
        self.ready: asyncio.Event | None = None

    async def run(self, emit: Emit) -> None:
        assert self.ready is not None
        self.starts.append(self.ready.is_set())
        if self.crash_first and len(self.starts) == 1:
            raise RuntimeError("reader fell over")
        while True:
            emit(await self.codes.get())


async def start_daemon(
    tmp_path: Path, reader: QueueReader, members: int = 5
) -> tuple[Daemon, Simulator, asyncio.Task[None]]:
    sim = Simulator(Controller(8, False, rng=random.Random(3)), seed=3, auto=0.02)
    await sim.start_pty(tmp_path / "cabinet1")
    settings = site_settings(tmp_path, [sim.url], 8)
    ledger = open_ledger(settings)
    add_members(ledger, *[f"M{n}" for n in range(members)])
    daemon = Daemon(
        settings, ledger, build_cabinets(settings), [reader], TerminalDisplay("en", lambda _: None)
    )
    reader.ready = daemon.kiosk.ready
    task = asyncio.create_task(daemon.serve())
    await eventually(lambda: bool(reader.starts), why="the reader started")
    return daemon, sim, task


async def stop_daemon(daemon: Daemon, sim: Simulator, task: asyncio.Task[None]) -> None:
    daemon.stop.set()
    await task
    await daemon.kiosk.close()
    await sim.stop()


def rental_statuses(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [s for (s,) in conn.execute("SELECT status FROM rentals ORDER BY rental_id")]


async def test_readers_start_after_the_cabinets_are_recovered_and_restart_after_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reader = QueueReader(crash_first=True)
    with caplog.at_level(logging.INFO, logger="lockerkey"):
        daemon, sim, task = await start_daemon(tmp_path, reader)
        try:
            await eventually(lambda: len(reader.starts) == 2, why="the reader restarted")
            assert reader.starts == [True, True]  # never before the cabinet's status
            assert "task test-reader crashed" in caplog.text
            assert "RuntimeError: reader fell over" in caplog.text  # with its traceback
            assert " ready (" in caplog.text
            reader.codes.put_nowait("M1")
            await eventually(lambda: rental_statuses(tmp_path / "locker.db") == ["active"])
        finally:
            await stop_daemon(daemon, sim, task)


def locker_of(db: Path, member: str) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute(
            "SELECT locker_number FROM rentals WHERE member_id = ? AND status = 'active'",
            (member,),
        ).fetchone()
    return row[0] if row else None


async def test_a_backup_taken_while_rentals_flow_is_consistent_and_audited(tmp_path: Path) -> None:
    reader = QueueReader()
    daemon, sim, task = await start_daemon(tmp_path, reader, members=30)
    db = tmp_path / "locker.db"
    kiosk = daemon.kiosk

    async def members_come_and_go() -> None:
        # Straight to the kiosk, past the reader's gate: key tags repeat within 1.5 s here.
        for n in range(30):
            kiosk.scan(f"M{n}")
            await eventually(lambda n=n: locker_of(db, f"M{n}") is not None)
            kiosk.scan(f"KEY-{locker_of(db, f'M{n}')}")
            await eventually(lambda n=n: rental_statuses(db)[n] == "returned")

    try:
        flow = asyncio.create_task(members_come_and_go())
        await eventually(lambda: len(rental_statuses(db)) >= 3, why="rentals under way")
        await daemon.backup_now()
        await daemon.backup_now()
        backed_up_at = len(rental_statuses(db))
        await asyncio.wait_for(flow, 60)
    finally:
        await stop_daemon(daemon, sim, task)
    assert backed_up_at < 30  # the backups ran while members were still coming
    copies = list_backups(tmp_path / "backup")
    assert len(copies) == 2
    for copy in copies:
        assert verify_backup(copy) >= 1
        with sqlite3.connect(copy) as conn:
            taken = conn.execute("SELECT COUNT(*) FROM rentals").fetchone()[0]
        assert 3 <= taken <= backed_up_at
    with sqlite3.connect(db) as conn:
        audited = conn.execute("SELECT details FROM events WHERE kind = 'backup'").fetchall()
    assert len(audited) == 2 and all(str(copies[0].parent) in d for (d,) in audited)
    assert rental_statuses(db) == ["returned"] * 30  # nothing was held up or lost meanwhile


async def test_a_held_up_event_loop_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="lockerkey.daemon"):
        watcher = asyncio.create_task(watch_loop(every=0.01, budget=0.05))
        await asyncio.sleep(0.02)
        time.sleep(0.2)  # the blocking call the watchdog is there to catch
        await eventually(lambda: "event loop was held up" in caplog.text)
        watcher.cancel()
    held = int(caplog.text.split("held up for ")[1].split(" ms")[0])
    assert held >= 150


@pytest.mark.parametrize("zone", ["Asia/Seoul", "Europe/Berlin", "America/New_York"])
def test_the_daily_time_comes_once_a_day_also_across_clock_changes(zone: str) -> None:
    tz = ZoneInfo(zone)
    at = datetime(2026, 3, 1, 12, tzinfo=UTC)
    previous = at
    for _ in range(300):  # through both DST changes of 2026
        due = rules.next_local_time(previous, 2, 30, tz)
        assert due > previous
        assert timedelta(hours=22) <= due - previous <= timedelta(hours=26) or previous == at
        local = due.astimezone(tz)
        assert (local.hour, local.minute) in ((2, 30), (3, 30), (1, 30))
        previous = due


def test_the_daily_time_later_today_or_tomorrow() -> None:
    seoul = ZoneInfo("Asia/Seoul")
    morning = datetime(2026, 11, 26, 1, 0, tzinfo=seoul)
    assert rules.next_local_time(morning, 3, 0, seoul) == datetime(2026, 11, 26, 3, 0, tzinfo=seoul)
    exactly = datetime(2026, 11, 26, 3, 0, tzinfo=seoul)
    assert rules.next_local_time(exactly, 3, 0, seoul) == datetime(2026, 11, 27, 3, 0, tzinfo=seoul)


async def test_services_start_once_ready_and_are_cancelled_at_the_stop(tmp_path: Path) -> None:
    reader = QueueReader()
    sim = Simulator(Controller(4, False, rng=random.Random(5)), seed=5)
    await sim.start_pty(tmp_path / "cabinet1")
    settings = site_settings(tmp_path, [sim.url], 4)
    daemon = Daemon(
        settings,
        open_ledger(settings),
        build_cabinets(settings),
        [reader],
        TerminalDisplay("en", lambda _: None),
    )
    reader.ready = daemon.kiosk.ready
    seen: list[str] = []

    async def service() -> None:  # what the web UI or the sync will be
        seen.append("ready" if daemon.kiosk.ready.is_set() else "early")
        try:
            await asyncio.Event().wait()
        finally:
            seen.append("cancelled")

    daemon.services.append(("web", service))
    task = asyncio.create_task(daemon.serve())
    try:
        await eventually(lambda: seen == ["ready"])
    finally:
        await stop_daemon(daemon, sim, task)
    assert seen == ["ready", "cancelled"]

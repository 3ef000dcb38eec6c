"""When syncs run: the catch-up at startup, never two at once, `lockerkey sync` as a process."""

from __future__ import annotations

import dataclasses
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lockerkey.config import Settings, settings_from_mapping
from lockerkey.runlock import RunLock
from lockerkey.store import sync_store
from lockerkey.store.ledger import Ledger
from lockerkey.sync.schedule import SYNC_LOCK, SyncBusy, SyncService, sync_once
from tests.processes import run_to_end

MEMBERS = "barcode,name,status,expiry_date\n0012,가상회원,활성,2099. 12. 31\n,빈바코드,활성,\n"
CONFIG = """\
device_id = "CLI"
data_dir = "data"

[[cabinet]]
port = "unused"
lockers = "1-4"

[sync]
backend = "{backend}"
times = []
"""


def site(tmp_path: Path, backend: str = "csv") -> Settings:
    (tmp_path / "lockerkey.toml").write_text(CONFIG.format(backend=backend), encoding="utf-8")
    (tmp_path / "members.csv").write_text(MEMBERS, encoding="utf-8")
    return settings_from_mapping(
        {
            "device_id": "CLI",
            "data_dir": str(tmp_path / "data"),
            "cabinet": [{"port": "unused", "lockers": "1-4"}],
            "sync": {
                "backend": backend,
                "times": [],
                "members_csv": str(tmp_path / "members.csv"),
                "rentals_csv": str(tmp_path / "rentals.csv"),
            },
        }
    )


def runs(settings: Settings) -> list[sync_store.SyncRun]:
    ledger = Ledger.open(settings.db_path, settings.device_id)
    try:
        return sync_store.recent_runs(ledger)
    finally:
        ledger.close()


def test_never_two_at_once(tmp_path: Path) -> None:
    settings = site(tmp_path)
    held = RunLock(settings.data_dir, SYNC_LOCK)
    held.acquire()
    try:
        with pytest.raises(SyncBusy, match=f"pid {os.getpid()}"):
            sync_once(settings, "cli", lambda: datetime.now(UTC))
    finally:
        held.release()
    assert sync_once(settings, "cli", lambda: datetime.now(UTC)).ok


async def test_a_missed_run_is_caught_up_once_at_startup(tmp_path: Path) -> None:
    settings = site(tmp_path)
    service = SyncService(settings)
    await service.serve()  # no times: the catch-up only, then nothing scheduled
    assert [(r.trigger, r.status) for r in runs(settings)] == [("startup", "ok")]
    await SyncService(settings).serve()  # nothing missed since: no second run
    assert len(runs(settings)) == 1


async def test_a_second_request_while_one_runs_is_refused(tmp_path: Path) -> None:
    settings = site(tmp_path)
    service = SyncService(settings)
    async with service._lock:  # as if a run were under way
        with pytest.raises(SyncBusy):
            await service.run_now()


def test_a_stale_running_run_is_failed_at_startup(tmp_path: Path) -> None:
    settings = site(tmp_path)
    ledger = Ledger.open(settings.db_path, settings.device_id)
    try:
        sync_store.start_run(ledger, "schedule", "csv", datetime.now(UTC))
    finally:
        ledger.close()
    from lockerkey.sync.schedule import _last_success  # noqa: PLC0415

    assert _last_success(settings) is None
    assert runs(settings)[0].status == "failed" and runs(settings)[0].error == "interrupted"


def test_refused_credentials_are_a_recorded_run(tmp_path: Path) -> None:
    settings = site(tmp_path)
    settings = dataclasses.replace(
        settings, sync=dataclasses.replace(settings.sync, backend="gsheets")
    )
    done = sync_once(settings, "cli", lambda: datetime.now(UTC))
    assert not done.ok and "credentials.json" in (done.error or "")
    assert runs(settings)[0].status == "failed"


def test_the_sync_command(tmp_path: Path) -> None:
    site(tmp_path)
    done = run_to_end(tmp_path, "sync")
    assert done.returncode == 0, done.stderr
    assert "members 2 read, 1 added" in done.stdout and "1 rows skipped" in done.stdout
    assert (tmp_path / "sync_report.csv").exists()
    status = run_to_end(tmp_path, "status")
    assert "sync:" in status.stdout and " ok " in status.stdout
    (tmp_path / "members.csv").unlink()
    failed = run_to_end(tmp_path, "sync")
    assert failed.returncode == 1
    assert "members.csv: no such file" in failed.stderr


def test_the_sync_command_without_a_backend(tmp_path: Path) -> None:
    site(tmp_path, backend="none")
    done = run_to_end(tmp_path, "sync")
    assert done.returncode == 1 and 'backend is "none"' in done.stderr


async def test_members_rent_and_return_while_a_sync_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio  # noqa: PLC0415
    import threading  # noqa: PLC0415

    from lockerkey.config_sync import SyncSettings  # noqa: PLC0415
    from lockerkey.sync import schedule  # noqa: PLC0415
    from lockerkey.sync.csv_backend import CsvFiles  # noqa: PLC0415
    from tests.live import eventually, open_site  # noqa: PLC0415

    (tmp_path / "kiosk").mkdir()
    live = await open_site(tmp_path / "kiosk", 4, members=("M1",))
    members = tmp_path / "members.csv"
    members.write_text("barcode,name,status,expiry_date\nM1,가상,active,\n", encoding="utf-8")
    sync = SyncSettings(backend="csv", members_csv=members, rentals_csv=tmp_path / "rentals.csv")
    settings = dataclasses.replace(live.settings, sync=sync)
    reading, release = threading.Event(), threading.Event()

    class Slow(CsvFiles):
        def read_members(self) -> list[list[str]]:
            reading.set()
            release.wait(30)  # the sheet takes its time: the kiosk must not notice
            return super().read_members()

    monkeypatch.setattr(
        schedule, "make_backend", lambda s: Slow(s.sync.members_csv, s.sync.rentals_csv)
    )
    try:
        running = asyncio.create_task(SyncService(settings).run_now())
        await asyncio.to_thread(reading.wait, 30)
        live.kiosk.scan("M1")  # a whole rental while the sync is stuck in the sheet
        await eventually(lambda: live.engine.phase.value == "take_key")
        locker = live.engine.session.locker  # type: ignore[union-attr]
        live.sims[0].controller.take(int(locker), 0)
        await eventually(lambda: live.engine.lockers[locker].holder is not None)
        assert not running.done()
        release.set()
        done = await running
        assert done.ok and done.counts["rentals_appended"] == 1
    finally:
        release.set()
        await live.stop()


RUN_CONFIG = """\
data_dir = "data"
[[cabinet]]
port = "cabinet.link"
lockers = "1-4"
[scanner]
kind = "none"
[web]
port = 0
[sync]
backend = "csv"
times = ["06:00", "18:00"]
"""


def test_the_daemon_catches_up_a_missed_sync_at_startup(tmp_path: Path) -> None:
    import signal  # noqa: PLC0415

    from tests.processes import Lines, SimulatorProcess, spawn  # noqa: PLC0415

    (tmp_path / "lockerkey.toml").write_text(RUN_CONFIG, encoding="utf-8")
    (tmp_path / "members.csv").write_text(MEMBERS, encoding="utf-8")
    cabinet = SimulatorProcess(tmp_path, "--slots", "4")
    daemon = spawn(tmp_path, "run")
    try:
        assert daemon.stderr is not None
        log = Lines(daemon.stderr)
        log.wait_for(" ready ")
        line = log.wait_for("sync run 1 ")
        assert "done: members_read=2 members_added=1" in line and "bad_rows=1" in line
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=10) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
        cabinet.close()
    assert (tmp_path / "rentals.csv").read_text(encoding="utf-8-sig").startswith("transaction_id,")
    assert runs(settings_from_mapping({**_paths(tmp_path)}))[0].trigger == "startup"


def _paths(tmp_path: Path) -> dict[str, object]:
    return {"data_dir": str(tmp_path / "data"), "cabinet": [{"port": "p", "lockers": "1-4"}]}

"""The wiring: a Kiosk on a real ledger and the scripted cabinet, in a real asyncio loop."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import replace
from pathlib import Path

import pytest

from lockerkey.app import (
    Kiosk,
    SetupError,
    TerminalDisplay,
    build_cabinets,
    build_layout,
    open_ledger,
    supervise,
)
from lockerkey.cabinet.base import CabinetError
from lockerkey.cabinet.scripted import ScriptedCabinet
from lockerkey.config import CabinetSettings, Settings, demo_settings
from lockerkey.core.events import Command, Select, Step
from lockerkey.core.state import Phase
from lockerkey.store import reports
from tests.conftest import add_members


def settings_in(tmp_path: Path) -> Settings:
    return demo_settings(tmp_path)


class Watcher:
    """Waits for the kiosk to reach a phase after a Step (no sleeping)."""

    def __init__(self, kiosk: Kiosk) -> None:
        self.kiosk = kiosk
        self.changed = asyncio.Condition()
        kiosk.listeners.append(self._on_step)
        self.steps: list[Step] = []

    def _on_step(self, step: Step) -> None:
        self.steps.append(step)
        asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def until(self, predicate: object) -> None:
        async with self.changed:
            await asyncio.wait_for(self.changed.wait_for(predicate), 10)  # type: ignore[arg-type]


async def test_a_rental_and_return_through_the_running_kiosk(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    ledger = open_ledger(settings)
    add_members(ledger, "M1", gender="M")
    lines: list[str] = []
    links = build_cabinets(settings, delay=0)
    kiosk = Kiosk(settings, ledger, links, TerminalDisplay("en", lines.append))
    watch = Watcher(kiosk)
    stop = asyncio.Event()
    runner = asyncio.create_task(kiosk.run(stop))
    await watch.until(lambda: kiosk.engine.phase is Phase.IDLE)
    kiosk.scan("M1")
    await watch.until(lambda: kiosk.engine.phase is Phase.CHOOSE_LOCKER)
    assert kiosk.engine.view().available == tuple(str(i) for i in range(1, 13))
    kiosk.emit(Select("7"))
    await watch.until(lambda: kiosk.engine.lockers["7"].holder is not None)
    kiosk.scan("KEY-7")
    await watch.until(
        lambda: kiosk.engine.lockers["7"].holder is None and kiosk.engine.phase is Phase.IDLE
    )
    stop.set()
    await runner
    row = ledger.conn.execute(
        "SELECT status, rental_verified, return_verified FROM rentals"
    ).fetchone()
    assert tuple(row) == ("returned", 1, 1)
    assert reports.invariant_problems(ledger) == []
    assert any("Locker 7 is yours" in line for line in lines)
    assert any("반납 완료" in line for line in lines)  # the other language beside it
    scripted = links[0]
    assert isinstance(scripted, ScriptedCabinet) and all(scripted.locked)
    ledger.close()


async def test_a_failed_command_is_logged_and_recorded(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    ledger = open_ledger(settings)
    add_members(ledger, "M1", gender="M")

    class Broken(ScriptedCabinet):
        async def send(self, command: Command) -> None:
            raise CabinetError("port vanished")

    kiosk = Kiosk(settings, ledger, [Broken(0, 24)], TerminalDisplay("ko", lambda _: None))
    watch = Watcher(kiosk)
    stop = asyncio.Event()
    runner = asyncio.create_task(kiosk.run(stop))
    await watch.until(lambda: kiosk.engine.phase is Phase.IDLE)
    stop.set()
    await runner
    failed = ledger.conn.execute("SELECT details FROM events WHERE kind = 'command_failed'")
    assert "port vanished" in failed.fetchone()[0]
    ledger.close()


def test_only_the_scripted_cabinet_exists_in_this_build(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    serial = replace(settings, cabinets=(CabinetSettings("c1", "/dev/ttyUSB0", ("1", "2")),))
    with pytest.raises(SetupError, match=re.escape("cabinet[1].port = '/dev/ttyUSB0'")):
        build_cabinets(serial)


def test_layout_from_settings(tmp_path: Path) -> None:
    layout = build_layout(settings_in(tmp_path))
    assert layout.lockers["13"].zone == "female" and layout.lockers["13"].slot == 13
    assert layout.by_key_code["KEY-24"] == "24"
    assert layout.zones["male"].allow["gender"] >= {"m", "남"}


async def test_supervise_restarts_a_crashed_task(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []

    async def flaky() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="lockerkey"):
        await supervise("flaky", flaky)
    assert len(runs) == 2
    assert "task flaky crashed" in caplog.text and "RuntimeError: boom" in caplog.text

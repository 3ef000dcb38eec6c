"""The wiring: a Kiosk on a real ledger and a simulated controller on a pty, in one loop."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from lockerkey.app import (
    Kiosk,
    TerminalDisplay,
    build_cabinets,
    build_layout,
    open_ledger,
    supervise,
)
from lockerkey.cabinet.base import CabinetError, Emit
from lockerkey.cabinet.controller import Controller
from lockerkey.cabinet.serial_link import SerialCabinet
from lockerkey.cabinet.simulator import Simulator
from lockerkey.config import Settings, demo_settings
from lockerkey.core.events import Command, Select, Snapshot, Step
from lockerkey.core.state import Phase
from lockerkey.store import reports
from tests.conftest import add_members


def settings_in(tmp_path: Path, port: str = "simulator") -> Settings:
    settings = demo_settings(tmp_path)
    cabinet = replace(settings.cabinets[0], port=port)
    return replace(settings, cabinets=(cabinet,))


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A 24-slot controller on a pty whose pretend member acts at once after an unlock."""
    simulator = Simulator(Controller(24, False, rng=random.Random(1)), auto=0.0)
    await simulator.start_pty()
    yield simulator
    await simulator.stop()


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


async def test_a_rental_and_return_through_the_running_kiosk(
    tmp_path: Path, sim: Simulator
) -> None:
    settings = settings_in(tmp_path, sim.url)
    ledger = open_ledger(settings)
    add_members(ledger, "M1", gender="M")
    lines: list[str] = []
    unlocks: list[object] = []
    sim.controller.on_execute = lambda _id, req: (
        unlocks.append(req.get("slot")) if req["cmd"] == "unlock" else None
    )
    links = build_cabinets(settings)
    assert isinstance(links[0], SerialCabinet) and links[0].port == sim.url
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
    assert sim.controller.status()[2] == "-" + "1" * 24  # every lock locked again
    assert unlocks == [7, 7]  # the rental and the return, nothing else
    ledger.close()


async def test_a_failed_command_is_logged_and_recorded(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    ledger = open_ledger(settings)
    add_members(ledger, "M1", gender="M")

    class Broken:
        """A link that reports a full cabinet but cannot deliver a command."""

        index = 0

        async def run(self, emit: Emit) -> None:
            emit(Snapshot(0, "-" + "1" * 24, "-" * 25, "-" + "1" * 24))
            await asyncio.Event().wait()

        async def send(self, command: Command) -> None:
            raise CabinetError("port vanished")

    kiosk = Kiosk(settings, ledger, [Broken()], TerminalDisplay("ko", lambda _: None))
    watch = Watcher(kiosk)
    stop = asyncio.Event()
    runner = asyncio.create_task(kiosk.run(stop))
    await watch.until(lambda: kiosk.engine.phase is Phase.IDLE)
    stop.set()
    await runner
    failed = ledger.conn.execute("SELECT details FROM events WHERE kind = 'command_failed'")
    rows = failed.fetchall()
    assert rows and all("port vanished" in row[0] for row in rows)
    ledger.close()


def test_every_cabinet_gets_its_own_serial_link(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    second = replace(
        settings.cabinets[0],
        name="c2",
        port="socket://127.0.0.1:4001",
        lockers=("25", "26"),
        baudrate=57600,
    )
    links = build_cabinets(replace(settings, cabinets=(settings.cabinets[0], second), zones=()))
    assert [type(link) for link in links] == [SerialCabinet, SerialCabinet]
    two = links[1]
    assert isinstance(two, SerialCabinet)
    assert (two.index, two.port, two.slots, two.baudrate) == (
        1,
        "socket://127.0.0.1:4001",
        2,
        57600,
    )


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

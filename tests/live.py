"""A running kiosk on a real ledger, wired to simulated controllers over real ptys or TCP."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from lockerkey.app import Kiosk, TerminalDisplay, build_cabinets, open_ledger
from lockerkey.cabinet.controller import Controller
from lockerkey.cabinet.serial_link import SerialCabinet
from lockerkey.cabinet.simulator import Faults, Simulator
from lockerkey.config import Settings, settings_from_mapping
from lockerkey.core.engine import Engine
from lockerkey.core.events import Step
from lockerkey.store.ledger import Ledger
from tests.conftest import add_members

WAIT = 15.0  # seconds any condition may take before a test fails; normally well under one


async def eventually(what: Callable[[], object], timeout: float = WAIT, why: str = "") -> None:
    """Wait until ``what()`` is true, checking every 10 ms; fail with ``why`` after timeout."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not what():
        if loop.time() > end:
            raise AssertionError(f"not true within {timeout} s: {why or what}")
        await asyncio.sleep(0.01)


def site_settings(
    tmp_path: Path,
    ports: list[str],
    slots: int,
    kind: str = "per_slot",
    selection: str = "auto",
    zones: list[dict[str, object]] | None = None,
) -> Settings:
    """Settings for cabinets of ``slots`` lockers each on the given ports, numbered on."""
    cabinets = [
        {
            "name": f"cab{i + 1}",
            "port": port,
            "lockers": f"{i * slots + 1}-{(i + 1) * slots}",
            "kind": kind,
        }
        for i, port in enumerate(ports)
    ]
    return settings_from_mapping(
        {
            "data_dir": str(tmp_path),
            "timezone": "Asia/Seoul",
            "cabinet": cabinets,
            "session": {"selection": selection, "timeout_s": 30},
            "zone": zones or [],
        }
    )


class Site:
    """Simulators + a Kiosk running on them; everything a test needs to look at."""

    def __init__(self, settings: Settings, sims: list[Simulator]) -> None:
        self.settings = settings
        self.sims = sims
        self.ledger: Ledger = open_ledger(settings)
        self.lines: list[str] = []
        self.links = build_cabinets(settings)
        self.kiosk = Kiosk(
            settings, self.ledger, self.links, TerminalDisplay("en", self.lines.append)
        )
        self.steps: list[Step] = []
        self.kiosk.listeners.append(self.steps.append)
        self._stop = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None

    @property
    def engine(self) -> Engine:
        """The kiosk's engine."""
        return self.kiosk.engine

    def link(self, index: int = 0) -> SerialCabinet:
        """The serial link to controller ``index``."""
        link = self.links[index]
        assert isinstance(link, SerialCabinet)
        return link

    async def start(self) -> None:
        """Run the kiosk and wait until every controller is online."""
        self._runner = asyncio.create_task(self.kiosk.run(self._stop))
        # Ready: every controller online and the commands of that step (lock_all) answered.
        await eventually(self.kiosk.ready.is_set, why="every controller online")
        await self.kiosk.queue.join()

    async def stop(self) -> None:
        """Stop the kiosk, the simulators and the ledger."""
        self._stop.set()
        if self._runner is not None:
            await self._runner
        for sim in self.sims:
            await sim.stop()
        await self.kiosk.close()

    def said(self, text: str) -> bool:
        """Whether the display showed a line containing ``text``."""
        return any(text in line for line in self.lines)


async def open_site(
    tmp_path: Path,
    slots: int = 8,
    *,
    shared_door: bool = False,
    cabinets: int = 1,
    tcp: bool = False,
    faults: Faults | None = None,
    seed: int = 7,
    members: tuple[str, ...] = ("M1", "M2", "M3"),
    zones: list[dict[str, object]] | None = None,
) -> Site:
    """Start ``cabinets`` simulators and a kiosk on them; members are added to the ledger."""
    sims = []
    for i in range(cabinets):
        controller = Controller(slots, shared_door, rng=random.Random(seed + i))
        sim = Simulator(controller, faults=faults, seed=seed + i)
        if tcp:
            await sim.start_tcp()
        else:
            await sim.start_pty(tmp_path / f"cabinet{i + 1}")
        sims.append(sim)
    kind = "shared_door" if shared_door else "per_slot"
    settings = site_settings(tmp_path, [sim.url for sim in sims], slots, kind, zones=zones)
    site = Site(settings, sims)
    add_members(site.ledger, *members)
    await site.start()
    return site


def with_port(settings: Settings, index: int, port: str) -> Settings:
    """The settings with cabinet ``index`` on another port."""
    cabinets = list(settings.cabinets)
    cabinets[index] = replace(cabinets[index], port=port)
    return replace(settings, cabinets=tuple(cabinets))

"""``lockerkey demo``: the whole kiosk in a terminal, on simulated cabinets and sample members.

Each cabinet is the protocol-exact simulator on a pseudo-terminal, with a pretend member who
takes or returns a key after every unlock; the kiosk reaches it through the real serial driver,
exactly as it would reach an ESP32.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from lockerkey.app import Kiosk, TerminalDisplay, build_cabinets, open_ledger
from lockerkey.cabinet.controller import Controller
from lockerkey.cabinet.simulator import Simulator
from lockerkey.config import Settings, demo_settings
from lockerkey.core.events import Cancel, Select
from lockerkey.core.state import Phase
from lockerkey.daemon import Daemon
from lockerkey.readers.stdin import lines
from lockerkey.store import reports
from lockerkey.sync.csv_members import read_members_csv

HELP = """\
Type a code and press Enter, as a scanner would:
  M0001 M0002 M0005 M0006   members (M0003 is suspended, M0004 expired)
  KEY-1 ... KEY-24          the tag on a locker's key (returns it)
Commands: /select N   /cancel   /status   /quit
  /misplace   the next returned key goes into another empty slot (a shared-door mistake)
Lockers 1-12 are the men's zone, 13-24 the women's."""


def prepare(data_dir: Path | None) -> tuple[Settings, Path]:
    """Demo settings on a data dir (a new temporary one by default) with the sample members."""
    where = data_dir or Path(tempfile.mkdtemp(prefix="lockerkey-demo-"))
    settings = demo_settings(where)
    ledger = open_ledger(settings)
    try:
        sample = resources.files("lockerkey") / "data" / "sample_members.csv"
        with resources.as_file(sample) as path:
            rows, _ = read_members_csv(path)
        ledger.upsert_members(rows, datetime.now(UTC))
    finally:
        ledger.close()
    return settings, where


class Demo:
    """Drives a Kiosk from typed lines or from the built-in tour."""

    def __init__(
        self, settings: Settings, out: Callable[[str], None] = print, delay: float = 0.8
    ) -> None:
        self.out = out
        self.settings = settings
        self.delay = delay
        self.ledger = open_ledger(settings)
        self.sims: list[Simulator] = []
        self.settled = asyncio.Event()

    async def plug_in(self) -> Kiosk:
        """Start one simulator per cabinet, as the ledger last saw it, and the daemon on them."""
        states = self.ledger.load_lockers()
        cabinets = []
        for cab in self.settings.cabinets:
            controller = Controller(
                len(cab.lockers),
                cab.kind == "shared_door",
                rng=random.Random(),  # noqa: S311
            )
            # A kept data dir: the keys members still hold are not in the cabinet. Taken before
            # power-up, so the controller's first readings already show them gone.
            for slot, number in enumerate(cab.lockers, start=1):
                state = states.get(number)
                if state is not None and state.key is False:
                    controller.take(slot, 0, force=True)
            sim = Simulator(controller, auto=self.delay)
            self.sims.append(sim)
            cabinets.append(dataclasses.replace(cab, port=await sim.start_pty()))
        self.settings = dataclasses.replace(self.settings, cabinets=tuple(cabinets))
        # The daemon of `lockerkey run`, with this console as its reader.
        self.daemon = Daemon(
            self.settings,
            self.ledger,
            build_cabinets(self.settings),
            [],
            TerminalDisplay(self.settings.language, self.out),
        )
        self.kiosk = self.daemon.kiosk
        self.typed = self.kiosk.intake("console")
        self.kiosk.listeners.append(lambda _step: self._note())
        return self.kiosk

    def _note(self) -> None:
        if self.kiosk.engine.phase in (Phase.IDLE, Phase.CHOOSE_LOCKER):
            self.settled.set()
        else:
            self.settled.clear()

    async def settle(self) -> None:
        """Wait until every queued event is handled and the kiosk waits on a person again."""
        while True:
            await self.kiosk.queue.join()
            if self.settled.is_set():
                return
            await self.settled.wait()

    async def act(self, line: str, typed: bool = True) -> bool:
        """Handle one line (typed, or the tour's); False means quit."""
        if not line:
            return True
        self.out(f"> {line}")
        word, _, arg = line.partition(" ")
        if word == "/quit":
            return False
        if word == "/help":
            self.out(HELP)
        elif word == "/select":
            self.kiosk.emit(Select(arg.strip()))
        elif word == "/cancel":
            self.kiosk.emit(Cancel())
        elif word == "/misplace":
            for sim in self.sims:
                if sim.member is not None:
                    sim.member.misplace_next = True
        elif word == "/status":
            await self.print_status()
        else:
            # Typed codes pass the reader's gate; the tour repeats cards on purpose.
            (self.typed if typed else self.kiosk.scan)(line)
        return True

    async def print_status(self) -> None:
        """A short locker table."""
        for row in await self.kiosk.db(reports.locker_table, self.ledger):
            if row["key"] != "in" or row["service"] != "in_service":
                self.out(
                    f"    locker {row['locker']}: key {row['key']}, {row['service']}"
                    f" {row['member_id'] or ''}"
                )
        self.out("    (every other locker: key in, in service)")

    async def tour(self) -> None:
        """A short story: refusals, rentals, a busy machine, a return."""
        # Refusals (suspended, expired, unknown); a rental while another member is told the
        # machine is busy; already renting; a rental and its return; a key with no rental.
        script = (
            "M0003 M0004 UNKNOWN-CARD M0001 M0002 /select:3 M0001 M0002 /select:14 KEY-14"
            " KEY-20 /status"
        )
        for line in script.split():
            await self.act(line.replace(":", " "), typed=False)
            await self.settle()

    async def main(self, tour: bool, interactive: bool) -> None:
        """Run the kiosk, the tour and/or typed input, then stop cleanly."""
        kiosk = await self.plug_in()
        runner = asyncio.create_task(self.daemon.serve())
        try:
            ready = asyncio.create_task(kiosk.ready.wait())
            await asyncio.wait([ready, runner], return_when=asyncio.FIRST_COMPLETED)
            if runner.done():
                await runner  # it failed: say why
            await self.settle()
            rented = await kiosk.db(reports.rental_count, self.ledger)
            if tour and rented:
                self.out("(the tour is skipped: this data dir already has rentals)")
            elif tour:
                self.out("--- tour ---")
                await self.tour()
            if interactive:
                self.out(HELP)
                async for line in lines():
                    if not await self.act(line.strip()):
                        break
                    await self.settle()
        finally:
            self.daemon.stop.set()
            await runner
            await kiosk.close()
            for sim in self.sims:
                await sim.stop()

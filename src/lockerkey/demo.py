"""``lockerkey demo``: the whole kiosk on a simulated cabinet and sample members.

The cabinet is the protocol-exact simulator on a pseudo-terminal; the kiosk reaches it through
the real serial driver, exactly as it would reach an ESP32. With the web (the default) the
kiosk page, the admin console and the simulator panel (/sim) are served, and a person plays
the member by clicking in the panel; without it (``--no-web``) a pretend member takes or
returns the key after every unlock. Either way this terminal reads codes as a scanner would.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import secrets
import signal
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from lockerkey.app import Kiosk, TerminalDisplay, build_cabinets, open_ledger
from lockerkey.cabinet.controller import Controller
from lockerkey.cabinet.sim_member import PretendMember
from lockerkey.cabinet.simulator import Simulator
from lockerkey.config import Settings, demo_settings
from lockerkey.core.events import Cancel, Select
from lockerkey.core.roster import MemberRow
from lockerkey.core.state import Phase
from lockerkey.daemon import Daemon
from lockerkey.demo_text import ADMIN_USER, banner, base_url, help_text, say
from lockerkey.readers.stdin import lines
from lockerkey.store import reports
from lockerkey.sync.csv_members import read_members_csv

if TYPE_CHECKING:
    from lockerkey.web.server import WebService
    from lockerkey.web.sim import SimPanel

WEB_START_S = 5.0  # how long the web server may take to listen once the kiosk is ready
# Where the demo waits on a person (or the pretend member), not on the cabinet.
WAITING = frozenset({Phase.IDLE, Phase.CHOOSE_LOCKER, Phase.STAFF_MENU})
TOURS = {
    # Refusals (suspended, expired, unknown); a rental while another member is told the
    # machine is busy; already renting; a rental and its return; a key with no rental.
    # "&": do not wait for the kiosk before the next line (to show it busy).
    "per_slot": "M0003 M0004 UNKNOWN-CARD M0001 M0002 /select:3 M0001 M0002 /select:14 KEY-14"
    " KEY-20 /status",
    "shared_door": "M0003 M0004 UNKNOWN-CARD M0001& M0002 M0001 M0002 KEY-2 KEY-20 /status",
}


def sample_members() -> list[MemberRow]:
    """The invented sample members shipped with lockerkey (data/sample_members.csv)."""
    sample = resources.files("lockerkey") / "data" / "sample_members.csv"
    with resources.as_file(sample) as path:
        rows, _ = read_members_csv(path)
    return rows


def sample_members_text() -> bytes:
    """The sample members file as shipped, to seed the demo's members.csv."""
    return (resources.files("lockerkey") / "data" / "sample_members.csv").read_bytes()


def prepare(
    data_dir: Path | None,
    *,
    shared_door: bool = False,
    web: bool = True,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> tuple[Settings, Path]:
    """Demo settings on a data dir (a new temporary one by default) with the sample members."""
    where = data_dir or Path(tempfile.mkdtemp(prefix="lockerkey-demo-"))
    settings = demo_settings(where, shared_door=shared_door, web=web, host=host, port=port)
    ledger = open_ledger(settings)
    try:
        ledger.upsert_members(sample_members(), datetime.now(UTC))
    finally:
        ledger.close()
    # The demo's member master (the csv sync backend reads it): edit it and /sync to try it.
    members = settings.sync.members_csv
    if not members.exists():
        members.write_bytes(sample_members_text())
    return settings, where


def demo_admin(settings: Settings) -> str:
    """Give the admin console an account ``demo`` with a new random password; return it."""
    from lockerkey.store import accounts  # noqa: PLC0415 - only the web demo needs it

    password = secrets.token_urlsafe(9)
    ledger = open_ledger(settings)
    try:
        accounts.set_password(
            ledger, ADMIN_USER, accounts.hash_password(password), datetime.now(UTC)
        )
    finally:
        ledger.close()
    return password


def reserve_port(settings: Settings) -> Settings:
    """The settings with a port the web server can bind now (WebError when none can be).

    Binding once up front turns a taken port into a clear error before anything starts, and
    port 0 into a real port number the banner can print.
    """
    from lockerkey.web.server import bind  # noqa: PLC0415 - the web is optional at import

    sock = bind(settings.web.host, settings.web.port)
    try:
        port = int(sock.getsockname()[1])
    finally:
        sock.close()
    return dataclasses.replace(settings, web=dataclasses.replace(settings.web, port=port))


class DemoMember(PretendMember):
    """The pretend member, who at a shared door puts back the very key the kiosk waits for.

    The base class puts back the key it took longest ago, which is another one as soon as two
    are out (or one a person took in the panel); a real member holds the key they scanned.
    """

    def __init__(self, sim: Simulator, returning: Callable[[], int | None]) -> None:
        super().__init__(sim)
        self.returning = returning

    def _act(self, slot: int) -> None:
        ctl = self.sim.controller
        target = self.returning() if slot == 0 and not self.misplace_next else None
        if target is None or ctl.key_present(target):
            super()._act(slot)
            return
        self.return_next = False
        self.sim.insert(target)


class Demo:
    """Drives a Kiosk from typed lines or from the built-in tour, and serves its web."""

    def __init__(
        self,
        settings: Settings,
        out: Callable[[str], None] = say,
        delay: float = 0.8,
        auto: bool = False,
    ) -> None:
        self.out = out
        self.settings = settings
        self.delay = delay
        self.web = settings.web.enabled
        # Without the web nobody could take a key, so the pretend member is always on there.
        self.auto = bool(auto) or not self.web
        self.shared = any(cab.kind == "shared_door" for cab in settings.cabinets)
        self.ledger = open_ledger(settings)
        self.sims: list[Simulator] = []
        self.settled = asyncio.Event()
        self.panel: SimPanel | None = None
        self.service: WebService | None = None
        self.base: str | None = None  # the web pages' URL, once they are served
        # The kiosk's lines wait until the banner (URLs first) has been printed.
        self._held: list[str] | None = [] if self.web else None

    def _screen(self, text: str) -> None:
        if self._held is None:
            self.out(text)
        else:
            self._held.append(text)

    def _release_screen(self) -> None:
        held, self._held = self._held or [], None
        for text in held:
            self.out(text)

    async def plug_in(self) -> Kiosk:
        """Start one simulator per cabinet, as the ledger last saw it, and the daemon on them."""
        states = self.ledger.load_lockers()
        cabinets = []
        for index, cab in enumerate(self.settings.cabinets):
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
            sim.member = DemoMember(sim, self._returning(index))
            sim.auto = self.delay if self.auto else None
            self.sims.append(sim)
            cabinets.append(dataclasses.replace(cab, port=await sim.start_pty()))
        self.settings = dataclasses.replace(self.settings, cabinets=tuple(cabinets))
        # The daemon of `lockerkey run`, with this console as its reader.
        self.daemon = Daemon(
            self.settings,
            self.ledger,
            build_cabinets(self.settings),
            [],
            TerminalDisplay(self.settings.language, self._screen),
        )
        self.kiosk = self.daemon.kiosk
        self.typed = self.kiosk.intake("console")
        self.kiosk.listeners.append(lambda _step: self._note())
        from lockerkey.sync.schedule import attach_sync  # noqa: PLC0415

        self.sync = attach_sync(self.daemon)
        if self.web:
            self._attach_web()
        return self.kiosk

    def _attach_web(self) -> None:
        from lockerkey.web.server import attach  # noqa: PLC0415
        from lockerkey.web.sim import PanelCabinet, SimPanel, routes, sample_cards  # noqa: PLC0415

        self.panel = SimPanel(
            [PanelCabinet(c, s) for c, s in zip(self.settings.cabinets, self.sims, strict=True)],
            self.kiosk.intake("sim-panel"),
            sample_cards(sample_members()),
            auto_delay=self.delay,
        )
        self.service = attach(self.daemon, extra_routes=routes(self.panel))

    def _returning(self, cabinet: int) -> Callable[[], int | None]:
        """The slot (in ``cabinet``) of the key the kiosk is taking back now, if any."""

        def slot() -> int | None:
            view = self.kiosk.engine.view()
            if view.phase is not Phase.RETURN_KEY or view.locker is None:
                return None
            spec = self.kiosk.layout.lockers[view.locker]
            return spec.slot if spec.cabinet == cabinet else None

        return slot

    def set_auto(self, on: bool) -> None:
        """Turn the pretend member on or off (the panel's toggle does the same)."""
        for sim in self.sims:
            sim.auto = self.delay if on else None

    def _note(self) -> None:
        if self.kiosk.engine.phase in WAITING:
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
            self.out(help_text(self.shared, self.base))
        elif word == "/select":
            self.kiosk.emit(Select(arg.strip()))
        elif word == "/cancel":
            self.kiosk.emit(Cancel())
        elif word == "/auto" and arg.strip() in ("on", "off"):
            self.set_auto(arg.strip() == "on")
            self.out(f"    pretend member {arg.strip()}")
        elif word == "/misplace":
            for sim in self.sims:
                if sim.member is not None:
                    sim.member.misplace_next = True
        elif word == "/status":
            await self.print_status()
        elif word == "/sync":
            await self.sync_now()
        else:
            # Typed codes pass the reader's gate; the tour repeats cards on purpose.
            (self.typed if typed else self.kiosk.scan)(line)
        return True

    async def sync_now(self) -> None:
        """Run the demo's CSV sync now and say what it did."""
        from lockerkey.sync.schedule import SyncBusy  # noqa: PLC0415

        try:
            done = await self.sync.run_now("manual")
        except SyncBusy as err:
            self.out(f"    {err}")
            return
        if not done.ok:
            self.out(f"    sync failed: {done.error}")
            return
        c = done.counts
        self.out(
            f"    sync: {c.get('members_read', 0)} member rows read"
            f" ({c.get('bad_rows', 0)} skipped, see sync_report.csv),"
            f" {c.get('rentals_appended', 0)} rentals appended and"
            f" {c.get('rentals_updated', 0)} updated in {self.settings.sync.rentals_csv}"
        )

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
        """A short story: refusals, rentals, a busy machine, a return (pretend member on)."""
        was = [sim.auto for sim in self.sims]
        self.set_auto(True)
        try:
            for line in TOURS["shared_door" if self.shared else "per_slot"].split():
                await self.act(line.removesuffix("&").replace(":", " "), typed=False)
                if not line.endswith("&"):
                    await self.settle()
        finally:
            for sim, auto in zip(self.sims, was, strict=True):
                sim.auto = auto

    async def _console(self) -> None:
        async for line in lines():
            if not await self.act(line.strip()):
                return
            if self.web:
                # A person in the panel may take minutes: only wait until the line is handled.
                await self.kiosk.queue.join()
            else:
                await self.settle()

    async def _web_port(self, runner: asyncio.Task[None]) -> int | None:
        """The web server's port once it listens (None if it did not start in time)."""
        assert self.service is not None
        loop = asyncio.get_running_loop()
        give_up = loop.time() + WEB_START_S
        # The service binds first thing when the daemon starts it (right after ready); it
        # offers no event, so look for the bound port.
        while self.service.port is None and not runner.done() and loop.time() < give_up:
            await asyncio.sleep(0.01)
        return self.service.port

    async def _play(self, tour: bool, interactive: bool) -> None:
        rented = await self.kiosk.db(reports.rental_count, self.ledger)
        if tour and rented:
            self.out("(the tour is skipped: this data dir already has rentals)")
        elif tour:
            self.out("--- tour: a pretend member plays it ---")
            await self.tour()
        if interactive:
            self.out(help_text(self.shared, self.base))
            await self._console()

    async def main(self, tour: bool, interactive: bool, admin: str = "") -> None:
        """Run the kiosk, the tour and/or typed input until /quit, Ctrl-D or SIGTERM."""
        kiosk = await self.plug_in()
        runner = asyncio.create_task(self.daemon.serve())
        loop = asyncio.get_running_loop()
        quitting = asyncio.Event()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, quitting.set)
        try:
            ready = asyncio.create_task(kiosk.ready.wait())
            await asyncio.wait([ready, runner], return_when=asyncio.FIRST_COMPLETED)
            if runner.done():
                await runner  # it failed: say why
            await self.settle()
            if self.web:
                self.base = base_url(self.settings, await self._web_port(runner))
                self.out(banner(self.settings, self.base, admin, self.shared))
                self._release_screen()
            play = asyncio.create_task(self._play(tour, interactive))
            stop = asyncio.create_task(quitting.wait())
            await asyncio.wait([play, stop, runner], return_when=asyncio.FIRST_COMPLETED)
            for task in (play, stop):
                task.cancel()
            if play.done() and not play.cancelled():
                await play  # it failed: say why
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGTERM)
            self.daemon.stop.set()
            await runner
            await kiosk.close()
            for sim in self.sims:
                await sim.stop()

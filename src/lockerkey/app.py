"""Wiring: settings -> engine + ledger + adapters, run as asyncio tasks in one process."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from lockerkey.cabinet.base import CabinetError, CabinetLink, CommandRefused
from lockerkey.cabinet.serial_link import SerialCabinet
from lockerkey.config import Settings
from lockerkey.core import rules
from lockerkey.core.engine import Engine
from lockerkey.core.events import Event, Notice, Now, Scan, Step, Tick, Unlock, UnlockRefused
from lockerkey.core.layout import CabinetSpec, Layout, LockerSpec, Policy, ZoneRule
from lockerkey.core.messages import render
from lockerkey.core.state import View
from lockerkey.store.ledger import Ledger

log = logging.getLogger("lockerkey")


class Clock:
    """The real clocks: aware UTC wall time and the monotonic clock."""

    def now(self) -> Now:
        """Both clocks, read together."""
        return Now(datetime.now(UTC), time.monotonic())


class Display(Protocol):
    """Where notices go (a terminal now; the kiosk page later)."""

    def show(self, view: View, notice: Notice) -> None:
        """Show a notice in the context of the current view."""


def _print_now(text: str) -> None:
    # A screen must show a notice at once, also when stdout is a pipe or a journal.
    print(text, flush=True)  # noqa: T201


class TerminalDisplay:
    """Prints every notice in the kiosk's language, with the other language beside it."""

    def __init__(self, language: str = "ko", out: Callable[[str], None] | None = None) -> None:
        self.language = language
        self.out = out or _print_now

    def show(self, view: View, notice: Notice) -> None:
        """Print ``[phase] text / other-language text``."""
        other = "en" if self.language == "ko" else "ko"
        text = render(notice.msg, self.language, notice.params)
        extra = render(notice.msg, other, notice.params)
        mark = {"success": "✔", "error": "✖", "alert": "⚠"}.get(notice.level, "•")
        self.out(f"{mark} [{view.phase}] {text}  /  {extra}")
        if view.available:
            self.out("    " + " ".join(view.available))


def build_layout(settings: Settings) -> Layout:
    """The engine's view of the configured cabinets and zones."""
    zone_of = {n: z.name for z in settings.zones for n in z.lockers}
    cabinets = [
        CabinetSpec(i, cab.name, cab.kind, cab.lockers) for i, cab in enumerate(settings.cabinets)
    ]
    lockers = [
        LockerSpec(number, i, slot, cab.key_code(number), zone_of.get(number))
        for i, cab in enumerate(settings.cabinets)
        for slot, number in enumerate(cab.lockers, start=1)
    ]
    zones = [ZoneRule(z.name, dict(z.allow)) for z in settings.zones]
    return Layout(cabinets, lockers, zones)


def build_policy(settings: Settings) -> Policy:
    """Session rules from the settings."""
    return Policy(
        timeout_s=settings.session.timeout_s,
        selection=settings.session.selection,
        daily_limit=settings.rules.daily_limit,
        tz=settings.timezone,
    )


def build_cabinets(settings: Settings) -> list[CabinetLink]:
    """One serial link per [[cabinet]], each mapped to its own lockers in slot order."""
    return [
        SerialCabinet(
            i, cab.name, cab.port, len(cab.lockers), cab.kind == "shared_door", cab.baudrate
        )
        for i, cab in enumerate(settings.cabinets)
    ]


def open_ledger(settings: Settings) -> Ledger:
    """Open and migrate the ledger, and record the configured lockers in it."""
    ledger = Ledger.open(settings.db_path, settings.device_id)
    ledger.sync_layout(build_layout(settings))
    return ledger


class Kiosk:
    """Feeds events to the engine one at a time; commits its writes, then sends its commands."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        cabinets: Sequence[CabinetLink],
        display: Display,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.ledger = ledger
        self.cabinets = list(cabinets)
        self.display = display
        self.clock = clock or Clock()
        self.layout = build_layout(settings)
        self.engine = Engine(
            self.layout,
            build_policy(settings),
            lambda: str(uuid.uuid4()),
            ledger.load_lockers(),
            ledger.load_unresolved(self.layout),
        )
        self.queue: asyncio.Queue[Event] = asyncio.Queue()
        self.listeners: list[Callable[[Step], None]] = []

    def emit(self, event: Event) -> None:
        """Queue an event from any adapter (never blocks)."""
        self.queue.put_nowait(event)

    def scan(self, code: str) -> None:
        """Queue a scan; the member lookup happens when it is handled."""
        self.emit(Scan(code))

    async def handle(self, event: Event) -> Step:
        """Run one event through the engine and carry out its Step."""
        now = self.clock.now()
        if isinstance(event, Scan) and event.member is None and rules.valid_code(event.code):
            event = Scan(event.code, self.ledger.get_member(event.code))
        step = self.engine.handle(event, now)
        await self.carry_out(step)
        return step

    async def carry_out(self, step: Step) -> None:
        """Commit the writes first (the intent is durable before any lock moves), then act."""
        self.ledger.apply(step.writes)
        for command in step.commands:
            try:
                await self.cabinets[command.cabinet].send(command)
            except CommandRefused as err:
                log.error("cabinet %d: %s", command.cabinet, err)
                self.ledger.audit("command_refused", self.clock.now().wall, error=str(err))
                if isinstance(command, Unlock):
                    self.emit(UnlockRefused(command.cabinet, command.slot, err.code))
            except CabinetError as err:
                log.error("cabinet %d: %s failed: %s", command.cabinet, command, err)
                self.ledger.audit("command_failed", self.clock.now().wall, error=str(err))
        for notice in step.notices:
            self.display.show(self.engine.view(), notice)
        for listener in self.listeners:
            listener(step)

    async def run(self, until: asyncio.Event | None = None) -> None:
        """Start the engine, the cabinet links and the daily reset; process events until told."""
        await self.carry_out(self.engine.start(self.clock.now()))
        self._reset_counts()
        stop = until or asyncio.Event()
        tasks = [
            asyncio.create_task(supervise(f"cabinet{link.index + 1}", self._link_runner(link)))
            for link in self.cabinets
        ]
        tasks.append(asyncio.create_task(supervise("midnight", self._midnight)))
        tasks.append(asyncio.create_task(self._wake_on(stop)))
        try:
            while not stop.is_set():
                event, queued = await self._next_event()
                try:
                    if not stop.is_set():
                        await self.handle(event)
                finally:
                    if queued:
                        self.queue.task_done()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _link_runner(self, link: CabinetLink) -> Callable[[], Awaitable[None]]:
        return lambda: link.run(self.emit)

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.emit(Tick())  # unblocks the event loop so it sees ``stop``

    async def _next_event(self) -> tuple[Event, bool]:
        """The next queued event, or a Tick when the engine's next deadline comes first."""
        wake = self.engine.next_wakeup()
        delay = None if wake is None else max(0.0, wake - self.clock.now().mono)
        try:
            # Queue.get is cancel-safe: an item is only removed when get() returns it.
            async with asyncio.timeout(delay):
                return await self.queue.get(), True
        except TimeoutError:
            return Tick(), False

    def _reset_counts(self) -> None:
        now = self.clock.now().wall
        self.ledger.reset_daily_counts(rules.local_day_start(now, self.settings.timezone))

    async def _midnight(self) -> None:
        while True:
            now = self.clock.now().wall
            midnight = rules.next_local_midnight(now, self.settings.timezone)
            await asyncio.sleep((midnight - now).total_seconds() + 0.5)
            self._reset_counts()


async def supervise(name: str, factory: Callable[[], Awaitable[None]]) -> None:
    """Run a task forever: a crash is logged with its traceback and the task restarted."""
    backoff = 0.5
    while True:
        try:
            await factory()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("task %s crashed; restarting in %.1f s", name, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)

"""Wiring: settings -> engine + ledger + adapters, run as asyncio tasks in one process."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ParamSpec, Protocol, TypeVar

from lockerkey.cabinet.base import CabinetError, CabinetLink, CommandRefused
from lockerkey.cabinet.serial_link import SerialCabinet
from lockerkey.config import Settings
from lockerkey.core import ops, rules
from lockerkey.core.engine import Engine
from lockerkey.core.events import (
    Event,
    LockAll,
    Notice,
    Now,
    Scan,
    Shutdown,
    Step,
    Tick,
    Unlock,
    UnlockRefused,
)
from lockerkey.core.layout import CabinetSpec, Layout, LockerSpec, Policy, ZoneRule
from lockerkey.core.messages import render
from lockerkey.core.scans import FLOOD_LIMIT, REPEAT_WINDOW_S, ScanGate, Verdict
from lockerkey.core.state import View
from lockerkey.logs import Personal
from lockerkey.store.ledger import Ledger, LedgerError
from lockerkey.tasks import sleep_until, supervise

log = logging.getLogger("lockerkey.kiosk")
P = ParamSpec("P")
R = TypeVar("R")


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


@dataclass(frozen=True)
class AuditNote:
    """An adapter's event for the audit log, written in order with the engine's writes."""

    kind: str
    details: dict[str, object]


@dataclass(frozen=True)
class Request:
    """An event whose sender waits for its Step (the web API, the admin console)."""

    event: Event
    done: asyncio.Future[Step]


Item = Event | AuditNote | Request


# A stop must not hang on a cabinet that does not answer: lock_all gets this long in all.
SHUTDOWN_BUDGET_S = 3.0


class Kiosk:
    """Feeds events to the engine one at a time; commits its writes, then sends its commands.

    The ledger is used from one worker thread only, so a slow disk (an fsync on an SD card,
    a backup) never stalls the event loop; the engine itself is pure and fast.
    """

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
        self.engine = self._new_engine()
        self.queue: asyncio.Queue[Item] = asyncio.Queue()
        self.listeners: list[Callable[[Step], None]] = []
        self.ready = asyncio.Event()  # set once every cabinet has reported its status
        self.restarts = 0  # engine reloads after a failure, for status and tests
        self._gates: dict[str, ScanGate] = {}
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")

    def _new_engine(self) -> Engine:
        return Engine(
            self.layout,
            build_policy(self.settings),
            lambda: str(uuid.uuid4()),
            self.ledger.load_lockers(),
            self.ledger.load_unresolved(self.layout),
        )

    async def db(self, func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a ledger call on the ledger's own thread and wait for it without blocking."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, functools.partial(func, *args, **kwargs))

    async def close(self) -> None:
        """Close the ledger (checkpointing it) and stop its thread."""
        try:
            await self.db(self.ledger.close)
        finally:
            self._db.shutdown(wait=True)

    # ---- intake ------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        """Queue an event from any adapter (never blocks)."""
        self.queue.put_nowait(event)

    def note(self, kind: str, **details: object) -> None:
        """Queue an audit event from an adapter (never blocks)."""
        self.queue.put_nowait(AuditNote(kind, details))

    async def submit(self, event: Event) -> Step:
        """Queue an event and wait until it is handled; its Step says what came of it.

        Raises ``KioskUnavailable`` when the kiosk failed on it (and reloaded) or is stopping.
        """
        done: asyncio.Future[Step] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait(Request(event, done))
        return await done

    def scan(self, code: str) -> None:
        """Queue a scan as it is; the member lookup happens when it is handled."""
        self.emit(Scan(code))

    def intake(self, reader: str) -> Callable[[str], None]:
        """The ``emit`` for one reader: double-fires count once, floods are throttled."""
        gate = self._gates.setdefault(reader, ScanGate())

        def take(code: str) -> None:
            gated = gate.check(code, self.clock.now().mono)
            if gated.flood_began:
                log.warning(
                    "%s: more than %d codes a second: dropping codes until it calms down",
                    reader,
                    FLOOD_LIMIT,
                )
            if gated.flood_ended:
                log.warning("%s: flood over; %d codes were dropped", reader, gated.flood_ended)
                self.note("scan_flood", reader=reader, dropped=gated.flood_ended)
            if gated.verdict is Verdict.ACCEPT:
                self.scan(code)
            elif gated.verdict is Verdict.REPEAT:
                log.debug("%s: %r again within %.1f s: counted once", reader, code, REPEAT_WINDOW_S)

        return take

    # ---- one event ---------------------------------------------------------------------------

    async def handle(self, event: Event) -> Step:
        """Run one event through the engine and carry out its Step."""
        if isinstance(event, Scan) and event.member is None and rules.valid_code(event.code):
            member = await self.db(self.ledger.get_member, event.code)
            event = Scan(event.code, member)
        step = self.engine.handle(event, self.clock.now())
        await self.carry_out(step, event)
        return step

    async def carry_out(self, step: Step, event: Event | None = None) -> None:
        """Commit the writes first (the intent is durable before any lock moves), then act,
        then show; the log lines for ``event`` and its step come last."""
        if step.writes:
            await self.db(self.ledger.apply, step.writes)
        for command in step.commands:
            try:
                await self.cabinets[command.cabinet].send(command)
            except CommandRefused as err:
                log.error("cabinet %d: %s", command.cabinet, err)
                if isinstance(command, Unlock):
                    # The engine ends the step and audits it as unlock_refused: once is enough.
                    self.emit(UnlockRefused(command.cabinet, command.slot, err.code))
                else:
                    await self._audit("command_refused", error=str(err))
            except CabinetError as err:
                log.error("cabinet %d: %s failed: %s", command.cabinet, command, err)
                await self._audit("command_failed", error=str(err))
        view = self.engine.view()
        for notice in step.notices:
            self.display.show(view, notice)
        if len(self.engine.online) == len(self.cabinets):
            self.ready.set()
        for listener in self.listeners:
            listener(step)
        # Formatting and writing log lines costs more than the engine and the commit together
        # (README, Performance), so nobody at the cabinet waits for it.
        _log_step(step, event, view.phase)

    async def _audit(self, kind: str, **details: object) -> None:
        await self.db(self.ledger.audit, kind, self.clock.now().wall, **details)

    async def _process(self, item: Item) -> bool:
        """Handle one queued item; a failure reloads the engine from the ledger (False)."""
        waiter = item.done if isinstance(item, Request) else None
        try:
            if isinstance(item, AuditNote):
                await self._audit(item.kind, **item.details)
            elif isinstance(item, Request):
                step = await self.handle(item.event)
                if not item.done.done():
                    item.done.set_result(step)
            else:
                await self.handle(item)
        except LedgerError as err:
            log.error("ledger write failed (%s); reloading the kiosk from the ledger", err)
            _fail(waiter, "the ledger write failed")
            await self._reload()
            return False
        except Exception:
            log.exception("the engine failed on %s; reloading it from the ledger", item)
            _fail(waiter, "the kiosk failed on this request")
            await self._reload()
            return False
        return True

    async def _reload(self) -> None:
        """Start over from the last commit, as after a restart; the cabinets' status decides.

        A ledger that cannot even be read now is unusable: that LedgerError ends the daemon.
        """
        self.restarts += 1
        self.engine = await self.db(self._new_engine)
        await self.carry_out(self.engine.start(self.clock.now()))
        for link in self.cabinets:
            link.refresh()

    # ---- the loop ----------------------------------------------------------------------------

    async def run(self, until: asyncio.Event | None = None) -> None:
        """Run the engine, the cabinet links and the daily reset until told; then shut down."""
        await self.carry_out(self.engine.start(self.clock.now()))
        await self.db(self._reset_counts)
        stop = until or asyncio.Event()
        tasks = [
            asyncio.create_task(
                supervise(f"cabinet{link.index + 1}", functools.partial(link.run, self.emit))
            )
            for link in self.cabinets
        ]
        tasks.append(asyncio.create_task(supervise("midnight", self._midnight)))
        tasks.append(asyncio.create_task(self._wake_on(stop)))
        try:
            while not stop.is_set():
                item, queued = await self._next_event()
                try:
                    if not stop.is_set():
                        await self._process(item)
                    elif isinstance(item, Request):
                        _fail(item.done, "the kiosk is stopping")
                finally:
                    if queued:
                        self.queue.task_done()
            await self._shut_down()
            while not self.queue.empty():
                left = self.queue.get_nowait()
                if isinstance(left, Request):
                    _fail(left.done, "the kiosk is stopping")
                self.queue.task_done()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _shut_down(self) -> None:
        """End the session safely and lock every cabinet, within SHUTDOWN_BUDGET_S."""
        try:
            async with asyncio.timeout(SHUTDOWN_BUDGET_S):
                if not await self._process(Shutdown()):
                    # The stop step itself failed: lock up anyway, nothing else matters now.
                    for link in self.cabinets:
                        with contextlib.suppress(CabinetError):
                            await link.send(LockAll(link.index))
        except TimeoutError:
            log.error("stopping: a cabinet did not confirm lock_all in time")

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.emit(Tick())  # unblocks the event loop so it sees ``stop``

    async def _next_event(self) -> tuple[Item, bool]:
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
            await sleep_until(rules.next_local_midnight(now, self.settings.timezone))
            await self.db(self._reset_counts)


class KioskUnavailable(RuntimeError):
    """A submitted event was not handled: the kiosk failed on it or is stopping."""


def _fail(waiter: asyncio.Future[Step] | None, why: str) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_exception(KioskUnavailable(why))


# Audit kinds that the log already says in other words (the event or the screen line).
QUIET_AUDITS = frozenset({"message", "scan"})


def _log_step(step: Step, event: Event | None, phase: str) -> None:
    """The log lines of one handled event: the event, its audits, what the screen said."""
    if event is not None:
        _log_event(event)
    for op in step.writes:
        if isinstance(op, ops.Audit) and op.kind not in QUIET_AUDITS:
            _log_audit(op)
    for notice in step.notices:
        params = f" {dict(notice.params)}" if notice.params else ""
        log.info("screen [%s] %s%s", phase, notice.msg, params)


def _log_audit(op: ops.Audit) -> None:
    """The ledger's audit event as a log line: what happened, to whom, where."""
    who = f" member {op.member_id}" if op.member_id else ""
    where = f" locker {op.locker}" if op.locker else ""
    details = "".join(f" {k}={v}" for k, v in op.details.items() if v is not None)
    log.info("event %r%s%s%s", op.kind, who, where, details)


def _log_event(event: Event) -> None:
    """A scan's log line; sensor and link events are logged as the engine audits them."""
    match event:
        case Scan(code=code, member=member) if member is not None:
            log.info("scan %r: member %s (%s)", code, member.member_id, Personal(member.name))
        case Scan(code=code):
            log.info("scan %r", code)

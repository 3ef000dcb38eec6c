"""``lockerkey run``: readers, cabinet links, engine and timers in one asyncio process.

Startup: take the run lock, open the logs and the ledger, connect the cabinets and recover
from their status, then start reading scans. SIGTERM or SIGINT ends the session safely, locks
every cabinet, closes the ledger and exits 0. A crashed reader, link or timer is logged and
restarted; only a broken config or an unusable ledger ends the process.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from lockerkey import __version__
from lockerkey.app import Display, Kiosk, TerminalDisplay, build_cabinets, open_ledger
from lockerkey.cabinet.base import CabinetLink
from lockerkey.config import Settings
from lockerkey.config_daemon import ScannerSettings
from lockerkey.core import rules
from lockerkey.logs import setup_logging
from lockerkey.readers.base import Reader, ReaderError
from lockerkey.runlock import AlreadyRunning, RunLock
from lockerkey.store.backup import BackupError, take_backup
from lockerkey.store.ledger import Ledger, LedgerError, sqlite_version
from lockerkey.tasks import sleep_until, supervise

log = logging.getLogger("lockerkey.daemon")

# How long startup waits for every cabinet's status before taking scans anyway (the kiosk
# then shows out-of-service for the missing ones until they answer).
READY_WAIT_S = 10.0
# The loop watchdog: a callback that holds the loop longer than this is a bug worth a warning.
LAG_BUDGET_S = 0.05
LAG_EVERY_S = 0.1


def build_reader(scanner: ScannerSettings) -> Reader | None:
    """The reader one [scanner] table describes (None for kind = "none")."""
    if scanner.kind == "serial":
        from lockerkey.readers.serial import SerialReader  # noqa: PLC0415

        return SerialReader(scanner.name, scanner.port, scanner.baudrate)
    if scanner.kind == "evdev":
        if importlib.util.find_spec("evdev") is None:
            raise ReaderError(
                f'{scanner.name}: kind = "evdev" needs python-evdev: on Raspberry Pi OS'
                " `sudo apt install python3-evdev` (and a venv made with"
                " --system-site-packages), or `pip install 'lockerkey[evdev]'` with gcc and"
                " the Python headers installed"
            )
        from lockerkey.readers.evdev import EvdevReader  # noqa: PLC0415

        return EvdevReader(scanner.name, scanner.device)
    if scanner.kind == "stdin":
        from lockerkey.readers.stdin import StdinReader  # noqa: PLC0415

        return StdinReader(scanner.name)
    return None


class Daemon:
    """The kiosk with its readers and timers, ready to serve until stopped."""

    def __init__(
        self,
        settings: Settings,
        ledger: Ledger,
        links: Sequence[CabinetLink],
        readers: Sequence[Reader],
        display: Display,
    ) -> None:
        self.settings = settings
        self.kiosk = Kiosk(settings, ledger, links, display)
        self.readers = list(readers)
        self.stop = asyncio.Event()
        # Where the web UI and the Sheets sync plug in: long-running coroutines, each started
        # once the kiosk is ready, supervised like the readers. They reach the kiosk through
        # ``kiosk.emit``/``kiosk.note`` (events in), ``kiosk.listeners`` (each Step out) and
        # ``kiosk.db`` (the ledger, on its own thread).
        self.services: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        # "Run a sync now" for the console, set when a sync backend is configured.
        self.sync_now: Callable[[], Awaitable[None]] | None = None

    async def serve(self) -> None:
        """Run until ``stop`` is set; then shut down cleanly (LedgerError if it is unusable)."""
        kiosk = self.kiosk
        runner = asyncio.create_task(kiosk.run(self.stop))
        helpers = [
            asyncio.create_task(supervise("backup", self._daily_backups)),
            asyncio.create_task(supervise("loop-watch", watch_loop)),
        ]
        readers: list[asyncio.Task[None]] = []
        try:
            ready = asyncio.create_task(kiosk.ready.wait())
            await asyncio.wait([ready, runner], timeout=READY_WAIT_S, return_when="FIRST_COMPLETED")
            ready.cancel()
            if runner.done():
                await runner  # it failed at startup: say why
                return
            self._log_ready()
            readers = [
                asyncio.create_task(
                    supervise(r.name, functools.partial(r.run, kiosk.intake(r.name)))
                )
                for r in self.readers
            ]
            readers += [asyncio.create_task(supervise(n, f)) for n, f in self.services]
            # Stop taking scans as soon as the stop is asked, before the kiosk shuts down.
            stopping = asyncio.create_task(self.stop.wait())
            await asyncio.wait([runner, stopping], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            for task in readers:
                task.cancel()
            await runner
        finally:
            for task in readers + helpers:
                task.cancel()
            runner.cancel()
            await asyncio.gather(*readers, *helpers, runner, return_exceptions=True)

    def _log_ready(self) -> None:
        settings = self.settings
        online = sorted(self.kiosk.engine.online)
        names = [cab.name for cab in settings.cabinets]
        missing = [n for i, n in enumerate(names) if i not in online]
        log.info(
            "lockerkey %s ready (Python %s, SQLite %s): config %s, data %s, %d lockers in %d"
            " cabinet(s)%s, readers: %s",
            __version__,
            sys.version.split()[0],
            sqlite_version(),
            settings.source or "(built in)",
            settings.data_dir,
            len(settings.all_lockers()),
            len(names),
            f"; not answering yet: {', '.join(missing)}" if missing else "",
            ", ".join(r.name for r in self.readers) or "none",
        )

    async def _daily_backups(self) -> None:
        at = self.settings.backup.at()
        if at is None:
            return  # [backup] time = "": daily backups are off
        while True:
            due = rules.next_local_time(datetime.now(UTC), *at, self.settings.timezone)
            await sleep_until(due)
            await self.backup_now()

    async def backup_now(self) -> None:
        """Take a checked backup on a thread of its own; rentals go on meanwhile."""
        s = self.settings
        try:
            done = await asyncio.to_thread(
                take_backup, s.db_path, s.backup_dir, s.backup.keep, datetime.now(UTC)
            )
        except BackupError as err:
            log.error("backup failed: %s", err)
            self.kiosk.note("backup_failed", error=str(err))
            return
        log.info("backup written: %s (%d bytes, checked)", done.path, done.size)
        self.kiosk.note("backup", path=str(done.path), size=done.size)


async def watch_loop(every: float = LAG_EVERY_S, budget: float = LAG_BUDGET_S) -> None:
    """Warn when the event loop was held up past its budget (a blocking call slipped in).

    The first hold-up is said at once, later ones at most once a minute with the worst seen.
    """
    loop = asyncio.get_running_loop()
    worst = 0.0
    said: float | None = None
    while True:
        before = loop.time()
        await asyncio.sleep(every)
        worst = max(worst, loop.time() - before - every)
        if worst > budget and (said is None or loop.time() - said >= 60.0):
            log.warning("the event loop was held up for %.0f ms", worst * 1000)
            worst, said = 0.0, loop.time()


def run_daemon(settings: Settings) -> int:
    """``lockerkey run``: serve until SIGTERM/SIGINT; 0 on a clean stop, 1 if it cannot run."""
    lock = RunLock(settings.data_dir)
    try:
        lock.acquire()
    except AlreadyRunning as err:
        print(f"lockerkey: {err}", file=sys.stderr)  # noqa: T201
        return 1
    except OSError as err:
        print(f"lockerkey: {lock.path}: cannot take the run lock: {err.strerror}", file=sys.stderr)  # noqa: T201
        return 1
    try:
        setup_logging(settings)
        if settings.session.selection == "choose" and not settings.web.enabled:
            log.warning(
                'session.selection = "choose" needs the kiosk screen, and [web] enabled = false:'
                " members cannot pick a locker, so every rental will time out; use selection ="
                ' "auto" or enable the web page'
            )
        try:
            ledger = open_ledger(settings)
        except LedgerError as err:
            log.critical("cannot use the ledger: %s", err)
            return 1
        try:
            readers = [r for r in map(build_reader, settings.scanners) if r is not None]
        except ReaderError as err:
            log.critical("%s", err)
            return 1
        daemon = Daemon(
            settings, ledger, build_cabinets(settings), readers, TerminalDisplay(settings.language)
        )
        if settings.sync.backend != "none":
            from lockerkey.sync.schedule import attach_sync  # noqa: PLC0415

            attach_sync(daemon)
        if settings.web.enabled:
            from lockerkey.web.server import attach  # noqa: PLC0415

            attach(daemon)
        return asyncio.run(_main(daemon))
    finally:
        lock.release()


async def _main(daemon: Daemon) -> int:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.stop.set)
    try:
        await daemon.serve()
    except LedgerError as err:
        log.critical("the ledger became unusable: %s; stopping", err)
        return 1
    finally:
        await daemon.kiosk.close()
    log.info("stopped: every cabinet locked, ledger closed")
    return 0

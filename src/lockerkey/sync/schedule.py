"""When syncs run: at the configured local times, once at startup to catch up, and on demand;
never two at once (in this process or with a ``lockerkey sync`` beside it)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo

from lockerkey.config import Settings
from lockerkey.core import rules
from lockerkey.daemon import Daemon
from lockerkey.runlock import AlreadyRunning, RunLock
from lockerkey.store import sync_store
from lockerkey.store.ledger import Ledger
from lockerkey.sync.backend import SyncError
from lockerkey.sync.runner import Outcome, make_backend, run_sync
from lockerkey.tasks import sleep_until

log = logging.getLogger("lockerkey.sync")

SYNC_LOCK = "sync.lock"


class SyncBusy(Exception):
    """A sync is already running (here, or as another process on the same data)."""


def last_slot(now: datetime, times: list[tuple[int, int]], tz: tzinfo) -> datetime | None:
    """The most recent scheduled time at or before ``now`` (None without times)."""
    if not times:
        return None
    day_ago = now - timedelta(days=1)
    slots = [rules.next_local_time(day_ago, h, m, tz) for h, m in times]
    # Each is within (now - 1 day, now + ...]: step back a day where it is still ahead.
    past = [s if s <= now else s - timedelta(days=1) for s in slots]
    return max(past)


def missed(
    last_success: datetime | None, now: datetime, times: list[tuple[int, int]], tz: tzinfo
) -> bool:
    """Whether a scheduled run was missed since the last success (one catch-up, no replay)."""
    slot = last_slot(now, times, tz)
    if last_success is None:
        return True
    return slot is not None and slot > last_success


def sync_once(settings: Settings, trigger: str, now: Callable[[], datetime]) -> Outcome:
    """One whole run on this thread, with its own ledger connection and the sync lock."""
    lock = RunLock(settings.data_dir, SYNC_LOCK)
    try:
        lock.acquire()
    except AlreadyRunning as err:
        holder = f" (pid {err.pid})" if err.pid else ""
        raise SyncBusy(f"a sync is already running{holder}") from err
    try:
        ledger = Ledger.open(settings.db_path, settings.device_id)
        try:
            try:
                backend = make_backend(settings)
            except SyncError as err:  # e.g. credentials refused: still a run, recorded
                return record_failure(settings, ledger, trigger, str(err), now)
            try:
                return run_sync(settings, ledger, backend, trigger, now)
            finally:
                backend.close()
        finally:
            ledger.close()
    finally:
        lock.release()


def record_failure(
    settings: Settings, ledger: Ledger, trigger: str, error: str, now: Callable[[], datetime]
) -> Outcome:
    """A run that could not even start, in ``sync_runs`` and the log like any other."""
    run_id = sync_store.start_run(ledger, trigger, settings.sync.backend, now())
    sync_store.finish_run(
        ledger, run_id, now(), status="failed", counts={}, api_calls=0, error=error
    )
    log.error("sync run %d failed: %s", run_id, error)
    return Outcome(run_id, ok=False, error=error)


class SyncService:
    """The daemon's sync: scheduled, caught up at startup, and "run now" from the console."""

    def __init__(self, settings: Settings, now: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.now = now or (lambda: datetime.now(UTC))
        self._lock = asyncio.Lock()
        self.last: Outcome | None = None

    async def run_now(self, trigger: str = "manual") -> Outcome:
        """Run a sync on a thread (the kiosk goes on); SyncBusy if one is running."""
        if self._lock.locked():
            raise SyncBusy("a sync is already running")
        async with self._lock:
            self.last = await in_daemon_thread(sync_once, self.settings, trigger, self.now)
            return self.last

    async def serve(self) -> None:
        """Catch up once if a slot was missed, then run at every configured time."""
        settings = self.settings
        times = settings.sync.clock_times()
        last = await asyncio.to_thread(_last_success, settings)
        if missed(last, self.now(), times, settings.timezone):
            await self._run("startup")
        while times:
            now = self.now()
            due = min(rules.next_local_time(now, h, m, settings.timezone) for h, m in times)
            await sleep_until(due)
            await self._run("schedule")

    async def _run(self, trigger: str) -> None:
        try:
            await self.run_now(trigger)
        except (SyncBusy, SyncError) as err:
            log.warning("sync (%s) not run: %s", trigger, err)


def _last_success(settings: Settings) -> datetime | None:
    ledger = Ledger.open(settings.db_path, settings.device_id)
    lock = RunLock(settings.data_dir, SYNC_LOCK)
    try:
        try:
            lock.acquire()
        except AlreadyRunning:
            pass  # a `lockerkey sync` is running: its run is not stale
        else:
            try:
                # Nobody syncs now, so a run still marked running was cut short by a crash.
                sync_store.fail_stale_runs(ledger, datetime.now(UTC))
            finally:
                lock.release()
        return sync_store.last_success(ledger)
    finally:
        ledger.close()


async def in_daemon_thread(
    func: Callable[[Settings, str, Callable[[], datetime]], Outcome],
    settings: Settings,
    trigger: str,
    now: Callable[[], datetime],
) -> Outcome:
    """Run a sync on a thread of its own that a stopping daemon does not wait for.

    A sync stuck in Google's retries must not hold up SIGTERM (asyncio.run would join the
    default executor's threads). Cut short, its transaction rolls back, the sheet write is
    reconciled by transaction_id next time, and the run is marked failed at the next start.
    """
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Outcome] = loop.create_future()

    def settle(result: Outcome | None, error: BaseException | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result, error = func(settings, trigger, now), None
        except Exception as err:  # noqa: BLE001 - handed to the waiting coroutine as it is
            result, error = None, err
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody waits any more
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=work, name="sync", daemon=True).start()
    return await done


def attach_sync(daemon: Daemon) -> SyncService:
    """Give a daemon its sync: the scheduled service and the console's "run now"."""
    service = SyncService(daemon.settings)

    async def from_console() -> None:
        outcome = await service.run_now("manual")
        if not outcome.ok:
            raise SyncError(outcome.error or "the sync failed")

    daemon.services.append(("sync", service.serve))
    daemon.sync_now = from_console
    return service

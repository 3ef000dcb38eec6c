"""The Kiosk's loop: the ledger on its own thread, recovery from a failing engine or ledger,
the scan gate at the intake, and a stop in the middle of a rental."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lockerkey.app import Kiosk, TerminalDisplay, build_cabinets, open_ledger
from lockerkey.cabinet.base import CommandRefused, Emit
from lockerkey.cabinet.controller import Controller
from lockerkey.cabinet.simulator import Simulator
from lockerkey.core import ops
from lockerkey.core.events import (
    Command,
    KeySensed,
    Lock,
    LockAll,
    Now,
    Scan,
    Snapshot,
    Step,
    Unlock,
)
from lockerkey.core.state import Phase
from lockerkey.store import ledger as ledger_module
from lockerkey.store import reports
from lockerkey.store.ledger import Ledger, LedgerError
from tests.conftest import add_members
from tests.live import eventually, site_settings

SLOTS = 4


class Records(logging.Handler):
    """The kiosk's log records, caught on the "lockerkey" logger itself (not via the root)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def messages(self, level: int = logging.DEBUG) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno >= level]


@pytest.fixture
def kiosk_log() -> Iterator[Records]:
    logger = logging.getLogger("lockerkey")
    handler = Records()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


class ShiftedClock:
    """The real clocks, with a monotonic offset the test moves on (for the scan gate)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> Now:
        return Now(datetime.now(UTC), time.monotonic() + self.offset)


class FakeCabinet:
    """A controller that reports all keys in and does what it is told, instantly."""

    def __init__(self, index: int = 0, slots: int = SLOTS) -> None:
        self.index = index
        self.slots = slots
        self.keys = dict.fromkeys(range(1, slots + 1), True)
        self.commands: list[Command] = []
        self.refreshes = 0
        self.snapshots = 0
        self._emit: Emit | None = None

    def snapshot(self) -> Snapshot:
        self.snapshots += 1
        keys = "-" + "".join("1" if self.keys[s] else "0" for s in range(1, self.slots + 1))
        return Snapshot(self.index, keys, "-" * (self.slots + 1), "-" + "1" * self.slots)

    async def run(self, emit: Emit) -> None:
        self._emit = emit
        emit(self.snapshot())
        await asyncio.Event().wait()

    async def send(self, command: Command) -> None:
        self.commands.append(command)

    def refresh(self) -> None:
        self.refreshes += 1
        if self._emit is not None:
            self._emit(self.snapshot())

    def take(self, slot: int) -> None:
        assert self._emit is not None
        self.keys[slot] = False
        self._emit(KeySensed(self.index, slot, False))

    def unlocks(self) -> list[Command]:
        return [c for c in self.commands if isinstance(c, Unlock)]


@dataclass
class Fake:
    """A Kiosk on a real ledger and a FakeCabinet, running."""

    kiosk: Kiosk
    cabinet: FakeCabinet
    ledger: Ledger
    clock: ShiftedClock
    stop: asyncio.Event
    runner: asyncio.Task[None]
    steps: list[Step] = field(default_factory=list)

    def rows(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.ledger.conn.execute(sql, args)]

    async def settled(self) -> None:
        """Every queued item has been handled."""
        await asyncio.wait_for(self.kiosk.queue.join(), 10)


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[Fake]:
    settings = site_settings(tmp_path, ["fake"], SLOTS)
    ledger = open_ledger(settings)
    add_members(ledger, "M1", "M2", "M3")
    cabinet = FakeCabinet()
    clock = ShiftedClock()
    kiosk = Kiosk(settings, ledger, [cabinet], TerminalDisplay("en", lambda _: None), clock)
    stop = asyncio.Event()
    runner = asyncio.create_task(kiosk.run(stop))
    rig = Fake(kiosk, cabinet, ledger, clock, stop, runner)
    kiosk.listeners.append(rig.steps.append)
    await eventually(lambda: kiosk.engine.phase is Phase.IDLE, why="online")
    yield rig
    stop.set()
    await runner
    await kiosk.close()


def fail_once(
    when: Callable[..., bool], error: Exception, real: Callable[..., Any]
) -> Callable[..., Any]:
    """``real``, except that the first call for which ``when(*args)`` holds raises ``error``."""
    failed: list[bool] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not failed and when(*args, **kwargs):
            failed.append(True)
            raise error
        return real(*args, **kwargs)

    return wrapper


# ---- (a) the ledger's own thread ---------------------------------------------------------------


async def test_the_ledger_is_only_used_from_its_own_thread(tmp_path: Path) -> None:
    sim = Simulator(Controller(SLOTS, False, rng=random.Random(5)), seed=5)
    await sim.start_pty(tmp_path / "cabinet1")
    settings = site_settings(tmp_path, [sim.url], SLOTS)
    ledger = open_ledger(settings)
    add_members(ledger, "M1")
    kiosk = Kiosk(settings, ledger, build_cabinets(settings), TerminalDisplay("en", lambda _: None))
    used: list[tuple[str, str]] = []
    for name in (
        "apply",
        "get_member",
        "audit",
        "load_lockers",
        "load_unresolved",
        "reset_daily_counts",
    ):
        real = getattr(ledger, name)

        def recording(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            used.append((_name, threading.current_thread().name))
            return _real(*args, **kwargs)

        setattr(ledger, name, recording)
    loop_thread = threading.current_thread().name
    stop = asyncio.Event()
    runner = asyncio.create_task(kiosk.run(stop))
    try:
        await eventually(lambda: kiosk.engine.phase is Phase.IDLE, why="online")
        kiosk.scan("M1")  # a rental and its return: lookups, commits, audits
        await eventually(lambda: kiosk.engine.phase is Phase.TAKE_KEY)
        locker = kiosk.engine.session.locker  # type: ignore[union-attr]
        slot = kiosk.layout.lockers[locker].slot
        await eventually(lambda: not sim.controller.is_locked(slot), why="unlocked")
        sim.take(slot)
        await eventually(lambda: kiosk.engine.lockers[locker].holder is not None)
        kiosk.scan(f"KEY-{locker}")
        await eventually(lambda: not sim.controller.is_locked(slot), why="unlocked for return")
        sim.insert(slot)
        await eventually(lambda: kiosk.engine.lockers[locker].holder is None)
        # A reload after an engine failure reads the ledger again: on its thread too.
        engine = kiosk.engine
        engine.handle = fail_once(  # type: ignore[method-assign]
            lambda event, now: isinstance(event, Scan), RuntimeError("boom"), engine.handle
        )
        kiosk.scan("M1")
        await eventually(lambda: kiosk.restarts == 1 and kiosk.engine.phase is Phase.IDLE)
    finally:
        stop.set()
        await runner
        await kiosk.close()
        await sim.stop()
    names = {name for _, name in used}
    assert {"apply", "get_member", "load_lockers", "load_unresolved", "reset_daily_counts"} <= {
        what for what, _ in used
    }
    assert not loop_thread.startswith("ledger")
    assert all(name.startswith("ledger") for name in names), used
    assert len(names) == 1  # one worker: its calls never overlap


# ---- (b) the engine failing --------------------------------------------------------------------


async def test_an_engine_failure_is_logged_reloaded_and_serving_goes_on(
    fake: Fake, kiosk_log: Records
) -> None:
    kiosk, cabinet = fake.kiosk, fake.cabinet
    broken = kiosk.engine
    real_handle = broken.handle
    broken.handle = fail_once(  # type: ignore[method-assign]
        lambda event, now: isinstance(event, Scan), RuntimeError("boom"), real_handle
    )
    refreshes, snapshots = cabinet.refreshes, cabinet.snapshots
    kiosk.scan("M1")
    await eventually(lambda: kiosk.restarts == 1, why="the engine reloaded")
    failure = [r for r in kiosk_log.records if "the engine failed on" in r.getMessage()]
    assert len(failure) == 1 and failure[0].levelno == logging.ERROR
    assert failure[0].exc_info is not None and failure[0].exc_info[0] is RuntimeError
    assert "Scan(code='M1'" in failure[0].getMessage()
    # A new engine, told the cabinet's status again.
    assert kiosk.engine is not broken
    assert cabinet.refreshes == refreshes + 1
    await eventually(lambda: kiosk.engine.phase is Phase.IDLE, why="online again")
    assert cabinet.snapshots == snapshots + 1
    assert cabinet.unlocks() == []  # the failed scan moved nothing
    # And it serves the next scan as usual.
    kiosk.scan("M1")
    await eventually(lambda: kiosk.engine.phase is Phase.TAKE_KEY, why="serving again")
    await eventually(lambda: len(cabinet.unlocks()) == 1)
    (unlock,) = cabinet.unlocks()
    cabinet.take(unlock.slot)  # type: ignore[attr-defined]
    await eventually(lambda: fake.rows("SELECT status FROM rentals") == [("active",)])
    assert kiosk.restarts == 1
    assert reports.invariant_problems(fake.ledger) == []


async def test_an_engine_failure_mid_session_leaves_it_to_the_status(fake: Fake) -> None:
    kiosk, cabinet = fake.kiosk, fake.cabinet
    kiosk.scan("M2")
    await eventually(lambda: len(cabinet.unlocks()) == 1, why="unlocked")
    (unlock,) = cabinet.unlocks()
    engine = kiosk.engine
    engine.handle = fail_once(  # type: ignore[method-assign]
        lambda event, now: isinstance(event, KeySensed), RuntimeError("sensor bug"), engine.handle
    )
    cabinet.take(unlock.slot)  # type: ignore[attr-defined]
    await eventually(lambda: kiosk.restarts == 1)
    # The reload's fresh status shows the key gone: the rental is confirmed from it.
    await eventually(lambda: fake.rows("SELECT status FROM rentals") == [("active",)])
    await eventually(lambda: kiosk.engine.phase is Phase.IDLE)
    assert reports.invariant_problems(fake.ledger) == []


# ---- (c) the ledger failing --------------------------------------------------------------------


async def test_a_failed_commit_reloads_and_sends_nothing_of_that_step(
    fake: Fake, kiosk_log: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    kiosk, cabinet = fake.kiosk, fake.cabinet
    real_apply_op = ledger_module.apply_op
    calls: list[object] = []

    def failing_after_start(conn: sqlite3.Connection, device: str, op: object) -> None:
        # The step's first writes go in (the session row among them); then one fails, as a
        # full disk would make it.
        calls.append(op)
        if isinstance(op, ops.CreatePendingRental):
            raise sqlite3.OperationalError("database or disk is full")
        real_apply_op(conn, device, op)  # type: ignore[arg-type]

    sent_before = list(cabinet.commands)
    rows_before = fake.rows("SELECT COUNT(*) FROM events")[0][0]
    original = kiosk.ledger.apply

    def apply(writes: Any) -> None:
        if any(isinstance(w, ops.StartSession) for w in writes) and not calls:
            monkeypatch.setattr(ledger_module, "apply_op", failing_after_start)
            try:
                original(writes)
            finally:
                monkeypatch.setattr(ledger_module, "apply_op", real_apply_op)
        else:
            original(writes)

    kiosk.ledger.apply = apply  # type: ignore[method-assign]
    kiosk.scan("M1")
    await eventually(lambda: kiosk.restarts == 1, why="reloaded after the failed commit")
    # It really failed half-way through the step: the session row had been written.
    kinds = [type(op) for op in calls]
    assert ops.StartSession in kinds and kinds[-1] is ops.CreatePendingRental
    assert any("ledger write failed" in m for m in kiosk_log.messages(logging.ERROR))
    await eventually(lambda: kiosk.engine.phase is Phase.IDLE)
    await fake.settled()
    # Nothing of the step was kept, and the cabinet was told nothing of it.
    assert fake.rows("SELECT COUNT(*) FROM active_transactions") == [(0,)]
    assert fake.rows("SELECT COUNT(*) FROM rentals") == [(0,)]
    assert fake.rows("SELECT COUNT(*) FROM events WHERE kind = 'session_started'") == [(0,)]
    assert fake.rows("SELECT COUNT(*) FROM events WHERE kind = 'scan'") == [(0,)]
    assert fake.rows("SELECT COUNT(*) FROM events")[0][0] > rows_before  # the reload's own
    new = cabinet.commands[len(sent_before) :]
    assert not any(isinstance(c, Unlock) for c in new), new
    assert cabinet.refreshes == 1
    # The member scans again and is served.
    kiosk.scan("M1")
    await eventually(lambda: len(cabinet.unlocks()) == 1, why="served after the reload")
    assert fake.rows("SELECT status FROM rentals") == [("pending",)]
    assert kiosk.restarts == 1


async def test_a_ledger_error_raised_by_apply_itself_is_handled_the_same(fake: Fake) -> None:
    kiosk, cabinet = fake.kiosk, fake.cabinet
    kiosk.ledger.apply = fail_once(  # type: ignore[method-assign]
        lambda writes: any(isinstance(w, ops.StartSession) for w in writes),
        LedgerError("database is locked"),
        kiosk.ledger.apply,
    )
    kiosk.scan("M3")
    await eventually(lambda: kiosk.restarts == 1)
    await eventually(lambda: kiosk.engine.phase is Phase.IDLE)
    await fake.settled()
    assert cabinet.unlocks() == []
    assert fake.rows("SELECT COUNT(*) FROM rentals") == [(0,)]


# ---- (d) the intake's scan gate ----------------------------------------------------------------


async def test_the_log_lines_come_after_the_lock_moved_and_the_screen_was_told(
    fake: Fake, kiosk_log: Records
) -> None:
    # Formatting and writing a log line costs more than a step's engine and commit together:
    # nobody at the cabinet may wait for it.
    order: list[str] = []
    logged = kiosk_log.emit

    async def send(command: Command) -> None:
        order.append(type(command).__name__)

    def emit(record: logging.LogRecord) -> None:
        order.append(record.getMessage())
        logged(record)

    fake.cabinet.send = send  # type: ignore[method-assign]
    kiosk_log.emit = emit  # type: ignore[method-assign]
    fake.kiosk.listeners.append(lambda step: order.append("screen told"))
    fake.kiosk.scan("M1")
    await fake.settled()
    lines = [i for i, what in enumerate(order) if what not in ("Unlock", "screen told")]
    assert order[:2] == ["Unlock", "screen told"], order
    assert lines and min(lines) == 2, order
    assert order[2].startswith("scan 'M1': member M1")  # the event's own line still leads


async def test_a_double_fire_is_one_scan(fake: Fake) -> None:
    take = fake.kiosk.intake("r")
    take("M1")
    take("M1")  # the reader fired twice
    await fake.settled()
    assert fake.rows(
        "SELECT code FROM (SELECT json_extract(details, '$.code') AS code"
        " FROM events WHERE kind = 'scan')"
    ) == [("M1",)]
    assert len(fake.cabinet.unlocks()) == 1
    fake.clock.offset += 2.0  # a scan 2 s later is a new one (and this one is "busy")
    take("M1")
    await fake.settled()
    assert fake.rows("SELECT COUNT(*) FROM events WHERE kind = 'scan'") == [(2,)]


async def test_a_flood_is_throttled_then_logged_and_audited_once_over(
    fake: Fake, kiosk_log: Records
) -> None:
    take = fake.kiosk.intake("r")
    for i in range(16):  # 16 codes at once: a stuck or hostile reader
        take(f"JUNK{i}")
    began = [m for m in kiosk_log.messages(logging.WARNING) if "more than 10 codes" in m]
    assert began == ["r: more than 10 codes a second: dropping codes until it calms down"]
    await fake.settled()
    assert fake.rows("SELECT COUNT(*) FROM events WHERE kind = 'scan'") == [(10,)]
    assert fake.rows("SELECT COUNT(*) FROM events WHERE kind = 'scan_flood'") == [(0,)]
    fake.clock.offset += 1.5  # quiet for a while
    take("M1")
    await fake.settled()
    (details,) = fake.rows("SELECT details FROM events WHERE kind = 'scan_flood'")
    assert '"reader": "r"' in details[0] and '"dropped": 6' in details[0]
    assert any("r: flood over; 6 codes were dropped" in m for m in kiosk_log.messages())
    assert fake.kiosk.engine.phase is Phase.TAKE_KEY  # the calm scan was served


async def test_each_reader_has_its_own_gate(fake: Fake) -> None:
    one, two = fake.kiosk.intake("one"), fake.kiosk.intake("two")
    assert fake.kiosk.intake("one") is not one  # a new emit, the same gate
    one("JUNK")
    two("JUNK")  # the same code from another reader is not a double-fire
    await fake.settled()
    assert fake.rows("SELECT COUNT(*) FROM events WHERE kind = 'scan'") == [(2,)]


# ---- (e) stopping ------------------------------------------------------------------------------


async def test_stopping_mid_take_key_interrupts_the_session_and_locks_up(tmp_path: Path) -> None:
    sim = Simulator(Controller(SLOTS, False, rng=random.Random(9)), seed=9)
    await sim.start_pty(tmp_path / "cabinet1")
    settings = site_settings(tmp_path, [sim.url], SLOTS)
    ledger = open_ledger(settings)
    add_members(ledger, "M1")
    executed: list[str] = []
    sim.controller.on_execute = lambda _id, req: executed.append(str(req["cmd"]))
    kiosk = Kiosk(settings, ledger, build_cabinets(settings), TerminalDisplay("en", lambda _: None))
    stop = asyncio.Event()
    runner = asyncio.create_task(kiosk.run(stop))
    try:
        await eventually(lambda: kiosk.engine.phase is Phase.IDLE, why="online")
        kiosk.scan("M1")
        await eventually(lambda: kiosk.engine.phase is Phase.TAKE_KEY)
        session = kiosk.engine.session
        assert session is not None
        slot = kiosk.layout.lockers[session.locker].slot  # type: ignore[index]
        await eventually(lambda: not sim.controller.is_locked(slot), why="unlocked")
        lock_alls = executed.count("lock_all")
        stop.set()
        await runner
        assert executed.count("lock_all") == lock_alls + 1
        assert sim.controller.is_locked(slot)  # locked by the stop, not by its deadline
        row = ledger.conn.execute(
            "SELECT status, end_time FROM active_transactions WHERE transaction_id = ?",
            (session.tx_id,),
        ).fetchone()
        assert tuple(row) == ("interrupted", None)
        (status,) = ledger.conn.execute("SELECT status FROM rentals").fetchone()
        assert status == "pending"  # the next start's status decides
        assert kiosk.engine.phase is Phase.OUT_OF_SERVICE
        kinds = [k for (k,) in ledger.conn.execute("SELECT kind FROM events ORDER BY rowid")]
        assert "shutdown" in kinds
    finally:
        if not runner.done():
            stop.set()
            await runner
        await kiosk.close()
        await sim.stop()


async def test_stopping_when_idle_locks_every_cabinet(fake: Fake) -> None:
    before = list(fake.cabinet.commands)
    fake.stop.set()
    await fake.runner
    assert fake.cabinet.commands[len(before) :] == [LockAll(0)]
    assert fake.kiosk.engine.phase is Phase.OUT_OF_SERVICE


async def test_events_queued_at_the_stop_are_not_acted_on(fake: Fake) -> None:
    fake.stop.set()
    fake.kiosk.scan("M1")
    await fake.runner
    assert fake.cabinet.unlocks() == []
    assert fake.rows("SELECT COUNT(*) FROM active_transactions") == [(0,)]


async def test_stopping_locks_up_even_when_the_last_commit_fails(fake: Fake) -> None:
    kiosk, cabinet = fake.kiosk, fake.cabinet
    kiosk.scan("M1")
    await eventually(lambda: len(cabinet.unlocks()) == 1, why="unlocked")
    kiosk.ledger.apply = fail_once(  # type: ignore[method-assign]
        lambda writes: any(isinstance(w, ops.Audit) and w.kind == "shutdown" for w in writes),
        LedgerError("database or disk is full"),
        kiosk.ledger.apply,
    )
    sent = len(cabinet.commands)
    fake.stop.set()
    await fake.runner
    assert LockAll(0) in cabinet.commands[sent:]


async def test_a_refused_unlock_ends_the_step_and_is_audited_once(fake: Fake) -> None:
    kiosk, cabinet = fake.kiosk, fake.cabinet

    async def refuse_unlocks_and_locks(command: Command) -> None:
        cabinet.commands.append(command)
        if isinstance(command, Unlock | Lock):
            raise CommandRefused(f"{command} refused: hw_fault", "hw_fault")

    cabinet.send = refuse_unlocks_and_locks  # type: ignore[method-assign]
    kiosk.scan("M1")
    await eventually(lambda: len(cabinet.unlocks()) == 1, why="unlock tried")
    await eventually(lambda: kiosk.engine.phase is Phase.IDLE, why="the step ended")
    await fake.settled()
    kinds = [k for (k,) in fake.rows("SELECT kind FROM events ORDER BY event_id")]
    assert kinds.count("unlock_refused") == 1
    refused = fake.rows("SELECT details FROM events WHERE kind = 'command_refused'")
    # Only the Lock the ended step sent is a command_refused; the Unlock is not said twice.
    assert refused and all("Lock(" in d and "Unlock(" not in d for (d,) in refused)
    assert fake.rows("SELECT status FROM rentals") == [("cancelled",)]

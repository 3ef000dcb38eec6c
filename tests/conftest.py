"""Shared test helpers: an engine rig with a controllable clock, and ledger fixtures."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from lockerkey.core.engine import Engine
from lockerkey.core.events import Event, Now, Scan, Snapshot, Step, Tick
from lockerkey.core.layout import Layout, Policy
from lockerkey.core.model import CabinetKind, Member, MemberStatus
from lockerkey.core.roster import MemberRow
from lockerkey.core.state import LockerState, Pending
from lockerkey.store.ledger import Ledger

SEOUL = ZoneInfo("Asia/Seoul")
# 12:00 in Seoul on 2026-11-26.
T0 = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def member(
    member_id: str = "M1",
    status: MemberStatus = MemberStatus.ACTIVE,
    expiry: date | None = None,
    **attributes: str,
) -> Member:
    """An invented member."""
    return Member(member_id, f"회원{member_id}", status, expiry, attributes=attributes)


def per_slot_layout(
    n: int = 6, zones: dict[str, tuple[Iterable[str], dict[str, list[str]]]] | None = None
) -> Layout:
    """One per-slot cabinet with lockers "1".."n"."""
    return Layout.simple(
        [("c1", CabinetKind.PER_SLOT, [str(i) for i in range(1, n + 1)])], zones=zones
    )


def shared_layout(
    n: int = 6, zones: dict[str, tuple[Iterable[str], dict[str, list[str]]]] | None = None
) -> Layout:
    """One shared-door cabinet with lockers "1".."n"."""
    return Layout.simple(
        [("c1", CabinetKind.SHARED_DOOR, [str(i) for i in range(1, n + 1)])], zones=zones
    )


def full_snapshot(
    cabinet: int, n: int, missing: Iterable[int] = (), shared: bool = False
) -> Snapshot:
    """A status with every key in except ``missing`` slots, everything locked."""
    gone = set(missing)
    keys = "-" + "".join("0" if s in gone else "1" for s in range(1, n + 1))
    locks = ("1" + "-" * n) if shared else ("-" + "1" * n)
    return Snapshot(cabinet, keys, "-" * (n + 1), locks)


class Rig:
    """An engine with a clock the test moves by hand."""

    def __init__(
        self,
        layout: Layout | None = None,
        policy: Policy | None = None,
        lockers: dict[str, LockerState] | None = None,
        unresolved: Iterable[Pending] = (),
        start: datetime = T0,
        tx_prefix: str = "tx",
    ) -> None:
        self.layout = layout or per_slot_layout()
        self.policy = policy or Policy(timeout_s=30, tz=SEOUL)
        counter = itertools.count(1)
        self.engine = Engine(
            self.layout, self.policy, lambda: f"{tx_prefix}{next(counter)}", lockers, unresolved
        )
        self.start = start
        self.t = 100.0
        self.steps: list[Step] = []

    def now(self) -> Now:
        return Now(self.start + timedelta(seconds=self.t - 100.0), self.t)

    def do(self, event: Event) -> Step:
        step = self.engine.handle(event, self.now())
        self.steps.append(step)
        return step

    def advance(self, seconds: float) -> Step:
        self.t += seconds
        return self.do(Tick())

    def begin(self) -> Step:
        return self.engine.start(self.now())

    def online(self, missing: Iterable[int] = ()) -> Step:
        self.begin()
        steps = Step()
        for cab in self.layout.cabinets:
            step = self.do(
                full_snapshot(
                    cab.index, len(cab.lockers), missing, cab.kind is CabinetKind.SHARED_DOOR
                )
            )
            steps.writes += step.writes
            steps.commands += step.commands
            steps.notices += step.notices
        return steps


@pytest.fixture
def rig() -> Rig:
    """A per-slot engine with six lockers, online, every key in."""
    r = Rig()
    r.online()
    return r


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    """A real ledger file in a temporary directory."""
    led = Ledger.open(tmp_path / "locker.db", "TEST_DEVICE")
    yield led
    led.close()


def add_members(led: Ledger, *ids: str, **fields: object) -> None:
    """Put invented members into the ledger (active, no expiry unless given)."""
    rows = [
        MemberRow(
            m,
            f"회원{m}",
            fields.get("status", MemberStatus.ACTIVE),  # type: ignore[arg-type]
            fields.get("expiry"),  # type: ignore[arg-type]
            fields.get("gender"),  # type: ignore[arg-type]
            None,
            None,
            {},
        )
        for m in ids
    ]
    led.upsert_members(rows, T0)


class LedgerRig(Rig):
    """A Rig whose every Step is committed to a real ledger, with members looked up there."""

    def __init__(self, led: Ledger, **kwargs: object) -> None:
        self.ledger = led
        super().__init__(**kwargs)  # type: ignore[arg-type]
        led.sync_layout(self.layout)

    def do(self, event: Event) -> Step:
        if isinstance(event, Scan) and event.member is None:
            event = Scan(event.code, self.ledger.get_member(event.code))
        step = super().do(event)
        self.ledger.apply(step.writes)
        return step

    def begin(self) -> Step:
        step = super().begin()
        self.ledger.apply(step.writes)
        return step


@pytest.fixture
def lrig(ledger: Ledger) -> LedgerRig:
    """A six-locker per-slot engine on a real ledger with members M1..M3, online."""
    add_members(ledger, "M1", "M2", "M3")
    r = LedgerRig(ledger)
    r.online()
    return r

"""The engine's phases, their one transition table, and the state it keeps per locker."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from lockerkey.core.events import Notice
from lockerkey.core.model import Member, Service


class Phase(StrEnum):
    """What the kiosk is doing (also the ``phase`` of the kiosk API)."""

    OUT_OF_SERVICE = "out_of_service"
    IDLE = "idle"
    CHOOSE_LOCKER = "choose_locker"
    TAKE_KEY = "take_key"
    RETURN_KEY = "return_key"
    STAFF_MENU = "staff_menu"  # a staff card was scanned: open slots, see lockers


TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.OUT_OF_SERVICE: frozenset({Phase.IDLE}),
    Phase.IDLE: frozenset(
        {
            Phase.CHOOSE_LOCKER,
            Phase.TAKE_KEY,
            Phase.RETURN_KEY,
            Phase.STAFF_MENU,
            Phase.OUT_OF_SERVICE,
        }
    ),
    Phase.CHOOSE_LOCKER: frozenset({Phase.TAKE_KEY, Phase.IDLE, Phase.OUT_OF_SERVICE}),
    Phase.TAKE_KEY: frozenset({Phase.IDLE, Phase.OUT_OF_SERVICE}),
    Phase.RETURN_KEY: frozenset({Phase.IDLE, Phase.OUT_OF_SERVICE}),
    Phase.STAFF_MENU: frozenset({Phase.IDLE, Phase.OUT_OF_SERVICE}),
}


class IllegalTransition(RuntimeError):
    """The engine tried to move between phases the transition table does not link."""


def check_transition(old: Phase, new: Phase) -> None:
    """Raise IllegalTransition unless ``old -> new`` is in the table."""
    if new is not old and new not in TRANSITIONS[old]:
        raise IllegalTransition(f"{old} -> {new}")


@dataclass(frozen=True)
class Holder:
    """Who has a locker's key out, under which rental."""

    member_id: str
    tx_id: str


@dataclass
class LockerState:
    """What the engine knows of one locker (mirrored to ``locker_status``)."""

    key: bool | None = None  # None: no controller has reported it yet
    door: bool | None = None
    locked: bool | None = None
    service: Service = Service.IN_SERVICE
    reason: str | None = None
    holder: Holder | None = None
    last_rented: datetime | None = None
    session_tx: str | None = None
    locked_until: datetime | None = None


@dataclass
class Pending:
    """A session cut short (restart or link loss) that a controller's status must resolve."""

    tx_id: str
    kind: str  # rental | return
    member_id: str
    locker: str | None  # None: a shared-door rental before any key was taken
    cabinets: set[int]
    started: datetime
    rental_tx: str | None = None
    member: Member | None = None
    phase: str = "take_key"  # the phase it was cut short in


@dataclass
class Session:
    """The one session in progress."""

    tx_id: str
    kind: str  # rental | return | staff (the kiosk's staff menu, never a ledger row)
    member_id: str
    started: datetime
    deadline_mono: float
    deadline_wall: datetime
    member: Member | None = None
    locker: str | None = None
    offered: tuple[str, ...] = ()
    opened: tuple[tuple[int, int], ...] = ()  # (cabinet, slot) locks released
    rearm_mono: float | None = None
    rental_tx: str | None = None


@dataclass(frozen=True)
class View:
    """What the kiosk screen shows now."""

    phase: Phase
    notice: Notice | None
    locker: str | None = None
    available: tuple[str, ...] = ()
    deadline: datetime | None = None
    online: tuple[int, ...] = field(default_factory=tuple)

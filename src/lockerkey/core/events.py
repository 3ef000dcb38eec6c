"""What flows into the engine (events, with the time) and out of it (a Step)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from lockerkey.core.messages import Msg
from lockerkey.core.model import Member
from lockerkey.core.ops import LedgerOp


@dataclass(frozen=True)
class Now:
    """The time an event is handled: an aware UTC wall clock and a monotonic clock (seconds)."""

    wall: datetime
    mono: float

    def __post_init__(self) -> None:
        if self.wall.tzinfo is None:
            raise ValueError("Now.wall must be timezone-aware")


# ---- events in -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    """A code read by a scanner; ``member`` is the ledger's member with that barcode, if any."""

    code: str
    member: Member | None = None


@dataclass(frozen=True)
class Select:
    """The member chose a locker on screen."""

    locker: str


@dataclass(frozen=True)
class Cancel:
    """The member (or staff) ended the current step."""


@dataclass(frozen=True)
class Tick:
    """Time passed: deadlines and unlock re-arming are checked."""


@dataclass(frozen=True)
class KeySensed:
    """A key sensor of a controller changed (debounced by the controller)."""

    cabinet: int
    slot: int
    present: bool


@dataclass(frozen=True)
class DoorSensed:
    """A door sensor changed; slot 0 is a shared door."""

    cabinet: int
    slot: int
    open: bool


@dataclass(frozen=True)
class LockSensed:
    """A lock changed state (including the controller's own dead-man relock)."""

    cabinet: int
    slot: int
    locked: bool


@dataclass(frozen=True)
class Snapshot:
    """A controller's full ``status``: strings of N+1 chars, char 0 being the shared door."""

    cabinet: int
    keys: str
    doors: str
    locks: str


@dataclass(frozen=True)
class LinkLost:
    """A controller stopped answering (or its port vanished)."""

    cabinet: int
    reason: str


@dataclass(frozen=True)
class Shutdown:
    """The kiosk is stopping: end the session safely and lock every cabinet."""


@dataclass(frozen=True)
class UnlockRefused:
    """A controller answered an unlock with an error: the slot certainly did not open."""

    cabinet: int
    slot: int
    reason: str


@dataclass(frozen=True)
class ControllerFault:
    """A controller reports hardware trouble (an expander gone, a solenoid fault)."""

    cabinet: int
    code: str
    slot: int | None = None


# ---- staff actions in (admin console or a staff card at the kiosk) ----------------------------


@dataclass(frozen=True)
class ForceReturn:
    """Staff close a locker's rental as returned (the key is back or handled by hand)."""

    locker: str
    reason: str
    staff: str


@dataclass(frozen=True)
class MarkLost:
    """Staff record a rented key as lost: the rental ends abnormal, the locker goes out."""

    locker: str
    reason: str
    staff: str


@dataclass(frozen=True)
class SetService:
    """Staff take a locker out of service (``in_service=False``) or put it back."""

    locker: str
    in_service: bool
    reason: str
    staff: str


@dataclass(frozen=True)
class OpenSlot:
    """Staff open a locker's slot (or its shared door) for refilling or repair, relocked by
    the engine after ``seconds``."""

    locker: str
    seconds: int
    reason: str
    staff: str


StaffAction = ForceReturn | MarkLost | SetService | OpenSlot

Event = (
    Scan
    | Select
    | Cancel
    | Tick
    | KeySensed
    | DoorSensed
    | LockSensed
    | Snapshot
    | LinkLost
    | UnlockRefused
    | Shutdown
    | ControllerFault
    | ForceReturn
    | MarkLost
    | SetService
    | OpenSlot
)


# ---- cabinet commands out ----------------------------------------------------------------------


@dataclass(frozen=True)
class Unlock:
    """Release a slot's lock (slot 0: the shared door) for at most ``ms`` milliseconds."""

    cabinet: int
    slot: int
    ms: int


@dataclass(frozen=True)
class Lock:
    """Lock a slot (or the shared door) now."""

    cabinet: int
    slot: int


@dataclass(frozen=True)
class LockAll:
    """Lock every slot of a controller."""

    cabinet: int


@dataclass(frozen=True)
class Beep:
    """Sound a pattern (``ok``, ``error`` or ``alert``) on a controller's buzzer."""

    cabinet: int
    pattern: str


Command = Unlock | Lock | LockAll | Beep


@dataclass(frozen=True)
class Notice:
    """A message for the member or staff: a catalogue key and its parameters."""

    msg: Msg
    params: Mapping[str, str] = field(default_factory=dict)
    level: str = "info"  # info | success | error | alert


@dataclass(frozen=True)
class Reply:
    """The engine's answer to a request that can be refused (a Select, a staff action)."""

    ok: bool
    msg: Msg
    params: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Step:
    """The outcome of one event: ledger writes (committed first, together), then commands."""

    writes: list[LedgerOp] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    reply: Reply | None = None

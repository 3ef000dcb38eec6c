"""Ledger writes the engine asks for; ``store`` turns each into SQL, a whole Step in one commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from lockerkey.core.model import ErrorCode, RentalStatus, Service


@dataclass(frozen=True)
class StartSession:
    """A session begins: one ``active_transactions`` row (the machine is now held)."""

    tx_id: str
    kind: str  # "rental" | "return"
    member_id: str
    locker: str | None
    phase: str  # choose_locker | take_key | return_key
    at: datetime
    timeout_at: datetime
    rental_tx: str | None = None  # for returns: the rental being returned


@dataclass(frozen=True)
class UpdateSession:
    """The session moved on (a locker was chosen, a new deadline)."""

    tx_id: str
    locker: str | None
    phase: str
    at: datetime
    timeout_at: datetime


@dataclass(frozen=True)
class SessionSensor:
    """A key sensor changed during a session: appended to its ``sensor_events`` (as the seed)."""

    tx_id: str
    locker: str
    present: bool
    at: datetime


@dataclass(frozen=True)
class EndSession:
    """The session is over: completed, timeout, cancelled, failed or interrupted (link lost)."""

    tx_id: str
    status: str
    at: datetime


@dataclass(frozen=True)
class CreatePendingRental:
    """Per-slot cabinets: the rental row exists as ``pending`` before the slot is unlocked."""

    tx_id: str
    member_id: str
    locker: str
    barcode_time: datetime


@dataclass(frozen=True)
class ConfirmRental:
    """A sensor saw the key leave: the rental becomes active (or abnormal), created if needed."""

    tx_id: str
    member_id: str
    locker: str
    barcode_time: datetime
    sensor_time: datetime
    status: RentalStatus  # ACTIVE or ABNORMAL
    day_start: datetime  # local midnight of today (UTC): older counts restart at 1
    error_code: ErrorCode | None = None
    error_details: str | None = None


@dataclass(frozen=True)
class CancelRental:
    """No key was taken: a pending rental becomes ``cancelled``."""

    tx_id: str
    at: datetime
    details: str | None = None


@dataclass(frozen=True)
class StartReturn:
    """A key was scanned for return: the rental notes the attempt."""

    rental_tx: str
    locker: str
    barcode_time: datetime


@dataclass(frozen=True)
class CompleteReturn:
    """A sensor saw the key come back: returned (own slot) or abnormal (another slot)."""

    rental_tx: str
    member_id: str
    target: str
    actual: str
    sensor_time: datetime
    status: RentalStatus  # RETURNED or ABNORMAL
    error_code: ErrorCode | None = None
    error_details: str | None = None


@dataclass(frozen=True)
class CloseRental:
    """Staff closed a holding rental by hand (no sensor saw its key come back)."""

    rental_tx: str
    member_id: str
    locker: str
    at: datetime
    status: RentalStatus  # RETURNED (a forced return) or ABNORMAL (the key is lost)
    error_code: ErrorCode  # FORCED_RETURN or KEY_LOST
    error_details: str


@dataclass(frozen=True)
class LockerRow:
    """The full ``locker_status`` row of one locker as the engine now sees it."""

    locker: str
    key_present: bool | None
    door_open: bool | None
    locked: bool | None
    current_member: str | None
    current_transaction: str | None
    locked_until: datetime | None
    service: Service
    service_reason: str | None
    at: datetime


@dataclass(frozen=True)
class Audit:
    """One append-only ``events`` row."""

    kind: str
    at: datetime
    member_id: str | None = None
    locker: str | None = None
    tx_id: str | None = None
    details: Mapping[str, object] = field(default_factory=dict)


LedgerOp = (
    StartSession
    | UpdateSession
    | SessionSensor
    | EndSession
    | CreatePendingRental
    | ConfirmRental
    | CancelRental
    | StartReturn
    | CompleteReturn
    | CloseRental
    | LockerRow
    | Audit
)

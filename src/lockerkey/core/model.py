"""Domain values shared by the engine, the ledger and the adapters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum


class MemberStatus(StrEnum):
    """A member's standing, as the member master records it."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    EXPIRED = "expired"
    # Gone from the member sheet: deactivated by the sync, never deleted (a member list never
    # says it; see docs/data-model.md).
    REMOVED = "removed"


class RentalStatus(StrEnum):
    """The life of one rental row (see docs/data-model.md)."""

    PENDING = "pending"
    ACTIVE = "active"
    RETURNED = "returned"
    ABNORMAL = "abnormal"
    CANCELLED = "cancelled"


class ErrorCode(StrEnum):
    """Stable codes stored in ``rentals.error_code`` and the audit log."""

    WRONG_SLOT = "WRONG_SLOT"  # key returned into another locker's slot
    NOT_ALLOWED_TAKEN = "NOT_ALLOWED_TAKEN"  # shared door: member took a key not allowed to them
    SET_ASIDE_TAKEN = "SET_ASIDE_TAKEN"  # shared door: member took a key of a locker set aside
    FORCED_REMOVAL = "FORCED_REMOVAL"  # a key left a locked slot outside any session
    KEY_MISSING = "KEY_MISSING"  # a cabinet reported a slot empty that no rental explains
    FORCED_RETURN = "FORCED_RETURN"  # staff closed the rental as returned, no sensor saw it
    KEY_LOST = "KEY_LOST"  # staff recorded the rented key as lost


class CabinetKind(StrEnum):
    """How a controller's slots are secured."""

    PER_SLOT = "per_slot"  # each slot has its own lock
    SHARED_DOOR = "shared_door"  # one lockable door (slot 0) in front of key-sensing slots


class Service(StrEnum):
    """Whether a locker may be offered."""

    IN_SERVICE = "in_service"
    SET_ASIDE = "set_aside"  # abnormal: staff must look at it before it is offered again
    DISABLED = "disabled"  # taken out of service by staff


@dataclass(frozen=True)
class Member:
    """One row of the member master as the engine needs it."""

    member_id: str
    name: str
    status: MemberStatus
    expiry_date: date | None = None
    currently_renting: str | None = None
    daily_rental_count: int = 0
    last_rental_time: datetime | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)

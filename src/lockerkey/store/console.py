"""Read queries of the staff console: the locker grid, rentals, alerts and members.

Nothing here writes; staff actions go through the engine. Times come back as aware UTC
datetimes; the console shows them in the configured time zone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lockerkey.store.ledger import Ledger, guarded, held_sql
from lockerkey.store.reports import locker_table
from lockerkey.store.timestamps import parse_ts, ts

# Grid states, in the legend's order.
STATES = ("free", "rented", "pending", "abnormal", "out_of_service", "disagrees", "unknown")

# Audit kinds the alerts page lists: things staff must look at.
ALERT_KINDS = (
    "set_aside",
    "link_lost",
    "controller_fault",
    "unlock_refused",
    "command_failed",
    "command_refused",
    "backup_failed",
)

# ORDER BY fragments of the rentals table, chosen by name: the request never reaches SQL.
RENTAL_ORDER = {
    "locker": "l.cabinet, l.slot, r.locker_number",
    "-locker": "l.cabinet DESC, l.slot DESC, r.locker_number DESC",
    "member": "m.member_name, r.member_id",
    "-member": "m.member_name DESC, r.member_id DESC",
    "since": "r.rental_sensor_time, r.rental_id",
    "-since": "r.rental_sensor_time DESC, r.rental_id DESC",
}


def grid_state(service: str, key: str, held: bool, pending: bool) -> str:
    """One locker's colour on the grid (see STATES).

    Staff decisions come first (out of service, set aside), then a session under way; a key
    sensor that contradicts the ledger (the key out with nobody holding it, or in its slot
    while rented) is worth a look before anything else that looks normal.
    """
    if service == "disabled":
        return "out_of_service"
    if service == "set_aside":
        return "abnormal"
    if pending:
        return "pending"
    if held:
        return "disagrees" if key == "in" else "rented"
    if key == "out":
        return "disagrees"
    return "unknown" if key == "unknown" else "free"


@dataclass(frozen=True)
class LockerCard:
    """One locker as the console shows it."""

    locker: str
    cabinet: str | None
    slot: int | None
    zone: str | None
    key_barcode: str | None
    key: str  # in | out | unknown
    locked: bool | None
    door_open: bool | None
    service: str
    service_reason: str | None
    member_id: str | None  # who holds the key
    member_name: str | None
    since: datetime | None
    rental_status: str | None
    pending_member: str | None  # a rental in progress for this locker, not yet taken
    state: str


@guarded
def locker_grid(ledger: Ledger) -> list[LockerCard]:
    """Every configured locker in cabinet and slot order, with its grid state."""
    pending = {
        str(row[0]): str(row[1])
        for row in ledger.conn.execute(
            "SELECT locker_number, member_id FROM rentals WHERE status = 'pending'"
        )
    }
    cards: list[LockerCard] = []
    for row in locker_table(ledger):
        number = row["locker"]
        cards.append(
            LockerCard(
                locker=number,
                cabinet=row["cabinet"],
                slot=row["slot"],
                zone=row["zone"],
                key_barcode=row["key_barcode"],
                key=row["key"],
                locked=row["locked"],
                door_open=row["door_open"],
                service=row["service"],
                service_reason=row["service_reason"],
                member_id=row["member_id"],
                member_name=row["member_name"],
                since=parse_ts(row["rented_since"]),
                rental_status=row["rental_status"],
                pending_member=pending.get(number),
                state=grid_state(
                    row["service"], row["key"], row["member_id"] is not None, number in pending
                ),
            )
        )
    return cards


@guarded
def locker_card(ledger: Ledger, locker: str) -> LockerCard | None:
    """One configured locker, or None."""
    return next((c for c in locker_grid(ledger) if c.locker == locker), None)


@dataclass(frozen=True)
class RentalLine:
    """One rental row, as the rentals, locker and member pages list them."""

    rental_id: int
    locker: str
    member_id: str
    member_name: str | None
    status: str
    since: datetime | None  # when the key left (or the row was made, if it never did)
    returned: datetime | None
    return_actual: str | None
    error_code: str | None
    error_details: str | None


_RENTAL_COLUMNS = (
    "SELECT r.rental_id, r.locker_number, r.member_id, m.member_name, r.status,"
    " COALESCE(r.rental_sensor_time, r.created_at) AS since, r.return_sensor_time,"
    " r.return_actual_locker, r.error_code, r.error_details FROM rentals r"
    " LEFT JOIN members m ON m.member_id = r.member_id"
)


def _rental(row: Any) -> RentalLine:
    return RentalLine(
        rental_id=row["rental_id"],
        locker=row["locker_number"],
        member_id=row["member_id"],
        member_name=row["member_name"],
        status=row["status"],
        since=parse_ts(row["since"]),
        returned=parse_ts(row["return_sensor_time"]),
        return_actual=row["return_actual_locker"],
        error_code=row["error_code"],
        error_details=row["error_details"],
    )


def _rentals(ledger: Ledger, rest: str, params: tuple[object, ...] = ()) -> list[RentalLine]:
    """The rental lines of ``_RENTAL_COLUMNS`` followed by ``rest`` (joins, WHERE, ORDER BY)."""
    rows = ledger.conn.execute(f"{_RENTAL_COLUMNS} {rest}", params).fetchall()
    return [_rental(row) for row in rows]


@guarded
def active_rentals(ledger: Ledger, sort: str = "locker") -> list[RentalLine]:
    """The rentals holding a key now, sorted by one of RENTAL_ORDER (else by locker)."""
    order = RENTAL_ORDER.get(sort, RENTAL_ORDER["locker"])
    return _rentals(
        ledger,
        "LEFT JOIN locker_status l ON l.locker_number = r.locker_number"
        f" WHERE {held_sql('r.')} ORDER BY {order}",
    )


@guarded
def locker_rentals(ledger: Ledger, locker: str, limit: int = 20) -> list[RentalLine]:
    """A locker's latest rentals, newest first (cancelled intents left out)."""
    return _rentals(
        ledger,
        "WHERE r.locker_number = ? AND r.status != 'cancelled' ORDER BY r.rental_id DESC LIMIT ?",
        (locker, limit),
    )


@guarded
def member_rentals(ledger: Ledger, member_id: str, limit: int = 100) -> list[RentalLine]:
    """A member's rentals, newest first, cancelled ones included (they explain refusals)."""
    return _rentals(
        ledger, "WHERE r.member_id = ? ORDER BY r.rental_id DESC LIMIT ?", (member_id, limit)
    )


@dataclass(frozen=True)
class EventLine:
    """One audit event, its details decoded."""

    event_id: int
    time: datetime
    kind: str
    member_id: str | None
    locker: str | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Alert:
    """An event staff should look at, with what can still be done about it."""

    event: EventLine
    actions: tuple[str, ...]  # force_return, mark_lost, in_service: offered on the newest only

    @property
    def code(self) -> str:
        """The error code or reason that says what happened (may be empty)."""
        details = self.event.details
        return str(details.get("code") or details.get("reason") or details.get("error") or "")


def _details(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except json.JSONDecodeError:
        return {"text": text}
    return value if isinstance(value, dict) else {"value": value}


def _event(row: Any) -> EventLine:
    when = parse_ts(row["time"])
    assert when is not None  # NOT NULL column
    return EventLine(
        event_id=row["event_id"],
        time=when,
        kind=row["kind"],
        member_id=row["member_id"],
        locker=row["locker_number"],
        details=_details(row["details"]),
    )


@guarded
def alerts(ledger: Ledger, since: datetime, limit: int = 300) -> list[Alert]:
    """Alert events at or after ``since``, newest first.

    The newest alert of each locker carries the actions that would settle its locker as it is
    now: a rental still holding the key can be force-returned or its key marked lost, a locker
    out of service or set aside can be put back.
    """
    marks = ", ".join("?" for _ in ALERT_KINDS)
    rows = ledger.conn.execute(
        "SELECT e.event_id, e.time, e.kind, e.member_id, e.locker_number, e.details,"
        " l.service, r.rental_id AS held FROM events e"
        " LEFT JOIN locker_status l ON l.locker_number = e.locker_number AND l.configured = 1"
        f" LEFT JOIN rentals r ON r.locker_number = e.locker_number AND {held_sql('r.')}"
        f" WHERE e.kind IN ({marks}) AND e.time >= ?"
        " ORDER BY e.time DESC, e.event_id DESC LIMIT ?",
        (*ALERT_KINDS, _stamp(since), limit),
    ).fetchall()
    found: list[Alert] = []
    seen: set[str] = set()
    for row in rows:
        locker = row["locker_number"]
        actions: tuple[str, ...] = ()
        if locker is not None and locker not in seen and row["service"] is not None:
            seen.add(locker)
            held = ("force_return", "mark_lost") if row["held"] is not None else ()
            back = ("in_service",) if row["service"] != "in_service" else ()
            actions = held + back
        found.append(Alert(_event(row), actions))
    return found


@guarded
def locker_events(ledger: Ledger, locker: str, limit: int = 30) -> list[EventLine]:
    """A locker's latest audit events worth reading (no raw sensor or command chatter)."""
    rows = ledger.conn.execute(
        "SELECT event_id, time, kind, member_id, locker_number, details FROM events"
        " WHERE locker_number = ? AND kind NOT IN ('key', 'door', 'lock', 'command', 'message')"
        " ORDER BY event_id DESC LIMIT ?",
        (locker, limit),
    ).fetchall()
    return [_event(row) for row in rows]


@dataclass(frozen=True)
class MemberLine:
    """One member as the console lists them."""

    member_id: str
    name: str
    status: str
    expiry_date: str | None
    currently_renting: str | None
    daily_rental_count: int
    last_rental_time: datetime | None


_MEMBER_COLUMNS = (
    "SELECT member_id, member_name, status, expiry_date, currently_renting,"
    " daily_rental_count, last_rental_time FROM members"
)


def _member(row: Any) -> MemberLine:
    return MemberLine(
        member_id=row["member_id"],
        name=row["member_name"],
        status=row["status"],
        expiry_date=row["expiry_date"],
        currently_renting=row["currently_renting"],
        daily_rental_count=row["daily_rental_count"],
        last_rental_time=parse_ts(row["last_rental_time"]),
    )


def like_pattern(text: str) -> str:
    """A LIKE pattern (with ``ESCAPE '\\'``) matching ``text`` anywhere, taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@guarded
def search_members(ledger: Ledger, text: str, limit: int = 50) -> list[MemberLine]:
    """Members whose barcode or name contains ``text`` (an exact barcode first)."""
    text = text.strip()
    if not text:
        return []
    pattern = like_pattern(text)
    rows = ledger.conn.execute(
        f"{_MEMBER_COLUMNS} WHERE member_id LIKE ? ESCAPE '\\' OR member_name LIKE ? ESCAPE '\\'"
        " ORDER BY member_id != ?, member_name, member_id LIMIT ?",
        (pattern, pattern, text, limit),
    ).fetchall()
    return [_member(row) for row in rows]


@guarded
def member(ledger: Ledger, member_id: str) -> MemberLine | None:
    """One member, or None."""
    row = ledger.conn.execute(f"{_MEMBER_COLUMNS} WHERE member_id = ?", (member_id,)).fetchone()
    return None if row is None else _member(row)


def _stamp(when: datetime) -> str:
    text = ts(when)
    assert text is not None
    return text

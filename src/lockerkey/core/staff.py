"""Staff actions: forced returns, lost keys, service changes, and slots opened for maintenance.

They come from the admin console (``via="console"``) or from a staff card scanned at the kiosk,
whose staff menu opens slots (``via="kiosk"``). Each one answers with ``Step.reply`` and is
audited with the staff member's name and reason; a refused one changes nothing but its audit
row. An opening is kept in ``Engine.openings`` by the lock it released (a per-slot lock, or a
shared door as slot 0) and relocked by the engine at its deadline; until then key sensor
changes behind that lock are staff refilling or emptying slots, not alarms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from lockerkey.core import ops, rules
from lockerkey.core.events import (
    Command,
    ForceReturn,
    Lock,
    MarkLost,
    SetService,
    StaffAction,
    Unlock,
)
from lockerkey.core.layout import REARM_MARGIN_S, UNLOCK_MAX_MS
from lockerkey.core.messages import Msg
from lockerkey.core.model import ErrorCode, Member, RentalStatus, Service
from lockerkey.core.state import Holder, LockerState, Phase, Session

if TYPE_CHECKING:
    from lockerkey.core.engine import Engine

STAFF = "staff"  # Session.kind of the kiosk's staff menu (never a ledger session row)
CONSOLE, KIOSK = "console", "kiosk"  # the audit detail ``via``: where an action came from
STAFF_CATEGORIES = frozenset({"staff"})  # member ``category`` values (casefolded) of staff
MENU_OPEN_S = 60  # how long the kiosk's staff menu opens a slot
MENU_REASON = "kiosk staff menu"
OPEN_MAX_S = 600  # the longest maintenance opening staff may ask for
# service_reason of a locker whose key was marked lost: a code the console shows in words.
LOST_REASON = str(ErrorCode.KEY_LOST)

Refusal = tuple[Msg, dict[str, str]]


@dataclass
class Opening:
    """A slot (or a shared door) opened for staff; the engine relocks it at the deadline."""

    locker: str
    staff: str
    reason: str
    via: str
    member_id: str | None  # the staff member's card, when opened from the kiosk
    deadline_mono: float
    deadline_wall: datetime
    rearm_mono: float | None = None


# ---- the admin console ---------------------------------------------------------------------


def on_action(engine: Engine, action: StaffAction) -> None:
    """A staff action from the admin console."""
    match action:
        case ForceReturn(locker=locker, reason=reason, staff=who):
            force_return(engine, locker, reason, who)
        case MarkLost(locker=locker, reason=reason, staff=who):
            mark_lost(engine, locker, reason, who)
        case SetService(locker=locker, in_service=on, reason=reason, staff=who):
            set_service(engine, locker, on, reason, who)
        case _:  # OpenSlot, the last of StaffAction (a wildcard: no unreachable branch)
            open_slot(engine, action.locker, action.seconds, action.reason, action.staff, CONSOLE)


def force_return(engine: Engine, locker: str, reason: str, staff: str) -> None:
    """Close the locker's holding rental as returned; its key sensor decides what is offered."""
    closed = _close_holding(engine, "force_return", locker, reason, staff)
    if closed is None:
        return
    st, holder = closed
    engine._set(locker, holder=None)
    engine._audit(
        "admin_force_return",
        holder.member_id,
        locker,
        holder.tx_id,
        staff=staff,
        reason=reason,
        via=CONSOLE,
        key_in_slot=st.key,
    )
    # A key not in its slot keeps the locker from being offered until one is sensed there.
    engine._reply(True, Msg.FORCE_RETURNED if st.key else Msg.FORCE_RETURNED_KEY_OUT, locker=locker)


def mark_lost(engine: Engine, locker: str, reason: str, staff: str) -> None:
    """End the holding rental abnormal (KEY_LOST), free the member, take the locker out."""
    closed = _close_holding(engine, "mark_lost", locker, reason, staff)
    if closed is None:
        return
    st, holder = closed
    previous = st.service
    engine._set(locker, holder=None, service=Service.DISABLED, reason=LOST_REASON)
    engine._audit(
        "admin_mark_lost",
        holder.member_id,
        locker,
        holder.tx_id,
        staff=staff,
        reason=reason,
        via=CONSOLE,
        previous=str(previous),
    )
    engine._reply(True, Msg.KEY_MARKED_LOST, locker=locker)


# How each console action closes a holding rental: its status, error code and details note.
_CLOSINGS = {
    "force_return": (RentalStatus.RETURNED, ErrorCode.FORCED_RETURN, "forced return"),
    "mark_lost": (RentalStatus.ABNORMAL, ErrorCode.KEY_LOST, "key lost, recorded"),
}


def _close_holding(
    engine: Engine, action: str, locker: str, reason: str, staff: str
) -> tuple[LockerState, Holder] | None:
    """Close the locker's holding rental as ``action`` says; None (refusal audited) if refused.

    Answers the locker's state and the holder it had: the caller frees it, audits and replies.
    """
    refused = _locker_refusal(engine, locker) or _not_rented(engine, locker)
    if refused is not None:
        _refuse(engine, action, refused, staff, reason, CONSOLE)
        return None
    st = engine.lockers[locker]
    holder = st.holder
    assert holder is not None  # _not_rented said so
    status, code, note = _CLOSINGS[action]
    engine._write(
        ops.CloseRental(
            holder.tx_id,
            holder.member_id,
            locker,
            engine._now.wall,
            status,
            code,
            f"{note} by {staff}: {reason}",
        )
    )
    return st, holder


def set_service(engine: Engine, locker: str, in_service: bool, reason: str, staff: str) -> None:
    """Take a locker out of service, or put it back (which also resolves a set-aside one)."""
    action = "in_service" if in_service else "out_of_service"
    refused = _locker_refusal(engine, locker)
    if refused is not None:
        _refuse(engine, action, refused, staff, reason, CONSOLE)
        return
    st = engine.lockers[locker]
    previous, previous_reason = st.service, st.reason
    if in_service:
        engine._set(locker, service=Service.IN_SERVICE, reason=None)
    else:
        engine._set(locker, service=Service.DISABLED, reason=reason or "disabled by staff")
    engine._audit(
        f"admin_{action}",
        locker=locker,
        staff=staff,
        reason=reason,
        via=CONSOLE,
        previous=str(previous),
        previous_reason=previous_reason,
    )
    engine._reply(True, Msg.LOCKER_ENABLED if in_service else Msg.LOCKER_DISABLED, locker=locker)


def open_slot(
    engine: Engine,
    locker: str,
    seconds: int,
    reason: str,
    staff: str,
    via: str,
    member_id: str | None = None,
) -> bool:
    """Unlock a locker's slot (or its shared door) for staff until ``seconds`` from now."""
    s = engine.session
    refused: Refusal | None = None
    if locker not in engine.layout.lockers:
        refused = Msg.UNKNOWN_LOCKER, {"locker": locker}
    elif not 1 <= seconds <= OPEN_MAX_S:
        refused = Msg.OPEN_SECONDS_INVALID, {"max": str(OPEN_MAX_S)}
    elif s is not None and s.kind != STAFF:
        # A member's rental or return must not see slots open or keys move around it.
        refused = Msg.KIOSK_IN_USE, {}
    elif engine.layout.lockers[locker].cabinet not in engine.online:
        # Also covers a cut-short session: its cabinet's next status resolves it on arrival.
        refused = Msg.CABINET_OFFLINE, {"locker": locker}
    if refused is not None:
        _refuse(engine, "open_slot", refused, staff, reason, via, member_id, locker)
        return False
    where = engine.layout.lock_slot(locker)
    now = engine._now
    # A second opening behind the same lock replaces the first: the newest deadline counts.
    opening = Opening(
        locker,
        staff,
        reason,
        via,
        member_id,
        now.mono + seconds,
        now.wall + timedelta(seconds=seconds),
    )
    engine.openings[where] = opening
    engine._audit(
        "admin_open_slot",
        member_id,
        locker,
        staff=staff,
        reason=reason,
        via=via,
        seconds=seconds,
        cabinet=where[0],
        slot=where[1],
    )
    _unlock(engine, where, opening)
    for number in covered(engine, where):
        engine._set(number, locked_until=opening.deadline_wall)
    engine._reply(True, Msg.SLOT_OPENED, locker=locker, seconds=str(seconds))
    return True


# ---- refusals --------------------------------------------------------------------------------


def _locker_refusal(engine: Engine, locker: str) -> Refusal | None:
    """Why staff may not change this locker's record now, or None."""
    if locker not in engine.layout.lockers:
        return Msg.UNKNOWN_LOCKER, {"locker": locker}
    s = engine.session
    if s is not None and s.kind != STAFF and locker in {s.locker, *engine._session_lockers(s)}:
        return Msg.LOCKER_IN_USE, {"locker": locker}
    # A cut-short session on it is decided by its cabinet's next status, not by staff.
    if any(p.locker == locker for p in engine.unresolved):
        return Msg.LOCKER_BEING_CHECKED, {"locker": locker}
    return None


def _not_rented(engine: Engine, locker: str) -> Refusal | None:
    if engine.lockers[locker].holder is None:
        return Msg.NO_ACTIVE_RENTAL, {"locker": locker}
    return None


def _refuse(
    engine: Engine,
    action: str,
    refused: Refusal,
    staff: str,
    reason: str,
    via: str,
    member_id: str | None = None,
    locker: str | None = None,
) -> None:
    msg, params = refused
    where = params.get("locker", locker)
    details = {k: v for k, v in params.items() if k != "locker"}
    engine._audit(
        "admin_refused",
        member_id,
        where,
        action=action,
        msg=str(msg),
        staff=staff,
        reason=reason,
        via=via,
        **details,
    )
    engine._reply(False, msg, **params)
    if via == KIOSK:  # the staff member is at the screen; the console shows the reply itself
        engine._say(msg, "error", **params)


# ---- openings: relocking, re-arming, sensors behind an open lock ------------------------------


def covered(engine: Engine, where: tuple[int, int]) -> list[str]:
    """The lockers whose keys an open lock exposes: one slot, or a whole shared-door cabinet."""
    cab, slot = where
    if slot == 0:
        return list(engine.layout.cabinets[cab].lockers)
    return [engine.layout.by_slot[where]]


def under_maintenance(engine: Engine, locker: str) -> bool:
    """Whether staff have this locker's slot (or its cabinet's door) open."""
    return bool(engine.openings) and engine.layout.lock_slot(locker) in engine.openings


def wakeups(engine: Engine) -> list[float]:
    """The monotonic times at which an opening must be re-armed or relocked."""
    times: list[float] = []
    for opening in engine.openings.values():
        times.append(opening.deadline_mono)
        if opening.rearm_mono is not None:
            times.append(opening.rearm_mono)
    return times


def on_tick(engine: Engine) -> None:
    """Relock the openings whose deadline has come; re-arm the long ones."""
    now = engine._now.mono
    for where, opening in sorted(engine.openings.items()):
        if now >= opening.deadline_mono:
            relock(engine, where, "deadline")
        elif opening.rearm_mono is not None and now >= opening.rearm_mono:
            _unlock(engine, where, opening)


def relock(engine: Engine, where: tuple[int, int], cause: str) -> None:
    """End an opening: lock it (unless its cabinet is offline or LockAll follows) and audit."""
    opening = engine.openings.pop(where)
    cab, slot = where
    locked = cause != "shutdown" and cab in engine.online
    engine._audit(
        "admin_relock",
        opening.member_id,
        opening.locker,
        staff=opening.staff,
        reason=opening.reason,
        via=opening.via,
        cause=cause,
        cabinet=cab,
        slot=slot,
        sent=locked,
    )
    if locked:
        _command(engine, Lock(cab, slot), opening)
    for number in covered(engine, where):
        engine._set(number, locked_until=None)


def end_all(engine: Engine, cause: str) -> None:
    """End every opening (the kiosk is stopping: LockAll locks them)."""
    for where in sorted(engine.openings):
        relock(engine, where, cause)


def on_unlock_refused(engine: Engine, cab: int, slot: int) -> bool:
    """A controller refused an opening's unlock: the opening is over. False if not ours."""
    if (cab, slot) not in engine.openings:
        return False
    relock(engine, (cab, slot), "unlock_refused")
    return True


def _unlock(engine: Engine, where: tuple[int, int], opening: Opening) -> None:
    """Unlock for at most the time left, re-arming later when that exceeds one unlock."""
    now = engine._now.mono
    left_ms = max(1, math.floor((opening.deadline_mono - now) * 1000))
    ms = min(left_ms, UNLOCK_MAX_MS)
    opening.rearm_mono = now + UNLOCK_MAX_MS / 1000 - REARM_MARGIN_S if left_ms > ms else None
    _command(engine, Unlock(where[0], where[1], ms), opening)


def _command(engine: Engine, command: Command, opening: Opening) -> None:
    # Not engine._send: that names the session in progress, which is not the one acting here.
    engine._step.commands.append(command)
    engine._audit(
        "command",
        opening.member_id,
        opening.locker,
        command=type(command).__name__,
        **vars(command),
        staff=opening.staff,
    )


def maintenance_key(engine: Engine, locker: str, present: bool) -> None:
    """A key came into or left an un-held locker's slot while staff have it open."""
    st = engine.lockers[locker]
    opening = engine.openings[engine.layout.lock_slot(locker)]
    previous = st.service
    if present and previous is Service.SET_ASIDE:
        # Staff put a key in by hand: the locker is free again. A disabled one stays out.
        engine._set(locker, service=Service.IN_SERVICE, reason=None)
    engine._audit(
        "maintenance_key_added" if present else "maintenance_key_removed",
        opening.member_id,
        locker,
        staff=opening.staff,
        service=str(st.service),
        previous=str(previous),
    )


# ---- the kiosk's staff menu ------------------------------------------------------------------


def is_staff_card(engine: Engine, member: Member) -> bool:
    """Whether a scanned card opens the staff menu: active staff not renting anything."""
    category = next(
        (v for k, v in member.attributes.items() if k.casefold() == "category"), ""
    ).strip()
    if category.casefold() not in STAFF_CATEGORIES:
        return False
    # A suspended, expired or renting staff card is handled (refused) like any member's.
    if rules.refusal(member, engine._now.wall, 0, engine.policy.tz) is not None:
        return False
    mid = member.member_id
    return not any(st.holder and st.holder.member_id == mid for st in engine.lockers.values())


def open_menu(engine: Engine, member: Member) -> None:
    """Start a staff session: the menu of slots staff can open, with the usual deadline."""
    # Audited only: active_transactions holds rental and return sessions alone.
    s = engine._new_session(STAFF, member.member_id, member)
    engine._goto(Phase.STAFF_MENU)
    engine._audit("staff_menu", s.member_id, None, s.tx_id, action="open", staff=member.name)
    engine._say(Msg.STAFF_MENU)


def menu_lockers(engine: Engine) -> tuple[str, ...]:
    """The lockers the staff menu offers: every locker whose cabinet is online."""
    online = engine.online
    return tuple(n for n in engine.layout.order() if engine.layout.lockers[n].cabinet in online)


def menu_select(engine: Engine, s: Session, locker: str) -> None:
    """Staff chose a slot in the menu: open it for MENU_OPEN_S and leave the menu."""
    assert s.member is not None
    name = s.member.name
    if open_slot(engine, locker, MENU_OPEN_S, MENU_REASON, name, KIOSK, s.member_id):
        close_menu(engine, "completed", Msg.SLOT_OPENED, locker=locker, seconds=str(MENU_OPEN_S))


def close_menu(engine: Engine, status: str, msg: Msg, **params: str) -> None:
    """Leave the staff menu (chosen, cancelled, deadline, link lost or shutdown)."""
    s = engine.session
    assert s is not None and s.kind == STAFF
    engine._audit("staff_menu", s.member_id, None, s.tx_id, action="close", status=status)
    engine.session = None
    engine._goto(Phase.IDLE if engine.online else Phase.OUT_OF_SERVICE)
    level = {"completed": "success", "cancelled": "info", "timeout": "info"}.get(status, "error")
    engine._say(Msg.IDLE if status == "timeout" else msg, level, **params)

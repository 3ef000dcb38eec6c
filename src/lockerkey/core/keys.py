"""Key sensors: a key leaving or entering a slot, and what it means for rentals and returns.

The sensors cannot tell keys apart: a key is taken to be the one whose slot it is in, and where
that is doubtful the locker is set aside for staff instead of guessed at.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from lockerkey.core import ops, rules, staff
from lockerkey.core.events import Beep, DoorSensed, LockSensed
from lockerkey.core.messages import Msg
from lockerkey.core.model import ErrorCode, Member, RentalStatus, Service
from lockerkey.core.state import Holder, Phase

if TYPE_CHECKING:
    from lockerkey.core.engine import Engine


def on_key(engine: Engine, cab: int, slot: int, present: bool) -> None:
    """A controller reported a key sensor change."""
    locker = engine.layout.by_slot.get((cab, slot))
    engine._audit("key", locker=locker, cabinet=cab, slot=slot, present=present)
    if locker is None or cab not in engine.online:
        # Unknown slot, or a controller not yet reconciled: its next status is the truth,
        # and taking this reading now would hide the change from that reconciliation.
        return
    key_changed(engine, locker, present)


def key_changed(engine: Engine, locker: str, present: bool) -> None:
    """What a key leaving or entering ``locker``'s slot means, given the session (if any)."""
    st = engine.lockers[locker]
    before = st.key
    if before is present:
        return
    engine._set(locker, key=present)
    if before is None and present:
        return  # first report of a key that is where it belongs
    s = engine.session
    if s is not None and s.kind != staff.STAFF:  # the staff menu has no session row
        engine._write(ops.SessionSensor(s.tx_id, locker, present, engine._now.wall))
    if st.holder is None and staff.under_maintenance(engine, locker):
        staff.maintenance_key(engine, locker, present)  # staff's hands, not a tamper
        return
    cab = engine.layout.lockers[locker].cabinet
    in_session = s is not None and any(c == cab for c, _ in s.opened)
    if not present:
        if (
            s is not None
            and engine.phase is Phase.TAKE_KEY
            and in_session
            and (engine.layout.shared_door or locker == s.locker)
        ):
            rental_taken(engine, locker)
        elif st.holder is None and st.service is not Service.SET_ASIDE:
            code = ErrorCode.FORCED_REMOVAL if before else ErrorCode.KEY_MISSING
            engine._set_aside(locker, code)
            msg = Msg.FORCED_REMOVAL if before else Msg.KEY_MISSING
            engine._say(msg, "alert", locker=locker)
        else:
            engine._audit("key_gone", locker=locker)
    elif (
        s is not None
        and engine.phase is Phase.RETURN_KEY
        and (in_session or not engine.layout.shared_door)
    ):
        return_sensed(engine, locker)
    elif st.holder is not None:
        unscanned_return(engine, locker, st.holder)
    else:
        engine._audit("key_back", locker=locker, service=str(st.service))


def record_taken(
    engine: Engine,
    tx_id: str,
    member_id: str,
    member: Member | None,
    locker: str,
    started: datetime,
    details: str | None,
) -> ErrorCode | None:
    """A sensor saw ``locker``'s key leave for this rental: write it, and say what was wrong."""
    st = engine.lockers[locker]
    code: ErrorCode | None = None
    if st.service is not Service.IN_SERVICE or st.holder is not None:
        code = ErrorCode.SET_ASIDE_TAKEN
    elif member is not None and not rules.may_use(engine.layout, locker, member):
        code = ErrorCode.NOT_ALLOWED_TAKEN
    status = RentalStatus.ACTIVE if code is None else RentalStatus.ABNORMAL
    engine._write(
        ops.ConfirmRental(
            tx_id,
            member_id,
            locker,
            started,
            engine._now.wall,
            status,
            engine._day_start(),
            code,
            details if code is None else f"took key {locker}" + (f"; {details}" if details else ""),
        )
    )
    if code is not ErrorCode.SET_ASIDE_TAKEN:  # a set-aside slot's key is of unknown identity
        engine._set(locker, holder=Holder(member_id, tx_id))
    engine._set(locker, key=False, last_rented=engine._now.wall)
    if code is not None:
        engine._set_aside(locker, code)
    return code


def rental_taken(engine: Engine, locker: str) -> None:
    """The member in session took a key: the rental is decided, the session ends."""
    s = engine.session
    assert s is not None and s.member is not None
    code = record_taken(engine, s.tx_id, s.member_id, s.member, locker, s.started, None)
    engine._audit(
        "rental_active" if code is None else "rental_abnormal", s.member_id, locker, s.tx_id
    )
    s.locker = locker
    engine._finish("completed")
    if code is None:
        engine._send(Beep(engine.layout.lockers[locker].cabinet, "ok"))
        engine._say(Msg.RENTAL_OK, "success", locker=locker)
    else:
        engine._say(Msg.RENTAL_NOT_ALLOWED, "alert", locker=locker)


def return_sensed(engine: Engine, actual: str) -> None:
    """During a return, a key came into ``actual``: home (returned) or elsewhere (abnormal)."""
    s = engine.session
    assert s is not None and s.locker is not None and s.rental_tx is not None
    target = s.locker
    ok = actual == target
    engine._write(
        ops.CompleteReturn(
            s.rental_tx,
            s.member_id,
            target,
            actual,
            engine._now.wall,
            RentalStatus.RETURNED if ok else RentalStatus.ABNORMAL,
            None if ok else ErrorCode.WRONG_SLOT,
            None if ok else f"key of {target} returned into slot of {actual}",
        )
    )
    if ok:
        engine._set(target, holder=None)
        engine._finish("completed")
        engine._audit("returned", s.member_id, target, s.rental_tx)
        engine._send(Beep(engine.layout.lockers[target].cabinet, "ok"))
        engine._say(Msg.RETURN_OK, "success", locker=target)
    else:
        # Set aside while the holder is still recorded, so the alert names this member and
        # rental; the other slot's alert names its own holder and says who put the key there.
        engine._set_aside(target, ErrorCode.WRONG_SLOT, actual=actual)
        engine._set_aside(actual, ErrorCode.WRONG_SLOT, target=target, returned_by=s.member_id)
        engine._set(target, holder=None)
        engine._finish("failed")
        engine._say(Msg.RETURN_WRONG_SLOT, "alert", locker=target, actual=actual)


def unscanned_return(engine: Engine, locker: str, holder: Holder) -> None:
    """A rented key sensed back in its own slot without a scan: the sensor confirms it."""
    engine._write(
        ops.CompleteReturn(
            holder.tx_id,
            holder.member_id,
            locker,
            locker,
            engine._now.wall,
            RentalStatus.RETURNED,
            None,
            "returned without a return scan",
        )
    )
    engine._set(locker, holder=None)
    engine._audit("returned_unscanned", holder.member_id, locker, holder.tx_id)
    if engine.session is None:
        engine._say(Msg.RETURN_OK, "success", locker=locker)


def on_door_or_lock(engine: Engine, event: DoorSensed | LockSensed) -> None:
    """Mirror a door or lock change (slot 0: the shared door, for every locker behind it)."""
    is_door = isinstance(event, DoorSensed)
    value = event.open if isinstance(event, DoorSensed) else event.locked
    engine._audit(
        "door" if is_door else "lock", cabinet=event.cabinet, slot=event.slot, value=value
    )
    numbers = (
        [n for n, sp in engine.layout.lockers.items() if sp.cabinet == event.cabinet]
        if event.slot == 0
        else [n for n in [engine.layout.by_slot.get((event.cabinet, event.slot))] if n]
    )
    for number in numbers:
        engine._set(number, **({"door": value} if is_door else {"locked": value}))

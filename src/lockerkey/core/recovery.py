"""Bringing the engine's picture in line with a controller's status: startup, reconnects, resyncs.

The status snapshot is the truth. Sessions cut short by a restart or a link loss are resolved
from it first (a key gone means it was taken, a key home means it came back); any difference
left over is then handled exactly like a live sensor change.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lockerkey.core import keys, ops, staff
from lockerkey.core.events import Lock, LockAll, Snapshot
from lockerkey.core.messages import Msg
from lockerkey.core.model import RentalStatus
from lockerkey.core.state import Pending, Phase

if TYPE_CHECKING:
    from lockerkey.core.engine import Engine

RECOVERED = "recovered from cabinet status after a restart or link loss"


def _flag(text: str, index: int, on: str = "1") -> bool | None:
    """Char ``index`` of a status string: True/False, or None for '-' (nothing there)."""
    char = text[index]
    return None if char == "-" else char == on


def on_snapshot(engine: Engine, snap: Snapshot) -> None:
    """Reconcile one controller from its full status, then lock it (unless a session uses it)."""
    cab = snap.cabinet
    spec = engine.layout.cabinets[cab] if 0 <= cab < len(engine.layout.cabinets) else None
    size = len(spec.lockers) + 1 if spec else 0
    if spec is None or min(len(snap.keys), len(snap.doors), len(snap.locks)) < size:
        engine._audit("snapshot_rejected", cabinet=cab, slots=len(snap.keys) - 1, expected=size - 1)
        return
    engine._audit("snapshot", cabinet=cab, keys=snap.keys, doors=snap.doors, locks=snap.locks)
    shared = engine.layout.shared_door
    sensed: dict[str, bool] = {}
    for slot, number in enumerate(spec.lockers, start=1):
        lock_index = 0 if shared else slot
        engine._set(
            number,
            door=_flag(snap.doors, 0 if shared else slot),
            locked=_flag(snap.locks, lock_index),
        )
        sensed[number] = snap.keys[slot] == "1"
    for pending in [p for p in engine.unresolved if cab in p.cabinets]:
        _resolve(engine, pending, cab, sensed)
    engine.online.add(cab)
    for number, present in sensed.items():
        keys.key_changed(engine, number, present)
    session = engine.session
    if session is None or all(c != cab for c, _ in session.opened):
        engine._send(LockAll(cab))
    if engine.phase is Phase.OUT_OF_SERVICE:
        engine._goto(Phase.IDLE)
        engine._say(Msg.IDLE)


def _resolve(engine: Engine, p: Pending, cab: int, sensed: dict[str, bool]) -> None:
    """Decide a cut-short session from what the sensors say now; nothing else is assumed."""
    now = engine._now.wall
    if p.kind == "return":
        assert p.locker is not None and p.rental_tx is not None
        if sensed[p.locker]:
            engine._write(
                ops.CompleteReturn(
                    p.rental_tx,
                    p.member_id,
                    p.locker,
                    p.locker,
                    now,
                    RentalStatus.RETURNED,
                    None,
                    RECOVERED,
                )
            )
            engine._set(p.locker, holder=None, key=True)
            engine._audit("recovered", p.member_id, p.locker, p.rental_tx, outcome="returned")
            status = "completed"
        else:
            engine._audit("recovered", p.member_id, p.locker, p.rental_tx, outcome="not_returned")
            status = "failed"
        _close(engine, p, status)
        return
    locker = p.locker
    if locker is None:  # shared door: the first key gone that nobody holds is the one taken
        candidates = [
            n
            for n, present in sensed.items()
            if not present
            and engine.lockers[n].key is not False
            and engine.lockers[n].holder is None
        ]
        locker = candidates[0] if candidates else None
    elif sensed[locker]:
        locker = None
    if locker is None:
        p.cabinets.discard(cab)
        if p.cabinets:
            return  # another controller may still hold the answer
        if p.locker is not None:
            engine._write(ops.CancelRental(p.tx_id, now, "key not taken (" + RECOVERED + ")"))
        engine._audit("recovered", p.member_id, p.locker, p.tx_id, outcome="not_taken")
        _close(engine, p, "cancelled")
        return
    keys.record_taken(engine, p.tx_id, p.member_id, p.member, locker, p.started, RECOVERED)
    engine._audit("recovered", p.member_id, locker, p.tx_id, outcome="taken")
    _close(engine, p, "completed")


def _close(engine: Engine, p: Pending, status: str) -> None:
    engine.unresolved.remove(p)
    engine._write(ops.EndSession(p.tx_id, status, engine._now.wall))


def on_link_lost(engine: Engine, cab: int, reason: str) -> None:
    """A controller is gone: a session using it is ended safely and left for its status."""
    engine._audit("link_lost", cabinet=cab, reason=reason)
    engine.online.discard(cab)
    s = engine.session
    if s is not None and engine.phase is Phase.CHOOSE_LOCKER:
        s.offered = tuple(n for n in s.offered if engine.layout.lockers[n].cabinet != cab)
        if not s.offered:
            engine._end_step("failed", Msg.LINK_LOST)
    elif s is not None and any(c == cab for c, _ in s.opened):
        _interrupt(engine, {cab})
        engine._say(Msg.LINK_LOST, "error")
    elif s is not None and s.kind == staff.STAFF and not engine.online:
        engine._end_step("failed", Msg.LINK_LOST)
    if not engine.online:
        if engine.phase is not Phase.OUT_OF_SERVICE:
            engine._goto(Phase.OUT_OF_SERVICE)
        if engine.notice is None or engine.notice.msg is not Msg.LINK_LOST:
            engine._say(Msg.OUT_OF_SERVICE, "error")


def _interrupt(engine: Engine, cabinets: set[int]) -> None:
    """Leave the session for the next status of ``cabinets`` to decide; lock the others."""
    s = engine.session
    assert s is not None
    # Nothing is recorded as done: the next status of those controllers decides.
    for c, slot in s.opened:
        if c not in cabinets:
            engine._send(Lock(c, slot))
    engine.unresolved.append(
        Pending(
            s.tx_id,
            s.kind,
            s.member_id,
            s.locker,
            set(cabinets),
            s.started,
            s.rental_tx,
            s.member,
            str(engine.phase),
        )
    )
    for number in engine._session_lockers(s):
        engine._set(number, session_tx=None, locked_until=None)
    engine._write(ops.EndSession(s.tx_id, "interrupted", engine._now.wall))
    engine.session = None
    engine._goto(Phase.IDLE if engine.online else Phase.OUT_OF_SERVICE)


def on_shutdown(engine: Engine) -> None:
    """The kiosk is stopping: nothing half-done is decided now, and every cabinet is locked.

    A session that has unlocked something is left 'interrupted' for the controllers' status
    after the restart to decide (a key gone was taken, a key home was not); one still at the
    locker choice has unlocked nothing and is simply cancelled.
    """
    s = engine.session
    engine._audit("shutdown", s.member_id if s else None, s.locker if s else None)
    if s is not None and s.opened:
        _interrupt(engine, {c for c, _ in s.opened})
    elif s is not None:
        engine._end_step("cancelled", Msg.CANCELLED)
    staff.end_all(engine, "shutdown")  # maintenance openings: the LockAll below locks them
    for cab in sorted(engine.online):
        engine._send(LockAll(cab))
    engine.online.clear()
    if engine.phase is not Phase.OUT_OF_SERVICE:
        engine._goto(Phase.OUT_OF_SERVICE)
    engine._say(Msg.OUT_OF_SERVICE)


def on_unlock_refused(engine: Engine, cab: int, slot: int, reason: str) -> None:
    """A controller refused to open a slot of the current step: end that step, nothing taken."""
    s = engine.session
    engine._audit(
        "unlock_refused", s.member_id if s else None, cabinet=cab, slot=slot, reason=reason
    )
    if staff.on_unlock_refused(engine, cab, slot):
        return  # a maintenance opening's: it is over
    if s is None or (cab, slot) not in s.opened:
        return  # an old session's unlock, or a re-arm after the step ended
    engine._end_step("failed", Msg.UNLOCK_FAILED)


def start(engine: Engine) -> None:
    """At startup: sessions that never unlocked anything are simply over."""
    for p in list(engine.unresolved):
        if p.phase == str(Phase.CHOOSE_LOCKER):
            engine._audit("recovered", p.member_id, None, p.tx_id, outcome="not_started")
            _close(engine, p, "cancelled")
        else:
            # No longer the live session: only the one being served is ever 'active'.
            engine._write(ops.EndSession(p.tx_id, "interrupted", engine._now.wall))
    engine._audit("engine_started", lockers=len(engine.lockers), pending=len(engine.unresolved))

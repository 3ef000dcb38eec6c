"""The rental/return engine: events and the time come in, a Step (writes, commands) goes out."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta

from lockerkey.core import keys, ops, recovery, rules, staff
from lockerkey.core.events import (
    Beep,
    Cancel,
    Command,
    ControllerFault,
    DoorSensed,
    Event,
    ForceReturn,
    KeySensed,
    LinkLost,
    Lock,
    LockSensed,
    MarkLost,
    Notice,
    Now,
    OpenSlot,
    Reply,
    Scan,
    Select,
    SetService,
    Shutdown,
    Snapshot,
    Step,
    Tick,
    Unlock,
    UnlockRefused,
)
from lockerkey.core.layout import REARM_MARGIN_S, UNLOCK_MAX_MS, Layout, Policy
from lockerkey.core.messages import Msg
from lockerkey.core.model import ErrorCode, Member, Service
from lockerkey.core.state import (
    LockerState,
    Pending,
    Phase,
    Session,
    View,
    check_transition,
)


class Engine:
    """One kiosk's rules, as a state machine over a Layout; pure and single-threaded."""

    def __init__(
        self,
        layout: Layout,
        policy: Policy,
        new_id: Callable[[], str],
        lockers: Mapping[str, LockerState] | None = None,
        unresolved: Iterable[Pending] = (),
    ) -> None:
        self.layout = layout
        self.policy = policy
        self.new_id = new_id
        self.lockers: dict[str, LockerState] = {
            number: (lockers or {}).get(number) or LockerState() for number in layout.order()
        }
        self.unresolved: list[Pending] = list(unresolved)
        self.phase = Phase.OUT_OF_SERVICE
        self.session: Session | None = None
        self.online: set[int] = set()
        self.notice: Notice | None = Notice(Msg.OUT_OF_SERVICE)
        self._step = Step()
        self._now = Now(datetime(1970, 1, 1, tzinfo=UTC), 0.0)
        self._dirty: set[str] = set()
        self.openings: dict[tuple[int, int], staff.Opening] = {}  # by (cabinet, lock slot)

    # ---- public API --------------------------------------------------------------------------

    def handle(self, event: Event, now: Now) -> Step:
        """Apply one event at ``now`` and return what must be written and sent, in that order."""
        self._step, self._now, self._dirty = Step(), now, set()
        match event:
            case Scan():
                self._on_scan(event)
            case Select(locker=locker):
                self._on_select(locker)
            case Cancel():
                self._on_cancel()
            case Tick():
                self._on_tick()
            case KeySensed(cabinet=cab, slot=slot, present=present):
                keys.on_key(self, cab, slot, present)
            case DoorSensed() | LockSensed():
                keys.on_door_or_lock(self, event)
            case Snapshot():
                recovery.on_snapshot(self, event)
            case LinkLost(cabinet=cab, reason=reason):
                recovery.on_link_lost(self, cab, reason)
            case Shutdown():
                recovery.on_shutdown(self)
            case UnlockRefused(cabinet=cab, slot=slot, reason=reason):
                recovery.on_unlock_refused(self, cab, slot, reason)
            case ControllerFault(cabinet=cab, code=code, slot=at):
                # Staff see it in the audit log; the member's screen is not the place.
                where = self.layout.by_slot.get((cab, at)) if at else None
                self._audit("controller_fault", locker=where, cabinet=cab, code=code, slot=at)
            case ForceReturn() | MarkLost() | SetService() | OpenSlot():
                staff.on_action(self, event)
        return self._flush()

    def start(self, now: Now) -> Step:
        """Close what a restart left that needs no controller; call once, before any event."""
        self._step, self._now, self._dirty = Step(), now, set()
        recovery.start(self)
        return self._flush()

    def _flush(self) -> Step:
        for number in sorted(self._dirty):
            self._write(self._locker_row(number))
        return self._step

    def next_wakeup(self) -> float | None:
        """The monotonic time at which a Tick is next needed, if any."""
        s = self.session
        times = staff.wakeups(self)
        if s is not None:
            times += [s.deadline_mono] if s.rearm_mono is None else [s.deadline_mono, s.rearm_mono]
        return min(times, default=None)

    def view(self) -> View:
        """The screen's state: phase, message, chosen locker, offered lockers, deadline."""
        s = self.session
        return View(
            phase=self.phase,
            notice=self.notice,
            locker=s.locker if s else None,
            available=staff.menu_lockers(self)
            if self.phase is Phase.STAFF_MENU
            else (s.offered if s and self.phase is Phase.CHOOSE_LOCKER else ()),
            deadline=s.deadline_wall if s else None,
            online=tuple(sorted(self.online)),
        )

    def available_for(self, member: Member) -> list[str]:
        """Lockers this member may be given now, in layout order."""
        # On every card scan, over every locker: cheap checks first, each zone judged once.
        pending = {p.locker for p in self.unresolved}
        zone_ok: dict[str | None, bool] = {}
        free = []
        for number, st in self.lockers.items():
            if st.key is not True or st.holder is not None or number in pending:
                continue
            spec = self.layout.lockers[number]
            if st.service is not Service.IN_SERVICE or spec.cabinet not in self.online:
                continue
            if staff.under_maintenance(self, number):
                continue
            if spec.zone not in zone_ok:
                zone_ok[spec.zone] = rules.may_use(self.layout, number, member)
            if zone_ok[spec.zone]:
                free.append(number)
        return free

    # ---- helpers used by both halves ---------------------------------------------------------

    def _write(self, op: ops.LedgerOp) -> None:
        self._step.writes.append(op)

    def _audit(
        self,
        kind: str,
        member_id: str | None = None,
        locker: str | None = None,
        tx_id: str | None = None,
        **details: object,
    ) -> None:
        self._write(ops.Audit(kind, self._now.wall, member_id, locker, tx_id, details))

    def _send(self, command: Command) -> None:
        self._step.commands.append(command)
        s = self.session
        slot = getattr(command, "slot", None)
        locker = self.layout.by_slot.get((command.cabinet, slot)) if slot else None
        self._audit(
            "command",
            s.member_id if s else None,
            locker or (s.locker if s else None),
            s.tx_id if s else None,
            command=type(command).__name__,
            **vars(command),
        )

    def _reply(self, ok: bool, msg: Msg, **params: str) -> None:
        self._step.reply = Reply(ok, msg, params)

    def _say(self, msg: Msg, level: str = "info", **params: str) -> None:
        self.notice = Notice(msg, params, level)
        self._step.notices.append(self.notice)
        self._audit("message", msg=str(msg), level=level, **params)

    def _goto(self, phase: Phase) -> None:
        check_transition(self.phase, phase)
        self.phase = phase

    def _set(self, locker: str, **changes: object) -> None:
        st = self.lockers[locker]
        for name, value in changes.items():
            setattr(st, name, value)
        self._dirty.add(locker)

    def _locker_row(self, number: str) -> ops.LockerRow:
        st = self.lockers[number]
        return ops.LockerRow(
            locker=number,
            key_present=st.key,
            door_open=st.door,
            locked=st.locked,
            current_member=st.holder.member_id if st.holder else None,
            current_transaction=st.session_tx,
            locked_until=st.locked_until,
            service=st.service,
            service_reason=st.reason,
            at=self._now.wall,
        )

    def _day_start(self) -> datetime:
        return rules.local_day_start(self._now.wall, self.policy.tz)

    def _set_aside(self, locker: str, code: ErrorCode, **details: object) -> None:
        self._set(locker, service=Service.SET_ASIDE, reason=str(code))
        spec = self.layout.lockers[locker]
        holder = self.lockers[locker].holder
        self._audit(
            "set_aside",
            holder.member_id if holder else None,
            locker,
            holder.tx_id if holder else None,
            code=str(code),
            **details,
        )
        self._send(Beep(spec.cabinet, "alert"))

    # ---- scans -------------------------------------------------------------------------------

    def _on_scan(self, scan: Scan) -> None:
        if not rules.valid_code(scan.code):
            # ascii() keeps control characters and undecodable bytes visible but harmless.
            self._audit("scan_rejected", code=ascii(scan.code)[:200], length=len(scan.code))
            if self.session is None:
                self._say(Msg.INVALID_CODE, "error")
            return
        member = scan.member
        member_id = member.member_id if member else None
        key_of = self.layout.by_key_code.get(scan.code)
        self._audit("scan", member_id, key_of, code=scan.code, read_as="key" if key_of else "card")
        if self.phase is Phase.OUT_OF_SERVICE:
            self._say(Msg.OUT_OF_SERVICE, "error")
            return
        if self.session is not None:
            s = self.session
            if member_id == s.member_id or (key_of is not None and key_of == s.locker):
                return  # the same person scanning again: keep the current step on screen
            self._audit("busy", member_id, key_of, s.tx_id)
            self._say(Msg.BUSY, "error")
            return
        if key_of is not None:
            self._start_return(key_of)
        elif member is not None and staff.is_staff_card(self, member):
            staff.open_menu(self, member)
        else:
            self._start_rental(member)

    def _refuse(self, member_id: str | None, msg: Msg, params: Mapping[str, str]) -> None:
        self._audit("refused", member_id, reason=str(msg), **params)
        self._say(msg, "error", **params)

    def _start_rental(self, member: Member | None) -> None:
        refused = rules.refusal(member, self._now.wall, self.policy.daily_limit, self.policy.tz)
        if refused is not None or member is None:
            msg, params = refused or (Msg.UNKNOWN_CARD, {})
            self._refuse(None if member is None else member.member_id, msg, params)
            return
        held = next(
            (
                n
                for n, st in self.lockers.items()
                if st.holder and st.holder.member_id == member.member_id
            ),
            None,
        )
        if held is not None:
            self._refuse(member.member_id, Msg.ALREADY_RENTING, {"locker": held})
            return
        if any(p.member_id == member.member_id for p in self.unresolved):
            self._refuse(member.member_id, Msg.CHECKING_PREVIOUS, {})
            return
        available = self.available_for(member)
        if not available:
            self._refuse(member.member_id, Msg.NO_LOCKER_FREE, {})
            return
        s = self._new_session("rental", member.member_id, member)
        self._audit("session_started", member.member_id, None, s.tx_id, session="rental")
        if self.layout.shared_door:
            cabinets = sorted({self.layout.lockers[n].cabinet for n in available})
            self._write(self._start_op(s, Phase.TAKE_KEY))
            self._goto(Phase.TAKE_KEY)
            self._release([(cab, 0) for cab in cabinets])
            self._say(Msg.TAKE_ANY_KEY)
        elif self.policy.selection == "auto":
            last = {n: self.lockers[n].last_rented for n in available}
            chosen = rules.pick_least_used(available, last)
            assert chosen is not None  # available is not empty
            s.locker = chosen  # named in the session row, so a restart knows which slot
            self._write(self._start_op(s, Phase.TAKE_KEY))
            self._take(chosen)
        else:
            s.offered = tuple(available)
            self._write(self._start_op(s, Phase.CHOOSE_LOCKER))
            self._goto(Phase.CHOOSE_LOCKER)
            self._audit("offered", member.member_id, None, s.tx_id, lockers=list(available))
            self._say(Msg.CHOOSE_LOCKER)

    def _new_session(self, kind: str, member_id: str, member: Member | None) -> Session:
        deadline = self.policy.timeout_s
        self.session = Session(
            tx_id=self.new_id(),
            kind=kind,
            member_id=member_id,
            member=member,
            started=self._now.wall,
            deadline_mono=self._now.mono + deadline,
            deadline_wall=self._now.wall + timedelta(seconds=deadline),
        )
        return self.session

    def _start_op(self, s: Session, phase: Phase) -> ops.StartSession:
        return ops.StartSession(
            s.tx_id,
            s.kind,
            s.member_id,
            s.locker,
            str(phase),
            s.started,
            s.deadline_wall,
            s.rental_tx,
        )

    def _restart_deadline(self, s: Session) -> None:
        s.deadline_mono = self._now.mono + self.policy.timeout_s
        s.deadline_wall = self._now.wall + timedelta(seconds=self.policy.timeout_s)

    def _take(self, locker: str) -> None:
        """Per-slot rental: commit the pending rental, then unlock the chosen slot."""
        s = self.session
        assert s is not None
        s.locker = locker
        self._write(ops.CreatePendingRental(s.tx_id, s.member_id, locker, s.started))
        self._goto(Phase.TAKE_KEY)
        self._release([self.layout.lock_slot(locker)])
        self._say(Msg.TAKE_KEY, locker=locker)

    def _release(self, slots: list[tuple[int, int]]) -> None:
        """Unlock slots for at most the time left, re-arming later when that exceeds 60 s."""
        s = self.session
        assert s is not None
        s.opened = tuple(slots)
        left_ms = max(1, math.floor((s.deadline_mono - self._now.mono) * 1000))
        ms = min(left_ms, UNLOCK_MAX_MS)
        s.rearm_mono = (
            self._now.mono + UNLOCK_MAX_MS / 1000 - REARM_MARGIN_S if left_ms > ms else None
        )
        for cab, slot in slots:
            self._send(Unlock(cab, slot, ms))
        for number in self._session_lockers(s):
            self._set(number, session_tx=s.tx_id, locked_until=s.deadline_wall)

    def _session_lockers(self, s: Session) -> list[str]:
        if s.locker is not None and not self.layout.shared_door:
            return [s.locker]
        cabinets = {cab for cab, _ in s.opened}
        return [n for n, spec in self.layout.lockers.items() if spec.cabinet in cabinets]

    def _relock(self, s: Session) -> None:
        for cab, slot in s.opened:
            self._send(Lock(cab, slot))
        for number in self._session_lockers(s):
            self._set(number, session_tx=None, locked_until=None)
        s.opened, s.rearm_mono = (), None

    def _finish(self, status: str) -> None:
        s = self.session
        assert s is not None
        self._relock(s)
        self._write(ops.EndSession(s.tx_id, status, self._now.wall))
        self.session = None
        self._goto(Phase.IDLE if self.online else Phase.OUT_OF_SERVICE)

    # ---- choosing, cancelling, deadlines -----------------------------------------------------

    def _on_select(self, locker: str) -> None:
        s = self.session
        if self.phase is Phase.STAFF_MENU and s is not None:
            staff.menu_select(self, s, locker)
            return
        if self.phase is not Phase.CHOOSE_LOCKER or s is None or s.member is None:
            self._audit("select_ignored", locker=locker, phase=str(self.phase))
            self._reply(False, Msg.NOT_CHOOSING)
            return
        self._audit("selected", s.member_id, locker, s.tx_id)
        if locker not in s.offered or locker not in self.available_for(s.member):
            self._say(Msg.LOCKER_NOT_AVAILABLE, "error", locker=locker)
            self._reply(False, Msg.LOCKER_NOT_AVAILABLE, locker=locker)
            return
        self._restart_deadline(s)
        s.locker = locker
        self._write(
            ops.UpdateSession(s.tx_id, locker, str(Phase.TAKE_KEY), self._now.wall, s.deadline_wall)
        )
        self._take(locker)
        self._reply(True, Msg.TAKE_KEY, locker=locker)

    def _on_cancel(self) -> None:
        s = self.session
        if s is None:
            self._reply(False, Msg.NOTHING_TO_CANCEL)
            return
        self._audit("cancelled", s.member_id, s.locker, s.tx_id, phase=str(self.phase))
        self._end_step("cancelled", Msg.CANCELLED)
        self._reply(True, Msg.CANCELLED)

    def _on_tick(self) -> None:
        staff.on_tick(self)
        s = self.session
        if s is None:
            return
        if self._now.mono >= s.deadline_mono:
            self._audit("timeout", s.member_id, s.locker, s.tx_id, phase=str(self.phase))
            timeout_msg = Msg.RETURN_TIMEOUT if s.kind == "return" else Msg.RENTAL_TIMEOUT
            self._end_step("timeout", timeout_msg)
        elif s.rearm_mono is not None and self._now.mono >= s.rearm_mono:
            self._release(list(s.opened))

    def _end_step(self, status: str, msg: Msg) -> None:
        """End the session with nothing taken or returned (cancel or deadline)."""
        s = self.session
        assert s is not None
        if s.kind == staff.STAFF:  # the menu has no ledger row and unlocked nothing
            staff.close_menu(self, status, msg)
            return
        if s.kind == "rental" and s.locker is not None:
            self._write(ops.CancelRental(s.tx_id, self._now.wall, status))
        self._finish(status)
        params = {"locker": s.locker} if s.locker else {}
        self._say(msg, "info" if status == "cancelled" else "error", **params)

    # ---- sensors -----------------------------------------------------------------------------

    def _start_return(self, locker: str) -> None:
        st = self.lockers[locker]
        spec = self.layout.lockers[locker]
        if st.holder is None:
            self._refuse(None, Msg.NO_ACTIVE_RENTAL, {"locker": locker})
            return
        if spec.cabinet not in self.online:
            self._refuse(st.holder.member_id, Msg.OUT_OF_SERVICE, {})
            return
        if staff.under_maintenance(self, locker):  # a staff opening must not read as a return
            self._refuse(st.holder.member_id, Msg.LOCKER_MAINTENANCE, {"locker": locker})
            return
        s = self._new_session("return", st.holder.member_id, None)
        s.locker, s.rental_tx = locker, st.holder.tx_id
        self._write(self._start_op(s, Phase.RETURN_KEY))
        self._write(ops.StartReturn(st.holder.tx_id, locker, self._now.wall))
        self._audit("session_started", s.member_id, locker, s.tx_id, session="return")
        self._goto(Phase.RETURN_KEY)
        self._release([self.layout.lock_slot(locker)])
        self._say(Msg.RETURN_KEY, locker=locker)

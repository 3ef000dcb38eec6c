"""The engine's rules, one behaviour at a time (pure: no database, no clock)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lockerkey.core import ops
from lockerkey.core.events import (
    Beep,
    Cancel,
    ControllerFault,
    DoorSensed,
    KeySensed,
    LinkLost,
    Lock,
    LockAll,
    LockSensed,
    Scan,
    Select,
    Snapshot,
    Step,
    Unlock,
    UnlockRefused,
)
from lockerkey.core.layout import Policy
from lockerkey.core.messages import Msg
from lockerkey.core.model import ErrorCode, MemberStatus, RentalStatus, Service
from lockerkey.core.rules import local_day_start
from lockerkey.core.state import (
    Holder,
    IllegalTransition,
    LockerState,
    Pending,
    Phase,
    check_transition,
)
from tests.conftest import SEOUL, T0, Rig, full_snapshot, member, per_slot_layout, shared_layout


def writes_of(step: Step, kind: type) -> list:
    return [w for w in step.writes if isinstance(w, kind)]


def msgs(step: Step) -> list[Msg]:
    return [n.msg for n in step.notices]


def rent(rig: Rig, who: str = "M1", locker: str = "3") -> Step:
    rig.do(Scan(who, member(who)))
    rig.do(Select(locker))
    slot = rig.layout.lockers[locker].slot
    return rig.do(KeySensed(0, slot, False))


# ---- rentals ----------------------------------------------------------------------------------


def test_choose_flow_commits_intent_before_unlock_and_confirms_on_sensor(rig: Rig) -> None:
    step = rig.do(Scan("M1", member("M1")))
    assert rig.engine.phase is Phase.CHOOSE_LOCKER
    assert step.commands == []  # nothing moves before a locker is chosen
    (start,) = writes_of(step, ops.StartSession)
    assert start.member_id == "M1" and start.kind == "rental"
    assert rig.engine.view().available == ("1", "2", "3", "4", "5", "6")

    step = rig.do(Select("3"))
    assert writes_of(step, ops.CreatePendingRental)[0].locker == "3"
    assert step.commands == [Unlock(0, 3, 30_000)]
    assert rig.engine.phase is Phase.TAKE_KEY
    assert msgs(step) == [Msg.TAKE_KEY]

    step = rig.do(KeySensed(0, 3, False))
    (confirm,) = writes_of(step, ops.ConfirmRental)
    assert confirm.status is RentalStatus.ACTIVE and confirm.locker == "3"
    assert confirm.sensor_time == rig.now().wall
    assert Lock(0, 3) in step.commands
    assert msgs(step) == [Msg.RENTAL_OK]
    assert rig.engine.phase is Phase.IDLE
    assert rig.engine.lockers["3"].holder == Holder("M1", "tx1")
    assert writes_of(step, ops.EndSession)[0].status == "completed"


def test_day_start_is_local_midnight(rig: Rig) -> None:
    step = rent(rig)
    (confirm,) = writes_of(step, ops.ConfirmRental)
    assert confirm.day_start == datetime(2026, 11, 26, tzinfo=SEOUL)


@pytest.mark.parametrize(
    ("who", "expected", "params"),
    [
        (None, Msg.UNKNOWN_CARD, {}),
        (member("M2", MemberStatus.SUSPENDED), Msg.SUSPENDED, {}),
        (member("M2", expiry=date(2026, 11, 25)), Msg.EXPIRED, {"date": "2026-11-25"}),
        (member("M2", MemberStatus.EXPIRED), Msg.EXPIRED, {"date": "2026-11-26"}),
    ],
)
def test_refused_cards_change_nothing(rig: Rig, who, expected: Msg, params: dict) -> None:
    step = rig.do(Scan("M2", who))
    assert msgs(step) == [expected]
    assert step.notices[0].params == params
    assert step.commands == []
    assert not writes_of(step, ops.StartSession)
    assert rig.engine.session is None and rig.engine.phase is Phase.IDLE


def test_expiry_is_inclusive_of_the_local_day(rig: Rig) -> None:
    assert msgs(rig.do(Scan("M2", member("M2", expiry=date(2026, 11, 26))))) == [Msg.CHOOSE_LOCKER]


def test_already_renting_is_refused(rig: Rig) -> None:
    rent(rig)
    again = member("M1")
    step = rig.do(Scan("M1", again))
    assert msgs(step) == [Msg.ALREADY_RENTING]
    assert step.notices[0].params == {"locker": "3"}


def test_daily_limit(rig: Rig) -> None:
    rig.engine.policy = Policy(timeout_s=30, daily_limit=2, tz=SEOUL)
    today = replace(member("M1"), daily_rental_count=2, last_rental_time=T0)
    step = rig.do(Scan("M1", today))
    assert msgs(step) == [Msg.DAILY_LIMIT] and step.notices[0].params == {"limit": "2"}
    # 23:00 the day before, in Seoul: yesterday's count no longer counts
    yesterday = replace(today, last_rental_time=T0 - timedelta(hours=13))
    assert msgs(rig.do(Scan("M1", yesterday))) == [Msg.CHOOSE_LOCKER]


def test_no_locker_free_when_every_key_is_out() -> None:
    r = Rig(per_slot_layout(2))
    r.online(missing=[1, 2])
    step = r.do(Scan("M1", member("M1")))
    assert msgs(step) == [Msg.NO_LOCKER_FREE]
    assert r.engine.session is None


def test_zones_limit_what_is_offered() -> None:
    layout = per_slot_layout(
        4, {"men": (["1", "2"], {"gender": ["M"]}), "women": (["3", "4"], {"gender": ["F"]})}
    )
    r = Rig(layout)
    r.online()
    r.do(Scan("F1", member("F1", gender="f")))
    assert r.engine.view().available == ("3", "4")
    step = r.do(Select("1"))
    assert msgs(step) == [Msg.LOCKER_NOT_AVAILABLE]
    assert step.commands == []
    assert r.engine.phase is Phase.CHOOSE_LOCKER
    r.do(Cancel())
    assert msgs(r.do(Scan("X1", member("X1")))) == [Msg.NO_LOCKER_FREE]


def test_another_member_during_a_session_is_told_busy(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    step = rig.do(Scan("M2", member("M2")))
    assert msgs(step) == [Msg.BUSY]
    assert step.commands == [] and not writes_of(step, ops.StartSession)
    assert rig.engine.session is not None and rig.engine.session.member_id == "M1"
    # the same member scanning again is not "another member"
    assert rig.do(Scan("M1", member("M1"))).notices == []


def test_auto_selection_spreads_wear() -> None:
    lockers = {
        str(i): LockerState(key=True, last_rented=T0 - timedelta(days=i)) for i in range(1, 4)
    }
    lockers["2"].last_rented = None
    r = Rig(per_slot_layout(3), Policy(selection="auto", tz=SEOUL), lockers)
    r.online()
    step = r.do(Scan("M1", member("M1")))
    assert step.commands == [Unlock(0, 2, 30_000)]  # never rented comes first
    r.do(KeySensed(0, 2, False))
    step = r.do(Scan("M2", member("M2")))
    assert step.commands == [Unlock(0, 3, 30_000)]  # then the longest ago


def test_deadline_without_a_key_cancels_and_locks(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    rig.do(Select("3"))
    assert rig.engine.next_wakeup() == rig.t + 30
    assert rig.advance(29.9).commands == []
    step = rig.advance(0.1)
    assert Lock(0, 3) in step.commands
    assert writes_of(step, ops.CancelRental)[0].tx_id == "tx1"
    assert msgs(step) == [Msg.RENTAL_TIMEOUT]
    assert rig.engine.phase is Phase.IDLE and rig.engine.session is None


def test_choosing_has_a_deadline_too(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    step = rig.advance(30)
    assert writes_of(step, ops.EndSession)[0].status == "timeout"
    assert not writes_of(step, ops.CancelRental)  # no rental row existed
    assert rig.engine.phase is Phase.IDLE


def test_long_deadline_rearms_the_unlock() -> None:
    r = Rig(policy=Policy(timeout_s=150, tz=SEOUL))
    r.online()
    r.do(Scan("M1", member("M1")))
    step = r.do(Select("2"))
    assert step.commands == [Unlock(0, 2, 60_000)]
    assert r.engine.next_wakeup() == r.t + 55
    step = r.advance(55)
    assert step.commands == [Unlock(0, 2, 60_000)]
    step = r.advance(55)
    assert step.commands == [Unlock(0, 2, 40_000)]  # never past the deadline
    step = r.advance(40)
    assert Lock(0, 2) in step.commands


def test_cancel_in_each_phase(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    assert msgs(rig.do(Cancel())) == [Msg.CANCELLED]
    rig.do(Scan("M1", member("M1")))
    rig.do(Select("1"))
    step = rig.do(Cancel())
    assert Lock(0, 1) in step.commands and writes_of(step, ops.CancelRental)
    assert rig.do(Cancel()).writes == []  # nothing to cancel when idle


def test_key_taken_after_cancel_is_a_forced_removal(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    rig.do(Select("1"))
    rig.do(Cancel())
    step = rig.do(KeySensed(0, 1, False))
    assert rig.engine.lockers["1"].service is Service.SET_ASIDE
    assert msgs(step) == [Msg.FORCED_REMOVAL]
    assert Beep(0, "alert") in step.commands
    assert not writes_of(step, ops.ConfirmRental)


# ---- returns ----------------------------------------------------------------------------------


def test_return_into_its_own_slot(rig: Rig) -> None:
    rent(rig)
    step = rig.do(Scan("KEY-3"))
    assert step.commands == [Unlock(0, 3, 30_000)]
    assert writes_of(step, ops.StartReturn)[0].rental_tx == "tx1"
    assert rig.engine.phase is Phase.RETURN_KEY
    step = rig.do(KeySensed(0, 3, True))
    (done,) = writes_of(step, ops.CompleteReturn)
    assert done.status is RentalStatus.RETURNED and done.actual == "3" and done.member_id == "M1"
    assert Lock(0, 3) in step.commands
    assert msgs(step) == [Msg.RETURN_OK]
    assert rig.engine.lockers["3"].holder is None


def test_return_into_another_slot_is_abnormal(rig: Rig) -> None:
    rent(rig, "M1", "3")
    rent(rig, "M2", "5")
    rig.do(Scan("KEY-3"))
    step = rig.do(KeySensed(0, 5, True))
    (done,) = writes_of(step, ops.CompleteReturn)
    assert done.status is RentalStatus.ABNORMAL and done.error_code is ErrorCode.WRONG_SLOT
    assert done.target == "3" and done.actual == "5"
    assert rig.engine.lockers["3"].service is Service.SET_ASIDE
    assert rig.engine.lockers["5"].service is Service.SET_ASIDE
    assert msgs(step) == [Msg.RETURN_WRONG_SLOT]
    assert Beep(0, "alert") in step.commands
    # Staff see who put which key where: each alert names its locker's own rental.
    aside = {a.locker: a for a in writes_of(step, ops.Audit) if a.kind == "set_aside"}
    assert (aside["3"].member_id, aside["3"].tx_id) == ("M1", "tx1")
    assert aside["5"].member_id == "M2" and aside["5"].details["returned_by"] == "M1"


def test_return_deadline_leaves_the_rental_active(rig: Rig) -> None:
    rent(rig)
    rig.do(Scan("KEY-3"))
    step = rig.advance(30)
    assert not writes_of(step, ops.CompleteReturn)
    assert Lock(0, 3) in step.commands
    assert msgs(step) == [Msg.RETURN_TIMEOUT]
    assert rig.engine.lockers["3"].holder == Holder("M1", "tx1")


def test_a_key_with_no_rental_unlocks_nothing(rig: Rig) -> None:
    step = rig.do(Scan("KEY-4"))
    assert msgs(step) == [Msg.NO_ACTIVE_RENTAL] and step.commands == []
    assert rig.engine.session is None


def test_return_is_never_refused_for_membership_reasons() -> None:
    lockers = {str(i): LockerState(key=True) for i in range(1, 7)}
    lockers["2"] = LockerState(key=False, holder=Holder("EXPIRED-MEMBER", "old"))
    r = Rig(lockers=lockers)
    r.online(missing=[2])
    assert r.do(Scan("KEY-2")).commands == [Unlock(0, 2, 30_000)]


# ---- shared door -------------------------------------------------------------------------------


def test_shared_door_first_key_taken_decides() -> None:
    r = Rig(shared_layout(4))
    r.online()
    step = r.do(Scan("M1", member("M1")))
    assert step.commands == [Unlock(0, 0, 30_000)]
    assert msgs(step) == [Msg.TAKE_ANY_KEY]
    assert not writes_of(step, ops.CreatePendingRental)  # the locker is not known yet
    step = r.do(KeySensed(0, 4, False))
    (confirm,) = writes_of(step, ops.ConfirmRental)
    assert confirm.locker == "4" and confirm.status is RentalStatus.ACTIVE
    assert Lock(0, 0) in step.commands
    step = r.do(KeySensed(0, 1, False))  # a second key before the door shut
    assert r.engine.lockers["1"].reason == ErrorCode.FORCED_REMOVAL
    assert not writes_of(step, ops.ConfirmRental)


def test_shared_door_key_of_another_zone_is_abnormal() -> None:
    r = Rig(shared_layout(4, {"women": (["3", "4"], {"gender": ["F"]})}))
    r.online()
    r.do(Scan("M1", member("M1", gender="M")))
    step = r.do(KeySensed(0, 3, False))
    (confirm,) = writes_of(step, ops.ConfirmRental)
    assert confirm.status is RentalStatus.ABNORMAL
    assert confirm.error_code is ErrorCode.NOT_ALLOWED_TAKEN
    assert msgs(step) == [Msg.RENTAL_NOT_ALLOWED]
    assert r.engine.lockers["3"].service is Service.SET_ASIDE
    # its key can still come home
    step = r.do(Scan("KEY-3"))
    assert step.commands == [Unlock(0, 0, 30_000)]


def test_shared_door_return() -> None:
    r = Rig(shared_layout(4))
    r.online()
    r.do(Scan("M1", member("M1")))
    r.do(KeySensed(0, 2, False))
    r.do(Scan("KEY-2"))
    step = r.do(KeySensed(0, 2, True))
    assert writes_of(step, ops.CompleteReturn)[0].status is RentalStatus.RETURNED
    assert Lock(0, 0) in step.commands


# ---- sensors outside sessions ------------------------------------------------------------------


def test_forced_removal_and_unscanned_return(rig: Rig) -> None:
    step = rig.do(KeySensed(0, 6, False))
    assert rig.engine.lockers["6"].reason == ErrorCode.FORCED_REMOVAL
    audit = [w for w in step.writes if isinstance(w, ops.Audit) and w.kind == "set_aside"]
    assert audit and audit[0].locker == "6"
    assert msgs(rig.do(Scan("M1", member("M1")))) == [Msg.CHOOSE_LOCKER]
    assert "6" not in rig.engine.view().available
    rig.do(Cancel())
    rent(rig, "M1", "2")
    step = rig.do(KeySensed(0, 2, True))  # back in its own slot without a scan
    (done,) = writes_of(step, ops.CompleteReturn)
    assert done.status is RentalStatus.RETURNED and done.actual == "2"
    assert "without a return scan" in (done.error_details or "")
    assert rig.engine.lockers["2"].holder is None
    assert rig.engine.lockers["2"].service is Service.IN_SERVICE


def test_door_and_lock_changes_are_mirrored(rig: Rig) -> None:
    rig.do(DoorSensed(0, 2, True))
    step = rig.do(LockSensed(0, 2, False))
    assert rig.engine.lockers["2"].door is True and rig.engine.lockers["2"].locked is False
    (row,) = writes_of(step, ops.LockerRow)
    assert row.locker == "2" and row.locked is False


def test_sensor_from_an_unknown_slot_is_only_logged(rig: Rig) -> None:
    step = rig.do(KeySensed(0, 99, False))
    assert step.commands == [] and not writes_of(step, ops.LockerRow)


# ---- out of service, links and recovery ------------------------------------------------------


def test_out_of_service_until_a_controller_reports() -> None:
    r = Rig()
    r.engine.start(r.now())
    assert r.engine.phase is Phase.OUT_OF_SERVICE
    step = r.do(Scan("M1", member("M1")))
    assert msgs(step) == [Msg.OUT_OF_SERVICE] and step.commands == []
    step = r.do(full_snapshot(0, 6))
    assert LockAll(0) in step.commands
    assert r.engine.phase is Phase.IDLE


def test_a_malformed_snapshot_is_refused() -> None:
    r = Rig()
    step = r.do(Snapshot(0, "-11", "---", "-11"))
    assert r.engine.phase is Phase.OUT_OF_SERVICE and step.commands == []
    assert r.do(Snapshot(5, "-", "-", "-")).commands == []


def test_startup_recovery_resolves_pending_sessions_from_status() -> None:
    lockers = {str(i): LockerState(key=True) for i in range(1, 7)}
    lockers["4"].holder = Holder("M4", "rent4")
    lockers["4"].key = False
    pending = [
        Pending("taken", "rental", "M1", "1", {0}, T0),
        Pending("kept", "rental", "M2", "2", {0}, T0),
        Pending("back", "return", "M4", "4", {0}, T0, rental_tx="rent4"),
        Pending("chose", "rental", "M3", None, {0}, T0, phase="choose_locker"),
    ]
    r = Rig(lockers=lockers, unresolved=pending)
    start = r.engine.start(r.now())
    ended = {w.tx_id: w.status for w in writes_of(start, ops.EndSession)}
    assert ended == {
        "chose": "cancelled",
        "taken": "interrupted",
        "kept": "interrupted",
        "back": "interrupted",
    }
    step = r.do(Snapshot(0, "-0111111"[:8], "-------", "-111111"))
    confirm = writes_of(step, ops.ConfirmRental)
    assert [(c.tx_id, c.locker, c.status) for c in confirm] == [("taken", "1", RentalStatus.ACTIVE)]
    assert "recovered" in (confirm[0].error_details or "")
    assert [c.tx_id for c in writes_of(step, ops.CancelRental)] == ["kept"]
    assert [c.rental_tx for c in writes_of(step, ops.CompleteReturn)] == ["rent4"]
    assert LockAll(0) in step.commands
    assert r.engine.unresolved == []
    assert r.engine.lockers["1"].holder == Holder("M1", "taken")
    assert r.engine.lockers["1"].service is Service.IN_SERVICE  # explained: not a tamper
    assert r.engine.phase is Phase.IDLE


def test_link_loss_mid_rental_is_resolved_by_the_next_status(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    rig.do(Select("2"))
    step = rig.do(LinkLost(0, "no frame for 3 s"))
    assert writes_of(step, ops.EndSession)[0].status == "interrupted"
    assert not writes_of(step, ops.ConfirmRental) and not writes_of(step, ops.CancelRental)
    assert Msg.LINK_LOST in msgs(step)
    assert rig.engine.phase is Phase.OUT_OF_SERVICE
    step = rig.do(full_snapshot(0, 6, missing=[2]))  # taken while the link was down
    assert writes_of(step, ops.ConfirmRental)[0].locker == "2"
    assert rig.engine.lockers["2"].service is Service.IN_SERVICE
    assert msgs(rig.do(Scan("M1", member("M1")))) == [Msg.ALREADY_RENTING]


def test_member_with_an_unresolved_session_waits() -> None:
    layout = per_slot_layout(4)
    two = layout.simple(
        [("a", layout.cabinets[0].kind, ["1", "2"]), ("b", layout.cabinets[0].kind, ["3", "4"])]
    )
    r = Rig(two)
    r.engine.start(r.now())
    r.do(full_snapshot(0, 2))
    r.do(full_snapshot(1, 2))
    r.do(Scan("M1", member("M1")))
    r.do(Select("3"))
    step = r.do(LinkLost(1, "unplugged"))
    assert r.engine.phase is Phase.IDLE  # cabinet a still serves
    assert msgs(step) == [Msg.LINK_LOST]
    assert msgs(r.do(Scan("M1", member("M1")))) == [Msg.CHECKING_PREVIOUS]
    r.do(Scan("M2", member("M2")))
    assert r.engine.view().available == ("1", "2")
    r.do(Cancel())
    step = r.do(full_snapshot(1, 2))  # key still there
    assert writes_of(step, ops.CancelRental)[0].tx_id == "tx1"
    assert msgs(r.do(Scan("M1", member("M1")))) == [Msg.CHOOSE_LOCKER]


def test_link_loss_while_choosing_removes_that_cabinet(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    step = rig.do(LinkLost(0, "gone"))
    assert rig.engine.session is None
    assert writes_of(step, ops.EndSession)[0].status == "failed"
    assert rig.engine.phase is Phase.OUT_OF_SERVICE


def test_resync_during_a_session_feeds_the_session(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    rig.do(Select("5"))
    step = rig.do(full_snapshot(0, 6, missing=[5]))  # the removal event itself was lost
    assert writes_of(step, ops.ConfirmRental)[0].locker == "5"
    assert LockAll(0) in step.commands


def test_transition_table_rejects_illegal_moves() -> None:
    with pytest.raises(IllegalTransition):
        check_transition(Phase.OUT_OF_SERVICE, Phase.TAKE_KEY)
    with pytest.raises(IllegalTransition):
        check_transition(Phase.RETURN_KEY, Phase.CHOOSE_LOCKER)
    check_transition(Phase.IDLE, Phase.IDLE)


def test_select_outside_choosing_is_ignored(rig: Rig) -> None:
    step = rig.do(Select("1"))
    assert step.commands == [] and rig.engine.phase is Phase.IDLE


@pytest.mark.parametrize(
    "code", ["", "x" * 65, "M1\x1b[A", "M1\tM2", "\udcff\udcfe", "회원카드", "KEY-1\n"]
)
def test_unacceptable_codes_are_rejected_whole(rig: Rig, code: str) -> None:
    step = rig.do(Scan(code, member("M1")))
    assert msgs(step) == [Msg.INVALID_CODE]
    assert step.commands == [] and rig.engine.session is None
    (audit,) = [w for w in step.writes if isinstance(w, ops.Audit) and w.kind == "scan_rejected"]
    assert str(audit.details["code"]).isascii()


def test_a_bad_code_during_a_session_changes_nothing(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    step = rig.do(Scan("\x00"))
    assert step.notices == [] and rig.engine.phase is Phase.CHOOSE_LOCKER


def test_a_slot_first_reported_empty_is_a_missing_key() -> None:
    r = Rig(per_slot_layout(3))
    step = r.online(missing=[2])
    assert Msg.KEY_MISSING in msgs(step)
    assert r.engine.lockers["2"].reason == ErrorCode.KEY_MISSING


def test_restart_marks_cut_short_sessions_interrupted() -> None:
    pending = [Pending("old", "rental", "M1", "2", {0}, T0)]
    r = Rig(unresolved=pending)
    step = r.begin()
    assert [(w.tx_id, w.status) for w in writes_of(step, ops.EndSession)] == [
        ("old", "interrupted")
    ]
    assert r.engine.unresolved == pending  # still waiting for the controller's status


def test_a_reading_before_the_status_does_not_hide_a_change() -> None:
    r = Rig(per_slot_layout(3), lockers={n: LockerState(key=True) for n in ("1", "2", "3")})
    r.begin()
    step = r.do(KeySensed(0, 2, False))  # the controller is not reconciled yet
    assert r.engine.lockers["2"].key is True and not writes_of(step, ops.LockerRow)
    step = r.do(full_snapshot(0, 3, missing=[2]))
    assert r.engine.lockers["2"].reason == ErrorCode.FORCED_REMOVAL
    assert Msg.FORCED_REMOVAL in msgs(step)


def test_commands_are_audited_with_their_session(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    step = rig.do(Select("4"))
    (audit,) = [w for w in step.writes if isinstance(w, ops.Audit) and w.kind == "command"]
    assert (audit.member_id, audit.locker, audit.tx_id) == ("M1", "4", "tx1")
    assert audit.details == {"command": "Unlock", "cabinet": 0, "slot": 4, "ms": 30_000}


def test_local_day_start_is_midnight_where_the_site_is() -> None:
    assert local_day_start(T0, SEOUL) == datetime(2026, 11, 26, tzinfo=SEOUL)
    berlin = ZoneInfo("Europe/Berlin")  # the day after clocks go back is 25 hours long
    late = datetime(2026, 10, 25, 22, 30, tzinfo=berlin)
    assert local_day_start(late, berlin) == datetime(2026, 10, 25, tzinfo=berlin)


def test_a_refused_unlock_ends_the_step_with_nothing_taken(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    rig.do(Select("2"))
    step = rig.do(UnlockRefused(0, 2, "hw_fault"))
    assert writes_of(step, ops.CancelRental)[0].tx_id == "tx1"
    assert writes_of(step, ops.EndSession)[0].status == "failed"
    assert not writes_of(step, ops.ConfirmRental)
    assert Msg.UNLOCK_FAILED in msgs(step) and Lock(0, 2) in step.commands
    assert rig.engine.phase is Phase.IDLE and rig.engine.lockers["2"].holder is None


def test_a_refused_unlock_of_another_slot_changes_nothing(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    rig.do(Select("2"))
    step = rig.do(UnlockRefused(0, 3, "bad_slot"))
    assert not step.commands and not msgs(step)
    assert rig.engine.phase is Phase.TAKE_KEY


def test_a_controller_fault_is_put_in_the_audit_log_for_staff(rig: Rig) -> None:
    step = rig.do(ControllerFault(0, "expander", 4))
    (audit,) = [w for w in step.writes if isinstance(w, ops.Audit)]
    assert audit.kind == "controller_fault" and audit.locker == "4"
    assert audit.details == {"cabinet": 0, "code": "expander", "slot": 4}
    assert not step.commands and not step.notices

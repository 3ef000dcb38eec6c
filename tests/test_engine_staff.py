"""Staff actions (admin console and the kiosk's staff menu), pure engine first, then a ledger."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from lockerkey.core import ops
from lockerkey.core.events import (
    Beep,
    Cancel,
    ForceReturn,
    KeySensed,
    LinkLost,
    Lock,
    LockAll,
    MarkLost,
    OpenSlot,
    Reply,
    Scan,
    Select,
    SetService,
    Shutdown,
    Step,
    Unlock,
    UnlockRefused,
)
from lockerkey.core.layout import Layout, Policy
from lockerkey.core.messages import CATALOGUE, LANGUAGES, Msg, placeholders, render
from lockerkey.core.model import (
    CabinetKind,
    ErrorCode,
    Member,
    MemberStatus,
    RentalStatus,
    Service,
)
from lockerkey.core.state import Holder, LockerState, Pending, Phase
from lockerkey.store import reports
from lockerkey.store.ledger import Ledger, LedgerError
from tests.conftest import (
    SEOUL,
    T0,
    LedgerRig,
    Rig,
    add_members,
    full_snapshot,
    member,
    shared_layout,
)

ADMIN = "admin kim"


def writes_of(step: Step, kind: type) -> list:
    return [w for w in step.writes if isinstance(w, kind)]


def audits(step: Step, kind: str) -> list[ops.Audit]:
    return [w for w in step.writes if isinstance(w, ops.Audit) and w.kind == kind]


def msgs(step: Step) -> list[Msg]:
    return [n.msg for n in step.notices]


def rent(rig: Rig, who: str = "M1", locker: str = "3") -> Step:
    rig.do(Scan(who, member(who)))
    rig.do(Select(locker))
    return rig.do(KeySensed(0, rig.layout.lockers[locker].slot, False))


def staff_card(who: str = "S1") -> Member:
    return member(who, category="Staff")


def two_cabinets() -> Layout:
    return Layout.simple(
        [("a", CabinetKind.PER_SLOT, ["1", "2", "3"]), ("b", CabinetKind.PER_SLOT, ["4", "5", "6"])]
    )


def refused(step: Step, msg: Msg, **params: str) -> ops.Audit:
    """The step refused with ``msg``: a Reply saying so, one audit row, nothing else done."""
    assert step.reply == Reply(False, msg, params)
    assert step.commands == []
    assert not writes_of(step, ops.CloseRental) and not writes_of(step, ops.LockerRow)
    (audit,) = audits(step, "admin_refused")
    return audit


# ---- messages --------------------------------------------------------------------------------


def test_every_message_has_both_languages_with_the_same_placeholders() -> None:
    assert set(CATALOGUE) == set(Msg)
    for msg, (ko, en) in CATALOGUE.items():
        assert ko and en and placeholders(ko) == placeholders(en), msg
    assert LANGUAGES == ("ko", "en")
    assert render(Msg.STAFF_MENU, "en") == "Staff menu: choose a slot to open"
    assert render(Msg.STAFF_MENU, "ko") == "직원 메뉴: 열 칸을 선택하세요"


# ---- replies to the member's Select and Cancel -------------------------------------------------


def test_select_and_cancel_answer_with_a_reply(rig: Rig) -> None:
    assert rig.do(Select("1")).reply == Reply(False, Msg.NOT_CHOOSING)
    assert rig.do(Cancel()).reply == Reply(False, Msg.NOTHING_TO_CANCEL)
    rig.do(Scan("M1", member("M1")))
    step = rig.do(Select("9"))
    assert step.reply == Reply(False, Msg.LOCKER_NOT_AVAILABLE, {"locker": "9"})
    assert msgs(step) == [Msg.LOCKER_NOT_AVAILABLE]
    assert rig.do(Select("2")).reply == Reply(True, Msg.TAKE_KEY, {"locker": "2"})
    assert rig.do(Select("3")).reply == Reply(False, Msg.NOT_CHOOSING)  # already taking key 2
    assert rig.do(Cancel()).reply == Reply(True, Msg.CANCELLED)


# ---- ForceReturn -------------------------------------------------------------------------------


def test_force_return_closes_the_rental_and_the_key_sensor_decides(rig: Rig) -> None:
    rent(rig, "M1", "3")
    step = rig.do(ForceReturn("3", "member left the key at the desk", ADMIN))
    assert step.reply == Reply(True, Msg.FORCE_RETURNED_KEY_OUT, {"locker": "3"})
    (close,) = writes_of(step, ops.CloseRental)
    assert (close.rental_tx, close.member_id, close.locker) == ("tx1", "M1", "3")
    assert close.status is RentalStatus.RETURNED
    assert close.error_code is ErrorCode.FORCED_RETURN
    assert close.error_details == f"forced return by {ADMIN}: member left the key at the desk"
    (audit,) = audits(step, "admin_force_return")
    assert (audit.member_id, audit.locker, audit.tx_id) == ("M1", "3", "tx1")
    assert audit.details == {
        "staff": ADMIN,
        "reason": "member left the key at the desk",
        "via": "console",
        "key_in_slot": False,
    }
    assert step.commands == [] and step.notices == []  # the member's screen is not touched
    assert rig.engine.lockers["3"].holder is None
    assert writes_of(step, ops.LockerRow)[0].current_member is None
    # Free to rent again, but locker 3 is not offered while its key is not in its slot.
    rig.do(Scan("M1", member("M1")))
    assert "3" not in rig.engine.view().available
    rig.do(Cancel())
    step = rig.do(KeySensed(0, 3, True))
    assert [a.details for a in audits(step, "key_back")] == [{"service": "in_service"}]
    assert not writes_of(step, ops.CompleteReturn)  # the rental is already closed
    rig.do(Scan("M1", member("M1")))
    assert "3" in rig.engine.view().available


def test_force_return_of_a_key_in_its_slot_says_so() -> None:
    lockers = {str(i): LockerState(key=True) for i in range(1, 7)}
    lockers["2"].holder = Holder("M9", "old")  # the ledger says held, the slot says home
    r = Rig(lockers=lockers)
    r.begin()
    step = r.do(ForceReturn("2", "checked by hand", ADMIN))
    assert step.reply == Reply(True, Msg.FORCE_RETURNED, {"locker": "2"})
    assert audits(step, "admin_force_return")[0].details["key_in_slot"] is True


def test_force_return_of_a_held_abnormal_rental() -> None:
    r = Rig(shared_layout(4, {"women": (["3", "4"], {"gender": ["F"]})}))
    r.online()
    r.do(Scan("M1", member("M1", gender="M")))
    r.do(KeySensed(0, 3, False))  # NOT_ALLOWED_TAKEN: abnormal, but the key is out with M1
    assert r.engine.lockers["3"].holder == Holder("M1", "tx1")
    step = r.do(ForceReturn("3", "key brought to the desk", ADMIN))
    assert step.reply is not None and step.reply.ok
    assert writes_of(step, ops.CloseRental)[0].rental_tx == "tx1"
    assert r.engine.lockers["3"].service is Service.SET_ASIDE  # still for staff to resolve


@pytest.mark.parametrize("action", [ForceReturn, MarkLost])
def test_closing_a_rental_is_refused_with_the_reason(rig: Rig, action: type) -> None:
    audit = refused(rig.do(action("99", "why", ADMIN)), Msg.UNKNOWN_LOCKER, locker="99")
    assert audit.locker == "99"
    assert audit.details["staff"] == ADMIN and audit.details["reason"] == "why"
    assert audit.details["via"] == "console"
    refused(rig.do(action("4", "why", ADMIN)), Msg.NO_ACTIVE_RENTAL, locker="4")
    rent(rig, "M1", "3")
    rig.do(Scan("KEY-3"))  # the member is returning it right now
    refused(rig.do(action("3", "why", ADMIN)), Msg.LOCKER_IN_USE, locker="3")
    assert rig.engine.lockers["3"].holder == Holder("M1", "tx1")


def test_a_locker_with_a_cut_short_session_waits_for_its_cabinet() -> None:
    lockers = {str(i): LockerState(key=True) for i in range(1, 7)}
    lockers["4"] = LockerState(key=False, holder=Holder("M4", "rent4"))
    pending = [Pending("ret", "return", "M4", "4", {0}, T0, rental_tx="rent4", phase="return_key")]
    r = Rig(lockers=lockers, unresolved=pending)
    r.begin()
    step = r.do(ForceReturn("4", "why", ADMIN))
    audit = refused(step, Msg.LOCKER_BEING_CHECKED, locker="4")
    assert (
        audit.details["action"] == "force_return" and audit.details["msg"] == "locker_being_checked"
    )
    refused(r.do(SetService("4", False, "why", ADMIN)), Msg.LOCKER_BEING_CHECKED, locker="4")


# ---- MarkLost ----------------------------------------------------------------------------------


def test_mark_lost_frees_the_member_and_takes_the_locker_out(rig: Rig) -> None:
    rent(rig, "M1", "3")
    step = rig.do(MarkLost("3", "member lost it in the pool", ADMIN))
    assert step.reply == Reply(True, Msg.KEY_MARKED_LOST, {"locker": "3"})
    (close,) = writes_of(step, ops.CloseRental)
    assert close.status is RentalStatus.ABNORMAL and close.error_code is ErrorCode.KEY_LOST
    assert "member lost it in the pool" in close.error_details
    st = rig.engine.lockers["3"]
    assert st.holder is None and st.service is Service.DISABLED and st.reason == "KEY_LOST"
    (audit,) = audits(step, "admin_mark_lost")
    assert audit.details["previous"] == "in_service" and audit.tx_id == "tx1"
    assert msgs(rig.do(Scan("M1", member("M1")))) == [Msg.CHOOSE_LOCKER]
    assert "3" not in rig.engine.view().available
    rig.do(Cancel())
    # The key turns up: it is sensed home, but the locker stays out until staff put it back.
    step = rig.do(KeySensed(0, 3, True))
    assert not writes_of(step, ops.CompleteReturn) and st.service is Service.DISABLED
    step = rig.do(SetService("3", True, "spare key made", ADMIN))
    assert step.reply == Reply(True, Msg.LOCKER_ENABLED, {"locker": "3"})
    assert audits(step, "admin_in_service")[0].details["previous_reason"] == "KEY_LOST"
    rig.do(Scan("M2", member("M2")))
    assert "3" in rig.engine.view().available


# ---- SetService --------------------------------------------------------------------------------


def test_set_service_takes_a_locker_out_and_back(rig: Rig) -> None:
    step = rig.do(SetService("2", False, "broken hook", ADMIN))
    assert step.reply == Reply(True, Msg.LOCKER_DISABLED, {"locker": "2"})
    (row,) = writes_of(step, ops.LockerRow)
    assert row.service is Service.DISABLED and row.service_reason == "broken hook"
    (audit,) = audits(step, "admin_out_of_service")
    assert audit.locker == "2"
    assert audit.details == {
        "staff": ADMIN,
        "reason": "broken hook",
        "via": "console",
        "previous": "in_service",
        "previous_reason": None,
    }
    rig.do(Scan("M1", member("M1")))
    assert "2" not in rig.engine.view().available
    rig.do(Cancel())
    rig.do(SetService("2", True, "fixed", ADMIN))
    assert rig.engine.lockers["2"].service is Service.IN_SERVICE
    assert rig.engine.lockers["2"].reason is None
    rig.do(Scan("M1", member("M1")))
    assert "2" in rig.engine.view().available


def test_set_service_resolves_a_set_aside_locker(rig: Rig) -> None:
    rig.do(KeySensed(0, 5, False))  # forced removal: set aside
    rig.do(KeySensed(0, 5, True))  # the key is back, but staff must look first
    assert rig.engine.lockers["5"].service is Service.SET_ASIDE
    step = rig.do(SetService("5", True, "looked at it", ADMIN))
    assert audits(step, "admin_in_service")[0].details["previous"] == "set_aside"
    rig.do(Scan("M1", member("M1")))
    assert "5" in rig.engine.view().available


def test_set_service_without_a_reason_still_says_who(rig: Rig) -> None:
    rig.do(SetService("1", False, "", ADMIN))
    assert rig.engine.lockers["1"].reason == "disabled by staff"


def test_set_service_refusals(rig: Rig) -> None:
    refused(rig.do(SetService("x", False, "r", ADMIN)), Msg.UNKNOWN_LOCKER, locker="x")
    rig.do(Scan("M1", member("M1")))
    rig.do(Select("4"))  # the member is taking key 4
    audit = refused(rig.do(SetService("4", False, "r", ADMIN)), Msg.LOCKER_IN_USE, locker="4")
    assert audit.details["action"] == "out_of_service"
    step = rig.do(SetService("5", False, "r", ADMIN))  # another locker is fine
    assert step.reply is not None and step.reply.ok


# ---- OpenSlot: opening, relocking, re-arming ---------------------------------------------------


def test_open_slot_unlocks_and_relocks_at_the_deadline(rig: Rig) -> None:
    step = rig.do(OpenSlot("3", 20, "refill", ADMIN))
    assert step.reply == Reply(True, Msg.SLOT_OPENED, {"locker": "3", "seconds": "20"})
    assert step.commands == [Unlock(0, 3, 20_000)]
    assert step.notices == []
    (audit,) = audits(step, "admin_open_slot")
    assert audit.details == {
        "staff": ADMIN,
        "reason": "refill",
        "via": "console",
        "seconds": 20,
        "cabinet": 0,
        "slot": 3,
    }
    (command,) = audits(step, "command")
    assert (command.member_id, command.locker, command.tx_id) == (None, "3", None)
    assert command.details["staff"] == ADMIN
    (row,) = writes_of(step, ops.LockerRow)
    assert row.locked_until == rig.now().wall + timedelta(seconds=20)
    assert rig.engine.next_wakeup() == rig.t + 20
    assert rig.advance(19.9).commands == []
    step = rig.advance(0.1)
    assert step.commands == [Lock(0, 3)]
    (relock,) = audits(step, "admin_relock")
    assert relock.locker == "3" and relock.details["cause"] == "deadline"
    assert relock.details["sent"] is True and relock.details["staff"] == ADMIN
    assert rig.engine.lockers["3"].locked_until is None
    assert rig.engine.openings == {} and rig.engine.next_wakeup() is None


def test_open_slot_is_capped_at_one_unlock_and_re_armed(rig: Rig) -> None:
    step = rig.do(OpenSlot("2", 90, "repair", ADMIN))
    assert step.commands == [Unlock(0, 2, 60_000)]
    assert rig.engine.next_wakeup() == rig.t + 55
    assert rig.advance(55).commands == [Unlock(0, 2, 35_000)]
    assert rig.engine.next_wakeup() == rig.t + 35
    assert rig.advance(35).commands == [Lock(0, 2)]


@pytest.mark.parametrize("seconds", [0, -5, 601])
def test_open_slot_refuses_a_bad_duration(rig: Rig, seconds: int) -> None:
    step = rig.do(OpenSlot("2", seconds, "r", ADMIN))
    audit = refused(step, Msg.OPEN_SECONDS_INVALID, max="600")
    assert audit.locker == "2" and audit.details["max"] == "600"


def test_open_slot_refusals(rig: Rig) -> None:
    refused(rig.do(OpenSlot("0", 10, "r", ADMIN)), Msg.UNKNOWN_LOCKER, locker="0")
    rig.do(Scan("M1", member("M1")))  # a member is choosing
    refused(rig.do(OpenSlot("2", 10, "r", ADMIN)), Msg.KIOSK_IN_USE)
    rig.do(Cancel())
    rent(rig, "M2", "4")
    rig.do(Scan("KEY-4"))  # and returning
    refused(rig.do(OpenSlot("2", 10, "r", ADMIN)), Msg.KIOSK_IN_USE)


def test_open_slot_refuses_an_offline_cabinet() -> None:
    r = Rig(two_cabinets())
    r.online()
    r.do(LinkLost(1, "unplugged"))
    refused(r.do(OpenSlot("5", 10, "r", ADMIN)), Msg.CABINET_OFFLINE, locker="5")
    assert r.do(OpenSlot("2", 10, "r", ADMIN)).commands == [Unlock(0, 2, 10_000)]


def test_overlapping_openings_each_keep_their_deadline(rig: Rig) -> None:
    rig.do(OpenSlot("2", 30, "r", ADMIN))
    rig.do(OpenSlot("4", 10, "r", "admin lee"))
    assert rig.engine.next_wakeup() == rig.t + 10
    step = rig.advance(10)
    assert step.commands == [Lock(0, 4)]
    assert audits(step, "admin_relock")[0].details["staff"] == "admin lee"
    step = rig.advance(5)
    assert step.commands == []
    step = rig.do(OpenSlot("2", 30, "more time", ADMIN))  # opening it again: a new deadline
    assert step.commands == [Unlock(0, 2, 30_000)]
    assert rig.advance(15).commands == []
    assert rig.advance(15).commands == [Lock(0, 2)]


def test_an_opening_is_ended_when_its_unlock_is_refused(rig: Rig) -> None:
    rig.do(OpenSlot("2", 30, "r", ADMIN))
    step = rig.do(UnlockRefused(0, 2, "hw_fault"))
    assert step.commands == [Lock(0, 2)]
    assert audits(step, "admin_relock")[0].details["cause"] == "unlock_refused"
    assert rig.engine.openings == {}


def test_an_opening_whose_cabinet_went_away_is_dropped_at_its_deadline() -> None:
    r = Rig(two_cabinets())
    r.online()
    r.do(OpenSlot("5", 10, "r", ADMIN))
    r.do(LinkLost(1, "unplugged"))
    step = r.advance(10)
    assert step.commands == []  # the controller's own dead-man relock has done it
    assert audits(step, "admin_relock")[0].details["sent"] is False


def test_shutdown_locks_open_slots_with_lock_all(rig: Rig) -> None:
    rig.do(OpenSlot("2", 30, "r", ADMIN))
    step = rig.do(Shutdown())
    assert step.commands == [LockAll(0)]
    (relock,) = audits(step, "admin_relock")
    assert relock.details["cause"] == "shutdown" and relock.details["sent"] is False
    assert rig.engine.openings == {} and rig.engine.next_wakeup() is None
    assert rig.engine.lockers["2"].locked_until is None


# ---- key sensors while a slot is open for staff ------------------------------------------------


def test_a_key_put_into_an_open_empty_slot_makes_it_free_again() -> None:
    r = Rig()
    r.online(missing=[2])  # KEY_MISSING: set aside
    assert r.engine.lockers["2"].service is Service.SET_ASIDE
    r.do(OpenSlot("2", 60, "refill", ADMIN))
    step = r.do(KeySensed(0, 2, True))
    (audit,) = audits(step, "maintenance_key_added")
    assert audit.details == {"staff": ADMIN, "service": "in_service", "previous": "set_aside"}
    assert r.engine.lockers["2"].service is Service.IN_SERVICE
    r.do(Scan("M1", member("M1")))
    assert "2" not in r.engine.view().available  # not while staff still have it open
    r.do(Cancel())
    r.advance(60)
    r.do(Scan("M1", member("M1")))
    assert "2" in r.engine.view().available


def test_a_key_taken_from_an_open_slot_is_no_alarm(rig: Rig) -> None:
    rig.do(OpenSlot("3", 30, "swap the tag", ADMIN))
    step = rig.do(KeySensed(0, 3, False))
    assert audits(step, "maintenance_key_removed")[0].details["staff"] == ADMIN
    assert not audits(step, "set_aside") and step.notices == [] and step.commands == []
    assert rig.engine.lockers["3"].service is Service.IN_SERVICE
    assert rig.engine.lockers["3"].key is False
    rig.advance(30)  # relocked with the slot empty: still no alarm, just not offered
    assert rig.engine.lockers["3"].service is Service.IN_SERVICE
    rig.do(Scan("M1", member("M1")))
    assert "3" not in rig.engine.view().available
    rig.do(Cancel())
    rig.do(KeySensed(0, 3, True))
    rig.do(Scan("M1", member("M1")))
    assert "3" in rig.engine.view().available


def test_a_disabled_locker_refilled_by_staff_stays_out(rig: Rig) -> None:
    rig.do(SetService("4", False, "lock sticks", ADMIN))
    rig.do(OpenSlot("4", 30, "repair", ADMIN))
    rig.do(KeySensed(0, 4, False))
    step = rig.do(KeySensed(0, 4, True))
    assert audits(step, "maintenance_key_added")[0].details["service"] == "disabled"
    assert rig.engine.lockers["4"].service is Service.DISABLED


def test_a_rented_key_put_into_an_open_slot_is_returned(rig: Rig) -> None:
    rent(rig, "M1", "3")
    rig.do(OpenSlot("3", 30, "r", ADMIN))
    step = rig.do(KeySensed(0, 3, True))
    assert writes_of(step, ops.CompleteReturn)[0].rental_tx == "tx1"
    assert rig.engine.lockers["3"].holder is None


def test_lockers_behind_an_open_lock_are_not_offered_or_returned(rig: Rig) -> None:
    rent(rig, "M1", "3")
    rig.do(OpenSlot("3", 30, "r", ADMIN))
    rig.do(OpenSlot("5", 30, "r", ADMIN))
    step = rig.do(Scan("KEY-3"))
    assert msgs(step) == [Msg.LOCKER_MAINTENANCE] and step.notices[0].params == {"locker": "3"}
    assert step.commands == [] and rig.engine.session is None
    rig.do(Scan("M2", member("M2")))
    assert rig.engine.view().available == ("1", "2", "4", "6")


def test_shared_door_opening_covers_the_whole_cabinet() -> None:
    r = Rig(shared_layout(4))
    r.online()
    step = r.do(OpenSlot("3", 30, "refill", ADMIN))
    assert step.commands == [Unlock(0, 0, 30_000)]
    assert {w.locker for w in writes_of(step, ops.LockerRow)} == {"1", "2", "3", "4"}
    step = r.do(KeySensed(0, 1, False))  # behind the same open door: staff's hands
    assert audits(step, "maintenance_key_removed") and not audits(step, "set_aside")
    assert msgs(r.do(Scan("M1", member("M1")))) == [Msg.NO_LOCKER_FREE]
    assert r.advance(30).commands == [Lock(0, 0)]
    assert all(st.locked_until is None for st in r.engine.lockers.values())


# ---- the staff card at the kiosk ---------------------------------------------------------------


def test_a_staff_card_opens_the_staff_menu_and_a_slot(rig: Rig) -> None:
    card = staff_card()
    step = rig.do(Scan("S1", card))
    assert rig.engine.phase is Phase.STAFF_MENU
    assert msgs(step) == [Msg.STAFF_MENU]
    assert not writes_of(step, ops.StartSession)  # no ledger session row for the menu
    assert audits(step, "staff_menu")[0].details == {"action": "open", "staff": "회원S1"}
    view = rig.engine.view()
    assert view.available == ("1", "2", "3", "4", "5", "6")
    assert view.deadline == rig.now().wall + timedelta(seconds=30)
    assert rig.engine.next_wakeup() == rig.t + 30
    step = rig.do(Select("4"))
    assert step.commands == [Unlock(0, 4, 60_000)]
    assert step.reply == Reply(True, Msg.SLOT_OPENED, {"locker": "4", "seconds": "60"})
    assert msgs(step) == [Msg.SLOT_OPENED] and step.notices[0].level == "success"
    (opened,) = audits(step, "admin_open_slot")
    assert opened.member_id == "S1"
    assert opened.details["via"] == "kiosk" and opened.details["reason"] == "kiosk staff menu"
    assert opened.details["staff"] == "회원S1"
    assert audits(step, "staff_menu")[0].details == {"action": "close", "status": "completed"}
    assert audits(step, "command")[0].member_id == "S1"
    assert rig.engine.phase is Phase.IDLE and rig.engine.session is None
    assert not writes_of(step, ops.EndSession)
    assert rig.engine.next_wakeup() == rig.t + 60
    assert rig.advance(60).commands == [Lock(0, 4)]


def test_the_staff_menu_cancel_and_timeout(rig: Rig) -> None:
    rig.do(Scan("S1", staff_card()))
    step = rig.do(Cancel())
    assert step.reply == Reply(True, Msg.CANCELLED) and msgs(step) == [Msg.CANCELLED]
    assert rig.engine.phase is Phase.IDLE and step.commands == []
    assert not writes_of(step, ops.EndSession)
    rig.do(Scan("S1", staff_card()))
    step = rig.advance(30)
    assert msgs(step) == [Msg.IDLE]
    assert audits(step, "staff_menu")[0].details["status"] == "timeout"
    assert rig.engine.phase is Phase.IDLE and rig.engine.session is None


def test_the_staff_menu_refuses_what_it_cannot_open() -> None:
    r = Rig(two_cabinets())
    r.online()
    r.do(Scan("S1", staff_card()))
    step = r.do(LinkLost(1, "unplugged"))
    assert r.engine.phase is Phase.STAFF_MENU  # cabinet a still answers
    assert r.engine.view().available == ("1", "2", "3")
    step = r.do(Select("5"))
    assert step.reply == Reply(False, Msg.CABINET_OFFLINE, {"locker": "5"})
    assert msgs(step) == [Msg.CABINET_OFFLINE] and step.notices[0].level == "error"
    assert audits(step, "admin_refused")[0].member_id == "S1"
    assert r.engine.phase is Phase.STAFF_MENU and step.commands == []
    assert r.do(Select("nope")).reply == Reply(False, Msg.UNKNOWN_LOCKER, {"locker": "nope"})
    # A member's card or a key meanwhile: the kiosk is busy.
    assert msgs(r.do(Scan("M1", member("M1")))) == [Msg.BUSY]
    assert msgs(r.do(Scan("S1", staff_card()))) == []  # the same card again: no change
    # Keys moving meanwhile are not written to a session row the menu does not have.
    step = r.do(KeySensed(0, 1, False))
    assert not writes_of(step, ops.SessionSensor) and audits(step, "set_aside")
    # The console may open slots while the menu is up.
    assert r.do(OpenSlot("2", 10, "r", ADMIN)).commands == [Unlock(0, 2, 10_000)]


def test_the_staff_menu_ends_when_no_cabinet_answers() -> None:
    r = Rig()
    r.online()
    r.do(Scan("S1", staff_card()))
    step = r.do(LinkLost(0, "unplugged"))
    assert r.engine.phase is Phase.OUT_OF_SERVICE and r.engine.session is None
    assert audits(step, "staff_menu")[0].details["status"] == "failed"
    assert Msg.LINK_LOST in msgs(step)
    r.do(full_snapshot(0, 6))
    assert r.engine.phase is Phase.IDLE


def test_the_staff_menu_ends_at_shutdown(rig: Rig) -> None:
    rig.do(Scan("S1", staff_card()))
    step = rig.do(Shutdown())
    assert audits(step, "staff_menu")[0].details["status"] == "cancelled"
    assert step.commands == [LockAll(0)]
    assert rig.engine.phase is Phase.OUT_OF_SERVICE and rig.engine.session is None


@pytest.mark.parametrize(
    ("card", "expected"),
    [
        (member("S1", category=" STAFF "), Msg.STAFF_MENU),
        (member("S1", Category="staff"), Msg.STAFF_MENU),
        (member("S1", category="member"), Msg.CHOOSE_LOCKER),
        (member("S1"), Msg.CHOOSE_LOCKER),
        (member("S1", MemberStatus.SUSPENDED, category="staff"), Msg.SUSPENDED),
        (replace(member("S1", category="staff"), currently_renting="2"), Msg.ALREADY_RENTING),
    ],
)
def test_which_cards_open_the_staff_menu(rig: Rig, card: Member, expected: Msg) -> None:
    assert msgs(rig.do(Scan("S1", card))) == [expected]


def test_staff_holding_a_key_are_treated_as_members(rig: Rig) -> None:
    rig.do(Scan("S1", member("S1")))
    rig.do(Select("2"))
    rig.do(KeySensed(0, 2, False))
    assert msgs(rig.do(Scan("S1", staff_card()))) == [Msg.ALREADY_RENTING]


def test_no_staff_menu_while_out_of_service() -> None:
    r = Rig()
    r.begin()
    assert msgs(r.do(Scan("S1", staff_card()))) == [Msg.OUT_OF_SERVICE]


# ---- through a real ledger ---------------------------------------------------------------------


def rental(led: Ledger, tx: str) -> dict:
    row = led.conn.execute("SELECT * FROM rentals WHERE transaction_id = ?", (tx,)).fetchone()
    return dict(row)


def renting(led: Ledger, member_id: str) -> str | None:
    return led.conn.execute(
        "SELECT currently_renting FROM members WHERE member_id = ?", (member_id,)
    ).fetchone()[0]


def locker_row(led: Ledger, locker: str) -> dict:
    row = led.conn.execute(
        "SELECT * FROM locker_status WHERE locker_number = ?", (locker,)
    ).fetchone()
    return dict(row)


def test_force_return_and_mark_lost_through_the_ledger(lrig: LedgerRig) -> None:
    led = lrig.ledger
    rent(lrig, "M1", "3")
    rent(lrig, "M2", "5")
    assert renting(led, "M1") == "3"
    lrig.do(ForceReturn("3", "key at the desk", ADMIN))
    row = rental(led, "tx1")
    assert row["status"] == "returned" and row["error_code"] == "FORCED_RETURN"
    assert row["error_details"] == f"forced return by {ADMIN}: key at the desk"
    assert row["return_verified"] == 0 and row["return_sensor_time"] is None
    assert row["return_target_locker"] == "3"
    assert row["revision"] > 1 and row["sync_status"] == 0
    assert renting(led, "M1") is None
    assert locker_row(led, "3")["current_member"] is None

    lrig.do(MarkLost("5", "lost in the sauna", ADMIN))
    row = rental(led, "tx2")
    assert row["status"] == "abnormal" and row["error_code"] == "KEY_LOST"
    assert renting(led, "M2") is None
    status = locker_row(led, "5")
    assert (status["service"], status["service_reason"]) == ("disabled", "KEY_LOST")
    assert reports.invariant_problems(led) == []

    events = led.conn.execute(
        "SELECT kind, member_id, locker_number, details FROM events"
        " WHERE kind LIKE 'admin_%' ORDER BY event_id"
    ).fetchall()
    assert [(e[0], e[1], e[2]) for e in events] == [
        ("admin_force_return", "M1", "3"),
        ("admin_mark_lost", "M2", "5"),
    ]
    assert json.loads(events[0][3])["staff"] == ADMIN
    assert json.loads(events[1][3])["reason"] == "lost in the sauna"

    # What a restart would start from: nobody holds 3 or 5, and 5 stays out of service.
    states = led.load_lockers()
    assert states["3"].holder is None and states["5"].holder is None
    assert states["5"].service is Service.DISABLED and states["5"].reason == "KEY_LOST"
    # Both members may rent again.
    assert [n.msg for n in lrig.do(Scan("M2")).notices] == [Msg.CHOOSE_LOCKER]


def test_a_forced_return_keeps_the_earlier_error_code_in_the_details(ledger: Ledger) -> None:
    add_members(ledger, "M1", gender="M")
    r = LedgerRig(ledger, layout=shared_layout(4, {"women": (["3", "4"], {"gender": ["F"]})}))
    r.online()
    r.do(Scan("M1"))
    r.do(KeySensed(0, 3, False))
    assert rental(ledger, "tx1")["error_code"] == "NOT_ALLOWED_TAKEN"
    r.do(ForceReturn("3", "key handed in", ADMIN))
    row = rental(ledger, "tx1")
    assert row["status"] == "returned" and row["error_code"] == "FORCED_RETURN"
    assert (
        row["error_details"] == f"forced return by {ADMIN}: key handed in (was NOT_ALLOWED_TAKEN)"
    )
    assert reports.invariant_problems(ledger) == []


def test_a_forced_return_still_needs_its_key_to_have_left(lrig: LedgerRig) -> None:
    # The invariant's exemption is for the return only: a rental must still have been sensed.
    rent(lrig, "M1", "3")
    lrig.do(ForceReturn("3", "r", ADMIN))
    lrig.ledger.conn.execute("UPDATE rentals SET rental_verified = 0 WHERE transaction_id = 'tx1'")
    assert len(reports.invariant_problems(lrig.ledger)) == 1


def test_closing_an_unknown_rental_changes_nothing(ledger: Ledger) -> None:
    op = ops.CloseRental(
        "nope", "M1", "1", T0, RentalStatus.RETURNED, ErrorCode.FORCED_RETURN, "forced"
    )
    with pytest.raises(LedgerError):
        ledger.apply([op])


def test_service_and_openings_through_the_ledger(lrig: LedgerRig) -> None:
    led = lrig.ledger
    lrig.do(SetService("2", False, "hook broken", ADMIN))
    assert (locker_row(led, "2")["service"], locker_row(led, "2")["service_reason"]) == (
        "disabled",
        "hook broken",
    )
    lrig.do(OpenSlot("4", 20, "refill", ADMIN))
    assert locker_row(led, "4")["locked_until"] is not None
    lrig.advance(20)
    assert locker_row(led, "4")["locked_until"] is None
    lrig.do(SetService("2", True, "fixed", ADMIN))
    assert locker_row(led, "2")["service"] == "in_service"
    assert locker_row(led, "2")["service_reason"] is None
    kinds = [
        r[0]
        for r in led.conn.execute(
            "SELECT kind FROM events WHERE kind LIKE 'admin_%' ORDER BY event_id"
        )
    ]
    assert kinds == [
        "admin_out_of_service",
        "admin_open_slot",
        "admin_relock",
        "admin_in_service",
    ]
    assert reports.invariant_problems(led) == []


def test_the_staff_menu_leaves_no_session_row(ledger: Ledger) -> None:
    add_members(ledger, "M1")
    r = LedgerRig(ledger, policy=Policy(timeout_s=30, tz=SEOUL))
    r.online()
    card = staff_card()
    r.do(Scan("S1", card))
    r.do(KeySensed(0, 6, False))  # a key moving while the menu is up
    r.do(Select("6"))
    assert ledger.conn.execute("SELECT COUNT(*) FROM active_transactions").fetchone()[0] == 0
    kinds = [
        json.loads(row[0])["action"]
        for row in ledger.conn.execute(
            "SELECT details FROM events WHERE kind = 'staff_menu' ORDER BY event_id"
        )
    ]
    assert kinds == ["open", "close"]
    assert Beep(0, "alert") in r.steps[-2].commands  # the key taken was a forced removal

"""The kiosk stopping (Shutdown): nothing half-done is decided, every cabinet is locked, and the
next start resolves a cut-short session from the controllers' status, through a real ledger."""

from __future__ import annotations

import sqlite3

from lockerkey.core import ops
from lockerkey.core.events import (
    KeySensed,
    LinkLost,
    LockAll,
    Scan,
    Select,
    Shutdown,
    Step,
    Unlock,
)
from lockerkey.core.layout import Layout, Policy
from lockerkey.core.messages import Msg
from lockerkey.core.model import CabinetKind, RentalStatus
from lockerkey.core.state import Phase
from lockerkey.store import reports
from lockerkey.store.ledger import Ledger
from tests.conftest import (
    SEOUL,
    LedgerRig,
    Rig,
    add_members,
    full_snapshot,
    member,
    per_slot_layout,
    shared_layout,
)


def writes_of(step: Step, kind: type) -> list:
    return [w for w in step.writes if isinstance(w, kind)]


def audits(step: Step, kind: str) -> list[ops.Audit]:
    return [w for w in step.writes if isinstance(w, ops.Audit) and w.kind == kind]


def two_cabinets() -> Layout:
    return Layout.simple(
        [
            ("a", CabinetKind.PER_SLOT, ["1", "2", "3"]),
            ("b", CabinetKind.PER_SLOT, ["4", "5", "6"]),
        ]
    )


def session_row(led: Ledger, tx: str) -> sqlite3.Row:
    return led.conn.execute(
        "SELECT * FROM active_transactions WHERE transaction_id = ?", (tx,)
    ).fetchone()


def rental_row(led: Ledger, tx: str) -> sqlite3.Row | None:
    return led.conn.execute("SELECT * FROM rentals WHERE transaction_id = ?", (tx,)).fetchone()


# ---- the engine alone --------------------------------------------------------------------------


def test_shutdown_when_idle_locks_every_online_cabinet_and_goes_out_of_service() -> None:
    r = Rig(two_cabinets())
    r.online()
    assert r.engine.phase is Phase.IDLE and r.engine.online == {0, 1}
    step = r.do(Shutdown())
    assert step.commands == [LockAll(0), LockAll(1)]
    assert r.engine.phase is Phase.OUT_OF_SERVICE
    assert r.engine.online == set()
    (audit,) = audits(step, "shutdown")
    assert (audit.member_id, audit.locker) == (None, None)
    assert [n.msg for n in step.notices] == [Msg.OUT_OF_SERVICE]
    assert not writes_of(step, ops.EndSession)
    # The commands are audited like any other.
    assert [a.details["cabinet"] for a in audits(step, "command")] == [0, 1]


def test_shutdown_only_locks_the_cabinets_that_are_online() -> None:
    r = Rig(two_cabinets())
    r.online()
    r.do(LinkLost(1, "unplugged"))
    step = r.do(Shutdown())
    assert step.commands == [LockAll(0)]


def test_shutdown_while_out_of_service_sends_nothing_and_does_not_fail() -> None:
    r = Rig()
    r.begin()  # no controller has reported yet
    step = r.do(Shutdown())
    assert step.commands == [] and r.engine.phase is Phase.OUT_OF_SERVICE
    assert len(audits(step, "shutdown")) == 1


def test_while_choosing_the_session_is_cancelled_and_nothing_unlocked(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    assert rig.engine.phase is Phase.CHOOSE_LOCKER
    step = rig.do(Shutdown())
    assert step.commands == [LockAll(0)]
    assert not any(isinstance(c, Unlock) for c in step.commands)
    assert [(w.tx_id, w.status) for w in writes_of(step, ops.EndSession)] == [("tx1", "cancelled")]
    assert not writes_of(step, ops.CancelRental)  # no rental row was ever made
    assert rig.engine.session is None and rig.engine.unresolved == []
    assert rig.engine.phase is Phase.OUT_OF_SERVICE
    (audit,) = audits(step, "shutdown")
    assert audit.member_id == "M1"


def test_after_the_unlock_the_session_is_left_for_the_status_to_decide(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    assert rig.do(Select("3")).commands == [Unlock(0, 3, 30_000)]
    step = rig.do(Shutdown())
    assert [(w.tx_id, w.status) for w in writes_of(step, ops.EndSession)] == [
        ("tx1", "interrupted")
    ]
    assert not writes_of(step, ops.CancelRental)
    assert not writes_of(step, ops.ConfirmRental)
    assert LockAll(0) in step.commands
    assert not any(isinstance(c, Unlock) for c in step.commands)
    (audit,) = audits(step, "shutdown")
    assert (audit.member_id, audit.locker) == ("M1", "3")
    (pending,) = rig.engine.unresolved
    assert (pending.tx_id, pending.locker, pending.cabinets) == ("tx1", "3", {0})
    assert rig.engine.session is None and rig.engine.phase is Phase.OUT_OF_SERVICE
    assert rig.engine.lockers["3"].holder is None  # nothing decided
    assert rig.engine.lockers["3"].session_tx is None
    assert rig.engine.next_wakeup() is None  # no deadline left to fire after the stop


def test_a_second_shutdown_changes_nothing(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    rig.do(Select("2"))
    rig.do(Shutdown())
    step = rig.do(Shutdown())
    assert step.commands == [] and not writes_of(step, ops.EndSession)
    assert len(rig.engine.unresolved) == 1


def test_after_shutdown_scans_are_refused(rig: Rig) -> None:
    rig.do(Shutdown())
    step = rig.do(Scan("M2", member("M2")))
    assert [n.msg for n in step.notices] == [Msg.OUT_OF_SERVICE]
    assert rig.engine.session is None and step.commands == []


def test_a_key_sensed_after_shutdown_decides_nothing(rig: Rig) -> None:
    rig.do(Scan("M1", member("M1")))
    rig.do(Select("4"))
    rig.do(Shutdown())
    step = rig.do(KeySensed(0, 4, False))  # the controller is no longer reconciled
    assert not writes_of(step, ops.ConfirmRental)
    assert rig.engine.lockers["4"].holder is None


def test_shared_door_take_key_is_interrupted_for_every_opened_cabinet() -> None:
    r = Rig(shared_layout(4))
    r.online()
    r.do(Scan("M1", member("M1")))
    assert r.engine.phase is Phase.TAKE_KEY
    step = r.do(Shutdown())
    assert [w.status for w in writes_of(step, ops.EndSession)] == ["interrupted"]
    assert step.commands == [LockAll(0)]
    (pending,) = r.engine.unresolved
    assert pending.locker is None and pending.cabinets == {0}


# ---- through a real ledger and a restart -------------------------------------------------------


def stop_mid_take_key(led: Ledger, locker: str = "3") -> tuple[LedgerRig, Step]:
    add_members(led, "M1", "M2")
    r = LedgerRig(led, layout=per_slot_layout(6))
    r.online()
    r.do(Scan("M1"))
    r.do(Select(locker))
    assert r.engine.phase is Phase.TAKE_KEY
    return r, r.do(Shutdown())


def restart(led: Ledger, old: LedgerRig) -> LedgerRig:
    """A new engine from what the ledger holds, as the next start of the kiosk builds it."""
    return LedgerRig(
        led,
        layout=old.layout,
        policy=Policy(timeout_s=30, tz=SEOUL),
        lockers=led.load_lockers(),
        unresolved=led.load_unresolved(old.layout),
        start=old.now().wall,
        tx_prefix="new",
    )


def test_shutdown_at_take_key_is_recorded_interrupted_and_nothing_else(ledger: Ledger) -> None:
    r, step = stop_mid_take_key(ledger)
    assert LockAll(0) in step.commands
    row = session_row(ledger, "tx1")
    assert (row["status"], row["end_time"]) == ("interrupted", None)
    rental = rental_row(ledger, "tx1")
    assert rental is not None and rental["status"] == "pending"  # neither cancelled nor active
    assert rental["rental_verified"] == 0
    shutdown = ledger.conn.execute(
        "SELECT member_id, locker_number FROM events WHERE kind = 'shutdown'"
    ).fetchall()
    assert [tuple(s) for s in shutdown] == [("M1", "3")]
    (pending,) = ledger.load_unresolved(r.layout)
    assert (pending.tx_id, pending.kind, pending.locker, pending.cabinets) == (
        "tx1",
        "rental",
        "3",
        {0},
    )
    assert pending.phase == "take_key"
    assert reports.invariant_problems(ledger) == []


def test_after_a_restart_a_key_gone_is_a_rental(ledger: Ledger) -> None:
    old, _ = stop_mid_take_key(ledger)
    new = restart(ledger, old)
    new.online(missing=[3])  # the member took the key as the kiosk stopped
    rental = rental_row(ledger, "tx1")
    assert rental is not None and rental["status"] == RentalStatus.ACTIVE
    assert rental["rental_verified"] == 1 and "recovered" in rental["error_details"]
    assert session_row(ledger, "tx1")["status"] == "completed"
    holder = new.engine.lockers["3"].holder
    assert holder is not None and (holder.member_id, holder.tx_id) == ("M1", "tx1")
    assert ledger.load_unresolved(new.layout) == []
    assert new.engine.phase is Phase.IDLE
    assert reports.invariant_problems(ledger) == []


def test_after_a_restart_a_key_at_home_is_cancelled(ledger: Ledger) -> None:
    old, _ = stop_mid_take_key(ledger)
    new = restart(ledger, old)
    steps = new.online()  # every key in: the member never took it
    rental = rental_row(ledger, "tx1")
    assert rental is not None and rental["status"] == "cancelled"
    assert session_row(ledger, "tx1")["status"] == "cancelled"
    assert new.engine.lockers["3"].holder is None
    assert LockAll(0) in steps.commands
    assert ledger.load_unresolved(new.layout) == []
    # Locker 3 is free again and M1 may rent.
    new.do(Scan("M1"))
    assert "3" in new.engine.view().available
    assert reports.invariant_problems(ledger) == []


def test_until_its_cabinet_reports_the_member_waits(ledger: Ledger) -> None:
    add_members(ledger, "M1", "M2")
    r = LedgerRig(ledger, layout=two_cabinets())
    r.online()
    r.do(Scan("M1"))
    r.do(Select("2"))  # cabinet a
    r.do(Shutdown())
    new = restart(ledger, r)
    new.begin()
    new.do(full_snapshot(1, 3))  # only cabinet b is back
    assert new.engine.phase is Phase.IDLE and len(new.engine.unresolved) == 1
    assert [n.msg for n in new.do(Scan("M1")).notices] == [Msg.CHECKING_PREVIOUS]
    assert rental_row(ledger, "tx1")["status"] == "pending"  # type: ignore[index]
    new.do(full_snapshot(0, 3, missing=[2]))
    assert rental_row(ledger, "tx1")["status"] == "active"  # type: ignore[index]
    assert new.engine.unresolved == []
    assert reports.invariant_problems(ledger) == []


def test_shutdown_while_choosing_leaves_nothing_to_resolve(ledger: Ledger) -> None:
    add_members(ledger, "M1")
    r = LedgerRig(ledger, layout=per_slot_layout(6))
    r.online()
    r.do(Scan("M1"))
    r.do(Shutdown())
    assert session_row(ledger, "tx1")["status"] == "cancelled"
    assert rental_row(ledger, "tx1") is None
    assert ledger.load_unresolved(r.layout) == []
    assert reports.invariant_problems(ledger) == []


def test_shutdown_during_a_return_is_resolved_by_where_the_key_is(ledger: Ledger) -> None:
    add_members(ledger, "M1")
    r = LedgerRig(ledger, layout=per_slot_layout(6))
    r.online()
    r.do(Scan("M1"))
    r.do(Select("2"))
    r.do(KeySensed(0, 2, False))  # rented
    r.do(Scan("KEY-2"))
    assert r.engine.phase is Phase.RETURN_KEY
    step = r.do(Shutdown())
    assert LockAll(0) in step.commands
    assert [w.status for w in writes_of(step, ops.EndSession)] == ["interrupted"]
    assert not writes_of(step, ops.CompleteReturn)
    assert rental_row(ledger, "tx1")["status"] == "active"  # type: ignore[index]
    new = restart(ledger, r)
    new.online(missing=[])  # the key went back in as the kiosk stopped
    assert rental_row(ledger, "tx1")["status"] == "returned"  # type: ignore[index]
    assert new.engine.lockers["2"].holder is None
    assert reports.invariant_problems(ledger) == []

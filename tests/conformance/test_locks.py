"""Sections 2 and 5: unlock, the dead-man relock, lock, lock_all and their `lock` events."""

from __future__ import annotations

import time

from .conftest import QUIET_WINDOW, Rig, ev

# Timing tolerance for the relock (spec: "relocks it by itself after `ms`"): never before
# `ms` counted from when the request was sent (the controller cannot start its timer any
# earlier), and at most 300 ms later than `ms` counted from when its reply arrived.
RELOCK_LATE = 0.3


def test_unlock_sends_a_lock_event_unlocked(cab: Rig) -> None:
    c, slot = cab.client, cab.slot
    cab.locked(slot)
    assert c.unlock(slot)["ok"] is True
    event = c.wait_event(ev("lock", slot=slot))
    assert event["locked"] is False
    assert c.status()["locks"][slot] == "0"


def test_relocks_by_itself_after_ms(cab: Rig) -> None:
    c, slot = cab.client, cab.slot
    cab.locked(slot)
    ms = 400
    sent = time.monotonic()
    reply = c.request_frame("unlock", slot=slot, ms=ms, boot=c.boot)
    assert reply.msg is not None
    assert reply.msg["ok"] is True
    c.wait_event(ev("lock", slot=slot, locked=False))
    relock = c.wait_frame(ev("lock", slot=slot, locked=True), timeout=ms / 1000 + 2)
    assert relock.t - sent >= ms / 1000, f"relocked after {relock.t - sent:.3f} s"
    late = relock.t - reply.t - ms / 1000
    assert late <= RELOCK_LATE, f"relocked {late:.3f} s after the deadline"
    assert c.status()["locks"][slot] == "1"


def test_unlock_of_an_unlocked_slot_rearms_the_timer_without_an_event(cab: Rig) -> None:
    c, slot = cab.client, cab.slot
    cab.locked(slot)
    ms = 600
    assert c.unlock(slot, ms=ms)["ok"] is True
    c.wait_event(ev("lock", slot=slot, locked=False))
    # Half way through the first timer (this sleep places the request in time; it is what
    # the case is about, not a wait for something to happen).
    time.sleep(ms / 2000)
    sent = time.monotonic()
    second = c.request_frame("unlock", slot=slot, ms=ms, boot=c.boot)
    assert second.msg is not None
    assert second.msg["ok"] is True
    relock = c.wait_frame(ev("lock", slot=slot, locked=True), timeout=ms / 1000 + 2)
    assert relock.t - sent >= ms / 1000, "relocked on the first timer: not re-armed"
    assert relock.t - second.t - ms / 1000 <= RELOCK_LATE
    locks = c.events(name="lock")
    assert [e["locked"] for e in locks] == [False, True], f"second unlock sent an event: {locks}"


def test_lock_sends_a_lock_event_locked(cab: Rig) -> None:
    c, slot = cab.client, cab.slot
    assert c.unlock(slot)["ok"] is True
    cab.settle()
    assert c.lock(slot)["ok"] is True
    event = c.wait_event(ev("lock", slot=slot))
    assert event["locked"] is True
    assert c.status()["locks"][slot] == "1"


def test_lock_of_a_locked_slot_answers_ok_without_an_event(cab: Rig) -> None:
    c, slot = cab.client, cab.slot
    cab.locked(slot)
    before = c.status()["seq"]
    assert c.lock(slot)["ok"] is True
    c.frames_for(QUIET_WINDOW)
    assert c.events(name="lock") == []
    assert c.status()["seq"] == before


def test_lock_cancels_the_relock_timer(cab: Rig) -> None:
    c, slot = cab.client, cab.slot
    cab.locked(slot)
    assert c.unlock(slot, ms=300)["ok"] is True
    assert c.lock(slot)["ok"] is True
    assert c.unlock(slot, ms=60000)["ok"] is True
    # The cancelled timer would fire 300 ms after the first unlock; watch well past that.
    c.frames_for(0.3 + RELOCK_LATE + 0.2)
    locks = [e["locked"] for e in c.events(name="lock")]
    assert locks == [False, True, False], f"lock events {locks}"
    assert c.status()["locks"][slot] == "0"


def test_each_slot_has_its_own_relock_timer(per_slot: Rig) -> None:
    c = per_slot.client
    for slot in (2, 5):
        per_slot.locked(slot)
    assert c.unlock(2, ms=300)["ok"] is True
    assert c.unlock(5, ms=60000)["ok"] is True
    c.wait_event(ev("lock", slot=2, locked=True), timeout=0.3 + 2)
    c.frames_for(QUIET_WINDOW)
    relocked = [e["slot"] for e in c.events(name="lock") if e["locked"] is True]
    assert relocked == [2], f"relocked slots {relocked}"
    assert c.status()["locks"][5] == "0"


def test_lock_all_locks_every_slot(cab: Rig) -> None:
    c = cab.client
    opened = cab.kind.lockable[::3]
    for slot in cab.kind.lockable:
        cab.locked(slot)
    for slot in opened:
        assert c.unlock(slot)["ok"] is True
    cab.settle()
    assert c.lock_all()["ok"] is True
    for slot in opened:
        c.wait_event(ev("lock", slot=slot, locked=True))
    c.frames_for(QUIET_WINDOW)
    locks = c.events(name="lock")
    assert sorted(e["slot"] for e in locks) == sorted(opened), f"lock events {locks}"
    assert all(e["locked"] is True for e in locks)
    locks_text = c.status()["locks"]
    for slot in cab.kind.lockable:
        assert locks_text[slot] == "1", locks_text


def test_lock_all_with_everything_locked_sends_no_event(cab: Rig) -> None:
    c = cab.client
    assert c.lock_all()["ok"] is True
    before = cab.settle()["seq"]
    assert c.lock_all()["ok"] is True
    c.frames_for(QUIET_WINDOW)
    assert c.events(name="lock") == []
    assert c.status()["seq"] == before

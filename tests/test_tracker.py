"""The host's picture of a controller, kept in step by seq numbers (pure, no I/O)."""

from __future__ import annotations

from lockerkey.cabinet import wire
from lockerkey.cabinet.tracker import Tracker
from lockerkey.core.events import KeySensed, LockSensed, Snapshot

BOOT = "0badc0de"


def status(keys: str = "-1111", seq: int = 5, boot: str = BOOT) -> wire.Status:
    return wire.Status(keys, "-----", "-1111", seq, boot)


def tracking() -> Tracker:
    tracker = Tracker(2)
    tracker.boot = BOOT
    tracker.hold()
    out = tracker.learn(status())
    assert out.events == [Snapshot(2, "-1111", "-----", "-1111")]
    return tracker


def test_events_in_order_are_applied_and_reported() -> None:
    tracker = tracking()
    out = tracker.on_event(wire.KeyEvent(6, 3, False))
    assert out.events == [KeySensed(2, 3, False)] and out.resync is None
    out = tracker.on_event(wire.LockEvent(7, 3, False))
    assert out.events == [LockSensed(2, 3, False)]
    assert tracker.picture is not None
    assert tracker.picture.snapshot(2) == Snapshot(2, "-1101", "-----", "-1101")
    assert tracker.on_event(wire.Heartbeat(7, 9000)).resync is None


def test_a_duplicate_is_ignored_without_a_resync() -> None:
    tracker = tracking()
    tracker.on_event(wire.KeyEvent(6, 3, False))
    out = tracker.on_event(wire.KeyEvent(6, 3, False))
    assert out.events == [] and out.repeated == 1 and out.resync is None


def test_a_gap_holds_events_until_the_status_which_then_decides() -> None:
    tracker = tracking()
    out = tracker.on_event(wire.KeyEvent(7, 3, False))  # seq 6 was lost
    assert out.events == [] and out.resync == "event seq 7 after 5"
    assert tracker.wants_status
    assert tracker.on_event(wire.KeyEvent(8, 4, False)).events == []  # held
    assert tracker.on_event(wire.KeyEvent(9, 4, True)).events == []
    out = tracker.learn(status("-1101", seq=8))  # includes seq 6..8
    assert out.events == [Snapshot(2, "-1101", "-----", "-1111"), KeySensed(2, 4, True)]
    assert not tracker.wants_status and tracker.last_seq == 9


def test_a_heartbeat_with_another_seq_calls_for_a_status() -> None:
    tracker = tracking()
    out = tracker.on_event(wire.Heartbeat(6, 4000))  # the last event, seq 6, was lost
    assert out.resync == "heartbeat seq 6, last seen 5" and tracker.wants_status


def test_a_gap_among_held_events_calls_for_another_status() -> None:
    tracker = tracking()
    tracker.on_event(wire.KeyEvent(7, 1, False))
    tracker.on_event(wire.KeyEvent(10, 2, False))  # 8 and 9 lost after the status's seq
    out = tracker.learn(status("-0111", seq=7))
    assert out.resync == "event seq 10 after 7" and tracker.wants_status


def test_a_new_boot_id_is_a_restart() -> None:
    tracker = tracking()
    hello = wire.Hello("fw", 1, 4, "12345678", False)
    assert tracker.on_event(wire.BootEvent(0, hello)).restart == "controller restarted (boot event)"
    same = wire.Hello("fw", 1, 4, BOOT, False)
    assert tracker.on_event(wire.BootEvent(0, same)).restart is None
    tracker.hold()
    out = tracker.learn(status(boot="12345678"))
    assert out.restart == "controller restarted (boot id changed)" and out.events == []


def test_an_event_for_a_sensor_the_cabinet_lacks_is_a_misfit() -> None:
    tracker = tracking()
    out = tracker.on_event(wire.DoorEvent(6, 2, True))  # doors are all '-'
    assert out.events == [] and out.misfits and tracker.last_seq == 6
    out = tracker.on_event(wire.LockEvent(7, 0, False))  # no shared door here
    assert out.events == [] and out.misfits


def test_before_the_first_status_events_are_left_to_it() -> None:
    tracker = Tracker(0)
    tracker.boot = BOOT
    assert tracker.on_event(wire.KeyEvent(3, 1, False)).events == []
    tracker.forget()
    assert not tracker.wants_status

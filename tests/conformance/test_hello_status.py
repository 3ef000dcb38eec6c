"""Section 2: `hello` and `status` results; section 5: `status` reports debounced state."""

from __future__ import annotations

import re

import pytest

from .conftest import Rig, ev

BOOT = re.compile(r"[0-9a-f]{8}")


def test_hello_result_fields_and_types(cab: Rig) -> None:
    reply = cab.client.request("hello")
    assert reply["ok"] is True
    assert isinstance(reply["fw"], str)
    assert type(reply["proto"]) is int
    assert reply["proto"] == 1
    assert type(reply["slots"]) is int
    assert reply["slots"] == cab.kind.slots
    assert isinstance(reply["boot"], str)
    assert BOOT.fullmatch(reply["boot"]), f"boot {reply['boot']!r} is not 8 lower-case hex"
    assert type(reply["main"]) is bool
    assert reply["main"] is cab.kind.shared_door


def test_hello_again_keeps_the_boot_id(cab: Rig) -> None:
    first = cab.hello
    again = cab.client.request("hello")
    assert again["boot"] == first["boot"]
    assert {k: v for k, v in again.items() if k != "id"} == {
        k: v for k, v in first.items() if k != "id"
    }


def test_status_strings_per_slot_cabinet(per_slot: Rig) -> None:
    status = per_slot.client.status()
    n = per_slot.kind.slots
    for name in ("keys", "doors", "locks"):
        assert isinstance(status[name], str)
        assert len(status[name]) == n + 1, f"{name}={status[name]!r}"
    assert re.fullmatch(rf"-[01]{{{n}}}", status["keys"]), status["keys"]
    # No shared door: char 0 has no lock and no door sensor; every slot has both.
    assert re.fullmatch(rf"-[01]{{{n}}}", status["locks"]), status["locks"]
    assert re.fullmatch(rf"-[01]{{{n}}}", status["doors"]), status["doors"]


def test_status_strings_shared_door_cabinet(shared: Rig) -> None:
    status = shared.client.status()
    n = shared.kind.slots
    for name in ("keys", "doors", "locks"):
        assert isinstance(status[name], str)
        assert len(status[name]) == n + 1, f"{name}={status[name]!r}"
    assert re.fullmatch(rf"-[01]{{{n}}}", status["keys"]), status["keys"]
    # Only the shared door (char 0) has a lock; it may or may not have a door sensor.
    assert re.fullmatch(rf"[01]-{{{n}}}", status["locks"]), status["locks"]
    assert re.fullmatch(rf"[01-]-{{{n}}}", status["doors"]), status["doors"]


def test_status_seq_and_boot(cab: Rig) -> None:
    c = cab.client
    status = c.status()
    assert type(status["seq"]) is int
    assert status["seq"] >= 0
    assert status["boot"] == cab.hello["boot"]
    cab.locked(cab.slot)
    start = c.mark()
    c.unlock(cab.slot)
    event = c.wait_event(ev("lock", slot=cab.slot, locked=False), since=start)
    assert c.status()["seq"] == event["seq"]


def test_status_shows_the_lock_state(cab: Rig) -> None:
    c, slot = cab.client, cab.slot
    cab.locked(slot)
    assert c.status()["locks"][slot] == "1"
    assert c.unlock(slot)["ok"] is True
    assert c.status()["locks"][slot] == "0"


def test_status_shows_the_debounced_key_state(cab: Rig) -> None:
    c = cab.client
    assert c.status()["keys"][3] == "1", "precondition: slot 3 holds its key"
    start = c.mark()
    cab.act("force 3")
    event = c.wait_event(ev("key", slot=3), since=start)
    assert event["present"] is False
    after = c.status()
    assert after["keys"][3] == "0"
    assert after["seq"] == event["seq"]


def test_status_snapshot_is_consistent_with_the_event_stream(cab: Rig) -> None:
    """A status asked for during the debounce shows the key as its seq says.

    Whichever side of the key event the snapshot falls on, `keys` and `seq` must agree.
    """
    c = cab.client
    start = c.mark()
    cab.act("force 3")
    snapshot = c.status()
    event = c.wait_event(ev("key", slot=3, present=False), since=start)
    if snapshot["seq"] < event["seq"]:
        assert snapshot["keys"][3] == "1", f"{snapshot} shows the key gone before {event}"
    else:
        assert snapshot["keys"][3] == "0", f"{snapshot} shows the key present after {event}"


def test_status_shows_door_state(cab: Rig) -> None:
    c = cab.client
    door = cab.slot
    if c.status()["doors"][door] == "-":
        # A shared door may lack a sensor (spec 5); then there is nothing to report.
        assert cab.kind.shared_door, "a per-slot cabinet built with door sensors shows none"
        pytest.skip("this target's shared door has no door sensor")
    assert c.unlock(door)["ok"] is True
    assert cab.settle()["doors"][door] == "0", "precondition: the door starts closed"
    start = c.mark()
    cab.act(f"open {door}")
    event = c.wait_event(ev("door", slot=door, open=True), since=start)
    status = c.status()
    assert status["doors"][door] == "1"
    assert status["seq"] >= event["seq"]

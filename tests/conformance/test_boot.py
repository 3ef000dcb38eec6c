"""Sections 2, 3 and 5: the boot id, the `boot` event, and what a reset forgets."""

from __future__ import annotations

import re

import pytest

from .conftest import Client, Message, Rig, ev

BOOT = re.compile(r"[0-9a-f]{8}")


def reboot(rig: Rig) -> Message:
    """Resets the controller; returns its `boot` event."""
    if not rig.target.can_reboot:
        pytest.skip(f"target {rig.target.name} cannot be rebooted")
    start = rig.client.mark()
    rig.act("reboot")
    return rig.client.wait_event(ev("boot"), timeout=5.0, since=start)


def test_boot_event_after_a_reset(cab: Rig) -> None:
    event = reboot(cab)
    assert event["seq"] == 0
    assert type(event["seq"]) is int
    for name in ("fw", "proto", "slots", "main"):
        assert name in event, f"boot event lacks {name}: {event}"
        assert event[name] == cab.hello[name]
        assert type(event[name]) is type(cab.hello[name])
    assert isinstance(event["boot"], str)
    assert BOOT.fullmatch(event["boot"]), event["boot"]


def test_boot_id_changes_on_reset(cab: Rig) -> None:
    event = reboot(cab)
    assert event["boot"] != cab.hello["boot"]
    assert cab.client.request("hello")["boot"] == event["boot"]


def test_old_boot_id_is_stale_after_a_reset(cab: Rig) -> None:
    c, slot = cab.client, cab.slot
    old = c.boot
    reboot(cab)
    lock_state = c.status()["locks"][slot]
    reply = c.request("unlock", slot=slot, ms=60000, boot=old)
    assert reply["ok"] is False
    assert reply["err"] == "stale_boot"
    assert c.status()["locks"][slot] == lock_state
    assert c.events(name="lock") == []


def test_a_reset_forgets_the_reply_memory(cab: Rig) -> None:
    c = cab.client
    rid = c.new_id()
    before = c.request("status", id=rid)
    event = reboot(cab)
    again = c.request("status", id=rid)
    assert again != before
    assert again["boot"] == event["boot"]


def test_event_seq_restarts_after_the_boot_event(cab: Rig) -> None:
    c = cab.client
    reboot(cab)
    cab.act("force 3")
    c.wait_event(ev("key", slot=3, present=False))
    c.wait_event(ev("hb"), timeout=2.5)
    events = c.events()
    # An hb sent just before the reset may come first; the boot event starts the count.
    events = events[[e["ev"] for e in events].index("boot") :]
    last = 0
    for event in events[1:]:
        if event["ev"] == "hb":
            assert event["seq"] == last
        else:
            assert event["seq"] == last + 1, f"{event} after seq {last}"
            last = event["seq"]
    assert c.status()["seq"] == last


def _replug(rig: Rig, reset: bool) -> Client:
    if not rig.target.can_replug:
        pytest.skip(f"target {rig.target.name} cannot be unplugged")
    rig.act("unplug")
    rig.client.close()
    rig.act("replug reset" if reset else "replug")
    rig.client = Client(rig.target)
    return rig.client


@pytest.mark.parametrize("reset", [False, True], ids=["no_reset", "reset"])
def test_boot_id_after_replugging_tells_whether_it_reset(cab: Rig, reset: bool) -> None:
    old = cab.hello["boot"]
    c = _replug(cab, reset)
    boot = c.request("hello")["boot"]
    assert (boot != old) is reset

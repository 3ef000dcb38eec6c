"""Sections 2 and 5: error codes and the order in which a request's arguments are checked."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import QUIET_WINDOW, Message, Rig, ev

MISSING = object()


def call(rig: Rig, cmd: str, boot: Any = "<own>", **args: Any) -> Message:
    """A lock-moving request; ``boot`` "<own>" sends the right one, MISSING sends none."""
    if boot == "<own>":
        args["boot"] = rig.client.boot
    elif boot is not MISSING:
        args["boot"] = boot
    return rig.client.request(cmd, **{k: v for k, v in args.items() if v is not MISSING})


def other_boot(boot: str) -> str:
    return boot[:-1] + ("0" if boot[-1] != "0" else "1")


def assert_err(reply: Message, code: str) -> None:
    assert reply.get("ok") is False, reply
    assert reply.get("err") == code, reply


# ----------------------------------------------------------------------------- stale_boot

WRONG_BOOTS = {
    "missing": lambda b: MISSING,
    "other": other_boot,
    "upper_case": str.upper,
    "empty": lambda b: "",
    "number": lambda b: 12345678,
    "null": lambda b: None,
}


def _ensure_upper_differs(rig: Rig, name: str) -> None:
    """For the upper-case case the boot id needs a letter: reset until it has one."""
    if name != "upper_case":
        return
    # A random boot id is all digits about 2% of the time; 30 resets all giving one is
    # beyond any real chance.
    for _ in range(30):
        if rig.client.boot.upper() != rig.client.boot:
            return
        if not rig.target.can_reboot:
            break
        start = rig.client.mark()
        rig.act("reboot")
        rig.client.wait_event(ev("boot"), timeout=5.0, since=start)
        rig.client.hello()
    pytest.skip("this boot id has no letters and the target cannot be reset to get another")


@pytest.mark.parametrize("wrong", sorted(WRONG_BOOTS))
def test_unlock_with_stale_boot_is_refused_and_does_nothing(cab: Rig, wrong: str) -> None:
    _ensure_upper_differs(cab, wrong)
    c, slot = cab.client, cab.slot
    cab.locked(slot)
    reply = call(cab, "unlock", WRONG_BOOTS[wrong](c.boot), slot=slot, ms=60000)
    assert_err(reply, "stale_boot")
    assert c.status()["locks"][slot] == "1"
    assert c.events(name="lock") == []


@pytest.mark.parametrize("cmd", ["lock", "lock_all"])
@pytest.mark.parametrize("wrong", ["missing", "other"])
def test_lock_with_stale_boot_is_refused_and_does_nothing(cab: Rig, cmd: str, wrong: str) -> None:
    c, slot = cab.client, cab.slot
    assert c.unlock(slot)["ok"] is True
    cab.settle()
    args = {"slot": slot} if cmd == "lock" else {}
    reply = call(cab, cmd, WRONG_BOOTS[wrong](c.boot), **args)
    assert_err(reply, "stale_boot")
    assert c.status()["locks"][slot] == "0"
    assert c.events(name="lock") == []


@pytest.mark.parametrize(
    "args",
    [
        {"slot": MISSING, "ms": 1000},
        {"slot": "3", "ms": 1000},
        {"slot": 200, "ms": 1000},
        {"slot": 3, "ms": 0},
        {"slot": 3, "ms": MISSING},
    ],
    ids=["slot_missing", "slot_string", "slot_out_of_range", "ms_zero", "ms_missing"],
)
@pytest.mark.parametrize("wrong", ["missing", "other"])
def test_boot_is_checked_before_the_arguments(cab: Rig, args: Message, wrong: str) -> None:
    reply = call(cab, "unlock", WRONG_BOOTS[wrong](cab.client.boot), **args)
    assert_err(reply, "stale_boot")


def test_status_ping_beep_need_no_boot(cab: Rig) -> None:
    c = cab.client
    assert c.request("status")["ok"] is True
    assert c.request("ping")["ok"] is True
    assert c.request("beep", pattern="ok")["ok"] is True


# ------------------------------------------------------------------------------ slot

BAD_SLOT_VALUES: dict[str, Any] = {
    "missing": MISSING,
    "string": "3",
    "true": True,
    "false": False,
    "float": 2.5,
    "null": None,
    "list": [3],
}


@pytest.mark.parametrize("cmd", ["unlock", "lock"])
@pytest.mark.parametrize("value", sorted(BAD_SLOT_VALUES))
def test_slot_missing_or_not_an_integer_is_bad_arg(cab: Rig, cmd: str, value: str) -> None:
    # ms is also invalid: the slot is checked first, so the answer is about the slot either way.
    reply = call(cab, cmd, slot=BAD_SLOT_VALUES[value], ms=0)
    assert_err(reply, "bad_arg")
    assert cab.client.events(name="lock") == []


def _no_lock_slots(rig: Rig) -> list[int]:
    n = rig.kind.slots
    common = [n + 1, 255, 256, -1, 2**31]
    return ([1, 3, n] if rig.kind.shared_door else [0]) + common


@pytest.mark.parametrize("cmd", ["unlock", "lock"])
def test_slot_out_of_range_or_without_a_lock_is_bad_slot(cab: Rig, cmd: str) -> None:
    for slot in _no_lock_slots(cab):
        # ms invalid too: the slot is checked before ms.
        reply = call(cab, cmd, slot=slot, ms=0)
        assert_err(reply, "bad_slot")
        assert cab.client.events(name="lock") == []


def test_slot_0_on_a_per_slot_cabinet_is_bad_slot(per_slot: Rig) -> None:
    assert_err(call(per_slot, "unlock", slot=0, ms=1000), "bad_slot")
    assert_err(call(per_slot, "lock", slot=0), "bad_slot")


def test_key_slots_of_a_shared_door_cabinet_are_bad_slot(shared: Rig) -> None:
    for slot in range(1, shared.kind.slots + 1):
        assert_err(call(shared, "unlock", slot=slot, ms=1000), "bad_slot")
        assert_err(call(shared, "lock", slot=slot), "bad_slot")


def test_every_lockable_slot_is_accepted(cab: Rig) -> None:
    for slot in cab.kind.lockable:
        assert call(cab, "unlock", slot=slot, ms=60000)["ok"] is True
        assert call(cab, "lock", slot=slot)["ok"] is True


# ------------------------------------------------------------------------------ ms

BAD_MS: dict[str, Any] = {
    "missing": MISSING,
    "zero": 0,
    "negative": -1,
    "60001": 60001,
    "huge": 2**40,
    "string": "1000",
    "float": 1000.5,
    "true": True,
    "null": None,
}


@pytest.mark.parametrize("value", sorted(BAD_MS))
def test_ms_not_an_integer_in_1_to_60000_is_bad_arg(cab: Rig, value: str) -> None:
    c, slot = cab.client, cab.slot
    cab.locked(slot)
    reply = call(cab, "unlock", slot=slot, ms=BAD_MS[value])
    assert_err(reply, "bad_arg")
    assert c.status()["locks"][slot] == "1"
    assert c.events(name="lock") == []


@pytest.mark.parametrize("ms", [1, 60000])
def test_ms_limits_are_accepted(cab: Rig, ms: int) -> None:
    cab.locked(cab.slot)
    assert call(cab, "unlock", slot=cab.slot, ms=ms)["ok"] is True


# ------------------------------------------------------------------------------ beep


@pytest.mark.parametrize("pattern", ["ok", "error", "alert"])
def test_beep_patterns_are_ok(cab: Rig, pattern: str) -> None:
    reply = cab.client.request("beep", pattern=pattern)
    assert reply["ok"] is True


@pytest.mark.parametrize("pattern", [MISSING, "OK", "loud", "", 1, None, True])
def test_beep_with_a_bad_pattern_is_bad_arg(cab: Rig, pattern: Any) -> None:
    args = {} if pattern is MISSING else {"pattern": pattern}
    assert_err(cab.client.request("beep", **args), "bad_arg")


# ------------------------------------------------------------------------------ hw_fault


def _fail_output(rig: Rig, slot: int) -> None:
    if not rig.target.can_fail_output:
        pytest.skip(f"target {rig.target.name} cannot make an output faulty")
    rig.act(f"fail {slot}")


def test_unlock_on_a_faulty_output_is_hw_fault_after_the_other_checks(cab: Rig) -> None:
    c, slot = cab.client, cab.slot
    cab.locked(slot)
    _fail_output(cab, slot)
    assert_err(call(cab, "unlock", other_boot(c.boot), slot=slot, ms=0), "stale_boot")
    assert_err(call(cab, "unlock", slot=slot, ms=0), "bad_arg")
    assert_err(call(cab, "unlock", slot=slot, ms=1000), "hw_fault")
    assert c.status()["locks"][slot] == "1"
    assert c.events(name="lock") == []


def test_lock_on_a_faulty_output_is_hw_fault(cab: Rig) -> None:
    c, slot = cab.client, cab.slot
    assert c.unlock(slot)["ok"] is True
    _fail_output(cab, slot)
    cab.settle()
    assert_err(c.lock(slot), "hw_fault")
    assert c.events(name="lock") == []


def test_lock_all_with_a_faulty_output_locks_the_rest_and_answers_hw_fault(per_slot: Rig) -> None:
    c = per_slot.client
    for slot in (2, 5):
        assert c.unlock(slot)["ok"] is True
    _fail_output(per_slot, 2)
    per_slot.settle()
    assert_err(c.lock_all(), "hw_fault")
    c.wait_event(ev("lock", slot=5, locked=True))
    c.frames_for(QUIET_WINDOW)
    assert [(e["slot"], e["locked"]) for e in c.events(name="lock")] == [(5, True)]
    locks = c.status()["locks"]
    assert locks[5] == "1"
    assert all(locks[s] == "1" for s in per_slot.kind.lockable if s != 2), locks

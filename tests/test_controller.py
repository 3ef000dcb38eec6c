"""The controller side of the cabinet protocol, as a pure state machine with injected time."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from lockerkey.cabinet.controller import Controller
from lockerkey.cabinet.wire import Decoder, encode


def decode(frames: list[bytes]) -> list[dict[str, Any]]:
    """Every frame decoded; each one must pass the host's framing checks."""
    decoder = Decoder()
    out = [decoder.decode(frame) for frame in frames]
    assert all(frame.endswith(b"\n") for frame in frames)
    assert None not in out, frames
    return [m for m in out if m is not None]


def powered(slots: int = 4, shared: bool = False, doors: bool = False) -> Controller:
    """A controller powered up at t=0."""
    ctl = Controller(slots, shared, door_sensors=doors, rng=random.Random(7))
    ctl.power_up(0)
    return ctl


def send(ctl: Controller, now: int, **message: Any) -> list[dict[str, Any]]:
    """One request; the frames written back, decoded."""
    return decode(ctl.receive(encode(message), now))


def events(frames: list[dict[str, Any]], name: str | None = None) -> list[dict[str, Any]]:
    """The events among frames (except heartbeats), or only those called name."""
    return [f for f in frames if "ev" in f and f["ev"] != "hb" and f["ev"] == (name or f["ev"])]


def reply(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """The one reply among frames."""
    (found,) = [f for f in frames if "ev" not in f]
    return found


def unlock(ctl: Controller, now: int, slot: int, ms: int = 30_000, rid: int = 100) -> None:
    """Unlock a slot and check that it worked."""
    assert reply(send(ctl, now, id=rid, cmd="unlock", slot=slot, ms=ms, boot=ctl.boot))["ok"]


# -- power-up, hello, status --------------------------------------------------------------


def test_power_up_sends_boot_with_seq_0_and_a_fresh_boot_id() -> None:
    ctl = Controller(3, False, rng=random.Random(1))
    with pytest.raises(RuntimeError):
        ctl.tick(0)
    (boot,) = decode(ctl.power_up(5))
    assert boot == {
        "ev": "boot",
        "seq": 0,
        "fw": ctl.fw,
        "proto": 1,
        "slots": 3,
        "boot": ctl.boot,
        "main": False,
    }
    assert re.fullmatch("[0-9a-f]{8}", ctl.boot)
    first = ctl.boot
    unlock(ctl, 10, 1)
    assert ctl.seq == 1
    (again,) = decode(ctl.power_up(20))
    assert again["seq"] == 0 and ctl.seq == 0
    assert ctl.boot != first and again["boot"] == ctl.boot
    assert ctl.status()[2] == "-111", "power-up locks every slot"


def test_hello_and_status_per_slot_cabinet() -> None:
    ctl = powered(4)
    hello = reply(send(ctl, 1, id=1, cmd="hello"))
    assert hello == {
        "id": 1,
        "ok": True,
        "fw": ctl.fw,
        "proto": 1,
        "slots": 4,
        "boot": ctl.boot,
        "main": False,
    }
    status = reply(send(ctl, 2, id=2, cmd="status"))
    assert status == {
        "id": 2,
        "ok": True,
        "keys": "-1111",
        "doors": "-----",
        "locks": "-1111",
        "seq": 0,
        "boot": ctl.boot,
    }


def test_status_of_a_shared_door_cabinet_and_of_slots_with_doors() -> None:
    shared = powered(3, shared=True)
    assert reply(send(shared, 1, id=1, cmd="hello"))["main"] is True
    assert shared.status() == ("-111", "0---", "1---")
    assert powered(3, doors=True).status() == ("-111", "-000", "-111")


# -- reply memory --------------------------------------------------------------------------


def test_a_repeated_id_is_answered_from_memory_and_not_executed() -> None:
    ctl = powered()
    first = ctl.receive(
        encode({"id": 10, "cmd": "unlock", "slot": 1, "ms": 5000, "boot": ctl.boot}), 1
    )
    assert len(first) == 2  # reply + lock event
    assert events(send(ctl, 2, id=11, cmd="lock", slot=1, boot=ctl.boot), "lock")
    again = ctl.receive(
        encode({"id": 10, "cmd": "unlock", "slot": 1, "ms": 5000, "boot": ctl.boot}), 3
    )
    assert again == [first[0]], "the stored reply, byte for byte, and no event"
    assert ctl.status()[2] == "-1111"


def test_memory_holds_the_last_eight_ids() -> None:
    ctl = powered()
    unlock(ctl, 1, 1, rid=50)
    send(ctl, 2, id=51, cmd="lock", slot=1, boot=ctl.boot)
    for rid in range(52, 58):  # six more: 50 is still among the last eight
        send(ctl, 3, id=rid, cmd="ping")
    assert not events(send(ctl, 4, id=50, cmd="unlock", slot=1, ms=100, boot=ctl.boot))
    send(ctl, 5, id=59, cmd="ping")  # now 50 is the ninth-last
    assert events(send(ctl, 6, id=50, cmd="unlock", slot=1, ms=100, boot=ctl.boot), "lock")


def test_errors_are_remembered_too() -> None:
    ctl = powered()
    assert reply(send(ctl, 1, id=5, cmd="lock", slot=1, boot="00000000"))["err"] == "stale_boot"
    assert reply(send(ctl, 2, id=5, cmd="unlock", slot=1, ms=9, boot=ctl.boot))["err"] == (
        "stale_boot"
    )
    assert reply(send(ctl, 3, id=6, cmd="open_locker"))["err"] == "unknown_cmd"
    assert reply(send(ctl, 4, id=6, cmd="ping")) == {"id": 6, "ok": False, "err": "unknown_cmd"}


def test_executed_hello_clears_other_ids_and_a_retried_hello_clears_nothing() -> None:
    ctl = powered()
    unlock(ctl, 1, 1, rid=1)
    send(ctl, 2, id=2, cmd="lock", slot=1, boot=ctl.boot)
    hello = ctl.receive(encode({"id": 3, "cmd": "hello"}), 3)
    # id 1 is forgotten: the unlock runs again
    assert events(send(ctl, 4, id=1, cmd="unlock", slot=1, ms=100, boot=ctl.boot), "lock")
    send(ctl, 5, id=4, cmd="lock", slot=1, boot=ctl.boot)
    assert ctl.receive(encode({"id": 3, "cmd": "hello"}), 6) == hello  # from memory
    # ...which cleared nothing: id 1 is still answered from memory, the slot stays locked
    assert not events(send(ctl, 7, id=1, cmd="unlock", slot=1, ms=100, boot=ctl.boot))
    assert ctl.status()[2] == "-1111"


def test_a_reboot_forgets_the_reply_memory() -> None:
    ctl = powered()
    assert reply(send(ctl, 1, id=9, cmd="beep", pattern="nope"))["err"] == "bad_arg"
    ctl.power_up(2)
    assert reply(send(ctl, 3, id=9, cmd="beep", pattern="ok")) == {"id": 9, "ok": True}


# -- validation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "echo"),
    [
        ({"cmd": "ping"}, None),
        ({"id": None, "cmd": "ping"}, None),
        ({"id": 0, "cmd": "ping"}, 0),
        ({"id": -3, "cmd": "ping"}, -3),
        ({"id": 2**31, "cmd": "ping"}, 2**31),
        ({"id": True, "cmd": "ping"}, True),
        ({"id": "7", "cmd": "ping"}, "7"),
        ({"id": 7.5, "cmd": "ping"}, 7.5),
        ({"id": [1], "cmd": "ping"}, [1]),
    ],
)
def test_an_invalid_id_is_bad_arg_with_the_id_as_sent(message: dict[str, Any], echo: Any) -> None:
    ctl = powered()
    assert send(ctl, 1, **message) == [{"id": echo, "ok": False, "err": "bad_arg"}]


def test_the_largest_id_is_valid() -> None:
    assert send(powered(), 1, id=2**31 - 1, cmd="ping") == [{"id": 2**31 - 1, "ok": True}]


@pytest.mark.parametrize("cmd", [None, 5, True, ["ping"], {"x": 1}])
def test_a_missing_or_non_string_cmd_is_unknown_cmd_and_not_remembered(cmd: Any) -> None:
    ctl = powered()
    message = {"id": 12} if cmd is None else {"id": 12, "cmd": cmd}
    assert send(ctl, 1, **message) == [{"id": 12, "ok": False, "err": "unknown_cmd"}]
    assert send(ctl, 2, id=12, cmd="ping") == [{"id": 12, "ok": True}]


def test_an_invalid_id_is_not_remembered_either() -> None:
    ctl = powered()
    send(ctl, 1, id="12", cmd="ping")
    assert send(ctl, 2, id=12, cmd="ping") == [{"id": 12, "ok": True}]


PER_SLOT_CASES = [
    # boot comes first, whatever else is wrong
    ({"cmd": "unlock", "slot": 99, "ms": 0}, "stale_boot"),
    ({"cmd": "unlock", "slot": 1, "ms": 100, "boot": "deadbeef"}, "stale_boot"),
    ({"cmd": "unlock", "slot": 1, "ms": 100, "boot": 1}, "stale_boot"),
    ({"cmd": "lock", "slot": 1}, "stale_boot"),
    ({"cmd": "lock_all"}, "stale_boot"),
    # then the slot
    ({"cmd": "unlock", "ms": 0, "boot": "B"}, "bad_arg"),
    ({"cmd": "unlock", "slot": True, "ms": 0, "boot": "B"}, "bad_arg"),
    ({"cmd": "unlock", "slot": "1", "ms": 0, "boot": "B"}, "bad_arg"),
    ({"cmd": "unlock", "slot": 1.0, "ms": 0, "boot": "B"}, "bad_arg"),
    ({"cmd": "lock", "slot": None, "boot": "B"}, "bad_arg"),
    ({"cmd": "unlock", "slot": 0, "ms": 0, "boot": "B"}, "bad_slot"),
    ({"cmd": "unlock", "slot": 5, "ms": 0, "boot": "B"}, "bad_slot"),
    ({"cmd": "unlock", "slot": -1, "ms": 0, "boot": "B"}, "bad_slot"),
    ({"cmd": "lock", "slot": 256, "boot": "B"}, "bad_slot"),
    # then ms
    ({"cmd": "unlock", "slot": 1, "boot": "B"}, "bad_arg"),
    ({"cmd": "unlock", "slot": 1, "ms": 0, "boot": "B"}, "bad_arg"),
    ({"cmd": "unlock", "slot": 1, "ms": 60_001, "boot": "B"}, "bad_arg"),
    ({"cmd": "unlock", "slot": 1, "ms": 100.0, "boot": "B"}, "bad_arg"),
    ({"cmd": "unlock", "slot": 1, "ms": True, "boot": "B"}, "bad_arg"),
    ({"cmd": "unlock", "slot": 1, "ms": "100", "boot": "B"}, "bad_arg"),
    # the rest
    ({"cmd": "beep", "pattern": "loud"}, "bad_arg"),
    ({"cmd": "beep"}, "bad_arg"),
    ({"cmd": "open_locker", "locker": "12"}, "unknown_cmd"),
    ({"cmd": "HELLO"}, "unknown_cmd"),
]


@pytest.mark.parametrize(("message", "err"), PER_SLOT_CASES)
def test_checks_in_order_per_slot(message: dict[str, Any], err: str) -> None:
    ctl = powered(4)
    if message.get("boot") == "B":
        message = {**message, "boot": ctl.boot}
    frames = send(ctl, 1, id=77, **message)
    assert frames == [{"id": 77, "ok": False, "err": err}], "an error moves nothing"
    assert ctl.status()[2] == "-1111"


@pytest.mark.parametrize(
    ("slot", "ms", "err"),
    [(1, 100, "bad_slot"), (4, 0, "bad_slot"), (0, 0, "bad_arg"), (0, 60_000, None)],
)
def test_checks_in_order_shared_door(slot: int, ms: int, err: str | None) -> None:
    ctl = powered(4, shared=True)
    frames = send(ctl, 1, id=3, cmd="unlock", slot=slot, ms=ms, boot=ctl.boot)
    if err is None:
        assert frames == [
            {"id": 3, "ok": True},
            {"ev": "lock", "seq": 1, "slot": 0, "locked": False},
        ]
    else:
        assert frames == [{"id": 3, "ok": False, "err": err}]


def test_valid_values_and_extra_fields_are_accepted() -> None:
    ctl = powered(4)
    for pattern in ("ok", "error", "alert"):
        assert send(ctl, 1, id=1 + len(ctl.beeps), cmd="beep", pattern=pattern, x=[1])[0]["ok"]
    assert ctl.beeps == ["ok", "error", "alert"]
    assert reply(send(ctl, 2, id=9, cmd="unlock", slot=4, ms=1, boot=ctl.boot, why="x"))["ok"]


def test_hw_fault_comes_after_the_argument_checks_and_lock_all_locks_the_rest() -> None:
    ctl = powered(3)
    unlock(ctl, 1, 1, rid=1)
    unlock(ctl, 2, 2, rid=2)
    ctl.fail_output(2)
    assert reply(send(ctl, 3, id=3, cmd="unlock", slot=2, ms=0, boot=ctl.boot))["err"] == "bad_arg"
    assert send(ctl, 4, id=4, cmd="lock", slot=2, boot=ctl.boot) == [
        {"id": 4, "ok": False, "err": "hw_fault"}
    ]
    frames = send(ctl, 5, id=5, cmd="lock_all", boot=ctl.boot)
    assert reply(frames) == {"id": 5, "ok": False, "err": "hw_fault"}
    assert events(frames) == [{"ev": "lock", "seq": 3, "slot": 1, "locked": True}]
    assert ctl.status()[2] == "-101"
    assert reply(send(ctl, 6, id=6, cmd="unlock", slot=3, ms=9, boot=ctl.boot))["ok"]
    ctl.fail_output(2, failed=False)
    assert reply(send(ctl, 7, id=7, cmd="lock_all", boot=ctl.boot))["ok"]
    assert ctl.status()[2] == "-111"
    with pytest.raises(ValueError, match="no lock"):
        ctl.fail_output(0)


# -- framing --------------------------------------------------------------------------------


def _lower_hex_frame() -> bytes:
    for rid in range(1, 100):
        frame = encode({"id": rid, "cmd": "ping"})
        if frame[-5:-1] != frame[-5:-1].lower():
            return frame[:-5] + frame[-5:].lower()
    raise AssertionError("no CRC with a letter in it")


LOWER_HEX = _lower_hex_frame()


@pytest.mark.parametrize(
    "line",
    [
        b'{"id":1,"cmd":"ping"}*0000\n',
        LOWER_HEX,
        b'{"id":1,"cmd":"ping"}\n',
        encode({"id": 1, "cmd": "ping", "pad": "x" * 1100}),
        encode([1, 2]),  # type: ignore[arg-type]
        b"\n",
        b"\r\n",
    ],
)
def test_lines_that_fail_framing_get_no_answer(line: bytes) -> None:
    ctl = powered()
    assert ctl.receive(line, 1) == []
    assert ctl.frames_received == 0


def test_a_line_end_with_cr_is_accepted() -> None:
    ctl = powered()
    line = encode({"id": 1, "cmd": "ping"}).replace(b"\n", b"\r\n")
    assert decode(ctl.receive(line, 1)) == [{"id": 1, "ok": True}]


# -- locks and timers -----------------------------------------------------------------------


def test_unlock_lock_and_the_events_they_cause() -> None:
    ctl = powered(4)
    frames = send(ctl, 10, id=1, cmd="unlock", slot=3, ms=5000, boot=ctl.boot)
    assert frames == [{"id": 1, "ok": True}, {"ev": "lock", "seq": 1, "slot": 3, "locked": False}]
    assert ctl.status()[2] == "-1101"
    assert send(ctl, 11, id=2, cmd="lock", slot=3, boot=ctl.boot) == [
        {"id": 2, "ok": True},
        {"ev": "lock", "seq": 2, "slot": 3, "locked": True},
    ]
    assert send(ctl, 12, id=3, cmd="lock", slot=3, boot=ctl.boot) == [{"id": 3, "ok": True}]
    assert send(ctl, 13, id=4, cmd="lock_all", boot=ctl.boot) == [{"id": 4, "ok": True}]
    assert not events(decode(ctl.tick(5010))), "lock cancelled the dead-man relock"


def test_dead_man_relock_and_re_arming() -> None:
    ctl = powered(2)
    unlock(ctl, 100, 1, ms=3000, rid=1)
    assert ctl.next_deadline() == 1000  # the first heartbeat comes first
    assert not events(decode(ctl.tick(3099)))
    assert events(decode(ctl.tick(3100))) == [{"ev": "lock", "seq": 2, "slot": 1, "locked": True}]
    unlock(ctl, 4000, 1, ms=3000, rid=2)
    frames = send(ctl, 6000, id=3, cmd="unlock", slot=1, ms=3000, boot=ctl.boot)
    assert reply(frames) == {"id": 3, "ok": True}
    assert not events(frames), "unlocking an unlocked slot sends no event"
    assert not events(decode(ctl.tick(8999)))
    assert events(decode(ctl.tick(9000))) == [{"ev": "lock", "seq": 4, "slot": 1, "locked": True}]


def test_timers_fall_due_before_a_request_is_handled() -> None:
    ctl = powered(2)
    unlock(ctl, 0, 2, ms=500, rid=1)
    frames = send(ctl, 700, id=2, cmd="status")
    assert frames[0] == {"ev": "lock", "seq": 2, "slot": 2, "locked": True}
    assert frames[1]["locks"] == "-11"


def test_fail_secure_after_ten_silent_seconds_once_per_silence() -> None:
    ctl = powered(3)
    unlock(ctl, 500, 1, ms=60_000, rid=1)
    unlock(ctl, 600, 2, ms=60_000, rid=2)
    assert not events(decode(ctl.tick(10_599)))
    assert ctl.next_deadline() == 10_600
    frames = decode(ctl.tick(10_600))
    assert events(frames) == [
        {"ev": "lock", "seq": 3, "slot": 1, "locked": True},
        {"ev": "lock", "seq": 4, "slot": 2, "locked": True},
    ]
    assert all(f["ev"] == "lock" for f in events(frames)), "only the resulting lock events"
    assert ctl.next_deadline() == 11_000, "fired once: only the heartbeat is left"
    assert not events(decode(ctl.tick(60_000)))  # the dead-man timers went with fail-secure
    # A new silence starts with the next valid frame.
    unlock(ctl, 61_000, 3, ms=60_000, rid=3)
    assert not events(decode(ctl.tick(70_999)))
    assert events(decode(ctl.tick(71_000))) == [{"ev": "lock", "seq": 6, "slot": 3, "locked": True}]


def test_fail_secure_timer_starts_at_power_up() -> None:
    ctl = Controller(2, True, rng=random.Random(3))
    ctl.power_up(1000)
    assert ctl.next_deadline() == 2000
    ctl.tick(2000)
    ctl.tick(10_999)
    ctl.tick(11_000)  # fires, with nothing to lock
    assert ctl.next_deadline() == 12_000


def test_any_framed_frame_resets_fail_secure_but_a_bad_line_does_not() -> None:
    ctl = powered(2)
    unlock(ctl, 0, 1, ms=60_000, rid=1)
    ctl.receive(encode({"id": "x"}), 9000)  # passes framing: resets
    assert not events(decode(ctl.tick(18_999)))
    ctl.receive(b'{"id":1,"cmd":"ping"}*FFFF\n', 10_000)  # fails framing: does not
    assert events(decode(ctl.tick(19_000)))[0]["locked"] is True


def test_heartbeats_every_second_carry_the_last_seq_and_uptime() -> None:
    ctl = Controller(2, False, rng=random.Random(3))
    ctl.power_up(500)
    assert ctl.tick(1499) == []
    assert decode(ctl.tick(1500)) == [{"ev": "hb", "seq": 0, "up": 1000}]
    assert ctl.tick(2000) == []
    unlock(ctl, 2100, 1, rid=1)
    assert decode(ctl.tick(2500)) == [{"ev": "hb", "seq": 1, "up": 2000}]
    # A late tick sends one heartbeat and keeps the 1000 ms grid.
    assert decode(ctl.tick(5700)) == [{"ev": "hb", "seq": 1, "up": 5200}]
    assert ctl.next_deadline() == 6500
    assert send(ctl, 5800, id=2, cmd="lock", slot=1, boot=ctl.boot)[1]["seq"] == 2


# -- sensors --------------------------------------------------------------------------------


def test_a_key_change_is_reported_after_fifty_stable_ms() -> None:
    ctl = powered(3)
    unlock(ctl, 0, 2, rid=1)
    ctl.take(2, 100)
    assert ctl.next_deadline() == 150
    assert ctl.tick(149) == []
    assert ctl.status()[0] == "-111", "status reports the debounced reading"
    assert decode(ctl.tick(150)) == [{"ev": "key", "seq": 2, "slot": 2, "present": False}]
    assert ctl.status()[0] == "-101"
    reply_ = reply(send(ctl, 200, id=2, cmd="status"))
    assert (reply_["keys"], reply_["seq"]) == ("-101", 2)


def test_a_change_reverted_within_fifty_ms_is_not_reported() -> None:
    ctl = powered(3)
    unlock(ctl, 0, 1, rid=1)
    ctl.take(1, 100)
    ctl.insert(1, 149)
    assert ctl.tick(400) == []
    ctl.take(1, 500)
    ctl.insert(1, 520)
    ctl.take(1, 540)  # the stable period starts again here
    assert ctl.tick(589) == []
    assert events(decode(ctl.tick(590))) == [{"ev": "key", "seq": 2, "slot": 1, "present": False}]


def test_a_door_closed_within_fifty_ms_is_not_reported() -> None:
    ctl = powered(1, shared=True)
    unlock(ctl, 0, 0, rid=1)
    ctl.open_door(0, 10)
    ctl.close_door(0, 59)
    assert ctl.tick(500) == []


def test_door_sensors_are_debounced_likewise() -> None:
    ctl = powered(2, doors=True)
    with pytest.raises(ValueError, match="locked"):
        ctl.open_door(1, 0)
    unlock(ctl, 0, 1, rid=1)
    ctl.open_door(1, 10)
    assert decode(ctl.tick(60)) == [{"ev": "door", "seq": 2, "slot": 1, "open": True}]
    assert ctl.status()[1] == "-10"
    ctl.close_door(1, 70)
    assert decode(ctl.tick(120)) == [{"ev": "door", "seq": 3, "slot": 1, "open": False}]
    ctl.open_door(2, 130, force=True)
    assert decode(ctl.tick(180))[0]["slot"] == 2


def test_physical_rules_per_slot() -> None:
    ctl = powered(2)
    with pytest.raises(ValueError, match="locked"):
        ctl.take(1, 0)
    ctl.take(1, 0, force=True)  # a forced removal: reported like any other
    with pytest.raises(ValueError, match="no key"):
        ctl.take(1, 10, force=True)
    with pytest.raises(ValueError, match="already holds"):
        ctl.insert(2, 10)
    with pytest.raises(ValueError, match="no slot"):
        ctl.take(3, 10)
    with pytest.raises(ValueError, match="no door sensor"):
        ctl.open_door(1, 10)
    assert decode(ctl.tick(50)) == [{"ev": "key", "seq": 1, "slot": 1, "present": False}]


def test_physical_rules_shared_door() -> None:
    ctl = powered(3, shared=True)
    with pytest.raises(ValueError, match="shared door is locked"):
        ctl.take(2, 0)
    with pytest.raises(ValueError, match="no door sensor"):
        ctl.open_door(1, 0)
    unlock(ctl, 0, 0, rid=1)
    ctl.open_door(0, 10)
    ctl.take(3, 20)
    send(ctl, 30, id=2, cmd="lock", slot=0, boot=ctl.boot)
    ctl.take(2, 40)  # the door is still open: the key can be reached
    # Closed after the opening was stable for 90 ms but before any tick: both are reported.
    ctl.close_door(0, 100)
    with pytest.raises(ValueError, match="locked"):
        ctl.take(1, 110)
    frames = decode(ctl.tick(200))
    assert [(f["ev"], f["slot"], f.get("open")) for f in frames] == [
        ("door", 0, True),
        ("key", 3, None),
        ("key", 2, None),
        ("door", 0, False),
    ]
    assert [f["seq"] for f in frames] == [3, 4, 5, 6]
    assert ctl.status() == ("-100", "0---", "1---")


def test_power_up_keeps_the_physical_world() -> None:
    ctl = powered(2)
    ctl.take(2, 0, force=True)
    ctl.power_up(10)
    assert ctl.status()[0] == "-10", "sensors are read at power-up, no event for them"
    assert ctl.tick(500) == []

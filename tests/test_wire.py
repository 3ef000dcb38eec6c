"""The wire module: framing, CRC and field-by-field validation of what controllers send."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lockerkey.cabinet import wire
from lockerkey.cabinet.wire import Decoder, Malformed, crc16, encode, parse_message


def frame(body: str) -> bytes:
    """A frame with a correct CRC around any text (valid JSON or not)."""
    return body.encode() + b"*%04X" % crc16(body.encode())


def test_crc_check_value_and_spec_example() -> None:
    assert crc16(b"123456789") == 0x29B1
    example = b'{"id":7,"cmd":"unlock","slot":12,"ms":30000,"boot":"1a2b3c4d"}*097F'
    assert Decoder().decode(example) == {
        "id": 7,
        "cmd": "unlock",
        "slot": 12,
        "ms": 30000,
        "boot": "1a2b3c4d",
    }
    assert encode({"id": 7, "cmd": "unlock", "slot": 12, "ms": 30000, "boot": "1a2b3c4d"}) == (
        example + b"\n"
    )


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"ev":"hb","seq":1,"up":5}', "no_crc"),
        (b'{"ev":"hb","seq":1,"up":5}*0000', "bad_crc"),
        (frame('{"ev":"hb","seq":1,"up":5}').lower(), "bad_crc"),
        (frame('{"ev":"hb","seq":1,"up":'), "bad_json"),
        (frame("[1,2,3]"), "not_object"),
        (frame('{"ev":"hb","seq":1e999,"up":5}'), "bad_json"),
        (frame('{"ev":"hb","seq":NaN,"up":5}'), "bad_json"),
        (frame('{"ev":"hb","seq":9007199254740993,"up":5}'), "bad_json"),
        (frame('{"x":"' + "a" * 1100 + '"}'), "too_long"),
        (b"MicroPython v1.24.1 on 2024-11-29; Generic ESP32 module with ESP32", "no_crc"),
        (b"ets Jun  8 2016 00:22:57\r", "no_crc"),
    ],
)
def test_bad_lines_are_dropped_and_counted(line: bytes, reason: str) -> None:
    decoder = Decoder()
    assert decoder.decode(line) is None
    assert decoder.dropped == {reason: 1}


def test_a_lower_case_crc_is_bad_even_when_its_value_is_right() -> None:
    frames = (encode({"ev": "hb", "seq": n, "up": 5}).rstrip(b"\n") for n in range(100))
    good = next(f for f in frames if any(c in b"ABCDEF" for c in f[-4:]))
    body, _, crc = good.rpartition(b"*")
    decoder = Decoder()
    assert decoder.decode(good) is not None
    assert decoder.decode(body + b"*" + crc.lower()) is None
    assert decoder.dropped == {"bad_crc": 1}


def test_empty_lines_and_carriage_returns() -> None:
    decoder = Decoder()
    assert decoder.decode(b"") is None and decoder.decode(b"\r\n") is None
    assert not decoder.dropped  # a resync, not an error
    assert decoder.decode(encode({"ev": "hb", "seq": 0, "up": 1}).replace(b"\n", b"\r\n"))


HELLO = {"fw": "sim/1", "proto": 1, "slots": 4, "boot": "1a2b3c4d", "main": False}


def test_events_parse_into_typed_messages() -> None:
    assert parse_message({"ev": "key", "seq": 3, "slot": 2, "present": False}, 4) == (
        wire.KeyEvent(3, 2, False)
    )
    assert parse_message({"ev": "lock", "seq": 4, "slot": 0, "locked": True}, 4) == (
        wire.LockEvent(4, 0, True)
    )
    assert parse_message({"ev": "door", "seq": 5, "slot": 1, "open": True}, 4) == (
        wire.DoorEvent(5, 1, True)
    )
    assert parse_message({"ev": "fault", "seq": 6, "code": "expander"}, 4) == (
        wire.FaultEvent(6, "expander", None)
    )
    assert parse_message({"ev": "hb", "seq": 6, "up": 12000}, 4) == wire.Heartbeat(6, 12000)
    boot = parse_message({"ev": "boot", "seq": 0, **HELLO, "heap": 81000}, 4)
    assert boot == wire.BootEvent(0, wire.Hello("sim/1", 1, 4, "1a2b3c4d", False, 81000))
    assert parse_message({"id": 9, "ok": False, "err": "bad_slot"}, 4) == (
        wire.Reply(9, False, "bad_slot", {})
    )
    assert parse_message({"id": 9, "ok": True, "x": 1}, 4) == wire.Reply(9, True, None, {"x": 1})


@pytest.mark.parametrize(
    "message",
    [
        {"ev": "key", "seq": 3, "slot": 5, "present": False},  # slot beyond the controller
        {"ev": "key", "seq": 3, "slot": 0, "present": False},  # slot 0 has no key
        {"ev": "key", "seq": 3, "slot": 1, "present": 1},  # int, not bool
        {"ev": "key", "seq": 3, "slot": True, "present": True},  # bool, not int
        {"ev": "key", "seq": -1, "slot": 1, "present": True},
        {"ev": "key", "seq": 3.0, "slot": 1, "present": True},
        {"ev": "key", "seq": 3, "slot": 1, "present": True, "extra": 1},  # unknown field
        {"ev": "lock", "seq": 3, "slot": 1},  # missing field
        {"ev": "teleport", "seq": 3},  # unknown event
        {"ev": 5, "seq": 3},
        {"ev": "boot", "seq": 1, **HELLO},  # boot must have seq 0
        {"ev": "boot", "seq": 0, **{**HELLO, "boot": "1A2B3C4D"}},  # upper-case boot id
        {"ev": "boot", "seq": 0, **{**HELLO, "slots": 0}},
        {"ev": "hb", "seq": 3},
        {"id": 0, "ok": True},  # id out of range
        {"id": 2**31, "ok": True},
        {"id": 5, "ok": "yes"},
        {"id": 5, "ok": False, "err": "on_fire"},  # unknown error code
        {"id": 5, "ok": False},
        {"id": 5, "ok": True, "err": "bad_arg"},
        {"id": 5, "ev": "hb", "seq": 1, "up": 1},  # both
        {"seq": 1},  # neither
    ],
)
def test_messages_that_do_not_validate_are_malformed(message: dict[str, Any]) -> None:
    with pytest.raises(Malformed):
        parse_message(message, 4)


def test_status_strings_must_fit_the_cabinet() -> None:
    per_slot = {"keys": "-1101", "doors": "-----", "locks": "-1111", "seq": 7, "boot": "00ff00ff"}
    assert wire.parse_status(per_slot, 4, False) == wire.Status(
        "-1101", "-----", "-1111", 7, "00ff00ff"
    )
    shared = {**per_slot, "doors": "0----", "locks": "1----"}
    assert wire.parse_status(shared, 4, True).locks == "1----"
    for bad in (
        {**per_slot, "keys": "-110"},  # too short for 4 slots
        {**per_slot, "keys": "11101"},  # char 0 must be '-'
        {**per_slot, "keys": "-1x01"},
        {**per_slot, "locks": "11111"},  # per-slot cabinet has no lock at 0
        {**per_slot, "locks": "-11-1"},  # ... and one at every slot
        {**per_slot, "doors": "1----"},
        {**per_slot, "seq": "7"},
        {**per_slot, "extra": 0},
    ):
        with pytest.raises(Malformed):
            wire.parse_status(bad, 4, False)
    with pytest.raises(Malformed):
        wire.parse_status(per_slot, 4, True)  # a shared-door cabinet has its lock at 0


# ---- fuzzing: arbitrary bytes never raise and never become a command --------------------------

VALID_EVENT = {"ev": "key", "seq": 1, "slot": 1, "present": False}


def _accept(line: bytes, decoder: Decoder) -> object:
    """Run a line through everything the host does before acting on it."""
    message = decoder.decode(line)
    if message is None:
        return None
    try:
        return parse_message(message, 8)
    except Malformed:
        return None


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise_and_never_pass(data: bytes) -> None:
    decoder = Decoder()
    lines = data.split(b"\n")
    # A random line would need a matching CRC, JSON and fields that all validate: nothing
    # arbitrary gets through to the host's logic.
    assert [_accept(line, decoder) for line in lines] == [None] * len(lines)
    assert decoder.dropped.total() == sum(1 for line in lines if line.rstrip(b"\r"))


@settings(max_examples=2000, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(["ev", "id", "seq", "slot", "ok", "x"]), children, max_size=5
            )
        ),
        max_leaves=12,
    )
)
def test_any_json_with_a_good_crc_is_validated_or_dropped(value: object) -> None:
    """Correctly framed JSON of any shape: a fully valid message or dropped, never raised."""
    try:
        body = json.dumps(value, separators=(",", ":"), allow_nan=False)
    except ValueError:
        return
    decoder = Decoder()
    result = _accept(frame(body), decoder)
    if result is None:
        return
    assert isinstance(value, dict)
    if isinstance(result, wire.Reply):
        assert wire.is_int(value["id"], 1, wire.MAX_ID) and isinstance(value["ok"], bool)
    else:
        assert isinstance(value["ev"], str) and wire.is_int(value["seq"], 0, 2**53)


@settings(max_examples=1000, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=80))
def test_noise_spliced_into_a_frame_never_yields_another_message(
    noise: bytes, position: int
) -> None:
    good = encode(VALID_EVENT).rstrip(b"\n")
    position = min(position, len(good))
    torn = good[:position] + noise + good[position:]
    decoder = Decoder()
    for line in torn.split(b"\n"):
        assert _accept(line, decoder) in (None, wire.KeyEvent(1, 1, False))

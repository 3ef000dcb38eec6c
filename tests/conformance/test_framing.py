"""Section 1: framing. CRC, what is dropped (and never acted on), what is accepted."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from typing import Any

import pytest

from lockerkey.cabinet.wire import crc16, encode

from .conftest import Client, Frame, Message, Rig, ev

FRAME = re.compile(rb"(?P<body>[^\n]*)\*(?P<crc>[0-9A-F]{4})\r?\n", re.DOTALL)


def body_of(message: Message) -> bytes:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def framed(body: bytes) -> bytes:
    return body + b"*%04X\n" % crc16(body)


def unlock_probe(rig: Rig, rid: int) -> Message:
    """A request that, if it were ever acted on, would visibly open slot 3."""
    return {"id": rid, "cmd": "unlock", "slot": 3, "ms": 60000, "boot": rig.client.boot}


def id_whose_crc(client: Client, rig: Rig, wanted: Callable[[int], bool]) -> int:
    """A fresh id whose unlock probe has a CRC satisfying ``wanted``."""
    for _ in range(10_000):
        rid = client.new_id()
        if wanted(crc16(body_of(unlock_probe(rig, rid)))):
            return rid
    raise AssertionError("no id found")  # pragma: no cover - 1 in 16 ids qualifies


def assert_ignored(rig: Rig, rid: int, start: int) -> None:
    """Nothing was answered or acted on since ``start``, and the controller still answers.

    The follow-up `status` reuses the probe's id: had the dropped line been executed, its id
    would be in the reply memory and this `status` would get the stored unlock reply back.
    """
    c = rig.client
    reply = c.request("status", id=rid)
    assert "keys" in reply, f"id {rid} was already answered: the dropped line was executed"
    assert reply["locks"][3] == "1", "slot 3 was unlocked by a dropped line"
    replies = [m for m in c.messages(start) if "ev" not in m]
    assert replies == [reply], f"a dropped line was answered: {replies}"
    assert c.events(start, "lock") == [], "a dropped line moved a lock"


# Each variant turns (body, crc) into the bytes sent; ``needs`` filters the crc value.
Variant = tuple[Callable[[bytes, int], bytes], Callable[[int], bool]]
ANY: Callable[[int], bool] = lambda crc: True  # noqa: E731
HAS_LETTER: Callable[[int], bool] = lambda crc: any(ch in "ABCDEF" for ch in f"{crc:04X}")  # noqa: E731
BELOW_1000: Callable[[int], bool] = lambda crc: crc < 0x1000  # noqa: E731

BROKEN_CRC: dict[str, Variant] = {
    "missing_crc": (lambda b, c: b + b"\n", ANY),
    "star_without_digits": (lambda b, c: b + b"*\n", ANY),
    "wrong_crc": (lambda b, c: b + b"*%04X\n" % (c ^ 0x0101), ANY),
    "lower_case_hex": (lambda b, c: b + b"*%04x\n" % c, HAS_LETTER),
    "three_digits": (lambda b, c: b + b"*%X\n" % c, BELOW_1000),
    "five_digits": (lambda b, c: b + b"*0%04X\n" % c, ANY),
    "plus_sign": (lambda b, c: b + b"*+%03X\n" % c, BELOW_1000),
    "space_in_crc": (lambda b, c: b + b"* %03X\n" % c, BELOW_1000),
    "trailing_space": (lambda b, c: b + b"*%04X \n" % c, ANY),
    "crc_includes_star": (lambda b, c: b + b"*%04X\n" % crc16(b + b"*"), ANY),
    "torn_line": (lambda b, c: b[: len(b) // 2] + b"\n" + b[len(b) // 2 :] + b"*%04X\n" % c, ANY),
    "two_frames_glued": (lambda b, c: b + b"*%04X" % c + b + b"*%04X\n" % c, ANY),
}


@pytest.mark.parametrize("variant", sorted(BROKEN_CRC))
def test_line_failing_the_crc_check_is_dropped(per_slot: Rig, variant: str) -> None:
    make, needs = BROKEN_CRC[variant]
    rig, c = per_slot, per_slot.client
    rig.locked(3)
    rid = id_whose_crc(c, rig, needs)
    body = body_of(unlock_probe(rig, rid))
    start = c.mark()
    c.send_raw(make(body, crc16(body)))
    assert_ignored(rig, rid, start)


def _bad_json_bodies(probe: Message) -> dict[str, bytes]:
    good = body_of(probe)
    ms = b'"ms":60000'
    return {
        "truncated_object": good[:-1],
        "trailing_comma": good[:-1] + b",}",
        "single_quotes": good.replace(b'"', b"'"),
        "two_objects": good + good,
        "trailing_garbage": good + b"x",
        "invalid_utf8": good[:-1] + b',"note":"\xff\xfe"}',
        "nan": good.replace(ms, b'"ms":NaN'),
        "infinity": good.replace(ms, b'"ms":Infinity'),
        "minus_infinity": good.replace(ms, b'"ms":-Infinity'),
        "overflowing_double": good.replace(ms, b'"ms":1e400'),
        "huge_integer": good.replace(ms, b'"ms":18446744073709551616'),
        "huge_negative_integer": good.replace(ms, b'"ms":-18446744073709551616'),
        "nan_in_extra_field": good[:-1] + b',"x":NaN}',
        "overflow_in_extra_field": good[:-1] + b',"x":-1e999}',
        "huge_integer_in_extra_field": good[:-1] + b',"x":[1,99999999999999999999]}',
    }


BAD_JSON = sorted(_bad_json_bodies({"ms": 1}))


@pytest.mark.parametrize("variant", BAD_JSON)
def test_line_with_valid_crc_but_bad_json_or_numbers_is_dropped(
    per_slot: Rig, variant: str
) -> None:
    rig, c = per_slot, per_slot.client
    rig.locked(3)
    rid = c.new_id()
    body = _bad_json_bodies(unlock_probe(rig, rid))[variant]
    start = c.mark()
    c.send_raw(framed(body))
    assert_ignored(rig, rid, start)


@pytest.mark.parametrize("shape", ["array", "string", "number", "null", "true"])
def test_line_whose_json_is_not_an_object_is_dropped(per_slot: Rig, shape: str) -> None:
    rig, c = per_slot, per_slot.client
    rig.locked(3)
    rid = c.new_id()
    probe = unlock_probe(rig, rid)
    value: Any = {
        "array": [probe],
        "string": json.dumps(probe),
        "number": rid,
        "null": None,
        "true": True,
    }[shape]
    start = c.mark()
    c.send_raw(framed(body_of(value)))
    assert_ignored(rig, rid, start)


def _padded(message: Message, line_length: int) -> bytes:
    """``message`` with a `pad` field making the frame exactly ``line_length`` bytes + \\n."""
    bare = framed(body_of({**message, "pad": ""}))
    pad = line_length - (len(bare) - 1)
    assert pad >= 0
    line = framed(body_of({**message, "pad": "p" * pad}))
    assert len(line) == line_length + 1
    return line


def test_line_longer_than_1024_bytes_is_dropped(per_slot: Rig) -> None:
    rig, c = per_slot, per_slot.client
    rig.locked(3)
    rid = c.new_id()
    start = c.mark()
    c.send_raw(_padded(unlock_probe(rig, rid), 1025))
    assert_ignored(rig, rid, start)


def test_line_of_exactly_1024_bytes_is_accepted(per_slot: Rig) -> None:
    c = per_slot.client
    rid = c.new_id()
    start = c.mark()
    c.send_raw(_padded({"id": rid, "cmd": "ping"}, 1024))
    reply = c.reply_to(rid, start).msg
    assert reply is not None
    assert reply["ok"] is True


def test_very_long_line_ending_in_a_valid_frame_is_dropped(per_slot: Rig) -> None:
    rig, c = per_slot, per_slot.client
    rig.locked(3)
    rid = c.new_id()
    start = c.mark()
    c.send_raw(b"x" * 5000 + encode(unlock_probe(rig, rid)))
    assert_ignored(rig, rid, start)


@pytest.mark.parametrize("newlines", [True, False], ids=["with_newlines", "one_long_line"])
def test_10k_of_noise_is_dropped_and_the_link_recovers(per_slot: Rig, newlines: bool) -> None:
    rig, c = per_slot, per_slot.client
    rig.locked(3)
    noise = bytearray(random.Random(1234).randbytes(10_240))
    if newlines:
        for i in range(50, len(noise), 97):
            noise[i] = 0x0A
    else:
        noise = noise.replace(b"\n", b"\x00")
    rid = c.new_id()
    start = c.mark()
    # The noise ends in the middle of a line: a `\n` resyncs, as the spec lets a host do.
    c.send_raw(bytes(noise) + b"\n")
    assert_ignored(rig, rid, start)


def test_crlf_line_end_is_accepted(per_slot: Rig) -> None:
    c = per_slot.client
    rid = c.new_id()
    start = c.mark()
    c.send_raw(encode({"id": rid, "cmd": "ping"})[:-1] + b"\r\n")
    reply = c.reply_to(rid, start).msg
    assert reply is not None
    assert reply["ok"] is True


def test_empty_lines_are_ignored_silently(per_slot: Rig) -> None:
    c = per_slot.client
    start = c.mark()
    c.send_raw(b"\n\n\r\n\n")
    reply = c.request("ping")
    assert reply["ok"] is True
    others = [m for m in c.messages(start) if "ev" not in m and m is not reply]
    assert others == [], f"an empty line was answered: {others}"


def test_torn_line_then_resync_newline_then_request_is_answered(per_slot: Rig) -> None:
    rig, c = per_slot, per_slot.client
    rig.locked(3)
    torn = encode(unlock_probe(rig, c.new_id()))
    start = c.mark()
    c.send_raw(torn[:25])
    c.send_raw(b"\n")
    reply = c.request("status")
    assert reply["locks"][3] == "1", "the torn line was acted on"
    assert [m for m in c.messages(start) if "ev" not in m] == [reply]


def test_crc_covers_bytes_before_the_last_star(per_slot: Rig) -> None:
    c = per_slot.client
    reply = c.request("ping", note="a*b*c")
    assert reply["ok"] is True


def test_non_ascii_utf8_text_is_accepted(per_slot: Rig) -> None:
    reply = per_slot.client.request("ping", note="락카키 ✓")
    assert reply["ok"] is True


# ----------------------------------------------------------------- what the controller sends


def test_crc_check_value() -> None:
    assert crc16(b"123456789") == 0x29B1


def test_spec_example_frame_crc() -> None:
    example = b'{"id":7,"cmd":"unlock","slot":12,"ms":30000,"boot":"1a2b3c4d"}*097F'
    body, _, crc = example.rpartition(b"*")
    assert f"{crc16(body):04X}".encode() == crc


def _traffic(rig: Rig) -> list[Frame]:
    """Every kind of frame a controller sends: replies (ok and error) and each event."""
    c = rig.client
    start = c.mark()
    c.hello()
    c.status()
    c.request("beep", pattern="ok")
    c.request("nope")
    c.request("unlock", slot=rig.slot, ms=60000)  # stale_boot
    c.unlock(rig.slot)
    c.wait_event(ev("lock", slot=rig.slot, locked=False), since=start)
    rig.act("take 3")
    c.wait_event(ev("key", slot=3, present=False), since=start)
    rig.act("insert 3")
    c.wait_event(ev("key", slot=3, present=True), since=start)
    c.lock(rig.slot)
    c.wait_event(ev("lock", slot=rig.slot, locked=True), since=start)
    c.wait_event(ev("hb"), timeout=2.5, since=start)
    return c.since(0)


def test_every_frame_sent_has_a_valid_upper_case_crc(cab: Rig) -> None:
    frames = _traffic(cab)
    assert len(frames) >= 12
    for frame in frames:
        match = FRAME.fullmatch(frame.raw)
        assert match, f"not JSON*CRC with 4 upper-case hex digits: {frame.raw!r}"
        assert crc16(match["body"]) == int(match["crc"], 16), f"bad CRC: {frame.raw!r}"


def test_every_frame_sent_is_one_compact_json_object_within_1024_bytes(cab: Rig) -> None:
    frames = _traffic(cab)
    for frame in frames:
        line = frame.raw.removesuffix(b"\n").removesuffix(b"\r")
        assert len(line) <= 1024, f"line too long: {len(line)}"
        body = line.rpartition(b"*")[0]
        value = json.loads(body.decode("utf-8"))
        assert isinstance(value, dict), f"not an object: {frame.raw!r}"
        assert body_of(value) == body, f"not compact JSON: {frame.raw!r}"
        assert ("ev" in value) != ("id" in value), f"neither event nor reply: {frame.raw!r}"

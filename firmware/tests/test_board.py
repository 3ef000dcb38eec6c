# lk.board under MicroPython: the shipped board files parse; wiring mistakes are refused.
import json

import mptest
from mptest import eq, ok, raises

import lk
from fakes import board
from lk.board import GPIO, BoardError, load, parse, pin, unpack

FIRMWARE = lk.__file__.rsplit("/", 2)[0]  # .../firmware (lk/__init__.py's grandparent)


def _boards():
    import os

    names = sorted(n for n in os.listdir(FIRMWARE + "/boards") if n.endswith(".json"))
    return [FIRMWARE + "/boards/" + n for n in names]


def test_shipped_board_files_load():
    paths = _boards()
    ok(len(paths) >= 2, repr(paths))
    for path in paths:
        b = load(path)
        ok(b.slots >= 1, path)
        eq(len(b.keys), b.slots + 1)
        eq(len(b.lockable) >= 1, True, path)


def test_per_slot_24():
    b = load(FIRMWARE + "/boards/per-slot-24.json")
    eq((b.kind, b.slots, b.shared, b.pulse), ("per_slot", 24, False, True))
    eq((b.max_on_ms, b.max_energised, b.stagger_ms), (500, 2, 60))
    eq(b.lockable, list(range(1, 25)))
    eq(unpack(b.keys[1]), (0, 0, True))
    eq(unpack(b.locks[1]), (0, 4, False))
    eq(unpack(b.buzzer), (GPIO, 27, False))


def test_shared_door_60():
    b = load(FIRMWARE + "/boards/shared-door-60.json")
    eq((b.kind, b.slots, b.shared, b.pulse), ("shared_door", 60, True, False))
    eq(b.lockable, [0])


def test_pins():
    eq(unpack(pin("gpio:25", "w")), (GPIO, 25, False))
    eq(unpack(pin("!gpio:0", "w")), (GPIO, 0, True))
    eq(unpack(pin("x2.15", "w")), (2, 15, False))
    eq(unpack(pin("!x0.8", "w")), (0, 8, True))
    for bad in ("gpio:49", "gpio:-1", "gpio:", "gpio:1x", "x0.16", "x0", "x.1", "xa.1", "!!x0.1",
                "GPIO:1", "", 25, None):
        raises(BoardError, pin, bad, "w")


def test_test_board_parses():
    for kw in ({}, {"mode": "pulse"}, {"kind": "shared_door"}, {"doors": True},
               {"kind": "shared_door", "doors": True}, {"buzzer": True}):
        b = parse(board(**kw))
        eq(b.slots, 4)


def _refused(data, words):
    e = raises(BoardError, parse, data)
    ok(words in str(e), "%r not in %r" % (words, str(e)))


def test_mistakes_are_refused_with_a_message():
    d = board()
    d["buzer"] = "gpio:27"
    _refused(d, "unknown key")
    d = board()
    d["slots"] = 5
    _refused(d, "exactly 5")
    d = board()
    d["slot"][1]["lock"] = d["slot"][0]["lock"]
    _refused(d, "already used")
    d = board()
    d["expanders"] = [32]
    _refused(d, "not in")
    d = board()
    d["lock"] = {"mode": "hold", "max_on_ms": 100}
    _refused(d, "pulse")
    d = board(mode="pulse")
    del d["lock"]["max_on_ms"]
    _refused(d, "max_on_ms")
    d = board()
    d["kind"] = "locker"
    _refused(d, "kind")
    d = board()
    d["slots"] = 256
    _refused(d, "slots")
    d = board()
    del d["i2c"]
    _refused(d, "i2c")
    d = board(kind="shared_door")
    d["slot"][0]["lock"] = "x1.0"
    _refused(d, "shared_door")


def test_comment_keys_are_ignored():
    d = board()
    d["_note"] = "wired by hand"
    d["slot"][0]["_"] = "left column"
    eq(parse(d).slots, 4)


def test_load_reports_unreadable_and_bad_json():
    e = raises(BoardError, load, "/nonexistent/board.json")
    ok("cannot read" in str(e), str(e))
    with open("/tmp/lk-bad-board.json", "w") as f:
        f.write("{not json")
    e = raises(BoardError, load, "/tmp/lk-bad-board.json")
    ok("not valid JSON" in str(e), str(e))
    with open("/tmp/lk-good-board.json", "w") as f:
        f.write(json.dumps(board()))
    eq(load("/tmp/lk-good-board.json").slots, 4)


if __name__ == "__main__":
    mptest.main(globals())

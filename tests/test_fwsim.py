"""The harness that runs the real firmware on simulated pins (lockerkey.fwsim).

The fake chip first (MCP23017 registers, GPIOs), then the firmware on it in virtual time:
an expander off the bus and back, the output rules during a lock_all, the watchdog, resets
and output faults, the ticks wrap; last the command line's answers to bad board files.
"""

from __future__ import annotations

import errno
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lockerkey.board_file import validate_board
from lockerkey.cabinet.sim_console import Console
from lockerkey.cabinet.simulator import Simulator
from lockerkey.cabinet.wire import Decoder, encode
from lockerkey.fwsim.boards import MAX_TEST_SLOTS, sample_board
from lockerkey.fwsim.controller import PERIOD, FirmwareController
from lockerkey.fwsim.firmware import parse_board
from lockerkey.fwsim.machine import FakeMachine
from lockerkey.fwsim.mcp23017 import GPIO, GPPU, IODIR, IPOL, MCP23017, OLAT

Message = dict[str, Any]

# ------------------------------------------------------------------ the fake MCP23017


def test_mcp23017_powers_up_as_inputs_without_pull_ups() -> None:
    chip = MCP23017(0x20)
    assert chip.read(IODIR, 2) == b"\xff\xff"
    assert chip.read(GPPU, 2) == b"\x00\x00"
    assert chip.read(OLAT, 2) == b"\x00\x00"
    assert chip.read(GPIO, 2) == b"\x00\x00"  # open inputs without pull-ups read low here


def test_mcp23017_gpio_reads_inputs_from_the_wire_and_outputs_from_the_latch() -> None:
    chip = MCP23017(0x20)
    chip.write(GPPU, b"\x0f\x00")  # pull-ups on GPA0..3
    chip.write(IODIR, b"\xf0\xff")  # GPA0..3 outputs? no: bits 0..3 = 0 -> outputs
    chip.write(IODIR, b"\x0f\xff")  # GPA0..3 inputs, GPA4..7 outputs, GPB inputs
    chip.write(OLAT, b"\xa0\x01")  # GPA5, GPA7 high; GPB0's latch is 1 but it is an input
    chip.drive(1, False)  # a switch pulls GPA1 low
    chip.drive(9, True)  # something drives GPB1 high
    levels = chip.read(GPIO, 2)
    assert levels[0] == 0b1010_1101  # GPA0,2,3 pulled up, GPA1 low, GPA5/7 from the latch
    assert levels[1] == 0b0000_0010  # GPB0 an input: its latch does not show
    assert chip.output(5) and chip.output(7) and not chip.output(4)
    assert not chip.output(8)  # a latch bit of an input drives nothing
    chip.write(GPIO, b"\x10")  # a write to GPIO writes the latch
    assert chip.read(OLAT, 1) == b"\x10" and chip.output(4) and not chip.output(5)


def test_mcp23017_polarity_and_sequential_access_wrap() -> None:
    chip = MCP23017(0x20)
    chip.write(IPOL, b"\x01")
    chip.drive(0, True)
    assert chip.read(GPIO, 1)[0] & 1 == 0  # IPOL inverts an input
    chip.write(0x15, b"\x33\x7e")  # OLATB, then wraps to IODIRA
    assert chip.read(0x15, 2) == b"\x33\x7e"
    with pytest.raises(NotImplementedError):
        chip.write(0x0A, b"\x80")  # IOCON.BANK = 1 is not modelled


def test_an_expander_off_the_bus_does_not_answer_and_a_faulty_one_refuses_latch_writes() -> None:
    machine = FakeMachine()
    chip = machine.add_expander(0, 0x21)
    i2c = machine.I2C(0, scl=machine.Pin(22), sda=machine.Pin(21))
    assert i2c.scan() == [0x21]
    chip.present = False
    assert i2c.scan() == []
    with pytest.raises(OSError) as gone:
        i2c.readfrom_mem(0x21, GPIO, 2)
    assert gone.value.errno == errno.ENODEV
    with pytest.raises(OSError):
        i2c.readfrom_mem(0x22, GPIO, 2)  # nobody there at all
    chip.present = True
    chip.failed.add(3)
    with pytest.raises(OSError) as broken:
        i2c.writeto_mem(0x21, OLAT, b"\x08\x00")
    assert broken.value.errno == errno.EIO
    assert chip.read(OLAT, 2) == b"\x00\x00"  # nothing of the failed write landed
    i2c.writeto_mem(0x21, GPPU, b"\x01\x00")  # other registers still take writes


def test_gpio_pins_share_state_by_number_and_honour_pull_ups() -> None:
    machine = FakeMachine()
    pin = machine.Pin
    key = pin(4, pin.IN, pin.PULL_UP)
    assert key.value() == 1  # open switch, pull-up
    machine.gpio.drive(4, False)
    assert pin(4).value() == 0  # another Pin object on the same GPIO sees the same wire
    out = pin(13, pin.OUT, value=0)
    out.value(1)
    assert machine.gpio.output(13)
    machine.gpio.failed.add(13)
    with pytest.raises(OSError):
        out.value(0)
    with pytest.raises(ValueError, match="input-only"):
        pin(34, pin.OUT)
    with pytest.raises(ValueError, match="invalid pin"):
        pin(24)


# ------------------------------------------------------------------ the firmware on it


@pytest.mark.parametrize("slots", range(1, MAX_TEST_SLOTS + 1))
def test_sample_boards_pass_both_board_checks(slots: int) -> None:
    for shared, doors in ((False, False), (False, True), (True, False)):
        board = sample_board(slots, shared, doors)
        assert validate_board(board) == []
        assert parse_board(board).slots == slots  # the firmware's own check


class Rig:
    """A FirmwareController in virtual time, with a host's helpers."""

    def __init__(
        self, board: dict[str, Any], ticks_start: int = 0, loop_ms: int | None = None
    ) -> None:
        self.ctl = FirmwareController(
            board, rng=random.Random(7), ticks_start=ticks_start, loop_ms=loop_ms
        )
        self.now = 1000
        self.decoder = Decoder()
        self.seen: list[Message] = self._decode(self.ctl.power_up(self.now))
        self.rid = 100

    def _decode(self, frames: list[bytes]) -> list[Message]:
        out = [self.decoder.decode(f) for f in frames]
        assert all(m is not None for m in out), frames
        return [m for m in out if m is not None]

    def run(self, ms: int) -> list[Message]:
        """Advance ms of virtual time, polling whenever the firmware asks to be."""
        until = self.now + ms
        got: list[Message] = []
        for _ in range(100_000):
            due = max(self.ctl.next_deadline(), self.now)
            if due > until:
                break
            self.now = due
            got += self._decode(self.ctl.tick(due))
        self.now = until
        got += self._decode(self.ctl.tick(until))
        self.seen += got
        return got

    def request(self, cmd: str, **args: Any) -> list[Message]:
        self.rid += 1
        line = encode({"id": self.rid, "cmd": cmd, **args})[:-1]
        got = self._decode(self.ctl.receive(line, self.now))
        self.seen += got
        return got

    def ok(self, cmd: str, **args: Any) -> list[Message]:
        got = self.request(cmd, **args)
        reply = next(m for m in got if m.get("id") == self.rid)
        assert reply["ok"] is True, (cmd, args, reply)
        return got


def events(messages: list[Message], name: str) -> list[Message]:
    return [m for m in messages if m.get("ev") == name]


def test_an_expander_off_the_bus_is_a_fault_event_and_the_firmware_recovers() -> None:
    rig = Rig(sample_board(8, shared_door=False, door_sensors=True))
    ctl = rig.ctl
    rig.run(200)
    ctl.unplug_expander(0, rig.now)  # keys and door sensors of every slot
    got = rig.run(1500)
    assert [(e["code"], e.get("slot")) for e in events(got, "fault")] == [("expander", None)]
    ctl.take(2, rig.now, force=True)  # unseen while the expander is gone
    got = rig.run(1500)
    assert events(got, "key") == [] and events(got, "door") == [] and events(got, "fault") == []
    ctl.replug_expander(0, rig.now)  # it lost power, so its set-up too
    got = rig.run(1500)
    assert [(e["slot"], e["present"]) for e in events(got, "key")] == [(2, False)]
    assert events(got, "door") == []  # the others were not mistaken for changes
    chip = ctl.expander(0)
    assert chip.read(GPPU, 2) == b"\x7f\x00"  # the firmware set its pull-ups up again
    assert ctl.status()[0] == "-10111111"
    assert ctl.violations == [] and ctl.crashes == []


def test_a_bus_outage_leaves_a_powered_expanders_pulse_on_and_the_firmware_ends_it_after() -> None:
    """Only the bus fails, the chip keeps power: its pulse output stays on out of the
    firmware's reach (excused from the rules), and goes off soon after the bus is back."""
    board = sample_board(2, shared_door=False)
    board["slot"][0]["lock"] = "x0.13"  # slot 1's lock on the expander
    rig = Rig(board)
    ctl = rig.ctl
    rig.ok("unlock", slot=1, ms=10_000, boot=ctl.boot)
    rig.run(100)
    ctl.unplug_expander(0, rig.now, power_lost=False)
    rig.run(2000)
    assert list(ctl.world.rules.on_since) == [1] and ctl.world.rules.excused == {1}
    ctl.replug_expander(0, rig.now)
    rig.run(1500)  # the firmware tries a silent expander again every second
    assert ctl.world.rules.on_since == {} and ctl.world.rules.excused == set()
    faults = [(e["code"], e.get("slot")) for e in events(rig.seen, "fault")]
    assert faults == [("expander", None), ("output", 1)]
    assert ctl.violations == [] and ctl.status()[2][1] == "0"  # still released until 10 s


def test_pulse_outputs_keep_the_boards_limits_through_unlock_all_and_lock_all() -> None:
    board = sample_board(8, shared_door=False, door_sensors=True)
    rig = Rig(board)
    ctl, limits = rig.ctl, board["lock"]
    rig.ok("hello")
    boot = ctl.boot
    for slot in range(1, 9):
        rig.ok("unlock", slot=slot, ms=30_000, boot=boot)
    assert ctl.status()[2] == "-00000000"
    rig.run(limits["stagger_ms"] * 3 + 5)  # some pulses running, the rest queued
    assert 1 <= len(ctl.world.rules.on_since) <= limits["max_energised"]
    got = rig.ok("lock_all", boot=boot)
    assert sorted(e["slot"] for e in events(got, "lock")) == list(range(1, 9))
    rig.run(3000)
    rules = ctl.world.rules
    assert rules.on_since == {}  # nothing left energised
    assert rules.pulses >= 2 and rules.peak == limits["max_energised"]
    assert ctl.violations == [] and ctl.crashes == []


def test_the_rules_watch_catches_a_breach() -> None:
    """The watch itself: outputs switched on behind the firmware's back are reported."""
    rig = Rig(sample_board(4, shared_door=False))
    pins = rig.ctl.machine.Pin
    for gpio, level in ((13, 1), (14, 0), (16, 1)):  # slots 1..3 (slot 2's is active-low)
        pins(gpio, pins.OUT).value(level)
    rig.run(1000)
    text = "\n".join(rig.ctl.violations)
    assert "more than max_energised" in text and "closer than stagger_ms" in text
    assert "energised while reported locked" in text and "pulse must end at 1300 ms" in text


def test_the_watchdog_is_fed_and_a_lapse_would_show() -> None:
    rig = Rig(sample_board(4, shared_door=False))
    rig.run(30_000)
    dog = rig.ctl.machine.watchdog
    assert dog is not None and dog.timeout == 8000 and dog.feeds >= 30
    assert rig.ctl.machine.starved == 0
    rig.now += 9000  # a main loop that stalled for 9 s
    rig.ctl.tick(rig.now)
    assert rig.ctl.machine.starved == 1


def test_a_reboot_keeps_the_world_and_a_faulty_output_answers_hw_fault() -> None:
    rig = Rig(sample_board(4, shared_door=False))
    ctl = rig.ctl
    ctl.take(3, rig.now, force=True)
    old = ctl.boot
    boot = rig._decode(ctl.power_up(rig.now + 10))
    assert boot[0]["ev"] == "boot" and boot[0]["boot"] != old and ctl.seq == 0
    assert ctl.status()[0] == "-1101"  # the key is still out, read at power-up
    ctl.fail_output(2)
    got = rig.request("unlock", slot=2, ms=1000, boot=ctl.boot)
    assert got[0] == {"id": rig.rid, "ok": False, "err": "hw_fault"}
    assert [(e["code"], e["slot"]) for e in events(got, "fault")] == [("output", 2)]
    ctl.fail_output(2, failed=False)
    rig.ok("unlock", slot=2, ms=1000, boot=ctl.boot)
    assert ctl.is_locked(2) is False and ctl.unlocked == [2]
    with pytest.raises(ValueError, match=r"slot 5 has no lock: locks are at slots 1\.\.4"):
        ctl.fail_output(5)


def test_the_dead_man_relock_is_on_time_across_the_ticks_wrap() -> None:
    rig = Rig(sample_board(4, shared_door=False), ticks_start=PERIOD - 700)
    rig.ok("unlock", slot=1, ms=2000, boot=rig.ctl.boot)
    unlocked_at = rig.now
    rig.run(1999)
    assert rig.ctl.is_locked(1) is False
    got = rig.run(2)
    assert [(e["slot"], e["locked"]) for e in events(got, "lock")] == [(1, True)]
    assert rig.now - unlocked_at <= 2001
    assert rig.ctl.violations == []


def _script(rig: Rig) -> list[tuple[Any, ...]]:
    """A rental, a glitch, a forced door, unlock-all and lock_all; the events, hb left out."""
    ctl = rig.ctl
    rig.ok("hello")
    rig.ok("unlock", slot=3, ms=5000, boot=ctl.boot)
    rig.run(100)
    ctl.take(3, rig.now)
    rig.run(30)
    ctl.insert(3, rig.now)  # back within the debounce: never reported
    rig.run(100)
    ctl.take(3, rig.now)
    rig.run(200)
    rig.ok("lock", slot=3, boot=ctl.boot)
    ctl.open_door(2, rig.now, force=True)
    rig.run(100)
    ctl.close_door(2, rig.now)
    for slot in range(1, 9):
        rig.ok("unlock", slot=slot, ms=20_000, boot=ctl.boot)
    rig.run(450)
    rig.ok("lock_all", boot=ctl.boot)
    rig.run(1500)
    assert ctl.violations == [] and ctl.crashes == []
    return [
        tuple(sorted(m.items())) for m in rig.seen if "ev" in m and m["ev"] not in ("hb", "boot")
    ]


def test_a_main_loop_polling_every_2_ms_sees_the_same_events() -> None:
    board = sample_board(8, shared_door=False, door_sensors=True)
    on_demand = _script(Rig(board))
    looping = _script(Rig(board, loop_ms=2))
    assert on_demand == looping
    assert [dict(e)["slot"] for e in on_demand if dict(e)["ev"] == "key"] == [3]
    assert len([e for e in on_demand if dict(e)["ev"] == "door"]) == 2


async def test_the_console_speaks_as_for_the_simulator() -> None:
    ctl = FirmwareController(sample_board(4, shared_door=False), rng=random.Random(1))
    ctl.power_up(0)
    console = Console(Simulator(ctl))
    assert (await console.answer("status")).startswith("ok keys=-1111 doors=----- locks=-1111 ")
    assert (
        await console.answer("take 2") == "error: slot 2 is locked; force it to take the key anyway"
    )
    assert await console.answer("force 2") == "ok"
    assert await console.answer("take 2") == "error: slot 2 holds no key"
    assert (await console.answer("open 1")).startswith("error: slot 1 has no door sensor")
    assert (await console.answer("fault expander")).startswith("error: the firmware sends")
    assert await console.answer("fail 3") == "ok"


# ------------------------------------------------------------------ the command line


def simulate(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lockerkey", "simulate", *args],
        cwd=tmp_path,
        input="quit\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


BAD_BOARDS = [
    ("{", "not valid JSON"),
    (json.dumps({**sample_board(2, False), "buzer": "gpio:4"}), "unknown key 'buzer'"),
    (json.dumps({**sample_board(2, False), "slots": 3}), "slot: must be a list of exactly 3"),
    (
        json.dumps({**sample_board(2, False), "slot": [{"key": "gpio:13"}, {"key": "x0.1"}]}),
        "slot 1: lock is required",
    ),
]


@pytest.mark.parametrize(("text", "why"), BAD_BOARDS)
def test_a_bad_board_file_is_refused_clearly(tmp_path: Path, text: str, why: str) -> None:
    (tmp_path / "bad.json").write_text(text, encoding="utf-8")
    done = simulate(tmp_path, "--firmware", "--board", "bad.json")
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("lockerkey simulate: board file bad.json: "), done.stderr
    assert why in done.stderr


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["--firmware"], "--firmware needs --board FILE"),
        (["--board", "b.json"], "--board goes with --firmware"),
        (["--firmware", "--board", "missing.json"], "board file missing.json: cannot read it"),
        (["--firmware", "--board", "b.json", "--slots", "8"], "leave out --slots 8"),
        (["--firmware", "--board", "b.json", "--shared-door"], "leave out --shared-door"),
        (["--firmware", "--board", "b.json", "--doors"], "leave out --doors"),
    ],
)
def test_firmware_options_that_do_not_fit_are_refused(
    tmp_path: Path, args: list[str], why: str
) -> None:
    (tmp_path / "b.json").write_text(json.dumps(sample_board(4, False)), encoding="utf-8")
    done = simulate(tmp_path, *args)
    assert done.returncode == 1 and why in done.stderr, done.stderr


def test_a_good_board_starts_and_repeating_it_is_fine(tmp_path: Path) -> None:
    (tmp_path / "b.json").write_text(json.dumps(sample_board(4, False, True)), encoding="utf-8")
    done = simulate(tmp_path, "--firmware", "--board", "b.json", "--slots", "4", "--doors")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("listening on ") and done.stdout.endswith("ok bye\n")


def test_a_shared_door_in_hold_mode_opens_only_while_energised() -> None:
    rig = Rig(sample_board(8, shared_door=True))
    ctl = rig.ctl
    with pytest.raises(ValueError, match="door 0 is locked; force it to open it anyway"):
        ctl.open_door(0, rig.now)
    rig.ok("unlock", slot=0, ms=5000, boot=ctl.boot)
    assert ctl.world.rules.on_since == {0: rig.now}  # the bolt is held back
    ctl.open_door(0, rig.now)
    got = rig.run(60)
    ctl.take(4, rig.now)
    got += rig.run(200)
    assert [(e["ev"], e["slot"]) for e in got if e["ev"] in ("door", "key")] == [
        ("door", 0),
        ("key", 4),
    ]
    ctl.close_door(0, rig.now)
    rig.ok("lock", slot=0, boot=ctl.boot)
    assert ctl.world.rules.on_since == {} and not ctl.world.released(0)
    with pytest.raises(ValueError, match="the shared door is locked"):
        ctl.take(5, rig.now)
    rig.run(200)
    assert ctl.status() == ("-11101111", "0--------", "1--------")
    assert ctl.violations == []


def test_an_exception_out_of_the_firmware_resets_it_and_is_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rig = Rig(sample_board(4, shared_door=False))
    ctl = rig.ctl
    old = ctl.boot

    def broken(now: int) -> list[bytes]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(ctl._core, "poll", broken)
    got = rig._decode(ctl.tick(rig.now + 5))
    assert [m["ev"] for m in got] == ["boot"] and ctl.boot != old
    assert len(ctl.crashes) == 1 and "RuntimeError: a bug" in ctl.crashes[0]


def test_machine_reset_is_a_power_up(monkeypatch: pytest.MonkeyPatch) -> None:
    rig = Rig(sample_board(4, shared_door=False))
    ctl = rig.ctl
    old = ctl.boot

    def reset(now: int) -> list[bytes]:
        ctl.machine.reset()
        return []

    monkeypatch.setattr(ctl._core, "poll", reset)
    got = rig._decode(ctl.tick(rig.now + 5))
    assert [m["ev"] for m in got] == ["boot"] and ctl.boot != old and ctl.crashes == []


def test_an_expander_that_browns_out_but_answers_gives_no_false_key_events() -> None:
    """A solenoid's inrush resets an expander; it keeps answering with its power-on
    registers (no pull-ups). An empty slot's open input must not read as a key come back."""
    rig = Rig(sample_board(8, shared_door=False, door_sensors=True))
    ctl = rig.ctl
    rig.run(200)
    ctl.take(1, rig.now, force=True)
    got = rig.run(200)
    assert [(e["slot"], e["present"]) for e in events(got, "key")] == [(1, False)]
    chip = ctl.expander(0)  # keys and door sensors
    chip.power_on()  # the brown-out: the chip forgot its set-up, but is still on the bus
    got = rig.run(6000)  # longer than any periodic refresh
    assert events(got, "key") == [] and events(got, "door") == [] and events(got, "fault") == []
    assert chip.read(GPPU, 2) == b"\x7f\x00"  # set up again at once
    assert ctl.violations == [] and ctl.crashes == []

"""``lockerkey firmware``: validate a board file, put the firmware on an ESP32 with mpremote
(``deploy``) and test a running controller over the cabinet protocol (``check``; a short-lived
command, so it uses pyserial synchronously)."""

from __future__ import annotations

import functools
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import serial

from lockerkey.board_file import validate_board
from lockerkey.cabinet import wire
from lockerkey.cabinet.line import describe

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"  # firmware/ next to src/
RETRY_S, SENDS = 0.25, 3  # as the host: a request is sent three times, 250 ms apart
PULSE_MS = 1000  # how long --pulse releases each lock
_run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=120, check=False)


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _fail(text: str) -> int:
    sys.stderr.write(f"lockerkey firmware: {text}\n")
    return 1


def deploy(port: str, board: Path, firmware: Path = FIRMWARE) -> int:
    """Copy firmware/lk/*.py, main.py (boot.py) and ``board`` as board.json, then reset."""
    try:
        problems = validate_board(json.loads(board.read_text(encoding="utf-8")))
    except (OSError, ValueError) as err:
        return _fail(f"{board}: cannot read it as JSON: {getattr(err, 'strerror', None) or err}")
    if problems:
        listed = "".join(f"\n  - {problem}" for problem in problems)
        return _fail(f"{board}: {len(problems)} problem(s), nothing was copied:{listed}")
    modules, main = sorted((firmware / "lk").glob("*.py")), firmware / "main.py"
    if not modules or not main.is_file():
        return _fail(f"no firmware (lk/*.py and main.py) in {firmware}: use a source checkout")
    beside = Path(sys.executable).parent / "mpremote"  # in the venv's bin
    tool = shutil.which("mpremote") or (str(beside) if os.access(beside, os.X_OK) else None)
    if tool is None:
        return _fail("mpremote is not installed; install it with: pip install mpremote")
    steps = [["fs", "mkdir", ":lk"]] + [["fs", "cp", str(m), f":lk/{m.name}"] for m in modules]
    if (firmware / "boot.py").is_file():
        steps.append(["fs", "cp", str(firmware / "boot.py"), ":boot.py"])
    steps += [["fs", "cp", str(board), ":board.json"], ["fs", "cp", str(main), ":main.py"]]
    steps.append(["reset"])
    for number, step in enumerate(steps, 1):
        _say(f"[{number}/{len(steps)}] mpremote connect {port} {' '.join(step)}")
        try:
            done = _run([tool, "connect", port, *step])
        except (OSError, subprocess.TimeoutExpired) as err:
            return _fail(f"step {number} failed: {err}")
        why = done.stderr.strip() or done.stdout.strip()
        if done.returncode and step[1:2] == ["mkdir"] and "exist" in why.lower():
            _say("  :lk is already there")
        elif done.returncode:
            return _fail(f"step {number} failed (mpremote exit {done.returncode}): {why}")
    _say(f"deployed {board.name} to {port}; check it with: lockerkey firmware check --port {port}")
    return 0


class _Link:
    """Requests and replies on an open port; events are kept aside for whoever wants them."""

    def __init__(self, device: serial.Serial) -> None:
        self.device = device
        self.decoder = wire.Decoder()
        self.buffer = bytearray()
        self.rid = random.randint(1, 2**30)  # noqa: S311 - ids need only differ
        self.slots = wire.MAX_SLOTS
        self.events: list[wire.WireEvent] = []

    def receive(self, until: float) -> wire.Reply | wire.WireEvent | None:
        """The next valid message, or None once ``until`` (monotonic) has passed."""
        while (end := self.buffer.find(b"\n")) >= 0 or time.monotonic() < until:
            if end < 0:
                self.device.timeout = max(0.0, until - time.monotonic())
                self.buffer += self.device.read(max(1, self.device.in_waiting))
                continue
            message = self.decoder.decode(bytes(self.buffer[:end]))
            del self.buffer[: end + 1]
            try:
                if message is not None:
                    return wire.parse_message(message, self.slots)
            except wire.Malformed:
                self.decoder.drop("malformed")
        return None

    def request(self, cmd: str, **args: Any) -> wire.Reply:
        self.rid = self.rid % wire.MAX_ID + 1
        frame = wire.request(self.rid, cmd, **args)
        for _ in range(SENDS):
            self.device.write(frame)
            until = time.monotonic() + RETRY_S
            while (message := self.receive(until)) is not None:
                if not isinstance(message, wire.Reply):
                    self.events.append(message)
                elif message.id == self.rid:
                    return message
        raise TimeoutError(cmd)  # no reply after all its sends


def check(port: str, pulse: bool) -> int:
    """Report a controller's identity and sensors; with ``pulse`` release and relock each lock."""
    try:
        device = serial.serial_for_url(port, baudrate=115200, exclusive=True, do_not_open=True)
        device.dtr = device.rts = False  # an ESP32 resets when these are asserted on open
        device.open()
    except (OSError, ValueError) as err:
        reason = describe(err, port) if isinstance(err, OSError) else f"{port}: {err}"
        return _fail(f"cannot open the port: {reason}")
    link = _Link(device)
    try:
        device.write(b"\n")  # ends any partial line the controller holds
        return _check(link, port, pulse)
    except TimeoutError as err:
        heard = sum(link.decoder.dropped.values())
        what = f"{heard} line(s) that are not lockerkey protocol" if heard else "nothing"
        return _fail(f"{port}: no reply to {err}, {what}: is the lockerkey firmware running?")
    except OSError as err:
        return _fail(f"{port}: the port failed: {err}")
    finally:
        device.close()


WORDS = {"1": "present", "0": "absent"}, {"1": "open", "0": "closed"}, {"1": "locked"}
WORDS[2]["0"] = "released"


def _check(link: _Link, port: str, pulse: bool) -> int:
    try:
        reply = link.request("hello")
        hello = wire.parse_hello(reply.result)
        if hello.proto != wire.PROTO:
            raise wire.Malformed(f"protocol {hello.proto}")
        link.slots = hello.slots
        reply = link.request("status")
        status = wire.parse_status(reply.result, hello.slots, hello.main)
    except wire.Malformed as err:
        return _fail(f"{port}: {reply.err or err}: not lockerkey protocol {wire.PROTO}")
    kind = "a shared door (slot 0)" if hello.main else "a lock per slot"
    heap = "" if hello.heap is None else f"\n  free heap: {hello.heap} bytes"
    _say(
        f"controller on {port}\n  firmware: {hello.fw}\n  protocol: {hello.proto}\n"
        f"  slots: {hello.slots}\n  kind: {kind}\n  boot id: {hello.boot}{heap}"
    )
    _say(f"  {'slot':>5}  {'key':<8} {'door':<7} lock")
    lockable = [0] if hello.main else list(range(1, hello.slots + 1))
    for slot in range(0 if hello.main else 1, hello.slots + 1):
        states = (status.keys, status.doors, status.locks)
        key, door, lock = (WORDS[i].get(text[slot], "-") for i, text in enumerate(states))
        _say(f"  {slot or 'door':>5}  {key:<8} {door:<7} {lock}")
    if not pulse:
        return 0
    failed = [slot for slot in lockable if _pulse(link, slot, hello.boot, status.locks[slot])]
    reply = link.request("lock_all", boot=hello.boot)
    _say(f"  lock_all: {reply.err or 'ok'}")
    if failed or not reply.ok:
        which = ", ".join(str(slot or "door") for slot in failed)
        return _fail(f"{port}: " + (f"failed to pulse {which}" if failed else "lock_all failed"))
    return 0


def _pulse(link: _Link, slot: int, boot: str, lock: str) -> bool:
    """Release one lock for PULSE_MS and wait for its lock events; True if that failed."""
    link.events.clear()
    reply = link.request("unlock", slot=slot, ms=PULSE_MS, boot=boot)
    want = [False, True] if lock == "1" else [True]  # the "lock" events: locked false, true
    until = time.monotonic() + PULSE_MS / 1000 + 2.0  # the relock is due after PULSE_MS
    why = f"unlock: {reply.err}" if reply.err else ""
    while want and not why:
        event = link.events.pop(0) if link.events else link.receive(until)
        if event is None:
            why = "never released" if want[0] is False else "not relocked in time"
        elif isinstance(event, wire.BootEvent) and event.hello.boot != boot:
            why = "the controller restarted"
        elif isinstance(event, wire.FaultEvent):
            why = f"fault {event.code}"
        elif isinstance(event, wire.LockEvent) and (event.slot, event.locked) == (slot, want[0]):
            want.pop(0)
    _say(f"  pulse {slot or 'door'}: {'FAILED: ' + why if why else 'released and relocked: ok'}")
    return bool(why)

"""Conformance rig for the cabinet link (protocol v1): targets, a serial client, fixtures.

A *target* is one controller implementation reachable through a serial port, plus a hand on
its physical world (``act``: take a key, open a door, reboot...). Every case in this folder
runs against every registered target and, where the rule differs, against both cabinet
kinds. Adding a target = writing one factory (a context manager yielding a ``Target``) and
adding it to ``TARGETS``; see README.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
import serial

from lockerkey.cabinet.wire import Decoder, encode
from lockerkey.fwsim.boards import sample_board
from lockerkey.fwsim.rules import BROKEN

# How long a reply may take before the controller is deemed not to have answered. The spec
# states no reply deadline; the host retries after 250 ms, so 2 s is generous.
REPLY_TIMEOUT = 2.0
# How long to wait for an event the spec says will come, where the spec states no timing
# (key/door events come "after at least 50 ms" of stable reading; lock events at once).
EVENT_TIMEOUT = 1.5
# How long to watch the line when asserting that something does NOT arrive (no event, no
# second reply). Backed up by the `status` seq wherever the rule is about events.
QUIET_WINDOW = 0.3

MAX_ID = 2**31 - 1

Message = dict[str, Any]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "conformance: cabinet-link protocol v1 conformance case (needs a target)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.conformance)


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Kind:
    """The cabinet a target is asked to be."""

    name: str
    slots: int
    shared_door: bool
    door_sensors: bool  # each slot of a per-slot cabinet has a door sensor

    @property
    def lockable(self) -> tuple[int, ...]:
        """The slot numbers that have a lock."""
        return (0,) if self.shared_door else tuple(range(1, self.slots + 1))


PER_SLOT = Kind("per_slot", slots=8, shared_door=False, door_sensors=True)
SHARED = Kind("shared", slots=8, shared_door=True, door_sensors=False)
KINDS = {k.name: k for k in (PER_SLOT, SHARED)}


@dataclass
class Target:
    """One running controller: its serial port and a hand on its physical world.

    ``act`` takes one line of the physical-world vocabulary (the simulator's stdin
    language: ``take N``, ``force N``, ``insert N``, ``open N``, ``close N``, ``reboot``,
    ``unplug``, ``replug [reset]``) and returns the answer line (``ok...`` or ``error: ...``).
    Capabilities say which optional acts a target supports; a case needing one it lacks is
    skipped, never loosened.
    """

    name: str
    kind: Kind
    port: str
    act: Callable[[str], str]
    diagnostics: Callable[[], str] = lambda: ""
    can_reboot: bool = True
    can_replug: bool = True
    # The act round trip is fast enough to make a key glitch shorter than the 50 ms debounce.
    can_glitch: bool = True
    # An act ``fail N`` makes slot N's lock output faulty (for `hw_fault`).
    can_fail_output: bool = False

    @property
    def slots(self) -> int:
        return self.kind.slots

    @property
    def shared_door(self) -> bool:
        return self.kind.shared_door

    @property
    def door_sensors(self) -> bool:
        return self.kind.door_sensors


TargetFactory = Callable[[Kind, Path], AbstractContextManager[Target]]


class _LineReader:
    """Lines of a text stream, read by a thread so a read can time out."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def get(self, timeout: float) -> str | None:
        """The next line; None at EOF; raises queue.Empty on timeout."""
        return self.lines.get(timeout=timeout)


LISTENING = re.compile(r"^listening on (\S+)")
# What lockerkey.fwsim logs when the firmware breaks a rule, starves its watchdog or raises.
FIRMWARE_BUGS = (BROKEN, "starved the watchdog", "the firmware raised")


@contextlib.contextmanager
def simulator_target(kind: Kind, tmp: Path) -> Iterator[Target]:
    """The project's software simulator, as a real process (``lockerkey simulate``)."""
    argv = ["--slots", str(kind.slots)]
    if kind.shared_door:
        argv.append("--shared-door")
    if kind.door_sensors:
        argv.append("--doors")
    with _simulate(kind, tmp, "simulator", argv) as target:
        yield target


@contextlib.contextmanager
def firmware_target(kind: Kind, tmp: Path) -> Iterator[Target]:
    """The real firmware (firmware/lk/) on simulated pins: ``lockerkey simulate --firmware``
    with a board file wired as ``kind`` asks (see lockerkey.fwsim.boards)."""
    board = tmp / f"board-{kind.name}.json"
    data = sample_board(kind.slots, kind.shared_door, kind.door_sensors)
    board.write_text(json.dumps(data, indent=1), encoding="utf-8")
    with _simulate(kind, tmp, "firmware", ["--firmware", "--board", str(board)]) as target:
        yield target
    # The harness logs every breach of the board's output rules, watchdog lapse and exception
    # out of the firmware; a case passes only without them.
    log = (tmp / f"firmware-{kind.name}.stderr").read_text(encoding="utf-8", errors="replace")
    bugs = [line for line in log.splitlines() if any(m in line for m in FIRMWARE_BUGS)]
    assert not bugs, "the firmware misbehaved on its pins:\n" + "\n".join(bugs)


@contextlib.contextmanager
def _simulate(kind: Kind, tmp: Path, name: str, options: list[str]) -> Iterator[Target]:
    """``lockerkey simulate OPTIONS`` as a process on a pty linked in tmp, driven by stdin."""
    link = tmp / f"cabinet-{kind.name}"
    argv = [sys.executable, "-m", "lockerkey", "simulate", *options]
    argv += ["--link", str(link), "--seed", str(random.randrange(1, 2**31))]
    stderr_path = tmp / f"{name}-{kind.name}.stderr"
    with stderr_path.open("w", encoding="utf-8") as stderr:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            bufsize=1,
        )
    assert proc.stdin is not None
    assert proc.stdout is not None
    reader = _LineReader(proc.stdout)
    lock = threading.Lock()

    def diagnostics() -> str:
        code = proc.poll()
        text = stderr_path.read_text(encoding="utf-8", errors="replace")
        return f"{name} {argv[3:]} exit={code} stderr:\n{text[-3000:]}"

    def act(command: str) -> str:
        assert proc.stdin is not None
        with lock:
            proc.stdin.write(command + "\n")
            proc.stdin.flush()
            try:
                line = reader.get(timeout=5.0)
            except queue.Empty:
                msg = f"{name} did not answer {command!r}\n{diagnostics()}"
                raise AssertionError(msg) from None
        if line is None:
            raise AssertionError(f"{name} ended on {command!r}\n{diagnostics()}")
        return line

    try:
        try:
            first = reader.get(timeout=20.0)
        except queue.Empty:
            first = None
        match = LISTENING.match(first or "")
        assert match, f"{name} did not start: first line {first!r}\n{diagnostics()}"
        yield Target(name, kind, str(link), act, diagnostics, can_fail_output=True)
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


# Every registered target runs every case. LOCKERKEY_CONFORMANCE_TARGETS=name1,name2
# restricts the run.
TARGETS: dict[str, TargetFactory] = {
    "simulator": simulator_target,
    "firmware": firmware_target,
}


def _selected_targets() -> list[str]:
    wanted = os.environ.get("LOCKERKEY_CONFORMANCE_TARGETS")
    if not wanted:
        return sorted(TARGETS)
    names = [n.strip() for n in wanted.split(",") if n.strip()]
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        raise pytest.UsageError(f"unknown conformance targets {unknown}; known: {sorted(TARGETS)}")
    return names


# --------------------------------------------------------------------------- the client


@dataclass(frozen=True)
class Frame:
    """One line received from the controller."""

    t: float  # time.monotonic() when its line end arrived
    raw: bytes  # the line, line end included
    msg: Message | None  # decoded, or None if it failed the framing checks

    @property
    def is_event(self) -> bool:
        return self.msg is not None and "ev" in self.msg

    @property
    def is_reply(self) -> bool:
        return self.msg is not None and "id" in self.msg and "ev" not in self.msg


Predicate = Callable[[Message], bool]


def ev(name: str, **fields: Any) -> Predicate:
    """Matches an event by name and field values (`True`/`False` compared as bools)."""

    def match(msg: Message) -> bool:
        if msg.get("ev") != name:
            return False
        return all(k in msg and _same(msg[k], v) for k, v in fields.items())

    return match


def _same(a: Any, b: Any) -> bool:
    """Equality that keeps JSON's booleans apart from its numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


class Client:
    """The host side of one connection: sends frames, records every line received."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.decoder = Decoder()
        self.frames: list[Frame] = []
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self.error: BaseException | None = None
        self._next_id = random.randrange(1, MAX_ID - 1_000_000)
        self.boot: str = ""
        self._mark = 0
        self.last_send = 0.0  # time.monotonic() of the last write
        port = serial.Serial()
        port.port = target.port
        port.baudrate = 115200
        port.timeout = 0.02
        port.dtr = False  # field notes: no auto-reset on open
        port.rts = False
        port.open()
        self.port = port
        self._thread = threading.Thread(target=self._read_loop, daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- reading

    def _read_loop(self) -> None:
        pending = b""
        try:
            while not self._stop.is_set():
                chunk = self.port.read(self.port.in_waiting or 1)
                if not chunk:
                    continue
                now = time.monotonic()
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    raw = line + b"\n"
                    frame = Frame(now, raw, self.decoder.decode(raw) if line.strip() else None)
                    with self._cond:
                        self.frames.append(frame)
                        self._cond.notify_all()
        except (serial.SerialException, OSError, TypeError) as exc:
            # TypeError: pyserial's read on a closed port. Recorded for the waiting side.
            if not self._stop.is_set():
                self.error = exc
            with self._cond:
                self._cond.notify_all()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        with contextlib.suppress(Exception):
            self.port.close()

    def mark(self) -> int:
        """A position in the received frames; later searches start from the last mark."""
        with self._cond:
            self._mark = len(self.frames)
            return self._mark

    def since(self, start: int | None = None) -> list[Frame]:
        with self._cond:
            return list(self.frames[self._mark if start is None else start :])

    def messages(self, start: int | None = None) -> list[Message]:
        return [f.msg for f in self.since(start) if f.msg is not None]

    def events(self, start: int | None = None, name: str | None = None) -> list[Message]:
        return [m for m in self.messages(start) if "ev" in m and name in (None, m["ev"])]

    def wait_frame(
        self, predicate: Predicate, timeout: float = EVENT_TIMEOUT, since: int | None = None
    ) -> Frame:
        """The first frame from ``since`` (default: the last mark) whose message matches."""
        start = self._mark if since is None else since
        deadline = time.monotonic() + timeout
        with self._cond:
            index = start
            while True:
                while index < len(self.frames):
                    frame = self.frames[index]
                    index += 1
                    if frame.msg is not None and predicate(frame.msg):
                        return frame
                left = deadline - time.monotonic()
                if left <= 0 or self.error is not None:
                    break
                self._cond.wait(left)
        seen = [f.raw for f in self.frames[start:]]
        raise AssertionError(
            f"no matching frame within {timeout} s (link error: {self.error!r}); "
            f"received since: {seen}\n{self.target.diagnostics()}"
        )

    def wait_event(
        self, predicate: Predicate, timeout: float = EVENT_TIMEOUT, since: int | None = None
    ) -> Message:
        frame = self.wait_frame(lambda m: "ev" in m and predicate(m), timeout, since)
        assert frame.msg is not None
        return frame.msg

    def frames_for(self, seconds: float) -> list[Frame]:
        """Everything that arrives in the next ``seconds``."""
        start = len(self.frames)
        time.sleep(seconds)
        return self.since(start)

    # ---------------------------------------------------------------- writing

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def send_raw(self, data: bytes) -> None:
        # Taken before writing: the controller cannot have received the data any earlier.
        self.last_send = time.monotonic()
        self.port.write(data)
        self.port.flush()

    def send(self, message: Message) -> None:
        self.send_raw(encode(message))

    def reply_to(self, rid: Any, since: int, timeout: float = REPLY_TIMEOUT) -> Frame:
        return self.wait_frame(
            lambda m: "ev" not in m and "id" in m and _same(m["id"], rid), timeout, since
        )

    def request_frame(
        self, cmd: str | None, id: int | None = None, timeout: float = REPLY_TIMEOUT, **args: Any
    ) -> Frame:
        """Sends one request (no `cmd` field if ``cmd`` is None); returns its reply's frame."""
        rid = self.new_id() if id is None else id
        message: Message = {"id": rid}
        if cmd is not None:
            message["cmd"] = cmd
        message.update(args)
        with self._cond:
            start = len(self.frames)
        self.send(message)
        return self.reply_to(rid, start, timeout)

    def request(
        self, cmd: str | None, id: int | None = None, timeout: float = REPLY_TIMEOUT, **args: Any
    ) -> Message:
        """Sends one request and returns its reply (events seen meanwhile stay recorded)."""
        frame = self.request_frame(cmd, id, timeout, **args)
        assert frame.msg is not None
        return frame.msg

    def ok(self, cmd: str, **args: Any) -> Message:
        reply = self.request(cmd, **args)
        assert reply.get("ok") is True, f"{cmd} {args} -> {reply}"
        return reply

    # ---------------------------------------------------------------- protocol shortcuts

    def hello(self) -> Message:
        reply = self.ok("hello")
        self.boot = reply["boot"]
        return reply

    def status(self) -> Message:
        return self.ok("status")

    def unlock(self, slot: int, ms: int = 60000, **args: Any) -> Message:
        return self.request("unlock", slot=slot, ms=ms, boot=self.boot, **args)

    def lock(self, slot: int, **args: Any) -> Message:
        return self.request("lock", slot=slot, boot=self.boot, **args)

    def lock_all(self) -> Message:
        return self.request("lock_all", boot=self.boot)


@dataclass
class Rig:
    """A target with a connected client that has said `hello`."""

    target: Target
    client: Client
    hello: Message = field(default_factory=dict)

    @property
    def kind(self) -> Kind:
        return self.target.kind

    @property
    def slot(self) -> int:
        """A slot with a lock: 3 on a per-slot cabinet, 0 (the shared door) otherwise."""
        return 0 if self.kind.shared_door else 3

    def act(self, command: str) -> str:
        answer = self.target.act(command)
        assert answer.startswith("ok"), f"act {command!r} -> {answer!r}"
        return answer

    def locked(self, slot: int) -> None:
        """Brings ``slot`` to locked (an ok `lock`), then moves the mark past its event."""
        reply = self.client.lock(slot)
        assert reply.get("ok") is True, reply
        self.settle()

    def settle(self) -> Message:
        """A `status` round trip; the mark is set after it. Returns the status."""
        status = self.client.status()
        self.client.mark()
        return status


@contextlib.contextmanager
def _rig(factory: TargetFactory, kind: Kind, tmp: Path) -> Iterator[Rig]:
    with factory(kind, tmp) as target:
        client = Client(target)
        try:
            rig = Rig(target, client)
            rig.hello = client.hello()
            client.mark()
            yield rig
        finally:
            client.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target_name" in metafunc.fixturenames:
        metafunc.parametrize("target_name", _selected_targets(), scope="function")


@pytest.fixture
def target_factory(target_name: str) -> TargetFactory:
    return TARGETS[target_name]


@pytest.fixture(params=sorted(KINDS))
def cab(
    request: pytest.FixtureRequest, target_factory: TargetFactory, tmp_path: Path
) -> Iterator[Rig]:
    """Each cabinet kind in turn: 8 slots, per-slot with door sensors, or shared door."""
    with _rig(target_factory, KINDS[request.param], tmp_path) as rig:
        yield rig


@pytest.fixture
def per_slot(target_factory: TargetFactory, tmp_path: Path) -> Iterator[Rig]:
    """A per-slot cabinet: 8 slots, each with a lock and a door sensor."""
    with _rig(target_factory, PER_SLOT, tmp_path) as rig:
        yield rig


@pytest.fixture
def shared(target_factory: TargetFactory, tmp_path: Path) -> Iterator[Rig]:
    """A shared-door cabinet: 8 key slots behind one lockable door (slot 0)."""
    with _rig(target_factory, SHARED, tmp_path) as rig:
        yield rig

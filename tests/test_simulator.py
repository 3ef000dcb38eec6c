"""The cabinet simulator served over a real pty and real TCP, with pyserial as the host.

Every wait is for a line or a frame, with a timeout; nothing sleeps in place of a signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import serial
import serial_asyncio_fast

from lockerkey.cabinet.controller import Controller
from lockerkey.cabinet.simulator import Faults, Simulator
from lockerkey.cabinet.wire import Decoder, encode

WAIT = 3.0  # seconds: far above any delay here, so only a real failure reaches it
ENV = {**os.environ, "PYTHONIOENCODING": "utf-8"}

Frame = dict[str, Any]


class Host:
    """A minimal host: pyserial's asyncio layer, one decoder, helpers that wait for frames."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = Decoder()
        self.seen: list[Frame] = []
        self.raw: list[bytes] = []

    @classmethod
    async def open(cls, url: str) -> Host:
        """Open a port the way the kiosk does."""
        reader, writer = await serial_asyncio_fast.open_serial_connection(url=url, baudrate=115200)
        return cls(reader, writer)

    def close(self) -> None:
        """Close the port."""
        self.writer.close()

    async def line(self, timeout: float = WAIT) -> bytes:
        """The next raw line."""
        line = await asyncio.wait_for(self.reader.readline(), timeout)
        self.raw.append(line)
        return line

    async def frame(self, match: Callable[[Frame], bool], timeout: float = WAIT) -> Frame:
        """The next decodable frame that matches; frames passed over are kept in seen."""
        async with asyncio.timeout(timeout):
            while True:
                line = await self.line(timeout)
                if not line:
                    raise EOFError("the port closed")
                message = self.decoder.decode(line)
                if message is None:
                    continue
                self.seen.append(message)
                if match(message):
                    return message

    def send(self, **message: Any) -> None:
        """Write one request."""
        self.writer.write(encode(message))

    async def request(self, **message: Any) -> Frame:
        """Write one request and wait for its reply."""
        self.send(**message)
        return await self.frame(lambda m: m.get("id") == message["id"] and "ok" in m)


def sim_for(
    slots: int = 4, shared: bool = False, faults: Faults | None = None, **kw: Any
) -> Simulator:
    """A simulator of a fresh controller."""
    controller = Controller(slots, shared, rng=random.Random(11))
    return Simulator(controller, faults=faults, seed=5, **kw)


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    """A per-slot cabinet of 4 slots; stopped after the test."""
    simulator = sim_for()
    yield simulator
    await simulator.stop()


async def until(condition: Callable[[], bool], timeout: float = WAIT) -> None:
    """Wait for a condition of the simulator's state (checked every few ms)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def is_event(name: str, **fields: Any) -> Callable[[Frame], bool]:
    """A matcher for one kind of event with some field values."""
    return lambda m: m.get("ev") == name and all(m.get(k) == v for k, v in fields.items())


# -- pty --------------------------------------------------------------------------------------


async def test_pty_serves_the_protocol_behind_a_symlink(sim: Simulator, tmp_path: Path) -> None:
    link = tmp_path / "cabinet"
    where = await sim.start_pty(link=link)
    assert where == str(link)
    assert sim.tty is not None and os.readlink(link) == sim.tty
    host = await Host.open(where)
    try:
        hello = await host.request(id=40, cmd="hello")
        assert hello["boot"] == sim.controller.boot and hello["slots"] == 4
        boot = hello["boot"]
        assert await host.request(id=41, cmd="unlock", slot=3, ms=30_000, boot=boot) == {
            "id": 41,
            "ok": True,
        }
        await host.frame(is_event("lock", slot=3, locked=False))
        sim.take(3)
        key = await host.frame(is_event("key", slot=3))
        assert key["present"] is False and key["seq"] == 2
        status = await host.request(id=42, cmd="status")
        assert (status["keys"], status["locks"], status["seq"]) == ("-1101", "-1101", 2)
        hb = await host.frame(is_event("hb"), timeout=1.5)
        assert hb["seq"] == 2 and hb["up"] >= 1000
    finally:
        host.close()
    await sim.stop()
    assert not link.exists() and not link.is_symlink(), "stop removes the link"


async def test_a_host_can_close_and_reopen_the_pty(sim: Simulator) -> None:
    where = await sim.start_pty()
    assert where == sim.tty
    for rid in (1, 2):
        host = await Host.open(where)
        try:
            assert (await host.request(id=rid, cmd="ping"))["ok"]
        finally:
            host.close()
    assert sim.counters["frames_received"] == 2


async def test_nobody_reading_the_pty_never_blocks_the_simulator(sim: Simulator) -> None:
    await sim.start_pty()
    # Far more than any pty buffer holds; every write must return at once.
    for _ in range(3000):
        sim.reboot()
    assert sim.counters["reboots"] == 3000
    assert sim.counters["overflow"] > 0
    assert sim.counters["lines_sent"] + sim.counters["overflow"] >= 3000


async def test_unplug_and_replug_the_pty(sim: Simulator, tmp_path: Path) -> None:
    link = tmp_path / "ttyCAB"
    await sim.start_pty(link=link)
    host = await Host.open(str(link))
    boot = (await host.request(id=1, cmd="hello"))["boot"]
    await sim.unplug()
    assert not link.is_symlink(), "the port vanishes"
    with pytest.raises((EOFError, serial.SerialException, OSError)):
        await host.frame(lambda m: True)
    host.close()
    with pytest.raises(serial.SerialException):
        serial.Serial(str(link))
    with pytest.raises(ValueError, match="already unplugged"):
        await sim.unplug()

    assert await sim.replug() == str(link)
    assert os.readlink(link) == sim.tty
    host = await Host.open(str(link))
    try:
        again = await host.request(id=2, cmd="hello")
        assert again["boot"] == boot, "replugged without a reset: the same controller"
    finally:
        host.close()

    await sim.unplug()
    await sim.replug(reset=True)
    host = await Host.open(str(link))
    try:
        assert (await host.request(id=3, cmd="hello"))["boot"] != boot
    finally:
        host.close()
    assert sim.counters["unplugs"] == 2 and sim.counters["reboots"] == 1


# -- TCP --------------------------------------------------------------------------------------


async def test_tcp_serves_one_host_and_a_new_one_replaces_it(sim: Simulator) -> None:
    url = await sim.start_tcp("127.0.0.1", 0)
    assert url.startswith("socket://127.0.0.1:")
    first = await Host.open(url)
    second: Host | None = None
    try:
        assert (await first.request(id=1, cmd="hello"))["boot"] == sim.controller.boot
        second = await Host.open(url)
        assert (await second.request(id=2, cmd="ping"))["ok"]
        assert await first.reader.read() == b"", "the old connection is closed"
    finally:
        first.close()
        if second is not None:
            second.close()


async def test_tcp_unplug_stops_listening_until_replug(sim: Simulator) -> None:
    url = await sim.start_tcp()
    port = int(url.rsplit(":", 1)[1])
    host = await Host.open(url)
    await host.request(id=1, cmd="ping")
    await sim.unplug()
    assert await asyncio.wait_for(host.reader.read(), WAIT) == b""
    host.close()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    assert await sim.replug(reset=True) == url
    host = await Host.open(url)
    try:
        assert (await host.request(id=2, cmd="ping"))["ok"]
    finally:
        host.close()


# -- faults -----------------------------------------------------------------------------------


async def test_dropped_lines_are_counted_and_never_arrive() -> None:
    sim = sim_for(faults=Faults(drop=1.0))
    host = await Host.open(await sim.start_tcp())
    try:
        host.send(id=1, cmd="unlock", slot=2, ms=1000, boot=sim.controller.boot)
        host.send(id=2, cmd="ping")
        await until(lambda: sim.counters["frames_received"] == 2)
        sim.faults = Faults()
        assert await host.request(id=3, cmd="ping") == {"id": 3, "ok": True}
        # Requests 1 and 2 were carried out, but nothing of them reached the host.
        assert sim.controller.status()[2] == "-1011"
        assert [m for m in host.seen if m.get("ev") != "hb"] == [{"id": 3, "ok": True}]
        assert sim.counters["dropped"] >= 3  # boot, two replies, one lock event
        assert sim.counters["frames_received"] == 3
    finally:
        host.close()
        await sim.stop()


async def test_corrupted_lines_fail_the_hosts_checks() -> None:
    sim = sim_for(faults=Faults(corrupt=1.0))
    host = await Host.open(await sim.start_tcp())
    try:
        for rid in range(1, 21):
            host.send(id=rid, cmd="ping")
        lines = [await host.line() for _ in range(20)]
        assert [host.decoder.decode(line) for line in lines] == [None] * 20
        assert host.decoder.dropped.total() == 20
        assert sim.counters["corrupted"] >= 20
    finally:
        host.close()
        await sim.stop()


async def test_duplicates_and_delay_keep_order() -> None:
    sim = sim_for(faults=Faults(dup=1.0, delay_ms=150))
    host = await Host.open(await sim.start_tcp())
    try:
        loop = asyncio.get_running_loop()
        start = loop.time()
        host.send(id=7, cmd="ping")
        host.send(id=8, cmd="ping")
        got = [await host.frame(lambda m: "id" in m) for _ in range(4)]
        assert loop.time() - start >= 0.15
        assert [m["id"] for m in got] == [7, 7, 8, 8]
        assert sim.counters["duplicated"] >= 2
    finally:
        host.close()
        await sim.stop()


async def test_silence_sends_nothing_but_still_receives(sim: Simulator) -> None:
    host = await Host.open(await sim.start_tcp())
    try:
        sim.silence(0.3)
        host.send(id=1, cmd="unlock", slot=1, ms=5000, boot=sim.controller.boot)
        with pytest.raises(TimeoutError):
            await host.frame(lambda m: True, timeout=0.2)
        assert sim.controller.status()[2] == "-0111", "the request was carried out"
        assert sim.counters["silenced"] >= 2  # its reply and its lock event
        # The host retries every 250 ms, as it does for a real controller; once the
        # silence is over, a retry is answered (from the reply memory).
        for _ in range(4):
            host.send(id=1, cmd="unlock", slot=1, ms=5000, boot=sim.controller.boot)
            with contextlib.suppress(TimeoutError):
                assert await host.frame(lambda m: m.get("id") == 1, timeout=0.25) == {
                    "id": 1,
                    "ok": True,
                }
                break
        else:
            pytest.fail("no reply after the silence")
        assert not [m for m in host.seen if m.get("ev") == "lock"], "executed only once"
    finally:
        host.close()


# -- auto member ------------------------------------------------------------------------------


async def test_auto_member_takes_and_returns_and_misplaces() -> None:
    sim = sim_for(slots=3, auto=0.05)
    host = await Host.open(await sim.start_tcp())
    try:
        boot = sim.controller.boot
        await host.request(id=1, cmd="unlock", slot=2, ms=5000, boot=boot)
        assert (await host.frame(is_event("key", slot=2)))["present"] is False
        await host.request(id=2, cmd="lock", slot=2, boot=boot)
        await host.request(id=3, cmd="unlock", slot=2, ms=5000, boot=boot)
        assert (await host.frame(is_event("key", slot=2)))["present"] is True
        sim.take(3, force=True)  # an empty slot for the misplaced return
        await host.request(id=4, cmd="lock", slot=2, boot=boot)
        await host.request(id=5, cmd="unlock", slot=2, ms=5000, boot=boot)
        await host.frame(is_event("key", slot=2, present=False))
        await host.request(id=6, cmd="lock", slot=2, boot=boot)
        assert sim.member is not None
        sim.member.misplace_next = True
        await host.request(id=7, cmd="unlock", slot=2, ms=5000, boot=boot)
        wrong = await host.frame(is_event("key", present=True))
        assert wrong["slot"] == 3
        assert sim.controller.status()[0] == "-101"
    finally:
        host.close()
        await sim.stop()


async def test_auto_member_at_a_shared_door() -> None:
    sim = sim_for(slots=3, shared=True, auto=0.05)
    host = await Host.open(await sim.start_tcp())
    try:
        boot = sim.controller.boot
        await host.request(id=1, cmd="unlock", slot=0, ms=5000, boot=boot)
        assert (await host.frame(is_event("door", slot=0)))["open"] is True
        assert (await host.frame(is_event("key")))["slot"] == 1
        assert (await host.frame(is_event("door", slot=0)))["open"] is False
        await host.request(id=2, cmd="lock", slot=0, boot=boot)
        assert sim.member is not None
        sim.member.return_next = True
        await host.request(id=3, cmd="unlock", slot=0, ms=5000, boot=boot)
        back = await host.frame(is_event("key"))
        assert (back["slot"], back["present"]) == (1, True)
    finally:
        host.close()
        await sim.stop()


# -- the lockerkey simulate command ------------------------------------------------------------


class Process:
    """``lockerkey simulate`` in its own process, driven line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, *args: str) -> Process:
        """Start it and return once it said where it listens."""
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "lockerkey",
            "simulate",
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=ENV,
        )
        return cls(proc)

    async def out(self) -> str:
        """The next line of standard output."""
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), WAIT * 3)
        return line.decode().rstrip("\n")

    async def ask(self, command: str) -> str:
        """One command, one answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return await self.out()

    async def end(self) -> tuple[int, str]:
        """Wait for the exit; the exit code and standard error."""
        assert self.proc.stderr is not None
        stderr = await asyncio.wait_for(self.proc.stderr.read(), WAIT * 3)
        return await asyncio.wait_for(self.proc.wait(), WAIT), stderr.decode()


async def test_simulate_command_on_a_pty(tmp_path: Path) -> None:
    link = tmp_path / "ttySIM"
    proc = await Process.start("--slots", "3", "--link", str(link), "--seed", "1")
    first = await proc.out()
    assert first.startswith(f"listening on {link} -> /dev/")
    assert os.readlink(link) == first.rsplit(" -> ", 1)[1]
    host = await Host.open(str(link))
    try:
        hello = await host.request(id=9, cmd="hello")
        status = await proc.ask("status")
        assert status == f"ok keys=-111 doors=---- locks=-111 seq=0 boot={hello['boot']}"
        assert (await proc.ask("take 2")).startswith("error: slot 2 is locked")
        assert await proc.ask("force 2") == "ok"
        assert (await host.frame(is_event("key", slot=2)))["present"] is False
        assert await proc.ask("insert 2") == "ok"
        assert (await host.frame(is_event("key", slot=2)))["present"] is True
        assert (await proc.ask("open 1")).startswith("error: slot 1 has no door sensor")
        assert (await proc.ask("take 9")).startswith("error: no slot 9")
        assert (await proc.ask("take x")).startswith("error: 'x' is not a slot number")
        assert (await proc.ask("fly")).startswith("error: unknown command 'fly'")
        assert (await proc.ask("")).startswith("error: empty command")
        assert (await proc.ask("help")).startswith("ok commands: take N")
        assert (await proc.ask("misplace")).startswith("error: there is no pretend member")
        assert await proc.ask("fault expander 2") == "ok"
        fault = await host.frame(is_event("fault"))
        assert (fault["code"], fault["slot"], fault["seq"]) == ("expander", 2, 3)
        assert (await proc.ask("fault")).startswith("error: usage: fault CODE [N]")
        assert (await proc.ask("faults drop=0.5 delay=10")).startswith("ok drop=0.5 corrupt=0.0")
        assert (await proc.ask("faults drop=2")).startswith("error: drop must be")
        assert await proc.ask("faults drop=0 delay=0") == "ok drop=0.0 corrupt=0.0 dup=0.0 delay=0"
        reboot = await proc.ask("reboot")
        assert reboot.startswith("ok boot=") and reboot != f"ok boot={hello['boot']}"
        boot_event = await host.frame(is_event("boot"))
        assert reboot == f"ok boot={boot_event['boot']}"
        counters = await proc.ask("counters")
        assert "reboots=1" in counters.split() and "frames_received=1" in counters.split()
        assert await proc.ask("silence 0.1") == "ok"
    finally:
        host.close()
    assert (await proc.ask("unplug")) == "ok"
    assert not link.is_symlink()
    replug = await proc.ask("replug reset")
    assert replug.startswith(f"ok listening on {link} -> /dev/")
    assert link.is_symlink()
    assert proc.proc.stdin is not None
    proc.proc.stdin.close()  # end of input: a clean exit
    code, stderr = await proc.end()
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert not link.is_symlink(), "the link is removed at exit"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_simulate_command_on_tcp_ends_cleanly_on_a_signal(sig: signal.Signals) -> None:
    proc = await Process.start("--tcp", "0", "--shared-door", "--slots", "2")
    first = await proc.out()
    assert first.startswith("listening on socket://127.0.0.1:")
    url = first.removeprefix("listening on ")
    host = await Host.open(url)
    try:
        assert (await host.request(id=1, cmd="hello"))["main"] is True
        assert await proc.ask("open 0") == "error: door 0 is locked; force it to open it anyway"
        assert (await proc.ask("status")).startswith("ok keys=-11 doors=0-- locks=1--")
        assert await proc.ask("fail 0") == "ok"
        boot = (await host.request(id=2, cmd="status"))["boot"]
        assert await host.request(id=3, cmd="unlock", slot=0, ms=500, boot=boot) == {
            "id": 3,
            "ok": False,
            "err": "hw_fault",
        }
        assert (await proc.ask("fail 1")).startswith("error: slot 1 has no lock")
        assert await proc.ask("repair 0") == "ok"
        assert (await host.request(id=4, cmd="unlock", slot=0, ms=500, boot=boot))["ok"]
    finally:
        host.close()
    proc.proc.send_signal(sig)
    code, stderr = await proc.end()
    assert code == 0, stderr
    assert "Traceback" not in stderr


async def test_simulate_command_quit_and_bad_options(tmp_path: Path) -> None:
    proc = await Process.start("--tcp", "0")
    assert (await proc.out()).startswith("listening on socket://")
    assert await proc.ask("quit") == "ok bye"
    code, _ = await proc.end()
    assert code == 0
    bad = await Process.start("--slots", "0")
    code, stderr = await bad.end()
    assert code == 1 and "--slots must be 1..255" in stderr
    precious = tmp_path / "lockerkey.toml"
    precious.write_text("keep me", encoding="utf-8")
    bad = await Process.start("--link", str(precious))
    code, stderr = await bad.end()
    assert code == 1 and "is not a symlink" in stderr
    assert precious.read_text(encoding="utf-8") == "keep me"

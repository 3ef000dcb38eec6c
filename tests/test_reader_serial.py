"""The serial card/barcode reader on real ptys: one code per line, and it survives unplugging.

A test plays the reader device: it writes on a pty's master side, and the SerialReader opens
the slave side by a symlink path, as it would open /dev/serial/by-id/... . Unplugging closes
the pty and removes the link; plugging in again puts a new pty behind the same link.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import fcntl
import itertools
import logging
import os
import termios
import tty
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from lockerkey.core import rules
from lockerkey.readers import serial as serial_reader
from lockerkey.readers.serial import MAX_CODE_BYTES, CodeSplitter, SerialReader
from tests.live import eventually

QUICK = 0.01  # the reader's first reopen delay in these tests


class Device:
    """A pretend reader on a pty, reachable through a symlink that unplugging removes."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master: int | None = None
        self.slave: int | None = None
        self.plug()

    def plug(self) -> None:
        """A new pty behind the link (replaced atomically, like the simulator does)."""
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)  # raw before the reader opens it: no CR -> LF translation, no echo
        # The slave stays open here too, as the simulator keeps it: the queue of bytes waiting
        # for the reader can then be measured (waiting()), and writes never see a hang-up.
        self.master, self.slave = master, slave
        temp = self.link.with_name(f".{self.link.name}.tmp")
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()
        temp.symlink_to(os.ttyname(slave))
        temp.replace(self.link)

    def unplug(self) -> None:
        """Pull the cable: the link goes, and the pty with it."""
        self.link.unlink()
        self.close()

    def close(self) -> None:
        for fd in (self.master, self.slave):
            if fd is not None:
                os.close(fd)
        self.master = self.slave = None

    def write(self, data: bytes) -> None:
        assert self.master is not None
        os.write(self.master, data)

    def waiting(self) -> int:
        """Bytes in the pty's queue that nobody has read yet (FIONREAD on the slave side)."""
        assert self.slave is not None
        count = array.array("i", [0])
        fcntl.ioctl(self.slave, termios.FIONREAD, count)
        return count[0]


class Received:
    """Every chunk of bytes the reader's protocol got, in order (recorded, then passed on)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.chunks: list[bytes] = []
        real = CodeSplitter.data_received

        def recording(splitter: CodeSplitter, data: bytes) -> None:
            self.chunks.append(bytes(data))
            real(splitter, data)

        monkeypatch.setattr(CodeSplitter, "data_received", recording)

    @property
    def total(self) -> int:
        return sum(len(c) for c in self.chunks)

    async def write_read(self, device: Device, data: bytes) -> None:
        """Write, then wait until the reader has read it all, so the next write comes apart."""
        target = self.total + len(data)
        device.write(data)
        await eventually(lambda: self.total >= target, why=f"the reader read {data!r}")


@pytest.fixture
def received(monkeypatch: pytest.MonkeyPatch) -> Received:
    return Received(monkeypatch)


@pytest.fixture
def device(tmp_path: Path) -> Iterator[Device]:
    dev = Device(tmp_path / "ttySCANNER")
    yield dev
    dev.close()


class Running:
    """A SerialReader task and the codes it emitted."""

    def __init__(self, reader: SerialReader) -> None:
        self.reader = reader
        self.codes: list[str] = []
        self.task: asyncio.Task[None] | None = None

    async def opened(self, times: int = 1) -> None:
        await eventually(lambda: self.reader.opened >= times, why=f"opened {times} times")

    async def until_code(self, code: str) -> list[str]:
        await eventually(lambda: code in self.codes, why=f"{code!r} emitted; got {self.codes}")
        return self.codes


@pytest.fixture
async def running(device: Device) -> AsyncIterator[Running]:
    run = Running(SerialReader("scanner", str(device.link), backoff_first=QUICK))
    run.task = asyncio.create_task(run.reader.run(run.codes.append))
    await run.opened()
    yield run
    run.task.cancel()
    await asyncio.gather(run.task, return_exceptions=True)


# ---- splitting lines into codes ----------------------------------------------------------------


def boundaries(received: Received) -> set[int]:
    """Where one chunk the reader got ended, counted in bytes from the start."""
    return set(itertools.accumulate(len(c) for c in received.chunks))


async def test_each_line_end_gives_exactly_one_code(
    device: Device, running: Running, received: Received
) -> None:
    await received.write_read(device, b"CR-1\rLF-2\nCRLF-3\r\n")
    device.write(b"LAST\r")
    assert await running.until_code("LAST") == ["CR-1", "LF-2", "CRLF-3", "LAST"]


async def test_a_crlf_split_between_reads_is_still_one_line_end(
    device: Device, running: Running, received: Received
) -> None:
    await received.write_read(device, b"M0001\r")
    await received.write_read(device, b"\nM0002\r")
    await received.write_read(device, b"\n")
    assert {6, 13, 14} <= boundaries(received)  # the CR and its LF really came apart
    device.write(b"END\n")
    assert await running.until_code("END") == ["M0001", "M0002", "END"]


async def test_blank_lines_give_nothing(
    device: Device, running: Running, received: Received
) -> None:
    await received.write_read(device, b"\r\n\r\r\n\n\n\r")
    assert running.codes == []
    device.write(b"\r\nONLY\r\n\r\n")
    assert await running.until_code("ONLY") == ["ONLY"]


async def test_a_code_split_across_writes_is_joined(
    device: Device, running: Running, received: Received
) -> None:
    for part in (b"KE", b"Y-", b"1", b"2"):
        await received.write_read(device, part)
        assert running.codes == []  # nothing before its line end
    assert {2, 4, 5, 6} <= boundaries(received)  # four separate reads
    device.write(b"\r\n")
    assert await running.until_code("KEY-12") == ["KEY-12"]


async def test_spaces_are_part_of_a_code(device: Device, running: Running) -> None:
    device.write(b"  M 7 \r\n")
    assert await running.until_code("  M 7 ") == ["  M 7 "]


async def test_non_ascii_bytes_become_replacement_characters(
    device: Device, running: Running
) -> None:
    device.write("회원\r".encode() + b"M\xff1\r" + b"OK\r")
    codes = await running.until_code("OK")
    assert codes == ["\ufffd" * len("회원".encode()), "M\ufffd1", "OK"]
    assert [rules.valid_code(c) for c in codes] == [False, False, True]


async def test_an_over_long_line_is_refused_whole_and_the_next_code_is_intact(
    device: Device, running: Running, received: Received
) -> None:
    assert MAX_CODE_BYTES > rules.MAX_CODE
    await received.write_read(device, b"A" * 300)  # no line end yet
    device.write(b"\rM0001\r")
    codes = await running.until_code("M0001")
    *long, last = codes
    assert last == "M0001"
    assert long, "the over-long line was not handed on at all"
    # Handed on (to be refused and audited), but nothing of it may pass for a code.
    assert all(len(c) > rules.MAX_CODE and not rules.valid_code(c) for c in long), [
        len(c) for c in long
    ]
    assert sum(len(c) for c in long) <= 300


async def test_endless_bytes_without_a_line_end_keep_the_buffer_bounded(
    device: Device, running: Running, received: Received
) -> None:
    for _ in range(20):  # 20 kB without a line end
        await received.write_read(device, b"Z" * 1000)
    device.write(b"\nM2\n")
    *spew, last = await running.until_code("M2")
    assert last == "M2"
    assert spew and all(MAX_CODE_BYTES >= len(c) > rules.MAX_CODE for c in spew)


# ---- opening, unplugging, plugging in again ----------------------------------------------------


async def test_bytes_waiting_before_the_reader_opened_the_port_are_discarded(
    device: Device,
) -> None:
    stale = b"STALE-1\rSTALE-2\r"
    device.write(stale)
    await eventually(lambda: device.waiting() == len(stale), why="the stale bytes queued")
    run = Running(SerialReader("scanner", str(device.link), backoff_first=QUICK))
    task = asyncio.create_task(run.reader.run(run.codes.append))
    try:
        await run.opened()
        assert device.waiting() == 0  # gone as the port was opened
        device.write(b"FRESH\r")
        assert await run.until_code("FRESH") == ["FRESH"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_unplugging_is_logged_and_the_reader_reopens_when_the_port_returns(
    device: Device, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []
    real_open = serial_reader.open_port

    async def counting_open(port: str, baudrate: int, protocol: asyncio.Protocol) -> object:
        attempts.append(port)
        return await real_open(port, baudrate, protocol)

    monkeypatch.setattr(serial_reader, "open_port", counting_open)
    reader = SerialReader("scanner", str(device.link), backoff_first=QUICK)
    run = Running(reader)
    with caplog.at_level(logging.INFO, logger="lockerkey.reader"):
        task = asyncio.create_task(reader.run(run.codes.append))
        try:
            await run.opened()
            device.write(b"BEFORE\r")
            await run.until_code("BEFORE")
            assert "scanner: reading codes from" in caplog.text

            device.unplug()
            await eventually(lambda: "reopening" in caplog.text, why="the loss logged")
            assert f"scanner: {device.link} closed" in caplog.text
            tried = len(attempts)
            await eventually(lambda: len(attempts) >= tried + 3, why="three tries while out")
            assert reader.opened == 1
            assert "no such port" in caplog.text
            assert caplog.text.count("cannot open") == 1  # the same reason is said once

            device.plug()  # a new pty behind the same path
            await run.opened(2)
            device.write(b"AFTER\r")
            assert await run.until_code("AFTER") == ["BEFORE", "AFTER"]
            assert reader.opened == 2
            assert caplog.text.count("reading codes from") == 2
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def test_a_port_missing_at_start_is_waited_for(tmp_path: Path) -> None:
    link = tmp_path / "ttyLATE"
    reader = SerialReader("scanner", str(link), backoff_first=QUICK)
    run = Running(reader)
    task = asyncio.create_task(reader.run(run.codes.append))
    device: Device | None = None
    try:
        assert reader.opened == 0
        device = Device(link)
        await run.opened()
        device.write(b"M3\n")
        assert await run.until_code("M3") == ["M3"]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if device is not None:
            device.close()


async def test_cancelling_the_reader_closes_the_port(device: Device) -> None:
    reader = SerialReader("scanner", str(device.link), backoff_first=QUICK)
    run = Running(reader)
    task = asyncio.create_task(reader.run(run.codes.append))
    await run.opened()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # The port is free again: another reader (opening it exclusively) can have it.
    again = SerialReader("scanner", str(device.link), backoff_first=QUICK)
    second = Running(again)
    task = asyncio.create_task(again.run(second.codes.append))
    try:
        await second.opened()
        device.write(b"M4\r")
        assert await second.until_code("M4") == ["M4"]
        assert run.codes == []
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

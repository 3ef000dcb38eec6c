"""A software cabinet: a Controller served over a pseudo-terminal or TCP, with line faults.

The host opens the pty's slave path (or ``socket://HOST:PORT``) with pyserial exactly as it
would open a real controller's USB port. Faults apply to outgoing lines only; what the host
sends always reaches the controller (the host's own retries are what is under test).

With ``auto`` seconds, a pretend member (``sim_member.py``) acts after every unlock, for demos.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import random
import tty
from collections import Counter, deque
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lockerkey.cabinet.sim_member import PretendMember
from lockerkey.cabinet.wire import MAX_LINE

log = logging.getLogger(__name__)

TCP_BACKLOG_LIMIT = 64 * 1024  # bytes queued for a TCP host that does not read: then drop
_PRINTABLE = b"".join(bytes([c]) for c in range(0x20, 0x7F))
COUNTER_NAMES = (
    "lines_sent",
    "dropped",
    "corrupted",
    "duplicated",
    "silenced",
    "overflow",
    "lines_received",
    "frames_received",
    "frames_rejected",
    "reboots",
    "unplugs",
)


@dataclass
class Faults:
    """What happens to outgoing lines: probabilities per line, and a delay that keeps order."""

    drop: float = 0.0
    corrupt: float = 0.0
    dup: float = 0.0
    delay_ms: int = 0

    def __post_init__(self) -> None:
        for name in ("drop", "corrupt", "dup"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability 0..1, not {value}")
        if self.delay_ms < 0:
            raise ValueError(f"delay must be 0 or more milliseconds, not {self.delay_ms}")


class CabinetController(Protocol):
    """What the simulator, its console and its pretend member use of a controller: the pure
    ``Controller``, or the firmware on simulated pins (``lockerkey.fwsim``)."""

    slots: int
    unlocked: list[int]

    @property
    def powered(self) -> bool: ...
    @property
    def boot(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def frames_received(self) -> int: ...
    def power_up(self, now_ms: int) -> list[bytes]: ...
    def next_deadline(self) -> int: ...
    def tick(self, now_ms: int) -> list[bytes]: ...
    def receive(self, line: bytes, now_ms: int) -> list[bytes]: ...
    def status(self) -> tuple[str, str, str]: ...
    def is_locked(self, slot: int) -> bool: ...
    def key_present(self, slot: int) -> bool: ...
    def door_open(self, slot: int) -> bool: ...
    def has_door(self, slot: int) -> bool: ...
    def take(self, slot: int, now_ms: int, *, force: bool = False) -> None: ...
    def insert(self, slot: int, now_ms: int) -> None: ...
    def open_door(self, slot: int, now_ms: int, *, force: bool = False) -> None: ...
    def close_door(self, slot: int, now_ms: int) -> None: ...
    def report_fault(self, code: str, slot: int | None = None) -> list[bytes]: ...
    def fail_output(self, slot: int, failed: bool = True) -> None: ...


class Simulator:
    """Serves one controller to one host at a time, injecting faults into what it sends."""

    def __init__(
        self,
        controller: CabinetController,
        *,
        faults: Faults | None = None,
        seed: int | None = None,
        auto: float | None = None,
    ) -> None:
        self.controller = controller
        self.faults = faults or Faults()
        self.member = PretendMember(self) if auto is not None else None
        self.auto = auto
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTER_NAMES, 0))
        self.link: Path | None = None
        self.tty: str | None = None  # the current pty's slave path
        self._rng = random.Random(seed)  # noqa: S311 - reproducible faults, not secrets
        self._master: int | None = None
        self._slave: int | None = None
        self._server: asyncio.Server | None = None
        self._host = "127.0.0.1"
        self._port = 0
        self._client: asyncio.StreamWriter | None = None
        self._rx = bytearray()
        self._silent_until = 0.0
        self._outbox: deque[tuple[float, bytes]] = deque()
        self._wake_ticker = asyncio.Event()
        self._wake_writer = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: set[asyncio.Task[Any]] = set()  # TCP connections being served

    # -- starting and stopping ------------------------------------------------------------

    async def start_pty(self, link: str | Path | None = None) -> str:
        """Serve on a new pty; with link, also a symlink to it. Returns the path to open."""
        self.link = Path(link) if link is not None else None
        if self.link is not None and self.link.exists() and not self.link.is_symlink():
            raise FileExistsError(f"{self.link} exists and is not a symlink; not replacing it")
        self._open_pty()
        self._start()
        return str(self.link or self.tty)

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on TCP (port 0: any free one). Returns the pyserial URL socket://HOST:PORT."""
        self._host = host
        self._server = await asyncio.start_server(self._on_client, host, port)
        self._port = self._server.sockets[0].getsockname()[1]
        self._start()
        return self.url

    @property
    def url(self) -> str:
        """Where a host connects: socket://HOST:PORT, or the link or pty path."""
        if self._server is not None or self._port:
            return f"socket://{self._host}:{self._port}"
        return str(self.link or self.tty)

    def _start(self) -> None:
        if not self.controller.powered:
            self._send(self.controller.power_up(self._stamp()))
        self._spawn(self._ticker())
        self._spawn(self._writer())

    async def stop(self) -> None:
        """Stop serving: close the port, remove the link, end every task."""
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._close_port(remove_link=True)
        if self._handlers:
            # Closing the connection ends its handler; cancelling it would make asyncio's
            # stream machinery log the cancellation as an error.
            await asyncio.wait(self._handlers, timeout=1.0)

    def now_ms(self) -> int:
        """The controller's clock: the event loop's monotonic clock in whole ms, rounded down."""
        return int(asyncio.get_running_loop().time() * 1000)

    def _stamp(self) -> int:
        """The time of something that starts a timer, rounded up.

        Timers then start no earlier than their cause and are checked against a clock rounded
        down, so no relock, report or fail-secure ever comes even a fraction of a ms early.
        """
        return math.ceil(asyncio.get_running_loop().time() * 1000)

    # -- physical actions -----------------------------------------------------------------

    def take(self, slot: int, *, force: bool = False) -> None:
        """A hand takes the key from slot (raises ValueError when it cannot)."""
        self.controller.take(slot, self._stamp(), force=force)
        self._wake_ticker.set()

    def insert(self, slot: int) -> None:
        """A hand puts a key into slot."""
        self.controller.insert(slot, self._stamp())
        self._wake_ticker.set()

    def open_door(self, slot: int, *, force: bool = False) -> None:
        """A hand opens a door (0 = the shared door)."""
        self.controller.open_door(slot, self._stamp(), force=force)
        self._wake_ticker.set()

    def close_door(self, slot: int) -> None:
        """A hand closes a door (0 = the shared door)."""
        self.controller.close_door(slot, self._stamp())
        self._wake_ticker.set()

    # -- faults ---------------------------------------------------------------------------

    def reboot(self) -> str:
        """Reset the controller: a new boot id and a boot event. Returns the boot id."""
        self.counters["reboots"] += 1
        self._send(self.controller.power_up(self._stamp()))
        self._wake_ticker.set()
        return self.controller.boot

    def report_fault(self, code: str, slot: int | None = None) -> None:
        """Send a ``fault`` event, as firmware does when hardware misbehaves."""
        self._send(self.controller.report_fault(code, slot))

    def silence(self, seconds: float) -> None:
        """Send nothing for seconds (the controller keeps running and receiving)."""
        self._silent_until = asyncio.get_running_loop().time() + seconds

    def write_raw(self, data: bytes) -> None:
        """Put arbitrary bytes on the line (a boot banner, noise), bypassing the controller."""
        self._write(data)

    async def unplug(self) -> None:
        """Pull the cable: the host's port vanishes (pty) or its connection drops (TCP)."""
        if self._master is None and self._server is None:
            raise ValueError("already unplugged")
        self.counters["unplugs"] += 1
        await self._close_port(remove_link=True)

    async def replug(self, reset: bool = False) -> str:
        """Plug back in (a new pty behind the same link, or listen again); maybe reset."""
        if self._master is not None or self._server is not None:
            raise ValueError("already plugged in")
        if self._port:
            self._server = await asyncio.start_server(self._on_client, self._host, self._port)
        else:
            self._open_pty()
        if reset:
            self.reboot()
        return self.url

    # -- the port -------------------------------------------------------------------------

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        os.set_blocking(master, False)
        # The slave stays open here too (never read): without it a read on the master fails
        # with EIO whenever the host has its side closed.
        self._master, self._slave = master, slave
        self.tty = os.ttyname(slave)
        self._rx.clear()
        asyncio.get_running_loop().add_reader(master, self._on_pty_readable)
        if self.link is not None:
            temp = self.link.with_name(f".{self.link.name}.{os.getpid()}.tmp")
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
            temp.symlink_to(self.tty)
            temp.replace(self.link)  # atomic: a host never sees the link missing or half-made

    async def _close_port(self, remove_link: bool) -> None:
        if self._master is not None:
            asyncio.get_running_loop().remove_reader(self._master)
            os.close(self._master)
            self._master = None
        if self._slave is not None:
            os.close(self._slave)
            self._slave = None
        if remove_link and self.link is not None and self.tty is not None:
            # Only our own link: someone may have pointed the path elsewhere meanwhile.
            with contextlib.suppress(OSError):
                if os.readlink(self.link) == self.tty:
                    self.link.unlink()
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._server is not None:
            self._server.close()
            self._server = None

    def _on_pty_readable(self) -> None:
        if self._master is None:
            return
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # only at close; the slave is held open, so no EIO in normal use
        self._feed(data)

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)
        if self._client is not None:
            self._client.close()  # one host at a time: the newest wins
        self._client = writer
        self._rx.clear()
        try:
            while data := await reader.read(4096):
                if self._client is not writer:
                    break
                self._feed(data)
        except ConnectionError:
            pass
        finally:
            if self._client is writer:
                self._client = None
            writer.close()

    def _feed(self, data: bytes) -> None:
        self._rx += data
        while (end := self._rx.find(b"\n")) >= 0:
            line = bytes(self._rx[:end])
            del self._rx[: end + 1]
            if line.strip(b"\r"):
                self._handle(line)
        if len(self._rx) > MAX_LINE + 2:
            # Keep just enough of an over-long line for the decoder to drop it as too long.
            del self._rx[MAX_LINE + 2 :]

    def _handle(self, line: bytes) -> None:
        self.counters["lines_received"] += 1
        before = self.controller.frames_received
        # What fell due before this line is sent first, on the rounded-down clock.
        self._send(self.controller.tick(self.now_ms()))
        frames = self.controller.receive(line, self._stamp())
        if self.controller.frames_received > before:
            self.counters["frames_received"] += 1
        else:
            self.counters["frames_rejected"] += 1
        self._send(frames)
        for slot in self.controller.unlocked:
            if self.member is not None and self.auto is not None:
                self._spawn(self.member.after_unlock(slot, self.auto))
        self.controller.unlocked.clear()
        self._wake_ticker.set()

    # -- sending --------------------------------------------------------------------------

    def _send(self, frames: list[bytes]) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        for frame in frames:
            if now < self._silent_until:
                self.counters["silenced"] += 1
                continue
            if self._chance(self.faults.drop):
                self.counters["dropped"] += 1
                continue
            line = frame
            if self._chance(self.faults.corrupt):
                line = self._corrupted(frame)
                self.counters["corrupted"] += 1
            copies = [line]
            if self._chance(self.faults.dup):
                copies.append(line)
                self.counters["duplicated"] += 1
            due = now + self.faults.delay_ms / 1000
            for copy in copies:
                if due <= now and not self._outbox:
                    self._write(copy)
                else:
                    self._outbox.append((due, copy))
                    self._wake_writer.set()

    def _chance(self, p: float) -> bool:
        return p > 0 and self._rng.random() < p

    def _corrupted(self, frame: bytes) -> bytes:
        body = frame[:-1]  # without the line end
        if self._rng.random() < 0.5:
            # A torn line: the host sees part of the frame (never nothing), then a line end.
            return body[: self._rng.randrange(1, len(body))] + b"\n"
        # One changed byte, never a line end: CRC-16 catches every single-byte error.
        at = self._rng.randrange(len(body))
        choices = _PRINTABLE.replace(body[at : at + 1], b"")
        new = choices[self._rng.randrange(len(choices))]
        return body[:at] + bytes([new]) + body[at + 1 :] + b"\n"

    def _write(self, line: bytes) -> None:
        if self._master is not None:
            try:
                written = os.write(self._master, line)
            except BlockingIOError:
                written = 0
            except OSError:
                return
            if written < len(line):
                self.counters["overflow"] += 1  # nobody reads: like a UART, the rest is lost
                return
        elif self._client is not None and not self._client.is_closing():
            if self._client.transport.get_write_buffer_size() > TCP_BACKLOG_LIMIT:
                self.counters["overflow"] += 1
                return
            self._client.write(line)
        else:
            return  # unplugged or nobody connected: the line goes nowhere
        self.counters["lines_sent"] += 1

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake_writer.wait()
            self._wake_writer.clear()
            while self._outbox:
                due, line = self._outbox[0]
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                self._outbox.popleft()
                self._write(line)

    # -- time -----------------------------------------------------------------------------

    async def _ticker(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wake_ticker.clear()
            self._send(self.controller.tick(self.now_ms()))
            # +1 ms: now_ms truncates, so waking exactly on time could find nothing due yet.
            wait = (self.controller.next_deadline() + 1 - self.now_ms()) / 1000
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(loop.time() + wait):
                        await self._wake_ticker.wait()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

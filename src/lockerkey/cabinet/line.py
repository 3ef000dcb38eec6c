"""Line transport for serial links: opening a port without resetting the board, splitting lines.

Shared by the cabinet driver and (later) serial card readers: anything on a serial port or a
``socket://`` URL that speaks in lines.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlparse

import serial
import serial_asyncio_fast

from lockerkey.cabinet.wire import MAX_LINE


class LineProtocol(asyncio.Protocol):
    """Splits received bytes into lines; an over-long line is dropped whole, never split."""

    def __init__(
        self,
        on_line: Callable[[bytes], None],
        on_bad: Callable[[str], None],
        on_closed: Callable[[Exception | None], None],
        limit: int = MAX_LINE,
    ) -> None:
        self._on_line = on_line
        self._on_bad = on_bad
        self._on_closed = on_closed
        self._limit = limit
        self._buffer = bytearray()
        self._skipping = False  # inside an over-long line: drop until its end

    def data_received(self, data: bytes) -> None:
        """Hand every complete line on; keep the rest for later."""
        self._buffer += data
        while (end := self._buffer.find(b"\n")) >= 0:
            line = bytes(self._buffer[:end])
            del self._buffer[: end + 1]
            if self._skipping:
                self._skipping = False
            else:
                self._on_line(line)
        # +1 leaves room for a "\r" before the line end.
        if len(self._buffer) > self._limit + 1:
            self._buffer.clear()
            if not self._skipping:
                self._skipping = True
                self._on_bad("too_long")

    def connection_lost(self, exc: Exception | None) -> None:
        """The port closed or vanished."""
        self._on_closed(exc)


async def open_port(port: str, baudrate: int, protocol: asyncio.Protocol) -> asyncio.Transport:
    """Open a device path or pyserial URL; raises OSError (SerialException) if it cannot."""
    loop = asyncio.get_running_loop()
    if urlparse(port).scheme == "socket":
        transport, _ = await serial_asyncio_fast.create_serial_connection(
            loop, lambda: protocol, port, baudrate=baudrate
        )
        return transport
    device = serial.serial_for_url(port, baudrate=baudrate, exclusive=True, do_not_open=True)
    # An ESP32's auto-reset circuit resets the board when DTR/RTS are asserted on open.
    device.dtr = False
    device.rts = False
    await loop.run_in_executor(None, device.open)
    transport, _ = await serial_asyncio_fast.connection_for_serial(loop, lambda: protocol, device)
    return transport


_HINTS = {
    errno.ENOENT: "no such port: is the cable plugged in, and is the path right?",
    errno.EACCES: "permission denied: add the kiosk's user to the 'dialout' group",
    errno.EAGAIN: "the port is in use by another program",
    errno.EBUSY: "the port is in use by another program",
    errno.ECONNREFUSED: "nothing accepts connections at that address",
    errno.EHOSTUNREACH: "that host cannot be reached",
}


def describe(err: OSError, port: str) -> str:
    """A short, actionable reason why ``port`` could not be opened (for staff and installers)."""
    hint = _HINTS.get(err.errno or 0)
    return f"{port}: {hint}" if hint else f"{port}: {err.strerror or err}"


class DropLog:
    """Logs dropped input without flooding: each reason at once, then a summary every minute."""

    def __init__(self, log: logging.Logger, name: str, every: float = 60.0) -> None:
        self.log = log
        self.name = name
        self.every = every
        self._seen: set[str] = set()
        self._since: Counter[str] = Counter()
        self._last = time.monotonic()

    def drop(self, reason: str, detail: str = "") -> None:
        """Note one dropped line."""
        now = time.monotonic()
        if reason not in self._seen:
            self._seen.add(reason)
            self.log.warning("%s: dropped a line (%s) %s", self.name, reason, detail)
            return
        self._since[reason] += 1
        if now - self._last >= self.every:
            summary = ", ".join(f"{r} {n}" for r, n in sorted(self._since.items()))
            span = now - self._last
            self.log.warning("%s: dropped lines in the last %.0f s: %s", self.name, span, summary)
            self._since.clear()
            self._last = now

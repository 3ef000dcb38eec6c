"""CDC/serial card and barcode readers: one code per line, ended by CR, LF or CR LF."""

from __future__ import annotations

import asyncio
import logging

from lockerkey.cabinet.line import describe, open_port
from lockerkey.readers.base import BACKOFF_FIRST_S, Emit, next_backoff

log = logging.getLogger("lockerkey.reader")

# Longer than any code the kiosk accepts (64), so an over-long one is still seen and refused
# whole, yet a reader spewing bytes without a line end cannot grow the buffer.
MAX_CODE_BYTES = 256


class CodeSplitter(asyncio.Protocol):
    """Splits received bytes into codes at CR or LF; CR LF and blank lines give nothing extra."""

    def __init__(self, emit: Emit, closed: asyncio.Future[Exception | None]) -> None:
        self._emit = emit
        self._closed = closed
        self._buffer = bytearray()
        self._skipping = False  # past MAX_CODE_BYTES: the rest of this line is dropped

    def data_received(self, data: bytes) -> None:
        """Emit every complete code; keep the rest."""
        for byte in data:
            if byte in (0x0D, 0x0A):
                if self._buffer:
                    self._flush()
                self._skipping = False
                continue
            if self._skipping:
                continue
            self._buffer.append(byte)
            if len(self._buffer) >= MAX_CODE_BYTES:
                # Too long to be a code: handed on to be refused, and its tail skipped, so
                # the tail can never pass for a short code of its own.
                self._flush()
                self._skipping = True

    def _flush(self) -> None:
        # Non-ASCII bytes become U+FFFD, which the validator refuses: never silently dropped.
        code = self._buffer.decode("ascii", "replace")
        self._buffer.clear()
        self._emit(code)

    def connection_lost(self, exc: Exception | None) -> None:
        """The port closed or vanished (the cable was pulled)."""
        if not self._closed.done():
            self._closed.set_result(exc)


class SerialReader:
    """A reader on a serial port or ``socket://`` URL, reopened with backoff after a loss."""

    def __init__(
        self, name: str, port: str, baudrate: int = 9600, backoff_first: float = BACKOFF_FIRST_S
    ) -> None:
        self.name = name
        self.port = port
        self.baudrate = baudrate
        self.backoff_first = backoff_first
        self.opened = 0  # successful opens, for tests and status

    async def run(self, emit: Emit) -> None:
        """Read codes until cancelled; an unplugged reader is waited for, then reopened."""
        delay = self.backoff_first
        complaint = ""
        while True:
            closed: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
            try:
                transport = await open_port(self.port, self.baudrate, CodeSplitter(emit, closed))
            except OSError as err:
                reason = describe(err, self.port)
                if reason != complaint:  # the same failure again and again is said once
                    log.warning("%s: cannot open: %s; retrying", self.name, reason)
                    complaint = reason
                await asyncio.sleep(delay)
                delay = next_backoff(delay)
                continue
            self.opened += 1
            _discard_stale_input(transport)
            log.info("%s: reading codes from %s", self.name, self.port)
            complaint, delay = "", self.backoff_first
            try:
                exc = await closed
            finally:
                transport.close()
            log.warning("%s: %s closed (%s); reopening", self.name, self.port, exc or "end of data")
            await asyncio.sleep(delay)


def _discard_stale_input(transport: asyncio.Transport) -> None:
    """Drop bytes that waited in the port before we opened it: a scan nobody saw happen."""
    device = transport.get_extra_info("serial")
    if device is not None and hasattr(device, "reset_input_buffer"):
        try:
            device.reset_input_buffer()
        except OSError as err:  # a socket:// port has nothing to flush
            log.debug("could not flush the reader's input: %s", err)

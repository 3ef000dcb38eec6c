"""The main loop on the chip, kept thin: bytes in, lines to core, frames out, watchdog fed.

main() is what main.py calls: board file, outputs off, link, core, loop. If anything raises,
every output is switched off and the chip resets (after writing the traceback to crash.txt
for the installer), so a fault ends in the power-up state: everything locked, a new boot id.
"""

import gc

from lk.core import Core
from lk.frame import MAX_LINE
from lk.ticks import sleep_ms, ticks_diff, ticks_ms

IDLE_MS = 2  # sleep when nothing arrived: inputs are still sampled every few ms
GC_MS = 1000  # collect garbage at a steady pace rather than whenever the heap runs out
SAFE_MODE_PIN = 0  # the BOOT button of most ESP32 boards: held at start-up, no firmware


class Lines:
    """Splits received bytes into lines (without `\\n`); a line longer than `limit` is dropped
    whole, however it arrives: feed() gives None in its place, once."""

    def __init__(self, limit=MAX_LINE + 1):  # +1: room for a "\r" before the "\n"
        self.limit = limit
        self._buf = b""
        self._skipping = False  # inside an over-long line: drop up to its end

    def feed(self, data):
        buf = self._buf + data
        out = []
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end < 0:
                break
            if self._skipping:
                self._skipping = False
            else:
                out.append(buf[start:end] if end - start <= self.limit else None)
            start = end + 1
        rest = buf[start:]
        if len(rest) > self.limit:
            if not self._skipping:
                out.append(None)
                self._skipping = True
            rest = b""
        self._buf = rest
        return out


def urandom32():
    """32 random bits from the chip's hardware generator."""
    try:
        from os import urandom
    except ImportError:
        from uos import urandom
    return int.from_bytes(urandom(4), "big")


def run(board, machine, port, io, core_factory=Core, rand32=urandom32, loops=None, clock=ticks_ms):
    """Power up a core on `io` and serve `port` forever (or for `loops` passes, for tests).
    Returns the core. The caller has already switched every output off."""
    core = core_factory(board, io, rand32)
    wdt = machine.WDT(timeout=board.wdt_ms) if hasattr(machine, "WDT") else None
    lines = Lines()
    port.write(b"".join(core.power_up(clock())))
    collected = clock()
    while loops is None or loops > 0:
        if loops is not None:
            loops -= 1
        now = clock()
        data = port.read()
        out = []
        if data:
            for line in lines.feed(data):
                if line is None:
                    core.drop("too_long")
                else:
                    out.extend(core.receive(line, now))
        out.extend(core.poll(now))
        if out:
            port.write(b"".join(out))
        if wdt is not None:
            wdt.feed()
        if ticks_diff(now, collected) >= GC_MS:
            collected = now
            gc.collect()
        if not data:
            sleep_ms(IDLE_MS)
    return core


def _safe_mode(machine, board):
    """True if the BOOT button is held: the firmware then leaves the REPL to the installer
    (the console link ignores Ctrl-C). Not checked when the board wires that GPIO."""
    from lk.board import GPIO, code

    pins = board.keys + board.doors + board.locks + [board.buzzer]
    if code(GPIO, SAFE_MODE_PIN, False) in pins or code(GPIO, SAFE_MODE_PIN, True) in pins:
        return False
    pin = machine.Pin(SAFE_MODE_PIN, machine.Pin.IN, machine.Pin.PULL_UP)
    return pin.value() == 0


def main(path="board.json"):
    import machine

    from lk.board import load
    from lk.hw import BoardIO
    from lk.port import open_port

    board = load(path)  # a BoardError stops here, before any pin is touched
    if _safe_mode(machine, board):
        return
    io = BoardIO(board, machine)  # every output is created at its off level
    try:
        io.all_off()
        run(board, machine, open_port(board, machine), io)
    except Exception as e:  # noqa: BLE001 - anything at all ends in the power-up state
        io.all_off()
        _crash_log(e)
        machine.reset()
    finally:
        io.all_off()  # also on KeyboardInterrupt (UART links keep Ctrl-C on the REPL)


def _crash_log(error):
    import sys

    try:
        with open("crash.txt", "w") as f:
            sys.print_exception(error, f)
    except Exception:  # noqa: BLE001, S110 - the reset matters more than the log
        pass

"""The cabinet's hardware as core sees it: BoardIO builds pins and expanders from the board file.

`machine` is passed in (main passes the real module, tests a fake), so this file imports
nothing from the chip. Active-low is handled here: everything above speaks of keys present,
doors open and outputs energised.

The interface core uses (a test fake needs only the first five):
  keys() -> list of bools, index 1..N (index 0 unused): key present, as of the last sample
  doors() -> dict slot -> bool (slot 0 = the shared door): door open, as of the last sample
  drive(slot, energised) -> None, or raises HwError(slot) (slot 0 = the shared door's lock)
  all_off() -> every output off, best effort, never raises
  buzz(on) -> None or HwError (no buzzer: does nothing)
  sample() -> read every input now (one 2-byte read per expander); core calls it first
  faults() -> [(code, slot or None)] since the last call: ("expander", None) once per outage

An expander that stops answering keeps its inputs' last values (so no false events), is
reported once, and is set up again from its shadow as soon as it answers; every expander is
also set up again every REFRESH_MS, in case it reset by itself (a brown-out from a solenoid)
and lost its directions and pull-ups while still answering.
"""

from lk import HwError
from lk.board import GPIO, unpack
from lk.mcp23017 import MCP23017
from lk.ticks import ticks_diff, ticks_ms

RETRY_MS = 1000  # how often a silent expander is tried again
REFRESH_MS = 5000  # how often a working expander is set up again
_NONE = 255  # table entry: a GPIO, not an expander
_UP = 1
_DOWN = 2


def _table(pins):
    """Pin codes as three bytearrays (expander or _NONE for a GPIO, number, active-low): the
    per-poll scan then does no unpacking."""
    src, num, inv = bytearray(len(pins)), bytearray(len(pins)), bytearray(len(pins))
    for i, pin in enumerate(pins):
        if pin is not None:
            exp, num[i], low = unpack(pin)
            src[i] = _NONE if exp == GPIO else exp
            inv[i] = 1 if low else 0
    return src, num, inv


class BoardIO:
    def __init__(self, board, machine, clock=ticks_ms):
        self.board = board
        self._clock = clock
        Pin = machine.Pin
        n = board.slots
        count = len(board.expanders)
        inputs = [0xFFFF] * count
        pullups = [0] * count
        olat = [0] * count
        self._gpio = {}
        outputs = [p for p in board.locks if p is not None]
        if board.buzzer is not None:
            outputs.append(board.buzzer)
        # Outputs first, each at its off level before it becomes an output.
        for pin in outputs:
            exp, number, low = unpack(pin)
            if exp == GPIO:
                try:
                    self._gpio[number] = Pin(number, Pin.OUT, value=1 if low else 0)
                except TypeError:  # a Pin without value=: set it right after
                    self._gpio[number] = Pin(number, Pin.OUT)
                    self._gpio[number].value(1 if low else 0)
            else:
                inputs[exp] &= ~(1 << number)
                if low:
                    olat[exp] |= 1 << number
        for pin in board.keys + board.doors:
            if pin is None:
                continue
            exp, number, low = unpack(pin)
            if exp == GPIO:
                self._gpio[number] = (
                    Pin(number, Pin.IN, Pin.PULL_UP) if low else Pin(number, Pin.IN)
                )
            elif low:
                pullups[exp] |= 1 << number
        self._exp = []
        self._ok = bytearray(count)  # per expander: 0 not set up yet, _UP, _DOWN
        self._cache = [0] * count  # last pin levels read from each expander
        self._pending = []  # faults not yet taken by faults()
        self._retry_at = [0] * count
        self._refresh_at = clock()
        if count:
            cfg = board.i2c
            i2c = machine.I2C(cfg["id"], scl=Pin(cfg["scl"]), sda=Pin(cfg["sda"]), freq=cfg["freq"])
            for k in range(count):
                chip = MCP23017(i2c, board.expanders[k], inputs[k], pullups[k], olat[k])
                # Until the first read the inputs read inactive (no key, door closed):
                # active-low inputs, exactly those with a pull-up, high; the others low.
                self._cache[k] = pullups[k]
                self._exp.append(chip)
                self._setup(k)
        self._keys = [False] * (n + 1)
        self._key_pins = _table(board.keys)
        self._door_slots = [s for s in range(n + 1) if board.doors[s] is not None]
        self._door_pins = _table(board.doors)
        self._doors = {}
        self.sample()

    # ---- expanders ----------------------------------------------------------------------------

    def _setup(self, k):
        try:
            self._exp[k].setup()
        except OSError:
            self._down(k)
            return False
        self._ok[k] = _UP
        return True

    def _down(self, k):
        if self._ok[k] != _DOWN:
            self._pending.append(("expander", None))  # once per outage
        self._ok[k] = _DOWN
        self._retry_at[k] = self._clock()

    def faults(self):
        pending, self._pending = self._pending, []
        return pending

    # ---- inputs -------------------------------------------------------------------------------

    def sample(self):
        now = self._clock()
        refresh = ticks_diff(now, self._refresh_at) >= REFRESH_MS
        if refresh:
            self._refresh_at = now
        for k in range(len(self._exp)):
            if self._ok[k] != _UP:
                if ticks_diff(now, self._retry_at[k]) < RETRY_MS or not self._setup(k):
                    continue
            elif refresh and not self._setup(k):
                continue
            try:
                self._cache[k] = self._exp[k].read()
            except OSError:
                self._down(k)
        self._scan(self._key_pins, range(1, self.board.slots + 1), self._keys)
        self._scan(self._door_pins, self._door_slots, self._doors)

    def _scan(self, pins, slots, into):
        src, num, inv = pins
        cache = self._cache
        gpio = self._gpio
        for s in slots:
            e = src[s]
            level = gpio[num[s]].value() if e == _NONE else (cache[e] >> num[s]) & 1
            into[s] = (level ^ inv[s]) == 1

    def keys(self):
        return self._keys  # the same list every time, refreshed in place by sample()

    def doors(self):
        return self._doors

    # ---- outputs ------------------------------------------------------------------------------

    def _set(self, pin, on, slot):
        exp, number, low = unpack(pin)
        level = 1 if on != low else 0
        if exp == GPIO:
            self._gpio[number].value(level)
            return
        chip = self._exp[exp]
        old = chip.olat
        chip.olat = old | (1 << number) if level else old & ~(1 << number)
        try:
            if self._ok[exp] == _UP:
                chip.write(chip.olat)
            elif not self._setup(exp):  # it may have reset: directions too, not just the latch
                raise OSError("expander down")
        except OSError:
            if on:
                chip.olat = old  # must not come on by itself when the expander answers again
            self._down(exp)
            raise HwError(slot) from None

    def drive(self, slot, energised):
        pin = self.board.locks[slot] if 0 <= slot <= self.board.slots else None
        if pin is None:
            raise HwError(slot) from None
        self._set(pin, energised, slot)

    def buzz(self, on):
        if self.board.buzzer is not None:
            self._set(self.board.buzzer, on, None)

    def all_off(self):
        for pin in self.board.locks + [self.board.buzzer]:
            if pin is not None:
                try:
                    self._set(pin, False, None)
                except HwError:
                    pass  # the shadow holds "off": the expander gets it when it answers

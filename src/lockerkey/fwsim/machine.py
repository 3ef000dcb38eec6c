"""A fake MicroPython ``machine`` module (and ``micropython``) for running the firmware in CPython.

``FakeMachine()`` is one ESP32: its GPIOs, its I²C buses with emulated MCP23017 expanders
(``mcp23017.py``), a watchdog and ``reset``. The firmware gets it as the ``machine`` it is
handed (``lk.hw.BoardIO(board, machine)``) and, while it runs, as ``sys.modules["machine"]``
(``installed``). The harness plays the physical world through the same object: it drives
input levels (``gpio.drive``, ``MCP23017.drive``) and reads output levels (``gpio.output``).

Levels on the wire: an input driven by the world reads that level; an open input reads 1 with
its pull-up and 0 without one (a choice: a real floating input reads anything).
Time: the harness sets ``now_ms`` before every call into the firmware; the watchdog uses it.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from lockerkey.fwsim.mcp23017 import I2C, MCP23017, I2CBus

log = logging.getLogger(__name__)


# The ESP32's GPIOs (no 20, 24, 28..31); 34..39 are inputs only.
ESP32_GPIOS = frozenset({*range(20), 21, 22, 23, 25, 26, 27, *range(32, 40)})
INPUT_ONLY = frozenset(range(34, 40))


class Reset(Exception):
    """``machine.reset()`` was called: the harness turns it into a power-up."""


class GPIOBank:
    """The ESP32's GPIOs as the world sees them: modes, pull-ups, latches, outside levels."""

    def __init__(self) -> None:
        self.modes: dict[int, int] = {}  # pin -> Pin.IN / Pin.OUT, once the firmware set it
        self.pulls: dict[int, int | None] = {}
        self.latch: dict[int, bool] = {}  # what an output drives
        self.external: dict[int, bool | None] = {}  # what the world drives on an input
        self.failed: set[int] = set()  # outputs whose driver is broken: writes raise EIO
        self.writes = 0
        self.on_change: Callable[[], None] | None = None  # after every output write

    def reset(self) -> None:
        """A chip reset: every pin back to an undriven input without pull."""
        self.modes.clear()
        self.pulls.clear()
        self.latch.clear()
        if self.on_change is not None:
            self.on_change()

    def drive(self, pin: int, level: bool | None) -> None:
        """The world drives an input high or low, or leaves it open (None)."""
        self.external[pin] = level

    def output(self, pin: int) -> bool:
        """The level an output drives (False for a pin that is not an output)."""
        return self.modes.get(pin) == Pin.OUT and self.latch.get(pin, False)

    def level(self, pin: int) -> bool:
        """The level on the wire at pin."""
        if self.modes.get(pin) == Pin.OUT:
            return self.latch.get(pin, False)
        driven = self.external.get(pin)
        if driven is not None:
            return driven
        return self.pulls.get(pin) == Pin.PULL_UP


class Pin:
    """``machine.Pin`` on a ``GPIOBank`` (each FakeMachine has its own subclass)."""

    IN: ClassVar[int] = 1
    OUT: ClassVar[int] = 3
    OPEN_DRAIN: ClassVar[int] = 7
    PULL_UP: ClassVar[int] = 1
    PULL_DOWN: ClassVar[int] = 2
    bank: ClassVar[GPIOBank]

    def __init__(
        self, id: int, mode: int = -1, pull: int | None = -1, *, value: int | None = None
    ) -> None:
        if not isinstance(id, int) or id not in ESP32_GPIOS:
            raise ValueError(f"invalid pin {id!r}")
        self.id = id
        self.init(mode, pull, value=value)

    def init(self, mode: int = -1, pull: int | None = -1, *, value: int | None = None) -> None:
        """Set the mode, pull and initial output level (-1: unchanged)."""
        if mode not in (-1, self.IN, self.OUT, self.OPEN_DRAIN):
            raise ValueError(f"invalid pin mode {mode!r}")
        if mode in (self.OUT, self.OPEN_DRAIN) and self.id in INPUT_ONLY:
            raise ValueError(f"invalid pin for output: GPIO {self.id} is input-only")
        if pull not in (-1, None, self.PULL_UP, self.PULL_DOWN):
            raise ValueError(f"invalid pull {pull!r}")
        if value is not None:
            self._set(bool(value))
        if pull != -1:
            self.bank.pulls[self.id] = pull
        if mode != -1:
            self.bank.modes[self.id] = mode
            if self.bank.on_change is not None:
                self.bank.on_change()  # an output comes up at its latched level

    def value(self, v: Any = None) -> int | None:
        """Read the pin's level, or (with v) set its output latch."""
        if v is None:
            return int(self.bank.level(self.id))
        self._set(bool(v))
        return None

    __call__ = value

    def on(self) -> None:
        """Drive high."""
        self._set(True)

    def off(self) -> None:
        """Drive low."""
        self._set(False)

    def _set(self, level: bool) -> None:
        self.bank.writes += 1
        if self.id in self.bank.failed:
            raise OSError(errno.EIO, f"GPIO {self.id}: output driver fault")
        self.bank.latch[self.id] = level
        if self.bank.on_change is not None:
            self.bank.on_change()

    def __repr__(self) -> str:
        return f"Pin({self.id})"


class WDT:
    """``machine.WDT``: the harness checks it is fed in time (``FakeMachine.check_watchdog``)."""

    owner: ClassVar[FakeMachine]

    def __init__(self, id: int = 0, timeout: int = 5000) -> None:
        if timeout <= 0:
            raise ValueError("WDT timeout must be positive")
        self.timeout = timeout
        self.owner.watchdog = self
        self.last_feed = self.owner.now_ms
        self.feeds = 0

    def feed(self) -> None:
        """Feed it now."""
        self.owner.check_watchdog()
        self.feeds += 1
        self.last_feed = self.owner.now_ms


class FakeMachine:
    """One simulated ESP32, usable as the ``machine`` module."""

    PWRON_RESET, HARD_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 2, 3, 4, 5

    def __init__(self, uid: bytes = b"\x24\x6f\x28\x01\x02\x03") -> None:
        self.gpio = GPIOBank()
        self.buses: dict[int, I2CBus] = {}
        self.now_ms = 0
        self.watchdog: WDT | None = None
        self.starved = 0  # times the watchdog went unfed past its timeout: a firmware bug
        self.starvations: list[str] = []
        self._uid = uid
        self.reset_cause_value = self.PWRON_RESET
        self.micropython = micropython_module()  # the firmware's ``import micropython``
        machine = self
        bank = self.gpio

        class BoundPin(Pin):
            pass

        class BoundWDT(WDT):
            owner = machine

        buses = self.buses

        class BoundI2C(I2C):
            def __init__(self, id: int = 0, **kwargs: Any) -> None:
                super().__init__(id, **kwargs)
                self.bus = buses.setdefault(id, I2CBus())

        BoundPin.bank = bank
        self.Pin: type[Pin] = BoundPin
        self.WDT: type[WDT] = BoundWDT
        self.I2C: type[I2C] = BoundI2C

    def add_expander(self, bus: int, address: int) -> MCP23017:
        """Put an MCP23017 on I²C bus ``bus`` at ``address``."""
        device = MCP23017(address)
        self.buses.setdefault(bus, I2CBus()).devices[address] = device
        return device

    def expander(self, bus: int, address: int) -> MCP23017:
        """The expander at address on bus."""
        return self.buses[bus].devices[address]

    def check_watchdog(self) -> None:
        """Count a starvation if the watchdog is overdue at now_ms (once per lapse)."""
        dog = self.watchdog
        if dog is None or self.now_ms - dog.last_feed <= dog.timeout:
            return
        self.starved += 1
        self.starvations.append(
            f"watchdog not fed for {self.now_ms - dog.last_feed} ms (timeout {dog.timeout} ms)"
            f" at {self.now_ms} ms"
        )
        log.error("firmware starved the watchdog: %s", self.starvations[-1])
        dog.last_feed = self.now_ms  # a real one would have reset the board here

    # -- the module-level functions ---------------------------------------------------------

    def reset(self) -> None:
        """``machine.reset()``."""
        self.reset_cause_value = self.HARD_RESET
        raise Reset

    def soft_reset(self) -> None:
        """``machine.soft_reset()``."""
        self.reset_cause_value = self.SOFT_RESET
        raise Reset

    def reset_cause(self) -> int:
        """``machine.reset_cause()``."""
        return self.reset_cause_value

    def unique_id(self) -> bytes:
        """``machine.unique_id()``: the MAC address on an ESP32."""
        return self._uid

    def freq(self, hz: int | None = None) -> int | None:
        """``machine.freq()``: 240 MHz."""
        return 240_000_000 if hz is None else None

    def idle(self) -> None:
        """``machine.idle()``: nothing to wait for here."""


def micropython_module() -> types.ModuleType:
    """A ``micropython`` module with what the firmware may use: const, kbd_intr, native..."""
    module = types.ModuleType("micropython")

    def identity(x: Any) -> Any:
        return x

    def noop(*_args: Any, **_kwargs: Any) -> None:
        return None

    namespace: dict[str, Callable[..., Any]] = {
        "const": identity,
        "native": identity,
        "viper": identity,
        "kbd_intr": noop,
        "opt_level": noop,
        "alloc_emergency_exception_buf": noop,
        "mem_info": noop,
        "schedule": lambda func, arg: func(arg),
    }
    for name, func in namespace.items():
        setattr(module, name, func)
    return module


@contextlib.contextmanager
def installed(machine: FakeMachine) -> Iterator[None]:
    """``machine`` (and ``micropython``) in sys.modules while the firmware runs, then back."""
    names = ("machine", "micropython")
    saved = {name: sys.modules.get(name) for name in names}
    sys.modules["machine"] = machine  # type: ignore[assignment]
    sys.modules["micropython"] = machine.micropython
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module

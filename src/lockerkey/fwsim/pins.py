"""Board pins on a FakeMachine: what the physical model drives and watches.

The firmware parses pin names (``"gpio:N"``, ``"xK.P"``, ``!`` for active-low) itself; a
``PinRef`` is its result in typed form. ``PinIO`` reads and drives those pins in their board
meaning (a sensor active or not, an output energised or not).
"""

from __future__ import annotations

from dataclasses import dataclass

from lockerkey.fwsim.machine import FakeMachine
from lockerkey.fwsim.mcp23017 import MCP23017


@dataclass(frozen=True)
class PinRef:
    """A GPIO (expander None) or pin 0..15 of the board's K-th expander, and its polarity."""

    expander: int | None  # index into the board's "expanders"
    number: int  # GPIO number or expander pin
    active_low: bool

    def __str__(self) -> str:
        low = "!" if self.active_low else ""
        if self.expander is None:
            return f"{low}gpio:{self.number}"
        return f"{low}x{self.expander}.{self.number}"


class PinIO:
    """Reads and drives board pins on a FakeMachine (expanders on I²C bus ``bus``)."""

    def __init__(self, machine: FakeMachine, bus: int, addresses: tuple[int, ...]) -> None:
        self.machine = machine
        self.bus = bus
        self.addresses = addresses

    def expander(self, ref: PinRef) -> MCP23017:
        """The emulated chip behind an expander pin."""
        assert ref.expander is not None
        return self.machine.expander(self.bus, self.addresses[ref.expander])

    def set_input(self, ref: PinRef, active: bool) -> None:
        """The sensor at an input. An active-high sensor drives both levels; an active-low one
        (a switch to ground) pulls the line low when active and leaves it open otherwise, so
        only the pull-up the firmware must switch on makes it read 1."""
        level: bool | None = (False if active else None) if ref.active_low else active
        if ref.expander is None:
            self.machine.gpio.drive(ref.number, level)
        else:
            self.expander(ref).drive(ref.number, level)

    def energised(self, ref: PinRef) -> bool:
        """Whether an output is driven at its active level. A pin not yet an output is not,
        nor a faulty one (its driver is dead), nor one on an unpowered expander."""
        if self.failed(ref):
            return False
        if ref.expander is None:
            bank = self.machine.gpio
            if bank.modes.get(ref.number) != self.machine.Pin.OUT:
                return False
            return bank.latch.get(ref.number, False) != ref.active_low
        chip = self.expander(ref)
        if not chip.powered or not chip.is_output(ref.number):
            return False
        return chip.level(ref.number) != ref.active_low

    def reachable(self, ref: PinRef) -> bool:
        """Whether the firmware can write the output now (its expander answers)."""
        return ref.expander is None or self.expander(ref).present

    def failed(self, ref: PinRef) -> bool:
        """Whether the output's driver is broken (``fail``)."""
        where = self.machine.gpio.failed if ref.expander is None else self.expander(ref).failed
        return ref.number in where

    def fail(self, ref: PinRef, failed: bool) -> None:
        """Break (or mend) an output's driver: it goes dead, and writes raise OSError(EIO)."""
        where = self.machine.gpio.failed if ref.expander is None else self.expander(ref).failed
        if failed:
            where.add(ref.number)
        else:
            where.discard(ref.number)

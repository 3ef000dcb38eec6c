"""A fake I²C bus with emulated MCP23017 port expanders, as MicroPython's ``machine.I2C`` sees it.

Only the register file that matters to the firmware is modelled, in the power-on layout
(IOCON.BANK = 0): IODIRA/B 0x00/0x01 (1 = input, power-on 0xFF), IPOLA/B 0x02/0x03, IOCON
0x0A/0x0B, GPPUA/B 0x0C/0x0D (pull-ups), GPIOA/B 0x12/0x13 and OLATA/B 0x14/0x15. Reading GPIO
gives the pin levels: the wire's level for an input bit (a driven level, else 1 with the
pull-up, else 0), the latch for an output bit. Writing GPIO or OLAT writes the latch. Multi-byte
accesses step through the registers as the chip does (sequential mode, wrapping after 0x15).
Interrupt registers are stored and otherwise ignored.

A device can be pulled off the bus (``present = False``: every access raises
``OSError(ENODEV)``, as a chip that does not acknowledge its address does), with or without
losing power (``powered``: an unpowered chip drives nothing; ``power_on()`` is what it comes
back with). A pin can be made faulty (``failed``): the chip's latch writes
then fail with ``OSError(EIO)``. The whole write fails, since the firmware writes both latches
in one transfer: an I²C error is all a controller can notice of a broken output stage.

``on_change`` (if set) is called after every write, so the physical model sees every output
level the firmware sets, also one that lasts only within a single call.
"""

from __future__ import annotations

import errno
from collections.abc import Callable

IODIR, IPOL, IOCON, GPPU, GPIO, OLAT = 0x00, 0x02, 0x0A, 0x0C, 0x12, 0x14
REGISTERS = 0x16
BANK_BIT = 0x80


class MCP23017:
    """One expander: its register file and the levels on its 16 pins (0..7 GPA, 8..15 GPB)."""

    def __init__(self, address: int) -> None:
        self.address = address
        self.present = True  # answers on the bus
        self.powered = True  # drives its outputs
        self.regs = bytearray(REGISTERS)
        self.external: dict[int, bool | None] = {}  # pin -> level driven from outside
        self.failed: set[int] = set()  # pins whose output driver is broken
        self.on_change: Callable[[], None] | None = None
        self.writes = 0
        self.power_on()

    def power_on(self) -> None:
        """The power-on register state: every pin an input, no pull-ups, latches 0."""
        self.regs[:] = bytes(REGISTERS)
        self.regs[IODIR] = self.regs[IODIR + 1] = 0xFF

    # -- the physical side ------------------------------------------------------------------

    def _bit(self, base: int, pin: int) -> bool:
        return bool(self.regs[base + pin // 8] >> (pin % 8) & 1)

    def is_output(self, pin: int) -> bool:
        """Whether the pin is configured as an output (its IODIR bit is 0)."""
        return not self._bit(IODIR, pin)

    def pulled_up(self, pin: int) -> bool:
        """Whether the pin's internal pull-up is on."""
        return self._bit(GPPU, pin)

    def output(self, pin: int) -> bool:
        """The level the chip drives on pin: its latch if it is an output, else low (undriven)."""
        return self.is_output(pin) and self._bit(OLAT, pin)

    def drive(self, pin: int, level: bool | None) -> None:
        """The world drives an input pin high or low, or leaves it open (None)."""
        self.external[pin] = level

    def level(self, pin: int) -> bool:
        """The level on the wire at pin, as the chip's input buffer sees it."""
        if self.is_output(pin):
            return self._bit(OLAT, pin)
        driven = self.external.get(pin)
        return self.pulled_up(pin) if driven is None else driven

    # -- the bus side -----------------------------------------------------------------------

    def read(self, reg: int, count: int) -> bytes:
        """Registers reg.. as a read of count bytes returns them."""
        self._check_present()
        out = bytearray()
        for i in range(count):
            out.append(self._read_one((reg + i) % REGISTERS))
        return bytes(out)

    def write(self, reg: int, data: bytes) -> None:
        """A write of data starting at register reg."""
        self._check_present()
        targets = [(reg + i) % REGISTERS for i in range(len(data))]
        if self.failed and any(GPIO <= r < OLAT + 2 for r in targets):
            raise OSError(errno.EIO, f"expander 0x{self.address:02x}: output driver fault")
        for target, value in zip(targets, data, strict=True):
            self._write_one(target, value)
        self.writes += 1
        if self.on_change is not None:
            self.on_change()

    def _read_one(self, reg: int) -> int:
        if reg in (GPIO, GPIO + 1):
            port = reg - GPIO
            value = 0
            for bit in range(8):
                pin = port * 8 + bit
                level = self.level(pin)
                if not self.is_output(pin) and self._bit(IPOL, pin):
                    level = not level
                value |= int(level) << bit
            return value
        return self.regs[reg]

    def _write_one(self, reg: int, value: int) -> None:
        if reg in (IOCON, IOCON + 1) and value & BANK_BIT:
            raise NotImplementedError("the fake MCP23017 models IOCON.BANK = 0 only")
        if reg in (GPIO, GPIO + 1):
            reg += OLAT - GPIO  # a write to GPIO writes the output latch
        self.regs[reg] = value & 0xFF
        if reg in (IOCON, IOCON + 1):
            self.regs[IOCON] = self.regs[IOCON + 1] = value & 0xFF  # one register, two addresses

    def _check_present(self) -> None:
        if not self.present:
            raise OSError(errno.ENODEV, f"no device at 0x{self.address:02x}")


class I2CBus:
    """The devices on one I²C bus, by address."""

    def __init__(self) -> None:
        self.devices: dict[int, MCP23017] = {}

    def device(self, addr: int) -> MCP23017:
        """The present device at addr, or OSError(ENODEV) as a NACK gives on MicroPython."""
        found = self.devices.get(addr)
        if found is None or not found.present:
            raise OSError(errno.ENODEV, f"no device at 0x{addr:02x}")
        return found


class I2C:
    """``machine.I2C`` over an ``I2CBus`` (the subset the firmware may use)."""

    bus: I2CBus  # set by FakeMachine on its subclass

    def __init__(
        self,
        id: int = 0,
        *,
        scl: object = None,
        sda: object = None,
        freq: int = 400_000,
        timeout: int = 50_000,
    ) -> None:
        self.id = id
        self.scl, self.sda, self.freq, self.timeout = scl, sda, freq, timeout

    def scan(self) -> list[int]:
        """The addresses that acknowledge."""
        return sorted(a for a, d in self.bus.devices.items() if d.present)

    def writeto_mem(self, addr: int, memaddr: int, buf: bytes, *, addrsize: int = 8) -> None:
        """Write buf to registers starting at memaddr."""
        self._check_addrsize(addrsize)
        self.bus.device(addr).write(memaddr, bytes(buf))

    def readfrom_mem(self, addr: int, memaddr: int, nbytes: int, *, addrsize: int = 8) -> bytes:
        """Read nbytes from registers starting at memaddr."""
        self._check_addrsize(addrsize)
        return self.bus.device(addr).read(memaddr, nbytes)

    def readfrom_mem_into(
        self, addr: int, memaddr: int, buf: bytearray, *, addrsize: int = 8
    ) -> None:
        """Read len(buf) bytes from registers starting at memaddr into buf."""
        buf[:] = self.readfrom_mem(addr, memaddr, len(buf), addrsize=addrsize)

    def writeto(self, addr: int, buf: bytes, stop: bool = True) -> int:
        """A plain write: the first byte selects the register, the rest are written."""
        data = bytes(buf)
        device = self.bus.device(addr)
        if len(data) > 1:
            device.write(data[0], data[1:])
        return len(data)

    @staticmethod
    def _check_addrsize(addrsize: int) -> None:
        if addrsize != 8:
            raise ValueError("the MCP23017 has 8-bit register addresses")

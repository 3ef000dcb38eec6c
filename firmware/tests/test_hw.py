# lk.hw.BoardIO and lk.mcp23017 under MicroPython, with a minimal fake `machine`.
import mptest
from mptest import eq, ok, raises

from fakes import board
from lk import HwError
from lk.board import parse
from lk.hw import BoardIO


class FakeI2C:
    """MCP23017s at the given addresses: 16-bit registers, pin levels set by the test."""

    def __init__(self, bus_id, scl=None, sda=None, freq=None):
        self.regs = {}
        self.levels = {}  # address -> 16-bit pin levels read from GPIOA/B
        self.dead = set()  # addresses that do not answer
        self.log = []
        FakeMachine.i2c = self

    def writeto_mem(self, addr, reg, buf):
        if addr in self.dead:
            raise OSError(19)
        eq(len(buf), 2)
        self.regs[(addr, reg)] = buf[0] | (buf[1] << 8)
        self.log.append((addr, reg, buf[0] | (buf[1] << 8)))

    def readfrom_mem(self, addr, reg, n):
        if addr in self.dead:
            raise OSError(19)
        eq(n, 2)
        if reg == 0x12:
            v = self.levels.get(addr, 0xFFFF)
        else:  # a configuration register: as written, else its power-on value
            v = self.regs.get((addr, reg), 0xFFFF if reg in (0x00, 0x01) else 0)
        return bytes((v & 0xFF, v >> 8))

    def brown_out(self, addr):
        """The chip resets to its power-on registers but goes on answering."""
        for key in [k for k in self.regs if k[0] == addr]:
            del self.regs[key]


class FakePin:
    IN = 1
    OUT = 3
    PULL_UP = 2

    def __init__(self, number, mode=None, pull=None, value=None):
        self.number = number
        self.mode = mode
        self.pull = pull
        self.level = 0 if value is None else value
        FakeMachine.pins[number] = self

    def value(self, v=None):
        if v is None:
            return self.level
        self.level = v


class FakeMachine:
    Pin = FakePin
    I2C = FakeI2C
    pins = {}
    i2c = None


def _io(**kw):
    FakeMachine.pins = {}
    data = board(**kw)
    return BoardIO(parse(data), FakeMachine), FakeMachine.i2c


def test_setup_writes_latch_pullups_directions():
    io, i2c = _io(doors=True)
    # expander 0 (32): keys x0.0-3 active-low inputs with pull-ups
    eq(i2c.regs[(32, 0x0C)], 0x000F)
    eq(i2c.regs[(32, 0x00)], 0xFFFF)
    # expander 1 (33): locks x1.0-3 outputs, latched off
    eq(i2c.regs[(33, 0x00)], 0xFFF0)
    eq(i2c.regs[(33, 0x14)], 0x0000)
    # the latch is written before the directions
    order = [reg for addr, reg, _ in i2c.log if addr == 33]
    ok(order.index(0x14) < order.index(0x00), repr(order))


def test_active_low_inputs_read_as_present_or_open():
    io, i2c = _io(doors=True)
    eq(io.keys()[1:], [False, False, False, False])
    eq(io.doors(), {1: False, 2: False, 3: False, 4: False})
    i2c.levels[32] = 0xFFFF & ~(1 << 1)  # x0.1 pulled low: slot 2's key present
    i2c.levels[34] = 0xFFFF & ~(1 << 3)  # x2.3 low: slot 4's door open
    io.sample()
    eq(io.keys()[1:], [False, True, False, False])
    eq(io.doors()[4], True)


def test_an_expander_that_reset_by_itself_is_set_up_before_its_inputs_are_read():
    io, i2c = _io(doors=True)
    io.drive(2, True)
    i2c.brown_out(32)  # the keys' expander: pull-ups gone
    i2c.brown_out(33)  # the locks' expander: outputs back to inputs, latch cleared
    io.sample()
    eq(i2c.regs[(32, 0x0C)], 0x000F)  # pull-ups back before the pins were read
    eq(i2c.regs[(33, 0x00)], 0xFFF0)
    eq(i2c.regs[(33, 0x14)], 0b0010)  # the latch as the firmware left it
    eq(io.keys()[1:], [False, False, False, False])


def test_drive_sets_one_latch_bit():
    io, i2c = _io()
    io.drive(3, True)
    eq(i2c.regs[(33, 0x14)], 0b0100)
    io.drive(1, True)
    eq(i2c.regs[(33, 0x14)], 0b0101)
    io.drive(3, False)
    eq(i2c.regs[(33, 0x14)], 0b0001)
    io.all_off()
    eq(i2c.regs[(33, 0x14)], 0)


def test_gpio_outputs_and_active_low():
    FakeMachine.pins = {}
    data = board(kind="shared_door", doors=True, buzzer=True)
    data["door"]["lock"] = "!gpio:25"
    io = BoardIO(parse(data), FakeMachine)
    door = FakeMachine.pins[25]
    eq((door.mode, door.level), (FakePin.OUT, 1))  # created at its off level (high)
    io.drive(0, True)
    eq(door.level, 0)
    sensor = FakeMachine.pins[26]
    eq(sensor.pull, FakePin.PULL_UP)
    sensor.level = 0
    io.sample()
    eq(io.doors()[0], True)
    io.buzz(True)
    eq(FakeMachine.pins[27].level, 1)
    raises(HwError, io.drive, 1, True)  # no lock at slot 1 in a shared-door cabinet


def test_a_dead_expander_is_a_hw_error_and_one_fault():
    io, i2c = _io()
    i2c.dead.add(33)
    e = raises(HwError, io.drive, 2, True)
    eq(e.slot, 2)
    raises(HwError, io.drive, 2, True)
    eq(io.faults(), [("expander", None)])
    eq(io.faults(), [])
    i2c.dead.clear()
    io.drive(2, True)  # set up again from the shadow, then written
    eq(i2c.regs[(33, 0x00)], 0xFFF0)
    eq(i2c.regs[(33, 0x14)], 0b0010)


def test_a_failed_switch_on_does_not_stay_in_the_shadow():
    io, i2c = _io()
    i2c.dead.add(33)
    raises(HwError, io.drive, 1, True)
    i2c.dead.clear()
    io.drive(2, True)
    eq(i2c.regs[(33, 0x14)], 0b0010)  # slot 1 did not come on by itself


if __name__ == "__main__":
    mptest.main(globals())

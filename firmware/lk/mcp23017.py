"""A small MCP23017 (16-bit I2C port expander) driver.

Registers with IOCON.BANK=0 (the power-on default, never changed here), where A and B of each
register are neighbours, so one 2-byte transfer covers both ports. Reads are one 2-byte read
of GPIOA/GPIOB; outputs go through the output latches OLATA/OLATB, kept in a shadow so that
setting one pin never needs a read. Bit k of every 16-bit value is pin k (0..7 GPA, 8..15 GPB).

The bus object is anything with machine.I2C's writeto_mem(addr, reg, buf) and
readfrom_mem(addr, reg, n). Bus errors are OSError and are left to the caller (hw.BoardIO),
which knows what an expander that stopped answering means.
"""

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


IODIRA = const(0x00)  # 1 = input (power-on: all inputs)
IODIRB = const(0x01)
GPPUA = const(0x0C)  # 1 = 100k pull-up on an input
GPPUB = const(0x0D)
GPIOA = const(0x12)
GPIOB = const(0x13)
OLATA = const(0x14)
OLATB = const(0x15)


class MCP23017:
    def __init__(self, i2c, address, inputs=0xFFFF, pullups=0, olat=0):
        """`inputs`: IODIR bits (1 = input); `pullups`: GPPU bits; `olat`: the output latch
        to start with (the outputs' off levels)."""
        self.i2c = i2c
        self.address = address
        self.inputs = inputs
        self.pullups = pullups
        self.olat = olat
        self.resets = 0  # times the chip was found reset and set up again

    def _write16(self, reg, value):
        self.i2c.writeto_mem(self.address, reg, bytes((value & 0xFF, (value >> 8) & 0xFF)))

    def setup(self):
        """(Re)configure the chip from the shadow: the latch first, so an output comes up at
        its latched (off) level the moment it becomes an output, then pull-ups, then
        directions. Also used after the chip stopped answering (it may have reset)."""
        self._write16(OLATA, self.olat)
        self._write16(GPPUA, self.pullups)
        self._write16(IODIRA, self.inputs)

    def read(self):
        """Both ports' pin levels as a 16-bit value.

        A chip that reset by itself (a brown-out when a solenoid pulls the supply down) still
        answers, but with its power-on registers: no pull-ups, every pin an input. Its inputs
        would then read whatever they float to, which could look like a key coming back. So
        the register that tells is read first, and a reset chip is set up again before its
        pins are read."""
        check = GPPUA if self.pullups else IODIRA if self.inputs != 0xFFFF else None
        if check is not None:
            data = self.i2c.readfrom_mem(self.address, check, 2)
            want = self.pullups if check == GPPUA else self.inputs
            if data[0] | (data[1] << 8) != want:
                self.resets += 1
                self.setup()
        data = self.i2c.readfrom_mem(self.address, GPIOA, 2)
        return data[0] | (data[1] << 8)

    def write(self, olat):
        """Set the output latches (both ports) and remember them."""
        self.olat = olat
        self._write16(OLATA, olat)

"""lockerkey cabinet firmware (MicroPython): the controller side of the cabinet link, v1.

The protocol logic (frame, debounce, replies, locks, core) is hardware-free and runs under
CPython too; only hw, mcp23017, port and app touch the chip, and they get `machine` passed in.
"""

VERSION = "1.0.0"
FIRMWARE = "lockerkey-fw/" + VERSION


class HwError(Exception):
    """An output (or the expander behind it) could not be driven; `slot` says which lock."""

    def __init__(self, slot=None):
        super().__init__(slot)
        self.slot = slot

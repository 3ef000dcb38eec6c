"""The link to the host: the USB serial console or a hardware UART (board file `link`).

read() never blocks and returns b"" when nothing has arrived; write() sends bytes as they
are. Nothing else may ever be printed on a console link: any stray text is a line the host
has to drop.
"""

READ_LIMIT = 512  # bytes taken per read(), so one loop pass stays short


class ConsolePort:
    """The REPL's own stream (USB-CDC, or the USB-UART bridge on UART0)."""

    def __init__(self):
        import select
        import sys

        import micropython

        # Ctrl-C (0x03) is a data byte here, not an interrupt: noise must never stop the
        # firmware (main.py says how to reach the REPL anyway).
        micropython.kbd_intr(-1)
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer  # raw: sys.stdout.write would turn \n into \r\n
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)

    def read(self):
        # One byte per read: read(n) on the console can block until n bytes arrive.
        got = bytearray()
        while len(got) < READ_LIMIT and self._poll.poll(0):
            byte = self._in.read(1)
            if not byte:
                break
            got.extend(byte)
        return bytes(got)

    def write(self, data):
        self._out.write(data)


class UartPort:
    """A hardware UART (machine.UART), e.g. to an RS-485 transceiver or a USB-UART bridge."""

    def __init__(self, machine, uart_id, tx, rx, baud):
        # A receive buffer larger than the longest line: the loop may be busy for a while.
        self._uart = machine.UART(uart_id, baudrate=baud, tx=tx, rx=rx, rxbuf=2048, timeout=0)

    def read(self):
        waiting = self._uart.any()
        if not waiting:
            return b""
        return self._uart.read(min(waiting, READ_LIMIT)) or b""

    def write(self, data):
        self._uart.write(data)


def open_port(board, machine):
    """The port the board file's `link` names."""
    link = board.link
    if link["type"] == "uart":
        return UartPort(machine, link["id"], link["tx"], link["rx"], link["baud"])
    return ConsolePort()

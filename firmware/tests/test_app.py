# lk.app under MicroPython: the line splitter and the main loop, with a fake port and machine.
import mptest
from mptest import eq, ok

from fakes import FakeIO, board
from lk.app import Lines, run, urandom32
from lk.board import parse
from lk.frame import decode, encode


def test_lines_split_on_newline_across_reads():
    s = Lines()
    eq(s.feed(b"ab"), [])
    eq(s.feed(b"c\nde"), [b"abc"])
    eq(s.feed(b"\n\n"), [b"de", b""])
    eq(s.feed(b"x\r\n"), [b"x\r"])  # the \r is frame.decode's to drop


def test_over_long_line_is_dropped_whole_once():
    s = Lines(limit=10)
    eq(s.feed(b"0123456789\n"), [b"0123456789"])
    eq(s.feed(b"0123456789A\n"), [None])
    # arriving in pieces: reported once, and nothing of it comes through
    out = s.feed(b"0123456789")
    out += s.feed(b"ABCDEF")
    out += s.feed(b"GHIJ\nok\n")
    eq(out, [None, b"ok"])


def test_default_limit_allows_1024_bytes_and_a_cr():
    s = Lines()
    eq(s.feed(b"x" * 1024 + b"\r\n"), [b"x" * 1024 + b"\r"])
    eq(s.feed(b"x" * 1026 + b"\n"), [None])


class _FakeOS:
    def __init__(self, data):
        self.data = data

    def urandom(self, n):
        eq(n, 4)
        return self.data


def test_urandom32_is_32_bits_big_endian():
    # The WebAssembly port has no os.urandom (the ESP32 port has): put a stand-in os module
    # where urandom32's import finds it.
    import sys

    saved = sys.modules.get("os")
    try:
        for data, want in ((b"\xde\xad\xbe\xef", 0xDEADBEEF), (b"\xff" * 4, 2**32 - 1),
                           (b"\x00\x00\x00\x01", 1)):
            sys.modules["os"] = _FakeOS(data)
            eq(urandom32(), want)
    finally:
        if saved is None:
            del sys.modules["os"]
        else:
            sys.modules["os"] = saved


class FakePort:
    def __init__(self, chunks):
        self.chunks = list(chunks)
        self.sent = b""

    def read(self):
        return self.chunks.pop(0) if self.chunks else b""

    def write(self, data):
        self.sent += data


class FakeWDT:
    fed = 0

    def __init__(self, timeout):
        FakeWDT.timeout = timeout

    def feed(self):
        FakeWDT.fed += 1


class FakeMachine:
    WDT = FakeWDT


def test_run_serves_the_port():
    b = parse(board())
    clock = [1000]

    def tick():
        clock[0] += 1
        return clock[0]

    hello = encode([("id", 5), ("cmd", "hello")])
    ping = encode([("id", 6), ("cmd", "ping")])
    port = FakePort([hello[:10], hello[10:] + ping, b"x" * 2000 + b"\n"])
    core = run(b, FakeMachine, port, FakeIO(4), rand32=lambda: 0xDEADBEEF, loops=20, clock=tick)
    lines = port.sent.split(b"\n")
    eq(lines[-1], b"")
    msgs = [decode(line) for line in lines[:-1]]
    eq(msgs[0]["ev"], "boot")
    eq(msgs[0]["boot"], "deadbeef")
    replies = [m for m in msgs if "id" in m]
    eq([(m["id"], m["ok"]) for m in replies], [(5, True), (6, True)])
    eq(core.dropped, {"too_long": 1})
    eq(FakeWDT.timeout, 8000)
    ok(FakeWDT.fed >= 20)


if __name__ == "__main__":
    mptest.main(globals())

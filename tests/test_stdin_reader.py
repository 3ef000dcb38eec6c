"""The stdin line reader: line ends removed, bad bytes survive as U+FFFD, end of input ends."""

from __future__ import annotations

import io
import os

from lockerkey.readers.stdin import lines


async def collect(stream: io.TextIOBase | None) -> list[str]:
    return [line async for line in lines(stream)]  # type: ignore[arg-type]


async def test_lines_lose_only_their_line_end() -> None:
    got = await collect(io.StringIO("M0001\r\n  spaced  \nlast"))
    assert got == ["M0001", "  spaced  ", "last"]


async def test_undecodable_bytes_on_a_real_pipe_do_not_stop_the_reader() -> None:
    read_end, write_end = os.pipe()
    os.write(write_end, b"ok\n\xff\xfe\nafter\nno line end")
    os.close(write_end)
    with open(read_end, encoding="utf-8") as stream:
        got = await collect(stream)  # type: ignore[arg-type]
    assert got == ["ok", "\ufffd\ufffd", "after", "no line end"]


async def test_a_closed_stream_is_simply_the_end() -> None:
    closed = io.StringIO("x\n")
    closed.close()
    assert await collect(closed) == []

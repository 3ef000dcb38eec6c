"""A line reader on standard input: one code per line (development and demos)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TextIO


def _fd_lines(fd: int) -> Iterator[str]:
    """Lines read with os.read: no buffered-file lock is held while a read blocks, so a
    daemon thread parked here cannot abort the interpreter at exit."""
    pending = b""
    while chunk := os.read(fd, 4096):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode("utf-8", "replace") + "\n"
    if pending:
        yield pending.decode("utf-8", "replace")


def _line_source(stream: TextIO | None) -> Iterator[str] | None:
    """Lines of a stream; bad bytes become U+FFFD instead of raising."""
    if stream is None or stream.closed:
        return None
    try:
        return _fd_lines(stream.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return iter(stream.readline, "")


async def lines(stream: TextIO | None = None) -> AsyncIterator[str]:
    """Yield lines without their line end until end of input (nothing at all without stdin).

    A daemon thread does the blocking reads: the loop never blocks, and a read still waiting
    at shutdown does not hold the process (an executor thread would).
    """
    read = _line_source(stream if stream is not None else sys.stdin)
    if read is None:
        return
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def put(item: str | None) -> None:
        # RuntimeError: the loop closed while we were reading; nobody is listening any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def pump() -> None:
        try:
            for line in read:
                put(line)
        except (OSError, ValueError):
            pass  # stdin closed or broken: that is the end of input
        finally:
            put(None)

    threading.Thread(target=pump, name="stdin-reader", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line.rstrip("\r\n")


class StdinReader:
    """Codes typed on standard input, one per line; the end of input ends the reader."""

    def __init__(self, name: str = "stdin", stream: TextIO | None = None) -> None:
        self.name = name
        self.stream = stream

    async def run(self, emit: Callable[[str], None]) -> None:
        """Emit every non-blank line; return at the end of input (nothing more will come)."""
        async for line in lines(self.stream):
            if line.strip():
                emit(line)

"""A line reader on standard input: one code per line (development and demos)."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import AsyncIterator
from typing import TextIO


async def lines(stream: TextIO | None = None) -> AsyncIterator[str]:
    """Yield stripped lines until end of input.

    A daemon thread does the blocking reads: the loop never blocks, and a read still waiting
    at shutdown does not hold the process (an executor thread would).
    """
    source = stream or sys.stdin
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        try:
            for line in iter(source.readline, ""):
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:
            return  # the loop closed while we were reading: nobody is listening any more

    threading.Thread(target=pump, name="stdin-reader", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line.strip()

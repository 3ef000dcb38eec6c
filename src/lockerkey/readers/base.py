"""What every card or barcode reader looks like to the daemon."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

# The daemon's intake of a raw code: the line ending already removed, nothing else checked.
Emit = Callable[[str], None]

# Reopen delays after an unplugged or failing reader: quick at first, never busy-looping.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 5.0


class ReaderError(Exception):
    """A reader cannot be used as configured (no such device, no permission)."""


class Reader(Protocol):
    """A source of scanned codes that survives unplugging on its own."""

    name: str

    async def run(self, emit: Emit) -> None:
        """Read until cancelled, calling ``emit`` once per complete code; reopen on loss."""
        ...


def next_backoff(delay: float) -> float:
    """The reopen delay after ``delay`` failed too: doubled, up to BACKOFF_MAX_S."""
    return min(delay * 2, BACKOFF_MAX_S)

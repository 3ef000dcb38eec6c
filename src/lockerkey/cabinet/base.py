"""The seam between the kiosk and a cabinet controller, whatever carries it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from lockerkey.core.events import Command, Event

Emit = Callable[[Event], None]


class CabinetError(Exception):
    """A cabinet link failed in a way its caller must know about."""


class CommandRefused(CabinetError):
    """The controller answered a command with an error code: it certainly did not act."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class CabinetLink(Protocol):
    """One controller: reports sensor events and status, carries out commands."""

    index: int

    async def run(self, emit: Emit) -> None:
        """Connect and report forever: a Snapshot on every (re)connect, then changes."""

    async def send(self, command: Command) -> None:
        """Carry out one command (raise CabinetError when it cannot be delivered)."""

    def refresh(self) -> None:
        """Report a fresh Snapshot soon (after the kiosk reloaded its engine); no-op offline."""

"""A scripted cabinet for demos: a simulated member takes or returns a key after an unlock.

It stands in for a real controller until the serial link and the protocol-exact simulator
exist (the cabinet-link issue); it talks to the engine in engine events, not in wire frames.
"""

from __future__ import annotations

import asyncio

from lockerkey.cabinet.base import Emit
from lockerkey.core.events import (
    Beep,
    Command,
    KeySensed,
    Lock,
    LockAll,
    LockSensed,
    Snapshot,
    Unlock,
)


class ScriptedCabinet:
    """An in-memory cabinet whose pretend member acts ``delay`` seconds after each unlock."""

    def __init__(
        self, index: int, slots: int, shared_door: bool = False, delay: float = 1.0
    ) -> None:
        self.index = index
        self.keys = [True] * (slots + 1)  # index 0 unused (the shared door has no key)
        self.locked = [True] * (slots + 1)
        self.shared_door = shared_door
        self.delay = delay
        self.misplace_next = False  # the next return goes into the wrong slot (for demos)
        self._emit: Emit | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, emit: Emit) -> None:
        """Report the full status once, then wait: changes come from commands."""
        self._emit = emit
        emit(self.snapshot())
        await asyncio.Event().wait()

    def snapshot(self) -> Snapshot:
        """The cabinet's status in protocol form."""
        keys = "-" + "".join("1" if k else "0" for k in self.keys[1:])
        locks = "".join("1" if lk else "0" for lk in self.locked)
        if not self.shared_door:
            locks = "-" + locks[1:]
        return Snapshot(self.index, keys, "-" * len(self.keys), locks)

    async def send(self, command: Command) -> None:
        """Carry out a command the way a controller would, then let the member act."""
        match command:
            case Unlock(slot=slot):
                self._set_lock(slot, False)
                task = asyncio.get_running_loop().create_task(self._member_acts(slot))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            case Lock(slot=slot):
                self._set_lock(slot, True)
            case LockAll():
                for slot in range(len(self.locked)):
                    self._set_lock(slot, True)
            case Beep():
                pass

    def _set_lock(self, slot: int, locked: bool) -> None:
        if self.locked[slot] != locked:
            self.locked[slot] = locked
            self._report(LockSensed(self.index, slot, locked))

    def set_key(self, slot: int, present: bool) -> None:
        """Change a key sensor (as a hand in the cabinet would)."""
        if self.keys[slot] != present:
            self.keys[slot] = present
            self._report(KeySensed(self.index, slot, present))

    def _report(self, event: KeySensed | LockSensed) -> None:
        if self._emit is not None:
            self._emit(event)

    async def _member_acts(self, slot: int) -> None:
        await asyncio.sleep(self.delay)
        if self.locked[slot]:
            return  # relocked before the pretend member got there
        if slot == 0:  # shared door: take the first key there is, or put one back
            present = [s for s in range(1, len(self.keys)) if self.keys[s]]
            if present:
                self.set_key(present[0], False)
            return
        if self.keys[slot]:
            self.set_key(slot, False)
            return
        target = slot
        if self.misplace_next:
            self.misplace_next = False
            empty = [s for s in range(1, len(self.keys)) if not self.keys[s] and s != slot]
            target = empty[0] if empty else slot
        self.set_key(target, True)

"""The simulator's pretend member, for demos: takes or returns a key after every unlock.

After an ``unlock`` of slot s, the member acts ``delay`` seconds later if that lock is still
open. Where there is a door sensor it opens the door first and closes it afterwards. At a
per-slot lock it takes the key of s if there is one, else puts a key back into s. At the shared
door (slot 0) it takes the key of the lowest slot that holds one, unless ``return_next`` is
set: then it puts back the key a pretend member took longest ago (or fills the lowest empty
slot). ``misplace_next`` sends the next return into another empty slot instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lockerkey.cabinet.simulator import Simulator

log = logging.getLogger(__name__)

DOOR_PAUSE = 0.1  # seconds between door and key: longer than the 50 ms debounce


class PretendMember:
    """Acts at a simulator's unlocked slot the way a member at the kiosk would."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.misplace_next = False  # the next return goes into a wrong empty slot
        self.return_next = False  # shared door: the next member returns a key
        self._carried: deque[int] = deque()  # slots whose keys pretend members took away

    async def after_unlock(self, slot: int, delay: float) -> None:
        """Wait ``delay`` seconds, then act at ``slot`` if its lock is still open."""
        ctl = self.sim.controller
        await asyncio.sleep(delay)
        if ctl.is_locked(slot):
            return  # relocked before the member got there
        door = ctl.has_door(slot) and not ctl.door_open(slot)
        try:
            if door:
                self.sim.open_door(slot)
                await asyncio.sleep(DOOR_PAUSE)
            self._act(slot)
        except ValueError as err:
            log.info("pretend member at slot %d gave up: %s", slot, err)
        if door and ctl.door_open(slot):
            await asyncio.sleep(DOOR_PAUSE)
            self.sim.close_door(slot)

    def _act(self, slot: int) -> None:
        ctl = self.sim.controller
        if slot == 0 and not self.return_next:
            present = [s for s in range(1, ctl.slots + 1) if ctl.key_present(s)]
            if not present:
                raise ValueError("no key left to take")
            self._take(present[0])
            return
        if slot != 0 and ctl.key_present(slot):
            self._take(slot)
            return
        self.return_next = False
        empty = [s for s in range(1, ctl.slots + 1) if not ctl.key_present(s)]
        if not empty:
            raise ValueError("no empty slot to return a key to")
        right = slot if slot != 0 else self._carried[0] if self._carried else empty[0]
        if right not in empty:
            right = empty[0]
        target = right
        if self.misplace_next:
            self.misplace_next = False
            target = next((s for s in empty if s != right), right)
        with contextlib.suppress(ValueError):
            self._carried.remove(right)
        self.sim.insert(target)
        log.info("pretend member returned a key into slot %d", target)

    def _take(self, slot: int) -> None:
        self.sim.take(slot)
        self._carried.append(slot)
        log.info("pretend member took the key of slot %d", slot)

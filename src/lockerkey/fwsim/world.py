"""The physical cabinet around the firmware: keys, doors and hands, on the fake pins.

Built from the board: every key sensor input reads "key present" or not, every door sensor
"door open" or not, through the pin's polarity (``pins.py``); the expanders the board names
sit on its I²C bus. The hands keep the rules of the project's simulator (``Controller``), with
the same answers: a key can be taken only through a released lock or an open door (``force``
takes it anyway), a key can always be pushed in, a locked door opens only when forced.

Whether a lock is released is physical (``rules.py``): a hold lock while its output is
energised, a pulse lock from its pulse until the firmware reports it locked again. Keys and
doors start home and closed.
"""

from __future__ import annotations

from lockerkey.fwsim.firmware import BoardSpec
from lockerkey.fwsim.machine import FakeMachine
from lockerkey.fwsim.pins import PinIO, PinRef
from lockerkey.fwsim.rules import OutputRules


class World:
    """Keys, doors and the watch on the outputs of one board on one FakeMachine."""

    def __init__(self, spec: BoardSpec, machine: FakeMachine) -> None:
        self.spec = spec
        self.machine = machine
        self.pins = PinIO(machine, spec.i2c_bus, spec.expanders)
        self.rules = OutputRules(spec, self.pins, machine)
        for address in spec.expanders:
            machine.add_expander(spec.i2c_bus, address).on_change = self.rules.changed
        machine.gpio.on_change = self.rules.changed
        self.keys = dict.fromkeys(range(1, spec.slots + 1), True)
        self.doors = {s: False for s, ref in enumerate(spec.doors) if ref is not None}
        for slot in self.keys:
            self._apply(spec.keys[slot], True)
        for slot in self.doors:
            self._apply(spec.doors[slot], False)

    def _apply(self, ref: PinRef | None, active: bool) -> None:
        assert ref is not None
        self.pins.set_input(ref, active)

    # -- what is there ----------------------------------------------------------------------

    def key_present(self, slot: int) -> bool:
        """Whether a key is physically in slot."""
        return self.keys[self._slot(slot)]

    def door_open(self, slot: int) -> bool:
        """Whether the door at slot (0 = the shared door) is physically open."""
        return self.doors[self._door(slot)]

    def has_door(self, slot: int) -> bool:
        """Whether slot (0 = the shared door) has a door sensor."""
        return slot in self.doors

    def released(self, slot: int) -> bool:
        """Whether the lock at slot is physically open."""
        return self.rules.released[self.lock_slot(slot)]

    def lock_slot(self, slot: int) -> int:
        """slot itself if it has a lock (ValueError otherwise)."""
        if slot not in self.rules.released:
            raise ValueError(self._no_lock(slot))
        return slot

    # -- hands ------------------------------------------------------------------------------

    def take(self, slot: int, *, force: bool = False) -> None:
        """A hand takes the key out of slot; only through an open lock or door unless forced."""
        if not self.key_present(slot):
            raise ValueError(f"slot {slot} holds no key")
        if not force and not self._reachable(slot):
            where = "the shared door" if self.spec.shared else f"slot {slot}"
            raise ValueError(f"{where} is locked; force it to take the key anyway")
        self.keys[slot] = False
        self._apply(self.spec.keys[slot], False)

    def insert(self, slot: int) -> None:
        """A hand puts a key into an empty slot (a key can always be pushed in)."""
        if self.key_present(slot):
            raise ValueError(f"slot {slot} already holds a key")
        self.keys[slot] = True
        self._apply(self.spec.keys[slot], True)

    def open_door(self, slot: int, *, force: bool = False) -> None:
        """A hand opens a door (0 = the shared door); a locked one only when forced."""
        if self.door_open(slot):
            raise ValueError(f"door {slot} is already open")
        if not force and not self.rules.released.get(slot, False):
            raise ValueError(f"door {slot} is locked; force it to open it anyway")
        self.doors[slot] = True
        self._apply(self.spec.doors[slot], True)

    def close_door(self, slot: int) -> None:
        """A hand closes a door (0 = the shared door)."""
        if not self.door_open(slot):
            raise ValueError(f"door {slot} is already closed")
        self.doors[slot] = False
        self._apply(self.spec.doors[slot], False)

    def _reachable(self, slot: int) -> bool:
        lock = 0 if self.spec.shared else slot
        return self.rules.released.get(lock, False) or self.doors.get(lock, False)

    # -- messages as the project's simulator words them -------------------------------------

    def _slot(self, slot: int) -> int:
        if not 1 <= slot <= self.spec.slots:
            raise ValueError(f"no slot {slot}: slots are 1..{self.spec.slots}")
        return slot

    def _door(self, slot: int) -> int:
        if slot not in self.doors:
            where = (
                "none in this cabinet"
                if not self.doors
                else "only slot 0 (the shared door)"
                if self.spec.shared
                else f"slots 1..{self.spec.slots}"
            )
            raise ValueError(f"slot {slot} has no door sensor: door sensors are at {where}")
        return slot

    def _no_lock(self, slot: int) -> str:
        where = (
            "only slot 0 (the shared door)" if self.spec.shared else f"slots 1..{self.spec.slots}"
        )
        return f"slot {slot} has no lock: locks are at {where}"

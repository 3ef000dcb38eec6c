"""The controller side of the cabinet link (protocol v1), as a pure state machine.

No I/O and no clock: the caller passes the time as integer milliseconds of a monotonic clock
and writes the returned frames to the line. The simulator wraps it in a server; the
conformance suite holds it (and the real firmware) to the protocol text.

Sensors are debounced (``sensor.py``). Locks have no sensor of their own here: a lock is in
the state it was last driven to.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from lockerkey import __version__
from lockerkey.cabinet.sensor import Sensor
from lockerkey.cabinet.wire import BEEPS as PATTERNS
from lockerkey.cabinet.wire import MAX_ID, MAX_SLOTS, PROTO, Decoder, encode, is_int

MEMORY = 8  # replies remembered for retries
HEARTBEAT_MS = 1000
FAIL_SECURE_MS = 10_000
MAX_UNLOCK_MS = 60_000


class _Refused(Exception):
    """A request that is answered with an error code."""

    def __init__(self, code: str, events: list[bytes] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.events = events or []


class Controller:
    """One cabinet controller: sensors, locks and the controller's side of the protocol."""

    def __init__(
        self,
        slots: int,
        shared_door: bool,
        *,
        door_sensors: bool = False,
        rng: random.Random,
        fw: str = f"lockerkey-sim/{__version__}",
    ) -> None:
        if not 1 <= slots <= MAX_SLOTS:
            raise ValueError(f"slots must be 1..{MAX_SLOTS}, not {slots}")
        self.slots = slots
        self.shared_door = shared_door
        self.fw = fw
        self.decoder = Decoder()
        self.frames_received = 0  # frames that passed the framing checks
        self.unlocked: list[int] = []  # slots unlocked by executed requests, for the caller
        self.beeps: list[str] = []  # patterns asked for (the simulated cabinet has no buzzer)
        # Told of every request actually executed (not answered from memory): for tests that
        # check a retry never runs a command twice.
        self.on_execute: Callable[[int, dict[str, Any]], None] | None = None
        self._rng = rng
        self._keys = {s: Sensor(True, True) for s in range(1, slots + 1)}
        door_slots = [0] if shared_door else list(range(1, slots + 1)) if door_sensors else []
        self._doors = {s: Sensor(False, False) for s in door_slots}
        lock_slots = [0] if shared_door else range(1, slots + 1)
        self._locks = dict.fromkeys(lock_slots, True)
        self._faulty: set[int] = set()
        self._memory: OrderedDict[int, bytes] = OrderedDict()
        self._deadman: dict[int, int] = {}
        self.boot = ""
        self.seq = 0
        self._powered_at: int | None = None
        self._next_hb = 0
        self._last_rx = 0
        self._fail_secure_done = False

    # -- power and time -------------------------------------------------------------------

    @property
    def powered(self) -> bool:
        """Whether power_up has run."""
        return self._powered_at is not None

    def power_up(self, now_ms: int) -> list[bytes]:
        """Power-up or reset: new boot id, seq 0, no reply memory, every lock locked."""
        previous = self.boot
        while self.boot == previous:  # a reset must be visible to the host
            self.boot = f"{self._rng.getrandbits(32):08x}"
        self.seq = 0
        self._memory.clear()
        self._deadman.clear()
        self.unlocked.clear()
        for slot in self._locks:
            self._locks[slot] = True
        for sensor in (*self._keys.values(), *self._doors.values()):
            sensor.settle()
        self._powered_at = now_ms
        self._next_hb = now_ms + HEARTBEAT_MS
        self._last_rx = now_ms
        self._fail_secure_done = False
        return [encode({"ev": "boot", "seq": 0, **self._identity()})]

    def next_deadline(self) -> int:
        """The time (ms) by which tick must run next."""
        self._require_power()
        times = [self._next_hb, *self._deadman.values()]
        reports = (s.next_report() for s in self._sensors())
        times += [when for when in reports if when is not None]
        if not self._fail_secure_done:
            times.append(self._last_rx + FAIL_SECURE_MS)
        return min(times)

    def tick(self, now_ms: int) -> list[bytes]:
        """Everything due by now_ms, in time order: sensor reports, relocks, heartbeat."""
        self._require_power()
        due: list[tuple[int, int, int, bool]] = []  # (when, kind, slot, value)
        for kind, sensors in ((0, self._keys), (1, self._doors)):
            for slot, sensor in sensors.items():
                sensor.confirm(now_ms)
                due += [(when, kind, slot, value) for when, value in sensor.confirmed]
                sensor.confirmed.clear()
        due += [(at, 2, slot, True) for slot, at in self._deadman.items() if at <= now_ms]
        fail_secure_at = self._last_rx + FAIL_SECURE_MS
        if not self._fail_secure_done and fail_secure_at <= now_ms:
            due.append((fail_secure_at, 3, 0, True))
        out: list[bytes] = []
        for _, kind, slot, value in sorted(due):
            if kind == 0:
                out.append(self._event("key", slot=slot, present=value))
            elif kind == 1:
                out.append(self._event("door", slot=slot, open=value))
            elif kind == 2:
                if self._deadman.pop(slot, None) is not None:
                    out += self._drive(slot, True)
            else:
                self._fail_secure_done = True
                out += self._lock_every_slot()
        if self._next_hb <= now_ms:
            # One heartbeat however late the tick is: it says "alive", it does not count time.
            assert self._powered_at is not None
            hb = {"ev": "hb", "seq": self.seq, "up": now_ms - self._powered_at}
            out.append(encode(hb))
            missed = (now_ms - self._next_hb) // HEARTBEAT_MS
            self._next_hb += HEARTBEAT_MS * (missed + 1)
        return out

    # -- the line -------------------------------------------------------------------------

    def receive(self, line: bytes, now_ms: int) -> list[bytes]:
        """One received line: what falls due first, then the reply and the events it caused."""
        out = self.tick(now_ms)
        message = self.decoder.decode(line)
        if message is None:
            return out
        self.frames_received += 1
        self._last_rx = now_ms
        self._fail_secure_done = False
        return out + self._request(message, now_ms)

    def _request(self, message: dict[str, Any], now_ms: int) -> list[bytes]:
        rid = message.get("id")
        if not is_int(rid, 1, MAX_ID):
            return [encode({"id": rid, "ok": False, "err": "bad_arg"})]
        cmd = message.get("cmd")
        if not isinstance(cmd, str):
            return [encode({"id": rid, "ok": False, "err": "unknown_cmd"})]
        if rid in self._memory:
            return [self._memory[rid]]
        events: list[bytes] = []
        if self.on_execute is not None:
            self.on_execute(rid, message)
        try:
            result, events = self._execute(cmd, message, now_ms)
            reply = encode({"id": rid, "ok": True, **result})
        except _Refused as refused:
            reply = encode({"id": rid, "ok": False, "err": refused.code})
            events = refused.events
        if cmd == "hello":
            self._memory.clear()  # only an executed hello gets here; a retry was answered above
        self._memory[rid] = reply
        while len(self._memory) > MEMORY:
            self._memory.popitem(last=False)
        return [reply, *events]

    def _execute(
        self, cmd: str, message: dict[str, Any], now_ms: int
    ) -> tuple[dict[str, Any], list[bytes]]:
        if cmd == "hello":
            return self._identity(), []
        if cmd == "status":
            keys, doors, locks = self.status()
            return {
                "keys": keys,
                "doors": doors,
                "locks": locks,
                "seq": self.seq,
                "boot": self.boot,
            }, []
        if cmd == "ping":
            return {}, []
        if cmd == "beep":
            pattern = message.get("pattern")
            if not isinstance(pattern, str) or pattern not in PATTERNS:
                raise _Refused("bad_arg")
            self.beeps.append(pattern)
            return {}, []
        if cmd not in ("unlock", "lock", "lock_all"):
            raise _Refused("unknown_cmd")
        if message.get("boot") != self.boot:
            raise _Refused("stale_boot")
        if cmd == "lock_all":
            events = self._lock_every_slot()
            if self._faulty:
                raise _Refused("hw_fault", events)
            return {}, events
        slot = message.get("slot")
        if not is_int(slot):
            raise _Refused("bad_arg")
        if slot not in self._locks:
            raise _Refused("bad_slot")
        if cmd == "lock":
            if slot in self._faulty:
                raise _Refused("hw_fault")
            self._deadman.pop(slot, None)
            return {}, self._drive(slot, True)
        ms = message.get("ms")
        if not is_int(ms, 1, MAX_UNLOCK_MS):
            raise _Refused("bad_arg")
        if slot in self._faulty:
            raise _Refused("hw_fault")
        self._deadman[slot] = now_ms + ms  # also re-arms an unlocked slot's timer
        self.unlocked.append(slot)
        return {}, self._drive(slot, False)

    def _identity(self) -> dict[str, Any]:
        return {
            "fw": self.fw,
            "proto": PROTO,
            "slots": self.slots,
            "boot": self.boot,
            "main": self.shared_door,
        }

    def _event(self, name: str, **fields: Any) -> bytes:
        self.seq += 1
        return encode({"ev": name, "seq": self.seq, **fields})

    def _drive(self, slot: int, locked: bool) -> list[bytes]:
        """Drive one lock; a lock event only when its state changes."""
        if slot in self._faulty or self._locks[slot] == locked:
            return []
        self._locks[slot] = locked
        return [self._event("lock", slot=slot, locked=locked)]

    def _lock_every_slot(self) -> list[bytes]:
        self._deadman.clear()
        return [frame for slot in self._locks for frame in self._drive(slot, True)]

    def _sensors(self) -> list[Sensor]:
        return [*self._keys.values(), *self._doors.values()]

    def _require_power(self) -> None:
        if self._powered_at is None:
            raise RuntimeError("the controller is not powered up yet: call power_up first")

    # -- state ----------------------------------------------------------------------------

    def status(self) -> tuple[str, str, str]:
        """keys, doors, locks as in the protocol's status reply (debounced sensors)."""
        slots = range(self.slots + 1)
        keys = "-" + "".join("1" if self._keys[s].stable else "0" for s in slots[1:])
        doors = "".join(
            ("1" if self._doors[s].stable else "0") if s in self._doors else "-" for s in slots
        )
        locks = "".join(
            ("1" if self._locks[s] else "0") if s in self._locks else "-" for s in slots
        )
        return keys, doors, locks

    def is_locked(self, slot: int) -> bool:
        """Whether the lock at slot (0 = the shared door) is locked now."""
        if slot not in self._locks:
            raise ValueError(self._no_lock(slot))
        return self._locks[slot]

    def key_present(self, slot: int) -> bool:
        """The raw key sensor of a slot: whether a key is physically there now."""
        return self._keys[self._slot(slot)].raw

    def door_open(self, slot: int) -> bool:
        """The raw door sensor of a slot (0 = the shared door)."""
        return self._door(slot).raw

    def has_door(self, slot: int) -> bool:
        """Whether slot (0 = the shared door) has a door sensor."""
        return slot in self._doors

    # -- the physical world ---------------------------------------------------------------

    def take(self, slot: int, now_ms: int, *, force: bool = False) -> None:
        """A hand takes the key out of slot; only through an open lock or door unless forced."""
        if not self.key_present(slot):
            raise ValueError(f"slot {slot} holds no key")
        if not force and not self._reachable(slot):
            where = "the shared door" if self.shared_door else f"slot {slot}"
            raise ValueError(f"{where} is locked; force it to take the key anyway")
        self._keys[slot].set(False, now_ms)

    def insert(self, slot: int, now_ms: int) -> None:
        """A hand puts a key into an empty slot (a key can always be pushed in)."""
        if self.key_present(slot):
            raise ValueError(f"slot {slot} already holds a key")
        self._keys[slot].set(True, now_ms)

    def open_door(self, slot: int, now_ms: int, *, force: bool = False) -> None:
        """A hand opens a door (0 = the shared door); a locked one only when forced."""
        door = self._door(slot)
        if door.raw:
            raise ValueError(f"door {slot} is already open")
        if not force and self._locks[slot]:
            raise ValueError(f"door {slot} is locked; force it to open it anyway")
        door.set(True, now_ms)

    def close_door(self, slot: int, now_ms: int) -> None:
        """A hand closes a door (0 = the shared door)."""
        door = self._door(slot)
        if not door.raw:
            raise ValueError(f"door {slot} is already closed")
        door.set(False, now_ms)

    def report_fault(self, code: str, slot: int | None = None) -> list[bytes]:
        """A ``fault`` event, as firmware sends when hardware misbehaves (an expander gone)."""
        self._require_power()
        return [self._event("fault", code=code, **({} if slot is None else {"slot": slot}))]

    def fail_output(self, slot: int, failed: bool = True) -> None:
        """Make the lock output at slot faulty (or mend it): driving it then fails."""
        if slot not in self._locks:
            raise ValueError(self._no_lock(slot))
        if failed:
            self._faulty.add(slot)
        else:
            self._faulty.discard(slot)

    def _reachable(self, slot: int) -> bool:
        lock = 0 if self.shared_door else slot
        return not self._locks[lock] or (lock in self._doors and self._doors[lock].raw)

    def _slot(self, slot: int) -> int:
        if not 1 <= slot <= self.slots:
            raise ValueError(f"no slot {slot}: slots are 1..{self.slots}")
        return slot

    def _door(self, slot: int) -> Sensor:
        if slot not in self._doors:
            where = (
                "only slot 0 (the shared door)"
                if self.shared_door
                else f"slots 1..{self.slots}"
                if self._doors
                else "none in this cabinet"
            )
            raise ValueError(f"slot {slot} has no door sensor: door sensors are at {where}")
        return self._doors[slot]

    def _no_lock(self, slot: int) -> str:
        where = "only slot 0 (the shared door)" if self.shared_door else f"slots 1..{self.slots}"
        return f"slot {slot} has no lock: locks are at {where}"

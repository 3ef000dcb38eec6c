"""The cabinet as the protocol sees it: debounced sensors, locks and their outputs, the buzzer.

Hardware-free: the hardware is `io` (hw.BoardIO on the chip, a fake in tests) and the time
is passed in. Changes are reported through `event(name, fields)`, which core turns into
numbered events. An output write that fails (io raises HwError or OSError) is reported once
per failing spell as a `fault` event with code "output" and the slot, and is retried later
where leaving it would be unsafe (a relock, the end of a pulse).
"""

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


from lk import HwError
from lk.debounce import Bank
from lk.locks import Locks
from lk.ticks import ticks_add, ticks_diff

RETRY_MS = const(1000)  # how soon a failed output write is tried again
# Buzzer patterns: on, off, on... durations in ms.
BEEPS = {"ok": (80,), "error": (150, 100, 150), "alert": (400, 150, 400, 150, 400)}


class Cabinet:
    def __init__(self, board, io, event):
        self.io = io
        self.event = event
        n = self.slots = board.slots
        self.lockable = board.lockable
        self.has_lock = bytearray(n + 1)
        for s in self.lockable:
            self.has_lock[s] = 1
        self.door_slots = [s for s in range(n + 1) if board.doors[s] is not None]
        self.locks = Locks(
            n + 1,
            self.lockable,
            board.pulse,
            board.max_on_ms,
            board.max_energised,
            board.stagger_ms,
        )
        self.keys = Bank(n + 1)
        self.doors = Bank(n + 1)
        self._bad = bytearray(n + 1)  # outputs whose last write failed (fault event sent)
        self._sample = getattr(io, "sample", None)
        self._faults = getattr(io, "faults", None)
        self._beep = None
        self._beep_at = 0
        self._beep_step = 0

    def power_up(self):
        """Every output off first, then: all locked, the inputs as they are now taken as the
        reported state (no events), no fault remembered, the buzzer quiet."""
        try:
            self.io.all_off()
        except (HwError, OSError):
            pass  # BoardIO's all_off tries every output and does not raise
        self.locks.reset()
        self._bad = bytearray(self.slots + 1)
        self._beep = None
        keys, doors = self._read()
        for s in range(1, self.slots + 1):
            self.keys.settle(s, keys[s])
        for s in self.door_slots:
            self.doors.settle(s, doors.get(s))

    # ---- sensors ----------------------------------------------------------------------------

    def _read(self):
        if self._sample is not None:
            self._sample()  # one read of every expander for both keys() and doors()
        return self.io.keys(), (self.io.doors() if self.door_slots else {})

    def inputs(self, now):
        """Sample every sensor; report debounced changes, then the io's own faults."""
        keys, doors = self._read()
        bank = self.keys
        for s in range(1, self.slots + 1):
            value = bank.sample(s, keys[s], now)
            if value is not None:
                self.event("key", [("slot", s), ("present", value)])
        for s in self.door_slots:
            raw = doors.get(s)
            value = None if raw is None else self.doors.sample(s, raw, now)
            if value is not None:
                self.event("door", [("slot", s), ("open", value)])
        if self._faults is not None:
            for code, slot in self._faults():
                self.event("fault", [("code", code)] + ([] if slot is None else [("slot", slot)]))

    # ---- locks ------------------------------------------------------------------------------

    def _write(self, slot, energised):
        """Drive one lock output; False if it failed."""
        try:
            self.io.drive(slot, energised)
        except (HwError, OSError):
            if not self._bad[slot]:
                self._bad[slot] = 1
                self.event("fault", [("code", "output"), ("slot", slot)])
            return False
        self._bad[slot] = 0
        return True

    def _lock_event(self, slot, locked):
        self.event("lock", [("slot", slot), ("locked", locked)])

    def unlock(self, slot, ms, now):
        """Release a lock for `ms` (or re-arm a released one); False on an output fault, and
        then nothing changed. The write either energises the output now or, writing its
        present state, proves the output works before the release is queued or re-armed."""
        energise = self.locks.plan_unlock(slot, now)
        if not self._write(slot, energise):
            return False
        if self.locks.unlock(slot, ms, now, energise):
            self._lock_event(slot, False)
        return True

    def lock(self, slot, now):
        """Lock now (output off first); False on an output fault. A released lock whose
        output failed is tried again after RETRY_MS (locking is the safe direction)."""
        if not self._write(slot, False):
            self.locks.relock_at(slot, ticks_add(now, RETRY_MS))
            return False
        if self.locks.lock(slot):
            self._lock_event(slot, True)
        return True

    def lock_all(self, now):
        """Lock every lock; False if any output failed (the others are locked anyway)."""
        ok = True
        for s in self.lockable:
            if not self.lock(s, now):
                ok = False
        return ok

    def timers(self, now):
        """Dead-man relocks, pulse ends, queued releases and the buzzer, as they fall due."""
        locks = self.locks
        for s in locks.expired(now):
            self.lock(s, now)
        for s in locks.cuts(now):  # pulse mode: the pulse has lasted max_on_ms
            if self._write(s, False):
                locks.stopped(s)
            else:
                locks.cut_at(s, ticks_add(now, RETRY_MS))
        while True:  # releases waiting for their turn to be energised
            s = locks.next_start(now)
            if s is None:
                break
            if self._write(s, True):
                locks.started(s, now)
            elif locks.lock(s):
                self._lock_event(s, True)  # it could not be released after all
        self._buzzer(now)

    def next_due(self, now):
        """The earliest ticks time something here falls due, or None (unsampled input
        changes are unknown here)."""
        best = None
        for t in (
            self.locks.next_due(now),
            self.keys.next_due(now),
            self.doors.next_due(now),
            self._beep_at if self._beep is not None else None,
        ):
            if t is not None and (best is None or ticks_diff(t, best) < 0):
                best = t
        return best

    # ---- buzzer -----------------------------------------------------------------------------

    def beep(self, pattern, now):
        """Start a pattern of BEEPS (replacing one still playing)."""
        self._beep = BEEPS[pattern]
        self._beep_step = 0
        self._beep_at = now
        self._buzzer(now)

    def _buzzer(self, now):
        if self._beep is None or ticks_diff(now, self._beep_at) < 0:
            return
        step = self._beep_step
        playing = step < len(self._beep)
        try:
            self.io.buzz(playing and step % 2 == 0)
        except (HwError, OSError):
            pass  # the buzzer is a courtesy, never a reason to fail a request
        if playing:
            self._beep_at = ticks_add(now, self._beep[step])
            self._beep_step = step + 1
        else:
            self._beep = None

    # ---- state ------------------------------------------------------------------------------

    def status(self):
        """keys, doors, locks as in the `status` reply: N+1 characters, char 0 the shared door."""
        n = self.slots
        keys = bytearray(b"-" * (n + 1))
        doors = bytearray(b"-" * (n + 1))
        locks = bytearray(b"-" * (n + 1))
        for s in range(1, n + 1):
            keys[s] = 48 + self.keys.value[s]
        for s in self.door_slots:
            doors[s] = 48 + self.doors.value[s]
        for s in self.lockable:
            locks[s] = 49 if self.locks.is_locked(s) else 48
        return keys.decode(), doors.decode(), locks.decode()

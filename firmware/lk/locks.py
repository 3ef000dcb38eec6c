"""Lock outputs: the logical lock state the protocol reports, and when each output is energised.

Pure: no pins and no clock. The caller (core) writes each output through the hardware and
tells this module what happened; every method that needs the time takes `now` (ticks ms).

Two states per lock. *Locked/released* is the protocol's `locks` state: released by `unlock`
until the host's `ms` runs out (the dead-man relock) or `lock`. *Energised* is the output:

- hold mode: energised while released;
- pulse mode: energised for at most `max_on_ms` at the start of a release, then off while the
  lock still counts as released. One pulse per release: re-arming a released lock (a second
  `unlock`) only moves its relock time, so a host can never keep a pulse coil energised.

At most `max_energised` outputs are on at once, and two outputs are switched on at least
`stagger_ms` apart (inrush current). A release that cannot be energised at once waits in a
first-come queue. Switching off is never delayed: locking is the safe direction.
"""

from lk.ticks import ticks_add, ticks_diff


class Locks:
    def __init__(self, size, lockable, pulse=False, max_on_ms=0, max_energised=0, stagger_ms=0):
        """`size` positions (slots 0..size-1), locks at the slots in `lockable`;
        max_energised 0 means no limit."""
        self.slots = list(lockable)
        self.pulse = pulse
        self.max_on_ms = max_on_ms
        self.max_energised = max_energised
        self.stagger_ms = stagger_ms
        self._locked = bytearray(size)
        self._on = bytearray(size)
        self._until = [0] * size  # relock time of a released lock
        self._cut = [0] * size  # pulse end of an energised lock (pulse mode)
        self.released = []  # released slots, in release order
        self.queue = []  # released slots waiting to be energised, oldest first
        self.energised = 0  # outputs on now
        self._last_on = 0
        self._any_on = False  # whether _last_on means anything yet
        self.reset()

    def reset(self):
        """Power-up: every lock locked and off, no timers, nothing queued (the caller has
        already switched every output off)."""
        for slot in self.slots:
            self._locked[slot] = 1
            self._on[slot] = 0
        self.released = []
        self.queue = []
        self.energised = 0
        self._any_on = False

    def is_locked(self, slot):
        return self._locked[slot] == 1

    def is_on(self, slot):
        return self._on[slot] == 1

    def _may_start(self, now):
        if self.max_energised and self.energised >= self.max_energised:
            return False
        if not self._any_on:
            return True
        gap = ticks_diff(now, self._last_on)
        return gap >= self.stagger_ms or gap < 0  # negative: the ticks wrapped, long ago

    def plan_unlock(self, slot, now):
        """The value to write to `slot`'s output for an `unlock` now: True to energise it at
        once. Otherwise its present state, written only to prove the output works (the
        release then waits in the queue, or is a re-arm that changes no output)."""
        if self._locked[slot]:
            return not self.queue and self._may_start(now)
        return self._on[slot] == 1

    def unlock(self, slot, ms, now, energised):
        """Commit an `unlock` whose planned write succeeded (`energised`: it switched the
        output on). Arms or re-arms the relock; True if the lock was locked until now."""
        self._until[slot] = ticks_add(now, ms)
        if not self._locked[slot]:
            return False
        self._locked[slot] = 0
        self.released.append(slot)
        if energised:
            self.started(slot, now)
        else:
            self.queue.append(slot)
        return True

    def lock(self, slot):
        """Commit a lock whose output was written off; True if it was released until now."""
        if self._on[slot]:
            self._on[slot] = 0
            self.energised -= 1
        if slot in self.queue:
            self.queue.remove(slot)
        if self._locked[slot]:
            return False
        self._locked[slot] = 1
        self.released.remove(slot)
        return True

    def relock_at(self, slot, at):
        """A relock failed (the output could not be written): try again at `at`."""
        if not self._locked[slot]:
            self._until[slot] = at

    def expired(self, now):
        """Released slots whose relock time has passed, the earliest first: strictly after
        it, so that `ms` of real time have passed whatever the phase of the 1 ms tick."""
        due = [(-ticks_diff(now, self._until[s]), s) for s in self.released]
        due = [item for item in due if item[0] < 0]
        due.sort()  # the most overdue first; a tie goes to the lower slot
        return [s for _, s in due]

    def cuts(self, now):
        """Energised slots whose pulse must end now (pulse mode)."""
        if not self.pulse or not self.energised:
            return []
        return [s for s in self.released if self._on[s] and ticks_diff(now, self._cut[s]) >= 0]

    def stopped(self, slot):
        """A pulse's end was written: the output is off, the lock still released."""
        if self._on[slot]:
            self._on[slot] = 0
            self.energised -= 1

    def cut_at(self, slot, at):
        """A pulse's end could not be written: try again at `at`."""
        self._cut[slot] = at

    def next_start(self, now):
        """The queued slot that may be energised now, taken off the queue, or None. The
        caller writes it on, then calls started(), or lock() if the write failed."""
        if self.queue and self._may_start(now):
            return self.queue.pop(0)
        return None

    def started(self, slot, now):
        """The output of released `slot` was switched on."""
        if not self._on[slot]:
            self._on[slot] = 1
            self.energised += 1
        self._cut[slot] = ticks_add(now, self.max_on_ms)
        self._last_on = now
        self._any_on = True

    def next_due(self, now):
        """The earliest ticks time at which something here falls due, or None."""
        best = None
        for slot in self.released:
            due = ticks_add(self._until[slot], 1)  # see expired()
            if self.pulse and self._on[slot] and ticks_diff(self._cut[slot], due) < 0:
                due = self._cut[slot]
            if best is None or ticks_diff(due, best) < 0:
                best = due
        if self.queue and not (self.max_energised and self.energised >= self.max_energised):
            due = ticks_add(self._last_on, self.stagger_ms) if self._any_on else now
            if ticks_diff(due, now) < 0:
                due = now
            if best is None or ticks_diff(due, best) < 0:
                best = due
        return best

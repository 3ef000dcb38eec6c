"""Debounced binary inputs (key and door sensors): a change counts after 50 ms of stable reading.

Inputs are sampled; a reading that differs from the reported value starts a wait, a reading
back at the reported value cancels it, and the change is reported by the first sample taken
more than DEBOUNCE_MS ticks after the wait began (51 ticks: with 1 ms ticks, 50 would allow
49.x ms of real time). The wait begins at the first sample that saw the change, so a report
always comes at least 50 ms after the physical change.

Debounced is one input (for tests and odd pins); Bank is many inputs in three small arrays,
which is what the controller uses so that 255 slots cost bytes, not objects.
"""

from lk.ticks import ticks_add, ticks_diff

DEBOUNCE_MS = 50


class Debounced:
    """One input: `value` is the reported (debounced) reading."""

    def __init__(self, value, now):
        self.value = bool(value)
        self.raw = self.value
        self.since = now  # when raw began to differ from value (meaningful while pending)
        self.pending = False

    def sample(self, raw, now):
        """A new raw reading; returns the new reported value when it changes, else None."""
        raw = bool(raw)
        if raw != self.raw:
            self.raw = raw
            self.pending = raw != self.value
            self.since = now
            return None
        if self.pending and ticks_diff(now, self.since) > DEBOUNCE_MS:
            self.pending = False
            self.value = raw
            return raw
        return None

    def next_due(self, now):
        """The ticks time at which a pending change confirms (if sampled then), or None."""
        return ticks_add(self.since, DEBOUNCE_MS + 1) if self.pending else None


class Bank:
    """`size` inputs, numbered 0..size-1, with the same rule as Debounced."""

    def __init__(self, size, now=0):
        self.value = bytearray(size)
        self.raw = bytearray(size)
        self.since = [now] * size
        self.waiting = 0  # how many inputs have a change pending (to skip next_due's scan)
        self._pending = bytearray(size)

    def settle(self, index, raw):
        """Take a reading as the reported value at once, without a report (power-up)."""
        raw = 1 if raw else 0
        self.value[index] = raw
        self.raw[index] = raw
        if self._pending[index]:
            self._pending[index] = 0
            self.waiting -= 1

    def sample(self, index, raw, now):
        """A new raw reading of one input: the new reported value (bool) or None."""
        raw = 1 if raw else 0
        pending = self._pending
        if raw != self.raw[index]:
            self.raw[index] = raw
            self.since[index] = now
            wait = 1 if raw != self.value[index] else 0
            self.waiting += wait - pending[index]
            pending[index] = wait
            return None
        if pending[index] and ticks_diff(now, self.since[index]) > DEBOUNCE_MS:
            pending[index] = 0
            self.waiting -= 1
            self.value[index] = raw
            return raw == 1
        return None

    def next_due(self, now):
        """The earliest ticks time at which a pending change confirms, or None."""
        if not self.waiting:
            return None
        best = None
        for index in range(len(self._pending)):
            if self._pending[index]:
                due = ticks_add(self.since[index], DEBOUNCE_MS + 1)
                if best is None or ticks_diff(due, best) < 0:
                    best = due
        return best

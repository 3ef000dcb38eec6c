"""A watch on the lock outputs: what the board promises about them, checked at every write.

The board file's ``lock`` section is a promise about the hardware (firmware/BOARD.md): a pulse
output is on for at most ``max_on_ms``; never more than ``max_energised`` outputs are on at
once; two outputs are switched on at least ``stagger_ms`` apart. And the protocol's: an output
is never energised while the firmware reports its lock locked. Every breach is recorded in
``violations`` (tests assert it stays empty); ``pulses`` and ``peak`` show the outputs did run.

The pulse length is judged in the firmware's own terms, since it can act only when polled: it
must ask to be polled by the pulse's end (``check_deadline``), and a poll at or after the end
must leave the output off (``after_call``). An output made faulty (``fail N``) is dead: it
energises nothing, whatever its latch says (``PinIO.energised``). An output that is on while
its expander is off the bus (but powered) is out of the firmware's reach: that spell is
excused from these rules (``excused`` lists such spells, for tests to look at).

It also keeps the physical latch of each lock (``released``), for the hands of ``world.py``:
a hold lock is open exactly while its output is energised; a pulse lock's latch is released by
a pulse and stays released (the door swings free) until the firmware reports the lock locked
again, which stands in for the door being shut onto the latch.

Times are the harness's monotonic milliseconds (``FakeMachine.now_ms``), not wrapping ticks.
"""

from __future__ import annotations

import logging

from lockerkey.fwsim.firmware import BoardSpec
from lockerkey.fwsim.machine import FakeMachine
from lockerkey.fwsim.pins import PinIO

log = logging.getLogger(__name__)
BROKEN = "firmware broke an output rule"  # the log line's start, for tests reading stderr


class OutputRules:
    """Watches every lock output of one board."""

    def __init__(self, spec: BoardSpec, pins: PinIO, machine: FakeMachine) -> None:
        self.spec = spec
        self.pins = pins
        self.machine = machine
        self.violations: list[str] = []
        self.pulses = 0  # times any lock output was switched on
        self.peak = 0  # most lock outputs on at once
        self.on_since: dict[int, int] = {}  # energised slot -> when it came on
        self.released = dict.fromkeys(spec.lockable, False)
        self._reported_long: set[int] = set()  # on_since values already reported too long
        self._last_on: int | None = None
        self._locked_on: set[tuple[int, int]] = set()  # (slot, on_since) reported locked
        self.excused: set[int] = set()  # on while the firmware could not reach them

    def _violate(self, what: str) -> None:
        self.violations.append(f"at {self.machine.now_ms} ms: {what}")
        log.error("%s: %s", BROKEN, self.violations[-1])

    def changed(self) -> None:
        """An output write happened: compare every lock output with its last known level."""
        now = self.machine.now_ms
        for slot in self.spec.lockable:
            ref = self.spec.locks[slot]
            assert ref is not None
            on = self.pins.energised(ref)
            if on and slot not in self.on_since:
                self._switched_on(slot, now)
            elif not on and slot in self.on_since:
                self._switched_off(slot, now)
            if on and not self.pins.reachable(ref):
                self.excused.add(slot)
        self.peak = max(self.peak, len(self.on_since))

    def _switched_on(self, slot: int, now: int) -> None:
        if self._last_on is not None and now - self._last_on < self.spec.stagger_ms:
            self._violate(
                f"slot {slot}'s output switched on {now - self._last_on} ms after another,"
                f" closer than stagger_ms {self.spec.stagger_ms}"
            )
        self._last_on = now
        self.on_since[slot] = now
        if len(self.on_since) > self.spec.max_energised:
            self._violate(
                f"{len(self.on_since)} lock outputs on at once (slots {sorted(self.on_since)}),"
                f" more than max_energised {self.spec.max_energised}"
            )
        self.pulses += 1
        self.released[slot] = True

    def _switched_off(self, slot: int, now: int) -> None:
        # How long it was on is not judged here: the harness polls when the firmware asks
        # (check_deadline) but a little late in real time, as a main loop pass is. A pulse is
        # too long if the firmware asks to be polled after its end, or is polled then and
        # leaves it on (after_call).
        del self.on_since[slot]
        self._reported_long.discard(slot)
        self.excused.discard(slot)
        if not self.spec.pulse:
            self.released[slot] = False

    def after_call(self, locks: str) -> None:
        """After a call into the firmware at now_ms, with its ``status`` locks string."""
        now = self.machine.now_ms
        self.changed()
        seen = self._locked_on
        for slot in self.spec.lockable:
            if slot in self.excused:
                continue
            locked = locks[slot] == "1"
            if locked and slot in self.on_since and (slot, self.on_since[slot]) not in seen:
                self._locked_on.add((slot, self.on_since[slot]))  # once per spell
                self._violate(f"slot {slot}'s output is energised while reported locked")
            if locked and self.spec.pulse:
                self.released[slot] = False
            since = self.on_since.get(slot)
            if (
                self.spec.pulse
                and since is not None
                and now - since >= self.spec.max_on_ms
                and slot not in self._reported_long
            ):
                self._reported_long.add(slot)
                self._violate(
                    f"slot {slot}'s pulse output left on by a poll {now - since} ms after it"
                    f" came on (max_on_ms {self.spec.max_on_ms})"
                )

    def check_deadline(self, deadline: int) -> None:
        """The firmware asked to be polled next at ``deadline``: not after a pulse must end."""
        if not self.spec.pulse:
            return
        for slot, since in self.on_since.items():
            end = since + self.spec.max_on_ms
            if deadline > end and slot not in self._reported_long | self.excused:
                self._reported_long.add(slot)
                self._violate(
                    f"slot {slot}'s pulse must end at {end} ms but the next poll was asked"
                    f" for {deadline} ms"
                )

"""The host's picture of one controller, kept in step with its events by their seq numbers.

Pure: it takes validated wire messages and says what follows (engine events to report, a
status to ask for, a restart noticed, a message that does not fit); the driver does the I/O.
The rules are those of the protocol (section 4): ``status`` is the truth; an event is applied
only if its seq is the last one + 1; a gap, or a heartbeat naming another seq, calls for a
fresh status, and events are held back until it arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lockerkey.cabinet import wire
from lockerkey.core.events import DoorSensed, Event, KeySensed, LockSensed, Snapshot


@dataclass
class Picture:
    """What the host believes the cabinet looks like: status strings as lists of chars."""

    keys: list[str]
    doors: list[str]
    locks: list[str]

    def snapshot(self, cabinet: int) -> Snapshot:
        """The picture as an engine Snapshot."""
        return Snapshot(cabinet, "".join(self.keys), "".join(self.doors), "".join(self.locks))


@dataclass
class Outcome:
    """What one message means for the driver."""

    events: list[Event] = field(default_factory=list)  # to report to the engine, in order
    resync: str | None = None  # why a fresh status is needed
    restart: str | None = None  # the controller restarted: treat as a lost link
    misfits: list[str] = field(default_factory=list)  # valid frames that make no sense here
    faults: list[wire.FaultEvent] = field(default_factory=list)
    repeated: int = 0  # duplicated lines ignored

    def add(self, other: Outcome) -> None:
        """Fold a later outcome into this one."""
        self.events += other.events
        self.resync = self.resync or other.resync
        self.restart = self.restart or other.restart
        self.misfits += other.misfits
        self.faults += other.faults
        self.repeated += other.repeated


class Tracker:
    """One controller's picture, last seq and boot id, and the events held during a resync."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.picture: Picture | None = None
        self.boot: str | None = None
        self.last_seq = 0
        self._held: list[wire.WireEvent] | None = None

    @property
    def wants_status(self) -> bool:
        """Whether events are being held until a status arrives."""
        return self._held is not None

    def hold(self) -> None:
        """A status is on its way: keep events back until it is learned."""
        if self._held is None:
            self._held = []

    def forget(self) -> None:
        """The link is gone: nothing is held, the next connection starts afresh."""
        self._held = None

    def learn(self, status: wire.Status) -> Outcome:
        """Make ``status`` the truth, then apply the held events that came after it."""
        out = Outcome()
        if status.boot != self.boot:
            out.restart = "controller restarted (boot id changed)"
            return out
        self.picture = Picture(list(status.keys), list(status.doors), list(status.locks))
        self.last_seq = status.seq
        held, self._held = self._held or [], None
        out.events.append(self.picture.snapshot(self.index))
        for event in sorted(held, key=lambda e: e.seq):
            if event.seq > status.seq:
                out.add(self.on_event(event))
        return out

    def on_event(self, event: wire.WireEvent) -> Outcome:
        """What one validated event means."""
        out = Outcome()
        if isinstance(event, wire.BootEvent):
            if self.boot is not None and event.hello.boot != self.boot:
                out.restart = "controller restarted (boot event)"
            return out
        if self._held is not None:
            self._held.append(event)
        elif self.picture is None:
            pass  # before the first status: it will include this
        elif isinstance(event, wire.Heartbeat):
            if event.seq != self.last_seq:
                out.resync = f"heartbeat seq {event.seq}, last seen {self.last_seq}"
                self.hold()
        elif event.seq <= self.last_seq:
            out.repeated = 1  # a duplicated line: already applied
        elif event.seq != self.last_seq + 1:
            out.resync = f"event seq {event.seq} after {self.last_seq}"
            self._held = [event]  # not applied: the status decides
        else:
            self.last_seq = event.seq
            self._apply(event, self.picture, out)
        return out

    def _apply(self, event: wire.WireEvent, picture: Picture, out: Outcome) -> None:
        cab = self.index
        match event:
            case wire.KeyEvent(slot=slot, present=present):
                picture.keys[slot] = "1" if present else "0"
                out.events.append(KeySensed(cab, slot, present))
            case wire.DoorEvent(slot=slot, open=is_open) if picture.doors[slot] != "-":
                picture.doors[slot] = "1" if is_open else "0"
                out.events.append(DoorSensed(cab, slot, is_open))
            case wire.LockEvent(slot=slot, locked=locked) if picture.locks[slot] != "-":
                picture.locks[slot] = "1" if locked else "0"
                out.events.append(LockSensed(cab, slot, locked))
            case wire.FaultEvent():
                out.faults.append(event)
            case _:
                # The controller reported a sensor or lock its own status says it lacks.
                out.misfits.append(f"no such sensor or lock: {event}")

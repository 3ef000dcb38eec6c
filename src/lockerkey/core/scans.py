"""What a reader's raw codes become before the engine sees them: double-fires and floods.

Pure: the monotonic time of each read comes in with it. Validity (1-64 printable ASCII) is
the engine's rule (rules.valid_code), so a rejected code still gets its message and event.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

# Readers double-fire: the same code again this soon is the same scan.
REPEAT_WINDOW_S = 1.5
# More codes than this within FLOOD_WINDOW_S is no person scanning: a stuck or hostile reader.
FLOOD_LIMIT = 10
FLOOD_WINDOW_S = 1.0


class Verdict(StrEnum):
    """What happens to one read."""

    ACCEPT = "accept"
    REPEAT = "repeat"  # a double-fire: counts once
    THROTTLED = "throttled"  # part of a flood: dropped


@dataclass(frozen=True)
class Gated:
    """A read's verdict; ``flood_began`` / ``flood_ended`` say when to tell staff, once each."""

    verdict: Verdict
    flood_began: bool = False
    flood_ended: int = 0  # codes dropped by a flood that this accepted read has ended


@dataclass
class ScanGate:
    """Per reader: drops double-fires and throttles floods."""

    repeat_window: float = REPEAT_WINDOW_S
    flood_limit: int = FLOOD_LIMIT
    flood_window: float = FLOOD_WINDOW_S
    _last: dict[str, float] = field(default_factory=dict)
    _recent: deque[float] = field(default_factory=deque)  # accepted reads in the window
    # The newest non-repeat reads, accepted or not: enough to tell whether a window holds
    # more than flood_limit of them, and bounded however hard a reader floods.
    _offered: deque[float] = field(init=False)
    _dropped: int = 0

    def __post_init__(self) -> None:
        self._offered = deque(maxlen=self.flood_limit + 1)

    def check(self, code: str, mono: float) -> Gated:
        """Judge one read of ``code`` at monotonic time ``mono``."""
        previous = self._last.get(code)
        self._last[code] = mono
        self._forget(mono)
        if previous is not None and mono - previous < self.repeat_window:
            return Gated(Verdict.REPEAT)
        for window in (self._recent, self._offered):
            while window and mono - window[0] >= self.flood_window:
                window.popleft()
        self._offered.append(mono)
        if len(self._recent) >= self.flood_limit:
            self._dropped += 1
            return Gated(Verdict.THROTTLED, flood_began=self._dropped == 1)
        self._recent.append(mono)
        # A flood is over once the reads offered in one window fit the limit again; while it
        # lasts, FLOOD_LIMIT codes a second still pass and it is reported once, not per lull.
        if self._dropped and len(self._offered) <= self.flood_limit:
            ended, self._dropped = self._dropped, 0
            return Gated(Verdict.ACCEPT, flood_ended=ended)
        return Gated(Verdict.ACCEPT)

    def _forget(self, mono: float) -> None:
        """Keep the per-code memory small: only codes still inside the repeat window."""
        if len(self._last) > 4 * self.flood_limit:
            self._last = {c: t for c, t in self._last.items() if mono - t < self.repeat_window}

"""A debounced binary sensor (key or door) as the controller sees it.

A sensor has a raw reading (what a hand just did) and a reported one; a change is reported
only once the raw reading has been stable for ``DEBOUNCE_MS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DEBOUNCE_MS = 50


@dataclass
class Sensor:
    """One binary sensor: the raw reading and the reported (debounced) one."""

    raw: bool
    stable: bool
    since: int | None = None  # when raw started to differ from stable
    confirmed: list[tuple[int, bool]] = field(default_factory=list)  # (when, value) to report

    def set(self, raw: bool, now_ms: int) -> None:
        """A new raw reading; a change back within the debounce time cancels the report."""
        if raw == self.raw:
            return
        self.confirm(now_ms)  # a change already stable long enough stays reported
        self.raw = raw
        self.since = now_ms if raw != self.stable else None

    def confirm(self, now_ms: int) -> None:
        """Accept a change that has been stable for the debounce time by now_ms."""
        if self.since is not None and self.since + DEBOUNCE_MS <= now_ms:
            self.confirmed.append((self.since + DEBOUNCE_MS, self.raw))
            self.stable = self.raw
            self.since = None

    def next_report(self) -> int | None:
        """When the next report falls due, if one is pending."""
        if self.confirmed:
            return self.confirmed[0][0]
        return None if self.since is None else self.since + DEBOUNCE_MS

    def settle(self) -> None:
        """Take the raw reading as the reported one, without reports (at power-up)."""
        self.stable = self.raw
        self.since = None
        self.confirmed.clear()

"""``FirmwareController``: the real firmware as the simulator's controller.

It offers ``Simulator`` (and its console and pretend member) what ``cabinet.controller.
Controller`` offers, but every frame comes from the firmware's own ``lk.core.Core`` running on
a ``FakeMachine`` whose pins belong to a physical model of the cabinet (``world.py``).

Each call plays one pass of the firmware's main loop (``lk/app.py``): the received line goes to
``Core.receive``, or ``Core.poll`` runs; then the watchdog is fed. Power-up does what the chip
does at reset: a fresh import of the firmware (new module state), ``BoardIO`` from the board,
every output off, a ``Core``, the watchdog, ``Core.power_up``. The ESP32's own pins reset; the
expanders and the physical world (keys, doors) stay as they are. An exception out of the
firmware is handled as ``app.main`` does: recorded (``crashes``: a firmware bug), outputs off,
reset. ``machine.reset()`` resets too.

Time: the simulator's monotonic milliseconds become the firmware's wrapping ticks, counted from
power-up (plus ``ticks_start``, to put the 2**30 wrap where a test wants it). The firmware is
polled when its ``next_deadline`` asks, or every ``loop_ms`` as the chip's main loop does (tests
in virtual time; too busy for a live simulator). A physical change polls the firmware at once
(``next_deadline`` cannot know of inputs it has not sampled); what that poll sends goes out
with the next ``tick``.
"""

from __future__ import annotations

import logging
import random
import traceback
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lockerkey.cabinet.wire import Decoder
from lockerkey.fwsim.firmware import BoardSpec, parse_board, read_board, running
from lockerkey.fwsim.firmware import load_modules as _load_modules
from lockerkey.fwsim.machine import FakeMachine, Reset
from lockerkey.fwsim.mcp23017 import MCP23017
from lockerkey.fwsim.world import World

log = logging.getLogger(__name__)

PERIOD = 1 << 30  # MicroPython's ticks_ms wraps here
_HALF = PERIOD >> 1


def ticks_diff(end: int, start: int) -> int:
    """end - start for wrapping ticks, as MicroPython's time.ticks_diff."""
    return ((end - start + _HALF) % PERIOD) - _HALF


class FirmwareController:
    """One cabinet controller running the firmware in ``firmware/lk/`` on simulated pins."""

    def __init__(
        self,
        board: str | Path | dict[str, Any] | BoardSpec,
        *,
        rng: random.Random,
        ticks_start: int = 0,
        loop_ms: int | None = None,
    ) -> None:
        if isinstance(board, BoardSpec):
            self.spec = board
        elif isinstance(board, dict):
            self.spec = parse_board(board)
        else:
            self.spec = read_board(board)
        self.slots = self.spec.slots
        self.shared_door = self.spec.shared
        self.machine = FakeMachine()
        self.world = World(self.spec, self.machine)
        self.unlocked: list[int] = []  # slots unlocked by requests, for the pretend member
        self.crashes: list[str] = []  # tracebacks out of the firmware: each one is a bug
        self._rng = rng
        self._ticks_start = ticks_start
        self._loop_ms = loop_ms
        self._core: Any = None
        self._io: Any = None
        self._modules: dict[str, types.ModuleType] = {}
        self._origin = 0  # the harness's ms at power-up
        self._now = 0  # the harness's ms of the latest call (never goes back)
        self._ticks = 0  # the firmware's ticks of the latest call
        self._pending: list[bytes] = []  # sent by polls between ticks
        self._requests = Decoder()
        self._replies = Decoder()

    # -- the firmware's state ---------------------------------------------------------------

    @property
    def powered(self) -> bool:
        """Whether power_up has run."""
        return self._core is not None

    @property
    def boot(self) -> str:
        """The firmware's boot id ("" before power-up)."""
        return str(self._core.boot) if self._core is not None else ""

    @property
    def seq(self) -> int:
        """The firmware's last event seq."""
        return int(self._core.seq) if self._core is not None else 0

    @property
    def frames_received(self) -> int:
        """Frames that passed the firmware's framing checks since its power-up."""
        return int(self._core.frames_received) if self._core is not None else 0

    @property
    def violations(self) -> list[str]:
        """Breaches of the board's output rules (``rules.py``) and watchdog lapses."""
        return [*self.world.rules.violations, *self.machine.starvations]

    def status(self) -> tuple[str, str, str]:
        """keys, doors, locks as the firmware would answer ``status``."""
        core = self._require_power()
        with running(self.machine, self._modules):
            keys, doors, locks = core.status()
        return str(keys), str(doors), str(locks)

    # -- power and time ---------------------------------------------------------------------

    def power_up(self, now_ms: int) -> list[bytes]:
        """Reset the chip and start the firmware afresh; returns its boot event."""
        self._advance(now_ms)
        self.machine.gpio.reset()  # the ESP32's pins; the expanders keep their registers
        self.machine.watchdog = None
        self._origin = self._now
        self._ticks = self._ticks_start % PERIOD
        self._pending.clear()
        self.unlocked.clear()
        self._modules = _load_modules(self.machine)
        board_mod: Any = self._modules["lk.board"]
        hw: Any = self._modules["lk.hw"]
        core_mod: Any = self._modules["lk.core"]
        with running(self.machine, self._modules):
            board = board_mod.parse(self.spec.data)
            self._io = hw.BoardIO(board, self.machine, clock=lambda: self._ticks)
            self._io.all_off()
            self._core = core_mod.Core(board, self._io, lambda: self._rng.getrandbits(32))
            self.machine.WDT(timeout=board.wdt_ms)
            frames = list(self._core.power_up(self._ticks))
        self.world.rules.after_call(self.status()[2])
        return frames

    def next_deadline(self) -> int:
        """The time (harness ms) by which tick must run next, as the firmware asks."""
        core = self._require_power()
        with running(self.machine, self._modules):
            deadline = int(core.next_deadline(self._ticks))
        when = self._now + ticks_diff(deadline % PERIOD, self._ticks)
        self.world.rules.check_deadline(when)
        if self._loop_ms is not None:
            when = min(when, self._now + self._loop_ms)
        return when

    def tick(self, now_ms: int) -> list[bytes]:
        """One poll: everything due by now_ms (and what earlier polls produced)."""
        pending, self._pending = self._pending, []
        return pending + self._call(now_ms, lambda core, t: core.poll(t))

    def receive(self, line: bytes, now_ms: int) -> list[bytes]:
        """One received line (without its line end): the firmware's reply and events."""
        pending, self._pending = self._pending, []
        out = pending + self._call(now_ms, lambda core, t: core.receive(line, t))
        self._note_unlock(line, out)
        return out

    def _advance(self, now_ms: int) -> None:
        self._now = max(self._now, now_ms)
        self.machine.now_ms = self._now
        self._ticks = (self._now - self._origin + self._ticks_start) % PERIOD

    def _call(self, now_ms: int, step: Callable[[Any, int], list[bytes]]) -> list[bytes]:
        core = self._require_power()
        self._advance(now_ms)
        try:
            with running(self.machine, self._modules):
                out = list(step(core, self._ticks))
                if self.machine.watchdog is not None:
                    self.machine.watchdog.feed()  # the main loop feeds it after every pass
        except Reset:
            return self.power_up(self._now)
        except Exception:  # as app.main: anything at all ends in a reset
            self.crashes.append(traceback.format_exc())
            log.exception("the firmware raised; resetting as app.main does")
            with running(self.machine, self._modules):
                self._io.all_off()
            return self.power_up(self._now)
        self.world.rules.after_call(self.status()[2])
        return out

    def _note_unlock(self, line: bytes, out: list[bytes]) -> None:
        request = self._requests.decode(line)
        if request is None or request.get("cmd") != "unlock":
            return
        for frame in out:
            reply = self._replies.decode(frame)
            if reply is not None and reply.get("id") == request.get("id") and reply.get("ok"):
                slot = request.get("slot")
                if isinstance(slot, int):
                    self.unlocked.append(slot)

    def _require_power(self) -> Any:
        if self._core is None:
            raise RuntimeError("the controller is not powered up yet: call power_up first")
        return self._core

    # -- the physical world -----------------------------------------------------------------

    def _changed(self, now_ms: int) -> None:
        if self._core is not None:
            self._pending += self._call(now_ms, lambda core, t: core.poll(t))

    def take(self, slot: int, now_ms: int, *, force: bool = False) -> None:
        """A hand takes the key out of slot (through a released lock or an open door)."""
        self.world.take(slot, force=force)
        self._changed(now_ms)

    def insert(self, slot: int, now_ms: int) -> None:
        """A hand puts a key into an empty slot."""
        self.world.insert(slot)
        self._changed(now_ms)

    def open_door(self, slot: int, now_ms: int, *, force: bool = False) -> None:
        """A hand opens a door (0 = the shared door); a locked one only when forced."""
        self.world.open_door(slot, force=force)
        self._changed(now_ms)

    def close_door(self, slot: int, now_ms: int) -> None:
        """A hand closes a door (0 = the shared door)."""
        self.world.close_door(slot)
        self._changed(now_ms)

    def key_present(self, slot: int) -> bool:
        """Whether a key is physically in slot."""
        return self.world.key_present(slot)

    def door_open(self, slot: int) -> bool:
        """Whether a door is physically open (0 = the shared door)."""
        return self.world.door_open(slot)

    def has_door(self, slot: int) -> bool:
        """Whether slot (0 = the shared door) has a door sensor."""
        return self.world.has_door(slot)

    def is_locked(self, slot: int) -> bool:
        """Whether the firmware reports the lock at slot locked."""
        return self.status()[2][self.world.lock_slot(slot)] == "1"

    # -- hardware faults --------------------------------------------------------------------

    def report_fault(self, code: str, slot: int | None = None) -> list[bytes]:
        """Not possible here: the firmware sends its own ``fault`` events."""
        raise ValueError(
            "the firmware sends its own fault events (an expander off the bus, an output that"
            " fails: use fail N); fault CODE is for the plain simulator"
        )

    def fail_output(self, slot: int, failed: bool = True) -> None:
        """Break (or mend) the lock output at slot: the firmware's writes to it then fail."""
        ref = self.spec.locks[self.world.lock_slot(slot)]
        assert ref is not None
        self.world.pins.fail(ref, failed)
        self.world.rules.changed()  # a dead output energises nothing

    def expander(self, index: int) -> MCP23017:
        """The board's index-th expander (``"xK.P"`` pins: K = index)."""
        return self.machine.expander(self.spec.i2c_bus, self.spec.expanders[index])

    def unplug_expander(self, index: int, now_ms: int, *, power_lost: bool = True) -> None:
        """Pull an expander off the bus: it stops answering; power_lost: its cable carried its
        power too (its outputs go off, its registers are lost), else only the bus failed."""
        chip = self.expander(index)
        chip.present = False
        chip.powered = chip.powered and not power_lost
        self.world.rules.changed()
        self._changed(now_ms)

    def replug_expander(self, index: int, now_ms: int) -> None:
        """Put it back: it answers again, from power-on state if it had lost power."""
        chip = self.expander(index)
        if not chip.powered:
            chip.power_on()
            chip.powered = True
        chip.present = True
        self.world.rules.changed()
        self._changed(now_ms)

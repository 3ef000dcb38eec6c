"""The kiosk screen as JSON: the engine's view plus result screens that time out by themselves.

The engine goes back to ``idle`` as soon as a rental or return ends; a member still needs a
few seconds to read how it ended. So a step that ends in ``idle`` with a success or error
notice shows a ``success`` or ``failure`` phase for RESULT_S seconds first. An error said
while a step is under way (another member told the machine is busy) is a ``flash`` over the
step's own screen, which stays.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from lockerkey.core.engine import Engine
from lockerkey.core.events import Notice, Step
from lockerkey.core.messages import LANGUAGES, Msg, render
from lockerkey.core.model import Service
from lockerkey.core.state import LockerState, Phase

RESULT_S = 5.0  # how long a success or failure screen stays before idle
FLASH_S = 4.0  # how long a passing notice shows over a step's screen
SESSION_PHASES = frozenset(
    {Phase.CHOOSE_LOCKER, Phase.TAKE_KEY, Phase.RETURN_KEY, Phase.STAFF_MENU}
)
# The notice each phase shows when the engine has said nothing more specific.
PHASE_NOTICE = {
    Phase.IDLE: Notice(Msg.IDLE),
    Phase.OUT_OF_SERVICE: Notice(Msg.OUT_OF_SERVICE, level="error"),
    Phase.CHOOSE_LOCKER: Notice(Msg.CHOOSE_LOCKER),
    Phase.STAFF_MENU: Notice(Msg.CHOOSE_LOCKER),
}

State = dict[str, Any]


def texts(notice: Notice) -> dict[str, str]:
    """A notice in every language."""
    return {lang: render(notice.msg, lang, notice.params) for lang in LANGUAGES}


def locker_state(st: LockerState) -> str:
    """One locker as the staff grid colours it."""
    if st.service is Service.DISABLED:
        return "out_of_service"
    if st.service is Service.SET_ASIDE:
        return "abnormal"
    if st.holder is not None:
        return "rented"
    if st.key is None:
        return "unknown"
    return "free" if st.key else "key_missing"


class ScreenModel:
    """Follows the kiosk's steps and keeps the page's state, numbered by ``seq``."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        language: str,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        result_s: float = RESULT_S,
        flash_s: float = FLASH_S,
    ) -> None:
        self._engine = engine
        self.result_s = result_s
        self.flash_s = flash_s
        self.language = language
        self._mono = monotonic
        self._wall = wall
        self.seq = 0
        self._main: Notice | None = None  # the current step's own message
        self._result: tuple[Notice, float] | None = None  # (notice, monotonic end)
        self._flash: tuple[Notice, float] | None = None
        self._changed: asyncio.Event | None = None
        self._timer: asyncio.TimerHandle | None = None

    # ---- following the kiosk -----------------------------------------------------------------

    def on_step(self, step: Step) -> None:
        """A kiosk listener: take in one Step's notices and announce the new state."""
        phase = self._engine().phase
        now = self._mono()
        loud = [n for n in step.notices if n.level in ("success", "error", "alert")]
        if phase is Phase.IDLE and loud:
            self._result, self._flash, self._main = (loud[-1], now + self.result_s), None, None
        elif phase in SESSION_PHASES:
            for notice in step.notices:
                if notice.level == "info":
                    self._main, self._result, self._flash = notice, None, None
                else:
                    self._flash = (notice, now + self.flash_s)
        elif phase is Phase.OUT_OF_SERVICE:
            self._result = self._flash = self._main = None
        if phase is Phase.IDLE and not loud and step.notices:
            self._result = self._flash = self._main = None
        self.touch()

    def touch(self) -> None:
        """Announce a change: every waiter wakes and reads the new state."""
        self.seq += 1
        if self._changed is not None:
            self._changed.set()
            self._changed = None
        self._schedule_expiry()

    async def wait_change(self, seen: int) -> int:
        """Wait until the state is newer than ``seen``; return the new ``seq``."""
        while self.seq <= seen:
            if self._changed is None:
                self._changed = asyncio.Event()
            await self._changed.wait()
        return self.seq

    def _schedule_expiry(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        ends = [end for item in (self._result, self._flash) if item for _, end in [item]]
        if not ends:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a unit test): state() expires them when read
        delay = max(0.0, min(ends) - self._mono())
        self._timer = loop.call_later(delay, self._expire)

    def _expire(self) -> None:
        self._timer = None
        now = self._mono()
        if self._result and self._result[1] <= now:
            self._result = None
        if self._flash and self._flash[1] <= now:
            self._flash = None
        self.touch()

    # ---- the state ---------------------------------------------------------------------------

    def state(self, language: str | None = None) -> State:
        """The page's state (the ``GET /api/state`` body), texts in ``language``."""
        lang = language if language in LANGUAGES else self.language
        engine = self._engine()
        view = engine.view()
        now_mono, now = self._mono(), self._wall()
        result = self._result if self._result and self._result[1] > now_mono else None
        flash = self._flash if self._flash and self._flash[1] > now_mono else None
        phase: str = view.phase.value
        until = None
        if result is not None and view.phase is Phase.IDLE:
            notice, end = result
            phase = "success" if notice.level == "success" else "failure"
            until = now + timedelta(seconds=end - now_mono)
        elif view.phase is Phase.OUT_OF_SERVICE:
            notice = view.notice or PHASE_NOTICE[Phase.OUT_OF_SERVICE]
        elif view.phase in SESSION_PHASES and self._main is not None:
            notice = self._main
        else:
            notice = PHASE_NOTICE.get(view.phase) or view.notice or Notice(Msg.IDLE)
        messages = texts(notice)
        offered = set(view.available)
        grid = []
        if view.phase in (Phase.CHOOSE_LOCKER, Phase.STAFF_MENU):
            for number in engine.layout.order():
                spec = engine.layout.lockers[number]
                grid.append(
                    {
                        "number": number,
                        "zone": spec.zone,
                        "enabled": number in offered,
                        "state": locker_state(engine.lockers[number]),
                    }
                )
        deadline = view.deadline if phase in {p.value for p in SESSION_PHASES} else None
        return {
            "seq": self.seq,
            "phase": phase,
            "message": messages[lang],
            "messages": messages,
            "level": notice.level,
            "language": lang,
            "locker": view.locker,
            "available": list(view.available),
            "lockers": grid,
            "deadline": deadline.isoformat() if deadline else None,
            "seconds_left": (
                max(0.0, round((deadline - now).total_seconds(), 1)) if deadline else None
            ),
            "until": until.isoformat() if until else None,
            "flash": (
                {
                    "message": texts(flash[0])[lang],
                    "messages": texts(flash[0]),
                    "level": flash[0].level,
                }
                if flash and phase in {p.value for p in SESSION_PHASES}
                else None
            ),
            "online": len(view.online) == len(engine.layout.cabinets),
            "now": now.isoformat(),
        }

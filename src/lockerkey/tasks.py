"""Long-running tasks: supervised restarts, and waits on the wall clock that follow its jumps."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

log = logging.getLogger("lockerkey")

# A Pi without a clock battery boots with a wrong wall clock and jumps when NTP answers: a
# long sleep computed before the jump would wake at the wrong time, so wall-clock waits
# look at the clock again at least this often.
WALL_RECHECK_S = 60.0


async def sleep_until(due: datetime) -> None:
    """Sleep until the wall clock reaches ``due`` (aware), following clock jumps."""
    while (left := (due - datetime.now(UTC)).total_seconds()) > 0:
        await asyncio.sleep(min(left, WALL_RECHECK_S))


# Restart delays: quick at first, doubling while a task keeps crashing, back to quick once
# it has run well for a while.
RESTART_FIRST_S = 0.5
RESTART_MAX_S = 30.0
HEALTHY_AFTER_S = 60.0


async def supervise(name: str, factory: Callable[[], Awaitable[None]]) -> None:
    """Run a task until it returns: a crash is logged with its traceback and it restarts."""
    loop = asyncio.get_running_loop()
    backoff = RESTART_FIRST_S
    while True:
        started = loop.time()
        try:
            await factory()
            return
        except asyncio.CancelledError:
            raise
        except Exception:
            if loop.time() - started >= HEALTHY_AFTER_S:
                backoff = RESTART_FIRST_S
            log.exception("task %s crashed; restarting in %.1f s", name, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, RESTART_MAX_S)

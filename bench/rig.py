"""The parts of a process benchmark: a site folder, cabinet simulators on ptys that note when
frames cross the line, a serial card reader on a pty, and `lockerkey run` as a process whose
log is read as it comes.

The simulators and the reader run in the benchmark's own event loop (the log and the ledger
are read on threads); the daemon is a separate process, so its figures include the kernel's
pty and pipe hops, as on a real kiosk.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lockerkey.cabinet.controller import Controller
from lockerkey.cabinet.simulator import Simulator

SLOTS = 250  # per cabinet; four of them: 1,000 lockers, so 1,000 rentals need no returns
CABINETS = 4
POLL_S = 0.00005
CONFIG = """\
device_id = "BENCH"
timezone = "Asia/Seoul"
data_dir = "data"
{cabinets}
[scanner]
kind = "serial"
port = "reader.link"

[session]
timeout_s = 30
selection = "auto"

[backup]
time = ""

[web]
port = 0
"""
CABINET = '[[cabinet]]\nport = "cab{n}.link"\nlockers = "{first}-{last}"\nname = "cab{n}"\n'


class TimedController(Controller):
    """A simulated controller that notes when an unlock arrives and a key event leaves."""

    def __init__(self, slots: int, on_unlock: Callable[[int, int], None], seed: int) -> None:
        super().__init__(slots, False, rng=random.Random(seed))
        self.on_key_sent: Callable[[int], None] | None = None
        self.on_execute = lambda _rid, message: self._executed(message, on_unlock)

    @staticmethod
    def _executed(message: dict[str, Any], on_unlock: Callable[[int, int], None]) -> None:
        if message.get("cmd") == "unlock":
            on_unlock(int(message["slot"]), time.perf_counter_ns())

    def tick(self, now_ms: int) -> list[bytes]:
        """As the controller's; a key event is noted as it goes to the line."""
        frames = super().tick(now_ms)
        if self.on_key_sent is not None and any(b'"ev":"key"' in f for f in frames):
            self.on_key_sent(time.perf_counter_ns())
        return frames


def make_site(folder: Path, ledger: Path) -> None:
    """A fresh site folder with its settings and a copy of ``ledger`` as data/locker.db."""
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "data").mkdir(parents=True)
    cabinets = "\n".join(
        CABINET.format(n=n, first=n * SLOTS + 1, last=(n + 1) * SLOTS) for n in range(CABINETS)
    )
    (folder / "lockerkey.toml").write_text(CONFIG.format(cabinets=cabinets), encoding="utf-8")
    copy = folder / "data" / "locker.db"
    shutil.copyfile(ledger, copy)
    # On disk before the daemon starts: otherwise its first checkpoint's fsync writes back the
    # whole fresh copy (half a second for the big ledger), which no kiosk ever sees.
    with copy.open("rb+") as f:
        os.fsync(f.fileno())


class Reader:
    """A serial barcode reader: the daemon opens the far end of a pty at site/reader.link."""

    def __init__(self, site: Path) -> None:
        self.master, self.slave = os.openpty()
        (site / "reader.link").symlink_to(os.ttyname(self.slave))

    def scan(self, code: str) -> int:
        """Send ``code`` and its line end; the time (ns) its last byte was written."""
        os.write(self.master, code.encode() + b"\r\n")
        return time.perf_counter_ns()

    def close(self) -> None:
        """Close both ends."""
        os.close(self.master)
        os.close(self.slave)


class Daemon:
    """`lockerkey run` in ``site``; each log line is handed to the loop with its arrival time."""

    def __init__(self, site: Path, loop: asyncio.AbstractEventLoop) -> None:
        self.started = time.perf_counter_ns()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lockerkey", "run"],
            cwd=site,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.loop = loop
        self.lines: deque[str] = deque(maxlen=200)  # the last lines, for an error message
        self._waiters: list[tuple[str, asyncio.Future[tuple[int, str]]]] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.loop.call_soon_threadsafe(self._arrived, time.perf_counter_ns(), line)

    def _arrived(self, when: int, line: str) -> None:
        self.lines.append(line)
        for waiter in list(self._waiters):
            needle, future = waiter
            if needle in line and not future.done():
                future.set_result((when, line))
                self._waiters.remove(waiter)

    def expect(self, needle: str) -> asyncio.Future[tuple[int, str]]:
        """A future for the next log line containing ``needle``: (arrival ns, line)."""
        future: asyncio.Future[tuple[int, str]] = self.loop.create_future()
        self._waiters.append((needle, future))
        return future

    async def ready(self, timeout: float = 30.0) -> tuple[float, int]:
        """Wait for ready and the web server: seconds from launch to ready, and the port."""
        ready = self.expect(" ready ")
        web = self.expect("serving the kiosk page on")
        try:
            at, _ = await asyncio.wait_for(ready, timeout)
            _, line = await asyncio.wait_for(web, timeout)
        except TimeoutError:
            raise RuntimeError("the daemon did not get ready:\n" + "".join(self.lines)) from None
        port = re.search(r":(\d+)/", line)
        assert port is not None, line
        return (at - self.started) / 1e9, int(port.group(1))

    def memory_kb(self) -> dict[str, int]:
        """VmRSS (now) and VmHWM (peak) of the daemon, in kB."""
        fields = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
        return fields

    def stop(self) -> int:
        """SIGTERM and its exit status."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("the daemon did not stop within 10 s") from None


class Cabinets:
    """The site's simulated cabinets on ptys (cab0.link ...), with their unlock waiters."""

    def __init__(self, site: Path) -> None:
        self.site = site
        self.unlocks: asyncio.Queue[tuple[int, int, int]] = asyncio.Queue()  # cab, slot, ns
        self.controllers = [
            TimedController(SLOTS, self._unlocked(n), seed=n) for n in range(CABINETS)
        ]
        self.sims = [Simulator(c, seed=n) for n, c in enumerate(self.controllers)]

    def _unlocked(self, cabinet: int) -> Callable[[int, int], None]:
        return lambda slot, ns: self.unlocks.put_nowait((cabinet, slot, ns))

    async def start(self) -> None:
        """Serve every cabinet on its pty."""
        for n, sim in enumerate(self.sims):
            await sim.start_pty(self.site / f"cab{n}.link")

    async def stop(self) -> None:
        """Close every pty."""
        for sim in self.sims:
            await sim.stop()


class CommitWatch:
    """When a commit is durable: a thread polls the ledger with its own read-only connection
    until a query finds a row. Under WAL a reader sees a commit only once the writer's commit
    (its fsync included, with synchronous=FULL) has returned."""

    ACTIVE = "SELECT 1 FROM rentals WHERE member_id = ? AND status = 'active'"
    RETURNED = (
        "SELECT 1 WHERE NOT EXISTS"
        " (SELECT 1 FROM rentals WHERE member_id = ? AND status = 'active')"
    )
    GIVE_UP_NS = 5_000_000_000

    def __init__(self, db: Path, loop: asyncio.AbstractEventLoop) -> None:
        self.conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, check_same_thread=False)
        self.loop = loop
        self._go = threading.Event()
        self._job: tuple[str, tuple[object, ...], asyncio.Future[int]] | None = None
        threading.Thread(target=self._run, daemon=True).start()

    def arm(self, sql: str, *params: object) -> asyncio.Future[int]:
        """A future for the time (ns) ``sql`` first finds a row, once ``start`` is called."""
        future: asyncio.Future[int] = self.loop.create_future()
        self._job = (sql, params, future)
        return future

    def start(self) -> None:
        """Start polling (when the key event leaves: the poller must not steal the CPU before)."""
        self._go.set()

    def _run(self) -> None:
        while True:
            self._go.wait()
            self._go.clear()
            job = self._job
            if job is None:
                return
            sql, params, future = job
            began = time.perf_counter_ns()
            while self.conn.execute(sql, params).fetchone() is None:
                if time.perf_counter_ns() - began > self.GIVE_UP_NS:
                    self.loop.call_soon_threadsafe(future.set_exception, TimeoutError(sql))
                    break
                # Polling flat out slows the writer down (each read takes the WAL's locks):
                # about 0.1 ms between reads is the figure's resolution.
                time.sleep(POLL_S)
            else:
                self.loop.call_soon_threadsafe(future.set_result, time.perf_counter_ns())

    def close(self) -> None:
        """End the thread and the connection."""
        self._job = None
        self._go.set()
        self.conn.close()

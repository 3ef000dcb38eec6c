"""lockerkey commands as real processes, for the end-to-end tests."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

from lockerkey.fwsim.rules import BROKEN

WAIT = 20.0  # seconds a condition may take before the test fails; normally well under one


def spawn(site: Path, *args: str) -> subprocess.Popen[str]:
    """``python -m lockerkey ARGS`` in the site folder, with pipes for all three streams."""
    return subprocess.Popen(
        [sys.executable, "-m", "lockerkey", *args],
        cwd=site,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


class Lines:
    """A stream read on a thread, so a test can wait for a line without blocking forever."""

    def __init__(self, stream: IO[str]) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, needle: str, timeout: float = WAIT) -> str:
        """The next line containing ``needle``; fail (with what came) on timeout or EOF."""
        while True:
            try:
                line = self._queue.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(self._why(needle, "not within the wait")) from None
            if line is None:
                self._queue.put(None)
                raise AssertionError(self._why(needle, "the stream ended"))
            self.seen.append(line)
            if needle in line:
                return line

    def _why(self, needle: str, what: str) -> str:
        return f"{needle!r}: {what}; seen so far:\n{''.join(self.seen[-40:])}"

    def text(self) -> str:
        """Everything seen so far plus what is queued now."""
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return "".join(self.seen)
            if line is None:
                self._queue.put(None)
                return "".join(self.seen)
            self.seen.append(line)


class SimulatorProcess:
    """``lockerkey simulate OPTIONS --link cabinet.link`` in ``where``, driven by its console."""

    def __init__(self, where: Path, *options: str, link: str = "cabinet.link") -> None:
        self.link = where / link
        self.proc = spawn(where, "simulate", *options, "--link", link)
        assert self.proc.stdout is not None
        assert f"listening on {link}" in self.proc.stdout.readline()

    def ask(self, command: str) -> str:
        """One console command and its one-line answer."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def close(self) -> None:
        """Quit (end of input); a firmware run must not have broken a rule on its pins."""
        assert self.proc.stdin is not None and self.proc.stderr is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)
        log = self.proc.stderr.read()
        markers = (BROKEN, "starved the watchdog", "the firmware raised")
        bugs = [line for line in log.splitlines() if any(m in line for m in markers)]
        assert not bugs, "\n".join(bugs)


def run_to_end(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m lockerkey ARGS`` in ``where`` until it exits (60 s at most), output kept."""
    return subprocess.run(
        [sys.executable, "-m", "lockerkey", *args],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

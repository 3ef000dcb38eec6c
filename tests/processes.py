"""lockerkey commands as real processes, for the end-to-end tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lockerkey.fwsim.rules import BROKEN


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


class SimulatorProcess:
    """``lockerkey simulate OPTIONS --link cabinet.link`` in ``where``, driven by its console."""

    def __init__(self, where: Path, *options: str) -> None:
        self.link = where / "cabinet.link"
        self.proc = spawn(where, "simulate", *options, "--link", "cabinet.link")
        assert self.proc.stdout is not None
        assert "listening on cabinet.link" in self.proc.stdout.readline()

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

"""``lockerkey run`` as a real process beside ``lockerkey simulate``: a pty, stdin, SIGTERM."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

CONFIG = """\
device_id = "RUN_TEST"
timezone = "Asia/Seoul"
data_dir = "data"

[[cabinet]]
port = "cabinet.link"
lockers = "1-4"

[scanner]
kind = "stdin"

[session]
timeout_s = 30
selection = "auto"
"""


def read_until(stream: IO[str], needle: str) -> list[str]:
    """Lines up to and including the first one containing ``needle`` (EOF fails the test)."""
    seen: list[str] = []
    for line in stream:
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never appeared; output was:\n{''.join(seen)}")


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "lockerkey.toml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "members.csv").write_text(
        "바코드,이름,상태,만료일\nR100,가상회원,활성,2099-12-31\n", encoding="utf-8"
    )
    done = subprocess.run(
        [sys.executable, "-m", "lockerkey", "members", "import", "members.csv"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    yield tmp_path


@pytest.fixture
def cabinet(site: Path) -> Iterator[subprocess.Popen[str]]:
    """``lockerkey simulate`` on a pty linked at site/cabinet.link, driven through its stdin."""
    sim = spawn(site, "simulate", "--slots", "4", "--link", "cabinet.link")
    assert sim.stdout is not None and sim.stdin is not None
    assert "listening on cabinet.link -> /dev/pts/" in sim.stdout.readline()
    yield sim
    sim.stdin.close()
    assert sim.wait(timeout=10) == 0
    assert not (site / "cabinet.link").exists()


def ask(sim: subprocess.Popen[str], command: str) -> str:
    """One console command to the simulator and its one-line answer."""
    assert sim.stdin is not None and sim.stdout is not None
    sim.stdin.write(command + "\n")
    sim.stdin.flush()
    return sim.stdout.readline().strip()


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


def test_run_rents_returns_and_stops_cleanly_on_sigterm(
    site: Path, cabinet: subprocess.Popen[str]
) -> None:
    proc = spawn(site, "run")
    assert proc.stdin is not None and proc.stdout is not None
    try:
        read_until(proc.stdout, "[idle]")
        proc.stdin.write("R100\n")
        proc.stdin.flush()
        read_until(proc.stdout, "[take_key]")  # shown once the slot has been unlocked
        assert ask(cabinet, "take 2") == "error: slot 2 is locked; force it to take the key anyway"
        assert ask(cabinet, "take 1") == "ok"
        read_until(proc.stdout, "대여 완료")
        proc.stdin.write("KEY-1\n")
        proc.stdin.flush()
        read_until(proc.stdout, "[return_key]")
        assert ask(cabinet, "insert 1") == "ok"
        read_until(proc.stdout, "반납 완료")
        assert ask(cabinet, "status").startswith("ok keys=-1111 doors=----- locks=-1111 ")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert "ready" in stderr and "4 lockers" in stderr
    with sqlite3.connect(site / "data" / "locker.db") as db:
        row = db.execute(
            "SELECT locker_number, status, rental_verified, return_verified, device_id FROM rentals"
        ).fetchone()
    assert row == ("1", "returned", 1, 1, "RUN_TEST")


def test_run_refuses_a_broken_config_before_anything_starts(tmp_path: Path) -> None:
    bad = CONFIG.replace("timeout_s = 30", "timeout_s = 0").replace("[scanner]", "[scaner]")
    (tmp_path / "lockerkey.toml").write_text(bad, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "lockerkey", "run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert "lockerkey.toml" in done.stderr
    assert "session.timeout_s" in done.stderr and "scaner" in done.stderr
    assert not (tmp_path / "data").exists()

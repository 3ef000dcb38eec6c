"""``lockerkey admin``: set-password, list and remove, as a real process and in-process."""

from __future__ import annotations

import getpass
import re
import subprocess
import sys
from pathlib import Path

import pytest

from lockerkey import cli

CONFIG = """\
device_id = "ADMIN"
data_dir = "data"

[[cabinet]]
name = "main"
port = "/dev/null"
lockers = "1-4"
"""


def lockerkey(where: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m lockerkey ARGS`` in ``where`` with ``stdin`` as its input."""
    return subprocess.run(
        [sys.executable, "-m", "lockerkey", *args],
        cwd=where,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_admin_commands_as_a_process(tmp_path: Path) -> None:
    (tmp_path / "lockerkey.toml").write_text(CONFIG, encoding="utf-8")
    empty = lockerkey(tmp_path, "admin", "list")
    assert empty.returncode == 0 and "no admin accounts yet" in empty.stdout
    made = lockerkey(
        tmp_path, "admin", "set-password", "kim", "--password-stdin", stdin="pw-kim-123\n"
    )
    assert made.returncode == 0, made.stderr
    assert "created the admin account 'kim'" in made.stdout
    short = lockerkey(tmp_path, "admin", "set-password", "lee", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    bad = lockerkey(
        tmp_path, "admin", "set-password", "a b", "--password-stdin", stdin="long enough\n"
    )
    assert bad.returncode == 1 and "no spaces" in bad.stderr
    changed = lockerkey(
        tmp_path, "admin", "set-password", "kim", "--password-stdin", stdin="pw-kim-456\r\n"
    )
    assert changed.returncode == 0 and "changed the password of 'kim'" in changed.stdout
    listed = lockerkey(tmp_path, "admin", "list")
    assert listed.returncode == 0 and re.search(r"^kim\s+\d{4}-\d\d-\d\d", listed.stdout, re.M)
    assert "lee" not in listed.stdout
    gone = lockerkey(tmp_path, "admin", "remove", "kim")
    assert gone.returncode == 0 and "removed the admin account 'kim'" in gone.stdout
    again = lockerkey(tmp_path, "admin", "remove", "kim")
    assert again.returncode == 1 and "there is no admin account 'kim'" in again.stderr
    for run in (empty, made, short, bad, changed, listed, gone, again):
        assert "pw-kim" not in run.stdout + run.stderr
    db = (tmp_path / "data" / "locker.db").read_bytes()
    assert b"pw-kim" not in db
    audit = lockerkey(tmp_path, "status", "--json")
    assert audit.returncode == 0


def test_set_password_asks_twice_and_refuses_a_mismatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "lockerkey.toml"
    config.write_text(CONFIG.replace('"data"', f'"{tmp_path / "data"}"'), encoding="utf-8")
    answers = iter(["first password", "second password"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    assert cli.main(["-c", str(config), "admin", "set-password", "kim"]) == 1
    assert "do not match; nothing was changed" in capsys.readouterr().err
    answers = iter(["same password", "same password"])
    assert cli.main(["-c", str(config), "admin", "set-password", "kim"]) == 0
    assert "created" in capsys.readouterr().out

    def interrupted(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr(getpass, "getpass", interrupted)
    assert cli.main(["-c", str(config), "admin", "set-password", "kim"]) == 1
    assert "no password given" in capsys.readouterr().err
    assert cli.main(["-c", str(config), "admin", "list"]) == 0
    assert capsys.readouterr().out.count("kim") == 1

"""``lockerkey firmware``: board-file validation, ``deploy`` with a fake mpremote, and ``check``
against the project's simulator (a real process on a real pty) and a pty that is no controller.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lockerkey import cli, firmware_tool
from lockerkey.board_file import validate_board
from tests.processes import SimulatorProcess

ROOT = Path(__file__).resolve().parents[1]
BOARDS = ROOT / "firmware" / "boards"


def board(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((BOARDS / f"{name}.json").read_text(encoding="utf-8"))
    return data


# ---- board files ------------------------------------------------------------------------------


def test_the_example_boards_validate() -> None:
    per_slot, shared = board("per-slot-24"), board("shared-door-60")
    assert validate_board(per_slot) == []
    assert validate_board(shared) == []
    assert (per_slot["kind"], per_slot["slots"], len(per_slot["slot"])) == ("per_slot", 24, 24)
    assert (shared["kind"], shared["slots"], len(shared["slot"])) == ("shared_door", 60, 60)
    assert per_slot["lock"]["mode"] == "pulse" and "pulse" in per_slot["name"]
    assert shared["lock"]["mode"] == "hold" and "hold" in shared["name"]
    assert all("lock" not in slot for slot in shared["slot"]) and "lock" in shared["door"]


def test_every_board_file_in_the_repository_validates() -> None:
    files = sorted(BOARDS.glob("*.json"))
    assert len(files) >= 2
    for path in files:
        assert validate_board(json.loads(path.read_text(encoding="utf-8"))) == [], path.name


def _set(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    """A change to a board: set the value at a dotted path ("slot.0.key"); None deletes it."""

    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        if value is None:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


BROKEN = [
    ("slot count", "per-slot-24", _set("slots", 25), "slot: 24 entries, but slots is 25"),
    ("slot count range", "per-slot-24", _set("slots", 0), "slots: expected an integer 1..255"),
    ("pin spec", "per-slot-24", _set("slot.0.key", "x0-0"), "slot 1 key: 'x0-0' is not a pin"),
    ("pin spec gpio", "per-slot-24", _set("buzzer", "GPIO27"), "buzzer: 'GPIO27' is not a pin"),
    ("pin type", "per-slot-24", _set("slot.2.lock", 4), "slot 3 lock: 4 is not a pin"),
    (
        "duplicate pin",
        "per-slot-24",
        _set("slot.1.lock", "x0.4"),
        "slot 2 lock: x0.4 is already used by slot 1 lock",
    ),
    (
        "duplicate across polarity",
        "per-slot-24",
        _set("buzzer", "!x0.4"),
        "slot 1 lock: x0.4 is already used by buzzer",
    ),
    (
        "duplicate gpio with i2c",
        "shared-door-60",
        _set("buzzer", "gpio:21"),
        "buzzer: gpio:21 is already used by i2c.sda",
    ),
    ("output on 34", "per-slot-24", _set("buzzer", "gpio:34"), "buzzer: gpio:34 is input-only"),
    (
        "door lock on 39",
        "shared-door-60",
        _set("door.lock", "gpio:39"),
        "door.lock: gpio:39 is input-only",
    ),
    ("i2c on 36", "per-slot-24", _set("i2c.scl", 36), "i2c.scl: gpio:36 is input-only"),
    (
        "strapping output",
        "per-slot-24",
        _set("buzzer", "gpio:12"),
        "buzzer: gpio:12 is a strapping pin",
    ),
    ("flash pin", "per-slot-24", _set("buzzer", "gpio:7"), "gpio:7 is not a usable ESP32 GPIO"),
    ("console pin", "per-slot-24", _set("buzzer", "gpio:1"), "gpio:1 is already used by link"),
    (
        "expander index",
        "per-slot-24",
        _set("slot.0.key", "!x3.0"),
        "x3: there is no such expander (3 listed)",
    ),
    ("expander pin", "per-slot-24", _set("slot.0.key", "!x0.16"), "x0.16 is not a pin"),
    (
        "GPA7 input",
        "per-slot-24",
        _set("slot.3", {"key": "!x0.7", "lock": "x0.3"}),
        "slot 4 key: x0.7 is GPA7/GPB7",
    ),
    (
        "expander address",
        "per-slot-24",
        _set("expanders", [32, 33, 64]),
        "expanders: expected 1..8 different addresses",
    ),
    (
        "expander twice",
        "per-slot-24",
        _set("expanders", [32, 32, 33]),
        "expanders: expected 1..8 different addresses",
    ),
    ("no i2c", "per-slot-24", _set("i2c", None), "i2c: required when a pin is on an expander"),
    (
        "lock missing",
        "per-slot-24",
        _set("slot.5.lock", None),
        "slot 6: a per_slot cabinet needs a lock on every slot",
    ),
    (
        "lock on a shared door's slot",
        "shared-door-60",
        _set("slot.0.lock", "gpio:4"),
        "slot 1: a shared_door cabinet has only a key sensor per slot",
    ),
    ("door lock missing", "shared-door-60", _set("door.lock", None), "door.lock: required"),
    ("shared door missing", "shared-door-60", _set("door", None), "door.lock: required"),
    (
        "door in per_slot",
        "per-slot-24",
        _set("door", {"lock": "gpio:25"}),
        "door: only a shared_door cabinet has a shared door",
    ),
    ("kind", "per-slot-24", _set("kind", "perslot"), "kind: expected one of per_slot, shared_door"),
    ("pulse limit", "per-slot-24", _set("lock.max_on_ms", None), "lock.max_on_ms: required"),
    ("lock mode", "per-slot-24", _set("lock.mode", "latch"), "lock.mode: expected one of"),
    (
        "max_energised",
        "per-slot-24",
        _set("lock.max_energised", 0),
        "lock.max_energised: expected an integer",
    ),
    ("uart link", "per-slot-24", _set("link", {"type": "uart"}), "link.tx: required"),
    ("link type", "per-slot-24", _set("link.type", "wifi"), "link.type: expected one of usb"),
    ("hold on-time", "shared-door-60", _set("lock.max_on_ms", 500), "only for a pulse lock"),
    ("usb extras", "per-slot-24", _set("link.baud", 9600), "a usb link takes no other keys"),
    ("typo", "per-slot-24", _set("buzzzer", "gpio:27"), "board: unknown key 'buzzzer'"),
    ("slot typo", "per-slot-24", _set("slot.0.lcok", "x2.4"), "slot 1: unknown key 'lcok'"),
    ("name", "per-slot-24", _set("name", " "), "name: expected a non-empty string"),
    ("wdt", "per-slot-24", _set("wdt_ms", 10), "wdt_ms: expected an integer 1000.."),
    ("bool is no int", "per-slot-24", _set("slots", True), "slots: expected an integer"),
]


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [(b, c, p) for _, b, c, p in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_a_broken_board_names_its_problem(
    name: str, change: Callable[[dict[str, Any]], None], problem: str
) -> None:
    data = copy.deepcopy(board(name))
    change(data)
    problems = validate_board(data)
    assert any(problem in found for found in problems), problems


def test_a_good_uart_board_and_active_low_outputs_validate() -> None:
    data = board("shared-door-60")
    data["link"] = {"type": "uart", "id": 1, "tx": 17, "rx": 16, "baud": 115200}
    data["door"] = {"lock": "!gpio:25", "sensor": "!gpio:26"}
    data["_note"] = data["lock"]["_note"] = "keys starting with _ are comments"
    del data["lock"]["max_energised"], data["lock"]["stagger_ms"]  # the firmware has defaults
    assert validate_board(data) == []
    data["link"]["rx"] = 21  # the i2c's sda
    assert validate_board(data) == ["i2c.sda: gpio:21 is already used by link.rx"]


def test_not_an_object() -> None:
    assert validate_board([1, 2]) == ["board: expected a JSON object"]
    assert "slots: required" in validate_board({})


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["per-slot-24", "shared-door-60"]), st.text(max_size=12), JSON)
def test_validation_never_raises(name: str, key: str, value: object) -> None:
    """Whatever replaces a part of a board, validation answers with a list of problems."""
    data = copy.deepcopy(board(name))
    for where in (data, data["lock"], data["slot"][0], data.get("door", data["link"])):
        where[key or "slot"] = value
        assert isinstance(validate_board(data), list)
    assert isinstance(validate_board(value), list)


# ---- deploy -----------------------------------------------------------------------------------

FAKE_MPREMOTE = """\
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps(args) + "\\n")
fail = os.environ.get("FAKE_FAIL", "")
if fail and fail in args:
    sys.stderr.write("mpremote: " + fail + ": could not enter raw repl\\n")
    sys.exit(1)
if "mkdir" in args and os.environ.get("FAKE_EXISTS"):
    sys.stderr.write("mpremote: mkdir: [Errno 17] EEXIST: File exists.\\n")
    sys.exit(1)
"""


@pytest.fixture
def firmware(tmp_path: Path) -> Path:
    """A firmware tree like the repository's: lk/*.py and main.py."""
    root = tmp_path / "fw"
    (root / "lk").mkdir(parents=True)
    for name in ("__init__.py", "board.py", "proto.py"):
        (root / "lk" / name).write_text("# firmware\n", encoding="utf-8")
    (root / "lk" / "notes.txt").write_text("not python\n", encoding="utf-8")
    (root / "main.py").write_text("import lk\n", encoding="utf-8")
    return root


@pytest.fixture
def mpremote(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fake mpremote first on PATH; yields the file where it records each call's arguments."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    tool = bin_dir / "mpremote"
    tool.write_text(f"#!{sys.executable}\n{FAKE_MPREMOTE}", encoding="utf-8")
    tool.chmod(0o755)
    log = tmp_path / "mpremote.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_LOG", str(log))
    yield log


def calls(log: Path) -> list[list[str]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def test_deploy_copies_the_package_main_and_the_board_then_resets(
    firmware: Path, mpremote: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = BOARDS / "per-slot-24.json"
    assert firmware_tool.deploy("/dev/ttyUSB7", path, firmware) == 0
    lk = firmware / "lk"
    connect = ["connect", "/dev/ttyUSB7"]
    assert calls(mpremote) == [
        [*connect, "fs", "mkdir", ":lk"],
        [*connect, "fs", "cp", str(lk / "__init__.py"), ":lk/__init__.py"],
        [*connect, "fs", "cp", str(lk / "board.py"), ":lk/board.py"],
        [*connect, "fs", "cp", str(lk / "proto.py"), ":lk/proto.py"],
        [*connect, "fs", "cp", str(path), ":board.json"],
        [*connect, "fs", "cp", str(firmware / "main.py"), ":main.py"],
        [*connect, "reset"],
    ]
    out = capsys.readouterr().out
    assert "[1/7] mpremote connect /dev/ttyUSB7 fs mkdir :lk" in out
    assert "[7/7] mpremote connect /dev/ttyUSB7 reset" in out
    assert "lockerkey firmware check --port /dev/ttyUSB7" in out


def test_deploy_copies_boot_py_and_accepts_an_existing_lk_directory(
    firmware: Path, mpremote: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (firmware / "boot.py").write_text("# boot\n", encoding="utf-8")
    monkeypatch.setenv("FAKE_EXISTS", "1")
    assert firmware_tool.deploy("COM3", BOARDS / "shared-door-60.json", firmware) == 0
    commands = [call[2:] for call in calls(mpremote)]
    assert ["fs", "cp", str(firmware / "boot.py"), ":boot.py"] in commands
    assert commands[-1] == ["reset"]


def test_deploy_stops_at_the_first_failing_command_and_shows_its_stderr(
    firmware: Path,
    mpremote: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "cp")
    assert firmware_tool.deploy("/dev/ttyUSB0", BOARDS / "per-slot-24.json", firmware) == 1
    assert [call[2:4] for call in calls(mpremote)] == [["fs", "mkdir"], ["fs", "cp"]]
    err = capsys.readouterr().err
    assert "step 2 failed (mpremote exit 1): mpremote: cp: could not enter raw repl" in err


def test_deploy_refuses_an_invalid_board_before_calling_mpremote(
    firmware: Path, mpremote: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = board("per-slot-24")
    data["buzzer"] = "gpio:35"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    assert firmware_tool.deploy("/dev/ttyUSB0", bad, firmware) == 1
    assert calls(mpremote) == []
    err = capsys.readouterr().err
    assert "1 problem(s), nothing was copied" in err and "buzzer: gpio:35 is input-only" in err
    bad.write_text("{not json", encoding="utf-8")
    assert firmware_tool.deploy("/dev/ttyUSB0", bad, firmware) == 1
    assert firmware_tool.deploy("/dev/ttyUSB0", tmp_path / "missing.json", firmware) == 1
    assert cli.main(["firmware", "deploy", "--port", "/dev/ttyUSB0", "--board", str(bad)]) == 1
    assert calls(mpremote) == []
    err = capsys.readouterr().err
    assert f"{bad}: cannot read it as JSON" in err and "missing.json: cannot read it" in err


def test_deploy_without_mpremote_says_how_to_install_it(
    firmware: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(sys, "executable", str(empty / "python"))
    assert firmware_tool.deploy("/dev/ttyUSB0", BOARDS / "per-slot-24.json", firmware) == 1
    assert "pip install mpremote" in capsys.readouterr().err


def test_deploy_without_the_firmware_says_where_it_looked(
    tmp_path: Path, mpremote: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert firmware_tool.deploy("/dev/ttyUSB0", BOARDS / "per-slot-24.json", tmp_path / "no") == 1
    assert calls(mpremote) == []
    assert f"no firmware (lk/*.py and main.py) in {tmp_path / 'no'}" in capsys.readouterr().err


def test_the_default_firmware_is_the_repositorys() -> None:
    assert firmware_tool.FIRMWARE == ROOT / "firmware"


# ---- check ------------------------------------------------------------------------------------


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """Starts the simulator with the given options; returns the path of its link."""
    started: list[SimulatorProcess] = []

    def start(*args: str) -> Path:
        started.append(SimulatorProcess(tmp_path, *args))
        return started[-1].link

    yield start
    for sim in started:
        sim.close()


def test_check_reports_a_per_slot_cabinet_and_pulses_every_lock(
    simulator: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    link = simulator("--slots", "4")
    assert firmware_tool.check(str(link), pulse=True) == 0
    out = capsys.readouterr().out
    assert "firmware: lockerkey-sim/" in out and "protocol: 1" in out
    assert "slots: 4" in out and "kind: a lock per slot" in out and "boot id: " in out
    for slot in range(1, 5):
        assert f"      {slot}  present  -       locked" in out
        assert f"pulse {slot}: released and relocked: ok" in out
    assert "pulse door" not in out and "lock_all: ok" in out


def test_check_reports_a_shared_door_and_its_door_sensor(
    simulator: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    link = simulator("--slots", "3", "--shared-door")
    assert firmware_tool.check(str(link), pulse=False) == 0
    out = capsys.readouterr().out
    assert "slots: 3" in out and "kind: a shared door (slot 0)" in out
    assert "   door  -        closed  locked" in out
    assert "      3  present  -       -" in out
    assert "pulse" not in out and "lock_all" not in out
    assert firmware_tool.check(str(link), pulse=True) == 0
    out = capsys.readouterr().out
    assert "pulse door: released and relocked: ok" in out and "pulse 1" not in out


def test_check_of_a_port_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert firmware_tool.check(str(tmp_path / "ttyNONE"), pulse=False) == 1
    err = capsys.readouterr().err
    assert f"cannot open the port: {tmp_path / 'ttyNONE'}: no such port" in err
    assert cli.main(["firmware", "check", "--port", str(tmp_path / "ttyNONE")]) == 1


def test_check_of_a_device_that_does_not_speak_the_protocol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pty answering like the MicroPython REPL: it echoes, then complains."""
    master, slave = os.openpty()
    link = tmp_path / "repl.link"
    link.symlink_to(os.ttyname(slave))

    def repl() -> None:
        try:
            while data := os.read(master, 1024):
                os.write(master, data + b"\r\nSyntaxError: invalid syntax\r\n>>> ")
        except OSError:
            pass

    threading.Thread(target=repl, daemon=True).start()
    try:
        assert firmware_tool.check(str(link), pulse=False) == 1
    finally:
        os.close(slave)
        os.close(master)
    err = capsys.readouterr().err
    assert "no reply to hello" in err and "that are not lockerkey protocol" in err


def test_check_of_a_silent_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    master, slave = os.openpty()
    link = tmp_path / "silent.link"
    link.symlink_to(os.ttyname(slave))
    try:
        assert firmware_tool.check(str(link), pulse=False) == 1
    finally:
        os.close(slave)
        os.close(master)
    assert "no reply to hello, nothing: is the lockerkey firmware running?" in (
        capsys.readouterr().err
    )


def test_check_reports_a_lock_that_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = SimulatorProcess(tmp_path, "--slots", "3")
    try:
        assert sim.ask("fail 2") == "ok"  # slot 2's lock output is broken
        assert firmware_tool.check(str(sim.link), pulse=True) == 1
    finally:
        sim.close()
    captured = capsys.readouterr()
    assert "pulse 1: released and relocked: ok" in captured.out
    assert "pulse 2: FAILED: unlock: hw_fault" in captured.out
    assert "pulse 3: released and relocked: ok" in captured.out
    assert "lock_all: hw_fault" in captured.out
    assert "failed to pulse 2" in captured.err


def test_check_of_a_port_url_pyserial_does_not_know(capsys: pytest.CaptureFixture[str]) -> None:
    assert firmware_tool.check("nosuch://where", pulse=False) == 1
    assert "cannot open the port: nosuch://where: " in capsys.readouterr().err


@pytest.mark.parametrize("name", ["per-slot-24", "shared-door-60"])
def test_the_firmware_itself_accepts_the_example_boards(name: str) -> None:
    """The firmware's own board parser (firmware/lk/board.py, run here under CPython)."""
    if not (ROOT / "firmware" / "lk" / "board.py").is_file():
        pytest.skip("firmware/lk is not in this tree")
    code = (
        "import sys; sys.path.insert(0, 'firmware'); from lk import board; "
        f"b = board.load('firmware/boards/{name}.json'); print(b.kind, b.slots, len(b.lockable))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    expected = {"per-slot-24": "per_slot 24 24", "shared-door-60": "shared_door 60 1"}
    assert done.stdout.split("\n")[0] == expected[name]


def test_check_against_the_real_firmware_with_the_shared_door_board(
    simulator: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("lockerkey.fwsim")
    board_file = str(BOARDS / "shared-door-60.json")
    link = simulator("--firmware", "--board", board_file)
    assert firmware_tool.check(str(link), pulse=True) == 0
    out = capsys.readouterr().out
    assert "firmware: lockerkey-fw/" in out and "shared-door-60 (hold-type bolt)" in out
    assert "slots: 60" in out and "   door  -        closed  locked" in out
    assert "pulse door: released and relocked: ok" in out and "lock_all: ok" in out


def test_check_of_a_port_another_program_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    master, slave = os.openpty()
    link = tmp_path / "busy.link"
    link.symlink_to(os.ttyname(slave))
    fcntl.flock(slave, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as ``lockerkey run`` holds its port
    try:
        assert firmware_tool.check(str(link), pulse=False) == 1
    finally:
        os.close(slave)
        os.close(master)
    assert "the port is in use by another program" in capsys.readouterr().err

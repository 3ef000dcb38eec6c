"""The firmware's hardware-free modules (firmware/lk) under real MicroPython.

Runs firmware/tests/test_*.py through tools/micropython/run.mjs, which loads MicroPython's
WebAssembly port (npm package @micropython/micropython-webassembly-pyscript) in Node.js.
`make test` installs that package (npm ci in tools/micropython) whenever npm is present.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNER = ROOT / "tools" / "micropython" / "run.mjs"
PACKAGE = (
    ROOT
    / "tools"
    / "micropython"
    / "node_modules"
    / "@micropython"
    / "micropython-webassembly-pyscript"
    / "micropython.mjs"
)
FIRMWARE = ROOT / "firmware"
TIMEOUT_S = 120
SKIP_REASON = (
    "Node.js is not installed: the MicroPython (WASM) part of the firmware tests did not run"
)


def test_firmware_modules_pass_their_tests_under_micropython() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip(SKIP_REASON)
    assert PACKAGE.is_file(), (
        f"{PACKAGE.relative_to(ROOT)} is missing: run `make test` (it runs "
        "`npm ci` in tools/micropython) to install MicroPython's WebAssembly port"
    )
    tests = sorted(str(p) for p in (FIRMWARE / "tests").glob("test_*.py"))
    assert tests, "no firmware/tests/test_*.py found"
    try:
        proc = subprocess.run(
            [node, str(RUNNER), "--root", str(FIRMWARE), *tests],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail(f"run.mjs did not finish in {TIMEOUT_S} s; its output so far:\n{out}")
    output = proc.stdout + proc.stderr
    print(output)  # shown by pytest on failure, and with -s
    # The failures with their tracebacks, and the summary: everything but the PASS lines.
    brief = "\n".join(line for line in output.splitlines() if not line.startswith("PASS "))
    assert proc.returncode == 0, (
        f"MicroPython firmware tests failed (run.mjs exit {proc.returncode}):\n{brief}"
    )
    # It really ran on MicroPython, not on a CPython stand-in.
    assert "name='micropython'" in proc.stdout, brief
    assert "MicroPython v" in proc.stdout, brief
    m = re.search(r"^micropython: (\d+) passed, (\d+) failed$", proc.stdout, re.MULTILINE)
    assert m is not None, brief
    assert int(m.group(1)) > 0, brief
    assert int(m.group(2)) == 0, brief

"""A whole kiosk as real processes for the web tests: simulated cabinets on ptys, then
``lockerkey run`` serving its page on a free port."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

from tests.processes import Lines, SimulatorProcess, run_to_end, spawn

CONFIG = """\
device_id = "WEB"
timezone = "Asia/Seoul"
data_dir = "data"
{cabinets}{zones}
[scanner]
kind = "none"

[session]
timeout_s = {timeout}
selection = "{selection}"

[backup]
time = ""

[web]
port = 0
"""

# The per-slot cabinet's lockers (1-24) in two zones; a site without that cabinet has none.
ZONES = """
[[zone]]
name = "male"
lockers = "1-12"
allow = { gender = ["M"] }

[[zone]]
name = "female"
lockers = "13-24"
allow = { gender = ["F"] }
"""
PER_SLOT = '\n[[cabinet]]\nname = "main"\nport = "cabinet1.link"\nlockers = "1-24"\n'
SHARED = (
    '\n[[cabinet]]\nname = "sauna"\nport = "cabinet2.link"\nlockers = "101-106"'
    '\nkind = "shared_door"\n'
)

MEMBERS = (
    "barcode,name,status,expiry_date,gender,category\n"
    "W001,가상남성,active,2099-12-31,M,regular\n"
    "W002,가상여성,active,2099-12-31,F,regular\n"
    "W003,가상정지,suspended,2099-12-31,M,regular\n"
    "W004,가상만료,active,2020-01-31,F,regular\n"
    "W005,가상직원,active,2099-12-31,M,staff\n"
)


class WebSite:
    """Cabinets (``kinds``: "per_slot", "shared_door") and the daemon, in folder ``site``.

    The zones (men 1-12, women 13-24) come with the per-slot cabinet. ``admins``: console
    accounts (name, password) made before the daemon starts.
    """

    def __init__(
        self,
        site: Path,
        kinds: tuple[str, ...] = ("per_slot",),
        timeout: int = 30,
        selection: str = "choose",
        extra: str = "",
        admins: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.site = site
        cabinets = "".join(PER_SLOT if k == "per_slot" else SHARED for k in kinds)
        zones = ZONES if "per_slot" in kinds else ""
        config = CONFIG.format(cabinets=cabinets, zones=zones, timeout=timeout, selection=selection)
        (site / "lockerkey.toml").write_text(config + extra, encoding="utf-8")
        (site / "members.csv").write_text(MEMBERS, encoding="utf-8")
        done = run_to_end(site, "members", "import", "members.csv")
        assert done.returncode == 0, done.stderr
        for name, password in admins:
            self.add_admin(name, password)
        self.cabinets: dict[str, SimulatorProcess] = {}
        for kind in kinds:
            if kind == "per_slot":
                self.cabinets[kind] = SimulatorProcess(site, "--slots", "24", link="cabinet1.link")
            else:
                self.cabinets[kind] = SimulatorProcess(
                    site, "--slots", "6", "--shared-door", link="cabinet2.link"
                )
        self.proc = spawn(site, "run")
        assert self.proc.stderr is not None and self.proc.stdout is not None
        self.log = Lines(self.proc.stderr)
        self.screen = Lines(self.proc.stdout)
        # The web server starts once the kiosk is ready.
        self.log.wait_for(" ready ")
        line = self.log.wait_for("serving the kiosk page on ")
        found = re.search(r"(http://[^/\s]+)/", line)
        assert found, line
        self.url = found.group(1)

    def add_admin(self, name: str, password: str) -> None:
        """A console account (``lockerkey admin set-password``); works while the daemon runs."""
        done = subprocess.run(
            [sys.executable, "-m", "lockerkey", "admin", "set-password", name, "--password-stdin"],
            cwd=self.site,
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    def sim(self, kind: str, command: str) -> str:
        """A console command for one cabinet's simulator (e.g. ``take 3``, ``put 3``)."""
        return self.cabinets[kind].ask(command)

    def get(self, path: str) -> Any:
        """GET a JSON endpoint."""
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return json.load(answer)

    def post(self, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """POST JSON; (status, decoded body), errors included."""
        data = json.dumps(body or {}).encode()
        request = urllib.request.Request(
            self.url + path, data, {"content-type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.load(answer)
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)

    def stop(self) -> int:
        """SIGTERM the daemon, then quit the simulators; the daemon's exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            for cab in self.cabinets.values():
                cab.close()
        return code

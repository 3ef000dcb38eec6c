"""The ``[sync]`` table: where the member master comes from and the rental records go."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from lockerkey.config_check import Checker, describe

_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
SYNC_KEYS = (
    "backend",
    "credentials",
    "members_spreadsheet",
    "members_worksheet",
    "rentals_spreadsheet",
    "rentals_worksheet",
    "times",
    "api_endpoint",
    "members_csv",
    "rentals_csv",
)


@dataclass(frozen=True)
class SyncSettings:
    """Where the member master and the rental log are synchronised, and when."""

    backend: str = "none"  # gsheets | csv | none
    credentials: Path = Path("credentials.json")
    members_spreadsheet: str = "락카키_회원관리"
    members_worksheet: str = ""  # "": the first worksheet
    rentals_spreadsheet: str = "락카키_대여기록"
    rentals_worksheet: str = ""
    times: tuple[str, ...] = ("06:00", "18:00")  # local "HH:MM"
    api_endpoint: str = ""  # "": Google itself
    members_csv: Path = Path("members.csv")
    rentals_csv: Path = Path("rentals.csv")

    def clock_times(self) -> list[tuple[int, int]]:
        """The local (hour, minute) of each run, in order of the day."""
        found = (_CLOCK.fullmatch(t) for t in self.times)
        return sorted((int(m.group(1)), int(m.group(2))) for m in found if m)


def read_sync(check: Checker, data: Mapping[str, object], base: Path) -> SyncSettings:
    """The [sync] table; relative paths are relative to ``base`` (the settings file's folder)."""
    table = check.table(data, "sync", SYNC_KEYS)
    default = SyncSettings()
    backend = check.choice(table, "sync", "backend", "none", ("gsheets", "csv", "none"))

    def path(name: str, fallback: Path) -> Path:
        raw = check.text(table, "sync", name, str(fallback))
        return base / Path(raw).expanduser() if raw else base / fallback

    settings = SyncSettings(
        backend=backend,
        credentials=path("credentials", default.credentials),
        members_spreadsheet=check.text(
            table, "sync", "members_spreadsheet", default.members_spreadsheet
        ).strip(),
        members_worksheet=check.text(table, "sync", "members_worksheet", "").strip(),
        rentals_spreadsheet=check.text(
            table, "sync", "rentals_spreadsheet", default.rentals_spreadsheet
        ).strip(),
        rentals_worksheet=check.text(table, "sync", "rentals_worksheet", "").strip(),
        times=_times(check, table.get("times", list(default.times))),
        api_endpoint=_endpoint(check, check.text(table, "sync", "api_endpoint", "").strip()),
        members_csv=path("members_csv", default.members_csv),
        rentals_csv=path("rentals_csv", default.rentals_csv),
    )
    if backend == "gsheets":
        for name in ("members_spreadsheet", "rentals_spreadsheet"):
            if check.ok(f"sync.{name}") and not getattr(settings, name):
                check.add(f"sync.{name}", 'must not be empty with backend = "gsheets"')
    return settings


def _times(check: Checker, value: object) -> tuple[str, ...]:
    key = "sync.times"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        check.add(
            key, f'must be a list of local times like ["06:00", "18:00"], got {describe(value)}'
        )
        return SyncSettings().times
    bad = [v for v in value if not _CLOCK.fullmatch(v.strip())]
    if bad:
        check.add(key, f'each time must be "HH:MM" (24 h), got {", ".join(map(repr, bad))}')
        return SyncSettings().times
    if len({v.strip() for v in value}) != len(value):
        check.add(key, "lists the same time twice")
    return tuple(v.strip() for v in value)


def _endpoint(check: Checker, value: str) -> str:
    """An ``http(s)://host[:port]`` to put in place of Google's scheme and host, or ""."""
    if not value:
        return ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        check.add(
            "sync.api_endpoint",
            f'must be "" or a scheme and host such as "http://127.0.0.1:8900", got {value!r}',
        )
        return ""
    return f"{parts.scheme}://{parts.netloc}"

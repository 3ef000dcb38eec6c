"""The daemon's sections of lockerkey.toml: scanners, logs and backups."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from lockerkey.config_check import Checker, describe

SCANNER_KINDS = ("serial", "evdev", "stdin", "none")
SCANNER_KEYS = ("kind", "port", "baudrate", "device", "name")
LOG_LEVELS = ("debug", "info", "warning", "error")
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


@dataclass(frozen=True)
class ScannerSettings:
    """One card or key-tag reader."""

    kind: str = "stdin"
    port: str = ""
    baudrate: int = 9600
    device: str = ""
    name: str = "scanner"


@dataclass(frozen=True)
class LogSettings:
    """Log files in <data_dir>/logs/, rotated by size; stderr goes to the journal."""

    level: str = "info"
    max_bytes: int = 1_000_000
    keep: int = 5
    privacy: bool = True


@dataclass(frozen=True)
class BackupSettings:
    """Daily consistent copies of the ledger in <data_dir>/backup/."""

    time: str = "03:00"  # local HH:MM; "" turns the daily backup off
    keep: int = 14

    def at(self) -> tuple[int, int] | None:
        """The daily backup's local (hour, minute), or None when it is off."""
        match = _CLOCK.fullmatch(self.time)
        return (int(match.group(1)), int(match.group(2))) if match else None


def _scanner(check: Checker, key: str, table: Mapping[str, object], index: int) -> ScannerSettings:
    check.known(table, key, SCANNER_KEYS)
    scanner = ScannerSettings(
        kind=check.choice(table, key, "kind", "stdin", SCANNER_KINDS),
        port=check.text(table, key, "port", ""),
        baudrate=check.integer(table, key, "baudrate", 9600, low=1),
        device=check.text(table, key, "device", ""),
        name=check.text(table, key, "name", "scanner" if index == 1 else f"scanner{index}"),
    )
    if scanner.kind == "serial" and check.ok(f"{key}.port") and not scanner.port.strip():
        check.add(f"{key}.port", 'is required when kind = "serial"')
    if scanner.kind == "evdev" and check.ok(f"{key}.device") and not scanner.device.strip():
        check.add(
            f"{key}.device",
            'is required when kind = "evdev": a /dev/input/by-id/... path, '
            'a vendor:product id like "0c2e:0b61", or part of the device name',
        )
    return scanner


def read_scanners(check: Checker, data: Mapping[str, object]) -> tuple[ScannerSettings, ...]:
    """One [scanner] table, or several [[scanner]] tables (say a card reader and a tag scanner)."""
    value = data.get("scanner", {})
    if isinstance(value, Mapping):
        return (_scanner(check, "scanner", value, 1),)
    if not isinstance(value, list):
        check.add("scanner", f"must be a table ([scanner] or [[scanner]]), got {describe(value)}")
        return (ScannerSettings(),)
    scanners = [
        _scanner(check, key, table, index) for index, key, table in check.tables(data, "scanner")
    ]
    names: dict[str, str] = {}
    ports: dict[str, str] = {}
    for index, scanner in enumerate(scanners, start=1):
        key = f"scanner[{index}]"
        if scanner.name in names:
            other = names[scanner.name]
            check.add(f"{key}.name", f"{scanner.name!r} is already the name of {other}")
        names.setdefault(scanner.name, key)
        where = scanner.port if scanner.kind == "serial" else scanner.device
        if scanner.kind in ("serial", "evdev") and where in ports:
            check.add(key, f"{where!r} is already read by {ports[where]}")
        ports.setdefault(where, key)
    if sum(s.kind == "stdin" for s in scanners) > 1:
        check.add("scanner", 'at most one scanner may have kind = "stdin"')
    return tuple(scanners) or (ScannerSettings(kind="none"),)


def read_log(check: Checker, data: Mapping[str, object]) -> LogSettings:
    """The [log] table."""
    table = check.table(data, "log", ("level", "max_bytes", "keep", "privacy"))
    privacy = table.get("privacy", True)
    if not isinstance(privacy, bool):
        check.add("log.privacy", f"must be true or false, got {describe(privacy)}")
        privacy = True
    return LogSettings(
        level=check.choice(table, "log", "level", "info", LOG_LEVELS),
        max_bytes=check.integer(table, "log", "max_bytes", 1_000_000, low=10_000),
        keep=check.integer(table, "log", "keep", 5, low=1, high=100),
        privacy=privacy,
    )


def read_backup(check: Checker, data: Mapping[str, object]) -> BackupSettings:
    """The [backup] table."""
    table = check.table(data, "backup", ("time", "keep"))
    when = check.text(table, "backup", "time", "03:00").strip()
    if check.ok("backup.time") and when and not _CLOCK.fullmatch(when):
        check.add("backup.time", f'must be a local time "HH:MM" (24 h) or "", got {when!r}')
        when = "03:00"
    return BackupSettings(time=when, keep=check.integer(table, "backup", "keep", 14, low=1))

"""Read and validate lockerkey.toml, the kiosk's configuration file."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lockerkey.config_check import Checker, check_template, describe, parse_lockers, subject
from lockerkey.config_daemon import (
    BackupSettings,
    LogSettings,
    ScannerSettings,
    read_backup,
    read_log,
    read_scanners,
)
from lockerkey.config_sync import SyncSettings, read_sync
from lockerkey.config_web import WebSettings, read_web
from lockerkey.core.model import CabinetKind

__all__ = [
    "BackupSettings",
    "CabinetSettings",
    "ConfigError",
    "LogSettings",
    "RulesSettings",
    "ScannerSettings",
    "SessionSettings",
    "Settings",
    "SyncSettings",
    "WebSettings",
    "ZoneSettings",
    "demo_settings",
    "example_config",
    "load_settings",
    "settings_from_mapping",
]

MAX_LOCKERS_PER_CABINET = 255  # the controller protocol carries the slot number in one byte
MAX_DEVICE_ID = 64


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` holds one line per reason."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            lines = "\n".join(f"  - {problem}" for problem in self.problems)
            message = f"{len(self.problems)} problems in the configuration:\n{lines}"
        super().__init__(message)

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[str]]]:
        # Rebuild from the problem list, not the joined message (pickling, multiprocessing).
        return (ConfigError, (self.problems,))


@dataclass(frozen=True)
class CabinetSettings:
    """One key controller: how to reach it and which locker each of its slots holds."""

    name: str
    port: str
    lockers: tuple[str, ...]
    key_barcode: str = "KEY-{locker}"
    kind: CabinetKind = CabinetKind.PER_SLOT
    baudrate: int = 115200

    def key_code(self, locker: str) -> str:
        """Return what the barcode tag on ``locker``'s key reads."""
        return self.key_barcode.format(locker=locker)


@dataclass(frozen=True)
class ZoneSettings:
    """A group of lockers offered only to members whose attributes match ``allow``."""

    name: str
    lockers: tuple[str, ...]
    allow: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class SessionSettings:
    """How one member's visit at the kiosk runs."""

    timeout_s: int = 30
    selection: str = "choose"


@dataclass(frozen=True)
class RulesSettings:
    """Rental rules of the site."""

    daily_limit: int = 0


@dataclass(frozen=True)
class Settings:
    """The whole, validated configuration of one kiosk."""

    device_id: str
    timezone: ZoneInfo
    data_dir: Path
    language: str
    cabinets: tuple[CabinetSettings, ...]
    zones: tuple[ZoneSettings, ...] = ()
    scanners: tuple[ScannerSettings, ...] = (ScannerSettings(),)
    session: SessionSettings = field(default_factory=SessionSettings)
    rules: RulesSettings = field(default_factory=RulesSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    web: WebSettings = field(default_factory=WebSettings)
    log: LogSettings = field(default_factory=LogSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    source: Path | None = None

    @property
    def scanner(self) -> ScannerSettings:
        """The first (usually the only) scanner."""
        return self.scanners[0]

    def all_lockers(self) -> tuple[str, ...]:
        """Return every locker, in cabinet order then slot order."""
        return tuple(locker for cabinet in self.cabinets for locker in cabinet.lockers)

    @property
    def db_path(self) -> Path:
        """Return the path of the SQLite ledger."""
        return self.data_dir / "locker.db"

    @property
    def log_dir(self) -> Path:
        """Return the directory of the rotated log files."""
        return self.data_dir / "logs"

    @property
    def backup_dir(self) -> Path:
        """Return the directory of the ledger backups."""
        return self.data_dir / "backup"


_TOP_KEYS = (
    "device_id",
    "timezone",
    "data_dir",
    "language",
    "cabinet",
    "zone",
    "scanner",
    "session",
    "rules",
    "sync",
    "web",
    "log",
    "backup",
)
_CABINET_KEYS = ("name", "port", "lockers", "key_barcode", "kind", "baudrate")
_ZONE_KEYS = ("name", "lockers", "allow")
_CABINET_KINDS = tuple(kind.value for kind in CabinetKind)


def _cabinets(check: Checker, data: Mapping[str, object]) -> tuple[list[CabinetSettings], bool]:
    """Read every [[cabinet]]; the flag says whether all their locker lists were usable."""
    entries = check.tables(data, "cabinet")
    if not entries and check.ok("cabinet") and not any(k.startswith("cabinet[") for k in check.bad):
        check.add("cabinet", "at least one [[cabinet]] table is required")
    cabinets: list[CabinetSettings] = []
    complete = True
    names: dict[str, str] = {}
    ports: dict[str, str] = {}  # one controller per port: two links on one port would fight
    owner: dict[str, str] = {}
    codes: dict[str, tuple[str, str]] = {}
    first_kind: CabinetKind | None = None
    for index, key, table in entries:
        check.known(table, key, _CABINET_KEYS)
        name = check.text(table, key, "name", f"cabinet{index}", nonempty=True)
        if check.ok(f"{key}.name") and name in names:
            check.add(f"{key}.name", f"{name!r} is already the name of {names[name]}")
        names.setdefault(name, key)
        port = check.text(table, key, "port", None, nonempty=True)
        if check.ok(f"{key}.port") and port in ports:
            check.add(f"{key}.port", f"{port!r} is already the port of {ports[port]}")
        ports.setdefault(port, key)
        lockers = parse_lockers(
            check,
            f"{key}.lockers",
            table.get("lockers"),
            MAX_LOCKERS_PER_CABINET,
            "a cabinet can hold",
        )
        complete = complete and lockers is not None
        template = check.text(table, key, "key_barcode", "KEY-{locker}")
        usable = check.ok(f"{key}.key_barcode") and check_template(
            check, f"{key}.key_barcode", template
        )
        kind = CabinetKind(check.choice(table, key, "kind", "per_slot", _CABINET_KINDS))
        if check.ok(f"{key}.kind"):
            first_kind = first_kind or kind
            if kind != first_kind:
                check.add(
                    f"{key}.kind", "mixing per_slot and shared_door cabinets is not supported"
                )
        cabinet = CabinetSettings(
            name=name,
            port=port,
            lockers=lockers or (),
            key_barcode=template if usable else "KEY-{locker}",
            kind=kind,
            baudrate=check.integer(table, key, "baudrate", 115200, low=1),
        )
        clashes: dict[str, list[str]] = {}
        for locker in dict.fromkeys(cabinet.lockers):
            if locker in owner:
                clashes.setdefault(owner[locker], []).append(locker)
            else:
                owner[locker] = key
        for other, shared in clashes.items():
            check.add(f"{key}.lockers", f"{subject(shared)} in {other} and {key}")
        collisions = []
        for locker in cabinet.lockers if usable else ():
            code = cabinet.key_code(locker)
            seen = codes.setdefault(code, (key, locker))
            if seen[1] != locker:
                collisions.append((code, locker, seen))
        if collisions:
            code, locker, (other, first) = collisions[0]
            more = f" ({len(collisions) - 1} more collide)" if len(collisions) > 1 else ""
            check.add(
                f"{key}.key_barcode",
                f"key code {code!r} of locker {locker!r} is also the "
                f"key code of locker {first!r} in {other}{more}",
            )
        cabinets.append(cabinet)
    return cabinets, complete


def _allow(check: Checker, key: str, value: object) -> Mapping[str, frozenset[str]]:
    """Read a zone's `allow` table into attribute -> stripped, casefolded accepted values."""
    if not isinstance(value, Mapping):
        check.add(key, f'must be a table like {{ gender = ["M"] }}, got {describe(value)}')
        return MappingProxyType({})
    allow: dict[str, frozenset[str]] = {}
    for attribute, raw in value.items():
        if not isinstance(attribute, str) or not attribute.strip():
            check.add(key, "attribute names must not be empty")
            continue
        attr_key = f"{key}.{attribute}"
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple):
            check.add(attr_key, f"must be a string or an array of strings, got {describe(raw)}")
            continue
        if not items:
            check.add(attr_key, "must list at least one value (an empty list admits nobody)")
        accepted: set[str] = set()
        for index, item in enumerate(items, start=1):
            if not isinstance(item, str):
                check.add(f"{attr_key}[{index}]", f"must be a string, got {describe(item)}")
            elif not item.strip():
                check.add(f"{attr_key}[{index}]", "must not be empty")
            else:
                accepted.add(item.strip().casefold())
        allow[attribute] = frozenset(accepted)
    return MappingProxyType(allow)


def _zones(
    check: Checker, data: Mapping[str, object], cabinets: Sequence[CabinetSettings], complete: bool
) -> list[ZoneSettings]:
    """Read every [[zone]] and check it only names lockers of the cabinets, each once."""
    known = {locker for cabinet in cabinets for locker in cabinet.lockers}
    limit = MAX_LOCKERS_PER_CABINET * max(len(cabinets), 1)
    zones: list[ZoneSettings] = []
    names: dict[str, str] = {}
    owner: dict[str, str] = {}
    for _, key, table in check.tables(data, "zone"):
        check.known(table, key, _ZONE_KEYS)
        name = check.text(table, key, "name", None, nonempty=True)
        if check.ok(f"{key}.name") and name in names:
            check.add(f"{key}.name", f"{name!r} is already the name of {names[name]}")
        names.setdefault(name, key)
        lockers = (
            parse_lockers(
                check, f"{key}.lockers", table.get("lockers"), limit, "the cabinets can hold"
            )
            or ()
        )
        # With a broken cabinet locker list, "unknown locker" would be noise, not news.
        unknown = [locker for locker in dict.fromkeys(lockers) if locker not in known]
        if unknown and complete:
            check.add(f"{key}.lockers", f"{subject(unknown)} not in any cabinet")
        clashes: dict[str, list[str]] = {}
        for locker in dict.fromkeys(lockers):
            if locker in owner:
                clashes.setdefault(owner[locker], []).append(locker)
            else:
                owner[locker] = key
        for other, shared in clashes.items():
            check.add(f"{key}.lockers", f"{subject(shared)} in {other} and {key}")
        allow = _allow(check, f"{key}.allow", table.get("allow", {}))
        zones.append(ZoneSettings(name=name, lockers=lockers, allow=allow))
    return zones


def _timezone(check: Checker, name: str) -> ZoneInfo | None:
    """Load a zone by IANA name, reporting a bad name instead of raising."""
    if not check.ok("timezone"):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        check.add("timezone", f"unknown time zone {name!r}; use an IANA name like 'Asia/Seoul'")
        return None


def settings_from_mapping(data: Mapping[str, object], source: Path | None = None) -> Settings:
    """Validate parsed TOML data; raise ConfigError listing every problem found."""
    check = Checker(str(source) if source is not None else "<settings>")
    check.known(data, "", _TOP_KEYS)
    device_id = check.text(data, "", "device_id", "DEVICE_001", nonempty=True)
    if check.ok("device_id") and (len(device_id) > MAX_DEVICE_ID or not device_id.isprintable()):
        check.add(
            "device_id", f"must be at most {MAX_DEVICE_ID} printable characters, got {device_id!r}"
        )
    timezone = _timezone(check, check.text(data, "", "timezone", "Asia/Seoul"))
    # Relative to the file, not the cwd, so a systemd unit finds the same data from anywhere.
    base = source.absolute().parent if source is not None else Path.cwd()
    raw_dir = check.text(data, "", "data_dir", ".", nonempty=True)
    try:
        data_dir = base / Path(raw_dir).expanduser()
    except RuntimeError:  # "~user" of an unknown user, or no home directory at all
        check.add("data_dir", f"cannot expand {raw_dir!r}: no such home directory")
        data_dir = base
    language = check.choice(data, "", "language", "ko", ("ko", "en"))
    cabinets, complete = _cabinets(check, data)
    zones = _zones(check, data, cabinets, complete)

    scanners = read_scanners(check, data)
    table = check.table(data, "session", ("timeout_s", "selection"))
    session = SessionSettings(
        timeout_s=check.integer(table, "session", "timeout_s", 30, low=1, high=300),
        selection=check.choice(table, "session", "selection", "choose", ("choose", "auto")),
    )
    table = check.table(data, "rules", ("daily_limit",))
    rules = RulesSettings(daily_limit=check.integer(table, "rules", "daily_limit", 0, low=0))
    sync = read_sync(check, data, base)
    web = read_web(check, data)

    log = read_log(check, data)
    backup = read_backup(check, data)
    if check.problems or timezone is None:
        raise ConfigError(check.problems)
    return Settings(
        device_id=device_id,
        timezone=timezone,
        data_dir=data_dir,
        language=language,
        cabinets=tuple(cabinets),
        zones=tuple(zones),
        scanners=scanners,
        session=session,
        rules=rules,
        sync=sync,
        web=web,
        log=log,
        backup=backup,
        source=source,
    )


def load_settings(path: Path | str) -> Settings:
    """Read and validate a TOML configuration file; raise ConfigError if it is unusable."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as err:
        raise ConfigError([f"{path}: not found; create one with `lockerkey init`"]) from err
    except OSError as err:
        raise ConfigError([f"{path}: cannot be read: {err.strerror or err}"]) from err
    except UnicodeDecodeError as err:
        raise ConfigError([f"{path}: not valid UTF-8 text (byte {err.start})"]) from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([f"{path}: not valid TOML: {err}"]) from err
    return settings_from_mapping(data, source=path)


def example_config() -> str:
    """Return the commented example configuration that `lockerkey init` writes."""
    return (resources.files("lockerkey") / "data" / "lockerkey.example.toml").read_text("utf-8")


def demo_settings(
    data_dir: Path,
    *,
    shared_door: bool = False,
    web: bool = True,
    host: str = "127.0.0.1",
    port: int = 8000,
) -> Settings:
    """Return the settings of `lockerkey demo`: one simulated cabinet of 24 lockers.

    Per-slot by default, with two zones (1-12 men, 13-24 women). With ``shared_door``: 24 keys
    behind one door, for every member; zones there would turn a key taken from the wrong half
    into an abnormal rental, which is a lesson for staff, not for a first look.
    """
    cabinet: dict[str, object] = {"port": "simulator", "lockers": "1-24"}
    zones: list[dict[str, object]] = [
        {"name": "male", "lockers": "1-12", "allow": {"gender": ["M", "male", "남", "남성"]}},
        {"name": "female", "lockers": "13-24", "allow": {"gender": ["F", "female", "여", "여성"]}},
    ]
    if shared_door:
        cabinet["kind"] = "shared_door"
        zones = []
    return settings_from_mapping(
        {
            "data_dir": str(data_dir),
            "cabinet": [cabinet],
            "zone": zones,
            "scanner": {"kind": "stdin"},
            "web": {"enabled": web, "host": host, "port": port},
            # The demo's member master and rental log are CSV files in its data dir.
            "sync": {
                "backend": "csv",
                "members_csv": str(data_dir / "members.csv"),
                "rentals_csv": str(data_dir / "rentals.csv"),
            },
        }
    )

"""Read and validate lockerkey.toml, the kiosk's configuration file."""

from __future__ import annotations

import difflib
import re
import string
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lockerkey.core.model import CabinetKind

__all__ = [
    "CabinetSettings",
    "ConfigError",
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
MAX_LOCKER_NAME = 16
MAX_DEVICE_ID = 64
# Bounded digit counts keep int() fast and reject names longer than MAX_LOCKER_NAME early.
_RANGE = re.compile(r"([0-9]{1,16})\s*-\s*([0-9]{1,16})")
_NUMBER = re.compile(r"[0-9]{1,16}")


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
class ScannerSettings:
    """The member-card barcode scanner."""

    kind: str = "stdin"
    port: str = ""
    baudrate: int = 9600
    device: str = ""


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
class SyncSettings:
    """Where the member master and the rental log are synchronised."""

    backend: str = "none"


@dataclass(frozen=True)
class WebSettings:
    """The staff web console."""

    host: str = "127.0.0.1"
    port: int = 8000


@dataclass(frozen=True)
class Settings:
    """The whole, validated configuration of one kiosk."""

    device_id: str
    timezone: ZoneInfo
    data_dir: Path
    language: str
    cabinets: tuple[CabinetSettings, ...]
    zones: tuple[ZoneSettings, ...] = ()
    scanner: ScannerSettings = field(default_factory=ScannerSettings)
    session: SessionSettings = field(default_factory=SessionSettings)
    rules: RulesSettings = field(default_factory=RulesSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    web: WebSettings = field(default_factory=WebSettings)
    source: Path | None = None

    def all_lockers(self) -> tuple[str, ...]:
        """Return every locker, in cabinet order then slot order."""
        return tuple(locker for cabinet in self.cabinets for locker in cabinet.lockers)

    @property
    def db_path(self) -> Path:
        """Return the path of the SQLite ledger."""
        return self.data_dir / "locker.db"


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
)
_CABINET_KEYS = ("name", "port", "lockers", "key_barcode", "kind", "baudrate")
_ZONE_KEYS = ("name", "lockers", "allow")
_SCANNER_KINDS = ("serial", "evdev", "stdin", "none")
_CABINET_KINDS = tuple(kind.value for kind in CabinetKind)


def _describe(value: object) -> str:
    """Name a value's TOML type (and the value when short) for an error message."""
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"{'an integer' if isinstance(value, int) else 'a float'} ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, Mapping):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    return f"a {type(value).__name__}"


def _subject(lockers: Sequence[str]) -> str:
    """Return "locker '5' is" or "lockers '1', '2' ... are" so one problem covers a whole range."""
    if len(lockers) == 1:
        return f"locker {lockers[0]!r} is"
    shown = ", ".join(repr(name) for name in lockers[:5])
    more = f" and {len(lockers) - 5} more" if len(lockers) > 5 else ""
    return f"lockers {shown}{more} are"


class _Checker:
    """Reads values out of a mapping and collects every problem instead of stopping at one."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.problems: list[str] = []
        self.bad: set[str] = set()  # keys already reported, so dependent checks stay quiet

    def add(self, key: str, message: str) -> None:
        self.problems.append(f"{self.label}: {key}: {message}")
        self.bad.add(key)

    def ok(self, key: str) -> bool:
        return key not in self.bad

    def known(self, table: Mapping[str, object], prefix: str, allowed: Sequence[str]) -> None:
        for name in table:
            if name not in allowed:
                close = difflib.get_close_matches(str(name), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.add(f"{prefix}.{name}" if prefix else str(name), f"unknown key{hint}")

    def text(
        self,
        table: Mapping[str, object],
        prefix: str,
        name: str,
        default: str | None,
        *,
        nonempty: bool = False,
    ) -> str:
        key = f"{prefix}.{name}" if prefix else name
        value = table.get(name, default)
        if value is None:
            self.add(key, "is required")
        elif not isinstance(value, str):
            self.add(key, f"must be a string, got {_describe(value)}")
        elif nonempty and not value.strip():
            self.add(key, "must not be empty")
        else:
            return value
        return default or ""

    def choice(
        self,
        table: Mapping[str, object],
        prefix: str,
        name: str,
        default: str,
        choices: Sequence[str],
    ) -> str:
        value = self.text(table, prefix, name, default)
        if value not in choices:
            words = ", ".join(repr(word) for word in choices)
            key = f"{prefix}.{name}" if prefix else name
            self.add(key, f"must be one of {words}, got {value!r}")
            return default
        return value

    def integer(
        self,
        table: Mapping[str, object],
        prefix: str,
        name: str,
        default: int,
        *,
        low: int,
        high: int | None = None,
    ) -> int:
        key = f"{prefix}.{name}" if prefix else name
        value = table.get(name, default)
        # bool is a subclass of int in Python, but `timeout_s = true` is a mistake in TOML.
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(key, f"must be an integer, got {_describe(value)}")
            return default
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            self.add(key, f"must be {bound}, got {value}")
            return default
        return value

    def table(
        self, data: Mapping[str, object], name: str, allowed: Sequence[str]
    ) -> Mapping[str, object]:
        value = data.get(name, {})
        if not isinstance(value, Mapping):
            self.add(name, f"must be a table ([{name}]), got {_describe(value)}")
            return {}
        self.known(value, name, allowed)
        return value

    def tables(
        self, data: Mapping[str, object], name: str
    ) -> list[tuple[int, str, Mapping[str, object]]]:
        value = data.get(name, [])
        if isinstance(value, Mapping):
            self.add(name, f"must be an array of tables: write [[{name}]], not [{name}]")
            return []
        if not isinstance(value, list | tuple):
            self.add(name, f"must be an array of tables ([[{name}]]), got {_describe(value)}")
            return []
        found = []
        for index, item in enumerate(value, start=1):
            if isinstance(item, Mapping):
                found.append((index, f"{name}[{index}]", item))
            else:
                self.add(f"{name}[{index}]", f"must be a table, got {_describe(item)}")
        return found


def _parse_lockers(
    check: _Checker, key: str, value: object, limit: int, holder: str
) -> tuple[str, ...] | None:
    """Expand a `lockers` value; None when it is unusable (reported), else the names in order."""
    names: list[str] = []
    if value is None:
        check.add(key, "is required")
        return None
    if isinstance(value, str):
        text = value.strip()
        if match := _RANGE.fullmatch(text):
            first, last = match.group(1), match.group(2)
            start, end = int(first), int(last)
            if start > end:
                check.add(key, f"range {value!r} runs backwards; write the smaller number first")
                return None
            if end - start + 1 > limit:
                check.add(
                    key,
                    f"range {value!r} has {end - start + 1} lockers, "
                    f"more than the {limit} {holder}",
                )
                return None
            # "01-12" keeps its width ("01".."12"); "1-12" gives plain numbers.
            width = len(first) if len(first) > 1 and first.startswith("0") else 0
            names = [str(number).zfill(width) for number in range(start, end + 1)]
        elif _NUMBER.fullmatch(text):
            names = [text]
        elif text:
            check.add(
                key,
                f'must be a range like "1-24", a number, or an array of locker '
                f"names, got {value!r}",
            )
            return None
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value, start=1):
            if isinstance(item, bool) or not isinstance(item, str | int):
                check.add(
                    f"{key}[{index}]", f"must be a string or an integer, got {_describe(item)}"
                )
                return None
            names.append(str(item))
    else:
        check.add(key, f'must be a range string like "1-24" or an array, got {_describe(value)}')
        return None
    if not names:
        check.add(key, "must not be empty")
        return None
    if len(names) > limit:
        check.add(key, f"has {len(names)} lockers, more than the {limit} {holder}")
    for name in names:
        if not 1 <= len(name) <= MAX_LOCKER_NAME or any(
            char.isspace() or not char.isprintable() for char in name
        ):
            check.add(
                key,
                f"locker name {name!r} must be 1 to {MAX_LOCKER_NAME} characters "
                "without spaces or control characters",
            )
    repeated = [name for name, count in Counter(names).items() if count > 1]
    if repeated:
        check.add(key, f"{_subject(repeated)} listed more than once")
    return tuple(names)


def _check_template(check: _Checker, key: str, template: str) -> bool:
    """Report a key_barcode that is not a plain template around "{locker}"; True if usable."""
    try:
        fields = [
            (name, spec, conv)
            for _, name, spec, conv in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as err:
        check.add(key, f"is not a valid template ({err}); use {{locker}} where the number goes")
        return False
    others = sorted(
        {
            "{" + name + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            for name, spec, conv in fields
            if (name, spec, conv) != ("locker", "", None)
        }
    )
    if others:
        check.add(key, f"may contain only the {{locker}} placeholder, found {', '.join(others)}")
        return False
    if not fields:
        check.add(key, f"must contain {{locker}}, got {template!r}")
        return False
    return True


def _cabinets(check: _Checker, data: Mapping[str, object]) -> tuple[list[CabinetSettings], bool]:
    """Read every [[cabinet]]; the flag says whether all their locker lists were usable."""
    entries = check.tables(data, "cabinet")
    if not entries and check.ok("cabinet") and not any(k.startswith("cabinet[") for k in check.bad):
        check.add("cabinet", "at least one [[cabinet]] table is required")
    cabinets: list[CabinetSettings] = []
    complete = True
    names: dict[str, str] = {}
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
        lockers = _parse_lockers(
            check,
            f"{key}.lockers",
            table.get("lockers"),
            MAX_LOCKERS_PER_CABINET,
            "a cabinet can hold",
        )
        complete = complete and lockers is not None
        template = check.text(table, key, "key_barcode", "KEY-{locker}")
        usable = check.ok(f"{key}.key_barcode") and _check_template(
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
            check.add(f"{key}.lockers", f"{_subject(shared)} in {other} and {key}")
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


def _allow(check: _Checker, key: str, value: object) -> Mapping[str, frozenset[str]]:
    """Read a zone's `allow` table into attribute -> stripped, casefolded accepted values."""
    if not isinstance(value, Mapping):
        check.add(key, f'must be a table like {{ gender = ["M"] }}, got {_describe(value)}')
        return MappingProxyType({})
    allow: dict[str, frozenset[str]] = {}
    for attribute, raw in value.items():
        if not isinstance(attribute, str) or not attribute.strip():
            check.add(key, "attribute names must not be empty")
            continue
        attr_key = f"{key}.{attribute}"
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list | tuple):
            check.add(attr_key, f"must be a string or an array of strings, got {_describe(raw)}")
            continue
        if not items:
            check.add(attr_key, "must list at least one value (an empty list admits nobody)")
        accepted: set[str] = set()
        for index, item in enumerate(items, start=1):
            if not isinstance(item, str):
                check.add(f"{attr_key}[{index}]", f"must be a string, got {_describe(item)}")
            elif not item.strip():
                check.add(f"{attr_key}[{index}]", "must not be empty")
            else:
                accepted.add(item.strip().casefold())
        allow[attribute] = frozenset(accepted)
    return MappingProxyType(allow)


def _zones(
    check: _Checker, data: Mapping[str, object], cabinets: Sequence[CabinetSettings], complete: bool
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
            _parse_lockers(
                check, f"{key}.lockers", table.get("lockers"), limit, "the cabinets can hold"
            )
            or ()
        )
        # With a broken cabinet locker list, "unknown locker" would be noise, not news.
        unknown = [locker for locker in dict.fromkeys(lockers) if locker not in known]
        if unknown and complete:
            check.add(f"{key}.lockers", f"{_subject(unknown)} not in any cabinet")
        clashes: dict[str, list[str]] = {}
        for locker in dict.fromkeys(lockers):
            if locker in owner:
                clashes.setdefault(owner[locker], []).append(locker)
            else:
                owner[locker] = key
        for other, shared in clashes.items():
            check.add(f"{key}.lockers", f"{_subject(shared)} in {other} and {key}")
        allow = _allow(check, f"{key}.allow", table.get("allow", {}))
        zones.append(ZoneSettings(name=name, lockers=lockers, allow=allow))
    return zones


def _timezone(check: _Checker, name: str) -> ZoneInfo | None:
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
    check = _Checker(str(source) if source is not None else "<settings>")
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

    table = check.table(data, "scanner", ("kind", "port", "baudrate", "device"))
    scanner = ScannerSettings(
        kind=check.choice(table, "scanner", "kind", "stdin", _SCANNER_KINDS),
        port=check.text(table, "scanner", "port", ""),
        baudrate=check.integer(table, "scanner", "baudrate", 9600, low=1),
        device=check.text(table, "scanner", "device", ""),
    )
    if scanner.kind == "serial" and check.ok("scanner.port") and not scanner.port.strip():
        check.add("scanner.port", 'is required when scanner.kind = "serial"')
    if scanner.kind == "evdev" and check.ok("scanner.device") and not scanner.device.strip():
        check.add("scanner.device", 'is required when scanner.kind = "evdev"')
    table = check.table(data, "session", ("timeout_s", "selection"))
    session = SessionSettings(
        timeout_s=check.integer(table, "session", "timeout_s", 30, low=1, high=300),
        selection=check.choice(table, "session", "selection", "choose", ("choose", "auto")),
    )
    table = check.table(data, "rules", ("daily_limit",))
    rules = RulesSettings(daily_limit=check.integer(table, "rules", "daily_limit", 0, low=0))
    table = check.table(data, "sync", ("backend",))
    sync = SyncSettings(
        backend=check.choice(table, "sync", "backend", "none", ("gsheets", "csv", "none"))
    )
    table = check.table(data, "web", ("host", "port"))
    web = WebSettings(
        host=check.text(table, "web", "host", "127.0.0.1", nonempty=True),
        port=check.integer(table, "web", "port", 8000, low=1, high=65535),
    )

    if check.problems or timezone is None:
        raise ConfigError(check.problems)
    return Settings(
        device_id=device_id,
        timezone=timezone,
        data_dir=data_dir,
        language=language,
        cabinets=tuple(cabinets),
        zones=tuple(zones),
        scanner=scanner,
        session=session,
        rules=rules,
        sync=sync,
        web=web,
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


_EXAMPLE = """\
# lockerkey configuration (TOML, saved as UTF-8). Edit it to match this site.
# Every key below is shown with its default value unless the comment says otherwise.

# Name of this kiosk in the rental log and the synced sheets (at most 64 characters).
device_id = "DEVICE_001"
# IANA time zone. Every "today", "expired" and the midnight reset of daily counts use it.
timezone = "Asia/Seoul"
# Directory of locker.db, logs/ and backup/. A relative path is relative to THIS file.
data_dir = "."
# Default language of the kiosk screen: "ko" or "en".
language = "ko"

# One [[cabinet]] table per key controller; a site may have several (copy the whole table).
# A locker number may appear in only one cabinet. All cabinets must be of the same kind.
[[cabinet]]
# Serial device of the controller, or a pyserial URL such as "socket://192.168.0.50:4001".
# (No default: required.)
port = "/dev/ttyUSB0"
# Locker numbers in slot order 1..N: a range "1-24" (or "01-24" to keep the zero), or a
# list such as ["M01", "M02", "M03"]. At most 255 per cabinet. (No default: required.)
lockers = "1-24"
# What the barcode tag on each locker's key reads; {locker} is replaced by the number.
key_barcode = "KEY-{locker}"
# "per_slot": every slot has its own lock. "shared_door": one door in front of all slots.
kind = "per_slot"
# Name of the cabinet in logs and messages; default "cabinet1", "cabinet2", ... in file
# order. Must be unique.
name = "cabinet1"
# Serial speed of the controller.
baudrate = 115200

# Zones are optional. Without any [[zone]], every member may rent every locker.
# With zones, a locker in a zone is offered only to members whose attributes (columns of
# the member master) match `allow`; comparison ignores case and surrounding spaces.
# A locker may be in at most one zone, and must belong to a [[cabinet]] above.
# Lockers in no zone, and zones without `allow`, are open to every member.
# [[zone]]
# name = "male"
# lockers = "1-12"
# allow = { gender = ["M", "male", "남", "남성"] }
#
# [[zone]]
# name = "female"
# lockers = "13-24"
# allow = { gender = ["F", "female", "여", "여성"] }

[scanner]
# Member-card scanner: "serial" (USB-serial/CDC scanner), "evdev" (keyboard-emulating
# scanner read directly), "stdin" (type card numbers in the terminal) or "none".
# The default is "stdin".
kind = "serial"
# For kind = "serial": the scanner's serial device.
port = "/dev/ttyACM0"
# For kind = "serial": serial speed.
baudrate = 9600
# For kind = "evdev": input device path (/dev/input/by-id/...) or device name.
# device = "/dev/input/by-id/usb-Scanner-event-kbd"

[session]
# Seconds allowed for each step (choose a locker, take the key, return the key), 1..300.
timeout_s = 30
# "choose": the member picks a locker on screen. "auto": the kiosk picks one.
selection = "choose"

[rules]
# Rentals per member per local day; 0 means no limit.
daily_limit = 0

[sync]
# Where the member master and rental log are synchronised: "gsheets", "csv" or "none".
backend = "none"

[web]
# Staff web console. Keep 127.0.0.1 unless the network in front of it is trusted.
host = "127.0.0.1"
port = 8000
"""


def example_config() -> str:
    """Return the commented example configuration that `lockerkey init` writes."""
    return _EXAMPLE


def demo_settings(data_dir: Path) -> Settings:
    """Return the settings of `lockerkey demo`: one scripted cabinet of 24 lockers, two zones."""
    return settings_from_mapping(
        {
            "data_dir": str(data_dir),
            "cabinet": [{"port": "scripted", "lockers": "1-24"}],
            "zone": [
                {
                    "name": "male",
                    "lockers": "1-12",
                    "allow": {"gender": ["M", "male", "남", "남성"]},
                },
                {
                    "name": "female",
                    "lockers": "13-24",
                    "allow": {"gender": ["F", "female", "여", "여성"]},
                },
            ],
            "scanner": {"kind": "stdin"},
        }
    )

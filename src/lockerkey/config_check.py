"""Validation helpers for the settings file: typed reads that collect problems, not raise."""

from __future__ import annotations

import difflib
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence

MAX_LOCKER_NAME = 16
# Bounded digit counts keep int() fast and reject names longer than MAX_LOCKER_NAME early.
_RANGE = re.compile(r"([0-9]{1,16})\s*-\s*([0-9]{1,16})")
_NUMBER = re.compile(r"[0-9]{1,16}")


def describe(value: object) -> str:
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


def subject(lockers: Sequence[str]) -> str:
    """Return "locker '5' is" or "lockers '1', '2' ... are" so one problem covers a whole range."""
    if len(lockers) == 1:
        return f"locker {lockers[0]!r} is"
    shown = ", ".join(repr(name) for name in lockers[:5])
    more = f" and {len(lockers) - 5} more" if len(lockers) > 5 else ""
    return f"lockers {shown}{more} are"


class Checker:
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
            self.add(key, f"must be a string, got {describe(value)}")
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
            self.add(key, f"must be an integer, got {describe(value)}")
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
            self.add(name, f"must be a table ([{name}]), got {describe(value)}")
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
            self.add(name, f"must be an array of tables ([[{name}]]), got {describe(value)}")
            return []
        found = []
        for index, item in enumerate(value, start=1):
            if isinstance(item, Mapping):
                found.append((index, f"{name}[{index}]", item))
            else:
                self.add(f"{name}[{index}]", f"must be a table, got {describe(item)}")
        return found


def parse_lockers(
    check: Checker, key: str, value: object, limit: int, holder: str
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
                    f"{key}[{index}]", f"must be a string or an integer, got {describe(item)}"
                )
                return None
            names.append(str(item))
    else:
        check.add(key, f'must be a range string like "1-24" or an array, got {describe(value)}')
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
        check.add(key, f"{subject(repeated)} listed more than once")
    return tuple(names)


def check_template(check: Checker, key: str, template: str) -> bool:
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

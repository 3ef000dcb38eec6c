"""The keyboard-type reader: US-layout decoding, and finding, grabbing and reopening devices.

Only /dev/input itself is faked (CI machines have none); events are python-evdev's own
InputEvent objects where python-evdev is installed, as it is in the test environment.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import re
import sys
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lockerkey.core.rules import valid_code
from lockerkey.readers import keymap
from lockerkey.readers.base import ReaderError
from lockerkey.readers.evdev import EvdevReader
from lockerkey.readers.keymap import KeyDecoder

evdev: ModuleType | None
try:
    import evdev
except ImportError:  # the decoder tests still run, on plain tuples and our own constants
    evdev = None


class Ev(NamedTuple):
    type: int
    code: int
    value: int


def ev(ev_type: int, code: int, value: int) -> Any:
    """An input event: python-evdev's own class when it is there."""
    if evdev is not None:
        return evdev.InputEvent(1_700_000_000, 0, ev_type, code, value)
    return Ev(ev_type, code, value)


# Key numbers for the test side come from python-evdev when possible, so a wrong number in
# our table shows up as wrong text rather than agreeing with itself.
codes: Any = evdev.ecodes if evdev is not None else keymap
EV_KEY, EV_SYN, EV_MSC = codes.EV_KEY, codes.EV_SYN, codes.EV_MSC


# Keys the decoder needs no name for, for when python-evdev is missing.
OTHER_KEYS = {"F1": 59, "F12": 88, "102ND": 86, "HOME": 102, "UP": 103, "LEFT": 105}


def key(name: str) -> int:
    return int(getattr(codes, f"KEY_{name}", None) or OTHER_KEYS[name])


def down(name: str) -> Any:
    return ev(EV_KEY, key(name), 1)


def up(name: str) -> Any:
    return ev(EV_KEY, key(name), 0)


def tap(name: str) -> list[Any]:
    return [down(name), up(name)]


# The US layout written out independently of the module under test: key name -> (plain, shift).
US_LAYOUT: dict[str, str] = {
    "GRAVE": "`~",
    **{d: d + s for d, s in zip("1234567890", "!@#$%^&*()", strict=True)},
    "MINUS": "-_",
    "EQUAL": "=+",
    "LEFTBRACE": "[{",
    "RIGHTBRACE": "]}",
    "BACKSLASH": "\\|",
    "SEMICOLON": ";:",
    "APOSTROPHE": "'\"",
    "COMMA": ",<",
    "DOT": ".>",
    "SLASH": "/?",
    "SPACE": "  ",
    **{c.upper(): c + c.upper() for c in "abcdefghijklmnopqrstuvwxyz"},
}
TYPING: dict[str, tuple[str, bool]] = {}
for _name, (_plain, _shifted) in US_LAYOUT.items():
    TYPING.setdefault(_plain, (_name, False))
    TYPING.setdefault(_shifted, (_name, True))


def typed(text: str, shift: str = "LEFTSHIFT", enter: str = "ENTER") -> list[Any]:
    """The events a US keyboard-type reader sends for ``text`` and Enter, as real ones do:
    a scan-code event before each key, a report after each."""
    events: list[Any] = []

    def press(name: str, value: int) -> None:
        events.extend(
            [ev(EV_MSC, 4, 0x70000 + key(name)), ev(EV_KEY, key(name), value), ev(EV_SYN, 0, 0)]
        )

    for char in text:
        name, shifted = TYPING[char]
        if shifted:
            press(shift, 1)
        press(name, 1)
        press(name, 0)
        if shifted:
            press(shift, 0)
    press(enter, 1)
    press(enter, 0)
    return events


def decode(events: Iterable[Any], decoder: KeyDecoder | None = None) -> list[str]:
    decoder = decoder or KeyDecoder()
    out = [decoder.feed(e.type, e.code, e.value) for e in events]
    return [code for code in out if code is not None]


# --- the decoder ------------------------------------------------------------------------------


def test_lowercase_letters_and_enter() -> None:
    events = [*tap("M"), *tap("E"), *tap("M"), *tap("B"), *tap("ENTER")]
    assert decode(events) == ["memb"]


@pytest.mark.parametrize("shift", ["LEFTSHIFT", "RIGHTSHIFT"])
def test_either_shift_makes_capitals_until_released(shift: str) -> None:
    events = [down(shift), *tap("A"), *tap("B"), up(shift), *tap("C"), *tap("ENTER")]
    assert decode(events) == ["ABc"]


def test_the_two_shifts_are_tracked_apart() -> None:
    events = [down("LEFTSHIFT"), down("RIGHTSHIFT"), up("RIGHTSHIFT"), *tap("A")]
    events += [up("LEFTSHIFT"), *tap("A"), *tap("ENTER")]
    assert decode(events) == ["Aa"]


@pytest.mark.parametrize(
    ("name", "plain", "shifted"),
    [
        ("1", "1", "!"),
        ("2", "2", "@"),
        ("6", "6", "^"),
        ("0", "0", ")"),
        ("MINUS", "-", "_"),
        ("EQUAL", "=", "+"),
        ("LEFTBRACE", "[", "{"),
        ("BACKSLASH", "\\", "|"),
        ("APOSTROPHE", "'", '"'),
        ("GRAVE", "`", "~"),
        ("SLASH", "/", "?"),
    ],
)
def test_digits_and_punctuation_with_and_without_shift(name: str, plain: str, shifted: str) -> None:
    events = [*tap(name), down("LEFTSHIFT"), *tap(name), up("LEFTSHIFT"), *tap("ENTER")]
    assert decode(events) == [plain + shifted]


def test_keypad_digits_operators_and_keypad_enter() -> None:
    names = ["KP1", "KP2", "KP0", "KPDOT", "KP9", "KPMINUS", "KPPLUS", "KPASTERISK", "KPSLASH"]
    events = [e for name in names for e in tap(name)] + tap("KPENTER")
    assert decode(events) == ["120.9-+*/"]


def test_autorepeat_does_not_type_a_second_character() -> None:
    a = key("A")
    events = [ev(EV_KEY, a, 1), ev(EV_KEY, a, 2), ev(EV_KEY, a, 2), ev(EV_KEY, a, 0)]
    events += [ev(EV_KEY, key("ENTER"), 1), ev(EV_KEY, key("ENTER"), 2)]
    assert decode(events) == ["a"]


def test_key_up_alone_types_nothing() -> None:
    assert decode([up("A"), up("1"), up("ENTER")]) == []
    assert decode([up("A"), *tap("B"), up("ENTER"), *tap("ENTER")]) == ["b"]


def test_caps_lock_inverts_letters_only_and_toggles_back() -> None:
    events = [*tap("CAPSLOCK"), *tap("A"), *tap("1"), down("LEFTSHIFT"), *tap("B")]
    events += [up("LEFTSHIFT"), *tap("CAPSLOCK"), *tap("C"), *tap("ENTER")]
    assert decode(events) == ["A1bc"]


@pytest.mark.parametrize(
    ("name", "control"),
    [
        ("TAB", "\t"),
        ("ESC", "\x1b"),
        ("BACKSPACE", "\b"),
        ("DELETE", "\x7f"),
        ("F1", "\x00"),
        ("F12", "\x00"),
        ("UP", "\x00"),
        ("LEFT", "\x00"),
        ("HOME", "\x00"),
        ("102ND", "\x00"),
    ],
)
def test_a_key_without_a_character_poisons_the_whole_code(name: str, control: str) -> None:
    events = [*tap("A"), *tap("B"), *tap(name), *tap("C"), *tap("ENTER")]
    [code] = decode(events)
    assert code == f"ab{control}c"
    assert not valid_code(code)


def test_a_control_key_before_any_character_still_poisons_the_next_code() -> None:
    [code] = decode([*tap("TAB"), *tap("7"), *tap("ENTER")])
    assert code == "\t7"
    assert not valid_code(code)


@pytest.mark.parametrize("ctrl", ["LEFTCTRL", "RIGHTCTRL"])
def test_ctrl_with_a_letter_is_its_control_character(ctrl: str) -> None:
    events = [*tap("X"), down(ctrl), *tap("C"), *tap("1"), up(ctrl), *tap("Y"), *tap("ENTER")]
    [code] = decode(events)
    assert code == "x\x03\x00y"
    assert not valid_code(code)


@pytest.mark.parametrize("alt", ["LEFTALT", "RIGHTALT", "LEFTMETA"])
def test_alt_or_meta_with_a_key_poisons_the_code(alt: str) -> None:
    [code] = decode([*tap("X"), down(alt), *tap("F"), up(alt), *tap("ENTER")])
    assert code == "x\x1b"
    assert not valid_code(code)


def test_modifiers_pressed_and_released_alone_type_nothing() -> None:
    events = [*tap("LEFTCTRL"), *tap("LEFTALT"), *tap("RIGHTSHIFT"), *tap("NUMLOCK")]
    assert decode([*events, *tap("Q"), *tap("ENTER")]) == ["q"]


def test_an_endless_scan_is_cut_at_the_bound_and_its_tail_is_not_a_code() -> None:
    decoder = KeyDecoder()
    head = decode([e for _ in range(keymap.MAX_CODE_CHARS) for e in tap("A")], decoder)
    assert head == ["a" * keymap.MAX_CODE_CHARS]
    # The rest of the same scan, up to its Enter, must not come out as a short valid code.
    assert decode([*tap("B"), *tap("C"), *tap("ENTER")], decoder) == []
    assert decode([*tap("D"), *tap("ENTER")], decoder) == ["d"]


def test_an_empty_enter_emits_nothing() -> None:
    decoder = KeyDecoder()
    assert decode([*tap("ENTER"), *tap("KPENTER")], decoder) == []
    assert decode([down("LEFTSHIFT"), *tap("ENTER"), up("LEFTSHIFT")], decoder) == []
    assert decode([*tap("Z"), *tap("ENTER")], decoder) == ["z"]


def test_events_other_than_keys_are_ignored() -> None:
    enter = key("ENTER")
    # Same code and value as an Enter press, but not a key event: must not end the code.
    noise = [ev(EV_SYN, 0, 0), ev(EV_MSC, enter, 1), ev(EV_MSC, 4, enter), ev(EV_SYN, enter, 1)]
    events = [*tap("A"), *noise, *tap("B"), *tap("ENTER")]
    assert decode(events) == ["ab"]


def test_events_lost_by_the_kernel_poison_the_code_in_progress() -> None:
    syn_dropped = int(codes.SYN_DROPPED)
    [code] = decode([*tap("1"), ev(EV_SYN, syn_dropped, 0), *tap("2"), *tap("ENTER")])
    assert not valid_code(code)


printable = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=200)


@given(printable, st.sampled_from(["LEFTSHIFT", "RIGHTSHIFT"]), st.sampled_from(["ENTER", "KPENTER"]))
def test_any_printable_text_typed_on_a_us_keyboard_decodes_to_itself(
    text: str, shift: str, enter: str
) -> None:
    decoder = KeyDecoder()
    assert decode(typed(text, shift, enter), decoder) == [text]
    assert not decoder.pending


def test_our_key_numbers_are_the_kernels() -> None:
    ecodes = pytest.importorskip("evdev").ecodes
    ours = {n: v for n, v in vars(keymap).items() if re.fullmatch(r"(EV|SYN|KEY)_[A-Z0-9]+", n)}
    assert len(ours) > 90
    assert {n: getattr(ecodes, n) for n in ours} == ours

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
from collections.abc import AsyncIterator, Callable, Iterable
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


# Kernel numbers of keys our module has no constant for (needed only without python-evdev).
OTHER_KEYS = {
    "F1": 59,
    "F12": 88,
    "102ND": 86,
    "HOME": 102,
    "UP": 103,
    "LEFT": 105,
    "VOLUMEUP": 115,
}


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
        # EV_MSC code 4 is MSC_SCAN: the USB usage, which carries a number that must not count.
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


@given(
    printable, st.sampled_from(["LEFTSHIFT", "RIGHTSHIFT"]), st.sampled_from(["ENTER", "KPENTER"])
)
def test_any_printable_text_typed_on_a_us_keyboard_decodes_to_itself(
    text: str, shift: str, enter: str
) -> None:
    decoder = KeyDecoder()
    assert decode(typed(text, shift, enter), decoder) == [text]
    assert not decoder.pending


def test_our_key_numbers_are_the_kernels() -> None:
    ecodes = pytest.importorskip("evdev").ecodes
    ours = {n: v for n, v in vars(keymap).items() if re.fullmatch(r"(EV|SYN|KEY)_[A-Z0-9]+", n)}
    assert len(ours) >= 80  # the pattern really found the table
    assert {n: getattr(ecodes, n) for n in ours} == ours


# --- the device layer, with a fake /dev/input -------------------------------------------------


class Signal:
    """Wakes waiting tests whenever a fake changes; everything runs on one loop, so no races."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def poke(self) -> None:
        self._changed.set()

    async def until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                self._changed.clear()
                await self._changed.wait()


@dataclass
class Info:
    vendor: int
    product: int


KEYBOARD_KEYS = [key("ENTER"), key("A"), key("1"), key("LEFTSHIFT")]


class FakeDevice:
    """One opened /dev/input/event* node, whose events the test feeds."""

    def __init__(
        self,
        signal: Signal,
        path: str,
        name: str,
        ids: tuple[int, int] = (0x0C2E, 0x0B61),
        keys: list[int] | None = None,
        grab_error: OSError | None = None,
    ) -> None:
        self.signal = signal
        self.path = path
        self.name = name
        self.info = Info(*ids)
        self.keys = KEYBOARD_KEYS if keys is None else keys
        self.grab_error = grab_error
        self.calls: list[str] = []
        self.queue: asyncio.Queue[Any] = asyncio.Queue()

    def capabilities(self) -> dict[int, list[int]]:
        return {EV_SYN: [0, 4], EV_KEY: list(self.keys), EV_MSC: [4]}

    def _call(self, what: str) -> None:
        self.calls.append(what)
        self.signal.poke()

    def grab(self) -> None:
        if self.grab_error is not None:
            self._call("grab failed")
            raise self.grab_error
        self._call("grab")

    def ungrab(self) -> None:
        self._call("ungrab")

    def close(self) -> None:
        self._call("close")

    @property
    def grabbed(self) -> bool:
        return "grab" in self.calls and "ungrab" not in self.calls

    @property
    def closed(self) -> bool:
        return "close" in self.calls

    async def _events(self) -> AsyncIterator[Any]:
        while True:
            item = await self.queue.get()
            if isinstance(item, BaseException):
                raise item
            yield item

    def async_read_loop(self) -> AsyncIterator[Any]:
        self._call("read")
        return self._events()

    def scan(self, text: str) -> None:
        for event in typed(text):
            self.queue.put_nowait(event)

    def fail(self, err: OSError) -> None:
        self.queue.put_nowait(err)


class FakeInput:
    """A /dev/input directory: nodes come and go, some may not be ours to open."""

    def __init__(self, signal: Signal) -> None:
        self.signal = signal
        self.nodes: dict[str, Callable[[], FakeDevice]] = {}
        self.denied: set[str] = set()
        self.opened: list[FakeDevice] = []
        self.attempts = 0  # times the reader looked for its device

    def plug(self, path: str, name: str = "Honeywell Scanner", **kw: Any) -> None:
        self.nodes[path] = lambda: FakeDevice(self.signal, path, name, **kw)

    def unplug(self, path: str) -> None:
        del self.nodes[path]

    def list_devices(self) -> list[str]:
        self.attempts += 1
        self.signal.poke()
        return list(self.nodes) + sorted(self.denied)

    def open_device(self, path: str) -> FakeDevice:
        if not path.startswith("/dev/input/event"):
            self.attempts += 1  # a configured path is opened directly, without listing
        self.signal.poke()
        if path in self.denied:
            raise PermissionError(errno.EACCES, "Permission denied", path)
        if path not in self.nodes:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        device = self.nodes[path]()
        self.opened.append(device)
        return device

    def device(self, path: str) -> FakeDevice:
        """The most recent opening of ``path``."""
        return [d for d in self.opened if d.path == path][-1]


BY_ID = "/dev/input/by-id/usb-Honeywell_Scanner-event-kbd"


class LogWatch(logging.Handler):
    """The reader's log lines; each one wakes the waiting test."""

    def __init__(self, signal: Signal) -> None:
        super().__init__(logging.DEBUG)
        self.signal = signal
        self.lines: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelno, record.getMessage()))
        self.signal.poke()

    def warnings(self, pattern: str) -> list[str]:
        return [m for lvl, m in self.lines if lvl == logging.WARNING and re.search(pattern, m)]


class Rig:
    """A reader running on a fake /dev/input: the codes it emits and the lines it logs."""

    def __init__(self, device: str) -> None:
        self.signal = Signal()
        self.input = FakeInput(self.signal)
        self.log = LogWatch(self.signal)
        self.codes: list[str] = []
        self.reader = EvdevReader(
            "door",
            device,
            backoff_first=0.001,
            backoff_max=0.004,
            list_devices=self.input.list_devices,
            open_device=self.input.open_device,
        )
        self.task: asyncio.Task[None] | None = None

    def emit(self, code: str) -> None:
        self.codes.append(code)
        self.signal.poke()

    def start(self) -> None:
        self.task = asyncio.create_task(self.reader.run(self.emit))

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task

    async def opened(self, path: str, times: int = 1) -> FakeDevice:
        """The device at ``path`` once the reader has grabbed it and reads it, for the
        ``times``-th time."""

        def reading() -> list[FakeDevice]:
            return [d for d in self.input.opened if d.path == path and "read" in d.calls]

        await self.signal.until(lambda: len(reading()) >= times)
        return reading()[times - 1]

    async def scanned(self, device: FakeDevice, text: str) -> None:
        """Scan ``text`` on the device and wait for its code to come out."""
        count = len(self.codes)
        device.scan(text)
        await self.signal.until(lambda: len(self.codes) > count)


@pytest.fixture
async def rigs() -> AsyncIterator[Callable[[str], Rig]]:
    """Makes rigs; stops their readers and detaches their log watches afterwards."""
    logger = logging.getLogger("lockerkey.reader")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    made: list[Rig] = []

    def make(device: str) -> Rig:
        rig = Rig(device)
        logger.addHandler(rig.log)
        made.append(rig)
        return rig

    yield make
    for rig in made:
        if rig.task is not None and not rig.task.done():
            await rig.stop()
        logger.removeHandler(rig.log)
    logger.setLevel(old_level)


Rigs = Callable[[str], Rig]


async def test_a_configured_path_is_grabbed_before_reading_and_its_scans_come_out(
    rigs: Rigs,
) -> None:
    rig = rigs(BY_ID)
    rig.input.plug(BY_ID)
    rig.start()
    device = await rig.opened(BY_ID)
    await rig.scanned(device, "M0001")
    await rig.scanned(device, "Key-07!")
    assert rig.codes == ["M0001", "Key-07!"]
    assert device.calls == ["grab", "read"]
    assert device.grabbed


async def test_vendor_and_product_pick_the_keyboard_interface_of_that_reader(rigs: Rigs) -> None:
    rig = rigs("0C2E:0b61")
    # The reader's consumer-control interface comes first but cannot type Enter.
    rig.input.plug("/dev/input/event3", "Honeywell Scanner Consumer", keys=[key("VOLUMEUP")])
    rig.input.plug("/dev/input/event4", "Honeywell Other", ids=(0x0C2E, 0x0901))
    rig.input.plug("/dev/input/event1", "Other Scanner", ids=(0x05E0, 0x0B61))
    rig.input.plug("/dev/input/event5", "Honeywell Scanner")
    rig.start()
    chosen = await rig.opened("/dev/input/event5")
    await rig.scanned(chosen, "ABC123")
    assert rig.codes == ["ABC123"]
    for path in ("/dev/input/event1", "/dev/input/event3", "/dev/input/event4"):
        assert rig.input.device(path).calls == ["close"]


async def test_a_name_part_matches_case_insensitively_and_the_first_path_wins(
    rigs: Rigs,
) -> None:
    rig = rigs("honeywell")
    rig.input.plug("/dev/input/event10", "HONEYWELL Scanner (2)")
    rig.input.plug("/dev/input/event9", "Logitech Keyboard")
    rig.input.plug("/dev/input/event2", "Honeywell Scanner")
    rig.start()
    chosen = await rig.opened("/dev/input/event2")
    await rig.scanned(chosen, "hello")
    assert rig.codes == ["hello"]
    assert rig.input.device("/dev/input/event10").calls == ["close"]
    assert rig.input.device("/dev/input/event9").calls == ["close"]
    [said] = rig.log.warnings("2 devices match 'honeywell'")
    assert "using /dev/input/event2" in said
    assert "/dev/input/event10" in said


async def test_an_unplugged_device_is_closed_and_the_replugged_one_read(rigs: Rigs) -> None:
    rig = rigs(BY_ID)
    rig.input.plug(BY_ID)
    rig.start()
    first = await rig.opened(BY_ID)
    await rig.scanned(first, "before")
    rig.input.unplug(BY_ID)
    first.queue.put_nowait(down("A"))  # half a scan when the cable is pulled
    first.fail(OSError(errno.ENODEV, "No such device"))
    await rig.signal.until(lambda: first.closed and rig.input.attempts >= 4)
    rig.input.plug(BY_ID)
    second = await rig.opened(BY_ID, times=2)
    await rig.scanned(second, "after")
    assert rig.codes == ["before", "after"]
    assert rig.reader.opened == 2
    [gone] = rig.log.warnings("is gone")
    assert "unplugged" in gone
    assert "unfinished scan was lost" in gone
    # Several attempts found nothing, and that was said once.
    assert len(rig.log.warnings("not found")) == 1
    # A flaky cable: lost, reopened at once, lost again. Each loss after a good open is news.
    second.fail(OSError(errno.ENODEV, "No such device"))
    third = await rig.opened(BY_ID, times=3)
    third.fail(OSError(errno.ENODEV, "No such device"))
    await rig.signal.until(lambda: len(rig.log.warnings("is gone")) == 3)


async def test_a_device_missing_at_start_is_waited_for(rigs: Rigs) -> None:
    rig = rigs("scanner")
    rig.start()
    await rig.signal.until(lambda: rig.input.attempts >= 5)
    assert rig.reader.opened == 0
    [missing] = rig.log.warnings("no keyboard-type input device matches 'scanner'")
    assert missing.startswith("door: ")
    rig.input.plug("/dev/input/event7", "USB Barcode Scanner")
    device = await rig.opened("/dev/input/event7")
    await rig.scanned(device, "late")
    assert rig.codes == ["late"]


@pytest.mark.parametrize("device", [BY_ID, "0c2e:0b61", "Honeywell"])
async def test_no_permission_says_to_join_the_input_group(rigs: Rigs, device: str) -> None:
    rig = rigs(device)
    rig.input.denied.add(BY_ID if device == BY_ID else "/dev/input/event3")
    rig.start()
    await rig.signal.until(lambda: rig.input.attempts >= 3)
    [said] = rig.log.warnings("ermission")
    assert "'input' group" in said
    assert "udev" in said
    assert rig.reader.opened == 0


async def test_a_device_grabbed_by_another_program_is_retried(rigs: Rigs) -> None:
    rig = rigs(BY_ID)
    rig.input.plug(BY_ID, grab_error=OSError(errno.EBUSY, "Device or resource busy"))
    rig.start()
    await rig.signal.until(lambda: len(rig.input.opened) >= 3)
    assert all(d.calls == ["grab failed", "close"] for d in rig.input.opened[:-1])
    assert len(rig.log.warnings("grabbed by another program")) == 1
    rig.input.plug(BY_ID)  # the other program let go
    device = await rig.opened(BY_ID)
    await rig.scanned(device, "mine")
    assert rig.codes == ["mine"]


async def test_cancelling_ungrabs_and_closes(rigs: Rigs) -> None:
    rig = rigs(BY_ID)
    rig.input.plug(BY_ID)
    rig.start()
    device = await rig.opened(BY_ID)
    await rig.stop()
    assert device.calls == ["grab", "read", "ungrab", "close"]


async def test_control_keys_from_the_device_reach_the_daemon_as_a_refusable_code(
    rigs: Rigs,
) -> None:
    rig = rigs(BY_ID)
    rig.input.plug(BY_ID)
    rig.start()
    device = await rig.opened(BY_ID)
    for event in [*tap("A"), *tap("TAB"), *tap("B"), *tap("ENTER")]:
        device.queue.put_nowait(event)
    await rig.signal.until(lambda: len(rig.codes) == 1)
    assert rig.codes == ["a\tb"]
    assert not valid_code(rig.codes[0])


async def test_the_real_python_evdev_opens_devices_by_default(rigs: Rigs) -> None:
    pytest.importorskip("evdev")
    rig = rigs("/dev/input/by-id/no-such-reader")
    # Same rig, but python-evdev's own InputDevice tries the (missing) node.
    rig.reader = EvdevReader("door", "/dev/input/by-id/no-such-reader", backoff_first=0.001)
    rig.start()
    await rig.signal.until(lambda: bool(rig.log.warnings("no-such-reader not found")))


async def test_without_python_evdev_running_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "evdev", None)  # makes `import evdev` fail
    reader = EvdevReader("door", BY_ID)
    with pytest.raises(ReaderError, match="python3-evdev"):
        await reader.run(lambda code: None)


def test_an_empty_device_setting_is_refused() -> None:
    with pytest.raises(ReaderError, match="door"):
        EvdevReader("door", "  ")

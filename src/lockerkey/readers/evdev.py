"""Keyboard-type barcode, QR and RFID readers read straight from /dev/input with python-evdev.

The device is grabbed exclusively, so a scan never reaches the kiosk browser or a console.
python-evdev is optional: it is imported only when such a reader runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import glob
import logging
import os
import re
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Protocol

from lockerkey.readers.base import BACKOFF_FIRST_S, BACKOFF_MAX_S, Emit, ReaderError, next_backoff
from lockerkey.readers.keymap import EV_KEY, KEY_ENTER, KEY_KPENTER, KeyDecoder

log = logging.getLogger("lockerkey.reader")

_VENDOR_PRODUCT = re.compile(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{4})")
_INSTALL_HINT = (
    'python-evdev is not installed, and keyboard-type readers (kind = "evdev") need it: '
    "on Raspberry Pi OS / Debian run `sudo apt install python3-evdev` (and make the venv with "
    "--system-site-packages), or `pip install 'lockerkey[evdev]'` (builds from source: needs "
    "gcc and the kernel headers)"
)
_PERMISSION_HINT = (
    "the user running lockerkey must be in the 'input' group "
    "(sudo usermod -aG input USER, then log in again) or a udev rule must give it access"
)


class InputEvent(Protocol):
    """One event as python-evdev delivers it."""

    @property
    def type(self) -> int:
        """Event type (EV_KEY, EV_SYN, ...)."""

    @property
    def code(self) -> int:
        """Key or axis code."""

    @property
    def value(self) -> int:
        """1 down, 0 up, 2 autorepeat for keys."""


class DeviceInfo(Protocol):
    """USB identity of an input device."""

    @property
    def vendor(self) -> int:
        """USB vendor id."""

    @property
    def product(self) -> int:
        """USB product id."""


class InputDevice(Protocol):
    """The part of ``evdev.InputDevice`` this reader uses (a fake one in tests)."""

    @property
    def path(self) -> str | bytes:
        """Where the device was opened."""

    @property
    def name(self) -> str:
        """The name the device reports, e.g. "Honeywell Scanner"."""

    @property
    def info(self) -> DeviceInfo:
        """Vendor and product ids."""

    def capabilities(self) -> Mapping[int, Sequence[int]]:
        """Event codes the device can send, by event type."""

    def grab(self) -> None:
        """Take the device exclusively."""

    def ungrab(self) -> None:
        """Let other programs see its events again."""

    def close(self) -> None:
        """Close the device file."""

    def async_read_loop(self) -> AsyncIterator[InputEvent]:
        """Events as they arrive, without blocking the loop."""


OpenDevice = Callable[[str], InputDevice]


def event_device_paths() -> list[str]:
    """Every /dev/input/event* node, openable or not."""
    # Not evdev.list_devices(): it hides nodes we may not open, which would turn a missing
    # 'input' group membership into an endless, misleading "not found".
    return glob.glob("/dev/input/event*")


class _Unavailable(Exception):
    """The configured device cannot be used right now; the message says why."""


class EvdevReader:
    """A keyboard-type reader found by path, vendor:product or name; reopened after a loss."""

    def __init__(
        self,
        name: str,
        device: str,
        *,
        backoff_first: float = BACKOFF_FIRST_S,
        backoff_max: float = BACKOFF_MAX_S,
        list_devices: Callable[[], Iterable[str]] = event_device_paths,
        open_device: OpenDevice | None = None,
    ) -> None:
        spec = device.strip()
        if not spec:
            raise ReaderError(f"{name}: no device configured for the evdev reader")
        self.name = name
        self.device = spec
        self.backoff_first = backoff_first
        self.backoff_max = backoff_max
        self.opened = 0  # successful opens, for tests and status
        self._list_devices = list_devices
        self._open_device = open_device
        ids = _VENDOR_PRODUCT.fullmatch(spec)
        self._ids = (int(ids[1], 16), int(ids[2], 16)) if ids else None

    async def run(self, emit: Emit) -> None:
        """Read codes until cancelled; a missing or unplugged device is waited for."""
        opener = self._open_device or _evdev_opener()
        delay = self.backoff_first
        complaint = ""
        while True:
            try:
                device = self._acquire(opener)
            except _Unavailable as why:
                reason = str(why)
            else:
                self.opened += 1
                complaint, delay = "", self.backoff_first
                try:
                    reason = await self._pump(device, emit)
                finally:
                    _release(device)
            if reason != complaint:  # the same failure again and again is said once
                log.warning("%s: %s; retrying", self.name, reason)
                complaint = reason
            else:
                log.debug("%s: still %s", self.name, reason)
            await asyncio.sleep(delay)
            delay = min(next_backoff(delay), self.backoff_max)

    def _acquire(self, opener: OpenDevice) -> InputDevice:
        device = self._find(opener)
        try:
            device.grab()
        except OSError as err:
            _close(device)
            raise _Unavailable(_describe(err, _where(device))) from err
        log.info(
            "%s: reading codes from %s (%r), grabbed exclusively",
            self.name,
            _where(device),
            device.name,
        )
        return device

    def _find(self, opener: OpenDevice) -> InputDevice:
        if self.device.startswith("/"):
            try:
                device = opener(self.device)
            except OSError as err:
                raise _Unavailable(_describe(err, self.device)) from err
            if not _is_keyboard(device):
                log.warning(
                    "%s: %s (%r) cannot type Enter: is it the reader's keyboard interface?",
                    self.name,
                    self.device,
                    device.name,
                )
            return device
        matches, denied = self._matching(opener)
        if not matches:
            if denied:
                raise _Unavailable(
                    f"no device we may open matches {self.device!r}, and permission was "
                    f"denied on {len(denied)} ({denied[0]}, ...): {_PERMISSION_HINT}"
                )
            raise _Unavailable(f"no keyboard-type input device matches {self.device!r} yet")
        chosen, *others = matches
        for other in others:
            _close(other)
        if others:
            log.warning(
                "%s: %d devices match %r: using %s (%r), not %s; "
                "configure a /dev/input/by-id/ path to choose",
                self.name,
                len(matches),
                self.device,
                _where(chosen),
                chosen.name,
                ", ".join(f"{_where(d)} ({d.name!r})" for d in others),
            )
        return chosen

    def _matching(self, opener: OpenDevice) -> tuple[list[InputDevice], list[str]]:
        """Open every node in a stable order; keep the keyboards that match the setting."""
        try:
            paths = sorted(self._list_devices(), key=_natural)
        except OSError as err:
            raise _Unavailable(f"cannot list input devices: {err}") from err
        matches: list[InputDevice] = []
        denied: list[str] = []
        for path in paths:
            try:
                device = opener(path)
            except PermissionError:
                denied.append(path)
                continue
            except OSError as err:  # unplugged between listing and opening
                log.debug("%s: skipping %s: %s", self.name, path, err)
                continue
            if _is_keyboard(device) and self._matches(device):
                matches.append(device)
            else:
                _close(device)
        return matches, denied

    def _matches(self, device: InputDevice) -> bool:
        if self._ids is not None:
            return (device.info.vendor, device.info.product) == self._ids
        return self.device.casefold() in device.name.casefold()

    async def _pump(self, device: InputDevice, emit: Emit) -> str:
        """Feed events to a fresh decoder until the device fails; say why it stopped."""
        decoder = KeyDecoder()
        where = _where(device)
        try:
            async for event in device.async_read_loop():
                code = decoder.feed(event.type, event.code, event.value)
                if code is not None:
                    emit(code)
        except OSError as err:
            reason = _describe(err, where)
        else:
            reason = f"{where} stopped sending events"
        if decoder.pending:
            reason += " (an unfinished scan was lost)"
        return reason


def _evdev_opener() -> OpenDevice:
    """python-evdev's device class, or a ReaderError saying how to install it."""
    try:
        import evdev  # noqa: PLC0415  # optional: only kiosks with such a reader need it
    except ImportError as err:
        raise ReaderError(_INSTALL_HINT) from err
    return evdev.InputDevice


def _describe(err: OSError, where: str) -> str:
    """A failure in words an installer can act on."""
    if err.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to open {where}: {_PERMISSION_HINT}"
    if err.errno == errno.EBUSY:
        return (
            f"{where} is grabbed by another program (a second lockerkey, evtest --grab, "
            "a key remapper)"
        )
    if err.errno == errno.ENOENT:
        return f"{where} not found (not plugged in?)"
    if err.errno == errno.ENODEV:
        return f"{where} is gone (unplugged?)"
    return f"{where}: {err.strerror or err}"


def _is_keyboard(device: InputDevice) -> bool:
    """Whether it can end a code: a reader's extra interfaces (consumer keys, mouse) cannot."""
    keys = device.capabilities().get(EV_KEY, ())
    return KEY_ENTER in keys or KEY_KPENTER in keys


def _natural(path: str) -> tuple[str | int, ...]:
    """Sort key putting event2 before event10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path))


def _where(device: InputDevice) -> str:
    return os.fsdecode(device.path)


def _close(device: InputDevice) -> None:
    with contextlib.suppress(OSError):
        device.close()


def _release(device: InputDevice) -> None:
    """Ungrab and close; an unplugged device fails both, which is fine."""
    with contextlib.suppress(OSError):
        device.ungrab()
    _close(device)

"""Key events of a keyboard-type reader turned into codes (US layout); no python-evdev needed.

The numbers are the kernel's input ABI (linux/input-event-codes.h), so they are the same on
every Linux machine and this module can be tested where python-evdev is not installed.
"""

from __future__ import annotations

# Event types and the two synchronisation codes that matter here.
EV_SYN, EV_KEY, EV_MSC = 0, 1, 4
SYN_REPORT, SYN_DROPPED = 0, 3

# The values of an EV_KEY event (not KEY_UP/KEY_DOWN: those are the kernel's arrow keys).
RELEASED, PRESSED, AUTOREPEAT = 0, 1, 2

# Key codes, row by row as on the keyboard: each row is numbered consecutively by the kernel.
KEY_ESC = 1
KEY_1, KEY_2, KEY_3, KEY_4, KEY_5, KEY_6, KEY_7, KEY_8, KEY_9, KEY_0 = range(2, 12)
KEY_MINUS, KEY_EQUAL, KEY_BACKSPACE, KEY_TAB = range(12, 16)
KEY_Q, KEY_W, KEY_E, KEY_R, KEY_T, KEY_Y, KEY_U, KEY_I, KEY_O, KEY_P = range(16, 26)
KEY_LEFTBRACE, KEY_RIGHTBRACE, KEY_ENTER, KEY_LEFTCTRL = range(26, 30)
KEY_A, KEY_S, KEY_D, KEY_F, KEY_G, KEY_H, KEY_J, KEY_K, KEY_L = range(30, 39)
KEY_SEMICOLON, KEY_APOSTROPHE, KEY_GRAVE, KEY_LEFTSHIFT, KEY_BACKSLASH = range(39, 44)
KEY_Z, KEY_X, KEY_C, KEY_V, KEY_B, KEY_N, KEY_M = range(44, 51)
KEY_COMMA, KEY_DOT, KEY_SLASH, KEY_RIGHTSHIFT, KEY_KPASTERISK = range(51, 56)
KEY_LEFTALT, KEY_SPACE, KEY_CAPSLOCK = range(56, 59)
KEY_NUMLOCK, KEY_SCROLLLOCK = 69, 70
KEY_KP7, KEY_KP8, KEY_KP9, KEY_KPMINUS = range(71, 75)
KEY_KP4, KEY_KP5, KEY_KP6, KEY_KPPLUS = range(75, 79)
KEY_KP1, KEY_KP2, KEY_KP3, KEY_KP0, KEY_KPDOT = range(79, 84)
KEY_KPENTER, KEY_RIGHTCTRL, KEY_KPSLASH = 96, 97, 98
KEY_RIGHTALT = 100
KEY_DELETE = 111
KEY_KPEQUAL = 117
KEY_KPCOMMA = 121
KEY_LEFTMETA, KEY_RIGHTMETA = 125, 126

# Longer than any code the kiosk accepts (64), so an over-long scan is still seen and refused
# whole, yet a reader typing on without Enter cannot grow the buffer.
MAX_CODE_CHARS = 256

_LETTER_KEYS = (*range(KEY_Q, KEY_P + 1), *range(KEY_A, KEY_L + 1), *range(KEY_Z, KEY_M + 1))

# (plain, with Shift) for every key that types a character on a US keyboard.
_US: dict[int, tuple[str, str]] = {
    **{
        key: (ch, ch.upper())
        for key, ch in zip(_LETTER_KEYS, "qwertyuiopasdfghjklzxcvbnm", strict=True)
    },
    **{
        key: (plain, shifted)
        for key, plain, shifted in zip(
            range(KEY_1, KEY_0 + 1), "1234567890", "!@#$%^&*()", strict=True
        )
    },
    KEY_MINUS: ("-", "_"),
    KEY_EQUAL: ("=", "+"),
    KEY_LEFTBRACE: ("[", "{"),
    KEY_RIGHTBRACE: ("]", "}"),
    KEY_SEMICOLON: (";", ":"),
    KEY_APOSTROPHE: ("'", '"'),
    KEY_GRAVE: ("`", "~"),
    KEY_BACKSLASH: ("\\", "|"),
    KEY_COMMA: (",", "<"),
    KEY_DOT: (".", ">"),
    KEY_SLASH: ("/", "?"),
    KEY_SPACE: (" ", " "),
}

# Readers that type digits on the keypad mean digits whatever the host's Num Lock says.
_KEYPAD: dict[int, str] = {
    KEY_KP0: "0",
    KEY_KP1: "1",
    KEY_KP2: "2",
    KEY_KP3: "3",
    KEY_KP4: "4",
    KEY_KP5: "5",
    KEY_KP6: "6",
    KEY_KP7: "7",
    KEY_KP8: "8",
    KEY_KP9: "9",
    KEY_KPDOT: ".",
    KEY_KPPLUS: "+",
    KEY_KPMINUS: "-",
    KEY_KPASTERISK: "*",
    KEY_KPSLASH: "/",
    KEY_KPEQUAL: "=",
    KEY_KPCOMMA: ",",
}

_SHIFT = frozenset({KEY_LEFTSHIFT, KEY_RIGHTSHIFT})
_CTRL = frozenset({KEY_LEFTCTRL, KEY_RIGHTCTRL})
_ALT = frozenset({KEY_LEFTALT, KEY_RIGHTALT, KEY_LEFTMETA, KEY_RIGHTMETA})
_MODIFIERS = _SHIFT | _CTRL | _ALT
# Lock keys only change the host's state; Caps Lock is tracked, the others change nothing here.
_IGNORED = frozenset({KEY_NUMLOCK, KEY_SCROLLLOCK})
_ENTER = frozenset({KEY_ENTER, KEY_KPENTER})

# Keys without a printable character: the control character they naturally stand for, so the
# daemon's validator refuses the whole code (a crafted barcode can type Tab or Esc: BadBarcode).
_CONTROL: dict[int, str] = {KEY_ESC: "\x1b", KEY_TAB: "\t", KEY_BACKSPACE: "\b", KEY_DELETE: "\x7f"}
POISON = "\x00"  # any other key with no character: F-keys, arrows, mouse buttons, ...


class KeyDecoder:
    """Turns the key events of one keyboard-type reader into codes, one per Enter."""

    def __init__(self, max_chars: int = MAX_CODE_CHARS) -> None:
        self._max = max_chars
        self._chars: list[str] = []
        self._held: set[int] = set()
        self._caps = False
        self._overflowed = False

    @property
    def pending(self) -> bool:
        """Whether characters of an unfinished code are waiting for Enter."""
        return bool(self._chars)

    def feed(self, ev_type: int, code: int, value: int) -> str | None:
        """Take one input event; return a complete code (without the Enter) when one ends."""
        if ev_type == EV_SYN and code == SYN_DROPPED:
            # The kernel lost events: characters may be missing, and a shortened code can
            # still look valid, so the code in progress must be refused.
            self._held.clear()
            return self._add(POISON)
        if ev_type != EV_KEY:
            return None
        if code in _MODIFIERS:
            if value == PRESSED:
                self._held.add(code)
            elif value == RELEASED:
                self._held.discard(code)
            return None
        # A reader never holds a key down, so AUTOREPEAT is noise, not a second character.
        if value != PRESSED or code in _IGNORED:
            return None
        if code == KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        if code in _ENTER:
            return self._finish()
        return self._add(self._char(code))

    def _char(self, code: int) -> str:
        if code in _KEYPAD:
            char = _KEYPAD[code]
        elif code in _US:
            plain, shifted = _US[code]
            upper = bool(self._held & _SHIFT)
            if plain.isalpha():
                upper ^= self._caps
            char = shifted if upper else plain
        else:
            return _CONTROL.get(code, POISON)
        if self._held & _CTRL:
            # Ctrl+letter is the ASCII control character (Ctrl+C = 0x03), anything else NUL.
            return chr(ord(char.upper()) & 0x1F) if char.isalpha() else POISON
        if self._held & _ALT:
            return "\x1b"  # what a terminal sends for Alt: never part of a valid code
        return char

    def _add(self, char: str) -> str | None:
        if self._overflowed:
            return None  # the rest of an over-long scan: its head was already handed on
        self._chars.append(char)
        if len(self._chars) < self._max:
            return None
        # Handed on at this length so the daemon sees and refuses it; the tail is skipped up
        # to the Enter, since on its own it could look like a valid short code.
        self._overflowed = True
        return self._take()

    def _finish(self) -> str | None:
        if self._overflowed:
            self._overflowed = False
            return None
        return self._take() or None

    def _take(self) -> str:
        code = "".join(self._chars)
        self._chars.clear()
        return code

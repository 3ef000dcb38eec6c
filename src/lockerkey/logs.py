"""Logging for the daemon: <data_dir>/logs/ rotated by size, and stderr for the journal.

One line per event: time (in the site's time zone), level, component, message. Member names
are logged wrapped in ``Personal``; with ``[log] privacy = true`` they come out hidden. Anything
shaped like a credential is masked whatever the settings.
"""

from __future__ import annotations

import copy
import logging
import logging.handlers
import re
import sys
from collections.abc import Mapping
from datetime import datetime, tzinfo
from pathlib import Path

from lockerkey.config import Settings

LOG_FILE = "lockerkey.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HIDDEN = "name hidden"

_SECRETS = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S),
    re.compile(
        r"""(?i)(["']?(?:private_key|password|passwd|secret|token|api_key)["']?\s*[:=]\s*)"""
        r"""("(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|\S+)"""
    ),
)


class Personal(str):
    """A member's name in a log call: hidden from the logs when privacy is on."""

    __slots__ = ()


def scrub(text: str) -> str:
    """Mask private keys and ``password=...``-style values in a log message."""
    text = _SECRETS[0].sub("[private key hidden]", text)
    return _SECRETS[1].sub(lambda m: m.group(1) + "[hidden]", text)


class KioskFormatter(logging.Formatter):
    """FORMAT with site-local ISO times, hidden names and masked secrets, one line per record."""

    def __init__(self, tz: tzinfo | None, privacy: bool) -> None:
        super().__init__(FORMAT)
        self.tz = tz
        self.privacy = privacy
        # Each handler (file, stderr) formats the same record: the second gets the first's text.
        self._last: tuple[logging.LogRecord, str] | None = None

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The record's time in the site's zone, to the millisecond, with its offset."""
        return datetime.fromtimestamp(record.created, self.tz).isoformat(timespec="milliseconds")

    def format(self, record: logging.LogRecord) -> str:
        """Format a copy: the record is shared with the other handlers."""
        last = self._last  # one read: another thread may format through the other handler
        if last is not None and last[0] is record:
            return last[1]
        shown = _hide_names(record) if self.privacy else record
        text = scrub(super().format(shown))
        head, sep, rest = text.partition("\n")
        # A message is one line; a traceback keeps its lines, indented so they read as one.
        line = head + (sep + "    " + rest.replace("\n", "\n    ") if rest else "")
        self._last = (record, line)
        return line


def _hide_names(record: logging.LogRecord) -> logging.LogRecord:
    """A copy of the record with every Personal value hidden (the message itself included)."""

    def hide(value: object) -> object:
        return HIDDEN if isinstance(value, Personal) else value

    args = record.args
    if not isinstance(record.msg, Personal) and not args:
        return record
    record = copy.copy(record)
    record.msg = hide(record.msg)
    if isinstance(args, tuple):
        record.args = tuple(hide(a) for a in args)
    elif isinstance(args, Mapping):
        record.args = {k: hide(v) for k, v in args.items()}
    return record


def setup_logging(settings: Settings, stderr: bool = True) -> Path | None:
    """Send the lockerkey loggers to the log file and stderr; the file's path, or None."""
    root = logging.getLogger("lockerkey")
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(settings.log.level.upper())
    root.propagate = False
    formatter = KioskFormatter(settings.timezone, settings.log.privacy)
    if stderr:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(formatter)
        root.addHandler(console)
    path = settings.log_dir / LOG_FILE
    try:
        settings.log_dir.mkdir(parents=True, exist_ok=True)
        file = logging.handlers.RotatingFileHandler(
            path, maxBytes=settings.log.max_bytes, backupCount=settings.log.keep, encoding="utf-8"
        )
    except OSError as err:
        # Losing the file log must not stop the kiosk: the journal still has everything.
        root.error("cannot write logs to %s: %s; logging to stderr only", path, err.strerror)
        return None
    file.setFormatter(formatter)
    root.addHandler(file)
    return path

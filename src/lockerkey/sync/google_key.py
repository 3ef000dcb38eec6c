"""The service-account key file behind the Google Sheets backend.

A key file is a password: it is refused unless only its owner can read it, and no message
or exception chain carries any of its content.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from google.oauth2 import service_account

from lockerkey.sync.backend import SyncRefused

_KEY_FIELDS = ("client_email", "private_key", "token_uri")


def read_key_file(path: Path) -> dict[str, Any]:
    """The service-account key, refused unless only its owner can read it."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise SyncRefused(f"credentials file {path} does not exist") from None
    except OSError as err:
        raise SyncRefused(f"credentials file {path} cannot be read: {err.strerror}") from err
    if not stat.S_ISREG(st.st_mode):
        raise SyncRefused(f"credentials file {path} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode not in (0o600, 0o400):
        raise SyncRefused(
            f"credentials file {path} has mode {mode:04o}; a private key must be readable by"
            f" its owner only: run chmod 600 {path}"
        )
    try:
        data = path.read_bytes()
    except OSError as err:
        raise SyncRefused(f"credentials file {path} cannot be read: {err.strerror}") from err
    info, problem = _parse_key(data)
    # Raised here, outside any except block, so no exception holding the text (private
    # key included) rides along as __context__ into logs or error reports.
    if info is None:
        raise SyncRefused(f"credentials file {path} {problem}")
    return info


def _parse_key(data: bytes) -> tuple[dict[str, Any] | None, str]:
    """The key's JSON, or why not; the reason never quotes the content."""
    try:
        info = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "is not UTF-8 text"
    except json.JSONDecodeError as err:
        return None, f"is not valid JSON (line {err.lineno}, column {err.colno})"
    if (
        not isinstance(info, dict)
        or info.get("type") != "service_account"
        or not all(isinstance(info.get(k), str) and info[k] for k in _KEY_FIELDS)
    ):
        return None, (
            'is not a Google service-account key (JSON with "type": "service_account",'
            " client_email, private_key and token_uri)"
        )
    return info, ""


def load_credentials(info: dict[str, Any], scopes: list[str]) -> Any:
    """google-auth credentials from the key, or None when the private key does not load."""
    try:
        return service_account.Credentials.from_service_account_info(info, scopes=scopes)
    except ValueError:
        # Not chained and not repeated: the parser's error may quote the key.
        return None

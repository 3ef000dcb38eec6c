"""How the ledger writes times and sensor flags: UTC ISO-8601 text, 0/1/NULL."""

from __future__ import annotations

from datetime import UTC, datetime


def ts(value: datetime | None) -> str | None:
    """A timestamp as stored: UTC ISO-8601 with offset, millisecond precision."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime reached the ledger")
    return value.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_ts(text: str | None) -> datetime | None:
    """A stored timestamp back as an aware datetime."""
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def flag(value: bool | None) -> int | None:
    """A sensor flag as stored: 1, 0 or NULL (unknown)."""
    return None if value is None else int(value)


def unflag(value: int | None) -> bool | None:
    """A stored sensor flag back as True, False or None."""
    return None if value is None else bool(value)

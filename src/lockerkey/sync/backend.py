"""What a sync backend does (Google Sheets or CSV files): plain tables of text in and out.

The sync run (``sync/runner.py``) owns the rules (which rows are bad, who is deactivated,
which rentals go up); a backend only moves tables, counting the API calls it makes.
"""

from __future__ import annotations

from typing import Protocol

Table = list[list[str]]  # rows of cells, as text; the header row first


class SyncError(Exception):
    """A sync could not run; the message says why in words an operator can act on."""


class SyncUnavailable(SyncError):
    """Transient: no network, timeouts, 429/5xx after the retries. The next slot retries."""


class SyncRefused(SyncError):
    """Needs a person: credentials refused or unreadable, a spreadsheet missing or not shared."""


class Backend(Protocol):
    """One member master and one rentals table, wherever they live."""

    name: str  # "gsheets" or "csv", for the sync log
    api_calls: int  # requests made so far (Sheets and Drive; OAuth token requests not counted)

    def read_members(self) -> Table:
        """The whole members worksheet (or file), header first, every value as displayed text."""

    def write_report(self, rows: Table) -> None:
        """Replace the sync report (worksheet ``sync_report`` / a CSV beside the members file)
        with ``rows`` (header first); created when missing."""

    def read_rentals(self) -> Table:
        """The whole rentals worksheet (or file), header first; [] when it is empty."""

    def write_rentals(
        self, header: list[str] | None, appends: Table, updates: dict[int, list[str]]
    ) -> None:
        """Write row 1 when ``header`` is given; append ``appends`` in one request; replace the
        rows numbered (1-based, as the sheet numbers them) in ``updates`` in one request."""

    def close(self) -> None:
        """Let go of connections (called once a run is over)."""

"""A Google Sheets backend wired to a fresh fake Google, for the gsheets tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from lockerkey.sync.gsheets import GoogleSheets
from tests.fake_google import FakeGoogle
from tests.google_creds import write_key

HEADER = ["transaction_id", "device_id", "member_id", "status"]
MEMBERS = [["barcode", "name", "status"], ["0012", "Kim", "active"], ["M0002", "Lee"]]


def rental(i: int) -> list[str]:
    """An invented rentals row whose member barcode has leading zeros."""
    return [f"T{i:05d}", "kiosk-1", f"{i:04d}", "rented"]


@dataclass
class Rig:
    """The fake, a key file for it, a members and a rentals spreadsheet, recorded waits."""

    google: FakeGoogle
    key_file: Path
    members: str
    rentals: str
    sleeps: list[float] = field(default_factory=list)

    def make(self, **kw: object) -> GoogleSheets:
        """A backend on the fake; keyword arguments replace the defaults."""
        args: dict[str, object] = {
            "credentials": self.key_file,
            "members_spreadsheet": self.members,
            "members_worksheet": "members",
            "rentals_spreadsheet": self.rentals,
            "rentals_worksheet": "rentals",
            "api_endpoint": self.google.url,
            "timeout_s": 5.0,
            "sleep": self.sleeps.append,
            "rand": lambda: 1.0,  # the jitter at its ceiling, so the waits are predictable
        }
        args.update(kw)
        return GoogleSheets(**args)  # type: ignore[arg-type]


@contextmanager
def gsheets_rig(tmp_path: Path) -> Iterator[Rig]:
    """A rig whose fake stops at the end."""
    with FakeGoogle() as google:
        key_file = write_key(tmp_path / "service-account.json", google.token_uri)
        members = google.add_spreadsheet("Members", {"members": MEMBERS})
        rentals = google.add_spreadsheet("Rentals", {"rentals": []})
        yield Rig(google, key_file, members, rentals)

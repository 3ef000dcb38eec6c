"""The Google Sheets backend when Google misbehaves: 429/5xx storms, timeouts, lost
answers, refusals and no network; waits are recorded through the injected sleep."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from lockerkey.sync.backend import SyncRefused, SyncUnavailable
from tests.fake_google import Call
from tests.google_creds import EMAIL, write_key
from tests.gsheets_rig import HEADER, MEMBERS, Rig, gsheets_rig, rental


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with gsheets_rig(tmp_path) as rig:
        yield rig


def test_429_and_500_storms_are_waited_out(rig: Rig) -> None:
    backend = rig.make()
    rig.google.fail_next(3, status=429)
    assert backend.read_members()[1] == MEMBERS[1]
    assert rig.sleeps == [1.0, 2.0, 4.0]  # base 1 s, doubling, full jitter at its ceiling
    rig.google.fail_next(5, status=500)
    assert backend.read_rentals() == []
    assert rig.sleeps[3:] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert backend.api_calls == rig.google.count() == 2 + 3 + 2 + 5


def test_backoff_is_capped_and_honours_retry_after(rig: Rig) -> None:
    backend = rig.make(retries=8)
    rig.google.fail_next(7, status=503)
    backend.read_members()
    assert rig.sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 32.0]
    rig.sleeps.clear()
    rig.google.fail_next(1, status=429, retry_after=7)
    backend.read_rentals()
    assert rig.sleeps == [7.0]
    jittered: list[float] = []
    backend = rig.make(sleep=jittered.append, rand=lambda: 0.25)
    rig.google.fail_next(2, status=502)
    backend.read_members()
    assert jittered == [0.25, 0.5]


def test_gives_up_after_the_retries(rig: Rig) -> None:
    backend = rig.make(retries=2)
    rig.google.fail_next(10, status=503)
    with pytest.raises(SyncUnavailable) as caught:
        backend.read_members()
    assert "after 3 tries: HTTP 503 UNAVAILABLE" in str(caught.value)
    assert "members spreadsheet" in str(caught.value)
    assert len(rig.sleeps) == 2
    assert rig.google.count() == 3


def test_a_timeout_is_retried(rig: Rig) -> None:
    backend = rig.make(timeout_s=0.3)
    rig.google.timeout_next(1)
    assert backend.read_members()[0] == MEMBERS[0]
    assert rig.sleeps == [1.0]
    rig.google.timeout_next(3)
    with pytest.raises(SyncUnavailable, match="after 2 tries: timed out"):
        rig.make(timeout_s=0.3, retries=1).read_rentals()


def test_not_found_and_not_shared_are_refused(rig: Rig) -> None:
    missing = "1" * 44
    with pytest.raises(SyncRefused) as caught:
        rig.make(members_spreadsheet=missing).read_members()
    message = str(caught.value)
    assert f"members spreadsheet '{missing}' not found or not shared with {EMAIL}" in message
    assert "HTTP 404" in message
    hidden = rig.google.add_spreadsheet("Hidden", {"rentals": []}, shared=False)
    share = re.escape(f"share the spreadsheet with {EMAIL} as Editor")
    with pytest.raises(SyncRefused, match=share):
        rig.make(rentals_spreadsheet=hidden).read_rentals()
    viewer = rig.google.add_spreadsheet("Viewer", {"members": MEMBERS}, shared="reader")
    backend = rig.make(members_spreadsheet=viewer)
    assert backend.read_members()[0] == MEMBERS[0]
    with pytest.raises(SyncRefused, match=r"report worksheet .* access denied.*HTTP 403"):
        backend.write_report([["row"]])


def _append(call: Call) -> bool:
    return call.kind == "values.append"


def test_a_lost_append_answer_is_not_retried(rig: Rig) -> None:
    backend = rig.make()
    backend.read_rentals()
    rig.google.fail_when(_append, status=500, apply_then_fail=True)
    with pytest.raises(SyncUnavailable, match="may or may not have been applied"):
        backend.write_rentals(HEADER, [rental(1)], {})
    assert rig.google.values(rig.rentals, "rentals") == [HEADER, rental(1)]
    assert rig.sleeps == []  # retrying would have added the row twice
    # A 429 means Google did nothing: the append is retried.
    backend = rig.make()
    backend.read_rentals()
    rig.google.fail_when(_append, status=429)
    backend.write_rentals(None, [rental(2)], {})
    assert rig.google.values(rig.rentals, "rentals") == [HEADER, rental(1), rental(2)]
    assert rig.sleeps == [1.0]


def test_a_timed_out_append_is_not_retried(rig: Rig) -> None:
    backend = rig.make(timeout_s=0.3)
    backend.read_rentals()
    backend.write_rentals(HEADER, [], {})
    rig.google.timeout_next(1, apply_first=True)  # the next request is the append
    with pytest.raises(SyncUnavailable, match="timed out; the write may or may not"):
        backend.write_rentals(None, [rental(1)], {})
    assert rig.google.values(rig.rentals, "rentals") == [HEADER, rental(1)]
    assert rig.sleeps == []


def test_no_connection(rig: Rig, tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on: connections are refused
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(SyncUnavailable, match="after 3 tries: no connection"):
        rig.make(api_endpoint=dead, retries=2).read_members()
    assert rig.sleeps == [1.0, 2.0]
    rig.sleeps.clear()
    dead_token = write_key(tmp_path / "dead.json", f"{dead}/token")
    with pytest.raises(SyncUnavailable, match="after 2 tries: token endpoint unreachable"):
        rig.make(credentials=dead_token, retries=1).read_members()
    assert rig.sleeps == [1.0]

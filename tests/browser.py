"""Debian's chromium driven by Playwright (Playwright cannot download browsers here)."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import Browser, expect, sync_playwright

CHROMIUM = os.environ.get("LOCKERKEY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# No sandbox (CI runs as root), no GPU, and none of the background traffic Chromium would
# otherwise try (and fail) to send from a machine without a network.
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """A headless chromium for the length of the block."""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def artifact(name: str) -> Path:
    """A path under test-artifacts/ (kept after the run, ignored by git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / name


@contextlib.contextmanager
def chromium_waiting(wait_ms: int) -> Iterator[Browser]:
    """A chromium for one test module, with Playwright's ``expect`` waiting ``wait_ms`` per
    step meanwhile (processes under load; the default is set back afterwards)."""
    expect.set_options(timeout=wait_ms)
    try:
        with chromium() as launched:
            yield launched
    finally:
        expect.set_options(timeout=5_000)  # Playwright's default, for the other files

"""Where the packaged assets are: everything ships in the package, nothing from a CDN."""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATES_DIR = Path(__file__).parent / "templates"


def static_path(name: str) -> Path:
    """A file of the packaged static directory."""
    return STATIC_DIR / name

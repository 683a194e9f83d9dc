"""The user's default web browser, for `beskar report --open`."""

from __future__ import annotations

import webbrowser
from pathlib import Path


def open_page(path: Path) -> bool:
    """Show a local page in the default browser; False when there is none (e.g. on a server without a desktop)."""
    return webbrowser.open(Path(path).resolve().as_uri())

"""`beskar demo`: the example fleet written, each site's secrets synced, and rendered."""

from __future__ import annotations

from pathlib import Path

from beskar import tree as trees
from beskar.fleet.examples import write_example
from beskar.operations.compilation import CompiledFleet, render_fleet
from beskar.operations.secrets import sync_all


def write_demo(directory: Path) -> tuple[list[str], CompiledFleet, list[trees.Difference]]:
    """The example fleet as `beskar demo` leaves it: written, each site's secrets synced, rendered."""
    files = write_example(directory)
    sync_all(directory)  # encrypted to the published DEMO keys of demo-keys/ (check warns about them)
    compiled, changes = render_fleet(directory)
    return files, compiled, changes

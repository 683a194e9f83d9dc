"""The model diff: each typed value of a site that differs between two revisions, and the line that set it."""

from __future__ import annotations

from typing import Any

from beskar.diff.changes import Change, ValueChange
from beskar.diff.structure import MISSING, Named, compare, dotted
from beskar.fleet import LayeredSite
from beskar.model import Site
from beskar.problems import Origin


def _origin(layered: LayeredSite | None, path: tuple[Any, ...]) -> Origin | None:
    if layered is None:
        return None
    return layered.origin(tuple(str(step) if isinstance(step, Named) else step for step in path))


def diff_models(base: tuple[Site, LayeredSite] | None, head: tuple[Site, LayeredSite] | None) -> list[ValueChange]:
    """Every changed leaf of the typed site (a whole node or network when one is added or removed)."""
    old = base[0].model_dump(mode="json") if base else {}
    new = head[0].model_dump(mode="json") if head else {}
    changes = []
    for leaf in compare(old, new):
        changes.append(ValueChange(
            dotted(leaf.path), leaf.change,
            None if leaf.old is MISSING else leaf.old, None if leaf.new is MISSING else leaf.new,
            _origin(base[1] if base else None, leaf.path) if leaf.change is not Change.ADDED else None,
            _origin(head[1] if head else None, leaf.path) if leaf.change is not Change.REMOVED else None))
    return changes

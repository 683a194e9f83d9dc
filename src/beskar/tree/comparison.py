"""How the tree on disk differs from a rendered one: created, updated, deleted and unchanged files."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import AbstractSet, Iterable, Mapping

from beskar.tree.paths import owned_files, refuse_links


class Change(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Difference:
    """How one file on disk differs from the rendered tree."""

    path: str
    change: Change


def compare_unlocked(root: Path, emitted: dict[str, bytes], prefixes: Iterable[str],
                     owned: Iterable[str] | None) -> list[Difference]:
    changes = file_changes(root, emitted) + deletions(root, emitted, prefixes, owned)
    return sorted(changes, key=lambda d: d.path)


def file_changes(root: Path, emitted: dict[str, bytes]) -> list[Difference]:
    """How each emitted file differs from its namesake on disk (created, updated or unchanged), in emitted order."""
    changes: list[Difference] = []
    checked: set[str] = set()
    for path, content in emitted.items():
        refuse_links(root, path, checked)
        target = root / path
        if not target.is_file():
            changes.append(Difference(path, Change.CREATED))
        elif target.read_bytes() != content:
            changes.append(Difference(path, Change.UPDATED))
        else:
            changes.append(Difference(path, Change.UNCHANGED))
    return changes


def deletions(root: Path, emitted: Iterable[str], prefixes: Iterable[str],
              owned: Iterable[str] | None = None) -> list[Difference]:
    """The files Beskar owns under `prefixes` (or, given `owned`, those files) that `emitted` lacks."""
    names = emitted.keys() if isinstance(emitted, Mapping) else emitted if isinstance(emitted, AbstractSet) \
        else set(emitted)
    # An emitted file is never deleted, whoever made it: it is not opened to see whether Beskar did.
    found = owned_files(root, prefixes, unless=names) if owned is None else set(owned)
    return [Difference(path, Change.DELETED) for path in sorted(found.difference(names))]

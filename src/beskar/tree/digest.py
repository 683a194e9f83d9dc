"""The render record beside the tree: per site, the digest of its inputs and of every file rendered from them.

A site may be skipped by the next render only when its inputs hash as recorded and the files Beskar owns under
its prefixes are exactly the recorded ones, byte for byte (read and hashed again, never trusted from a stat): a
hand-edited, deleted or added tree file is seen as the full comparison would see it. Each entry pairs inputs
with the output rendered from them, so an entry is true whatever the tree on disk holds; a record that is
missing, stale or unreadable only costs a full render."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from beskar.problems import InputError
from beskar.tree.emission import GENERATED_MARK
from beskar.tree.files import write_file
from beskar.tree.lock import locked
from beskar.tree.paths import STATE_DIR, refuse_links

RECORD_FILE = f"{STATE_DIR}/render.json"
_FORMAT = 1
_MARK = GENERATED_MARK.encode()


@dataclass(frozen=True)
class SiteRecord:
    """One site's last render: its inputs' digest, each file's digest, and the figures a render reports."""

    inputs: str
    outputs: dict[str, str]
    figures: dict[str, Any] = field(default_factory=dict)


def content_digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def read_records(root: Path) -> dict[str, SiteRecord]:
    """The recorded sites; empty when there is no record or it cannot be read (it is only ever a shortcut)."""
    try:
        data = json.loads((root / RECORD_FILE).read_bytes())
        if data.get("format") != _FORMAT:
            return {}
        return {name: SiteRecord(entry["inputs"], dict(entry["outputs"]), dict(entry.get("figures", {})))
                for name, entry in data["sites"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def record(root: Path, records: dict[str, SiteRecord]) -> None:
    """Add or replace these sites' entries, atomically; a fleet that cannot be written keeps no record."""
    if not records:
        return
    try:
        with locked(root):
            merged = {**read_records(root), **records}
            data = {"format": _FORMAT, "sites": {name: {"inputs": r.inputs, "outputs": dict(sorted(r.outputs.items())),
                                                        "figures": r.figures} for name, r in sorted(merged.items())}}
            write_file(root / RECORD_FILE, json.dumps(data, separators=(",", ":")).encode())
    except (OSError, InputError):
        pass


def holds(root: Path, prefixes: Iterable[str], outputs: dict[str, str]) -> bool:
    """True if the generated files under `prefixes` are exactly `outputs` (path -> digest of the bytes).

    Read as the comparison reads them: links are never followed, a file without Beskar's mark is not Beskar's.
    Call it under the fleet's lock (shared is enough), after any pending write is settled."""
    return recorded_files(root, prefixes, outputs) is not None


def recorded_files(root: Path, prefixes: Iterable[str], outputs: dict[str, str]) -> dict[str, bytes] | None:
    """The generated files under `prefixes` (path -> bytes) if they are exactly `outputs`, else None; read as
    `holds` reads them."""
    found: dict[str, bytes] = {}
    checked: set[str] = set()
    try:
        for prefix in prefixes:
            refuse_links(root, prefix, checked)
            base = root / prefix
            if not base.is_dir():
                continue
            for directory, _, names in os.walk(base):
                for name in names:
                    path = os.path.join(directory, name)
                    if os.path.islink(path) or not os.path.isfile(path):
                        continue
                    with open(path, "rb") as handle:
                        content = handle.read()
                    if content.startswith(_MARK):
                        relative = Path(path).relative_to(root).as_posix()
                        if outputs.get(relative) != content_digest(content):
                            return None
                        found[relative] = content
    except (OSError, InputError):
        return None  # the full comparison says what is wrong, with its place
    return found if len(found) == len(outputs) else None

"""Rewriting one top-level section of a fleet file in place, keeping every other line (and comment) as it is."""

from __future__ import annotations

import re
from pathlib import Path

from beskar.fleet.documents import parse_document
from beskar.tree import write_file


def replace_section(text: str, key: str, section: str) -> str:
    """`text` with its top-level `key:` block replaced by `section` (YAML text starting with `key:`), or
    `section` appended when the key is absent. A block runs to the next top-level key; comment lines
    just above that key stay with it."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"{re.escape(key)}\s*:", line)), None)
    if start is None:
        prefix = text if text.endswith("\n") or not text else text + "\n"
        return prefix + section
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"[^\s#]", lines[i])), len(lines))
    while end > start + 1 and (lines[end - 1].startswith("#") or not lines[end - 1].strip()):
        end -= 1
    return "".join(lines[:start]) + section + "".join(lines[end:])


def write_section(root: Path, relative: str, key: str, section: str, layer: str) -> None:
    """Replace `key:` in the fleet file atomically; the result must parse (an InputError leaves the file alone)."""
    path = Path(root) / relative
    updated = replace_section(path.read_text(encoding="utf-8"), key, section)
    parse_document(updated, relative, layer)
    write_file(path, updated.encode("utf-8"))

"""Rewriting one top-level section of a fleet file in place, keeping every other line (and comment) as it is."""

from __future__ import annotations

import re
from pathlib import Path

from beskar.fleet.documents import parse_document
from beskar.problems import InputError, Origin, Problem
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


def set_child(text: str, file: str, section: str, key: str, value: str | None) -> str:
    """`text` with `section.key` set to the one-line YAML `value` (None: removed), every other line kept.
    The key's old lines (it and the deeper-indented lines under it) are replaced; a missing section is appended."""
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if re.match(rf"{re.escape(section)}\s*:", line)), None)
    if start is None:
        if value is None:
            return text
        prefix = text if text.endswith("\n") or not text else text + "\n"
        return f"{prefix}{section}:\n  {key}: {value}\n"
    if lines[start].split(":", 1)[1].split("#")[0].strip():
        raise InputError([Problem(f"{section}: is written on one line; put its keys on their own lines first",
                                  Origin(file, start + 1, 1, file))])
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"[^\s#]", lines[i])), len(lines))
    children = [i for i in range(start + 1, end) if re.match(r"\s+[^\s#]", lines[i])]
    indent = re.match(r"\s+", lines[children[0]]).group(0) if children else "  "  # type: ignore[union-attr]
    found = next((i for i in children if re.match(rf"{indent}{re.escape(key)}\s*:", lines[i])), None)
    replacement = [f"{indent}{key}: {value}\n"] if value is not None else []
    if found is None:
        return "".join(lines[:start + 1] + replacement + lines[start + 1:])
    stop = next((i for i in range(found + 1, end)
                 if lines[i].strip() and len(lines[i]) - len(lines[i].lstrip()) <= len(indent)), end)
    return "".join(lines[:found] + replacement + lines[stop:])

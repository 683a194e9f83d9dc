"""Where the tree may live: the state directory, the fixed modes, and paths that stay inside the fleet."""

from __future__ import annotations

import os
from pathlib import Path
from typing import AbstractSet, Any, Iterable

from beskar.problems import InputError, Problem
from beskar.tree.emission import GENERATED_MARK


STATE_DIR = ".beskar"  # the lock and the journal; never committed (.gitignore)
JOURNAL_DIR = f"{STATE_DIR}/txn"
SITE_TOPS = ("clusters", "apps", "inventory")  # the folders a site's rendered tree is under, each in <top>/<site>
PLAN_FILE = "plan.json"
ROLLING_BACK = "rolling-back"
# One mode for every file and directory of the tree, whatever the umask: two renders give the same tree.
FILE_MODE = 0o644
DIRECTORY_MODE = 0o755


def _generated(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(len(GENERATED_MARK)) == GENERATED_MARK.encode()
    except OSError:
        return False


# --- staying inside the fleet ----------------------------------------------------------------------


def unsafe(relative: Any) -> bool:
    """A path that could leave the tree: not a plain relative path of named components."""
    if not isinstance(relative, str) or not relative or relative.startswith("/") or "\\" in relative:
        return True
    return any(part in ("", ".", "..") or "\0" in part for part in relative.split("/"))


def refuse_links(root: Path, relative: str, checked: set[str]) -> None:
    """Refuse a path that leaves the fleet or passes through a symbolic link (its writes would land elsewhere)."""
    if unsafe(relative):
        raise InputError([Problem(f"{relative!r} is not a path inside the fleet; Beskar writes only inside it")])
    parts = relative.split("/")
    for depth in range(1, len(parts) + 1):
        prefix = "/".join(parts[:depth])
        if prefix in checked:
            continue
        if (root / prefix).is_symlink():
            raise InputError([Problem(f"{prefix} is a symbolic link: Beskar reads and writes the tree only inside "
                                      "the fleet, never through a link", hint="replace the link by a directory")])
        checked.add(prefix)


def site_prefixes(name: str) -> list[str]:
    """Where a site's rendered files are: <top>/<site> for each of SITE_TOPS."""
    return [f"{top}/{name}" for top in SITE_TOPS]


def owned_files(root: Path, prefixes: Iterable[str], unless: AbstractSet[str] = frozenset()) -> set[str]:
    """Files under the prefixes that Beskar generated (hand-written files, e.g. flux-system, are never owned),
    but for those in `unless`, which are not opened (the caller knows what it does with them)."""
    found: set[str] = set()
    checked: set[str] = set()
    for prefix in prefixes:
        refuse_links(root, prefix, checked)
        base = root / prefix
        if not base.is_dir():
            continue
        for directory, subdirectories, names in os.walk(base):  # never follows links to directories
            here = Path(directory)
            relative_directory = os.path.relpath(directory, root).replace(os.sep, "/")
            for name in names:
                relative = f"{relative_directory}/{name}"
                if relative in unless:
                    continue
                path = here / name
                if not path.is_symlink() and path.is_file() and _generated(path):
                    found.add(relative)
    return found

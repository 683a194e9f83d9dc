"""Reading a repository's files for the checks: texts of the files rules read, names of all the others."""

from __future__ import annotations

import os
from pathlib import Path
from typing import AbstractSet, Iterable

import yaml

from beskar.problems import InputError, Origin, Problem

SKIPPED_DIRECTORIES = {".git", ".beskar", ".venv", "node_modules", "__pycache__"}
KEPT_HIDDEN = {".sops.yaml"}
MAX_TEXT = 1 << 20  # larger files are only named: no manifest or key file is that big


def read_text(path: Path, shown: str) -> str:
    """A file of the fleet (or one the user names) as UTF-8 text; one clear problem if it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InputError([Problem(f"not UTF-8 text: {error.reason}", Origin(shown, 1, 1, "secrets"))]) from None
    except OSError as error:
        raise InputError([Problem(f"cannot read {shown}: {error.strerror}")]) from None


def read_files(root: Path, skip: AbstractSet[str] = frozenset(), *, prune: AbstractSet[str] = frozenset(),
               within: Iterable[str] | None = None) -> tuple[dict[str, str], frozenset[str]]:
    """(relative path -> text, other relative paths) below `root`, in sorted order.

    Hidden files and directories are left out (but `.sops.yaml`), and so are Helm chart directories
    (their templates are not YAML), the relative paths in `skip` and the directories in `prune` (relative paths).
    Given `within` (relative directory paths), only the files below those directories are read.
    """
    contents: dict[str, str] = {}
    others: set[str] = set()
    # A linked directory is not entered, as os.walk enters none below the root.
    tops = [root] if within is None else [root / relative for relative in within if not (root / relative).is_symlink()]
    for top in tops:
        for directory, subdirectories, names in os.walk(top):
            here = Path(directory)
            if here != root and (here / "Chart.yaml").is_file():
                subdirectories[:] = []
                continue
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith(".") and d not in
                                       SKIPPED_DIRECTORIES and (not prune or _relative(here / d, root) not in prune))
            for name in sorted(names):
                if name.startswith(".") and name not in KEPT_HIDDEN:
                    continue
                path = here / name
                relative = _relative(path, root)
                if relative in skip or not path.is_file():
                    continue
                try:
                    if path.stat().st_size <= MAX_TEXT:
                        contents[relative] = path.read_text(encoding="utf-8")
                        continue
                except (UnicodeDecodeError, OSError):
                    pass
                others.add(relative)
    return dict(sorted(contents.items())), frozenset(others)


def _relative(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def read_chart_skeletons(directory: Path) -> dict[str, dict]:
    """chart name -> the key structure of its values.yaml, for every `<chart>/values.yaml` in a charts checkout."""
    if not directory.is_dir():
        raise InputError([Problem(f"--charts {directory}: not a directory",
                                  hint="give a checkout of the charts, e.g. openstack-helm with <chart>/values.yaml")])
    skeletons = {}
    for values in sorted(directory.glob("*/values.yaml")):
        relative = values.relative_to(directory).as_posix()
        try:
            data = yaml.load(values.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark
            raise InputError([Problem(f"{directory}/{relative}: {error.problem}",
                                      Origin(relative, mark.line + 1, mark.column + 1, "charts") if mark else None)])
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise InputError([Problem(f"{directory}/{relative}: cannot read: {error}")]) from None
        skeletons[values.parent.name] = _skeleton(data)
    if not skeletons:
        raise InputError([Problem(f"--charts {directory}: no <chart>/values.yaml found")])
    return skeletons


def _skeleton(node):
    if isinstance(node, dict):
        return {str(k): _skeleton(v) for k, v in node.items()}
    return None

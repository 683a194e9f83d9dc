"""The host playbook Beskar ships (src/beskar/ansible/): its files as bytes, for `beskar init` to copy."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable

PLAYBOOK_DIR = "ansible"


def playbook_files() -> dict[str, bytes]:
    """Relative path (under the fleet's ansible/ directory) -> content, sorted by path."""
    files: dict[str, bytes] = {}

    def walk(node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            if child.name == "__pycache__":
                continue
            path = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, path + "/")
            else:
                files[path] = child.read_bytes()

    walk(resources.files("beskar").joinpath(PLAYBOOK_DIR), "")
    return dict(sorted(files.items()))

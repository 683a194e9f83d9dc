"""The built-in example fleet, copied out of the package for `beskar demo`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from beskar.fleet.scaffold import InitContext, host_playbook
from beskar.problems import InputError, Problem

GITIGNORE = ".beskar/\n"


def write_example(destination: Path) -> list[str]:
    """Copy the example fleet into an empty or new directory, with the host playbook as `beskar init` writes it;
    returns the files written."""
    if destination.exists() and any(destination.iterdir()):
        raise InputError([Problem(f"{destination} is not empty; the demo writes a new fleet",
                                  hint="pick a new directory, e.g. `beskar demo ./my-fleet`")])
    written: list[str] = []
    source = resources.files("beskar").joinpath("examples", "fleet")

    def copy(node, relative: Path) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            target = relative / child.name
            if child.is_dir():
                copy(child, target)
            else:
                path = destination / target
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(child.read_bytes())
                written.append(target.as_posix())

    destination.mkdir(parents=True, exist_ok=True)
    copy(source, Path())
    for relative, content in host_playbook(InitContext(destination, new_fleet=True)).items():
        path = destination / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        written.append(relative)
    (destination / ".gitignore").write_text(GITIGNORE)
    written.append(".gitignore")
    return written

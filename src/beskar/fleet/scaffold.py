"""`beskar init`: the files parts of Beskar add to a fleet repository, planned purely and written atomically.

A part adds files by registering a provider: `@scaffold("name")` on a function that takes the
InitContext and returns {relative path: bytes}. Providers marked `new_fleet_only` run only in an
empty directory (the fleet skeleton); the others run in any fleet (CI job, hooks, .sops.yaml ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Callable

from beskar.fleet.repository import FLEET_FILE
from beskar.problems import InputError, Problem
from beskar.tree import write_file


@dataclass(frozen=True)
class InitContext:
    """What providers may look at: the fleet root, whether it is being created, and what the user asked for."""

    root: Path
    new_fleet: bool
    pages: bool = False  # a CI job publishing `beskar report` as GitLab Pages


@dataclass(frozen=True)
class Provider:
    name: str
    files: Callable[[InitContext], dict[str, bytes]]
    new_fleet_only: bool = False


PROVIDERS: list[Provider] = []


def scaffold(name: str, new_fleet_only: bool = False):
    """Register a provider of files for `beskar init` (name it after the part of Beskar it serves)."""

    def register(function: Callable[[InitContext], dict[str, bytes]]):
        if any(p.name == name for p in PROVIDERS):
            raise ValueError(f"scaffold provider {name} registered twice")
        PROVIDERS.append(Provider(name, function, new_fleet_only))
        return function

    return register


class Action(StrEnum):
    CREATE = "create"
    OVERWRITE = "overwrite"
    KEEP = "keep"  # exists and --force not given


@dataclass(frozen=True)
class Planned:
    path: str
    content: bytes
    provider: str
    action: Action


def plan_init(context: InitContext, existing: set[str], force: bool) -> list[Planned]:
    """Which files to write (pure): every provider's files, keeping existing ones unless `force`."""
    planned: dict[str, Planned] = {}
    for provider in PROVIDERS:
        if provider.new_fleet_only and not context.new_fleet:
            continue
        for path, content in sorted(provider.files(context).items()):
            if path in planned:
                raise ValueError(f"scaffold providers {planned[path].provider} and {provider.name} both write {path}")
            action = Action.CREATE if path not in existing else (Action.OVERWRITE if force else Action.KEEP)
            planned[path] = Planned(path, content, provider.name, action)
    return [planned[path] for path in sorted(planned)]


def init_fleet(root: Path, force: bool = False, pages: bool = False) -> list[Planned]:
    """Write the scaffold into `root`: a new fleet when it is empty (or absent), else only the fleet-wide files."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise InputError([Problem(f"{root} is not a directory")])
    new_fleet = not root.exists() or not any(root.iterdir())
    if not new_fleet and not (root / FLEET_FILE).is_file():
        raise InputError([Problem(f"{root} is neither empty nor a fleet (it has no {FLEET_FILE})",
                                  hint="run `beskar init` in an empty directory or at the root of a fleet")])
    context = InitContext(root, new_fleet, pages)
    candidates = {p.path for p in plan_init(context, set(), True)}
    existing = {path for path in candidates if (root / path).exists()}
    plan = plan_init(context, existing, force)
    for planned in plan:
        if planned.action is not Action.KEEP:
            write_file(root / planned.path, planned.content)
    return plan


def _template(name: str) -> bytes:
    return resources.files("beskar").joinpath("examples", "init", name).read_bytes()


@scaffold("fleet", new_fleet_only=True)
def fleet_skeleton(context: InitContext) -> dict[str, bytes]:
    return {
        FLEET_FILE: _template("beskar.yaml"),
        "profiles/production.yaml": _template("production.yaml"),
        "sites/.gitkeep": b"",
        ".gitignore": b".beskar/\ngl-code-quality-report.json\n",
    }


PLAYBOOK_DIR = "ansible"  # in the package (src/beskar/ansible/) and in a fleet


def playbook_files() -> dict[str, bytes]:
    """The host playbook Beskar ships: relative path under ansible/ -> content, sorted by path."""
    files: dict[str, bytes] = {}

    def walk(node: Traversable, prefix: str) -> None:
        for child in node.iterdir():
            if child.name == "__pycache__":
                continue
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            else:
                files[f"{prefix}{child.name}"] = child.read_bytes()

    walk(resources.files("beskar").joinpath(PLAYBOOK_DIR), "")
    return dict(sorted(files.items()))


@scaffold("hosts", new_fleet_only=True)
def host_playbook(context: InitContext) -> dict[str, bytes]:
    """The host playbook, for `ansible-playbook -i inventory/<site>/hosts/inventory.yaml ansible/site.yml`."""
    return {f"{PLAYBOOK_DIR}/{path}": content for path, content in playbook_files().items()}


@scaffold("check")
def check_automation(context: InitContext) -> dict[str, bytes]:
    """CI job and pre-commit hook that run `beskar check` and fail on errors; with `pages`, the report's job."""
    ci = _template("gitlab-ci.yml") + (_template("gitlab-ci-pages.yml") if context.pages else b"")
    return {".gitlab-ci.yml": ci,
            ".pre-commit-config.yaml": _template("pre-commit-config.yaml")}

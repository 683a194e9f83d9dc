"""What a check or lint run returns (the Review), and the check settings a repository's beskar.yaml gives both."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from beskar.check.findings import Finding, Rule
from beskar.check.repository import FluxRepository
from beskar.check.settings import CheckSettings, parse_settings
from beskar.fleet.documents import read_document
from beskar.fleet.repository import FLEET_FILE

if TYPE_CHECKING:
    from beskar.operations import compilation


@dataclass(frozen=True)
class Review:
    """What a check or lint run found, and how much it looked at."""

    root: Path
    findings: list[Finding]
    clusters: tuple[str, ...]
    objects: int
    files: int
    sites: tuple[str, ...] = ()
    stale: int = 0
    rules: tuple[Rule, ...] = ()  # the rules that ran
    # The fleet as compiled for the check (check only): what `beskar report` draws beside the findings.
    compiled: compilation.CompiledFleet | None = field(default=None, repr=False, compare=False)


def object_count(repository: FluxRepository) -> int:
    return sum(len(c.resources) for c in repository.clusters.values())


def fleet_settings(root: Path, disable: list[str]) -> CheckSettings:
    """`fleet.checks` of the repository's beskar.yaml, if it has one."""
    if not (root / FLEET_FILE).is_file():
        return parse_settings({}, {}, disable)
    document, positions = read_document(root, FLEET_FILE, "global")
    fleet = document.get("fleet") if isinstance(document, dict) else None
    checks = fleet.get("checks") if isinstance(fleet, dict) else None
    shifted = {path[1:]: origin for path, origin in positions.items() if path[:1] == ("fleet",)}
    return parse_settings(checks, shifted, disable)

"""A fleet's own flavor naming convention (`fleet.checks.flavor_name_pattern`) and checking names against it.

The convention is a regular expression with named groups `family`, `vcpus`, `ram` (GiB) and optionally
`disk` (ephemeral GiB). Without one, flavor names follow the field's grammar in beskar.model.flavors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class FlavorName:
    """What a flavor name says: its family, vCPUs, RAM in MiB and ephemeral disk in GiB."""

    family: str
    vcpus: int
    ram_mb: int
    ephemeral_gb: int


def parse_flavor_name(name: str, pattern: str) -> FlavorName | None:
    """The flavor's shape as its name states it, or None when the name does not follow the convention."""
    match = re.fullmatch(pattern, name)
    if match is None:
        return None
    groups = match.groupdict()
    disk = groups.get("disk")
    return FlavorName(groups["family"], int(groups["vcpus"]), int(groups["ram"]) * 1024, int(disk) if disk else 0)


def flavor_name_problems(name: str, vcpus: int, ram_mb: int, ephemeral_gb: int, pattern: str) -> list[str]:
    """Why a flavor's name does not fit it: off-convention, or promising other vCPUs, RAM or disk."""
    stated = parse_flavor_name(name, pattern)
    if stated is None:
        return [f"flavor {name!r} does not follow the fleet's naming convention {pattern}"]
    problems = []
    if stated.vcpus != vcpus:
        problems.append(f"flavor {name!r} says {stated.vcpus} vCPUs but has {vcpus}")
    if stated.ram_mb != ram_mb:
        problems.append(f"flavor {name!r} says {stated.ram_mb // 1024} GiB RAM ({stated.ram_mb} MB) but has {ram_mb} MB")
    if stated.ephemeral_gb != ephemeral_gb:
        problems.append(f"flavor {name!r} says {stated.ephemeral_gb} GiB ephemeral disk but has {ephemeral_gb}")
    return problems

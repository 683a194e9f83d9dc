"""The fleet's sites as `beskar sites` lists them: read from the layered files, never typed or rendered."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from beskar.catalog import Catalog, catalog
from beskar.fleet import LayeredSite, load_fleet
from beskar.problems import InputError, Problem

# Start-up: typing a site needs pydantic and every model class, rendering it the whole render package (most of
# a second before the first line); a listing reads only the values it prints, and checks their kinds.
# The defaults below are the model's (beskar.model.openstack, .site); tests/test_sites_listing.py holds them
# equal to it and the listing equal to the typed, rendered fleet.
DEFAULT_REGION = "RegionOne"
OFF_BY_DEFAULT = frozenset({"barbican", "octavia", "designate"})  # OptionalService: enabled: false
ALWAYS_DEPLOYED = frozenset({"ingress", "ceph"})  # catalog models that have no `enabled` switch


@dataclass(frozen=True)
class SiteSummary:
    """What `beskar sites` prints about one site."""

    name: str
    profile: str | None
    release: str
    region: str
    domain: str
    nodes: int
    helm_releases: int


def list_sites(root: Path) -> list[SiteSummary]:
    """Every site of the fleet, in name order; a printed value that is missing or of the wrong kind is an input
    error placed at the layer that set it (the whole site is checked by `render` and `check`)."""
    fleet = load_fleet(root)
    knowledge = catalog()
    summaries, problems = [], []
    for name, layered in fleet.sites.items():
        try:
            summaries.append(summarize(layered, knowledge))
        except InputError as error:
            problems.extend(error.problems)
    if problems:
        raise InputError(problems)
    return summaries


def summarize(layered: LayeredSite, knowledge: Catalog) -> SiteSummary:
    data = layered.data
    problems: list[Problem] = []

    def value(path: tuple[str, ...], kinds: tuple[type, ...], what: str, default: Any = None) -> Any:
        node: Any = data
        for depth, key in enumerate(path):
            if not isinstance(node, dict):
                problems.append(Problem(f"{'.'.join(path[:depth])}: must be a mapping", layered.origin(path[:depth])))
                return default
            if key not in node or node[key] is None and default is not None:
                if default is None:
                    problems.append(Problem(f"{'.'.join(path)}: field required", layered.origin(path)))
                return default
            node = node[key]
        if not isinstance(node, kinds) or isinstance(node, bool) and bool not in kinds:
            problems.append(Problem(f"{'.'.join(path)}: {what}, not {node!r}", layered.origin(path)))
            return default
        return node

    release = value(("openstack", "release"), (str, int, float), "must be a release such as 2025.1")
    release = "" if release is None else str(release)  # 2025.1 read as a float is the release "2025.1"
    if release and release not in knowledge.releases:
        problems.append(Problem(f"openstack.release: unknown OpenStack release {release!r}; supported: "
                                f"{', '.join(knowledge.releases)}", layered.origin(("openstack", "release"))))
    region = value(("region",), (str,), "must be a string", DEFAULT_REGION)
    domain = value(("domain",), (str,), "must be a string")
    nodes = value(("nodes",), (list,), "must be a list of nodes")
    if isinstance(nodes, list) and not nodes:
        problems.append(Problem("nodes: must list at least one node", layered.origin(("nodes",))))
    releases = 0
    for spec in knowledge.components.values():
        if spec.model in ALWAYS_DEPLOYED:
            releases += 1
        elif spec.model == "monitoring":
            releases += value(("monitoring", "enabled"), (bool,), "must be true or false", True)
        else:
            key = spec.name.replace("-", "_")
            releases += value(("openstack", key, "enabled"), (bool,), "must be true or false",
                              key not in OFF_BY_DEFAULT)
    if problems:
        raise InputError(problems)
    return SiteSummary(layered.name, layered.profile, release, region, domain, len(nodes), releases)

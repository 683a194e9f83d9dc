"""Which parts of a site's pictures a finding is about: nodes, networks, releases and layers, by file and line."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from beskar.check.findings import Finding
from beskar.fleet import LayeredSite
from beskar.report.facts import SiteFacts


def findings_of_site(findings: Iterable[Finding], facts: SiteFacts, layered: LayeredSite) -> list[Finding]:
    """The site's own findings, and those on a line it inherits (beskar.yaml, its profile) or on its rendered files."""
    prefixes = (f"clusters/{facts.name}/", f"apps/{facts.name}/", f"inventory/{facts.name}/")
    return [f for f in findings if f.site == facts.name or (
        f.site is None and f.file is not None and (f.file in layered.files or f.file.startswith(prefixes)))]


@dataclass(frozen=True)
class Marks:
    """Findings per drawn element; an element with findings is marked on its picture."""

    nodes: dict[str, list[Finding]] = field(default_factory=dict)
    networks: dict[str, list[Finding]] = field(default_factory=dict)
    releases: dict[str, list[Finding]] = field(default_factory=dict)
    layers: dict[str, list[Finding]] = field(default_factory=dict)


def _add(into: dict[str, list[Finding]], name: str, finding: Finding) -> None:
    found = into.setdefault(name, [])
    if finding not in found:
        found.append(finding)


def site_marks(findings: Iterable[Finding], facts: SiteFacts, layered: LayeredSite) -> Marks:
    """A finding marks what its line set in the site (nodes.<n>..., networks.<n>..., openstack.<service>...) and
    the release or layer whose rendered file it is in."""
    places: dict[tuple[str, int], set[tuple]] = {}
    for path, settings in layered.provenance.items():
        if len(path) < 2:
            continue
        for setting in settings:
            places.setdefault((setting.origin.file, setting.origin.line), set()).add(path[:2])
    release_files = {r.file: r.name for r in facts.releases}
    layer_files = {layer.file: layer.name for layer in facts.layers}
    services = {r.name for r in facts.releases}
    marks = Marks()
    for finding in findings:
        if finding.file is None:
            continue
        if finding.file in release_files:
            _add(marks.releases, release_files[finding.file], finding)
        if finding.file in layer_files:
            _add(marks.layers, layer_files[finding.file], finding)
        for top, name in sorted(places.get((finding.file, finding.line or 0), ()), key=str):
            if top == "nodes":
                _add(marks.nodes, str(name), finding)
            elif top == "networks":
                _add(marks.networks, str(name), finding)
            elif top == "openstack" and name in services:
                _add(marks.releases, str(name), finding)
    return marks

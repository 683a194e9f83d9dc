"""The upgrade knowledge: the release graph, the service order and version ladders, and the pins of each stage."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from functools import lru_cache

from beskar.catalog.knowledge import Catalog, _read_yaml

Pins = dict[str, dict[str, str]]  # chart -> images.tags key -> image


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    skip_level: bool = False


@dataclass(frozen=True)
class StageSpec:
    """One entry of the service order: whole charts, and single image keys of other charts."""

    name: str
    charts: tuple[str, ...] = ()
    images: tuple[tuple[str, tuple[str, ...]], ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Ladder:
    """An image that moves one series at a time (RabbitMQ: one minor version per upgrade)."""

    name: str
    chart: str
    key: str
    version: re.Pattern[str]
    series: tuple[str, ...]
    image: str

    def version_of(self, image: str) -> str | None:
        match = self.version.search(image)
        return match.group(1) if match else None

    def steps(self, source: str, target: str) -> tuple[str, ...]:
        """The intermediate series between two images' versions (empty when they are adjacent or unknown)."""
        before, after = self.version_of(source), self.version_of(target)
        if before not in self.series or after not in self.series:
            return ()
        low, high = self.series.index(before), self.series.index(after)
        return self.series[low + 1:high]


@dataclass(frozen=True)
class Stage:
    """One reviewable step of a site's upgrade: the image pins it changes."""

    name: str
    note: str
    pins: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # chart -> ((key, image), ...)

    @property
    def charts(self) -> tuple[str, ...]:
        return tuple(chart for chart, _ in self.pins)


@dataclass(frozen=True)
class UpgradeKnowledge:
    edges: tuple[Edge, ...]
    order: tuple[StageSpec, ...]
    ladders: tuple[Ladder, ...]

    @classmethod
    def load(cls) -> UpgradeKnowledge:
        data = _read_yaml("upgrades.yaml")
        return cls(
            edges=tuple(Edge(str(e["from"]), str(e["to"]), bool(e.get("skip_level"))) for e in data["edges"]),
            order=tuple(StageSpec(s["stage"], tuple(s.get("charts", ())),
                                  tuple((chart, tuple(keys)) for chart, keys in sorted((s.get("images") or {}).items())),
                                  s.get("note", "")) for s in data["order"]),
            ladders=tuple(Ladder(name, l["chart"], l["key"], re.compile(l["version"]), tuple(l["series"]), l["image"])
                          for name, l in sorted(data["ladders"].items())),
        )

    def edge(self, source: str, target: str) -> Edge | None:
        return next((e for e in self.edges if e.source == source and e.target == target), None)

    def path(self, source: str, target: str) -> tuple[str, ...] | None:
        """The shortest chain of releases from source to target through the graph (None: unreachable)."""
        previous: dict[str, str | None] = {source: None}
        queue = deque([source])
        while queue:
            here = queue.popleft()
            if here == target:
                chain = [here]
                while previous[chain[-1]] is not None:
                    chain.append(previous[chain[-1]])  # type: ignore[arg-type]
                return tuple(reversed(chain))
            for edge in self.edges:
                if edge.source == here and edge.target not in previous:
                    previous[edge.target] = here
                    queue.append(edge.target)
        return None

    def refusal(self, source: str, target: str) -> str | None:
        """Why source -> target is not one upgrade, with the path that works; None when it is an edge."""
        if self.edge(source, target) is not None:
            return None
        if source == target:
            return f"the site already runs {target}"
        chain = self.path(source, target)
        if chain is None:
            return f"no upgrade path from {source} to {target} (Beskar does not downgrade)"
        return f"{source} -> {target} is not one upgrade; go through {' -> '.join(chain)}, one `--to` at a time"


@lru_cache(maxsize=1)
def upgrade_knowledge() -> UpgradeKnowledge:
    return UpgradeKnowledge.load()


def _owner(knowledge: UpgradeKnowledge, chart: str, key: str) -> str | None:
    for spec in knowledge.order:
        if any(c == chart and key in keys for c, keys in spec.images):
            return spec.name
    return next((spec.name for spec in knowledge.order if chart in spec.charts), None)


def upgrade_stages(catalog: Catalog, source: str, target: str, distro: str, charts: frozenset[str]) -> tuple[Stage, ...]:
    """The stages of one upgrade of a site running `charts`, in order; stages that change nothing are left out.

    A ladder image that jumps more than one series gets one stage per intermediate series before its chart's stage."""
    knowledge = upgrade_knowledge()
    before, after = catalog.images(source, distro), catalog.images(target, distro)
    changes: dict[str, dict[str, dict[str, str]]] = {}
    for chart in sorted(charts):
        for key, image in sorted(after.get(chart, {}).items()):
            if before.get(chart, {}).get(key) != image:
                owner = _owner(knowledge, chart, key) or "release"
                changes.setdefault(owner, {}).setdefault(chart, {})[key] = image
    if ref_moves(catalog, source, target):  # every chart moves to the target's chart ref in its own stage
        for chart in sorted(charts):
            owner = next((spec.name for spec in knowledge.order if chart in spec.charts), "release")
            changes.setdefault(owner, {}).setdefault(chart, {})
    stages: list[Stage] = []
    for spec in (*knowledge.order, StageSpec("release", note="images no stage of the order names")):
        for ladder in knowledge.ladders:
            if ladder.chart in spec.charts and ladder.chart in charts:
                old, new = before.get(ladder.chart, {}).get(ladder.key), after.get(ladder.chart, {}).get(ladder.key)
                for series in ladder.steps(old or "", new or ""):
                    stages.append(Stage(f"{spec.name}-{series}", f"{ladder.name} {series} on the way to {new}",
                                        ((ladder.chart, ((ladder.key, ladder.image.format(series=series)),)),)))
        if spec.name in changes:
            pins = tuple((chart, tuple(sorted(keys.items()))) for chart, keys in sorted(changes[spec.name].items()))
            stages.append(Stage(spec.name, spec.note, pins))
    return tuple(stages)


def ref_moves(catalog: Catalog, source: str, target: str) -> bool:
    """Whether the target release's images need the charts at another openstack-helm ref than the source's."""
    return catalog.releases[source].charts_ref != catalog.releases[target].charts_ref


def charts_at_target_ref(catalog: Catalog, source: str, target: str, distro: str, charts: frozenset[str],
                         done: tuple[str, ...]) -> frozenset[str]:
    """The charts a site mid-upgrade takes from the target's chart ref: those whose own stage (the one of the
    order that names the whole chart) is done; none when both releases use the same ref."""
    if not ref_moves(catalog, source, target):
        return frozenset()
    owners = {chart: spec.name for spec in reversed(upgrade_knowledge().order) for chart in spec.charts}
    return frozenset(chart for chart in charts if owners.get(chart, "release") in done)


def pins_during(catalog: Catalog, source: str, target: str, distro: str, charts: frozenset[str],
                done: tuple[str, ...]) -> Pins:
    """The site's image pins with the `done` stages applied (in upgrade order) over the source release's."""
    pins = {chart: dict(keys) for chart, keys in catalog.images(source, distro).items()}
    for stage in upgrade_stages(catalog, source, target, distro, charts):
        if stage.name in done:
            for chart, keys in stage.pins:
                pins.setdefault(chart, {}).update(dict(keys))
    return pins


@dataclass(frozen=True)
class RemovedKey:
    """A values key a chart's values.yaml has at one openstack-helm ref and not at a later one."""

    path: tuple[str, ...]
    beside: tuple[str, ...]  # keys the later ref added next to it (a rename shows here)


@lru_cache(maxsize=1)
def _chart_changes() -> dict[str, dict[str, dict[str, list[dict[str, list[str]]]]]]:
    return _read_yaml("chart_changes.yaml")["changes"]


def removed_values_keys(source_ref: str, target_ref: str) -> dict[str, tuple[RemovedKey, ...]] | None:
    """Per chart, the values keys removed between two openstack-helm tags (chart_changes.yaml); None when the
    catalog does not know that pair of refs (a commit, a tag not derived)."""
    if source_ref == target_ref:
        return {}
    known = (_chart_changes().get(source_ref) or {}).get(target_ref)
    if known is None:
        return None
    return {chart: tuple(RemovedKey(tuple(map(str, e["removed"])), tuple(map(str, e["beside"]))) for e in entries)
            for chart, entries in known.items()}

"""Where each site stands in an upgrade in flight, read from the planner: the stage carried last, the wave."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from beskar.catalog import Catalog
from beskar.catalog.upgrades import Stage
from beskar.model import Site
from beskar.plan.upgrades import FleetSite, plan_upgrade


@dataclass(frozen=True)
class SiteUpgrade:
    """One site's place in the fleet's upgrade to `target` (numbers count from 1)."""

    site: str
    source: str
    target: str
    in_flight: bool  # the site carries an openstack.upgrade block; else it waits for its wave
    done: tuple[str, ...]  # the stages carried, in order; the last is the one Flux applies now
    stages: tuple[str, ...]  # every stage of the site's upgrade, in order
    wave: int
    waves: int
    # chart -> the carried stages that changed its pins (a chart's images may move over several stages)
    carried: tuple[tuple[str, tuple[str, ...]], ...] = ()
    refusals: tuple[str, ...] = ()

    def carried_by(self, chart: str) -> tuple[str, ...]:
        return next((stages for name, stages in self.carried if name == chart), ())

    @property
    def stage(self) -> str | None:
        return self.done[-1] if self.done else None

    @property
    def next_stage(self) -> str | None:
        return next((name for name in self.stages if name not in self.done), None)

    def summary(self) -> str:
        """`2025.1 → 2025.2: stage 3 of 16 (rabbitmq-4.1), wave 1 of 2`."""
        where = f"wave {self.wave} of {self.waves}"
        if not self.in_flight:
            return f"{self.source} \u2192 {self.target}: not started, {where}"
        stage = f"stage {len(self.done)} of {len(self.stages)} ({self.stage})" if self.stage else "no stage carried"
        return f"{self.source} \u2192 {self.target}: {stage}, {where}"


def site_upgrades(sites: Sequence[tuple[Site, str | None]], catalog: Catalog, configured_waves: Any) \
        -> dict[str, SiteUpgrade]:
    """Per site, its place in each upgrade some site is carrying (none in flight: empty). Sites already at the
    target are left out; so are the others when sites are mid-upgrade to different releases (check says so)."""
    entries = [FleetSite(site.name, profile, site) for site, profile in sites]
    targets = sorted({site.openstack.upgrade.to for site, _ in sites if site.openstack.upgrade is not None})
    found: dict[str, SiteUpgrade] = {}
    for target in targets:
        plan = plan_upgrade(entries, catalog, target, configured_waves)
        for site_plan in plan.sites:
            if site_plan.complete or (len(targets) > 1 and not site_plan.in_flight):
                continue
            carried = [stage for stage in site_plan.stages if stage.name in site_plan.done]
            found[site_plan.site] = SiteUpgrade(
                site_plan.site, site_plan.source, site_plan.target, site_plan.in_flight,
                tuple(stage.name for stage in carried), tuple(stage.name for stage in site_plan.stages),
                plan.wave_of(site_plan.site) + 1, len(plan.waves),
                _carried(carried), site_plan.refusals)
    return dict(sorted(found.items()))


def _carried(stages: Sequence[Stage]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    by_chart: dict[str, list[str]] = {}
    for stage in stages:
        for chart in stage.charts:
            by_chart.setdefault(chart, []).append(stage.name)
    return tuple((chart, tuple(names)) for chart, names in sorted(by_chart.items()))

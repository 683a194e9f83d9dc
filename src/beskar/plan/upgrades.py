"""The upgrade planner: (sites, catalog, optional live status) -> preflight refusals, stages per site, waves."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Sequence

from beskar.catalog import Catalog
from beskar.catalog.upgrades import RemovedKey, Stage, upgrade_knowledge, upgrade_stages
from beskar.model import Site
from beskar.render.site import deployed_components

PRODUCTION = "production"  # the profile whose sites go last by default


@dataclass(frozen=True)
class FleetSite:
    """A site as the planner sees it: its name, profile and typed model."""

    name: str
    profile: str | None
    site: Site


@dataclass(frozen=True)
class ValuesFinding:
    """A values key set for a chart that the chart no longer has at the chart ref the target release needs."""

    chart: str
    path: tuple[str, ...]
    set_by: str  # "values" or "conf" (the site's overrides: blocks `start`), "beskar" (Beskar's own rendered values)
    file: str
    line: int
    source_ref: str
    target_ref: str
    beside: tuple[str, ...] = ()  # keys the target ref has next to it instead

    @property
    def blocking(self) -> bool:
        return self.set_by != "beskar"

    @property
    def key(self) -> str:
        return ".".join(self.path)

    @property
    def message(self) -> str:
        whose = "Beskar's own values" if self.set_by == "beskar" else f"the site's {self.set_by}"
        text = (f"{self.chart} values key {self.key} (set by {whose}) is in the chart at openstack-helm "
                f"{self.source_ref}, not at {self.target_ref}")
        if self.beside:
            shown = ", ".join(self.beside[:5]) + (", ..." if len(self.beside) > 5 else "")
            text += f"; {self.target_ref} has beside it: {shown}"
        return text


@dataclass(frozen=True)
class SitePlan:
    site: str
    source: str
    target: str
    distro: str
    distro_step: str | None  # the distro the site must move to first (the target lacks the site's)
    stages: tuple[Stage, ...]
    done: tuple[str, ...]
    refusals: tuple[str, ...]

    @property
    def pending(self) -> tuple[Stage, ...]:
        return tuple(stage for stage in self.stages if stage.name not in self.done)

    in_flight: bool = False  # the site carries an openstack.upgrade block
    findings: tuple[ValuesFinding, ...] = ()  # values keys the target's chart ref removed (blocking ones refuse)

    @property
    def complete(self) -> bool:
        return self.source == self.target


@dataclass(frozen=True)
class UpgradePlan:
    target: str
    sites: tuple[SitePlan, ...]
    waves: tuple[tuple[str, ...], ...]

    def site(self, name: str) -> SitePlan:
        return next(plan for plan in self.sites if plan.site == name)

    @property
    def refusals(self) -> tuple[str, ...]:
        return tuple(f"{plan.site}: {why}" for plan in self.sites for why in plan.refusals)

    def wave_of(self, name: str) -> int:
        return next(index for index, wave in enumerate(self.waves) if name in wave)


def deployed_charts(site: Site, catalog: Catalog) -> frozenset[str]:
    """The openstack-helm charts the site runs, as the render deploys them (so the stages are the render's)."""
    return frozenset(spec.chart for spec in deployed_components(site, catalog) if spec.from_openstack_helm)


def plan_site(entry: FleetSite, catalog: Catalog, target: str) -> SitePlan:
    """One site's upgrade to `target`: the stages in order, what is done, and why it may not go (refusals)."""
    openstack = entry.site.openstack
    upgrade = openstack.upgrade
    if upgrade is not None and upgrade.to != target:
        return SitePlan(entry.name, openstack.release, target, openstack.distro, None, (), tuple(upgrade.done),
                        (f"the site is mid-upgrade to {upgrade.to}; finish or abort that first",))
    if upgrade is None and openstack.release == target:
        return SitePlan(entry.name, target, target, openstack.distro, None, (), (), ())
    refusals: list[str] = []
    why = upgrade_knowledge().refusal(openstack.release, target)
    if why:
        refusals.append(why)
    distro, distro_step = openstack.distro, None
    wanted = catalog.releases[target].distros
    if distro not in wanted and not refusals:
        distro_step = wanted[0]
        if distro_step not in catalog.releases[openstack.release].distros:
            refusals.append(f"{target} has no {distro} images and {openstack.release} has no {distro_step} images: "
                            f"no distro step possible")
        else:
            distro = distro_step
    charts = deployed_charts(entry.site, catalog)
    stages: tuple[Stage, ...] = ()
    if not refusals:
        try:
            pins = catalog.images(target, distro)
        except FileNotFoundError:
            pins = {}
        missing = sorted(chart for chart in charts if chart not in pins)
        if missing:
            refusals.append(f"the catalog has no {target}-{distro} pins for {', '.join(missing)}")
        else:
            stages = upgrade_stages(catalog, openstack.release, target, distro, charts)
    done = tuple(upgrade.done) if upgrade else ()
    unknown = sorted(set(done) - {stage.name for stage in stages})
    if stages and unknown:
        refusals.append(f"openstack.upgrade.done names stages this upgrade does not have: {', '.join(unknown)}")
    return SitePlan(entry.name, openstack.release, target, openstack.distro, distro_step, stages, done,
                    tuple(refusals), in_flight=upgrade is not None)


def waves(sites: Sequence[FleetSite], configured: Any) -> tuple[tuple[str, ...], ...]:
    """`fleet.upgrade.waves` (lists of site or profile names) resolved to sites; sites no wave names follow one
    per wave. Default: one site at a time, sites of non-production profiles first, each group in name order."""
    resolved: list[tuple[str, ...]] = []
    placed: set[str] = set()
    for wave in configured or []:
        members = tuple(site.name for site in sites if site.name not in placed
                        and (site.name in wave or (site.profile is not None and site.profile in wave)))
        if members:
            resolved.append(members)
            placed.update(members)
    rest = sorted((site for site in sites if site.name not in placed),
                  key=lambda site: (site.profile == PRODUCTION, site.name))
    resolved.extend((site.name,) for site in rest)
    return tuple(resolved)


def plan_upgrade(sites: Sequence[FleetSite], catalog: Catalog, target: str, configured_waves: Any = None) -> UpgradePlan:
    """The fleet's upgrade to `target`: every site's plan and the waves they go in."""
    if target not in catalog.releases:
        plans = tuple(SitePlan(s.name, s.site.openstack.release, target, s.site.openstack.distro, None, (), (),
                               (f"unknown release {target!r}; supported: {', '.join(catalog.releases)}",)) for s in sites)
    else:
        plans = tuple(plan_site(site, catalog, target) for site in sites)
    return UpgradePlan(target, plans, waves(sites, configured_waves))


def removed_keys_set(values: Any, removed: Iterable[RemovedKey]) -> list[RemovedKey]:
    """The removed keys a chart's values (nested mappings) set."""
    def has(tree: Any, path: tuple[str, ...]) -> bool:
        for key in path:
            if not isinstance(tree, dict) or key not in {str(k) for k in tree}:
                return False
            tree = next(v for k, v in tree.items() if str(k) == key)
        return True
    return [key for key in removed if has(values, key.path)]


def with_findings(plan: SitePlan, findings: Sequence[ValuesFinding]) -> SitePlan:
    """The site's plan with its values findings; the site's own keys refuse the upgrade until they are moved."""
    ordered = tuple(sorted(findings, key=lambda f: (f.file, f.line, f.chart, f.path)))
    blocking = tuple(f"{f.file}:{f.line}: {f.message} (move the setting to what {f.target_ref} has, or drop it)"
                     for f in ordered if f.blocking)
    return replace(plan, findings=ordered, refusals=plan.refusals + blocking)


def may_start(plan: UpgradePlan, name: str) -> str | None:
    """Why the site may not start its upgrade now (an earlier wave is not complete), or None."""
    index = plan.wave_of(name)
    waiting = [site for wave in plan.waves[:index] for site in wave if not plan.site(site).complete]
    if waiting:
        return f"wave {index + 1} waits for wave(s) before it: {', '.join(waiting)} not at {plan.target} yet"
    return None


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), None)


def _settled(kind: str, name: str, item: dict[str, Any]) -> list[str]:
    """Why one Flux object has not finished applying its latest spec: Ready, generation observed, not Stalled."""
    reasons = []
    ready, stalled = _condition(item, "Ready"), _condition(item, "Stalled")
    if stalled is not None and stalled.get("status") == "True":
        reasons.append(f"{kind} {name} is Stalled: {stalled.get('message', '')}")
    if ready is None or ready.get("status") != "True":
        reasons.append(f"{kind} {name} is not Ready: {(ready or {}).get('message', 'no Ready condition')}")
    if (item.get("status") or {}).get("observedGeneration") != (item.get("metadata") or {}).get("generation"):
        reasons.append(f"{kind} {name} has not observed its latest generation")
    return reasons


def not_ready(status: dict[str, Any], names: Iterable[str], namespace: str) -> list[str]:
    """Why a stage is not done (empty: done), from `kubectl get kustomizations,helmreleases -A -o json`.

    Every Kustomization: settled and lastAttemptedRevision == lastAppliedRevision (the merged commit is applied).
    The stage's HelmReleases (helm.toolkit.fluxcd.io/v2): settled, and the newest history snapshot is the
    deployed one of the last attempt (its configDigest is lastAttemptedConfigDigest)."""
    items = [item for item in status.get("items") or [] if isinstance(item, dict)]
    reasons = []
    for item in items:
        if item.get("kind") == "Kustomization":
            name = (item.get("metadata") or {}).get("name")
            reasons.extend(_settled("Kustomization", name, item))
            state = item.get("status") or {}
            if state.get("lastAttemptedRevision") != state.get("lastAppliedRevision"):
                reasons.append(f"Kustomization {name} applied {state.get('lastAppliedRevision')} but attempts "
                               f"{state.get('lastAttemptedRevision')}")
    found = {(item.get("metadata") or {}).get("name"): item for item in items
             if item.get("kind") == "HelmRelease" and (item.get("metadata") or {}).get("namespace") == namespace}
    for name in sorted(names):
        item = found.get(name)
        if item is None:
            reasons.append(f"HelmRelease {namespace}/{name} not in the status")
            continue
        reasons.extend(_settled("HelmRelease", name, item))
        state = item.get("status") or {}
        latest = (state.get("history") or [{}])[0]
        if latest.get("status") != "deployed" or latest.get("configDigest") != state.get("lastAttemptedConfigDigest"):
            reasons.append(f"HelmRelease {name}: the last attempted values are not the deployed release")
    return reasons

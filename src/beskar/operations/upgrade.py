"""`beskar upgrade`: plan, start, next, status and abort of a release carried across the fleet, stage by stage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from beskar.catalog import catalog
from beskar.catalog.upgrades import removed_values_keys
from beskar.check.repository import load_repository
from beskar.clients.flux_status import ClusterUnreachable, read_flux_status
from beskar.fleet import load_fleet
from beskar.fleet.documents import parse_document
from beskar.fleet.sections import set_child
from beskar.model import Site, type_fleet, type_site
from beskar.operations.compilation import compile_fleet, render_fleet
from beskar.plan.upgrades import (FleetSite, SitePlan, UpgradePlan, ValuesFinding, may_start, not_ready, plan_upgrade,
                                  removed_keys_set, targets_in_flight, with_findings)
from beskar.problems import InputError, Problem
from beskar.tree import write_file


@dataclass(frozen=True)
class Moved:
    """What `start`/`next`/`abort` did: the site, the stage it carried (or reverted) and the commit message."""

    site: str
    stage: str
    finished: bool
    message: str


def _sites(root: Path) -> tuple[list[FleetSite], Any]:
    fleet = load_fleet(root)
    settings = type_fleet(fleet)  # fleet.upgrade.waves: lists of names, placed at their line when they are not
    knowledge = catalog()
    sites = [FleetSite(name, layered.profile, type_site(layered, knowledge)) for name, layered in fleet.sites.items()]
    return sites, settings.upgrade.waves


def _target_in_flight(sites: list[FleetSite]) -> str:
    targets = targets_in_flight(sites, catalog())
    if len(targets) > 1:
        raise InputError([Problem(f"sites are mid-upgrade to different releases: {', '.join(targets)}")])
    if not targets:
        raise InputError([Problem("no upgrade is under way", hint="start one with `beskar upgrade start --to RELEASE`")])
    return targets[0]


def _chart_refs(site: Site, target: str) -> tuple[str, str] | None:
    """The openstack-helm git refs the site's charts come from now and at the target, when they differ."""
    knowledge = catalog()
    if site.charts.type != "git" or target not in knowledge.releases:
        return None
    source = site.charts.ref or knowledge.releases[site.openstack.release].charts_ref
    wanted = knowledge.releases[target].charts_ref
    return (source, wanted) if source != wanted else None


def _set_in(data: Any, path: tuple[str, ...]) -> bool:
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def values_findings(root: Path, name: str, site: Site, target: str) -> list[ValuesFinding]:
    """The values keys the site's HelmReleases set (its own `values` and `conf`, and Beskar's rendered values) that
    the charts no longer have at the ref the target needs, each at the file:line that sets it."""
    refs = _chart_refs(site, target)
    removed = removed_values_keys(*refs) if refs else {}
    if not removed:
        return []
    compiled = compile_fleet(root, [name])
    layered = compiled.fleet.sites[name]
    contents = {path: data.decode("utf-8") for path, data in compiled.site_files(name).items()
                if path.startswith((f"apps/{name}/", f"clusters/{name}/"))}
    cluster = load_repository(contents).clusters.get(name)
    found = []
    for resource in sorted(cluster.resources if cluster else [], key=lambda r: r.file):
        if resource.kind != "HelmRelease":
            continue
        chart = str(((resource.spec.get("chart") or {}).get("spec") or {}).get("chart", "")).removeprefix("./")
        own = ("openstack", resource.name)
        for key in removed_keys_set(resource.spec.get("values") or {}, removed.get(chart, ())):
            if key.path[0] == "conf" and _set_in(layered.data, (*own, "conf", *key.path[1:])):
                origin = layered.origin((*own, "conf", *key.path[1:]))
                set_by, file, line = "conf", origin.file, origin.line
            elif _set_in(layered.data, (*own, "values", *key.path)):
                origin = layered.origin((*own, "values", *key.path))
                set_by, file, line = "values", origin.file, origin.line
            else:
                set_by, (file, line) = "beskar", resource.where(("spec", "values", *key.path))
            found.append(ValuesFinding(chart, key.path, set_by, file, line, refs[0], refs[1], key.beside))
    return found


def plan(root: Path, target: str | None = None, site: str | None = None) -> UpgradePlan:
    """The upgrade plan (the target in flight when none is given), with the values keys each site sets that the
    target's chart ref removed; never changes a file."""
    sites, waves = _sites(root)
    result = plan_upgrade(sites, catalog(), target or _target_in_flight(sites), waves)
    typed = {entry.name: entry.site for entry in sites}
    result = UpgradePlan(result.target, tuple(
        with_findings(one, values_findings(root, one.site, typed[one.site], result.target))
        if not one.complete and (site is None or one.site == site) else one for one in result.sites), result.waves)
    if site is not None:
        if site not in {s.name for s in sites}:
            raise InputError([Problem(f"no site named {site!r}")])
        result = UpgradePlan(result.target, (result.site(site),), ((site,),))
    return result


def _refuse(reasons: list[str] | tuple[str, ...], hint: str | None = None) -> InputError:
    return InputError([Problem(reason, hint=hint) for reason in reasons])


def _write_upgrade(root: Path, site: SitePlan, done: tuple[str, ...] | None) -> None:
    """Record the site's state in its site.yaml (done None: finished, release set to the target)."""
    relative = f"sites/{site.site}/site.yaml"
    path = root / relative
    text = path.read_text(encoding="utf-8")
    if done is None:
        text = set_child(text, relative, "openstack", "upgrade", None)
        text = set_child(text, relative, "openstack", "release", json.dumps(site.target))
    else:
        text = set_child(text, relative, "openstack", "upgrade",
                         "{to: %s, done: [%s]}" % (json.dumps(site.target), ", ".join(done)))
        if site.distro_step:
            text = set_child(text, relative, "openstack", "distro", site.distro_step)
    parse_document(text, relative, f"site:{site.site}")
    write_file(path, text.encode("utf-8"))


def _message(site: SitePlan, stage: str, finished: bool) -> str:
    if finished:
        return f"upgrade({site.site}): {site.source} -> {site.target} complete"
    return f"upgrade({site.site}): {stage} to {site.target} ({site.source} -> {site.target})"


def _advance(root: Path, site: SitePlan, force_status: dict[str, Any] | None, namespace: str) -> Moved:
    if site.refusals:
        raise _refuse([f"{site.site}: {why}" for why in site.refusals])
    if force_status is not None and site.done:
        last = next(stage for stage in site.stages if stage.name == site.done[-1])
        reasons = not_ready(force_status, last.charts, namespace)
        if reasons:
            raise _refuse([f"{site.site}: stage {last.name} is not done: {why}" for why in reasons],
                          hint="wait for Flux to apply the stage (or pass --force)")
    pending = site.pending
    if not pending:
        _write_upgrade(root, site, None)
        moved = Moved(site.site, "finish", True, _message(site, "finish", True))
    else:
        stage = pending[0]
        _write_upgrade(root, site, (*site.done, stage.name))
        moved = Moved(site.site, stage.name, False, _message(site, stage.name, False))
    render_fleet(root)
    return moved


def start(root: Path, target: str) -> Moved:
    """Record the intent in the fleet and carry stage 1 of wave 1's first site; refused while preflight fails."""
    result = plan(root, target)
    if result.refusals:
        raise _refuse(result.refusals)
    if any(site.in_flight for site in result.sites):
        raise InputError([Problem(f"an upgrade to {target} is already under way", hint="use `beskar upgrade next`")])
    first = next((site for wave in result.waves for site in wave if not result.site(site).complete), None)
    if first is None:
        raise InputError([Problem(f"every site already runs {target}")])
    return _advance(root, result.site(first), None, "")


StatusSource = Callable[[str], dict[str, Any]]  # site name -> its Flux objects, as a Kubernetes List


def next_stage(root: Path, site: str | None = None, status: dict[str, Any] | StatusSource | None = None) -> Moved:
    """Carry one site one stage on: the named site, else the first site in flight (else the next wave's)."""
    sites, _ = _sites(root)
    result = plan(root)
    if site is None:
        site = next((s.site for s in result.sites if s.in_flight), None) or next(
            (name for wave in result.waves for name in wave if not result.site(name).complete), None)
        if site is None:
            raise InputError([Problem(f"every site runs {result.target}: the upgrade is complete")])
    chosen = result.site(site)
    if chosen.complete:
        raise InputError([Problem(f"{site} already runs {result.target}")])
    if not chosen.in_flight:
        why = may_start(result, site)
        if why:
            raise InputError([Problem(f"{site}: {why}", hint="finish the earlier wave first")])
    namespace = next(s.site.openstack.namespace for s in sites if s.name == site)
    return _advance(root, chosen, status(site) if callable(status) else status, namespace)


def abort(root: Path, site: str) -> Moved:
    """Revert the site's last stage (a new commit's worth, not a git reset); the block goes when none is left."""
    result = plan(root, site=site)
    chosen = result.site(site)
    if not chosen.in_flight:
        raise InputError([Problem(f"{site} is not mid-upgrade")])
    if chosen.done:
        reverted = chosen.done[-1]
        _write_upgrade(root, chosen, chosen.done[:-1])
    else:
        reverted = "start"
        _drop(root, chosen)
    render_fleet(root)
    return Moved(site, reverted, False, f"upgrade({site}): revert {reverted} of {chosen.source} -> {chosen.target}")


def _drop(root: Path, site: SitePlan) -> None:
    relative = f"sites/{site.site}/site.yaml"
    path = root / relative
    text = set_child(path.read_text(encoding="utf-8"), relative, "openstack", "upgrade", None)
    write_file(path, text.encode("utf-8"))


def read_status(path: Path) -> dict[str, Any]:
    """A `kubectl get kustomizations,helmreleases -A -o json` document."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError([Problem(f"{path}: cannot read the cluster status: {error}")]) from None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise InputError([Problem(f"{path}: not a Kubernetes List (expected `items`)")])
    return data


def plan_document(result: UpgradePlan) -> dict[str, Any]:
    """The plan as the JSON `beskar upgrade plan --format json` prints (docs/upgrade-json.md)."""
    return {
        "target": result.target,
        "refusals": list(result.refusals),
        "waves": [list(wave) for wave in result.waves],
        "sites": [{
            "site": site.site, "from": site.source, "to": site.target, "distro": site.distro,
            "distro_step": site.distro_step, "complete": site.complete, "in_flight": site.in_flight,
            "done": list(site.done), "refusals": list(site.refusals),
            "findings": [{"chart": f.chart, "key": list(f.path), "set_by": f.set_by, "file": f.file, "line": f.line,
                          "from_ref": f.source_ref, "to_ref": f.target_ref, "beside": list(f.beside),
                          "blocking": f.blocking, "message": f.message} for f in site.findings],
            "stages": [{"stage": stage.name, "note": stage.note, "charts": list(stage.charts),
                        "done": stage.name in site.done,
                        "images": {chart: dict(keys) for chart, keys in stage.pins}} for stage in site.stages],
        } for site in result.sites],
    }


def live_status(context: str | None = None, kubeconfig: Path | None = None) -> StatusSource:
    """The status of each site read from its cluster: the kubeconfig context `context`, else the one named as the
    site. A cluster that cannot be read is an InputError (exit 2) saying how to give the status as a file."""
    def read(site: str) -> dict[str, Any]:
        try:
            return read_flux_status(context or site, kubeconfig)
        except ClusterUnreachable as error:
            raise InputError([Problem(f"{site}: cannot read the cluster status (context {context or site}): {error}",
                                      hint="pass --context, or --cluster-status FILE with the output of `kubectl get "
                                           "kustomizations,helmreleases -A -o json`")]) from None
    return read


def waiting(root: Path, result: UpgradePlan, status: dict[str, Any] | StatusSource) -> dict[str, list[str]]:
    """Per site in flight: why its last done stage is not applied yet, per the status document (or the site's)."""
    sites, _ = _sites(root)
    namespaces = {s.name: s.site.openstack.namespace for s in sites}
    found: dict[str, list[str]] = {}
    for site in result.sites:
        if site.in_flight and site.done:
            last = next((stage for stage in site.stages if stage.name == site.done[-1]), None)
            if last is not None:
                document = status(site.site) if callable(status) else status
                found[site.site] = not_ready(document, last.charts, namespaces[site.site])
    return found

"""Tree rule on chart values: every path written into an openstack-helm chart exists in its values.yaml."""

from __future__ import annotations

import difflib
import posixpath
from typing import Any, Iterator

from beskar.catalog import catalog
from beskar.check.findings import Finding, Scope, Severity, report, rule
from beskar.check.repository import Cluster, FluxRepository
from beskar.check.resources import Resource
from beskar.check.rules_tree_schema import cluster_site
from beskar.check.values import first_unknown, leaf_paths, templated_paths

OPENSTACK_HELM = "openstack-helm"


def _source(cluster: Cluster, resource: Resource, reference: dict[str, Any]) -> Resource | None:
    namespace = reference.get("namespace") or resource.namespace
    return next((r for r in cluster.resources if r.kind == reference.get("kind")
                 and r.name == reference.get("name") and r.namespace == namespace), None)


def chart_of(cluster: Cluster, release: Resource) -> tuple[str, bool] | None:
    """The chart a HelmRelease installs, and whether it comes from an openstack-helm source."""
    spec = release.spec
    chart_spec = (spec.get("chart") or {}).get("spec") if isinstance(spec.get("chart"), dict) else None
    if isinstance(chart_spec, dict) and isinstance(chart_spec.get("chart"), str):
        name = posixpath.basename(chart_spec["chart"].rstrip("/"))
        reference = chart_spec.get("sourceRef") if isinstance(chart_spec.get("sourceRef"), dict) else {}
    elif isinstance(spec.get("chartRef"), dict):
        reference = spec["chartRef"]
        source = _source(cluster, release, reference)
        url = str((source.spec.get("url") if source else "") or "")
        name = posixpath.basename(url.rstrip("/")) if url else ""
        return (name, OPENSTACK_HELM in url) if name else None
    else:
        return None
    source = _source(cluster, release, reference)
    url = str(source.spec.get("url") or "") if source else ""
    return name, OPENSTACK_HELM in url or OPENSTACK_HELM in str(reference.get("name", ""))


def skeleton_for(repository: FluxRepository, chart: str, openstack_helm: bool) -> dict[str, Any] | None:
    if repository.options.charts is not None:
        return repository.options.charts.get(chart)
    if openstack_helm and chart in catalog().chart_versions:
        return catalog().values_skeleton(chart)
    return None


def _children(skeleton: dict[str, Any], prefix: tuple[str, ...]) -> list[str]:
    node: Any = skeleton
    for key in prefix:
        node = node.get(key) if isinstance(node, dict) else None
    return sorted(map(str, node)) if isinstance(node, dict) else []


def _unknown(skeleton: dict[str, Any], path: tuple[str, ...],
             templated: set[tuple[str, ...]] = frozenset()) -> tuple[str, ...] | None:
    missing = first_unknown(skeleton, path, catalog().passthrough_values)
    if missing is None or any(p.matches(missing) for p in catalog().open_values):
        return None
    if any(path[:len(t)] == t or t[:len(path)] == path for t in templated):
        return None  # read by the chart through tpl of another value
    return missing


def _pinned_version(cluster: Cluster, release: Resource) -> str | None:
    """The chart version a HelmRelease asks for: its chart.spec.version, or its GitRepository's ref."""
    spec = release.spec
    chart_spec = (spec.get("chart") or {}).get("spec") if isinstance(spec.get("chart"), dict) else None
    if not isinstance(chart_spec, dict):
        return None
    if isinstance(chart_spec.get("version"), str) and chart_spec["version"] not in ("*", ""):
        return chart_spec["version"]
    reference = chart_spec.get("sourceRef") if isinstance(chart_spec.get("sourceRef"), dict) else {}
    source = _source(cluster, release, reference)
    ref = source.spec.get("ref") if source is not None and isinstance(source.spec.get("ref"), dict) else {}
    for key in ("tag", "semver", "commit", "branch", "name"):
        if isinstance(ref.get(key), str):
            return f"{key} {ref[key]}"
    return None


def compared_against(repository: FluxRepository, cluster: Cluster, release: Resource, chart: str) -> str:
    """Which chart values a finding compared with, when that may not be the version the release installs."""
    if repository.options.charts is not None:
        return " (compared with the values.yaml of --charts)"
    vendored = (catalog().chart_versions.get(chart) or {}).get("version")
    pinned = _pinned_version(cluster, release)
    if vendored is None or pinned is None or pinned in (vendored, f"tag {vendored}"):
        return ""
    return (f" (compared with {chart} {vendored} of Beskar's reference charts; this release uses {pinned}: pass "
            "--charts with that version's checkout to compare with it)")


def _hint(skeleton: dict[str, Any], missing: tuple[str, ...], chart: str) -> str:
    siblings = _children(skeleton, missing[:-1])
    close = difflib.get_close_matches(missing[-1], siblings, n=1)
    if close:
        return f"did you mean {'.'.join(missing[:-1] + (close[0],))!r}?"
    return f"the {chart} chart has no {missing[-1]!r} under {'.'.join(missing[:-1]) or 'the top level'}"


@rule("tree/values-path", Severity.WARNING, Scope.TREE,
      "Values (and valuesFrom targetPaths) of openstack-helm HelmReleases exist in the chart's values.yaml "
      "(reference charts, or --charts DIR).")
def values_paths(repository: FluxRepository) -> Iterator[Finding]:
    for name, cluster in sorted(repository.clusters.items()):
        for release in cluster.resources:
            if release.kind != "HelmRelease":
                continue
            chart = chart_of(cluster, release)
            skeleton = skeleton_for(repository, *chart) if chart else None
            if skeleton is None:
                continue
            reported = set()
            values = release.spec.get("values")
            templated = templated_paths(values)
            versus = compared_against(repository, cluster, release, chart[0])
            for path in leaf_paths(values if isinstance(values, dict) else {}):
                missing = _unknown(skeleton, path, templated)
                if missing is None or missing in reported:
                    continue
                reported.add(missing)
                yield report("tree/values-path",
                             f"{release.label()}: the {chart[0]} chart has no values path {'.'.join(missing)}"
                             f"{versus}",
                             **release.at(("spec", "values") + missing), hint=_hint(skeleton, missing, chart[0]),
                             site=cluster_site(name))
            entries = release.spec.get("valuesFrom")
            for index, entry in enumerate(entries if isinstance(entries, list) else []):
                target = entry.get("targetPath") if isinstance(entry, dict) else None
                if not isinstance(target, str) or not target:
                    continue
                missing = _unknown(skeleton, tuple(target.split(".")), templated)
                if missing is not None:
                    yield report("tree/values-path",
                                 f"{release.label()}: valuesFrom targetPath {target} is not a values path of the "
                                 f"{chart[0]} chart{versus}", **release.at(("spec", "valuesFrom", index, "targetPath")),
                                 hint=_hint(skeleton, missing, chart[0]), site=cluster_site(name))

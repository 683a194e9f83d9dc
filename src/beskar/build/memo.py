"""A site's whole build as JSON, given back as it was while nothing it was built from changed."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from beskar.build.objects import BuiltObject, ChartIdentity, ReleaseBuild, SiteBuild

MEMO_FORMAT = 1  # bump when what a stored site build holds changes




def memo_key(*parts: Any) -> str:
    """The digest of everything a site's build depends on, in order (key order of mappings counts)."""
    return hashlib.sha256(json.dumps([MEMO_FORMAT, *parts], separators=(",", ":"), ensure_ascii=False,
                                     default=str).encode()).hexdigest()


def _object(item: BuiltObject) -> list[Any]:
    return [item.layer, item.release, item.api_version, item.kind, item.namespace, item.name, item.template,
            item.body]


def _built(site: str, row: list[Any]) -> BuiltObject:
    layer, release, api_version, kind, namespace, name, template, body = row
    return BuiltObject(site, layer, release, api_version, kind, namespace, name, body, template)


def site_to_json(build: SiteBuild) -> dict[str, Any]:
    """A build without failures (a failure is built again, so that its message is today's)."""
    if build.failures:
        raise ValueError(f"site {build.site} has failures: it is not stored")
    releases = []
    for release in build.releases:
        chart = release.chart
        releases.append({
            "layer": release.layer, "release": release.release, "namespace": release.namespace,
            "target_namespace": release.target_namespace, "file": release.file, "line": release.line,
            "chart": None if chart is None else [chart.source_kind, chart.source_name, chart.url, chart.chart,
                                                 chart.version, chart.revision, chart.digest],
            "values_digest": release.values_digest, "placeholders": release.placeholders,
            "objects": [_object(o) for o in release.objects]})
    return {"site": build.site, "kubernetes": build.kubernetes_version,
            "layer_objects": [_object(o) for o in build.layer_objects], "releases": releases}


def site_from_json(data: dict[str, Any]) -> SiteBuild:
    site = str(data["site"])
    releases = tuple(
        ReleaseBuild(site, r["layer"], r["release"], r["namespace"], r["target_namespace"], r["file"], int(r["line"]),
                     None if r["chart"] is None else ChartIdentity(*r["chart"]), r["values_digest"],
                     tuple(_built(site, o) for o in r["objects"]), None, bool(r["placeholders"]))
        for r in data["releases"])
    return SiteBuild(site, str(data["kubernetes"]), tuple(_built(site, o) for o in data["layer_objects"]), releases)

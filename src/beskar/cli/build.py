"""`beskar build` and `beskar charts`: the objects Flux would apply, through the real charts, and the chart cache."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape

from beskar.cli.output import FleetOption, err, out, run
from beskar.cli.progress import build_progress
from beskar.problems import InputError, Origin, Problem

if TYPE_CHECKING:
    from beskar.build import SiteBuild


app = typer.Typer()
charts_app = typer.Typer(help="The chart cache `beskar build` fetches into ($BESKAR_CACHE, else "
                              "$XDG_CACHE_HOME/beskar): fetch, list, clean.", no_args_is_help=True)


class BuildFormat(StrEnum):
    YAML = "yaml"
    JSON = "json"


ChartSourceOption = Annotated[Optional[list[str]], typer.Option(
    "--chart-source", metavar="NAME=PATH",
    help="Use a local checkout, chart repository folder or URL for the Flux source NAME (repeatable), "
         "e.g. openstack-helm=../openstack-helm. Also: fleet.build.chart_sources in beskar.yaml.")]
JobsOption = Annotated[Optional[int], typer.Option("--jobs", "-j", min=1, help="Renders at once (default: the cores).")]


def chart_overrides(values: list[str] | None) -> dict[str, str]:
    found = {}
    for value in values or []:
        name, sep, location = value.partition("=")
        if not sep or not name or not location:
            raise InputError([Problem(f"--chart-source {value!r} is not NAME=PATH",
                                      hint="e.g. --chart-source openstack-helm=../openstack-helm")])
        found[name] = location if "://" in location else str(Path(location).resolve())
    return found


@app.command()
def build(
    site: Annotated[Optional[str], typer.Argument(help="The site (default: every site).")] = None,
    fleet: FleetOption = Path("."),
    release: Annotated[Optional[str], typer.Option("--release", "-r", help="Only these HelmReleases (comma-separated).")] = None,
    kind: Annotated[Optional[str], typer.Option("--kind", "-k", help="Only objects of these kinds, e.g. ConfigMap,Secret.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", help="Write <site>/<layer>/<release>/<Kind>-<name>.yaml "
                                                   "under this directory (atomically) instead of printing.")] = None,
    chart_source: ChartSourceOption = None,
    jobs: JobsOption = None,
    show_secrets: Annotated[bool, typer.Option("--show-secrets", help="Print secret values (needs the site's age "
                                               "key, SOPS_AGE_KEY_FILE); otherwise they read BESKAR_SECRET.<key>.")] = False,
    output_format: Annotated[BuildFormat, typer.Option("--format", "-o", help="yaml (a stream, as kubectl reads it) "
                                                       "or json (objects with site, layer and release).")] = BuildFormat.YAML,
) -> None:
    """Every object Flux would apply to a site: Kustomize for each Flux Kustomization, real Helm for each
    HelmRelease (the site's chart sources, values and valuesFrom, Kubernetes version, CRD policy, postRenderers).

    Charts are fetched like Flux's source-controller into a cache; renders are cached and run in parallel.
    Exit codes: 0 built, 2 unusable input or a release that does not render (each at its HelmRelease's file:line).
    """
    import yaml
    from beskar.build.output import write_output
    from beskar.operations import build as building  # heavy (Helm SDK): only when building, see cli/app.py
    releases = frozenset(r.strip() for r in release.split(",") if r.strip()) if release else None
    kinds = {k.strip() for k in kind.split(",") if k.strip()} if kind else None

    def work() -> tuple[SiteBuild, ...]:
        options = building.BuildOptions(chart_sources=chart_overrides(chart_source), releases=releases, jobs=jobs,
                                        show_secrets=show_secrets, progress=progress)
        builds = building.build_fleet(fleet, [site] if site else None, options)
        failures = [f for b in builds for f in b.failures]
        if failures:
            raise InputError([Problem(f"HelmRelease {f.release} does not render: {f.message}",
                                      Origin(f.file, f.line, 1, "tree")) for f in failures])
        if output is not None:
            write_output(output, builds)
        return builds

    with build_progress(output_format is not BuildFormat.JSON) as progress:
        builds = run(work)
    if any(r.placeholders for b in builds for r in b.releases):
        err.print("note: no age key opens the sites' Secrets (SOPS_AGE_KEY_FILE), so secret values are "
                  "placeholders BESKAR_SECRET.<key>")
    objects = [o for b in builds for o in b.objects() if kinds is None or o.kind in kinds]
    if output is not None:
        err.print(f"wrote {len(objects)} objects of {len(builds)} site(s) to {escape(str(output))}")
        return
    if output_format is BuildFormat.JSON:
        out.print_json(json.dumps({
            "sites": [{"site": b.site, "kubernetes": b.kubernetes_version,
                       "releases": [_release_summary(r) for r in b.releases]} for b in builds],
            "objects": [{"site": o.site, "layer": o.layer, "release": o.release, "apiVersion": o.api_version,
                         "kind": o.kind, "namespace": o.namespace, "name": o.name, "template": o.template,
                         "body": o.body} for o in objects]}, sort_keys=True))
        return
    stream = []
    for item in objects:
        where = f"{item.site} {item.layer}" + (f" {item.release}" if item.release else "") + f" {item.template}"
        stream.append(f"---\n# {where}\n" + yaml.dump(item.body, Dumper=_dumper(), sort_keys=False,
                                                       default_flow_style=False, allow_unicode=True, width=120))
    out.file.write("".join(stream))


def _dumper() -> type:
    import yaml

    class Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
        def ignore_aliases(self, data: Any) -> bool:
            return True
    return Dumper


def _release_summary(release) -> dict[str, Any]:
    chart = release.chart
    return {"release": release.release, "layer": release.layer, "namespace": release.target_namespace,
            "file": release.file, "line": release.line, "objects": len(release.objects),
            "chart": None if chart is None else {"source": f"{chart.source_kind}/{chart.source_name}",
                                                 "url": chart.url, "chart": chart.chart, "version": chart.version,
                                                 "revision": chart.revision},
            "values_digest": release.values_digest, "placeholders": release.placeholders}


@charts_app.command("fetch")
def charts_fetch(
    site: Annotated[Optional[str], typer.Argument(help="The site (default: every site).")] = None,
    fleet: FleetOption = Path("."),
    chart_source: ChartSourceOption = None,
) -> None:
    """Fetch every chart the sites' HelmReleases use into the cache (nothing is rendered)."""
    from rich.table import Table
    from beskar.operations import build as building
    fetched = run(lambda: building.fetch_charts(fleet, [site] if site else None,
                                                building.BuildOptions(chart_sources=chart_overrides(chart_source))))
    table = Table(title=f"{len(fetched)} releases, {len({f.chart.digest for f in fetched})} distinct charts")
    for column in ("site", "release", "source", "chart", "version", "revision"):
        table.add_column(column)
    for item in fetched:
        table.add_row(item.site, item.release, f"{item.chart.source_kind}/{item.chart.source_name}",
                      escape(item.chart.chart), item.chart.version, item.chart.revision[:19])
    out.print(table)


@charts_app.command("list")
def charts_list(output_format: Annotated[BuildFormat, typer.Option("--format", "-o")] = BuildFormat.YAML) -> None:
    """What the cache holds: git checkouts and charts, for which source and ref, and their size."""
    from rich.table import Table
    from beskar.operations import build as building
    cache = building.chart_cache()
    entries = list(cache.entries())
    if output_format is BuildFormat.JSON:
        out.print_json(json.dumps([{"kind": e.kind, "path": str(e.path), "source": e.source, "ref": e.ref,
                                    "bytes": e.size} for e in entries]))
        return
    table = Table(title=f"{len(entries)} entries in {escape(str(cache.root))}")
    for column in ("kind", "source", "ref", "size"):
        table.add_column(column)
    for entry in entries:
        table.add_row(entry.kind, escape(entry.source), escape(entry.ref), f"{entry.size / 1e6:.1f} MB")
    out.print(table)


@charts_app.command("clean")
def charts_clean() -> None:
    """Empty the cache (charts and renders); the next build fetches and renders again."""
    from beskar.operations import build as building
    cache = building.chart_cache()
    freed = cache.clean()
    out.print(f"removed {freed / 1e6:.1f} MB from {escape(str(cache.root))}")




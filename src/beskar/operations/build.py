"""`beskar build`: every object Flux would apply to a site, through the real charts, offline and cached."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from beskar.build import manifests, releases, values
from beskar.memory import paused_gc
from beskar.build.objects import (CLUSTER_LAYER, BuildFailure, BuiltObject, ChartIdentity, ObjectKey, ReleaseBuild,
                                  SiteBuild, object_order)
from beskar.build.secrets import shown_secret
from beskar.catalog import catalog
from beskar.check import schemas
from beskar.check.build import BuiltSite
from beskar.check.repository import load_repository
from beskar.check.resources import Resource
from beskar.forking import default_jobs
from beskar.clients import charts
from beskar.operations.compilation import CompiledFleet, compile_fleet
from beskar.operations.renders import Renderers, RenderJob, RenderResult, render_all
from beskar.operations.sitememo import Request, SiteMemo, build_context, input_keys, site_key
from beskar.operations.treesecrets import open_secrets, secret_data
from beskar.problems import InputError, Origin, Problem
from beskar.render.kubespray import node_labels
from beskar.secrets import age as ages

SOURCE_KINDS = ("GitRepository", "HelmRepository", "OCIRepository")
Progress = Callable[["Built"], None]


@dataclass(frozen=True)
class BuildOptions:
    chart_sources: Mapping[str, str] = field(default_factory=dict)  # source name -> local path or URL
    releases: frozenset[str] | None = None
    jobs: int | None = None
    show_secrets: bool = False
    cache: Path | None = None
    progress: Progress | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Built:
    """One release done, for a progress display: rendered now, or found in the cache."""

    done: int
    total: int
    site: str
    release: str
    cached: bool
    failed: bool = False  # it does not render
    stage: str = ""  # which build of several, e.g. a diff's "base" and "head"


@dataclass
class _Pending:
    """A release waiting for its render."""

    site: str
    layer: str
    resource: Resource
    release: releases.ReleaseInput
    chart: ChartIdentity
    values_digest: str
    values_size: int  # of the canonical JSON: the renders of large values are the long ones
    key: str
    placeholders: bool


def build_site(root: Path, site: str, options: BuildOptions = BuildOptions()) -> SiteBuild:
    return build_fleet(root, [site], options)[0]


@dataclass
class _Plan:
    """Every site's layer objects and releases with their charts fetched and values composed, and the renders."""

    compiled: CompiledFleet | None  # None when every site was found by its input files
    cache: charts.ChartCache
    layer_objects: dict[str, list[BuiltObject]] = field(default_factory=dict)
    pending: list[_Pending] = field(default_factory=list)
    jobs: dict[str, RenderJob] = field(default_factory=dict)
    memoized: dict[str, SiteBuild] = field(default_factory=dict)  # sites whose inputs did not change
    names: list[str] = field(default_factory=list)  # every site built, in order
    # site -> its key by compiled tree, its charts, its key by input files (if known)
    to_memo: dict[str, tuple[str, list[Request], str | None]] = field(default_factory=dict)


def _plan(root: Path, sites: list[str] | None, options: BuildOptions, memo: bool = False,
          compile_all: bool = True, compiled: CompiledFleet | None = None,
          ahead: Callable[[], object] | None = None) -> _Plan:
    """memo: give back a site's stored build when nothing it is built from changed (not for --show-secrets): by its
    input files without compiling it (unless compile_all: the caller needs every site compiled), else by its
    compiled tree. compiled: the fleet as the caller compiled it already (a diff compiles each revision once).
    ahead: called (once or more) as soon as some site is to be compiled, hence likely rendered (the build starts
    its Helm processes)."""
    cache = charts.ChartCache(charts.cache_root(options.cache))
    identities = ages.load_identities()
    site_memo = SiteMemo(cache) if memo and not options.show_secrets else None
    context = build_context(options.chart_sources, identities, options.releases)
    inputs: dict[str, str] = {}
    memoized: dict[str, SiteBuild] = {}
    if compiled is None:
        inputs = (input_keys(Path(root), sites, context) or {}) if site_memo and not compile_all else {}
        if ahead is not None and site_memo and not all(site_memo.holds(key) for key in inputs.values()):
            ahead()  # a site with no stored build: its Helm processes start while the others' are read
        memoized = site_memo.get_many(inputs, _processes(options)) if site_memo else {}
        remaining = [name for name in inputs if name not in memoized] if inputs else sites
        if remaining is None or remaining:
            if ahead is not None:
                ahead()
            compiled = compile_fleet(root, remaining, emit=True)
    elif ahead is not None:
        ahead()
    names = sorted(n for n in (compiled.rendered if compiled else ()) if sites is None or n in sites)
    plan = _Plan(compiled, cache, memoized=memoized, names=sorted({*memoized, *names}))
    overrides = {**_fleet_overrides(root, compiled), **dict(options.chart_sources)} if compiled else {}
    problems: list[Problem] = []
    for name in names:
        key = site_key(compiled, name, overrides, context) if site_memo else ""
        found = site_memo.get(key) if site_memo else None
        if found is not None:
            plan.memoized[name] = found
            if name in inputs:
                site_memo.point(inputs[name], key)
            continue
        objects, pending, jobs, requests = _plan_site(compiled, name, overrides, plan.cache, identities, options,
                                                      problems)
        plan.layer_objects[name] = objects
        plan.pending += pending
        plan.jobs.update(jobs)
        if site_memo:
            plan.to_memo[name] = (key, requests, inputs.get(name))
    if problems:
        raise InputError(problems)
    return plan


def build_fleet(root: Path, sites: list[str] | None = None, options: BuildOptions = BuildOptions(),
                compiled: CompiledFleet | None = None) -> tuple[SiteBuild, ...]:
    """Build each site (all when None); every source and values problem of every release is raised together.
    compiled: the fleet at root as compile_fleet gave it, when the caller has it (it is not compiled again)."""
    # A build makes many objects and no cycles: the collector would walk them again and again.
    with paused_gc(), Renderers(_processes(options)) as renderers:
        plan = _plan(root, sites, options, memo=True, compile_all=False, compiled=compiled, ahead=renderers.start)
        return _build(plan, options, renderers)


def _processes(options: BuildOptions) -> int:
    return options.jobs or default_jobs()


def _build(plan: _Plan, options: BuildOptions, renderers: Renderers) -> tuple[SiteBuild, ...]:
    in_order = sorted(plan.pending, key=lambda p: (p.site, p.resource.name))
    waiting: dict[str, list[_Pending]] = {}
    for item in in_order:
        waiting.setdefault(item.key, []).append(item)
    releases_of: dict[str, list[_Pending]] = {name: [] for name in plan.layer_objects}
    for item in plan.pending:
        releases_of[item.site].append(item)
    # Each site is finished (its releases assembled, its build stored) once its last render is in, while the
    # renders of the sites after it go on: the jobs go to Helm in the sites' order.
    unrendered = {name: {item.key for item in items} for name, items in releases_of.items()}
    results: dict[str, RenderResult] = {}
    built: dict[str, SiteBuild] = dict(plan.memoized)
    done, total = 0, len(plan.pending) + sum(len(b.releases) for b in plan.memoized.values())
    for name, memoized in sorted(plan.memoized.items()):
        for release in memoized.releases:
            done += 1
            if options.progress:
                options.progress(Built(done, total, name, release.release, True))
    for name in [name for name, keys in unrendered.items() if not keys]:
        built[name] = _finish_site(plan, name, releases_of[name], results)
    # Each job where its first site needs it, a site's heaviest first (by the size of its values: nova's and
    # neutron's renders take ten times the others'), so that a site's last renders are short ones and no process
    # is left alone with a long render at the end.
    ordered = {item.key: plan.jobs[item.key]
               for item in sorted(in_order, key=lambda p: (p.site, -p.values_size, p.resource.name))}
    # --show-secrets renders are neither read from nor written to the cache: it never holds a secret value.
    for result in render_all(ordered, plan.cache.root, renderers, use_cache=not options.show_secrets):
        results[result.key] = result
        for item in waiting.get(result.key, ()):
            done += 1
            if options.progress:
                options.progress(Built(done, total, item.site, item.resource.name, result.cached,
                                       result.error is not None))
            keys = unrendered[item.site]
            keys.discard(result.key)
            if not keys and item.site not in built:
                built[item.site] = _finish_site(plan, item.site, releases_of[item.site], results)
    return tuple(built[name] for name in plan.names)


def _finish_site(plan: _Plan, name: str, pending: list[_Pending], results: Mapping[str, RenderResult]) -> SiteBuild:
    """A site's build once each of its releases (`pending`) is rendered; stored for the next build unless one
    failed."""
    assert plan.compiled is not None
    rows = [_release_build(item, results[item.key]) for item in pending]
    rows.sort(key=lambda r: (r.layer, r.release))
    site_build = SiteBuild(name, plan.compiled.sites[name].kubernetes.version,
                           tuple(sorted(plan.layer_objects[name], key=object_order)), tuple(rows))
    if name in plan.to_memo and not site_build.failures:
        key, requests, input_key = plan.to_memo[name]
        if SiteMemo(plan.cache).put(key, requests, site_build) and input_key:
            SiteMemo(plan.cache).point(input_key, key)
    return site_build


@dataclass(frozen=True)
class FetchedRelease:
    site: str
    release: str
    chart: ChartIdentity


def render_jobs(root: Path, sites: list[str] | None = None, options: BuildOptions = BuildOptions()) -> list[RenderJob]:
    """The distinct renders a build of the sites needs (for benchmarks/build.py's floor)."""
    return [job for _, job in sorted(_plan(root, sites, options).jobs.items())]


def fetch_charts(root: Path, sites: list[str] | None = None, options: BuildOptions = BuildOptions()) -> list[FetchedRelease]:
    """`beskar charts fetch`: every chart the sites' HelmReleases need, into the cache; nothing rendered."""
    plan = _plan(root, sites, options)
    return [FetchedRelease(p.site, p.resource.name, p.chart) for p in sorted(plan.pending, key=lambda p: (p.site, p.resource.name))]


def built_sites(root: Path, sites: list[str] | None, options: BuildOptions) -> tuple[BuiltSite, ...]:
    """Each site's build with what the build rules need to know of the site (beskar check --build)."""
    # Every site is compiled here, changed or not: the Helm processes start only if some render is not cached.
    with paused_gc(), Renderers(_processes(options)) as renderers:
        plan = _plan(root, sites, options, memo=True)
        builds, compiled = _build(plan, options, renderers), plan.compiled
    knowledge = catalog()
    settings = compiled.fleet.settings.get("build") or {}
    provided = frozenset(ObjectKey(str(p.get("kind")), str(p.get("namespace", "*")), str(p.get("name")))
                         for p in [*knowledge.build_provided, *(settings.get("provided") or [])] if isinstance(p, dict))
    found = []
    for built in builds:
        site = compiled.sites[built.site]
        nodes = tuple((node.name, tuple(sorted(node_labels(node, knowledge).items()))) for node in site.nodes)
        found.append(BuiltSite(built, site.mirror.registry if site.mirror else None, nodes,
                               tuple(str(i) for i in settings.get("allow_images") or ()), provided,
                               tuple(tuple(sorted((str(k), str(v)) for k, v in p.items())) for p in knowledge.build_pods),
                               locked=compiled.fleet.sites[built.site].image_lock is not None))
    return tuple(found)


def chart_cache(options: BuildOptions = BuildOptions()) -> charts.ChartCache:
    return charts.ChartCache(charts.cache_root(options.cache))


def _fleet_overrides(root: Path, compiled: CompiledFleet) -> dict[str, str]:
    """fleet.build.chart_sources in beskar.yaml: source name -> path (relative to the fleet) or URL."""
    configured = ((compiled.fleet.settings.get("build") or {}).get("chart_sources")) or {}
    found = {}
    for name, location in configured.items():
        location = str(location)
        found[str(name)] = location if "://" in location else str((root / location).resolve())
    return found


def _layer(path: str) -> str:
    parts = path.split("/")
    return parts[2] if parts[0] == "apps" and len(parts) > 3 else CLUSTER_LAYER


def _origin(resource: Resource, where: tuple[Any, ...] = ()) -> Origin:
    file, line = resource.where(where)
    return Origin(file, line, 1, "tree")


def _plan_site(compiled: CompiledFleet, name: str, overrides: Mapping[str, str], cache: charts.ChartCache,
               identities: list[ages.Identity], options: BuildOptions, problems: list[Problem]):
    emitted = compiled.site_files(name)
    contents = {path: data.decode() for path, data in emitted.items()
                if path.startswith((f"clusters/{name}/", f"apps/{name}/"))}
    repository = load_repository(contents)
    cluster = repository.clusters.get(name)
    resources = cluster.resources if cluster else []
    secrets, secret_values, hidden = open_secrets(resources, contents, identities)
    sources: dict[tuple[str, str, str], values.ValuesSource] = {}
    objects: list[BuiltObject] = []
    for resource in resources:
        body = resource.data
        if resource.kind == "Secret" and "sops" in body:
            body = shown_secret(body, secrets.get((resource.namespace, resource.name)) if options.show_secrets else None)
        objects.append(BuiltObject(name, _layer(resource.file), "", resource.api_version, resource.kind,
                                   resource.namespace, resource.name, body, resource.file))
        if resource.kind in ("ConfigMap", "Secret"):
            sources[(resource.kind, resource.namespace, resource.name)] = values.ValuesSource(
                resource.kind, resource.namespace, resource.name, secret_data(resource, secrets))
    flux_sources = {(r.kind, r.namespace, r.name): r for r in resources if r.kind in SOURCE_KINDS}
    site = compiled.sites[name]
    helm_releases = [r for r in resources if r.kind == "HelmRelease"
                     and (options.releases is None or r.name in options.releases)]
    if options.releases is not None:
        unknown = sorted(options.releases - {r.name for r in resources if r.kind == "HelmRelease"})
        if unknown:
            problems.append(Problem(f"site {name} has no HelmRelease {', '.join(unknown)}"))
    fetched: list[tuple[Resource, releases.ReleaseInput, charts.FetchedChart, charts.Source]] = []
    for resource in helm_releases:
        try:
            release = releases.release_input(resource.data, resource.namespace)
            source = _source(flux_sources, release.chart, overrides)
            chart = cache.chart(source, release.chart.chart, release.chart.version)
        except releases.ReleaseError as error:
            problems.append(Problem(f"HelmRelease {resource.name}: {error.message}", _origin(resource, error.where)))
            continue
        except charts.SourceError as error:
            problems.append(Problem(f"HelmRelease {resource.name}: {error}", _origin(resource, ("spec", "chart"))))
            continue
        fetched.append((resource, release, chart, source))
    api_versions = _api_versions(cache, [chart for _, _, chart, _ in fetched])
    requests = [Request(source, release.chart.chart, release.chart.version) for _, release, _, source in fetched]
    pending: list[_Pending] = []
    jobs: dict[str, RenderJob] = {}
    for resource, release, chart, source in fetched:
        try:
            composed = values.compose_values(resource.spec, resource.namespace, sources)
        except values.ValuesError as error:
            problems.append(Problem(f"HelmRelease {resource.name}: {error.message}", _origin(resource, error.where)))
            continue
        digest = releases.values_digest(composed)
        key = releases.render_key(chart.digest, digest, release, site.kubernetes.version, api_versions)
        identity = ChartIdentity(source.kind, source.name, chart.url, release.chart.chart or chart.path.name,
                                 chart.version, chart.revision, chart.digest)
        pending.append(_Pending(name, _layer(resource.file), resource, release, identity,
                                digest.digest, digest.size, key, hidden))
        jobs[key] = RenderJob(key, str(chart.path), composed, release.release_name, release.target_namespace,
                              site.kubernetes.version, api_versions, release.include_crds, release.post_renderers,
                              tuple(sorted(secret_values.items())), options.show_secrets,
                              cache.crd_rows(chart) if release.include_crds else None)
    return objects, pending, jobs, requests


def _source(flux_sources: Mapping[tuple[str, str, str], Resource], request: releases.ChartRequest,
            overrides: Mapping[str, str]) -> charts.Source:
    resource = flux_sources.get((request.source_kind, request.source_namespace, request.source_name))
    if resource is None:
        raise releases.ReleaseError(f"its source {request.source_kind} {request.source_namespace}/"
                                    f"{request.source_name} is not defined for this site", ("spec", "chart"))
    spec = resource.spec
    return charts.Source(resource.kind, resource.namespace, resource.name, str(spec.get("url", "")),
                         dict(spec.get("ref") or {}), oci=spec.get("type") == "oci",
                         insecure=bool(spec.get("insecure")), override=overrides.get(resource.name))


def _api_versions(cache: charts.ChartCache, fetched: Iterable[charts.FetchedChart]) -> tuple[str, ...]:
    """Helm's Capabilities.APIVersions: the built-in and Flux kinds Beskar knows, and the CRDs the site's charts
    ship in crds/ (Flux installs those before the releases that use them)."""
    found: set[str] = set()
    for key in schemas.builtins()["kinds"]:
        api_version, kind = key.split(" ")
        found.update({api_version, f"{api_version}/{kind}"})
    for api_version, kind in schemas.crd_versions():
        found.update({api_version, f"{api_version}/{kind}"})
    for chart in fetched:
        found.update(cache.served_apis(chart))
    return tuple(sorted(found))


def _release_build(item: _Pending, result: RenderResult) -> ReleaseBuild:
    release, resource = item.release, item.resource
    file, line = resource.where()
    failure = None
    objects: tuple[BuiltObject, ...] = ()
    rows = None
    if result.error is not None:
        file, line = resource.where(("spec", "values")) if resource.spec.get("values") else (file, line)
        failure = BuildFailure(item.site, item.layer, resource.name, result.kind, file, line, result.error)
    else:
        placement = manifests.Placement(item.site, item.layer, resource.name, release.target_namespace)
        made = [manifests.built_object(body, placement, template, schemas.namespaced)
                for template, body in result.objects]
        objects = tuple(sorted(made, key=lambda o: (o.kind, o.namespace, o.name, o.template)))
        # The render's stored rows serve the site's stored build when they hold these very objects in this order
        # (a render is placed in the release's namespace already; postRenderers may reorder it).
        if result.payload is not None and all(a is b for a, b in zip(made, objects)) \
                and all(o.body is body for o, (_, body) in zip(made, result.objects)):
            rows = result.payload
    file, line = (failure.file, failure.line) if failure else resource.where()
    return ReleaseBuild(item.site, item.layer, resource.name, resource.namespace, release.target_namespace,
                        file, line, item.chart, item.values_digest, objects, failure, item.placeholders, rows)

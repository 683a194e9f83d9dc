"""Distinct Helm renders: their jobs, their cache entries, and the processes and threads that render them."""

from __future__ import annotations

import concurrent.futures
import hashlib
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterator, Mapping

from beskar import tree as trees
from beskar.build import manifests, payloads
from beskar.memory import paused_gc
from beskar.build.objects import FailureKind
from beskar.build.secrets import Redactor
from beskar.check import schemas
from beskar.clients import helm, helm_pool, kustomize


@dataclass(frozen=True)
class RenderJob:
    """One distinct render."""

    key: str
    chart_path: str
    values: dict[str, Any]
    release_name: str
    namespace: str
    kube_version: str
    api_versions: tuple[str, ...]
    include_crds: bool
    post_renderers: tuple[Any, ...]
    secrets: tuple[tuple[str, str], ...]  # key -> value, to replace in the output unless shown
    show_secrets: bool
    crd_rows: bytes | None = field(default=None, compare=False, repr=False)  # the chart's CRDs read (ChartCache)


@dataclass(frozen=True)
class RenderResult:
    key: str
    objects: tuple[tuple[str, dict[str, Any]], ...] = ()  # (template, body), placed in the release namespace
    error: str | None = None
    kind: FailureKind = FailureKind.TEMPLATE
    cached: bool = False
    payload: bytes | None = field(default=None, compare=False, repr=False)  # the objects as the cache stores them


class _Documents:
    """Rendered template text -> its parsed documents, once per build. The releases of many sites render most
    templates to the same text (a chart's scripts, its RBAC); JSON gives a fresh copy ~15x faster than YAML."""

    def __init__(self) -> None:
        self._parsed: dict[bytes, bytes | None] = {}
        self._lock = threading.Lock()

    def parse(self, name: str, text: str) -> list[dict[str, Any]]:
        digest = hashlib.sha256(text.encode()).digest()
        with self._lock:
            known = self._parsed.get(digest)
        if known is not None:
            return payloads.decode(known)
        documents = manifests.parse_documents(name, text)
        with self._lock:
            self._parsed[digest] = payloads.encode(documents)  # None (parsed each time) if JSON would change it
        return documents


class Renderers:
    """The Helm processes of one build, started when first asked for: ahead of the renders, so that the workers
    load Helm while this process compiles and plans; closed with the build."""

    def __init__(self, processes: int) -> None:
        self.processes = max(1, processes)
        self._pool: helm_pool.HelmPool | None = None

    def start(self) -> helm_pool.HelmPool:
        if self._pool is None:
            self._pool = helm_pool.HelmPool(self.processes)
        return self._pool

    def __enter__(self) -> Renderers:
        return self

    def __exit__(self, *_: object) -> None:
        if self._pool is not None:
            self._pool.__exit__()
            self._pool = None


def render_all(jobs: Mapping[str, RenderJob], cache: Path, renderers: Renderers,
               use_cache: bool) -> Iterator[RenderResult]:
    """Every job's result, cached ones first, then the others as they finish, started in the jobs' order. Renders
    run on the renderers' processes at once (worker processes that load only the Helm adapter, or this one alone:
    the Helm SDK renders one chart at a time in a process), each chart loaded once per process; this process reads
    the rendered YAML on threads, four per process, so that a process has its next job while the outputs before
    it wait to be read (this process reads them one at a time, and more slowly at times than Helm renders)."""
    todo = []
    for key in jobs:
        cached = _cached(cache, key) if use_cache else None
        if cached is not None:
            yield cached
        else:
            todo.append(jobs[key])
    if not todo:
        return
    helm.quiet()
    documents = _Documents()
    pool = renderers.start()
    with concurrent.futures.ThreadPoolExecutor(4 * renderers.processes) as threads:
        futures = [threads.submit(_render_and_store, job, pool, documents, cache if use_cache else None)
                   for job in todo]
        try:
            for future in concurrent.futures.as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def _render_and_store(job: RenderJob, charts: helm_pool.HelmPool, documents: _Documents,
                      cache: Path | None) -> RenderResult:
    result = render_job(job, charts, documents.parse)
    if cache is not None and result.error is None:
        result = replace(result, payload=_store(cache, result))
    return result


def render_job(job: RenderJob, charts: helm_pool.HelmPool | helm.LoadedCharts | None = None,
               parse: manifests.Parse = manifests.parse_documents) -> RenderResult:
    """Render one release with Helm, apply its postRenderers, hide its secret values."""
    read_crds = payloads.decode(job.crd_rows) if job.include_crds and job.crd_rows is not None else None
    try:
        capabilities = helm.Capabilities(job.kube_version, job.api_versions)
        arguments: dict[str, Any] = dict(name=job.release_name, namespace=job.namespace, capabilities=capabilities,
                                         include_crds=job.include_crds and read_crds is None)
        rendered = (charts.render(Path(job.chart_path), job.values, **arguments) if charts is not None
                    else helm.render(Path(job.chart_path), job.values, **arguments))
    except helm.HelmError as error:
        return RenderResult(job.key, error=str(error), kind=FailureKind.TEMPLATE)
    placement = manifests.Placement("", "", "", job.namespace)
    try:
        built = manifests.release_objects(rendered.manifests, rendered.crds, placement, schemas.namespaced, parse,
                                          read_crds or ())
    except manifests.ManifestError as error:
        return RenderResult(job.key, error=str(error), kind=FailureKind.TEMPLATE)
    objects = [(o.template, o.body) for o in built]
    for index, renderer in enumerate(job.post_renderers):
        patches = (renderer or {}).get("kustomize") if isinstance(renderer, dict) else None
        if not patches:
            continue
        try:
            bodies = manifests.parse_documents(f"postRenderers[{index}]",
                                               kustomize.post_render([b for _, b in objects], patches))
        except kustomize.KustomizeError as error:
            return RenderResult(job.key, error=f"postRenderers[{index}]: {error}", kind=FailureKind.POSTRENDER)
        except manifests.ManifestError as error:
            return RenderResult(job.key, error=str(error), kind=FailureKind.POSTRENDER)
        templates = {(b.get("kind"), (b.get("metadata") or {}).get("name")): t for t, b in objects}
        objects = [(templates.get((b.get("kind"), (b.get("metadata") or {}).get("name")), "postRenderers"), b)
                   for b in bodies]
    if not job.show_secrets:
        redactor = Redactor(dict(job.secrets))
        objects = [(template, redactor.body(body)) for template, body in objects]
    return RenderResult(job.key, tuple(objects))


# ---- the cache: renders/<key[:2]>/<key>.json, the sha256 of the payload on the first line

def _render_path(root: Path, key: str) -> Path:
    return root / "renders" / key[:2] / f"{key}.json"


def _cached(root: Path, key: str) -> RenderResult | None:
    """A stored render, if it is whole: its digest is checked, a corrupt entry is rendered again."""
    try:
        stored = _render_path(root, key).read_bytes()
    except OSError:
        return None
    payload = payloads.unsealed(stored)
    if payload is None:
        return None
    try:
        with paused_gc():
            objects = payloads.decode(payload)
        return RenderResult(key, tuple((str(t), b) for t, b in objects), cached=True, payload=payload)
    except (ValueError, TypeError):
        return None


def _store(root: Path, result: RenderResult) -> bytes | None:
    """The render's rows as stored, None if JSON would not give back the same objects (it is rendered each time)."""
    # Keys in the order the templates wrote them, as a fresh render has them: a cached build is the same build.
    payload = payloads.encode([[template, body] for template, body in result.objects])
    if payload is not None:
        trees.write_file(_render_path(root, result.key), payloads.sealed(payload))
    return payload


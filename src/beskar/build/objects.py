"""The objects a build yields: each object Flux would apply, per release and layer, and what failed."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Iterator, NamedTuple

CLUSTER_LAYER = "cluster"  # the objects of clusters/<site>/: sources and Flux Kustomizations


class ObjectKey(NamedTuple):
    """Identity of an object in a cluster."""

    kind: str
    namespace: str  # "" for cluster-scoped kinds
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}" if self.namespace else f"{self.kind} {self.name}"


@dataclass(frozen=True)
class BuiltObject:
    """One object Flux would apply, after Helm and the postRenderers; the body is read-only."""

    site: str
    layer: str
    release: str  # the HelmRelease that makes it; "" for objects the layer applies directly
    api_version: str
    kind: str
    namespace: str
    name: str
    body: dict[str, Any] = field(hash=False, repr=False)
    template: str = ""  # chart template path, or the tree file for layer objects

    @property
    def key(self) -> ObjectKey:
        return ObjectKey(self.kind, self.namespace, self.name)

    @property
    def path(self) -> str:
        """Where `beskar build --output DIR` writes it, relative to DIR."""
        parts = [self.site, self.layer] + ([self.release] if self.release else [])
        # A name with a slash is invalid in Kubernetes (build/object-name says so) but must not make a directory.
        return "/".join(parts + [f"{self.kind}-{self.name.replace('/', '_')}.yaml"])


class FailureKind(StrEnum):
    SOURCE = "source"
    CHART = "chart"
    VALUES = "values"
    TEMPLATE = "template"
    POSTRENDER = "postrender"


@dataclass(frozen=True)
class BuildFailure:
    """A HelmRelease that could not be built, at its place in the tree."""

    site: str
    layer: str
    release: str
    kind: FailureKind
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: HelmRelease {self.release}: {self.message}"


@dataclass(frozen=True)
class ChartIdentity:
    """What was rendered: the source, the chart in it, and digests of both."""

    source_kind: str
    source_name: str
    url: str
    chart: str
    version: str
    revision: str
    digest: str


@dataclass(frozen=True)
class ReleaseBuild:
    site: str
    layer: str
    release: str
    namespace: str
    target_namespace: str
    file: str
    line: int
    chart: ChartIdentity | None
    values_digest: str
    objects: tuple[BuiltObject, ...]
    failure: BuildFailure | None = None
    placeholders: bool = False
    # The objects as the render cache stores them, [template, body] rows in JSON, when they are in that order: a
    # stored site build takes these bytes instead of encoding every body again.
    rows: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SiteBuild:
    site: str
    kubernetes_version: str
    layer_objects: tuple[BuiltObject, ...]
    releases: tuple[ReleaseBuild, ...]

    def objects(self) -> Iterator[BuiltObject]:
        yield from self.layer_objects
        for release in self.releases:
            yield from release.objects

    @property
    def failures(self) -> tuple[BuildFailure, ...]:
        return tuple(r.failure for r in self.releases if r.failure is not None)

    def release(self, name: str) -> ReleaseBuild | None:
        return next((r for r in self.releases if r.release == name), None)

    def find(self, kind: str, namespace: str, name: str) -> BuiltObject | None:
        wanted = ObjectKey(kind, namespace, name)
        return next((o for o in self.objects() if o.key == wanted), None)


def object_order(item: BuiltObject) -> tuple[str, str, str, str, str]:
    return (item.layer, item.release, item.kind, item.namespace, item.name)

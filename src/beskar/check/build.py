"""What the build rules check: a site's built objects with the facts about the site they need."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterator

from beskar.build import BuiltObject, ObjectKey, SiteBuild

WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod")
# Kubernetes makes these in every namespace itself.
IMPLICIT = (("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt"))


@dataclass(frozen=True)
class BuiltSite:
    build: SiteBuild
    mirror: str | None = None
    nodes: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # node name -> its labels
    allowed_images: tuple[str, ...] = ()  # prefixes that need not come through the mirror
    provided: frozenset[ObjectKey] = field(default_factory=frozenset)  # made outside the build (or at run time)
    provided_pods: tuple[tuple[tuple[str, str], ...], ...] = ()  # label sets of pods made outside the build
    locked: bool = False  # the site has an image lock (sites/<site>/images.lock.yaml)

    @property
    def site(self) -> str:
        return self.build.site

    @cached_property
    def keys(self) -> frozenset[ObjectKey]:
        return frozenset(o.key for o in self.build.objects())

    @cached_property
    def releases(self) -> dict[str, Any]:
        return {r.release: r for r in self.build.releases}

    def where(self, item: BuiltObject) -> tuple[str, int]:
        """A rendered object's place is its HelmRelease; a layer object's is its file."""
        release = self.releases.get(item.release)
        return (release.file, release.line) if release is not None else (item.template, 1)

    def exists(self, kind: str, namespace: str, name: str) -> bool:
        key = ObjectKey(kind, namespace, name)
        return key in self.keys or key in self.provided or (kind, name) in IMPLICIT \
            or ObjectKey(kind, "*", name) in self.provided

    def node_labels(self) -> list[dict[str, str]]:
        return [{"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", **dict(labels)}
                for name, labels in self.nodes]


def pod_spec(body: dict[str, Any]) -> dict[str, Any] | None:
    kind, spec = body.get("kind"), body.get("spec")
    if kind not in WORKLOADS or not isinstance(spec, dict):
        return None
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    template = (spec.get("template") or {})
    return template.get("spec") if isinstance(template.get("spec"), dict) else None


def pod_labels(body: dict[str, Any]) -> dict[str, str]:
    spec = body.get("spec") or {}
    if body.get("kind") == "Pod":
        return dict((body.get("metadata") or {}).get("labels") or {})
    if body.get("kind") == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return dict(((spec.get("template") or {}).get("metadata") or {}).get("labels") or {})


def workloads(built: BuiltSite) -> Iterator[tuple[BuiltObject, dict[str, Any]]]:
    for item in built.build.objects():
        spec = pod_spec(item.body)
        if spec is not None:
            yield item, spec


def containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or []:
            if isinstance(container, dict):
                yield container

"""A HelmRelease as helm-controller reads it: which chart from which source, release identity, CRD policy."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple

RENDER_FORMAT = 3  # bump when what a cached render holds changes (2: keys in template order, digest line; 3: orjson)


class ReleaseError(Exception):
    """A HelmRelease helm-controller could not act on; `where` is the path in the object to point at."""

    def __init__(self, message: str, where: tuple[Any, ...] = ()):
        super().__init__(message)
        self.message = message
        self.where = where


@dataclass(frozen=True)
class ChartRequest:
    source_kind: str
    source_namespace: str
    source_name: str
    chart: str  # path in a GitRepository, name in a HelmRepository; "" for an OCIRepository
    version: str | None  # constraint for HelmRepository charts


@dataclass(frozen=True)
class ReleaseInput:
    name: str  # metadata.name
    namespace: str  # metadata.namespace
    release_name: str  # Helm's release name
    target_namespace: str
    storage_namespace: str
    chart: ChartRequest
    include_crds: bool
    post_renderers: tuple[Any, ...]


def release_input(body: Mapping[str, Any], namespace: str) -> ReleaseInput:
    metadata = body.get("metadata") or {}
    spec = body.get("spec") or {}
    name = str(metadata.get("name", ""))
    target = str(spec.get("targetNamespace") or namespace)
    default_name = f"{spec['targetNamespace']}-{name}" if spec.get("targetNamespace") else name
    release_name = str(spec.get("releaseName") or default_name)[:53]
    return ReleaseInput(
        name=name, namespace=namespace, release_name=release_name, target_namespace=target,
        storage_namespace=str(spec.get("storageNamespace") or namespace), chart=chart_request(spec, namespace),
        include_crds=str(((spec.get("install") or {}).get("crds")) or "Create") != "Skip"
        and not (spec.get("install") or {}).get("skipCRDs"),
        post_renderers=tuple(spec.get("postRenderers") or ()))


def chart_request(spec: Mapping[str, Any], namespace: str) -> ChartRequest:
    reference = spec.get("chartRef")
    if isinstance(reference, Mapping):
        kind = str(reference.get("kind", ""))
        if kind != "OCIRepository":
            raise ReleaseError(f"chartRef of kind {kind!r}: Beskar builds OCIRepository chart references",
                               ("spec", "chartRef", "kind"))
        return ChartRequest(kind, str(reference.get("namespace") or namespace), str(reference.get("name", "")),
                            "", None)
    template = ((spec.get("chart") or {}).get("spec")) or {}
    source = template.get("sourceRef") or {}
    if not template.get("chart") or not source.get("name"):
        raise ReleaseError("spec.chart.spec needs chart and sourceRef", ("spec", "chart"))
    return ChartRequest(str(source.get("kind", "")), str(source.get("namespace") or namespace),
                        str(source["name"]), str(template["chart"]),
                        str(template["version"]) if template.get("version") else None)


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


class ValuesDigest(NamedTuple):
    """The digest of a release's composed values, and their size as canonical JSON (how long Helm will take)."""

    digest: str
    size: int


def values_digest(values: Mapping[str, Any]) -> ValuesDigest:
    encoded = canonical(values)
    return ValuesDigest("sha256:" + hashlib.sha256(encoded).hexdigest(), len(encoded))


def render_key(chart_digest: str, values: ValuesDigest, release: ReleaseInput, kube_version: str,
               api_versions: tuple[str, ...]) -> str:
    """What a render depends on, and nothing else: the same key is the same objects."""
    identity = [RENDER_FORMAT, chart_digest, values.digest, release.release_name, release.target_namespace,
                release.include_crds, list(release.post_renderers), kube_version, list(api_versions)]
    return hashlib.sha256(canonical(identity)).hexdigest()

"""Every image a site's built objects pull: pod specs, and the images their operators are configured to start."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Iterable, Iterator, Protocol

from beskar.catalog.chart_images import ImageKnowledge, OperatorImage
from beskar.render.images import FLAT, upstream_image

# Where each workload kind keeps its pod spec.
_POD_SPECS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


class Built(Protocol):
    """What this module reads of a `beskar.build.BuiltObject`."""

    release: str
    kind: str
    namespace: str
    name: str
    body: dict[str, Any]


class ImageSource(StrEnum):
    POD = "pod"  # a container or init container of a workload
    OPERATOR = "operator"  # started at run time by an operator, named in a custom resource or its settings
    VALUES = "values"  # named in a HelmRelease's values (what the rendered tree shows before the chart is built)


@dataclass(frozen=True, order=True)
class ImageUse:
    release: str  # the HelmRelease; "" for objects a layer applies directly
    object: str  # Kind/namespace/name
    where: str  # containers[name], spec.cephVersion.image ...
    source: ImageSource

    def label(self) -> str:
        return f"{self.release or '-'}: {self.object} {self.where}"


@dataclass(frozen=True)
class SiteImage:
    """One image the site pulls, as its objects name it, and the upstream image its mirror copy stands for."""

    image: str
    upstream: str | None  # None: not from the site's mirror
    mutable: bool
    uses: tuple[ImageUse, ...]

    @property
    def releases(self) -> tuple[str, ...]:
        return tuple(sorted({use.release for use in self.uses if use.release}))


def pod_images(item: Built) -> Iterator[tuple[str, str]]:
    """(where, image) of every container, init container and ephemeral container of a workload object."""
    path = _POD_SPECS.get(item.kind)
    if path is None:
        return
    spec: Any = item.body
    for key in path:
        spec = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(spec, dict):
        return
    for kind in _CONTAINER_LISTS:
        for container in spec.get(kind) or []:
            if isinstance(container, dict) and isinstance(container.get("image"), str) and container["image"]:
                yield f"{kind}[{container.get('name', '?')}]", container["image"]


def operator_images(item: Built, operators: tuple[OperatorImage, ...]) -> Iterator[tuple[str, str]]:
    """(where, image) of the images an operator starts that this object names (catalog `operators`)."""
    for operator in operators:
        if operator.kind != item.kind or (operator.name is not None and operator.name != item.name):
            continue
        if operator.path is not None:
            yield from _matching(item.body, operator.path.split("."), ())
        if operator.args is not None and item.kind in _POD_SPECS:
            yield from _arguments(item, operator.args)


def _arguments(item: Built, prefix: str) -> Iterator[tuple[str, str]]:
    spec: Any = item.body
    for key in _POD_SPECS[item.kind]:
        spec = spec.get(key) if isinstance(spec, dict) else None
    for kind in _CONTAINER_LISTS:
        for container in (spec or {}).get(kind) or []:
            for argument in container.get("args") or []:
                if isinstance(argument, str) and argument.startswith(prefix) and argument[len(prefix):]:
                    yield f"{kind}[{container.get('name', '?')}].args {prefix}", argument[len(prefix):]


def _matching(node: Any, pattern: list[str], path: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    if not pattern:
        if isinstance(node, str) and node.strip():
            yield ".".join(path), node.strip()
        return
    if not isinstance(node, dict):
        return
    for key in sorted(node):
        if fnmatch.fnmatchcase(str(key), pattern[0]):
            yield from _matching(node[key], pattern[1:], path + (str(key),))


def site_images(objects: Iterable[Built], knowledge: ImageKnowledge, mirror: str | None,
                layout: str = FLAT) -> tuple[SiteImage, ...]:
    """The union of the pod images and operator images of the objects, each with every object using it."""
    uses: dict[str, set[ImageUse]] = {}
    for item in objects:
        label = "/".join(part for part in (item.kind, item.namespace, item.name) if part)
        for where, image in pod_images(item):
            uses.setdefault(image, set()).add(ImageUse(item.release, label, where, ImageSource.POD))
        for where, image in operator_images(item, knowledge.operators):
            uses.setdefault(image, set()).add(ImageUse(item.release, label, where, ImageSource.OPERATOR))
    return tuple(SiteImage(image, upstream_image(image, mirror, layout), knowledge.tag_is_mutable(image),
                           tuple(sorted(found))) for image, found in sorted(uses.items()))
